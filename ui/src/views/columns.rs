//! Table columns sized from what they hold: every column gets the width of its widest cell
//! among the rows on screen (and its header) when the terminal has room; when it has not,
//! the view's own order of steps leaves columns out or squeezes them, one step at a time,
//! until the table fits. Squeezed columns get back what is left, the one squeezed last
//! first; a cell is cut (with `…`) only
//! when its column really got less than it needs.

use ratatui::layout::Constraint;
use ratatui::text::{Line, Span};
use ratatui::widgets::Cell;

/// How wide one column's content is.
#[derive(Clone, Debug)]
pub struct Column {
    /// Widest of the header and the cells to draw.
    pub natural: u16,
    /// Narrowest a [`Step::Squeeze`] may make it (never wider than `natural`).
    pub floor: u16,
}

impl Column {
    /// A column of `cells` (the rows to draw); `floor` is how narrow it may get.
    pub fn new<'a>(header: &str, cells: impl Iterator<Item = &'a Line<'a>>, floor: u16) -> Self {
        let widest = cells.map(Line::width).max().unwrap_or(0);
        let natural = widest.max(header.chars().count()) as u16;
        Column {
            natural,
            floor: floor.min(natural),
        }
    }
}

/// What a view gives up, in its order of preference, when its columns do not fit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// Leave the column out.
    Drop(usize),
    /// Let the column shrink to its floor (it gets back what is left over).
    Squeeze(usize),
}

/// Widths of `cols` in `width` terminal columns with `spacing` between columns; `None` for
/// a column left out. Applies `steps` in order only as far as needed.
pub fn fit(cols: &[Column], width: u16, spacing: u16, steps: &[Step]) -> Vec<Option<u16>> {
    let mut shown = vec![true; cols.len()];
    let mut squeezed = vec![false; cols.len()];
    // In the order they were squeezed: the last one squeezed is the one given up last.
    let mut order = Vec::new();
    let need = |shown: &[bool], squeezed: &[bool]| -> u32 {
        let mut n = 0u32;
        let mut count = 0u32;
        for (i, c) in cols.iter().enumerate() {
            if shown[i] {
                n += u32::from(if squeezed[i] { c.floor } else { c.natural });
                count += 1;
            }
        }
        n + count.saturating_sub(1) * u32::from(spacing)
    };
    for &step in steps {
        if need(&shown, &squeezed) <= u32::from(width) {
            break;
        }
        match step {
            Step::Drop(i) => shown[i] = false,
            Step::Squeeze(i) => {
                squeezed[i] = true;
                order.push(i);
            }
        }
    }
    let mut widths: Vec<Option<u16>> = cols
        .iter()
        .enumerate()
        .map(|(i, c)| shown[i].then_some(if squeezed[i] { c.floor } else { c.natural }))
        .collect();
    // What is left goes back to the squeezed columns, up to their natural widths, the one
    // squeezed last (the view's most important) first: at 80 columns the flow summary is
    // whole before the interface path gets a character back.
    let mut left = u32::from(width).saturating_sub(need(&shown, &squeezed));
    for &i in order.iter().rev() {
        let Some(w) = widths[i].as_mut() else {
            continue;
        };
        let add = u32::from(cols[i].natural - *w).min(left);
        *w += add as u16;
        left -= add;
    }
    widths
}

/// A table's columns fitted to a width: build it from the header and the rows to draw,
/// then turn each row into cells of those widths.
pub struct Fitted {
    widths: Vec<Option<u16>>,
}

impl Fitted {
    /// `floors[c]`: how narrow column `c` may be squeezed; `steps`: see [`fit`].
    pub fn new(
        headers: &[String],
        rows: &[Vec<Line<'static>>],
        floors: &[u16],
        steps: &[Step],
        width: u16,
        spacing: u16,
    ) -> Self {
        let cols: Vec<Column> = (0..headers.len())
            .map(|c| {
                let cells = rows.iter().filter_map(|r| r.get(c));
                Column::new(&headers[c], cells, floors.get(c).copied().unwrap_or(0))
            })
            .collect();
        Fitted {
            widths: fit(&cols, width, spacing, steps),
        }
    }

    /// The cells of the columns shown, cut to their widths.
    pub fn cells(&self, row: Vec<Line<'static>>) -> Vec<Cell<'static>> {
        row.into_iter()
            .zip(&self.widths)
            .filter_map(|(line, w)| w.map(|w| Cell::from(clip(line, w))))
            .collect()
    }

    /// The header's cells.
    pub fn header(&self, headers: &[String]) -> Vec<Cell<'static>> {
        self.cells(headers.iter().map(|h| Line::from(h.clone())).collect())
    }

    pub fn constraints(&self) -> Vec<Constraint> {
        self.widths
            .iter()
            .flatten()
            .map(|&w| Constraint::Length(w))
            .collect()
    }

    /// Gives the last shown column whatever is left of `width` (text that is cut rather
    /// than wrapped, like a reason).
    pub fn widen_last(&mut self, width: u16, spacing: u16) {
        let used: u16 = self.widths.iter().flatten().map(|w| w + spacing).sum();
        if let Some(w) = self.widths.iter_mut().rev().flatten().next() {
            *w += (width + spacing).saturating_sub(used);
        }
    }
}

/// `line` cut to `width` columns, its last visible character replaced by `…` when cut.
pub fn clip(line: Line<'static>, width: u16) -> Line<'static> {
    let width = usize::from(width);
    if line.width() <= width {
        return line;
    }
    let mut room = width.saturating_sub(1);
    let mut spans = Vec::new();
    for span in line.spans {
        if room == 0 {
            break;
        }
        let text: String = span.content.chars().take(room).collect();
        room -= text.chars().count();
        spans.push(Span::styled(text, span.style));
    }
    if width > 0 {
        spans.push(Span::raw("…"));
    }
    Line::from(spans).style(line.style)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn col(natural: u16, floor: u16) -> Column {
        Column { natural, floor }
    }

    #[test]
    fn natural_widths_when_they_fit() {
        let cols = [col(3, 3), col(20, 8), col(10, 4)];
        assert_eq!(
            fit(&cols, 40, 1, &[Step::Drop(0)]),
            [Some(3), Some(20), Some(10)]
        );
    }

    #[test]
    fn steps_apply_in_order_and_only_as_far_as_needed() {
        let cols = [col(3, 3), col(20, 8), col(10, 4), col(5, 5)];
        let steps = [Step::Drop(3), Step::Squeeze(1), Step::Drop(2)];
        // 3+20+10+5 + 3 spacing = 41: dropping column 3 is enough at 36.
        assert_eq!(
            fit(&cols, 36, 1, &steps),
            [Some(3), Some(20), Some(10), None]
        );
        // At 30 column 1 is squeezed (floor 8) and gets back what is left: 30-3-10-2 = 15.
        assert_eq!(
            fit(&cols, 30, 1, &steps),
            [Some(3), Some(15), Some(10), None]
        );
        // At 15 column 2 goes too and column 1 has 11.
        assert_eq!(fit(&cols, 15, 1, &steps), [Some(3), Some(11), None, None]);
    }

    #[test]
    fn the_column_squeezed_last_gets_the_rest_first() {
        let cols = [col(30, 10), col(30, 10)];
        let steps = [Step::Squeeze(0), Step::Squeeze(1)];
        // Squeezing the first is enough at 41: the second keeps its width.
        assert_eq!(fit(&cols, 41, 1, &steps), [Some(10), Some(30)]);
        // Both squeezed: the second (given up last) is whole before the first grows.
        assert_eq!(fit(&cols, 31, 1, &steps), [Some(10), Some(20)]);
        assert_eq!(fit(&cols, 51, 1, &steps), [Some(20), Some(30)]);
    }

    #[test]
    fn clip_marks_the_cut() {
        assert_eq!(clip(Line::from("vx0>a0>a1"), 9).to_string(), "vx0>a0>a1");
        assert_eq!(clip(Line::from("vx0>a0>a1>b1"), 9).to_string(), "vx0>a0>a…");
        let two = Line::from(vec![Span::raw("DROP "), Span::raw("NO_SOCKET")]);
        assert_eq!(clip(two, 8).to_string(), "DROP NO…");
    }
}
