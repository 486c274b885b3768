//! The `teamster` command.

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use teamster::cli;
use teamster::layout::Direction;
use teamster::protocol::{AttachTarget, Spawn};

#[derive(Parser)]
#[command(
    name = "teamster",
    version,
    about = "A terminal multiplexer for AI coding agents",
    long_about = "A terminal multiplexer for AI coding agents.\n\n\
        With no command, teamster attaches to your most recent session, or starts one (and\n\
        the runner that keeps it alive). `teamster -- CMD ARGS` starts a new session running\n\
        CMD. Detach with ctrl-\\ d (ctrl-b d in the tmux keymap); everything keeps running.",
    after_help = "Config: ~/.config/teamster/config.toml (see config.example.toml). Keys: `teamster keys`.",
    args_conflicts_with_subcommands = true
)]
struct Cli {
    /// Config file to use instead of ~/.config/teamster/config.toml.
    #[arg(short = 'c', long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Attach to the session with this name, or create it.
    #[arg(short = 's', long, value_name = "NAME")]
    session: Option<String>,
    /// Start a new session without attaching to it (as `tmux new -d`).
    #[arg(short = 'd', long)]
    detached: bool,
    /// Start a new session laid out as `[layouts.NAME]` in the config (named NAME unless
    /// -s names it).
    #[arg(short = 'l', long = "layout", value_name = "NAME", conflicts_with = "cmd")]
    layout: Option<String>,
    /// The size of a detached session, until a client attaches.
    #[arg(long, value_name = "COLSxROWS", default_value = "80x24", value_parser = parse_size)]
    size: teamster::protocol::Size,
    #[command(subcommand)]
    command: Option<Cmd>,
    /// Start a new session whose first pane runs this command (after `--`).
    #[arg(last = true, value_name = "CMD")]
    cmd: Vec<String>,
}

/// Where a share server keeps its records.
#[derive(clap::Args, Debug)]
struct Records {
    /// The server's database file, SQLite (default: server.db in the state directory).
    #[arg(long, value_name = "FILE", conflicts_with = "database")]
    db: Option<PathBuf>,
    /// Keep the records in PostgreSQL instead (postgres://USER[:PASSWORD]@HOST[:PORT]/DB),
    /// so that several replicas share them. Its schema is made, or brought up to date, at
    /// start. Give it in the environment to keep a password out of `ps`.
    #[arg(long, value_name = "URL", env = "TEAMSTER_SERVE_DATABASE", hide_env_values = true)]
    database: Option<String>,
}

#[derive(Subcommand, Debug)]
enum ServeAction {
    /// Print a one-time join URL for a person: they run `teamster join 'URL'` and may then
    /// register shares on this server (with --members-only or a team token, nobody else may).
    Invite {
        /// Whom it is for: their name in `teamster serve members` and the audit.
        name: String,
        /// How long the URL works: 30m, 8h, 2d (at most 30d).
        #[arg(long, value_name = "DURATION", default_value = "7d")]
        expires: String,
        /// The server's address as members reach it (default: the config's [share] server).
        #[arg(long, value_name = "URL")]
        server: Option<String>,
        #[command(flatten)]
        records: Records,
    },
    /// List the members, or revoke one: their token no longer registers shares, and their
    /// shares end when their runner next connects.
    Members {
        /// The member to revoke, by name or id.
        #[arg(long, value_name = "NAME")]
        revoke: Option<String>,
        /// Print JSON, for scripts.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        records: Records,
    },
}

#[derive(Subcommand)]
enum Cmd {
    /// Attach to a session: the most recent one, the one named, or a teammate's shared
    /// session by its link (from their `teamster share`).
    Attach {
        /// The session's name (see `teamster ls`).
        #[arg(short = 't', long, value_name = "SESSION", conflicts_with = "url")]
        target: Option<String>,
        /// A share link: http(s)://HOST:PORT/s/ID#r=... (quote it in the shell).
        url: Option<String>,
        /// Your name, as the sharer sees it (default: your user name).
        #[arg(long, value_name = "NAME", requires = "url")]
        name: Option<String>,
    },
    /// Share a session (or one pane) by link: teammates watch it live with `teamster attach
    /// LINK` or a browser; a driver link also lets them type and approve. Prints the links.
    Share {
        /// Only this pane (its number in `teamster ls`).
        #[arg(long, value_name = "ID")]
        pane: Option<u32>,
        /// The session (default: the one this shell is in, else the most recent).
        #[arg(short = 't', long, value_name = "SESSION")]
        target: Option<String>,
        /// Make only a watch link: nobody can type or approve.
        #[arg(long)]
        read_only: bool,
        /// The share server (default: the config's [share] server; on loopback, teamster
        /// starts one there when none runs).
        #[arg(long, value_name = "URL")]
        server: Option<String>,
        /// How long the links work: 30m, 8h, 2d (default: the config's [share] expires).
        #[arg(long, value_name = "DURATION")]
        expires: Option<String>,
        /// List the shares and who is watching instead.
        #[arg(long)]
        list: bool,
        /// Print JSON, for scripts.
        #[arg(long)]
        json: bool,
    },
    /// Stop sharing: every viewer is cut off at once and the links stop working.
    Unshare {
        /// The share's id (from `teamster share --list`); without it, every share. Ids are
        /// base64url and may start with `-`.
        #[arg(allow_hyphen_values = true)]
        id: Option<String>,
        /// Only the shares of this session.
        #[arg(short = 't', long, value_name = "SESSION")]
        target: Option<String>,
        /// Print JSON ({"message"}), for scripts.
        #[arg(long)]
        json: bool,
    },
    /// Run a share server: it relays shared sessions to teammates' terminals and browsers
    /// (web UI at /s/ID). It only ever sees encrypted sessions. `teamster serve invite NAME`
    /// lets a person in, `teamster serve members` lists and revokes them.
    #[command(args_conflicts_with_subcommands = true)]
    Serve {
        #[command(subcommand)]
        action: Option<ServeAction>,
        /// Where to listen. Anything but loopback needs --tls-cert and --tls-key.
        #[arg(long, value_name = "ADDR:PORT", default_value = "127.0.0.1:6767")]
        listen: std::net::SocketAddr,
        /// TLS certificate chain (PEM).
        #[arg(long, value_name = "FILE", requires = "tls_key")]
        tls_cert: Option<PathBuf>,
        /// TLS private key (PEM).
        #[arg(long, value_name = "FILE", requires = "tls_cert")]
        tls_key: Option<PathBuf>,
        /// Listen beyond loopback without TLS (behind a proxy that adds it).
        #[arg(long)]
        insecure: bool,
        #[command(flatten)]
        records: Records,
        /// Run as one of several replicas behind a load balancer: sealed updates and who
        /// joined travel between them over NATS (nats://HOST:4222). Needs --database.
        #[arg(long, value_name = "URL", env = "TEAMSTER_SERVE_BUS", hide_env_values = true)]
        bus: Option<String>,
        /// Register shares only for runners that give the team token in this file (its
        /// first line, 16 characters or more); teammates name the same token in
        /// `[share] team_token_file`. Viewers still need only their link. Without it the
        /// server is open: anyone who can reach it can register shares.
        #[arg(long, value_name = "FILE")]
        team_token_file: Option<PathBuf>,
        /// Register shares only for members (each let in once by an invite from
        /// `teamster serve invite NAME`) and holders of the team token.
        #[arg(long)]
        members_only: bool,
    },
    /// Continue a shared agent's conversation in a pane of your own: its transcript (and
    /// its worktree's committed branch, as fork/NAME in your checkout) come through the
    /// share, sealed, and your agent of the same kind resumes it. Takes a drive link.
    Fork {
        /// The drive link.
        url: String,
        /// The shared pane (its number in the shared session; default: the focused one).
        #[arg(long, value_name = "ID")]
        pane: Option<u32>,
        /// Your session to open it in (default: the one this shell is in, else the most recent).
        #[arg(short = 't', long, value_name = "SESSION")]
        target: Option<String>,
        /// Print JSON, for scripts.
        #[arg(long)]
        json: bool,
    },
    /// Join a team's share server with the invite URL its operator gave you: your shares
    /// there are then registered as yours (the server must be reachable).
    Join {
        /// The whole invite URL, what follows # included.
        url: String,
    },
    /// Open an agent from the config, or a command, in a new pane of the current session.
    New {
        /// An [agents.NAME] entry from the config.
        name: Option<String>,
        /// Open it in a new tab instead of a split.
        #[arg(long)]
        tab: bool,
        /// Split below the pane (default: along its longer side).
        #[arg(long, conflicts_with = "right")]
        down: bool,
        /// Split to the right of the pane.
        #[arg(long)]
        right: bool,
        /// The session (default: the one this shell is in, else the most recent).
        #[arg(short = 't', long, value_name = "SESSION")]
        target: Option<String>,
        /// A command to run instead of an agent (after `--`).
        #[arg(last = true, value_name = "CMD")]
        cmd: Vec<String>,
        /// Give it its own git worktree, on BRANCH (default: a new branch teamster/NAME-N),
        /// in `[worktree] dir` (default: beside the repository, ../REPO.worktrees/BRANCH).
        /// An existing branch is checked out as it is; `[worktree] copy` and `setup` are
        /// done in a new worktree before the agent starts.
        #[arg(long, value_name = "BRANCH", num_args = 0..=1, default_missing_value = "")]
        worktree: Option<String>,
        /// The branch or commit a new worktree branch starts from (default: `[worktree]
        /// base`, else what the main checkout has checked out).
        #[arg(long, value_name = "BRANCH", requires = "worktree")]
        base: Option<String>,
        /// Call the pane this: other commands (capture, send, wait) can name it so.
        #[arg(long = "name", value_name = "LABEL")]
        label: Option<String>,
        /// The agent's first prompt, sent once it is ready for it.
        #[arg(long, value_name = "TEXT")]
        prompt: Option<String>,
        /// Print JSON ({"pane", "session", "place"}), for scripts.
        #[arg(long)]
        json: bool,
    },
    /// List sessions, their tabs and panes, what runs in them and whether it is running.
    Ls {
        /// Print JSON, for scripts.
        #[arg(long)]
        json: bool,
    },
    /// End a session: its programs get SIGHUP, then SIGKILL after a grace period.
    Kill {
        /// The session (default: the one this shell is in, or the only one).
        #[arg(short = 't', long, value_name = "SESSION")]
        target: Option<String>,
        /// End every session and stop the runner.
        #[arg(long)]
        all: bool,
        /// Print JSON, for scripts.
        #[arg(long)]
        json: bool,
    },
    /// Check the config, the terminal and the environment; say what is wrong and how to fix it.
    Doctor {
        /// Also run each installed agent once against a local stand-in provider, to check
        /// that teamster's hooks work with that version (no API key used; about a minute).
        #[arg(long)]
        live: bool,
        /// Print JSON, for scripts.
        #[arg(long)]
        json: bool,
    },
    /// Print a pane's screen and scrollback as text (TARGET: its id, SESSION:TAB.PANE, or
    /// its name; see `teamster ls`), or its agent's last answer.
    Capture {
        target: String,
        /// Only the last N lines (blank rows at the end left out).
        #[arg(short = 'n', long, value_name = "N")]
        lines: Option<u32>,
        /// With colours and styles, as SGR escape sequences.
        #[arg(long, conflicts_with = "json")]
        ansi: bool,
        /// The agent's last answer (the text its model ended its last turn with), not the
        /// screen.
        #[arg(long, conflicts_with_all = ["ansi", "lines"])]
        last_reply: bool,
        /// Print JSON ({"session", "pane", "lines", "rows"}, or {"session", "pane",
        /// "reply"}), for scripts.
        #[arg(long)]
        json: bool,
    },
    /// Type a prompt for a pane's agent and wait until it takes it (TARGET as for
    /// `capture`). Exit 3, typing nothing, while the agent asks for a decision or is not
    /// ready for a prompt.
    #[command(after_help = "Examples:\n  \
        teamster send work:1.2 \"run the tests\"\n  \
        teamster send reviewer --from coder \"review this answer:\"\n  \
        teamster send --all \"commit what you have\"\n  \
        git diff | teamster send reviewer -")]
    Send {
        /// The pane (not with --all or --tab).
        #[arg(required_unless_present_any = ["all", "tab"])]
        target: Option<String>,
        /// The prompt ("-" or none: read it from stdin).
        text: Option<String>,
        /// Read the prompt from this file.
        #[arg(long, value_name = "FILE", conflicts_with = "text")]
        file: Option<PathBuf>,
        /// Send another pane's agent's last answer (PANE or PANE:last-reply), after the
        /// text if there is one.
        #[arg(long, value_name = "PANE")]
        from: Option<String>,
        /// Keys to press after the text, named as tmux names them (Enter, Escape, Tab,
        /// BSpace, Up, Down, Left, Right, Home, End, PageUp, PageDown, C-c, M-x, ...).
        #[arg(long, value_name = "KEY", num_args = 1..)]
        keys: Vec<String>,
        /// Type it without pressing Enter (and return at once).
        #[arg(long)]
        no_enter: bool,
        /// To every agent of the session (this pane's, or -t SESSION, or the latest).
        #[arg(long, conflicts_with = "tab")]
        all: bool,
        /// To every agent of the tab (this pane's, or the one on screen).
        #[arg(long)]
        tab: bool,
        /// The session, for --all and --tab.
        #[arg(short = 't', long, value_name = "SESSION")]
        session: Option<String>,
        /// Print JSON ({"sent", "why", "message"}; with --all or --tab, {"results": [...]}
        /// with each pane's "pane" and "place" too), for scripts.
        #[arg(long)]
        json: bool,
    },
    /// Arrange the panes of a session's current tab: tiled, main-vertical, main-horizontal,
    /// even-horizontal or even-vertical (as tmux's layouts); or open a `[layouts.NAME]`
    /// from the config as a new tab.
    Layout {
        /// tiled, main-vertical, main-horizontal, even-horizontal, even-vertical, or the
        /// name of a [layouts.NAME] in the config.
        name: String,
        /// The session (default: the one this shell is in, or the one on a screen).
        #[arg(short = 't', long, value_name = "SESSION")]
        target: Option<String>,
    },
    /// The same task to several agents at once: one pane each, in a git worktree of its
    /// own on its own branch from one base, side by side in a new tab; the task is sent to
    /// each once it is ready. Then `teamster compare` (ctrl-\ C), `teamster diff` and
    /// `teamster review` (ctrl-\ D), and `teamster merge --close-others` keeps the best.
    Race {
        /// What the agents are to do, as a prompt.
        task: String,
        /// The agents, by their names in the config: claude,codex,gemini.
        #[arg(long, value_name = "AGENTS", value_delimiter = ',', required = true)]
        agents: Vec<String>,
        /// The branch or commit their branches start from (default: `[worktree] base`,
        /// else what the main checkout has checked out).
        #[arg(long, value_name = "BRANCH")]
        base: Option<String>,
        /// The session (default: the one this shell is in, or the one on a screen).
        #[arg(short = 't', long, value_name = "SESSION")]
        target: Option<String>,
        /// Print JSON ({"task", "panes": [{"agent", "pane", "place", "branch", "sent"}]}).
        #[arg(long)]
        json: bool,
    },
    /// A tab's worktree panes side by side (a race's agents): each one's state, spend,
    /// and what it changed against the commit its branch started from (files, lines
    /// added and removed, uncommitted and untracked work included).
    Compare {
        /// The session (default: the one this shell is in, or the one on a screen); its
        /// current tab, or the one this shell's pane is in.
        #[arg(short = 't', long, value_name = "SESSION")]
        target: Option<String>,
        /// What to sort by (amounts most first, checks passed first): place, agent, state,
        /// time, spend, tokens, files, added, removed, check or branch.
        #[arg(long, default_value = "place")]
        sort: teamster::protocol::CompareBy,
        /// Print JSON ({"panes": [{"pane", "place", "agent", "state", "branch", "spend",
        /// "tokens", "seconds", "files", "added", "removed", "error", "check"}]}; "check" is
        /// there when `[review] check` is set: {"check": "passed", "seconds"} and the like).
        #[arg(long)]
        json: bool,
    },
    /// A worktree pane's branch against the commit it started from, as a diff (what it
    /// committed and what not, new files too); coloured on a terminal.
    Diff {
        /// The pane: its id, SESSION:TAB.PANE or name (as `teamster ls` shows them).
        pane: String,
        /// Colour it even when not printing to a terminal.
        #[arg(long)]
        color: bool,
    },
    /// Send review comments to a pane's agent as one prompt ("Address these review
    /// comments on your branch: ..."), once it can take one.
    Review {
        /// The pane: its id, SESSION:TAB.PANE or name (as `teamster ls` shows them).
        pane: String,
        /// A comment, as `FILE:LINE: what to change` or any words; give it again for more.
        #[arg(long = "comment", short = 'm', value_name = "TEXT", required = true)]
        comments: Vec<String>,
    },
    /// Merge a worktree pane's branch into the branch it started from, in the main
    /// checkout (which must have that branch checked out and nothing uncommitted); only
    /// what the agent committed is merged. A conflict is shown and undone, never resolved.
    Merge {
        /// The pane: its id, SESSION:TAB.PANE or name (as `teamster ls` shows them).
        pane: String,
        /// The branch's work as one new commit.
        #[arg(long, conflicts_with = "merge_commit")]
        squash: bool,
        /// A merge commit, even where a fast-forward would do (default: fast-forward only).
        #[arg(long, conflicts_with = "pr")]
        merge_commit: bool,
        /// Not merged here: push the branch to the repository's remote (`origin`) and open
        /// a pull request against its base with GitHub's `gh` (`[review] pull_requests`).
        #[arg(long, conflicts_with = "squash")]
        pr: bool,
        /// Then close the tab's other worktree panes (a race's losers) and remove their
        /// worktrees, where nothing in them is uncommitted; their branches stay.
        #[arg(long)]
        close_others: bool,
    },
    /// Exchange the places of two panes of a session, in one tab or across two (the
    /// focus stays where it was). In the TUI: ctrl-\ { and ctrl-\ } swap the focused pane
    /// with the one before or after it.
    Swap {
        /// A pane: its id, SESSION:TAB.PANE or name (as `teamster ls` shows them).
        pane: String,
        /// The pane it changes places with.
        with: String,
    },
    /// Move a pane to another tab of its session, or to a tab of its own (--new-tab). In
    /// the TUI: ctrl-\ ! moves the focused pane to a new tab.
    Move {
        /// A pane: its id, SESSION:TAB.PANE or name (as `teamster ls` shows them).
        pane: String,
        /// The tab it goes to (numbered from 1, as the status bar shows them); it lands
        /// beside that tab's focused pane, or the tab is tiled when there is no room.
        #[arg(long, value_name = "N", required_unless_present = "new_tab", conflicts_with = "new_tab")]
        tab: Option<usize>,
        /// A new tab of its own (tmux's break-pane).
        #[arg(long)]
        new_tab: bool,
    },
    /// Send each answer one pane's agent gives from now on to another pane's agent, as a
    /// prompt, when it is ready for one; until Ctrl-C, COUNT answers, or a pane goes.
    Pipe {
        /// The agent whose answers go (TARGET as for `capture`).
        from: String,
        /// The agent they go to.
        to: String,
        /// Put this text before each answer (a line, then the answer).
        #[arg(long, value_name = "TEXT")]
        prefix: Option<String>,
        /// Stop after this many answers.
        #[arg(long, value_name = "COUNT")]
        count: Option<u64>,
    },
    /// Wait until a pane's agent is in a state (for scripts and CI); exit 0 when it is,
    /// 1 on the timeout.
    Wait {
        target: String,
        /// idle, waiting (for input), needs-approval, working, or exited.
        #[arg(long = "for", value_name = "STATE")]
        state: teamster::cli::WaitFor,
        /// Give up after this many seconds (default: wait for ever).
        #[arg(long, value_name = "SECONDS")]
        timeout: Option<f64>,
        /// Print JSON ({"pane", "status", "reached", "message"}), for scripts.
        #[arg(long)]
        json: bool,
    },
    /// List the actions waiting for a decision: tool calls, and model calls at a spend gate.
    Approvals {
        /// Print JSON, for scripts.
        #[arg(long)]
        json: bool,
    },
    /// Let a waiting action go ahead.
    Approve {
        /// Its id, from `teamster approvals`.
        id: u64,
        /// And allow this very action from now on: in this `session`, this `workspace`, or
        /// `everywhere` (`teamster rules` lists these; `--forget` removes one).
        #[arg(long, value_name = "SCOPE")]
        always: Option<teamster::cli::AlwaysScope>,
        /// Print JSON, for scripts.
        #[arg(long)]
        json: bool,
    },
    /// Stop a waiting tool call; the agent is told why.
    Deny {
        /// Its id, from `teamster approvals`.
        id: u64,
        /// A message for the agent (without one, it is told only that you denied it).
        #[arg(long)]
        reason: Option<String>,
        /// Print JSON, for scripts.
        #[arg(long)]
        json: bool,
    },
    /// What the agents have spent: by agent, model, day, session and pane (tokens and dollars), and the burn rate.
    Cost {
        /// Print JSON, for scripts.
        #[arg(long)]
        json: bool,
        /// Only this session.
        #[arg(short = 't', long, value_name = "SESSION")]
        target: Option<String>,
        /// List the price table instead (the shipped one with your config's prices over it).
        #[arg(long)]
        prices: bool,
    },
    /// The policies in force, and the "always allow"s you chose.
    Rules {
        /// Print JSON, for scripts.
        #[arg(long)]
        json: bool,
        /// Remove the "always allow" with this id.
        #[arg(long, value_name = "ID")]
        forget: Option<i64>,
    },
    /// The audit log: the latest decisions on agents' actions, who made them and why.
    Audit {
        /// Print JSON, for scripts.
        #[arg(long)]
        json: bool,
        /// How many, newest first.
        #[arg(short = 'n', long, default_value = "30")]
        count: usize,
    },
    /// Start a new runner (after an upgrade), bringing every session back: agents resume
    /// their conversations, other programs start again.
    Restart {
        /// Print JSON ({"sessions", "message"}), for scripts.
        #[arg(long)]
        json: bool,
    },
    /// Run by agents' hooks: report an event to the runner and wait for its verdict.
    #[command(hide = true)]
    Hook {
        agent: String,
        event: String,
        /// The pane's hook socket (else $TEAMSTER_HOOK_SOCKET).
        #[arg(long)]
        socket: Option<String>,
        /// Ignored: which pane speaks is the socket it speaks on (accepted from older
        /// generated settings).
        #[arg(long, hide = true)]
        token: Option<String>,
    },
    /// The first program of a sandboxed agent's pane: confines itself by the plan the
    /// runner sends on descriptor 3, then runs PROGRAM (docs/sandbox.md).
    #[command(hide = true)]
    SandboxExec {
        #[arg(last = true, required = true)]
        argv: Vec<String>,
    },
    /// Print the key bindings in effect (after your keymap.toml).
    Keys {
        /// List every action a key can be bound to.
        #[arg(long)]
        actions: bool,
        /// Print JSON, for scripts.
        #[arg(long)]
        json: bool,
    },
    /// Run the runner in the foreground (teamster starts it on demand).
    #[command(hide = true)]
    Daemon,
}

fn main() {
    let cli = Cli::parse();
    if let Some(path) = &cli.config {
        // SAFETY: set before any thread starts; the runner and panes inherit it.
        unsafe { std::env::set_var("TEAMSTER_CONFIG", path) };
    }
    let config_path = teamster::paths::config_file();
    // Commands that print end quietly when what reads them stops (`teamster cost | head`),
    // as command-line tools do; the TUI and the runner handle a closed pipe themselves.
    if !matches!(cli.command, None | Some(Cmd::Attach { .. }) | Some(Cmd::Daemon)) {
        // SAFETY: before any thread starts.
        unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
    }
    let result = match cli.command {
        None if cli.layout.is_some() => {
            let layout = cli.layout.unwrap_or_default();
            cli::start_layout(config_path, &layout, cli.session, cli.detached, cli.size)
        }
        None if cli.detached => cli::start_detached(config_path, cli.session, cli.cmd, cli.size),
        None => {
            let target = if !cli.cmd.is_empty() {
                AttachTarget::New { name: cli.session, spawn: Some(Spawn::Command { argv: cli.cmd }) }
            } else if let Some(name) = cli.session {
                AttachTarget::Named { name, create: true }
            } else {
                AttachTarget::Default
            };
            cli::attach(config_path, target)
        }
        Some(Cmd::Attach { url: Some(url), name, .. }) => cli::attach_url(config_path, &url, name),
        Some(Cmd::Share { pane, target, read_only, server, expires, list, json }) => {
            let request = teamster::protocol::ShareRequest { session: target, pane, read_only, server, expires };
            cli::share(request, list, json)
        }
        Some(Cmd::Unshare { id, target, json }) => cli::unshare(id, target, json),
        Some(Cmd::Serve { action: Some(ServeAction::Invite { name, expires, server, records }), .. }) => {
            cli::serve_invite(config_path, &name, &expires, server, records.db, records.database)
        }
        Some(Cmd::Serve { action: Some(ServeAction::Members { revoke, json, records }), .. }) => {
            cli::serve_members(revoke, json, records.db, records.database)
        }
        Some(Cmd::Join { url }) => cli::join(&url),
        Some(Cmd::Fork { url, pane, target, json }) => cli::fork(config_path, &url, pane, target, json),
        Some(Cmd::Serve {
            action: None,
            listen,
            tls_cert,
            tls_key,
            insecure,
            records,
            bus,
            team_token_file,
            members_only,
        }) => {
            let Records { db, database } = records;
            cli::serve(cli::ServeHow {
                members_only,
                listen,
                tls: tls_cert.zip(tls_key),
                insecure,
                db,
                database,
                bus,
                team_token_file,
            })
        }
        Some(Cmd::Attach { target, .. }) => cli::attach(
            config_path,
            target.map_or(AttachTarget::Default, |name| AttachTarget::Named { name, create: false }),
        ),
        Some(Cmd::New { name, tab, down, right, target, cmd, worktree, base, label, prompt, json }) => {
            let dir = if down {
                Some(Direction::Down)
            } else if right {
                Some(Direction::Right)
            } else {
                None
            };
            let how = cli::NewHow { tab, dir, target, worktree, base, label, prompt, json };
            cli::new(config_path, name, cmd, how)
        }
        Some(Cmd::Ls { json }) => cli::ls(json),
        Some(Cmd::Kill { target, all, json }) => cli::kill(target, all, json),
        Some(Cmd::Doctor { live, json }) => std::process::exit(cli::doctor::run(&config_path, live, json)),
        Some(Cmd::Keys { actions, json }) => cli::keys(config_path, actions, json),
        Some(Cmd::Capture { target, lines, ansi, last_reply, json }) => {
            cli::capture(&target, lines, ansi, json, last_reply)
        }
        Some(Cmd::Send { target, text, file, from, keys, no_enter, all, tab, session, json }) => {
            if session.is_some() && !(all || tab) {
                eprintln!("teamster: -t SESSION is for --all and --tab; a pane is named SESSION:TAB.PANE");
                std::process::exit(2);
            }
            // With --all or --tab there is no pane: the one word given is the prompt.
            let (to, text) = if all || tab {
                (cli::SendTo::Agents { session, tab_only: tab }, text.or(target))
            } else {
                (cli::SendTo::Pane(target.unwrap_or_default()), text)
            };
            let prompt = cli::Prompt { text, file, from, keys, enter: !no_enter };
            std::process::exit(cli::send(to, prompt, json))
        }
        Some(Cmd::Layout { name, target }) => cli::layout(&name, target),
        Some(Cmd::Race { task, agents, base, target, json }) => {
            cli::race(&config_path, task, agents, base, target, json)
        }
        Some(Cmd::Compare { target, sort, json }) => cli::compare(target, sort, json),
        Some(Cmd::Diff { pane, color }) => {
            use std::io::IsTerminal;
            cli::diff(pane, color || std::io::stdout().is_terminal())
        }
        Some(Cmd::Review { pane, comments }) => cli::review(pane, comments),
        Some(Cmd::Merge { pane, squash, merge_commit, pr, close_others }) => {
            let how = match (squash, merge_commit, pr) {
                (true, _, _) => teamster::protocol::MergeHow::Squash,
                (_, true, _) => teamster::protocol::MergeHow::MergeCommit,
                (_, _, true) => teamster::protocol::MergeHow::PullRequest,
                _ => teamster::protocol::MergeHow::FastForward,
            };
            cli::merge(pane, how, close_others)
        }
        Some(Cmd::Swap { pane, with }) => cli::move_pane(pane, teamster::protocol::PaneMove::SwapWith(with)),
        Some(Cmd::Move { pane, tab, new_tab: _ }) => {
            let to = tab.map_or(teamster::protocol::PaneMove::NewTab, teamster::protocol::PaneMove::Tab);
            cli::move_pane(pane, to)
        }
        Some(Cmd::Pipe { from, to, prefix, count }) => std::process::exit(cli::pipe(&from, &to, prefix, count)),
        Some(Cmd::Wait { target, state, timeout, json }) => {
            std::process::exit(cli::wait(&target, state, timeout, json))
        }
        Some(Cmd::Approvals { json }) => cli::approvals(json),
        Some(Cmd::Approve { id, always, json }) => cli::approve(id, always, json),
        Some(Cmd::Deny { id, reason, json }) => cli::deny(id, reason, json),
        Some(Cmd::Cost { json, target, prices }) => cli::cost(json, target, prices, &config_path),
        Some(Cmd::Rules { json, forget }) => cli::rules(json, forget, &config_path),
        Some(Cmd::Audit { json, count }) => cli::audit(json, count),
        Some(Cmd::Restart { json }) => cli::restart(config_path, json),
        Some(Cmd::Hook { agent, event, socket, token: _ }) => std::process::exit(cli::hook(&agent, &event, socket)),
        Some(Cmd::SandboxExec { argv }) => {
            let Err(e) = teamster::sandbox::enter::run(&argv);
            eprintln!("teamster: {e}");
            std::process::exit(126);
        }
        Some(Cmd::Daemon) => teamster::runner::daemon::run(config_path, teamster::paths::socket_path()),
    };
    if let Err(e) = result {
        // An error may quote a server, a peer or an agent: shown, not obeyed.
        eprintln!("teamster: {}", teamster::text::visible_lines(&format!("{e:#}")));
        if std::env::var("TEAMSTER_SANDBOX").is_ok_and(|v| v == "on") {
            eprintln!(
                "teamster: this runs in a sandboxed agent's pane, which cannot reach teamster's control socket; approvals and the like are a person's to do, from outside"
            );
        }
        std::process::exit(1);
    }
}

fn parse_size(s: &str) -> Result<teamster::protocol::Size, String> {
    let (c, r) = s.split_once('x').ok_or("write the size as COLSxROWS, e.g. 120x40")?;
    let n = |v: &str| v.trim().parse::<u16>().map_err(|_| format!("`{v}` is not a number of cells"));
    Ok(teamster::protocol::Size { cols: n(c)?, rows: n(r)? })
}

#[cfg(test)]
mod tests {
    /// clap checks a command line's definition only when asked (a short option used twice,
    /// a conflict with an argument that is not there): every subcommand, here.
    #[test]
    fn the_command_line_is_well_formed() {
        use clap::CommandFactory;
        super::Cli::command().debug_assert();
    }
}
