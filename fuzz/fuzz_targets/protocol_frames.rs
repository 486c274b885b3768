//! The runner's control socket: a stream of length-prefixed frames (MessagePack; JSON for a
//! hello), read as a client's messages (what the runner takes) or the runner's (what a TUI
//! takes) by the first byte.
//! Screen frames are applied as a TUI applies them and their rows decoded into cells;
//! a decoded row holds no control character, whatever the frame said.
#![no_main]

use libfuzzer_sys::fuzz_target;
use teamster::protocol::{ClientMsg, ServerMsg, decode, encode};
use teamster::tui::panes::PaneContent;

fuzz_target!(|data: &[u8]| {
    let Some((&pick, rest)) = data.split_first() else { return };
    let mut buf = rest.to_vec();
    if pick & 1 == 0 {
        while let Ok(Some(msg)) = decode::<ClientMsg>(&mut buf) {
            let _ = msg.is_read_only();
            let _ = msg.request_id();
            let _ = encode(&msg);
        }
    } else {
        let mut content = PaneContent::default();
        while let Ok(Some(msg)) = decode::<ServerMsg>(&mut buf) {
            let _ = encode(&msg);
            match msg {
                ServerMsg::Frame { panes } => {
                    for frame in panes {
                        let cols = frame.size.cols as usize;
                        for (_, row) in &frame.rows {
                            // Decoded rows carry no control character to the terminal.
                            for run in &row.runs {
                                assert!(!run.text.contains(char::is_control), "{row:?}");
                                assert!(run.marks.iter().all(|(_, m)| !m.contains(char::is_control)), "{row:?}");
                                assert!(run.link.bytes().all(|b| (0x21..0x7f).contains(&b)), "{row:?}");
                            }
                            let _ = row.to_cells(cols);
                            let _ = row.text();
                        }
                        content.apply(frame);
                        let _ = content.screen_line(content.screen_top);
                        let _ = content.end_line();
                    }
                }
                ServerMsg::Session { session } => {
                    for pane in &session.panes {
                        let _ = pane.status();
                        let _ = pane.wants_user();
                    }
                    if let Some(id) = session.focused() {
                        let _ = session.pane(id);
                    }
                }
                _ => {}
            }
        }
    }
});
