//! A pane: a program on a PTY, and the screen its output draws.
//!
//! One task per pane owns the PTY: it reads output in batches into the screen, writes
//! back the answers to the program's queries and the user's keys, and reports when the
//! program exits. Views read the screen under its lock at their own pace.

use super::Runner;
use super::pty;
use crate::agents::{AgentKind, AgentState};
use crate::layout::PaneId;
use crate::protocol::{PaneState, Size, Spawn};
use crate::screen::{ReportedColors, Screen, ScreenEvent};
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::PathBuf;
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};
use tokio::io::unix::AsyncFd;
use tokio::sync::{Notify, watch};

pub struct PaneMeta {
    /// The config its program was started with (`launch_settings`), and whether a reload
    /// changed it since: a restart of the program would apply the new one.
    pub launched_with: String,
    pub restart_applies: bool,
    /// How to start the pane again; kept in the runner's state file.
    pub spec: PaneSpec,
    /// The command line, for display.
    pub command: String,
    pub title: String,
    pub state: PaneState,
    /// Rang the bell, notified, or started waiting while not focused.
    pub attention: bool,
    pub size: Size,
    pub agent: Option<AgentKind>,
    pub agent_state: AgentState,
    /// How many times the agent started working (took a prompt): `teamster send` waits
    /// for the next, which may be over before it looks again.
    pub turns: u64,
    /// What the agent answered at the end of its last turn, read off its model's reply at
    /// the metering proxy, and how many answers it has given.
    pub last_answer: Option<String>,
    pub answers: u64,
    /// When the program last printed anything.
    pub last_output: Instant,
    /// When its program started (`teamster compare` says how long it has run).
    pub started: Instant,
    /// The token in this agent pane's proxy address (`/t/TOKEN/…`); its hooks need none.
    pub proxy_token: Option<String>,
    /// Where the metering proxy sends the agent's model calls.
    pub routes: Vec<crate::agents::Route>,
    /// Dollars its agent spent; whether some calls could not be metered, or were priced
    /// at the fallback.
    pub spend: f64,
    pub spend_unknown: bool,
    /// The variables the sandboxed agent holds placeholders for, and their real values.
    pub secrets: Vec<(String, String)>,
    /// Whether the agent runs in teamster's sandbox, and what it lets the agent do.
    pub sandboxed: bool,
    pub sandbox_plan: Option<std::sync::Arc<crate::sandbox::Plan>>,
    /// The project's check on its worktree (`[review] check`), and whether it is to run
    /// again when the running one ends (the agent finished another turn meanwhile).
    pub check: Option<crate::protocol::Check>,
    pub check_again: bool,
    /// The running check's task: aborted when the pane goes.
    pub check_task: Option<tokio::task::AbortHandle>,
    /// It worked (a turn, or took a task) since it was last idle: its check is due.
    pub worked: bool,
    /// teamster holds each of its tool calls (its equivalent of a mode of the agent's own).
    pub holds_calls: bool,
    /// Codex's `/permissions` choices on screen already seen, and where teamster is in
    /// taking it back to full access.
    pub codex_choices: (usize, Option<crate::agents::codex::Switch>),
    /// Writes and connections its sandbox refused, and those of the last minute.
    pub refused: u32,
    pub recent_refusals: Vec<(String, u64)>,
    /// Refusals it meets at every start, not counted, and when each was last logged.
    pub expected_refusals: Vec<(String, u64)>,
    /// Its sandbox's proxy listener, stopped when the pane goes.
    pub proxy_task: Option<tokio::task::AbortHandle>,
    /// Serves the pane's own hook socket.
    pub hook_task: Option<super::hooks::Listening>,
    /// teamster's answer to the agent's own dialog, typed as keys (for agents whose hooks
    /// cannot answer it), a step at a time as its screen allows.
    pub dialog_answer: Option<DialogAnswer>,
}

/// Where typing an answer into an agent's own dialog is.
#[derive(Clone, Debug, PartialEq)]
pub enum DialogAnswer {
    /// The decision, to type once the dialog is on screen; what the call was, and what of
    /// it a dialog about it shows (`ToolCall::shown_as`).
    Decide { decision: crate::approval::Decision, what: String, shown: String },
    /// A deny's message, to type as the next prompt once the agent takes one (its dialog
    /// cannot carry one).
    Tell(String),
    /// The message is typed: Enter, once it shows.
    Send(String),
}

impl DialogAnswer {
    /// What follows typing `decision` into the dialog for `what`: for a deny that came
    /// with a message the person wrote, that message as the agent's next prompt; else
    /// nothing (a plain no, or teamster's own words, leave the agent's prompt alone).
    pub fn after(decision: &crate::approval::Decision, what: &str) -> Option<DialogAnswer> {
        decision.message().map(|m| DialogAnswer::Tell(format!("(teamster) I denied `{what}`: {m}")))
    }
}

/// Everything needed to start a pane, or start it again after the runner restarts.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PaneSpec {
    /// Stable across restarts: names the pane's private directory.
    pub key: String,
    pub spawn: Spawn,
    pub name: Option<String>,
    pub cwd: PathBuf,
    pub worktree: Option<super::worktree::Worktree>,
    /// The agent's own id for its conversation, to resume it.
    pub conversation: Option<String>,
    /// Environment the pane was started with (the client's), so a restart keeps PATH.
    pub env: Vec<(String, String)>,
    /// Brought back after a restart: a command asks before it runs again (a loop started
    /// over, a deploy run twice, would surprise). Not kept: only the restore sets it.
    #[serde(skip)]
    pub ask_first: bool,
    /// Brought back after a restart: what its screen showed (`screens`), drawn before its
    /// program's output. Not kept in the state file (it has a file of its own).
    #[serde(skip)]
    pub restored_screen: Option<Vec<u8>>,
    /// A worktree just made: `[worktree] setup` commands run in the pane before its
    /// program. Not kept: a pane that comes back finds its worktree set up.
    #[serde(skip)]
    pub setup: Vec<String>,
    /// Made just now, with a new key: the state database holds nothing of it yet.
    #[serde(skip)]
    pub fresh: bool,
}

/// `argv` after `setup`, in one shell in the pane: each command is shown, then run in a
/// subshell of its own in the worktree; the first that fails stops the rest and the
/// program, saying so; their output stays on the pane's screen above the program's.
pub fn after_setup(setup: &[String], argv: Vec<String>) -> Vec<String> {
    let quote = |s: &str| format!("'{}'", s.replace('\'', "'\\''"));
    let mut script = String::new();
    for command in setup {
        let shown = quote(command);
        script.push_str(&format!(
            "printf 'teamster: setting up the worktree: %s\\r\\n' {shown}\n(\n{command}\n)\n\
             s=$?; if [ $s -ne 0 ]; then printf 'teamster: setup failed (exit %s): %s\\r\\n' $s {shown}; exit $s; fi\n"
        ));
    }
    script.push_str("exec \"$@\"\n");
    ["/bin/sh".to_string(), "-c".into(), script, "teamster-setup".into()].into_iter().chain(argv).collect()
}

/// How a line given to `Pane::submit` fared.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Submitted {
    Taken,
    /// Not taken within the time allowed; the agent's state then.
    NotTaken(crate::agents::AgentState),
    SessionEnded,
}

pub struct Pane {
    pub id: PaneId,
    pub session: u32,
    pub pid: u32,
    pub screen: Mutex<Screen>,
    pub meta: Mutex<PaneMeta>,
    /// When the program began its current synchronized update (mode 2026), if it is in one.
    pub sync_since: Mutex<Option<Instant>>,
    /// Tells the activity monitor (agents without hooks) that the program printed.
    pub output: Notify,
    /// Held while a teammate's line is submitted (`type_sent`): what they send after it
    /// waits.
    pub typing: tokio::sync::Mutex<()>,
    master: Arc<AsyncFd<OwnedFd>>,
    /// Bytes for the program that its terminal could not take yet, in order.
    unwritten: Mutex<Vec<u8>>,
    /// Tells the pane's task that `unwritten` waits for the terminal to drain.
    blocked: Notify,
}

impl Pane {
    /// Keys, pastes and mouse events, encoded for the modes the program set, for a
    /// running program.
    pub fn type_events(&self, events: &[crate::input::InputEvent]) {
        let modes = self.screen.lock().modes();
        let bytes: Vec<u8> = events.iter().flat_map(|e| crate::input::encode(e, &modes)).collect();
        if self.is_running() {
            self.write(&bytes);
        }
    }

    /// Types a line (`events`, then Enter) and waits until the pane takes it: an agent's
    /// turn begins (its hooks say so, or it asks for approval), or, without an agent, the
    /// screen changes. The Enter goes apart from the text, once the screen shows it (an
    /// agent that takes fast input for a paste makes a newline of an Enter that comes with
    /// its text); an agent busy drawing may drop that Enter (Gemini CLI does), so while the
    /// line waits unsent it is pressed again, as a person would, twice at most. `changed`
    /// (the session's) wakes the wait.
    pub async fn submit(&self, events: &[crate::input::InputEvent], mut changed: watch::Receiver<u64>) -> Submitted {
        use crate::input::{InputEvent, Key, KeyCode};
        let enter = [InputEvent::Key(Key::new(KeyCode::Enter, 0))];
        let (agent, turns) = {
            let m = self.meta.lock();
            (m.agent, m.turns)
        };
        // What of a one-line text the screen must show before Enter: an agent still
        // starting (its input box not up yet) drops what is typed, and a person would type
        // it again. Longer text may show folded (`[Pasted text]`): its screen changing is
        // all there is to wait for.
        let probe: Option<String> = match events {
            [InputEvent::Raw(bytes)] if !bytes.contains(&b'\n') => {
                let text = String::from_utf8_lossy(bytes);
                let words: String = text.trim().chars().take(24).collect();
                (words.chars().count() >= 4).then_some(words)
            }
            _ => None,
        };
        // An agent with a UI of its own reads keys in raw mode once its input is up; until
        // then the terminal is still cooked (it echoes, and what is typed is lost when the
        // agent takes the terminal over), whatever its hooks have said.
        // An agent whose screen shows its input up is typed to once it shows.
        if let Some(kind) = agent.filter(|k| *k != AgentKind::Command) {
            let adapter = crate::agents::adapter::adapter(kind);
            let up = Instant::now() + Duration::from_secs(30);
            let ready = || self.reads_keys() && adapter.input_up(&self.screen.lock().visible_text()) != Some(false);
            while !ready() && Instant::now() < up {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
        let mut typings = 0;
        while !events.is_empty() && typings < 3 {
            typings += 1;
            let before = self.screen.lock().generation();
            self.type_events(events);
            let Some(probe) = &probe else {
                let shown = Instant::now() + Duration::from_secs(1);
                while self.screen.lock().generation() == before && Instant::now() < shown {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
                break;
            };
            let shown = Instant::now() + Duration::from_secs(3);
            // As the screen shows it, wrapped and indented as the agent draws its input:
            // compared without white space.
            let bare = |s: &str| s.chars().filter(|c| !c.is_whitespace()).collect::<String>();
            let probe = bare(probe);
            let on_screen = || bare(&self.screen.lock().visible_text().concat()).contains(probe.as_str());
            while !on_screen() && Instant::now() < shown {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            // Drawn but not found (shown another way, or slowly): never typed twice.
            if on_screen() || self.screen.lock().generation() != before {
                break;
            }
        }
        self.type_events(&enter);
        let after_enter = self.screen.lock().generation();
        let deadline = Instant::now() + Duration::from_secs(15);
        let hooks = agent.is_some_and(|k| k != AgentKind::Command);
        let mut enters = 1;
        let mut again = Instant::now() + Duration::from_secs(2);
        loop {
            let (now, turned) = {
                let m = self.meta.lock();
                (m.agent_state, m.turns > turns)
            };
            // An agent with hooks says when its turn begins; a command agent and a plain
            // program have only their screen to show it.
            let taken = match hooks {
                true => turned || now == AgentState::NeedsApproval,
                false => turned || self.screen.lock().generation() != after_enter,
            };
            if taken {
                return Submitted::Taken;
            }
            let at = Instant::now();
            if at >= deadline {
                return Submitted::NotTaken(now);
            }
            if hooks && enters < 3 && at >= again && matches!(now, AgentState::WaitingForInput | AgentState::Idle) {
                self.type_events(&enter);
                enters += 1;
                again = at + Duration::from_secs(2);
            }
            // A state change wakes this; a screen (no agent) is looked at again shortly.
            let next_enter = if hooks && enters < 3 { again } else { deadline };
            let wake = if agent.is_some() { next_enter.min(deadline) } else { at + Duration::from_millis(20) };
            if let Ok(Err(_)) = tokio::time::timeout_at(wake.into(), changed.changed()).await {
                return Submitted::SessionEnded;
            }
        }
    }

    /// Whether its program is ready for what is typed: it reads keys (raw mode), or it
    /// reads lines and waits at a prompt it printed (the cursor after it on its line, the
    /// screen still a moment). A program still loading has neither.
    fn reads_keys(&self) -> bool {
        if !self.cooked() {
            return true;
        }
        let at_prompt = self.screen.lock().cursor_position().0 > 0;
        at_prompt && self.meta.lock().last_output.elapsed() >= Duration::from_millis(300)
    }

    /// Whether the terminal is in canonical (cooked) mode: its program reads lines, not keys.
    fn cooked(&self) -> bool {
        nix::sys::termios::tcgetattr(self.master.get_ref())
            .map(|t| t.local_flags.contains(nix::sys::termios::LocalFlags::ICANON))
            .unwrap_or(false)
    }

    /// Types what a teammate sent, in order with what they sent before. A line (text, then
    /// Enter, as the page's line box sends it) is submitted (`submit`), which takes a while;
    /// what comes meanwhile waits its turn behind it (`typing` hands out turns first come,
    /// first served). Anything else, while no line is on its way, is typed at once.
    pub fn type_sent(self: &Arc<Self>, events: Vec<crate::input::InputEvent>, changed: watch::Receiver<u64>) {
        use crate::input::{InputEvent, KeyCode, Mods};
        let line = events.len() > 1
            && matches!(events.last(), Some(InputEvent::Key(k)) if k.code == KeyCode::Enter && k.mods == Mods::NONE)
            && events[..events.len() - 1].iter().all(|e| matches!(e, InputEvent::Paste(_) | InputEvent::Raw(_)));
        if !line && let Ok(_turn) = self.typing.try_lock() {
            self.type_events(&events);
            return;
        }
        let pane = self.clone();
        // Tasks start in the order they are spawned on the runner's one thread, so turns
        // are asked for in arrival order.
        tokio::spawn(async move {
            let _turn = pane.typing.lock().await;
            match events.split_last() {
                Some((_, text)) if line => drop(pane.submit(text, changed).await),
                _ => pane.type_events(&events),
            }
        });
    }

    /// Where the program in the foreground of its terminal is now (a shell's `cd`).
    pub fn working_dir(&self) -> Option<std::path::PathBuf> {
        let group = nix::unistd::tcgetpgrp(self.master.get_ref()).ok()?;
        std::fs::read_link(format!("/proc/{group}/cwd")).ok().filter(|d| d.is_dir())
    }

    /// Writes bytes for the program now, from whichever task has them (a keystroke does
    /// not wait for the pane's task to be scheduled). What the terminal cannot take yet
    /// waits, in order, for the pane's task to finish writing. Dropped once the program
    /// has gone.
    pub fn write(&self, mut bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        let mut unwritten = self.unwritten.lock();
        if unwritten.is_empty() {
            match crate::fdio::write_now(self.master.get_ref(), bytes).ok() {
                Some(n) => bytes = &bytes[n..],
                None => return,
            }
        }
        if !bytes.is_empty() {
            unwritten.extend_from_slice(bytes);
            self.blocked.notify_one();
        }
    }

    /// Writes what waits; true when nothing is left.
    fn flush(&self) -> bool {
        let mut unwritten = self.unwritten.lock();
        match crate::fdio::write_now(self.master.get_ref(), &unwritten).ok() {
            Some(n) => {
                unwritten.drain(..n);
            }
            None => unwritten.clear(),
        }
        unwritten.is_empty()
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

/// What a pane's program did besides drawing (a title, a bell, a question on its screen,
/// its exit), as its I/O task tells the runner: sent, in order, to the runner's one reader
/// of them (`Runner::serve_pane_events`), never by calling up into the runner.
#[derive(Debug)]
pub enum PaneEvent {
    Screen(PaneId, Vec<ScreenEvent>),
    Exited(PaneId, Option<std::process::ExitStatus>),
    /// Its agent finished a turn (it went idle after working): its check is due.
    Settled(PaneId),
}

/// Where pane tasks send their `PaneEvent`s.
pub type PaneEvents = tokio::sync::mpsc::UnboundedSender<PaneEvent>;

/// Starts the task that serves a freshly spawned program; returns its pane.
#[allow(clippy::too_many_arguments)]
pub fn start(
    events: PaneEvents,
    id: PaneId,
    session: u32,
    spawned: pty::Spawned,
    meta: PaneMeta,
    scrollback: usize,
    colors: ReportedColors,
    changed: watch::Sender<u64>,
) -> std::io::Result<Arc<Pane>> {
    let size = meta.size;
    // Watched for reading alone: the program reading its input wakes nobody; a write that
    // finds the terminal full waits on `fdio::writable`.
    let master = Arc::new(crate::fdio::readable(spawned.master)?);
    let mut screen = Screen::new(size.cols, size.rows, scrollback);
    screen.set_reported_colors(colors);
    let mut meta = meta;
    if let Some(text) = meta.spec.restored_screen.take() {
        screen.feed(&super::screens::restored_preface(&text));
        // What the old lines asked of a terminal is not the new program's to hear.
        screen.take_responses();
        screen.take_events();
    }
    let pane = Arc::new(Pane {
        id,
        session,
        pid: spawned.pid,
        screen: Mutex::new(screen),
        meta: Mutex::new(meta),
        sync_since: Mutex::new(None),
        master: master.clone(),
        unwritten: Mutex::new(Vec::new()),
        blocked: Notify::new(),
        output: Notify::new(),
        typing: tokio::sync::Mutex::new(()),
    });
    tokio::spawn(io_task(events, pane.clone(), master, spawned.child, changed));
    Ok(pane)
}

/// How much output one turn reads before letting other tasks run: one PTY read's worth
/// (the kernel hands over at most 4 KiB at a time), a few tens of microseconds of parsing.
/// The runner is one thread (no cross-thread wake-ups on the keystroke path, and the best
/// throughput), so this bounds how long a flooding pane can hold up a keystroke; measured,
/// it costs no throughput against 16 KiB turns (docs/bench.md).
const READ_BATCH: usize = 4 << 10;

async fn io_task(
    events: PaneEvents,
    pane: Arc<Pane>,
    fd: Arc<AsyncFd<OwnedFd>>,
    mut child: tokio::process::Child,
    changed: watch::Sender<u64>,
) {
    // Answers to the program's queries, gathered while reading.
    let mut out: Vec<u8> = Vec::new();
    let mut open = true;
    let mut status: Option<std::process::ExitStatus> = None;
    // Watched for writing while input waits for the terminal to take it; dropped after.
    let mut room = None;
    while open {
        if room.is_some() && pane.unwritten.lock().is_empty() {
            room = None;
        }
        tokio::select! {
            guard = fd.readable() => {
                let Ok(mut guard) = guard else { break };
                let (total, state) = read_batch(&pane, &fd, &mut out, &events);
                match state {
                    Drained::WouldBlock => guard.clear_ready(),
                    Drained::Closed => open = false,
                    Drained::More | Drained::Short => {}
                }
                if total > 0 {
                    changed.send_modify(|v| *v = v.wrapping_add(1));
                    pane.meta.lock().last_output = Instant::now();
                    pane.output.notify_one();
                }
                // More is waiting; or a short read took all there was, and the read that
                // finds nothing more waits until the clients have drawn this (a key's
                // echo, above all). Either way the others have a turn first.
                if total >= READ_BATCH || matches!(state, Drained::Short) {
                    tokio::task::yield_now().await;
                }
                if !out.is_empty() {
                    pane.write(&out);
                    out.clear();
                }
            }
            // Something waits to be written: wake to wait for the terminal to drain.
            _ = pane.blocked.notified() => {}
            ready = crate::fdio::writable(&mut room, fd.get_ref()), if !pane.unwritten.lock().is_empty() => {
                match ready {
                    Ok(()) if pane.flush() => room = None,
                    Ok(()) => {}
                    // No descriptor to watch with (out of them): try again shortly, and
                    // keep reading the program's output meanwhile.
                    Err(_) => {
                        room = None;
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                }
            }
            st = child.wait(), if status.is_none() => {
                status = st.ok();
                // The program is gone; what it printed last may still be in the terminal.
                let _ = events.send(PaneEvent::Exited(pane.id, status));
                pane.output.notify_one();
            }
        }
    }
    if status.is_none() {
        status = child.wait().await.ok();
        let _ = events.send(PaneEvent::Exited(pane.id, status));
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
    /// A read took less than it could: likely all there was, not yet known.
    Short,
    /// Every process closed the terminal (EIO).
    Closed,
    /// The batch is full; more may be waiting.
    More,
}

/// Reads what the terminal has, up to `READ_BATCH`, into the screen.
fn read_batch(pane: &Pane, fd: &AsyncFd<OwnedFd>, out: &mut Vec<u8>, events: &PaneEvents) -> (usize, Drained) {
    READ_BUF.with_borrow_mut(|buf| {
        let mut total = 0;
        while total < READ_BATCH {
            match read_fd(fd, buf) {
                Ok(0) => return (total, Drained::Closed),
                Ok(n) => {
                    total += n;
                    let happened = feed(pane, &buf[..n], out);
                    if !happened.is_empty() {
                        let _ = events.send(PaneEvent::Screen(pane.id, happened));
                    }
                    if n < buf.len() {
                        return (total, Drained::Short);
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

/// Reads an agent's state off its screen, for what hooks do not say: whether a program
/// without hooks is busy or quiet, and an agent CLI's own permission dialog. It looks only
/// once output settles, so a state drawn in passing does not flicker through the title;
/// with no output it does nothing at all.
pub async fn watch_screen(runner: Weak<Runner>, pane: Weak<Pane>, kind: AgentKind) {
    use std::time::Duration;
    // Quiet this long, the screen has settled; busy at most this long, look anyway.
    const SETTLE: Duration = Duration::from_millis(250);
    // How long a dialog must stay off the screen to count as answered in the pane.
    const DIALOG_GONE: Duration = Duration::from_millis(400);
    const LOOK_AT_LEAST_EVERY: Duration = Duration::from_secs(1);
    // A program without hooks is working once output lasts this long, idle once quiet this long.
    const BUSY: Duration = Duration::from_millis(300);
    const QUIET: Duration = Duration::from_millis(1500);
    let mut shown: Option<AgentState> = None;
    // The last question id there was when an open dialog was last seen: one answered in
    // the pane answers those, never one asked after (whose dialog was not seen yet).
    let mut open_up_to = 0;
    // A plain program's yes/no question on screen, already in teamster's queue.
    let mut asked: Option<String> = None;
    loop {
        let Some(p) = pane.upgrade() else { return };
        // An agent starting is looked at again now and then even without output: it is up
        // once it reads keys, which it may start doing after its last drawing.
        let starting = kind != AgentKind::Command && p.meta.lock().agent_state == AgentState::Starting;
        match starting {
            true => {
                let _ = tokio::time::timeout(Duration::from_millis(250), p.output.notified()).await;
            }
            false => p.output.notified().await,
        }
        if !p.is_running() {
            return;
        }
        let woke = Instant::now();
        let settle = if kind == AgentKind::Command { BUSY } else { SETTLE };
        loop {
            let settled_at = (p.meta.lock().last_output + settle).min(woke + LOOK_AT_LEAST_EVERY);
            if Instant::now() >= settled_at {
                break;
            }
            tokio::time::sleep_until(tokio::time::Instant::from_std(settled_at)).await;
        }
        let Some(r) = runner.upgrade() else { return };
        if kind == AgentKind::Command {
            // A lone line is not work: working only if output went on past the first look.
            if p.meta.lock().last_output.elapsed() < BUSY {
                r.set_agent_state(p.id, AgentState::Working);
            }
            loop {
                let quiet_at = p.meta.lock().last_output + QUIET;
                if Instant::now() >= quiet_at {
                    break;
                }
                tokio::time::sleep_until(tokio::time::Instant::from_std(quiet_at)).await;
            }
            if p.is_running() {
                r.set_agent_state(p.id, AgentState::Idle);
                // Quiet, it may be asking something: an item in the queue, answered by
                // keys; gone from its screen, it was answered in the pane.
                let lines = p.screen.lock().visible_text();
                r.type_dialog_answer(&p, &lines);
                let now = crate::agents::command::question(&lines);
                if now != asked {
                    match &now {
                        Some(q) => r.ask_by_keys(p.id, kind, crate::agents::ToolCall::named(q)),
                        // Its items are asked by this loop, after it saw the question.
                        None => r.dialog_closed(p.id, kind, &lines, u64::MAX),
                    }
                    asked = now;
                }
            }
            continue;
        }
        let asked_before = r.state.lock().queue.last_id();
        let mut lines = p.screen.lock().visible_text();
        r.type_dialog_answer(&p, &lines);
        if kind == AgentKind::Codex {
            r.keep_codex_in_full_access(&p, &lines);
        }
        let mut now = crate::agents::screen_state(kind, &lines);
        if now == Some(AgentState::NeedsApproval) {
            open_up_to = asked_before;
        }
        // A dialog is gone only if it stays gone: an agent that redraws a large screen
        // while the machine is busy can pause mid-frame long enough to look settled, and
        // a frame half drawn must not answer its question.
        if now.is_none() && shown == Some(AgentState::NeedsApproval) {
            tokio::time::sleep(DIALOG_GONE).await;
            lines = p.screen.lock().visible_text();
            now = crate::agents::screen_state(kind, &lines);
        }
        // Not every agent says when it is up (Codex's first hook comes with the first
        // prompt): its screen settling says so, once it reads keys (raw mode); a screen
        // that settled while the terminal is still cooked is the agent loading.
        if now.is_none() && p.meta.lock().agent_state == AgentState::Starting && !p.cooked() {
            r.set_agent_state(p.id, AgentState::Idle);
        }
        if now != shown {
            match now {
                Some(state) => r.set_agent_state(p.id, state),
                // Its dialog was answered: it works on until a hook says otherwise. One
                // answered in the pane leaves teamster's queue.
                None if shown == Some(AgentState::NeedsApproval) => {
                    r.dialog_closed(p.id, kind, &lines, open_up_to);
                    if p.meta.lock().agent_state == AgentState::NeedsApproval {
                        r.set_agent_state(p.id, AgentState::Working);
                    }
                }
                None => {}
            }
            shown = now;
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn only_a_message_the_person_wrote_is_typed_after_a_deny() {
        use super::DialogAnswer;
        use crate::approval::Decision;
        assert_eq!(DialogAnswer::after(&Decision::ApproveOnce, "rm x"), None);
        assert_eq!(DialogAnswer::after(&Decision::deny_by_person(None), "rm x"), None, "sidebar n, a bare deny");
        assert_eq!(DialogAnswer::after(&Decision::deny("nobody answered within 600 s"), "rm x"), None);
        assert_eq!(
            DialogAnswer::after(&Decision::deny_by_person(Some("use trash".into())), "rm x"),
            Some(DialogAnswer::Tell("(teamster) I denied `rm x`: use trash".into()))
        );
    }

    /// Setup commands run one after another in one shell, each shown; the first to fail
    /// stops the rest and the program, and says so; else the program takes the shell's
    /// place with its own arguments.
    #[test]
    fn setup_runs_before_the_program_and_a_failure_stops_it() {
        let dir = std::env::temp_dir().join(format!("teamster-setup-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let run = |setup: &[&str], argv: &[&str]| {
            let setup: Vec<String> = setup.iter().map(|s| s.to_string()).collect();
            let argv = super::after_setup(&setup, argv.iter().map(|s| s.to_string()).collect());
            std::process::Command::new(&argv[0]).args(&argv[1..]).current_dir(&dir).output().unwrap()
        };
        let ok = run(&["echo made > made.txt", "printf 'it''s here\\n'"], &["cat", "made.txt"]);
        let out = String::from_utf8_lossy(&ok.stdout);
        assert!(ok.status.success(), "{out}");
        assert!(out.contains("teamster: setting up the worktree: echo made > made.txt"), "{out}");
        assert!(out.ends_with("made\n"), "the program ran after the setup, with its arguments: {out}");
        let failed = run(&["exit 3", "touch never"], &["touch", "program-ran"]);
        let out = String::from_utf8_lossy(&failed.stdout);
        assert_eq!(failed.status.code(), Some(3));
        assert!(out.contains("teamster: setup failed (exit 3): exit 3"), "{out}");
        assert!(!dir.join("never").exists() && !dir.join("program-ran").exists());
        std::fs::remove_dir_all(&dir).ok();
    }
}
