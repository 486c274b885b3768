//! Mouse: focus by click, borders dragged, the wheel, selections in copy mode, clicks
//! passed to programs that asked for them.

use super::*;

impl App {
    pub(super) fn on_mouse(&mut self, m: MouseEvent) {
        if !self.mouse || self.overlay.is_some() {
            return;
        }
        // The sidebar lies over the panes: what is pointed at there is the sidebar's.
        if self.sidebar_area().is_some_and(|r| r.contains(m.x, m.y)) && self.mouse_down.is_none() {
            return;
        }
        if m.y + 1 == self.size.rows {
            if m.kind == MouseKind::Press
                && m.button == MouseButton::Left
                && let Some(index) = crate::tui::view::tab_at(self, m.x)
            {
                self.command(Command::SelectTab { index });
            }
            return;
        }
        // A drag and its release belong to the pane the button went down in, wherever the
        // pointer is now.
        let held = match m.kind {
            MouseKind::Drag | MouseKind::Release => self.mouse_down,
            _ => None,
        };
        let found = match held {
            Some(p) => self.visible().into_iter().find(|(q, _)| *q == p),
            None => self.visible().into_iter().find(|(_, r)| r.contains(m.x, m.y)),
        };
        let Some((pane, rect)) = found else {
            self.mouse_down = None;
            return;
        };
        let inner = rect.inner();
        let Some(content) = self.panes.get(&pane) else { return };
        let wants_mouse = content.modes.mouse && self.copy.is_none();
        let alt_screen = content.modes.alt_screen;
        let local = MouseEvent {
            x: m.x.saturating_sub(inner.x).min(inner.w.saturating_sub(1)),
            y: m.y.saturating_sub(inner.y).min(inner.h.saturating_sub(1)),
            ..m
        };
        let focused = self.focused() == Some(pane);
        match m.kind {
            MouseKind::Press => {
                if !focused {
                    self.command(Command::Focus { pane });
                }
                self.mouse_down = None;
                if wants_mouse && inner.contains(m.x, m.y) {
                    self.mouse_down = Some(pane);
                    self.send_to_pane(pane, vec![InputEvent::Mouse(local)]);
                }
            }
            MouseKind::WheelUp | MouseKind::WheelDown => {
                let up = m.kind == MouseKind::WheelUp;
                if wants_mouse {
                    self.send_to_pane(pane, vec![InputEvent::Mouse(local)]);
                } else if alt_screen {
                    // Full-screen programs that did not ask for the mouse scroll with arrows.
                    let key = InputEvent::Key(Key::new(if up { KeyCode::Up } else { KeyCode::Down }, 0));
                    self.send_to_pane(pane, vec![key; WHEEL_LINES as usize]);
                } else {
                    self.wheel_scroll(pane, focused, up);
                }
            }
            // A drag and its release go where the button went down (even past the border,
            // clamped to the pane); a move, only inside it.
            MouseKind::Release | MouseKind::Drag => {
                if wants_mouse && self.mouse_down == Some(pane) {
                    self.send_to_pane(pane, vec![InputEvent::Mouse(local)]);
                }
                if m.kind == MouseKind::Release {
                    self.mouse_down = None;
                }
            }
            MouseKind::Move => {
                if wants_mouse && focused && inner.contains(m.x, m.y) {
                    self.send_to_pane(pane, vec![InputEvent::Mouse(local)]);
                }
            }
        }
    }

    pub(super) fn wheel_scroll(&mut self, pane: PaneId, focused: bool, up: bool) {
        if !focused {
            self.command(Command::Focus { pane });
            return;
        }
        if self.copy.is_none() {
            if !up {
                return;
            }
            self.enter_copy();
        }
        let Some(c) = &mut self.copy else { return };
        let Some(content) = self.panes.get(&c.pane) else { return };
        let height = content.size.rows as u64;
        if up {
            c.top = c.top.saturating_sub(WHEEL_LINES).max(content.first_line);
        } else {
            c.top = (c.top + WHEEL_LINES).min(content.screen_top);
        }
        c.cursor.0 = c.cursor.0.clamp(c.top, c.top + height.saturating_sub(1));
        if !up && c.top >= content.screen_top && c.anchor.is_none() {
            self.leave_copy();
            return;
        }
        self.fetch_lines();
    }
}
