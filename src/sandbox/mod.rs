//! The sandbox every agent runs in: what it may read and write, its only way out (the
//! runner's proxy), and the secrets kept outside it.
//!
//! The runner works out a `Plan` for each agent pane (pure: paths in, paths out). The pane's
//! program is then `teamster sandbox-exec -- AGENT…` (`enter.rs`), which reads the plan,
//! confines itself and becomes the agent: new user, network and mount namespaces (only a
//! loopback with the proxy's port on it; the runner's sockets covered, its own terminals),
//! a seccomp filter that shows the runner every write and connection it should refuse
//! (`seccomp.rs`, so a denial is an event, not only an error the agent may hide, and the
//! only Unix socket it reaches is the hook socket), and Landlock for the files.
//! docs/sandbox.md says it for users.

pub mod enter;
pub mod maker;
pub mod seccomp;

use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// A protection the kernel may lack.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Feature {
    /// Landlock: which files the agent may read and write.
    Landlock,
    /// User, network and mount namespaces: the agent's only way out is the proxy, and the
    /// runner's sockets are out of its sight.
    Namespaces,
    /// Seccomp user notification: refused writes and connections reported as they happen.
    Seccomp,
}

impl Feature {
    pub const ALL: [Feature; 3] = [Feature::Landlock, Feature::Namespaces, Feature::Seccomp];

    pub fn name(self) -> &'static str {
        match self {
            Feature::Landlock => "landlock",
            Feature::Namespaces => "namespaces",
            Feature::Seccomp => "seccomp",
        }
    }

    /// What an agent can do when the feature is missing.
    pub fn loss(self) -> &'static str {
        match self {
            Feature::Landlock => "the agent could read your secrets and write anywhere you can",
            Feature::Namespaces => {
                "the agent could connect anywhere directly, past the proxy, and reach teamster's control socket"
            }
            Feature::Seccomp => {
                "the agent could connect to any Unix socket you can reach (a session bus, an SSH agent), and refused writes and connections would go unreported"
            }
        }
    }
}

/// `[sandbox]` in the config.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct SandboxConfig {
    /// Hosts (besides the LLM providers, which go through the metering proxy) agents may
    /// reach through the proxy, by `HTTPS_PROXY`. `*.example.com` matches subdomains.
    pub allow_hosts: Vec<String>,
    /// Git hosts whose HTTPS traffic the proxy reads, so that policies judge pushes
    /// (`on = "push"`): it ends the agents' TLS with teamster's own authority, which only
    /// sandboxes trust. `host` (port 443) or `host:port`; agents reach them only if
    /// `allow_hosts` lets them.
    pub git_hosts: Vec<String>,
    /// Package registries of your own, besides the public ones teamster knows (npm, PyPI,
    /// crates.io, Debian, the Go proxy, RubyGems), whose downloads policies judge
    /// (`on = "download"`), read the same way.
    pub registries: Vec<String>,
    /// Hosts agents may reach over SSH (with `host:22` in `allow_hosts`); every such
    /// connection counts as a possible push. None by default: git over SSH is refused.
    pub ssh_hosts: Vec<String>,
    /// More paths every agent may write (`~` is your home).
    pub writable: Vec<String>,
    /// More paths every agent may read, though they would be hidden.
    pub readable: Vec<String>,
    /// More paths no agent may read (besides ~/.ssh, ~/.aws, ~/.config/gh and the like).
    pub hidden: Vec<String>,
    /// Protections you accept running agents without, when the kernel lacks them:
    /// landlock, namespaces, seccomp. Without this, such an agent does not start.
    pub run_without: Vec<Feature>,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        SandboxConfig {
            allow_hosts: [
                "registry.npmjs.org",
                "github.com",
                "codeload.github.com",
                "objects.githubusercontent.com",
                "pypi.org",
                "files.pythonhosted.org",
                "crates.io",
                "static.crates.io",
                "index.crates.io",
            ]
            .map(String::from)
            .to_vec(),
            git_hosts: ["github.com", "gitlab.com", "bitbucket.org"].map(String::from).to_vec(),
            registries: Vec::new(),
            ssh_hosts: Vec::new(),
            writable: Vec::new(),
            readable: Vec::new(),
            hidden: Vec::new(),
            run_without: Vec::new(),
        }
    }
}

/// What a refusal was about: the path, the address, or the host through the proxy. An
/// agent's adapter tells by it the refusals it meets at every start and that cost it
/// nothing (`AgentAdapter::expected`) from those that are news.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Subject<'a> {
    Path(&'a Path),
    Address(std::net::SocketAddr),
    Host(&'a str, u16),
    Other,
}

impl Subject<'_> {
    /// A name lookup: the sandbox answers none (agents reach hosts by name through the
    /// proxy), and programs try one anyway.
    pub fn is_dns(&self) -> bool {
        matches!(self, Subject::Address(a) if a.port() == 53)
    }

    /// Through the proxy to `host` or one of `hosts` (`*.example.com` for subdomains).
    pub fn is_host_among(&self, hosts: &[&str]) -> bool {
        let Subject::Host(host, _) = self else { return false };
        let host = host.to_ascii_lowercase();
        hosts.iter().any(|h| match h.strip_prefix("*.") {
            Some(domain) => host == domain || host.ends_with(&format!(".{domain}")),
            None => host == *h,
        })
    }

    /// A path beneath one of `dirs`.
    pub fn is_beneath(&self, dirs: &[PathBuf]) -> bool {
        matches!(self, Subject::Path(p) if dirs.iter().any(|d| p.starts_with(d)))
    }
}

/// `sandbox = "on" | "off"` of an agent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    #[default]
    On,
    Off,
}

/// Secrets under the home directory that no agent reads.
const SECRETS: [&str; 14] = [
    ".ssh",
    ".aws",
    ".gnupg",
    ".config/gh",
    ".config/gcloud",
    ".azure",
    ".kube",
    ".docker",
    ".netrc",
    ".git-credentials",
    ".password-store",
    ".npmrc",
    ".pypirc",
    ".cargo/credentials.toml",
];

/// Devices an agent writes as any program does. `/dev/pts` and `/dev/shm` are the
/// sandbox's own (a fresh devpts instance and tmpfs), not the machine's.
const DEVICES: [&str; 9] = [
    "/dev/null",
    "/dev/zero",
    "/dev/full",
    "/dev/random",
    "/dev/urandom",
    "/dev/tty",
    "/dev/ptmx",
    "/dev/pts",
    "/dev/shm",
];

/// What the sandbox lets one agent do: sent to `teamster sandbox-exec`, and kept by the
/// runner to judge the writes and connections it is asked about.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    /// May read and write beneath these.
    pub write: Vec<PathBuf>,
    /// May read (and run) beneath these.
    pub read: Vec<PathBuf>,
    /// Covered by an empty, read-only directory of the sandbox's own (a fresh tmpfs): the
    /// places of the machine's and the user's sockets (`/run`, the runtime directory,
    /// teamster's sockets). Sockets elsewhere (`/tmp`) have paths the agent sees, and the
    /// runner, which makes every connection, refuses them.
    pub cover: Vec<PathBuf>,
    /// Put back inside the covers, where they were: the workspace, the pane's own
    /// directories and the hook socket, when they lie beneath a cover.
    pub keep: Vec<PathBuf>,
    /// Read-only though beneath what the agent may write: the files that make your tools
    /// (git, editors, the agents) run code, whether they are there yet or not, and the
    /// settings teamster generated for the pane. Those there are bound read-only in the
    /// sandbox, so neither writing nor replacing them works; those not there yet the
    /// sandbox's maker never makes (`maker`), nor anything on the way to one but a
    /// directory.
    pub read_only: Vec<PathBuf>,
    /// The workspace and the repository around it (resolved): beneath them, what makes
    /// git run code is the agent's nowhere, whatever git directory it is in (`git_owns`).
    pub repos: Vec<PathBuf>,
    /// The one Unix socket of the runner's the agent may connect to: its pane's own.
    pub hook_socket: PathBuf,
    /// The proxy's port on the sandbox's loopback.
    pub port: u16,
    /// Protections this kernel lacks that the user accepted running without: the helper
    /// does without them (the runner refuses to start when one is missing and not accepted).
    pub skip: Vec<Feature>,
}

/// What a plan is made from: paths, already expanded (`~` and all).
pub struct Inputs<'a> {
    /// The workspace (or worktree).
    pub cwd: &'a Path,
    /// The pane's private directory in teamster's state (the settings teamster generated
    /// for it): readable, not writable.
    pub pane_dir: &'a Path,
    /// The pane's temp directory (writable).
    pub tmp: &'a Path,
    /// The agent's own state (writable), and every other agent's (hidden).
    pub own: &'a [PathBuf],
    pub others: &'a [PathBuf],
    /// The user's secrets, and teamster's own directories: hidden.
    pub hidden: &'a [PathBuf],
    /// More paths to write, and to read though hidden, from the config.
    pub writable: &'a [PathBuf],
    pub readable: &'a [PathBuf],
    /// Covered by nothing (`/run`, the runtime directory, teamster's sockets).
    pub empty: &'a [PathBuf],
    /// Read-only beneath what is writable (see `Plan::read_only`).
    pub protect: &'a [PathBuf],
    /// The workspace and the repository around it (`repo_roots`).
    pub repos: &'a [PathBuf],
    pub hook_socket: &'a Path,
    /// The agent's program (put back if it lies in a covered place).
    pub program: Option<&'a Path>,
    pub port: u16,
    pub skip: &'a [Feature],
}

/// What in a workspace makes your tools run code when you next use them: git's config and
/// hooks (and a worktree's `.git` file, which says where they are), editors' project
/// settings, MCP servers, direnv, the agents' project settings (hooks, base URLs). An agent
/// may read these, not change them: `Plan::read_only`.
pub const PROTECTED: [&str; 29] = [
    ".git/config",
    ".git/hooks",
    ".git/info/attributes",
    ".vscode",
    ".idea",
    ".devcontainer",
    ".mcp.json",
    ".envrc",
    ".claude/settings.json",
    ".claude/settings.local.json",
    // Its commands' `!` lines, its skills' and subagents' hooks, the scripts hooks run.
    ".claude/commands",
    ".claude/skills",
    ".claude/agents",
    ".claude/hooks",
    ".gemini/settings.json",
    // Gemini CLI's commands run `!{…}` shell lines; extensions are code.
    ".gemini/commands",
    ".gemini/extensions",
    ".codex/config.toml",
    ".codex/hooks.json",
    ".opencode",
    "opencode.json",
    "opencode.jsonc",
    // Pi's project settings name packages it loads; extensions are code.
    ".pi/settings.json",
    ".pi/extensions",
    ".gitmodules",
    // Git hooks kept in the tree (`core.hooksPath`) and what a pre-commit hook runs.
    ".husky",
    ".githooks",
    ".pre-commit-config.yaml",
    "lefthook.yml",
];

/// What, in a git directory, makes git run code or look elsewhere for what does: its
/// config, hooks, where its common directory is (`commondir`, which git follows for the
/// config and hooks too), a worktree's way back (`gitdir`) and submodules' git directories.
pub const GIT_OWN: [&str; 6] = ["config", "config.worktree", "commondir", "gitdir", "hooks", "modules"];

/// Does `rel` (a path beneath a workspace or repository) name what makes git run code: in
/// any git directory (`.git`, or a worktree's or submodule's inside one), its `GIT_OWN`
/// entries; or the `.git` of a new repository nested inside (a `git status` of the outer
/// one runs a nested one's, config and all, through a gitlink in its index)? Its objects,
/// refs, index and logs stay writable: commits work.
pub fn git_owns(rel: &Path) -> bool {
    let names: Vec<&std::ffi::OsStr> = rel.iter().collect();
    names
        .iter()
        .enumerate()
        .any(|(i, name)| *name == ".git" && ((i > 0 && i + 1 == names.len()) || in_git_dir_owns(&names[i + 1..])))
}

/// `git_owns` within a git directory: `names` start at one of its entries.
fn in_git_dir_owns(names: &[&std::ffi::OsStr]) -> bool {
    let Some(first) = names.first().and_then(|n| n.to_str()) else { return false };
    match (first, names.len()) {
        // A worktree's or a submodule's own git directory inside this one.
        ("worktrees" | "modules", n) if n > 2 => in_git_dir_owns(&names[2..]),
        ("modules", _) => true,
        ("worktrees", _) => false,
        (entry, _) => GIT_OWN.contains(&entry),
    }
}

/// The workspace `cwd` and the repository around it, if it is in one.
pub fn repo_roots(cwd: &Path) -> Vec<PathBuf> {
    let repo = cwd.ancestors().find(|a| a.join(".git").symlink_metadata().is_ok());
    std::iter::once(cwd.to_path_buf()).chain(repo.filter(|r| *r != cwd).map(Path::to_path_buf)).collect()
}

/// The protected paths of the workspace `cwd` and of the repository around it, there or
/// not (and, where one is a symlink, what it leads to), but those named in `may_change`. A
/// repository's `.git/hooks` is made when missing, so that it can be bound read-only.
pub fn protected_in(cwd: &Path, may_change: &[String]) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for root in &repo_roots(cwd) {
        let git = root.join(".git");
        match git.symlink_metadata() {
            // A worktree's `.git` file: where its git directory is.
            Ok(m) if m.is_file() => out.push(git),
            Ok(m) if m.is_dir() => {
                let _ = std::fs::create_dir(git.join("hooks"));
            }
            _ => {}
        }
        let named = PROTECTED.iter().filter(|n| !may_change.iter().any(|m| m == *n)).map(|n| root.join(n));
        for path in named.chain(hooks_path(root)) {
            out.extend(real_path(&path));
            out.push(path);
        }
    }
    out
}

/// The config git reads for the checkout at `root`: its `.git/config`, or for a worktree
/// (whose `.git` is a file naming its git directory), the config of the repository's
/// common directory.
fn git_config_of(root: &Path) -> Option<PathBuf> {
    let git = root.join(".git");
    if git.symlink_metadata().ok()?.is_dir() {
        return Some(git.join("config"));
    }
    let read = |p: &Path| crate::nofollow::read(p, 4096).ok().map(|b| String::from_utf8_lossy(&b).trim().to_string());
    let dir = crate::paths::normalize(&root.join(read(&git)?.strip_prefix("gitdir:")?.trim()));
    let common = match read(&dir.join("commondir")) {
        Some(c) => crate::paths::normalize(&dir.join(c)),
        None => dir,
    };
    Some(common.join("config"))
}

/// Where the repository at `root` keeps its hooks when its config says (`core.hooksPath`,
/// relative to the working tree), read as text: git would run what is there. A value that
/// holds the whole checkout (`.`, an ancestor) is not taken: it would make every file of
/// the workspace read-only.
fn hooks_path(root: &Path) -> Option<PathBuf> {
    let text = crate::nofollow::read(&git_config_of(root)?, 1 << 20).ok()?;
    let mut in_core = false;
    let mut found = None;
    for line in String::from_utf8_lossy(&text).lines() {
        let line = line.trim();
        if let Some(header) = line.strip_prefix('[') {
            // `[core]`, `[ core ] # a comment`
            in_core = header.split(']').next().is_some_and(|name| name.trim().eq_ignore_ascii_case("core"));
        } else if let Some((key, value)) = line.split_once('=')
            && in_core
            && key.trim().eq_ignore_ascii_case("hookspath")
        {
            let value = value.trim();
            let value = match value.strip_prefix('"') {
                Some(quoted) => quoted.split('"').next().unwrap_or(""),
                None => value.split(['#', ';']).next().unwrap_or("").trim(),
            };
            found = Some(crate::config::expand_home(value));
        }
    }
    let path = crate::paths::normalize(&root.join(found.filter(|p| !p.as_os_str().is_empty())?));
    (!root.starts_with(&path)).then_some(path)
}

/// The secrets under a home directory that no agent reads.
pub fn secrets(home: &Path) -> Vec<PathBuf> {
    SECRETS.iter().map(|s| home.join(s)).collect()
}

/// The plan for one agent. `list` gives a directory's entries, symlinks left out (the
/// filesystem in use, a table in tests); `real` resolves symlinks (hidden paths are hidden
/// wherever they really are).
pub fn plan(i: &Inputs, list: &dyn Fn(&Path) -> Vec<PathBuf>, real: &dyn Fn(&Path) -> Option<PathBuf>) -> Plan {
    let really = |p: &Path| real(p).unwrap_or_else(|| p.to_path_buf());
    let mut hidden: Vec<PathBuf> = i.others.iter().chain(i.hidden).cloned().collect();
    // The agent's own state is its own, even where it lies among hidden things.
    hidden.retain(|h| !i.own.contains(h) && !i.writable.contains(h));
    let resolved: Vec<PathBuf> = hidden.iter().filter_map(|h| real(h)).collect();
    hidden.extend(resolved);
    let roots: Vec<PathBuf> = [i.cwd, i.tmp]
        .into_iter()
        .map(Path::to_path_buf)
        .chain(i.own.iter().cloned())
        .chain(i.writable.iter().cloned())
        .map(|p| really(&p))
        .collect();
    let also_read: Vec<PathBuf> = std::iter::once(really(i.pane_dir)).chain(i.readable.iter().cloned()).collect();
    // A place is covered unless something the agent works in is that place or holds it
    // (an agent started in /tmp keeps the real /tmp); one beneath another is covered with it.
    // Covered always (what the agent works in inside them is put back).
    let mut cover: Vec<PathBuf> = Vec::new();
    for c in i.empty.iter().map(|c| really(c)) {
        if !cover.contains(&c) {
            cover.push(c);
        }
    }
    let beneath_cover = |p: &Path| cover.iter().any(|c| p != c && p.starts_with(c));
    let mut keep: Vec<PathBuf> = roots
        .iter()
        .chain(&also_read)
        .cloned()
        .chain(std::iter::once(i.hook_socket.to_path_buf()))
        .chain(i.program.map(Path::to_path_buf))
        .filter(|p| beneath_cover(p))
        .collect();
    keep.sort_by_key(|p| p.components().count());
    keep.dedup();
    // A cover inside another is needed only where something put back in between brought
    // back what it hides (teamster's sockets inside a workspace in /tmp).
    let all = cover.clone();
    cover.retain(|c| {
        !all.iter().any(|o| o != c && c.starts_with(o) && !keep.iter().any(|k| k.starts_with(o) && c.starts_with(k)))
    });
    // Landlock cannot take a path back out of a tree it opened: a root that holds hidden
    // things (an agent started in ~) is opened around them.
    let mut write: Vec<PathBuf> = roots.iter().flat_map(|r| readable_around(r, &hidden, list)).collect();
    write.extend(DEVICES.iter().map(PathBuf::from));
    let mut read = readable_around(Path::new("/"), &hidden, list);
    read.extend(also_read);
    Plan {
        write,
        read,
        cover,
        keep,
        // Each as written and where it really is (or would be made).
        read_only: i.protect.iter().flat_map(|p| std::iter::once(p.clone()).chain(real(p))).collect(),
        repos: i.repos.iter().map(|r| really(r)).collect(),
        hook_socket: i.hook_socket.to_path_buf(),
        port: i.port,
        skip: i.skip.to_vec(),
    }
}

/// Everything beneath `root` except `hidden`, as the fewest paths that cover it: each
/// directory on the way to a hidden path is opened up into its entries.
pub fn readable_around(root: &Path, hidden: &[PathBuf], list: &dyn Fn(&Path) -> Vec<PathBuf>) -> Vec<PathBuf> {
    if hidden.iter().any(|h| h == root) {
        return Vec::new();
    }
    if !hidden.iter().any(|h| h.starts_with(root)) {
        return vec![root.to_path_buf()];
    }
    list(root).iter().flat_map(|entry| readable_around(entry, hidden, list)).collect()
}

/// A directory's entries on this machine, symlinks left out: Landlock grants by what a
/// path leads to, so a symlink is reachable where its target is granted, and granting the
/// link itself would open its target whole.
pub fn list_dir(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|d| d.flatten().filter(|e| e.file_type().is_ok_and(|t| !t.is_symlink())).map(|e| e.path()).collect())
        .unwrap_or_default();
    out.sort();
    out
}

/// Where a path really is, if it is somewhere else.
pub fn real_path(p: &Path) -> Option<PathBuf> {
    // A path not there yet (a protected file to be refused) resolves through the deepest
    // part of it that is: `~/.claude/settings.json` with `~/.claude` a symlink into your
    // dotfiles is protected where it would really be made.
    let mut rest = Vec::new();
    let mut base = p;
    loop {
        if let Ok(real) = std::fs::canonicalize(base) {
            let full = rest.iter().rev().fold(real, |acc: PathBuf, name| acc.join(name));
            return (full != p).then_some(full);
        }
        rest.push(base.file_name()?);
        base = base.parent()?;
    }
}

impl Plan {
    /// Would the sandbox refuse to let the agent write `path` (absolute and resolved)?
    /// `/proc` and `/sys` are the kernel's to refuse, and not reported.
    pub fn refuses_write(&self, path: &Path) -> bool {
        let normal = crate::paths::normalize(path);
        !(normal.starts_with("/proc") || normal.starts_with("/sys") || self.may_write(&normal))
    }

    /// May the agent write beneath `path` (absolute, resolved, as the agent sees it)?
    pub fn may_write(&self, path: &Path) -> bool {
        let path = crate::paths::normalize(path);
        self.write.iter().any(|w| path.starts_with(w)) && !self.read_only.iter().any(|r| path.starts_with(r))
    }

    /// Is `path` (absolute, resolved) one of `read_only` or beneath one: what the agent may
    /// neither make, nor change, nor move?
    pub fn guards(&self, path: &Path) -> bool {
        let path = crate::paths::normalize(path);
        self.read_only.iter().any(|r| path.starts_with(r))
            || self.repos.iter().any(|root| path.strip_prefix(root).is_ok_and(git_owns))
    }

    /// Is `path` a directory on the way to one of `read_only`? Such a place may be made as
    /// an empty directory, but never moved, nor made a symlink, a link or a file: whatever
    /// came to be there would decide what the protected path holds.
    pub fn on_the_way_to_guarded(&self, path: &Path) -> bool {
        let path = crate::paths::normalize(path);
        self.read_only.iter().any(|r| r != &path && r.starts_with(&path))
    }

    /// Would the sandbox refuse a connection to `addr`? Only the proxy on the sandbox's
    /// loopback is open.
    pub fn refuses_connect(&self, addr: &std::net::SocketAddr) -> bool {
        !(addr.ip().is_loopback() && addr.port() == self.port)
    }

    /// Is `addr` on the sandbox's own loopback? Only with a network namespace of its own:
    /// without one, the loopback is this machine's, and its ports are not the agent's.
    pub fn own_loopback(&self, addr: &std::net::SocketAddr) -> bool {
        addr.ip().is_loopback() && !self.skip.contains(&Feature::Namespaces)
    }
}

/// May a sandboxed agent tunnel to `host:port`? An `allow_hosts` entry names a host
/// (`*.example.com` for its subdomains) for port 443, or `host:port`. `Some(literal)`
/// when allowed, `literal` when the entry names the address itself (an IP, `localhost`):
/// only then may it lead to this machine or the private network.
pub fn host_allowed(allow: &[String], host: &str, port: u16) -> Option<bool> {
    let host = host.trim_end_matches('.').trim_matches(['[', ']']).to_ascii_lowercase();
    allow.iter().find_map(|entry| {
        let entry = entry.to_ascii_lowercase();
        let (name, entry_port) = match entry.rsplit_once(':').filter(|(_, p)| p.parse::<u16>().is_ok()) {
            Some((n, p)) => (n.trim_matches(['[', ']']).to_string(), p.parse().unwrap_or(443)),
            None => (entry.clone(), 443),
        };
        let matches = match name.strip_prefix("*.") {
            Some(domain) => host.ends_with(&format!(".{domain}")),
            None => host == name,
        };
        (matches && port == entry_port).then(|| name == "localhost" || name.parse::<std::net::IpAddr>().is_ok())
    })
}

/// Which protections this kernel lacks (read once per process).
pub fn missing_features() -> Vec<Feature> {
    static MISSING: std::sync::OnceLock<Vec<Feature>> = std::sync::OnceLock::new();
    MISSING
        .get_or_init(|| {
            let pretend: Vec<String> = std::env::var("TEAMSTER_SANDBOX_PRETEND_MISSING")
                .map(|v| v.split(',').map(str::to_string).collect())
                .unwrap_or_default();
            Feature::ALL
                .into_iter()
                .filter(|f| pretend.iter().any(|p| p == f.name()) || enter::kernel_lacks(*f).is_some())
                .collect()
        })
        .clone()
}

/// Why an agent may not start: protections missing that the user did not accept running
/// without. `None` when it may.
pub fn refusal(missing: &[Feature], run_without: &[Feature]) -> Option<String> {
    let refused: Vec<&Feature> = missing.iter().filter(|f| !run_without.contains(f)).collect();
    if refused.is_empty() {
        return None;
    }
    let what = refused
        .iter()
        .map(|f| {
            let why = enter::kernel_lacks(**f).map(|w| format!(" [{w}]")).unwrap_or_default();
            format!("{} ({}){why}", f.name(), f.loss())
        })
        .collect::<Vec<_>>()
        .join("; ");
    let names = refused.iter().map(|f| format!("\"{}\"", f.name())).collect::<Vec<_>>().join(", ");
    Some(format!(
        "this kernel lacks {what}. To run agents without it anyway, add `run_without = [{names}]` under [sandbox] in the config; or set `sandbox = \"off\"` for this agent"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hooks_a_repository_names_are_found_for_a_worktree_too_and_never_the_whole_tree() {
        let root = std::env::temp_dir().join(format!("teamster-hookspath-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let (repo, tree) = (root.join("repo"), root.join("tree"));
        std::fs::create_dir_all(repo.join(".git/worktrees/tree")).unwrap();
        std::fs::create_dir_all(&tree).unwrap();
        let config = |text: &str| std::fs::write(repo.join(".git/config"), text).unwrap();
        config("[core] # mine\n\thooksPath = scripts/hooks ; the team's\n");
        assert_eq!(hooks_path(&repo), Some(repo.join("scripts/hooks")));
        // A worktree: its .git file, its git directory's commondir.
        std::fs::write(tree.join(".git"), format!("gitdir: {}\n", repo.join(".git/worktrees/tree").display())).unwrap();
        std::fs::write(repo.join(".git/worktrees/tree/commondir"), "../..\n").unwrap();
        assert_eq!(hooks_path(&tree), Some(tree.join("scripts/hooks")));
        // The whole checkout, or above it: not taken.
        config("[core]\n\thooksPath = \".\"\n");
        assert_eq!(hooks_path(&repo), None);
        config(&format!("[core]\nhookspath = {}\n", root.display()));
        assert_eq!(hooks_path(&repo), None);
        let _ = std::fs::remove_dir_all(root);
    }

    fn tree(paths: &[&str]) -> impl Fn(&Path) -> Vec<PathBuf> {
        let all: Vec<PathBuf> = paths.iter().map(PathBuf::from).collect();
        move |dir: &Path| all.iter().filter(|p| p.parent() == Some(dir)).cloned().collect()
    }

    #[test]
    fn hidden_paths_are_cut_out_of_what_is_readable() {
        let fs = tree(&[
            "/usr",
            "/etc",
            "/home",
            "/home/u",
            "/home/u/.ssh",
            "/home/u/src",
            "/home/u/.config",
            "/home/u/.config/gh",
            "/home/u/.config/git",
            "/home/v",
        ]);
        let hidden = [PathBuf::from("/home/u/.ssh"), PathBuf::from("/home/u/.config/gh")];
        let read = readable_around(Path::new("/"), &hidden, &fs);
        let read: Vec<&str> = read.iter().map(|p| p.to_str().unwrap_or_default()).collect();
        assert_eq!(read, ["/usr", "/etc", "/home/u/src", "/home/u/.config/git", "/home/v"]);
    }

    fn p(s: &str) -> PathBuf {
        PathBuf::from(s)
    }

    /// The plan for `kind` in a home with Claude's and Codex's state, teamster's, and a
    /// secret; `cwd` is where it starts.
    fn plan_for(kind: &str, cwd: &str, real: &dyn Fn(&Path) -> Option<PathBuf>) -> Plan {
        let fs = tree(&[
            "/usr",
            "/home",
            "/home/u",
            "/home/u/.ssh",
            "/home/u/.claude",
            "/home/u/.codex",
            "/home/u/src",
            "/home/u/src/app",
            "/home/u/dotfiles",
            "/home/u/dotfiles/ssh",
            "/home/u/.local",
            "/home/u/.local/state",
            "/home/u/.local/state/teamster",
            "/home/u/.local/state/other",
        ]);
        let claude = vec![p("/home/u/.claude")];
        let codex = vec![p("/home/u/.codex")];
        let (own, others) = if kind == "claude" { (claude, codex) } else { (codex, claude) };
        let mut hidden = secrets(Path::new("/home/u"));
        hidden.extend([p("/home/u/.local/state/teamster"), p("/run/user/1/teamster")]);
        plan(
            &Inputs {
                cwd: Path::new(cwd),
                pane_dir: Path::new("/home/u/.local/state/teamster/panes/k"),
                tmp: Path::new("/home/u/.local/state/teamster/panes/k/tmp"),
                own: &own,
                others: &others,
                hidden: &hidden,
                writable: &[],
                readable: &[],
                empty: &[p("/run"), p("/run/user/1"), p("/run/user/1/teamster")],
                protect: &[p("/home/u/src/app/.git/config")],
                repos: &[],
                hook_socket: Path::new("/run/user/1/teamster/hooks/3.sock"),
                program: None,
                port: 4000,
                skip: &[],
            },
            &fs,
            real,
        )
    }

    #[test]
    fn an_agent_writes_its_workspace_and_own_state_and_reads_no_secrets() {
        let p = plan_for("claude", "/home/u/src/app", &|_| None);
        assert!(p.write.contains(&PathBuf::from("/home/u/src/app")));
        assert!(p.write.contains(&PathBuf::from("/home/u/.claude")));
        assert!(p.read.contains(&PathBuf::from("/home/u/.claude")));
        assert!(!p.read.iter().any(|r| r.ends_with(".ssh") || r.ends_with(".codex") || r.ends_with("teamster")));
        assert!(p.read.contains(&PathBuf::from("/home/u/.local/state/other")));
        // Writes: judged as the kernel walks the path.
        assert!(!p.refuses_write(Path::new("/home/u/src/app/x/../y")));
        assert!(p.refuses_write(Path::new("/home/u/src/app/../elsewhere")));
        assert!(p.refuses_write(Path::new("/etc/passwd")));
        assert!(!p.refuses_write(Path::new("/dev/null")));
        // Codex hides Claude's state, and the other way round.
        let p = plan_for("codex", "/home/u/src/app", &|_| None);
        assert!(!p.read.iter().any(|r| r.ends_with(".claude")));
        assert!(p.read.contains(&PathBuf::from("/home/u/.codex")));
    }

    #[test]
    fn other_programs_sockets_are_covered_and_what_the_agent_works_in_is_put_back() {
        let p = plan_for("claude", "/home/u/src/app", &|_| None);
        // /run (and the runtime directory and teamster's sockets beneath it) are covered
        // once, read-only.
        assert_eq!(p.cover, [PathBuf::from("/run")]);
        assert!(!p.write.iter().any(|w| w.starts_with("/run")));
        // Only the pane's own hook socket is put back.
        assert_eq!(p.keep, [PathBuf::from("/run/user/1/teamster/hooks/3.sock")]);
        // The pane's settings are readable, not writable; its temp directory is writable.
        assert!(p.refuses_write(Path::new("/home/u/.local/state/teamster/panes/k/claude-settings.json")));
        assert!(!p.refuses_write(Path::new("/home/u/.local/state/teamster/panes/k/tmp/x")));
        // A protected file in the workspace is not the agent's to write, nor a socket there.
        assert!(p.refuses_write(Path::new("/home/u/src/app/.git/config")));
        assert!(!p.may_write(Path::new("/home/u/src/app/.git/config")));
        assert!(p.may_write(Path::new("/home/u/src/app/agent.sock")));
        assert!(!p.may_write(Path::new("/home/u/.ssh/agent.sock")));
        assert!(!p.may_write(Path::new("/tmp/tmux-1000/default")));
    }

    #[test]
    fn a_workspace_in_a_covered_place_is_put_back_and_teamsters_sockets_covered_again() {
        // The runtime directory inside the workspace (as in tests): the workspace comes back,
        // and the sockets within it are covered again, the hook socket put back.
        let p = plan_for("claude", "/run/user/1", &|_| None);
        assert!(p.keep.contains(&PathBuf::from("/run/user/1")));
        assert!(p.cover.contains(&PathBuf::from("/run/user/1/teamster")));
        assert!(p.keep.last() == Some(&PathBuf::from("/run/user/1/teamster/hooks/3.sock")), "{:?}", p.keep);
    }

    #[test]
    fn protected_files_are_found_as_they_are_and_an_agent_may_be_let_change_some() {
        let ws = std::env::temp_dir().join(format!("teamster-protected-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&ws);
        std::fs::create_dir_all(ws.join(".git")).unwrap();
        std::fs::write(ws.join(".git/config"), "").unwrap();
        std::fs::create_dir_all(ws.join(".vscode")).unwrap();
        std::fs::write(ws.join(".mcp.json"), "{}").unwrap();
        let all = protected_in(&ws, &[]);
        for name in [".git/config", ".git/hooks", ".vscode", ".mcp.json"] {
            assert!(all.contains(&ws.join(name)), "{name}: {all:?}");
        }
        // Made so that it can be bound read-only; what is missing is listed too (the
        // maker never makes it).
        assert!(ws.join(".git/hooks").is_dir());
        assert!(all.contains(&ws.join(".envrc")) && all.contains(&ws.join(".claude/settings.json")));
        let some = protected_in(&ws, &[".vscode".to_string()]);
        assert!(!some.contains(&ws.join(".vscode")) && some.contains(&ws.join(".mcp.json")));
        let _ = std::fs::remove_dir_all(&ws);
    }

    #[test]
    fn a_protected_path_is_guarded_there_or_not_and_so_is_the_way_to_it() {
        let mut p = plan_for("claude", "/home/u/src/app", &|_| None);
        p.read_only = vec![p_("/w/.envrc"), p_("/w/.claude/settings.json"), p_("/w/.vscode")];
        assert!(p.guards(Path::new("/w/.envrc")) && p.guards(Path::new("/w/.vscode/settings.json")));
        assert!(p.guards(Path::new("/w/./.claude/../.envrc")), "not normalized");
        assert!(!p.guards(Path::new("/w/.claude")) && !p.guards(Path::new("/w/.envrc2")));
        // The directories on the way: made empty, never moved or replaced.
        for way in ["/w", "/w/.claude", "/"] {
            assert!(p.on_the_way_to_guarded(Path::new(way)), "{way}");
        }
        for not in ["/w/.envrc", "/w/src", "/w/.claude/settings.json", "/w/.vscode/x"] {
            assert!(!p.on_the_way_to_guarded(Path::new(not)), "{not}");
        }
    }

    fn p_(s: &str) -> PathBuf {
        PathBuf::from(s)
    }

    #[test]
    fn started_in_the_home_directory_the_secrets_stay_hidden() {
        let p = plan_for("claude", "/home/u", &|_| None);
        assert!(p.write.contains(&PathBuf::from("/home/u/src")));
        for secret in ["/home/u/.ssh", "/home/u/.codex", "/home/u/.local/state/teamster"] {
            assert!(!p.write.iter().chain(&p.read).any(|w| Path::new(secret).starts_with(w)), "{secret} open");
        }
        assert!(p.refuses_write(Path::new("/home/u/.ssh/authorized_keys")));
        assert!(!p.refuses_write(Path::new("/home/u/src/x")));
    }

    #[test]
    fn a_secret_behind_a_symlink_is_hidden_where_it_really_is() {
        let real = |q: &Path| (q == Path::new("/home/u/.ssh")).then(|| p("/home/u/dotfiles/ssh"));
        let p = plan_for("claude", "/home/u", &real);
        assert!(!p.read.iter().chain(&p.write).any(|r| Path::new("/home/u/dotfiles/ssh").starts_with(r)));
    }

    #[test]
    fn a_refusal_is_told_by_what_it_was_about() {
        let dns = Subject::Address("10.255.255.53:53".parse().unwrap());
        assert!(dns.is_dns() && !Subject::Address("10.0.0.1:443".parse().unwrap()).is_dns());
        let host = Subject::Host("O1.ingest.Sentry.io", 443);
        assert!(host.is_host_among(&["*.sentry.io"]) && !host.is_host_among(&["sentry.io"]));
        assert!(Subject::Host("sentry.io", 443).is_host_among(&["*.sentry.io"]));
        assert!(!Subject::Host("evilsentry.io", 443).is_host_among(&["*.sentry.io"]));
        let path = Subject::Path(Path::new("/h/.local/bin/claude"));
        assert!(path.is_beneath(&[p("/h/.local/bin")]) && !path.is_beneath(&[p("/h/.local/b")]));
        assert!(!Subject::Other.is_beneath(&[p("/")]) && !Subject::Other.is_dns());
    }

    #[test]
    fn each_agents_expected_refusals_are_its_harmless_ones_only() {
        use crate::agents::AgentKind;
        let home = Path::new("/h");
        let none = |_: &str| None;
        let expected = |k: AgentKind, s: Subject| crate::agents::adapter::expected(k, home, &none, &s);
        assert!(expected(AgentKind::Claude, Subject::Host("downloads.claude.ai", 443)));
        assert!(expected(AgentKind::Claude, Subject::Path(Path::new("/h/.local/share/applications/claude.desktop"))));
        assert!(!expected(AgentKind::Codex, Subject::Host("downloads.claude.ai", 443)), "each agent its own");
        assert!(expected(AgentKind::Codex, Subject::Host("raw.githubusercontent.com", 443)));
        assert!(expected(AgentKind::Pi, Subject::Path(Path::new("/h/.pi/agent/settings.json"))));
        // What an agent tries that it has no business with is news.
        for k in AgentKind::BUILT_IN {
            assert!(!expected(k, Subject::Path(Path::new("/h/.bashrc"))), "{k:?}");
            assert!(!expected(k, Subject::Host("evil.example", 443)), "{k:?}");
            assert!(!expected(k, Subject::Address("127.0.0.1:22".parse().unwrap())), "{k:?}");
        }
    }

    #[test]
    fn what_runs_code_when_you_run_an_agent_yourself_is_named() {
        use crate::agents::{AgentKind, state_paths};
        let home = Path::new("/h");
        let none = |_: &str| None;
        let claude = state_paths(AgentKind::Claude, home, &none).runs_code;
        for f in
            ["/h/.claude/settings.json", "/h/.claude/plugins", "/h/.claude.json", "/h/.local/share/claude/versions"]
        {
            assert!(claude.contains(&p(f)), "{f}: {claude:?}");
        }
        // Teamster's own choice of config directory is read by no Claude you run: its
        // state file there is the agent's; yours (a directory you chose) is not.
        assert!(!claude.contains(&p("/h/.claude/.claude.json")));
        let chosen = |k: &str| (k == "CLAUDE_CONFIG_DIR").then(|| "/h/cc".to_string());
        assert!(state_paths(AgentKind::Claude, home, &chosen).runs_code.contains(&p("/h/cc/.claude.json")));
        assert!(state_paths(AgentKind::Codex, home, &none).runs_code.contains(&p("/h/.codex/config.toml")));
        assert!(state_paths(AgentKind::Gemini, home, &none).runs_code.contains(&p("/h/.gemini/settings.json")));
        assert!(state_paths(AgentKind::Opencode, home, &none).runs_code.contains(&p("/h/.config/opencode/plugin")));
        assert!(state_paths(AgentKind::Pi, home, &none).runs_code.contains(&p("/h/.pi/agent/extensions")));
    }

    #[test]
    fn only_the_proxy_port_on_loopback_is_open() {
        let p = Plan { port: 4000, ..Plan::default() };
        assert!(!p.refuses_connect(&"127.0.0.1:4000".parse().unwrap()));
        assert!(p.refuses_connect(&"127.0.0.1:22".parse().unwrap()));
        // Its own servers on its own loopback, only in a network namespace of its own.
        assert!(p.own_loopback(&"127.0.0.1:39817".parse().unwrap()));
        assert!(p.own_loopback(&"[::1]:39817".parse().unwrap()));
        assert!(!p.own_loopback(&"10.0.0.1:39817".parse().unwrap()));
        let shared = Plan { skip: vec![Feature::Namespaces], ..p.clone() };
        assert!(!shared.own_loopback(&"127.0.0.1:39817".parse().unwrap()));
        assert!(p.refuses_connect(&"93.184.216.34:4000".parse().unwrap()));
    }

    #[test]
    fn hosts_match_exactly_or_by_subdomain() {
        let allow = vec!["github.com".to_string(), "*.npmjs.org".to_string(), "127.0.0.1:8080".to_string()];
        assert!(host_allowed(&allow, "GitHub.com", 443).is_some());
        assert!(host_allowed(&allow, "registry.npmjs.org", 443).is_some());
        assert!(host_allowed(&allow, "npmjs.org.evil.com", 443).is_none());
        assert!(host_allowed(&allow, "api.github.com", 443).is_none());
        // Only the port an entry names (443 unless it says).
        assert!(host_allowed(&allow, "github.com", 22).is_none());
        // A name never leads to this machine; an entry that is the address may.
        assert_eq!(host_allowed(&allow, "github.com", 443), Some(false));
        assert_eq!(host_allowed(&allow, "127.0.0.1", 8080), Some(true));
    }

    #[test]
    fn a_missing_feature_refuses_unless_accepted() {
        let why = refusal(&[Feature::Landlock], &[]).unwrap_or_default();
        assert!(why.contains("lacks landlock (the agent could read your secrets"), "{why}");
        assert!(why.contains("run_without = [\"landlock\"]"), "{why}");
        assert_eq!(refusal(&[Feature::Landlock], &[Feature::Landlock]), None);
        assert_eq!(refusal(&[], &[]), None);
    }

    #[test]
    fn what_makes_git_run_code_is_known_in_any_git_directory() {
        let owns = |p: &str| git_owns(Path::new(p));
        for p in [
            ".git/config",
            ".git/commondir",
            ".git/config.worktree",
            ".git/hooks",
            ".git/hooks/pre-commit",
            ".git/modules",
            ".git/modules/lib",
            ".git/modules/lib/config",
            ".git/modules/lib/modules/deep/hooks/x",
            ".git/worktrees/feature/commondir",
            ".git/worktrees/feature/gitdir",
            "sub/.git",
            "sub/.git/config",
            "a/b/.git/hooks/post-checkout",
        ] {
            assert!(owns(p), "{p}");
        }
        for p in [
            ".git",
            ".git/index",
            ".git/objects/ab/cdef",
            ".git/refs/heads/config",
            ".git/logs/refs/heads/hooks",
            ".git/worktrees",
            ".git/worktrees/feature",
            ".git/worktrees/feature/index",
            ".git/modules/lib/objects/ab",
            "sub/.git/objects/ab",
            "src/config",
            "hooks/config",
        ] {
            assert!(!owns(p), "{p}");
        }
    }

    #[test]
    fn a_path_not_there_yet_resolves_where_it_would_be_made() {
        let dir = std::env::temp_dir().join(format!("teamster-real-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("dots/codex")).unwrap();
        std::os::unix::fs::symlink("dots/codex", dir.join(".codex")).unwrap();
        let real = std::fs::canonicalize(&dir).unwrap();
        assert_eq!(real_path(&dir.join(".codex/config.toml")), Some(real.join("dots/codex/config.toml")));
        assert_eq!(real_path(&real.join("dots/none/x")), None, "nothing to resolve");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
