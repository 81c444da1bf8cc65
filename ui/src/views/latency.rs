//! Latency per hop: the selected packet's stages on each device it crossed, then every
//! stage across the shown packets, grouped by the kind of hop, with percentiles and a
//! histogram. Enter on a percentile goes to a packet that took that long.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::Line as TextLine;
use ratatui::widgets::{Row, Table};
use ratatui::Frame;

use super::columns::{Fitted, Step};
use super::{body, pane, scroll, selected_style};
use crate::app::App;
use crate::format::{dev_text, human_ns};
use crate::latency::{packet_lines, stage_name, Line, BUCKETS};

const SPACING: u16 = 1;

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
    if focused {
        app.page = height.max(1);
    }
    app.lat_hop_sel = app.lat_hop_sel.min(lines.len().saturating_sub(1));
    app.lat_hop_offset = scroll(app.lat_hop_sel, app.lat_hop_offset, height, lines.len());
    let first_ts = app
        .selected_slot()
        .map_or(0, |s| app.model.packet(s).first_ts);
    let rel = |ts: u64| format!("+{}", human_ns(ts.saturating_sub(first_ts)));
    let bold = Style::new().add_modifier(Modifier::BOLD);
    let visible = app.lat_hop_offset..(app.lat_hop_offset + height).min(lines.len());
    let cells: Vec<Vec<TextLine<'static>>> = lines[visible.clone()]
        .iter()
        .map(|&(h, stage)| {
            let hop = &hops[h];
            let (texts, style) = match stage {
                None => (
                    [
                        format!("hop {}  {}", h + 1, dev_text(&app.info, hop.dev)),
                        hop.kind.name().to_string(),
                        rel(hop.start),
                        human_ns(hop.end - hop.start),
                    ],
                    bold,
                ),
                Some(i) => {
                    let (a, b) = (hop.bounds[i], hop.bounds[i + 1]);
                    (
                        [
                            format!("    {}", stage_name(a.group, b.group)),
                            String::new(),
                            rel(a.ts),
                            human_ns(b.ts - a.ts),
                        ],
                        Style::new(),
                    )
                }
            };
            texts
                .into_iter()
                .map(|t| TextLine::from(t).style(style))
                .collect()
        })
        .collect();
    let headers: Vec<String> = ["HOP / STAGE", "KIND", "AT", "TOOK"]
        .map(String::from)
        .to_vec();
    let steps = [Step::Squeeze(0), Step::Drop(1)];
    let fitted = Fitted::new(&headers, &cells, &[20], &steps, inner.width, SPACING);
    let rows: Vec<Row> = cells
        .into_iter()
        .zip(visible)
        .map(|(row, k)| {
            let row = Row::new(fitted.cells(row));
            if focused && k == app.lat_hop_sel {
                row.style(selected_style(true))
            } else {
                row
            }
        })
        .collect();
    f.render_widget(block, area);
    f.render_widget(
        Table::new(rows, fitted.constraints())
            .header(Row::new(fitted.header(&headers)).style(bold))
            .column_spacing(SPACING),
        inner,
    );
}

/// Every stage across the shown packets, by kind of hop.
fn draw_across(f: &mut Frame, app: &mut App, area: Rect) {
    let focused = !app.lat_packet_focus;
    let (sel, col) = (app.lat_sel, app.lat_col);
    let offset = app.lat_offset;
    let block_inner = pane(String::new(), false).inner(area);
    let height = body(block_inner).height as usize;
    if !app.lat_packet_focus {
        app.page = height.max(1);
    }
    let lat = app.latency();
    let lines = lat.lines();
    let sel = sel.min(lines.len().saturating_sub(1));
    let offset = scroll(sel, offset, height, lines.len());
    let opt = |v: Option<u64>| v.map_or("-".to_string(), human_ns);
    let bold = Style::new().add_modifier(Modifier::BOLD);
    let visible = offset..(offset + height).min(lines.len());
    let cells: Vec<Vec<TextLine<'static>>> = lines[visible.clone()]
        .iter()
        .zip(visible.clone())
        .map(|(&line, k)| {
            let Some(stage) = lat.stage(line) else {
                let Line::Kind(i) = line else {
                    unreachable!("only headings have no stage")
                };
                let ks = &lat.kinds[i];
                // N of a heading: its hops with a stage (as the whole-hop line says).
                let head = format!(
                    "{}: {} hops, {} packets",
                    ks.kind.name(),
                    ks.hops,
                    ks.packets
                );
                return vec![
                    TextLine::from(head).style(bold),
                    TextLine::from(ks.total.samples.len().to_string()).style(bold),
                ];
            };
            let mut row = vec![
                TextLine::from(format!("  {}", stage.name)),
                TextLine::from(stage.samples.len().to_string()),
            ];
            for (c, &(q, _)) in App::LATENCY_QUANTILES.iter().enumerate() {
                let cell = TextLine::from(opt(stage.percentile(q)));
                // The selected percentile is what Enter jumps to.
                row.push(if focused && k == sel && c == col {
                    cell.style(selected_style(true))
                } else {
                    cell
                });
            }
            row.push(TextLine::from(sparkline(&stage.histogram())));
            row
        })
        .collect();
    let title = format!(
        " Across {} shown packets ({} with a stage), by kind of hop: j/k stage, h/l percentile, Enter: a packet that took that long ",
        lat.packets, lat.contributed
    );
    let mut headers = vec!["STAGE".to_string(), "N".into()];
    headers.extend(App::LATENCY_QUANTILES.iter().map(|(_, l)| l.to_string()));
    headers.push(format!("HISTOGRAM {}..{}", BUCKETS[0], BUCKETS[7]));
    // Narrow terminals lose the histogram first, then the P90 column.
    let steps = [Step::Drop(6), Step::Squeeze(0), Step::Drop(3)];
    let fitted = Fitted::new(&headers, &cells, &[24], &steps, block_inner.width, SPACING);
    let rows: Vec<Row> = cells
        .into_iter()
        .zip(visible)
        .map(|(row, k)| {
            let row = Row::new(fitted.cells(row));
            if focused && k == sel {
                row.style(Style::new().add_modifier(Modifier::REVERSED))
            } else {
                row
            }
        })
        .collect();
    let table = Table::new(rows, fitted.constraints())
        .header(Row::new(fitted.header(&headers)).style(bold))
        .column_spacing(SPACING)
        .block(pane(title, focused));
    app.lat_sel = sel;
    app.lat_offset = offset;
    f.render_widget(table, area);
}
