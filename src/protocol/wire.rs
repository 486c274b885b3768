//! Screen contents on the wire.
//!
//! A row is a list of runs of cells that share a style and a width. A run's text holds one
//! character per cell (a wide character once, for its two cells); combining marks travel
//! beside it by index. Receivers never compute character widths, so a TUI, a remote attach
//! and a browser draw the same cells.

use crate::screen::{Attrs, Cell, Color, Row, Style, Width};
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
    /// Every character of this run takes two cells.
    #[serde(rename = "w", default, skip_serializing_if = "is_false")]
    pub wide: bool,
    /// Combining characters: (index of the character in `text`, what to draw over it).
    #[serde(rename = "m", default, skip_serializing_if = "Vec::is_empty")]
    pub marks: Vec<(u16, String)>,
}

impl WireRun {
    pub fn style(&self) -> Style {
        Style { fg: Color::from_wire(self.fg), bg: Color::from_wire(self.bg), attrs: Attrs(self.attrs) }
    }

    /// Cells this run covers.
    pub fn width(&self) -> usize {
        self.text.chars().count() * if self.wide { 2 } else { 1 }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct WireRow {
    #[serde(rename = "r", default, skip_serializing_if = "Vec::is_empty")]
    pub runs: Vec<WireRun>,
    #[serde(rename = "w", default, skip_serializing_if = "is_false")]
    pub wrapped: bool,
}

impl WireRow {
    /// Encodes a row; trailing default blanks are left out (the receiver pads).
    pub fn from_row(row: &Row) -> WireRow {
        let len = row.content_len();
        let mut runs: Vec<WireRun> = Vec::new();
        for (x, cell) in row.stored()[..len].iter().enumerate() {
            if cell.width == Width::Spacer {
                continue;
            }
            let (fg, bg, attrs) = (cell.style.fg.to_wire(), cell.style.bg.to_wire(), cell.style.attrs.0);
            let wide = cell.width == Width::Wide;
            let same = runs.last().is_some_and(|r| r.fg == fg && r.bg == bg && r.attrs == attrs && r.wide == wide);
            if !same {
                runs.push(WireRun { fg, bg, attrs, wide, ..WireRun::default() });
            }
            let Some(run) = runs.last_mut() else { continue };
            if cell.combined
                && let Some(extra) = row.combining_at(x)
            {
                run.marks.push((run.text.chars().count() as u16, extra.to_string()));
            }
            run.text.push(cell.ch);
        }
        WireRow { runs, wrapped: row.wrapped }
    }

    /// The row as a terminal would be sent it: each run's style as an SGR sequence, reset
    /// at the end.
    pub fn ansi(&self) -> String {
        let mut out = String::new();
        for run in &self.runs {
            out.push_str(&sgr(&run.style()));
            push_run_text(&mut out, run);
        }
        out.push_str("\x1b[0m");
        out
    }

    /// Decodes into cells, `cols` wide; anything past `cols` is dropped.
    pub fn to_cells(&self, cols: usize) -> (Vec<Cell>, Vec<(u16, String)>) {
        let mut cells = vec![Cell::default(); cols];
        let mut marks = Vec::new();
        let mut x = 0;
        for run in &self.runs {
            let style = run.style();
            for (i, ch) in run.text.chars().enumerate() {
                let w = if run.wide { 2 } else { 1 };
                if x + w > cols {
                    return (cells, marks);
                }
                let width = if run.wide { Width::Wide } else { Width::Narrow };
                cells[x] = Cell { ch, style, width, combined: false };
                if run.wide {
                    cells[x + 1] = Cell { ch: ' ', style, width: Width::Spacer, combined: false };
                }
                for (_, m) in run.marks.iter().filter(|(j, _)| *j as usize == i) {
                    cells[x].combined = true;
                    marks.push((x as u16, m.clone()));
                }
                x += w;
            }
        }
        (cells, marks)
    }

    /// The row as plain text (trailing blanks dropped), for `teamster capture`, tests and
    /// logs.
    pub fn text(&self) -> String {
        let mut s = String::new();
        for run in &self.runs {
            push_run_text(&mut s, run);
        }
        s.trim_end().to_string()
    }
}

impl WireRow {
    /// The row for scripts (`teamster capture --json`): its text, whether it wraps on to
    /// the next, and its cells in runs that share a style. A colour is `null` (the
    /// terminal's own), a palette index, or `"#rrggbb"`.
    pub fn to_json(&self) -> serde_json::Value {
        let color = |wire: u32| match Color::from_wire(wire) {
            Color::Default => serde_json::Value::Null,
            Color::Indexed(i) => i.into(),
            Color::Rgb(r, g, b) => format!("#{r:02x}{g:02x}{b:02x}").into(),
        };
        let runs: Vec<serde_json::Value> = self
            .runs
            .iter()
            .map(|run| {
                let mut text = String::new();
                push_run_text(&mut text, run);
                let attrs: Vec<&str> =
                    Attrs::NAMES.iter().filter(|(bit, _)| Attrs(run.attrs).has(*bit)).map(|(_, n)| *n).collect();
                serde_json::json!({
                    "text": text, "cells": run.width(), "fg": color(run.fg), "bg": color(run.bg),
                    "attrs": attrs, "wide": run.wide,
                })
            })
            .collect();
        serde_json::json!({ "text": self.text(), "wrapped": self.wrapped, "runs": runs })
    }
}

fn push_run_text(out: &mut String, run: &WireRun) {
    for (i, ch) in run.text.chars().enumerate() {
        out.push(ch);
        for (_, m) in run.marks.iter().filter(|(j, _)| *j as usize == i) {
            out.push_str(m);
        }
    }
}

/// The SGR sequence that sets `style` from nothing.
fn sgr(style: &Style) -> String {
    let mut codes = vec!["0".to_string()];
    let a = style.attrs;
    for (bit, code) in [
        (Attrs::BOLD, "1"),
        (Attrs::DIM, "2"),
        (Attrs::ITALIC, "3"),
        (Attrs::UNDERLINE, "4"),
        (Attrs::DOUBLE_UNDERLINE, "21"),
        (Attrs::CURLY_UNDERLINE, "4:3"),
        (Attrs::BLINK, "5"),
        (Attrs::INVERSE, "7"),
        (Attrs::HIDDEN, "8"),
        (Attrs::STRIKE, "9"),
        (Attrs::OVERLINE, "53"),
    ] {
        if a.has(bit) {
            codes.push(code.into());
        }
    }
    for (color, base) in [(style.fg, 30u16), (style.bg, 40)] {
        match color {
            Color::Default => {}
            Color::Indexed(i) if i < 8 => codes.push((base + i as u16).to_string()),
            Color::Indexed(i) if i < 16 => codes.push((base + 60 + i as u16 - 8).to_string()),
            Color::Indexed(i) => codes.push(format!("{};5;{i}", base + 8)),
            Color::Rgb(r, g, b) => codes.push(format!("{};2;{r};{g};{b}", base + 8)),
        }
    }
    format!("\x1b[{}m", codes.join(";"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::screen::Screen;

    #[test]
    fn rows_round_trip_with_styles_wide_and_combining_characters() {
        let mut s = Screen::new(20, 1, 0);
        s.feed("a\x1b[31mb中\x1b[0me\u{301}\x1b[44m \x1b[0m".as_bytes());
        let wire = WireRow::from_row(s.row(0));
        assert_eq!(wire.runs.len(), 5, "{wire:?}");
        let (cells, marks) = wire.to_cells(20);
        for (x, cell) in cells.iter().enumerate().take(7) {
            assert_eq!(*cell, s.row(0).cell(x), "column {x}");
        }
        assert_eq!(marks, vec![(4, "\u{301}".to_string())]);
        assert_eq!(wire.text(), "ab中e\u{301}");
    }

    #[test]
    fn plain_text_stays_small_on_the_wire() {
        let mut s = Screen::new(80, 1, 0);
        s.feed(b"hello world");
        let json = serde_json::to_string(&WireRow::from_row(s.row(0))).unwrap();
        assert_eq!(json, r#"{"r":[{"t":"hello world"}]}"#);
    }
}
