//! Sharing at scale: 100 viewers on one shared session, all on loopback, through a real
//! `teamster serve` and a real runner (the release binary).
//!
//! - latency: a line written into the pane's program (a FIFO it copies to its terminal)
//!   until each viewer has opened the update that shows it (p50/p99 over viewers and lines);
//! - bandwidth: bytes each viewer receives per second while the pane floods its terminal,
//!   against the bytes the program wrote per second: bounded by the frame rate, not by the
//!   program.
//!
//! Run: `cargo bench --bench share` (`-- --quick`: 20 viewers). Figures, not pass/fail.

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

fn main() {
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
    let mut server = Command::new(bin())
        .args(["serve", "--listen", "127.0.0.1:0", "--db"])
        .arg(dir.join("server.db"))
        .env_clear()
        .envs(envs(&dir))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("serve");
    let mut line = String::new();
    let mut out = std::io::BufReader::new(server.stdout.take().expect("stdout"));
    out.read_line(&mut line).expect("serve line");
    let port: u16 =
        line.split("127.0.0.1:").nth(1).and_then(|r| r.split(' ').next()).and_then(|p| p.parse().ok()).expect("port");
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
