//! Running the runner: the socket, the accept loop, signals, and starting it on demand.

use super::{Runner, log};
use crate::config::Config;
use crate::paths;
use std::os::fd::AsRawFd;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// Runs the runner in this process until its last session ends or it is told to stop.
pub fn run(config_path: PathBuf, socket_path: PathBuf) -> anyhow::Result<()> {
    let dir = socket_path.parent().map(Path::to_path_buf).unwrap_or_else(paths::runtime_dir);
    paths::ensure_private_dir(&dir)?;
    // One runner per socket: the lock is held for the runner's life.
    let lock_path = socket_path.with_extension("lock");
    let lock = std::fs::OpenOptions::new().create(true).truncate(false).write(true).open(&lock_path)?;
    // SAFETY: flock on a file we hold open.
    if unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
        // Two clients started a runner at once (both found none): the other one won.
        eprintln!("teamster: a runner is already running for {}", socket_path.display());
        std::process::exit(ALREADY_RUNNING);
    }
    let config = Config::load(&config_path).unwrap_or_else(|e| {
        log(&format!("{e}; starting with the default config"));
        Config::default()
    });
    // One thread: every hop on a keystroke's way stays on it, and measured, it beats two
    // threads on throughput with a flooding pane held to 16 KiB turns (docs/bench.md).
    // A flooding pane is always ready to run; tokio would look for other I/O (a keystroke)
    // only every 61 turns of it. Looking after every other turn keeps a keystroke waiting
    // at most about one 4 KiB read.
    let runtime = tokio::runtime::Builder::new_current_thread().event_interval(2).enable_all().build()?;
    let result = runtime.block_on(serve(config, config_path, socket_path.clone()));
    let _ = std::fs::remove_file(&socket_path);
    let _ = std::fs::remove_dir_all(socket_path.with_file_name("hooks"));
    drop(lock);
    // Pane tasks may still be draining; they hold nothing that outlives the process.
    runtime.shutdown_timeout(Duration::from_millis(100));
    result
}

async fn serve(config: Config, config_path: PathBuf, socket_path: PathBuf) -> anyhow::Result<()> {
    if socket_path.exists() {
        // A socket left by a runner that died; nothing answers on it (we hold the lock).
        std::fs::remove_file(&socket_path)?;
    }
    let listener = tokio::net::UnixListener::bind(&socket_path)?;
    std::fs::set_permissions(&socket_path, std::fs::Permissions::from_mode(0o600))?;
    log(&format!("runner {} listening on {}", std::process::id(), socket_path.display()));
    let runner = Runner::new(config, config_path, socket_path);
    runner.serve_pane_events();
    // Each agent pane gets a hook socket of its own there (which pane speaks is which
    // socket it spoke on); those of a runner that died are stale.
    let _ = std::fs::remove_dir_all(&runner.hooks_dir);
    crate::paths::ensure_private_dir(&runner.hooks_dir)?;
    // Before any agent starts: agents are pointed at it, and it is a sandbox's only way
    // out (with `meter = false`, unsandboxed agents are not pointed at it).
    match runner.start_proxy().await {
        Ok(port) => log(&format!("metering proxy on 127.0.0.1:{port}")),
        Err(e) => log(&format!(
            "no metering proxy ({e}): unsandboxed agents go to their providers unmetered, sandboxed ones do not start"
        )),
    }
    runner.restore();
    runner.resume_shares();
    super::config_watch::start(&runner);
    super::screens::start_saver(&runner);
    let mut shutdown = runner.shutdown.subscribe();
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    let mut int = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())?;
    let mut hup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())?;
    let mut connections = tokio::task::JoinSet::new();
    loop {
        tokio::select! {
            conn = listener.accept() => match conn {
                Ok((stream, _)) => { connections.spawn(super::client::serve(runner.clone(), stream)); }
                Err(e) => log(&format!("accept failed: {e}")),
            },
            _ = shutdown.changed() => {
                if *shutdown.borrow() { break }
            }
            _ = term.recv() => { stop(&runner, "SIGTERM").await; break }
            _ = int.recv() => { stop(&runner, "SIGINT").await; break }
            _ = hup.recv() => { stop(&runner, "SIGHUP").await; break }
        }
    }
    // No new client from here on: one that connected now would wait in the listener's
    // queue and be cut off when the runner exits; without the socket it learns at once
    // that no runner is running.
    drop(listener);
    let _ = std::fs::remove_file(&runner.socket_path);
    // Stopping for good (not restarting): each share ends, and its viewers are told.
    if !runner.restarting.load(std::sync::atomic::Ordering::SeqCst) {
        runner.end_shares().await;
    }
    runner.finish_ending().await;
    // Attached clients are being told why their session ended; let them hear it.
    let _ =
        tokio::time::timeout(Duration::from_secs(2), async { while connections.join_next().await.is_some() {} }).await;
    log("runner exiting");
    Ok(())
}

/// A signal (logout, shutdown) stops the runner but keeps its sessions: the next runner
/// brings them back. Only `teamster kill` ends sessions for good.
async fn stop(runner: &Arc<Runner>, why: &str) {
    log(&format!("{why}: stopping; sessions are kept for the next runner"));
    runner.restart().await;
}

/// Starts a runner in the background for `socket_path` and waits until it answers.
/// The runner's exit code when another runner holds the socket.
const ALREADY_RUNNING: i32 = 3;

/// Starts a process that outlives us: in its own session, logging to `log`, holding no
/// descriptor of ours (a terminal left open by whoever started us would never see its
/// last close).
pub fn spawn_detached(mut cmd: std::process::Command, log: std::fs::File) -> std::io::Result<std::process::Child> {
    use std::os::unix::process::CommandExt;
    cmd.stdin(std::process::Stdio::null()).stdout(std::process::Stdio::null()).stderr(log).current_dir("/");
    // SAFETY: setsid and close_range are async-signal-safe.
    unsafe {
        cmd.pre_exec(|| {
            libc::setsid();
            libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, 0u32);
            Ok(())
        });
    }
    cmd.spawn()
}

pub fn start_in_background(config_path: &Path, socket_path: &Path) -> anyhow::Result<()> {
    let exe = std::env::current_exe()?;
    let state = paths::state_dir();
    // Private: the audit of what agents ran, the runner's log, the sessions kept.
    paths::ensure_private_dir(&state)?;
    let log_path = state.join("runner.log");
    let log_file = {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        let f = std::fs::OpenOptions::new().create(true).append(true).mode(0o600).open(&log_path)?;
        f.set_permissions(std::fs::Permissions::from_mode(0o600))?;
        f
    };
    let start = || {
        let mut cmd = std::process::Command::new(&exe);
        cmd.arg("daemon").env("TEAMSTER_CONFIG", config_path).env("TEAMSTER_SOCKET", socket_path);
        Ok::<_, anyhow::Error>(spawn_detached(cmd, log_file.try_clone()?)?)
    };
    let mut child = start()?;
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        if std::os::unix::net::UnixStream::connect(socket_path).is_ok() {
            // The runner lives on after we exit; reap it if it exits first.
            std::thread::spawn(move || child.wait());
            return Ok(());
        }
        match child.try_wait() {
            // Another runner holds the lock and does not answer: one stopping (a restart)
            // that has closed its socket but not yet let go. Start again once it has.
            Ok(Some(status)) if status.code() == Some(ALREADY_RUNNING) => {
                std::thread::sleep(Duration::from_millis(50));
                child = start()?;
            }
            Ok(Some(status)) => {
                anyhow::bail!("the runner exited at once ({status}); see {}", log_path.display());
            }
            _ => {}
        }
        if std::time::Instant::now() > deadline {
            anyhow::bail!("the runner did not start within 10 s; see {}", log_path.display());
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}
