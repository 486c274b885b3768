//! `teamster sandbox-exec -- PROGRAM…`: the pane's first program for a sandboxed agent.
//! It reads its plan from descriptor 3 (a socket the runner made), confines itself by it,
//! hands back on the same socket what the runner needs to serve and watch it, and becomes
//! the agent.
//!
//! The order matters: namespaces first (they give the capabilities the rest needs, inside
//! only), the proxy's listening socket while the network is ours to set up, mounts before
//! Landlock (which forbids them), the seccomp listener before Landlock too, exec last.

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
        cover(&plan)?;
    }
    no_new_privs()?;
    if uses(Feature::Seccomp) {
        handed.push(super::seccomp::install().map_err(|e| with_context(e, "cannot install the seccomp filter"))?);
        words.push("seccomp");
    }
    send_fds(&line, &words.join(" "), &handed)?;
    drop(handed);
    drop(line);
    if uses(Feature::Landlock) {
        landlock(&plan)?;
    }
    let err = exec(program, argv);
    Err(with_context(err, &format!("cannot start `{program}`")))
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

/// New user, network and mount namespaces, with our own uid and gid mapped to themselves
/// (files look as they do outside; the capabilities gained apply only inside).
fn enter_namespaces() -> io::Result<()> {
    let (uid, gid) = (nix::unistd::getuid().as_raw(), nix::unistd::getgid().as_raw());
    // SAFETY: unshare changes only this process's namespaces.
    check(
        unsafe { libc::unshare(libc::CLONE_NEWUSER | libc::CLONE_NEWNET | libc::CLONE_NEWNS) },
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

/// The sandbox's own view of the machine: the runner's socket directory covered (the
/// hook socket put back), its own terminals (`/dev/pts`, a fresh instance: other panes'
/// and programs' terminals are out of reach) and its own `/dev/shm`.
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
    if plan.sockets.is_dir() {
        // A handle on the hook socket before the cover hides it.
        use std::os::unix::fs::OpenOptionsExt;
        let hook = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_PATH)
            .open(&plan.hook_socket)
            .map_err(|e| with_context(e, "cannot find the hook socket"))?;
        mount(
            "tmpfs",
            &plan.sockets,
            Some("tmpfs"),
            nosuid | libc::MS_NOEXEC,
            "mode=0700,size=64k",
            "cannot cover teamster's sockets",
        )?;
        std::fs::File::create(&plan.hook_socket).map_err(|e| with_context(e, "cannot place the hook socket"))?;
        let from = format!("/proc/self/fd/{}", hook.as_raw_fd());
        mount(&from, &plan.hook_socket, None, libc::MS_BIND, "", "cannot bind the hook socket")?;
    }
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

/// The helper's answer on its line: the words saying what came, and the descriptors.
pub fn receive(line: &UnixStream) -> io::Result<(Vec<String>, Vec<OwnedFd>)> {
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
    let words = String::from_utf8_lossy(&buf[..n]).split_whitespace().map(str::to_string).collect();
    Ok((words, fds))
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
