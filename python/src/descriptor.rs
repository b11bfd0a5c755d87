//! File descriptors taken from Python arguments: an `int`, or any object with `fileno()`.
//!
//! # Descriptors closed by another thread
//!
//! While a call runs with the GIL released, another thread may close the caller's descriptor
//! number and open a new file that gets the same number; a transfer that looked the number up
//! again would then read or write the wrong file. Python's files and sockets have no close lock a
//! binding could hold (`sock.close()` closes at once), so a call either keeps the GIL (no Python
//! thread can close anything meanwhile) or works on duplicates (`F_DUPFD_CLOEXEC`), which keep the
//! original open file descriptions alive until the call returns.
//!
//! Duplicating costs three system calls (two `dup`s, one `close_range`), about 1 µs here:
//! more than a whole `os.sendfile` of 4 KiB. So [`Call::take`] keeps the GIL, without duplicates,
//! for calls that cannot wait: at most [`SMALL`] bytes, with the side that could block (the
//! target of `transfer_to`/`sendfile`, the source of `transfer_from`) non-blocking or seekable
//! (files, `/dev/null`: see [`cannot_wait`]). Everything else is duplicated and runs with the
//! GIL released. Numbers from `make bench-python`.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};

use pyo3::exceptions::PyTypeError;
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyInt, PyType};

use crate::errors::IntoPyResult;

/// A number that is never an open descriptor: stands for negative numbers (`socket.fileno()`
/// returns -1 once closed), which `BorrowedFd` cannot hold.
const NEVER_OPEN: RawFd = RawFd::MAX;

/// Calls that move at most this many bytes into (or out of) a non-blocking descriptor keep the
/// GIL: they cannot wait, and a page-cache copy of this size takes microseconds.
pub const SMALL: u64 = 64 * 1024;

/// The descriptor number of `obj`: an `int`, or the result of `obj.fileno()`.
///
/// Negative numbers come back as a number that is not open, so core reports them as closed
/// descriptors (`OSError` with `EBADF`), as `os.sendfile(-1, ...)` does.
///
/// # Errors
///
/// `TypeError` for other objects; whatever `fileno()` raises (`ValueError` for a closed file
/// object); `OverflowError` for numbers beyond a C `int`.
pub fn number(obj: &Bound<'_, PyAny>) -> PyResult<RawFd> {
    let fd: RawFd = if obj.is_instance_of::<PyInt>() {
        obj.extract()?
    } else if let Ok(fileno) = obj.getattr(intern!(obj.py(), "fileno")) {
        fileno.call0()?.extract()?
    } else {
        return Err(PyTypeError::new_err(format!(
            "expected a file descriptor (int) or an object with a fileno() method, got {}",
            obj.get_type().name()?
        )));
    };
    Ok(if fd < 0 { NEVER_OPEN } else { fd })
}

/// Whether a small call cannot wait on `obj` (whose number is `fd`): a socket with a timeout
/// (Python keeps those `O_NONBLOCK`, and a socket answers without a system call), a seekable
/// descriptor (regular files, `/dev/null`, `/dev/zero`: what can seek is not a stream, and never
/// waits for another party, only for the disk), or a descriptor with `O_NONBLOCK` set. Pipes,
/// sockets, FIFOs and terminals cannot seek.
fn cannot_wait(obj: &Bound<'_, PyAny>, fd: RawFd) -> bool {
    static SOCKET: PyOnceLock<Py<PyType>> = PyOnceLock::new();
    let py = obj.py();
    if obj.is_instance_of::<PyInt>() {
        // A bare number: only the kernel knows.
    } else if let Ok(socket) = SOCKET.import(py, "_socket", "socket") {
        if obj.is_instance(socket).unwrap_or(false) {
            return obj
                .call_method0(intern!(py, "gettimeout"))
                .is_ok_and(|timeout| !timeout.is_none());
        }
    }
    // SAFETY: lseek by 0 from the current offset only reads the offset (fstat costs more: it
    // goes through the path lookup of fstatat(fd, "", AT_EMPTY_PATH)).
    if unsafe { libc::lseek(fd, 0, libc::SEEK_CUR) } >= 0 {
        return true;
    }
    // SAFETY: F_GETFL takes no argument and touches no memory.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
    flags >= 0 && flags & libc::O_NONBLOCK != 0
}

/// The two descriptors of one call, and whether it may release the GIL.
pub struct Call {
    /// The caller's own numbers.
    numbers: [RawFd; 2],
    /// Duplicates owned by the call, when it may wait: it then runs on them with the GIL
    /// released. Without them the call uses `numbers` with the GIL held throughout.
    dups: Option<[OwnedFd; 2]>,
}

impl Drop for Call {
    fn drop(&mut self) {
        if let Some([a, b]) = self.dups.take() {
            zcopy::close_pair(a, b);
        }
    }
}

impl Call {
    /// Takes the descriptors of `objs` for one call that moves up to `count` bytes.
    ///
    /// `waits_on` is the index of the object whose blocking could make the call wait (`None`:
    /// the call may always wait, as `transfer_all` does). See the module's documentation for
    /// when the GIL is kept.
    ///
    /// # Errors
    ///
    /// As [`number`]; `OSError` when a duplicate cannot be made for another reason than a
    /// closed number (`EMFILE`).
    pub fn take(objs: [&Bound<'_, PyAny>; 2], count: u64, waits_on: Option<usize>) -> PyResult<Call> {
        let numbers = [number(objs[0])?, number(objs[1])?];
        let cannot_wait = waits_on.is_some_and(|i| count <= SMALL && cannot_wait(objs[i], numbers[i]));
        let mut call = Call { numbers, dups: None };
        if !cannot_wait {
            // The second above the first, so that one close_range releases both.
            if let Some(a) = duplicate(numbers[0], 0)? {
                if let Some(b) = duplicate(numbers[1], a.as_raw_fd() + 1)? {
                    call.dups = Some([a, b]);
                }
            }
            // A number is not open: run with the GIL held, where core reports it in its order.
        }
        Ok(call)
    }

    /// The `i`-th descriptor.
    pub fn fd(&self, i: usize) -> BorrowedFd<'_> {
        match &self.dups {
            Some(dups) => dups[i].as_fd(),
            // SAFETY: a caller's own number is never -1 (see `number`), and the GIL is held while
            // it is used, so no Python thread can close it; if it is not open, core's first
            // system call on it fails with EBADF.
            None => unsafe { BorrowedFd::borrow_raw(self.numbers[i]) },
        }
    }

    /// The caller's own number of the `i`-th descriptor (not the duplicate's): the key under
    /// which core keeps its transfer-method hints, so that a hint follows the caller's
    /// descriptor rather than whatever a duplicate's reused number served before.
    pub fn key(&self, i: usize) -> RawFd {
        self.numbers[i]
    }

    /// Runs `f` (the system calls) with the GIL released when the descriptors are duplicates,
    /// with the GIL held otherwise.
    pub fn run<T: Send>(&self, py: Python<'_>, f: impl FnOnce() -> zcopy::Result<T> + Send) -> PyResult<T> {
        if self.dups.is_some() {
            py.detach(f).py()
        } else {
            f().py()
        }
    }
}

/// A duplicate of `fd` numbered `min` or above, or `None` when `fd` is not open.
fn duplicate(fd: RawFd, min: RawFd) -> PyResult<Option<OwnedFd>> {
    match zcopy::duplicate_at_least(fd, min) {
        Ok(dup) => Ok(Some(dup)),
        Err(e) if e.raw_os_error() == Some(libc::EBADF) => Ok(None),
        Err(e) => Err(e.into()),
    }
}
