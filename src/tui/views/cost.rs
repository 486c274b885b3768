//! Spend by agent, model, day, session and pane, as `teamster cost` prints it.

use super::{Reaction, View, cancels};
use crate::input::{Key, KeyCode};
use crate::text::{dollars, visible};
use crate::tui::app::App;
use crate::tui::view::{centered, overlay_block, theme, truncate};
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::Line;
use ratatui::widgets::{Clear, Paragraph, Widget};

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Cost {
    /// `None` while it loads.
    pub report: Option<crate::protocol::CostReport>,
}

impl View for Cost {
    fn key(&mut self, key: &Key, _app: &App) -> Reaction {
        match key.code {
            _ if cancels(key) => Reaction::Close,
            KeyCode::Char('q') => Reaction::Close,
            _ => Reaction::Stay,
        }
    }

    /// The cost view: spend by agent, model, day and session, tokens and dollars.
    fn draw(&self, app: &App, buf: &mut Buffer, area: Rect) {
        let report = self.report.as_ref();
        let mut lines: Vec<Line> = Vec::new();
        match report {
            None => lines.push(Line::raw("  loading…")),
            Some(r) => {
                let table = |title: &str, rows: &[crate::protocol::CostRow], lines: &mut Vec<Line>| {
                    lines.push(Line::styled(
                        format!("  {title:<26} {:>9} {:>9} {:>10} {:>10}", "input", "output", "cache", "dollars"),
                        theme(app, "overlay_border"),
                    ));
                    for row in rows.iter().take(8) {
                        lines.push(Line::raw(format!("  {:<26} {}", truncate(&visible(&row.key), 26), row.columns())));
                    }
                    lines.push(Line::raw(""));
                };
                table("by agent", &r.by_agent, &mut lines);
                table("by model", &r.by_model, &mut lines);
                table("by day", &r.by_day, &mut lines);
                table("by session", &r.by_session, &mut lines);
                table("by pane", &r.by_pane, &mut lines);
                lines.push(Line::raw(format!(
                    "  total {} over {} calls{}{}",
                    dollars(r.total.cost),
                    r.total.calls,
                    if r.total.estimated > 0 {
                        format!("; ~ {} priced by the fallback", r.total.estimated)
                    } else {
                        String::new()
                    },
                    if r.total.unknown > 0 { format!("; ? {} not metered", r.total.unknown) } else { String::new() },
                )));
                if r.burn_per_hour > 0.0 {
                    lines.push(Line::raw(format!("  burning {}/h (the last ten minutes)", dollars(r.burn_per_hour))));
                }
            }
        }
        let box_area = centered(area, 76, lines.len() as u16 + 2);
        Clear.render(box_area, buf);
        Paragraph::new(lines)
            .style(theme(app, "overlay"))
            .block(overlay_block(app, " spend ", " `teamster cost` prints this  esc closes "))
            .render(box_area, buf);
    }
}
