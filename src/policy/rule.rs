//! One policy rule: as written in the config (`[[policy]]`), and compiled (its regex
//! built, its parts checked) into what `evaluate` runs.

use super::shell::{self, Word};
use super::{Context, Event, MarkChange, Verdict, outside_workspace};
use crate::effects::Change;
use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Trigger {
    ToolCall,
    LlmRequest,
    SessionStart,
    /// A git push, seen at the proxy.
    Push,
    /// A package downloaded from a registry, seen at the proxy.
    Download,
    /// A connection to a host, seen at the proxy.
    Contact,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VerdictWord {
    Allow,
    Deny,
    Ask,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpentSince {
    /// Measured from when this mark was last set (from the session's start if never).
    pub mark: String,
    /// Dollars.
    pub over: f64,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MarkEffects {
    #[serde(default)]
    pub set_mark: Vec<String>,
    #[serde(default)]
    pub clear_mark: Vec<String>,
}

/// A `[[policy]]` table. Every condition given must hold; a rule with no verdict only sets
/// and clears marks, and evaluation goes on to the next rule.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleConfig {
    pub name: Option<String>,
    /// Rules from another file (relative to the config's directory), in this place.
    pub include: Option<String>,
    pub on: Option<Trigger>,
    /// Agent names (`[agents.NAME]`) or kinds (`claude`, `codex`...).
    pub agent: Option<Vec<String>>,
    /// Tool names, any case; `shell` is every agent's shell tool.
    pub tool: Option<Vec<String>>,
    /// A regular expression the command line must match.
    pub command: Option<String>,
    /// The call touches a path outside the agent's workspace (or, false: does not).
    pub outside_workspace: Option<bool>,
    /// The command names one of these branches, or the agent's checkout is on one.
    pub branch: Option<Vec<String>>,
    /// Marks that must all be set, and marks that must not be.
    pub marked: Option<Vec<String>>,
    pub unmarked: Option<Vec<String>>,
    /// Dollars spent by this session, by all sessions today, since a mark.
    pub session_spend_over: Option<f64>,
    pub day_spend_over: Option<f64>,
    pub spent_since: Option<SpentSince>,
    pub verdict: Option<VerdictWord>,
    /// What the agent (and the person asked) is told.
    pub reason: Option<String>,
    #[serde(default)]
    pub set_mark: Vec<String>,
    #[serde(default)]
    pub clear_mark: Vec<String>,
    /// Marks to change when a person approves this rule's ask.
    pub on_approve: Option<MarkEffects>,
    /// Pushes, downloads, contacts: the host (`*.example.com` for its subdomains).
    pub host: Option<Vec<String>>,
    /// Pushes: a regular expression the repository's path must match (`owner/repo.git`).
    pub repository: Option<String>,
    /// Pushes: a ref (of those `branch` names, if given) is deleted (or, false: none is).
    pub deletes: Option<bool>,
    /// Pushes: a ref (of those `branch` names, if given) is not shown to be a fast-forward
    /// (or, false: every one is).
    pub forced: Option<bool>,
    /// Downloads: from these registries (npm, pypi, crates, debian, go, rubygems,
    /// configured).
    pub registry: Option<Vec<String>>,
    /// Downloads: a regular expression the package's name must match.
    pub package: Option<String>,
    /// Contacts: the first with this host in the session (or, false: not the first).
    pub first_contact: Option<bool>,
    /// Contacts: what the host is to teamster: "git", "registry" or "other".
    pub host_kind: Option<Vec<String>>,
}

/// A compiled rule.
#[derive(Clone, Debug)]
pub struct Rule {
    pub name: String,
    pub on: Trigger,
    agent: Option<Vec<String>>,
    tool: Option<Vec<String>>,
    command: Option<regex::Regex>,
    outside_workspace: Option<bool>,
    branch: Option<Vec<String>>,
    marked: Vec<String>,
    unmarked: Vec<String>,
    session_spend_over: Option<f64>,
    day_spend_over: Option<f64>,
    spent_since: Option<SpentSince>,
    verdict: Option<VerdictWord>,
    reason: Option<String>,
    pub marks: Vec<MarkChange>,
    pub on_approve: Vec<MarkChange>,
    effect: EffectTests,
    /// The table as written (`teamster rules --json` shows it).
    pub written: RuleConfig,
}

/// Whether a rule matches an event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Match {
    No,
    Yes,
    /// Perhaps: something teamster cannot know (why, in words). A rule that may match
    /// asks, whatever its verdict: never an allow, never a deny on a guess.
    Maybe(String),
}

impl Match {
    fn of(yes: bool) -> Match {
        if yes { Match::Yes } else { Match::No }
    }
}

/// What a rule asks of a push, a download or a contact.
#[derive(Clone, Debug, Default)]
struct EffectTests {
    host: Option<Vec<String>>,
    repository: Option<regex::Regex>,
    deletes: Option<bool>,
    forced: Option<bool>,
    registry: Option<Vec<String>>,
    package: Option<regex::Regex>,
    first_contact: Option<bool>,
    host_kind: Option<Vec<String>>,
}

/// Whether `re` matches the command `s`, its words joined by spaces, without taking a
/// space inside one word for a gap between two (`echo 'git push'` does not push).
fn names(re: &regex::Regex, s: &shell::Simple) -> bool {
    let line = shell::line(s);
    let mut inner = Vec::new();
    let mut at = 0;
    for w in &s.words {
        let text = match w {
            Word::Known(t) => t,
            Word::Unknown { as_written, .. } => as_written,
        };
        inner.extend(text.match_indices(char::is_whitespace).map(|(i, _)| at + i));
        at += text.len() + 1;
    }
    re.find_iter(&line).any(|m| !inner.iter().any(|i| m.range().contains(i)))
}

/// Whether `re` could match the command `s` once a word of it that cannot be known before
/// it runs had a value: its program's name (`$CMD push`, `eval "$X"`), or the subcommand
/// of a program the rule names (a git alias): tried with the rule's own words. Why, if so.
fn could_match(re: &regex::Regex, s: &shell::Simple) -> Option<String> {
    let literals = literal_words(re.as_str());
    let named = |w: &Word| matches!(w, Word::Known(p) if literals.iter().any(|l| l == p));
    let positions: Vec<usize> = (0..s.words.len().min(2)).filter(|i| *i == 0 || named(&s.words[0])).collect();
    let mut candidates = literals.clone();
    candidates.push(literals.join(" "));
    for i in positions {
        let Word::Unknown { as_written, .. } = &s.words[i] else { continue };
        for c in &candidates {
            let mut words = s.words.clone();
            // An unknown value may well be split into several words.
            words.splice(i..=i, c.split(' ').map(|w| Word::Known(w.to_string())));
            if names(re, &shell::Simple { words, dir: s.dir.clone() }) {
                return Some(format!("`{as_written}` is only known when the command runs"));
            }
        }
    }
    None
}

/// The words a regular expression spells out (`\bgit\s+push\b`: git, push).
fn literal_words(re: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut chars = re.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            // An escape is a class or an anchor, not a letter of a word.
            chars.next();
            if !word.is_empty() {
                words.push(std::mem::take(&mut word));
            }
        } else if c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' {
            word.push(c);
        } else if !word.is_empty() {
            words.push(std::mem::take(&mut word));
        }
    }
    if !word.is_empty() {
        words.push(word);
    }
    words.retain(|w| w.chars().any(|c| c.is_ascii_alphabetic()));
    words.dedup();
    words
}

/// Which triggers each condition applies to.
const APPLIES: [(&str, &[Trigger]); 12] = [
    ("tool", &[Trigger::ToolCall]),
    ("command", &[Trigger::ToolCall]),
    ("outside_workspace", &[Trigger::ToolCall]),
    ("branch", &[Trigger::ToolCall, Trigger::Push]),
    ("host", &[Trigger::Push, Trigger::Download, Trigger::Contact]),
    ("repository", &[Trigger::Push]),
    ("deletes", &[Trigger::Push]),
    ("forced", &[Trigger::Push]),
    ("registry", &[Trigger::Download]),
    ("package", &[Trigger::Download]),
    ("first_contact", &[Trigger::Contact]),
    ("host_kind", &[Trigger::Contact]),
];

const REGISTRIES: [&str; 7] = ["npm", "pypi", "crates", "debian", "go", "rubygems", "configured"];
const HOST_KINDS: [&str; 3] = ["git", "registry", "other"];

fn regex_of(key: &str, re: &Option<String>) -> Result<Option<regex::Regex>, (String, String)> {
    re.as_ref()
        .map(|re| regex::Regex::new(re).map_err(|e| (key.to_string(), format!("not a valid regular expression: {e}"))))
        .transpose()
}

/// Whether `host` (maybe `host:port`) is one of `hosts` (`*.example.com`: its subdomains).
fn host_in(hosts: &[String], host: &str) -> bool {
    let name = host.rsplit_once(':').filter(|(_, p)| p.parse::<u16>().is_ok()).map_or(host, |(n, _)| n);
    let name = name.trim_matches(['[', ']']).to_ascii_lowercase();
    hosts.iter().any(|h| {
        let h = h.to_ascii_lowercase();
        match h.strip_prefix("*.") {
            Some(domain) => name.ends_with(&format!(".{domain}")),
            None => h == name || h == host.to_ascii_lowercase(),
        }
    })
}

/// Shell tools by the names each agent gives them.
const SHELL_TOOLS: [&str; 4] = ["bash", "exec_command", "run_shell_command", "shell"];

fn changes(set: &[String], clear: &[String]) -> Vec<MarkChange> {
    set.iter().cloned().map(MarkChange::Set).chain(clear.iter().cloned().map(MarkChange::Clear)).collect()
}

impl Rule {
    /// Checks and compiles a rule; an error names the key that is wrong.
    pub fn compile(c: &RuleConfig, index: usize) -> Result<Rule, (String, String)> {
        let err = |key: &str, msg: String| Err((key.to_string(), msg));
        let name = c.name.clone().unwrap_or_else(|| format!("policy {}", index + 1));
        let Some(on) = c.on else {
            return err(
                "on",
                "says when the rule applies: on = \"tool_call\", \"llm_request\", \"session_start\", \"push\", \"download\" or \"contact\"".into(),
            );
        };
        let given = [
            c.tool.is_some(),
            c.command.is_some(),
            c.outside_workspace.is_some(),
            c.branch.is_some(),
            c.host.is_some(),
            c.repository.is_some(),
            c.deletes.is_some(),
            c.forced.is_some(),
            c.registry.is_some(),
            c.package.is_some(),
            c.first_contact.is_some(),
            c.host_kind.is_some(),
        ];
        for ((key, triggers), set) in APPLIES.iter().zip(given) {
            if set && !triggers.contains(&on) {
                let words: Vec<String> = triggers.iter().map(|t| format!("\"{}\"", trigger_word(*t))).collect();
                return err(
                    key,
                    format!("applies to on = {} only; this rule is on = \"{}\"", words.join(" or "), trigger_word(on)),
                );
            }
        }
        let words_in = |key: &str, given: &Option<Vec<String>>, allowed: &[&str]| -> Result<(), (String, String)> {
            match given.iter().flatten().find(|w| !allowed.contains(&w.as_str())) {
                Some(w) => Err((key.to_string(), format!("{w:?} is not one of {}", allowed.join(", ")))),
                None => Ok(()),
            }
        };
        words_in("registry", &c.registry, &REGISTRIES)?;
        words_in("host_kind", &c.host_kind, &HOST_KINDS)?;
        let command = regex_of("command", &c.command)?;
        let effect = EffectTests {
            host: c.host.clone(),
            repository: regex_of("repository", &c.repository)?,
            deletes: c.deletes,
            forced: c.forced,
            registry: c.registry.clone(),
            package: regex_of("package", &c.package)?,
            first_contact: c.first_contact,
            host_kind: c.host_kind.clone(),
        };
        for (key, v) in [("session_spend_over", c.session_spend_over), ("day_spend_over", c.day_spend_over)] {
            if v.is_some_and(|v| !v.is_finite() || v < 0.0) {
                return err(key, "must be an amount of dollars, 0 or more".into());
            }
        }
        if c.spent_since.as_ref().is_some_and(|s| !s.over.is_finite() || s.over <= 0.0) {
            return err("spent_since.over", "must be an amount of dollars above 0".into());
        }
        let effects = changes(&c.set_mark, &c.clear_mark);
        if c.verdict.is_none() && effects.is_empty() {
            return err(
                "verdict",
                "the rule does nothing: give it a verdict (allow, deny, ask) or marks to set or clear".into(),
            );
        }
        if on == Trigger::SessionStart && c.verdict == Some(VerdictWord::Ask) {
            return err(
                "verdict",
                "a session_start rule cannot ask (nothing waits for the answer): allow or deny".into(),
            );
        }
        if c.on_approve.is_some() && c.verdict != Some(VerdictWord::Ask) {
            return err("on_approve", "only an ask is approved; give the rule verdict = \"ask\"".into());
        }
        Ok(Rule {
            on,
            agent: c.agent.clone(),
            tool: c.tool.as_ref().map(|t| t.iter().map(|t| t.to_ascii_lowercase()).collect()),
            command,
            outside_workspace: c.outside_workspace,
            branch: c.branch.clone(),
            marked: c.marked.clone().unwrap_or_default(),
            unmarked: c.unmarked.clone().unwrap_or_default(),
            session_spend_over: c.session_spend_over,
            day_spend_over: c.day_spend_over,
            spent_since: c.spent_since.clone(),
            verdict: c.verdict,
            reason: c.reason.clone(),
            marks: effects,
            on_approve: c.on_approve.as_ref().map(|m| changes(&m.set_mark, &m.clear_mark)).unwrap_or_default(),
            effect,
            written: RuleConfig { name: Some(name.clone()), ..c.clone() },
            name,
        })
    }

    /// An ask every tool call: `hold_tool_calls = true`.
    pub fn hold_every_tool_call() -> Rule {
        let c = RuleConfig {
            name: Some("hold_tool_calls".into()),
            on: Some(Trigger::ToolCall),
            verdict: Some(VerdictWord::Ask),
            reason: Some("every tool call waits for a decision (hold_tool_calls)".into()),
            ..RuleConfig::default()
        };
        Rule::compile(&c, 0).unwrap_or_else(|_| unreachable!("a fixed, valid rule"))
    }

    /// Whether the rule matches for certain.
    pub fn matches(&self, event: &Event, ctx: &Context) -> bool {
        self.check(event, ctx) == Match::Yes
    }

    /// Whether the rule matches: for certain, not, or maybe (teamster cannot know, and
    /// says why).
    pub fn check(&self, event: &Event, ctx: &Context) -> Match {
        if !self.common(event, ctx) {
            return Match::No;
        }
        match event {
            Event::ToolCall { .. } => self.matches_call(event),
            Event::Effect(effect) => self.matches_effect(effect),
            _ => Match::Yes,
        }
    }

    /// The conditions on every event: its trigger, the agent, marks and spend.
    fn common(&self, event: &Event, ctx: &Context) -> bool {
        if event.trigger() != self.on {
            return false;
        }
        if let Some(agents) = &self.agent
            && !agents.iter().any(|a| *a == ctx.agent || *a == ctx.kind)
        {
            return false;
        }
        if !self.marked.iter().all(|m| ctx.marks.contains_key(m))
            || self.unmarked.iter().any(|m| ctx.marks.contains_key(m))
        {
            return false;
        }
        if self.session_spend_over.is_some_and(|x| ctx.session_spend < x)
            || self.day_spend_over.is_some_and(|x| ctx.day_spend < x)
        {
            return false;
        }
        if let Some(s) = &self.spent_since {
            let since = ctx.marks.get(&s.mark).map_or(0.0, |m| m.spend);
            if ctx.session_spend - since < s.over {
                return false;
            }
        }
        true
    }

    /// A tool call: its tool, and its command as a shell reads it. A command word that
    /// cannot be known before it runs (a variable, `eval` of one, a git alias) makes a
    /// rule that names a command match "maybe"; so does a path of that kind for
    /// `outside_workspace`.
    fn matches_call(&self, event: &Event) -> Match {
        let Event::ToolCall { tool, command, paths, cwd, workspace, branch, home } = event else { return Match::No };
        let tool = tool.to_ascii_lowercase();
        if let Some(tools) = &self.tool
            && !tools.iter().any(|t| *t == tool || (t == "shell" && SHELL_TOOLS.contains(&tool.as_str())))
        {
            return Match::No;
        }
        let mut commands = command.as_deref().map(|c| shell::parse(c, home)).unwrap_or_default();
        let mut maybe = None;
        if let Some(re) = &self.command {
            // The simple commands it names: only they count for the conditions below.
            let named: Vec<shell::Simple> = commands.iter().filter(|s| names(re, s)).cloned().collect();
            if named.is_empty() {
                match commands.iter().find_map(|s| could_match(re, s).map(|why| (why, s.clone()))) {
                    Some((why, s)) => {
                        maybe = Some(why);
                        commands = vec![s];
                    }
                    None => return Match::No,
                }
            } else {
                commands = named;
            }
        }
        if let Some(want) = self.outside_workspace {
            let (outside, unknown) = outside_workspace(&commands, paths, cwd, workspace);
            match (outside.is_empty(), unknown) {
                (false, _) if want => {}
                (true, None) if !want => {}
                (true, Some(why)) => maybe = maybe.or(Some(why)),
                _ => return Match::No,
            }
        }
        if let Some(branches) = &self.branch {
            let named = commands.iter().flat_map(|s| s.words.iter()).any(|w| match w {
                Word::Known(w) => w.split(':').any(|part| {
                    let part = part.trim_start_matches('+');
                    let part = part.strip_prefix("refs/heads/").unwrap_or(part);
                    branches.iter().any(|b| b == part)
                }),
                Word::Unknown { .. } => false,
            });
            let on_one = branch.as_ref().is_some_and(|b| branches.contains(b));
            if !named && !on_one {
                return Match::No;
            }
        }
        maybe.map_or(Match::Yes, Match::Maybe)
    }

    fn matches_effect(&self, effect: &crate::effects::Effect) -> Match {
        use crate::effects::Effect;
        let t = &self.effect;
        let host = match effect {
            Effect::Push(p) => &p.host,
            Effect::Download(d) => &d.host,
            Effect::Contact(c) => &c.host,
        };
        if t.host.as_ref().is_some_and(|hosts| !host_in(hosts, host)) {
            return Match::No;
        }
        match effect {
            Effect::Push(p) if p.over_ssh => {
                // Nothing of it can be read: any repository, any ref, any way.
                let conditions =
                    t.repository.is_some() || self.branch.is_some() || t.deletes.is_some() || t.forced.is_some();
                if conditions {
                    Match::Maybe("git over SSH, which teamster cannot read: it may push any ref, any way".into())
                } else {
                    Match::Yes
                }
            }
            Effect::Push(p) => {
                if t.repository.as_ref().is_some_and(|re| !re.is_match(&p.repository)) {
                    return Match::No;
                }
                let refs: Vec<_> = p
                    .refs
                    .iter()
                    .filter(|r| self.branch.as_ref().is_none_or(|b| b.iter().any(|b| b == r.short() || *b == r.name)))
                    .collect();
                if refs.is_empty()
                    || t.deletes.is_some_and(|want| want != refs.iter().any(|r| r.change == Change::Delete))
                {
                    return Match::No;
                }
                match t.forced {
                    None => Match::Yes,
                    Some(want) if refs.iter().any(|r| r.change == Change::Rewrite) => Match::of(want),
                    Some(_) if refs.iter().any(|r| r.change == Change::Unknown) => {
                        Match::Maybe("teamster could not find out whether this push is a fast-forward".into())
                    }
                    Some(want) => Match::of(!want),
                }
            }
            Effect::Download(d) => Match::of(
                t.registry.as_ref().is_none_or(|r| r.iter().any(|r| r == d.registry.word()))
                    && t.package.as_ref().is_none_or(|re| re.is_match(&d.package)),
            ),
            Effect::Contact(c) => Match::of(
                t.first_contact.is_none_or(|want| want == c.first)
                    && t.host_kind.as_ref().is_none_or(|k| k.iter().any(|k| k == c.kind.word())),
            ),
        }
    }

    /// The rule's verdict with its reason, if it has one.
    pub fn verdict(&self) -> Option<Verdict> {
        let reason = || self.reason.clone().unwrap_or_else(|| format!("policy `{}`", self.name));
        self.verdict.map(|v| match v {
            VerdictWord::Allow => Verdict::Allow,
            VerdictWord::Deny => Verdict::Deny { reason: reason() },
            VerdictWord::Ask => Verdict::Ask { reason: reason() },
        })
    }

    /// Whether the rule asks what branch a checkout is on (the runner finds out only then).
    pub fn needs_branch(&self) -> bool {
        self.branch.is_some()
    }

    /// One line for `teamster rules`: its name, when, and what it does.
    pub fn describe(&self) -> String {
        let mut parts = vec![format!("{}: on {}", self.name, trigger_word(self.on))];
        if let Some(t) = &self.tool {
            parts.push(format!("tool {}", t.join("|")));
        }
        if let Some(c) = &self.command {
            parts.push(format!("command /{}/", c.as_str()));
        }
        if let Some(b) = &self.branch {
            parts.push(format!("branch {}", b.join("|")));
        }
        if self.outside_workspace == Some(true) {
            parts.push("outside the workspace".into());
        }
        let t = &self.effect;
        if let Some(h) = &t.host {
            parts.push(format!("host {}", h.join("|")));
        }
        if let Some(r) = &t.repository {
            parts.push(format!("repository /{}/", r.as_str()));
        }
        for (key, v) in [("deletes", t.deletes), ("forced", t.forced), ("first contact", t.first_contact)] {
            match v {
                Some(true) => parts.push(key.into()),
                Some(false) => parts.push(format!("not {key}")),
                None => {}
            }
        }
        if let Some(r) = &t.registry {
            parts.push(format!("registry {}", r.join("|")));
        }
        if let Some(p) = &t.package {
            parts.push(format!("package /{}/", p.as_str()));
        }
        if let Some(k) = &t.host_kind {
            parts.push(format!("{} hosts", k.join("|")));
        }
        if !self.marked.is_empty() {
            parts.push(format!("once {}", self.marked.join(", ")));
        }
        if let Some(x) = self.session_spend_over {
            parts.push(format!("session spend ≥ ${x}"));
        }
        if let Some(x) = self.day_spend_over {
            parts.push(format!("day spend ≥ ${x}"));
        }
        if let Some(s) = &self.spent_since {
            parts.push(format!("every ${} (mark {})", s.over, s.mark));
        }
        let effect = match self.verdict {
            Some(VerdictWord::Allow) => "allow".to_string(),
            Some(VerdictWord::Deny) => "deny".to_string(),
            Some(VerdictWord::Ask) => "ask".to_string(),
            None => self.marks.iter().map(|m| format!("{m} mark")).collect::<Vec<_>>().join(", "),
        };
        format!("{} → {effect}", parts.join(", "))
    }

    /// The session spend at which this rule would act, if it acts on spend.
    pub fn spend_limit(&self, ctx: &Context) -> Option<f64> {
        let since = self.spent_since.as_ref().map(|s| ctx.marks.get(&s.mark).map_or(0.0, |m| m.spend) + s.over);
        match (self.session_spend_over, since) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        }
    }
}

pub fn trigger_word(t: Trigger) -> &'static str {
    match t {
        Trigger::ToolCall => "tool_call",
        Trigger::LlmRequest => "llm_request",
        Trigger::SessionStart => "session_start",
        Trigger::Push => "push",
        Trigger::Download => "download",
        Trigger::Contact => "contact",
    }
}
