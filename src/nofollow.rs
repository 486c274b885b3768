//! Writing where an agent can write, without following what it planted there.
//!
//! The runner writes files for agents (settings with teamster's hooks, a copy of a config
//! file) in places their agents can change between two panes: their own state directories,
//! the pane's directories. A symlink planted there must not send the runner's write
//! somewhere else (`~/.bash_profile`), so every directory below a trusted base is opened
//! one name at a time without following a symlink, and a file is replaced by renaming a
//! new one over it: a symlink in its place is replaced, not followed, and a hard link's
//! other names keep their content.

use nix::fcntl::{AtFlags, OFlag, RenameFlags};
use nix::sys::stat::Mode;
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Component, Path, PathBuf};

/// The trusted base a path the runner writes lies beneath: teamster's state directory
/// (which agents never see whole) or the home directory (whose own path the user chose);
/// elsewhere, the root: no symlink at all on the way.
pub fn base_of(path: &Path) -> io::Result<PathBuf> {
    if !path.is_absolute() {
        return Err(io::Error::other(format!("{} is not an absolute path", path.display())));
    }
    Ok([crate::paths::state_dir(), crate::paths::home()]
        .into_iter()
        .find(|b| path.starts_with(b))
        .unwrap_or_else(|| PathBuf::from("/")))
}

/// Opens (making what is missing, 0700) each directory from `base` down to `dir`, following
/// no symlink below `base`.
pub fn open_dir(base: &Path, dir: &Path) -> io::Result<OwnedFd> {
    walk(base, dir, true)
}

/// The first `max` bytes of the regular file at `path`, read through no symlink below its
/// base (`base_of`): what an agent could have put there is read as a file or not at all.
pub fn read(path: &Path, max: u64) -> io::Result<Vec<u8>> {
    use std::io::Read;
    let (Some(dir), Some(name)) = (path.parent(), path.file_name()) else {
        return Err(io::Error::other(format!("{} names no file", path.display())));
    };
    let at = walk(&base_of(path)?, dir, false)?;
    let flags = OFlag::O_RDONLY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC | OFlag::O_NONBLOCK;
    let file = std::fs::File::from(nix::fcntl::openat(at.as_fd(), name, flags, Mode::empty())?);
    if !file.metadata()?.is_file() {
        return Err(io::Error::other(format!("{} is not a plain file", path.display())));
    }
    let mut bytes = Vec::new();
    file.take(max).read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// Opens each directory from `base` down to `dir`, following no symlink below `base`;
/// with `make`, making what is missing (0700).
fn walk(base: &Path, dir: &Path, make: bool) -> io::Result<OwnedFd> {
    let rest = dir
        .strip_prefix(base)
        .map_err(|_| io::Error::other(format!("{} is not beneath {}", dir.display(), base.display())))?;
    let flags = OFlag::O_DIRECTORY | OFlag::O_CLOEXEC | OFlag::O_NOFOLLOW | OFlag::O_RDONLY;
    let mut at: OwnedFd = nix::fcntl::open(base, flags, Mode::empty()).map_err(io::Error::from)?;
    for part in rest.components() {
        let Component::Normal(name) = part else {
            return Err(io::Error::other(format!("{} is not a plain path", dir.display())));
        };
        at = match nix::fcntl::openat(at.as_fd(), name, flags, Mode::empty()) {
            Ok(fd) => fd,
            Err(nix::errno::Errno::ENOENT) if make => {
                match nix::sys::stat::mkdirat(at.as_fd(), name, Mode::from_bits_truncate(0o700)) {
                    Ok(()) | Err(nix::errno::Errno::EEXIST) => {}
                    Err(e) => return Err(e.into()),
                }
                nix::fcntl::openat(at.as_fd(), name, flags, Mode::empty())?
            }
            Err(nix::errno::Errno::ELOOP | nix::errno::Errno::ENOTDIR) => {
                return Err(io::Error::other(format!(
                    "{} is a symlink or not a directory; teamster does not write through it",
                    dir.display()
                )));
            }
            Err(e) => return Err(e.into()),
        };
    }
    Ok(at)
}

/// Replaces the file `path` (beneath `base`) with `bytes`, readable by the owner only.
pub fn write(base: &Path, path: &Path, bytes: &[u8]) -> io::Result<()> {
    put(base, path, bytes, RenameFlags::empty())
}

/// As `write`, but only where no file is at `path` yet (a file there stays: it is the
/// agent's now); false when one was. Anything else there (a symlink someone planted) is
/// replaced, never followed.
pub fn write_new(base: &Path, path: &Path, bytes: &[u8]) -> io::Result<bool> {
    let (Some(dir), Some(name)) = (path.parent(), path.file_name()) else {
        return Err(io::Error::other(format!("{} names no file", path.display())));
    };
    let at = open_dir(base, dir)?;
    let how = match nix::sys::stat::fstatat(at.as_fd(), name, AtFlags::AT_SYMLINK_NOFOLLOW) {
        Ok(st) if st.st_mode & libc::S_IFMT == libc::S_IFREG => return Ok(false),
        Ok(_) => RenameFlags::empty(),
        Err(_) => RenameFlags::RENAME_NOREPLACE,
    };
    match put(base, path, bytes, how) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(false),
        Err(e) => Err(e),
    }
}

fn put(base: &Path, path: &Path, bytes: &[u8], how: RenameFlags) -> io::Result<()> {
    use std::io::Write;
    let (Some(dir), Some(name)) = (path.parent(), path.file_name()) else {
        return Err(io::Error::other(format!("{} names no file", path.display())));
    };
    let at = open_dir(base, dir)?;
    let mut suffix = [0u8; 8];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut suffix)
        .map_err(|_| io::Error::other("the system's random source failed"))?;
    let temp = format!(".{}.teamster-{}", name.to_string_lossy(), u64::from_ne_bytes(suffix));
    let flags = OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
    let fd = nix::fcntl::openat(at.as_fd(), temp.as_str(), flags, Mode::from_bits_truncate(0o600))?;
    let written = std::fs::File::from(fd).write_all(bytes);
    let renamed = written.and_then(|()| {
        nix::fcntl::renameat2(at.as_fd(), temp.as_str(), at.as_fd(), name, how).map_err(io::Error::from)
    });
    if renamed.is_err() {
        let _ = nix::unistd::unlinkat(at.as_fd(), temp.as_str(), nix::unistd::UnlinkatFlags::NoRemoveDir);
    }
    renamed
}

/// Makes `link` (beneath `base`) a symlink to `target`, unless something is there.
pub fn symlink(base: &Path, target: &Path, link: &Path) -> io::Result<()> {
    let (Some(dir), Some(name)) = (link.parent(), link.file_name()) else {
        return Err(io::Error::other(format!("{} names no file", link.display())));
    };
    let at = open_dir(base, dir)?;
    if nix::sys::stat::fstatat(at.as_fd(), name, AtFlags::AT_SYMLINK_NOFOLLOW).is_ok() {
        return Ok(());
    }
    nix::unistd::symlinkat(target, at.as_fd(), name).map_err(io::Error::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_planted_symlink_is_replaced_not_followed() {
        let root = std::env::temp_dir().join(format!("teamster-nofollow-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(root.join("agent")).unwrap();
        std::fs::write(root.join("profile"), "mine\n").unwrap();
        // The file the runner writes is a symlink to the user's profile.
        std::os::unix::fs::symlink(root.join("profile"), root.join("agent/settings.json")).unwrap();
        write(&root, &root.join("agent/settings.json"), b"{}").unwrap();
        assert_eq!(std::fs::read_to_string(root.join("profile")).unwrap(), "mine\n");
        assert_eq!(std::fs::read_to_string(root.join("agent/settings.json")).unwrap(), "{}");
        assert!(!std::fs::symlink_metadata(root.join("agent/settings.json")).unwrap().is_symlink());
        // A directory on the way is a symlink: nothing is written through it.
        std::fs::create_dir_all(root.join("elsewhere")).unwrap();
        std::os::unix::fs::symlink(root.join("elsewhere"), root.join("agent/home")).unwrap();
        let err = write(&root, &root.join("agent/home/x.json"), b"{}").unwrap_err();
        assert!(err.to_string().contains("symlink"), "{err}");
        assert!(!root.join("elsewhere/x.json").exists());
        // A hard link's other name keeps its content.
        std::fs::write(root.join("agent/linked"), "old").unwrap();
        std::fs::hard_link(root.join("agent/linked"), root.join("other-name")).unwrap();
        write(&root, &root.join("agent/linked"), b"new").unwrap();
        assert_eq!(std::fs::read_to_string(root.join("other-name")).unwrap(), "old");
        // Missing directories are made, private.
        write(&root, &root.join("agent/a/b/c.json"), b"1").unwrap();
        assert_eq!(std::fs::read_to_string(root.join("agent/a/b/c.json")).unwrap(), "1");
        let _ = std::fs::remove_dir_all(&root);
    }

    #[test]
    fn a_seed_is_written_once_and_never_through_a_symlink() {
        let root = std::env::temp_dir().join(format!("teamster-seed-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(root.join("agent")).unwrap();
        let seed = root.join("agent/state.json");
        assert!(write_new(&root, &seed, b"yours").unwrap());
        // The agent's own changes stay.
        std::fs::write(&seed, "its own").unwrap();
        assert!(!write_new(&root, &seed, b"yours").unwrap());
        assert_eq!(std::fs::read_to_string(&seed).unwrap(), "its own");
        // A symlink planted in its place is replaced, and what it pointed at is untouched.
        std::fs::write(root.join("profile"), "mine\n").unwrap();
        std::fs::remove_file(&seed).unwrap();
        std::os::unix::fs::symlink(root.join("profile"), &seed).unwrap();
        assert!(write_new(&root, &seed, b"yours").unwrap());
        assert!(std::fs::symlink_metadata(&seed).unwrap().is_file());
        assert_eq!(std::fs::read_to_string(root.join("profile")).unwrap(), "mine\n");
        let _ = std::fs::remove_dir_all(&root);
    }

    #[test]
    fn a_file_is_read_as_a_file_or_not_at_all() {
        let root = std::env::temp_dir().join(format!("teamster-read-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(root.join("agent")).unwrap();
        std::fs::write(root.join("secret"), "SECRET").unwrap();
        std::fs::write(root.join("agent/state"), "0123456789").unwrap();
        assert_eq!(read(&root.join("agent/state"), 4).unwrap(), b"0123");
        std::os::unix::fs::symlink(root.join("secret"), root.join("agent/link")).unwrap();
        assert!(read(&root.join("agent/link"), 100).is_err(), "a symlink in the file's place");
        std::os::unix::fs::symlink(&root, root.join("agent/up")).unwrap();
        assert!(read(&root.join("agent/up/secret"), 100).is_err(), "a symlink on the way");
        assert!(read(&root.join("agent/missing/x"), 100).is_err());
        assert!(!root.join("agent/missing").exists(), "reading makes nothing");
        let _ = std::fs::remove_dir_all(&root);
    }
}
