//! The runner's control socket, from a client's side: connect (starting a runner if none
//! runs), exchange hellos, ask and wait for the answer. The command line's verbs and the
//! TUI both talk to the runner through it.

use crate::fdio::{ReadHalf, WriteHalf};
use crate::protocol::{ClientMsg, PROTOCOL_VERSION, Reply, ServerMsg, read_msg, write_msg};
use crate::runner::daemon;
use anyhow::{Context as _, bail};
use std::path::Path;
use tokio::net::UnixStream;

pub struct Conn {
    pub rd: ReadHalf,
    pub wr: WriteHalf,
}

/// Connects to the runner and exchanges hellos.
pub async fn connect(socket: &Path) -> std::io::Result<Conn> {
    let stream = UnixStream::connect(socket).await?;
    let (mut rd, mut wr) = crate::fdio::split_tokio(stream)?;
    wr.write_all(&crate::protocol::encode_json(&ClientMsg::Hello { version: PROTOCOL_VERSION })).await?;
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

/// A runner going away (it crashed or was killed a moment ago) may still take a connection
/// on its socket, then drop it.
fn going_away(e: &std::io::Error) -> bool {
    use std::io::ErrorKind::*;
    matches!(e.kind(), ConnectionReset | ConnectionAborted | BrokenPipe | UnexpectedEof)
}

/// Connects to the runner, starting one if none is running. One going away is waited out
/// (three seconds at most) until its socket is gone, then a new one is started.
pub async fn connect_or_start(config_path: &Path, socket: &Path) -> anyhow::Result<Conn> {
    const TRIES: u32 = 60;
    for tried in 1.. {
        match connect(socket).await {
            Ok(c) => return Ok(c),
            Err(e) if no_runner(&e) => break,
            // Polling another process's end: it says nothing when it is gone.
            Err(e) if going_away(&e) && tried < TRIES => tokio::time::sleep(std::time::Duration::from_millis(50)).await,
            Err(e) => return Err(e).with_context(|| format!("cannot reach the runner at {}", socket.display())),
        }
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
pub async fn existing(socket: &Path) -> anyhow::Result<Option<Conn>> {
    match connect(socket).await {
        Ok(c) => Ok(Some(c)),
        Err(e) if no_runner(&e) => Ok(None),
        Err(e) => Err(e.into()),
    }
}
