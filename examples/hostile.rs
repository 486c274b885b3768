//! A hostile agent, for the tests (`tests/hostile.rs`): run in a sandboxed pane, it tries
//! each way out the sandbox must close, with threads and raw system calls, and writes
//! `ESCAPED: what` for each that worked, `blocked: what` for each that did not, and
//! `works: what` for what an agent must still be able to do. Then `done`, and it waits.
//!
//! Environment: `RESULTS` (the file to write), `BUS` (a Unix socket of the user's the
//! sandbox can see but must not reach), `RACES` (how many times to try each race). The
//! proxy's port is read from `HTTPS_PROXY`, as the sandbox sets it.

use std::io::Write;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

fn main() {
    let results = std::env::var("RESULTS").unwrap_or_else(|_| "results.txt".into());
    let out = std::cell::RefCell::new(Vec::new());
    let say = |line: String| out.borrow_mut().push(line);
    let bus = std::env::var("BUS").unwrap_or_default();
    let port: u16 = std::env::var("HTTPS_PROXY")
        .ok()
        .and_then(|p| p.rsplit(':').next().and_then(|p| p.trim_end_matches('/').parse().ok()))
        .unwrap_or(0);
    let races: usize = std::env::var("RACES").ok().and_then(|r| r.parse().ok()).unwrap_or(3000);

    // 1. Flip the address a connect names between one the sandbox allows (the proxy) and
    //    the user's socket, from a second thread, while the first connects.
    let reached = race_connect(&unix_addr(&bus), &inet_addr([127, 0, 0, 1], port), races);
    say(outcome(reached, "connect by flipping the proxy's address to a Unix path"));
    // …and between a socket of its own (allowed) and the user's.
    let own = format!("{}/own.sock", std::env::current_dir().map(|d| d.display().to_string()).unwrap_or_default());
    let own_listener = std::os::unix::net::UnixListener::bind(&own);
    let reached = race_connect(&unix_addr(&bus), &unix_addr(&own), races);
    say(outcome(reached, "connect by flipping its own socket's path to the user's"));
    // 2. Plainly.
    say(outcome(std::os::unix::net::UnixStream::connect(&bus).is_ok(), "connect to the user's Unix socket"));
    // 3. Its own sockets keep working: by path in its workspace, and abstract.
    let works = own_listener.is_ok() && std::os::unix::net::UnixStream::connect(&own).is_ok();
    say(if works { "works: its own Unix socket".into() } else { "BROKEN: its own Unix socket".into() });
    // Programs connect from threads of their own (Bun, tokio): the proxy is reached so too.
    let from_thread = std::thread::spawn(move || std::net::TcpStream::connect(("127.0.0.1", port)).is_ok());
    let works = from_thread.join().unwrap_or(false);
    say(if works {
        "works: reach the proxy from a thread".into()
    } else {
        "BROKEN: reach the proxy from a thread".into()
    });
    say(if abstract_pair() {
        "works: its own abstract socket".into()
    } else {
        "BROKEN: its own abstract socket".into()
    });
    // 4. Socket families it has no use for.
    for (what, family, kind, proto) in [
        ("open a vsock socket", libc::AF_VSOCK, libc::SOCK_STREAM, 0),
        ("open a packet socket", libc::AF_PACKET, libc::SOCK_RAW, 0),
        ("open a netlink uevent socket", libc::AF_NETLINK, libc::SOCK_RAW, libc::NETLINK_KOBJECT_UEVENT),
        ("open a netlink audit socket", libc::AF_NETLINK, libc::SOCK_RAW, libc::NETLINK_AUDIT),
        ("open a Unix datagram socket", libc::AF_UNIX, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0),
        ("open a raw Unix socket (a datagram one)", libc::AF_UNIX, libc::SOCK_RAW, 0),
        ("open a raw IPv4 socket", libc::AF_INET, libc::SOCK_RAW, libc::IPPROTO_ICMP),
        ("open an alg socket", libc::AF_ALG, libc::SOCK_SEQPACKET, 0),
    ] {
        say(outcome(socket(family, kind, proto).is_some(), what));
    }
    let route = socket(libc::AF_NETLINK, libc::SOCK_RAW, libc::NETLINK_ROUTE).is_some();
    say(if route { "works: a netlink route socket".into() } else { "BROKEN: a netlink route socket".into() });
    // 5. Other processes: only the sandbox's own are in its /proc.
    let others = std::fs::read_dir("/proc")
        .map(|d| {
            d.flatten()
                .filter_map(|e| e.file_name().to_str().and_then(|n| n.parse::<u32>().ok()))
                .filter_map(|pid| std::fs::read(format!("/proc/{pid}/cmdline")).ok())
                .any(|c| {
                    String::from_utf8_lossy(&c).contains("daemon") || String::from_utf8_lossy(&c).contains("sleep")
                })
        })
        .unwrap_or(false);
    say(outcome(others, "see processes outside the sandbox in /proc"));
    // Capabilities inside its namespaces (with which it could unmount what covers sockets).
    let caps = std::fs::read_to_string("/proc/self/status")
        .map(|s| s.lines().any(|l| l.starts_with("CapEff:") && !l.ends_with("0000000000000000")))
        .unwrap_or(true);
    say(outcome(caps, "hold capabilities in its namespaces"));
    let unmounted = std::process::Command::new("umount").arg("-l").arg("/run").status().is_ok_and(|s| s.success());
    say(outcome(unmounted, "unmount what covers /run"));
    // 6. Another pane's hook socket.
    let mine = std::env::var("TEAMSTER_HOOK_SOCKET").unwrap_or_default();
    let dir = std::path::Path::new(&mine).parent().map(|p| p.to_path_buf()).unwrap_or_default();
    let other = (1..20)
        .map(|n| dir.join(format!("{n}.sock")))
        .filter(|p| p.to_string_lossy() != mine)
        .any(|p| std::os::unix::net::UnixStream::connect(p).is_ok());
    say(outcome(other, "connect to another pane's hook socket"));
    // 7. Files that make the user's tools run code, and the pane's own settings.
    let planted = "[core]\n\tfsmonitor = \"touch /tmp/PWNED\"\n";
    let append =
        std::fs::OpenOptions::new().append(true).open(".git/config").and_then(|mut f| f.write_all(planted.as_bytes()));
    say(outcome(append.is_ok(), "write .git/config"));
    let replaced =
        std::fs::write(".git/config.new", planted).and_then(|()| std::fs::rename(".git/config.new", ".git/config"));
    say(outcome(replaced.is_ok(), "replace .git/config"));
    let hook = std::fs::write(".git/hooks/pre-commit", "#!/bin/sh\ntouch /tmp/PWNED\n");
    say(outcome(hook.is_ok(), "plant a git hook"));
    let vscode = std::fs::write(".vscode/settings.json", "{}");
    say(outcome(vscode.is_ok(), "write .vscode/settings.json"));
    // 8. Protected files that are not there yet: made, moved in, linked, or reached by
    //    moving or replacing what holds them.
    say(outcome(std::fs::write(".mcp.json", "{}").is_ok(), "create .mcp.json"));
    say(outcome(std::fs::write(".envrc", "touch /tmp/PWNED\n").is_ok(), "create .envrc"));
    let claude = std::fs::create_dir(".claude").is_ok();
    say(if claude { "works: make the directory .claude".into() } else { "BROKEN: make the directory .claude".into() });
    say(outcome(std::fs::write(".claude/settings.json", "{}").is_ok(), "create .claude/settings.json"));
    // What your tools run from the tree when you use them: Claude's commands, git hooks
    // kept in the tree (the config names `hooks/` as core.hooksPath), pre-commit's config,
    // Pi's project settings.
    let made = std::fs::create_dir_all(".claude/commands")
        .and_then(|()| std::fs::write(".claude/commands/deploy.md", "!`touch /tmp/PWNED`\n"));
    say(outcome(made.is_ok(), "create a Claude command"));
    let made =
        std::fs::create_dir_all(".husky").and_then(|()| std::fs::write(".husky/pre-commit", "touch /tmp/PWNED\n"));
    say(outcome(made.is_ok(), "create a husky hook"));
    let made = std::fs::create_dir_all("hooks").and_then(|()| std::fs::write("hooks/pre-commit", "touch /tmp/PWNED\n"));
    say(outcome(made.is_ok(), "create a hook where core.hooksPath points"));
    say(outcome(std::fs::write(".pre-commit-config.yaml", "repos: []\n").is_ok(), "create .pre-commit-config.yaml"));
    let made = std::fs::create_dir_all(".pi").and_then(|()| std::fs::write(".pi/settings.json", "{}"));
    say(outcome(made.is_ok(), "create Pi's project settings"));
    let _ = std::fs::create_dir_all("evil");
    let _ = std::fs::write("evil/settings.json", "{\"hooks\": {}}");
    let _ = std::fs::write("evil.sh", "touch /tmp/PWNED\n");
    say(outcome(std::os::unix::fs::symlink("evil", ".gemini").is_ok(), "symlink .gemini to a directory it wrote"));
    say(outcome(std::fs::rename("evil", ".opencode").is_ok(), "rename a directory to .opencode"));
    say(outcome(std::fs::rename("evil.sh", ".envrc").is_ok(), "rename a file to .envrc"));
    say(outcome(std::fs::hard_link("evil.sh", ".envrc").is_ok(), "hard-link a file to .envrc"));
    let _ = std::os::unix::fs::symlink(".envrc", "dangling");
    say(outcome(std::fs::write("dangling", "touch /tmp/PWNED\n").is_ok(), "create .envrc through a dangling symlink"));
    say(outcome(std::fs::write("/proc/self/cwd/.envrc", "x").is_ok(), "create .envrc through /proc/self/cwd"));
    say(outcome(std::fs::rename(".git", "git-moved").is_ok(), "move .git aside (to make a new one)"));
    say(outcome(std::fs::rename(".claude", "claude-moved").is_ok(), "move .claude aside"));
    say(outcome(race_create(races), "create .envrc by flipping a path after the runner looked"));
    let _ = std::fs::remove_file("dangling");
    // Ordinary work in the workspace goes on: files, directories, links, renames, FIFOs,
    // the agent's own descriptors by name, its umask and close-on-exec.
    let work = std::fs::write("notes.txt", "hello");
    say(if work.is_ok() { "works: write the workspace".into() } else { "BROKEN: write the workspace".into() });
    for (what, ok) in making_works() {
        say(if ok { format!("works: {what}") } else { format!("BROKEN: {what}") });
    }

    // 9. Git's own files in any git directory, and repositories of its own inside: what
    //    git follows to its config and hooks (commondir), a submodule's git directory, a
    //    nested repository whose config a `git status` of the outer one would run.
    say(outcome(std::fs::write(".git/commondir", "x\n").is_ok(), "create .git/commondir"));
    say(outcome(std::fs::create_dir(".git/modules").is_ok(), "make .git/modules"));
    say(outcome(std::fs::write(".git/config.worktree", planted).is_ok(), "create .git/config.worktree"));
    let _ = std::fs::create_dir("sub");
    say(outcome(std::fs::create_dir("sub/.git").is_ok(), "make a nested repository's .git"));
    say(outcome(std::fs::write("sub/.git", "gitdir: ../evil\n").is_ok(), "make a nested .git file"));
    let commit = std::fs::write(".git/teamster-probe", "x").is_ok();
    let _ = std::fs::remove_file(".git/teamster-probe");
    say(if commit { "works: write in .git (commits)".into() } else { "BROKEN: write in .git (commits)".into() });
    // 10. A protected file behind a symlinked directory (dotfiles kept elsewhere).
    say(outcome(std::fs::write("dots/codex/config.toml", "x").is_ok(), "create a protected file where it really is"));
    say(outcome(std::fs::write(".codex/config.toml", "x").is_ok(), "create a protected file through its symlink"));
    // 11. A socket a program of the user's listens on, in the workspace.
    let outside = std::os::unix::net::UnixStream::connect("outside.sock")
        .and_then(|mut s| s.write_all(b"COPY x TO PROGRAM 'touch /tmp/PWNED'"));
    say(outcome(outside.is_ok(), "talk to a socket the user's program made in the workspace"));
    // 12. The user's System V shared memory (key 0x7e57 made by the test).
    // SAFETY: shmget takes plain values.
    let shm = unsafe { libc::shmget(0x7e57, 0, 0) };
    say(outcome(shm >= 0, "reach the user's System V shared memory"));
    // Its own terminal, opened to write, is its own (not the maker's, which has none).
    let tty = std::fs::OpenOptions::new().write(true).open("/dev/tty").and_then(|mut t| t.write_all(b"tty ok\r\n"));
    say(if tty.is_ok() { "works: open /dev/tty to write".into() } else { "BROKEN: open /dev/tty to write".into() });
    // 13. Your own git rewrites .git/config (renaming a new one over it) while the agent
    //     runs: the file is still out of its reach afterwards. The test says when, through
    //     a FIFO, once it has seen this line.
    say("waiting for your git".into());
    let _ = std::fs::write(&results, out.borrow().join("\n") + "\n");
    let _ = std::fs::read("go.fifo");
    let append =
        std::fs::OpenOptions::new().append(true).open(".git/config").and_then(|mut f| f.write_all(planted.as_bytes()));
    say(outcome(append.is_ok(), "write .git/config after your git replaced it"));
    // …nor by a second name for it, or by opening it again to write through the name its
    // descriptor has in /proc.
    let linked = std::fs::hard_link(".git/config", "config-link").and_then(|()| {
        std::fs::OpenOptions::new().append(true).open("config-link").and_then(|mut f| f.write_all(planted.as_bytes()))
    });
    say(outcome(linked.is_ok(), "write .git/config through a hard link to it"));
    let reopened = std::fs::File::open(".git/config").and_then(|read| {
        use std::os::fd::AsRawFd;
        let again = format!("/proc/self/fd/{}", read.as_raw_fd());
        std::fs::OpenOptions::new().append(true).open(again).and_then(|mut f| f.write_all(planted.as_bytes()))
    });
    say(outcome(reopened.is_ok(), "write .git/config by opening it again through /proc/self/fd"));

    say("done".into());
    let text = out.borrow().join("\n") + "\n";
    let _ = std::fs::write(&results, text);
    loop {
        std::thread::park();
    }
}

fn outcome(escaped: bool, what: &str) -> String {
    if escaped { format!("ESCAPED: {what}") } else { format!("blocked: {what}") }
}

fn socket(family: i32, kind: i32, proto: i32) -> Option<OwnedFd> {
    // SAFETY: socket returns a new descriptor or -1.
    let fd = unsafe { libc::socket(family, kind, proto) };
    // SAFETY: a descriptor we just got.
    (fd >= 0).then(|| unsafe { OwnedFd::from_raw_fd(fd) })
}

type Addr = [u8; 110];

fn unix_addr(path: &str) -> Addr {
    let mut a = [0u8; 110];
    a[..2].copy_from_slice(&(libc::AF_UNIX as u16).to_ne_bytes());
    let bytes = path.as_bytes();
    let n = bytes.len().min(107);
    a[2..2 + n].copy_from_slice(&bytes[..n]);
    a
}

fn inet_addr(ip: [u8; 4], port: u16) -> Addr {
    let mut a = [0u8; 110];
    a[..2].copy_from_slice(&(libc::AF_INET as u16).to_ne_bytes());
    a[2..4].copy_from_slice(&port.to_be_bytes());
    a[4..8].copy_from_slice(&ip);
    a
}

/// Connects a Unix socket `tries` times to a buffer another thread keeps flipping between
/// `bad` and `good`. True if a connection reached the `bad` address's socket.
fn race_connect(bad: &Addr, good: &Addr, tries: usize) -> bool {
    struct Shared(std::cell::UnsafeCell<Addr>);
    // SAFETY: racing on these bytes is the point; they are plain bytes.
    unsafe impl Sync for Shared {}
    let shared = Arc::new(Shared(std::cell::UnsafeCell::new(*good)));
    let stop = Arc::new(AtomicBool::new(false));
    let flipper = {
        let (shared, stop, bad, good) = (shared.clone(), stop.clone(), *bad, *good);
        std::thread::spawn(move || {
            let mut flip = false;
            while !stop.load(Ordering::Relaxed) {
                // SAFETY: a volatile write of plain bytes the other thread reads.
                unsafe { std::ptr::write_volatile(shared.0.get(), if flip { bad } else { good }) };
                flip = !flip;
            }
        })
    };
    let mut reached = false;
    for _ in 0..tries {
        let Some(s) = socket(libc::AF_UNIX, libc::SOCK_STREAM, 0) else { break };
        // SAFETY: the buffer lives as long as `shared`.
        let r = unsafe { libc::connect(s.as_raw_fd(), shared.0.get().cast(), std::mem::size_of::<Addr>() as u32) };
        if r == 0 {
            // Connected: to which? Ask the peer's address.
            let mut peer = [0u8; 110];
            let mut len = peer.len() as u32;
            // SAFETY: getpeername fills `peer` up to `len`.
            unsafe { libc::getpeername(s.as_raw_fd(), peer.as_mut_ptr().cast(), &mut len) };
            if peer[2..] == bad[2..] {
                reached = true;
                break;
            }
        }
    }
    stop.store(true, Ordering::Relaxed);
    let _ = flipper.join();
    reached
}

/// Creates files `tries` times by a path another thread keeps flipping between a plain
/// name and `.envrc`. True if `.envrc` came to be.
fn race_create(tries: usize) -> bool {
    type Name = [u8; 16];
    let (good, bad): (Name, Name) = (*b"plain-name.txt\0\0", *b".envrc\0\0\0\0\0\0\0\0\0\0");
    struct Shared(std::cell::UnsafeCell<Name>);
    // SAFETY: racing on these bytes is the point; they are plain bytes.
    unsafe impl Sync for Shared {}
    let shared = Arc::new(Shared(std::cell::UnsafeCell::new(good)));
    let stop = Arc::new(AtomicBool::new(false));
    let flipper = {
        let (shared, stop) = (shared.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut flip = false;
            while !stop.load(Ordering::Relaxed) {
                // SAFETY: a volatile write of plain bytes the other thread reads.
                unsafe { std::ptr::write_volatile(shared.0.get(), if flip { bad } else { good }) };
                flip = !flip;
            }
        })
    };
    for _ in 0..tries {
        // SAFETY: the buffer lives as long as `shared`; a descriptor or -1.
        let fd = unsafe { libc::open(shared.0.get().cast(), libc::O_CREAT | libc::O_WRONLY | libc::O_CLOEXEC, 0o644) };
        if fd >= 0 {
            // SAFETY: ours.
            unsafe { libc::close(fd) };
        }
        if std::path::Path::new(".envrc").exists() {
            break;
        }
    }
    stop.store(true, Ordering::Relaxed);
    let _ = flipper.join();
    std::path::Path::new(".envrc").exists()
}

/// What making names must still do, as the kernel would have done it.
fn making_works() -> Vec<(&'static str, bool)> {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let mut out = Vec::new();
    let dir = std::fs::create_dir_all("made/deeper").is_ok() && std::path::Path::new("made/deeper").is_dir();
    out.push(("make directories", dir));
    let link = std::os::unix::fs::symlink("../notes.txt", "made/link").is_ok()
        && std::fs::read_to_string("made/link").is_ok_and(|t| t == "hello");
    out.push(("make a symlink", link));
    let hard = std::fs::hard_link("notes.txt", "made/hard").is_ok()
        && std::fs::metadata("made/hard").is_ok_and(|m| m.nlink() == 2);
    out.push(("make a hard link", hard));
    let moved = std::fs::write("made/a", "a").is_ok()
        && std::fs::rename("made/a", "made/deeper/b").is_ok()
        && std::fs::read_to_string("made/deeper/b").is_ok_and(|t| t == "a");
    out.push(("rename", moved));
    // Through a symlink to a file not there yet, as the kernel follows one.
    let through = std::os::unix::fs::symlink("deeper/c", "made/to-c").is_ok()
        && std::fs::write("made/to-c", "c").is_ok()
        && std::fs::read_to_string("made/deeper/c").is_ok_and(|t| t == "c");
    out.push(("create through a symlink", through));
    let exclusive = std::fs::OpenOptions::new().write(true).create_new(true).open("made/deeper/b").is_err();
    out.push(("refuse O_EXCL on what exists", exclusive));
    // SAFETY: umask sets this process's mask.
    unsafe { libc::umask(0o027) };
    let masked = std::fs::write("made/masked", "m").is_ok()
        && std::fs::metadata("made/masked").is_ok_and(|m| m.permissions().mode() & 0o777 == 0o640);
    // SAFETY: as above.
    unsafe { libc::umask(0o022) };
    out.push(("honour the umask", masked));
    let cloexec = std::fs::File::create("made/cloexec").is_ok_and(|f| {
        // SAFETY: F_GETFD on a descriptor we hold.
        unsafe { libc::fcntl(f.as_raw_fd(), libc::F_GETFD) & libc::FD_CLOEXEC != 0 }
    });
    // SAFETY: a C string; a descriptor or -1.
    let kept = unsafe { libc::open(c"made/kept".as_ptr(), libc::O_CREAT | libc::O_WRONLY, 0o644) };
    // SAFETY: F_GETFD on a descriptor we hold (or -1).
    let kept_open = kept >= 0 && unsafe { libc::fcntl(kept, libc::F_GETFD) } & libc::FD_CLOEXEC == 0;
    out.push(("close on exec only when asked", cloexec && kept_open));
    let blocking = kept >= 0 && unsafe { libc::fcntl(kept, libc::F_GETFL) } & libc::O_NONBLOCK == 0;
    out.push(("open blocking unless asked", blocking));
    // /dev/stderr names this process's own descriptor.
    let stderr = std::fs::OpenOptions::new().write(true).create(true).truncate(false).open("/dev/stderr").is_ok();
    out.push(("open /dev/stderr to write", stderr));
    // A FIFO opened to write before its reader: the open waits for the reader.
    let fifo = std::ffi::CString::new("made/fifo").unwrap_or_default();
    // SAFETY: a C string.
    let made = unsafe { libc::mkfifo(fifo.as_ptr(), 0o600) } == 0;
    let writer = std::thread::spawn(|| {
        std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .open("made/fifo")
            .and_then(|mut f| f.write_all(b"through"))
    });
    let read = made && std::fs::read_to_string("made/fifo").is_ok_and(|t| t == "through");
    out.push(("write a FIFO before its reader opens it", read && writer.join().is_ok_and(|w| w.is_ok())));
    out
}

/// Binds an abstract Unix socket and connects to it.
fn abstract_pair() -> bool {
    use std::os::linux::net::SocketAddrExt;
    let Ok(addr) = std::os::unix::net::SocketAddr::from_abstract_name(b"teamster-hostile-own") else { return false };
    let Ok(listener) = std::os::unix::net::UnixListener::bind_addr(&addr) else { return false };
    let ok = std::os::unix::net::UnixStream::connect_addr(&addr).is_ok();
    drop(listener);
    ok
}
