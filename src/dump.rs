//! `vrft-tui dump`: print a recording's packets as ftrace function_graph trees, or one line
//! per packet (`--oneline`, like `tcpdump -r`), optionally through the UI's filter language.

use std::io::{BufWriter, Write};
use std::path::PathBuf;

use anyhow::{anyhow, bail, Result};
use clap::Args;
use vrft_ui::format;
use vrft_ui::model::{Model, Packet};
use vrft_ui::query::Query;

use vrft_events::session::SessionInfo;

#[derive(Args, Debug)]
pub struct DumpArgs {
    /// A recording made with `vrft-tui record`.
    pub file: PathBuf,
    /// More recordings (of other hosts, merged: packets with the same payload id become
    /// one), then the filter: print only the packets it matches, in the language of the
    /// UI's `f` bar, e.g. 'icmp and netns=b', 'udp dport=53 or drop' (docs/filters.md).
    /// Words may be given unquoted; they are joined with spaces.
    #[arg(value_name = "FILE.. FILTER")]
    pub filter: Vec<String>,
    #[command(flatten)]
    pub merge: crate::open::MergeArgs,
    /// Print only this packet.
    #[arg(long, value_name = "ID")]
    pub packet: Option<u32>,
    /// One line per packet, as `tcpdump -r` prints: time (wall clock when the recording has
    /// it, else seconds since boot), id, flow, interfaces, calls, duration, drop reason.
    #[arg(long)]
    pub oneline: bool,
}

pub fn run(args: &DumpArgs) -> Result<()> {
    match print(args) {
        // The reader went away (`dump FILE | head`): like other Unix tools, stop quietly.
        Err(e) if is_broken_pipe(&e) => Ok(()),
        other => other,
    }
}

/// Any layer of the error is a closed pipe (a wrapped or converted error included).
pub(crate) fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

impl DumpArgs {
    /// The recordings: the first file and the words after it that name recordings.
    fn files(&self) -> Vec<PathBuf> {
        let more = self
            .filter
            .iter()
            .take_while(|w| crate::open::is_recording(w));
        std::iter::once(self.file.clone())
            .chain(more.map(PathBuf::from))
            .collect()
    }
}

/// The filter of the command line, parsed against the recording before anything is printed.
fn filter(args: &DumpArgs, info: &SessionInfo) -> Result<Option<Query>> {
    let files = args.files().len() - 1;
    let text = args.filter[files..].join(" ");
    let q = Query::parse(&text, info).map_err(|e| anyhow!("filter '{text}': {e}"))?;
    Ok((!q.is_empty()).then_some(q))
}

/// `2026-12-04 10:15:02.123456 13 udp 10.0.0.1:5000>10.0.0.2:53 veth0>eth0 calls 52 dur 41us`
pub fn oneline(p: &Packet, info: &SessionInfo) -> String {
    let time = match info.realtime_offset_ns {
        Some(off) => format::wall_clock(p.first_ts, off),
        None => format!("{:.6}", p.first_ts as f64 / 1e9),
    };
    let hosts = format::host_path(p, info);
    let hosts = if hosts.is_empty() {
        String::new()
    } else {
        format!(" hosts {hosts}")
    };
    let mut s = format!(
        "{time} {}{hosts} {} {} calls {} dur {}",
        info.packet_label(p.id),
        format::flow_text(p),
        format::dev_path(p, info),
        p.nodes.len(),
        format::human_ns(p.duration()),
    );
    if let Some(f) = format::fate(p, info) {
        s += &format!(" {f}");
    }
    if p.incomplete() {
        s += " INCOMPLETE";
    }
    s
}

fn print(args: &DumpArgs) -> Result<()> {
    let files = args.files();
    let rec = crate::open::open(&files, &args.merge)?;
    let info = &rec.header.info;
    let query = filter(args, info)?;
    let model = Model::from_events(&rec.header.info, &rec.events);
    // One buffered writer for everything: every write's error reaches `run`.
    let mut out = BufWriter::new(std::io::stdout().lock());
    if !args.oneline {
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
        for h in &info.hosts {
            writeln!(
                out,
                "# host {}: {}, clock {} ({})",
                h.label,
                h.kernel,
                h.clock.describe(),
                h.file.display()
            )?;
        }
        for line in rec.damage.lines() {
            writeln!(out, "# damaged: {line}")?;
        }
    }
    let mut shown = 0;
    for p in model.packets() {
        if args.packet.is_some_and(|id| id != p.id)
            || query.as_ref().is_some_and(|q| !q.matches(p, info))
        {
            continue;
        }
        shown += 1;
        if args.oneline {
            writeln!(out, "{}", oneline(p, info))?;
            continue;
        }
        writeln!(out)?;
        for line in format::function_graph(p, info) {
            writeln!(out, "{line}")?;
        }
    }
    out.flush()?;
    // Without the `#` header, losses are told the way tcpdump tells its drops: on stderr.
    if let (true, Some(t)) = (args.oneline, &rec.trailer) {
        if t.stats.losses().iter().any(|&(_, n)| n > 0) {
            eprintln!(
                "vrft-tui: {}: the tracer's losses: {}",
                crate::open::display(&files),
                t.stats.losses_line()
            );
        }
    }
    // Like `tcpdump -r` on a truncated file: everything readable is printed, and the exit
    // status says it was not everything, so a script does not take a partial dump as whole.
    if let Some(summary) = rec.damage.summary() {
        bail!(
            "{}: {summary}; everything readable was printed",
            crate::open::display(&files)
        );
    }
    if let (Some(id), 0) = (args.packet, shown) {
        bail!(
            "packet {id} is not in {}{}: run `vrft-tui dump` without --packet to see the ids",
            crate::open::display(&files),
            if query.is_some() {
                " or the filter hides it"
            } else {
                ""
            }
        );
    }
    Ok(())
}
