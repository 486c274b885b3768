//! The share server as a team runs it at scale: replicas on one PostgreSQL and one NATS
//! (started for the run by `./scripts/test`) behind a plain TCP load balancer. A runner on
//! one replica is watched and driven from another, in a terminal and in a browser; the
//! runner's replica is killed while its pane streams, and everyone moves on with nothing
//! lost and nothing applied twice.

mod support;

use support::Env;
use support::fake::{ASK_BEFORE_PUSH, fake_claude};
use support::share::{Balancer, Server, Target, Viewer, pane_running, runtime, share};

fn replica(env: &Env, name: &str, database: &str, bus: &str) -> Server {
    Server::replica(env, name, 0, &["--database", database, "--bus", bus], Target::Postgres(database.to_string()))
}

#[test]
fn a_runner_on_one_replica_is_driven_from_another_and_a_replica_killed_mid_stream_loses_nothing() {
    let Some((database, bus)) = support::share::scale_out() else {
        eprintln!("skipped: no PostgreSQL and NATS for this run (./scripts/test starts them)");
        return;
    };
    let env = Env::new();
    env.write_config(&format!("{ASK_BEFORE_PUSH}\n{}", fake_claude(&env)));
    env.ok(&["-d", "-s", "team", "--size", "120x30"]);
    env.ok(&["new", "fake", "-t", "team"]);
    // A pane that streams 300 numbered lines once told to, then echoes what is typed.
    env.ok(&[
        "new",
        "-t",
        "team",
        "--",
        "bash",
        "--norc",
        "-c",
        "echo stream-ready; read go; for i in $(seq 1 300); do echo line-$i; sleep 0.01; done; echo END-OF-STREAM; exec cat",
    ]);
    let mut a = replica(&env, "replica-a", &database, &bus);
    let b = replica(&env, "replica-b", &database, &bus);
    let rt = runtime();
    rt.block_on(async {
        let lb = Balancer::start(vec![a.port, b.port]).await;
        // The runner's connection lands on A, and so does one viewer's; the driver and
        // the browser land on B.
        lb.prefer(0);
        let (_, read, drive) = share(&env, &["-t", "team", "--server", &lb.url()]);
        let drive = drive.expect("a drive link");
        let mut ann = Viewer::join(&read, "ann").await.expect("ann joins on A");
        lb.prefer(1);
        let mut dana = Viewer::join(&drive, "dana").await.expect("dana joins on B");
        dana.wait("the agent's prompt, relayed from A to B", |v| v.count("fake>") > 0).await;
        ann.wait("the agent's prompt", |v| v.count("fake>") > 0).await;
        let agent = pane_running(&dana, "fake-claude").expect("the agent's pane");
        let stream = pane_running(&dana, "bash").expect("the streaming pane");
        env.wait_ls("both watchers known to the sharer", |_| {
            let list = env.ok(&["share", "--list"]);
            list.contains("dana (driver)") && list.contains("ann (viewer)")
        });

        let browser = support::browser::Browser::start(1280).await;
        browser.open(&drive).await;
        browser
            .wait("the page, on B, to go live", "return document.getElementById('status').innerText === 'live'")
            .await;
        browser.wait("the pane's text on the page", "return document.body.innerText.includes('fake>')").await;

        // A driver on B asks; the page on B approves with a click; the runner on A runs it.
        dana.type_line(agent, "run echo pushed > pushed.txt; true git push").await;
        browser
            .wait("the pending action", "return document.querySelectorAll('.pending button.approve').length === 1")
            .await;
        browser.click(".pending button.approve").await;
        dana.wait("the push to run", |v| v.count("ran: echo pushed") == 1).await;
        ann.wait("the viewer on A to see it", |v| v.count("ran: echo pushed") == 1).await;
        assert!(env.dir.join("work/pushed.txt").exists());
        let by = env.audit().iter().find(|d| d["verdict"] == "allow").map(|d| d["by"].to_string()).unwrap_or_default();
        assert!(by.contains("(shared link)"), "approved from the page on B: {by}");

        // The pane streams; A is killed halfway. The runner and ann move to B through
        // the balancer and resume where they were.
        dana.wait("the stream's pane", |v| v.pane_text(stream).contains("stream-ready")).await;
        dana.type_line(stream, "go").await;
        ann.wait("the stream under way", |v| v.pane_text(stream).contains("line-40")).await;
        a.kill();
        for v in [&mut dana, &mut ann] {
            v.wait("the whole stream after the kill", |v| v.pane_text(stream).contains("END-OF-STREAM")).await;
        }
        browser.wait("the page to see the end", "return document.body.innerText.includes('END-OF-STREAM')").await;
        assert!(ann.said.iter().any(|s| s.contains("reconnected")), "ann's link moved: {:?}", ann.said);

        // Typed once after the move, applied once: the terminal's echo and cat's copy.
        dana.type_line(stream, "hello-after-the-kill").await;
        for v in [&mut dana, &mut ann] {
            v.wait("the typed line", |v| v.count("hello-after-the-kill") == 2).await;
            v.drain(std::time::Duration::from_millis(300)).await;
            assert_eq!(v.count("hello-after-the-kill"), 2, "once, echoed and copied:\n{}", v.pane_text(stream));
        }
        // The last screenful is whole and in order on both, and the same.
        let text = dana.pane_text(stream);
        let lines: Vec<u32> =
            text.lines().filter_map(|l| l.trim().strip_prefix("line-")).filter_map(|n| n.parse().ok()).collect();
        assert!(lines.len() > 10 && lines.windows(2).all(|w| w[1] == w[0] + 1), "{text}");
        assert_eq!(lines.last(), Some(&300), "{text}");
        assert_eq!(ann.pane_text(stream), text, "the viewer that moved sees the same screen");
        assert_eq!(ann.pane_text(agent), dana.pane_text(agent));
        env.wait_ls("the sharer's list after the move", |_| {
            let list = env.ok(&["share", "--list"]);
            list.contains("connected") && list.matches("ann (viewer)").count() == 1 && list.contains("dana (driver)")
        });
        browser.quit().await;
    });
}
