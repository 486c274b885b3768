//! Git worktrees for agents: each agent that asks gets its own checkout, on its own
//! branch, beside the repository (`[worktree] dir`), so several agents can work in one
//! repository without touching each other's files.

use crate::config::WorktreeConfig;
pub use crate::protocol::MergeHow;
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
    /// The commit its branch started from, or, for a branch that was there already, where
    /// it left the main checkout's: what its changes are counted against.
    #[serde(default)]
    pub base: Option<String>,
    /// The branch it is to be merged into: the one it started from by name, else what the
    /// main checkout had checked out when it was made.
    #[serde(default)]
    pub base_branch: Option<String>,
}

/// What a worktree changed against its base.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Changes {
    pub files: u32,
    pub added: u64,
    pub removed: u64,
}

/// How long the runner waits for git (a worktree of a large repository takes a while).
const GIT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(120);

/// Runs git in `dir`. Agents can write repositories' configuration: every git the runner
/// runs reads none of the user's global or system configuration, runs no hook and no
/// file-system monitor, asks no question, and is ended after `GIT_TIMEOUT`. Blocking:
/// never call it on the runtime's thread or under the state lock.
pub(crate) fn git(dir: &Path, args: &[&str]) -> Result<String, String> {
    git_with(&["-C", &dir.to_string_lossy()], None, args)
}

/// `git`, at `place`; `common` names the repository's git directory where git would
/// otherwise read it from a file an agent could have written (a worktree's `commondir`).
fn git_with(place: &[&str], common: Option<&Path>, args: &[&str]) -> Result<String, String> {
    let mut command = Command::new("git");
    if let Some(common) = common {
        command.env("GIT_COMMON_DIR", common);
    } else {
        command.env_remove("GIT_COMMON_DIR");
    }
    let child = command
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

/// Your git identity (name, email) from your global git config: who a merge is signed
/// by. Asked of your config alone, never a repository's, which an agent could have written.
pub fn your_identity() -> Option<(String, String)> {
    let ask = |key: &str| {
        std::process::Command::new("git")
            .args(["config", "--global", "--get", key])
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
            .filter(|v| !v.is_empty())
    };
    ask("user.name").zip(ask("user.email"))
}

/// Where worktrees go (`[worktree] dir`) for the repository `repo`: `{repo}` is its name,
/// `~` your home, and a relative directory is taken from the repository.
pub fn root_for(repo: &Path, dir: &str) -> PathBuf {
    let name = repo.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "repo".into());
    let dir = crate::config::expand_home(&dir.replace("{repo}", &slug(&name)));
    let dir = if dir.is_absolute() { dir } else { repo.join(dir) };
    crate::paths::normalize(&dir)
}

/// Adds a worktree of the repository around `cwd`, on `branch` (an existing branch is
/// checked out as it is; a new one starts from `[worktree] base`, else from what the main
/// checkout has), or on `teamster/AGENT-N` when none is given; in `[worktree] dir`, one
/// directory per branch. Then copies in the untracked files `[worktree] copy` names.
pub fn create(cwd: &Path, branch: Option<&str>, agent: &str, config: &WorktreeConfig) -> Result<Worktree, String> {
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
    let root = root_for(&repo, &config.dir);
    let existing = branch_exists(&repo, &branch);
    // What its changes are counted against: where an existing branch left the main
    // checkout's, else the commit a new one starts from (which must be there).
    let start = config.base.as_deref().filter(|b| !b.is_empty()).unwrap_or("HEAD");
    let base = match existing {
        true => git(&repo, &["merge-base", "HEAD", &branch]).ok(),
        false => {
            Some(git(&repo, &["rev-parse", "--verify", "--quiet", &format!("{start}^{{commit}}")]).map_err(|_| {
                format!(
                    "no branch or commit `{start}` in {} to start {branch} from ([worktree] base, --base)",
                    repo.display()
                )
            })?)
        }
    };
    let checked_out = git(&repo, &["symbolic-ref", "--quiet", "--short", "HEAD"]).ok();
    let base_branch = match config.base.as_deref().filter(|b| !b.is_empty() && !existing) {
        Some(b) if branch_exists(&repo, b) => Some(b.to_string()),
        _ => checked_out,
    };
    // A name nothing is at, not even a symlink (git would make the worktree where it leads).
    let path = (0..)
        .map(|n| root.join(if n == 0 { slug(&branch) } else { format!("{}-{n}", slug(&branch)) }))
        .find(|p| p.symlink_metadata().is_err())
        .unwrap_or_default();
    // Worktrees kept inside the repository are where its agents write: the way there is
    // made following no symlink one of them could have planted.
    let made = match root.starts_with(&repo) {
        true => crate::nofollow::open_dir(&repo, &root).map(drop),
        false => std::fs::create_dir_all(&root),
    };
    made.map_err(|e| format!("cannot create {} ([worktree] dir): {e}", root.display()))?;
    let path_s = path.to_string_lossy().into_owned();
    let result = if existing {
        git(&repo, &["worktree", "add", &path_s, &branch])
    } else {
        git(&repo, &["worktree", "add", "-b", &branch, &path_s, start])
    };
    result.map_err(|e| format!("git could not add a worktree for {branch}: {e}"))?;
    // Before any agent runs there: where git made its directory.
    let git_dir = git(&path, &["rev-parse", "--absolute-git-dir"]).ok().map(PathBuf::from);
    let worktree = Worktree { repo, path, branch, git_dir, base, base_branch };
    worktree.copy_in(&config.copy);
    Ok(worktree)
}

/// The most a copied file may hold.
const COPY_MAX: u64 = 16 << 20;

/// A branch as a fork takes it: its name and the commit it starts from.
pub type BranchAt = (String, String);

impl Worktree {
    /// The branch's committed work since its base, as a git bundle (none when it has no
    /// commit of its own), with its name and base: what `teamster fork` carries. Blocking.
    pub fn bundle(&self) -> Result<(BranchAt, Option<Vec<u8>>), String> {
        let tip = git(&self.repo, &["rev-parse", "--verify", &format!("refs/heads/{}^{{commit}}", self.branch)])
            .map_err(|e| format!("the branch {} is gone: {e}", self.branch))?;
        let base = match &self.base {
            Some(b) => b.clone(),
            None => git(&self.repo, &["merge-base", "HEAD", &tip])?,
        };
        let at = (self.branch.clone(), base.clone());
        if tip == base {
            return Ok((at, None));
        }
        // Made in the runner's own state directory, read, and removed.
        let file =
            crate::paths::fork_scratch("bundle").map_err(|e| format!("cannot make a place for the bundle: {e}"))?;
        let name = file.to_string_lossy().into_owned();
        let made =
            git(&self.repo, &["bundle", "create", &name, &format!("refs/heads/{}", self.branch), &format!("^{base}")]);
        let bytes = made.and_then(|_| {
            crate::nofollow::read(&file, crate::protocol::FORK_MAX as u64 + 1).map_err(|e| e.to_string())
        });
        let _ = std::fs::remove_file(&file);
        Ok((at, Some(bytes.map_err(|e| format!("git could not bundle {}: {e}", self.branch))?)))
    }

    /// Copies the main checkout's files matching `globs` (regular files, read through no
    /// symlink) into the worktree where it has none: a file there, or a symlink its branch
    /// holds, is left as it is and never written through.
    fn copy_in(&self, globs: &[String]) {
        for glob in globs {
            for found in matching(&self.repo, glob) {
                let Ok(rel) = found.strip_prefix(&self.repo) else { continue };
                let Ok(bytes) = crate::nofollow::read(&found, COPY_MAX) else { continue };
                let _ = crate::nofollow::write_new(&self.path, &self.path.join(rel), &bytes);
            }
        }
    }
}

/// The files beneath `root` matching `glob` (`*` and `?` within a name, `/` between
/// names), never inside `.git` and never through a symlink.
fn matching(root: &Path, glob: &str) -> Vec<PathBuf> {
    let parts: Vec<&str> = glob.split('/').filter(|p| !p.is_empty() && *p != ".").collect();
    let mut found = vec![root.to_path_buf()];
    for (n, part) in parts.iter().enumerate() {
        let last = n + 1 == parts.len();
        let mut next = Vec::new();
        for dir in &found {
            let Ok(entries) = std::fs::read_dir(dir) else { continue };
            for entry in entries.flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                let Ok(kind) = entry.file_type() else { continue };
                let wanted = if last { kind.is_file() } else { kind.is_dir() };
                if wanted && name != ".git" && part != &".." && name_matches(part, &name) {
                    next.push(entry.path());
                }
            }
        }
        found = next;
    }
    if parts.is_empty() { Vec::new() } else { found }
}

/// Does `name` match `pattern`, where `*` is any run of characters and `?` any one?
fn name_matches(pattern: &str, name: &str) -> bool {
    let (p, n): (Vec<char>, Vec<char>) = (pattern.chars().collect(), name.chars().collect());
    // The classic two-pointer wildcard match, backtracking to the last `*`.
    let (mut i, mut j, mut star, mut from) = (0, 0, None, 0);
    while j < n.len() {
        if i < p.len() && (p[i] == '?' || p[i] == n[j]) {
            i += 1;
            j += 1;
        } else if i < p.len() && p[i] == '*' {
            star = Some(i);
            from = j;
            i += 1;
        } else if let Some(s) = star {
            i = s + 1;
            from += 1;
            j = from;
        } else {
            return false;
        }
    }
    p[i..].iter().all(|c| *c == '*')
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

    /// Runs git on the worktree through its recorded git directory (`checked_git_dir`),
    /// as every git the runner runs, and the repository's own: never where the worktree's
    /// `commondir` (the agent's to write, from inside a worktree pane) says it is.
    fn git_here(&self, args: &[&str]) -> Result<String, String> {
        let git_dir = self.checked_git_dir()?;
        let (git_dir, work_tree) = (git_dir.to_string_lossy(), self.path.to_string_lossy());
        git_with(&["--git-dir", &git_dir, "--work-tree", &work_tree], Some(&self.repo.join(".git")), args)
    }

    /// The commit its changes are counted against.
    fn base_commit(&self) -> Result<&str, String> {
        self.base.as_deref().ok_or_else(|| format!("the worktree of {} has no base recorded", self.branch))
    }

    /// Files git does not track yet (nor ignores), by their paths in the worktree.
    fn untracked(&self) -> Result<Vec<String>, String> {
        let listed = self.git_here(&["ls-files", "--others", "--exclude-standard", "-z"])?;
        Ok(listed.split('\0').filter(|n| !n.is_empty()).map(str::to_string).collect())
    }

    /// Files changed and lines added and removed since its base, committed or not (files
    /// git does not track yet included, their lines counted as added). Git runs as every
    /// git the runner runs, without diff drivers or text conversions the repository names.
    pub fn changes(&self) -> Result<Changes, String> {
        let numstat = self.git_here(&[
            "diff",
            "--numstat",
            "--no-ext-diff",
            "--no-textconv",
            "--no-renames",
            self.base_commit()?,
        ])?;
        let mut changes = Changes::default();
        for line in numstat.lines() {
            let mut cols = line.split('\t');
            let (Some(added), Some(removed)) = (cols.next(), cols.next()) else { continue };
            changes.files += 1;
            // Binary files show `-`: a changed file, no lines.
            changes.added += added.parse::<u64>().unwrap_or(0);
            changes.removed += removed.parse::<u64>().unwrap_or(0);
        }
        for name in self.untracked()? {
            changes.files += 1;
            let lines = crate::nofollow::read(&self.path.join(&name), COPY_MAX)
                .map(|b| b.iter().filter(|&&c| c == b'\n').count());
            changes.added += lines.unwrap_or(0) as u64;
        }
        Ok(changes)
    }

    /// Puts the branch's committed work onto its base branch in the main checkout, which
    /// must have that branch checked out and nothing uncommitted; the worktree must have
    /// nothing uncommitted either (it is not merged). A conflict is shown (the files) and
    /// undone, never resolved. `who` signs a squash or merge commit (name, email).
    pub fn merge(&self, how: MergeHow, who: Option<(String, String)>) -> Result<String, String> {
        let base = self.leaving("merged")?;
        let on = git(&self.repo, &["symbolic-ref", "--quiet", "--short", "HEAD"]).unwrap_or_default();
        if on != base {
            return Err(format!(
                "the main checkout ({}) has {} checked out, not {base}: check out {base} there first",
                self.repo.display(),
                if on.is_empty() { "no branch".to_string() } else { on }
            ));
        }
        if !git(&self.repo, &["status", "--porcelain", "--untracked-files=no"])?.is_empty() {
            return Err(format!(
                "the main checkout ({}) has uncommitted changes; commit or stash them first",
                self.repo.display()
            ));
        }
        let ahead = git(&self.repo, &["rev-list", "--count", &format!("{base}..{}", self.branch)])?;
        if ahead == "0" {
            return Ok(format!("{} has no commits that {base} lacks: merged already", self.branch));
        }
        let (name, email) = who.unwrap_or_else(|| ("teamster".into(), "teamster@localhost".into()));
        let sign = ["-c".to_string(), format!("user.name={name}"), "-c".into(), format!("user.email={email}")];
        let message = format!("Merge {} ({})", self.branch, how.words());
        let args: Vec<String> = match how {
            MergeHow::FastForward => vec!["merge".into(), "--ff-only".into(), self.branch.clone()],
            MergeHow::Squash => vec!["merge".into(), "--squash".into(), self.branch.clone()],
            MergeHow::MergeCommit => {
                vec!["merge".into(), "--no-ff".into(), "-m".into(), message.clone(), self.branch.clone()]
            }
            MergeHow::PullRequest => return Err("a pull request is not merged here (`pull_request`)".into()),
        };
        let repo = ["-C".to_string(), self.repo.to_string_lossy().into_owned()];
        let run = |args: &[String]| {
            let all: Vec<&str> = sign.iter().chain(&repo).chain(args).map(String::as_str).collect();
            git_with(&[], None, &all)
        };
        if let Err(e) = run(&args) {
            // A conflict: say where, and leave the main checkout as it was.
            let conflicts = git(&self.repo, &["diff", "--name-only", "--diff-filter=U"]).unwrap_or_default();
            let _ = git(&self.repo, &["merge", "--abort"]);
            let _ = git(&self.repo, &["reset", "--merge"]);
            return Err(match (how, conflicts.is_empty()) {
                (MergeHow::FastForward, _) => format!(
                    "{base} has moved on since {} started: it cannot fast-forward; merge with a commit (--merge-commit) or squash (--squash). git said: {e}",
                    self.branch
                ),
                (_, false) => format!(
                    "{} conflicts with {base} in: {}; nothing was merged (resolve it by hand, or ask the agent to rebase on {base})",
                    self.branch,
                    conflicts.lines().collect::<Vec<_>>().join(", ")
                ),
                (_, true) => format!("git could not merge {} into {base}: {e}", self.branch),
            });
        }
        if how == MergeHow::Squash {
            run(&["commit".into(), "-q".into(), "-m".into(), message])?;
        }
        let head = git(&self.repo, &["rev-parse", "--short", "HEAD"])?;
        Ok(format!("merged {} into {base} ({}): {base} is at {head}", self.branch, how.words()))
    }

    /// The base branch the work goes to, once nothing in the worktree is uncommitted (only
    /// commits are `done`: merged, pushed).
    fn leaving(&self, done: &str) -> Result<String, String> {
        let base = self.base_branch.clone().ok_or_else(|| {
            format!("the worktree of {} has no base branch recorded; do it by hand with git", self.branch)
        })?;
        if !self.is_clean()? {
            return Err(format!(
                "{} has uncommitted work in its worktree ({}); commit it there first (only commits are {done})",
                self.branch,
                self.path.display()
            ));
        }
        Ok(base)
    }

    /// Pushes the branch to `remote` and opens a pull request against its base with `gh`;
    /// answers with what gh printed (the request's address). The worktree must have
    /// nothing uncommitted and the branch commits its base lacks. Git pushes from the main
    /// checkout with your own git config (your credentials), which agents cannot write;
    /// the repository's hooks are not run.
    pub fn pull_request(&self, remote: &str, gh: &Path) -> Result<String, String> {
        let base = self.leaving("pushed")?;
        let ahead = git(&self.repo, &["rev-list", "--count", &format!("{base}..{}", self.branch)])?;
        if ahead == "0" {
            return Err(format!("{} has no commits that {base} lacks: nothing to propose", self.branch));
        }
        let run = |program: &Path, args: &[&str]| -> Result<String, String> {
            let out = Command::new(program)
                .args(args)
                .current_dir(&self.repo)
                .env("GIT_TERMINAL_PROMPT", "0")
                .env("GH_PROMPT_DISABLED", "1")
                .stdin(std::process::Stdio::null())
                .output()
                .map_err(|e| format!("cannot run {}: {e}", program.display()))?;
            let said = |b: &[u8]| crate::text::visible_lines(String::from_utf8_lossy(b).trim()).into_owned();
            match out.status.success() {
                true => Ok(said(&out.stdout)),
                false => Err(format!("{} {} failed: {}", program.display(), args.join(" "), said(&out.stderr))),
            }
        };
        let repo = self.repo.to_string_lossy();
        run(
            Path::new("git"),
            &["-c", "core.hooksPath=/dev/null", "-C", &repo, "push", "--set-upstream", remote, &self.branch],
        )?;
        let title = format!("{} (from teamster)", self.branch);
        let body = format!("The work of the agent on branch `{}`, proposed for `{base}` from teamster.", self.branch);
        let made =
            run(gh, &["pr", "create", "--base", &base, "--head", &self.branch, "--title", &title, "--body", &body])?;
        Ok(format!("pushed {} to {remote} and opened a pull request against {base}: {made}", self.branch))
    }

    /// The branch's work against its base as a unified diff: what is committed and what is
    /// not, files git does not track yet as new files. Git runs as in `changes`.
    pub fn diff(&self) -> Result<String, String> {
        let mut out = self.git_here(&["diff", "--no-ext-diff", "--no-textconv", "--no-color", self.base_commit()?])?;
        // Files git does not track yet: new files, as git would show them once added.
        for name in self.untracked()? {
            let Ok(bytes) = crate::nofollow::read(&self.path.join(&name), COPY_MAX) else { continue };
            let text = String::from_utf8_lossy(&bytes);
            let lines: Vec<&str> = text.lines().collect();
            if !out.is_empty() && !out.ends_with('\n') {
                out.push('\n');
            }
            out.push_str(&format!("diff --git a/{name} b/{name}\nnew file\n--- /dev/null\n+++ b/{name}\n"));
            out.push_str(&format!("@@ -0,0 +1,{} @@\n", lines.len()));
            for line in lines {
                out.push('+');
                out.push_str(line);
                out.push('\n');
            }
        }
        Ok(out)
    }

    /// True when nothing in the worktree is uncommitted (untracked files included). Git
    /// is pointed at the worktree's recorded git directory, not where its `.git` file says.
    pub fn is_clean(&self) -> Result<bool, String> {
        self.git_here(&["status", "--porcelain"]).map(|s| s.is_empty())
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
        let config = WorktreeConfig { dir: ".wt-root".into(), ..Default::default() };
        let a = create(&repo.join("."), None, "claude", &config).unwrap();
        let b = create(&repo, None, "claude", &config).unwrap();
        assert_eq!((a.branch.as_str(), b.branch.as_str()), ("teamster/claude-1", "teamster/claude-2"));
        assert!(a.path.join("a.txt").exists());
        std::fs::write(a.path.join("new.txt"), "x").unwrap();
        let err = a.remove().unwrap_err();
        assert!(err.contains("uncommitted changes"), "{err}");
        assert!(a.path.exists());
        b.remove().unwrap();
        assert!(!b.path.exists());
        let named = create(&repo, Some("feature/x"), "codex", &config).unwrap();
        assert_eq!(named.branch, "feature/x");
        let err = create(&std::env::temp_dir(), None, "claude", &config).unwrap_err();
        assert!(err.contains("not in a git repository"), "{err}");
        std::fs::remove_dir_all(&repo).ok();
    }

    #[test]
    fn worktrees_go_beside_the_repository_from_a_base_with_the_files_asked_for() {
        let repo = repo();
        git(&repo, &["checkout", "-qb", "develop"]).unwrap();
        std::fs::write(repo.join("dev.txt"), "d").unwrap();
        git(&repo, &["add", "."]).unwrap();
        git(&repo, &["commit", "-qm", "on develop"]).unwrap();
        git(&repo, &["checkout", "-q", "main"]).unwrap();
        // Untracked files the worktree needs; a symlink among them is never followed.
        std::fs::write(repo.join(".env"), "KEY=1").unwrap();
        std::fs::write(repo.join(".env.local"), "LOCAL=1").unwrap();
        std::fs::create_dir_all(repo.join("config")).unwrap();
        std::fs::write(repo.join("config/app.local.json"), "{}").unwrap();
        std::os::unix::fs::symlink("/etc/hostname", repo.join(".env.link")).unwrap();
        let config = WorktreeConfig {
            base: Some("develop".into()),
            copy: vec![".env*".into(), "config/*.local.json".into()],
            ..Default::default()
        };
        let w = create(&repo, Some("feature"), "claude", &config).unwrap();
        let name = slug(&repo.file_name().unwrap().to_string_lossy());
        assert_eq!(w.path, repo.parent().unwrap().join(format!("{name}.worktrees/feature")));
        assert!(w.path.join("dev.txt").exists(), "started from the base branch");
        assert_eq!(std::fs::read_to_string(w.path.join(".env")).unwrap(), "KEY=1");
        assert_eq!(std::fs::read_to_string(w.path.join(".env.local")).unwrap(), "LOCAL=1");
        assert!(w.path.join("config/app.local.json").exists());
        assert!(w.path.join(".env.link").symlink_metadata().is_err(), "a symlink is not copied");
        // An existing branch is taken as it is; a base that is not there is an error.
        git(&repo, &["branch", "old"]).unwrap();
        let old = create(&repo, Some("old"), "claude", &WorktreeConfig::default()).unwrap();
        assert!(!old.path.join("dev.txt").exists());
        let bad = WorktreeConfig { base: Some("nope".into()), ..Default::default() };
        let err = create(&repo, Some("x"), "claude", &bad).unwrap_err();
        assert!(err.contains("no branch or commit `nope`"), "{err}");
        std::fs::remove_dir_all(repo.parent().unwrap().join(format!("{name}.worktrees"))).ok();
        std::fs::remove_dir_all(&repo).ok();
    }

    #[test]
    fn names_match_as_shells_match_them() {
        for (p, n, m) in [
            (".env*", ".env", true),
            (".env*", ".env.local", true),
            ("*.json", "a.json", true),
            ("*.json", "a.json5", false),
            ("?.txt", "a.txt", true),
            ("?.txt", "ab.txt", false),
            ("a*b*c", "axxbyyc", true),
            ("a*b*c", "axxbyy", false),
            ("*", "", true),
        ] {
            assert_eq!(name_matches(p, n), m, "{p} {n}");
        }
    }
}
