//! `teamster sandbox-exec PLAN -- PROGRAM…`: the pane's first program for a sandboxed
//! agent. It confines itself by the plan, hands the runner what the runner needs to serve
//! and watch it (through descriptor 3, a socket the runner made), and becomes the agent.
//!
//! The order matters: namespaces first (they give the capabilities the rest needs, inside
//! only), the proxy's listening socket while the network is ours to set up, mounts before
//! Landlock (which forbids them), the seccomp listener before Landlock too, exec last.

use super::{Feature, Plan};
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::path::Path;

/// The descriptor the runner leaves open for the helper's report.
pub const REPORT_FD: RawFd = 3;

/// Does this kernel offer `feature` to an unprivileged process?
pub fn kernel_has(feature: Feature) -> bool {
    match feature {
        Feature::Landlock => {
            matches!(landlock_abi(), Some(abi) if abi >= 1)
        }
        Feature::Namespaces => {
            let max = |f: &str| std::fs::read_to_string(f).ok().and_then(|s| s.trim().parse::<u64>().ok());
            let userns_clone = std::fs::read_to_string("/proc/sys/kernel/unprivileged_userns_clone")
                .map(|s| s.trim() != "0")
                .unwrap_or(true);
            userns_clone
                && max("/proc/sys/user/max_user_namespaces").unwrap_or(1) > 0
                && max("/proc/sys/user/max_net_namespaces").unwrap_or(1) > 0
                && Path::new("/proc/self/ns/user").exists()
        }
        Feature::Seccomp => {
            let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
            status.lines().any(|l| l.starts_with("Seccomp:"))
        }
    }
}

/// The kernel's Landlock ABI version, if it has Landlock.
pub fn landlock_abi() -> Option<i64> {
    // SAFETY: LANDLOCK_CREATE_RULESET_VERSION only returns the version.
    let v = unsafe { libc::syscall(libc::SYS_landlock_create_ruleset, std::ptr::null::<u8>(), 0usize, 1u32) };
    (v > 0).then_some(v)
}

/// Runs the helper: never returns unless something failed (then the caller prints the
/// error and exits 126, as a shell does for a program it cannot run).
pub fn run(plan_json: &str, argv: &[String]) -> io::Result<std::convert::Infallible> {
    let plan: Plan = serde_json::from_str(plan_json)
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, format!("the sandbox plan is not valid: {e}")))?;
    let Some(program) = argv.first() else {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, "no program given after --"));
    };
    let missing = super::missing_features();
    if let Some(why) = super::refusal(&missing, &plan.run_without) {
        return Err(io::Error::other(format!("teamster will not start this agent: {why}")));
    }
    // SAFETY: descriptor 3 was left open for us by the runner; we own it from here.
    let report = unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(REPORT_FD) };
    let mut handed: Vec<OwnedFd> = Vec::new();
    let mut words: Vec<String> = Vec::new();
    if missing.contains(&Feature::Namespaces) {
        words.push("no-namespaces".into());
    } else {
        enter_namespaces()?;
        handed.push(listen_on_loopback(plan.port)?);
        words.push("listener".into());
        cover(&plan)?;
    }
    no_new_privs()?;
    if !missing.contains(&Feature::Seccomp) {
        handed.push(super::seccomp::install().map_err(|e| with_context(e, "cannot install the seccomp filter"))?);
        words.push("seccomp".into());
    }
    send_fds(report.as_raw_fd(), &words.join(" "), &handed)?;
    drop(handed);
    drop(report);
    if !missing.contains(&Feature::Landlock) {
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
    let s = unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(s) };
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

/// Covers the runner's socket directory with an empty one, and puts back only the
/// sockets the agent may use (the hook socket).
fn cover(plan: &Plan) -> io::Result<()> {
    use std::ffi::CString;
    use std::os::unix::ffi::OsStrExt;
    let cs = |p: &Path| CString::new(p.as_os_str().as_bytes()).map_err(|_| io::Error::other("a path holds a NUL"));
    let none = std::ptr::null::<libc::c_char>();
    let root = cs(Path::new("/"))?;
    // SAFETY: mount with valid C strings; only our own mount namespace changes.
    unsafe {
        check(
            libc::mount(none, root.as_ptr(), none, libc::MS_REC | libc::MS_PRIVATE, std::ptr::null()),
            "cannot make the sandbox's mounts private",
        )?;
    }
    for dir in &plan.cover {
        if !dir.is_dir() {
            continue;
        }
        // Keep a handle on each socket before the cover hides it.
        let kept: Vec<(std::path::PathBuf, std::fs::File)> = plan
            .keep
            .iter()
            .filter(|k| k.starts_with(dir))
            .filter_map(|k| {
                std::fs::OpenOptions::new().read(true).custom_flags(libc::O_PATH).open(k).ok().map(|f| (k.clone(), f))
            })
            .collect();
        let target = cs(dir)?;
        let tmpfs = cs(Path::new("tmpfs"))?;
        let opts = CString::new("mode=0700,size=64k").map_err(|_| io::Error::other("NUL"))?;
        // SAFETY: as above.
        unsafe {
            check(
                libc::mount(
                    tmpfs.as_ptr(),
                    target.as_ptr(),
                    tmpfs.as_ptr(),
                    libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC,
                    opts.as_ptr().cast(),
                ),
                "cannot cover teamster's sockets",
            )?;
        }
        for (path, handle) in kept {
            std::fs::File::create(&path).map_err(|e| with_context(e, "cannot place the hook socket"))?;
            let from = cs(Path::new(&format!("/proc/self/fd/{}", handle.as_raw_fd())))?;
            let to = cs(&path)?;
            // SAFETY: as above.
            unsafe {
                check(
                    libc::mount(from.as_ptr(), to.as_ptr(), none, libc::MS_BIND, std::ptr::null()),
                    "cannot bind the hook socket",
                )?;
            }
        }
    }
    Ok(())
}

use std::os::unix::fs::OpenOptionsExt;

fn no_new_privs() -> io::Result<()> {
    // SAFETY: prctl with integer arguments.
    check(unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) }, "cannot set no_new_privs")
}

/// Sends `fds` with a line saying what they are.
fn send_fds(socket: RawFd, words: &str, fds: &[OwnedFd]) -> io::Result<()> {
    use nix::sys::socket::{ControlMessage, MsgFlags, sendmsg};
    let raw: Vec<RawFd> = fds.iter().map(|f| f.as_raw_fd()).collect();
    let line = format!("{words}\n");
    let iov = [io::IoSlice::new(line.as_bytes())];
    let cmsg = [ControlMessage::ScmRights(&raw)];
    let cmsgs: &[ControlMessage] = if raw.is_empty() { &[] } else { &cmsg };
    // SAFETY: the runner's socket stays open for our lifetime.
    let socket = unsafe { BorrowedFd::borrow_raw(socket) };
    sendmsg::<()>(socket.as_raw_fd(), &iov, cmsgs, MsgFlags::empty(), None)
        .map_err(|e| with_context(e.into(), "cannot reach the runner"))?;
    Ok(())
}

/// Landlock: read beneath `read`, read and write beneath `write`; TCP connections only to
/// the proxy's port; no signals or abstract sockets outside the sandbox.
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
