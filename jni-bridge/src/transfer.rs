//! Natives behind `ZeroCopy.transferTo` / `transferFrom` for descriptor-backed channels.
//!
//! The core decides everything about one transfer (checks in the JDK's order, clamping, the
//! method chain, `EINTR`/`EAGAIN`); the bridge adds only what a Java call needs on top:
//! - descriptors read from the channel objects and guarded (see `channels.rs`): under both
//!   channels' close locks when the Java side says no system call can block indefinitely
//!   (regular files, non-blocking channels), else through duplicates, whose route hints the core
//!   keeps under the channel's own number (`transfer_*_keyed`);
//! - for a *blocking* Java channel, repeated core calls until `count` bytes moved or the source
//!   ended, so one call can move more than 0x7ffff000 bytes (the JDK stops there). A blocking
//!   channel whose descriptor is non-blocking underneath (the JDK does that for virtual
//!   threads) is waited for with `poll`. Under the close locks, the locks are released between
//!   core calls, so a `close()` waits for one system call at most;
//! - between those calls, a check that neither channel was closed meanwhile: the progress so
//!   far is returned, and a call that moved nothing reports the close (→
//!   `AsynchronousCloseException` in Java);
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
use zcopy::{Transfer, TransferMethod};

use crate::channels::{access_bits, release_pair, with_locked, Channel, GuardedFd, LockPair};
use crate::errors::{native, Failure, Result};

/// Bits 0..47 of the packed result: bytes (the body's; the header's when [`HEADER_SHORT`]).
const BYTES_MASK: i64 = (1 << 47) - 1;
/// Bits 47..55: system calls made (saturating at 255).
const SYSCALLS_SHIFT: u32 = 47;
/// Bits 55..58: the [`TransferMethod`] code.
const METHOD_SHIFT: u32 = 55;
/// Bit 58: the non-blocking side could take or give no more.
const WOULD_BLOCK: i64 = 1 << 58;
/// Bit 59: the header was not sent whole; the bytes field counts the header bytes sent.
const HEADER_SHORT: i64 = 1 << 59;

/// `Native.transferTo`'s and `transferFrom`'s `guard` argument: the Java side vouches that no
/// system call of this transfer can block indefinitely, so the close locks may be held.
const GUARD_LOCK: jint = 1;

fn method_code(m: TransferMethod) -> i64 {
    match m {
        TransferMethod::CopyFileRange => 1,
        TransferMethod::Sendfile => 2,
        TransferMethod::Splice => 3,
        TransferMethod::MmapWrite => 4,
        TransferMethod::ReadWrite => 5,
        _ => 0,
    }
}

fn forced_method(code: jint) -> Result<Option<TransferMethod>> {
    Ok(match code {
        0 => None,
        1 => Some(TransferMethod::CopyFileRange),
        2 => Some(TransferMethod::Sendfile),
        3 => Some(TransferMethod::Splice),
        4 => Some(TransferMethod::MmapWrite),
        5 => Some(TransferMethod::ReadWrite),
        other => {
            return Err(Failure::Throw(
                "java/lang/IllegalArgumentException",
                Some(format!("unknown transfer method {other}")),
            ))
        }
    })
}

/// What a whole Java call did.
#[derive(Default)]
struct Outcome {
    bytes: u64,
    method: Option<TransferMethod>,
    syscalls: u64,
    would_block: bool,
    /// Header bytes sent, when the header was not sent whole.
    header_short: Option<usize>,
}

/// Packs an outcome for Java (`io.zcopy.ZeroCopy.unpack` reads it).
fn pack(o: &Outcome) -> jlong {
    let bytes = match o.header_short {
        Some(h) => h as u64,
        None => o.bytes,
    };
    let mut v = (bytes as i64) & BYTES_MASK;
    v |= (o.syscalls.min(255) as i64) << SYSCALLS_SHIFT;
    v |= method_code(o.method.unwrap_or(TransferMethod::None)) << METHOD_SHIFT;
    if o.would_block {
        v |= WOULD_BLOCK;
    }
    if o.header_short.is_some() {
        v |= HEADER_SHORT;
    }
    v
}

/// Waits until `fd` is ready for `events` (core's wait, as an error the bridge reports).
fn wait_ready(fd: BorrowedFd<'_>, events: libc::c_short) -> Result<()> {
    zcopy::wait_ready(fd, events).map_err(|source| Failure::Core(zcopy::Error::Io { op: "poll", source }))
}

/// What one core call of a transfer did, as the loop sees it.
enum Step {
    /// The core call's outcome; `header_short` when a header was not sent whole.
    Moved(Transfer, Option<usize>),
    /// A channel was closed before this step could run.
    Closed,
}

/// How a transfer reaches its descriptors: the close locks (taken anew for each core call) or
/// duplicates (taken once, checked against the channels between core calls).
enum Guard<'a, 'b, 'l> {
    Locked(LockPair<'a, 'b, 'l>),
    Dup {
        /// (file side, other side) and their duplicates.
        channels: [&'a Channel<'b, 'l>; 2],
        fds: [GuardedFd; 2],
    },
}

/// The two descriptors of one step and the hint key for the core (the other side's own number
/// when it is a duplicate).
struct StepFds<'f> {
    fds: [BorrowedFd<'f>; 2],
    hint_key: Option<RawFd>,
}

impl<'a, 'b, 'l> Guard<'a, 'b, 'l> {
    /// Chooses the guard: the close locks when `lock` (the Java side's word that no system call
    /// can block indefinitely) and the JDK has them, else duplicates. `a` and `b` in the
    /// order of the JDK's closed-channel checks.
    fn new(
        e: &mut Env<'_>,
        lock: bool,
        a: &'a Channel<'b, 'l>,
        b: &'a Channel<'b, 'l>,
        op: &'static str,
    ) -> Result<Guard<'a, 'b, 'l>> {
        if lock && crate::channels::guards_on() {
            if let Some(pair) = LockPair::new(e, a, b, op)? {
                return Ok(Guard::Locked(pair));
            }
        }
        let fa = a.guarded(e, op)?;
        let fb = b.guarded_above(e, op, fa.used() + 1)?;
        Ok(Guard::Dup {
            channels: [a, b],
            fds: [fa, fb],
        })
    }

    /// The bridge's own system calls per Java call with this guard (the duplicates and their
    /// release), for `ZeroCopy.lastTransfer().syscalls()`.
    fn overhead(&self) -> u64 {
        match self {
            Guard::Locked(_) => 0,
            Guard::Dup { fds, .. } if fds.iter().all(|f| matches!(f, GuardedFd::Dup(..))) => 3,
            Guard::Dup { .. } => 0,
        }
    }

    /// Runs `f` with the descriptors of one step: under the close locks, or on the duplicates
    /// after checking (from the second step on) that both channels still hold their numbers.
    fn step(
        &self,
        e: &mut Env<'_>,
        op: &'static str,
        first: bool,
        f: impl FnOnce(StepFds<'_>) -> zcopy::Result<(Transfer, Option<usize>)>,
    ) -> Result<zcopy::Result<Step>> {
        match self {
            Guard::Locked(pair) => {
                let held = match pair.enter(e, op) {
                    Ok(held) => held,
                    Err(Failure::Core(zcopy::Error::Closed { .. })) => return Ok(Ok(Step::Closed)),
                    Err(other) => return Err(other),
                };
                // SAFETY: both close locks are held and both channels are open, so the numbers
                // stay their own open descriptors until `held` is dropped, after `f` returns.
                let fds = unsafe {
                    [
                        BorrowedFd::borrow_raw(held.fds[0]),
                        BorrowedFd::borrow_raw(held.fds[1]),
                    ]
                };
                let r = f(StepFds { fds, hint_key: None });
                drop(held);
                Ok(r.map(|(t, h)| Step::Moved(t, h)))
            }
            Guard::Dup { channels, fds } => {
                if !first
                    && (!channels[0].still_holds(e, &fds[0])? || !channels[1].still_holds(e, &fds[1])?)
                {
                    return Ok(Ok(Step::Closed));
                }
                let hint_key = match &fds[1] {
                    GuardedFd::Dup(_, own) => Some(*own),
                    GuardedFd::Borrowed(_) => None,
                };
                let r = f(StepFds {
                    fds: [fds[0].fd(), fds[1].fd()],
                    hint_key,
                });
                Ok(r.map(|(t, h)| Step::Moved(t, h)))
            }
        }
    }

    /// Waits for the other side (index 1) to be ready; `false` when this guard cannot wait
    /// (the close locks are never held across a wait, and without them the number is not ours).
    fn wait(&self, events: libc::c_short) -> Result<bool> {
        match self {
            Guard::Locked(_) => Ok(false),
            Guard::Dup { fds, .. } => wait_ready(fds[1].fd(), events).map(|()| true),
        }
    }

    fn release(self) {
        if let Guard::Dup { fds: [a, b], .. } = self {
            release_pair(a, b);
        }
    }
}

/// One Java transfer call: takes the guard of `channels` (the close locks when `lock`, see
/// [`Guard::new`]), runs the core calls until done, releases the guard and packs the outcome.
///
/// `step` makes one core call at `done` bytes of progress (`first` for the first one) and
/// returns nothing moved once its own checked count is reached; `per_call` is the most one core
/// call moves, so a shorter step that did not block means the source ended. `wait_events` is
/// what the other side is polled for.
#[allow(clippy::too_many_arguments)]
fn run(
    e: &mut Env<'_>,
    lock: bool,
    channels: [&Channel<'_, '_>; 2],
    op: &'static str,
    blocking: bool,
    wait_events: libc::c_short,
    per_call: u64,
    step: impl FnMut(StepFds<'_>, u64, bool) -> zcopy::Result<(Transfer, Option<usize>)>,
) -> Result<jlong> {
    let guard = Guard::new(e, lock, channels[0], channels[1], op)?;
    let result = run_steps(e, &guard, op, blocking, wait_events, per_call, step);
    guard.release();
    result.map(|o| pack(&o))
}

/// The loop of [`run`] (see the module docs).
fn run_steps(
    e: &mut Env<'_>,
    guard: &Guard<'_, '_, '_>,
    op: &'static str,
    blocking: bool,
    wait_events: libc::c_short,
    per_call: u64,
    mut step: impl FnMut(StepFds<'_>, u64, bool) -> zcopy::Result<(Transfer, Option<usize>)>,
) -> Result<Outcome> {
    let mut out = Outcome {
        syscalls: guard.overhead(),
        ..Outcome::default()
    };
    let mut first = true;
    loop {
        let done = out.bytes;
        let r = guard.step(e, op, first, |fds| step(fds, done, first))?;
        first = false;
        let (t, header_short) = match r {
            Ok(Step::Moved(t, h)) => (t, h),
            Ok(Step::Closed) if out.bytes == 0 => {
                return Err(Failure::Core(zcopy::Error::Closed {
                    op,
                    what: "descriptor",
                }))
            }
            Ok(Step::Closed) => break,
            Err(_) if out.bytes > 0 => break,
            Err(err) => return Err(err.into()),
        };
        out.bytes += t.bytes;
        out.syscalls += t.syscalls;
        out.would_block = t.would_block;
        if t.method != TransferMethod::None {
            out.method = Some(t.method);
        }
        if header_short.is_some() {
            out.header_short = header_short;
            break;
        }
        if !blocking {
            break;
        }
        if t.would_block {
            if !guard.wait(wait_events)? {
                break;
            }
            out.syscalls += 1;
        } else if t.bytes < per_call {
            break; // the source ended (or the file is shorter than asked): nothing more to move
        }
    }
    Ok(out)
}

/// A step that had nothing left to move.
fn nothing() -> Transfer {
    Transfer {
        bytes: 0,
        method: TransferMethod::None,
        would_block: false,
        syscalls: 0,
    }
}

/// A transfer's core call at `done` bytes of progress, by descriptors.
fn to_step(
    fds: StepFds<'_>,
    forced: Option<TransferMethod>,
    position: u64,
    count: u64,
    done: u64,
) -> zcopy::Result<Transfer> {
    let [s, t] = fds.fds;
    let pos = position.saturating_add(done);
    let left = count - done;
    match (forced, fds.hint_key) {
        (Some(m), _) => zcopy::transfer_to_using(m, s, pos, left, t),
        (None, Some(key)) => zcopy::transfer_to_keyed(s, pos, left, t, key),
        (None, None) => zcopy::transfer_to(s, pos, left, t),
    }
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
        const OP: &str = "transfer_to";
        let forced = forced_method(method)?;
        let src_ch = Channel::require(e, &src, "the source")?;
        let dst_ch = Channel::require(e, &target, "the target")?;
        let mut args = None;
        run(
            e,
            guard == GUARD_LOCK,
            [&src_ch, &dst_ch],
            OP,
            blocking,
            libc::POLLOUT,
            zcopy::MAX_DIRECT_TRANSFER,
            |fds, done, first| {
                if first {
                    args = Some(zcopy::check_transfer_to_args(
                        fds.fds[0], position, count, fds.fds[1],
                    )?);
                }
                let (position, count) = args.expect("checked in the first step");
                if !first && done >= count {
                    return Ok((nothing(), None));
                }
                to_step(fds, forced, position, count, done).map(|t| (t, None))
            },
        )
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
        const OP: &str = "transfer_to_with_header";
        let (mut scratch, mut spill) = ([0i8; HEADER_STACK], Vec::new());
        let header = header_bytes(e, &header, offset, length, &mut scratch, &mut spill)?;
        let src_ch = Channel::require(e, &src, "the source")?;
        let dst_ch = Channel::require(e, &target, "the target")?;
        let mut args = None;
        run(
            e,
            guard == GUARD_LOCK,
            [&src_ch, &dst_ch],
            OP,
            blocking,
            libc::POLLOUT,
            zcopy::MAX_DIRECT_TRANSFER,
            |fds, done, first| {
                let [s, t] = fds.fds;
                if first {
                    let (position, count) = zcopy::check_transfer_to_args(s, position, count, t)?;
                    args = Some((position, count));
                    let h = match fds.hint_key {
                        Some(key) => {
                            zcopy::transfer_to_with_header_keyed(s, position, count, t, header, key)?
                        }
                        None => zcopy::transfer_to_with_header(s, position, count, t, header)?,
                    };
                    let short = (h.header < header.len()).then_some(h.header);
                    return Ok((h.body, short));
                }
                let (position, count) = args.expect("checked in the first step");
                if done >= count {
                    return Ok((nothing(), None));
                }
                to_step(fds, None, position, count, done).map(|t| (t, None))
            },
        )
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
        const OP: &str = "transfer_from";
        let forced = forced_method(method)?;
        let dst_ch = Channel::require(e, &target, "the target")?;
        let src_ch = Channel::require(e, &src, "the source")?;
        let mut args = None;
        run(
            e,
            guard == GUARD_LOCK,
            [&dst_ch, &src_ch],
            OP,
            blocking,
            libc::POLLIN,
            u64::MAX,
            |fds, done, first| {
                let [t, s] = fds.fds;
                if first {
                    args = Some(zcopy::check_transfer_from_args(t, s, position, count)?);
                }
                let (position, count) = args.expect("checked in the first step");
                if !first && done >= count {
                    return Ok((nothing(), None));
                }
                let pos = position.saturating_add(done);
                let left = count - done;
                let r = match (forced, fds.hint_key) {
                    (Some(m), _) => zcopy::transfer_from_using(m, t, s, pos, left),
                    (None, Some(key)) => zcopy::transfer_from_keyed(t, s, pos, left, key),
                    (None, None) => zcopy::transfer_from(t, s, pos, left),
                };
                r.map(|t| (t, None))
            },
        )
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
        const OP: &str = "access_mode";
        let ch = Channel::require(e, &channel, "the channel")?;
        if let Some(bits) = with_locked(e, &ch, OP, |_, fd| access_bits(fd))? {
            return Ok(bits);
        }
        let fd = ch.guarded(e, OP)?;
        access_bits(fd.fd())
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
        const OP: &str = "is_regular_file";
        let ch = Channel::require(e, &channel, "the channel")?;
        if let Some(regular) = with_locked(e, &ch, OP, |_, fd| is_regular(fd))? {
            return Ok(regular);
        }
        let fd = ch.guarded(e, OP)?;
        is_regular(fd.fd())
    })
}

fn is_regular(fd: BorrowedFd<'_>) -> Result<bool> {
    zcopy::is_regular_file(fd).map_err(|source| Failure::Core(zcopy::Error::Io { op: "fstat", source }))
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

/// `Native.setDescriptorGuard(boolean)`: for the benchmark that measures the guards' cost only.
#[no_mangle]
pub extern "system" fn Java_io_zcopy_Native_setDescriptorGuard<'l>(
    mut env: EnvUnowned<'l>,
    _class: JClass<'l>,
    on: jboolean,
) {
    native!(env, |_e| {
        crate::channels::set_dup_guard(on);
        Ok(())
    })
}
