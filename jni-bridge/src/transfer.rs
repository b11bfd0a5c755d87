//! Natives behind `ZeroCopy.transferTo` / `transferFrom` / `transferToWithHeader`.
//!
//! The core decides everything about a transfer through one `TransferRequest` (checks in the
//! JDK's order, clamping, the method chain, the loop that moves everything to a blocking
//! channel, `EINTR`/`EAGAIN`). The bridge lends it the channels' descriptors
//! ([`JavaDescriptors`], a `zcopy::Descriptors`):
//! - under both channels' close locks when the Java side says no system call can block
//!   indefinitely (regular files, non-blocking channels), taken anew for each step so a
//!   `close()` waits for one step at most; else through the core's duplicated pair, whose route
//!   hints the core keeps under the channels' own numbers;
//! - between steps, a check that neither channel was closed meanwhile: the progress so far is
//!   returned, and a call that moved nothing reports the close (→ `AsynchronousCloseException`);
//! - a *blocking* Java channel gets everything in one call (`Policy::All`), past 0x7ffff000 bytes
//!   too; a blocking channel whose descriptor is non-blocking underneath is waited for with
//!   `poll` on the duplicate;
//! - an error after some progress returns the progress (the JDK's rule); the error shows again
//!   on the next call.
//!
//! A channel without a descriptor (a user's own channel, a stream wrapper) is moved by the Java
//! side, after `transferLimit` ran the core's checks on the file side.
//!
//! The result is packed into one `long` (see [`pack`]): bytes, system calls, method, whether
//! the non-blocking side was full, and for a transfer with a header whether the header is still
//! short.

use std::os::fd::{BorrowedFd, RawFd};

use jni::objects::{JByteArray, JObject};
use jni::sys::{jboolean, jint, jlong};
use jni::Env;
use zcopy::binding::DescriptorPair;
use zcopy::{Descriptors, Direction, Policy, Transfer, TransferMethod, TransferRequest};

use crate::channels::{Channel, LockPair};
use crate::errors::{natives, Failure, Result};

/// Bits 0..47 of the packed result: bytes (the body's; the header's when [`HEADER_SHORT`]). One
/// call moves at most this many bytes, so the count fits.
const BYTES_MASK: i64 = (1 << 47) - 1;
/// Bits 47..57: system calls made (saturating at [`SYSCALLS_MAX`], which Java reports as unknown).
const SYSCALLS_SHIFT: u32 = 47;
const SYSCALLS_MAX: u64 = (1 << 10) - 1;
/// Bits 57..61: the [`TransferMethod`] code (the core's table; Java checks its enum against it).
const METHOD_SHIFT: u32 = 57;
/// Bit 61: the non-blocking side could take or give no more.
const WOULD_BLOCK: i64 = 1 << 61;
/// Bit 62: the header was not sent whole; the bytes field counts the header bytes sent.
const HEADER_SHORT: i64 = 1 << 62;

/// `Native.transfer`'s `flags`: the Java channel is blocking, so the call moves everything,
/// waiting whenever the other side is full or empty.
const BLOCKING: jint = 1;
/// `Native.transfer`'s `flags`: the Java side vouches that no system call of this transfer can
/// block indefinitely, so the close locks may be held.
const GUARD_LOCK: jint = 2;
/// `Native.transfer`'s `flags`, with [`BLOCKING`]: move all that can move without waiting, and
/// return with `would_block` where the blocking call would wait (a virtual thread, which waits
/// by parking in Java instead of holding its carrier in `poll`).
const NO_WAIT: jint = 4;

fn forced_method(code: jint) -> Result<Option<TransferMethod>> {
    match u32::try_from(code).ok().map(TransferMethod::from_code) {
        Some(Some(TransferMethod::None)) => Ok(None),
        Some(Some(m)) => Ok(Some(m)),
        _ => Err(Failure::Throw(
            "java/lang/IllegalArgumentException",
            Some(format!("unknown transfer method {code}")),
        )),
    }
}

/// Packs a transfer for Java (`io.zcopy.Transfers.unpack` reads it); `header_len` is the length
/// of the header the call was asked to send first (0 without one).
fn pack(t: &Transfer, header_len: usize) -> jlong {
    let header_short = t.header < header_len;
    let bytes = if header_short { t.header as u64 } else { t.bytes };
    let mut v = (bytes as i64) & BYTES_MASK;
    v |= (t.syscalls.min(SYSCALLS_MAX) as i64) << SYSCALLS_SHIFT;
    v |= i64::from(t.method.code()) << METHOD_SHIFT;
    if t.would_block {
        v |= WOULD_BLOCK;
    }
    if header_short {
        v |= HEADER_SHORT;
    }
    v
}

fn direction(to: jboolean) -> Direction {
    if to {
        Direction::To
    } else {
        Direction::From
    }
}

/// The (source, target) of a `dir` transfer between the file and the other side.
fn source_target<T>(dir: Direction, file: T, other: T) -> (T, T) {
    match dir {
        Direction::To => (file, other),
        Direction::From => (other, file),
    }
}

fn request(dir: Direction, position: jlong, count: jlong) -> TransferRequest<'static> {
    match dir {
        Direction::To => TransferRequest::to(position, count),
        Direction::From => TransferRequest::from(position, count),
    }
}

fn op_name(dir: Direction, header: bool) -> &'static str {
    match (dir, header) {
        (Direction::To, false) => "transfer_to",
        (Direction::To, true) => "transfer_to_with_header",
        (Direction::From, _) => "transfer_from",
    }
}

/// How a transfer lends the core its two descriptors.
enum Lending<'a, 'b, 'l> {
    /// Both channels' close locks, taken anew for each step (so a `close()` waits for one step
    /// at most) and never held across a wait.
    Locked(LockPair<'a, 'b, 'l>),
    /// Duplicates taken once, checked against the channels between steps.
    Duplicated(DescriptorPair),
}

/// A Java transfer's descriptors for the core's [`TransferRequest::run_with`]: the channels'
/// own guards, the checks between steps, and the progress for the JDK's rule on errors.
struct JavaDescriptors<'a, 'b, 'l, 'e> {
    env: &'a mut Env<'e>,
    /// (file, other): the order in which the JDK checks them for closed.
    channels: [&'a Channel<'b, 'l>; 2],
    lending: Lending<'a, 'b, 'l>,
    dir: Direction,
    /// The Java channel is blocking: the call moves everything, waiting (`poll` on the
    /// duplicate) unless [`NO_WAIT`].
    blocking: bool,
    wait: bool,
    op: &'static str,
    steps: u32,
    progress: Transfer,
}

impl<'a, 'b, 'l, 'e> JavaDescriptors<'a, 'b, 'l, 'e> {
    /// Chooses the guard: the close locks when [`GUARD_LOCK`] (the Java side's word that no
    /// system call can block indefinitely) and the JDK has them, else duplicates.
    ///
    /// A blocking channel served [`NO_WAIT`] (a virtual thread's) takes the close locks only
    /// once the JDK made its descriptor non-blocking for good (`forcedNonBlocking`, which the
    /// Java side asks for first): otherwise a system call on it could block while the lock is
    /// held, and `close()` would wait for it.
    fn new(
        env: &'a mut Env<'e>,
        channels: [&'a Channel<'b, 'l>; 2],
        dir: Direction,
        flags: jint,
        op: &'static str,
    ) -> Result<Self> {
        let [file, other] = channels;
        let blocking = flags & BLOCKING != 0;
        let wait = blocking && flags & NO_WAIT == 0;
        let lockable = flags & GUARD_LOCK != 0 && (!blocking || wait || other.forced_non_blocking());
        let locked = if lockable {
            LockPair::new(file, other, op)?
        } else {
            None
        };
        let lending = match locked {
            Some(pair) => Lending::Locked(pair),
            None => {
                let (ns, nt) = source_target(dir, file.open_number(op)?, other.open_number(op)?);
                let closed = || Failure::Core(zcopy::Error::closed_descriptor(op));
                let pair = DescriptorPair::duplicated(ns, nt)
                    .map_err(|source| Failure::Core(zcopy::Error::Io { op, source }))?
                    .ok_or_else(closed)?;
                if !Self::still_held(channels, dir, &pair)? {
                    return Err(closed());
                }
                Lending::Duplicated(pair)
            }
        };
        Ok(JavaDescriptors {
            env,
            channels,
            lending,
            dir,
            blocking,
            wait,
            op,
            steps: 0,
            progress: Transfer::NONE,
        })
    }

    /// Whether both channels still hold the numbers `pair` duplicated.
    fn still_held(channels: [&Channel<'_, '_>; 2], dir: Direction, pair: &DescriptorPair) -> Result<bool> {
        let (source, target) = source_target(dir, channels[0], channels[1]);
        Ok(source.still_holds(pair.number(0))? && target.still_holds(pair.number(1))?)
    }

    /// Runs `request` with the JDK's rules for what ends it: an error after progress returns the
    /// count (the error shows again on the next call); a channel found closed by the first step
    /// is `ClosedChannelException` (closed before the call), by a later one
    /// `AsynchronousCloseException` (closed during it).
    fn run(mut self, request: TransferRequest<'_>) -> Result<Transfer> {
        let request = request.policy(if self.blocking { Policy::All } else { Policy::Once });
        match request.run_with(&mut self) {
            Err(_) if self.progress.bytes > 0 => Ok(self.progress),
            Err(Failure::Core(zcopy::Error::Closed { .. })) if self.steps > 1 => Err(Failure::Throw(
                "java/nio/channels/AsynchronousCloseException",
                None,
            )),
            other => other,
        }
    }
}

impl Descriptors for JavaDescriptors<'_, '_, '_, '_> {
    type Error = Failure;

    fn step<R>(&mut self, f: impl FnOnce(BorrowedFd<'_>, BorrowedFd<'_>) -> R) -> Result<Option<R>> {
        let first = self.steps == 0;
        self.steps += 1;
        match &self.lending {
            Lending::Locked(pair) => {
                let held = match pair.enter(self.env, self.op) {
                    Ok(held) => held,
                    Err(Failure::Core(zcopy::Error::Closed { .. })) => return Ok(None),
                    Err(other) => return Err(other),
                };
                // SAFETY: both close locks are held and both channels are open, so the numbers
                // stay their own open descriptors until `held` is dropped, after `f` returns.
                let [file, other] = unsafe { held.fds.map(|fd| BorrowedFd::borrow_raw(fd)) };
                let (source, target) = source_target(self.dir, file, other);
                Ok(Some(f(source, target)))
            }
            Lending::Duplicated(pair) => {
                if !first && !Self::still_held(self.channels, self.dir, pair)? {
                    return Ok(None);
                }
                Ok(Some(f(pair.fd(0), pair.fd(1))))
            }
        }
    }

    fn hint_key(&self, dir: Direction) -> Option<RawFd> {
        match &self.lending {
            Lending::Locked(_) => None,
            Lending::Duplicated(pair) => pair.hint_key(dir),
        }
    }

    fn wait(&mut self, dir: Direction) -> Result<bool> {
        match &mut self.lending {
            Lending::Duplicated(pair) if self.wait => Ok(pair.wait(dir)?),
            _ => Ok(false),
        }
    }

    fn syscalls(&self) -> u64 {
        match &self.lending {
            Lending::Locked(_) => 0,
            Lending::Duplicated(pair) => pair.syscalls(),
        }
    }

    fn moved(&mut self, total: &Transfer) {
        self.progress = *total;
    }
}

/// The header bytes of `transferToWithHeader`, copied out of the Java array (the Java side
/// copies a direct buffer into an array first: native code never reads memory a Java buffer
/// may have mapped, where a truncated file would fault in native code). A null array is no
/// header.
fn header_bytes<'s>(
    e: &mut Env<'_>,
    heap: &JByteArray<'_>,
    offset: jint,
    length: jint,
    scratch: &'s mut [i8; HEADER_STACK],
    spill: &'s mut Vec<i8>,
) -> Result<&'s [u8]> {
    if heap.is_null() {
        return Ok(&[]);
    }
    let (Ok(off), Ok(len)) = (usize::try_from(offset), usize::try_from(length)) else {
        return Err(Failure::Throw("java/lang/IndexOutOfBoundsException", None));
    };
    let cap = heap.len(e)?;
    if off > cap || len > cap - off {
        return Err(Failure::Throw("java/lang/IndexOutOfBoundsException", None));
    }
    let buf: &mut [i8] = if len <= HEADER_STACK {
        &mut scratch[..len]
    } else {
        spill.resize(len, 0);
        &mut spill[..]
    };
    heap.get_region(e, offset, buf)?;
    // SAFETY: i8 and u8 have the same size and alignment; every bit pattern is valid for both.
    Ok(unsafe { std::slice::from_raw_parts(buf.as_ptr().cast::<u8>(), buf.len()) })
}

/// Headers up to this size are copied to the stack (a typical response header is ~150 bytes).
const HEADER_STACK: usize = 1024;

natives! {
    /// `Native.transfer(boolean to, FileChannel file, Channel other, long position, long count,
    /// int method, int flags, byte[] header, int headerOffset, int headerLength)`: a transfer
    /// to (`to`) or from the descriptor-backed `other`, with a forced method (0: automatic) and
    /// an optional header (null: none), sent with `MSG_MORE` before the body as the core's
    /// header path does; a blocking `other` gets everything the request asks for.
    #[allow(clippy::too_many_arguments)]
    fn transfer = "transfer"(
        e,
        to: jboolean,
        file: JObject<'l>,
        other: JObject<'l>,
        position: jlong,
        count: jlong,
        method: jint,
        flags: jint,
        header: JByteArray<'l>,
        offset: jint,
        length: jint,
    ) -> jlong {
        let forced = forced_method(method)?;
        let (mut scratch, mut spill) = ([0i8; HEADER_STACK], Vec::new());
        let header = header_bytes(e, &header, offset, length, &mut scratch, &mut spill)?;
        let dir = direction(to);
        let file = Channel::require(e, &file, "the file")?;
        let other = Channel::require(e, &other, "the other channel")?;
        let op = op_name(dir, !header.is_empty());
        let fds = JavaDescriptors::new(e, [&file, &other], dir, flags, op)?;
        let request = request(dir, position, count.min(BYTES_MASK)).method(forced).header(header);
        Ok(pack(&fds.run(request)?, header.len()))
    }

    /// `Native.transferLimit(boolean to, FileChannel file, boolean otherOpen, long position,
    /// long count)`: the core's checks of a transfer between `file` and a channel without a
    /// descriptor (open or not), in the JDK's order, moving nothing; returns the most bytes the
    /// transfer may move (`count`, clamped at the end of the file for a transfer to).
    fn transfer_limit = "transferLimit"(
        e, to: jboolean, file: JObject<'l>, other_open: jboolean, position: jlong, count: jlong,
    ) -> jlong {
        let dir = direction(to);
        let file = Channel::require(e, &file, "the file")?;
        // F_GETFL and fstat never block: the close lock guards them.
        file.with_fd(e, op_name(dir, false), |fd| {
            let limit = request(dir, position, count).limit(fd, other_open)?;
            Ok(jlong::try_from(limit).unwrap_or(jlong::MAX))
        })
    }

    /// `Native.neverWaits(FileChannel)`: whether no system call of a transfer on the channel's
    /// descriptor can wait for another party (a seekable one: regular files, block devices,
    /// `/dev/null`; a FIFO or a terminal opened as a `FileChannel` could block indefinitely).
    /// `lseek` never blocks: the close lock guards it.
    fn never_waits = "neverWaits"(e, channel: JObject<'l>) -> jboolean {
        let ch = Channel::require(e, &channel, "the channel")?;
        ch.with_fd(e, "never_waits", |fd| Ok(zcopy::binding::never_waits(fd)))
    }

    /// `Native.closeLocksAvailable()`: whether this JDK's channels have the close lock that the
    /// lock guard uses (JDK 8 to 25 do); without it every call takes the duplicate guard.
    fn close_locks_available = "closeLocksAvailable"(_e) -> jboolean {
        Ok(crate::channels::close_locks_available())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packed_results_round_trip_what_java_unpacks() {
        let mut t = Transfer::NONE;
        t.bytes = (1 << 40) + 5;
        t.header = 3;
        t.method = TransferMethod::ReadWrite;
        t.would_block = true;
        t.syscalls = 5000;
        let v = pack(&t, 3);
        assert!(v > 0, "the sign bit stays clear");
        assert_eq!(v & BYTES_MASK, (1 << 40) + 5);
        assert_eq!(
            (v >> SYSCALLS_SHIFT) as u64 & SYSCALLS_MAX,
            SYSCALLS_MAX,
            "saturated"
        );
        assert_eq!(
            (v >> METHOD_SHIFT) & 0xf,
            i64::from(TransferMethod::ReadWrite.code())
        );
        assert_ne!(v & WOULD_BLOCK, 0);
        assert_eq!(v & HEADER_SHORT, 0);
        t.header = 2;
        let short = pack(&t, 3);
        assert_ne!(short & HEADER_SHORT, 0);
        assert_eq!(short & BYTES_MASK, 2);
        for m in TransferMethod::ALL {
            assert!(m.code() < 16, "a method code fits the packed field");
            assert_eq!(forced_method(m.code() as jint).unwrap(), Some(m));
        }
        assert_eq!(forced_method(0).unwrap(), None);
        assert!(forced_method(99).is_err());
    }
}
