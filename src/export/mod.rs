//! `vrft-tui export`: a recording in the formats other viewers read: pcap-ng for
//! Wireshark/tshark/tcpdump ([`pcapng`]), a Perfetto trace for ui.perfetto.dev
//! ([`perfetto`]), JSON Lines for scripts ([`json`]). No root: everything comes from the
//! recording, through the same model the UI and `dump` build.

pub mod json;
pub mod pcapng;
pub mod perfetto;

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context as _, Result};
use clap::{Args, ValueEnum};
use vrft_events::record::Recording;
use vrft_events::session::SessionInfo;
use vrft_ui::model::{Model, Packet};

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// pcap-ng: the packets' header snapshots, one interface per (device, namespace).
    Pcapng,
    /// Perfetto protobuf trace: a track per CPU and context, a slice per call.
    Perfetto,
    /// JSON Lines: one object per packet with its call tree (schema: `--schema`).
    Json,
}

#[derive(Args, Debug)]
pub struct ExportArgs {
    /// A recording made with `vrft-tui record`; several (of several hosts) are merged:
    /// packets with the same payload id become one.
    #[arg(required_unless_present = "schema")]
    pub files: Vec<PathBuf>,
    #[command(flatten)]
    pub merge: crate::open::MergeArgs,
    /// What to write.
    #[arg(short, long, value_enum, required_unless_present = "schema")]
    pub format: Option<Format>,
    /// Where to write; `-` (the default) is stdout.
    #[arg(short, long, value_name = "OUT", default_value = "-")]
    pub output: PathBuf,
    /// Export only these packets (repeat for several).
    #[arg(long, value_name = "ID")]
    pub packet: Vec<u32>,
    /// Print the JSON Schema of `-f json`'s lines and exit.
    #[arg(long, conflicts_with_all = ["files", "format"])]
    pub schema: bool,
}

impl Format {
    /// The file name extension of `record --export`'s files.
    pub fn extension(self) -> &'static str {
        match self {
            Format::Pcapng => "pcapng",
            Format::Perfetto => "perfetto-trace",
            Format::Json => "jsonl",
        }
    }
}

/// What every exporter reads: the recording's session and its packets as the UI builds them.
pub struct Source<'a> {
    pub info: &'a SessionInfo,
    pub packets: Vec<&'a Packet>,
}

pub fn run(args: &ExportArgs) -> Result<()> {
    if args.schema {
        let mut out = std::io::stdout().lock();
        return match writeln!(out, "{}", json::SCHEMA.trim_end()) {
            // `export --schema | head`: stop quietly, as `dump` does.
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
            other => other.map_err(Into::into),
        };
    }
    let Some(format) = args.format.filter(|_| !args.files.is_empty()) else {
        bail!("export needs a recording and -f pcapng|perfetto|json");
    };
    let rec = crate::open::open(&args.files, &args.merge)?;
    let name = crate::open::display(&args.files);
    export(&rec, &name, format, &args.output, &args.packet)
}

/// Writes recording `rec` (named `file` in messages) as `format` to `output` (`-`:
/// stdout), only `only` packets when some are named.
pub fn export(
    rec: &Recording,
    file: &str,
    format: Format,
    output: &Path,
    only: &[u32],
) -> Result<()> {
    let info = &rec.header.info;
    let model = Model::from_events(info, &rec.events);
    let packets: Vec<&Packet> = model
        .packets()
        .iter()
        .filter(|p| only.is_empty() || only.contains(&p.id))
        .collect();
    if let Some(&missing) = only.iter().find(|id| !packets.iter().any(|p| p.id == **id)) {
        bail!("packet {missing} is not in {file}: run `vrft-tui dump --oneline` to see the ids");
    }
    let src = Source { info, packets };
    let mut out: Box<dyn Write> = if output.as_os_str() == "-" {
        Box::new(BufWriter::new(std::io::stdout().lock()))
    } else {
        let f =
            File::create(output).with_context(|| format!("cannot create {}", output.display()))?;
        Box::new(BufWriter::new(f))
    };
    let written = match format {
        Format::Pcapng => pcapng::write(&src, &mut out).map_err(|e| match e {
            pcapng::Error::NoBytes => anyhow::anyhow!(
                "{file} holds no packet bytes, so there is nothing for pcap-ng: record it again \
                 with --snaplen N (N > 0), or export -f json or -f perfetto"
            ),
            pcapng::Error::Write(e) => anyhow::Error::from(e),
        }),
        Format::Perfetto => perfetto::write(&src, &mut out).map_err(Into::into),
        Format::Json => json::write(&src, &mut out).map_err(Into::into),
    };
    match written.and_then(|()| out.flush().map_err(Into::into)) {
        // `export ... | head`: stop quietly, as `dump` does.
        Err(e) if crate::dump::is_broken_pipe(&e) => Ok(()),
        other => other,
    }
}
