//! Zero-copy transfers: `transfer_to` / `transfer_from` with `FileChannel` semantics, a
//! "transfer all" loop, and direct `sendfile`, `splice` and `tee`.
//!
//! The method is chosen by the descriptors' kinds and probed at run time, fastest first:
//! `copy_file_range` (file → file), `sendfile` (file → anything), `splice` through a reusable
//! per-thread pipe (file → socket/pipe, socket/pipe → file), mmap + `write`, then a `read`/`write`
//! loop. What a kind pair does not support is remembered, and the method that worked for a
//! descriptor is tried first next time, so a steady stream of transfers costs one system call
//! each. Every call reports the method that moved the bytes ([`Transfer::method`]).

mod pipe;

use std::cell::Cell;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, RawFd};
use std::ptr;
use std::sync::atomic::{AtomicU8, Ordering};

use memmap2::MmapOptions;

use crate::sys::{self, retry_eintr, syscall, FdFlags, FdKind};
use crate::{Error, Result};

use pipe::recheck_sigpipe;
pub(crate) use pipe::SigpipeShield;

/// The most one `transfer_to` call moves: sendfile's per-call maximum, as in the JDK.
pub const MAX_DIRECT_TRANSFER: u64 = 0x7fff_f000;

/// Below this count the mapped path is not worth a mapping (the JDK's threshold).
const MAPPED_THRESHOLD: u64 = 16 * 1024;
/// The mapped path maps the source in chunks of this size (as the JDK does).
const MAPPED_CHUNK: u64 = 8 << 20;
/// The buffer of the read/write loop.
const LOOP_BUFFER: usize = 64 * 1024;

/// The kernel path that moved the bytes of a transfer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
#[non_exhaustive]
pub enum TransferMethod {
    /// Nothing moved, so no method ran (zero count, position at or past the end).
    None = 0,
    /// `copy_file_range(2)`: in-kernel file → file copy, block sharing on reflink file systems.
    CopyFileRange = 1,
    /// `sendfile(2)`: in-kernel file → any descriptor.
    Sendfile = 2,
    /// `splice(2)`, through a pipe where neither side is one.
    Splice = 3,
    /// The source mapped read-only and `write(2)` from the mapping: one CPU copy.
    MmapWrite = 4,
    /// A `read(2)`/`write(2)` loop through a buffer: two CPU copies.
    ReadWrite = 5,
}

impl TransferMethod {
    /// The method's name as reports and benchmarks print it: `copy_file_range`, `sendfile`,
    /// `splice`, `mmap+write`, `read/write`, `none`.
    pub fn name(self) -> &'static str {
        match self {
            TransferMethod::None => "none",
            TransferMethod::CopyFileRange => "copy_file_range",
            TransferMethod::Sendfile => "sendfile",
            TransferMethod::Splice => "splice",
            TransferMethod::MmapWrite => "mmap+write",
            TransferMethod::ReadWrite => "read/write",
        }
    }

    /// Whether the method moves bytes without a CPU copy through user space.
    pub fn is_zero_copy(self) -> bool {
        matches!(
            self,
            TransferMethod::CopyFileRange | TransferMethod::Sendfile | TransferMethod::Splice
        )
    }
}

impl std::fmt::Display for TransferMethod {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The outcome of a transfer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Transfer {
    /// Bytes moved.
    pub bytes: u64,
    /// The method that moved them.
    pub method: TransferMethod,
    /// The non-blocking side (target of `transfer_to`, source of `transfer_from`) could not take
    /// or give more without blocking.
    pub would_block: bool,
    /// The system calls the transfer made (probes and fallbacks included), to compare strategies.
    pub syscalls: u64,
}

thread_local! {
    static LAST: Cell<Transfer> = const {
        Cell::new(Transfer {
            bytes: 0,
            method: TransferMethod::None,
            would_block: false,
            syscalls: 0,
        })
    };
}

/// The method of the last successful transfer made by this thread (for bindings whose transfer
/// calls return a plain count).
pub fn last_method() -> TransferMethod {
    last_transfer().method
}

/// The whole outcome of the last successful transfer made by this thread.
pub fn last_transfer() -> Transfer {
    LAST.with(Cell::get)
}

fn record(t: Transfer) -> Transfer {
    LAST.with(|c| c.set(t));
    t
}

/// The internal routes; `Splice` has two, depending on whether one side is a pipe already.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
enum Route {
    CopyFileRange = 1,
    Sendfile = 2,
    SpliceDirect = 3,
    SpliceViaPipe = 4,
    MmapWrite = 5,
    ReadWrite = 6,
}

impl Route {
    fn method(self) -> TransferMethod {
        match self {
            Route::CopyFileRange => TransferMethod::CopyFileRange,
            Route::Sendfile => TransferMethod::Sendfile,
            Route::SpliceDirect | Route::SpliceViaPipe => TransferMethod::Splice,
            Route::MmapWrite => TransferMethod::MmapWrite,
            Route::ReadWrite => TransferMethod::ReadWrite,
        }
    }

    fn from_u8(v: u8) -> Option<Route> {
        Some(match v {
            1 => Route::CopyFileRange,
            2 => Route::Sendfile,
            3 => Route::SpliceDirect,
            4 => Route::SpliceViaPipe,
            5 => Route::MmapWrite,
            6 => Route::ReadWrite,
            _ => return None,
        })
    }

    fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

/// Per-descriptor hints: the zero-copy route that last worked for a target (`transfer_to`) or
/// source (`transfer_from`) descriptor number. A stale hint (the number was reused) costs one
/// failed system call and a re-probe; it can never pick a wrong result, only a slower path.
struct Hints {
    slots: [AtomicU8; HINT_SLOTS],
}

const HINT_SLOTS: usize = 1 << 16;

impl Hints {
    const fn new() -> Hints {
        Hints {
            slots: [const { AtomicU8::new(0) }; HINT_SLOTS],
        }
    }

    fn get(&self, fd: RawFd) -> Option<Route> {
        let slot = self.slots.get(usize::try_from(fd).ok()?)?;
        Route::from_u8(slot.load(Ordering::Relaxed))
    }

    fn set(&self, fd: RawFd, route: Option<Route>) {
        if let Some(slot) = usize::try_from(fd).ok().and_then(|i| self.slots.get(i)) {
            slot.store(route.map_or(0, |r| r as u8), Ordering::Relaxed);
        }
    }
}

static TO_HINTS: Hints = Hints::new();
static FROM_HINTS: Hints = Hints::new();

/// Routes found unsupported for a (source kind, target kind) pair, as bits of `Route`.
static UNSUPPORTED: [AtomicU8; FdKind::COUNT * FdKind::COUNT] =
    [const { AtomicU8::new(0) }; FdKind::COUNT * FdKind::COUNT];

fn unsupported(src: FdKind, dst: FdKind) -> &'static AtomicU8 {
    &UNSUPPORTED[src.index() * FdKind::COUNT + dst.index()]
}

/// The result of trying one route.
enum Step {
    Moved(Progress),
    /// The route cannot serve this pair; nothing was moved. Try the next one.
    Fallback {
        kind_wide: bool,
    },
}

#[derive(Clone, Copy, Default)]
struct Progress {
    bytes: u64,
    would_block: bool,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Direction {
    To,
    From,
}

/// One transfer's descriptors and range. For `To` the file is `src` and `position` is its
/// offset; for `From` the file is `dst` and `position` is the offset written.
struct Job {
    src: RawFd,
    dst: RawFd,
    position: u64,
    count: u64,
    dir: Direction,
    /// Run only this method (benchmarks, tests, callers who want one specific path).
    forced: Option<TransferMethod>,
    /// The system calls made so far (kept here, not in a thread-local, so that counting costs
    /// nothing measurable on the one-call fast path).
    calls: Cell<u64>,
}

impl Job {
    fn new(
        src: RawFd,
        dst: RawFd,
        position: u64,
        count: u64,
        dir: Direction,
        forced: Option<TransferMethod>,
    ) -> Job {
        Job {
            src,
            dst,
            position,
            count,
            dir,
            forced,
            calls: Cell::new(0),
        }
    }

    /// Counts `n` system calls made outside [`Job::sys`].
    fn tick(&self, n: u64) {
        self.calls.set(self.calls.get() + n);
    }

    /// Makes one counted system call, retried on `EINTR`.
    fn sys<T>(&self, mut f: impl FnMut() -> io::Result<T>) -> io::Result<T> {
        loop {
            self.tick(1);
            match f() {
                Err(e) if e.raw_os_error() == Some(libc::EINTR) => continue,
                other => return other,
            }
        }
    }

    fn op(&self) -> &'static str {
        match self.dir {
            Direction::To => "transfer_to",
            Direction::From => "transfer_from",
        }
    }
}

/// Errnos after which the next route may work.
fn is_fallback_errno(errno: i32) -> bool {
    matches!(
        errno,
        libc::EINVAL | libc::ENOSYS | libc::EXDEV | libc::EOPNOTSUPP | libc::ENODEV | libc::ETXTBSY
    )
}

/// Turns a failed system call of a route into a step: progress is kept (the error will show
/// again on the next call), `EAGAIN` is not an error, `EBADF` is classified.
fn failed(job: &Job, route: Route, e: io::Error, done: u64) -> Result<Step> {
    let errno = e.raw_os_error().unwrap_or(0);
    if errno == libc::EAGAIN {
        return Ok(Step::Moved(Progress {
            bytes: done,
            would_block: true,
        }));
    }
    if done > 0 {
        return Ok(Step::Moved(Progress {
            bytes: done,
            would_block: false,
        }));
    }
    if errno == libc::EBADF {
        // Closed or wrong mode, or an append-mode target (copy_file_range says EBADF, sendfile
        // EINVAL): only the first two are errors.
        classify_descriptors(job)?;
        return Ok(Step::Fallback { kind_wide: false });
    }
    if errno == libc::EFAULT && route == Route::MmapWrite {
        return Err(Error::Truncated { op: job.op() });
    }
    if is_fallback_errno(errno) && route != Route::ReadWrite {
        return Ok(Step::Fallback {
            kind_wide: errno == libc::ENOSYS,
        });
    }
    Err(Error::os(job.op(), e))
}

/// The descriptor checks, in the JDK's order. `transfer_to(src, …, target)`: source open, target
/// open, source readable, target writable. `transfer_from(target, src, …)`: target open, source
/// open, source readable, target writable.
fn classify_descriptors(job: &Job) -> Result<(FdFlags, FdFlags)> {
    let op = job.op();
    let closed = |_| Error::Closed {
        op,
        what: "descriptor",
    };
    let (src, dst) = match job.dir {
        Direction::To => {
            let s = FdFlags::get(job.src).map_err(closed)?;
            (s, FdFlags::get(job.dst).map_err(closed)?)
        }
        Direction::From => {
            let d = FdFlags::get(job.dst).map_err(closed)?;
            (FdFlags::get(job.src).map_err(closed)?, d)
        }
    };
    if !src.readable() {
        return Err(Error::NotReadable { op });
    }
    if !dst.writable() {
        return Err(Error::NotWritable { op });
    }
    Ok((src, dst))
}

/// Checks descriptors and signed arguments in `FileChannel.transferTo`'s order (descriptor
/// checks first, then negative values), for bindings that receive signed numbers.
///
/// # Errors
///
/// [`Error::Closed`], [`Error::NotReadable`], [`Error::NotWritable`], then
/// [`Error::InvalidArgument`] for a negative position or count.
pub fn check_transfer_to_args(
    src: BorrowedFd<'_>,
    position: i64,
    count: i64,
    target: BorrowedFd<'_>,
) -> Result<(u64, u64)> {
    check_args(
        Direction::To,
        src.as_raw_fd(),
        target.as_raw_fd(),
        position,
        count,
    )
}

/// Like [`check_transfer_to_args`], in `FileChannel.transferFrom`'s order.
///
/// # Errors
///
/// As [`check_transfer_to_args`].
pub fn check_transfer_from_args(
    target: BorrowedFd<'_>,
    src: BorrowedFd<'_>,
    position: i64,
    count: i64,
) -> Result<(u64, u64)> {
    check_args(
        Direction::From,
        src.as_raw_fd(),
        target.as_raw_fd(),
        position,
        count,
    )
}

fn check_args(dir: Direction, src: RawFd, dst: RawFd, position: i64, count: i64) -> Result<(u64, u64)> {
    if position >= 0 && count >= 0 {
        return Ok((position as u64, count as u64));
    }
    let job = Job::new(src, dst, 0, 0, dir, None);
    classify_descriptors(&job)?;
    let what = if position < 0 { "position" } else { "count" };
    let value = position.min(count);
    Err(Error::invalid(job.op(), format!("{what} is negative ({value})")))
}

/// Transfers up to `count` bytes of the file open on `src`, starting at `position`, to `target`,
/// with `FileChannel.transferTo` semantics.
///
/// - `src`'s file position is not changed; a `target` with a position is advanced.
/// - `count` is clamped at the end of the file; a position at or past the end moves 0 bytes.
///   A file that reports size 0 (procfs) is read until it ends.
/// - One call moves at most [`MAX_DIRECT_TRANSFER`] bytes (use [`transfer_all`] for more).
/// - On a non-blocking target it moves what the target accepts and returns (0 when it would
///   block: not an error, [`Transfer::would_block`] says so). `EINTR` is retried.
/// - A socket whose peer has gone gives [`Error::Io`] with `EPIPE`/`ECONNRESET`, never a
///   `SIGPIPE` death.
///
/// # Errors
///
/// [`Error::Closed`], [`Error::NotReadable`], [`Error::NotWritable`] (checked in that order);
/// [`Error::Io`] with `EISDIR`/`ESPIPE` when `src` is a directory, pipe or socket;
/// [`Error::Truncated`] when the file shrank under the mapped path; [`Error::Io`] otherwise.
///
/// # Example
///
/// ```
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use std::io::{Read, Seek, Write};
/// use std::os::fd::AsFd;
///
/// let mut src = tempfile::tempfile()?;
/// src.write_all(b"0123456789")?;
/// let mut dst = tempfile::tempfile()?;
/// let t = zcopy::transfer_to(src.as_fd(), 2, 100, dst.as_fd())?;
/// assert_eq!(t.bytes, 8); // clamped at the end of the file
/// println!("moved with {}", t.method); // copy_file_range on Linux >= 4.5
/// dst.rewind()?;
/// let mut s = String::new();
/// dst.read_to_string(&mut s)?;
/// assert_eq!(s, "23456789");
/// # Ok(()) }
/// ```
pub fn transfer_to(
    src: BorrowedFd<'_>,
    position: u64,
    count: u64,
    target: BorrowedFd<'_>,
) -> Result<Transfer> {
    to_job(None, src, position, count, target, None)
}

/// [`transfer_to`], remembering the route that worked under `hint_key` instead of the target's
/// descriptor number: for bindings that transfer through duplicated descriptors (whose numbers
/// are reused for all kinds of targets), so that the hint follows the caller's own descriptor.
///
/// # Errors
///
/// As [`transfer_to`].
pub fn transfer_to_keyed(
    src: BorrowedFd<'_>,
    position: u64,
    count: u64,
    target: BorrowedFd<'_>,
    hint_key: RawFd,
) -> Result<Transfer> {
    to_job(None, src, position, count, target, Some(hint_key))
}

/// [`transfer_to`] with one specific method and no fallback: for benchmarks, tests and callers
/// who want to know that a given kernel path moved the bytes.
///
/// # Errors
///
/// As [`transfer_to`]; [`Error::Unsupported`] when `method` cannot serve this pair of
/// descriptors (`copy_file_range` to a socket, `sendfile` from a file that reports size 0, …).
pub fn transfer_to_using(
    method: TransferMethod,
    src: BorrowedFd<'_>,
    position: u64,
    count: u64,
    target: BorrowedFd<'_>,
) -> Result<Transfer> {
    to_job(Some(method), src, position, count, target, None)
}

fn to_job(
    forced: Option<TransferMethod>,
    src: BorrowedFd<'_>,
    position: u64,
    count: u64,
    target: BorrowedFd<'_>,
    hint_key: Option<RawFd>,
) -> Result<Transfer> {
    let job = Job::new(
        src.as_raw_fd(),
        target.as_raw_fd(),
        position,
        clamp_count(position, count.min(MAX_DIRECT_TRANSFER)),
        Direction::To,
        forced,
    );
    run_job(&job, &TO_HINTS, hint_key.unwrap_or(job.dst))
}

/// Transfers up to `count` bytes from `src` into the file open on `target` at `position`, with
/// `FileChannel.transferFrom` semantics.
///
/// - A file `src` is read from its own position, which advances by the bytes moved; `target`'s
///   position does not change. The file grows as needed (a position past its end leaves a hole).
/// - `count` is the most to read from `src`; the call stops early at the end of `src`, or when a
///   non-blocking `src` has nothing more (0 when it had nothing: not an error).
///
/// # Errors
///
/// [`Error::Closed`], [`Error::NotReadable`], [`Error::NotWritable`] (target open, source open,
/// source readable, target writable); [`Error::Io`] with `ESPIPE` when `target` is not a regular
/// file; [`Error::Io`] otherwise.
pub fn transfer_from(
    target: BorrowedFd<'_>,
    src: BorrowedFd<'_>,
    position: u64,
    count: u64,
) -> Result<Transfer> {
    from_job(None, target, src, position, count, None)
}

/// [`transfer_from`], remembering the route under `hint_key` instead of the source's descriptor
/// number (see [`transfer_to_keyed`]).
///
/// # Errors
///
/// As [`transfer_from`].
pub fn transfer_from_keyed(
    target: BorrowedFd<'_>,
    src: BorrowedFd<'_>,
    position: u64,
    count: u64,
    hint_key: RawFd,
) -> Result<Transfer> {
    from_job(None, target, src, position, count, Some(hint_key))
}

/// [`transfer_from`] with one specific method and no fallback.
///
/// # Errors
///
/// As [`transfer_from`]; [`Error::Unsupported`] when `method` cannot serve this pair.
pub fn transfer_from_using(
    method: TransferMethod,
    target: BorrowedFd<'_>,
    src: BorrowedFd<'_>,
    position: u64,
    count: u64,
) -> Result<Transfer> {
    from_job(Some(method), target, src, position, count, None)
}

fn from_job(
    forced: Option<TransferMethod>,
    target: BorrowedFd<'_>,
    src: BorrowedFd<'_>,
    position: u64,
    count: u64,
    hint_key: Option<RawFd>,
) -> Result<Transfer> {
    let job = Job::new(
        src.as_raw_fd(),
        target.as_raw_fd(),
        position,
        clamp_count(position, count),
        Direction::From,
        forced,
    );
    run_job(&job, &FROM_HINTS, hint_key.unwrap_or(job.src))
}

/// Moves all `count` bytes (or up to the end of the file) from `src` at `position` to `target`,
/// in as many system calls as it takes, including past [`MAX_DIRECT_TRANSFER`]. A non-blocking
/// target is waited for with `poll`, so this also works on non-blocking descriptors from
/// synchronous code.
///
/// # Errors
///
/// As [`transfer_to`]. An error after some bytes moved is still reported (the count is lost
/// with it; use [`transfer_to`] in a loop to keep it).
pub fn transfer_all(
    src: BorrowedFd<'_>,
    position: u64,
    count: u64,
    target: BorrowedFd<'_>,
) -> Result<Transfer> {
    all(None, src, position, count, target, None)
}

/// [`transfer_all`] with the hint kept under `hint_key` (see [`transfer_to_keyed`]).
///
/// # Errors
///
/// As [`transfer_all`].
pub fn transfer_all_keyed(
    src: BorrowedFd<'_>,
    position: u64,
    count: u64,
    target: BorrowedFd<'_>,
    hint_key: RawFd,
) -> Result<Transfer> {
    all(None, src, position, count, target, Some(hint_key))
}

/// [`transfer_all`] with one specific method and no fallback.
///
/// # Errors
///
/// As [`transfer_to_using`].
pub fn transfer_all_using(
    method: TransferMethod,
    src: BorrowedFd<'_>,
    position: u64,
    count: u64,
    target: BorrowedFd<'_>,
) -> Result<Transfer> {
    all(Some(method), src, position, count, target, None)
}

fn all(
    forced: Option<TransferMethod>,
    src: BorrowedFd<'_>,
    position: u64,
    count: u64,
    target: BorrowedFd<'_>,
    hint_key: Option<RawFd>,
) -> Result<Transfer> {
    let count = clamp_count(position, count);
    let mut total = Transfer {
        bytes: 0,
        method: TransferMethod::None,
        would_block: false,
        syscalls: 0,
    };
    while total.bytes < count {
        let step = to_job(
            forced,
            src,
            position + total.bytes,
            count - total.bytes,
            target,
            hint_key,
        )?;
        total.bytes += step.bytes;
        total.syscalls += step.syscalls;
        if step.method != TransferMethod::None {
            total.method = step.method;
        }
        if step.would_block {
            sys::wait_ready(target.as_raw_fd(), libc::POLLOUT).map_err(|e| Error::os("transfer_all", e))?;
            total.syscalls += 1;
        } else if step.bytes == 0 {
            break;
        }
    }
    Ok(record(total))
}

/// Keeps `position + count` inside a 64-bit file offset.
fn clamp_count(position: u64, count: u64) -> u64 {
    count.min((i64::MAX as u64).saturating_sub(position))
}

fn run_job(job: &Job, hints: &Hints, hint_fd: RawFd) -> Result<Transfer> {
    run_job_counted(job, hints, hint_fd).map(|t| {
        record(Transfer {
            syscalls: job.calls.get(),
            ..t
        })
    })
}

fn run_job_counted(job: &Job, hints: &Hints, hint_fd: RawFd) -> Result<Transfer> {
    if job.count == 0 {
        classify_descriptors(job)?;
        return Ok(Transfer {
            bytes: 0,
            method: TransferMethod::None,
            would_block: false,
            syscalls: 0,
        });
    }
    let shield = SigpipeShield::raise();
    let result = run_routes(job, hints, hint_fd);
    let epipe = matches!(&result, Err(e) if e.raw_os_error() == Some(libc::EPIPE));
    job.tick(shield.lower(epipe));
    result
}

fn run_routes(job: &Job, hints: &Hints, hint_fd: RawFd) -> Result<Transfer> {
    if let Some(method) = job.forced {
        return run_forced(job, method);
    }
    if let Some(route) = hints.get(hint_fd).filter(|&r| hint_still_fits(job, r)) {
        match run_route(route, job)? {
            Step::Moved(p) if p.bytes > 0 || p.would_block => return Ok(done(route, p)),
            // Zero bytes: at the end of the file, or a file that reports size 0; the probe
            // below tells which.
            Step::Moved(_) => {}
            Step::Fallback { .. } => hints.set(hint_fd, None),
        }
    }
    let plan = match job.dir {
        Direction::To => plan_to(job)?,
        Direction::From => plan_from(job)?,
    };
    let Some(plan) = plan else {
        return Ok(Transfer {
            bytes: 0,
            method: TransferMethod::None,
            would_block: false,
            syscalls: 0,
        });
    };
    let skip = unsupported(plan.src_kind, plan.dst_kind).load(Ordering::Relaxed);
    for &route in plan.routes.iter().filter(|r| skip & r.bit() == 0) {
        if route == Route::MmapWrite && job.count < MAPPED_THRESHOLD {
            continue;
        }
        match run_route(route, job)? {
            Step::Moved(p) => {
                if route.method().is_zero_copy() && p.bytes > 0 {
                    hints.set(hint_fd, Some(route));
                }
                return Ok(done(route, p));
            }
            Step::Fallback { kind_wide } => {
                if kind_wide || (route == Route::CopyFileRange && plan.dst_kind != FdKind::File) {
                    unsupported(plan.src_kind, plan.dst_kind).fetch_or(route.bit(), Ordering::Relaxed);
                }
            }
        }
    }
    Err(Error::Io {
        op: job.op(),
        source: io::Error::from_raw_os_error(libc::EINVAL),
    })
}

/// Above this count a hint of `sendfile`/`splice` is checked against the file kind before use.
const HINT_CHECK_THRESHOLD: u64 = 64 * 1024;

/// Whether a hinted route still suits the descriptor. Hints are keyed by descriptor number, and a
/// number is reused for all kinds of descriptors; a stale `copy_file_range` hint fails at once
/// and is corrected, but a stale `sendfile`/`splice` hint would keep working on a file target,
/// silently losing `copy_file_range` (and reflinks). For large transfers one `fstat` settles it
/// (400 ns against tens of microseconds); small ones trust the hint.
fn hint_still_fits(job: &Job, route: Route) -> bool {
    if route == Route::CopyFileRange || job.count < HINT_CHECK_THRESHOLD {
        return true;
    }
    let fd = match job.dir {
        Direction::To => job.dst,
        Direction::From => job.src,
    };
    job.tick(1);
    !matches!(sys::fstat(fd), Ok(st) if st.kind == FdKind::File)
}

fn run_forced(job: &Job, method: TransferMethod) -> Result<Transfer> {
    let plan = match job.dir {
        Direction::To => plan_to(job)?,
        Direction::From => plan_from(job)?,
    };
    let Some(plan) = plan else {
        return Ok(done(Route::ReadWrite, Progress::default()));
    };
    let unsupported = || Error::Unsupported {
        op: job.op(),
        feature: method.name(),
        min_kernel: "(any: not for this pair of descriptors)",
    };
    let route = plan
        .routes
        .iter()
        .copied()
        .find(|r| r.method() == method)
        .ok_or_else(unsupported)?;
    match run_route(route, job)? {
        Step::Moved(p) => Ok(done(route, p)),
        Step::Fallback { .. } => Err(unsupported()),
    }
}

fn done(route: Route, p: Progress) -> Transfer {
    Transfer {
        bytes: p.bytes,
        method: if p.bytes > 0 || p.would_block {
            route.method()
        } else {
            TransferMethod::None
        },
        would_block: p.would_block,
        syscalls: 0,
    }
}

struct Plan {
    src_kind: FdKind,
    dst_kind: FdKind,
    routes: &'static [Route],
}

fn wrong_kind(op: &'static str, errno: i32) -> Error {
    Error::Io {
        op,
        source: io::Error::from_raw_os_error(errno),
    }
}

/// The slow path of `transfer_to`: full checks, kinds, and the routes to try. `None` when the
/// position is at or past the end of the file.
fn plan_to(job: &Job) -> Result<Option<Plan>> {
    let op = job.op();
    job.tick(1);
    recheck_sigpipe();
    let (_, dst_flags) = classify_descriptors(job)?;
    job.tick(2);
    let src = sys::fstat(job.src).map_err(|e| Error::os(op, e))?;
    let dst = sys::fstat(job.dst).map_err(|e| Error::os(op, e))?;
    match src.kind {
        FdKind::Directory => return Err(wrong_kind(op, libc::EISDIR)),
        FdKind::Pipe | FdKind::Socket => return Err(wrong_kind(op, libc::ESPIPE)),
        FdKind::File | FdKind::Other => {}
    }
    if dst.kind == FdKind::Directory {
        return Err(wrong_kind(op, libc::EISDIR));
    }
    if src.kind == FdKind::File && src.size > 0 && job.position >= src.size {
        return Ok(None);
    }
    let routes: &'static [Route] = if src.kind != FdKind::File || src.size == 0 {
        &[Route::ReadWrite]
    } else if dst_flags.append() {
        &[Route::MmapWrite, Route::ReadWrite]
    } else {
        match dst.kind {
            FdKind::File => &[
                Route::CopyFileRange,
                Route::Sendfile,
                Route::SpliceViaPipe,
                Route::MmapWrite,
                Route::ReadWrite,
            ],
            FdKind::Pipe => &[
                Route::Sendfile,
                Route::SpliceDirect,
                Route::MmapWrite,
                Route::ReadWrite,
            ],
            _ => &[
                Route::Sendfile,
                Route::SpliceViaPipe,
                Route::MmapWrite,
                Route::ReadWrite,
            ],
        }
    };
    Ok(Some(Plan {
        src_kind: src.kind,
        dst_kind: dst.kind,
        routes,
    }))
}

/// The slow path of `transfer_from`.
fn plan_from(job: &Job) -> Result<Option<Plan>> {
    let op = job.op();
    job.tick(1);
    recheck_sigpipe();
    classify_descriptors(job)?;
    job.tick(2);
    let dst = sys::fstat(job.dst).map_err(|e| Error::os(op, e))?;
    let src = sys::fstat(job.src).map_err(|e| Error::os(op, e))?;
    match dst.kind {
        FdKind::File => {}
        FdKind::Directory => return Err(wrong_kind(op, libc::EISDIR)),
        _ => return Err(wrong_kind(op, libc::ESPIPE)),
    }
    let routes: &'static [Route] = match src.kind {
        FdKind::Directory => return Err(wrong_kind(op, libc::EISDIR)),
        FdKind::File if src.size > 0 => &[Route::CopyFileRange, Route::MmapWrite, Route::ReadWrite],
        FdKind::File => &[Route::ReadWrite],
        FdKind::Pipe => &[Route::SpliceDirect, Route::ReadWrite],
        FdKind::Socket | FdKind::Other => &[Route::SpliceViaPipe, Route::ReadWrite],
    };
    Ok(Some(Plan {
        src_kind: src.kind,
        dst_kind: dst.kind,
        routes,
    }))
}

fn run_route(route: Route, job: &Job) -> Result<Step> {
    match (route, job.dir) {
        (Route::CopyFileRange, _) => copy_file_range_loop(job),
        (Route::Sendfile, Direction::To) => sendfile_loop(job),
        (Route::SpliceDirect, _) => splice_direct(job),
        (Route::SpliceViaPipe, _) => splice_via_pipe(job),
        (Route::MmapWrite, Direction::To) => mmap_write_to(job),
        (Route::MmapWrite, Direction::From) => mmap_write_from(job),
        (Route::ReadWrite, Direction::To) => read_write_to(job),
        (Route::ReadWrite, Direction::From) => read_write_from(job),
        (Route::Sendfile, Direction::From) => Ok(Step::Fallback { kind_wide: false }),
    }
}

/// The offsets for a syscall that takes `(off_in, off_out)` pointers: the file side gets the
/// job's position, the other side uses its own position.
fn offsets(job: &Job, off: &mut i64) -> (*mut i64, *mut i64) {
    match job.dir {
        Direction::To => (off, ptr::null_mut()),
        Direction::From => (ptr::null_mut(), off),
    }
}

fn copy_file_range_loop(job: &Job) -> Result<Step> {
    let mut off = job.position as i64;
    let mut done = 0u64;
    while done < job.count {
        let want = (job.count - done).min(MAX_DIRECT_TRANSFER) as usize;
        let res = job.sys(|| {
            let (off_in, off_out) = offsets(job, &mut off);
            // SAFETY: the offset pointers are valid or null; the descriptors are plain numbers.
            unsafe { syscall!(copy_file_range(job.src, off_in, job.dst, off_out, want, 0)) }
        });
        match res {
            Ok(0) => break,
            Ok(n) => done += n as u64,
            Err(e) => return failed(job, Route::CopyFileRange, e, done),
        }
    }
    Ok(Step::Moved(Progress {
        bytes: done,
        would_block: false,
    }))
}

fn sendfile_loop(job: &Job) -> Result<Step> {
    let mut off = job.position as libc::off_t;
    let mut done = 0u64;
    while done < job.count {
        let want = (job.count - done).min(MAX_DIRECT_TRANSFER) as usize;
        // SAFETY: `off` is a valid offset pointer for the duration of the call.
        let res = job.sys(|| unsafe { syscall!(sendfile(job.dst, job.src, &mut off, want)) });
        match res {
            Ok(0) => break,
            Ok(n) => done += n as u64,
            Err(e) => return failed(job, Route::Sendfile, e, done),
        }
    }
    Ok(Step::Moved(Progress {
        bytes: done,
        would_block: false,
    }))
}

/// One splice where one side is already a pipe (file → pipe, pipe → file).
fn splice_direct(job: &Job) -> Result<Step> {
    let mut off = job.position as i64;
    let mut done = 0u64;
    while done < job.count {
        let want = (job.count - done).min(MAX_DIRECT_TRANSFER) as usize;
        let res = job.sys(|| {
            let (off_in, off_out) = offsets(job, &mut off);
            // SAFETY: offsets are valid or null; descriptors are plain numbers.
            unsafe {
                syscall!(splice(
                    job.src,
                    off_in,
                    job.dst,
                    off_out,
                    want,
                    libc::SPLICE_F_MOVE
                ))
            }
        });
        match res {
            Ok(0) => break,
            Ok(n) => done += n as u64,
            Err(e) => return failed(job, Route::SpliceDirect, e, done),
        }
    }
    Ok(Step::Moved(Progress {
        bytes: done,
        would_block: false,
    }))
}

/// Two splices through this thread's pipe: source → pipe → target. Bytes count as moved only
/// once they reached the target; whatever a full non-blocking target did not take is dropped
/// from the pipe (the file side has an explicit offset, so nothing is lost).
fn splice_via_pipe(job: &Job) -> Result<Step> {
    let res = pipe::with_pipe(&job.calls, |p| {
        let mut off = job.position as i64;
        let mut done = 0u64;
        while done < job.count {
            let want = ((job.count - done) as usize).min(p.capacity());
            let filled = job.sys(|| {
                let off_in = if job.dir == Direction::To {
                    &mut off as *mut i64
                } else {
                    ptr::null_mut()
                };
                // SAFETY: `off_in` is valid or null; the pipe's write end is ours.
                unsafe {
                    syscall!(splice(
                        job.src,
                        off_in,
                        p.write_fd(),
                        ptr::null_mut(),
                        want,
                        libc::SPLICE_F_MOVE
                    ))
                }
            });
            let mut pending = match filled {
                Ok(0) => break,
                Ok(n) => n as usize,
                Err(e) => return (failed(job, Route::SpliceViaPipe, e, done), true),
            };
            while pending > 0 {
                let drained = job.sys(|| {
                    let off_out = if job.dir == Direction::From {
                        &mut off as *mut i64
                    } else {
                        ptr::null_mut()
                    };
                    // SAFETY: `off_out` is valid or null; the pipe's read end is ours.
                    unsafe {
                        syscall!(splice(
                            p.read_fd(),
                            ptr::null_mut(),
                            job.dst,
                            off_out,
                            pending,
                            libc::SPLICE_F_MOVE
                        ))
                    }
                });
                match drained {
                    Ok(n) if n > 0 => {
                        pending -= n as usize;
                        done += n as u64;
                    }
                    other => {
                        let clean = p.discard(pending, &job.calls);
                        let err = match other {
                            Err(e) => e,
                            Ok(_) => io::Error::from_raw_os_error(libc::EIO),
                        };
                        return (failed(job, Route::SpliceViaPipe, err, done), clean);
                    }
                }
            }
        }
        (
            Ok(Step::Moved(Progress {
                bytes: done,
                would_block: false,
            })),
            true,
        )
    });
    match res {
        Ok(step) => step,
        // No pipe could be made (EMFILE) or the pipe is in use further up this thread's stack.
        Err(_) => Ok(Step::Fallback { kind_wide: false }),
    }
}

/// Writes all of `[ptr, ptr + len)` to `fd` (at `offset` when given). Returns the bytes written
/// and whether the writer stopped because the target would block or took a short write.
fn write_out(
    job: &Job,
    fd: RawFd,
    buf: *const u8,
    len: usize,
    mut offset: Option<i64>,
) -> (usize, Option<io::Error>, bool) {
    let mut written = 0usize;
    while written < len {
        let res = job.sys(|| {
            // SAFETY: [buf, buf + len) is readable memory (a buffer or a live read-only
            // mapping); the kernel copies from it and reports a vanished page as EFAULT.
            let p = unsafe { buf.add(written) } as *const libc::c_void;
            match offset {
                // SAFETY: as above.
                Some(off) => unsafe { syscall!(pwrite(fd, p, len - written, off)) },
                // SAFETY: as above.
                None => unsafe { syscall!(write(fd, p, len - written)) },
            }
        });
        match res {
            Ok(0) => return (written, Some(io::Error::from_raw_os_error(libc::EIO)), false),
            Ok(n) => {
                written += n as usize;
                if let Some(off) = offset.as_mut() {
                    *off += n as i64;
                }
                if written < len && offset.is_none() {
                    // A short write to a socket or pipe: it is full. Stop, as the JDK does.
                    return (written, None, true);
                }
            }
            Err(e) => return (written, Some(e), false),
        }
    }
    (written, None, false)
}

fn mmap_write_to(job: &Job) -> Result<Step> {
    job.tick(1);
    let size = sys::fstat(job.src).map_err(|e| Error::os(job.op(), e))?.size;
    let end = size.min(job.position + job.count);
    let mut pos = job.position;
    let mut done = 0u64;
    while pos < end {
        let chunk = (end - pos).min(MAPPED_CHUNK) as usize;
        let map = match MmapOptions::new()
            .offset(pos)
            .len(chunk)
            .map_raw_read_only(job.src)
        {
            Ok(map) => map,
            Err(e) if done == 0 => {
                return if is_fallback_errno(e.raw_os_error().unwrap_or(0))
                    || e.raw_os_error() == Some(libc::EACCES)
                {
                    Ok(Step::Fallback { kind_wide: false })
                } else {
                    Err(Error::os(job.op(), e))
                };
            }
            Err(_) => break,
        };
        let (n, err, short) = write_out(job, job.dst, map.as_ptr(), chunk, None);
        done += n as u64;
        pos += n as u64;
        if let Some(e) = err {
            return failed(job, Route::MmapWrite, e, done);
        }
        if short {
            return Ok(Step::Moved(Progress {
                bytes: done,
                would_block: true,
            }));
        }
    }
    Ok(Step::Moved(Progress {
        bytes: done,
        would_block: false,
    }))
}

fn mmap_write_from(job: &Job) -> Result<Step> {
    let op = job.op();
    // SAFETY: lseek takes no pointers.
    let start = job
        .sys(|| unsafe { syscall!(lseek(job.src, 0, libc::SEEK_CUR)) })
        .map_err(|e| Error::os(op, e))? as u64;
    job.tick(1);
    let size = sys::fstat(job.src).map_err(|e| Error::os(op, e))?.size;
    let end = size.min(start.saturating_add(job.count));
    let mut pos = start;
    let mut res = Ok(());
    while pos < end {
        let chunk = (end - pos).min(MAPPED_CHUNK) as usize;
        let map = match MmapOptions::new()
            .offset(pos)
            .len(chunk)
            .map_raw_read_only(job.src)
        {
            Ok(map) => map,
            Err(_) if pos == start => return Ok(Step::Fallback { kind_wide: false }),
            Err(_) => break,
        };
        let at = (job.position + (pos - start)) as i64;
        let (n, err, _) = write_out(job, job.dst, map.as_ptr(), chunk, Some(at));
        pos += n as u64;
        if let Some(e) = err {
            res = Err(e);
            break;
        }
    }
    // SAFETY: lseek takes no pointers.
    job.sys(|| unsafe { syscall!(lseek(job.src, pos as libc::off_t, libc::SEEK_SET)) })
        .map_err(|e| Error::os(op, e))?;
    match res {
        Ok(()) => Ok(Step::Moved(Progress {
            bytes: pos - start,
            would_block: false,
        })),
        Err(e) => failed(job, Route::MmapWrite, e, pos - start),
    }
}

fn read_write_to(job: &Job) -> Result<Step> {
    let mut buf = vec![0u8; (job.count as usize).min(LOOP_BUFFER)];
    let mut done = 0u64;
    while done < job.count {
        let want = ((job.count - done) as usize).min(buf.len());
        let off = (job.position + done) as libc::off_t;
        // SAFETY: `buf` has room for `want` bytes.
        let res = job.sys(|| unsafe { syscall!(pread(job.src, buf.as_mut_ptr().cast(), want, off)) });
        let n = match res {
            Ok(0) => break,
            Ok(n) => n as usize,
            Err(e) => return failed(job, Route::ReadWrite, e, done),
        };
        let (w, err, short) = write_out(job, job.dst, buf.as_ptr(), n, None);
        done += w as u64;
        if let Some(e) = err {
            return failed(job, Route::ReadWrite, e, done);
        }
        if short {
            return Ok(Step::Moved(Progress {
                bytes: done,
                would_block: true,
            }));
        }
    }
    Ok(Step::Moved(Progress {
        bytes: done,
        would_block: false,
    }))
}

fn read_write_from(job: &Job) -> Result<Step> {
    let mut buf = vec![0u8; (job.count as usize).min(LOOP_BUFFER)];
    let mut done = 0u64;
    while done < job.count {
        let want = ((job.count - done) as usize).min(buf.len());
        // SAFETY: `buf` has room for `want` bytes.
        let res = job.sys(|| unsafe { syscall!(read(job.src, buf.as_mut_ptr().cast(), want)) });
        let n = match res {
            Ok(0) => break,
            Ok(n) => n as usize,
            Err(e) => return failed(job, Route::ReadWrite, e, done),
        };
        let at = (job.position + done) as i64;
        let (w, err, _) = write_out(job, job.dst, buf.as_ptr(), n, Some(at));
        done += w as u64;
        if let Some(e) = err {
            // Bytes already read from a stream source cannot be put back: report the error
            // rather than pretend they moved.
            return Err(Error::os(job.op(), e));
        }
    }
    Ok(Step::Moved(Progress {
        bytes: done,
        would_block: false,
    }))
}

/// Flags for [`splice`] and [`tee`] (`SPLICE_F_*`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct SpliceFlags(u32);

impl SpliceFlags {
    /// No flags.
    pub const NONE: SpliceFlags = SpliceFlags(0);
    /// `SPLICE_F_MOVE`: move pages instead of copying (a hint).
    pub const MOVE: SpliceFlags = SpliceFlags(libc::SPLICE_F_MOVE);
    /// `SPLICE_F_NONBLOCK`: do not block on the pipe.
    pub const NONBLOCK: SpliceFlags = SpliceFlags(libc::SPLICE_F_NONBLOCK);
    /// `SPLICE_F_MORE`: more data will follow (like `MSG_MORE`).
    pub const MORE: SpliceFlags = SpliceFlags(libc::SPLICE_F_MORE);

    /// The flags for a raw `SPLICE_F_*` value.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] for bits that are not `MOVE`, `NONBLOCK` or `MORE`.
    pub fn from_bits(bits: u32) -> Result<SpliceFlags> {
        let known = libc::SPLICE_F_MOVE | libc::SPLICE_F_NONBLOCK | libc::SPLICE_F_MORE;
        if bits & !known != 0 {
            return Err(Error::invalid(
                "splice",
                format!("unknown splice flags {bits:#x}"),
            ));
        }
        Ok(SpliceFlags(bits))
    }

    /// The raw bits.
    pub fn bits(self) -> u32 {
        self.0
    }
}

impl std::ops::BitOr for SpliceFlags {
    type Output = SpliceFlags;
    fn bitor(self, rhs: SpliceFlags) -> SpliceFlags {
        SpliceFlags(self.0 | rhs.0)
    }
}

fn offset_ptr(op: &'static str, offset: Option<&mut u64>) -> Result<(*mut i64, Option<i64>)> {
    match offset {
        None => Ok((ptr::null_mut(), None)),
        Some(o) => {
            let v =
                i64::try_from(*o).map_err(|_| Error::invalid(op, "offset exceeds a 64-bit file offset"))?;
            Ok((o as *mut u64 as *mut i64, Some(v)))
        }
    }
}

fn direct_call(op: &'static str, mut f: impl FnMut() -> io::Result<isize>) -> Result<usize> {
    let shield = SigpipeShield::raise();
    let res = retry_eintr(&mut f);
    let _calls = shield.lower(matches!(&res, Err(e) if e.raw_os_error() == Some(libc::EPIPE)));
    res.map(|n| n as usize).map_err(|e| Error::os(op, e))
}

/// One `sendfile(2)` call: up to `count` bytes from `in_fd` to `out_fd` (at most
/// [`MAX_DIRECT_TRANSFER`]). With `offset`, reads there and advances `*offset` (not `in_fd`'s
/// position); without, reads from and advances `in_fd`'s position. Returns 0 at end of file.
///
/// # Errors
///
/// [`Error::WouldBlock`] when a non-blocking `out_fd` is full; [`Error::Closed`] for `EBADF`;
/// [`Error::Io`] otherwise (`EPIPE` for a vanished peer, never a `SIGPIPE` death).
pub fn sendfile(
    out_fd: BorrowedFd<'_>,
    in_fd: BorrowedFd<'_>,
    offset: Option<&mut u64>,
    count: usize,
) -> Result<usize> {
    let (off, _) = offset_ptr("sendfile", offset)?;
    let count = count.min(MAX_DIRECT_TRANSFER as usize);
    direct_call("sendfile", || {
        // SAFETY: `off` is null or points to the caller's u64, valid for the call.
        unsafe { syscall!(sendfile(out_fd.as_raw_fd(), in_fd.as_raw_fd(), off, count)) }
    })
}

/// One `splice(2)` call between `fd_in` and `fd_out`, one of which must be a pipe (the pipe
/// side's offset must be `None`). Offsets behave as in [`sendfile`]. Returns 0 at end of input.
///
/// # Errors
///
/// As [`sendfile`]; [`Error::Io`] with `EINVAL` when neither side is a pipe.
pub fn splice(
    fd_in: BorrowedFd<'_>,
    off_in: Option<&mut u64>,
    fd_out: BorrowedFd<'_>,
    off_out: Option<&mut u64>,
    len: usize,
    flags: SpliceFlags,
) -> Result<usize> {
    let (pin, _) = offset_ptr("splice", off_in)?;
    let (pout, _) = offset_ptr("splice", off_out)?;
    direct_call("splice", || {
        // SAFETY: offsets are null or point to the caller's u64s, valid for the call.
        unsafe {
            syscall!(splice(
                fd_in.as_raw_fd(),
                pin,
                fd_out.as_raw_fd(),
                pout,
                len,
                flags.bits()
            ))
        }
    })
}

/// One `tee(2)` call: duplicates up to `len` bytes from pipe `fd_in` into pipe `fd_out`
/// without consuming them.
///
/// # Errors
///
/// As [`splice`].
pub fn tee(fd_in: BorrowedFd<'_>, fd_out: BorrowedFd<'_>, len: usize, flags: SpliceFlags) -> Result<usize> {
    direct_call("tee", || {
        // SAFETY: tee takes no pointers.
        unsafe { syscall!(tee(fd_in.as_raw_fd(), fd_out.as_raw_fd(), len, flags.bits())) }
    })
}

/// The outcome of [`transfer_to_with_header`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HeaderTransfer {
    /// Bytes of the header sent.
    pub header: usize,
    /// The body's transfer (nothing when the header was not sent whole).
    pub body: Transfer,
}

/// Sends `header` on the socket `target` with `MSG_MORE`, then transfers the body as
/// [`transfer_to`] does, so that a small header and the start of the body leave in one TCP
/// segment (what nginx gets from `tcp_nopush`).
///
/// On a non-blocking socket either part may be short: the result says how much of each went.
/// Send the rest of the header before more of the body.
///
/// # Errors
///
/// As [`transfer_to`]; [`Error::Io`] with `ENOTSOCK` when `target` is not a socket.
pub fn transfer_to_with_header(
    src: BorrowedFd<'_>,
    position: u64,
    count: u64,
    target: BorrowedFd<'_>,
    header: &[u8],
) -> Result<HeaderTransfer> {
    with_header(src, position, count, target, header, None)
}

/// [`transfer_to_with_header`] with the body's route hint kept under `hint_key` (see
/// [`transfer_to_keyed`]).
///
/// # Errors
///
/// As [`transfer_to_with_header`].
pub fn transfer_to_with_header_keyed(
    src: BorrowedFd<'_>,
    position: u64,
    count: u64,
    target: BorrowedFd<'_>,
    header: &[u8],
    hint_key: RawFd,
) -> Result<HeaderTransfer> {
    with_header(src, position, count, target, header, Some(hint_key))
}

fn with_header(
    src: BorrowedFd<'_>,
    position: u64,
    count: u64,
    target: BorrowedFd<'_>,
    header: &[u8],
    hint_key: Option<RawFd>,
) -> Result<HeaderTransfer> {
    const OP: &str = "transfer_to_with_header";
    let mut sent = 0usize;
    let more = if count > 0 { libc::MSG_MORE } else { 0 };
    while sent < header.len() {
        let res = retry_eintr(|| {
            // SAFETY: the slice is valid for the call; MSG_NOSIGNAL keeps SIGPIPE away.
            unsafe {
                syscall!(send(
                    target.as_raw_fd(),
                    header[sent..].as_ptr().cast(),
                    header.len() - sent,
                    libc::MSG_NOSIGNAL | more
                ))
            }
        });
        match res {
            Ok(n) => sent += n as usize,
            Err(e) if e.raw_os_error() == Some(libc::EAGAIN) => break,
            // Part of the header went: report it; the error shows again on the next call.
            Err(_) if sent > 0 => break,
            Err(e) => return Err(Error::os(OP, e)),
        }
    }
    let none = Transfer {
        bytes: 0,
        method: TransferMethod::None,
        would_block: sent < header.len(),
        syscalls: 0,
    };
    if sent < header.len() {
        return Ok(HeaderTransfer {
            header: sent,
            body: none,
        });
    }
    if count == 0 {
        return Ok(HeaderTransfer {
            header: sent,
            body: none,
        });
    }
    let body = to_job(None, src, position, count, target, hint_key)?;
    if body.bytes == 0 && !body.would_block && more != 0 && sent > 0 {
        // The header waits, corked by MSG_MORE, for a body that is not coming (the position is at
        // or past the end of the file): push it out now instead of at the cork timer (~200 ms).
        push_corked(target);
    }
    Ok(HeaderTransfer { header: sent, body })
}

/// Sends what `MSG_MORE` left waiting on a TCP socket: setting `TCP_NODELAY` pushes pending
/// output (tcp(7)); the option is then put back as it was. Best effort: on a socket that is not
/// TCP there is nothing corked to push.
fn push_corked(fd: BorrowedFd<'_>) {
    use nix::sys::socket::{getsockopt, setsockopt, sockopt::TcpNoDelay};
    if let Ok(was) = getsockopt(&fd, TcpNoDelay) {
        let _ = setsockopt(&fd, TcpNoDelay, &true);
        if !was {
            let _ = setsockopt(&fd, TcpNoDelay, &false);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn method_names_are_stable() {
        assert_eq!(TransferMethod::CopyFileRange.name(), "copy_file_range");
        assert_eq!(TransferMethod::MmapWrite.to_string(), "mmap+write");
        assert!(TransferMethod::Splice.is_zero_copy());
        assert!(!TransferMethod::ReadWrite.is_zero_copy());
    }

    #[test]
    fn counts_are_clamped_to_file_offsets() {
        assert_eq!(clamp_count(0, u64::MAX), i64::MAX as u64);
        assert_eq!(clamp_count(i64::MAX as u64, 10), 0);
        assert_eq!(clamp_count(u64::MAX, 10), 0);
        assert_eq!(clamp_count(5, 10), 10);
    }

    #[test]
    fn splice_flags_refuse_unknown_bits() {
        assert!(SpliceFlags::from_bits(libc::SPLICE_F_MOVE | libc::SPLICE_F_MORE).is_ok());
        assert!(SpliceFlags::from_bits(0x100).is_err());
    }
}
