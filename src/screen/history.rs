//! Scrollback, stored compactly.
//!
//! A line that leaves the screen is kept as its text plus runs of style, not as cells: a
//! plain 80-column line costs about 140 bytes instead of the 16 bytes per cell of the full
//! width a grid would keep. This is what keeps a pane with 10,000 lines of history near
//! 1.5 MB (tmux: about 6 MB).

use super::cell::{Cell, Style, Width};
use super::grid::Row;
use std::collections::VecDeque;

/// `count` characters of the line's text drawn in `style`; when `wide`, each one takes
/// two columns.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Run {
    pub count: u16,
    pub style: Style,
    pub wide: bool,
}

#[derive(Clone, Debug, PartialEq, Default)]
pub struct Line {
    /// One character per cell (wide characters once, spacers left out).
    text: Box<str>,
    /// Empty when every character is narrow and in the default style.
    runs: Box<[Run]>,
    /// Combining characters by the column of the cell they belong to.
    combining: Box<[(u16, Box<str>)]>,
    pub wrapped: bool,
}

/// One character cell of a line, with what is drawn over it.
#[derive(Clone, Debug, PartialEq)]
pub struct Group {
    pub ch: char,
    pub style: Style,
    pub wide: bool,
    pub combining: Option<Box<str>>,
}

impl Group {
    pub fn width(&self) -> usize {
        if self.wide { 2 } else { 1 }
    }
}

impl Line {
    pub fn from_row(row: &Row) -> Line {
        // Most lines are plain text: kept as just their characters, made in one pass.
        if row.combining.is_empty()
            && let Some(text) = plain_text(row)
        {
            return Line { text, runs: Box::default(), combining: Box::default(), wrapped: row.wrapped };
        }
        // A wrapped row's trailing blanks are real spaces inside a longer line; only a
        // line's true end is trimmed.
        let len = if row.wrapped { row.stored().len() } else { row.content_len() };
        let cells = &row.stored()[..len];
        let mut text = String::with_capacity(len);
        let mut runs: Vec<Run> = Vec::new();
        for cell in cells {
            if cell.width == Width::Spacer {
                continue;
            }
            text.push(cell.ch);
            let wide = cell.width == Width::Wide;
            match runs.last_mut() {
                Some(r) if r.style == cell.style && r.wide == wide && r.count < u16::MAX => r.count += 1,
                _ => runs.push(Run { count: 1, style: cell.style, wide }),
            }
        }
        let combining: Box<[(u16, Box<str>)]> =
            row.combining.iter().filter(|(c, _)| (*c as usize) < len).cloned().collect();
        let plain_runs = runs.iter().all(|r| r.style == Style::default() && !r.wide);
        Line {
            text: text.into_boxed_str(),
            runs: if plain_runs { Box::default() } else { runs.into_boxed_slice() },
            combining,
            wrapped: row.wrapped,
        }
    }

    pub fn to_row(&self, cols: usize) -> Row {
        let mut row = Row::new(cols, Style::default());
        let mut x = 0;
        for g in self.groups() {
            if x + g.width() > cols {
                break;
            }
            let width = if g.wide { Width::Wide } else { Width::Narrow };
            row.set(x, Cell { ch: g.ch, style: g.style, width, combined: false });
            if let Some(extra) = &g.combining {
                for c in extra.chars() {
                    row.push_combining(x, c);
                }
            }
            if g.wide {
                row.set(x + 1, Cell { ch: ' ', style: g.style, width: Width::Spacer, combined: false });
            }
            x += g.width();
        }
        row.wrapped = self.wrapped;
        row
    }

    pub fn groups(&self) -> impl Iterator<Item = Group> + '_ {
        let mut chars = self.text.chars();
        let mut runs = self.runs.iter().copied();
        let mut current = Run { count: 0, style: Style::default(), wide: false };
        let plain = self.runs.is_empty();
        let mut col = 0usize;
        std::iter::from_fn(move || {
            let ch = chars.next()?;
            let (style, wide) = if plain {
                (Style::default(), false)
            } else {
                while current.count == 0 {
                    current = runs.next()?;
                }
                current.count -= 1;
                (current.style, current.wide)
            };
            let combining = self.combining.iter().find(|(c, _)| *c as usize == col).map(|(_, s)| s.clone());
            col += if wide { 2 } else { 1 };
            Some(Group { ch, style, wide, combining })
        })
    }

    pub fn text(&self) -> String {
        if self.combining.is_empty() {
            return self.text.to_string();
        }
        let mut s = String::new();
        for g in self.groups() {
            s.push(g.ch);
            if let Some(extra) = &g.combining {
                s.push_str(extra);
            }
        }
        s
    }

    /// Width in columns.
    pub fn width(&self) -> usize {
        if self.runs.is_empty() {
            self.text.chars().count()
        } else {
            self.runs.iter().map(|r| r.count as usize * if r.wide { 2 } else { 1 }).sum()
        }
    }

    /// Heap bytes this line holds, for memory accounting.
    pub fn heap_bytes(&self) -> usize {
        self.text.len()
            + self.runs.len() * std::mem::size_of::<Run>()
            + self.combining.iter().map(|(_, s)| s.len() + 24).sum::<usize>()
    }
}

thread_local! {
    static SCRATCH: std::cell::RefCell<String> = const { std::cell::RefCell::new(String::new()) };
}

/// The row's text, if every cell is a narrow character in the default style. One pass
/// over the cells into a reused buffer, then one allocation of the exact size: this runs
/// for every line that scrolls into history.
fn plain_text(row: &Row) -> Option<Box<str>> {
    SCRATCH.with_borrow_mut(|s| {
        s.clear();
        let mut end = 0;
        for c in row.stored() {
            if c.style != Style::default() || c.width != Width::Narrow {
                return None;
            }
            s.push(c.ch);
            if c.ch != ' ' {
                end = s.len();
            }
        }
        let len = if row.wrapped { s.len() } else { end };
        Some(Box::from(&s[..len]))
    })
}

/// Builds a `Line` one character cell at a time.
#[derive(Default)]
pub struct LineBuilder {
    text: String,
    runs: Vec<Run>,
    combining: Vec<(u16, Box<str>)>,
    col: usize,
}

impl LineBuilder {
    pub fn push(&mut self, g: Group) {
        self.text.push(g.ch);
        let width = g.width();
        if let Some(extra) = g.combining {
            self.combining.push((self.col as u16, extra));
        }
        match self.runs.last_mut() {
            Some(run) if run.style == g.style && run.wide == g.wide && run.count < u16::MAX => run.count += 1,
            _ => self.runs.push(Run { count: 1, style: g.style, wide: g.wide }),
        }
        self.col += width;
    }

    pub fn width(&self) -> usize {
        self.col
    }

    pub fn finish(self, wrapped: bool) -> Line {
        let plain = self.runs.iter().all(|r| r.style == Style::default() && !r.wide);
        Line {
            text: self.text.into_boxed_str(),
            runs: if plain { Box::default() } else { self.runs.into_boxed_slice() },
            combining: self.combining.into_boxed_slice(),
            wrapped,
        }
    }
}

/// Lines that scrolled off the top of the primary screen, oldest first.
pub struct History {
    lines: VecDeque<Line>,
    limit: usize,
    /// Lines ever pushed, including those dropped at the limit: gives every line a stable
    /// absolute number while the screen scrolls.
    pushed: u64,
}

impl History {
    pub fn new(limit: usize) -> History {
        History { lines: VecDeque::new(), limit, pushed: 0 }
    }

    pub fn push(&mut self, line: Line) {
        self.pushed += 1;
        if self.limit == 0 {
            return;
        }
        if self.lines.len() >= self.limit {
            self.lines.pop_front();
        }
        self.lines.push_back(line);
    }

    pub fn pop_newest(&mut self) -> Option<Line> {
        let line = self.lines.pop_back()?;
        self.pushed -= 1;
        Some(line)
    }

    pub fn len(&self) -> usize {
        self.lines.len()
    }

    pub fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }

    pub fn limit(&self) -> usize {
        self.limit
    }

    pub fn get(&self, i: usize) -> Option<&Line> {
        self.lines.get(i)
    }

    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &Line> + ExactSizeIterator {
        self.lines.iter()
    }

    /// Absolute number of the oldest line kept; the screen's first row is `pushed()`.
    pub fn first_abs(&self) -> u64 {
        self.pushed - self.lines.len() as u64
    }

    pub fn pushed(&self) -> u64 {
        self.pushed
    }

    pub fn clear(&mut self) {
        self.lines.clear();
    }

    /// Takes every line out (for a reflow); `replace` puts the result back.
    pub fn take(&mut self) -> VecDeque<Line> {
        self.pushed -= self.lines.len() as u64;
        std::mem::take(&mut self.lines)
    }

    pub fn replace(&mut self, mut lines: VecDeque<Line>) {
        self.pushed += lines.len() as u64;
        while lines.len() > self.limit {
            lines.pop_front();
        }
        self.lines = lines;
    }

    pub fn heap_bytes(&self) -> usize {
        self.lines.capacity() * std::mem::size_of::<Line>() + self.lines.iter().map(Line::heap_bytes).sum::<usize>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::screen::cell::{Attrs, Color};

    fn row_of(text: &str, cols: usize) -> Row {
        let mut row = Row::new(cols, Style::default());
        for (x, c) in text.chars().enumerate() {
            row.set(x, Cell { ch: c, ..Cell::default() });
        }
        row
    }

    #[test]
    fn plain_line_keeps_only_text() {
        let line = Line::from_row(&row_of("hello", 80));
        assert_eq!(line.text(), "hello");
        assert!(line.runs.is_empty());
        assert_eq!(line.to_row(80), row_of("hello", 80));
    }

    #[test]
    fn styled_wide_and_combining_round_trip() {
        let mut row = row_of("ab", 10);
        let red =
            Style { fg: Color::Indexed(1), bg: Color::Rgb(1, 2, 3), attrs: Attrs(Attrs::BOLD), ..Style::default() };
        row.set(1, Cell { ch: 'b', style: red, width: Width::Narrow, combined: false });
        row.set(2, Cell { ch: '中', style: red, width: Width::Wide, combined: false });
        row.set(3, Cell { ch: ' ', style: red, width: Width::Spacer, combined: false });
        row.set(4, Cell { ch: 'e', ..Cell::default() });
        row.push_combining(4, '\u{301}');
        let line = Line::from_row(&row);
        assert_eq!(line.text(), "ab中e\u{301}");
        assert_eq!(line.width(), 5);
        assert_eq!(line.to_row(10), row);
    }

    #[test]
    fn wrapped_rows_keep_trailing_spaces() {
        // A row wraps because its last column was written; printed spaces are kept.
        let mut row = row_of("ab   ", 5);
        row.wrapped = true;
        assert_eq!(Line::from_row(&row).text(), "ab   ");
        row.wrapped = false;
        assert_eq!(Line::from_row(&row).text(), "ab", "a line's true end is trimmed");
    }

    #[test]
    fn history_numbers_lines_and_drops_the_oldest() {
        let mut h = History::new(2);
        for t in ["a", "b", "c"] {
            h.push(Line::from_row(&row_of(t, 4)));
        }
        assert_eq!(h.len(), 2);
        assert_eq!(h.first_abs(), 1);
        assert_eq!(h.get(0).map(Line::text).as_deref(), Some("b"));
    }
}
