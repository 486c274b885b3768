//! Descriptors the runtime watches for reading only.
//!
//! Tokio registers a socket for reading and writing at once, so every read the other side
//! makes (its socket's buffer drains) wakes this process for nothing: two wake-ups per
//! keystroke between the TUI and the runner, each landing on a CPU just as the echo needs
//! it. Here a descriptor is registered for reading alone; a write that would block
//! registers a duplicate for writing until it goes through, which on a local socket or a
//! terminal is rare.

use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use tokio::io::unix::AsyncFd;
use tokio::io::{AsyncRead, AsyncWrite, Interest, ReadBuf};

/// Registers `fd` (already non-blocking) to wake the runtime when it can be read.
pub fn readable<T: AsRawFd + Into<OwnedFd>>(fd: T) -> std::io::Result<AsyncFd<T>> {
    register(fd, Interest::READABLE)
}

/// `T: Into<OwnedFd>` is a type that owns its descriptor (an `OwnedFd`, a socket): it stays
/// open, the same file, for as long as the `AsyncFd` that owns the value, as tokio asks.
fn register<T: AsRawFd + Into<OwnedFd>>(fd: T, interest: Interest) -> std::io::Result<AsyncFd<T>> {
    // SAFETY: see above; the value is moved into the AsyncFd, which alone closes it.
    unsafe { AsyncFd::register_with_interest(fd, interest) }.map_err(|e| e.into_parts().1)
}

/// Waits until `fd` can be written. `watch` holds a duplicate watched for writing, made on
/// the first wait and kept across waits until the caller drops it (once what waited is
/// written): one registration for a blocked stretch, not one per wait.
pub async fn writable(watch: &mut Option<AsyncFd<OwnedFd>>, fd: impl AsFd) -> std::io::Result<()> {
    if watch.is_none() {
        *watch = Some(register(fd.as_fd().try_clone_to_owned()?, Interest::WRITABLE)?);
    }
    let Some(w) = watch.as_ref() else { return Ok(()) };
    w.writable().await?.clear_ready();
    Ok(())
}

/// Writes as much of `bytes` to `fd` (non-blocking) as it takes now: how much that was.
/// Stops short when it would block; any other failure is an error.
pub fn write_now(fd: impl AsFd, bytes: &[u8]) -> std::io::Result<usize> {
    let mut done = 0;
    while done < bytes.len() {
        match nix::unistd::write(&fd, &bytes[done..]) {
            Ok(n) => done += n,
            Err(nix::errno::Errno::EINTR) => {}
            Err(nix::errno::Errno::EAGAIN) => break,
            Err(e) => return Err(e.into()),
        }
    }
    Ok(done)
}

/// A duplicate of `fd` watched for writing alone: to wait on while bytes wait for room.
pub fn watch_writing(fd: impl AsFd) -> std::io::Result<AsyncFd<OwnedFd>> {
    register(fd.as_fd().try_clone_to_owned()?, Interest::WRITABLE)
}

/// Splits a connected Unix stream socket into halves whose reading wakes the runtime and
/// whose writing does not, except while a write waits.
pub fn split(stream: UnixStream) -> std::io::Result<(ReadHalf, WriteHalf)> {
    stream.set_nonblocking(true)?;
    let fd = Arc::new(readable(stream)?);
    Ok((ReadHalf(fd.clone()), WriteHalf { fd, waiting: None }))
}

/// Converts a tokio stream (from `connect` or `accept`) and splits it.
pub fn split_tokio(stream: tokio::net::UnixStream) -> std::io::Result<(ReadHalf, WriteHalf)> {
    split(stream.into_std()?)
}

pub struct ReadHalf(Arc<AsyncFd<UnixStream>>);

pub struct WriteHalf {
    fd: Arc<AsyncFd<UnixStream>>,
    /// A duplicate watched for writing, while a write waits for room.
    waiting: Option<AsyncFd<OwnedFd>>,
}

impl AsyncRead for ReadHalf {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        loop {
            let mut guard = ready!(self.0.poll_read_ready(cx))?;
            // Read into the buffer as it is: zeroing 64 KiB first cost more than the read.
            // SAFETY: the kernel writes at most the length given into the spare space,
            // and only the bytes it reports are marked filled.
            let spare = unsafe { buf.unfilled_mut() };
            let read = |fd: &AsyncFd<UnixStream>| {
                let n = unsafe { libc::read(fd.get_ref().as_raw_fd(), spare.as_mut_ptr().cast(), spare.len()) };
                if n < 0 { Err(std::io::Error::last_os_error()) } else { Ok(n as usize) }
            };
            match guard.try_io(read) {
                Ok(Ok(n)) => {
                    // SAFETY: the read filled these.
                    unsafe { buf.assume_init(n) };
                    buf.advance(n);
                    return Poll::Ready(Ok(()));
                }
                Ok(Err(e)) => return Poll::Ready(Err(e)),
                Err(_would_block) => continue,
            }
        }
    }
}

impl AsyncWrite for WriteHalf {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        loop {
            match send(self.fd.get_ref(), buf) {
                Ok(n) => {
                    self.waiting = None;
                    return Poll::Ready(Ok(n));
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(e) => return Poll::Ready(Err(e)),
            }
            if self.waiting.is_none() {
                let dup = self.fd.get_ref().as_fd().try_clone_to_owned()?;
                self.waiting = Some(register(dup, Interest::WRITABLE)?);
            }
            let Some(waiting) = self.waiting.as_ref() else { continue };
            ready!(waiting.poll_write_ready(cx))?.clear_ready();
        }
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(self.fd.get_ref().shutdown(std::net::Shutdown::Write))
    }
}

/// One non-blocking send; a peer that has gone is an error, not a SIGPIPE.
fn send(stream: &UnixStream, buf: &[u8]) -> std::io::Result<usize> {
    loop {
        // SAFETY: sending from a buffer we own, of the length we pass.
        let n = unsafe { libc::send(stream.as_raw_fd(), buf.as_ptr().cast(), buf.len(), libc::MSG_NOSIGNAL) };
        if n >= 0 {
            return Ok(n as usize);
        }
        let e = std::io::Error::last_os_error();
        if e.kind() != std::io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}

/// As tokio's halves do: the peer reads the end of the stream once the writing half goes,
/// even while the reading half is still held.
impl Drop for WriteHalf {
    fn drop(&mut self) {
        let _ = self.fd.get_ref().shutdown(std::net::Shutdown::Write);
    }
}

impl WriteHalf {
    /// Writes all of `bytes`, waiting for room as needed.
    pub async fn write_all(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        tokio::io::AsyncWriteExt::write_all(self, bytes).await
    }
}

impl WriteHalf {
    /// Hands `fd` to the peer: one byte carrying it (SCM_RIGHTS). The peer takes it with
    /// `ReadHalf::take_fd` when nothing else is in flight, so no other read meets it.
    pub async fn give_fd(&mut self, fd: impl AsFd) -> std::io::Result<()> {
        use nix::sys::socket::{ControlMessage, MsgFlags, sendmsg};
        let fds = [fd.as_fd().as_raw_fd()];
        let byte = [0u8; 1];
        loop {
            let iov = [std::io::IoSlice::new(&byte)];
            let cmsg = [ControlMessage::ScmRights(&fds)];
            match sendmsg::<()>(self.fd.get_ref().as_raw_fd(), &iov, &cmsg, MsgFlags::MSG_NOSIGNAL, None) {
                Ok(_) => return Ok(()),
                Err(nix::errno::Errno::EINTR) => continue,
                Err(nix::errno::Errno::EAGAIN) => writable(&mut self.waiting, self.fd.get_ref()).await?,
                Err(e) => return Err(e.into()),
            }
        }
    }
}

impl ReadHalf {
    /// Takes the descriptor the peer handed with `WriteHalf::give_fd`; an error if the
    /// next byte carries none.
    pub async fn take_fd(&mut self) -> std::io::Result<OwnedFd> {
        use nix::sys::socket::{ControlMessageOwned, MsgFlags, recvmsg};
        use std::os::fd::FromRawFd;
        loop {
            let mut guard = self.0.readable().await?;
            let mut byte = [0u8; 1];
            let mut space = nix::cmsg_space!([std::os::fd::RawFd; 1]);
            let got = {
                let mut iov = [std::io::IoSliceMut::new(&mut byte)];
                recvmsg::<()>(self.0.get_ref().as_raw_fd(), &mut iov, Some(&mut space), MsgFlags::MSG_CMSG_CLOEXEC).map(
                    |msg| {
                        let fds: Vec<_> = msg
                            .cmsgs()
                            .into_iter()
                            .flatten()
                            .flat_map(|c| match c {
                                ControlMessageOwned::ScmRights(fds) => fds,
                                _ => Vec::new(),
                            })
                            .collect();
                        (msg.bytes, fds)
                    },
                )
            };
            match got {
                Err(nix::errno::Errno::EAGAIN) => guard.clear_ready(),
                Err(nix::errno::Errno::EINTR) => {}
                Err(e) => return Err(e.into()),
                Ok((0, _)) => return Err(std::io::ErrorKind::UnexpectedEof.into()),
                Ok((_, fds)) => {
                    // SAFETY: the kernel made these descriptors for us; each is owned once.
                    let mut owned = fds.into_iter().map(|fd| unsafe { OwnedFd::from_raw_fd(fd) });
                    let first = owned.next();
                    drop(owned);
                    return first.ok_or_else(|| std::io::Error::other("the peer sent a byte without a descriptor"));
                }
            }
        }
    }
}

/// How a process's epoll sets watch one of its descriptors, read off
/// `/proc/PID/fdinfo`: for tests that check nothing wakes a process needlessly.
#[derive(Debug, PartialEq, Eq)]
pub enum Watch {
    Reading,
    Writing,
    Both,
}

/// What `pid`'s epoll sets watch `fd` for, if any watches it.
pub fn watched(pid: u32, fd: i32) -> Option<Watch> {
    watched_all(pid).into_iter().find(|(f, _)| *f == fd).map(|(_, w)| w)
}

/// Every descriptor `pid`'s epoll sets watch, with what for.
pub fn watched_all(pid: u32) -> Vec<(i32, Watch)> {
    let mut out = Vec::new();
    let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else { return out };
    for entry in fds.flatten() {
        let epoll = std::fs::read_link(entry.path()).is_ok_and(|l| l.to_string_lossy() == "anon_inode:[eventpoll]");
        let info = format!("/proc/{pid}/fdinfo/{}", entry.file_name().to_string_lossy());
        let Some(info) = epoll.then(|| std::fs::read_to_string(info).ok()).flatten() else { continue };
        // Lines like "tfd:       10 events:       19 data: ...".
        for line in info.lines().filter(|l| l.starts_with("tfd:")) {
            let mut words = line.split_whitespace();
            let tfd = words.nth(1).and_then(|w| w.parse().ok());
            let events = words.nth(1).and_then(|w| u32::from_str_radix(w, 16).ok());
            let (Some(tfd), Some(events)) = (tfd, events) else { continue };
            let (r, w) = (events & libc::EPOLLIN as u32 != 0, events & libc::EPOLLOUT as u32 != 0);
            let watch = match (r, w) {
                (true, true) => Watch::Both,
                (false, true) => Watch::Writing,
                _ => Watch::Reading,
            };
            out.push((tfd, watch));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncReadExt;

    #[tokio::test(flavor = "current_thread")]
    async fn a_socket_is_watched_for_writing_only_while_a_write_waits() {
        let (a, b) = UnixStream::pair().expect("pair");
        let fd = a.as_raw_fd();
        let (_ra, mut wa) = split(a).expect("split");
        let (mut rb, _wb) = split(b).expect("split");
        assert_eq!(watched(std::process::id(), fd), Some(Watch::Reading), "registered to read");
        wa.write_all(b"key").await.expect("write");
        let mut got = [0u8; 3];
        rb.read_exact(&mut got).await.expect("read");
        assert_eq!(&got, b"key");
        assert_eq!(watched(std::process::id(), fd), Some(Watch::Reading), "the peer's read wakes nobody here");
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_write_that_waits_for_room_goes_through_whole() {
        let (a, b) = UnixStream::pair().expect("pair");
        let (_ra, mut wa) = split(a).expect("split");
        let (mut rb, _wb) = split(b).expect("split");
        let big: Vec<u8> = (0..4 << 20).map(|i| i as u8).collect();
        let expected = big.clone();
        let writer = tokio::spawn(async move {
            wa.write_all(&big).await.expect("write");
            wa
        });
        let mut got = vec![0u8; expected.len()];
        rb.read_exact(&mut got).await.expect("read");
        assert!(got == expected, "the bytes arrived in order, all of them");
        let wa = writer.await.expect("writer");
        assert!(wa.waiting.is_none(), "no longer watched for writing once through");
        drop(wa);
        assert_eq!(rb.read(&mut [0u8; 1]).await.expect("eof"), 0);
    }
}
