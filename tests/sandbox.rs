//! The sandbox from inside: an agent (a script standing in for one) tries every way out
//! it has, each must fail, and the writes and connections it tried must be reported.
//! Then: `sandbox = "off"` is shown plainly, and a kernel without a protection refuses to
//! start an agent unless the user accepted running without it.

mod support;

use serde_json::Value;
use support::Env;

/// Each attempt prints `ESCAPED: what` if it worked, `blocked: what` if not.
const ESCAPES: &str = r#"#!/bin/bash
try() { local what="$1"; shift; if "$@" >/dev/null 2>&1; then echo "ESCAPED: $what"; else echo "blocked: $what"; fi; }
out="$PWD/results.txt"
{
try "write outside the workspace" sh -c 'echo x > "$HOME/outside.txt"'
try "write teamster's state" sh -c 'echo x > "$XDG_STATE_HOME/teamster/planted"'
try "read ~/.ssh/id_ed25519" cat "$HOME/.ssh/id_ed25519"
try "list teamster's state" ls "$XDG_STATE_HOME/teamster"
try "connect to an outside address" bash -c 'exec 3<>/dev/tcp/192.0.2.1/80'
try "connect to a loopback port" bash -c "exec 3<>/dev/tcp/127.0.0.1/$LOOPBACK_PORT"
try "reach the control socket" sh -c 'teamster ls | grep -q "session 0"'
try "see the control socket" test -S "$TEAMSTER_SOCKET"
try "read the real key from the environment" sh -c 'env | grep -q sk-real-secret'
try "read the real key from /proc" sh -c 'cat /proc/*/environ 2>/dev/null | tr "\0" "\n" | grep -q sk-real-secret'
try "signal the runner" kill -0 "$RUNNER_PID"
echo "key: $ANTHROPIC_API_KEY"
echo "inside" > "$PWD/inside.txt" && echo "wrote the workspace"
echo "temp" > "$TMPDIR/t" && echo "wrote its temp directory"
echo done
} > "$out" 2>&1
exec sleep 100000
"#;

fn start(env: &Env, extra: &str) {
    let script = env.dir.join("escape.sh");
    support::fake::write_script(&script, ESCAPES);
    env.write_config(&format!("[agents.escapee]\ncommand = \"{}\"\n{extra}", script.display()));
}

fn audit(env: &Env) -> Vec<Value> {
    let v: Value = serde_json::from_str(&env.ok(&["audit", "--json"])).expect("audit JSON");
    v["decisions"].as_array().cloned().unwrap_or_default()
}

fn results(env: &Env) -> String {
    let file = env.dir.join("work/results.txt");
    env.wait_ls("the escape attempts to finish", |_| std::fs::read_to_string(&file).is_ok_and(|r| r.contains("done")));
    std::fs::read_to_string(&file).unwrap_or_default()
}

#[test]
fn every_way_out_fails_and_the_tries_are_reported() {
    let env = Env::new();
    std::fs::create_dir_all(env.dir.join("home/.ssh")).expect("ssh dir");
    std::fs::write(env.dir.join("home/.ssh/id_ed25519"), "PLANTED-PRIVATE-KEY").expect("key");
    // A port on the machine's loopback that is not the proxy.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("listener");
    let port = listener.local_addr().expect("addr").port().to_string();
    start(&env, "");
    let tui = env.tui(&[], 160, 40);
    tui.wait_prompt();
    let runner = env.runner_pid().expect("runner").to_string();
    let out = env
        .cmd(&["new", "escapee", "--right"])
        .env("ANTHROPIC_API_KEY", "sk-real-secret")
        .env("LOOPBACK_PORT", &port)
        .env("RUNNER_PID", &runner)
        .output()
        .expect("new");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let r = results(&env);
    assert!(!r.contains("ESCAPED"), "something got out:\n{r}");
    for what in [
        "write outside",
        "read ~/.ssh",
        "connect to an outside address",
        "connect to a loopback port",
        "reach the control socket",
        "read the real key from /proc",
        "signal the runner",
    ] {
        assert!(r.contains(&format!("blocked: {what}")), "{what} not tried:\n{r}");
    }
    assert!(!env.dir.join("home/outside.txt").exists());
    // It holds a placeholder, and it can work where it should.
    assert!(r.contains("key: teamster-placeholder-ANTHROPIC_API_KEY"), "{r}");
    assert!(r.contains("wrote the workspace") && r.contains("wrote its temp directory"), "{r}");

    // Each refused write and connection is in the audit log, said plainly.
    let log = audit(&env);
    let refused: Vec<String> = log
        .iter()
        .filter(|d| d["by"] == "sandbox")
        .map(|d| d["what"].as_str().unwrap_or_default().to_string())
        .collect();
    let home = env.dir.join("home/outside.txt");
    for expected in [
        format!("write to {}", home.display()),
        "connection to 192.0.2.1:80".into(),
        format!("connection to 127.0.0.1:{port}"),
    ] {
        assert!(refused.iter().any(|w| w.starts_with(&expected)), "{expected} not reported: {refused:#?}");
    }
    // The pane's title counts them, and the sidebar's history lists them.
    tui.wait_text("refused");
    tui.alt("s");
    tui.wait_text("sandbox refused");
    tui.wait_text("192.0.2.1:80");
}

#[test]
fn an_agent_with_the_sandbox_off_says_so_and_runs_as_you() {
    let env = Env::new();
    start(&env, "sandbox = \"off\"\n");
    let tui = env.tui(&[], 160, 40);
    tui.wait_prompt();
    env.ok(&["new", "escapee", "--right"]);
    tui.wait_text("sandbox off");
    let r = results(&env);
    assert!(r.contains("ESCAPED: write outside the workspace"), "{r}");
    assert!(env.dir.join("home/outside.txt").exists());
}

#[test]
fn a_kernel_without_a_protection_refuses_unless_you_accept_it() {
    let env = Env::new();
    start(&env, "");
    // The runner is told the kernel lacks Landlock.
    let started =
        env.cmd(&["-d", "--", "sh"]).env("TEAMSTER_SANDBOX_PRETEND_MISSING", "landlock").output().expect("start");
    assert!(started.status.success());
    let out = env.run(&["new", "escapee"]);
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "started without Landlock");
    assert!(said.contains("lacks landlock") && said.contains("run_without = [\"landlock\"]"), "{said}");
    assert!(!env.dir.join("work/results.txt").exists());
    // Accepted in the config: it starts.
    start(&env, "[sandbox]\nrun_without = [\"landlock\"]\n");
    env.ok(&["new", "escapee"]);
    assert!(results(&env).contains("done"));
}
