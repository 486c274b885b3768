//! Keys and mouse events as they travel: what a client read from its terminal, sent for
//! the runner to encode for a pane's program; key names as people write them (`ctrl-b`,
//! `alt-shift-left`), in keymaps and `teamster send --keys`.

use serde::{Deserialize, Serialize};
use std::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum KeyCode {
    Char(char),
    Enter,
    Tab,
    BackTab,
    Backspace,
    Esc,
    Up,
    Down,
    Left,
    Right,
    Home,
    End,
    PageUp,
    PageDown,
    Insert,
    Delete,
    F(u8),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Mods(pub u8);

impl Mods {
    pub const NONE: Mods = Mods(0);
    pub const SHIFT: u8 = 1;
    pub const ALT: u8 = 2;
    pub const CTRL: u8 = 4;

    pub fn has(self, m: u8) -> bool {
        self.0 & m != 0
    }

    /// The xterm modifier parameter (`CSI 1 ; m A`): 1 + shift + 2*alt + 4*ctrl.
    pub fn xterm_param(self) -> u8 {
        1 + self.0
    }

    pub fn from_xterm_param(p: u16) -> Mods {
        Mods((p.saturating_sub(1) & 0x7) as u8)
    }
}

/// A key with its modifiers, normalised: letters carry their case instead of shift, and
/// ctrl+letter is ctrl with the lower-case letter.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Key {
    pub code: KeyCode,
    pub mods: Mods,
}

impl Key {
    pub fn new(code: KeyCode, mods: u8) -> Key {
        let mut key = Key { code, mods: Mods(mods) };
        if let KeyCode::Char(c) = code {
            let ctrl = key.mods.has(Mods::CTRL);
            // ctrl+letter is the lower-case letter (ctrl-shift keeps its shift, below);
            // otherwise shift makes the letter upper case.
            if ctrl && c.is_ascii_alphabetic() {
                key.code = KeyCode::Char(c.to_ascii_lowercase());
            } else if key.mods.has(Mods::SHIFT) && c.is_alphabetic() {
                key.code = KeyCode::Char(c.to_uppercase().next().unwrap_or(c));
            }
            // Shift is in the character itself (`A`, `%`); only shift-space keeps it, and
            // ctrl-shift, which the kitty protocol tells from ctrl alone.
            if c != ' ' && !ctrl {
                key.mods.0 &= !Mods::SHIFT;
            }
        }
        key
    }

    pub fn char(c: char) -> Key {
        Key::new(KeyCode::Char(c), 0)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum MouseButton {
    Left,
    Middle,
    Right,
    None,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum MouseKind {
    Press,
    Release,
    Drag,
    Move,
    WheelUp,
    WheelDown,
}

/// A mouse event; `x` and `y` are 0-based cells, relative to whatever the receiver
/// draws at (the whole terminal in the client, the pane in the runner).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MouseEvent {
    pub kind: MouseKind,
    pub button: MouseButton,
    pub x: u16,
    pub y: u16,
    pub mods: Mods,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum InputEvent {
    Key(Key),
    Paste(String),
    Mouse(MouseEvent),
    FocusGained,
    FocusLost,
    /// A sequence we do not understand, passed through as it came.
    Raw(Vec<u8>),
}

// ---- names, as keymap files write them ----

#[derive(Debug, PartialEq, Eq)]
pub struct KeyNameError(pub String);

impl fmt::Display for KeyNameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::str::FromStr for Key {
    type Err = KeyNameError;

    /// `ctrl-b`, `alt-H`, `ctrl-alt-left`, `f5`, `shift-tab`, `%`, `space`, `-`.
    fn from_str(s: &str) -> Result<Key, KeyNameError> {
        let mut mods = 0u8;
        let mut rest = s;
        loop {
            let lower = rest.to_ascii_lowercase();
            let (m, len) = if lower.starts_with("ctrl-") || lower.starts_with("c-") && rest.len() > 2 {
                (Mods::CTRL, if lower.starts_with("ctrl-") { 5 } else { 2 })
            } else if lower.starts_with("alt-") || lower.starts_with("m-") && rest.len() > 2 {
                (Mods::ALT, if lower.starts_with("alt-") { 4 } else { 2 })
            } else if lower.starts_with("shift-") {
                (Mods::SHIFT, 6)
            } else {
                break;
            };
            mods |= m;
            rest = &rest[len..];
        }
        let code = match rest.to_ascii_lowercase().as_str() {
            "enter" | "return" => KeyCode::Enter,
            "tab" => KeyCode::Tab,
            // tmux's names too (`send --keys`, tmux key tables): BTab, BSpace, PPage, NPage,
            // IC, DC.
            "backtab" | "btab" => KeyCode::BackTab,
            "backspace" | "bs" | "bspace" => KeyCode::Backspace,
            "esc" | "escape" => KeyCode::Esc,
            "space" => KeyCode::Char(' '),
            "up" => KeyCode::Up,
            "down" => KeyCode::Down,
            "left" => KeyCode::Left,
            "right" => KeyCode::Right,
            "home" => KeyCode::Home,
            "end" => KeyCode::End,
            "pageup" | "pgup" | "ppage" => KeyCode::PageUp,
            "pagedown" | "pgdn" | "npage" => KeyCode::PageDown,
            "insert" | "ins" | "ic" => KeyCode::Insert,
            "delete" | "del" | "dc" => KeyCode::Delete,
            "minus" => KeyCode::Char('-'),
            "plus" => KeyCode::Char('+'),
            lower
                if lower.len() > 1
                    && lower.starts_with('f')
                    && lower[1..].parse::<u8>().is_ok_and(|n| (1..=12).contains(&n)) =>
            {
                KeyCode::F(lower[1..].parse().unwrap_or(1))
            }
            _ => {
                let mut chars = rest.chars();
                match (chars.next(), chars.next()) {
                    (Some(c), None) => KeyCode::Char(c),
                    _ => {
                        return Err(KeyNameError(format!(
                            "`{s}` is not a key; write keys like `ctrl-b`, `alt-h`, `shift-tab`, `f5`, `enter`, `%`"
                        )));
                    }
                }
            }
        };
        if code == KeyCode::Tab && mods & Mods::SHIFT != 0 {
            return Ok(Key::new(KeyCode::BackTab, mods & !Mods::SHIFT));
        }
        Ok(Key::new(code, mods))
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.mods.has(Mods::CTRL) {
            f.write_str("ctrl-")?;
        }
        if self.mods.has(Mods::ALT) {
            f.write_str("alt-")?;
        }
        if self.mods.has(Mods::SHIFT) {
            f.write_str("shift-")?;
        }
        match self.code {
            KeyCode::Char(' ') => f.write_str("space"),
            KeyCode::Char(c) => write!(f, "{c}"),
            KeyCode::Enter => f.write_str("enter"),
            KeyCode::Tab => f.write_str("tab"),
            KeyCode::BackTab => f.write_str("shift-tab"),
            KeyCode::Backspace => f.write_str("backspace"),
            KeyCode::Esc => f.write_str("esc"),
            KeyCode::Up => f.write_str("up"),
            KeyCode::Down => f.write_str("down"),
            KeyCode::Left => f.write_str("left"),
            KeyCode::Right => f.write_str("right"),
            KeyCode::Home => f.write_str("home"),
            KeyCode::End => f.write_str("end"),
            KeyCode::PageUp => f.write_str("pageup"),
            KeyCode::PageDown => f.write_str("pagedown"),
            KeyCode::Insert => f.write_str("insert"),
            KeyCode::Delete => f.write_str("delete"),
            KeyCode::F(n) => write!(f, "f{n}"),
        }
    }
}

// ---- parsing what the terminal sends ----
