//! Details of the selected call.

use ratatui::layout::Rect;
use ratatui::text::Line;
use ratatui::widgets::{Paragraph, Wrap};
use ratatui::Frame;

use super::pane;
use crate::app::App;
use crate::format::{ctx_name, dev_text, fields_text, human_ns, returned};
use crate::model::node_flags::*;

pub fn draw(f: &mut Frame, app: &mut App, area: Rect) {
    let block = pane(" Details ".into(), false);
    let (Some(slot), Some(n)) = (app.selected_slot(), app.selected_node()) else {
        f.render_widget(Paragraph::new("").block(block), area);
        return;
    };
    let p = app.model.packet(slot);
    let node = &p.nodes[n as usize];
    let info = &app.info;
    let func = info.functions.get(node.func as usize);
    let mut lines = vec![
        format!("function  {}", info.func_name(node.func)),
        format!(
            "module    {}",
            func.map_or("?".into(), |f| f.origin.to_string())
        ),
        format!(
            "skb arg   {}",
            func.map_or("?".into(), |f| {
                if f.origin == vrft_events::Origin::Tracepoint {
                    "-".into()
                } else {
                    format!("#{} of {}", f.skb_arg, f.nargs)
                }
            })
        ),
        format!(
            "cpu {}  {}  tid {}  clone {}",
            node.cpu,
            ctx_name(node.ctx),
            node.tid,
            node.clone
        ),
        format!("entry     +{:.3} us", (node.ts - p.first_ts) as f64 / 1e3),
    ];
    lines.push(match node.duration() {
        Some(d) => format!("duration  {}", human_ns(d)),
        None if node.has(TRACEPOINT) => "duration  - (tracepoint)".into(),
        None if node.has(NO_ENTRY) => "duration  ? (exit without entry)".into(),
        None if node.has(LOST_EXIT) => "duration  ? (exit lost)".into(),
        None if node.has(TOO_DEEP) => "duration  ? (deeper than the call stack)".into(),
        None => "duration  ? (still running)".into(),
    });
    if node.has(DROP) {
        lines.push(format!("drop      {}", info.drop_reason(node.ret)));
    } else if node.has(EXITED) && !node.has(TRACEPOINT) {
        match returned(info, node) {
            Some(v) => lines.push(format!("return    {v} ({:#x})", node.ret)),
            None => lines.push("return    void".to_string()),
        }
    }
    lines.push(format!("device    {}", dev_text(info, p.dev(node))));
    if let Some((_, h)) = p.headers().iter().find(|(i, _)| *i == n) {
        let text = crate::headers::summary(h).unwrap_or_else(|| "unreadable".into());
        lines.push(format!("headers   {text}"));
    }
    if let Some((_, t)) = p.task().filter(|(i, _)| *i == n) {
        lines.push(format!("process   {} (pid {})", t.comm, t.pid));
    }
    lines.push(format!("len       {}", node.len));
    let fields = fields_text(p, info, node);
    if !fields.is_empty() {
        lines.push(format!("fields    {fields}"));
    }
    let marks: Vec<&str> = [
        (FIRST_SEEN, "first seen"),
        (FREED, "freed"),
        (DROP, "drop"),
        (NO_ENTRY, "no entry"),
        (LOST_EXIT, "no exit"),
        (TOO_DEEP, "too deep"),
    ]
    .iter()
    .filter(|(b, _)| node.has(*b))
    .map(|(_, s)| *s)
    .collect();
    if !marks.is_empty() {
        lines.push(format!("flags     {}", marks.join(", ")));
    }
    let lines: Vec<Line> = lines.into_iter().map(Line::from).collect();
    f.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .block(block),
        area,
    );
}
