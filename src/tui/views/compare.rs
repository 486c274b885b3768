//! A race's agents side by side (`teamster compare` in the TUI): each worktree pane of the
//! tab with its state, spend, files changed and lines added and removed against its base.
//! Its rows are asked for again every two seconds while it is open. `s` sorts by the next column, j/k choose, `d` reviews the chosen one's branch, `m` merges
//! it into its base (then offers to clear the others), Enter goes to it.

use super::{Intent, Reaction, View, cancels};
use crate::input::{Key, KeyCode};
use crate::protocol::{Command, CompareBy, CompareRow};
use crate::tui::app::App;
use crate::tui::view::{centered, overlay_block, theme, truncate};
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::widgets::{Clear, Widget};

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Compare {
    /// `None` while git reads the worktrees; `Err` with why they could not be compared.
    /// Kept in the order shown.
    pub rows: Option<Result<Vec<CompareRow>, String>>,
    pub sort: CompareBy,
    pub selected: usize,
    /// The pane whose tab is compared.
    pub near: Option<crate::layout::PaneId>,
    /// When the rows are asked for again (the agents work on, checks finish); none while
    /// an answer is awaited.
    pub next_refresh: Option<std::time::Instant>,
}

/// How often an open compare view asks for its rows again.
pub const REFRESH: std::time::Duration = std::time::Duration::from_secs(2);

impl Compare {
    /// The rows as they came (again, on a refresh), sorted as chosen; the chosen pane
    /// stays chosen wherever it lands (a refresh must not move `m` to another branch).
    pub fn set_rows(&mut self, rows: Result<Vec<CompareRow>, String>) {
        let chosen = self.shown().get(self.selected).map(|r| r.pane);
        self.rows = Some(rows);
        self.sort_rows();
        let at = chosen.and_then(|pane| self.shown().iter().position(|r| r.pane == pane));
        self.selected = at.unwrap_or(self.selected).min(self.shown().len().saturating_sub(1));
        self.next_refresh = Some(std::time::Instant::now() + REFRESH);
    }

    fn sort_rows(&mut self) {
        if let Some(Ok(rows)) = &mut self.rows {
            self.sort.sort(rows);
        }
    }

    fn shown(&self) -> &[CompareRow] {
        match &self.rows {
            Some(Ok(rows)) => rows,
            _ => &[],
        }
    }
}

impl View for Compare {
    fn key(&mut self, key: &Key, _app: &App) -> Reaction {
        let count = self.shown().len();
        match key.code {
            _ if cancels(key) => Reaction::Close,
            KeyCode::Char('q') => Reaction::Close,
            KeyCode::Char('s') => {
                self.sort = self.sort.next();
                self.sort_rows();
                Reaction::Stay
            }
            KeyCode::Down | KeyCode::Char('j') => {
                self.selected = (self.selected + 1).min(count.saturating_sub(1));
                Reaction::Stay
            }
            KeyCode::Up | KeyCode::Char('k') => {
                self.selected = self.selected.saturating_sub(1);
                Reaction::Stay
            }
            KeyCode::Char('d') => match self.shown().get(self.selected) {
                Some(row) => Reaction::CloseAnd(Intent::Review(row.pane)),
                None => Reaction::Stay,
            },
            KeyCode::Char('m') => match self.shown().get(self.selected) {
                Some(row) => Reaction::CloseAnd(Intent::AskMerge { pane: row.pane, branch: row.branch.clone() }),
                None => Reaction::Stay,
            },
            KeyCode::Enter => match self.shown().get(self.selected) {
                Some(row) => Reaction::CloseAnd(Intent::Command(Command::Focus { pane: row.pane })),
                None => Reaction::Close,
            },
            _ => Reaction::Stay,
        }
    }

    fn draw(&self, app: &App, buf: &mut Buffer, area: Rect) {
        let rows = self.shown();
        let box_area = centered(area, 132, rows.len().max(1) as u16 + 5);
        Clear.render(box_area, buf);
        let keys = format!(" s sort (by {})  d review  m merge  enter go there  esc closes ", self.sort.name());
        let block = overlay_block(app, " compare ", "").title_bottom(keys).style(theme(app, "overlay"));
        let inner = block.inner(box_area);
        block.render(box_area, buf);
        let width = inner.width as usize;
        let header = format!(" {}", CompareRow::HEADER);
        buf.set_string(inner.x, inner.y, truncate(&header, width), theme(app, "overlay_border"));
        let message = super::list_message(&self.rows, "reading the worktrees…", "no worktree panes in this tab");
        if let Some(text) = message {
            buf.set_string(inner.x + 1, inner.y + 2, truncate(&text, width.saturating_sub(1)), theme(app, "overlay"));
            return;
        }
        for (n, r) in rows.iter().enumerate().take(inner.height.saturating_sub(1) as usize) {
            let line = format!(" {}", r.line());
            let style = if n == self.selected { theme(app, "overlay_selected") } else { theme(app, "overlay") };
            let y = inner.y + 1 + n as u16;
            buf.set_style(Rect::new(inner.x, y, inner.width, 1), style);
            buf.set_string(inner.x, y, truncate(&line, width), style);
        }
    }
}
