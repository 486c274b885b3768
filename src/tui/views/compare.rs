//! A race's agents side by side (`teamster compare` in the TUI): each worktree pane of the
//! tab with its state, spend, files changed and lines added and removed against its base.
//! `s` sorts by the next column, j/k choose, `d` reviews the chosen one's branch, Enter
//! goes to it.

use super::{Intent, Reaction, View, cancels};
use crate::input::{Key, KeyCode};
use crate::protocol::{Command, CompareRow};
use crate::text::{dollars, visible};
use crate::tui::app::App;
use crate::tui::view::{centered, overlay_block, theme, truncate};
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::widgets::{Clear, Widget};

/// The columns it sorts by, in the order `s` goes through them.
const COLUMNS: [&str; 8] = ["pane", "state", "time", "spend", "tokens", "files", "added", "removed"];

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Compare {
    /// `None` while git reads the worktrees; `Err` with why they could not be compared.
    pub rows: Option<Result<Vec<CompareRow>, String>>,
    /// Index into `COLUMNS`.
    pub sort: usize,
    pub selected: usize,
}

impl Compare {
    /// The rows in the order shown: amounts most first, names in their order.
    pub fn sorted(&self) -> Vec<CompareRow> {
        let mut rows = match &self.rows {
            Some(Ok(rows)) => rows.clone(),
            _ => Vec::new(),
        };
        match COLUMNS[self.sort] {
            "state" => rows.sort_by(|a, b| a.state.cmp(&b.state)),
            "time" => rows.sort_by_key(|r| std::cmp::Reverse(r.seconds)),
            "spend" => rows.sort_by(|a, b| b.spend.total_cmp(&a.spend)),
            "tokens" => rows.sort_by_key(|r| std::cmp::Reverse(r.tokens)),
            "files" => rows.sort_by_key(|r| std::cmp::Reverse(r.files)),
            "added" => rows.sort_by_key(|r| std::cmp::Reverse(r.added)),
            "removed" => rows.sort_by_key(|r| std::cmp::Reverse(r.removed)),
            _ => rows.sort_by(|a, b| a.place.cmp(&b.place)),
        }
        rows
    }
}

impl View for Compare {
    fn key(&mut self, key: &Key, _app: &App) -> Reaction {
        let count = self.sorted().len();
        match key.code {
            _ if cancels(key) => Reaction::Close,
            KeyCode::Char('q') => Reaction::Close,
            KeyCode::Char('s') => {
                self.sort = (self.sort + 1) % COLUMNS.len();
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
            KeyCode::Char('d') => match self.sorted().get(self.selected) {
                Some(row) => Reaction::CloseAnd(Intent::Review(row.pane)),
                None => Reaction::Stay,
            },
            KeyCode::Enter => match self.sorted().get(self.selected) {
                Some(row) => Reaction::CloseAnd(Intent::Command(Command::Focus { pane: row.pane })),
                None => Reaction::Close,
            },
            _ => Reaction::Stay,
        }
    }

    fn draw(&self, app: &App, buf: &mut Buffer, area: Rect) {
        let rows = self.sorted();
        let box_area = centered(area, 132, rows.len().max(1) as u16 + 5);
        Clear.render(box_area, buf);
        let keys = format!(" s sort (by {})  d review  enter go there  esc closes ", COLUMNS[self.sort]);
        let block = overlay_block(app, " compare ", "").title_bottom(keys).style(theme(app, "overlay"));
        let inner = block.inner(box_area);
        block.render(box_area, buf);
        let width = inner.width as usize;
        let header = format!(
            " {:<14} {:<10} {:<18} {:>6} {:>8} {:>7} {:>6} {:>7} {:>8}  branch",
            "pane", "agent", "state", "time", "spend", "tokens", "files", "added", "removed"
        );
        buf.set_string(inner.x, inner.y, truncate(&header, width), theme(app, "overlay_border"));
        let message = match &self.rows {
            None => Some("reading the worktrees…".to_string()),
            Some(Err(e)) => Some(visible(e).into_owned()),
            Some(Ok(r)) if r.is_empty() => Some("no worktree panes in this tab".into()),
            Some(Ok(_)) => None,
        };
        if let Some(text) = message {
            buf.set_string(inner.x + 1, inner.y + 2, truncate(&text, width.saturating_sub(1)), theme(app, "overlay"));
            return;
        }
        for (n, r) in rows.iter().enumerate().take(inner.height.saturating_sub(1) as usize) {
            let changes = match &r.error {
                Some(_) => format!("{:>6} {:>7} {:>8}", "?", "?", "?"),
                None => format!("{:>6} {:>7} {:>8}", r.files, format!("+{}", r.added), format!("-{}", r.removed)),
            };
            let line = format!(
                " {:<14} {:<10} {:<18} {:>6} {:>8} {:>7} {changes}  {}",
                visible(&r.place),
                truncate(&visible(&r.agent), 10),
                truncate(&visible(&r.state), 18),
                crate::text::duration(r.seconds),
                dollars(r.spend),
                crate::text::tokens(r.tokens),
                visible(&r.branch)
            );
            let style = if n == self.selected { theme(app, "overlay_selected") } else { theme(app, "overlay") };
            let y = inner.y + 1 + n as u16;
            buf.set_style(Rect::new(inner.x, y, inner.width, 1), style);
            buf.set_string(inner.x, y, truncate(&line, width), style);
        }
    }
}
