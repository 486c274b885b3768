//! The TUI's state and the one place it changes: `App::update` takes an event (input from
//! the terminal, a message from the runner, a tick) and changes state, leaving effects
//! (messages for the runner, bytes for the terminal) for the loop to carry out.
//! Drawing is elsewhere (`view`) and never changes state.

use super::copy::{CopyOutcome, CopyState};
use super::panes::PaneContent;
use super::sidebar::{self, Sidebar};
use super::views::{Compare, Cost, DisplayPanes, Help, Intent, Picker, Purpose, Reaction, Share, Switcher};
pub use super::views::{ConfirmKind, Overlay, PickerItem, PromptKind};
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
    /// The tab's worktree panes compared.
    Compare,
    /// A pane's branch, for its review.
    Diff,
    Shares,
    Unshare,
    /// The sessions for the switcher.
    Switcher,
    /// Text to hand on to another agent (a selection, or an agent's last answer): what it is.
    HandOff(String),
    /// Handed on: to which pane.
    HandedOff(String),
    /// A race started from the picker.
    Race,
    /// A pane's branch merged: then the others may be cleared.
    Merged(PaneId),
    /// A reply whose text is said as it is.
    Said,
    /// A comment from a shared link was taken.
    Commented,
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
            (false, _) => Decision::deny_by_person(reason),
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
            Some(Overlay::Compare(c)) => c.next_refresh,
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
                if let Some(Overlay::Compare(c)) = &mut self.overlay
                    && c.next_refresh.is_some_and(|at| at <= now)
                {
                    c.next_refresh = None;
                    let near = c.near;
                    self.request(Pending::Compare, |id| ClientMsg::Compare { id, session: None, near });
                }
            }
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
}

mod actions;
mod copy_mode;
mod keys;
mod mouse;
mod server;
#[cfg(test)]
mod tests;
