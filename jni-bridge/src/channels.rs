//! Descriptors of Java channels, read in native code, and the guard that keeps a transfer from
//! ever touching a descriptor number that another thread closed and the kernel reused.
//!
//! The JDK's channel classes (`sun.nio.ch.FileChannelImpl`, `SocketChannelImpl`,
//! `SinkChannelImpl`, `SourceChannelImpl`, `ServerSocketChannelImpl`, `DatagramChannelImpl`)
//! all keep a `private final FileDescriptor fd`, whose `private int fd` the JDK sets to -1
//! *before* it closes the number. JNI field access ignores module encapsulation, so no
//! `--add-opens` is needed. Class references and field IDs are looked up once, in
//! [`init`], so a JDK with another layout fails at load time with one clear message.
//!
//! # The descriptor guard (DESIGN-NOTES §7)
//!
//! A binding cannot join the JDK's own close protocol (its thread sets and close locks are
//! private). So every native operation works on a *duplicate* of the channel's descriptor,
//! obtained like this: read the number, `fcntl(F_DUPFD_CLOEXEC)`, read the number again. If
//! the field still holds the same number, the duplicate refers to the channel's own open file
//! (a close sets the field to -1 before releasing the number, and both `close` and `dup` take
//! the kernel's file-table lock, so a close that happened before our `dup` is visible to the
//! second read). The duplicate then keeps the file alive for the whole call: a concurrent
//! close can never make us write into a file that reused the number. Cost: two extra system
//! calls per channel per call, measured in the README.

use std::os::fd::{BorrowedFd, FromRawFd, IntoRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::OnceLock;

use jni::ids::JFieldID;
use jni::objects::{JClass, JObject};
use jni::refs::Global;
use jni::signature::{JavaType, Primitive};
use jni::strings::JNIString;
use jni::Env;

use crate::errors::{Failure, Result};

/// The JDK's descriptor-backed channel classes.
const CHANNEL_CLASSES: [&str; 6] = [
    "sun/nio/ch/FileChannelImpl",
    "sun/nio/ch/SocketChannelImpl",
    "sun/nio/ch/SinkChannelImpl",
    "sun/nio/ch/SourceChannelImpl",
    "sun/nio/ch/ServerSocketChannelImpl",
    "sun/nio/ch/DatagramChannelImpl",
];

struct ChannelClass {
    class: Global<JClass<'static>>,
    fd_field: JFieldID,
}

struct Ids {
    classes: Vec<ChannelClass>,
    /// `java.io.FileDescriptor.fd`
    fd_int: JFieldID,
}

static IDS: OnceLock<Ids> = OnceLock::new();

/// Whether operations duplicate descriptors (see the module docs). Only the benchmark that
/// measures the guard's cost turns it off.
static DUP_GUARD: AtomicBool = AtomicBool::new(true);

pub(crate) fn set_dup_guard(on: bool) {
    DUP_GUARD.store(on, Ordering::Relaxed);
}

/// Looks up the JDK classes and field IDs the bridge needs. Idempotent.
pub(crate) fn init(env: &mut Env<'_>) -> Result<()> {
    if IDS.get().is_some() {
        return Ok(());
    }
    let mut classes = Vec::new();
    for name in CHANNEL_CLASSES {
        let class = env
            .find_class(JNIString::new(name))
            .map_err(|e| missing(name, e))?;
        let fd_field = env
            .get_field_id(
                &class,
                JNIString::new("fd"),
                jni::jni_sig!("Ljava/io/FileDescriptor;"),
            )
            .map_err(|e| missing(&format!("{name}.fd"), e))?;
        let class = env.new_global_ref(&class)?;
        classes.push(ChannelClass { class, fd_field });
    }
    let fd_int = env
        .get_field_id(
            JNIString::new("java/io/FileDescriptor"),
            JNIString::new("fd"),
            jni::jni_sig!("I"),
        )
        .map_err(|e| missing("java.io.FileDescriptor.fd", e))?;
    // A concurrent init may have won the race; its IDs are the same.
    let _ = IDS.set(Ids { classes, fd_int });
    Ok(())
}

fn missing(what: &str, e: jni::errors::Error) -> Failure {
    Failure::Throw(
        "java/lang/UnsupportedOperationException",
        Some(format!(
            "zcopy: this JDK has no {what} ({e}); zcopy supports the OpenJDK 17..25 channel classes"
        )),
    )
}

fn ids() -> Result<&'static Ids> {
    IDS.get().ok_or(Failure::Throw(
        "java/lang/IllegalStateException",
        Some("zcopy: the native library was not initialised".into()),
    ))
}

/// A Java channel whose descriptor the bridge can read.
pub(crate) struct Channel<'a, 'l> {
    obj: &'a JObject<'l>,
    fd_field: JFieldID,
}

impl<'a, 'l> Channel<'a, 'l> {
    /// Recognises `obj` as one of the JDK's descriptor-backed channels; `None` for anything
    /// else (user-defined channels, wrappers), which the Java side handles itself.
    pub(crate) fn of(env: &mut Env<'_>, obj: &'a JObject<'l>) -> Result<Option<Channel<'a, 'l>>> {
        if obj.is_null() {
            return Err(Failure::Throw("java/lang/NullPointerException", None));
        }
        for c in &ids()?.classes {
            if env.is_instance_of(obj, &c.class)? {
                return Ok(Some(Channel {
                    obj,
                    fd_field: c.fd_field,
                }));
            }
        }
        Ok(None)
    }

    /// Like [`Channel::of`], but anything unknown is an `IllegalArgumentException`.
    pub(crate) fn require(env: &mut Env<'_>, obj: &'a JObject<'l>, what: &str) -> Result<Channel<'a, 'l>> {
        Channel::of(env, obj)?.ok_or_else(|| {
            Failure::Throw(
                "java/lang/IllegalArgumentException",
                Some(format!("{what} is not a descriptor-backed JDK channel")),
            )
        })
    }

    /// The descriptor number the channel holds now (-1 once closed).
    pub(crate) fn raw_fd(&self, env: &mut Env<'_>) -> Result<RawFd> {
        let ids = ids()?;
        // SAFETY: `obj` is non-null and an instance of the class `fd_field` was looked up in
        // (checked in `Channel::of`); the field's type is java.io.FileDescriptor.
        let fdo = unsafe { env.get_field_unchecked(self.obj, self.fd_field, JavaType::Object) }?.l()?;
        if fdo.is_null() {
            return Ok(-1);
        }
        // SAFETY: `fdo` is a non-null java.io.FileDescriptor and `fd_int` is its `int fd`.
        let fd =
            unsafe { env.get_field_unchecked(&fdo, ids.fd_int, JavaType::Primitive(Primitive::Int)) }?.i()?;
        env.delete_local_ref(fdo);
        Ok(fd)
    }

    /// A guarded descriptor for one operation (see the module docs).
    ///
    /// # Errors
    ///
    /// `Closed` (→ `ClosedChannelException`) when the channel is or becomes closed.
    pub(crate) fn guarded(&self, env: &mut Env<'_>, op: &'static str) -> Result<GuardedFd> {
        self.guarded_above(env, op, 0)
    }

    /// Like [`Channel::guarded`], with the duplicate's number at least `min` (the second
    /// descriptor of a transfer asks for the number after the first, so that [`release_pair`]
    /// can close both with one system call).
    pub(crate) fn guarded_above(&self, env: &mut Env<'_>, op: &'static str, min: RawFd) -> Result<GuardedFd> {
        let closed = || {
            Failure::Core(zcopy::Error::Closed {
                op,
                what: "descriptor",
            })
        };
        let raw = self.raw_fd(env)?;
        if raw < 0 {
            return Err(closed());
        }
        if !DUP_GUARD.load(Ordering::Relaxed) {
            return Ok(GuardedFd::Borrowed(raw));
        }
        // SAFETY: F_DUPFD_CLOEXEC takes an integer argument; a stale number fails with EBADF.
        let dup = unsafe { libc::fcntl(raw, libc::F_DUPFD_CLOEXEC, min.max(0)) };
        if dup < 0 {
            return Err(closed());
        }
        // SAFETY: fcntl returned a new descriptor that nothing else owns.
        let owned = unsafe { OwnedFd::from_raw_fd(dup) };
        if self.raw_fd(env)? != raw {
            return Err(closed());
        }
        Ok(GuardedFd::Dup(owned, raw))
    }

    /// Whether the channel still holds the number it held when `fd` was guarded.
    pub(crate) fn still_holds(&self, env: &mut Env<'_>, fd: &GuardedFd) -> Result<bool> {
        Ok(self.raw_fd(env)? == fd.number())
    }
}

/// A descriptor safe to use for the duration of one native call.
pub(crate) enum GuardedFd {
    /// A duplicate (closed on drop) and the channel's own number.
    Dup(OwnedFd, RawFd),
    /// The channel's number itself: only with the guard switched off, for measuring its cost.
    Borrowed(RawFd),
}

impl GuardedFd {
    pub(crate) fn fd(&self) -> BorrowedFd<'_> {
        match self {
            GuardedFd::Dup(owned, _) => std::os::fd::AsFd::as_fd(owned),
            // SAFETY: the unguarded mode is only used by the guard-cost benchmark, which keeps its
            // channels open for the whole call; the number is valid while they are.
            GuardedFd::Borrowed(raw) => unsafe { BorrowedFd::borrow_raw(*raw) },
        }
    }

    /// The number the operation uses (the duplicate's; the channel's own when unguarded).
    pub(crate) fn used(&self) -> RawFd {
        match self {
            GuardedFd::Dup(owned, _) => std::os::fd::AsRawFd::as_raw_fd(owned),
            GuardedFd::Borrowed(raw) => *raw,
        }
    }

    /// The channel's own descriptor number.
    pub(crate) fn number(&self) -> RawFd {
        match self {
            GuardedFd::Dup(_, raw) | GuardedFd::Borrowed(raw) => *raw,
        }
    }
}

/// Releases the two guarded descriptors of a transfer: one `close_range(2)` when the duplicates
/// are adjacent numbers (the usual case, as they are made one after the other), which saves a
/// system call per transfer; two `close`s otherwise.
pub(crate) fn release_pair(a: GuardedFd, b: GuardedFd) {
    let (GuardedFd::Dup(x, _), GuardedFd::Dup(y, _)) = (a, b) else {
        return; // anything owned was dropped (closed) with the pattern's temporaries
    };
    let (x, y) = (x.into_raw_fd(), y.into_raw_fd());
    let (lo, hi) = (x.min(y), x.max(y));
    if hi == lo + 1 {
        // SAFETY: `lo` and `hi` are our own duplicates, just taken out of their OwnedFds, and they
        // are adjacent, so the range holds no other descriptor.
        if unsafe { libc::close_range(lo as libc::c_uint, hi as libc::c_uint, 0) } == 0 {
            return;
        }
    }
    // SAFETY: as above: both numbers are ours alone and still open (close_range failed before
    // closing anything, or was not tried); the OwnedFds close them on drop.
    drop(unsafe { (OwnedFd::from_raw_fd(x), OwnedFd::from_raw_fd(y)) });
}

/// `F_GETFL` access bits of a guarded descriptor: 1 readable, 2 writable, 4 append.
pub(crate) fn access_bits(fd: BorrowedFd<'_>) -> Result<i32> {
    // SAFETY: F_GETFL takes no pointer argument.
    let flags = unsafe { libc::fcntl(std::os::fd::AsRawFd::as_raw_fd(&fd), libc::F_GETFL) };
    if flags < 0 {
        return Err(Failure::Core(zcopy::Error::Closed {
            op: "access_mode",
            what: "descriptor",
        }));
    }
    let mut bits = 0;
    match flags & libc::O_ACCMODE {
        libc::O_RDONLY => bits |= 1,
        libc::O_WRONLY => bits |= 2,
        libc::O_RDWR => bits |= 3,
        _ => {}
    }
    if flags & libc::O_APPEND != 0 {
        bits |= 4;
    }
    Ok(bits)
}
