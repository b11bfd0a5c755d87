//! Natives behind `ZeroCopy.transferTo` / `transferFrom` / `transferToWithHeader` for
//! descriptor-backed channels.
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
//! The result is packed into one `long` (see [`pack`]): bytes, system calls, method, whether
//! the non-blocking side was full, and for a transfer with a header whether the header is still
//! short.

use std::os::fd::{BorrowedFd, RawFd};

use jni::objects::{JByteArray, JClass, JObject};
use jni::sys::{jboolean, jint, jlong};
use jni::{Env, EnvUnowned};
use zcopy::binding::DescriptorPair;
use zcopy::{Descriptors, Direction, Policy, Transfer, TransferMethod, TransferRequest};

use crate::channels::{Channel, LockPair};
use crate::errors::{native, Failure, Result};

/// Bits 0..47 of the packed result: bytes (the body's; the header's when [`HEADER_SHORT`]).
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

/// `Native.transferTo`'s and `transferFrom`'s `guard` argument: the Java side vouches that no
/// system call of this transfer can block indefinitely, so the close locks may be held.
const GUARD_LOCK: jint = 1;

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

/// Packs a transfer for Java (`io.zcopy.ZeroCopy.unpack` reads it); `header_len` is the length
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
    /// (source, target).
    channels: [&'a Channel<'b, 'l>; 2],
    lending: Lending<'a, 'b, 'l>,
    dir: Direction,
    /// The Java channel is blocking: the call waits (`poll` on the duplicate) until done.
    blocking: bool,
    op: &'static str,
    steps: u32,
    progress: Transfer,
}

impl<'a, 'b, 'l, 'e> JavaDescriptors<'a, 'b, 'l, 'e> {
    /// Chooses the guard: the close locks when `lock` (the Java side's word that no system call
    /// can block indefinitely) and the JDK has them, else duplicates. `dir` says which channel
    /// the JDK checks first for closed (the file channel: the source of a transfer to, the
    /// target of a transfer from).
    fn new(
        env: &'a mut Env<'e>,
        channels: [&'a Channel<'b, 'l>; 2],
        dir: Direction,
        lock: bool,
        blocking: bool,
        op: &'static str,
    ) -> Result<Self> {
        let [source, target] = channels;
        let check_order = match dir {
            Direction::To => [source, target],
            Direction::From => [target, source],
        };
        let locked = if lock {
            LockPair::new(check_order[0], check_order[1], op)?
        } else {
            None
        };
        let lending = match locked {
            Some(pair) => Lending::Locked(pair),
            None => {
                let numbers = [check_order[0].open_number(op)?, check_order[1].open_number(op)?];
                let (ns, nt) = match dir {
                    Direction::To => (numbers[0], numbers[1]),
                    Direction::From => (numbers[1], numbers[0]),
                };
                let closed = || Failure::Core(zcopy::Error::closed_descriptor(op));
                let pair = DescriptorPair::duplicated(ns, nt)
                    .map_err(|source| Failure::Core(zcopy::Error::Io { op, source }))?
                    .ok_or_else(closed)?;
                if !source.still_holds(ns)? || !target.still_holds(nt)? {
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
            op,
            steps: 0,
            progress: Transfer::NONE,
        })
    }

    /// Runs `request`: Java's rule for an error after progress is the JDK's (the count is
    /// returned; the error shows again on the next call).
    fn run(mut self, request: TransferRequest<'_>) -> Result<Transfer> {
        let request = request.policy(if self.blocking { Policy::All } else { Policy::Once });
        match request.run_with(&mut self) {
            Err(_) if self.progress.bytes > 0 => Ok(self.progress),
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
                let [a, b] = unsafe { held.fds.map(|fd| BorrowedFd::borrow_raw(fd)) };
                // The locks are in the JDK's check order (the file channel first).
                let (source, target) = match self.dir {
                    Direction::To => (a, b),
                    Direction::From => (b, a),
                };
                Ok(Some(f(source, target)))
            }
            Lending::Duplicated(pair) => {
                let [s, t] = self.channels;
                if !first && (!s.still_holds(pair.number(0))? || !t.still_holds(pair.number(1))?) {
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
            Lending::Duplicated(pair) if self.blocking => Ok(pair.wait(dir)?),
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

/// The channels of a transfer call, recognised.
fn channels<'a, 'l>(
    e: &mut Env<'_>,
    source: &'a JObject<'l>,
    target: &'a JObject<'l>,
) -> Result<[Channel<'a, 'l>; 2]> {
    Ok([
        Channel::require(e, source, "the source")?,
        Channel::require(e, target, "the target")?,
    ])
}

/// `Native.transferTo(FileChannel src, long position, long count, Channel target,
/// boolean blocking, int method, int guard)`.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub extern "system" fn Java_io_zcopy_Native_transferTo<'l>(
    mut env: EnvUnowned<'l>,
    _class: JClass<'l>,
    src: JObject<'l>,
    position: jlong,
    count: jlong,
    target: JObject<'l>,
    blocking: jboolean,
    method: jint,
    guard: jint,
) -> jlong {
    native!(env, |e| {
        let forced = forced_method(method)?;
        let [s, t] = channels(e, &src, &target)?;
        let fds = JavaDescriptors::new(
            e,
            [&s, &t],
            Direction::To,
            guard == GUARD_LOCK,
            blocking,
            "transfer_to",
        )?;
        let done = fds.run(TransferRequest::to(position, count).method(forced))?;
        Ok(pack(&done, 0))
    })
}

/// `Native.transferToWithHeader(FileChannel src, long position, long count, Channel target,
/// boolean blocking, int guard, byte[] header, int offset, int length)`: the header sent with
/// `MSG_MORE`, then the body, as the core's `transfer_to_with_header`; a blocking target gets
/// the rest of the body as `transferTo` gives it.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub extern "system" fn Java_io_zcopy_Native_transferToWithHeader<'l>(
    mut env: EnvUnowned<'l>,
    _class: JClass<'l>,
    src: JObject<'l>,
    position: jlong,
    count: jlong,
    target: JObject<'l>,
    blocking: jboolean,
    guard: jint,
    header: JByteArray<'l>,
    offset: jint,
    length: jint,
) -> jlong {
    native!(env, |e| {
        let (mut scratch, mut spill) = ([0i8; HEADER_STACK], Vec::new());
        let header = header_bytes(e, &header, offset, length, &mut scratch, &mut spill)?;
        let [s, t] = channels(e, &src, &target)?;
        let op = "transfer_to_with_header";
        let fds = JavaDescriptors::new(e, [&s, &t], Direction::To, guard == GUARD_LOCK, blocking, op)?;
        let done = fds.run(TransferRequest::to(position, count).header(header))?;
        Ok(pack(&done, header.len()))
    })
}

/// The header bytes of `transferToWithHeader`, copied out of the Java array (the Java side
/// copies a direct buffer into an array first: native code never reads memory a Java buffer
/// may have mapped, where a truncated file would fault in native code).
fn header_bytes<'s>(
    e: &mut Env<'_>,
    heap: &JByteArray<'_>,
    offset: jint,
    length: jint,
    scratch: &'s mut [i8; HEADER_STACK],
    spill: &'s mut Vec<i8>,
) -> Result<&'s [u8]> {
    if heap.is_null() {
        return Err(Failure::Throw(
            "java/lang/NullPointerException",
            Some("header".into()),
        ));
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

/// `Native.transferFrom(FileChannel target, Channel src, long position, long count,
/// boolean blocking, int method, int guard)`.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub extern "system" fn Java_io_zcopy_Native_transferFrom<'l>(
    mut env: EnvUnowned<'l>,
    _class: JClass<'l>,
    target: JObject<'l>,
    src: JObject<'l>,
    position: jlong,
    count: jlong,
    blocking: jboolean,
    method: jint,
    guard: jint,
) -> jlong {
    native!(env, |e| {
        let forced = forced_method(method)?;
        let [s, t] = channels(e, &src, &target)?;
        let fds = JavaDescriptors::new(
            e,
            [&s, &t],
            Direction::From,
            guard == GUARD_LOCK,
            blocking,
            "transfer_from",
        )?;
        let done = fds.run(TransferRequest::from(position, count).method(forced))?;
        Ok(pack(&done, 0))
    })
}

/// `Native.accessMode(Channel)`: 1 readable, 2 writable, 4 append, of the channel's descriptor
/// (`ClosedChannelException` when closed). Used by the Java fallback paths for the JDK's
/// readable/writable checks. `fcntl` never blocks: the close lock guards it.
#[no_mangle]
pub extern "system" fn Java_io_zcopy_Native_accessMode<'l>(
    mut env: EnvUnowned<'l>,
    _class: JClass<'l>,
    channel: JObject<'l>,
) -> jint {
    native!(env, |e| {
        let ch = Channel::require(e, &channel, "the channel")?;
        let access = ch.with_fd(e, "access_mode", |fd| {
            Ok(zcopy::binding::access("access_mode", fd)?)
        })?;
        Ok(i32::from(access.readable) | i32::from(access.writable) << 1 | i32::from(access.append) << 2)
    })
}

/// `Native.isRegularFile(FileChannel)`: whether the channel's descriptor is a regular file,
/// the kind of file on which no system call of a transfer blocks indefinitely (a FIFO or a
/// terminal opened as a `FileChannel` would). `fstat` never blocks: the close lock guards it.
#[no_mangle]
pub extern "system" fn Java_io_zcopy_Native_isRegularFile<'l>(
    mut env: EnvUnowned<'l>,
    _class: JClass<'l>,
    channel: JObject<'l>,
) -> jboolean {
    native!(env, |e| {
        let ch = Channel::require(e, &channel, "the channel")?;
        ch.with_fd(e, "is_regular_file", |fd| {
            zcopy::binding::is_regular_file(fd)
                .map_err(|source| Failure::Core(zcopy::Error::Io { op: "fstat", source }))
        })
    })
}

/// `Native.closeLocksAvailable()`: whether this JDK's channels have the close lock that the
/// lock guard uses (JDK 8 to 25 do); without it every call takes the duplicate guard.
#[no_mangle]
pub extern "system" fn Java_io_zcopy_Native_closeLocksAvailable<'l>(
    mut env: EnvUnowned<'l>,
    _class: JClass<'l>,
) -> jboolean {
    native!(env, |_e| Ok(crate::channels::close_locks_available()))
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
