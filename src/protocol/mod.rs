//! Every message that crosses a process boundary between the runner and its clients (the
//! TUI, the CLI, later remote viewers). Messages are MessagePack, each framed by its length
//! (4 bytes, little-endian). The first message each way is a hello that carries
//! `PROTOCOL_VERSION`, in JSON (as every version before 4 spoke), and a mismatch is
//! refused in JSON too: whatever their versions, two teamsters can say so to each other.

pub mod agent;
pub mod approval;
pub mod keys;
pub mod layout;
pub mod wire;

use keys::InputEvent;
use layout::{Direction, Layout, PaneId};
use serde::{Deserialize, Serialize};
pub use wire::{WireRow, WireRun};

/// Raised whenever a message is added or changed, so that a teamster and a runner of two
/// builds say so at hello instead of failing on the first message one of them does not know
/// (3: layouts by file, swap and move, underline colours and links on the wire).
pub const PROTOCOL_VERSION: u32 = 5;

/// The largest frame either side accepts. A screen update is a few tens of KB; the limit
/// stops a confused or hostile peer from making the other allocate without bound.
pub const MAX_FRAME: usize = 32 << 20;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Size {
    pub cols: u16,
    pub rows: u16,
}

/// What a new pane runs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Spawn {
    /// The configured shell.
    Shell,
    /// An `[agents.NAME]` entry from the config.
    Agent { name: String },
    /// A program given on the command line.
    Command { argv: Vec<String> },
}

/// Where a spawn happens and with which environment: the CLI sends its own, so `teamster
/// new -- make` runs `make` where, and with the PATH, the user typed it.
#[derive(Clone, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Context {
    pub cwd: Option<String>,
    pub env: Vec<(String, String)>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AttachTarget {
    /// The most recently used session, or a new one if there is none.
    Default,
    /// A session by name; with `create`, a new session of that name if there is none.
    Named { name: String, create: bool },
    /// Always a new session, optionally named, whose first pane runs `spawn`.
    New { name: Option<String>, spawn: Option<Spawn> },
}

/// The outer terminal's colours, as it answered OSC 10/11; passed on to programs that ask.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TermColors {
    pub fg: (u8, u8, u8),
    pub bg: (u8, u8, u8),
}

/// What the outer terminal draws beyond what every terminal does (styled underlines,
/// underline colours, overlines, hyperlinks); see `tui::features`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Features {
    pub styled_underline: bool,
    pub underline_color: bool,
    pub overline: bool,
    pub hyperlinks: bool,
}

/// What a client found out about its terminal before handing it to the runner: what only
/// its own environment and the terminal's answers tell.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TerminalFacts {
    /// Its size, all of it.
    pub size: Size,
    /// Its colours, as it answered OSC 10/11.
    pub colors: Option<TermColors>,
    /// It speaks the kitty keyboard protocol (and teamster asked for it).
    pub kitty_keys: bool,
    /// What it draws, as found before `[terminal]` in the config is applied.
    pub features: Features,
    /// What was typed while it was being asked.
    pub typed: Vec<u8>,
}

/// Changes to the attached session, applied by the runner on behalf of a client.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Command {
    Split {
        dir: Direction,
        spawn: Spawn,
    },
    /// `worktree` says what to do with the pane's git worktree, if it has one; without
    /// an answer the runner refuses and asks.
    ClosePane {
        pane: PaneId,
        worktree: Option<WorktreeChoice>,
    },
    Focus {
        pane: PaneId,
    },
    FocusDirection {
        dir: Direction,
    },
    FocusNext,
    FocusPrev,
    /// By the number shown in the title, 1-based, in the current tab.
    FocusNumber {
        number: u8,
    },
    Resize {
        dir: Direction,
        amount: u16,
    },
    Zoom,
    Equalize,
    RenamePane {
        pane: PaneId,
        name: String,
    },
    NewTab {
        spawn: Spawn,
    },
    CloseTab,
    /// 0-based index.
    SelectTab {
        index: usize,
    },
    NextTab,
    PrevTab,
    RenameTab {
        name: String,
    },
    /// Typing into the current tab goes to each of its panes, or (again) to the focused one.
    ToggleSync,
    /// Starts an exited pane's program again in its place: an agent resumes its
    /// conversation, a command runs again.
    Respawn {
        pane: PaneId,
    },
    /// Exchanges the places of two panes of the session (in one tab or two).
    SwapPane {
        pane: PaneId,
        with: PaneId,
    },
    /// Moves a pane into another tab of its session (0-based), or into a new tab of its
    /// own (`None`: tmux's `break-pane`).
    MovePane {
        pane: PaneId,
        tab: Option<usize>,
    },
    /// Arranges the current tab's panes as named (the TUI cycles from the tab's last).
    SelectLayout {
        arrangement: layout::Arrangement,
    },
}

impl Command {
    /// Does it change what a restarted runner brings back (panes, tabs, layout, names)?
    /// Moving the focus does not: that is saved with the next change of shape, or at a
    /// restart.
    pub fn changes_shape(&self) -> bool {
        !matches!(
            self,
            Command::Focus { .. }
                | Command::FocusDirection { .. }
                | Command::FocusNext
                | Command::FocusPrev
                | Command::FocusNumber { .. }
                | Command::Zoom
                | Command::SelectTab { .. }
                | Command::NextTab
                | Command::PrevTab
        )
    }
}

/// `teamster new`: what to open, and where.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewPane {
    /// The session by name (default: the one `near` is in, else the most recent).
    pub session: Option<String>,
    /// The pane to open beside (the caller's own, when it runs in one).
    pub near: Option<PaneId>,
    pub spawn: Spawn,
    /// In a new tab rather than a split.
    pub tab: bool,
    pub dir: Option<Direction>,
    pub context: Context,
    /// A git worktree for the pane: `Some("")` on a branch teamster names.
    pub worktree: Option<String>,
    /// The branch a new worktree branch starts from (`--base`; else `[worktree] base`).
    #[serde(default)]
    pub base: Option<String>,
    /// What to call the pane (`--name`): a name commands can use for it.
    #[serde(default)]
    pub name: Option<String>,
    /// Start its agent in this conversation (`teamster fork`), its files put first where
    /// the agent looks for them.
    #[serde(default)]
    pub resume: Option<Box<Resume>>,
}

/// A conversation an agent is started in: its id, and (from a fork) the agent's file of it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resume {
    pub conversation: String,
    /// The transcript, base64 (it is the agent's bytes, not necessarily text).
    pub transcript: Option<String>,
    /// Where it goes beneath the agent's place for conversations (`AgentAdapter::
    /// conversations`), as the sharer's agent had it.
    #[serde(default)]
    pub transcript_path: Option<String>,
}

/// What `teamster fork` takes from a shared pane: its agent's conversation and its
/// worktree's branch.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ForkPack {
    pub kind: agent::AgentKind,
    /// The sharer's name for the agent, to say.
    pub agent: String,
    pub conversation: String,
    /// The agent's transcript of it, base64.
    pub transcript: String,
    /// Its path beneath the agent's place for conversations (`2026/12/04/rollout-...jsonl`).
    pub transcript_path: String,
    pub branch: Option<ForkBranch>,
}

/// A worktree's branch: its name, the commit it starts from, and (when it has commits of
/// its own) a git bundle of them, base64.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ForkBranch {
    pub name: String,
    pub base: String,
    pub bundle: Option<String>,
}

/// The largest transcript and bundle a fork carries (they travel in one sealed reply).
pub const FORK_MAX: usize = 6 << 20;

/// Where `teamster swap` and `teamster move` put a pane.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PaneMove {
    /// Into the place of this pane (named as `capture` names one), which takes its place.
    SwapWith(String),
    /// Into this tab of its session (1-based, as the status bar numbers them).
    Tab(usize),
    /// Into a new tab of its own.
    NewTab,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "type")]
pub enum ClientMsg {
    Hello {
        version: u32,
    },
    /// Become a TUI client of a session; `size` is the area the client gives to panes.
    Attach {
        target: AttachTarget,
        size: Size,
        context: Context,
        colors: Option<TermColors>,
    },
    /// Hands the client's terminal to the runner, which then draws the session on it and
    /// reads its keys itself, as tmux's server does: a key's echo crosses one process, not
    /// two. The terminal's descriptor follows once the runner answers `TakeTerminal`;
    /// `config_path` is where the client's keys and theme are.
    AttachTerminal {
        target: AttachTarget,
        context: Context,
        terminal: TerminalFacts,
        config_path: std::path::PathBuf,
        /// The runner went away and this is the one that replaced it.
        reconnected: bool,
    },
    /// The handed terminal changed size.
    TerminalResized {
        size: Size,
    },
    /// The client's terminal hung up, or the client was told to end: the runner leaves it.
    TerminalGone,
    Resize {
        size: Size,
    },
    /// Input for a pane; `pane: None` means the pane focused when the runner applies it,
    /// so keys typed right after a focus change go where the user now looks.
    Input {
        pane: Option<PaneId>,
        events: Vec<InputEvent>,
    },
    Command {
        id: u64,
        command: Command,
    },
    /// Lines by absolute number (see `screen`), for scrollback views.
    GetLines {
        id: u64,
        pane: PaneId,
        from: u64,
        count: u16,
    },
    Search {
        id: u64,
        pane: PaneId,
        query: String,
        from: (u64, u16),
        backward: bool,
    },
    GetText {
        id: u64,
        pane: PaneId,
        start: (u64, u16),
        end: (u64, u16),
        block: bool,
    },
    /// From a drive link: the pane's agent's conversation and its worktree's branch, to go
    /// on with on the teammate's machine (`teamster fork`).
    Fork {
        id: u64,
        pane: PaneId,
    },
    /// A teammate's comment, from a shared link (watching is enough): shown in the sharer's
    /// sidebar history and to every viewer, with who and where.
    Comment {
        id: u64,
        on: CommentOn,
        text: String,
    },
    Detach,
    // One-shot requests from the CLI.
    List {
        id: u64,
    },
    Kill {
        id: u64,
        session: Option<String>,
        all: bool,
    },
    /// `dir` None: along the pane's longer side.
    NewPane {
        id: u64,
        pane: NewPane,
    },
    ListAgents {
        id: u64,
    },
    /// Tool calls waiting for a verdict.
    Approvals {
        id: u64,
    },
    /// Approve or deny a pending action (the sidebar, `teamster approve|deny`).
    Resolve {
        id: u64,
        action: u64,
        decision: approval::Decision,
        /// Where the decision was made, for the audit log.
        via: approval::Surface,
    },
    /// Spend, by agent, model, day and session (`teamster cost`); all sessions, or one.
    Cost {
        id: u64,
        session: Option<String>,
    },
    /// A prompt for a pane's agent (`teamster send`): `text` typed (pasted, if it has
    /// lines), then `keys`, encoded for the modes the program set, then Enter if `enter`.
    /// Refused while the agent shows a dialog or is not ready for a prompt.
    Send {
        id: u64,
        target: String,
        text: String,
        keys: Vec<keys::Key>,
        enter: bool,
    },
    /// The same prompt for every agent of a session (`teamster send --all`), or of one of
    /// its tabs (`--tab`: the tab `near` is in, else the one on screen). Each is typed as
    /// `Send` types it, or refused as it refuses.
    SendMany {
        id: u64,
        session: Option<String>,
        near: Option<PaneId>,
        tab_only: bool,
        text: String,
        keys: Vec<keys::Key>,
        enter: bool,
    },
    /// A pane's screen and scrollback (`teamster capture`): its last `lines` lines that
    /// are not blank at the end, styled as the screen holds them.
    Capture {
        id: u64,
        target: String,
        lines: Option<u32>,
    },
    /// What a pane's agent answered at the end of its last turn (`capture --last-reply`,
    /// hand-offs and pipes between agents).
    LastAnswer {
        id: u64,
        target: String,
    },
    /// What each worktree pane of a tab changed against its base (`teamster compare`):
    /// the tab `near` is in, else the current tab of the session named or on a screen.
    Compare {
        id: u64,
        session: Option<String>,
        near: Option<PaneId>,
    },
    /// The same task to several agents (`teamster race`, the picker's marked agents): a
    /// new tab with one pane per agent, each in a worktree of its own on its own branch
    /// from one base, side by side; each is sent the task once it is ready for it.
    /// Answered when every agent has taken it or cannot.
    Race {
        id: u64,
        race: Race,
    },
    /// A worktree pane's branch against its base, as a unified diff (`teamster diff`):
    /// answered with its text.
    Diff {
        id: u64,
        target: String,
    },
    /// Merges a worktree pane's branch into its base branch in the main checkout
    /// (`teamster merge`), signed by `who` (name, email); then, with `close_others`, closes
    /// the other worktree panes of its tab and removes their worktrees where nothing is
    /// uncommitted (their branches stay).
    Merge {
        id: u64,
        target: String,
        how: MergeHow,
        who: Option<(String, String)>,
        close_others: bool,
    },
    /// After a merge: closes the other worktree panes of `target`'s tab and removes their
    /// worktrees where nothing is uncommitted (their branches stay). Answered with text.
    CloseOthers {
        id: u64,
        target: String,
    },
    /// Arranges the current tab of a session (`teamster layout NAME`): the caller's
    /// session (`near`), or the one named, or the one on a screen.
    Layout {
        id: u64,
        session: Option<String>,
        near: Option<PaneId>,
        arrangement: layout::Arrangement,
    },
    /// Opens `[layouts.NAME]` (`teamster -l NAME`, `teamster layout NAME`): as a new tab of
    /// the caller's session (`near`), the one named, or the one on a screen; with `fresh`,
    /// in place of the first tab of a session just made for it.
    OpenLayout {
        id: u64,
        session: Option<String>,
        near: Option<PaneId>,
        name: String,
        context: Context,
        fresh: bool,
    },
    /// Swaps a pane with another or moves it to another tab (`teamster swap`, `move`).
    MovePane {
        id: u64,
        /// The pane, named as `capture` names one.
        pane: String,
        to: PaneMove,
    },
    /// Forget an "always allow".
    RemoveAllowance {
        id: u64,
        allowance: i64,
    },
    /// Stop the runner keeping its sessions; the next `teamster` brings them back.
    Restart {
        id: u64,
    },
    /// Share a session, or one pane, by URL (`teamster share`).
    Share {
        id: u64,
        share: ShareRequest,
    },
    /// Stop sharing: one share by id, every share of a session, or all.
    Unshare {
        id: u64,
        share: Option<String>,
        session: Option<String>,
    },
    /// The shares and who watches them (with their links: owner only).
    Shares {
        id: u64,
    },
    /// A new session that no client is attached to (`teamster -d`).
    NewSession {
        id: u64,
        name: Option<String>,
        spawn: Option<Spawn>,
        size: Size,
        context: Context,
    },
}

impl ClientMsg {
    /// Whether the message only reads: what an agent's own processes may still send.
    pub fn is_read_only(&self) -> bool {
        matches!(
            self,
            ClientMsg::Hello { .. }
                | ClientMsg::List { .. }
                | ClientMsg::ListAgents { .. }
                | ClientMsg::Approvals { .. }
                | ClientMsg::Cost { .. }
                | ClientMsg::Capture { .. }
                | ClientMsg::LastAnswer { .. }
        )
    }

    /// The id its reply will carry, for requests.
    pub fn request_id(&self) -> Option<u64> {
        match self {
            ClientMsg::Command { id, .. }
            | ClientMsg::GetLines { id, .. }
            | ClientMsg::Search { id, .. }
            | ClientMsg::GetText { id, .. }
            | ClientMsg::Comment { id, .. }
            | ClientMsg::Fork { id, .. }
            | ClientMsg::List { id }
            | ClientMsg::Kill { id, .. }
            | ClientMsg::NewPane { id, .. }
            | ClientMsg::ListAgents { id }
            | ClientMsg::Approvals { id }
            | ClientMsg::Resolve { id, .. }
            | ClientMsg::Cost { id, .. }
            | ClientMsg::Capture { id, .. }
            | ClientMsg::LastAnswer { id, .. }
            | ClientMsg::Compare { id, .. }
            | ClientMsg::Race { id, .. }
            | ClientMsg::Merge { id, .. }
            | ClientMsg::CloseOthers { id, .. }
            | ClientMsg::Diff { id, .. }
            | ClientMsg::Send { id, .. }
            | ClientMsg::SendMany { id, .. }
            | ClientMsg::Layout { id, .. }
            | ClientMsg::MovePane { id, .. }
            | ClientMsg::OpenLayout { id, .. }
            | ClientMsg::RemoveAllowance { id, .. }
            | ClientMsg::Restart { id }
            | ClientMsg::Share { id, .. }
            | ClientMsg::Unshare { id, .. }
            | ClientMsg::Shares { id }
            | ClientMsg::NewSession { id, .. } => Some(*id),
            ClientMsg::Hello { .. }
            | ClientMsg::Attach { .. }
            | ClientMsg::AttachTerminal { .. }
            | ClientMsg::TerminalResized { .. }
            | ClientMsg::TerminalGone
            | ClientMsg::Resize { .. }
            | ClientMsg::Input { .. }
            | ClientMsg::Detach => None,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "type")]
pub enum ServerMsg {
    Hello {
        version: u32,
        runner_version: String,
        pid: u32,
    },
    /// The whole shape of the session; sent on attach and whenever it changes.
    Session {
        /// Boxed: the largest message, sent far less often than frames.
        session: Box<SessionView>,
    },
    /// Screen updates for the panes the client can see.
    Frame {
        panes: Vec<PaneFrame>,
    },
    Reply {
        id: u64,
        result: Result<Reply, String>,
    },
    /// A pane rang the bell or asked to notify.
    Alert {
        pane: PaneId,
        kind: AlertKind,
    },
    /// Every action waiting for a verdict, across sessions, oldest first; sent when it
    /// changes.
    Pending {
        pending: Vec<PendingView>,
    },
    /// The latest decisions (a person's, a rule's, the sandbox's refusals), newest first;
    /// sent when one is made.
    History {
        recent: Vec<RecentView>,
    },
    /// Ready for the handed terminal's descriptor.
    TakeTerminal,
    /// The session drawn on the handed terminal, whenever it changes: the one to come
    /// back to after a runner restart.
    TerminalSession {
        name: String,
    },
    /// The runner is done with the handed terminal, and all it drew is written: what to
    /// tell the user, and whether it is an error.
    TerminalDone {
        message: String,
        failed: bool,
    },
    /// A program set the clipboard (OSC 52); the client passes it to its terminal.
    Clipboard {
        data: String,
    },
    /// The client is no longer attached, and why.
    Detached {
        reason: DetachReason,
    },
    /// Something went wrong that the user should see.
    Error {
        message: String,
    },
    /// The runner saw the config change on disk and applied it (`error: None`: reload keys
    /// and theme too), or kept the last good one (`error`: why).
    ConfigReloaded {
        error: Option<String>,
    },
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AlertKind {
    Bell,
    Notify {
        title: String,
        body: String,
    },
    /// An agent started waiting for the user (or for an approval).
    Waiting {
        agent: String,
        state: agent::AgentState,
    },
}

/// Why `teamster send` typed nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum NotSent {
    /// The agent shows a permission dialog (a prompt typed now would answer it).
    Dialog,
    /// It is starting, working, or stopped by a spend cap.
    Busy,
    Exited,
}

/// Why a client is no longer attached.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "why", content = "detail", rename_all = "kebab-case")]
pub enum DetachReason {
    /// The person detached.
    Detached,
    /// The person left a shared session.
    Left,
    /// The session ended: killed, its last pane closed, the runner restarting (what).
    SessionEnded(String),
    /// A shared session's link stopped: unshared, expired, refused, cut off (what).
    ShareEnded(String),
}

impl DetachReason {
    pub fn words(&self) -> String {
        match self {
            DetachReason::Detached => "detached".into(),
            DetachReason::Left => "left the shared session".into(),
            DetachReason::SessionEnded(why) | DetachReason::ShareEnded(why) => why.clone(),
        }
    }
}

/// The largest hook payload accepted; a hook reports one tool call, not a file's content.
pub const MAX_HOOK: usize = 4 << 20;

/// One line from `teamster hook` to its pane's hook socket: the agent's event and what
/// the agent said about it (who sent it is the socket's to say, never the payload's).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct HookRequest {
    pub event: String,
    pub payload: serde_json::Value,
}

/// What a race is: the task, the agents (two or more, by their config names, in order
/// left to right), the base branch, and where (the session named, else the one `near` is
/// in).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Race {
    pub task: String,
    pub agents: Vec<String>,
    pub base: Option<String>,
    pub session: Option<String>,
    pub near: Option<PaneId>,
    pub context: Context,
}

/// One agent of a race: its pane and branch, and whether it took the task.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Racer {
    pub agent: String,
    pub pane: PaneId,
    pub place: String,
    pub branch: String,
    pub sent: bool,
    /// Why not, when not.
    pub why: Option<String>,
}

/// One pane's prompt of a `SendMany`: typed and taken, or why not.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delivery {
    pub pane: PaneId,
    /// `SESSION:TAB.PANE`.
    pub place: String,
    pub sent: bool,
    pub why: Option<NotSent>,
    pub message: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Reply {
    Done,
    Lines {
        from: u64,
        rows: Vec<WireRow>,
    },
    Found {
        at: Option<(u64, u16)>,
    },
    Text {
        text: String,
    },
    Sessions {
        sessions: Vec<SessionView>,
    },
    /// A tab's worktree panes side by side (`teamster compare`).
    Compare {
        rows: Vec<CompareRow>,
    },
    Pane {
        pane: PaneId,
        session: String,
    },
    /// A pane's lines (`teamster capture`), and which pane it is.
    Captured {
        session: String,
        pane: PaneId,
        rows: Vec<WireRow>,
    },
    /// What `SendMany` did, pane by pane.
    SentMany {
        results: Vec<Delivery>,
    },
    Raced {
        racers: Vec<Racer>,
        seconds: f64,
    },
    /// A `ForkPack` as JSON, sealed under the drive secret's key (`Keys::seal_for_drivers`,
    /// `aad::fork`): inside a reply every viewer's key opens, only drivers open this.
    Forked {
        sealed: String,
    },
    /// A pane's agent's last answer, and which pane it is.
    Answer {
        session: String,
        pane: PaneId,
        text: String,
    },
    /// A pane was not closed: its worktree has uncommitted changes (the message says where).
    WorktreeNotClean {
        message: String,
    },
    /// `teamster send` did not type: the agent asks a question, is busy, or has exited.
    NotSent {
        why: NotSent,
        message: String,
    },
    Agents {
        agents: Vec<AgentInfo>,
    },
    Approvals {
        pending: Vec<PendingView>,
    },
    Cost {
        report: CostReport,
    },
    Shares {
        shares: Vec<ShareView>,
    },
}

/// `teamster share`: what to share and how.
#[derive(Clone, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ShareRequest {
    /// The session by name (default: the one `pane` is in, else the most recent).
    pub session: Option<String>,
    /// Only this pane.
    pub pane: Option<PaneId>,
    /// No driver link: everyone who has the link only watches.
    pub read_only: bool,
    /// The share server (default: the config's `[share] server`).
    pub server: Option<String>,
    /// How long the links work: "30m", "8h", "2d".
    pub expires: Option<String>,
}

/// A share, as its owner sees it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShareView {
    pub id: String,
    pub session: String,
    pub pane: Option<PaneId>,
    pub server: String,
    /// Watch only.
    pub read_url: String,
    /// Watch, type and approve; none for a read-only share.
    pub drive_url: Option<String>,
    pub expires: u64,
    /// Whether the runner is connected to the server now.
    pub connected: bool,
    /// Who is watching: "ann (driver)".
    pub viewers: Vec<String>,
}

pub use approval::AllowScope;

/// What a teammate's comment is about.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "on")]
pub enum CommentOn {
    /// The session as a whole.
    Session,
    /// A pane, and the line of its screen (counted from 1 at the top) if one was picked.
    Pane { pane: PaneId, line: Option<u16> },
    /// A pending action, by its approval id.
    Action { action: u64 },
}

/// The longest comment taken, in characters.
pub const COMMENT_MAX: usize = 1000;

/// Tokens and dollars for one key (an agent, a model, a day, a session).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CostRow {
    pub key: String,
    pub input: u64,
    pub output: u64,
    pub cache_read: u64,
    pub cache_write: u64,
    pub cost: f64,
    pub calls: u64,
    /// Calls priced by the fallback price (model not in the table).
    pub estimated: u64,
    /// Calls whose usage could not be read (not in `cost`).
    pub unknown: u64,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CostReport {
    pub by_agent: Vec<CostRow>,
    pub by_model: Vec<CostRow>,
    pub by_day: Vec<CostRow>,
    pub by_session: Vec<CostRow>,
    /// Each pane, by the name it had at its latest call (`work:1.2 reviewer`).
    #[serde(default)]
    pub by_pane: Vec<CostRow>,
    pub total: CostRow,
    /// Dollars an hour at the rate of the last ten minutes.
    #[serde(default)]
    pub burn_per_hour: f64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum WorktreeChoice {
    Keep,
    /// Removed only when it has no uncommitted changes.
    Remove,
}

/// A decision made, as the sidebar's history shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecentView {
    pub ts: u64,
    /// The session it happened in (a share shows only its own).
    #[serde(default)]
    pub session: String,
    pub agent: String,
    pub kind: approval::ActionKind,
    pub what: String,
    pub verdict: approval::Verdict,
    pub by: approval::DecidedBy,
    /// How many times lately the same was decided on the same thing (the newest at `ts`).
    #[serde(default = "one", skip_serializing_if = "is_one")]
    pub times: u32,
}

fn one() -> u32 {
    1
}

fn is_one(n: &u32) -> bool {
    *n == 1
}

impl RecentView {
    /// Puts `view` first in `recent`, newest first, bounded by `limit`: the same decision on
    /// the same thing by the same agent is told once, with how many times (a program
    /// retrying a refused write fills no list).
    pub fn note(recent: &mut Vec<RecentView>, view: RecentView, limit: usize) {
        let same = |o: &RecentView| {
            o.session == view.session
                && o.agent == view.agent
                && o.what == view.what
                && o.verdict == view.verdict
                && o.by == view.by
        };
        let times = match recent.iter().position(same) {
            Some(i) => recent.remove(i).times + 1,
            None => 1,
        };
        recent.insert(0, RecentView { times, ..view });
        recent.truncate(limit);
    }
}

/// An action held for a verdict: a tool call, a model call at a spend gate, or what an
/// agent does on the wire (a push, a download, a contact).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingView {
    pub id: u64,
    pub session: String,
    pub pane: PaneId,
    /// The pane's place, `SESSION:TAB.PANE`, as commands and the sidebar name panes.
    #[serde(default)]
    pub place: Option<String>,
    pub agent: String,
    pub kind: approval::ActionKind,
    /// The tool, or the provider.
    pub tool: String,
    /// What it wants to do: the command, the file, or the request and the spend so far.
    pub what: String,
    /// The rule that asked, and why.
    pub rule: Option<String>,
    pub reason: String,
    /// A rule of teamster's asks, or the agent itself in its own dialog.
    #[serde(default)]
    pub source: PendingSource,
    /// What approving will not change: the sandbox still refuses part of it, and the
    /// setting that would let it.
    #[serde(default)]
    pub warning: Option<String>,
    /// For an edit, what it changes (`-` and `+` lines).
    #[serde(default)]
    pub diff: Option<String>,
    /// Seconds since the epoch; and when it is denied if nobody answers (0: never; an
    /// agent's own question waits as long as the agent does).
    pub since: u64,
    pub deadline: u64,
}

/// A spend cap that stopped a session's agents: the rule, its reason, and what kind of
/// gate it is.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CapView {
    pub rule: Option<String>,
    pub reason: String,
    #[serde(default)]
    pub gate: GateKind,
}

/// What a spend gate does past its limit, which says how to get past it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum GateKind {
    /// It refuses every model call: only raising it in the config lets them go.
    #[default]
    Refuses,
    /// It asks before each model call (denied by a person, or nobody answered): approving
    /// the next step lets it go.
    Asks,
}

impl GateKind {
    /// How to get past it, for the status bar and the web page.
    pub fn advice(self) -> &'static str {
        match self {
            GateKind::Refuses => "raise it in your config",
            GateKind::Asks => "approve the next step",
        }
    }
}

/// Who asks about a pending action.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PendingSource {
    /// A policy (or `hold_tool_calls`): nobody answering in time denies it.
    #[default]
    Policy,
    /// The agent's own permission dialog, answered here or in its pane.
    Agent,
}

/// An agent pane's agent, for titles and `teamster ls`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentView {
    pub kind: agent::AgentKind,
    pub state: agent::AgentState,
    pub conversation: Option<String>,
    /// How many turns the agent has ended with an answer (`teamster capture --last-reply`).
    #[serde(default)]
    pub answers: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentInfo {
    pub name: String,
    pub command: String,
    pub description: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "state")]
pub enum PaneState {
    #[default]
    Running,
    Exited {
        code: Option<i32>,
        signal: Option<i32>,
    },
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PaneInfo {
    pub id: PaneId,
    /// A name the user gave, or the agent's name.
    pub name: Option<String>,
    /// The command line, for display.
    pub command: String,
    /// What the program set as its title (OSC 0/2).
    pub title: String,
    pub state: PaneState,
    pub pid: Option<u32>,
    pub size: Size,
    /// Rang the bell, notified, or started waiting since it was last focused.
    pub attention: bool,
    pub agent: Option<AgentView>,
    /// The branch of the pane's git worktree, if it has one.
    pub branch: Option<String>,
    /// Dollars its agent has spent; `spend_unknown` when some calls could not be metered.
    #[serde(default)]
    pub spend: f64,
    #[serde(default)]
    pub spend_unknown: bool,
    /// For agents: whether they run sandboxed, and how many writes and connections the
    /// sandbox refused.
    #[serde(default)]
    pub sandboxed: Option<bool>,
    #[serde(default)]
    pub refused: u32,
    /// The config changed what it would start with: it runs as started until restarted.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub restart_applies: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TabView {
    pub id: u32,
    pub name: String,
    pub layout: Layout,
    pub focused: PaneId,
    pub zoomed: Option<PaneId>,
    /// Typing goes to every pane of the tab.
    #[serde(default)]
    pub synchronized: bool,
    /// The arrangement last chosen for its panes (cycling goes on from it).
    #[serde(default)]
    pub arrangement: Option<layout::Arrangement>,
}

#[derive(Default, Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SessionView {
    pub id: u32,
    pub name: String,
    pub tabs: Vec<TabView>,
    pub active_tab: usize,
    /// Every pane in every tab (a list, not a map: JSON object keys are strings).
    pub panes: Vec<PaneInfo>,
    pub clients: u32,
    pub created: u64,
    /// Dollars spent by the session's agents, and the next limit a policy acts at.
    #[serde(default)]
    pub spend: f64,
    #[serde(default)]
    pub budget: Option<(f64, String)>,
    /// The spend cap that stopped its agents, while it holds.
    #[serde(default)]
    pub cap_hit: Option<CapView>,
    /// Who watches over a share link ("ann (driver)"); empty when not shared.
    #[serde(default)]
    pub watchers: Vec<String>,
    #[serde(default)]
    pub shared: bool,
}

impl PaneInfo {
    /// How the pane is doing, in words: the agent's state for agent panes, else whether
    /// the program still runs. `exited 1`, `killed by SIGKILL`, `waiting for input`.
    pub fn status(&self) -> String {
        match (&self.state, &self.agent) {
            (PaneState::Running, Some(agent)) => agent.state.words().to_string(),
            (PaneState::Running, None) => "running".into(),
            (PaneState::Exited { code: Some(code), .. }, _) => format!("exited {code}"),
            (PaneState::Exited { signal: Some(sig), .. }, _) => format!("killed by {}", signal_name(*sig)),
            (PaneState::Exited { .. }, _) => "exited".into(),
        }
    }

    /// Whether the agent in the pane waits on the user.
    pub fn wants_user(&self) -> bool {
        self.state == PaneState::Running
            && self.agent.as_ref().is_some_and(|a| {
                matches!(a.state, agent::AgentState::WaitingForInput | agent::AgentState::NeedsApproval)
            })
    }
}

pub fn signal_name(sig: i32) -> String {
    match sig {
        1 => "SIGHUP".into(),
        2 => "SIGINT".into(),
        9 => "SIGKILL".into(),
        11 => "SIGSEGV".into(),
        15 => "SIGTERM".into(),
        n => format!("signal {n}"),
    }
}

impl SessionView {
    pub fn tab(&self) -> Option<&TabView> {
        self.tabs.get(self.active_tab)
    }

    pub fn focused(&self) -> Option<PaneId> {
        self.tab().map(|t| t.focused)
    }

    pub fn pane(&self, id: PaneId) -> Option<&PaneInfo> {
        self.panes.iter().find(|p| p.id == id)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct CursorView {
    pub x: u16,
    pub y: u16,
    pub visible: bool,
    pub shape: CursorShape,
    /// The colour the program set for it (OSC 12).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub color: Option<(u8, u8, u8)>,
}

/// What a client needs to know of a pane's modes to route input and scroll.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct PaneModes {
    /// The program asked for mouse events.
    pub mouse: bool,
    pub alt_screen: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PaneFrame {
    pub pane: PaneId,
    pub size: Size,
    /// Every row is included; rows sent earlier are void.
    pub full: bool,
    pub rows: Vec<(u16, WireRow)>,
    pub cursor: CursorView,
    pub modes: PaneModes,
    /// Absolute numbers of the first scrollback line and of the screen's first row, and
    /// the numbering's epoch (see `screen`).
    pub first_line: u64,
    pub screen_top: u64,
    pub epoch: u64,
}

/// Encodes one message with its length prefix. The body is MessagePack with fields by
/// name: binary numbers and strings without escaping (a screen row's runs are most of
/// what travels), and the same shapes as the JSON the web page reads (tags, optional
/// fields left out).
pub fn encode<T: Serialize>(msg: &T) -> Vec<u8> {
    let body = rmp_serde::to_vec_named(msg).unwrap_or_default();
    let mut out = Vec::with_capacity(body.len() + 4);
    out.extend_from_slice(&(body.len() as u32).to_le_bytes());
    out.extend_from_slice(&body);
    out
}

/// Encodes a hello, or the refusal of one, as every version reads it: JSON.
pub fn encode_json<T: Serialize>(msg: &T) -> Vec<u8> {
    let body = serde_json::to_vec(msg).unwrap_or_default();
    let mut out = Vec::with_capacity(body.len() + 4);
    out.extend_from_slice(&(body.len() as u32).to_le_bytes());
    out.extend_from_slice(&body);
    out
}

/// A message's body: JSON (a hello, or a peer from before version 4) when it starts as a
/// JSON object does, which no MessagePack message of ours does (they are maps), else
/// MessagePack.
fn decode_body<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> std::io::Result<T> {
    let bad = |e: String| std::io::Error::new(std::io::ErrorKind::InvalidData, format!("malformed message: {e}"));
    match bytes.first() {
        Some(b'{') => serde_json::from_slice(bytes).map_err(|e| bad(e.to_string())),
        _ => rmp_serde::from_slice(bytes).map_err(|e| bad(e.to_string())),
    }
}

/// Reads one framed message; `Ok(None)` at a clean end of stream.
pub async fn read_msg<T, R>(r: &mut R) -> std::io::Result<Option<T>>
where
    T: serde::de::DeserializeOwned,
    R: tokio::io::AsyncRead + Unpin,
{
    use tokio::io::AsyncReadExt;
    let mut len = [0u8; 4];
    match r.read_exact(&mut len).await {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    let len = u32::from_le_bytes(len) as usize;
    if len > MAX_FRAME {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("message of {len} bytes is over the {MAX_FRAME} byte limit"),
        ));
    }
    let mut body = vec![0u8; len];
    r.read_exact(&mut body).await?;
    decode_body(&body).map(Some)
}

/// Takes one complete message off the front of `buf`, if it holds one.
pub fn decode<T: serde::de::DeserializeOwned>(buf: &mut Vec<u8>) -> std::io::Result<Option<T>> {
    let Some(len) = buf.get(..4).map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize) else {
        return Ok(None);
    };
    if len > MAX_FRAME {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("message of {len} bytes is over the {MAX_FRAME} byte limit"),
        ));
    }
    if buf.len() < 4 + len {
        return Ok(None);
    }
    let msg = decode_body(&buf[4..4 + len]);
    buf.drain(..4 + len);
    msg.map(Some)
}

pub async fn write_msg<T, W>(w: &mut W, msg: &T) -> std::io::Result<()>
where
    T: Serialize,
    W: tokio::io::AsyncWrite + Unpin,
{
    use tokio::io::AsyncWriteExt;
    w.write_all(&encode(msg)).await
}

/// How `merge` puts a worktree's branch onto its base.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum MergeHow {
    /// Only when the base has not moved: the base takes the branch's commits as they are.
    FastForward,
    /// The branch's work as one new commit on the base.
    Squash,
    /// A merge commit, even where a fast-forward would do.
    MergeCommit,
    /// Not merged here: the branch pushed to the repository's remote and a pull request
    /// opened against its base with GitHub's `gh`.
    PullRequest,
}

impl MergeHow {
    pub fn words(self) -> &'static str {
        match self {
            MergeHow::FastForward => "fast-forward",
            MergeHow::Squash => "squashed into one commit",
            MergeHow::MergeCommit => "merge commit",
            MergeHow::PullRequest => "pull request",
        }
    }
}

/// What `teamster compare` and its view sort by: amounts most first, words in their order.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CompareBy {
    #[default]
    Place,
    Agent,
    State,
    Time,
    Spend,
    Tokens,
    Files,
    Added,
    Removed,
    Check,
    Branch,
}

impl CompareBy {
    /// Every column, in the order the view's `s` goes through them.
    pub const ALL: [CompareBy; 11] = [
        CompareBy::Place,
        CompareBy::Agent,
        CompareBy::State,
        CompareBy::Time,
        CompareBy::Spend,
        CompareBy::Tokens,
        CompareBy::Files,
        CompareBy::Added,
        CompareBy::Removed,
        CompareBy::Check,
        CompareBy::Branch,
    ];

    pub fn name(self) -> &'static str {
        match self {
            CompareBy::Place => "place",
            CompareBy::Agent => "agent",
            CompareBy::State => "state",
            CompareBy::Time => "time",
            CompareBy::Spend => "spend",
            CompareBy::Tokens => "tokens",
            CompareBy::Files => "files",
            CompareBy::Added => "added",
            CompareBy::Removed => "removed",
            CompareBy::Check => "check",
            CompareBy::Branch => "branch",
        }
    }

    /// The column after this one, round.
    pub fn next(self) -> CompareBy {
        let i = CompareBy::ALL.iter().position(|c| *c == self).unwrap_or(0);
        CompareBy::ALL[(i + 1) % CompareBy::ALL.len()]
    }

    pub fn sort(self, rows: &mut [CompareRow]) {
        match self {
            CompareBy::Place => rows.sort_by(|a, b| a.place.cmp(&b.place)),
            CompareBy::Agent => rows.sort_by(|a, b| a.agent.cmp(&b.agent)),
            CompareBy::State => rows.sort_by(|a, b| a.state.cmp(&b.state)),
            CompareBy::Time => rows.sort_by_key(|r| std::cmp::Reverse(r.seconds)),
            CompareBy::Spend => rows.sort_by(|a, b| b.spend.total_cmp(&a.spend)),
            CompareBy::Tokens => rows.sort_by_key(|r| std::cmp::Reverse(r.tokens)),
            CompareBy::Files => rows.sort_by_key(|r| std::cmp::Reverse(r.files)),
            CompareBy::Added => rows.sort_by_key(|r| std::cmp::Reverse(r.added)),
            CompareBy::Removed => rows.sort_by_key(|r| std::cmp::Reverse(r.removed)),
            CompareBy::Check => rows.sort_by_key(|r| r.check.as_ref().map_or(5, Check::rank)),
            CompareBy::Branch => rows.sort_by(|a, b| a.branch.cmp(&b.branch)),
        }
    }
}

impl std::str::FromStr for CompareBy {
    type Err = String;

    fn from_str(s: &str) -> Result<CompareBy, String> {
        CompareBy::ALL.into_iter().find(|c| c.name() == s).ok_or_else(|| {
            let names: Vec<&str> = CompareBy::ALL.iter().map(|c| c.name()).collect();
            format!("no column `{s}`; sort by one of: {}", names.join(", "))
        })
    }
}

/// One worktree pane, as `teamster compare` shows it beside the others of its tab.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CompareRow {
    pub pane: PaneId,
    /// `SESSION:TAB.PANE`.
    pub place: String,
    pub agent: String,
    /// How it is doing, in words (`working`, `waiting for input`).
    pub state: String,
    pub branch: String,
    /// Dollars its agent spent, and the tokens of its model calls.
    pub spend: f64,
    #[serde(default)]
    pub tokens: u64,
    /// How long its program has run, in seconds.
    #[serde(default)]
    pub seconds: u64,
    /// Against the commit its branch started from: files changed (untracked ones
    /// included), lines added and removed.
    pub files: u32,
    pub added: u64,
    pub removed: u64,
    /// Why the changes could not be read, if they could not.
    #[serde(default)]
    pub error: Option<String>,
    /// The project's check (`[review] check`) on its worktree, when the config names one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub check: Option<Check>,
}

/// The project's check, run in a worktree when its agent went idle.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "check", rename_all = "kebab-case")]
pub enum Check {
    /// The agent has not finished a turn since the pane opened.
    NotYet,
    Running,
    Passed {
        seconds: u64,
    },
    /// It exited with `code` (None: killed by a signal); `last` is the last line it printed.
    Failed {
        code: Option<i32>,
        seconds: u64,
        last: String,
    },
    /// Stopped after `[review] check_timeout_secs`.
    TimedOut {
        seconds: u64,
    },
    /// It could not be started, and why.
    NotRun {
        why: String,
    },
}

impl Check {
    /// In a few words, for a table cell.
    pub fn words(&self) -> String {
        match self {
            Check::NotYet => "not yet".into(),
            Check::Running => "running".into(),
            Check::Passed { seconds } => format!("passed {seconds}s"),
            Check::Failed { code: Some(code), .. } => format!("failed ({code})"),
            Check::Failed { code: None, .. } => "failed (killed)".into(),
            Check::TimedOut { seconds } => format!("timed out {seconds}s"),
            Check::NotRun { .. } => "not run".into(),
        }
    }

    /// Passed first, then running and waiting, then failed: how `--sort check` orders.
    pub fn rank(&self) -> u8 {
        match self {
            Check::Passed { .. } => 0,
            Check::Running => 1,
            Check::NotYet => 2,
            Check::Failed { .. } | Check::TimedOut { .. } => 3,
            Check::NotRun { .. } => 4,
        }
    }
}

/// The cursor's shape, as a program asked for it (DECSCUSR).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CursorShape {
    #[default]
    Default,
    BlinkingBlock,
    Block,
    BlinkingUnderline,
    Underline,
    BlinkingBar,
    Bar,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The protocol is a leaf: what crosses a process boundary is defined here and depends
    /// on nothing else of ours, so every side (runner, TUI, CLI, share, web types) can take
    /// it without the rest.
    #[test]
    fn the_protocol_depends_on_nothing_else_of_ours() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/protocol");
        let (ours, this) = (["crate", "::"].concat(), ["crate", "::protocol"].concat());
        let mut files = 0;
        for entry in std::fs::read_dir(&dir).unwrap().flatten() {
            let text = std::fs::read_to_string(entry.path()).unwrap();
            files += 1;
            for (n, line) in text.lines().enumerate() {
                let code = line.split("//").next().unwrap_or("");
                let outside = code.match_indices(&ours).any(|(i, _)| !code[i..].starts_with(&this));
                assert!(
                    !outside && !code.contains(&["super", "::super"].concat()),
                    "{}:{}: the protocol reaches outside itself: {line}",
                    entry.path().display(),
                    n + 1
                );
            }
        }
        assert!(files >= 5, "the protocol's files were not found");
    }

    #[test]
    fn a_detach_says_why_as_a_kind_and_words() {
        let ended = ServerMsg::Detached { reason: DetachReason::SessionEnded("the session was killed".into()) };
        let json = serde_json::to_value(&ended).expect("json");
        assert_eq!(json["reason"], serde_json::json!({ "why": "session-ended", "detail": "the session was killed" }));
        let back: ServerMsg = serde_json::from_value(json).expect("back");
        assert_eq!(back, ended);
        assert_eq!(DetachReason::Detached.words(), "detached");
        assert_eq!(serde_json::to_value(DetachReason::Left).expect("json"), serde_json::json!({ "why": "left" }));
    }

    #[tokio::test]
    async fn messages_survive_the_framing() {
        let msg = ClientMsg::Command {
            id: 7,
            command: Command::Split { dir: Direction::Right, spawn: Spawn::Agent { name: "claude".into() } },
        };
        let bytes = encode(&msg);
        let mut r = &bytes[..];
        let back: ClientMsg = read_msg(&mut r).await.unwrap().unwrap();
        assert_eq!(back, msg);
        let end: Option<ClientMsg> = read_msg(&mut r).await.unwrap();
        assert!(end.is_none());
    }

    #[tokio::test]
    async fn oversized_and_malformed_frames_are_errors_not_crashes() {
        let mut big = ((MAX_FRAME + 1) as u32).to_le_bytes().to_vec();
        big.extend_from_slice(b"{}");
        let e = read_msg::<ClientMsg, _>(&mut &big[..]).await.unwrap_err();
        assert!(e.to_string().contains("over the"), "{e}");
        let mut bad = 5u32.to_le_bytes().to_vec();
        bad.extend_from_slice(b"nope!");
        let e = read_msg::<ClientMsg, _>(&mut &bad[..]).await.unwrap_err();
        assert!(e.to_string().contains("malformed"), "{e}");
    }

    /// Frames are MessagePack: a screen row travels in fewer bytes than as JSON, and reads
    /// back the same.
    #[test]
    fn frames_are_binary_and_smaller_than_json() {
        let run = |text: &str, fg| WireRun { text: text.into(), fg, ..Default::default() };
        let row = WireRow { runs: vec![run("$ ls -la ", 0), run("Cargo.toml", 3), run("  src  ", 0)], wrapped: false };
        let frame = ServerMsg::Frame {
            panes: vec![PaneFrame {
                pane: 3,
                size: Size { cols: 80, rows: 24 },
                full: false,
                rows: vec![(4, row.clone()), (5, row)],
                cursor: CursorView::default(),
                modes: PaneModes::default(),
                first_line: 100,
                screen_top: 120,
                epoch: 1,
            }],
        };
        let bytes = encode(&frame);
        assert_ne!(bytes[4], b'{', "a frame is not JSON");
        let json = serde_json::to_vec(&frame).unwrap();
        assert!(bytes.len() - 4 < json.len(), "{} bytes against JSON's {}", bytes.len() - 4, json.len());
        let mut buf = bytes.clone();
        assert_eq!(decode::<ServerMsg>(&mut buf).unwrap(), Some(frame));
    }

    /// Hellos are JSON whatever the version, so a runner and a client of different versions
    /// still tell each other so: one from before version 4 (JSON throughout) is read.
    #[tokio::test]
    async fn a_hello_is_json_and_a_json_peer_is_understood() {
        let hello = encode_json(&ClientMsg::Hello { version: 3 });
        assert_eq!(&hello[4..], br#"{"type":"hello","version":3}"#);
        let back: ClientMsg = read_msg(&mut &hello[..]).await.unwrap().unwrap();
        assert_eq!(back, ClientMsg::Hello { version: 3 });
        let refusal = encode_json(&ServerMsg::Error { message: "protocol 3 against 4".into() });
        let mut buf = refusal;
        assert_eq!(
            decode::<ServerMsg>(&mut buf).unwrap(),
            Some(ServerMsg::Error { message: "protocol 3 against 4".into() })
        );
    }

    /// The fuzz target's seeds are frames as the wire carries them now (the first byte
    /// picks the side: even a client's messages, odd the runner's); written again with
    /// `TEAMSTER_WRITE_SEEDS=1`.
    #[test]
    fn the_fuzz_seeds_are_frames_as_they_travel() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/seeds/protocol_frames");
        let key = |code| InputEvent::Key(keys::Key::new(code, 0));
        let client: Vec<u8> = [
            ClientMsg::Input { pane: None, events: vec![key(keys::KeyCode::Char('x')), key(keys::KeyCode::Enter)] },
            ClientMsg::Command { id: 2, command: Command::Split { dir: Direction::Down, spawn: Spawn::Shell } },
        ]
        .iter()
        .flat_map(encode)
        .collect();
        let row = WireRow {
            runs: vec![WireRun { text: "ok".into(), fg: 2, marks: vec![(0, "\u{301}".into())], ..Default::default() }],
            wrapped: true,
        };
        let frame = PaneFrame {
            pane: 1,
            size: Size { cols: 20, rows: 4 },
            full: true,
            rows: vec![(0, row)],
            cursor: CursorView::default(),
            modes: PaneModes::default(),
            first_line: 0,
            screen_top: 0,
            epoch: 0,
        };
        let server: Vec<u8> =
            [ServerMsg::Frame { panes: vec![frame] }, ServerMsg::Session { session: Default::default() }]
                .iter()
                .flat_map(encode)
                .collect();
        let seeds =
            [("client-msgpack", [&[0u8][..], &client].concat()), ("server-msgpack", [&[1u8][..], &server].concat())];
        for (name, bytes) in seeds {
            let path = dir.join(name);
            if std::env::var_os("TEAMSTER_WRITE_SEEDS").is_some() {
                std::fs::write(&path, &bytes).unwrap();
            }
            assert_eq!(
                std::fs::read(&path).ok(),
                Some(bytes),
                "{name} is not the wire as it is: TEAMSTER_WRITE_SEEDS=1"
            );
        }
    }
}
