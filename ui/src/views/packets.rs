//! The packet list.

use ratatui::layout::{Constraint, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Row, Table};
use ratatui::Frame;

use super::{body, pane, scroll, selected_style};
use crate::app::{App, Pane};
use crate::format::{dev_path, flow_text, human_ns};

pub fn draw(f: &mut Frame, app: &mut App, area: Rect) {
    let focused = app.pane == Pane::List;
    let follow = if app.follow && app.live {
        " (following)"
    } else {
        ""
    };
    let block = pane(
        format!(
            " Packets {}/{}{follow} ",
            app.shown.len(),
            app.packets_total()
        ),
        focused,
    );
    let inner = block.inner(area);
    let rows_area = body(inner);
    let height = rows_area.height as usize;
    app.page = height.max(1);
    app.areas.list = rows_area;
    app.list_offset = scroll(app.sel, app.list_offset, height);
    let base = app.model.packets().first().map_or(0, |p| p.first_ts);

    let end = (app.list_offset + height).min(app.shown.len());
    let rows: Vec<Row> = (app.list_offset..end)
        .map(|i| {
            let p = app.model.packet(app.shown[i]);
            let time = if app.abs_time {
                format!("{:.6}", p.first_ts as f64 / 1e9)
            } else {
                format!("+{:.6}", p.first_ts.saturating_sub(base) as f64 / 1e9)
            };
            let netns = match p.devs.iter().find(|d| d.1 != 0) {
                Some(&(ns, _)) if p.devs.iter().any(|d| d.1 != 0 && d.0 != ns) => format!("{ns}+"),
                Some(&(ns, _)) => ns.to_string(),
                None => "-".into(),
            };
            let mut mark = Vec::new();
            if p.lost() {
                // The reason names the fix; "DROP" alone says nothing.
                let text = match p.drop_reason {
                    Some(r) => format!("DROP {} ", app.info.drop_reason(r.into())),
                    None => "DROP ".to_string(),
                };
                mark.push(Span::styled(
                    text,
                    Style::new().fg(Color::Red).add_modifier(Modifier::BOLD),
                ));
            } else if p.dropped() {
                // Freed with a reason after a clone reached a socket (a ping's reply): no
                // loss, but its tree shows a kfree_skb, so the list says how it ended.
                mark.push(Span::styled("delivered ", Style::new().fg(Color::Green)));
            }
            if p.incomplete() {
                mark.push(Span::styled("INCOMPLETE", Style::new().fg(Color::Yellow)));
            }
            let row = Row::new(vec![
                Cell::from(p.id.to_string()),
                Cell::from(time),
                Cell::from(p.cpu.to_string()),
                Cell::from(dev_path(p, &app.info)),
                Cell::from(netns),
                Cell::from(flow_text(p)),
                Cell::from(p.nodes.len().to_string()),
                Cell::from(human_ns(p.duration())),
                Cell::from(Line::from(mark)),
            ]);
            if i == app.sel {
                row.style(selected_style(focused))
            } else {
                row
            }
        })
        .collect();
    let header = Row::new([
        "ID",
        "FIRST SEEN",
        "CPU",
        "INTERFACES",
        "NETNS",
        "FLOW",
        "CALLS",
        "DURATION",
        "MARK",
    ])
    .style(Style::new().add_modifier(Modifier::BOLD));
    let widths = [
        Constraint::Length(8),
        Constraint::Length(if app.abs_time { 16 } else { 11 }),
        Constraint::Length(3),
        Constraint::Length(18),
        Constraint::Length(11),
        // The flow gives way first on narrow terminals (a Min would squeeze the time column).
        Constraint::Fill(1),
        Constraint::Length(5),
        Constraint::Length(10),
        // "DROP " and the reason: most reasons fit, the flow gives way first.
        Constraint::Length(22),
    ];
    f.render_widget(block, area);
    f.render_widget(Table::new(rows, widths).header(header), inner);
}
