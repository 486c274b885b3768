//! Screen contents on the wire.
//!
//! A row is a list of runs of cells that share a style and a width. A run's text holds one
//! character per cell (a wide character once, for its two cells); combining marks travel
//! beside it by index. Receivers never compute character widths, so a TUI, a remote attach
//! and a browser draw the same cells. Rows are made from and turned into cells by the
//! terminal model (`screen::wire`).

use serde::{Deserialize, Serialize};

fn is_zero(v: &u32) -> bool {
    *v == 0
}
fn is_zero16(v: &u16) -> bool {
    *v == 0
}
fn is_false(v: &bool) -> bool {
    !*v
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct WireRun {
    /// One character per cell.
    #[serde(rename = "t")]
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
    #[serde(rename = "l", default, skip_serializing_if = "String::is_empty")]
    pub link: String,
    /// Every character of this run takes two cells.
    #[serde(rename = "w", default, skip_serializing_if = "is_false")]
    pub wide: bool,
    /// Combining characters: (index of the character in `text`, what to draw over it).
    #[serde(rename = "m", default, skip_serializing_if = "Vec::is_empty")]
    pub marks: Vec<(u16, String)>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct WireRow {
    #[serde(rename = "r", default, skip_serializing_if = "Vec::is_empty")]
    pub runs: Vec<WireRun>,
    #[serde(rename = "w", default, skip_serializing_if = "is_false")]
    pub wrapped: bool,
}
