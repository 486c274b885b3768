//! Key bindings: which key does what in each mode.
//!
//! Keymaps are TOML files (`keymaps/default.toml`, `keymaps/tmux.toml`, embedded in the
//! binary). Each table is a mode; each entry maps a key to an action:
//!
//! ```toml
//! [normal]
//! "alt-h" = "focus-left"
//! "alt-1" = "focus-pane 1"
//! ```
//!
//! A user's `keymap.toml` has the same shape and replaces only the keys it names;
//! `"none"` removes a binding.

use super::error::{ConfigError, parse_toml};
use crate::input::Key;
use crate::layout::Direction;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::Path;
use toml::Spanned;

pub const DEFAULT_KEYMAP: &str = include_str!("../../keymaps/default.toml");
pub const TMUX_KEYMAP: &str = include_str!("../../keymaps/tmux.toml");
pub const ALT_KEYMAP: &str = include_str!("../../keymaps/alt.toml");

/// How keys are read. In `normal` and `locked`, keys with no binding go to the focused
/// pane; `prefix` lasts one key; the other modes last until an action leaves them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    Normal,
    Locked,
    Prefix,
    Tab,
    Resize,
    Copy,
    /// Keys act on the approval sidebar's pending actions.
    Approvals,
}

impl Mode {
    pub const ALL: [Mode; 7] =
        [Mode::Normal, Mode::Locked, Mode::Prefix, Mode::Tab, Mode::Resize, Mode::Copy, Mode::Approvals];

    pub fn name(self) -> &'static str {
        match self {
            Mode::Normal => "normal",
            Mode::Locked => "locked",
            Mode::Prefix => "prefix",
            Mode::Tab => "tab",
            Mode::Resize => "resize",
            Mode::Copy => "copy",
            Mode::Approvals => "approvals",
        }
    }

    fn from_name(s: &str) -> Option<Mode> {
        Mode::ALL.into_iter().find(|m| m.name() == s)
    }

    /// Keys with no binding in this mode are typed into the focused pane.
    pub fn passes_keys_through(self) -> bool {
        matches!(self, Mode::Normal | Mode::Locked)
    }
}

/// Movement and selection inside copy mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CopyAction {
    Left,
    Right,
    Up,
    Down,
    WordNext,
    WordPrev,
    WordEnd,
    LineStart,
    LineEnd,
    Top,
    Bottom,
    PageUp,
    PageDown,
    HalfPageUp,
    HalfPageDown,
    SearchForward,
    SearchBackward,
    SearchNext,
    SearchPrev,
    Select,
    SelectLine,
    SelectBlock,
    /// Copy the selection to the clipboard and leave copy mode.
    Yank,
    /// Send the selection (or, with none, the agent's last answer) to another pane's
    /// agent, chosen from a list.
    SendTo,
    Exit,
}

const COPY_ACTIONS: &[(&str, CopyAction)] = &[
    ("copy-left", CopyAction::Left),
    ("copy-right", CopyAction::Right),
    ("copy-up", CopyAction::Up),
    ("copy-down", CopyAction::Down),
    ("copy-word-next", CopyAction::WordNext),
    ("copy-word-prev", CopyAction::WordPrev),
    ("copy-word-end", CopyAction::WordEnd),
    ("copy-line-start", CopyAction::LineStart),
    ("copy-line-end", CopyAction::LineEnd),
    ("copy-top", CopyAction::Top),
    ("copy-bottom", CopyAction::Bottom),
    ("copy-page-up", CopyAction::PageUp),
    ("copy-page-down", CopyAction::PageDown),
    ("copy-half-page-up", CopyAction::HalfPageUp),
    ("copy-half-page-down", CopyAction::HalfPageDown),
    ("copy-search-forward", CopyAction::SearchForward),
    ("copy-search-backward", CopyAction::SearchBackward),
    ("copy-search-next", CopyAction::SearchNext),
    ("copy-search-prev", CopyAction::SearchPrev),
    ("copy-select", CopyAction::Select),
    ("copy-select-line", CopyAction::SelectLine),
    ("copy-select-block", CopyAction::SelectBlock),
    ("copy-yank", CopyAction::Yank),
    ("copy-send", CopyAction::SendTo),
    ("copy-exit", CopyAction::Exit),
];

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Action {
    SplitRight,
    SplitDown,
    ClosePane,
    Focus(Direction),
    FocusNext,
    FocusPrev,
    /// By the number shown in the pane's title (1-based).
    FocusPane(u8),
    Resize(Direction, u16),
    Zoom,
    Equalize,
    RenamePane,
    /// Show each pane's number; the next digit focuses that pane.
    DisplayPanes,
    NewTab,
    CloseTab,
    NextTab,
    PrevTab,
    /// By the number shown in the status bar (1-based).
    SelectTab(u8),
    RenameTab,
    AgentPicker,
    Detach,
    Help,
    ReloadConfig,
    EnterMode(Mode),
    /// Type the key itself into the pane (e.g. the prefix key pressed twice).
    SendKey,
    CopyMode,
    /// Enter copy mode a page up, as shift-pageup does in most terminals.
    ScrollPageUp,
    Copy(CopyAction),
    /// Go to the approval sidebar (showing it).
    Approvals,
    /// Show or hide the sidebar.
    ToggleSidebar,
    /// Spend by agent, model and day.
    CostView,
    /// The tab's worktree panes side by side (a race's agents).
    CompareView,
    /// The focused worktree pane's branch, to review and comment on.
    ReviewView,
    /// Share this session by link (or show its links if it is shared).
    Share,
    /// On a shared link: a comment for the sharer and everyone watching, on the focused
    /// pane or the selected pending action.
    Comment,
    // On the selected pending action:
    Approve,
    Deny,
    DenyWithMessage,
    /// Approve, and allow this very action from now on (asks where).
    AlwaysAllow,
    JumpToPane,
    PendingNext,
    PendingPrev,
    /// Every session, tab and pane in one list; go to one.
    Switcher,
    /// Typing into this tab goes to all its panes (or, again, to the focused one).
    ToggleSync,
    /// Send the focused agent's last answer to another pane's agent.
    HandOff,
    /// Arrange the tab's panes as the next layout (tiled, main-vertical, ...).
    NextLayout,
    /// Exchange the focused pane's place with the pane before or after it.
    SwapPrev,
    SwapNext,
    /// Move the focused pane to a new tab of its own.
    BreakPane,
    /// Explicitly no binding: removes one inherited from the base keymap.
    Unbind,
}

const SIMPLE_ACTIONS: &[(&str, Action)] = &[
    ("split-right", Action::SplitRight),
    ("split-down", Action::SplitDown),
    ("close-pane", Action::ClosePane),
    ("focus-left", Action::Focus(Direction::Left)),
    ("focus-right", Action::Focus(Direction::Right)),
    ("focus-up", Action::Focus(Direction::Up)),
    ("focus-down", Action::Focus(Direction::Down)),
    ("focus-next", Action::FocusNext),
    ("focus-prev", Action::FocusPrev),
    ("zoom", Action::Zoom),
    ("equalize", Action::Equalize),
    ("rename-pane", Action::RenamePane),
    ("display-panes", Action::DisplayPanes),
    ("new-tab", Action::NewTab),
    ("close-tab", Action::CloseTab),
    ("next-tab", Action::NextTab),
    ("prev-tab", Action::PrevTab),
    ("rename-tab", Action::RenameTab),
    ("agent-picker", Action::AgentPicker),
    ("detach", Action::Detach),
    ("help", Action::Help),
    ("reload-config", Action::ReloadConfig),
    ("send-key", Action::SendKey),
    ("copy-mode", Action::CopyMode),
    ("scroll-page-up", Action::ScrollPageUp),
    ("approvals", Action::Approvals),
    ("toggle-sidebar", Action::ToggleSidebar),
    ("cost", Action::CostView),
    ("compare", Action::CompareView),
    ("review", Action::ReviewView),
    ("share", Action::Share),
    ("comment", Action::Comment),
    ("approve", Action::Approve),
    ("deny", Action::Deny),
    ("deny-with-message", Action::DenyWithMessage),
    ("always-allow", Action::AlwaysAllow),
    ("jump-to-pane", Action::JumpToPane),
    ("pending-next", Action::PendingNext),
    ("pending-prev", Action::PendingPrev),
    ("switcher", Action::Switcher),
    ("toggle-sync", Action::ToggleSync),
    ("hand-off", Action::HandOff),
    ("next-layout", Action::NextLayout),
    ("swap-prev", Action::SwapPrev),
    ("swap-next", Action::SwapNext),
    ("break-pane", Action::BreakPane),
    ("none", Action::Unbind),
];

impl Action {
    /// Where the action comes in a listing: the order of the tables above.
    fn rank(&self) -> usize {
        let simple = SIMPLE_ACTIONS.iter().position(|(_, a)| a == self);
        match self {
            Action::FocusPane(_) => 7,
            Action::Resize(..) => 9,
            Action::SelectTab(_) => 16,
            Action::EnterMode(_) => 22,
            Action::Copy(c) => 100 + COPY_ACTIONS.iter().position(|(_, x)| x == c).unwrap_or(0),
            _ => simple.unwrap_or(99),
        }
    }
}

impl std::str::FromStr for Action {
    type Err = String;

    fn from_str(s: &str) -> Result<Action, String> {
        let mut words = s.split_whitespace();
        let name = words.next().unwrap_or("");
        let arg = words.next();
        if words.next().is_some() {
            return Err(format!("`{s}` has too many words; an action takes at most one argument"));
        }
        let number = |what: &str| -> Result<u16, String> {
            match arg {
                Some(a) => a.parse::<u16>().map_err(|_| format!("`{name}` takes a {what}, not `{a}`")),
                None => Err(format!("`{name}` needs a {what}, e.g. `{name} 1`")),
            }
        };
        let no_arg = |a: Action| match arg {
            None => Ok(a),
            Some(x) => Err(format!("`{name}` takes no argument, but `{x}` was given")),
        };
        if let Some((_, a)) = SIMPLE_ACTIONS.iter().find(|(n, _)| *n == name) {
            return no_arg(*a);
        }
        if let Some((_, c)) = COPY_ACTIONS.iter().find(|(n, _)| *n == name) {
            return no_arg(Action::Copy(*c));
        }
        let resize = |d: Direction| -> Result<Action, String> {
            let amount = if arg.is_some() {
                number("number of cells")?
            } else {
                if matches!(d, Direction::Left | Direction::Right) { 2 } else { 1 }
            };
            Ok(Action::Resize(d, amount.max(1)))
        };
        match name {
            "focus-pane" => Ok(Action::FocusPane(number("pane number")?.clamp(1, 99) as u8)),
            "select-tab" => Ok(Action::SelectTab(number("tab number")?.clamp(1, 99) as u8)),
            "resize-left" => resize(Direction::Left),
            "resize-right" => resize(Direction::Right),
            "resize-up" => resize(Direction::Up),
            "resize-down" => resize(Direction::Down),
            "enter-mode" => match arg.and_then(Mode::from_name) {
                Some(m) => Ok(Action::EnterMode(m)),
                None => Err(format!(
                    "`enter-mode` needs one of: {}",
                    Mode::ALL.iter().map(|m| m.name()).collect::<Vec<_>>().join(", ")
                )),
            },
            _ => Err(format!("`{s}` is not an action; `teamster keys --actions` lists them all")),
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some((n, _)) = SIMPLE_ACTIONS.iter().find(|(_, a)| a == self) {
            return f.write_str(n);
        }
        match self {
            Action::Copy(c) => {
                let name = COPY_ACTIONS.iter().find(|(_, x)| x == c).map_or("copy", |(n, _)| *n);
                f.write_str(name)
            }
            Action::FocusPane(n) => write!(f, "focus-pane {n}"),
            Action::SelectTab(n) => write!(f, "select-tab {n}"),
            Action::Resize(d, n) => write!(f, "resize-{} {n}", d.name()),
            Action::EnterMode(m) => write!(f, "enter-mode {}", m.name()),
            _ => f.write_str("?"),
        }
    }
}

/// Every action name, for `teamster keys --actions` and error messages.
pub fn action_names() -> Vec<String> {
    let mut names: Vec<String> = SIMPLE_ACTIONS.iter().map(|(n, _)| n.to_string()).collect();
    names.extend(
        ["focus-pane N", "select-tab N", "resize-left [N]", "resize-right [N]", "resize-up [N]", "resize-down [N]"]
            .map(String::from),
    );
    names.push(format!("enter-mode {}", Mode::ALL.iter().map(|m| m.name()).collect::<Vec<_>>().join("|")));
    names.extend(COPY_ACTIONS.iter().map(|(n, _)| n.to_string()));
    names
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Keymap {
    modes: BTreeMap<Mode, HashMap<Key, Action>>,
}

type KeymapFile = BTreeMap<Spanned<String>, BTreeMap<Spanned<String>, Spanned<String>>>;

impl Keymap {
    /// The base keymap by name (`default`, `alt`, `tmux`) or path, then the user's overrides.
    pub fn load(base: &str, overrides: Option<&Path>) -> Result<Keymap, ConfigError> {
        let mut map = Keymap::default();
        match base {
            "default" => map.merge(Path::new("keymaps/default.toml (built in)"), DEFAULT_KEYMAP)?,
            "tmux" => map.merge(Path::new("keymaps/tmux.toml (built in)"), TMUX_KEYMAP)?,
            "alt" => map.merge(Path::new("keymaps/alt.toml (built in)"), ALT_KEYMAP)?,
            path => {
                let path = Path::new(path);
                let text = std::fs::read_to_string(path).map_err(|e| {
                    ConfigError::new(
                        path,
                        0,
                        "keymap",
                        format!("cannot read it ({e}); use \"default\", \"alt\", \"tmux\" or a path to a keymap file"),
                    )
                })?;
                map.merge(path, &text)?;
            }
        }
        if let Some(path) = overrides.filter(|p| p.exists()) {
            let text = std::fs::read_to_string(path)
                .map_err(|e| ConfigError::new(path, 0, "", format!("cannot read it: {e}")))?;
            map.merge(path, &text)?;
        }
        Ok(map)
    }

    /// Applies a keymap file over this one; only the keys it names change.
    pub fn merge(&mut self, file: &Path, text: &str) -> Result<(), ConfigError> {
        let parsed: KeymapFile = parse_toml(file, text)?;
        let line = |span: std::ops::Range<usize>| super::error::line_of(text, span.start);
        for (mode_name, entries) in parsed {
            let mode = Mode::from_name(mode_name.get_ref()).ok_or_else(|| {
                let modes = Mode::ALL.iter().map(|m| m.name()).collect::<Vec<_>>().join(", ");
                ConfigError::new(
                    file,
                    line(mode_name.span()),
                    mode_name.get_ref().clone(),
                    format!("not a mode; the modes are {modes}"),
                )
            })?;
            let table = self.modes.entry(mode).or_default();
            for (key_name, action) in entries {
                let path = format!("{}.{}", mode.name(), key_name.get_ref());
                let key: Key = key_name.get_ref().parse().map_err(|e: crate::input::KeyNameError| {
                    ConfigError::new(file, line(key_name.span()), path.clone(), e.0)
                })?;
                let action: Action = action
                    .get_ref()
                    .parse()
                    .map_err(|e: String| ConfigError::new(file, line(action.span()), path.clone(), e))?;
                if action == Action::Unbind {
                    table.remove(&key);
                } else {
                    table.insert(key, action);
                }
            }
        }
        Ok(())
    }

    pub fn action(&self, mode: Mode, key: &Key) -> Option<Action> {
        self.modes.get(&mode)?.get(key).copied()
    }

    /// The first key (by name, so the choice is stable) bound to `action` in `mode`.
    pub fn key_for(&self, mode: Mode, action: Action) -> Option<Key> {
        let table = self.modes.get(&mode)?;
        let mut keys: Vec<Key> = table.iter().filter(|(_, a)| **a == action).map(|(k, _)| *k).collect();
        keys.sort_by_key(|k| (k.to_string().len(), k.to_string()));
        keys.first().copied()
    }

    /// The keys that reach `action` from normal mode, as a person presses them: its own
    /// key (`alt-x`), or the prefix and then its key (`ctrl-\ x`).
    pub fn keys_for(&self, action: Action) -> Option<String> {
        if let Some(k) = self.key_for(Mode::Normal, action) {
            return Some(k.to_string());
        }
        let prefix = self.key_for(Mode::Normal, Action::EnterMode(Mode::Prefix))?;
        self.key_for(Mode::Prefix, action).map(|k| format!("{prefix} {k}"))
    }

    /// All bindings of a mode for the help overlay: grouped as the actions are listed
    /// here (panes, tabs, the session, copy mode), then by key.
    pub fn bindings(&self, mode: Mode) -> Vec<(Key, Action)> {
        let mut all: Vec<(Key, Action)> =
            self.modes.get(&mode).map(|t| t.iter().map(|(k, a)| (*k, *a)).collect()).unwrap_or_default();
        all.sort_by_key(|(k, a)| (a.rank(), a.to_string(), k.to_string().len(), k.to_string()));
        all
    }

    /// Short hints for the status bar: what the most useful actions are bound to here.
    pub fn hints(&self, mode: Mode) -> Vec<(String, &'static str)> {
        let wanted: &[(Action, &str)] = match mode {
            Mode::Copy => &[
                (Action::Copy(CopyAction::SearchForward), "search"),
                (Action::Copy(CopyAction::SearchNext), "next"),
                (Action::Copy(CopyAction::Select), "select"),
                (Action::Copy(CopyAction::Yank), "copy"),
                (Action::Copy(CopyAction::Exit), "exit"),
            ],
            Mode::Resize => &[
                (Action::Resize(Direction::Left, 2), "←"),
                (Action::Resize(Direction::Down, 1), "↓"),
                (Action::Resize(Direction::Up, 1), "↑"),
                (Action::Resize(Direction::Right, 2), "→"),
                (Action::Equalize, "even"),
                (Action::EnterMode(Mode::Normal), "done"),
            ],
            Mode::Tab => &[
                (Action::Switcher, "switch"),
                (Action::ToggleSync, "sync"),
                (Action::NewTab, "new"),
                (Action::PrevTab, "prev"),
                (Action::NextTab, "next"),
                (Action::RenameTab, "rename"),
                (Action::CloseTab, "close"),
                (Action::EnterMode(Mode::Normal), "done"),
            ],
            Mode::Locked => &[(Action::EnterMode(Mode::Normal), "unlock")],
            Mode::Approvals => &[
                (Action::Approve, "approve"),
                (Action::Deny, "deny"),
                (Action::DenyWithMessage, "tell"),
                (Action::AlwaysAllow, "always"),
                (Action::JumpToPane, "go"),
                (Action::EnterMode(Mode::Normal), "back"),
            ],
            Mode::Normal | Mode::Prefix => &[
                (Action::SplitRight, "split"),
                (Action::SplitDown, "split↓"),
                (Action::Focus(Direction::Left), "focus"),
                (Action::Zoom, "zoom"),
                (Action::AgentPicker, "agents"),
                (Action::Switcher, "switch"),
                (Action::CopyMode, "scroll"),
                (Action::EnterMode(Mode::Tab), "tabs"),
                (Action::NewTab, "tab"),
                (Action::Detach, "detach"),
                (Action::Help, "help"),
                (Action::EnterMode(Mode::Prefix), "prefix"),
            ],
        };
        let bound = |m: Mode| -> Vec<(String, &'static str)> {
            wanted.iter().filter_map(|(a, label)| self.key_for(m, *a).map(|k| (k.to_string(), *label))).collect()
        };
        // A keymap whose [normal] holds little but the prefix (the default): the prefix,
        // then what follows it.
        let prefix = self.key_for(Mode::Normal, Action::EnterMode(Mode::Prefix));
        match (mode, prefix) {
            (Mode::Normal, Some(p)) if bound(Mode::Normal).len() < 3 => {
                let mut hints = vec![(p.to_string(), "then")];
                hints.extend(bound(Mode::Prefix).into_iter().filter(|(_, label)| *label != "prefix"));
                hints
            }
            _ => bound(mode),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(s: &str) -> Key {
        s.parse().expect("key")
    }

    #[test]
    fn shipped_keymaps_load() {
        let d = Keymap::load("default", None).expect("default keymap");
        assert_eq!(d.action(Mode::Normal, &key("ctrl-\\")), Some(Action::EnterMode(Mode::Prefix)));
        assert_eq!(d.action(Mode::Prefix, &key("h")), Some(Action::Focus(Direction::Left)));
        assert_eq!(d.action(Mode::Prefix, &key("3")), Some(Action::FocusPane(3)));
        assert_eq!(d.action(Mode::Prefix, &key("ctrl-\\")), Some(Action::SendKey));
        let a = Keymap::load("alt", None).expect("alt keymap");
        assert_eq!(a.action(Mode::Normal, &key("alt-h")), Some(Action::Focus(Direction::Left)));
        assert_eq!(a.action(Mode::Normal, &key("alt-3")), Some(Action::FocusPane(3)));
        let t = Keymap::load("tmux", None).expect("tmux keymap");
        assert_eq!(t.action(Mode::Normal, &key("ctrl-b")), Some(Action::EnterMode(Mode::Prefix)));
        assert_eq!(t.action(Mode::Prefix, &key("%")), Some(Action::SplitRight));
        assert_eq!(t.action(Mode::Prefix, &key("\"")), Some(Action::SplitDown));
        assert_eq!(t.action(Mode::Prefix, &key("d")), Some(Action::Detach));
        assert_eq!(t.action(Mode::Prefix, &key("ctrl-b")), Some(Action::SendKey));
    }

    #[test]
    fn both_keymaps_reach_every_pane_and_tab_action() {
        for name in ["default", "alt", "tmux"] {
            let m = Keymap::load(name, None).expect("keymap");
            let all: Vec<Action> =
                Mode::ALL.iter().flat_map(|&mode| m.bindings(mode).into_iter().map(|(_, a)| a)).collect();
            for needed in [
                Action::SplitRight,
                Action::SplitDown,
                Action::ClosePane,
                Action::Focus(Direction::Left),
                Action::Focus(Direction::Right),
                Action::Focus(Direction::Up),
                Action::Focus(Direction::Down),
                Action::Zoom,
                Action::NewTab,
                Action::NextTab,
                Action::PrevTab,
                Action::SelectTab(1),
                Action::AgentPicker,
                Action::Detach,
                Action::CopyMode,
                Action::Help,
                Action::Copy(CopyAction::Yank),
                Action::Copy(CopyAction::SearchForward),
                Action::Copy(CopyAction::SearchBackward),
            ] {
                assert!(all.contains(&needed), "{name} keymap has no key for {needed}");
            }
            assert!(all.iter().any(|a| matches!(a, Action::Resize(..))), "{name} keymap cannot resize");
            assert!(
                all.iter().any(|a| matches!(a, Action::FocusPane(_) | Action::DisplayPanes)),
                "{name} keymap cannot focus a pane by number"
            );
        }
    }

    use crate::input::{KeyCode, Mods};

    /// The default takes from the programs in panes only its prefix (and shift-pageup):
    /// nothing a typed word, a readline or emacs chord, or an agent's keys contain, and
    /// nothing that closes, kills or detaches without the prefix first.
    #[test]
    fn the_default_takes_only_its_prefix_from_the_programs() {
        let d = Keymap::load("default", None).expect("default");
        let taken: Vec<String> = d.bindings(Mode::Normal).iter().map(|(k, _)| k.to_string()).collect();
        assert_eq!(taken, ["ctrl-\\", "shift-pageup"]);
        for c in (' '..='~').chain("éü日".chars()) {
            for mods in [0, Mods::ALT, Mods::CTRL, Mods::CTRL | Mods::ALT] {
                let k = Key::new(KeyCode::Char(c), mods);
                if k != key("ctrl-\\") {
                    assert_eq!(d.action(Mode::Normal, &k), None, "{k} is taken");
                }
            }
        }
        for named in
            ["enter", "tab", "shift-tab", "backspace", "esc", "alt-enter", "shift-enter", "ctrl-left", "alt-left"]
        {
            assert_eq!(d.action(Mode::Normal, &key(named)), None, "{named} is taken");
        }
        for destructive in [Action::ClosePane, Action::CloseTab, Action::Detach] {
            assert!(d.bindings(Mode::Normal).iter().all(|(_, a)| *a != destructive), "{destructive}");
            assert!(d.bindings(Mode::Locked).iter().all(|(_, a)| *a != destructive), "{destructive}");
        }
    }

    #[test]
    fn user_file_overrides_only_the_keys_it_names() {
        let mut m = Keymap::load("alt", None).expect("alt");
        m.merge(Path::new("keymap.toml"), "[normal]\n\"alt-h\" = \"zoom\"\n\"alt-z\" = \"none\"\n").expect("merge");
        assert_eq!(m.action(Mode::Normal, &key("alt-h")), Some(Action::Zoom));
        assert_eq!(m.action(Mode::Normal, &key("alt-z")), None);
        assert_eq!(m.action(Mode::Normal, &key("alt-l")), Some(Action::Focus(Direction::Right)));
    }

    #[test]
    fn errors_name_the_line_and_key() {
        let mut m = Keymap::default();
        let e = m
            .merge(Path::new("k.toml"), "[normal]\n\"alt-h\" = \"focus-left\"\n\"alt-j\" = \"fly-away\"\n")
            .unwrap_err();
        assert_eq!((e.line, e.key.as_str()), (3, "normal.alt-j"));
        assert!(e.message.contains("not an action"), "{e}");
        let e = m.merge(Path::new("k.toml"), "[normal]\n\"hyper-q\" = \"zoom\"\n").unwrap_err();
        assert_eq!((e.line, e.key.as_str()), (2, "normal.hyper-q"));
        let e = m.merge(Path::new("k.toml"), "[nomral]\n").unwrap_err();
        assert!(e.message.contains("not a mode"), "{e}");
        let e = m.merge(Path::new("k.toml"), "[normal]\n\"a\" = \"focus-pane\"\n").unwrap_err();
        assert!(e.message.contains("needs a pane number"), "{e}");
    }

    #[test]
    fn actions_print_as_they_parse() {
        for s in ["split-right", "focus-pane 3", "resize-left 5", "enter-mode prefix", "copy-yank", "select-tab 2"] {
            assert_eq!(s.parse::<Action>().expect(s).to_string(), s);
        }
    }

    #[test]
    fn hints_show_the_bound_keys() {
        let m = Keymap::load("alt", None).expect("alt");
        let hints = m.hints(Mode::Normal);
        assert!(hints.iter().any(|(k, l)| k == "alt-a" && *l == "agents"), "{hints:?}");
        // With a prefix: the prefix, then what follows it.
        let hints = Keymap::load("default", None).expect("default").hints(Mode::Normal);
        assert_eq!(hints.first(), Some(&("ctrl-\\".to_string(), "then")), "{hints:?}");
        assert!(hints.iter().any(|(k, l)| k == "a" && *l == "agents"), "{hints:?}");
    }
}
