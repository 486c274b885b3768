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
//! - **Made by the sandbox's maker** (`maker`): every call that makes a name (an open
//!   that may create, `mkdir`, `mknod`, `symlink`, `link`, `rename`). The runner copies
//!   the paths once and the maker, inside the sandbox, makes what the copy names, never a
//!   protected path; an opened file is handed to the agent (`SECCOMP_IOCTL_NOTIF_ADDFD`).
//!   `openat2`, whose flags lie in memory, is refused by the filter (programs fall back).
//! - **Reported** (user notification, then the kernel goes on): opens that write what is
//!   there, `unlink` and `rmdir`. Landlock decides them (a protected file there is bound
//!   read-only); the runner only predicts which Landlock will refuse, so a refusal is an
//!   event the user sees, not only an error the agent may hide. What the agent's memory
//!   says here decides nothing.

use super::Plan;
use super::maker::{self, Make, Outcome};
use std::io;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
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
    /// The maker makes it and its answer is passed on (`pass_on_made`).
    Asked,
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
const NOTIF_ADDFD: libc::c_ulong = 0x4018_2103;
/// Install the descriptor and answer the call with it, in one step.
const ADDFD_FLAG_SEND: u32 = 1 << 1;
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

/// The filter. Refused here, on registers alone: io_uring, `openat2`, socket families an
/// agent has no use for, Unix datagram sockets. The runner makes every `connect` and has
/// the maker make every name; it is shown every write-open (by its flags), `unlink` and
/// `rmdir`. Everything else runs at full speed, unseen.
fn program() -> Vec<libc::sock_filter> {
    let enosys = RET_ERRNO | libc::ENOSYS as u32;
    let no_family = RET_ERRNO | libc::EAFNOSUPPORT as u32;
    let notify_always = [
        libc::SYS_connect,
        libc::SYS_creat,
        libc::SYS_mkdir,
        libc::SYS_mkdirat,
        libc::SYS_mknod,
        libc::SYS_mknodat,
        libc::SYS_symlink,
        libc::SYS_symlinkat,
        libc::SYS_link,
        libc::SYS_linkat,
        libc::SYS_rename,
        libc::SYS_renameat,
        libc::SYS_renameat2,
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
        // Its flags are in memory, where the filter cannot look and the agent could
        // change them: programs fall back to openat.
        jump(BPF_JEQ_K, libc::SYS_openat2 as u32, 0, 1),
        stmt(BPF_RET_K, enosys),
    ];
    // socket(family, type, protocol): IPv4, IPv6 (which reach only the sandbox's own
    // loopback), netlink for routing (how programs list interfaces), Unix sockets that
    // must connect before they send: stream and seqpacket only (a datagram socket, which
    // the kernel also makes of SOCK_RAW, sends to any path it names without a connect the
    // runner makes). Jumps count the instructions they skip.
    p.extend([
        jump(BPF_JEQ_K, libc::SYS_socket as u32, 0, 15),
        stmt(BPF_LD_W_ABS, arg(0)),
        jump(BPF_JEQ_K, libc::AF_INET as u32, 12, 0),
        jump(BPF_JEQ_K, libc::AF_INET6 as u32, 11, 0),
        jump(BPF_JEQ_K, libc::AF_NETLINK as u32, 0, 3),
        stmt(BPF_LD_W_ABS, arg(2)),
        jump(BPF_JEQ_K, libc::NETLINK_ROUTE as u32, 8, 0),
        stmt(BPF_RET_K, no_family),
        jump(BPF_JEQ_K, libc::AF_UNIX as u32, 0, 5),
        stmt(BPF_LD_W_ABS, arg(1)),
        stmt(BPF_ALU_AND_K, SOCK_TYPE_MASK),
        jump(BPF_JEQ_K, libc::SOCK_STREAM as u32, 1, 0),
        jump(BPF_JEQ_K, libc::SOCK_SEQPACKET as u32, 0, 1),
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
/// `refused` for each write or connection it refuses. Runs on a thread of its own; the
/// maker's answers (`maker`) are passed on from a second.
pub fn supervise(listener: OwnedFd, maker: Option<OwnedFd>, plan: &Plan, refused: impl Fn(Refusal) + Sync) {
    std::thread::scope(|scope| {
        if let Some(maker) = &maker {
            scope.spawn(|| pass_on_made(&listener, maker, plan, &refused));
        }
        questions(&listener, maker.as_ref(), plan, &refused);
        // The sandbox is gone: so is the maker, and the thread reading its answers ends.
        if let Some(maker) = &maker {
            let _ = nix::sys::socket::shutdown(maker.as_raw_fd(), nix::sys::socket::Shutdown::Both);
        }
    });
}

fn questions(listener: &OwnedFd, maker: Option<&OwnedFd>, plan: &Plan, refused: &dyn Fn(Refusal)) {
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
            match asked(&n) {
                Ok(Some(asked)) => match maker {
                    Some(maker) => ask_maker(maker, &n, asked, &valid),
                    None => Answer::Fail(libc::EACCES, None),
                },
                Err(errno) => Answer::Fail(errno, None),
                // A write to what is there: Landlock decides. Which it will refuse is
                // only reported.
                Ok(None) => {
                    if let Some(path) = refused_write(plan, &n) {
                        refused(if plan.guards(&path) { Refusal::Protected(path) } else { Refusal::Write(path) });
                    }
                    Answer::GoOn
                }
            }
        };
        let (response, refusal) = match answer {
            Answer::GoOn => (Response { id: n.id, val: 0, error: 0, flags: USER_NOTIF_FLAG_CONTINUE }, None),
            Answer::Fail(errno, what) => (Response { id: n.id, val: 0, error: -errno, flags: 0 }, what),
            Answer::Done => (Response { id: n.id, val: 0, error: 0, flags: 0 }, None),
            Answer::Asked => continue,
        };
        if let (Some(what), true) = (refusal, respond(listener, &response)) {
            refused(what);
        }
    }
}

fn respond(listener: &OwnedFd, response: &Response) -> bool {
    // SAFETY: NOTIF_SEND reads a seccomp_notif_resp.
    unsafe { libc::ioctl(listener.as_raw_fd(), NOTIF_SEND, response as *const Response) == 0 }
}

/// Where a call names a place: the agent's working directory, or one of its descriptors.
enum Base {
    Cwd,
    Fd(i32),
}

/// A call that makes a name, as the maker is asked it: the runner's copies of its paths,
/// and where each is relative to.
struct Asked {
    make: Make,
    bases: Vec<Base>,
}

/// The call in `n` as the maker would make it; `None` for a call that makes no name (an
/// open without `O_CREAT`, `unlink`, `rmdir`).
fn asked(n: &Notif) -> Result<Option<Asked>, i32> {
    let (a, pid) = (n.data.args, n.pid);
    let at_cwd = libc::AT_FDCWD as u64;
    let mut bases = Vec::new();
    // A directory descriptor and a path of the agent's: copied once, and where the path
    // names the agent itself (`/dev/stderr`, `/proc/self/fd/N`), made its descriptor.
    let mut place = |dirfd: u64, ptr: u64| -> Result<(usize, Vec<u8>), i32> {
        let path = read_cstr(pid, ptr).ok_or(libc::EFAULT)?;
        let (base, path) = match the_agent_itself(&path) {
            Some(found) => found,
            // Its terminal, which in the maker would be the maker's (none).
            None if path == b"/dev/tty" => (Base::Fd(controlling_terminal(pid).ok_or(libc::ENXIO)?), Vec::new()),
            None if dirfd as i32 == libc::AT_FDCWD => (Base::Cwd, path),
            None => (Base::Fd(dirfd as i32), path),
        };
        bases.push(base);
        Ok((bases.len() - 1, path))
    };
    let make = match n.data.nr as i64 {
        nr @ (libc::SYS_open | libc::SYS_openat | libc::SYS_creat) => {
            let (dirfd, ptr, flags, mode) = match nr {
                libc::SYS_open => (at_cwd, a[0], a[1] as i32, a[2]),
                libc::SYS_openat => (a[0], a[1], a[2] as i32, a[3]),
                _ => (at_cwd, a[0], libc::O_CREAT | libc::O_WRONLY | libc::O_TRUNC, a[1]),
            };
            // An open to write what is there goes through the maker too: a read-only bind
            // over a protected file is gone once something outside renames over it (your
            // own git rewriting its config), so the name is judged each time, never left to
            // what was bound at the start.
            let writes = flags & libc::O_ACCMODE != libc::O_RDONLY || flags & libc::O_TRUNC != 0;
            if flags & libc::O_CREAT == 0 && !writes {
                return Ok(None);
            }
            let (at, path) = place(dirfd, ptr)?;
            Make::Open { at, path, flags, mode: mode as u32 }
        }
        libc::SYS_mkdir => {
            let (at, path) = place(at_cwd, a[0])?;
            Make::Dir { at, path, mode: a[1] as u32 }
        }
        libc::SYS_mkdirat => {
            let (at, path) = place(a[0], a[1])?;
            Make::Dir { at, path, mode: a[2] as u32 }
        }
        libc::SYS_mknod => {
            let (at, path) = place(at_cwd, a[0])?;
            Make::Node { at, path, mode: a[1] as u32, dev: a[2] }
        }
        libc::SYS_mknodat => {
            let (at, path) = place(a[0], a[1])?;
            Make::Node { at, path, mode: a[2] as u32, dev: a[3] }
        }
        libc::SYS_symlink | libc::SYS_symlinkat => {
            let target = read_cstr(pid, a[0]).ok_or(libc::EFAULT)?;
            let (at, path) =
                if n.data.nr as i64 == libc::SYS_symlink { place(at_cwd, a[1])? } else { place(a[1], a[2])? };
            Make::Symlink { target, at, path }
        }
        libc::SYS_link => {
            let (from_at, from) = place(at_cwd, a[0])?;
            let (at, path) = place(at_cwd, a[1])?;
            Make::Link { from_at, from, at, path, flags: 0 }
        }
        libc::SYS_linkat => {
            let (from_at, from) = place(a[0], a[1])?;
            let (at, path) = place(a[2], a[3])?;
            Make::Link { from_at, from, at, path, flags: a[4] as i32 }
        }
        libc::SYS_rename => {
            let (from_at, from) = place(at_cwd, a[0])?;
            let (at, path) = place(at_cwd, a[1])?;
            Make::Rename { from_at, from, at, path, flags: 0 }
        }
        nr @ (libc::SYS_renameat | libc::SYS_renameat2) => {
            let (from_at, from) = place(a[0], a[1])?;
            let (at, path) = place(a[2], a[3])?;
            let flags = if nr == libc::SYS_renameat2 { a[4] as u32 } else { 0 };
            Make::Rename { from_at, from, at, path, flags }
        }
        _ => return Ok(None),
    };
    Ok(Some(Asked { make, bases }))
}

/// Paths that name the asking process itself: in the maker they would name the maker.
/// `/dev/stdin`, `/dev/stdout`, `/dev/stderr`, `/dev/fd/N…`, `/proc/self/fd/N…`,
/// `/proc/self/cwd…` (and `thread-self`): the descriptor (or working directory) and the
/// rest of the path, empty for the place itself.
fn the_agent_itself(path: &[u8]) -> Option<(Base, Vec<u8>)> {
    for (name, fd) in [(&b"/dev/stdin"[..], 0), (b"/dev/stdout", 1), (b"/dev/stderr", 2)] {
        if path == name {
            return Some((Base::Fd(fd), Vec::new()));
        }
    }
    let rest_of = |rest: &[u8]| rest.iter().skip_while(|&&b| b == b'/').copied().collect::<Vec<u8>>();
    for prefix in [&b"/dev/fd/"[..], b"/proc/self/fd/", b"/proc/thread-self/fd/"] {
        if let Some(tail) = path.strip_prefix(prefix) {
            let end = tail.iter().position(|&b| b == b'/').unwrap_or(tail.len());
            let fd: i32 = std::str::from_utf8(&tail[..end]).ok()?.parse().ok()?;
            return Some((Base::Fd(fd), rest_of(&tail[end..])));
        }
    }
    for prefix in [&b"/proc/self/cwd"[..], b"/proc/thread-self/cwd"] {
        if let Some(tail) = path.strip_prefix(prefix)
            && (tail.is_empty() || tail[0] == b'/')
        {
            return Some((Base::Cwd, rest_of(tail)));
        }
    }
    None
}

/// The descriptor on which thread `pid` holds its controlling terminal: the kernel's own
/// record of it (`tty_nr` in its stat) matched against its open descriptors (a program
/// that opens `/dev/tty` has its terminal on 0, 1 or 2 nearly always).
fn controlling_terminal(pid: u32) -> Option<i32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after_name = &stat[stat.rfind(')')? + 1..];
    let tty_nr: u64 = after_name.split_whitespace().nth(4)?.parse().ok()?;
    if tty_nr == 0 {
        return None;
    }
    let (major, minor) = ((tty_nr >> 8) & 0xfff, (tty_nr & 0xff) | ((tty_nr >> 12) & 0xfff00));
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd")).ok()?;
    let mut fds: Vec<i32> = fds.flatten().filter_map(|e| e.file_name().to_str()?.parse().ok()).collect();
    fds.sort_unstable();
    fds.into_iter().find(|fd| {
        nix::sys::stat::stat(format!("/proc/{pid}/fd/{fd}").as_str()).is_ok_and(|s| {
            s.st_mode & libc::S_IFMT == libc::S_IFCHR
                && libc::major(s.st_rdev) as u64 == major
                && libc::minor(s.st_rdev) as u64 == minor
        })
    })
}

/// Sends the maker what to make, with the agent's directories as the runner took them.
/// Its answer comes back to `pass_on_made`.
fn ask_maker(maker: &OwnedFd, n: &Notif, asked: Asked, valid: &dyn Fn() -> bool) -> Answer {
    let mut dirs = Vec::new();
    for base in &asked.bases {
        let dir = match base {
            Base::Cwd => open_cwd(n.pid),
            Base::Fd(fd) => agents_fd(n.pid, *fd, valid),
        };
        match dir {
            Ok(d) => dirs.push(d),
            Err(e) => return Answer::Fail(e.raw_os_error().unwrap_or(libc::EBADF), None),
        }
    }
    // Taken from the process that asked, not one that took its id since.
    if !valid() {
        return Answer::Fail(libc::ESRCH, None);
    }
    let request = maker::Request { id: n.id, umask: umask_of(n.pid), make: asked.make };
    let Ok(bytes) = serde_json::to_vec(&request) else { return Answer::Fail(libc::ENAMETOOLONG, None) };
    let fds: Vec<_> = dirs.iter().map(|d| d.as_fd()).collect();
    match maker::send(maker.as_fd(), &bytes, &fds) {
        Ok(()) => Answer::Asked,
        // The maker is gone (the agent can end it, and so only itself).
        Err(_) => Answer::Fail(libc::EIO, None),
    }
}

fn open_cwd(pid: u32) -> io::Result<OwnedFd> {
    use nix::fcntl::OFlag;
    nix::fcntl::open(
        format!("/proc/{pid}/cwd").as_str(),
        OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .map_err(io::Error::from)
}

/// The process's umask (what its creations take away from the modes they ask).
fn umask_of(pid: u32) -> u32 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines().find_map(|l| l.strip_prefix("Umask:")).and_then(|u| u32::from_str_radix(u.trim(), 8).ok())
        })
        .unwrap_or(0o022)
}

#[repr(C)]
struct AddFd {
    id: u64,
    flags: u32,
    srcfd: u32,
    newfd: u32,
    newfd_flags: u32,
}

/// Answers the calls the maker made, as its replies come: an opened file becomes the
/// agent's descriptor; a protected path is refused and reported.
fn pass_on_made(listener: &OwnedFd, maker: &OwnedFd, plan: &Plan, refused: &dyn Fn(Refusal)) {
    loop {
        let (bytes, files) = match maker::receive(maker.as_fd()) {
            Ok(Some(m)) => m,
            Ok(None) => continue,
            Err(_) => return,
        };
        let Ok(reply) = serde_json::from_slice::<maker::Reply>(&bytes) else { continue };
        let id = reply.id;
        let fail = |errno: i32| Response { id, val: 0, error: -errno, flags: 0 };
        let (response, refusal) = match reply.outcome {
            Outcome::Made { close_on_exec } => match files.first() {
                Some(file) => {
                    let add = AddFd {
                        id,
                        flags: ADDFD_FLAG_SEND,
                        srcfd: file.as_raw_fd() as u32,
                        newfd: 0,
                        newfd_flags: if close_on_exec { libc::O_CLOEXEC as u32 } else { 0 },
                    };
                    // SAFETY: NOTIF_ADDFD reads a seccomp_notif_addfd; with SEND it answers
                    // the call with the new descriptor.
                    if unsafe { libc::ioctl(listener.as_raw_fd(), NOTIF_ADDFD, &add as *const AddFd) } >= 0 {
                        continue;
                    }
                    let e = io::Error::last_os_error().raw_os_error().unwrap_or(libc::EMFILE);
                    (fail(e), None)
                }
                None => (Response { id, val: 0, error: 0, flags: 0 }, None),
            },
            Outcome::Guarded { at } => (fail(libc::EACCES), Some(Refusal::Protected(path_of(at)))),
            Outcome::Failed { errno, at } => {
                let at = at.map(path_of);
                let refusal = match at {
                    Some(at)
                        if [libc::EACCES, libc::EPERM, libc::EROFS].contains(&errno) && plan.refuses_write(&at) =>
                    {
                        Some(if plan.guards(&at) { Refusal::Protected(at) } else { Refusal::Write(at) })
                    }
                    _ => None,
                };
                (fail(errno), refusal)
            }
        };
        if let (Some(what), true) = (refusal, respond(listener, &response)) {
            refused(what);
        }
    }
}

fn path_of(bytes: Vec<u8>) -> PathBuf {
    PathBuf::from(std::ffi::OsString::from_vec(bytes))
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
    let socket = match agents_fd(n.pid, fd as i32, valid) {
        Ok(s) => s,
        Err(e) => return Answer::Fail(e.raw_os_error().unwrap_or(libc::EBADF), None),
    };
    let family = u16::from_ne_bytes([addr[0], addr[1]]) as i32;
    let allowed = match family {
        libc::AF_INET | libc::AF_INET6 => match ip_of(&addr) {
            Some(ip) if !plan.refuses_connect(&ip) => Ok(()),
            // The sandbox's own loopback, in its own network namespace: only what the agent
            // itself listens on answers there (Codex's MCP server). Nothing answering is
            // reported as a refusal, as an agent reaching for this machine's ports meets it.
            Some(ip) if plan.own_loopback(&ip) => {
                return match raw_connect(&socket, &addr) {
                    Answer::Fail(libc::ECONNREFUSED, None) => {
                        Answer::Fail(libc::ECONNREFUSED, Some(Refusal::Connect(ip)))
                    }
                    answer => answer,
                };
            }
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
        // A socket in a place the agent may write is its own only if a process of its
        // sandbox listens on it: one your programs made there (a project's database, an
        // editor's server) would answer as you. The listener is known once connected.
        Ok(()) if !is_hook && !listened_in_sandbox(socket, pid) => {
            let _ = nix::sys::socket::shutdown(socket.as_raw_fd(), nix::sys::socket::Shutdown::Both);
            refuse(libc::ECONNREFUSED)
        }
        Ok(()) => Answer::Done,
        Err(e) => Answer::Fail(e as i32, None),
    }
}

/// Does a process in the same process-id namespace as `pid` (the sandbox's) listen on
/// the Unix socket `socket` is connected to?
fn listened_in_sandbox(socket: &OwnedFd, pid: u32) -> bool {
    let Ok(peer) = nix::sys::socket::getsockopt(socket, nix::sys::socket::sockopt::PeerCredentials) else {
        return false;
    };
    let ns = |p: i32| std::fs::metadata(format!("/proc/{p}/ns/pid")).ok().map(|m| (m.dev(), m.ino()));
    peer.pid() > 0 && ns(peer.pid()).is_some_and(|theirs| Some(theirs) == ns(pid as i32))
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
fn agents_fd(pid: u32, fd: i32, valid: &dyn Fn() -> bool) -> io::Result<OwnedFd> {
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

/// The path a write to what is there names (an open to write, `unlink`, `rmdir`), when
/// the sandbox would refuse it (for the report).
fn refused_write(plan: &Plan, n: &Notif) -> Option<PathBuf> {
    let a = n.data.args;
    let (pid, nr) = (n.pid, n.data.nr as i64);
    let (dirfd, ptr, opens) = match nr {
        libc::SYS_open => (libc::AT_FDCWD, a[0], true),
        libc::SYS_openat => (a[0] as i32, a[1], true),
        libc::SYS_unlink | libc::SYS_rmdir => (libc::AT_FDCWD, a[0], false),
        _ => (a[0] as i32, a[1], false),
    };
    let named = read_cstr(pid, ptr)?;
    let path = resolve(pid, dirfd, Path::new(std::ffi::OsStr::from_bytes(&named)))?;
    // Most writes are where the agent may write: those need no look at the file. An open
    // to write changes what is there; a removal only what exists.
    (plan.refuses_write(&path) && (opens || path.symlink_metadata().is_ok())).then_some(path)
}

use std::os::unix::ffi::{OsStrExt, OsStringExt};
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

#[cfg(test)]
mod tests {
    use super::*;

    fn itself(path: &str) -> Option<(String, String)> {
        the_agent_itself(path.as_bytes()).map(|(base, rest)| {
            let base = match base {
                Base::Cwd => "cwd".to_string(),
                Base::Fd(n) => format!("fd {n}"),
            };
            (base, String::from_utf8_lossy(&rest).into_owned())
        })
    }

    #[test]
    fn paths_that_name_the_agent_itself_become_its_descriptors() {
        let it = |b: &str, r: &str| Some((b.to_string(), r.to_string()));
        assert_eq!(itself("/dev/stderr"), it("fd 2", ""));
        assert_eq!(itself("/dev/fd/7"), it("fd 7", ""));
        assert_eq!(itself("/proc/self/fd/3/sub/x"), it("fd 3", "sub/x"));
        assert_eq!(itself("/proc/thread-self/fd/4//y"), it("fd 4", "y"));
        assert_eq!(itself("/proc/self/cwd/.envrc"), it("cwd", ".envrc"));
        assert_eq!(itself("/proc/self/cwd"), it("cwd", ""));
        for other in ["/proc/self/cwdx/a", "/dev/stderr2", "/dev/fd/x", "relative/dev/stderr", "/proc/1/cwd/a"] {
            assert_eq!(itself(other), None, "{other}");
        }
    }
}
