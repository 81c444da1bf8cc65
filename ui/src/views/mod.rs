//! Drawing. Each view renders only the rows that fit on screen, so frame time does not
//! grow with the number of packets.

mod columns;
mod details;
mod help;
mod latency;
mod packets;
mod probes;
mod status;
mod tree;

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::widgets::{Block, BorderType};
use ratatui::Frame;

use crate::app::{App, Mode, View};

/// Rows the call tree keeps (with its frame and header) before a details pane below it
/// may take any: a tree of fewer rows shows too little of a packet to follow it.
const MIN_TREE_ROWS: u16 = 12;
/// Height of the details pane when it sits below the tree (narrow terminals).
const DETAILS_BELOW: u16 = 9;

pub fn draw(f: &mut Frame, app: &mut App) {
    let [main, status, footer] = Layout::vertical([
        Constraint::Min(3),
        Constraint::Length(1),
        Constraint::Length(1),
    ])
    .areas(f.area());
    match app.view {
        View::Packets => {
            let [list, bottom] =
                Layout::vertical([Constraint::Percentage(40), Constraint::Percentage(60)])
                    .areas(main);
            let (tree_area, details_area) = if bottom.width >= 120 {
                let [t, d] =
                    Layout::horizontal([Constraint::Min(60), Constraint::Length(40)]).areas(bottom);
                (t, Some(d))
            } else if bottom.height >= MIN_TREE_ROWS + DETAILS_BELOW {
                let [t, d] = Layout::vertical([
                    Constraint::Min(MIN_TREE_ROWS),
                    Constraint::Length(DETAILS_BELOW),
                ])
                .areas(bottom);
                (t, Some(d))
            } else {
                // Short and narrow (80x24): the tree needs the rows more than the details,
                // which repeat what the selected row says.
                (bottom, None)
            };
            packets::draw(f, app, list);
            tree::draw(f, app, tree_area);
            if let Some(d) = details_area {
                details::draw(f, app, d);
            }
        }
        View::Latency => latency::draw(f, app, main),
        View::Probes => probes::draw(f, app, main),
    }
    status::draw_status(f, app, status);
    status::draw_footer(f, app, footer);
    if app.mode == Mode::Help {
        help::draw(f, app, main);
    }
}

/// A pane frame; the focused one is highlighted.
fn pane(title: String, focused: bool) -> Block<'static> {
    let style = if focused {
        Style::new().fg(Color::Cyan).add_modifier(Modifier::BOLD)
    } else {
        Style::new()
    };
    Block::bordered()
        .border_type(BorderType::Plain)
        .border_style(style)
        .title(title)
}

/// Scroll offset that keeps `sel` inside a window of `height` rows over `len` rows, and
/// never leaves blank rows below the last one while rows above are scrolled out: a list
/// that shrank (filter, fold) or a pane that grew (resize) shows as much as fits.
pub(crate) fn scroll(sel: usize, offset: usize, height: usize, len: usize) -> usize {
    if height == 0 {
        return sel.min(len.saturating_sub(1));
    }
    let offset = if sel < offset {
        sel
    } else if sel >= offset + height {
        sel + 1 - height
    } else {
        offset
    };
    offset.min(len.saturating_sub(height))
}

fn selected_style(focused: bool) -> Style {
    if focused {
        Style::new()
            .bg(Color::Blue)
            .fg(Color::White)
            .add_modifier(Modifier::BOLD)
    } else {
        Style::new().add_modifier(Modifier::REVERSED)
    }
}

/// The part of `area` left for rows under a one-line header.
fn body(area: Rect) -> Rect {
    Rect {
        y: area.y + 1,
        height: area.height.saturating_sub(1),
        ..area
    }
}
