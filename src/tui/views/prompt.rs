//! A prompt on the status line: a pane's or a tab's new name, a search, the reason a
//! denial gives the agent.

use super::{Intent, Reaction, View, cancels, typed};
use crate::input::{Key, KeyCode, Mods};
use crate::layout::PaneId;
use crate::tui::app::App;
use crate::tui::view::theme;
use ratatui::text::{Line, Span};
use unicode_width::UnicodeWidthStr;

#[derive(Clone, Debug, PartialEq)]
pub enum PromptKind {
    RenamePane(PaneId),
    RenameTab,
    Search {
        backward: bool,
    },
    /// Deny a pending action, telling the agent why.
    DenyReason(u64),
    /// The task for a race of these agents.
    RaceTask(Vec<String>),
    /// A comment from a shared link, on this.
    Comment(crate::protocol::CommentOn),
}

#[derive(Clone, Debug, PartialEq)]
pub struct Prompt {
    pub kind: PromptKind,
    pub input: String,
}

impl View for Prompt {
    fn key(&mut self, key: &Key, _app: &App) -> Reaction {
        match key.code {
            _ if cancels(key) => Reaction::Close,
            KeyCode::Enter => Reaction::CloseAnd(Intent::Submit(self.kind.clone(), std::mem::take(&mut self.input))),
            KeyCode::Backspace => {
                self.input.pop();
                Reaction::Stay
            }
            KeyCode::Char('u') if key.mods.has(Mods::CTRL) => {
                self.input.clear();
                Reaction::Stay
            }
            _ => {
                if let Some(c) = typed(key) {
                    self.input.push(c);
                }
                Reaction::Stay
            }
        }
    }

    fn status_line(&self, app: &App) -> Option<(Line<'static>, u16)> {
        let label = match &self.kind {
            PromptKind::RenamePane(_) => "rename pane: ".to_string(),
            PromptKind::RenameTab => "rename tab: ".to_string(),
            PromptKind::Search { backward: false } => "search down: ".to_string(),
            PromptKind::Search { backward: true } => "search up: ".to_string(),
            PromptKind::DenyReason(_) => "deny, telling the agent: ".to_string(),
            PromptKind::RaceTask(agents) => format!("task for {}: ", agents.join(", ")),
            PromptKind::Comment(on) => {
                let on = match on {
                    crate::protocol::CommentOn::Session => "the session".to_string(),
                    crate::protocol::CommentOn::Pane { pane, .. } => format!("pane {}", app.pane_number(*pane)),
                    crate::protocol::CommentOn::Action { action } => format!("approval {action}"),
                };
                format!("comment on {on} (everyone watching sees it): ")
            }
        };
        Some(status_line(app, label, self.input.clone()))
    }

    fn paste(&mut self, text: &str) {
        self.input.push_str(text.lines().next().unwrap_or(""));
    }
}

/// A label and what follows it on the status line, and the column after them.
pub fn status_line(app: &App, label: String, input: String) -> (Line<'static>, u16) {
    let x = (label.width() + input.width() + 1) as u16;
    let line = Line::from(vec![
        Span::styled(format!(" {label}"), theme(app, "message")),
        Span::styled(input, theme(app, "overlay")),
    ]);
    (line, x)
}
