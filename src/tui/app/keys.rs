//! Keys and pastes: to an open overlay (its `View`), to the sidebar, to copy mode, to
//! a binding, or typed into the focused pane.

use super::*;

impl App {
    pub(super) fn on_input(&mut self, ev: InputEvent) {
        match ev {
            InputEvent::Key(k) => self.on_key(k),
            InputEvent::Mouse(m) => self.on_mouse(m),
            InputEvent::Paste(text) => match &mut self.overlay {
                Some(overlay) => overlay.view_mut().paste(&text),
                None if self.copy.is_some() => {}
                None => self.type_keys(vec![InputEvent::Paste(text)]),
            },
            InputEvent::FocusGained | InputEvent::FocusLost | InputEvent::Raw(_) => {
                if self.overlay.is_none() && self.copy.is_none() {
                    self.type_keys(vec![ev]);
                }
            }
        }
    }

    pub(super) fn on_key(&mut self, key: Key) {
        if self.overlay.is_some() {
            self.overlay_key(key);
            return;
        }
        let mode = self.mode;
        let own = self.keymap.action(mode, &key);
        // From the sidebar, the panes' own bindings work too (the prefix, alt-m), and leave it;
        // a key bound to nothing is dropped there, never typed into a pane.
        let borrowed = match (own, mode) {
            (None, Mode::Approvals) => self.keymap.action(Mode::Normal, &key),
            _ => None,
        };
        match own.or(borrowed) {
            Some(action) => {
                if mode == Mode::Prefix || borrowed.is_some() {
                    self.mode = Mode::Normal;
                }
                self.run(action, key);
                if mode == Mode::Approvals && self.mode != Mode::Approvals {
                    self.sidebar.leave();
                    self.sidebar_changed();
                }
            }
            None if mode.passes_keys_through() => {
                let Some(p) = self.focused() else { return };
                if self.pane_exited(p) {
                    // Enter starts it again in its place (an agent resumes its conversation).
                    if key.code == KeyCode::Enter && key.mods.0 == 0 {
                        self.command(Command::Respawn { pane: p });
                        return;
                    }
                    let agent = self.session.as_ref().and_then(|s| s.pane(p)).is_some_and(|i| i.agent.is_some());
                    // Short: it has to fit beside the tabs.
                    let again = if agent { "enter resumes it" } else { "enter runs it again" };
                    let close =
                        self.keymap.keys_for(Action::ClosePane).map(|k| format!(", {k} closes it")).unwrap_or_default();
                    self.say(format!("exited: {again}{close}"));
                    return;
                }
                self.type_keys(vec![InputEvent::Key(key)]);
                // The echo, if any, comes back as a frame; that is when to draw.
                self.typed_only = true;
            }
            None if mode == Mode::Prefix => self.mode = Mode::Normal,
            None => {}
        }
    }

    pub(super) fn overlay_key(&mut self, key: Key) {
        let Some(mut overlay) = self.overlay.take() else { return };
        let reaction = overlay.view_mut().key(&key, self);
        let (stays, intent) = match reaction {
            Reaction::Stay => (true, None),
            Reaction::Close => (false, None),
            Reaction::CloseAnd(intent) => (false, Some(intent)),
            Reaction::StayAnd(intent) => (true, Some(intent)),
        };
        if stays {
            self.overlay = Some(overlay);
        }
        if let Some(intent) = intent {
            self.carry_out(intent);
        }
    }

    /// Does what a view asked.
    pub(super) fn carry_out(&mut self, intent: Intent) {
        match intent {
            Intent::Command(command) => self.command(command),
            Intent::RemoveWorktree(pane) => {
                let command = Command::ClosePane { pane, worktree: Some(WorktreeChoice::Remove) };
                self.request(Pending::RemoveWorktree(pane), |id| ClientMsg::Command { id, command });
            }
            Intent::Decide(action, decision) => self.decide(action, decision),
            Intent::Copy { text, said } => {
                self.set_clipboard(&text);
                if !said.is_empty() {
                    self.say(said);
                }
            }
            Intent::Unshare(session) => {
                self.request(Pending::Unshare, |id| ClientMsg::Unshare { id, share: None, session: Some(session) })
            }
            Intent::Submit(kind, input) => self.submit_prompt(kind, input),
            Intent::Chosen(purpose, entry) => self.switched(purpose, entry),
            Intent::Review(pane) => self.open_review(pane),
            Intent::AskMerge { pane, branch } => {
                let question = format!(
                    "merge {branch} into its base? enter: fast-forward  s: squash  c: merge commit  p: pull request  esc: not now"
                );
                self.overlay = Some(Overlay::confirm(ConfirmKind::Merge(pane), question));
            }
            Intent::Merge(pane, how) => {
                self.say("merging…");
                let make = |id| ClientMsg::Merge { id, target: pane.to_string(), how, who: None, close_others: false };
                self.request(Pending::Merged(pane), make);
            }
            Intent::CloseOthers(pane) => {
                self.request(Pending::Said, |id| ClientMsg::CloseOthers { id, target: pane.to_string() });
            }
            Intent::Race(agents) => self.overlay = Some(Overlay::prompt(PromptKind::RaceTask(agents), String::new())),
            Intent::SendReview { pane, text } => {
                let place = self.place_of(pane);
                let make = |id| ClientMsg::Send { id, target: pane.to_string(), text, keys: Vec::new(), enter: true };
                self.request(Pending::HandedOff(place), make);
            }
        }
    }
}
