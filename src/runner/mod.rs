//! The runner: the daemon that owns every session, pane and PTY.
//!
//! Started on demand by the first `teamster` (like the tmux server), it keeps programs
//! running while no client is attached. All state lives in `State` behind one lock; each
//! change goes through one method here, which bumps the session's change counter so that
//! attached clients redraw. Pane output does not take this lock: each pane's task feeds its
//! own screen and bumps the counter itself.

mod agents;
mod client;
mod config_watch;
pub mod control;
pub mod daemon;
pub mod hooks;
mod meter;
mod pane;
mod persist;
mod pty;
mod sandbox;
mod screens;
pub mod share;
pub mod store;
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

/// Things a session tells its attached clients besides screen changes.
#[derive(Clone, Debug)]
pub enum SessionEvent {
    Message(ServerMsg),
    Ended(String),
}

pub struct Tab {
    pub id: u32,
    pub name: String,
    pub layout: Layout,
    pub focused: PaneId,
    pub zoomed: Option<PaneId>,
    /// Panes by when they were last focused, newest first.
    pub recent: Vec<PaneId>,
    /// Typing goes to every pane of the tab (tmux's `synchronize-panes`).
    pub synchronized: bool,
    /// The arrangement last chosen, for cycling to the next.
    pub arrangement: Option<Arrangement>,
}

impl Tab {
    pub fn new(id: u32, name: String, layout: Layout, focused: PaneId) -> Tab {
        Tab { id, name, layout, focused, zoomed: None, recent: vec![focused], synchronized: false, arrangement: None }
    }

    /// Arranges the panes (in their order) as `how`.
    fn arrange(&mut self, how: Arrangement, area: Rect) {
        self.layout = Layout::arranged(how, &self.layout.panes(), area);
        self.arrangement = Some(how);
        self.zoomed = None;
    }
}

pub struct Session {
    pub id: u32,
    pub name: String,
    /// Stable across restarts; spend and marks are kept under it.
    pub key: String,
    pub tabs: Vec<Tab>,
    pub active: usize,
    /// The area panes are laid out in: the size of the client that last typed or resized.
    pub size: Size,
    pub owner: Option<ClientId>,
    pub clients: BTreeMap<ClientId, Size>,
    /// Where and with what environment the session was created; new panes inherit it.
    pub context: Context,
    pub colors: Option<TermColors>,
    /// Bumped on every change, structure or content; attached clients wait on it.
    pub changed: watch::Sender<u64>,
    /// Bumped on changes to the session's shape (tabs, layout, titles, states).
    pub version: u64,
    pub events: broadcast::Sender<SessionEvent>,
    pub created: u64,
    pub last_used: u64,
    /// Dollars its agents have spent (kept in the state database), and its policy marks.
    pub spend: f64,
    pub marks: crate::policy::Marks,
    /// The spend cap that refused its agents' model calls last, and why; until a model
    /// call goes out again.
    pub cap_hit: Option<CapHit>,
    /// Hosts (`host:port`) its agents were let contact: a policy on `first_contact` asks
    /// about the others.
    pub contacted: std::collections::HashSet<String>,
}

/// A spend cap that stopped a session's agents: the rule, and what it said.
#[derive(Clone, Debug, PartialEq)]
pub struct CapHit {
    pub rule: Option<String>,
    pub reason: String,
}

impl Session {
    /// Where a pane is, as every command names it: `SESSION:TAB.PANE`.
    pub(super) fn place_of(&self, pane: PaneId) -> Option<String> {
        crate::protocol::place_in(&self.name, self.tabs.iter().map(|t| &t.layout), pane)
    }

    fn area(&self) -> Rect {
        Rect::new(0, 0, self.size.cols, self.size.rows)
    }

    /// What policies test about this session, for an event of `agent` (of `kind`).
    pub(super) fn policy_context(&self, agent: &str, kind: &str, day_spend: f64) -> crate::policy::Context {
        crate::policy::Context {
            agent: agent.to_string(),
            kind: kind.to_string(),
            session_spend: self.spend,
            day_spend,
            marks: self.marks.clone(),
            now: now_secs(),
        }
    }

    fn touch(&mut self) {
        self.version += 1;
        self.changed.send_modify(|v| *v = v.wrapping_add(1));
    }

    fn tab_of(&self, pane: PaneId) -> Option<usize> {
        self.tabs.iter().position(|t| t.layout.contains(pane))
    }

    /// Takes `pane` out of its tab's layout, closing the tab if it was the last pane
    /// there; the tab's focus goes to the pane focused before it.
    fn take_out(&mut self, pane: PaneId) -> TakenOut {
        let Some(ti) = self.tab_of(pane) else { return TakenOut::NotHere };
        let tab = &mut self.tabs[ti];
        if tab.zoomed == Some(pane) {
            tab.zoomed = None;
        }
        if !tab.layout.remove(pane) {
            self.tabs.remove(ti);
            if self.tabs.is_empty() {
                return TakenOut::SessionEmpty;
            }
            if self.active >= ti && self.active > 0 {
                self.active -= 1;
            }
            self.touch();
            return TakenOut::TabClosed;
        }
        tab.recent.retain(|q| *q != pane);
        if tab.focused == pane {
            let next = tab.recent.first().copied().filter(|q| tab.layout.contains(*q));
            tab.focused = next.unwrap_or_else(|| tab.layout.panes()[0]);
        }
        TakenOut::Kept
    }

    /// Exchanges the places of two of this session's panes, in one tab or across two;
    /// each tab keeps its focus on the place it had (tmux's `swap-pane`).
    fn swap_panes(&mut self, a: PaneId, b: PaneId) -> Result<(), String> {
        let ta = self.tab_of(a).ok_or_else(|| format!("no pane {a} in session {}", self.name))?;
        let tb = self.tab_of(b).ok_or_else(|| format!("no pane {b} in session {}", self.name))?;
        if a == b {
            return Err("a pane cannot swap with itself; name two panes".into());
        }
        if ta == tb {
            self.tabs[ta].layout.swap(a, b);
            return Ok(());
        }
        for (ti, from, to) in [(ta, a, b), (tb, b, a)] {
            let tab = &mut self.tabs[ti];
            tab.layout.replace(from, to);
            tab.zoomed = None;
            if tab.focused == from {
                tab.focused = to;
            }
            for p in tab.recent.iter_mut().filter(|p| **p == from) {
                *p = to;
            }
        }
        Ok(())
    }

    /// Moves `pane` into tab `to` (0-based), beside that tab's focused pane (or the tab
    /// tiled when there is no room beside it), or into a new tab of its own (`None`, with
    /// id `new_tab`); the pane is focused where it lands.
    fn move_pane(&mut self, pane: PaneId, to: Option<usize>, new_tab: u32) -> Result<(), String> {
        let from = self.tab_of(pane).ok_or_else(|| format!("no pane {pane} in session {}", self.name))?;
        let area = self.area();
        let placed = match to {
            None if self.tabs[from].layout.panes().len() == 1 => {
                return Err("the pane is alone in its tab already".into());
            }
            None => None,
            Some(t) if t >= self.tabs.len() => {
                return Err(format!("no tab {} in session {}; it has {}", t + 1, self.name, self.tabs.len()));
            }
            Some(t) if t == from => return Err(format!("pane {pane} is in tab {} already", t + 1)),
            Some(t) => {
                let target = &self.tabs[t];
                Some((target.id, place_beside(&target.layout, target.focused, pane, area)?))
            }
        };
        match self.take_out(pane) {
            TakenOut::Kept | TakenOut::TabClosed => {}
            // Not reached: a pane alone in the session has no other tab to go to.
            TakenOut::SessionEmpty | TakenOut::NotHere => return Err("the pane has no tab".into()),
        }
        match placed {
            Some((tab_id, layout)) => {
                let ti = self.tabs.iter().position(|t| t.id == tab_id).ok_or("the tab has just gone")?;
                let tab = &mut self.tabs[ti];
                tab.layout = layout;
                tab.zoomed = None;
                tab.focused = pane;
                tab.recent.insert(0, pane);
                self.active = ti;
            }
            None => {
                self.tabs.push(Tab::new(new_tab, String::new(), Layout::Pane(pane), pane));
                self.active = self.tabs.len() - 1;
            }
        }
        Ok(())
    }
}

/// What taking a pane out of its tab left.
#[derive(Debug, PartialEq, Eq)]
enum TakenOut {
    /// The tab, with its other panes.
    Kept,
    /// Nothing: the tab closed.
    TabClosed,
    /// Nothing at all: it was the session's last pane.
    SessionEmpty,
    NotHere,
}

/// `layout` with `new` beside `target`, along `target`'s longer side, while every pane
/// stays usable; past that, the whole tab tiled.
fn place_beside(layout: &Layout, target: PaneId, new: PaneId, area: Rect) -> Result<Layout, String> {
    let dir = auto_direction(layout.rect_of(target, area).unwrap_or(area));
    let mut split = layout.clone();
    if split.split(target, new, dir, area).is_ok() {
        let (w, h) = split.smallest(area);
        if w >= USABLE.0 && h >= USABLE.1 {
            return Ok(split);
        }
    }
    let mut panes = layout.panes();
    panes.push(new);
    let tiled = Layout::tiled(&panes, area);
    let (w, h) = tiled.smallest(area);
    if w < crate::layout::MIN_SIZE * 2 || h < crate::layout::MIN_SIZE * 2 {
        return Err("the tab has no room for another pane; open it in a new tab (--tab)".into());
    }
    Ok(tiled)
}

#[derive(Default)]
pub struct State {
    pub sessions: BTreeMap<u32, Session>,
    pub panes: HashMap<PaneId, Arc<Pane>>,
    /// Which agent pane each proxy token (`/t/TOKEN/…` in its base URLs) belongs to.
    proxy_tokens: HashMap<String, PaneId>,
    /// Actions waiting for a verdict, by id (oldest first).
    pending: BTreeMap<u64, control::Pending>,
    next_pending: u64,
    /// Calls approved in teamster, remembered briefly to answer the agent's own dialog.
    approved: Vec<(PaneId, String, std::time::Instant)>,
    /// Answers given to model calls whose agent had given up waiting, for its retry.
    kept_answers: Vec<control::KeptAnswer>,
    next_session: u32,
    next_pane: PaneId,
    next_tab: u32,
    next_client: ClientId,
}

impl State {
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
    store: Mutex<store::Store>,
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

/// Variables that tell programs which terminal they run in. Inside a pane that terminal
/// is teamster, so the outer terminal's are removed.
const OUTER_TERMINAL_VARS: &[&str] = &[
    "TMUX",
    "TMUX_PANE",
    "KITTY_WINDOW_ID",
    "KITTY_PID",
    "KITTY_LISTEN_ON",
    "WEZTERM_PANE",
    "WEZTERM_EXECUTABLE",
    "WEZTERM_UNIX_SOCKET",
    "ITERM_SESSION_ID",
    "TERM_SESSION_ID",
    "VTE_VERSION",
    "WT_SESSION",
    "ALACRITTY_WINDOW_ID",
    "ALACRITTY_SOCKET",
    "GHOSTTY_RESOURCES_DIR",
    "KONSOLE_VERSION",
    "ZELLIJ",
    "ZELLIJ_SESSION_NAME",
    "ZELLIJ_PANE_ID",
];

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
        Arc::new(Runner {
            rules: RwLock::new(Arc::new(config.rules())),
            prices: RwLock::new(config.prices()),
            allowances: Mutex::new(allowances),
            store: Mutex::new(store),
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

    /// A session with no client attached; returns its first pane and its name.
    pub fn new_session(
        self: &Arc<Self>,
        name: Option<String>,
        spawn: Option<Spawn>,
        size: Size,
        context: Context,
    ) -> Result<(PaneId, String), String> {
        let size = Size { cols: size.cols.max(10), rows: size.rows.max(3) };
        let id = self.create_session(name, spawn, size, context, None)?;
        let st = self.state.lock();
        let s = session_ref(&st, id)?;
        let pane = s.tabs.first().map(|t| t.focused).ok_or("the session has no panes")?;
        Ok((pane, s.name.clone()))
    }

    fn create_session(
        self: &Arc<Self>,
        name: Option<String>,
        spawn: Option<Spawn>,
        size: Size,
        context: Context,
        colors: Option<TermColors>,
    ) -> Result<u32, String> {
        let config = self.config();
        let spawns: Vec<Spawn> = match spawn {
            Some(s) => vec![s],
            None if config.start.is_empty() => vec![Spawn::Shell],
            None => config
                .start
                .iter()
                .map(|n| if n == "shell" { Spawn::Shell } else { Spawn::Agent { name: n.clone() } })
                .collect(),
        };
        let mut st = self.state.lock();
        if let Some(n) = &name
            && st.sessions.values().any(|s| &s.name == n)
        {
            return Err(format!("a session named `{n}` already exists; attach to it with `teamster attach -t {n}`"));
        }
        let id = self.insert_session(&mut st, name, random_hex(8)?, size, context, colors);
        st.next_tab += 1;
        let tab_id = st.next_tab;
        // The first pane fills the tab; more start-up agents split it side by side.
        let mut layout: Option<Layout> = None;
        let mut first_error = None;
        for spawn in &spawns {
            let pane_id = st.new_pane_id();
            let area = Rect::new(0, 0, size.cols, size.rows);
            let mut candidate = layout.clone().unwrap_or(Layout::Pane(pane_id));
            if let Some(l) = &layout {
                let last = *l.panes().last().unwrap_or(&0);
                if candidate.split(last, pane_id, Direction::Right, area).is_err() {
                    continue;
                }
            }
            let inner = pane_size(&candidate, pane_id, area);
            let started = self
                .spec_for(&st, id, spawn, None, None)
                .and_then(|spec| self.spawn_pane(&mut st, id, pane_id, spec, inner));
            match started {
                Ok(_) => {
                    candidate.equalize();
                    layout = Some(candidate);
                }
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        let Some(layout) = layout else {
            st.sessions.remove(&id);
            return Err(first_error.unwrap_or_else(|| "nothing to start".into()));
        };
        let focused = layout.panes()[0];
        let s = st.sessions.get_mut(&id).ok_or("session vanished")?;
        s.tabs.push(Tab::new(tab_id, String::new(), layout, focused));
        self.relayout(&mut st, id);
        self.persist(&st);
        if let Some(e) = first_error {
            log(&format!("session {id}: {e}"));
        }
        Ok(id)
    }

    /// A new, empty session; the caller gives it tabs.
    fn insert_session(
        &self,
        st: &mut State,
        name: Option<String>,
        key: String,
        size: Size,
        context: Context,
        colors: Option<TermColors>,
    ) -> u32 {
        let id = st.next_session;
        st.next_session += 1;
        let name = name.unwrap_or_else(|| {
            (0..).map(|i: u32| i.to_string()).find(|n| !st.sessions.values().any(|s| &s.name == n)).unwrap_or_default()
        });
        let (changed, _) = watch::channel(0);
        let (events, _) = broadcast::channel(64);
        // A session that comes back keeps its spend and marks (by its key); a new one
        // starts at zero, even if an ended one had its name.
        let (spend, marks) = {
            let store = self.store.lock();
            (store.session_spend(&key), store.marks(&key))
        };
        st.sessions.insert(
            id,
            Session {
                id,
                key,
                spend,
                marks,
                cap_hit: None,
                contacted: Default::default(),
                name,
                tabs: Vec::new(),
                active: 0,
                size,
                owner: None,
                clients: BTreeMap::new(),
                context,
                colors,
                changed,
                version: 0,
                events,
                created: now_secs(),
                last_used: now_secs(),
            },
        );
        id
    }

    /// Where `spawn` starts in `session` (the agent's directory, the caller's, the
    /// session's), the agent's name, and the environment.
    fn place_for(
        &self,
        st: &State,
        session: u32,
        spawn: &Spawn,
        context: Option<&Context>,
    ) -> Result<(PathBuf, Option<String>, Context), String> {
        let s = session_ref(st, session)?;
        let context = context.filter(|c| !c.env.is_empty()).unwrap_or(&s.context).clone();
        let config = self.config();
        let (name, agent_cwd) = match spawn {
            Spawn::Agent { name } => {
                let agent = crate::agents::resolve(&config, name)?;
                (Some(agent.name), agent.cwd.map(|c| crate::config::expand_home(&c)))
            }
            _ => (None, None),
        };
        let home = crate::paths::home();
        let cwd = agent_cwd.or_else(|| context.cwd.clone().map(PathBuf::from)).filter(|p| p.is_dir()).unwrap_or(home);
        Ok((cwd, name, context))
    }

    /// How to start `spawn` in `session`: where (see `place_for`, or the git worktree
    /// made for it), with what environment, under which key.
    fn spec_for(
        &self,
        st: &State,
        session: u32,
        spawn: &Spawn,
        context: Option<&Context>,
        worktree: Option<worktree::Worktree>,
    ) -> Result<PaneSpec, String> {
        let (cwd, name, context) = self.place_for(st, session, spawn, context)?;
        Ok(PaneSpec {
            key: random_hex(8)?,
            spawn: spawn.clone(),
            name,
            cwd: worktree.as_ref().map_or(cwd, |w| w.path.clone()),
            worktree,
            conversation: None,
            env: context.env,
            ask_first: false,
            restored_screen: None,
        })
    }

    /// Starts a pane's program as pane `id` (from `State::new_pane_id`); the caller puts
    /// the pane in a layout.
    fn spawn_pane(
        self: &Arc<Self>,
        st: &mut State,
        session: u32,
        id: PaneId,
        spec: PaneSpec,
        size: Size,
    ) -> Result<(), String> {
        let config = self.config();
        let session_name = session_ref(st, session)?.name.clone();
        let token = random_hex(16)?;
        let home = crate::paths::home();
        let mut routes = Vec::new();
        let mut sandbox: Option<sandbox::Prepared> = None;
        let mut hook_task: Option<hooks::Listening> = None;
        let (mut holds_calls, mut notice) = (false, None::<String>);
        let mut sandboxed = false;
        let (argv, arg0, extra_env, display, agent) = match &spec.spawn {
            Spawn::Shell => {
                let shell = config.shell();
                let base = Path::new(&shell)
                    .file_name()
                    .map(|f| f.to_string_lossy().into_owned())
                    .unwrap_or_else(|| shell.clone());
                (vec![shell.clone()], Some(format!("-{base}")), Vec::new(), base, None)
            }
            Spawn::Agent { name } => {
                let agent = crate::agents::resolve(&config, name)?;
                self.admit_start(st, session, &agent.name, agent.kind.name(), &spec.key)?;
                let dir = crate::paths::state_dir().join("panes").join(&spec.key);
                let exe = std::env::current_exe().unwrap_or_else(|_| PathBuf::from("teamster"));
                sandboxed = agent.sandbox == crate::sandbox::Mode::On;
                // A sandboxed agent's only way out is the proxy, metered or not.
                let proxy = self
                    .proxy_port
                    .lock()
                    .filter(|_| config.meter || sandboxed)
                    .map(|port| format!("http://127.0.0.1:{port}/t/{token}"));
                let hook_socket = self.hooks_dir.join(format!("{id}.sock"));
                let ctx = crate::agents::LaunchContext {
                    teamster: &exe,
                    dir: &dir,
                    home: &home,
                    cwd: &spec.cwd,
                    resume: spec.conversation.as_deref(),
                    socket: &hook_socket,
                    env: &spec.env,
                    proxy: proxy.as_deref(),
                    sandboxed,
                };
                let launch = crate::agents::launch(&agent, &ctx)?;
                holds_calls = launch.holds_calls;
                notice = launch.notice.clone();
                routes = meter::classify(launch.routes.clone(), meter::RouteSource::Launch);
                launch.write()?;
                let generated: Vec<PathBuf> = launch.files.iter().map(|(p, _)| p.clone()).collect();
                let display = agent.command_line();
                let mut env = launch.env;
                env.push(("TEAMSTER_HOOK_SOCKET".to_string(), hook_socket.to_string_lossy().into_owned()));
                hook_task = Some(hooks::listen(self, id, &hook_socket)?);
                let mut argv = launch.argv;
                if sandboxed {
                    let agent_env: Vec<(String, String)> =
                        spec.env.iter().cloned().chain(env.iter().cloned()).collect();
                    let program = argv.first().and_then(|p| crate::paths::which(p)).and_then(|p| p.canonicalize().ok());
                    let pane = sandbox::PaneFiles {
                        dir: &dir,
                        hook_socket: &hook_socket,
                        generated: &generated,
                        program,
                        worktree: spec.worktree.as_ref(),
                        user_env: &spec.env,
                    };
                    sandbox = Some(self.prepare_sandbox(&agent, &spec.cwd, &pane, &home, &agent_env)?);
                    // The helper reads its plan from descriptor 3, then becomes the agent.
                    argv.splice(0..0, [exe.to_string_lossy().into_owned(), "sandbox-exec".into(), "--".into()]);
                }
                (argv, None, env, display, Some(agent.kind))
            }
            Spawn::Command { argv } => {
                if argv.is_empty() {
                    return Err("no command given".into());
                }
                // After a restart: says what ran, and runs it again only on Enter, in the
                // same process (what the pane runs from then on is the command itself).
                let run = if spec.ask_first {
                    let ask = "printf 'was running: %s\r\nEnter runs it again\r\n' \"$*\"; read -r _ && exec \"$@\"";
                    ["/bin/sh", "-c", ask, "teamster"]
                        .iter()
                        .map(|a| a.to_string())
                        .chain(argv.iter().cloned())
                        .collect()
                } else {
                    argv.clone()
                };
                (run, None, Vec::new(), argv.join(" "), None)
            }
        };
        let mut env: Vec<(String, String)> = spec
            .env
            .iter()
            .filter(|(k, _)| !k.starts_with("TEAMSTER_") && !OUTER_TERMINAL_VARS.contains(&k.as_str()))
            .filter(|(k, _)| !matches!(k.as_str(), "TERM" | "COLORTERM" | "TERM_PROGRAM" | "TERM_PROGRAM_VERSION"))
            .cloned()
            .collect();
        env.extend([
            ("TERM".into(), "xterm-256color".into()),
            ("COLORTERM".into(), "truecolor".into()),
            ("TERM_PROGRAM".into(), "teamster".into()),
            ("TERM_PROGRAM_VERSION".into(), env!("CARGO_PKG_VERSION").into()),
            ("TEAMSTER_SOCKET".into(), self.socket_path.to_string_lossy().into_owned()),
            ("TEAMSTER_SESSION".into(), session_name),
            ("TEAMSTER_PANE".into(), id.to_string()),
        ]);
        env.extend(extra_env);
        let secrets =
            sandbox.as_ref().map(|s| sandbox::confine_env(&mut env, &s.tmp, s.plan.port, &s.trust)).unwrap_or_default();
        let report = sandbox.as_ref().map(|s| std::os::fd::AsRawFd::as_raw_fd(&s.theirs));
        let spawned = pty::spawn(&argv, arg0.as_deref(), &env, &spec.cwd, size, report).map_err(|e| e.to_string())?;
        let s = session_ref(st, session)?;
        let (changed, colors) = (s.changed.clone(), Runner::reported_colors(s.colors));
        let (spend, spend_unknown) = self.store.lock().pane_spend(&spec.key);
        // Every route the pane starts with goes to the audit log, with who named it.
        let audit_routes = routes.clone();
        let audit_as = (s.name.clone(), spec.key.clone(), spec.name.clone().unwrap_or_default());
        let launched_with = launch_settings(&config, &spec.spawn);
        let meta = PaneMeta {
            launched_with,
            restart_applies: false,
            dialog_answer: None,
            turns: 0,
            last_answer: None,
            answers: 0,
            spec,
            command: display,
            title: String::new(),
            state: PaneState::Running,
            attention: false,
            size,
            agent,
            agent_state: crate::agents::AgentState::Starting,
            last_output: std::time::Instant::now(),
            proxy_token: agent.map(|_| token.clone()),
            routes,
            spend,
            spend_unknown,
            secrets,
            sandboxed,
            sandbox_plan: sandbox.as_ref().map(|s| std::sync::Arc::new(s.plan.clone())),
            holds_calls,
            codex_choices: (0, None),
            refused: 0,
            recent_refusals: Vec::new(),
            expected_refusals: Vec::new(),
            proxy_task: None,
            hook_task,
        };
        let pane = pane::start(self, id, session, spawned, meta, config.scrollback_lines, colors, changed)
            .map_err(|e| e.to_string())?;
        // How teamster mapped a mode of the agent's own: first on its screen, and said.
        if let Some(notice) = notice {
            pane.screen.lock().feed(format!("\x1b[33mteamster: {notice}\x1b[0m\r\n").as_bytes());
            log(&format!("pane {id}: {notice}"));
            if let Some(s) = st.sessions.get(&session) {
                let kind = AlertKind::Notify { title: "teamster".into(), body: notice };
                let _ = s.events.send(SessionEvent::Message(ServerMsg::Alert { pane: id, kind }));
            }
        }
        if agent.is_some() {
            st.proxy_tokens.insert(token.clone(), id);
        }
        if let Some(prepared) = sandbox {
            sandbox::start_watch(self, id, token, prepared);
        }
        if let Some(kind) = agent {
            tokio::spawn(pane::watch_screen(Arc::downgrade(self), Arc::downgrade(&pane), kind));
        }
        st.panes.insert(id, pane);
        if !audit_routes.is_empty() {
            let place = st.sessions.get(&session).and_then(|s| s.place_of(id)).unwrap_or_default();
            self.audit_routes(&audit_as.0, &audit_as.1, &place, &audit_as.2, &audit_routes);
        }
        Ok(())
    }

    /// Sizes every pane of a session to its place in the layout.
    fn relayout(&self, st: &mut State, session: u32) {
        let Some(s) = st.sessions.get(&session) else { return };
        let area = s.area();
        let mut sizes = Vec::new();
        for tab in &s.tabs {
            match tab.zoomed {
                Some(z) => sizes.push((z, Size { cols: area.inner().w, rows: area.inner().h })),
                None => {
                    for (p, r) in tab.layout.rects(area) {
                        sizes.push((p, Size { cols: r.inner().w, rows: r.inner().h }));
                    }
                }
            }
        }
        for (p, size) in sizes {
            if let Some(pane) = st.panes.get(&p) {
                pane.resize(size);
            }
        }
        if let Some(s) = st.sessions.get_mut(&session) {
            s.touch();
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
            cap_hit: s
                .cap_hit
                .as_ref()
                .map(|c| crate::protocol::CapView { rule: c.rule.clone(), reason: c.reason.clone() }),
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
        let st = self.state.lock();
        self.persist(&st);
        self.restarting.store(true, std::sync::atomic::Ordering::SeqCst);
        let leaders: Vec<u32> = st.panes.values().filter(|p| p.is_running()).map(|p| p.pid).collect();
        drop(st);
        let ending = self.end_processes(leaders);
        let runner = self.clone();
        async move {
            let dir = runner.screens_dir.clone();
            let _ = tokio::task::spawn_blocking(move || screens::write_all(&dir, screens)).await;
            ending.await;
            let _ = runner.shutdown.send(true);
        }
    }

    // ---- commands from clients ----

    pub fn command(self: &Arc<Self>, session: u32, command: Command) -> Result<(), String> {
        let mut guard = self.state.lock();
        let st = &mut *guard;
        let (area, focused) = {
            let s = session_ref(st, session)?;
            (s.area(), s.tabs.get(s.active).ok_or("the session has no tabs")?.focused)
        };
        let changes_shape = command.changes_shape();
        match command {
            Command::Split { dir, spawn } => {
                // A new split opens where the focused pane's program is now (a shell that
                // cd'd elsewhere), not where the session began.
                let here = st.panes.get(&focused).and_then(|p| p.working_dir());
                let context = here.map(|dir| Context {
                    cwd: Some(dir.to_string_lossy().into_owned()),
                    ..session_ref(st, session).map(|s| s.context.clone()).unwrap_or_default()
                });
                let spec = self.spec_for(st, session, &spawn, context.as_ref(), None)?;
                self.split(st, session, focused, dir, spec)?;
            }
            Command::ClosePane { pane, worktree } => self.close_pane_asked(st, session, pane, worktree)?,
            Command::Focus { pane } => {
                let s = session_mut(st, session)?;
                s.active = s.tab_of(pane).ok_or_else(|| format!("no pane {pane} in this session"))?;
                self.focus(st, session, pane);
            }
            Command::FocusDirection { dir } => {
                let tab = active_tab_mut(st, session)?;
                if let Some(next) = tab.layout.neighbor(focused, dir, area, &tab.recent) {
                    self.focus(st, session, next);
                }
            }
            Command::FocusNext | Command::FocusPrev => {
                let panes = active_tab_mut(st, session)?.layout.panes();
                let i = panes.iter().position(|p| *p == focused).unwrap_or(0);
                let n = panes.len();
                let j = if command == Command::FocusNext { (i + 1) % n } else { (i + n - 1) % n };
                self.focus(st, session, panes[j]);
            }
            Command::FocusNumber { number } => {
                let panes = active_tab_mut(st, session)?.layout.panes();
                let i = number.saturating_sub(1) as usize;
                let p = *panes.get(i).ok_or_else(|| format!("no pane {number} in this tab; it has {}", panes.len()))?;
                self.focus(st, session, p);
            }
            Command::Resize { dir, amount } => {
                let tab = active_tab_mut(st, session)?;
                tab.zoomed = None;
                if !tab.layout.resize(focused, dir, amount, area) {
                    return Err("no border to move that way".into());
                }
                self.relayout(st, session);
            }
            Command::Zoom => {
                let tab = active_tab_mut(st, session)?;
                tab.zoomed = match tab.zoomed {
                    Some(_) => None,
                    None if tab.layout.panes().len() > 1 => Some(focused),
                    None => return Err("only one pane: nothing to zoom".into()),
                };
                self.relayout(st, session);
            }
            Command::Equalize => {
                active_tab_mut(st, session)?.layout.equalize();
                self.relayout(st, session);
            }
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
                    (PaneSpec { ask_first: false, ..m.spec.clone() }, m.size)
                };
                // The same pane (its id, its place, its conversation), a new process.
                self.forget_pane(st, pane, "the pane's program was started again");
                self.spawn_pane(st, session, pane, spec, size)?;
                session_mut(st, session)?.touch();
            }
            Command::SwapPane { pane, with } => {
                session_mut(st, session)?.swap_panes(pane, with)?;
                self.relayout(st, session);
            }
            Command::MovePane { pane, tab } => {
                st.next_tab += 1;
                let new_tab = st.next_tab;
                session_mut(st, session)?.move_pane(pane, tab, new_tab)?;
                self.relayout(st, session);
            }
            Command::SelectLayout { arrangement } => {
                let area = session_ref(st, session)?.area();
                active_tab_mut(st, session)?.arrange(arrangement, area);
                self.relayout(st, session);
                session_mut(st, session)?.touch();
            }
            Command::RenamePane { pane, name } => {
                let p =
                    st.panes.get(&pane).filter(|p| p.session == session).ok_or_else(|| format!("no pane {pane}"))?;
                p.meta.lock().spec.name = Some(name.trim().to_string()).filter(|n| !n.is_empty());
                session_mut(st, session)?.touch();
            }
            Command::RenameTab { name } => {
                active_tab_mut(st, session)?.name = name.trim().to_string();
                session_mut(st, session)?.touch();
            }
            Command::ToggleSync => {
                let tab = active_tab_mut(st, session)?;
                tab.synchronized = !tab.synchronized;
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
            Command::SelectTab { index } => {
                let s = session_mut(st, session)?;
                if index >= s.tabs.len() {
                    return Err(format!("no tab {}; there are {}", index + 1, s.tabs.len()));
                }
                s.active = index;
                s.touch();
            }
            Command::NextTab | Command::PrevTab => {
                let s = session_mut(st, session)?;
                let n = s.tabs.len();
                s.active = if command == Command::NextTab { (s.active + 1) % n } else { (s.active + n - 1) % n };
                s.touch();
            }
        }
        if changes_shape {
            self.persist(st);
        }
        Ok(())
    }

    fn new_tab(self: &Arc<Self>, st: &mut State, session: u32, spec: PaneSpec) -> Result<PaneId, String> {
        let inner = session_ref(st, session)?.area().inner();
        let pane = st.new_pane_id();
        self.spawn_pane(st, session, pane, spec, Size { cols: inner.w, rows: inner.h })?;
        st.next_tab += 1;
        let id = st.next_tab;
        let s = session_mut(st, session)?;
        s.tabs.push(Tab::new(id, String::new(), Layout::Pane(pane), pane));
        s.active = s.tabs.len() - 1;
        self.relayout(st, session);
        Ok(pane)
    }

    /// Splits `target` with a new pane running `spawn`; focuses the new pane.
    fn split(
        self: &Arc<Self>,
        st: &mut State,
        session: u32,
        target: PaneId,
        dir: Direction,
        spec: PaneSpec,
    ) -> Result<PaneId, String> {
        self.add_to_tab(st, session, target, spec, |layout, id, area| {
            layout.split(target, id, dir, area).map_err(|e| e.to_string())
        })
    }

    /// A new pane in `target`'s tab, placed by `place` (its layout, the new id, the tab's
    /// area), started, and focused.
    fn add_to_tab(
        self: &Arc<Self>,
        st: &mut State,
        session: u32,
        target: PaneId,
        spec: PaneSpec,
        place: impl FnOnce(&mut Layout, PaneId, Rect) -> Result<(), String>,
    ) -> Result<PaneId, String> {
        let s = st.sessions.get(&session).ok_or("the session ended")?;
        let tab_index = s.tab_of(target).ok_or_else(|| format!("no pane {target} in this session"))?;
        let area = s.area();
        let mut layout = s.tabs[tab_index].layout.clone();
        let id = st.new_pane_id();
        place(&mut layout, id, area)?;
        let size = pane_size(&layout, id, area);
        self.spawn_pane(st, session, id, spec, size)?;
        let s = st.sessions.get_mut(&session).ok_or("the session ended")?;
        let tab = &mut s.tabs[tab_index];
        tab.layout = layout;
        tab.zoomed = None;
        s.active = tab_index;
        self.focus(st, session, id);
        self.relayout(st, session);
        Ok(id)
    }

    fn focus(&self, st: &mut State, session: u32, pane: PaneId) {
        let Some(s) = st.sessions.get_mut(&session) else { return };
        let Some(ti) = s.tab_of(pane) else { return };
        let tab = &mut s.tabs[ti];
        let old = tab.focused;
        // Moving focus leaves zoom, as in tmux.
        let unzoomed = old != pane && tab.zoomed.take().is_some();
        tab.focused = pane;
        tab.recent.retain(|p| *p != pane);
        tab.recent.insert(0, pane);
        s.touch();
        if old != pane {
            // Programs that asked (mode 1004) hear that they lost or gained focus.
            for (p, ev) in [(old, crate::input::InputEvent::FocusLost), (pane, crate::input::InputEvent::FocusGained)] {
                if let Some(pane) = st.panes.get(&p) {
                    let modes = pane.screen.lock().modes();
                    pane.write(&crate::input::encode(&ev, &modes));
                }
            }
        }
        if let Some(p) = st.panes.get(&pane) {
            p.meta.lock().attention = false;
        }
        if unzoomed {
            self.relayout(st, session);
        }
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
    fn close_pane_asked(
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
    /// waiting, its sandbox's proxy listener. Its processes and its place in a layout are the caller's.
    fn forget_pane(&self, st: &mut State, pane: PaneId, why: &str) -> Option<Arc<pane::Pane>> {
        let p = st.panes.remove(&pane)?;
        let (token, proxy, hooks) = {
            let mut m = p.meta.lock();
            (m.proxy_token.take(), m.proxy_task.take(), m.hook_task.take())
        };
        if let Some(token) = token {
            st.proxy_tokens.remove(&token);
        }
        if let Some(task) = proxy {
            task.abort();
        }
        drop(hooks);
        if control::deny_pending_of(st, pane, why) {
            self.broadcast_pending(st);
        }
        Some(p)
    }

    fn close_pane(&self, st: &mut State, pane: PaneId) {
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
    fn end_processes(&self, leaders: Vec<u32>) -> impl std::future::Future<Output = ()> + use<> {
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

    fn end_session(&self, st: &mut State, session: u32, reason: &str) {
        let Some(s) = st.sessions.remove(&session) else { return };
        // Its marks go (its spend stays, for reports): a session's key is never used again.
        self.store.lock().end_session(&s.key);
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

    /// `teamster new`: a pane in an existing session, beside `near` or the focused pane.
    /// A git worktree for it is made first, off the state lock and the runtime's thread.
    pub async fn new_pane(self: &Arc<Self>, mut request: crate::protocol::NewPane) -> Result<(PaneId, String), String> {
        let _ = self.reload_config();
        let made = match request.worktree.take() {
            Some(branch) => {
                let (cwd, label) = {
                    let st = self.state.lock();
                    let id = session_for(&st, request.session.as_deref(), request.near)?;
                    let (cwd, name, _) = self.place_for(&st, id, &request.spawn, Some(&request.context))?;
                    (cwd, name.unwrap_or_else(|| "pane".into()))
                };
                let root = crate::paths::state_dir().join("worktrees");
                let made = tokio::task::spawn_blocking(move || worktree::create(&cwd, Some(&branch), &label, &root));
                Some(made.await.map_err(|e| format!("making the worktree failed: {e}"))??)
            }
            None => None,
        };
        self.add_pane(request, made)
    }

    fn add_pane(
        self: &Arc<Self>,
        request: crate::protocol::NewPane,
        worktree: Option<worktree::Worktree>,
    ) -> Result<(PaneId, String), String> {
        let crate::protocol::NewPane { session, near, spawn, tab: new_tab, dir, context, name: label, .. } = request;
        let mut st = self.state.lock();
        let st = &mut *st;
        let id = session_for(st, session.as_deref(), near)?;
        let s = st.sessions.get(&id).ok_or("the session ended")?;
        let name = s.name.clone();
        let target = near
            .filter(|p| s.tab_of(*p).is_some())
            .or_else(|| s.tabs.get(s.active).map(|t| t.focused))
            .ok_or("the session has no panes")?;
        let mut spec = self.spec_for(st, id, &spawn, Some(&context), worktree)?;
        if let Some(label) = label.map(|l| l.trim().to_string()).filter(|l| !l.is_empty()) {
            spec.name = Some(label);
        }
        if new_tab {
            let pane = self.new_tab(st, id, spec)?;
            self.persist(st);
            return Ok((pane, name));
        }
        // Where nobody said where: beside the focused pane along its longer side, while
        // every pane stays usable; past that, the tab becomes a tiled grid.
        let pane = match dir {
            Some(dir) => self.split(st, id, target, dir, spec)?,
            None => self.add_to_tab(st, id, target, spec, |layout, new, area| {
                *layout = place_beside(layout, target, new, area)?;
                Ok(())
            })?,
        };
        self.persist(st);
        Ok((pane, name))
    }

    // ---- events from panes ----

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
        if control::deny_pending_of(&mut st, pane, "the agent exited") {
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

    /// A pane's screen and scrollback as text (`teamster capture`): its last `lines` lines
    /// once blank rows at the end are left out, with SGR styles if `ansi`.
    pub fn capture(&self, target: &str, lines: Option<u32>) -> Result<Reply, String> {
        let (session, id) = crate::protocol::find_pane(&self.list(), target)?;
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
                let place = crate::protocol::place_of(&sessions, pane).unwrap_or_else(|| pane.to_string());
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
        let (session, pane) = crate::protocol::find_pane(&list, target)?;
        let command = match &to {
            PaneMove::SwapWith(other) => {
                let (other_session, with) = crate::protocol::find_pane(&list, other)?;
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

    /// What a pane's agent answered at the end of its last turn.
    pub fn last_answer(&self, target: &str) -> Result<Reply, String> {
        let (session, id) = crate::protocol::find_pane(&self.list(), target)?;
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
        let (_, id) = crate::protocol::find_pane(&self.list(), target)?;
        let (pane, asks) = {
            let st = self.state.lock();
            let pane = st.panes.get(&id).cloned().ok_or_else(|| format!("pane {id} has just gone"))?;
            (pane, st.pending.values().any(|p| p.pane == id))
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
            pane::Submitted::Taken => Ok(Reply::Text { text: format!("pane {id} took the prompt") }),
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
}

/// The session a new pane goes to: the one named, else `near`'s, else the one on a screen
/// (attached, and used or attached last), else the last used.
fn session_for(st: &State, session: Option<&str>, near: Option<PaneId>) -> Result<u32, String> {
    match (session, near.and_then(|p| st.panes.get(&p)).map(|p| p.session)) {
        (Some(name), _) => {
            st.sessions.values().find(|s| s.name == name).map(|s| s.id).ok_or_else(|| no_such_session(st, name))
        }
        (None, Some(id)) => Ok(id),
        (None, None) => st
            .sessions
            .values()
            .max_by_key(|s| (!s.clients.is_empty(), s.last_used, s.id))
            .map(|s| s.id)
            .ok_or_else(|| "no session is running; start one with `teamster`".to_string()),
    }
}

fn session_ref(st: &State, id: u32) -> Result<&Session, String> {
    st.sessions.get(&id).ok_or_else(|| "the session ended".to_string())
}

fn session_mut(st: &mut State, id: u32) -> Result<&mut Session, String> {
    st.sessions.get_mut(&id).ok_or_else(|| "the session ended".to_string())
}

fn active_tab_mut(st: &mut State, id: u32) -> Result<&mut Tab, String> {
    let s = session_mut(st, id)?;
    let active = s.active;
    s.tabs.get_mut(active).ok_or_else(|| "the session has no tabs".to_string())
}

fn process_alive(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
        // A zombie has exited; it only waits to be reaped.
        s.rfind(')').and_then(|i| s[i + 1..].split_whitespace().next()).is_some_and(|state| state != "Z")
    })
}

/// What of the config a pane's program was started with: its agent's entry (or the shell),
/// and what every agent's start takes (the sandbox, providers, metering). A reload that
/// changes it leaves the running program as it is and says a restart would apply it.
fn launch_settings(config: &Config, spawn: &Spawn) -> String {
    let own = match spawn {
        Spawn::Agent { name } => serde_json::to_value(config.agents.get(name)).unwrap_or_default(),
        Spawn::Shell => serde_json::to_value(&config.shell).unwrap_or_default(),
        Spawn::Command { .. } => serde_json::Value::Null,
    };
    let common = match spawn {
        Spawn::Agent { .. } => serde_json::json!([config.sandbox, config.providers, config.meter]),
        _ => serde_json::Value::Null,
    };
    serde_json::json!([own, common]).to_string()
}

/// Panes split along their longer side; a cell is about twice as tall as it is wide.
/// The smallest pane an automatic split may leave (columns, rows, borders included):
/// below it, the tab is tiled instead.
const USABLE: (u16, u16) = (40, 10);

fn auto_direction(r: Rect) -> Direction {
    if r.w as u32 >= r.h as u32 * 2 { Direction::Right } else { Direction::Down }
}

fn pane_size(layout: &Layout, pane: PaneId, area: Rect) -> Size {
    let r = layout.rect_of(pane, area).unwrap_or(area).inner();
    Size { cols: r.w.max(1), rows: r.h.max(1) }
}

fn describe_sessions(st: &State) -> String {
    let names: Vec<&str> = st.sessions.values().map(|s| s.name.as_str()).collect();
    if names.is_empty() { "no sessions are running".into() } else { format!("the sessions are: {}", names.join(", ")) }
}

fn no_such_session(st: &State, name: &str) -> String {
    format!("no session named `{name}`; {}", describe_sessions(st))
}

/// The session's own rules for where panes go, without a process or a socket.
#[cfg(test)]
mod session_tests {
    use super::*;

    /// A session of 200x50 whose tabs hold these panes, side by side.
    fn session(tabs: &[&[PaneId]]) -> Session {
        let area = Rect::new(0, 0, 200, 50);
        let tabs = tabs
            .iter()
            .enumerate()
            .map(|(i, panes)| {
                let layout = Layout::arranged(Arrangement::EvenHorizontal, panes, area);
                Tab::new(i as u32 + 1, String::new(), layout, panes[0])
            })
            .collect();
        Session {
            id: 1,
            name: "work".into(),
            key: "k".into(),
            tabs,
            active: 0,
            size: Size { cols: 200, rows: 50 },
            owner: None,
            clients: BTreeMap::new(),
            context: Context::default(),
            colors: None,
            changed: watch::channel(0).0,
            version: 0,
            events: broadcast::channel(4).0,
            created: 0,
            last_used: 0,
            spend: 0.0,
            marks: Default::default(),
            cap_hit: None,
            contacted: Default::default(),
        }
    }

    fn panes(s: &Session) -> Vec<Vec<PaneId>> {
        s.tabs.iter().map(|t| t.layout.panes()).collect()
    }

    #[test]
    fn panes_swap_in_a_tab_and_across_tabs() {
        let mut s = session(&[&[1, 2, 3], &[4]]);
        s.swap_panes(1, 3).unwrap();
        assert_eq!(panes(&s), vec![vec![3, 2, 1], vec![4]]);
        assert_eq!(s.tabs[0].focused, 1, "the focus stays with its pane");
        s.swap_panes(2, 4).unwrap();
        assert_eq!(panes(&s), vec![vec![3, 4, 1], vec![2]]);
        assert_eq!(s.tabs[1].focused, 2, "the other tab's focus is on the pane that came");
        assert!(s.swap_panes(2, 2).is_err());
        assert!(s.swap_panes(2, 9).unwrap_err().contains("no pane 9"));
        assert_eq!(panes(&s), vec![vec![3, 4, 1], vec![2]], "a refused swap changes nothing");
    }

    #[test]
    fn a_pane_moves_to_another_tab_or_one_of_its_own() {
        let mut s = session(&[&[1, 2], &[3]]);
        s.move_pane(2, Some(1), 7).unwrap();
        assert_eq!(panes(&s), vec![vec![1], vec![3, 2]]);
        assert_eq!((s.active, s.tabs[1].focused, s.tabs[0].focused), (1, 2, 1), "it is focused where it lands");
        // The last pane of a tab takes its tab with it.
        s.move_pane(1, Some(1), 7).unwrap();
        assert_eq!(panes(&s), vec![vec![3, 2, 1]]);
        assert_eq!(s.active, 0);
        // Out to a tab of its own, with the id it is given.
        s.move_pane(2, None, 7).unwrap();
        assert_eq!(panes(&s), vec![vec![3, 1], vec![2]]);
        assert_eq!((s.tabs[1].id, s.active), (7, 1));
        assert!(s.move_pane(2, None, 8).unwrap_err().contains("alone"));
        assert!(s.move_pane(2, Some(5), 8).unwrap_err().contains("no tab 6"));
        assert!(s.move_pane(3, Some(0), 8).unwrap_err().contains("already"));
        assert_eq!(panes(&s), vec![vec![3, 1], vec![2]], "refused moves change nothing");
    }

    #[test]
    fn a_full_tab_is_tiled_to_take_a_moved_pane() {
        let ids: Vec<PaneId> = (1..=7).collect();
        let mut s = session(&[&ids, &[8]]);
        s.move_pane(8, Some(0), 9).unwrap();
        assert_eq!(s.tabs.len(), 1);
        let (w, h) = s.tabs[0].layout.smallest(s.area());
        assert!(w >= 40 && h >= 10, "every pane usable: {w}x{h}");
    }
}
