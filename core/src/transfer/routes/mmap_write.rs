//! The source file mapped read-only and written out from the mapping: one CPU copy, made by the
//! kernel inside `write`/`pwrite` (a page that vanished because the file was truncated is
//! `EFAULT` there, never a `SIGBUS` in this process). Mapped in chunks, as the JDK does.

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};

use memmap2::MmapOptions;
use nix::unistd::{lseek, Whence};

use super::super::job::{failed, is_fallback_errno, Direction, Job, Step};
use super::super::method::TransferMethod;
use super::{Route, LARGE};
use crate::{Error, Result};

/// The mapped route maps the source in chunks of this size (as the JDK does).
const MAPPED_CHUNK: u64 = 8 << 20;

pub(super) fn run(job: &Job<'_>) -> Result<Step> {
    match job.dir {
        Direction::To => to(job),
        Direction::From => from(job),
    }
}

/// Writes all of `[buf, buf + len)` to `fd` (at `offset` when given). Returns the bytes written,
/// the error that stopped it, and whether a stream took a short write (it is full: stop there,
/// as the JDK does).
///
/// Raw pointers, not slices: the bytes may be a mapping of a file that another process changes or
/// truncates, which no Rust reference may point into; the kernel reads them and reports a
/// vanished page as `EFAULT`.
pub(super) fn write_out(
    job: &Job<'_>,
    fd: BorrowedFd<'_>,
    buf: *const u8,
    len: usize,
    mut offset: Option<i64>,
) -> (usize, Option<io::Error>, bool) {
    let fd = fd.as_raw_fd();
    let mut written = 0usize;
    while written < len {
        let res = job.sys(|| {
            // SAFETY: [buf, buf + len) is readable memory (a buffer or a live read-only mapping)
            // for the duration of the call; the kernel copies from it.
            let p = unsafe { buf.add(written) }.cast::<libc::c_void>();
            // SAFETY: as above; the descriptor is a plain number the kernel checks.
            let n = unsafe {
                match offset {
                    Some(off) => libc::pwrite(fd, p, len - written, off),
                    None => libc::write(fd, p, len - written),
                }
            };
            if n < 0 {
                Err(io::Error::last_os_error())
            } else {
                Ok(n as usize)
            }
        });
        match res {
            Ok(0) => return (written, Some(io::Error::from_raw_os_error(libc::EIO)), false),
            Ok(n) => {
                written += n;
                if let Some(off) = offset.as_mut() {
                    *off += n as i64;
                }
                if written < len && offset.is_none() {
                    return (written, None, true);
                }
            }
            Err(e) => return (written, Some(e), false),
        }
    }
    (written, None, false)
}

/// How far a run of mapped chunks got.
struct Copied {
    /// Bytes written.
    bytes: u64,
    /// A short write to a stream: it is full.
    short: bool,
    /// The error that stopped it: the mapping of the first chunk (nothing written), or a write.
    error: Option<(io::Error, bool)>,
}

/// Maps `[start, end)` of the source chunk by chunk and writes each out: at the target's own
/// position (`at` is `None`: a stream, or a file's position) or from `at` on (`pwrite`).
fn copy_chunks(job: &Job<'_>, start: u64, end: u64, at: Option<u64>) -> Copied {
    let mut copied = Copied {
        bytes: 0,
        short: false,
        error: None,
    };
    while start + copied.bytes < end {
        let pos = start + copied.bytes;
        let chunk = (end - pos).min(MAPPED_CHUNK) as usize;
        job.tick(2); // mmap and munmap
        let map = match MmapOptions::new()
            .offset(pos)
            .len(chunk)
            .map_raw_read_only(job.src.as_raw_fd())
        {
            Ok(map) => map,
            Err(e) if copied.bytes == 0 => {
                copied.error = Some((e, true));
                return copied;
            }
            // A later chunk that cannot be mapped: stop with what moved.
            Err(_) => return copied,
        };
        let offset = at.map(|a| (a + copied.bytes) as i64);
        let (n, err, short) = write_out(job, job.dst, map.as_ptr(), chunk, offset);
        copied.bytes += n as u64;
        copied.short = short;
        if let Some(e) = err {
            copied.error = Some((e, false));
        }
        if short || copied.error.is_some() {
            return copied;
        }
    }
    copied
}

/// The step a run of chunks ends with: a source that could not be mapped at all falls through to
/// the next route (or is an error the mapping itself reports).
fn step_of(job: &Job<'_>, copied: Copied) -> Result<Step> {
    match copied.error {
        Some((e, true)) => {
            let errno = e.raw_os_error().unwrap_or(0);
            if is_fallback_errno(errno) || errno == libc::EACCES {
                Ok(Step::Fallback { kind_wide: false })
            } else {
                Err(Error::os(job.op(), e))
            }
        }
        Some((e, false)) => failed(job, Route::MmapWrite, e, copied.bytes),
        None if copied.short => Ok(Step::blocked(copied.bytes)),
        None => Ok(Step::moved(copied.bytes)),
    }
}

/// A transfer to: the source's range at the job's position, written at the target's own position.
/// What is left of the file may be less than the count asked (a count of "everything" near the
/// end of a small file): under [`LARGE`] a mapping costs more than it saves, and, unless this
/// method was forced, one `sendfile` moves it (where the target takes `sendfile`; an append-mode
/// file does not).
fn to(job: &Job<'_>) -> Result<Step> {
    let size = job.fstat(job.src)?.size;
    let end = size.min(job.position + job.count);
    if job.automatic && end.saturating_sub(job.position) < LARGE {
        let small = Job::new(job.src, job.dst, job.position, end - job.position, job.dir);
        let step = super::sendfile::run(&small);
        job.tick(small.calls());
        if let Ok(Step::Moved(mut p)) = step {
            p.by = Some(TransferMethod::Sendfile);
            return Ok(Step::Moved(p));
        }
    }
    step_of(job, copy_chunks(job, job.position, end, None))
}

/// A transfer from a file: read from the source's own position (which advances by what moved),
/// written at the job's position in the target.
fn from(job: &Job<'_>) -> Result<Step> {
    let op = job.op();
    let start = job
        .sys(|| lseek(job.src, 0, Whence::SeekCur))
        .map_err(|e| Error::os(op, e))? as u64;
    let size = job.fstat(job.src)?.size;
    let end = size.min(start.saturating_add(job.count));
    let copied = copy_chunks(job, start, end, Some(job.position));
    let moved = copied.bytes as libc::off_t;
    job.sys(|| lseek(job.src, start as libc::off_t + moved, Whence::SeekSet))
        .map_err(|e| Error::os(op, e))?;
    step_of(job, copied)
}
