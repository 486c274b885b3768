//! Panes driven by scripts and by each other: capture, send (to one, many, a tab), and
//! the last reply an agent gave.

use super::*;

impl Runner {
    /// A pane's screen and scrollback as text (`teamster capture`): its last `lines` lines
    /// once blank rows at the end are left out, with SGR styles if `ansi`.
    pub fn capture(&self, target: &str, lines: Option<u32>) -> Result<Reply, String> {
        let (session, id) = crate::places::find_pane(&self.list(), target)?;
        let pane = self.state.lock().panes.get(&id).cloned().ok_or_else(|| format!("pane {id} has just gone"))?;
        // Copied under the screen's lock, read after it.
        let copied = pane.screen.lock().copy_lines();
        let mut rows = WireRow::of_lines(&copied);
        let from = lines.map_or(0, |n| rows.len().saturating_sub(n as usize));
        Ok(Reply::Captured { session, pane: id, rows: rows.split_off(from) })
    }

    /// `send` to every agent pane of a session, or of one tab, at once.
    pub async fn send_many(
        self: &Arc<Self>,
        session: Option<String>,
        near: Option<PaneId>,
        tab_only: bool,
        text: String,
        keys: Vec<crate::input::Key>,
        enter: bool,
    ) -> Result<Reply, String> {
        let targets: Vec<PaneId> = {
            let st = self.state.lock();
            let s = session_ref(&st, session_for(&st, session.as_deref(), near)?)?;
            let tabs: Vec<&Tab> = match (tab_only, near) {
                (false, _) => s.tabs.iter().collect(),
                (true, Some(p)) if s.tabs.iter().any(|t| t.layout.contains(p)) => {
                    s.tabs.iter().filter(|t| t.layout.contains(p)).collect()
                }
                (true, _) => s.tabs.get(s.active).into_iter().collect(),
            };
            let agent = |p: &PaneId| st.panes.get(p).is_some_and(|p| p.meta.lock().agent.is_some());
            tabs.iter().flat_map(|t| t.layout.panes()).filter(agent).collect()
        };
        if targets.is_empty() {
            return Err(format!("no agent runs in {}", if tab_only { "that tab" } else { "that session" }));
        }
        let sessions = self.list();
        let tasks: Vec<_> = targets
            .into_iter()
            .map(|pane| {
                let (runner, text, keys) = (self.clone(), text.clone(), keys.clone());
                let place = crate::places::place_of(&sessions, pane).unwrap_or_else(|| pane.to_string());
                tokio::spawn(async move {
                    let (sent, why, message) = match runner.send(&pane.to_string(), text, keys, enter).await {
                        Ok(Reply::NotSent { why, message }) => (false, Some(why), message),
                        Ok(Reply::Text { text }) => (true, None, text),
                        Ok(_) => (true, None, String::new()),
                        Err(e) => (false, None, e),
                    };
                    crate::protocol::Delivery { pane, place, sent, why, message }
                })
            })
            .collect();
        let mut results = Vec::new();
        for task in tasks {
            results.push(task.await.map_err(|e| format!("a send failed: {e}"))?);
        }
        Ok(Reply::SentMany { results })
    }

    /// What a pane's agent answered at the end of its last turn.
    pub fn last_answer(&self, target: &str) -> Result<Reply, String> {
        let (session, id) = crate::places::find_pane(&self.list(), target)?;
        let pane = self.state.lock().panes.get(&id).cloned().ok_or_else(|| format!("pane {id} has just gone"))?;
        let m = pane.meta.lock();
        match (&m.last_answer, m.agent) {
            (Some(text), _) => Ok(Reply::Answer { session, pane: id, text: text.clone() }),
            (None, None) => Err(format!(
                "pane {id} runs no agent: it has no answers to give (`teamster capture {id}` prints its screen)"
            )),
            (None, Some(_)) => Err(format!(
                "pane {id}'s agent has not answered yet (teamster reads an answer off its model's reply when a turn ends)"
            )),
        }
    }

    /// Types a prompt for a pane's agent (`teamster send`) and, with Enter, waits until the
    /// agent has taken it (its prompt hook says it works). Typing nothing while it shows a
    /// dialog (a routine prompt must never answer one) or is not ready for a prompt.
    pub async fn send(
        &self,
        target: &str,
        text: String,
        keys: Vec<crate::input::Key>,
        enter: bool,
    ) -> Result<Reply, String> {
        use crate::agents::AgentState;
        use crate::input::InputEvent;
        use crate::protocol::NotSent;
        let (_, id) = crate::places::find_pane(&self.list(), target)?;
        let (pane, asks) = {
            let st = self.state.lock();
            let pane = st.panes.get(&id).cloned().ok_or_else(|| format!("pane {id} has just gone"))?;
            (pane, st.queue.waits_on(id))
        };
        let (agent, state, exited) = {
            let m = pane.meta.lock();
            (m.agent, m.agent_state, m.state != PaneState::Running)
        };
        let refuse = |why, message: String| Ok(Reply::NotSent { why, message });
        if exited {
            return refuse(NotSent::Exited, format!("pane {id} has exited; nothing was typed"));
        }
        if agent.is_some() {
            if asks || state == AgentState::NeedsApproval {
                let message = format!(
                    "pane {id}'s agent is asking for a decision; nothing was typed (a prompt would answer it): `teamster approvals`"
                );
                return refuse(NotSent::Dialog, message);
            }
            if !matches!(state, AgentState::WaitingForInput | AgentState::Idle) {
                let message = format!(
                    "pane {id}'s agent is {}; nothing was typed: `teamster wait {id} --for waiting` first",
                    state.words()
                );
                return refuse(NotSent::Busy, message);
            }
        }
        // Text is typed as text: a control character in it (from another agent's answer,
        // say) is shown, never obeyed; named keys are how keys are pressed.
        let text = crate::text::visible_lines(&text.replace("\r\n", "\n")).into_owned();
        // Typed as the TUI types what a person types and pastes, for the modes the program
        // set (a paste's own end marker cannot end it early).
        let typed = !text.is_empty() || !keys.is_empty();
        let mut events =
            vec![if text.contains('\n') { InputEvent::Paste(text) } else { InputEvent::Raw(text.into_bytes()) }];
        events.extend(keys.into_iter().map(InputEvent::Key));
        let changed = {
            let st = self.state.lock();
            st.sessions.get(&pane.session).map(|s| s.changed.subscribe()).ok_or("the session ended")?
        };
        if !enter {
            pane.type_events(&events);
            return Ok(Reply::Text { text: format!("typed into pane {id}") });
        }
        match pane.submit(if typed { &events } else { &[] }, changed).await {
            pane::Submitted::Taken => {
                // Work is under way, even where no state of it shows (a plain command).
                pane.meta.lock().worked = true;
                Ok(Reply::Text { text: format!("pane {id} took the prompt") })
            }
            pane::Submitted::NotTaken(now) => {
                Err(format!("pane {id} did not take the prompt within 15 s; it is {}", now.words()))
            }
            pane::Submitted::SessionEnded => Err("the session ended".into()),
        }
    }

    pub fn pane(&self, session: u32, pane: PaneId) -> Result<Arc<Pane>, String> {
        let st = self.state.lock();
        st.panes
            .get(&pane)
            .filter(|p| p.session == session)
            .cloned()
            .ok_or_else(|| format!("no pane {pane} in this session"))
    }

    /// `teamster compare`: each worktree pane of a tab (the one `near` is in, else the
    /// current one of the session), what its agent changed against its branch's base,
    /// how it is doing and what it spent. Git runs off the state lock and this thread.
    pub async fn compare(&self, session: Option<String>, near: Option<PaneId>) -> Result<Reply, String> {
        let checked = self.config().review.check.is_some_and(|c| !c.trim().is_empty());
        let panes: Vec<(crate::protocol::CompareRow, worktree::Worktree, String)> = {
            let st = self.state.lock();
            let id = session_for(&st, session.as_deref(), near)?;
            let s = session_ref(&st, id)?;
            let tab = near.and_then(|p| s.tab_of(p)).unwrap_or(s.active);
            let view = self.session_view(&st, s);
            let panes = s.tabs.get(tab).map(|t| t.layout.panes()).unwrap_or_default();
            panes
                .into_iter()
                .filter_map(|p| {
                    let pane = st.panes.get(&p)?;
                    let (worktree, key, seconds, check) = {
                        let m = pane.meta.lock();
                        let check = checked.then(|| m.check.clone().unwrap_or(crate::protocol::Check::NotYet));
                        (m.spec.worktree.clone()?, m.spec.key.clone(), m.started.elapsed().as_secs(), check)
                    };
                    let info = view.pane(p)?;
                    let row = crate::protocol::CompareRow {
                        pane: p,
                        place: s.place_of(p).unwrap_or_default(),
                        agent: info.name.clone().unwrap_or_else(|| info.command.clone()),
                        state: info.status(),
                        branch: worktree.branch.clone(),
                        spend: info.spend,
                        tokens: 0,
                        seconds,
                        files: 0,
                        added: 0,
                        removed: 0,
                        error: None,
                        check,
                    };
                    Some((row, worktree, key))
                })
                .collect()
        };
        if panes.is_empty() {
            return Err("no pane of this tab has a worktree of its own: `teamster race` or `teamster new NAME --worktree` makes them".into());
        }
        // Git and the state database (tokens) are read off this thread and the state lock.
        let db = self.store.clone();
        let rows = tokio::task::spawn_blocking(move || {
            panes
                .into_iter()
                .map(|(row, w, key)| {
                    let tokens = db.read(move |db| db.pane_tokens(&key)).unwrap_or(0);
                    match w.changes() {
                        Ok(c) => crate::protocol::CompareRow {
                            tokens,
                            files: c.files,
                            added: c.added,
                            removed: c.removed,
                            ..row
                        },
                        Err(e) => crate::protocol::CompareRow { tokens, error: Some(e), ..row },
                    }
                })
                .collect()
        })
        .await
        .map_err(|e| format!("reading the worktrees failed: {e}"))?;
        Ok(Reply::Compare { rows })
    }

    /// `teamster merge`: the pane's branch onto its base in the main checkout (git off the
    /// state lock and this thread); then, if asked, the others of its tab cleared
    /// (`close_others`).
    pub async fn merge(
        self: &Arc<Self>,
        target: &str,
        how: worktree::MergeHow,
        who: Option<(String, String)>,
        close_others: bool,
    ) -> Result<Reply, String> {
        let (_, id) = crate::places::find_pane(&self.list(), target)?;
        let worktree = {
            let st = self.state.lock();
            let pane = st.panes.get(&id).ok_or_else(|| format!("no pane {target}"))?;
            let w = pane.meta.lock().spec.worktree.clone();
            w.ok_or_else(|| {
                format!("pane {target} has no worktree of its own: nothing to merge (`teamster new NAME --worktree`)")
            })?
        };
        let _ = self.reload_config();
        let review = self.config().review;
        let merged = tokio::task::spawn_blocking(move || match how {
            worktree::MergeHow::PullRequest => {
                if !review.pull_requests {
                    return Err("pull requests are off in this config (`[review] pull_requests = false`); merge here instead, or push by hand".to_string());
                }
                let gh = crate::paths::which("gh").ok_or(
                    "GitHub's `gh` is not installed: install it (and `gh auth login`), or push the branch and open the pull request yourself",
                )?;
                worktree.pull_request(&review.remote, &gh)
            }
            // Signed by you: as the client said, else as your global git config says.
            _ => worktree.merge(how, who.or_else(worktree::your_identity)),
        })
        .await
        .map_err(|e| format!("merging failed: {e}"))??;
        let mut said = vec![merged];
        if close_others {
            said.extend(self.clear_others(id).await?);
        } else {
            let others = {
                let st = self.state.lock();
                let worktree = |p: &PaneId| st.panes.get(p).is_some_and(|o| o.meta.lock().spec.worktree.is_some());
                let session = st.panes.get(&id).and_then(|p| st.sessions.get(&p.session));
                let tab = session.and_then(|s| s.tab_of(id).and_then(|t| s.tabs.get(t)));
                tab.map(|t| t.layout.panes().into_iter().filter(|p| *p != id && worktree(p)).count()).unwrap_or(0)
            };
            if others > 0 {
                said.push(format!(
                    "{others} other worktree pane(s) in its tab: `teamster merge {target} --close-others` closes them and removes their worktrees where nothing is uncommitted"
                ));
            }
        }
        Ok(Reply::Text { text: said.join("\n") })
    }

    /// After a merge: the other worktree panes of the pane's tab closed and their
    /// worktrees removed, where nothing in them is uncommitted (their branches stay).
    pub async fn close_others(self: &Arc<Self>, target: &str) -> Result<Reply, String> {
        let (_, id) = crate::places::find_pane(&self.list(), target)?;
        let said = self.clear_others(id).await?;
        let text = if said.is_empty() { "no other worktree panes in its tab".to_string() } else { said.join("\n") };
        Ok(Reply::Text { text })
    }

    async fn clear_others(self: &Arc<Self>, id: PaneId) -> Result<Vec<String>, String> {
        let others: Vec<(PaneId, u32, worktree::Worktree)> = {
            let st = self.state.lock();
            let session = st.panes.get(&id).map(|p| p.session).ok_or_else(|| format!("pane {id} has gone"))?;
            let s = st.sessions.get(&session).ok_or("the session ended")?;
            let tab = s.tab_of(id).and_then(|t| s.tabs.get(t)).map(|t| t.layout.panes()).unwrap_or_default();
            tab.into_iter()
                .filter(|p| *p != id)
                .filter_map(|p| {
                    st.panes.get(&p).and_then(|o| o.meta.lock().spec.worktree.clone().map(|w| (p, o.session, w)))
                })
                .collect()
        };
        let mut said = Vec::new();
        for (pane, session, w) in others {
            let clean = tokio::task::spawn_blocking(move || w.is_clean().map(|c| (c, w)))
                .await
                .map_err(|e| format!("checking a worktree failed: {e}"))?;
            match clean {
                Ok((true, w)) => {
                    let close = crate::protocol::Command::ClosePane {
                        pane,
                        worktree: Some(crate::protocol::WorktreeChoice::Remove),
                    };
                    self.command(session, close)?;
                    said.push(format!("closed pane {pane} and removed its worktree (branch {} kept)", w.branch));
                }
                Ok((false, w)) => {
                    said.push(format!("kept pane {pane}: its worktree ({}) has uncommitted work", w.path.display()))
                }
                Err(e) => said.push(format!("kept pane {pane}: {e}")),
            }
        }
        Ok(said)
    }

    /// `teamster diff`: a worktree pane's branch against its base (git off this thread).
    pub async fn diff(&self, target: &str) -> Result<Reply, String> {
        let (_, id) = crate::places::find_pane(&self.list(), target)?;
        let worktree = {
            let st = self.state.lock();
            let pane = st.panes.get(&id).ok_or_else(|| format!("no pane {target}"))?;
            let w = pane.meta.lock().spec.worktree.clone();
            w.ok_or_else(|| format!("pane {target} has no worktree of its own: no branch to show"))?
        };
        let text =
            tokio::task::spawn_blocking(move || worktree.diff()).await.map_err(|e| format!("git failed: {e}"))??;
        Ok(Reply::Text { text })
    }
}
