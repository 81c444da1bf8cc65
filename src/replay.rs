//! `vrft-tui replay`: browse a recording in the UI (no root needed).

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;

use vrft_events::record::Recording;
use vrft_ui::app::App;

#[derive(Args, Debug)]
pub struct ReplayArgs {
    /// A recording made with `vrft-tui record`.
    pub file: PathBuf,
}

/// Events per batch handed to the UI, as the live reader would.
const BATCH: usize = 4096;

pub fn run(args: &ReplayArgs) -> Result<()> {
    let rec = Recording::read(&args.file)?;
    let (tx, rx) = crossbeam_channel::unbounded();
    for chunk in rec.events.chunks(BATCH) {
        tx.send(chunk.to_vec()).expect("receiver alive");
    }
    drop(tx); // the stream is complete: the UI opens in replay mode
    let (stats_tx, stats_rx) = crossbeam_channel::bounded(1);
    if let Some(t) = &rec.trailer {
        let _ = stats_tx.send(t.stats.clone());
    }
    let mut app = App::new(rec.header.info, false);
    // What was lost stays in the status line; the details until the first key.
    app.notice = rec.damage.short();
    app.message = rec.damage.summary();
    vrft_ui::run::run_app(app, rx, stats_rx).context("terminal")?;
    // The terminal is back: leave the details where they can be read and copied.
    for line in rec.damage.lines() {
        eprintln!("vrft-tui: {}: {line}", args.file.display());
    }
    Ok(())
}
