//! The TUI's state and the one place it changes: `App::update` takes an event (input from
//! the terminal, a message from the runner, a tick) and changes state, leaving effects
//! (messages for the runner, bytes for the terminal) for the loop to carry out.
//! Drawing is elsewhere (`view`) and never changes state.

use super::copy::{CopyOutcome, CopyState};
use super::panes::PaneContent;
use super::sidebar::{self, Sidebar};
pub use super::views::{ConfirmKind, Overlay, PickerItem, PromptKind};
use super::views::{Cost, DisplayPanes, Help, Intent, Picker, Purpose, Reaction, Share, Switcher};
use crate::approval::{Decision, Surface};
use crate::config::{Action, Clipboard, CopyAction, Keymap, Mode, Notify, Theme};
use crate::input::{InputEvent, Key, KeyCode, MouseButton, MouseEvent, MouseKind};
use crate::layout::{Direction, PaneId, Rect};
use crate::protocol::{
    AgentInfo, AlertKind, ClientMsg, Command, PaneState, Reply, ServerMsg, SessionView, Size, Spawn, WorktreeChoice,
};
use std::collections::HashMap;
use std::time::{Duration, Instant};

pub enum Event {
    Input(InputEvent),
    Server(ServerMsg),
    Resize(Size),
    Tick,
}

#[derive(Debug, PartialEq)]
pub enum Effect {
    Send(ClientMsg),
    /// Bytes for the outer terminal (clipboard, bell).
    Terminal(Vec<u8>),
    /// Re-read the config's keymap and theme (file I/O is the loop's job).
    ReloadConfig,
    /// Attach to another session (the switcher chose a pane there).
    SwitchSession(String),
}

/// What changed on screen since the last draw.
#[derive(Clone, Debug, PartialEq, Default)]
pub enum Damage {
    #[default]
    None,
    /// Only these rows of these panes (and the cursor).
    Rows(Vec<(PaneId, u16)>),
    Full,
}

impl Damage {
    /// Beyond this many rows a full redraw is as cheap.
    const MAX_ROWS: usize = 16;

    fn add_rows(&mut self, rows: Vec<(PaneId, u16)>) {
        match self {
            Damage::None => *self = Damage::Rows(rows),
            Damage::Rows(v) => v.extend(rows),
            Damage::Full => {}
        }
        if matches!(self, Damage::Rows(v) if v.len() > Self::MAX_ROWS) {
            *self = Damage::Full;
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Message {
    pub text: String,
    pub error: bool,
    pub until: Instant,
}

enum Pending {
    Command,
    /// Closing a pane and removing its worktree, which git may refuse.
    RemoveWorktree(PaneId),
    Agents,
    Lines,
    Search {
        len: u16,
        backward: bool,
    },
    Yank,
    Cost,
    Shares,
    Unshare,
    /// The sessions for the switcher.
    Switcher,
    /// Text to hand on to another agent (a selection, or an agent's last answer): what it is.
    HandOff(String),
    /// Handed on: to which pane.
    HandedOff(String),
}

pub struct App {
    pub keymap: Keymap,
    pub theme: Theme,
    pub mode: Mode,
    pub session: Option<SessionView>,
    pub panes: HashMap<PaneId, PaneContent>,
    pub overlay: Option<Overlay>,
    pub copy: Option<CopyState>,
    pub message: Option<Message>,
    pub size: Size,
    pub mouse: bool,
    /// How an unfocused agent that starts waiting is announced (beside its mark).
    pub notify: Notify,
    /// What a program's request to set the clipboard does.
    pub clipboard: Clipboard,
    /// Set when the client should exit, with what to tell the user.
    pub quit: Option<String>,
    /// What must be redrawn since the last draw.
    pub damage: Damage,
    /// The event being handled only typed into a pane: nothing to redraw for it.
    typed_only: bool,
    pub effects: Vec<Effect>,
    next_id: u64,
    pending: HashMap<u64, Pending>,
    /// Actions waiting for a verdict, across every session.
    pub sidebar: Sidebar,
    /// A fixed clock (seconds since the epoch), for tests; else the wall clock.
    pub clock: Option<u64>,
    /// The pane a mouse button went down in (inside its border), which gets the drag and
    /// the release; a click on a border sends a program nothing.
    mouse_down: Option<PaneId>,
    /// The session's spend as last seen, and what it grew by when, for the burn rate.
    spend_seen: Option<(u32, f64)>,
    recent_spend: std::collections::VecDeque<(Instant, f64)>,
}

/// The burn rate is the spend of the last ten minutes, per hour.
const BURN_WINDOW: Duration = Duration::from_secs(600);

const MESSAGE_TIME: Duration = Duration::from_secs(4);
/// Lines one wheel notch scrolls.
const WHEEL_LINES: u64 = 3;

impl App {
    pub fn new(keymap: Keymap, theme: Theme, size: Size, mouse: bool) -> App {
        App {
            keymap,
            theme,
            mode: Mode::Normal,
            session: None,
            panes: HashMap::new(),
            overlay: None,
            copy: None,
            message: None,
            size,
            mouse,
            notify: Notify::default(),
            clipboard: Clipboard::default(),
            quit: None,
            damage: Damage::Full,
            typed_only: false,
            effects: Vec::new(),
            next_id: 0,
            pending: HashMap::new(),
            sidebar: Sidebar::default(),
            clock: None,
            mouse_down: None,
            spend_seen: None,
            recent_spend: Default::default(),
        }
    }

    /// Seconds since the epoch.
    pub fn now(&self) -> u64 {
        self.clock.unwrap_or_else(|| {
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs())
        })
    }

    /// The area panes are laid out in: everything but the status bar. The sidebar lies
    /// over panes, never resizes them: a program is not told the terminal changed size (and
    /// redraws) because an action waits.
    pub fn pane_area(&self) -> Rect {
        Rect::new(0, 0, self.size.cols, self.size.rows.saturating_sub(1))
    }

    /// Where the sidebar is drawn, when it shows: over the right-hand columns below the top
    /// border (whose titles stay in view), leaving at least 40 columns of panes beside it.
    pub fn sidebar_area(&self) -> Option<Rect> {
        let w = sidebar::WIDTH;
        (self.sidebar.visible() && self.size.cols >= w + 40 && self.size.rows > 4)
            .then(|| Rect::new(self.size.cols - w, 1, w, self.size.rows.saturating_sub(2)))
    }

    /// After the sidebar came or went: drawn again, the panes as they were.
    fn sidebar_changed(&mut self) {
        if !self.sidebar.visible() && self.mode == Mode::Approvals {
            self.mode = Mode::Normal;
        }
        self.damage = Damage::Full;
    }

    /// Gives the selected pending action its verdict (`always`: allow it from now on).
    fn resolve(&mut self, allow: bool, reason: Option<String>, always: Option<crate::protocol::AllowScope>) {
        let Some(p) = self.sidebar.selected() else {
            self.say("nothing is waiting for you");
            return;
        };
        let decision = match (allow, always) {
            (true, None) => Decision::ApproveOnce,
            (true, Some(scope)) => Decision::ApproveAlways { scope },
            (false, _) => Decision::deny(reason.unwrap_or_else(|| "denied by the user".into())),
        };
        self.decide(p.id, decision);
    }

    fn decide(&mut self, action: u64, decision: Decision) {
        self.request(Pending::Command, |id| ClientMsg::Resolve { id, action, decision, via: Surface::Sidebar });
    }

    pub fn pane_area_size(&self) -> Size {
        let a = self.pane_area();
        Size { cols: a.w, rows: a.h }
    }

    pub fn focused(&self) -> Option<PaneId> {
        self.session.as_ref().and_then(|s| s.focused())
    }

    /// The panes shown in the current tab, with their rectangles.
    pub fn visible(&self) -> Vec<(PaneId, Rect)> {
        let Some(tab) = self.session.as_ref().and_then(|s| s.tab()) else { return Vec::new() };
        match tab.zoomed {
            Some(z) => vec![(z, self.pane_area())],
            None => tab.layout.rects(self.pane_area()),
        }
    }

    /// When `update(Event::Tick)` should next be called, if ever.
    pub fn next_tick(&self) -> Option<Instant> {
        let overlay = match &self.overlay {
            Some(Overlay::DisplayPanes(d)) => Some(d.until),
            _ => None,
        };
        // While something waits, the sidebar's clocks (how long ago, how long left) tick.
        let sidebar = self
            .sidebar_area()
            .filter(|_| !self.sidebar.pending.is_empty())
            .map(|_| Instant::now() + Duration::from_secs(1));
        // While the session burns, its rate in the status bar falls as the calls age.
        let burn = self.recent_spend.back().map(|_| Instant::now() + Duration::from_secs(15));
        [self.message.as_ref().map(|m| m.until), overlay, sidebar, burn].into_iter().flatten().min()
    }

    /// What the session spent since it was last seen, for the burn rate (a new session
    /// starts it again).
    fn note_spend(&mut self, session: &SessionView) {
        let now = Instant::now();
        match self.spend_seen {
            Some((id, seen)) if id == session.id && session.spend > seen => {
                self.recent_spend.push_back((now, session.spend - seen))
            }
            Some((id, _)) if id == session.id => {}
            _ => self.recent_spend.clear(),
        }
        self.spend_seen = Some((session.id, session.spend));
        while self.recent_spend.front().is_some_and(|(t, _)| now.duration_since(*t) >= BURN_WINDOW) {
            self.recent_spend.pop_front();
        }
    }

    /// Dollars an hour at the rate of the last ten minutes of this session.
    pub fn burn_per_hour(&self) -> f64 {
        let now = Instant::now();
        let spent: f64 =
            self.recent_spend.iter().filter(|(t, _)| now.duration_since(*t) < BURN_WINDOW).map(|(_, c)| c).sum();
        spent * 3600.0 / BURN_WINDOW.as_secs_f64()
    }

    /// Shows `text` in the status bar. Messages quote programs, agents, servers and peers
    /// (a notification's text, a refusal's reason): their control characters are shown,
    /// never obeyed.
    pub fn say(&mut self, text: impl Into<String>) {
        let text = crate::text::visible(&text.into()).into_owned();
        self.message = Some(Message { text, error: false, until: Instant::now() + MESSAGE_TIME });
    }

    pub fn error(&mut self, text: impl Into<String>) {
        let text = crate::text::visible(&text.into()).into_owned();
        self.message = Some(Message { text, error: true, until: Instant::now() + MESSAGE_TIME * 2 });
    }

    fn request(&mut self, kind: Pending, make: impl FnOnce(u64) -> ClientMsg) {
        self.next_id += 1;
        let id = self.next_id;
        self.pending.insert(id, kind);
        self.effects.push(Effect::Send(make(id)));
    }

    fn command(&mut self, command: Command) {
        self.request(Pending::Command, |id| ClientMsg::Command { id, command });
    }

    fn send_to_pane(&mut self, pane: PaneId, events: Vec<InputEvent>) {
        self.effects.push(Effect::Send(ClientMsg::Input { pane: Some(pane), events }));
    }

    /// Typing goes to whichever pane the runner has focused when it arrives.
    fn type_keys(&mut self, events: Vec<InputEvent>) {
        self.effects.push(Effect::Send(ClientMsg::Input { pane: None, events }));
    }

    pub fn update(&mut self, event: Event) {
        self.typed_only = false;
        // Screen updates that keep every pane's size can be drawn row by row.
        let rows: Option<Vec<(PaneId, u16)>> = match &event {
            Event::Server(ServerMsg::Frame { panes }) => panes
                .iter()
                .map(|f| {
                    let same_size = self.panes.get(&f.pane).is_some_and(|c| c.size == f.size);
                    (same_size && !f.full).then(|| f.rows.iter().map(|(y, _)| (f.pane, *y)).collect::<Vec<_>>())
                })
                .collect::<Option<Vec<_>>>()
                .map(|v| v.concat()),
            _ => None,
        };
        let before = (self.mode, self.overlay.is_some(), self.copy.is_some(), self.message.is_some());
        self.handle(event);
        let after = (self.mode, self.overlay.is_some(), self.copy.is_some(), self.message.is_some());
        match rows {
            Some(rows) if before == after && !after.1 && !after.2 => self.damage.add_rows(rows),
            _ if self.typed_only => {}
            _ => self.damage = Damage::Full,
        }
    }

    fn handle(&mut self, event: Event) {
        match event {
            Event::Input(ev) => self.on_input(ev),
            Event::Server(msg) => self.on_server(msg),
            Event::Resize(size) => {
                self.size = size;
                let area = self.pane_area_size();
                self.effects.push(Effect::Send(ClientMsg::Resize { size: area }));
            }
            Event::Tick => {
                let now = Instant::now();
                while self.recent_spend.front().is_some_and(|(t, _)| now.duration_since(*t) >= BURN_WINDOW) {
                    self.recent_spend.pop_front();
                }
                if self.message.as_ref().is_some_and(|m| m.until <= now) {
                    self.message = None;
                }
                if matches!(&self.overlay, Some(Overlay::DisplayPanes(d)) if d.until <= now) {
                    self.overlay = None;
                }
            }
        }
    }

    // ---- from the runner ----

    fn on_server(&mut self, msg: ServerMsg) {
        match msg {
            ServerMsg::Hello { .. } => {}
            ServerMsg::Pending { pending } => {
                self.sidebar.set(pending);
                self.sidebar_changed();
            }
            ServerMsg::History { recent } => {
                self.sidebar.recent = recent;
                if self.sidebar.visible() {
                    self.damage = Damage::Full;
                }
            }
            ServerMsg::Session { session } => {
                self.note_spend(&session);
                let ids: Vec<PaneId> = session.panes.iter().map(|p| p.id).collect();
                self.panes.retain(|id, _| ids.contains(id));
                if let Some(c) = &self.copy
                    && (!ids.contains(&c.pane) || session.focused() != Some(c.pane))
                {
                    self.leave_copy();
                }
                self.session = Some(*session);
            }
            ServerMsg::Frame { panes } => {
                for frame in panes {
                    let id = frame.pane;
                    self.panes.entry(id).or_default().apply(frame);
                }
                self.check_copy();
            }
            ServerMsg::Reply { id, result } => self.on_reply(id, result),
            ServerMsg::Alert { pane, kind } => {
                match kind {
                    // Pass the bell on; the pane's title marks which one rang.
                    AlertKind::Bell => self.effects.push(Effect::Terminal(b"\x07".to_vec())),
                    AlertKind::Notify { title, body } => {
                        let text = if title.is_empty() { body } else { format!("{title}: {body}") };
                        self.say(format!("{}: {text}", self.place_of(pane)));
                    }
                    AlertKind::Waiting { agent, state } => {
                        // Into an escape sequence of the real terminal: nothing in it may end it.
                        let text =
                            format!("{} in {} is {}", crate::text::visible(&agent), self.place_of(pane), state.words());
                        let out = match self.notify {
                            Notify::Mark => Vec::new(),
                            Notify::Bell => b"\x07".to_vec(),
                            Notify::Osc9 => format!("\x1b]9;teamster: {text}\x07").into_bytes(),
                            Notify::Osc777 => format!("\x1b]777;notify;teamster;{text}\x07").into_bytes(),
                        };
                        if !out.is_empty() {
                            self.effects.push(Effect::Terminal(out));
                        }
                        self.say(text);
                    }
                }
            }
            ServerMsg::Clipboard { data } => self.program_clipboard(&data),
            ServerMsg::Detached { reason } => {
                let name = self.session.as_ref().map(|s| s.name.clone()).unwrap_or_default();
                self.quit = Some(match reason {
                    crate::protocol::DetachReason::Detached => format!("[detached (from session {name})]"),
                    other => format!("[{}]", other.words()),
                });
            }
            // Refused before a session was attached: there is nothing to show but why.
            ServerMsg::Error { message } if self.session.is_none() => self.quit = Some(format!("teamster: {message}")),
            ServerMsg::Error { message } => self.error(message),
            // The runner applied the config it saw change; this client takes its keys and
            // theme from it too. A bad file: the runner says why.
            ServerMsg::ConfigReloaded { error: None } => self.effects.push(Effect::ReloadConfig),
            ServerMsg::ConfigReloaded { error: Some(why) } => self.error(why),
        }
    }

    fn on_reply(&mut self, id: u64, result: Result<Reply, String>) {
        let Some(kind) = self.pending.remove(&id) else { return };
        let reply = match result {
            Ok(r) => r,
            Err(e) => {
                match kind {
                    Pending::Agents | Pending::Shares | Pending::Switcher => self.overlay = None,
                    _ => {}
                }
                self.error(e);
                return;
            }
        };
        match (kind, reply) {
            // Refused (uncommitted work): ask again, with why.
            (Pending::RemoveWorktree(pane), Reply::WorktreeNotClean { .. }) if self.overlay.is_none() => {
                let branch = self.session.as_ref().and_then(|s| s.pane(pane)).and_then(|p| p.branch.clone());
                let question = format!(
                    "uncommitted changes in the worktree of {}: commit them, then delete to try again; enter keeps it and closes; esc cancels",
                    branch.unwrap_or_else(|| "this pane".into())
                );
                self.overlay = Some(Overlay::confirm(ConfirmKind::ClosePaneWorktree(pane), question));
            }
            (_, Reply::WorktreeNotClean { message }) => self.error(message),
            (Pending::Agents, Reply::Agents { agents }) => self.fill_picker(agents),
            (Pending::Shares, Reply::Shares { shares }) => {
                let name = self.session.as_ref().map(|s| s.name.clone()).unwrap_or_default();
                let shares: Vec<_> = shares.into_iter().filter(|s| s.session == name).collect();
                if let Some(Overlay::Share(Share { shares: slot })) = &mut self.overlay {
                    *slot = Some(shares);
                }
            }
            (Pending::Unshare, Reply::Text { text }) => {
                self.overlay = None;
                self.say(text);
            }
            (Pending::Cost, Reply::Cost { report }) => {
                if let Some(Overlay::Cost(Cost { report: slot })) = &mut self.overlay {
                    *slot = Some(report);
                }
            }
            (Pending::Switcher, Reply::Sessions { sessions }) => {
                if let Some(Overlay::Switcher(sw)) = &mut self.overlay {
                    sw.sessions = Some(sessions);
                }
            }
            (Pending::HandOff(what), Reply::Text { text } | Reply::Answer { text, .. }) => {
                if text.trim().is_empty() {
                    self.error(format!("{what} is empty: nothing to send"));
                } else {
                    self.open_switcher(Purpose::SendTo { text, what });
                }
            }
            (Pending::HandedOff(place), Reply::Text { .. }) => self.say(format!("sent to {place}; its agent took it")),
            (Pending::HandedOff(_), Reply::NotSent { message, .. }) => self.error(message),
            (Pending::Lines, Reply::Lines { from, rows }) => {
                if let Some(c) = &mut self.copy {
                    c.store(from, rows);
                }
            }
            (Pending::Search { len, backward }, Reply::Found { at }) => match (at, &mut self.copy) {
                (Some(at), Some(c)) => {
                    if let Some(content) = self.panes.get(&c.pane) {
                        c.jump_to(content, at, len);
                    }
                    self.fetch_lines();
                }
                (None, _) => {
                    let query =
                        self.copy.as_ref().and_then(|c| c.last_search.clone()).map(|(q, _)| q).unwrap_or_default();
                    self.error(format!("not found{}: {query}", if backward { " above" } else { "" }));
                }
                _ => {}
            },
            (Pending::Yank, Reply::Text { text }) => {
                self.set_clipboard(&text);
                let lines = text.lines().count().max(1);
                self.say(format!(
                    "copied {} characters ({lines} line{})",
                    text.chars().count(),
                    if lines == 1 { "" } else { "s" }
                ));
            }
            _ => {}
        }
    }

    fn fill_picker(&mut self, agents: Vec<AgentInfo>) {
        let mut items = vec![PickerItem { label: "shell".into(), detail: "a new shell".into(), spawn: Spawn::Shell }];
        items.extend(agents.into_iter().map(|a| PickerItem {
            detail: a.description.unwrap_or_else(|| a.command.clone()),
            label: a.name.clone(),
            spawn: Spawn::Agent { name: a.name },
        }));
        if let Some(Overlay::Picker(Picker { items: slot, loading, .. })) = &mut self.overlay {
            *slot = items;
            *loading = false;
        }
    }

    // ---- input ----

    fn on_input(&mut self, ev: InputEvent) {
        match ev {
            InputEvent::Key(k) => self.on_key(k),
            InputEvent::Mouse(m) => self.on_mouse(m),
            InputEvent::Paste(text) => match &mut self.overlay {
                Some(overlay) => overlay.view_mut().paste(&text),
                None if self.copy.is_some() => {}
                None => self.type_keys(vec![InputEvent::Paste(text)]),
            },
            InputEvent::FocusGained | InputEvent::FocusLost | InputEvent::Raw(_) => {
                if self.overlay.is_none() && self.copy.is_none() {
                    self.type_keys(vec![ev]);
                }
            }
        }
    }

    fn on_key(&mut self, key: Key) {
        if self.overlay.is_some() {
            self.overlay_key(key);
            return;
        }
        let mode = self.mode;
        let own = self.keymap.action(mode, &key);
        // From the sidebar, the panes' own bindings work too (the prefix, alt-m), and leave it;
        // a key bound to nothing is dropped there, never typed into a pane.
        let borrowed = match (own, mode) {
            (None, Mode::Approvals) => self.keymap.action(Mode::Normal, &key),
            _ => None,
        };
        match own.or(borrowed) {
            Some(action) => {
                if mode == Mode::Prefix || borrowed.is_some() {
                    self.mode = Mode::Normal;
                }
                self.run(action, key);
                if mode == Mode::Approvals && self.mode != Mode::Approvals {
                    self.sidebar.leave();
                    self.sidebar_changed();
                }
            }
            None if mode.passes_keys_through() => {
                let Some(p) = self.focused() else { return };
                if self.pane_exited(p) {
                    // Enter starts it again in its place (an agent resumes its conversation).
                    if key.code == KeyCode::Enter && key.mods.0 == 0 {
                        self.command(Command::Respawn { pane: p });
                        return;
                    }
                    let agent = self.session.as_ref().and_then(|s| s.pane(p)).is_some_and(|i| i.agent.is_some());
                    // Short: it has to fit beside the tabs.
                    let again = if agent { "enter resumes it" } else { "enter runs it again" };
                    let close =
                        self.keymap.keys_for(Action::ClosePane).map(|k| format!(", {k} closes it")).unwrap_or_default();
                    self.say(format!("exited: {again}{close}"));
                    return;
                }
                self.type_keys(vec![InputEvent::Key(key)]);
                // The echo, if any, comes back as a frame; that is when to draw.
                self.typed_only = true;
            }
            None if mode == Mode::Prefix => self.mode = Mode::Normal,
            None => {}
        }
    }

    fn pane_exited(&self, pane: PaneId) -> bool {
        self.session.as_ref().and_then(|s| s.pane(pane)).is_some_and(|p| p.state != PaneState::Running)
    }

    /// A program in a pane asked to set the clipboard (OSC 52, `base64` as it sent it): as
    /// `clipboard` in the config says. What is written is what was decoded (and shown),
    /// encoded again: nothing the program sent reaches the terminal as it was.
    fn program_clipboard(&mut self, base64: &str) {
        use base64::Engine;
        let ask = match self.clipboard {
            Clipboard::Deny => return,
            Clipboard::Allow => false,
            Clipboard::Ask => true,
        };
        let decoded = base64::engine::general_purpose::STANDARD.decode(base64.trim()).ok();
        let Some(text) = decoded.and_then(|bytes| String::from_utf8(bytes).ok()) else {
            self.error("a program sent a clipboard that is not text; ignored".to_string());
            return;
        };
        if !ask {
            return self.set_clipboard(&text);
        }
        // One question at a time: another overlay open means no.
        if self.overlay.is_some() {
            return self.error("a program asked to set the clipboard while a question was open; ignored".to_string());
        }
        const SHOWN: usize = 80;
        let all = crate::text::visible(&text);
        let shown: String = all.chars().take(SHOWN).collect();
        let more = if all.chars().count() > SHOWN { "…" } else { "" };
        let question =
            format!("a program wants to set your clipboard to `{shown}{more}` ({} bytes); allow? y/n", text.len());
        self.overlay = Some(Overlay::confirm(ConfirmKind::Clipboard(text), question));
    }

    /// Writes `text` to the user's clipboard (OSC 52, encoded here: what goes out is
    /// always teamster's own encoding, never a program's bytes).
    fn set_clipboard(&mut self, text: &str) {
        use base64::Engine;
        let encoded = base64::engine::general_purpose::STANDARD.encode(text.as_bytes());
        self.effects.push(Effect::Terminal(format!("\x1b]52;c;{encoded}\x07").into_bytes()));
    }

    pub fn focused_rect(&self) -> Option<Rect> {
        let f = self.focused()?;
        self.visible().into_iter().find(|(p, _)| *p == f).map(|(_, r)| r)
    }

    /// Carries out a bound action.
    pub fn run(&mut self, action: Action, key: Key) {
        let focused = self.focused();
        match action {
            Action::SplitRight => self.command(Command::Split { dir: Direction::Right, spawn: Spawn::Shell }),
            Action::SplitDown => self.command(Command::Split { dir: Direction::Down, spawn: Spawn::Shell }),
            Action::ClosePane => {
                let Some(p) = focused else { return };
                let branch = self.session.as_ref().and_then(|s| s.pane(p)).and_then(|i| i.branch.clone());
                if let Some(branch) = branch {
                    let what = self.pane_label(p);
                    let question = format!(
                        "close pane {} ({what}); its worktree on {branch}: enter keeps it, delete removes it (if committed), esc cancels",
                        self.pane_number(p)
                    );
                    self.overlay = Some(Overlay::confirm(ConfirmKind::ClosePaneWorktree(p), question));
                } else if self.pane_exited(p) {
                    self.command(Command::ClosePane { pane: p, worktree: None });
                } else {
                    let what = self.pane_label(p);
                    let question = format!(
                        "close pane {} ({what}, still running)? enter closes, other keys keep it",
                        self.pane_number(p)
                    );
                    self.overlay = Some(Overlay::confirm(ConfirmKind::ClosePane(p), question));
                }
            }
            Action::Focus(dir) => self.command(Command::FocusDirection { dir }),
            Action::FocusNext => self.command(Command::FocusNext),
            Action::FocusPrev => self.command(Command::FocusPrev),
            Action::FocusPane(n) => self.command(Command::FocusNumber { number: n }),
            Action::Resize(dir, amount) => self.command(Command::Resize { dir, amount }),
            Action::Zoom => self.command(Command::Zoom),
            Action::Equalize => self.command(Command::Equalize),
            Action::RenamePane => {
                if let Some(p) = focused {
                    let input =
                        self.session.as_ref().and_then(|s| s.pane(p)).and_then(|i| i.name.clone()).unwrap_or_default();
                    self.overlay = Some(Overlay::prompt(PromptKind::RenamePane(p), input));
                }
            }
            Action::DisplayPanes => {
                self.overlay =
                    Some(Overlay::DisplayPanes(DisplayPanes { until: Instant::now() + Duration::from_secs(3) }))
            }
            Action::NewTab => {
                self.mode = Mode::Normal;
                self.command(Command::NewTab { spawn: Spawn::Shell });
            }
            Action::CloseTab => {
                let n = self.visible().len();
                self.mode = Mode::Normal;
                let question = format!(
                    "close this tab and its {n} pane{}? enter closes, other keys keep it",
                    if n == 1 { "" } else { "s" }
                );
                self.overlay = Some(Overlay::confirm(ConfirmKind::CloseTab, question));
            }
            Action::NextTab => self.command(Command::NextTab),
            Action::PrevTab => self.command(Command::PrevTab),
            Action::SelectTab(n) => {
                self.mode = Mode::Normal;
                self.command(Command::SelectTab { index: n.saturating_sub(1) as usize });
            }
            Action::RenameTab => {
                self.mode = Mode::Normal;
                let input = self.session.as_ref().and_then(|s| s.tab()).map(|t| t.name.clone()).unwrap_or_default();
                self.overlay = Some(Overlay::prompt(PromptKind::RenameTab, input));
            }
            Action::AgentPicker => {
                self.overlay = Some(Overlay::Picker(Picker::loading()));
                self.request(Pending::Agents, |id| ClientMsg::ListAgents { id });
            }
            Action::Detach => self.effects.push(Effect::Send(ClientMsg::Detach)),
            Action::Help => self.overlay = Some(Overlay::Help(Help::default())),
            Action::ReloadConfig => self.effects.push(Effect::ReloadConfig),
            Action::EnterMode(Mode::Copy) => self.enter_copy(),
            Action::EnterMode(m) => self.mode = m,
            Action::SendKey => self.type_keys(vec![InputEvent::Key(key)]),
            Action::CopyMode => self.enter_copy(),
            Action::ScrollPageUp => {
                self.enter_copy();
                self.copy_action(CopyAction::PageUp);
            }
            Action::Copy(a) => self.copy_action(a),
            Action::Unbind => {}
            Action::Approvals => {
                self.sidebar.show();
                self.sidebar_changed();
                if self.sidebar_area().is_none() {
                    self.error("the terminal is too narrow for the sidebar; `teamster approvals` lists what waits");
                    return;
                }
                self.mode = Mode::Approvals;
                if self.sidebar.pending.is_empty() {
                    self.say("nothing is waiting for you");
                }
            }
            Action::ToggleSidebar => {
                self.sidebar.toggle();
                self.sidebar_changed();
            }
            Action::CostView => {
                self.mode = Mode::Normal;
                self.overlay = Some(Overlay::Cost(Cost::default()));
                self.request(Pending::Cost, |id| ClientMsg::Cost { id, session: None });
            }
            Action::Share => {
                self.mode = Mode::Normal;
                self.overlay = Some(Overlay::Share(Share::default()));
                let Some(s) = self.session.as_ref() else { return };
                // Shared already: its links again, not another share.
                if s.shared {
                    self.request(Pending::Shares, |id| ClientMsg::Shares { id });
                } else {
                    let share = crate::protocol::ShareRequest { session: Some(s.name.clone()), ..Default::default() };
                    self.request(Pending::Shares, |id| ClientMsg::Share { id, share });
                }
            }
            Action::Approve => self.resolve(true, None, None),
            Action::Deny => self.resolve(false, None, None),
            Action::DenyWithMessage => {
                if let Some(p) = self.sidebar.selected() {
                    self.overlay = Some(Overlay::prompt(PromptKind::DenyReason(p.id), String::new()));
                }
            }
            Action::AlwaysAllow => match self.sidebar.selected() {
                Some(p) if p.kind == crate::approval::ActionKind::ToolCall => {
                    let question = format!(
                        "allow `{}` from now on: s in this session, w in this workspace, e everywhere (esc cancels)",
                        super::view::truncate(&p.what, 41)
                    );
                    self.overlay = Some(Overlay::confirm(ConfirmKind::AlwaysAllow(p.id), question));
                }
                Some(p) if p.kind == crate::approval::ActionKind::LlmRequest => {
                    self.say("spend is approved one step at a time: approve it with y")
                }
                Some(p) => {
                    let kind = p.kind.words().to_string();
                    self.say(format!("{kind} is judged each time: approve it once with y"))
                }
                None => self.say("nothing is waiting for you"),
            },
            Action::JumpToPane => {
                let Some(p) = self.sidebar.selected() else { return };
                let here = self.session.as_ref().is_some_and(|s| s.name == p.session);
                if here {
                    let pane = p.pane;
                    self.mode = Mode::Normal;
                    self.command(Command::Focus { pane });
                } else {
                    let session = p.session.clone();
                    self.say(format!("that is in session {session}: `teamster attach -t {session}`"));
                }
            }
            Action::PendingNext => self.sidebar.step(1),
            Action::PendingPrev => self.sidebar.step(-1),
            Action::Switcher => {
                self.mode = Mode::Normal;
                self.open_switcher(Purpose::Jump);
            }
            Action::ToggleSync => {
                self.mode = Mode::Normal;
                let on = self.session.as_ref().and_then(|s| s.tab()).is_some_and(|t| t.synchronized);
                self.command(Command::ToggleSync);
                self.say(if on {
                    "typing goes to the focused pane again"
                } else {
                    "typing goes to every pane of this tab (not into another pane's question)"
                });
            }
            Action::NextLayout => {
                self.mode = Mode::Normal;
                let current = self.session.as_ref().and_then(|s| s.tab()).and_then(|t| t.arrangement);
                let next = crate::layout::Arrangement::next(current);
                self.command(Command::SelectLayout { arrangement: next });
                self.say(format!("layout: {}", next.name()));
            }
            Action::HandOff => {
                self.mode = Mode::Normal;
                if let Some(p) = focused {
                    self.hand_off_answer(p);
                }
            }
            Action::SwapPrev | Action::SwapNext => {
                self.mode = Mode::Normal;
                let panes = self.session.as_ref().and_then(|s| s.tab()).map(|t| t.layout.panes()).unwrap_or_default();
                let at = focused.and_then(|f| panes.iter().position(|p| *p == f));
                match at {
                    Some(i) if panes.len() > 1 => {
                        let n = panes.len();
                        let j = if action == Action::SwapNext { (i + 1) % n } else { (i + n - 1) % n };
                        self.command(Command::SwapPane { pane: panes[i], with: panes[j] });
                    }
                    _ => self.say("only one pane in this tab: nothing to swap with"),
                }
            }
            Action::BreakPane => {
                self.mode = Mode::Normal;
                if let Some(p) = focused {
                    self.command(Command::MovePane { pane: p, tab: None });
                }
            }
        }
    }

    /// Opens the switcher and asks the runner for every session.
    fn open_switcher(&mut self, purpose: Purpose) {
        self.overlay = Some(Overlay::Switcher(Switcher::new(purpose)));
        self.request(Pending::Switcher, |id| ClientMsg::List { id });
    }

    /// Asks for a pane's agent's last answer, to hand it on.
    fn hand_off_answer(&mut self, pane: PaneId) {
        if self.session.as_ref().and_then(|s| s.pane(pane)).is_none_or(|p| p.agent.is_none()) {
            self.error("no agent runs in this pane: select text in copy mode to send it on");
            return;
        }
        let what = format!("the last reply of {}", self.place_of(pane));
        self.request(Pending::HandOff(what), |id| ClientMsg::LastAnswer { id, target: pane.to_string() });
    }

    /// What the switcher chose: go there, or send the text there.
    fn switched(&mut self, purpose: Purpose, chosen: super::views::switcher::Entry) {
        match purpose {
            Purpose::Jump => {
                let here = self.session.as_ref().is_some_and(|s| s.name == chosen.session);
                if here {
                    self.command(Command::Focus { pane: chosen.pane });
                } else {
                    // Attached there first; the focus then applies to that session.
                    self.effects.push(Effect::SwitchSession(chosen.session));
                    self.command(Command::Focus { pane: chosen.pane });
                }
            }
            Purpose::SendTo { text, .. } => {
                let target = chosen.pane.to_string();
                let make = |id| ClientMsg::Send { id, target, text, keys: Vec::new(), enter: true };
                self.request(Pending::HandedOff(chosen.place), make);
            }
        }
    }

    fn pane_label(&self, pane: PaneId) -> String {
        let info = self.session.as_ref().and_then(|s| s.pane(pane));
        info.map(|i| i.name.clone().unwrap_or_else(|| i.command.clone())).unwrap_or_default()
    }

    /// The pane's number in its tab, as titles show it.
    /// Where a pane is, for messages: `pane 2`, or `tab 3 pane 1` when not in this tab.
    pub fn place_of(&self, pane: PaneId) -> String {
        let tab = self.session.as_ref().and_then(|s| s.tabs.iter().position(|t| t.layout.contains(pane)));
        let here = self.session.as_ref().map(|s| s.active_tab);
        match tab {
            Some(t) if Some(t) != here => format!("tab {} pane {}", t + 1, self.pane_number(pane)),
            _ => format!("pane {}", self.pane_number(pane)),
        }
    }

    pub fn pane_number(&self, pane: PaneId) -> usize {
        let tab = self.session.as_ref().and_then(|s| s.tabs.iter().find(|t| t.layout.contains(pane)));
        tab.and_then(|t| t.layout.panes().iter().position(|p| *p == pane)).map_or(0, |i| i + 1)
    }

    fn overlay_key(&mut self, key: Key) {
        let Some(mut overlay) = self.overlay.take() else { return };
        let reaction = overlay.view_mut().key(&key, self);
        let (stays, intent) = match reaction {
            Reaction::Stay => (true, None),
            Reaction::Close => (false, None),
            Reaction::CloseAnd(intent) => (false, Some(intent)),
            Reaction::StayAnd(intent) => (true, Some(intent)),
        };
        if stays {
            self.overlay = Some(overlay);
        }
        if let Some(intent) = intent {
            self.carry_out(intent);
        }
    }

    /// Does what a view asked.
    fn carry_out(&mut self, intent: Intent) {
        match intent {
            Intent::Command(command) => self.command(command),
            Intent::RemoveWorktree(pane) => {
                let command = Command::ClosePane { pane, worktree: Some(WorktreeChoice::Remove) };
                self.request(Pending::RemoveWorktree(pane), |id| ClientMsg::Command { id, command });
            }
            Intent::Decide(action, decision) => self.decide(action, decision),
            Intent::Copy { text, said } => {
                self.set_clipboard(&text);
                if !said.is_empty() {
                    self.say(said);
                }
            }
            Intent::Unshare(session) => {
                self.request(Pending::Unshare, |id| ClientMsg::Unshare { id, share: None, session: Some(session) })
            }
            Intent::Submit(kind, input) => self.submit_prompt(kind, input),
            Intent::Chosen(purpose, entry) => self.switched(purpose, entry),
        }
    }

    fn submit_prompt(&mut self, kind: PromptKind, input: String) {
        match kind {
            PromptKind::RenamePane(pane) => self.command(Command::RenamePane { pane, name: input }),
            PromptKind::RenameTab => self.command(Command::RenameTab { name: input }),
            PromptKind::DenyReason(action) => {
                let reason = if input.trim().is_empty() { "denied by the user".to_string() } else { input };
                self.decide(action, Decision::Deny { reason });
            }
            PromptKind::Search { backward } => {
                if input.is_empty() {
                    return;
                }
                if let Some(c) = &mut self.copy {
                    c.last_search = Some((input, backward));
                }
                self.search(backward);
            }
        }
    }

    // ---- copy mode ----

    fn enter_copy(&mut self) {
        let Some(p) = self.focused() else { return };
        if self.copy.as_ref().is_some_and(|c| c.pane == p) {
            return;
        }
        let Some(content) = self.panes.get(&p) else { return };
        self.copy = Some(CopyState::new(p, content));
        self.mode = Mode::Copy;
        self.fetch_lines();
    }

    fn leave_copy(&mut self) {
        self.copy = None;
        if self.mode == Mode::Copy {
            self.mode = Mode::Normal;
        }
    }

    /// Leaves copy mode if the scrollback it was looking at was renumbered (reflow).
    fn check_copy(&mut self) {
        let Some(c) = &mut self.copy else { return };
        let Some(content) = self.panes.get(&c.pane) else { return };
        if content.epoch != c.epoch {
            self.leave_copy();
            self.say("the pane was resized; left copy mode");
            return;
        }
        // Lines older than the scrollback keeps have gone while we looked.
        c.top = c.top.max(content.first_line);
        c.cursor.0 = c.cursor.0.max(content.first_line);
    }

    fn fetch_lines(&mut self) {
        let Some(c) = &mut self.copy else { return };
        let Some(content) = self.panes.get(&c.pane) else { return };
        let pane = c.pane;
        for from in c.missing(content) {
            self.request(Pending::Lines, |id| ClientMsg::GetLines { id, pane, from, count: super::copy::FETCH as u16 });
        }
    }

    fn copy_action(&mut self, action: CopyAction) {
        let Some(c) = &mut self.copy else { return };
        let Some(content) = self.panes.get(&c.pane) else { return };
        let pane = c.pane;
        match c.act(action, content) {
            CopyOutcome::Nothing => self.fetch_lines(),
            CopyOutcome::Exit => self.leave_copy(),
            CopyOutcome::Yank { start, end, block } => {
                self.request(Pending::Yank, |id| ClientMsg::GetText { id, pane, start, end, block });
                self.leave_copy();
            }
            CopyOutcome::Send { start, end, block } => {
                let what = "the selection".to_string();
                self.request(Pending::HandOff(what), |id| ClientMsg::GetText { id, pane, start, end, block });
                self.leave_copy();
            }
            CopyOutcome::SendAnswer => {
                self.leave_copy();
                self.hand_off_answer(pane);
            }
            CopyOutcome::Search { backward } => {
                self.overlay = Some(Overlay::prompt(PromptKind::Search { backward }, String::new()));
            }
            CopyOutcome::SearchAgain { backward } => {
                let Some((_, first_backward)) = c.last_search.clone() else {
                    self.error("no search yet; press / to search");
                    return;
                };
                // `N` searches the other way from the original search.
                self.search(backward != first_backward);
            }
        }
    }

    fn search(&mut self, backward: bool) {
        let Some(c) = &self.copy else { return };
        let Some((query, _)) = c.last_search.clone() else { return };
        let (pane, from) = (c.pane, c.cursor);
        let len = query.chars().count() as u16;
        self.request(Pending::Search { len, backward }, |id| ClientMsg::Search { id, pane, query, from, backward });
    }

    // ---- mouse ----

    fn on_mouse(&mut self, m: MouseEvent) {
        if !self.mouse || self.overlay.is_some() {
            return;
        }
        // The sidebar lies over the panes: what is pointed at there is the sidebar's.
        if self.sidebar_area().is_some_and(|r| r.contains(m.x, m.y)) && self.mouse_down.is_none() {
            return;
        }
        if m.y + 1 == self.size.rows {
            if m.kind == MouseKind::Press
                && m.button == MouseButton::Left
                && let Some(index) = super::view::tab_at(self, m.x)
            {
                self.command(Command::SelectTab { index });
            }
            return;
        }
        // A drag and its release belong to the pane the button went down in, wherever the
        // pointer is now.
        let held = match m.kind {
            MouseKind::Drag | MouseKind::Release => self.mouse_down,
            _ => None,
        };
        let found = match held {
            Some(p) => self.visible().into_iter().find(|(q, _)| *q == p),
            None => self.visible().into_iter().find(|(_, r)| r.contains(m.x, m.y)),
        };
        let Some((pane, rect)) = found else {
            self.mouse_down = None;
            return;
        };
        let inner = rect.inner();
        let Some(content) = self.panes.get(&pane) else { return };
        let wants_mouse = content.modes.mouse && self.copy.is_none();
        let alt_screen = content.modes.alt_screen;
        let local = MouseEvent {
            x: m.x.saturating_sub(inner.x).min(inner.w.saturating_sub(1)),
            y: m.y.saturating_sub(inner.y).min(inner.h.saturating_sub(1)),
            ..m
        };
        let focused = self.focused() == Some(pane);
        match m.kind {
            MouseKind::Press => {
                if !focused {
                    self.command(Command::Focus { pane });
                }
                self.mouse_down = None;
                if wants_mouse && inner.contains(m.x, m.y) {
                    self.mouse_down = Some(pane);
                    self.send_to_pane(pane, vec![InputEvent::Mouse(local)]);
                }
            }
            MouseKind::WheelUp | MouseKind::WheelDown => {
                let up = m.kind == MouseKind::WheelUp;
                if wants_mouse {
                    self.send_to_pane(pane, vec![InputEvent::Mouse(local)]);
                } else if alt_screen {
                    // Full-screen programs that did not ask for the mouse scroll with arrows.
                    let key = InputEvent::Key(Key::new(if up { KeyCode::Up } else { KeyCode::Down }, 0));
                    self.send_to_pane(pane, vec![key; WHEEL_LINES as usize]);
                } else {
                    self.wheel_scroll(pane, focused, up);
                }
            }
            // A drag and its release go where the button went down (even past the border,
            // clamped to the pane); a move, only inside it.
            MouseKind::Release | MouseKind::Drag => {
                if wants_mouse && self.mouse_down == Some(pane) {
                    self.send_to_pane(pane, vec![InputEvent::Mouse(local)]);
                }
                if m.kind == MouseKind::Release {
                    self.mouse_down = None;
                }
            }
            MouseKind::Move => {
                if wants_mouse && focused && inner.contains(m.x, m.y) {
                    self.send_to_pane(pane, vec![InputEvent::Mouse(local)]);
                }
            }
        }
    }

    fn wheel_scroll(&mut self, pane: PaneId, focused: bool, up: bool) {
        if !focused {
            self.command(Command::Focus { pane });
            return;
        }
        if self.copy.is_none() {
            if !up {
                return;
            }
            self.enter_copy();
        }
        let Some(c) = &mut self.copy else { return };
        let Some(content) = self.panes.get(&c.pane) else { return };
        let height = content.size.rows as u64;
        if up {
            c.top = c.top.saturating_sub(WHEEL_LINES).max(content.first_line);
        } else {
            c.top = (c.top + WHEEL_LINES).min(content.screen_top);
        }
        c.cursor.0 = c.cursor.0.clamp(c.top, c.top + height.saturating_sub(1));
        if !up && c.top >= content.screen_top && c.anchor.is_none() {
            self.leave_copy();
            return;
        }
        self.fetch_lines();
    }
}

/// The first `n` characters of `s`, with an ellipsis if cut.
#[cfg(test)]
mod tests;
