//! The call tree of the selected packet, in ftrace function_graph style.

use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::Line;
use ratatui::widgets::Paragraph;
use ratatui::Frame;

use super::{body, pane, scroll, selected_style};
use crate::app::{App, Pane};
use crate::format::{self, packet_title, row_text, RowKind};
use crate::keys::HSHIFT_STEP;
use crate::model::node_flags::*;

pub fn draw(f: &mut Frame, app: &mut App, area: Rect) {
    let focused = app.pane == Pane::Tree;
    let title = match app.selected_slot() {
        Some(s) => {
            let p = app.model.packet(s);
            let seen = app.time_text(p.first_ts, false);
            format!(" {} ", packet_title(p, &app.info, &seen))
        }
        None => " Call tree ".to_string(),
    };
    let block = pane(title, focused);
    let inner = block.inner(area);
    f.render_widget(block, area);
    let rows_area = body(inner);
    app.areas.tree = rows_area;
    let height = rows_area.height as usize;
    let len = app.tree_rows().len();
    if std::mem::take(&mut app.tree_recenter) {
        app.tree_offset = app
            .tree_sel
            .saturating_sub(height / 3)
            .min(len.saturating_sub(height));
    }
    app.tree_offset = scroll(app.tree_sel, app.tree_offset, height, len);
    let Some(slot) = app.selected_slot() else {
        f.render_widget(Paragraph::new("no packet selected"), inner);
        return;
    };
    let end = (app.tree_offset + height).min(len);
    let start = app.tree_offset.min(end);
    let visible = app.tree_rows()[start..end].to_vec();
    let p = app.model.packet(slot);
    let texts: Vec<String> = visible.iter().map(|r| row_text(p, &app.info, r)).collect();
    let sel_text = app.tree_sel.checked_sub(start).and_then(|i| texts.get(i));
    let at = Some((slot, app.tree_sel));
    if app.tree_hshift_at != at {
        app.tree_hshift = keep_name_visible(app.tree_hshift, sel_text, inner.width as usize);
        app.tree_hshift_at = at;
    }
    let shift = app.tree_hshift;
    let mut header = format::header();
    if shift > 0 {
        header += &format!(" (scrolled {shift} columns right, < >)");
    }
    let mut lines = vec![Line::styled(
        header,
        Style::new().add_modifier(Modifier::BOLD),
    )];
    for (i, (row, text)) in visible.iter().zip(texts).enumerate() {
        let node = &p.nodes[row.node as usize];
        let text = shifted(text, shift);
        let style = if app.tree_offset + i == app.tree_sel {
            selected_style(focused)
        } else {
            match row.kind {
                RowKind::Separator { .. } => Style::new().fg(Color::Magenta),
                RowKind::Device => Style::new().fg(Color::Cyan),
                RowKind::Host => Style::new().fg(Color::Blue).add_modifier(Modifier::BOLD),
                _ if node.has(DROP) => Style::new().fg(Color::Red),
                _ if node.is_broken() || !node.has(EXITED) => Style::new().fg(Color::Yellow),
                _ if node.has(TRACEPOINT) => Style::new().fg(Color::Green),
                _ if app.search.is_some() && app.search_hit(node) => {
                    Style::new().add_modifier(Modifier::UNDERLINED)
                }
                _ => Style::new(),
            }
        };
        lines.push(Line::styled(text, style));
    }
    f.render_widget(Paragraph::new(lines), inner);
}

/// Where the call column of a `row_text` line starts (after "CPU) TIME DURATION |").
fn call_column(text: &str) -> Option<usize> {
    text.find(" |").map(|i| i + 2)
}

/// The horizontal shift that keeps the selected call's name (and a little of what follows)
/// on screen, starting from the user's `shift`; moves in steps of [`HSHIFT_STEP`].
fn keep_name_visible(shift: usize, selected: Option<&String>, width: usize) -> usize {
    let Some((text, col)) = selected.and_then(|t| Some((t, call_column(t)?))) else {
        return shift;
    };
    let call = &text[col..];
    let indent = call.len() - call.trim_start().len();
    let room = width.saturating_sub(col).max(HSHIFT_STEP * 2);
    let want_end = indent + 24;
    let mut shift = shift.min(indent / HSHIFT_STEP * HSHIFT_STEP);
    if want_end > shift + room {
        shift = (want_end - room).div_ceil(HSHIFT_STEP) * HSHIFT_STEP;
    }
    shift
}

/// `text` with `shift` columns of its call column scrolled out, marked with '«'.
fn shifted(text: String, shift: usize) -> String {
    match call_column(&text) {
        Some(col) if shift > 0 => {
            let call: String = text[col..].chars().skip(shift).collect();
            let call = call.strip_prefix(' ').unwrap_or(&call);
            format!("{}«{call}", &text[..col])
        }
        _ => text,
    }
}
