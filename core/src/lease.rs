//! File leases: be told before another process truncates (or opens for writing) a file that
//! this process has mapped.
//!
//! A read lease (`F_SETLEASE` with `F_RDLCK`, fcntl(2)) makes the kernel hold back another
//! process's `open(O_WRONLY | O_TRUNC)` or `truncate` of the file for up to
//! `/proc/sys/fs/lease-break-time` seconds and signal the holder, who then finishes with its
//! mappings and releases the lease. The break is reported with `SIGURG` (default action: ignore),
//! so a process that does not handle it is not disturbed; [`FileLease::is_breaking`] asks the
//! kernel whether a break is pending, so the holder can poll.
//!
//! Leases need a file owned by the caller (or `CAP_LEASE`) on a local file system, and for a
//! read lease a descriptor open read-only with no writers anywhere.

use std::os::fd::{AsRawFd, BorrowedFd, RawFd};

use crate::sys::syscall;
use crate::{Error, Result};

/// `F_SETSIG` (fcntl(2)); not exported by the libc crate.
const F_SETSIG: libc::c_int = 10;

/// The signal the kernel sends when a lease is being broken.
pub const LEASE_BREAK_SIGNAL: i32 = libc::SIGURG;

/// A read lease on an open file; released on drop or with [`FileLease::release`].
#[derive(Debug)]
pub struct FileLease {
    fd: RawFd,
    held: bool,
}

impl FileLease {
    /// Takes a read lease on the file open on `fd`.
    ///
    /// The lease belongs to the open file description: keep `fd` open while the lease lives.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] with `EAGAIN` when the file is open for writing somewhere, `EACCES` when
    /// the caller does not own it, `EINVAL` on file systems without leases; [`Error::Closed`].
    pub fn read(fd: BorrowedFd<'_>) -> Result<FileLease> {
        const OP: &str = "lease";
        let fd = fd.as_raw_fd();
        // SAFETY: F_SETSIG and F_SETLEASE take int arguments.
        unsafe { syscall!(fcntl(fd, F_SETSIG, LEASE_BREAK_SIGNAL)) }.map_err(|e| Error::os(OP, e))?;
        // SAFETY: as above.
        match unsafe { syscall!(fcntl(fd, libc::F_SETLEASE, libc::F_RDLCK)) } {
            Ok(_) => Ok(FileLease { fd, held: true }),
            Err(e) if e.raw_os_error() == Some(libc::EAGAIN) => Err(Error::Io { op: OP, source: e }),
            Err(e) => Err(Error::os(OP, e)),
        }
    }

    /// Whether another process is waiting to truncate or write the file: finish with the
    /// mappings and call [`FileLease::release`].
    ///
    /// # Errors
    ///
    /// [`Error::Io`] if `F_GETLEASE` fails.
    pub fn is_breaking(&self) -> Result<bool> {
        // SAFETY: F_GETLEASE takes no argument.
        let lease =
            unsafe { syscall!(fcntl(self.fd, libc::F_GETLEASE)) }.map_err(|e| Error::os("lease", e))?;
        // During a break the kernel reports the type the lease is being downgraded to.
        Ok(self.held && lease != libc::F_RDLCK)
    }

    /// Releases the lease, letting a waiting truncation proceed.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] if `F_SETLEASE` fails.
    pub fn release(mut self) -> Result<()> {
        self.unlock()
    }

    fn unlock(&mut self) -> Result<()> {
        if !self.held {
            return Ok(());
        }
        self.held = false;
        // SAFETY: F_SETLEASE takes an int argument.
        unsafe { syscall!(fcntl(self.fd, libc::F_SETLEASE, libc::F_UNLCK)) }
            .map(drop)
            .map_err(|e| Error::os("lease", e))
    }
}

impl Drop for FileLease {
    fn drop(&mut self) {
        // Nothing to do about a failure here: the descriptor may already be closed, which
        // released the lease anyway.
        let _ = self.unlock();
    }
}
