//! The TUI's overlays, one file each: the agent picker, a prompt on the status line, a
//! question to confirm, the help, the cost view, the share links, the pane numbers and the
//! switcher. Each owns its state, takes its keys and draws itself behind one trait,
//! `View`; what a key asks of the rest of the app comes back as an `Intent`, which `App`
//! carries out (it alone sends to the runner). The approval sidebar is not an overlay: it
//! lies beside the panes and stays while they are used (`sidebar`).

pub mod compare;
pub mod confirm;
pub mod cost;
pub mod display_panes;
pub mod help;
pub mod picker;
pub mod prompt;
pub mod review;
pub mod share;
pub mod switcher;

use super::app::App;
use crate::approval::Decision;
use crate::input::{Key, KeyCode, Mods};
use crate::layout::PaneId;
use crate::protocol::Command;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::Line;

pub use compare::Compare;
pub use confirm::{Confirm, ConfirmKind};
pub use cost::Cost;
pub use display_panes::DisplayPanes;
pub use help::Help;
pub use picker::{Picker, PickerItem};
pub use prompt::{Prompt, PromptKind};
pub use review::Review;
pub use share::Share;
pub use switcher::{Purpose, Switcher};

/// An overlay: its keys, its drawing.
pub trait View {
    /// A key while it is open.
    fn key(&mut self, key: &Key, app: &App) -> Reaction;

    /// Draws it over the frame (`area`: the whole terminal). A view on the status line
    /// draws nothing here.
    fn draw(&self, _app: &App, _buf: &mut Buffer, _area: Rect) {}

    /// What it shows on the status line, and the column of its cursor there: a prompt's
    /// label and what was typed, a question.
    fn status_line(&self, _app: &App) -> Option<(Line<'static>, u16)> {
        None
    }

    /// Text pasted while it is open (its first line), for views one types into.
    fn paste(&mut self, _text: &str) {}
}

/// What a key did to a view.
#[derive(Debug, PartialEq)]
pub enum Reaction {
    Stay,
    Close,
    /// Closes, and the app does this.
    CloseAnd(Intent),
    /// Stays open, and the app does this.
    StayAnd(Intent),
}

/// What a view asks of the app.
#[derive(Debug, PartialEq)]
pub enum Intent {
    Command(Command),
    /// Close the pane and remove its worktree (which git may refuse: the reply is awaited).
    RemoveWorktree(PaneId),
    Decide(u64, Decision),
    /// Put this on the clipboard, and say so.
    Copy {
        text: String,
        said: &'static str,
    },
    /// Stop sharing this session.
    Unshare(String),
    /// What was typed at a prompt.
    Submit(PromptKind, String),
    /// The switcher chose a pane.
    Chosen(Purpose, switcher::Entry),
    /// Review this pane's branch.
    Review(PaneId),
    /// Ask for a task, then race these agents on it.
    Race(Vec<String>),
    /// Ask whether to merge this pane's branch, and how.
    AskMerge {
        pane: PaneId,
        branch: String,
    },
    /// Merge this pane's branch into its base.
    Merge(PaneId, crate::protocol::MergeHow),
    /// Close the other worktree panes of this pane's tab, removing clean worktrees.
    CloseOthers(PaneId),
    /// Send review comments to this pane's agent, as this prompt.
    SendReview {
        pane: PaneId,
        text: String,
    },
}

/// What a view that waits for a list from the runner shows in its place: `loading` until
/// it comes, why it could not come (shown as text), or `empty`. None once there is a list.
pub fn list_message<T>(list: &Option<Result<Vec<T>, String>>, loading: &str, empty: &str) -> Option<String> {
    match list {
        None => Some(loading.to_string()),
        Some(Err(e)) => Some(crate::text::visible(e).into_owned()),
        Some(Ok(l)) if l.is_empty() => Some(empty.to_string()),
        Some(Ok(_)) => None,
    }
}

/// Esc, ctrl-c or ctrl-g: every view closes on them (but the few that wait for Enter).
pub fn cancels(key: &Key) -> bool {
    let ctrl = |c: char| key.mods.has(Mods::CTRL) && key.code == KeyCode::Char(c);
    key.code == KeyCode::Esc || ctrl('c') || ctrl('g')
}

/// A character typed without a modifier (shift aside), for views one types into.
pub fn typed(key: &Key) -> Option<char> {
    match key.code {
        KeyCode::Char(c) if key.mods.0 & !Mods::SHIFT == 0 => Some(c),
        _ => None,
    }
}

/// The overlay open over the panes, if any.
#[derive(Clone, Debug, PartialEq)]
pub enum Overlay {
    Picker(Picker),
    Prompt(Prompt),
    Confirm(Confirm),
    Help(Help),
    Cost(Cost),
    Compare(Compare),
    Review(Review),
    Share(Share),
    DisplayPanes(DisplayPanes),
    Switcher(Switcher),
}

/// `$body` with `$v` bound to whichever view `$overlay` holds.
macro_rules! each_view {
    ($overlay:expr, $v:ident => $body:expr) => {
        match $overlay {
            Overlay::Picker($v) => $body,
            Overlay::Prompt($v) => $body,
            Overlay::Confirm($v) => $body,
            Overlay::Help($v) => $body,
            Overlay::Cost($v) => $body,
            Overlay::Compare($v) => $body,
            Overlay::Review($v) => $body,
            Overlay::Share($v) => $body,
            Overlay::DisplayPanes($v) => $body,
            Overlay::Switcher($v) => $body,
        }
    };
}

impl Overlay {
    pub fn view(&self) -> &dyn View {
        each_view!(self, v => v)
    }

    pub fn view_mut(&mut self) -> &mut dyn View {
        each_view!(self, v => v)
    }

    pub fn prompt(kind: PromptKind, input: String) -> Overlay {
        Overlay::Prompt(Prompt { kind, input })
    }

    pub fn confirm(kind: ConfirmKind, question: String) -> Overlay {
        Overlay::Confirm(Confirm { kind, question })
    }
}
