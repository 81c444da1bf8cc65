//! The packet list. Columns are as wide as what the rows on screen hold (see `columns.rs`),
//! so long interface paths and flow summaries get the room short ones leave.

use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Row, Table};
use ratatui::Frame;

use super::columns::{Fitted, Step};
use super::{body, pane, scroll, selected_style};
use crate::app::{App, Pane, TimeMode};
use crate::format::{dev_path, flow_text, host_path, human_ns};
use crate::model::Packet;

/// Column order of the list (the ID is column 0). HOSTS exists only for recordings of
/// several hosts merged.
const HOSTS: usize = 1;
const TIME: usize = 2;
const CPU: usize = 3;
const IFACES: usize = 4;
const NETNS: usize = 5;
const FLOW: usize = 6;
const CALLS: usize = 7;
const DURATION: usize = 8;
const MARK: usize = 9;

/// What the list gives up on a narrow terminal, first to last: the ID, the flow and the
/// marks stay (they tell packets apart and say what became of them; the tree's title
/// repeats the duration and the time). The time goes before the flow is cut: a decoded
/// summary (`... echo request id 247 seq 1`) ends in what tells packets apart.
const STEPS: &[Step] = &[
    Step::Drop(CPU),
    Step::Drop(CALLS),
    Step::Drop(NETNS),
    Step::Squeeze(IFACES),
    Step::Drop(HOSTS),
    Step::Drop(DURATION),
    Step::Drop(TIME),
    Step::Squeeze(FLOW),
    Step::Squeeze(MARK),
    Step::Drop(IFACES),
];

/// Space between columns.
const SPACING: u16 = 1;

pub fn draw(f: &mut Frame, app: &mut App, area: Rect) {
    let focused = app.pane == Pane::List;
    let follow = if app.follow && app.live {
        " (following)"
    } else {
        ""
    };
    let delta = app.mark_delta().map_or(String::new(), |d| format!("  {d}"));
    // After evictions the list no longer starts at the first packet: say where it does.
    let evicted = match app.model.evicted() {
        (0, _) => String::new(),
        (n, upto) => format!(" after #{} ({n} older evicted)", upto.map_or(0, |u| u)),
    };
    let block = pane(
        format!(
            " Packets {}/{}{evicted}{follow}{delta} ",
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
    app.list_offset = scroll(app.sel, app.list_offset, height, app.shown.len());

    let end = (app.list_offset + height).min(app.shown.len());
    let cells: Vec<Vec<Line<'static>>> = (app.list_offset..end)
        .map(|i| cells(app, app.model.packet(app.shown[i])))
        .collect();
    let time_header = match app.time {
        TimeMode::Relative => "FIRST SEEN",
        TimeMode::Wall => "WALL CLOCK",
        TimeMode::Boot => "SINCE BOOT",
    };
    let mut headers: Vec<String> = [
        "ID",
        "HOSTS",
        time_header,
        "CPU",
        "INTERFACES",
        "NETNS",
        "FLOW",
        "CALLS",
        "DURATION",
        "MARK",
    ]
    .map(String::from)
    .to_vec();
    // How narrow a squeezed column may get: enough to recognise what it holds.
    let mut floors = vec![0, 0, 0, 0, 9, 16, 0, 0, 0, 8];
    let mut cells = cells;
    let mut steps = STEPS.to_vec();
    if app.info.hosts.is_empty() {
        // One host: no HOSTS column; the later columns move left by one.
        headers.remove(HOSTS);
        floors.remove(HOSTS);
        for row in &mut cells {
            row.remove(HOSTS);
        }
        let left = |i: usize| if i > HOSTS { i - 1 } else { i };
        steps = STEPS
            .iter()
            .filter(|s| !matches!(s, Step::Drop(HOSTS) | Step::Squeeze(HOSTS)))
            .map(|s| match *s {
                Step::Drop(i) => Step::Drop(left(i)),
                Step::Squeeze(i) => Step::Squeeze(left(i)),
            })
            .collect();
    }
    let fitted = Fitted::new(&headers, &cells, &floors, &steps, inner.width, SPACING);
    let rows: Vec<Row> = cells
        .into_iter()
        .enumerate()
        .map(|(k, row)| {
            let row = Row::new(fitted.cells(row));
            if app.list_offset + k == app.sel {
                row.style(selected_style(focused))
            } else {
                row
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

/// The cells of one packet's row, in column order.
fn cells(app: &App, p: &Packet) -> Vec<Line<'static>> {
    let netns = match p.devs.iter().find(|d| d.1 != 0) {
        Some(&(ns, _)) if p.devs.iter().any(|d| d.1 != 0 && d.0 != ns) => {
            format!("{}+", app.info.netns_name(ns))
        }
        Some(&(ns, _)) => app.info.netns_name(ns),
        None => "-".into(),
    };
    let mut mark = Vec::new();
    if p.lost() {
        // The reason names the fix; "DROP" alone says nothing.
        let text = match p.drop_reason {
            Some(r) => format!("DROP {}", app.info.drop_reason(r.into())),
            None => "DROP".to_string(),
        };
        mark.push(Span::styled(
            text,
            Style::new().fg(Color::Red).add_modifier(Modifier::BOLD),
        ));
    } else if p.dropped() {
        // Freed with a reason after a clone reached a socket (a ping's reply): no
        // loss, but its tree shows a kfree_skb, so the list says how it ended.
        mark.push(Span::styled("delivered", Style::new().fg(Color::Green)));
    }
    if p.incomplete() {
        if !mark.is_empty() {
            mark.push(Span::raw(" "));
        }
        mark.push(Span::styled("INCOMPLETE", Style::new().fg(Color::Yellow)));
    }
    vec![
        // Counter IDs (top bit set, with --payload-id) have ten digits: the column is as
        // wide as the widest ID on screen.
        Line::from(app.info.packet_label(p.id)),
        Line::from(host_path(p, &app.info)),
        Line::from(app.time_text(p.first_ts, true)),
        Line::from(p.cpu.to_string()),
        Line::from(dev_path(p, &app.info)),
        Line::from(netns),
        Line::from(flow_text(p)),
        Line::from(p.nodes.len().to_string()),
        Line::from(human_ns(p.duration())),
        Line::from(mark),
    ]
}
