//! The agent picker: every agent the config knows, filtered as one types; Enter opens the
//! chosen one in a split beside the focused pane, Tab in a new tab. Space marks agents for
//! a race: with two or more marked, Enter asks for the task and races them.

use super::{Intent, Reaction, View, cancels, typed};
use crate::input::{Key, KeyCode, Mods};
use crate::layout::Direction;
use crate::protocol::{Command, Spawn};
use crate::tui::app::App;
use crate::tui::view::{centered, overlay_block, theme, truncate};
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::widgets::{Clear, Widget};

#[derive(Clone, Debug, PartialEq)]
pub struct PickerItem {
    pub label: String,
    pub detail: String,
    pub spawn: Spawn,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Picker {
    pub items: Vec<PickerItem>,
    pub filter: String,
    pub selected: usize,
    /// The runner has not said which agents there are yet.
    pub loading: bool,
    /// Agents marked for a race, by name, in the order marked.
    pub marked: Vec<String>,
}

impl Picker {
    /// Empty, while the agents load.
    pub fn loading() -> Picker {
        Picker { items: Vec::new(), filter: String::new(), selected: 0, loading: true, marked: Vec::new() }
    }

    /// Items matching the filter, best first: names that start with it, names that
    /// contain it, then descriptions that contain it.
    pub fn matches(&self) -> Vec<usize> {
        let f = self.filter.to_lowercase();
        let rank = |i: &PickerItem| {
            let label = i.label.to_lowercase();
            if label.starts_with(&f) {
                Some(0)
            } else if label.contains(&f) {
                Some(1)
            } else {
                i.detail.to_lowercase().contains(&f).then_some(2)
            }
        };
        let mut found: Vec<(u8, usize)> =
            self.items.iter().enumerate().filter_map(|(n, i)| rank(i).map(|r| (r, n))).collect();
        found.sort();
        found.into_iter().map(|(_, n)| n).collect()
    }
}

impl View for Picker {
    fn key(&mut self, key: &Key, app: &App) -> Reaction {
        let ctrl = |c: char| key.mods.has(Mods::CTRL) && key.code == KeyCode::Char(c);
        let matches = self.matches();
        match key.code {
            _ if cancels(key) => Reaction::Close,
            KeyCode::Enter if self.marked.len() >= 2 => Reaction::CloseAnd(Intent::Race(self.marked.clone())),
            // Marks the selected agent for a race (or unmarks it); a shell or a command
            // cannot race.
            KeyCode::Char(' ') if key.mods.0 & !Mods::SHIFT == 0 => {
                let chosen = matches.get(self.selected).and_then(|&i| self.items.get(i));
                if let Some(Spawn::Agent { name }) = chosen.map(|i| &i.spawn) {
                    match self.marked.iter().position(|m| m == name) {
                        Some(at) => {
                            self.marked.remove(at);
                        }
                        None => self.marked.push(name.clone()),
                    }
                }
                Reaction::Stay
            }
            KeyCode::Enter | KeyCode::Tab => {
                let Some(item) = matches.get(self.selected).and_then(|&i| self.items.get(i)) else {
                    return Reaction::Close;
                };
                let spawn = item.spawn.clone();
                // Along the focused pane's longer side (a cell is about twice as tall as wide).
                let dir = app
                    .focused_rect()
                    .map_or(Direction::Right, |r| if r.w >= r.h * 2 { Direction::Right } else { Direction::Down });
                Reaction::CloseAnd(Intent::Command(match key.code {
                    KeyCode::Tab => Command::NewTab { spawn },
                    _ => Command::Split { dir, spawn },
                }))
            }
            KeyCode::Up => {
                self.selected = self.selected.saturating_sub(1);
                Reaction::Stay
            }
            _ if ctrl('p') => {
                self.selected = self.selected.saturating_sub(1);
                Reaction::Stay
            }
            KeyCode::Down => {
                self.selected = (self.selected + 1).min(matches.len().saturating_sub(1));
                Reaction::Stay
            }
            _ if ctrl('n') => {
                self.selected = (self.selected + 1).min(matches.len().saturating_sub(1));
                Reaction::Stay
            }
            KeyCode::Backspace => {
                self.filter.pop();
                self.selected = 0;
                Reaction::Stay
            }
            _ => {
                if let Some(c) = typed(key) {
                    self.filter.push(c);
                    self.selected = 0;
                }
                Reaction::Stay
            }
        }
    }

    fn draw(&self, app: &App, buf: &mut Buffer, area: Rect) {
        let matches = self.matches();
        let box_area = centered(area, 64, matches.len() as u16 + 6);
        Clear.render(box_area, buf);
        let footer = match self.marked.len() {
            0 => " enter: split  tab: new tab  space: mark to race  esc: cancel ".to_string(),
            1 => " space: mark one more to race  enter: split  esc: cancel ".to_string(),
            n => format!(" enter: race these {n}  space: mark  esc: cancel "),
        };
        let block = overlay_block(app, " open an agent in a new pane ", footer).style(theme(app, "overlay"));
        let inner = block.inner(box_area);
        block.render(box_area, buf);
        buf.set_string(inner.x + 1, inner.y, format!("> {}", self.filter), theme(app, "overlay"));
        if self.loading {
            buf.set_string(inner.x + 1, inner.y + 2, "loading…", theme(app, "overlay"));
            return;
        }
        if matches.is_empty() {
            buf.set_string(inner.x + 1, inner.y + 2, "nothing matches", theme(app, "overlay"));
        }
        for (row, &i) in matches.iter().enumerate().take(inner.height.saturating_sub(2) as usize) {
            let item = &self.items[i];
            let y = inner.y + 2 + row as u16;
            let st = if row == self.selected { theme(app, "overlay_selected") } else { theme(app, "overlay") };
            buf.set_style(Rect::new(inner.x, y, inner.width, 1), st);
            let marked = match &item.spawn {
                Spawn::Agent { name } if self.marked.contains(name) => "✓",
                _ => " ",
            };
            let text = format!("{marked}{:<14} {}", item.label, item.detail);
            buf.set_string(inner.x, y, truncate(&text, inner.width as usize), st);
        }
    }

    fn paste(&mut self, text: &str) {
        self.filter.push_str(text.lines().next().unwrap_or(""));
    }
}
