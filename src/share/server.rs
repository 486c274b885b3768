//! `teamster serve`: the share server. It serves the web UI, checks who may join a share,
//! and relays sealed updates from a runner to its viewers and sealed actions back. It never
//! holds a key: it cannot read a session, and a driver's actions are checked by the runner.
//!
//! Per share it keeps, in memory, the latest snapshot and the updates after it (the
//! runner sends a fresh snapshot every few megabytes), so a viewer that reconnects resumes
//! from its last update and a slow viewer is sent the snapshot instead of a backlog. After
//! a restart the runner sends it again. On disk (`store`) it keeps only the share records
//! and its audit.

use super::crypto::{same, token_hash};
use super::store::{AuditEvent, ShareRecord, ShareStore};
use super::wire::{FromRunner, FromViewer, Kind, MAX_RUNNER_MSG, MAX_VIEWER_MSG, Register, Role, ToRunner, ToViewer};
use futures_util::{SinkExt, StreamExt};
use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use parking_lot::Mutex;
use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::{broadcast, mpsc};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};

const INDEX_HTML: &str = include_str!("../../web/index.html");
const APP_JS: &str = include_str!("../../web/app.js");

/// Updates a viewer may fall behind by before it is sent a snapshot instead.
const VIEWER_LAG: usize = 256;
/// A viewer's messages: a burst of this many, then this many a second.
const RATE_BURST: f64 = 200.0;
const RATE_PER_SEC: f64 = 100.0;
/// Messages dropped for flooding before the viewer is cut off.
const FLOOD_LIMIT: u32 = 2000;
/// Failed joins from one address in a minute before it is turned away for the minute.
const FAILED_JOINS: u32 = 20;
/// How long a new connection has to say who it is.
const HELLO_TIMEOUT: Duration = Duration::from_secs(10);

fn now_secs() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

fn log(msg: &str) {
    eprintln!("[teamster serve {}] {msg}", crate::runner::store::local_time(now_secs()));
}

#[derive(Clone)]
struct Update {
    seq: u64,
    /// The runner's message as it came: every viewer is sent the same bytes, uncopied.
    text: Utf8Bytes,
}

/// What goes to one viewer besides the updates everyone gets.
enum ToOne {
    Text(String),
    /// The connection ends, with this reason.
    Cut(String),
}

struct Viewer {
    role: Role,
    name: String,
    out: mpsc::UnboundedSender<ToOne>,
}

#[derive(Default)]
struct HubState {
    /// The latest snapshot and the updates after it.
    buffer: VecDeque<Update>,
    runner: Option<(u64, mpsc::UnboundedSender<ToOne>)>,
    viewers: HashMap<u64, Viewer>,
}

impl HubState {
    fn have(&self) -> u64 {
        self.buffer.back().map_or(0, |u| u.seq)
    }

    /// What a viewer that applied up to `resume` needs: the updates after it if they are
    /// all here, else the snapshot and everything after.
    fn catch_up(&self, resume: Option<u64>) -> Vec<Update> {
        let first = self.buffer.front().map_or(0, |u| u.seq);
        match resume {
            Some(n) if n >= first => self.buffer.iter().filter(|u| u.seq > n).cloned().collect(),
            _ => self.buffer.iter().cloned().collect(),
        }
    }

    fn tell_runner(&self, msg: &ToRunner) {
        if let (Some((_, tx)), Ok(text)) = (&self.runner, serde_json::to_string(msg)) {
            let _ = tx.send(ToOne::Text(text));
        }
    }

    fn tell_viewers(&self, msg: &ToViewer) {
        if let Ok(text) = serde_json::to_string(msg) {
            for v in self.viewers.values() {
                let _ = v.out.send(ToOne::Text(text.clone()));
            }
        }
    }
}

struct Hub {
    state: Mutex<HubState>,
    updates: broadcast::Sender<Update>,
}

pub struct Server {
    store: Mutex<Box<dyn ShareStore>>,
    hubs: Mutex<HashMap<String, Arc<Hub>>>,
    next_conn: AtomicU64,
    failed_joins: Mutex<HashMap<IpAddr, (Instant, u32)>>,
}

impl Server {
    pub fn new(store: Box<dyn ShareStore>) -> Arc<Server> {
        Arc::new(Server {
            store: Mutex::new(store),
            hubs: Mutex::new(HashMap::new()),
            next_conn: AtomicU64::new(1),
            failed_joins: Mutex::new(HashMap::new()),
        })
    }

    fn hub(&self, share: &str) -> Arc<Hub> {
        self.hubs
            .lock()
            .entry(share.to_string())
            .or_insert_with(|| {
                Arc::new(Hub { state: Mutex::new(HubState::default()), updates: broadcast::channel(VIEWER_LAG).0 })
            })
            .clone()
    }

    fn audit(&self, share: &str, conn: u64, who: &str, role: &str, event: &str, detail: &str) {
        let e = AuditEvent {
            ts: now_secs(),
            share: share.into(),
            conn,
            who: who.into(),
            role: role.into(),
            event: event.into(),
            detail: detail.into(),
        };
        if let Err(e) = self.store.lock().audit(&e) {
            log(&e);
        }
    }

    fn record(&self, share: &str) -> Result<Option<ShareRecord>, String> {
        self.store.lock().share(share)
    }

    /// Whether `ip` has failed to join too often lately; counts this failure if `failed`.
    fn too_many_failures(&self, ip: IpAddr, failed: bool) -> bool {
        let mut map = self.failed_joins.lock();
        let now = Instant::now();
        map.retain(|_, (since, _)| now.duration_since(*since) < Duration::from_secs(60));
        let entry = map.entry(ip).or_insert((now, 0));
        if failed {
            entry.1 += 1;
        }
        entry.1 > FAILED_JOINS
    }

    /// Cuts everyone off a share and forgets its updates.
    fn close_hub(&self, share: &str, reason: &str) {
        if let Some(hub) = self.hubs.lock().remove(share) {
            let st = hub.state.lock();
            for v in st.viewers.values() {
                let _ = v.out.send(ToOne::Cut(reason.to_string()));
            }
            if let Some((_, tx)) = &st.runner {
                let _ = tx.send(ToOne::Cut(reason.to_string()));
            }
        }
    }
}

/// Why a share cannot be used now, if it cannot.
fn unusable(rec: &ShareRecord) -> Option<String> {
    if rec.revoked.is_some() {
        return Some(
            "this share was stopped by the person who shared it (`teamster unshare`); ask them for a new link".into(),
        );
    }
    if rec.expires.is_some_and(|e| e <= now_secs()) {
        return Some("this share link has expired; ask for a new one".into());
    }
    None
}

pub struct Options {
    pub listen: SocketAddr,
    pub tls: Option<(std::path::PathBuf, std::path::PathBuf)>,
    pub insecure: bool,
    pub db: std::path::PathBuf,
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
    if let Some(dir) = opts.db.parent() {
        std::fs::create_dir_all(dir).map_err(|e| anyhow::anyhow!("cannot create {}: {e}", dir.display()))?;
    }
    let store = super::store::Sqlite::open(&opts.db).map_err(anyhow::Error::msg)?;
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
    let scheme = if tls.is_some() { "https" } else { "http" };
    // One line, and no complaint if nobody reads it (started in the background).
    use std::io::Write;
    let _ = writeln!(
        std::io::stdout(),
        "teamster share server on {scheme}://{} (records in {})",
        listener.local_addr()?,
        opts.db.display()
    );
    let _ = std::io::stdout().flush();
    run(listener, tls, Server::new(Box::new(store))).await;
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
        async move { Ok::<_, std::convert::Infallible>(route(req, peer, server)) }
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

fn route(mut req: Request<Incoming>, peer: SocketAddr, server: Arc<Server>) -> Response<Full<Bytes>> {
    let path = req.uri().path().to_string();
    match path.as_str() {
        "/ws" => upgrade(&mut req, peer, server),
        "/app.js" => page(StatusCode::OK, "text/javascript; charset=utf-8", APP_JS),
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

async fn runner(
    mut ws: Ws,
    peer: SocketAddr,
    server: Arc<Server>,
    share: String,
    token: String,
    register: Option<Register>,
) {
    let conn = server.next_conn.fetch_add(1, Ordering::Relaxed);
    let hash = token_hash(&token);
    let checked = match server.record(&share) {
        Err(e) => Err(format!("the server could not read its records: {e}")),
        Ok(Some(rec)) if !same(rec.runner_hash.as_bytes(), hash.as_bytes()) => {
            Err("this share belongs to another runner (wrong runner token)".to_string())
        }
        Ok(Some(rec)) => unusable(&rec).map_or(Ok(()), Err),
        Ok(None) => match register {
            Some(reg) if share.len() >= 22 && reg.read.len() == 64 => {
                let rec = ShareRecord {
                    id: share.clone(),
                    runner_hash: hash,
                    read_hash: reg.read,
                    drive_hash: reg.drive,
                    created: now_secs(),
                    expires: reg.expires,
                    revoked: None,
                };
                server.store.lock().create(&rec)
            }
            _ => Err("no such share on this server".to_string()),
        },
    };
    if let Err(reason) = checked {
        log(&format!("{peer}: runner for share {share} refused: {reason}"));
        server.audit(&share, conn, "runner", "runner", "refused", &reason);
        if let Ok(text) = serde_json::to_string(&ToRunner::Refused { reason }) {
            let _ = say(&mut ws, text).await;
        }
        return;
    }
    let hub = server.hub(&share);
    let (tx, mut rx) = mpsc::unbounded_channel();
    let welcome = {
        let mut st = hub.state.lock();
        if let Some((_, old)) = st.runner.replace((conn, tx)) {
            let _ = old.send(ToOne::Cut("another connection of the same runner took over".into()));
        }
        // Who is watching already, so the sharer's list is right after a reconnect.
        for (c, v) in &st.viewers {
            st.tell_runner(&ToRunner::Joined { conn: *c, role: v.role, name: v.name.clone() });
        }
        st.tell_viewers(&ToViewer::Status { runner: true });
        ToRunner::Welcome { have: st.have() }
    };
    server.audit(&share, conn, "runner", "runner", "connected", &peer.to_string());
    if let Ok(text) = serde_json::to_string(&welcome)
        && !say(&mut ws, text).await
    {
        return;
    }
    loop {
        tokio::select! {
            out = rx.recv() => match out {
                Some(ToOne::Text(text)) => if !say(&mut ws, text).await { break },
                Some(ToOne::Cut(reason)) => {
                    if let Ok(text) = serde_json::to_string(&ToRunner::Refused { reason }) {
                        let _ = say(&mut ws, text).await;
                    }
                    break;
                }
                None => break,
            },
            msg = ws.next() => {
                let text = match msg {
                    Some(Ok(Message::Text(t))) => t,
                    Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break,
                    Some(Ok(_)) => continue,
                };
                if let Ok(UpdateHead { t: "update", seq, snap }) = serde_json::from_str::<UpdateHead>(&text) {
                    let mut st = hub.state.lock();
                    if seq <= st.have() {
                        continue; // sent again after a reconnect: the server has it
                    }
                    if snap {
                        st.buffer.clear();
                    }
                    let update = Update { seq, text };
                    st.buffer.push_back(update.clone());
                    let _ = hub.updates.send(update);
                    continue;
                }
                match serde_json::from_str::<FromRunner>(&text) {
                    Ok(FromRunner::Update { .. }) => log(&format!("{peer}: runner sent a malformed update")),
                    Ok(FromRunner::Reply { to, c }) => {
                        let st = hub.state.lock();
                        if let (Some(v), Ok(text)) = (st.viewers.get(&to), serde_json::to_string(&ToViewer::Reply { c })) {
                            let _ = v.out.send(ToOne::Text(text));
                        }
                    }
                    Ok(FromRunner::Revoke) => {
                        if let Err(e) = server.store.lock().revoke(&share, now_secs()) {
                            log(&e);
                        }
                        server.audit(&share, conn, "runner", "runner", "revoked", "");
                        server.close_hub(&share, "the person who shared this session stopped sharing it");
                        let _ = ws.close(None).await;
                        return;
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
        st.tell_viewers(&ToViewer::Status { runner: false });
    }
}

/// A viewer's messages: a token bucket (a burst, then a steady rate), and what was dropped.
struct Limit {
    tokens: f64,
    at: Instant,
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
    fn admit(&mut self) -> Admit {
        let now = Instant::now();
        self.tokens = (self.tokens + now.duration_since(self.at).as_secs_f64() * RATE_PER_SEC).min(RATE_BURST);
        self.at = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            return Admit::Take;
        }
        self.dropped += 1;
        if self.dropped > FLOOD_LIMIT {
            return Admit::CutOff;
        }
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
    let conn = server.next_conn.fetch_add(1, Ordering::Relaxed);
    let name: String = name.chars().filter(|c| !c.is_control()).take(40).collect();
    let name = if name.trim().is_empty() { format!("viewer {conn}") } else { name };
    if server.too_many_failures(peer.ip(), false) {
        return refuse(&mut ws, "too many failed attempts from this address; try again in a minute").await;
    }
    let hash = token_hash(&token);
    let checked = match server.record(&share) {
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
                (Some(_), None) => Ok(rec.expires),
            }
        }
    };
    let expires = match checked {
        Ok(e) => e,
        Err(reason) => {
            server.too_many_failures(peer.ip(), true);
            log(&format!("{peer}: {} for share {share} refused: {reason}", role.word()));
            server.audit(&share, conn, &name, role.word(), "refused", &reason);
            return refuse(&mut ws, &reason).await;
        }
    };
    let hub = server.hub(&share);
    let (tx, mut rx) = mpsc::unbounded_channel();
    let (mut updates, backlog, runner_here) = {
        let mut st = hub.state.lock();
        st.viewers.insert(conn, Viewer { role, name: name.clone(), out: tx });
        st.tell_runner(&ToRunner::Joined { conn, role, name: name.clone() });
        (hub.updates.subscribe(), st.catch_up(resume), st.runner.is_some())
    };
    server.audit(&share, conn, &name, role.word(), "joined", &peer.ip().to_string());
    let mut last = resume.unwrap_or(0);
    let joined = serde_json::to_string(&ToViewer::Joined { role, runner: runner_here }).unwrap_or_default();
    let mut open = say(&mut ws, joined).await && send_updates(&mut ws, backlog, &mut last).await;
    let mut limit = Limit { tokens: RATE_BURST, at: Instant::now(), dropped: 0, warned: None };
    let mut typed = 0u64;
    let expiry = expires.map(|e| e.saturating_sub(now_secs()));
    let expire_at = tokio::time::Instant::now() + Duration::from_secs(expiry.unwrap_or(0));
    let audit = |event: &str, detail: &str| server.audit(&share, conn, &name, role.word(), event, detail);
    while open {
        open = tokio::select! {
            u = updates.recv() => match u {
                Ok(u) => send_updates(&mut ws, [u], &mut last).await,
                // Too slow for the stream: the latest snapshot and what followed it, not
                // the backlog it missed.
                Err(broadcast::error::RecvError::Lagged(_)) => {
                    let catch_up = hub.state.lock().catch_up(None);
                    send_updates(&mut ws, catch_up, &mut last).await
                }
                Err(broadcast::error::RecvError::Closed) => false,
            },
            out = rx.recv() => match out {
                Some(ToOne::Text(text)) => say(&mut ws, text).await,
                Some(ToOne::Cut(reason)) => { refuse(&mut ws, &reason).await; false }
                None => false,
            },
            _ = tokio::time::sleep_until(expire_at), if expiry.is_some() => {
                refuse(&mut ws, "this share link has expired; ask for a new one").await;
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
                            hub.state.lock().tell_runner(&ToRunner::Msg { from: conn, role, name: name.clone(), kind, c, drive });
                            true
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

/// Sends the updates after `last`, moving it on; false when the viewer is gone.
async fn send_updates(ws: &mut Ws, updates: impl IntoIterator<Item = Update>, last: &mut u64) -> bool {
    for u in updates {
        if u.seq <= *last {
            continue;
        }
        if !say(ws, u.text).await {
            return false;
        }
        *last = u.seq;
    }
    true
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

    fn update(seq: u64) -> Update {
        Update { seq, text: Utf8Bytes::from_static("") }
    }

    #[test]
    fn a_viewer_resumes_after_its_last_update_or_from_the_snapshot() {
        let mut st = HubState::default();
        for seq in [5, 6, 7] {
            st.buffer.push_back(update(seq));
        }
        let seqs = |v: Vec<Update>| v.iter().map(|u| u.seq).collect::<Vec<_>>();
        assert_eq!(seqs(st.catch_up(Some(6))), vec![7]);
        assert_eq!(seqs(st.catch_up(Some(7))), Vec::<u64>::new());
        assert_eq!(seqs(st.catch_up(Some(2))), vec![5, 6, 7], "too old: from the snapshot");
        assert_eq!(seqs(st.catch_up(None)), vec![5, 6, 7]);
        assert_eq!(st.have(), 7);
    }

    #[test]
    fn the_rate_limit_allows_a_burst_then_refuses_then_cuts_off() {
        let mut r = Limit { tokens: RATE_BURST, at: Instant::now(), dropped: 0, warned: None };
        let admitted: Vec<Admit> = (0..1000).map(|_| r.admit()).collect();
        let taken = admitted.iter().filter(|a| matches!(a, Admit::Take)).count();
        assert!((200..260).contains(&taken), "{taken}");
        let warned = admitted.iter().filter(|a| matches!(a, Admit::Drop { warn: true })).count();
        assert_eq!(warned, 1, "one warning a second");
        let cut = (0..FLOOD_LIMIT).map(|_| r.admit()).any(|a| matches!(a, Admit::CutOff));
        assert!(cut, "a flood is cut off");
    }
}
