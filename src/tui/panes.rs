//! What a client knows of each pane's screen: rows as the runner last sent them.

use crate::protocol::{CursorView, PaneFrame, PaneModes, Size, WireRow};

#[derive(Clone, Debug, Default, PartialEq)]
pub struct PaneContent {
    pub size: Size,
    pub rows: Vec<WireRow>,
    pub cursor: CursorView,
    pub modes: PaneModes,
    pub first_line: u64,
    pub screen_top: u64,
    pub epoch: u64,
}

impl PaneContent {
    pub fn apply(&mut self, frame: PaneFrame) {
        if frame.full || frame.size != self.size {
            self.size = frame.size;
            self.rows = vec![WireRow::default(); frame.size.rows as usize];
        }
        for (y, row) in frame.rows {
            if let Some(slot) = self.rows.get_mut(y as usize) {
                *slot = row;
            }
        }
        self.cursor = frame.cursor;
        self.modes = frame.modes;
        self.first_line = frame.first_line;
        self.screen_top = frame.screen_top;
        self.epoch = frame.epoch;
    }

    /// A line by absolute number, if it is on the screen.
    pub fn screen_line(&self, abs: u64) -> Option<&WireRow> {
        abs.checked_sub(self.screen_top).and_then(|y| self.rows.get(y as usize))
    }

    /// One past the last line.
    pub fn end_line(&self) -> u64 {
        self.screen_top + self.size.rows as u64
    }
}
