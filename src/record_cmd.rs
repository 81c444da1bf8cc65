//! `vrft-tui record`: headless capture to a recording file.

use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Result};
use clap::Args;
use crossbeam_channel::RecvTimeoutError;
use vrft_events::event::flags;

use crate::export::Format;
use crate::trace_args::TraceArgs;
use crate::tracer::netns_names::Namer;
use crate::tracer::Tracer;
use vrft_events::record::{Header, Trailer, Writer};

#[derive(Args, Debug)]
pub struct RecordArgs {
    /// The recording to write.
    #[arg(short, long, value_name = "FILE")]
    pub output: PathBuf,
    /// Stop after this many seconds.
    #[arg(long, value_name = "S")]
    pub duration: Option<f64>,
    /// Stop once this many packets have been seen (their calls in flight still finish).
    #[arg(long, value_name = "N")]
    pub max_packets: Option<u64>,
    /// At the end, print the session as one JSON object on stdout: every probe with its
    /// status and reason, and the loss counters.
    #[arg(long)]
    pub json: bool,
    /// Once the recording ends, also write it as FORMAT next to it (FILE.pcapng,
    /// FILE.perfetto-trace, FILE.jsonl), as `vrft-tui export` would. Repeat or separate
    /// with commas for several.
    #[arg(long, value_enum, value_name = "FORMAT", value_delimiter = ',')]
    pub export: Vec<crate::export::Format>,
    #[command(flatten)]
    pub trace: TraceArgs,
}

/// Names the namespaces that appear after the start while they still exist (a rescan per
/// new inode; consecutive events mostly share theirs).
fn learn_namespaces(namer: &mut Namer, batch: &[vrft_events::event::Event]) {
    let mut last = 0;
    for e in batch {
        if e.netns != last {
            last = e.netns;
            namer.learn(e.netns);
        }
    }
}

/// After the packet limit, calls already running get this long to return.
const GRACE: Duration = Duration::from_millis(200);

pub fn run(args: &RecordArgs) -> Result<()> {
    let cfg = args.trace.config()?;
    if cfg.snaplen == 0 && args.export.contains(&Format::Pcapng) {
        bail!("--export pcapng needs packet bytes, which --snaplen 0 turns off: drop --snaplen 0");
    }
    if let Some(f) = args
        .export
        .iter()
        .find(|f| args.output.extension() == Some(f.extension().as_ref()))
    {
        bail!(
            "--export {f:?} would write its .{} file over the recording {}: name the \
             recording *.vrft",
            f.extension(),
            args.output.display()
        );
    }
    if let Some(line) = args.trace.self_exclusion_line() {
        eprintln!("{line}");
    }
    let interrupted = crate::signals::interrupted_flag()?;
    let starting = Instant::now();
    let (mut tracer, events) = Tracer::start(&cfg, &interrupted)?;
    let (attached, skipped, failed) = tracer.probe_counts();
    let attach_time = tracer.attach_time;
    eprintln!("{}", tracer.backend_reason);
    eprintln!(
        "probes: {attached} attached, {skipped} skipped, {failed} failed (in {:.1} s)",
        tracer.attach_time.as_secs_f64()
    );
    let header = Header {
        info: tracer.info.clone(),
        backend_reason: tracer.backend_reason.clone(),
        started_unix_ns: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64),
    };
    let mut out = Writer::create(&args.output, header)?;
    let mut namer = Namer::new(tracer.info.namespaces.clone());
    tracer.arm()?;
    let armed_after = starting.elapsed();
    eprintln!(
        "armed: recording to {} (Ctrl-C to stop)",
        args.output.display()
    );

    let start = Instant::now();
    let deadline = args.duration.map(|s| start + Duration::from_secs_f64(s));
    let mut packets = 0u64;
    let mut limit_reached: Option<Instant> = None;
    loop {
        if interrupted.load(Ordering::Relaxed)
            || deadline.is_some_and(|d| Instant::now() >= d)
            || limit_reached.is_some_and(|t| t.elapsed() >= GRACE)
        {
            break;
        }
        match events.recv_timeout(Duration::from_millis(50)) {
            Ok(batch) => {
                packets += batch
                    .iter()
                    .filter(|e| e.flags & flags::FIRST_SEEN != 0)
                    .count() as u64;
                learn_namespaces(&mut namer, &batch);
                out.events(&batch)?;
                if limit_reached.is_none() && args.max_packets.is_some_and(|m| packets >= m) {
                    limit_reached = Some(Instant::now());
                }
            }
            // A quiet moment: events held for the next frame still reach the file within a
            // second, so a kill loses at most that.
            Err(RecvTimeoutError::Timeout) => out.flush_if_due()?,
            Err(RecvTimeoutError::Disconnected) => break,
        }
    }
    let stopping = Instant::now();
    let tracer_info = tracer.info.clone();
    let report = tracer.stop()?;
    let stopped_after = stopping.elapsed();
    // The reader drained the ring buffer before it hung up.
    for batch in events.iter() {
        learn_namespaces(&mut namer, &batch);
        out.events(&batch)?;
    }
    out.interfaces(&crate::tracer::interfaces::list())?;
    let learned: Vec<_> = namer
        .names()
        .iter()
        .filter(|n| !tracer_info.namespaces.contains(n))
        .cloned()
        .collect();
    if !learned.is_empty() {
        out.namespaces(&learned)?;
    }
    out.finish(Trailer {
        stats: report.stats.clone(),
        duration_ns: start.elapsed().as_nanos() as u64,
    })?;
    let s = &report.stats;
    eprintln!(
        "recorded {} events of {packets} packets to {}; {}",
        s.events,
        args.output.display(),
        s.losses_line()
    );
    eprintln!("stopped in {:.2} s", stopping.elapsed().as_secs_f64());
    for line in failure_summary(&tracer_info) {
        eprintln!("{line}");
    }
    if args.json {
        let stats = serde_json::json!({
            "backend": tracer_info.backend,
            "kernel": tracer_info.kernel,
            "filter": tracer_info.filter,
            // With --count-hits, each probe's runs (rejected packets included).
            "probes": tracer_info.probes.iter().enumerate().map(|(i, p)| serde_json::json!({
                "name": p.name, "module": p.origin.to_string(), "status": p.status.label(), "reason": p.status.reason(),
                "hits": s.probe_hits.get(i),
            })).collect::<Vec<_>>(),
            "events": s.events, "packets": packets, "lost": s.lost,
            "recursion_misses": s.recursion_misses, "stack_overflows": s.stack_overflows,
            "stack_missing": s.stack_missing, "undecodable": s.malformed,
            "verified_insns_max": report.verified_insns_max,
            "filter_runs": report.filter_runs,
            // Seconds: scan, load and attach; from start to armed; from the stop
            // to the links handed to the release (or released, with --wait-detach).
            "seconds": {
                "attach": attach_time.as_secs_f64(),
                "armed": armed_after.as_secs_f64(),
                "stop": stopped_after.as_secs_f64(),
            },
        });
        println!("{stats}");
    }
    if let Some(line) = report.release_line() {
        eprintln!("{line}");
    }
    // From the closed file: exports need whole trees and time-sorted snapshots.
    if !args.export.is_empty() {
        let rec = vrft_events::record::Recording::read(&args.output)?;
        let name = args.output.display().to_string();
        for &format in &args.export {
            let to = args.output.with_extension(format.extension());
            crate::export::export(&rec, &name, format, &to, &[])?;
            eprintln!("exported {}", to.display());
        }
    }
    Ok(())
}

/// Probes the kernel refused, grouped by reason, a line each (names in `--json`).
fn failure_summary(info: &vrft_events::session::SessionInfo) -> Vec<String> {
    let mut by_reason: std::collections::BTreeMap<&str, Vec<&str>> = Default::default();
    for p in &info.probes {
        if let vrft_events::session::ProbeStatus::Failed(r) = &p.status {
            by_reason
                .entry(r.as_str())
                .or_default()
                .push(p.name.as_str());
        }
    }
    by_reason
        .into_iter()
        .map(|(reason, names)| {
            let shown: Vec<&str> = names.iter().take(5).copied().collect();
            let more = names.len().saturating_sub(shown.len());
            let tail = if more > 0 {
                format!(" and {more} more")
            } else {
                String::new()
            };
            format!(
                "failed ({reason}): {} functions: {}{tail}",
                names.len(),
                shown.join(", ")
            )
        })
        .collect()
}
