//! The one table that turns a core [`zcopy::Error`] into a Python exception.
//!
//! | core `ErrorKind` | Python |
//! |---|---|
//! | `InvalidArgument`, `OutOfRange`, `PastEndOfFile` | `ValueError` |
//! | `Closed` (a region or selector) | `ValueError` (like a closed `mmap.mmap`) |
//! | `Closed` (a descriptor), `NotReadable`, `NotWritable` | `OSError` with `errno.EBADF` |
//! | `WouldBlock` | `BlockingIOError` (`OSError` with `errno.EAGAIN`) |
//! | `Unsupported` | `OSError` with `errno.EOPNOTSUPP` |
//! | `Truncated` | `zcopy.TruncatedError`, an `OSError` with `errno.EFAULT` |
//! | `Io` | `OSError` with the system's errno (CPython picks the subclass) |
//!
//! `OSError` is built as `OSError(errno, message)`, so CPython picks the subclass for the errno
//! itself (`FileNotFoundError`, `BrokenPipeError`, `BlockingIOError`, ...). The binding's own
//! argument checks raise `TypeError` (wrong type, write to a read-only region) and `IndexError`
//! (indexing) directly, as the built-in types do.

use pyo3::create_exception;
use pyo3::exceptions::{PyOSError, PyValueError};
use pyo3::PyErr;
use zcopy::{Error, ErrorKind, Resource};

create_exception!(
    zcopy,
    TruncatedError,
    PyOSError,
    "The file behind a mapped region shrank under it (errno EFAULT).\n\n\
     The pages past the file's new end read as zeros; every later operation on the region raises \
     this error. Close the region and map the file again."
);

/// Converts a core error to the Python exception of the table above.
pub fn to_py(err: Error) -> PyErr {
    let message = err.to_string();
    let errno = err.raw_os_error();
    match err.kind() {
        ErrorKind::InvalidArgument | ErrorKind::OutOfRange | ErrorKind::PastEndOfFile => {
            PyValueError::new_err(message)
        }
        ErrorKind::Closed
            if !matches!(
                err,
                Error::Closed {
                    what: Resource::Descriptor,
                    ..
                }
            ) =>
        {
            PyValueError::new_err(message)
        }
        ErrorKind::Truncated => TruncatedError::new_err((libc::EFAULT, message)),
        ErrorKind::Closed | ErrorKind::NotReadable | ErrorKind::NotWritable => {
            PyOSError::new_err((libc::EBADF, message))
        }
        ErrorKind::WouldBlock => PyOSError::new_err((libc::EAGAIN, message)),
        ErrorKind::Unsupported => PyOSError::new_err((libc::EOPNOTSUPP, message)),
        _ => match errno {
            Some(errno) => PyOSError::new_err((errno, message)),
            None => PyOSError::new_err(message),
        },
    }
}

/// A value the binding refuses before calling core, as core would: `ValueError`.
pub fn invalid(op: &'static str, reason: impl Into<String>) -> PyErr {
    to_py(Error::InvalidArgument {
        op,
        reason: reason.into(),
    })
}

/// Shorthand for `map_err(to_py)`.
pub trait IntoPyResult<T> {
    /// Converts the core result, mapping its error through [`to_py`].
    fn py(self) -> pyo3::PyResult<T>;
}

impl<T> IntoPyResult<T> for zcopy::Result<T> {
    fn py(self) -> pyo3::PyResult<T> {
        self.map_err(to_py)
    }
}
