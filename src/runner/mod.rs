//! The runner: the daemon that owns every session, pane and PTY.
//!
//! Started on demand by the first `teamster` (like the tmux server), it keeps programs
//! running while no client is attached. All state lives in `State` behind one lock; each
//! change goes through one method here, which bumps the session's change counter so that
//! attached clients redraw. Pane output does not take this lock: each pane's task feeds its
//! own screen and bumps the counter itself.

mod agents;
mod approvals;
mod check;
mod client;
mod commands;
mod config_watch;
pub mod control;
pub mod daemon;
mod drive;
pub mod hooks;
mod meter;
mod pane;
mod persist;
mod pty;
pub mod race;
mod sandbox;
mod screens;
mod sessions;
pub mod share;
mod spawn;
pub mod store;
mod terminal;
pub mod worktree;

use crate::config::{Config, OnExit};
use crate::layout::{Arrangement, Direction, Layout, PaneId, Rect};
use crate::protocol::{
    AgentInfo, AlertKind, AttachTarget, Command, Context, PaneInfo, PaneState, Reply, ServerMsg, SessionView, Size,
    Spawn, TabView, TermColors, WireRow, WorktreeChoice,
};
use crate::screen::{ReportedColors, ScreenEvent};
use pane::{Pane, PaneMeta, PaneSpec};
use parking_lot::{Mutex, RwLock};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tokio::sync::{broadcast, watch};

pub type ClientId = u64;

use sessions::*;
pub use sessions::{CapHit, Moved, Placement, Session, SessionEvent, Tab};
use spawn::launch_settings;

#[derive(Default)]
pub struct State {
    pub sessions: BTreeMap<u32, Session>,
    pub panes: HashMap<PaneId, Arc<Pane>>,
    /// Which agent pane each proxy token (`/t/TOKEN/…` in its base URLs) belongs to.
    proxy_tokens: HashMap<String, PaneId>,
    /// Actions waiting for a person.
    queue: approvals::Queue,
    next_session: u32,
    next_pane: PaneId,
    next_tab: u32,
    next_client: ClientId,
}

impl State {
    /// What waits for a person, as clients show it: each by its session's name and its
    /// pane's place.
    fn pending_views(&self) -> Vec<crate::protocol::PendingView> {
        self.queue.views(|id, pane| match self.sessions.get(&id) {
            Some(s) => (s.name.clone(), s.place_of(pane)),
            None => (String::new(), None),
        })
    }

    /// A pane id never used before.
    fn new_pane_id(&mut self) -> PaneId {
        self.next_pane += 1;
        self.next_pane
    }
}

pub struct Runner {
    pub state: Mutex<State>,
    /// Programs being ended (SIGHUP, then SIGKILL): the runner waits for these before it
    /// exits, so nothing it started outlives it.
    ending: Mutex<Vec<tokio::task::JoinHandle<()>>>,
    config: RwLock<Config>,
    config_path: PathBuf,
    pub socket_path: PathBuf,
    /// Where each agent pane's own hook socket is (`ID.sock`).
    pub hooks_dir: PathBuf,
    /// Where sessions are kept to come back after a restart.
    state_file: PathBuf,
    /// Each pane's screen and scrollback, kept across restarts (`screens`), and the
    /// change generation of each pane's screen when it was last written there.
    screens_dir: PathBuf,
    screens_saved: Mutex<HashMap<String, (u64, u64)>>,
    pub shutdown: watch::Sender<bool>,
    /// Set by `teamster restart`: exit keeping the sessions on disk.
    restarting: std::sync::atomic::AtomicBool,
    /// What was last written to `state_file`.
    persisted: Mutex<String>,
    /// Spend, decisions, allowances and marks, on disk.
    store: store::Db,
    /// The config's policies, compiled; the "always allow"s people chose; prices.
    rules: RwLock<Arc<Vec<crate::policy::Rule>>>,
    allowances: Mutex<Vec<crate::policy::Allowance>>,
    prices: RwLock<crate::meter::prices::Prices>,
    /// Today (local) and what every session spent on it.
    day: Mutex<(String, f64)>,
    /// Where the metering proxy listens, once it does.
    pub proxy_port: Mutex<Option<u16>>,
    /// The proxy's HTTPS client, shared by every listener (built on first use).
    pub upstream: crate::meter::proxy::LazyClient,
    /// teamster's certificate authority for reading sandboxes' TLS to git hosts and
    /// registries, opened (made, the first time) when a sandbox first needs it.
    pub authority: std::sync::OnceLock<Result<Arc<crate::meter::ca::Authority>, String>>,
    /// The latest decisions, newest first, for the sidebar's history.
    pub history: watch::Sender<Vec<crate::protocol::RecentView>>,
    /// Sessions and panes shared by URL.
    pub shares: Mutex<Vec<Arc<share::Share>>>,
    /// Where pane tasks tell what their programs did, and its one reader (taken by
    /// `serve_pane_events`).
    pane_events: pane::PaneEvents,
    pane_events_rx: Mutex<Option<tokio::sync::mpsc::UnboundedReceiver<pane::PaneEvent>>>,
}

/// `n` random bytes as hex, from the kernel (never a silent run of zeros: keys and
/// tokens made of those would collide, and tokens would be guessable).
fn random_hex(n: usize) -> Result<String, String> {
    use ring::rand::SecureRandom;
    let mut buf = vec![0u8; n];
    ring::rand::SystemRandom::new().fill(&mut buf).map_err(|_| "the system's random source failed".to_string())?;
    Ok(buf.iter().map(|b| format!("{b:02x}")).collect())
}

pub fn now_secs() -> u64 {
    SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

pub fn log(msg: &str) {
    let t = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    eprintln!("[{t}] {msg}");
}

impl Runner {
    pub fn new(config: Config, config_path: PathBuf, socket_path: PathBuf) -> Arc<Runner> {
        let (shutdown, _) = watch::channel(false);
        let hooks_dir = socket_path.with_file_name("hooks");
        let db_path = crate::paths::state_dir().join("teamster.db");
        let store = store::Store::open(&db_path).unwrap_or_else(|e| {
            // Metering and decisions go on in memory; doctor and the log say why.
            log(&format!("{e}; spend and decisions are kept in memory until teamster restarts"));
            store::Store::in_memory()
        });
        let allowances = store.allowances();
        let (pane_events, pane_events_rx) = tokio::sync::mpsc::unbounded_channel();
        Arc::new(Runner {
            pane_events,
            pane_events_rx: Mutex::new(Some(pane_events_rx)),
            rules: RwLock::new(Arc::new(config.rules())),
            prices: RwLock::new(config.prices()),
            allowances: Mutex::new(allowances),
            store: store::Db::start(store),
            day: Mutex::new((String::new(), 0.0)),
            proxy_port: Mutex::new(None),
            upstream: Default::default(),
            authority: Default::default(),
            history: watch::Sender::new(Vec::new()),
            shares: Mutex::new(Vec::new()),
            state: Mutex::new(State::default()),
            ending: Mutex::new(Vec::new()),
            config: RwLock::new(config),
            config_path,
            socket_path,
            hooks_dir,
            state_file: crate::paths::state_dir().join("sessions.json"),
            screens_dir: crate::paths::state_dir().join("screens"),
            screens_saved: Mutex::new(HashMap::new()),
            shutdown,
            restarting: std::sync::atomic::AtomicBool::new(false),
            persisted: Mutex::new(String::new()),
        })
    }

    pub fn config(&self) -> Config {
        self.config.read().clone()
    }

    /// Re-reads the config file. On a mistake the last good config stays in force and
    /// the error is returned for the user to see.
    pub fn reload_config(&self) -> Result<(), String> {
        match Config::load(&self.config_path) {
            Ok(c) => {
                *self.rules.write() = Arc::new(c.rules());
                *self.prices.write() = c.prices();
                // A running program keeps what it was started with; its title says when a
                // restart would start it otherwise.
                let mut st = self.state.lock();
                let mut changed = Vec::new();
                for pane in st.panes.values() {
                    let mut m = pane.meta.lock();
                    let applies = launch_settings(&c, &m.spec.spawn) != m.launched_with;
                    if applies != m.restart_applies {
                        m.restart_applies = applies;
                        changed.push(pane.session);
                    }
                }
                for session in changed {
                    if let Some(s) = st.sessions.get_mut(&session) {
                        s.touch();
                    }
                }
                drop(st);
                *self.config.write() = c;
                Ok(())
            }
            Err(e) => Err(format!("config not reloaded, the last good one stays in force: {e}")),
        }
    }

    pub fn new_client_id(&self) -> ClientId {
        let mut st = self.state.lock();
        st.next_client += 1;
        st.next_client
    }

    fn reported_colors(colors: Option<TermColors>) -> ReportedColors {
        let mut c = ReportedColors::default();
        if let Some(tc) = colors {
            c.fg = tc.fg;
            c.bg = tc.bg;
            c.cursor = tc.fg;
        }
        c
    }

    // ---- sessions ----

    /// Attaches a client: to an existing session or a new one. Returns the session's id.
    pub fn attach(
        self: &Arc<Self>,
        client: ClientId,
        target: AttachTarget,
        size: Size,
        context: Context,
        colors: Option<TermColors>,
    ) -> Result<u32, String> {
        let size = Size { cols: size.cols.max(10), rows: size.rows.max(3) };
        let existing = {
            let st = self.state.lock();
            match &target {
                AttachTarget::Default => st.sessions.values().max_by_key(|s| (s.last_used, s.id)).map(|s| s.id),
                AttachTarget::Named { name, create } => match st.sessions.values().find(|s| &s.name == name) {
                    Some(s) => Some(s.id),
                    None if *create => None,
                    None => return Err(no_such_session(&st, name)),
                },
                AttachTarget::New { .. } => None,
            }
        };
        let id = match existing {
            Some(id) => id,
            None => {
                let (name, spawn) = match target {
                    AttachTarget::New { name, spawn } => (name, spawn),
                    AttachTarget::Named { name, .. } => (Some(name), None),
                    AttachTarget::Default => (None, None),
                };
                self.create_session(name, spawn, size, context, colors)?
            }
        };
        let mut st = self.state.lock();
        let s = st.sessions.get_mut(&id).ok_or("the session ended")?;
        s.clients.insert(client, size);
        if colors.is_some() {
            s.colors = colors;
        }
        s.last_used = now_secs();
        s.touch();
        drop(st);
        self.make_owner(client, id, size);
        Ok(id)
    }

    pub fn session_view(&self, st: &State, s: &Session) -> SessionView {
        let mut panes = Vec::new();
        for tab in &s.tabs {
            for p in tab.layout.panes() {
                if let Some(pane) = st.panes.get(&p) {
                    let m = pane.meta.lock();
                    panes.push(PaneInfo {
                        id: p,
                        name: m.spec.name.clone(),
                        command: m.command.clone(),
                        title: m.title.clone(),
                        state: m.state.clone(),
                        pid: Some(pane.pid),
                        size: m.size,
                        attention: m.attention,
                        agent: m.agent.map(|kind| crate::protocol::AgentView {
                            kind,
                            state: m.agent_state,
                            conversation: m.spec.conversation.clone(),
                            answers: m.answers,
                        }),
                        branch: m.spec.worktree.as_ref().map(|w| w.branch.clone()),
                        spend: m.spend,
                        spend_unknown: m.spend_unknown,
                        sandboxed: m.agent.map(|_| m.sandboxed),
                        refused: m.refused,
                        restart_applies: m.restart_applies,
                    });
                }
            }
        }
        SessionView {
            id: s.id,
            name: s.name.clone(),
            tabs: s
                .tabs
                .iter()
                .map(|t| TabView {
                    id: t.id,
                    name: t.name.clone(),
                    layout: t.layout.clone(),
                    focused: t.focused,
                    zoomed: t.zoomed,
                    synchronized: t.synchronized,
                    arrangement: t.arrangement,
                })
                .collect(),
            active_tab: s.active,
            panes,
            clients: s.clients.len() as u32,
            created: s.created,
            spend: s.spend,
            budget: self.budget(s),
            cap_hit: s.cap_hit.as_ref().map(|c| crate::protocol::CapView {
                rule: c.rule.clone(),
                reason: c.reason.clone(),
                gate: c.gate,
            }),
            watchers: self.watchers(s.id),
            shared: self.shares.lock().iter().any(|sh| sh.session == s.id),
        }
    }

    /// The next spend limit a policy acts at for this session, for the status bar.
    fn budget(&self, s: &Session) -> Option<(f64, String)> {
        let ctx = s.policy_context("", "", 0.0);
        crate::policy::next_limit(&self.rules.read(), &ctx)
    }

    pub fn list(&self) -> Vec<SessionView> {
        let st = self.state.lock();
        st.sessions.values().map(|s| self.session_view(&st, s)).collect()
    }

    /// The agents a user can start: the config's, and the built-in kinds whose CLI is
    /// installed.
    pub fn agents(&self) -> Vec<AgentInfo> {
        let _ = self.reload_config();
        let config = self.config();
        crate::agents::all(&config)
            .into_iter()
            .filter(|a| config.agents.contains_key(&a.name) || crate::paths::which(&a.binary).is_some())
            .map(|a| AgentInfo { command: a.command_line(), description: a.description.clone(), name: a.name })
            .collect()
    }

    /// Stops the runner but keeps its sessions on disk: programs end (SIGHUP, then
    /// SIGKILL), and the next runner starts them again, agents resuming their
    /// conversations. For upgrades (`teamster restart`), logout and shutdown.
    pub fn restart(self: &Arc<Self>) -> impl std::future::Future<Output = ()> + use<> {
        // Every screen as it is now, before the programs go (written off this thread).
        let screens = self.capture_screens(false);
        // What `shares.json` holds now is what the next runner resumes (see `keep_shares`).
        let keeping = self.keeping_shares();
        let st = self.state.lock();
        self.persist(&st);
        self.restarting.store(true, std::sync::atomic::Ordering::SeqCst);
        drop(keeping);
        let leaders: Vec<u32> = st.panes.values().filter(|p| p.is_running()).map(|p| p.pid).collect();
        drop(st);
        // Shares stay (kept on disk as they are): their servers tell viewers the runner is
        // restarting, and the next runner resumes them.
        let sharing = self.stop_shares(share::Stop::Restart);
        let ending = self.end_processes(leaders);
        let runner = self.clone();
        async move {
            sharing.await;
            let dir = runner.screens_dir.clone();
            let _ = tokio::task::spawn_blocking(move || screens::write_all(&dir, screens)).await;
            ending.await;
            let _ = runner.shutdown.send(true);
        }
    }

    // ---- commands from clients ----

    // ---- events from panes ----

    /// Reads what pane tasks tell (`PaneEvent`), in order, for as long as the runner lives.
    pub fn serve_pane_events(self: &Arc<Self>) {
        let Some(mut rx) = self.pane_events_rx.lock().take() else { return };
        let runner = Arc::downgrade(self);
        tokio::spawn(async move {
            while let Some(event) = rx.recv().await {
                let Some(runner) = runner.upgrade() else { return };
                match event {
                    pane::PaneEvent::Screen(pane, events) => runner.pane_events(pane, events),
                    pane::PaneEvent::Exited(pane, status) => runner.pane_exited(pane, status),
                    pane::PaneEvent::Settled(pane) => runner.run_check(pane),
                }
            }
        });
    }

    fn pane_events(&self, pane: PaneId, events: Vec<ScreenEvent>) {
        let mut st = self.state.lock();
        let Some(p) = st.panes.get(&pane).cloned() else { return };
        let Some(s) = st.sessions.get_mut(&p.session) else { return };
        let focused = s.tabs.get(s.active).is_some_and(|t| t.focused == pane);
        for ev in events {
            match ev {
                ScreenEvent::Title(t) => {
                    // Clients redraw on a change of the session; the same title again is none.
                    let mut m = p.meta.lock();
                    if m.title != t {
                        m.title = t;
                        s.touch();
                    }
                }
                ScreenEvent::Bell | ScreenEvent::Notify { .. } => {
                    let kind = match ev {
                        ScreenEvent::Notify { title, body } => AlertKind::Notify { title, body },
                        _ => AlertKind::Bell,
                    };
                    if !focused {
                        p.meta.lock().attention = true;
                        s.touch();
                    }
                    let _ = s.events.send(SessionEvent::Message(ServerMsg::Alert { pane, kind }));
                }
                ScreenEvent::Clipboard(data) => {
                    let _ = s.events.send(SessionEvent::Message(ServerMsg::Clipboard { data }));
                }
                ScreenEvent::Cwd(_) => {}
            }
        }
    }

    fn pane_exited(&self, pane: PaneId, status: Option<std::process::ExitStatus>) {
        use std::os::unix::process::ExitStatusExt;
        let mut st = self.state.lock();
        let Some(p) = st.panes.get(&pane).cloned() else { return };
        let code = status.and_then(|s| s.code());
        let signal = status.and_then(|s| s.signal());
        let close = {
            let mut m = p.meta.lock();
            m.state = PaneState::Exited { code, signal };
            if m.agent.is_some() {
                m.agent_state = crate::agents::AgentState::Exited;
            }
            match self.config.read().on_exit {
                OnExit::Keep => false,
                OnExit::Close => true,
                OnExit::Auto => m.spec.spawn == Spawn::Shell && code == Some(0),
            }
        };
        log(&format!("pane {pane} exited: code {code:?} signal {signal:?}"));
        if st.queue.deny_all_of(pane, "the agent exited") {
            self.broadcast_pending(&st);
        }
        if close {
            self.close_pane(&mut st, pane);
            self.persist(&st);
        } else if let Some(s) = st.sessions.get_mut(&p.session) {
            s.touch();
        }
    }

    // ---- queries ----
}
