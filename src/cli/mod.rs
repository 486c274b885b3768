//! The command line's verbs, each a short conversation with the runner.

pub mod doctor;
mod drive;
mod race;
mod sharing;

pub use race::{compare, diff, merge, race, review};

pub use drive::{Prompt, SendTo, WaitFor, capture, pipe, send, wait};
pub use sharing::{ServeHow, attach_url, fork, join, serve, serve_invite, serve_members, share, unshare};

use crate::client::{connect, connect_or_start, existing, request};

use crate::config::{Config, ConfigError, Keymap, Mode};
use crate::layout::Direction;
use crate::paths;
use crate::protocol::{AttachTarget, ClientMsg, Context, NewPane, PaneState, Reply, SessionView, Spawn};
use crate::text::{visible, visible_lines};
use anyhow::bail;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_current_thread().enable_all().build()?)
}

pub fn context() -> Context {
    Context {
        cwd: std::env::current_dir().ok().map(|p| p.to_string_lossy().into_owned()),
        env: std::env::vars().collect(),
    }
}

pub fn load_config(path: &Path) -> Result<Config, ConfigError> {
    let config = Config::load(path)?;
    config.load_ui(path)?;
    Ok(config)
}

/// `teamster`, `teamster attach`, `teamster -- CMD`: the TUI.
pub fn attach(config_path: PathBuf, target: AttachTarget) -> anyhow::Result<()> {
    let config = load_config(&config_path)?;
    if !std::io::stdin().is_terminal() || !std::io::stdout().is_terminal() {
        bail!(
            "teamster needs a terminal: run it in one (stdin and stdout must be a tty); for scripts, use `teamster ls`, `teamster new` or `teamster kill`"
        );
    }
    if let Ok(pane) = std::env::var("TEAMSTER_PANE") {
        bail!(
            "this shell is already in teamster (pane {pane}); use `teamster new` to open a pane here, or unset TEAMSTER_PANE to nest a session on purpose"
        );
    }
    let socket = paths::socket_path();
    let rt = runtime()?;
    // The runner draws the session on this terminal itself (see runner/terminal.rs).
    let (reason, failed) = rt.block_on(crate::tui::handover::run(config, config_path, socket, target, context()))?;
    rt.shutdown_timeout(std::time::Duration::from_millis(50));
    if failed {
        bail!("{}", visible_lines(reason.strip_prefix("teamster: ").unwrap_or(&reason)));
    }
    if !reason.is_empty() {
        println!("{}", visible_lines(&reason));
    }
    Ok(())
}

/// `teamster -d`: a session that runs without a terminal attached, as `tmux new -d`.
pub fn start_detached(
    config_path: PathBuf,
    name: Option<String>,
    argv: Vec<String>,
    size: crate::protocol::Size,
) -> anyhow::Result<()> {
    load_config(&config_path)?;
    let spawn = (!argv.is_empty()).then_some(Spawn::Command { argv });
    let rt = runtime()?;
    let session = rt.block_on(async {
        let mut conn = connect_or_start(&config_path, &paths::socket_path()).await?;
        match request(&mut conn, |id| ClientMsg::NewSession { id, name, spawn, size, context: context() }).await? {
            Reply::Pane { session, .. } => Ok(session),
            _ => bail!("unexpected reply"),
        }
    })?;
    println!("started session {session}; attach with `teamster attach -t {session}`");
    Ok(())
}

/// `teamster -l NAME`: a new session laid out as `[layouts.NAME]`, attached unless
/// `detached`.
pub fn start_layout(
    config_path: PathBuf,
    layout: &str,
    name: Option<String>,
    detached: bool,
    size: crate::protocol::Size,
) -> anyhow::Result<()> {
    let config = load_config(&config_path)?;
    let Some(node) = config.layouts.get(layout) else {
        bail!("{}", crate::config::layouts::unknown(layout, config.layouts.keys(), false));
    };
    let first_pane = node.panes().into_iter().next();
    let first = first_pane.as_ref().map(|p| p.spawn.clone());
    // The first pane starts the session: where the layout says, else here.
    let mut first_context = context();
    if let Some(dir) = first_pane.and_then(|p| p.cwd) {
        first_context.cwd = Some(crate::config::layouts::pane_dir(&dir, first_context.cwd.as_deref()));
    }
    let name = name.unwrap_or_else(|| layout.to_string());
    let size = match crossterm::terminal::size() {
        Ok((cols, rows)) if !detached => crate::protocol::Size { cols, rows },
        _ => size,
    };
    let rt = runtime()?;
    let text = rt.block_on(async {
        let mut conn = connect_or_start(&config_path, &paths::socket_path()).await?;
        let made = request(&mut conn, |id| ClientMsg::NewSession {
            id,
            name: Some(name.clone()),
            spawn: first,
            size,
            context: first_context,
        })
        .await?;
        let Reply::Pane { session, .. } = made else { bail!("unexpected reply") };
        let opened = request(&mut conn, |id| ClientMsg::OpenLayout {
            id,
            session: Some(session),
            near: None,
            name: layout.to_string(),
            context: context(),
            fresh: true,
        })
        .await?;
        match opened {
            Reply::Text { text } => Ok(text),
            _ => bail!("unexpected reply"),
        }
    })?;
    if detached {
        println!("{}; attach with `teamster attach -t {name}`", visible(&text));
        return Ok(());
    }
    attach(config_path, crate::protocol::AttachTarget::Named { name, create: false })
}

/// `teamster ls`.
pub fn ls(json: bool) -> anyhow::Result<()> {
    let rt = runtime()?;
    let sessions = rt.block_on(async {
        let socket = paths::socket_path();
        let Some(mut conn) = existing(&socket).await? else { return anyhow::Ok(Vec::new()) };
        match request(&mut conn, |id| ClientMsg::List { id }).await {
            Ok(Reply::Sessions { sessions }) => Ok(sessions),
            Ok(_) => bail!("unexpected reply"),
            // A runner stopping as we asked (its last session just ended): none runs now.
            Err(_) if existing(&socket).await?.is_none() => Ok(Vec::new()),
            Err(e) => Err(e),
        }
    })?;
    if json {
        println!("{}", serde_json::to_string_pretty(&ls_json(&sessions))?);
    } else if sessions.is_empty() {
        println!("no sessions are running; start one with `teamster`");
    } else {
        print!("{}", ls_text(&sessions));
    }
    Ok(())
}

/// The stable shape `teamster ls --json` prints.
pub fn ls_json(sessions: &[SessionView]) -> serde_json::Value {
    use serde_json::json;
    let sessions: Vec<serde_json::Value> = sessions
        .iter()
        .map(|s| {
            let tabs: Vec<serde_json::Value> = s
                .tabs
                .iter()
                .enumerate()
                .map(|(i, t)| {
                    let panes: Vec<serde_json::Value> = t
                        .layout
                        .panes()
                        .iter()
                        .enumerate()
                        .filter_map(|(n, id)| s.pane(*id).map(|p| (n, p)))
                        .map(|(n, p)| {
                            let (code, signal) = match p.state {
                                PaneState::Running => (None, None),
                                PaneState::Exited { code, signal } => (code, signal),
                            };
                            json!({
                                "id": p.id, "number": n + 1, "place": format!("{}:{}.{}", s.name, i + 1, n + 1),
                                "name": p.name, "command": p.command, "title": p.title,
                                "state": if p.state == PaneState::Running { "running" } else { "exited" },
                                "exit_code": code, "signal": signal, "pid": p.pid,
                                "cols": p.size.cols, "rows": p.size.rows, "focused": t.focused == p.id,
                                "status": p.status(), "branch": p.branch,
                                "spend": p.spend, "spend_unknown": p.spend_unknown,
                                "sandboxed": p.sandboxed, "refused": p.refused, "restart_applies": p.restart_applies,
                                "agent": p.agent.as_ref().map(|a| json!({
                                    "kind": a.kind, "state": a.state, "conversation": a.conversation,
                                })),
                            })
                        })
                        .collect();
                    json!({ "index": i + 1, "name": t.name, "active": i == s.active_tab, "zoomed": t.zoomed.is_some(), "panes": panes })
                })
                .collect();
            json!({ "id": s.id, "name": s.name, "clients": s.clients, "created": s.created, "tabs": tabs,
                    "spend": s.spend, "budget": s.budget.as_ref().map(|(limit, rule)| json!({ "limit": limit, "rule": rule })) })
        })
        .collect();
    json!({ "sessions": sessions })
}

pub fn ls_text(sessions: &[SessionView]) -> String {
    let mut out = String::new();
    for s in sessions {
        let attached = match s.clients {
            0 => "detached".to_string(),
            1 => "attached".to_string(),
            n => format!("attached ({n} clients)"),
        };
        out.push_str(&format!(
            "session {}: {} tab{}, {attached}\n",
            visible(&s.name),
            s.tabs.len(),
            if s.tabs.len() == 1 { "" } else { "s" }
        ));
        for (i, t) in s.tabs.iter().enumerate() {
            let name = if t.name.is_empty() { String::new() } else { format!(" {}", visible(&t.name)) };
            out.push_str(&format!("  tab {}{name}{}\n", i + 1, if i == s.active_tab { " (current)" } else { "" }));
            for (n, id) in t.layout.panes().iter().enumerate() {
                let Some(p) = s.pane(*id) else { continue };
                let label = match &p.name {
                    Some(name) if *name != p.command => format!("{}: {}", visible(name), visible(&p.command)),
                    _ => visible(&p.command).into_owned(),
                };
                let focus = if t.focused == p.id { "*" } else { " " };
                out.push_str(&format!(
                    "    {focus}pane {} (id {}) {:<40} {:<17} {}x{}{}{}\n",
                    n + 1,
                    p.id,
                    label,
                    visible(&p.status()),
                    p.size.cols,
                    p.size.rows,
                    p.pid.map(|pid| format!("  pid {pid}")).unwrap_or_default(),
                    p.branch.as_ref().map(|b| format!("  branch {}", visible(b))).unwrap_or_default(),
                ));
            }
        }
    }
    out
}

/// `teamster kill`.
pub fn kill(target: Option<String>, all: bool, json: bool) -> anyhow::Result<()> {
    // Inside a pane, "this session" is the natural default.
    let target = target.or_else(|| if all { None } else { std::env::var("TEAMSTER_SESSION").ok() });
    let rt = runtime()?;
    let text = rt.block_on(async {
        let Some(mut conn) = existing(&paths::socket_path()).await? else {
            return anyhow::Ok("no sessions are running".to_string());
        };
        match request(&mut conn, |id| ClientMsg::Kill { id, session: target, all }).await? {
            Reply::Text { text } => Ok(text),
            _ => Ok("done".into()),
        }
    })?;
    if json {
        println!("{}", serde_json::to_string_pretty(&serde_json::json!({ "message": text }))?);
    } else {
        println!("{}", visible_lines(&text));
    }
    Ok(())
}

/// How `teamster new` opens its pane, beside what it runs.
pub struct NewHow {
    pub tab: bool,
    pub dir: Option<Direction>,
    pub target: Option<String>,
    pub worktree: Option<String>,
    /// `--base`.
    pub base: Option<String>,
    /// `--name`.
    pub label: Option<String>,
    pub prompt: Option<String>,
    pub json: bool,
}

/// `teamster new [NAME] [-- CMD ARGS]`.
pub fn new(config_path: PathBuf, name: Option<String>, argv: Vec<String>, how: NewHow) -> anyhow::Result<()> {
    load_config(&config_path)?;
    let spawn = match (name, argv.is_empty()) {
        (Some(n), true) => Spawn::Agent { name: n },
        (None, false) => Spawn::Command { argv },
        (None, true) => Spawn::Shell,
        (Some(n), false) => bail!(
            "give an agent name or a command after `--`, not both (got `{n}` and `{}`); an agent's first prompt goes in --prompt",
            argv.join(" ")
        ),
    };
    if how.prompt.is_some() && !matches!(spawn, Spawn::Agent { .. }) {
        bail!("--prompt is for an agent: `teamster new claude --prompt \"...\"`");
    }
    let near = std::env::var("TEAMSTER_PANE").ok().and_then(|p| p.parse().ok());
    let rt = runtime()?;
    let (pane, session) = rt.block_on(async {
        let Some(mut conn) = existing(&paths::socket_path()).await? else {
            bail!("no session is running; start one with `teamster`");
        };
        let pane = NewPane {
            session: how.target,
            near,
            spawn,
            tab: how.tab,
            dir: how.dir,
            context: context(),
            worktree: how.worktree,
            base: how.base,
            name: how.label,
            resume: None,
        };
        match request(&mut conn, |id| ClientMsg::NewPane { id, pane }).await? {
            Reply::Pane { pane, session } => Ok((pane, session)),
            _ => bail!("unexpected reply"),
        }
    })?;
    // Named the way every command takes it: its place, and its id.
    let place = match ask_runner(|id| ClientMsg::List { id })? {
        Some(Reply::Sessions { sessions }) => crate::places::place_of(&sessions, pane),
        _ => None,
    };
    let place = place.unwrap_or_else(|| format!("{session}:?"));
    if let Some(prompt) = how.prompt {
        let target = pane.to_string();
        let ready = drive::wait_any(&target, &[WaitFor::Idle, WaitFor::Waiting], Some(120.0));
        if ready != 0 {
            bail!("pane {place} (id {pane}) did not get ready for its prompt; it was not sent");
        }
        if let Err((_, why)) = drive::deliver(&target, prompt, Vec::new(), true)? {
            bail!("the prompt for pane {place} (id {pane}) was not sent: {why}");
        }
    }
    if how.json {
        let out = serde_json::json!({ "pane": pane, "session": session, "place": place });
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        println!("opened pane {place} (id {pane})");
    }
    Ok(())
}

/// `teamster layout NAME`: a built-in arrangement of the current tab, or a `[layouts.NAME]`
/// opened as a new tab.
pub fn layout(name: &str, session: Option<String>) -> anyhow::Result<()> {
    let near = std::env::var("TEAMSTER_PANE").ok().and_then(|p| p.parse().ok());
    let ask = |id| match name.parse::<crate::layout::Arrangement>() {
        Ok(arrangement) => ClientMsg::Layout { id, session, near, arrangement },
        Err(_) => ClientMsg::OpenLayout { id, session, near, name: name.to_string(), context: context(), fresh: false },
    };
    match ask_runner(ask)? {
        Some(Reply::Text { text }) => println!("{}", visible(&text)),
        Some(_) => bail!("unexpected reply"),
        None => bail!("no session is running; start one with `teamster`"),
    }
    Ok(())
}

/// `teamster swap` and `teamster move`.
pub fn move_pane(pane: String, to: crate::protocol::PaneMove) -> anyhow::Result<()> {
    match ask_runner(|id| ClientMsg::MovePane { id, pane, to })? {
        Some(Reply::Text { text }) => println!("{}", visible(&text)),
        Some(_) => bail!("unexpected reply"),
        None => bail!("no session is running; start one with `teamster`"),
    }
    Ok(())
}

/// `teamster keys`: the bindings in effect, after the user's overrides.
pub fn keys(config_path: PathBuf, actions: bool, json: bool) -> anyhow::Result<()> {
    if actions && json {
        let names: Vec<String> = crate::config::keymap::action_names().into_iter().collect();
        println!("{}", serde_json::to_string_pretty(&serde_json::json!({ "actions": names }))?);
        return Ok(());
    }
    if actions {
        for name in crate::config::keymap::action_names() {
            println!("{name}");
        }
        return Ok(());
    }
    let config = load_config(&config_path)?;
    let keymap: Keymap = config.load_ui(&config_path)?.0;
    if json {
        let modes: serde_json::Map<String, serde_json::Value> = Mode::ALL
            .into_iter()
            .map(|mode| {
                let bindings: serde_json::Map<String, serde_json::Value> = keymap
                    .bindings(mode)
                    .into_iter()
                    .map(|(key, action)| (key.to_string(), serde_json::Value::String(action.to_string())))
                    .collect();
                (mode.name().to_string(), serde_json::Value::Object(bindings))
            })
            .collect();
        let out = serde_json::json!({ "keymap": config.keymap, "modes": modes });
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(());
    }
    println!("keymap: {} (overrides: {})", config.keymap, config_path.with_file_name("keymap.toml").display());
    for mode in Mode::ALL {
        let bindings = keymap.bindings(mode);
        if bindings.is_empty() {
            continue;
        }
        println!("\n[{}]", mode.name());
        for (key, action) in bindings {
            println!("  {:<16} {action}", key.to_string());
        }
    }
    Ok(())
}

/// `teamster hook AGENT EVENT`: run by an agent's hook, with the event's payload on stdin.
/// Reports it to the runner, waits for the verdict, and gives it back in the form the
/// agent reads (stdout and exit status). It can only report and wait.
pub fn hook(agent: &str, event: &str, socket: Option<String>) -> i32 {
    use crate::agents::{AgentKind, Answer};
    use crate::approval::Decision;
    use std::io::{BufRead, Read, Write};
    let Some(kind) = AgentKind::from_name(agent) else {
        eprintln!("teamster hook: `{}` is not an agent kind (claude, codex, pi, gemini, opencode)", visible(agent));
        return 2;
    };
    let mut raw = String::new();
    let _ = std::io::stdin().take(crate::protocol::MAX_HOOK as u64).read_to_string(&mut raw);
    let payload = serde_json::from_str(&raw).unwrap_or(serde_json::Value::String(raw));
    let verdict = (|| -> Result<Answer, String> {
        let outside = || "this agent is not running in a teamster pane".to_string();
        let socket = socket.or_else(|| std::env::var("TEAMSTER_HOOK_SOCKET").ok()).ok_or_else(outside)?;
        let mut stream = std::os::unix::net::UnixStream::connect(&socket)
            .map_err(|e| format!("teamster's runner cannot be reached at {socket}: {e}"))?;
        // Some agents let a call through when a hook outlives its timeout: answer first.
        let patience = std::time::Duration::from_secs(crate::agents::claude::HOOK_TIMEOUT - 60);
        let _ = stream.set_read_timeout(Some(patience));
        let req = crate::protocol::HookRequest { event: event.to_string(), payload: payload.clone() };
        let mut line = serde_json::to_vec(&req).map_err(|e| e.to_string())?;
        line.push(b'\n');
        stream.write_all(&line).map_err(|e| format!("teamster's runner did not take the report: {e}"))?;
        let mut answer = String::new();
        std::io::BufReader::new(stream)
            .read_line(&mut answer)
            .map_err(|e| format!("teamster's runner did not answer: {e}"))?;
        serde_json::from_str(&answer).map_err(|e| format!("teamster's runner answered something unreadable: {e}"))
    })()
    // Without an answer the call does not go ahead: teamster fails closed.
    .unwrap_or_else(|reason| Some(Decision::deny(reason)));
    let (out, code) = crate::agents::hook_reply(kind, event, &payload, &verdict);
    print!("{out}");
    let _ = std::io::stdout().flush();
    if let Some(Decision::Deny { reason }) = &verdict {
        // A reason may be a person's, a teammate's or a rule's words: shown, not obeyed
        // by the terminal the agent's hook writes to.
        eprintln!("{}", visible_lines(reason.text()));
    }
    code
}

/// `teamster approvals`.
pub fn approvals(json: bool) -> anyhow::Result<()> {
    let rt = runtime()?;
    let pending = rt.block_on(async {
        let Some(mut conn) = existing(&paths::socket_path()).await? else { return anyhow::Ok(Vec::new()) };
        match request(&mut conn, |id| ClientMsg::Approvals { id }).await? {
            Reply::Approvals { pending } => Ok(pending),
            _ => bail!("unexpected reply"),
        }
    })?;
    if json {
        println!("{}", serde_json::to_string_pretty(&serde_json::json!({ "pending": pending }))?);
    } else if pending.is_empty() {
        println!("nothing is waiting for approval");
    } else {
        for line in approvals_table(&pending, crate::runner::now_secs()) {
            println!("{line}");
        }
        println!(
            "`teamster approve ID` lets one go ahead; `teamster deny ID` stops it (`--reason TEXT` tells the agent why)"
        );
    }
    Ok(())
}

/// `teamster approvals` as a table: each item by its pane's place (`SESSION:TAB.PANE`), and
/// what becomes of it if nobody answers (a policy's ask is denied in time; an agent's own
/// question waits as long as the agent does, answerable here or in its pane).
fn approvals_table(pending: &[crate::protocol::PendingView], now: u64) -> Vec<String> {
    use crate::protocol::PendingSource;
    let mut lines = vec![format!(
        "{:>4}  {:<14} {:<12} {:<10} {:>6}  {:<26}  what (why)",
        "id", "pane", "agent", "tool", "age", "unanswered"
    )];
    for p in pending {
        let why = match &p.rule {
            Some(rule) => format!("  ({})", visible(rule)),
            None => String::new(),
        };
        let pane = match &p.place {
            Some(place) => visible(place).into_owned(),
            None => format!("{} pane {}", visible(&p.session), p.pane),
        };
        let left = p.deadline.saturating_sub(now);
        let unanswered = match p.source {
            PendingSource::Policy => format!("denied in {left}s"),
            PendingSource::Agent => "waits (in its pane too)".to_string(),
        };
        // Every field but the numbers is what an agent said (its command above all):
        // shown, not obeyed, so `ESC [8m` cannot hide the rest of a command.
        lines.push(format!(
            "{:>4}  {:<14} {:<12} {:<10} {:>5}s  {:<26}  {}{why}",
            p.id,
            pane,
            visible(&p.agent),
            visible(&p.tool),
            now.saturating_sub(p.since),
            unanswered,
            visible(&p.what)
        ));
        if let Some(w) = &p.warning {
            lines.push(format!("      ⚠ {}", visible(w)));
        }
        for line in p.diff.iter().flat_map(|d| d.lines()) {
            lines.push(format!("      {}", visible(line)));
        }
    }
    lines
}

/// Where `teamster approve --always` allows an action from now on.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum AlwaysScope {
    Session,
    Workspace,
    Everywhere,
}

/// `teamster approve ID [--always SCOPE]`.
pub fn approve(action: u64, always: Option<AlwaysScope>, json: bool) -> anyhow::Result<()> {
    use crate::approval::{AllowScope, Decision};
    let decision = match always {
        None => Decision::ApproveOnce,
        Some(a) => Decision::ApproveAlways {
            scope: match a {
                AlwaysScope::Session => AllowScope::Session,
                AlwaysScope::Workspace => AllowScope::Workspace,
                AlwaysScope::Everywhere => AllowScope::Everywhere,
            },
        },
    };
    resolve(action, decision, json)
}

/// `teamster deny ID [--reason TEXT]`: with a reason, the person's message to the agent.
pub fn deny(action: u64, reason: Option<String>, json: bool) -> anyhow::Result<()> {
    resolve(action, crate::approval::Decision::deny_by_person(reason), json)
}

fn resolve(action: u64, decision: crate::approval::Decision, json: bool) -> anyhow::Result<()> {
    use crate::approval::{Decision, Surface};
    let said = match &decision {
        Decision::ApproveOnce => format!("approved {action}"),
        Decision::ApproveAlways { .. } => {
            format!("approved {action}, and allowed from now on (`teamster rules` lists it)")
        }
        Decision::Deny { .. } => format!("denied {action}"),
    };
    let given = decision.clone();
    let reply = ask_runner(|id| ClientMsg::Resolve { id, action, decision, via: Surface::Cli })?;
    if reply.is_none() {
        bail!("no runner is running, so nothing waits");
    }
    if json {
        let out = serde_json::json!({ "id": action, "decision": given });
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        println!("{said}");
    }
    Ok(())
}

/// One request to the runner, if one runs.
fn ask_runner(make: impl FnOnce(u64) -> ClientMsg) -> anyhow::Result<Option<Reply>> {
    let rt = runtime()?;
    rt.block_on(async {
        let Some(mut conn) = existing(&paths::socket_path()).await? else { return Ok(None) };
        Ok(Some(request(&mut conn, make).await?))
    })
}

/// The state database, read beside a running runner (or without one).
fn store() -> anyhow::Result<crate::runner::store::Store> {
    let path = paths::state_dir().join("teamster.db");
    crate::runner::store::Store::open(&path).map_err(anyhow::Error::msg)
}

/// `teamster cost`.
pub fn cost(json: bool, target: Option<String>, prices: bool, config_path: &Path) -> anyhow::Result<()> {
    if prices {
        let p = load_config(config_path)?.prices();
        if json {
            println!(
                "{}",
                serde_json::to_string_pretty(
                    &serde_json::json!({ "table": p.table, "config": p.overrides, "fallback": p.fallback })
                )?
            );
            return Ok(());
        }
        println!("prices in dollars per million tokens (table version {}, checked {}):", p.table.version, p.table.date);
        println!(
            "{:<32} {:<10} {:>8} {:>8} {:>10} {:>11}",
            "model", "provider", "input", "output", "cache read", "cache write"
        );
        let row = |name: &str, provider: &str, x: &crate::meter::prices::Price| {
            let opt = |v: Option<f64>| v.map(|v| format!("{v}")).unwrap_or_else(|| "-".into());
            println!(
                "{name:<32} {provider:<10} {:>8} {:>8} {:>10} {:>11}",
                x.input,
                x.output,
                opt(x.cache_read),
                opt(x.cache_write)
            );
        };
        for (name, m) in &p.table.models {
            row(name, &m.provider, &m.price);
        }
        for (name, price) in &p.overrides {
            row(name, "(config)", price);
        }
        row("(any other model)", "fallback", &p.fallback);
        return Ok(());
    }
    let report = store()?.report(target.as_deref()).map_err(anyhow::Error::msg)?;
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(());
    }
    if report.total.calls == 0 {
        println!("nothing spent yet{}", target.map(|t| format!(" in session {t}")).unwrap_or_default());
        return Ok(());
    }
    for (title, rows) in [
        ("agent", &report.by_agent),
        ("model", &report.by_model),
        ("day", &report.by_day),
        ("session", &report.by_session),
        ("pane", &report.by_pane),
    ] {
        println!("{title:<28} {:>6} {:>9} {:>9} {:>10} {:>10}", "calls", "input", "output", "cache", "dollars");
        for r in rows {
            // Model names are what agents asked for.
            println!("  {:<26} {:>6} {}", visible(&r.key), r.calls, r.columns());
        }
        println!();
    }
    let t = &report.total;
    println!("total {} over {} calls", crate::text::dollars(t.cost), t.calls);
    if report.burn_per_hour > 0.0 {
        println!("burning {}/h (the last ten minutes)", crate::text::dollars(report.burn_per_hour));
    }
    if t.estimated > 0 {
        println!(
            "~ {} calls used models not in the price table: priced at [pricing] fallback (`teamster cost --prices`)",
            t.estimated
        );
    }
    if t.unknown > 0 {
        println!(
            "? {} calls could not be metered (their replies carried no usage teamster could read): not in the total",
            t.unknown
        );
    }
    Ok(())
}

/// `teamster rules [--forget ID]`.
pub fn rules(json: bool, forget: Option<i64>, config_path: &Path) -> anyhow::Result<()> {
    if let Some(id) = forget {
        match ask_runner(|rid| ClientMsg::RemoveAllowance { id: rid, allowance: id })? {
            Some(_) => {}
            None => {
                if !store()?.remove_allowance(id).map_err(anyhow::Error::msg)? {
                    bail!("no \"always allow\" {id}; `teamster rules` lists them");
                }
            }
        }
        println!("forgot \"always allow\" {id}");
        return Ok(());
    }
    let config = load_config(config_path)?;
    let rules = config.rules();
    let policies: Vec<String> = rules.iter().map(|r| r.describe()).collect();
    let allowances = store()?.allowances();
    if json {
        // Each policy as data: its name, what it acts on, its conditions ("when", only those
        // given), its verdict and reason, the marks it sets, and the line `teamster rules`
        // prints.
        let policies =
            rules.iter().zip(&policies).map(|(r, line)| policy_json(r, line)).collect::<Result<Vec<_>, _>>()?;
        let allowances: Vec<serde_json::Value> = allowances
            .iter()
            .map(|a| serde_json::json!({ "id": a.id, "scope": a.scope.words(), "tool": a.tool, "what": a.what }))
            .collect();
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({ "policies": policies, "always_allow": allowances }))?
        );
        return Ok(());
    }
    if policies.is_empty() {
        println!(
            "no policies: tool calls go on to each agent's own rules (add [[policy]] tables to {})",
            config_path.display()
        );
    } else {
        println!("policies, in order (from {}):", config_path.display());
        for (i, p) in policies.iter().enumerate() {
            println!("  {:>2}. {p}", i + 1);
        }
    }
    println!();
    if allowances.is_empty() {
        println!("no \"always allow\"s (approve with A in the sidebar, or `teamster approve ID --always SCOPE`)");
    } else {
        println!("always allowed (`teamster rules --forget ID` removes one):");
        for a in allowances {
            println!("  {:>3}  {:<28} {}: {}", a.id, a.scope.words(), visible(&a.tool), visible(&a.what));
        }
    }
    Ok(())
}

/// A policy for `rules --json`.
fn policy_json(rule: &crate::policy::Rule, summary: &str) -> anyhow::Result<serde_json::Value> {
    use serde_json::Value;
    let Value::Object(mut when) = serde_json::to_value(&rule.written)? else { bail!("a policy is not a table") };
    when.retain(|_, v| !v.is_null() && v.as_array().is_none_or(|a| !a.is_empty()));
    let mut take = |key: &str| when.remove(key).unwrap_or(Value::Null);
    let (name, on, verdict, reason) = (take("name"), take("on"), take("verdict"), take("reason"));
    let (set_mark, clear_mark, on_approve) = (take("set_mark"), take("clear_mark"), take("on_approve"));
    when.remove("include");
    let marks = |v: Value| if v.is_null() { Value::Array(Vec::new()) } else { v };
    Ok(serde_json::json!({
        "name": name, "on": on, "when": when, "verdict": verdict, "reason": reason,
        "set_mark": marks(set_mark), "clear_mark": marks(clear_mark), "on_approve": on_approve,
        "summary": summary,
    }))
}

/// `teamster audit`.
pub fn audit(json: bool, count: usize) -> anyhow::Result<()> {
    let decisions = store()?.decisions(count).map_err(anyhow::Error::msg)?;
    if json {
        let rows: Vec<serde_json::Value> = decisions
            .iter()
            .map(|d| {
                serde_json::json!({ "ts": d.ts, "session": d.session, "place": d.place, "agent": d.agent, "kind": d.kind,
                                    "what": d.what, "verdict": d.verdict, "by": d.by, "rule": d.rule, "reason": d.reason })
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&serde_json::json!({ "decisions": rows }))?);
        return Ok(());
    }
    if decisions.is_empty() {
        println!("no decisions yet");
        return Ok(());
    }
    for d in decisions.iter().rev() {
        let why = match (&d.rule, &d.reason) {
            (Some(rule), Some(reason)) => format!(" ({rule}: {reason})"),
            (Some(rule), None) => format!(" ({rule})"),
            (None, Some(reason)) => format!(" ({reason})"),
            (None, None) => String::new(),
        };
        // What agents did and said, and what people typed as reasons: shown, not obeyed.
        // Where: the pane's place when it was decided, else its session.
        let place = if d.place.is_empty() { &d.session } else { &d.place };
        println!(
            "{}  {:<10} {:<10} {:<6} by {:<24} {}{}",
            crate::runner::store::local_time(d.ts),
            visible(place),
            visible(&d.agent),
            visible(&d.verdict.to_string()),
            visible(&d.by.to_string()),
            visible(&d.what),
            visible(&why)
        );
    }
    Ok(())
}

/// A Unix time as the local `YYYY-MM-DD HH:MM:SS`.
/// `teamster restart`: a new runner (after an upgrade, say), with every session back.
pub fn restart(config_path: PathBuf, json: bool) -> anyhow::Result<()> {
    load_config(&config_path)?;
    let socket = paths::socket_path();
    let rt = runtime()?;
    let count = rt.block_on(async {
        if let Some(mut conn) = existing(&socket).await? {
            request(&mut conn, |id| ClientMsg::Restart { id }).await?;
            // The old runner is gone when its socket no longer answers.
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
            while connect(&socket).await.is_ok() {
                if std::time::Instant::now() > deadline {
                    bail!("the runner did not stop within 30 s");
                }
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
        }
        let mut conn = connect_or_start(&config_path, &socket).await?;
        match request(&mut conn, |id| ClientMsg::List { id }).await? {
            Reply::Sessions { sessions } => Ok(sessions.len()),
            _ => bail!("unexpected reply"),
        }
    })?;
    let message = format!("runner restarted; {count} session{} back", if count == 1 { "" } else { "s" });
    if json {
        println!("{}", serde_json::to_string_pretty(&serde_json::json!({ "sessions": count, "message": message }))?);
    } else {
        println!("{message}");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::approvals_table;
    use crate::protocol::{PendingSource, PendingView};

    fn item(id: u64, source: PendingSource, place: Option<&str>) -> PendingView {
        PendingView {
            id,
            session: "work".into(),
            pane: 17,
            place: place.map(String::from),
            agent: "gemini".into(),
            kind: crate::approval::ActionKind::ToolCall,
            tool: "Shell".into(),
            what: "rm -rf build".into(),
            rule: None,
            reason: String::new(),
            source,
            warning: None,
            diff: None,
            since: 990,
            deadline: 1_600,
        }
    }

    #[test]
    fn approvals_name_the_pane_by_place_and_say_what_happens_unanswered() {
        let lines = approvals_table(
            &[item(3, PendingSource::Policy, Some("work:1.2")), item(4, PendingSource::Agent, Some("work:2.1"))],
            1_000,
        );
        assert!(lines[0].contains("pane") && lines[0].contains("unanswered"), "{}", lines[0]);
        assert!(!lines[0].contains("denied in"), "an agent's question is not denied: {}", lines[0]);
        assert!(lines[1].contains("work:1.2") && lines[1].contains("denied in 600s"), "{}", lines[1]);
        assert!(lines[2].contains("work:2.1") && lines[2].contains("waits (in its pane too)"), "{}", lines[2]);
        assert!(!lines[2].contains("denied"), "{}", lines[2]);
        // A pane not in any tab any more is still named.
        let lines = approvals_table(&[item(5, PendingSource::Policy, None)], 1_000);
        assert!(lines[1].contains("work pane 17"), "{}", lines[1]);
    }
}
