//! A header sent ahead of the body with `MSG_MORE`, so that a small header and the start of the
//! body leave in one TCP segment (what nginx gets from `tcp_nopush`).

use std::io;
use std::os::fd::BorrowedFd;

use std::io::IoSlice;

use nix::sys::socket::{getsockopt, send, sendmsg, setsockopt, sockopt::TcpNoDelay, MsgFlags};
use nix::sys::uio::pread;

use super::job::Job;

/// How far the header got in one step.
pub(super) struct HeaderStep {
    /// Bytes of the header sent in this step.
    pub(super) sent: usize,
    /// The socket was full before the header was sent whole.
    pub(super) would_block: bool,
    /// The error that stopped it, when nothing was sent in this step.
    pub(super) error: Option<io::Error>,
}

/// Sends `header` on the socket `fd`, with `MSG_MORE` when a body follows (`MSG_NOSIGNAL` always:
/// no `SIGPIPE`). An error after part of the header went ends the step with that part; the error
/// shows again on the next call.
pub(super) fn send_header(
    job: &Job<'_>,
    fd: BorrowedFd<'_>,
    header: &[u8],
    body_follows: bool,
) -> HeaderStep {
    let mut flags = MsgFlags::MSG_NOSIGNAL;
    if body_follows {
        // nix has no name for MSG_MORE (tcp(7), udp(7)).
        flags |= MsgFlags::from_bits_retain(libc::MSG_MORE);
    }
    let mut sent = 0usize;
    while sent < header.len() {
        match job.sys(|| send(std::os::fd::AsRawFd::as_raw_fd(&fd), &header[sent..], flags)) {
            Ok(n) => sent += n,
            Err(e) if e.raw_os_error() == Some(libc::EAGAIN) => {
                return HeaderStep {
                    sent,
                    would_block: true,
                    error: None,
                }
            }
            Err(_) if sent > 0 => break,
            Err(e) => {
                return HeaderStep {
                    sent,
                    would_block: false,
                    error: Some(e),
                }
            }
        }
    }
    HeaderStep {
        sent,
        would_block: false,
        error: None,
    }
}

/// Sends what `MSG_MORE` left waiting on a TCP socket when no body followed after all (the
/// position was at or past the end of the file): setting `TCP_NODELAY` pushes pending output
/// (tcp(7)) instead of leaving it to the cork timer (~200 ms); the option is then put back as it
/// was. Best effort: on a socket that is not TCP there is nothing corked to push.
pub(super) fn push_corked(job: &Job<'_>, fd: BorrowedFd<'_>) {
    job.tick(1);
    if let Ok(was) = getsockopt(&fd, TcpNoDelay) {
        job.tick(1);
        let _ = setsockopt(&fd, TcpNoDelay, &true);
        if !was {
            job.tick(1);
            let _ = setsockopt(&fd, TcpNoDelay, &false);
        }
    }
}

/// Bodies up to this size go out with their header in one `sendmsg`, copied from the file (see
/// [`send_with_small_body`]).
pub(super) const SMALL_BODY: usize = 16 * 1024;

/// What [`send_with_small_body`] sent: header bytes, body bytes, and whether the socket was full.
pub(super) struct Together {
    pub(super) header: usize,
    pub(super) body: usize,
    pub(super) would_block: bool,
}

/// A header and a small body (at most [`SMALL_BODY`] bytes of `source` from `position`) in one
/// `pread` and one `sendmsg`, as nginx sends small files with `sendfile off`: one segment built
/// from one buffer, where `send(MSG_MORE)` and `sendfile` give the socket a header and a page
/// reference to join (measured by `make bench-http`: the copy is the cheaper way for a few KiB).
/// `None` when the source cannot be read at a position (not a file: the caller takes its usual
/// route) or is at its end (the usual route reports that too).
pub(super) fn send_with_small_body(
    job: &Job<'_>,
    source: BorrowedFd<'_>,
    target: BorrowedFd<'_>,
    header: &[u8],
    position: u64,
    len: usize,
) -> Option<io::Result<Together>> {
    let mut buf = [0u8; SMALL_BODY];
    let len = len.min(SMALL_BODY);
    let n = job
        .sys(|| pread(source, &mut buf[..len], position as libc::off_t))
        .ok()?;
    if n == 0 {
        return None;
    }
    let iov = [IoSlice::new(header), IoSlice::new(&buf[..n])];
    let fd = std::os::fd::AsRawFd::as_raw_fd(&target);
    let sent = match job.sys(|| sendmsg::<()>(fd, &iov, &[], MsgFlags::MSG_NOSIGNAL, None)) {
        Ok(sent) => sent,
        Err(e) if e.raw_os_error() == Some(libc::EAGAIN) => 0,
        Err(e) => return Some(Err(e)),
    };
    Some(Ok(Together {
        header: sent.min(header.len()),
        body: sent.saturating_sub(header.len()),
        would_block: sent < header.len() + n,
    }))
}
