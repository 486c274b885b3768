//! The runner's side of the sandbox: the plan for an agent pane, the environment it gets
//! (placeholders for keys, the proxy for everything else), and, once the pane's helper
//! reports in, serving its proxy listener and answering its seccomp questions.

use super::Runner;
use super::store::DecisionRecord;
use crate::sandbox::{Plan, seccomp};
use std::os::fd::OwnedFd;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::sync::{Arc, Weak};

/// A sandboxed pane on its way to starting.
pub struct Prepared {
    pub plan: Plan,
    /// The runner's end of the helper's report line, and the helper's (its descriptor 3).
    pub ours: UnixStream,
    pub theirs: UnixStream,
}

/// Variables that hold credentials: the agent gets a placeholder for each, and the proxy
/// puts the real value back on requests to the agent's LLM provider.
pub fn is_secret(name: &str) -> bool {
    const SUFFIXES: [&str; 5] = ["_API_KEY", "_AUTH_TOKEN", "_ACCESS_TOKEN", "_SECRET_ACCESS_KEY", "_SESSION_TOKEN"];
    const NAMES: [&str; 5] = ["GITHUB_TOKEN", "GH_TOKEN", "NPM_TOKEN", "HF_TOKEN", "CODEX_API_KEY"];
    SUFFIXES.iter().any(|s| name.ends_with(s)) || NAMES.contains(&name)
}

pub fn placeholder(name: &str) -> String {
    format!("teamster-placeholder-{name}")
}

/// Rewrites a sandboxed agent's environment: secrets become placeholders (returned with
/// their real values, for the proxy), temp files go to the private directory, and every
/// program that honours `HTTPS_PROXY` goes out through the pane's proxy.
pub fn confine_env(env: &mut Vec<(String, String)>, plan: &Plan) -> Vec<(String, String)> {
    let mut secrets = Vec::new();
    for (k, v) in env.iter_mut() {
        if is_secret(k) && !v.is_empty() && !v.starts_with("teamster-placeholder-") {
            let p = placeholder(k);
            secrets.push((p.clone(), std::mem::replace(v, p)));
        }
    }
    let tmp = plan.tmp.to_string_lossy().into_owned();
    let proxy = format!("http://127.0.0.1:{}", plan.port);
    let set = [
        ("TMPDIR", tmp.as_str()),
        ("TMP", &tmp),
        ("TEMP", &tmp),
        ("HTTPS_PROXY", &proxy),
        ("https_proxy", &proxy),
        ("HTTP_PROXY", &proxy),
        ("http_proxy", &proxy),
        ("npm_config_cache", &format!("{tmp}/npm-cache")),
        ("TEAMSTER_SANDBOX", "on"),
    ];
    env.retain(|(k, _)| !set.iter().any(|(s, _)| s == k));
    env.extend(set.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    secrets
}

impl Runner {
    /// The plan for an agent in its pane, and the line its helper reports on.
    pub(super) fn prepare_sandbox(
        &self,
        agent: &crate::agents::Agent,
        cwd: &Path,
        pane_dir: &Path,
        home: &Path,
        env: &[(String, String)],
    ) -> Result<Prepared, String> {
        let config = self.config();
        if let Some(why) = crate::sandbox::refusal(&crate::sandbox::missing_features(), &config.sandbox.run_without) {
            return Err(format!("teamster will not start {}: {why}", agent.name));
        }
        let port =
            self.proxy_port.lock().ok_or("the metering proxy is not running, and it is a sandbox's only way out")?;
        let runtime = self.hook_socket.parent().unwrap_or(Path::new("/")).to_path_buf();
        let teamster_dirs = [crate::paths::state_dir(), crate::paths::config_dir(), runtime.clone()];
        let var = |name: &str, fallback: &str| {
            env.iter()
                .rev()
                .find(|(k, v)| k == name && Path::new(v).is_absolute())
                .map_or_else(|| home.join(fallback), |(_, v)| v.into())
        };
        let xdg = [
            var("XDG_CONFIG_HOME", ".config"),
            var("XDG_DATA_HOME", ".local/share"),
            var("XDG_STATE_HOME", ".local/state"),
            var("XDG_CACHE_HOME", ".cache"),
        ];
        let plan = crate::sandbox::plan(
            &crate::sandbox::Inputs {
                kind: agent.kind.name(),
                home,
                cwd,
                pane_dir,
                teamster_dirs: &teamster_dirs,
                runtime_dir: &runtime,
                hook_socket: &self.hook_socket,
                port,
                config: &config.sandbox,
                xdg: &xdg,
                writable: &agent.writable,
                readable: &agent.readable,
            },
            &crate::sandbox::list_dir,
        );
        for dir in &plan.make {
            std::fs::create_dir_all(dir).map_err(|e| format!("cannot make {}: {e}", dir.display()))?;
        }
        if agent.kind == crate::agents::AgentKind::Claude {
            // Its config moves into ~/.claude (see sandbox::agent_state): start from yours.
            let (moved, yours) = (home.join(".claude/.claude.json"), home.join(".claude.json"));
            if !moved.exists() && yours.exists() {
                std::fs::copy(&yours, &moved).map_err(|e| format!("cannot copy {}: {e}", yours.display()))?;
            }
        }
        crate::paths::ensure_private_dir(&plan.tmp)
            .map_err(|e| format!("cannot make the sandbox's temp directory {}: {e}", plan.tmp.display()))?;
        let (ours, theirs) = UnixStream::pair().map_err(|e| format!("cannot make the sandbox's report line: {e}"))?;
        Ok(Prepared { plan, ours, theirs })
    }

    /// A write or connection the sandbox refused: the audit log, the pane's count in its
    /// title, and the sidebar's recent history. The same refusal again within a few
    /// seconds is counted once (a program retrying in a loop).
    pub(super) fn sandbox_refused(&self, pane: u32, what: &str, why: &str) {
        let now = super::now_secs();
        let (session, key, agent) = {
            let mut st = self.state.lock();
            let Some(p) = st.panes.get(&pane).cloned() else { return };
            let session = st.sessions.get_mut(&p.session).map(|s| {
                s.touch();
                s.name.clone()
            });
            let mut m = p.meta.lock();
            if m.recent_refusals.iter().any(|(w, t)| w == what && now.saturating_sub(*t) < 5) {
                return;
            }
            m.recent_refusals.retain(|(_, t)| now.saturating_sub(*t) < 5);
            m.recent_refusals.push((what.to_string(), now));
            m.refused += 1;
            (session.unwrap_or_default(), m.spec.key.clone(), m.spec.name.clone().unwrap_or_default())
        };
        super::log(&format!("sandbox of pane {pane} refused {what}"));
        self.audit(DecisionRecord {
            ts: now,
            session,
            pane: key,
            agent,
            kind: "sandbox".into(),
            what: what.to_string(),
            verdict: "deny".into(),
            by: "sandbox".into(),
            rule: None,
            reason: Some(why.to_string()),
        });
        self.tell_history(&self.state.lock());
    }
}

/// Waits for a sandboxed pane's helper to report, then serves its proxy listener and
/// answers its seccomp questions until the pane's processes are gone. Runs on a thread
/// of its own; `rt` runs the proxy.
pub fn watch(runner: Weak<Runner>, pane: u32, token: String, ours: UnixStream, plan: Plan, rt: tokio::runtime::Handle) {
    let _ = ours.set_read_timeout(Some(std::time::Duration::from_secs(30)));
    let (words, fds) = match receive(&ours) {
        Ok(r) => r,
        // The helper failed before reporting: it says why on the pane's screen.
        Err(_) => return,
    };
    let mut fds = fds.into_iter();
    if words.contains(&"listener".to_string())
        && let Some(fd) = fds.next()
    {
        let std_listener = std::net::TcpListener::from(fd);
        let origin = crate::meter::proxy::Origin::Sandbox { token };
        if std_listener.set_nonblocking(true).is_ok()
            && let Some(r) = runner.upgrade()
        {
            let _guard = rt.enter();
            if let Ok(listener) = tokio::net::TcpListener::from_std(std_listener) {
                rt.spawn(crate::meter::proxy::serve(listener, r, origin));
            }
        }
    }
    if words.contains(&"seccomp".to_string())
        && let Some(fd) = fds.next()
    {
        seccomp::supervise(fd, plan, |refusal| {
            if let Some(r) = runner.upgrade() {
                let why = match &refusal {
                    seccomp::Refusal::Write(_) => {
                        "the sandbox lets agents write only their workspace, their own state and their temp directory"
                    }
                    seccomp::Refusal::Connect(_) => "a sandboxed agent's only way out is teamster's proxy",
                };
                r.sandbox_refused(pane, &refusal.describe(), why);
            }
        });
    }
}

/// The helper's line and the descriptors that came with it.
fn receive(socket: &UnixStream) -> std::io::Result<(Vec<String>, Vec<OwnedFd>)> {
    use nix::sys::socket::{ControlMessageOwned, MsgFlags, recvmsg};
    use std::os::fd::{AsRawFd, FromRawFd};
    let mut buf = [0u8; 256];
    let mut iov = [std::io::IoSliceMut::new(&mut buf)];
    let mut space = nix::cmsg_space!([std::os::fd::RawFd; 4]);
    let msg = recvmsg::<()>(socket.as_raw_fd(), &mut iov, Some(&mut space), MsgFlags::MSG_CMSG_CLOEXEC)
        .map_err(std::io::Error::from)?;
    let mut fds = Vec::new();
    for c in msg.cmsgs().map_err(std::io::Error::from)? {
        if let ControlMessageOwned::ScmRights(raw) = c {
            // SAFETY: the kernel just installed these descriptors in our table.
            fds.extend(raw.into_iter().map(|fd| unsafe { OwnedFd::from_raw_fd(fd) }));
        }
    }
    let n = msg.bytes;
    if n == 0 {
        return Err(std::io::Error::other("the helper said nothing"));
    }
    let words = String::from_utf8_lossy(&buf[..n]).split_whitespace().map(str::to_string).collect();
    Ok((words, fds))
}

/// Starts watching a pane's sandbox.
pub fn start_watch(runner: &Arc<Runner>, pane: u32, token: String, prepared: Prepared) {
    let Prepared { plan, ours, theirs } = prepared;
    drop(theirs);
    let (weak, rt) = (Arc::downgrade(runner), tokio::runtime::Handle::current());
    let spawned = std::thread::Builder::new()
        .name(format!("sandbox-{pane}"))
        .spawn(move || watch(weak, pane, token, ours, plan, rt));
    if let Err(e) = spawned {
        super::log(&format!("cannot watch the sandbox of pane {pane}: {e}"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_become_placeholders_and_the_proxy_is_the_way_out() {
        let plan = Plan { port: 4100, tmp: "/s/tmp".into(), ..Plan::default() };
        let mut env = vec![
            ("ANTHROPIC_API_KEY".to_string(), "sk-ant-real".to_string()),
            ("PATH".to_string(), "/usr/bin".to_string()),
            ("HTTPS_PROXY".to_string(), "http://corp:3128".to_string()),
            ("GH_TOKEN".to_string(), "".to_string()),
        ];
        let secrets = confine_env(&mut env, &plan);
        assert_eq!(secrets, [("teamster-placeholder-ANTHROPIC_API_KEY".to_string(), "sk-ant-real".to_string())]);
        let get = |k: &str| env.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        assert_eq!(get("ANTHROPIC_API_KEY"), Some("teamster-placeholder-ANTHROPIC_API_KEY"));
        assert_eq!(get("HTTPS_PROXY"), Some("http://127.0.0.1:4100"));
        assert_eq!(get("TMPDIR"), Some("/s/tmp"));
        assert_eq!(get("PATH"), Some("/usr/bin"));
        assert!(!env.iter().any(|(_, v)| v.contains("sk-ant-real")));
    }
}
