//! The command line's verbs, each a short conversation with the runner.

pub mod doctor;

use crate::config::{Config, ConfigError, Keymap, Mode};
use crate::layout::Direction;
use crate::paths;
use crate::protocol::{
    AttachTarget, ClientMsg, Context, PROTOCOL_VERSION, PaneState, Reply, ServerMsg, SessionView, Spawn, read_msg,
    write_msg,
};
use crate::runner::daemon;
use anyhow::{Context as _, bail};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use tokio::net::UnixStream;
use tokio::net::unix::{OwnedReadHalf, OwnedWriteHalf};

pub struct Conn {
    pub rd: OwnedReadHalf,
    pub wr: OwnedWriteHalf,
}

/// Connects to the runner and exchanges hellos.
pub async fn connect(socket: &Path) -> std::io::Result<Conn> {
    let stream = UnixStream::connect(socket).await?;
    let (mut rd, mut wr) = stream.into_split();
    write_msg(&mut wr, &ClientMsg::Hello { version: PROTOCOL_VERSION }).await?;
    match read_msg::<ServerMsg, _>(&mut rd).await? {
        Some(ServerMsg::Hello { .. }) => Ok(Conn { rd, wr }),
        Some(ServerMsg::Error { message }) => Err(std::io::Error::other(message)),
        _ => Err(std::io::Error::other(
            "the runner did not answer; it may be stuck: see runner.log in the state directory",
        )),
    }
}

fn no_runner(e: &std::io::Error) -> bool {
    matches!(e.kind(), std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused)
}

/// Connects to the runner, starting one if none is running.
pub async fn connect_or_start(config_path: &Path, socket: &Path) -> anyhow::Result<Conn> {
    match connect(socket).await {
        Ok(c) => return Ok(c),
        Err(e) if no_runner(&e) => {}
        Err(e) => return Err(e).with_context(|| format!("cannot reach the runner at {}", socket.display())),
    }
    let (config_path, socket_owned) = (config_path.to_path_buf(), socket.to_path_buf());
    tokio::task::spawn_blocking(move || daemon::start_in_background(&config_path, &socket_owned)).await??;
    Ok(connect(socket).await?)
}

/// Sends one request and waits for its reply.
pub async fn request(conn: &mut Conn, make: impl FnOnce(u64) -> ClientMsg) -> anyhow::Result<Reply> {
    write_msg(&mut conn.wr, &make(1)).await?;
    loop {
        match read_msg::<ServerMsg, _>(&mut conn.rd).await? {
            Some(ServerMsg::Reply { id: 1, result }) => return result.map_err(anyhow::Error::msg),
            Some(ServerMsg::Error { message }) => bail!(message),
            Some(_) => continue,
            None => bail!("the runner closed the connection"),
        }
    }
}

/// Connects for a one-shot request; `None` when no runner is running.
async fn existing(socket: &Path) -> anyhow::Result<Option<Conn>> {
    match connect(socket).await {
        Ok(c) => Ok(Some(c)),
        Err(e) if no_runner(&e) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

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
    let reason = rt.block_on(async {
        let conn = connect_or_start(&config_path, &socket).await?;
        let opts = crate::tui::Options { config, config_path, target, context: context() };
        crate::tui::run(crate::tui::link::Local::new(conn.rd, conn.wr), opts).await
    })?;
    if !reason.is_empty() {
        println!("{reason}");
    }
    rt.shutdown_timeout(std::time::Duration::from_millis(50));
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

/// `teamster ls`.
pub fn ls(json: bool) -> anyhow::Result<()> {
    let rt = runtime()?;
    let sessions = rt.block_on(async {
        let Some(mut conn) = existing(&paths::socket_path()).await? else { return anyhow::Ok(Vec::new()) };
        match request(&mut conn, |id| ClientMsg::List { id }).await? {
            Reply::Sessions { sessions } => Ok(sessions),
            _ => bail!("unexpected reply"),
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

fn state_words(state: &PaneState) -> String {
    match state {
        PaneState::Running => "running".into(),
        PaneState::Exited { code: Some(c), .. } => format!("exited {c}"),
        PaneState::Exited { signal: Some(s), .. } => format!("killed by signal {s}"),
        PaneState::Exited { .. } => "exited".into(),
    }
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
                                "id": p.id, "number": n + 1, "name": p.name, "command": p.command, "title": p.title,
                                "state": if p.state == PaneState::Running { "running" } else { "exited" },
                                "exit_code": code, "signal": signal, "pid": p.pid,
                                "cols": p.size.cols, "rows": p.size.rows, "focused": t.focused == p.id,
                            })
                        })
                        .collect();
                    json!({ "index": i + 1, "name": t.name, "active": i == s.active_tab, "zoomed": t.zoomed.is_some(), "panes": panes })
                })
                .collect();
            json!({ "id": s.id, "name": s.name, "clients": s.clients, "created": s.created, "tabs": tabs })
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
            s.name,
            s.tabs.len(),
            if s.tabs.len() == 1 { "" } else { "s" }
        ));
        for (i, t) in s.tabs.iter().enumerate() {
            let name = if t.name.is_empty() { String::new() } else { format!(" {}", t.name) };
            out.push_str(&format!("  tab {}{name}{}\n", i + 1, if i == s.active_tab { " (current)" } else { "" }));
            for (n, id) in t.layout.panes().iter().enumerate() {
                let Some(p) = s.pane(*id) else { continue };
                let label = match &p.name {
                    Some(name) if *name != p.command => format!("{name}: {}", p.command),
                    _ => p.command.clone(),
                };
                let focus = if t.focused == p.id { "*" } else { " " };
                out.push_str(&format!(
                    "    {focus}pane {} (id {}) {:<40} {:<12} {}x{}{}\n",
                    n + 1,
                    p.id,
                    label,
                    state_words(&p.state),
                    p.size.cols,
                    p.size.rows,
                    p.pid.map(|pid| format!("  pid {pid}")).unwrap_or_default()
                ));
            }
        }
    }
    out
}

/// `teamster kill`.
pub fn kill(target: Option<String>, all: bool) -> anyhow::Result<()> {
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
    println!("{text}");
    Ok(())
}

/// `teamster new [NAME] [-- CMD ARGS]`.
pub fn new(
    config_path: PathBuf,
    name: Option<String>,
    argv: Vec<String>,
    tab: bool,
    dir: Option<Direction>,
    target: Option<String>,
) -> anyhow::Result<()> {
    load_config(&config_path)?;
    let spawn = match (name, argv.is_empty()) {
        (Some(n), true) => Spawn::Agent { name: n },
        (None, false) => Spawn::Command { argv },
        (None, true) => Spawn::Shell,
        (Some(n), false) => {
            bail!("give an agent name or a command after `--`, not both (got `{n}` and `{}`)", argv.join(" "))
        }
    };
    let near = std::env::var("TEAMSTER_PANE").ok().and_then(|p| p.parse().ok());
    let rt = runtime()?;
    let (pane, session) = rt.block_on(async {
        let Some(mut conn) = existing(&paths::socket_path()).await? else {
            bail!("no session is running; start one with `teamster`");
        };
        match request(&mut conn, |id| ClientMsg::NewPane {
            id,
            session: target,
            near,
            spawn,
            tab,
            dir,
            context: context(),
        })
        .await?
        {
            Reply::Pane { pane, session } => Ok((pane, session)),
            _ => bail!("unexpected reply"),
        }
    })?;
    println!("opened pane {pane} in session {session}");
    Ok(())
}

/// `teamster keys`: the bindings in effect, after the user's overrides.
pub fn keys(config_path: PathBuf, actions: bool) -> anyhow::Result<()> {
    if actions {
        for name in crate::config::keymap::action_names() {
            println!("{name}");
        }
        return Ok(());
    }
    let config = load_config(&config_path)?;
    let keymap: Keymap = config.load_ui(&config_path)?.0;
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
