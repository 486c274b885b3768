//! One policy rule: as written in the config (`[[policy]]`), and compiled (its regex
//! built, its parts checked) into what `evaluate` runs.

use super::{Context, Event, MarkChange, Verdict, paths_outside, shell_words};
use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Trigger {
    ToolCall,
    LlmRequest,
    SessionStart,
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
                "says when the rule applies: on = \"tool_call\", \"llm_request\" or \"session_start\"".into(),
            );
        };
        let tool_only = [
            ("tool", c.tool.is_some()),
            ("command", c.command.is_some()),
            ("outside_workspace", c.outside_workspace.is_some()),
            ("branch", c.branch.is_some()),
        ];
        if on != Trigger::ToolCall
            && let Some((key, _)) = tool_only.iter().find(|(_, set)| *set)
        {
            return err(key, format!("applies to tool calls only; this rule is on = \"{}\"", trigger_word(on)));
        }
        let command = match &c.command {
            Some(re) => Some(
                regex::Regex::new(re)
                    .map_err(|e| ("command".to_string(), format!("not a valid regular expression: {e}")))?,
            ),
            None => None,
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
            name,
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

    pub fn matches(&self, event: &Event, ctx: &Context) -> bool {
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
        match event {
            Event::ToolCall { tool, command, paths, cwd, workspace, branch, home } => {
                let tool = tool.to_ascii_lowercase();
                if let Some(tools) = &self.tool
                    && !tools.iter().any(|t| *t == tool || (t == "shell" && SHELL_TOOLS.contains(&tool.as_str())))
                {
                    return false;
                }
                if let Some(re) = &self.command
                    && !command.as_deref().is_some_and(|c| re.is_match(c))
                {
                    return false;
                }
                if let Some(want) = self.outside_workspace {
                    let outside = !paths_outside(command.as_deref(), paths, cwd, workspace, home).is_empty();
                    if outside != want {
                        return false;
                    }
                }
                if let Some(branches) = &self.branch {
                    let named =
                        command.as_deref().map(shell_words).unwrap_or_default().iter().any(|w| {
                            w.split(':').any(|part| branches.iter().any(|b| b == part.trim_start_matches('+')))
                        });
                    let on_one = branch.as_ref().is_some_and(|b| branches.contains(b));
                    if !named && !on_one {
                        return false;
                    }
                }
                true
            }
            _ => true,
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
    }
}
