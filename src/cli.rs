//! Command-line interface. Each subcommand's arguments live next to the code that runs it.

use clap::{Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(
    name = "vrft-tui",
    args_conflicts_with_subcommands = true,
    version,
    about = "Trace every kernel function a packet passes through and browse each packet's call tree",
    long_about = None
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Options for live tracing (no subcommand).
    #[command(flatten)]
    pub trace: crate::trace_args::TraceArgs,
    #[command(flatten)]
    pub live: crate::live::LiveArgs,
}

// Parsed once at start-up: the size difference of the variants does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand, Debug)]
pub enum Command {
    /// List the kernel functions that take a struct sk_buff pointer, and whether each can be traced.
    List(crate::list::ListArgs),
    /// Trace without the UI and write a recording (open it with `replay` or `dump`).
    Record(crate::record_cmd::RecordArgs),
    /// Browse a recording in the UI (no root needed).
    Replay(crate::replay::ReplayArgs),
    /// Print a recording's packets as function_graph call trees, or one line each (--oneline),
    /// optionally only those a filter matches (the language of the UI's f bar).
    Dump(crate::dump::DumpArgs),
    /// Write a recording as pcap-ng (Wireshark, tshark, tcpdump), a Perfetto trace
    /// (ui.perfetto.dev) or JSON Lines (one packet per line; `--schema` prints its schema).
    Export(crate::export::ExportArgs),
    /// Internal: closes inherited probe links in the background after vrft-tui exits.
    #[command(hide = true)]
    ReleaseLinks,
}
