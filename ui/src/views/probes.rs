//! Every candidate probe with its status and how often it fired; sortable, and `/` keeps
//! the probes that contain a text.

use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::Line;
use ratatui::widgets::{Row, Table};
use ratatui::Frame;

use super::columns::{Fitted, Step};
use super::{body, pane, scroll, selected_style};
use crate::app::{App, ProbeSort};
use vrft_events::session::ProbeStatus;

const SPACING: u16 = 1;

pub fn draw(f: &mut Frame, app: &mut App, area: Rect) {
    let (attached, skipped, failed) = app.info.probe_counts();
    let (col, rev) = app.probe_sort;
    let hits = app.hits_counted();
    let matching = match &app.probe_filter {
        Some(t) => format!("{} matching '{t}', ", app.probe_order().len()),
        None => String::new(),
    };
    // Say why there is no HITS column: the numbers shown are what reached the UI.
    let counted = if hits {
        ""
    } else {
        "; hits not counted (--count-hits): EVENTS SEEN are the events recorded"
    };
    let block = pane(
        format!(
            " Probes: {attached} attached, {skipped} skipped, {failed} failed; {matching}sorted by {col:?}{} (s/S, / filter){counted} ",
            if rev { ", reversed" } else { "" }
        ),
        true,
    );
    let inner = block.inner(area);
    let rows_area = body(inner);
    app.areas.probes = rows_area;
    let height = rows_area.height as usize;
    app.page = height.max(1);
    let len = app.probe_order().len();
    app.probe_offset = scroll(app.probe_sel, app.probe_offset, height, len);
    let end = (app.probe_offset + height).min(len);
    let visible: Vec<u32> = app.probe_order()[app.probe_offset..end].to_vec();
    let cells: Vec<Vec<Line<'static>>> = visible
        .iter()
        .map(|&i| {
            let p = &app.info.probes[i as usize];
            let mut row = vec![
                Line::from(p.name.clone()),
                Line::from(p.origin.to_string()),
                Line::from(p.status.label()),
            ];
            if hits {
                row.push(Line::from(app.probe_hits(i).unwrap_or(0).to_string()));
            }
            row.push(Line::from(app.probe_events(i).to_string()));
            row.push(Line::from(p.status.reason().to_string()));
            row
        })
        .collect();
    let head = |name: &str, c: ProbeSort| {
        if c == col {
            format!("{name}*")
        } else {
            name.to_string()
        }
    };
    let mut headers = vec![
        head("FUNCTION", ProbeSort::Name),
        head("MODULE", ProbeSort::Module),
        head("STATUS", ProbeSort::Status),
    ];
    if hits {
        headers.push(head("HITS", ProbeSort::Hits));
    }
    // Without hit counts the header says these are the events that reached the UI (the
    // packets the capture filter kept), not every run of the probe.
    headers.push(head(
        if hits { "EVENTS" } else { "EVENTS SEEN" },
        ProbeSort::Events,
    ));
    headers.push("REASON".to_string());
    let n = headers.len();
    // The function name and the reason may be cut on a narrow terminal; the counts not.
    let steps = [Step::Squeeze(n - 1), Step::Squeeze(0), Step::Drop(1)];
    let mut fitted = Fitted::new(&headers, &cells, &[24], &steps, inner.width, SPACING);
    // The reason, last, takes whatever is left (it is cut rather than wrapped).
    fitted.widen_last(inner.width, SPACING);
    let rows: Vec<Row> = cells
        .into_iter()
        .zip(&visible)
        .enumerate()
        .map(|(k, (row, &i))| {
            let color = match app.info.probes[i as usize].status {
                ProbeStatus::Attached => Color::Green,
                ProbeStatus::Skipped(_) => Color::Yellow,
                ProbeStatus::Failed(_) => Color::Red,
            };
            let row = Row::new(fitted.cells(row));
            if app.probe_offset + k == app.probe_sel {
                row.style(selected_style(true))
            } else {
                row.style(Style::new().fg(color))
            }
        })
        .collect();
    let header = Row::new(fitted.header(&headers)).style(Style::new().add_modifier(Modifier::BOLD));
    f.render_widget(block, area);
    f.render_widget(
        Table::new(rows, fitted.constraints())
            .header(header)
            .column_spacing(SPACING),
        inner,
    );
}
