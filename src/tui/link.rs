//! The TUI's connection to a runner.

use crate::protocol::{ClientMsg, ServerMsg};
use std::future::Future;

/// Where the TUI's messages go and its updates come from.
pub trait Link {
    /// Sends a message; returns when the connection has taken it.
    fn send(&mut self, msg: ClientMsg) -> impl Future<Output = std::io::Result<()>>;
    /// The next message, or None when the runner is gone. Safe to cancel, so the TUI can
    /// wait for it beside its other inputs.
    fn recv(&mut self) -> impl Future<Output = std::io::Result<Option<ServerMsg>>>;
    /// Connects again after the runner went away (a restart, a crash), starting one if
    /// none runs; the new runner has brought the sessions back.
    fn reconnect(&mut self) -> impl Future<Output = anyhow::Result<()>>;
}

/// The in-process channels between a TUI the runner runs on a handed terminal and the
/// runner's side of it: the socket's own messages, passed as they are, with no process
/// (nor encoding) between. The session it shows is told to `session`, for the client to
/// come back to it.
pub struct InRunner {
    tx: tokio::sync::mpsc::UnboundedSender<ClientMsg>,
    rx: tokio::sync::mpsc::UnboundedReceiver<ServerMsg>,
    session: tokio::sync::watch::Sender<Option<String>>,
}

impl InRunner {
    pub fn new(
        tx: tokio::sync::mpsc::UnboundedSender<ClientMsg>,
        rx: tokio::sync::mpsc::UnboundedReceiver<ServerMsg>,
        session: tokio::sync::watch::Sender<Option<String>>,
    ) -> InRunner {
        InRunner { tx, rx, session }
    }
}

impl Link for InRunner {
    async fn send(&mut self, msg: ClientMsg) -> std::io::Result<()> {
        self.tx.send(msg).map_err(|_| std::io::ErrorKind::BrokenPipe.into())
    }

    async fn recv(&mut self) -> std::io::Result<Option<ServerMsg>> {
        let msg = self.rx.recv().await;
        if let Some(ServerMsg::Session { session }) = &msg {
            self.session.send_if_modified(|name| {
                let changed = name.as_deref() != Some(session.name.as_str());
                if changed {
                    *name = Some(session.name.clone());
                }
                changed
            });
        }
        Ok(msg)
    }

    async fn reconnect(&mut self) -> anyhow::Result<()> {
        anyhow::bail!("the runner's side of this terminal has ended")
    }
}
