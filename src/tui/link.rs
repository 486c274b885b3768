//! The TUI's connection to a runner.

use crate::fdio::{ReadHalf, WriteHalf};
use crate::protocol::{ClientMsg, ServerMsg, decode, encode};
use std::future::Future;
use std::path::PathBuf;

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

/// The runner's Unix socket, read and written directly by the TUI's own task: a
/// keystroke leaves in the same turn it arrived, with no hop through another task.
pub struct Local {
    rd: ReadHalf,
    wr: WriteHalf,
    buf: Vec<u8>,
    socket: PathBuf,
    config_path: PathBuf,
}

impl Local {
    pub fn new(conn: crate::client::Conn, socket: PathBuf, config_path: PathBuf) -> Local {
        Local { rd: conn.rd, wr: conn.wr, buf: Vec::with_capacity(64 * 1024), socket, config_path }
    }
}

impl Link for Local {
    async fn send(&mut self, msg: &ClientMsg) -> std::io::Result<()> {
        self.wr.write_all(&encode(msg)).await
    }

    async fn recv(&mut self) -> std::io::Result<Option<ServerMsg>> {
        loop {
            if let Some(msg) = decode(&mut self.buf)? {
                return Ok(Some(msg));
            }
            // Cancel-safe: a read that has not completed took nothing.
            if tokio::io::AsyncReadExt::read_buf(&mut self.rd, &mut self.buf).await? == 0 {
                return Ok(None);
            }
        }
    }

    async fn reconnect(&mut self) -> anyhow::Result<()> {
        let conn = crate::client::connect_or_start(&self.config_path, &self.socket).await?;
        (self.rd, self.wr) = (conn.rd, conn.wr);
        self.buf.clear();
        Ok(())
    }
}
