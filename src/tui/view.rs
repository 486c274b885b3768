//! Drawing: the app's state to a frame. Nothing here changes state.

use super::app::{App, Overlay};
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

pub(crate) fn theme(app: &App, key: &str) -> TStyle {
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
    // Pane numbers lie on the panes, beneath the sidebar; other overlays above it all.
    let on_panes = matches!(app.overlay, Some(Overlay::DisplayPanes(_)));
    if let Some(overlay) = app.overlay.as_ref().filter(|_| on_panes) {
        overlay.view().draw(app, buf, area);
    }
    if let Some(r) = app.sidebar_area() {
        draw_sidebar(app, buf, trect(r));
    }
    draw_status(app, buf, TRect::new(0, area.height.saturating_sub(1), area.width, 1));
    if let Some(overlay) = app.overlay.as_ref().filter(|_| !on_panes) {
        overlay.view().draw(app, buf, area);
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
        // Which of its tools, where it has one (a model call or an effect has none).
        let tool = match p.tool.is_empty() {
            true => String::new(),
            false => format!(" · {}", visible(&p.tool)),
        };
        let head = format!("{} {} · {place}{tool}", if chosen { "▸" } else { " " }, visible(&p.agent));
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
                crate::protocol::PendingSource::Agent => "answer here or in its pane".to_string(),
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
        let mark = match r.verdict {
            crate::approval::Verdict::Deny => "✗",
            // A teammate's words, not a decision.
            crate::approval::Verdict::Comment => "✎",
            _ => "✓",
        };
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

/// The frame of an overlay: a rounded box with its title, and its keys at the bottom.
pub(crate) fn overlay_block(app: &App, title: &'static str, keys: impl Into<String>) -> Block<'static> {
    Block::new()
        .borders(Borders::ALL)
        .border_type(BorderType::Rounded)
        .border_style(theme(app, "overlay_border"))
        .title(title)
        .title_bottom(Line::from(keys.into()).right_aligned())
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
    if let Some(overlay) = &app.overlay {
        // A prompt or a question on the status line has the cursor; other overlays none.
        let (_, x) = overlay.view().status_line(app)?;
        return Some((x.min(app.size.cols.saturating_sub(1)), app.size.rows.saturating_sub(1)));
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

pub(crate) use crate::text::truncate;

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

fn draw_status(app: &App, buf: &mut Buffer, area: TRect) {
    let base = theme(app, "status");
    buf.set_style(area, base);
    if let Some((line, _)) = app.overlay.as_ref().and_then(|o| o.view().status_line(app)) {
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
        // A cap that stopped the agents outranks the next limit: which, and how to get past
        // it; where that does not fit, at least which.
        let (texts, style) = match (&s.cap_hit, &s.budget) {
            (Some(cap), _) => {
                let which = match &cap.rule {
                    Some(rule) => format!("\"{}\"", visible(rule)),
                    None => "a spend gate".to_string(),
                };
                let whole = format!(" ⛔ {} · {which} stopped the agents: {} ", dollars(s.spend), cap.gate.advice());
                let short = match &cap.rule {
                    Some(_) => format!(" ⛔ cap {which} hit "),
                    None => " ⛔ spend cap hit ".to_string(),
                };
                (vec![whole, short], theme(app, "attention"))
            }
            (None, Some((limit, _))) => {
                (vec![format!(" {} of {}{} ", dollars(s.spend), dollars(*limit), burn(app))], theme(app, "spend"))
            }
            (None, None) => (vec![format!(" {}{} ", dollars(s.spend), burn(app))], theme(app, "spend")),
        };
        if let Some(text) = texts.iter().find(|t| end + 1 + t.width() as u16 + message < area.width) {
            buf.set_string(end + 1, y, text, style);
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

pub(crate) fn centered(area: TRect, w: u16, h: u16) -> TRect {
    let w = w.min(area.width.saturating_sub(2));
    let h = h.min(area.height.saturating_sub(2));
    TRect::new(area.x + (area.width - w) / 2, area.y + (area.height - h) / 2, w, h)
}

pub(crate) fn describe(action: Action) -> String {
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
        Action::Comment => "comment (on a shared link)".into(),
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
        Action::CompareView => "compare the tab's worktree panes (a race)".into(),
        Action::ReviewView => "review the pane's branch and comment on it".into(),
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
