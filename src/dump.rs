//! `vrft-tui dump`: print a recording's packets as ftrace function_graph trees.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{bail, Result};
use clap::Args;
use vrft_ui::format;
use vrft_ui::model::Model;

use vrft_events::record::Recording;

#[derive(Args, Debug)]
pub struct DumpArgs {
    /// A recording made with `vrft-tui record`.
    pub file: PathBuf,
    /// Print only this packet.
    #[arg(long, value_name = "ID")]
    pub packet: Option<u32>,
}

pub fn run(args: &DumpArgs) -> Result<()> {
    match print(args) {
        // The reader went away (`dump FILE | head`): like other Unix tools, stop quietly.
        Err(e) if is_broken_pipe(&e) => Ok(()),
        other => other,
    }
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.downcast_ref::<std::io::Error>()
        .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
}

fn print(args: &DumpArgs) -> Result<()> {
    let rec = Recording::read(&args.file)?;
    let info = &rec.header.info;
    let model = Model::from_events(&rec.header.info, &rec.events);
    let mut out = std::io::stdout().lock();
    writeln!(out, "# {} on {}", rec.header.backend_reason, info.kernel)?;
    match &rec.trailer {
        Some(t) => writeln!(
            out,
            "# {} events, {}",
            rec.events.len(),
            t.stats.losses_line()
        )?,
        None => writeln!(
            out,
            "# {} events; no trailer, so the tracer's loss counters are unknown",
            rec.events.len()
        )?,
    }
    for line in rec.damage.lines() {
        writeln!(out, "# damaged: {line}")?;
    }
    let mut shown = 0;
    for p in model.packets() {
        if args.packet.is_some_and(|id| id != p.id) {
            continue;
        }
        shown += 1;
        writeln!(out)?;
        for line in format::function_graph(p, info) {
            writeln!(out, "{line}")?;
        }
    }
    out.flush()?;
    // Like `tcpdump -r` on a truncated file: everything readable is printed, and the exit
    // status says it was not everything, so a script does not take a partial dump as whole.
    if let Some(summary) = rec.damage.summary() {
        bail!(
            "{}: {summary}; everything readable was printed",
            args.file.display()
        );
    }
    if let (Some(id), 0) = (args.packet, shown) {
        bail!(
            "packet {id} is not in {}: run `vrft-tui dump` without --packet to see the ids",
            args.file.display()
        );
    }
    Ok(())
}
