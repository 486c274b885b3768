//! One connection to the runner: a TUI, or a one-shot CLI request.
//!
//! An attached client gets the session's shape whenever it changes and screen updates for
//! the panes it can see. Updates are paced per client: the first change after a quiet
//! spell is drawn at once (so a keystroke's echo is not delayed), later ones at most 60
//! times a second, and each update carries only the rows that changed since that client's
//! last. A slow client is never queued a backlog: it gets the latest state when it is
//! ready.

use super::pane::Pane;
use super::{ClientId, Runner, SessionEvent, log};
use crate::layout::PaneId;
use crate::protocol::{
    ClientMsg, CursorView, DetachReason, PROTOCOL_VERSION, PaneFrame, PaneModes, Reply, ServerMsg, Size, WireRow,
    read_msg, write_msg,
};
use crate::screen::{MouseMode, Pos};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::UnixStream;
use tokio::sync::broadcast::error::RecvError;
use tokio::time::Instant;

/// Where a connection's messages go.
pub(super) type Writer = Arc<tokio::sync::Mutex<Sink>>;

pub(super) enum Sink {
    /// A client's socket: each message encoded.
    Socket(crate::fdio::WriteHalf),
    /// A TUI the runner runs on a handed terminal: the messages themselves.
    Local(tokio::sync::mpsc::UnboundedSender<ServerMsg>),
}

impl Sink {
    pub(super) fn writer(sink: Sink) -> Writer {
        Arc::new(tokio::sync::Mutex::new(sink))
    }

    async fn send(&mut self, msg: ServerMsg) -> std::io::Result<()> {
        match self {
            Sink::Socket(wr) => write_msg(wr, &msg).await,
            Sink::Local(tx) => tx.send(msg).map_err(|_| std::io::ErrorKind::BrokenPipe.into()),
        }
    }
}

/// Where a connection's messages come from: a client's socket, or a TUI the runner runs.
pub(super) trait Source {
    /// The next message; None when the client has gone.
    fn next(&mut self) -> impl Future<Output = std::io::Result<Option<ClientMsg>>> + Send;
}

impl Source for crate::fdio::ReadHalf {
    async fn next(&mut self) -> std::io::Result<Option<ClientMsg>> {
        read_msg(self).await
    }
}

impl Source for tokio::sync::mpsc::UnboundedReceiver<ClientMsg> {
    async fn next(&mut self) -> std::io::Result<Option<ClientMsg>> {
        Ok(self.recv().await)
    }
}

const FRAME_INTERVAL: Duration = Duration::from_micros(16_667);
/// How long a pane may hold back its drawing (mode 2026) before we draw it anyway.
const SYNC_TIMEOUT: Duration = Duration::from_millis(150);

pub(super) async fn send(wr: &Writer, msg: ServerMsg) -> bool {
    wr.lock().await.send(msg).await.is_ok()
}

/// Runs a request that waits in a task of its own and sends its reply when it is done.
fn answer_later(wr: &Writer, id: u64, work: impl Future<Output = Result<Reply, String>> + Send + 'static) {
    let wr = wr.clone();
    tokio::spawn(async move {
        let result = work.await;
        send(&wr, ServerMsg::Reply { id, result }).await;
    });
}

/// A hello, or the refusal of one, in JSON: a client of any version reads it.
async fn send_json(wr: &mut crate::fdio::WriteHalf, msg: &ServerMsg) -> bool {
    wr.write_all(&crate::protocol::encode_json(msg)).await.is_ok()
}

pub async fn serve(runner: Arc<Runner>, stream: UnixStream) {
    // The socket's directory is private already; this is a second lock on the door.
    let peer = match stream.peer_cred() {
        Ok(cred) if cred.uid() == nix::unistd::getuid().as_raw() => cred.pid(),
        _ => return,
    };
    // An agent may look, but not act: it must not approve its own actions, nor drive a
    // client (typing into another pane, say) to do it.
    let agent = peer.and_then(|pid| runner.agent_of_process(pid));
    let Ok((mut rd, mut wr)) = crate::fdio::split_tokio(stream) else { return };
    match read_msg::<ClientMsg, _>(&mut rd).await {
        Ok(Some(ClientMsg::Hello { version })) if version == PROTOCOL_VERSION => {}
        Ok(Some(ClientMsg::Hello { version })) => {
            let message = format!(
                "this teamster speaks protocol {version}, but the running runner (teamster {}) speaks {PROTOCOL_VERSION}; use the teamster that started it, or end its sessions with `teamster kill --all` first",
                env!("CARGO_PKG_VERSION")
            );
            send_json(&mut wr, &ServerMsg::Error { message }).await;
            return;
        }
        _ => return,
    }
    let hello = ServerMsg::Hello {
        version: PROTOCOL_VERSION,
        runner_version: env!("CARGO_PKG_VERSION").into(),
        pid: std::process::id(),
    };
    if !send_json(&mut wr, &hello).await {
        return;
    }
    let wr = Sink::writer(Sink::Socket(wr));
    if let Ended::HandTerminal(handed) = serve_messages(runner.clone(), &mut rd, wr.clone(), agent).await {
        super::terminal::take(runner, rd, wr, handed).await;
    }
}

/// How a connection's messages ended.
pub(super) enum Ended {
    /// The client left, or its connection broke.
    Left,
    /// The client hands its terminal over: the connection now carries only that.
    HandTerminal(super::terminal::Handed),
}

/// A connection's messages, after the hellos: from a client's socket, or from a TUI the
/// runner runs itself. `agent`: the pane whose agent the peer is, which may only look.
pub(super) async fn serve_messages(
    runner: Arc<Runner>,
    rd: &mut impl Source,
    wr: Writer,
    agent: Option<PaneId>,
) -> Ended {
    let client = runner.new_client_id();
    let mut attached: Option<(u32, tokio::task::JoinHandle<()>)> = None;
    let ended = loop {
        let msg = match rd.next().await {
            Ok(Some(m)) => m,
            Ok(None) => break Ended::Left,
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => break Ended::Left,
            Err(e) => {
                log(&format!("client {client}: {e}"));
                send(&wr, ServerMsg::Error { message: format!("the runner could not read a message: {e}") }).await;
                break Ended::Left;
            }
        };
        let session = attached.as_ref().map(|(s, _)| *s);
        let reply = |id: u64, result: Result<Reply, String>| ServerMsg::Reply { id, result };
        if let Some(pane) = agent
            && !msg.is_read_only()
        {
            let message = format!(
                "refused: this comes from the agent in pane {pane}, and agents cannot act through teamster's control socket (approve, type, open or close panes); a person does that"
            );
            let out = match msg.request_id() {
                Some(id) => reply(id, Err(message)),
                None => ServerMsg::Error { message },
            };
            send(&wr, out).await;
            continue;
        }
        let out = match msg {
            ClientMsg::Hello { .. } => Some(ServerMsg::Error { message: "hello twice".into() }),
            ClientMsg::Attach { target, size, context, colors } => {
                if let Err(e) = runner.reload_config() {
                    send(&wr, ServerMsg::Error { message: e }).await;
                }
                match runner.attach(client, target, size, context, colors) {
                    Ok(id) => {
                        // Moving to another session (the switcher): it leaves the old one.
                        if let Some((old_id, old)) = attached.take() {
                            old.abort();
                            if old_id != id {
                                runner.detach_client(client, Some(old_id));
                            }
                        }
                        let task = tokio::spawn(frames(runner.clone(), wr.clone(), id));
                        attached = Some((id, task));
                        None
                    }
                    // Attached already: it stays where it is, and is told why it did not move.
                    Err(message) if attached.is_some() => Some(ServerMsg::Error { message }),
                    Err(message) => {
                        send(&wr, ServerMsg::Error { message }).await;
                        break Ended::Left;
                    }
                }
            }
            ClientMsg::AttachTerminal { target, context, terminal, config_path, reconnected } => {
                break Ended::HandTerminal(super::terminal::Handed { target, context, terminal, config_path, reconnected });
            }
            // Only a connection that handed its terminal over says these.
            ClientMsg::TerminalResized { .. } | ClientMsg::TerminalGone => None,
            ClientMsg::Resize { size } => {
                if let Some(s) = session {
                    runner.make_owner(client, s, size);
                }
                None
            }
            ClientMsg::Input { pane, events } => {
                if let Some(s) = session {
                    input(&runner, client, s, pane, &events);
                }
                None
            }
            ClientMsg::Command { id, command } => {
                let result = match session {
                    Some(s) => {
                        let checked = match &command {
                            crate::protocol::Command::ClosePane {
                                pane,
                                worktree: Some(crate::protocol::WorktreeChoice::Remove),
                            } => runner.check_worktree_clean(s, *pane).await,
                            _ => Ok(None),
                        };
                        match checked {
                            Ok(Some(message)) => Ok(Reply::WorktreeNotClean { message }),
                            Ok(None) => runner.command(s, command).map(|_| Reply::Done),
                            Err(e) => Err(e),
                        }
                    }
                    None => Err("not attached to a session".into()),
                };
                Some(reply(id, result))
            }
            q @ (ClientMsg::GetLines { .. } | ClientMsg::Search { .. } | ClientMsg::GetText { .. }) => {
                answer_query(&runner, session, q)
            }
            ClientMsg::Fork { id, .. } => Some(reply(
                id,
                Err("a fork comes from a teammate's drive link (`teamster fork LINK`); this terminal is the sharer's own".into()),
            )),
            ClientMsg::Comment { id, .. } => Some(reply(
                id,
                Err("comments come from teammates' shared links; this terminal is the sharer's own".into()),
            )),
            ClientMsg::Detach => {
                send(&wr, ServerMsg::Detached { reason: DetachReason::Detached }).await;
                break Ended::Left;
            }
            ClientMsg::List { id } => Some(reply(id, Ok(Reply::Sessions { sessions: runner.list() }))),
            ClientMsg::Kill { id, session, all } => {
                let result = runner.kill(session, all).await.map(|text| Reply::Text { text });
                Some(reply(id, result))
            }
            ClientMsg::NewPane { id, pane } => {
                let result = runner.new_pane(pane).await.map(|(pane, session)| Reply::Pane { pane, session });
                Some(reply(id, result))
            }
            ClientMsg::ListAgents { id } => Some(reply(id, Ok(Reply::Agents { agents: runner.agents() }))),
            ClientMsg::Approvals { id } => Some(reply(id, Ok(Reply::Approvals { pending: runner.approvals() }))),
            ClientMsg::Resolve { id, action, decision, via } => {
                let result = runner.resolve(action, decision, crate::approval::DecidedBy::You(via));
                Some(reply(id, result.map(|_| Reply::Done)))
            }
            ClientMsg::Capture { id, target, lines } => Some(reply(id, runner.capture(&target, lines))),
            ClientMsg::LastAnswer { id, target } => Some(reply(id, runner.last_answer(&target))),
            // These wait (for an agent to take a prompt, on git, on agents to start): off
            // this connection's loop, answered when done.
            ClientMsg::Send { id, target, text, keys, enter } => {
                let r = runner.clone();
                answer_later(&wr, id, async move { r.send(&target, text, keys, enter).await });
                None
            }
            ClientMsg::SendMany { id, session, near, tab_only, text, keys, enter } => {
                let r = runner.clone();
                answer_later(&wr, id, async move { r.send_many(session, near, tab_only, text, keys, enter).await });
                None
            }
            ClientMsg::Compare { id, session, near } => {
                let r = runner.clone();
                answer_later(&wr, id, async move { r.compare(session, near).await });
                None
            }
            ClientMsg::Race { id, race } => {
                let r = runner.clone();
                answer_later(&wr, id, async move { r.race(race).await });
                None
            }
            ClientMsg::Diff { id, target } => {
                let r = runner.clone();
                answer_later(&wr, id, async move { r.diff(&target).await });
                None
            }
            ClientMsg::Merge { id, target, how, who, close_others } => {
                let r = runner.clone();
                answer_later(&wr, id, async move { r.merge(&target, how, who, close_others).await });
                None
            }
            ClientMsg::CloseOthers { id, target } => {
                let r = runner.clone();
                answer_later(&wr, id, async move { r.close_others(&target).await });
                None
            }
            ClientMsg::Layout { id, session, near, arrangement } => {
                Some(reply(id, runner.set_layout(session, near, arrangement)))
            }
            ClientMsg::MovePane { id, pane, to } => Some(reply(id, runner.move_pane(&pane, to))),
            ClientMsg::OpenLayout { id, session, near, name, context, fresh } => {
                Some(reply(id, runner.open_layout(session, near, &name, context, fresh)))
            }
            ClientMsg::Cost { id, session } => {
                let result = runner.store_report(session.as_deref()).map(|report| Reply::Cost { report });
                Some(reply(id, result))
            }
            ClientMsg::RemoveAllowance { id, allowance } => {
                Some(reply(id, runner.remove_allowance(allowance).map(|_| Reply::Done)))
            }
            ClientMsg::Restart { id } => {
                tokio::spawn(runner.restart());
                Some(reply(id, Ok(Reply::Done)))
            }
            // These wait on the share server: the client's keys must not wait with them.
            ClientMsg::Share { id, share } => {
                let r = runner.clone();
                answer_later(&wr, id, async move {
                    let _ = r.reload_config();
                    r.share(share).await.map(|s| Reply::Shares { shares: vec![s] })
                });
                None
            }
            ClientMsg::Unshare { id, share, session } => {
                let r = runner.clone();
                answer_later(&wr, id, async move { r.unshare(share, session).await.map(|text| Reply::Text { text }) });
                None
            }
            ClientMsg::Shares { id } => Some(reply(id, Ok(Reply::Shares { shares: runner.shares() }))),
            ClientMsg::NewSession { id, name, spawn, size, context } => {
                let _ = runner.reload_config();
                let result =
                    runner.new_session(name, spawn, size, context).map(|(pane, session)| Reply::Pane { pane, session });
                Some(reply(id, result))
            }
        };
        if let Some(out) = out
            && !send(&wr, out).await
        {
            break Ended::Left;
        }
    };
    if let Some((_, task)) = attached {
        task.abort();
    }
    runner.detach_client(client, None);
    ended
}

/// Scrollback, search and copy: read-only questions about a pane of `session`.
pub(super) fn answer_query(runner: &Runner, session: Option<u32>, msg: ClientMsg) -> Option<ServerMsg> {
    let reply = |id: u64, result: Result<Reply, String>| Some(ServerMsg::Reply { id, result });
    match msg {
        ClientMsg::GetLines { id, pane, from, count } => reply(
            id,
            pane_query(runner, session, pane, |screen| {
                // Lines older than the scrollback keeps are gone; start at the oldest kept.
                let from = from.max(screen.first_line());
                let count = count.min(1000) as u64;
                let rows = (from..from + count)
                    .map_while(|abs| screen.line(abs).map(|r| WireRow::from_row(&r, screen.links())))
                    .collect();
                Reply::Lines { from, rows }
            }),
        ),
        ClientMsg::Search { id, pane, query, from, backward } => reply(
            id,
            pane_query(runner, session, pane, |screen| {
                let at = screen.search(&query, Pos { line: from.0, col: from.1 }, backward).map(|p| (p.line, p.col));
                Reply::Found { at }
            }),
        ),
        ClientMsg::GetText { id, pane, start, end, block } => reply(
            id,
            pane_query(runner, session, pane, |screen| {
                let text =
                    screen.text_between(Pos { line: start.0, col: start.1 }, Pos { line: end.0, col: end.1 }, block);
                Reply::Text { text }
            }),
        ),
        _ => None,
    }
}

fn pane_query(
    runner: &Runner,
    session: Option<u32>,
    pane: PaneId,
    f: impl FnOnce(&crate::screen::Screen) -> Reply,
) -> Result<Reply, String> {
    let session = session.ok_or("not attached to a session")?;
    let pane = runner.pane(session, pane)?;
    let screen = pane.screen.lock();
    Ok(f(&screen))
}

/// Keys, pastes and mouse events for a pane, encoded for the modes its program set.
fn input(runner: &Runner, client: ClientId, session: u32, pane: Option<PaneId>, events: &[crate::input::InputEvent]) {
    // One key alone, unmodified, may answer an agent's own dialog in its pane ("always").
    let key = match events {
        [crate::input::InputEvent::Key(k)] if k.mods.0 == 0 => Some(k.code),
        _ => None,
    };
    // One turn of the state lock per key: who owns the size, the panes it goes to, and
    // (for such a key) which of them wait on their agent's own question.
    let (panes, asking): (Vec<Arc<Pane>>, Vec<PaneId>) = {
        let mut st = runner.state.lock();
        let Some(s) = st.sessions.get(&session) else { return };
        let size = s.clients.get(&client).copied();
        let targets = s.tabs.get(s.active).map(|t| typed_into(&st, t, pane)).unwrap_or_default();
        if let Some(size) = size {
            runner.make_owner_locked(&mut st, client, session, size);
        }
        let panes: Vec<Arc<Pane>> =
            targets.iter().filter_map(|p| st.panes.get(p).filter(|p| p.session == session).cloned()).collect();
        let asking = match key {
            Some(_) => panes.iter().map(|p| p.id).filter(|p| st.queue.agent_item_of(*p).is_some()).collect(),
            None => Vec::new(),
        };
        (panes, asking)
    };
    // Written outside the lock; a person answering an agent's own dialog in its pane is
    // read off the screen they answered (before the key reaches the agent), for an agent
    // that has such an answer.
    for pane in panes {
        let kind = asking.contains(&pane.id).then(|| pane.meta.lock().agent).flatten();
        let kind = kind.filter(|k| crate::agents::adapter::adapter(*k).reads_always());
        let lines = kind.map(|_| pane.screen.lock().visible_text());
        pane.type_events(events);
        if let (Some(kind), Some(lines), Some(key)) = (kind, lines, key) {
            runner.always_in_pane(pane.id, kind, &lines, key);
        }
    }
}

/// The panes what a person types goes to: the one named (a mouse event's), else the
/// focused one, and in a synchronized tab the others too, but never into another pane's
/// question: an agent asking for a decision is left out unless it is the focused one (a
/// `y` typed for one pane must not approve another's action).
fn typed_into(st: &super::State, tab: &super::Tab, pane: Option<PaneId>) -> Vec<PaneId> {
    match pane {
        Some(p) => vec![p],
        None if !tab.synchronized => vec![tab.focused],
        None => {
            let asks = |p: PaneId| {
                st.queue.waits_on(p)
                    || st.panes.get(&p).is_some_and(|x| {
                        let m = x.meta.lock();
                        m.agent_state == crate::agents::AgentState::NeedsApproval
                            || m.state != crate::protocol::PaneState::Running
                    })
            };
            tab.layout.panes().into_iter().filter(|&p| p == tab.focused || !asks(p)).collect()
        }
    }
}

/// What a client was last sent of a pane, and when.
struct Sent {
    at: Instant,
    generation: u64,
    size: Size,
    cursor: CursorView,
    modes: PaneModes,
    first_line: u64,
}

/// Streams one session's updates to a local TUI until it ends.
async fn frames(runner: Arc<Runner>, wr: Writer, session: u32) {
    let Some(mut feed) = Feed::new(runner, session, Scope::Local) else { return };
    loop {
        match feed.next().await {
            Ok(batch) => {
                let mut w = wr.lock().await;
                for msg in batch.msgs {
                    if w.send(msg).await.is_err() {
                        return;
                    }
                }
            }
            Err(why) => {
                send(&wr, ServerMsg::Detached { reason: DetachReason::SessionEnded(why) }).await;
                return;
            }
        }
    }
}

/// A feed's messages at one go; a snapshot needs nothing sent before it.
pub struct Batch {
    pub msgs: Vec<ServerMsg>,
    pub snapshot: bool,
}

impl Batch {
    fn update(msgs: Vec<ServerMsg>) -> Batch {
        Batch { msgs, snapshot: false }
    }
}

/// What part of a session a feed shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    /// A local TUI: the session, and what waits for approval in every session.
    Local,
    /// A shared session: only its own approvals and history.
    Session,
    /// A shared pane: only that pane, its approvals, its session's history.
    Pane(PaneId),
}

/// The messages an attached view of a session gets, batch by batch: its shape when it
/// changes, the changed rows of the panes it can see (paced, see the top of this file),
/// approvals, history and alerts. The local TUI writes each batch to its socket; a share
/// seals each into an update.
pub struct Feed {
    runner: Arc<Runner>,
    session: u32,
    scope: Scope,
    changed: tokio::sync::watch::Receiver<u64>,
    events: tokio::sync::broadcast::Receiver<SessionEvent>,
    history: tokio::sync::watch::Receiver<Vec<crate::protocol::RecentView>>,
    sent_version: Option<u64>,
    sent: HashMap<PaneId, Sent>,
    /// When the earliest held pane may be drawn.
    due: Option<Instant>,
    /// The next batch starts over: everything, every visible pane in full.
    fresh: bool,
}

impl Feed {
    pub fn new(runner: Arc<Runner>, session: u32, scope: Scope) -> Option<Feed> {
        let (changed, events) = {
            let st = runner.state.lock();
            let s = st.sessions.get(&session)?;
            (s.changed.subscribe(), s.events.subscribe())
        };
        let history = runner.history.subscribe();
        Some(Feed {
            runner,
            session,
            scope,
            changed,
            events,
            history,
            sent_version: None,
            sent: HashMap::new(),
            due: None,
            fresh: true,
        })
    }

    /// Makes the next batch a snapshot: one that needs nothing sent before it.
    pub fn resync(&mut self) {
        self.fresh = true;
        self.sent.clear();
        self.sent_version = None;
    }

    /// The next batch, once there is one; `Err` with the reason when the session ended.
    pub async fn next(&mut self) -> Result<Batch, String> {
        if self.fresh {
            return Ok(self.snapshot());
        }
        loop {
            tokio::select! {
                r = self.changed.changed() => {
                    if r.is_err() {
                        // Why it ended is among the events still queued.
                        let mut reason = "the session ended".to_string();
                        while let Ok(ev) = self.events.try_recv() {
                            if let SessionEvent::Ended(why) = ev {
                                reason = why;
                            }
                        }
                        return Err(reason);
                    }
                }
                ev = self.events.recv() => {
                    match ev {
                        Ok(SessionEvent::Message(m)) => match self.admit(m) {
                            Some(m) => return Ok(Batch::update(vec![m])),
                            None => continue,
                        },
                        Ok(SessionEvent::Ended(reason)) => return Err(reason),
                        // A share cannot miss an approval: it starts over instead.
                        Err(RecvError::Lagged(_)) if self.scope != Scope::Local => {
                            self.resync();
                            return Ok(self.snapshot());
                        }
                        Err(RecvError::Lagged(_)) => continue,
                        Err(RecvError::Closed) => return Err("the session ended".into()),
                    }
                }
                Ok(()) = self.history.changed() => {
                    let recent = self.history.borrow_and_update().clone();
                    let recent = self.recent(recent);
                    return Ok(Batch::update(vec![ServerMsg::History { recent }]));
                }
                _ = tokio::time::sleep_until(self.due.unwrap_or_else(Instant::now)), if self.due.is_some() => {}
            }
            let batch = self.frame_batch();
            if !batch.is_empty() {
                return Ok(Batch::update(batch));
            }
        }
    }

    /// Everything, needing nothing sent before it.
    fn snapshot(&mut self) -> Batch {
        self.fresh = false;
        let pending = self.pending(self.runner.approvals());
        let recent = self.history.borrow_and_update().clone();
        let recent = self.recent(recent);
        let mut msgs = vec![ServerMsg::Pending { pending }, ServerMsg::History { recent }];
        msgs.extend(self.frame_batch());
        Batch { msgs, snapshot: true }
    }

    /// A session event, as this feed passes it on (or not).
    fn admit(&self, msg: ServerMsg) -> Option<ServerMsg> {
        match (self.scope, msg) {
            (_, ServerMsg::Pending { pending }) => Some(ServerMsg::Pending { pending: self.pending(pending) }),
            (Scope::Local, m) => Some(m),
            // A shared program does not set the viewer's clipboard.
            (_, ServerMsg::Clipboard { .. }) => None,
            (Scope::Pane(id), ServerMsg::Alert { pane, .. }) if pane != id => None,
            (_, m) => Some(m),
        }
    }

    fn session_name(&self) -> String {
        self.runner.state.lock().sessions.get(&self.session).map(|s| s.name.clone()).unwrap_or_default()
    }

    fn pending(&self, pending: Vec<crate::protocol::PendingView>) -> Vec<crate::protocol::PendingView> {
        match self.scope {
            Scope::Local => pending,
            Scope::Session => {
                let name = self.session_name();
                pending.into_iter().filter(|p| p.session == name).collect()
            }
            Scope::Pane(id) => pending.into_iter().filter(|p| p.pane == id).collect(),
        }
    }

    fn recent(&self, recent: Vec<crate::protocol::RecentView>) -> Vec<crate::protocol::RecentView> {
        match self.scope {
            Scope::Local => recent,
            _ => {
                let name = self.session_name();
                recent.into_iter().filter(|r| r.session == name).collect()
            }
        }
    }

    /// The session's shape if it changed, and the visible panes' updates that are due.
    fn frame_batch(&mut self) -> Vec<ServerMsg> {
        self.changed.borrow_and_update();
        let (view, visible) = {
            let st = self.runner.state.lock();
            let Some(s) = st.sessions.get(&self.session) else { return Vec::new() };
            let view = (self.sent_version != Some(s.version)).then(|| self.runner.session_view(&st, s));
            self.sent_version = Some(s.version);
            let ids = match (self.scope, s.tabs.get(s.active)) {
                (Scope::Pane(id), _) => vec![id],
                (_, Some(t)) => t.zoomed.map_or_else(|| t.layout.panes(), |z| vec![z]),
                (_, None) => Vec::new(),
            };
            let panes: Vec<Arc<Pane>> = ids.iter().filter_map(|p| st.panes.get(p).cloned()).collect();
            (view, panes)
        };
        let view = match (self.scope, view) {
            (Scope::Pane(id), Some(v)) => Some(only_pane(v, id)),
            (_, v) => v,
        };
        let now = Instant::now();
        self.due = None;
        let mut due = None;
        let mut hold_until = |t: Instant| due = Some(due.map_or(t, |d: Instant| d.min(t)));
        let mut updates = Vec::new();
        for pane in &visible {
            if let Some(since) = *pane.sync_since.lock() {
                // Mid-way through drawing a frame (mode 2026): wait for it, within reason.
                let until = Instant::from_std(since) + SYNC_TIMEOUT;
                if until > now {
                    hold_until(until);
                    continue;
                }
            }
            let last = self.sent.get(&pane.id);
            // Small updates (an echo, a prompt) go at once; a pane that changes a lot is
            // drawn at most once a frame interval.
            let paced = last.filter(|s| now < s.at + FRAME_INTERVAL).map(|s| s.at + FRAME_INTERVAL);
            match pane_frame(pane, last, paced.map(|_| SMALL_UPDATE_ROWS)) {
                Update::Frame(frame, state) => {
                    self.sent.insert(pane.id, Sent { at: now, ..state });
                    updates.push(frame);
                }
                Update::Held => hold_until(paced.unwrap_or(now)),
                Update::Unchanged => {}
            }
        }
        self.due = due;
        let mut out = Vec::new();
        if let Some(session) = view {
            out.push(ServerMsg::Session { session: Box::new(session) });
        }
        // Small updates (an echo) go in a message of their own, ahead of a flooding pane's
        // full screen, so the client draws them without first decoding the big one.
        let (small, big): (Vec<PaneFrame>, Vec<PaneFrame>) =
            updates.into_iter().partition(|f| !f.full && f.rows.len() <= SMALL_UPDATE_ROWS);
        for panes in [small, big] {
            if !panes.is_empty() {
                out.push(ServerMsg::Frame { panes });
            }
        }
        out
    }
}

/// A session's shape as a viewer of one pane sees it: that pane alone.
fn only_pane(mut view: crate::protocol::SessionView, id: PaneId) -> crate::protocol::SessionView {
    let name = view.tabs.iter().find(|t| t.layout.contains(id)).map(|t| t.name.clone()).unwrap_or_default();
    view.tabs = vec![crate::protocol::TabView {
        id: 0,
        name,
        layout: crate::layout::Layout::Pane(id),
        focused: id,
        zoomed: None,
        synchronized: false,
        arrangement: None,
    }];
    view.active_tab = 0;
    view.panes.retain(|p| p.id == id);
    view
}

/// An update touching at most this many rows is sent even between frame intervals.
const SMALL_UPDATE_ROWS: usize = 4;

enum Update {
    Frame(PaneFrame, Sent),
    /// More changed than the limit allows now.
    Held,
    Unchanged,
}

/// The rows of `pane` that changed since `sent` (all of them for a first or resized
/// frame), unless more than `limit` rows changed.
fn pane_frame(pane: &Pane, sent: Option<&Sent>, limit: Option<usize>) -> Update {
    let screen = pane.screen.lock();
    let (cols, rows) = screen.size();
    let size = Size { cols, rows };
    let (x, y) = screen.cursor_position();
    let modes = screen.modes();
    let cursor =
        CursorView { x, y, visible: modes.cursor_visible, shape: screen.cursor_shape(), color: screen.cursor_color() };
    let pane_modes = PaneModes { mouse: modes.mouse != MouseMode::Off, alt_screen: screen.alt_screen() };
    let generation = screen.generation();
    let first_line = screen.first_line();
    let full = sent.is_none_or(|s| s.size != size);
    if let Some(s) = sent
        && !full
        && s.generation == generation
        && s.cursor == cursor
        && s.modes == pane_modes
        && s.first_line == first_line
    {
        return Update::Unchanged;
    }
    let since = sent.map_or(0, |s| s.generation);
    let gens = screen.row_generations();
    if let Some(limit) = limit
        && (full || gens.iter().filter(|&&g| g > since).count() > limit)
    {
        return Update::Held;
    }
    let rows: Vec<(u16, WireRow)> = (0..rows as usize)
        .filter(|&y| full || gens[y] > since)
        .map(|y| (y as u16, WireRow::from_row(screen.row(y), screen.links())))
        .collect();
    let frame = PaneFrame {
        pane: pane.id,
        size,
        full,
        rows,
        cursor,
        modes: pane_modes,
        first_line,
        screen_top: screen.screen_top(),
        epoch: screen.epoch(),
    };
    Update::Frame(frame, Sent { at: Instant::now(), generation, size, cursor, modes: pane_modes, first_line })
}
