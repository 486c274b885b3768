//! What the runner says: session views, pane rows, pending actions, alerts, and the
//! replies to what the app asked (agents for the picker, lines, cost, shares, worktrees).

use super::*;

impl App {
    /// What the session spent since it was last seen, for the burn rate (a new session
    /// starts it again).
    pub(super) fn note_spend(&mut self, session: &SessionView) {
        let now = Instant::now();
        match self.spend_seen {
            Some((id, seen)) if id == session.id && session.spend > seen => {
                self.recent_spend.push_back((now, session.spend - seen))
            }
            Some((id, _)) if id == session.id => {}
            _ => self.recent_spend.clear(),
        }
        self.spend_seen = Some((session.id, session.spend));
        while self.recent_spend.front().is_some_and(|(t, _)| now.duration_since(*t) >= BURN_WINDOW) {
            self.recent_spend.pop_front();
        }
    }

    pub(super) fn on_server(&mut self, msg: ServerMsg) {
        match msg {
            // The handing over of a terminal is between the client and the runner.
            ServerMsg::Hello { .. }
            | ServerMsg::TakeTerminal
            | ServerMsg::TerminalSession { .. }
            | ServerMsg::TerminalDone { .. } => {}
            ServerMsg::Pending { pending } => {
                self.sidebar.set(pending);
                self.sidebar_changed();
            }
            ServerMsg::History { recent } => {
                self.sidebar.recent = recent;
                if self.sidebar.visible() {
                    self.damage = Damage::Full;
                }
            }
            ServerMsg::Session { session } => {
                self.note_spend(&session);
                let ids: Vec<PaneId> = session.panes.iter().map(|p| p.id).collect();
                self.panes.retain(|id, _| ids.contains(id));
                if let Some(c) = &self.copy
                    && (!ids.contains(&c.pane) || session.focused() != Some(c.pane))
                {
                    self.leave_copy();
                }
                self.session = Some(*session);
            }
            ServerMsg::Frame { panes } => {
                for frame in panes {
                    let id = frame.pane;
                    self.panes.entry(id).or_default().apply(frame);
                }
                self.check_copy();
            }
            ServerMsg::Reply { id, result } => self.on_reply(id, result),
            ServerMsg::Alert { pane, kind } => {
                match kind {
                    // Pass the bell on; the pane's title marks which one rang.
                    AlertKind::Bell => self.effects.push(Effect::Terminal(b"\x07".to_vec())),
                    AlertKind::Notify { title, body } => {
                        let text = if title.is_empty() { body } else { format!("{title}: {body}") };
                        self.say(format!("{}: {text}", self.place_of(pane)));
                    }
                    AlertKind::Waiting { agent, state } => {
                        // Into an escape sequence of the real terminal: nothing in it may end it.
                        let text =
                            format!("{} in {} is {}", crate::text::visible(&agent), self.place_of(pane), state.words());
                        let out = match self.notify {
                            Notify::Mark => Vec::new(),
                            Notify::Bell => b"\x07".to_vec(),
                            Notify::Osc9 => format!("\x1b]9;teamster: {text}\x07").into_bytes(),
                            Notify::Osc777 => format!("\x1b]777;notify;teamster;{text}\x07").into_bytes(),
                        };
                        if !out.is_empty() {
                            self.effects.push(Effect::Terminal(out));
                        }
                        self.say(text);
                    }
                }
            }
            ServerMsg::Clipboard { data } => self.program_clipboard(&data),
            ServerMsg::Detached { reason } => {
                let name = self.session.as_ref().map(|s| s.name.clone()).unwrap_or_default();
                self.quit = Some(match reason {
                    crate::protocol::DetachReason::Detached => format!("[detached (from session {name})]"),
                    other => format!("[{}]", other.words()),
                });
            }
            // Refused before a session was attached: there is nothing to show but why.
            ServerMsg::Error { message } if self.session.is_none() => self.quit = Some(format!("teamster: {message}")),
            ServerMsg::Error { message } => self.error(message),
            // The runner applied the config it saw change; this client takes its keys and
            // theme from it too. A bad file: the runner says why.
            ServerMsg::ConfigReloaded { error: None } => self.effects.push(Effect::ReloadConfig),
            ServerMsg::ConfigReloaded { error: Some(why) } => self.error(why),
        }
    }

    pub(super) fn on_reply(&mut self, id: u64, result: Result<Reply, String>) {
        let Some(kind) = self.pending.remove(&id) else { return };
        let reply = match result {
            Ok(r) => r,
            Err(e) => {
                match kind {
                    Pending::Agents | Pending::Shares | Pending::Switcher => self.overlay = None,
                    // The view says why, where one looks for the rows.
                    Pending::Compare => {
                        if let Some(Overlay::Compare(view)) = &mut self.overlay {
                            view.set_rows(Err(e));
                            return;
                        }
                    }
                    Pending::Diff => {
                        if let Some(Overlay::Review(view)) = &mut self.overlay {
                            view.lines = Some(Err(e));
                            return;
                        }
                    }
                    _ => {}
                }
                self.error(e);
                return;
            }
        };
        match (kind, reply) {
            // Refused (uncommitted work): ask again, with why.
            (Pending::RemoveWorktree(pane), Reply::WorktreeNotClean { .. }) if self.overlay.is_none() => {
                let branch = self.session.as_ref().and_then(|s| s.pane(pane)).and_then(|p| p.branch.clone());
                let question = format!(
                    "uncommitted changes in the worktree of {}: commit them, then delete to try again; enter keeps it and closes; esc cancels",
                    branch.unwrap_or_else(|| "this pane".into())
                );
                self.overlay = Some(Overlay::confirm(ConfirmKind::ClosePaneWorktree(pane), question));
            }
            (_, Reply::WorktreeNotClean { message }) => self.error(message),
            (Pending::Agents, Reply::Agents { agents }) => self.fill_picker(agents),
            (Pending::Shares, Reply::Shares { shares }) => {
                let name = self.session.as_ref().map(|s| s.name.clone()).unwrap_or_default();
                let shares: Vec<_> = shares.into_iter().filter(|s| s.session == name).collect();
                if let Some(Overlay::Share(Share { shares: slot })) = &mut self.overlay {
                    *slot = Some(shares);
                }
            }
            (Pending::Unshare, Reply::Text { text }) => {
                self.overlay = None;
                self.say(text);
            }
            (Pending::Diff, Reply::Text { text }) => {
                if let Some(Overlay::Review(view)) = &mut self.overlay {
                    view.lines = Some(Ok(text.lines().map(str::to_string).collect()));
                }
            }
            (Pending::Compare, Reply::Compare { rows }) => {
                if let Some(Overlay::Compare(view)) = &mut self.overlay {
                    view.set_rows(Ok(rows));
                }
            }
            (Pending::Cost, Reply::Cost { report }) => {
                if let Some(Overlay::Cost(Cost { report: slot })) = &mut self.overlay {
                    *slot = Some(report);
                }
            }
            (Pending::Switcher, Reply::Sessions { sessions }) => {
                if let Some(Overlay::Switcher(sw)) = &mut self.overlay {
                    sw.sessions = Some(sessions);
                }
            }
            (Pending::HandOff(what), Reply::Text { text } | Reply::Answer { text, .. }) => {
                if text.trim().is_empty() {
                    self.error(format!("{what} is empty: nothing to send"));
                } else {
                    self.open_switcher(Purpose::SendTo { text, what });
                }
            }
            (Pending::HandedOff(place), Reply::Text { .. }) => self.say(format!("sent to {place}; its agent took it")),
            (Pending::HandedOff(_), Reply::NotSent { message, .. }) => self.error(message),
            (Pending::Merged(pane), Reply::Text { text }) => {
                let said = text.lines().next().unwrap_or("merged").to_string();
                let question = format!(
                    "close the tab's other worktree panes and remove their worktrees (uncommitted work is kept)? enter closes them · {said}"
                );
                self.overlay = Some(Overlay::confirm(ConfirmKind::CloseOthers(pane), question));
            }
            (Pending::Said, Reply::Text { text }) => self.say(text.lines().collect::<Vec<_>>().join("; ")),
            (Pending::Commented, Reply::Done) => self.say("comment sent: the sharer and everyone watching see it"),
            (Pending::Race, Reply::Raced { racers, .. }) => {
                let missed: Vec<String> = racers
                    .iter()
                    .filter_map(|r| r.why.as_ref().map(|why| format!("{} ({}): {why}", r.agent, r.place)))
                    .collect();
                match missed.is_empty() {
                    true => self.say(format!(
                        "{} agents took the task; compare them in the compare view (prefix C)",
                        racers.len()
                    )),
                    false => self.error(format!("the task did not reach: {}", missed.join("; "))),
                }
            }
            (Pending::Lines, Reply::Lines { from, rows }) => {
                if let Some(c) = &mut self.copy {
                    c.store(from, rows);
                }
            }
            (Pending::Search { len, backward }, Reply::Found { at }) => match (at, &mut self.copy) {
                (Some(at), Some(c)) => {
                    if let Some(content) = self.panes.get(&c.pane) {
                        c.jump_to(content, at, len);
                    }
                    self.fetch_lines();
                }
                (None, _) => {
                    let query =
                        self.copy.as_ref().and_then(|c| c.last_search.clone()).map(|(q, _)| q).unwrap_or_default();
                    self.error(format!("not found{}: {query}", if backward { " above" } else { "" }));
                }
                _ => {}
            },
            (Pending::Yank, Reply::Text { text }) => {
                self.set_clipboard(&text);
                let lines = text.lines().count().max(1);
                self.say(format!(
                    "copied {} characters ({lines} line{})",
                    text.chars().count(),
                    if lines == 1 { "" } else { "s" }
                ));
            }
            _ => {}
        }
    }

    pub(super) fn fill_picker(&mut self, agents: Vec<AgentInfo>) {
        let mut items = vec![PickerItem { label: "shell".into(), detail: "a new shell".into(), spawn: Spawn::Shell }];
        items.extend(agents.into_iter().map(|a| PickerItem {
            detail: a.description.unwrap_or_else(|| a.command.clone()),
            label: a.name.clone(),
            spawn: Spawn::Agent { name: a.name },
        }));
        if let Some(Overlay::Picker(Picker { items: slot, loading, .. })) = &mut self.overlay {
            *slot = items;
            *loading = false;
        }
    }
}
