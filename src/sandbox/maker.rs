//! The sandbox's maker: every call of an agent's that makes a name in the file system
//! (an open that may create, `mkdir`, `mknod`, `symlink`, `link`, `rename`) is made by this
//! process, not by the kernel going on with the agent's call.
//!
//! Why: the files that make your tools run code (`Plan::read_only`) are bound read-only
//! where they exist, but one that does not exist yet (`.envrc`, `.mcp.json`,
//! `.claude/settings.json` in a fresh repository) has nothing to bind, and Landlock cannot
//! take one name out of a tree it lets the agent write. Judging the agent's path and then
//! letting the kernel go on would not do: the kernel reads the path again, and a second
//! thread of the agent can change it in between. So the runner copies the path once
//! (`seccomp::supervise`), and the maker makes what the copy names.
//!
//! The maker is forked inside the sandbox after Landlock and before the seccomp filter: it
//! sees the agent's file system and is refused what the agent is refused, but its own
//! calls are not sent back to the runner. It holds no capability and cannot be traced or
//! read by the agent (not dumpable). It opens the directory a name is made in first and
//! judges the name there, by where that directory really is: a symlink or a rename
//! elsewhere cannot move it under the judgement. It answers each request by the id of the
//! agent's call; the runner hands an opened file to the agent (`SECCOMP_IOCTL_NOTIF_ADDFD`).

use super::Plan;
use serde::{Deserialize, Serialize};
use std::ffi::CString;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

/// What the agent asked to be made. `at` (and `from_at`) index the descriptors sent with
/// the request: the agent's directory descriptor, or its working directory.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub enum Make {
    /// `openat(at, path, flags, mode)`; an empty path opens `at` itself again (what
    /// `/dev/stderr` or `/proc/self/fd/N` name).
    Open {
        at: usize,
        path: Vec<u8>,
        flags: i32,
        mode: u32,
    },
    Dir {
        at: usize,
        path: Vec<u8>,
        mode: u32,
    },
    Node {
        at: usize,
        path: Vec<u8>,
        mode: u32,
        dev: u64,
    },
    Symlink {
        target: Vec<u8>,
        at: usize,
        path: Vec<u8>,
    },
    Link {
        from_at: usize,
        from: Vec<u8>,
        at: usize,
        path: Vec<u8>,
        flags: i32,
    },
    Rename {
        from_at: usize,
        from: Vec<u8>,
        at: usize,
        path: Vec<u8>,
        flags: u32,
    },
}

/// A request: the id of the agent's call, the agent's umask, what to make.
#[derive(Serialize, Deserialize, Debug)]
pub struct Request {
    pub id: u64,
    pub umask: u32,
    pub make: Make,
}

/// How a request ended. `at` is where, as the sandbox sees it (for the refusal the user
/// is shown).
#[derive(Serialize, Deserialize, Debug, PartialEq)]
pub enum Outcome {
    /// Made (an open sends the file with the reply, to be the agent's descriptor, closed
    /// on exec or not as it asked).
    Made {
        close_on_exec: bool,
    },
    Failed {
        errno: i32,
        at: Option<Vec<u8>>,
    },
    /// A protected path, or a place on the way to one: refused.
    Guarded {
        at: Vec<u8>,
    },
}

#[derive(Serialize, Deserialize, Debug)]
pub struct Reply {
    pub id: u64,
    pub outcome: Outcome,
}

/// The largest request or reply: two paths of `PATH_MAX`, as JSON numbers.
const MESSAGE_MAX: usize = 64 * 1024;

/// Starts the maker, returning the runner's end of its line. Called by the sandbox's
/// helper while it has one thread. The maker is its grandchild: it is never the agent's
/// child (whose `wait` would find it), and it ends when the runner closes the line or the
/// sandbox's PID namespace ends.
pub fn start(plan: &Plan) -> io::Result<OwnedFd> {
    use nix::sys::socket::{AddressFamily, SockFlag, SockType, socketpair};
    let (runners, makers) = socketpair(AddressFamily::Unix, SockType::SeqPacket, None, SockFlag::SOCK_CLOEXEC)
        .map_err(|e| io::Error::other(format!("cannot make the maker's line: {e}")))?;
    // SAFETY: the caller has one thread; the child only forks again and exits.
    match unsafe { nix::unistd::fork() }.map_err(|e| io::Error::other(format!("cannot start the maker: {e}")))? {
        nix::unistd::ForkResult::Parent { child } => {
            drop(makers);
            let _ = nix::sys::wait::waitpid(child, None);
            Ok(runners)
        }
        nix::unistd::ForkResult::Child => {
            // SAFETY: as above; the grandchild never returns into the caller's code.
            if let Ok(nix::unistd::ForkResult::Child) = unsafe { nix::unistd::fork() } {
                let line = keep_only(makers);
                become_maker();
                serve(&line, plan)
            }
            // SAFETY: ends the intermediate child without running the caller's destructors.
            unsafe { libc::_exit(0) }
        }
    }
}

/// Closes every descriptor the maker inherited but its line and the terminal's three.
fn keep_only(line: OwnedFd) -> OwnedFd {
    const LINE: RawFd = 3;
    // SAFETY: dup2 onto 3 (the helper's line to the runner, not the maker's), then close
    // the rest; nothing in this process uses them again.
    unsafe {
        if line.as_raw_fd() != LINE {
            libc::dup2(line.as_raw_fd(), LINE);
        }
        libc::close_range(LINE as u32 + 1, u32::MAX, 0);
        std::mem::forget(line);
        OwnedFd::from_raw_fd(LINE)
    }
}

/// No capability (so it is refused what the agent is), not traceable or readable by the
/// agent, which runs as the same user.
fn become_maker() {
    // SAFETY: prctl with integer arguments, and a NUL-terminated name.
    unsafe {
        libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0);
        libc::prctl(libc::PR_SET_NAME, c"sandbox-maker".as_ptr(), 0, 0, 0);
    }
    let _ = super::enter::drop_capabilities();
    // Dropping the bounding set keeps what is held now: clear that too (an exec would).
    #[repr(C)]
    struct Header {
        version: u32,
        pid: i32,
    }
    #[repr(C)]
    #[derive(Clone, Copy)]
    struct Data {
        effective: u32,
        permitted: u32,
        inheritable: u32,
    }
    const VERSION_3: u32 = 0x2008_0522;
    let header = Header { version: VERSION_3, pid: 0 };
    let none = [Data { effective: 0, permitted: 0, inheritable: 0 }; 2];
    // SAFETY: capset reads a header and two data structs we pass.
    unsafe { libc::syscall(libc::SYS_capset, &header as *const Header, none.as_ptr()) };
}

/// Answers requests until the runner closes the line.
fn serve(line: &OwnedFd, plan: &Plan) -> ! {
    loop {
        let (bytes, fds) = match receive(line.as_fd()) {
            Ok(Some(m)) => m,
            Ok(None) => continue,
            // SAFETY: the runner is gone; nothing of the helper's to clean up.
            Err(_) => unsafe { libc::_exit(0) },
        };
        let Ok(request) = serde_json::from_slice::<Request>(&bytes) else { continue };
        // SAFETY: umask sets this process's mask; the maker makes one thing at a time here.
        unsafe { libc::umask(request.umask as libc::mode_t) };
        let id = request.id;
        let outcome = match make(plan, &request.make, &fds) {
            Done::Made(file) => {
                let made = Outcome::Made { close_on_exec: made_close_on_exec(&request.make) };
                let _ = reply(line.as_fd(), id, made, file.as_ref());
                continue;
            }
            Done::Refused(outcome) => outcome,
            Done::Waiting(parent, name, flags, mode) => {
                // A FIFO no reader has opened yet: the open waits for one, on a thread of
                // its own, and the maker goes on with other requests meanwhile.
                let Ok(line) = line.try_clone() else { continue };
                std::thread::spawn(move || {
                    let opened = open_at(parent.as_raw_fd(), &name, flags, mode);
                    let (outcome, file) = match opened {
                        Ok(f) => (Outcome::Made { close_on_exec: flags & libc::O_CLOEXEC != 0 }, Some(f)),
                        Err(e) => (Outcome::Failed { errno: errno(&e), at: None }, None),
                    };
                    let _ = reply(line.as_fd(), id, outcome, file.as_ref());
                });
                continue;
            }
        };
        let _ = reply(line.as_fd(), id, outcome, None);
    }
}

fn made_close_on_exec(m: &Make) -> bool {
    matches!(m, Make::Open { flags, .. } if flags & libc::O_CLOEXEC != 0)
}

enum Done {
    Made(Option<OwnedFd>),
    Refused(Outcome),
    /// An open of a FIFO that waits for its other end: the directory, the name, the flags.
    Waiting(OwnedFd, Vec<u8>, i32, u32),
}

fn errno(e: &io::Error) -> i32 {
    e.raw_os_error().unwrap_or(libc::EIO)
}

/// Makes what `m` asks, judging each name it makes, moves or links.
fn make(plan: &Plan, m: &Make, fds: &[OwnedFd]) -> Done {
    match try_make(plan, m, fds) {
        Ok(done) | Err(done) => done,
    }
}

fn try_make(plan: &Plan, m: &Make, fds: &[OwnedFd]) -> Result<Done, Done> {
    let dir =
        |i: usize| fds.get(i).map(|f| f.as_fd()).ok_or(Done::Refused(Outcome::Failed { errno: libc::EBADF, at: None }));
    let place = |at: usize, path: &[u8], allow: Allow| Place::judged(plan, dir(at)?, path, allow);
    let c_string =
        |b: &[u8]| CString::new(b).map_err(|_| Done::Refused(Outcome::Failed { errno: libc::EINVAL, at: None }));
    // SAFETY (each call below): directory descriptors we hold and C strings.
    Ok(match m {
        Make::Open { at, path, flags, mode } => open(plan, dir(*at)?, path, *flags, *mode),
        Make::Dir { at, path, mode } => {
            // A directory may be made on the way to a protected path; not the path itself.
            let p = place(*at, path, Allow::OnTheWay)?;
            p.result(unsafe { libc::mkdirat(p.dir.as_raw_fd(), p.cname().as_ptr(), *mode as libc::mode_t) })
        }
        Make::Node { at, path, mode, dev } => {
            let p = place(*at, path, Allow::Nothing)?;
            let (mode, dev) = (*mode as libc::mode_t, *dev as libc::dev_t);
            p.result(unsafe { libc::mknodat(p.dir.as_raw_fd(), p.cname().as_ptr(), mode, dev) })
        }
        Make::Symlink { target, at, path } => {
            let p = place(*at, path, Allow::Nothing)?;
            let target = c_string(target)?;
            p.result(unsafe { libc::symlinkat(target.as_ptr(), p.dir.as_raw_fd(), p.cname().as_ptr()) })
        }
        Make::Link { from_at, from, at, path, flags } => {
            // A second name for a protected file would be a way to write it: what is linked
            // is opened once, judged by where it really is, and linked from that descriptor
            // (so nothing can swap it in between).
            let from_at = dir(*from_at)?;
            let source = match from.is_empty() {
                true => None,
                false => {
                    let follow = if flags & libc::AT_SYMLINK_FOLLOW != 0 { 0 } else { libc::O_NOFOLLOW };
                    let opened = open_at(from_at.as_raw_fd(), from, libc::O_PATH | follow, 0);
                    Some(opened.map_err(|e| Done::Refused(Outcome::Failed { errno: errno(&e), at: None }))?)
                }
            };
            judge_open_file(plan, source.as_ref().map_or(from_at, |s| s.as_fd()), libc::O_RDWR)?;
            let p = place(*at, path, Allow::Nothing)?;
            let r = match &source {
                Some(source) => {
                    let magic = c_string(format!("/proc/self/fd/{}", source.as_raw_fd()).as_bytes())?;
                    let new = p.dir.as_raw_fd();
                    unsafe {
                        libc::linkat(libc::AT_FDCWD, magic.as_ptr(), new, p.cname().as_ptr(), libc::AT_SYMLINK_FOLLOW)
                    }
                }
                None => {
                    let (old, new) = (from_at.as_raw_fd(), p.dir.as_raw_fd());
                    unsafe { libc::linkat(old, c"".as_ptr(), new, p.cname().as_ptr(), *flags) }
                }
            };
            p.result(r)
        }
        Make::Rename { from_at, from, at, path, flags } => {
            // Neither what moves nor where it goes may be protected or on the way to it.
            let source = place(*from_at, from, Allow::Nothing)?;
            let p = place(*at, path, Allow::Nothing)?;
            let (old, new) = (source.cname(), p.cname());
            let r = unsafe {
                libc::syscall(
                    libc::SYS_renameat2,
                    source.dir.as_raw_fd(),
                    old.as_ptr(),
                    p.dir.as_raw_fd(),
                    new.as_ptr(),
                    *flags,
                )
            };
            p.result(r as libc::c_int)
        }
    })
}

/// What a place on the way to a protected path may become.
#[derive(Clone, Copy, PartialEq)]
enum Allow {
    OnTheWay,
    Nothing,
}

/// Where a path makes its last name: the directory, held open, and the name (as the path
/// gave it, trailing slashes and all, for the call; without them, for the judgement).
struct Place {
    dir: OwnedFd,
    name: Vec<u8>,
    bare: Vec<u8>,
}

impl Place {
    fn find(at: BorrowedFd, path: &[u8]) -> io::Result<Place> {
        if path.is_empty() {
            return Err(io::Error::from_raw_os_error(libc::ENOENT));
        }
        let trimmed = {
            let end = path.iter().rposition(|&b| b != b'/').map_or(0, |i| i + 1);
            &path[..end]
        };
        if trimmed.is_empty() {
            // `/` itself: nothing can be made there.
            return Ok(Place { dir: open_dir(at, b"/")?, name: b".".to_vec(), bare: b".".to_vec() });
        }
        let (dir, name) = match trimmed.iter().rposition(|&b| b == b'/') {
            Some(0) => (open_dir(at, b"/")?, &path[1..]),
            Some(i) => (open_dir(at, &path[..i])?, &path[i + 1..]),
            None => (open_dir(at, b".")?, path),
        };
        let bare = name.iter().take_while(|&&b| b != b'/').copied().collect();
        Ok(Place { dir, name: name.to_vec(), bare })
    }

    /// The place `path` names from `at`, unless it is protected (or, but for a
    /// directory, on the way to a protected path).
    fn judged(plan: &Plan, at: BorrowedFd, path: &[u8], allow: Allow) -> Result<Place, Done> {
        let place = Place::find(at, path).map_err(|e| Done::Refused(Outcome::Failed { errno: errno(&e), at: None }))?;
        match place.judge(plan, allow) {
            Some(refused) => Err(refused),
            None => Ok(place),
        }
    }

    /// Where the name is, as the sandbox sees it: where its directory really is now.
    fn at(&self) -> Option<PathBuf> {
        let dir = std::fs::read_link(format!("/proc/self/fd/{}", self.dir.as_raw_fd())).ok()?;
        Some(dir.join(std::ffi::OsStr::from_bytes(&self.bare)))
    }

    /// A refusal when the name is protected (or, but for a directory, on the way to a
    /// protected path). `.` and `..` make nothing: the call itself fails.
    fn judge(&self, plan: &Plan, allow: Allow) -> Option<Done> {
        if self.bare == b"." || self.bare == b".." {
            return None;
        }
        let Some(at) = self.at() else {
            return Some(Done::Refused(Outcome::Failed { errno: libc::EACCES, at: None }));
        };
        let guarded = plan.guards(&at) || (allow == Allow::Nothing && plan.on_the_way_to_guarded(&at));
        guarded.then(|| Done::Refused(Outcome::Guarded { at: at.as_os_str().as_bytes().to_vec() }))
    }

    fn cname(&self) -> CString {
        // Paths came from C strings: no NUL inside.
        CString::new(self.name.clone()).unwrap_or_default()
    }

    fn result(&self, r: libc::c_int) -> Done {
        if r == 0 {
            return Done::Made(None);
        }
        let e = io::Error::last_os_error();
        Done::Refused(Outcome::Failed { errno: errno(&e), at: self.at().map(|p| p.as_os_str().as_bytes().to_vec()) })
    }
}

fn open_dir(at: BorrowedFd, path: &[u8]) -> io::Result<OwnedFd> {
    let path = CString::new(path).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
    // SAFETY: a descriptor and a C string; the result is a new descriptor or -1.
    let fd = unsafe { libc::openat(at.as_raw_fd(), path.as_ptr(), libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: just opened.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

fn open_at(dir: RawFd, name: &[u8], flags: i32, mode: u32) -> io::Result<OwnedFd> {
    let name = CString::new(name).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
    // SAFETY: as open_dir.
    let fd = unsafe { libc::openat(dir, name.as_ptr(), flags | libc::O_CLOEXEC, mode as libc::c_uint) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: just opened.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// An open that may create: the last name is judged in its directory and opened without
/// following a symlink there; a symlink is followed by judging where it leads, as the
/// kernel would have followed it (up to its limit of 40).
fn open(plan: &Plan, at: BorrowedFd, path: &[u8], flags: i32, mode: u32) -> Done {
    let failed = |e: io::Error, at: Option<Vec<u8>>| Done::Refused(Outcome::Failed { errno: errno(&e), at });
    if path.is_empty() {
        // `at` itself, again (a magic link the runner read for the agent): opened to write,
        // it is judged by where it is, as a path to it would be (a protected file opened to
        // read, then again through /proc/self/fd to write).
        if let Err(refused) = judge_open_file(plan, at, flags) {
            return refused;
        }
        let again = format!("/proc/self/fd/{}", at.as_raw_fd());
        return match open_at(libc::AT_FDCWD, again.as_bytes(), flags & !libc::O_CREAT, mode) {
            Ok(f) => Done::Made(Some(f)),
            Err(e) => failed(e, None),
        };
    }
    let follows =
        flags & libc::O_NOFOLLOW == 0 && flags & (libc::O_CREAT | libc::O_EXCL) != libc::O_CREAT | libc::O_EXCL;
    let mut from: Option<OwnedFd> = None;
    let mut path = path.to_vec();
    for _ in 0..40 {
        let base = from.as_ref().map_or(at, |f| f.as_fd());
        let place = match Place::judged(plan, base, &path, Allow::Nothing) {
            Ok(p) => p,
            Err(refused) => return refused,
        };
        // Opened without waiting (a FIFO with no reader yet would hold the maker), then
        // made to block again if the agent did not ask otherwise.
        let waits = flags & libc::O_NONBLOCK == 0;
        match open_at(place.dir.as_raw_fd(), &place.name, flags | libc::O_NOFOLLOW | libc::O_NONBLOCK, mode) {
            Ok(file) => {
                if waits {
                    let _ = nix::fcntl::fcntl(
                        &file,
                        nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::from_bits_truncate(
                            (flags | libc::O_NOFOLLOW) & !libc::O_NONBLOCK & SETFL_FLAGS,
                        )),
                    );
                }
                return Done::Made(Some(file));
            }
            Err(e) if e.raw_os_error() == Some(libc::ENXIO) && waits && is_fifo(&place) => {
                return Done::Waiting(place.dir, place.name, flags | libc::O_NOFOLLOW, mode);
            }
            Err(e) if e.raw_os_error() == Some(libc::ELOOP) && follows => {
                let Ok(target) = nix::fcntl::readlinkat(&place.dir, std::ffi::OsStr::from_bytes(&place.name)) else {
                    return failed(e, place.at().map(|p| p.as_os_str().as_bytes().to_vec()));
                };
                path = target.as_bytes().to_vec();
                from = Some(place.dir);
            }
            Err(e) => return failed(e, place.at().map(|p| p.as_os_str().as_bytes().to_vec())),
        }
    }
    Done::Refused(Outcome::Failed { errno: libc::ELOOP, at: None })
}

/// Refuses opening the file `fd` holds again with `flags` when those write and the file is
/// protected (or where it is cannot be told).
fn judge_open_file(plan: &Plan, fd: BorrowedFd, flags: i32) -> Result<(), Done> {
    let writes = flags & (libc::O_WRONLY | libc::O_RDWR | libc::O_TRUNC | libc::O_APPEND) != 0;
    if !writes {
        return Ok(());
    }
    let at = std::fs::read_link(format!("/proc/self/fd/{}", fd.as_raw_fd()))
        .map_err(|_| Done::Refused(Outcome::Failed { errno: libc::EACCES, at: None }))?;
    match plan.guards(&at) || plan.on_the_way_to_guarded(&at) {
        true => Err(Done::Refused(Outcome::Guarded { at: at.as_os_str().as_bytes().to_vec() })),
        false => Ok(()),
    }
}

/// The status flags `F_SETFL` changes (the rest it ignores).
const SETFL_FLAGS: i32 = libc::O_APPEND | libc::O_ASYNC | libc::O_DIRECT | libc::O_NOATIME | libc::O_NONBLOCK;

fn is_fifo(place: &Place) -> bool {
    nix::sys::stat::fstatat(
        &place.dir,
        std::ffi::OsStr::from_bytes(&place.name),
        nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW,
    )
    .is_ok_and(|s| s.st_mode & libc::S_IFMT == libc::S_IFIFO)
}

/// Sends `bytes` with descriptors `fds` as one message.
pub fn send(line: BorrowedFd, bytes: &[u8], fds: &[BorrowedFd]) -> io::Result<()> {
    use nix::sys::socket::{ControlMessage, MsgFlags, sendmsg};
    let raw: Vec<RawFd> = fds.iter().map(|f| f.as_raw_fd()).collect();
    let iov = [io::IoSlice::new(bytes)];
    let cmsg = [ControlMessage::ScmRights(&raw)];
    let cmsgs: &[ControlMessage] = if raw.is_empty() { &[] } else { &cmsg };
    sendmsg::<()>(line.as_raw_fd(), &iov, cmsgs, MsgFlags::MSG_NOSIGNAL, None)?;
    Ok(())
}

/// One message and its descriptors; `None` for one too large (dropped); an error when the
/// other end is gone.
pub fn receive(line: BorrowedFd) -> io::Result<Option<(Vec<u8>, Vec<OwnedFd>)>> {
    use nix::sys::socket::{ControlMessageOwned, MsgFlags, recvmsg};
    let mut buf = vec![0u8; MESSAGE_MAX];
    let mut iov = [io::IoSliceMut::new(&mut buf)];
    let mut space = nix::cmsg_space!([RawFd; 4]);
    let msg = recvmsg::<()>(line.as_raw_fd(), &mut iov, Some(&mut space), MsgFlags::MSG_CMSG_CLOEXEC)?;
    let mut fds = Vec::new();
    for c in msg.cmsgs()? {
        if let ControlMessageOwned::ScmRights(raw) = c {
            // SAFETY: the kernel just installed these descriptors in our table.
            fds.extend(raw.into_iter().map(|fd| unsafe { OwnedFd::from_raw_fd(fd) }));
        }
    }
    let (n, truncated) = (msg.bytes, msg.flags.contains(MsgFlags::MSG_TRUNC));
    if n == 0 {
        return Err(io::Error::from(io::ErrorKind::UnexpectedEof));
    }
    Ok((!truncated).then(|| (buf[..n].to_vec(), fds)))
}

fn reply(line: BorrowedFd, id: u64, outcome: Outcome, file: Option<&OwnedFd>) -> io::Result<()> {
    let bytes = serde_json::to_vec(&Reply { id, outcome }).map_err(io::Error::other)?;
    let fds: Vec<BorrowedFd> = file.map(|f| f.as_fd()).into_iter().collect();
    send(line, &bytes, &fds)
}
