//! A worktree pane's branch reviewed: its diff against its base, file by file, coloured
//! and scrollable; `c` comments on the line at the top (its file and line number come
//! with it), `S` sends every comment to that pane's agent as one prompt.

use super::{Intent, Reaction, View, cancels, typed};
use crate::input::{Key, KeyCode};
use crate::layout::PaneId;
use crate::text::{DiffLine, visible};
use crate::tui::app::App;
use crate::tui::view::{overlay_block, theme, truncate};
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Style};
use ratatui::widgets::{Clear, Widget};

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Review {
    pub pane: PaneId,
    /// `SESSION:TAB.PANE`, for the title and what is said when sent.
    pub place: String,
    /// The diff's lines; `None` while git reads them, `Err` with why it could not.
    pub lines: Option<Result<Vec<String>, String>>,
    /// The line at the top of the view: what a comment is about.
    pub top: usize,
    pub comments: Vec<String>,
    /// A comment being typed.
    pub typing: Option<String>,
}

impl Review {
    pub fn new(pane: PaneId, place: String) -> Review {
        Review { pane, place, ..Default::default() }
    }

    fn lines(&self) -> &[String] {
        match &self.lines {
            Some(Ok(lines)) => lines,
            _ => &[],
        }
    }

    /// The file and the line in it (of the new side) that diff line `at` shows.
    pub fn place_of(&self, at: usize) -> Option<(String, u64)> {
        let lines = self.lines();
        let mut file = None;
        let mut line = 0u64;
        for text in lines.iter().take(at + 1) {
            if let Some(names) = text.strip_prefix("diff --git ") {
                // A new file begins: named at once (a comment on its header is about it),
                // by its `b/` side.
                file = names.rsplit_once(" b/").map(|(_, b)| b.to_string());
                line = 0;
            } else if let Some(name) = text.strip_prefix("--- a/") {
                // A deleted file has no new side: it is named by its old one.
                file = Some(name.to_string());
            } else if let Some(name) = text.strip_prefix("+++ b/") {
                file = Some(name.to_string());
            } else if text.starts_with('\\') || text.starts_with("index ") || text.starts_with("+++ ") {
                // `\ No newline at end of file`, a header: no line of the file.
            } else if let Some(hunk) = text.strip_prefix("@@ ") {
                // `@@ -a,b +c,d @@`: the new side starts at c.
                let new = hunk.split_whitespace().find_map(|w| w.strip_prefix('+'));
                line = new.and_then(|n| n.split(',').next()?.parse::<u64>().ok()).unwrap_or(1).saturating_sub(1);
            } else if !text.starts_with('-') && !text.starts_with("diff --git") && !text.starts_with("---") {
                line += 1;
            }
        }
        file.map(|f| (f, line.max(1)))
    }

    /// The next (or previous) file's first line from the top.
    fn file_from(&self, forward: bool) -> Option<usize> {
        let starts = self.lines().iter().enumerate().filter(|(_, l)| l.starts_with("diff --git")).map(|(i, _)| i);
        let starts: Vec<usize> = starts.collect();
        match forward {
            true => starts.into_iter().find(|&i| i > self.top),
            false => starts.into_iter().rev().find(|&i| i < self.top),
        }
    }

    /// Every comment, as the one prompt the agent gets.
    pub fn prompt(&self) -> String {
        crate::text::review_prompt(&self.comments)
    }
}

impl View for Review {
    fn key(&mut self, key: &Key, _app: &App) -> Reaction {
        if let Some(text) = &mut self.typing {
            match key.code {
                KeyCode::Enter => {
                    let text = text.trim().to_string();
                    self.typing = None;
                    if !text.is_empty() {
                        let about = self.place_of(self.top).map(|(f, l)| format!("{f}:{l}: ")).unwrap_or_default();
                        self.comments.push(format!("{about}{text}"));
                    }
                }
                KeyCode::Backspace => {
                    text.pop();
                }
                _ if cancels(key) => self.typing = None,
                _ => {
                    if let Some(c) = typed(key) {
                        text.push(c);
                    }
                }
            }
            return Reaction::Stay;
        }
        let last = self.lines().len().saturating_sub(1);
        match key.code {
            _ if cancels(key) => return Reaction::Close,
            KeyCode::Char('q') => return Reaction::Close,
            KeyCode::Down | KeyCode::Char('j') => self.top = (self.top + 1).min(last),
            KeyCode::Up | KeyCode::Char('k') => self.top = self.top.saturating_sub(1),
            KeyCode::PageDown | KeyCode::Char(' ') => self.top = (self.top + 20).min(last),
            KeyCode::PageUp => self.top = self.top.saturating_sub(20),
            KeyCode::Char('n') => self.top = self.file_from(true).unwrap_or(self.top),
            KeyCode::Char('p') => self.top = self.file_from(false).unwrap_or(self.top),
            KeyCode::Char('c') if matches!(self.lines, Some(Ok(_))) => self.typing = Some(String::new()),
            KeyCode::Char('S') if !self.comments.is_empty() => {
                return Reaction::CloseAnd(Intent::SendReview { pane: self.pane, text: self.prompt() });
            }
            _ => {}
        }
        Reaction::Stay
    }

    fn draw(&self, app: &App, buf: &mut Buffer, area: Rect) {
        let box_area = Rect::new(area.x + 2, area.y + 1, area.width.saturating_sub(4), area.height.saturating_sub(3));
        Clear.render(box_area, buf);
        let title = format!(" review {} ", visible(&self.place));
        let keys = " j/k scroll  n/p file  c comment on the top line  S send the comments  esc closes ";
        let block = overlay_block(app, "", "").title(title).title_bottom(keys).style(theme(app, "overlay"));
        let inner = block.inner(box_area);
        block.render(box_area, buf);
        let width = inner.width as usize;
        let footer = 1 + self.comments.len().min(3) as u16;
        let height = inner.height.saturating_sub(footer) as usize;
        let message = super::list_message(&self.lines, "reading the branch…", "no changes against its base");
        if let Some(text) = message {
            buf.set_string(inner.x + 1, inner.y, truncate(&text, width.saturating_sub(1)), theme(app, "overlay"));
        }
        let base = theme(app, "overlay");
        for (row, (n, line)) in self.lines().iter().enumerate().skip(self.top).take(height).enumerate() {
            // The agent's text: shown with its controls made visible, coloured by kind.
            let fg = match crate::text::diff_line(line) {
                DiffLine::Added => Some(Color::Green),
                DiffLine::Removed => Some(Color::Red),
                DiffLine::Hunk => Some(Color::Cyan),
                DiffLine::File | DiffLine::Other => None,
            };
            let mut style = fg.map_or(base, |c| base.patch(Style::default().fg(c)));
            if n == self.top {
                style = style.patch(theme(app, "overlay_selected"));
            }
            let y = inner.y + row as u16;
            buf.set_string(inner.x, y, truncate(&visible(line), width), style);
        }
        let mut y = inner.y + inner.height.saturating_sub(footer);
        for comment in self.comments.iter().rev().take(3).rev() {
            buf.set_string(
                inner.x,
                y,
                truncate(&format!("✎ {}", visible(comment)), width),
                theme(app, "overlay_border"),
            );
            y += 1;
        }
        let status = match &self.typing {
            Some(text) => format!("comment: {text}"),
            None if self.comments.is_empty() => "no comments yet".into(),
            None => format!(
                "{} comment{}: S sends them",
                self.comments.len(),
                if self.comments.len() == 1 { "" } else { "s" }
            ),
        };
        buf.set_string(inner.x, y, truncate(&visible(&status), width), theme(app, "message"));
    }
}
