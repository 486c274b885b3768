//! Driving panes from a script, as a user's CI does: `teamster capture` prints a pane's
//! screen and scrollback (plain, with styles, the last lines, JSON) or its agent's last
//! answer, `teamster wait` blocks until an agent reaches a state, `send` and `pipe` hand
//! one agent's answer to another, and a pane is named by its id, its place or its name.

mod support;

use std::process::{Command, Stdio};
use support::fake::fake_claude;
use support::mock_llm::MockLlm;
use support::{Env, git};

#[test]
fn capture_prints_what_a_pane_shows_and_wait_follows_an_agent() {
    let env = Env::new();
    env.write_config(&fake_claude(&env));
    // A pane that prints 30 lines, the last one red, then waits.
    env.ok(&[
        "-d",
        "-s",
        "drive",
        "--",
        "bash",
        "--norc",
        "-c",
        "for i in $(seq 1 30); do echo line-$i; done; printf '\\033[31mred-end\\033[0m\\n'; exec sleep 1000",
    ]);
    env.wait_ls("the lines printed", |_| env.run(&["capture", "drive:1.1"]).stdout.windows(7).any(|w| w == b"red-end"));
    let all = env.ok(&["capture", "drive:1.1"]);
    assert!(all.starts_with("line-1\nline-2\n") && all.trim_end().ends_with("line-30\nred-end"), "{all}");
    // The last lines only, by the pane's id as `ls --json` gives it.
    let id = env.panes()[0]["id"].to_string();
    assert_eq!(env.ok(&["capture", &id, "--lines", "2"]), "line-30\nred-end\n");
    // With styles: red as SGR, reset at the end of the line.
    let ansi = env.ok(&["capture", &id, "-n", "1", "--ansi"]);
    assert!(ansi.contains("\x1b[0;31mred-end") && ansi.trim_end().ends_with("\x1b[0m"), "{ansi:?}");
    let json: serde_json::Value =
        serde_json::from_str(&env.ok(&["capture", "drive:1.1", "--json", "-n", "3"])).expect("JSON");
    assert_eq!(json["session"], "drive");
    assert_eq!(json["pane"].to_string(), id);
    assert_eq!(json["lines"], serde_json::json!(["line-29", "line-30", "red-end"]));
    // Its cells, in runs that share a style: red is palette colour 1.
    let red = &json["rows"][2];
    assert_eq!(red["text"], "red-end", "{red}");
    assert_eq!(
        red["runs"][0],
        serde_json::json!({ "text": "red-end", "cells": 7, "fg": 1, "bg": null, "attrs": [], "wide": false })
    );
    // A name that is not there says what is.
    let out = env.run(&["capture", "nowhere:1.1"]);
    assert!(!out.status.success() && String::from_utf8_lossy(&out.stderr).contains("there are: drive"), "{out:?}");
    let out = env.run(&["capture", "drive:1.9"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("no pane 9 in tab 1 of session drive; it has 1"), "{out:?}");

    // An agent: wait until it is up and waiting, with a timeout that is not reached.
    env.ok(&["new", "fake", "-t", "drive"]);
    let agent =
        env.panes().iter().find(|p| p["agent"]["kind"] == "claude").map(|p| p["id"].to_string()).expect("agent");
    let waited = env.run(&["wait", &agent, "--for", "idle", "--timeout", "30"]);
    assert!(waited.status.success(), "{waited:?}");
    // A state it does not reach: the timeout, exit 1, and what it is instead.
    let waited = env.run(&["wait", &agent, "--for", "needs-approval", "--timeout", "0.3"]);
    assert_eq!(waited.status.code(), Some(1), "{waited:?}");
    assert!(String::from_utf8_lossy(&waited.stderr).contains("is still idle"), "{waited:?}");
    let waited = env.run(&["wait", &agent, "--for", "needs-approval", "--timeout", "0.1", "--json"]);
    let json: serde_json::Value = serde_json::from_slice(&waited.stdout).expect("wait --json");
    assert_eq!(
        (json["pane"].to_string(), json["status"].as_str(), json["reached"].as_bool()),
        (agent.clone(), Some("idle"), Some(false))
    );
    // A pane without an agent has only `exited` to wait for.
    let waited = env.run(&["wait", &id, "--for", "idle"]);
    assert_eq!(waited.status.code(), Some(2), "{waited:?}");
    // A program that ends has exited, for a script waiting for that (the pane stays, so
    // it makes no difference whether it ends before the wait looks or after).
    let waiting = env.cmd(&["wait", &id, "--for", "exited", "--timeout", "30"]).spawn().expect("wait");
    let pid = env.panes()[0]["pid"].as_i64().expect("the first pane's program") as i32;
    // SAFETY: ends the `sleep` this test started in its pane.
    unsafe { libc::kill(pid, libc::SIGTERM) };
    let waited = waiting.wait_with_output().expect("wait");
    assert!(waited.status.success(), "{waited:?}");
}

#[test]
fn send_types_a_prompt_once_the_agent_can_take_it_and_never_into_its_dialog() {
    use std::io::Write;
    let env = Env::new();
    env.write_config(&format!("{}\n{}", support::fake::ASK_BEFORE_PUSH, fake_claude(&env)));
    env.ok(&["-d", "-s", "send", "--", "bash", "--norc"]);
    env.ok(&["new", "fake", "-t", "send"]);
    let agent =
        env.panes().iter().find(|p| p["agent"]["kind"] == "claude").map(|p| p["id"].to_string()).expect("agent");
    assert!(env.run(&["wait", &agent, "--for", "idle", "--timeout", "30"]).status.success());
    let shows = |text: &str| env.ok(&["capture", &agent]).contains(text);

    // Sent, it returns once the agent took it (its prompt hook ran).
    let out = env.ok(&["send", &agent, "hello there"]);
    assert!(out.contains("took the prompt"), "{out}");
    env.wait_ls("the agent's answer", |_| shows("you said: hello there"));
    // Typed without Enter, then Enter as a named key; and a prompt from stdin.
    assert!(env.run(&["wait", &agent, "--for", "waiting", "--timeout", "30"]).status.success());
    env.ok(&["send", &agent, "in two", "--no-enter"]);
    env.ok(&["send", &agent, "--keys", "Enter", "--no-enter"]);
    env.wait_ls("the two-step prompt", |_| shows("you said: in two"));
    assert!(env.run(&["wait", &agent, "--for", "waiting", "--timeout", "30"]).status.success());
    let mut child = env.cmd(&["send", &agent, "-"]).stdin(std::process::Stdio::piped()).spawn().expect("send");
    child.stdin.take().expect("stdin").write_all(b"from stdin\n").expect("write");
    assert!(child.wait().expect("send").success());
    env.wait_ls("the prompt from stdin", |_| shows("you said: from stdin"));

    // Its own question (a held push): nothing is typed, exit 3, and the reason.
    assert!(env.run(&["wait", &agent, "--for", "waiting", "--timeout", "30"]).status.success());
    env.ok(&["send", &agent, "run git push"]);
    assert!(env.run(&["wait", &agent, "--for", "needs-approval", "--timeout", "30"]).status.success());
    let out = env.run(&["send", &agent, "y"]);
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("asking for a decision; nothing was typed"), "{out:?}");
    let json: serde_json::Value =
        serde_json::from_slice(&env.run(&["send", &agent, "y", "--json"]).stdout).expect("JSON");
    assert_eq!((json["sent"].as_bool(), json["why"].as_str()), (Some(false), Some("dialog")), "{json}");
    assert!(!env.ok(&["capture", &agent, "-n", "1"]).contains('y'), "a y was typed into the dialog");
    // Decided by a script, in JSON.
    let pending: serde_json::Value = serde_json::from_str(&env.ok(&["approvals", "--json"])).expect("JSON");
    let held = pending["pending"][0]["id"].to_string();
    let denied: serde_json::Value =
        serde_json::from_str(&env.ok(&["deny", &held, "--reason", "not now", "--json"])).expect("JSON");
    assert_eq!(denied["id"].to_string(), held);
    assert_eq!(denied["decision"], serde_json::json!({ "decision": "deny", "reason": "not now", "whose": "person" }));
    // The audit names the pane as every command does. (The runner writes it on its store's
    // thread, after the answer: a busy machine may take a moment.)
    let named = || {
        env.audit()
            .iter()
            .any(|d| d["place"] == "send:1.2" && d["what"].as_str().is_some_and(|w| w.contains("git push")))
    };
    env.wait_ls("the decision in the audit log", |_| named());
    assert!(named());
    assert!(env.ok(&["audit"]).contains("send:1.2"));
    // A key that is not one is an error that names it.
    let out = env.run(&["send", &agent, "--keys", "Hyper-Q"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("`Hyper-Q` is not a key"), "{out:?}");
}

#[test]
fn new_names_the_pane_and_gives_the_agent_its_first_prompt() {
    let env = Env::new();
    env.write_config(&fake_claude(&env));
    env.ok(&["-d", "-s", "named", "--", "bash", "--norc"]);
    let out = env.ok(&["new", "fake", "-t", "named", "--name", "reviewer", "--prompt", "first words", "--json"]);
    let made: serde_json::Value = serde_json::from_str(&out).expect("JSON");
    assert_eq!(made["session"], "named");
    let place = made["place"].as_str().expect("place").to_string();
    assert!(place.starts_with("named:1."), "{made}");
    // The prompt was taken before `new` returned; the pane answers to its name, its place
    // and its id alike.
    // (Its next prompt printed too: the screen does not change between the captures.)
    env.wait_ls("the first prompt's answer", |_| {
        env.ok(&["capture", "reviewer"]).contains("you said: first words\nfake>")
    });
    let id = made["pane"].to_string();
    for name in [place.as_str(), id.as_str()] {
        assert_eq!(env.ok(&["capture", name, "-n", "3"]), env.ok(&["capture", "reviewer", "-n", "3"]), "{name}");
    }
    let pane = env.panes().into_iter().find(|p| p["id"] == made["pane"]).expect("the pane");
    assert_eq!(pane["name"], "reviewer");
    // A prompt for something that is not an agent is refused before anything opens.
    let out = env.run(&["new", "--prompt", "hi", "--", "bash"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("--prompt is for an agent"), "{out:?}");
    assert_eq!(env.panes().len(), 2);
}

#[test]
fn every_command_a_script_uses_speaks_json() {
    let env = Env::new();
    let parse = |args: &[&str]| -> serde_json::Value {
        let out = env.run(args);
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{args:?}: {e}: {out:?}"))
    };
    let doctor = parse(&["doctor", "--json"]);
    assert!(
        doctor["checks"].as_array().is_some_and(|c| c.iter().all(|c| c["status"].is_string() && c["what"].is_string()))
    );
    assert!(doctor["failed"].is_u64() && doctor["warned"].is_u64(), "{doctor}");
    let keys = parse(&["keys", "--json"]);
    assert!(keys["keymap"].is_string() && keys["modes"]["normal"].as_object().is_some_and(|m| !m.is_empty()), "{keys}");
    let actions = parse(&["keys", "--actions", "--json"]);
    assert!(actions["actions"].as_array().is_some_and(|a| a.iter().any(|x| x == "split-right")), "{actions}");
    // Policies as data: what they act on, their conditions, verdict and reason.
    env.write_config(support::fake::ASK_BEFORE_PUSH);
    let rules = parse(&["rules", "--json"]);
    assert_eq!(
        rules["policies"][0],
        serde_json::json!({
            "name": "pushes need a look", "on": "tool_call",
            "when": { "tool": ["shell"], "command": "\\bgit\\s+push\\b" },
            "verdict": "ask", "reason": "pushing leaves the machine",
            "set_mark": [], "clear_mark": [], "on_approve": null,
            "summary": rules["policies"][0]["summary"],
        })
    );
    assert!(rules["policies"][0]["summary"].as_str().is_some_and(|s| s.contains("pushes need a look")), "{rules}");
    env.ok(&["-d", "-s", "gone", "--", "sleep", "1000"]);
    let killed = parse(&["kill", "-t", "gone", "--json"]);
    assert!(killed["message"].as_str().is_some_and(|m| m.contains("gone")), "{killed}");
}

/// Two stand-in agents whose model calls (`ask MODEL`) go to `mock`, named `writer` and
/// `reader` in session `pair`, both up and idle.
fn two_agents(env: &Env, mock: &MockLlm) {
    env.write_config(&format!("{}\n[agents.fake.env]\nANTHROPIC_BASE_URL = \"{}\"\n", fake_claude(env), mock.url()));
    env.ok(&["-d", "-s", "pair", "--", "bash", "--norc"]);
    for name in ["writer", "reader"] {
        env.ok(&["new", "fake", "-t", "pair", "--name", name]);
        assert!(env.run(&["wait", name, "--for", "idle", "--timeout", "30"]).status.success());
    }
}

#[test]
fn an_agents_last_answer_is_read_off_the_wire_and_handed_to_another() {
    let env = Env::new();
    let mock = MockLlm::start("true");
    two_agents(&env, &mock);
    let out = env.run(&["capture", "writer", "--last-reply"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("has not answered yet"), "{out:?}");
    let out = env.run(&["capture", "pair:1.1", "--last-reply"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("runs no agent"), "{out:?}");

    // The writer's model answers a turn: that text is its last reply (the stand-in prints
    // the raw HTTP; what teamster keeps is the model's words).
    env.ok(&["send", "writer", "ask claude-x"]);
    env.wait_ls("the writer's answer", |_| env.run(&["capture", "writer", "--last-reply"]).status.success());
    let answer = env.ok(&["capture", "writer", "--last-reply"]);
    assert!(answer.starts_with("mock reply to"), "{answer}");
    let json: serde_json::Value =
        serde_json::from_str(&env.ok(&["capture", "writer", "--last-reply", "--json"])).expect("JSON");
    assert_eq!(json["reply"].as_str(), Some(answer.trim_end()));
    assert_eq!(json["session"], "pair");

    // Handed to the reader, after a line of the sender's.
    assert!(env.run(&["wait", "reader", "--for", "idle", "--timeout", "30"]).status.success());
    let out = env.ok(&["send", "reader", "--from", "writer:last-reply", "look at this"]);
    assert!(out.contains("took the prompt"), "{out}");
    // Rows as the narrow pane wrapped them, joined.
    let reader_shows = |text: &str| env.ok(&["capture", "reader"]).replace('\n', "").matches(text).count();
    env.wait_ls("the answer at the reader", |_| reader_shows("you said: mock reply to") == 1);
    assert_eq!(reader_shows("you said: look"), 1);

    // Piped: the writer's next answer goes to the reader by itself, once.
    let mut pipe = env
        .cmd(&["pipe", "writer", "reader", "--count", "1"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("pipe");
    let mut said = std::io::BufReader::new(pipe.stderr.take().expect("stderr"));
    let mut line = String::new();
    std::io::BufRead::read_line(&mut said, &mut line).expect("the pipe starts");
    assert!(line.contains("piping each answer of pane"), "{line}");
    assert!(env.run(&["wait", "writer", "--for", "waiting", "--timeout", "30"]).status.success());
    env.ok(&["send", "writer", "ask claude-y"]);
    let piped = pipe.wait_with_output().expect("pipe");
    assert!(piped.status.success() && String::from_utf8_lossy(&piped.stdout).contains("piped 1 answers"), "{piped:?}");
    env.wait_ls("the piped answer at the reader", |_| reader_shows("you said: mock reply to") == 2);
}

#[test]
fn send_all_types_into_every_agent_and_says_what_each_did() {
    let env = Env::new();
    let mock = MockLlm::start("true");
    two_agents(&env, &mock);
    let out: serde_json::Value =
        serde_json::from_str(&env.ok(&["send", "--all", "-t", "pair", "everyone, stop", "--json"])).expect("JSON");
    let results = out["results"].as_array().expect("results");
    assert_eq!(results.len(), 2, "{out}");
    assert!(results.iter().all(|r| r["sent"] == true && r["place"].as_str().is_some_and(|p| p.starts_with("pair:1."))));
    for name in ["writer", "reader"] {
        env.wait_ls("the prompt in each", |_| env.ok(&["capture", name]).contains("you said: everyone, stop"));
    }
    // Text is text: a control character in a prompt is shown, never pressed.
    assert!(env.run(&["wait", "writer", "--for", "waiting", "--timeout", "30"]).status.success());
    env.ok(&["send", "writer", "one\u{3}two"]);
    env.wait_ls("the prompt with a control", |_| env.ok(&["capture", "writer"]).contains("you said: one^Ctwo"));
    // A session that is not there says which are.
    let out = env.run(&["send", "--tab", "-t", "nowhere", "hi"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("pair"), "{out:?}");
}

/// The same from the TUI, through a real terminal: broadcast typing for a tab, the switcher
/// to another session, and a copy-mode selection handed to an agent.
#[test]
fn from_the_tui_typing_goes_to_a_whole_tab_the_switcher_goes_anywhere_and_text_is_handed_on() {
    let env = Env::new();
    env.write_config(&fake_claude(&env));
    let tui = env.tui(&["-s", "main"], 140, 30);
    tui.wait_prompt();
    env.ok(&["new", "fake", "--right"]);
    tui.wait_text("fake>");
    let shows = |pane: &str, text: &str| env.ok(&["capture", pane]).contains(text);

    // Broadcast: one line typed, both panes take it; the status bar says so until undone.
    tui.prefix("t");
    tui.keys("s");
    tui.wait_text("typing into all 2 panes");
    tui.type_line("echo both-panes");
    env.wait_ls("the line in the shell", |_| shows("main:1.1", "\nboth-panes"));
    env.wait_ls("the line at the agent", |_| shows("main:1.2", "you said: echo both-panes"));
    tui.prefix("t");
    tui.keys("s");
    tui.wait_text("typing goes to the focused pane again");
    tui.type_line("only-the-agent");
    env.wait_ls("the next line at the agent alone", |_| shows("main:1.2", "you said: only-the-agent"));
    assert!(!shows("main:1.1", "only-the-agent"));

    // Hand-off: a line of the shell's, selected in copy mode, goes to the agent.
    tui.prefix("h");
    tui.type_line("echo handoff-$((6*7))");
    env.wait_ls("the shell's output", |_| shows("main:1.1", "\nhandoff-42"));
    tui.prefix("[");
    tui.keys("kV");
    tui.alt("y");
    tui.wait_text("send the selection");
    tui.keys("fake");
    tui.keys("\r");
    tui.wait_text("its agent took it");
    env.wait_ls("the selection at the agent", |_| shows("main:1.2", "you said: handoff-42"));

    // The switcher: another session's pane, chosen by name; this terminal goes there.
    env.ok(&["-d", "-s", "elsewhere", "--", "bash", "--norc"]);
    tui.prefix("t");
    tui.keys("w");
    tui.wait_text("session elsewhere");
    tui.keys("elsewhere");
    tui.keys("\r");
    env.wait_ls("attached to the other session", |v| {
        v["sessions"].as_array().is_some_and(|s| {
            s.iter().any(|s| s["name"] == "elsewhere" && s["clients"] == 1)
                && s.iter().any(|s| s["name"] == "main" && s["clients"] == 0)
        })
    });
    tui.wait_for("the other session's name in the status bar", |s| {
        s.contents().lines().last().is_some_and(|l| l.starts_with(" elsewhere"))
    });
}

#[test]
fn a_panes_id_name_and_place_survive_a_restart() {
    let env = Env::new();
    env.ok(&["-d", "-s", "first", "--", "sleep", "1000"]);
    env.ok(&["-d", "-s", "kept", "--", "bash", "--norc"]);
    env.ok(&["new", "-t", "kept", "--name", "keeper", "--", "bash", "--norc"]);
    env.ok(&["kill", "-t", "first"]);
    let before: Vec<(String, String)> =
        env.panes().iter().map(|p| (p["id"].to_string(), p["name"].to_string())).collect();
    assert_eq!(before.len(), 2);
    assert!(before.iter().all(|(id, _)| id != "1"), "{before:?}");
    let restarted: serde_json::Value = serde_json::from_str(&env.ok(&["restart", "--json"])).expect("restart --json");
    assert_eq!(restarted["sessions"], 1, "{restarted}");
    wait_restored(&env, "kept");
    let after: Vec<(String, String)> =
        env.panes().iter().map(|p| (p["id"].to_string(), p["name"].to_string())).collect();
    assert_eq!(after, before);
    // Named every way, it is the same pane; a new one takes an id no pane had.
    let (id, _) = &after[1];
    env.ok(&["capture", id]);
    env.ok(&["capture", "keeper"]);
    env.ok(&["capture", "kept:1.2"]);
    let made: serde_json::Value =
        serde_json::from_str(&env.ok(&["new", "-t", "kept", "--json", "--", "bash", "--norc"])).expect("JSON");
    let new_id = made["pane"].to_string();
    assert!(after.iter().all(|(id, _)| *id != new_id), "{made}");
}

#[test]
fn new_from_outside_goes_to_the_session_on_screen_not_the_newest() {
    let env = Env::new();
    let tui = env.tui(&["-s", "onscreen"], 120, 30);
    tui.wait_prompt();
    // A session started later, with nobody attached.
    env.ok(&["-d", "-s", "newer", "--", "sleep", "1000"]);
    let made: serde_json::Value =
        serde_json::from_str(&env.ok(&["new", "--json", "--", "sleep", "1000"])).expect("JSON");
    assert_eq!(made["session"], "onscreen", "{made}");
}

#[test]
fn a_tabs_panes_are_arranged_by_name() {
    let env = Env::new();
    env.ok(&["-d", "-s", "lay", "--size", "120x40", "--", "sleep", "1000"]);
    env.ok(&["new", "-t", "lay", "--", "sleep", "1000"]);
    env.ok(&["new", "-t", "lay", "--", "sleep", "1000"]);
    let sizes = || -> Vec<(u64, u64)> {
        env.panes().iter().map(|p| (p["cols"].as_u64().unwrap_or(0), p["rows"].as_u64().unwrap_or(0))).collect()
    };
    let said = env.ok(&["layout", "even-horizontal", "-t", "lay"]);
    assert!(said.contains("even-horizontal (3 panes)"), "{said}");
    let side_by_side = sizes();
    assert!(
        side_by_side.iter().all(|(c, r)| *r == side_by_side[0].1 && c.abs_diff(side_by_side[0].0) <= 1),
        "{side_by_side:?}"
    );
    env.ok(&["layout", "main-vertical", "-t", "lay"]);
    let main = sizes();
    assert!(main[0].0 > main[1].0 && main[1] == main[2] && main[0].1 > main[1].1, "{main:?}");
    let out = env.run(&["layout", "spiral"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("main-vertical"), "{out:?}");
}

#[test]
fn panes_swap_places_and_move_between_tabs() {
    let env = Env::new();
    env.ok(&["-d", "-s", "mv", "--size", "160x40", "--", "sleep", "1001"]);
    env.ok(&["new", "-t", "mv", "--name", "b", "--", "sleep", "1002"]);
    env.ok(&["new", "-t", "mv", "--tab", "--name", "c", "--", "sleep", "1003"]);
    // Where each named pane is, and its size: (place, cols, rows) by name.
    let at = |name: &str| -> (String, u64, u64) {
        let p = env.panes().into_iter().find(|p| p["name"] == name).unwrap_or_else(|| panic!("no pane {name}"));
        (
            p["place"].as_str().unwrap_or("").to_string(),
            p["cols"].as_u64().unwrap_or(0),
            p["rows"].as_u64().unwrap_or(0),
        )
    };
    let (b_before, c_before) = (at("b"), at("c"));
    assert_eq!((b_before.0.as_str(), c_before.0.as_str()), ("mv:1.2", "mv:2.1"));
    // Across tabs: each takes the other's place and size.
    let said = env.ok(&["swap", "b", "c"]);
    assert!(said.contains("mv:2.1") && said.contains("mv:1.2"), "{said}");
    assert_eq!(at("c"), ("mv:1.2".to_string(), b_before.1, b_before.2));
    assert_eq!(at("b"), ("mv:2.1".to_string(), c_before.1, c_before.2));
    // Into the first tab, beside its focused pane; the tab it left (now empty) closes.
    let said = env.ok(&["move", "b", "--tab", "1"]);
    assert!(said.contains("mv:1."), "{said}");
    let tabs: Vec<String> = env.panes().iter().map(|p| p["place"].as_str().unwrap_or("").to_string()).collect();
    assert!(tabs.iter().all(|t| t.starts_with("mv:1.")), "{tabs:?}");
    assert_eq!(tabs.len(), 3);
    // Out to a tab of its own, full size.
    env.ok(&["move", "c", "--new-tab"]);
    assert_eq!(at("c").0, "mv:2.1");
    assert!(at("c").1 > c_before.1.min(b_before.1), "{:?}", at("c"));
    // What cannot be done says why, and changes nothing.
    for (args, why) in [
        (&["move", "c", "--new-tab"][..], "alone"),
        (&["move", "c", "--tab", "9"][..], "no tab 9"),
        (&["swap", "c", "c"][..], "itself"),
        (&["swap", "c", "nowhere"][..], "nowhere"),
        (&["move", "c"][..], "--tab"),
    ] {
        let out = env.run(args);
        assert!(!out.status.success(), "{args:?}");
        assert!(String::from_utf8_lossy(&out.stderr).contains(why), "{args:?}: {out:?}");
    }
    assert_eq!(at("c").0, "mv:2.1");
}

#[test]
fn a_layout_file_opens_its_panes_at_once() {
    let env = Env::new();
    env.write_config(
        r#"
[layouts.review]
split = "right"
panes = [
  { command = ["sleep", "1001"], name = "writer", size = 60 },
  { split = "down", panes = [{ command = "sleep 1002", name = "reviewer" }, { command = "echo IN-$PWD; exec sleep 1003", cwd = "sub" }] },
]
"#,
    );
    std::fs::create_dir_all(env.dir.join("work/sub")).expect("sub");
    let said = env.ok(&["-d", "-l", "review", "--size", "200x50"]);
    assert!(said.contains("opened layout review in review:1 (3 panes)"), "{said}");
    let panes = env.panes();
    let shape: Vec<(String, String, u64, u64)> = panes
        .iter()
        .map(|p| {
            let s = |k: &str| p[k].as_str().unwrap_or("").to_string();
            let n = |k: &str| p[k].as_u64().unwrap_or(0);
            (s("place"), s("name"), n("cols"), n("rows"))
        })
        .collect();
    // 60% of 200 columns for the writer (borders take two), the rest stacked.
    assert_eq!(shape[0], ("review:1.1".into(), "writer".into(), 118, 48), "{shape:?}");
    assert_eq!((shape[1].0.as_str(), shape[1].1.as_str(), shape[1].2), ("review:1.2", "reviewer", 78), "{shape:?}");
    assert_eq!(shape.len(), 3);
    // Each runs what it says.
    let commands: Vec<String> = panes.iter().map(|p| p["command"].as_str().unwrap_or("").to_string()).collect();
    assert!(commands[0].contains("sleep 1001") && commands[1].contains("sleep 1002"), "{commands:?}");
    // A pane starts where the layout says (relative to where it was opened).
    let sub = env.dir.join("work/sub");
    env.wait_ls("the third pane's directory", |_| {
        env.ok(&["capture", "review:1.3"]).contains(&format!("IN-{}", sub.display()))
    });
    // Again, as a new tab of the running session.
    let said = env.ok(&["layout", "review", "-t", "review"]);
    assert!(said.contains("review:2 (3 panes)"), "{said}");
    assert_eq!(env.panes().len(), 6);
    // A layout that is not there names those that are.
    let out = env.run(&["layout", "nope", "-t", "review"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("review") && err.contains("tiled"), "{err}");
    let out = env.run(&["-d", "-l", "nope"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("the config's layouts are review"), "{out:?}");
}

#[test]
fn a_wrong_layout_file_is_refused_with_its_line() {
    let env = Env::new();
    env.write_config("[layouts.bad]\nsplit = \"down\"\npanes = [{ agent = \"nobody\" }]\n");
    let out = env.run(&["-d", "-l", "bad"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("layouts.bad.panes[0].agent") && err.contains("not an agent"),
        "{err}"
    );
}

#[test]
fn a_command_asks_before_it_runs_again_after_a_restart() {
    let env = Env::new();
    env.ok(&["-d", "-s", "again", "--", "sh", "-c", "echo STARTED-$((40+2)); exec sleep 1000"]);
    let shows = |text: &str| env.ok(&["capture", "again:1.1"]).contains(text);
    env.wait_ls("the command ran", |_| shows("STARTED-42"));
    env.ok(&["restart"]);
    wait_restored(&env, "again");
    // Back, it says what ran and waits: nothing ran again by itself.
    env.wait_ls("the question", |_| shows("Enter runs it again"));
    assert!(
        shows("was running: sh -c echo STARTED-$((40+2)); exec sleep 1000"),
        "{}",
        env.ok(&["capture", "again:1.1"])
    );
    // What it printed before is there (its screen came back), once: it did not run again.
    let runs = || env.ok(&["capture", "again:1.1"]).matches("STARTED-42").count();
    assert_eq!(runs(), 1, "it ran again by itself: {}", env.ok(&["capture", "again:1.1"]));
    let pane = env.panes()[0].clone();
    assert_eq!(pane["command"], "sh -c echo STARTED-$((40+2)); exec sleep 1000");
    // Enter runs it, in that pane.
    env.ok(&["send", "again:1.1", "--keys", "Enter", "--no-enter"]);
    env.wait_ls("it ran again", |_| runs() == 2);
}

#[test]
fn a_shell_comes_back_in_the_directory_it_was_in() {
    let env = Env::new();
    let deeper = env.dir.join("work/deeper");
    std::fs::create_dir_all(&deeper).expect("dir");
    env.ok(&["-d", "-s", "dirs"]);
    let shows = |text: &str| env.ok(&["capture", "dirs:1.1"]).contains(text);
    env.wait_ls("the prompt", |_| shows("$"));
    env.ok(&["send", "dirs:1.1", "cd deeper && echo IN-$((40+2))"]);
    env.wait_ls("the cd done", |_| shows("IN-42"));
    env.ok(&["restart"]);
    wait_restored(&env, "dirs");
    env.wait_ls("the prompt again", |_| shows("$"));
    env.ok(&["send", "dirs:1.1", "echo AT-$PWD-$((1+1))"]);
    env.wait_ls("where it is", |_| shows(&format!("AT-{}-2", deeper.display())));
}

#[test]
fn a_panes_screen_and_scrollback_come_back_after_a_restart() {
    let env = Env::new();
    env.ok(&["-d", "-s", "kept", "--size", "100x30"]);
    let capture = || env.ok(&["capture", "kept:1.1"]);
    env.wait_ls("the prompt", |_| capture().contains('$'));
    env.ok(&[
        "send",
        "kept:1.1",
        "for i in $(seq 1 200); do echo kept-$i; done; printf '\\033[31mRED-%s\\033[0m\\n' $((6*7))",
    ]);
    env.wait_ls("the lines printed", |_| capture().contains("RED-42"));
    env.ok(&["restart"]);
    wait_restored(&env, "kept");
    // What it showed, scrollback and all, in its colours; then where the restart was; then
    // the shell's new prompt.
    let all = capture();
    for line in ["kept-1\n", "kept-100\n", "kept-200\n", "RED-42"] {
        assert!(all.contains(line), "{line} lost:\n{all}");
    }
    let restarted = all.find("teamster restarted").unwrap_or_else(|| panic!("no restart line:\n{all}"));
    assert!(all.find("RED-42").is_some_and(|red| red < restarted), "{all}");
    env.wait_ls("the new prompt", |_| capture()[restarted..].contains('$'));
    let ansi = env.ok(&["capture", "kept:1.1", "--ansi"]);
    assert!(ansi.contains("\x1b[0;31mRED-42"), "{ansi:?}");
    // The file it was kept in is the user's alone.
    use std::os::unix::fs::PermissionsExt;
    let dir = env.dir.join("state/teamster/screens");
    let files: Vec<_> = std::fs::read_dir(&dir).expect("screens").flatten().collect();
    assert_eq!(files.len(), 1);
    assert_eq!(files[0].metadata().expect("meta").permissions().mode() & 0o077, 0);
    assert_eq!(std::fs::metadata(&dir).expect("dir").permissions().mode() & 0o077, 0);
    // Closed for good (its shell exits), its screen goes.
    env.ok(&["new", "-t", "kept", "--", "sleep", "1000"]);
    env.ok(&["send", "kept:1.1", "exit"]);
    env.wait_ls("the file removed", |_| std::fs::read_dir(&dir).map(|d| d.count()).unwrap_or(0) == 0);
}

/// Waits until the runner that `teamster restart` started has brought `session` back.
fn wait_restored(env: &Env, session: &str) {
    let log = env.dir.join("state/teamster/runner.log");
    let line = format!("session {session} restored");
    env.wait_ls("the session back", |_| std::fs::read_to_string(&log).is_ok_and(|l| l.contains(&line)));
}

#[test]
fn a_running_agent_keeps_its_launch_settings_and_says_a_restart_would_change_them() {
    let env = Env::new();
    let entry = |args: &str| {
        format!(
            "[agents.worker]\ncommand = \"sleep\"\nargs = [{args}]\n[agents.other]\ncommand = \"sleep\"\nargs = [\"3000\"]\n"
        )
    };
    env.write_config(&entry("\"1000\""));
    env.ok(&["-d", "-s", "cfg", "--", "sleep", "5000"]);
    env.ok(&["new", "-t", "cfg", "worker"]);
    env.ok(&["new", "-t", "cfg", "other"]);
    let applies = |name: &str| {
        env.panes().iter().find(|p| p["name"] == name).map(|p| p["restart_applies"] == true).unwrap_or(false)
    };
    assert!(!applies("worker") && !applies("other"));
    // The worker's entry changes: it keeps running as started, and says a restart would
    // apply the change; the other agent's entry did not change.
    env.write_config(&entry("\"2000\""));
    env.wait_ls("the worker marked", |_| applies("worker"));
    assert!(!applies("other"));
    let worker = env.panes().into_iter().find(|p| p["name"] == "worker").expect("worker");
    assert_eq!(worker["command"], "sleep 1000", "it runs as it was started");
    // Back as it was: nothing to apply.
    env.write_config(&entry("\"1000\""));
    env.wait_ls("the mark gone", |_| !applies("worker"));
}

/// Stand-in agents alpha, beta and gamma in the config: each shows a prompt, reads the
/// task as a line into `$task`, then runs `work(its name)` in its pane.
fn racers(env: &Env, work: impl Fn(&str) -> String) {
    let mut config = String::new();
    for agent in ["alpha", "beta", "gamma"] {
        let script = env.dir.join(agent);
        let work = work(agent);
        support::fake::write_script(
            &script,
            &format!("#!/bin/bash\nprintf '{agent}> '\nread -r task\n{work}\nexec sleep 100000\n"),
        );
        config.push_str(&format!("[agents.{agent}]\ncommand = \"{}\"\n", script.display()));
    }
    env.write_config(&config);
}

/// The same race from the TUI: agents marked in the picker, the task typed once.
#[test]
fn agents_marked_in_the_picker_race_from_the_tui() {
    let env = Env::new();
    let repo = env.dir.join("work");
    support::repo(&repo);
    racers(&env, |agent| format!("echo \"$task by {agent}\" > {agent}.txt\necho {agent}-DONE"));
    let tui = env.tui(&["-s", "picked"], 150, 30);
    tui.wait_prompt();
    tui.prefix("a");
    tui.wait_text("space: mark to race");
    tui.wait_text("/gamma");
    // Filter to each and mark it: alpha, then gamma.
    for name in ["alpha", "gamma"] {
        tui.keys(name);
        tui.wait_text(&format!("> {name}"));
        tui.keys(" ");
        for _ in 0..name.len() {
            tui.send(b"\x7f");
        }
    }
    tui.wait_text("enter: race these 2");
    tui.keys("\r");
    tui.wait_text("task for alpha, gamma:");
    tui.keys("note it\r");
    tui.wait_text("alpha-DONE");
    tui.wait_text("gamma-DONE");
    tui.wait_text("2 agents took the task");
    // Each wrote in a worktree of its own, on its own branch, side by side in a new tab.
    let panes = env.panes();
    let raced: Vec<_> = panes.iter().filter(|p| p["branch"].is_string()).collect();
    assert_eq!(raced.len(), 2, "{panes:#?}");
    for (agent, pane) in ["alpha", "gamma"].iter().zip(&raced) {
        let branch = pane["branch"].as_str().expect("branch");
        let file = env.dir.join("work.worktrees").join(branch.replace('/', "-")).join(format!("{agent}.txt"));
        assert_eq!(std::fs::read_to_string(&file).expect("file"), format!("note it by {agent}\n"));
    }
}

/// `teamster race`: one pane per agent in a new tab, side by side, each in its own
/// worktree on its own branch from the same base, each given the task once it is ready.
#[test]
fn a_race_gives_each_agent_the_task_in_a_worktree_of_its_own_side_by_side() {
    let env = Env::new();
    let repo = env.dir.join("work");
    support::repo(&repo);
    for args in [
        &["checkout", "-qb", "develop"][..],
        &["commit", "-q", "--allow-empty", "-m", "the base"],
        &["checkout", "-q", "main"],
    ] {
        git(&repo, args);
    }
    // Three stand-in agents that each do the task their own way.
    racers(&env, |agent| format!("echo \"$task, as {agent} does it\" > {agent}.txt\necho done"));
    env.ok(&["-d", "-s", "race", "--", "bash", "--norc"]);
    let out = env.ok(&["race", "write the file", "--agents", "alpha,beta,gamma", "--base", "develop", "--json"]);
    let raced: serde_json::Value = serde_json::from_str(&out).expect("JSON");
    let panes = raced["panes"].as_array().expect("panes").clone();
    assert_eq!(panes.len(), 3, "{raced}");
    let branches: Vec<String> = panes.iter().map(|p| p["branch"].as_str().expect("branch").to_string()).collect();
    let mut distinct = branches.clone();
    distinct.dedup();
    assert_eq!(distinct.len(), 3, "each on a branch of its own: {raced}");
    assert!(panes.iter().all(|p| p["sent"] == true), "{raced}");
    // Side by side in a new tab of their own.
    let places: Vec<&str> = panes.iter().map(|p| p["place"].as_str().expect("place")).collect();
    assert_eq!(places, ["race:2.1", "race:2.2", "race:2.3"], "in the order given: {raced}");
    // Each did the task in its own worktree, from the base.
    for (agent, branch) in ["alpha", "beta", "gamma"].iter().zip(&branches) {
        let worktree = env.dir.join("work.worktrees").join(branch.replace('/', "-"));
        let file = worktree.join(format!("{agent}.txt"));
        env.wait_ls(&format!("{agent} to do the task"), |_| file.exists());
        assert_eq!(std::fs::read_to_string(&file).expect("file"), format!("write the file, as {agent} does it\n"));
        assert_eq!(git(&worktree, &["log", "-1", "--format=%s"]), "the base");
    }
    // Compared side by side: each changed its one file, a line added; beta also wrote
    // notes (committed two lines, then took one away, uncommitted), so it sorts first by
    // lines added, counted against the base.
    let beta = env.dir.join("work.worktrees").join(branches[1].replace('/', "-"));
    std::fs::write(beta.join("notes.md"), "one\ntwo\n").expect("notes");
    git(&beta, &["add", "notes.md"]);
    git(&beta, &["commit", "-qm", "notes"]);
    std::fs::write(beta.join("notes.md"), "one\n").expect("notes");
    let out = env.ok(&["compare", "-t", "race", "--sort", "added", "--json"]);
    let compared: serde_json::Value = serde_json::from_str(&out).expect("JSON");
    let rows = compared["panes"].as_array().expect("panes").clone();
    let by_agent = |agent: &str| rows.iter().find(|r| r["agent"] == agent).cloned().expect("agent's row");
    assert_eq!(rows.len(), 3, "{compared}");
    assert_eq!(rows[0]["agent"], "beta", "sorted by lines added: {compared}");
    for agent in ["alpha", "gamma"] {
        let row = by_agent(agent);
        assert_eq!(
            (row["files"].as_u64(), row["added"].as_u64(), row["removed"].as_u64()),
            (Some(1), Some(1), Some(0)),
            "{row}"
        );
    }
    let row = by_agent("beta");
    assert_eq!(
        (row["files"].as_u64(), row["added"].as_u64(), row["removed"].as_u64()),
        (Some(2), Some(2), Some(0)),
        "against the base: notes.md with one line, beta.txt with one: {row}"
    );
    let table = env.ok(&["compare", "-t", "race"]);
    assert!(table.contains("race:2.1") && table.contains("+1") && table.contains("teamster/alpha-1"), "{table}");
    // Each branch's diff against its base, new files included; review comments reach the
    // agent they are for, as one prompt.
    let diff = env.ok(&["diff", "race:2.1"]);
    assert!(diff.contains("+++ b/alpha.txt") && diff.contains("+write the file, as alpha does it"), "{diff}");
    assert!(!diff.contains("beta.txt"), "only alpha's work: {diff}");
    env.ok(&["review", "race:2.2", "-m", "beta.txt: say why", "-m", "notes.md: one line is enough"]);
    // (The pane is narrow: the line wraps on its screen.)
    let unwrapped = |s: String| s.split_whitespace().collect::<String>();
    let prompt = unwrapped(
        "Address these review comments on your branch: - beta.txt: say why - notes.md: one line is enough".into(),
    );
    env.wait_ls("the review to reach beta", |_| unwrapped(env.ok(&["capture", "race:2.2"])).contains(&prompt));
    assert!(!env.ok(&["capture", "race:2.1"]).contains("Address these"), "only beta was asked");
    // A race of one, or of an agent the config does not know, opens nothing.
    let tabs = env.panes().len();
    let one = env.run(&["race", "x", "--agents", "alpha"]);
    assert!(String::from_utf8_lossy(&one.stderr).contains("two agents or more"), "{one:?}");
    let unknown = env.run(&["race", "x", "--agents", "alpha,nobody"]);
    assert!(!unknown.status.success() && String::from_utf8_lossy(&unknown.stderr).contains("nobody"), "{unknown:?}");
    assert_eq!(env.panes().len(), tabs, "nothing opened");
}

/// Finishing a race: the chosen branch merged into its base in the main checkout (only
/// what the agent committed), a conflict shown and undone, the others closed and their
/// worktrees removed when nothing in them is uncommitted, their branches kept.
#[test]
fn the_chosen_branch_is_merged_conflicts_are_shown_and_the_others_cleared() {
    let env = Env::new();
    let repo = env.dir.join("work");
    support::repo(&repo);
    std::fs::write(repo.join("shared.txt"), "base\n").expect("shared");
    git(&repo, &["add", "."]);
    git(&repo, &["commit", "-qm", "the base"]);
    // Each agent commits its own file and its own line in a shared one.
    racers(&env, |agent| {
        format!(
            "export GIT_AUTHOR_NAME={agent} GIT_AUTHOR_EMAIL=a@a GIT_COMMITTER_NAME={agent} GIT_COMMITTER_EMAIL=a@a\n\
             echo \"$task\" > {agent}.txt\necho '{agent} was here' > shared.txt\n\
             git -c core.fsmonitor=false add . && git -c core.fsmonitor=false commit -qm '{agent}: done' && echo committed"
        )
    });
    env.ok(&["-d", "-s", "race", "--", "bash", "--norc"]);
    env.ok(&["race", "do it", "--agents", "alpha,beta,gamma"]);
    for agent in ["alpha", "beta", "gamma"] {
        let branch = format!("teamster/{agent}-1");
        env.wait_ls(&format!("{agent} to commit"), |_| {
            git(&repo, &["log", "-1", "--format=%s", &branch]) == format!("{agent}: done")
        });
    }
    // beta wins: a fast-forward of main.
    let merged = env.ok(&["merge", "race:2.2"]);
    assert!(merged.contains("merged teamster/beta-1 into main (fast-forward)"), "{merged}");
    assert!(
        merged.contains("2 other worktree pane(s) in its tab: `teamster merge race:2.2 --close-others`"),
        "{merged}"
    );
    assert_eq!(git(&repo, &["log", "-1", "--format=%s", "main"]), "beta: done");
    assert_eq!(std::fs::read_to_string(repo.join("shared.txt")).expect("shared"), "beta was here\n");
    // alpha's work now conflicts with main: shown, and main left as it was.
    let conflict = env.run(&["merge", "race:2.1", "--merge-commit"]);
    let said = String::from_utf8_lossy(&conflict.stderr);
    assert!(!conflict.status.success() && said.contains("conflicts with main in: shared.txt"), "{said}");
    assert_eq!(git(&repo, &["status", "--porcelain", "--untracked-files=no"]), "", "main left clean");
    assert_eq!(git(&repo, &["log", "-1", "--format=%s", "main"]), "beta: done");
    // gamma has uncommitted work: kept; alpha is closed, its worktree removed, its branch kept.
    let gamma = env.dir.join("work.worktrees/teamster-gamma-1");
    std::fs::write(gamma.join("wip.txt"), "not yet").expect("wip");
    let cleared = env.ok(&["merge", "race:2.2", "--close-others"]);
    assert!(cleared.contains("teamster/beta-1 has no commits that main lacks: merged already"), "{cleared}");
    assert!(cleared.contains("removed its worktree (branch teamster/alpha-1 kept)"), "{cleared}");
    assert!(cleared.contains("its worktree") && cleared.contains("has uncommitted work"), "{cleared}");
    let alpha = env.dir.join("work.worktrees/teamster-alpha-1");
    env.wait_ls("alpha's worktree to go", |_| !alpha.exists());
    assert!(gamma.join("wip.txt").exists(), "uncommitted work is never removed");
    assert_eq!(git(&repo, &["log", "-1", "--format=%s", "teamster/alpha-1"]), "alpha: done", "the branch stays");
    let names: Vec<String> = env.panes().iter().filter_map(|p| p["name"].as_str().map(String::from)).collect();
    assert!(!names.contains(&"alpha".to_string()) && names.contains(&"gamma".to_string()), "{names:?}");
    // A pane without a worktree has nothing to merge.
    let plain = env.run(&["merge", "race:1.1"]);
    assert!(String::from_utf8_lossy(&plain.stderr).contains("has no worktree of its own"), "{plain:?}");
}

/// `[review] check` runs in each worktree when its agent is done with the task, confined as
/// the agent is, and the compare view shows what came of it.
#[test]
fn each_worktrees_check_runs_when_its_agent_is_done_confined_as_it_is() {
    let env = Env::new();
    let repo = env.dir.join("work");
    support::repo(&repo);
    racers(&env, |agent| format!("echo \"$task\" > {agent}.txt\necho {agent}-DONE"));
    // Passes where beta.txt is; and tries to write outside the worktree, which the
    // sandbox refuses as it would the agent's own write.
    let mut config = std::fs::read_to_string(env.config_path()).expect("config");
    config
        .push_str("\n[review]\ncheck = 'echo escaped > \"$HOME/check-escaped\"; test -f beta.txt && echo ALL-GOOD'\n");
    env.write_config(&config);
    env.ok(&["-d", "-s", "checked", "--", "bash", "--norc"]);
    env.ok(&["race", "do it", "--agents", "alpha,beta"]);
    let rows = || -> Vec<serde_json::Value> {
        let out = env.ok(&["compare", "-t", "checked", "--json"]);
        let json: serde_json::Value = serde_json::from_str(&out).expect("JSON");
        json["panes"].as_array().cloned().unwrap_or_default()
    };
    let done = |r: &serde_json::Value| matches!(r["check"]["check"].as_str(), Some("passed" | "failed"));
    env.wait_ls("both checks to finish", |_| {
        let rows = rows();
        rows.len() == 2 && rows.iter().all(done)
    });
    let rows = rows();
    let of = |agent: &str| rows.iter().find(|r| r["agent"] == agent).cloned().expect("row");
    assert_eq!(of("beta")["check"]["check"], "passed", "{rows:#?}");
    assert_eq!(of("alpha")["check"]["check"], "failed", "{rows:#?}");
    assert!(!env.dir.join("home/check-escaped").exists(), "the check wrote outside its worktree");
    // All it printed is kept, and the table says it; sorted by it, passed first.
    let table = env.ok(&["compare", "-t", "checked"]);
    assert!(table.contains("passed") && table.contains("failed (1)"), "{table}");
    for (by, first) in [("check", "beta"), ("branch", "alpha"), ("place", "alpha")] {
        let sorted: serde_json::Value =
            serde_json::from_str(&env.ok(&["compare", "-t", "checked", "--sort", by, "--json"])).expect("JSON");
        assert_eq!(sorted["panes"][0]["agent"], first, "by {by}: {sorted}");
    }
}

/// `merge --pr`: the branch pushed to the remote and a pull request opened with `gh`.
#[test]
fn a_branch_goes_up_as_a_pull_request_with_gh() {
    let mut env = Env::new();
    let repo = env.dir.join("work");
    support::repo(&repo);
    let remote = env.dir.join("remote.git");
    git(&env.dir, &["init", "-q", "--bare", &remote.to_string_lossy()]);
    git(&repo, &["remote", "add", "origin", &remote.to_string_lossy()]);
    // A stand-in gh: says what it was asked, prints the request's address.
    let bin = env.dir.join("bin");
    std::fs::create_dir_all(&bin).expect("bin");
    support::fake::write_script(
        &bin.join("gh"),
        &format!("#!/bin/sh\necho \"$@\" > {}\necho https://github.example/pr/7\n", env.dir.join("gh-args").display()),
    );
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default());
    env.extra_env.push(("PATH".into(), path));
    racers(&env, |agent| {
        format!(
            "export GIT_AUTHOR_NAME={agent} GIT_AUTHOR_EMAIL=a@a GIT_COMMITTER_NAME={agent} GIT_COMMITTER_EMAIL=a@a\n\
             echo \"$task\" > {agent}.txt\ngit -c core.fsmonitor=false add . && git -c core.fsmonitor=false commit -qm '{agent}: done' && echo committed"
        )
    });
    env.ok(&["-d", "-s", "pr", "--", "bash", "--norc"]);
    env.ok(&["race", "do it", "--agents", "alpha,beta"]);
    env.wait_ls("alpha to commit", |_| git(&repo, &["log", "-1", "--format=%s", "teamster/alpha-1"]) == "alpha: done");
    let out = env.ok(&["merge", "pr:2.1", "--pr"]);
    assert!(out.contains("opened a pull request against main: https://github.example/pr/7"), "{out}");
    let args = std::fs::read_to_string(env.dir.join("gh-args")).expect("gh ran");
    assert!(args.contains("pr create --base main --head teamster/alpha-1"), "{args}");
    let pushed = Command::new("git")
        .args(["--git-dir", &remote.to_string_lossy(), "log", "-1", "--format=%s", "teamster/alpha-1"])
        .output()
        .expect("git");
    assert_eq!(String::from_utf8_lossy(&pushed.stdout).trim(), "alpha: done", "the branch is on the remote");
    assert_eq!(git(&repo, &["log", "-1", "--format=%s", "main"]), "start", "nothing merged here");
    // Not allowed by the config: said, and nothing pushed.
    let mut config = std::fs::read_to_string(env.config_path()).expect("config");
    config.push_str("\n[review]\npull_requests = false\n");
    env.write_config(&config);
    let refused = env.run(&["merge", "pr:2.2", "--pr"]);
    assert!(!refused.status.success(), "{refused:?}");
    assert!(String::from_utf8_lossy(&refused.stderr).contains("pull requests are off"), "{refused:?}");
    let beta = Command::new("git")
        .args(["--git-dir", &remote.to_string_lossy(), "rev-parse", "--verify", "-q", "teamster/beta-1"])
        .output()
        .expect("git");
    assert!(!beta.status.success(), "nothing was pushed");
}
