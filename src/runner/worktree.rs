//! Git worktrees for agents: each agent that asks gets its own checkout, on its own
//! branch, under teamster's state directory, so several agents can work in one repository
//! without touching each other's files.

use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::process::Command;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Worktree {
    /// The repository's main checkout.
    pub repo: PathBuf,
    pub path: PathBuf,
    pub branch: String,
    /// The worktree's git directory, as git made it (in the repository's
    /// `.git/worktrees/`): git is pointed there, never where the worktree's `.git` file
    /// says, which the agent could have rewritten.
    #[serde(default)]
    pub git_dir: Option<PathBuf>,
}

/// How long the runner waits for git (a worktree of a large repository takes a while).
const GIT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(120);

/// Runs git in `dir`. Agents can write repositories' configuration: every git the runner
/// runs reads none of the user's global or system configuration, runs no hook and no
/// file-system monitor, asks no question, and is ended after `GIT_TIMEOUT`. Blocking:
/// never call it on the runtime's thread or under the state lock.
pub(super) fn git(dir: &Path, args: &[&str]) -> Result<String, String> {
    git_with(&["-C", &dir.to_string_lossy()], args)
}

fn git_with(place: &[&str], args: &[&str]) -> Result<String, String> {
    let child = Command::new("git")
        .args(["-c", "core.fsmonitor=false", "-c", "core.hooksPath=/dev/null", "-c", "core.untrackedCache=false"])
        .args(place)
        .args(args)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("GIT_OPTIONAL_LOCKS", "0")
        .env_remove("GIT_DIR")
        .env_remove("GIT_WORK_TREE")
        .env_remove("GIT_CONFIG_PARAMETERS")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run git ({e}); install git to use --worktree"))?;
    let pid = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    let out = match rx.recv_timeout(GIT_TIMEOUT) {
        Ok(out) => out.map_err(|e| format!("git failed: {e}"))?,
        Err(_) => {
            // SAFETY: kill has no memory effects; the child is ours and not yet reaped.
            unsafe { libc::kill(pid as i32, libc::SIGKILL) };
            return Err(format!("git did not finish in {} s (`git {}`)", GIT_TIMEOUT.as_secs(), args.join(" ")));
        }
    };
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).trim().to_string())
    }
}

fn branch_exists(repo: &Path, branch: &str) -> bool {
    git(repo, &["show-ref", "--verify", "--quiet", &format!("refs/heads/{branch}")]).is_ok()
}

/// A path segment safe in a directory name.
fn slug(s: &str) -> String {
    s.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '-' }).collect()
}

/// Adds a worktree of the repository around `cwd`, on `branch` (a new branch from HEAD;
/// an existing one is checked out as it is), or on `teamster/AGENT-N` when none is given.
pub fn create(cwd: &Path, branch: Option<&str>, agent: &str, root: &Path) -> Result<Worktree, String> {
    let repo = git(cwd, &["rev-parse", "--show-toplevel"])
        .map(PathBuf::from)
        .map_err(|_| format!("{} is not in a git repository; --worktree needs one", cwd.display()))?;
    let branch = match branch.filter(|b| !b.is_empty()) {
        Some(b) => b.to_string(),
        None => (1..)
            .map(|n| format!("teamster/{}-{n}", slug(agent)))
            .find(|b| !branch_exists(&repo, b))
            .unwrap_or_default(),
    };
    let name = repo.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "repo".into());
    let path = (0..)
        .map(|n| {
            root.join(if n == 0 {
                format!("{}-{}", slug(&name), slug(&branch))
            } else {
                format!("{}-{}-{n}", slug(&name), slug(&branch))
            })
        })
        .find(|p| !p.exists())
        .unwrap_or_default();
    std::fs::create_dir_all(root).map_err(|e| format!("cannot create {}: {e}", root.display()))?;
    let path_s = path.to_string_lossy().into_owned();
    let result = if branch_exists(&repo, &branch) {
        git(&repo, &["worktree", "add", &path_s, &branch])
    } else {
        git(&repo, &["worktree", "add", "-b", &branch, &path_s, "HEAD"])
    };
    result.map_err(|e| format!("git could not add a worktree for {branch}: {e}"))?;
    // Before any agent runs there: where git made its directory.
    let git_dir = git(&path, &["rev-parse", "--absolute-git-dir"]).ok().map(PathBuf::from);
    Ok(Worktree { repo, path, branch, git_dir })
}

impl Worktree {
    /// The worktree's git directory: the one recorded, else where git puts it. It must lie
    /// in the repository's own `.git/worktrees`.
    pub fn checked_git_dir(&self) -> Result<PathBuf, String> {
        let common = self.repo.join(".git/worktrees");
        let dir = self.git_dir.clone().unwrap_or_else(|| common.join(self.path.file_name().unwrap_or_default()));
        if dir.parent() != Some(common.as_path()) || !dir.is_dir() {
            return Err(format!(
                "the worktree {} has no git directory of its own in {}; check it by hand",
                self.path.display(),
                common.display()
            ));
        }
        Ok(dir)
    }

    /// True when nothing in the worktree is uncommitted (untracked files included). Git
    /// is pointed at the worktree's recorded git directory, not where its `.git` file says.
    pub fn is_clean(&self) -> Result<bool, String> {
        let git_dir = self.checked_git_dir()?;
        let (git_dir, work_tree) = (git_dir.to_string_lossy(), self.path.to_string_lossy());
        git_with(&["--git-dir", &git_dir, "--work-tree", &work_tree], &["status", "--porcelain"]).map(|s| s.is_empty())
    }

    /// Removes the worktree; refuses, saying why, if anything in it is uncommitted. The
    /// branch stays, with whatever the agent committed on it.
    pub fn remove(&self) -> Result<(), String> {
        if !self.is_clean()? {
            return Err(format!(
                "the worktree of {} has uncommitted changes; commit or stash them there ({}), or keep it",
                self.branch,
                self.path.display()
            ));
        }
        git(&self.repo, &["worktree", "remove", &self.path.to_string_lossy()]).map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repo() -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("teamster-wt-{}-{:?}", std::process::id(), std::thread::current().id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        for args in [&["init", "-q", "-b", "main"][..], &["config", "user.email", "t@t"], &["config", "user.name", "t"]]
        {
            git(&dir, args).unwrap();
        }
        std::fs::write(dir.join("a.txt"), "a").unwrap();
        git(&dir, &["add", "."]).unwrap();
        git(&dir, &["commit", "-qm", "first"]).unwrap();
        dir
    }

    #[test]
    fn worktrees_get_their_own_branch_and_are_removed_only_when_clean() {
        let repo = repo();
        let root = repo.join(".wt-root");
        let a = create(&repo.join("."), None, "claude", &root).unwrap();
        let b = create(&repo, None, "claude", &root).unwrap();
        assert_eq!((a.branch.as_str(), b.branch.as_str()), ("teamster/claude-1", "teamster/claude-2"));
        assert!(a.path.join("a.txt").exists());
        std::fs::write(a.path.join("new.txt"), "x").unwrap();
        let err = a.remove().unwrap_err();
        assert!(err.contains("uncommitted changes"), "{err}");
        assert!(a.path.exists());
        b.remove().unwrap();
        assert!(!b.path.exists());
        let named = create(&repo, Some("feature/x"), "codex", &root).unwrap();
        assert_eq!(named.branch, "feature/x");
        let err = create(&std::env::temp_dir(), None, "claude", &root).unwrap_err();
        assert!(err.contains("not in a git repository"), "{err}");
        std::fs::remove_dir_all(&repo).ok();
    }
}
