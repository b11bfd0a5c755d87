//! Duplicated descriptors for bindings that guard against descriptor reuse.
//!
//! A binding whose caller may close a descriptor from another thread while a call that can wait
//! is running (Java's blocking channels, Python with the GIL released) works on duplicates: they
//! keep the open file descriptions alive, so a number closed and reused meanwhile cannot redirect
//! the call. A transfer needs two; taking the second right above the first lets [`close_pair`]
//! release both with one system call.

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, IntoRawFd, OwnedFd, RawFd};

use crate::sys::{self, FdKind};

/// A close-on-exec duplicate of `fd` numbered `min` or above (`F_DUPFD_CLOEXEC`).
///
/// # Errors
///
/// `EBADF` when `fd` is not open; `EMFILE` when the process has no number left.
pub fn duplicate_at_least(fd: RawFd, min: RawFd) -> io::Result<OwnedFd> {
    // SAFETY: F_DUPFD_CLOEXEC takes an int argument and touches no memory; a number that is not
    // open fails with EBADF.
    let dup = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, min.max(0)) };
    if dup < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: fcntl returned a new descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(dup) })
}

/// Closes two descriptors: one `close_range(2)` when their numbers are adjacent (the usual case
/// for a pair taken with [`duplicate_at_least`], the second above the first), two `close`s
/// otherwise or where `close_range` is missing (Linux < 5.9).
pub fn close_pair(a: OwnedFd, b: OwnedFd) {
    let (x, y) = (a.into_raw_fd(), b.into_raw_fd());
    let (lo, hi) = (x.min(y), x.max(y));
    if hi == lo + 1 {
        // SAFETY: `lo` and `hi` were just taken out of their OwnedFds, so they are ours alone, and
        // they are adjacent, so the range holds no other descriptor.
        if unsafe { libc::close_range(lo as libc::c_uint, hi as libc::c_uint, 0) } == 0 {
            return;
        }
    }
    // SAFETY: as above: both numbers are ours alone and still open (close_range failed before
    // closing anything, or was not tried); the OwnedFds close them on drop.
    drop(unsafe { (OwnedFd::from_raw_fd(x), OwnedFd::from_raw_fd(y)) });
}

/// Whether `fd` is a regular file (the kind on which no system call waits for another party).
///
/// # Errors
///
/// `EBADF` when `fd` is not open.
pub fn is_regular_file(fd: BorrowedFd<'_>) -> io::Result<bool> {
    Ok(sys::fstat(fd.as_raw_fd())?.kind == FdKind::File)
}

/// Waits, with no timeout, until `fd` is ready for `events` (`POLLIN`, `POLLOUT`), retrying
/// `EINTR`: what a binding's own transfer loop does between the short counts of a non-blocking
/// descriptor, as [`transfer_all`](crate::transfer_all) does inside.
///
/// # Errors
///
/// `EBADF` when `fd` is not open; the error of `poll(2)` otherwise.
pub fn wait_ready(fd: BorrowedFd<'_>, events: libc::c_short) -> io::Result<()> {
    sys::wait_ready(fd.as_raw_fd(), events)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsRawFd;

    fn is_open(fd: RawFd) -> bool {
        // SAFETY: F_GETFD touches no memory.
        unsafe { libc::fcntl(fd, libc::F_GETFD) >= 0 }
    }

    #[test]
    fn a_pair_is_numbered_in_order_and_closed_together() {
        let f = tempfile::tempfile().unwrap();
        let a = duplicate_at_least(f.as_raw_fd(), 0).unwrap();
        let b = duplicate_at_least(f.as_raw_fd(), a.as_raw_fd() + 1).unwrap();
        let (x, y) = (a.as_raw_fd(), b.as_raw_fd());
        assert!(y > x);
        // SAFETY: F_GETFD touches no memory.
        assert_ne!(unsafe { libc::fcntl(x, libc::F_GETFD) } & libc::FD_CLOEXEC, 0);
        close_pair(a, b);
        assert!(!is_open(x) && !is_open(y));
        assert!(is_open(f.as_raw_fd()), "the original stays open");
    }

    #[test]
    fn regular_files_and_readiness() {
        let f = tempfile::tempfile().unwrap();
        assert!(is_regular_file(std::os::fd::AsFd::as_fd(&f)).unwrap());
        let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
        assert!(!is_regular_file(std::os::fd::AsFd::as_fd(&a)).unwrap());
        wait_ready(std::os::fd::AsFd::as_fd(&a), libc::POLLOUT).unwrap();
    }

    #[test]
    fn a_number_that_is_not_open_cannot_be_duplicated() {
        // (A number closed here could be reused at once by a test on another thread.)
        for n in [-1, RawFd::MAX] {
            assert_eq!(
                duplicate_at_least(n, 0).unwrap_err().raw_os_error(),
                Some(libc::EBADF)
            );
        }
    }
}
