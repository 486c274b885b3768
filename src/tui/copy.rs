//! Copy mode: moving a cursor over a pane's scrollback, selecting, searching, copying.
//!
//! Positions are absolute line numbers (see `screen`), so the view stays on the same text
//! while new output arrives. Lines on the live screen come from the pane's content;
//! older ones are fetched from the runner on demand and kept in `cache`.

use super::panes::PaneContent;
use crate::config::CopyAction;
use crate::layout::PaneId;
use crate::protocol::WireRow;
use std::collections::{BTreeMap, BTreeSet};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SelectKind {
    Chars,
    Lines,
    Block,
}

#[derive(Clone, Debug, PartialEq)]
pub struct CopyState {
    pub pane: PaneId,
    pub epoch: u64,
    /// The line shown in the pane's first row.
    pub top: u64,
    pub cursor: (u64, u16),
    pub anchor: Option<((u64, u16), SelectKind)>,
    pub cache: BTreeMap<u64, WireRow>,
    /// Blocks of `FETCH` lines already asked for.
    pub requested: BTreeSet<u64>,
    pub last_search: Option<(String, bool)>,
    /// The last match, to highlight: line, column, length in cells.
    pub found: Option<(u64, u16, u16)>,
}

/// Lines are fetched in blocks of this many.
pub const FETCH: u64 = 200;

/// A place in the scrollback: (absolute line, column).
type Point = (u64, u16);

/// What copy mode asks the app to do after an action.
#[derive(Debug, PartialEq)]
pub enum CopyOutcome {
    Nothing,
    /// Copy this range (inclusive) to the clipboard, then leave copy mode.
    Yank {
        start: (u64, u16),
        end: (u64, u16),
        block: bool,
    },
    /// Send this range to another pane's agent (asking which), then leave copy mode.
    Send {
        start: (u64, u16),
        end: (u64, u16),
        block: bool,
    },
    /// Nothing was selected: send the pane's agent's last answer instead.
    SendAnswer,
    Exit,
    /// Open the search prompt (backward or not).
    Search {
        backward: bool,
    },
    /// Repeat the last search in this direction.
    SearchAgain {
        backward: bool,
    },
}

impl CopyState {
    pub fn new(pane: PaneId, content: &PaneContent) -> CopyState {
        CopyState {
            pane,
            epoch: content.epoch,
            top: content.screen_top,
            cursor: (content.screen_top + content.cursor.y as u64, content.cursor.x),
            anchor: None,
            cache: BTreeMap::new(),
            requested: BTreeSet::new(),
            last_search: None,
            found: None,
        }
    }

    pub fn line<'a>(&'a self, content: &'a PaneContent, abs: u64) -> Option<&'a WireRow> {
        content.screen_line(abs).or_else(|| self.cache.get(&abs))
    }

    /// Blocks of history the view needs and does not have yet; marks them requested.
    pub fn missing(&mut self, content: &PaneContent) -> Vec<u64> {
        let height = content.size.rows as u64;
        // The view plus a page either side, so scrolling does not wait.
        let from = self.top.saturating_sub(height).max(content.first_line);
        let to = (self.top + height * 2).min(content.screen_top);
        let mut out = Vec::new();
        let mut block = from / FETCH * FETCH;
        while block < to {
            let needed = (block.max(from)..(block + FETCH).min(to)).any(|l| !self.cache.contains_key(&l));
            if needed && self.requested.insert(block) {
                out.push(block);
            }
            block += FETCH;
        }
        out
    }

    pub fn store(&mut self, from: u64, rows: Vec<WireRow>) {
        for (i, row) in rows.into_iter().enumerate() {
            self.cache.insert(from + i as u64, row);
        }
    }

    /// Is the cell at (line, col) selected?
    pub fn selected(&self, line: u64, col: u16) -> bool {
        let Some((anchor, kind)) = self.anchor else { return false };
        let (a, b) = if anchor <= self.cursor { (anchor, self.cursor) } else { (self.cursor, anchor) };
        match kind {
            SelectKind::Lines => line >= a.0 && line <= b.0,
            SelectKind::Block => {
                let (l, r) = (anchor.1.min(self.cursor.1), anchor.1.max(self.cursor.1));
                line >= a.0 && line <= b.0 && col >= l && col <= r
            }
            SelectKind::Chars => (line, col) >= a && (line, col) <= b,
        }
    }

    /// Moves to a search match; one outside the view is brought to its middle.
    pub fn jump_to(&mut self, content: &PaneContent, at: (u64, u16), len: u16) {
        let height = content.size.rows.max(1) as u64;
        self.cursor = at;
        self.found = Some((at.0, at.1, len));
        if at.0 < self.top || at.0 >= self.top + height {
            self.top = at.0.saturating_sub(height / 2);
        }
        self.follow(content);
    }

    /// Scrolls the view so the cursor is visible.
    fn follow(&mut self, content: &PaneContent) {
        let height = content.size.rows.max(1) as u64;
        let last_top = content.screen_top;
        if self.cursor.0 < self.top {
            self.top = self.cursor.0;
        } else if self.cursor.0 >= self.top + height {
            self.top = self.cursor.0 + 1 - height;
        }
        self.top = self.top.clamp(content.first_line, last_top.max(content.first_line));
    }

    fn cells(&self, content: &PaneContent, line: u64) -> Vec<char> {
        let Some(row) = self.line(content, line) else { return Vec::new() };
        let mut out = Vec::new();
        for run in &row.runs {
            for c in run.text.chars() {
                out.push(c);
                if run.wide {
                    out.push('\0');
                }
            }
        }
        out
    }

    /// The selected range (inclusive) and whether it is a block, if anything is selected.
    fn selection(&self, max_col: u16) -> Option<(Point, Point, bool)> {
        let (anchor, kind) = self.anchor?;
        let (a, b) = if anchor <= self.cursor { (anchor, self.cursor) } else { (self.cursor, anchor) };
        Some(match kind {
            SelectKind::Lines => ((a.0, 0), (b.0, max_col), false),
            SelectKind::Block => (anchor, self.cursor, true),
            SelectKind::Chars => (a, b, false),
        })
    }

    pub fn act(&mut self, action: CopyAction, content: &PaneContent) -> CopyOutcome {
        let height = content.size.rows.max(1) as u64;
        let (first, last) = (content.first_line, content.end_line().saturating_sub(1));
        let max_col = content.size.cols.saturating_sub(1);
        let (line, col) = self.cursor;
        let page = |n: u64, up: bool, me: &mut CopyState| {
            if up {
                me.cursor.0 = line.saturating_sub(n).max(first);
                me.top = me.top.saturating_sub(n).max(first);
            } else {
                me.cursor.0 = (line + n).min(last);
                me.top += n;
            }
        };
        match action {
            CopyAction::Left => self.cursor.1 = col.saturating_sub(1),
            CopyAction::Right => self.cursor.1 = (col + 1).min(max_col),
            CopyAction::Up => self.cursor.0 = line.saturating_sub(1).max(first),
            CopyAction::Down => self.cursor.0 = (line + 1).min(last),
            CopyAction::LineStart => self.cursor.1 = 0,
            CopyAction::LineEnd => {
                let len = self.cells(content, line).len() as u16;
                self.cursor.1 = len.saturating_sub(1).min(max_col);
            }
            CopyAction::Top => self.cursor = (first, 0),
            CopyAction::Bottom => self.cursor = (last, 0),
            CopyAction::PageUp => page(height, true, self),
            CopyAction::PageDown => page(height, false, self),
            CopyAction::HalfPageUp => page(height / 2, true, self),
            CopyAction::HalfPageDown => page(height / 2, false, self),
            CopyAction::WordNext => self.cursor = self.word_next(content, last),
            CopyAction::WordPrev => self.cursor = self.word_prev(content, first),
            CopyAction::WordEnd => self.cursor = self.word_end(content, last),
            CopyAction::Select => self.toggle(SelectKind::Chars),
            CopyAction::SelectLine => self.toggle(SelectKind::Lines),
            CopyAction::SelectBlock => self.toggle(SelectKind::Block),
            CopyAction::SearchForward => return CopyOutcome::Search { backward: false },
            CopyAction::SearchBackward => return CopyOutcome::Search { backward: true },
            CopyAction::SearchNext => return CopyOutcome::SearchAgain { backward: false },
            CopyAction::SearchPrev => return CopyOutcome::SearchAgain { backward: true },
            CopyAction::Exit => return CopyOutcome::Exit,
            CopyAction::Yank => {
                // Nothing selected: copy the cursor's line, as tmux's copy-line would.
                let (start, end, block) = self.selection(max_col).unwrap_or(((line, 0), (line, max_col), false));
                return CopyOutcome::Yank { start, end, block };
            }
            CopyAction::SendTo => {
                // Nothing selected: what the pane's agent last answered.
                return match self.selection(max_col) {
                    Some((start, end, block)) => CopyOutcome::Send { start, end, block },
                    None => CopyOutcome::SendAnswer,
                };
            }
        }
        self.follow(content);
        CopyOutcome::Nothing
    }

    fn toggle(&mut self, kind: SelectKind) {
        self.anchor = match self.anchor {
            Some((_, k)) if k == kind => None,
            _ => Some((self.cursor, kind)),
        };
    }

    /// Steps cell by cell from the cursor, across lines (skipping empty ones), to the
    /// first cell for which `target` holds; None at the end of the scrollback.
    fn walk(
        &self,
        content: &PaneContent,
        forward: bool,
        bounds: (u64, u64),
        target: impl Fn(&[char], usize) -> bool,
    ) -> Option<(u64, u16)> {
        let (first, last) = bounds;
        let (mut line, mut col) = (self.cursor.0, self.cursor.1 as usize);
        let mut cells = self.cells(content, line);
        loop {
            if forward {
                col += 1;
                while col >= cells.len() {
                    if line >= last {
                        return None;
                    }
                    line += 1;
                    col = 0;
                    cells = self.cells(content, line);
                }
            } else {
                while col == 0 {
                    if line <= first {
                        return None;
                    }
                    line -= 1;
                    cells = self.cells(content, line);
                    col = cells.len();
                }
                col -= 1;
            }
            if target(&cells, col) {
                return Some((line, col as u16));
            }
        }
    }

    fn word_next(&self, content: &PaneContent, last: u64) -> (u64, u16) {
        self.walk(content, true, (0, last), word_start).unwrap_or(self.cursor)
    }

    fn word_prev(&self, content: &PaneContent, first: u64) -> (u64, u16) {
        self.walk(content, false, (first, u64::MAX), word_start).unwrap_or((first, 0))
    }

    fn word_end(&self, content: &PaneContent, last: u64) -> (u64, u16) {
        let end = |c: &[char], x: usize| is_word(c[x]) && c.get(x + 1).is_none_or(|n| !is_word(*n));
        self.walk(content, true, (0, last), end).unwrap_or(self.cursor)
    }
}

fn word_start(c: &[char], x: usize) -> bool {
    is_word(c[x]) && (x == 0 || !is_word(c[x - 1]))
}

fn is_word(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{CursorView, Size, WireRun};

    fn content(lines: &[&str], screen_top: u64) -> PaneContent {
        PaneContent {
            size: Size { cols: 20, rows: lines.len() as u16 },
            rows: lines
                .iter()
                .map(|l| WireRow { runs: vec![WireRun { text: l.to_string(), ..WireRun::default() }], wrapped: false })
                .collect(),
            cursor: CursorView { x: 0, y: 1, visible: true, ..CursorView::default() },
            first_line: 0,
            screen_top,
            ..PaneContent::default()
        }
    }

    #[test]
    fn starts_at_the_pane_cursor_and_moves_by_words() {
        let c = content(&["one two", "three  four_5 x"], 0);
        let mut s = CopyState::new(1, &c);
        assert_eq!(s.cursor, (1, 0));
        s.act(CopyAction::WordNext, &c);
        assert_eq!(s.cursor, (1, 7));
        s.act(CopyAction::WordEnd, &c);
        assert_eq!(s.cursor, (1, 12));
        s.act(CopyAction::WordPrev, &c);
        assert_eq!(s.cursor, (1, 7));
        s.act(CopyAction::WordPrev, &c);
        s.act(CopyAction::WordPrev, &c);
        assert_eq!(s.cursor, (0, 4), "back across the line break");
    }

    #[test]
    fn view_follows_the_cursor_into_history_and_asks_for_lines() {
        let mut c = content(&["a", "b", "c"], 500);
        c.first_line = 0;
        let mut s = CopyState::new(1, &c);
        assert_eq!(s.top, 500);
        s.act(CopyAction::PageUp, &c);
        assert_eq!((s.top, s.cursor.0), (497, 498));
        let missing = s.missing(&c);
        assert_eq!(missing, vec![400], "the block holding lines 494..500");
        assert!(s.missing(&c).is_empty(), "asked once");
        s.act(CopyAction::Top, &c);
        assert_eq!((s.top, s.cursor), (0, (0, 0)));
    }

    #[test]
    fn selections_and_yank_ranges() {
        let c = content(&["hello world", "second line"], 0);
        let mut s = CopyState::new(1, &c);
        s.cursor = (0, 6);
        s.act(CopyAction::Select, &c);
        s.act(CopyAction::Down, &c);
        assert!(s.selected(0, 10) && s.selected(1, 0) && !s.selected(0, 5));
        assert_eq!(s.act(CopyAction::Yank, &c), CopyOutcome::Yank { start: (0, 6), end: (1, 6), block: false });
        s.act(CopyAction::SelectLine, &c);
        assert_eq!(s.act(CopyAction::Yank, &c), CopyOutcome::Yank { start: (1, 0), end: (1, 19), block: false });
    }
}
