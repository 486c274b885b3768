//! The keys of the mode one is in (and, in normal mode, those after the prefix), from the
//! keymap in force; j/k and the page keys scroll, any other key closes.

use super::{Reaction, View};
use crate::config::{Action, Mode};
use crate::input::{Key, KeyCode};
use crate::tui::app::App;
use crate::tui::view::{centered, describe, overlay_block, theme};
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::Line;
use ratatui::widgets::{Clear, Paragraph, Widget};

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Help {
    pub scroll: u16,
}

impl View for Help {
    fn key(&mut self, key: &Key, app: &App) -> Reaction {
        // Never past its end: the first key back up moves it.
        let limit = scroll_limit(app);
        self.scroll = match key.code {
            KeyCode::Down | KeyCode::Char('j') => self.scroll.saturating_add(1),
            KeyCode::Up | KeyCode::Char('k') => self.scroll.saturating_sub(1),
            KeyCode::PageDown | KeyCode::Char(' ') => self.scroll.saturating_add(10),
            KeyCode::PageUp => self.scroll.saturating_sub(10),
            _ => return Reaction::Close,
        }
        .min(limit);
        Reaction::Stay
    }

    fn draw(&self, app: &App, buf: &mut Buffer, area: Rect) {
        let lines = lines(app);
        let box_area = help_area(area, &lines);
        let scroll = self.scroll.min(max_scroll(lines.len(), box_area));
        Clear.render(box_area, buf);
        Paragraph::new(lines)
            .scroll((scroll, 0))
            .style(theme(app, "overlay"))
            .block(overlay_block(app, " keys ", " j/k scroll  any other key closes "))
            .render(box_area, buf);
    }
}

/// Where the help goes: as wide as its longest line (the terminal's width at most), as
/// high as the screen allows.
fn help_area(area: Rect, lines: &[Line]) -> Rect {
    let widest = lines.iter().map(|l| l.width()).max().unwrap_or(0) as u16;
    centered(area, widest + 4, area.height.saturating_sub(4))
}

/// How far the help can scroll: until its last line is at the bottom, no further.
fn max_scroll(lines: usize, box_area: Rect) -> u16 {
    (lines as u16).saturating_sub(box_area.height.saturating_sub(2))
}

/// The help's scroll position for `app`'s screen, kept within its end.
pub fn scroll_limit(app: &App) -> u16 {
    let lines = lines(app);
    let area = Rect::new(0, 0, app.size.cols, app.size.rows);
    max_scroll(lines.len(), help_area(area, &lines))
}

fn lines(app: &App) -> Vec<Line<'static>> {
    let mode = if app.mode == Mode::Copy || app.copy.is_some() { Mode::Copy } else { app.mode };
    let mut lines: Vec<Line> = Vec::new();
    let section = |title: String, m: Mode, lines: &mut Vec<Line>| {
        let bindings = app.keymap.bindings(m);
        if bindings.is_empty() {
            return;
        }
        lines.push(Line::styled(title, theme(app, "overlay_border")));
        // Keys that do the same thing share a line, and so do numbered ones
        // (alt-1 ... alt-9: focus pane 1 to 9).
        let numbered = |a: Action| matches!(a, Action::FocusPane(_) | Action::SelectTab(_));
        let mut grouped: Vec<(String, Option<String>, Action)> = Vec::new();
        for (key, action) in bindings {
            match grouped.last_mut() {
                Some((keys, _, a)) if *a == action => keys.push_str(&format!(", {key}")),
                Some((_, last, a)) if numbered(*a) && std::mem::discriminant(a) == std::mem::discriminant(&action) => {
                    *last = Some(key.to_string());
                }
                _ => grouped.push((key.to_string(), None, action)),
            }
        }
        for (keys, last, action) in grouped {
            let (keys, what) = match (last, action) {
                (Some(last), Action::FocusPane(_)) => {
                    (format!("{keys} … {last}"), "focus the pane of that number".to_string())
                }
                (Some(last), Action::SelectTab(_)) => {
                    (format!("{keys} … {last}"), "go to the tab of that number".to_string())
                }
                (_, a) => (keys, describe(a)),
            };
            lines.push(Line::from(format!("  {keys:<22} {what}")));
        }
        lines.push(Line::raw(""));
    };
    section(format!("{} mode", mode.name()), mode, &mut lines);
    if mode == Mode::Normal {
        section("after the prefix key".into(), Mode::Prefix, &mut lines);
    }
    lines.push(Line::raw("  Hold shift to select text with your terminal's own mouse selection."));
    lines
}
