//! What crosses the share server's WebSocket, as JSON text messages tagged by `t`.
//!
//! The server sees these envelopes and nothing inside them: `c` is always sealed
//! (`crypto::Keys::seal`). Runner updates carry sequence numbers; the server keeps the
//! latest snapshot and the updates after it, so a viewer that reconnects resumes where it
//! stopped, and one that fell behind is sent the snapshot instead of a backlog.

use serde::{Deserialize, Serialize};

/// The largest message the server takes from a viewer, and from a runner (a snapshot of
/// several big panes). Larger ones are refused, not buffered.
pub const MAX_VIEWER_MSG: usize = 256 << 10;
pub const MAX_RUNNER_MSG: usize = 16 << 20;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    /// Sees everything, may type nothing.
    Read,
    /// May also type into panes and approve or deny.
    Drive,
}

impl Role {
    pub fn word(self) -> &'static str {
        match self {
            Role::Read => "viewer",
            Role::Drive => "driver",
        }
    }
}

/// What a viewer's message asks for, in the clear so the server can check the role and
/// keep its audit; the runner checks that the sealed message is what this says.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// Keys, pastes and mouse for a pane.
    Input,
    /// Approve or deny a pending action.
    Resolve,
    /// Move the focus, switch tabs.
    Command,
    /// Read scrollback, search, copy: allowed to viewers.
    Query,
    /// A comment on the session, a pane's line or a pending action: allowed to viewers.
    Comment,
    /// A pane's conversation and branch, to continue elsewhere: drivers only.
    Fork,
}

impl Kind {
    pub fn word(self) -> &'static str {
        match self {
            Kind::Input => "input",
            Kind::Resolve => "resolve",
            Kind::Command => "command",
            Kind::Query => "query",
            Kind::Comment => "comment",
            Kind::Fork => "fork",
        }
    }

    pub fn needs_driver(self) -> bool {
        !matches!(self, Kind::Query | Kind::Comment)
    }
}

/// A driver's signature on a message: who, which of theirs, and the MAC (`crypto::aad::drive`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Authority {
    pub id: String,
    pub seq: u64,
    pub mac: String,
}

/// What a new share asks the server to keep: hashes of its tokens, never the tokens.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Register {
    pub read: String,
    pub drive: Option<String>,
    /// Seconds since the epoch.
    pub expires: Option<u64>,
    /// The team token, for a server that registers shares for its team alone
    /// (`teamster serve --team-token-file`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub team: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "t", rename_all = "kebab-case")]
pub enum FromRunner {
    /// The first message: which share, the runner's own token, and (for a new share)
    /// what to register.
    Runner { share: String, token: String, register: Option<Register> },
    /// `seq` counts up by one; a `snap` holds the whole state, the others what changed.
    Update { seq: u64, snap: bool, c: String },
    /// An answer for one viewer's connection.
    Reply { to: u64, c: String },
    /// Unshare: the server forgets the share and cuts every viewer off, telling them why
    /// (absent from runners that predate it: the sharer stopped sharing).
    Revoke {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        why: Option<Ended>,
    },
    /// The runner is restarting (`teamster restart`): the share stays, viewers are told,
    /// and the next runner connects again with the same share and token.
    Restarting,
}

/// Why a share ended, as the runner tells the server (which words it for viewers).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Ended {
    /// `teamster unshare`, or `u` in the share view.
    Unshared,
    /// The shared session (or pane) ended: killed, or its last program exited.
    SessionEnded,
    /// The runner restarted and the shared session did not come back.
    NotResumed,
    /// The runner stopped for good (`teamster kill --all`).
    RunnerStopped,
    Expired,
}

impl Ended {
    /// What viewers are told.
    pub fn words(self) -> &'static str {
        match self {
            Ended::Unshared => "the person who shared this session stopped sharing it",
            Ended::SessionEnded => "the share ended: the shared session ended",
            Ended::NotResumed => {
                "the share ended: the sharer's runner restarted and the shared session did not come back"
            }
            Ended::RunnerStopped => "the share ended: the sharer stopped their teamster",
            Ended::Expired => "this share link has expired; ask for a new one",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "t", rename_all = "kebab-case")]
pub enum ToRunner {
    /// Accepted; the server holds updates up to `have` (0: none; it restarted, or the
    /// share is new) and the runner sends what follows.
    Welcome {
        have: u64,
    },
    /// A viewer's message, sealed; `drive` is there when the viewer signed it.
    Msg {
        from: u64,
        role: Role,
        name: String,
        kind: Kind,
        c: String,
        drive: Option<Authority>,
    },
    Joined {
        conn: u64,
        role: Role,
        name: String,
    },
    Left {
        conn: u64,
    },
    Refused {
        reason: String,
    },
    /// The updates kept since the last snapshot are over the server's bound: send a
    /// snapshot next (one that does not is cut off).
    Snapshot,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "t", rename_all = "kebab-case")]
pub enum FromViewer {
    /// The first message. `resume`: the last update this viewer applied, after a
    /// reconnect.
    Join {
        share: String,
        token: String,
        role: Role,
        name: String,
        resume: Option<u64>,
    },
    Send {
        kind: Kind,
        c: String,
        drive: Option<Authority>,
    },
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "t", rename_all = "kebab-case")]
pub enum ToViewer {
    Joined {
        role: Role,
        runner: bool,
    },
    /// The same text the runner sent, relayed unchanged.
    Update {
        seq: u64,
        snap: bool,
        c: String,
    },
    Reply {
        c: String,
    },
    /// Whether the sharer's runner is connected; if not, whether it said it is restarting
    /// (its session comes back when it does).
    Status {
        runner: bool,
        #[serde(default)]
        restarting: bool,
    },
    /// Not (or no longer) allowed: the connection ends.
    Refused {
        reason: String,
    },
    /// Something the viewer sent was not taken; the connection stays.
    Error {
        reason: String,
    },
}

/// What the runner seals into an update: its epoch (drivers sign with it) and the same
/// messages a local TUI gets.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct UpdateBody {
    pub epoch: String,
    /// Whether drivers are taken at all (a read-only share has none).
    pub drivable: bool,
    pub msgs: Vec<crate::protocol::ServerMsg>,
}

/// What the runner seals into a reply to one viewer: up to which of the driver's messages
/// it has applied, all of them in order (so they are not sent again), an answer if there
/// is one, and whether some of the driver's messages are missing.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ReplyBody {
    pub ack: Option<(String, u64)>,
    pub msg: Option<crate::protocol::ServerMsg>,
    /// Absent from runners that predate it: no gap.
    #[serde(default)]
    pub gap: Option<Gap>,
}

/// A hole in the numbered messages of the driver the reply's `ack` names (a reply with a
/// gap always has one), as the runner sees it. Sealed like the rest of the reply, so a
/// relay can neither forge nor alter it (it can only drop it).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Gap {
    /// Some after the acknowledged ones did not arrive (later ones did, and wait): send
    /// them again.
    Resend,
    /// They never came: the runner applied the driver's messages up to the acknowledged
    /// one and dropped the rest; it takes nothing more under this driver id (start a new
    /// one).
    Lost,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{PaneFrame, ServerMsg, Size, WireRow, WireRun};
    use crate::share::crypto::{Keys, aad};

    /// A sharer (or anyone holding the share's key) seals an update whose row carries
    /// control characters: a viewer opens and decodes it as `teamster attach` does
    /// (`tui::remote`), and what it would draw holds none.
    #[test]
    fn a_sealed_update_from_a_hostile_sharer_brings_a_viewer_no_control_character() {
        let share = "c2hhcmUtaWQtdGVzdA";
        let keys = Keys::from_fragment(
            share,
            "r=AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8&d=ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8",
        )
        .unwrap();
        let row = WireRow {
            runs: vec![WireRun {
                text: "x\u{9d}52;c;Y3VybA==\u{9c}\x1b]0;pwned\x07".into(),
                link: "https://x/\x1b]52;c;eA==\x07".into(),
                marks: vec![(0, "\u{9b}31m".into())],
                ..WireRun::default()
            }],
            wrapped: false,
        };
        let frame = PaneFrame {
            pane: 1,
            size: Size { cols: 40, rows: 2 },
            full: true,
            rows: vec![(0, row)],
            cursor: Default::default(),
            modes: Default::default(),
            first_line: 0,
            screen_top: 0,
            epoch: 0,
        };
        let body =
            UpdateBody { epoch: "e".into(), drivable: false, msgs: vec![ServerMsg::Frame { panes: vec![frame] }] };
        let sealed = keys.seal(&aad::update(share, 1, true), &serde_json::to_vec(&body).unwrap()).unwrap();
        let opened = keys.open(&aad::update(share, 1, true), &sealed).unwrap();
        let body: UpdateBody = serde_json::from_slice(&opened).unwrap();
        let ServerMsg::Frame { panes } = &body.msgs[0] else { panic!("{body:?}") };
        let (_, row) = &panes[0].rows[0];
        let run = &row.runs[0];
        assert_eq!(run.text, "x\u{fffd}52;c;Y3VybA==\u{fffd}\u{fffd}]0;pwned\u{fffd}");
        assert_eq!(run.link, "");
        assert_eq!(run.marks, vec![(0, "31m".to_string())]);
        assert!(!row.ansi().contains(['\x07', '\u{9b}', '\u{9c}', '\u{9d}']), "{:?}", row.ansi());
    }
}
