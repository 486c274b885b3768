//! Seeing what the sandbox refuses, and the one Unix socket it may reach.
//!
//! Landlock and the empty network refuse quietly: the agent sees an error and may say
//! nothing. So the sandboxed process installs a seccomp filter that stops at each
//! write-open, `mkdir`, `unlink`, `rmdir`, `connect` and addressed `sendto`, and asks the
//! runner (seccomp user notification). The runner lets the call go on (Landlock and the
//! namespaces still decide) or refuses it itself and records the refusal as an event.
//! Everything else runs at full speed, unseen.
//!
//! Unix sockets are the exception to "Landlock decides": before ABI 9 it cannot keep an
//! agent from connecting to a socket by path (a session bus, an SSH agent, a tmux server).
//! So the runner refuses every Unix `connect` and `sendto` but one: to the hook socket,
//! which the runner connects itself, on the agent's own socket (taken with
//! `pidfd_getfd`), to the address it read and checked; what the agent's memory says after
//! the check cannot matter.

use super::Plan;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};

/// A refused write or connection.
#[derive(Clone, Debug, PartialEq)]
pub enum Refusal {
    Write(PathBuf),
    Connect(std::net::SocketAddr),
    /// A Unix socket, by path (`@name` for an abstract one).
    Socket(String),
}

impl Refusal {
    pub fn describe(&self) -> String {
        match self {
            Refusal::Write(p) => format!("write to {} (outside what the agent may write)", p.display()),
            Refusal::Connect(a) => format!("connection to {a} (only the proxy is reachable)"),
            Refusal::Socket(p) => {
                format!("connection to the Unix socket {p} (only teamster's hook socket is reachable)")
            }
        }
    }
}

/// How the runner answers a call.
enum Answer {
    /// Let the kernel do it (and Landlock and the namespaces decide).
    GoOn,
    Refuse(Refusal, i32),
    /// The runner did it: the call returns this.
    Done(io::Result<()>),
}

// Kernel ABI (linux/seccomp.h, linux/filter.h, linux/audit.h).
const SECCOMP_SET_MODE_FILTER: libc::c_uint = 1;
const SECCOMP_FILTER_FLAG_NEW_LISTENER: libc::c_uint = 1 << 3;
const RET_ALLOW: u32 = 0x7fff_0000;
const RET_USER_NOTIF: u32 = 0x7fc0_0000;
const RET_ERRNO: u32 = 0x0005_0000;
const AUDIT_ARCH_X86_64: u32 = 0xc000_003e;
const X32_SYSCALL_BIT: u32 = 0x4000_0000;
const NOTIF_RECV: libc::c_ulong = 0xc050_2100;
const NOTIF_SEND: libc::c_ulong = 0xc018_2101;
const NOTIF_ID_VALID: libc::c_ulong = 0x4008_2102;
const USER_NOTIF_FLAG_CONTINUE: u32 = 1;

const BPF_LD_W_ABS: u16 = 0x20;
const BPF_JEQ_K: u16 = 0x15;
const BPF_JGE_K: u16 = 0x35;
const BPF_JSET_K: u16 = 0x45;
const BPF_RET_K: u16 = 0x06;

/// open flags that make an open a write.
const WRITE_FLAGS: u32 = (libc::O_WRONLY | libc::O_RDWR | libc::O_CREAT | libc::O_TRUNC) as u32;

fn stmt(code: u16, k: u32) -> libc::sock_filter {
    libc::sock_filter { code, jt: 0, jf: 0, k }
}

fn jump(code: u16, k: u32, jt: u8, jf: u8) -> libc::sock_filter {
    libc::sock_filter { code, jt, jf, k }
}

/// Offsets into `struct seccomp_data`: nr, arch, then args from 16 (low half first).
fn arg(i: u32) -> u32 {
    16 + 8 * i
}

/// The filter: notify on connect, on addressed sendto, on opens that write (by their
/// flags), on mkdir, unlink and rmdir; refuse io_uring (whose opens no filter sees) so programs fall back to plain
/// calls; let everything else through.
fn program() -> Vec<libc::sock_filter> {
    let notify_always = [
        libc::SYS_connect,
        libc::SYS_creat,
        libc::SYS_openat2,
        libc::SYS_mkdir,
        libc::SYS_mkdirat,
        libc::SYS_unlink,
        libc::SYS_unlinkat,
        libc::SYS_rmdir,
    ];
    let mut p = vec![
        stmt(BPF_LD_W_ABS, 4),
        jump(BPF_JEQ_K, AUDIT_ARCH_X86_64, 1, 0),
        stmt(BPF_RET_K, RET_ERRNO | libc::ENOSYS as u32),
        stmt(BPF_LD_W_ABS, 0),
        jump(BPF_JGE_K, X32_SYSCALL_BIT, 0, 1),
        stmt(BPF_RET_K, RET_ERRNO | libc::ENOSYS as u32),
        jump(BPF_JEQ_K, libc::SYS_io_uring_setup as u32, 0, 1),
        stmt(BPF_RET_K, RET_ERRNO | libc::ENOSYS as u32),
    ];
    for nr in notify_always {
        p.push(jump(BPF_JEQ_K, nr as u32, 0, 1));
        p.push(stmt(BPF_RET_K, RET_USER_NOTIF));
    }
    // sendto(fd, buf, len, flags, addr, addrlen): only with an address.
    p.extend([
        jump(BPF_JEQ_K, libc::SYS_sendto as u32, 0, 6),
        stmt(BPF_LD_W_ABS, arg(4)),
        jump(BPF_JEQ_K, 0, 0, 3),
        stmt(BPF_LD_W_ABS, arg(4) + 4),
        jump(BPF_JEQ_K, 0, 0, 1),
        stmt(BPF_RET_K, RET_ALLOW),
        stmt(BPF_RET_K, RET_USER_NOTIF),
    ]);
    // open(path, flags) and openat(dirfd, path, flags): only writes.
    for (nr, flags) in [(libc::SYS_open, 1), (libc::SYS_openat, 2)] {
        p.push(jump(BPF_JEQ_K, nr as u32, 0, 4));
        p.push(stmt(BPF_LD_W_ABS, arg(flags)));
        p.push(jump(BPF_JSET_K, WRITE_FLAGS, 0, 1));
        p.push(stmt(BPF_RET_K, RET_USER_NOTIF));
        p.push(stmt(BPF_RET_K, RET_ALLOW));
    }
    p.push(stmt(BPF_RET_K, RET_ALLOW));
    p
}

/// Installs the filter on the calling thread (and what it runs), returning the listener
/// the runner answers on. Needs `no_new_privs` first.
pub fn install() -> io::Result<OwnedFd> {
    let prog = program();
    let fprog = libc::sock_fprog { len: prog.len() as u16, filter: prog.as_ptr() as *mut libc::sock_filter };
    // SAFETY: fprog points at `prog`, alive for the call.
    let fd =
        unsafe { libc::syscall(libc::SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER, &fprog) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the kernel just gave us this descriptor.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

#[repr(C)]
#[derive(Default)]
struct SeccompData {
    nr: i32,
    arch: u32,
    ip: u64,
    args: [u64; 6],
}

#[repr(C)]
#[derive(Default)]
struct Notif {
    id: u64,
    pid: u32,
    flags: u32,
    data: SeccompData,
}

#[repr(C)]
struct Response {
    id: u64,
    val: i64,
    error: i32,
    flags: u32,
}

/// Answers the sandbox's questions until the last process in it is gone, calling
/// `refused` for each write or connection it refuses. Runs on a thread of its own.
pub fn supervise(listener: OwnedFd, plan: &Plan, refused: impl Fn(Refusal)) {
    loop {
        // Wait for a question; a hang-up means every process in the sandbox is gone.
        let mut pfd = libc::pollfd { fd: listener.as_raw_fd(), events: libc::POLLIN, revents: 0 };
        // SAFETY: one pollfd, ours.
        let ready = unsafe { libc::poll(&mut pfd, 1, -1) };
        if ready < 0 {
            if io::Error::last_os_error().raw_os_error() == Some(libc::EINTR) {
                continue;
            }
            return;
        }
        if pfd.revents & (libc::POLLHUP | libc::POLLERR | libc::POLLNVAL) != 0 && pfd.revents & libc::POLLIN == 0 {
            return;
        }
        let mut n = Notif::default();
        // SAFETY: NOTIF_RECV fills a zeroed seccomp_notif.
        if unsafe { libc::ioctl(listener.as_raw_fd(), NOTIF_RECV, &mut n as *mut Notif) } < 0 {
            match io::Error::last_os_error().raw_os_error() {
                // Interrupted, or the process died before we read it: next.
                Some(libc::EINTR) | Some(libc::ENOENT) => continue,
                _ => return,
            }
        }
        // What we read must still be the memory of the process that asked.
        let valid = |id: &u64| unsafe { libc::ioctl(listener.as_raw_fd(), NOTIF_ID_VALID, id as *const u64) } == 0;
        let answer = answer(plan, &n, &valid);
        let (response, refusal) = match answer {
            Answer::GoOn => (Response { id: n.id, val: 0, error: 0, flags: USER_NOTIF_FLAG_CONTINUE }, None),
            Answer::Refuse(what, errno) => (Response { id: n.id, val: 0, error: -errno, flags: 0 }, Some(what)),
            Answer::Done(Ok(())) => (Response { id: n.id, val: 0, error: 0, flags: 0 }, None),
            Answer::Done(Err(e)) => {
                (Response { id: n.id, val: 0, error: -e.raw_os_error().unwrap_or(libc::EIO), flags: 0 }, None)
            }
        };
        // SAFETY: NOTIF_SEND reads a seccomp_notif_resp.
        let sent = unsafe { libc::ioctl(listener.as_raw_fd(), NOTIF_SEND, &response as *const Response) } == 0;
        if let (Some(what), true) = (refusal, sent) {
            refused(what);
        }
    }
}

/// What to do with one call. `valid` says the asking process is still the one whose memory
/// was read.
fn answer(plan: &Plan, n: &Notif, valid: &dyn Fn(&u64) -> bool) -> Answer {
    let a = n.data.args;
    let (pid, nr) = (n.pid, n.data.nr as i64);
    if nr == libc::SYS_connect || nr == libc::SYS_sendto {
        let (ptr, len) = if nr == libc::SYS_connect { (a[1], a[2]) } else { (a[4], a[5]) };
        let Some(addr) = sockaddr(pid, ptr, len as usize) else { return Answer::GoOn };
        if !valid(&n.id) {
            return Answer::GoOn;
        }
        return match addr {
            Address::Ip(ip) if plan.refuses_connect(&ip) => Answer::Refuse(Refusal::Connect(ip), libc::ECONNREFUSED),
            Address::Ip(_) | Address::Other => Answer::GoOn,
            Address::Unix(path) => {
                let path = resolve(pid, libc::AT_FDCWD, &path);
                if nr == libc::SYS_connect && path.as_deref() == Some(plan.hook_socket.as_path()) {
                    Answer::Done(connect_for(pid, a[0] as i32, &plan.hook_socket))
                } else {
                    let shown = path.map_or_else(|| "(unnamed)".into(), |p| p.display().to_string());
                    Answer::Refuse(Refusal::Socket(shown), libc::EACCES)
                }
            }
            Address::Abstract(name) => Answer::Refuse(Refusal::Socket(format!("@{name}")), libc::EACCES),
        };
    }
    let op = match nr {
        libc::SYS_open => Op::Open(a[1] as i32),
        libc::SYS_openat => Op::Open(a[2] as i32),
        libc::SYS_openat2 => Op::Open(read_u64(pid, a[2]).unwrap_or(0) as i32),
        libc::SYS_creat => Op::Open(libc::O_CREAT | libc::O_WRONLY | libc::O_TRUNC),
        libc::SYS_mkdir | libc::SYS_mkdirat => Op::Make,
        _ => Op::Remove,
    };
    let (dirfd, ptr) = match nr {
        libc::SYS_open | libc::SYS_creat | libc::SYS_mkdir | libc::SYS_unlink | libc::SYS_rmdir => {
            (libc::AT_FDCWD, a[0])
        }
        _ => (a[0] as i32, a[1]),
    };
    let Some(named) = read_cstr(pid, ptr) else { return Answer::GoOn };
    let Some(path) = resolve(pid, dirfd, Path::new(std::ffi::OsStr::from_bytes(&named))) else { return Answer::GoOn };
    // Most opens are where the agent may write: those need no look at the file.
    if !plan.refuses_write(&path) {
        return Answer::GoOn;
    }
    // Only what would change the file system is a write: creating what is not there,
    // removing what is, opening to write.
    let exists = path.symlink_metadata().is_ok();
    let writes = match op {
        Op::Open(flags) => {
            flags & (libc::O_WRONLY | libc::O_RDWR | libc::O_TRUNC) != 0 || (flags & libc::O_CREAT != 0 && !exists)
        }
        Op::Make => !exists,
        Op::Remove => exists,
    };
    if writes && valid(&n.id) { Answer::Refuse(Refusal::Write(path), libc::EACCES) } else { Answer::GoOn }
}

enum Op {
    Open(i32),
    Make,
    Remove,
}

use std::os::unix::ffi::OsStrExt;

/// Where a path a process names really is: relative to `dirfd` (or its working
/// directory), through `/proc/self`, `/dev/fd` and `/dev/std*` (which mean the asking
/// process, not the runner), and through symlinks as far as they exist. `None` for what
/// is not a place in the file system (a pipe, a socket).
fn resolve(pid: u32, dirfd: i32, path: &Path) -> Option<PathBuf> {
    let proc_of = |rest: &str| PathBuf::from(format!("/proc/{pid}/{rest}"));
    let absolute = if path.is_absolute() {
        path.to_path_buf()
    } else if dirfd == libc::AT_FDCWD {
        std::fs::read_link(proc_of("cwd")).ok()?.join(path)
    } else {
        std::fs::read_link(proc_of(&format!("fd/{dirfd}"))).ok()?.join(path)
    };
    let text = absolute.to_string_lossy();
    let mine = match () {
        _ if text.starts_with("/proc/self/") => Some(proc_of(&text["/proc/self/".len()..])),
        _ if text.starts_with("/proc/thread-self/") => Some(proc_of(&text["/proc/thread-self/".len()..])),
        _ if text.starts_with("/dev/fd/") => Some(proc_of(&format!("fd/{}", &text["/dev/fd/".len()..]))),
        _ => ["stdin", "stdout", "stderr"]
            .iter()
            .position(|s| text == format!("/dev/{s}"))
            .map(|fd| proc_of(&format!("fd/{fd}"))),
    };
    let absolute = mine.unwrap_or(absolute);
    if absolute.starts_with("/proc")
        && let Ok(target) = std::fs::read_link(&absolute)
        && !target.is_absolute()
    {
        // pipe:[…], socket:[…], anon_inode:…
        return None;
    }
    let real = std::fs::canonicalize(&absolute).ok().or_else(|| {
        let parent = std::fs::canonicalize(absolute.parent()?).ok()?;
        Some(parent.join(absolute.file_name()?))
    });
    Some(real.unwrap_or_else(|| crate::paths::normalize(&absolute)))
}

/// Connects the agent's socket `fd` to `path` from the runner: the agent asked for that
/// address, and this is the address used, whatever its memory says by now.
fn connect_for(pid: u32, fd: i32, path: &Path) -> io::Result<()> {
    let syscall_fd = |r: libc::c_long| {
        if r < 0 { Err(io::Error::last_os_error()) } else { Ok(unsafe { OwnedFd::from_raw_fd(r as i32) }) }
    };
    // SAFETY: pidfd_open and pidfd_getfd return new descriptors or -1.
    let pidfd = syscall_fd(unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) })?;
    let socket = syscall_fd(unsafe { libc::syscall(libc::SYS_pidfd_getfd, pidfd.as_raw_fd(), fd, 0) })?;
    let addr = nix::sys::socket::UnixAddr::new(path).map_err(io::Error::from)?;
    nix::sys::socket::connect(socket.as_raw_fd(), &addr).map_err(io::Error::from)
}

fn read_mem(pid: u32, addr: u64, buf: &mut [u8]) -> usize {
    let local = libc::iovec { iov_base: buf.as_mut_ptr().cast(), iov_len: buf.len() };
    let remote = libc::iovec { iov_base: addr as *mut libc::c_void, iov_len: buf.len() };
    // SAFETY: reads into `buf`, whose length we pass.
    let n = unsafe { libc::process_vm_readv(pid as i32, &local, 1, &remote, 1, 0) };
    n.max(0) as usize
}

fn read_u64(pid: u32, addr: u64) -> Option<u64> {
    let mut buf = [0u8; 8];
    (read_mem(pid, addr, &mut buf) == 8).then(|| u64::from_ne_bytes(buf))
}

/// A NUL-terminated string from another process, read a page piece at a time (a string
/// may end just before an unmapped page).
fn read_cstr(pid: u32, addr: u64) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let mut at = addr;
    while out.len() < libc::PATH_MAX as usize {
        let to_page_end = 4096 - (at % 4096) as usize;
        let mut buf = vec![0; to_page_end];
        let n = read_mem(pid, at, &mut buf);
        if n == 0 {
            return None;
        }
        if let Some(end) = buf[..n].iter().position(|&b| b == 0) {
            out.extend_from_slice(&buf[..end]);
            return Some(out);
        }
        out.extend_from_slice(&buf[..n]);
        at += n as u64;
    }
    None
}

/// An address a process connects or sends to.
enum Address {
    Ip(std::net::SocketAddr),
    Unix(PathBuf),
    Abstract(String),
    Other,
}

fn sockaddr(pid: u32, ptr: u64, len: usize) -> Option<Address> {
    let mut buf = vec![0u8; len.min(128)];
    let n = read_mem(pid, ptr, &mut buf);
    if n < 2 {
        return None;
    }
    buf.truncate(n);
    let family = u16::from_ne_bytes([buf[0], buf[1]]) as i32;
    let port = || Some(u16::from_be_bytes([*buf.get(2)?, *buf.get(3)?]));
    Some(match family {
        libc::AF_INET => {
            let ip: [u8; 4] = buf.get(4..8)?.try_into().ok()?;
            Address::Ip((std::net::Ipv4Addr::from(ip), port()?).into())
        }
        libc::AF_INET6 => {
            let ip: [u8; 16] = buf.get(8..24)?.try_into().ok()?;
            Address::Ip((std::net::Ipv6Addr::from(ip), port()?).into())
        }
        libc::AF_UNIX => {
            let name = buf.get(2..).unwrap_or_default();
            match name.first() {
                Some(0) => Address::Abstract(String::from_utf8_lossy(&name[1..]).trim_end_matches('\0').to_string()),
                _ => {
                    let end = name.iter().position(|&b| b == 0).unwrap_or(name.len());
                    Address::Unix(PathBuf::from(std::ffi::OsStr::from_bytes(&name[..end])))
                }
            }
        }
        _ => Address::Other,
    })
}
