//! The terminal model: a program's output fed in pieces to a screen of a fuzzer-chosen
//! size (resized on the way), the answers it writes back to the program checked, and the
//! screen read back as the runner reads it (rows on the wire, lines, text, search, the
//! agents' screen hints).
//!
//! The answers go into the program's input, where a shell would act on a control
//! character: an answer may hold only printable ASCII and the ESC and BEL that frame it,
//! so no output can make the terminal type a command for the program.
#![no_main]

use libfuzzer_sys::fuzz_target;
use teamster::agents::{AgentKind, screen_state};
use teamster::protocol::WireRow;
use teamster::screen::{Pos, Screen};

fn check_answers(answers: &[u8]) {
    if let Some(b) = answers.iter().find(|&&b| !(b == 0x1b || b == 0x07 || (0x20..0x7f).contains(&b))) {
        panic!("the terminal answered with byte {b:#04x}: {:?}", String::from_utf8_lossy(answers));
    }
}

fuzz_target!(|data: &[u8]| {
    let [c, r, piece, rest @ ..] = data else { return };
    let cols = 1 + u16::from(*c) % 100;
    let rows = 1 + u16::from(*r) % 40;
    let mut screen = Screen::new(cols, rows, 50);
    for (i, chunk) in rest.chunks(usize::from(*piece & 0x7f).max(1)).enumerate() {
        screen.feed(chunk);
        check_answers(&screen.take_responses());
        let _ = screen.take_events();
        if *piece & 0x80 != 0 && i % 7 == 3 {
            let (w, h) = screen.size();
            screen.resize(1 + (w * 3 + u16::from(chunk[0])) % 100, 1 + (h + u16::from(chunk[0])) % 40);
        }
    }
    let (w, h) = screen.size();
    for y in 0..h as usize {
        let wire = WireRow::from_row(screen.row(y));
        let _ = wire.to_cells(w as usize);
        let _ = wire.text();
    }
    for abs in screen.first_line()..screen.end_line() {
        if let Some(row) = screen.line(abs) {
            let _ = WireRow::from_row(&row);
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
