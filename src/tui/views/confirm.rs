//! A question on the status line, answered by a key: closing a pane or a tab (Enter, never
//! a letter a typed word holds), keeping or removing a pane's worktree, where to allow an
//! action always, whether a program may set the clipboard.

use super::{Intent, Reaction, View, cancels};
use crate::approval::{AllowScope, Decision};
use crate::input::{Key, KeyCode};
use crate::layout::PaneId;
use crate::protocol::{Command, WorktreeChoice};
use crate::text::visible;
use crate::tui::app::App;
use ratatui::text::Line;

#[derive(Clone, Debug, PartialEq)]
pub enum ConfirmKind {
    ClosePane(PaneId),
    /// A pane with a git worktree: keep the worktree or remove it.
    ClosePaneWorktree(PaneId),
    CloseTab,
    /// Approve a pending action and allow it from now on: where.
    AlwaysAllow(u64),
    /// A program asked to set the clipboard to this text (`clipboard = "ask"`).
    Clipboard(String),
    /// Merge a worktree pane's branch into its base: how.
    Merge(PaneId),
    /// Merged: clear the tab's other worktree panes?
    CloseOthers(PaneId),
}

#[derive(Clone, Debug, PartialEq)]
pub struct Confirm {
    pub kind: ConfirmKind,
    pub question: String,
}

impl View for Confirm {
    fn key(&mut self, key: &Key, _app: &App) -> Reaction {
        let command = |c| Reaction::CloseAnd(Intent::Command(c));
        match &self.kind {
            // Closing is confirmed by a key no typed word contains: Enter (keep the
            // worktree), Delete (remove it).
            ConfirmKind::ClosePaneWorktree(pane) => match key.code {
                KeyCode::Enter => command(Command::ClosePane { pane: *pane, worktree: Some(WorktreeChoice::Keep) }),
                KeyCode::Delete => Reaction::CloseAnd(Intent::RemoveWorktree(*pane)),
                _ if cancels(key) => Reaction::Close,
                _ => Reaction::Stay,
            },
            ConfirmKind::AlwaysAllow(action) => {
                let scope = match key.code {
                    KeyCode::Char('s') => Some(AllowScope::Session),
                    KeyCode::Char('w') => Some(AllowScope::Workspace),
                    KeyCode::Char('e') => Some(AllowScope::Everywhere),
                    _ => None,
                };
                match scope {
                    Some(scope) => Reaction::CloseAnd(Intent::Decide(*action, Decision::ApproveAlways { scope })),
                    None if cancels(key) => Reaction::Close,
                    None => Reaction::Stay,
                }
            }
            // Closing: Enter, and nothing else (a typed word's `y` never closes anything);
            // any other key closes the question and is dropped.
            ConfirmKind::ClosePane(pane) if key.code == KeyCode::Enter => {
                command(Command::ClosePane { pane: *pane, worktree: None })
            }
            ConfirmKind::CloseTab if key.code == KeyCode::Enter => command(Command::CloseTab),
            ConfirmKind::ClosePane(_) | ConfirmKind::CloseTab => Reaction::Close,
            // Merging is asked with Enter too (a fast-forward, the usual); s, c and p choose
            // a squash, a merge commit or a pull request instead.
            ConfirmKind::Merge(pane) => {
                use crate::protocol::MergeHow;
                let how = match key.code {
                    KeyCode::Enter => Some(MergeHow::FastForward),
                    KeyCode::Char('s') => Some(MergeHow::Squash),
                    KeyCode::Char('c') => Some(MergeHow::MergeCommit),
                    KeyCode::Char('p') => Some(MergeHow::PullRequest),
                    _ => None,
                };
                match how {
                    Some(how) => Reaction::CloseAnd(Intent::Merge(*pane, how)),
                    None if cancels(key) => Reaction::Close,
                    None => Reaction::Stay,
                }
            }
            ConfirmKind::CloseOthers(pane) if key.code == KeyCode::Enter => {
                Reaction::CloseAnd(Intent::CloseOthers(*pane))
            }
            ConfirmKind::CloseOthers(_) => Reaction::Close,
            ConfirmKind::Clipboard(text) => match key.code {
                KeyCode::Char('y' | 'Y') | KeyCode::Enter => {
                    Reaction::CloseAnd(Intent::Copy { text: text.clone(), said: "" })
                }
                KeyCode::Char('n' | 'N') => Reaction::Close,
                _ if cancels(key) => Reaction::Close,
                _ => Reaction::Stay,
            },
        }
    }

    fn status_line(&self, app: &App) -> Option<(Line<'static>, u16)> {
        // Questions quote agents' commands and branches: shown, not obeyed.
        Some(super::prompt::status_line(app, format!("{} ", visible(&self.question)), String::new()))
    }
}
