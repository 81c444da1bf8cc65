//! Latency per hop: the selected packet's stages on each device it crossed, then every
//! stage across the shown packets, grouped by the kind of hop, with percentiles and a
//! histogram. Enter on a percentile goes to a packet that took that long.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::widgets::{Cell, Row, Table};
use ratatui::Frame;

use super::{body, pane, scroll, selected_style};
use crate::app::App;
use crate::format::{dev_text, human_ns};
use crate::latency::{packet_lines, Line, BUCKETS};

const BARS: [char; 9] = [' ', '▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];

/// One bar per bucket, scaled to the fullest bucket.
fn sparkline(h: &[u64; 8]) -> String {
    let max = h.iter().copied().max().unwrap_or(0);
    h.iter()
        .map(|&c| match (c, max) {
            (0, _) => '·',
            (c, m) => BARS[((c * 8).div_ceil(m)) as usize],
        })
        .collect()
}

pub fn draw(f: &mut Frame, app: &mut App, area: Rect) {
    let hops_len = packet_lines(&app.selected_hops()).len() as u16;
    // The packet's breakdown takes what it needs, up to half the view (two fifths on
    // short terminals, where the table across packets needs its rows too).
    let most = if area.height < 40 {
        area.height * 2 / 5
    } else {
        area.height / 2
    };
    let top = (hops_len + 3).clamp(4, most.max(4));
    let [packet, across] =
        Layout::vertical([Constraint::Length(top), Constraint::Min(3)]).areas(area);
    draw_packet(f, app, packet);
    draw_across(f, app, across);
}

/// The selected packet: each hop (device and namespace, its kind, when it started and how
/// long it took), then its stages.
fn draw_packet(f: &mut Frame, app: &mut App, area: Rect) {
    let focused = app.lat_packet_focus;
    let hops = app.selected_hops();
    let lines = packet_lines(&hops);
    let title = match app.selected_slot() {
        Some(s) => {
            let p = app.model.packet(s);
            format!(
                " Packet {} per hop: {} hops (Tab: select, Enter: its tree) ",
                p.id,
                hops.len()
            )
        }
        None => " No packet selected ".into(),
    };
    let block = pane(title, focused);
    let inner = block.inner(area);
    let height = body(inner).height as usize;
    app.lat_hop_sel = app.lat_hop_sel.min(lines.len().saturating_sub(1));
    app.lat_hop_offset = scroll(app.lat_hop_sel, app.lat_hop_offset, height, lines.len());
    let first_ts = app
        .selected_slot()
        .map_or(0, |s| app.model.packet(s).first_ts);
    let rel = |ts: u64| format!("+{}", human_ns(ts.saturating_sub(first_ts)));
    let rows: Vec<Row> = lines
        .iter()
        .enumerate()
        .skip(app.lat_hop_offset)
        .take(height)
        .map(|(k, &(h, stage))| {
            let hop = &hops[h];
            let row = match stage {
                None => Row::new(vec![
                    format!("hop {}  {}", h + 1, dev_text(&app.info, hop.dev)),
                    hop.kind.name().to_string(),
                    rel(hop.start),
                    human_ns(hop.end - hop.start),
                ])
                .style(Style::new().add_modifier(Modifier::BOLD)),
                Some(i) => {
                    let (a, b) = (hop.bounds[i], hop.bounds[i + 1]);
                    Row::new(vec![
                        format!(
                            "    {} -> {}",
                            crate::latency::GROUPS[a.group as usize].0,
                            crate::latency::GROUPS[b.group as usize].0
                        ),
                        String::new(),
                        rel(a.ts),
                        human_ns(b.ts - a.ts),
                    ])
                }
            };
            if focused && k == app.lat_hop_sel {
                row.style(selected_style(true))
            } else {
                row
            }
        })
        .collect();
    let header = Row::new(vec!["HOP / STAGE", "KIND", "AT", "TOOK"])
        .style(Style::new().add_modifier(Modifier::BOLD));
    let widths = [
        Constraint::Min(30),
        Constraint::Length(28),
        Constraint::Length(12),
        Constraint::Length(11),
    ];
    f.render_widget(block, area);
    f.render_widget(Table::new(rows, widths).header(header), inner);
}

/// Every stage across the shown packets, by kind of hop.
fn draw_across(f: &mut Frame, app: &mut App, area: Rect) {
    let focused = !app.lat_packet_focus;
    let (sel, col) = (app.lat_sel, app.lat_col);
    let offset = app.lat_offset;
    let block_inner = pane(String::new(), false).inner(area);
    let height = body(block_inner).height as usize;
    let lat = app.latency();
    let lines = lat.lines();
    let sel = sel.min(lines.len().saturating_sub(1));
    let offset = scroll(sel, offset, height, lines.len());
    let opt = |v: Option<u64>| v.map_or("-".to_string(), human_ns);
    let rows: Vec<Row> = lines
        .iter()
        .enumerate()
        .skip(offset)
        .take(height)
        .map(|(k, &line)| {
            let selected = focused && k == sel;
            let Some(stage) = lat.stage(line) else {
                let Line::Kind(i) = line else { unreachable!() };
                let ks = &lat.kinds[i];
                // N of a heading: its hops with a stage (as the whole-hop line says).
                let row = Row::new(vec![
                    Cell::from(format!(
                        "{}: {} hops in {} packets",
                        ks.kind.name(),
                        ks.hops,
                        ks.packets
                    )),
                    Cell::from(ks.total.samples.len().to_string()),
                ])
                .style(Style::new().add_modifier(Modifier::BOLD));
                return if selected {
                    row.style(selected_style(true))
                } else {
                    row
                };
            };
            let mut cells = vec![
                Cell::from(format!("  {}", stage.name)),
                Cell::from(stage.samples.len().to_string()),
            ];
            for (c, &(q, _)) in App::LATENCY_QUANTILES.iter().enumerate() {
                let cell = Cell::from(opt(stage.percentile(q)));
                // The selected percentile is what Enter jumps to.
                cells.push(if selected && c == col {
                    cell.style(selected_style(true))
                } else {
                    cell
                });
            }
            cells.push(Cell::from(sparkline(&stage.histogram())));
            let row = Row::new(cells);
            if selected {
                row.style(Style::new().add_modifier(Modifier::REVERSED))
            } else {
                row
            }
        })
        .collect();
    let title = format!(
        " Across {} shown packets ({} with a stage), by kind of hop: j/k stage, h/l percentile, Enter: a packet that took that long ",
        lat.packets, lat.contributed
    );
    let mut header = vec!["STAGE".to_string(), "N".into()];
    header.extend(App::LATENCY_QUANTILES.iter().map(|(_, l)| l.to_string()));
    header.push(format!("HISTOGRAM {}..{}", BUCKETS[0], BUCKETS[7]));
    let widths = [
        Constraint::Min(34),
        Constraint::Length(6),
        Constraint::Length(10),
        Constraint::Length(10),
        Constraint::Length(10),
        Constraint::Length(10),
        Constraint::Length(18),
    ];
    let table = Table::new(rows, widths)
        .header(Row::new(header).style(Style::new().add_modifier(Modifier::BOLD)))
        .block(pane(title, focused));
    app.lat_sel = sel;
    app.lat_offset = offset;
    f.render_widget(table, area);
}
