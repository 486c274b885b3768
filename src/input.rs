//! Keyboard and mouse input: parsed from the bytes a terminal sends (in the client, to
//! match key bindings), and encoded again for the program in a pane (in the runner, which
//! knows the pane's modes: application cursor keys, mouse protocol, bracketed paste).
//!
//! Parsing and encoding are pure; the only state is a buffer for sequences split across
//! reads.

use crate::screen::{Modes, MouseEncoding, MouseMode};

pub use crate::protocol::keys::*;

const PASTE_START: &[u8] = b"\x1b[200~";
const PASTE_END: &[u8] = b"\x1b[201~";
/// A paste larger than this is delivered in pieces rather than held in memory whole.
const MAX_PASTE: usize = 1 << 20;

/// Turns terminal input bytes into events. A sequence cut off at the end of a read waits
/// for the next read; `flush` resolves it (a lone ESC is the Esc key) when no more bytes
/// came within the escape timeout.
#[derive(Default)]
pub struct InputParser {
    pending: Vec<u8>,
    paste: Option<Vec<u8>>,
}

enum Parsed {
    Event(InputEvent, usize),
    /// The bytes so far could be the start of a longer sequence.
    Incomplete,
}

impl InputParser {
    pub fn new() -> InputParser {
        InputParser::default()
    }

    pub fn has_pending(&self) -> bool {
        !self.pending.is_empty() && self.paste.is_none()
    }

    pub fn feed(&mut self, bytes: &[u8]) -> Vec<InputEvent> {
        self.pending.extend_from_slice(bytes);
        let mut events = Vec::new();
        let mut i = 0;
        while i < self.pending.len() {
            if let Some(paste) = &mut self.paste {
                let rest = &self.pending[i..];
                match find(rest, PASTE_END) {
                    Some(end) => {
                        paste.extend_from_slice(&rest[..end]);
                        let text = String::from_utf8_lossy(paste).into_owned();
                        events.push(InputEvent::Paste(text));
                        self.paste = None;
                        i += end + PASTE_END.len();
                    }
                    None => {
                        // Keep a tail that may be the start of the end marker.
                        let keep = (PASTE_END.len() - 1).min(rest.len());
                        paste.extend_from_slice(&rest[..rest.len() - keep]);
                        i = self.pending.len() - keep;
                        if paste.len() >= MAX_PASTE {
                            let text = String::from_utf8_lossy(paste).into_owned();
                            events.push(InputEvent::Paste(text));
                            paste.clear();
                        }
                        break;
                    }
                }
                continue;
            }
            match parse_one(&self.pending[i..]) {
                Parsed::Event(InputEvent::Raw(raw), _) if raw == PASTE_START => {
                    self.paste = Some(Vec::new());
                    i += PASTE_START.len();
                }
                Parsed::Event(ev, used) => {
                    events.push(ev);
                    i += used;
                }
                Parsed::Incomplete => break,
            }
        }
        self.pending.drain(..i);
        events
    }

    /// Called when no byte followed within the escape timeout: whatever waits is taken
    /// as it stands (a lone ESC is Esc; a partial sequence passes through raw).
    pub fn flush(&mut self) -> Vec<InputEvent> {
        if self.paste.is_some() || self.pending.is_empty() {
            return Vec::new();
        }
        let bytes = std::mem::take(&mut self.pending);
        match bytes.as_slice() {
            [0x1b] => vec![InputEvent::Key(Key::new(KeyCode::Esc, 0))],
            [0x1b, rest @ ..] if rest.first() != Some(&0x1b) => {
                // ESC followed by a partial sequence: alt plus whatever the rest was.
                let mut events = vec![InputEvent::Key(Key::new(KeyCode::Esc, 0))];
                events.extend(self.feed(rest));
                if !self.pending.is_empty() {
                    events.push(InputEvent::Raw(std::mem::take(&mut self.pending)));
                }
                events
            }
            _ => vec![InputEvent::Raw(bytes)],
        }
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn key(code: KeyCode, mods: u8, used: usize) -> Parsed {
    Parsed::Event(InputEvent::Key(Key::new(code, mods)), used)
}

fn parse_one(b: &[u8]) -> Parsed {
    match b[0] {
        0x1b => parse_escape(b),
        0x0d => key(KeyCode::Enter, 0, 1),
        0x09 => key(KeyCode::Tab, 0, 1),
        0x7f => key(KeyCode::Backspace, 0, 1),
        0x00 => key(KeyCode::Char(' '), Mods::CTRL, 1),
        c @ 0x01..=0x1a => key(KeyCode::Char((b'a' + c - 1) as char), Mods::CTRL, 1),
        0x1c => key(KeyCode::Char('\\'), Mods::CTRL, 1),
        0x1d => key(KeyCode::Char(']'), Mods::CTRL, 1),
        0x1e => key(KeyCode::Char('^'), Mods::CTRL, 1),
        0x1f => key(KeyCode::Char('_'), Mods::CTRL, 1),
        _ => parse_char(b, 0),
    }
}

fn parse_char(b: &[u8], mods: u8) -> Parsed {
    let len = match b[0] {
        0x00..=0x7f => 1,
        0xc0..=0xdf => 2,
        0xe0..=0xef => 3,
        0xf0..=0xf7 => 4,
        _ => return Parsed::Event(InputEvent::Raw(vec![b[0]]), 1),
    };
    if b.len() < len {
        return Parsed::Incomplete;
    }
    match std::str::from_utf8(&b[..len]).ok().and_then(|s| s.chars().next()) {
        Some(c) => key(KeyCode::Char(c), mods, len),
        None => Parsed::Event(InputEvent::Raw(b[..len].to_vec()), len),
    }
}

fn parse_escape(b: &[u8]) -> Parsed {
    let Some(&next) = b.get(1) else { return Parsed::Incomplete };
    match next {
        b'[' => parse_csi(b),
        b'O' => {
            let Some(&c) = b.get(2) else { return Parsed::Incomplete };
            let code = match c {
                b'A' => KeyCode::Up,
                b'B' => KeyCode::Down,
                b'C' => KeyCode::Right,
                b'D' => KeyCode::Left,
                b'H' => KeyCode::Home,
                b'F' => KeyCode::End,
                b'P'..=b'S' => KeyCode::F(c - b'P' + 1),
                b'M' => KeyCode::Enter,
                _ => return Parsed::Event(InputEvent::Raw(b[..3].to_vec()), 3),
            };
            key(code, 0, 3)
        }
        0x1b => key(KeyCode::Esc, 0, 1),
        // ESC then a key: that key with alt.
        _ => match parse_one(&b[1..]) {
            Parsed::Event(InputEvent::Key(k), used) => {
                Parsed::Event(InputEvent::Key(Key::new(k.code, k.mods.0 | Mods::ALT)), used + 1)
            }
            Parsed::Event(other, used) => Parsed::Event(other, used + 1),
            Parsed::Incomplete => Parsed::Incomplete,
        },
    }
}

fn parse_csi(b: &[u8]) -> Parsed {
    // X10 mouse: ESC [ M then three bytes.
    if b.get(2) == Some(&b'M') {
        if b.len() < 6 {
            return Parsed::Incomplete;
        }
        let ev = mouse_from_code(
            b[3].wrapping_sub(32) as u16,
            b[4].saturating_sub(33) as u16,
            b[5].saturating_sub(33) as u16,
            false,
        );
        return Parsed::Event(ev.map_or_else(|| InputEvent::Raw(b[..6].to_vec()), InputEvent::Mouse), 6);
    }
    let Some(end) = b[2..].iter().position(|&c| (0x40..=0x7e).contains(&c)) else {
        return if b.len() > 64 { Parsed::Event(InputEvent::Raw(b.to_vec()), b.len()) } else { Parsed::Incomplete };
    };
    let used = end + 3;
    let body = &b[2..2 + end];
    let fin = b[2 + end];
    let raw = || InputEvent::Raw(b[..used].to_vec());
    let private = body.first().copied().filter(|c| (0x3c..=0x3f).contains(c));
    let params: Vec<u16> = std::str::from_utf8(&body[private.is_some() as usize..])
        .unwrap_or("")
        .split(';')
        .map(|p| p.split(':').next().unwrap_or("").parse().unwrap_or(0))
        .collect();
    let p = |i: usize| params.get(i).copied().unwrap_or(0);
    let mods = Mods::from_xterm_param(p(1)).0;
    let event = match (private, fin) {
        (Some(b'<'), b'M' | b'm') => {
            mouse_from_code(p(0), p(1).saturating_sub(1), p(2).saturating_sub(1), fin == b'm').map(InputEvent::Mouse)
        }
        (None, b'I') if body.is_empty() => Some(InputEvent::FocusGained),
        (None, b'O') if body.is_empty() => Some(InputEvent::FocusLost),
        (None, b'A') => Some(InputEvent::Key(Key::new(KeyCode::Up, mods))),
        (None, b'B') => Some(InputEvent::Key(Key::new(KeyCode::Down, mods))),
        (None, b'C') => Some(InputEvent::Key(Key::new(KeyCode::Right, mods))),
        (None, b'D') => Some(InputEvent::Key(Key::new(KeyCode::Left, mods))),
        (None, b'H') => Some(InputEvent::Key(Key::new(KeyCode::Home, mods))),
        (None, b'F') => Some(InputEvent::Key(Key::new(KeyCode::End, mods))),
        (None, b'Z') => Some(InputEvent::Key(Key::new(KeyCode::BackTab, 0))),
        (None, b'P'..=b'S') => Some(InputEvent::Key(Key::new(KeyCode::F(fin - b'P' + 1), mods))),
        // xterm's modifyOtherKeys: CSI 27 ; mods ; code ~.
        (None, b'~') if p(0) == 27 && params.len() == 3 => {
            code_point_key(p(2)).map(|c| InputEvent::Key(Key::new(c, Mods::from_xterm_param(p(1)).0)))
        }
        // The terminal's answer to the kitty keyboard query, come late: nothing to type.
        (Some(b'?'), b'u') => Some(InputEvent::Raw(Vec::new())),
        (None, b'~') => {
            let code = match p(0) {
                200 => return Parsed::Event(InputEvent::Raw(PASTE_START.to_vec()), used),
                1 | 7 => Some(KeyCode::Home),
                2 => Some(KeyCode::Insert),
                3 => Some(KeyCode::Delete),
                4 | 8 => Some(KeyCode::End),
                5 => Some(KeyCode::PageUp),
                6 => Some(KeyCode::PageDown),
                n @ 11..=15 => Some(KeyCode::F((n - 10) as u8)),
                n @ 17..=21 => Some(KeyCode::F((n - 11) as u8)),
                n @ 23..=24 => Some(KeyCode::F((n - 12) as u8)),
                _ => None,
            };
            code.map(|c| InputEvent::Key(Key::new(c, mods)))
        }
        // CSI codepoint ; mods u (fixterms / kitty).
        (None, b'u') => code_point_key(p(0)).map(|c| InputEvent::Key(Key::new(c, mods))),
        _ => None,
    };
    Parsed::Event(event.unwrap_or_else(raw), used)
}

/// The key of a code point as CSI u and modifyOtherKeys name keys.
fn code_point_key(cp: u16) -> Option<KeyCode> {
    match cp {
        13 => Some(KeyCode::Enter),
        9 => Some(KeyCode::Tab),
        27 => Some(KeyCode::Esc),
        127 => Some(KeyCode::Backspace),
        cp => char::from_u32(cp as u32).map(KeyCode::Char),
    }
}

fn mouse_from_code(code: u16, x: u16, y: u16, release: bool) -> Option<MouseEvent> {
    let mods = Mods(
        (if code & 4 != 0 { Mods::SHIFT } else { 0 })
            | (if code & 8 != 0 { Mods::ALT } else { 0 })
            | (if code & 16 != 0 { Mods::CTRL } else { 0 }),
    );
    let motion = code & 32 != 0;
    let button = match code & 3 {
        0 => MouseButton::Left,
        1 => MouseButton::Middle,
        2 => MouseButton::Right,
        _ => MouseButton::None,
    };
    let kind = if code & 64 != 0 {
        match code & 3 {
            0 => MouseKind::WheelUp,
            1 => MouseKind::WheelDown,
            _ => return None,
        }
    } else if motion {
        if button == MouseButton::None { MouseKind::Move } else { MouseKind::Drag }
    } else if release || button == MouseButton::None {
        MouseKind::Release
    } else {
        MouseKind::Press
    };
    Some(MouseEvent { kind, button, x, y, mods })
}

// ---- encoding for the program in a pane ----

/// The bytes a program expects for `event`, given the modes it set. Mouse events the
/// program did not ask for encode to nothing.
pub fn encode(event: &InputEvent, modes: &Modes) -> Vec<u8> {
    match event {
        InputEvent::Key(k) => encode_key(*k, modes),
        InputEvent::Paste(text) => {
            if modes.bracketed_paste {
                // A pasted end marker must not let the rest of the paste run as keys.
                let clean = text.replace("\x1b[201~", "");
                [PASTE_START, clean.as_bytes(), PASTE_END].concat()
            } else {
                text.as_bytes().to_vec()
            }
        }
        InputEvent::Mouse(m) => encode_mouse(m, modes),
        InputEvent::FocusGained if modes.focus_events => b"\x1b[I".to_vec(),
        InputEvent::FocusLost if modes.focus_events => b"\x1b[O".to_vec(),
        InputEvent::FocusGained | InputEvent::FocusLost => Vec::new(),
        InputEvent::Raw(bytes) => bytes.clone(),
    }
}

/// A key as the program asked to get it: the kitty keyboard protocol's `CSI u` forms, or
/// xterm's modifyOtherKeys, where it asked for them and they differ; else as terminals
/// always sent keys.
pub fn encode_key(k: Key, modes: &Modes) -> Vec<u8> {
    if modes.keyboard != 0 {
        if let Some(bytes) = kitty_key(k, modes.keyboard) {
            return bytes;
        }
    } else if modes.modify_other_keys != 0
        && let Some(bytes) = other_key(k, modes.modify_other_keys)
    {
        return bytes;
    }
    legacy_key(k, modes)
}

/// The code point a key is reported by, and whether shift made it (`A` is `a` with shift).
fn key_code_point(k: Key) -> Option<(u32, bool)> {
    match k.code {
        KeyCode::Char(c) if c.is_uppercase() => Some((c.to_lowercase().next().unwrap_or(c) as u32, true)),
        KeyCode::Char(c) => Some((c as u32, false)),
        KeyCode::Enter => Some((13, false)),
        KeyCode::Tab => Some((9, false)),
        KeyCode::BackTab => Some((9, true)),
        KeyCode::Backspace => Some((127, false)),
        KeyCode::Esc => Some((27, false)),
        _ => None,
    }
}

/// The kitty keyboard protocol (`flags` as `screen::Keyboard`): keys legacy bytes make
/// ambiguous (Esc, ctrl and alt chords, modified Enter, Tab and Backspace), or with
/// `ALL_AS_ESCAPES` every such key, as `CSI code ; mods u`. `None`: as legacy.
fn kitty_key(k: Key, flags: u8) -> Option<Vec<u8>> {
    use crate::screen::Keyboard;
    let (cp, shifted) = key_code_point(k)?;
    let mods = Mods(k.mods.0 | if shifted { Mods::SHIFT } else { 0 });
    let text_key = matches!(k.code, KeyCode::Char(_));
    let chord = k.mods.has(Mods::CTRL) || k.mods.has(Mods::ALT);
    let all = flags & Keyboard::ALL_AS_ESCAPES != 0;
    let wanted = all || chord || k.code == KeyCode::Esc || (!text_key && mods.0 != 0);
    if !wanted || flags & (Keyboard::DISAMBIGUATE | Keyboard::ALL_AS_ESCAPES) == 0 {
        return None;
    }
    let mut seq = format!("\x1b[{cp}");
    // The text the key types, where asked for (text keys without ctrl or alt only).
    let text = match k.code {
        KeyCode::Char(c) if all && flags & Keyboard::ASSOCIATED_TEXT != 0 && !chord => Some(c as u32),
        _ => None,
    };
    if mods.0 != 0 || text.is_some() {
        seq.push_str(&format!(";{}", mods.xterm_param()));
    }
    if let Some(t) = text {
        seq.push_str(&format!(";{t}"));
    }
    seq.push('u');
    Some(seq.into_bytes())
}

/// xterm's modifyOtherKeys (`level` 1 or 2): `CSI 27 ; mods ; code ~` for modified keys
/// that legacy bytes cannot tell apart (Shift+Enter, ctrl+digits, ctrl+shift letters), and
/// at level 2 for every ctrl or alt chord too. `None`: as legacy.
fn other_key(k: Key, level: u8) -> Option<Vec<u8>> {
    if k.mods.0 == 0 || k.code == KeyCode::BackTab {
        return None;
    }
    let ctrl = k.mods.has(Mods::CTRL);
    let (code, mods) = match k.code {
        // xterm names the character typed: a shifted letter by its upper case.
        KeyCode::Char(c) => {
            let shift = k.mods.has(Mods::SHIFT) || c.is_uppercase();
            let typed = if shift { c.to_uppercase().next().unwrap_or(c) } else { c };
            let legacy = ctrl && !shift && (c.is_ascii_lowercase() || "@[\\]^_ ?".contains(c));
            if level < 2 && (legacy || !ctrl) {
                return None;
            }
            (typed as u32, Mods(k.mods.0 | if shift { Mods::SHIFT } else { 0 }))
        }
        _ => (key_code_point(k)?.0, k.mods),
    };
    Some(format!("\x1b[27;{};{code}~", mods.xterm_param()).into_bytes())
}

/// A key as terminals have always sent it.
fn legacy_key(k: Key, modes: &Modes) -> Vec<u8> {
    let alt = k.mods.has(Mods::ALT);
    let ctrl = k.mods.has(Mods::CTRL);
    let mut out = Vec::new();
    let mut simple = |bytes: &[u8]| {
        if alt {
            out.push(0x1b);
        }
        out.extend_from_slice(bytes);
    };
    let letter = |c: u8| -> Vec<u8> {
        // Shift counts: Shift+Up is `CSI 1;2A`, not Up.
        if k.mods.0 == 0 {
            return if modes.app_cursor { vec![0x1b, b'O', c] } else { vec![0x1b, b'[', c] };
        }
        format!("\x1b[1;{}{}", k.mods.xterm_param(), c as char).into_bytes()
    };
    let tilde = |n: u8| -> Vec<u8> {
        if k.mods.0 == 0 {
            format!("\x1b[{n}~").into_bytes()
        } else {
            format!("\x1b[{n};{}~", k.mods.xterm_param()).into_bytes()
        }
    };
    match k.code {
        KeyCode::Char(c) if ctrl => {
            let byte = match c {
                'a'..='z' => Some(c as u8 - b'a' + 1),
                ' ' | '@' | '2' => Some(0),
                '[' | '3' => Some(0x1b),
                '\\' | '4' => Some(0x1c),
                ']' | '5' => Some(0x1d),
                '^' | '6' => Some(0x1e),
                '_' | '-' | '7' | '/' => Some(0x1f),
                '?' | '8' => Some(0x7f),
                _ => None,
            };
            match byte {
                Some(b) => simple(&[b]),
                None => simple(c.encode_utf8(&mut [0; 4]).as_bytes()),
            }
        }
        KeyCode::Char(c) => simple(c.encode_utf8(&mut [0; 4]).as_bytes()),
        KeyCode::Enter => simple(b"\r"),
        KeyCode::Tab => simple(b"\t"),
        KeyCode::BackTab => simple(b"\x1b[Z"),
        KeyCode::Backspace if ctrl => simple(&[0x08]),
        KeyCode::Backspace => simple(&[0x7f]),
        KeyCode::Esc => simple(&[0x1b]),
        KeyCode::Up => return letter(b'A'),
        KeyCode::Down => return letter(b'B'),
        KeyCode::Right => return letter(b'C'),
        KeyCode::Left => return letter(b'D'),
        KeyCode::Home => return letter(b'H'),
        KeyCode::End => return letter(b'F'),
        KeyCode::Insert => return tilde(2),
        KeyCode::Delete => return tilde(3),
        KeyCode::PageUp => return tilde(5),
        KeyCode::PageDown => return tilde(6),
        KeyCode::F(n @ 1..=4) => {
            let c = b'P' + n - 1;
            return if k.mods.0 == 0 {
                vec![0x1b, b'O', c]
            } else {
                format!("\x1b[1;{}{}", k.mods.xterm_param(), c as char).into_bytes()
            };
        }
        KeyCode::F(n) => {
            let code = match n {
                5 => 15,
                6..=10 => n + 11,
                11 | 12 => n + 12,
                _ => return Vec::new(),
            };
            return tilde(code);
        }
    }
    out
}

fn encode_mouse(m: &MouseEvent, modes: &Modes) -> Vec<u8> {
    let wanted = match modes.mouse {
        MouseMode::Off => false,
        MouseMode::Press => m.kind == MouseKind::Press,
        MouseMode::PressRelease => {
            matches!(m.kind, MouseKind::Press | MouseKind::Release | MouseKind::WheelUp | MouseKind::WheelDown)
        }
        MouseMode::Drag => m.kind != MouseKind::Move,
        MouseMode::Motion => true,
    };
    if !wanted {
        return Vec::new();
    }
    let button = match m.button {
        MouseButton::Left => 0,
        MouseButton::Middle => 1,
        MouseButton::Right => 2,
        MouseButton::None => 3,
    };
    let mut code: u16 = match m.kind {
        MouseKind::WheelUp => 64,
        MouseKind::WheelDown => 65,
        MouseKind::Move => 35,
        MouseKind::Drag => 32 + button,
        MouseKind::Press => button,
        MouseKind::Release if modes.mouse_encoding == MouseEncoding::Sgr => button,
        MouseKind::Release => 3,
    };
    if m.mods.has(Mods::SHIFT) {
        code += 4;
    }
    if m.mods.has(Mods::ALT) {
        code += 8;
    }
    if m.mods.has(Mods::CTRL) {
        code += 16;
    }
    let (x, y) = (m.x as u32 + 1, m.y as u32 + 1);
    match modes.mouse_encoding {
        MouseEncoding::Sgr => {
            let end = if m.kind == MouseKind::Release { 'm' } else { 'M' };
            format!("\x1b[<{code};{x};{y}{end}").into_bytes()
        }
        MouseEncoding::Urxvt => format!("\x1b[{};{x};{y}M", code + 32).into_bytes(),
        MouseEncoding::Utf8 => {
            let mut out = b"\x1b[M".to_vec();
            for v in [code as u32 + 32, x + 32, y + 32] {
                let c = char::from_u32(v).unwrap_or(' ');
                out.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes());
            }
            out
        }
        MouseEncoding::X10 => {
            // The legacy encoding cannot express positions past column 223.
            if x + 32 > 255 || y + 32 > 255 {
                return Vec::new();
            }
            vec![0x1b, b'[', b'M', (code + 32) as u8, (x + 32) as u8, (y + 32) as u8]
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn k(s: &str) -> Key {
        s.parse().expect("valid key name")
    }

    fn keys(bytes: &[u8]) -> Vec<InputEvent> {
        let mut p = InputParser::new();
        let mut ev = p.feed(bytes);
        ev.extend(p.flush());
        ev
    }

    #[test]
    fn key_names_parse_and_print_back() {
        for name in
            ["ctrl-b", "alt-h", "alt-H", "ctrl-alt-left", "f5", "shift-tab", "%", "space", "enter", "-", "alt-1"]
        {
            assert_eq!(k(name).to_string(), name, "{name}");
        }
        assert_eq!(k("C-b"), k("ctrl-b"));
        assert_eq!(k("M-x"), k("alt-x"));
        assert_eq!(k("alt-shift-h"), k("alt-H"));
        assert_eq!(k("ctrl-B"), k("ctrl-b"));
        assert!("ctrl-nope".parse::<Key>().is_err());
        assert!("".parse::<Key>().is_err());
    }

    #[test]
    fn parses_what_terminals_send() {
        let cases: &[(&[u8], &str)] = &[
            (b"a", "a"),
            (b"\x02", "ctrl-b"),
            (b"\x1bh", "alt-h"),
            (b"\x1bH", "alt-H"),
            (b"\r", "enter"),
            (b"\x7f", "backspace"),
            (b"\x1b[A", "up"),
            (b"\x1bOA", "up"),
            (b"\x1b[1;5C", "ctrl-right"),
            (b"\x1b[1;3D", "alt-left"),
            (b"\x1b[5~", "pageup"),
            (b"\x1b[3;2~", "shift-delete"),
            (b"\x1b[15~", "f5"),
            (b"\x1bOP", "f1"),
            (b"\x1b[Z", "shift-tab"),
            (b"\x00", "ctrl-space"),
            (b"\xe4\xb8\xad", "\u{4e2d}"),
            (b"\x1b[97;5u", "ctrl-a"),
        ];
        for (bytes, name) in cases {
            assert_eq!(keys(bytes), vec![InputEvent::Key(k(name))], "{bytes:?}");
        }
    }

    #[test]
    fn lone_escape_waits_then_is_esc() {
        let mut p = InputParser::new();
        assert!(p.feed(b"\x1b").is_empty());
        assert!(p.has_pending());
        assert_eq!(p.flush(), vec![InputEvent::Key(k("esc"))]);
        // The rest of a sequence arriving in the next read completes it.
        assert!(p.feed(b"\x1b[1;").is_empty());
        assert_eq!(p.feed(b"5A"), vec![InputEvent::Key(k("ctrl-up"))]);
    }

    #[test]
    fn bracketed_paste_is_one_event_even_across_reads() {
        let mut p = InputParser::new();
        assert!(p.feed(b"\x1b[200~hello \x1b").is_empty());
        assert_eq!(p.feed(b"[A world\x1b[20"), vec![]);
        assert_eq!(p.feed(b"1~x"), vec![InputEvent::Paste("hello \x1b[A world".into()), InputEvent::Key(k("x"))]);
    }

    #[test]
    fn mouse_sgr_and_x10() {
        assert_eq!(
            keys(b"\x1b[<0;10;5M"),
            vec![InputEvent::Mouse(MouseEvent {
                kind: MouseKind::Press,
                button: MouseButton::Left,
                x: 9,
                y: 4,
                mods: Mods(0)
            })]
        );
        assert_eq!(
            keys(b"\x1b[<64;1;1M"),
            vec![InputEvent::Mouse(MouseEvent {
                kind: MouseKind::WheelUp,
                button: MouseButton::Left,
                x: 0,
                y: 0,
                mods: Mods(0)
            })]
        );
        assert_eq!(
            keys(b"\x1b[M\x20\x2a\x25"),
            vec![InputEvent::Mouse(MouseEvent {
                kind: MouseKind::Press,
                button: MouseButton::Left,
                x: 9,
                y: 4,
                mods: Mods(0)
            })]
        );
    }

    #[test]
    fn unknown_sequences_pass_through() {
        assert_eq!(keys(b"\x1b[?1;2c"), vec![InputEvent::Raw(b"\x1b[?1;2c".to_vec())]);
    }

    #[test]
    fn encodes_keys_for_the_pane_modes() {
        let normal = Modes::default();
        let app = Modes { app_cursor: true, ..Modes::default() };
        assert_eq!(encode_key(k("up"), &normal), b"\x1b[A");
        assert_eq!(encode_key(k("up"), &app), b"\x1bOA");
        assert_eq!(encode_key(k("ctrl-up"), &app), b"\x1b[1;5A");
        assert_eq!(encode_key(k("ctrl-c"), &normal), b"\x03");
        assert_eq!(encode_key(k("alt-x"), &normal), b"\x1bx");
        assert_eq!(encode_key(k("ctrl-alt-a"), &normal), b"\x1b\x01");
        assert_eq!(encode_key(k("f5"), &normal), b"\x1b[15~");
        assert_eq!(encode_key(k("shift-f1"), &normal), b"\x1b[1;2P");
        assert_eq!(encode_key(k("enter"), &normal), b"\r");
        assert_eq!(encode_key(k("ctrl-space"), &normal), b"\x00");
    }

    #[test]
    fn every_parsed_key_encodes_back_to_the_same_bytes() {
        let normal = Modes::default();
        for bytes in
            [&b"\x1b[A"[..], b"\x02", b"\x1bh", b"\x1b[5~", b"\x1b[1;5C", b"\x1bOP", b"\x1b[Z", b"\r", b"\x7f", b"z"]
        {
            let ev = keys(bytes);
            let [InputEvent::Key(key)] = ev.as_slice() else { panic!("one key for {bytes:?}") };
            assert_eq!(encode_key(*key, &normal), bytes, "{key}");
        }
    }

    #[test]
    fn keys_reach_a_program_as_it_asked_for_them() {
        let legacy = Modes::default();
        for (key, want) in [
            ("shift-up", "\x1b[1;2A"),
            ("shift-home", "\x1b[1;2H"),
            ("shift-end", "\x1b[1;2F"),
            ("ctrl-shift-left", "\x1b[1;6D"),
            ("shift-enter", "\r"),
            ("ctrl-shift-a", "\x01"),
        ] {
            assert_eq!(String::from_utf8_lossy(&encode_key(k(key), &legacy)), want, "legacy {key}");
        }
        let kitty = Modes { keyboard: crate::screen::Keyboard::DISAMBIGUATE, ..Modes::default() };
        for (key, want) in [
            ("shift-enter", "\x1b[13;2u"),
            ("ctrl-enter", "\x1b[13;5u"),
            ("enter", "\r"),
            ("esc", "\x1b[27u"),
            ("ctrl-a", "\x1b[97;5u"),
            ("ctrl-shift-a", "\x1b[97;6u"),
            ("alt-x", "\x1b[120;3u"),
            ("alt-X", "\x1b[120;4u"),
            ("shift-tab", "\x1b[9;2u"),
            ("a", "a"),
            ("A", "A"),
            ("up", "\x1b[A"),
            ("shift-up", "\x1b[1;2A"),
        ] {
            assert_eq!(String::from_utf8_lossy(&encode_key(k(key), &kitty)), want, "kitty {key}");
        }
        let all = Modes { keyboard: 8 | 16, ..Modes::default() };
        assert_eq!(encode_key(k("A"), &all), b"\x1b[97;2;65u");
        assert_eq!(encode_key(k("enter"), &all), b"\x1b[13u");
        for (level, key, want) in [
            (2, "shift-enter", "\x1b[27;2;13~"),
            (2, "ctrl-a", "\x1b[27;5;97~"),
            (2, "ctrl-shift-a", "\x1b[27;6;65~"),
            (2, "alt-x", "\x1b[27;3;120~"),
            (1, "ctrl-a", "\x01"),
            (1, "alt-x", "\x1bx"),
            (1, "shift-enter", "\x1b[27;2;13~"),
            (1, "ctrl-1", "\x1b[27;5;49~"),
            (1, "shift-up", "\x1b[1;2A"),
        ] {
            let modes = Modes { modify_other_keys: level, ..Modes::default() };
            assert_eq!(String::from_utf8_lossy(&encode_key(k(key), &modes)), want, "modifyOtherKeys={level} {key}");
        }
        // What such terminals send is read back as the same keys.
        assert_eq!(
            keys(b"\x1b[13;2u\x1b[27;2;13~\x1b[27;6;65~"),
            vec![
                InputEvent::Key(k("shift-enter")),
                InputEvent::Key(k("shift-enter")),
                InputEvent::Key(k("ctrl-shift-a")),
            ]
        );
        // A late answer to the keyboard query is typed nowhere.
        assert_eq!(keys(b"\x1b[?1u"), vec![InputEvent::Raw(Vec::new())]);
    }

    #[test]
    fn paste_is_bracketed_only_when_asked_and_cannot_break_out() {
        let on = Modes { bracketed_paste: true, ..Modes::default() };
        let ev = InputEvent::Paste("rm -rf /\x1b[201~\r".into());
        assert_eq!(encode(&ev, &Modes::default()), b"rm -rf /\x1b[201~\r");
        assert_eq!(encode(&ev, &on), b"\x1b[200~rm -rf /\r\x1b[201~");
    }

    #[test]
    fn mouse_is_encoded_only_in_the_mode_asked_for() {
        let press = InputEvent::Mouse(MouseEvent {
            kind: MouseKind::Press,
            button: MouseButton::Left,
            x: 2,
            y: 3,
            mods: Mods(0),
        });
        let moved = InputEvent::Mouse(MouseEvent {
            kind: MouseKind::Move,
            button: MouseButton::None,
            x: 2,
            y: 3,
            mods: Mods(0),
        });
        assert!(encode(&press, &Modes::default()).is_empty());
        let sgr = Modes { mouse: MouseMode::PressRelease, mouse_encoding: MouseEncoding::Sgr, ..Modes::default() };
        assert_eq!(encode(&press, &sgr), b"\x1b[<0;3;4M");
        assert!(encode(&moved, &sgr).is_empty(), "motion needs mode 1003");
        let x10 = Modes { mouse: MouseMode::Motion, ..Modes::default() };
        assert_eq!(encode(&press, &x10), vec![0x1b, b'[', b'M', 32, 35, 36]);
        assert_eq!(encode(&moved, &x10), vec![0x1b, b'[', b'M', 67, 35, 36]);
    }
}
