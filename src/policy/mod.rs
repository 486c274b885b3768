//! Policies: rules from the config, evaluated on every event that matters (a tool call an
//! agent reports, an LLM request at the metering proxy, a session start, and what agents
//! do on the wire: pushes, downloads, contacts with hosts), with the state
//! they test (spend, marks set by earlier rules), to a verdict: allow, deny with a reason,
//! or ask.
//!
//! Pure and deterministic: events and state in, a decision out. The runner does the I/O
//! (what branch a checkout is on, what was spent) and keeps the state.

pub mod rule;
pub mod shell;

pub use rule::{Match, Rule, RuleConfig, Trigger};

use crate::paths::normalize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// What a rule decides.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    Allow,
    Deny {
        reason: String,
    },
    /// Held for a person: the approval sidebar, `teamster approve`/`deny`.
    Ask {
        reason: String,
    },
    /// No rule spoke: a tool call goes on to the agent's own permission rules, a request
    /// goes out.
    Defer,
}

/// A named mark a rule set, with the spend and time it was set at: `spent_since` rules
/// measure from it.
#[derive(Clone, Debug, PartialEq)]
pub struct Mark {
    pub spend: f64,
    pub at: u64,
}

pub type Marks = BTreeMap<String, Mark>;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MarkChange {
    Set(String),
    Clear(String),
}

impl std::fmt::Display for MarkChange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MarkChange::Set(name) => write!(f, "set {name}"),
            MarkChange::Clear(name) => write!(f, "clear {name}"),
        }
    }
}

/// What happened, as the rules see it.
#[derive(Clone, Debug, PartialEq)]
pub enum Event {
    ToolCall {
        tool: String,
        command: Option<String>,
        paths: Vec<String>,
        /// Where the agent runs, and the root of its workspace (its worktree or directory).
        cwd: PathBuf,
        workspace: PathBuf,
        /// The branch its checkout is on, when a rule asks about branches.
        branch: Option<String>,
        /// For `~` in commands.
        home: PathBuf,
    },
    LlmRequest {
        provider: String,
        model: Option<String>,
    },
    SessionStart,
    /// What an agent did on the wire: a push, a download, a contact with a host.
    Effect(crate::effects::Effect),
}

impl Event {
    pub fn trigger(&self) -> Trigger {
        match self {
            Event::ToolCall { .. } => Trigger::ToolCall,
            Event::LlmRequest { .. } => Trigger::LlmRequest,
            Event::SessionStart => Trigger::SessionStart,
            Event::Effect(crate::effects::Effect::Push(_)) => Trigger::Push,
            Event::Effect(crate::effects::Effect::Download(_)) => Trigger::Download,
            Event::Effect(crate::effects::Effect::Contact(_)) => Trigger::Contact,
        }
    }
}

/// The state rules test, for the agent the event is about.
#[derive(Clone, Debug, PartialEq)]
pub struct Context {
    /// The agent's name (its config entry) and kind.
    pub agent: String,
    pub kind: String,
    /// Spent by this session, and today by every session, in dollars.
    pub session_spend: f64,
    pub day_spend: f64,
    pub marks: Marks,
    pub now: u64,
}

/// An "always allow" a person chose from the sidebar: this exact action, in a scope.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Allowance {
    pub id: i64,
    pub scope: Scope,
    pub tool: String,
    /// The command, or the files, the allowance covers, exactly.
    pub what: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Scope {
    Session(String),
    Workspace(PathBuf),
    Everywhere,
}

impl Scope {
    pub fn words(&self) -> String {
        match self {
            Scope::Session(s) => format!("in session {s}"),
            Scope::Workspace(w) => format!("in {}", w.display()),
            Scope::Everywhere => "everywhere".into(),
        }
    }
}

/// Where the event happens, for allowances.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Place {
    pub session: String,
    pub workspace: PathBuf,
}

/// The verdict, the rule that gave it (none for the default), and what it changes.
#[derive(Clone, Debug, PartialEq)]
pub struct Decision {
    pub verdict: Verdict,
    pub rule: Option<String>,
    /// Marks to set or clear now, in order.
    pub marks: Vec<MarkChange>,
    /// Marks to set or clear if a person approves the ask.
    pub on_approve: Vec<MarkChange>,
}

/// Evaluates `rules` in order on `event`. A matching rule sets and clears its marks (later
/// rules see them); the first matching rule with a verdict decides. An ask, or no verdict
/// at all, becomes an allow when a person has always-allowed this very action in scope;
/// a deny stays a deny.
pub fn evaluate(rules: &[Rule], allowances: &[Allowance], event: &Event, place: &Place, ctx: &Context) -> Decision {
    // The marks as each rule sees them: earlier matching rules' changes included.
    let mut seen = ctx.clone();
    let mut changes = Vec::new();
    let mut decided: Option<(Verdict, String, Vec<MarkChange>)> = None;
    for rule in rules {
        let maybe = match rule.check(event, &seen) {
            Match::No => continue,
            Match::Yes => None,
            Match::Maybe(why) => Some(why),
        };
        for change in &rule.marks {
            match change {
                MarkChange::Set(name) => {
                    seen.marks.insert(name.clone(), Mark { spend: ctx.session_spend, at: ctx.now });
                }
                MarkChange::Clear(name) => {
                    seen.marks.remove(name);
                }
            }
            changes.push(change.clone());
        }
        if let Some(v) = rule.verdict() {
            // A rule that only may match asks, whatever it says: a guess neither lets an
            // action through nor refuses it.
            let v = match (maybe, v) {
                (None, v) => v,
                (Some(why), Verdict::Deny { reason } | Verdict::Ask { reason }) => {
                    Verdict::Ask { reason: format!("{reason} (perhaps: {why})") }
                }
                (Some(why), _) => Verdict::Ask { reason: format!("policy `{}` may not apply: {why}", rule.name) },
            };
            decided = Some((v, rule.name.clone(), rule.on_approve.clone()));
            break;
        }
    }
    let (verdict, rule, on_approve) = match decided {
        Some((v, name, on_approve)) => (v, Some(name), on_approve),
        None => (Verdict::Defer, None, Vec::new()),
    };
    if matches!(verdict, Verdict::Ask { .. } | Verdict::Defer)
        && let Some(a) = allowances.iter().find(|a| allows(a, event, place))
    {
        return Decision {
            verdict: Verdict::Allow,
            rule: Some(format!("always allowed {} (#{})", a.scope.words(), a.id)),
            marks: changes,
            on_approve: Vec::new(),
        };
    }
    Decision { verdict, rule, marks: changes, on_approve }
}

/// What an allowance for `event` would cover: its tool, and its command or files exactly.
pub fn allowance_key(event: &Event) -> Option<(String, String)> {
    match event {
        Event::ToolCall { tool, command: Some(c), .. } => Some((tool.clone(), c.clone())),
        Event::ToolCall { tool, paths, .. } => Some((tool.clone(), paths.join(" "))),
        // Spend is not something to allow for ever.
        _ => None,
    }
}

fn allows(a: &Allowance, event: &Event, place: &Place) -> bool {
    let in_scope = match &a.scope {
        Scope::Session(s) => *s == place.session,
        Scope::Workspace(w) => place.workspace == *w,
        Scope::Everywhere => true,
    };
    in_scope && allowance_key(event).is_some_and(|(tool, what)| tool == a.tool && what == a.what)
}

/// What a tool call touches outside `workspace`: the files it names, and the words of
/// `commands` (its command line as a shell reads it) that are paths there, from where each command runs
/// (`cd` included), resolved without touching the disk; and, if some word could be such a
/// path but cannot be known before it runs (a variable), what it is.
pub fn outside_workspace(
    commands: &[shell::Simple],
    paths: &[String],
    cwd: &Path,
    workspace: &Path,
) -> (Vec<String>, Option<String>) {
    let workspace = normalize(workspace);
    let mut out: Vec<String> = Vec::new();
    let mut unknown = None;
    let mut consider = |shown: &str, full: PathBuf| {
        if !normalize(&full).starts_with(&workspace) && !out.iter().any(|o| o == shown) {
            out.push(shown.to_string());
        }
    };
    for p in paths {
        consider(p, cwd.join(p));
    }
    for s in commands {
        let dir = match &s.dir {
            None => Some(cwd.to_path_buf()),
            Some(shell::Word::Known(d)) => Some(cwd.join(d)),
            Some(shell::Word::Unknown { as_written, .. }) => {
                unknown.get_or_insert_with(|| format!("it runs in `{as_written}`"));
                None
            }
        };
        // The operands: every word after the program's name but its options.
        for w in s.words.iter().skip(1) {
            match w {
                shell::Word::Known(w) if w.starts_with('-') => {}
                shell::Word::Known(w) => {
                    // A relative word is a path only if it says so, or once a `cd` moved.
                    let pathlike = w.starts_with('/') || w.split('/').any(|part| part == "..") || s.dir.is_some();
                    if let Some(dir) = dir.as_ref().filter(|_| pathlike) {
                        consider(w, dir.join(w));
                    }
                }
                shell::Word::Unknown { as_written, .. } => {
                    unknown.get_or_insert_with(|| format!("`{as_written}` is only known when it runs"));
                }
            }
        }
    }
    (out, unknown)
}

/// The paths a tool call names outside `workspace`, for certain (`outside_workspace`).
pub fn paths_outside(
    command: Option<&str>,
    paths: &[String],
    cwd: &Path,
    workspace: &Path,
    home: &Path,
) -> Vec<String> {
    let commands = command.map(|c| shell::parse(c, home)).unwrap_or_default();
    outside_workspace(&commands, paths, cwd, workspace).0
}

/// The smallest spend threshold, above what this session has spent, that a rule on LLM
/// requests would act at: what the status bar shows as the budget.
pub fn next_limit(rules: &[Rule], ctx: &Context) -> Option<(f64, String)> {
    rules
        .iter()
        .filter(|r| r.on == Trigger::LlmRequest)
        .filter_map(|r| r.spend_limit(ctx).map(|limit| (limit, r.name.clone())))
        .filter(|(limit, _)| *limit > ctx.session_spend)
        .min_by(|a, b| a.0.total_cmp(&b.0))
}

#[cfg(test)]
mod tests;
