//! The call tree of the selected packet, in ftrace function_graph style.

use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::Line;
use ratatui::widgets::Paragraph;
use ratatui::Frame;

use super::{body, pane, scroll, selected_style};
use crate::app::{App, Pane};
use crate::format::{self, packet_summary, row_text, RowKind};
use crate::model::node_flags::*;

pub fn draw(f: &mut Frame, app: &mut App, area: Rect) {
    let focused = app.pane == Pane::Tree;
    let title = match app.selected_slot() {
        Some(s) => format!(" {} ", packet_summary(app.model.packet(s), &app.info)),
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
    app.tree_offset = scroll(app.tree_sel, app.tree_offset, height);
    let Some(slot) = app.selected_slot() else {
        f.render_widget(Paragraph::new("no packet selected"), inner);
        return;
    };
    let end = (app.tree_offset + height).min(len);
    let start = app.tree_offset.min(end);
    let visible = app.tree_rows()[start..end].to_vec();
    let p = app.model.packet(slot);
    let mut lines = vec![Line::styled(
        format::header(),
        Style::new().add_modifier(Modifier::BOLD),
    )];
    for (i, row) in visible.iter().enumerate() {
        let node = &p.nodes[row.node as usize];
        let text = row_text(p, &app.info, row);
        let style = if app.tree_offset + i == app.tree_sel {
            selected_style(focused)
        } else {
            match row.kind {
                RowKind::Separator { .. } => Style::new().fg(Color::Magenta),
                RowKind::Device => Style::new().fg(Color::Cyan),
                _ if node.has(DROP) => Style::new().fg(Color::Red),
                _ if node.is_broken() || !node.has(EXITED) => Style::new().fg(Color::Yellow),
                _ if node.has(TRACEPOINT) => Style::new().fg(Color::Green),
                _ if app.search.is_some() && app.search_hit(node.func) => {
                    Style::new().add_modifier(Modifier::UNDERLINED)
                }
                _ => Style::new(),
            }
        };
        lines.push(Line::styled(text, style));
    }
    f.render_widget(Paragraph::new(lines), inner);
}
