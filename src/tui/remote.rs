//! `teamster attach URL`: the TUI over a share link instead of the local runner.
//!
//! A task owns the WebSocket: it opens each update with the link's key (refusing any that
//! was altered), passes the messages inside to the TUI as if a local runner had sent them,
//! and reconnects on its own, resuming after the last update it applied. What the TUI
//! sends is sealed; a driver's keys and approvals are also signed, numbered, and kept
//! until the runner acknowledges them, so a reconnect loses none and doubles none; the
//! runner applies them only in order, asks for any it missed, and says when some never
//! came (the driver is told, and starts afresh). A
//! read-only link sends nothing but scrollback questions: the rest is answered here.

use super::link::Link;
use crate::layout::PaneId;
use crate::protocol::{ClientMsg, DetachReason, ServerMsg};
use crate::share::crypto::{self, aad, b64, random};
use crate::share::wire::{Authority, FromViewer, Gap, Kind, ReplyBody, Role, ToViewer, UpdateBody};
use futures_util::{SinkExt, StreamExt};
use std::collections::VecDeque;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use tokio_tungstenite::tungstenite::Message;

pub struct Remote {
    out: mpsc::UnboundedSender<(Kind, ClientMsg)>,
    inbox: mpsc::Receiver<ServerMsg>,
    /// Answers made here, without the runner: handed to the TUI first.
    local: VecDeque<ServerMsg>,
    role: Role,
    focused: Option<PaneId>,
    seen_session: bool,
}

impl Remote {
    /// Joins the share; returns once the server has let us in (or says why not).
    pub async fn connect(url: &str, name: String) -> Result<Remote, String> {
        let link = crypto::Link::parse(url)?;
        let role = if link.keys.can_drive() { Role::Drive } else { Role::Read };
        let (out, out_rx) = mpsc::unbounded_channel();
        let (in_tx, inbox) = mpsc::channel(1024);
        let (joined, first) = oneshot::channel();
        tokio::spawn(run(link, name, role, out_rx, in_tx, joined));
        first.await.map_err(|_| "the connection ended".to_string())??;
        let hello = match role {
            Role::Drive => {
                "attached to a shared session as a driver: you can type and approve; detach (ctrl-\\ d) leaves"
            }
            Role::Read => "watching a shared session (read-only link): typing goes nowhere; detach (ctrl-\\ d) leaves",
        };
        let local = VecDeque::from([ServerMsg::Error { message: hello.into() }]);
        Ok(Remote { out, inbox, local, role, focused: None, seen_session: false })
    }

    fn refuse(&mut self, id: Option<u64>, why: &str) {
        self.local.push_back(match id {
            Some(id) => ServerMsg::Reply { id, result: Err(why.into()) },
            None => ServerMsg::Error { message: why.into() },
        });
    }
}

const READ_ONLY: &str = "this is a read-only link: you can watch, not type or approve";

impl Link for Remote {
    async fn send(&mut self, msg: ClientMsg) -> std::io::Result<()> {
        let gone = || std::io::Error::new(std::io::ErrorKind::BrokenPipe, "the share link closed");
        let driver = self.role == Role::Drive;
        let (kind, msg) = match msg {
            ClientMsg::Attach { .. } | ClientMsg::Resize { .. } | ClientMsg::Hello { .. } => return Ok(()),
            ClientMsg::Detach => {
                self.local.push_back(ServerMsg::Detached { reason: DetachReason::Left });
                return Ok(());
            }
            ClientMsg::Input { .. } if !driver => {
                if !self.local.iter().any(|m| matches!(m, ServerMsg::Error { message } if message == READ_ONLY)) {
                    self.refuse(None, READ_ONLY);
                }
                return Ok(());
            }
            ClientMsg::Input { pane, events } => {
                (Kind::Input, ClientMsg::Input { pane: pane.or(self.focused), events })
            }
            ClientMsg::Resolve { id, .. } if !driver => {
                self.refuse(Some(id), READ_ONLY);
                return Ok(());
            }
            ClientMsg::Resolve { id, action, decision, .. } => {
                (Kind::Resolve, ClientMsg::Resolve { id, action, decision, via: crate::approval::Surface::Attach })
            }
            ClientMsg::Command { id, command } if !driver || command.changes_shape() => {
                let why = if driver { "only the sharer changes the layout" } else { READ_ONLY };
                self.refuse(Some(id), why);
                return Ok(());
            }
            m @ ClientMsg::Command { .. } => (Kind::Command, m),
            m @ (ClientMsg::GetLines { .. } | ClientMsg::Search { .. } | ClientMsg::GetText { .. }) => (Kind::Query, m),
            m @ ClientMsg::Comment { .. } => (Kind::Comment, m),
            ClientMsg::Fork { id, .. } if !driver => {
                self.refuse(Some(id), "forking takes a drive link");
                return Ok(());
            }
            m @ ClientMsg::Fork { .. } => (Kind::Fork, m),
            other => {
                let why = "not available in a shared session: it is the sharer's";
                self.refuse(other.request_id(), why);
                return Ok(());
            }
        };
        self.out.send((kind, msg)).map_err(|_| gone())
    }

    async fn recv(&mut self) -> std::io::Result<Option<ServerMsg>> {
        loop {
            // Notices wait for the session: the TUI takes an error before it as fatal.
            let notice_first = matches!(self.local.front(), Some(ServerMsg::Error { .. }));
            if (self.seen_session || !notice_first)
                && let Some(m) = self.local.pop_front()
            {
                return Ok(Some(m));
            }
            let msg = self.inbox.recv().await;
            match msg {
                Some(ServerMsg::Session { ref session }) => {
                    self.focused = session.focused();
                    self.seen_session = true;
                }
                Some(m @ ServerMsg::Error { .. }) if !self.seen_session => {
                    self.local.push_back(m);
                    continue;
                }
                _ => {}
            }
            return Ok(msg);
        }
    }

    async fn reconnect(&mut self) -> anyhow::Result<()> {
        anyhow::bail!("the share link ended")
    }
}

/// A driver's message, kept until the runner acknowledges it.
struct Unacked {
    seq: u64,
    kind: Kind,
    sealed: String,
    made: tokio::time::Instant,
}

/// What the runner has not acknowledged for this long (while it is connected) is sent
/// again: its gap notices travel through the relay too, and may be dropped. After the
/// longer wait the driver is told, once per stuck message.
const UNACKED_RESEND: Duration = Duration::from_secs(2);
const UNACKED_WARN: Duration = Duration::from_secs(8);

struct Conn {
    link: crypto::Link,
    role: Role,
    /// The last update applied, and the runner's epoch it carried.
    last: Option<u64>,
    epoch: Option<String>,
    driver: String,
    next: u64,
    unacked: VecDeque<Unacked>,
    to_tui: mpsc::Sender<ServerMsg>,
    /// Whether the sharer's runner is connected (so acknowledgements can come).
    runner: bool,
    /// When unacknowledged messages were last sent again, and the oldest one the driver
    /// was told about.
    chased: tokio::time::Instant,
    warned: u64,
}

impl Conn {
    fn send_text(&self, u: &Unacked) -> Option<String> {
        let drive = match u.kind.needs_driver() {
            true => {
                let epoch = self.epoch.as_deref()?;
                let signed = aad::drive(&self.link.keys.share, epoch, &self.driver, u.seq, u.kind.word(), &u.sealed);
                Some(Authority { id: self.driver.clone(), seq: u.seq, mac: self.link.keys.sign(&signed)? })
            }
            false => None,
        };
        serde_json::to_string(&FromViewer::Send { kind: u.kind, c: u.sealed.clone(), drive }).ok()
    }

    /// When what the runner has not acknowledged is due to be sent again, if anything is.
    fn overdue(&self) -> Option<tokio::time::Instant> {
        let oldest = self.unacked.front()?;
        (self.runner && self.epoch.is_some()).then(|| oldest.made.max(self.chased) + UNACKED_RESEND)
    }

    /// Tells the user something; the server's words in it are shown, never obeyed (an
    /// escape sequence in them would set the title or the clipboard).
    async fn tell(&self, message: String) {
        let message = crate::text::visible(&message).into_owned();
        let _ = self.to_tui.send(ServerMsg::Error { message }).await;
    }
}

/// A fresh driver id: the runner applies (id, seq) strictly in order, each once, so one is
/// made per attach (it outlives reconnects), and again when the runner gives up on a gap.
fn new_driver_id() -> String {
    random::<12>().map(|b| b64(&b)).unwrap_or_default()
}

enum End {
    /// Reconnect, and resume.
    Lost,
    /// The TUI left, or the share is over (the TUI was told why).
    Done,
}

async fn run(
    link: crypto::Link,
    name: String,
    role: Role,
    mut from_tui: mpsc::UnboundedReceiver<(Kind, ClientMsg)>,
    to_tui: mpsc::Sender<ServerMsg>,
    joined: oneshot::Sender<Result<(), String>>,
) {
    let mut c = Conn {
        link,
        role,
        last: None,
        epoch: None,
        driver: new_driver_id(),
        next: 1,
        unacked: VecDeque::new(),
        to_tui,
        runner: false,
        chased: tokio::time::Instant::now(),
        warned: 0,
    };
    let mut joined = Some(joined);
    let mut backoff = Duration::from_millis(100);
    loop {
        match join(&c, &name).await {
            Ok((ws, runner_here)) => {
                c.runner = runner_here;
                if let Some(tx) = joined.take() {
                    let _ = tx.send(Ok(()));
                } else {
                    c.tell("reconnected to the share server".into()).await;
                }
                if !runner_here {
                    c.tell("the sharer's runner is not connected; waiting for it".into()).await;
                }
                backoff = Duration::from_millis(100);
                match session(&mut c, ws, &mut from_tui).await {
                    End::Done => return,
                    End::Lost => c.tell("lost the share server; reconnecting…".into()).await,
                }
            }
            Err((why, fatal)) => {
                if let Some(tx) = joined.take() {
                    let _ = tx.send(Err(why));
                    return;
                }
                if fatal {
                    let _ = c.to_tui.send(ServerMsg::Detached { reason: DetachReason::ShareEnded(why) }).await;
                    return;
                }
            }
        }
        // Retrying a connection: nothing to wake us but time (or the TUI leaving).
        tokio::select! {
            _ = tokio::time::sleep(backoff) => {}
            m = from_tui.recv() => match m {
                None => return,
                // A driver's message waits for the connection; a question cannot.
                Some((Kind::Query | Kind::Comment, msg)) => {
                    if let Some(id) = msg.request_id() {
                        let result = Err("not connected to the share server; try again in a moment".into());
                        let _ = c.to_tui.send(ServerMsg::Reply { id, result }).await;
                    }
                }
                Some((kind, msg)) => {
                    outgoing(&mut c, kind, msg);
                }
            },
        }
        backoff = (backoff * 2).min(Duration::from_secs(3));
    }
}

/// Connects and joins; an error says why, and whether trying again could help.
async fn join(c: &Conn, name: &str) -> Result<(crate::share::Client, bool), (String, bool)> {
    let mut ws = crate::share::connect(&c.link.server).await.map_err(|e| (e, false))?;
    let token = match c.role {
        Role::Drive => c.link.keys.drive_token().unwrap_or_default(),
        Role::Read => c.link.keys.read_token(),
    };
    let hello = FromViewer::Join {
        share: c.link.keys.share.clone(),
        token,
        role: c.role,
        name: name.to_string(),
        resume: c.last,
    };
    let text = serde_json::to_string(&hello).map_err(|e| (e.to_string(), true))?;
    ws.send(Message::text(text)).await.map_err(|e| (e.to_string(), false))?;
    let reply = tokio::time::timeout(Duration::from_secs(10), ws.next())
        .await
        .map_err(|_| ("the share server did not answer".to_string(), false))?;
    match reply {
        Some(Ok(Message::Text(t))) => match serde_json::from_str::<ToViewer>(&t) {
            Ok(ToViewer::Joined { runner, .. }) => Ok((ws, runner)),
            Ok(ToViewer::Refused { reason }) => {
                Err((format!("the share server refused: {}", crate::text::visible(&reason)), true))
            }
            _ => Err(("the share server answered something unexpected".into(), false)),
        },
        _ => Err(("the share server closed the connection".into(), false)),
    }
}

/// Seals a message from the TUI; a driver's is numbered and kept until the runner
/// acknowledges it. Returns what to send now, if it can go yet.
fn outgoing(c: &mut Conn, kind: Kind, msg: ClientMsg) -> Option<String> {
    let plain = serde_json::to_vec(&msg).ok()?;
    let sealed = c.link.keys.seal(&aad::viewer(&c.link.keys.share, kind.word()), &plain).ok()?;
    if !kind.needs_driver() {
        return c.send_text(&Unacked { seq: 0, kind, sealed, made: tokio::time::Instant::now() });
    }
    c.unacked.push_back(Unacked { seq: c.next, kind, sealed, made: tokio::time::Instant::now() });
    c.next += 1;
    c.unacked.back().and_then(|u| c.send_text(u))
}

/// Sends again what the runner has not acknowledged; false when the connection is gone.
async fn resend(c: &Conn, ws: &mut crate::share::Client) -> bool {
    for text in c.unacked.iter().filter_map(|u| c.send_text(u)).collect::<Vec<_>>() {
        if ws.send(Message::text(text)).await.is_err() {
            return false;
        }
    }
    true
}

async fn session(
    c: &mut Conn,
    mut ws: crate::share::Client,
    from_tui: &mut mpsc::UnboundedReceiver<(Kind, ClientMsg)>,
) -> End {
    // What the runner has not acknowledged goes again, once an update names its epoch.
    let mut owed = !c.unacked.is_empty();
    if owed && c.epoch.is_some() {
        owed = false;
        if !resend(c, &mut ws).await {
            return End::Lost;
        }
    }
    loop {
        let overdue = c.overdue();
        tokio::select! {
            _ = tokio::time::sleep_until(overdue.unwrap_or_else(tokio::time::Instant::now)), if overdue.is_some() => {
                c.chased = tokio::time::Instant::now();
                if !resend(c, &mut ws).await {
                    return End::Lost;
                }
                if let Some(oldest) = c.unacked.front()
                    && oldest.made.elapsed() >= UNACKED_WARN
                    && c.warned != oldest.seq
                {
                    c.warned = oldest.seq;
                    let n = c.unacked.len();
                    c.tell(format!(
                        "the sharer has not confirmed {n} of your inputs for {} s (something on the way may be holding them back): they are kept and sent again, and are applied in order or not at all",
                        UNACKED_WARN.as_secs()
                    ))
                    .await;
                }
            }
            m = from_tui.recv() => {
                let Some((kind, msg)) = m else {
                    let _ = ws.close(None).await;
                    return End::Done;
                };
                if let Some(text) = outgoing(c, kind, msg) && ws.send(Message::text(text)).await.is_err() {
                    return End::Lost;
                }
            }
            m = ws.next() => {
                let text = match m {
                    Some(Ok(Message::Text(t))) => t,
                    Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return End::Lost,
                    Some(Ok(_)) => continue,
                };
                match serde_json::from_str::<ToViewer>(&text) {
                    Ok(ToViewer::Update { seq, snap, c: sealed }) => {
                        if c.last.is_some_and(|l| seq <= l) {
                            continue; // had it
                        }
                        if !snap && c.last.is_some_and(|l| seq != l + 1) {
                            return End::Lost; // a gap: resume from the last one applied
                        }
                        let body = c
                            .link
                            .keys
                            .open(&aad::update(&c.link.keys.share, seq, snap), &sealed)
                            .and_then(|p| serde_json::from_slice::<UpdateBody>(&p).map_err(|e| e.to_string()));
                        let body = match body {
                            Ok(b) => b,
                            Err(e) => {
                                c.tell(format!("refused update {seq} from the share server: {e}")).await;
                                continue;
                            }
                        };
                        if c.epoch.as_ref().is_some_and(|e| *e != body.epoch) {
                            // A new runner (it restarted): it knows nothing of this driver's
                            // numbers, and what it had not confirmed was for programs that
                            // have since started again. A fresh driver, and nothing replayed.
                            let lost = c.unacked.len();
                            c.unacked.clear();
                            c.driver = new_driver_id();
                            c.next = 1;
                            if lost > 0 {
                                c.tell(format!("{lost} of your inputs had not reached the sharer before their runner restarted; they were not applied")).await;
                            }
                        }
                        c.epoch = Some(body.epoch);
                        c.last = Some(seq);
                        // Another machine's program never sets this terminal's clipboard, whatever
                        // the sharer's runner sends (it sends none).
                        for msg in body.msgs.into_iter().filter(|m| !matches!(m, ServerMsg::Clipboard { .. })) {
                            if c.to_tui.send(msg).await.is_err() {
                                return End::Done;
                            }
                        }
                        if owed {
                            owed = false;
                            if !resend(c, &mut ws).await {
                                return End::Lost;
                            }
                        }
                    }
                    Ok(ToViewer::Reply { c: sealed }) => {
                        let body = c
                            .link
                            .keys
                            .open(&aad::reply(&c.link.keys.share), &sealed)
                            .and_then(|p| serde_json::from_slice::<ReplyBody>(&p).map_err(|e| e.to_string()));
                        match body {
                            Ok(body) => {
                                // A gap is about the driver the acknowledgement names.
                                let ours = body.ack.as_ref().is_some_and(|(id, _)| *id == c.driver);
                                if let Some((_, seq)) = body.ack.filter(|_| ours) {
                                    c.unacked.retain(|u| u.seq > seq);
                                }
                                match body.gap.filter(|_| ours) {
                                    // Some of ours did not reach the runner (later ones did):
                                    // everything it has not acknowledged goes again, in order.
                                    Some(Gap::Resend) if !resend(c, &mut ws).await => return End::Lost,
                                    // They never got through: the runner applied none of them
                                    // (nor anything after), and takes no more under this id.
                                    Some(Gap::Lost) => {
                                        let lost = c.unacked.len();
                                        c.unacked.clear();
                                        c.driver = new_driver_id();
                                        c.next = 1;
                                        c.tell(format!(
                                            "input lost on the way: {lost} of your last inputs never reached the sharer whole, so none of them was applied; type them again"
                                        ))
                                        .await;
                                    }
                                    _ => {}
                                }
                                // A sharer never sets the viewer's clipboard.
                                let msg = body.msg.filter(|m| !matches!(m, ServerMsg::Clipboard { .. }));
                                if let Some(msg) = msg && c.to_tui.send(msg).await.is_err() {
                                    return End::Done;
                                }
                            }
                            Err(e) => c.tell(format!("refused a reply from the share server: {e}")).await,
                        }
                    }
                    Ok(ToViewer::Status { runner, restarting }) => {
                        c.runner = runner;
                        let what = match (runner, restarting) {
                            (true, _) => "the sharer's runner is back",
                            (false, true) => "the sharer's runner is restarting; their session comes back when it does",
                            (false, false) => "the sharer's runner went away; waiting for it",
                        };
                        c.tell(what.into()).await;
                    }
                    Ok(ToViewer::Refused { reason }) => {
                        let reason = DetachReason::ShareEnded(crate::text::visible(&reason).into_owned());
                        let _ = c.to_tui.send(ServerMsg::Detached { reason }).await;
                        return End::Done;
                    }
                    Ok(ToViewer::Error { reason }) => c.tell(format!("the share server: {reason}")).await,
                    Ok(ToViewer::Joined { .. }) => {}
                    Err(e) => c.tell(format!("the share server sent something malformed: {e}")).await,
                }
            }
        }
    }
}
