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
//! Run: `cargo bench --bench share` (`-- --quick`: 20 viewers). Figures, not pass/fail.

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

/// A viewer that opens every update and notes when each marker line first shows.
async fn viewer(url: String, seen: tokio::sync::mpsc::UnboundedSender<(u64, Instant)>, bytes: Arc<AtomicU64>) {
    let link = Link::parse(&url).expect("link");
    let mut ws = teamster::share::connect(&link.server).await.expect("connect");
    let join = FromViewer::Join {
        share: link.keys.share.clone(),
        token: link.keys.read_token(),
        role: Role::Read,
        name: "bench".into(),
        resume: None,
    };
    ws.send(Message::text(serde_json::to_string(&join).unwrap())).await.expect("join");
    let mut last_marker = 0;
    while let Some(Ok(Message::Text(t))) = ws.next().await {
        bytes.fetch_add(t.len() as u64, Ordering::Relaxed);
        let Ok(ToViewer::Update { seq, snap, c }) = serde_json::from_str::<ToViewer>(&t) else { continue };
        let Ok(plain) = link.keys.open(&teamster::share::crypto::aad::update(&link.keys.share, seq, snap), &c) else {
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
                            let _ = seen.send((n, now));
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
    let mut server = Command::new(bin())
        .args(["serve", "--listen", "127.0.0.1:0", "--db"])
        .arg(dir.join("server.db"))
        .env_clear()
        .envs(envs(dir))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
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

fn main() {
    if std::env::args().any(|a| a == "--server-flood") {
        return server_flood();
    }
    let quick = std::env::args().any(|a| a == "--quick");
    let viewers = if quick { 20 } else { 100 };
    let dir = std::env::temp_dir().join(format!("teamster-bench-share-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    for d in ["run", "config/teamster", "state", "home"] {
        std::fs::create_dir_all(dir.join(d)).expect("dirs");
    }
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir.join("run"), std::fs::Permissions::from_mode(0o700)).expect("chmod");
    let fifo = dir.join("lines");
    assert!(Command::new("mkfifo").arg(&fifo).status().expect("mkfifo").success());
    let (mut server, port) = serve(&dir);
    let script = format!("while true; do cat {}; done", fifo.display());
    teamster(&dir, &["-d", "-s", "bench", "--size", "120x40", "--", "bash", "--norc", "-c", &script]);
    let json = teamster(
        &dir,
        &["share", "--json", "--read-only", "-t", "bench", "--server", &format!("http://127.0.0.1:{port}")],
    );
    let v: serde_json::Value = serde_json::from_str(&json).expect("json");
    let url = v["shares"][0]["read_url"].as_str().expect("url").to_string();

    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("rt");
    rt.block_on(async {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let bytes = Arc::new(AtomicU64::new(0));
        for _ in 0..viewers {
            tokio::spawn(viewer(url.clone(), tx.clone(), bytes.clone()));
        }
        tokio::time::sleep(Duration::from_millis(500)).await; // everyone joined (set-up, not a measurement)
        let mut w = std::fs::OpenOptions::new().write(true).open(&fifo).expect("fifo");
        let mut lat = Vec::new();
        let lines = if quick { 20 } else { 50 };
        for n in 1..=lines {
            use std::io::Write;
            let t0 = Instant::now();
            writeln!(w, "marker {n}").expect("write");
            w.flush().expect("flush");
            let mut got = 0;
            while got < viewers {
                match tokio::time::timeout(Duration::from_secs(5), rx.recv()).await {
                    Ok(Some((m, at))) if m == n => {
                        lat.push(at.duration_since(t0).as_secs_f64() * 1000.0);
                        got += 1;
                    }
                    Ok(Some(_)) => {}
                    _ => panic!("viewers did not all see marker {n} ({got}/{viewers})"),
                }
            }
            // Lines spaced out, as output arrives in a live session.
            tokio::time::sleep(Duration::from_millis(30)).await;
        }
        println!(
            "{viewers} viewers, PTY output to each viewer's opened update: p50 {:.2} ms, p99 {:.2} ms",
            pct(&mut lat, 0.5),
            pct(&mut lat, 0.99)
        );

        // Flood: 64 MB of text as fast as the terminal takes it.
        let flood = 64u64 << 20;
        let before = bytes.load(Ordering::Relaxed);
        let t0 = Instant::now();
        // The same writer: closing it would end the program's `cat`.
        let writer = std::thread::spawn({
            move || {
                use std::io::Write;
                let chunk = "flooding the pane with a line of text that changes nothing much at all 0123456789\n".repeat(800);
                let mut sent = 0u64;
                while sent < flood {
                    w.write_all(chunk.as_bytes()).expect("flood");
                    sent += chunk.len() as u64;
                }
                writeln!(w, "marker 1000000").expect("end");
            }
        });
        let mut got = 0;
        while got < viewers {
            if let Ok(Some((m, _))) = tokio::time::timeout(Duration::from_secs(60), rx.recv()).await {
                if m == 1_000_000 {
                    got += 1;
                }
            } else {
                panic!("the flood did not reach everyone");
            }
        }
        let secs = t0.elapsed().as_secs_f64();
        let _ = writer.join();
        let per_viewer = (bytes.load(Ordering::Relaxed) - before) as f64 / viewers as f64 / secs;
        let program = flood as f64 / secs;
        println!(
            "flood: the program wrote {:.1} MB/s; each viewer received {:.2} MB/s ({:.1}% of the output) over {secs:.1} s",
            program / 1e6,
            per_viewer / 1e6,
            100.0 * per_viewer / program
        );
    });
    let _ = Command::new(bin()).args(["kill", "--all"]).env_clear().envs(envs(&dir)).output();
    let _ = server.kill();
    let _ = server.wait();
    let _ = std::fs::remove_dir_all(&dir);
}
