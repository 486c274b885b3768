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
use support::{AGENT_DEADLINE, Env, Tui, agents, git};

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

/// `tests/drive-agents.sh`: Claude Code and Codex driven only through the command line
/// (`new --prompt`, `wait`, `capture --last-reply`, `send --from`, a refused send, and each
/// command's JSON), as a user's script would.
#[test]
#[ignore = "needs the agent CLIs and a loopback-only network: run ./scripts/test"]
fn a_script_drives_two_real_agents_through_the_cli() {
    let env = agent_env();
    let mock = MockLlm::start("touch held-by-policy");
    let config = prepared_together(&env, &mock, &["claude", "codex"]);
    let policy = "[[policy]]\nname = \"ask before it\"\non = \"tool_call\"\ncommand = 'held-by-policy'\nverdict = \"ask\"\nreason = \"a script must not answer this\"\n";
    env.write_config(&format!("{policy}\n{}", toml::to_string(&config).expect("TOML")));
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/drive-agents.sh");
    let out = std::process::Command::new("bash")
        .arg(&script)
        .env_clear()
        .envs(env.envs())
        .current_dir(env.dir.join("work"))
        .output()
        .expect("bash");
    let log = std::fs::read_to_string(env.dir.join("state/teamster/runner.log")).unwrap_or_default();
    assert!(
        out.status.success(),
        "the script failed:\n{}\n{}\nrunner.log:\n{log}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("all good"));
}

/// One `[providers.anthropic] base_url` (the API root, as Anthropic documents it) serves
/// Claude Code and opencode alike: each agent's calls arrive at `/v1/messages`, though
/// opencode's base URL ends in `/v1` and Claude Code's does not.
#[test]
#[ignore = "needs the agent CLIs and a loopback-only network: run ./scripts/test"]
fn one_provider_setting_serves_claude_code_and_opencode() {
    let env = agent_env();
    let mock = MockLlm::start("true");
    let mut config = toml::Table::new();
    let mut agents = toml::Table::new();
    for kind in ["claude", "opencode"] {
        let prepared: toml::Table = toml::from_str(&agents::prepare(&env, kind, &mock)).expect("TOML");
        if let Some(toml::Value::Table(entries)) = prepared.get("agents") {
            agents.extend(entries.clone());
        }
    }
    config.insert("agents".into(), agents.into());
    let mut anthropic = toml::Table::new();
    anthropic.insert("base_url".into(), mock.url().into());
    let mut providers = toml::Table::new();
    providers.insert("anthropic".into(), anthropic.into());
    config.insert("providers".into(), providers.into());
    env.write_config(&toml::to_string(&config).expect("TOML"));
    let tui = env.tui(&[], 160, 40);
    tui.wait_prompt();
    for (kind, ui) in [("claude", "Claude Code"), ("opencode", "Claude Sonnet 4.5")] {
        env.ok(&["new", kind, "--tab"]);
        tui.wait_text(ui);
        wait_state(&env, kind, "idle");
        let mark = format!("MARK-{kind}");
        say(&tui, &mock, &format!("{mark} hello"));
        mock.wait_request(&format!("{kind}'s turn at /v1/messages"), |r| {
            r.is_turn() && r.text.contains(&mark) && r.route() == "/v1/messages"
        });
        wait_state(&env, kind, "waiting-for-input");
    }
}

#[test]
#[ignore = "needs the agent CLIs and a loopback-only network: run ./scripts/test"]
fn claude_codes_own_dialog_is_in_the_queue() {
    // Claude shows its dialog while its hook waits: Enter there picks "Yes" and the call runs.
    own_dialog("claude", "Claude Code", "Do you want to proceed?", b"\r", true, true);
}

#[test]
#[ignore = "needs the agent CLIs and a loopback-only network: run ./scripts/test"]
fn codexs_own_dialog_is_in_the_queue() {
    // Codex shows its dialog only when the hook gives no answer: while teamster holds it, the
    // pane offers only Esc, which takes the question back.
    own_dialog("codex", "OpenAI Codex", "", b"\x1b", false, true);
}

#[test]
#[ignore = "needs the agent CLIs and a loopback-only network: run ./scripts/test"]
fn opencodes_own_dialog_is_in_the_queue() {
    // opencode shows its dialog at once; Enter there allows once.
    own_dialog("opencode", "Claude Sonnet 4.5", "Permission required", b"\r", true, true);
}

#[test]
#[ignore = "needs the agent CLIs and a loopback-only network: run ./scripts/test"]
fn pis_extension_dialogs_are_in_the_queue() {
    // Pi asks nothing itself; its example permission-gate extension asks before `rm -rf`
    // (ctx.ui.select). Enter in the pane picks "Yes". Its deny reaches the model as the
    // extension's own reason ("Blocked by user").
    own_dialog("pi", "mock-model", "Dangerous command", b"\r", true, false);
}

#[test]
#[ignore = "needs the agent CLIs and a loopback-only network: run ./scripts/test"]
fn gemini_clis_own_dialog_is_in_the_queue() {
    // Gemini's hooks cannot answer its dialog: teamster types its keys (the digit of the
    // option; Esc, then the deny's message as the next prompt). In the pane, 1 allows once.
    own_dialog("gemini", "gemini-api-key", "Allow execution of", b"1", true, true);
}

/// "Yes, and don't ask again" picked in Claude Code's own dialog, in its pane: Claude
/// cannot keep it in its project settings (read-only to it in the sandbox), so teamster
/// keeps it for the project, and the same call is not asked about again.
#[test]
#[ignore = "needs the agent CLIs and a loopback-only network: run ./scripts/test"]
fn claude_codes_dont_ask_again_picked_in_its_pane_is_kept_for_the_project() {
    let env = agent_env();
    let work = env.dir.join("work");
    let mock = MockLlm::start("true");
    env.write_config(&agents::prepare(&env, "claude", &mock));
    let tui = open_agent(&env, "claude", "Claude Code");
    let target = work.join("d1");
    let command = format!("rm -rf {}", target.display());
    mock.set_command(&command);
    std::fs::create_dir_all(&target).expect("dir");
    say(&tui, &mock, &format!("MARK-1 {TRIGGER}"));
    held_action(&env, "d1");
    tui.wait_text("2. Yes, and");
    tui.send(b"2");
    wait_until("the call approved in the pane to run", || !target.exists());
    wait_state(&env, "claude", "waiting-for-input");
    // Another day (a new conversation of Claude's, in a new pane): the same call runs
    // without a question.
    let first = agent_pane(&env, "claude").map(|p| p["id"].clone());
    env.ok(&["new", "claude", "--tab"]);
    env.wait_ls("a second Claude Code, idle", |_| {
        env.panes()
            .iter()
            .any(|p| p["agent"]["kind"] == "claude" && Some(p["id"].clone()) != first && p["agent"]["state"] == "idle")
    });
    std::fs::create_dir_all(&target).expect("dir");
    say(&tui, &mock, &format!("MARK-2 {TRIGGER}"));
    wait_until("the same call to run unasked", || !target.exists());
    let asked: Vec<Value> = env
        .audit()
        .into_iter()
        .filter(|d| d["what"].as_str().is_some_and(|w| w.ends_with("/d1")) && d["by"] != "no rule")
        .collect();
    assert_eq!(
        asked.iter().filter(|d| d["by"] == "you (in the agent's pane)").count(),
        1,
        "asked again, or never answered in the pane: {asked:#?}"
    );
}

/// The agent's own permission question (asked of `rm -rf`, which both agents ask about by
/// default) is an item in teamster's queue: approved from the CLI the call runs; denied
/// with a message, the model is told it (where the agent's dialog can carry one:
/// `deny_tells`); answered in the pane (`pane_keys`, once the pane shows `dialog`) it
/// leaves the queue; and with a policy asking about the same call there is one item and
/// one approval.
fn own_dialog(kind: &str, ui: &str, dialog: &str, pane_keys: &[u8], pane_approves: bool, deny_tells: bool) {
    let env = agent_env();
    let work = env.dir.join("work");
    let mock = MockLlm::start("true");
    let policy = "[[policy]]\nname = \"look at d4\"\non = \"tool_call\"\ncommand = 'd4'\nverdict = \"ask\"\nreason = \"d4 is precious\"\n";
    let mut agent: toml::Table = toml::from_str(&agents::prepare(&env, kind, &mock)).expect("TOML");
    // Pi's questions come from extensions: its example permission gate.
    if kind == "pi" {
        let gate = agents::cli("pi")
            .parent()
            .and_then(|b| b.parent())
            .map(|m| m.join("@mariozechner/pi-coding-agent/examples/extensions/permission-gate.ts"));
        let entry = agent["agents"]["pi"].as_table().cloned().expect("pi entry");
        let mut entry = entry;
        let mut args = entry["args"].as_array().cloned().unwrap_or_default();
        args.extend(["-e".into(), gate.expect("the gate").to_string_lossy().into_owned().into()]);
        entry.insert("args".into(), args.into());
        agent["agents"].as_table_mut().expect("agents").insert("pi".into(), entry.into());
    }
    env.write_config(&format!("{policy}\n{}", toml::to_string(&agent).expect("TOML")));
    for d in ["d1", "d2", "d3", "d4"] {
        std::fs::create_dir_all(work.join(d)).expect("dir");
    }
    // opencode lets shell commands run unasked unless the project says otherwise.
    if kind == "opencode" {
        std::fs::write(work.join("opencode.json"), r#"{"permission": {"bash": "ask"}}"#).expect("opencode.json");
    }
    let tui = open_agent(&env, kind, ui);
    let gone = |d: &str| !work.join(d).exists();
    let queue_empty = || {
        let v: Value = serde_json::from_slice(&env.run(&["approvals", "--json"]).stdout).unwrap_or(Value::Null);
        v["pending"].as_array().is_some_and(|p| p.is_empty())
    };

    // Its own question waits in teamster's queue, said to be the agent's; approved there,
    // the call runs.
    mock.set_command(&format!("rm -rf {}", work.join("d1").display()));
    say(&tui, &mock, &format!("MARK-1 {TRIGGER}"));
    let held = held_action(&env, "d1");
    assert_eq!(held["source"], "agent", "{held}");
    wait_state(&env, kind, "needs-approval");
    assert!(!gone("d1"), "the call ran before anyone answered");
    env.ok(&["approve", &held["id"].to_string()]);
    wait_until("the approved call to run", || gone("d1"));
    wait_until("the queue to empty", queue_empty);
    wait_state(&env, kind, "waiting-for-input");

    // Denied with a message: the call does not run and the model reads the message.
    mock.set_command(&format!("rm -rf {}", work.join("d2").display()));
    say(&tui, &mock, &format!("MARK-2 {TRIGGER}"));
    let held = held_action(&env, "d2");
    env.ok(&["deny", &held["id"].to_string(), "--reason", "REASON-FOR-D2"]);
    if deny_tells {
        mock.wait_request("the deny's message, passed to the model", |r| r.text.contains("REASON-FOR-D2"));
    }
    wait_state(&env, kind, "waiting-for-input");
    assert!(!gone("d2"), "a denied call ran");

    // Answered in the pane: the item leaves the queue.
    mock.set_command(&format!("rm -rf {}", work.join("d3").display()));
    say(&tui, &mock, &format!("MARK-3 {TRIGGER}"));
    held_action(&env, "d3");
    if !dialog.is_empty() {
        tui.wait_text(dialog);
    }
    tui.send(pane_keys);
    wait_until("the queue to empty after an answer in the pane", queue_empty);
    if pane_approves {
        wait_until("the call approved in the pane to run", || gone("d3"));
        let by = env.audit().into_iter().find(|d| d["what"].as_str().is_some_and(|w| w.contains("d3")));
        assert_eq!(by.map(|d| d["by"].clone()), Some(Value::from("you (in the agent's pane)")));
    }
    wait_state(&env, kind, "waiting-for-input");

    // A policy asks about the very call the agent would ask about: one item, one approval.
    mock.set_command(&format!("rm -rf {}", work.join("d4").display()));
    say(&tui, &mock, &format!("MARK-4 {TRIGGER}"));
    let held = held_action(&env, "d4");
    assert_eq!((held["source"].as_str(), held["rule"].as_str()), (Some("policy"), Some("look at d4")), "{held}");
    env.ok(&["approve", &held["id"].to_string()]);
    wait_until("the call to run after one approval", || gone("d4"));
    wait_state(&env, kind, "waiting-for-input");
    let asked: Vec<Value> = env
        .audit()
        .into_iter()
        .filter(|d| {
            d["kind"] == "tool_call" && d["what"].as_str().is_some_and(|w| w.ends_with("/d4")) && d["by"] != "no rule"
        })
        .collect();
    assert_eq!(asked.len(), 1, "more than one question for d4: {asked:#?}");
}

/// The config entries of several agents at once, against one mock: each one's `[agents]`
/// and `[providers]` tables merged.
fn prepared_together(env: &Env, mock: &MockLlm, kinds: &[&str]) -> toml::Table {
    let mut config = toml::Table::new();
    for kind in kinds {
        let prepared: toml::Table = toml::from_str(&agents::prepare(env, kind, mock)).expect("TOML");
        for (key, value) in prepared {
            match (config.get_mut(&key), value) {
                (Some(toml::Value::Table(mine)), toml::Value::Table(theirs)) => mine.extend(theirs),
                (_, value) => {
                    config.insert(key, value);
                }
            }
        }
    }
    config
}

/// An isolated test world for a real agent CLI, waiting as long as agents take.
fn agent_env() -> Env {
    agents::isolate();
    let mut env = Env::new();
    env.deadline = AGENT_DEADLINE;
    env
}

/// The TUI with `kind` opened in a tab of its own, its UI (`ui`) up and the agent idle.
fn open_agent(env: &Env, kind: &str, ui: &str) -> Tui {
    let tui = env.tui(&[], 160, 40);
    tui.wait_prompt();
    env.ok(&["new", kind, "--tab"]);
    tui.wait_text(ui);
    wait_state(env, kind, "idle");
    tui
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
    held_action(env, what)["id"].as_u64().expect("the held call's id")
}

/// Waits until an action whose summary contains `what` is held; returns it as
/// `teamster approvals --json` shows it.
fn held_action(env: &Env, what: &str) -> Value {
    let held = || {
        let out = env.run(&["approvals", "--json"]);
        let v: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
        v["pending"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|p| p["what"].as_str().is_some_and(|w| w.contains(what)))
            .cloned()
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
    let env = agent_env();
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
    // All of it sandboxed (the default): the turns above went through the pane's proxy,
    // its only way out. The pane's first process is the sandbox's helper, which waits
    // outside; everything below it (the sandbox's init, the agent, what the agent runs)
    // is confined (no new privileges, seccomp) in a network and a process-id namespace
    // of its own.
    assert_eq!(pane["sandboxed"], true, "{pane}");
    // A script sends the next prompt: it returns once the agent took it.
    let id = pane["id"].to_string();
    let sent = env.run(&["send", &id, "MARK-S sent by a script"]);
    assert!(sent.status.success(), "{kind}: {sent:?}");
    mock.wait_request("the sent prompt", |r| r.is_turn() && r.text.contains("MARK-S"));
    tui.wait_text("mock reply to MARK-S");
    let pane = wait_state(&env, kind, "waiting-for-input");
    // A teammate's line from the web page (its text and Enter in one message, as the line
    // box sends it) is submitted, not left as a newline in the agent's input.
    let server = support::share::Server::start(&env);
    let (_, _, drive) = support::share::share(&env, &["--server", &server.url()]);
    let web_pane = pane["id"].as_u64().expect("the pane's id") as u32;
    support::share::runtime().block_on(async {
        let mut teammate =
            support::share::Viewer::join(&drive.expect("a drive link"), "teammate").await.expect("joins");
        teammate.type_line(web_pane, "MARK-W typed on the web page").await;
        mock.wait_request("the teammate's line", |r| r.is_turn() && r.text.contains("MARK-W"));
    });
    tui.wait_text("mock reply to MARK-W");
    let pane = wait_state(&env, kind, "waiting-for-input");
    // Its conversation is where the agent keeps it without teamster (a first-time user's
    // too), so its own `resume` outside teamster finds it.
    let kept = match kind {
        "claude" => Some(".claude/projects"),
        "codex" => Some(".codex/sessions"),
        "gemini" => Some(".gemini/tmp"),
        _ => None,
    };
    if let Some(kept) = kept {
        let files = support::files_under(&env.dir.join("home").join(kept));
        assert!(!files.is_empty(), "{kind}'s conversation is not in ~/{kept}");
    }
    // Its harmless needs were met inside the sandbox: nothing refused, so nothing counted
    // in its title, through a start and three turns.
    assert_eq!(pane["refused"], 0, "{kind} was refused: {:?}", env.sandbox_refusals());
    let pid = pane["pid"].as_u64().expect("the agent's pid").to_string();
    let ns = |p: &str, kind: &str| std::fs::read_link(format!("/proc/{p}/ns/{kind}")).ok();
    let below = support::descendants(&pid);
    // No command line holds a pane's proxy token (anyone on this machine reads them): its
    // routes' URLs (`…/t/TOKEN/ROUTE`) are in files and variables of its own.
    for p in &below {
        let line = std::fs::read(format!("/proc/{p}/cmdline")).unwrap_or_default();
        let line = String::from_utf8_lossy(&line).replace('\0', " ");
        assert!(!line.contains("/t/"), "{kind}: a proxy token on a command line: {line}");
    }
    assert!(below.len() >= 2, "{kind}: no sandbox init and agent below the helper {pid}");
    for p in &below {
        // A process that ended meanwhile (a hook, a probe the agent ran) has nothing to read.
        let (Ok(status), Some(net), Some(pids)) =
            (std::fs::read_to_string(format!("/proc/{p}/status")), ns(p, "net"), ns(p, "pid"))
        else {
            continue;
        };
        // The sandbox's maker alone runs outside the filter (it makes what the runner
        // asks): it holds no capability and the agent cannot trace it.
        let maker = status.starts_with("Name:\tsandbox-maker\n");
        let confined = if maker {
            status.contains("CapEff:\t0000000000000000") && status.contains("CapPrm:\t0000000000000000")
        } else {
            status.contains("Seccomp:\t2")
        };
        assert!(status.contains("NoNewPrivs:\t1") && confined, "{status}");
        assert_ne!(Some(net), ns("self", "net"), "{kind} shares the runner's network");
        assert_ne!(Some(pids), ns("self", "pid"), "{kind} sees the runner's processes");
    }

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
    // An agent that still asks in its own dialog (Gemini CLI does) is answered by teamster:
    // approving once is enough.
    wait_until("the approved call to run", || allowed.exists());
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

#[test]
#[ignore = "needs the agent CLIs and a loopback-only network: run ./scripts/test"]
fn claude_code_push_after_install_waits_for_the_sidebar() {
    push_after_install("claude", "Claude Code");
}

#[test]
#[ignore = "needs the agent CLIs and a loopback-only network: run ./scripts/test"]
fn codex_push_after_install_waits_for_the_sidebar() {
    push_after_install("codex", "OpenAI Codex");
}

/// The mock asks for `npm install left-pad`, then `git push`: the policies note the
/// install and hold the push; the sidebar shows it; a key approves it; the push runs.
fn push_after_install(kind: &str, ui: &str) {
    let env = agent_env();
    let work = env.dir.join("work");
    let remote = env.dir.join("remote.git");
    git(&env.dir, &["init", "-q", "--bare", "-b", "main", &remote.to_string_lossy()]);
    for args in [
        &["init", "-q", "-b", "main"][..],
        &["config", "user.email", "t@example.com"],
        &["config", "user.name", "t"],
        &["commit", "-q", "--allow-empty", "-m", "the work"],
        &["remote", "add", "origin", &remote.to_string_lossy()],
    ] {
        git(&work, args);
    }
    // npm from the registry is not the point here (and there is no network): a stand-in,
    // by its full path (agents run commands in login shells, which set PATH anew).
    let bin = env.dir.join("bin");
    std::fs::create_dir_all(&bin).expect("bin");
    let npm = bin.join("npm");
    support::fake::write_script(&npm, "#!/bin/sh\nmkdir -p node_modules/left-pad && echo 'added 1 package'\n");
    let mock = MockLlm::start("true");
    // The remote is outside the workspace: the sandbox lets the agent write it only because
    // the agent's config names it.
    let agent = agents::prepare_writable(&env, kind, &mock, &[remote.to_string_lossy().into_owned()]);
    let policies = r#"
[[policy]]
name = "notice package installs"
on = "tool_call"
tool = ["shell"]
command = '\b(npm|pnpm|yarn)\s+(install|i|add)\b'
set_mark = ["packages-installed"]

[[policy]]
name = "installs are fine"
on = "tool_call"
command = '\bnpm install left-pad$'
verdict = "allow"

[[policy]]
name = "push after installing packages"
on = "tool_call"
tool = ["shell"]
command = '\bgit\s+push\b'
marked = ["packages-installed"]
verdict = "ask"
reason = "packages were installed in this session: look before this is pushed"
"#;
    env.write_config(&format!("{policies}\n{agent}"));
    let tui = open_agent(&env, kind, ui);

    let install = format!("{} install left-pad", npm.display());
    mock.set_commands(&[&install, "git push origin HEAD:main"]);
    say(&tui, &mock, &format!("MARK-1 {TRIGGER}"));
    // The install ran; the push waits in the sidebar, with why.
    tui.wait_text("waiting for you (1)");
    tui.wait_text("push after installing packages");
    assert!(work.join("node_modules/left-pad").exists(), "the install ran first");
    let held = held_action(&env, "git push origin HEAD:main");
    assert_eq!(held["rule"], "push after installing packages", "{held}");
    assert_eq!(git(&remote, &["rev-list", "--all", "--count"]), "0", "nothing pushed yet");
    // A key press approves it, and the push runs.
    tui.prefix("s");
    tui.keys("y");
    wait_until("the push to reach the remote", || git(&remote, &["rev-list", "--all", "--count"]) == "1");
    tui.wait_text(TOOL_DONE);
    let push = env
        .audit()
        .into_iter()
        .find(|d| d["what"] == "git push origin HEAD:main")
        .expect("the push in the audit log")
        .clone();
    assert_eq!((push["verdict"].as_str(), push["by"].as_str()), (Some("allow"), Some("you (sidebar)")), "{push}");
}

#[test]
#[ignore = "needs the agent CLIs and a loopback-only network: run ./scripts/test"]
fn a_spend_gate_holds_claude_codes_next_request() {
    let env = agent_env();
    let mock = MockLlm::start("true");
    // Every call reports 1000 input tokens (and the fixed rest): a call is about half a
    // cent at the model's price, so the first turn (a title and an answer) crosses a cent.
    mock.fix_input_tokens(1000);
    let policies = r#"
[[policy]]
name = "a cent at a time"
on = "llm_request"
spent_since = { mark = "cent", over = 0.01 }
verdict = "ask"
reason = "another cent spent"
on_approve = { set_mark = ["cent"] }
"#;
    env.write_config(&format!("{policies}\n{}", agents::prepare(&env, "claude", &mock)));
    let tui = open_agent(&env, "claude", "Claude Code");
    say(&tui, &mock, "MARK-1 hello");
    tui.wait_text("mock reply to MARK-1");
    let before = mock.answered().len();
    assert!(before >= 2, "a title and an answer: {:?}", mock.answered());
    // The next request waits at the proxy, before it leaves.
    tui.send(b"\x1b[200~MARK-2 more\x1b[201~");
    tui.wait_text("MARK-2 more");
    tui.send(b"\r");
    tui.wait_text("a cent at a time");
    let held = held_action(&env, "a request to anthropic");
    assert_eq!(
        (held["kind"].as_str(), held["rule"].as_str()),
        (Some("llm_request"), Some("a cent at a time")),
        "{held}"
    );
    assert_eq!(mock.answered().len(), before, "held before it left");
    tui.prefix("s");
    tui.keys("y");
    tui.wait_text("mock reply to MARK-2");

    let prices = teamster::config::Config::load(&env.config_path()).expect("config").prices();
    let expected: f64 = mock.answered().iter().map(|u| prices.cost(u).0).sum();
    let report: Value = serde_json::from_str(&env.ok(&["cost", "--json"])).expect("cost JSON");
    let metered = report["total"]["cost"].as_f64().unwrap_or(0.0);
    assert!((metered - expected).abs() < 1e-9, "metered {metered}, the mock's usage implies {expected}");
    assert_eq!(report["total"]["estimated"], 0, "the model is in the price table: {report:#}");
}

#[test]
#[ignore = "needs the agent CLIs and a loopback-only network: run ./scripts/test"]
fn a_spend_cap_stops_claude_code_plainly() {
    spend_cap_stops("claude", "Claude Code");
}

#[test]
#[ignore = "needs the agent CLIs and a loopback-only network: run ./scripts/test"]
fn a_spend_cap_stops_codex_plainly() {
    spend_cap_stops("codex", "OpenAI Codex");
}

#[test]
#[ignore = "needs the agent CLIs and a loopback-only network: run ./scripts/test"]
fn a_spend_cap_stops_gemini_cli_plainly() {
    spend_cap_stops("gemini", "gemini-api-key");
}

#[test]
#[ignore = "needs the agent CLIs and a loopback-only network: run ./scripts/test"]
fn a_spend_cap_stops_opencode_plainly() {
    spend_cap_stops("opencode", "Claude Sonnet 4.5");
}

/// A cap the session's spend is over, put in force after a first turn (the config applies
/// without a restart): the agent's next model call is refused at the proxy in its
/// provider's own error shape, so the agent shows teamster's reason (not a login hint, not
/// a retry), the pane says it was stopped by a spend cap, and the status bar names the cap.
fn spend_cap_stops(kind: &str, ui: &str) {
    let env = agent_env();
    let mock = MockLlm::start("true");
    mock.fix_input_tokens(1000);
    let agent = agents::prepare(&env, kind, &mock);
    env.write_config(&agent);
    let tui = open_agent(&env, kind, ui);
    say(&tui, &mock, "MARK-1 hello");
    tui.wait_text("mock reply to MARK-1");
    wait_state(&env, kind, "waiting-for-input");
    let policies = r#"
[[policy]]
name = "session cap"
on = "llm_request"
session_spend_over = 0.000001
verdict = "deny"
reason = "this session has spent its cent"
"#;
    env.write_config(&format!("{policies}\n{agent}"));
    tui.wait_text("config reloaded");
    let answered = mock.answered().len();
    // Past the cap: refused at the proxy, and said plainly everywhere.
    tui.send(b"\x1b[200~MARK-2 more\x1b[201~");
    tui.wait_text("MARK-2 more");
    // (Gemini CLI drops an Enter too close to the paste: as a person would, press it again.)
    let deadline = std::time::Instant::now() + AGENT_DEADLINE;
    let told = |s: &vt100::Screen| s.contents().contains("this session has spent its cent");
    loop {
        tui.send(b"\r");
        if tui.poll_for(std::time::Duration::from_secs(2), told) {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "the agent never showed the reason:\n{}", tui.contents());
    }
    wait_state(&env, kind, "stopped-by-spend-cap");
    assert!(!tui.contents().contains("/login"), "{}", tui.contents());
    assert_eq!(mock.answered().len(), answered, "a refused call never reached the provider");
    tui.wait_text("\"session cap\" stopped the agents: raise it in your config");
}

#[test]
#[ignore = "needs the agent CLIs and a loopback-only network: run ./scripts/test"]
fn codex_in_ask_for_approval_mode_completes_a_call_approved_from_the_sidebar() {
    let env = agent_env();
    let work = env.dir.join("work");
    let mock = MockLlm::start("true");
    // "Ask for approval" in Codex's /permissions: its workspace-write sandbox, asking on
    // request. Its sandbox cannot run inside teamster's; teamster's takes its place.
    let mut config: toml::Table = toml::from_str(&agents::prepare(&env, "codex", &mock)).expect("TOML");
    let codex = config["agents"]["codex"].as_table().cloned().expect("codex entry");
    let mut codex = codex;
    let mut args = codex["args"].as_array().cloned().unwrap_or_default();
    args.extend(["-s", "workspace-write", "-a", "on-request"].map(toml::Value::from));
    codex.insert("args".into(), args.into());
    config["agents"].as_table_mut().expect("agents").insert("codex".into(), codex.into());
    env.write_config(&toml::to_string(&config).expect("TOML"));
    std::fs::create_dir_all(work.join("junk")).expect("junk");
    let tui = open_agent(&env, "codex", "OpenAI Codex");
    mock.set_command(&format!("rm -rf {}", work.join("junk").display()));
    say(&tui, &mock, &format!("MARK-1 {TRIGGER}"));
    // Its question waits in the sidebar; a key approves it, and the call runs (it would
    // fail in Codex's own sandbox: "error building bubblewrap command").
    held_action(&env, "junk");
    tui.prefix("s");
    tui.keys("y");
    wait_until("the approved call to run", || !work.join("junk").exists());
    tui.wait_text(TOOL_DONE);
    assert!(!tui.contents().contains("bubblewrap"), "{}", tui.contents());
}

#[test]
#[ignore = "needs the agent CLIs and a loopback-only network: run ./scripts/test"]
fn codex_switched_to_ask_for_approval_in_its_menu_still_completes_calls() {
    let env = agent_env();
    let work = env.dir.join("work");
    let mock = MockLlm::start("true");
    env.write_config(&agents::prepare(&env, "codex", &mock));
    let tui = open_agent(&env, "codex", "OpenAI Codex");
    // The user picks "Ask for approval" in Codex's own menu.
    tui.send(b"/permissions");
    tui.wait_text("› /permissions");
    tui.send(b"\r");
    tui.wait_text("Update Model Permissions");
    // Enter picks the first, "Ask for approval". A busy Codex may drop a key that comes
    // as its menu draws: a person would press it again (an extra Enter on an empty prompt
    // does nothing).
    let deadline = std::time::Instant::now() + AGENT_DEADLINE;
    loop {
        tui.send(b"\r");
        let chose = |s: &vt100::Screen| s.contents().contains("Permission selection requested: Ask for approval");
        if tui.poll_for(std::time::Duration::from_secs(2), chose) {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "the choice never took:\n{}", tui.contents());
    }
    // teamster takes Codex back to full access in its own sandbox, and says so.
    tui.wait_text("Permission selection requested: Full Access");
    tui.wait_text("Codex's own sandbox (Ask for approval) cannot run inside teamster's");
    // teamster holds its calls instead; approved in the sidebar, the call runs.
    let made = work.join("approved.txt");
    mock.set_command(&format!("touch {}", made.display()));
    say(&tui, &mock, &format!("MARK-1 {TRIGGER}"));
    held_action(&env, "approved.txt");
    assert!(!made.exists(), "the call ran before it was approved");
    tui.prefix("s");
    tui.keys("y");
    wait_until("the approved call to run", || made.exists());
    assert!(!tui.contents().contains("bubblewrap"), "{}", tui.contents());
}

/// The web page's line box, in headless Chromium, types a prompt into Claude Code and its
/// Enter submits it (it landed as text, unsent, when Enter came with it).
#[test]
#[ignore = "needs the agent CLIs and a loopback-only network: run ./scripts/test"]
fn the_web_pages_line_box_submits_a_prompt_to_claude_code() {
    let env = agent_env();
    let mock = MockLlm::start("true");
    env.write_config(&agents::prepare(&env, "claude", &mock));
    let _tui = open_agent(&env, "claude", "Claude Code");
    let server = support::share::Server::start(&env);
    let (_, _, drive) = support::share::share(&env, &["--server", &server.url()]);
    let drive = drive.expect("a drive link");
    support::share::runtime().block_on(async {
        let browser = support::browser::Browser::start_sized(390, 844).await;
        browser.open(&drive).await;
        browser.wait("the page to go live", "return document.getElementById('status').innerText === 'live'").await;
        browser.wait("Claude Code on the page", "return document.body.innerText.includes('Claude Code') && !!document.querySelector('.pane:not(.off) input.type')").await;
        browser
            .eval("const i = document.querySelector('.pane:not(.off) input.type'); i.value = 'MARK-PAGE from a phone'; i.dispatchEvent(new KeyboardEvent('keydown', { key: 'Enter', bubbles: true })); return true;")
            .await;
        mock.wait_request("the page's prompt", |r| r.is_turn() && r.text.contains("MARK-PAGE"));
        browser.wait("the answer on the page", "return document.body.innerText.includes('mock reply to MARK-PAGE') || null").await;
        browser.quit().await;
    });
}

/// Best of N with the real CLIs: Claude Code, Codex and Gemini CLI raced on one task
/// against the mock, which has each run a command that writes and commits its own
/// result (its worktree's name), once the worktree's setup file is there. Their branches
/// differ and compare counts them; a review comment reaches the agent it is for; the
/// chosen branch merges onto the base; the others' worktrees go and their branches stay.
#[test]
#[ignore = "needs the agent CLIs and a loopback-only network: run ./scripts/test"]
fn a_race_of_real_agents_is_compared_reviewed_and_merged() {
    let env = agent_env();
    let work = env.dir.join("work");
    support::repo(&work);
    // The setup's file is ignored, so a worktree with nothing else is clean.
    std::fs::write(work.join(".gitignore"), "setup-ran.txt\n").expect("ignore");
    git(&work, &["add", ".gitignore"]);
    git(&work, &["commit", "-qm", "the base"]);
    // No command substitution: Gemini CLI refuses to run one.
    let command = "test -f setup-ran.txt && basename \"$PWD\" > result.txt && git -c core.fsmonitor=false add result.txt && git -c core.fsmonitor=false -c user.name=agent -c user.email=a@a commit -qm result-committed";
    let mock = MockLlm::start(command);
    let config = prepared_together(&env, &mock, &["claude", "codex", "gemini"]);
    let setup = "[worktree]\nsetup = [\"echo ready > setup-ran.txt\"]\n";
    env.write_config(&format!("{setup}{}", toml::to_string(&config).expect("TOML")));
    env.ok(&["-d", "-s", "best"]);
    let out = env.run(&["race", &format!("{TRIGGER}: write your result"), "--agents", "claude,codex,gemini", "--json"]);
    let raced: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    if !out.status.success() {
        let screens: Vec<String> = (1..=3).map(|n| env.ok(&["capture", &format!("best:2.{n}")])).collect();
        panic!("the race did not start: {raced:#}\n{}", screens.join("\n----\n"));
    }
    let branches: Vec<String> = raced["panes"]
        .as_array()
        .expect("panes")
        .iter()
        .map(|p| p["branch"].as_str().expect("branch").to_string())
        .collect();
    assert_eq!(branches.len(), 3, "{raced}");
    eprintln!("race: three real agents working on the task after {:.1} s", raced["seconds"].as_f64().unwrap_or(0.0));
    // Each agent's own dialog for the command is answered from teamster's queue.
    let committed = |branch: &str| git(&work, &["log", "-1", "--format=%s", branch]) == "result-committed";
    let deadline = std::time::Instant::now() + AGENT_DEADLINE;
    loop {
        let out = env.run(&["approvals", "--json"]);
        let v: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
        for p in v["pending"].as_array().into_iter().flatten() {
            env.run(&["approve", &p["id"].to_string()]);
        }
        if branches.iter().all(|b| committed(b)) {
            break;
        }
        if std::time::Instant::now() > deadline {
            let screens: Vec<String> = (1..=3).map(|n| env.ok(&["capture", &format!("best:2.{n}")])).collect();
            let done: Vec<bool> = branches.iter().map(|b| committed(b)).collect();
            panic!("not every agent committed ({done:?}):\n{}", screens.join("\n----\n"));
        }
        // Another process's work has no event to wait on here: look again shortly.
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    // Three branches, three different results, each counted.
    let results: Vec<String> = branches.iter().map(|b| git(&work, &["show", &format!("{b}:result.txt")])).collect();
    let mut distinct = results.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), 3, "{results:?}");
    let compared: Value = serde_json::from_str(&env.ok(&["compare", "-t", "best", "--json"])).expect("JSON");
    for row in compared["panes"].as_array().expect("rows") {
        assert_eq!((row["files"].as_u64(), row["added"].as_u64()), (Some(1), Some(1)), "{row}");
    }
    // A review comment on claude's branch reaches claude, and only claude.
    let places: Vec<String> =
        raced["panes"].as_array().expect("panes").iter().map(|p| p["place"].as_str().expect("place").into()).collect();
    env.ok(&["wait", &places[0], "--for", "waiting"]);
    env.ok(&["review", &places[0], "-m", "result.txt:1: MARK-REVIEW say why"]);
    let asked = mock.wait_request("the review prompt", |r| r.is_turn() && r.text.contains("MARK-REVIEW"));
    assert_eq!(asked.route(), "/v1/messages", "the comment went to another agent than claude");
    // Claude's branch is merged; the others cleared, their branches kept.
    env.ok(&["wait", &places[0], "--for", "waiting"]);
    let merged = env.ok(&["merge", &places[0], "--close-others"]);
    assert!(merged.contains(&format!("merged {} into main", branches[0])), "{merged}");
    assert_eq!(std::fs::read_to_string(work.join("result.txt")).expect("merged"), results[0].clone() + "\n");
    for branch in &branches[1..] {
        let dir = env.dir.join("work.worktrees").join(branch.replace('/', "-"));
        wait_until("the others' worktrees to go", || !dir.exists());
        assert!(committed(branch), "{branch} was kept");
    }
}

/// A teammate forks a shared agent's conversation into a pane of their own, on their own
/// runner: the transcript travels through the share, sealed, and their agent of the same
/// kind resumes it, so what it sends the model carries the conversation so far.
#[test]
#[ignore = "needs the agent CLIs and a loopback-only network: run ./scripts/test"]
fn a_teammate_forks_a_shared_claude_code_conversation_into_their_own_runner() {
    fork_of("claude", "Claude Code");
}

#[test]
#[ignore = "needs the agent CLIs and a loopback-only network: run ./scripts/test"]
fn a_teammate_forks_a_shared_codex_conversation_into_their_own_runner() {
    fork_of("codex", "OpenAI Codex");
}

#[test]
#[ignore = "needs the agent CLIs and a loopback-only network: run ./scripts/test"]
fn a_teammate_forks_a_shared_pi_conversation_into_their_own_runner() {
    fork_of("pi", "mock-model");
}

#[test]
#[ignore = "needs the agent CLIs and a loopback-only network: run ./scripts/test"]
fn a_teammate_forks_a_shared_gemini_cli_conversation_into_their_own_runner() {
    fork_of("gemini", "gemini-api-key");
}

#[test]
#[ignore = "needs the agent CLIs and a loopback-only network: run ./scripts/test"]
fn a_teammate_forks_a_shared_opencode_conversation_into_their_own_runner() {
    fork_of("opencode", "Claude Sonnet 4.5");
}

fn fork_of(kind: &str, ui: &str) {
    let alice = agent_env();
    let mock = MockLlm::start("true");
    alice.write_config(&agents::prepare(&alice, kind, &mock));
    let tui = open_agent(&alice, kind, ui);
    say(&tui, &mock, "MARK-PELICAN is the word to remember");
    tui.wait_text("mock reply to MARK-PELICAN");
    // The turn over, and written down: its reply shows before its transcript has it, and
    // Claude Code writes its transcript a moment later still on a busy machine.
    wait_state(&alice, kind, "waiting-for-input");
    wait_until("the agent's transcript to hold its reply", || {
        holds(&alice.dir.join("home"), "mock reply to MARK-PELICAN")
    });
    let server = support::share::Server::start(&alice);
    let (_, _, drive) = support::share::share(&alice, &["--server", &server.url()]);
    let drive = drive.expect("a drive link");
    let pane = agent_pane(&alice, kind).expect("the agent's pane")["id"].to_string();

    let bob = agent_env();
    bob.write_config(&agents::prepare(&bob, kind, &mock));
    bob.ok(&["-d", "-s", "bob", "--size", "240x40"]);
    let out = bob.run(&["fork", &drive, "--pane", &pane, "--json"]);
    assert!(out.status.success(), "the fork failed: {}", String::from_utf8_lossy(&out.stderr));
    let forked: Value = serde_json::from_slice(&out.stdout).expect("fork --json");
    let mine = forked["pane"].to_string();
    wait_state(&bob, kind, "idle");
    // A resumed Codex draws its history after it first looks idle, and may drop what is
    // typed meanwhile: as a person would, send again if it was not taken.
    for attempt in 1.. {
        let sent = bob.run(&["send", &mine, "MARK-FORK which word was it?"]);
        if sent.status.success() {
            break;
        }
        assert!(
            attempt < 3,
            "{}; the forked pane:\n{}",
            String::from_utf8_lossy(&sent.stderr),
            bob.ok(&["capture", &mine])
        );
    }
    let asked =
        mock.wait_request("the forked conversation's next turn", |r| r.is_turn() && r.text.contains("MARK-FORK"));
    assert!(
        asked.text.contains("MARK-PELICAN"),
        "the resumed conversation carries what was said before: {:.2000}",
        asked.text
    );
    bob.wait_ls("the forked agent's answer", |_| {
        let screen = bob.ok(&["capture", &mine]);
        screen.contains("mock reply to MARK-FORK") && screen.contains("you first said: MARK-PELICAN")
    });
}

/// Whether a conversation file (`*.jsonl`, or opencode's database and its journal) beneath
/// `dir` holds `text`.
fn holds(dir: &std::path::Path, text: &str) -> bool {
    let Ok(entries) = std::fs::read_dir(dir) else { return false };
    entries.flatten().any(|e| {
        let path = e.path();
        let kept = path.extension().is_some_and(|x| x == "jsonl")
            || path.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with("opencode.db"));
        match e.file_type() {
            Ok(t) if t.is_dir() => holds(&path, text),
            Ok(t) if t.is_file() && kept => {
                std::fs::read(&path).is_ok_and(|b| b.windows(text.len()).any(|w| w == text.as_bytes()))
            }
            _ => false,
        }
    })
}
