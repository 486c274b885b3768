//! Policies on what agents do, seen on the wire: a sandboxed agent installs a package from
//! a registry and pushes to a git host (both on loopback over HTTPS, git's own
//! `http-backend` behind one), and the shipped example policies judge the push itself,
//! however the agent spells it: held for a person once packages were installed, refused
//! in git with teamster's reason when denied, gone through when approved, and refused
//! outright when it rewrites `main`.

mod support;

use serde_json::Value;
use std::path::Path;
use std::process::Command;
use support::Env;
use support::githost::{self, Host};

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("HOME", dir)
        .output()
        .expect("git");
    assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// The shipped example's policies, as a user who copied it has them.
fn example_policies() -> String {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/config.example.toml")).expect("example");
    let at = text.find("\n[[policy]]").expect("the example has policies");
    text[at..].to_string()
}

/// An npm package `tiny` 1.0.0 as a registry serves it, and its integrity for a lock file.
fn npm_package(dir: &Path) -> (Vec<u8>, String) {
    use base64::Engine;
    let pkg = dir.join("tiny-src/package");
    std::fs::create_dir_all(&pkg).expect("package dir");
    std::fs::write(pkg.join("package.json"), r#"{"name":"tiny","version":"1.0.0"}"#).expect("package.json");
    let out = Command::new("tar")
        .args(["czf", "../tiny.tgz", "package"])
        .current_dir(dir.join("tiny-src"))
        .output()
        .expect("tar");
    assert!(out.status.success(), "tar: {}", String::from_utf8_lossy(&out.stderr));
    let tgz = std::fs::read(dir.join("tiny.tgz")).expect("tarball");
    let sha = ring::digest::digest(&ring::digest::SHA512, &tgz);
    (tgz, format!("sha512-{}", base64::engine::general_purpose::STANDARD.encode(sha.as_ref())))
}

/// A workspace that depends on `tiny` from `registry`, for `npm ci`.
fn npm_workspace(work: &Path, registry: &str, integrity: &str) {
    let lock = serde_json::json!({
        "name": "w", "version": "1.0.0", "lockfileVersion": 3, "requires": true,
        "packages": {
            "": { "name": "w", "version": "1.0.0", "dependencies": { "tiny": "1.0.0" } },
            "node_modules/tiny": {
                "version": "1.0.0",
                "resolved": format!("{registry}/tiny/-/tiny-1.0.0.tgz"),
                "integrity": integrity,
            }
        }
    });
    std::fs::write(work.join("package-lock.json"), lock.to_string()).expect("lock");
    std::fs::write(work.join("package.json"), r#"{"name":"w","version":"1.0.0","dependencies":{"tiny":"1.0.0"}}"#)
        .expect("package.json");
    std::fs::write(work.join(".npmrc"), format!("registry={registry}/\nupdate-notifier=false\n")).expect(".npmrc");
}

/// The agent: installs, then pushes `main` every way below, one after another (each push
/// waits while it is held), then rewrites `main` and force-pushes it. What git says goes
/// to `log.txt`, each try under `== NAME`.
const AGENT: &str = r#"#!/bin/bash
exec >>log.txt 2>&1
step() { local name="$1"; shift; echo "== $name"; "$@"; echo "exit $?"; }
step install npm ci --no-audit --no-fund --loglevel=error
for way in plain dash-c no-pager sh-c eval vars alias script approved; do
  case $way in
    plain) step $way git push origin main ;;
    dash-c) step $way git -C . push origin main ;;
    no-pager) step $way git --no-pager push origin main ;;
    sh-c) step $way sh -c 'git push origin main' ;;
    eval) step $way eval 'git   push origin main' ;;
    vars) step $way bash -c 'g=git; p=push; $g $p origin main' ;;
    alias) step $way git -c alias.p=push p origin main ;;
    script) step $way bash ./push-it.sh ;;
    approved) step $way git push origin main ;;
  esac
done
git commit -q --amend -m rewritten
step forced git push --force origin main
step deleted git push origin :main
echo "== done"
exec sleep 100000
"#;

fn pending(env: &Env) -> Vec<Value> {
    let v: Value = serde_json::from_str(&env.ok(&["approvals", "--json"])).expect("approvals JSON");
    v["pending"].as_array().cloned().unwrap_or_default()
}

/// The log's text from `== name` to its `exit` line, once that is there.
fn step_result(env: &Env, log: &Path, name: &str) -> String {
    let marker = format!("== {name}\n");
    let found = |text: &str| -> Option<String> {
        let rest = &text[text.find(&marker)? + marker.len()..];
        let exit = rest.lines().position(|l| l.starts_with("exit "))?;
        Some(rest.lines().take(exit + 1).collect::<Vec<_>>().join("\n"))
    };
    env.wait_ls(&format!("the agent's `{name}` to finish"), |_| {
        found(&std::fs::read_to_string(log).unwrap_or_default()).is_some()
    });
    found(&std::fs::read_to_string(log).unwrap_or_default()).unwrap_or_default()
}

#[test]
fn a_push_is_judged_on_the_wire_however_it_is_spelt() {
    let mut env = Env::new();
    let certs = env.dir.join("certs");
    let ca = githost::certificates(&certs);
    // The runner trusts the test hosts as it would trust github.com.
    env.extra_env.push(("SSL_CERT_FILE".into(), ca.to_string_lossy().into_owned()));
    let (srv, work) = (env.dir.join("srv"), env.dir.join("work"));
    std::fs::create_dir_all(&srv).expect("srv");
    git(&srv, &["init", "-q", "--bare", "-b", "main", "repo.git"]);
    git(&srv.join("repo.git"), &["config", "http.receivepack", "true"]);
    let githost = Host::start(&certs, &srv, Default::default());
    let (tgz, integrity) = npm_package(&env.dir);
    let registry = Host::start_on("localhost", &certs, &srv, [("/tiny/-/tiny-1.0.0.tgz".to_string(), tgz)].into());
    npm_workspace(&work, &registry.url(""), &integrity);

    // The workspace: main pushed once (A), one commit on top of it (B) to push.
    git(&work, &["init", "-q", "-b", "main"]);
    git(&work, &["config", "user.name", "agent"]);
    git(&work, &["config", "user.email", "agent@example.com"]);
    std::fs::write(work.join(".gitignore"), "node_modules\nlog.txt\n").expect("gitignore");
    git(&work, &["add", "."]);
    git(&work, &["commit", "-q", "-m", "A"]);
    git(&work, &["push", "-q", srv.join("repo.git").to_str().expect("path"), "main"]);
    let a = git(&work, &["rev-parse", "HEAD"]);
    // Over a megabyte that does not compress: git probes first, then sends it chunked.
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let noise: Vec<u8> = (0..1_500_000)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect();
    std::fs::write(work.join("b.bin"), noise).expect("b");
    git(&work, &["add", "b.bin"]);
    git(&work, &["commit", "-q", "-m", "B"]);
    let b = git(&work, &["rev-parse", "HEAD"]);
    git(&work, &["remote", "add", "origin", &githost.url("/repo.git")]);
    std::fs::write(work.join("push-it.sh"), "git push origin main\n").expect("script");
    let remote = || git(&srv.join("repo.git"), &["rev-parse", "main"]);

    let agent = env.dir.join("agent.sh");
    support::fake::write_script(&agent, AGENT);
    env.write_config(&format!(
        "[agents.pusher]\ncommand = \"{}\"\n\n[sandbox]\nallow_hosts = [\"{g}\", \"{r}\"]\ngit_hosts = [\"{g}\"]\nregistries = [\"{r}\"]\n\n{}",
        agent.display(),
        example_policies(),
        g = githost.authority(),
        r = registry.authority(),
    ));
    env.ok(&["-d", "-s", "wire", "--", "bash", "--norc"]);
    env.ok(&["new", "pusher"]);
    let log = work.join("log.txt");

    let installed = step_result(&env, &log, "install");
    assert!(installed.ends_with("exit 0"), "npm ci went through the proxy:\n{installed}");
    assert!(work.join("node_modules/tiny/package.json").exists(), "installed");
    let audit = env.audit();
    assert!(
        audit.iter().any(|d| d["kind"] == "download" && d["what"].as_str().is_some_and(|w| w.contains("tiny 1.0.0"))),
        "the download is in the audit log: {audit:#?}"
    );

    // Each spelling of the push is held; denied, git says why and the remote keeps A.
    for way in ["plain", "dash-c", "no-pager", "sh-c", "eval", "vars", "alias", "script"] {
        env.wait_ls(&format!("the `{way}` push held"), |_| pending(&env).iter().any(|p| p["kind"] == "push"));
        let held = pending(&env).into_iter().find(|p| p["kind"] == "push").expect("held");
        let what = held["what"].as_str().unwrap_or_default();
        assert!(what.contains("repo.git") && what.contains("main (fast-forward)"), "{way}: {what}");
        assert!(held["reason"].as_str().is_some_and(|r| r.contains("packages were installed")), "{held}");
        if way == "plain" {
            // A push is judged each time: it cannot be allowed for good.
            let out = env.run(&["approve", &held["id"].to_string(), "--always", "session"]);
            assert!(!out.status.success(), "an always-allow of a push was taken");
            assert!(String::from_utf8_lossy(&out.stderr).contains("judged each time"), "{out:?}");
        }
        env.ok(&["deny", &held["id"].to_string(), "--reason", &format!("not yet ({way})")]);
        let said = step_result(&env, &log, way);
        assert!(
            said.contains("[remote rejected]") && said.contains(&format!("teamster: not yet ({way})")),
            "{way}:\n{said}"
        );
        assert!(!said.ends_with("exit 0"), "{way}: git failed:\n{said}");
        assert_eq!(remote(), a, "{way}: the remote is unchanged");
    }
    // Approved, it goes.
    env.wait_ls("the last push held", |_| pending(&env).iter().any(|p| p["kind"] == "push"));
    let held = pending(&env).into_iter().find(|p| p["kind"] == "push").expect("held");
    env.ok(&["approve", &held["id"].to_string()]);
    let said = step_result(&env, &log, "approved");
    assert!(said.ends_with("exit 0"), "{said}");
    assert_eq!(remote(), b, "the approved push updated main");

    // A rewrite of main and its deletion are refused outright, with the rule's reason.
    let forced = step_result(&env, &log, "forced");
    assert!(forced.contains("[remote rejected]") && forced.contains("protected branch"), "{forced}");
    let deleted = step_result(&env, &log, "deleted");
    assert!(deleted.contains("[remote rejected]") && deleted.contains("protected branch"), "{deleted}");
    assert_eq!(remote(), b, "main was neither rewritten nor deleted");
    let audit = env.audit();
    let pushes: Vec<&Value> = audit.iter().filter(|d| d["kind"] == "push").collect();
    assert!(pushes.iter().any(|d| d["what"].as_str().is_some_and(|w| w.contains("rewritten (forced)"))), "{pushes:#?}");
    assert!(pushes.iter().any(|d| d["what"].as_str().is_some_and(|w| w.contains("main (deleted)"))), "{pushes:#?}");

    // teamster's authority is trusted by nobody outside: the runner's own port does not
    // tunnel, and its key is the owner's alone.
    let key = env.dir.join("state/teamster/authority/ca.key");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(std::fs::metadata(&key).expect("the authority's key").permissions().mode() & 0o777, 0o600);
}

/// A program that speaks to a host through the pane's proxy by hand (bash's /dev/tcp):
/// `connect NAME HOST:PORT FIRST-BYTES` writes what came back to `NAME.out`.
const CONTACTS: &str = r#"#!/bin/bash
connect() {
  local proxy=${HTTPS_PROXY#http://}
  exec 3<>"/dev/tcp/${proxy%:*}/${proxy#*:}"
  printf 'CONNECT %s HTTP/1.1\r\nhost: %s\r\n\r\n' "$2" "$2" >&3
  local status; read -r status <&3
  echo "$status" > "$1.out"
  if [ -n "$3" ]; then printf '%s\r\n' "$3" >&3; cat <&3 >>"$1.out"; fi
  exec 3<&-
}
connect first "$OTHER" ""
connect again "$OTHER" ""
connect ssh "$SSH_HOST" "SSH-2.0-OpenSSH_9.6"
echo done > done.out
exec sleep 100000
"#;

#[test]
fn a_new_host_is_asked_about_once_and_ssh_is_refused() {
    let env = Env::new();
    // Two hosts on loopback: one that answers whatever it is sent, one standing for an SSH
    // server, which must never hear from the agent.
    let other = std::net::TcpListener::bind((githost::ADDR, 0)).expect("other");
    let ssh = std::net::TcpListener::bind((githost::ADDR, 0)).expect("ssh");
    let ssh_heard = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let heard = ssh_heard.clone();
    let ssh_addr = ssh.local_addr().expect("addr");
    std::thread::spawn(move || {
        for s in ssh.incoming().flatten() {
            let mut buf = [0u8; 64];
            if std::io::Read::read(&mut &s, &mut buf).is_ok_and(|n| n > 0) {
                heard.store(true, std::sync::atomic::Ordering::SeqCst);
            }
        }
    });
    let other_addr = other.local_addr().expect("addr");
    std::thread::spawn(move || for _s in other.incoming() {});
    let agent = env.dir.join("contacts.sh");
    support::fake::write_script(&agent, CONTACTS);
    env.write_config(&format!(
        "[agents.caller]\ncommand = \"{}\"\n\n[sandbox]\nallow_hosts = [\"{other_addr}\", \"{ssh_addr}\"]\n\n{}",
        agent.display(),
        example_policies(),
    ));
    env.ok(&["-d", "-s", "contacts", "--", "bash", "--norc"]);
    let out = env
        .cmd(&["new", "caller"])
        .env("OTHER", other_addr.to_string())
        .env("SSH_HOST", ssh_addr.to_string())
        .output()
        .expect("new");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let work = env.dir.join("work");
    // The first contact waits for a person; approved, it goes through.
    env.wait_ls("the first contact held", |_| pending(&env).iter().any(|p| p["kind"] == "contact"));
    let held = pending(&env).into_iter().find(|p| p["kind"] == "contact").expect("held");
    assert!(held["what"].as_str().is_some_and(|w| w.contains(&format!("first contact with {other_addr}"))), "{held}");
    env.ok(&["approve", &held["id"].to_string()]);
    // The SSH server is a new host too: let the agent reach it, to see SSH itself refused.
    let ssh_host = ssh_addr.to_string();
    let is_ssh = |p: &Value| p["kind"] == "contact" && p["what"].as_str().is_some_and(|w| w.contains(&ssh_host));
    env.wait_ls("the contact with the SSH host held", |_| pending(&env).iter().any(is_ssh));
    let held = pending(&env).into_iter().find(is_ssh).expect("held");
    env.ok(&["approve", &held["id"].to_string()]);
    env.wait_ls("the agent to finish", |_| work.join("done.out").exists());
    let said = |name: &str| std::fs::read_to_string(work.join(format!("{name}.out"))).unwrap_or_default();
    assert!(said("first").starts_with("HTTP/1.1 200"), "{}", said("first"));
    // The second contact with the same host is not asked about.
    assert!(said("again").starts_with("HTTP/1.1 200"), "{}", said("again"));
    // SSH never reached its server, and the refusal says why.
    assert!(!ssh_heard.load(std::sync::atomic::Ordering::SeqCst), "the SSH server heard from the agent");
    let refused = env.sandbox_refusals();
    assert!(refused.iter().any(|r| r.contains("git over SSH")), "{refused:?}");
}
