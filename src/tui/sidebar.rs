//! The approval sidebar's state: every action waiting for a verdict across the runner's
//! sessions, oldest first, and which one the keys act on. Shown while something waits
//! (unless hidden), and on demand.

use crate::protocol::PendingView;

#[derive(Debug, Default)]
pub struct Sidebar {
    pub pending: Vec<PendingView>,
    /// The latest decisions, newest first.
    pub recent: Vec<crate::protocol::RecentView>,
    /// The action the keys act on, by id (so it stays put when others come and go).
    selected: Option<u64>,
    /// Hidden by the user while something waits; shown again when something new comes.
    hidden: bool,
    /// Shown by the user while nothing waits.
    shown: bool,
}

/// Columns the sidebar takes, border included.
pub const WIDTH: u16 = 40;

impl Sidebar {
    pub fn visible(&self) -> bool {
        (!self.pending.is_empty() && !self.hidden) || self.shown
    }

    /// The runner's list replaces ours. Something new shows the sidebar again.
    pub fn set(&mut self, pending: Vec<PendingView>) {
        let new = pending.iter().any(|p| !self.pending.iter().any(|q| q.id == p.id));
        if new {
            self.hidden = false;
        }
        self.pending = pending;
        if !self.selected.is_some_and(|id| self.pending.iter().any(|p| p.id == id)) {
            self.selected = self.pending.first().map(|p| p.id);
        }
    }

    pub fn selected(&self) -> Option<&PendingView> {
        let id = self.selected?;
        self.pending.iter().find(|p| p.id == id)
    }

    pub fn selected_index(&self) -> Option<usize> {
        let id = self.selected?;
        self.pending.iter().position(|p| p.id == id)
    }

    /// Moves the selection by `by`, wrapping.
    pub fn step(&mut self, by: isize) {
        let n = self.pending.len() as isize;
        if n == 0 {
            return;
        }
        let i = self.selected_index().map_or(0, |i| i as isize);
        self.selected = Some(self.pending[((i + by).rem_euclid(n)) as usize].id);
    }

    pub fn toggle(&mut self) {
        if self.visible() {
            self.hidden = true;
            self.shown = false;
        } else {
            self.hidden = false;
            self.shown = true;
        }
    }

    /// Shows it, to act on it, until the user leaves it (`leave`): it stays when the last
    /// action is decided, so the key that leaves it (esc) never reaches a pane instead.
    pub fn show(&mut self) {
        self.hidden = false;
        self.shown = true;
    }

    /// The user left it: shown from now on only while something waits.
    pub fn leave(&mut self) {
        self.shown = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(id: u64) -> PendingView {
        PendingView {
            id,
            session: "0".into(),
            pane: 1,
            place: None,
            agent: "claude".into(),
            kind: crate::approval::ActionKind::ToolCall,
            tool: "Bash".into(),
            what: format!("cmd {id}"),
            rule: None,
            reason: String::new(),
            source: Default::default(),
            warning: None,
            diff: None,
            since: 0,
            deadline: 0,
        }
    }

    #[test]
    fn shown_while_something_waits_and_the_selection_follows_the_action() {
        let mut s = Sidebar::default();
        assert!(!s.visible());
        s.set(vec![p(1), p(2)]);
        assert!(s.visible());
        assert_eq!(s.selected().map(|p| p.id), Some(1));
        s.step(1);
        assert_eq!(s.selected().map(|p| p.id), Some(2));
        s.step(1);
        assert_eq!(s.selected().map(|p| p.id), Some(1), "wraps");
        s.step(-1);
        // Action 1 decided: the selection stays on 2.
        s.set(vec![p(2), p(3)]);
        assert_eq!(s.selected().map(|p| p.id), Some(2));
        // Hidden, it stays hidden until something new arrives.
        s.toggle();
        assert!(!s.visible());
        s.set(vec![p(2), p(3)]);
        assert!(!s.visible());
        s.set(vec![p(2), p(3), p(4)]);
        assert!(s.visible());
        // Nothing waits: gone, unless asked for.
        s.set(vec![]);
        assert!(!s.visible() && s.selected().is_none());
        s.toggle();
        assert!(s.visible());
    }

    #[test]
    fn repeats_are_told_once_with_their_count() {
        use crate::approval::{ActionKind, DecidedBy, Verdict};
        let r = |ts: u64, what: &str| crate::protocol::RecentView {
            ts,
            session: "s".into(),
            agent: "claude".into(),
            kind: ActionKind::Sandbox,
            what: what.into(),
            verdict: Verdict::Deny,
            by: DecidedBy::Sandbox,
            times: 1,
        };
        // As they come, oldest first.
        let mut recent = Vec::new();
        for v in [
            r(5, "write to /etc/x"),
            r(7, "write to /etc/x"),
            r(8, "connection to 1.2.3.4:80"),
            r(9, "write to /etc/x"),
        ] {
            crate::protocol::RecentView::note(&mut recent, v, 30);
        }
        let shown: Vec<(u64, &str, usize)> = recent.iter().map(|v| (v.ts, v.what.as_str(), v.times as usize)).collect();
        assert_eq!(shown, vec![(9, "write to /etc/x", 3), (8, "connection to 1.2.3.4:80", 1)]);
    }
}
