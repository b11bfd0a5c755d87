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
//! Duplicating (the core's [`DescriptorPair`]) costs three system calls (two `dup`s, one
//! `close_range`), about 1 µs: more than a whole `os.sendfile` of 4 KiB. So [`Call::take`] keeps
//! the GIL, without duplicates, for calls that cannot wait: at most [`SMALL`] bytes, with the side that could block (the
//! target of `transfer_to`/`sendfile`, the source of `transfer_from`) non-blocking or seekable
//! (files, `/dev/null`: see [`cannot_wait`]). Everything else is duplicated and runs with the
//! GIL released. Numbers from `make bench-python`.

use std::os::fd::{BorrowedFd, RawFd};

use pyo3::exceptions::{PyAttributeError, PyTypeError};
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyInt, PyType};
use zcopy::binding::{fd_number, DescriptorPair};
use zcopy::TransferRequest;

use crate::errors::IntoPyResult;

/// Calls that move at most this many bytes into (or out of) a non-blocking descriptor keep the
/// GIL: they cannot wait, and a page-cache copy of this size takes microseconds.
pub const SMALL: u64 = 64 * 1024;

/// The descriptor number of `obj`: an `int`, or the result of `obj.fileno()`, by the core's rule
/// for numbers that cannot be open (negative ones: `socket.fileno()` returns -1 once closed), so
/// core reports them as closed descriptors (`OSError` with `EBADF`), as `os.sendfile(-1, ...)`
/// does.
///
/// # Errors
///
/// `TypeError` for other objects; whatever `fileno()` raises (`ValueError` for a closed file
/// object); `OverflowError` for numbers beyond a C `long`.
pub fn number(obj: &Bound<'_, PyAny>) -> PyResult<RawFd> {
    let py = obj.py();
    if obj.is_instance_of::<PyInt>() {
        return Ok(fd_number(obj.extract()?));
    }
    // A method call without the bound method object that `getattr` + call would make (a tenth
    // of a 4 KiB transfer's cost, per descriptor).
    match obj.call_method0(intern!(py, "fileno")) {
        Ok(fd) => Ok(fd_number(fd.extract()?)),
        // No `fileno` at all (not an AttributeError raised inside `fileno()`).
        Err(e) if e.is_instance_of::<PyAttributeError>(py) && !obj.hasattr(intern!(py, "fileno"))? => {
            Err(PyTypeError::new_err(format!(
                "expected a file descriptor (int) or an object with a fileno() method, got {}",
                obj.get_type().name()?
            )))
        }
        Err(e) => Err(e),
    }
}

/// Whether a small call cannot wait on `obj` (whose number is `fd`): a socket with a timeout
/// (Python keeps those `O_NONBLOCK`, and a socket answers without a system call), a seekable
/// descriptor (regular files, `/dev/null`, `/dev/zero`: what can seek is not a stream, and never
/// waits for another party, only for the disk), or a descriptor with `O_NONBLOCK` set. Pipes,
/// sockets, FIFOs and terminals cannot seek.
fn cannot_wait(obj: &Bound<'_, PyAny>, fd: RawFd) -> bool {
    static SOCKET: PyOnceLock<Py<PyType>> = PyOnceLock::new();
    static IO_BASE: PyOnceLock<Py<PyType>> = PyOnceLock::new();
    let py = obj.py();
    // A subtype check on the object's type: `isinstance` would, on a miss, also look up
    // `obj.__class__` (for proxies), which costs more than the check itself.
    let is = |ty: &PyOnceLock<Py<PyType>>, module: &str, name: &str| {
        ty.import(py, module, name)
            .is_ok_and(|t| obj.get_type().is_subclass(t).unwrap_or(false))
    };
    if obj.is_instance_of::<PyInt>() {
        // A bare number: only the kernel knows (below).
    } else if is(&SOCKET, "_socket", "socket") {
        return has_timeout(obj);
    } else if is(&IO_BASE, "_io", "_IOBase") {
        // A file object answers from what it already knows: io.FileIO caches the answer of its
        // own first lseek, and the buffered and text layers ask their raw file.
        if obj
            .call_method0(intern!(py, "seekable"))
            .is_ok_and(|s| s.is_truthy().unwrap_or(false))
        {
            return true;
        }
    } else if let Ok(Some(_)) = obj.getattr_opt(intern!(py, "gettimeout")) {
        // An object that answers like a socket (uvloop's transports hand out such objects,
        // whose gettimeout() is 0: non-blocking).
        return has_timeout(obj);
    }
    // SAFETY: only system calls see the number, and a number that is not open makes them fail.
    if zcopy::binding::never_waits(unsafe { zcopy::binding::borrow_fd(fd) }) {
        return true;
    }
    // SAFETY: F_GETFL takes no argument and touches no memory.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
    flags >= 0 && flags & libc::O_NONBLOCK != 0
}

/// A socket with a timeout (Python keeps those `O_NONBLOCK`) answers without a system call.
fn has_timeout(obj: &Bound<'_, PyAny>) -> bool {
    obj.call_method0(intern!(obj.py(), "gettimeout"))
        .is_ok_and(|timeout| !timeout.is_none())
}

/// The two descriptors (source, target) of one call, and whether it may release the GIL: a
/// pair duplicated by the core's kit when the call may wait (it then runs with the GIL
/// released), lent as they are otherwise (the GIL held throughout keeps any Python thread from
/// closing them).
pub struct Call {
    pair: DescriptorPair,
}

impl Call {
    /// Takes the descriptors of `objs` (source, target) for one call that moves up to `count`
    /// bytes.
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
        let duplicated = if cannot_wait {
            None
        } else {
            DescriptorPair::duplicated(numbers[0], numbers[1])?
        };
        // A pair that is not duplicated runs with the GIL held (a number that is not open is
        // reported by core in its own check order).
        // SAFETY: the GIL is held for the whole call when the numbers are lent, so no Python
        // thread can close them meanwhile.
        let pair = duplicated.unwrap_or_else(|| unsafe { DescriptorPair::borrowed(numbers[0], numbers[1]) });
        Ok(Call { pair })
    }

    /// The `i`-th descriptor (0: source, 1: target).
    pub fn fd(&self, i: usize) -> BorrowedFd<'_> {
        self.pair.fd(i)
    }

    /// Runs `f` (the system calls) with the GIL released when the descriptors are duplicates,
    /// with the GIL held otherwise.
    pub fn run<T: Send>(&self, py: Python<'_>, f: impl FnOnce() -> zcopy::Result<T> + Send) -> PyResult<T> {
        if self.pair.is_duplicated() {
            py.detach(f).py()
        } else {
            f().py()
        }
    }

    /// Runs a transfer request on the pair (route hints kept under the caller's own numbers),
    /// with the GIL released when the descriptors are duplicates.
    pub fn transfer(mut self, py: Python<'_>, request: TransferRequest<'_>) -> PyResult<zcopy::Transfer> {
        if self.pair.is_duplicated() {
            py.detach(move || request.run_with(&mut self.pair)).py()
        } else {
            request.run_with(&mut self.pair).py()
        }
    }
}
