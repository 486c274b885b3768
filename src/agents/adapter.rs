//! One agent CLI as teamster drives it, behind one trait: how it is launched, what its hooks
//! report and how they are answered, what its screen says, where it keeps its state, and a
//! self-check. Each agent is one file that implements it; `adapter` is the one registry, so
//! a new agent is a new file and a line there.

use super::{Agent, AgentKind, AgentState, HookEvent, Launch, LaunchContext};
use crate::approval::{AllowScope, Decision};
use crate::sandbox::Subject;
use serde_json::Value;
use std::path::{Path, PathBuf};

pub trait AgentAdapter: Sync {
    /// The command line, environment and files that start it, routed through teamster.
    fn launch(&self, agent: &Agent, ctx: &LaunchContext) -> Result<Launch, String>;

    /// What a hook payload reports (nothing, for an agent without hooks).
    fn parse(&self, _event: &str, _payload: &Value) -> Vec<HookEvent> {
        Vec::new()
    }

    /// What the hook command prints, and its exit code, to give the agent `answer`.
    /// `payload` is what the agent sent with the event.
    fn reply(&self, _event: &str, _payload: &Value, _answer: Option<&Decision>) -> (String, i32) {
        (String::new(), 0)
    }

    /// What the screen says of its state, for what hooks do not report.
    fn screen_state(&self, _lines: &[String]) -> Option<AgentState> {
        None
    }

    /// Whether teamster answers its own dialog by typing keys (its hooks cannot).
    fn answers_by_keys(&self) -> bool {
        false
    }

    /// The keys that give `decision` to its dialog on screen; `None` while it is not there.
    fn dialog_keys(&self, _lines: &[String], _decision: &Decision) -> Option<Vec<u8>> {
        None
    }

    /// Whether a person's answer in its own dialog may be an "always" teamster keeps for
    /// it (`always_chosen`): only then is its screen read at such a key.
    fn reads_always(&self) -> bool {
        false
    }

    /// The "always" of its own dialog on screen that a person's `key` picks (its "don't
    /// ask again" for the project, or for the session), if the key picks one.
    fn always_chosen(&self, _lines: &[String], _key: crate::protocol::keys::KeyCode) -> Option<AllowScope> {
        None
    }

    /// Whether its input takes a prompt now.
    fn takes_prompt(&self, _lines: &[String]) -> bool {
        false
    }

    /// Whether the screen shows its input up, for an agent whose screen says so (None:
    /// it does not, and raw mode is all there is to go by).
    fn input_up(&self, _lines: &[String]) -> Option<bool> {
        None
    }

    /// Whether the screen says its dialog was just refused in its pane.
    fn dialog_refused(&self, _lines: &[String]) -> bool {
        false
    }

    /// The directories and files it keeps its state in; `var` reads its environment.
    fn state(&self, _home: &Path, _var: &dyn Fn(&str) -> Option<String>) -> (Vec<PathBuf>, Vec<PathBuf>) {
        (Vec::new(), Vec::new())
    }

    /// What it tries at every start that the sandbox refuses and that costs it nothing (an
    /// update check, telemetry, a cache it can do without): refused all the same, but not
    /// news (`expected`).
    fn harmless(&self, _home: &Path, _var: &dyn Fn(&str) -> Option<String>) -> Harmless {
        Harmless::default()
    }

    /// What in its own state makes it run code when you run it yourself (`StatePaths::runs_code`).
    fn runs_code(&self, _home: &Path, _var: &dyn Fn(&str) -> Option<String>) -> Vec<PathBuf> {
        Vec::new()
    }

    /// Where it keeps the conversations begun in `cwd`, which its resume reads: a forked
    /// transcript's path is relative to it (none: teamster cannot fork its conversations).
    /// It may read (and, where the agent has not been started in `cwd` yet, make) the
    /// agent's own record of its projects, as the agent would: blocking.
    fn conversations(
        &self,
        _home: &Path,
        _var: &dyn Fn(&str) -> Option<String>,
        _cwd: &Path,
    ) -> Result<Option<PathBuf>, String> {
        Ok(None)
    }

    /// The file of `conversation` beneath `root` (its `conversations`), relative to it, if
    /// it is there. It may look through the directory: blocking.
    fn transcript_in(&self, _root: &Path, _conversation: &str) -> Option<PathBuf> {
        None
    }

    /// The transcript of `conversation` beneath `root` (its `conversations`), read to at
    /// most one byte past `max` (so a longer one shows), and the path it goes by there, for
    /// a fork. Blocking. By default its file, read through no link.
    fn transcript(&self, root: &Path, conversation: &str, max: u64) -> Result<(PathBuf, Vec<u8>), String> {
        let rel = self
            .transcript_in(root, conversation)
            .ok_or_else(|| format!("conversation {conversation} is not in {}", root.display()))?;
        let path = root.join(&rel);
        let bytes = crate::nofollow::read(&path, max + 1)
            .map_err(|e| format!("cannot read the conversation's transcript {}: {e}", path.display()))?;
        Ok((rel, bytes))
    }

    /// Whether `rel`, a path a fork came with (the sharer's words), names `conversation`'s
    /// file as this agent names it, and nothing else beneath its conversations.
    fn transcript_fits(&self, _rel: &str, _conversation: &str) -> bool {
        false
    }

    /// What its resume names once the forked transcript is at `root`/`rel`: the same
    /// conversation id, unless the agent names a conversation by its file.
    fn resumed_as(&self, _root: &Path, _rel: &str, conversation: &str) -> String {
        conversation.to_string()
    }

    /// A sample of each hook payload it sends, for the self-check (none: nothing to check).
    fn samples(&self) -> Vec<(&'static str, Value)> {
        Vec::new()
    }
}

/// One name in a directory as agents name their files: letters, digits, `-`, `_` and `.`,
/// not empty and not hidden (so never `.` or `..`).
pub fn plain_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with('.')
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// A conversation id as agents make them (a UUID, `s-123`): letters, digits, `-` and `_`.
pub fn plain_id(conversation: &str) -> bool {
    !conversation.is_empty()
        && conversation.len() <= 128
        && conversation.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Hosts (through the proxy; `*.example.com` for subdomains) and places (beneath which a
/// write) an agent tries at every start to no purpose it needs.
#[derive(Default)]
pub struct Harmless {
    pub hosts: &'static [&'static str],
    pub paths: Vec<PathBuf>,
}

/// Whether a refusal of an agent of `kind` is no news, so not counted in its title: a
/// name lookup (the sandbox answers none; agents reach hosts by name through the proxy),
/// or what its adapter calls harmless.
pub fn expected(kind: AgentKind, home: &Path, var: &dyn Fn(&str) -> Option<String>, what: &Subject) -> bool {
    let harmless = adapter(kind).harmless(home, var);
    what.is_dns() || what.is_host_among(harmless.hosts) || what.is_beneath(&harmless.paths)
}

/// The adapter of `kind`.
pub fn adapter(kind: AgentKind) -> &'static dyn AgentAdapter {
    match kind {
        AgentKind::Claude => &super::claude::Claude,
        AgentKind::Codex => &super::codex::Codex,
        AgentKind::Pi => &super::pi::Pi,
        AgentKind::Gemini => &super::gemini::Gemini,
        AgentKind::Opencode => &super::opencode::Opencode,
        AgentKind::Command => &super::command::Command,
    }
}

/// `name` from the agent's environment, else `default` under `home`.
pub fn dir_of(home: &Path, var: &dyn Fn(&str) -> Option<String>, name: &str, default: &str) -> PathBuf {
    var(name).map(PathBuf::from).unwrap_or_else(|| home.join(default))
}
