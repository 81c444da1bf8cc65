//! The interactive loop: owns the terminal, draws at most ~30 frames a second, and never
//! blocks on the event channel, so a packet flood cannot delay a key press.

use std::io::{self, Stdout};
use std::panic::PanicHookInfo;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, TryRecvError};
use crossterm::event::{self as term, DisableMouseCapture, EnableMouseCapture, Event as TermEvent};
use crossterm::execute;
use crossterm::terminal::{
    disable_raw_mode, enable_raw_mode, EnterAlternateScreen, LeaveAlternateScreen,
};
use ratatui::backend::CrosstermBackend;
use ratatui::Terminal;

use crate::app::{Action, App};
use crate::views;
use vrft_events::event::Event;
use vrft_events::session::{SessionInfo, Stats};

const FRAME: Duration = Duration::from_millis(33);
/// Ingestion time per frame; the rest of the frame is left for keys and drawing.
const INGEST_BUDGET: Duration = Duration::from_millis(12);
/// Events ingested between two clock checks (about 1-2 ms of work).
const CHUNK: usize = 4096;

/// What the session ended with, for the caller's summary line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Outcome {
    pub packets: usize,
    pub events: u64,
    /// Packets evicted to stay within the memory budget.
    pub evicted: u64,
}

type PanicHook = dyn Fn(&PanicHookInfo<'_>) + Send + Sync + 'static;

/// Restores the terminal when dropped, whichever way `run` exits.
struct TermGuard;

fn restore() {
    let _ = disable_raw_mode();
    let _ = execute!(io::stdout(), DisableMouseCapture, LeaveAlternateScreen);
}

impl Drop for TermGuard {
    fn drop(&mut self) {
        restore();
    }
}

/// Runs the UI until the user quits.
///
/// * `events`: batches from the tracer or a recording. When every sender is gone the stream
///   is complete: calls still open are marked incomplete and the UI switches to replay mode.
/// * `stats`: counter snapshots (the latest wins); may stay silent or be disconnected.
/// * `live`: tracing is running; `q` asks for confirmation and the list follows new packets.
///
/// The terminal is restored on return, on error and on panic (a panic hook restores it before
/// the previous hook prints the message).
pub fn run(
    info: SessionInfo,
    events: Receiver<Vec<Event>>,
    stats: Receiver<Stats>,
    live: bool,
) -> io::Result<Outcome> {
    run_app(App::new(info, live), events, stats)
}

/// [`run`] with an app the caller prepared (e.g. a replay's notice that the recording is damaged).
pub fn run_app(
    mut app: App,
    events: Receiver<Vec<Event>>,
    stats: Receiver<Stats>,
) -> io::Result<Outcome> {
    let prev: Arc<PanicHook> = Arc::from(std::panic::take_hook());
    let chained = prev.clone();
    std::panic::set_hook(Box::new(move |p| {
        restore();
        chained(p);
    }));
    enable_raw_mode()?;
    let _guard = TermGuard;
    execute!(io::stdout(), EnterAlternateScreen, EnableMouseCapture)?;
    let mut terminal = Terminal::new(CrosstermBackend::new(io::stdout()))?;
    let result = event_loop(&mut terminal, &mut app, &events, &stats);
    // Put the caller's hook back.
    std::panic::set_hook(Box::new(move |p| prev(p)));
    result.map(|()| Outcome {
        packets: app.packets_total(),
        events: app.model.events(),
        evicted: app.model.evicted().0,
    })
}

/// A batch being ingested across frames.
struct Pending {
    batch: Vec<Event>,
    at: usize,
}

fn event_loop(
    terminal: &mut Terminal<CrosstermBackend<Stdout>>,
    app: &mut App,
    events: &Receiver<Vec<Event>>,
    stats: &Receiver<Stats>,
) -> io::Result<()> {
    let mut pending: Option<Pending> = None;
    let mut stream_open = true;
    let mut dirty = true;
    let mut last_draw = Instant::now() - FRAME;
    let mut last_stats: Option<(Instant, u64)> = None;
    loop {
        // Keys first: everything the terminal has queued, without waiting.
        while term::poll(Duration::ZERO)? {
            let action = match term::read()? {
                TermEvent::Key(k) => app.on_key(k),
                TermEvent::Mouse(m) => app.on_mouse(m),
                _ => Action::Continue,
            };
            if action == Action::Quit {
                return Ok(());
            }
            dirty = true;
        }

        // Then a bounded slice of ingestion.
        let start = Instant::now();
        while stream_open && start.elapsed() < INGEST_BUDGET {
            let p = match pending.take() {
                Some(p) => p,
                None => match events.try_recv() {
                    Ok(batch) => Pending { batch, at: 0 },
                    Err(TryRecvError::Empty) => break,
                    Err(TryRecvError::Disconnected) => {
                        stream_open = false;
                        app.finish();
                        break;
                    }
                },
            };
            let end = (p.at + CHUNK).min(p.batch.len());
            app.ingest(&p.batch[p.at..end]);
            dirty = true;
            if end < p.batch.len() {
                pending = Some(Pending { at: end, ..p });
            }
        }
        while let Ok(mut s) = stats.try_recv() {
            // Producers that only count events get the rate computed here.
            let now = Instant::now();
            if s.events_per_sec == 0.0 {
                if let Some((t, n)) = last_stats {
                    let secs = now.duration_since(t).as_secs_f64();
                    if secs > 0.0 {
                        s.events_per_sec = s.events.saturating_sub(n) as f64 / secs;
                    }
                }
            }
            last_stats = Some((now, s.events));
            app.set_stats(s);
            dirty = true;
        }

        if dirty && last_draw.elapsed() >= FRAME {
            app.refresh();
            terminal.draw(|f| views::draw(f, app))?;
            last_draw = Instant::now();
            dirty = false;
        }

        // Sleep until input arrives or it is time for more work.
        let busy = pending.is_some() || (stream_open && !events.is_empty());
        let wait = if busy {
            Duration::ZERO
        } else if dirty {
            FRAME.saturating_sub(last_draw.elapsed())
        } else {
            FRAME
        };
        if !wait.is_zero() {
            term::poll(wait)?;
        }
    }
}
