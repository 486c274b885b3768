//! The multiplexer as a user meets it: the real binary in a PTY, read back through an
//! independent terminal parser.

mod support;

use support::{Env, alive};

/// Pane contents we can recognise: 16, 256 and true colour, bold, CJK, a combining mark
/// and an emoji.
const COLORFUL: &str =
    r"printf '\033[31mred\033[0m \033[1;38;5;33mblue\033[0m \033[38;2;255;128;0morange\033[0m 中文 e\314\201 🎉 end\n'";

#[test]
fn split_colours_detach_and_reattach_find_the_same_screen() {
    let env = Env::new();
    let tui = env.tui(&[], 100, 30);
    tui.wait_prompt();
    tui.keys(COLORFUL);
    tui.keys("\r");
    tui.wait_text("orange 中文 e\u{301} 🎉 end");

    // The colours arrive as the program set them.
    let (row, col) = tui.find("red blue").expect("the coloured line");
    tui.screen(|s| {
        let red = s.cell(row, col).expect("cell");
        assert_eq!(red.fgcolor(), vt100::Color::Idx(1), "16-colour red");
        let blue = s.cell(row, col + 4).expect("cell");
        assert_eq!(blue.fgcolor(), vt100::Color::Idx(33));
        assert!(blue.bold());
        let orange = s.cell(row, col + 9).expect("cell");
        assert_eq!(orange.fgcolor(), vt100::Color::Rgb(255, 128, 0));
        let wide = s.cell(row, col + 16).expect("cell");
        assert_eq!(wide.contents(), "中");
        assert!(wide.is_wide());
    });

    // Split right; the new pane is focused and runs its own shell.
    tui.prefix("\\");
    tui.wait_for("a second pane", |s| s.contents().contains(" 2 test-shell"));
    tui.keys("echo in-the-second-pane\r");
    tui.wait_text("in-the-second-pane");
    let panes = env.panes();
    assert_eq!(panes.len(), 2, "{panes:?}");
    assert!(panes.iter().all(|p| p["state"] == "running"));
    assert_eq!(panes[1]["focused"], true);

    // Detach: the TUI exits, every program keeps running.
    tui.prefix("d");
    let (status, out) = tui.wait_exit();
    assert!(status.success());
    assert!(out.contains("[detached (from session 0)]"), "{out}");
    for p in env.panes() {
        assert!(alive(p["pid"].as_i64().expect("pid")), "pane {} kept running", p["id"]);
    }

    // Re-attach: the same layout and the same screens, colours included.
    let again = env.tui(&["attach"], 100, 30);
    again.wait_text("in-the-second-pane");
    again.wait_text("orange 中文 e\u{301} 🎉 end");
    let (row, col) = again.find("red blue").expect("the coloured line");
    again.screen(|s| assert_eq!(s.cell(row, col + 9).expect("cell").fgcolor(), vt100::Color::Rgb(255, 128, 0)));
    assert!(again.contents().contains(" 1 test-shell") && again.contents().contains(" 2 test-shell"));
}

#[test]
fn a_broken_config_is_refused_with_file_line_and_key() {
    let env = Env::new();
    env.write_config("theme = \"dark\"\nscrollback_lines = \"many\"\n");
    let out = env.run(&[]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    let file = env.config_path();
    assert!(err.contains(&format!("{}, line 3, key `scrollback_lines`", file.display())), "{err}");
    assert!(err.contains("expected a whole number"), "{err}");

    // A key binding that names no action.
    env.write_config("");
    std::fs::write(env.config_path().with_file_name("keymap.toml"), "[normal]\n\"alt-y\" = \"explode\"\n")
        .expect("keymap");
    let out = env.run(&["doctor"]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("keymap.toml, line 2, key `normal.alt-y`: `explode` is not an action"), "{text}");
    assert!(text.contains("fix:"), "{text}");
}

/// A node program (node is on every machine the tests run on) that reports its terminal
/// size at start and on every SIGWINCH.
const WINCH_REPORTER: &str = r#"node -e "const p=()=>console.log('size',process.stdout.columns+'x'+process.stdout.rows);p();process.stdout.on('resize',p);setInterval(()=>{},1e9)""#;

#[test]
fn resizing_the_terminal_resizes_the_pty_and_reflows() {
    let env = Env::new();
    let tui = env.tui(&[], 80, 24);
    tui.wait_prompt();
    // A line longer than the pane, to watch it rewrap.
    tui.keys("printf '%s\\n' AAAAAAAAAABBBBBBBBBBCCCCCCCCCCDDDDDDDDDDEEEEEEEEEEFFFFFFFFFFGGGGGGGGGGHHHHHHHHHHIIIIIIIIIIJJJJJJJJJJ\r");
    tui.wait_text("HHHHHHHHHHIIIIIIIIIIJJJJJJJJJJ");
    tui.keys(&format!("{WINCH_REPORTER}\r"));
    // The pane is the terminal minus borders (2) and the status bar (1).
    tui.wait_text("size 78x21");

    tui.resize(120, 30);
    tui.wait_text("size 118x27");
    // The long line is one line again at the new width.
    tui.wait_text("GGGGGGGGGGHHHHHHHHHHIIIIIIIIIIJJJJJJJJJJ");

    tui.resize(50, 20);
    tui.wait_text("size 48x17");
    tui.wait_for("the line rewrapped at 48 columns", |s| {
        s.contents().lines().any(|l| {
            l.contains("AAAAAAAAAABBBBBBBBBBCCCCCCCCCCDDDDDDDDDDEEEEEEEE│")
                || l.contains("AAAAAAAAAABBBBBBBBBBCCCCCCCCCCDDDDDDDDDDEEEEEEEE┃")
        })
    });
}

#[test]
fn kill_ends_the_session_with_sighup_then_sigkill() {
    let env = Env::new();
    env.write_config("kill_grace_ms = 300\n");
    // One pane whose program ignores SIGHUP, so only SIGKILL can end it.
    let tui = env.tui(&["--", "sh", "-c", "trap '' HUP; echo stubborn; while :; do sleep 1; done"], 80, 24);
    tui.wait_text("stubborn");
    let pid = env.panes()[0]["pid"].as_i64().expect("pid");
    assert!(support::alive(pid));

    let out = env.run(&["kill"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "killed session 0");
    assert!(!support::alive(pid), "the program is gone when kill returns");
    let (_, printed) = tui.wait_exit();
    assert!(printed.contains("[the session was killed]"), "{printed}");
    let ls = env.run(&["ls"]);
    let said = format!("{}{}", String::from_utf8_lossy(&ls.stdout), String::from_utf8_lossy(&ls.stderr));
    assert!(said.contains("no sessions are running"), "{said}");
}

#[test]
fn two_clients_at_different_sizes_both_work() {
    let env = Env::new();
    let big = env.tui(&[], 120, 40);
    big.wait_prompt();
    let small = env.tui(&["attach"], 60, 20);
    small.wait_prompt();
    small.keys("echo typed-in-the-small-one\r");
    big.wait_text("typed-in-the-small-one");
    small.wait_text("typed-in-the-small-one");
    // Each draws at its own size: the status bar sits on each one's last row.
    big.wait_for("big status bar on row 39", |s| s.contents_between(39, 0, 39, 120).contains(" 0 "));
    small.wait_for("small status bar on row 19", |s| s.contents_between(19, 0, 19, 60).contains(" 0 "));
    big.keys("echo typed-in-the-big-one\r");
    small.wait_text("typed-in-the-big-one");
    let ls = env.ls_json();
    assert_eq!(ls["sessions"][0]["clients"], 2);
}

#[test]
fn agent_picker_and_teamster_new_open_panes() {
    let env = Env::new();
    env.write_config(
        "[agents.greeter]\ncommand = \"node\"\nargs = [\"-e\", \"console.log('hello from greeter'); setInterval(()=>{},1e9)\"]\ndescription = \"says hello\"\n",
    );
    let tui = env.tui(&[], 100, 30);
    tui.wait_prompt();
    tui.prefix("a");
    tui.wait_text("says hello");
    tui.keys("gree\r");
    tui.wait_text("hello from greeter");
    tui.wait_text(" 2 greeter");

    // From the shell in pane 1, `teamster new` opens beside it in the same session.
    tui.prefix("1");
    tui.keys("teamster new -- node -e \"console.log('from the cli'); setInterval(()=>{},1e9)\"\r");
    tui.wait_text("from the cli");
    tui.wait_text("(id 3)");
    let panes = env.panes();
    assert_eq!(panes.len(), 3, "{panes:#?}");
    // Named as the TUI and `ls` number it: session, tab, pane.
    let number = panes.iter().find(|p| p["id"] == 3).map(|p| p["number"].to_string()).expect("pane 3");
    tui.wait_text(&format!("opened pane 0:1.{number} (id 3)"));
    assert_eq!(panes.iter().filter(|p| p["name"] == "greeter").count(), 1);

    // An unknown agent is a clear error that lists the known ones.
    let out = env.run(&["new", "nope"]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("no agent `nope`; the agents are: claude, codex, gemini, greeter, opencode, pi")
    );
}

/// The runner reads the terminal's keys and draws on it itself, as tmux's server does, so
/// a key and its echo cross one process of ours, not two: the client waits on nothing of
/// its terminal, and the runner reads it. The runner's own descriptor is non-blocking;
/// the client's (which the user's shell shares) stays as it was.
#[test]
fn the_runner_reads_and_draws_the_terminal_itself() {
    use teamster::fdio::{Watch, watched_all};
    let env = Env::new();
    let tui = env.tui(&[], 80, 24);
    tui.wait_prompt();
    tui.keys("echo drawn-by-the-runner\r");
    tui.wait_text("drawn-by-the-runner");
    let (client, runner) = (tui.pid(), env.runner_pid().expect("runner") as u32);
    let link = |pid: u32, fd: i32| std::fs::read_link(format!("/proc/{pid}/fd/{fd}")).ok();
    let terminal = link(client, 0).expect("the client's terminal");
    let on_terminal = |pid: u32| -> Vec<Watch> {
        watched_all(pid)
            .into_iter()
            .filter(|(fd, _)| link(pid, *fd).as_ref() == Some(&terminal))
            .map(|(_, w)| w)
            .collect()
    };
    assert_eq!(on_terminal(client), Vec::<Watch>::new(), "the client waits on its terminal");
    assert!(on_terminal(runner).contains(&Watch::Reading), "the runner does not read the terminal");
    let flags = |pid: u32, fd: i32| {
        let info = std::fs::read_to_string(format!("/proc/{pid}/fdinfo/{fd}")).expect("fdinfo");
        let octal = info.lines().find_map(|l| l.strip_prefix("flags:")).expect("flags").trim().to_string();
        i32::from_str_radix(&octal, 8).expect("octal")
    };
    assert_eq!(flags(client, 0) & libc::O_NONBLOCK, 0, "the shell's terminal was made non-blocking");
    // Typing and detaching work as ever, and the terminal is the shell's again.
    tui.keys("\x1cd");
    let (status, printed) = tui.wait_exit();
    assert!(status.success(), "{printed}");
    assert!(printed.contains("[detached (from session 0)]"), "{printed}");
}

#[test]
fn closing_the_terminal_detaches_and_everything_keeps_running() {
    let env = Env::new();
    let tui = env.tui(&[], 80, 24);
    tui.wait_prompt();
    tui.keys("echo still-here\r");
    tui.wait_text("still-here");
    let pid = env.panes()[0]["pid"].as_i64().expect("pid");
    tui.close_terminal();
    let ls = env.wait_ls("no client attached", |v| v["sessions"][0]["clients"] == 0);
    assert_eq!(ls["sessions"][0]["tabs"][0]["panes"][0]["state"], "running");
    assert!(alive(pid), "the shell outlives the terminal");
    let again = env.tui(&[], 80, 24);
    again.wait_text("still-here");
}

#[test]
fn detached_and_named_sessions() {
    let env = Env::new();
    let out = env.run(&["-d", "-s", "builds", "--", "sh", "-c", "echo built-in-the-background; exec sleep 1000"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "started session builds; attach with `teamster attach -t builds`"
    );
    let ls = env.ls_json();
    assert_eq!(ls["sessions"][0]["name"], "builds");
    assert_eq!(ls["sessions"][0]["clients"], 0);
    // `-s NAME` attaches to the session of that name when there is one.
    let tui = env.tui(&["-s", "builds"], 80, 24);
    tui.wait_text("built-in-the-background");
    // A name that is taken cannot be used for a new session.
    let out = env.run(&["-d", "-s", "builds"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("a session named `builds` already exists"));
    // Attaching to a session that does not exist says which do.
    let (_, printed) = env.tui(&["attach", "-t", "nope"], 80, 24).wait_exit();
    assert!(printed.contains("no session named `nope`; the sessions are: builds"), "{printed}");
}

#[test]
fn state_on_disk_is_private_and_keeps_no_credential() {
    use std::os::unix::fs::PermissionsExt;
    let env = Env::new();
    // A session started from a shell that holds a token: the pane gets it, the disk not.
    let out = env
        .cmd(&["-d", "-s", "keys", "--", "sh", "-c", "echo token=$GITHUB_TOKEN; exec cat"])
        .env("GITHUB_TOKEN", "ghp_not_on_disk_1234")
        .output()
        .expect("teamster");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let state = env.dir.join("state/teamster");
    env.wait_ls("the session kept on disk", |_| state.join("sessions.json").exists());
    let saved = std::fs::read_to_string(state.join("sessions.json")).expect("sessions.json");
    assert!(saved.contains("GITHUB_TOKEN") && !saved.contains("ghp_not_on_disk_1234"), "{saved}");
    let mode = |p: &std::path::Path| std::fs::metadata(p).map(|m| m.permissions().mode() & 0o777).unwrap_or(0);
    assert_eq!(mode(&state), 0o700, "the state directory");
    for file in ["teamster.db", "runner.log", "sessions.json"] {
        assert_eq!(mode(&state.join(file)), 0o600, "{file}");
    }
    // Restarted by a teamster whose environment holds the token, the pane has it again.
    let out = env.cmd(&["restart"]).env("GITHUB_TOKEN", "ghp_not_on_disk_1234").output().expect("restart");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    env.wait_ls("the session back", |_| {
        std::fs::read_to_string(state.join("runner.log")).is_ok_and(|l| l.contains("session keys restored"))
    });
    let tui = env.tui(&["attach", "-t", "keys"], 100, 20);
    // The command asks before it runs again; run, it has the token.
    tui.wait_text("Enter runs it again");
    tui.keys("\r");
    tui.wait_text("token=ghp_not_on_disk_1234");
    let saved = std::fs::read_to_string(state.join("sessions.json")).expect("sessions.json");
    assert!(!saved.contains("ghp_not_on_disk_1234"), "{saved}");
}

#[test]
fn a_theme_name_that_is_no_theme_falls_back_and_says_so() {
    let env = Env::new();
    env.write_config("theme = \"darkk\"\n");
    // `new` and `attach` still work.
    env.ok(&["-d", "-s", "typo", "--", "sh"]);
    let tui = env.tui(&["attach", "-t", "typo"], 120, 20);
    tui.wait_text("using the dark theme");
    let doctor = String::from_utf8_lossy(&env.run(&["doctor"]).stdout).into_owned();
    assert!(doctor.contains("darkk") && doctor.contains("using the dark theme"), "{doctor}");
}

#[test]
fn a_new_split_opens_where_the_focused_shell_is() {
    let env = Env::new();
    std::fs::create_dir_all(env.dir.join("work/deeper")).expect("dir");
    let tui = env.tui(&[], 120, 24);
    tui.wait_prompt();
    // (Its output, not the typed line, says the cd is done.)
    tui.type_line("cd deeper && echo IN-$((40+2))");
    tui.wait_text("IN-42");
    tui.prefix("\\");
    tui.wait_for("a second pane", |s| s.contents().contains(" 2 "));
    tui.type_line("echo AT-$PWD-$((1+1))");
    tui.wait_text(&format!("AT-{}-2", env.dir.join("work/deeper").display()));
}

#[test]
fn many_panes_opened_one_after_another_all_stay_usable() {
    let env = Env::new();
    let tui = env.tui(&[], 200, 50);
    tui.wait_prompt();
    for _ in 0..7 {
        env.ok(&["new", "--", "sleep", "1000"]);
    }
    env.wait_ls("eight panes", |_| env.panes().len() == 8);
    let panes = env.panes();
    // Halving the focused pane each time left the eighth about 6x6; tiled, none is small.
    for p in &panes {
        let (cols, rows) = (p["cols"].as_u64().unwrap_or(0), p["rows"].as_u64().unwrap_or(0));
        assert!(cols >= 38 && rows >= 8, "a pane of {cols}x{rows}: {panes:#?}");
    }
    // An explicit direction is still a split of the pane, as asked: the new pane takes
    // half of the focused one, the grid stays as it was.
    let out = env.run(&["new", "--right", "--json", "--", "sleep", "1000"]);
    assert!(out.status.success(), "{out:?}");
    let made: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let split = env.panes().into_iter().find(|p| p["id"] == made["pane"]).expect("the new pane");
    let widest = panes.iter().filter_map(|p| p["cols"].as_u64()).max().unwrap_or(0);
    assert!(split["cols"].as_u64().is_some_and(|c| c * 2 <= widest + 1), "not half a pane: {split}");
    // The seven panes not split keep their width.
    assert_eq!(env.panes().iter().filter(|p| p["cols"].as_u64() == Some(widest)).count(), 7);
    drop(tui);
}

/// A runner that crashed a moment ago may still take a connection on its socket and drop
/// it: the next `teamster` waits it out and starts a new runner, instead of failing with
/// "connection reset".
#[test]
fn a_runner_going_away_is_waited_out_and_a_new_one_started() {
    use std::os::unix::fs::PermissionsExt;
    let env = Env::new();
    let dir = env.dir.join("run/teamster");
    std::fs::create_dir_all(&dir).expect("runtime dir");
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).expect("0700");
    let socket = dir.join("runner.sock");
    let dying = std::os::unix::net::UnixListener::bind(&socket).expect("the dying runner's socket");
    let gone = socket.clone();
    let drops = std::thread::spawn(move || {
        // It takes three connections and drops each unread (a reset, as a killed process
        // gives), then it is gone.
        for _ in 0..3 {
            if let Ok((conn, _)) = dying.accept() {
                let _ = conn.shutdown(std::net::Shutdown::Write);
                drop(conn);
            }
        }
        let _ = std::fs::remove_file(&gone);
    });
    env.ok(&["-d", "-s", "after"]);
    let _ = drops.join();
    assert!(env.ok(&["ls"]).contains("after"), "{}", env.ok(&["ls"]));
}
