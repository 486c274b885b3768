//! Screen contents on the wire.
//!
//! A row is a list of runs of cells that share a style and a width. A run's text holds one
//! character per cell (a wide character once, for its two cells); combining marks travel
//! beside it by index. Receivers never compute character widths, so a TUI, a remote attach
//! and a browser draw the same cells. Rows are made from and turned into cells by the
//! terminal model (`screen::wire`).
//!
//! A row's text goes to a terminal as it is (the TUI's cells, `teamster capture`), and a
//! row may come from a peer: a teammate's runner through a share server, either of which
//! may be hostile. So a row is checked as it is decoded, whatever it came through: a
//! control character (C0, DEL, C1) in a run's text becomes U+FFFD (a cell stays a cell),
//! one in a combining mark is left out, and a link address that is not printable ASCII
//! (as the terminal model keeps them, `screen::links`) is dropped. The terminal model
//! never makes such a row; only a forged one has them.

use serde::{Deserialize, Deserializer, Serialize};

fn is_zero(v: &u32) -> bool {
    *v == 0
}
fn is_zero16(v: &u16) -> bool {
    *v == 0
}
fn is_false(v: &bool) -> bool {
    !*v
}

/// The longest link address a row carries (the terminal model keeps none longer).
pub const MAX_URL: usize = 2048;

/// The character after which a drawn cell's symbol carries its link's address (in Unicode
/// tag characters): the TUI's own, so never one a row brings (`marks`).
pub const LINK_MARK: char = '\u{e0001}';

/// A byte a link's address may hold: printable ASCII, no space.
pub fn url_byte(b: u8) -> bool {
    (0x21..0x7f).contains(&b)
}

/// Whether `url` is a link address a row may carry: printable ASCII, at most `MAX_URL`.
pub fn printable_url(url: &[u8]) -> bool {
    url.len() <= MAX_URL && url.iter().all(|b| url_byte(*b))
}

/// A run's text as decoded: each control character replaced by U+FFFD.
fn text<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let text = String::deserialize(d)?;
    Ok(if text.contains(char::is_control) {
        text.chars().map(|c| if c.is_control() { '\u{fffd}' } else { c }).collect()
    } else {
        text
    })
}

/// Combining marks as decoded: control characters and the TUI's link mark left out (a
/// program printing it with tag characters would forge a link), and a mark left with
/// nothing.
fn marks<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<(u16, String)>, D::Error> {
    let mut marks = Vec::<(u16, String)>::deserialize(d)?;
    let foreign = |c: char| c.is_control() || c == LINK_MARK;
    for (_, mark) in &mut marks {
        if mark.contains(foreign) {
            mark.retain(|c| !foreign(c));
        }
    }
    marks.retain(|(_, mark)| !mark.is_empty());
    Ok(marks)
}

/// A link's address as decoded: empty (no link) unless it is printable ASCII no longer
/// than the terminal model keeps.
fn link<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let link = String::deserialize(d)?;
    Ok(if printable_url(link.as_bytes()) { link } else { String::new() })
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct WireRun {
    /// One character per cell.
    #[serde(rename = "t", deserialize_with = "text")]
    pub text: String,
    /// Colours as `Color::to_wire`: 0 default, 1..=256 palette + 1, 0x1000000|rgb.
    #[serde(rename = "f", default, skip_serializing_if = "is_zero")]
    pub fg: u32,
    #[serde(rename = "b", default, skip_serializing_if = "is_zero")]
    pub bg: u32,
    #[serde(rename = "a", default, skip_serializing_if = "is_zero16")]
    pub attrs: u16,
    /// The underline's own colour, as `fg`.
    #[serde(rename = "u", default, skip_serializing_if = "is_zero")]
    pub underline: u32,
    /// The hyperlink's address (OSC 8), printable ASCII only (the screen keeps no other).
    #[serde(rename = "l", default, skip_serializing_if = "String::is_empty", deserialize_with = "link")]
    pub link: String,
    /// Every character of this run takes two cells.
    #[serde(rename = "w", default, skip_serializing_if = "is_false")]
    pub wide: bool,
    /// Combining characters: (index of the character in `text`, what to draw over it).
    #[serde(rename = "m", default, skip_serializing_if = "Vec::is_empty", deserialize_with = "marks")]
    pub marks: Vec<(u16, String)>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct WireRow {
    #[serde(rename = "r", default, skip_serializing_if = "Vec::is_empty")]
    pub runs: Vec<WireRun>,
    #[serde(rename = "w", default, skip_serializing_if = "is_false")]
    pub wrapped: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn forged() -> WireRow {
        WireRow {
            runs: vec![WireRun {
                text: "a\u{9b}31m\x1b]52;c;eA==\x07b\u{7f}".into(),
                link: "https://x/\x1b]52;c;eA==\x07".into(),
                marks: vec![(0, "\u{301}\u{9d}".into()), (1, "\u{9b}".into())],
                ..WireRun::default()
            }],
            wrapped: false,
        }
    }

    fn assert_clean(row: &WireRow) {
        for run in &row.runs {
            assert!(!run.text.contains(char::is_control), "{row:?}");
            assert!(run.link.bytes().all(|b| (0x21..0x7f).contains(&b)), "{row:?}");
            for (_, mark) in &run.marks {
                assert!(!mark.contains(char::is_control) && !mark.is_empty(), "{row:?}");
            }
        }
    }

    /// A row a peer forged (through a share or the runner's socket) brings no control
    /// character to the terminal it is drawn on, in JSON (a share's sealed updates) or
    /// MessagePack (the runner's socket).
    #[test]
    fn a_forged_rows_control_characters_are_left_behind_when_it_is_decoded() {
        let row = forged();
        let json: WireRow = serde_json::from_str(&serde_json::to_string(&row).unwrap()).unwrap();
        assert_clean(&json);
        let run = &json.runs[0];
        // One cell each still: the columns after them stay where they were.
        assert_eq!(run.text, "a\u{fffd}31m\u{fffd}]52;c;eA==\u{fffd}b\u{fffd}");
        assert_eq!(run.link, "");
        assert_eq!(run.marks, vec![(0, "\u{301}".to_string())]);
        let packed: WireRow = rmp_serde::from_slice(&rmp_serde::to_vec_named(&row).unwrap()).unwrap();
        assert_eq!(packed, json);
        let text = json.text();
        assert!(!text.contains(char::is_control), "{text:?}");
        let ansi = json.ansi();
        assert!(!ansi.contains('\u{7}') && !ansi.contains("\x1b]52"), "{ansi:?}");
    }

    #[test]
    fn a_clean_row_decodes_as_it_was() {
        let row = WireRow {
            runs: vec![WireRun {
                text: "héllo 中".into(),
                link: "https://example.com/a;b?c=d".into(),
                marks: vec![(1, "\u{301}\u{202e}".into())],
                ..WireRun::default()
            }],
            wrapped: true,
        };
        let back: WireRow = serde_json::from_str(&serde_json::to_string(&row).unwrap()).unwrap();
        assert_eq!(back, row);
    }
}
