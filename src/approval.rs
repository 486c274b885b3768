//! A person's answer to an action that waits, and who gave it. One type from the sidebar,
//! `teamster approve|deny`, the web page and a shared link, through the runner's queue and
//! audit log, to the reply an agent's hook gives it.

use serde::{Deserialize, Serialize};

/// What a person (or a rule, for the agent's side) decided about an action.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "decision")]
pub enum Decision {
    /// Go ahead, this once.
    ApproveOnce,
    /// Go ahead, and allow this very action from now on, in this scope.
    ApproveAlways { scope: AllowScope },
    /// Do not; the agent is told why.
    Deny { reason: String },
}

impl Decision {
    pub fn deny(reason: impl Into<String>) -> Decision {
        Decision::Deny { reason: reason.into() }
    }

    pub fn approves(&self) -> bool {
        !matches!(self, Decision::Deny { .. })
    }

    /// The audit log's word for it.
    pub fn word(&self) -> &'static str {
        if self.approves() { "allow" } else { "deny" }
    }

    /// Why, for a deny.
    pub fn reason(&self) -> Option<&str> {
        match self {
            Decision::Deny { reason } => Some(reason),
            _ => None,
        }
    }
}

/// Where an "always allow" applies.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AllowScope {
    /// The session the action came from.
    Session,
    /// The agent's workspace (its worktree or directory), in any session.
    Workspace,
    Everywhere,
}

/// Where a person decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Surface {
    Sidebar,
    /// `teamster approve` or `teamster deny`.
    Cli,
    /// The web page of a shared session.
    Browser,
    /// `teamster attach` to a shared session.
    Attach,
    /// The agent's own dialog, in its pane.
    Pane,
}

impl Surface {
    fn words(self) -> &'static str {
        match self {
            Surface::Sidebar => "sidebar",
            Surface::Cli => "command line",
            Surface::Browser => "browser",
            Surface::Attach => "teamster attach",
            Surface::Pane => "in the agent's pane",
        }
    }

    fn from_words(words: &str) -> Option<Surface> {
        [Surface::Sidebar, Surface::Cli, Surface::Browser, Surface::Attach, Surface::Pane]
            .into_iter()
            .find(|s| s.words() == words)
    }
}

/// Who decided, as the audit log and the sidebar's history say it. Written as words
/// (`you (sidebar)`, `dana (shared link)`), read back from them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(into = "String", from = "String")]
pub enum DecidedBy {
    /// The person at this machine, there.
    You(Surface),
    /// A teammate, by the name their link gave.
    Teammate(String),
    /// A rule of the policies.
    Policy,
    /// No rule spoke.
    NoRule,
    /// Nobody answered in time.
    Timeout,
    /// teamster itself (the pane closed, the turn ended, a route checked).
    Teamster,
    /// The agent (it withdrew the call, or was answered in its own pane).
    TheAgent,
    Sandbox,
    /// A shared link's coming and going.
    ShareLink,
    /// Words an older teamster wrote that name none of these.
    Recorded(String),
}

impl std::fmt::Display for DecidedBy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DecidedBy::You(surface) => write!(f, "you ({})", surface.words()),
            DecidedBy::Teammate(name) => write!(f, "{name} (shared link)"),
            DecidedBy::Policy => f.write_str("policy"),
            DecidedBy::NoRule => f.write_str("no rule"),
            DecidedBy::Timeout => f.write_str("timeout"),
            DecidedBy::Teamster => f.write_str("teamster"),
            DecidedBy::TheAgent => f.write_str("the agent"),
            DecidedBy::Sandbox => f.write_str("sandbox"),
            DecidedBy::ShareLink => f.write_str("share link"),
            DecidedBy::Recorded(words) => f.write_str(words),
        }
    }
}

impl From<String> for DecidedBy {
    fn from(words: String) -> DecidedBy {
        let fixed = [
            DecidedBy::Policy,
            DecidedBy::NoRule,
            DecidedBy::Timeout,
            DecidedBy::Teamster,
            DecidedBy::TheAgent,
            DecidedBy::Sandbox,
            DecidedBy::ShareLink,
        ];
        if let Some(by) = fixed.into_iter().find(|b| b.to_string() == words) {
            return by;
        }
        let you = words.strip_prefix("you (").and_then(|w| w.strip_suffix(')')).and_then(Surface::from_words);
        if let Some(surface) = you {
            return DecidedBy::You(surface);
        }
        match words.strip_suffix(" (shared link)") {
            Some(name) => DecidedBy::Teammate(name.to_string()),
            None => DecidedBy::Recorded(words),
        }
    }
}

impl From<DecidedBy> for String {
    fn from(by: DecidedBy) -> String {
        by.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn who_decided_reads_back_as_it_was_written() {
        for by in [
            DecidedBy::You(Surface::Sidebar),
            DecidedBy::You(Surface::Cli),
            DecidedBy::You(Surface::Browser),
            DecidedBy::Teammate("dana".into()),
            DecidedBy::Policy,
            DecidedBy::NoRule,
            DecidedBy::Timeout,
            DecidedBy::TheAgent,
            DecidedBy::ShareLink,
        ] {
            assert_eq!(DecidedBy::from(by.to_string()), by);
        }
        assert_eq!(DecidedBy::from("person (sidebar)".to_string()), DecidedBy::Recorded("person (sidebar)".into()));
    }

    #[test]
    fn a_decision_is_one_of_three_and_nothing_else_reads_as_one() {
        let json = |d: &Decision| serde_json::to_string(d).unwrap_or_default();
        assert_eq!(json(&Decision::ApproveOnce), r#"{"decision":"approve-once"}"#);
        assert_eq!(
            json(&Decision::ApproveAlways { scope: AllowScope::Workspace }),
            r#"{"decision":"approve-always","scope":"workspace"}"#
        );
        assert_eq!(json(&Decision::deny("no")), r#"{"decision":"deny","reason":"no"}"#);
        // What once meant "no objection" is no approval.
        assert!(serde_json::from_str::<Decision>(r#"{"decision":"defer"}"#).is_err());
        assert!(serde_json::from_str::<Decision>(r#"{"verdict":"allow"}"#).is_err());
    }
}
