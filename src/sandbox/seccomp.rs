//! Seeing what the sandbox refuses. Landlock and the empty network refuse quietly: the
//! agent sees an error and may say nothing. So the sandboxed process installs a seccomp
//! filter that stops at each write-open, directory change and connection and asks the
//! runner (seccomp user notification). The runner answers "go on" (Landlock and the
//! namespaces still decide) or refuses it itself and records the refusal as an event.
//! Everything else runs at full speed, unseen.

use super::Plan;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};

/// A refused write or connection.
#[derive(Clone, Debug, PartialEq)]
pub enum Refusal {
    Write(PathBuf),
    Connect(std::net::SocketAddr),
}

impl Refusal {
    pub fn describe(&self) -> String {
        match self {
            Refusal::Write(p) => format!("write to {} (outside what the agent may write)", p.display()),
            Refusal::Connect(a) => format!("connection to {a} (only the proxy is reachable)"),
        }
    }
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

/// The filter: notify on connect, on opens that write (by their flags), on mkdir and
/// unlink; refuse io_uring (whose opens no filter sees) so programs fall back to plain
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
pub fn supervise(listener: OwnedFd, plan: Plan, refused: impl Fn(Refusal)) {
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
        let refusal = judge(&plan, &n);
        // The memory we read must still be the process that asked.
        let valid = unsafe { libc::ioctl(listener.as_raw_fd(), NOTIF_ID_VALID, &n.id as *const u64) } == 0;
        let mut r = Response { id: n.id, val: 0, error: 0, flags: USER_NOTIF_FLAG_CONTINUE };
        if let (Some(what), true) = (&refusal, valid) {
            let errno = match what {
                Refusal::Write(_) => libc::EACCES,
                Refusal::Connect(_) => libc::ECONNREFUSED,
            };
            r = Response { id: n.id, val: 0, error: -errno, flags: 0 };
        }
        // SAFETY: NOTIF_SEND reads a seccomp_notif_resp.
        unsafe { libc::ioctl(listener.as_raw_fd(), NOTIF_SEND, &r as *const Response) };
        if let (Some(what), true) = (refusal, valid) {
            refused(what);
        }
    }
}

/// Would the sandbox refuse this call? `None`: let it go on.
fn judge(plan: &Plan, n: &Notif) -> Option<Refusal> {
    let a = n.data.args;
    let pid = n.pid;
    let at = |dirfd: u64, ptr: u64| path_of(pid, dirfd as i32, ptr);
    let nr = n.data.nr as i64;
    if nr == libc::SYS_connect {
        let addr = sockaddr(pid, a[1], a[2] as usize)?;
        return plan.refuses_connect(&addr).then_some(Refusal::Connect(addr));
    }
    let path = match nr {
        libc::SYS_open | libc::SYS_creat | libc::SYS_mkdir | libc::SYS_unlink | libc::SYS_rmdir => {
            at(libc::AT_FDCWD as u64, a[0])
        }
        libc::SYS_openat | libc::SYS_openat2 | libc::SYS_mkdirat | libc::SYS_unlinkat => at(a[0], a[1]),
        _ => None,
    }?;
    // Making a directory that is there already fails on its own, refused or not.
    let mkdir = [libc::SYS_mkdir, libc::SYS_mkdirat].contains(&nr);
    (plan.refuses_write(&path) && !(mkdir && path.exists())).then_some(Refusal::Write(path))
}

/// The absolute path a process means by `ptr` relative to `dirfd`.
fn path_of(pid: u32, dirfd: i32, ptr: u64) -> Option<PathBuf> {
    use std::os::unix::ffi::OsStrExt;
    let bytes = read_cstr(pid, ptr)?;
    let path = Path::new(std::ffi::OsStr::from_bytes(&bytes));
    if path.is_absolute() {
        return Some(path.to_path_buf());
    }
    let base = if dirfd == libc::AT_FDCWD {
        std::fs::read_link(format!("/proc/{pid}/cwd")).ok()?
    } else {
        std::fs::read_link(format!("/proc/{pid}/fd/{dirfd}")).ok()?
    };
    Some(base.join(path))
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

/// An IPv4 or IPv6 address a process connects to (`None` for other families: Unix
/// sockets are left to the filesystem's protections).
fn sockaddr(pid: u32, ptr: u64, len: usize) -> Option<std::net::SocketAddr> {
    let mut buf = vec![0u8; len.min(128)];
    if read_mem(pid, ptr, &mut buf) < 2 {
        return None;
    }
    let family = u16::from_ne_bytes([buf[0], buf[1]]) as i32;
    let port = u16::from_be_bytes([*buf.get(2)?, *buf.get(3)?]);
    match family {
        libc::AF_INET => {
            let ip: [u8; 4] = buf.get(4..8)?.try_into().ok()?;
            Some((std::net::Ipv4Addr::from(ip), port).into())
        }
        libc::AF_INET6 => {
            let ip: [u8; 16] = buf.get(8..24)?.try_into().ok()?;
            Some((std::net::Ipv6Addr::from(ip), port).into())
        }
        _ => None,
    }
}
