//! `vrft-tui` with no subcommand: attach (progress bar on the normal screen),
//! then browse packets live in the UI; quitting releases in the background.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use crate::trace_args::TraceArgs;
use crate::tracer::Tracer;

/// How often the status line's counters are refreshed.
const STATS_EVERY: Duration = Duration::from_secs(1);

pub fn run(trace: &TraceArgs) -> Result<()> {
    let cfg = trace.config()?;
    let interrupted = crate::signals::interrupted_flag()?;
    let (mut tracer, events) = Tracer::start(&cfg, &interrupted)?;
    let (attached, skipped, failed) = tracer.probe_counts();
    eprintln!("{}", tracer.backend_reason);
    eprintln!("probes: {attached} attached, {skipped} skipped, {failed} failed");
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
    let outcome =
        vrft_ui::run::run(tracer.info.clone(), events, stats_rx, true).context("terminal")?;
    interrupted.store(true, Ordering::Relaxed);
    let report = tracer.stop()?;
    let _ = stats_thread.join();
    eprintln!(
        "{} packets, {} events; {}",
        outcome.packets,
        outcome.events,
        report.stats.losses_line()
    );
    if let Some(line) = report.release_line() {
        eprintln!("{line}");
    }
    Ok(())
}
