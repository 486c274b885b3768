//! The terminal UI: a view of a runner's session in the user's terminal.
//!
//! `run` owns the terminal: raw mode, the alternate screen, mouse and paste reporting,
//! restored on every way out. It turns stdin bytes into input events, runner messages into
//! app updates, and draws after each batch. State and its changes live in `app`, drawing
//! in `view`.

pub mod app;
pub mod backend;
pub mod copy;
pub mod display;
pub mod features;
pub mod handover;
pub mod link;
pub mod panes;
pub mod remote;
pub mod sidebar;
pub mod view;
pub mod views;

use crate::config::Config;
use crate::input::InputParser;
use crate::protocol::{AttachTarget, ClientMsg, Context, Size, TermColors};
use app::{App, Effect, Event};
use std::io::Write;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::PathBuf;
use std::time::Duration;
use tokio::io::unix::AsyncFd;

pub struct Options {
    pub config: Config,
    pub config_path: PathBuf,
    pub target: AttachTarget,
    pub context: Context,
}

const ENTER: &str = "\x1b[?1049h\x1b[?2004h\x1b[?1004h";
const MOUSE_ON: &str = "\x1b[?1000h\x1b[?1002h\x1b[?1006h";
const LEAVE: &str = "\x1b[?1006l\x1b[?1002l\x1b[?1000l\x1b[?1004l\x1b[?2004l\x1b[0 q\x1b]112\x1b\\\x1b[?25h\x1b[?1049l";

/// Puts the terminal back as it was, however the TUI ends.
struct TerminalGuard;

impl TerminalGuard {
    fn enter(mouse: bool) -> std::io::Result<TerminalGuard> {
        crossterm::terminal::enable_raw_mode()?;
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            restore();
            previous(info);
        }));
        let mut out = std::io::stdout();
        out.write_all(ENTER.as_bytes())?;
        if mouse {
            out.write_all(MOUSE_ON.as_bytes())?;
        }
        out.flush()?;
        Ok(TerminalGuard)
    }
}

/// The modified-key reporting teamster asked the terminal for (`KEYS_*`), to undo it.
static KEYS_ASKED: std::sync::atomic::AtomicU8 = std::sync::atomic::AtomicU8::new(KEYS_LEGACY);
const KEYS_LEGACY: u8 = 0;
const KEYS_KITTY: u8 = 1;
const KEYS_MODIFY_OTHER: u8 = 2;

/// Asks the terminal to report keys with their modifiers (Shift+Enter, ctrl-shift, Esc
/// apart from alt chords): the kitty keyboard protocol's disambiguation where it answered
/// the query, else xterm's modifyOtherKeys (ignored by terminals without it). teamster
/// reads both, and passes each key on as its program asked.
fn ask_for_modified_keys(kitty: bool) {
    let (seq, asked) = if kitty { ("\x1b[>1u", KEYS_KITTY) } else { ("\x1b[>4;1m", KEYS_MODIFY_OTHER) };
    let mut out = std::io::stdout();
    if out.write_all(seq.as_bytes()).and_then(|_| out.flush()).is_ok() {
        KEYS_ASKED.store(asked, std::sync::atomic::Ordering::SeqCst);
    }
}

fn restore() {
    let mut out = std::io::stdout();
    match KEYS_ASKED.swap(KEYS_LEGACY, std::sync::atomic::Ordering::SeqCst) {
        KEYS_KITTY => {
            let _ = out.write_all(b"\x1b[<u");
        }
        KEYS_MODIFY_OTHER => {
            let _ = out.write_all(b"\x1b[>4m");
        }
        _ => {}
    }
    let _ = out.write_all(LEAVE.as_bytes());
    let _ = out.flush();
    let _ = crossterm::terminal::disable_raw_mode();
}

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        restore();
    }
}

/// Stdin, read when epoll says it is ready. The descriptor is not made non-blocking:
/// that flag would be shared with the shell that started us. A zero-timeout poll before
/// each read makes sure the read cannot block.
struct Stdin {
    fd: AsyncFd<OwnedFd>,
}

impl Stdin {
    fn new() -> std::io::Result<Stdin> {
        let fd = std::io::stdin().as_fd().try_clone_to_owned()?;
        // Watched for reading alone: the terminal draining what we drew wakes nobody.
        Ok(Stdin { fd: crate::fdio::readable(fd)? })
    }

    async fn read(&self, buf: &mut [u8]) -> std::io::Result<usize> {
        loop {
            let mut guard = self.fd.readable().await?;
            if !poll_readable(self.fd.get_ref(), 0) {
                guard.clear_ready();
                continue;
            }
            // SAFETY: reading into our buffer, of its length.
            let n = unsafe { libc::read(self.fd.get_ref().as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
            if n < 0 {
                let e = std::io::Error::last_os_error();
                if e.kind() == std::io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(e);
            }
            return Ok(n as usize);
        }
    }
}

fn poll_readable(fd: &OwnedFd, timeout_ms: i32) -> bool {
    let mut p = libc::pollfd { fd: fd.as_raw_fd(), events: libc::POLLIN, revents: 0 };
    // SAFETY: one pollfd, ours.
    let r = unsafe { libc::poll(&mut p, 1, timeout_ms) };
    r > 0 && p.revents & (libc::POLLIN | libc::POLLHUP | libc::POLLERR) != 0
}

/// What the terminal said about itself.
pub(crate) struct Answers {
    pub colors: Option<TermColors>,
    /// It speaks the kitty keyboard protocol.
    pub kitty_keys: bool,
    /// Whatever was typed meanwhile.
    pub typed: Vec<u8>,
}

/// Asks the terminal for its colours (OSC 10/11), so programs that ask us get the real
/// answer and pick a matching theme, and whether it speaks the kitty keyboard protocol.
/// Device attributes (which every terminal answers) mark the end of the replies.
pub(crate) fn query_terminal() -> Answers {
    let none = || Answers { colors: None, kitty_keys: false, typed: Vec::new() };
    let mut out = std::io::stdout();
    if out.write_all(b"\x1b]10;?\x1b\\\x1b]11;?\x1b\\\x1b[?u\x1b[c").and_then(|_| out.flush()).is_err() {
        return none();
    }
    let Ok(stdin) = std::io::stdin().as_fd().try_clone_to_owned() else { return none() };
    let deadline = std::time::Instant::now() + Duration::from_millis(300);
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    while let Some(left) = deadline.checked_duration_since(std::time::Instant::now()) {
        if !poll_readable(&stdin, left.as_millis() as i32) {
            break;
        }
        // SAFETY: reading into our buffer, of its length.
        let n = unsafe { libc::read(stdin.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
        if n <= 0 {
            break;
        }
        got.extend_from_slice(&buf[..n as usize]);
        if find_da1(&got).is_some() {
            break;
        }
    }
    let kitty_keys = take_kitty_answer(&mut got);
    let (colors, typed) = parse_color_replies(&got);
    Answers { colors, kitty_keys, typed }
}

/// Takes the answer to the kitty keyboard query (`CSI ? flags u`) out of `b`, if it is
/// there.
fn take_kitty_answer(b: &mut Vec<u8>) -> bool {
    let mut start = 0;
    while let Some(at) = b[start..].windows(3).position(|w| w == b"\x1b[?").map(|i| start + i) {
        let digits = b[at + 3..].iter().take_while(|c| c.is_ascii_digit()).count();
        if b.get(at + 3 + digits) == Some(&b'u') {
            b.drain(at..at + 4 + digits);
            return true;
        }
        start = at + 1;
    }
    false
}

fn find_da1(b: &[u8]) -> Option<(usize, usize)> {
    let start = b.windows(3).position(|w| w == b"\x1b[?")?;
    let end = b[start..].iter().position(|&c| c == b'c')?;
    Some((start, start + end + 1))
}

/// Splits the terminal's answers from anything typed around them.
fn parse_color_replies(b: &[u8]) -> (Option<TermColors>, Vec<u8>) {
    let mut rest = b.to_vec();
    if let Some((s, e)) = find_da1(&rest) {
        rest.drain(s..e);
    }
    let mut colors: [Option<(u8, u8, u8)>; 2] = [None, None];
    for (i, code) in [b"\x1b]10;rgb:", b"\x1b]11;rgb:"].iter().enumerate() {
        let Some(s) = rest.windows(code.len()).position(|w| w == *code) else { continue };
        let body_start = s + code.len();
        let Some(len) = rest[body_start..].iter().position(|&c| c == 0x07 || c == 0x1b) else { continue };
        let body = String::from_utf8_lossy(&rest[body_start..body_start + len]).into_owned();
        colors[i] = crate::screen::parse_color_spec(&format!("rgb:{body}"));
        let mut end = body_start + len + 1;
        if rest.get(body_start + len) == Some(&0x1b) {
            end += 1;
        }
        rest.drain(s..end.min(rest.len()));
    }
    let colors = match colors {
        [Some(fg), Some(bg)] => Some(TermColors { fg, bg }),
        _ => None,
    };
    (colors, rest)
}

fn terminal_size() -> Size {
    let (cols, rows) = crossterm::terminal::size().unwrap_or((80, 24));
    Size { cols, rows }
}

/// Where the TUI reads what is typed.
pub trait Keys {
    /// The next bytes typed; cancel-safe. 0 when the terminal has closed.
    fn read(&mut self, buf: &mut [u8]) -> impl Future<Output = std::io::Result<usize>>;
}

/// What else the terminal says: a new size, or that it has gone.
pub enum Change {
    Resized(Size),
    /// Gone, with what to tell the user (nothing for a hangup: nobody is there to read it).
    Gone(String),
}

pub trait Changes {
    /// The next change; cancel-safe.
    fn next(&mut self) -> impl Future<Output = Change>;
}

/// Where the TUI draws: a writer that may hold bytes back while the terminal is slow to
/// take them.
pub trait Drawn: Write {
    /// The terminal's descriptor while drawn bytes wait for it to take them, to wait on
    /// before drawing more.
    fn waiting(&self) -> Option<std::sync::Arc<AsyncFd<OwnedFd>>> {
        None
    }
}

impl<W: Write> Drawn for std::io::BufWriter<W> {}

/// Waits until the terminal has room for what waits to be written to it.
async fn room(fd: Option<&AsyncFd<OwnedFd>>) -> std::io::Result<()> {
    match fd {
        Some(fd) => {
            fd.writable().await?.clear_ready();
            Ok(())
        }
        None => std::future::pending().await,
    }
}

/// This process's own terminal: stdin, and the signals it gets.
struct OwnTerminal {
    winch: tokio::signal::unix::Signal,
    hup: tokio::signal::unix::Signal,
    term: tokio::signal::unix::Signal,
}

impl Keys for Stdin {
    async fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        Stdin::read(self, buf).await
    }
}

impl Changes for OwnTerminal {
    async fn next(&mut self) -> Change {
        tokio::select! {
            _ = self.winch.recv() => Change::Resized(terminal_size()),
            _ = self.hup.recv() => Change::Gone(String::new()),
            _ = self.term.recv() => Change::Gone("[terminated]".into()),
        }
    }
}

/// What the TUI starts from, wherever it runs.
pub struct Setup {
    pub config: Config,
    /// Its keys and theme, read already (`Config::load_ui`).
    pub ui: (crate::config::Keymap, crate::config::Theme),
    pub config_path: PathBuf,
    pub target: AttachTarget,
    pub context: Context,
    pub terminal: crate::protocol::TerminalFacts,
    /// Said on the status line at the start.
    pub say: Option<String>,
}

/// Runs the TUI in this process, on its terminal, over a connection to a runner (a
/// shared session's link: `teamster attach URL`), until detach or exit; returns what to
/// tell the user (e.g. "[detached (from session 0)]").
pub async fn run(link: impl link::Link, opts: Options) -> anyhow::Result<String> {
    // The config is read before the terminal changes, so its errors print plainly.
    let ui = opts.config.load_ui(&opts.config_path)?;
    let _guard = TerminalGuard::enter(opts.config.mouse)?;
    let terminal = prepare_terminal()?;
    let stdin = Stdin::new()?;
    let own = OwnTerminal {
        winch: tokio::signal::unix::signal(tokio::signal::unix::SignalKind::window_change())?,
        hup: tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())?,
        term: tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?,
    };
    let writer = std::io::BufWriter::with_capacity(1 << 16, std::io::stdout());
    let Options { config, config_path, target, context } = opts;
    let setup = Setup { config, ui, config_path, target, context, terminal, say: None };
    run_on(link, setup, stdin, own, writer).await
}

/// Asks this process's terminal what it is and switches on what teamster reads of it;
/// the facts for the TUI, wherever it runs. The terminal must be in raw mode.
pub fn prepare_terminal() -> std::io::Result<crate::protocol::TerminalFacts> {
    let Answers { colors, kitty_keys, typed } = query_terminal();
    ask_for_modified_keys(kitty_keys);
    let features = features::Features::found_here(kitty_keys);
    Ok(crate::protocol::TerminalFacts { size: terminal_size(), colors, kitty_keys, features, typed })
}

/// The TUI over `link`, reading `keys`, told of `changes`, drawing into `out`.
pub async fn run_on<L: link::Link, K: Keys, C: Changes, W: Drawn>(
    mut link: L,
    setup: Setup,
    mut keys: K,
    mut changes: C,
    out: W,
) -> anyhow::Result<String> {
    let Setup { config, ui: (keymap, theme), config_path, target, context, terminal, say } = setup;
    let colors = terminal.colors.or(Some(TermColors { fg: theme.terminal_fg, bg: theme.terminal_bg }));
    let start = terminal.size;
    let mut display = display::Display::new(out, ratatui::layout::Size { width: start.cols, height: start.rows })?;
    display.out.set_features(terminal.features.with_config(&config.terminal));
    let instead_of = theme.instead_of.clone();
    let mut app = App::new(keymap, theme, start, config.mouse);
    if let Some(why) = instead_of {
        app.error(why);
    }
    if let Some(words) = say {
        app.say(words);
    }
    app.notify = config.notify;
    app.clipboard = config.clipboard;
    link.send(ClientMsg::Attach { target, size: app.pane_area_size(), context: context.clone(), colors }).await?;

    let escape_time = Duration::from_millis(config.escape_time_ms);
    // Nothing more is read of it (a reload reads the file again): not kept for the
    // session's life, in the runner beside its own.
    drop(config);
    let mut parser = InputParser::new();
    let mut escape_deadline: Option<tokio::time::Instant> = None;
    for ev in parser.feed(&terminal.typed) {
        app.update(Event::Input(ev));
    }
    let mut buf = vec![0u8; 64 * 1024];
    let mut shape = None;
    let mut cursor_color = None;
    loop {
        for effect in std::mem::take(&mut app.effects) {
            match effect {
                Effect::Send(msg) => {
                    if link.send(msg).await.is_err() {
                        if let Err(reason) = reconnect(&mut link, &mut app, &mut display, &context, colors).await {
                            return Ok(reason);
                        }
                    }
                }
                Effect::SwitchSession(name) => {
                    let target = crate::protocol::AttachTarget::Named { name, create: false };
                    let attach =
                        ClientMsg::Attach { target, size: app.pane_area_size(), context: context.clone(), colors };
                    if link.send(attach).await.is_err() {
                        if let Err(reason) = reconnect(&mut link, &mut app, &mut display, &context, colors).await {
                            return Ok(reason);
                        }
                    }
                }
                Effect::Terminal(bytes) => {
                    let out = display.out.writer();
                    let _ = out.write_all(&bytes).and_then(|_| out.flush());
                }
                Effect::ReloadConfig => {
                    // Read off this task's thread: the runner's, when the TUI runs there.
                    let path = config_path.clone();
                    let loaded = tokio::task::spawn_blocking(move || {
                        Config::load(&path)
                            .and_then(|c| c.load_ui(&path).map(|ui| (ui, c.notify, c.clipboard, c.terminal)))
                    })
                    .await
                    .map_err(|e| format!("reading it failed: {e}"))
                    .and_then(|r| r.map_err(|e| e.to_string()));
                    match loaded {
                        Ok(((keymap, theme), notify, clipboard, terminal_config)) => {
                            app.keymap = keymap;
                            app.theme = theme;
                            app.notify = notify;
                            app.clipboard = clipboard;
                            display.out.set_features(terminal.features.with_config(&terminal_config));
                            app.damage = app::Damage::Full;
                            app.say("config reloaded: keys, theme, prices, policies, providers, agents");
                        }
                        Err(e) => app.error(format!("not reloaded, the last good config stays: {e}")),
                    }
                }
            }
        }
        if let Some(reason) = app.quit.take() {
            return Ok(reason);
        }
        // What was drawn before waits for the terminal to take it: the next drawing waits
        // too, and then draws everything that changed meanwhile.
        let waiting = display.out.inner().waiting();
        if waiting.is_none() {
            // The events' messages (keys, above all) left above, before this drawing.
            display.draw(&mut app)?;
            let cursor = app.focused().and_then(|p| app.panes.get(&p)).map(|c| c.cursor);
            let want = cursor.map(|c| c.shape);
            if want != shape {
                shape = want;
                let code = want.map_or(0, |s| s as u8);
                let out = display.out.writer();
                let _ = write!(out, "\x1b[{code} q").and_then(|_| out.flush());
            }
            // The focused program's cursor colour (OSC 12), or the terminal's own again.
            let colour = cursor.and_then(|c| c.color);
            if colour != cursor_color {
                cursor_color = colour;
                let out = display.out.writer();
                let _ = match colour {
                    Some((r, g, b)) => write!(out, "\x1b]12;#{r:02x}{g:02x}{b:02x}\x1b\\"),
                    None => write!(out, "\x1b]112\x1b\\"),
                }
                .and_then(|_| out.flush());
            }
        }
        let waiting = display.out.inner().waiting();
        let tick = app.next_tick().map(tokio::time::Instant::from_std);
        tokio::select! {
            n = keys.read(&mut buf) => {
                let n = match n {
                    Ok(0) | Err(_) => return Ok("[the terminal closed]".into()),
                    Ok(n) => n,
                };
                for ev in parser.feed(&buf[..n]) {
                    app.update(Event::Input(ev));
                }
                escape_deadline = parser.has_pending().then(|| tokio::time::Instant::now() + escape_time);
            }
            _ = async { tokio::time::sleep_until(escape_deadline.unwrap_or_else(tokio::time::Instant::now)).await }, if escape_deadline.is_some() => {
                escape_deadline = None;
                for ev in parser.flush() {
                    app.update(Event::Input(ev));
                }
            }
            msg = link.recv() => {
                match msg {
                    Ok(Some(msg)) => app.update(Event::Server(msg)),
                    _ => {
                        if let Err(reason) = reconnect(&mut link, &mut app, &mut display, &context, colors).await {
                            return Ok(reason);
                        }
                    }
                }
            }
            ready = room(waiting.as_deref()), if waiting.is_some() => {
                ready?;
                let _ = display.out.writer().flush();
            }
            change = changes.next() => match change {
                Change::Resized(size) => {
                    display.resize(ratatui::layout::Size { width: size.cols, height: size.rows })?;
                    app.update(Event::Resize(size));
                }
                Change::Gone(why) => return Ok(why),
            },
            _ = async { tokio::time::sleep_until(tick.unwrap_or_else(tokio::time::Instant::now)).await }, if tick.is_some() => {
                app.update(Event::Tick);
            }
        }
    }
}

/// After the runner went away (`teamster restart`, an upgrade, a crash): connects to the
/// runner that replaces it, starting one if need be, and attaches to the same session,
/// which it has brought back. Gives up, with what to tell the user, if the session is not
/// there or no runner answers within half a minute.
async fn reconnect<W: Write>(
    link: &mut impl link::Link,
    app: &mut App,
    display: &mut display::Display<W>,
    context: &crate::protocol::Context,
    colors: Option<TermColors>,
) -> Result<(), String> {
    const LOST: &str = "[lost the runner: it stopped or crashed; its log is in the state directory]";
    let Some(name) = app.session.as_ref().map(|s| s.name.clone()) else { return Err(LOST.into()) };
    app.say("the runner went away; reconnecting…");
    let _ = display.draw(app);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        match link.reconnect().await {
            Ok(()) => break,
            Err(_) if tokio::time::Instant::now() < deadline => {
                // Retrying a connection, not waiting on a condition: nothing to wake us sooner.
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(e) => return Err(format!("{LOST}\n[could not reach a new one: {e:#}]")),
        }
    }
    let target = crate::protocol::AttachTarget::Named { name, create: false };
    let attach = ClientMsg::Attach { target, size: app.pane_area_size(), context: context.clone(), colors };
    link.send(attach).await.map_err(|_| LOST.to_string())?;
    app.say("reconnected");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colour_replies_are_read_and_typed_keys_kept() {
        let reply = b"x\x1b]10;rgb:ffff/8080/0000\x1b\\\x1b]11;rgb:1c1c/1c1c/1c1c\x07\x1b[?62;22cy";
        let (colors, rest) = parse_color_replies(reply);
        assert_eq!(colors, Some(TermColors { fg: (0xff, 0x80, 0), bg: (0x1c, 0x1c, 0x1c) }));
        assert_eq!(rest, b"xy");
    }

    #[test]
    fn the_kitty_keyboard_answer_is_read_and_typed_keys_kept() {
        let mut got = b"x\x1b]11;rgb:1c1c/1c1c/1c1c\x07\x1b[?1u\x1b[?62;22cy".to_vec();
        assert!(take_kitty_answer(&mut got));
        assert_eq!(parse_color_replies(&got).1, b"xy");
        let mut got = b"\x1b[?62;22c".to_vec();
        assert!(!take_kitty_answer(&mut got));
        assert_eq!(got, b"\x1b[?62;22c");
    }

    #[test]
    fn a_terminal_that_does_not_answer_colours_gives_none() {
        let (colors, rest) = parse_color_replies(b"\x1b[?1;2c");
        assert_eq!((colors, rest), (None, Vec::new()));
    }
}
