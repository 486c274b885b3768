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
}

pub(super) fn git(dir: &Path, args: &[&str]) -> Result<String, String> {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .output()
        .map_err(|e| format!("cannot run git ({e}); install git to use --worktree"))?;
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
    Ok(Worktree { repo, path, branch })
}

impl Worktree {
    /// True when nothing in the worktree is uncommitted (untracked files included).
    pub fn is_clean(&self) -> Result<bool, String> {
        git(&self.path, &["status", "--porcelain"]).map(|s| s.is_empty())
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
