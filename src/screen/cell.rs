//! Cells, colours and styles: the units a screen is made of.
//!
//! A `Cell` is 24 bytes. The visible grid is small (rows x cols), so cells stay simple;
//! scrollback is stored in the compact form of `history::Line` instead.

use serde::{Deserialize, Serialize};

/// A colour as a program asked for it: the terminal's default, one of the 256 palette
/// entries (0-15 are the 16 ANSI colours), or a true colour.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default, Hash)]
pub enum Color {
    #[default]
    Default,
    Indexed(u8),
    Rgb(u8, u8, u8),
}

impl Color {
    /// Packs a colour into one number for the wire: 0 is the default, 1..=256 a palette
    /// index plus one, and 0x1_000_000 | rgb a true colour.
    pub fn to_wire(self) -> u32 {
        match self {
            Color::Default => 0,
            Color::Indexed(i) => i as u32 + 1,
            Color::Rgb(r, g, b) => 0x100_0000 | (r as u32) << 16 | (g as u32) << 8 | b as u32,
        }
    }

    /// Appends the SGR parameter that sets this colour (`;31`, `;38;5;200`,
    /// `;48;2;1;2;3`, `;58:2::1:2:3`) to `out`; nothing for the default. `layer` says
    /// which colour: 30 the text's, 40 the background's, 58 the underline's.
    pub fn push_sgr(self, out: &mut String, layer: u8) {
        use std::fmt::Write;
        let _ = match (self, layer) {
            (Color::Default, _) => Ok(()),
            (Color::Indexed(i), 58) => write!(out, ";58:5:{i}"),
            (Color::Rgb(r, g, b), 58) => write!(out, ";58:2::{r}:{g}:{b}"),
            // The first sixteen as the program likely sent them (terminals brighten
            // bold text only for these).
            (Color::Indexed(i), _) if i < 8 => write!(out, ";{}", layer + i),
            (Color::Indexed(i), _) if i < 16 => write!(out, ";{}", layer + 60 + i - 8),
            (Color::Indexed(i), _) => write!(out, ";{};5;{i}", layer + 8),
            (Color::Rgb(r, g, b), _) => write!(out, ";{};2;{r};{g};{b}", layer + 8),
        };
    }

    pub fn from_wire(v: u32) -> Color {
        match v {
            0 => Color::Default,
            1..=256 => Color::Indexed((v - 1) as u8),
            _ => Color::Rgb((v >> 16) as u8, (v >> 8) as u8, v as u8),
        }
    }
}

/// Text attributes as a bit set; the numbers are part of the wire format.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Attrs(pub u16);

impl Attrs {
    pub const BOLD: u16 = 1;
    pub const DIM: u16 = 1 << 1;
    pub const ITALIC: u16 = 1 << 2;
    pub const UNDERLINE: u16 = 1 << 3;
    pub const DOUBLE_UNDERLINE: u16 = 1 << 4;
    pub const CURLY_UNDERLINE: u16 = 1 << 5;
    pub const BLINK: u16 = 1 << 6;
    pub const INVERSE: u16 = 1 << 7;
    pub const HIDDEN: u16 = 1 << 8;
    pub const STRIKE: u16 = 1 << 9;
    pub const OVERLINE: u16 = 1 << 10;
    pub const DOTTED_UNDERLINE: u16 = 1 << 11;
    pub const DASHED_UNDERLINE: u16 = 1 << 12;
    /// The styled underlines (SGR `4:2`-`4:5`), which a terminal that lacks them draws
    /// as a plain one.
    pub const STYLED_UNDERLINE: u16 =
        Self::DOUBLE_UNDERLINE | Self::CURLY_UNDERLINE | Self::DOTTED_UNDERLINE | Self::DASHED_UNDERLINE;
    pub const ANY_UNDERLINE: u16 = Self::UNDERLINE | Self::STYLED_UNDERLINE;
    /// Each attribute's name, as `teamster capture --json` spells it.
    pub const NAMES: [(u16, &'static str); 13] = [
        (Self::BOLD, "bold"),
        (Self::DIM, "dim"),
        (Self::ITALIC, "italic"),
        (Self::UNDERLINE, "underline"),
        (Self::DOUBLE_UNDERLINE, "double-underline"),
        (Self::CURLY_UNDERLINE, "curly-underline"),
        (Self::BLINK, "blink"),
        (Self::INVERSE, "inverse"),
        (Self::HIDDEN, "hidden"),
        (Self::STRIKE, "strike"),
        (Self::OVERLINE, "overline"),
        (Self::DOTTED_UNDERLINE, "dotted-underline"),
        (Self::DASHED_UNDERLINE, "dashed-underline"),
    ];

    pub fn has(self, bit: u16) -> bool {
        self.0 & bit != 0
    }
    pub fn set(&mut self, bit: u16) {
        self.0 |= bit;
    }
    pub fn clear(&mut self, bit: u16) {
        self.0 &= !bit;
    }
}

/// How a run of text is drawn.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default, Hash)]
pub struct Style {
    pub fg: Color,
    pub bg: Color,
    /// The underline's own colour (SGR 58); the default is the text's.
    pub underline: Color,
    pub attrs: Attrs,
    /// The hyperlink (OSC 8) the text belongs to: an id in the terminal's `Links`, 0 for
    /// none. Not a graphic rendition: SGR 0 keeps it.
    pub link: u16,
}

impl Style {
    /// The style an erased cell gets: only the background survives (xterm's
    /// "background colour erase").
    pub fn erased(self) -> Style {
        Style { bg: self.bg, ..Style::default() }
    }
}

/// Whether a cell holds a narrow character, the left half of a wide one, or the right
/// half (a spacer that holds no character of its own).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default, Hash)]
pub enum Width {
    #[default]
    Narrow,
    Wide,
    Spacer,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug, Hash)]
pub struct Cell {
    pub ch: char,
    pub style: Style,
    pub width: Width,
    /// True when combining characters for this cell are kept in the row's side table.
    pub combined: bool,
}

impl Default for Cell {
    fn default() -> Self {
        Cell::blank(Style::default())
    }
}

impl Cell {
    pub fn blank(style: Style) -> Cell {
        Cell { ch: ' ', style, width: Width::Narrow, combined: false }
    }

    /// Blank with the default style: what trailing space in a line is made of.
    pub fn is_default_blank(&self) -> bool {
        self.ch == ' ' && self.style == Style::default() && !self.combined && self.width == Width::Narrow
    }
}

/// Display width of a character: 0 for combining marks and other zero-width characters,
/// 2 for wide (CJK, most emoji), 1 otherwise. Control characters never reach here.
#[inline]
pub fn char_width(c: char) -> usize {
    if (c as u32) < 0x7f {
        return 1;
    }
    unicode_width::UnicodeWidthChar::width(c).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cell_stays_small() {
        assert_eq!(std::mem::size_of::<Cell>(), 24);
    }

    #[test]
    fn colors_round_trip_through_the_wire() {
        for c in [Color::Default, Color::Indexed(0), Color::Indexed(255), Color::Rgb(1, 2, 3), Color::Rgb(0, 0, 0)] {
            assert_eq!(Color::from_wire(c.to_wire()), c);
        }
    }

    #[test]
    fn widths() {
        assert_eq!(char_width('a'), 1);
        assert_eq!(char_width('中'), 2);
        assert_eq!(char_width('\u{301}'), 0);
        assert_eq!(char_width('🎉'), 2);
    }
}
