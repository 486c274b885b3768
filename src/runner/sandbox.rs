//! The runner's side of the sandbox: the plan for an agent pane, the environment it gets
//! (placeholders for keys, the proxy for everything else), and, once the pane's helper
//! is up, serving its proxy listener and answering its seccomp questions.

use super::Runner;
use super::store::DecisionRecord;
use crate::agents::{Agent, AgentKind};
use crate::sandbox::{Plan, seccomp};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Weak};

/// What the runner made for a pane: its private directory, its hook socket, and the files
/// it generated there (settings with teamster's hooks), which the agent may read and not
/// change.
pub struct PaneFiles<'a> {
    pub dir: &'a Path,
    pub hook_socket: &'a Path,
    pub generated: &'a [PathBuf],
    /// The agent's program, put back if it lies in a covered place.
    pub program: Option<PathBuf>,
    /// The git worktree the pane works in, if teamster made one for it.
    pub worktree: Option<&'a super::worktree::Worktree>,
    /// The environment the pane was started with, without teamster's additions: where the
    /// agent you run yourself keeps its state.
    pub user_env: &'a [(String, String)],
}

/// A sandboxed pane on its way to starting.
pub struct Prepared {
    pub plan: Plan,
    /// Its private temp directory.
    pub tmp: PathBuf,
    /// The runner's end of the helper's line, and the helper's (its descriptor 3).
    pub ours: UnixStream,
    pub theirs: UnixStream,
    /// The variables that make its TLS clients trust teamster's authority (none when the
    /// authority could not be made: then git hosts and registries refuse it).
    pub trust: Vec<(String, String)>,
}

/// Variables that hold credentials: the agent gets a placeholder for each.
pub fn is_secret(name: &str) -> bool {
    if name.starts_with("TEAMSTER_") {
        return false;
    }
    const SUFFIXES: [&str; 6] = ["_KEY", "_TOKEN", "_SECRET", "_PASSWORD", "_PASSWD", "_CREDENTIALS"];
    const NAMES: [&str; 2] = ["DATABASE_URL", "NETRC"];
    SUFFIXES.iter().any(|s| name.ends_with(s)) || NAMES.contains(&name)
}

/// Variables that point at doors out of the sandbox (a session bus, an SSH or GPG agent,
/// the display): the agent does not get them.
const DOORS: [&str; 7] =
    ["SSH_AUTH_SOCK", "DBUS_SESSION_BUS_ADDRESS", "DISPLAY", "WAYLAND_DISPLAY", "XAUTHORITY", "GPG_AGENT_INFO", "TMUX"];

/// The credentials a provider's API takes: only these placeholders are swapped for real
/// keys, and only on requests to that provider.
pub fn credentials_of(provider: &str) -> &'static [&'static str] {
    match provider {
        "anthropic" => &["ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN", "CLAUDE_CODE_OAUTH_TOKEN"],
        "openai" => &["OPENAI_API_KEY", "CODEX_API_KEY", "AZURE_OPENAI_API_KEY"],
        "google" => &["GEMINI_API_KEY", "GOOGLE_API_KEY"],
        _ => &[],
    }
}

pub fn placeholder(name: &str) -> String {
    format!("teamster-placeholder-{name}")
}

/// Rewrites a sandboxed agent's environment: secrets become placeholders (their real
/// values returned by name, for the proxy), doors out are dropped, temp files go to the
/// private directory, and every program that honours `HTTPS_PROXY` goes out through the
/// pane's proxy.
pub fn confine_env(
    env: &mut Vec<(String, String)>,
    tmp: &Path,
    port: u16,
    trust: &[(String, String)],
) -> Vec<(String, String)> {
    let mut secrets = Vec::new();
    env.retain(|(k, _)| !DOORS.contains(&k.as_str()));
    for (k, v) in env.iter_mut() {
        if is_secret(k) && !v.is_empty() && *v != placeholder(k) {
            secrets.push((k.clone(), std::mem::replace(v, placeholder(k))));
        }
    }
    let tmp = tmp.to_string_lossy().into_owned();
    let proxy = format!("http://127.0.0.1:{port}");
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
    env.retain(|(k, _)| !set.iter().any(|(s, _)| s == k) && !trust.iter().any(|(t, _)| t == k));
    env.extend(set.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    env.extend(trust.iter().cloned());
    secrets
}

/// At most this many refusals a minute per pane go to the audit log one by one; past it
/// they are counted (a build that writes thousands of files outside the workspace).
const REFUSALS_PER_MINUTE: usize = 30;

impl Runner {
    /// The plan for an agent in its pane, its temp directory, and the helper's line.
    /// `env` is the agent's environment.
    pub(super) fn prepare_sandbox(
        &self,
        agent: &Agent,
        cwd: &Path,
        pane: &PaneFiles,
        home: &Path,
        env: &[(String, String)],
    ) -> Result<Prepared, String> {
        let config = self.config.read();
        let s = &config.sandbox;
        let missing = crate::sandbox::missing_features();
        if let Some(why) = crate::sandbox::refusal(&missing, &s.run_without) {
            return Err(format!("{} will not start: {why}", agent.name));
        }
        let port = self.proxy_port.lock().ok_or("the proxy is not running, and it is a sandbox's only way out")?;
        let var = |name: &str| crate::agents::setting_in(agent, env, name);
        // Its state as teamster pointed it (a private home) and as you keep it (where its
        // conversations are linked from): both its own.
        let user_var = |name: &str| crate::agents::setting_in(agent, pane.user_env, name);
        let mut own = crate::agents::state_paths(agent.kind, home, &user_var);
        // What runs code is judged where you keep it, not where teamster pointed this one.
        let runs_code = std::mem::take(&mut own.runs_code);
        own.merge(crate::agents::state_paths(agent.kind, home, &var));
        let others: Vec<PathBuf> = AgentKind::BUILT_IN
            .into_iter()
            .filter(|k| *k != agent.kind)
            .flat_map(|k| crate::agents::state_paths(k, home, &var).all().cloned().collect::<Vec<_>>())
            .collect();
        let sockets = self.hooks_dir.parent().unwrap_or(Path::new("/")).to_path_buf();
        let config_dir = self.config_path.parent().map_or_else(crate::paths::config_dir, Path::to_path_buf);
        let expand = |list: &[String]| list.iter().map(|p| crate::config::expand_home(p)).collect::<Vec<_>>();
        let mut hidden = crate::sandbox::secrets(home);
        hidden.extend([crate::paths::state_dir(), crate::paths::config_dir(), config_dir, sockets.clone()]);
        hidden.extend(expand(&s.hidden));
        // The agents' private homes the adapters made in the pane's directory are theirs
        // to write; the files teamster generated there are not (`read_only`).
        let homes = crate::sandbox::list_dir(pane.dir).into_iter().filter(|d| d.is_dir());
        let mut writable: Vec<PathBuf> =
            expand(&s.writable).into_iter().chain(expand(&agent.writable)).chain(homes).collect();
        // A worktree's commits go to its own git directory and to the repository's objects,
        // refs and logs; the repository's config and hooks stay out of reach.
        // Its git directory's own `commondir`, `gitdir` and `config.worktree` say where git
        // finds the config and hooks it runs, for your git as for the runner's: they are
        // judged as the repository's own are (`repos`), and bound read-only where they are.
        let mut repos = crate::sandbox::repo_roots(cwd);
        let mut git_own = Vec::new();
        if let Some((w, dir)) = pane.worktree.and_then(|w| w.checked_git_dir().ok().map(|d| (w, d))) {
            let common = w.repo.join(".git");
            git_own.extend(crate::sandbox::GIT_OWN.iter().map(|name| dir.join(name)));
            writable.extend([dir, common.join("objects"), common.join("refs"), common.join("logs")]);
            repos.push(w.repo.clone());
        }
        let readable: Vec<PathBuf> = expand(&s.readable).into_iter().chain(expand(&agent.readable)).collect();
        // The sandbox can only open up what exists: the agent's state is made first.
        for dir in &own.dirs {
            std::fs::create_dir_all(dir).map_err(|e| format!("cannot make {}: {e}", dir.display()))?;
        }
        let tmp = pane.dir.join("tmp");
        crate::paths::ensure_private_dir(&tmp)
            .map_err(|e| format!("cannot make the sandbox's temp directory {}: {e}", tmp.display()))?;
        let own: Vec<PathBuf> = own.all().cloned().collect();
        let skip: Vec<crate::sandbox::Feature> = missing.into_iter().filter(|f| s.run_without.contains(f)).collect();
        // Where the machine's and your programs keep their sockets: the sandbox gets empty
        // ones of its own.
        let mut empty = vec![PathBuf::from("/run"), sockets.clone()];
        empty.extend(std::env::var_os("XDG_RUNTIME_DIR").map(PathBuf::from).filter(|p| p.is_absolute()));
        let mut protect = crate::sandbox::protected_in(cwd, &agent.may_change);
        protect.extend(pane.generated.iter().cloned());
        protect.extend(runs_code);
        protect.extend(git_own);
        // Its TLS clients trust teamster's authority, for the hosts whose traffic the proxy
        // reads; the files are the runner's.
        let trust = match crate::meter::proxy::Meter::authority(self).and_then(|a| a.write_trust(pane.dir)) {
            Ok(t) => {
                protect.extend([t.own.clone(), t.bundle.clone()]);
                t.env()
            }
            Err(e) => {
                super::log(&format!("the sandbox of {} will not reach git hosts or registries: {e}", agent.name));
                Vec::new()
            }
        };
        let plan = crate::sandbox::plan(
            &crate::sandbox::Inputs {
                cwd,
                pane_dir: pane.dir,
                tmp: &tmp,
                own: &own,
                others: &others,
                hidden: &hidden,
                writable: &writable,
                readable: &readable,
                empty: &empty,
                protect: &protect,
                repos: &repos,
                hook_socket: pane.hook_socket,
                program: pane.program.as_deref(),
                port,
                skip: &skip,
            },
            &crate::sandbox::list_dir,
            &crate::sandbox::real_path,
        );
        let (ours, theirs) = UnixStream::pair().map_err(|e| format!("cannot make the sandbox's line: {e}"))?;
        Ok(Prepared { plan, tmp, ours, theirs, trust })
    }

    /// A write or connection the sandbox refused: the audit log, the pane's count in its
    /// title, and the sidebar's history. The same refusal again within a few seconds is
    /// counted once (a program retrying), and past `REFUSALS_PER_MINUTE` they are only
    /// counted.
    ///
    /// What the agent meets at every start and costs it nothing (`AgentAdapter::expected`,
    /// name lookups) is refused as anything is, but is not news: the runner's log says it,
    /// once a minute, and nothing counts it.
    pub(super) fn sandbox_refused(&self, pane: u32, what: &str, why: &str, subject: crate::sandbox::Subject) {
        let now = super::now_secs();
        let Some(p) = self.state.lock().panes.get(&pane).cloned() else { return };
        // Told from news before any lock a keystroke needs is taken.
        let (agent, env) = {
            let m = p.meta.lock();
            (m.agent, m.spec.env.clone())
        };
        let var = |k: &str| env.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        let expected = agent
            .is_some_and(|kind| crate::agents::adapter::expected(kind, &crate::paths::home(), &var, &subject))
            || subject.is_dns();
        if expected {
            let mut m = p.meta.lock();
            if !seen_within(&m.expected_refusals, what, now, 60) {
                m.expected_refusals.retain(|(_, t)| now.saturating_sub(*t) < 60);
                m.expected_refusals.push((what.to_string(), now));
                super::log(&format!("sandbox of pane {pane} refused {what} (expected of it: not counted)"));
            }
            return;
        }
        let record = {
            let mut st = self.state.lock();
            let mut m = p.meta.lock();
            m.recent_refusals.retain(|(_, t)| now.saturating_sub(*t) < 60);
            if seen_within(&m.recent_refusals, what, now, 5) {
                return;
            }
            m.refused += 1;
            // The title's count changed: redraw. The list stays short however many come.
            let session = st.sessions.get_mut(&p.session).map(|s| {
                s.touch();
                (s.name.clone(), s.place_of(pane).unwrap_or_default())
            });
            if m.recent_refusals.len() > REFUSALS_PER_MINUTE {
                return;
            }
            m.recent_refusals.push((what.to_string(), now));
            let n = m.recent_refusals.len();
            (n <= REFUSALS_PER_MINUTE).then(|| {
                let what = if n == REFUSALS_PER_MINUTE {
                    format!("{what} (and more: further refusals this minute are only counted in the title)")
                } else {
                    what.to_string()
                };
                (session.unwrap_or_default(), m.spec.key.clone(), m.spec.name.clone().unwrap_or_default(), what)
            })
        };
        let Some(((session, place), key, agent, what)) = record else { return };
        super::log(&format!("sandbox of pane {pane} refused {what}"));
        self.audit(DecisionRecord {
            ts: now,
            session,
            pane: key,
            place,
            agent,
            kind: crate::approval::ActionKind::Sandbox,
            what,
            verdict: crate::approval::Verdict::Deny,
            by: crate::approval::DecidedBy::Sandbox,
            rule: None,
            reason: Some(why.to_string()),
        });
    }
}

/// Whether `what` is among `list` (what, when) within the last `secs` seconds.
fn seen_within(list: &[(String, u64)], what: &str, now: u64, secs: u64) -> bool {
    list.iter().any(|(w, t)| w == what && now.saturating_sub(*t) < secs)
}

/// Sends the helper its plan, then serves the proxy listener it hands back and answers its
/// seccomp questions until every process in the sandbox is gone (then the listener goes
/// too). Runs on a thread of its own; `rt` runs the proxy.
fn watch(
    runner: Weak<Runner>,
    pane: u32,
    token: String,
    ours: UnixStream,
    plan: Plan,
    rt: tokio::runtime::Handle,
    watched: Watched,
) {
    use std::io::Write;
    let _ = ours.set_read_timeout(Some(std::time::Duration::from_secs(30)));
    let sent = serde_json::to_string(&plan).map(|p| (&ours).write_all(format!("{p}\n").as_bytes()));
    // The helper failed before it could report: it says why on the pane's screen.
    let Ok(Ok(())) = sent else { return };
    let Ok(handed) = crate::sandbox::enter::receive(&ours) else { return };
    let mut listener = None;
    if let (Some(fd), Some(r)) = (handed.listener, runner.upgrade()) {
        let std_listener = std::net::TcpListener::from(fd);
        let _guard = rt.enter();
        if std_listener.set_nonblocking(true).is_ok()
            && let Ok(l) = tokio::net::TcpListener::from_std(std_listener)
        {
            let origin = crate::meter::proxy::Origin::Sandbox { token };
            let task = rt.spawn(crate::meter::proxy::serve(l, r.clone(), origin, r.upstream.clone()));
            // The pane's end stops it; a pane that already ended cannot. A check's ends
            // with the check (below).
            match r.state.lock().panes.get(&pane) {
                Some(p) if watched == Watched::Pane => p.meta.lock().proxy_task = Some(task.abort_handle()),
                Some(_) => {}
                None => task.abort(),
            }
            listener = Some(task);
        }
    }
    if let Some(fd) = handed.seccomp {
        seccomp::supervise(fd, handed.maker, &plan, |refusal| {
            if let Some(r) = runner.upgrade() {
                let why = match &refusal {
                    seccomp::Refusal::Write(_) => {
                        "the sandbox lets agents write only their workspace, their own state and their temp directory"
                    }
                    seccomp::Refusal::Protected(_) => {
                        "git's config and hooks, editors' and agents' project settings are read-only to agents, there or not yet; `may_change` in the agent's config lets one change some"
                    }
                    seccomp::Refusal::Connect(_) | seccomp::Refusal::Socket(_) => {
                        "a sandboxed agent's only way out is teamster's proxy"
                    }
                };
                let subject = match &refusal {
                    seccomp::Refusal::Write(p) | seccomp::Refusal::Protected(p) => crate::sandbox::Subject::Path(p),
                    seccomp::Refusal::Connect(a) => crate::sandbox::Subject::Address(*a),
                    seccomp::Refusal::Socket(_) => crate::sandbox::Subject::Other,
                };
                r.sandbox_refused(pane, &refusal.describe(), why, subject);
            }
        });
        if let Some(task) = listener {
            task.abort();
        }
    }
}

/// What a watched sandbox holds: a pane's agent, or the check run on its work (whose
/// proxy ends with it and is not the pane's).
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Watched {
    Pane,
    Check,
}

/// Starts watching a pane's sandbox (the helper was started with `theirs`).
pub fn start_watch(runner: &Arc<Runner>, pane: u32, token: String, prepared: Prepared, watched: Watched) {
    let Prepared { plan, ours, theirs, .. } = prepared;
    drop(theirs);
    let (weak, rt) = (Arc::downgrade(runner), tokio::runtime::Handle::current());
    let spawned = std::thread::Builder::new()
        .name(format!("sandbox-{pane}"))
        .spawn(move || watch(weak, pane, token, ours, plan, rt, watched));
    if let Err(e) = spawned {
        super::log(&format!("cannot watch the sandbox of pane {pane}: {e}"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_become_placeholders_and_the_proxy_is_the_way_out() {
        let mut env = vec![
            ("ANTHROPIC_API_KEY".to_string(), "sk-ant-real".to_string()),
            ("PATH".to_string(), "/usr/bin".to_string()),
            ("HTTPS_PROXY".to_string(), "http://corp:3128".to_string()),
            ("GH_TOKEN".to_string(), "".to_string()),
            ("SSH_AUTH_SOCK".to_string(), "/tmp/ssh-x/agent.1".to_string()),
        ];
        let secrets = confine_env(&mut env, Path::new("/s/tmp"), 4100, &[]);
        assert_eq!(secrets, [("ANTHROPIC_API_KEY".to_string(), "sk-ant-real".to_string())]);
        let get = |k: &str| env.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        assert_eq!(get("ANTHROPIC_API_KEY"), Some("teamster-placeholder-ANTHROPIC_API_KEY"));
        assert_eq!(get("HTTPS_PROXY"), Some("http://127.0.0.1:4100"));
        assert_eq!(get("TMPDIR"), Some("/s/tmp"));
        assert_eq!(get("PATH"), Some("/usr/bin"));
        assert_eq!(get("SSH_AUTH_SOCK"), None);
        assert!(!env.iter().any(|(_, v)| v.contains("sk-ant-real")));
    }

    #[test]
    fn keys_go_only_with_their_providers_credentials() {
        assert!(credentials_of("anthropic").contains(&"ANTHROPIC_API_KEY"));
        assert!(!credentials_of("anthropic").contains(&"OPENAI_API_KEY"));
    }
}
