//! The one error type of zcopy, and its classification.
//!
//! Every binding maps [`ErrorKind`] (plus [`Error::raw_os_error`]) to its language's idiom through a
//! single table: `zc_result` codes in C, `java.nio` exceptions in Java, `OSError` subclasses and
//! `ValueError` in Python.

use std::io;

/// What went wrong, with the operation, the OS errno and the values involved.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An argument is out of its domain: negative, overflowing, an unknown flag.
    #[error("{op}: invalid argument: {reason}")]
    InvalidArgument {
        /// The operation that refused the argument.
        op: &'static str,
        /// Which argument, and why.
        reason: String,
    },
    /// A descriptor, region or selector was already closed.
    #[error("{op}: {what} is closed")]
    Closed {
        /// The operation that found it closed.
        op: &'static str,
        /// What was closed.
        what: Resource,
    },
    /// A descriptor is not open for reading.
    #[error("{op}: descriptor is not open for reading")]
    NotReadable {
        /// The operation.
        op: &'static str,
    },
    /// A descriptor is not open for writing.
    #[error("{op}: descriptor is not open for writing")]
    NotWritable {
        /// The operation.
        op: &'static str,
    },
    /// A range does not lie inside a region.
    #[error("{op}: range at offset {offset} of length {len} is outside the region's {size} bytes")]
    OutOfRange {
        /// The operation.
        op: &'static str,
        /// The start of the range.
        offset: u64,
        /// The length of the range.
        len: u64,
        /// The size of the region.
        size: u64,
    },
    /// A mapping would reach past the end of the file, and the file may not be extended.
    #[error("{op}: position + size ({end}) is past the end of the file ({file_size} bytes): {reason}")]
    PastEndOfFile {
        /// The operation.
        op: &'static str,
        /// `position + size` as asked.
        end: u64,
        /// The file's size at the time of the call.
        file_size: u64,
        /// Why the file was not extended.
        reason: &'static str,
    },
    /// The descriptor is non-blocking and the operation would have blocked before moving any byte.
    #[error("{op}: operation would block")]
    WouldBlock {
        /// The operation.
        op: &'static str,
    },
    /// The running kernel lacks a feature.
    #[error("{op}: {feature} is not supported here (needs Linux {min_kernel})")]
    Unsupported {
        /// The operation.
        op: &'static str,
        /// The missing feature.
        feature: &'static str,
        /// The first kernel version that has it.
        min_kernel: &'static str,
    },
    /// The file behind a mapping shrank, so part of the mapping no longer has a file page behind it.
    #[error("{op}: the mapped file was truncated under the mapping; pages past its new end read as zeros")]
    Truncated {
        /// The operation that noticed.
        op: &'static str,
    },
    /// Any other failure of a system call.
    #[error("{op}: {}", os_message(source))]
    Io {
        /// The operation.
        op: &'static str,
        /// The OS error.
        #[source]
        source: io::Error,
    },
}

/// What [`Error::Closed`] found closed: bindings pick their language's exception by it (Java's
/// `ClosedChannelException` for a descriptor, `IllegalStateException` for a region, ...).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Resource {
    /// A file descriptor (a file, socket or pipe of the caller's).
    Descriptor,
    /// A mapped region.
    Region,
    /// An epoll selector.
    Selector,
}

impl std::fmt::Display for Resource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Resource::Descriptor => "descriptor",
            Resource::Region => "region",
            Resource::Selector => "selector",
        })
    }
}

/// The class of an [`Error`]: what a binding needs to pick its language's exception or code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// See [`Error::InvalidArgument`].
    InvalidArgument,
    /// See [`Error::Closed`].
    Closed,
    /// See [`Error::NotReadable`].
    NotReadable,
    /// See [`Error::NotWritable`].
    NotWritable,
    /// See [`Error::OutOfRange`].
    OutOfRange,
    /// See [`Error::PastEndOfFile`].
    PastEndOfFile,
    /// See [`Error::WouldBlock`].
    WouldBlock,
    /// See [`Error::Unsupported`].
    Unsupported,
    /// See [`Error::Truncated`].
    Truncated,
    /// See [`Error::Io`].
    Io,
}

/// The OS's description of an error, without Rust's " (os error N)" suffix (bindings show the
/// errno their own way: Python's `[Errno N]`, C's `zc_last_errno()`, Java's `errno()`).
fn os_message(e: &io::Error) -> String {
    let text = e.to_string();
    match e.raw_os_error() {
        Some(code) => text
            .strip_suffix(&format!(" (os error {code})"))
            .unwrap_or(&text)
            .to_owned(),
        None => text,
    }
}

/// The operating system's description of `errno` (`strerror`), e.g. "Broken pipe".
pub fn errno_text(errno: i32) -> String {
    os_message(&io::Error::from_raw_os_error(errno))
}

/// `Result` with zcopy's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// The class of this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::InvalidArgument { .. } => ErrorKind::InvalidArgument,
            Error::Closed { .. } => ErrorKind::Closed,
            Error::NotReadable { .. } => ErrorKind::NotReadable,
            Error::NotWritable { .. } => ErrorKind::NotWritable,
            Error::OutOfRange { .. } => ErrorKind::OutOfRange,
            Error::PastEndOfFile { .. } => ErrorKind::PastEndOfFile,
            Error::WouldBlock { .. } => ErrorKind::WouldBlock,
            Error::Unsupported { .. } => ErrorKind::Unsupported,
            Error::Truncated { .. } => ErrorKind::Truncated,
            Error::Io { .. } => ErrorKind::Io,
        }
    }

    /// The errno that best describes this error; the OS's own errno for [`Error::Io`].
    pub fn raw_os_error(&self) -> Option<i32> {
        Some(match self {
            Error::InvalidArgument { .. } | Error::OutOfRange { .. } => libc::EINVAL,
            Error::PastEndOfFile { .. } => libc::EINVAL,
            Error::Closed { .. } | Error::NotReadable { .. } | Error::NotWritable { .. } => libc::EBADF,
            Error::WouldBlock { .. } => libc::EAGAIN,
            Error::Unsupported { .. } => libc::EOPNOTSUPP,
            Error::Truncated { .. } => libc::EFAULT,
            Error::Io { source, .. } => return source.raw_os_error(),
        })
    }

    /// The operation that failed.
    pub fn op(&self) -> &'static str {
        match self {
            Error::InvalidArgument { op, .. }
            | Error::Closed { op, .. }
            | Error::NotReadable { op }
            | Error::NotWritable { op }
            | Error::OutOfRange { op, .. }
            | Error::PastEndOfFile { op, .. }
            | Error::WouldBlock { op }
            | Error::Unsupported { op, .. }
            | Error::Truncated { op }
            | Error::Io { op, .. } => op,
        }
    }

    pub(crate) fn invalid(op: &'static str, reason: impl Into<String>) -> Error {
        Error::InvalidArgument {
            op,
            reason: reason.into(),
        }
    }

    /// The operating system's description of [`Error::raw_os_error`] ("Broken pipe"), for
    /// bindings that show the errno beside it; the error's own text when it has no errno.
    pub fn os_text(&self) -> String {
        match self {
            Error::Io { source, .. } => os_message(source),
            _ => match self.raw_os_error() {
                Some(errno) => errno_text(errno),
                None => self.to_string(),
            },
        }
    }

    /// A descriptor found closed (or never open) by `op`.
    pub fn closed_descriptor(op: &'static str) -> Error {
        Error::Closed {
            op,
            what: Resource::Descriptor,
        }
    }

    /// Classifies an OS error from `op`: `EBADF` becomes [`Error::Closed`] (of a descriptor),
    /// `EAGAIN` [`Error::WouldBlock`]; the rest stay [`Error::Io`].
    pub fn os(op: &'static str, source: io::Error) -> Error {
        match source.raw_os_error() {
            Some(libc::EBADF) => Error::closed_descriptor(op),
            Some(libc::EAGAIN) => Error::WouldBlock { op },
            _ => Error::Io { op, source },
        }
    }
}

impl From<Error> for io::Error {
    fn from(err: Error) -> io::Error {
        let kind = match err.kind() {
            ErrorKind::InvalidArgument | ErrorKind::OutOfRange | ErrorKind::PastEndOfFile => {
                io::ErrorKind::InvalidInput
            }
            ErrorKind::WouldBlock => io::ErrorKind::WouldBlock,
            ErrorKind::Unsupported => io::ErrorKind::Unsupported,
            ErrorKind::Io => {
                if let Error::Io { source, .. } = err {
                    return source;
                }
                io::ErrorKind::Other
            }
            _ => io::ErrorKind::Other,
        };
        io::Error::new(kind, err)
    }
}

/// Validates a signed position, count or size coming from a binding (Java `long`, Python `int`,
/// C `int64_t`): negative values are [`Error::InvalidArgument`].
///
/// # Errors
///
/// [`Error::InvalidArgument`] naming `what` when `value < 0`.
pub fn non_negative(op: &'static str, what: &'static str, value: i64) -> Result<u64> {
    u64::try_from(value).map_err(|_| Error::invalid(op, format!("{what} is negative ({value})")))
}

/// Checks that `[offset, offset + len)` lies inside `0..size`, without overflowing.
pub fn check_range(op: &'static str, offset: u64, len: u64, size: u64) -> Result<()> {
    if offset > size || len > size - offset {
        return Err(Error::OutOfRange {
            op,
            offset,
            len,
            size,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn range_check_is_overflow_safe() {
        assert!(check_range("t", 0, 0, 0).is_ok());
        assert!(check_range("t", 10, 0, 10).is_ok());
        assert!(check_range("t", 4, 6, 10).is_ok());
        assert!(check_range("t", 4, 7, 10).is_err());
        assert!(check_range("t", 11, 0, 10).is_err());
        assert!(check_range("t", u64::MAX, u64::MAX, 10).is_err());
        assert!(check_range("t", 1, u64::MAX, 10).is_err());
    }

    #[test]
    fn negative_values_are_invalid_arguments() {
        assert_eq!(non_negative("t", "position", 5).unwrap(), 5);
        let err = non_negative("t", "position", -1).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidArgument);
        assert!(err.to_string().contains("position is negative"));
        assert_eq!(err.raw_os_error(), Some(libc::EINVAL));
    }

    #[test]
    fn os_errors_are_classified() {
        let e = Error::os("x", io::Error::from_raw_os_error(libc::EBADF));
        assert_eq!(e.kind(), ErrorKind::Closed);
        let e = Error::os("x", io::Error::from_raw_os_error(libc::EAGAIN));
        assert_eq!(e.kind(), ErrorKind::WouldBlock);
        let e = Error::os("x", io::Error::from_raw_os_error(libc::EPIPE));
        assert_eq!(e.kind(), ErrorKind::Io);
        assert_eq!(e.raw_os_error(), Some(libc::EPIPE));
        assert_eq!(e.to_string(), "x: Broken pipe");
        let io: io::Error = e.into();
        assert_eq!(io.raw_os_error(), Some(libc::EPIPE));
    }
}
