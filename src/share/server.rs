//! `teamster serve`: the share server. It serves the web UI, checks who may join a share,
//! and relays sealed updates from a runner to its viewers and sealed actions back. It never
//! holds a key: it cannot read a session, and a driver's actions are checked by the runner.
//!
//! Per share it keeps, in memory, the latest snapshot and the updates after it (the
//! runner sends a fresh snapshot every few megabytes), so a viewer that reconnects resumes
//! from its last update and a slow viewer is sent the snapshot instead of a backlog. After
//! a restart the runner sends it again. On disk (`store`) it keeps only the share records
//! and its audit.
//!
//! Its clients are not trusted to be reasonable: the server itself bounds how long a share
//! lasts (`LONGEST_SHARE`), how fast shares are made, each share's backlog (`BACKLOG_MAX`:
//! a runner is asked for a snapshot, and cut off if none comes), what waits for each
//! connection, and how fast wrong tokens are answered (never whether the right one is).

use super::LONGEST_SHARE;
use super::bus::{Bus, BusMsg, Envelope};
use super::crypto::{same, token_hash};
use super::store::{AuditEvent, Invite, InviteRefused, Member, ShareRecord, ShareStore, Target};
use super::wire::{
    Ended, FromRunner, FromViewer, Kind, MAX_RUNNER_MSG, MAX_VIEWER_MSG, Register, Role, ToRunner, ToViewer,
};
use crate::text::visible;
use futures_util::{SinkExt, StreamExt};
use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use parking_lot::Mutex;
use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::{mpsc, watch};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};

const INDEX_HTML: &str = include_str!("../../web/index.html");
const APP_JS: &str = include_str!("../../web/app.js");
/// The protocol's names and shapes for the page, generated from the Rust types (`web_types`).
const PROTOCOL_JS: &str = include_str!("../../web/protocol.js");

/// A viewer's messages: a burst of this many, then this many a second.
const RATE_BURST: f64 = 200.0;
const RATE_PER_SEC: f64 = 100.0;
/// Messages dropped for flooding before the viewer is cut off.
const FLOOD_LIMIT: u32 = 2000;
/// Updates sent to a viewer between reads of what it sends.
const UPDATES_PER_TURN: usize = 16;
/// How long a new connection has to say who it is.
const HELLO_TIMEOUT: Duration = Duration::from_secs(10);

/// New shares from one address: a burst, then one every 6 s; from everyone together, a
/// bigger burst, then 2 a second. Reconnecting an existing share is not a new one.
const REGISTER_BURST_PER_ADDR: f64 = 10.0;
const REGISTER_PER_SEC_PER_ADDR: f64 = 1.0 / 6.0;
const REGISTER_BURST_ALL: f64 = 100.0;
const REGISTER_PER_SEC_ALL: f64 = 2.0;
/// Per share, the bytes of updates kept after the latest snapshot before the runner is
/// asked for a new one (a runner makes one itself every 2 MiB), and the most kept in all,
/// snapshot included: past it the backlog is dropped and the runner, which did not send
/// the snapshot it was asked for, is cut off. No viewer is ever sent more than this.
const BACKLOG_ASK: usize = 4 << 20;
const BACKLOG_MAX: usize = MAX_RUNNER_MSG + (4 << 20);
/// What may wait to be sent to one connection (replies, notices, viewers' messages to a
/// runner) before it counts as not keeping up.
const QUEUE_MAX: usize = 8 << 20;
/// Failed joins (or runner tokens) free of delay: per share and address, and per address
/// over all shares; each one after is answered later, twice as late each time, at most
/// `FAIL_DELAY_MAX`; a failure-free `FAIL_FORGET` clears the count.
const FREE_FAILS_PER_SHARE: u32 = 5;
const FREE_FAILS_PER_ADDR: u32 = 20;
const FAIL_DELAY_FIRST: Duration = Duration::from_millis(250);
const FAIL_DELAY_MAX: Duration = Duration::from_secs(30);
const FAIL_FORGET: Duration = Duration::from_secs(600);
/// Addresses (and share-address pairs) remembered for their failures, at most.
const FAIL_ENTRIES_MAX: usize = 100_000;
/// Failed joins from one address waiting out their delay; more are refused at once.
const FAILS_WAITING_PER_ADDR: u32 = 32;
/// How often expired shares are swept out of the records (they are also refused, and
/// removed, whenever someone tries one).
const SWEEP_EVERY: Duration = Duration::from_secs(600);

fn now_secs() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

/// One line of the server's log. Much of what it reports comes from peers (share ids,
/// names, parse errors quoting what was sent), so control characters are shown, not obeyed.
fn log(msg: &str) {
    eprintln!("[teamster serve {}] {}", crate::runner::store::local_time(now_secs()), visible(msg));
}

#[derive(Clone)]
struct Update {
    seq: u64,
    snap: bool,
    /// The runner's message as it came: every viewer is sent the same bytes, uncopied.
    text: Utf8Bytes,
}

/// What goes to one connection besides the updates everyone gets.
enum ToOne {
    Text(String),
    /// The connection ends, with this reason.
    Cut(String),
}

/// A connection's queue of `ToOne`, bounded in bytes: a peer that does not read cannot
/// make the server hold what others send it.
#[derive(Clone)]
struct Outbox {
    tx: mpsc::UnboundedSender<ToOne>,
    queued: Arc<AtomicUsize>,
}

impl Outbox {
    fn new() -> (Outbox, mpsc::UnboundedReceiver<ToOne>) {
        let (tx, rx) = mpsc::unbounded_channel();
        (Outbox { tx, queued: Arc::new(AtomicUsize::new(0)) }, rx)
    }

    /// Queues `text`; false (and not queued) if the connection is too far behind.
    fn send(&self, text: String) -> bool {
        let len = text.len();
        if self.queued.fetch_add(len, Ordering::Relaxed) + len > QUEUE_MAX {
            self.queued.fetch_sub(len, Ordering::Relaxed);
            return false;
        }
        if self.tx.send(ToOne::Text(text)).is_err() {
            self.queued.fetch_sub(len, Ordering::Relaxed);
        }
        true
    }

    fn cut(&self, reason: &str) {
        let _ = self.tx.send(ToOne::Cut(reason.to_string()));
    }

    /// Called for each text taken off the queue.
    fn sent(&self, text: &str) {
        self.queued.fetch_sub(text.len(), Ordering::Relaxed);
    }
}

struct Viewer {
    role: Role,
    name: String,
    out: Outbox,
}

/// What became of a runner's update.
#[derive(Debug, PartialEq, Eq)]
enum Took {
    Kept,
    /// Kept, and the backlog is now big enough to ask the runner for a snapshot.
    KeptAskSnapshot,
    /// The server has it already (sent again after a reconnect).
    Had,
    /// Not kept: updates before it are missing (a replica missed some on the bus); only a
    /// snapshot is taken until one comes.
    Gap,
    /// Not kept: the backlog was dropped, and only a snapshot is taken until one comes.
    WaitingForSnapshot,
    /// Over the bound without the snapshot it was asked for: backlog dropped, runner cut.
    Over,
}

#[derive(Default)]
struct HubState {
    /// The latest snapshot and the updates after it: empty, or a snapshot first.
    buffer: VecDeque<Update>,
    /// Their bytes (the snapshot's are the first's).
    bytes: usize,
    /// The runner was asked for a snapshot and has not sent one yet.
    asked: bool,
    /// Bytes of updates not kept since the backlog was dropped, waiting for a snapshot.
    unkept: usize,
    runner: Option<(u64, Outbox)>,
    /// The runner's connection on another replica, as the bus last said.
    remote_runner: Option<u64>,
    /// The runner left saying it is restarting, and has not come back yet.
    restarting: bool,
    /// When other replicas were last told the runner is here (answering their asks).
    told_here: Option<Instant>,
    viewers: HashMap<u64, Viewer>,
    /// The other replicas, when there are any.
    link: Option<BusLink>,
}

/// A hub's way to the other replicas: its share's subject on the bus.
#[derive(Clone)]
struct BusLink {
    bus: Arc<dyn Bus>,
    share: String,
    replica: u32,
}

impl BusLink {
    fn publish(&self, msg: BusMsg) {
        self.bus.publish(&self.share, Envelope { origin: self.replica, msg });
    }
}

impl HubState {
    fn have(&self) -> u64 {
        self.buffer.back().map_or(0, |u| u.seq)
    }

    /// Takes a runner's update into the backlog, bounded (see `BACKLOG_MAX`).
    fn take(&mut self, update: Update) -> Took {
        if update.seq <= self.have() {
            return Took::Had;
        }
        let len = update.text.len();
        if update.snap {
            self.buffer.clear();
            self.bytes = len;
            self.asked = false;
            self.unkept = 0;
            self.buffer.push_back(update);
            return Took::Kept;
        }
        if !self.buffer.is_empty() && update.seq != self.have() + 1 {
            // Updates mean nothing without all those before them since the snapshot.
            self.buffer.clear();
            self.bytes = 0;
            self.unkept = len;
            return Took::Gap;
        }
        if self.buffer.is_empty() {
            // Updates mean nothing without the snapshot they follow; a runner that keeps
            // sending them instead of one is cut off like one that floods the backlog.
            self.unkept = self.unkept.saturating_add(len);
            if self.unkept > BACKLOG_MAX {
                self.unkept = 0;
                return Took::Over;
            }
            return Took::WaitingForSnapshot;
        }
        if self.bytes + len > BACKLOG_MAX {
            self.buffer.clear();
            self.bytes = 0;
            self.asked = false;
            return Took::Over;
        }
        self.bytes += len;
        self.buffer.push_back(update);
        let snap_bytes = self.buffer.front().map_or(0, |s| s.text.len());
        if !self.asked && self.bytes - snap_bytes > BACKLOG_ASK {
            self.asked = true;
            return Took::KeptAskSnapshot;
        }
        Took::Kept
    }

    /// The next update for a viewer that applied up to `last`: the one after it if it is
    /// here, else the snapshot (what it missed is gone, and the snapshot replaces it).
    fn next_after(&self, last: u64) -> Option<Update> {
        let first = self.buffer.front()?;
        if last.saturating_add(1) < first.seq {
            return Some(first.clone());
        }
        // Their numbers increase along the backlog: the first after `last`, by halving.
        self.buffer.get(self.buffer.partition_point(|u| u.seq <= last)).cloned()
    }

    /// Sends `msg` to the runner: here, or through the bus to the replica it is on.
    fn tell_runner(&self, msg: &ToRunner) -> bool {
        let Ok(text) = serde_json::to_string(msg) else { return true };
        match (&self.runner, &self.link) {
            (Some((_, out)), _) => out.send(text),
            (None, Some(link)) => {
                link.publish(BusMsg::ToRunner { text });
                true
            }
            (None, None) => true,
        }
    }

    /// Sends `text` to one viewer's connection: here, or through the bus.
    fn tell_viewer(&self, conn: u64, text: String) {
        match (self.viewers.get(&conn), &self.link) {
            (Some(v), _) => {
                if !v.out.send(text) {
                    v.out.cut("this connection fell too far behind");
                }
            }
            (None, Some(link)) => link.publish(BusMsg::ToViewer { conn, text }),
            (None, None) => {}
        }
    }

    fn runner_here(&self) -> bool {
        self.runner.is_some() || self.remote_runner.is_some()
    }

    /// Asks the runner for a snapshot, once until one comes.
    fn want_snapshot(&mut self) {
        if self.asked {
            return;
        }
        self.asked = true;
        match (&self.runner, &self.link) {
            (Some(_), _) => {
                self.tell_runner(&ToRunner::Snapshot);
            }
            (None, Some(link)) => link.publish(BusMsg::WantSnapshot),
            (None, None) => {}
        }
    }

    /// What another replica said about this share. Returns the newest update number when
    /// viewers have something new to read, and whether the share is over (and why).
    fn heard(&mut self, msg: BusMsg) -> Heard {
        match msg {
            BusMsg::Update { seq, snap, text } => match self.take(Update { seq, snap, text: text.into() }) {
                Took::Kept | Took::KeptAskSnapshot => {
                    // The runner's own replica asks it for snapshots; this one only follows.
                    return Heard::Latest(seq);
                }
                Took::Gap | Took::WaitingForSnapshot => {
                    if !self.asked
                        && let Some(link) = &self.link
                    {
                        log(&format!(
                            "share {}: update {seq} came without those before it (missed on the bus); asked the runner for a snapshot",
                            link.share
                        ));
                    }
                    self.want_snapshot();
                }
                Took::Had | Took::Over => {}
            },
            BusMsg::RunnerHere { conn, fresh } => {
                self.restarting = false;
                if let Some((mine, out)) = &self.runner
                    && *mine != conn
                    && fresh
                {
                    out.cut("another connection of the same runner took over");
                }
                // Viewers hear of it when it changes, not at every replica's answer.
                let was_here = self.runner_here();
                self.remote_runner = Some(conn);
                if !was_here {
                    self.tell_viewers(&ToViewer::Status { runner: true, restarting: false });
                }
                if fresh {
                    // Who is watching here, so the sharer's list is whole after it moved.
                    for (c, v) in &self.viewers {
                        self.tell_runner(&ToRunner::Joined { conn: *c, role: v.role, name: v.name.clone() });
                    }
                }
                // A runner that just connected was asked for nothing yet: ask it, if this
                // replica has nothing. (Only then: an answer to our own ask must not ask
                // again, or replicas would ask each other in a loop.)
                if fresh && self.buffer.is_empty() {
                    self.asked = false;
                    self.want_snapshot();
                }
            }
            BusMsg::RunnerGone { conn, restarting } => {
                if self.remote_runner == Some(conn) {
                    self.remote_runner = None;
                    self.restarting = restarting;
                    if self.runner.is_none() {
                        self.tell_viewers(&ToViewer::Status { runner: false, restarting: self.restarting });
                    }
                }
            }
            BusMsg::ToRunner { text } => {
                if let Some((_, out)) = &self.runner {
                    out.send(text);
                }
            }
            BusMsg::ToViewer { conn, text } => {
                if let Some(v) = self.viewers.get(&conn)
                    && !v.out.send(text)
                {
                    v.out.cut("this connection fell too far behind");
                }
            }
            BusMsg::WantSnapshot => {
                if let Some((conn, _)) = &self.runner {
                    // Whoever asks may not know the runner is here yet: said at most once a
                    // second, however many ask.
                    let conn = *conn;
                    let now = Instant::now();
                    if self.told_here.is_none_or(|t| now.duration_since(t) >= Duration::from_secs(1))
                        && let Some(link) = &self.link
                    {
                        self.told_here = Some(now);
                        link.publish(BusMsg::RunnerHere { conn, fresh: false });
                    }
                    self.want_snapshot();
                }
            }
            BusMsg::Close { reason } => return Heard::Closed(reason),
        }
        Heard::Nothing
    }

    fn tell_viewers(&self, msg: &ToViewer) {
        if let Ok(text) = serde_json::to_string(msg) {
            for v in self.viewers.values() {
                if !v.out.send(text.clone()) {
                    v.out.cut("this connection fell too far behind");
                }
            }
        }
    }
}

/// What a hub made of a message from another replica.
enum Heard {
    Nothing,
    /// Viewers have updates up to this one to read.
    Latest(u64),
    Closed(String),
}

struct Hub {
    state: Mutex<HubState>,
    /// The latest update's number: viewers wait on it, then read the backlog.
    latest: watch::Sender<u64>,
    /// Set when the share's hub is closed here: its bus reader ends.
    closed: watch::Sender<bool>,
}

/// A token bucket: a burst, then a steady rate.
pub(crate) struct Bucket {
    tokens: f64,
    at: Instant,
}

impl Bucket {
    pub(crate) fn full(burst: f64) -> Bucket {
        Bucket { tokens: burst, at: Instant::now() }
    }

    /// Takes one if there is one; else how long until there is.
    pub(crate) fn take(&mut self, burst: f64, per_sec: f64) -> Result<(), Duration> {
        let now = Instant::now();
        self.tokens = (self.tokens + now.duration_since(self.at).as_secs_f64() * per_sec).min(burst);
        self.at = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            return Ok(());
        }
        Err(Duration::from_secs_f64((1.0 - self.tokens) / per_sec))
    }
}

/// New shares, limited per address and overall.
struct Registrations {
    all: Bucket,
    by_addr: HashMap<IpAddr, Bucket>,
}

impl Registrations {
    fn new() -> Registrations {
        Registrations { all: Bucket::full(REGISTER_BURST_ALL), by_addr: HashMap::new() }
    }

    /// Whether `ip` may register a share now; why not, for the runner, otherwise.
    fn admit(&mut self, ip: IpAddr) -> Result<(), String> {
        if self.by_addr.len() > 10_000 {
            // Full buckets are the same as none.
            self.by_addr
                .retain(|_, b| b.at.elapsed().as_secs_f64() * REGISTER_PER_SEC_PER_ADDR < REGISTER_BURST_PER_ADDR);
        }
        let mine = self.by_addr.entry(ip).or_insert_with(|| Bucket::full(REGISTER_BURST_PER_ADDR));
        if let Err(wait) = mine.take(REGISTER_BURST_PER_ADDR, REGISTER_PER_SEC_PER_ADDR) {
            return Err(format!(
                "too many new shares from this address (at most {REGISTER_BURST_PER_ADDR} at once, then one every {:.0} s): try again in {} s",
                1.0 / REGISTER_PER_SEC_PER_ADDR,
                wait.as_secs() + 1
            ));
        }
        if let Err(wait) = self.all.take(REGISTER_BURST_ALL, REGISTER_PER_SEC_ALL) {
            return Err(format!(
                "this share server is taking too many new shares right now: try again in {} s",
                wait.as_secs() + 1
            ));
        }
        Ok(())
    }
}

/// A count of failures that fades: forgotten after `FAIL_FORGET` without one.
#[derive(Clone, Copy)]
struct Strikes {
    count: u32,
    last: Instant,
}

/// Failed joins, per share and address and per address: they slow down the next failed
/// answers from there, never the check of a token. The right token from the same address
/// is let in at once, and other addresses are not touched.
#[derive(Default)]
struct Failures {
    by_share: HashMap<(String, IpAddr), Strikes>,
    by_addr: HashMap<IpAddr, Strikes>,
    /// Failed answers waiting out their delay, per address.
    waiting: HashMap<IpAddr, u32>,
}

fn delay_after(count: u32, free: u32) -> Duration {
    if count <= free {
        return Duration::ZERO;
    }
    let doublings = (count - free - 1).min(16);
    (FAIL_DELAY_FIRST * (1u32 << doublings)).min(FAIL_DELAY_MAX)
}

impl Failures {
    /// Counts a failure; returns how long to hold its answer back, or None if too many
    /// answers from this address are held already (refuse it at once).
    fn fail(&mut self, share: &str, ip: IpAddr) -> Option<Duration> {
        let now = Instant::now();
        if self.by_share.len() > 10_000 || self.by_addr.len() > 10_000 {
            self.forget_old();
        }
        if self.by_share.len() > FAIL_ENTRIES_MAX || self.by_addr.len() > FAIL_ENTRIES_MAX {
            // Failing from this many places at once is an attack this table cannot slow
            // anyway; its memory must stay bounded regardless.
            self.by_share.clear();
            self.by_addr.clear();
        }
        let bump = |s: &mut Strikes| {
            if now.duration_since(s.last) > FAIL_FORGET {
                s.count = 0;
            }
            s.count = s.count.saturating_add(1);
            s.last = now;
            s.count
        };
        let fresh = Strikes { count: 0, last: now };
        let per_share = bump(self.by_share.entry((share.to_string(), ip)).or_insert(fresh));
        let per_addr = bump(self.by_addr.entry(ip).or_insert(fresh));
        let delay = delay_after(per_share, FREE_FAILS_PER_SHARE).max(delay_after(per_addr, FREE_FAILS_PER_ADDR));
        if delay.is_zero() {
            return Some(delay);
        }
        let waiting = self.waiting.entry(ip).or_insert(0);
        if *waiting >= FAILS_WAITING_PER_ADDR {
            return None;
        }
        *waiting += 1;
        Some(delay)
    }

    fn done_waiting(&mut self, ip: IpAddr) {
        if let Some(w) = self.waiting.get_mut(&ip) {
            *w = w.saturating_sub(1);
            if *w == 0 {
                self.waiting.remove(&ip);
            }
        }
    }

    fn forget_old(&mut self) {
        let now = Instant::now();
        self.by_share.retain(|_, s| now.duration_since(s.last) <= FAIL_FORGET);
        self.by_addr.retain(|_, s| now.duration_since(s.last) <= FAIL_FORGET);
    }
}

pub struct Server {
    store: Arc<dyn ShareStore>,
    /// The other replicas, when there are any (`--bus`).
    bus: Option<Arc<dyn Bus>>,
    /// This replica's number: the high bits of its connection ids.
    replica: u32,
    /// Audit events, written in order by one task (never on a connection's way).
    audit_tx: mpsc::UnboundedSender<AuditEvent>,
    hubs: Mutex<HashMap<String, Arc<Hub>>>,
    next_conn: AtomicU64,
    failures: Mutex<Failures>,
    registrations: Mutex<Registrations>,
    /// The team token's hash, when there is one.
    team_hash: Option<String>,
    /// Only the team registers shares: by its token, or a member's.
    closed: bool,
}

const REVOKED: &str = "your membership of this share server was revoked, and with it your shares there; ask its operator for a new invite";

/// Who may register shares on a server.
#[derive(Clone, Debug, Default)]
pub struct Access {
    /// The team token (`--team-token-file`).
    pub team: Option<String>,
    /// Only the team token or a member's (`--members-only`, or a team token given).
    pub members_only: bool,
}

impl Server {
    /// A server on `store`, alone or one of the replicas on `bus`; only runners that give
    /// `team` register shares, when it is given (viewers still need only their link).
    /// Spawns its audit writer: call it on a runtime.
    pub async fn new(
        store: Arc<dyn ShareStore>,
        bus: Option<Arc<dyn Bus>>,
        access: Access,
    ) -> Result<Arc<Server>, String> {
        let replica = store.new_replica().await?;
        let (audit_tx, mut audit_rx) = mpsc::unbounded_channel::<AuditEvent>();
        let writer = store.clone();
        tokio::spawn(async move {
            while let Some(e) = audit_rx.recv().await {
                if let Err(e) = writer.audit(&e).await {
                    log(&e);
                }
            }
        });
        Ok(Arc::new(Server {
            store,
            bus,
            replica,
            audit_tx,
            hubs: Mutex::new(HashMap::new()),
            next_conn: AtomicU64::new(1),
            failures: Mutex::new(Failures::default()),
            registrations: Mutex::new(Registrations::new()),
            closed: access.members_only || access.team.is_some(),
            team_hash: access.team.as_deref().map(token_hash),
        }))
    }

    /// A new connection's id, unique across replicas.
    fn new_conn(&self) -> u64 {
        (u64::from(self.replica) << 32) | self.next_conn.fetch_add(1, Ordering::Relaxed)
    }

    /// The share's hub here, made on first use; with other replicas, it listens to the
    /// share's subject on the bus until it is closed.
    fn hub(self: &Arc<Self>, share: &str) -> Arc<Hub> {
        let mut hubs = self.hubs.lock();
        if let Some(hub) = hubs.get(share) {
            return hub.clone();
        }
        let link =
            self.bus.as_ref().map(|bus| BusLink { bus: bus.clone(), share: share.to_string(), replica: self.replica });
        let state = HubState { link, ..HubState::default() };
        let hub =
            Arc::new(Hub { state: Mutex::new(state), latest: watch::channel(0).0, closed: watch::channel(false).0 });
        hubs.insert(share.to_string(), hub.clone());
        if let Some(bus) = &self.bus {
            tokio::spawn(listen(self.clone(), bus.clone(), share.to_string(), hub.clone()));
        }
        hub
    }

    fn audit(&self, share: &str, conn: u64, who: &str, role: &str, event: &str, detail: &str) {
        let _ = self.audit_tx.send(AuditEvent {
            ts: now_secs(),
            share: share.into(),
            conn,
            who: who.into(),
            role: role.into(),
            event: event.into(),
            detail: detail.into(),
        });
    }

    /// The share's record, if it is still there: an expired one is removed (and its
    /// viewers and runner cut off) the first time anyone asks for it.
    async fn record(&self, share: &str) -> Result<Option<ShareRecord>, String> {
        let rec = self.store.share(share).await?;
        match rec {
            Some(rec) if rec.revoked.is_none() && expiry(&rec) <= now_secs() => {
                self.expire(share).await;
                Ok(Some(rec))
            }
            other => Ok(other),
        }
    }

    async fn expire(&self, share: &str) {
        if let Err(e) = self.store.remove(share).await {
            log(&e);
        }
        self.close_hub(share, Ended::Expired.words());
    }

    /// Removes the shares that expired; run now and then.
    async fn sweep(&self) {
        match self.store.remove_expired(now_secs(), LONGEST_SHARE).await {
            Ok(ids) => {
                for id in ids {
                    self.close_hub(&id, Ended::Expired.words());
                }
            }
            Err(e) => log(&e),
        }
        self.failures.lock().forget_old();
    }

    /// A failed join or runner token from `peer`: answered with `reason` once its delay
    /// is over (see `Failures`).
    async fn failed(
        &self,
        ws: &mut Ws,
        share: &str,
        peer: SocketAddr,
        reason: String,
        refused: impl Fn(String) -> String,
    ) {
        let ip = addr_key(peer.ip());
        let delay = self.failures.lock().fail(share, ip);
        let answer = match delay {
            Some(d) if d.is_zero() => reason,
            Some(d) => {
                // Holding the answer back is the point: the next guess waits for it.
                tokio::time::sleep(d).await;
                self.failures.lock().done_waiting(ip);
                format!(
                    "{reason} (too many failed attempts from this address: this answer waited {:.1} s, the next will wait longer)",
                    d.as_secs_f64()
                )
            }
            None => "too many failed attempts from this address; slow down".into(),
        };
        let _ = say(ws, refused(answer)).await;
        let _ = ws.close(None).await;
    }

    /// Whether a runner that gives `team` may register a share here: on a team's server,
    /// the team token or a member's (from `teamster join`); the member, if it was one.
    /// Refused: why, and whether it was a guess (a wrong token, slowed like one).
    async fn sharer(&self, team: Option<&str>) -> Result<Option<String>, (String, bool)> {
        if !self.closed {
            return Ok(None);
        }
        let Some(token) = team else {
            return Err(("this server registers shares for its team only: join it with the invite URL its operator gives you (`teamster join URL`), or name the team token in the config (`[share] team_token_file`)".to_string(), false));
        };
        let hash = token_hash(token);
        if self.team_hash.as_ref().is_some_and(|team| same(hash.as_bytes(), team.as_bytes())) {
            return Ok(None);
        }
        match self.store.member_by_token(&hash).await {
            Ok(Some(m)) if m.revoked.is_none() => Ok(Some(m.id)),
            Ok(Some(_)) => Err((REVOKED.to_string(), false)),
            Ok(None) => Err((
                "wrong team token: this server registers shares for its team only (`teamster join URL` with an invite from its operator, or `[share] team_token_file`)".to_string(),
                true,
            )),
            Err(e) => Err((format!("the server could not read its records: {e}"), false)),
        }
    }

    /// A share registered by a member lasts only as long as their membership.
    async fn still_member(&self, member: Option<&str>) -> Result<(), (String, bool)> {
        let Some(id) = member else { return Ok(()) };
        match self.store.member(id).await {
            Ok(Some(m)) if m.revoked.is_none() => Ok(()),
            Ok(_) => Err((REVOKED.to_string(), false)),
            Err(e) => Err((format!("the server could not read its records: {e}"), false)),
        }
    }

    /// Records a new share (limits first): when it expires.
    async fn register(
        &self,
        share: &str,
        runner_hash: String,
        reg: Register,
        member: Option<String>,
        peer: SocketAddr,
    ) -> Result<u64, String> {
        let now = now_secs();
        // The server's limit, whatever the runner asked: none, or too far, is the longest;
        // the past is refused.
        let expires = reg.expires.unwrap_or(u64::MAX).min(now.saturating_add(LONGEST_SHARE));
        if expires <= now {
            return Err("this share's expiry is in the past".to_string());
        }
        self.registrations.lock().admit(addr_key(peer.ip()))?;
        let rec = ShareRecord {
            id: share.to_string(),
            runner_hash,
            read_hash: reg.read,
            drive_hash: reg.drive,
            created: now,
            expires: Some(expires),
            revoked: None,
            member,
        };
        self.store.create(&rec).await.map(|_| expires)
    }

    /// Cuts everyone off a share and forgets its updates, here and on every replica.
    fn close_hub(&self, share: &str, reason: &str) {
        if let Some(bus) = &self.bus {
            let msg = BusMsg::Close { reason: reason.to_string() };
            bus.publish(share, Envelope { origin: self.replica, msg });
        }
        self.close_here(share, reason);
    }

    /// Cuts off this replica's connections to a share and forgets its updates.
    fn close_here(&self, share: &str, reason: &str) {
        let hub = self.hubs.lock().remove(share);
        if let Some(hub) = hub {
            hub.closed.send_replace(true);
            let st = hub.state.lock();
            for v in st.viewers.values() {
                v.out.cut(reason);
            }
            if let Some((_, out)) = &st.runner {
                out.cut(reason);
            }
        }
    }
}

/// A hub's ear on the bus: what other replicas say about its share, until it is closed.
async fn listen(server: Arc<Server>, bus: Arc<dyn Bus>, share: String, hub: Arc<Hub>) {
    let mut closed = hub.closed.subscribe();
    let mut sub = tokio::select! {
        sub = bus.subscribe(&share) => match sub {
            Ok(sub) => sub,
            Err(e) => {
                log(&format!("share {share}: {e}; its viewers here see only what reaches this replica"));
                return;
            }
        },
        _ = closed.changed() => return,
    };
    // Listening now: if nothing is here yet, the runner (wherever it is) sends a snapshot.
    {
        let mut st = hub.state.lock();
        if st.buffer.is_empty() && st.runner.is_none() {
            st.want_snapshot();
        }
    }
    loop {
        let envelope = tokio::select! {
            e = sub.rx.recv() => match e {
                Some(e) => e,
                None => return,
            },
            _ = closed.changed() => return,
        };
        if envelope.origin == server.replica {
            continue;
        }
        let heard = hub.state.lock().heard(envelope.msg);
        match heard {
            Heard::Nothing => {}
            Heard::Latest(seq) => {
                hub.latest.send_replace(seq);
            }
            Heard::Closed(reason) => {
                server.close_here(&share, &reason);
                return;
            }
        }
    }
}

/// When a share ends: its own expiry, at most `LONGEST_SHARE` after it was made (records
/// from before the server enforced it may have none).
fn expiry(rec: &ShareRecord) -> u64 {
    let longest = rec.created.saturating_add(LONGEST_SHARE);
    rec.expires.map_or(longest, |e| e.min(longest))
}

/// Why a share cannot be used now, if it cannot.
fn unusable(rec: &ShareRecord) -> Option<String> {
    if rec.revoked.is_some() {
        return Some(
            "this share was stopped by the person who shared it (`teamster unshare`), or with their membership of this server; ask them for a new link".into(),
        );
    }
    if expiry(rec) <= now_secs() {
        return Some(Ended::Expired.words().into());
    }
    None
}

pub struct Options {
    pub listen: SocketAddr,
    pub tls: Option<(std::path::PathBuf, std::path::PathBuf)>,
    pub insecure: bool,
    /// Where the records are: a SQLite file, or PostgreSQL shared by replicas.
    pub db: Target,
    /// The other replicas' bus (`nats://...`), when there are any.
    pub bus: Option<String>,
    /// A file holding the team token that registering a share takes (none: an open server).
    pub team_token_file: Option<std::path::PathBuf>,
    /// Only members (invited) and team token holders register shares.
    pub members_only: bool,
}

/// The team token in `path`: its first line, which must say something.
pub fn read_team_token(path: &std::path::Path) -> anyhow::Result<String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| anyhow::anyhow!("cannot read the team token file {}: {e}", path.display()))?;
    let token = text.lines().next().unwrap_or("").trim().to_string();
    if token.len() < 16 {
        anyhow::bail!(
            "the team token in {} is {} characters; use 16 or more (`openssl rand -hex 24 > {}`)",
            path.display(),
            token.len(),
            path.display()
        );
    }
    Ok(token)
}

/// Binds and serves until the process ends.
pub async fn serve(opts: Options) -> anyhow::Result<()> {
    let local = opts.listen.ip().is_loopback();
    if !local && opts.tls.is_none() && !opts.insecure {
        anyhow::bail!(
            "{} is reachable from other machines, and share links carry their secrets: serve it over TLS with --tls-cert FILE --tls-key FILE, or pass --insecure if something in front of it (a reverse proxy) adds TLS",
            opts.listen
        );
    }
    let tls = match &opts.tls {
        Some((cert, key)) => Some(tls_acceptor(cert, key)?),
        None => None,
    };
    if !local && tls.is_none() {
        eprintln!(
            "warning: serving {} without TLS (--insecure): anyone on the way can see who joins which share, and take their access tokens (not the sessions: those stay encrypted)",
            opts.listen
        );
    }
    if let Target::Sqlite(path) = &opts.db
        && let Some(dir) = path.parent()
    {
        std::fs::create_dir_all(dir).map_err(|e| anyhow::anyhow!("cannot create {}: {e}", dir.display()))?;
    }
    if opts.bus.is_some() && !opts.db.is_shared() {
        anyhow::bail!(
            "--bus joins this server to other replicas, and replicas keep their records together: give them one PostgreSQL with --database postgres://..."
        );
    }
    let team = opts.team_token_file.as_deref().map(read_team_token).transpose()?;
    let store = opts.db.open().await.map_err(anyhow::Error::msg)?;
    let bus: Option<Arc<dyn Bus>> = match &opts.bus {
        Some(url) if url.starts_with("nats://") || url.starts_with("tls://") => {
            Some(super::bus::Nats::connect(url).await.map_err(anyhow::Error::msg)?)
        }
        Some(url) => {
            anyhow::bail!("--bus takes a NATS URL (nats://HOST:4222), not `{}`", visible(&super::store::redacted(url)))
        }
        None => None,
    };
    let listener = tokio::net::TcpListener::bind(opts.listen).await.map_err(|e| {
        anyhow::anyhow!(
            "cannot listen on {}: {e}{}",
            opts.listen,
            if e.kind() == std::io::ErrorKind::AddrInUse {
                " (another `teamster serve` may run there already; `--listen` picks another address)"
            } else {
                ""
            }
        )
    })?;
    // Beside the warnings, on stderr, and before stdout's one line (which whoever started
    // us reads, and then may read this).
    let _ = match (&team, opts.members_only) {
        (Some(_), _) => writeln!(
            std::io::stderr(),
            "shares are registered for the team only: holders of its token (--team-token-file) and members invited with `teamster serve invite NAME`"
        ),
        (None, true) => writeln!(
            std::io::stderr(),
            "shares are registered for members only: invite each with `teamster serve invite NAME`; `teamster serve members` lists them"
        ),
        (None, false) => writeln!(
            std::io::stderr(),
            "open server: anyone who can reach it can register shares (--members-only with `teamster serve invite NAME`, or --team-token-file FILE, limits that to your team)"
        ),
    };
    match &bus {
        Some(_) => eprintln!("one of several replicas: records in PostgreSQL, updates shared over NATS"),
        None if opts.db.is_shared() => {
            eprintln!("one replica on PostgreSQL: add --bus nats://... to run more behind a load balancer")
        }
        None => {}
    }
    let server =
        Server::new(store, bus, Access { team, members_only: opts.members_only }).await.map_err(anyhow::Error::msg)?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    // One line, and no complaint if nobody reads it (started in the background).
    use std::io::Write;
    let _ = writeln!(
        std::io::stdout(),
        "teamster share server on {scheme}://{} (records in {})",
        listener.local_addr()?,
        opts.db.describe()
    );
    let _ = std::io::stdout().flush();

    run(listener, tls, server).await;
    Ok(())
}

fn tls_acceptor(cert: &std::path::Path, key: &std::path::Path) -> anyhow::Result<tokio_rustls::TlsAcceptor> {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer};
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .and_then(|it| it.collect::<Result<_, _>>())
        .map_err(|e| anyhow::anyhow!("--tls-cert {}: not a PEM certificate chain: {e}", cert.display()))?;
    if certs.is_empty() {
        anyhow::bail!("--tls-cert {}: no certificate in it", cert.display());
    }
    let key = PrivateKeyDer::from_pem_file(key)
        .map_err(|e| anyhow::anyhow!("--tls-key {}: not a PEM private key: {e}", key.display()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| anyhow::anyhow!("the TLS certificate and key do not go together: {e}"))?;
    Ok(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
}

pub async fn run(listener: tokio::net::TcpListener, tls: Option<tokio_rustls::TlsAcceptor>, server: Arc<Server>) {
    let sweeper = Arc::downgrade(&server);
    tokio::spawn(async move {
        let mut every = tokio::time::interval(SWEEP_EVERY);
        loop {
            every.tick().await;
            let Some(server) = sweeper.upgrade() else { return };
            server.sweep().await;
        }
    });
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(c) => c,
            Err(e) => {
                log(&format!("accept: {e}"));
                // Out of descriptors, say: wait a little rather than spin.
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let server = server.clone();
        let tls = tls.clone();
        tokio::spawn(async move {
            match tls {
                Some(acceptor) => match acceptor.accept(stream).await {
                    Ok(s) => http(s, peer, server).await,
                    Err(e) => log(&format!("{peer}: TLS handshake failed: {e}")),
                },
                None => http(stream, peer, server).await,
            }
        });
    }
}

async fn http<S>(stream: S, peer: SocketAddr, server: Arc<Server>)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let svc = hyper::service::service_fn(move |req| {
        let server = server.clone();
        async move { Ok::<_, std::convert::Infallible>(route(req, peer, server).await) }
    });
    let _ =
        hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), svc).with_upgrades().await;
}

fn page(status: StatusCode, kind: &str, body: impl Into<Bytes>) -> Response<Full<Bytes>> {
    Response::builder()
        .status(status)
        .header("content-type", kind)
        .header("cache-control", "no-store")
        .header("x-content-type-options", "nosniff")
        .header("referrer-policy", "no-referrer")
        .header(
            "content-security-policy",
            "default-src 'self'; connect-src 'self' ws: wss:; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'",
        )
        .body(Full::new(body.into()))
        .unwrap_or_default()
}

async fn route(mut req: Request<Incoming>, peer: SocketAddr, server: Arc<Server>) -> Response<Full<Bytes>> {
    let path = req.uri().path().to_string();
    match path.as_str() {
        "/ws" => upgrade(&mut req, peer, server),
        "/join" if req.method() == hyper::Method::POST => join(req, peer, server).await,
        "/join" => page(
            StatusCode::OK,
            "text/html; charset=utf-8",
            "<!doctype html><meta charset=utf-8><title>teamster: join a team</title><p>This is an invite to a teamster share server. In your terminal, run <code>teamster join 'URL'</code> with this page's whole address (what follows # included). It can be used once.",
        ),
        "/app.js" => page(StatusCode::OK, "text/javascript; charset=utf-8", APP_JS),
        "/protocol.js" => page(StatusCode::OK, "text/javascript; charset=utf-8", PROTOCOL_JS),
        "/health" => {
            page(StatusCode::OK, "application/json", format!("{{\"teamster\":\"{}\"}}", env!("CARGO_PKG_VERSION")))
        }
        p if p.starts_with("/s/") => page(StatusCode::OK, "text/html; charset=utf-8", INDEX_HTML),
        "/" => page(
            StatusCode::OK,
            "text/html; charset=utf-8",
            "<!doctype html><meta charset=utf-8><title>teamster</title><p>This is a teamster share server. Open a share link (from <code>teamster share</code>) to watch a session.",
        ),
        _ => page(StatusCode::NOT_FOUND, "text/plain", "not found\n"),
    }
}

/// What `teamster join` sends and gets back.
#[derive(serde::Serialize, serde::Deserialize)]
pub struct JoinRequest {
    pub code: String,
}

#[derive(serde::Serialize, serde::Deserialize)]
pub struct Joined {
    /// The name the invite was for.
    pub name: String,
    /// What the member's runner gives to register shares (stored here only hashed).
    pub token: String,
}

#[derive(serde::Serialize, serde::Deserialize)]
pub struct JoinError {
    pub error: String,
}

/// An invite used: the code checked and spent once, a member made with a fresh token.
async fn join(req: Request<Incoming>, peer: SocketAddr, server: Arc<Server>) -> Response<Full<Bytes>> {
    use http_body_util::BodyExt;
    let answer = |status: StatusCode, body: String| page(status, "application/json", body);
    let refuse = |status: StatusCode, error: String| {
        answer(status, serde_json::to_string(&JoinError { error }).unwrap_or_default())
    };
    let body = match http_body_util::Limited::new(req.into_body(), 4096).collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => return refuse(StatusCode::BAD_REQUEST, "the request is too large or broke off".into()),
    };
    let Ok(JoinRequest { code }) = serde_json::from_slice::<JoinRequest>(&body) else {
        return refuse(StatusCode::BAD_REQUEST, "malformed join request".into());
    };
    let token = match super::crypto::random::<32>() {
        Ok(t) => super::crypto::b64(&t),
        Err(e) => return refuse(StatusCode::INTERNAL_SERVER_ERROR, e),
    };
    let id = match super::crypto::random::<12>() {
        Ok(t) => super::crypto::b64(&t),
        Err(e) => return refuse(StatusCode::INTERNAL_SERVER_ERROR, e),
    };
    let member = Member { id, name: String::new(), token_hash: token_hash(&token), joined: 0, revoked: None };
    match server.store.redeem(&token_hash(&code), now_secs(), &member).await {
        Ok(Ok(m)) => {
            log(&format!("{peer}: {} joined the team", m.name));
            server.audit("", 0, &m.name, "member", "joined the team", &peer.ip().to_string());
            answer(StatusCode::OK, serde_json::to_string(&Joined { name: m.name, token }).unwrap_or_default())
        }
        Ok(Err(why)) => {
            let error = match why {
                InviteRefused::Unknown => "no such invite on this server; check that you copied the whole URL",
                InviteRefused::Used => "this invite was used already; ask for a new one",
                InviteRefused::Expired => "this invite has expired; ask for a new one",
            };
            // A guess at a code is slowed like a guess at a share's token.
            let ip = addr_key(peer.ip());
            let delay = server.failures.lock().fail("(invite)", ip);
            match delay {
                Some(d) => {
                    tokio::time::sleep(d).await;
                    if !d.is_zero() {
                        server.failures.lock().done_waiting(ip);
                    }
                    refuse(StatusCode::FORBIDDEN, error.to_string())
                }
                None => refuse(
                    StatusCode::TOO_MANY_REQUESTS,
                    "too many failed attempts from this address; slow down".into(),
                ),
            }
        }
        Err(e) => refuse(StatusCode::SERVICE_UNAVAILABLE, format!("the server could not read its records: {e}")),
    }
}

/// `teamster serve invite NAME`: a one-time join URL for a person, on the server whose
/// records are in `target`, reached by its members at `public`.
pub async fn invite(target: &Target, name: &str, lasts: u64, public: &str) -> Result<String, String> {
    let name: String = name.chars().filter(|c| !c.is_control()).collect();
    if name.trim().is_empty() || name.len() > 64 {
        return Err("name the person the invite is for (1 to 64 characters), e.g. `teamster serve invite ann`".into());
    }
    let store = target.open().await?;
    let code = super::crypto::b64(&super::crypto::random::<32>()?);
    let now = now_secs();
    store.create_invite(&Invite { code_hash: token_hash(&code), name, created: now, expires: now + lasts }).await?;
    Ok(format!("{}/join#{code}", public.trim_end_matches('/')))
}

fn upgrade(req: &mut Request<Incoming>, peer: SocketAddr, server: Arc<Server>) -> Response<Full<Bytes>> {
    let key = req.headers().get("sec-websocket-key").cloned();
    let is_ws =
        req.headers().get("upgrade").and_then(|v| v.to_str().ok()).is_some_and(|v| v.eq_ignore_ascii_case("websocket"));
    let Some(key) = key.filter(|_| is_ws) else {
        return page(StatusCode::BAD_REQUEST, "text/plain", "this address takes WebSocket connections\n");
    };
    let accept = tokio_tungstenite::tungstenite::handshake::derive_accept_key(key.as_bytes());
    let on_upgrade = hyper::upgrade::on(req);
    tokio::spawn(async move {
        let upgraded = match on_upgrade.await {
            Ok(u) => u,
            Err(e) => return log(&format!("{peer}: upgrade failed: {e}")),
        };
        let config =
            WebSocketConfig::default().max_message_size(Some(MAX_RUNNER_MSG)).max_frame_size(Some(MAX_RUNNER_MSG));
        let ws = WebSocketStream::from_raw_socket(
            TokioIo::new(upgraded),
            tokio_tungstenite::tungstenite::protocol::Role::Server,
            Some(config),
        )
        .await;
        connection(ws, peer, server).await;
    });
    Response::builder()
        .status(StatusCode::SWITCHING_PROTOCOLS)
        .header("connection", "Upgrade")
        .header("upgrade", "websocket")
        .header("sec-websocket-accept", accept)
        .body(Full::new(Bytes::new()))
        .unwrap_or_default()
}

type Ws = WebSocketStream<TokioIo<hyper::upgrade::Upgraded>>;

async fn say(ws: &mut Ws, text: impl Into<Utf8Bytes>) -> bool {
    ws.send(Message::Text(text.into())).await.is_ok()
}

/// What the relay reads of a runner's update: its number and whether it is a snapshot,
/// without copying the sealed payload out of it.
#[derive(serde::Deserialize)]
struct UpdateHead<'a> {
    t: &'a str,
    #[serde(default)]
    seq: u64,
    #[serde(default)]
    snap: bool,
}

async fn refuse(ws: &mut Ws, reason: &str) {
    if let Ok(text) = serde_json::to_string(&ToViewer::Refused { reason: reason.into() }) {
        let _ = say(ws, text).await;
    }
    let _ = ws.close(None).await;
}

/// A new connection: its first message says whether it is a runner or a viewer.
async fn connection(mut ws: Ws, peer: SocketAddr, server: Arc<Server>) {
    let first = match tokio::time::timeout(HELLO_TIMEOUT, ws.next()).await {
        Ok(Some(Ok(Message::Text(t)))) => t,
        Ok(Some(Ok(_))) => return refuse(&mut ws, "the first message must be a join (JSON text)").await,
        _ => return,
    };
    if first.len() > MAX_VIEWER_MSG {
        log(&format!("{peer}: first message of {} bytes refused", first.len()));
        return refuse(&mut ws, "message too large").await;
    }
    if let Ok(FromRunner::Runner { share, token, register }) = serde_json::from_str::<FromRunner>(&first) {
        return runner(ws, peer, server, share, token, register).await;
    }
    match serde_json::from_str::<FromViewer>(&first) {
        Ok(FromViewer::Join { share, token, role, name, resume }) => {
            viewer(ws, peer, server, share, token, role, name, resume).await
        }
        Ok(_) => refuse(&mut ws, "join first").await,
        Err(e) => {
            log(&format!("{peer}: malformed first message: {e}"));
            refuse(&mut ws, &format!("malformed join: {e}")).await
        }
    }
}

/// Whom limits count per: an IPv4 address, or an IPv6 /64 (one host usually holds a whole
/// /64, so counting its addresses one by one would limit nothing).
fn addr_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(std::net::Ipv6Addr::from(u128::from(v6) & !((1u128 << 64) - 1))),
        },
    }
}

/// A share id as runners make them (`crypto::new_share_id`): anything else is not kept.
fn plausible_id(share: &str) -> bool {
    (22..=64).contains(&share.len()) && share.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn is_hash(h: &str) -> bool {
    h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit())
}

async fn runner(
    mut ws: Ws,
    peer: SocketAddr,
    server: Arc<Server>,
    share: String,
    token: String,
    register: Option<Register>,
) {
    let conn = server.new_conn();
    // Not a share id (a peer may send 256 KiB of anything): no such share, and nothing
    // of it kept in the audit or the failure counts.
    let share = if plausible_id(&share) { share } else { String::new() };
    let hash = token_hash(&token);
    let refused = |reason: String| serde_json::to_string(&ToRunner::Refused { reason }).unwrap_or_default();
    // Refused: why, and whether it was a wrong token (a guess: its answer may be slowed,
    // see `Failures`).
    let checked = match server.record(&share).await {
        Err(e) => Err((format!("the server could not read its records: {e}"), false)),
        Ok(Some(rec)) if !same(rec.runner_hash.as_bytes(), hash.as_bytes()) => {
            Err(("this share belongs to another runner (wrong runner token)".to_string(), true))
        }
        Ok(Some(rec)) => match unusable(&rec) {
            Some(why) => Err((why, false)),
            None => server.still_member(rec.member.as_deref()).await.map(|()| expiry(&rec)),
        },
        Ok(None) => match register {
            Some(reg) if plausible_id(&share) && is_hash(&reg.read) && reg.drive.as_deref().is_none_or(is_hash) => {
                match server.sharer(reg.team.as_deref()).await {
                    Err(refused) => Err(refused),
                    Ok(member) => server.register(&share, hash, reg, member, peer).await.map_err(|why| (why, false)),
                }
            }
            Some(_) => Err(("malformed registration (share id or token hashes)".to_string(), false)),
            None => Err(("no such share on this server".to_string(), false)),
        },
    };
    let expires = match checked {
        Ok(e) => e,
        Err((reason, guess)) => {
            log(&format!("{peer}: runner for share {share} refused: {reason}"));
            server.audit(&share, conn, "runner", "runner", "refused", &reason);
            if guess {
                return server.failed(&mut ws, &share, peer, reason, refused).await;
            }
            let _ = say(&mut ws, refused(reason)).await;
            return;
        }
    };
    let hub = server.hub(&share);
    let (out, mut rx) = Outbox::new();
    let welcome = {
        let mut st = hub.state.lock();
        if let Some((_, old)) = st.runner.replace((conn, out.clone())) {
            old.cut("another connection of the same runner took over");
        }
        st.remote_runner = None;
        st.restarting = false;
        // Who is watching already, here and on the other replicas (they answer the bus),
        // so the sharer's list is right after a reconnect.
        for (c, v) in &st.viewers {
            st.tell_runner(&ToRunner::Joined { conn: *c, role: v.role, name: v.name.clone() });
        }
        if let Some(link) = &st.link {
            link.publish(BusMsg::RunnerHere { conn, fresh: true });
        }
        st.tell_viewers(&ToViewer::Status { runner: true, restarting: false });
        ToRunner::Welcome { have: st.have() }
    };
    server.audit(&share, conn, "runner", "runner", "connected", &peer.to_string());
    if let Ok(text) = serde_json::to_string(&welcome)
        && !say(&mut ws, text).await
    {
        return;
    }
    let expire_at = tokio::time::Instant::now() + Duration::from_secs(expires.saturating_sub(now_secs()));
    loop {
        tokio::select! {
            out_msg = rx.recv() => match out_msg {
                Some(ToOne::Text(text)) => {
                    out.sent(&text);
                    if !say(&mut ws, text).await { break }
                }
                Some(ToOne::Cut(reason)) => {
                    let _ = say(&mut ws, refused(reason)).await;
                    break;
                }
                None => break,
            },
            _ = tokio::time::sleep_until(expire_at) => {
                server.expire(&share).await;
                let _ = say(&mut ws, refused(Ended::Expired.words().into())).await;
                break;
            }
            msg = ws.next() => {
                let text = match msg {
                    Some(Ok(Message::Text(t))) => t,
                    Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break,
                    Some(Ok(_)) => continue,
                };
                if let Ok(UpdateHead { t: "update", seq, snap }) = serde_json::from_str::<UpdateHead>(&text) {
                    let (took, link) = {
                        let mut st = hub.state.lock();
                        let took = st.take(Update { seq, snap, text: text.clone() });
                        if took == Took::Gap {
                            st.want_snapshot();
                        }
                        (took, st.link.clone())
                    };
                    // The other replicas' viewers get it too, in the order taken (only this
                    // task publishes the share's updates): encoded outside the hub's lock.
                    if let (Took::Kept | Took::KeptAskSnapshot, Some(link)) = (&took, link) {
                        link.publish(BusMsg::Update { seq, snap, text: text.as_str().to_string() });
                    }
                    match took {
                        Took::Kept => {
                            hub.latest.send_replace(seq);
                        }
                        Took::KeptAskSnapshot => {
                            hub.latest.send_replace(seq);
                            log(&format!("{peer}: share {share}: over {} MiB of updates since the last snapshot; asked for one", BACKLOG_ASK >> 20));
                            if let Ok(text) = serde_json::to_string(&ToRunner::Snapshot) && !say(&mut ws, text).await {
                                break;
                            }
                        }
                        Took::Had | Took::WaitingForSnapshot | Took::Gap => {}
                        Took::Over => {
                            let reason = format!(
                                "sent over {} MiB of updates without the snapshot the server asked for; cut off (the updates were dropped)",
                                BACKLOG_MAX >> 20
                            );
                            log(&format!("{peer}: runner for share {share} {reason}"));
                            server.audit(&share, conn, "runner", "runner", "cut off", &reason);
                            let _ = say(&mut ws, refused(reason)).await;
                            break;
                        }
                    }
                    continue;
                }
                match serde_json::from_str::<FromRunner>(&text) {
                    Ok(FromRunner::Update { .. }) => log(&format!("{peer}: runner sent a malformed update")),
                    Ok(FromRunner::Reply { to, c }) => {
                        if let Ok(text) = serde_json::to_string(&ToViewer::Reply { c }) {
                            hub.state.lock().tell_viewer(to, text);
                        }
                    }
                    Ok(FromRunner::Revoke { why }) => {
                        if let Err(e) = server.store.revoke(&share, now_secs()).await {
                            log(&e);
                        }
                        let why = why.unwrap_or(Ended::Unshared);
                        server.audit(&share, conn, "runner", "runner", "revoked", why.words());
                        server.close_hub(&share, why.words());
                        let _ = ws.close(None).await;
                        return;
                    }
                    Ok(FromRunner::Restarting) => {
                        log(&format!("{peer}: the runner of share {share} is restarting"));
                        server.audit(&share, conn, "runner", "runner", "restarting", "");
                        hub.state.lock().restarting = true;
                    }
                    Ok(FromRunner::Runner { .. }) => {}
                    Err(e) => log(&format!("{peer}: runner sent a malformed message: {e}")),
                }
            }
        }
    }
    let mut st = hub.state.lock();
    if st.runner.as_ref().is_some_and(|(c, _)| *c == conn) {
        st.runner = None;
        if let Some(link) = &st.link {
            link.publish(BusMsg::RunnerGone { conn, restarting: st.restarting });
        }
        if !st.runner_here() {
            let restarting = st.restarting;
            st.tell_viewers(&ToViewer::Status { runner: false, restarting });
        }
    }
}

/// A viewer's messages: a token bucket (a burst, then a steady rate), and what was dropped.
struct Limit {
    bucket: Bucket,
    dropped: u32,
    warned: Option<Instant>,
}

enum Admit {
    Take,
    /// Dropped; `warn`: tell the viewer (at most once a second).
    Drop {
        warn: bool,
    },
    CutOff,
}

impl Limit {
    fn new() -> Limit {
        Limit { bucket: Bucket::full(RATE_BURST), dropped: 0, warned: None }
    }

    fn admit(&mut self) -> Admit {
        if self.bucket.take(RATE_BURST, RATE_PER_SEC).is_ok() {
            return Admit::Take;
        }
        self.dropped += 1;
        if self.dropped > FLOOD_LIMIT {
            return Admit::CutOff;
        }
        let now = Instant::now();
        let warn = self.warned.is_none_or(|w| now.duration_since(w) > Duration::from_secs(1));
        if warn {
            self.warned = Some(now);
        }
        Admit::Drop { warn }
    }
}

#[allow(clippy::too_many_arguments)]
async fn viewer(
    mut ws: Ws,
    peer: SocketAddr,
    server: Arc<Server>,
    share: String,
    token: String,
    role: Role,
    name: String,
    resume: Option<u64>,
) {
    let conn = server.new_conn();
    let name: String = name.chars().filter(|c| !c.is_control()).take(40).collect();
    let name = if name.trim().is_empty() { format!("viewer {conn}") } else { name };
    // Not a share id (a peer may send 256 KiB of anything): no such share, and nothing
    // of it kept in the audit or the failure counts.
    let share = if plausible_id(&share) { share } else { String::new() };
    let hash = token_hash(&token);
    // The token is always checked: failures slow down the next failed answers from this
    // address (see `Failures`), never a join with the right token.
    let checked = match server.record(&share).await {
        Err(e) => Err(format!("the server could not read its records: {e}")),
        Ok(None) => Err("no such share on this server; check the link".to_string()),
        Ok(Some(rec)) => {
            let want = match role {
                Role::Read => Some(rec.read_hash.clone()),
                Role::Drive => rec.drive_hash.clone(),
            };
            match (want, unusable(&rec)) {
                (_, Some(why)) => Err(why),
                (None, _) => Err("this share cannot be driven; open it read-only".to_string()),
                (Some(want), None) if !same(want.as_bytes(), hash.as_bytes()) => {
                    Err("this link is not valid for this share (wrong secret); copy the whole link again".to_string())
                }
                (Some(_), None) => Ok(expiry(&rec)),
            }
        }
    };
    let expires = match checked {
        Ok(e) => e,
        Err(reason) => {
            log(&format!("{peer}: {} for share {share} refused: {reason}", role.word()));
            server.audit(&share, conn, &name, role.word(), "refused", &reason);
            let refused = |reason: String| serde_json::to_string(&ToViewer::Refused { reason }).unwrap_or_default();
            return server.failed(&mut ws, &share, peer, reason, refused).await;
        }
    };
    let hub = server.hub(&share);
    let (out, mut rx) = Outbox::new();
    let (mut latest, runner_here, restarting) = {
        let mut st = hub.state.lock();
        st.viewers.insert(conn, Viewer { role, name: name.clone(), out: out.clone() });
        st.tell_runner(&ToRunner::Joined { conn, role, name: name.clone() });
        (hub.latest.subscribe(), st.runner_here(), st.restarting)
    };
    server.audit(&share, conn, &name, role.word(), "joined", &peer.ip().to_string());
    let mut last = resume.unwrap_or(0);
    let joined = serde_json::to_string(&ToViewer::Joined { role, runner: runner_here }).unwrap_or_default();
    let mut open = say(&mut ws, joined).await;
    if open && restarting && !runner_here {
        let status = serde_json::to_string(&ToViewer::Status { runner: false, restarting }).unwrap_or_default();
        open = say(&mut ws, status).await;
    }
    let mut limit = Limit::new();
    let mut typed = 0u64;
    let expire_at = tokio::time::Instant::now() + Duration::from_secs(expires.saturating_sub(now_secs()));
    let audit = |event: &str, detail: &str| server.audit(&share, conn, &name, role.word(), event, detail);
    while open {
        // A few updates a turn, read from the backlog (never more than it holds), so the
        // viewer's own messages are read between them.
        let mut behind = false;
        for _ in 0..UPDATES_PER_TURN {
            let next = hub.state.lock().next_after(last);
            let Some(u) = next else { break };
            if !say(&mut ws, u.text).await {
                open = false;
                break;
            }
            last = u.seq;
            behind = true;
        }
        if !open {
            break;
        }
        open = tokio::select! {
            changed = latest.changed() => changed.is_ok(),
            _ = std::future::ready(()), if behind => true,
            out_msg = rx.recv() => match out_msg {
                Some(ToOne::Text(text)) => {
                    out.sent(&text);
                    say(&mut ws, text).await
                }
                Some(ToOne::Cut(reason)) => { refuse(&mut ws, &reason).await; false }
                None => false,
            },
            _ = tokio::time::sleep_until(expire_at) => {
                refuse(&mut ws, Ended::Expired.words()).await;
                false
            }
            msg = ws.next() => {
                let text = match msg {
                    Some(Ok(Message::Text(t))) => t,
                    Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break,
                    Some(Ok(_)) => continue,
                };
                match limit.admit() {
                    Admit::CutOff => {
                        log(&format!("{peer}: {name} cut off for flooding"));
                        audit("cut off", "flooding");
                        refuse(&mut ws, "too many messages: cut off for flooding").await;
                        false
                    }
                    Admit::Drop { warn } => {
                        let e = ToViewer::Error { reason: "too many messages; some were dropped (slow down)".into() };
                        !warn || say(&mut ws, serde_json::to_string(&e).unwrap_or_default()).await
                    }
                    Admit::Take => match check(role, &text) {
                        Ok(msg) => {
                            if msg.kind == Kind::Input {
                                typed += 1;
                            } else {
                                audit(msg.kind.word(), "");
                            }
                            let ToRunnerMsg { kind, c, drive } = msg;
                            let msg = ToRunner::Msg { from: conn, role, name: name.clone(), kind, c, drive };
                            let taken = hub.state.lock().tell_runner(&msg);
                            // A runner that does not read: its queue is full, this one is dropped.
                            taken || {
                                let reason = "the sharer's runner is not keeping up; this message was dropped".to_string();
                                say(&mut ws, serde_json::to_string(&ToViewer::Error { reason }).unwrap_or_default()).await
                            }
                        }
                        Err(reason) => {
                            log(&format!("{peer}: {name}: {reason}"));
                            audit("rejected", &reason);
                            say(&mut ws, serde_json::to_string(&ToViewer::Error { reason }).unwrap_or_default()).await
                        }
                    },
                }
            }
        };
    }
    if typed > 0 {
        audit("typed", &format!("{typed} inputs"));
    }
    audit("left", "");
    let mut st = hub.state.lock();
    st.viewers.remove(&conn);
    st.tell_runner(&ToRunner::Left { conn });
}

/// A viewer's message, as it goes on to the runner.
struct ToRunnerMsg {
    kind: Kind,
    c: String,
    drive: Option<super::wire::Authority>,
}

/// What a viewer in `role` may send on; why not, otherwise.
fn check(role: Role, text: &str) -> Result<ToRunnerMsg, String> {
    if text.len() > MAX_VIEWER_MSG {
        return Err(format!("a message of {} bytes is over the {MAX_VIEWER_MSG} byte limit", text.len()));
    }
    match serde_json::from_str::<FromViewer>(text) {
        Ok(FromViewer::Send { kind, drive, .. }) if kind.needs_driver() && (role != Role::Drive || drive.is_none()) => {
            Err(format!("a read-only link cannot send {}", kind.word()))
        }
        Ok(FromViewer::Send { kind, c, drive }) => Ok(ToRunnerMsg { kind, c, drive }),
        Ok(FromViewer::Join { .. }) => Err("already joined".to_string()),
        Err(e) => Err(format!("malformed message: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn update(seq: u64, snap: bool, len: usize) -> Update {
        Update { seq, snap, text: Utf8Bytes::from("x".repeat(len)) }
    }

    /// A bus that keeps what is published.
    #[derive(Default)]
    struct Recorder(parking_lot::Mutex<Vec<BusMsg>>);

    impl Bus for Recorder {
        fn publish(&self, _share: &str, msg: Envelope) {
            self.0.lock().push(msg.msg);
        }
        fn subscribe(&self, _share: &str) -> super::super::store::Fut<super::super::bus::Subscription> {
            Box::pin(async { Err("not in this test".to_string()) })
        }
    }

    fn linked(bus: &Arc<Recorder>) -> HubState {
        let link = BusLink { bus: bus.clone(), share: "s".into(), replica: 1 };
        HubState { link: Some(link), ..HubState::default() }
    }

    #[test]
    fn replicas_answer_an_ask_for_a_snapshot_once_and_never_ask_each_other_in_a_loop() {
        // A replica without the runner and without a backlog.
        let bus = Arc::new(Recorder::default());
        let mut empty = linked(&bus);
        empty.heard(BusMsg::RunnerHere { conn: 7, fresh: true });
        assert_eq!(*bus.0.lock(), vec![BusMsg::WantSnapshot], "a new runner: asked once");
        // The answer to its ask (the runner's replica saying it is there) asks nothing more.
        for _ in 0..3 {
            empty.heard(BusMsg::RunnerHere { conn: 7, fresh: false });
        }
        assert_eq!(bus.0.lock().len(), 1, "{:?}", bus.0.lock());
        assert!(empty.runner_here());

        // The runner's replica: many asks, one answer and one ask of its runner.
        let bus = Arc::new(Recorder::default());
        let mut with_runner = linked(&bus);
        let (out, mut rx) = Outbox::new();
        with_runner.runner = Some((7, out));
        for _ in 0..5 {
            with_runner.heard(BusMsg::WantSnapshot);
        }
        assert_eq!(*bus.0.lock(), vec![BusMsg::RunnerHere { conn: 7, fresh: false }]);
        let mut asked = 0;
        while let Ok(ToOne::Text(t)) = rx.try_recv() {
            asked += usize::from(t.contains("snapshot"));
        }
        assert_eq!(asked, 1, "the runner is asked once until its snapshot comes");
    }

    #[test]
    fn a_viewer_resumes_after_its_last_update_or_from_the_snapshot() {
        let mut st = HubState::default();
        assert_eq!(st.take(update(4, false, 1)), Took::WaitingForSnapshot, "an update without its snapshot");
        assert_eq!(st.take(update(5, true, 1)), Took::Kept);
        for seq in [6, 7] {
            assert_eq!(st.take(update(seq, false, 1)), Took::Kept);
        }
        assert_eq!(st.take(update(6, false, 1)), Took::Had);
        let next = |last| st.next_after(last).map(|u| u.seq);
        assert_eq!(next(6), Some(7));
        assert_eq!(next(7), None);
        assert_eq!(next(2), Some(5), "too old: from the snapshot");
        assert_eq!(next(0), Some(5));
        assert_eq!(st.have(), 7);
        // One missing (a replica missed it on the bus): nothing after it is kept until a
        // snapshot comes, and viewers are not sent what does not follow.
        assert_eq!(st.take(update(9, false, 1)), Took::Gap);
        assert_eq!(st.next_after(7).map(|u| u.seq), None);
        assert_eq!(st.take(update(10, false, 1)), Took::WaitingForSnapshot);
        assert_eq!(st.take(update(11, true, 1)), Took::Kept);
        assert_eq!(st.next_after(7).map(|u| u.seq), Some(11));
    }

    #[test]
    fn a_backlog_asks_for_a_snapshot_then_is_dropped_at_its_bound() {
        let mut st = HubState::default();
        assert_eq!(st.take(update(1, true, 1000)), Took::Kept);
        let mb = 1 << 20;
        let mut seq = 2;
        let mut asked = None;
        let over = loop {
            match st.take(update(seq, false, mb)) {
                Took::Kept => {}
                Took::KeptAskSnapshot => asked = Some(seq),
                Took::Over => break seq,
                other => panic!("{other:?}"),
            }
            assert!(st.bytes <= BACKLOG_MAX);
            seq += 1;
        };
        assert_eq!(asked, Some(2 + (BACKLOG_ASK / mb) as u64), "asked once, past the first bound");
        assert_eq!(over, 2 + (BACKLOG_MAX / mb) as u64 - 1, "cut at the second");
        assert!(st.buffer.is_empty() && st.bytes == 0, "the backlog is dropped");
        assert_eq!(st.take(update(seq + 1, false, 10)), Took::WaitingForSnapshot);
        assert_eq!(st.take(update(seq + 2, true, 10)), Took::Kept);
        // A snapshot in time resets the count.
        for s in seq + 3..seq + 3 + (BACKLOG_ASK / mb) as u64 {
            assert_eq!(st.take(update(s, false, mb)), Took::Kept);
        }
        assert_eq!(st.take(update(seq + 100, true, 10)), Took::Kept);
        assert_eq!(st.bytes, 10);
    }

    #[test]
    fn failed_joins_slow_down_per_share_and_address_and_are_forgotten() {
        let mut f = Failures::default();
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        let other: IpAddr = "10.0.0.2".parse().unwrap();
        let delays: Vec<Duration> = (0..12).map(|_| f.fail("s", ip).unwrap_or(Duration::MAX)).collect();
        assert!(delays[..5].iter().all(|d| d.is_zero()), "typos are free: {delays:?}");
        assert_eq!(delays[5], FAIL_DELAY_FIRST);
        assert_eq!(delays[6], FAIL_DELAY_FIRST * 2, "doubling");
        assert!(delays.windows(2).all(|w| w[0] <= w[1]));
        assert_eq!(delay_after(100, 5), FAIL_DELAY_MAX, "capped");
        assert_eq!(f.fail("s", other), Some(Duration::ZERO), "another address is not slowed");
        assert_eq!(f.fail("t", ip), Some(Duration::ZERO), "nor another share, at first");
        for _ in 0..FAILS_WAITING_PER_ADDR {
            let _ = f.fail("s", ip);
        }
        assert_eq!(f.fail("s", ip), None, "too many held answers: refused at once");
        for _ in 0..100 {
            f.done_waiting(ip);
        }
        assert!(f.fail("s", ip).is_some());
    }

    #[test]
    fn limits_count_an_ipv6_host_by_its_64() {
        let a: IpAddr = "2001:db8:1:2::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:ffff::9".parse().unwrap();
        let c: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(addr_key(a), addr_key(b));
        assert_ne!(addr_key(a), addr_key(c));
        let mapped: IpAddr = "::ffff:10.0.0.1".parse().unwrap();
        assert_eq!(addr_key(mapped), "10.0.0.1".parse::<IpAddr>().unwrap());
    }

    #[test]
    fn registrations_are_limited_per_address_and_overall() {
        let mut r = Registrations::new();
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        let taken = (0..300).filter(|_| r.admit(ip).is_ok()).count();
        assert_eq!(taken, REGISTER_BURST_PER_ADDR as usize);
        assert!(r.admit(ip).unwrap_err().contains("too many new shares from this address"));
        let mut all = 0;
        for i in 0..300u32 {
            let ip = IpAddr::from(std::net::Ipv4Addr::from(0x0a01_0000 + i));
            all += usize::from(r.admit(ip).is_ok());
        }
        assert!(all <= REGISTER_BURST_ALL as usize, "{all}");
        let ip = IpAddr::from(std::net::Ipv4Addr::from(0x0b00_0000));
        assert!(r.admit(ip).unwrap_err().contains("too many new shares right now"));
    }

    #[test]
    fn a_share_lasts_at_most_the_longest_whatever_its_record_says() {
        let now = now_secs();
        let rec = ShareRecord {
            id: "s".into(),
            runner_hash: String::new(),
            read_hash: String::new(),
            drive_hash: None,
            created: now - LONGEST_SHARE - 1,
            expires: None,
            revoked: None,
            member: None,
        };
        assert!(unusable(&rec).is_some_and(|r| r.contains("expired")), "kept without an expiry: not forever");
        let far = ShareRecord { created: now, expires: Some(now + 10 * LONGEST_SHARE), ..rec };
        assert_eq!(expiry(&far), now + LONGEST_SHARE);
    }

    #[test]
    fn the_rate_limit_allows_a_burst_then_refuses_then_cuts_off() {
        let mut r = Limit::new();
        let admitted: Vec<Admit> = (0..1000).map(|_| r.admit()).collect();
        let taken = admitted.iter().filter(|a| matches!(a, Admit::Take)).count();
        assert!((200..260).contains(&taken), "{taken}");
        let warned = admitted.iter().filter(|a| matches!(a, Admit::Drop { warn: true })).count();
        assert_eq!(warned, 1, "one warning a second");
        let cut = (0..FLOOD_LIMIT).map(|_| r.admit()).any(|a| matches!(a, Admit::CutOff));
        assert!(cut, "a flood is cut off");
    }
}
