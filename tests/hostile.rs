//! A hostile agent in a sandboxed pane (`examples/hostile.rs`: threads and raw system
//! calls) tries each way out: flipping a connect's address from another thread after the
//! runner has looked at it, a Unix socket of the user's it can see, socket families it has
//! no use for, other processes in /proc, another pane's hook socket, the files that make
//! the user's tools run code. Each must fail, be reported where the user looks, and leave
//! the user's files as they were; what an agent needs (its own sockets, its workspace)
//! must keep working.

mod support;

use support::Env;

/// The hostile program, built by `cargo build --all-targets` (as `scripts/test` does); a
/// plain `cargo test --test hostile` does not build examples.
fn hostile() -> std::path::PathBuf {
    let program = support::bin().parent().map(|d| d.join("examples/hostile")).unwrap_or_default();
    let built = std::fs::metadata(&program).and_then(|m| m.modified()).ok();
    let source =
        std::fs::metadata(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/hostile.rs")).and_then(|m| m.modified()).ok();
    assert!(
        built.is_some() && built >= source,
        "{} is missing or older than examples/hostile.rs: run `cargo build --examples` (scripts/test does)",
        program.display()
    );
    program
}

struct World {
    env: Env,
    bus: std::os::unix::net::UnixListener,
    bus_path: std::path::PathBuf,
    results: std::path::PathBuf,
    outside: std::os::unix::net::UnixListener,
    /// A System V shared memory segment of the user's.
    shm: i32,
}

impl Drop for World {
    fn drop(&mut self) {
        // SAFETY: removes the segment this test made.
        unsafe { libc::shmctl(self.shm, libc::IPC_RMID, std::ptr::null_mut()) };
    }
}

/// A workspace that is a git repository with editor settings, a Unix socket of the user's
/// in a directory the sandbox shows (read-only), and the hostile agent configured.
fn world() -> World {
    let env = Env::new();
    let work = env.dir.join("work");
    let git = std::process::Command::new("git").args(["init", "-q"]).current_dir(&work).status().expect("git");
    assert!(git.success());
    std::fs::create_dir_all(work.join(".vscode")).expect(".vscode");
    // Your git runs hooks from the tree.
    let hooks =
        std::process::Command::new("git").args(["config", "core.hooksPath", "hooks"]).current_dir(&work).status();
    assert!(hooks.is_ok_and(|s| s.success()));
    std::fs::write(work.join(".vscode/settings.json"), "{\"editor.tabSize\": 4}\n").expect("settings");
    let shared = env.dir.join("shared");
    std::fs::create_dir_all(&shared).expect("shared");
    let bus_path = shared.join("bus.sock");
    let bus = std::os::unix::net::UnixListener::bind(&bus_path).expect("bus");
    bus.set_nonblocking(true).expect("nonblocking");
    env.write_config(&format!(
        "[agents.hostile]\ncommand = \"{}\"\n[agents.waiter]\ncommand = \"sleep\"\nargs = [\"100000\"]\n[sandbox]\nreadable = [\"{}\"]\n",
        hostile().display(),
        shared.display()
    ));
    // Dotfiles kept elsewhere: the project's .codex is a symlink to them.
    std::fs::create_dir_all(work.join("dots/codex")).expect("dots");
    std::os::unix::fs::symlink("dots/codex", work.join(".codex")).expect("symlink");
    // A program of yours listening in the workspace (a project's database, say).
    let outside = std::os::unix::net::UnixListener::bind(work.join("outside.sock")).expect("outside.sock");
    outside.set_nonblocking(true).expect("nonblocking");
    nix::unistd::mkfifo(&work.join("go.fifo"), nix::sys::stat::Mode::from_bits_truncate(0o600)).expect("fifo");
    let results = env.dir.join("work/results.txt");
    // SAFETY: shmget takes plain values.
    let shm = unsafe { libc::shmget(0x7e57, 4096, libc::IPC_CREAT | 0o600) };
    assert!(shm >= 0, "no System V shared memory to try");
    World { env, bus, bus_path, results, outside, shm }
}

impl World {
    fn start(&self) {
        let out = self
            .env
            .cmd(&["new", "hostile"])
            .env("BUS", &self.bus_path)
            .env("RESULTS", &self.results)
            .env("RACES", "3000")
            .output()
            .expect("new");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }

    /// What the agent wrote, all of it: half way, your own git rewrites `.git/config` (by
    /// renaming a new one over it, as `git config` does), then the agent goes on.
    fn results(&self) -> String {
        self.results_up_to("waiting for your git");
        let work = self.env.dir.join("work");
        let git = std::process::Command::new("git")
            .args(["config", "user.name", "you"])
            .current_dir(&work)
            .status()
            .expect("git config");
        // It fails when git follows something the agent planted (a `.git/commondir`).
        assert!(
            git.success(),
            "your own git failed in the workspace after the agent:\n{}",
            self.results_up_to("waiting for your git")
        );
        std::fs::write(work.join("go.fifo"), "go").expect("the agent's FIFO");
        self.results_up_to("done")
    }

    /// What the agent wrote, once it has written `line`.
    fn results_up_to(&self, line: &str) -> String {
        let file = &self.results;
        self.env.wait_ls(&format!("the hostile agent to say {line}"), |_| {
            std::fs::read_to_string(file).is_ok_and(|r| r.lines().any(|l| l == line))
        });
        std::fs::read_to_string(file).unwrap_or_default()
    }
}

#[test]
fn a_hostile_agent_gets_nowhere_and_keeps_what_it_needs() {
    let w = world();
    w.env.ok(&["-d", "--", "sh"]);
    // Another agent pane, whose hook socket the hostile one must not reach.
    w.env.ok(&["new", "waiter"]);
    w.start();
    let r = w.results();
    let sockets = std::fs::read_dir(w.env.dir.join("run/teamster/hooks")).map(|d| d.count()).unwrap_or(0);
    assert!(sockets >= 2, "the other pane's hook socket was not there to try");
    assert!(!r.contains("ESCAPED"), "something got out:\n{r}");
    assert!(!r.contains("BROKEN"), "something an agent needs broke:\n{r}");
    for what in [
        "connect by flipping the proxy's address to a Unix path",
        "connect by flipping its own socket's path to the user's",
        "connect to the user's Unix socket",
        "open a vsock socket",
        "open a netlink audit socket",
        "open a Unix datagram socket",
        "open a raw Unix socket (a datagram one)",
        "open a raw IPv4 socket",
        "see processes outside the sandbox in /proc",
        "hold capabilities in its namespaces",
        "unmount what covers /run",
        "connect to another pane's hook socket",
        "write .git/config",
        "replace .git/config",
        "plant a git hook",
        "write .vscode/settings.json",
        "create .mcp.json",
        "create .envrc",
        "create .claude/settings.json",
        "create a Claude command",
        "create a husky hook",
        "create a hook where core.hooksPath points",
        "create .pre-commit-config.yaml",
        "create Pi's project settings",
        "symlink .gemini to a directory it wrote",
        "rename a directory to .opencode",
        "rename a file to .envrc",
        "hard-link a file to .envrc",
        "create .envrc through a dangling symlink",
        "create .envrc through /proc/self/cwd",
        "move .git aside (to make a new one)",
        "move .claude aside",
        "create .envrc by flipping a path after the runner looked",
        "create .git/commondir",
        "make .git/modules",
        "create .git/config.worktree",
        "make a nested repository's .git",
        "make a nested .git file",
        "create a protected file where it really is",
        "create a protected file through its symlink",
        "talk to a socket the user's program made in the workspace",
        "reach the user's System V shared memory",
        "write .git/config after your git replaced it",
        "write .git/config through a hard link to it",
        "write .git/config by opening it again through /proc/self/fd",
    ] {
        assert!(r.contains(&format!("blocked: {what}")), "{what} not tried:\n{r}");
    }
    for what in [
        "its own Unix socket",
        "its own abstract socket",
        "reach the proxy from a thread",
        "a netlink route socket",
        "write the workspace",
        "make the directory .claude",
        "make directories",
        "make a symlink",
        "make a hard link",
        "rename",
        "create through a symlink",
        "refuse O_EXCL on what exists",
        "honour the umask",
        "close on exec only when asked",
        "open blocking unless asked",
        "open /dev/stderr to write",
        "write a FIFO before its reader opens it",
        "write in .git (commits)",
        "open /dev/tty to write",
    ] {
        assert!(r.contains(&format!("works: {what}")), "{what}:\n{r}");
    }
    // Nothing reached the user's socket, and the user's files are as they were.
    assert!(w.bus.accept().is_err(), "the user's Unix socket was reached");
    // The config is what your own git made of it, nothing planted.
    let config = std::fs::read_to_string(w.env.dir.join("work/.git/config")).expect("config");
    assert!(config.contains("name = you") && !config.contains("fsmonitor"), "{config}");
    assert!(!w.env.dir.join("work/.git/hooks/pre-commit").exists());
    assert_eq!(
        std::fs::read_to_string(w.env.dir.join("work/.vscode/settings.json")).expect("settings"),
        "{\"editor.tabSize\": 4}\n"
    );
    let work = w.env.dir.join("work");
    // Nothing reached your program's socket but a connection closed unused.
    let mut said = Vec::new();
    while let Ok((mut c, _)) = w.outside.accept() {
        use std::io::Read;
        c.set_nonblocking(false).expect("blocking");
        let _ = c.read_to_end(&mut said);
    }
    assert!(said.is_empty(), "your program's socket was sent {:?}", String::from_utf8_lossy(&said));
    for missing in [
        ".mcp.json",
        ".envrc",
        ".claude/settings.json",
        ".gemini",
        ".opencode",
        ".git/commondir",
        ".git/modules",
        "sub/.git",
        "dots/codex/config.toml",
    ] {
        assert!(work.join(missing).symlink_metadata().is_err(), "{missing} was made");
    }
    assert!(work.join(".git/config").is_file() && work.join("made/deeper/b").is_file());
    // The refused connection is where the user looks.
    let refused = w.env.sandbox_refusals();
    let expected = format!("connection to the Unix socket {}", w.bus_path.display());
    assert!(refused.iter().any(|w| w.starts_with(&expected)), "{expected} not reported: {refused:#?}");
    // A protected file is said to be one, not "outside the workspace".
    let config =
        format!("write to {} (a file that makes your tools run code", w.env.dir.join("work/.git/config").display());
    assert!(refused.iter().any(|w| w.starts_with(&config)), "{config} not reported: {refused:#?}");
    // So is one that was not there yet.
    let mcp = format!("write to {} (a file that makes your tools run code", work.join(".mcp.json").display());
    assert!(refused.iter().any(|w| w.starts_with(&mcp)), "{mcp} not reported: {refused:#?}");
}

/// The runner writes a Claude pane's files where the agent can write (its own state). A
/// symlink the agent planted there, to a file a login shell runs, is replaced, not
/// followed; the pane's own settings live where the agent cannot write.
#[test]
fn the_runner_writes_through_no_symlink_an_agent_planted() {
    let env = Env::new();
    let home = env.dir.join("home");
    std::fs::create_dir_all(home.join(".claude")).expect(".claude");
    std::fs::write(home.join(".claude.json"), "{\"hasCompletedOnboarding\":true}").expect("claude.json");
    std::os::unix::fs::symlink(home.join(".bash_profile"), home.join(".claude/.claude.json")).expect("plant");
    let script = env.dir.join("fake-claude.sh");
    support::fake::write_script(
        &script,
        "#!/bin/sh\necho x > \"$(dirname \"$2\")/claude-settings.json\" 2>/dev/null && echo WROTE-SETTINGS > \"$PWD/r.txt\"\necho done >> \"$PWD/r.txt\"\nexec sleep 100000\n",
    );
    env.write_config(&format!("[agents.fake]\nkind = \"claude\"\ncommand = \"{}\"\n", script.display()));
    env.ok(&["-d", "--", "sh"]);
    env.ok(&["new", "fake"]);
    let results = env.dir.join("work/r.txt");
    env.wait_ls("the fake agent to start", |_| std::fs::read_to_string(&results).is_ok_and(|r| r.contains("done")));
    assert!(!home.join(".bash_profile").exists(), "the runner wrote through the agent's symlink");
    let meta = std::fs::symlink_metadata(home.join(".claude/.claude.json")).expect("written");
    assert!(meta.is_file(), "the planted symlink is still there");
    let r = std::fs::read_to_string(&results).unwrap_or_default();
    assert!(!r.contains("WROTE-SETTINGS"), "the agent rewrote its pane's settings:\n{r}");
}

fn git(dir: &std::path::Path, args: &[&str]) -> String {
    let out = std::process::Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .output()
        .expect("git");
    assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A sandboxed agent commits in its workspace and in a `--worktree` pane (git's index lock
/// for a worktree lies in the main repository's `.git/worktrees`), while the git
/// configuration the runner and the user's git read stays the user's. A fsmonitor planted
/// in the repository's config before the agent started never runs from the runner's git.
#[test]
fn commits_work_in_a_sandboxed_worktree_and_the_runners_git_runs_nothing_planted() {
    let env = Env::new();
    let work = env.dir.join("work");
    git(&work, &["init", "-q", "-b", "main"]);
    git(&work, &["config", "user.email", "t@t"]);
    git(&work, &["config", "user.name", "t"]);
    std::fs::write(work.join("a.txt"), "a").expect("a");
    git(&work, &["add", "."]);
    git(&work, &["commit", "-qm", "first"]);
    // As an unsandboxed agent (or one of old) could have left it: a fsmonitor that writes
    // a mark wherever it runs.
    let mark = env.dir.join("FSMONITOR-RAN");
    let monitor = env.dir.join("monitor.sh");
    support::fake::write_script(&monitor, &format!("#!/bin/sh\ntouch {}\n", mark.display()));
    git(&work, &["config", "core.fsmonitor", &monitor.to_string_lossy()]);
    let script = env.dir.join("committer.sh");
    support::fake::write_script(
        &script,
        "#!/bin/sh\nexport GIT_AUTHOR_NAME=a GIT_AUTHOR_EMAIL=a@a GIT_COMMITTER_NAME=a GIT_COMMITTER_EMAIL=a@a\n\
         git -c core.fsmonitor=false config core.hooksPath /tmp/x > /dev/null 2>&1 && echo 'ESCAPED: set core.hooksPath'\n\
         echo change > b.txt && git -c core.fsmonitor=false add b.txt && git -c core.fsmonitor=false commit -qm 'by the agent' && echo committed\n\
         gd=$(git -c core.fsmonitor=false rev-parse --absolute-git-dir)\n\
         for f in commondir gitdir config.worktree; do\n\
           printf 'x\\n' >> \"$gd/$f\" 2>/dev/null && echo \"ESCAPED: wrote $f\" >> \"$PWD/escapes.txt\"\n\
         done\n\
         mkdir -p evil && printf '[core]\\n\\tfsmonitor = touch /tmp/PWNED\\n' > evil/config\n\
         echo \"$PWD/evil\" > c.new && mv c.new \"$gd/commondir\" 2>/dev/null && echo 'ESCAPED: replaced commondir' >> \"$PWD/escapes.txt\"\n\
         echo done > \"$PWD/r.txt\"\nexec sleep 100000\n",
    );
    env.write_config(&format!("[agents.committer]\ncommand = \"{}\"\n", script.display()));
    env.ok(&["-d", "--", "sh"]);
    env.ok(&["new", "committer", "--worktree", "feature"]);
    // Beside the repository, where `[worktree] dir` puts worktrees by default.
    let worktree = env.dir.join("work.worktrees/feature");
    let results = worktree.join("r.txt");
    env.wait_ls("the agent to commit", |_| results.exists());
    let log = git(&work, &["log", "--format=%s", "feature"]);
    assert!(log.contains("by the agent"), "the agent could not commit in its worktree:\n{log}");
    assert!(!git(&work, &["config", "--list", "--local"]).contains("hookspath"), "the agent set core.hooksPath");
    assert!(!mark.exists(), "the planted fsmonitor ran from the runner's git");
    // Where the worktree's git finds the repository, its config and hooks stays yours.
    let escapes = std::fs::read_to_string(worktree.join("escapes.txt")).unwrap_or_default();
    assert!(escapes.is_empty(), "{escapes}");
    let commondir = std::fs::read_to_string(work.join(".git/worktrees/feature/commondir")).expect("commondir");
    assert_eq!(commondir.trim(), "../..");
}

/// Worktrees kept inside the repository (`[worktree] dir = ".worktrees"`) are where agents
/// write: a symlink one planted there is not followed when the next worktree is made.
#[test]
fn a_worktree_is_never_made_through_a_symlink_an_agent_planted() {
    let env = Env::new();
    let work = env.dir.join("work");
    git(&work, &["init", "-q", "-b", "main"]);
    git(&work, &["-c", "user.email=t@t", "-c", "user.name=t", "commit", "-q", "--allow-empty", "-m", "first"]);
    let elsewhere = env.dir.join("elsewhere");
    std::fs::create_dir_all(&elsewhere).expect("elsewhere");
    std::os::unix::fs::symlink(&elsewhere, work.join(".worktrees")).expect("planted");
    env.write_config("[worktree]\ndir = \".worktrees\"\n[agents.waiter]\ncommand = \"sleep\"\nargs = [\"100000\"]\n");
    env.ok(&["-d", "--", "sh"]);
    let out = env.run(&["new", "waiter", "--worktree", "feature"]);
    assert!(!out.status.success(), "a worktree was made through the planted symlink");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("[worktree] dir"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(std::fs::read_dir(&elsewhere).map(|d| d.count()).unwrap_or(0), 0, "something was made where it led");
}
