//! Drawing: the app's state to a frame. Nothing here changes state.

use super::app::{App, Overlay, PromptKind};
use super::backend::{
    EXTRA_CURLY_UNDERLINE, EXTRA_DASHED_UNDERLINE, EXTRA_DOTTED_UNDERLINE, EXTRA_DOUBLE_UNDERLINE, EXTRA_OVERLINE,
    push_link,
};
use super::panes::PaneContent;
use crate::config::{Action, Mode};
use crate::layout::PaneId;
use crate::protocol::{PaneInfo, PaneState, WireRow};
use crate::screen::{Attrs, Color, Style};
use crate::text::dollars;
use crate::text::visible;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect as TRect;
use ratatui::style::{Color as TColor, Modifier, Style as TStyle};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Borders, Clear, Paragraph, Widget};
use unicode_width::UnicodeWidthStr;

pub fn color(c: Color) -> TColor {
    // The first 16 go out as SGR 30-37/90-97, as the program sent them: terminals that
    // brighten bold text do it only for those.
    const NAMED: [TColor; 16] = [
        TColor::Black,
        TColor::Red,
        TColor::Green,
        TColor::Yellow,
        TColor::Blue,
        TColor::Magenta,
        TColor::Cyan,
        TColor::Gray,
        TColor::DarkGray,
        TColor::LightRed,
        TColor::LightGreen,
        TColor::LightYellow,
        TColor::LightBlue,
        TColor::LightMagenta,
        TColor::LightCyan,
        TColor::White,
    ];
    match c {
        Color::Default => TColor::Reset,
        Color::Indexed(i) if i < 16 => NAMED[i as usize],
        Color::Indexed(i) => TColor::Indexed(i),
        Color::Rgb(r, g, b) => TColor::Rgb(r, g, b),
    }
}

pub fn style(s: Style) -> TStyle {
    let mut m = Modifier::empty();
    let a = s.attrs;
    for (bit, modifier) in [
        (Attrs::BOLD, Modifier::BOLD),
        (Attrs::DIM, Modifier::DIM),
        (Attrs::ITALIC, Modifier::ITALIC),
        (Attrs::ANY_UNDERLINE, Modifier::UNDERLINED),
        (Attrs::DOUBLE_UNDERLINE, EXTRA_DOUBLE_UNDERLINE),
        (Attrs::CURLY_UNDERLINE, EXTRA_CURLY_UNDERLINE),
        (Attrs::DOTTED_UNDERLINE, EXTRA_DOTTED_UNDERLINE),
        (Attrs::DASHED_UNDERLINE, EXTRA_DASHED_UNDERLINE),
        (Attrs::OVERLINE, EXTRA_OVERLINE),
        (Attrs::BLINK, Modifier::SLOW_BLINK),
        (Attrs::INVERSE, Modifier::REVERSED),
        (Attrs::HIDDEN, Modifier::HIDDEN),
        (Attrs::STRIKE, Modifier::CROSSED_OUT),
    ] {
        if a.has(bit) {
            m |= modifier;
        }
    }
    TStyle::default().fg(color(s.fg)).bg(color(s.bg)).underline_color(color(s.underline)).add_modifier(m)
}

fn theme(app: &App, key: &str) -> TStyle {
    style(app.theme.style(key))
}

fn trect(r: crate::layout::Rect) -> TRect {
    TRect::new(r.x, r.y, r.w, r.h)
}

/// Draws everything into `buf`; returns where the terminal's cursor goes, if anywhere.
pub fn render(app: &App, buf: &mut Buffer) -> Option<(u16, u16)> {
    let area = buf.area;
    let visible = app.visible();
    if visible.is_empty() {
        let text = if app.session.is_none() { "connecting to the runner..." } else { "no panes" };
        Paragraph::new(text).render(trect(app.pane_area()), buf);
    }
    let focused = app.focused();
    for (pane, rect) in &visible {
        draw_pane(app, buf, *pane, *rect, focused == Some(*pane));
    }
    if let Some(Overlay::DisplayPanes { .. }) = &app.overlay {
        for (pane, rect) in &visible {
            let label = format!(" {} ", app.pane_number(*pane));
            let (x, y) = (rect.x + rect.w / 2 - (label.len() as u16 / 2).min(rect.w / 2), rect.y + rect.h / 2);
            buf.set_string(x, y, &label, theme(app, "overlay_selected"));
        }
    }
    if let Some(r) = app.sidebar_area() {
        draw_sidebar(app, buf, trect(r));
    }
    draw_status(app, buf, TRect::new(0, area.height.saturating_sub(1), area.width, 1));
    match &app.overlay {
        Some(Overlay::Picker { .. }) => draw_picker(app, buf, area),
        Some(Overlay::Help { scroll }) => draw_help(app, buf, area, *scroll),
        Some(Overlay::Cost { report }) => draw_cost(app, buf, area, report.as_ref()),
        Some(Overlay::Share { shares }) => draw_share(app, buf, area, shares.as_deref()),
        Some(Overlay::Switcher(sw)) => {
            let styles = super::switcher::Styles {
                normal: theme(app, "overlay"),
                border: theme(app, "overlay_border"),
                heading: theme(app, "overlay_border"),
                selected: theme(app, "overlay_selected"),
                // The attention colour on the overlay's own background.
                attention: theme(app, "overlay").patch(TStyle { bg: None, ..theme(app, "attention") }),
            };
            // The whole screen but the status bar.
            let screen = TRect::new(0, 0, area.width, area.height.saturating_sub(1));
            sw.draw(buf, screen, &app.sidebar.pending, &styles);
        }
        _ => {}
    }
    cursor(app)
}

/// The session's burn rate, for the status bar: ` · $0.40/h` while it spends.
fn burn(app: &App) -> String {
    let rate = app.burn_per_hour();
    if rate >= 0.005 { format!(" · {}/h", dollars(rate)) } else { String::new() }
}

/// "12s", "4m", "2h": how long ago, or how long until.
fn span_words(secs: u64) -> String {
    match secs {
        0..=59 => format!("{secs}s"),
        60..=3599 => format!("{}m", secs / 60),
        _ => format!("{}h", secs / 3600),
    }
}

/// Lines of an edit's diff the sidebar shows (`teamster approvals` shows all of it).
const DIFF_LINES: usize = 12;

/// The approval sidebar: what waits, oldest first; the selected one in full.
fn draw_sidebar(app: &App, buf: &mut Buffer, area: TRect) {
    let focused = app.mode == Mode::Approvals;
    let pending = &app.sidebar.pending;
    let title = if pending.is_empty() {
        " nothing waits ".to_string()
    } else {
        format!(" waiting for you ({}) ", pending.len())
    };
    let hint = if focused && pending.is_empty() {
        let back = app.keymap.key_for(Mode::Approvals, Action::EnterMode(Mode::Normal));
        back.map(|k| format!("{k} back to the panes")).unwrap_or_default()
    } else if focused {
        // The four keys that decide, as the README names them (go and back are in help).
        app.keymap
            .hints(Mode::Approvals)
            .into_iter()
            .take(4)
            .map(|(k, l)| format!("{k} {l}"))
            .collect::<Vec<_>>()
            .join(" ")
    } else {
        app.keymap.keys_for(Action::Approvals).map(|k| format!("{k}: act on these")).unwrap_or_default()
    };
    let block = Block::new()
        .borders(Borders::ALL)
        .border_type(if focused { BorderType::Thick } else { BorderType::Rounded })
        .border_style(theme(app, if focused { "border_focused" } else { "border" }))
        .title(Span::styled(title, theme(app, if pending.is_empty() { "title" } else { "attention" })))
        .title_bottom(Line::from(format!(" {hint} ")).right_aligned());
    let inner = block.inner(area);
    Clear.render(area, buf);
    block.render(area, buf);
    let now = app.now();
    let width = inner.width as usize;
    let selected = app.sidebar.selected_index();
    let mut y = inner.y;
    let bottom = inner.y + inner.height;
    for (i, p) in pending.iter().enumerate() {
        if y >= bottom {
            break;
        }
        let chosen = selected == Some(i);
        let base = if chosen && focused { theme(app, "overlay_selected") } else { theme(app, "overlay") };
        let place = match app.session.as_ref() {
            Some(s) if s.name == p.session => app.place_of(p.pane),
            _ => format!("session {}", visible(&p.session)),
        };
        // What waits is what an agent said: its control characters are shown, not obeyed.
        let head = format!("{} {} · {place}", if chosen { "▸" } else { " " }, visible(&p.agent));
        let mut lines = vec![(truncate(&head, width), base)];
        // The selected action in full; the others in a line.
        let what = if p.kind == crate::approval::ActionKind::LlmRequest {
            format!("$ {}", visible(&p.what))
        } else {
            visible(&p.what).into_owned()
        };
        if chosen {
            for chunk in wrap(&what, width.saturating_sub(2)) {
                lines.push((format!("  {chunk}"), base.patch(theme(app, "title_focused"))));
            }
            let why = match &p.rule {
                Some(rule) if !p.reason.is_empty() && !p.reason.contains(rule.as_str()) => {
                    format!("{rule}: {}", p.reason)
                }
                Some(rule) => rule.clone(),
                None => p.reason.clone(),
            };
            for chunk in wrap(&visible(&why), width.saturating_sub(2)) {
                lines.push((format!("  {chunk}"), base.patch(theme(app, "hint"))));
            }
            for chunk in p.warning.iter().flat_map(|w| wrap(&format!("⚠ {}", visible(w)), width.saturating_sub(2))) {
                lines.push((format!("  {chunk}"), base.patch(theme(app, "attention"))));
            }
            // An edit's change, a line each, as far as the sidebar has room.
            for line in p.diff.iter().flat_map(|d| d.lines()).take(DIFF_LINES) {
                let style = match line.chars().next() {
                    Some('+') => theme(app, "diff_add"),
                    Some('-') => theme(app, "diff_remove"),
                    _ => theme(app, "hint"),
                };
                lines.push((format!("  {}", truncate(&visible(line), width.saturating_sub(2))), base.patch(style)));
            }
            let left = span_words(p.deadline.saturating_sub(now));
            let then = match p.source {
                crate::protocol::PendingSource::Policy => format!("denied in {left}"),
                crate::protocol::PendingSource::Agent => format!("to its dialog in {left}"),
            };
            lines.push((
                format!("  {} ago · {then}", span_words(now.saturating_sub(p.since))),
                base.patch(theme(app, "hint")),
            ));
        } else {
            lines.push((format!("  {}", truncate(&what, width.saturating_sub(2))), base));
        }
        for (text, st) in lines {
            if y >= bottom {
                break;
            }
            buf.set_style(TRect::new(inner.x, y, inner.width, 1), base);
            buf.set_string(inner.x, y, truncate(&text, width), st);
            y += 1;
        }
        y += 1;
    }
    if pending.is_empty() {
        buf.set_string(inner.x + 1, inner.y, "no action waits for a decision", theme(app, "overlay"));
        y = inner.y + 2;
    }
    // Below what waits: what was decided lately, refusals of the sandbox included.
    if app.sidebar.recent.is_empty() || y + 2 >= bottom {
        return;
    }
    buf.set_string(inner.x + 1, y, "lately", theme(app, "hint"));
    y += 1;
    for r in &app.sidebar.recent {
        if y + 1 >= bottom {
            break;
        }
        let denied = r.verdict == crate::approval::Verdict::Deny;
        let mark = if denied { "✗" } else { "✓" };
        let who = if r.by == crate::approval::DecidedBy::Sandbox {
            "sandbox refused".to_string()
        } else {
            format!("{} by {}", visible(&r.verdict.to_string()), visible(&r.by.to_string()))
        };
        let style = theme(app, if denied { "attention" } else { "hint" });
        let times = if r.times > 1 { format!(" ×{}", r.times) } else { String::new() };
        let head =
            format!("{mark} {} · {who}{times} · {} ago", visible(&r.agent), span_words(now.saturating_sub(r.ts)));
        buf.set_string(inner.x, y, truncate(&head, width), style);
        buf.set_string(inner.x, y + 1, truncate(&format!("  {}", visible(&r.what)), width), theme(app, "overlay"));
        y += 2;
    }
}

/// `text` cut into lines of at most `width` columns, at spaces where it can.
fn wrap(text: &str, width: usize) -> Vec<String> {
    let width = width.max(8);
    let mut out: Vec<String> = Vec::new();
    let mut line = String::new();
    for word in text.split(' ') {
        if !line.is_empty() && line.width() + 1 + word.width() > width {
            out.push(std::mem::take(&mut line));
        }
        let mut word = word.to_string();
        while word.width() > width {
            let head: String = word.chars().take(width).collect();
            word = word.chars().skip(width).collect();
            if !line.is_empty() {
                out.push(std::mem::take(&mut line));
            }
            out.push(head);
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(&word);
    }
    if !line.is_empty() {
        out.push(line);
    }
    out
}

/// The cost view: spend by agent, model, day and session, tokens and dollars.
fn draw_cost(app: &App, buf: &mut Buffer, area: TRect, report: Option<&crate::protocol::CostReport>) {
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

/// This session's share links, and who watches.
fn draw_share(app: &App, buf: &mut Buffer, area: TRect, shares: Option<&[crate::protocol::ShareView]>) {
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

/// The frame of an overlay: a rounded box with its title, and its keys at the bottom.
fn overlay_block(app: &App, title: &'static str, keys: &'static str) -> Block<'static> {
    Block::new()
        .borders(Borders::ALL)
        .border_type(BorderType::Rounded)
        .border_style(theme(app, "overlay_border"))
        .title(title)
        .title_bottom(Line::from(keys).right_aligned())
}

/// Redraws row `y` of a pane's content (not in copy mode) into `buf`.
pub fn draw_pane_row(app: &App, buf: &mut Buffer, pane: PaneId, inner: crate::layout::Rect, y: u16) {
    if let Some(row) = app.panes.get(&pane).and_then(|c| c.rows.get(y as usize)) {
        draw_row(buf, inner.x, inner.y + y, inner.w, row, None);
    }
}

/// The buffer as text, a quoted line per row (as ratatui's TestBackend prints it).
pub fn buffer_text(buf: &Buffer) -> String {
    let mut out = Vec::new();
    for y in 0..buf.area.height {
        let mut line = String::new();
        let mut skip = 0;
        for x in 0..buf.area.width {
            if skip > 0 {
                skip -= 1;
                continue;
            }
            let symbol = buf[(x, y)].symbol();
            skip = symbol.width().saturating_sub(1);
            line.push_str(symbol);
        }
        out.push(format!("\"{line}\""));
    }
    out.join("\n")
}

/// Where the terminal's cursor goes: the focused pane's cursor, or a prompt's.
pub fn cursor(app: &App) -> Option<(u16, u16)> {
    match &app.overlay {
        Some(Overlay::Prompt { .. } | Overlay::Confirm { .. }) => {
            let (_, x) = status_prompt(app)?;
            return Some((x.min(app.size.cols.saturating_sub(1)), app.size.rows.saturating_sub(1)));
        }
        Some(_) => return None,
        None => {}
    }
    if app.copy.is_some() {
        return None;
    }
    let pane = app.focused()?;
    let rect = app.visible().into_iter().find(|(p, _)| *p == pane)?.1.inner();
    let content = app.panes.get(&pane)?;
    let c = content.cursor;
    let at = (rect.x + c.x, rect.y + c.y);
    // Under the sidebar the cursor is not shown: it would blink in its text.
    let hidden = app.sidebar_area().is_some_and(|s| s.contains(at.0, at.1));
    (c.visible && c.x < rect.w && c.y < rect.h && !hidden).then_some(at)
}

/// The state shown in a pane's title: an agent's always, a plain program's once it exits.
fn state_text(info: &PaneInfo) -> Option<String> {
    (info.agent.is_some() || info.state != PaneState::Running).then(|| info.status())
}

/// `1 claude · claude --model x · exited 0`, fitted to `width`.
fn title_spans(app: &App, pane: PaneId, info: Option<&PaneInfo>, focused: bool, width: usize) -> Vec<Span<'static>> {
    let mut spans = Vec::new();
    let number = app.pane_number(pane);
    spans.push(Span::styled(format!(" {number} "), theme(app, "pane_number")));
    let title_style = theme(app, if focused { "title_focused" } else { "title" });
    let Some(info) = info else { return spans };
    // Names, commands, titles and branches are what programs chose: shown, not obeyed
    // (the screen drops C0 and C1 controls from titles; bidi overrides are shown here).
    // An agent goes by its name (its command line says no more); a program by its name
    // and command.
    let name = match (&info.name, &info.agent) {
        (Some(name), Some(_)) => visible(name).into_owned(),
        (Some(name), None) if *name != info.command => format!("{} · {}", visible(name), visible(&info.command)),
        _ => visible(&info.command).into_owned(),
    };
    let state = state_text(info).map(|s| {
        let style = match info.state {
            PaneState::Exited { .. } => "exited",
            PaneState::Running if info.wants_user() => "attention",
            PaneState::Running => "agent_state",
        };
        (format!("[{s}]"), theme(app, style))
    });
    // What follows the name, most wanted first: what does not fit goes from the right.
    let mut rest: Vec<(String, TStyle)> = Vec::new();
    rest.extend(state);
    if info.attention {
        rest.push(("●".into(), theme(app, "attention")));
    }
    match (info.sandboxed, info.refused) {
        (Some(false), _) => rest.push(("sandbox off".into(), theme(app, "attention"))),
        (_, 0) => {}
        (_, n) => rest.push((format!("⊘ {n} refused"), theme(app, "attention"))),
    }
    if info.spend > 0.0 || info.spend_unknown {
        let unknown = if info.spend_unknown { " + spend unknown" } else { "" };
        let style = theme(app, if info.spend_unknown { "attention" } else { "spend" });
        rest.push((format!("{}{unknown}", dollars(info.spend)), style));
    }
    if info.restart_applies {
        rest.push(("⟳ restart applies new config".into(), theme(app, "attention")));
    }
    if let Some(b) = &info.branch {
        rest.push((format!("⎇ {}", visible(b)), theme(app, "branch")));
    }
    let title = visible(&info.title);
    if !title.is_empty() && !name.contains(title.as_ref()) {
        rest.push((format!("· {title}"), title_style));
    }
    // The border's corners and the number take their share; the name keeps at least a
    // few columns before anything after it is shown.
    let room = width.saturating_sub(4 + number.to_string().len());
    let least = name.width().min(8);
    let mut used: usize = rest.iter().map(|(t, _)| t.width() + 1).sum();
    while !rest.is_empty() && least + 1 + used > room {
        used -= rest.pop().map_or(0, |(t, _)| t.width() + 1);
    }
    spans.push(Span::styled(truncate(&name, room.saturating_sub(used + 1)), title_style));
    spans.push(Span::styled(" ", title_style));
    for (text, style) in rest {
        spans.push(Span::styled(text, style));
        spans.push(Span::raw(" "));
    }
    spans
}

/// `s` cut to `width` columns, with `…` where it was cut.
pub(crate) fn truncate(s: &str, width: usize) -> String {
    if s.width() <= width {
        return s.to_string();
    }
    let mut out = String::new();
    let mut used = 0;
    for c in s.chars() {
        let w = unicode_width::UnicodeWidthChar::width(c).unwrap_or(0);
        if used + w + 1 > width {
            break;
        }
        used += w;
        out.push(c);
    }
    out.push('…');
    out
}

fn draw_pane(app: &App, buf: &mut Buffer, pane: PaneId, rect: crate::layout::Rect, focused: bool) {
    let info = app.session.as_ref().and_then(|s| s.pane(pane));
    let border = theme(app, if focused { "border_focused" } else { "border" });
    let block = Block::new()
        .borders(Borders::ALL)
        .border_type(if focused { BorderType::Thick } else { BorderType::Plain })
        .border_style(border)
        .title(Line::from(title_spans(app, pane, info, focused, rect.w as usize)));
    block.render(trect(rect), buf);
    let inner = rect.inner();
    let Some(content) = app.panes.get(&pane) else { return };
    match &app.copy {
        Some(c) if c.pane == pane => draw_copy(app, buf, inner, content, c),
        _ => {
            for y in 0..inner.h {
                draw_pane_row(app, buf, pane, inner, y);
            }
        }
    }
}

/// Draws one row of cells; `over` may restyle a column (selection, cursor).
/// Draws one row; `over` may restyle a column (copy mode's selection and cursor).
///
/// This runs for every visible row on every draw, so it walks the runs as they came,
/// converts each run's style once, and writes nothing past the row's text: the buffer
/// starts each draw blank.
fn draw_row(
    buf: &mut Buffer,
    x0: u16,
    y: u16,
    width: u16,
    row: &WireRow,
    over: Option<&dyn Fn(u16) -> Option<TStyle>>,
) {
    let mut x: u16 = 0;
    let mut symbol = String::new();
    'runs: for run in &row.runs {
        let run_style = style(run.style());
        let w = if run.wide { 2 } else { 1 };
        for (i, ch) in run.text.chars().enumerate() {
            if x + w > width {
                break 'runs;
            }
            let Some(cell) = buf.cell_mut((x0 + x, y)) else { break 'runs };
            if run.marks.is_empty() && run.link.is_empty() {
                cell.set_char(ch);
            } else {
                symbol.clear();
                symbol.push(ch);
                for (_, m) in run.marks.iter().filter(|(j, _)| *j as usize == i) {
                    symbol.push_str(m);
                }
                if !run.link.is_empty() {
                    push_link(&mut symbol, &run.link);
                }
                cell.set_symbol(&symbol);
            }
            cell.set_style(over.and_then(|f| f(x)).unwrap_or(run_style));
            x += w;
        }
    }
    if let Some(f) = over {
        for x in x..width {
            if let Some(st) = f(x)
                && let Some(cell) = buf.cell_mut((x0 + x, y))
            {
                cell.set_style(st);
            }
        }
    }
}

fn draw_copy(
    app: &App,
    buf: &mut Buffer,
    inner: crate::layout::Rect,
    content: &PaneContent,
    c: &super::copy::CopyState,
) {
    let selection = theme(app, "selection");
    let cursor_style = theme(app, "copy_cursor");
    let found = theme(app, "search_match");
    for y in 0..inner.h {
        let line = c.top + y as u64;
        let blank = WireRow::default();
        let row = c.line(content, line).unwrap_or(&blank);
        let over = |x: u16| {
            if (line, x) == c.cursor {
                return Some(cursor_style);
            }
            if c.selected(line, x) {
                return Some(selection);
            }
            match c.found {
                Some((l, col, len)) if l == line && x >= col && x < col + len => Some(found),
                _ => None,
            }
        };
        draw_row(buf, inner.x, inner.y + y, inner.w, row, Some(&over));
    }
    // Where the view is, as tmux shows it: lines above the live screen / all of them.
    let above = content.screen_top.saturating_sub(c.top);
    let total = content.screen_top.saturating_sub(content.first_line);
    let label = format!("[{above}/{total}]");
    let x = inner.x + inner.w.saturating_sub(label.len() as u16);
    buf.set_string(x, inner.y, &label, theme(app, "mode"));
}

/// Tabs as the status bar draws them: index, first column, text.
pub fn tab_spans(app: &App) -> Vec<(usize, u16, String)> {
    let Some(s) = &app.session else { return Vec::new() };
    let mut x = s.name.width() as u16 + 3;
    let mut out = Vec::new();
    for (i, tab) in s.tabs.iter().enumerate() {
        let label = if tab.name.is_empty() {
            s.pane(tab.focused).map(|p| p.name.clone().unwrap_or_else(|| p.command.clone())).unwrap_or_default()
        } else {
            tab.name.clone()
        };
        let label = visible(&label);
        let attention = tab.layout.panes().iter().any(|p| s.pane(*p).is_some_and(|i| i.attention));
        let zoom = if tab.zoomed.is_some() { " [Z]" } else { "" };
        let text = format!(" {}:{}{zoom}{} ", i + 1, truncate(&label, 20), if attention { " ●" } else { "" });
        let w = text.width() as u16;
        out.push((i, x, text));
        x += w + 1;
    }
    out
}

pub fn tab_at(app: &App, col: u16) -> Option<usize> {
    tab_spans(app).into_iter().find(|(_, x, t)| col >= *x && col < x + t.width() as u16).map(|(i, _, _)| i)
}

/// The prompt shown in the status bar, and the column its cursor is at.
fn status_prompt(app: &App) -> Option<(Line<'static>, u16)> {
    let (label, input) = match &app.overlay {
        Some(Overlay::Prompt { kind, input }) => {
            let label = match kind {
                PromptKind::RenamePane(_) => "rename pane: ".to_string(),
                PromptKind::RenameTab => "rename tab: ".to_string(),
                PromptKind::Search { backward: false } => "search down: ".to_string(),
                PromptKind::Search { backward: true } => "search up: ".to_string(),
                PromptKind::DenyReason(_) => "deny, telling the agent: ".to_string(),
            };
            (label, input.clone())
        }
        // Questions quote agents' commands and branches: shown, not obeyed.
        Some(Overlay::Confirm { question, .. }) => (format!("{} ", visible(question)), String::new()),
        _ => return None,
    };
    let x = (label.width() + input.width() + 1) as u16;
    Some((
        Line::from(vec![
            Span::styled(format!(" {label}"), theme(app, "message")),
            Span::styled(input, theme(app, "overlay")),
        ]),
        x,
    ))
}

fn draw_status(app: &App, buf: &mut Buffer, area: TRect) {
    let base = theme(app, "status");
    buf.set_style(area, base);
    if let Some((line, _)) = status_prompt(app) {
        line.render(area, buf);
        return;
    }
    let y = area.y;
    let name = app.session.as_ref().map_or(String::new(), |s| s.name.clone());
    buf.set_string(0, y, format!(" {name} "), theme(app, "session"));
    let active = app.session.as_ref().map_or(0, |s| s.active_tab);
    let mut end = 0;
    for (i, x, text) in tab_spans(app) {
        let style = if i == active { theme(app, "tab_active") } else { theme(app, "tab") };
        let style = if text.contains('●') && i != active { style.patch(theme(app, "attention")) } else { style };
        buf.set_string(x, y, &text, style);
        end = x + text.width() as u16;
    }
    // The session's spend, and the next limit a policy acts at; a message outranks it.
    let message = app.message.as_ref().map_or(0, |m| m.text.width() as u16 + 2);
    if let Some(s) = app.session.as_ref().filter(|s| s.spend > 0.0 || s.budget.is_some()) {
        // A cap that stopped the agents outranks the next limit: which, and where to raise it.
        let (text, style) = match (&s.cap_hit, &s.budget) {
            (Some(cap), _) => {
                let raise = match &cap.rule {
                    Some(rule) => format!("\"{}\" stopped the agents: raise it in your config", visible(rule)),
                    None => "a spend gate was denied: ask again to approve the next step".to_string(),
                };
                (format!(" {} · {raise} ", dollars(s.spend)), theme(app, "attention"))
            }
            (None, Some((limit, _))) => {
                (format!(" {} of {}{} ", dollars(s.spend), dollars(*limit), burn(app)), theme(app, "spend"))
            }
            (None, None) => (format!(" {}{} ", dollars(s.spend), burn(app)), theme(app, "spend")),
        };
        if end + 1 + text.width() as u16 + message < area.width {
            buf.set_string(end + 1, y, &text, style);
            end += 1 + text.width() as u16;
        }
    }
    // Shared by link: who watches.
    if let Some(s) = app.session.as_ref().filter(|s| s.shared) {
        let text = match s.watchers.len() {
            0 => " ⇄ shared ".to_string(),
            n => format!(" ⇄ shared, {n} watching "),
        };
        if end + 1 + text.width() as u16 + message < area.width {
            buf.set_string(end + 1, y, &text, theme(app, "attention"));
            end += 1 + text.width() as u16;
        }
    }
    // Typing goes to every pane of this tab: said where the user looks before typing.
    if let Some(tab) = app.session.as_ref().and_then(|s| s.tab()).filter(|t| t.synchronized) {
        let n = tab.layout.panes().len();
        let text = format!(" ⇶ typing into all {n} panes ");
        if end + 1 + text.width() as u16 + message < area.width {
            buf.set_string(end + 1, y, &text, theme(app, "attention"));
            end += 1 + text.width() as u16;
        }
    }
    // Waiting actions the sidebar does not show.
    if !app.sidebar.pending.is_empty() && app.sidebar_area().is_none() {
        let key = app.keymap.keys_for(Action::Approvals).map(|k| format!(" ({k})")).unwrap_or_default();
        let text = format!(" ⚑ {} waiting{key} ", app.sidebar.pending.len());
        buf.set_string(end + 1, y, &text, theme(app, "attention"));
        end += 1 + text.width() as u16;
    }
    // Right side: the mode, then a message or the key hints.
    let mut right: Vec<Span> = Vec::new();
    if app.mode != Mode::Normal {
        right.push(Span::styled(format!(" {} ", app.mode.name().to_uppercase()), theme(app, "mode")));
        right.push(Span::styled(" ", base));
    }
    match &app.message {
        Some(m) => {
            right.push(Span::styled(format!("{} ", m.text), theme(app, if m.error { "error" } else { "message" })))
        }
        None => {
            for (key, label) in app.keymap.hints(app.mode) {
                right.push(Span::styled(key, theme(app, "hint_key")));
                right.push(Span::styled(format!(" {label}  "), theme(app, "hint")));
            }
        }
    }
    // Drop hints from the end until they fit beside the tabs.
    let room = area.width.saturating_sub(end + 2) as usize;
    while right.iter().map(|s| s.content.width()).sum::<usize>() > room && right.len() > 1 {
        right.pop();
        if app.message.is_none() && right.len() > 1 {
            right.pop();
        }
    }
    let width: usize = right.iter().map(|s| s.content.width()).sum();
    if width <= room || app.message.is_some() {
        let x = area.width.saturating_sub(width as u16);
        Line::from(right).render(TRect::new(x.max(end + 1), y, area.width.saturating_sub(x.max(end + 1)), 1), buf);
    }
}

fn centered(area: TRect, w: u16, h: u16) -> TRect {
    let w = w.min(area.width.saturating_sub(2));
    let h = h.min(area.height.saturating_sub(2));
    TRect::new(area.x + (area.width - w) / 2, area.y + (area.height - h) / 2, w, h)
}

fn draw_picker(app: &App, buf: &mut Buffer, area: TRect) {
    let Some(Overlay::Picker { items, filter, selected, loading }) = &app.overlay else { return };
    let matches = Overlay::picker_matches(items, filter);
    let box_area = centered(area, 64, matches.len() as u16 + 6);
    Clear.render(box_area, buf);
    let block = overlay_block(app, " open an agent in a new pane ", " enter: split  tab: new tab  esc: cancel ")
        .style(theme(app, "overlay"));
    let inner = block.inner(box_area);
    block.render(box_area, buf);
    buf.set_string(inner.x + 1, inner.y, format!("> {filter}"), theme(app, "overlay"));
    if *loading {
        buf.set_string(inner.x + 1, inner.y + 2, "loading…", theme(app, "overlay"));
        return;
    }
    if matches.is_empty() {
        buf.set_string(inner.x + 1, inner.y + 2, "nothing matches", theme(app, "overlay"));
    }
    for (row, &i) in matches.iter().enumerate().take(inner.height.saturating_sub(2) as usize) {
        let item = &items[i];
        let y = inner.y + 2 + row as u16;
        let st = if row == *selected { theme(app, "overlay_selected") } else { theme(app, "overlay") };
        buf.set_style(TRect::new(inner.x, y, inner.width, 1), st);
        let text = format!(" {:<14} {}", item.label, item.detail);
        buf.set_string(inner.x, y, truncate(&text, inner.width as usize), st);
    }
}

fn draw_help(app: &App, buf: &mut Buffer, area: TRect, scroll: u16) {
    let lines = help_lines(app);
    let box_area = help_area(area, &lines);
    let scroll = scroll.min(help_max_scroll(lines.len(), box_area));
    Clear.render(box_area, buf);
    Paragraph::new(lines)
        .scroll((scroll, 0))
        .style(theme(app, "overlay"))
        .block(overlay_block(app, " keys ", " j/k scroll  any other key closes "))
        .render(box_area, buf);
}

/// Where the help goes: as wide as its longest line (the terminal's width at most), as
/// high as the screen allows.
fn help_area(area: TRect, lines: &[Line]) -> TRect {
    let widest = lines.iter().map(|l| l.width()).max().unwrap_or(0) as u16;
    centered(area, widest + 4, area.height.saturating_sub(4))
}

/// How far the help can scroll: until its last line is at the bottom, no further.
fn help_max_scroll(lines: usize, box_area: TRect) -> u16 {
    (lines as u16).saturating_sub(box_area.height.saturating_sub(2))
}

/// The help's scroll position for `app`'s screen, kept within its end.
pub fn help_scroll_limit(app: &App) -> u16 {
    let lines = help_lines(app);
    let area = TRect::new(0, 0, app.size.cols, app.size.rows);
    help_max_scroll(lines.len(), help_area(area, &lines))
}

fn help_lines(app: &App) -> Vec<Line<'static>> {
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

fn describe(action: Action) -> String {
    let dir = |d: crate::layout::Direction| d.name();
    match action {
        Action::SplitRight => "split: new pane to the right".into(),
        Action::SplitDown => "split: new pane below".into(),
        Action::ClosePane => "close the pane".into(),
        Action::Focus(d) => format!("focus the pane {}", dir(d)),
        Action::FocusNext => "focus the next pane".into(),
        Action::FocusPrev => "focus the previous pane".into(),
        Action::FocusPane(n) => format!("focus pane {n}"),
        Action::Resize(d, n) => format!("move the border {} by {n}", dir(d)),
        Action::Zoom => "zoom the pane / unzoom".into(),
        Action::Equalize => "make panes the same size".into(),
        Action::RenamePane => "rename the pane".into(),
        Action::DisplayPanes => "show pane numbers; a digit focuses".into(),
        Action::NewTab => "new tab".into(),
        Action::CloseTab => "close the tab".into(),
        Action::NextTab => "next tab".into(),
        Action::PrevTab => "previous tab".into(),
        Action::SelectTab(n) => format!("tab {n}"),
        Action::RenameTab => "rename the tab".into(),
        Action::AgentPicker => "open an agent in a new pane".into(),
        Action::Detach => "detach (everything keeps running)".into(),
        Action::Help => "this help".into(),
        Action::ReloadConfig => "reload the config (the runner applies a saved change by itself)".into(),
        Action::EnterMode(m) => format!("{} mode", m.name()),
        Action::SendKey => "send the key itself to the pane".into(),
        Action::CopyMode => "scrollback: copy mode".into(),
        Action::ScrollPageUp => "scroll back a page".into(),
        Action::Copy(c) => format!("{c:?}").to_lowercase(),
        Action::Unbind => String::new(),
        Action::Approvals => "the approval sidebar: act on what waits for you".into(),
        Action::ToggleSidebar => "show or hide the sidebar".into(),
        Action::CostView => "what the agents have spent".into(),
        Action::Share => "share this session by link (teammates watch, or drive)".into(),
        Action::Approve => "approve: it goes ahead".into(),
        Action::Deny => "deny: the agent is told".into(),
        Action::DenyWithMessage => "deny, with a message to the agent".into(),
        Action::AlwaysAllow => "approve, and allow it from now on".into(),
        Action::JumpToPane => "go to the agent's pane".into(),
        Action::PendingNext => "next waiting action".into(),
        Action::PendingPrev => "previous waiting action".into(),
        Action::Switcher => "every session, tab and pane: go to one (waiting agents first)".into(),
        Action::ToggleSync => "type into every pane of the tab at once / stop".into(),
        Action::HandOff => "send this agent's last answer to another agent".into(),
        Action::NextLayout => "arrange the panes as the next layout (tiled, main-vertical, …)".into(),
        Action::SwapPrev => "swap the pane with the one before it".into(),
        Action::SwapNext => "swap the pane with the one after it".into(),
        Action::BreakPane => "move the pane to a new tab of its own".into(),
    }
}
