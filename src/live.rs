//! `vrft-tui` with no subcommand: attach (progress bar on the normal screen),
//! then browse packets live in the UI; quitting releases in the background.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use clap::Args;
use vrft_ui::budget::{self, human_bytes, Budget};

use crate::trace_args::TraceArgs;
use crate::tracer::netns_names::Namer;
use crate::tracer::Tracer;

/// How often the status line's counters are refreshed.
const STATS_EVERY: Duration = Duration::from_secs(1);

/// Options of live mode only (a recording is bounded by its file system instead).
#[derive(Args, Debug)]
pub struct LiveArgs {
    /// Memory for the whole process, e.g. 512M or 2G: when packets outgrow what tracing
    /// leaves of it, the oldest finished ones are evicted whole (counted on the status line;
    /// marked and selected packets stay). Default: a quarter of the memory available at
    /// start, at most 4G.
    #[arg(long, value_name = "SIZE", value_parser = budget::parse_size)]
    pub max_memory: Option<u64>,
}

/// The least `--max-memory` accepted before attaching (tracing itself needs about this).
const MIN_MEMORY: u64 = 16 << 20;
/// The default budget's share of available memory, and its cap.
const DEFAULT_SHARE: u64 = 4;
const DEFAULT_CAP: u64 = 4 << 30;

/// The budget asked for, or the default; checked before anything is attached.
fn memory_limit(args: &LiveArgs, ring_bytes: u32) -> Result<u64> {
    // The ring buffer is mapped twice; tracing itself needs about MIN_MEMORY besides.
    let least = MIN_MEMORY + 2 * u64::from(ring_bytes);
    match args.max_memory {
        Some(m) if m < least => bail!(
            "--max-memory {} is too small for tracing with a {} ring buffer (mapped twice): \
             give at least {} or a smaller --ring-size",
            human_bytes(m),
            human_bytes(ring_bytes.into()),
            human_bytes(least)
        ),
        Some(m) => Ok(m),
        None => Ok((available_memory().unwrap_or(DEFAULT_CAP) / DEFAULT_SHARE)
            .clamp(least * 2, DEFAULT_CAP)),
    }
}

/// `MemAvailable` of /proc/meminfo, in bytes.
fn available_memory() -> Option<u64> {
    let info = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = info.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib << 10)
}

pub fn run(trace: &TraceArgs, live: &LiveArgs) -> Result<()> {
    let mut cfg = trace.config()?;
    let limit = memory_limit(live, cfg.ring_bytes)?;
    crate::replay::check_terminal(
        "the live UI",
        "record without it: `vrft-tui record -o FILE`",
    )?;
    // Decoded events waiting for the UI count against the budget too: a short queue, the
    // ring buffer is the reserve for a UI that lags.
    let queue = limit / 32;
    cfg.queue_bytes = Some(queue as usize);
    if let Some(line) = trace.self_exclusion_line() {
        eprintln!("{line}");
    }
    let interrupted = crate::signals::interrupted_flag()?;
    let (mut tracer, events) = Tracer::start(&cfg, &interrupted)?;
    let (attached, skipped, failed) = tracer.probe_counts();
    eprintln!("{}", tracer.backend_reason);
    eprintln!("probes: {attached} attached, {skipped} skipped, {failed} failed");
    // What tracing uses before the first packet (probes, the function table, the ring
    // buffer, mapped by now: its data pages twice, as records wrap around) and the queue:
    // the packets get what is left.
    let rss = budget::rss_bytes().ok_or_else(|| anyhow!("cannot read /proc/self/status"))?;
    let baseline = rss + queue;
    let budget = Budget::new(limit, baseline).map_err(|e| anyhow!(e))?;
    eprintln!(
        "memory: {} of {} for tracing, its ring buffer and queue; beyond the rest, the oldest packets are evicted (--max-memory)",
        human_bytes(baseline),
        human_bytes(limit)
    );
    let probe = tracer.stats_probe()?;
    let (stats_tx, stats_rx) = crossbeam_channel::bounded(4);
    let stats_stop = interrupted.clone();
    let stats_thread = std::thread::spawn(move || {
        let (mut last, mut at) = (0u64, Instant::now());
        while !stats_stop.load(Ordering::Relaxed) {
            std::thread::sleep(STATS_EVERY);
            let mut s = probe.read();
            s.events_per_sec = (s.events - last) as f64 / at.elapsed().as_secs_f64();
            (last, at) = (s.events, Instant::now());
            if stats_tx.send(s).is_err() {
                break;
            }
        }
    });
    tracer.arm()?;
    let mut app = vrft_ui::app::App::new(tracer.info.clone(), true);
    app.memory = Some(budget);
    let mut namer = Namer::new(tracer.info.namespaces.clone());
    app.namer = Some(Box::new(move |inode| {
        namer.learn(inode).then(|| namer.names().to_vec())
    }));
    let outcome = vrft_ui::run::run_app(app, events, stats_rx).context("terminal")?;
    interrupted.store(true, Ordering::Relaxed);
    let report = tracer.stop()?;
    let _ = stats_thread.join();
    eprintln!(
        "{} packets, {} events; {}",
        outcome.packets,
        outcome.events,
        report.stats.losses_line()
    );
    if outcome.evicted > 0 {
        eprintln!(
            "{} packets evicted to stay within {} (--max-memory)",
            outcome.evicted,
            human_bytes(limit)
        );
    }
    if let Some(line) = report.release_line() {
        eprintln!("{line}");
    }
    Ok(())
}
