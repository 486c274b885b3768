//! Sharing, as tests meet it: a real `teamster serve` process, and viewers that join over
//! real WebSockets with the same code `teamster attach` runs (`tui::remote::Remote`),
//! keeping what they were sent as a viewer's screen would show it.

use super::{Env, bin};
use std::collections::HashMap;
use std::io::BufRead;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use teamster::protocol::{ClientMsg, PendingView, ServerMsg, SessionView};
use teamster::tui::link::Link;

/// A `teamster serve` on a loopback port: its records in a SQLite file in the test's
/// directory, or, when the run asks for the other back end (`TEAMSTER_TEST_SHARE_ON=
/// postgres`, as `./scripts/test` does for its second pass), in the run's PostgreSQL with
/// NATS as its bus: the same tests, against both.
pub struct Server {
    pub child: Child,
    pub port: u16,
    pub target: Target,
}

pub use teamster::share::store::Target;

/// The PostgreSQL and NATS that `./scripts/test` started for this run; None when there are
/// none (a plain `cargo test`), which CI never allows.
pub fn scale_out() -> Option<(String, String)> {
    match (std::env::var("TEAMSTER_TEST_DATABASE"), std::env::var("TEAMSTER_TEST_BUS")) {
        (Ok(db), Ok(bus)) => Some((db, bus)),
        _ if std::env::var_os("CI").is_some() => {
            panic!(
                "CI runs every test: ./scripts/test starts PostgreSQL and NATS and names them in TEAMSTER_TEST_DATABASE and TEAMSTER_TEST_BUS"
            )
        }
        _ => None,
    }
}

impl Server {
    pub fn start(env: &Env) -> Server {
        Server::on(env, 0)
    }

    /// On `port` (0: any free one).
    pub fn on(env: &Env, port: u16) -> Server {
        Server::with(env, port, &[])
    }

    /// With more arguments for `teamster serve` (TLS), on the run's back end.
    pub fn with(env: &Env, port: u16, args: &[&str]) -> Server {
        let db = env.dir.join("server.db");
        let on_postgres = std::env::var("TEAMSTER_TEST_SHARE_ON").is_ok_and(|v| v == "postgres");
        match scale_out().filter(|_| on_postgres) {
            Some((database, bus)) => {
                let mut all = vec!["--database", &database, "--bus", &bus];
                all.extend_from_slice(args);
                Server::replica(env, "serve", port, &all, Target::Postgres(database.clone()))
            }
            None => {
                let path = db.to_string_lossy().into_owned();
                let mut all = vec!["--db", &path];
                all.extend_from_slice(args);
                Server::replica(env, "serve", port, &all, Target::Sqlite(db.clone()))
            }
        }
    }

    /// One `teamster serve` with exactly `args` (its log in NAME.log), on `target`.
    pub fn replica(env: &Env, name: &str, port: u16, args: &[&str], target: Target) -> Server {
        let mut child = Command::new(bin())
            .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .args(args)
            .env_clear()
            .envs(env.envs())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(env.dir.join(format!("{name}.log"))).expect("serve log"))
            .spawn()
            .expect("start teamster serve");
        let out = child.stdout.take().expect("stdout");
        let mut line = String::new();
        std::io::BufReader::new(out).read_line(&mut line).expect("serve prints where it listens");
        let port = line
            .split("://127.0.0.1:")
            .nth(1)
            .and_then(|rest| rest.split(' ').next())
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| {
                let log = std::fs::read_to_string(env.dir.join(format!("{name}.log"))).unwrap_or_default();
                panic!("teamster serve did not start: {line}{log}")
            });
        Server { child, port, target }
    }

    /// The arguments that name its records, for `teamster serve invite|members`.
    pub fn records_args(&self) -> Vec<String> {
        match &self.target {
            Target::Sqlite(path) => vec!["--db".into(), path.to_string_lossy().into_owned()],
            Target::Postgres(url) => vec!["--database".into(), url.clone()],
        }
    }

    /// Everything the server keeps, as text: to look for what it must never hold.
    pub async fn records_text(&self) -> String {
        match &self.target {
            Target::Sqlite(path) => {
                let mut bytes = std::fs::read(path).unwrap_or_default();
                bytes.extend(std::fs::read(path.with_extension("db-wal")).unwrap_or_default());
                String::from_utf8_lossy(&bytes).into_owned()
            }
            Target::Postgres(url) => {
                let (client, conn) =
                    tokio_postgres::connect(url, tokio_postgres::NoTls).await.expect("the test PostgreSQL");
                tokio::spawn(conn);
                let mut all = String::new();
                for table in ["shares", "audit"] {
                    let sql = format!("SELECT COALESCE(string_agg(t::text, E'\\n'), '') FROM {table} t");
                    let row = client.query_one(&sql, &[]).await.expect("read the records");
                    all += &row.get::<_, String>(0);
                }
                all
            }
        }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Over TLS, by the name its certificate holds.
    pub fn https_url(&self) -> String {
        format!("https://localhost:{}", self.port)
    }

    /// Ends it at once, as a crash would.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

/// `teamster share ... --json`: the share's id, watch link and drive link.
pub fn share(env: &Env, args: &[&str]) -> (String, String, Option<String>) {
    let mut all = vec!["share", "--json"];
    all.extend_from_slice(args);
    let v: serde_json::Value = serde_json::from_str(&env.ok(&all)).expect("share --json");
    let s = &v["shares"][0];
    (
        s["id"].as_str().unwrap_or_default().to_string(),
        s["read_url"].as_str().unwrap_or_default().to_string(),
        s["drive_url"].as_str().map(str::to_string),
    )
}

/// A viewer of a share: what it was sent, applied as a screen would be.
pub struct Viewer {
    pub link: teamster::tui::remote::Remote,
    pub session: Option<SessionView>,
    pub rows: HashMap<u32, Vec<String>>,
    pub pending: Vec<PendingView>,
    /// The sharer's recent decisions and comments, as the sidebar shows them.
    pub history: Vec<teamster::protocol::RecentView>,
    /// Errors and replies, newest last.
    pub said: Vec<String>,
    pub detached: Option<String>,
    next_id: u64,
}

impl Viewer {
    pub async fn join(url: &str, name: &str) -> Result<Viewer, String> {
        let link = teamster::tui::remote::Remote::connect(url, name.to_string()).await?;
        Ok(Viewer {
            link,
            session: None,
            rows: HashMap::new(),
            pending: Vec::new(),
            history: Vec::new(),
            said: Vec::new(),
            detached: None,
            next_id: 1,
        })
    }

    fn apply(&mut self, msg: ServerMsg) {
        match msg {
            ServerMsg::Session { session } => self.session = Some(*session),
            ServerMsg::Frame { panes } => {
                for f in panes {
                    let rows = self.rows.entry(f.pane).or_default();
                    if f.full || rows.len() != f.size.rows as usize {
                        *rows = vec![String::new(); f.size.rows as usize];
                    }
                    for (y, row) in f.rows {
                        if let Some(r) = rows.get_mut(y as usize) {
                            *r = row.text();
                        }
                    }
                }
            }
            ServerMsg::Pending { pending } => self.pending = pending,
            ServerMsg::Reply { result, .. } => self.said.push(format!("{result:?}")),
            ServerMsg::Error { message } => self.said.push(message),
            ServerMsg::History { recent } => self.history = recent,
            ServerMsg::Detached { reason } => self.detached = Some(reason.words()),
            _ => {}
        }
    }

    /// Applies what arrives until `cond` holds; panics with `what` at the deadline.
    pub async fn wait(&mut self, what: &str, cond: impl Fn(&Viewer) -> bool) {
        let deadline = Instant::now() + super::DEADLINE;
        while !cond(self) {
            let left = deadline.saturating_duration_since(Instant::now());
            match tokio::time::timeout(left, self.link.recv()).await {
                Ok(Ok(Some(msg))) => self.apply(msg),
                Ok(_) => panic!("the link closed while waiting for {what}; said: {:?}", self.said),
                Err(_) => panic!("timed out waiting for {what}; screen: {:#?}; said: {:?}", self.rows, self.said),
            }
        }
    }

    /// Applies what has arrived within `quiet` of each other (for "nothing more came").
    pub async fn drain(&mut self, quiet: Duration) {
        while let Ok(Ok(Some(msg))) = tokio::time::timeout(quiet, self.link.recv()).await {
            self.apply(msg);
        }
    }

    pub fn text(&self) -> String {
        let mut ids: Vec<&u32> = self.rows.keys().collect();
        ids.sort();
        ids.iter().map(|id| self.rows[id].join("\n")).collect::<Vec<_>>().join("\n----\n")
    }

    pub fn pane_text(&self, pane: u32) -> String {
        self.rows.get(&pane).map(|r| r.join("\n")).unwrap_or_default()
    }

    pub fn count(&self, text: &str) -> usize {
        self.text().matches(text).count()
    }

    pub async fn send(&mut self, msg: ClientMsg) {
        self.link.send(msg).await.expect("send over the link");
    }

    pub async fn type_line(&mut self, pane: u32, text: &str) {
        use teamster::input::{InputEvent, Key, KeyCode};
        let events = vec![InputEvent::Paste(text.into()), InputEvent::Key(Key::new(KeyCode::Enter, 0))];
        self.send(ClientMsg::Input { pane: Some(pane), events }).await;
    }

    pub async fn resolve(&mut self, action: u64, allow: bool) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        let decision = if allow {
            teamster::approval::Decision::ApproveOnce
        } else {
            teamster::approval::Decision::deny("not from here")
        };
        self.send(ClientMsg::Resolve { id, action, decision, via: teamster::approval::Surface::Browser }).await;
        id
    }
}

/// A pane's id by what it runs, from a viewer's session view.
pub fn pane_running(v: &Viewer, command: &str) -> Option<u32> {
    v.session.as_ref()?.panes.iter().find(|p| p.command.contains(command)).map(|p| p.id)
}

pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime")
}

/// What a hostile relay does with one of a driver's messages on its way to the runner.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fate {
    Pass,
    Drop,
    /// Held back, and sent after the next one that passes (a reordering).
    Hold,
}

/// Decides each driver message's fate from its number and how often it was seen.
pub type Rule = Box<dyn FnMut(u64, u32) -> Fate + Send>;

/// A relay between clients and the real server that speaks the wire: it cannot open what
/// is sealed, but it can drop, reorder and inject what it carries, as a hostile share
/// server (or anyone on the way) could. Runners and viewers connect to it as to a server.
pub struct Relay {
    port: u16,
    /// What happens to the driver messages it carries to runners.
    rule: std::sync::Arc<std::sync::Mutex<Rule>>,
    /// Frames to slip into the runner's connection, as if the server sent them.
    inject: std::sync::Arc<std::sync::Mutex<Option<tokio::sync::mpsc::UnboundedSender<String>>>>,
    /// The driver messages it carried to runners, as they came (the last one of each seq).
    pub carried: std::sync::Arc<std::sync::Mutex<HashMap<u64, teamster::share::wire::ToRunner>>>,
    /// How often each driver message came its way to runners (sent again included), by seq.
    pub seen: std::sync::Arc<std::sync::Mutex<HashMap<u64, u32>>>,
}

impl Relay {
    pub async fn start(server: String) -> Relay {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind the relay");
        let port = listener.local_addr().expect("relay address").port();
        let pass: Rule = Box::new(|_, _| Fate::Pass);
        let relay = Relay {
            port,
            rule: std::sync::Arc::new(std::sync::Mutex::new(pass)),
            inject: Default::default(),
            carried: Default::default(),
            seen: Default::default(),
        };
        let ways = Ways {
            rule: relay.rule.clone(),
            inject: relay.inject.clone(),
            carried: relay.carried.clone(),
            seen: relay.seen.clone(),
        };
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let (server, ways) = (server.clone(), ways.clone());
                tokio::spawn(async move {
                    let _ = relay_one(client, server, ways).await;
                });
            }
        });
        relay
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn set(&self, rule: impl FnMut(u64, u32) -> Fate + Send + 'static) {
        *self.rule.lock().unwrap() = Box::new(rule);
    }

    /// Sends `msg` to the runner as though the server had.
    pub fn inject(&self, msg: &teamster::share::wire::ToRunner) {
        let text = serde_json::to_string(msg).expect("JSON");
        let tx = self.inject.lock().unwrap().clone().expect("a runner is connected through the relay");
        tx.send(text).expect("the runner's connection is open");
    }
}

/// What each of a relay's connections shares with the `Relay` (see its fields).
#[derive(Clone)]
struct Ways {
    rule: std::sync::Arc<std::sync::Mutex<Rule>>,
    inject: std::sync::Arc<std::sync::Mutex<Option<tokio::sync::mpsc::UnboundedSender<String>>>>,
    carried: std::sync::Arc<std::sync::Mutex<HashMap<u64, teamster::share::wire::ToRunner>>>,
    seen: std::sync::Arc<std::sync::Mutex<HashMap<u64, u32>>>,
}

async fn relay_one(client: tokio::net::TcpStream, server: String, ways: Ways) -> Option<()> {
    let Ways { rule, inject, carried, seen } = ways;
    use futures_util::{SinkExt, StreamExt};
    use teamster::share::wire::{FromRunner, ToRunner};
    use tokio_tungstenite::tungstenite::Message;
    // Pages and scripts (plain HTTP) pass through as bytes; WebSockets are relayed by message.
    let mut head = vec![0u8; 8192];
    let n = loop {
        let n = client.peek(&mut head).await.ok()?;
        if n == 0 || head[..n].windows(4).any(|w| w == b"\r\n\r\n") || n == head.len() {
            break n;
        }
        // The rest of the request head is on its way: let it come.
        tokio::task::yield_now().await;
    };
    if !String::from_utf8_lossy(&head[..n]).to_ascii_lowercase().contains("upgrade: websocket") {
        let mut client = client;
        let addr = server.trim_start_matches("http://");
        let mut upstream = tokio::net::TcpStream::connect(addr).await.ok()?;
        let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
        return Some(());
    }
    let config = tokio_tungstenite::tungstenite::protocol::WebSocketConfig::default()
        .max_message_size(Some(teamster::share::wire::MAX_RUNNER_MSG))
        .max_frame_size(Some(teamster::share::wire::MAX_RUNNER_MSG));
    let mut down = tokio_tungstenite::accept_async_with_config(client, Some(config)).await.ok()?;
    let first = match down.next().await? {
        Ok(Message::Text(t)) => t,
        _ => return None,
    };
    let mut up = teamster::share::connect(&server).await.ok()?;
    up.send(Message::Text(first.clone())).await.ok()?;
    let runner = matches!(serde_json::from_str::<FromRunner>(&first), Ok(FromRunner::Runner { .. }));
    let (tx, mut injected) = tokio::sync::mpsc::unbounded_channel();
    if runner {
        *inject.lock().unwrap() = Some(tx);
    }
    let mut held = Vec::new();
    loop {
        tokio::select! {
            m = down.next() => up.send(m?.ok()?).await.ok()?,
            m = up.next() => {
                let m = m?.ok()?;
                let seq = match &m {
                    Message::Text(t) if runner => match serde_json::from_str::<ToRunner>(t) {
                        Ok(msg @ ToRunner::Msg { drive: Some(_), .. }) => {
                            let seq = match &msg { ToRunner::Msg { drive: Some(a), .. } => a.seq, _ => 0 };
                            carried.lock().unwrap().insert(seq, msg);
                            Some(seq)
                        }
                        _ => None,
                    },
                    _ => None,
                };
                let fate = match seq {
                    Some(seq) => {
                        let n = {
                            let mut seen = seen.lock().unwrap();
                            let n = seen.entry(seq).or_insert(0);
                            *n += 1;
                            *n
                        };
                        (rule.lock().unwrap())(seq, n)
                    }
                    None => Fate::Pass,
                };
                match fate {
                    Fate::Pass => {
                        down.send(m).await.ok()?;
                        if seq.is_some() {
                            for h in held.drain(..) {
                                down.send(h).await.ok()?;
                            }
                        }
                    }
                    Fate::Drop => {}
                    Fate::Hold => held.push(m),
                }
            }
            Some(text) = injected.recv() => down.send(Message::text(text)).await.ok()?,
        }
    }
}

/// A plain TCP load balancer in front of replicas, as a team would put one (haproxy, a
/// cloud's): each new connection goes to the preferred replica, or to the next one that
/// answers when it is down. It knows nothing of what it carries.
pub struct Balancer {
    pub port: u16,
    prefer: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl Balancer {
    /// In front of the replicas on `backends`; call it on a runtime.
    pub async fn start(backends: Vec<u16>) -> Balancer {
        use std::sync::atomic::Ordering;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("balancer listens");
        let port = listener.local_addr().expect("its port").port();
        let prefer = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let chosen = prefer.clone();
        let task = tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                let first = chosen.load(Ordering::Relaxed);
                let order: Vec<u16> = (0..backends.len()).map(|i| backends[(first + i) % backends.len()]).collect();
                tokio::spawn(async move {
                    for port in order {
                        if let Ok(mut backend) = tokio::net::TcpStream::connect(("127.0.0.1", port)).await {
                            let _ = backend.set_nodelay(true);
                            let _ = client.set_nodelay(true);
                            let _ = tokio::io::copy_bidirectional(&mut client, &mut backend).await;
                            return;
                        }
                    }
                });
            }
        });
        Balancer { port, prefer, task }
    }

    /// New connections go to backend `i` first.
    pub fn prefer(&self, i: usize) {
        self.prefer.store(i, std::sync::atomic::Ordering::Relaxed);
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for Balancer {
    fn drop(&mut self) {
        self.task.abort();
    }
}
