//! The TUI's connection to a runner.

use crate::protocol::{ClientMsg, ServerMsg, decode, encode};
use std::future::Future;

/// Where the TUI's messages go and its updates come from.
pub trait Link {
    /// Sends a message; returns when the connection has taken it.
    fn send(&mut self, msg: &ClientMsg) -> impl Future<Output = std::io::Result<()>>;
    /// The next message, or None when the runner is gone. Safe to cancel, so the TUI can
    /// wait for it beside its other inputs.
    fn recv(&mut self) -> impl Future<Output = std::io::Result<Option<ServerMsg>>>;
    /// Connects again after the runner went away (a restart, a crash), starting one if
    /// none runs; the new runner has brought the sessions back.
    fn reconnect(&mut self) -> impl Future<Output = anyhow::Result<()>>;
}

/// The in-process stream between a TUI the runner runs on a handed terminal and the
/// runner's side of it: the same messages as over the socket, with no process between.
/// The session it shows is told to `session`, for the client to come back to it.
pub struct InRunner {
    rd: tokio::io::ReadHalf<tokio::io::DuplexStream>,
    wr: tokio::io::WriteHalf<tokio::io::DuplexStream>,
    buf: Vec<u8>,
    session: tokio::sync::watch::Sender<Option<String>>,
}

impl InRunner {
    pub fn new(stream: tokio::io::DuplexStream, session: tokio::sync::watch::Sender<Option<String>>) -> InRunner {
        let (rd, wr) = tokio::io::split(stream);
        InRunner { rd, wr, buf: Vec::with_capacity(64 * 1024), session }
    }
}

impl Link for InRunner {
    async fn send(&mut self, msg: &ClientMsg) -> std::io::Result<()> {
        tokio::io::AsyncWriteExt::write_all(&mut self.wr, &encode(msg)).await
    }

    async fn recv(&mut self) -> std::io::Result<Option<ServerMsg>> {
        loop {
            if let Some(msg) = decode::<ServerMsg>(&mut self.buf)? {
                if let ServerMsg::Session { session } = &msg {
                    self.session.send_if_modified(|name| {
                        let changed = name.as_deref() != Some(session.name.as_str());
                        if changed {
                            *name = Some(session.name.clone());
                        }
                        changed
                    });
                }
                return Ok(Some(msg));
            }
            if tokio::io::AsyncReadExt::read_buf(&mut self.rd, &mut self.buf).await? == 0 {
                return Ok(None);
            }
        }
    }

    async fn reconnect(&mut self) -> anyhow::Result<()> {
        anyhow::bail!("the runner's side of this terminal has ended")
    }
}
