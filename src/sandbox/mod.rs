//! The sandbox every agent runs in: what it may read and write, its only way out (the
//! runner's proxy), and the secrets kept outside it.
//!
//! The runner works out a `Plan` for each agent pane (pure: paths in, paths out). The pane's
//! program is then `teamster sandbox-exec PLAN -- AGENT…` (`enter.rs`), which confines
//! itself and becomes the agent: new user, network and mount namespaces (only a loopback
//! with the proxy's port on it; the runner's sockets covered), a seccomp filter that shows
//! the runner every write and connection it should refuse (`seccomp.rs`, so a denial is an
//! event, not only an error the agent may hide), and Landlock for the files.

pub mod enter;
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
            Feature::Seccomp => "refused writes and connections would fail without being reported",
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
            writable: Vec::new(),
            readable: Vec::new(),
            hidden: Vec::new(),
            run_without: Vec::new(),
        }
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

/// Each agent's own state: writable for it, hidden from others. Paths under the home
/// directory, or (`$config/…` and so on) under the XDG base directories.
fn agent_state(kind: &str) -> &'static [&'static str] {
    match kind {
        // Sandboxed, Claude Code keeps its `.claude.json` in `~/.claude` (CLAUDE_CONFIG_DIR):
        // it rewrites that file by renaming a temp file in its directory, and the home
        // directory itself is not writable.
        "claude" => &[".claude", ".cache/claude", ".cache/claude-cli-nodejs"],
        "codex" => &[".codex"],
        "pi" => &[".pi"],
        "gemini" => &[".gemini"],
        "opencode" => &["$config/opencode", "$data/opencode", "$state/opencode", "$cache/opencode"],
        _ => &[],
    }
}

const AGENT_KINDS: [&str; 5] = ["claude", "codex", "pi", "gemini", "opencode"];

/// Devices an agent writes as any program does.
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

/// What the sandbox lets one agent do: passed to `teamster sandbox-exec`, and kept by the
/// runner to judge the writes and connections it is shown.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    /// May read and write beneath these.
    pub write: Vec<PathBuf>,
    /// May read (and run) beneath these.
    pub read: Vec<PathBuf>,
    /// The agent's own state directories, made before it starts (the sandbox can only
    /// open up what exists).
    pub make: Vec<PathBuf>,
    /// Covered by an empty directory inside: the runner's sockets.
    pub cover: Vec<PathBuf>,
    /// Sockets inside `cover` that stay reachable (the hook socket).
    pub keep: Vec<PathBuf>,
    /// The proxy's port on the sandbox's loopback.
    pub port: u16,
    /// The private temp directory (`TMPDIR`).
    pub tmp: PathBuf,
    /// Protections the user accepts running without, if the kernel lacks them.
    pub run_without: Vec<Feature>,
}

/// What a plan is made from.
pub struct Inputs<'a> {
    pub kind: &'a str,
    pub home: &'a Path,
    /// The workspace (or worktree).
    pub cwd: &'a Path,
    /// The pane's private directory in teamster's state (settings, private agent homes).
    pub pane_dir: &'a Path,
    /// Teamster's own directories: state, config, sockets.
    pub teamster_dirs: &'a [PathBuf],
    /// The runner's socket directory, and the hook socket in it.
    pub runtime_dir: &'a Path,
    pub hook_socket: &'a Path,
    pub port: u16,
    pub config: &'a SandboxConfig,
    /// The XDG base directories as the agent sees them: config, data, state, cache.
    pub xdg: &'a [PathBuf; 4],
    /// The agent's own extra paths from `[agents.NAME]`.
    pub writable: &'a [String],
    pub readable: &'a [String],
}

/// The plan for one agent. `list` gives a directory's entries (the filesystem in use,
/// a table in tests).
pub fn plan(i: &Inputs, list: &dyn Fn(&Path) -> Vec<PathBuf>) -> Plan {
    let home_path = |p: &str| crate::config::expand_home(p);
    let in_home = |p: &&str| {
        let base = ["$config/", "$data/", "$state/", "$cache/"].iter().position(|b| p.starts_with(b));
        match base {
            Some(n) => i.xdg[n].join(&p[p.find('/').map_or(0, |s| s + 1)..]),
            None => i.home.join(p),
        }
    };
    let own: Vec<PathBuf> = agent_state(i.kind).iter().map(in_home).collect();
    let mut hidden: Vec<PathBuf> = SECRETS.iter().map(in_home).collect();
    hidden.extend(AGENT_KINDS.iter().filter(|k| **k != i.kind).flat_map(|k| agent_state(k).iter().map(in_home)));
    hidden.extend(i.teamster_dirs.iter().cloned());
    hidden.extend(i.config.hidden.iter().map(|p| home_path(p)));
    // What the agent must write is never hidden from it.
    let tmp = i.pane_dir.join("tmp");
    let mut write = vec![i.cwd.to_path_buf(), i.pane_dir.to_path_buf()];
    write.extend(own.iter().cloned());
    write.extend(i.config.writable.iter().chain(i.writable).map(|p| home_path(p)));
    hidden.retain(|h| !write.contains(h));
    let mut read = readable_around(Path::new("/"), &hidden, list);
    read.extend(i.config.readable.iter().chain(i.readable).map(|p| home_path(p)));
    write.extend(DEVICES.iter().map(PathBuf::from));
    Plan {
        make: own,
        write,
        read,
        cover: vec![i.runtime_dir.to_path_buf()],
        keep: vec![i.hook_socket.to_path_buf()],
        port: i.port,
        tmp,
        run_without: i.config.run_without.clone(),
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

/// A directory's entries on this machine (none if it cannot be read).
pub fn list_dir(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> =
        std::fs::read_dir(dir).map(|d| d.flatten().map(|e| e.path()).collect()).unwrap_or_default();
    out.sort();
    out
}

impl Plan {
    /// Would the sandbox refuse to let the agent write `path` (absolute, as the agent
    /// named it)? Judged lexically, then by where the path really is, so a symlink into the
    /// workspace is not reported as a refusal; Landlock is the authority either way.
    pub fn refuses_write(&self, path: &Path) -> bool {
        let path = normalize(path);
        if self.may_write(&path) || path.starts_with("/proc") || path.starts_with("/sys") {
            return false;
        }
        let real = path
            .parent()
            .and_then(|p| std::fs::canonicalize(p).ok())
            .map(|p| p.join(path.file_name().unwrap_or_default()));
        !real.is_some_and(|r| self.may_write(&r))
    }

    fn may_write(&self, path: &Path) -> bool {
        self.write.iter().any(|w| path.starts_with(w))
    }

    /// Would the sandbox refuse a connection to `addr`? Only the proxy on the sandbox's
    /// loopback is open.
    pub fn refuses_connect(&self, addr: &std::net::SocketAddr) -> bool {
        !(addr.ip().is_loopback() && addr.port() == self.port)
    }
}

/// `path` without `.` and `..` (lexically, as the kernel would walk it when no symlink
/// is on the way).
pub fn normalize(path: &Path) -> PathBuf {
    use std::path::Component;
    let mut out = PathBuf::from("/");
    for c in path.components() {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::Normal(n) => out.push(n),
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
        }
    }
    out
}

/// Does `host` match an `allow_hosts` entry (`*.example.com` for its subdomains)?
pub fn host_allowed(allow: &[String], host: &str) -> bool {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    allow.iter().any(|a| {
        let a = a.to_ascii_lowercase();
        match a.strip_prefix("*.") {
            Some(domain) => host.ends_with(&format!(".{domain}")),
            None => host == a,
        }
    })
}

/// Which protections this kernel offers, and what is missing.
pub fn missing_features() -> Vec<Feature> {
    let pretend: Vec<String> = std::env::var("TEAMSTER_SANDBOX_PRETEND_MISSING")
        .map(|v| v.split(',').map(str::to_string).collect())
        .unwrap_or_default();
    Feature::ALL.into_iter().filter(|f| pretend.iter().any(|p| p == f.name()) || !enter::kernel_has(*f)).collect()
}

/// Why an agent may not start: protections missing that the user did not accept running
/// without. `None` when it may.
pub fn refusal(missing: &[Feature], run_without: &[Feature]) -> Option<String> {
    let refused: Vec<&Feature> = missing.iter().filter(|f| !run_without.contains(f)).collect();
    if refused.is_empty() {
        return None;
    }
    let what = refused.iter().map(|f| format!("{} ({})", f.name(), f.loss())).collect::<Vec<_>>().join("; ");
    let names = refused.iter().map(|f| format!("\"{}\"", f.name())).collect::<Vec<_>>().join(", ");
    Some(format!(
        "this kernel lacks {what}. To run agents without it anyway, add `run_without = [{names}]` under [sandbox] in the config; or set `sandbox = \"off\"` for this agent"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

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

    static XDG: [PathBuf; 4] = [PathBuf::new(), PathBuf::new(), PathBuf::new(), PathBuf::new()];

    fn inputs<'a>(kind: &'a str, config: &'a SandboxConfig, dirs: &'a [PathBuf]) -> Inputs<'a> {
        Inputs {
            kind,
            home: Path::new("/home/u"),
            cwd: Path::new("/home/u/src/app"),
            pane_dir: Path::new("/home/u/.local/state/teamster/panes/k"),
            teamster_dirs: dirs,
            runtime_dir: Path::new("/run/user/1/teamster"),
            hook_socket: Path::new("/run/user/1/teamster/hooks.sock"),
            port: 4000,
            config,
            xdg: &XDG,
            writable: &[],
            readable: &[],
        }
    }

    #[test]
    fn an_agent_writes_its_workspace_and_own_state_and_reads_no_secrets() {
        let fs = tree(&[
            "/usr",
            "/home",
            "/home/u",
            "/home/u/.ssh",
            "/home/u/.claude",
            "/home/u/.codex",
            "/home/u/src",
            "/home/u/.local",
            "/home/u/.local/state",
            "/home/u/.local/state/teamster",
            "/home/u/.local/state/other",
        ]);
        let config = SandboxConfig::default();
        let dirs = [PathBuf::from("/home/u/.local/state/teamster"), PathBuf::from("/run/user/1/teamster")];
        let p = plan(&inputs("claude", &config, &dirs), &fs);
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
        let p = plan(&inputs("codex", &config, &dirs), &fs);
        assert!(!p.read.iter().any(|r| r.ends_with(".claude")));
        assert!(p.read.contains(&PathBuf::from("/home/u/.codex")));
    }

    #[test]
    fn only_the_proxy_port_on_loopback_is_open() {
        let p = Plan { port: 4000, ..Plan::default() };
        assert!(!p.refuses_connect(&"127.0.0.1:4000".parse().unwrap()));
        assert!(p.refuses_connect(&"127.0.0.1:22".parse().unwrap()));
        assert!(p.refuses_connect(&"93.184.216.34:4000".parse().unwrap()));
    }

    #[test]
    fn hosts_match_exactly_or_by_subdomain() {
        let allow = vec!["github.com".to_string(), "*.npmjs.org".to_string()];
        assert!(host_allowed(&allow, "GitHub.com"));
        assert!(host_allowed(&allow, "registry.npmjs.org"));
        assert!(!host_allowed(&allow, "npmjs.org.evil.com"));
        assert!(!host_allowed(&allow, "api.github.com"));
    }

    #[test]
    fn a_missing_feature_refuses_unless_accepted() {
        let why = refusal(&[Feature::Landlock], &[]).unwrap_or_default();
        assert!(why.contains("lacks landlock (the agent could read your secrets"), "{why}");
        assert!(why.contains("run_without = [\"landlock\"]"), "{why}");
        assert_eq!(refusal(&[Feature::Landlock], &[Feature::Landlock]), None);
        assert_eq!(refusal(&[], &[]), None);
    }
}
