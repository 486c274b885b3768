//! The terminal backend: crossterm's, except that it never asks the terminal anything,
//! and draws cells itself.
//!
//! Crossterm would read the cursor position from stdin itself, racing our own input
//! reader, and asks for the size on every draw. We know where we last put the cursor, and
//! the loop tells us the size when SIGWINCH says it changed.
//!
//! Cells are drawn here, not by crossterm, for what ratatui has no words for: styled
//! underlines and overlines (kept in the modifier's spare bits, `EXTRA_*`) and
//! hyperlinks (carried in the cell's symbol, after `LINK_MARK`, as Unicode tag
//! characters, which take no width: ratatui's diff then redraws a cell whose link
//! changed). Each goes out as drawn when the terminal has it (`Features`), else degraded.

use super::features::Features;
use ratatui::backend::{Backend, ClearType, CrosstermBackend, WindowSize};
use ratatui::buffer::Cell;
use ratatui::layout::{Position, Size};
use ratatui::style::{Color, Modifier};
use std::io::Write;

/// Styles ratatui has no modifier for, in the bits its nine modifiers leave free.
pub const EXTRA_DOUBLE_UNDERLINE: Modifier = Modifier::from_bits_retain(1 << 9);
pub const EXTRA_CURLY_UNDERLINE: Modifier = Modifier::from_bits_retain(1 << 10);
pub const EXTRA_DOTTED_UNDERLINE: Modifier = Modifier::from_bits_retain(1 << 11);
pub const EXTRA_DASHED_UNDERLINE: Modifier = Modifier::from_bits_retain(1 << 12);
pub const EXTRA_OVERLINE: Modifier = Modifier::from_bits_retain(1 << 13);

/// Starts a link's address in a cell's symbol (LANGUAGE TAG: deprecated, so no flag
/// emoji's tag sequence holds it).
use crate::protocol::wire::LINK_MARK;

/// Appends `url` (printable ASCII, as the screen keeps it) to a cell's symbol.
pub fn push_link(symbol: &mut String, url: &str) {
    symbol.push(LINK_MARK);
    symbol.extend(url.bytes().filter_map(|b| char::from_u32(0xe0000 + b as u32)));
}

/// A symbol's text, and the link address it carries.
/// A symbol's text, and the tag characters of the link it carries (`link_url` reads them).
fn split_link(symbol: &str) -> (&str, Option<&str>) {
    match symbol.split_once(LINK_MARK) {
        None => (symbol, None),
        Some((text, tags)) => (text, Some(tags)),
    }
}

/// The address a link's tag characters spell: printable ASCII only, whatever the symbol
/// holds. A program can print `LINK_MARK` and tag characters itself (they take no width,
/// so the screen keeps them as combining marks), spelling ESC or BEL: those would end the
/// OSC 8 this goes into and start a sequence of the program's own.
fn link_url(tags: &str) -> String {
    tags.chars()
        .filter_map(|c| u8::try_from((c as u32).checked_sub(0xe0000)?).ok())
        .filter(|b| crate::protocol::wire::url_byte(*b))
        .map(char::from)
        .collect()
}

pub struct Out<W: Write> {
    inner: CrosstermBackend<W>,
    cursor: Position,
    size: Size,
    features: Features,
    sgr: String,
}

impl<W: Write> Out<W> {
    pub fn new(writer: W, size: Size) -> Out<W> {
        Out {
            inner: CrosstermBackend::new(writer),
            cursor: Position::ORIGIN,
            size,
            features: Features::default(),
            sgr: String::new(),
        }
    }

    pub fn set_features(&mut self, features: Features) {
        self.features = features;
    }

    pub fn set_size(&mut self, size: Size) {
        self.size = size;
    }

    /// What the frames are written into.
    pub fn inner(&self) -> &W {
        self.inner.writer()
    }

    /// For bytes of our own (clipboard, bell, cursor shape), in order with the frames.
    pub fn writer(&mut self) -> &mut impl Write {
        &mut self.inner
    }
}

impl<W: Write> Backend for Out<W> {
    type Error = std::io::Error;

    fn draw<'a, I>(&mut self, content: I) -> Result<(), Self::Error>
    where
        I: Iterator<Item = (u16, u16, &'a Cell)>,
    {
        // What the terminal has now; None when not known (start of the draw).
        let mut pen: Option<Look> = None;
        let mut open_link: Option<&str> = None;
        let mut last: Option<(u16, u16)> = None;
        for (x, y, cell) in content {
            if last != Some((x.wrapping_sub(1), y)) {
                write!(self.inner, "\x1b[{};{}H", y + 1, x + 1)?;
            }
            last = Some((x, y));
            // Compared as the cell holds it; spelled out only when a link opens.
            let (text, link) = split_link(cell.symbol());
            let link = link.filter(|_| self.features.hyperlinks);
            if link != open_link {
                if open_link.is_some() {
                    self.inner.write_all(b"\x1b]8;;\x1b\\")?;
                }
                if let Some(tags) = link {
                    write!(self.inner, "\x1b]8;;{}\x1b\\", link_url(tags))?;
                }
                open_link = link;
            }
            let look = (cell.fg, cell.bg, cell.underline_color, cell.modifier);
            if pen != Some(look) {
                sgr(&mut self.sgr, pen, look, self.features);
                self.inner.write_all(self.sgr.as_bytes())?;
                pen = Some(look);
            }
            self.inner.write_all(text.as_bytes())?;
        }
        if open_link.is_some() {
            self.inner.write_all(b"\x1b]8;;\x1b\\")?;
        }
        if pen.is_some() {
            self.inner.write_all(b"\x1b[0m")?;
        }
        Ok(())
    }

    // The cursor and clearing are queued, not flushed as crossterm's backend does: a frame
    // reaches the terminal in one write (an echo woke the reader twice, and a clear could
    // show alone before what is drawn on it).
    fn hide_cursor(&mut self) -> Result<(), Self::Error> {
        crossterm::queue!(self.inner, crossterm::cursor::Hide)
    }

    fn show_cursor(&mut self) -> Result<(), Self::Error> {
        crossterm::queue!(self.inner, crossterm::cursor::Show)
    }

    fn get_cursor_position(&mut self) -> Result<Position, Self::Error> {
        Ok(self.cursor)
    }

    fn set_cursor_position<P: Into<Position>>(&mut self, position: P) -> Result<(), Self::Error> {
        let p = position.into();
        self.cursor = p;
        crossterm::queue!(self.inner, crossterm::cursor::MoveTo(p.x, p.y))
    }

    fn clear(&mut self) -> Result<(), Self::Error> {
        self.clear_region(ClearType::All)
    }

    fn clear_region(&mut self, clear_type: ClearType) -> Result<(), Self::Error> {
        use crossterm::terminal::{Clear, ClearType as C};
        let kind = match clear_type {
            ClearType::All => C::All,
            ClearType::AfterCursor => C::FromCursorDown,
            ClearType::BeforeCursor => C::FromCursorUp,
            ClearType::CurrentLine => C::CurrentLine,
            ClearType::UntilNewLine => C::UntilNewLine,
        };
        crossterm::queue!(self.inner, Clear(kind))
    }

    fn size(&self) -> Result<Size, Self::Error> {
        Ok(self.size)
    }

    fn window_size(&mut self) -> Result<WindowSize, Self::Error> {
        self.inner.window_size()
    }

    fn flush(&mut self) -> Result<(), Self::Error> {
        Backend::flush(&mut self.inner)
    }
}

/// How a cell looks: its colours (text, background, underline) and modifiers.
type Look = (Color, Color, Color, Modifier);

/// The SGR sequence that takes the terminal from `from` (None: not known) to `to`, into
/// `out`, as far as the terminal draws it: a styled underline it lacks becomes a plain one;
/// an overline or underline colour it lacks is left out. Only what changed is sent, unless
/// an attribute goes away (then everything is set from a reset).
fn sgr(out: &mut String, from: Option<Look>, to: Look, features: Features) {
    out.clear();
    let (fg, bg, underline, m) = to;
    let (old_fg, old_bg, old_underline, old_m) = match from {
        Some(f) if m.contains(f.3) => f,
        _ => {
            out.push_str("\x1b[0");
            push_modifiers(out, Modifier::empty(), m, features);
            screen_color(fg).push_sgr(out, 30);
            screen_color(bg).push_sgr(out, 40);
            if features.underline_color {
                screen_color(underline).push_sgr(out, 58);
            }
            out.push('m');
            return;
        }
    };
    let mut body = String::new();
    push_modifiers(&mut body, old_m, m, features);
    for (old, new, layer, default) in
        [(old_fg, fg, 30, ";39"), (old_bg, bg, 40, ";49"), (old_underline, underline, 58, ";59")]
    {
        if old == new || (layer == 58 && !features.underline_color) {
            continue;
        }
        if new == Color::Reset {
            body.push_str(default);
        } else {
            screen_color(new).push_sgr(&mut body, layer);
        }
    }
    if let Some(body) = body.strip_prefix(';') {
        out.push_str("\x1b[");
        out.push_str(body);
        out.push('m');
    }
}

/// The SGR parameters (each after a `;`) for the modifiers in `to` that `from` lacks.
fn push_modifiers(out: &mut String, from: Modifier, to: Modifier, features: Features) {
    let added = to - from;
    for (bit, code) in [
        (Modifier::BOLD, ";1"),
        (Modifier::DIM, ";2"),
        (Modifier::ITALIC, ";3"),
        (Modifier::SLOW_BLINK, ";5"),
        (Modifier::RAPID_BLINK, ";6"),
        (Modifier::REVERSED, ";7"),
        (Modifier::HIDDEN, ";8"),
        (Modifier::CROSSED_OUT, ";9"),
    ] {
        if added.contains(bit) {
            out.push_str(code);
        }
    }
    let styled = [
        (EXTRA_DOUBLE_UNDERLINE, ";4:2"),
        (EXTRA_CURLY_UNDERLINE, ";4:3"),
        (EXTRA_DOTTED_UNDERLINE, ";4:4"),
        (EXTRA_DASHED_UNDERLINE, ";4:5"),
    ];
    let had_underline = from.contains(Modifier::UNDERLINED);
    match styled.iter().find(|(bit, _)| added.contains(*bit)) {
        Some((_, code)) if features.styled_underline => out.push_str(code),
        Some(_) if !had_underline => out.push_str(";4"),
        Some(_) => {}
        None if added.contains(Modifier::UNDERLINED) => out.push_str(";4"),
        None => {}
    }
    if added.contains(EXTRA_OVERLINE) && features.overline {
        out.push_str(";53");
    }
}

/// A ratatui colour as the screen's (the inverse of `view::color`).
fn screen_color(c: Color) -> crate::screen::Color {
    use crate::screen::Color as S;
    let named = match c {
        Color::Reset => return S::Default,
        Color::Indexed(i) => return S::Indexed(i),
        Color::Rgb(r, g, b) => return S::Rgb(r, g, b),
        Color::Black => 0,
        Color::Red => 1,
        Color::Green => 2,
        Color::Yellow => 3,
        Color::Blue => 4,
        Color::Magenta => 5,
        Color::Cyan => 6,
        Color::Gray => 7,
        Color::DarkGray => 8,
        Color::LightRed => 9,
        Color::LightGreen => 10,
        Color::LightYellow => 11,
        Color::LightBlue => 12,
        Color::LightMagenta => 13,
        Color::LightCyan => 14,
        Color::White => 15,
    };
    S::Indexed(named)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ratatui::buffer::Buffer;
    use ratatui::layout::Rect;

    /// Draws `cells` (x, symbol, style) on one row and returns the bytes.
    fn drawn(features: Features, setup: impl Fn(&mut Buffer)) -> String {
        let mut buf = Buffer::empty(Rect::new(0, 0, 10, 1));
        setup(&mut buf);
        let mut bytes = Vec::new();
        let mut out = Out::new(&mut bytes, Size::new(10, 1));
        out.set_features(features);
        let cells: Vec<(u16, u16, &Cell)> = (0..3).map(|x| (x, 0, &buf[(x, 0)])).collect();
        out.draw(cells.into_iter()).unwrap();
        drop(out);
        String::from_utf8(bytes).unwrap()
    }

    /// Each write that reaches the terminal: what a flush sends.
    #[derive(Default)]
    struct Writes {
        pending: Vec<u8>,
        sent: Vec<String>,
    }

    impl Write for Writes {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.pending.extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            if !self.pending.is_empty() {
                self.sent.push(String::from_utf8_lossy(&std::mem::take(&mut self.pending)).into_owned());
            }
            Ok(())
        }
    }

    #[test]
    fn a_frame_its_clearing_and_its_cursor_reach_the_terminal_in_one_write() {
        let mut buf = Buffer::empty(Rect::new(0, 0, 10, 1));
        buf[(0, 0)].set_char('a');
        let mut writes = Writes::default();
        let mut out = Out::new(&mut writes, Size::new(10, 1));
        out.clear().unwrap();
        out.draw(std::iter::once((0, 0, &buf[(0, 0)]))).unwrap();
        out.set_cursor_position(Position::new(1, 0)).unwrap();
        out.show_cursor().unwrap();
        Backend::flush(&mut out).unwrap();
        out.hide_cursor().unwrap();
        Backend::flush(&mut out).unwrap();
        drop(out);
        assert_eq!(writes.sent, ["\x1b[2J\x1b[1;1H\x1b[0ma\x1b[0m\x1b[1;2H\x1b[?25h", "\x1b[?25l"]);
    }

    fn fancy(buf: &mut Buffer) {
        let cell = &mut buf[(0, 0)];
        cell.set_char('a');
        cell.modifier = Modifier::BOLD | Modifier::UNDERLINED | EXTRA_CURLY_UNDERLINE | EXTRA_OVERLINE;
        cell.underline_color = Color::Rgb(255, 0, 1);
        cell.fg = Color::LightRed;
        let mut symbol = "b".to_string();
        push_link(&mut symbol, "https://example.com/x?y=1");
        buf[(1, 0)].set_symbol(&symbol);
        buf[(2, 0)].set_char('c');
    }

    #[test]
    fn styles_and_links_go_out_as_drawn_where_the_terminal_has_them() {
        let out = drawn(Features::ALL, fancy);
        assert_eq!(
            out,
            "\x1b[1;1H\x1b[0;1;4:3;53;91;58:2::255:0:1ma\x1b]8;;https://example.com/x?y=1\x1b\\\x1b[0mb\x1b]8;;\x1b\\c\x1b[0m"
        );
    }

    #[test]
    fn only_what_changed_is_sent_until_an_attribute_goes() {
        let out = drawn(Features::ALL, |buf| {
            buf[(0, 0)].set_char('a').fg = Color::Red;
            let b = &mut buf[(1, 0)];
            b.set_char('b');
            b.fg = Color::Red;
            b.modifier = Modifier::BOLD;
            let c = &mut buf[(2, 0)];
            c.set_char('c');
            c.fg = Color::Blue;
            c.modifier = Modifier::BOLD;
        });
        assert_eq!(out, "\x1b[1;1H\x1b[0;31ma\x1b[1mb\x1b[34mc\x1b[0m");
        // Bold going away: set again from a reset.
        let out = drawn(Features::ALL, |buf| {
            let a = &mut buf[(0, 0)];
            a.set_char('a');
            a.modifier = Modifier::BOLD;
            buf[(1, 0)].set_char('b').fg = Color::Indexed(200);
            buf[(2, 0)].set_char('c');
        });
        assert_eq!(out, "\x1b[1;1H\x1b[0;1ma\x1b[0;38;5;200mb\x1b[39mc\x1b[0m");
    }

    #[test]
    fn a_plain_terminal_gets_a_plain_underline_and_no_link() {
        let out = drawn(Features::default(), fancy);
        assert_eq!(out, "\x1b[1;1H\x1b[0;1;4;91ma\x1b[0mbc\x1b[0m");
        assert!(!out.contains("\x1b]8"));
    }

    #[test]
    fn a_link_survives_ratatuis_width_arithmetic() {
        let mut symbol = "中".to_string();
        push_link(&mut symbol, "https://x.test/");
        assert_eq!(unicode_width::UnicodeWidthStr::width(symbol.as_str()), 2);
        let (text, tags) = split_link(&symbol);
        assert_eq!((text, tags.map(link_url)), ("中", Some("https://x.test/".to_string())));
        // A flag's own tag characters are text, not a link.
        let flag = "\u{1f3f4}\u{e0067}\u{e0062}\u{e0073}\u{e0063}\u{e0074}\u{e007f}";
        assert_eq!(split_link(flag), (flag, None));
    }
}
