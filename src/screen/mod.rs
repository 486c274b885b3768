//! The terminal model: a program's output in, a screen of styled cells out.
//!
//! `Screen` is the one type the rest of teamster uses; the parser and the grid behind it
//! can be swapped without touching callers. We chose our own model over
//! `alacritty_terminal` and `vt100` for memory (compact scrollback) and throughput; the
//! figures are in `docs/terminal-model.md`.
//!
//! Lines are numbered absolutely: history and screen rows share one count that only grows
//! while output scrolls, so a view can hold a position in scrollback while new output
//! arrives. `epoch` changes when the numbering is rebuilt (reflow, history cleared).

pub mod cell;
pub mod grid;
pub mod history;
pub mod links;
mod parser;
mod reflow;
mod term;
pub mod wire;

pub use cell::{Attrs, Cell, Color, Style, Width, char_width};
pub use grid::Row;

/// Every line of a screen, copied (`Screen::copy_lines`).
pub struct Lines {
    pub cols: usize,
    history: Vec<history::Line>,
    rows: Vec<Row>,
    pub links: links::Links,
}

impl Lines {
    /// The lines from the oldest kept, as rows at the screen's width.
    pub fn rows(&self) -> impl Iterator<Item = Cow<'_, Row>> {
        self.history.iter().map(|l| Cow::Owned(l.to_row(self.cols))).chain(self.rows.iter().map(Cow::Borrowed))
    }
}
pub use term::{
    CursorShape, Keyboard, Modes, MouseEncoding, MouseMode, ReportedColors, ScreenEvent, palette_rgb, parse_color_spec,
};

use std::borrow::Cow;
use term::Term;

pub struct Screen {
    parser: parser::Parser,
    term: Term,
}

/// A position in the screen's absolute line numbering.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Pos {
    pub line: u64,
    pub col: u16,
}

impl Screen {
    pub fn new(cols: u16, rows: u16, scrollback: usize) -> Screen {
        Screen { parser: parser::Parser::new(), term: Term::new(cols as usize, rows as usize, scrollback) }
    }

    /// Applies a program's output.
    pub fn feed(&mut self, bytes: &[u8]) {
        self.term.gen_ += 1;
        self.parser.advance(&mut self.term, bytes);
    }

    pub fn resize(&mut self, cols: u16, rows: u16) {
        self.term.gen_ += 1;
        self.term.resize(cols as usize, rows as usize);
    }

    pub fn size(&self) -> (u16, u16) {
        (self.term.cols as u16, self.term.rows as u16)
    }

    /// Bytes to write back to the program: answers to its queries.
    pub fn take_responses(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.term.responses)
    }

    pub fn take_events(&mut self) -> Vec<ScreenEvent> {
        std::mem::take(&mut self.term.events)
    }

    pub fn has_events(&self) -> bool {
        !self.term.events.is_empty()
    }

    /// Column and row of the cursor on screen.
    pub fn cursor_position(&self) -> (u16, u16) {
        (self.term.cursor.x as u16, self.term.cursor.y as u16)
    }

    pub fn cursor_shape(&self) -> CursorShape {
        self.term.cursor_shape
    }

    /// The cursor colour the program set (OSC 12), if it set one.
    pub fn cursor_color(&self) -> Option<(u8, u8, u8)> {
        self.term.cursor_color
    }

    pub fn modes(&self) -> Modes {
        self.term.modes
    }

    pub fn title(&self) -> &str {
        &self.term.title
    }

    pub fn alt_screen(&self) -> bool {
        self.term.alt_active()
    }

    pub fn set_reported_colors(&mut self, colors: ReportedColors) {
        self.term.colors = colors;
    }

    /// Generation of the latest change; rows changed since a view's last look have a
    /// higher generation in `row_generations`.
    pub fn generation(&self) -> u64 {
        self.term.gen_
    }

    pub fn row_generations(&self) -> &[u64] {
        self.term.grid.gens()
    }

    pub fn epoch(&self) -> u64 {
        self.term.epoch
    }

    pub fn row(&self, y: usize) -> &Row {
        self.term.grid.row(y)
    }

    /// The addresses of the hyperlinks that cells name by `Style::link`.
    pub fn links(&self) -> &links::Links {
        &self.term.links
    }

    pub fn history(&self) -> &history::History {
        &self.term.history
    }

    pub fn scrollback_limit(&self) -> usize {
        self.term.history.limit()
    }

    /// Absolute number of the screen's first row.
    pub fn screen_top(&self) -> u64 {
        self.term.history.pushed()
    }

    /// Absolute number of the oldest line a view can scroll to. The alternate screen has
    /// no scrollback of its own.
    pub fn first_line(&self) -> u64 {
        if self.alt_screen() { self.screen_top() } else { self.term.history.first_abs() }
    }

    /// One past the last line.
    pub fn end_line(&self) -> u64 {
        self.screen_top() + self.term.rows as u64
    }

    /// A copy of every line (scrollback, then the rows on screen) and of the links they
    /// name, made quickly (the scrollback as it is kept, compact), to be read at leisure
    /// away from whatever lock holds the screen.
    pub fn copy_lines(&self) -> Lines {
        Lines {
            cols: self.term.cols,
            history: self.term.history.iter().cloned().collect(),
            rows: self.term.grid.rows().cloned().collect(),
            links: self.term.links.clone(),
        }
    }

    /// A line by absolute number, as a row at the screen's current width.
    pub fn line(&self, abs: u64) -> Option<Cow<'_, Row>> {
        let top = self.screen_top();
        if abs >= top {
            let y = (abs - top) as usize;
            return (y < self.term.rows).then(|| Cow::Borrowed(self.row(y)));
        }
        if abs < self.first_line() {
            return None;
        }
        let i = (abs - self.term.history.first_abs()) as usize;
        self.term.history.get(i).map(|l| Cow::Owned(l.to_row(self.term.cols)))
    }

    /// The text between two positions (inclusive), as a user copying it expects: wrapped
    /// lines joined, trailing blanks dropped, a newline at each line's real end.
    pub fn text_between(&self, start: Pos, end: Pos, block: bool) -> String {
        let (start, end) = if start <= end { (start, end) } else { (end, start) };
        let (left, right) = (start.col.min(end.col) as usize, start.col.max(end.col) as usize);
        let mut out = String::new();
        for abs in start.line..=end.line {
            let Some(row) = self.line(abs) else { continue };
            let (from, to) = if block {
                (left, right + 1)
            } else {
                let from = if abs == start.line { start.col as usize } else { 0 };
                let to = if abs == end.line { end.col as usize + 1 } else { row.stored().len() };
                (from, to)
            };
            let mut piece = String::new();
            for x in from..to.min(row.stored().len()) {
                let cell = &row.stored()[x];
                if cell.width == Width::Spacer {
                    continue;
                }
                piece.push(cell.ch);
                if cell.combined
                    && let Some(extra) = row.combining_at(x)
                {
                    piece.push_str(extra);
                }
            }
            let joined = row.wrapped && !block && abs != end.line;
            if joined {
                out.push_str(&piece);
            } else {
                out.push_str(piece.trim_end());
                if abs != end.line {
                    out.push('\n');
                }
            }
        }
        out
    }

    /// Finds `query` starting after (or, backward, before) `from`, wrapping around.
    /// Lower-case queries match any case.
    pub fn search(&self, query: &str, from: Pos, backward: bool) -> Option<Pos> {
        if query.is_empty() {
            return None;
        }
        let fold = !query.chars().any(char::is_uppercase);
        let query: Vec<char> = if fold { query.to_lowercase().chars().collect() } else { query.chars().collect() };
        let (first, end) = (self.first_line(), self.end_line());
        let total = end - first;
        let matches_in = |abs: u64| -> Vec<u16> {
            let Some(row) = self.line(abs) else {
                return Vec::new();
            };
            let cells: Vec<(char, u16)> = row
                .stored()
                .iter()
                .enumerate()
                .filter(|(_, c)| c.width != Width::Spacer)
                .map(|(x, c)| (if fold { c.ch.to_lowercase().next().unwrap_or(c.ch) } else { c.ch }, x as u16))
                .collect();
            cells
                .windows(query.len())
                .filter(|w| w.iter().zip(&query).all(|((a, _), b)| a == b))
                .map(|w| w[0].1)
                .collect()
        };
        let from_line = from.line.clamp(first, end.saturating_sub(1));
        for step in 0..=total {
            let abs = if backward {
                first + (from_line - first + total * 2 - step) % total.max(1)
            } else {
                first + (from_line - first + step) % total.max(1)
            };
            let found = matches_in(abs);
            let pick = if backward {
                found.into_iter().rev().find(|&c| step > 0 || c < from.col)
            } else {
                found.into_iter().find(|&c| step > 0 || c > from.col)
            };
            if let Some(col) = pick {
                return Some(Pos { line: abs, col });
            }
        }
        None
    }

    /// The screen's rows as text, for tests and plain-text views.
    pub fn visible_text(&self) -> Vec<String> {
        self.term.grid.rows().map(Row::text).collect()
    }

    pub fn history_text(&self) -> Vec<String> {
        self.term.history.iter().map(|l| l.text()).collect()
    }

    /// Approximate heap bytes held (grid and history), for the memory benchmark.
    pub fn heap_bytes(&self) -> usize {
        let grid = self.term.rows * self.term.cols * std::mem::size_of::<Cell>();
        let alt = if self.alt_screen() { grid } else { 0 };
        grid + alt + self.term.history.heap_bytes()
    }
}

#[cfg(test)]
mod tests;

/// How the `screen` fuzz target (`fuzz/fuzz_targets/screen.rs`) and its regression tests
/// read an input: two bytes for the size, one for the piece size and resizes, then the
/// program's output, fed in pieces. Panics when an answer to the program holds more than
/// printable ASCII and the ESC and BEL that frame it (a shell would act on a control
/// character: output must not make the terminal type a command). `None`: too short.
#[doc(hidden)]
pub fn fuzz_feed(data: &[u8]) -> Option<Screen> {
    let [c, r, piece, rest @ ..] = data else { return None };
    let mut s = Screen::new(1 + u16::from(*c) % 100, 1 + u16::from(*r) % 40, 50);
    for (i, chunk) in rest.chunks(usize::from(*piece & 0x7f).max(1)).enumerate() {
        s.feed(chunk);
        let answers = s.take_responses();
        let odd = answers.iter().find(|&&b| !(b == 0x1b || b == 0x07 || (0x20..0x7f).contains(&b)));
        assert!(odd.is_none(), "the terminal answered with {odd:?}: {:?}", String::from_utf8_lossy(&answers));
        let _ = s.take_events();
        if *piece & 0x80 != 0 && i % 7 == 3 {
            let (w, h) = s.size();
            s.resize(1 + (w * 3 + u16::from(chunk[0])) % 100, 1 + (h + u16::from(chunk[0])) % 40);
        }
    }
    Some(s)
}
