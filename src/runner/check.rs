//! The project's check (`[review] check`, say `cargo test`), run in a worktree pane's
//! worktree each time its agent goes idle after working. It runs what the agent wrote, so
//! it is confined as the agent is: a sandboxed agent's check runs in a sandbox of the same
//! plan (its own process, watched as the pane's is); an agent let out of the sandbox by
//! your config has its check run as it runs. What came of it shows in the compare view
//! (`teamster compare`), and all it printed is kept in the pane's `check.log`.

use super::*;
use crate::protocol::Check;

impl Runner {
    /// A worktree pane's agent finished a turn: its check runs, unless one runs already;
    /// then it runs again when that one ends, on the work as it is then.
    pub(super) fn run_check(self: &Arc<Self>, pane: PaneId) {
        let review = self.config().review;
        let Some(check) = review.check.filter(|c| !c.trim().is_empty()) else { return };
        let Some(p) = self.state.lock().panes.get(&pane).cloned() else { return };
        let how = {
            let mut m = p.meta.lock();
            let Some(worktree) = m.spec.worktree.clone() else { return };
            if m.check == Some(Check::Running) {
                m.check_again = true;
                return;
            }
            m.check = Some(Check::Running);
            Confine {
                plan: m.sandbox_plan.clone(),
                token: m.proxy_token.clone().unwrap_or_default(),
                dir: crate::paths::state_dir().join("panes").join(&m.spec.key),
                cwd: worktree.path,
                env: m.spec.env.clone(),
            }
        };
        self.touch_pane(pane);
        let runner = self.clone();
        let timeout = Duration::from_secs(review.check_timeout_secs.max(1));
        let meta = p.clone();
        let task = tokio::spawn(async move {
            let result = runner.check_once(pane, &check, how, timeout).await;
            let again = {
                let mut m = p.meta.lock();
                m.check = Some(result);
                m.check_task = None;
                std::mem::take(&mut m.check_again)
            };
            runner.touch_pane(pane);
            if again {
                runner.run_check(pane);
            }
        });
        meta.meta.lock().check_task = Some(task.abort_handle());
    }

    /// Runs the check once and says what came of it.
    async fn check_once(self: &Arc<Self>, pane: PaneId, check: &str, how: Confine, timeout: Duration) -> Check {
        let started = std::time::Instant::now();
        let log = how.dir.join("check.log");
        let tmp = how.dir.join("tmp");
        // Its files are made off the runtime's thread.
        let (dir, at, private, sandboxed) = (how.dir.clone(), log.clone(), tmp.clone(), how.plan.is_some());
        let made = tokio::task::spawn_blocking(move || prepare_files(&dir, &at, &private, sandboxed)).await;
        let (out, err) = match made {
            Ok(Ok(files)) => files,
            Ok(Err(why)) => return Check::NotRun { why },
            Err(e) => return Check::NotRun { why: format!("preparing the check failed: {e}") },
        };
        let exe = std::env::current_exe().unwrap_or_else(|_| PathBuf::from("teamster"));
        let mut argv: Vec<String> = vec!["/bin/sh".into(), "-c".into(), check.into()];
        let mut line = None;
        if let Some(plan) = &how.plan {
            match std::os::unix::net::UnixStream::pair() {
                Ok(pair) => line = Some((pair, (**plan).clone())),
                Err(e) => return Check::NotRun { why: format!("cannot make the sandbox's line: {e}") },
            }
            argv.splice(0..0, [exe.to_string_lossy().into_owned(), "sandbox-exec".into(), "--".into()]);
        }
        let mut cmd = tokio::process::Command::new(&argv[0]);
        cmd.args(&argv[1..]).current_dir(&how.cwd).env_clear().kill_on_drop(true);
        // What a test run needs of your environment, not the agent's placeholders nor
        // teamster's own variables.
        let keep = |k: &str| matches!(k, "PATH" | "LANG" | "LC_ALL" | "USER" | "LOGNAME" | "HOME" | "SHELL");
        let mut env: Vec<(String, String)> = how.env.iter().filter(|(k, _)| keep(k)).cloned().collect();
        env.extend([("CI".to_string(), "1".to_string()), ("TERM".to_string(), "dumb".to_string())]);
        // Sandboxed: its temp directory and its way out (the proxy), as the agent has them.
        if let Some((_, plan)) = &line {
            sandbox::confine_env(&mut env, &tmp, plan.port, &[]);
        }
        cmd.envs(env);
        cmd.stdin(std::process::Stdio::null()).stdout(out).stderr(err);
        let theirs = line.as_ref().map(|((_, theirs), _)| std::os::fd::AsRawFd::as_raw_fd(theirs));
        // SAFETY: between fork and exec only async-signal-safe calls are made.
        unsafe {
            cmd.pre_exec(move || {
                if let Some(fd) = theirs {
                    crate::sandbox::enter::place_line(fd)?;
                }
                // Its own process group, so a timeout stops all it started.
                if libc::setpgid(0, 0) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let mut child = match cmd.spawn() {
            Ok(c) => c,
            Err(e) => return Check::NotRun { why: format!("cannot start `{check}`: {e}") },
        };
        if let Some(((ours, theirs), plan)) = line {
            let prepared = sandbox::Prepared { plan, tmp, ours, theirs, trust: Vec::new() };
            sandbox::start_watch(self, pane, how.token, prepared, sandbox::Watched::Check);
        }
        let seconds = || started.elapsed().as_secs();
        match tokio::time::timeout(timeout, child.wait()).await {
            Ok(Ok(status)) if status.success() => Check::Passed { seconds: seconds() },
            Ok(Ok(status)) => {
                let last = tokio::task::spawn_blocking(move || last_line(&log)).await.unwrap_or_default();
                Check::Failed { code: status.code(), seconds: seconds(), last }
            }
            Ok(Err(e)) => Check::NotRun { why: format!("waiting for `{check}` failed: {e}") },
            Err(_) => {
                if let Some(pid) = child.id() {
                    // SAFETY: a signal to the process group we made for it.
                    unsafe { libc::kill(-(pid as i32), libc::SIGKILL) };
                }
                let _ = child.wait().await;
                Check::TimedOut { seconds: seconds() }
            }
        }
    }

    /// Clients redraw what they show of a pane (its compare row) on a change of its session.
    fn touch_pane(&self, pane: PaneId) {
        let mut st = self.state.lock();
        let session = st.panes.get(&pane).map(|p| p.session);
        if let Some(s) = session.and_then(|s| st.sessions.get_mut(&s)) {
            s.touch();
        }
    }
}

/// How a check is confined and where it runs.
struct Confine {
    /// The pane's sandbox plan, when its agent is sandboxed.
    plan: Option<Arc<crate::sandbox::Plan>>,
    /// The pane's proxy token: what the check's proxy is counted under.
    token: String,
    /// The pane's own directory in the state directory (its `check.log`, its temp).
    dir: PathBuf,
    cwd: PathBuf,
    env: Vec<(String, String)>,
}

/// The check's log (its output, both streams) and, for a sandboxed one, its private temp
/// directory. The log is made never through a link: the pane's directory holds what the
/// agent may write.
fn prepare_files(
    dir: &Path,
    log: &Path,
    tmp: &Path,
    sandboxed: bool,
) -> Result<(std::fs::File, std::fs::File), String> {
    use std::os::unix::fs::OpenOptionsExt;
    let cannot = |what: &Path, e: std::io::Error| format!("cannot write {}: {e}", what.display());
    std::fs::create_dir_all(dir).map_err(|e| cannot(dir, e))?;
    if sandboxed {
        crate::paths::ensure_private_dir(tmp).map_err(|e| cannot(tmp, e))?;
    }
    let out = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW)
        .open(log)
        .map_err(|e| cannot(log, e))?;
    let err = out.try_clone().map_err(|e| cannot(log, e))?;
    Ok((out, err))
}

/// The last line with something on it, at most 200 characters of it, shown as text.
fn last_line(log: &Path) -> String {
    let text = crate::nofollow::read(log, 64 << 20).unwrap_or_default();
    let tail = &text[text.len().saturating_sub(4096)..];
    let tail = String::from_utf8_lossy(tail);
    let line = tail.lines().map(str::trim).rfind(|l| !l.is_empty()).unwrap_or("");
    crate::text::visible(&line.chars().take(200).collect::<String>()).into_owned()
}
