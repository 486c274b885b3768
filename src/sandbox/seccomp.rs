//! Sockets the sandbox refuses outright, connections the runner makes itself, and the
//! writes it reports.
//!
//! The sandboxed process installs a seccomp filter before it becomes the agent:
//!
//! - **Refused by the filter itself** (it looks only at registers, which the agent cannot
//!   change after the fact): sockets of families an agent has no use for (`AF_VSOCK`,
//!   `AF_PACKET`, `AF_NETLINK` beyond routing, …), Unix datagram sockets (the one kind that
//!   can send to an address without `connect`), and io_uring (whose calls no filter sees).
//! - **Made by the runner** (seccomp user notification): every `connect`. The runner copies
//!   the address out of the agent's memory once, decides on its copy, and connects the
//!   agent's own socket (taken with `pidfd_getfd`) to that copy. It never lets the kernel
//!   go on with the call: the kernel would read the address again, and a second thread of
//!   the agent could have changed it in between. Unix paths are resolved in the agent's
//!   own view of the file system (`/proc/PID/root`), without leaving it.
//! - **Reported** (user notification, then the kernel goes on): write-opens, `mkdir`,
//!   `unlink` and `rmdir`. Landlock decides them; the runner only predicts which Landlock
//!   will refuse, so a refusal is an event the user sees, not only an error the agent may
//!   hide. What the agent's memory says here decides nothing.

use super::Plan;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};

/// A refused write or connection.
#[derive(Clone, Debug, PartialEq)]
pub enum Refusal {
    Write(PathBuf),
    /// A write to a file that makes the user's tools run code (`Plan::read_only`).
    Protected(PathBuf),
    Connect(std::net::SocketAddr),
    /// A Unix socket, by path (`@name` for an abstract one).
    Socket(String),
}

impl Refusal {
    pub fn describe(&self) -> String {
        match self {
            Refusal::Write(p) => format!("write to {} (outside what the agent may write)", p.display()),
            Refusal::Protected(p) => {
                format!("write to {} (a file that makes your tools run code: read-only to agents)", p.display())
            }
            Refusal::Connect(a) => format!("connection to {a} (only the proxy is reachable)"),
            Refusal::Socket(p) => {
                format!(
                    "connection to the Unix socket {p} (only the agent's own sockets and its hook socket are reachable)"
                )
            }
        }
    }
}

/// How the runner answers a call.
enum Answer {
    /// Let the kernel do it: only for the calls it reports (writes), which Landlock decides.
    GoOn,
    /// The call fails with this errno; a refusal is reported too.
    Fail(i32, Option<Refusal>),
    /// The runner did it: the call returns 0.
    Done,
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
const BPF_ALU_AND_K: u16 = 0x54;
/// `type` of socket() also carries SOCK_NONBLOCK and SOCK_CLOEXEC: the kind is the low bits.
const SOCK_TYPE_MASK: u32 = 0xf;

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

/// The filter. Refused here, on registers alone: io_uring, socket families an agent has
/// no use for, Unix datagram sockets. The runner makes every `connect`; it is shown every
/// write-open (by its flags), `mkdir`, `unlink` and `rmdir`. Everything else runs at full
/// speed, unseen.
fn program() -> Vec<libc::sock_filter> {
    let enosys = RET_ERRNO | libc::ENOSYS as u32;
    let no_family = RET_ERRNO | libc::EAFNOSUPPORT as u32;
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
        stmt(BPF_RET_K, enosys),
        stmt(BPF_LD_W_ABS, 0),
        jump(BPF_JGE_K, X32_SYSCALL_BIT, 0, 1),
        stmt(BPF_RET_K, enosys),
        jump(BPF_JEQ_K, libc::SYS_io_uring_setup as u32, 0, 1),
        stmt(BPF_RET_K, enosys),
    ];
    // socket(family, type, protocol): IPv4, IPv6 (which reach only the sandbox's own
    // loopback), netlink for routing (how programs list interfaces), Unix sockets that
    // must connect before they send. Jumps count the instructions they skip.
    p.extend([
        jump(BPF_JEQ_K, libc::SYS_socket as u32, 0, 14),
        stmt(BPF_LD_W_ABS, arg(0)),
        jump(BPF_JEQ_K, libc::AF_INET as u32, 11, 0),
        jump(BPF_JEQ_K, libc::AF_INET6 as u32, 10, 0),
        jump(BPF_JEQ_K, libc::AF_NETLINK as u32, 0, 3),
        stmt(BPF_LD_W_ABS, arg(2)),
        jump(BPF_JEQ_K, libc::NETLINK_ROUTE as u32, 7, 0),
        stmt(BPF_RET_K, no_family),
        jump(BPF_JEQ_K, libc::AF_UNIX as u32, 0, 4),
        stmt(BPF_LD_W_ABS, arg(1)),
        stmt(BPF_ALU_AND_K, SOCK_TYPE_MASK),
        jump(BPF_JEQ_K, libc::SOCK_DGRAM as u32, 1, 0),
        stmt(BPF_RET_K, RET_ALLOW),
        stmt(BPF_RET_K, no_family),
        stmt(BPF_RET_K, RET_ALLOW),
    ]);
    // socketpair(family, …): only Unix (a pair reaches nothing outside).
    p.extend([
        jump(BPF_JEQ_K, libc::SYS_socketpair as u32, 0, 4),
        stmt(BPF_LD_W_ABS, arg(0)),
        jump(BPF_JEQ_K, libc::AF_UNIX as u32, 0, 1),
        stmt(BPF_RET_K, RET_ALLOW),
        stmt(BPF_RET_K, no_family),
    ]);
    for nr in notify_always {
        p.push(jump(BPF_JEQ_K, nr as u32, 0, 1));
        p.push(stmt(BPF_RET_K, RET_USER_NOTIF));
    }
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
    // The hook socket as the runner sees it: a connection is let through to this file
    // alone among the runner's sockets.
    let hook = std::fs::metadata(&plan.hook_socket).ok().map(|m| (m.dev(), m.ino()));
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
        // The process that asked is still there, blocked in its call (so a pid read now is
        // still that process).
        // SAFETY: NOTIF_ID_VALID reads the u64 we pass.
        let valid = || unsafe { libc::ioctl(listener.as_raw_fd(), NOTIF_ID_VALID, &n.id as *const u64) } == 0;
        let answer = if n.data.nr as i64 == libc::SYS_connect {
            connect(plan, hook, &n, &valid)
        } else {
            // A write: Landlock decides. Which it will refuse is only reported.
            if let Some(path) = refused_write(plan, &n) {
                let protected = plan.read_only.iter().any(|r| path.starts_with(r));
                refused(if protected { Refusal::Protected(path) } else { Refusal::Write(path) });
            }
            Answer::GoOn
        };
        let (response, refusal) = match answer {
            Answer::GoOn => (Response { id: n.id, val: 0, error: 0, flags: USER_NOTIF_FLAG_CONTINUE }, None),
            Answer::Fail(errno, what) => (Response { id: n.id, val: 0, error: -errno, flags: 0 }, what),
            Answer::Done => (Response { id: n.id, val: 0, error: 0, flags: 0 }, None),
        };
        // SAFETY: NOTIF_SEND reads a seccomp_notif_resp.
        let sent = unsafe { libc::ioctl(listener.as_raw_fd(), NOTIF_SEND, &response as *const Response) } == 0;
        if let (Some(what), true) = (refusal, sent) {
            refused(what);
        }
    }
}

/// `connect(fd, addr, len)`, made by the runner: the address is copied once, judged on the
/// copy, and the agent's socket connected to the copy. Nothing is left for the kernel to
/// read again.
fn connect(plan: &Plan, hook: Option<(u64, u64)>, n: &Notif, valid: &dyn Fn() -> bool) -> Answer {
    let [fd, ptr, len, ..] = n.data.args;
    let len = len as usize;
    if !(2..=SOCKADDR_MAX).contains(&len) {
        return Answer::Fail(libc::EINVAL, None);
    }
    let mut addr = vec![0u8; len];
    if read_mem(n.pid, ptr, &mut addr) != len {
        return Answer::Fail(libc::EFAULT, None);
    }
    let socket = match agents_socket(n.pid, fd as i32, valid) {
        Ok(s) => s,
        Err(e) => return Answer::Fail(e.raw_os_error().unwrap_or(libc::EBADF), None),
    };
    let family = u16::from_ne_bytes([addr[0], addr[1]]) as i32;
    let allowed = match family {
        libc::AF_INET | libc::AF_INET6 => match ip_of(&addr) {
            Some(ip) if !plan.refuses_connect(&ip) => Ok(()),
            Some(ip) => Err((libc::ECONNREFUSED, Some(Refusal::Connect(ip)))),
            None => Err((libc::EINVAL, None)),
        },
        // Disconnecting, or an abstract name: abstract names belong to the socket's own
        // network namespace, the sandbox's, so only its own sockets answer.
        libc::AF_UNSPEC => Ok(()),
        libc::AF_UNIX if len == 2 || addr[2] == 0 => Ok(()),
        libc::AF_UNIX => {
            let end = addr[2..].iter().position(|&b| b == 0).map_or(len, |i| i + 2);
            let named = addr[2..end].to_vec();
            return unix_connect(plan, hook, n.pid, &socket, &named, valid);
        }
        _ => Err((libc::EAFNOSUPPORT, None)),
    };
    match allowed {
        Ok(()) => raw_connect(&socket, &addr),
        Err((errno, what)) => Answer::Fail(errno, what),
    }
}

/// A connection to a Unix socket by path: to the pane's hook socket, or to a socket the
/// sandbox's own processes made (one where the agent may write: its workspace, its temp
/// directories). The path is resolved in the agent's view, never beyond its root, and the
/// socket connected by what was resolved.
fn unix_connect(
    plan: &Plan,
    hook: Option<(u64, u64)>,
    pid: u32,
    socket: &OwnedFd,
    named: &[u8],
    valid: &dyn Fn() -> bool,
) -> Answer {
    let shown = String::from_utf8_lossy(named).into_owned();
    let refuse = |errno| Answer::Fail(errno, Some(Refusal::Socket(shown.clone())));
    // Nothing there (glibc looks for nscd's socket, say): nothing refused, nothing to report.
    let target = match open_in_root(pid, named) {
        Ok(t) => t,
        Err(e) => return Answer::Fail(e.raw_os_error().unwrap_or(libc::ENOENT), None),
    };
    if !valid() {
        return Answer::Fail(libc::ESRCH, None);
    }
    let Ok(meta) = nix::sys::stat::fstat(&target) else { return refuse(libc::ENOENT) };
    if meta.st_mode & libc::S_IFMT != libc::S_IFSOCK {
        return Answer::Fail(libc::ECONNREFUSED, None);
    }
    let is_hook = hook == Some((meta.st_dev, meta.st_ino));
    // Where the socket file is, as the agent sees it.
    let place = std::fs::read_link(format!("/proc/self/fd/{}", target.as_raw_fd())).ok();
    let own = place.as_deref().is_some_and(|p| plan.may_write(p));
    if !is_hook && !own {
        return refuse(libc::EACCES);
    }
    let by_fd = format!("/proc/self/fd/{}", target.as_raw_fd());
    match nix::sys::socket::UnixAddr::new(by_fd.as_str())
        .and_then(|a| nix::sys::socket::connect(socket.as_raw_fd(), &a))
    {
        Ok(()) => Answer::Done,
        Err(e) => Answer::Fail(e as i32, None),
    }
}

/// The largest socket address the runner copies (`sizeof(struct sockaddr_storage)`).
const SOCKADDR_MAX: usize = 128;

fn ip_of(addr: &[u8]) -> Option<std::net::SocketAddr> {
    let family = u16::from_ne_bytes([*addr.first()?, *addr.get(1)?]) as i32;
    let port = u16::from_be_bytes([*addr.get(2)?, *addr.get(3)?]);
    match family {
        libc::AF_INET => {
            let ip: [u8; 4] = addr.get(4..8)?.try_into().ok()?;
            Some((std::net::Ipv4Addr::from(ip), port).into())
        }
        libc::AF_INET6 => {
            let ip: [u8; 16] = addr.get(8..24)?.try_into().ok()?;
            Some((std::net::Ipv6Addr::from(ip), port).into())
        }
        _ => None,
    }
}

/// Connects the agent's socket to the runner's copy of the address. A non-blocking socket
/// answers EINPROGRESS, as it would have to the agent.
fn raw_connect(socket: &OwnedFd, addr: &[u8]) -> Answer {
    // SAFETY: `addr` is a buffer of the length passed.
    let r = unsafe { libc::connect(socket.as_raw_fd(), addr.as_ptr().cast(), addr.len() as libc::socklen_t) };
    if r == 0 {
        Answer::Done
    } else {
        Answer::Fail(io::Error::last_os_error().raw_os_error().unwrap_or(libc::EIO), None)
    }
}

/// The agent's descriptor `fd`, duplicated into the runner. `pid` is the thread that
/// asked (programs connect from threads of their own): its pidfd (Linux 6.9), else its
/// process's, whose descriptors its threads share. `valid` is checked after the pidfd is
/// taken, so the id cannot have been reused for another process by then.
fn agents_socket(pid: u32, fd: i32, valid: &dyn Fn() -> bool) -> io::Result<OwnedFd> {
    const PIDFD_THREAD: libc::c_long = libc::O_EXCL as libc::c_long;
    let owned = |r: libc::c_long| {
        // SAFETY: a descriptor the kernel just gave us.
        if r < 0 { Err(io::Error::last_os_error()) } else { Ok(unsafe { OwnedFd::from_raw_fd(r as i32) }) }
    };
    // SAFETY: pidfd_open and pidfd_getfd return new descriptors or -1.
    let pidfd = owned(unsafe { libc::syscall(libc::SYS_pidfd_open, pid, PIDFD_THREAD) }).or_else(|_| {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
        let tgid = status
            .lines()
            .find_map(|l| l.strip_prefix("Tgid:"))
            .and_then(|t| t.trim().parse::<u32>().ok())
            .ok_or_else(|| io::Error::from_raw_os_error(libc::ESRCH))?;
        // SAFETY: as above.
        owned(unsafe { libc::syscall(libc::SYS_pidfd_open, tgid, 0) })
    })?;
    if !valid() {
        return Err(io::Error::from_raw_os_error(libc::ESRCH));
    }
    owned(unsafe { libc::syscall(libc::SYS_pidfd_getfd, pidfd.as_raw_fd(), fd, 0) })
}

/// Opens `path` (as process `pid` names it: relative to its working directory) in that
/// process's own view of the file system, never leaving its root and following no magic
/// links: an `O_PATH` descriptor of what the path leads to there.
fn open_in_root(pid: u32, path: &[u8]) -> io::Result<OwnedFd> {
    use nix::fcntl::{OFlag, OpenHow, ResolveFlag};
    use std::os::unix::ffi::OsStrExt;
    let root = std::fs::File::open(format!("/proc/{pid}/root"))?;
    let absolute: Vec<u8> = if path.first() == Some(&b'/') {
        path.to_vec()
    } else {
        let cwd = std::fs::read_link(format!("/proc/{pid}/cwd"))?;
        [cwd.as_os_str().as_bytes(), b"/", path].concat()
    };
    let how = OpenHow::new()
        .flags(OFlag::O_PATH | OFlag::O_CLOEXEC)
        .resolve(ResolveFlag::RESOLVE_IN_ROOT | ResolveFlag::RESOLVE_NO_MAGICLINKS);
    nix::fcntl::openat2(&root, std::ffi::OsStr::from_bytes(&absolute), how).map_err(io::Error::from)
}

/// The path a write-like call names, when the sandbox would refuse it (for the report).
fn refused_write(plan: &Plan, n: &Notif) -> Option<PathBuf> {
    let a = n.data.args;
    let (pid, nr) = (n.pid, n.data.nr as i64);
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
    let named = read_cstr(pid, ptr)?;
    let path = resolve(pid, dirfd, Path::new(std::ffi::OsStr::from_bytes(&named)))?;
    // Most opens are where the agent may write: those need no look at the file.
    if !plan.refuses_write(&path) {
        return None;
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
    writes.then_some(path)
}

enum Op {
    Open(i32),
    Make,
    Remove,
}

use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;

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
