//! Per-layer latency percentiles and histograms over the shown packets.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::widgets::{Row, Table};
use ratatui::Frame;

use super::pane;
use crate::app::App;
use crate::format::human_ns;
use crate::latency::{Stage, BUCKETS};

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

fn table<'a>(title: String, stages: &'a [Stage]) -> Table<'a> {
    let opt = |v: Option<u64>| v.map_or("-".to_string(), human_ns);
    let rows = stages.iter().map(|s| {
        Row::new(vec![
            s.name.clone(),
            s.samples.len().to_string(),
            opt(s.percentile(50)),
            opt(s.percentile(90)),
            opt(s.percentile(99)),
            opt(s.samples.last().copied()),
            sparkline(&s.histogram()),
        ])
    });
    let header = Row::new(vec![
        "STAGE".to_string(),
        "N".into(),
        "P50".into(),
        "P90".into(),
        "P99".into(),
        "MAX".into(),
        format!("HISTOGRAM {}..{}", BUCKETS[0], BUCKETS[7]),
    ])
    .style(Style::new().add_modifier(Modifier::BOLD));
    Table::new(
        rows,
        [
            Constraint::Length(38),
            Constraint::Length(7),
            Constraint::Length(10),
            Constraint::Length(10),
            Constraint::Length(10),
            Constraint::Length(10),
            Constraint::Min(18),
        ],
    )
    .header(header)
    .block(pane(title, false))
}

pub fn draw(f: &mut Frame, app: &mut App, area: Rect) {
    let lat = app.latency().clone();
    let [rx, tx] = Layout::vertical([
        Constraint::Length(lat.rx.len() as u16 + 3),
        Constraint::Min(3),
    ])
    .areas(area);
    let n = lat.packets;
    f.render_widget(
        table(format!(" Receive latency over {n} shown packets "), &lat.rx),
        rx,
    );
    f.render_widget(
        table(
            format!(" Transmit latency over {n} shown packets "),
            &lat.tx,
        ),
        tx,
    );
}
