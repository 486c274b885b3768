//! A client's terminal, handed to the runner: the runner runs the TUI on it itself, reading
//! its keys and drawing on it, as tmux's server does with its clients' terminals.
//!
//! Why: a key and its echo then cross one process, not two. With the TUI in the client,
//! a key went client → runner → program and its echo program → runner → client → terminal:
//! two wake-ups of each of our processes on every key, and on an idle machine each wake-up
//! of a process on the other CPU costs more than the work it does. Here the key is read,
//! written to the pane, and its echo drawn, by the runner alone.
//!
//! The client keeps the terminal's modes (raw mode, the alternate screen) and restores
//! them when the runner is done; it hands over its terminal's descriptor (never a path:
//! the runner draws only on a terminal its peer holds), passes on size changes and
//! hangups, and comes back to the same session if the runner goes away. The TUI talks to
//! the runner's side over an in-process stream carrying the socket's own messages, so
//! everything a client can do, it does the same way.

use super::client::{Sink, Writer, send, serve_messages};
use super::{Runner, log};
use crate::protocol::{AttachTarget, ClientMsg, Context, ServerMsg, TerminalFacts, read_msg};
use crate::tui::{Change, Changes, Drawn, Keys};
use parking_lot::Mutex;
use std::io::Write;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::unix::AsyncFd;

/// What a client says when it hands its terminal over.
pub struct Handed {
    pub target: AttachTarget,
    pub context: Context,
    pub terminal: TerminalFacts,
    pub config_path: PathBuf,
    pub reconnected: bool,
}

/// How long the client has to hand the descriptor over once asked.
const HAND_WITHIN: Duration = Duration::from_secs(5);
/// How long what the TUI drew last may take to reach a terminal at the end.
const DRAIN_WITHIN: Duration = Duration::from_secs(2);

/// Takes the client's terminal (its descriptor follows on `rd`), runs the TUI on it until
/// it ends, and tells the client why.
pub(super) async fn take(runner: Arc<Runner>, mut rd: crate::fdio::ReadHalf, wr: Writer, handed: Handed) {
    let done = |message: String, failed: bool| ServerMsg::TerminalDone { message, failed };
    if !send(&wr, ServerMsg::TakeTerminal).await {
        return;
    }
    let tty = match tokio::time::timeout(HAND_WITHIN, rd.take_fd()).await {
        Ok(Ok(fd)) => reopen(&fd),
        Ok(Err(e)) => Err(e),
        Err(_) => Err(std::io::Error::other("no terminal came")),
    };
    let tty = match tty {
        Ok(tty) => tty,
        Err(e) => {
            let message = format!("the runner could not take this terminal ({e}); run `teamster` in a terminal");
            send(&wr, done(message, true)).await;
            return;
        }
    };
    // Read off the runner's thread: the config, its keys and its theme.
    let loaded = {
        let path = handed.config_path.clone();
        tokio::task::spawn_blocking(move || {
            let config = crate::config::Config::load(&path)?;
            let ui = config.load_ui(&path)?;
            Ok::<_, crate::config::ConfigError>((config, ui))
        })
        .await
    };
    let (config, ui) = match loaded {
        Ok(Ok(loaded)) => loaded,
        Ok(Err(e)) => {
            send(&wr, done(format!("teamster: {e}"), true)).await;
            return;
        }
        Err(e) => {
            send(&wr, done(format!("teamster: reading the config failed: {e}"), true)).await;
            return;
        }
    };

    // The TUI's messages to this runner, served as any client's connection is.
    let (to_runner, mut from_tui) = tokio::sync::mpsc::unbounded_channel();
    let (to_tui, from_runner) = tokio::sync::mpsc::unbounded_channel();
    let served =
        tokio::spawn(
            async move { serve_messages(runner, &mut from_tui, Sink::writer(Sink::Local(to_tui)), None).await },
        );
    let (session_tx, mut session_rx) = tokio::sync::watch::channel(None);
    let link = crate::tui::link::InRunner::new(to_runner, from_runner, session_tx);

    let (changes_tx, changes_rx) = tokio::sync::mpsc::unbounded_channel();
    let out = TtyOut::new(tty.clone());
    let unwritten = out.unwritten.clone();
    let setup = crate::tui::Setup {
        config,
        ui,
        config_path: handed.config_path,
        target: handed.target,
        context: handed.context,
        terminal: handed.terminal,
        say: handed.reconnected.then(|| "reconnected".to_string()),
    };
    let mut tui = tokio::spawn(crate::tui::run_on(
        link,
        setup,
        TtyKeys { tty: tty.clone(), short: false },
        HandedChanges(changes_rx),
        out,
    ));

    // What the client says of its terminal, read in a task of its own (a read is not
    // safe to drop half-way).
    let reading = tokio::spawn(async move {
        loop {
            let change = match read_msg::<ClientMsg, _>(&mut rd).await {
                Ok(Some(ClientMsg::TerminalResized { size })) => Change::Resized(size),
                // The client's terminal hung up, or the client ended or was told to:
                // nobody is left to tell.
                Ok(Some(ClientMsg::TerminalGone)) | Ok(None) | Err(_) => Change::Gone(String::new()),
                Ok(Some(_)) => continue,
            };
            let gone = matches!(change, Change::Gone(_));
            if changes_tx.send(change).is_err() || gone {
                return;
            }
        }
    });
    let ended = loop {
        tokio::select! {
            result = &mut tui => break result,
            Ok(()) = session_rx.changed() => {
                let name = session_rx.borrow_and_update().clone();
                if let Some(name) = name {
                    send(&wr, ServerMsg::TerminalSession { name }).await;
                }
            }
        }
    };
    reading.abort();
    // What it drew last reaches the terminal before the client takes its terminal back.
    drain(&tty, &unwritten).await;
    let message = match ended {
        Ok(Ok(reason)) => done(reason, false),
        Ok(Err(e)) => done(format!("teamster: {e:#}"), true),
        Err(e) => {
            log(&format!("the TUI on a client's terminal failed: {e}"));
            done(format!("teamster's screen failed ({e}); the runner's log has more"), true)
        }
    };
    send(&wr, message).await;
    // The TUI's end closed its stream: the runner's side sees the client leave.
    let _ = served.await;
}

/// A descriptor of our own for the handed terminal: a file description not shared with
/// the client's shell, so making it non-blocking changes nothing of theirs.
fn reopen(fd: &OwnedFd) -> std::io::Result<Arc<AsyncFd<OwnedFd>>> {
    // Checked before it is opened: a FIFO or a file handed over is never opened anew.
    if !nix::unistd::isatty(fd).unwrap_or(false) {
        return Err(std::io::Error::other("what was handed over is not a terminal"));
    }
    let path = format!("/proc/self/fd/{}", fd.as_raw_fd());
    let own: OwnedFd = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_NOCTTY | libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open(path)?
        .into();
    Ok(Arc::new(crate::fdio::readable(own)?))
}

/// Writes what waits for the terminal, for as long as it takes it (within `DRAIN_WITHIN`).
async fn drain(tty: &AsyncFd<OwnedFd>, unwritten: &Mutex<Vec<u8>>) {
    let deadline = tokio::time::Instant::now() + DRAIN_WITHIN;
    let mut watch = None;
    loop {
        {
            let mut left = unwritten.lock();
            if write_some(tty.get_ref(), &mut left).is_err() || left.is_empty() {
                return;
            }
        }
        match tokio::time::timeout_at(deadline, crate::fdio::writable(&mut watch, tty.get_ref())).await {
            Ok(Ok(())) => {}
            _ => return,
        }
    }
}

/// Writes as much of `bytes` as the terminal takes now, and forgets what it took.
fn write_some(fd: &OwnedFd, bytes: &mut Vec<u8>) -> std::io::Result<()> {
    let n = crate::fdio::write_now(fd, bytes)?;
    bytes.drain(..n);
    Ok(())
}

/// The keys typed on the handed terminal; `short`: the last read took less than it could.
struct TtyKeys {
    tty: Arc<AsyncFd<OwnedFd>>,
    short: bool,
}

impl Keys for TtyKeys {
    async fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        // After a short read, the read that finds nothing more waits a turn: the key just
        // read reaches its pane first.
        if std::mem::take(&mut self.short) {
            tokio::task::yield_now().await;
        }
        loop {
            let mut guard = self.tty.readable().await?;
            match guard.try_io(|fd| nix::unistd::read(fd.get_ref(), buf).map_err(std::io::Error::from)) {
                Ok(Ok(n)) => {
                    self.short = n < buf.len();
                    if self.short {
                        // Not known to be empty yet: the next read finds out.
                        guard.retain_ready();
                    }
                    return Ok(n);
                }
                // A terminal whose other side has gone reads EIO: it is closed.
                Ok(Err(e)) if e.raw_os_error() == Some(libc::EIO) => return Ok(0),
                Ok(Err(e)) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Ok(Err(e)) => return Err(e),
                Err(_would_block) => {}
            }
        }
    }
}

/// What the client passes on about its terminal.
struct HandedChanges(tokio::sync::mpsc::UnboundedReceiver<Change>);

impl Changes for HandedChanges {
    async fn next(&mut self) -> Change {
        self.0.recv().await.unwrap_or_else(|| Change::Gone(String::new()))
    }
}

/// Drawing on the handed terminal without ever blocking the runner: what the terminal
/// does not take at once waits in `unwritten` (one frame's worth: the TUI draws no more
/// until it has gone), written as the terminal takes it.
struct TtyOut {
    tty: Arc<AsyncFd<OwnedFd>>,
    /// Bytes drawn since the last flush.
    buf: Vec<u8>,
    /// Flushed bytes the terminal has not taken yet; the runner's side finishes them when
    /// the TUI ends.
    unwritten: Arc<Mutex<Vec<u8>>>,
    /// A duplicate of the terminal watched for writing, while bytes wait.
    watch: Option<Arc<AsyncFd<OwnedFd>>>,
}

impl TtyOut {
    fn new(tty: Arc<AsyncFd<OwnedFd>>) -> TtyOut {
        TtyOut { tty, buf: Vec::with_capacity(64 * 1024), unwritten: Arc::default(), watch: None }
    }
}

impl Write for TtyOut {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        let mut unwritten = self.unwritten.lock();
        unwritten.append(&mut self.buf);
        write_some(self.tty.get_ref(), &mut unwritten)?;
        if unwritten.is_empty() {
            self.watch = None;
        } else if self.watch.is_none() {
            self.watch = Some(Arc::new(crate::fdio::watch_writing(self.tty.get_ref())?));
        }
        Ok(())
    }
}

impl Drawn for TtyOut {
    fn waiting(&self) -> Option<Arc<AsyncFd<OwnedFd>>> {
        self.watch.clone()
    }
}
