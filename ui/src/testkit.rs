//! Helpers for the UI tests of every crate in the workspace (cargo feature `testkit`): open an
//! [`App`] on a stream or a recording, type keys at it, draw it on a ratatui [`TestBackend`]
//! and read the screen back as text. Not part of the program: only test builds enable it.

use std::path::Path;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::backend::TestBackend;
use ratatui::Terminal;
use vrft_events::event::Event;
use vrft_events::record::Recording;
use vrft_events::session::SessionInfo;

use crate::app::{Action, App};

/// The real recording the tests share: Debian 6.1 under QEMU, fentry backend, 20 UDP
/// datagrams across a veth pair between two network namespaces (plus ARP and the receiving
/// socket's waits).
pub const REAL_RECORDING: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../tests/data/veth-udp-6.1-fentry.vrft"
);

/// Reads [`REAL_RECORDING`] with the reader `vrft-tui replay` uses.
pub fn real_recording() -> Recording {
    Recording::read(Path::new(REAL_RECORDING)).expect("the real recording reads")
}

/// The app on `events`: live (the stream still open, as while tracing) or replayed (every
/// event ingested and the stream finished).
pub fn open(info: SessionInfo, events: &[Event], live: bool) -> App {
    let mut app = App::new(info, live);
    app.ingest(events);
    if live {
        app.refresh();
    } else {
        app.finish();
    }
    app
}

/// The app as `vrft-tui replay` opens a recording, with the counters of its trailer.
pub fn replay(rec: Recording) -> App {
    let mut app = open(rec.header.info, &rec.events, false);
    if let Some(t) = rec.trailer {
        app.set_stats(t.stats);
    }
    app
}

/// One key press without modifiers.
pub fn press(app: &mut App, code: KeyCode) -> Action {
    app.on_key(KeyEvent::new(code, KeyModifiers::NONE))
}

/// One key press with Ctrl held (`ctrl(app, 'w')`).
pub fn ctrl(app: &mut App, c: char) -> Action {
    app.on_key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::CONTROL))
}

/// One key press with Alt held, as terminals send Alt-b (ESC b).
pub fn alt(app: &mut App, c: char) -> Action {
    app.on_key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::ALT))
}

/// Types `keys` one character at a time: `\n` is Enter, `\t` Tab, `\x1b` Esc. Returns what
/// the last key asked for.
pub fn keys(app: &mut App, keys: &str) -> Action {
    let mut last = Action::Continue;
    for c in keys.chars() {
        let code = match c {
            '\n' => KeyCode::Enter,
            '\t' => KeyCode::Tab,
            '\x1b' => KeyCode::Esc,
            c => KeyCode::Char(c),
        };
        last = press(app, code);
    }
    last
}

/// Draws one frame on a `w` x `h` test terminal, for tests that read cells (colours).
pub fn draw(app: &mut App, w: u16, h: u16) -> Terminal<TestBackend> {
    let mut t = Terminal::new(TestBackend::new(w, h)).expect("a test terminal");
    t.draw(|f| crate::views::draw(f, app))
        .expect("drawing on a test terminal");
    t
}

/// Draws one frame on a `w` x `h` test terminal and returns the screen as text.
pub fn screen(app: &mut App, w: u16, h: u16) -> String {
    draw(app, w, h).backend().to_string()
}

/// The ID of the selected packet.
pub fn selected_id(app: &App) -> u32 {
    app.model
        .packet(app.selected_slot().expect("a selected packet"))
        .id
}

/// The function of the selected tree row.
pub fn selected_func(app: &mut App) -> String {
    let n = app.selected_node().expect("a selected tree row");
    let p = app
        .model
        .packet(app.selected_slot().expect("a selected packet"));
    app.info.func_name(p.nodes[n as usize].func).to_string()
}
