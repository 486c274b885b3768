//! Sharing a live session by link, as users meet it: real runners share to a real
//! `teamster serve` over WebSockets; a driver and a viewer join with the code `teamster
//! attach` runs. The driver types and approves, the viewer cannot; the server dies and
//! comes back and everyone resumes; wrong secrets, tampered and replayed messages, and a
//! malicious server get nowhere; the server's database and traffic hold no plaintext.

mod support;

use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use std::sync::{Arc, Mutex};
use support::Env;
use support::fake::{ASK_BEFORE_PUSH, fake_claude};
use support::share::{Fate, Relay, Server, Viewer, pane_running, runtime, share};
use teamster::share::crypto::Link;
use teamster::share::crypto::token_hash;
use teamster::share::wire::{Authority, FromRunner, FromViewer, Kind, Register, Role, ToRunner, ToViewer};
use tokio_tungstenite::tungstenite::Message;

/// A runner with a detached session `name` running the stand-in agent.
fn runner_with_agent(name: &str) -> Env {
    let env = Env::new();
    env.write_config(&format!("{ASK_BEFORE_PUSH}\n{}", fake_claude(&env)));
    env.ok(&["-d", "-s", name, "--size", "100x30"]);
    env.ok(&["new", "fake", "-t", name]);
    env
}

/// Joins by hand, as any program could: the server's first answer.
async fn raw_join(server: &str, share: &str, token: &str, role: Role) -> (teamster::share::Client, ToViewer) {
    let mut ws = teamster::share::connect(server).await.expect("connect");
    let join = FromViewer::Join { share: share.into(), token: token.into(), role, name: "raw".into(), resume: None };
    ws.send(Message::text(serde_json::to_string(&join).unwrap())).await.expect("send join");
    let first = match ws.next().await {
        Some(Ok(Message::Text(t))) => serde_json::from_str(&t).expect("server JSON"),
        other => panic!("no answer to a join: {other:?}"),
    };
    (ws, first)
}

#[test]
fn a_driver_types_and_approves_a_viewer_cannot_and_both_ride_out_a_server_restart() {
    let alpha = runner_with_agent("alpha");
    let beta = Env::new();
    beta.ok(&["-d", "-s", "beta", "--", "bash", "--norc", "-c", "echo beta-screen; exec cat"]);
    let mut server = Server::start(&alpha);
    let (id_a, read_a, drive_a) = share(&alpha, &["-t", "alpha", "--server", &server.url()]);
    let drive_a = drive_a.expect("a drive link");
    let (_, read_b, drive_b) = share(&beta, &["-t", "beta", "--read-only", "--server", &server.url()]);
    assert!(drive_b.is_none(), "a read-only share has no drive link");
    assert!(read_a.contains("/s/") && read_a.contains("#r=") && !read_a.contains("&d="), "{read_a}");
    assert!(drive_a.starts_with(&read_a) && drive_a.contains("&d="), "{drive_a}");

    let rt = runtime();
    rt.block_on(async {
        let mut driver = Viewer::join(&drive_a, "dana").await.expect("driver joins");
        let mut viewer = Viewer::join(&read_a, "vic").await.expect("viewer joins");
        let mut other = Viewer::join(&read_b, "olga").await.expect("joins the second runner's share");
        driver.wait("the agent's prompt", |v| v.count("fake>") > 0).await;
        viewer.wait("the agent's prompt", |v| v.count("fake>") > 0).await;
        other.wait("the other runner's pane", |v| v.count("beta-screen") > 0).await;
        assert_eq!(other.count("fake>"), 0, "each share shows its own session");
        let agent = pane_running(&driver, "fake-claude").expect("the agent's pane");

        // The sharer sees who is watching.
        alpha.wait_ls("the watchers in ls", |_| {
            let list = alpha.ok(&["share", "--list"]);
            list.contains("dana (driver)") && list.contains("vic (viewer)")
        });

        // The driver types: the agent asks to push; both see it waiting.
        driver.type_line(agent, "run echo pushed > pushed.txt; true git push").await;
        driver.wait("the push to wait", |v| v.pending.len() == 1).await;
        viewer.wait("the viewer to see it wait", |v| v.pending.len() == 1).await;
        let action = driver.pending[0].id;
        assert_eq!(driver.pending[0].rule.as_deref(), Some("pushes need a look"));
        assert!(other.pending.is_empty(), "another runner's approvals stay its own");

        // The viewer can neither approve nor type; nothing reaches the runner.
        viewer.resolve(action, true).await;
        viewer.type_line(agent, "hello from vic").await;
        viewer.wait("the viewer told it cannot", |v| v.said.iter().any(|s| s.contains("read-only link"))).await;
        assert_eq!(alpha.ok(&["approvals", "--json"]).matches("\"id\"").count(), 1, "still waiting");

        // The driver approves; the agent goes on, and the sharer's audit says who.
        driver.resolve(action, true).await;
        driver.wait("the push to run", |v| v.count("ran: echo pushed") == 1).await;
        assert!(alpha.dir.join("work/pushed.txt").exists());
        let log = alpha.audit();
        assert!(log.iter().any(|d| d["verdict"] == "allow" && d["by"] == "dana (shared link)"), "{log:#?}");
        assert!(!viewer.text().contains("hello from vic"));
        assert_eq!(viewer.count("hello from vic"), 0);

        driver.type_line(agent, "hello one").await;
        driver.wait("the first line", |v| v.count("you said: hello one") == 1).await;
        viewer.wait("the viewer to see it", |v| v.count("you said: hello one") == 1).await;

        // The server dies. What the driver types meanwhile is kept and sent once it is
        // back; everyone resumes where they were.
        server.kill();
        driver.type_line(agent, "hello two").await;
        let port = server.port;
        let server = Server::on(&alpha, port);
        driver.wait("the line typed while the server was down", |v| v.count("you said: hello two") == 1).await;
        viewer.wait("the viewer to resume", |v| v.count("you said: hello two") == 1).await;
        other.wait("the other share to resume", |v| v.said.iter().any(|s| s.contains("reconnected"))).await;
        driver.type_line(agent, "hello three").await;
        viewer.wait("a line after the restart", |v| v.count("you said: hello three") == 1).await;
        viewer.drain(std::time::Duration::from_millis(300)).await;
        driver.drain(std::time::Duration::from_millis(300)).await;
        for line in ["you said: hello one", "you said: hello two", "you said: hello three", "ran: echo pushed"] {
            assert_eq!(driver.count(line), 1, "{line} once on the driver's screen:\n{}", driver.text());
            assert_eq!(viewer.count(line), 1, "{line} once on the viewer's screen:\n{}", viewer.text());
        }
        assert_eq!(viewer.pane_text(agent), driver.pane_text(agent), "both see the same screen");

        // A wrong capability: the read secret cannot drive, a made-up one cannot watch.
        let link = Link::parse(&drive_a).unwrap();
        let (_, answer) = raw_join(&server.url(), &id_a, &link.keys.read_token(), Role::Drive).await;
        assert!(matches!(&answer, ToViewer::Refused { reason } if reason.contains("wrong secret")), "{answer:?}");
        let (_, answer) =
            raw_join(&server.url(), &id_a, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", Role::Read).await;
        assert!(matches!(&answer, ToViewer::Refused { .. }), "{answer:?}");
        // A read-only join that sends a keystroke anyway is refused by the server.
        let (mut ws, answer) = raw_join(&server.url(), &id_a, &link.keys.read_token(), Role::Read).await;
        assert!(matches!(answer, ToViewer::Joined { role: Role::Read, .. }), "{answer:?}");
        let forged = FromViewer::Send {
            kind: Kind::Input,
            c: "AAAA".into(),
            drive: Some(Authority { id: "x".into(), seq: 1, mac: "AAAA".into() }),
        };
        ws.send(Message::text(serde_json::to_string(&forged).unwrap())).await.unwrap();
        let refused = loop {
            match ws.next().await {
                Some(Ok(Message::Text(t))) => match serde_json::from_str::<ToViewer>(&t).unwrap() {
                    ToViewer::Error { reason } => break reason,
                    _ => continue,
                },
                other => panic!("{other:?}"),
            }
        };
        assert!(refused.contains("read-only link cannot send input"), "{refused}");

        // Unshare: both are cut off at once, and the link no longer works.
        let said: serde_json::Value =
            serde_json::from_str(&alpha.ok(&["unshare", &id_a, "--json"])).expect("unshare --json");
        assert!(said["message"].as_str().is_some_and(|m| m.contains("stopped 1 share")), "{said}");
        driver.wait("the driver cut off", |v| v.detached.is_some()).await;
        viewer.wait("the viewer cut off", |v| v.detached.is_some()).await;
        assert!(viewer.detached.as_deref().unwrap_or("").contains("stopped sharing"), "{:?}", viewer.detached);
        let again = Viewer::join(&read_a, "late").await.err().unwrap_or_default();
        assert!(again.contains("stopped by the person who shared it"), "{again}");
        assert!(server.records_text().await.contains(&id_a), "the share is on record");
    });
}

#[test]
fn the_web_ui_renders_panes_in_colour_and_a_driver_approves_by_clicking() {
    let env = runner_with_agent("web");
    env.ok(&[
        "new",
        "-t",
        "web",
        "--",
        "bash",
        "--norc",
        "-c",
        "printf '\\033[31mRED-TEXT\\033[0m plain\\n'; exec cat",
    ]);
    let server = Server::start(&env);
    let (_, read, drive) = share(&env, &["-t", "web", "--server", &server.url()]);
    let drive = drive.expect("a drive link");
    let rt = runtime();
    rt.block_on(async {
        let mut typist = Viewer::join(&drive, "typist").await.expect("joins");
        typist.wait("the agent's prompt", |v| v.count("fake>") > 0).await;
        let agent = pane_running(&typist, "fake-claude").expect("the agent's pane");

        let browser = support::browser::Browser::start(1280).await;
        browser.open(&drive).await;
        browser.wait("the page to go live", "return document.getElementById('status').innerText === 'live'").await;
        browser.wait("the pane's text", "return document.body.innerText.includes('fake>')").await;
        // The colour the program drew, on the page.
        let color = browser
            .wait(
                "the red text",
                "for (const s of document.querySelectorAll('.screen span')) { if (s.textContent.includes('RED-TEXT')) return getComputedStyle(s).color; } return null;",
            )
            .await;
        let rgb: Vec<u32> = color
            .as_str()
            .unwrap_or_default()
            .trim_start_matches("rgb(")
            .trim_end_matches(')')
            .split(',')
            .filter_map(|n| n.trim().parse().ok())
            .collect();
        assert!(rgb.len() == 3 && rgb[0] > 150 && rgb[1] < 100 && rgb[2] < 100, "RED-TEXT is drawn red: {color}");
        let plain = browser
            .eval("for (const s of document.querySelectorAll('.screen span')) { if (s.textContent.trim() === 'plain') return getComputedStyle(s).color; } return null;")
            .await;
        assert_ne!(plain, color, "the rest of the line is not red");

        // A push waits; the driver approves it with a click.
        typist.type_line(agent, "run echo clicked > clicked.txt; true git push").await;
        browser.wait("the pending action", "return document.querySelectorAll('.pending button.approve').length === 1").await;
        let text = browser.eval("return document.getElementById('pending').innerText").await;
        assert!(text.as_str().unwrap_or_default().contains("git push"), "{text}");
        // The card names the pane by its place, as the sidebar and the command line do.
        assert!(text.as_str().unwrap_or_default().contains("pane web:1."), "{text}");
        browser.click(".pending button.approve").await;
        typist.wait("the push to run", |v| v.count("ran: echo clicked") == 1).await;
        assert!(env.dir.join("work/clicked.txt").exists());
        let log = env.audit();
        let by = log.iter().find(|d| d["verdict"] == "allow").map(|d| d["by"].to_string()).unwrap_or_default();
        assert!(by.contains("(shared link)"), "approved from the page: {log:#?}");

        // The agent's own question (its permission dialog) waits on the page too, and a
        // click answers it.
        typist.type_line(agent, "confirm echo mine > mine.txt").await;
        // (The push just approved may still be on the page for a moment: wait for this one alone.)
        browser
            .wait(
                "the agent's question",
                "const p = document.querySelectorAll('.pending'); return p.length === 1 && p[0].innerText.includes('echo mine') && !!p[0].querySelector('button.approve:not([disabled])');",
            )
            .await;
        let text = browser.eval("return document.getElementById('pending').innerText").await;
        let text = text.as_str().unwrap_or_default();
        assert!(text.contains("echo mine") && text.contains("asks before it does this"), "{text}");
        browser.click(".pending button.approve").await;
        typist.wait("the agent's call to run", |v| v.count("ran: echo mine") == 1).await;
        assert!(env.dir.join("work/mine.txt").exists());

        // Denied with a message written on the page: the agent is told it.
        typist.type_line(agent, "run echo nope > nope.txt; true git push").await;
        browser
            .wait(
                "the third push",
                "const p = document.querySelectorAll('.pending'); return p.length === 1 && p[0].innerText.includes('echo nope') && !!p[0].querySelector('input.deny-message:not([disabled])');",
            )
            .await;
        browser
            .eval("const i = document.querySelector('.pending input.deny-message'); i.value = 'use a branch for this'; i.dispatchEvent(new Event('input')); return true;")
            .await;
        let label = browser.eval("return document.querySelector('.pending button.deny').innerText").await;
        assert_eq!(label.as_str(), Some("Deny with message"));
        browser.click(".pending button.deny").await;
        typist.wait("the agent told why", |v| v.count("use a branch for this") > 0).await;
        assert!(!env.dir.join("work/nope.txt").exists());

        // A read-only page shows the same screen, and no buttons.
        browser.open(&read).await;
        browser.wait("the read-only page", "return document.body.innerText.includes('ran: echo clicked')").await;
        typist.type_line(agent, "run echo again; true git push").await;
        browser.wait("the next pending action", "return document.querySelectorAll('.pending').length === 1").await;
        let buttons = browser.eval("return document.querySelectorAll('button.approve, button.deny, input.type').length").await;
        assert_eq!(buttons, 0, "a read-only link has nothing to click");
        // Narrow, as on a phone: the panes stack and stay inside the screen.
        browser.quit().await;
        let phone = support::browser::Browser::start(375).await;
        phone.open(&read).await;
        phone.wait("the page on a phone", "return document.body.innerText.includes('ran: echo clicked')").await;
        let overflow = phone.eval("return document.documentElement.scrollWidth <= window.innerWidth + 1").await;
        assert_eq!(overflow, true, "nothing sticks out sideways on a phone");
        phone.quit().await;
    });
}

/// Bytes per connection.
type Recorded = Arc<Mutex<Vec<Arc<Mutex<Vec<u8>>>>>>;

/// A TCP relay in front of the server that records both directions (and can alter what
/// goes to viewers), as someone on the way, or the server itself, could.
struct Tap {
    port: u16,
    /// Per connection, what went each way.
    to_clients: Recorded,
    to_server: Recorded,
    tamper: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl Tap {
    async fn start(server_port: u16) -> Tap {
        use std::sync::atomic::AtomicBool;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let tap = Tap {
            port,
            to_clients: Arc::new(Mutex::new(Vec::new())),
            to_server: Arc::new(Mutex::new(Vec::new())),
            tamper: Arc::new(AtomicBool::new(false)),
        };
        let (down, up, tamper) = (tap.to_clients.clone(), tap.to_server.clone(), tap.tamper.clone());
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let Ok(server) = tokio::net::TcpStream::connect(("127.0.0.1", server_port)).await else { continue };
                let (mut cr, mut cw) = client.into_split();
                let (mut sr, mut sw) = server.into_split();
                let (d, u) = (Arc::new(Mutex::new(Vec::new())), Arc::new(Mutex::new(Vec::new())));
                down.lock().unwrap().push(d.clone());
                up.lock().unwrap().push(u.clone());
                let (down, up, tamper) = (d, u, tamper.clone());
                tokio::spawn(async move {
                    use tokio::io::{AsyncReadExt, AsyncWriteExt};
                    let mut buf = vec![0u8; 65536];
                    while let Ok(n) = cr.read(&mut buf).await {
                        if n == 0 || sw.write_all(&buf[..n]).await.is_err() {
                            break;
                        }
                        up.lock().unwrap().extend_from_slice(&buf[..n]);
                    }
                });
                tokio::spawn(async move {
                    use tokio::io::{AsyncReadExt, AsyncWriteExt};
                    let mut buf = vec![0u8; 65536];
                    while let Ok(n) = sr.read(&mut buf).await {
                        if n == 0 {
                            break;
                        }
                        let chunk = &mut buf[..n];
                        let marker = b"\"snap\":false,\"c\":\"";
                        if tamper.load(std::sync::atomic::Ordering::SeqCst)
                            && let Some(at) = chunk.windows(marker.len()).position(|w| w == marker)
                        {
                            let i = at + marker.len() + 20;
                            chunk[i] = if chunk[i] == b'A' { b'B' } else { b'A' };
                            tamper.store(false, std::sync::atomic::Ordering::SeqCst);
                        }
                        down.lock().unwrap().extend_from_slice(chunk);
                        if cw.write_all(chunk).await.is_err() {
                            break;
                        }
                    }
                });
            }
        });
        tap
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

/// The payloads of the WebSocket frames in a recorded stream (unmasked), after each
/// connection's HTTP upgrade; good enough for streams of whole frames.
fn ws_payloads(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i..].starts_with(b"GET ") || bytes[i..].starts_with(b"HTTP/1.1") {
            match bytes[i..].windows(4).position(|w| w == b"\r\n\r\n") {
                Some(end) => i += end + 4,
                None => break,
            }
            continue;
        }
        if i + 2 > bytes.len() {
            break;
        }
        let masked = bytes[i + 1] & 0x80 != 0;
        let mut len = (bytes[i + 1] & 0x7f) as usize;
        let mut at = i + 2;
        if len == 126 && at + 2 <= bytes.len() {
            len = u16::from_be_bytes([bytes[at], bytes[at + 1]]) as usize;
            at += 2;
        } else if len == 127 && at + 8 <= bytes.len() {
            len = u64::from_be_bytes(bytes[at..at + 8].try_into().unwrap()) as usize;
            at += 8;
        }
        let mask = if masked && at + 4 <= bytes.len() {
            at += 4;
            Some([bytes[at - 4], bytes[at - 3], bytes[at - 2], bytes[at - 1]])
        } else {
            None
        };
        let end = (at + len).min(bytes.len());
        out.extend(bytes[at..end].iter().enumerate().map(|(k, b)| mask.map_or(*b, |m| b ^ m[k % 4])));
        out.push(b'\n');
        i = end;
    }
    out
}

#[test]
fn the_server_and_the_wire_never_hold_the_session_in_plaintext_and_tampering_is_refused() {
    let env = runner_with_agent("quiet");
    let server = Server::start(&env);
    let rt = runtime();
    rt.block_on(async {
        let tap = Tap::start(server.port).await;
        let (_, read, drive) = share(&env, &["-t", "quiet", "--server", &tap.url()]);
        // The driver goes straight to the server; the viewer through the tap.
        let drive = drive.expect("drive link").replace(&tap.url(), &server.url());
        let mut driver = Viewer::join(&drive, "dana").await.expect("joins");
        let mut viewer = Viewer::join(&read, "vic").await.expect("joins");
        driver.wait("the prompt", |v| v.count("fake>") > 0).await;
        let agent = pane_running(&driver, "fake-claude").expect("the agent");
        driver.type_line(agent, "MARKER-7f3a-typed").await;
        viewer.wait("the marker", |v| v.count("you said: MARKER-7f3a-typed") == 1).await;

        // An update altered on the way is refused, and the viewer still ends up right.
        tap.tamper.store(true, std::sync::atomic::Ordering::SeqCst);
        driver.type_line(agent, "after tampering").await;
        viewer.wait("the tampered update refused", |v| v.said.iter().any(|s| s.contains("refused update"))).await;
        viewer.wait("the viewer to recover", |v| v.count("you said: after tampering") == 1).await;
        assert!(!tap.tamper.load(std::sync::atomic::Ordering::SeqCst), "an update was altered");

        let payloads = |list: &Vec<Arc<Mutex<Vec<u8>>>>| {
            list.iter().flat_map(|c| ws_payloads(&c.lock().unwrap())).collect::<Vec<u8>>()
        };
        let down = payloads(&tap.to_clients.lock().unwrap());
        let up = payloads(&tap.to_server.lock().unwrap());
        let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        assert!(
            text(&down).contains("\"t\":\"update\"") && text(&up).contains("\"t\":\"update\""),
            "the tap saw the traffic"
        );
        for (what, bytes) in [("to the server", &up), ("from the server", &down)] {
            for secret in ["MARKER-7f3a", "you said", "fake>", "git push"] {
                assert!(!text(bytes).contains(secret), "`{secret}` in the clear {what}");
            }
        }
        let stored = server.records_text().await;
        assert!(!stored.is_empty());
        for secret in ["MARKER-7f3a", "you said", "fake>", "#r=", &read[read.find("#r=").unwrap() + 3..]] {
            assert!(!stored.contains(secret), "`{secret}` in the server's database");
        }
    });
}

#[test]
fn the_runner_applies_only_signed_driver_actions_and_each_once() {
    let env = runner_with_agent("signed");
    let server = Server::start(&env);
    let (id, read, drive) = share(&env, &["-t", "signed", "--server", &server.url()]);
    let drive = drive.expect("drive link");
    let rt = runtime();
    rt.block_on(async {
        let mut watcher = Viewer::join(&read, "vic").await.expect("joins");
        watcher.wait("the prompt", |v| v.count("fake>") > 0).await;
        let agent = pane_running(&watcher, "fake-claude").expect("the agent");
        // Acting as a server would: the driver's token, but messages made by hand.
        let link = Link::parse(&drive).unwrap();
        let (mut ws, joined) = raw_join(&server.url(), &id, &link.keys.drive_token().unwrap(), Role::Drive).await;
        assert!(matches!(joined, ToViewer::Joined { role: Role::Drive, .. }), "{joined:?}");
        // The runner's epoch, from an update.
        let epoch = loop {
            if let Some(Ok(Message::Text(t))) = ws.next().await
                && let Ok(ToViewer::Update { seq, snap, c }) = serde_json::from_str(&t)
            {
                let plain = link.keys.open(&teamster::share::crypto::aad::update(&id, seq, snap), &c).unwrap();
                let body: teamster::share::wire::UpdateBody = serde_json::from_slice(&plain).unwrap();
                break body.epoch;
            }
        };
        let input = |text: &str| {
            let msg = teamster::protocol::ClientMsg::Input {
                pane: Some(agent),
                events: vec![teamster::input::InputEvent::Paste(format!("{text}\r"))],
            };
            link.keys
                .seal(&teamster::share::crypto::aad::viewer(&id, "input"), &serde_json::to_vec(&msg).unwrap())
                .unwrap()
        };
        let signed = |c: &str, seq: u64, epoch: &str| {
            let mac = link.keys.sign(&teamster::share::crypto::aad::drive(&id, epoch, "d1", seq, "input", c)).unwrap();
            FromViewer::Send { kind: Kind::Input, c: c.into(), drive: Some(Authority { id: "d1".into(), seq, mac }) }
        };
        let send = |m: FromViewer| Message::text(serde_json::to_string(&m).unwrap());
        // A bad signature, a signature from an earlier runner, an altered message: refused.
        let c = input("forged one");
        let mut bad = signed(&c, 1, &epoch);
        if let FromViewer::Send { drive: Some(a), .. } = &mut bad {
            a.mac = link.keys.sign("something else").unwrap();
        }
        ws.send(send(bad)).await.unwrap();
        ws.send(send(signed(&input("forged two"), 1, "an-old-epoch"))).await.unwrap();
        let c3 = input("forged three");
        let mut altered = signed(&c3, 1, &epoch);
        if let FromViewer::Send { c, .. } = &mut altered {
            // One character of the ciphertext changed, always (a replace of letters it may
            // not hold would, now and then, change nothing).
            let mut chars: Vec<char> = c3.chars().collect();
            chars[10] = if chars[10] == 'A' { 'B' } else { 'A' };
            *c = chars.into_iter().collect();
        }
        ws.send(send(altered)).await.unwrap();
        // A good one, sent twice (a replay): applied once. It is the driver's first: the
        // refused ones above numbered 1 moved nothing on.
        let good = signed(&input("signed line"), 1, &epoch);
        ws.send(send(good.clone())).await.unwrap();
        ws.send(send(good)).await.unwrap();
        watcher.wait("the signed line", |v| v.count("you said: signed line") == 1).await;
        ws.send(send(signed(&input("after replay"), 2, &epoch))).await.unwrap();
        watcher.wait("the next line", |v| v.count("you said: after replay") == 1).await;
        assert_eq!(watcher.count("you said: signed line"), 1, "the replay was not applied:\n{}", watcher.text());
        assert_eq!(watcher.count("forged"), 0, "{}", watcher.text());
        let log = env.audit();
        let refused = log.iter().filter(|d| d["verdict"] == "refused").count();
        assert!(refused >= 3, "each forgery is in the sharer's audit: {log:#?}");
    });
}

#[test]
fn shared_from_the_tui_watched_and_driven_from_teammates_terminals() {
    let env = Env::new();
    let server = Server::start(&env);
    env.write_config(&format!(
        "{ASK_BEFORE_PUSH}\n[share]\nserver = \"{}\"\nexpires = \"1h\"\n{}",
        server.url(),
        fake_claude(&env)
    ));
    let sharer = env.tui(&[], 140, 30);
    sharer.wait_prompt();
    env.ok(&["new", "fake", "--right"]);
    sharer.wait_text("fake>");
    // ctrl-\ S shares the session and shows the links; the status bar says it is shared.
    sharer.prefix("S");
    sharer.wait_text("watch link (sees everything");
    sharer.wait_text("drive link (can also type");
    sharer.wait_text(&format!("{}/s/", server.url()));
    sharer.wait_text("⇄ shared");
    sharer.keys("\x1b");
    let v: Value = serde_json::from_str(&env.ok(&["share", "--list", "--json"])).expect("share --list --json");
    let read = v["shares"][0]["read_url"].as_str().expect("a watch link").to_string();
    let drive = v["shares"][0]["drive_url"].as_str().expect("a drive link").to_string();

    // Teammates, each on their own machine, in their own terminal.
    let (dana_env, vic_env) = (Env::new(), Env::new());
    let dana = dana_env.tui(&["attach", &drive, "--name", "dana"], 140, 30);
    let vic = vic_env.tui(&["attach", &read, "--name", "vic"], 140, 30);
    dana.wait_text("fake>");
    vic.wait_text("fake>");
    sharer.wait_text("⇄ shared, 2 watching");

    // The viewer types: it goes nowhere, and it is told so.
    vic.keys("hello from vic");
    vic.wait_text("read-only link");
    // The driver types into the agent and approves what it asks, from the sidebar.
    dana.keys("run echo drove > drove.txt; true git push");
    dana.wait_text("git push");
    dana.keys("\r");
    dana.wait_text("waiting for you (1)");
    vic.wait_text("waiting for you (1)");
    dana.prefix("s");
    dana.keys("y");
    sharer.wait_text("ran: echo drove");
    vic.wait_text("ran: echo drove");
    assert!(env.dir.join("work/drove.txt").exists());
    assert!(!sharer.contents().contains("hello from vic"));
    let by: Vec<String> = env.audit().iter().map(|d| d["by"].as_str().unwrap_or("").to_string()).collect();
    assert!(by.iter().any(|b| b == "dana (shared link)"), "{by:?}");

    // From the TUI again: who watches, and stop sharing; both are cut off.
    sharer.prefix("S");
    sharer.wait_text("dana (driver)");
    sharer.keys("u");
    sharer.wait_for("sharing to stop", |s| !s.contents().contains("⇄ shared"));
    let (_, said) = vic.wait_exit();
    assert!(said.contains("stopped sharing"), "{said}");
    let (_, said) = dana.wait_exit();
    assert!(said.contains("stopped sharing"), "{said}");
}

/// Whether a row of the pane reads exactly `line` (output, not the command typed).
fn shows_line(v: &Viewer, pane: u32, line: &str) -> bool {
    v.rows.get(&pane).is_some_and(|rows| rows.iter().any(|r| r.trim_end() == line))
}

/// Types `words` as separate messages (one numbered driver message each), then Enter.
async fn type_in_pieces(driver: &mut Viewer, pane: u32, words: &[&str]) {
    use teamster::input::{InputEvent, Key, KeyCode};
    for w in words {
        driver
            .send(teamster::protocol::ClientMsg::Input {
                pane: Some(pane),
                events: vec![InputEvent::Paste((*w).into())],
            })
            .await;
    }
    let enter = vec![InputEvent::Key(Key::new(KeyCode::Enter, 0))];
    driver.send(teamster::protocol::ClientMsg::Input { pane: Some(pane), events: enter }).await;
}

/// A shell in session `name`, shared through a `Relay` (standing in for a hostile server,
/// or anyone on the way) to a real server: runs `test` with the runner, the relay and the
/// drive link.
fn shell_shared_through_a_relay(name: &str, test: impl AsyncFnOnce(&Env, &Relay, String)) {
    let env = Env::new();
    env.ok(&["-d", "-s", name, "--size", "100x30", "--", "bash", "--norc"]);
    let server = Server::start(&env);
    runtime().block_on(async {
        let relay = Relay::start(server.url()).await;
        let (_, _, drive) = share(&env, &["-t", name, "--server", &relay.url()]);
        test(&env, &relay, drive.expect("a drive link")).await;
    });
}

/// How often the relay carried the driver messages `seqs` to the runner, at most. While a
/// gap is open the driver is asked again about once a second for the 5 s it is waited for,
/// and resends on its own every 2 s: a handful each. A storm (each resent message asking
/// for all of them again) doubles every round trip: hundreds, and the server's rate limit.
fn most_carried(relay: &Relay, seqs: std::ops::RangeInclusive<u64>) -> u32 {
    let seen = relay.seen.lock().unwrap();
    seqs.map(|seq| seen.get(&seq).copied().unwrap_or(0)).max().unwrap_or(0)
}
const CARRIED_AT_MOST: u32 = 16;

#[test]
fn a_driver_s_keys_arrive_whole_and_in_order_or_not_at_all_through_a_relay_that_drops_reorders_and_injects() {
    shell_shared_through_a_relay("keys", async |env, relay, drive| {
        let mut driver = Viewer::join(&drive, "dana").await.expect("joins");
        driver.wait("the shell", |v| pane_running(v, "bash").is_some() && v.count("bash-") > 0).await;
        let pane = pane_running(&driver, "bash").expect("the shell's pane");

        // Dropped once (the relay lets the resend through): the line arrives whole.
        // Messages 1-4: "echo one", " two", " three", Enter.
        relay.set(|seq, seen| if seq == 2 && seen == 1 { Fate::Drop } else { Fate::Pass });
        type_in_pieces(&mut driver, pane, &["echo one", " two", " three"]).await;
        driver.wait("the whole line to run", |v| shows_line(v, pane, "one two three")).await;
        assert!(!shows_line(&driver, pane, "one three"), "a key was skipped:\n{}", driver.text());

        // Reordered (6 after 7): applied in order all the same. Messages 5-8.
        relay.set(|seq, seen| if seq == 6 && seen == 1 { Fate::Hold } else { Fate::Pass });
        type_in_pieces(&mut driver, pane, &["echo four", " five", " six"]).await;
        driver.wait("the reordered line to run", |v| shows_line(v, pane, "four five six")).await;
        assert!(!shows_line(&driver, pane, "four six") && !shows_line(&driver, pane, "four six five"));

        // Injected: an earlier message of the driver's renumbered as the next one, and one
        // far ahead. Neither verifies, so neither is applied nor moves anything on: the
        // driver's real message 9 is still the next one taken.
        relay.set(|_, _| Fate::Pass);
        let two = relay.carried.lock().unwrap().get(&2).cloned().expect("message 2 was carried");
        for seq in [9, 1000] {
            let mut forged = two.clone();
            if let teamster::share::wire::ToRunner::Msg { drive: Some(a), .. } = &mut forged {
                a.seq = seq;
            }
            relay.inject(&forged);
        }
        type_in_pieces(&mut driver, pane, &["echo seven"]).await;
        driver.wait("the line after the injection", |v| shows_line(v, pane, "seven")).await;
        assert!(!shows_line(&driver, pane, "seven two") && !shows_line(&driver, pane, "two"), "{}", driver.text());
        let refused = env.audit().iter().filter(|d| d["verdict"] == "refused").count();
        assert!(refused >= 2, "each injected message is refused in the sharer's audit");

        // Dropped every time (11-14, 12 never arrives): nothing after the gap is applied,
        // and both sides are told. The line never runs as `echo one three`.
        relay.set(|seq, _| if seq == 12 { Fate::Drop } else { Fate::Pass });
        type_in_pieces(&mut driver, pane, &["echo one", " two", " three"]).await;
        driver
            .wait("the driver told its input was lost", |v| v.said.iter().any(|s| s.contains("input lost on the way")))
            .await;
        // (The runner's store writes the note after it tells the driver: on a busy machine,
        // a moment later.)
        env.wait_ls("a note for the sharer", |_| env.audit().iter().any(|d| d["verdict"] == "lost"));
        let log = env.audit();
        let note =
            log.iter().find(|d| d["verdict"] == "lost").unwrap_or_else(|| panic!("a note for the sharer: {log:#?}"));
        assert!(note["what"].as_str().unwrap_or_default().contains("input from dana stopped"), "{note}");
        assert_eq!(driver.text().matches("one three").count(), 0, "{}", driver.text());
        assert_eq!(driver.text().matches("echo one two three").count(), 1, "only the first line ran whole");
        let most = most_carried(relay, 12..=14);
        assert!(most <= CARRIED_AT_MOST, "a resend storm: a message was carried {most} times");
        assert!(!driver.said.iter().any(|s| s.contains("too many messages")), "{:?}", driver.said);

        // The driver goes on afresh: its next line (after clearing the half-typed one) runs.
        use teamster::input::{InputEvent, Key, KeyCode, Mods};
        let clear = vec![InputEvent::Key(Key::new(KeyCode::Char('u'), Mods::CTRL))];
        driver.send(teamster::protocol::ClientMsg::Input { pane: Some(pane), events: clear }).await;
        type_in_pieces(&mut driver, pane, &["echo after", " the loss"]).await;
        driver.wait("a line after the loss", |v| shows_line(v, pane, "after the loss")).await;
        assert_eq!(driver.text().matches("one three").count(), 0, "{}", driver.text());

        // The last message dropped every time: no later one shows the runner a gap, so the
        // driver, whose message stays unconfirmed, says so. The line does not run.
        // (The new driver id numbers from 1: ctrl-u, three pieces, then 5 and Enter 6.)
        relay.set(|seq, _| if seq == 6 { Fate::Drop } else { Fate::Pass });
        type_in_pieces(&mut driver, pane, &["echo never"]).await;
        driver
            .wait("the driver told its input is unconfirmed", |v| {
                v.said.iter().any(|s| s.contains("has not confirmed"))
            })
            .await;
        assert!(!shows_line(&driver, pane, "never"), "{}", driver.text());
    })
}

/// Connects as a runner would, registering `share` (read token `read`); the first answer.
async fn raw_runner(server: &str, share: &str, expires: Option<u64>) -> (teamster::share::Client, ToRunner) {
    let mut ws = teamster::share::connect(server).await.expect("connect");
    let register = Register { read: token_hash(&format!("read-{share}")), drive: None, expires, team: None };
    let hello = FromRunner::Runner { share: share.into(), token: format!("runner-{share}"), register: Some(register) };
    ws.send(Message::text(serde_json::to_string(&hello).unwrap())).await.expect("send hello");
    let first = next_to_runner(&mut ws).await.expect("an answer to a runner");
    (ws, first)
}

/// The next message the server sends a runner (None: the connection ended).
async fn next_to_runner(ws: &mut teamster::share::Client) -> Option<ToRunner> {
    let deadline = support::DEADLINE;
    loop {
        match tokio::time::timeout(deadline, ws.next()).await.expect("the server answers in time") {
            Some(Ok(Message::Text(t))) => return Some(serde_json::from_str(&t).expect("server JSON")),
            Some(Ok(_)) => continue,
            _ => return None,
        }
    }
}

/// A share id of this run's own: tests on one PostgreSQL never meet each other's.
fn share_id(n: u32) -> String {
    static RUN: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let run = RUN.get_or_init(|| format!("{:08x}", std::process::id() ^ (now() as u32).rotate_left(16)));
    format!("test-share-{run}-{n:08}")
}

fn now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs()
}

#[test]
fn the_server_decides_how_long_a_share_lasts_and_removes_expired_ones() {
    let env = Env::new();
    let server = Server::start(&env);
    let rt = runtime();
    rt.block_on(async {
        let longest = teamster::share::LONGEST_SHARE;
        let records = server.target.open().await.expect("the server's records");
        // No expiry, and one a year away: both last 30 days, as the server counts them.
        for (n, expires) in [(1, None), (2, Some(now() + 365 * 86400))] {
            let (_ws, first) = raw_runner(&server.url(), &share_id(n), expires).await;
            assert!(matches!(first, ToRunner::Welcome { .. }), "{first:?}");
            let rec = records.share(&share_id(n)).await.unwrap().expect("registered");
            let kept = rec.expires.expect("an expiry");
            assert!(kept <= now() + longest && kept + 60 >= now() + longest, "{n}: kept until {kept}");
        }
        // One already over is refused.
        let (_, first) = raw_runner(&server.url(), &share_id(3), Some(now() - 10)).await;
        assert!(matches!(&first, ToRunner::Refused { reason } if reason.contains("past")), "{first:?}");
        // One that ends in 2 s: its runner and viewer are cut off then, and it is gone.
        let id = share_id(4);
        let (mut runner, first) = raw_runner(&server.url(), &id, Some(now() + 2)).await;
        assert!(matches!(first, ToRunner::Welcome { .. }), "{first:?}");
        let (mut viewer, joined) = raw_join(&server.url(), &id, &format!("read-{id}"), Role::Read).await;
        assert!(matches!(joined, ToViewer::Joined { .. }), "{joined:?}");
        let cut = loop {
            match next_to_runner(&mut runner).await {
                Some(ToRunner::Refused { reason }) => break reason,
                Some(_) => continue,
                None => panic!("the runner's connection ended without a word"),
            }
        };
        assert!(cut.contains("expired"), "{cut}");
        let said = loop {
            match viewer.next().await {
                Some(Ok(Message::Text(t))) => match serde_json::from_str::<ToViewer>(&t).unwrap() {
                    ToViewer::Refused { reason } => break reason,
                    _ => continue,
                },
                other => panic!("{other:?}"),
            }
        };
        assert!(said.contains("expired"), "{said}");
        assert_eq!(records.share(&id).await.unwrap(), None, "an expired share is removed");
        let (_, again) = raw_join(&server.url(), &id, &format!("read-{id}"), Role::Read).await;
        assert!(matches!(again, ToViewer::Refused { .. }), "{again:?}");
    });
}

#[test]
fn new_shares_are_limited_per_address_with_a_clear_error() {
    let env = Env::new();
    let server = Server::start(&env);
    let rt = runtime();
    rt.block_on(async {
        let started = std::time::Instant::now();
        let mut taken = 0;
        let mut refused = Vec::new();
        for n in 0..300 {
            match raw_runner(&server.url(), &share_id(1000 + n), None).await.1 {
                ToRunner::Welcome { .. } => taken += 1,
                ToRunner::Refused { reason } => refused.push(reason),
                other => panic!("{other:?}"),
            }
        }
        let secs = started.elapsed().as_secs_f64();
        assert!(taken <= 10 + (secs / 6.0).ceil() as usize, "{taken} shares registered in {secs:.1} s");
        assert!(refused.len() >= 280 && refused[0].contains("too many new shares from this address"), "{refused:?}");
        // An existing share reconnecting is not a new one.
        let (_, again) = raw_runner(&server.url(), &share_id(1000), None).await;
        assert!(matches!(again, ToRunner::Welcome { .. }), "{again:?}");
    });
}

#[test]
fn a_runner_that_floods_without_snapshots_is_asked_for_one_then_cut_off_and_viewers_get_no_more_than_the_bound() {
    let env = Env::new();
    let server = Server::start(&env);
    let rt = runtime();
    rt.block_on(async {
        let id = share_id(2001);
        let (ws, first) = raw_runner(&server.url(), &id, None).await;
        assert!(matches!(first, ToRunner::Welcome { have: 0 }), "{first:?}");
        let (mut tx, mut rx) = ws.split();
        let update = |seq: u64, snap: bool, len: usize| {
            Message::text(serde_json::to_string(&FromRunner::Update { seq, snap, c: "A".repeat(len) }).unwrap())
        };
        tx.send(update(1, true, 1000)).await.unwrap();
        // The runner reads what the server says while it floods 1 MiB updates (never a
        // snapshot): first a request for one, then the end.
        let heard = tokio::spawn(async move {
            let mut said = Vec::new();
            while let Some(Ok(Message::Text(t))) = rx.next().await {
                let m: ToRunner = serde_json::from_str(&t).unwrap();
                let end = matches!(m, ToRunner::Refused { .. });
                said.push(m);
                if end {
                    break;
                }
            }
            said
        });
        let mut sent = 0usize;
        for seq in 2..400 {
            if heard.is_finished() || tx.send(update(seq, false, 1 << 20)).await.is_err() {
                break;
            }
            sent += 1 << 20;
        }
        let said = tokio::time::timeout(support::DEADLINE, heard).await.expect("cut off in time").unwrap();
        assert!(matches!(said.first(), Some(ToRunner::Snapshot)), "asked for a snapshot first: {said:?}");
        let cut = match said.last() {
            Some(ToRunner::Refused { reason }) => reason.clone(),
            other => panic!("{other:?}"),
        };
        assert!(cut.contains("without the snapshot"), "{cut}");
        assert!(sent < 100 << 20, "cut off after {} MiB", sent >> 20);

        // Back again, still flooding: nothing is kept until a snapshot. A new viewer is
        // sent the snapshot alone, not the flood.
        let (mut ws, first) = raw_runner(&server.url(), &id, None).await;
        assert!(matches!(first, ToRunner::Welcome { have: 0 }), "the backlog was dropped: {first:?}");
        for seq in 500..510 {
            ws.send(update(seq, false, 1 << 20)).await.unwrap();
        }
        ws.send(update(600, true, 5000)).await.unwrap();
        let (mut viewer, joined) = raw_join(&server.url(), &id, &format!("read-{id}"), Role::Read).await;
        assert!(matches!(joined, ToViewer::Joined { .. }), "{joined:?}");
        let mut got = 0usize;
        loop {
            let Some(Ok(Message::Text(t))) = tokio::time::timeout(support::DEADLINE, viewer.next()).await.unwrap()
            else {
                panic!("the viewer's connection ended");
            };
            got += t.len();
            if let Ok(ToViewer::Update { seq: 600, .. }) = serde_json::from_str::<ToViewer>(&t) {
                break;
            }
        }
        assert!(got < 64 << 10, "a new viewer was sent {got} bytes");
    });
}

#[test]
fn bad_guesses_at_a_share_are_slowed_but_the_right_secret_from_the_same_address_gets_in() {
    let env = Env::new();
    let server = Server::start(&env);
    let rt = runtime();
    rt.block_on(async {
        let id = share_id(3001);
        let (_runner, first) = raw_runner(&server.url(), &id, None).await;
        assert!(matches!(first, ToRunner::Welcome { .. }), "{first:?}");
        // 25 wrong guesses at once from this address (answers held back; not awaited).
        let url = server.url();
        let guesses: Vec<_> = (0..25)
            .map(|n| {
                let (url, id) = (url.clone(), id.clone());
                tokio::spawn(async move { raw_join(&url, &id, &format!("guess-{n}"), Role::Read).await.1 })
            })
            .collect();
        // The first few are answered at once (typos are free), the next ones later and
        // later: wait for 8 answers (the last of them about 1 s late), by when the server
        // has counted all 25.
        let mut pending: futures_util::stream::FuturesUnordered<_> = guesses.into_iter().collect();
        for _ in 0..8 {
            let answer = tokio::time::timeout(support::DEADLINE, pending.next()).await.expect("answers come");
            let answer = answer.expect("a guess").expect("the guess ran");
            assert!(matches!(&answer, ToViewer::Refused { reason } if reason.contains("wrong secret")), "{answer:?}");
        }
        // The right secret, from the same address, meanwhile: in at once.
        let started = std::time::Instant::now();
        let (_viewer, joined) = raw_join(&url, &id, &format!("read-{id}"), Role::Read).await;
        assert!(matches!(joined, ToViewer::Joined { .. }), "{joined:?}");
        assert!(started.elapsed() < std::time::Duration::from_secs(2), "{:?}", started.elapsed());
        // Another wrong guess now waits for its answer.
        let slow =
            tokio::time::timeout(std::time::Duration::from_secs(1), raw_join(&url, &id, "one-more-guess", Role::Read))
                .await;
        assert!(slow.is_err(), "a bad guess after many is not answered at once: {:?}", slow.map(|r| r.1));
        drop(pending);
    });
}

#[test]
fn a_driver_s_page_says_when_its_input_was_lost_on_the_way_and_nothing_after_the_gap_runs() {
    shell_shared_through_a_relay("page", async |env, relay, drive| {
        let browser = support::browser::Browser::start(1280).await;
        browser.open(&drive).await;
        browser.wait("the page to go live", "return document.getElementById('status').innerText === 'live'").await;
        browser.wait("the shell", "return document.body.innerText.includes('bash-')").await;
        let type_line = |line: &str| {
            format!(
                "const i = document.querySelector('input.type'); i.value = '{line}'; i.form.requestSubmit(); return true;"
            )
        };
        let shown = |text: &str| format!("return document.body.innerText.split('{text}').length - 1");
        // Typed and echoed: the command line and its output.
        let ran = |text: &str| format!("return document.body.innerText.split('{text}').length - 1 >= 2 || null");
        // The page's first line goes through; its second never does (dropped every time),
        // and its third waits behind the gap until the runner gives up on it.
        relay.set(|seq, _| if seq == 2 { Fate::Drop } else { Fate::Pass });
        browser.eval(&type_line("echo alpha-1")).await;
        browser.wait("the first line to run", &ran("alpha-1")).await;
        browser.eval(&type_line("echo bravo-2")).await;
        browser.eval(&type_line("echo charlie-3")).await;
        browser
            .wait(
                "the page to say its input was lost",
                "return document.getElementById('notices').innerText.includes('input lost on the way') || null",
            )
            .await;
        for never in ["bravo-2", "charlie-3"] {
            assert_eq!(browser.eval(&shown(never)).await, 0, "{never} reached the shell");
        }
        let log = env.audit();
        assert!(log.iter().any(|d| d["verdict"] == "lost"), "the sharer is told too: {log:#?}");
        let most = most_carried(relay, 2..=3);
        assert!(most <= CARRIED_AT_MOST, "a resend storm: a message was carried {most} times");
        // The page starts afresh: its next line runs.
        browser.eval(&type_line("echo delta-4")).await;
        browser.wait("a line after the loss", &ran("delta-4")).await;
        assert_eq!(browser.eval(&shown("charlie-3")).await, 0);
        browser.quit().await;
    })
}

/// A program that tells a submitted line from one whose Enter came with its text, as
/// Claude Code does (fast input is a paste, and an Enter in a paste is a newline).
const PASTE_AWARE: &str = r#"
process.stdin.setRawMode(true);
let line = '';
process.stdout.write('ready> ');
process.stdin.on('data', (d) => {
  const s = d.toString();
  if (s === '\r') { process.stdout.write(`\r\nSUBMITTED:${line}\r\nready> `); line = ''; return; }
  if (s.includes('\r')) process.stdout.write('\r\nNEWLINE-IN-PASTE\r\n');
  const text = s.replace(/\r/g, '');
  line += text;
  process.stdout.write(text);
});
"#;

/// The page as a teammate reads it at a desk and on a phone: text no smaller than 12 px,
/// nothing sideways on a phone, one pane at a time there with the agent waiting for
/// approval first, box-drawing characters in a font that has them, and a line box whose
/// Enter submits. Screenshots of both go to `docs/` (this test makes them).
#[test]
fn the_web_page_reads_at_a_desk_and_on_a_phone_and_its_line_box_submits() {
    let env = runner_with_agent("web");
    let program = env.dir.join("paste-aware.js");
    std::fs::write(&program, PASTE_AWARE).expect("program");
    env.ok(&["new", "-t", "web", "--name", "typist", "--", "node", &program.to_string_lossy()]);
    env.ok(&[
        "new",
        "-t",
        "web",
        "--",
        "bash",
        "--norc",
        "-c",
        "printf '⎿ done ✻ ⏺\\n'; for i in $(seq 1 40); do printf 'wide-%03d-' $i; done; echo; exec cat",
    ]);
    let server = Server::start(&env);
    let (_, _, drive) = share(&env, &["-t", "web", "--server", &server.url()]);
    let drive = drive.expect("a drive link");
    let docs = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs");
    let rt = runtime();
    rt.block_on(async {
        let mut watcher = Viewer::join(&drive, "watcher").await.expect("joins");
        watcher.wait("the agent's prompt", |v| v.count("fake>") > 0).await;
        let agent = pane_running(&watcher, "fake-claude").expect("the agent's pane");
        // The agent asks before a push: it waits for approval.
        watcher.type_line(agent, "run echo x; true git push").await;

        let text_px = "return Math.min(...[...document.querySelectorAll('pre.screen')].filter((p) => p.offsetParent).map((p) => parseFloat(getComputedStyle(p).fontSize)))";
        let desk = support::browser::Browser::start_sized(1280, 800).await;
        desk.open(&drive).await;
        desk.wait("the page to go live", "return document.getElementById('status').innerText === 'live'").await;
        desk.wait("the panes", "return document.body.innerText.includes('wide-040') && document.querySelectorAll('.pending').length === 1").await;
        let px = desk.eval(text_px).await.as_f64().unwrap_or(0.0);
        assert!(px >= 12.0, "terminal text at a desk is {px} px");
        // The box-drawing and symbol characters have fonts to fall back on.
        let family = desk.eval("return getComputedStyle(document.querySelector('pre.screen')).fontFamily").await;
        let family = family.as_str().unwrap_or_default();
        assert!(family.contains("Noto Sans Symbols 2") && family.contains("Segoe UI Symbol"), "{family}");
        std::fs::write(docs.join("web-1280x800.png"), desk.screenshot().await).expect("desk screenshot");

        // The line box: Enter submits the line, whole, not as a newline in a paste.
        let typist = "return [...document.querySelectorAll('.pane')].find((p) => p.innerText.includes('ready>'))";
        desk.eval(&format!(
            "const pane = (() => {{ {typist} }})(); const input = pane.querySelector('input.type'); input.value = 'hello world'; input.dispatchEvent(new KeyboardEvent('keydown', {{ key: 'Enter', bubbles: true }})); return true;"
        ))
        .await;
        watcher.wait("the line submitted", |v| v.count("SUBMITTED:hello world") == 1).await;
        assert_eq!(watcher.count("NEWLINE-IN-PASTE"), 0, "the Enter came with the text");
        desk.quit().await;

        let phone = support::browser::Browser::start_sized(390, 844).await;
        phone.open(&drive).await;
        phone.wait("the page on a phone", "return document.getElementById('status').innerText === 'live' && document.querySelectorAll('#switch button').length >= 3").await;
        let px = phone.eval(text_px).await.as_f64().unwrap_or(0.0);
        assert!(px >= 12.0, "terminal text on a phone is {px} px");
        let sideways = phone.eval("return document.documentElement.scrollWidth <= window.innerWidth + 1").await;
        assert_eq!(sideways, true, "the page scrolls sideways on a phone");
        // One pane at a time; the agent waiting for approval is first, and shown.
        let shown = phone.eval("return [...document.querySelectorAll('.pane')].filter((p) => p.offsetParent).length").await;
        assert_eq!(shown, 1);
        let first = phone.eval("return document.querySelector('#switch button').innerText").await;
        assert!(first.as_str().unwrap_or_default().contains('⚠'), "the agent waiting comes first: {first}");
        let on = phone.eval("return document.querySelector('.pane:not(.off)').innerText").await;
        assert!(on.as_str().unwrap_or_default().contains("fake>"), "{on}");
        std::fs::write(docs.join("web-390x844.png"), phone.screenshot().await).expect("phone screenshot");
        // Another pane, chosen in the switcher.
        phone.eval("[...document.querySelectorAll('#switch button')].find((b) => !b.classList.contains('on') && !b.classList.contains('tab')).click(); return true;").await;
        phone.wait("the other pane", "return !document.querySelector('.pane:not(.off)').innerText.includes('fake>')").await;
        // Tabs: a second one opens; the driver goes back to the first from the header.
        env.ok(&["new", "-t", "web", "--tab", "--name", "second", "--", "sleep", "1000"]);
        phone.wait("two tabs", "return document.querySelectorAll('#tabs button').length === 2").await;
        let active = || env.ls_json()["sessions"][0]["tabs"].as_array().and_then(|t| t.iter().position(|t| t["active"] == true));
        let other = if active() == Some(0) { 1 } else { 0 };
        phone.click(&format!("#tabs button[data-tab='{other}']")).await;
        phone.wait("the other tab on the page", &format!("return document.querySelector('#tabs button.on').dataset.tab === '{other}'")).await;
        assert_eq!(active(), Some(other), "the sharer's session switched tabs");
        phone.quit().await;
    });
}

/// `teamster serve --team-token-file`: shares are registered for the team only (a runner
/// without the team's token, or with a wrong one, is refused and told what to do); viewers
/// still need only their link. An open server says it is open.
#[test]
fn a_team_server_registers_shares_for_its_team_only() {
    let env = Env::new();
    env.ok(&["-d", "-s", "team", "--", "bash", "--norc", "-c", "echo team-screen; exec cat"]);
    let team = env.dir.join("team-token");
    std::fs::write(&team, format!("{}\n", "t".repeat(32))).expect("token");
    let server = Server::with(&env, 0, &["--team-token-file", &team.to_string_lossy()]);
    let with_team = |file: Option<&std::path::Path>| {
        let line = file.map(|f| format!("[share]\nteam_token_file = \"{}\"\n", f.display())).unwrap_or_default();
        env.write_config(&line);
    };
    let try_share = || env.run(&["share", "-t", "team", "--json", "--server", &server.url()]);
    // Without the team's token: refused, and told how to give it.
    with_team(None);
    let out = try_share();
    let said = String::from_utf8_lossy(&out.stderr).to_string() + &String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success() && said.contains("for its team only"), "{said}");
    assert!(said.contains("team_token_file"), "{said}");
    // A wrong one: refused.
    let wrong = env.dir.join("wrong-token");
    std::fs::write(&wrong, "w".repeat(32)).expect("token");
    with_team(Some(&wrong));
    let out = try_share();
    let said = String::from_utf8_lossy(&out.stderr).to_string() + &String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success() && said.contains("wrong team token"), "{said}");
    // The team's: registered; a viewer joins with the link alone.
    with_team(Some(&team));
    let (_, read, _) = share(&env, &["-t", "team", "--server", &server.url()]);
    runtime().block_on(async {
        let mut viewer = Viewer::join(&read, "vic").await.expect("a viewer joins with the link alone");
        viewer.wait("the shared pane", |v| v.count("team-screen") > 0).await;
    });
    // A token too short to be one is refused at the server's start, said plainly.
    let short = env.dir.join("short-token");
    std::fs::write(&short, "abc").expect("token");
    let out = env.run(&["serve", "--listen", "127.0.0.1:0", "--team-token-file", &short.to_string_lossy()]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("use 16 or more"), "{out:?}");
    // An open server says so at start.
    drop(server);
    let open = Server::start(&env);
    let log = std::fs::read_to_string(env.dir.join("serve.log")).unwrap_or_default();
    assert!(log.contains("open server: anyone who can reach it can register shares"), "{log}");
    drop(open);
}

#[test]
fn a_member_joins_by_a_one_time_invite_shares_and_is_shut_out_when_revoked() {
    let env = Env::new();
    env.ok(&["-d", "-s", "team", "--", "bash", "--norc", "-c", "echo member-screen; exec cat"]);
    let server = Server::with(&env, 0, &["--members-only"]);
    let log = std::fs::read_to_string(env.dir.join("serve.log")).unwrap_or_default();
    assert!(log.contains("registered for members only"), "the server says it is closed: {log}");
    let said = |out: &std::process::Output| {
        String::from_utf8_lossy(&out.stderr).to_string() + &String::from_utf8_lossy(&out.stdout)
    };
    let serve = |args: &[&str]| {
        let mut all: Vec<String> = vec!["serve".into()];
        all.extend(args.iter().map(|a| a.to_string()));
        all.extend(server.records_args());
        env.run(&all.iter().map(String::as_str).collect::<Vec<_>>())
    };
    let try_share = || env.run(&["share", "-t", "team", "--json", "--server", &server.url()]);
    // Her name is this run's own: on PostgreSQL the records outlive the test.
    let ann = format!("ann-{}", std::process::id());
    // Not a member yet: refused, and told how to join.
    let out = try_share();
    assert!(!out.status.success() && said(&out).contains("teamster join URL"), "{}", said(&out));
    assert!(!String::from_utf8_lossy(&serve(&["members"]).stdout).contains(&ann));

    // The operator invites Ann; the URL works once.
    let out = serve(&["invite", &ann, "--server", &server.url()]);
    assert!(out.status.success(), "{}", said(&out));
    let url = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert!(url.starts_with(&format!("{}/join#", server.url())), "{url}");
    assert!(said(&out).contains("teamster join"), "{}", said(&out));
    let joined = env.run(&["join", &url]);
    assert!(joined.status.success() && said(&joined).contains(&format!("as {ann}")), "{}", said(&joined));
    let token_file = std::fs::read_dir(env.dir.join("config/teamster/members"))
        .unwrap_or_else(|e| panic!("the member token is kept ({e}): {}", said(&joined)))
        .next()
        .expect("one file")
        .expect("entry")
        .path();
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&token_file).expect("token file").permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "only its owner reads the member token");
    let again = env.run(&["join", &url]);
    assert!(!again.status.success() && said(&again).contains("used already"), "{}", said(&again));
    let forged = env.run(&["join", &format!("{}/join#not-a-code", server.url())]);
    assert!(!forged.status.success() && said(&forged).contains("no such invite"), "{}", said(&forged));
    let members = String::from_utf8_lossy(&serve(&["members"]).stdout).to_string();
    let line = members.lines().find(|l| l.starts_with(&ann)).unwrap_or_default();
    assert!(line.ends_with("member"), "{members}");

    // As a member, Ann's shares are registered; a viewer needs only the link.
    let (_, read, _) = share(&env, &["-t", "team", "--server", &server.url()]);
    runtime().block_on(async {
        let mut viewer = Viewer::join(&read, "vic").await.expect("a viewer joins with the link alone");
        viewer.wait("the shared pane", |v| v.count("member-screen") > 0).await;

        // Revoked: no new share, and the live one ends when its runner next connects.
        let out = serve(&["members", "--revoke", &ann]);
        assert!(out.status.success() && said(&out).contains(&format!("revoked {ann}")), "{}", said(&out));
        let out = try_share();
        assert!(
            !out.status.success() && said(&out).contains("membership of this share server was revoked"),
            "{}",
            said(&out)
        );
        let out = serve(&["members", "--revoke", &ann]);
        assert!(
            !out.status.success() && said(&out).contains(&format!("no member `{ann}` to revoke")),
            "{}",
            said(&out)
        );
        // Nobody joins her share any more.
        let late = Viewer::join(&read, "late").await.err().unwrap_or_default();
        assert!(late.contains("this share was stopped"), "{late}");
    });
    let members = String::from_utf8_lossy(&serve(&["members", "--json"]).stdout).to_string();
    let v: Value = serde_json::from_str(&members).expect("members --json");
    let mine = v["members"].as_array().and_then(|m| m.iter().find(|m| m["name"] == ann.as_str())).cloned();
    assert!(mine.is_some_and(|m| m["revoked"].as_u64().is_some()), "{v}");
}

#[test]
fn shares_outlive_a_runner_restart_and_say_plainly_when_they_end() {
    let env = Env::new();
    env.ok(&["-d", "-s", "kept", "--size", "100x30"]);
    env.ok(&["-d", "-s", "gone", "--size", "100x30"]);
    let server = Server::start(&env);
    let (id, read, drive) = share(&env, &["-t", "kept", "--server", &server.url()]);
    let drive = drive.expect("a drive link");
    let (_, read_gone, _) = share(&env, &["-t", "gone", "--server", &server.url()]);
    let kept_file = env.dir.join("state/teamster/shares.json");
    runtime().block_on(async {
        let mut dana = Viewer::join(&drive, "dana").await.expect("driver joins");
        let mut vic = Viewer::join(&read, "vic").await.expect("viewer joins");
        let mut olga = Viewer::join(&read_gone, "olga").await.expect("viewer of the other session joins");
        dana.wait("the shell", |v| v.session.as_ref().is_some_and(|s| !s.panes.is_empty())).await;
        let pane = dana.session.as_ref().map(|s| s.panes[0].id).expect("a pane");
        dana.type_line(pane, "echo before-$((1+1))").await;
        vic.wait("the line before the restart", |v| v.count("before-2") == 1).await;
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&kept_file).expect("shares kept on disk").permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "the kept shares hold the links' secrets: only their owner reads them");

        // `teamster restart`: viewers are told, and the same links go on with the new panes.
        env.ok(&["restart"]);
        vic.wait("told the runner is restarting", |v| v.said.iter().any(|s| s.contains("is restarting"))).await;
        vic.wait("told it is back", |v| v.said.iter().any(|s| s.contains("runner is back"))).await;
        assert!(env.ok(&["share", "--list"]).contains(&id), "the same share after the restart");
        dana.type_line(pane, "echo after-$((2+1))").await;
        for v in [&mut dana, &mut vic] {
            v.wait("a line typed after the restart", |v| v.count("after-3") == 1).await;
            v.drain(std::time::Duration::from_millis(300)).await;
            assert_eq!(v.count("after-3"), 1, "applied once:\n{}", v.text());
        }
        assert!(olga.detached.is_none(), "the other share went on too");

        // A runner that dies and comes back without a session: that share ends, said so.
        let pid = env.runner_pid().expect("the runner");
        // SAFETY: ends the runner this test started, as a crash would.
        unsafe { libc::kill(pid, libc::SIGKILL) };
        let state = env.dir.join("state/teamster/sessions.json");
        let mut sessions: Value = serde_json::from_str(&std::fs::read_to_string(&state).expect("sessions")).unwrap();
        sessions["sessions"].as_array_mut().expect("a list").retain(|s| s["name"] != "gone");
        std::fs::write(&state, sessions.to_string()).expect("write sessions");
        env.ok(&["-d", "-s", "third"]);
        olga.wait("the share whose session did not come back ends", |v| v.detached.is_some()).await;
        let said = olga.detached.clone().unwrap_or_default();
        assert!(said.contains("did not come back"), "{said}");
        vic.wait("the kept share back again", |v| v.said.iter().filter(|s| s.contains("runner is back")).count() >= 2)
            .await;

        // Stopped for good: viewers are told the share ended, not left waiting.
        env.ok(&["kill", "--all"]);
        vic.wait("the share ends with the runner", |v| v.detached.is_some()).await;
        let said = vic.detached.clone().unwrap_or_default();
        assert!(said.contains("share ended"), "{said}");
    });
    // Once the runner is gone (it writes the list as it ends), no share is kept for the next.
    let deadline = std::time::Instant::now() + support::DEADLINE;
    while env.runner_pid().is_some() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(20)); // polling another process's exit
    }
    let kept = std::fs::read_to_string(&kept_file).unwrap_or_default();
    assert!(!kept.contains(&id), "an ended share is not kept: {kept}");
}

#[test]
fn comments_from_a_terminal_and_a_page_reach_the_sharer_and_every_viewer() {
    use teamster::protocol::{ClientMsg, CommentOn};
    let env = runner_with_agent("talk");
    let server = Server::start(&env);
    let (_, read, drive) = share(&env, &["-t", "talk", "--server", &server.url()]);
    let drive = drive.expect("a drive link");
    runtime().block_on(async {
        let mut dana = Viewer::join(&drive, "dana").await.expect("driver joins");
        let mut vic = Viewer::join(&read, "vic").await.expect("viewer joins");
        dana.wait("the agent's prompt", |v| v.count("fake>") > 0).await;
        vic.wait("the agent's prompt", |v| v.count("fake>") > 0).await;
        let agent = pane_running(&vic, "fake-claude").expect("the agent's pane");
        let comments = |v: &Viewer| -> Vec<String> {
            v.history
                .iter()
                .filter(|r| r.kind == teamster::approval::ActionKind::Comment)
                .map(|r| format!("{} | {} | {}", r.agent, r.what, r.by))
                .collect()
        };

        // A read-only viewer comments on a line of a pane; what it says is shown, never obeyed.
        let on = CommentOn::Pane { pane: agent, line: Some(2) };
        vic.send(ClientMsg::Comment { id: 1, on, text: "why this line?\u{1b}]0;pwned\u{7}".into() }).await;
        vic.wait("the comment taken", |v| v.said.iter().any(|s| s.contains("Ok(Done)"))).await;
        dana.wait("the comment, at the driver", |v| !comments(v).is_empty()).await;
        let said = comments(&dana).join("\n");
        assert!(said.contains(&format!("pane {agent}, line 2 | why this line?")), "{said}");
        assert!(said.contains("vic (shared link)") && !said.contains('\u{1b}'), "{said:?}");

        // On a pending action, by its id.
        dana.type_line(agent, "run echo later; true git push").await;
        vic.wait("the push waiting", |v| v.pending.len() == 1).await;
        let action = vic.pending[0].id;
        let on = CommentOn::Action { action };
        vic.send(ClientMsg::Comment { id: 2, on, text: "not to main, please".into() }).await;
        dana.wait("the comment on the approval", |v| comments(v).iter().any(|c| c.contains("not to main"))).await;
        let said = comments(&dana).join("\n");
        assert!(said.contains(&format!("approval {action} (")), "{said}");
        // What is not in the share, and what says nothing, are refused with a reason.
        let on = CommentOn::Action { action: 999_999 };
        vic.send(ClientMsg::Comment { id: 3, on, text: "hello".into() }).await;
        vic.wait("refused", |v| v.said.iter().any(|s| s.contains("no pending action 999999"))).await;
        vic.send(ClientMsg::Comment { id: 4, on: CommentOn::Session, text: "   ".into() }).await;
        vic.wait("refused", |v| v.said.iter().any(|s| s.contains("empty comment"))).await;

        // From the page: the form, a line picked by a double-click; everyone sees it.
        let browser = support::browser::Browser::start(1280).await;
        browser.open(&read).await;
        browser.wait("the page live", "return document.getElementById('status').innerText === 'live'").await;
        browser.wait("the pane's text", "return document.body.innerText.includes('fake>')").await;
        browser
            .eval(&format!(
                "const rows = document.querySelector('section.pane[data-pane=\"{agent}\"] pre.screen').children; rows[2].dispatchEvent(new MouseEvent('dblclick', {{ bubbles: true }})); return true;"
            ))
            .await;
        let picked = browser
            .eval("return [document.getElementById('comment-on').value, document.getElementById('comment-line').value]")
            .await;
        assert_eq!(picked, serde_json::json!([format!("pane:{agent}"), "3"]), "the double-clicked line is picked");
        browser
            .eval("document.getElementById('comment-text').value = 'from the page'; document.getElementById('comment-send').click(); return true;")
            .await;
        browser.wait("the page's history", "return document.getElementById('history').innerText.includes('from the page')").await;
        vic.wait("the page's comment, in the terminal", |v| comments(v).iter().any(|c| c.contains("from the page"))).await;
        let said = comments(&vic).join("\n");
        assert!(said.contains(&format!("pane {agent}, line 3 | from the page")), "{said}");
        browser.quit().await;
    });
    // The sharer's audit keeps them, by who.
    let log = env.audit();
    let kept: Vec<_> = log.iter().filter(|d| d["kind"] == "comment").collect();
    assert_eq!(kept.len(), 3, "{log:#?}");
}

#[test]
fn a_teammate_forks_a_shared_agents_conversation_and_branch_into_a_pane_of_their_own() {
    use support::{git, repo};
    // Alice's agent works on a branch of her repository, in a worktree.
    let alice = Env::new();
    alice.write_config(&fake_claude(&alice));
    repo(&alice.dir.join("work"));
    alice.ok(&["-d", "-s", "alice", "--size", "100x30"]);
    alice.ok(&["new", "fake", "-t", "alice", "--worktree"]);
    let server = Server::start(&alice);
    let (_, read, drive) = share(&alice, &["-t", "alice", "--server", &server.url()]);
    let drive = drive.expect("a drive link");
    // Bob has his own clone and his own teamster.
    let bob = Env::new();
    bob.write_config(&fake_claude(&bob));
    let bob_work = bob.dir.join("work");
    let _ = std::fs::remove_dir_all(&bob_work);
    git(&bob.dir, &["clone", "-q", &alice.dir.join("work").to_string_lossy(), &bob_work.to_string_lossy()]);
    bob.ok(&["-d", "-s", "bob", "--size", "100x30"]);

    let (agent, session, worktree) = runtime().block_on(async {
        let mut dana = Viewer::join(&drive, "dana").await.expect("driver joins");
        dana.wait("the agent's prompt", |v| v.count("fake>") > 0).await;
        let agent = pane_running(&dana, "fake-claude").expect("the agent's pane");
        // Nothing said yet: no conversation to fork.
        let out = bob.run(&["fork", &drive, "--pane", &agent.to_string()]);
        let said = String::from_utf8_lossy(&out.stderr).to_string();
        assert!(!out.status.success() && said.contains("no conversation yet"), "{said}");
        dana.type_line(agent, "hello").await;
        dana.wait("the agent's answer", |v| v.count("you said: hello") == 1).await;
        let spec = kept_spec(&alice, |spec| spec["conversation"].is_string());
        let worktree = std::path::PathBuf::from(spec["cwd"].as_str().expect("its cwd"));
        (agent, spec["conversation"].as_str().expect("its conversation").to_string(), worktree)
    });
    // What the agent keeps of the conversation, and a commit on its branch.
    let project: String =
        worktree.to_string_lossy().chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '-' }).collect();
    let transcript = alice.dir.join("home/.claude/projects").join(&project).join(format!("{session}.jsonl"));
    std::fs::create_dir_all(transcript.parent().unwrap()).unwrap();
    std::fs::write(&transcript, "{\"type\":\"user\",\"message\":\"remember PELICAN-42\"}\n").unwrap();
    git(
        &worktree,
        &[
            "-c",
            "user.email=a@example.com",
            "-c",
            "user.name=a",
            "commit",
            "-q",
            "--allow-empty",
            "-m",
            "the agent's work",
        ],
    );

    // A watch link cannot fork.
    let out = bob.run(&["fork", &read, "--pane", &agent.to_string()]);
    assert!(!out.status.success() && String::from_utf8_lossy(&out.stderr).contains("drive link"), "{out:?}");
    // The drive link can: a pane of Bob's runs his agent, resumed into the conversation, on
    // the branch with Alice's commit.
    let out = bob.run(&["fork", &drive, "--pane", &agent.to_string(), "--json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let forked: Value = serde_json::from_slice(&out.stdout).expect("fork --json");
    let branch = forked["branch"].as_str().expect("a branch").to_string();
    assert!(branch.starts_with("fork/teamster/"), "{forked}");
    assert_eq!(git(&bob_work, &["log", "-1", "--format=%s", &branch]), "the agent's work");
    let pane = forked["pane"].as_u64().expect("a pane");
    bob.wait_ls("the forked agent, resumed", |_| {
        bob.ok(&["capture", &pane.to_string()]).contains(&format!("resumed {session}"))
    });
    let mine = kept_spec(&bob, |spec| spec["conversation"] == session.as_str());
    let cwd = mine["cwd"].as_str().expect("its cwd").to_string();
    let project: String = cwd.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '-' }).collect();
    let copied = bob.dir.join("home/.claude/projects").join(project).join(format!("{session}.jsonl"));
    assert_eq!(
        std::fs::read_to_string(&copied).ok(),
        std::fs::read_to_string(&transcript).ok(),
        "the conversation came whole"
    );
    // The sharer's audit says who forked.
    let forked_note = format!("forked pane {agent}'s conversation");
    assert!(
        alice.audit().iter().any(|d| d["what"].as_str().is_some_and(|w| w.contains(&forked_note))),
        "{:#?}",
        alice.audit()
    );
}

/// A pane's spec as the runner keeps it in its state file (the first that `which` picks),
/// waiting until there is one: where it runs, and its agent's conversation.
fn kept_spec(env: &Env, which: impl Fn(&Value) -> bool) -> Value {
    fn find(v: &Value, which: &dyn Fn(&Value) -> bool) -> Option<Value> {
        match v {
            Value::Object(m) if m.contains_key("spawn") && m.contains_key("cwd") && which(v) => Some(v.clone()),
            Value::Object(m) => m.values().find_map(|x| find(x, which)),
            Value::Array(a) => a.iter().find_map(|x| find(x, which)),
            _ => None,
        }
    }
    let file = env.dir.join("state/teamster/sessions.json");
    let read = || {
        let v: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap_or_default()).unwrap_or_default();
        find(&v, &which)
    };
    env.wait_ls("the pane in the runner's state file", |_| read().is_some());
    read().unwrap_or_default()
}
