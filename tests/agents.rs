//! Real agent CLIs (Claude Code, Codex, Pi, Gemini CLI, opencode), installed from npm by
//! `./scripts/test`, each run inside teamster against the mock LLM in a loopback-only
//! network namespace. For each: the pane shows the agent's UI, a prompt typed into the pane
//! reaches the mock, the state goes working then waiting, a tool call is reported before it
//! runs and a deny stops it (an approval lets it run), and after a runner restart the agent
//! resumes its conversation.
//!
//! Run with `./scripts/test` (or `unshare -rn cargo test --test agents -- --ignored`).

mod support;

use serde_json::Value;
use support::mock_llm::{MockLlm, TOOL_DONE, TRIGGER};
use support::{AGENT_DEADLINE, Env, Tui, agents};

#[test]
#[ignore = "needs the agent CLIs and a loopback-only network: run ./scripts/test"]
fn claude_code() {
    exercise("claude", "Claude Code");
}

#[test]
#[ignore = "needs the agent CLIs and a loopback-only network: run ./scripts/test"]
fn codex() {
    exercise("codex", "OpenAI Codex");
}

#[test]
#[ignore = "needs the agent CLIs and a loopback-only network: run ./scripts/test"]
fn pi() {
    exercise("pi", "mock-model");
}

#[test]
#[ignore = "needs the agent CLIs and a loopback-only network: run ./scripts/test"]
fn gemini_cli() {
    exercise("gemini", "gemini-api-key");
}

#[test]
#[ignore = "needs the agent CLIs and a loopback-only network: run ./scripts/test"]
fn opencode() {
    exercise("opencode", "Claude Sonnet 4.5");
}

/// Types a prompt into the focused pane as a user pastes it, and sends it once it shows.
/// An agent still starting may drop a paste, and some drop an Enter that follows a paste
/// too closely (Gemini CLI within about 0.2 s); where a person would paste or press Enter
/// again, so does this, until the prompt shows and then reaches the mock.
fn say(tui: &Tui, mock: &MockLlm, text: &str) {
    let deadline = std::time::Instant::now() + AGENT_DEADLINE;
    loop {
        tui.send(format!("\x1b[200~{text}\x1b[201~").as_bytes());
        if tui.poll_for(std::time::Duration::from_secs(3), |s| s.contents().contains(text)) {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "the prompt `{text}` never showed:\n{}", tui.contents());
    }
    loop {
        tui.send(b"\r");
        if mock.poll_request(std::time::Duration::from_secs(1), |r| r.text.contains(text)).is_some() {
            return;
        }
        assert!(std::time::Instant::now() < deadline, "the prompt `{text}` never reached the mock");
    }
}

fn agent_pane(env: &Env, kind: &str) -> Option<Value> {
    env.panes().into_iter().find(|p| p["agent"]["kind"] == kind)
}

fn wait_state(env: &Env, kind: &str, state: &str) -> Value {
    env.wait_ls(&format!("{kind} to be {state}"), |_| {
        agent_pane(env, kind).is_some_and(|p| p["agent"]["state"] == state)
    });
    agent_pane(env, kind).expect("the agent's pane")
}

/// Waits until a tool call whose summary contains `what` is held; returns its id.
fn wait_pending(env: &Env, what: &str) -> u64 {
    let held = || {
        let out = env.run(&["approvals", "--json"]);
        let v: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
        v["pending"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|p| p["what"].as_str().is_some_and(|w| w.contains(what)))
            .and_then(|p| p["id"].as_u64())
    };
    env.wait_ls(&format!("a held tool call for {what}"), |_| held().is_some());
    held().expect("the held call")
}

fn wait_until(what: &str, cond: impl Fn() -> bool) {
    let deadline = std::time::Instant::now() + AGENT_DEADLINE;
    while !cond() {
        assert!(std::time::Instant::now() < deadline, "timed out waiting for {what}");
        // A file appearing has no event to wait on here: look again shortly.
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

fn exercise(kind: &str, ui: &str) {
    agents::isolate();
    let mut env = Env::new();
    env.deadline = AGENT_DEADLINE;
    let work = env.dir.join("work");
    let mock = MockLlm::start("true");
    env.write_config(&format!("hold_tool_calls = true\n{}", agents::prepare(&env, kind, &mock)));
    let tui = env.tui(&[], 120, 40);
    tui.wait_prompt();

    // The pane shows the agent's own UI, and teamster knows what runs there.
    env.ok(&["new", kind, "--tab"]);
    tui.wait_text(ui);
    wait_state(&env, kind, "idle");

    // A prompt reaches the mock; the agent works on it, then waits for the user.
    mock.hold_replies();
    say(&tui, &mock, "MARK-1 hello there");
    mock.wait_request("the first prompt", |r| r.is_turn() && r.text.contains("MARK-1"));
    let pane = wait_state(&env, kind, "working");
    assert_eq!(pane["status"], "working");
    mock.release_replies();
    tui.wait_text("mock reply to MARK-1");
    let pane = wait_state(&env, kind, "waiting-for-input");
    // Its calls went through teamster's metering proxy, which priced them.
    let spend = pane["spend"].as_f64().unwrap_or(0.0);
    assert!(spend > 0.0 && pane["spend_unknown"] == false, "{kind}'s spend was not metered: {pane}");

    // The tool call the mock asks for is reported before it runs, and a deny stops it.
    let denied = work.join("denied-by-teamster");
    mock.set_command(&format!("touch {}", denied.display()));
    say(&tui, &mock, &format!("MARK-2 {TRIGGER}"));
    let id = wait_pending(&env, "denied-by-teamster");
    wait_state(&env, kind, "needs-approval");
    assert!(!denied.exists(), "the call ran before teamster decided");
    env.ok(&["deny", &id.to_string(), "--reason", "REASON-FROM-TEAMSTER"]);
    mock.wait_request("the deny's reason, passed to the model", |r| r.text.contains("REASON-FROM-TEAMSTER"));
    tui.wait_text(TOOL_DONE);
    wait_state(&env, kind, "waiting-for-input");
    assert!(!denied.exists(), "a denied call ran");

    // Approved in teamster, a call runs.
    let allowed = work.join("allowed-by-teamster");
    mock.set_command(&format!("touch {}", allowed.display()));
    say(&tui, &mock, &format!("MARK-3 {TRIGGER}"));
    let id = wait_pending(&env, "allowed-by-teamster");
    env.ok(&["approve", &id.to_string()]);
    // An agent may still ask in its own dialog (Gemini CLI can): the user says yes there.
    wait_until("the approved call to run", || {
        if tui.contents().contains("Allow execution of") {
            tui.send(b"\r");
        }
        allowed.exists()
    });
    wait_state(&env, kind, "waiting-for-input");

    // After a runner restart the agent comes back in its own conversation.
    let before = agent_pane(&env, kind).expect("the agent's pane");
    let conversation = before["agent"]["conversation"].as_str().expect("a conversation id").to_string();
    env.ok(&["restart"]);
    env.wait_ls("the agent back, resumed", |_| {
        agent_pane(&env, kind).is_some_and(|p| p["pid"] != before["pid"] && p["status"] != "exited")
    });
    let after = agent_pane(&env, kind).expect("the agent's pane");
    assert_eq!(after["agent"]["conversation"], conversation.as_str());
    tui.wait_text("reconnected");
    wait_state(&env, kind, "idle");
    say(&tui, &mock, "MARK-4 where were we");
    let r = mock.wait_request("the prompt after the restart", |r| r.is_turn() && r.text.contains("MARK-4"));
    assert!(r.text.contains("MARK-1"), "the agent did not resume its conversation: {:.2000}", r.text);
    tui.wait_text("mock reply to MARK-4 (you first said: MARK-1)");
}

#[test]
#[ignore = "needs the agent CLIs and a loopback-only network: run ./scripts/test"]
fn doctor_checks_every_agent_live() {
    agents::isolate();
    let env = Env::new();
    let mut path = std::env::var("PATH").unwrap_or_default();
    for kind in ["claude", "codex", "pi", "gemini", "opencode"] {
        path = format!("{}:{path}", agents::cli(kind).parent().expect("bin dir").display());
    }
    let out = env.cmd(&["doctor", "--live"]).env("PATH", path).output().expect("doctor");
    let text = String::from_utf8_lossy(&out.stdout);
    for kind in ["claude", "codex", "pi", "gemini", "opencode"] {
        let line = text.lines().find(|l| l.contains(&format!("agent {kind} "))).unwrap_or_default();
        assert!(
            line.starts_with("ok") && line.contains("a deny stops them (checked live"),
            "doctor on {kind}: {line}\n{text}"
        );
    }
}
