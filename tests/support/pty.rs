//! Starting a program in a new PTY, as a terminal window does: the test harness and the
//! benchmarks both run teamster (and tmux) this way.

use std::os::fd::{AsRawFd, OwnedFd};
use std::process::{Child, Command, Stdio};

/// Spawns `cmd` as the session leader of a new PTY of `cols` x `rows`; returns the master.
pub fn spawn(cmd: &mut Command, cols: u16, rows: u16) -> (OwnedFd, Child) {
    let ws = nix::pty::Winsize { ws_row: rows, ws_col: cols, ws_xpixel: 0, ws_ypixel: 0 };
    let pty = nix::pty::openpty(Some(&ws), None).expect("openpty");
    for fd in [&pty.master, &pty.slave] {
        // SAFETY: close-on-exec on our own descriptors, so programs started at the same
        // time do not inherit each other's terminals.
        unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_SETFD, libc::FD_CLOEXEC) };
    }
    cmd.stdin(Stdio::from(pty.slave.try_clone().expect("dup")));
    cmd.stdout(Stdio::from(pty.slave.try_clone().expect("dup")));
    cmd.stderr(Stdio::from(pty.slave));
    use std::os::unix::process::CommandExt;
    // SAFETY: setsid and TIOCSCTTY between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            libc::setsid();
            libc::ioctl(0, libc::TIOCSCTTY as _, 0);
            Ok(())
        });
    }
    let child = cmd.spawn().expect("spawn");
    (pty.master, child)
}
