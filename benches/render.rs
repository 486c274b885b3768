//! How long the TUI takes to draw a frame: after one echoed character, and after a pane
//! full of new text, at 200x50 with one and with four panes. The client draws after each
//! batch of updates, so this is on the keystroke-to-echo path.
//!
//! Run: `cargo bench --bench render`.

use std::time::Instant;
use teamster::config::{Keymap, Theme};
use teamster::layout::{Direction, Layout, Rect};
use teamster::protocol::{
    CursorView, PaneFrame, PaneInfo, PaneModes, ServerMsg, SessionView, Size, TabView, WireRow, WireRun,
};
use teamster::tui::app::{App, Event};

fn session(panes: u32) -> SessionView {
    let mut layout = Layout::Pane(1);
    for p in 2..=panes {
        let dir = if p % 2 == 0 { Direction::Right } else { Direction::Down };
        layout.split(p - 1, p, dir, Rect::new(0, 0, 200, 49)).expect("split");
    }
    SessionView {
        id: 0,
        name: "bench".into(),
        tabs: vec![TabView {
            id: 1,
            name: String::new(),
            layout: layout.clone(),
            focused: 1,
            zoomed: None,
            synchronized: false,
            arrangement: None,
        }],
        active_tab: 0,
        panes: layout
            .panes()
            .iter()
            .map(|&id| PaneInfo { id, command: "sh".into(), size: Size { cols: 198, rows: 47 }, ..PaneInfo::default() })
            .collect(),
        clients: 1,
        created: 0,
        spend: 0.0,
        budget: None,
        cap_hit: None,
        watchers: Vec::new(),
        shared: false,
    }
}

fn frame(pane: u32, seed: usize, full: bool) -> PaneFrame {
    let rows = (0..47u16)
        .filter(|&y| full || y == 46)
        .map(|y| {
            let text = format!(
                "{:08} the quick brown fox jumps over the lazy dog, 0123456789 abcdefghijklmn",
                seed + y as usize
            );
            (
                y,
                WireRow {
                    runs: vec![
                        WireRun { text, fg: 3, ..WireRun::default() },
                        WireRun { text: " ok".into(), ..WireRun::default() },
                    ],
                    wrapped: false,
                },
            )
        })
        .collect();
    PaneFrame {
        pane,
        size: Size { cols: 198, rows: 47 },
        full,
        rows,
        cursor: CursorView { x: 5, y: 46, visible: true, ..CursorView::default() },
        modes: PaneModes::default(),
        first_line: 0,
        screen_top: 0,
        epoch: 0,
    }
}

fn main() {
    let keymap = Keymap::load("default", None).expect("keymap");
    let theme = Theme::load("dark", None).expect("theme");
    println!("| panes | update | draw time (median of 2000) |\n|---|---|---|");
    for panes in [1u32, 4] {
        for (label, full) in [("one row changed", false), ("every row changed", true)] {
            let mut app = App::new(keymap.clone(), theme.clone(), Size { cols: 200, rows: 50 }, true);
            app.update(Event::Server(ServerMsg::Session { session: Box::new(session(panes)) }));
            let mut display =
                teamster::tui::display::Display::new(std::io::sink(), ratatui::layout::Size { width: 200, height: 50 })
                    .expect("display");
            for p in 1..=panes {
                app.update(Event::Server(ServerMsg::Frame { panes: vec![frame(p, 0, true)] }));
            }
            let mut times = Vec::new();
            for i in 0..2000 {
                app.update(Event::Server(ServerMsg::Frame { panes: vec![frame(1, i, full)] }));
                let t = Instant::now();
                display.draw(&mut app).expect("draw");
                times.push(t.elapsed());
            }
            times.sort();
            println!("| {panes} | {label} | {:.0} µs |", times[times.len() / 2].as_secs_f64() * 1e6);
        }
    }
}
