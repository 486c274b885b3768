//! The sandbox from inside: an agent (a script standing in for one) tries every way out
//! it has, each must fail, and the writes and connections it tried must be reported.
//! Started in the home directory, with a secret behind a symlink, it still sees none.
//! Then: `sandbox = "off"` is shown plainly, and a kernel without a protection refuses to
//! start an agent unless the user accepted running without it (and then runs without it).

mod support;

use support::Env;

/// Each attempt prints `ESCAPED: what` if it worked, `blocked: what` if not.
const ESCAPES: &str = r#"#!/bin/bash
try() { local what="$1"; shift; if "$@" >/dev/null 2>&1; then echo "ESCAPED: $what"; else echo "blocked: $what"; fi; }
out="${RESULTS:-$PWD/results.txt}"
{
try "write outside the workspace" sh -c 'echo x > "$HOME/outside.txt"'
try "write teamster's state" sh -c 'echo x > "$XDG_STATE_HOME/teamster/planted"'
try "read ~/.ssh/id_ed25519" cat "$HOME/.ssh/id_ed25519"
try "read a file the config hides" cat "${HIDDEN_FILE:-/nonexistent}"
try "list teamster's state" ls "$XDG_STATE_HOME/teamster"
try "connect to an outside address" bash -c 'exec 3<>/dev/tcp/192.0.2.1/80'
try "connect to a loopback port" bash -c "exec 3<>/dev/tcp/127.0.0.1/$LOOPBACK_PORT"
try "reach the control socket" sh -c 'teamster ls | grep -q "session 0"'
try "see the control socket" test -S "$TEAMSTER_SOCKET"
try "read the real key from the environment" sh -c 'env | grep -q sk-real-secret'
try "read the real key from /proc" sh -c 'cat /proc/*/environ 2>/dev/null | tr "\0" "\n" | grep -q sk-real-secret'
try "signal the runner" kill -0 "$RUNNER_PID"
try "write another terminal" sh -c 'for t in /dev/pts/[0-9]*; do [ -c "$t" ] && (echo x > "$t") 2>/dev/null && exit 0; done; exit 1'
timeout 2 teamster hook claude Stop --socket "$BUS" --token x </dev/null >/dev/null 2>&1
echo "key: $ANTHROPIC_API_KEY"
(echo "its own output" > /dev/stderr) 2>>"$TMPDIR/err" && echo "wrote /dev/stderr"
echo "through a pipe" > >(cat >/dev/null) && echo "wrote a process substitution"
script -qc true /dev/null >/dev/null 2>&1 && echo "made a terminal of its own"
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

/// What an agent could want that is outside its sandbox: a secret, a process holding the
/// real key (as your shell would), a port on this machine and a Unix socket (as a session
/// bus or an SSH agent).
struct Bait {
    keyholder: std::process::Child,
    port: std::net::TcpListener,
    bus: std::os::unix::net::UnixListener,
    bus_path: std::path::PathBuf,
}

impl Bait {
    fn plant(env: &Env) -> Bait {
        std::fs::create_dir_all(env.dir.join("home/.ssh")).expect("ssh dir");
        std::fs::write(env.dir.join("home/.ssh/id_ed25519"), "PLANTED-PRIVATE-KEY").expect("key");
        let keyholder = std::process::Command::new("sleep")
            .arg("100000")
            .env("ANTHROPIC_API_KEY", "sk-real-secret")
            .spawn()
            .expect("a process with the key");
        let port = std::net::TcpListener::bind("127.0.0.1:0").expect("listener");
        let bus_path = env.dir.join("bus.sock");
        let bus = std::os::unix::net::UnixListener::bind(&bus_path).expect("bus");
        bus.set_nonblocking(true).expect("nonblocking");
        Bait { keyholder, port, bus, bus_path }
    }

    /// Starts the agent `name` with the bait in its environment; it writes what it got to
    /// `results`.
    fn start_agent(&self, env: &Env, name: &str, results: &std::path::Path) {
        let runner = env.runner_pid().expect("runner").to_string();
        let out = env
            .cmd(&["new", name, "--right"])
            .env("ANTHROPIC_API_KEY", "sk-real-secret")
            .env("LOOPBACK_PORT", self.port.local_addr().expect("addr").port().to_string())
            .env("RUNNER_PID", &runner)
            .env("BUS", &self.bus_path)
            .env("RESULTS", results)
            .output()
            .expect("new");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }

    fn bus_was_reached(&self) -> bool {
        self.bus.accept().is_ok()
    }
}

impl Drop for Bait {
    fn drop(&mut self) {
        let _ = self.keyholder.kill();
        let _ = self.keyholder.wait();
    }
}

/// What the escape script wrote to `file`, once it is done.
fn results_in(env: &Env, file: &std::path::Path) -> String {
    env.wait_ls("the escape attempts to finish", |_| std::fs::read_to_string(file).is_ok_and(|r| r.contains("done")));
    std::fs::read_to_string(file).unwrap_or_default()
}

fn results(env: &Env) -> String {
    results_in(env, &env.dir.join("work/results.txt"))
}

#[test]
fn every_way_out_fails_and_the_tries_are_reported() {
    let env = Env::new();
    let bait = Bait::plant(&env);
    let port = bait.port.local_addr().expect("addr").port().to_string();
    start(&env, "");
    let tui = env.tui(&[], 160, 40);
    tui.wait_prompt();
    bait.start_agent(&env, "escapee", &env.dir.join("work/results.txt"));
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
        "write another terminal",
    ] {
        assert!(r.contains(&format!("blocked: {what}")), "{what} not tried:\n{r}");
    }
    assert!(!env.dir.join("home/outside.txt").exists());
    // It holds a placeholder, and it can work where it should.
    assert!(r.contains("key: teamster-placeholder-ANTHROPIC_API_KEY"), "{r}");
    assert!(r.contains("wrote the workspace") && r.contains("wrote its temp directory"), "{r}");
    assert!(r.contains("wrote /dev/stderr") && r.contains("wrote a process substitution"), "{r}");
    assert!(r.contains("made a terminal of its own"), "{r}");
    assert!(!bait.bus_was_reached(), "a Unix socket outside was reached");

    // Each refused write and connection is in the audit log, said plainly.
    let refused = env.sandbox_refusals();
    let home = env.dir.join("home/outside.txt");
    for expected in [
        format!("write to {}", home.display()),
        "connection to 192.0.2.1:80".into(),
        format!("connection to 127.0.0.1:{port}"),
        format!("connection to the Unix socket {}", bait.bus_path.display()),
    ] {
        assert!(refused.iter().any(|w| w.starts_with(&expected)), "{expected} not reported: {refused:#?}");
    }
    // The pane's title counts them, and the sidebar's history lists them.
    tui.wait_text("refused");
    tui.prefix("s");
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
    // Accepted in the config: it starts, and really runs without Landlock (the secret and
    // a file the config hides are readable: only Landlock hides them), while the rest of
    // the sandbox holds.
    std::fs::create_dir_all(env.dir.join("home/.ssh")).expect("ssh dir");
    std::fs::write(env.dir.join("home/.ssh/id_ed25519"), "PLANTED-PRIVATE-KEY").expect("key");
    start(&env, "[sandbox]\nrun_without = [\"landlock\"]\nhidden = [\"/etc/hostname\"]\n");
    let out = env.cmd(&["new", "escapee"]).env("HIDDEN_FILE", "/etc/hostname").output().expect("new");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let r = results(&env);
    assert!(r.contains("done"));
    assert!(r.contains("ESCAPED: read a file the config hides"), "{r}");
    assert!(r.contains("ESCAPED: read ~/.ssh/id_ed25519"), "{r}");
    assert!(r.contains("blocked: connect to an outside address"), "{r}");
}

#[test]
fn started_in_the_home_directory_it_still_sees_no_secret() {
    let env = Env::new();
    let bait = Bait::plant(&env);
    std::fs::create_dir_all(env.dir.join("home/src")).expect("src");
    // The key lives in a dotfiles folder, ~/.ssh is a symlink to it (as stow makes).
    let home = env.dir.join("home");
    std::fs::create_dir_all(home.join("dotfiles")).expect("dotfiles");
    std::fs::rename(home.join(".ssh"), home.join("dotfiles/ssh")).expect("move");
    std::os::unix::fs::symlink(home.join("dotfiles/ssh"), home.join(".ssh")).expect("symlink");
    start(&env, "cwd = \"~\"\n");
    let tui = env.tui(&[], 160, 40);
    tui.wait_prompt();
    let file = home.join("src/results.txt");
    bait.start_agent(&env, "escapee", &file);
    let r = results_in(&env, &file);
    for what in ["read ~/.ssh/id_ed25519", "write teamster's state", "list teamster's state"] {
        assert!(r.contains(&format!("blocked: {what}")), "{what}:\n{r}");
    }
    // Its workspace is the home directory: it writes beneath it (the results came), but not
    // new files at its top (Landlock cannot open a directory except for some entries).
    assert!(r.contains("blocked: write outside the workspace"), "{r}");
    let through = std::process::Command::new("cat").arg(home.join("dotfiles/ssh/id_ed25519")).output().expect("cat");
    assert!(String::from_utf8_lossy(&through.stdout).contains("PLANTED"), "the planted key is where it should be");
}

/// A sandboxed Claude Code (a script in its place) plants code where the Claude you run
/// yourself would run it, and writes its own state.
const PLANTER: &str = r#"#!/bin/bash
try() { local what="$1"; shift; if "$@" >/dev/null 2>&1; then echo "ESCAPED: $what"; else echo "blocked: $what"; fi; }
ok() { local what="$1"; shift; if "$@" >/dev/null 2>&1; then echo "wrote: $what"; else echo "FAILED: $what"; fi; }
out="$PWD/planted.txt"
{
try "hooks in ~/.claude/settings.json" sh -c 'echo "{\"hooks\":{}}" > "$HOME/.claude/settings.json"'
try "a plugin in ~/.claude/plugins" sh -c 'mkdir -p "$HOME/.claude/plugins/evil" && echo x > "$HOME/.claude/plugins/evil/run.sh"'
try "an MCP server in ~/.claude.json" sh -c 'echo "{\"mcpServers\":{}}" > "$HOME/.claude.json"'
try "a native version of claude" sh -c 'mkdir -p "$HOME/.local/share/claude/versions" && echo x > "$HOME/.local/share/claude/versions/9.9.9"'
ok "its own .claude.json" sh -c 'echo "{\"numStartups\":2}" > "$CLAUDE_CONFIG_DIR/.claude.json"'
ok "its transcripts" sh -c 'mkdir -p "$HOME/.claude/projects/p" && echo x > "$HOME/.claude/projects/p/t.jsonl"'
echo done
} > "$out" 2>&1
exec sleep 100000
"#;

#[test]
fn an_agent_plants_no_code_that_you_would_run_outside_and_keeps_its_own_state() {
    let env = Env::new();
    let home = env.dir.join("home");
    std::fs::create_dir_all(home.join(".claude")).expect(".claude");
    std::fs::write(home.join(".claude/settings.json"), "{\"model\": \"yours\"}\n").expect("settings");
    std::fs::write(home.join(".claude.json"), "{\"numStartups\": 1}\n").expect(".claude.json");
    let script = env.dir.join("planter.sh");
    support::fake::write_script(&script, PLANTER);
    env.write_config(&format!("[agents.planter]\nkind = \"claude\"\ncommand = \"{}\"\n", script.display()));
    env.ok(&["-d", "-s", "plant", "--", "sleep", "100000"]);
    env.ok(&["new", "-t", "plant", "planter"]);
    let file = env.dir.join("work/planted.txt");
    let r = results_in(&env, &file);
    assert!(!r.contains("ESCAPED"), "code planted where you would run it:\n{r}");
    assert!(!r.contains("FAILED"), "its own state refused:\n{r}\n{:#?}", env.sandbox_refusals());
    assert_eq!(
        std::fs::read_to_string(home.join(".claude/settings.json")).ok().as_deref(),
        Some("{\"model\": \"yours\"}\n")
    );
    assert_eq!(std::fs::read_to_string(home.join(".claude.json")).ok().as_deref(), Some("{\"numStartups\": 1}\n"));
    assert!(!home.join(".claude/plugins/evil").exists() && !home.join(".local/share/claude/versions/9.9.9").exists());
    // Its own state file started from yours and is its own to change.
    assert_eq!(
        std::fs::read_to_string(home.join(".claude/.claude.json")).ok().as_deref(),
        Some("{\"numStartups\":2}\n")
    );
    // The tries are reported.
    let refused = env.sandbox_refusals();
    assert!(refused.iter().any(|w| w.contains(".claude/settings.json") && w.contains("read-only")), "{refused:#?}");
}
