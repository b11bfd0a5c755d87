//! A header sent ahead of the body with `MSG_MORE`, so that a small header and the start of the
//! body leave in one TCP segment (what nginx gets from `tcp_nopush`).

use std::io;
use std::os::fd::BorrowedFd;

use nix::sys::socket::{getsockopt, send, setsockopt, sockopt::TcpNoDelay, MsgFlags};

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
