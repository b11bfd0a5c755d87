//! Natives behind `ZeroCopy.transferTo` / `transferFrom` for descriptor-backed channels.
//!
//! The core decides everything about one transfer (checks in the JDK's order, clamping, the
//! method chain, `EINTR`/`EAGAIN`); the bridge adds only what a Java call needs on top:
//! - descriptors read from the channel objects and guarded (see `channels.rs`);
//! - for a *blocking* Java channel, repeated core calls until `count` bytes moved or the source
//!   ended, so one call can move more than 0x7ffff000 bytes (the JDK stops there). A blocking
//!   channel whose descriptor is non-blocking underneath (the JDK does that for virtual
//!   threads) is waited for with `poll`;
//! - between those calls, a check that neither channel was closed meanwhile: the progress so
//!   far is returned, and a call that moved nothing reports the close (→
//!   `AsynchronousCloseException` in Java);
//! - an error after some progress returns the progress (the JDK's rule); the error shows again
//!   on the next call.
//!
//! The result is packed into one `long`: bytes in the low 58 bits, the [`TransferMethod`] code
//! in the top bits (Java caps `count` below 2^58).

use jni::objects::{JClass, JObject};
use jni::sys::{jboolean, jint, jlong};
use jni::EnvUnowned;
use zcopy::{Transfer, TransferMethod};

use crate::channels::{release_pair, Channel, GuardedFd};
use crate::errors::{native, Failure, Result};

const METHOD_SHIFT: u32 = 58;

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

fn pack(bytes: u64, method: TransferMethod) -> jlong {
    (bytes as i64) | (method_code(method) << METHOD_SHIFT)
}

/// Waits until `fd` is ready for `events`, retrying `EINTR`.
fn wait_ready(fd: &GuardedFd, events: libc::c_short) -> Result<()> {
    let mut pfd = libc::pollfd {
        fd: std::os::fd::AsRawFd::as_raw_fd(&fd.fd()),
        events,
        revents: 0,
    };
    loop {
        // SAFETY: `pfd` is one valid pollfd for the duration of the call.
        let rc = unsafe { libc::poll(&mut pfd, 1, -1) };
        if rc >= 0 {
            return Ok(());
        }
        let err = std::io::Error::last_os_error();
        if err.raw_os_error() != Some(libc::EINTR) {
            return Err(Failure::Core(zcopy::Error::Io {
                op: "poll",
                source: err,
            }));
        }
    }
}

/// One direction of a transfer, for the shared loop.
struct Side<'a, 'b, 'l> {
    file: &'a Channel<'b, 'l>,
    file_fd: &'a GuardedFd,
    other: &'a Channel<'b, 'l>,
    other_fd: &'a GuardedFd,
}

/// Runs `step` (one core call at `done` bytes of progress) until done, with the rules in the
/// module docs. `wait_events` is what to poll the non-file side for; `per_call` is the most one
/// core call moves, so a shorter step that did not block means the source ended.
fn run_loop(
    e: &mut jni::Env<'_>,
    side: Side<'_, '_, '_>,
    count: u64,
    blocking: bool,
    wait_events: libc::c_short,
    per_call: u64,
    mut step: impl FnMut(u64) -> zcopy::Result<Transfer>,
) -> Result<jlong> {
    let mut done = 0u64;
    let mut method = TransferMethod::None;
    loop {
        let asked = (count - done).min(per_call);
        let t = match step(done) {
            Ok(t) => t,
            Err(_) if done > 0 => break,
            Err(err) => return Err(err.into()),
        };
        done += t.bytes;
        if t.method != TransferMethod::None {
            method = t.method;
        }
        if !blocking || done >= count {
            break;
        }
        if t.would_block {
            wait_ready(side.other_fd, wait_events)?;
        } else if t.bytes < asked {
            break; // the source ended (or the file is shorter than asked): nothing more to move
        }
        if !side.file.still_holds(e, side.file_fd)? || !side.other.still_holds(e, side.other_fd)? {
            if done == 0 {
                return Err(Failure::Core(zcopy::Error::Closed {
                    op: "transfer",
                    what: "descriptor",
                }));
            }
            break;
        }
    }
    Ok(pack(done, method))
}

/// `Native.transferTo(FileChannel src, long position, long count, Channel target,
/// boolean blocking, int method)`.
#[no_mangle]
pub extern "system" fn Java_io_zcopy_Native_transferTo<'l>(
    mut env: EnvUnowned<'l>,
    _class: JClass<'l>,
    src: JObject<'l>,
    position: jlong,
    count: jlong,
    target: JObject<'l>,
    blocking: jboolean,
    method: jint,
) -> jlong {
    native!(env, |e| {
        let forced = forced_method(method)?;
        let src_ch = Channel::require(e, &src, "the source")?;
        let dst_ch = Channel::require(e, &target, "the target")?;
        let s = src_ch.guarded(e, "transfer_to")?;
        let t = dst_ch.guarded_above(e, "transfer_to", s.used() + 1)?;
        let (position, count) = zcopy::check_transfer_to_args(s.fd(), position, count, t.fd())?;
        let side = Side {
            file: &src_ch,
            file_fd: &s,
            other: &dst_ch,
            other_fd: &t,
        };
        let result = run_loop(
            e,
            side,
            count,
            blocking,
            libc::POLLOUT,
            zcopy::MAX_DIRECT_TRANSFER,
            |done| {
                let pos = position.saturating_add(done);
                let left = count - done;
                match forced {
                    None => zcopy::transfer_to(s.fd(), pos, left, t.fd()),
                    Some(m) => zcopy::transfer_to_using(m, s.fd(), pos, left, t.fd()),
                }
            },
        );
        release_pair(s, t);
        result
    })
}

/// `Native.transferFrom(FileChannel target, Channel src, long position, long count,
/// boolean blocking, int method)`.
#[no_mangle]
pub extern "system" fn Java_io_zcopy_Native_transferFrom<'l>(
    mut env: EnvUnowned<'l>,
    _class: JClass<'l>,
    target: JObject<'l>,
    src: JObject<'l>,
    position: jlong,
    count: jlong,
    blocking: jboolean,
    method: jint,
) -> jlong {
    native!(env, |e| {
        let forced = forced_method(method)?;
        let dst_ch = Channel::require(e, &target, "the target")?;
        let src_ch = Channel::require(e, &src, "the source")?;
        let t = dst_ch.guarded(e, "transfer_from")?;
        let s = src_ch.guarded_above(e, "transfer_from", t.used() + 1)?;
        let (position, count) = zcopy::check_transfer_from_args(t.fd(), s.fd(), position, count)?;
        let side = Side {
            file: &dst_ch,
            file_fd: &t,
            other: &src_ch,
            other_fd: &s,
        };
        let result = run_loop(e, side, count, blocking, libc::POLLIN, u64::MAX, |done| {
            let pos = position.saturating_add(done);
            let left = count - done;
            match forced {
                None => zcopy::transfer_from(t.fd(), s.fd(), pos, left),
                Some(m) => zcopy::transfer_from_using(m, t.fd(), s.fd(), pos, left),
            }
        });
        release_pair(t, s);
        result
    })
}

/// `Native.accessMode(Channel)`: 1 readable, 2 writable, 4 append, of the channel's descriptor
/// (`ClosedChannelException` when closed). Used by the Java fallback paths for the JDK's
/// readable/writable checks.
#[no_mangle]
pub extern "system" fn Java_io_zcopy_Native_accessMode<'l>(
    mut env: EnvUnowned<'l>,
    _class: JClass<'l>,
    channel: JObject<'l>,
) -> jint {
    native!(env, |e| {
        let ch = Channel::require(e, &channel, "the channel")?;
        let fd = ch.guarded(e, "access_mode")?;
        crate::channels::access_bits(fd.fd())
    })
}

/// `Native.setDescriptorGuard(boolean)`: for the benchmark that measures the guard's cost only.
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
