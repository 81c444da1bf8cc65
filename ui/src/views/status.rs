//! The status line and the footer (key hints, or the input bar while typing).

use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

use crate::app::{App, Mode, Pane, Prompt, View};
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

pub fn draw_status(f: &mut Frame, app: &mut App, area: Rect) {
    let (attached, skipped, failed) = app.info.probe_counts();
    let sep = || Span::raw(" | ");
    let mut spans = vec![
        Span::styled(
            if app.live { " LIVE " } else { " REPLAY " },
            Style::new()
                .bg(if app.live { Color::Green } else { Color::Blue })
                .fg(Color::Black),
        ),
        Span::raw(format!(" {} ", app.info.backend.map_or("-", |b| b.name()))),
    ];
    // A damaged recording says so before anything it shows can be trusted.
    if let Some(n) = &app.notice {
        spans.extend([
            sep(),
            Span::styled(
                n.clone(),
                Style::new()
                    .fg(Color::White)
                    .bg(Color::Red)
                    .add_modifier(Modifier::BOLD),
            ),
        ]);
    }
    spans.extend([
        sep(),
        Span::raw(format!(
            "probes {attached}/{skipped}/{failed} att/skip/fail"
        )),
        sep(),
        Span::raw(format!(
            "packets {} shown {}",
            app.packets_total(),
            app.shown.len()
        )),
    ]);
    // What the list leaves out by kind (netlink, unix, ...) right after the counts.
    if let Some(h) = app.hidden_kinds() {
        spans.push(sep());
        spans.push(Span::raw(format!("{h} (a)")));
    }
    // The answer to the last key first, then the filters right after the counts they
    // explain, so a narrow terminal cuts the rates rather than either.
    if let Some(m) = &app.message {
        spans.push(sep());
        spans.push(Span::styled(m.clone(), Style::new().fg(Color::Yellow)));
    }
    if let Some(q) = &app.filter {
        spans.push(sep());
        spans.push(Span::styled(
            format!("filter: {}", q.text()),
            Style::new().fg(Color::Cyan),
        ));
    }
    if !app.info.filter.is_empty() {
        spans.push(sep());
        spans.push(Span::raw(format!("capture: {}", app.info.filter)));
    }
    spans.extend([
        sep(),
        // A rate means something only while events arrive; a replay shows how many there are.
        Span::raw(if app.live {
            format!("{:.0} ev/s", app.stats.events_per_sec)
        } else {
            format!("{} events", app.model.events())
        }),
        sep(),
        count("lost", app.stats.lost),
        sep(),
        count("recursion", app.stats.recursion_misses),
        sep(),
        count("overflow", app.stats.stack_overflows),
    ]);
    // Losses that are never expected get room only when they happen.
    for (label, n) in [
        ("no stack", app.stats.stack_missing),
        ("undecodable", app.stats.malformed),
    ] {
        if n > 0 {
            spans.extend([sep(), count(label, n)]);
        }
    }
    f.render_widget(
        Paragraph::new(Line::from(spans)).style(Style::new().add_modifier(Modifier::REVERSED)),
        area,
    );
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
        Mode::Help => Line::raw("any key closes the help"),
        Mode::Normal => Line::raw(match (app.view, app.pane) {
            (View::Packets, Pane::List) => {
                "q quit  ? help  j/k move  Enter/Tab tree  J/K packet  : go to  / search  f filter  a kinds  F follow  m/' marks  2 latency  3 probes"
            }
            (View::Packets, Pane::Tree) => {
                "q quit  ? help  j/k move  Enter fold  E/C all  u parent  L longest  J/K packet  / n N search  f filter  Tab list"
            }
            (View::Latency, _) => "q quit  ? help  1 packets  3 probes  f filter (latency covers the shown packets)",
            (View::Probes, _) => "q quit  ? help  j/k move  s sort column  S reverse  1 packets  2 latency",
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
