//! Each pane's number over it, for a few seconds (tmux's `display-panes`): a digit focuses
//! that pane, any other key closes.

use super::{Intent, Reaction, View};
use crate::input::{Key, KeyCode};
use crate::protocol::Command;
use crate::tui::app::App;
use crate::tui::view::theme;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use std::time::Instant;

#[derive(Clone, Debug, PartialEq)]
pub struct DisplayPanes {
    pub until: Instant,
}

impl View for DisplayPanes {
    fn key(&mut self, key: &Key, _app: &App) -> Reaction {
        match key.code {
            KeyCode::Char(c @ '1'..='9') => {
                Reaction::CloseAnd(Intent::Command(Command::FocusNumber { number: c as u8 - b'0' }))
            }
            _ => Reaction::Close,
        }
    }

    fn draw(&self, app: &App, buf: &mut Buffer, _area: Rect) {
        for (pane, rect) in app.visible() {
            let label = format!(" {} ", app.pane_number(pane));
            let (x, y) = (rect.x + rect.w / 2 - (label.len() as u16 / 2).min(rect.w / 2), rect.y + rect.h / 2);
            buf.set_string(x, y, &label, theme(app, "overlay_selected"));
        }
    }
}
