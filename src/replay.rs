//! `vrft-tui replay`: browse a recording in the UI (no root needed).

use std::path::PathBuf;

use std::io::IsTerminal;

use anyhow::{anyhow, bail, Context, Result};
use clap::Args;

use vrft_ui::app::App;
use vrft_ui::query::Query;

#[derive(Args, Debug)]
pub struct ReplayArgs {
    /// A recording made with `vrft-tui record`; several (of several hosts) are merged:
    /// packets with the same payload id become one.
    #[arg(required = true, num_args = 1..)]
    pub files: Vec<PathBuf>,
    #[command(flatten)]
    pub merge: crate::open::MergeArgs,
    /// Open with this filter applied: the language of the `f` bar, e.g. 'udp and netns=b'
    /// (docs/filters.md); `f` edits it.
    #[arg(long, value_name = "EXPR")]
    pub filter: Option<String>,
}

/// The UI draws on stdout and reads keys from stdin: without a terminal on both it could
/// only fail later with ENXIO ("No such device or address"). `what` names the mode and
/// `instead` what works without a terminal.
pub(crate) fn check_terminal(what: &str, instead: &str) -> Result<()> {
    for (name, tty) in [
        ("stdin", std::io::stdin().is_terminal()),
        ("stdout", std::io::stdout().is_terminal()),
    ] {
        if !tty {
            bail!("{what} needs a terminal ({name} is not a tty): run it in one, or {instead}");
        }
    }
    Ok(())
}

/// Events per batch handed to the UI, as the live reader would.
const BATCH: usize = 4096;

pub fn run(args: &ReplayArgs) -> Result<()> {
    let rec = crate::open::open(&args.files, &args.merge)?;
    // Both checks come before the terminal is taken over, so their one line stays readable.
    let filter = match &args.filter {
        Some(text) => Some(
            Query::parse(text, &rec.header.info).map_err(|e| anyhow!("--filter '{text}': {e}"))?,
        ),
        None => None,
    };
    check_terminal("replay", "print the trees with `vrft-tui dump FILE`")?;
    for h in &rec.header.info.hosts {
        eprintln!(
            "host {}: {} ({})",
            h.label,
            h.clock.describe(),
            h.file.display()
        );
    }
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
    if let Some(q) = filter {
        app.open_filter(q);
    }
    // What was lost stays in the status line; the details until the first key.
    app.notice = rec.damage.short();
    app.message = rec.damage.summary();
    vrft_ui::run::run_app(app, rx, stats_rx).context("terminal")?;
    // The terminal is back: leave the details where they can be read and copied.
    for line in rec.damage.lines() {
        eprintln!("vrft-tui: {}: {line}", crate::open::display(&args.files));
    }
    Ok(())
}
