//! The switcher: every session, tab and pane in one full-screen tree, with each agent's
//! state, spend, branch and waiting actions; the agents waiting for the user first. Typing
//! filters; Enter goes there (as tmux's `choose-tree`), or, when the switcher was opened to
//! hand text on (copy mode's `alt-y`), sends the text to that pane's agent as a prompt.
//!
//! Its state, its keys and its drawing live here; `App` opens it, fills it with the
//! runner's sessions, and carries out what it returns.

use super::{Intent, Reaction, View};
use crate::input::{Key, KeyCode, Mods};
use crate::layout::PaneId;
use crate::protocol::{PaneInfo, PaneState, PendingView, SessionView};
use crate::text::visible;
use crate::tui::app::App;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;

/// What choosing a pane does.
#[derive(Clone, Debug, PartialEq)]
pub enum Purpose {
    /// Go to it.
    Jump,
    /// Send `text` to its agent as a prompt; `what` says what the text is ("the
    /// selection", "the last reply of pane 2").
    SendTo { text: String, what: String },
}

/// One pane, as the switcher lists it.
#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    pub session: String,
    pub pane: PaneId,
    /// `SESSION:TAB.PANE`.
    pub place: String,
    label: String,
    status: String,
    /// Waits for the user: asks for a decision, or for input.
    waiting: bool,
    approvals: usize,
    spend: f64,
    branch: Option<String>,
}

/// A row of the tree: a heading, or a pane one can choose.
#[derive(Clone, Debug, PartialEq)]
enum Row {
    Heading(String),
    Pane { entry: Entry, depth: u16 },
}

#[derive(Clone, Debug, PartialEq)]
pub struct Switcher {
    pub purpose: Purpose,
    /// The runner's sessions; `None` while they load.
    pub sessions: Option<Vec<SessionView>>,
    pub filter: String,
    /// Among the panes shown (headings are passed over).
    pub selected: usize,
}

impl Switcher {
    pub fn new(purpose: Purpose) -> Switcher {
        Switcher { purpose, sessions: None, filter: String::new(), selected: 0 }
    }

    /// Every pane, in the order of the tree: session by session, tab by tab.
    fn entries(&self, pending: &[PendingView]) -> Vec<(Entry, u16, String)> {
        let mut out = Vec::new();
        for s in self.sessions.iter().flatten() {
            for (t, tab) in s.tabs.iter().enumerate() {
                let tab_name = if tab.name.is_empty() { format!("tab {}", t + 1) } else { visible(&tab.name).into() };
                for (n, id) in tab.layout.panes().into_iter().enumerate() {
                    let Some(info) = s.pane(id) else { continue };
                    let approvals = pending.iter().filter(|p| p.session == s.name && p.pane == id).count();
                    let entry = entry(s, info, format!("{}:{}.{}", s.name, t + 1, n + 1), approvals);
                    out.push((entry, t as u16, tab_name.clone()));
                }
            }
        }
        out
    }

    /// The rows shown: the panes waiting for the user first, then the whole tree; only
    /// panes that match the filter (and the headings above them).
    fn rows(&self, pending: &[PendingView]) -> Vec<Row> {
        let f = self.filter.to_lowercase();
        let matches = |e: &Entry| {
            f.is_empty()
                || [&e.label, &e.place, &e.status, e.branch.as_deref().unwrap_or("")]
                    .iter()
                    .any(|t| t.to_lowercase().contains(&f))
        };
        let entries: Vec<_> = self.entries(pending).into_iter().filter(|(e, ..)| matches(e)).collect();
        let mut rows = Vec::new();
        let waiting: Vec<&Entry> = entries.iter().map(|(e, ..)| e).filter(|e| e.waiting).collect();
        if !waiting.is_empty() {
            rows.push(Row::Heading("waiting for you".into()));
            rows.extend(waiting.into_iter().map(|e| Row::Pane { entry: e.clone(), depth: 1 }));
        }
        let (mut session, mut tab) = (None, None);
        for (e, t, tab_name) in entries {
            if session.as_ref() != Some(&e.session) {
                let s = self.sessions.iter().flatten().find(|s| s.name == e.session);
                let spend = s.filter(|s| s.spend > 0.0).map(|s| format!("  {}", crate::text::dollars(s.spend)));
                rows.push(Row::Heading(format!("session {}{}", visible(&e.session), spend.unwrap_or_default())));
                session = Some(e.session.clone());
                tab = None;
            }
            if tab != Some(t) {
                rows.push(Row::Heading(format!("  {tab_name}")));
                tab = Some(t);
            }
            rows.push(Row::Pane { entry: e, depth: 2 });
        }
        rows
    }

    fn panes(&self, pending: &[PendingView]) -> Vec<Entry> {
        let rows = self.rows(pending);
        rows.into_iter()
            .filter_map(|r| match r {
                Row::Pane { entry, .. } => Some(entry),
                Row::Heading(_) => None,
            })
            .collect()
    }

    /// Draws the switcher over `area`: a title, the filter, the tree, the keys.
    fn draw_tree(&self, buf: &mut Buffer, area: Rect, pending: &[PendingView], styles: &Styles) {
        ratatui::widgets::Widget::render(ratatui::widgets::Clear, area, buf);
        buf.set_style(area, styles.normal);
        let title = match &self.purpose {
            Purpose::Jump => " every session, tab and pane ".to_string(),
            Purpose::SendTo { what, text } => {
                format!(" send {what} ({} characters) to which agent? ", text.chars().count())
            }
        };
        let width = area.width as usize;
        buf.set_string(area.x, area.y, crate::tui::view::truncate(&title, width), styles.border);
        buf.set_string(
            area.x + 1,
            area.y + 1,
            crate::tui::view::truncate(&format!("> {}", self.filter), width - 1),
            styles.normal,
        );
        let keys = match self.purpose {
            Purpose::Jump => " type to filter  ↑↓ choose  enter go there  ctrl-d review its branch  esc close ",
            Purpose::SendTo { .. } => " type to filter  ↑↓ choose  enter send it there  esc cancel ",
        };
        let bottom = area.y + area.height.saturating_sub(1);
        buf.set_string(area.x, bottom, crate::tui::view::truncate(keys, width), styles.border);
        let Some(sessions) = &self.sessions else {
            buf.set_string(area.x + 1, area.y + 3, "loading…", styles.normal);
            return;
        };
        let rows = self.rows(pending);
        if rows.is_empty() {
            let text = if sessions.is_empty() { "no sessions" } else { "nothing matches" };
            buf.set_string(area.x + 1, area.y + 3, text, styles.normal);
            return;
        }
        // The selected pane's row, kept in view.
        let height = bottom.saturating_sub(area.y + 3) as usize;
        let mut pane_index = 0;
        let selected_row = rows
            .iter()
            .position(|r| {
                let hit = matches!(r, Row::Pane { .. }) && pane_index == self.selected;
                if matches!(r, Row::Pane { .. }) {
                    pane_index += 1;
                }
                hit
            })
            .unwrap_or(0);
        let top = selected_row.saturating_sub(height.saturating_sub(1));
        let mut pane_index = rows[..top].iter().filter(|r| matches!(r, Row::Pane { .. })).count();
        for (i, row) in rows.iter().enumerate().skip(top).take(height) {
            let y = area.y + 3 + (i - top) as u16;
            match row {
                Row::Heading(text) => {
                    buf.set_string(area.x + 1, y, crate::tui::view::truncate(text, width - 1), styles.heading);
                }
                Row::Pane { entry, depth } => {
                    let chosen = pane_index == self.selected;
                    pane_index += 1;
                    let style = if chosen {
                        styles.selected
                    } else if entry.waiting {
                        styles.attention
                    } else {
                        styles.normal
                    };
                    buf.set_style(Rect::new(area.x, y, area.width, 1), style);
                    let text = format!("{}{}", " ".repeat(*depth as usize * 2), entry.line());
                    buf.set_string(area.x + 1, y, crate::tui::view::truncate(&text, width - 1), style);
                }
            }
        }
    }
}

/// The switcher's styles, from the theme.
pub struct Styles {
    pub normal: Style,
    pub border: Style,
    pub heading: Style,
    pub selected: Style,
    pub attention: Style,
}

impl Entry {
    /// `work:1.2  reviewer  waiting for input  ⚑ 2  $0.42  ⎇ teamster/reviewer-1`
    fn line(&self) -> String {
        let mut parts = vec![format!("{:<14}", self.place), format!("{:<16}", self.label), self.status.clone()];
        if self.approvals > 0 {
            parts.push(format!("⚑ {}", self.approvals));
        }
        if self.spend > 0.0 {
            parts.push(crate::text::dollars(self.spend));
        }
        if let Some(b) = &self.branch {
            parts.push(format!("⎇ {b}"));
        }
        parts.join("  ")
    }
}

fn entry(s: &SessionView, info: &PaneInfo, place: String, approvals: usize) -> Entry {
    let waiting = info.wants_user() || (approvals > 0 && info.state == PaneState::Running);
    Entry {
        session: s.name.clone(),
        pane: info.id,
        place: visible(&place).into(),
        label: visible(&info.name.clone().unwrap_or_else(|| info.command.clone())).into(),
        status: info.status(),
        waiting,
        approvals,
        spend: info.spend,
        branch: info.branch.as_deref().map(|b| visible(b).into()),
    }
}

impl View for Switcher {
    /// Takes a key: moves, filters, chooses, or closes.
    fn key(&mut self, key: &Key, app: &App) -> Reaction {
        let pending = &app.sidebar.pending;
        let ctrl = |c: char| key.mods.has(Mods::CTRL) && key.code == KeyCode::Char(c);
        let plain = key.mods.0 & !Mods::SHIFT == 0;
        let count = self.panes(pending).len();
        match key.code {
            KeyCode::Esc => return Reaction::Close,
            _ if ctrl('c') || ctrl('g') => return Reaction::Close,
            KeyCode::Enter => {
                return match self.panes(pending).into_iter().nth(self.selected) {
                    Some(e) => Reaction::CloseAnd(Intent::Chosen(self.purpose.clone(), e)),
                    None => Reaction::Stay,
                };
            }
            // A worktree pane's branch, reviewed from here (a pane without one: nothing).
            _ if ctrl('d') && self.purpose == Purpose::Jump => {
                let chosen = self.panes(pending).into_iter().nth(self.selected);
                return match chosen.filter(|e| e.branch.is_some()) {
                    Some(e) => Reaction::CloseAnd(Intent::Review(e.pane)),
                    None => Reaction::Stay,
                };
            }
            KeyCode::Up => self.selected = self.selected.saturating_sub(1),
            KeyCode::Char('p') if ctrl('p') => self.selected = self.selected.saturating_sub(1),
            KeyCode::Down | KeyCode::Tab => self.selected = (self.selected + 1).min(count.saturating_sub(1)),
            KeyCode::Char('n') if ctrl('n') => self.selected = (self.selected + 1).min(count.saturating_sub(1)),
            KeyCode::PageUp => self.selected = self.selected.saturating_sub(10),
            KeyCode::PageDown => self.selected = (self.selected + 10).min(count.saturating_sub(1)),
            KeyCode::Backspace => {
                self.filter.pop();
                self.selected = 0;
            }
            KeyCode::Char('u') if ctrl('u') => {
                self.filter.clear();
                self.selected = 0;
            }
            KeyCode::Char(c) if plain => {
                self.filter.push(c);
                self.selected = 0;
            }
            _ => {}
        }
        Reaction::Stay
    }

    fn draw(&self, app: &App, buf: &mut Buffer, area: Rect) {
        let theme = |key| crate::tui::view::theme(app, key);
        let styles = Styles {
            normal: theme("overlay"),
            border: theme("overlay_border"),
            heading: theme("overlay_border"),
            selected: theme("overlay_selected"),
            // The attention colour on the overlay's own background.
            attention: theme("overlay").patch(Style { bg: None, ..theme("attention") }),
        };
        // The whole screen but the status bar.
        let screen = Rect::new(0, 0, area.width, area.height.saturating_sub(1));
        self.draw_tree(buf, screen, &app.sidebar.pending, &styles);
    }

    fn paste(&mut self, text: &str) {
        self.filter.push_str(text.lines().next().unwrap_or(""));
    }
}
