//! The terminal model's rows as they travel (`protocol::wire`), and back: runs of cells
//! that share a style, as text, ANSI or JSON.

use super::links::Links;
use super::{Attrs, Cell, Color, Row, Style, Width};
use crate::protocol::wire::{WireRow, WireRun};

impl WireRun {
    /// The run's style; its link is `link`, not an id.
    pub fn style(&self) -> Style {
        Style {
            fg: Color::from_wire(self.fg),
            bg: Color::from_wire(self.bg),
            underline: Color::from_wire(self.underline),
            attrs: Attrs(self.attrs),
            link: 0,
        }
    }

    /// Cells this run covers.
    pub fn width(&self) -> usize {
        self.text.chars().count() * if self.wide { 2 } else { 1 }
    }
}

impl WireRow {
    /// Encodes a row; trailing default blanks are left out (the receiver pads). `links`
    /// are the addresses of the screen the row belongs to.
    pub fn from_row(row: &Row, links: &Links) -> WireRow {
        let len = row.content_len();
        let mut runs: Vec<WireRun> = Vec::new();
        let mut run_style = None;
        for (x, cell) in row.stored()[..len].iter().enumerate() {
            if cell.width == Width::Spacer {
                continue;
            }
            let wide = cell.width == Width::Wide;
            if run_style != Some((cell.style, wide)) {
                run_style = Some((cell.style, wide));
                let st = cell.style;
                runs.push(WireRun {
                    fg: st.fg.to_wire(),
                    bg: st.bg.to_wire(),
                    underline: st.underline.to_wire(),
                    attrs: st.attrs.0,
                    link: links.url(st.link).unwrap_or_default().to_string(),
                    wide,
                    ..WireRun::default()
                });
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
            if run.link.is_empty() {
                push_run_text(&mut out, run);
            } else {
                out.push_str(&format!("\x1b]8;;{}\x1b\\", run.link));
                push_run_text(&mut out, run);
                out.push_str("\x1b]8;;\x1b\\");
            }
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

    /// Whether the row shows nothing: no character but spaces, and no wrap onto the next.
    pub fn is_blank(&self) -> bool {
        !self.wrapped && self.runs.iter().all(|r| r.marks.is_empty() && r.text.chars().all(|c| c == ' '))
    }

    /// A screen's lines (`Screen::copy_lines`), oldest first, up to the last that is not
    /// blank: what `teamster capture` prints and what a restart brings back.
    pub fn of_lines(lines: &super::Lines) -> Vec<WireRow> {
        let mut rows: Vec<WireRow> = lines.rows().map(|r| WireRow::from_row(&r, &lines.links)).collect();
        let shown = rows.iter().rposition(|r| !r.is_blank()).map_or(0, |last| last + 1);
        rows.truncate(shown);
        rows
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
                let mut json = serde_json::json!({
                    "text": text, "cells": run.width(), "fg": color(run.fg), "bg": color(run.bg),
                    "attrs": attrs, "wide": run.wide,
                });
                // Only where a program set them: most runs have neither.
                if run.underline != 0 {
                    json["underline_color"] = color(run.underline);
                }
                if !run.link.is_empty() {
                    json["link"] = run.link.clone().into();
                }
                json
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
    let mut out = String::from("\x1b[0");
    let a = style.attrs;
    for (bit, code) in [
        (Attrs::BOLD, ";1"),
        (Attrs::DIM, ";2"),
        (Attrs::ITALIC, ";3"),
        (Attrs::UNDERLINE, ";4"),
        (Attrs::DOUBLE_UNDERLINE, ";21"),
        (Attrs::CURLY_UNDERLINE, ";4:3"),
        (Attrs::DOTTED_UNDERLINE, ";4:4"),
        (Attrs::DASHED_UNDERLINE, ";4:5"),
        (Attrs::BLINK, ";5"),
        (Attrs::INVERSE, ";7"),
        (Attrs::HIDDEN, ";8"),
        (Attrs::STRIKE, ";9"),
        (Attrs::OVERLINE, ";53"),
    ] {
        if a.has(bit) {
            out.push_str(code);
        }
    }
    style.fg.push_sgr(&mut out, 30);
    style.bg.push_sgr(&mut out, 40);
    style.underline.push_sgr(&mut out, 58);
    out.push('m');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::screen::Screen;

    #[test]
    fn rows_round_trip_with_styles_wide_and_combining_characters() {
        let mut s = Screen::new(20, 1, 0);
        s.feed("a\x1b[31mb中\x1b[0me\u{301}\x1b[44m \x1b[0m".as_bytes());
        let wire = WireRow::from_row(s.row(0), s.links());
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
        let json = serde_json::to_string(&WireRow::from_row(s.row(0), s.links())).unwrap();
        assert_eq!(json, r#"{"r":[{"t":"hello world"}]}"#);
    }

    #[test]
    fn underline_styles_colour_and_links_reach_the_wire() {
        let mut s = Screen::new(40, 1, 0);
        s.feed(b"\x1b[4:4;58:2::255:0:1mdot\x1b[4:5;58;5;9mdash\x1b[59;53mover\x1b[0m");
        s.feed(b"\x1b]8;id=x;https://example.com/a;b\x1b\\link\x1b[0m!\x1b]8;;\x1b\\end");
        let wire = WireRow::from_row(s.row(0), s.links());
        let runs: Vec<(&str, u16, u32, &str)> =
            wire.runs.iter().map(|r| (r.text.as_str(), r.attrs, r.underline, r.link.as_str())).collect();
        assert_eq!(
            runs,
            vec![
                ("dot", Attrs::DOTTED_UNDERLINE, Color::Rgb(255, 0, 1).to_wire(), ""),
                ("dash", Attrs::DASHED_UNDERLINE, Color::Indexed(9).to_wire(), ""),
                ("over", Attrs::DASHED_UNDERLINE | Attrs::OVERLINE, 0, ""),
                // SGR 0 ends the styles, not the link: that takes an empty OSC 8.
                ("link!", 0, 0, "https://example.com/a;b"),
                ("end", 0, 0, ""),
            ]
        );
        let ansi = wire.ansi();
        assert!(ansi.contains("\x1b[0;4:4;58:2::255:0:1mdot"), "{ansi:?}");
        assert!(ansi.contains("\x1b[0;4:5;58:5:9mdash"), "{ansi:?}");
        assert!(ansi.contains("\x1b]8;;https://example.com/a;b\x1b\\link!\x1b]8;;\x1b\\"), "{ansi:?}");
        let json = wire.to_json();
        assert_eq!(json["runs"][0]["attrs"], serde_json::json!(["dotted-underline"]));
        assert_eq!(json["runs"][0]["underline_color"], "#ff0001");
        assert_eq!(json["runs"][3]["link"], "https://example.com/a;b");
        assert_eq!(json["runs"][4].get("link"), None);
        assert_eq!(json["runs"][4].get("underline_color"), None);
        let back: WireRow = serde_json::from_str(&serde_json::to_string(&wire).unwrap()).unwrap();
        assert_eq!(back, wire);
    }
}
