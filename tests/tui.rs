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
    tui.alt("c");
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
    tui.alt("c");
    tui.keys("g");
    // The 21-row screen holds 982..1000, END42 and the prompt; the 100 lines of history
    // before it start at 882.
    tui.wait_for("the oldest line kept", |s| s.contents().lines().nth(1).is_some_and(|l| l.contains("┃882 ")));
    tui.wait_text("[100/100]");
}

#[test]
fn an_exited_program_shows_its_code_and_closes_without_asking() {
    let env = Env::new();
    let tui = env.tui(&["--", "sh", "-c", "echo done-with-work; exit 3"], 80, 24);
    tui.wait_text("[exited 3]");
    let ls = env.ls_json();
    assert_eq!(pane(&ls, 0, 0)["state"], "exited");
    assert_eq!(pane(&ls, 0, 0)["exit_code"], 3);
    tui.keys("x");
    tui.wait_text("this pane's program has exited; alt-x closes it");
    tui.alt("x");
    let (_, out) = tui.wait_exit();
    assert!(out.contains("[the session's last pane closed]"), "{out}");
}

#[test]
fn closing_a_running_pane_asks_first() {
    let env = Env::new();
    let tui = env.tui(&[], 80, 24);
    tui.wait_prompt();
    tui.alt("-");
    tui.wait_text(" 2 test-shell");
    tui.alt("x");
    tui.wait_text("close pane 2 (test-shell, still running)? y/n");
    tui.keys("n");
    tui.wait_for("the question gone", |s| !s.contents().contains("y/n"));
    assert_eq!(env.panes().len(), 2, "n keeps the pane");
    tui.alt("x");
    tui.wait_text("y/n");
    tui.keys("y");
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
    tui.alt("t");
    tui.wait_text("TAB");
    tui.keys("n");
    tui.wait_text(" 2:test-shell ");
    tui.wait_for("an empty new tab", |s| !s.contents().contains("first-tab"));
    tui.alt("p");
    tui.wait_text("first-tab");
    let ls = env.ls_json();
    assert_eq!(ls["sessions"][0]["tabs"][0]["active"], true);
    assert_eq!(ls["sessions"][0]["tabs"].as_array().map(Vec::len), Some(2));
    // Rename the tab; the status bar shows the name.
    tui.alt("t");
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
    tui.alt("\\");
    tui.wait_text(" 2 test-shell");
    let ls = env.wait_ls("two panes", |v| pane(v, 0, 1)["cols"] == 48);
    assert_eq!(pane(&ls, 0, 0)["cols"], 48);
    // Grow pane 2 leftward by 2 (alt-H).
    tui.alt("H");
    env.wait_ls("border moved", |v| pane(v, 0, 1)["cols"] == 50 && pane(v, 0, 0)["cols"] == 46);
    tui.alt("z");
    tui.wait_text("[Z]");
    env.wait_ls("zoomed to the whole area", |v| {
        pane(v, 0, 1)["cols"] == 98 && v["sessions"][0]["tabs"][0]["zoomed"] == true
    });
    tui.alt("z");
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
