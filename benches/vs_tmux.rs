//! teamster and tmux side by side, in one run, on this machine.
//!
//! Each multiplexer runs attached in the same headless 200x50 outer terminal (a PTY read by
//! teamster's own terminal model, which answers queries as a terminal does), with 10,000
//! lines of scrollback, on the same files:
//!
//! - throughput: `cat` of ~50 MB of plain text, ANSI-coloured text and a full-screen TUI
//!   stream, timed from Enter until the command has finished and its end is on screen;
//! - keystroke-to-echo latency (p50, p99), idle and while another pane floods output;
//! - memory: server RSS with 1, 8 and 32 idle shells, empty and with full scrollback;
//! - idle CPU: 8 panes and an attached client, CPU time and wake-ups over 10 s.
//!
//! Run: `cargo bench --bench vs_tmux` (`-- --quick` for a short run). Needs tmux on PATH.
//! Figures are ratios to tmux, not pass/fail: see docs/bench.md.

#[path = "support/proc.rs"]
mod proc;
#[path = "../tests/support/pty.rs"]
mod pty;
#[path = "support/streams.rs"]
mod streams;

use std::io::{Read, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};
use teamster::screen::Screen;

const COLS: u16 = 200;
const ROWS: u16 = 50;

/// What the reader thread watches for: a cell holding a character, or text on screen.
#[derive(Clone)]
enum Want {
    Cell { row: u16, col: u16, ch: char },
    Cursor { row: u16, col: u16 },
    Text(String),
}

struct Outer {
    screen: Screen,
    want: Option<Want>,
    hit: Option<Instant>,
    closed: bool,
}

/// A headless terminal running one program.
struct Term {
    master: OwnedFd,
    child: std::process::Child,
    shared: Arc<(Mutex<Outer>, Condvar)>,
}

impl Term {
    fn spawn(cmd: &mut Command) -> Term {
        let (master, child) = pty::spawn(cmd, COLS, ROWS);
        let shared = Arc::new((
            Mutex::new(Outer { screen: Screen::new(COLS, ROWS, 0), want: None, hit: None, closed: false }),
            Condvar::new(),
        ));
        let (mut rd, mut wr) = (
            std::fs::File::from(master.try_clone().expect("dup")),
            std::fs::File::from(master.try_clone().expect("dup")),
        );
        let s = shared.clone();
        std::thread::spawn(move || {
            let mut buf = vec![0u8; 1 << 16];
            loop {
                let n = match rd.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => n,
                };
                let (lock, cv) = &*s;
                let mut g = lock.lock().expect("lock");
                g.screen.feed(&buf[..n]);
                let answers = g.screen.take_responses();
                if !answers.is_empty() {
                    let _ = wr.write_all(&answers);
                }
                if g.hit.is_none() {
                    let hit = match &g.want {
                        Some(Want::Cell { row, col, ch }) => g.screen.row(*row as usize).cell(*col as usize).ch == *ch,
                        Some(Want::Cursor { row, col }) => g.screen.cursor_position() == (*col, *row),
                        Some(Want::Text(t)) => g.screen.visible_text().iter().any(|l| l.contains(t.as_str())),
                        None => false,
                    };
                    if hit {
                        g.hit = Some(Instant::now());
                        cv.notify_all();
                    }
                }
            }
            let (lock, cv) = &*s;
            lock.lock().expect("lock").closed = true;
            cv.notify_all();
        });
        Term { master, child, shared }
    }

    fn send(&self, bytes: &[u8]) {
        let mut f = std::fs::File::from(self.master.try_clone().expect("dup"));
        f.write_all(bytes).expect("write");
    }

    /// Arms a watch, runs `act`, and returns how long until the watch was met.
    fn time(&self, want: Want, deadline: Duration, act: impl FnOnce()) -> Option<Duration> {
        let (lock, cv) = &*self.shared;
        {
            let mut g = lock.lock().expect("lock");
            g.hit = None;
            g.want = Some(want);
        }
        let start = Instant::now();
        act();
        let mut g = lock.lock().expect("lock");
        while g.hit.is_none() && !g.closed {
            let left = deadline.checked_sub(start.elapsed())?;
            g = cv.wait_timeout(g, left).expect("lock").0;
        }
        let hit = g.hit.map(|h| h.duration_since(start));
        g.want = None;
        hit
    }

    fn wait_text(&self, text: &str, deadline: Duration) {
        // Checking what is on screen now first: it may already be there.
        if self.shared.0.lock().expect("lock").screen.visible_text().iter().any(|l| l.contains(text)) {
            return;
        }
        self.time(Want::Text(text.into()), deadline, || {})
            .unwrap_or_else(|| panic!("`{text}` did not appear:\n{}", self.text()));
    }

    fn text(&self) -> String {
        self.shared.0.lock().expect("lock").screen.visible_text().join("\n")
    }

    fn cursor(&self) -> (u16, u16) {
        self.shared.0.lock().expect("lock").screen.cursor_position()
    }

    /// Waits until no output has arrived for `quiet`.
    fn settle(&self, quiet: Duration) {
        loop {
            let (lock, cv) = &*self.shared;
            let g = lock.lock().expect("lock");
            let gen_before = g.screen.generation();
            let (g, _) = cv.wait_timeout(g, quiet).expect("lock");
            // No notification is sent for plain output; compare generations instead.
            if g.screen.generation() == gen_before {
                return;
            }
        }
    }
}

impl Drop for Term {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One of the two multiplexers, set up in its own directory.
#[derive(Clone, Copy, PartialEq)]
enum Mux {
    Tmux,
    Teamster,
}

struct Setup {
    dir: PathBuf,
}

impl Setup {
    fn new() -> Setup {
        let dir = std::env::temp_dir().join(format!("teamster-bench-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        for d in ["run", "config/teamster", "state", "home"] {
            std::fs::create_dir_all(dir.join(d)).expect("dirs");
        }
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir.join("run"), std::fs::Permissions::from_mode(0o700)).expect("chmod");
        std::fs::write(dir.join("tmux.conf"), "set -g history-limit 10000\n").expect("tmux.conf");
        std::fs::write(dir.join("config/teamster/config.toml"), "scrollback_lines = 10000\nshell = \"/bin/sh\"\n")
            .expect("config");
        Setup { dir }
    }

    fn env(&self, cmd: &mut Command) {
        let d = |s: &str| self.dir.join(s);
        cmd.env("XDG_RUNTIME_DIR", d("run"))
            .env("XDG_CONFIG_HOME", d("config"))
            .env("XDG_STATE_HOME", d("state"))
            .env("HOME", d("home"))
            .env("SHELL", "/bin/sh")
            .env("TERM", "xterm-256color")
            .env("LANG", "C.UTF-8")
            .env("ENV", "")
            .env("PS1", "$ ")
            .env_remove("TMUX")
            .env_remove("TEAMSTER_PANE")
            .env_remove("TEAMSTER_SOCKET");
    }

    fn tmux(&self, args: &[&str]) -> Command {
        let mut c = Command::new("tmux");
        c.arg("-L").arg(format!("bench-{}", std::process::id())).arg("-f").arg(self.dir.join("tmux.conf")).args(args);
        self.env(&mut c);
        c
    }

    fn teamster(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_teamster"));
        c.args(args);
        self.env(&mut c);
        c
    }

    fn run(&self, mut c: Command) -> String {
        let out = c.stdin(Stdio::null()).output().expect("run");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// The multiplexer attached in a fresh outer terminal, its first pane running `sh`.
    fn attach(&self, mux: Mux) -> Term {
        let mut cmd = match mux {
            Mux::Tmux => self.tmux(&["new-session", "sh"]),
            Mux::Teamster => self.teamster(&["--", "sh"]),
        };
        let term = Term::spawn(&mut cmd);
        term.wait_text("$", Duration::from_secs(10));
        term.settle(Duration::from_millis(200));
        term
    }

    fn stop(&self, mux: Mux) {
        match mux {
            Mux::Tmux => drop(self.run(self.tmux(&["kill-server"]))),
            Mux::Teamster => drop(self.run(self.teamster(&["kill", "--all"]))),
        }
    }

    /// The server process: tmux's server, teamster's runner.
    fn server_pid(&self, mux: Mux) -> Option<i32> {
        match mux {
            Mux::Tmux => self.run(self.tmux(&["display-message", "-p", "#{pid}"])).trim().parse().ok(),
            Mux::Teamster => {
                let socket = format!("TEAMSTER_SOCKET={}", self.dir.join("run/teamster/runner.sock").display());
                std::fs::read_dir("/proc").ok()?.flatten().find_map(|e| {
                    let pid: i32 = e.file_name().to_str()?.parse().ok()?;
                    let env = std::fs::read(format!("/proc/{pid}/environ")).ok()?;
                    let cmd = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
                    (cmd.split(|&b| b == 0).any(|a| a == b"daemon")
                        && env.split(|&b| b == 0).any(|kv| kv == socket.as_bytes()))
                    .then_some(pid)
                })
            }
        }
    }
}

impl Drop for Setup {
    fn drop(&mut self) {
        self.stop(Mux::Tmux);
        self.stop(Mux::Teamster);
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn name(mux: Mux) -> &'static str {
    match mux {
        Mux::Tmux => "tmux",
        Mux::Teamster => "teamster",
    }
}

fn cpu_ticks(pid: i32) -> u64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let rest = s.rfind(')').map_or("", |i| &s[i + 1..]);
    let f: Vec<u64> = rest.split_whitespace().filter_map(|v| v.parse().ok()).collect();
    // utime and stime are fields 14 and 15; after the name and state they are 11 and 12.
    f.get(10).copied().unwrap_or(0) + f.get(11).copied().unwrap_or(0)
}

fn wakeups(pid: i32) -> u64 {
    proc::status(pid, "voluntary_ctxt_switches") + proc::status(pid, "nonvoluntary_ctxt_switches")
}

/// Waits until `pid` stops using CPU (output settled).
fn wait_idle(pid: i32) {
    let mut last = cpu_ticks(pid);
    let mut quiet = 0;
    while quiet < 5 {
        std::thread::sleep(Duration::from_millis(100));
        let now = cpu_ticks(pid);
        quiet = if now == last { quiet + 1 } else { 0 };
        last = now;
    }
}

fn percentile(v: &mut [Duration], p: f64) -> Duration {
    v.sort();
    v[((v.len() as f64 - 1.0) * p).round() as usize]
}

fn throughput(setup: &Setup, mux: Mux, file: &Path, runs: usize) -> f64 {
    let term = setup.attach(mux);
    let bytes = std::fs::metadata(file).expect("file").len() as f64;
    let mut best = f64::MAX;
    for i in 0..runs {
        // The marker is computed by the shell, so the typed command does not contain it.
        let marker = format!("DONE{}", 4000 + i);
        let cmd = format!("clear; cat {}; echo DONE$((4000+{i}))\r", file.display());
        let t = term
            .time(Want::Text(marker), Duration::from_secs(300), || term.send(cmd.as_bytes()))
            .expect("cat finished");
        best = best.min(t.as_secs_f64());
        term.settle(Duration::from_millis(300));
    }
    drop(term);
    setup.stop(mux);
    bytes / best / 1e6
}

/// The physical limit: `cat FILE` on a bare PTY whose master is read and discarded, with
/// no terminal emulation and nothing drawn. MB/s.
fn raw_pty(file: &Path) -> f64 {
    let ws = nix::pty::Winsize { ws_row: ROWS, ws_col: COLS, ws_xpixel: 0, ws_ypixel: 0 };
    let pty = nix::pty::openpty(Some(&ws), None).expect("openpty");
    // SAFETY: close-on-exec on our own descriptor.
    unsafe { libc::fcntl(pty.master.as_raw_fd(), libc::F_SETFD, libc::FD_CLOEXEC) };
    let start = Instant::now();
    let mut child =
        Command::new("cat").arg(file).stdout(Stdio::from(pty.slave)).stdin(Stdio::null()).spawn().expect("cat");
    let mut master = std::fs::File::from(pty.master);
    let mut buf = vec![0u8; 1 << 16];
    while let Ok(n) = master.read(&mut buf) {
        if n == 0 {
            break;
        }
    }
    let elapsed = start.elapsed();
    let _ = child.wait();
    std::fs::metadata(file).expect("file").len() as f64 / elapsed.as_secs_f64() / 1e6
}

/// A pane running `cat` in raw mode, attached in a terminal of its own, whose keys' echoes
/// are timed.
struct Probe {
    term: Term,
    row: u16,
    col: u16,
}

impl Probe {
    /// `flood`: another pane beside it prints this file over and over.
    fn new(setup: &Setup, mux: Mux, flood: Option<&Path>) -> Probe {
        let term = setup.attach(mux);
        // The echo pane first, while all is quiet: `clear` leaves the cursor at the pane's
        // first cell, where each key's echo lands. The flood pane opens to its right after.
        term.send(b"clear; stty raw -echo; cat\r");
        term.settle(Duration::from_millis(300));
        let (col, row) = term.cursor();
        if let Some(file) = flood {
            let flood_cmd = format!("while :; do cat {}; done", file.display());
            match mux {
                Mux::Tmux => {
                    setup.run(setup.tmux(&["split-window", "-h", "sh", "-c", &flood_cmd]));
                    setup.run(setup.tmux(&["select-pane", "-L"]));
                }
                Mux::Teamster => {
                    setup.run(setup.teamster(&["new", "--right", "--", "sh", "-c", &flood_cmd]));
                    // The default keymap: the prefix (ctrl-\), then h.
                    term.send(b"\x1ch");
                }
            }
        }
        Probe { term, row, col }
    }

    /// The `i`th key's echo, timed; then a carriage return brings the cursor back, so the
    /// next key echoes over the same cell.
    fn key(&self, i: usize, settle: bool) -> Option<Duration> {
        let (term, row, col) = (&self.term, self.row, self.col);
        let ch = if i % 2 == 0 { 'a' } else { 'b' };
        let took = term.time(Want::Cell { row, col, ch }, Duration::from_secs(5), || term.send(&[ch as u8]));
        term.time(Want::Cursor { row, col }, Duration::from_secs(5), || term.send(b"\r"));
        if settle {
            term.settle(Duration::from_millis(5));
        }
        took
    }
}

/// Keystroke-to-echo latency, p50 and p99, for each of `muxes`. Idle, their keys take
/// turns (tmux's, then teamster's, the order swapped every round) so that whatever else
/// the machine does meanwhile falls on both alike; with another pane flooding, one at a
/// time (one's flood would slow the other).
fn latency(setup: &Setup, muxes: &[Mux], flood: Option<&Path>, samples: usize) -> Vec<(Duration, Duration)> {
    let mut times: Vec<Vec<Duration>> = vec![Vec::new(); muxes.len()];
    match flood {
        None => {
            let probes: Vec<Probe> = muxes.iter().map(|&m| Probe::new(setup, m, None)).collect();
            for i in 0..samples {
                for k in 0..probes.len() {
                    let at = if i % 2 == 0 { k } else { probes.len() - 1 - k };
                    if let Some(t) = probes[at].key(i, true) {
                        times[at].push(t);
                    }
                }
            }
        }
        Some(file) => {
            for (at, &mux) in muxes.iter().enumerate() {
                let probe = Probe::new(setup, mux, Some(file));
                times[at].extend((0..samples).filter_map(|i| probe.key(i, false)));
                drop(probe);
                setup.stop(mux);
            }
        }
    }
    for &mux in muxes {
        setup.stop(mux);
    }
    times.iter_mut().map(|t| (percentile(t, 0.5), percentile(t, 0.99))).collect()
}

/// Server memory (KB) with `panes` idle shells, each with `history` worth of output behind
/// it: resident in all, and of that what is the process's own (not pages of its program
/// file and libraries, which the page cache shares with every process running them).
fn memory(setup: &Setup, mux: Mux, panes: usize, history: Option<&Path>) -> (u64, u64) {
    let first: Vec<String> = match history {
        Some(f) => vec!["sh".into(), "-c".into(), format!("cat {}; exec sh", f.display())],
        None => vec!["sh".into()],
    };
    let first: Vec<&str> = first.iter().map(String::as_str).collect();
    match mux {
        Mux::Tmux => {
            let mut args = vec!["new-session", "-d", "-x", "200", "-y", "50"];
            args.extend(&first);
            setup.run(setup.tmux(&args));
            for _ in 1..panes {
                let mut args = vec!["new-window"];
                args.extend(&first);
                setup.run(setup.tmux(&args));
            }
        }
        Mux::Teamster => {
            // Panes have a border: 202x52 gives each one 200x50, as tmux's window has.
            let mut args = vec!["-d", "--size", "202x52", "--"];
            args.extend(&first);
            setup.run(setup.teamster(&args));
            for _ in 1..panes {
                let mut args = vec!["new", "--tab", "--"];
                args.extend(&first);
                setup.run(setup.teamster(&args));
            }
        }
    }
    let pid = setup.server_pid(mux).expect("server pid");
    wait_idle(pid);
    let rss = (proc::status(pid, "VmRSS"), proc::status(pid, "RssAnon"));
    setup.stop(mux);
    rss
}

/// CPU ticks and wake-ups of server and client over `secs` with 8 idle panes attached.
fn idle(setup: &Setup, mux: Mux, secs: u64) -> (u64, u64) {
    let term = setup.attach(mux);
    for _ in 1..8 {
        match mux {
            Mux::Tmux => drop(setup.run(setup.tmux(&["split-window", "sh"]))),
            Mux::Teamster => drop(setup.run(setup.teamster(&["new", "--", "sh"]))),
        }
        if mux == Mux::Tmux {
            setup.run(setup.tmux(&["select-layout", "tiled"]));
        }
    }
    term.settle(Duration::from_millis(1000));
    let server = setup.server_pid(mux).expect("server pid");
    let client = term.child.id() as i32;
    let (c0, w0) = (cpu_ticks(server) + cpu_ticks(client), wakeups(server) + wakeups(client));
    std::thread::sleep(Duration::from_secs(secs));
    let (c1, w1) = (cpu_ticks(server) + cpu_ticks(client), wakeups(server) + wakeups(client));
    drop(term);
    setup.stop(mux);
    (c1 - c0, w1 - w0)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let quick = args.iter().any(|a| a == "--quick");
    // Sections to run: any of throughput, latency, memory, idle (default: all).
    let sections = ["throughput", "latency", "memory", "idle"];
    let chosen: Vec<&str> = sections.iter().copied().filter(|s| args.iter().any(|a| a == s)).collect();
    let run = |s: &str| chosen.is_empty() || chosen.contains(&s);
    if Command::new("tmux").arg("-V").output().is_err() {
        eprintln!("tmux is not installed; install it (apt-get install tmux) to compare");
        std::process::exit(1);
    }
    let setup = Setup::new();
    let size = if quick { 10_000_000 } else { 50_000_000 };
    let files: Vec<(&str, PathBuf)> = [
        ("plain text", streams::plain(size)),
        ("ANSI-coloured text", streams::ansi(size)),
        ("full-screen TUI", streams::tui(size)),
    ]
    .into_iter()
    .enumerate()
    .map(|(i, (label, data))| {
        let p = setup.dir.join(format!("stream{i}"));
        std::fs::write(&p, data).expect("write stream");
        (label, p)
    })
    .collect();
    let history = setup.dir.join("history");
    std::fs::write(&history, streams::plain(12_000 * 98)).expect("history file");
    let runs = if quick { 1 } else { 3 };
    let muxes = [Mux::Tmux, Mux::Teamster];
    println!(
        "tmux: {}",
        setup
            .run({
                let mut c = Command::new("tmux");
                c.arg("-V");
                c
            })
            .trim()
    );

    if run("throughput") {
        println!("\n### Throughput (MB/s, best of {runs}; higher is better)\n");
        println!("The PTY limit is `cat` on a bare PTY read by nothing but a read loop.\n");
        println!(
            "| stream | PTY limit | tmux | teamster | teamster / tmux | teamster / limit |\n|---|---|---|---|---|---|"
        );
        for (label, file) in &files {
            let limit = (0..runs).map(|_| raw_pty(file)).fold(0.0, f64::max);
            let r: Vec<f64> = muxes.iter().map(|&m| throughput(&setup, m, file, runs)).collect();
            println!(
                "| {label} | {limit:.1} | {:.1} | {:.1} | {:.2}x | {:.0}% |",
                r[0],
                r[1],
                r[1] / r[0],
                r[1] / limit * 100.0
            );
        }
    }

    let samples = if quick { 100 } else { 500 };
    if run("latency") {
        println!("\n### Keystroke-to-echo latency ({samples} keys; lower is better)\n");
        println!("| condition | tmux p50 | tmux p99 | teamster p50 | teamster p99 |\n|---|---|---|---|---|");
        for (label, flood) in [("idle", None), ("another pane flooding", Some(files[0].1.as_path()))] {
            let r = latency(&setup, &muxes, flood, samples);
            let ms = |d: Duration| format!("{:.2} ms", d.as_secs_f64() * 1e3);
            println!("| {label} | {} | {} | {} | {} |", ms(r[0].0), ms(r[0].1), ms(r[1].0), ms(r[1].1));
        }
    }

    if run("memory") {
        println!("\n### Server memory (lower is better)\n");
        println!("RSS, and in brackets the process's own part (RssAnon): the rest are pages of the");
        println!("program and its libraries, shared through the page cache.\n");
        println!("| panes | scrollback | tmux | teamster | teamster / tmux |\n|---|---|---|---|---|");
        let counts: &[usize] = if quick { &[1, 8] } else { &[1, 8, 32] };
        for &n in counts {
            for (label, hist) in [("empty", None), ("10,000 lines each", Some(history.as_path()))] {
                let r: Vec<(u64, u64)> = muxes.iter().map(|&m| memory(&setup, m, n, hist)).collect();
                let mb = |kb: u64| kb as f64 / 1024.0;
                println!(
                    "| {n} | {label} | {:.1} MB ({:.1}) | {:.1} MB ({:.1}) | {:.2}x ({:.2}x) |",
                    mb(r[0].0),
                    mb(r[0].1),
                    mb(r[1].0),
                    mb(r[1].1),
                    r[1].0 as f64 / r[0].0 as f64,
                    r[1].1 as f64 / r[0].1 as f64
                );
            }
        }
    }

    let secs = if quick { 3 } else { 10 };
    if !run("idle") {
        return;
    }
    println!("\n### Idle: 8 panes, client attached, {secs} s (server + client)\n");
    println!("| | CPU ticks (1/100 s) | wake-ups (context switches) |\n|---|---|---|");
    for &m in &muxes {
        let (cpu, wakes) = idle(&setup, m, secs);
        println!("| {} | {cpu} | {wakes} |", name(m));
    }
}
