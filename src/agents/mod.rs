//! Agents: how each kind of agent CLI is launched with teamster's integration wired in,
//! what its hooks report, how teamster answers them, and how it is resumed.
//!
//! One module per kind. Each turns the agent's own hook payloads into `HookEvent`s and an
//! `Answer` back into what that agent expects, and never touches the user's own files:
//! settings go by flag, or into a private directory per pane.

pub mod adapter;
pub mod claude;
pub mod codex;
pub mod command;
pub mod gemini;
pub mod opencode;
pub mod pi;
pub mod probe;

use crate::approval::Decision;
use crate::config::{AgentConfig, Config};
use crate::meter::upstream::RouteOrigin;
pub use crate::protocol::agent::{AgentKind, AgentState};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// An agent as the config (or the built-in defaults) describes it.
#[derive(Clone, Debug, PartialEq)]
pub struct Agent {
    pub name: String,
    pub kind: AgentKind,
    pub binary: String,
    pub args: Vec<String>,
    pub env: BTreeMap<String, String>,
    pub model: Option<String>,
    pub cwd: Option<String>,
    pub description: Option<String>,
    pub sandbox: crate::sandbox::Mode,
    pub writable: Vec<String>,
    pub readable: Vec<String>,
    /// Protected files of the workspace it may change (`crate::sandbox::PROTECTED`).
    pub may_change: Vec<String>,
}

impl Agent {
    /// The command line, for display.
    pub fn command_line(&self) -> String {
        std::iter::once(self.binary.as_str()).chain(self.args.iter().map(String::as_str)).collect::<Vec<_>>().join(" ")
    }
}

/// The agent `name`: its `[agents.NAME]` entry, or for the kinds' own names
/// (`claude`, `codex`, `pi`, `gemini`, `opencode`) the built-in default.
pub fn resolve(config: &Config, name: &str) -> Result<Agent, String> {
    match config.agents.get(name) {
        Some(entry) => from_config(name, entry),
        None => match AgentKind::from_name(name).filter(|k| *k != AgentKind::Command) {
            Some(kind) => Ok(Agent {
                name: name.into(),
                kind,
                binary: kind.default_binary().unwrap_or_default().into(),
                args: Vec::new(),
                env: BTreeMap::new(),
                model: None,
                cwd: None,
                description: Some(kind.title().into()),
                sandbox: crate::sandbox::Mode::On,
                writable: Vec::new(),
                readable: Vec::new(),
                may_change: Vec::new(),
            }),
            None => {
                let mut known: Vec<String> = config.agents.keys().cloned().collect();
                known.extend(AgentKind::BUILT_IN.iter().map(|k| k.name().to_string()));
                known.sort();
                known.dedup();
                Err(format!("no agent `{name}`; the agents are: {}", known.join(", ")))
            }
        },
    }
}

pub fn from_config(name: &str, entry: &AgentConfig) -> Result<Agent, String> {
    let kind = entry.kind_or_default(name)?;
    let binary = match (&entry.command, kind.default_binary()) {
        (Some(c), _) => c.clone(),
        (None, Some(b)) => b.to_string(),
        (None, None) => return Err(format!("[agents.{name}] needs `command`: the program to run")),
    };
    if let Some(odd) = entry.may_change.iter().find(|n| !crate::sandbox::PROTECTED.contains(&n.as_str())) {
        return Err(format!(
            "[agents.{name}] may_change: `{odd}` is not one of the protected files ({}); other files need no leave",
            crate::sandbox::PROTECTED.join(", ")
        ));
    }
    Ok(Agent {
        name: name.into(),
        kind,
        binary,
        args: entry.args.clone(),
        env: entry.env.clone(),
        model: entry.model.clone(),
        cwd: entry.cwd.clone(),
        description: entry.description.clone(),
        sandbox: entry.sandbox,
        writable: entry.writable.clone(),
        readable: entry.readable.clone(),
        may_change: entry.may_change.clone(),
    })
}

/// Every agent a user can start: the config's, then the built-in kinds not overridden.
pub fn all(config: &Config) -> Vec<Agent> {
    let mut out: Vec<Agent> = config.agents.keys().filter_map(|n| resolve(config, n).ok()).collect();
    for kind in AgentKind::BUILT_IN {
        if !config.agents.contains_key(kind.name()) {
            out.extend(resolve(config, kind.name()));
        }
    }
    out
}

/// A tool call an agent is about to make.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ToolCall {
    /// The agent's name for the tool (`Bash`, `exec_command`, `run_shell_command`...).
    pub tool: String,
    /// The shell command, for tools that run one.
    pub command: Option<String>,
    /// Files the call reads or writes.
    pub paths: Vec<String>,
    /// The agent's own id for the call.
    pub id: Option<String>,
    /// For an edit, what it changes: `-` lines it takes out, `+` lines it puts in.
    #[serde(default)]
    pub diff: Option<String>,
}

/// The most of an edit's diff a card shows.
const DIFF_MAX: usize = 4000;

/// The change an edit tool's arguments describe (`old_string`/`new_string`, or a whole
/// file's `content`), as `-` and `+` lines.
fn edit_diff(input: &serde_json::Value) -> Option<String> {
    let lines = |text: &str, mark: char| text.lines().map(|l| format!("{mark}{l}\n")).collect::<String>();
    // Claude Code's and Gemini CLI's names, opencode's, Pi's.
    let any = |keys: [&str; 3]| keys.iter().find_map(|k| field(input, &[k]));
    let (old, new) = (any(["old_string", "oldString", "oldText"]), any(["new_string", "newString", "newText"]));
    let diff = match (old, new, field(input, &["content"])) {
        (Some(old), Some(new), _) => lines(old, '-') + &lines(new, '+'),
        (None, None, Some(content)) => lines(content, '+'),
        _ => return None,
    };
    Some(cap_diff(diff))
}

/// A diff cut to what a card shows, saying so.
pub fn cap_diff(diff: String) -> String {
    if diff.len() <= DIFF_MAX {
        return diff;
    }
    let mut end = DIFF_MAX;
    while !diff.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… ({} more bytes)\n", &diff[..end], diff.len() - end)
}

impl ToolCall {
    /// A call of `tool` with the agent's arguments `input`: its command, and the files it
    /// names under any of the keys the agents use.
    pub fn of(tool: Option<&str>, input: Option<&serde_json::Value>, id: Option<&str>) -> ToolCall {
        const PATH_KEYS: [&str; 6] = ["file_path", "filePath", "path", "absolute_path", "dir_path", "notebook_path"];
        let input = input.unwrap_or(&serde_json::Value::Null);
        ToolCall {
            tool: tool.unwrap_or("unknown").to_string(),
            command: field(input, &["command"]).map(str::to_string),
            paths: PATH_KEYS.iter().filter_map(|k| field(input, &[k])).map(str::to_string).collect(),
            id: id.map(str::to_string),
            diff: edit_diff(input),
        }
    }

    /// A call known only by a description (a notification that names no command).
    pub fn named(what: &str) -> ToolCall {
        ToolCall { tool: what.to_string(), command: None, paths: Vec::new(), id: None, diff: None }
    }

    /// What the call does, whatever the agent calls its tool: its command, else the file it
    /// acts on. A policy's question and the agent's own about the same call are one when
    /// this is the same (an agent's hook and its dialog may name one edit tool two ways).
    pub fn act(&self) -> String {
        // Whether it only looks at its files, by the words the agents' tools are named with
        // (`Read`, `read_file`, `glob`...); anything else may change them.
        const LOOKS: [&str; 8] = ["read", "view", "glob", "grep", "list", "search", "find", "fetch"];
        const CHANGES: [&str; 8] = ["write", "edit", "replace", "patch", "create", "delete", "move", "rename"];
        let tool = self.tool.to_ascii_lowercase();
        let looks =
            (LOOKS.iter().any(|w| tool.contains(w)) || tool == "ls") && !CHANGES.iter().any(|w| tool.contains(w));
        match &self.command {
            Some(c) => c.clone(),
            None if !self.paths.is_empty() => {
                format!("{} {}", if looks { "reads" } else { "changes" }, self.paths.join("\n"))
            }
            None => self.tool.clone(),
        }
    }

    /// One line for people: the command, else the files, else the tool.
    pub fn summary(&self) -> String {
        match (&self.command, self.paths.first()) {
            (Some(c), _) => c.clone(),
            (None, Some(p)) => format!("{} {p}", self.tool),
            (None, None) => self.tool.clone(),
        }
    }

    /// What of the call a dialog about it is sure to show: its command, else its file's
    /// name (dialogs show paths in their own way), else what the tool is called.
    pub fn shown_as(&self) -> String {
        match (&self.command, self.paths.first()) {
            (Some(c), _) => c.clone(),
            (None, Some(p)) => p.rsplit('/').find(|s| !s.is_empty()).unwrap_or(p).to_string(),
            (None, None) => self.tool.clone(),
        }
    }
}

/// What an agent's integration reports.
#[derive(Clone, Debug, PartialEq)]
pub enum HookEvent {
    /// The agent is in a conversation, and this id (or file) resumes it. Reported once the
    /// user has said something, so a resume never names an empty conversation.
    Conversation(String),
    /// The agent is up and waits for its first prompt.
    Ready,
    PromptSubmitted,
    /// About to run a tool: the runner answers before it runs.
    ToolCall(ToolCall),
    /// The agent asks its user about this call and waits for the hook's answer (Claude
    /// Code's and Codex's `PermissionRequest`): an item in teamster's queue, answered
    /// through the hook.
    PermissionDialog(ToolCall),
    /// The agent's own question (`id`, as `PermissionDialog`'s call named it) was answered
    /// in its pane.
    DialogAnswered {
        id: String,
        approved: bool,
    },
    /// The agent shows its own dialog, which its hook cannot answer (Gemini CLI, opencode,
    /// Claude's notice of a dialog already queued): the pane needs approval.
    DialogShown(ToolCall),
    /// Where the agent's providers really lead, learned once it runs (Pi).
    Routes(Vec<Route>),
    /// A call is over: it ran (and so was approved, wherever that was), with the call
    /// where the agent says which.
    ToolFinished(Option<ToolCall>),
    /// The agent finished its turn.
    TurnFinished,
    /// The agent waits for the user (a question, its own permission dialog).
    WaitingForUser(String),
}

/// What a hook is answered: a decision made in teamster (approved: the call goes ahead
/// without the agent asking again), or `None`, no objection: the agent's own permission
/// rules decide, as they would without teamster.
pub type Answer = Option<crate::approval::Decision>;

/// How to start an agent: the command line and environment, files to write first, and
/// where the metering proxy sends its model calls.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Launch {
    pub argv: Vec<String>,
    pub env: Vec<(String, String)>,
    /// Teamster's own files for the agent (its settings, hooks): written at every start,
    /// read-only to the agent.
    pub files: Vec<(PathBuf, String)>,
    /// Files the agent starts from and then owns (a copy of the user's own state file):
    /// the agent's to change.
    pub seeds: Vec<Seed>,
    pub routes: Vec<Route>,
    /// teamster holds each of the agent's tool calls for a person: its equivalent of a
    /// mode of the agent's own that cannot run inside teamster's sandbox.
    pub holds_calls: bool,
    /// What the pane says before the agent starts (how teamster mapped such a mode).
    pub notice: Option<String>,
}

/// A file an agent starts from and then owns.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Seed {
    pub path: PathBuf,
    pub text: String,
    /// Written over what is there (what it started from changed); else only where no file
    /// is yet.
    pub anew: bool,
}

impl Launch {
    /// Writes teamster's files (every time) and the seeds, through no symlink.
    pub fn write(&self) -> Result<(), String> {
        let failed = |path: &Path, e: std::io::Error| format!("cannot write {}: {e}", path.display());
        for (path, text) in &self.files {
            write_private(path, text).map_err(|e| failed(path, e))?;
        }
        for seed in &self.seeds {
            let written =
                if seed.anew { write_private(&seed.path, &seed.text) } else { write_seed(&seed.path, &seed.text) };
            written.map_err(|e| failed(&seed.path, e))?;
        }
        Ok(())
    }
}

/// One of an agent's LLM endpoints, as the metering proxy sees it: the agent's base URL
/// for it is `PROXY/ID`, and the proxy forwards to `upstream` (what the agent would have
/// used) the rest of the path.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Route {
    pub id: String,
    /// The API family: anthropic, openai, google.
    pub provider: String,
    pub upstream: String,
    /// Where requests made with ChatGPT login go instead (Codex and opencode send those to
    /// ChatGPT's backend, not the API).
    pub chatgpt: Option<String>,
    /// Who named `upstream`: the adapter says when it was the user's teamster config; the
    /// runner makes every hook's route the agent's and recognises the providers' own APIs.
    /// Never read from a payload.
    #[serde(skip)]
    pub origin: RouteOrigin,
    /// What this agent puts after its provider's API root in the base URL it is given
    /// (opencode's Anthropic base URL ends in `/v1`, Claude Code's does not): added to a
    /// `[providers.FAMILY] base_url`, which is the root as the provider documents it.
    /// The adapter's to say, never a payload's.
    #[serde(skip)]
    pub root: String,
}

impl Route {
    /// A route to an upstream the agent named (or could have: its settings files, its
    /// environment), until the runner sees it is the provider's own API.
    pub fn new(id: &str, provider: &str, upstream: impl Into<String>) -> Route {
        Route {
            id: id.into(),
            provider: provider.into(),
            upstream: upstream.into(),
            chatgpt: None,
            origin: RouteOrigin::Agent,
            root: String::new(),
        }
    }

    /// A route to `upstream` with its origin, from `upstream_setting`.
    pub fn from_setting(id: &str, provider: &str, (upstream, origin): (String, RouteOrigin)) -> Route {
        Route { origin, ..Route::new(id, provider, upstream) }
    }
}

/// A base URL setting and who made it: the agent's entry in the teamster config
/// (`[agents.NAME.env]`) is the user's; the environment the agent starts from, its
/// settings files and the rest are what the agent may have written, so they are the
/// agent's.
pub fn upstream_setting(agent: &Agent, ctx: &LaunchContext, name: &str) -> Option<(String, RouteOrigin)> {
    match agent.env.get(name).filter(|v| !v.is_empty()) {
        Some(v) => Some((v.clone(), RouteOrigin::UserConfig)),
        None => ctx.var(name).map(|v| (v.to_string(), RouteOrigin::Agent)),
    }
}

/// The API that answers when nothing else is set, per provider family.
pub const OPENAI_API: &str = "https://api.openai.com/v1";
pub const CHATGPT_BACKEND: &str = "https://chatgpt.com/backend-api/codex";

/// What an adapter needs to know to build a launch.
#[derive(Clone, Copy)]
pub struct LaunchContext<'a> {
    /// The `teamster` binary, for hook commands.
    pub teamster: &'a Path,
    /// A private directory for this pane: generated settings, overlays.
    pub dir: &'a Path,
    /// The user's home, for carrying over their own config and auth.
    pub home: &'a Path,
    /// Where the agent runs.
    pub cwd: &'a Path,
    /// The conversation to resume, if the pane is coming back after a restart.
    pub resume: Option<&'a str>,
    /// The pane's own hook socket (which pane is speaking is the socket it speaks on).
    pub socket: &'a Path,
    /// The environment the agent starts with (the user's, as the client had it).
    pub env: &'a [(String, String)],
    /// The pane's address at the metering proxy (`http://127.0.0.1:PORT/t/TOKEN`), when
    /// teamster meters.
    pub proxy: Option<&'a str>,
    /// The agent runs in teamster's sandbox (docs/sandbox.md): agents that confine or
    /// rewrite things themselves are set up not to fight it.
    pub sandboxed: bool,
}

impl<'a> LaunchContext<'a> {
    /// The arguments of `teamster` for a hook of `event`. The socket goes on the command
    /// line (some agents give hooks a pared-down environment); nothing secret does, since
    /// command lines are there for other processes to read.
    pub fn hook_args(&self, kind: AgentKind, event: &str) -> Vec<String> {
        let socket = self.socket.to_string_lossy().into_owned();
        ["hook", kind.name(), event, "--socket", &socket].map(String::from).to_vec()
    }

    /// The hook command line, for agents that run hooks through a shell.
    pub fn hook(&self, kind: AgentKind, event: &str) -> String {
        std::iter::once(self.teamster.to_string_lossy().into_owned())
            .chain(self.hook_args(kind, event))
            .map(|a| shell_quote(&a))
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// A variable of the agent's environment.
    pub fn var(&self, name: &str) -> Option<&'a str> {
        self.env.iter().rev().find(|(k, _)| k == name).map(|(_, v)| v.as_str()).filter(|v| !v.is_empty())
    }

    #[cfg(test)]
    pub fn sample(dir: &'a Path) -> LaunchContext<'a> {
        LaunchContext {
            teamster: Path::new("/usr/bin/teamster"),
            dir,
            home: Path::new("/nonexistent-home"),
            cwd: Path::new("/work"),
            resume: None,
            socket: Path::new("/run/hooks.sock"),
            env: &[],
            proxy: None,
            sandboxed: false,
        }
    }

    /// The proxy address of a route.
    pub fn route_url(&self, id: &str) -> Option<String> {
        self.proxy.map(|p| format!("{p}/{id}"))
    }
}

/// Where an agent keeps its own state (config, logins, history): writable for it in the
/// sandbox, hidden from other agents.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct StatePaths {
    pub dirs: Vec<PathBuf>,
    pub files: Vec<PathBuf>,
    /// Within them, what makes the agent run code when you run it yourself, outside
    /// teamster (its hooks, plugins, MCP servers): read-only to it in the sandbox, or a
    /// hostile agent would plant code that runs unconfined, as you.
    pub runs_code: Vec<PathBuf>,
}

impl StatePaths {
    pub fn all(&self) -> impl Iterator<Item = &PathBuf> {
        self.dirs.iter().chain(&self.files)
    }

    /// Adds `other`'s directories and files not here yet (its `runs_code` is not taken).
    pub fn merge(&mut self, other: StatePaths) {
        for (mine, theirs) in [(&mut self.dirs, other.dirs), (&mut self.files, other.files)] {
            for p in theirs {
                if !mine.contains(&p) {
                    mine.push(p);
                }
            }
        }
    }
}

/// The state of an agent of `kind`; `var` reads the agent's environment.
pub fn state_paths(kind: AgentKind, home: &Path, var: &dyn Fn(&str) -> Option<String>) -> StatePaths {
    let adapter = adapter::adapter(kind);
    let (dirs, files) = adapter.state(home, var);
    StatePaths { dirs, files, runs_code: adapter.runs_code(home, var) }
}

/// The object at `keys` within `v` (made where missing), for setting a value in a user's
/// settings. Something there that is not an object is the user's, and an error naming
/// `file` and the key: teamster does not overwrite it (nor panic on it).
pub fn object_at<'a>(
    v: &'a mut serde_json::Value,
    keys: &[&str],
    file: &str,
) -> Result<&'a mut serde_json::Map<String, serde_json::Value>, String> {
    let not_object = |depth: usize| {
        let shown = if depth == 0 { "the top level".to_string() } else { format!("`{}`", keys[..depth].join(".")) };
        format!("{file}: {shown} is not an object; fix it, or remove it")
    };
    let mut at = v;
    for (depth, key) in keys.iter().enumerate() {
        if at.is_null() {
            *at = serde_json::json!({});
        }
        let map = at.as_object_mut().ok_or_else(|| not_object(depth))?;
        at = map.entry(key.to_string()).or_insert(serde_json::Value::Null);
    }
    if at.is_null() {
        *at = serde_json::json!({});
    }
    at.as_object_mut().ok_or_else(|| not_object(keys.len()))
}

/// A variable as the agent will see it: its config entry's `env`, else the user's.
pub fn setting(agent: &Agent, ctx: &LaunchContext, name: &str) -> Option<String> {
    setting_in(agent, ctx.env, name)
}

/// The same, given the environment the agent starts from.
pub fn setting_in(agent: &Agent, env: &[(String, String)], name: &str) -> Option<String> {
    let set = |v: &&String| !v.is_empty();
    let from_env = || env.iter().rev().find(|(k, _)| k == name).map(|(_, v)| v).filter(set).cloned();
    agent.env.get(name).filter(set).cloned().or_else(from_env)
}

/// `NO_PROXY` and `no_proxy` with loopback added: with `HTTPS_PROXY` set, every agent would
/// send its calls to teamster's proxy through the user's proxy otherwise.
fn no_proxy(agent: &Agent, ctx: &LaunchContext) -> Vec<(String, String)> {
    ["NO_PROXY", "no_proxy"]
        .iter()
        .map(|name| {
            let mine = setting(agent, ctx, name).unwrap_or_default();
            let list =
                if mine.is_empty() { "127.0.0.1,localhost".to_string() } else { format!("{mine},127.0.0.1,localhost") };
            (name.to_string(), list)
        })
        .collect()
}

pub fn shell_quote(s: &str) -> String {
    if s.chars().all(|c| c.is_ascii_alphanumeric() || "/._-+=:,@".contains(c)) {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

pub fn launch(agent: &Agent, ctx: &LaunchContext) -> Result<Launch, String> {
    let mut l = adapter::adapter(agent.kind).launch(agent, ctx)?;
    l.argv.extend(agent.args.iter().cloned());
    if agent.kind == AgentKind::Codex && ctx.sandboxed {
        codex::map_own_sandbox(&mut l);
    }
    let theirs: Vec<(String, String)> = agent
        .env
        .iter()
        .filter(|(k, _)| !l.env.iter().any(|(ours, _)| ours == *k))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    l.env.extend(theirs);
    if ctx.proxy.is_some() && agent.kind != AgentKind::Command {
        l.env.retain(|(k, _)| k != "NO_PROXY" && k != "no_proxy");
        l.env.extend(no_proxy(agent, ctx));
    }
    Ok(l)
}

/// What a hook payload reports.
pub fn parse_hook(kind: AgentKind, event: &str, payload: &serde_json::Value) -> Vec<HookEvent> {
    adapter::adapter(kind).parse(event, payload)
}

/// What the hook command prints, and its exit code, to give the agent the verdict.
/// `payload` is what the agent sent with the event (Claude's own "always" suggestions).
pub fn hook_reply(kind: AgentKind, event: &str, payload: &serde_json::Value, answer: &Answer) -> (String, i32) {
    adapter::adapter(kind).reply(event, payload, answer.as_ref())
}

/// Whether teamster answers the agent's own dialog by typing its keys (its hooks cannot
/// answer it: Gemini CLI).
pub fn answers_by_keys(kind: AgentKind) -> bool {
    adapter::adapter(kind).answers_by_keys()
}

/// The keys that give `decision` to the agent's own dialog on screen (`lines`); `None`
/// while it is not there.
pub fn dialog_keys(kind: AgentKind, lines: &[String], decision: &Decision) -> Option<Vec<u8>> {
    adapter::adapter(kind).dialog_keys(lines, decision)
}

/// Whether the agent's input takes a prompt now (its screen shows its prompt box).
pub fn takes_prompt(kind: AgentKind, lines: &[String]) -> bool {
    adapter::adapter(kind).takes_prompt(lines)
}

/// Whether the screen says the agent's dialog was just refused in its pane.
pub fn dialog_refused(kind: AgentKind, lines: &[String]) -> bool {
    adapter::adapter(kind).dialog_refused(lines)
}

/// What the screen says of the agent's state, for what hooks do not report (its own
/// permission dialog, for one). `lines` are the visible rows.
pub fn screen_state(kind: AgentKind, lines: &[String]) -> Option<AgentState> {
    adapter::adapter(kind).screen_state(lines)
}

/// Checks, without running the agent, that teamster's side of its integration works: a
/// sample of each hook payload it sends parses to the events expected, and a verdict comes
/// back in the form it reads.
pub fn self_check(kind: AgentKind) -> Result<(), String> {
    let samples = adapter::adapter(kind).samples();
    if samples.is_empty() {
        return Ok(());
    }
    let mut saw_tool_call = false;
    for (event, payload) in &samples {
        for ev in parse_hook(kind, event, payload) {
            if let HookEvent::ToolCall(call) = ev {
                saw_tool_call = true;
                if call.tool.is_empty() {
                    return Err(format!("{event}: tool call without a tool name"));
                }
                let (out, code) = hook_reply(kind, event, payload, &Some(Decision::deny("check")));
                if !out.contains("check") && code == 0 {
                    return Err(format!("{event}: a deny would not stop the call"));
                }
            }
        }
    }
    if saw_tool_call { Ok(()) } else { Err("no sample tool call was recognised".into()) }
}

/// `{"hooks": {EVENT: [{"matcher": M, "hooks": [HOOK]}]}}`, the shape Claude Code, Codex
/// and Gemini CLI read hooks in; events about tools get `tool_matcher` (every tool).
pub fn hooks_block(events: &[&str], tool_matcher: &str, hook: impl Fn(&str) -> serde_json::Value) -> serde_json::Value {
    let mut hooks = serde_json::Map::new();
    for event in events {
        let mut group = serde_json::json!({ "hooks": [hook(event)] });
        if event.contains("Tool") || *event == "PermissionRequest" {
            group["matcher"] = serde_json::json!(tool_matcher);
        }
        hooks.insert(event.to_string(), serde_json::json!([group]));
    }
    serde_json::json!({ "hooks": hooks })
}

/// The events a hook payload starts with: the conversation it names under the first of
/// `keys` present. Not in the `start` event: a conversation may still be empty then, and
/// resuming an empty one fails, so it counts from the first prompt on.
pub(crate) fn conversation_in(payload: &serde_json::Value, keys: &[&str], event: &str, start: &str) -> Vec<HookEvent> {
    let id = keys.iter().find_map(|k| field(payload, &[k])).filter(|id| !id.is_empty() && event != start);
    id.map(|id| HookEvent::Conversation(id.to_string())).into_iter().collect()
}

/// `base` with the keys of `extra` added.
pub(crate) fn merged(base: &serde_json::Value, extra: serde_json::Value) -> serde_json::Value {
    let mut v = base.clone();
    if let (Some(o), serde_json::Value::Object(e)) = (v.as_object_mut(), extra) {
        o.extend(e);
    }
    v
}

/// A string field of a JSON payload.
pub(crate) fn field<'a>(v: &'a serde_json::Value, path: &[&str]) -> Option<&'a str> {
    let mut v = v;
    for p in path {
        v = v.get(*p)?;
    }
    v.as_str()
}

/// Writes `text` to `path` with only the owner able to read it, following no symlink an
/// agent could have planted on the way (`crate::nofollow`).
pub fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    crate::nofollow::write(&crate::nofollow::base_of(path)?, path, text.as_bytes())
}

/// Writes `text` to `path` (0600, through no symlink) only if nothing is there yet.
pub fn write_seed(path: &Path, text: &str) -> std::io::Result<()> {
    crate::nofollow::write_new(&crate::nofollow::base_of(path)?, path, text.as_bytes()).map(|_| ())
}

/// Makes sure the places where an agent keeps its conversations exist in the user's own
/// directory `user` (`dirs`, and empty `files`), so that `overlay` links them and what the
/// agent writes there is where it would be without teamster (`codex resume` outside finds
/// a conversation a first-time user had in teamster). Made through no symlink; nothing
/// there is changed.
pub fn share_state(user: &Path, dirs: &[&str], files: &[&str]) -> Result<(), String> {
    let base = crate::nofollow::base_of(user).map_err(|e| e.to_string())?;
    for d in dirs {
        crate::nofollow::open_dir(&base, &user.join(d))
            .map_err(|e| format!("cannot create {}: {e}", user.join(d).display()))?;
    }
    for f in files {
        crate::nofollow::write_new(&base, &user.join(f), b"")
            .map_err(|e| format!("cannot create {}: {e}", user.join(f).display()))?;
    }
    Ok(())
}

/// Makes `private` stand in for the user's config directory `user`: every entry of it
/// appears in `private` as a link to the user's own (so auth, instructions and history are
/// shared), except the names in `generated`, which the caller writes. Nothing in `user`
/// changes.
pub fn overlay(user: &Path, private: &Path, generated: &[&str]) -> Result<(), String> {
    // The private directory is the agent's to write: nothing is made through a symlink.
    let base = crate::nofollow::base_of(private).map_err(|e| e.to_string())?;
    crate::nofollow::open_dir(&base, private).map_err(|e| format!("cannot create {}: {e}", private.display()))?;
    let Ok(entries) = std::fs::read_dir(user) else { return Ok(()) };
    for entry in entries.flatten() {
        let name = entry.file_name();
        if generated.iter().any(|g| name == *g) {
            continue;
        }
        let link = private.join(&name);
        crate::nofollow::symlink(&base, &entry.path(), &link)
            .map_err(|e| format!("cannot link {} to {}: {e}", link.display(), entry.path().display()))?;
    }
    Ok(())
}

/// Reads a JSON settings file that may carry comments and trailing commas (JSONC);
/// a missing file is an empty object.
pub fn read_jsonc(path: &Path) -> Result<serde_json::Value, String> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(serde_json::json!({})),
        Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
    };
    let plain = strip_jsonc(&text);
    if plain.trim().is_empty() {
        return Ok(serde_json::json!({}));
    }
    serde_json::from_str(&plain).map_err(|e| {
        format!("{} is not valid JSON ({e}); fix it so teamster can add its hooks beside your settings", path.display())
    })
}

/// JSONC to JSON: drops `//` and `/* */` comments outside strings, and commas before `}`/`]`.
pub fn strip_jsonc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    let mut in_string = false;
    while let Some(c) = chars.next() {
        if in_string {
            out.push(c);
            match c {
                '\\' => out.extend(chars.next()),
                '"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match (c, chars.peek()) {
            ('"', _) => {
                in_string = true;
                out.push(c);
            }
            ('/', Some('/')) => {
                while chars.peek().is_some_and(|c| *c != '\n') {
                    chars.next();
                }
            }
            ('/', Some('*')) => {
                chars.next();
                let mut last = ' ';
                for c in chars.by_ref() {
                    if last == '*' && c == '/' {
                        break;
                    }
                    last = c;
                }
            }
            (']' | '}', _) => {
                let trimmed = out.trim_end().len();
                if out[..trimmed].ends_with(',') {
                    out.truncate(trimmed - 1);
                }
                out.push(c);
            }
            _ => out.push(c),
        }
    }
    out
}

/// Appends `ours` (`{"hooks": {EVENT: [...]}}`) to the hooks a user's settings already
/// have, so both run.
pub fn merge_hooks(settings: &mut serde_json::Value, ours: serde_json::Value) {
    if !settings.is_object() {
        *settings = serde_json::json!({});
    }
    let hooks = &mut settings["hooks"];
    if !hooks.is_object() {
        *hooks = serde_json::json!({});
    }
    if let Some(ours) = ours.get("hooks").and_then(|h| h.as_object()) {
        for (event, groups) in ours {
            let list = &mut hooks[event.as_str()];
            if !list.is_array() {
                *list = serde_json::json!([]);
            }
            if let (Some(list), Some(groups)) = (list.as_array_mut(), groups.as_array()) {
                list.extend(groups.iter().cloned());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_edit_carries_its_change_as_a_diff() {
        let edit = serde_json::json!({ "file_path": "/w/a.rs", "old_string": "a\nb", "new_string": "a\nc" });
        let call = ToolCall::of(Some("Edit"), Some(&edit), None);
        assert_eq!(call.diff.as_deref(), Some("-a\n-b\n+a\n+c\n"));
        assert_eq!(call.paths, vec!["/w/a.rs".to_string()]);
        let write = serde_json::json!({ "file_path": "/w/new.txt", "content": "hello" });
        assert_eq!(ToolCall::of(Some("Write"), Some(&write), None).diff.as_deref(), Some("+hello\n"));
        let shell = serde_json::json!({ "command": "ls" });
        assert_eq!(ToolCall::of(Some("Bash"), Some(&shell), None).diff, None);
        // A large one is cut, and says how much is left out.
        let big = cap_diff("+é\n".repeat(3000));
        assert!(big.len() < 4100 && big.ends_with("more bytes)\n"), "{}", &big[big.len() - 40..]);
    }

    #[test]
    fn each_agents_own_dialog_is_read_off_its_screen() {
        let screen = |lines: &[&str]| lines.iter().map(|l| l.to_string()).collect::<Vec<_>>();
        let cases = [
            (AgentKind::Claude, " Do you want to proceed?", Some(AgentState::NeedsApproval)),
            (AgentKind::Claude, " Do you want to make this edit to app.rs?", Some(AgentState::NeedsApproval)),
            (AgentKind::Claude, "   What should Claude do instead?", Some(AgentState::WaitingForInput)),
            (AgentKind::Codex, "  Would you like to run the following command?", Some(AgentState::NeedsApproval)),
            (AgentKind::Codex, "  Would you like to make the following edits?", Some(AgentState::NeedsApproval)),
            (AgentKind::Gemini, " Allow execution of: 'touch'?", Some(AgentState::NeedsApproval)),
            (AgentKind::Opencode, "  △ Permission required", Some(AgentState::NeedsApproval)),
        ];
        for (kind, line, want) in cases {
            let lines = screen(&["> working on it", line, "  1. Yes"]);
            assert_eq!(screen_state(kind, &lines), want, "{kind:?}: {line}");
            // Another agent's dialog, and an ordinary screen, are nothing.
            let other = if kind == AgentKind::Codex { AgentKind::Gemini } else { AgentKind::Codex };
            assert_eq!(screen_state(other, &lines), None, "{other:?} read {line}");
            assert_eq!(screen_state(kind, &screen(&["> working on it", "  ran 3 tests"])), None);
        }
    }

    #[test]
    fn jsonc_comments_and_trailing_commas_go_but_strings_stay() {
        let text =
            "{\n  // the key\n  \"url\": \"http://x//y\", /* note */\n  \"list\": [1, 2,],\n  \"q\": \"a\\\"//b\",\n}";
        let v: serde_json::Value = serde_json::from_str(&strip_jsonc(text)).unwrap();
        assert_eq!(v, serde_json::json!({ "url": "http://x//y", "list": [1, 2], "q": "a\"//b" }));
    }

    #[test]
    fn our_hooks_run_beside_the_users() {
        let mut settings = serde_json::json!({ "theme": "x", "hooks": { "BeforeTool": [{ "mine": 1 }] } });
        merge_hooks(
            &mut settings,
            serde_json::json!({ "hooks": { "BeforeTool": [{ "ours": 1 }], "AfterAgent": [{ "ours": 2 }] } }),
        );
        assert_eq!(settings["hooks"]["BeforeTool"], serde_json::json!([{ "mine": 1 }, { "ours": 1 }]));
        assert_eq!(settings["hooks"]["AfterAgent"], serde_json::json!([{ "ours": 2 }]));
        assert_eq!(settings["theme"], "x");
    }

    #[test]
    fn an_overlay_links_the_users_files_and_leaves_them_alone() {
        let root = std::env::temp_dir().join(format!("teamster-overlay-{}", std::process::id()));
        let (user, private) = (root.join("user"), root.join("private"));
        std::fs::create_dir_all(user.join("sessions")).unwrap();
        std::fs::write(user.join("auth.json"), "{}").unwrap();
        std::fs::write(user.join("settings.json"), "{\"a\":1}").unwrap();
        overlay(&user, &private, &["settings.json"]).unwrap();
        assert_eq!(std::fs::read_link(private.join("auth.json")).unwrap(), user.join("auth.json"));
        assert!(std::fs::read_link(private.join("sessions")).is_ok());
        assert!(!private.join("settings.json").exists());
        // Again, over what is there: no error, nothing doubled.
        overlay(&user, &private, &["settings.json"]).unwrap();
        assert_eq!(std::fs::read_to_string(user.join("settings.json")).unwrap(), "{\"a\":1}");
        let _ = std::fs::remove_dir_all(root);
    }

    #[test]
    fn built_in_kinds_resolve_by_name_and_config_overrides_them() {
        let config = Config::default();
        let a = resolve(&config, "codex").unwrap();
        assert_eq!((a.kind, a.binary.as_str()), (AgentKind::Codex, "codex"));
        let err = resolve(&config, "nope").unwrap_err();
        assert!(err.contains("claude, codex, gemini, opencode, pi"), "{err}");

        let text = "[agents.reviewer]\nkind = \"claude\"\nmodel = \"opus\"\n[agents.tests]\ncommand = \"cargo\"\nargs = [\"test\"]\n";
        let config = Config::parse(Path::new("c.toml"), text).unwrap();
        let r = resolve(&config, "reviewer").unwrap();
        assert_eq!((r.kind, r.binary.as_str(), r.model.as_deref()), (AgentKind::Claude, "claude", Some("opus")));
        let t = resolve(&config, "tests").unwrap();
        assert_eq!((t.kind, t.binary.as_str()), (AgentKind::Command, "cargo"));
        // Leave to change a protected file names one of them, or it is an error that says so.
        let odd = "[agents.ed]\nkind = \"claude\"\nmay_change = [\".vscode\", \"~/.bashrc\"]\n";
        let leave = Config::parse(Path::new("c.toml"), odd).unwrap();
        let err = resolve(&leave, "ed").unwrap_err();
        assert!(err.contains("`~/.bashrc` is not one of the protected files"), "{err}");
        let names: Vec<String> = all(&config).into_iter().map(|a| a.name).collect();
        assert_eq!(names, ["reviewer", "tests", "claude", "codex", "pi", "gemini", "opencode"]);
    }

    #[test]
    fn switching_agents_is_one_line() {
        for kind in AgentKind::BUILT_IN {
            let text = format!("[agents.helper]\nkind = \"{}\"\n", kind.name());
            let config = Config::parse(Path::new("c.toml"), &text).unwrap();
            assert_eq!(resolve(&config, "helper").unwrap().kind, kind);
        }
    }

    #[test]
    fn shell_quoting() {
        assert_eq!(shell_quote("/usr/bin/teamster"), "/usr/bin/teamster");
        assert_eq!(shell_quote("/a b/it's"), "'/a b/it'\\''s'");
    }
}
