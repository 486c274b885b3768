//! Resizing. The primary screen reflows: lines that wrapped are joined and split again at
//! the new width, history included, and the cursor stays on the character it was on. The
//! alternate screen is only cropped or padded: programs that use it redraw on SIGWINCH.

use super::cell::Style;
use super::grid::{Grid, Row};
use super::history::{Group, History, Line, LineBuilder};
use super::term::{Cursor, Term};
use std::collections::VecDeque;

impl Term {
    pub fn resize(&mut self, cols: usize, rows: usize) {
        let (cols, rows) = (cols.max(1), rows.max(1));
        if cols == self.cols && rows == self.rows {
            return;
        }
        let gen_ = self.gen_;
        if let Some(mut primary) = self.primary.take() {
            let mut saved = self.saved_primary_cursor().unwrap_or_default();
            reflow(&mut primary, &mut self.history, &mut saved, cols, rows, gen_);
            self.set_saved_primary_cursor(saved);
            self.primary = Some(primary);
            crop(&mut self.grid, cols, rows, gen_);
            self.cursor.x = self.cursor.x.min(cols - 1);
            self.cursor.y = self.cursor.y.min(rows - 1);
            self.cursor.pending_wrap = false;
        } else {
            reflow(&mut self.grid, &mut self.history, &mut self.cursor, cols, rows, gen_);
        }
        self.cols = cols;
        self.rows = rows;
        self.top = 0;
        self.bottom = rows;
        self.resize_tabs(cols);
        self.epoch += 1;
    }
}

fn crop(grid: &mut Grid, cols: usize, rows: usize, gen_: u64) {
    let mut all = grid.take_rows();
    all.truncate(rows);
    for row in all.iter_mut() {
        row.resize(cols);
    }
    while all.len() < rows {
        all.push_back(Row::new(cols, Style::default()));
    }
    grid.replace(cols, all, gen_);
}

fn reflow(grid: &mut Grid, history: &mut History, cursor: &mut Cursor, cols: usize, rows: usize, gen_: u64) {
    let old_cols = grid.cols();
    let old_rows = grid.take_rows();
    let used = old_rows.iter().rposition(|r| !r.is_blank()).map_or(0, |y| y + 1).max(cursor.y + 1).min(old_rows.len());
    // Where the cursor is, counted in cells from the start of the screen's lines.
    let cursor_x = cursor.x + cursor.pending_wrap as usize;

    let (mut lines, cursor_line, cursor_col) = if cols == old_cols {
        let mut lines = history.take();
        let base = lines.len();
        lines.extend(old_rows.iter().take(used).map(Line::from_row));
        (lines, base + cursor.y, cursor_x)
    } else {
        rewrap(history.take(), old_rows.iter().take(used), cursor.y, cursor_x, cols)
    };

    while lines.len() <= cursor_line {
        lines.push_back(Line::default());
    }
    let top = lines.len().saturating_sub(rows).min(cursor_line);
    let mut on_screen = lines.split_off(top);
    on_screen.truncate(rows);
    history.replace(lines);

    let mut new_rows: VecDeque<Row> = on_screen.iter().map(|l| l.to_row(cols)).collect();
    while new_rows.len() < rows {
        new_rows.push_back(Row::new(cols, Style::default()));
    }
    grid.replace(cols, new_rows, gen_);
    cursor.y = cursor_line - top;
    cursor.x = cursor_col.min(cols - 1);
    cursor.pending_wrap = false;
}

/// Joins wrapped lines (history, then the screen's used rows) and splits them at `cols`.
/// Returns the new lines and the cursor's new line and column.
fn rewrap<'a>(
    history: VecDeque<Line>,
    screen: impl Iterator<Item = &'a Row>,
    cursor_row: usize,
    cursor_x: usize,
    cols: usize,
) -> (VecDeque<Line>, usize, usize) {
    let mut out = VecDeque::with_capacity(history.len() + 64);
    let mut logical: Vec<Group> = Vec::new();
    let mut logical_width = 0;
    let mut cursor_offset: Option<usize> = None;
    let mut cursor_at = (0, 0);

    let screen_lines = screen.map(Line::from_row).enumerate().map(|(y, l)| (Some(y), l));
    for (screen_y, line) in history.into_iter().map(|l| (None, l)).chain(screen_lines) {
        if screen_y == Some(cursor_row) {
            cursor_offset = Some(logical_width + cursor_x);
        }
        for g in line.groups() {
            logical_width += g.width();
            logical.push(g);
        }
        if !line.wrapped {
            if let Some(at) = split(&mut logical, cursor_offset.take(), cols, &mut out) {
                cursor_at = at;
            }
            logical_width = 0;
        }
    }
    if !logical.is_empty() || cursor_offset.is_some() {
        if let Some(at) = split(&mut logical, cursor_offset.take(), cols, &mut out) {
            cursor_at = at;
        }
    }
    (out, cursor_at.0, cursor_at.1)
}

/// Splits one logical line into lines of at most `cols` cells, appending them to `out`.
/// When `cursor` (a cell offset in the logical line) is given, returns where it lands.
fn split(
    logical: &mut Vec<Group>,
    cursor: Option<usize>,
    cols: usize,
    out: &mut VecDeque<Line>,
) -> Option<(usize, usize)> {
    let mut b = LineBuilder::default();
    let mut offset = 0;
    let mut found = None;
    for g in logical.drain(..) {
        let w = g.width();
        if b.width() + w > cols && b.width() > 0 {
            out.push_back(std::mem::take(&mut b).finish(true));
        }
        if found.is_none() && cursor.is_some_and(|c| c < offset + w) {
            found = Some((out.len(), b.width()));
        }
        b.push(g);
        offset += w;
    }
    let found = match (found, cursor) {
        (Some(f), _) => Some(f),
        // The cursor sits after the text (a prompt's trailing space, say).
        (None, Some(c)) => Some((out.len(), (b.width() + c - offset.min(c)).min(cols.saturating_sub(1)))),
        (None, None) => None,
    };
    out.push_back(b.finish(false));
    found
}

#[cfg(test)]
mod tests {
    use crate::screen::Screen;

    fn screen_with(cols: u16, rows: u16, input: &str) -> Screen {
        let mut s = Screen::new(cols, rows, 100);
        s.feed(input.as_bytes());
        s
    }

    #[test]
    fn narrowing_rewraps_long_lines_and_keeps_the_cursor_on_its_text() {
        let mut s = screen_with(10, 4, "abcdefgh\r\n$ ");
        s.resize(4, 4);
        assert_eq!(s.visible_text(), vec!["abcd", "efgh", "$", ""]);
        assert_eq!(s.cursor_position(), (2, 2));
        s.resize(10, 4);
        assert_eq!(s.visible_text(), vec!["abcdefgh", "$", "", ""]);
        assert_eq!(s.cursor_position(), (2, 1));
    }

    #[test]
    fn lines_that_no_longer_fit_go_to_history_and_come_back() {
        let mut s = screen_with(6, 3, "one\r\ntwo\r\nthree");
        s.resize(6, 2);
        assert_eq!(s.visible_text(), vec!["two", "three"]);
        assert_eq!(s.history_text(), vec!["one"]);
        s.resize(6, 3);
        assert_eq!(s.visible_text(), vec!["one", "two", "three"]);
        assert!(s.history_text().is_empty());
    }

    #[test]
    fn wide_characters_are_not_split_across_lines() {
        let mut s = screen_with(6, 3, "ab中文");
        s.resize(3, 3);
        assert_eq!(s.visible_text(), vec!["ab", "中", "文"]);
    }

    #[test]
    fn history_reflows_too() {
        let mut s = screen_with(4, 2, "abcdefgh\r\nx\r\ny");
        assert_eq!(s.history_text(), vec!["abcd", "efgh"]);
        s.resize(8, 2);
        assert_eq!(s.history_text(), vec!["abcdefgh"]);
        assert_eq!(s.visible_text(), vec!["x", "y"]);
    }

    #[test]
    fn alternate_screen_is_cropped_and_primary_reflowed_beneath_it() {
        let mut s = screen_with(8, 3, "abcdefgh\x1b[?1049h\x1b[Halt");
        s.resize(4, 3);
        assert_eq!(s.visible_text()[0], "alt");
        s.feed(b"\x1b[?1049l");
        assert_eq!(s.visible_text(), vec!["abcd", "efgh", ""]);
    }
}
