//! Copy mode: scrollback fetched from the runner, moved through, searched and yanked.

use super::*;

impl App {
    pub(super) fn enter_copy(&mut self) {
        let Some(p) = self.focused() else { return };
        if self.copy.as_ref().is_some_and(|c| c.pane == p) {
            return;
        }
        let Some(content) = self.panes.get(&p) else { return };
        self.copy = Some(CopyState::new(p, content));
        self.mode = Mode::Copy;
        self.fetch_lines();
    }

    pub(super) fn leave_copy(&mut self) {
        self.copy = None;
        if self.mode == Mode::Copy {
            self.mode = Mode::Normal;
        }
    }

    /// Leaves copy mode if the scrollback it was looking at was renumbered (reflow).
    pub(super) fn check_copy(&mut self) {
        let Some(c) = &mut self.copy else { return };
        let Some(content) = self.panes.get(&c.pane) else { return };
        if content.epoch != c.epoch {
            self.leave_copy();
            self.say("the pane was resized; left copy mode");
            return;
        }
        // Lines older than the scrollback keeps have gone while we looked.
        c.top = c.top.max(content.first_line);
        c.cursor.0 = c.cursor.0.max(content.first_line);
    }

    pub(super) fn fetch_lines(&mut self) {
        let Some(c) = &mut self.copy else { return };
        let Some(content) = self.panes.get(&c.pane) else { return };
        let pane = c.pane;
        for from in c.missing(content) {
            self.request(Pending::Lines, |id| ClientMsg::GetLines {
                id,
                pane,
                from,
                count: crate::tui::copy::FETCH as u16,
            });
        }
    }

    pub(super) fn copy_action(&mut self, action: CopyAction) {
        let Some(c) = &mut self.copy else { return };
        let Some(content) = self.panes.get(&c.pane) else { return };
        let pane = c.pane;
        match c.act(action, content) {
            CopyOutcome::Nothing => self.fetch_lines(),
            CopyOutcome::Exit => self.leave_copy(),
            CopyOutcome::Yank { start, end, block } => {
                self.request(Pending::Yank, |id| ClientMsg::GetText { id, pane, start, end, block });
                self.leave_copy();
            }
            CopyOutcome::Send { start, end, block } => {
                let what = "the selection".to_string();
                self.request(Pending::HandOff(what), |id| ClientMsg::GetText { id, pane, start, end, block });
                self.leave_copy();
            }
            CopyOutcome::SendAnswer => {
                self.leave_copy();
                self.hand_off_answer(pane);
            }
            CopyOutcome::Search { backward } => {
                self.overlay = Some(Overlay::prompt(PromptKind::Search { backward }, String::new()));
            }
            CopyOutcome::SearchAgain { backward } => {
                let Some((_, first_backward)) = c.last_search.clone() else {
                    self.error("no search yet; press / to search");
                    return;
                };
                // `N` searches the other way from the original search.
                self.search(backward != first_backward);
            }
        }
    }

    pub(super) fn search(&mut self, backward: bool) {
        let Some(c) = &self.copy else { return };
        let Some((query, _)) = c.last_search.clone() else { return };
        let (pane, from) = (c.pane, c.cursor);
        let len = query.chars().count() as u16;
        self.request(Pending::Search { len, backward }, |id| ClientMsg::Search { id, pane, query, from, backward });
    }
}
