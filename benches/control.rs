//! The control layer's costs on the way of an agent:
//!
//! - the metering proxy: a model call's latency and time to first byte, through the proxy
//!   and straight to the same upstream (a local server answering at once with a short
//!   stream), over a kept-alive connection as agents use; the difference is what the proxy
//!   adds;
//! - the hook round trip of an allowed tool call: `teamster hook` as an agent runs it
//!   (process start, socket, policy, audit log, answer), against a real runner, and the
//!   socket round trip alone.
//!
//! Run: `cargo bench --bench control` (`-- --quick` for a short run). Figures, not
//! pass/fail: see docs/bench.md.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};
use teamster::meter::proxy::{Meter, Target};
use teamster::meter::usage::Reading;

const STREAM: &str = "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"model\":\"claude-sonnet-4-5\",\"usage\":{\"input_tokens\":1000,\"output_tokens\":1}}}\n\nevent: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"hello\"}}\n\nevent: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\"},\"usage\":{\"output_tokens\":5}}\n\nevent: message_stop\ndata: {\"type\":\"message_stop\"}\n\n";

/// A local upstream that answers every request at once with `STREAM`, keeping connections.
fn upstream() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    teamster::mock_llm::serve(listener, Arc::new(|_| ("200 OK", "text/event-stream", STREAM.to_string())));
    port
}

struct Allow {
    upstream: String,
}

impl Meter for Allow {
    fn target(&self, _token: &str, _route: &str, _chatgpt: bool) -> Option<Target> {
        // The mock upstream is on this machine, as only the user's config may name one.
        Some(Target {
            pane: 1,
            provider: "anthropic".into(),
            upstream: self.upstream.clone(),
            secrets: Vec::new(),
            origin: teamster::meter::upstream::RouteOrigin::UserConfig,
        })
    }

    async fn admit(self: Arc<Self>, _pane: u32, _provider: String, _model: Option<String>) -> Result<(), String> {
        Ok(())
    }

    fn record(&self, _pane: u32, _provider: &str, _reading: Reading) {}
    fn answered(&self, _pane: u32, _text: String) {}

    fn egress(&self, _host: &str, _port: u16) -> Result<bool, String> {
        Ok(false)
    }

    fn refuse(&self, _token: &str, _what: &str, _why: &str) {}

    fn host_kind(&self, _host: &str, _port: u16) -> teamster::effects::HostKind {
        teamster::effects::HostKind::Other
    }

    fn ssh_allowed(&self, _host: &str) -> bool {
        false
    }

    fn authority(&self) -> Result<Arc<teamster::meter::ca::Authority>, String> {
        Err("not in this benchmark".into())
    }

    async fn judge(self: Arc<Self>, _token: String, _effect: teamster::effects::Effect) -> Result<(), String> {
        Ok(())
    }
}

/// The proxy on its own thread and a single-threaded runtime, as in the runner.
fn proxy(upstream: u16) -> u16 {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
            let _ = tx.send(listener.local_addr().expect("addr").port());
            let meter = Arc::new(Allow { upstream: format!("http://127.0.0.1:{upstream}") });
            teamster::meter::proxy::serve(
                listener,
                meter,
                teamster::meter::proxy::Origin::Loopback,
                Default::default(),
            )
            .await;
        });
    });
    rx.recv().expect("proxy port")
}

/// Latency and time to first byte of `n` calls on one kept-alive connection.
fn calls(port: u16, path: &str, n: usize) -> (Vec<Duration>, Vec<Duration>) {
    let conn = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    conn.set_nodelay(true).expect("nodelay");
    let mut r = BufReader::new(conn.try_clone().expect("clone"));
    let mut w = conn;
    let body = r#"{"model":"claude-sonnet-4-5","stream":true,"max_tokens":10,"tools":[{"name":"Bash"}],"messages":[{"role":"user","content":"hi"}]}"#;
    let req = format!(
        "POST {path} HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\nx-api-key: k\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    );
    let (mut total, mut first) = (Vec::new(), Vec::new());
    for _ in 0..n {
        let start = Instant::now();
        w.write_all(req.as_bytes()).expect("send");
        let mut got_first = None;
        let mut chunked = false;
        let mut length = 0usize;
        loop {
            let mut line = String::new();
            r.read_line(&mut line).expect("reply");
            got_first.get_or_insert_with(Instant::now);
            let lower = line.to_ascii_lowercase();
            if let Some(v) = lower.strip_prefix("content-length:") {
                length = v.trim().parse().unwrap_or(0);
            }
            chunked |= lower.starts_with("transfer-encoding:") && lower.contains("chunked");
            if line == "\r\n" {
                break;
            }
        }
        if chunked {
            loop {
                let mut size = String::new();
                r.read_line(&mut size).expect("chunk");
                let n = usize::from_str_radix(size.trim(), 16).expect("chunk size");
                let mut chunk = vec![0; n + 2];
                r.read_exact(&mut chunk).expect("chunk");
                if n == 0 {
                    break;
                }
            }
        } else {
            let mut rest = vec![0; length];
            r.read_exact(&mut rest).expect("body");
        }
        total.push(start.elapsed());
        first.push(got_first.unwrap_or_else(Instant::now) - start);
    }
    (total, first)
}

fn percentile(v: &mut [Duration], p: f64) -> Duration {
    v.sort();
    v[((v.len() as f64 - 1.0) * p).round() as usize]
}

fn ms(d: Duration) -> String {
    format!("{:.3} ms", d.as_secs_f64() * 1e3)
}

fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_teamster"))
}

/// A runner with one agent pane (a stand-in that just waits), and the pane's hook socket.
struct Runner {
    dir: PathBuf,
    socket: PathBuf,
}

impl Runner {
    fn start() -> Runner {
        let dir = std::env::temp_dir().join(format!("teamster-bench-control-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        for d in ["run", "config/teamster", "state", "home"] {
            std::fs::create_dir_all(dir.join(d)).expect("dirs");
        }
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir.join("run"), std::fs::Permissions::from_mode(0o700)).expect("chmod");
        let agent = dir.join("waiting-agent");
        std::fs::write(&agent, "#!/bin/sh\nexec sleep 100000\n").expect("agent");
        std::fs::set_permissions(&agent, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        std::fs::write(
            dir.join("config/teamster/config.toml"),
            format!(
                "[agents.bench]\nkind = \"claude\"\ncommand = \"{}\"\n\n[[policy]]\nname = \"true is fine\"\non = \"tool_call\"\ncommand = '^true$'\nverdict = \"allow\"\n",
                agent.display()
            ),
        )
        .expect("config");
        let mut r = Runner { socket: PathBuf::new(), dir };
        let ok = r.cmd(&["-d", "--", "sleep", "100000"]).status().expect("start").success()
            && r.cmd(&["new", "bench"]).status().expect("new").success();
        assert!(ok, "could not start a runner");
        // The agent pane's own hook socket (the only one: the other pane is no agent).
        let hooks = r.dir.join("run/teamster/hooks");
        r.socket = std::fs::read_dir(&hooks)
            .ok()
            .and_then(|entries| {
                entries.flatten().map(|e| e.path()).find(|p| p.extension().is_some_and(|x| x == "sock"))
            })
            .expect("the agent pane's hook socket");
        r
    }

    fn cmd(&self, args: &[&str]) -> std::process::Command {
        let mut c = std::process::Command::new(bin());
        let d = |s: &str| self.dir.join(s);
        c.args(args)
            .env("XDG_RUNTIME_DIR", d("run"))
            .env("XDG_CONFIG_HOME", d("config"))
            .env("XDG_STATE_HOME", d("state"))
            .env("HOME", d("home"))
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null());
        c
    }
}

impl Drop for Runner {
    fn drop(&mut self) {
        let _ = self.cmd(&["kill", "--all"]).status();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

const PAYLOAD: &str = r#"{"session_id":"s","tool_name":"Bash","tool_input":{"command":"true"},"tool_use_id":"t"}"#;

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let n = if quick { 300 } else { 3000 };
    println!("## Control layer\n");
    if std::env::args().any(|a| a == "sandbox") {
        sandbox_costs(quick);
        return;
    }

    let up = upstream();
    let px = proxy(up);
    // Warm both paths (connections, allocations).
    calls(up, "/v1/messages", 50);
    calls(px, "/t/tok/anthropic/v1/messages", 50);
    let (mut direct, mut direct_first) = calls(up, "/v1/messages", n);
    let (mut via, mut via_first) = calls(px, "/t/tok/anthropic/v1/messages", n);
    let (d50, d99, v50, v99) = (
        percentile(&mut direct, 0.5),
        percentile(&mut direct, 0.99),
        percentile(&mut via, 0.5),
        percentile(&mut via, 0.99),
    );
    let (f50, fv50) = (percentile(&mut direct_first, 0.5), percentile(&mut via_first, 0.5));
    println!("### Metering proxy ({n} streamed model calls on a kept-alive connection)\n");
    println!("| | direct | through the proxy | added |");
    println!("|---|---|---|---|");
    println!("| latency p50 | {} | {} | {} |", ms(d50), ms(v50), ms(v50.saturating_sub(d50)));
    println!("| latency p99 | {} | {} | {} |", ms(d99), ms(v99), ms(v99.saturating_sub(d99)));
    println!("| time to first byte p50 | {} | {} | {} |\n", ms(f50), ms(fv50), ms(fv50.saturating_sub(f50)));

    let runner = Runner::start();
    let hooks = if quick { 50 } else { 300 };
    let socket = runner.socket.to_string_lossy().into_owned();
    let mut helper = Vec::new();
    for _ in 0..hooks {
        let start = Instant::now();
        let mut child = runner
            .cmd(&["hook", "claude", "PreToolUse", "--socket", &socket])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("teamster hook");
        child.stdin.take().expect("stdin").write_all(PAYLOAD.as_bytes()).expect("payload");
        let out = child.wait_with_output().expect("hook");
        helper.push(start.elapsed());
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("\"allow\""),
            "not allowed: {}",
            String::from_utf8_lossy(&out.stdout)
        );
    }
    let mut socket_only = Vec::new();
    let line = format!(
        "{}\n",
        serde_json::json!({ "event": "PreToolUse", "payload": serde_json::from_str::<serde_json::Value>(PAYLOAD).expect("payload") })
    );
    for _ in 0..hooks {
        let start = Instant::now();
        let mut s = std::os::unix::net::UnixStream::connect(&runner.socket).expect("hook socket");
        s.write_all(line.as_bytes()).expect("report");
        let mut answer = String::new();
        BufReader::new(s).read_line(&mut answer).expect("verdict");
        socket_only.push(start.elapsed());
        assert!(answer.contains("approve-once"), "{answer}");
    }
    println!("### Hook round trip of an allowed tool call ({hooks} calls; policy, audit log, answer)\n");
    println!("| | p50 | p99 |");
    println!("|---|---|---|");
    println!(
        "| `teamster hook` as the agent runs it | {} | {} |",
        ms(percentile(&mut helper, 0.5)),
        ms(percentile(&mut helper, 0.99))
    );
    println!(
        "| the hook socket alone | {} | {} |",
        ms(percentile(&mut socket_only, 0.5)),
        ms(percentile(&mut socket_only, 0.99))
    );
}

/// One run of `argv`, sandboxed by `plan` as the runner does it (the plan on descriptor
/// 3, the seccomp questions answered on a thread) or plainly. Returns the time to exit.
fn run_once(argv: &[String], plan: Option<&teamster::sandbox::Plan>) -> Duration {
    use std::os::fd::AsRawFd;
    use std::os::unix::process::CommandExt;
    let (ours, theirs) = std::os::unix::net::UnixStream::pair().expect("pair");
    let fd = theirs.as_raw_fd();
    let start = Instant::now();
    let mut cmd = std::process::Command::new(&argv[0]);
    cmd.args(&argv[1..]);
    if plan.is_some() {
        // SAFETY: only dup2, between fork and exec.
        unsafe { cmd.pre_exec(move || teamster::sandbox::enter::place_line(fd)) };
    }
    let mut child = cmd.spawn().expect("start");
    drop(theirs);
    if let Some(plan) = plan {
        let line = serde_json::to_string(plan).expect("plan") + "\n";
        (&ours).write_all(line.as_bytes()).expect("plan sent");
        let handed = teamster::sandbox::enter::receive(&ours).expect("the helper's answer");
        if let Some(listener) = handed.seccomp {
            let plan = plan.clone();
            let maker = handed.maker;
            std::thread::spawn(move || teamster::sandbox::seccomp::supervise(listener, maker, &plan, |_| {}));
        }
    }
    child.wait().expect("wait");
    start.elapsed()
}

/// The sandbox's costs: start-up (`teamster sandbox-exec -- true` against `true`), and
/// each write-open, which the runner is asked about (a shell creating files, against the
/// same shell unsandboxed).
fn sandbox_costs(quick: bool) {
    let dir = std::env::temp_dir().join(format!("teamster-bench-sandbox-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("pane/tmp")).expect("dirs");
    let home = teamster::paths::home();
    let plan = teamster::sandbox::plan(
        &teamster::sandbox::Inputs {
            cwd: &dir,
            pane_dir: &dir.join("pane"),
            tmp: &dir.join("pane/tmp"),
            own: &[home.join(".claude")],
            others: &[home.join(".codex")],
            hidden: &teamster::sandbox::secrets(&home),
            writable: &[],
            readable: &[],
            empty: &[PathBuf::from("/run"), dir.join("run")],
            protect: &[],
            repos: &[],
            hook_socket: &dir.join("run/hooks.sock"),
            program: None,
            port: 4000,
            skip: &[],
        },
        &teamster::sandbox::list_dir,
        &teamster::sandbox::real_path,
    );
    let helper = |argv: &[&str]| -> Vec<String> {
        [bin().to_string_lossy().into_owned(), "sandbox-exec".into(), "--".into()]
            .into_iter()
            .chain(argv.iter().map(|a| a.to_string()))
            .collect()
    };
    let plain = |argv: &[&str]| -> Vec<String> { argv.iter().map(|a| a.to_string()).collect() };
    let n = if quick { 30 } else { 200 };
    let truth = ["/bin/true"];
    run_once(&helper(&truth), Some(&plan));
    let (mut bare, mut boxed): (Vec<Duration>, Vec<Duration>) =
        (0..n).map(|_| (run_once(&plain(&truth), None), run_once(&helper(&truth), Some(&plan)))).unzip();
    let (p50, s50) = (percentile(&mut bare, 0.5), percentile(&mut boxed, 0.5));
    println!("### Sandbox start-up ({n} starts of `true`)\n");
    println!("| | p50 | p99 |");
    println!("|---|---|---|");
    println!("| plain | {} | {} |", ms(p50), ms(percentile(&mut bare, 0.99)));
    println!("| in the sandbox | {} | {} |", ms(s50), ms(percentile(&mut boxed, 0.99)));
    println!("| added | {} | |\n", ms(s50.saturating_sub(p50)));

    let files = if quick { 500 } else { 5000 };
    // Each run creates its files in a directory of its own, new files every time.
    let writes_in = |sub: &str| {
        let at = dir.join(sub);
        std::fs::create_dir_all(&at).expect("dir");
        format!("cd {}; i=0; while [ $i -lt {files} ]; do : > f$i; i=$((i+1)); done", at.display())
    };
    let per_write = |t: Duration, start: Duration| t.saturating_sub(start).as_secs_f64() * 1e6 / files as f64;
    // Five runs each, interleaved; the fastest of each stands (the other core is busy with
    // whatever else the machine does).
    let (mut plain_t, mut boxed_t) = (Duration::MAX, Duration::MAX);
    for round in 0..5 {
        let (plain_script, boxed_script) = (writes_in(&format!("plain{round}")), writes_in(&format!("boxed{round}")));
        plain_t = plain_t.min(run_once(&plain(&["/bin/sh", "-c", &plain_script]), None));
        boxed_t = boxed_t.min(run_once(&helper(&["/bin/sh", "-c", &boxed_script]), Some(&plan)));
        assert!(dir.join(format!("boxed{round}/f{}", files - 1)).exists(), "the sandboxed shell wrote nothing");
    }
    let (a, b) = (per_write(plain_t, p50), per_write(boxed_t, s50));
    println!("### A write-open in the sandbox ({files} files created by a shell)\n");
    println!("| plain | in the sandbox | added per write |");
    println!("|---|---|---|");
    println!("| {a:.1} µs | {b:.1} µs | {:.1} µs |\n", b - a);

    // Every connect is made by the runner (it copies the address and connects the agent's
    // socket itself): a program connecting to a Unix socket of its own, accepted each time.
    let connects = if quick { 300 } else { 3000 };
    let code = format!(
        "import socket,os\np='{}/bench.sock'\ntry: os.unlink(p)\nexcept OSError: pass\nl=socket.socket(socket.AF_UNIX); l.bind(p); l.listen(8)\nfor _ in range({connects}):\n  c=socket.socket(socket.AF_UNIX); c.connect(p); a,_=l.accept(); a.close(); c.close()\n",
        dir.display()
    );
    let python = ["python3", "-c", code.as_str()];
    let resolved: Vec<String> = python.iter().map(|a| a.to_string()).collect();
    let which = std::process::Command::new("sh").args(["-c", "command -v python3"]).output().ok();
    let python3 = which.map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string()).filter(|p| !p.is_empty());
    if let Some(python3) = python3 {
        let mut argv = resolved.clone();
        argv[0] = python3;
        let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
        let start_plain = run_once(&plain(&["python3", "-c", "pass"]), None);
        let start_boxed =
            run_once(&helper(&argv[..1].iter().copied().chain(["-c", "pass"]).collect::<Vec<_>>()), Some(&plan));
        let (mut plain_t, mut boxed_t) = (Duration::MAX, Duration::MAX);
        for _ in 0..5 {
            plain_t = plain_t.min(run_once(&plain(&argv), None));
            boxed_t = boxed_t.min(run_once(&helper(&argv), Some(&plan)));
        }
        let per = |t: Duration, start: Duration| t.saturating_sub(start).as_secs_f64() * 1e6 / connects as f64;
        let (a, b) = (per(plain_t, start_plain), per(boxed_t, start_boxed));
        println!("### A connect in the sandbox ({connects} connections to a Unix socket of its own)\n");
        println!("| plain | in the sandbox | added per connect |");
        println!("|---|---|---|");
        println!("| {a:.1} µs | {b:.1} µs | {:.1} µs |\n", b - a);
    }
    let _ = std::fs::remove_dir_all(&dir);
}
