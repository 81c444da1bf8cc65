//! `vrft-tui export`: a recording in the formats other viewers read: pcap-ng for
//! Wireshark/tshark/tcpdump ([`pcapng`]), a Perfetto trace for ui.perfetto.dev
//! ([`perfetto`]), JSON Lines for scripts ([`json`]). No root: everything comes from the
//! recording, through the same model the UI and `dump` build.

pub mod json;
pub mod pcapng;
pub mod perfetto;

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::PathBuf;

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
    /// A recording made with `vrft-tui record`.
    #[arg(required_unless_present = "schema")]
    pub file: Option<PathBuf>,
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
    #[arg(long, conflicts_with_all = ["file", "format"])]
    pub schema: bool,
}

/// What every exporter reads: the recording's session and its packets as the UI builds them.
pub struct Source<'a> {
    pub info: &'a SessionInfo,
    pub packets: Vec<&'a Packet>,
}

pub fn run(args: &ExportArgs) -> Result<()> {
    if args.schema {
        println!("{}", json::SCHEMA.trim_end());
        return Ok(());
    }
    let (Some(file), Some(format)) = (&args.file, args.format) else {
        bail!("export needs a recording and -f pcapng|perfetto|json");
    };
    let rec = Recording::read(file)?;
    let info = &rec.header.info;
    let model = Model::from_events(info, &rec.events);
    let packets: Vec<&Packet> = model
        .packets()
        .iter()
        .filter(|p| args.packet.is_empty() || args.packet.contains(&p.id))
        .collect();
    if let Some(&missing) = args
        .packet
        .iter()
        .find(|id| !packets.iter().any(|p| p.id == **id))
    {
        bail!(
            "packet {missing} is not in {}: run `vrft-tui dump --oneline` to see the ids",
            file.display()
        );
    }
    let src = Source { info, packets };
    let mut out: Box<dyn Write> = if args.output.as_os_str() == "-" {
        Box::new(BufWriter::new(std::io::stdout().lock()))
    } else {
        let f = File::create(&args.output)
            .with_context(|| format!("cannot create {}", args.output.display()))?;
        Box::new(BufWriter::new(f))
    };
    let written = match format {
        Format::Pcapng => pcapng::write(&src, &mut out).map_err(|e| match e {
            pcapng::Error::NoBytes => anyhow::anyhow!(
                "{} holds no packet bytes, so there is nothing for pcap-ng: record it again \
                 with --snaplen N (N > 0), or export -f json or -f perfetto",
                file.display()
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
