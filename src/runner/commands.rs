//! What clients ask of sessions: the layout commands (split, focus, resize, zoom, tabs,
//! swap and move), closing panes and sessions, and the programs' ending. The session's own
//! rules are in `sessions`; this side starts programs and resizes PTYs as they decide.

use super::*;

impl Runner {
    /// Sizes every pane of a session to its place in the layout.
    pub(super) fn relayout(&self, st: &mut State, session: u32) {
        let Some(s) = st.sessions.get_mut(&session) else { return };
        s.touch();
        for (p, size) in s.sizes() {
            if let Some(pane) = st.panes.get(&p) {
                pane.resize(size);
            }
        }
    }

    /// Carries out what a change to a session's shape asks of its panes.
    pub(super) fn carry_out(&self, st: &mut State, session: u32, moved: Moved) {
        if let Some((old, new)) = moved.focus {
            // Programs that asked (mode 1004) hear that they lost or gained focus.
            for (p, ev) in [(old, crate::input::InputEvent::FocusLost), (new, crate::input::InputEvent::FocusGained)] {
                if let Some(pane) = st.panes.get(&p) {
                    let modes = pane.screen.lock().modes();
                    pane.write(&crate::input::encode(&ev, &modes));
                }
            }
            if let Some(p) = st.panes.get(&new) {
                p.meta.lock().attention = false;
            }
        }
        if moved.relayout {
            self.relayout(st, session);
        }
    }

    /// The client that types or resizes last decides the size panes are laid out at
    /// (tmux's `window-size latest`); other clients draw the same layout at their size.
    pub fn make_owner(&self, client: ClientId, session: u32, size: Size) {
        self.make_owner_locked(&mut self.state.lock(), client, session, size);
    }

    /// `make_owner`, under the state lock the caller holds.
    pub(super) fn make_owner_locked(&self, st: &mut State, client: ClientId, session: u32, size: Size) {
        let Some(s) = st.sessions.get_mut(&session) else { return };
        s.clients.insert(client, size);
        if s.owner == Some(client) && s.size == size {
            return;
        }
        s.owner = Some(client);
        s.last_used = now_secs();
        if s.size != size {
            s.size = size;
            self.relayout(st, session);
        }
    }

    /// A client has gone: from every session (`only`: from that one, as it moves to another).
    pub fn detach_client(&self, client: ClientId, only: Option<u32>) {
        let mut st = self.state.lock();
        for s in st.sessions.values_mut().filter(|s| only.is_none_or(|id| s.id == id)) {
            if s.clients.remove(&client).is_some() {
                if s.owner == Some(client) {
                    s.owner = None;
                }
                s.touch();
            }
        }
    }

    pub fn command(self: &Arc<Self>, session: u32, command: Command) -> Result<(), String> {
        let mut guard = self.state.lock();
        let st = &mut *guard;
        let focused = session_ref(st, session)?.focused()?;
        let changes_shape = command.changes_shape();
        match command {
            Command::Split { dir, spawn } => {
                let context = context_at(st, session, focused);
                let spec = self.spec_for(st, session, &spawn, context.as_ref(), None)?;
                self.split(st, session, focused, dir, spec)?;
            }
            Command::ClosePane { pane, worktree } => self.close_pane_asked(st, session, pane, worktree)?,
            Command::Respawn { pane } => {
                let p = st
                    .panes
                    .get(&pane)
                    .filter(|p| p.session == session)
                    .cloned()
                    .ok_or_else(|| format!("no pane {pane} in this session"))?;
                if p.is_running() {
                    return Err(format!("pane {pane}'s program still runs"));
                }
                let (spec, size) = {
                    let m = p.meta.lock();
                    (PaneSpec { ask_first: false, fresh: false, ..m.spec.clone() }, m.size)
                };
                // The same pane (its id, its place, its conversation), a new process.
                self.forget_pane(st, pane, "the pane's program was started again");
                self.spawn_pane(st, session, pane, spec, size)?;
                session_mut(st, session)?.touch();
            }
            Command::RenamePane { pane, name } => {
                let p =
                    st.panes.get(&pane).filter(|p| p.session == session).ok_or_else(|| format!("no pane {pane}"))?;
                p.meta.lock().spec.name = Some(name.trim().to_string()).filter(|n| !n.is_empty());
                session_mut(st, session)?.touch();
            }
            Command::NewTab { spawn } => {
                let spec = self.spec_for(st, session, &spawn, None, None)?;
                self.new_tab(st, session, spec)?;
            }
            Command::CloseTab => {
                for p in active_tab_mut(st, session)?.layout.panes() {
                    self.close_pane(st, p);
                }
            }
            // The rest only rearranges the session: its own rules decide.
            command => {
                let State { sessions, next_tab, .. } = &mut *st;
                let s = sessions.get_mut(&session).ok_or("the session ended")?;
                let moved = s.apply(&command, || {
                    *next_tab += 1;
                    *next_tab
                })?;
                self.carry_out(st, session, moved);
            }
        }
        if changes_shape {
            self.persist(st);
        }
        Ok(())
    }

    pub(super) fn new_tab(self: &Arc<Self>, st: &mut State, session: u32, spec: PaneSpec) -> Result<PaneId, String> {
        let pane = st.new_pane_id();
        st.next_tab += 1;
        let placement = session_ref(st, session)?.plan_tab(st.next_tab, pane);
        self.start_placed(st, session, spec, placement)
    }

    /// Splits `target` with a new pane running `spawn`; focuses the new pane.
    pub(super) fn split(
        self: &Arc<Self>,
        st: &mut State,
        session: u32,
        target: PaneId,
        dir: Direction,
        spec: PaneSpec,
    ) -> Result<PaneId, String> {
        let pane = st.new_pane_id();
        let placement = session_ref(st, session)?.plan_split(target, dir, pane)?;
        self.start_placed(st, session, spec, placement)
    }

    /// Starts a new pane's program at the size the session planned for it and, started,
    /// puts it there (focused). A program that cannot start leaves the session as it was.
    pub(super) fn start_placed(
        self: &Arc<Self>,
        st: &mut State,
        session: u32,
        spec: PaneSpec,
        placement: Placement,
    ) -> Result<PaneId, String> {
        let pane = placement.pane;
        self.spawn_pane(st, session, pane, spec, placement.size)?;
        let moved = session_mut(st, session)?.place(placement)?;
        self.carry_out(st, session, moved);
        Ok(pane)
    }

    pub(super) fn focus(&self, st: &mut State, session: u32, pane: PaneId) {
        let Some(s) = st.sessions.get_mut(&session) else { return };
        let moved = s.focus(pane);
        self.carry_out(st, session, moved);
    }

    /// Before a pane closes with its worktree removed: `Some(why)` while anything in the
    /// worktree is uncommitted. Git runs off the state lock and the runtime's thread.
    pub async fn check_worktree_clean(&self, session: u32, pane: PaneId) -> Result<Option<String>, String> {
        let worktree = {
            let st = self.state.lock();
            st.panes.get(&pane).filter(|p| p.session == session).and_then(|p| p.meta.lock().spec.worktree.clone())
        };
        let Some(w) = worktree else { return Ok(None) };
        let checked = w.clone();
        let clean = tokio::task::spawn_blocking(move || checked.is_clean())
            .await
            .map_err(|e| format!("checking the worktree failed: {e}"))??;
        if clean {
            return Ok(None);
        }
        Ok(Some(format!(
            "the worktree of {} has uncommitted changes; commit or stash them there ({}), or keep it",
            w.branch,
            w.path.display()
        )))
    }

    /// Removes a pane from its tab and ends its programs (SIGHUP, then SIGKILL after the
    /// grace period). The last pane of a tab closes the tab; the last tab ends the session.
    /// Closes a pane the user chose to close. A pane with a git worktree needs an answer
    /// for it: keep it, or remove it (refused, and nothing closed, while it has
    /// uncommitted changes).
    pub(super) fn close_pane_asked(
        &self,
        st: &mut State,
        session: u32,
        pane: PaneId,
        choice: Option<WorktreeChoice>,
    ) -> Result<(), String> {
        let p = st
            .panes
            .get(&pane)
            .filter(|p| p.session == session)
            .ok_or_else(|| format!("no pane {pane} in this session"))?;
        let worktree = p.meta.lock().spec.worktree.clone();
        match (worktree, choice) {
            (None, _) | (Some(_), Some(WorktreeChoice::Keep)) => {}
            (Some(w), None) => {
                return Err(format!(
                    "pane {pane} works in a git worktree (branch {}): keep it or remove it?",
                    w.branch
                ));
            }
            (Some(w), Some(WorktreeChoice::Remove)) => {
                // The client checked it was clean (`check_worktree_clean`), off this lock;
                // `remove` checks again.
                self.close_pane(st, pane);
                // git checks again that nothing is uncommitted; it runs off the runner's
                // thread so panes keep drawing meanwhile.
                tokio::task::spawn_blocking(move || {
                    if let Err(e) = w.remove() {
                        log(&format!("worktree {}: {e}", w.path.display()));
                    }
                });
                return Ok(());
            }
        }
        self.close_pane(st, pane);
        Ok(())
    }

    /// Takes a pane out of the runner: its proxy token, its hook socket, what it had
    /// waiting, its sandbox's proxy listener, its running check. Its processes and its place in a layout are the caller's.
    pub(super) fn forget_pane(&self, st: &mut State, pane: PaneId, why: &str) -> Option<Arc<pane::Pane>> {
        let p = st.panes.remove(&pane)?;
        let (token, proxy, hooks, check) = {
            let mut m = p.meta.lock();
            (m.proxy_token.take(), m.proxy_task.take(), m.hook_task.take(), m.check_task.take())
        };
        // A check still running in its worktree ends with the pane (the task drops its
        // program, which is killed).
        if let Some(task) = check {
            task.abort();
        }
        if let Some(token) = token {
            st.proxy_tokens.remove(&token);
        }
        if let Some(task) = proxy {
            task.abort();
        }
        drop(hooks);
        if st.queue.deny_all_of(pane, why) {
            self.broadcast_pending(st);
        }
        Some(p)
    }

    pub(super) fn close_pane(&self, st: &mut State, pane: PaneId) {
        let Some(p) = self.forget_pane(st, pane, "the pane was closed") else { return };
        // Closed for good: its kept screen goes too.
        self.forget_screen(&p.meta.lock().spec.key);
        if p.is_running() {
            // Runs on its own (nobody waits for this close); the runner waits for it
            // before exiting.
            drop(self.end_processes(vec![p.pid]));
        }
        let session = p.session;
        let Some(s) = st.sessions.get_mut(&session) else { return };
        match s.take_out(pane) {
            TakenOut::Kept => self.relayout(st, session),
            TakenOut::SessionEmpty => self.end_session(st, session, "the session's last pane closed"),
            TakenOut::TabClosed | TakenOut::NotHere => {}
        }
    }

    /// Sends SIGHUP to every process of the given panes, and SIGKILL to what remains after
    /// the grace period. Completes when all are gone.
    pub(super) fn end_processes(&self, leaders: Vec<u32>) -> impl std::future::Future<Output = ()> + use<> {
        let grace = Duration::from_millis(self.config.read().kill_grace_ms);
        for &pid in &leaders {
            pty::signal_session(pid, libc::SIGHUP);
        }
        let (done_tx, done_rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let deadline = tokio::time::Instant::now() + grace;
            let alive = |leaders: &[u32]| {
                leaders.iter().any(|&pid| pty::session_processes(pid).iter().any(|&p| process_alive(p)))
            };
            while tokio::time::Instant::now() < deadline && alive(&leaders) {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            for &pid in &leaders {
                pty::signal_session(pid, libc::SIGKILL);
            }
            // SIGKILL cannot be refused, but dying takes a moment; say "done" only when done.
            let deadline = tokio::time::Instant::now() + Duration::from_secs(2);
            while tokio::time::Instant::now() < deadline && alive(&leaders) {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            let _ = done_tx.send(());
        });
        let mut ending = self.ending.lock();
        ending.retain(|t| !t.is_finished());
        ending.push(task);
        async move {
            let _ = done_rx.await;
        }
    }

    /// Waits until every program being ended is gone; the runner calls it before exiting.
    pub async fn finish_ending(&self) {
        loop {
            let tasks: Vec<_> = std::mem::take(&mut *self.ending.lock());
            if tasks.is_empty() {
                return;
            }
            for t in tasks {
                let _ = t.await;
            }
        }
    }

    pub(super) fn end_session(&self, st: &mut State, session: u32, reason: &str) {
        let Some(s) = st.sessions.remove(&session) else { return };
        // Its marks go (its spend stays, for reports): a session's key is never used again.
        let key = s.key.clone();
        self.store.write(move |db| {
            db.end_session(&key);
            Ok(())
        });
        let _ = s.events.send(SessionEvent::Ended(reason.to_string()));
        log(&format!("session {} ({}) ended: {reason}", s.id, s.name));
        self.persist(st);
        if st.sessions.is_empty() {
            // Like tmux's server: with nothing left to run, the runner exits.
            let _ = self.shutdown.send(true);
        }
    }

    /// `teamster kill`: ends sessions and waits until their processes are gone.
    pub async fn kill(self: &Arc<Self>, session: Option<String>, all: bool) -> Result<String, String> {
        let (ending, names) = {
            let mut st = self.state.lock();
            let ids: Vec<u32> = if all {
                st.sessions.keys().copied().collect()
            } else {
                let name = match session {
                    Some(n) => n,
                    None if st.sessions.len() == 1 => {
                        st.sessions.values().next().map(|s| s.name.clone()).unwrap_or_default()
                    }
                    None => {
                        return Err(format!(
                            "which session? {}; name one with -t, or use --all",
                            describe_sessions(&st)
                        ));
                    }
                };
                vec![
                    st.sessions
                        .values()
                        .find(|s| s.name == name)
                        .map(|s| s.id)
                        .ok_or_else(|| no_such_session(&st, &name))?,
                ]
            };
            let mut leaders = Vec::new();
            for id in &ids {
                let panes: Vec<PaneId> = st.panes.values().filter(|p| p.session == *id).map(|p| p.id).collect();
                for p in panes {
                    if let Some(pane) = self.forget_pane(&mut st, p, "the session was killed")
                        && pane.is_running()
                    {
                        leaders.push(pane.pid);
                    }
                }
            }
            // Registered before the sessions end: ending the last one stops the runner,
            // which first waits for these.
            let ending = self.end_processes(leaders);
            let mut names = Vec::new();
            for id in ids {
                if let Some(s) = st.sessions.get(&id) {
                    names.push(s.name.clone());
                }
                self.end_session(&mut st, id, "the session was killed");
            }
            (ending, names)
        };
        ending.await;
        if all {
            let _ = self.shutdown.send(true);
        }
        Ok(match names.len() {
            0 => "no sessions were running".into(),
            1 => format!("killed session {}", names[0]),
            _ => format!("killed sessions {}", names.join(", ")),
        })
    }

    /// `teamster layout NAME`: arranges the current tab of a session (the caller's, or the
    /// one on a screen) as named.
    pub fn set_layout(
        self: &Arc<Self>,
        session: Option<String>,
        near: Option<PaneId>,
        how: Arrangement,
    ) -> Result<Reply, String> {
        let id = session_for(&self.state.lock(), session.as_deref(), near)?;
        self.command(id, Command::SelectLayout { arrangement: how })?;
        let st = self.state.lock();
        let s = session_ref(&st, id)?;
        let n = s.tabs.get(s.active).map_or(0, |t| t.layout.panes().len());
        Ok(Reply::Text { text: format!("tab {} of {}: {} ({n} panes)", s.active + 1, s.name, how.name()) })
    }

    /// Opens `[layouts.NAME]` in a session: as a new tab, or (`fresh`, for `teamster -l`)
    /// in place of the first tab of a session just made for it, whose one pane becomes the
    /// layout's first.
    pub fn open_layout(
        self: &Arc<Self>,
        session: Option<String>,
        near: Option<PaneId>,
        name: &str,
        context: Context,
        fresh: bool,
    ) -> Result<Reply, String> {
        let config = self.config();
        let Some(node) = config.layouts.get(name).cloned() else {
            return Err(crate::config::layouts::unknown(name, config.layouts.keys(), !fresh));
        };
        let mut guard = self.state.lock();
        let st = &mut *guard;
        let id = session_for(st, session.as_deref(), near)?;
        let panes = node.panes();
        let area = session_ref(st, id)?.area();
        // The ids: the fresh session's own pane first, then new ones.
        let mut ids = Vec::new();
        if fresh {
            let s = session_ref(st, id)?;
            match s.tabs.as_slice() {
                [tab] if tab.layout.panes().len() == 1 => ids.push(tab.focused),
                _ => return Err(format!("session {} is not new; open the layout in it as a tab instead", s.name)),
            }
        }
        let mut specs = Vec::new();
        for pane in panes.iter().skip(ids.len()) {
            let cwd = pane.cwd.as_deref().map(|d| crate::config::layouts::pane_dir(d, context.cwd.as_deref()));
            let here = Context { cwd: cwd.or_else(|| context.cwd.clone()), ..context.clone() };
            let mut spec = self.spec_for(st, id, &pane.spawn, Some(&here), None)?;
            spec.name = pane.name.clone();
            ids.push(st.new_pane_id());
            specs.push(spec);
        }
        let layout = node.build(&ids, area);
        if fresh {
            if let (Some(first), Some(pane)) = (panes.first(), st.panes.get(&ids[0])) {
                pane.meta.lock().spec.name = first.name.clone();
            }
            let tab = &mut session_mut(st, id)?.tabs[0];
            tab.layout = layout.clone();
            tab.name = name.to_string();
        } else {
            st.next_tab += 1;
            let tab_id = st.next_tab;
            let s = session_mut(st, id)?;
            s.tabs.push(Tab::new(tab_id, name.to_string(), layout.clone(), ids[0]));
            s.active = s.tabs.len() - 1;
        }
        // Each pane starts at its place's size; one that cannot start leaves its place
        // to the others and is reported.
        let mut failed = Vec::new();
        let start = if fresh { 1 } else { 0 };
        for (pane, spec) in ids[start..].iter().zip(specs) {
            if let Err(e) = self.spawn_pane(st, id, *pane, spec, pane_size(&layout, *pane, area)) {
                failed.push(format!("pane {}: {e}", pane));
                if session_mut(st, id)?.take_out(*pane) == TakenOut::SessionEmpty {
                    return Err(format!("no pane of layout `{name}` started: {}", failed.join("; ")));
                }
            }
        }
        self.focus(st, id, ids[0]);
        self.relayout(st, id);
        self.persist(st);
        let s = session_ref(st, id)?;
        let opened = ids.len() - failed.len();
        let mut text = format!("opened layout {name} in {}:{} ({opened} panes)", s.name, s.active + 1);
        if !failed.is_empty() {
            text.push_str(&format!("; {} did not start: {}", failed.len(), failed.join("; ")));
        }
        Ok(Reply::Text { text })
    }

    /// `teamster swap` and `teamster move`: puts a pane where `to` says, in its session.
    pub fn move_pane(self: &Arc<Self>, target: &str, to: crate::protocol::PaneMove) -> Result<Reply, String> {
        use crate::protocol::PaneMove;
        let list = self.list();
        let (session, pane) = crate::places::find_pane(&list, target)?;
        let command = match &to {
            PaneMove::SwapWith(other) => {
                let (other_session, with) = crate::places::find_pane(&list, other)?;
                if other_session != session {
                    return Err(format!(
                        "{target} and {other} are in two sessions; panes swap within one (move a pane between sessions by closing it and opening it there)"
                    ));
                }
                Command::SwapPane { pane, with }
            }
            PaneMove::Tab(0) => return Err("tabs are numbered from 1, as the status bar shows them".into()),
            PaneMove::Tab(n) => Command::MovePane { pane, tab: Some(n - 1) },
            PaneMove::NewTab => Command::MovePane { pane, tab: None },
        };
        let id = session_for(&self.state.lock(), Some(&session), None)?;
        self.command(id, command.clone())?;
        let st = self.state.lock();
        let s = session_ref(&st, id)?;
        let place = |p: PaneId| s.place_of(p).unwrap_or_else(|| format!("pane {p}"));
        let text = match command {
            Command::SwapPane { pane, with } => format!("swapped: {} and {}", place(pane), place(with)),
            _ => format!("moved pane {pane} to {}", place(pane)),
        };
        Ok(Reply::Text { text })
    }
}

pub(super) fn process_alive(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
        // A zombie has exited; it only waits to be reaped.
        s.rfind(')').and_then(|i| s[i + 1..].split_whitespace().next()).is_some_and(|state| state != "Z")
    })
}

/// The session's context where `pane`'s program is now: a new pane opened beside it (a
/// split, a race) starts there (a shell that cd'd elsewhere), not where the session began.
pub(super) fn context_at(st: &State, session: u32, pane: PaneId) -> Option<Context> {
    let here = st.panes.get(&pane).and_then(|p| p.working_dir())?;
    Some(Context {
        cwd: Some(here.to_string_lossy().into_owned()),
        ..session_ref(st, session).map(|s| s.context.clone()).unwrap_or_default()
    })
}
