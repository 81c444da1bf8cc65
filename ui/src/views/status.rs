//! The status line and the footer (key hints, or the input bar while typing).

use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

use crate::app::{App, Mode, Pane, Prompt, View};
use crate::budget::human_bytes;
use crate::query::ParseError;

fn count(label: &str, n: u64) -> Span<'static> {
    let style = if n > 0 {
        Style::new()
            .fg(Color::White)
            .bg(Color::Red)
            .add_modifier(Modifier::BOLD)
    } else {
        Style::new()
    };
    Span::styled(format!("{label} {n}"), style)
}

/// One part of the status line: its forms from the longest to the shortest; an empty form
/// leaves the part out.
struct Part {
    forms: Vec<Vec<Span<'static>>>,
    /// Text the user typed (filters): cut with `…` when nothing else can give way.
    elastic: bool,
}

impl Part {
    fn new(forms: Vec<Vec<Span<'static>>>) -> Self {
        Part {
            forms,
            elastic: false,
        }
    }

    fn elastic(span: Span<'static>) -> Self {
        Part {
            forms: vec![vec![span]],
            elastic: true,
        }
    }
}

fn width(spans: &[Span]) -> usize {
    spans.iter().map(Span::width).sum()
}

/// The parts in display order, and the order in which they give way (indices; each turn
/// moves one part to its next shorter form). The loss counters only ever get shorter
/// labels: a narrow terminal must not hide a loss.
fn parts(app: &App) -> (Vec<Part>, Vec<usize>, Option<usize>) {
    let (attached, skipped, failed) = app.info.probe_counts();
    let s = |t: String| vec![Span::raw(t)];
    let mut parts = vec![
        Part::new(vec![vec![Span::styled(
            if app.live { " LIVE " } else { " REPLAY " },
            Style::new()
                .bg(if app.live { Color::Green } else { Color::Blue })
                .fg(Color::Black),
        )]]),
        Part::new(vec![
            s(format!(" {} ", app.info.backend.map_or("-", |b| b.name()))),
            vec![],
        ]),
    ];
    // A damaged recording says so before anything it shows can be trusted.
    if let Some(n) = &app.notice {
        parts.push(Part::elastic(Span::styled(
            n.clone(),
            Style::new()
                .fg(Color::White)
                .bg(Color::Red)
                .add_modifier(Modifier::BOLD),
        )));
    }
    let probes = parts.len();
    parts.push(Part::new(vec![
        s(format!(
            "probes {attached}/{skipped}/{failed} att/skip/fail"
        )),
        s(format!("probes {attached}/{skipped}/{failed}")),
        vec![],
    ]));
    let (total, shown) = (app.packets_total(), app.shown.len());
    let packets = parts.len();
    parts.push(Part::new(vec![
        s(format!("packets {total} shown {shown}")),
        s(format!("pkts {shown}/{total}")),
    ]));
    // What the list leaves out by kind (netlink, unix, ...) right after the counts.
    let hidden = app.hidden_kinds().map(|h| {
        let n: usize = app.kind_counts()[1..].iter().sum();
        parts.push(Part::new(vec![
            s(format!("{h} (a)")),
            s(format!("{n} hidden (a)")),
            vec![],
        ]));
        parts.len() - 1
    });
    // The answer to the last key first, then the filters right after the counts they
    // explain: they are cut only when nothing else can give way. A message that does not
    // fit moves to the footer instead (see `message_moves_down`).
    let message = app.message.as_ref().map(|m| {
        parts.push(Part::new(vec![
            vec![Span::styled(m.clone(), Style::new().fg(Color::Yellow))],
            vec![],
        ]));
        parts.len() - 1
    });
    if let Some(q) = &app.filter {
        parts.push(Part::elastic(Span::styled(
            format!("filter: {}", q.text()),
            Style::new().fg(Color::Cyan),
        )));
    }
    let capture = (!app.info.filter.is_empty()).then(|| {
        parts.push(Part::new(vec![
            s(format!("capture: {}", app.info.filter)),
            vec![],
        ]));
        parts.len() - 1
    });
    let rate = parts.len();
    // A rate means something only while events arrive; a replay shows how many there are.
    parts.push(Part::new(vec![
        s(if app.live {
            format!("{:.0} ev/s", app.stats.events_per_sec)
        } else {
            format!("{} events", app.model.events())
        }),
        vec![],
    ]));
    // The budget in use, and what it cost: evictions are never left out, like losses.
    let mut budget = Vec::new();
    if let Some(b) = &app.memory {
        budget.push(parts.len());
        // The resident set against the limit, and what of it the packets hold.
        parts.push(Part::new(vec![
            s(format!(
                "mem {}/{} (packets {})",
                human_bytes(b.rss),
                human_bytes(b.limit),
                human_bytes(app.model.bytes() as u64)
            )),
            s(format!(
                "mem {}/{}",
                human_bytes(b.rss),
                human_bytes(b.limit)
            )),
            s(format!("mem {}", human_bytes(b.rss))),
            vec![],
        ]));
    }
    let (evicted, _) = app.model.evicted();
    if evicted > 0 {
        budget.push(parts.len());
        let style = Style::new().fg(Color::Black).bg(Color::Yellow);
        parts.push(Part::new(vec![
            vec![Span::styled(format!("evicted {evicted}"), style)],
            vec![Span::styled(format!("evict {evicted}"), style)],
        ]));
    }
    let st = &app.stats;
    let losses = parts.len();
    // The loss counters, in full and with short labels: never dropped, only shortened.
    let losses_as = |sep: &'static str, [lost, rec, ovf]: [&'static str; 3]| {
        vec![
            count(lost, st.lost),
            Span::raw(sep),
            count(rec, st.recursion_misses),
            Span::raw(sep),
            count(ovf, st.stack_overflows),
        ]
    };
    parts.push(Part::new(vec![
        losses_as(" | ", ["lost", "recursion", "overflow"]),
        losses_as(" ", ["lost", "rec", "ovf"]),
    ]));
    // Losses that are never expected get room only when they happen.
    let mut rare = Vec::new();
    for (label, short, n) in [
        ("no stack", "nostk", st.stack_missing),
        ("undecodable", "undec", st.malformed),
    ] {
        if n > 0 {
            rare.push(parts.len());
            parts.push(Part::new(vec![
                vec![count(label, n)],
                vec![count(short, n)],
            ]));
        }
    }
    let mut order = vec![rate, 1, probes, probes];
    order.extend(budget.iter().chain(&budget));
    order.extend(capture);
    order.extend(hidden);
    order.extend(hidden);
    order.extend(message);
    order.extend([losses, packets]);
    order.extend(rare);
    (parts, order, message)
}

/// The status line's spans at `width`, and whether the message (if any) is among them.
fn status_line(app: &App, cols: u16) -> (Vec<Span<'static>>, bool) {
    let (mut parts, order, message) = parts(app);
    let mut form = vec![0usize; parts.len()];
    let sep = 3; // " | "
                 // The mode badge and the backend (parts 0 and 1) need no bar before them.
    let total = |form: &[usize], parts: &[Part]| -> usize {
        parts
            .iter()
            .zip(form)
            .enumerate()
            .map(|(k, (p, &f))| match width(&p.forms[f]) {
                0 => 0,
                w if k >= 2 => w + sep,
                w => w,
            })
            .sum()
    };
    let room = usize::from(cols);
    for &i in &order {
        if total(&form, &parts) <= room {
            break;
        }
        if form[i] + 1 < parts[i].forms.len() {
            form[i] += 1;
        }
    }
    // A later step may have freed more than needed: give back what still fits, the most
    // valued part first.
    for &i in order.iter().rev() {
        if form[i] > 0 {
            form[i] -= 1;
            if total(&form, &parts) > room {
                form[i] += 1;
            }
        }
    }
    // Still too wide: cut what was typed or said, the longest first, down to a stub that
    // says something is there.
    const STUB: usize = 4;
    let mut over = total(&form, &parts).saturating_sub(room);
    while over > 0 {
        let Some(i) = (0..parts.len())
            .filter(|&i| parts[i].elastic && width(&parts[i].forms[0]) > STUB)
            .max_by_key(|&i| width(&parts[i].forms[0]))
        else {
            break;
        };
        let w = width(&parts[i].forms[0]);
        let cut = over.min(w - STUB);
        let span = parts[i].forms[0][0].clone();
        let text: String = span.content.chars().take(w - cut - 1).collect();
        parts[i].forms[0] = vec![Span::styled(format!("{text}…"), span.style)];
        over -= cut;
    }
    let mut spans = Vec::new();
    for (k, (p, &f)) in parts.iter().zip(&form).enumerate() {
        let part = &p.forms[f];
        if part.is_empty() {
            continue;
        }
        if k >= 2 {
            spans.push(Span::raw(" | "));
        }
        spans.extend(part.iter().cloned());
    }
    let shown = message.is_some_and(|i| form[i] == 0);
    (spans, shown)
}

/// The status line: every part in its longest form that lets the whole line fit.
pub fn draw_status(f: &mut Frame, app: &mut App, area: Rect) {
    let (spans, _) = status_line(app, area.width);
    f.render_widget(
        Paragraph::new(Line::from(spans)).style(Style::new().add_modifier(Modifier::REVERSED)),
        area,
    );
}

/// The message did not fit on the status line: the footer shows it instead of key hints.
fn message_moves_down(app: &App, width: u16) -> bool {
    app.message.is_some() && !status_line(app, width).1
}

pub fn draw_footer(f: &mut Frame, app: &mut App, area: Rect) {
    let line = match &app.mode {
        Mode::Input(prompt) => {
            let label = match prompt {
                Prompt::Filter => "filter: ",
                Prompt::Search => "search: ",
                Prompt::Jump => "go to packet: ",
            };
            let error = app.input_error.as_ref().filter(|_| *prompt == Prompt::Filter);
            let mut spans = vec![Span::styled(label, Style::new().add_modifier(Modifier::BOLD))];
            let width = area.width.saturating_sub(label.len() as u16);
            let (at, line) = input_line(app, width, error);
            spans.extend(line);
            if let Some(e) = error {
                spans.push(Span::styled(
                    format!("  {}", e.message),
                    Style::new().fg(Color::Red),
                ));
            } else {
                spans.push(Span::raw("  Enter apply  Esc cancel  Up/Down history"));
            }
            f.set_cursor_position((area.x + (label.len() + at) as u16, area.y));
            Line::from(spans)
        }
        Mode::ConfirmQuit => Line::styled(
            "Quit and detach the probes? y/q/Enter: quit, any other key: stay",
            Style::new().fg(Color::Yellow).add_modifier(Modifier::BOLD),
        ),
        Mode::SetMark => Line::raw("mark: press a letter a-z"),
        Mode::JumpMark => Line::raw("jump to mark: press a letter a-z, or ' for the previous position"),
        Mode::Help => Line::raw("j/k PgDn/PgUp scroll the help, any other key closes it"),
        Mode::Normal if message_moves_down(app, area.width) => Line::styled(
            app.message.clone().unwrap_or_default(),
            Style::new().fg(Color::Yellow),
        ),
        Mode::Normal => Line::raw(match (app.view, app.pane) {
            (View::Packets, Pane::List) => {
                "q quit  ? help  j/k move  Enter/Tab tree  J/K packet  : go to  / search  f filter  = flow  a kinds  F follow  m/' marks  2 latency  3 probes"
            }
            (View::Packets, Pane::Tree) => {
                "q quit  ? help  j/k move  Enter fold  E/C all  u parent  L longest  J/K packet  / n N search  f filter  Tab list"
            }
            (View::Latency, _) => "q quit  ? help  j/k stage  h/l percentile  Enter its packet  Tab this packet's hops  J/K packet  1 packets  3 probes  f filter",
            (View::Probes, _) => "q quit  ? help  j/k move  s sort column  S reverse  / filter  1 packets  2 latency",
        }),
    };
    f.render_widget(Paragraph::new(line), area);
}

/// The input line cut to `width` columns around the cursor, as spans, and the cursor's column.
/// While the filter is invalid the text is red and the token the error is about white on red;
/// the cursor cell is reversed (a blank past the end).
fn input_line(app: &App, width: u16, error: Option<&ParseError>) -> (usize, Vec<Span<'static>>) {
    let text = app.input.text();
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    let cursor = app.input.cursor().min(chars.len());
    // Keep the cursor on screen: scroll by whole characters (filters are ASCII).
    let width = usize::from(width.max(1));
    let skip = (cursor + 1).saturating_sub(width);
    let style_at = |byte: usize| match error {
        Some(e) if e.span.contains(&byte) => Style::new()
            .fg(Color::White)
            .bg(Color::Red)
            .add_modifier(Modifier::BOLD),
        Some(_) => Style::new().fg(Color::Red),
        None => Style::new(),
    };
    let mut spans: Vec<Span<'static>> = Vec::new();
    for i in skip..chars.len().min(skip + width).max(cursor + 1) {
        let (c, style) = match chars.get(i) {
            Some(&(byte, c)) => (c, style_at(byte)),
            None => (' ', style_at(text.len())),
        };
        let style = if i == cursor {
            style.add_modifier(Modifier::REVERSED)
        } else {
            style
        };
        match spans.last_mut() {
            Some(last) if last.style == style => last.content.to_mut().push(c),
            _ => spans.push(Span::styled(c.to_string(), style)),
        }
    }
    (cursor - skip, spans)
}
