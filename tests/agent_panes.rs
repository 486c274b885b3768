//! Agent panes without the real CLIs: a plain command as an agent (state read off its
//! screen), a stand-in that reports through `teamster hook` as Claude Code's hooks do
//! (state, held tool calls, notifications), git worktrees, and a runner that comes back
//! after a restart or a crash with everything the user set up.

mod support;

use serde_json::Value;
use std::path::Path;
use support::fake::{fake_claude, write_script};
use support::{Env, git};

fn pane_named(env: &Env, name: &str) -> Option<Value> {
    env.panes().into_iter().find(|p| p["name"] == name)
}

fn wait_status(env: &Env, name: &str, status: &str) -> Value {
    env.wait_ls(&format!("{name} to be {status}"), |_| pane_named(env, name).is_some_and(|p| p["status"] == status));
    pane_named(env, name).expect("the pane")
}

fn pending(env: &Env) -> Vec<Value> {
    let v: Value = serde_json::from_str(&env.ok(&["approvals", "--json"])).expect("approvals JSON");
    v["pending"].as_array().cloned().unwrap_or_default()
}

#[test]
fn hooks_drive_the_state_and_a_held_call_waits_for_a_verdict() {
    let env = Env::new();
    env.write_config(&format!("hold_tool_calls = true\nnotify = \"osc9\"\n{}", fake_claude(&env)));
    let tui = env.tui(&[], 100, 30);
    tui.wait_prompt();
    env.ok(&["new", "fake", "--right"]);
    tui.wait_text("fake>");
    // Started, then up: its SessionStart hook says so.
    let pane = wait_status(&env, "fake", "idle");
    assert_eq!(pane["agent"]["kind"], "claude");
    assert!(tui.contents().contains("[idle]"), "the title shows the state:\n{}", tui.contents());

    tui.say("hello");
    tui.wait_text("you said: hello");
    let pane = wait_status(&env, "fake", "waiting for input");
    assert_eq!(pane["agent"]["conversation"].as_str().map(|c| c.starts_with("s-")), Some(true));

    // A tool call waits in the queue; nothing runs until the verdict.
    let target = env.dir.join("work/made-by-agent");
    tui.say("run touch made-by-agent");
    wait_status(&env, "fake", "needs approval");
    tui.wait_text("[needs approval]");
    let calls = pending(&env);
    assert_eq!(calls.len(), 1, "{calls:?}");
    assert_eq!(calls[0]["tool"], "Bash");
    assert_eq!(calls[0]["what"], "touch made-by-agent");
    assert_eq!(calls[0]["agent"], "fake");
    assert!(!target.exists());
    let text = env.ok(&["approvals"]);
    assert!(text.contains("touch made-by-agent"), "{text}");

    // Denied: the agent is told why, and nothing ran.
    let id = calls[0]["id"].to_string();
    env.ok(&["deny", &id, "--reason", "not in this repo"]);
    tui.wait_text("denied:");
    tui.wait_text("not in this repo");
    assert!(!target.exists());
    assert!(pending(&env).is_empty());
    let err = env.run(&["approve", &id]);
    assert!(!err.status.success());
    assert!(String::from_utf8_lossy(&err.stderr).contains("nothing is waiting"), "{err:?}");

    // Approved, it runs. This time the user looks at the other pane meanwhile, and is told
    // when the agent waits for them again.
    tui.say("run touch made-by-agent");
    wait_status(&env, "fake", "needs approval");
    tui.prefix("h");
    env.wait_ls("the shell focused", |v| {
        v["sessions"][0]["tabs"][0]["panes"].as_array().is_some_and(|p| p[0]["focused"] == true)
    });
    let id = pending(&env)[0]["id"].to_string();
    env.ok(&["approve", &id]);
    wait_status(&env, "fake", "waiting for input");
    assert!(target.exists(), "the approved call ran");
    tui.wait_raw("a desktop notification (OSC 9)", |raw| {
        String::from_utf8_lossy(raw).contains("\x1b]9;teamster: fake in pane 2 is waiting for input")
    });
    tui.wait_text("●");
}

#[test]
fn a_command_agent_is_working_while_it_prints_and_idle_when_quiet() {
    let env = Env::new();
    let script = env.dir.join("ticker");
    write_script(
        &script,
        "#!/bin/bash\nread -r -p 'go? ' x\nfor i in $(seq 1 20); do echo tick $i; sleep 0.05; done\nread -r -p 'done? ' y\n",
    );
    env.write_config(&format!("[agents.ticker]\ncommand = \"{}\"\n", script.display()));
    let tui = env.tui(&[], 100, 30);
    tui.wait_prompt();
    env.ok(&["new", "ticker", "--tab"]);
    tui.wait_text("go?");
    let pane = wait_status(&env, "ticker", "idle");
    assert_eq!(pane["agent"]["kind"], "command");
    tui.keys("\r");
    wait_status(&env, "ticker", "working");
    tui.wait_text("done?");
    wait_status(&env, "ticker", "idle");
    let text = env.ok(&["ls"]);
    assert!(text.contains("ticker") && text.contains("idle"), "{text}");
}

#[test]
fn after_a_restart_or_a_crash_every_pane_comes_back() {
    let env = Env::new();
    let script = env.dir.join("ticker");
    write_script(&script, "#!/bin/bash\necho started $$\nread -r x\n");
    env.write_config(&format!("{}[agents.ticker]\ncommand = \"{}\"\n", fake_claude(&env), script.display()));
    let tui = env.tui(&[], 100, 30);
    tui.wait_prompt();
    env.ok(&["new", "fake", "--right"]);
    tui.wait_text("fake>");
    tui.say("remember me");
    tui.wait_text("you said: remember me");
    let conversation = wait_status(&env, "fake", "waiting for input")["agent"]["conversation"].clone();
    env.ok(&["new", "ticker", "--down"]);
    tui.wait_text("started");
    let shape = |env: &Env| {
        let v = env.ls_json();
        let tabs = v["sessions"][0]["tabs"].as_array().cloned().unwrap_or_default();
        let panes: Vec<(Value, Value, Value, Value)> = tabs[0]["panes"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|p| (p["number"].clone(), p["name"].clone(), p["cols"].clone(), p["rows"].clone()))
            .collect();
        (v["sessions"][0]["name"].clone(), panes)
    };
    let before = shape(&env);
    let pids: Vec<Value> = env.panes().iter().map(|p| p["pid"].clone()).collect();

    // A crash, right after the last change: the client starts a new runner, which brings
    // the session back as it was.
    let runner = env.runner_pid().expect("the runner");
    // SAFETY: the runner this test started.
    unsafe { libc::kill(runner, libc::SIGKILL) };
    tui.wait_for("the client to reconnect to a new runner", |_| env.runner_pid().is_some_and(|p| p != runner));
    tui.wait_text(&format!("resumed {}", conversation.as_str().expect("conversation")));
    env.wait_ls("every pane running again", |_| {
        let panes = env.panes();
        panes.len() == 3 && panes.iter().all(|p| p["status"] != "exited" && !pids.contains(&p["pid"]))
    });
    assert_eq!(shape(&env), before, "the layout, names and sizes are as they were");
    assert_eq!(pane_named(&env, "fake").expect("fake")["agent"]["conversation"], conversation);

    // A planned restart: the same, and `teamster restart` says so.
    let pids: Vec<Value> = env.panes().iter().map(|p| p["pid"].clone()).collect();
    let said = env.ok(&["restart"]);
    assert!(said.contains("1 session back"), "{said}");
    tui.wait_text("reconnected");
    env.wait_ls("every pane running again", |_| {
        let panes = env.panes();
        panes.len() == 3 && panes.iter().all(|p| p["status"] != "exited" && !pids.contains(&p["pid"]))
    });
    assert_eq!(shape(&env), before);
    assert_eq!(pane_named(&env, "fake").expect("fake")["agent"]["conversation"], conversation);
    tui.wait_text("fake>");

    // Ending the session for good leaves nothing to come back.
    env.ok(&["kill", "--all"]);
    let saved = std::fs::read_to_string(env.dir.join("state/teamster/sessions.json")).expect("sessions.json");
    let saved: Value = serde_json::from_str(&saved).expect("JSON");
    assert_eq!(saved["sessions"], serde_json::json!([]), "{saved}");
}

#[test]
fn a_worktree_per_agent_shown_in_its_title_and_removed_only_when_clean() {
    let env = Env::new();
    let repo = env.dir.join("work");
    support::repo(&repo);
    // An untracked file the worktree needs, and a setup command: both done before the
    // agent starts, which says what it found.
    std::fs::write(repo.join(".env"), "KEY=from-the-main-checkout\n").expect(".env");
    let script = env.dir.join("where");
    write_script(
        &script,
        "#!/bin/bash\necho \"in $PWD\"\n[ -f set-up.txt ] && echo \"found $(cat set-up.txt)\"\ncat .env\nexec bash --noprofile --norc -i\n",
    );
    env.write_config(&format!(
        "[agents.where]\ncommand = \"{}\"\n[worktree]\ncopy = [\".env\"]\nsetup = [\"echo the-setup-ran > set-up.txt\"]\n",
        script.display()
    ));
    let tui = env.tui(&[], 120, 30);
    tui.wait_prompt();

    env.ok(&["new", "where", "--worktree", "--tab"]);
    env.wait_ls("the worktree pane", |_| pane_named(&env, "where").is_some());
    let pane = pane_named(&env, "where").expect("pane");
    assert_eq!(pane["branch"], "teamster/where-1");
    tui.wait_text("⎇ teamster/where-1");
    let listed = git(&repo, &["worktree", "list", "--porcelain"]);
    let path = listed
        .lines()
        .filter_map(|l| l.strip_prefix("worktree "))
        .find(|p| p.contains("where-1"))
        .expect("a worktree for the agent")
        .to_string();
    // Beside the repository, one directory per branch (as other tools put them).
    assert_eq!(Path::new(&path), env.dir.join("work.worktrees/teamster-where-1"), "beside the repository");
    tui.wait_text(&format!("in {path}"));
    tui.wait_text("teamster: setting up the worktree: echo the-setup-ran > set-up.txt");
    tui.wait_text("found the-setup-ran");
    tui.wait_text("KEY=from-the-main-checkout");
    assert_eq!(git(Path::new(&path), &["branch", "--show-current"]), "teamster/where-1");

    // Closing asks; with uncommitted work, removing is refused and the pane stays.
    std::fs::write(Path::new(&path).join("notes.txt"), "work in progress").expect("write");
    tui.prefix("x");
    tui.wait_text("enter keeps it, delete removes it");
    tui.keys("\x1b[3~");
    tui.wait_text("uncommitted changes in the worktree of teamster/where-1: commit them, then delete to try again");
    assert!(pane_named(&env, "where").is_some() && Path::new(&path).exists());

    // Committed, it goes; the branch (and its commit) stays.
    git(Path::new(&path), &["add", "."]);
    git(Path::new(&path), &["commit", "-q", "-m", "notes"]);
    tui.keys("\x1b[3~");
    env.wait_ls("the pane closed", |_| pane_named(&env, "where").is_none());
    let deadline = std::time::Instant::now() + support::DEADLINE;
    while Path::new(&path).exists() {
        assert!(std::time::Instant::now() < deadline, "the worktree was not removed");
        // git runs in the runner's background; its result has no event to wait on here.
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert_eq!(git(&repo, &["log", "-1", "--format=%s", "teamster/where-1"]), "notes");

    // Named branch, kept on close.
    env.ok(&["new", "where", "--worktree", "feature-x", "--tab"]);
    tui.wait_text("⎇ feature-x");
    tui.prefix("x");
    tui.wait_text("enter keeps it, delete removes it");
    tui.keys("\r");
    env.wait_ls("the pane closed", |_| pane_named(&env, "where").is_none());
    assert!(git(&repo, &["worktree", "list"]).contains("feature-x"));
}

#[test]
fn doctor_live_says_when_an_agents_integration_does_not_work() {
    let env = Env::new();
    // Says it is Claude Code, and answers nothing: no request, no hook.
    let fake = env.dir.join("claude-that-does-nothing");
    write_script(&fake, "#!/bin/sh\n[ \"$1\" = --version ] && echo '9.9.9 (Claude Code)'\nexit 0\n");
    env.write_config(&format!("[agents.mute]\nkind = \"claude\"\ncommand = \"{}\"\n", fake.display()));
    let out = env.run(&["doctor", "--live"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "{text}");
    let line = text.lines().find(|l| l.contains("agent mute")).unwrap_or_default();
    assert!(line.starts_with("FAIL") && line.contains("9.9.9 (Claude Code)"), "{text}");
    assert!(line.contains("live check failed: the agent never reached the local provider"), "{text}");
}

#[test]
fn the_hook_helper_fails_closed() {
    use std::io::Write;
    let env = Env::new();
    let call = r#"{"session_id":"s","tool_name":"Bash","tool_input":{"command":"rm -rf /"},"tool_use_id":"t"}"#;
    let hook = |args: &[&str]| {
        let mut child = env
            .cmd(args)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("teamster hook");
        child.stdin.take().expect("stdin").write_all(call.as_bytes()).expect("payload");
        let out = child.wait_with_output().expect("hook output");
        let verdict: Value = serde_json::from_slice(&out.stdout).expect("JSON for Claude Code");
        (verdict, String::from_utf8_lossy(&out.stderr).into_owned())
    };
    // Outside a teamster pane: no runner to ask, so the call does not go ahead.
    let (verdict, why) = hook(&["hook", "claude", "PreToolUse"]);
    assert_eq!(verdict["hookSpecificOutput"]["permissionDecision"], "deny");
    assert!(why.contains("not running in a teamster pane"), "{why}");

    // A runner, but no pane has that socket (a token, forged or not, names nothing: which
    // pane speaks is the socket it speaks on).
    let tui = env.tui(&[], 80, 24);
    tui.wait_prompt();
    let socket = env.dir.join("run/teamster/hooks/99.sock");
    let (verdict, why) =
        hook(&["hook", "claude", "PreToolUse", "--socket", &socket.to_string_lossy(), "--token", "forged"]);
    assert_eq!(verdict["hookSpecificOutput"]["permissionDecision"], "deny");
    assert!(why.contains("cannot be reached"), "{why}");
}

#[test]
fn an_exited_agent_starts_again_in_its_pane_resuming_its_conversation() {
    let env = Env::new();
    env.write_config(&support::fake::fake_claude(&env));
    let tui = env.tui(&[], 120, 30);
    tui.wait_prompt();
    env.ok(&["new", "fake", "--right"]);
    tui.wait_text("fake>");
    let agent = || pane_named(&env, "fake").expect("the agent");
    tui.say("hello");
    let conversation = wait_status(&env, "fake", "waiting for input")["agent"]["conversation"]
        .as_str()
        .expect("its conversation")
        .to_string();
    // It ends (EOF on its prompt); Enter in its pane starts it again, in that conversation.
    tui.send(b"\x04");
    env.wait_ls("the agent exited", |_| agent()["state"] == "exited");
    // Once the terminal shows it (an Enter before would go to the program, not start it).
    tui.wait_for("the pane shown as exited", |s| s.contents().contains("[exited"));
    tui.keys("\r");
    tui.wait_text(&format!("resumed {conversation}"));
    env.wait_ls("running again", |_| agent()["state"] == "running");
}
