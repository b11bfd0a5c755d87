//! What every language binding needs around the core, written once: the rule for descriptor
//! numbers that cannot be open, a guarded pair of descriptors for calls that may wait while
//! another thread closes the caller's descriptors, access modes, range checks, and panic text.
//!
//! # Descriptors closed by another thread
//!
//! While a call waits in the kernel (the GIL released, a blocking Java channel), another thread
//! may close the caller's descriptor number and open a new file that gets the same number; a call
//! that looked the number up again would then read or write the wrong file. A binding either
//! keeps its language's own guard for the call (the GIL, a channel's close lock), or works on
//! duplicates ([`DescriptorPair::duplicated`]): they keep the original open file descriptions
//! alive until the call returns. A pair is duplicated with the second number right above the
//! first, so that one `close_range` releases both: three system calls in all.

use std::any::Any;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, IntoRawFd, OwnedFd, RawFd};

use crate::sys::{self, FdFlags};
use crate::transfer::{Descriptors, Direction};
use crate::{Error, Result};

pub use crate::error::check_range;

/// A number that is never an open descriptor (above every process's limit).
const NEVER_OPEN: RawFd = RawFd::MAX;

/// The descriptor number for a binding's signed value: negative values and values beyond a C
/// `int` (`socket.fileno()` is -1 once closed; a Java `FileDescriptor` holds -1 after close)
/// become a number that is never open, so the core reports them as closed descriptors
/// ([`Error::Closed`], `EBADF`) in its own check order, as the system calls would.
pub fn fd_number(raw: i64) -> RawFd {
    RawFd::try_from(raw)
        .ok()
        .filter(|&fd| fd >= 0)
        .unwrap_or(NEVER_OPEN)
}

/// A caller's descriptor number as a borrowed descriptor (after [`fd_number`]).
///
/// # Safety
///
/// The number must stay the caller's own descriptor (or a number that is not open) for `'a`:
/// the binding keeps its language's guard for the call (the GIL, a close lock), or the caller's
/// documentation makes it the caller's duty (C). A number that is not open makes the system
/// calls fail with `EBADF`, which the core reports as a closed descriptor.
pub unsafe fn borrow_fd<'a>(fd: RawFd) -> BorrowedFd<'a> {
    // SAFETY: `fd_number` never gives -1, the one value BorrowedFd cannot hold; the caller
    // vouches for the lifetime.
    unsafe { BorrowedFd::borrow_raw(if fd == -1 { NEVER_OPEN } else { fd }) }
}

/// The two descriptors of one call (source, target), lent as they are or as duplicates.
#[derive(Debug)]
pub struct DescriptorPair {
    /// The caller's own numbers.
    numbers: [RawFd; 2],
    /// Duplicates owned by the call (closed together on drop), or `None` when the numbers are
    /// lent as they are.
    dups: Option<[OwnedFd; 2]>,
}

impl DescriptorPair {
    /// Lends the caller's own numbers (after [`fd_number`]).
    ///
    /// # Safety
    ///
    /// As [`borrow_fd`], for the pair's whole life.
    pub unsafe fn borrowed(source: RawFd, target: RawFd) -> DescriptorPair {
        DescriptorPair {
            numbers: [source, target],
            dups: None,
        }
    }

    /// Duplicates both numbers (`F_DUPFD_CLOEXEC`, the target's right above the source's), so
    /// that the call keeps the caller's open files even if the numbers are closed and reused
    /// meanwhile. `Ok(None)` when a number is not open: the caller then lends the numbers as
    /// they are, and the core reports the closed descriptor in its own check order.
    ///
    /// # Errors
    ///
    /// `EMFILE` (no number left) and other failures of `fcntl` but `EBADF`.
    pub fn duplicated(source: RawFd, target: RawFd) -> io::Result<Option<DescriptorPair>> {
        let dup = |fd, min| match duplicate_at_least(fd, min) {
            Ok(d) => Ok(Some(d)),
            Err(e) if e.raw_os_error() == Some(libc::EBADF) => Ok(None),
            Err(e) => Err(e),
        };
        let Some(a) = dup(source, 0)? else { return Ok(None) };
        let Some(b) = dup(target, a.as_raw_fd() + 1)? else {
            return Ok(None);
        };
        Ok(Some(DescriptorPair {
            numbers: [source, target],
            dups: Some([a, b]),
        }))
    }

    /// The source (`0`) or target (`1`) descriptor for the call.
    pub fn fd(&self, i: usize) -> BorrowedFd<'_> {
        match &self.dups {
            Some(dups) => dups[i].as_fd(),
            // SAFETY: `borrowed`'s caller vouches that the number stays its own for the pair's
            // life.
            None => unsafe { borrow_fd(self.numbers[i]) },
        }
    }

    /// The caller's own number of the source (`0`) or target (`1`).
    pub fn number(&self, i: usize) -> RawFd {
        self.numbers[i]
    }

    /// Whether the call works on duplicates.
    pub fn is_duplicated(&self) -> bool {
        self.dups.is_some()
    }
}

impl Drop for DescriptorPair {
    fn drop(&mut self) {
        if let Some([a, b]) = self.dups.take() {
            close_pair(a, b);
        }
    }
}

impl Descriptors for DescriptorPair {
    type Error = Error;

    fn step<R>(&mut self, f: impl FnOnce(BorrowedFd<'_>, BorrowedFd<'_>) -> R) -> Result<Option<R>> {
        Ok(Some(f(self.fd(0), self.fd(1))))
    }

    fn hint_key(&self, dir: Direction) -> Option<RawFd> {
        self.is_duplicated().then(|| match dir {
            Direction::To => self.numbers[1],
            Direction::From => self.numbers[0],
        })
    }

    fn wait(&mut self, dir: Direction) -> Result<bool> {
        crate::transfer::wait_stream(self.fd(0), self.fd(1), dir)?;
        Ok(true)
    }

    fn syscalls(&self) -> u64 {
        match &self.dups {
            Some([a, b]) if b.as_raw_fd() == a.as_raw_fd() + 1 => 3,
            Some(_) => 4,
            None => 0,
        }
    }
}

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

/// How a descriptor is open: the access mode and `O_APPEND`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Access {
    /// Open for reading (`O_RDONLY` or `O_RDWR`).
    pub readable: bool,
    /// Open for writing (`O_WRONLY` or `O_RDWR`).
    pub writable: bool,
    /// Writes go to the end (`O_APPEND`).
    pub append: bool,
}

/// The access mode of `fd` (`F_GETFL`).
///
/// # Errors
///
/// [`Error::Closed`] when `fd` is not open.
pub fn access(op: &'static str, fd: BorrowedFd<'_>) -> Result<Access> {
    let flags = FdFlags::get(fd.as_raw_fd()).map_err(|_| Error::closed_descriptor(op))?;
    Ok(Access {
        readable: flags.readable(),
        writable: flags.writable(),
        append: flags.append(),
    })
}

/// Whether no system call on `fd` waits for another party: a seekable descriptor (regular
/// files, block devices, `/dev/null`, `/dev/zero`) waits only for the disk, never for a reader or
/// writer. Pipes, sockets, FIFOs and terminals cannot seek. One `lseek` by 0, which only reads the
/// offset (cheaper than `fstat`, which goes through `fstatat(fd, "", AT_EMPTY_PATH)`); false for a
/// number that is not open.
pub fn never_waits(fd: BorrowedFd<'_>) -> bool {
    // SAFETY: lseek takes no pointers; a number that is not open fails with EBADF.
    unsafe { libc::lseek(fd.as_raw_fd(), 0, libc::SEEK_CUR) >= 0 }
}

/// Waits, with no timeout, until `fd` is ready for `events` (`POLLIN`, `POLLOUT`), retrying
/// `EINTR`.
///
/// # Errors
///
/// `EBADF` when `fd` is not open; the error of `poll(2)` otherwise.
pub fn wait_ready(fd: BorrowedFd<'_>, events: libc::c_short) -> io::Result<()> {
    sys::wait_ready(fd.as_raw_fd(), events)
}

/// The text of a caught panic's payload (a `&str` or `String` message; a placeholder otherwise),
/// for the binding's own error ("zcopy: native panic: ...").
pub fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "a panic with a non-string payload".to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn is_open(fd: RawFd) -> bool {
        // SAFETY: F_GETFD touches no memory.
        unsafe { libc::fcntl(fd, libc::F_GETFD) >= 0 }
    }

    #[test]
    fn numbers_that_cannot_be_open() {
        assert_eq!(fd_number(5), 5);
        for raw in [-1, -2, i64::MIN, i64::from(RawFd::MAX) + 1, i64::MAX] {
            assert_eq!(fd_number(raw), NEVER_OPEN, "{raw}");
        }
        assert!(!is_open(NEVER_OPEN));
    }

    #[test]
    fn a_pair_is_numbered_in_order_and_closed_together() {
        use std::io::{Read, Write};
        // Duplicates of a pipe's writing end: the reader sees the end of the pipe only once
        // every copy is closed (other tests open and close numbers in parallel, so asking
        // whether a number is still open would race).
        let (mut r, mut w) = std::io::pipe().unwrap();
        let pair = DescriptorPair::duplicated(w.as_raw_fd(), w.as_raw_fd())
            .unwrap()
            .unwrap();
        let (x, y) = (pair.fd(0).as_raw_fd(), pair.fd(1).as_raw_fd());
        // Right above, unless another test's descriptor took that number in between.
        assert!(y > x);
        assert_eq!(pair.syscalls(), if y == x + 1 { 3 } else { 4 });
        assert_eq!(pair.hint_key(Direction::To), Some(w.as_raw_fd()));
        // SAFETY: F_GETFD touches no memory.
        assert_ne!(unsafe { libc::fcntl(x, libc::F_GETFD) } & libc::FD_CLOEXEC, 0);
        drop(pair);
        w.write_all(b"x").unwrap(); // the original stays open
        drop(w);
        // SAFETY: F_SETFL takes an int and touches no memory.
        unsafe { libc::fcntl(r.as_raw_fd(), libc::F_SETFL, libc::O_NONBLOCK) };
        let mut got = Vec::new();
        // The end of the pipe, not EAGAIN: no duplicate of the writing end is left.
        r.read_to_end(&mut got).unwrap();
        assert_eq!(got, b"x");
    }

    #[test]
    fn a_pair_with_a_number_that_is_not_open_is_lent_instead() {
        let f = tempfile::tempfile().unwrap();
        assert!(DescriptorPair::duplicated(f.as_raw_fd(), NEVER_OPEN)
            .unwrap()
            .is_none());
        assert!(DescriptorPair::duplicated(NEVER_OPEN, f.as_raw_fd())
            .unwrap()
            .is_none());
        assert_eq!(
            duplicate_at_least(-1, 0).unwrap_err().raw_os_error(),
            Some(libc::EBADF)
        );
    }

    #[test]
    fn access_modes_regular_files_and_readiness() {
        let f = tempfile::tempfile().unwrap();
        let a = access("t", f.as_fd()).unwrap();
        assert!(a.readable && a.writable && !a.append);
        let (s, _t) = std::os::unix::net::UnixStream::pair().unwrap();
        assert!(never_waits(f.as_fd()) && !never_waits(s.as_fd()));
        let null = std::fs::File::options().write(true).open("/dev/null").unwrap();
        assert!(never_waits(null.as_fd()), "a character device that can seek");
        wait_ready(s.as_fd(), libc::POLLOUT).unwrap();
        // SAFETY: NEVER_OPEN is not open; only system calls see it.
        let closed = unsafe { borrow_fd(NEVER_OPEN) };
        assert_eq!(access("t", closed).unwrap_err().kind(), crate::ErrorKind::Closed);
    }

    #[test]
    fn panic_payloads_as_text() {
        assert_eq!(panic_message(&"boom"), "boom");
        assert_eq!(panic_message(&String::from("bang")), "bang");
        assert_eq!(panic_message(&42u8), "a panic with a non-string payload");
    }
}
