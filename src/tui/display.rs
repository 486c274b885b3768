//! Getting frames onto the terminal.
//!
//! `Display` keeps what the terminal shows (`shown`) and writes only cells that differ.
//! After most events it renders the whole frame and diffs it, as ratatui's Terminal does.
//! When all that changed is a few rows of pane content (an echoed key, a new line of
//! output), it renders just those rows: a keystroke's echo costs a row, not a screen.

use super::app::{App, Damage};
use super::backend::Out;
use super::view;
use ratatui::backend::Backend;
use ratatui::buffer::{Buffer, Cell};
use ratatui::layout::{Rect, Size};
use std::io::Write;
use unicode_width::UnicodeWidthStr;

pub struct Display<W: Write> {
    pub out: Out<W>,
    shown: Buffer,
    next: Buffer,
}

impl<W: Write> Display<W> {
    pub fn new(writer: W, size: Size) -> std::io::Result<Display<W>> {
        let area = Rect::new(0, 0, size.width, size.height);
        let mut out = Out::new(writer, size);
        out.clear()?;
        Ok(Display { out, shown: Buffer::empty(area), next: Buffer::empty(area) })
    }

    /// The terminal changed size: everything is drawn anew.
    pub fn resize(&mut self, size: Size) -> std::io::Result<()> {
        let area = Rect::new(0, 0, size.width, size.height);
        self.out.set_size(size);
        self.shown = Buffer::empty(area);
        self.next = Buffer::empty(area);
        self.out.clear()
    }

    /// Draws what the app's damage calls for, and clears it.
    pub fn draw(&mut self, app: &mut App) -> std::io::Result<()> {
        match std::mem::take(&mut app.damage) {
            Damage::None => Ok(()),
            Damage::Rows(rows) => self.rows(app, &rows),
            Damage::Full => self.full(app),
        }
    }

    fn full(&mut self, app: &App) -> std::io::Result<()> {
        self.next.reset();
        let cursor = view::render(app, &mut self.next);
        let updates = self.shown.diff(&self.next);
        self.out.draw(updates.into_iter())?;
        std::mem::swap(&mut self.shown, &mut self.next);
        self.finish(cursor)
    }

    fn rows(&mut self, app: &App, rows: &[(crate::layout::PaneId, u16)]) -> std::io::Result<()> {
        let visible = app.visible();
        let mut changed: Vec<(u16, u16, Cell)> = Vec::new();
        for &(pane, y) in rows {
            let Some(inner) = visible.iter().find(|(p, _)| *p == pane).map(|(_, r)| r.inner()) else { continue };
            if y >= inner.h {
                continue;
            }
            // A row under the sidebar is drawn only up to it: the sidebar lies over panes.
            let mut width = inner.w;
            if let Some(side) = app.sidebar_area().filter(|s| (s.y..s.y + s.h).contains(&(inner.y + y))) {
                width = width.min(side.x.saturating_sub(inner.x));
            }
            if width == 0 {
                continue;
            }
            let area = Rect::new(inner.x, inner.y + y, inner.w, 1);
            let mut row = Buffer::empty(area);
            view::draw_pane_row(app, &mut row, pane, inner, y);
            // Write from the first differing cell to the last, skipping the right halves
            // of wide characters (the terminal fills them).
            let right = area.x + width;
            let differs = |x: u16| row[(x, area.y)] != self.shown[(x, area.y)];
            let Some(first) = (area.x..right).find(|&x| differs(x)) else { continue };
            let last = (area.x..right).rev().find(|&x| differs(x)).unwrap_or(first);
            let mut covered = 0;
            for x in first..=last.min(right - 1) {
                let cell = row[(x, area.y)].clone();
                // A wide character whose right half would fall under the sidebar waits
                // for the next full drawing.
                if covered == 0 && x + 1 == right && right < area.right() && cell.symbol().width() > 1 {
                    break;
                }
                if covered == 0 {
                    covered = cell.symbol().width().max(1);
                    changed.push((x, area.y, cell.clone()));
                }
                covered -= 1;
                self.shown[(x, area.y)] = cell;
            }
        }
        self.out.draw(changed.iter().map(|(x, y, c)| (*x, *y, c)))?;
        self.finish(view::cursor(app))
    }

    fn finish(&mut self, cursor: Option<(u16, u16)>) -> std::io::Result<()> {
        match cursor {
            Some(pos) => {
                self.out.set_cursor_position(pos)?;
                self.out.show_cursor()?;
            }
            None => self.out.hide_cursor()?,
        }
        Backend::flush(&mut self.out)
    }
}
