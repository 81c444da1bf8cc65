//! The `?` overlay listing every binding.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::widgets::{Clear, Row, Table};
use ratatui::Frame;

use super::pane;
use crate::keys::HELP;

pub fn draw(f: &mut Frame, area: Rect) {
    let height = (HELP.len() as u16 + 2).min(area.height);
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
        .map(|(k, what)| Row::new(vec![k.to_string(), what.to_string()]));
    let table = Table::new(rows, [Constraint::Length(26), Constraint::Min(20)])
        .block(pane(" Keys (any key closes) ".into(), true))
        .style(Style::new().add_modifier(Modifier::empty()));
    f.render_widget(Clear, rect);
    f.render_widget(table, rect);
}
