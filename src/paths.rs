//! Where teamster keeps things, following XDG: config in `$XDG_CONFIG_HOME/teamster`,
//! state in `$XDG_STATE_HOME/teamster`, sockets in `$XDG_RUNTIME_DIR/teamster` (0700).

use std::io;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// `$HOME`, else `/`.
pub fn home() -> PathBuf {
    std::env::var_os("HOME").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("/"))
}

fn xdg(var: &str, fallback: &str) -> PathBuf {
    match std::env::var_os(var) {
        Some(v) if !v.is_empty() && Path::new(&v).is_absolute() => PathBuf::from(v).join("teamster"),
        _ => home().join(fallback).join("teamster"),
    }
}

/// A path with `.` and `..` resolved lexically (as the kernel walks it when no symlink is
/// on the way).
pub fn normalize(p: &Path) -> PathBuf {
    use std::path::Component;
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

pub fn config_dir() -> PathBuf {
    xdg("XDG_CONFIG_HOME", ".config")
}

pub fn state_dir() -> PathBuf {
    xdg("XDG_STATE_HOME", ".local/state")
}

/// The config file: `TEAMSTER_CONFIG` if set, else `config.toml` in the config directory.
pub fn config_file() -> PathBuf {
    match std::env::var_os("TEAMSTER_CONFIG") {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => config_dir().join("config.toml"),
    }
}

pub fn runtime_dir() -> PathBuf {
    match std::env::var_os("XDG_RUNTIME_DIR") {
        Some(v) if !v.is_empty() && Path::new(&v).is_absolute() => PathBuf::from(v).join("teamster"),
        _ => std::env::temp_dir().join(format!("teamster-{}", nix::unistd::getuid())),
    }
}

/// The runner's control socket: `TEAMSTER_SOCKET` if set (every pane has it, so
/// `teamster` run inside a pane reaches its own runner), else `runner.sock` in the runtime
/// directory.
pub fn socket_path() -> PathBuf {
    match std::env::var_os("TEAMSTER_SOCKET") {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => runtime_dir().join("runner.sock"),
    }
}

/// The private directory a fork's files pass through (a branch's bundle, a copy of an
/// agent's database), made if missing, and a path for one new entry `NAME.EXT` there
/// (`ext` empty for a directory). What a process that ended mid-way left there over an
/// hour ago is cleared first.
pub fn fork_scratch(ext: &str) -> io::Result<PathBuf> {
    let dir = state_dir().join("forks");
    ensure_private_dir(&dir)?;
    for entry in std::fs::read_dir(&dir)?.flatten() {
        let stale =
            entry.metadata().and_then(|m| m.modified()).is_ok_and(|t| t.elapsed().is_ok_and(|e| e.as_secs() > 3600));
        if stale {
            let _ = std::fs::remove_dir_all(entry.path()).or_else(|_| std::fs::remove_file(entry.path()));
        }
    }
    let mut tag = [0u8; 8];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut tag)
        .map_err(|_| io::Error::other("the system's random source failed"))?;
    let name: String = tag.iter().map(|b| format!("{b:02x}")).collect();
    Ok(dir.join(if ext.is_empty() { name } else { format!("{name}.{ext}") }))
}

/// Creates `dir` (and parents) readable by its owner only, or checks that an existing one
/// is ours and private: the socket in it controls every agent.
pub fn ensure_private_dir(dir: &Path) -> io::Result<()> {
    if !dir.exists() {
        std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir)?;
    }
    let meta = std::fs::metadata(dir)?;
    // One an older teamster made open to others is closed.
    if meta.uid() == nix::unistd::getuid().as_raw() && meta.mode() & 0o077 != 0 {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    }
    if meta.uid() != nix::unistd::getuid().as_raw() {
        return Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            format!(
                "{} belongs to another user; remove it or set XDG_RUNTIME_DIR to a directory of your own",
                dir.display()
            ),
        ));
    }
    if meta.mode() & 0o077 != 0 {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    }
    Ok(())
}

/// Where `program` would be found on PATH, or it as given if it names a path.
pub fn which(program: &str) -> Option<std::path::PathBuf> {
    if program.contains('/') {
        let p = Path::new(program);
        return is_executable(p).then(|| p.to_path_buf());
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|d| d.join(program)).find(|p| is_executable(p))
}

fn is_executable(p: &Path) -> bool {
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}
