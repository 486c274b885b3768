//! A pane: a program on a PTY, and the screen its output draws.
//!
//! One task per pane owns the PTY: it reads output in batches into the screen, writes
//! back the answers to the program's queries and the user's keys, and reports when the
//! program exits. Views read the screen under its lock at their own pace.

use super::Runner;
use super::pty;
use crate::layout::PaneId;
use crate::protocol::{PaneState, Size, Spawn};
use crate::screen::{ReportedColors, Screen, ScreenEvent};
use parking_lot::Mutex;
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::{Arc, Weak};
use std::time::Instant;
use tokio::io::unix::AsyncFd;
use tokio::sync::{mpsc, watch};

pub struct PaneMeta {
    pub name: Option<String>,
    /// The command line, for display.
    pub command: String,
    pub spawn: Spawn,
    pub title: String,
    pub state: PaneState,
    /// Rang the bell or notified while not focused.
    pub attention: bool,
    pub size: Size,
}

pub struct Pane {
    pub id: PaneId,
    pub session: u32,
    pub pid: u32,
    pub screen: Mutex<Screen>,
    pub meta: Mutex<PaneMeta>,
    /// When the program began its current synchronized update (mode 2026), if it is in one.
    pub sync_since: Mutex<Option<Instant>>,
    master: Arc<AsyncFd<OwnedFd>>,
    input: mpsc::UnboundedSender<Vec<u8>>,
}

impl Pane {
    /// Queues bytes for the program; dropped if it has exited.
    pub fn write(&self, bytes: Vec<u8>) {
        if !bytes.is_empty() {
            let _ = self.input.send(bytes);
        }
    }

    pub fn is_running(&self) -> bool {
        self.meta.lock().state == PaneState::Running
    }

    /// Resizes the screen (reflowing it) and the terminal (the program gets SIGWINCH).
    pub fn resize(&self, size: Size) {
        let size = Size { cols: size.cols.max(1), rows: size.rows.max(1) };
        {
            let mut meta = self.meta.lock();
            if meta.size == size {
                return;
            }
            meta.size = size;
        }
        self.screen.lock().resize(size.cols, size.rows);
        if let Err(e) = pty::resize(self.master.get_ref(), size) {
            super::log(&format!("pane {}: resize failed: {e}", self.id));
        }
    }
}

/// Starts the task that serves a freshly spawned program; returns its pane.
#[allow(clippy::too_many_arguments)]
pub fn start(
    runner: &Arc<Runner>,
    id: PaneId,
    session: u32,
    spawned: pty::Spawned,
    meta: PaneMeta,
    scrollback: usize,
    colors: ReportedColors,
    changed: watch::Sender<u64>,
) -> std::io::Result<Arc<Pane>> {
    let size = meta.size;
    // SAFETY: the OwnedFd is moved into the AsyncFd, which alone owns and closes it.
    let master = Arc::new(unsafe { AsyncFd::register(spawned.master) }.map_err(|e| e.into_parts().1)?);
    let (tx, rx) = mpsc::unbounded_channel();
    let mut screen = Screen::new(size.cols, size.rows, scrollback);
    screen.set_reported_colors(colors);
    let pane = Arc::new(Pane {
        id,
        session,
        pid: spawned.pid,
        screen: Mutex::new(screen),
        meta: Mutex::new(meta),
        sync_since: Mutex::new(None),
        master: master.clone(),
        input: tx,
    });
    tokio::spawn(io_task(Arc::downgrade(runner), pane.clone(), master, spawned.child, rx, changed));
    Ok(pane)
}

/// How much output one wake-up reads before letting other tasks run: about half a
/// millisecond of parsing, so a flooding pane delays nobody's keystrokes.
const READ_BATCH: usize = 64 << 10;

async fn io_task(
    runner: Weak<Runner>,
    pane: Arc<Pane>,
    fd: Arc<AsyncFd<OwnedFd>>,
    mut child: tokio::process::Child,
    mut input: mpsc::UnboundedReceiver<Vec<u8>>,
    changed: watch::Sender<u64>,
) {
    let mut out: Vec<u8> = Vec::new();
    let mut open = true;
    let mut status: Option<std::process::ExitStatus> = None;
    while open {
        tokio::select! {
            guard = fd.readable() => {
                let Ok(mut guard) = guard else { break };
                let (total, state) = read_batch(&pane, &fd, &mut out, &runner);
                match state {
                    Drained::WouldBlock => guard.clear_ready(),
                    Drained::Closed => open = false,
                    Drained::More => {}
                }
                if total > 0 {
                    changed.send_modify(|v| *v = v.wrapping_add(1));
                }
                if total >= READ_BATCH {
                    // More is waiting; let the other panes and clients have a turn first.
                    tokio::task::yield_now().await;
                }
                if !out.is_empty() {
                    write_pending(&fd, &mut out);
                }
            }
            data = input.recv() => {
                let Some(data): Option<Vec<u8>> = data else { break };
                out.extend_from_slice(&data);
                write_pending(&fd, &mut out);
            }
            guard = fd.writable(), if !out.is_empty() => {
                let Ok(mut guard) = guard else { break };
                if !write_pending(&fd, &mut out) { guard.clear_ready(); }
            }
            st = child.wait(), if status.is_none() => {
                status = st.ok();
                // The program is gone; what it printed last may still be in the terminal.
                if let Some(r) = runner.upgrade() { r.pane_exited(pane.id, status); }
            }
        }
    }
    if status.is_none() {
        status = child.wait().await.ok();
        if let Some(r) = runner.upgrade() {
            r.pane_exited(pane.id, status);
        }
    }
    changed.send_modify(|v| *v = v.wrapping_add(1));
}

thread_local! {
    /// One read buffer per runner thread rather than per pane: it is used only between
    /// awaits, and 32 idle panes should not hold 2 MiB of buffers.
    static READ_BUF: std::cell::RefCell<Vec<u8>> = std::cell::RefCell::new(vec![0u8; 64 * 1024]);
}

enum Drained {
    WouldBlock,
    /// Every process closed the terminal (EIO).
    Closed,
    /// The batch is full; more may be waiting.
    More,
}

/// Reads what the terminal has, up to `READ_BATCH`, into the screen.
fn read_batch(pane: &Pane, fd: &AsyncFd<OwnedFd>, out: &mut Vec<u8>, runner: &Weak<Runner>) -> (usize, Drained) {
    READ_BUF.with_borrow_mut(|buf| {
        let mut total = 0;
        while total < READ_BATCH {
            match read_fd(fd, buf) {
                Ok(0) => return (total, Drained::Closed),
                Ok(n) => {
                    total += n;
                    let events = feed(pane, &buf[..n], out);
                    if !events.is_empty()
                        && let Some(r) = runner.upgrade()
                    {
                        r.pane_events(pane.id, events);
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return (total, Drained::WouldBlock),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(_) => return (total, Drained::Closed),
            }
        }
        (total, Drained::More)
    })
}

/// Applies output to the screen; queues the answers to the program's queries.
fn feed(pane: &Pane, bytes: &[u8], out: &mut Vec<u8>) -> Vec<ScreenEvent> {
    let mut screen = pane.screen.lock();
    let was_sync = screen.modes().synchronized;
    screen.feed(bytes);
    out.extend_from_slice(&screen.take_responses());
    let sync = screen.modes().synchronized;
    let events = if screen.has_events() { screen.take_events() } else { Vec::new() };
    drop(screen);
    if sync != was_sync {
        *pane.sync_since.lock() = sync.then(Instant::now);
    }
    events
}

fn read_fd(fd: &AsyncFd<OwnedFd>, buf: &mut [u8]) -> std::io::Result<usize> {
    // SAFETY: reading into a buffer we own, of the length we pass.
    let n = unsafe { libc::read(fd.get_ref().as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
    if n < 0 { Err(std::io::Error::last_os_error()) } else { Ok(n as usize) }
}

/// Writes what it can; true when everything was written.
fn write_pending(fd: &AsyncFd<OwnedFd>, out: &mut Vec<u8>) -> bool {
    while !out.is_empty() {
        // SAFETY: writing from a buffer we own, of the length we pass.
        let n = unsafe { libc::write(fd.get_ref().as_raw_fd(), out.as_ptr().cast(), out.len()) };
        if n < 0 {
            let e = std::io::Error::last_os_error();
            if e.kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            if e.kind() != std::io::ErrorKind::WouldBlock {
                // The program is gone; nothing more can be delivered.
                out.clear();
            }
            return out.is_empty();
        }
        out.drain(..n as usize);
    }
    true
}
