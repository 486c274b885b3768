//! What a bound key does (`Action`s from the keymap), and the switcher's and prompts'
//! results.

use super::*;

impl App {
    /// Carries out a bound action.
    pub fn run(&mut self, action: Action, key: Key) {
        let focused = self.focused();
        match action {
            Action::SplitRight => self.command(Command::Split { dir: Direction::Right, spawn: Spawn::Shell }),
            Action::SplitDown => self.command(Command::Split { dir: Direction::Down, spawn: Spawn::Shell }),
            Action::ClosePane => {
                let Some(p) = focused else { return };
                let branch = self.session.as_ref().and_then(|s| s.pane(p)).and_then(|i| i.branch.clone());
                if let Some(branch) = branch {
                    let what = self.pane_label(p);
                    let question = format!(
                        "close pane {} ({what}); its worktree on {branch}: enter keeps it, delete removes it (if committed), esc cancels",
                        self.pane_number(p)
                    );
                    self.overlay = Some(Overlay::confirm(ConfirmKind::ClosePaneWorktree(p), question));
                } else if self.pane_exited(p) {
                    self.command(Command::ClosePane { pane: p, worktree: None });
                } else {
                    let what = self.pane_label(p);
                    let question = format!(
                        "close pane {} ({what}, still running)? enter closes, other keys keep it",
                        self.pane_number(p)
                    );
                    self.overlay = Some(Overlay::confirm(ConfirmKind::ClosePane(p), question));
                }
            }
            Action::Focus(dir) => self.command(Command::FocusDirection { dir }),
            Action::FocusNext => self.command(Command::FocusNext),
            Action::FocusPrev => self.command(Command::FocusPrev),
            Action::FocusPane(n) => self.command(Command::FocusNumber { number: n }),
            Action::Resize(dir, amount) => self.command(Command::Resize { dir, amount }),
            Action::Zoom => self.command(Command::Zoom),
            Action::Equalize => self.command(Command::Equalize),
            Action::RenamePane => {
                if let Some(p) = focused {
                    let input =
                        self.session.as_ref().and_then(|s| s.pane(p)).and_then(|i| i.name.clone()).unwrap_or_default();
                    self.overlay = Some(Overlay::prompt(PromptKind::RenamePane(p), input));
                }
            }
            Action::DisplayPanes => {
                self.overlay =
                    Some(Overlay::DisplayPanes(DisplayPanes { until: Instant::now() + Duration::from_secs(3) }))
            }
            Action::NewTab => {
                self.mode = Mode::Normal;
                self.command(Command::NewTab { spawn: Spawn::Shell });
            }
            Action::CloseTab => {
                let n = self.visible().len();
                self.mode = Mode::Normal;
                let question = format!(
                    "close this tab and its {n} pane{}? enter closes, other keys keep it",
                    if n == 1 { "" } else { "s" }
                );
                self.overlay = Some(Overlay::confirm(ConfirmKind::CloseTab, question));
            }
            Action::NextTab => self.command(Command::NextTab),
            Action::PrevTab => self.command(Command::PrevTab),
            Action::SelectTab(n) => {
                self.mode = Mode::Normal;
                self.command(Command::SelectTab { index: n.saturating_sub(1) as usize });
            }
            Action::RenameTab => {
                self.mode = Mode::Normal;
                let input = self.session.as_ref().and_then(|s| s.tab()).map(|t| t.name.clone()).unwrap_or_default();
                self.overlay = Some(Overlay::prompt(PromptKind::RenameTab, input));
            }
            Action::AgentPicker => {
                self.overlay = Some(Overlay::Picker(Picker::loading()));
                self.request(Pending::Agents, |id| ClientMsg::ListAgents { id });
            }
            Action::Detach => self.effects.push(Effect::Send(ClientMsg::Detach)),
            Action::Help => self.overlay = Some(Overlay::Help(Help::default())),
            Action::ReloadConfig => self.effects.push(Effect::ReloadConfig),
            Action::EnterMode(Mode::Copy) => self.enter_copy(),
            Action::EnterMode(m) => self.mode = m,
            Action::SendKey => self.type_keys(vec![InputEvent::Key(key)]),
            Action::CopyMode => self.enter_copy(),
            Action::ScrollPageUp => {
                self.enter_copy();
                self.copy_action(CopyAction::PageUp);
            }
            Action::Copy(a) => self.copy_action(a),
            Action::Unbind => {}
            Action::Approvals => {
                self.sidebar.show();
                self.sidebar_changed();
                if self.sidebar_area().is_none() {
                    self.error("the terminal is too narrow for the sidebar; `teamster approvals` lists what waits");
                    return;
                }
                self.mode = Mode::Approvals;
                if self.sidebar.pending.is_empty() {
                    self.say("nothing is waiting for you");
                }
            }
            Action::ToggleSidebar => {
                self.sidebar.toggle();
                self.sidebar_changed();
            }
            Action::CostView => {
                self.mode = Mode::Normal;
                self.overlay = Some(Overlay::Cost(Cost::default()));
                self.request(Pending::Cost, |id| ClientMsg::Cost { id, session: None });
            }
            Action::ReviewView => {
                self.mode = Mode::Normal;
                if let Some(pane) = self.focused() {
                    self.open_review(pane);
                }
            }
            Action::CompareView => {
                self.mode = Mode::Normal;
                let near = self.focused();
                self.overlay = Some(Overlay::Compare(Compare { near, ..Compare::default() }));
                self.request(Pending::Compare, |id| ClientMsg::Compare { id, session: None, near });
            }
            Action::Share => {
                self.mode = Mode::Normal;
                self.overlay = Some(Overlay::Share(Share::default()));
                let Some(s) = self.session.as_ref() else { return };
                // Shared already: its links again, not another share.
                if s.shared {
                    self.request(Pending::Shares, |id| ClientMsg::Shares { id });
                } else {
                    let share = crate::protocol::ShareRequest { session: Some(s.name.clone()), ..Default::default() };
                    self.request(Pending::Shares, |id| ClientMsg::Share { id, share });
                }
            }
            Action::Approve => self.resolve(true, None, None),
            Action::Deny => self.resolve(false, None, None),
            Action::Comment => {
                // The selected pending action in the sidebar, else the focused pane.
                let on = match (self.mode, self.sidebar.selected(), focused) {
                    (Mode::Approvals, Some(p), _) => crate::protocol::CommentOn::Action { action: p.id },
                    (_, _, Some(pane)) => crate::protocol::CommentOn::Pane { pane, line: None },
                    _ => crate::protocol::CommentOn::Session,
                };
                self.overlay = Some(Overlay::prompt(PromptKind::Comment(on), String::new()));
            }
            Action::DenyWithMessage => {
                if let Some(p) = self.sidebar.selected() {
                    self.overlay = Some(Overlay::prompt(PromptKind::DenyReason(p.id), String::new()));
                }
            }
            Action::AlwaysAllow => match self.sidebar.selected() {
                Some(p) if p.kind == crate::approval::ActionKind::ToolCall => {
                    let question = format!(
                        "allow `{}` from now on: s in this session, w in this workspace, e everywhere (esc cancels)",
                        crate::tui::view::truncate(&p.what, 41)
                    );
                    self.overlay = Some(Overlay::confirm(ConfirmKind::AlwaysAllow(p.id), question));
                }
                Some(p) if p.kind == crate::approval::ActionKind::LlmRequest => {
                    self.say("spend is approved one step at a time: approve it with y")
                }
                Some(p) => {
                    let kind = p.kind.words().to_string();
                    self.say(format!("{kind} is judged each time: approve it once with y"))
                }
                None => self.say("nothing is waiting for you"),
            },
            Action::JumpToPane => {
                let Some(p) = self.sidebar.selected() else { return };
                let here = self.session.as_ref().is_some_and(|s| s.name == p.session);
                if here {
                    let pane = p.pane;
                    self.mode = Mode::Normal;
                    self.command(Command::Focus { pane });
                } else {
                    let session = p.session.clone();
                    self.say(format!("that is in session {session}: `teamster attach -t {session}`"));
                }
            }
            Action::PendingNext => self.sidebar.step(1),
            Action::PendingPrev => self.sidebar.step(-1),
            Action::Switcher => {
                self.mode = Mode::Normal;
                self.open_switcher(Purpose::Jump);
            }
            Action::ToggleSync => {
                self.mode = Mode::Normal;
                let on = self.session.as_ref().and_then(|s| s.tab()).is_some_and(|t| t.synchronized);
                self.command(Command::ToggleSync);
                self.say(if on {
                    "typing goes to the focused pane again"
                } else {
                    "typing goes to every pane of this tab (not into another pane's question)"
                });
            }
            Action::NextLayout => {
                self.mode = Mode::Normal;
                let current = self.session.as_ref().and_then(|s| s.tab()).and_then(|t| t.arrangement);
                let next = crate::layout::Arrangement::next(current);
                self.command(Command::SelectLayout { arrangement: next });
                self.say(format!("layout: {}", next.name()));
            }
            Action::HandOff => {
                self.mode = Mode::Normal;
                if let Some(p) = focused {
                    self.hand_off_answer(p);
                }
            }
            Action::SwapPrev | Action::SwapNext => {
                self.mode = Mode::Normal;
                let panes = self.session.as_ref().and_then(|s| s.tab()).map(|t| t.layout.panes()).unwrap_or_default();
                let at = focused.and_then(|f| panes.iter().position(|p| *p == f));
                match at {
                    Some(i) if panes.len() > 1 => {
                        let n = panes.len();
                        let j = if action == Action::SwapNext { (i + 1) % n } else { (i + n - 1) % n };
                        self.command(Command::SwapPane { pane: panes[i], with: panes[j] });
                    }
                    _ => self.say("only one pane in this tab: nothing to swap with"),
                }
            }
            Action::BreakPane => {
                self.mode = Mode::Normal;
                if let Some(p) = focused {
                    self.command(Command::MovePane { pane: p, tab: None });
                }
            }
        }
    }

    /// Opens the switcher and asks the runner for every session.
    pub(super) fn open_switcher(&mut self, purpose: Purpose) {
        self.overlay = Some(Overlay::Switcher(Switcher::new(purpose)));
        self.request(Pending::Switcher, |id| ClientMsg::List { id });
    }

    /// Asks for a pane's agent's last answer, to hand it on.
    pub(super) fn hand_off_answer(&mut self, pane: PaneId) {
        if self.session.as_ref().and_then(|s| s.pane(pane)).is_none_or(|p| p.agent.is_none()) {
            self.error("no agent runs in this pane: select text in copy mode to send it on");
            return;
        }
        let what = format!("the last reply of {}", self.place_of(pane));
        self.request(Pending::HandOff(what), |id| ClientMsg::LastAnswer { id, target: pane.to_string() });
    }

    /// What the switcher chose: go there, or send the text there.
    /// Opens the review of `pane`'s branch, asking the runner for its diff.
    pub(super) fn open_review(&mut self, pane: PaneId) {
        self.overlay = Some(Overlay::Review(crate::tui::views::Review::new(pane, self.place_of(pane))));
        self.request(Pending::Diff, |id| ClientMsg::Diff { id, target: pane.to_string() });
    }

    pub(super) fn switched(&mut self, purpose: Purpose, chosen: crate::tui::views::switcher::Entry) {
        match purpose {
            Purpose::Jump => {
                let here = self.session.as_ref().is_some_and(|s| s.name == chosen.session);
                if here {
                    self.command(Command::Focus { pane: chosen.pane });
                } else {
                    // Attached there first; the focus then applies to that session.
                    self.effects.push(Effect::SwitchSession(chosen.session));
                    self.command(Command::Focus { pane: chosen.pane });
                }
            }
            Purpose::SendTo { text, .. } => {
                let target = chosen.pane.to_string();
                let make = |id| ClientMsg::Send { id, target, text, keys: Vec::new(), enter: true };
                self.request(Pending::HandedOff(chosen.place), make);
            }
        }
    }

    pub(super) fn submit_prompt(&mut self, kind: PromptKind, input: String) {
        match kind {
            PromptKind::RenamePane(pane) => self.command(Command::RenamePane { pane, name: input }),
            PromptKind::RenameTab => self.command(Command::RenameTab { name: input }),
            PromptKind::Comment(on) => {
                if input.trim().is_empty() {
                    return self.error("an empty comment says nothing: nothing was sent");
                }
                self.request(Pending::Commented, |id| ClientMsg::Comment { id, on, text: input });
            }
            PromptKind::RaceTask(agents) => {
                if input.trim().is_empty() {
                    return self.error("a race needs a task: nothing was started");
                }
                self.say(format!(
                    "racing {} agents: opening their worktrees; each gets the task once started",
                    agents.len()
                ));
                let near = self.focused();
                let race = |id| {
                    let race = crate::protocol::Race {
                        task: input,
                        agents,
                        base: None,
                        session: None,
                        near,
                        context: Default::default(),
                    };
                    ClientMsg::Race { id, race }
                };
                self.request(Pending::Race, race);
            }
            PromptKind::DenyReason(action) => {
                self.decide(action, Decision::deny_by_person(Some(input)));
            }
            PromptKind::Search { backward } => {
                if input.is_empty() {
                    return;
                }
                if let Some(c) = &mut self.copy {
                    c.last_search = Some((input, backward));
                }
                self.search(backward);
            }
        }
    }
}
