//! The TUI's own features, driven by keys as a user would.

mod support;

use base64::Engine;
use support::Env;

fn pane(ls: &serde_json::Value, tab: usize, n: usize) -> serde_json::Value {
    ls["sessions"][0]["tabs"][tab]["panes"][n].clone()
}

#[test]
fn copy_mode_searches_scrollback_and_copies_through_osc52() {
    let env = Env::new();
    let tui = env.tui(&[], 80, 24);
    tui.wait_prompt();
    tui.keys("seq 1 500 | sed 's/^/line-/'\r");
    tui.wait_text("line-500");
    tui.prefix("[");
    tui.wait_text("COPY");
    tui.keys("/line-123\r");
    tui.wait_text("line-122");
    // Select the whole line and copy it.
    tui.keys("Vy");
    let expected = base64::engine::general_purpose::STANDARD.encode("line-123");
    tui.wait_raw("the clipboard escape", |raw| {
        String::from_utf8_lossy(raw).contains(&format!("\x1b]52;c;{expected}\x07"))
    });
    tui.wait_text("copied 8 characters");
    assert!(!tui.contents().contains("COPY"), "yank leaves copy mode");
}

/// A keystroke's echo wakes the client and the runner once each: neither is woken because
/// the other side (or the program, or the terminal) read what it wrote, which it would be
/// if its socket, its terminal or its pane's terminal were watched for writing.
#[test]
fn a_keystroke_wakes_nobody_for_what_the_other_side_read() {
    use teamster::fdio::{Watch, watched_all};
    let env = Env::new();
    let runner_before = |pid: i32| watched_all(pid as u32).into_iter().filter(|(_, w)| *w != Watch::Reading).count();
    env.ok(&["-d", "-s", "quiet"]);
    let runner = env.runner_pid().expect("the runner");
    let idle = runner_before(runner);
    let tui = env.tui(&["attach", "-t", "quiet"], 80, 24);
    tui.wait_prompt();
    tui.keys("echo WAKE$((6*7))\r");
    tui.wait_text("WAKE42");
    let watched = watched_all(tui.pid());
    assert!(watched.iter().filter(|(_, w)| *w == Watch::Reading).count() >= 2, "its terminal and socket: {watched:?}");
    let client: Vec<_> = watched.into_iter().filter(|(_, w)| *w != Watch::Reading).collect();
    assert!(client.is_empty(), "the client watches for writing: {client:?}");
    assert_eq!(runner_before(runner), idle, "attaching made the runner watch for writing");
    let ptys: Vec<i32> = std::fs::read_dir(format!("/proc/{runner}/fd"))
        .expect("fds")
        .flatten()
        .filter(|e| std::fs::read_link(e.path()).is_ok_and(|l| l.ends_with("ptmx")))
        .filter_map(|e| e.file_name().to_str().and_then(|n| n.parse().ok()))
        .collect();
    assert!(!ptys.is_empty(), "the pane's terminal");
    let watched = watched_all(runner as u32);
    for fd in ptys {
        assert!(watched.contains(&(fd, Watch::Reading)), "the pane's terminal {fd} in {watched:?}");
    }
}

#[test]
fn wheel_scrolls_back_and_returns() {
    let env = Env::new();
    let tui = env.tui(&[], 80, 24);
    tui.wait_prompt();
    tui.keys("seq 1 300; echo END$((6*7))\r");
    tui.wait_text("END42");
    tui.send(b"\x1b[<64;10;10M".repeat(10).as_slice());
    tui.wait_text("COPY");
    // Ten notches of three lines each.
    tui.wait_text("[30/");
    tui.wait_for("older lines shown", |s| s.contents().lines().nth(1).is_some_and(|l| l.starts_with("┃252 ")));
    tui.send(b"\x1b[<65;10;10M".repeat(20).as_slice());
    tui.wait_for("back at the bottom, out of copy mode", |s| !s.contents().contains("COPY"));
}

#[test]
fn scrollback_keeps_the_configured_number_of_lines() {
    let env = Env::new();
    env.write_config("scrollback_lines = 100\n");
    let tui = env.tui(&[], 80, 24);
    tui.wait_prompt();
    tui.keys("seq 1 1000; echo END$((6*7))\r");
    tui.wait_text("END42");
    tui.prefix("[");
    tui.keys("g");
    // The 21-row screen holds 982..1000, END42 and the prompt; the 100 lines of history
    // before it start at 882.
    tui.wait_for("the oldest line kept", |s| s.contents().lines().nth(1).is_some_and(|l| l.contains("┃882 ")));
    tui.wait_text("[100/100]");
}

#[test]
fn an_exited_program_shows_its_code_runs_again_on_enter_and_closes_without_asking() {
    let env = Env::new();
    // It prints, waits for a line, and exits 3: each run ends when we say.
    let tui = env.tui(&["--", "sh", "-c", "echo run-number-$$; read x; exit 3"], 80, 24);
    tui.wait_text("run-number-");
    tui.keys("\r");
    tui.wait_text("[exited 3]");
    let ls = env.ls_json();
    assert_eq!(pane(&ls, 0, 0)["state"], "exited");
    assert_eq!(pane(&ls, 0, 0)["exit_code"], 3);
    let id = pane(&ls, 0, 0)["id"].clone();
    tui.keys("x");
    tui.wait_text("exited: enter runs it again, ctrl-\\ x closes it");
    // Enter runs it again, in the same pane (its id and its screen), as a new process.
    tui.keys("\r");
    tui.wait_for("a second run, running", |s| {
        s.contents().matches("run-number-").count() == 2 && !s.contents().contains("[exited")
    });
    assert_eq!(pane(&env.ls_json(), 0, 0)["id"], id);
    tui.keys("\r");
    tui.wait_text("[exited 3]");
    tui.keys("x");
    tui.wait_text("exited: enter runs it again");
    tui.prefix("x");
    let (_, out) = tui.wait_exit();
    assert!(out.contains("[the session's last pane closed]"), "{out}");
}

#[test]
fn closing_a_running_pane_asks_first() {
    let env = Env::new();
    let tui = env.tui(&[], 80, 24);
    tui.wait_prompt();
    tui.prefix("-");
    tui.wait_text(" 2 test-shell");
    tui.prefix("x");
    tui.wait_text("close pane 2 (test-shell, still running)? enter closes, other keys keep it");
    // A typed word's letters keep it: `y` is no answer.
    tui.keys("y");
    tui.wait_for("the question gone", |s| !s.contents().contains("enter closes,"));
    assert_eq!(env.panes().len(), 2, "y closed the pane");
    tui.prefix("x");
    tui.wait_text("enter closes,");
    tui.keys("\r");
    env.wait_ls("one pane left", |v| v["sessions"][0]["tabs"][0]["panes"].as_array().is_some_and(|p| p.len() == 1));
    tui.wait_for("pane 2 gone from the screen", |s| !s.contents().contains(" 2 test-shell"));
}

#[test]
fn tabs_open_switch_and_show_in_the_status_bar() {
    let env = Env::new();
    let tui = env.tui(&[], 80, 24);
    tui.wait_prompt();
    tui.keys("echo first-tab\r");
    tui.wait_text("first-tab");
    tui.prefix("t");
    tui.wait_text("TAB");
    tui.keys("n");
    tui.wait_text(" 2:test-shell ");
    tui.wait_for("an empty new tab", |s| !s.contents().contains("first-tab"));
    tui.prefix("p");
    tui.wait_text("first-tab");
    let ls = env.ls_json();
    assert_eq!(ls["sessions"][0]["tabs"][0]["active"], true);
    assert_eq!(ls["sessions"][0]["tabs"].as_array().map(Vec::len), Some(2));
    // Rename the tab; the status bar shows the name.
    tui.prefix("t");
    tui.keys("r");
    tui.wait_text("rename tab:");
    tui.keys("work\r");
    tui.wait_text(" 1:work ");
}

#[test]
fn zoom_and_resize_change_pane_sizes() {
    let env = Env::new();
    let tui = env.tui(&[], 100, 30);
    tui.wait_prompt();
    tui.prefix("\\");
    tui.wait_text(" 2 test-shell");
    let ls = env.wait_ls("two panes", |v| pane(v, 0, 1)["cols"] == 48);
    assert_eq!(pane(&ls, 0, 0)["cols"], 48);
    // Grow pane 2 leftward by 2 (alt-H).
    tui.prefix("H");
    env.wait_ls("border moved", |v| pane(v, 0, 1)["cols"] == 50 && pane(v, 0, 0)["cols"] == 46);
    tui.prefix("z");
    tui.wait_text("[Z]");
    env.wait_ls("zoomed to the whole area", |v| {
        pane(v, 0, 1)["cols"] == 98 && v["sessions"][0]["tabs"][0]["zoomed"] == true
    });
    tui.prefix("z");
    env.wait_ls("back in its place", |v| pane(v, 0, 1)["cols"] == 50);
}

#[test]
fn the_tmux_keymap_splits_and_detaches_with_ctrl_b() {
    let env = Env::new();
    env.write_config("keymap = \"tmux\"\n");
    let tui = env.tui(&[], 100, 30);
    tui.wait_prompt();
    tui.send(b"\x02%");
    tui.wait_text(" 2 test-shell");
    tui.send(b"\x02\"");
    tui.wait_text(" 3 test-shell");
    // ctrl-b ctrl-b sends ctrl-b itself: bash's back-one-character.
    tui.keys("echo ab");
    tui.send(b"\x02\x02X\r");
    tui.wait_text("aXb");
    // ctrl-b q shows pane numbers; a digit focuses that pane.
    tui.send(b"\x02q1");
    env.wait_ls("pane 1 focused", |v| pane(v, 0, 0)["focused"] == true);
    tui.send(b"\x02d");
    let (_, out) = tui.wait_exit();
    assert!(out.contains("[detached (from session 0)]"), "{out}");
}

/// The bytes of a chord as emacs writes it (`C-x`, `M-x`, `C-M-x`, `M-DEL`, `M-SPC`), as
/// a terminal sends it.
fn chord_bytes(chord: &str) -> Vec<u8> {
    let (alt, ctrl, key) = match chord {
        c if c.starts_with("C-M-") => (true, true, &c[4..]),
        c if c.starts_with("M-") => (true, false, &c[2..]),
        c if c.starts_with("C-") => (false, true, &c[2..]),
        c => (false, false, c),
    };
    let byte = match key {
        "DEL" => 0x7f,
        "SPC" => b' ',
        k if ctrl => match k.as_bytes()[0] {
            b'@' => 0,
            c @ b'a'..=b'z' => c - b'a' + 1,
            c @ (b'[' | b'\\' | b']' | b'^' | b'_') => c - 0x40,
            c => panic!("no ctrl byte for {c}"),
        },
        k => {
            assert_eq!(k.len(), 1, "{chord}");
            k.as_bytes()[0]
        }
    };
    if alt { vec![0x1b, byte] } else { vec![byte] }
}

#[test]
fn ordinary_text_and_every_chord_of_the_programs_reach_the_pane() {
    let env = Env::new();
    // A program that shows every byte it gets, in hex, with the terminal raw (no signals,
    // no line editing). (READY as the title, which shows the command, cannot say it.)
    let dumper = "process.stdin.setRawMode(true); console.log('RE' + 'ADY'); \
                  process.stdin.on('data', (d) => process.stdout.write(d.toString('hex') + ' '))";
    let tui = env.tui(&["--", "node", "-e", dumper], 200, 50);
    tui.wait_text("READY");
    let docs = std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/keys.md"))
        .expect("docs/keys.md");
    let block =
        docs.split("```chords\n").nth(1).and_then(|b| b.split("```").next()).expect("the chords in docs/keys.md");
    let chords: Vec<&str> = block.split_whitespace().collect();
    assert!(chords.len() > 150, "{} chords", chords.len());
    let prose = "The quick brown fox, reading man pages at 3am, typed `git push -f origin main` twice; \
                 then: x y n q d! (Ça marche, 日本語も.)\r";
    let mut sent: Vec<u8> = prose.as_bytes().to_vec();
    tui.send(prose.as_bytes());
    for chord in &chords {
        let bytes = chord_bytes(chord);
        tui.send(&bytes);
        sent.extend(bytes);
    }
    // The prefix itself, twice: sent through once.
    tui.send(b"\x1c\x1c");
    sent.push(0x1c);
    let want: String = sent.iter().map(|b| format!("{b:02x}")).collect();
    let got = || env.ok(&["capture", "1"]).split_whitespace().filter(|w| *w != "READY").collect::<String>();
    let _ = env.ls_json();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while got().len() < want.len() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let (got, want) = (got(), want);
    let at = got.bytes().zip(want.bytes()).position(|(a, b)| a != b).unwrap_or(got.len().min(want.len()));
    assert_eq!(
        got,
        want,
        "screen:\n{}\nfirst difference at hex char {at}: got ..{}.. want ..{}..",
        tui.contents(),
        &got[at.saturating_sub(20)..(at + 40).min(got.len())],
        &want[at.saturating_sub(20)..(at + 40).min(want.len())]
    );
    // And nothing happened: one session, one tab, one pane, no question, no mode.
    let panes = env.panes();
    assert_eq!(panes.len(), 1, "{panes:?}");
    assert_eq!(env.ls_json()["sessions"].as_array().map(Vec::len), Some(1));
    assert_eq!(env.ls_json()["sessions"][0]["tabs"].as_array().map(Vec::len), Some(1));
    let status = tui.contents().lines().last().unwrap_or_default().to_string();
    assert!(status.contains("ctrl-\\ then"), "a mode or a question is open: {status}");
}

/// Keys with their modifiers reach a program as it asked for them: the kitty keyboard
/// protocol once it pushed its flags (and its query answered), xterm's modifyOtherKeys once
/// it set that, Shift+arrows always.
#[test]
fn modified_keys_reach_the_program_as_it_asked_for_them() {
    let env = Env::new();
    // Queries the kitty flags, pushes 1 (disambiguate), queries again; on `q` pops them and
    // sets modifyOtherKeys 2 instead. Shows every byte it gets, in hex.
    let program = "const out = (s) => process.stdout.write(s); process.stdin.setRawMode(true); \
        out('\\x1b[?u\\x1b[>1u\\x1b[?u' + 'PU' + 'SHED\\r\\n'); \
        process.stdin.on('data', (d) => { out(d.toString('hex') + ' '); \
          if (d.includes(0x71)) out('\\x1b[<u\\x1b[>4;2m' + 'MO' + 'K\\r\\n'); })";
    let tui = env.tui(&["--", "node", "-e", program], 160, 30);
    tui.wait_text("PUSHED");
    let seen = || env.ok(&["capture", "1"]).split_whitespace().collect::<String>();
    let hex = |b: &[u8]| b.iter().map(|b| format!("{b:02x}")).collect::<String>();
    let wait_seen = |what: &str, bytes: &[u8]| {
        let want = hex(bytes);
        env.wait_ls(what, |_| seen().contains(&want));
    };
    // The query was answered before and after the push.
    wait_seen("the kitty query answered", b"\x1b[?0u\x1b[?1u");
    // As a kitty terminal sends them: Shift+Enter, ctrl-shift-a, Esc; and Shift+Up.
    tui.send(b"\x1b[13;2u");
    wait_seen("Shift+Enter as CSI u", b"\x1b[13;2u");
    tui.send(b"\x1b[97;6u");
    wait_seen("ctrl-shift-a as CSI u", b"\x1b[97;6u");
    tui.send(b"\x1b[1;2A");
    wait_seen("Shift+Up", b"\x1b[1;2A");
    tui.send(b"\x1b[27u");
    wait_seen("Esc as CSI u", b"\x1b[27u");
    // modifyOtherKeys instead: Shift+Enter is CSI 27 ; 2 ; 13 ~, ctrl-a is as it always was.
    tui.send(b"q");
    tui.wait_text("MOK");
    tui.send(b"\x1b[13;2u");
    wait_seen("Shift+Enter as modifyOtherKeys", b"\x1b[27;2;13~");
    tui.send(b"\x01");
    wait_seen("ctrl-a at level 2", b"\x1b[27;5;97~");
}

#[test]
fn doctor_says_what_the_terminal_answered() {
    let env = Env::new();
    let (_, out) = env.tui(&["doctor"], 160, 50).wait_exit();
    // This test's terminal says its colours and knows no kitty keyboard protocol.
    assert!(out.contains("terminal colours") && out.contains("it says #dddddd on #111111"), "{out}");
    assert!(out.contains("does not speak the kitty keyboard protocol"), "{out}");
}

#[test]
fn a_programs_cursor_colour_reaches_the_terminal_and_is_reset() {
    let env = Env::new();
    let tui = env.tui(&[], 100, 20);
    tui.wait_prompt();
    tui.type_line("printf '\\033]12;#ff8000\\007'; echo COLOUR-$((1+1))");
    tui.wait_raw("the cursor colour passed on", |raw| {
        raw.windows(b"\x1b]12;#ff8000".len()).any(|w| w == b"\x1b]12;#ff8000")
    });
    tui.type_line("printf '\\033]112\\007'");
    tui.wait_raw("the cursor colour reset", |raw| raw.windows(b"\x1b]112".len()).any(|w| w == b"\x1b]112"));
}

/// Writes a script that prints a curly underline in red, a dotted one, an overline and a
/// hyperlink; returns the line that runs it.
fn styled_script(env: &Env) -> &'static str {
    std::fs::write(
        env.dir.join("work/styled.sh"),
        "printf '\\033[4:3;58:2::255:0:0mCURLY\\033[4:4mDOTTED\\033[0;53mOVER\\033[0m \\033]8;;https://example.com/x\\033\\\\LINK\\033]8;;\\033\\\\ '\necho STYLED-$((1+1))\n",
    )
    .expect("script");
    "sh styled.sh"
}

#[test]
fn styled_underlines_colours_and_links_reach_a_terminal_that_draws_them() {
    let mut env = Env::new();
    // WezTerm says who it is in TERM_PROGRAM, and draws all of these.
    env.extra_env.push(("TERM_PROGRAM".into(), "WezTerm".into()));
    let tui = env.tui(&[], 120, 20);
    tui.wait_prompt();
    tui.type_line(styled_script(&env));
    tui.wait_text("STYLED-2");
    let has = |raw: &[u8], s: &[u8]| raw.windows(s.len()).any(|w| w == s);
    tui.wait_raw("curly, red and dotted as drawn, the link passed on", |raw| {
        has(raw, b"4:3;58:2::255:0:0mCURLY")
            && has(raw, b";4:4;58:2::255:0:0mDOTTED")
            && has(raw, b"\x1b[0;53mOVER")
            && has(raw, b"\x1b]8;;https://example.com/x\x1b\\")
    });
}

#[test]
fn a_plain_terminal_gets_plain_underlines_and_no_links() {
    let env = Env::new();
    let tui = env.tui(&[], 120, 20);
    tui.wait_prompt();
    tui.type_line(styled_script(&env));
    tui.wait_text("STYLED-2");
    // Drawn: the screen as the test's own terminal (vt100) reads it shows the text.
    tui.wait_text("CURLYDOTTEDOVER LINK STYLED-2");
    let raw = tui.raw();
    let has = |s: &[u8]| raw.windows(s.len()).any(|w| w == s);
    assert!(has(b"4mCURLY") && !has(b"4:3mCURLY"), "a plain underline instead");
    assert!(!has(b"\x1b[0;4:3") && !has(b"58:2::") && !has(b"\x1b[0;53m"), "nothing it does not draw");
    assert!(!has(b"\x1b]8;;https"), "no link");
}
