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
    Deny {
        #[serde(flatten)]
        reason: Reason,
    },
}

/// Why an action was denied, and whose words those are: a message a person wrote to the
/// agent, or teamster's own (a person's plain no, a rule, a timeout, a pane gone). An
/// agent's hook hears either; a question teamster answers by typing into the agent's own
/// dialog is followed by a prompt only for a person's message. On the wire, beside the
/// decision: `"reason": TEXT`, and `"whose": "person"` for a person's message (scripts
/// that read `reason` as text read it still).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "ReasonWire", into = "ReasonWire")]
pub enum Reason {
    /// A person's words for the agent (sidebar `m`, `teamster deny --reason`, the web
    /// page's message box).
    Message { message: String },
    /// teamster's words.
    Teamster(String),
}

/// Whose words a deny's reason is.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
enum Whose {
    #[default]
    Teamster,
    Person,
}

#[derive(Serialize, Deserialize)]
struct ReasonWire {
    reason: String,
    #[serde(default, skip_serializing_if = "is_teamsters")]
    whose: Whose,
}

fn is_teamsters(w: &Whose) -> bool {
    *w == Whose::Teamster
}

impl From<ReasonWire> for Reason {
    fn from(w: ReasonWire) -> Reason {
        match w.whose {
            Whose::Person => Reason::Message { message: w.reason },
            Whose::Teamster => Reason::Teamster(w.reason),
        }
    }
}

impl From<Reason> for ReasonWire {
    fn from(r: Reason) -> ReasonWire {
        match r {
            Reason::Message { message } => ReasonWire { reason: message, whose: Whose::Person },
            Reason::Teamster(words) => ReasonWire { reason: words, whose: Whose::Teamster },
        }
    }
}

/// What the agent's hook is told of a person's deny that came with no message.
pub const PLAIN_DENY: &str = "denied by the user";

impl Reason {
    pub fn text(&self) -> &str {
        match self {
            Reason::Message { message } => message,
            Reason::Teamster(words) => words,
        }
    }
}

impl From<Reason> for String {
    fn from(r: Reason) -> String {
        ReasonWire::from(r).reason
    }
}

impl Decision {
    /// A deny in teamster's words (a rule's, a timeout's, a closed pane's).
    pub fn deny(reason: impl Into<String>) -> Decision {
        Decision::Deny { reason: Reason::Teamster(reason.into()) }
    }

    /// A person's deny: with the message they wrote, or (none, or only blanks) a plain no.
    pub fn deny_by_person(message: Option<String>) -> Decision {
        match message.filter(|m| !m.trim().is_empty()) {
            Some(message) => Decision::Deny { reason: Reason::Message { message } },
            None => Decision::deny(PLAIN_DENY),
        }
    }

    pub fn approves(&self) -> bool {
        !matches!(self, Decision::Deny { .. })
    }

    /// The audit log's word for it.
    pub fn word(&self) -> &'static str {
        if self.approves() { "allow" } else { "deny" }
    }

    /// Why, for a deny, whoever's words.
    pub fn reason(&self) -> Option<&str> {
        match self {
            Decision::Deny { reason } => Some(reason.text()),
            _ => None,
        }
    }

    /// The message a person wrote the agent with their deny, if they wrote one.
    pub fn message(&self) -> Option<&str> {
        match self {
            Decision::Deny { reason: Reason::Message { message } } if !message.trim().is_empty() => Some(message),
            _ => None,
        }
    }
}

/// What the audit log says became of an action, or of an event it records (a share's
/// comings and goings). Written as its word (`allow`, `joined`), read back from it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(into = "String", from = "String")]
pub enum Verdict {
    Allow,
    Deny,
    /// No rule spoke: the agent's own rules decided.
    Defer,
    /// Nobody waited for the answer any more.
    Withdrawn,
    /// A share link: a teammate joined, left, typed, was refused, lost input; sharing ended.
    Joined,
    Left,
    Typed,
    Refused,
    Lost,
    Ended,
    /// A teammate's comment, from a shared link.
    Comment,
    /// A word an older teamster wrote that is none of these.
    Recorded(String),
}

const VERDICT_WORDS: [(Verdict, &str); 11] = [
    (Verdict::Allow, "allow"),
    (Verdict::Deny, "deny"),
    (Verdict::Defer, "defer"),
    (Verdict::Withdrawn, "withdrawn"),
    (Verdict::Joined, "joined"),
    (Verdict::Left, "left"),
    (Verdict::Typed, "typed"),
    (Verdict::Refused, "refused"),
    (Verdict::Lost, "lost"),
    (Verdict::Ended, "ended"),
    (Verdict::Comment, "comment"),
];

impl Verdict {
    /// An action's verdict: what was decided, or `Defer` for no decision.
    pub fn of(answer: Option<&Decision>) -> Verdict {
        match answer {
            Some(d) if d.approves() => Verdict::Allow,
            Some(_) => Verdict::Deny,
            None => Verdict::Defer,
        }
    }
}

impl std::fmt::Display for Verdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Verdict::Recorded(word) => f.write_str(word),
            known => f.write_str(VERDICT_WORDS.iter().find(|(v, _)| v == known).map_or("", |(_, w)| w)),
        }
    }
}

impl From<String> for Verdict {
    fn from(word: String) -> Verdict {
        VERDICT_WORDS.iter().find(|(_, w)| *w == word).map_or(Verdict::Recorded(word), |(v, _)| v.clone())
    }
}

impl From<Verdict> for String {
    fn from(v: Verdict) -> String {
        v.to_string()
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

/// What a decision was about, as the queue, the audit log and the sidebar's history name
/// it. Written as words (`tool_call`, `push`), read back from them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(into = "String", from = "String")]
pub enum ActionKind {
    /// A tool call an agent reported, or asked about in its own dialog.
    ToolCall,
    /// A model call at the metering proxy.
    LlmRequest,
    /// An agent's start.
    SessionStart,
    /// What an agent did on the wire: a git push, a package download, a contact.
    Push,
    Download,
    Contact,
    /// A route a pane's model calls take.
    Route,
    /// Something the sandbox refused.
    Sandbox,
    /// A shared link's coming and going.
    Share,
    /// A teammate's comment on a shared session.
    Comment,
    /// Words an older teamster wrote that name none of these.
    Recorded(String),
}

const KIND_WORDS: [(ActionKind, &str); 10] = [
    (ActionKind::ToolCall, "tool_call"),
    (ActionKind::LlmRequest, "llm_request"),
    (ActionKind::SessionStart, "session_start"),
    (ActionKind::Push, "push"),
    (ActionKind::Download, "download"),
    (ActionKind::Contact, "contact"),
    (ActionKind::Route, "route"),
    (ActionKind::Sandbox, "sandbox"),
    (ActionKind::Share, "share"),
    (ActionKind::Comment, "comment"),
];

impl ActionKind {
    pub fn word(&self) -> &str {
        match self {
            ActionKind::Recorded(words) => words,
            k => KIND_WORDS.iter().find(|(w, _)| w == k).map_or("", |(_, word)| word),
        }
    }

    /// In a sentence: "a push", "a model call".
    pub fn words(&self) -> &str {
        match self {
            ActionKind::ToolCall => "a tool call",
            ActionKind::LlmRequest => "a model call",
            ActionKind::SessionStart => "an agent's start",
            ActionKind::Push => "a push",
            ActionKind::Download => "a download",
            ActionKind::Contact => "a contact with a host",
            ActionKind::Route => "a route",
            ActionKind::Sandbox => "a sandbox refusal",
            ActionKind::Share => "a shared link",
            ActionKind::Comment => "a comment",
            ActionKind::Recorded(words) => words,
        }
    }
}

impl std::fmt::Display for ActionKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.word())
    }
}

impl From<String> for ActionKind {
    fn from(words: String) -> ActionKind {
        KIND_WORDS.into_iter().find(|(_, w)| *w == words).map_or(ActionKind::Recorded(words), |(k, _)| k)
    }
}

impl From<ActionKind> for String {
    fn from(kind: ActionKind) -> String {
        kind.word().to_string()
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
    fn a_verdict_reads_back_as_it_was_written() {
        for (v, word) in VERDICT_WORDS {
            assert_eq!(v.to_string(), word);
            assert_eq!(Verdict::from(word.to_string()), v);
        }
        assert_eq!(Verdict::from("maybe".to_string()), Verdict::Recorded("maybe".into()));
        assert_eq!(Verdict::of(Some(&Decision::ApproveOnce)), Verdict::Allow);
        assert_eq!(Verdict::of(Some(&Decision::deny("x"))), Verdict::Deny);
        assert_eq!(Verdict::of(None), Verdict::Defer);
    }

    #[test]
    fn a_kind_reads_back_as_it_was_written() {
        for (k, word) in KIND_WORDS {
            assert_eq!(k.to_string(), word);
            assert_eq!(ActionKind::from(word.to_string()), k);
            assert_eq!(serde_json::to_string(&k).unwrap_or_default(), format!("\"{word}\""));
        }
        assert_eq!(ActionKind::from("rename".to_string()), ActionKind::Recorded("rename".into()));
    }

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
        assert_eq!(
            json(&Decision::deny_by_person(Some("use a branch".into()))),
            r#"{"decision":"deny","reason":"use a branch","whose":"person"}"#
        );
        let back: Decision = serde_json::from_str(r#"{"decision":"deny","reason":"use a branch","whose":"person"}"#)
            .expect("a person's deny");
        assert_eq!(back.message(), Some("use a branch"));
        assert!(serde_json::from_str::<Decision>(r#"{"decision":"deny"}"#).is_err(), "a deny says why");
        // What once meant "no objection" is no approval.
        assert!(serde_json::from_str::<Decision>(r#"{"decision":"defer"}"#).is_err());
        assert!(serde_json::from_str::<Decision>(r#"{"verdict":"allow"}"#).is_err());
    }

    #[test]
    fn a_plain_deny_and_a_deny_with_a_message_are_told_apart() {
        let plain = Decision::deny_by_person(None);
        assert_eq!(plain.reason(), Some(PLAIN_DENY), "a hook is told something");
        assert_eq!(plain.message(), None, "but the person wrote nothing");
        assert_eq!(Decision::deny_by_person(Some("  ".into())), plain);
        assert_eq!(Decision::deny("nobody answered within 600 s").message(), None);
        let said = Decision::deny_by_person(Some("use a branch".into()));
        assert_eq!((said.reason(), said.message()), (Some("use a branch"), Some("use a branch")));
        // Both read back as they were written.
        for d in [plain, said] {
            let back: Decision = serde_json::from_str(&serde_json::to_string(&d).unwrap_or_default()).expect("reads");
            assert_eq!(back, d);
        }
    }
}
