//! Command-line interface. Each subcommand's arguments live next to the code that runs it.

use clap::{Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(
    name = "vrft-tui",
    version,
    about = "Trace every kernel function a packet passes through and browse each packet's call tree",
    long_about = None
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// List the kernel functions that take a struct sk_buff pointer, and whether each can be traced.
    List(crate::list::ListArgs),
}
