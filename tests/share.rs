//! Sharing a live session by link, as users meet it: real runners share to a real
//! `teamster serve` over WebSockets; a driver and a viewer join with the code `teamster
//! attach` runs. The driver types and approves, the viewer cannot; the server dies and
//! comes back and everyone resumes; wrong secrets, tampered and replayed messages, and a
//! malicious server get nowhere; the server's database and traffic hold no plaintext.

mod support;

use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use support::share::{Server, Viewer, pane_running, runtime, share};
use support::{Env, fake::fake_claude};
use teamster::share::crypto::Link;
use teamster::share::wire::{Authority, FromViewer, Kind, Role, ToViewer};
use tokio_tungstenite::tungstenite::Message;

const ASK_PUSH: &str = r#"
[[policy]]
name = "pushes need a look"
on = "tool_call"
tool = ["shell"]
command = '\bgit\s+push\b'
verdict = "ask"
reason = "pushing leaves the machine"
"#;

/// A runner with a detached session `name` running the stand-in agent.
fn runner_with_agent(name: &str) -> Env {
    let env = Env::new();
    env.write_config(&format!("{ASK_PUSH}\n{}", fake_claude(&env)));
    env.ok(&["-d", "-s", name, "--size", "100x30"]);
    env.ok(&["new", "fake", "-t", name]);
    env
}

fn audit(env: &Env) -> Vec<Value> {
    let v: Value = serde_json::from_str(&env.ok(&["audit", "--json", "-n", "100"])).expect("audit JSON");
    v["decisions"].as_array().cloned().unwrap_or_default()
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
        driver.type_line(agent, "run echo pushed > pushed.txt # git push").await;
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
        let log = audit(&alpha);
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
        let said = alpha.ok(&["unshare", &id_a]);
        assert!(said.contains("stopped 1 share"), "{said}");
        driver.wait("the driver cut off", |v| v.detached.is_some()).await;
        viewer.wait("the viewer cut off", |v| v.detached.is_some()).await;
        assert!(viewer.detached.as_deref().unwrap_or("").contains("stopped sharing"), "{:?}", viewer.detached);
        let again = Viewer::join(&read_a, "late").await.err().unwrap_or_default();
        assert!(again.contains("stopped by the person who shared it"), "{again}");
        let records = std::fs::read(&server.db).unwrap_or_default();
        assert!(!records.is_empty());
    });
}
