//! Sharing at scale: 100 viewers on one shared session, all on loopback, through a real
//! `teamster serve` and a real runner (the release binary).
//!
//! - latency: a line written into the pane's program (a FIFO it copies to its terminal)
//!   until each viewer has opened the update that shows it (p50/p99 over viewers and lines);
//! - bandwidth: bytes each viewer receives per second while the pane floods its terminal,
//!   against the bytes the program wrote per second: bounded by the frame rate, not by the
//!   program.
//!
//! - server memory under a hostile runner (`-- --server-flood`, alone): a runner that
//!   floods 1 MiB updates and never a snapshot, coming back each time it is cut off; the
//!   server's RSS before and after, and what a viewer that joins afterwards is sent.
//!
//! - replicas (`-- --replicas N`, PostgreSQL and NATS named as `./scripts/test` names them):
//!   the runner on the first, 500 viewers spread over all N; the same latency and flood
//!   figures, then the last replica is killed: how long its viewers take to rejoin another,
//!   and what they are sent again.
//!
//! Run: `cargo bench --bench share` (`-- --quick`: 20 viewers; `-- --viewers N`). Figures,
//! not pass/fail.

#[path = "support/proc.rs"]
mod proc;

use futures_util::{SinkExt, StreamExt};
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use teamster::protocol::ServerMsg;
use teamster::share::crypto::Link;
use teamster::share::wire::{FromViewer, Role, ToViewer, UpdateBody};
use tokio_tungstenite::tungstenite::Message;

fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_teamster"))
}

fn envs(dir: &Path) -> Vec<(String, String)> {
    let d = |s: &str| dir.join(s).to_string_lossy().into_owned();
    vec![
        ("XDG_RUNTIME_DIR".into(), d("run")),
        ("XDG_CONFIG_HOME".into(), d("config")),
        ("XDG_STATE_HOME".into(), d("state")),
        ("HOME".into(), d("home")),
        ("PATH".into(), std::env::var("PATH").unwrap_or_default()),
        ("TERM".into(), "xterm-256color".into()),
    ]
}

fn teamster(dir: &Path, args: &[&str]) -> String {
    let out = Command::new(bin()).args(args).env_clear().envs(envs(dir)).output().expect("teamster");
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn pct(v: &mut [f64], p: f64) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[((v.len() as f64 - 1.0) * p).round() as usize]
}

/// What a viewer saw of its replica dying: how long until it was back in (its join
/// answered by another replica), and what it was sent again that it had already.
#[derive(Default, Debug, Clone, Copy)]
struct Moved {
    reconnect_ms: f64,
    resent_updates: u64,
    resent_bytes: u64,
}

/// A viewer that opens every update and notes when each marker line first shows. It joins
/// through `servers[0]` (the link's own server when empty) and, when that connection ends,
/// rejoins through the next one where it left off, as `teamster attach` does through a
/// balancer; `moved` gets what that cost.
async fn viewer(
    url: String,
    servers: Vec<String>,
    seen: tokio::sync::mpsc::UnboundedSender<(u64, Instant, usize)>,
    home: usize,
    bytes: Arc<AtomicU64>,
    moved: tokio::sync::mpsc::UnboundedSender<Moved>,
) {
    let link = Link::parse(&url).expect("link");
    let servers = if servers.is_empty() { vec![link.server.clone()] } else { servers };
    let mut last_marker = 0;
    let mut last_seq = 0u64;
    for (i, server) in servers.iter().enumerate() {
        let lost_at = Instant::now();
        let Ok(mut ws) = teamster::share::connect(server).await else { continue };
        let join = FromViewer::Join {
            share: link.keys.share.clone(),
            token: link.keys.read_token(),
            role: Role::Read,
            name: "bench".into(),
            resume: (last_seq > 0).then_some(last_seq),
        };
        ws.send(Message::text(serde_json::to_string(&join).unwrap())).await.expect("join");
        let mut cost = Moved::default();
        while let Some(Ok(Message::Text(t))) = ws.next().await {
            bytes.fetch_add(t.len() as u64, Ordering::Relaxed);
            let msg = serde_json::from_str::<ToViewer>(&t);
            if i > 0 && matches!(msg, Ok(ToViewer::Joined { .. })) {
                cost.reconnect_ms = lost_at.elapsed().as_secs_f64() * 1000.0;
                let _ = moved.send(cost);
            }
            let Ok(ToViewer::Update { seq, snap, c }) = msg else { continue };
            if seq <= last_seq {
                cost.resent_updates += 1;
                cost.resent_bytes += t.len() as u64;
                if i > 0 {
                    let _ = moved.send(cost);
                }
                continue;
            }
            last_seq = seq;
            let Ok(plain) = link.keys.open(&teamster::share::crypto::aad::update(&link.keys.share, seq, snap), &c)
            else {
                continue;
            };
            let Ok(body) = serde_json::from_slice::<UpdateBody>(&plain) else { continue };
            let now = Instant::now();
            for msg in body.msgs {
                if let ServerMsg::Frame { panes } = msg {
                    for f in panes {
                        for (_, row) in f.rows {
                            let text = row.text();
                            if let Some(n) = text.strip_prefix("marker ").and_then(|n| n.parse::<u64>().ok())
                                && n > last_marker
                            {
                                last_marker = n;
                                let _ = seen.send((n, now, home));
                            }
                        }
                    }
                }
            }
        }
    }
}

/// A process's resident memory and its peak, in MiB, from /proc.
fn rss_mib(pid: u32) -> (f64, f64) {
    let mib = |key| proc::status(pid, key) as f64 / 1024.0;
    (mib("VmRSS:"), mib("VmHWM:"))
}

/// `teamster serve` on a free loopback port, its records in `dir`: the server and its port.
fn serve(dir: &std::path::Path) -> (std::process::Child, u16) {
    serve_with(dir, &["--db", &dir.join("server.db").to_string_lossy()])
}

/// `teamster serve` on a free loopback port with `args`: the server and its port.
fn serve_with(dir: &std::path::Path, args: &[&str]) -> (std::process::Child, u16) {
    let mut server = Command::new(bin())
        .args(["serve", "--listen", "127.0.0.1:0"])
        .args(args)
        .env_clear()
        .envs(envs(dir))
        .stdout(Stdio::piped())
        // Its log, for a bench run that looks into a figure (TEAMSTER_BENCH_LOGS=1).
        .stderr(if std::env::var_os("TEAMSTER_BENCH_LOGS").is_some() { Stdio::inherit() } else { Stdio::null() })
        .spawn()
        .expect("serve");
    let mut line = String::new();
    std::io::BufReader::new(server.stdout.take().expect("stdout")).read_line(&mut line).expect("serve line");
    let port: u16 =
        line.split("127.0.0.1:").nth(1).and_then(|r| r.split(' ').next()).and_then(|p| p.parse().ok()).expect("port");
    (server, port)
}

/// `teamster serve` while a runner floods updates without ever sending a snapshot.
fn server_flood() {
    use teamster::share::wire::{FromRunner, Register, ToRunner};
    let dir = std::env::temp_dir().join(format!("teamster-bench-flood-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    for d in ["run", "config/teamster", "state", "home"] {
        std::fs::create_dir_all(dir.join(d)).expect("dirs");
    }
    let (mut server, port) = serve(&dir);
    let url = format!("http://127.0.0.1:{port}");
    let pid = server.id();
    let share = "bench-flood-share-0000000001".to_string();
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("rt");
    rt.block_on(async {
        let hello = || {
            let register = Register {
                read: teamster::share::crypto::token_hash("bench-read"),
                drive: None,
                expires: None,
                team: None,
            };
            let m = FromRunner::Runner { share: share.clone(), token: "bench-runner".into(), register: Some(register) };
            Message::text(serde_json::to_string(&m).unwrap())
        };
        let update = |seq: u64, snap: bool, len: usize| {
            Message::text(serde_json::to_string(&FromRunner::Update { seq, snap, c: "A".repeat(len) }).unwrap())
        };
        let before = rss_mib(pid);
        let flood = 330usize << 20;
        let (mut sent, mut seq, mut cut, mut asked) = (0usize, 1u64, 0, 0);
        let t0 = Instant::now();
        while sent < flood {
            let ws = teamster::share::connect(&url).await.expect("connect");
            let (mut tx, mut rx) = ws.split();
            tx.send(hello()).await.expect("hello");
            let heard = tokio::spawn(async move {
                let mut asked = 0;
                while let Some(Ok(Message::Text(t))) = rx.next().await {
                    match serde_json::from_str::<ToRunner>(&t) {
                        Ok(ToRunner::Snapshot) => asked += 1,

                        Ok(ToRunner::Refused { .. }) => return (asked, true),
                        _ => {}
                    }
                }
                (asked, false)
            });
            if seq == 1 {
                tx.send(update(seq, true, 1000)).await.expect("first snapshot");
                seq += 1;
            }
            while sent < flood && !heard.is_finished() {
                if tx.send(update(seq, false, 1 << 20)).await.is_err() {
                    break;
                }
                seq += 1;
                sent += 1 << 20;
            }
            let _ = tx.close().await;
            let (a, was_cut) = heard.await.unwrap_or((0, false));
            asked += a;
            cut += usize::from(was_cut);
        }
        let secs = t0.elapsed().as_secs_f64();
        let after = rss_mib(pid);
        // A viewer joins after the flood; the runner then sends a snapshot: all the viewer
        // is sent up to it.
        let mut runner = teamster::share::connect(&url).await.expect("connect");
        runner.send(hello()).await.expect("hello");
        let _ = runner.next().await;
        let mut viewer = teamster::share::connect(&url).await.expect("connect");
        let join = FromViewer::Join {
            share: share.clone(),
            token: "bench-read".into(),
            role: Role::Read,
            name: "late".into(),
            resume: None,
        };
        viewer.send(Message::text(serde_json::to_string(&join).unwrap())).await.expect("join");
        runner.send(update(seq + 1, true, 4000)).await.expect("snapshot");
        let mut got = 0usize;
        while let Ok(Some(Ok(Message::Text(t)))) = tokio::time::timeout(Duration::from_secs(10), viewer.next()).await {
            got += t.len();
            if matches!(serde_json::from_str::<ToViewer>(&t), Ok(ToViewer::Update { seq: last, .. }) if last == seq + 1) {
                break;
            }
        }
        println!(
            "server flood: a runner sent {} MiB of updates without a snapshot in {secs:.1} s (asked for one {asked} times, cut off {cut} times); `teamster serve` RSS {:.1} MiB before, {:.1} MiB after (peak {:.1} MiB); a viewer joining afterwards was sent {:.1} KiB",
            sent >> 20,
            before.0,
            after.0,
            after.1,
            got as f64 / 1024.0
        );
    });
    let _ = server.kill();
    let _ = server.wait();
    let _ = std::fs::remove_dir_all(&dir);
}

/// A bench's place: its own runtime, config, state and home directories, and a FIFO whose
/// lines the shared pane's program copies to its terminal.
fn bench_dir(name: &str) -> (PathBuf, PathBuf) {
    let dir = std::env::temp_dir().join(format!("teamster-bench-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    for d in ["run", "config/teamster", "state", "home"] {
        std::fs::create_dir_all(dir.join(d)).expect("dirs");
    }
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir.join("run"), std::fs::Permissions::from_mode(0o700)).expect("chmod");
    let fifo = dir.join("lines");
    assert!(Command::new("mkfifo").arg(&fifo).status().expect("mkfifo").success());
    (dir, fifo)
}

/// A session whose pane copies the FIFO to its terminal, shared read-only through `server`:
/// the watch link.
fn shared_session(dir: &Path, fifo: &Path, server: &str) -> String {
    let script = format!("while true; do cat {}; done", fifo.display());
    teamster(dir, &["-d", "-s", "bench", "--size", "120x40", "--", "bash", "--norc", "-c", &script]);
    let json = teamster(dir, &["share", "--json", "--read-only", "-t", "bench", "--server", server]);
    let v: serde_json::Value = serde_json::from_str(&json).expect("json");
    v["shares"][0]["read_url"].as_str().expect("url").to_string()
}

/// Marker lines as viewers open them: which, when, and the replica the viewer joined first.
type Seen = tokio::sync::mpsc::UnboundedReceiver<(u64, Instant, usize)>;

/// Lines written after everyone joined before latency is counted.
const WARM_UP: u64 = 5;

/// Writes `marker N` into the pane until every viewer has opened it.
async fn until_all_see(w: &mut std::fs::File, rx: &mut Seen, n: u64, viewers: usize) -> Vec<(f64, usize)> {
    use std::io::Write;
    let t0 = Instant::now();
    writeln!(w, "marker {n}").expect("write");
    w.flush().expect("flush");
    let mut lat = Vec::with_capacity(viewers);
    while lat.len() < viewers {
        match tokio::time::timeout(Duration::from_secs(10), rx.recv()).await {
            Ok(Some((m, at, home))) if m == n => lat.push((at.duration_since(t0).as_secs_f64() * 1000.0, home)),
            Ok(Some(_)) => {}
            _ => panic!("viewers did not all see marker {n} ({}/{viewers})", lat.len()),
        }
    }
    lat
}

/// Latency (p50, p99 over viewers and `lines` lines), then a 64 MB flood: what the program
/// wrote per second and what each viewer received per second.
async fn latency_and_flood(
    mut w: std::fs::File,
    rx: &mut Seen,
    bytes: &AtomicU64,
    viewers: usize,
    lines: std::ops::RangeInclusive<u64>,
) -> std::fs::File {
    let mut lat = Vec::new();
    let first = *lines.start();
    for n in lines {
        let line = until_all_see(&mut w, rx, n, viewers).await;
        // The first lines come while the runner still tells everyone who joined: warm-up.
        if n < first + WARM_UP {
            if n == first {
                let mut ms: Vec<f64> = line.iter().map(|(ms, _)| *ms).collect();
                println!(
                    "the first line after {viewers} joins: p50 {:.2} ms, p99 {:.2} ms (not counted below)",
                    pct(&mut ms, 0.5),
                    pct(&mut ms, 0.99)
                );
            }
            continue;
        }
        lat.extend(line);
        // Lines spaced out, as output arrives in a live session.
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
    let mut all: Vec<f64> = lat.iter().map(|(ms, _)| *ms).collect();
    println!(
        "{viewers} viewers, PTY output to each viewer's opened update: p50 {:.2} ms, p99 {:.2} ms",
        pct(&mut all, 0.5),
        pct(&mut all, 0.99)
    );
    let homes = lat.iter().map(|(_, h)| *h).max().unwrap_or(0) + 1;
    for home in (0..homes).filter(|_| homes > 1) {
        let mut mine: Vec<f64> = lat.iter().filter(|(_, h)| *h == home).map(|(ms, _)| *ms).collect();
        println!("  viewers on replica {home}: p50 {:.2} ms, p99 {:.2} ms", pct(&mut mine, 0.5), pct(&mut mine, 0.99));
    }
    // Flood: 64 MB of text as fast as the terminal takes it.
    let flood = 64u64 << 20;
    let before = bytes.load(Ordering::Relaxed);
    let t0 = Instant::now();
    let writer = std::thread::spawn(move || {
        use std::io::Write;
        let chunk = "flooding the pane with a line of text that changes nothing much at all 0123456789\n".repeat(800);
        let mut sent = 0u64;
        while sent < flood {
            w.write_all(chunk.as_bytes()).expect("flood");
            sent += chunk.len() as u64;
        }
        w
    });
    let mut w = writer.join().expect("the flood's writer");
    until_all_see(&mut w, rx, 1_000_000, viewers).await;
    let secs = t0.elapsed().as_secs_f64();
    let per_viewer = (bytes.load(Ordering::Relaxed) - before) as f64 / viewers as f64 / secs;
    let program = flood as f64 / secs;
    println!(
        "flood: the program wrote {:.1} MB/s; each viewer received {:.2} MB/s ({:.1}% of the output) over {secs:.1} s",
        program / 1e6,
        per_viewer / 1e6,
        100.0 * per_viewer / program
    );
    w
}

/// Replicas on PostgreSQL and NATS (those `./scripts/test` starts, named in
/// TEAMSTER_TEST_DATABASE and TEAMSTER_TEST_BUS): the runner on the first, `viewers`
/// spread over all of them; then the last replica is killed and its viewers rejoin through
/// the others.
fn replicas(n: usize, viewers: usize) {
    let (Ok(database), Ok(bus)) = (std::env::var("TEAMSTER_TEST_DATABASE"), std::env::var("TEAMSTER_TEST_BUS")) else {
        eprintln!("--replicas needs PostgreSQL and NATS: name them in TEAMSTER_TEST_DATABASE and TEAMSTER_TEST_BUS");
        std::process::exit(2);
    };
    let (dir, fifo) = bench_dir("replicas");
    let mut servers: Vec<(std::process::Child, u16)> =
        (0..n).map(|_| serve_with(&dir, &["--database", &database, "--bus", &bus])).collect();
    let urls: Vec<String> = servers.iter().map(|(_, port)| format!("http://127.0.0.1:{port}")).collect();
    let url = shared_session(&dir, &fifo, &urls[0]);
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("rt");
    rt.block_on(async {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let (moved_tx, mut moved_rx) = tokio::sync::mpsc::unbounded_channel();
        let bytes = Arc::new(AtomicU64::new(0));
        for i in 0..viewers {
            // Its own replica first, then the others in turn.
            let order: Vec<String> = (0..n).map(|k| urls[(i + k) % n].clone()).collect();
            tokio::spawn(viewer(url.clone(), order, tx.clone(), i % n, bytes.clone(), moved_tx.clone()));
        }
        let mut w = std::fs::OpenOptions::new().write(true).open(&fifo).expect("fifo");
        // Everyone has joined once everyone sees a line (set-up, not a measurement).
        until_all_see(&mut w, &mut rx, 1, viewers).await;
        println!("{n} replicas, the runner on the first, {viewers} viewers spread over all of them:");
        let mut w = latency_and_flood(w, &mut rx, &bytes, viewers, 2..=36).await;
        if n < 2 {
            return;
        }
        // Kill the last replica: its viewers rejoin the next one.
        let on_it = (0..viewers).filter(|i| i % n == n - 1).count();
        let (child, _) = servers.last_mut().expect("a replica");
        let _ = child.kill();
        let _ = child.wait();
        let mut costs: Vec<Moved> = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(30);
        while costs.len() < on_it && Instant::now() < deadline {
            if let Ok(Some(c)) = tokio::time::timeout(Duration::from_secs(5), moved_rx.recv()).await {
                costs.push(c);
            }
        }
        let lat: Vec<f64> = until_all_see(&mut w, &mut rx, 2_000_000, viewers).await.into_iter().map(|(ms, _)| ms).collect();
        tokio::time::sleep(Duration::from_millis(500)).await;
        while let Ok(c) = moved_rx.try_recv() {
            // Later reports of the same viewers: what they were sent again after joining.
            costs.push(c);
        }
        let mut reconnect: Vec<f64> = costs.iter().map(|c| c.reconnect_ms).filter(|ms| *ms > 0.0).collect();
        let resent: u64 = costs.iter().map(|c| c.resent_updates).max().unwrap_or(0);
        let resent_bytes: u64 = costs.iter().map(|c| c.resent_bytes).max().unwrap_or(0);
        println!(
            "replica killed: {on_it} viewers rejoined another, in p50 {:.1} ms, p99 {:.1} ms (kill to the new replica's welcome); updates sent again: at most {resent} ({resent_bytes} bytes) per viewer; the next line reached all {viewers} (p50 {:.2} ms)",
            pct(&mut reconnect, 0.5),
            pct(&mut reconnect, 0.99),
            pct(&mut lat.clone(), 0.5)
        );
    });
    let _ = Command::new(bin()).args(["kill", "--all"]).env_clear().envs(envs(&dir)).output();
    for (mut child, _) in servers {
        let _ = child.kill();
        let _ = child.wait();
    }
    let _ = std::fs::remove_dir_all(&dir);
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.iter().any(|a| a == "--server-flood") {
        return server_flood();
    }
    let quick = args.iter().any(|a| a == "--quick");
    let option = |name: &str| {
        args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).map(|n| n.parse::<usize>().expect(name))
    };
    if let Some(n) = option("--replicas") {
        return replicas(n, option("--viewers").unwrap_or(if quick { 60 } else { 500 }));
    }
    let viewers = option("--viewers").unwrap_or(if quick { 20 } else { 100 });
    let (dir, fifo) = bench_dir("share");
    let (mut server, port) = serve(&dir);
    let url = shared_session(&dir, &fifo, &format!("http://127.0.0.1:{port}"));
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("rt");
    rt.block_on(async {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let (moved, _) = tokio::sync::mpsc::unbounded_channel();
        let bytes = Arc::new(AtomicU64::new(0));
        for _ in 0..viewers {
            tokio::spawn(viewer(url.clone(), Vec::new(), tx.clone(), 0, bytes.clone(), moved.clone()));
        }
        let mut w = std::fs::OpenOptions::new().write(true).open(&fifo).expect("fifo");
        // Everyone has joined once everyone sees a line (set-up, not a measurement).
        until_all_see(&mut w, &mut rx, 1, viewers).await;
        latency_and_flood(w, &mut rx, &bytes, viewers, 2..=if quick { 26 } else { 56 }).await;
    });
    let _ = Command::new(bin()).args(["kill", "--all"]).env_clear().envs(envs(&dir)).output();
    let _ = server.kill();
    let _ = server.wait();
    let _ = std::fs::remove_dir_all(&dir);
}
