//! The visible grid: rows of cells, and a change generation per row so that views can
//! send only the rows that changed since they last looked.

use super::cell::{Cell, Style, Width};
use std::collections::VecDeque;

/// One row of cells. Only the cells up to the last one written are stored; every cell
/// past the end is a default blank. An idle shell's screen is a prompt and a few lines,
/// so most rows hold nothing, and clearing or archiving a row touches only what it holds.
#[derive(Clone, Debug, Default)]
pub struct Row {
    cells: Vec<Cell>,
    /// The line continues on the next row because the cursor wrapped at the margin.
    pub wrapped: bool,
    /// Combining characters of cells whose `combined` flag is set, by column.
    pub combining: Vec<(u16, Box<str>)>,
}

impl PartialEq for Row {
    /// Equal when they show the same: trailing stored blanks do not count.
    fn eq(&self, other: &Row) -> bool {
        let n = self.cells.len().max(other.cells.len());
        self.wrapped == other.wrapped
            && self.combining == other.combining
            && (0..n).all(|x| self.cell(x) == other.cell(x))
    }
}

impl Row {
    /// A blank row; in a non-default style (a coloured erase) every cell is stored.
    pub fn new(cols: usize, style: Style) -> Row {
        let cells = if style == Style::default() { Vec::new() } else { vec![Cell::blank(style); cols] };
        Row { cells, wrapped: false, combining: Vec::new() }
    }

    /// The cell at `x`.
    #[inline]
    pub fn cell(&self, x: usize) -> Cell {
        self.cells.get(x).copied().unwrap_or_default()
    }

    /// The stored cells: all of them that are not default blanks, and maybe a few that are.
    pub fn stored(&self) -> &[Cell] {
        &self.cells
    }

    /// Cells `from..to`, stored from now on, for writing.
    #[inline]
    pub fn span_mut(&mut self, from: usize, to: usize) -> &mut [Cell] {
        if self.cells.len() < to {
            self.cells.resize(to, Cell::default());
        }
        &mut self.cells[from..to]
    }

    /// Every cell up to `cols` stored, for operations that shift the whole row.
    pub fn all_mut(&mut self, cols: usize) -> &mut [Cell] {
        self.span_mut(0, cols)
    }

    /// Drops stored trailing default blanks after a shifting operation.
    pub fn trim(&mut self) {
        let len = self.content_len();
        self.cells.truncate(len);
    }

    pub fn clear(&mut self, style: Style, cols: usize) {
        self.cells.clear();
        if style != Style::default() {
            self.cells.resize(cols, Cell::blank(style));
        }
        self.wrapped = false;
        self.combining.clear();
    }

    pub fn combining_at(&self, x: usize) -> Option<&str> {
        self.combining.iter().find(|(c, _)| *c as usize == x).map(|(_, s)| &**s)
    }

    pub fn push_combining(&mut self, x: usize, c: char) {
        if let Some((_, s)) = self.combining.iter_mut().find(|(col, _)| *col as usize == x) {
            // A runaway sequence of combining marks must not grow without bound.
            if s.len() < 32 {
                let mut owned = String::from(&**s);
                owned.push(c);
                *s = owned.into_boxed_str();
            }
        } else {
            self.combining.push((x as u16, c.to_string().into_boxed_str()));
        }
        self.span_mut(x, x + 1)[0].combined = true;
    }

    /// Writes a cell, dropping combining marks that belonged to the old content.
    #[inline]
    pub fn set(&mut self, x: usize, cell: Cell) {
        if self.cells.get(x).is_some_and(|c| c.combined) {
            self.combining.retain(|(c, _)| *c as usize != x);
        }
        self.span_mut(x, x + 1)[0] = cell;
    }

    /// Blanks columns `from..to`, repairing wide characters cut in half at the edges.
    pub fn erase(&mut self, from: usize, to: usize, style: Style) {
        if from >= to {
            return;
        }
        self.split_wide_at(from);
        self.split_wide_at(to);
        if !self.combining.is_empty() {
            self.combining.retain(|(c, _)| (*c as usize) < from || (*c as usize) >= to);
        }
        if style == Style::default() && to >= self.cells.len() {
            // Erasing to the end in the default style: nothing past `from` is stored.
            self.cells.truncate(from);
        } else {
            self.span_mut(from, to).fill(Cell::blank(style));
        }
    }

    /// If a wide character straddles the boundary before column `x`, blank both halves.
    pub fn split_wide_at(&mut self, x: usize) {
        if x == 0 || x >= self.cells.len() {
            return;
        }
        if self.cells[x].width == Width::Spacer && self.cells[x - 1].width == Width::Wide {
            let style = self.cells[x - 1].style;
            self.set(x - 1, Cell::blank(style));
            self.cells[x] = Cell::blank(style);
        }
    }

    pub fn is_blank(&self) -> bool {
        !self.wrapped && self.content_len() == 0
    }

    /// Number of cells up to the last one that is not a default blank.
    pub fn content_len(&self) -> usize {
        self.cells.iter().rposition(|c| !c.is_default_blank()).map_or(0, |i| i + 1)
    }

    pub fn resize(&mut self, cols: usize) {
        if cols < self.cells.len() {
            self.split_wide_at(cols);
            self.combining.retain(|(c, _)| (*c as usize) < cols);
            self.cells.truncate(cols);
        }
    }

    /// The row's text with trailing blanks removed (wide spacers skipped).
    pub fn text(&self) -> String {
        let mut s = String::new();
        for (x, cell) in self.cells[..self.content_len()].iter().enumerate() {
            if cell.width == Width::Spacer {
                continue;
            }
            s.push(cell.ch);
            if cell.combined
                && let Some(extra) = self.combining_at(x)
            {
                s.push_str(extra);
            }
        }
        s
    }
}

/// The rows on screen. Every mutation goes through `row_mut`, which bumps the row's
/// generation, so change tracking cannot be forgotten.
pub struct Grid {
    rows: VecDeque<Row>,
    gens: Vec<u64>,
    cols: usize,
}

impl Grid {
    pub fn new(cols: usize, rows: usize) -> Grid {
        Grid { rows: (0..rows).map(|_| Row::new(cols, Style::default())).collect(), gens: vec![1; rows], cols }
    }

    pub fn from_rows(cols: usize, rows: VecDeque<Row>, gen_base: u64) -> Grid {
        let n = rows.len();
        Grid { rows, gens: vec![gen_base; n], cols }
    }

    pub fn cols(&self) -> usize {
        self.cols
    }

    pub fn height(&self) -> usize {
        self.rows.len()
    }

    pub fn row(&self, y: usize) -> &Row {
        &self.rows[y]
    }

    pub fn rows(&self) -> impl Iterator<Item = &Row> {
        self.rows.iter()
    }

    #[inline]
    pub fn row_mut(&mut self, y: usize, gen_: u64) -> &mut Row {
        self.gens[y] = gen_;
        &mut self.rows[y]
    }

    pub fn gens(&self) -> &[u64] {
        &self.gens
    }

    pub fn touch_all(&mut self, gen_: u64) {
        self.gens.fill(gen_);
    }

    /// Scrolls rows `top..bottom` up by one. The row that leaves the top is shown to
    /// `archive` (history keeps it) and its allocation is reused for the new blank bottom
    /// row, so scrolling allocates nothing.
    pub fn scroll_up(&mut self, top: usize, bottom: usize, style: Style, gen_: u64, archive: impl FnOnce(&Row)) {
        let Some(mut row) = self.rows.remove(top) else {
            return;
        };
        archive(&row);
        row.clear(style, self.cols);
        self.rows.insert(bottom - 1, row);
        self.gens[top..bottom].fill(gen_);
    }

    /// Scrolls rows `top..bottom` down by one; the row that falls off the bottom is lost.
    pub fn scroll_down(&mut self, top: usize, bottom: usize, style: Style, gen_: u64) {
        self.rows.remove(bottom - 1);
        self.rows.insert(top, Row::new(self.cols, style));
        self.gens[top..bottom].fill(gen_);
    }

    /// Replaces every row; used by resize and reflow.
    pub fn replace(&mut self, cols: usize, rows: VecDeque<Row>, gen_: u64) {
        self.cols = cols;
        self.gens = vec![gen_; rows.len()];
        self.rows = rows;
    }

    pub fn take_rows(&mut self) -> VecDeque<Row> {
        std::mem::take(&mut self.rows)
    }
}
