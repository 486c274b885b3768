//! Test harness: teamster as a user meets it.
//!
//! Each `Env` is a private world (its own XDG directories, HOME and so its own runner).
//! `Tui` runs the real `teamster` binary in a PTY of a given size and reads its output
//! through an independent terminal parser (`vt100`), answering the queries a real
//! terminal answers. Every wait is for a condition, with a deadline; nothing sleeps.

#![allow(dead_code)]

pub mod agents;
pub mod browser;
pub mod fake;
pub mod githost;
pub mod mock_llm;
pub mod pty;
pub mod share;

use std::io::{Read, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

pub const DEADLINE: Duration = Duration::from_secs(20);
/// For real agent CLIs: Node start-up and model turns on 2 busy cores.
pub const AGENT_DEADLINE: Duration = Duration::from_secs(120);

pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_teamster"))
}

pub struct Env {
    pub dir: PathBuf,
    /// More environment for every teamster this world runs (the runner included).
    pub extra_env: Vec<(String, String)>,
    /// How long waits wait: agents that start Node and talk to a mock need longer.
    pub deadline: Duration,
}

static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

impl Env {
    pub fn new() -> Env {
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let dir = std::env::temp_dir().join(format!("teamster-test-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        for d in ["run", "config/teamster", "state", "home", "work"] {
            std::fs::create_dir_all(dir.join(d)).expect("test dirs");
        }
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir.join("run"), std::fs::Permissions::from_mode(0o700)).expect("chmod");
        // A shell with a known prompt and no user or system start-up files.
        let shell = dir.join("test-shell");
        fake::write_script(&shell, "#!/bin/sh\nPS1='$ ' exec bash --noprofile --norc -i\n");
        let env = Env { dir, deadline: DEADLINE, extra_env: Vec::new() };
        env.write_config("");
        env
    }

    pub fn config_path(&self) -> PathBuf {
        self.dir.join("config/teamster/config.toml")
    }

    /// Writes the config; a test shell is set unless the text sets one.
    pub fn write_config(&self, text: &str) {
        let shell = if text.contains("shell =") {
            String::new()
        } else {
            format!("shell = \"{}\"\n", self.dir.join("test-shell").display())
        };
        std::fs::write(self.config_path(), format!("{shell}{text}")).expect("config");
    }

    pub fn envs(&self) -> Vec<(String, String)> {
        let d = |s: &str| self.dir.join(s).to_string_lossy().into_owned();
        vec![
            ("XDG_RUNTIME_DIR".into(), d("run")),
            ("XDG_CONFIG_HOME".into(), d("config")),
            ("XDG_STATE_HOME".into(), d("state")),
            ("HOME".into(), d("home")),
            ("SHELL".into(), "/bin/bash".into()),
            ("TERM".into(), "xterm-256color".into()),
            ("LANG".into(), "C.UTF-8".into()),
            (
                "PATH".into(),
                format!(
                    "{}:{}",
                    bin().parent().map(|p| p.display().to_string()).unwrap_or_default(),
                    std::env::var("PATH").unwrap_or_default()
                ),
            ),
        ]
        .into_iter()
        .chain(self.extra_env.iter().cloned())
        .collect()
    }

    /// The teamster CLI in this world.
    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(bin());
        c.args(args).env_clear().envs(self.envs()).current_dir(self.dir.join("work"));
        c
    }

    pub fn run(&self, args: &[&str]) -> std::process::Output {
        self.cmd(args).stdin(Stdio::null()).output().expect("run teamster")
    }

    /// Runs a teamster command that must succeed; returns what it printed.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "teamster {args:?} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    pub fn ls_json(&self) -> serde_json::Value {
        let out = self.run(&["ls", "--json"]);
        assert!(out.status.success(), "ls failed: {}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_slice(&out.stdout).expect("ls --json prints JSON")
    }

    /// Every pane of every session, from `teamster ls --json`.
    pub fn panes(&self) -> Vec<serde_json::Value> {
        let v = self.ls_json();
        let mut out = Vec::new();
        for s in v["sessions"].as_array().cloned().unwrap_or_default() {
            for t in s["tabs"].as_array().cloned().unwrap_or_default() {
                out.extend(t["panes"].as_array().cloned().unwrap_or_default());
            }
        }
        out
    }

    /// Waits until `cond` holds for `teamster ls --json`.
    pub fn wait_ls(&self, what: &str, cond: impl Fn(&serde_json::Value) -> bool) -> serde_json::Value {
        let deadline = Instant::now() + self.deadline;
        loop {
            let v = self.ls_json();
            if cond(&v) {
                return v;
            }
            assert!(Instant::now() < deadline, "timed out waiting for {what}; last ls: {v:#}");
            // Another process's state has no event to wait on: ask again shortly.
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The audit log's latest decisions (`teamster audit --json`), newest first.
    /// What the sandbox refused, as the audit log says it (`teamster audit`, by `sandbox`).
    pub fn sandbox_refusals(&self) -> Vec<String> {
        let refused = self.audit().into_iter().filter(|d| d["by"] == "sandbox");
        refused.map(|d| d["what"].as_str().unwrap_or_default().to_string()).collect()
    }

    pub fn audit(&self) -> Vec<serde_json::Value> {
        let v: serde_json::Value =
            serde_json::from_str(&self.ok(&["audit", "--json", "-n", "200"])).expect("audit JSON");
        v["decisions"].as_array().cloned().unwrap_or_default()
    }

    pub fn tui(&self, args: &[&str], cols: u16, rows: u16) -> Tui {
        Tui::spawn(self, args, cols, rows)
    }

    pub fn runner_pid(&self) -> Option<i32> {
        // The runner holds its lock file; find it by its socket path in /proc.
        let socket = self.dir.join("run/teamster/runner.sock");
        for entry in std::fs::read_dir("/proc").ok()?.flatten() {
            let Some(pid) = entry.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else { continue };
            let Ok(env) = std::fs::read(format!("/proc/{pid}/environ")) else { continue };
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            if cmdline.split(|&b| b == 0).any(|a| a == b"daemon")
                && env.split(|&b| b == 0).any(|kv| kv == format!("TEAMSTER_SOCKET={}", socket.display()).as_bytes())
            {
                return Some(pid);
            }
        }
        None
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        let _ = self.cmd(&["kill", "--all"]).stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null()).status();
        if let Some(pid) = self.runner_pid() {
            // SAFETY: ends the runner this test started.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.dir);
        } else if let Ok(log) = std::fs::read_to_string(self.dir.join("state/teamster/runner.log")) {
            eprintln!("--- runner.log ---\n{log}");
        }
    }
}

struct Shared {
    parser: vt100::Parser,
    raw: Vec<u8>,
    closed: bool,
    /// Asks the reader to let go of the terminal (to close it for real).
    stop: bool,
}

pub struct Tui {
    master: OwnedFd,
    child: std::process::Child,
    shared: Arc<(Mutex<Shared>, Condvar)>,
    deadline: Duration,
}

/// Every file beneath `dir` (symlinks not followed).
pub fn files_under(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let Ok(kind) = entry.file_type() else { continue };
        if kind.is_dir() {
            out.extend(files_under(&entry.path()));
        } else if kind.is_file() {
            out.push(entry.path());
        }
    }
    out
}

pub fn nz(v: u16) -> std::num::NonZero<u16> {
    std::num::NonZero::new(v.max(1)).expect("non-zero")
}

impl Tui {
    pub fn spawn(env: &Env, args: &[&str], cols: u16, rows: u16) -> Tui {
        let (master, child) = pty::spawn(&mut env.cmd(args), cols, rows);
        let shared = Arc::new((
            Mutex::new(Shared {
                parser: vt100::Parser::new(nz(rows), nz(cols), 0),
                raw: Vec::new(),
                closed: false,
                stop: false,
            }),
            Condvar::new(),
        ));
        let reader = master.try_clone().expect("dup master");
        let writer = master.try_clone().expect("dup master");
        let s = shared.clone();
        std::thread::spawn(move || {
            let mut file = std::fs::File::from(reader);
            let mut answer = std::fs::File::from(writer);
            let mut buf = [0u8; 65536];
            loop {
                // Wake now and then to see whether the test wants the terminal closed.
                let mut p = libc::pollfd { fd: file.as_raw_fd(), events: libc::POLLIN, revents: 0 };
                // SAFETY: one pollfd, ours.
                if unsafe { libc::poll(&mut p, 1, 50) } == 0 {
                    if s.0.lock().unwrap_or_else(|e| e.into_inner()).stop {
                        break;
                    }
                    continue;
                }
                let n = match file.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => n,
                };
                let chunk = &buf[..n];
                // Answer as a terminal would: colours, and device attributes.
                let text = String::from_utf8_lossy(chunk);
                if text.contains("\x1b]10;?") {
                    let _ = answer.write_all(b"\x1b]10;rgb:dddd/dddd/dddd\x1b\\");
                }
                if text.contains("\x1b]11;?") {
                    let _ = answer.write_all(b"\x1b]11;rgb:1111/1111/1111\x1b\\");
                }
                if text.contains("\x1b[c") {
                    let _ = answer.write_all(b"\x1b[?62;22c");
                }
                let (lock, cv) = &*s;
                let mut g = lock.lock().unwrap_or_else(|e| e.into_inner());
                g.parser.process(chunk);
                g.raw.extend_from_slice(chunk);
                cv.notify_all();
            }
            let (lock, cv) = &*s;
            lock.lock().unwrap_or_else(|e| e.into_inner()).closed = true;
            cv.notify_all();
        });
        Tui { master, child, shared, deadline: env.deadline }
    }

    /// The client's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn send(&self, bytes: &[u8]) {
        let mut f = std::fs::File::from(self.master.try_clone().expect("dup"));
        f.write_all(bytes).expect("write to teamster");
    }

    pub fn keys(&self, s: &str) {
        self.send(s.as_bytes());
    }

    /// Types `text`, waits until it shows (a program reading it now has it all), then Enter.
    pub fn type_line(&self, text: &str) {
        self.keys(text);
        self.wait_text(text);
        self.keys("\r");
    }

    /// Types a line for the stand-in agent (`support::fake`) once its prompt has the
    /// cursor: typed while it still works, the line would be echoed ahead of the prompt.
    pub fn say(&self, text: &str) {
        self.wait_for("the cursor after `fake> `", |s| {
            let (row, col) = s.cursor_position();
            s.contents_between(row, 0, row, col).trim_end().ends_with("fake>")
        });
        self.type_line(text);
    }

    /// Alt+key as terminals send it.
    pub fn alt(&self, key: &str) {
        self.send(format!("\x1b{key}").as_bytes());
    }

    /// The default keymap's prefix (ctrl-\), then `key`.
    pub fn prefix(&self, key: &str) {
        self.send(format!("\x1c{key}").as_bytes());
    }

    /// Whether `cond` holds for the screen within `wait`.
    pub fn poll_for(&self, wait: Duration, cond: impl Fn(&vt100::Screen) -> bool) -> bool {
        let deadline = Instant::now() + wait;
        let (lock, cv) = &*self.shared;
        let mut g = lock.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            if cond(g.parser.screen()) {
                return true;
            }
            let now = Instant::now();
            if now >= deadline || g.closed {
                return false;
            }
            g = cv.wait_timeout(g, deadline - now).unwrap_or_else(|e| e.into_inner()).0;
        }
    }

    /// Waits until `cond` holds for the screen; panics with the screen when it does not.
    pub fn wait_for(&self, what: &str, cond: impl Fn(&vt100::Screen) -> bool) {
        if !self.poll_for(self.deadline, cond) {
            panic!("timed out waiting for {what}; the screen was:\n{}", self.contents());
        }
    }

    /// Waits for a test shell's prompt at the start of a pane's line.
    pub fn wait_prompt(&self) {
        self.wait_for("the shell's prompt", |s| s.contents().lines().any(|l| l.contains("│$") || l.contains("┃$")));
    }

    pub fn wait_text(&self, text: &str) {
        self.wait_for(&format!("`{text}` on screen"), |s| s.contents().contains(text));
    }

    /// Everything teamster wrote to its terminal so far.
    pub fn raw(&self) -> Vec<u8> {
        self.shared.0.lock().unwrap_or_else(|e| e.into_inner()).raw.clone()
    }

    /// Waits until the raw output (everything teamster wrote) contains `bytes`.
    pub fn wait_raw(&self, what: &str, cond: impl Fn(&[u8]) -> bool) {
        let deadline = Instant::now() + self.deadline;
        let (lock, cv) = &*self.shared;
        let mut g = lock.lock().unwrap_or_else(|e| e.into_inner());
        while !cond(&g.raw) {
            let now = Instant::now();
            assert!(now < deadline && !g.closed, "timed out waiting for {what}");
            g = cv.wait_timeout(g, deadline - now).unwrap_or_else(|e| e.into_inner()).0;
        }
    }

    pub fn screen<T>(&self, f: impl FnOnce(&vt100::Screen) -> T) -> T {
        f(self.shared.0.lock().unwrap_or_else(|e| e.into_inner()).parser.screen())
    }

    pub fn contents(&self) -> String {
        self.screen(|s| s.contents())
    }

    /// The row of the screen holding `text`, and the column (in cells) it starts at.
    pub fn find(&self, text: &str) -> Option<(u16, u16)> {
        self.screen(|s| {
            let (rows, cols) = s.size();
            (0..rows.get()).find_map(|r| {
                let mut line = String::new();
                let mut col_at = Vec::new();
                for c in 0..cols.get() {
                    let Some(cell) = s.cell(r, c) else { continue };
                    if cell.is_wide_continuation() {
                        continue;
                    }
                    let contents = if cell.has_contents() { cell.contents().to_string() } else { " ".into() };
                    for _ in contents.chars() {
                        col_at.push(c);
                    }
                    line.push_str(&contents);
                }
                line.find(text).map(|byte| (r, col_at[line[..byte].chars().count()]))
            })
        })
    }

    pub fn resize(&self, cols: u16, rows: u16) {
        let ws = nix::pty::Winsize { ws_row: rows, ws_col: cols, ws_xpixel: 0, ws_ypixel: 0 };
        // SAFETY: TIOCSWINSZ on our own PTY master.
        unsafe { libc::ioctl(self.master.as_raw_fd(), libc::TIOCSWINSZ, &ws) };
        self.shared.0.lock().unwrap_or_else(|e| e.into_inner()).parser.screen_mut().set_size(nz(rows), nz(cols));
        // The kernel sends SIGWINCH to the foreground process group: teamster.
    }

    /// Closes the terminal teamster runs in, as closing a terminal window does (the
    /// kernel sends it SIGHUP), and waits for it to exit.
    pub fn close_terminal(self) -> std::process::ExitStatus {
        let mut me = std::mem::ManuallyDrop::new(self);
        // SAFETY: each field is taken once and `me` is never used or dropped after.
        let (master, mut child, shared) =
            unsafe { (std::ptr::read(&me.master), std::ptr::read(&me.child), std::ptr::read(&me.shared)) };
        let _ = &mut me;
        shared.0.lock().unwrap_or_else(|e| e.into_inner()).stop = true;
        drop(master);
        drop(shared);
        let deadline = Instant::now() + me.deadline;
        loop {
            if let Some(status) = child.try_wait().expect("wait") {
                return status;
            }
            assert!(Instant::now() < deadline, "teamster did not exit when its terminal closed");
            // A process's exit has no event we can wait on here: check again shortly.
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Waits for teamster to exit (its terminal closes); returns everything it printed.
    pub fn wait_exit(mut self) -> (std::process::ExitStatus, String) {
        let deadline = Instant::now() + self.deadline;
        let raw = {
            let (lock, cv) = &*self.shared;
            let mut g = lock.lock().unwrap_or_else(|e| e.into_inner());
            while !g.closed {
                let now = Instant::now();
                assert!(now < deadline, "teamster did not exit; screen:\n{}", g.parser.screen().contents());
                g = cv.wait_timeout(g, deadline - now).unwrap_or_else(|e| e.into_inner()).0;
            }
            String::from_utf8_lossy(&g.raw).into_owned()
        };
        (self.child.wait().expect("wait"), raw)
    }
}

impl Drop for Tui {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("--- the screen ---\n{}", self.contents());
        }
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Whether a process is alive (and not a zombie).
pub fn alive(pid: i64) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .is_ok_and(|s| s.rfind(')').and_then(|i| s[i + 1..].split_whitespace().next()).is_some_and(|st| st != "Z"))
}

pub fn path(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

/// Every process below `pid` (its children, theirs, …), by the parent each names.
pub fn descendants(pid: &str) -> Vec<String> {
    let parent_of = |p: &str| {
        std::fs::read_to_string(format!("/proc/{p}/status"))
            .ok()?
            .lines()
            .find_map(|l| l.strip_prefix("PPid:").map(|v| v.trim().to_string()))
    };
    let all: Vec<(String, String)> = std::fs::read_dir("/proc")
        .map(|d| {
            d.flatten()
                .filter_map(|e| e.file_name().to_str().filter(|n| n.parse::<u32>().is_ok()).map(str::to_string))
                .filter_map(|p| parent_of(&p).map(|pp| (p, pp)))
                .collect()
        })
        .unwrap_or_default();
    let mut found = vec![pid.to_string()];
    let mut i = 0;
    while i < found.len() {
        let parent = found[i].clone();
        found.extend(all.iter().filter(|(_, pp)| *pp == parent).map(|(p, _)| p.clone()));
        i += 1;
    }
    found.remove(0);
    found
}

/// Runs git in `dir` as the user would; its output, trimmed. Fails the test if git does.
pub fn git(dir: &Path, args: &[&str]) -> String {
    let out = std::process::Command::new("git").arg("-C").arg(dir).args(args).output().expect("git");
    assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// `dir` made a git repository on `main` with an identity and a first (empty) commit.
pub fn repo(dir: &Path) {
    for args in [
        &["init", "-q", "-b", "main"][..],
        &["config", "user.email", "t@example.com"],
        &["config", "user.name", "t"],
        &["commit", "-q", "--allow-empty", "-m", "start"],
    ] {
        git(dir, args);
    }
}
