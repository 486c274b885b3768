//! Terminal semantics: what each control sequence does to the screen.
//!
//! `Term` implements vte's `Perform`; the parser calls it for every printable character and
//! every control function. Answers to queries (cursor position, device attributes, colour
//! queries) are appended to `responses`, which the runner writes back to the program.

use super::cell::{Attrs, Cell, Color, Style, Width, char_width};
use super::grid::Grid;
use super::history::{History, Line};
use super::links::Links;
use super::parser::{Handler, Params};
use serde::{Deserialize, Serialize};

/// Which mouse events the program asked to receive.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum MouseMode {
    #[default]
    Off,
    /// Mode 9: presses only.
    Press,
    /// Mode 1000: presses and releases.
    PressRelease,
    /// Mode 1002: also motion while a button is held.
    Drag,
    /// Mode 1003: all motion.
    Motion,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum MouseEncoding {
    #[default]
    X10,
    Utf8,
    Sgr,
    Urxvt,
}

pub use crate::protocol::CursorShape;

/// Modes a program can set; the ones a view or the input encoder needs are public.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Modes {
    pub app_cursor: bool,
    pub app_keypad: bool,
    pub autowrap: bool,
    pub insert: bool,
    pub origin: bool,
    pub cursor_visible: bool,
    pub bracketed_paste: bool,
    pub mouse: MouseMode,
    pub mouse_encoding: MouseEncoding,
    pub focus_events: bool,
    /// Mode 2026: the program is in the middle of drawing a frame.
    pub synchronized: bool,
    pub newline: bool,
    pub alt_scroll: bool,
    /// The kitty keyboard protocol's flags the program asked for (0: legacy keys), as
    /// `Keyboard` bits; the top of the current screen's stack.
    pub keyboard: u8,
    /// xterm's modifyOtherKeys level (`CSI > 4 ; n m`): 0 off, 1 or 2.
    pub modify_other_keys: u8,
}

/// Kitty keyboard protocol flags (<https://sw.kovidgoyal.net/kitty/keyboard-protocol/>).
pub struct Keyboard;

impl Keyboard {
    /// Keys that legacy encodings make ambiguous (Esc, alt and ctrl chords, modified
    /// Enter, Tab, Backspace) come as `CSI code ; mods u`.
    pub const DISAMBIGUATE: u8 = 1;
    pub const EVENT_TYPES: u8 = 2;
    pub const ALTERNATE_KEYS: u8 = 4;
    /// Every key as an escape code, text included.
    pub const ALL_AS_ESCAPES: u8 = 8;
    pub const ASSOCIATED_TEXT: u8 = 16;
    /// Entries a screen's stack keeps; pushing more drops the oldest (as kitty does).
    const STACK: usize = 16;
}

impl Default for Modes {
    fn default() -> Self {
        Modes {
            app_cursor: false,
            app_keypad: false,
            autowrap: true,
            insert: false,
            origin: false,
            cursor_visible: true,
            bracketed_paste: false,
            mouse: MouseMode::Off,
            mouse_encoding: MouseEncoding::X10,
            focus_events: false,
            synchronized: false,
            newline: false,
            alt_scroll: false,
            keyboard: 0,
            modify_other_keys: 0,
        }
    }
}

/// Something a program did that the runner passes on rather than draws.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ScreenEvent {
    Bell,
    Title(String),
    /// OSC 52: set the clipboard; base64 as the program sent it.
    Clipboard(String),
    /// OSC 9 or OSC 777 notify.
    Notify {
        title: String,
        body: String,
    },
    /// OSC 7: the working directory, as a file:// URL.
    Cwd(String),
}

/// Colours the runner reports when a program asks (OSC 4, 10, 11, 12).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReportedColors {
    pub fg: (u8, u8, u8),
    pub bg: (u8, u8, u8),
    pub cursor: (u8, u8, u8),
}

impl Default for ReportedColors {
    fn default() -> Self {
        ReportedColors { fg: (0xd0, 0xd0, 0xd0), bg: (0x1c, 0x1c, 0x1c), cursor: (0xd0, 0xd0, 0xd0) }
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Cursor {
    pub x: usize,
    pub y: usize,
    pub style: Style,
    /// The last column was written; the next printable character wraps first.
    pub pending_wrap: bool,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum Charset {
    #[default]
    Ascii,
    DecGraphics,
    Uk,
}

#[derive(Clone, Copy, Debug, Default)]
struct SavedCursor {
    cursor: Cursor,
    origin: bool,
    charsets: [Charset; 4],
    gl: usize,
}

/// A DCS string being collected (only the queries we answer).
enum Dcs {
    RequestStatus(Vec<u8>),
    GetTermcap(Vec<u8>),
}

/// The largest count a single sequence may repeat an operation; bounds the work a hostile
/// program can ask for with one short sequence.
const MAX_REPEAT: usize = 65_535;

pub struct Term {
    pub cols: usize,
    pub rows: usize,
    pub grid: Grid,
    /// The primary screen while the alternate screen is shown.
    pub primary: Option<Grid>,
    pub history: History,
    pub cursor: Cursor,
    /// DECSC slots for the primary (0) and alternate (1) screens.
    saved: [Option<SavedCursor>; 2],
    /// The kitty keyboard flags each screen's program pushed, primary (0) and alternate (1).
    keyboard: [Vec<u8>; 2],
    /// Scroll region, rows `top..bottom`.
    pub top: usize,
    pub bottom: usize,
    pub modes: Modes,
    tabs: Vec<bool>,
    charsets: [Charset; 4],
    gl: usize,
    single_shift: Option<usize>,
    last_printed: Option<char>,
    joining: bool,
    pub title: String,
    pub cursor_shape: CursorShape,
    /// The cursor colour the program set (OSC 12), until it resets it (OSC 112).
    pub cursor_color: Option<(u8, u8, u8)>,
    /// The addresses of the hyperlinks (OSC 8) cells name by id.
    pub links: Links,
    pub colors: ReportedColors,
    pub responses: Vec<u8>,
    pub events: Vec<ScreenEvent>,
    /// Generation stamped on rows changed by the current `feed`.
    pub gen_: u64,
    /// Bumped when history is renumbered (reflow, clear); views refetch what they hold.
    pub epoch: u64,
    dcs: Option<Dcs>,
}

impl Term {
    pub fn new(cols: usize, rows: usize, scrollback: usize) -> Term {
        let cols = cols.max(1);
        let rows = rows.max(1);
        Term {
            cols,
            rows,
            grid: Grid::new(cols, rows),
            primary: None,
            history: History::new(scrollback),
            cursor: Cursor::default(),
            saved: [None, None],
            keyboard: [Vec::new(), Vec::new()],
            top: 0,
            bottom: rows,
            modes: Modes::default(),
            tabs: default_tabs(cols),
            charsets: [Charset::Ascii; 4],
            gl: 0,
            single_shift: None,
            last_printed: None,
            joining: false,
            title: String::new(),
            cursor_shape: CursorShape::Default,
            cursor_color: None,
            links: Links::default(),
            colors: ReportedColors::default(),
            responses: Vec::new(),
            events: Vec::new(),
            gen_: 1,
            epoch: 0,
            dcs: None,
        }
    }

    pub fn alt_active(&self) -> bool {
        self.primary.is_some()
    }

    /// Where the primary screen's cursor will be when the alternate screen is left.
    pub(super) fn saved_primary_cursor(&self) -> Option<Cursor> {
        self.saved[0].map(|s| s.cursor)
    }

    pub(super) fn set_saved_primary_cursor(&mut self, cursor: Cursor) {
        let slot = self.saved[0].get_or_insert_with(SavedCursor::default);
        slot.cursor = cursor;
    }

    pub(super) fn resize_tabs(&mut self, cols: usize) {
        let old = self.tabs.len();
        self.tabs.truncate(cols);
        self.tabs.extend((old..cols).map(|x| x % 8 == 0 && x > 0));
    }

    // ---- printing ----

    fn translate(&mut self, c: char) -> char {
        let set = match self.single_shift.take() {
            Some(g) => self.charsets[g],
            None => self.charsets[self.gl],
        };
        match set {
            Charset::Ascii => c,
            Charset::Uk if c == '#' => '£',
            Charset::Uk => c,
            Charset::DecGraphics => dec_graphics(c),
        }
    }

    fn put_char(&mut self, c: char, width: usize) {
        let cols = self.cols;
        if self.cursor.pending_wrap {
            self.wrap();
        }
        if width == 2 && self.cursor.x + 1 >= cols {
            if cols < 2 {
                return;
            }
            if self.modes.autowrap {
                let (x, y, g, st) = (self.cursor.x, self.cursor.y, self.gen_, self.cursor.style.erased());
                self.grid.row_mut(y, g).erase(x, cols, st);
                self.wrap();
            } else {
                self.cursor.x = cols - 2;
            }
        }
        let (x, y, gen_, style) = (self.cursor.x, self.cursor.y, self.gen_, self.cursor.style);
        let insert = self.modes.insert;
        let row = self.grid.row_mut(y, gen_);
        if insert {
            insert_blanks(row, x, width, style.erased(), cols);
        }
        // Overwriting half of a wide character blanks its other half.
        if row.cell(x).width == Width::Spacer {
            row.split_wide_at(x);
        }
        let end = x + width;
        if end < cols && row.cell(end).width == Width::Spacer {
            row.split_wide_at(end);
        }
        if width == 2 {
            row.set(x, Cell { ch: c, style, width: Width::Wide, combined: false });
            row.set(x + 1, Cell { ch: ' ', style, width: Width::Spacer, combined: false });
        } else {
            row.set(x, Cell { ch: c, style, width: Width::Narrow, combined: false });
        }
        if end >= cols {
            self.cursor.x = cols - 1;
            self.cursor.pending_wrap = self.modes.autowrap;
        } else {
            self.cursor.x = end;
        }
    }

    /// A zero-width character joins the cell before the cursor.
    fn combine(&mut self, c: char) {
        if c == '\u{200d}' {
            self.joining = true;
        }
        // VS16 asks for a character's emoji presentation, two cells wide (`❤️`): the
        // character is put again, wide, so what follows goes after it.
        if c == '\u{fe0f}'
            && let Some(base) = self.narrow_before_cursor()
            && unicode_width::UnicodeWidthStr::width([base, c].iter().collect::<String>().as_str()) == 2
        {
            self.cursor.x = if self.cursor.pending_wrap { self.cursor.x } else { self.cursor.x - 1 };
            self.cursor.pending_wrap = false;
            self.put_char(base, 2);
        }
        let x = if self.cursor.pending_wrap {
            self.cursor.x
        } else if self.cursor.x > 0 {
            self.cursor.x - 1
        } else {
            return;
        };
        let (y, gen_) = (self.cursor.y, self.gen_);
        let row = self.grid.row_mut(y, gen_);
        let x = if row.cell(x).width == Width::Spacer && x > 0 { x - 1 } else { x };
        row.push_combining(x, c);
    }

    /// The character just printed, if it is a narrow one with nothing combined into it.
    fn narrow_before_cursor(&self) -> Option<char> {
        let x = if self.cursor.pending_wrap { self.cursor.x } else { self.cursor.x.checked_sub(1)? };
        let cell = self.grid.row(self.cursor.y).cell(x);
        (cell.width == Width::Narrow && !cell.combined).then_some(cell.ch)
    }

    fn wrap(&mut self) {
        self.cursor.pending_wrap = false;
        let (y, g) = (self.cursor.y, self.gen_);
        self.grid.row_mut(y, g).wrapped = true;
        self.index();
        self.cursor.x = 0;
    }

    // ---- cursor movement and scrolling ----

    /// Moves down one row, scrolling the region when at its bottom margin.
    fn index(&mut self) {
        self.cursor.pending_wrap = false;
        if self.cursor.y + 1 == self.bottom {
            self.scroll_up(1);
        } else if self.cursor.y + 1 < self.rows {
            self.cursor.y += 1;
        }
    }

    fn reverse_index(&mut self) {
        self.cursor.pending_wrap = false;
        if self.cursor.y == self.top {
            self.scroll_down(1);
        } else if self.cursor.y > 0 {
            self.cursor.y -= 1;
        }
    }

    /// Scrolls the region up; on the primary screen, with the region at the top, the
    /// lines that leave go to history (as xterm and tmux do).
    fn scroll_up(&mut self, n: usize) {
        self.scroll_region_up(self.top, n, true);
    }

    fn scroll_region_up(&mut self, top: usize, n: usize, may_archive: bool) {
        let bottom = self.bottom;
        if top >= bottom {
            return;
        }
        let archive = may_archive && top == 0 && self.primary.is_none();
        let style = self.cursor.style.erased();
        let n = n.min(bottom - top);
        for _ in 0..n {
            let history = &mut self.history;
            self.grid.scroll_up(top, bottom, style, self.gen_, |row| {
                if archive {
                    history.push(Line::from_row(row));
                }
            });
        }
    }

    fn scroll_down(&mut self, n: usize) {
        self.scroll_region_down(self.top, n);
    }

    fn scroll_region_down(&mut self, top: usize, n: usize) {
        let bottom = self.bottom;
        if top >= bottom {
            return;
        }
        let style = self.cursor.style.erased();
        for _ in 0..n.min(bottom - top) {
            self.grid.scroll_down(top, bottom, style, self.gen_);
        }
    }

    fn goto(&mut self, x: usize, y: usize) {
        let (min_y, max_y) = if self.modes.origin { (self.top, self.bottom - 1) } else { (0, self.rows - 1) };
        self.cursor.x = x.min(self.cols - 1);
        self.cursor.y = (y + if self.modes.origin { self.top } else { 0 }).clamp(min_y, max_y);
        self.cursor.pending_wrap = false;
    }

    fn move_up(&mut self, n: usize) {
        let limit = if self.cursor.y >= self.top { self.top } else { 0 };
        self.cursor.y = self.cursor.y.saturating_sub(n).max(limit);
        self.cursor.pending_wrap = false;
    }

    fn move_down(&mut self, n: usize) {
        let limit = if self.cursor.y < self.bottom { self.bottom - 1 } else { self.rows - 1 };
        self.cursor.y = (self.cursor.y + n).min(limit);
        self.cursor.pending_wrap = false;
    }

    fn tab_forward(&mut self, n: usize) {
        for _ in 0..n {
            let next = (self.cursor.x + 1..self.cols).find(|&x| self.tabs[x]);
            self.cursor.x = next.unwrap_or(self.cols - 1);
        }
        self.cursor.pending_wrap = false;
    }

    fn tab_backward(&mut self, n: usize) {
        for _ in 0..n {
            let prev = (0..self.cursor.x).rev().find(|&x| self.tabs[x]);
            self.cursor.x = prev.unwrap_or(0);
        }
        self.cursor.pending_wrap = false;
    }

    // ---- erasing ----

    fn erase_rows(&mut self, from: usize, to: usize) {
        let style = self.cursor.style.erased();
        for y in from..to.min(self.rows) {
            self.grid.row_mut(y, self.gen_).clear(style, self.cols);
        }
    }

    fn erase_display(&mut self, mode: u16) {
        let (x, y, g) = (self.cursor.x, self.cursor.y, self.gen_);
        let style = self.cursor.style.erased();
        match mode {
            0 => {
                // Right after the last column was written, the cursor is past it (a wrap
                // is pending): the line keeps its last character, as xterm and tmux.
                if !self.cursor.pending_wrap {
                    let row = self.grid.row_mut(y, g);
                    row.erase(x, self.cols, style);
                    row.wrapped = false;
                }
                self.erase_rows(y + 1, self.rows);
            }
            1 => {
                self.erase_rows(0, y);
                self.grid.row_mut(y, g).erase(0, x + 1, style);
            }
            2 => {
                // As tmux does, a cleared primary screen is kept in history rather than lost.
                if self.primary.is_none() {
                    let used = (0..self.rows).rev().find(|&y| !self.grid.row(y).is_blank()).map_or(0, |y| y + 1);
                    for y in 0..used {
                        self.history.push(Line::from_row(self.grid.row(y)));
                    }
                }
                self.erase_rows(0, self.rows);
            }
            3 => {
                self.history.clear();
                self.epoch += 1;
            }
            _ => {}
        }
    }

    fn erase_line(&mut self, mode: u16) {
        let (x, y, g, cols) = (self.cursor.x, self.cursor.y, self.gen_, self.cols);
        let style = self.cursor.style.erased();
        let row = self.grid.row_mut(y, g);
        match mode {
            // Past the last column (a wrap pending) there is nothing to the right to erase.
            0 if self.cursor.pending_wrap => {}
            0 => {
                row.erase(x, cols, style);
                row.wrapped = false;
            }
            1 => row.erase(0, x + 1, style),
            2 => row.clear(style, cols),
            _ => {}
        }
    }

    // ---- screens and resets ----

    fn save_cursor(&mut self) {
        let slot = self.alt_active() as usize;
        self.saved[slot] =
            Some(SavedCursor { cursor: self.cursor, origin: self.modes.origin, charsets: self.charsets, gl: self.gl });
    }

    fn restore_cursor(&mut self) {
        let slot = self.alt_active() as usize;
        let saved = self.saved[slot].unwrap_or_default();
        self.cursor = saved.cursor;
        self.cursor.x = self.cursor.x.min(self.cols - 1);
        self.cursor.y = self.cursor.y.min(self.rows - 1);
        self.modes.origin = saved.origin;
        self.charsets = saved.charsets;
        self.gl = saved.gl;
    }

    fn enter_alt(&mut self, save_cursor: bool) {
        if save_cursor {
            self.save_cursor();
        }
        if self.primary.is_none() {
            let mut alt = Grid::new(self.cols, self.rows);
            alt.touch_all(self.gen_);
            self.primary = Some(std::mem::replace(&mut self.grid, alt));
        }
        self.keyboard_changed();
    }

    fn exit_alt(&mut self, restore_cursor: bool) {
        if let Some(mut primary) = self.primary.take() {
            primary.touch_all(self.gen_);
            self.grid = primary;
            // A fresh alternate screen next time starts with legacy keys.
            self.keyboard[1].clear();
        }
        if restore_cursor {
            self.restore_cursor();
        }
        self.keyboard_changed();
    }

    /// The current screen's kitty keyboard stack.
    fn keyboard_stack(&mut self) -> &mut Vec<u8> {
        let slot = self.alt_active() as usize;
        &mut self.keyboard[slot]
    }

    fn keyboard_changed(&mut self) {
        self.modes.keyboard = self.keyboard[self.alt_active() as usize].last().copied().unwrap_or(0);
    }

    /// `CSI > flags u`, `CSI < n u`, `CSI = flags ; how u`: the kitty keyboard protocol's
    /// stack of flags (the query, `CSI ? u`, is answered in `csi_dispatch`).
    fn keyboard_flags(&mut self, op: u8, params: &Params) {
        let known = |f: u16| (f & 0x1f) as u8;
        match op {
            b'>' => {
                let stack = self.keyboard_stack();
                if stack.len() == Keyboard::STACK {
                    stack.remove(0);
                }
                stack.push(known(first(params, 0)));
            }
            b'<' => {
                let n = count(params, 0);
                let stack = self.keyboard_stack();
                let keep = stack.len().saturating_sub(n);
                stack.truncate(keep);
            }
            _ => {
                let flags = known(first(params, 0));
                let stack = self.keyboard_stack();
                let current = stack.last().copied().unwrap_or(0);
                let new = match first(params, 1) {
                    2 => current | flags,
                    3 => current & !flags,
                    _ => flags,
                };
                match stack.last_mut() {
                    Some(top) => *top = new,
                    None => stack.push(new),
                }
            }
        }
        self.keyboard_changed();
    }

    fn soft_reset(&mut self) {
        self.modes.cursor_visible = true;
        self.modes.insert = false;
        self.modes.origin = false;
        self.modes.autowrap = true;
        self.modes.app_cursor = false;
        self.modes.app_keypad = false;
        self.cursor.style = Style::default();
        self.cursor.pending_wrap = false;
        self.top = 0;
        self.bottom = self.rows;
        self.charsets = [Charset::Ascii; 4];
        self.gl = 0;
        self.saved = [None, None];
    }

    fn full_reset(&mut self) {
        self.exit_alt(false);
        self.soft_reset();
        self.modes = Modes::default();
        self.keyboard = [Vec::new(), Vec::new()];
        self.cursor = Cursor::default();
        self.tabs = default_tabs(self.cols);
        self.cursor_shape = CursorShape::Default;
        self.cursor_color = None;
        self.title.clear();
        self.erase_rows(0, self.rows);
    }

    fn set_private_mode(&mut self, mode: u16, on: bool) {
        match mode {
            1 => self.modes.app_cursor = on,
            6 => {
                self.modes.origin = on;
                self.goto(0, 0);
            }
            7 => self.modes.autowrap = on,
            9 => self.modes.mouse = if on { MouseMode::Press } else { MouseMode::Off },
            25 => self.modes.cursor_visible = on,
            47 | 1047 => {
                if on {
                    self.enter_alt(false)
                } else {
                    self.exit_alt(false)
                }
            }
            1048 => {
                if on {
                    self.save_cursor()
                } else {
                    self.restore_cursor()
                }
            }
            1049 => {
                if on {
                    self.enter_alt(true)
                } else {
                    self.exit_alt(true)
                }
            }
            1000 => self.modes.mouse = if on { MouseMode::PressRelease } else { MouseMode::Off },
            1002 => self.modes.mouse = if on { MouseMode::Drag } else { MouseMode::Off },
            1003 => self.modes.mouse = if on { MouseMode::Motion } else { MouseMode::Off },
            1004 => self.modes.focus_events = on,
            1005 => self.set_mouse_encoding(MouseEncoding::Utf8, on),
            1006 => self.set_mouse_encoding(MouseEncoding::Sgr, on),
            1015 => self.set_mouse_encoding(MouseEncoding::Urxvt, on),
            1007 => self.modes.alt_scroll = on,
            2004 => self.modes.bracketed_paste = on,
            2026 => self.modes.synchronized = on,
            _ => {}
        }
    }

    fn set_mouse_encoding(&mut self, enc: MouseEncoding, on: bool) {
        if on {
            self.modes.mouse_encoding = enc;
        } else if self.modes.mouse_encoding == enc {
            self.modes.mouse_encoding = MouseEncoding::X10;
        }
    }

    /// DECRQM answer: 1 set, 2 reset, 0 not recognised.
    fn private_mode_state(&self, mode: u16) -> u8 {
        let m = &self.modes;
        let state = match mode {
            1 => m.app_cursor,
            6 => m.origin,
            7 => m.autowrap,
            25 => m.cursor_visible,
            47 | 1047 | 1049 => self.alt_active(),
            9 => m.mouse == MouseMode::Press,
            1000 => m.mouse == MouseMode::PressRelease,
            1002 => m.mouse == MouseMode::Drag,
            1003 => m.mouse == MouseMode::Motion,
            1004 => m.focus_events,
            1006 => m.mouse_encoding == MouseEncoding::Sgr,
            2004 => m.bracketed_paste,
            2026 => m.synchronized,
            _ => return 0,
        };
        if state { 1 } else { 2 }
    }

    // ---- SGR ----

    fn sgr(&mut self, params: &Params) {
        let style = &mut self.cursor.style;
        // A hyperlink is not a graphic rendition: a reset keeps it.
        let reset = Style { link: style.link, ..Style::default() };
        if params.is_empty() {
            *style = reset;
            return;
        }
        let mut it = params.iter();
        while let Some(p) = it.next() {
            let a = &mut style.attrs;
            match p[0] {
                0 => *style = reset,
                1 => a.set(Attrs::BOLD),
                2 => a.set(Attrs::DIM),
                3 => a.set(Attrs::ITALIC),
                4 => {
                    a.clear(Attrs::ANY_UNDERLINE);
                    match p.get(1) {
                        Some(0) => {}
                        Some(2) => a.set(Attrs::DOUBLE_UNDERLINE),
                        Some(3) => a.set(Attrs::CURLY_UNDERLINE),
                        Some(4) => a.set(Attrs::DOTTED_UNDERLINE),
                        Some(5) => a.set(Attrs::DASHED_UNDERLINE),
                        _ => a.set(Attrs::UNDERLINE),
                    }
                }
                5 | 6 => a.set(Attrs::BLINK),
                7 => a.set(Attrs::INVERSE),
                8 => a.set(Attrs::HIDDEN),
                9 => a.set(Attrs::STRIKE),
                21 => {
                    a.clear(Attrs::ANY_UNDERLINE);
                    a.set(Attrs::DOUBLE_UNDERLINE)
                }
                22 => a.clear(Attrs::BOLD | Attrs::DIM),
                23 => a.clear(Attrs::ITALIC),
                24 => a.clear(Attrs::ANY_UNDERLINE),
                25 => a.clear(Attrs::BLINK),
                27 => a.clear(Attrs::INVERSE),
                28 => a.clear(Attrs::HIDDEN),
                29 => a.clear(Attrs::STRIKE),
                53 => a.set(Attrs::OVERLINE),
                55 => a.clear(Attrs::OVERLINE),
                n @ 30..=37 => style.fg = Color::Indexed((n - 30) as u8),
                38 => style.fg = extended_color(p, &mut it).unwrap_or(style.fg),
                39 => style.fg = Color::Default,
                n @ 40..=47 => style.bg = Color::Indexed((n - 40) as u8),
                48 => style.bg = extended_color(p, &mut it).unwrap_or(style.bg),
                49 => style.bg = Color::Default,
                58 => style.underline = extended_color(p, &mut it).unwrap_or(style.underline),
                59 => style.underline = Color::Default,
                n @ 90..=97 => style.fg = Color::Indexed((n - 90 + 8) as u8),
                n @ 100..=107 => style.bg = Color::Indexed((n - 100 + 8) as u8),
                _ => {}
            }
        }
    }

    fn reply(&mut self, s: &str) {
        self.responses.extend_from_slice(s.as_bytes());
    }

    fn color_reply(&mut self, code: &str, rgb: (u8, u8, u8), bell: bool) {
        let (r, g, b) = rgb;
        let end = if bell { "\x07" } else { "\x1b\\" };
        self.reply(&format!("\x1b]{code};rgb:{r:02x}{r:02x}/{g:02x}{g:02x}/{b:02x}{b:02x}{end}"));
    }
}

fn default_tabs(cols: usize) -> Vec<bool> {
    (0..cols).map(|x| x % 8 == 0 && x > 0).collect()
}

/// Inserts `n` blank cells at `x`, pushing the rest of the row right.
fn insert_blanks(row: &mut super::grid::Row, x: usize, n: usize, style: Style, cols: usize) {
    if x >= cols {
        return;
    }
    let n = n.min(cols - x);
    row.split_wide_at(x);
    row.split_wide_at(cols - n);
    row.combining.retain_mut(|(c, _)| {
        if (*c as usize) >= x {
            *c += n as u16;
        }
        (*c as usize) < cols
    });
    let cells = row.all_mut(cols);
    cells.copy_within(x..cols - n, x + n);
    cells[x..x + n].fill(Cell::blank(style));
    row.trim();
}

/// Deletes `n` cells at `x`, pulling the rest of the row left.
fn delete_cells(row: &mut super::grid::Row, x: usize, n: usize, style: Style, cols: usize) {
    if x >= cols {
        return;
    }
    let n = n.min(cols - x);
    row.split_wide_at(x);
    row.split_wide_at(x + n);
    row.combining.retain_mut(|(c, _)| {
        let c0 = *c as usize;
        if c0 >= x + n {
            *c -= n as u16;
            true
        } else {
            c0 < x
        }
    });
    let cells = row.all_mut(cols);
    cells.copy_within(x + n..cols, x);
    cells[cols - n..].fill(Cell::blank(style));
    row.trim();
}

/// Reads a 38/48/58 colour in either the colon form (`38:2::r:g:b`, `38:5:n`) or the
/// semicolon form (`38;2;r;g;b`, `38;5;n`).
fn extended_color<'a>(p: &[u16], rest: &mut impl Iterator<Item = &'a [u16]>) -> Option<Color> {
    let byte = |v: u16| v.min(255) as u8;
    if p.len() > 1 {
        return match p[1] {
            5 => p.get(2).map(|&i| Color::Indexed(byte(i))),
            2 if p.len() >= 6 => Some(Color::Rgb(byte(p[3]), byte(p[4]), byte(p[5]))),
            2 if p.len() == 5 => Some(Color::Rgb(byte(p[2]), byte(p[3]), byte(p[4]))),
            _ => None,
        };
    }
    let mut next = || rest.next().map(|v| v[0]);
    match next()? {
        5 => next().map(|i| Color::Indexed(byte(i))),
        2 => {
            let (r, g, b) = (next()?, next()?, next()?);
            Some(Color::Rgb(byte(r), byte(g), byte(b)))
        }
        _ => None,
    }
}

/// An X11 colour as OSC 4/10/11/12 write them: `rgb:R/G/B` (1 to 4 hex digits each) or
/// `#RGB`, `#RRGGBB`, `#RRRRGGGGBBBB`.
pub fn parse_color_spec(spec: &str) -> Option<(u8, u8, u8)> {
    // The top 8 bits of a component of `len` hex digits.
    let scale = |h: &str| -> Option<u8> {
        let v = u16::from_str_radix(h, 16).ok()?;
        Some(match h.len() {
            1 => (v * 17) as u8,
            2 => v as u8,
            3 => (v >> 4) as u8,
            4 => (v >> 8) as u8,
            _ => return None,
        })
    };
    let parts: Vec<&str> = if let Some(rest) = spec.strip_prefix("rgb:") {
        rest.split('/').collect()
    } else {
        let hex = spec.strip_prefix('#')?;
        let n = hex.len() / 3;
        if n == 0 || hex.len() % 3 != 0 || n > 4 || !hex.is_ascii() {
            return None;
        }
        vec![&hex[..n], &hex[n..2 * n], &hex[2 * n..]]
    };
    match parts[..] {
        [r, g, b] => Some((scale(r)?, scale(g)?, scale(b)?)),
        _ => None,
    }
}

/// The DEC special graphics set: line drawing for programs that switch with `ESC ( 0`.
fn dec_graphics(c: char) -> char {
    match c {
        '_' => ' ',
        '`' => '◆',
        'a' => '▒',
        'b' => '␉',
        'c' => '␌',
        'd' => '␍',
        'e' => '␊',
        'f' => '°',
        'g' => '±',
        'h' => '␤',
        'i' => '␋',
        'j' => '┘',
        'k' => '┐',
        'l' => '┌',
        'm' => '└',
        'n' => '┼',
        'o' => '⎺',
        'p' => '⎻',
        'q' => '─',
        'r' => '⎼',
        's' => '⎽',
        't' => '├',
        'u' => '┤',
        'v' => '┴',
        'w' => '┬',
        'x' => '│',
        'y' => '≤',
        'z' => '≥',
        '{' => 'π',
        '|' => '≠',
        '}' => '£',
        '~' => '·',
        c => c,
    }
}

fn first(params: &Params, i: usize) -> u16 {
    params.iter().nth(i).map_or(0, |p| p[0])
}

/// A count argument: 0 and absent both mean 1; capped so one sequence cannot demand
/// unbounded work.
fn count(params: &Params, i: usize) -> usize {
    (first(params, i).max(1) as usize).min(MAX_REPEAT)
}

impl Handler for Term {
    fn print_ascii(&mut self, mut run: &[u8]) {
        let plain_charset = self.gl == 0 && self.single_shift.is_none() && self.charsets[0] == Charset::Ascii;
        if !plain_charset || self.modes.insert || self.joining {
            for &b in run {
                self.print(b as char);
            }
            return;
        }
        let cols = self.cols;
        let style = self.cursor.style;
        while let Some(&last) = run.last() {
            if self.cursor.pending_wrap {
                self.wrap();
            }
            let (x, y) = (self.cursor.x, self.cursor.y);
            let n = run.len().min(cols - x);
            let row = self.grid.row_mut(y, self.gen_);
            if row.cell(x).width == Width::Spacer {
                row.split_wide_at(x);
            }
            if x + n < cols && row.cell(x + n).width == Width::Spacer {
                row.split_wide_at(x + n);
            }
            if !row.combining.is_empty() {
                row.combining.retain(|(c, _)| (*c as usize) < x || (*c as usize) >= x + n);
            }
            for (cell, &b) in row.span_mut(x, x + n).iter_mut().zip(run) {
                *cell = Cell { ch: b as char, style, width: Width::Narrow, combined: false };
            }
            self.last_printed = Some(last as char);
            run = &run[n..];
            if x + n < cols {
                self.cursor.x = x + n;
            } else {
                self.cursor.x = cols - 1;
                self.cursor.pending_wrap = self.modes.autowrap;
                if !self.modes.autowrap && !run.is_empty() {
                    // Without autowrap the rest of the run overwrites the last column.
                    row.span_mut(cols - 1, cols)[0].ch = last as char;
                    break;
                }
            }
        }
    }

    #[inline]
    fn print(&mut self, c: char) {
        let c = if self.gl == 0 && self.single_shift.is_none() && self.charsets[0] == Charset::Ascii {
            c
        } else {
            self.translate(c)
        };
        // A control character that arrives as a character (C1 encoded as UTF-8: U+009B is
        // CSI, U+009D OSC, U+0090 DCS; also U+0085 NEL) is dropped, neither stored nor
        // acted on. A cell's text goes to the user's terminal as it is, and xterm and st
        // act on C1 there: one stored would let a program send its own sequences past
        // every filter of ours (OSC 52 past `clipboard = "deny"`). tmux 3.3 drops them the
        // same way (`printf 'a\xc2\x9b31mb'` shows `a31mb`). The C1 bytes themselves (0x80..
        // 0x9f, not UTF-8) never reach here: the parser takes them as broken UTF-8 (U+FFFD).
        //
        // Bidirectional formatting characters (U+202A..U+202E, U+2066..U+2069) are kept,
        // as zero-width marks on the cell before them, as tmux keeps them: a terminal
        // never acts on them as a sequence, and a program that shows mixed-direction text
        // needs them. Where teamster shows a program's text as its own (approval cards,
        // titles in the CLI, the audit), `text::visible` makes them visible instead.
        if c.is_control() {
            return;
        }
        let width = char_width(c);
        if width == 0 || std::mem::take(&mut self.joining) {
            self.combine(c);
            return;
        }
        self.last_printed = Some(c);
        self.put_char(c, width);
    }

    fn execute(&mut self, byte: u8) {
        // REP repeats the character printed just before it, not one from before a control.
        self.last_printed = None;
        match byte {
            0x07 => self.events.push(ScreenEvent::Bell),
            0x08 => {
                if self.cursor.x > 0 && !self.cursor.pending_wrap {
                    self.cursor.x -= 1;
                }
                self.cursor.pending_wrap = false;
            }
            0x09 => self.tab_forward(1),
            0x0a..=0x0c => {
                self.index();
                if self.modes.newline {
                    self.cursor.x = 0;
                }
            }
            0x0d => {
                self.cursor.x = 0;
                self.cursor.pending_wrap = false;
            }
            0x0e => self.gl = 1,
            0x0f => self.gl = 0,
            0x84 => self.index(),
            0x85 => {
                self.index();
                self.cursor.x = 0;
            }
            0x88 => self.tabs[self.cursor.x] = true,
            0x8d => self.reverse_index(),
            _ => {}
        }
    }

    fn csi_dispatch(&mut self, params: &Params, intermediates: &[u8], action: char) {
        // After any sequence but REP itself, REP has nothing to repeat (as xterm and tmux).
        if (intermediates, action) != ([].as_slice(), 'b') {
            self.last_printed = None;
        }
        match (intermediates, action) {
            ([], 'A') => self.move_up(count(params, 0)),
            ([], 'B') | ([], 'e') => self.move_down(count(params, 0)),
            ([], 'C') | ([], 'a') => {
                self.cursor.x = (self.cursor.x + count(params, 0)).min(self.cols - 1);
                self.cursor.pending_wrap = false;
            }
            ([], 'D') => {
                self.cursor.x = self.cursor.x.saturating_sub(count(params, 0));
                self.cursor.pending_wrap = false;
            }
            ([], 'E') => {
                self.move_down(count(params, 0));
                self.cursor.x = 0;
            }
            ([], 'F') => {
                self.move_up(count(params, 0));
                self.cursor.x = 0;
            }
            ([], 'G') | ([], '`') => {
                self.cursor.x = (count(params, 0) - 1).min(self.cols - 1);
                self.cursor.pending_wrap = false;
            }
            ([], 'H') | ([], 'f') => {
                let (y, x) = (count(params, 0) - 1, count(params, 1) - 1);
                self.goto(x, y);
            }
            ([], 'd') => {
                let x = self.cursor.x;
                self.goto(x, count(params, 0) - 1);
            }
            ([], 'I') => self.tab_forward(count(params, 0)),
            ([], 'Z') => self.tab_backward(count(params, 0)),
            ([], 'J') | ([b'?'], 'J') => self.erase_display(first(params, 0)),
            ([], 'K') | ([b'?'], 'K') => self.erase_line(first(params, 0)),
            ([], 'L') if (self.top..self.bottom).contains(&self.cursor.y) => {
                self.scroll_region_down(self.cursor.y, count(params, 0));
                self.cursor.x = 0;
                self.cursor.pending_wrap = false;
            }
            ([], 'M') if (self.top..self.bottom).contains(&self.cursor.y) => {
                self.scroll_region_up(self.cursor.y, count(params, 0), false);
                self.cursor.x = 0;
                self.cursor.pending_wrap = false;
            }
            ([], '@') => {
                let (x, y, g, st) = (self.cursor.x, self.cursor.y, self.gen_, self.cursor.style.erased());
                insert_blanks(self.grid.row_mut(y, g), x, count(params, 0), st, self.cols);
                self.cursor.pending_wrap = false;
            }
            ([], 'P') => {
                let (x, y, g, st) = (self.cursor.x, self.cursor.y, self.gen_, self.cursor.style.erased());
                delete_cells(self.grid.row_mut(y, g), x, count(params, 0), st, self.cols);
                self.cursor.pending_wrap = false;
            }
            ([], 'X') => {
                let (x, y, g, st) = (self.cursor.x, self.cursor.y, self.gen_, self.cursor.style.erased());
                let n = count(params, 0);
                self.grid.row_mut(y, g).erase(x, x + n, st);
                self.cursor.pending_wrap = false;
            }
            ([], 'S') => self.scroll_up(count(params, 0)),
            ([], 'T') if params.len() <= 1 => self.scroll_down(count(params, 0)),
            ([], 'b') => {
                if let Some(c) = self.last_printed {
                    let width = char_width(c);
                    for _ in 0..count(params, 0).min(self.cols * self.rows) {
                        self.put_char(c, width);
                    }
                }
            }
            ([], 'c') if first(params, 0) == 0 => self.reply("\x1b[?62;22c"),
            ([b'>'], 'c') if first(params, 0) == 0 => self.reply("\x1b[>1;10;0c"),
            ([], 'g') => match first(params, 0) {
                0 => self.tabs[self.cursor.x] = false,
                3 => self.tabs.fill(false),
                _ => {}
            },
            ([], 'h') | ([], 'l') => {
                let on = action == 'h';
                for p in params.iter() {
                    match p[0] {
                        4 => self.modes.insert = on,
                        20 => self.modes.newline = on,
                        _ => {}
                    }
                }
            }
            ([b'?'], 'h') | ([b'?'], 'l') => {
                for p in params.iter() {
                    self.set_private_mode(p[0], action == 'h');
                }
            }
            ([], 'm') => self.sgr(params),
            ([], 'n') => match first(params, 0) {
                5 => self.reply("\x1b[0n"),
                6 => {
                    let y = self.cursor.y - if self.modes.origin { self.top } else { 0 };
                    let s = format!("\x1b[{};{}R", y + 1, self.cursor.x + 1);
                    self.reply(&s);
                }
                _ => {}
            },
            ([b'?'], 'n') if first(params, 0) == 6 => {
                let s = format!("\x1b[?{};{}R", self.cursor.y + 1, self.cursor.x + 1);
                self.reply(&s);
            }
            ([b'?', b'$'], 'p') => {
                let mode = first(params, 0);
                let s = format!("\x1b[?{mode};{}$y", self.private_mode_state(mode));
                self.reply(&s);
            }
            ([b'$'], 'p') => {
                let mode = first(params, 0);
                let state = match mode {
                    4 => 2 - self.modes.insert as u8,
                    20 => 2 - self.modes.newline as u8,
                    _ => 0,
                };
                self.reply(&format!("\x1b[{mode};{state}$y"));
            }
            ([b'!'], 'p') => self.soft_reset(),
            ([b' '], 'q') => {
                self.cursor_shape = match first(params, 0) {
                    0 => CursorShape::Default,
                    1 => CursorShape::BlinkingBlock,
                    2 => CursorShape::Block,
                    3 => CursorShape::BlinkingUnderline,
                    4 => CursorShape::Underline,
                    5 => CursorShape::BlinkingBar,
                    6 => CursorShape::Bar,
                    _ => self.cursor_shape,
                }
            }
            ([b'>'], 'q') => self.reply(concat!("\x1bP>|teamster ", env!("CARGO_PKG_VERSION"), "\x1b\\")),
            ([], 'r') => {
                let top = count(params, 0) - 1;
                let bottom = match first(params, 1) {
                    0 => self.rows,
                    b => (b as usize).min(self.rows),
                };
                if top + 1 < bottom {
                    self.top = top;
                    self.bottom = bottom;
                    self.goto(0, 0);
                }
            }
            ([], 's') if params.is_empty() => self.save_cursor(),
            ([], 'u') if params.is_empty() => self.restore_cursor(),
            ([b'?'], 'u') => {
                let s = format!("\x1b[?{}u", self.modes.keyboard);
                self.reply(&s);
            }
            ([op @ (b'>' | b'<' | b'=')], 'u') => self.keyboard_flags(*op, params),
            // xterm's modifyOtherKeys: `CSI > 4 ; n m` (`CSI > 4 m` resets it).
            ([b'>'], 'm') if first(params, 0) == 4 => self.modes.modify_other_keys = first(params, 1).min(2) as u8,
            ([], 't') if first(params, 0) == 18 => {
                let s = format!("\x1b[8;{};{}t", self.rows, self.cols);
                self.reply(&s);
            }
            _ => {}
        }
    }

    fn esc_dispatch(&mut self, intermediates: &[u8], byte: u8) {
        self.last_printed = None;
        match (intermediates, byte) {
            ([], b'D') => self.index(),
            ([], b'E') => {
                self.index();
                self.cursor.x = 0;
            }
            ([], b'H') => self.tabs[self.cursor.x] = true,
            ([], b'M') => self.reverse_index(),
            ([], b'Z') => self.reply("\x1b[?62;22c"),
            ([], b'7') => self.save_cursor(),
            ([], b'8') => self.restore_cursor(),
            ([], b'c') => self.full_reset(),
            ([], b'=') => self.modes.app_keypad = true,
            ([], b'>') => self.modes.app_keypad = false,
            ([], b'N') => self.single_shift = Some(2),
            ([], b'O') => self.single_shift = Some(3),
            ([slot @ (b'(' | b')' | b'*' | b'+')], set) => {
                let g = (*slot - b'(') as usize;
                self.charsets[g] = match set {
                    b'0' => Charset::DecGraphics,
                    b'A' => Charset::Uk,
                    _ => Charset::Ascii,
                };
            }
            ([b'#'], b'8') => {
                for y in 0..self.rows {
                    let cols = self.cols;
                    let row = self.grid.row_mut(y, self.gen_);
                    row.clear(Style::default(), cols);
                    row.span_mut(0, cols).fill(Cell { ch: 'E', ..Cell::default() });
                }
            }
            _ => {}
        }
    }

    fn osc_dispatch(&mut self, params: &[&[u8]], bell_terminated: bool) {
        let text = |i: usize| params.get(i).map(|p| String::from_utf8_lossy(p).into_owned()).unwrap_or_default();
        match params.first().copied().unwrap_or_default() {
            b"0" | b"2" => {
                let title: String = params[1..]
                    .iter()
                    .map(|p| String::from_utf8_lossy(p))
                    .collect::<Vec<_>>()
                    .join(";")
                    .chars()
                    .filter(|c| !c.is_control())
                    .take(256)
                    .collect();
                if title != self.title {
                    self.title = title.clone();
                    self.events.push(ScreenEvent::Title(title));
                }
            }
            b"4" => {
                for pair in params[1..].chunks(2) {
                    if let [index, b"?"] = pair
                        && let Ok(i) = std::str::from_utf8(index).unwrap_or("").parse::<u8>()
                    {
                        let rgb = palette_rgb(i);
                        self.color_reply(&format!("4;{i}"), rgb, bell_terminated);
                    }
                }
            }
            b"7" => self.events.push(ScreenEvent::Cwd(text(1))),
            b"9" if params.get(1).copied() != Some(b"4") => {
                self.events.push(ScreenEvent::Notify { title: String::new(), body: text(1) })
            }
            b"10" if params.get(1).copied() == Some(b"?") => self.color_reply("10", self.colors.fg, bell_terminated),
            b"11" if params.get(1).copied() == Some(b"?") => self.color_reply("11", self.colors.bg, bell_terminated),
            b"12" if params.get(1).copied() == Some(b"?") => {
                let colour = self.cursor_color.unwrap_or(self.colors.cursor);
                self.color_reply("12", colour, bell_terminated)
            }
            // The cursor's colour, passed on to the terminal while the pane has the focus.
            b"12" => self.cursor_color = parse_color_spec(&text(1)).or(self.cursor_color),
            b"112" => self.cursor_color = None,
            // A hyperlink: `8 ; params ; URI`, the URI may hold `;`. An empty one ends it.
            // The params (an `id` to join cells far apart) are not kept: teamster draws
            // each pane's links on its own.
            b"8" if params.len() >= 3 => {
                let uri = params[2..].join(&b';');
                self.cursor.style.link = self.links.id(&uri);
            }
            b"52" => {
                let data = text(2);
                if data != "?" {
                    self.events.push(ScreenEvent::Clipboard(data));
                }
            }
            b"777" if params.get(1).copied() == Some(b"notify") => {
                self.events.push(ScreenEvent::Notify { title: text(2), body: text(3) })
            }
            _ => {}
        }
    }

    fn hook(&mut self, _params: &Params, intermediates: &[u8], action: char) {
        self.dcs = match (intermediates, action) {
            ([b'$'], 'q') => Some(Dcs::RequestStatus(Vec::new())),
            ([b'+'], 'q') => Some(Dcs::GetTermcap(Vec::new())),
            _ => None,
        };
    }

    fn put(&mut self, byte: u8) {
        if let Some(Dcs::RequestStatus(buf) | Dcs::GetTermcap(buf)) = &mut self.dcs
            && buf.len() < 256
        {
            buf.push(byte);
        }
    }

    fn unhook(&mut self) {
        match self.dcs.take() {
            Some(Dcs::RequestStatus(req)) => {
                let answer = match req.as_slice() {
                    b"m" => Some("0m".to_string()),
                    b"r" => Some(format!("{};{}r", self.top + 1, self.bottom)),
                    b" q" => Some(format!("{} q", self.cursor_shape as u8)),
                    _ => None,
                };
                match answer {
                    Some(a) => self.reply(&format!("\x1bP1$r{a}\x1b\\")),
                    None => self.reply("\x1bP0$r\x1b\\"),
                }
            }
            Some(Dcs::GetTermcap(req)) => {
                // We advertise no capabilities this way; say so rather than stay silent,
                // so programs do not wait for an answer. The names asked for come back only
                // when they are what a request holds (hex-encoded names between `;`):
                // anything else would be the program's own bytes typed into its input
                // (a line ending, a command), which a file shown in the pane could plant.
                let name = if req.iter().all(|b| b.is_ascii_hexdigit() || *b == b';') {
                    String::from_utf8_lossy(&req).into_owned()
                } else {
                    String::new()
                };
                self.reply(&format!("\x1bP0+r{name}\x1b\\"));
            }
            None => {}
        }
    }
}

/// The xterm default palette, for OSC 4 queries.
pub fn palette_rgb(i: u8) -> (u8, u8, u8) {
    const BASE: [(u8, u8, u8); 16] = [
        (0x00, 0x00, 0x00),
        (0xcd, 0x00, 0x00),
        (0x00, 0xcd, 0x00),
        (0xcd, 0xcd, 0x00),
        (0x00, 0x00, 0xee),
        (0xcd, 0x00, 0xcd),
        (0x00, 0xcd, 0xcd),
        (0xe5, 0xe5, 0xe5),
        (0x7f, 0x7f, 0x7f),
        (0xff, 0x00, 0x00),
        (0x00, 0xff, 0x00),
        (0xff, 0xff, 0x00),
        (0x5c, 0x5c, 0xff),
        (0xff, 0x00, 0xff),
        (0x00, 0xff, 0xff),
        (0xff, 0xff, 0xff),
    ];
    match i {
        0..=15 => BASE[i as usize],
        16..=231 => {
            let i = i - 16;
            let level = |v: u8| if v == 0 { 0 } else { 55 + v * 40 };
            (level(i / 36), level((i / 6) % 6), level(i % 6))
        }
        _ => {
            let v = 8 + (i - 232) * 10;
            (v, v, v)
        }
    }
}
