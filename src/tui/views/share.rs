//! This session's share links and who watches: w and d copy the watch and drive links,
//! u stops sharing.

use super::{Intent, Reaction, View, cancels};
use crate::input::{Key, KeyCode};
use crate::text::visible;
use crate::tui::app::App;
use crate::tui::view::{centered, overlay_block, theme};
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::Line;
use ratatui::widgets::{Clear, Paragraph, Widget};

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Share {
    /// `None` while the share starts.
    pub shares: Option<Vec<crate::protocol::ShareView>>,
}

impl View for Share {
    fn key(&mut self, key: &Key, _app: &App) -> Reaction {
        match (key.code, self.shares.as_deref()) {
            _ if cancels(key) => Reaction::Close,
            (KeyCode::Char('q'), _) => Reaction::Close,
            (KeyCode::Char('w'), Some([s, ..])) => {
                Reaction::StayAnd(Intent::Copy { text: s.read_url.clone(), said: "watch link copied" })
            }
            (KeyCode::Char('d'), Some([s, ..])) => match &s.drive_url {
                Some(link) => Reaction::StayAnd(Intent::Copy { text: link.clone(), said: "drive link copied" }),
                None => Reaction::Stay,
            },
            (KeyCode::Char('u'), Some([s, ..])) => Reaction::StayAnd(Intent::Unshare(s.session.clone())),
            _ => Reaction::Stay,
        }
    }

    /// This session's share links, and who watches.
    fn draw(&self, app: &App, buf: &mut Buffer, area: Rect) {
        let shares = self.shares.as_deref();
        let width = area.width.saturating_sub(4).min(120);
        let mut lines: Vec<Line> = Vec::new();
        match shares {
            None => lines.push(Line::raw("  sharing…")),
            Some([]) => lines.push(Line::raw("  not shared")),
            Some(shares) => {
                for s in shares {
                    let until = crate::runner::store::local_time(s.expires);
                    lines.push(Line::styled(format!("  share {} until {until}", s.id), theme(app, "overlay_border")));
                    lines.push(Line::raw("  watch link (sees everything, types nothing):"));
                    lines.push(Line::raw(format!("  {}", visible(&s.read_url))));
                    match &s.drive_url {
                        Some(d) => {
                            lines.push(Line::raw("  drive link (can also type and approve):"));
                            lines.push(Line::raw(format!("  {d}")));
                        }
                        None => lines.push(Line::raw("  read-only: nobody can type or approve")),
                    }
                    // Viewers name themselves: shown, not obeyed.
                    let watching = if s.viewers.is_empty() {
                        "nobody yet".to_string()
                    } else {
                        visible(&s.viewers.join(", ")).into_owned()
                    };
                    let state = if s.connected { "" } else { " (reconnecting to the server)" };
                    lines.push(Line::raw(format!("  watching: {watching}{state}")));
                    lines.push(Line::raw(""));
                }
                lines.push(Line::raw("  give the drive link only to someone you trust; open either with"));
                lines.push(Line::raw("  `teamster attach 'LINK'` or in a browser"));
            }
        }
        // Links are long: each wraps over as many rows as it needs.
        let rows: u16 = lines.iter().map(|l| (l.width() as u16).div_ceil(width.saturating_sub(2).max(1)).max(1)).sum();
        let box_area = centered(area, width, rows + 2);
        Clear.render(box_area, buf);
        Paragraph::new(lines)
            .style(theme(app, "overlay"))
            .wrap(ratatui::widgets::Wrap { trim: false })
            .block(overlay_block(app, " shared ", " w copy watch link  d copy drive link  u stop sharing  esc closes "))
            .render(box_area, buf);
    }
}
