//! Pseudo-terminals: starting a program in one, resizing it, and ending it.

use crate::protocol::Size;
use nix::pty::{Winsize, openpty};
use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::Path;
use std::process::Stdio;

pub struct Spawned {
    /// Our end of the terminal, non-blocking.
    pub master: OwnedFd,
    pub child: tokio::process::Child,
    pub pid: u32,
}

fn winsize(size: Size) -> Winsize {
    Winsize { ws_row: size.rows.max(1), ws_col: size.cols.max(1), ws_xpixel: 0, ws_ypixel: 0 }
}

/// Starts `argv` on a new terminal of `size`, as the leader of a new session whose
/// controlling terminal it is (so job control and SIGWINCH work as in any terminal).
/// `arg0` replaces the name the program sees (a login shell's `-bash`). `report`, if
/// given, becomes the program's descriptor 3 (the sandbox helper's line to the runner).
pub fn spawn(
    argv: &[String],
    arg0: Option<&str>,
    env: &[(String, String)],
    cwd: &Path,
    size: Size,
    report: Option<std::os::fd::RawFd>,
) -> io::Result<Spawned> {
    let Some(program) = argv.first() else {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, "no program given"));
    };
    let pty = openpty(Some(&winsize(size)), None).map_err(io::Error::from)?;
    set_cloexec(&pty.master)?;
    set_cloexec(&pty.slave)?;

    let mut cmd = tokio::process::Command::new(program);
    cmd.args(&argv[1..]).env_clear().envs(env.iter().map(|(k, v)| (k, v))).current_dir(cwd);
    if let Some(arg0) = arg0 {
        cmd.arg0(arg0);
    }
    cmd.stdin(Stdio::from(pty.slave.try_clone()?));
    cmd.stdout(Stdio::from(pty.slave.try_clone()?));
    cmd.stderr(Stdio::from(pty.slave));
    // SAFETY: between fork and exec only async-signal-safe calls are made.
    unsafe {
        cmd.pre_exec(move || {
            if let Some(fd) = report {
                crate::sandbox::enter::place_line(fd)?;
            }
            if libc::setsid() < 0 {
                return Err(io::Error::last_os_error());
            }
            if libc::ioctl(0, libc::TIOCSCTTY as _, 0) < 0 {
                return Err(io::Error::last_os_error());
            }
            // The runner's signal handling must not leak into the program.
            let mut none: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut none);
            libc::sigprocmask(libc::SIG_SETMASK, &none, std::ptr::null_mut());
            for sig in [
                libc::SIGPIPE,
                libc::SIGINT,
                libc::SIGQUIT,
                libc::SIGTERM,
                libc::SIGHUP,
                libc::SIGCHLD,
                libc::SIGWINCH,
                libc::SIGTSTP,
            ] {
                libc::signal(sig, libc::SIG_DFL);
            }
            Ok(())
        });
    }
    let child = cmd
        .spawn()
        .map_err(|e| io::Error::new(e.kind(), format!("cannot start `{program}`: {}", plain_os_error(&e))))?;
    let pid = child.id().unwrap_or(0);
    set_nonblocking(&pty.master)?;
    Ok(Spawned { master: pty.master, child, pid })
}

/// "No such file or directory (os error 2)" reads better without the number.
fn plain_os_error(e: &io::Error) -> String {
    let s = e.to_string();
    match s.find(" (os error") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

fn set_cloexec(fd: &OwnedFd) -> io::Result<()> {
    use nix::fcntl::{FcntlArg, FdFlag, fcntl};
    fcntl(fd.as_fd(), FcntlArg::F_SETFD(FdFlag::FD_CLOEXEC)).map_err(io::Error::from)?;
    Ok(())
}

fn set_nonblocking(fd: &OwnedFd) -> io::Result<()> {
    use nix::fcntl::{FcntlArg, OFlag, fcntl};
    let flags = OFlag::from_bits_truncate(fcntl(fd.as_fd(), FcntlArg::F_GETFL).map_err(io::Error::from)?);
    fcntl(fd.as_fd(), FcntlArg::F_SETFL(flags | OFlag::O_NONBLOCK)).map_err(io::Error::from)?;
    Ok(())
}

/// Tells the terminal its new size; the kernel sends the program SIGWINCH.
pub fn resize(master: &OwnedFd, size: Size) -> io::Result<()> {
    let ws = winsize(size);
    // SAFETY: TIOCSWINSZ reads a winsize from the pointer we pass.
    let r = unsafe { libc::ioctl(master.as_raw_fd(), libc::TIOCSWINSZ, &ws as *const Winsize) };
    if r < 0 { Err(io::Error::last_os_error()) } else { Ok(()) }
}

/// A process's parent and terminal session, from `/proc/PID/stat`.
pub fn parent_and_session(pid: i32) -> Option<(i32, i32)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces and parentheses: the fields follow its last ')'.
    let rest = &stat[stat.rfind(')')? + 1..];
    // state ppid pgrp session ...
    let fields: Vec<&str> = rest.split_whitespace().collect();
    Some((fields.get(1)?.parse().ok()?, fields.get(3)?.parse().ok()?))
}

/// Every process in the terminal session led by `leader`: the program and whatever it
/// started there, background jobs included.
pub fn session_processes(leader: u32) -> Vec<i32> {
    let Ok(dir) = std::fs::read_dir("/proc") else { return vec![leader as i32] };
    let mut pids = Vec::new();
    for entry in dir.flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else { continue };
        if parent_and_session(pid).is_some_and(|(_, session)| session == leader as i32) {
            pids.push(pid);
        }
    }
    if !pids.contains(&(leader as i32)) {
        pids.push(leader as i32);
    }
    pids
}

/// Sends `signal` to every process in the session led by `leader`.
pub fn signal_session(leader: u32, signal: i32) {
    if leader == 0 {
        return;
    }
    for pid in session_processes(leader) {
        // SAFETY: kill has no memory effects; a process that is already gone is fine.
        unsafe {
            libc::kill(pid, signal);
        }
    }
}
