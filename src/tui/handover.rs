//! The client's side of a terminal handed to the runner (see `runner/terminal.rs`): it
//! sets the terminal up and puts it back, hands its descriptor over, passes on size changes
//! and hangups, and if the runner goes away, hands it to the runner that replaces it, on
//! the same session.

use super::{TerminalGuard, prepare_terminal, terminal_size};
use crate::client::{Conn, connect_or_start};
use crate::config::Config;
use crate::protocol::{AttachTarget, ClientMsg, Context, ServerMsg, read_msg, write_msg};
use std::io::Write;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::signal::unix::{SignalKind, signal};

/// How long the client waits for a runner that went away to be replaced.
const RECONNECT_WITHIN: Duration = Duration::from_secs(30);

/// How one handing over ended.
enum Ended {
    /// The runner is done with the terminal: what to tell the user, and whether it failed.
    Done(String, bool),
    /// The runner went away; it was showing this session.
    Lost(Option<String>),
}

/// Runs the session on this terminal, drawn by the runner, until detach or exit: what to
/// tell the user, and whether it is an error.
pub async fn run(
    config: Config,
    config_path: PathBuf,
    socket: PathBuf,
    mut target: AttachTarget,
    context: Context,
) -> anyhow::Result<(String, bool)> {
    // The config's errors print plainly, before the terminal changes.
    config.load_ui(&config_path)?;
    let _guard = TerminalGuard::enter(config.mouse)?;
    // The runner reads it for itself: this process, idle while it draws, keeps none of it.
    drop(config);
    // Named as the runner, in another directory, finds it.
    let config_path = std::path::absolute(&config_path).unwrap_or(config_path);
    let mut terminal = prepare_terminal()?;
    let mut conn = connect_or_start(&config_path, &socket).await?;
    let mut reconnected = false;
    loop {
        let attach = ClientMsg::AttachTerminal {
            target: target.clone(),
            context: context.clone(),
            terminal: terminal.clone(),
            config_path: config_path.clone(),
            reconnected,
        };
        match hand_over(&mut conn, attach).await? {
            Ended::Done(message, failed) => return Ok((message, failed)),
            Ended::Lost(session) => {
                const LOST: &str = "[lost the runner: it stopped or crashed; its log is in the state directory]";
                let Some(name) = session else { return Ok((LOST.into(), true)) };
                say_at_bottom("the runner went away; reconnecting…");
                conn = match reconnect(&config_path, &socket).await {
                    Ok(conn) => conn,
                    Err(e) => return Ok((format!("{LOST}\n[could not reach a new one: {e:#}]"), true)),
                };
                target = AttachTarget::Named { name, create: false };
                terminal.size = terminal_size();
                terminal.typed.clear();
                reconnected = true;
            }
        }
    }
}

/// Hands the terminal over on `conn` and waits until the runner is done with it.
async fn hand_over(conn: &mut Conn, attach: ClientMsg) -> anyhow::Result<Ended> {
    let mut winch = signal(SignalKind::window_change())?;
    let mut hup = signal(SignalKind::hangup())?;
    let mut term = signal(SignalKind::terminate())?;
    write_msg(&mut conn.wr, &attach).await?;
    let mut terminated = false;
    let mut session = match &attach {
        ClientMsg::AttachTerminal { target: AttachTarget::Named { name, .. }, .. } => Some(name.clone()),
        _ => None,
    };
    loop {
        let msg = tokio::select! {
            msg = read_msg::<ServerMsg, _>(&mut conn.rd) => msg,
            _ = winch.recv() => {
                let _ = write_msg(&mut conn.wr, &ClientMsg::TerminalResized { size: terminal_size() }).await;
                continue;
            }
            // The terminal is gone or we are told to end: the runner lets go of it and says
            // it is done; what it says has nobody to read it after a hangup.
            _ = hup.recv() => {
                let _ = write_msg(&mut conn.wr, &ClientMsg::TerminalGone).await;
                continue;
            }
            _ = term.recv() => {
                terminated = true;
                let _ = write_msg(&mut conn.wr, &ClientMsg::TerminalGone).await;
                continue;
            }
        };
        match msg {
            Ok(Some(ServerMsg::TakeTerminal)) => conn.wr.give_fd(std::io::stdin().as_fd()).await?,
            Ok(Some(ServerMsg::TerminalSession { name })) => session = Some(name),
            Ok(Some(ServerMsg::TerminalDone { message, failed })) => {
                let message = if terminated && message.is_empty() { "[terminated]".into() } else { message };
                return Ok(Ended::Done(message, failed));
            }
            Ok(Some(ServerMsg::Error { message })) => return Ok(Ended::Done(format!("teamster: {message}"), true)),
            Ok(Some(_)) => {}
            Ok(None) | Err(_) => return Ok(Ended::Lost(session)),
        }
    }
}

/// A connection to the runner that replaced the one that went away (a restart brings its
/// sessions back), starting one if none comes.
async fn reconnect(config_path: &Path, socket: &Path) -> anyhow::Result<Conn> {
    let deadline = tokio::time::Instant::now() + RECONNECT_WITHIN;
    loop {
        match connect_or_start(config_path, socket).await {
            Ok(conn) => return Ok(conn),
            Err(_) if tokio::time::Instant::now() < deadline => {
                // Retrying a connection, not waiting on a condition: nothing to wake us sooner.
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(e) => return Err(e),
        }
    }
}

/// A line on the terminal's last row, while nobody draws on it.
fn say_at_bottom(words: &str) {
    let rows = terminal_size().rows.max(1);
    let mut out = std::io::stdout();
    let _ = write!(out, "\x1b[{rows};1H\x1b[0m\x1b[2K{words}").and_then(|_| out.flush());
}
