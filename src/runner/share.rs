//! The runner's side of a share: it connects out to the share server (nothing listens on
//! the sharer's machine), seals each batch of the session's updates under the link's key
//! with a sequence number, and applies what drivers send only after checking their MAC
//! itself: the server is a relay, not an authority.
//!
//! Updates since the last snapshot are kept until the next snapshot (every few megabytes),
//! so after a reconnect, or a restart of the server, the runner sends the server what it
//! lacks and viewers resume with nothing lost and nothing doubled. A driver's messages
//! carry their own sequence numbers, so one sent twice (after a reconnect) is applied once,
//! and they apply strictly in order: after a gap (a relay dropped or reordered some) the
//! later ones wait and the driver is asked to send the rest again; if it never comes, that
//! driver's input stops and both sides are told. A relay can delay keys, never skip them.

use super::client::{Batch, Feed, Scope};
use super::store::DecisionRecord;
use super::{Runner, log, now_secs};
use crate::approval::Verdict;
use crate::layout::PaneId;
use crate::protocol::{ClientMsg, CommentOn, Reply, ServerMsg, ShareRequest, ShareView};
use crate::share::crypto::{Keys, Link, aad, b64, random, token_hash};
use crate::share::wire::{Ended, FromRunner, Gap, Kind, Register, ReplyBody, Role, ToRunner, UpdateBody};
use futures_util::{SinkExt, StreamExt};
use parking_lot::Mutex;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::sync::watch;
use tokio_tungstenite::tungstenite::Message;

/// Sealed updates kept since the last snapshot, in bytes, before the next batch is made
/// a snapshot (and the older ones dropped).
const SNAPSHOT_AFTER: usize = 2 << 20;
/// How often a driver's typing is noted in the audit log.
const TYPED_NOTE_EVERY: u64 = 30;
/// A driver's messages held behind a gap: how far ahead of the last applied one, and how
/// many bytes (per driver, and for all drivers of a share). Past these they are dropped
/// and asked for again with the rest.
const HOLD_MESSAGES: u64 = 64;
const HOLD_BYTES: usize = 1 << 20;
const HOLD_BYTES_ALL: usize = 4 << 20;
/// How often the driver is asked again for what is missing, and how long a gap may stay
/// open before its input is given up on (said on both sides).
const GAP_ASK_EVERY: Duration = Duration::from_secs(1);
const GAP_WAIT: Duration = Duration::from_secs(5);

pub struct Share {
    pub id: String,
    /// The server and the keys: what the links are made of.
    link: Link,
    pub session: u32,
    pub pane: Option<PaneId>,
    runner_token: String,
    /// The team token a team's server asks for (`[share] team_token_file`).
    team: Option<String>,
    pub expires: u64,
    /// Who is watching, by the server's connection id.
    viewers: Mutex<BTreeMap<u64, (Role, String)>>,
    connected: AtomicBool,
    /// Set by `unshare` and at the runner's end; `finished` once the server was told (or
    /// could not be).
    stop: watch::Sender<Stop>,
    finished: watch::Sender<bool>,
}

/// Whether a share's connection goes on, and how it ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stop {
    Running,
    /// The share is over: the server forgets it and tells viewers why.
    End(Ended),
    /// The runner is restarting: the server keeps the share, viewers are told, and the
    /// next runner resumes it (`Runner::resume_shares`).
    Restart,
}

/// A share as kept on disk (0600) for the next runner: enough to connect again as the
/// same share with the same links. The session by its key, which outlives a restart.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
struct KeptShare {
    id: String,
    /// The drive link (the read link for a read-only share): its secrets are the share's.
    url: String,
    runner_token: String,
    session_key: String,
    pane: Option<PaneId>,
    expires: u64,
}

/// One writer of `shares.json` at a time; each write takes the shares as they are then.
static KEEPING: Mutex<()> = Mutex::new(());

impl Share {
    #[allow(clippy::too_many_arguments)]
    fn new(
        link: Link,
        session: u32,
        pane: Option<PaneId>,
        runner_token: String,
        team: Option<String>,
        expires: u64,
    ) -> Arc<Share> {
        Arc::new(Share {
            id: link.keys.share.clone(),
            link,
            session,
            pane,
            runner_token,
            team,
            expires,
            viewers: Mutex::new(BTreeMap::new()),
            connected: AtomicBool::new(false),
            stop: watch::channel(Stop::Running).0,
            finished: watch::channel(false).0,
        })
    }

    fn keys(&self) -> &Keys {
        &self.link.keys
    }

    fn watchers(&self) -> Vec<String> {
        self.viewers.lock().values().map(|(role, name)| format!("{name} ({})", role.word())).collect()
    }
}

impl Runner {
    pub fn watchers(&self, session: u32) -> Vec<String> {
        self.shares.lock().iter().filter(|s| s.session == session).flat_map(|s| s.watchers()).collect()
    }

    pub fn shares(&self) -> Vec<ShareView> {
        let names: HashMap<u32, String> = self.state.lock().sessions.values().map(|s| (s.id, s.name.clone())).collect();
        self.shares
            .lock()
            .iter()
            .map(|s| ShareView {
                id: s.id.clone(),
                session: names.get(&s.session).cloned().unwrap_or_default(),
                pane: s.pane,
                server: s.link.server.clone(),
                read_url: s.link.url(false),
                drive_url: s.keys().can_drive().then(|| s.link.url(true)),
                expires: s.expires,
                connected: s.connected.load(Ordering::Relaxed),
                viewers: s.watchers(),
            })
            .collect()
    }

    /// Starts sharing; returns once the server has taken the share (or refused it).
    pub async fn share(self: &Arc<Self>, req: ShareRequest) -> Result<ShareView, String> {
        let config = self.config();
        let (session, pane) = {
            let st = self.state.lock();
            let session = match (&req.session, req.pane) {
                (Some(name), _) => st
                    .sessions
                    .values()
                    .find(|s| &s.name == name)
                    .ok_or_else(|| format!("no session named `{name}`; `teamster ls` lists them"))?,
                (None, Some(p)) => st
                    .sessions
                    .values()
                    .find(|s| s.tabs.iter().any(|t| t.layout.contains(p)))
                    .ok_or_else(|| format!("no pane {p}; `teamster ls` lists them"))?,
                (None, None) => st
                    .sessions
                    .values()
                    .max_by_key(|s| s.last_used)
                    .ok_or("there is no session to share; start one with `teamster`")?,
            };
            if let Some(p) = req.pane
                && !session.tabs.iter().any(|t| t.layout.contains(p))
            {
                return Err(format!("pane {p} is not in session `{}`", session.name));
            }
            (session.id, req.pane)
        };
        let server = req.server.clone().unwrap_or(config.share.server.clone()).trim_end_matches('/').to_string();
        let lasts = crate::share::parse_duration(req.expires.as_deref().unwrap_or(&config.share.expires))?;
        if req.server.is_none() {
            ensure_local_server(&server).await?;
        }
        let team = team_token(&config, &server).await?;
        let id = crate::share::crypto::new_share_id()?;
        let link = Link { server, keys: Keys::generate(&id, !req.read_only)? };
        let share = Share::new(link, session, pane, b64(&random::<32>()?), team, now_secs() + lasts);
        let (started, result) = tokio::sync::oneshot::channel();
        tokio::spawn(sync(self.clone(), share.clone(), Some(started)));
        match tokio::time::timeout(Duration::from_secs(15), result).await {
            Ok(Ok(Ok(()))) => {}
            Ok(Ok(Err(e))) => return Err(e),
            _ => {
                share.stop.send_replace(Stop::End(Ended::Unshared));
                return Err(format!("the share server at {} did not take the share within 15 s", share.link.server));
            }
        }
        self.shares.lock().push(share.clone());
        self.keep_shares();
        self.touch_session(session);
        self.shares().into_iter().find(|s| s.id == share.id).ok_or_else(|| "the share ended at once".to_string())
    }

    /// Where the shares are kept for the next runner.
    fn kept_shares_file(&self) -> std::path::PathBuf {
        self.state_file.with_file_name("shares.json")
    }

    /// Writes the shares as they are now for the next runner (off the runtime's thread).
    /// Not while restarting: what is on disk then is what the next runner resumes.
    /// The flag is checked under the writers' lock, which `restart` holds while it sets it
    /// (`keeping_shares`): a write queued before a restart never runs after it.
    pub fn keep_shares(self: &Arc<Self>) -> tokio::task::JoinHandle<()> {
        let runner = self.clone();
        tokio::task::spawn_blocking(move || {
            let _one = KEEPING.lock();
            if runner.restarting.load(std::sync::atomic::Ordering::SeqCst) {
                return;
            }
            let keys: HashMap<u32, String> =
                runner.state.lock().sessions.values().map(|s| (s.id, s.key.clone())).collect();
            let kept: Vec<KeptShare> = runner
                .shares
                .lock()
                .iter()
                .filter_map(|s| {
                    Some(KeptShare {
                        id: s.id.clone(),
                        url: s.link.url(s.keys().can_drive()),
                        runner_token: s.runner_token.clone(),
                        session_key: keys.get(&s.session)?.clone(),
                        pane: s.pane,
                        expires: s.expires,
                    })
                })
                .collect();
            let path = runner.kept_shares_file();
            let written = serde_json::to_string_pretty(&kept)
                .map_err(|e| e.to_string())
                .and_then(|text| crate::agents::write_private(&path, &text).map_err(|e| e.to_string()));
            if let Err(e) = written {
                log(&format!("cannot keep the shares in {}: {e}", path.display()));
            }
        })
    }

    /// The writers' lock of `shares.json`, for `restart` to hold while it sets `restarting`.
    /// Taken before the state lock, as the writers take them.
    pub(super) fn keeping_shares(&self) -> parking_lot::MutexGuard<'static, ()> {
        KEEPING.lock()
    }

    /// Stopping for good: every share ends (its viewers told why) and none is kept.
    pub async fn end_shares(self: &Arc<Self>) {
        self.stop_shares(Stop::End(Ended::RunnerStopped)).await;
        // One that did not finish telling its server within the wait is not resumed either.
        self.shares.lock().clear();
        let _ = self.keep_shares().await;
    }

    /// Ends every share's connection as `how` says; returns once each has told its server
    /// (at most 2 s).
    pub fn stop_shares(&self, how: Stop) -> impl std::future::Future<Output = ()> + use<> {
        let shares: Vec<Arc<Share>> = self.shares.lock().clone();
        for s in &shares {
            s.stop.send_replace(how);
        }
        async move {
            let waits = shares.iter().map(|s| {
                let mut finished = s.finished.subscribe();
                async move {
                    let _ = tokio::time::timeout(Duration::from_secs(2), finished.wait_for(|f| *f)).await;
                }
            });
            futures_util::future::join_all(waits).await;
        }
    }

    /// The shares the last runner kept (`teamster restart`): each connects again as the
    /// same share, so its links go on working, once its session is back; one whose session
    /// did not come back is ended, and its viewers told so.
    pub fn resume_shares(self: &Arc<Self>) {
        let runner = self.clone();
        tokio::spawn(async move {
            let path = runner.kept_shares_file();
            let read = tokio::task::spawn_blocking(move || crate::nofollow::read(&path, 1 << 20)).await;
            let Ok(Ok(bytes)) = read else { return };
            let kept: Vec<KeptShare> = match serde_json::from_slice(&bytes) {
                Ok(k) => k,
                Err(e) => return log(&format!("the kept shares do not parse ({e}); they are not resumed")),
            };
            let config = runner.config();
            for k in kept {
                if k.expires <= now_secs() {
                    continue;
                }
                let link = match Link::parse(&k.url) {
                    Ok(l) if l.keys.share == k.id => l,
                    _ => {
                        log(&format!("share {}: its kept link does not parse; not resumed", k.id));
                        continue;
                    }
                };
                let session = {
                    let st = runner.state.lock();
                    st.sessions
                        .values()
                        .find(|s| s.key == k.session_key)
                        .filter(|s| k.pane.is_none_or(|p| s.tabs.iter().any(|t| t.layout.contains(p))))
                        .map(|s| s.id)
                };
                let Some(session) = session else {
                    log(&format!("share {}: its session did not come back; ending it", k.id));
                    tokio::spawn(end_kept(link, k.runner_token, Ended::NotResumed));
                    continue;
                };
                if link.server == config.share.server.trim_end_matches('/')
                    && let Err(e) = ensure_local_server(&link.server).await
                {
                    log(&format!("share {}: {e}; trying the server anyway", k.id));
                }
                let team = match team_token(&config, &link.server).await {
                    Ok(t) => t,
                    Err(e) => {
                        log(&format!("share {}: {e}; resumed without a team token", k.id));
                        None
                    }
                };
                let share = Share::new(link, session, k.pane, k.runner_token, team, k.expires);
                log(&format!("share {}: resumed", share.id));
                runner.shares.lock().push(share.clone());
                tokio::spawn(sync(runner.clone(), share, None));
                runner.touch_session(session);
            }
            runner.keep_shares();
        });
    }

    /// Stops shares (one, a session's, or all); every viewer is cut off.
    pub async fn unshare(&self, id: Option<String>, session: Option<String>) -> Result<String, String> {
        let session_id = match &session {
            Some(name) => Some(
                self.state
                    .lock()
                    .sessions
                    .values()
                    .find(|s| &s.name == name)
                    .map(|s| s.id)
                    .ok_or_else(|| format!("no session named `{name}`"))?,
            ),
            None => None,
        };
        let stopped: Vec<Arc<Share>> = {
            let mut shares = self.shares.lock();
            let (gone, kept) = shares.drain(..).partition(|s: &Arc<Share>| {
                id.as_ref().is_none_or(|i| &s.id == i) && session_id.is_none_or(|sid| s.session == sid)
            });
            *shares = kept;
            gone
        };
        if stopped.is_empty() {
            return Err(match id {
                Some(i) => format!("no share `{i}`; `teamster share --list` lists them"),
                None => "nothing is shared".into(),
            });
        }
        for s in &stopped {
            s.stop.send_replace(Stop::End(Ended::Unshared));
            self.touch_session(s.session);
        }
        // Give each a moment to tell its server; the runner refuses its drivers either way.
        for s in &stopped {
            let mut finished = s.finished.subscribe();
            let _ = tokio::time::timeout(Duration::from_secs(3), finished.wait_for(|f| *f)).await;
        }
        let n = stopped.len();
        Ok(format!("stopped {n} share{}; every viewer was cut off", if n == 1 { "" } else { "s" }))
    }

    fn touch_session(&self, session: u32) {
        if let Some(s) = self.state.lock().sessions.get_mut(&session) {
            s.touch();
        }
    }

    fn note(&self, session: u32, what: String, verdict: crate::approval::Verdict) {
        let name = self.state.lock().sessions.get(&session).map(|s| s.name.clone()).unwrap_or_default();
        self.audit(DecisionRecord {
            ts: now_secs(),
            session: name,
            pane: String::new(),
            place: String::new(),
            agent: "share".into(),
            kind: crate::approval::ActionKind::Share,
            what,
            verdict,
            by: crate::approval::DecidedBy::ShareLink,
            rule: None,
            reason: None,
        });
    }
}

/// With the default (loopback) server: starts `teamster serve` there if none answers.
async fn ensure_local_server(server: &str) -> Result<(), String> {
    let Some(addr) = server.strip_prefix("http://") else { return Ok(()) };
    let Ok(addr) = addr.parse::<std::net::SocketAddr>() else { return Ok(()) };
    if !addr.ip().is_loopback() || tokio::net::TcpStream::connect(addr).await.is_ok() {
        return Ok(());
    }
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let log_path = crate::paths::state_dir().join("serve.log");
    let log_file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log_path)
        .map_err(|e| format!("cannot open {}: {e}", log_path.display()))?;
    let mut cmd = std::process::Command::new(exe);
    cmd.args(["serve", "--listen", &addr.to_string()]);
    let mut child =
        super::daemon::spawn_detached(cmd, log_file).map_err(|e| format!("cannot start `teamster serve`: {e}"))?;
    log(&format!("started a share server on {addr} (pid {}); its log: {}", child.id(), log_path.display()));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        if tokio::net::TcpStream::connect(addr).await.is_ok() {
            std::thread::spawn(move || child.wait());
            return Ok(());
        }
        if let Ok(Some(status)) = child.try_wait() {
            return Err(format!("`teamster serve` exited at once ({status}); see {}", log_path.display()));
        }
        if tokio::time::Instant::now() > deadline {
            return Err(format!("the share server did not start within 10 s; see {}", log_path.display()));
        }
        // Waiting for another process to listen: nothing to be woken by.
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// One sealed update, as sent and kept.
struct Sent {
    seq: u64,
    text: String,
}

/// One driver's numbered messages as the runner takes them: strictly in order, so a relay
/// that drops or reorders some can delay a driver's keys but never skip or swap them.
#[derive(Default)]
struct DriverIn {
    /// Every message up to this one was applied, in order; the acknowledgement says so.
    applied: u64,
    /// Messages after a gap, their signatures checked, waiting for it to fill, each with
    /// its sealed size; `held_bytes` is the sum of those sizes.
    held: BTreeMap<u64, (ClientMsg, usize)>,
    held_bytes: usize,
    /// The highest number seen (signed): past the window, messages are dropped, not held,
    /// and still owed.
    seen: u64,
    gap: Option<GapWait>,
    /// A gap never filled: nothing more is taken under this driver id.
    lost: bool,
    /// The server's connection it last came from (where its replies go), and its name
    /// (made visible where it arrived).
    conn: u64,
    name: String,
}

struct GapWait {
    since: tokio::time::Instant,
    asked: tokio::time::Instant,
}

/// What the sync loop keeps across connections.
struct Stream {
    feed: Feed,
    epoch: String,
    next_seq: u64,
    /// The last snapshot and the updates after it.
    outbox: VecDeque<Sent>,
    bytes: usize,
    /// Each driver's messages: how far applied, and what waits behind a gap.
    drivers: HashMap<String, DriverIn>,
    /// When each driver's typing was last noted.
    typed_noted: HashMap<String, u64>,
    /// Comments each viewer's connection may still leave now (a burst, refilled over time),
    /// and when that was counted: a read link must not flood the sharer's history.
    comments: HashMap<u64, crate::share::server::Bucket>,
    /// Replies made off the sync loop (a fork reads files and runs git), for a viewer's
    /// connection; sent when they are ready.
    later: (Later, tokio::sync::mpsc::UnboundedReceiver<Forked>),
}

/// A fork made off the loop: for which viewer's connection and request, the pack (as
/// JSON, sealed for drivers when it is sent) or why not.
type Forked = (u64, u64, Result<Vec<u8>, String>);
type Later = tokio::sync::mpsc::UnboundedSender<Forked>;

/// A share's connection to its server, for as long as the share lasts. `started` hears
/// whether the server took it (a new share gives up if not); a resumed one has none, and
/// keeps trying.
async fn sync(
    runner: Arc<Runner>,
    share: Arc<Share>,
    mut started: Option<tokio::sync::oneshot::Sender<Result<(), String>>>,
) {
    let scope = share.pane.map_or(Scope::Session, Scope::Pane);
    let Some(feed) = Feed::new(runner.clone(), share.session, scope) else {
        if let Some(tx) = started.take() {
            let _ = tx.send(Err("the session ended".into()));
        }
        runner.shares.lock().retain(|s| s.id != share.id);
        share.finished.send_replace(true);
        return;
    };
    let mut stream = Stream {
        feed,
        epoch: random::<16>().map(|b| b64(&b)).unwrap_or_default(),
        next_seq: 1,
        outbox: VecDeque::new(),
        bytes: 0,
        drivers: HashMap::new(),
        typed_noted: HashMap::new(),
        later: tokio::sync::mpsc::unbounded_channel(),
        comments: HashMap::new(),
    };
    let mut stop = share.stop.subscribe();
    let mut backoff = Duration::from_millis(100);
    let ended = loop {
        if *stop.borrow() != Stop::Running {
            break None;
        }
        let attempt = tokio::select! {
            r = connect(&share) => r,
            _ = stop.changed() => break None,
        };
        match attempt {
            Ok((ws, have)) => {
                if let Some(tx) = started.take() {
                    let _ = tx.send(Ok(()));
                }
                backoff = Duration::from_millis(100);
                share.connected.store(true, Ordering::Relaxed);
                let outcome = connected(&runner, &share, &mut stream, ws, have, &mut stop).await;
                share.connected.store(false, Ordering::Relaxed);
                share.viewers.lock().clear();
                runner.touch_session(share.session);
                match outcome {
                    Outcome::Lost(why) => log(&format!("share {}: connection lost ({why}); reconnecting", share.id)),
                    Outcome::Over(why) => break Some(why),
                    Outcome::Stopped => break None,
                }
            }
            Err(Refusal::Final(why)) => break Some(why),
            Err(Refusal::Retry(why)) => {
                if let Some(tx) = started.take() {
                    let _ = tx.send(Err(why));
                    return;
                }
                log(&format!("share {}: {why}; trying again", share.id));
                // Retrying a connection: nothing to wake us but time, or an unshare.
                tokio::select! {
                    _ = tokio::time::sleep(backoff) => {}
                    _ = stop.changed() => break None,
                }
                backoff = (backoff * 2).min(Duration::from_secs(3));
            }
        }
    };
    if let Some(tx) = started.take() {
        let _ = tx.send(Err(ended.clone().unwrap_or_else(|| "stopped".into())));
    }
    if let Some(why) = ended {
        log(&format!("share {} ended: {why}", share.id));
        runner.note(share.session, format!("sharing stopped: {why}"), Verdict::Ended);
    }
    runner.shares.lock().retain(|s| s.id != share.id);
    runner.keep_shares();
    runner.touch_session(share.session);
    share.finished.send_replace(true);
}

/// Connects as a kept share whose session did not come back, only to end it (viewers are
/// told `why`).
async fn end_kept(link: Link, runner_token: String, why: Ended) {
    let Ok(mut ws) = crate::share::connect(&link.server).await else { return };
    let hello = FromRunner::Runner { share: link.keys.share.clone(), token: runner_token, register: None };
    let Ok(text) = serde_json::to_string(&hello) else { return };
    if ws.send(Message::text(text)).await.is_err() {
        return;
    }
    if let Ok(Some(Ok(Message::Text(t)))) = tokio::time::timeout(Duration::from_secs(10), ws.next()).await
        && matches!(serde_json::from_str::<ToRunner>(&t), Ok(ToRunner::Welcome { .. }))
    {
        revoke(&mut ws, why).await;
    }
}

/// The token a team's server asks of this runner for `server`: the config's team token
/// file, else the member token `teamster join` kept for that server, if any. Read off the
/// runtime's thread; a named file that cannot be read is said.
async fn team_token(config: &crate::config::Config, server: &str) -> Result<Option<String>, String> {
    match config.share.team_token_file.clone() {
        Some(file) => {
            let path = crate::config::expand_home(&file);
            let read = tokio::task::spawn_blocking(move || crate::share::server::read_team_token(&path));
            Ok(Some(read.await.map_err(|e| e.to_string())?.map_err(|e| format!("[share] team_token_file: {e:#}"))?))
        }
        None => {
            let path = crate::share::member_token_path(server)?;
            let read = tokio::task::spawn_blocking(move || {
                crate::nofollow::read(&path, 4096).ok().map(|b| String::from_utf8_lossy(&b).trim().to_string())
            });
            Ok(read.await.map_err(|e| e.to_string())?.filter(|t| !t.is_empty()))
        }
    }
}

enum Refusal {
    /// Try again later (the server is down).
    Retry(String),
    /// The server will not take this share again (revoked, expired).
    Final(String),
}

enum Outcome {
    Lost(String),
    Over(String),
    Stopped,
}

async fn connect(share: &Share) -> Result<(crate::share::Client, u64), Refusal> {
    let mut ws = crate::share::connect(&share.link.server).await.map_err(Refusal::Retry)?;
    let register = Register {
        read: token_hash(&share.keys().read_token()),
        drive: share.keys().drive_token().map(|t| token_hash(&t)),
        expires: Some(share.expires),
        team: share.team.clone(),
    };
    let hello =
        FromRunner::Runner { share: share.id.clone(), token: share.runner_token.clone(), register: Some(register) };
    let text = serde_json::to_string(&hello).map_err(|e| Refusal::Retry(e.to_string()))?;
    ws.send(Message::text(text)).await.map_err(|e| Refusal::Retry(e.to_string()))?;
    let reply = tokio::time::timeout(Duration::from_secs(10), ws.next())
        .await
        .map_err(|_| Refusal::Retry("the share server did not answer".into()))?;
    match reply {
        Some(Ok(Message::Text(t))) => match serde_json::from_str::<ToRunner>(&t) {
            Ok(ToRunner::Welcome { have }) => Ok((ws, have)),
            Ok(ToRunner::Refused { reason }) => {
                Err(Refusal::Final(format!("the share server refused: {}", crate::text::visible(&reason))))
            }
            _ => Err(Refusal::Retry("the share server answered something unexpected".into())),
        },
        _ => Err(Refusal::Retry("the share server closed the connection".into())),
    }
}

async fn connected(
    runner: &Arc<Runner>,
    share: &Share,
    stream: &mut Stream,
    mut ws: crate::share::Client,
    have: u64,
    stop: &mut watch::Receiver<Stop>,
) -> Outcome {
    // What the server lacks: all we kept if it has none of it, else what follows.
    stream.next_seq = stream.next_seq.max(have + 1);
    if stream.outbox.is_empty() {
        stream.feed.resync();
    } else {
        let first = stream.outbox.front().map_or(0, |s| s.seq);
        for sent in stream.outbox.iter().filter(|s| have < first || s.seq > have) {
            if ws.send(Message::text(sent.text.clone())).await.is_err() {
                return Outcome::Lost("sending what the server missed".into());
            }
        }
    }
    let expires_in = Duration::from_secs(share.expires.saturating_sub(now_secs()));
    let expiry = tokio::time::sleep(expires_in);
    tokio::pin!(expiry);
    loop {
        let gap_due = next_gap_due(stream);
        tokio::select! {
            batch = stream.feed.next() => {
                let batch = match batch {
                    Ok(b) => b,
                    Err(why) => {
                        revoke(&mut ws, Ended::SessionEnded).await;
                        return Outcome::Over(format!("the session ended ({why})"));
                    }
                };
                let Some(text) = seal_update(share, stream, batch) else { continue };
                if ws.send(Message::text(text)).await.is_err() {
                    return Outcome::Lost("the server went away".into());
                }
                // Kept updates are bounded: the next batch replaces them with a snapshot.
                if stream.bytes > SNAPSHOT_AFTER {
                    stream.feed.resync();
                }
            }
            msg = ws.next() => {
                let text = match msg {
                    Some(Ok(Message::Text(t))) => t,
                    Some(Ok(Message::Close(_))) | None => return Outcome::Lost("the server closed the connection".into()),
                    Some(Err(e)) => return Outcome::Lost(e.to_string()),
                    Some(Ok(_)) => continue,
                };
                match serde_json::from_str::<ToRunner>(&text) {
                    Ok(ToRunner::Msg { from, role, name, kind, c, drive }) => {
                        // The viewer's name is the peer's words: shown, never obeyed, from here on.
                        let name = crate::text::visible(&name);
                        for body in from_viewer(runner, share, stream, from, &name, role, kind, &c, drive) {
                            if !reply(share, &mut ws, from, &body).await {
                                return Outcome::Lost("the server went away".into());
                            }
                        }
                    }
                    Ok(ToRunner::Snapshot) => stream.feed.resync(),
                    Ok(ToRunner::Joined { conn, role, name }) => {
                        let name = crate::text::visible(&name).into_owned();
                        runner.note(share.session, format!("{name} joined as {}", role.word()), Verdict::Joined);
                        share.viewers.lock().insert(conn, (role, name));
                        runner.touch_session(share.session);
                    }
                    Ok(ToRunner::Left { conn }) => {
                        stream.comments.remove(&conn);
                        if let Some((role, name)) = share.viewers.lock().remove(&conn) {
                            runner.note(share.session, format!("{name} ({}) left", role.word()), Verdict::Left);
                        }
                        runner.touch_session(share.session);
                    }
                    Ok(ToRunner::Refused { reason }) => return Outcome::Over(crate::text::visible(&reason).into_owned()),
                    Ok(ToRunner::Welcome { .. }) => {}
                    Err(e) => log(&format!(
                        "share {}: the server sent a malformed message: {}",
                        share.id,
                        crate::text::visible(&e.to_string())
                    )),
                }
            }
            Some((to, id, pack)) = stream.later.1.recv() => {
                // Only drivers open a fork: it is sealed again under the drive secret's key.
                let result = pack
                    .and_then(|plain| share.keys().seal_for_drivers(&aad::fork(&share.id), &plain))
                    .map(|sealed| Reply::Forked { sealed });
                let body = ReplyBody { ack: None, msg: Some(ServerMsg::Reply { id, result }), gap: None };
                if !reply(share, &mut ws, to, &body).await {
                    return Outcome::Lost("the server went away".into());
                }
            }
            _ = tokio::time::sleep_until(gap_due.unwrap_or_else(tokio::time::Instant::now)), if gap_due.is_some() => {
                for (to, body) in gaps_due(runner, share, stream) {
                    if !reply(share, &mut ws, to, &body).await {
                        return Outcome::Lost("the server went away".into());
                    }
                }
            }
            _ = stop.changed() => {
                let how = *stop.borrow();
                match how {
                    Stop::Running => continue,
                    Stop::Restart => restarting(&mut ws).await,
                    Stop::End(why) => revoke(&mut ws, why).await,
                }
                return Outcome::Stopped;
            }
            _ = &mut expiry => {
                revoke(&mut ws, Ended::Expired).await;
                return Outcome::Over("the link expired".into());
            }
        }
    }
}

/// Seals a reply for one viewer's connection and sends it; false when the server is gone.
async fn reply(share: &Share, ws: &mut crate::share::Client, to: u64, body: &ReplyBody) -> bool {
    let Ok(plain) = serde_json::to_vec(body) else { return true };
    let Ok(c) = share.keys().seal(&aad::reply(&share.id), &plain) else { return true };
    let Ok(text) = serde_json::to_string(&FromRunner::Reply { to, c }) else { return true };
    ws.send(Message::text(text)).await.is_ok()
}

async fn revoke(ws: &mut crate::share::Client, why: Ended) {
    if let Ok(text) = serde_json::to_string(&FromRunner::Revoke { why: Some(why) }) {
        let _ = ws.send(Message::text(text)).await;
        // The server closes once it has cut everyone off.
        let _ = tokio::time::timeout(Duration::from_secs(2), async { while ws.next().await.is_some() {} }).await;
    }
}

/// Tells the server this runner is restarting (the share stays), and leaves.
async fn restarting(ws: &mut crate::share::Client) {
    if let Ok(text) = serde_json::to_string(&FromRunner::Restarting) {
        let _ = ws.send(Message::text(text)).await;
        let _ = ws.close(None).await;
    }
}

/// Seals a batch as the next update and keeps it; returns what to send.
fn seal_update(share: &Share, stream: &mut Stream, batch: Batch) -> Option<String> {
    let snap = batch.snapshot;
    let body = UpdateBody { epoch: stream.epoch.clone(), drivable: share.keys().can_drive(), msgs: batch.msgs };
    let plain = serde_json::to_vec(&body).ok()?;
    let seq = stream.next_seq;
    let c = match share.keys().seal(&aad::update(&share.id, seq, snap), &plain) {
        Ok(c) => c,
        Err(e) => {
            log(&format!("share {}: {e}", share.id));
            return None;
        }
    };
    let text = serde_json::to_string(&FromRunner::Update { seq, snap, c }).ok()?;
    stream.next_seq += 1;
    if snap {
        stream.outbox.clear();
        stream.bytes = 0;
    }
    stream.bytes += text.len();
    stream.outbox.push_back(Sent { seq, text: text.clone() });
    Some(text)
}

/// A teammate's comment: checked (in the share's scope, a size a person writes), then
/// kept in the audit and the sidebar's history, where the sharer and every viewer see it.
/// `name` was made visible already; the text is made so here.
fn comment(runner: &Arc<Runner>, share: &Share, name: &str, on: CommentOn, text: &str) -> Result<(), String> {
    let text = text.trim();
    if text.is_empty() {
        return Err("an empty comment says nothing; write something".into());
    }
    if text.chars().count() > crate::protocol::COMMENT_MAX {
        return Err(format!("a comment is at most {} characters", crate::protocol::COMMENT_MAX));
    }
    let (pane, place) = match on {
        CommentOn::Session => (String::new(), "the session".to_string()),
        CommentOn::Pane { pane, line } => {
            let pane = in_scope(runner, share, Some(pane))?.id;
            let place = match line {
                Some(l) => format!("pane {pane}, line {l}"),
                None => format!("pane {pane}"),
            };
            (pane.to_string(), place)
        }
        CommentOn::Action { action } => {
            let pending = pending_in_share(runner, share, action)?;
            (
                pending.pane.to_string(),
                format!(
                    "approval {action} ({}: {})",
                    crate::text::visible(&pending.tool),
                    crate::text::visible(&crate::text::truncate(&pending.what, 60))
                ),
            )
        }
    };
    // Where in the session, as every record names a pane (`SESSION:TAB.PANE`).
    let (session, at) = {
        let st = runner.state.lock();
        let s = st.sessions.get(&share.session);
        let at = pane.parse().ok().and_then(|p| s.and_then(|s| s.place_of(p)));
        (s.map(|s| s.name.clone()).unwrap_or_default(), at.unwrap_or_default())
    };
    log(&format!("share {}: {name} commented on {place}", share.id));
    runner.audit(DecisionRecord {
        ts: now_secs(),
        session,
        pane,
        // The history shows the agent column: for a comment, where it was left.
        agent: place,
        place: at,
        kind: crate::approval::ActionKind::Comment,
        what: crate::text::visible(text).into_owned(),
        verdict: Verdict::Comment,
        by: crate::approval::DecidedBy::Teammate(name.to_string()),
        rule: None,
        reason: None,
    });
    runner.touch_session(share.session);
    Ok(())
}

/// The pending action `action` if it is in what `share` shows (its session, and its pane
/// when one pane is shared).
fn pending_in_share(runner: &Runner, share: &Share, action: u64) -> Result<crate::protocol::PendingView, String> {
    let session = runner.state.lock().sessions.get(&share.session).map(|s| s.name.clone()).unwrap_or_default();
    runner
        .approvals()
        .into_iter()
        .find(|p| p.id == action && p.session == session && share.pane.is_none_or(|id| id == p.pane))
        .ok_or_else(|| format!("no pending action {action} in this share"))
}

/// Comments from one viewer's connection: a burst, then one every so many seconds.
const COMMENT_BURST: f64 = 5.0;
const COMMENT_EVERY_SECS: u64 = 2;

fn comment_allowed(buckets: &mut HashMap<u64, crate::share::server::Bucket>, conn: u64) -> bool {
    // A viewer's bucket goes when it leaves; this bounds what leaving unseen would keep.
    if buckets.len() > 10_000 {
        buckets.clear();
    }
    let bucket = buckets.entry(conn).or_insert_with(|| crate::share::server::Bucket::full(COMMENT_BURST));
    bucket.take(COMMENT_BURST, 1.0 / COMMENT_EVERY_SECS as f64).is_ok()
}

/// What a fork of a pane is made from, taken under the pane's lock: its agent, the
/// conversation, where it began and its worktree.
struct ForkSource {
    agent: crate::agents::Agent,
    conversation: String,
    /// The pane's environment, for the agent's settings (where it keeps its state).
    env: Vec<(String, String)>,
    cwd: std::path::PathBuf,
    worktree: Option<super::worktree::Worktree>,
}

fn fork_source(runner: &Runner, pane: &super::pane::Pane) -> Result<ForkSource, String> {
    let spec = pane.meta.lock().spec.clone();
    let crate::protocol::Spawn::Agent { name } = &spec.spawn else {
        return Err(format!("pane {} runs no agent: there is no conversation to fork", pane.id));
    };
    let config = runner.config();
    let agent = crate::agents::resolve(&config, name)?;
    let conversation = spec.conversation.clone().ok_or_else(|| {
        format!("{} in pane {} has no conversation yet: say something to it first", agent.name, pane.id)
    })?;
    Ok(ForkSource { agent, conversation, env: spec.env, cwd: spec.cwd, worktree: spec.worktree })
}

impl ForkSource {
    /// Reads the transcript (never through a link: the agent writes where it lies) and
    /// bundles the branch's own commits. Blocking: git, and a file of megabytes.
    fn pack(self) -> Result<crate::protocol::ForkPack, String> {
        let max = crate::protocol::FORK_MAX as u64;
        let adapter = crate::agents::adapter::adapter(self.agent.kind);
        let var = |k: &str| crate::agents::setting_in(&self.agent, &self.env, k);
        let root = adapter.conversations(&crate::paths::home(), &var, &self.cwd)?.ok_or_else(|| {
            format!("teamster cannot fork {}'s conversations yet", crate::text::visible(&self.agent.name))
        })?;
        let (rel, transcript) = adapter
            .transcript(&root, &self.conversation, max)
            .map_err(|e| format!("{}: {e}", crate::text::visible(&self.agent.name)))?;
        if transcript.len() as u64 > max {
            return Err(format!("the conversation is over {} MiB: too big to fork through a share", max >> 20));
        }
        let branch = match &self.worktree {
            Some(w) => Some(w.bundle()?),
            None => None,
        };
        if let Some(bundle) = branch.as_ref().and_then(|b| b.1.as_ref())
            && bundle.len() + transcript.len() > crate::protocol::FORK_MAX
        {
            return Err(format!(
                "the branch and conversation are over {} MiB: too big to fork through a share",
                max >> 20
            ));
        }
        Ok(crate::protocol::ForkPack {
            kind: self.agent.kind,
            agent: self.agent.name,
            conversation: self.conversation,
            transcript: b64(&transcript),
            transcript_path: rel.to_string_lossy().into_owned(),
            branch: branch.map(|(b, bundle)| crate::protocol::ForkBranch {
                name: b.0,
                base: b.1,
                bundle: bundle.map(|bytes| b64(&bytes)),
            }),
        })
    }
}

/// What a message asks for, by its content (the envelope's claim is checked against it).
fn kind_of(msg: &ClientMsg) -> Option<Kind> {
    match msg {
        ClientMsg::Input { .. } => Some(Kind::Input),
        ClientMsg::Resolve { .. } => Some(Kind::Resolve),
        ClientMsg::Command { .. } => Some(Kind::Command),
        ClientMsg::GetLines { .. } | ClientMsg::Search { .. } | ClientMsg::GetText { .. } => Some(Kind::Query),
        ClientMsg::Comment { .. } => Some(Kind::Comment),
        ClientMsg::Fork { .. } => Some(Kind::Fork),
        _ => None,
    }
}

/// A viewer's message: opened, its authority checked, and applied if it is next in its
/// driver's order. Returns the replies for that viewer: each acknowledges the driver's
/// messages applied so far (all of them, in order) and may carry an answer; the last says
/// whether a gap holds the driver's messages back. `name` was made visible already.
#[allow(clippy::too_many_arguments)]
fn from_viewer(
    runner: &Arc<Runner>,
    share: &Share,
    stream: &mut Stream,
    from: u64,
    name: &str,
    role: Role,
    kind: Kind,
    sealed: &str,
    drive: Option<crate::share::wire::Authority>,
) -> Vec<ReplyBody> {
    let refuse = |why: String| {
        log(&format!("share {}: refused a message from {name} ({}): {why}", share.id, role.word()));
        runner.note(share.session, format!("refused a {} from {name}: {why}", kind.word()), Verdict::Refused);
        Vec::new()
    };
    let plain = match share.keys().open(&aad::viewer(&share.id, kind.word()), sealed) {
        Ok(p) => p,
        Err(e) => return refuse(e),
    };
    let msg: ClientMsg = match serde_json::from_slice(&plain) {
        Ok(m) => m,
        Err(e) => return refuse(format!("malformed: {}", crate::text::visible(&e.to_string()))),
    };
    if kind_of(&msg) != Some(kind) {
        return refuse("it is not what its envelope says".into());
    }
    if let ClientMsg::Comment { id, .. } = &msg
        && !comment_allowed(&mut stream.comments, from)
    {
        let why = format!("too many comments: {COMMENT_BURST} at once, then one every {COMMENT_EVERY_SECS} s");
        return vec![ReplyBody { ack: None, msg: Some(ServerMsg::Reply { id: *id, result: Err(why) }), gap: None }];
    }
    if !kind.needs_driver() {
        let answer = apply(runner, share, &mut stream.typed_noted, (from, &stream.later.0), name, msg);
        return vec![ReplyBody { ack: None, msg: answer, gap: None }];
    }
    let Some(auth) = drive else { return refuse("it is not signed by a driver".into()) };
    if !share.keys().can_drive() {
        return refuse("this share is read-only".into());
    }
    // Only a message whose signature verifies may touch the driver's state: anything else
    // (injected, altered, from another epoch) advances, holds and acknowledges nothing.
    let signed = aad::drive(&share.id, &stream.epoch, &auth.id, auth.seq, kind.word(), sealed);
    if !share.keys().verify(&signed, &auth.mac) {
        return refuse("its driver signature does not verify".into());
    }
    let held_total: usize = stream.drivers.values().map(|d| d.held_bytes).sum();
    let d = stream.drivers.entry(auth.id.clone()).or_default();
    d.conn = from;
    if d.name != name {
        d.name = name.to_string();
    }
    d.seen = d.seen.max(auth.seq);
    let id = auth.id;
    let seq = auth.seq;
    if d.lost {
        return vec![ReplyBody { ack: Some((id, d.applied)), msg: None, gap: Some(Gap::Lost) }];
    }
    if seq <= d.applied || d.held.contains_key(&seq) {
        // Sent again (after a reconnect, or on our request): applied or held already. Only
        // acknowledged: were it to ask for the rest again, each resent message still held
        // would make the driver resend them all once more, a storm growing every round
        // trip. While a gap stays open, `gaps_due` asks again, on a timer.
        return vec![ReplyBody { ack: Some((id, d.applied)), msg: None, gap: None }];
    }
    if seq > d.applied + 1 {
        // A gap: what came before this one is missing. Hold it (a few, bounded); applying
        // it now would skip keys the driver typed.
        let len = sealed.len();
        let fits =
            seq - d.applied <= HOLD_MESSAGES && d.held_bytes + len <= HOLD_BYTES && held_total + len <= HOLD_BYTES_ALL;
        if fits {
            d.held_bytes += len;
            d.held.insert(seq, (msg, len));
        }
        // A new gap is asked about at once; one already open, by `gaps_due`.
        let gap = if d.gap.is_none() {
            let now = tokio::time::Instant::now();
            d.gap = Some(GapWait { since: now, asked: now });
            log(&format!(
                "share {}: {name}'s message {seq} came before {}; asked for it again",
                share.id,
                d.applied + 1
            ));
            Some(Gap::Resend)
        } else {
            None
        };
        return vec![ReplyBody { ack: Some((id, d.applied)), msg: None, gap }];
    }
    // Next in order: apply it, then whatever held messages now follow it.
    let mut next = Some(msg);
    let mut answers = Vec::new();
    while let Some(msg) = next.take() {
        d.applied += 1;
        answers.extend(apply(runner, share, &mut stream.typed_noted, (from, &stream.later.0), name, msg));
        next = d.held.remove(&(d.applied + 1)).map(|(msg, len)| {
            d.held_bytes -= len;
            msg
        });
    }
    let gap = if d.seen <= d.applied {
        d.gap = None;
        None
    } else {
        // Still a hole further on: the wait starts again, since this one was filled.
        let now = tokio::time::Instant::now();
        d.gap = Some(GapWait { since: now, asked: now });
        Some(Gap::Resend)
    };
    let ack = Some((id, d.applied));
    let mut replies: Vec<ReplyBody> =
        answers.into_iter().map(|a| ReplyBody { ack: ack.clone(), msg: Some(a), gap: None }).collect();
    match replies.last_mut() {
        Some(last) => last.gap = gap,
        None => replies.push(ReplyBody { ack, msg: None, gap }),
    }
    replies
}

/// When the next gap needs attention (ask again, or give up), if any is open.
fn next_gap_due(stream: &Stream) -> Option<tokio::time::Instant> {
    stream
        .drivers
        .values()
        .filter_map(|d| d.gap.as_ref())
        .map(|g| (g.asked + GAP_ASK_EVERY).min(g.since + GAP_WAIT))
        .min()
}

/// Gaps that are due: asked about again, or, after `GAP_WAIT`, given up on: the driver's
/// later messages are dropped unapplied, nothing more is taken under its id, and both the
/// sharer (its audit and sidebar) and the driver are told. Returns (connection, reply).
fn gaps_due(runner: &Runner, share: &Share, stream: &mut Stream) -> Vec<(u64, ReplyBody)> {
    let now = tokio::time::Instant::now();
    let mut out = Vec::new();
    for (id, d) in stream.drivers.iter_mut() {
        let Some(g) = &mut d.gap else { continue };
        if now >= g.since + GAP_WAIT {
            let dropped = d.held.len();
            d.held.clear();
            d.held_bytes = 0;
            d.gap = None;
            d.lost = true;
            let what = format!(
                "input from {} stopped: its message {} never arrived (the relay lost it), so it and {dropped} later one{} were not applied",
                d.name,
                d.applied + 1,
                if dropped == 1 { "" } else { "s" }
            );
            log(&format!("share {}: {what}", share.id));
            runner.note(share.session, what, Verdict::Lost);
            out.push((d.conn, ReplyBody { ack: Some((id.clone(), d.applied)), msg: None, gap: Some(Gap::Lost) }));
        } else if now >= g.asked + GAP_ASK_EVERY {
            g.asked = now;
            out.push((d.conn, ReplyBody { ack: Some((id.clone(), d.applied)), msg: None, gap: Some(Gap::Resend) }));
        }
    }
    out
}

/// Applies one message (its authority checked, its turn come); returns the answer if any.
/// `typed_noted`: when each driver's typing was last noted (`Stream::typed_noted`).
fn apply(
    runner: &Arc<Runner>,
    share: &Share,
    typed_noted: &mut HashMap<String, u64>,
    (from, later): (u64, &Later),
    name: &str,
    msg: ClientMsg,
) -> Option<ServerMsg> {
    let reply = |id: u64, result: Result<Reply, String>| Some(ServerMsg::Reply { id, result });
    if let ClientMsg::GetLines { id, pane, .. }
    | ClientMsg::Search { id, pane, .. }
    | ClientMsg::GetText { id, pane, .. } = msg
    {
        return match in_scope(runner, share, Some(pane)) {
            Ok(_) => super::client::answer_query(runner, Some(share.session), msg),
            Err(e) => reply(id, Err(e)),
        };
    }
    match msg {
        ClientMsg::Input { pane, events } => match in_scope(runner, share, pane) {
            Ok(pane) => {
                // A line is submitted as `teamster send` submits one; what the driver sends
                // next waits behind it.
                let changed = runner.state.lock().sessions.get(&share.session).map(|s| s.changed.subscribe());
                match changed {
                    Some(changed) => pane.type_sent(events, changed),
                    None => pane.type_events(&events),
                }
                let now = now_secs();
                let noted = typed_noted.entry(name.to_string()).or_insert(0);
                if now >= *noted + TYPED_NOTE_EVERY {
                    *noted = now;
                    runner.note(share.session, format!("{name} typed into pane {}", pane.id), Verdict::Typed);
                }
                None
            }
            Err(e) => Some(ServerMsg::Error { message: e }),
        },
        ClientMsg::Resolve { id, action, decision, .. } => {
            let result = (|| {
                if matches!(decision, crate::approval::Decision::ApproveAlways { .. }) {
                    return Err("\"always allow\" is the sharer's to give; approve this once".to_string());
                }
                pending_in_share(runner, share, action)?;
                runner.resolve(action, decision, crate::approval::DecidedBy::Teammate(name.to_string()))
            })();
            reply(id, result.map(|_| Reply::Done))
        }
        ClientMsg::Fork { id, pane } => {
            // Files and git, off the sync loop; the reply follows when it is ready.
            let made = in_scope(runner, share, Some(pane)).and_then(|p| fork_source(runner, &p));
            match made {
                Err(e) => reply(id, Err(e)),
                Ok(source) => {
                    let (later, runner) = (later.clone(), runner.clone());
                    let (session, who, pane) = (share.session, name.to_string(), pane);
                    tokio::spawn(async move {
                        let pack = tokio::task::spawn_blocking(move || {
                            source.pack().and_then(|p| serde_json::to_vec(&p).map_err(|e| e.to_string()))
                        })
                        .await;
                        let result = match pack {
                            Ok(Ok(pack)) => {
                                runner.note(
                                    session,
                                    format!("{who} forked pane {pane}'s conversation"),
                                    Verdict::Typed,
                                );
                                Ok(pack)
                            }
                            Ok(Err(e)) => Err(e),
                            Err(e) => Err(format!("the fork failed: {e}")),
                        };
                        let _ = later.send((from, id, result));
                    });
                    None
                }
            }
        }
        ClientMsg::Comment { id, on, text } => reply(id, comment(runner, share, name, on, &text).map(|()| Reply::Done)),
        ClientMsg::Command { id, command } => {
            let result = if share.pane.is_some() || command.changes_shape() {
                Err("only the sharer changes the layout; a driver may move the focus and switch tabs".to_string())
            } else {
                runner.command(share.session, command)
            };
            reply(id, result.map(|_| Reply::Done))
        }
        _ => None,
    }
}

/// The pane a viewer's message is for, if the share shows it.
fn in_scope(runner: &Runner, share: &Share, pane: Option<PaneId>) -> Result<Arc<super::pane::Pane>, String> {
    let focused = {
        let st = runner.state.lock();
        st.sessions.get(&share.session).and_then(|s| s.tabs.get(s.active)).map(|t| t.focused)
    };
    let pane = share.pane.or(pane).or(focused).ok_or("no pane to type into")?;
    if share.pane.is_some_and(|p| p != pane) {
        return Err(format!("pane {pane} is not shared"));
    }
    runner.pane(share.session, pane)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_viewer_leaves_a_few_comments_at_once_then_one_every_so_often() {
        let mut buckets = HashMap::new();
        let taken = (0..20).filter(|_| comment_allowed(&mut buckets, 7)).count();
        assert_eq!(taken, COMMENT_BURST as usize);
        assert!(comment_allowed(&mut buckets, 8), "another viewer has its own");
    }
}
