//! The `?` overlay listing every binding.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::widgets::{Clear, Row, Table};
use ratatui::Frame;

use super::pane;
use crate::app::App;
use crate::keys::HELP;

pub fn draw(f: &mut Frame, app: &mut App, area: Rect) {
    let height = (HELP.len() as u16 + 2).min(area.height);
    // Clamped here, where the height is known: the last line stays at the bottom.
    let visible = usize::from(height.saturating_sub(2));
    app.help_scroll = app.help_scroll.min(HELP.len().saturating_sub(visible));
    let first = app.help_scroll;
    let [_, mid, _] = Layout::vertical([
        Constraint::Fill(1),
        Constraint::Length(height),
        Constraint::Fill(1),
    ])
    .areas(area);
    let [_, rect, _] = Layout::horizontal([
        Constraint::Fill(1),
        Constraint::Max(116),
        Constraint::Fill(1),
    ])
    .areas(mid);
    let rows = HELP
        .iter()
        .skip(first)
        .map(|(k, what)| Row::new(vec![k.to_string(), what.to_string()]));
    let title = if visible >= HELP.len() {
        " Keys (any key closes) ".to_string()
    } else {
        format!(
            " Keys {}-{} of {} (j/k PgDn/PgUp scroll, any other key closes) ",
            first + 1,
            (first + visible).min(HELP.len()),
            HELP.len()
        )
    };
    let table = Table::new(rows, [Constraint::Length(26), Constraint::Min(20)])
        .block(pane(title, true))
        .style(Style::new().add_modifier(Modifier::empty()));
    f.render_widget(Clear, rect);
    f.render_widget(table, rect);
}
