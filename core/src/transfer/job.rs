//! One transfer step's descriptors, range and system-call count, and the rules every route
//! shares: which errors fall through to the next route, and the descriptor checks in the JDK's
//! order.

use std::cell::Cell;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};

use super::method::TransferMethod;
use super::routes::Route;
use crate::sys::{self, FdFlags, FdStat};
use crate::{Error, Result};

/// Which way a transfer goes: [`Direction::To`] reads the file (`FileChannel.transferTo`),
/// [`Direction::From`] writes it (`FileChannel.transferFrom`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Direction {
    /// From a file (read at the position, its own position untouched) to any descriptor.
    To,
    /// From any descriptor (read from its own position) into a file at the position.
    From,
}

/// One call's worth of a transfer: the descriptors, the file range and the system calls made.
/// For `To` the file is `src` and `position` is its offset; for `From` the file is `dst` and
/// `position` is the offset written.
pub(super) struct Job<'a> {
    pub(super) src: BorrowedFd<'a>,
    pub(super) dst: BorrowedFd<'a>,
    pub(super) position: u64,
    pub(super) count: u64,
    pub(super) dir: Direction,
    /// The planner chooses the route (no method was forced): a route may then hand a step to a
    /// cheaper one (and says so in [`Progress::by`]).
    pub(super) automatic: bool,
    /// The system calls made so far (kept here, not in a thread-local, so that counting costs
    /// nothing measurable on the one-call fast path).
    calls: Cell<u64>,
    /// The target of a transfer to is a regular file, as the planner's `fstat` of it found (set
    /// where it looks: planning, and checking a remembered route for a large transfer).
    file_target: Cell<bool>,
}

impl<'a> Job<'a> {
    pub(super) fn new(
        src: BorrowedFd<'a>,
        dst: BorrowedFd<'a>,
        position: u64,
        count: u64,
        dir: Direction,
    ) -> Job<'a> {
        Job {
            src,
            dst,
            position,
            count,
            dir,
            automatic: true,
            calls: Cell::new(0),
            file_target: Cell::new(false),
        }
    }

    /// Notes what an `fstat` of the far side found ([`Job::stream`]: the target of a transfer
    /// to).
    pub(super) fn note_stream_kind(&self, kind: sys::FdKind) {
        if self.dir == Direction::To {
            self.file_target.set(kind == sys::FdKind::File);
        }
    }

    /// Whether the target is a regular file: always for a transfer from, and for a transfer to
    /// once [`Job::note_stream_kind`] said so.
    pub(super) fn writes_file(&self) -> bool {
        self.dir == Direction::From || self.file_target.get()
    }

    /// The system calls made so far.
    pub(super) fn calls(&self) -> u64 {
        self.calls.get()
    }

    /// Counts `n` system calls made outside [`Job::sys`].
    pub(super) fn tick(&self, n: u64) {
        self.calls.set(self.calls.get() + n);
    }

    /// Makes one counted system call, retried on `EINTR`.
    pub(super) fn sys<T, E: Into<io::Error>>(
        &self,
        mut f: impl FnMut() -> std::result::Result<T, E>,
    ) -> io::Result<T> {
        loop {
            self.tick(1);
            match f().map_err(Into::into) {
                Err(e) if e.raw_os_error() == Some(libc::EINTR) => continue,
                other => return other,
            }
        }
    }

    /// `fstat`, counted.
    pub(super) fn fstat(&self, fd: BorrowedFd<'_>) -> Result<FdStat> {
        self.tick(1);
        sys::fstat(fd.as_raw_fd()).map_err(|e| Error::os(self.op(), e))
    }

    /// Whether the target was opened `O_APPEND` (one counted `fcntl`; false when it cannot be
    /// told, which the transfer itself then reports).
    pub(super) fn target_appends(&self) -> bool {
        self.tick(1);
        sys::FdFlags::get(self.dst.as_raw_fd()).is_ok_and(|f| f.append())
    }

    /// The descriptor on the far side of the file: the target of `To`, the source of `From`.
    pub(super) fn stream(&self) -> BorrowedFd<'a> {
        match self.dir {
            Direction::To => self.dst,
            Direction::From => self.src,
        }
    }

    pub(super) fn op(&self) -> &'static str {
        match self.dir {
            Direction::To => "transfer_to",
            Direction::From => "transfer_from",
        }
    }

    /// The descriptor checks, in the JDK's order. `transfer_to(src, …, target)`: source open,
    /// target open, source readable, target writable. `transfer_from(target, src, …)`: target
    /// open, source open, source readable, target writable. Two counted `F_GETFL`s.
    pub(super) fn classify(&self) -> Result<(FdFlags, FdFlags)> {
        let flags = |fd: BorrowedFd<'_>| {
            self.tick(1);
            FdFlags::get(fd.as_raw_fd()).map_err(|_| Error::closed_descriptor(self.op()))
        };
        let (src, dst) = match self.dir {
            Direction::To => {
                let s = flags(self.src)?;
                (s, flags(self.dst)?)
            }
            Direction::From => {
                let d = flags(self.dst)?;
                (flags(self.src)?, d)
            }
        };
        if !src.readable() {
            return Err(Error::NotReadable { op: self.op() });
        }
        if !dst.writable() {
            return Err(Error::NotWritable { op: self.op() });
        }
        Ok((src, dst))
    }
}

/// The result of trying one route.
pub(super) enum Step {
    Moved(Progress),
    /// The route cannot serve this pair; nothing was moved. Try the next one. `kind_wide`: no
    /// descriptor of these kinds will ever work with it (`ENOSYS`).
    Fallback {
        kind_wide: bool,
    },
}

/// What a route moved.
#[derive(Clone, Copy, Default)]
pub(super) struct Progress {
    pub(super) bytes: u64,
    pub(super) would_block: bool,
    /// The method that moved the bytes, when a route handed the step to another one (the
    /// mapped route sends a small remainder by `sendfile`).
    pub(super) by: Option<TransferMethod>,
}

impl Step {
    pub(super) fn moved(bytes: u64) -> Step {
        Step::Moved(Progress {
            bytes,
            would_block: false,
            by: None,
        })
    }

    pub(super) fn blocked(bytes: u64) -> Step {
        Step::Moved(Progress {
            bytes,
            would_block: true,
            by: None,
        })
    }
}

/// Errnos after which the next route may work.
pub(super) fn is_fallback_errno(errno: i32) -> bool {
    matches!(
        errno,
        libc::EINVAL | libc::ENOSYS | libc::EXDEV | libc::EOPNOTSUPP | libc::ENODEV | libc::ETXTBSY
    )
}

/// How a failed system call of `route` ends the step: progress is kept (the error will show
/// again on the next call), `EAGAIN` is not an error, `EBADF` is classified, errors after which
/// another route may work fall through (except from the last resort), `EFAULT` from a mapping is
/// a truncated file.
pub(super) fn failed(job: &Job<'_>, route: Route, e: io::Error, done: u64) -> Result<Step> {
    let def = route.def();
    let errno = e.raw_os_error().unwrap_or(0);
    if errno == libc::EAGAIN {
        return Ok(Step::blocked(done));
    }
    if done > 0 {
        return Ok(Step::moved(done));
    }
    if errno == libc::EBADF {
        // Closed or wrong mode, or an append-mode target (copy_file_range says EBADF, sendfile
        // EINVAL): only the first two are errors.
        job.classify()?;
        return Ok(Step::Fallback { kind_wide: false });
    }
    if errno == libc::EFAULT && def.mapped {
        return Err(Error::Truncated { op: job.op() });
    }
    if is_fallback_errno(errno) && !def.last_resort {
        return Ok(Step::Fallback {
            kind_wide: errno == libc::ENOSYS,
        });
    }
    Err(Error::os(job.op(), e))
}
