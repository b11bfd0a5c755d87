//! [`TransferRequest`]: one description of a transfer (direction, range, method, policy, header)
//! that every entry point and every binding goes through, and [`Descriptors`], how a binding
//! lends it the two descriptors step by step.

use std::os::fd::{AsRawFd, BorrowedFd, RawFd};

use super::header::{push_corked, send_header, send_with_small_body, SMALL_BODY};
use super::job::{Direction, Job};
use super::method::{record, Transfer, TransferMethod};
use super::{planner, MAX_DIRECT_TRANSFER};
use crate::{sys, Error, Result};

/// How much one request moves.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum Policy {
    /// One call's worth, never waiting: what `FileChannel.transferTo` does. A transfer to moves
    /// at most [`MAX_DIRECT_TRANSFER`]; a non-blocking side takes or gives what it can (possibly
    /// nothing: [`Transfer::would_block`] says so).
    #[default]
    Once,
    /// Everything asked (or up to the end of the source), in as many calls as it takes, waiting
    /// whenever the non-blocking side is full or empty ([`Descriptors::wait`]).
    ///
    /// An error after some bytes moved ends the transfer with that error (a transfer asked to move
    /// everything did not), and the bytes moved before it are not lost: they are in
    /// [`last_transfer`](super::last_transfer) and were told to the guard
    /// ([`Descriptors::moved`]), so a binding that follows the JDK's rule (a count, not an
    /// exception, once bytes moved) can report that instead. Within one step the kernel's own
    /// rule holds: a call that moved bytes returns them, and the error comes with the next call.
    All,
}

/// How a transfer reaches its two descriptors, one step (one core call) at a time.
///
/// Plain callers use [`TransferRequest::run`], which lends the two descriptors as they are. A
/// binding whose caller may close a descriptor from another thread lends them through a guard
/// (duplicates, or the language's own close lock) and may check between steps that the
/// descriptors are still the caller's.
pub trait Descriptors {
    /// The binding's error type (its own failures, and core's errors through `From`).
    type Error: From<Error>;

    /// Runs `f` with the (source, target) descriptors for one step; `Ok(None)` when one of them
    /// was closed since the previous step (the transfer then ends with its progress, or with
    /// [`Error::Closed`] if there is none).
    fn step<R>(
        &mut self,
        f: impl FnOnce(BorrowedFd<'_>, BorrowedFd<'_>) -> R,
    ) -> Result<Option<R>, Self::Error>;

    /// The number under which the route that worked is remembered for the non-file side of a
    /// `dir` transfer (the target of a transfer to, the source of a transfer from): the caller's
    /// own descriptor number when the guard lends a duplicate (whose number is reused for all
    /// kinds of descriptors). `None`: the lent descriptor's own number.
    fn hint_key(&self, dir: Direction) -> Option<RawFd> {
        let _ = dir;
        None
    }

    /// Waits until the non-file side is ready (the target writable for a transfer to, the source
    /// readable for a transfer from). `Ok(false)`: this guard cannot wait here, and the transfer
    /// returns what it moved with [`Transfer::would_block`] set (a caller that waits elsewhere:
    /// an event loop, a parked virtual thread).
    fn wait(&mut self, dir: Direction) -> Result<bool, Self::Error>;

    /// System calls the guard itself makes for one transfer (duplicating and closing), counted
    /// into [`Transfer::syscalls`].
    fn syscalls(&self) -> u64 {
        0
    }

    /// Told the transfer's progress after every step, so a binding that presents an error after
    /// progress its own way (Java: the count, as the JDK's `transferTo` returns it) knows what
    /// moved before the error.
    fn moved(&mut self, total: &Transfer) {
        let _ = total;
    }
}

/// Two descriptors lent as they are, waiting with `poll(2)`.
struct Plain<'a> {
    source: BorrowedFd<'a>,
    target: BorrowedFd<'a>,
}

impl Descriptors for Plain<'_> {
    type Error = Error;

    fn step<R>(&mut self, f: impl FnOnce(BorrowedFd<'_>, BorrowedFd<'_>) -> R) -> Result<Option<R>> {
        Ok(Some(f(self.source, self.target)))
    }

    fn wait(&mut self, dir: Direction) -> Result<bool> {
        wait_stream(self.source, self.target, dir)?;
        Ok(true)
    }
}

/// Waits with `poll` until the non-file side of a `dir` transfer is ready.
pub(crate) fn wait_stream(source: BorrowedFd<'_>, target: BorrowedFd<'_>, dir: Direction) -> Result<()> {
    let (fd, events) = match dir {
        Direction::To => (target, libc::POLLOUT),
        Direction::From => (source, libc::POLLIN),
    };
    sys::wait_ready(fd.as_raw_fd(), events).map_err(|e| Error::os("poll", e))
}

/// A transfer: `FileChannel.transferTo` ([`TransferRequest::to`]) or `transferFrom`
/// ([`TransferRequest::from`]) semantics, with a method (automatic or forced), a [`Policy`] and
/// an optional header. Build one, then [`run`](TransferRequest::run) it.
///
/// Positions and counts are signed, as Java `long`, Python `int` and C `int64_t` hand them over,
/// and checked here, in the JDK's order: the descriptors first (open, then readable/writable),
/// then negative values ([`Error::InvalidArgument`]).
///
/// # Example
///
/// ```
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use std::io::Write;
/// use std::os::fd::AsFd;
/// use zcopy::{Policy, TransferMethod, TransferRequest};
///
/// let mut src = tempfile::tempfile()?;
/// src.write_all(&[7u8; 100_000])?;
/// let (reader, writer) = std::os::unix::net::UnixStream::pair()?;
/// let drain = std::thread::spawn(move || std::io::copy(&mut &reader, &mut std::io::sink()));
/// let t = TransferRequest::to(0, i64::MAX)
///     .policy(Policy::All)
///     .method(Some(TransferMethod::Splice))
///     .run(src.as_fd(), writer.as_fd())?;
/// assert_eq!((t.bytes, t.method), (100_000, TransferMethod::Splice));
/// drop(writer);
/// assert_eq!(drain.join().unwrap()?, 100_000);
/// # Ok(()) }
/// ```
#[derive(Clone, Copy, Debug)]
pub struct TransferRequest<'h> {
    dir: Direction,
    position: i64,
    count: i64,
    method: Option<TransferMethod>,
    policy: Policy,
    header: &'h [u8],
}

impl TransferRequest<'static> {
    /// Up to `count` bytes of the source file from `position` to the target, as
    /// `FileChannel.transferTo`: the source's own file position is not used or changed; a
    /// target with a position advances; `count` is clamped at the end of the file (a file that
    /// reports size 0, such as procfs files, is read until it ends); a position at or past the
    /// end moves nothing.
    pub fn to(position: i64, count: i64) -> TransferRequest<'static> {
        TransferRequest::new(Direction::To, position, count)
    }

    /// Up to `count` bytes from the source into the target file at `position`, as
    /// `FileChannel.transferFrom`: a file source is read from its own position, which advances;
    /// the target's position does not change and the file grows as needed; the transfer stops
    /// early at the end of the source.
    pub fn from(position: i64, count: i64) -> TransferRequest<'static> {
        TransferRequest::new(Direction::From, position, count)
    }

    fn new(dir: Direction, position: i64, count: i64) -> TransferRequest<'static> {
        TransferRequest {
            dir,
            position,
            count,
            method: None,
            policy: Policy::Once,
            header: &[],
        }
    }
}

impl<'h> TransferRequest<'h> {
    /// `Some(method)`: run only that method, with no fallback ([`Error::Unsupported`] when it
    /// cannot serve the pair): for benchmarks, tests, and callers who must know that a given
    /// kernel path moved the bytes. `None` (the default): the planner's choice.
    pub fn method(mut self, method: Option<TransferMethod>) -> Self {
        self.method = method;
        self
    }

    /// How much the request moves (default [`Policy::Once`]).
    pub fn policy(mut self, policy: Policy) -> Self {
        self.policy = policy;
        self
    }

    /// Bytes to send on the target socket before the body, with `MSG_MORE`, so that a small
    /// header and the start of the body leave in one TCP segment (transfers to only; the target
    /// must be a socket: `ENOTSOCK` otherwise). On a non-blocking socket either part may be
    /// short: [`Transfer::header`] says how much of the header went; send the rest of it before
    /// more of the body. A request with a count of 0 sends the header alone, without `MSG_MORE`.
    pub fn header<'a>(self, header: &'a [u8]) -> TransferRequest<'a> {
        TransferRequest { header, ..self }
    }

    /// The request's direction.
    pub fn direction(&self) -> Direction {
        self.dir
    }

    /// Runs the request on `source` and `target`, waiting with `poll` under [`Policy::All`].
    /// Records the outcome for [`last_transfer`](super::last_transfer).
    ///
    /// # Errors
    ///
    /// [`Error::Closed`], [`Error::NotReadable`], [`Error::NotWritable`] (in the JDK's order:
    /// for a transfer to, source open, target open, source readable, target writable; for a
    /// transfer from, target open, source open, then the same), [`Error::InvalidArgument`] for a
    /// negative position or count; [`Error::Io`] with `EISDIR`/`ESPIPE` when the file side is a
    /// directory, pipe or socket, `EPIPE`/`ECONNRESET` for a peer that has gone (never a
    /// `SIGPIPE` death); [`Error::Truncated`] when the file shrank under the mapped route;
    /// [`Error::Unsupported`] when a forced method cannot serve the pair.
    pub fn run(&self, source: BorrowedFd<'_>, target: BorrowedFd<'_>) -> Result<Transfer> {
        self.run_with(&mut Plain { source, target })
    }

    /// Runs the request through a binding's descriptor guard (see [`Descriptors`]).
    ///
    /// # Errors
    ///
    /// As [`TransferRequest::run`], and the guard's own.
    pub fn run_with<D: Descriptors>(&self, fds: &mut D) -> Result<Transfer, D::Error> {
        let op = self.op();
        let hint_key = fds.hint_key(self.dir);
        let mut total = Transfer {
            syscalls: fds.syscalls(),
            ..Transfer::NONE
        };
        let mut range = None;
        loop {
            let stepped =
                fds.step(|source, target| self.step(source, target, &mut range, &total, hint_key))?;
            let step = match stepped {
                Some(Ok(step)) => step,
                Some(Err(e)) => {
                    if total.bytes > 0 || total.header > 0 {
                        record(total);
                    }
                    return Err(e.into());
                }
                None if total.bytes == 0 && total.header == 0 => {
                    return Err(Error::closed_descriptor(op).into())
                }
                None => break,
            };
            total.bytes += step.moved.bytes;
            total.header += step.moved.header;
            total.syscalls += step.moved.syscalls;
            total.would_block = step.moved.would_block;
            if step.moved.method != TransferMethod::None {
                total.method = step.moved.method;
            }
            fds.moved(&total);
            let Some((_, count)) = range else { break };
            let header_done = total.header == self.header.len();
            if self.policy == Policy::Once || (header_done && total.bytes >= count) {
                break;
            }
            if step.moved.would_block {
                if !fds.wait(self.dir)? {
                    break;
                }
                total.syscalls += 1;
            } else if !header_done || step.moved.bytes < step.asked {
                break; // the header stopped on an error, or the source ended
            }
        }
        Ok(record(total))
    }

    /// The checks of [`run`](Self::run), in the same order, for a transfer between `file` and a
    /// peer that has no descriptor (a language-level stream or channel, which the binding moves
    /// bytes to or from itself), moving nothing: `peer_open` answers the peer's open check.
    /// Returns the most bytes the request may move: the count, kept inside a 64-bit file offset,
    /// and for a transfer to clamped at the end of the file as `run` clamps it (a file that
    /// reports size 0 is not clamped: it is read until it ends).
    ///
    /// # Errors
    ///
    /// [`Error::Closed`] (the file, then the peer), [`Error::NotReadable`] or
    /// [`Error::NotWritable`] (the file), [`Error::InvalidArgument`] for a negative position or
    /// count or a header on a transfer from.
    pub fn limit(&self, file: BorrowedFd<'_>, peer_open: bool) -> Result<u64> {
        let op = self.op();
        let flags = sys::FdFlags::get(file.as_raw_fd()).map_err(|_| Error::closed_descriptor(op))?;
        if !peer_open {
            return Err(Error::closed_descriptor(op));
        }
        match self.dir {
            Direction::To if !flags.readable() => return Err(Error::NotReadable { op }),
            Direction::From if !flags.writable() => return Err(Error::NotWritable { op }),
            _ => {}
        }
        let (position, count) = self.checked_values()?;
        if self.dir == Direction::From {
            return Ok(count);
        }
        let size = sys::fstat(file.as_raw_fd()).map_err(|e| Error::os(op, e))?.size;
        Ok(if size > 0 {
            count.min(size.saturating_sub(position))
        } else {
            count
        })
    }

    fn op(&self) -> &'static str {
        match (self.dir, self.header.is_empty()) {
            (Direction::To, true) => "transfer_to",
            (Direction::To, false) => "transfer_to_with_header",
            (Direction::From, _) => "transfer_from",
        }
    }

    /// The checked (position, count): descriptors first, in the JDK's order, when a value is
    /// negative; then the count kept inside a 64-bit file offset.
    fn checked_range(&self, job: &Job<'_>) -> Result<(u64, u64)> {
        self.check_header()?;
        if self.position < 0 || self.count < 0 {
            job.classify()?;
        }
        self.checked_values()
    }

    fn check_header(&self) -> Result<()> {
        if self.dir == Direction::From && !self.header.is_empty() {
            return Err(Error::invalid(
                self.op(),
                "a header goes ahead of a transfer to a socket only",
            ));
        }
        Ok(())
    }

    /// The (position, count) as unsigned values, the count kept inside a 64-bit file offset;
    /// [`Error::InvalidArgument`] for a negative one or a header on a transfer from.
    fn checked_values(&self) -> Result<(u64, u64)> {
        self.check_header()?;
        if self.position < 0 || self.count < 0 {
            let (what, value) = if self.position < 0 {
                ("position", self.position)
            } else {
                ("count", self.count)
            };
            return Err(Error::invalid(self.op(), format!("{what} is negative ({value})")));
        }
        let (position, count) = (self.position as u64, self.count as u64);
        Ok((position, count.min((i64::MAX as u64).saturating_sub(position))))
    }

    /// One step at `total` progress: the header's rest, then one call's worth of the body.
    fn step(
        &self,
        source: BorrowedFd<'_>,
        target: BorrowedFd<'_>,
        range: &mut Option<(u64, u64)>,
        total: &Transfer,
        hint_key: Option<RawFd>,
    ) -> Result<Stepped> {
        let mut job = Job::new(source, target, 0, 0, self.dir);
        let (position, count) = match *range {
            Some(checked) => checked,
            None => *range.insert(self.checked_range(&job)?),
        };
        let left = count - total.bytes.min(count);
        let mut moved = Transfer::NONE;
        let header_left = &self.header[total.header..];
        let small =
            self.dir == Direction::To && self.method.is_none() && left > 0 && left <= SMALL_BODY as u64;
        if !header_left.is_empty() && small {
            if let Some(sent) = send_with_small_body(
                &job,
                source,
                target,
                header_left,
                position + total.bytes,
                left as usize,
            ) {
                let sent = sent.map_err(|e| Error::os(self.op(), e))?;
                moved.header = sent.header;
                moved.bytes = sent.body as u64;
                moved.method = if sent.body > 0 {
                    TransferMethod::ReadWrite
                } else {
                    TransferMethod::None
                };
                moved.would_block = sent.would_block;
                moved.syscalls = job.calls();
                return Ok(Stepped { moved, asked: left });
            }
        }
        if !header_left.is_empty() {
            let h = send_header(&job, target, header_left, left > 0);
            moved.header = h.sent;
            if let Some(e) = h.error {
                return Err(Error::os(self.op(), e));
            }
            if h.sent < header_left.len() {
                moved.would_block = h.would_block;
                moved.syscalls = job.calls();
                return Ok(Stepped { moved, asked: 0 });
            }
        }
        let asked = match self.dir {
            Direction::To => left.min(MAX_DIRECT_TRANSFER),
            Direction::From => left,
        };
        if asked > 0 || self.header.is_empty() {
            job.position = position + total.bytes;
            job.count = asked;
            job.automatic = self.method.is_none();
            let key = hint_key.unwrap_or_else(|| job.stream().as_raw_fd());
            let body = match planner::run(&job, self.method, key) {
                Ok(body) => body,
                // The header went: report it, as the kernel reports a partial write; the body's
                // error shows again on the next call.
                Err(_) if moved.header > 0 => {
                    moved.syscalls = job.calls();
                    return Ok(Stepped { moved, asked });
                }
                Err(e) => return Err(e),
            };
            moved = Transfer {
                header: moved.header,
                ..body
            };
            let corked = !header_left.is_empty() && left > 0;
            if corked && body.bytes == 0 && !body.would_block {
                push_corked(&job, target);
            }
        }
        moved.syscalls = job.calls();
        Ok(Stepped { moved, asked })
    }
}

/// What one step did, and how much it asked for (a step that moved less without would-block
/// means the source ended).
struct Stepped {
    moved: Transfer,
    asked: u64,
}
