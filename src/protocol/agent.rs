//! What an agent is and how it is doing, as the wire and the config name them: the kinds
//! teamster knows and the states it reads off them. The agents' own code (`crate::agents`)
//! works with these; they are here so that the protocol depends on nothing else.

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AgentKind {
    Claude,
    Codex,
    Pi,
    Gemini,
    Opencode,
    /// Any program: no hooks, state read from the screen.
    Command,
}

impl AgentKind {
    pub const BUILT_IN: [AgentKind; 5] =
        [AgentKind::Claude, AgentKind::Codex, AgentKind::Pi, AgentKind::Gemini, AgentKind::Opencode];

    pub fn name(self) -> &'static str {
        match self {
            AgentKind::Claude => "claude",
            AgentKind::Codex => "codex",
            AgentKind::Pi => "pi",
            AgentKind::Gemini => "gemini",
            AgentKind::Opencode => "opencode",
            AgentKind::Command => "command",
        }
    }

    pub fn from_name(s: &str) -> Option<AgentKind> {
        Self::BUILT_IN.into_iter().chain([AgentKind::Command]).find(|k| k.name() == s)
    }

    /// The program run when the config names none.
    pub fn default_binary(self) -> Option<&'static str> {
        match self {
            AgentKind::Command => None,
            k => Some(k.name()),
        }
    }

    /// What users call it.
    pub fn title(self) -> &'static str {
        match self {
            AgentKind::Claude => "Claude Code",
            AgentKind::Codex => "Codex",
            AgentKind::Pi => "Pi",
            AgentKind::Gemini => "Gemini CLI",
            AgentKind::Opencode => "opencode",
            AgentKind::Command => "command",
        }
    }
}

/// An agent's state, as pane titles and `teamster ls` show it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AgentState {
    Starting,
    Working,
    WaitingForInput,
    NeedsApproval,
    Idle,
    /// A spend cap refused its model calls: it can do nothing until the cap is raised or
    /// a person approves the next step.
    StoppedBySpendCap,
    Exited,
}

impl AgentState {
    /// Every state (the web page's names are made from these: `share::web_types`).
    pub const ALL: [AgentState; 7] = [
        AgentState::Starting,
        AgentState::Working,
        AgentState::WaitingForInput,
        AgentState::NeedsApproval,
        AgentState::Idle,
        AgentState::StoppedBySpendCap,
        AgentState::Exited,
    ];

    pub fn words(self) -> &'static str {
        match self {
            AgentState::Starting => "starting",
            AgentState::Working => "working",
            AgentState::WaitingForInput => "waiting for input",
            AgentState::NeedsApproval => "needs approval",
            AgentState::Idle => "idle",
            AgentState::StoppedBySpendCap => "stopped by a spend cap",
            AgentState::Exited => "exited",
        }
    }

    /// Whether the agent can go on only when a person acts: answers it, approves what it
    /// asks, or gets it past a spend cap. The user is told of these (as configured).
    pub fn needs_person(self) -> bool {
        matches!(self, AgentState::WaitingForInput | AgentState::NeedsApproval | AgentState::StoppedBySpendCap)
    }
}
