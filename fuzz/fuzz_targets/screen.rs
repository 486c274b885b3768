//! The terminal model: a program's output fed in pieces to a screen of a fuzzer-chosen
//! size (resized on the way), the answers it writes back to the program checked, and the
//! screen read back as the runner reads it (rows on the wire, lines, text, search, the
//! agents' screen hints).
//!
//! No cell may hold a control character (C0, DEL, C1), nor a link address anything but
//! printable ASCII: the TUI writes them to the user's terminal as they are.
//!
//! The answers go into the program's input, where a shell would act on a control
//! character: an answer may hold only printable ASCII and the ESC and BEL that frame it,
//! so no output can make the terminal type a command for the program.
#![no_main]

use libfuzzer_sys::fuzz_target;
use teamster::agents::{AgentKind, screen_state};
use teamster::protocol::WireRow;
use teamster::screen::Pos;

fuzz_target!(|data: &[u8]| {
    // Fed (and its answers checked) as teamster's own regression tests feed it.
    let Some(screen) = teamster::screen::fuzz_feed(data) else { return };
    let (w, h) = screen.size();
    for y in 0..h as usize {
        let wire = WireRow::from_row(screen.row(y), screen.links());
        // A cell's text goes to the user's terminal as it is: no control character, ever.
        for run in &wire.runs {
            assert!(!run.text.contains(char::is_control), "a control character in a cell: {wire:?}");
            assert!(
                run.marks.iter().all(|(_, m)| !m.contains(char::is_control)),
                "a control character in a mark: {wire:?}"
            );
            assert!(run.link.bytes().all(|b| (0x21..0x7f).contains(&b)), "a link that is not printable: {wire:?}");
        }
        let _ = wire.to_cells(w as usize);
        let _ = wire.text();
    }
    for abs in screen.first_line()..screen.end_line() {
        if let Some(row) = screen.line(abs) {
            let _ = WireRow::from_row(&row, screen.links());
        }
    }
    let start = Pos { line: screen.first_line(), col: 0 };
    let end = Pos { line: screen.end_line(), col: w };
    let _ = screen.text_between(start, end, false);
    let _ =
        screen.text_between(Pos { line: start.line, col: 3 }, Pos { line: end.line.saturating_sub(1), col: 1 }, true);
    let _ = screen.search("a", start, false);
    let _ = screen.search("\u{e9}", end, true);
    let lines = screen.visible_text();
    let _ = screen.history_text();
    for kind in AgentKind::BUILT_IN {
        let _ = screen_state(kind, &lines);
    }
    let _ = screen.cursor_position();
    let _ = screen.title();
});
