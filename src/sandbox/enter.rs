//! `teamster sandbox-exec -- PROGRAM…`: the pane's first program for a sandboxed agent.
//! It reads its plan from descriptor 3 (a socket the runner made), confines itself by it,
//! hands back on the same socket what the runner needs to serve and watch it, and becomes
//! the agent.
//!
//! The order matters: namespaces first (they give the capabilities the rest needs, inside
//! only), the proxy's listening socket while the network is ours to set up, mounts before
//! Landlock (which forbids them), the maker after Landlock (which binds it too) and before
//! the seccomp filter (which must not send its calls back to the runner), exec last.

use super::{Feature, Plan};
use std::ffi::CString;
use std::io::{self, BufRead};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::net::UnixStream;
use std::path::Path;

/// The descriptor the runner leaves open for the helper.
pub const REPORT_FD: RawFd = 3;

/// Puts the runner's line `fd` at `REPORT_FD` in a child about to exec the helper.
/// Async-signal-safe: for `pre_exec`.
pub fn place_line(fd: RawFd) -> io::Result<()> {
    // dup2 clears close-on-exec on the copy; a descriptor already at 3 keeps it.
    // SAFETY: fcntl and dup2 on descriptors of this process.
    let r = unsafe { if fd == REPORT_FD { libc::fcntl(fd, libc::F_SETFD, 0) } else { libc::dup2(fd, REPORT_FD) } };
    if r < 0 { Err(io::Error::last_os_error()) } else { Ok(()) }
}

/// Why this kernel cannot give `feature` to an unprivileged process, if it cannot.
pub fn kernel_lacks(feature: Feature) -> Option<String> {
    let read = |f: &str| std::fs::read_to_string(f).ok().map(|s| s.trim().to_string());
    match feature {
        Feature::Landlock => match landlock_abi() {
            None => Some("Landlock is not enabled (kernel 5.13 or later, with landlock in the lsm= list)".into()),
            Some(_) => None,
        },
        Feature::Namespaces => {
            if read("/proc/sys/kernel/unprivileged_userns_clone").as_deref() == Some("0") {
                return Some("unprivileged user namespaces are off (sysctl kernel.unprivileged_userns_clone=1)".into());
            }
            if read("/proc/sys/kernel/apparmor_restrict_unprivileged_userns").as_deref() == Some("1") {
                return Some(
                    "AppArmor takes the capabilities from unprivileged user namespaces (sysctl kernel.apparmor_restrict_unprivileged_userns=0, or an AppArmor profile for teamster)"
                        .into(),
                );
            }
            let zero = |f: &str| read(f).as_deref() == Some("0");
            if zero("/proc/sys/user/max_user_namespaces") || zero("/proc/sys/user/max_net_namespaces") {
                return Some("user or network namespaces are limited to none (sysctl user.max_user_namespaces)".into());
            }
            None
        }
        // Seccomp user notification that can let a call go on and that the runner can
        // connect on the agent's behalf through (pidfd_getfd): Linux 5.10.
        Feature::Seccomp => {
            let release = nix::sys::utsname::uname().ok()?.release().to_string_lossy().into_owned();
            let mut parts = release.split(|c: char| !c.is_ascii_digit()).filter_map(|p| p.parse::<u32>().ok());
            let version = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
            (version < (5, 10)).then(|| format!("seccomp user notification needs Linux 5.10; this is {release}"))
        }
    }
}

/// The kernel's Landlock ABI version, if it has Landlock.
pub fn landlock_abi() -> Option<i64> {
    // SAFETY: LANDLOCK_CREATE_RULESET_VERSION only returns the version.
    let v = unsafe { libc::syscall(libc::SYS_landlock_create_ruleset, std::ptr::null::<u8>(), 0usize, 1u32) };
    (v > 0).then_some(v)
}

/// What Landlock at `abi` does not cover that later versions do.
pub fn landlock_gaps(abi: i64) -> Vec<&'static str> {
    let mut gaps = Vec::new();
    if abi < 3 {
        gaps.push("truncating files outside the workspace (ABI 3)");
    }
    if abi < 4 {
        gaps.push("TCP connections (ABI 4; the network namespace still confines them)");
    }
    if abi < 6 {
        gaps.push("signals to processes outside the sandbox, and abstract Unix sockets (ABI 6)");
    }
    gaps
}

/// Runs the helper: never returns unless something failed (then the caller prints the
/// error and exits 126, as a shell does for a program it cannot run).
///
/// With namespaces, the sandbox has its own process ids: this process stays outside and
/// passes on the exit status of the sandbox's first process, which mounts the sandbox's
/// own `/proc`, confines itself, and stays as its init (reaping, passing signals on) while
/// the agent runs as its child. No process in the sandbox sees another pane's processes,
/// their command lines or their environment.
pub fn run(argv: &[String]) -> io::Result<std::convert::Infallible> {
    let Some(program) = argv.first() else {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, "no program given after --"));
    };
    // SAFETY: descriptor 3 was left open for us by the runner; we own it from here.
    let line = UnixStream::from(unsafe { OwnedFd::from_raw_fd(REPORT_FD) });
    let mut plan = String::new();
    io::BufReader::new(&line).read_line(&mut plan).map_err(|e| with_context(e, "cannot read the sandbox plan"))?;
    let plan: Plan = serde_json::from_str(&plan)
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, format!("the sandbox plan is not valid: {e}")))?;
    let uses = |f: Feature| !plan.skip.contains(&f);
    let mut handed: Vec<OwnedFd> = Vec::new();
    let mut words: Vec<&str> = Vec::new();
    if uses(Feature::Namespaces) {
        enter_namespaces()?;
        handed.push(listen_on_loopback(plan.port)?);
        words.push("listener");
        let signals = hold_signals()?;
        // SAFETY: this process has one thread; the child only carries on with this code.
        match unsafe { nix::unistd::fork() }.map_err(|e| with_context(e.into(), "cannot start the sandbox"))? {
            nix::unistd::ForkResult::Parent { child } => {
                drop(handed);
                drop(line);
                pass_on(child, &signals);
            }
            nix::unistd::ForkResult::Child => {
                // The sandbox ends with this helper, whatever ends it.
                // SAFETY: prctl with integer arguments.
                unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) };
            }
        }
        // The working directory was taken before the mounts: it still leads to the
        // files beneath them. Taken again by its path, it leads through them.
        let cwd = std::env::current_dir().map_err(|e| with_context(e, "cannot find the working directory"))?;
        cover(&plan)?;
        protect(&plan)?;
        std::env::set_current_dir(&cwd).map_err(|e| with_context(e, "cannot enter the workspace"))?;
    }
    no_new_privs()?;
    if uses(Feature::Landlock) {
        landlock(&plan)?;
    }
    if uses(Feature::Seccomp) {
        // The maker first: it is refused what Landlock refuses the agent, but its own
        // calls must not come back to the runner through the filter.
        let maker = super::maker::start(&plan).map_err(|e| with_context(e, "cannot start the sandbox's maker"))?;
        handed.push(super::seccomp::install().map_err(|e| with_context(e, "cannot install the seccomp filter"))?);
        handed.push(maker);
        words.extend(["seccomp", "maker"]);
    }
    send_fds(&line, &words.join(" "), &handed)?;
    drop(handed);
    drop(line);
    if uses(Feature::Namespaces) {
        let signals = hold_signals()?;
        // SAFETY: as above, one thread.
        if let nix::unistd::ForkResult::Parent { child } =
            unsafe { nix::unistd::fork() }.map_err(|e| with_context(e.into(), "cannot start the agent"))?
        {
            pass_on(child, &signals);
        }
        release_signals(&signals);
        drop_capabilities()?;
    }
    let err = exec(program, argv);
    Err(with_context(err, &format!("cannot start `{program}`")))
}

/// The agent gets no capability, not even inside its own namespaces, where it would be
/// root when you are (it could otherwise unmount what covers your sockets, were Landlock
/// missing): none kept, none gained at exec, none ever again.
pub(super) fn drop_capabilities() -> io::Result<()> {
    const SECBIT_NOROOT: libc::c_ulong = 1 << 0;
    const SECBIT_NOROOT_LOCKED: libc::c_ulong = 1 << 1;
    const SECBIT_NO_SETUID_FIXUP: libc::c_ulong = 1 << 2;
    const SECBIT_NO_SETUID_FIXUP_LOCKED: libc::c_ulong = 1 << 3;
    const SECBIT_NO_CAP_AMBIENT_RAISE: libc::c_ulong = 1 << 6;
    const SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED: libc::c_ulong = 1 << 7;
    let bits = SECBIT_NOROOT
        | SECBIT_NOROOT_LOCKED
        | SECBIT_NO_SETUID_FIXUP
        | SECBIT_NO_SETUID_FIXUP_LOCKED
        | SECBIT_NO_CAP_AMBIENT_RAISE
        | SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED;
    // SAFETY: prctl with integer arguments.
    check(unsafe { libc::prctl(libc::PR_SET_SECUREBITS, bits, 0, 0, 0) }, "cannot lock the sandbox's privileges")?;
    for cap in 0..=63 {
        // SAFETY: as above; capabilities this kernel does not know answer EINVAL.
        if unsafe { libc::prctl(libc::PR_CAPBSET_DROP, cap, 0, 0, 0) } < 0 {
            break;
        }
    }
    // SAFETY: as above.
    unsafe { libc::prctl(libc::PR_CAP_AMBIENT, libc::PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) };
    Ok(())
}

/// Signals this process and the sandbox's init pass on to their child rather than act on.
/// The terminal's own (interrupt, quit, stop) reach the agent directly: they are ignored.
fn hold_signals() -> io::Result<nix::sys::signal::SigSet> {
    use nix::sys::signal::{SigSet, Signal};
    let mut set = SigSet::empty();
    for s in [
        Signal::SIGCHLD,
        Signal::SIGTERM,
        Signal::SIGHUP,
        Signal::SIGINT,
        Signal::SIGQUIT,
        Signal::SIGTSTP,
        Signal::SIGUSR1,
        Signal::SIGUSR2,
        Signal::SIGWINCH,
    ] {
        set.add(s);
    }
    set.thread_block().map_err(|e| with_context(e.into(), "cannot hold signals"))?;
    Ok(set)
}

fn release_signals(set: &nix::sys::signal::SigSet) {
    let _ = set.thread_unblock();
}

/// Waits for `child`, passing on the signals meant for it, and exits as it did (a child
/// killed by a signal as 128 + the signal, as a shell reports it). Reaps every other
/// process that ends meanwhile (as the sandbox's init, orphans become its children).
fn pass_on(child: nix::unistd::Pid, signals: &nix::sys::signal::SigSet) -> ! {
    use nix::sys::signal::Signal;
    use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
    loop {
        let Ok(sig) = signals.wait() else { continue };
        match sig {
            Signal::SIGCHLD => loop {
                match waitpid(None, Some(WaitPidFlag::WNOHANG)) {
                    Ok(WaitStatus::Exited(pid, code)) if pid == child => std::process::exit(code),
                    Ok(WaitStatus::Signaled(pid, s, _)) if pid == child => std::process::exit(128 + s as i32),
                    Ok(WaitStatus::StillAlive) | Err(_) => break,
                    Ok(_) => {}
                }
            },
            Signal::SIGINT | Signal::SIGQUIT | Signal::SIGTSTP | Signal::SIGWINCH => {}
            other => {
                let _ = nix::sys::signal::kill(child, other);
            }
        }
    }
}

fn with_context(e: io::Error, what: &str) -> io::Error {
    io::Error::new(e.kind(), format!("{what}: {e}"))
}

fn check(r: libc::c_int, what: &str) -> io::Result<()> {
    if r < 0 { Err(with_context(io::Error::last_os_error(), what)) } else { Ok(()) }
}

fn cstr(p: &Path) -> io::Result<CString> {
    CString::new(p.as_os_str().as_bytes()).map_err(|_| io::Error::other(format!("{} holds a NUL", p.display())))
}

/// New user, network, mount and process-id namespaces (the last for the children), with our own uid and gid mapped to themselves
/// (files look as they do outside; the capabilities gained apply only inside).
fn enter_namespaces() -> io::Result<()> {
    let (uid, gid) = (nix::unistd::getuid().as_raw(), nix::unistd::getgid().as_raw());
    // SAFETY: unshare changes only this process's namespaces.
    check(
        unsafe {
            libc::unshare(
                libc::CLONE_NEWUSER | libc::CLONE_NEWNET | libc::CLONE_NEWNS | libc::CLONE_NEWPID | libc::CLONE_NEWIPC,
            )
        },
        "cannot make the sandbox's namespaces",
    )?;
    std::fs::write("/proc/self/setgroups", "deny").map_err(|e| with_context(e, "cannot set up the user namespace"))?;
    std::fs::write("/proc/self/uid_map", format!("{uid} {uid} 1"))
        .map_err(|e| with_context(e, "cannot map the user id"))?;
    std::fs::write("/proc/self/gid_map", format!("{gid} {gid} 1"))
        .map_err(|e| with_context(e, "cannot map the group id"))?;
    Ok(())
}

/// Brings up the new network namespace's loopback and listens on the proxy's port there:
/// the runner serves this socket, and it is the agent's only way out.
fn listen_on_loopback(port: u16) -> io::Result<OwnedFd> {
    // SAFETY: a plain datagram socket for the interface ioctls.
    let s = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    check(s, "cannot open a socket")?;
    // SAFETY: s is ours.
    let s = unsafe { OwnedFd::from_raw_fd(s) };
    // SAFETY: an all-zero ifreq is valid.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    for (i, b) in b"lo".iter().enumerate() {
        req.ifr_name[i] = *b as libc::c_char;
    }
    // SAFETY: SIOCGIFFLAGS/SIOCSIFFLAGS read and write the ifreq we pass.
    unsafe {
        check(libc::ioctl(s.as_raw_fd(), libc::SIOCGIFFLAGS, &mut req), "cannot read the loopback's state")?;
        req.ifr_ifru.ifru_flags |= libc::IFF_UP as libc::c_short;
        check(libc::ioctl(s.as_raw_fd(), libc::SIOCSIFFLAGS, &req), "cannot bring up the loopback")?;
    }
    let listener = std::net::TcpListener::bind(("127.0.0.1", port))
        .map_err(|e| with_context(e, "cannot listen on the sandbox's loopback"))?;
    Ok(listener.into())
}

fn mount(
    source: &str,
    target: &Path,
    fstype: Option<&str>,
    flags: libc::c_ulong,
    data: &str,
    what: &str,
) -> io::Result<()> {
    let source = CString::new(source).map_err(|_| io::Error::other("NUL"))?;
    let fstype = fstype.map(CString::new).transpose().map_err(|_| io::Error::other("NUL"))?;
    let data = CString::new(data).map_err(|_| io::Error::other("NUL"))?;
    let target = cstr(target)?;
    // SAFETY: valid C strings; only our own mount namespace changes.
    let r = unsafe {
        libc::mount(
            source.as_ptr(),
            target.as_ptr(),
            fstype.as_ref().map_or(std::ptr::null(), |f| f.as_ptr()),
            flags,
            data.as_ptr().cast(),
        )
    };
    check(r, what)
}

/// The sandbox's own view of the machine: the places where other programs keep their
/// sockets covered by empty directories of its own (what the agent works in put back), its
/// own `/proc` (its processes only), its own terminals (`/dev/pts`, a fresh instance:
/// other panes' and programs' terminals are out of reach) and its own `/dev/shm`.
fn cover(plan: &Plan) -> io::Result<()> {
    mount(
        "none",
        Path::new("/"),
        None,
        libc::MS_REC | libc::MS_PRIVATE,
        "",
        "cannot make the sandbox's mounts private",
    )?;
    let nosuid = libc::MS_NOSUID | libc::MS_NODEV;
    // Handles on what is put back, taken before the covers hide it.
    let mut kept = Vec::new();
    for path in &plan.keep {
        if let Ok(fd) = open_no_follow(path) {
            kept.push((path, fd));
        }
    }
    // Outer first, covers and what is put back in one order: a directory put back may
    // hold a place that is covered again (teamster's sockets in a workspace in /tmp).
    enum Step<'a> {
        Cover(&'a Path),
        Keep(&'a Path, OwnedFd),
    }
    let mut steps: Vec<Step> = plan.cover.iter().map(|c| Step::Cover(c.as_path())).collect();
    steps.extend(kept.into_iter().map(|(p, fd)| Step::Keep(p.as_path(), fd)));
    steps.sort_by_key(|s| match s {
        Step::Cover(p) | Step::Keep(p, _) => p.components().count(),
    });
    let mut covered = Vec::new();
    for step in steps {
        match step {
            Step::Cover(dir) => {
                // A place this machine does not have (no runtime directory) has nothing to hide.
                if open_no_follow(dir).is_err() {
                    continue;
                }
                covered.push(dir);
                mount("tmpfs", dir, Some("tmpfs"), nosuid, "mode=0755,size=64k", "cannot cover a directory")
                    .map_err(|e| with_context(e, &dir.display().to_string()))?;
            }
            Step::Keep(path, fd) => put_back(path, &fd)?,
        }
    }
    // Empty but for what was put back, and read-only once that is in place.
    for dir in covered {
        let flags = libc::MS_REMOUNT | libc::MS_RDONLY | nosuid;
        mount("tmpfs", dir, None, flags, "", "cannot make a cover read-only")
            .map_err(|e| with_context(e, &dir.display().to_string()))?;
    }
    mount(
        "proc",
        Path::new("/proc"),
        Some("proc"),
        nosuid | libc::MS_NOEXEC,
        "",
        "cannot give the sandbox its own /proc",
    )?;
    // Not nodev: its nodes are the terminals.
    let devpts_flags = libc::MS_NOSUID | libc::MS_NOEXEC;
    mount(
        "devpts",
        Path::new("/dev/pts"),
        Some("devpts"),
        devpts_flags,
        "newinstance,ptmxmode=0666,mode=0620",
        "cannot give the sandbox its own terminals",
    )?;
    mount(
        "/dev/pts/ptmx",
        Path::new("/dev/ptmx"),
        None,
        libc::MS_BIND,
        "",
        "cannot give the sandbox its own terminals",
    )?;
    mount(
        "tmpfs",
        Path::new("/dev/shm"),
        Some("tmpfs"),
        nosuid,
        "mode=1777",
        "cannot give the sandbox its own /dev/shm",
    )?;
    Ok(())
}

/// Puts `path` (held by `fd` from before the covers) back where it was. Something there
/// already is the same thing (put back with what holds it) or is bound over; nothing
/// that exists is ever created over, truncated or written.
fn put_back(path: &Path, fd: &OwnedFd) -> io::Result<()> {
    let held = nix::sys::stat::fstat(fd).map_err(io::Error::from)?;
    let is_dir = held.st_mode & libc::S_IFMT == libc::S_IFDIR;
    match nix::sys::stat::lstat(path) {
        Ok(here) if (here.st_dev, here.st_ino) == (held.st_dev, held.st_ino) => return Ok(()),
        Ok(_) => {}
        Err(_) => {
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent).map_err(|e| with_context(e, "cannot put back a directory"))?;
            }
            let made = if is_dir {
                std::fs::create_dir(path)
            } else {
                std::fs::OpenOptions::new().write(true).create_new(true).open(path).map(drop)
            };
            made.map_err(|e| with_context(e, &format!("cannot put back {}", path.display())))?;
        }
    }
    let from = format!("/proc/self/fd/{}", fd.as_raw_fd());
    mount(&from, path, None, libc::MS_BIND | libc::MS_REC, "", "cannot put back what the agent works in")
}

/// Binds each of `plan.read_only` over itself, read-only. A path that is missing, or is a
/// symlink (which a bind would follow to wherever it points), is left: the runner lists
/// only real files.
fn protect(plan: &Plan) -> io::Result<()> {
    for path in &plan.read_only {
        let Ok(fd) = open_no_follow(path) else { continue };
        let at = format!("/proc/self/fd/{}", fd.as_raw_fd());
        mount(&at, Path::new(&at), None, libc::MS_BIND, "", "cannot protect a file")
            .map_err(|e| with_context(e, &path.display().to_string()))?;
        // A remount keeps the flags the mount was locked with (nosuid, nodev, noexec).
        let locked = nix::sys::statvfs::statvfs(path).map(|s| s.flags()).unwrap_or(nix::sys::statvfs::FsFlags::empty());
        let mut flags = libc::MS_BIND | libc::MS_REMOUNT | libc::MS_RDONLY;
        for (st, ms) in [
            (nix::sys::statvfs::FsFlags::ST_NOSUID, libc::MS_NOSUID),
            (nix::sys::statvfs::FsFlags::ST_NODEV, libc::MS_NODEV),
            (nix::sys::statvfs::FsFlags::ST_NOEXEC, libc::MS_NOEXEC),
            (nix::sys::statvfs::FsFlags::ST_NOATIME, libc::MS_NOATIME),
            (nix::sys::statvfs::FsFlags::ST_NODIRATIME, libc::MS_NODIRATIME),
            (nix::sys::statvfs::FsFlags::ST_RELATIME, libc::MS_RELATIME),
        ] {
            if locked.contains(st) {
                flags |= ms;
            }
        }
        mount("none", path, None, flags, "", "cannot make a file read-only")
            .map_err(|e| with_context(e, &path.display().to_string()))?;
    }
    Ok(())
}

/// An `O_PATH` handle on `path`, through no symlink on the way (the plan's paths are
/// real ones: a symlink there now was put there since).
fn open_no_follow(path: &Path) -> io::Result<OwnedFd> {
    use nix::fcntl::{OFlag, OpenHow, ResolveFlag};
    let how = OpenHow::new()
        .flags(OFlag::O_PATH | OFlag::O_CLOEXEC | OFlag::O_NOFOLLOW)
        .resolve(ResolveFlag::RESOLVE_NO_SYMLINKS | ResolveFlag::RESOLVE_NO_MAGICLINKS);
    nix::fcntl::openat2(nix::fcntl::AT_FDCWD, path, how).map_err(io::Error::from)
}

fn no_new_privs() -> io::Result<()> {
    // SAFETY: prctl with integer arguments.
    check(unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) }, "cannot set no_new_privs")
}

/// Sends `fds` with a line saying what they are.
fn send_fds(line: &UnixStream, words: &str, fds: &[OwnedFd]) -> io::Result<()> {
    use nix::sys::socket::{ControlMessage, MsgFlags, sendmsg};
    let raw: Vec<RawFd> = fds.iter().map(|f| f.as_raw_fd()).collect();
    let text = format!("{words}\n");
    let iov = [io::IoSlice::new(text.as_bytes())];
    let cmsg = [ControlMessage::ScmRights(&raw)];
    let cmsgs: &[ControlMessage] = if raw.is_empty() { &[] } else { &cmsg };
    sendmsg::<()>(line.as_raw_fd(), &iov, cmsgs, MsgFlags::empty(), None)
        .map_err(|e| with_context(e.into(), "cannot reach the runner"))?;
    Ok(())
}

/// What the helper hands back: the proxy's listening socket inside the sandbox's
/// network, the seccomp listener, the maker's line (each when the kernel has it).
#[derive(Default)]
pub struct Handed {
    pub listener: Option<OwnedFd>,
    pub seccomp: Option<OwnedFd>,
    pub maker: Option<OwnedFd>,
}

/// The helper's answer on its line: the words saying what came, in order, and the
/// descriptors.
pub fn receive(line: &UnixStream) -> io::Result<Handed> {
    use nix::sys::socket::{ControlMessageOwned, MsgFlags, recvmsg};
    let mut buf = [0u8; 256];
    let mut iov = [io::IoSliceMut::new(&mut buf)];
    let mut space = nix::cmsg_space!([RawFd; 4]);
    let msg = recvmsg::<()>(line.as_raw_fd(), &mut iov, Some(&mut space), MsgFlags::MSG_CMSG_CLOEXEC)
        .map_err(io::Error::from)?;
    let mut fds = Vec::new();
    for c in msg.cmsgs().map_err(io::Error::from)? {
        if let ControlMessageOwned::ScmRights(raw) = c {
            // SAFETY: the kernel just installed these descriptors in our table.
            fds.extend(raw.into_iter().map(|fd| unsafe { OwnedFd::from_raw_fd(fd) }));
        }
    }
    let n = msg.bytes;
    if n == 0 {
        return Err(io::Error::other("the helper said nothing"));
    }
    let mut fds = fds.into_iter();
    let mut handed = Handed::default();
    for word in String::from_utf8_lossy(&buf[..n]).split_whitespace() {
        let slot = match word {
            "listener" => &mut handed.listener,
            "seccomp" => &mut handed.seccomp,
            "maker" => &mut handed.maker,
            _ => continue,
        };
        *slot = fds.next();
    }
    Ok(handed)
}

/// Landlock: read beneath `read`, read and write beneath `write`; TCP connections only to
/// the proxy's port; no signals or abstract sockets outside the sandbox. Best effort below
/// ABI 6 (`teamster doctor` says what an older kernel leaves open).
fn landlock(plan: &Plan) -> io::Result<()> {
    use landlock::{
        ABI, Access, AccessFs, AccessNet, NetPort, PathBeneath, PathFd, Ruleset, RulesetAttr, RulesetCreatedAttr,
        RulesetStatus, Scope,
    };
    let abi = ABI::V6;
    let err = |e: landlock::RulesetError| io::Error::other(format!("Landlock: {e}"));
    let mut ruleset = Ruleset::default()
        .handle_access(AccessFs::from_all(abi))
        .map_err(err)?
        .handle_access(AccessNet::ConnectTcp)
        .map_err(err)?
        .scope(Scope::from_all(abi))
        .map_err(err)?
        .create()
        .map_err(err)?;
    let read = AccessFs::from_read(abi);
    let write = AccessFs::from_all(abi);
    for (paths, access) in [(&plan.read, read), (&plan.write, write)] {
        for path in paths {
            // Paths that do not exist (an agent's state not made yet) grant nothing.
            let Ok(fd) = PathFd::new(path) else { continue };
            // A file takes only the rights that apply to files.
            let access = if path.is_dir() { access } else { access & AccessFs::from_file(abi) };
            ruleset = ruleset.add_rule(PathBeneath::new(fd, access)).map_err(err)?;
        }
    }
    // The pane's terminal, which the agent holds already, by the names that open it again
    // (`/dev/stderr`, `/proc/self/fd/2`): it lies on the machine's /dev/pts, not the
    // sandbox's own.
    for fd in 0..=2 {
        // SAFETY: isatty reads a descriptor number.
        if unsafe { libc::isatty(fd) } == 1
            && let Ok(terminal) = PathFd::new(format!("/proc/self/fd/{fd}"))
        {
            ruleset = ruleset.add_rule(PathBeneath::new(terminal, AccessFs::from_file(abi))).map_err(err)?;
        }
    }
    ruleset = ruleset.add_rule(NetPort::new(plan.port, AccessNet::ConnectTcp)).map_err(err)?;
    let status = ruleset.restrict_self().map_err(err)?;
    if status.ruleset == RulesetStatus::NotEnforced {
        return Err(io::Error::other("Landlock is not enforced by this kernel"));
    }
    Ok(())
}

fn exec(program: &str, argv: &[String]) -> io::Error {
    use std::os::unix::process::CommandExt;
    std::process::Command::new(program).args(&argv[1..]).exec()
}
