//! The share server over TLS, as a team runs it: a certificate from the team's own
//! authority, the runner and a viewer that trust it (`SSL_CERT_FILE`), and a server that
//! will not listen beyond loopback without TLS unless told it is behind a TLS proxy.
//! Its own test binary: it sets `SSL_CERT_FILE` for the whole process.

mod support;

use std::process::Command;
use support::share::{Server, Viewer, runtime, share};
use support::{Env, bin};

#[test]
fn a_team_server_over_tls_and_no_plain_http_beyond_loopback() {
    let mut env = Env::new();
    support::githost::certificates(&env.dir);
    let ca = env.dir.join("ca.pem").to_string_lossy().into_owned();
    // SAFETY: set before this test starts any thread of its own; the only test here.
    unsafe { std::env::set_var("SSL_CERT_FILE", &ca) };
    env.extra_env.push(("SSL_CERT_FILE".into(), ca));

    // Beyond loopback: TLS, or an explicit --insecure that warns.
    let out = env.run(&["serve", "--listen", "0.0.0.0:0"]);
    assert!(!out.status.success());
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(said.contains("--tls-cert") && said.contains("--insecure"), "{said}");
    let mut insecure = Command::new(bin())
        .args(["serve", "--listen", "0.0.0.0:0", "--insecure", "--db"])
        .arg(env.dir.join("insecure.db"))
        .env_clear()
        .envs(env.envs())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("serve --insecure");
    let mut line = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(insecure.stdout.take().expect("stdout")), &mut line)
        .expect("it starts");
    let _ = insecure.kill();
    let out = insecure.wait_with_output().expect("wait");
    assert!(String::from_utf8_lossy(&out.stderr).contains("warning: serving"), "{out:?}");

    // Bad key files are an error that names them.
    let out = env.run(&["serve", "--tls-cert", "/nonexistent.pem", "--tls-key", "/nonexistent.key"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("--tls-cert /nonexistent.pem"), "{out:?}");

    let d = |f: &str| env.dir.join(f).to_string_lossy().into_owned();
    let server = Server::with(&env, 0, &["--tls-cert", &d("server.pem"), "--tls-key", &d("server.key")]);
    env.ok(&["-d", "-s", "tls", "--", "bash", "--norc", "-c", "echo over-tls; exec cat"]);
    let (_, read, _) = share(&env, &["-t", "tls", "--server", &server.https_url()]);
    assert!(read.starts_with("https://localhost:"), "{read}");
    runtime().block_on(async {
        let mut viewer = Viewer::join(&read, "vic").await.expect("joins over TLS");
        viewer.wait("the pane over TLS", |v| v.count("over-tls") > 0).await;
        // The same server, by plain http: nothing but a failed handshake.
        let plain = read.replace("https://", "http://");
        assert!(Viewer::join(&plain, "x").await.is_err(), "no plain http on a TLS port");
    });
}
