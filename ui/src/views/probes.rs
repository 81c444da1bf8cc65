//! Every candidate probe with its status and hit counts; sortable.

use ratatui::layout::{Constraint, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::widgets::{Row, Table};
use ratatui::Frame;

use super::{body, pane, scroll, selected_style};
use crate::app::{App, ProbeSort};
use vrft_events::session::ProbeStatus;

pub fn draw(f: &mut Frame, app: &mut App, area: Rect) {
    let (attached, skipped, failed) = app.info.probe_counts();
    let (col, rev) = app.probe_sort;
    let block = pane(
        format!(
            " Probes: {} attached, {} skipped, {} failed; sorted by {:?}{} (s/S) ",
            attached,
            skipped,
            failed,
            col,
            if rev { ", reversed" } else { "" }
        ),
        true,
    );
    let inner = block.inner(area);
    let rows_area = body(inner);
    app.areas.probes = rows_area;
    let height = rows_area.height as usize;
    app.page = height.max(1);
    app.probe_offset = scroll(
        app.probe_sel,
        app.probe_offset,
        height,
        app.probe_order().len(),
    );
    let end = (app.probe_offset + height).min(app.probe_order().len());
    let rows: Vec<Row> = (app.probe_offset..end)
        .map(|k| {
            let i = app.probe_order()[k];
            let p = &app.info.probes[i as usize];
            let color = match p.status {
                ProbeStatus::Attached => Color::Green,
                ProbeStatus::Skipped(_) => Color::Yellow,
                ProbeStatus::Failed(_) => Color::Red,
            };
            let row = Row::new(vec![
                p.name.clone(),
                p.origin.to_string(),
                p.status.label().to_string(),
                app.probe_hits(i).map_or("-".into(), |h| h.to_string()),
                app.probe_events(i).to_string(),
                p.status.reason().to_string(),
            ]);
            if k == app.probe_sel {
                row.style(selected_style(true))
            } else {
                row.style(Style::new().fg(color))
            }
        })
        .collect();
    let head = |name: &str, c: ProbeSort| {
        if c == col {
            format!("{name}*")
        } else {
            name.to_string()
        }
    };
    let header = Row::new(vec![
        head("FUNCTION", ProbeSort::Name),
        head("MODULE", ProbeSort::Module),
        head("STATUS", ProbeSort::Status),
        head("HITS", ProbeSort::Hits),
        head("EVENTS", ProbeSort::Events),
        "REASON".to_string(),
    ])
    .style(Style::new().add_modifier(Modifier::BOLD));
    let widths = [
        Constraint::Length(32),
        Constraint::Length(12),
        Constraint::Length(9),
        Constraint::Length(10),
        Constraint::Length(10),
        Constraint::Min(10),
    ];
    f.render_widget(block, area);
    f.render_widget(Table::new(rows, widths).header(header), inner);
}
