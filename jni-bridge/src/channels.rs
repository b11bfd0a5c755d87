//! Descriptors of Java channels, read in native code, and the two guards that keep a native call
//! from ever touching a descriptor number that another thread closed and the kernel reused.
//!
//! The JDK's channel classes (`sun.nio.ch.FileChannelImpl`, `SocketChannelImpl`,
//! `SinkChannelImpl`, `SourceChannelImpl`, `ServerSocketChannelImpl`, `DatagramChannelImpl`)
//! all keep a `private final FileDescriptor fd`, whose `private int fd` the JDK sets to -1
//! *before* it closes the number. JNI field access ignores module encapsulation, so no
//! `--add-opens` is needed. Class references and field IDs are looked up once, in
//! [`init`], so a JDK with another layout fails at load time with one clear message.
//!
//! # The close-lock guard: no system call at all
//!
//! `AbstractInterruptibleChannel.close()` (JDK 8 to 25) runs `implCloseChannel`, which releases
//! the descriptor, inside `synchronized (closeLock)` after setting `closed`. Native code holding
//! that private monitor (JNI `MonitorEnter`, which ignores access control as field reads do)
//! and finding `closed == false` therefore owns a number that no `close()` can release until it
//! exits the monitor: a concurrent close waits for the system call, as the JDK's own close waits
//! for its threads in `NativeThreadSet.signalAndWait`. [`Channel::with_fd`] does this for one
//! channel and [`LockPair`] for two, with these rules:
//!
//! - only around system calls that cannot block indefinitely: the caller (the Java side) picks
//!   this guard only for regular files and for channels in non-blocking mode (and holds the
//!   selectable channel's `blockingLock()` meanwhile, so the mode cannot change under it);
//!   `epoll_ctl`, `fcntl`, `fstat` and `mmap` qualify on any descriptor;
//! - two channels are locked in the order of their descriptor numbers, and not at all when the
//!   numbers are equal. JDK close paths take a second channel's close lock only through
//!   `FileDescriptor.closeAll` (streams sharing one `FileDescriptor`, whose channels all hold one
//!   number), so every thread that holds one close lock and waits for another either stays on
//!   one number (a JDK close) or climbs strictly up (us): no cycle, no deadlock;
//! - no Java code runs and no other monitor is taken while the locks are held.
//!
//! The one close the lock cannot see is `FileInputStream.close()` racing the stream's first
//! `getChannel()` (the stream releases the number outside the channel's lock); the JDK's own
//! channel has the same window there.
//!
//! # The duplicate guard: blocking channels
//!
//! A system call that may block indefinitely (a blocking socket or pipe whose peer stopped
//! reading) must not hold the close lock: `close()` would hang with it. Those calls work on a
//! *duplicate* of the channel's descriptor, obtained like this: read the number,
//! `fcntl(F_DUPFD_CLOEXEC)`, then check that the channel is not closed and still holds that
//! number. If so, the duplicate refers to the channel's own open file: every close sets
//! `closed` before the number is released (files also set the descriptor field to -1 first;
//! sockets and pipes never reset it, so the field alone proves nothing for them), and both
//! `close` and `dup` take the kernel's file-table lock, so a close that released the number
//! before our `dup` is visible to the checks after it. The duplicate then
//! keeps the file alive for the whole call: a concurrent close can never make us write into a
//! file that reused the number. A transfer duplicates both channels at once with the core's
//! `DescriptorPair` (three system calls for the pair).

use std::os::fd::{AsFd, BorrowedFd, OwnedFd, RawFd};
use std::sync::OnceLock;

use jni::ids::JFieldID;
use jni::objects::{JClass, JObject};
use jni::refs::Global;
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
    /// `AbstractInterruptibleChannel.closeLock` and `.closed`: `None` on a JDK without them
    /// (then every operation takes the duplicate guard).
    close_lock: Option<(JFieldID, JFieldID)>,
}

static IDS: OnceLock<Ids> = OnceLock::new();

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
    let close_lock = close_lock_fields(env);
    // A concurrent init may have won the race; its IDs are the same.
    let _ = IDS.set(Ids {
        classes,
        fd_int,
        close_lock,
    });
    Ok(())
}

/// `AbstractInterruptibleChannel`'s `closeLock` and `closed`, if this JDK has them (8 to 25 do).
fn close_lock_fields(env: &mut Env<'_>) -> Option<(JFieldID, JFieldID)> {
    let class = JNIString::new("java/nio/channels/spi/AbstractInterruptibleChannel");
    let lock = env
        .get_field_id(
            &class,
            JNIString::new("closeLock"),
            jni::jni_sig!("Ljava/lang/Object;"),
        )
        .ok();
    let closed = env
        .get_field_id(&class, JNIString::new("closed"), jni::jni_sig!("Z"))
        .ok();
    if env.exception_check() {
        // A lookup failure left an error pending: the duplicate guard will do.
        env.exception_clear();
    }
    lock.zip(closed)
}

/// Whether this JDK's channels have the close lock the lock guard needs.
pub(crate) fn close_locks_available() -> bool {
    IDS.get().is_some_and(|ids| ids.close_lock.is_some())
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

/// Raw JNI calls for the per-call path. jni-rs checks for a pending exception before (and, for
/// object fields, after) every call, which triples the JNI calls of a 4 KiB transfer; none of
/// these can throw, and the bridge never calls them with an exception pending (every JNI call
/// that can throw is followed by `?`, which returns to Java at once).
mod raw {
    use jni::sys::{jclass, jfieldID, jobject, JNIEnv};

    /// # Safety
    ///
    /// `env` is the current thread's JNIEnv, `obj` a live non-null reference to an instance of
    /// the class `field` (an object field) belongs to, and no exception is pending.
    pub(super) unsafe fn object_field(env: *mut JNIEnv, obj: jobject, field: jfieldID) -> jobject {
        // SAFETY: the caller's contract is GetObjectField's.
        unsafe { ((**env).v1_1.GetObjectField)(env, obj, field) }
    }

    /// # Safety
    ///
    /// As [`object_field`], for an `int` field.
    pub(super) unsafe fn int_field(env: *mut JNIEnv, obj: jobject, field: jfieldID) -> i32 {
        // SAFETY: the caller's contract is GetIntField's.
        unsafe { ((**env).v1_1.GetIntField)(env, obj, field) }
    }

    /// # Safety
    ///
    /// As [`object_field`], for a `boolean` field.
    pub(super) unsafe fn boolean_field(env: *mut JNIEnv, obj: jobject, field: jfieldID) -> bool {
        // SAFETY: the caller's contract is GetBooleanField's.
        unsafe { ((**env).v1_1.GetBooleanField)(env, obj, field) }
    }

    /// # Safety
    ///
    /// `env` is the current thread's JNIEnv, `obj` and `class` live references (`obj` may be
    /// null), no exception is pending.
    pub(super) unsafe fn is_instance_of(env: *mut JNIEnv, obj: jobject, class: jclass) -> bool {
        // SAFETY: the caller's contract is IsInstanceOf's.
        unsafe { ((**env).v1_1.IsInstanceOf)(env, obj, class) }
    }
}

/// A Java channel whose descriptor the bridge can read.
pub(crate) struct Channel<'a, 'l> {
    env: *mut jni::sys::JNIEnv,
    obj: jni::sys::jobject,
    /// The channel's `java.io.FileDescriptor` (a final field, read once), a local reference of
    /// the running native call; null if the channel has none.
    fdo: jni::sys::jobject,
    _obj: std::marker::PhantomData<&'a JObject<'l>>,
}

impl<'a, 'l> Channel<'a, 'l> {
    /// Recognises `obj` as one of the JDK's descriptor-backed channels; `None` for anything
    /// else (user-defined channels, wrappers), which the Java side handles itself.
    pub(crate) fn of(env: &mut Env<'_>, obj: &'a JObject<'l>) -> Result<Option<Channel<'a, 'l>>> {
        if obj.is_null() {
            return Err(Failure::Throw("java/lang/NullPointerException", None));
        }
        let raw_env = env.get_raw();
        for c in &ids()?.classes {
            // SAFETY: we are in a native call on this thread with no exception pending; `obj`
            // is a live argument reference and `class` a global reference.
            if unsafe { raw::is_instance_of(raw_env, obj.as_raw(), c.class.as_raw()) } {
                // SAFETY: `obj` is an instance of `class`, whose `fd` field `fd_field` is.
                let fdo = unsafe { raw::object_field(raw_env, obj.as_raw(), c.fd_field.into_raw()) };
                return Ok(Some(Channel {
                    env: raw_env,
                    obj: obj.as_raw(),
                    fdo,
                    _obj: std::marker::PhantomData,
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

    /// The descriptor number the channel holds now (-1 once a file channel is closed; a closed
    /// socket or pipe keeps its old number, see [`Channel::still_holds`]).
    pub(crate) fn raw_fd(&self) -> Result<RawFd> {
        if self.fdo.is_null() {
            return Ok(-1);
        }
        let ids = ids()?;
        // SAFETY: `fdo` is a live, non-null java.io.FileDescriptor and `fd_int` its `int fd`.
        Ok(unsafe { raw::int_field(self.env, self.fdo, ids.fd_int.into_raw()) })
    }

    /// The channel's descriptor number, if the channel is open (`Closed` otherwise).
    pub(crate) fn open_number(&self, op: &'static str) -> Result<RawFd> {
        let raw = self.raw_fd()?;
        if raw < 0 || self.is_closed()? {
            return Err(closed(op));
        }
        Ok(raw)
    }

    /// A duplicate of the channel's descriptor for one operation that may wait (see the module
    /// docs): taken, then checked to still be the channel's own open file.
    ///
    /// # Errors
    ///
    /// `Closed` (→ `ClosedChannelException`) when the channel is or becomes closed.
    pub(crate) fn duplicate(&self, op: &'static str) -> Result<Duplicate> {
        let number = self.open_number(op)?;
        // A stale number fails with EBADF.
        let fd = zcopy::binding::duplicate_at_least(number, 0).map_err(|_| closed(op))?;
        if !self.still_holds(number)? {
            return Err(closed(op));
        }
        Ok(Duplicate { fd, number })
    }

    /// Whether the channel is still open on `number` (the number it held when it was guarded).
    ///
    /// Both are needed: files set the descriptor field to -1 before releasing the number, but
    /// sockets, pipes and datagram channels never do (`UnixDispatcher.close0`, JDK 17's
    /// `FileDispatcherImpl.close0`); every channel sets `closed` before it releases anything.
    pub(crate) fn still_holds(&self, number: RawFd) -> Result<bool> {
        Ok(!self.is_closed()? && self.raw_fd()? == number)
    }

    /// Runs `f` with the channel's descriptor for a system call that cannot block indefinitely:
    /// under the channel's close lock (no system call of our own), or on a duplicate where this
    /// JDK has no close lock.
    pub(crate) fn with_fd<T>(
        &self,
        env: &mut Env<'_>,
        op: &'static str,
        f: impl FnOnce(BorrowedFd<'_>) -> Result<T>,
    ) -> Result<T> {
        if let Some(lock) = self.close_lock()? {
            let fd = self.open_number(op)?;
            let _monitor = self.enter(env, lock, op)?;
            // SAFETY: the close lock is held and the channel is open, so the number stays the
            // channel's own open descriptor until `_monitor` is dropped, after `f` returns.
            return f(unsafe { BorrowedFd::borrow_raw(fd) });
        }
        f(self.duplicate(op)?.fd.as_fd())
    }

    /// The channel's `closeLock` object (a local reference of the running native call), or
    /// `None` when this JDK has none.
    fn close_lock(&self) -> Result<Option<jni::sys::jobject>> {
        let Some((lock, _)) = ids()?.close_lock else {
            return Ok(None);
        };
        // SAFETY: `obj` is a live instance of one of the JDK's channel classes, all of which
        // extend AbstractInterruptibleChannel, where `lock` (type Object) was looked up.
        let obj = unsafe { raw::object_field(self.env, self.obj, lock.into_raw()) };
        Ok((!obj.is_null()).then_some(obj))
    }

    /// Whether `close()` has begun (exact while holding the close lock).
    fn is_closed(&self) -> Result<bool> {
        let Some((_, closed)) = ids()?.close_lock else {
            return Ok(false);
        };
        // SAFETY: as in `close_lock`; `closed` is the class's boolean field.
        Ok(unsafe { raw::boolean_field(self.env, self.obj, closed.into_raw()) })
    }

    /// Enters `lock` (this channel's close lock) and checks that the channel is open, so that
    /// its descriptor number (read before, from a field that only a close changes) cannot be
    /// released while the returned monitor is held.
    fn enter(&self, env: &mut Env<'_>, lock: jni::sys::jobject, op: &'static str) -> Result<Monitor> {
        let monitor = Monitor::enter(env, lock)?;
        if self.is_closed()? {
            return Err(closed(op));
        }
        Ok(monitor)
    }
}

fn closed(op: &'static str) -> Failure {
    Failure::Core(zcopy::Error::closed_descriptor(op))
}

/// A duplicate of a channel's descriptor (closed on drop) and the channel's own number.
pub(crate) struct Duplicate {
    pub(crate) fd: OwnedFd,
    pub(crate) number: RawFd,
}

/// A Java object's monitor, entered with JNI `MonitorEnter` and exited on drop. Not `Send`:
/// a monitor belongs to the thread that entered it.
pub(crate) struct Monitor {
    env: *mut jni::sys::JNIEnv,
    obj: jni::sys::jobject,
}

impl Monitor {
    /// Enters `obj`'s monitor, waiting for another owner to leave it. `obj` must stay a valid
    /// reference until the monitor is dropped (a local reference of the running native call).
    fn enter(env: &Env<'_>, obj: jni::sys::jobject) -> Result<Monitor> {
        let raw = env.get_raw();
        // SAFETY: `raw` is this thread's valid JNIEnv and `obj` a live, non-null reference;
        // MonitorEnter has no other precondition (no exception is pending, see `raw`).
        let rc = unsafe { ((**raw).v1_1.MonitorEnter)(raw, obj) };
        if rc != 0 {
            return Err(Failure::Throw(
                "java/lang/IllegalStateException",
                Some(format!("zcopy: MonitorEnter failed ({rc})")),
            ));
        }
        Ok(Monitor { env: raw, obj })
    }
}

impl Drop for Monitor {
    fn drop(&mut self) {
        // SAFETY: this thread entered the monitor of `obj` (a reference that lives until the
        // native call returns) through the same JNIEnv; MonitorExit may be called with an
        // exception pending. It cannot fail for the owner, so its result is not looked at.
        unsafe {
            ((**self.env).v1_1.MonitorExit)(self.env, self.obj);
        }
    }
}

/// The close locks of a transfer's two channels, taken in descriptor-number order (see the
/// module docs) for each system call of the transfer.
pub(crate) struct LockPair<'a, 'b, 'l> {
    /// The two channels, in the order the caller checks them (the file channel first).
    channels: [&'a Channel<'b, 'l>; 2],
    locks: [jni::sys::jobject; 2],
    /// Their descriptor numbers, read before locking (only a close changes them).
    fds: [RawFd; 2],
}

/// Both close locks held: the channels' numbers cannot be released while this value lives.
pub(crate) struct PairHeld {
    // Dropped in this order: the monitor entered last is exited first.
    _inner: Monitor,
    _outer: Monitor,
    pub(crate) fds: [RawFd; 2],
}

impl<'a, 'b, 'l> LockPair<'a, 'b, 'l> {
    /// Prepares to lock `a` and `b`; `None` when the close-lock guard cannot serve them (no
    /// close lock in this JDK, guards switched off, or both channels on one descriptor number).
    ///
    /// # Errors
    ///
    /// `Closed` when either channel has no descriptor any more.
    pub(crate) fn new(
        a: &'a Channel<'b, 'l>,
        b: &'a Channel<'b, 'l>,
        op: &'static str,
    ) -> Result<Option<LockPair<'a, 'b, 'l>>> {
        let (Some(la), Some(lb)) = (a.close_lock()?, b.close_lock()?) else {
            return Ok(None);
        };
        let (na, nb) = (a.raw_fd()?, b.raw_fd()?);
        if na < 0 || nb < 0 {
            return Err(closed(op));
        }
        if na == nb {
            return Ok(None);
        }
        Ok(Some(LockPair {
            channels: [a, b],
            locks: [la, lb],
            fds: [na, nb],
        }))
    }

    /// Enters both close locks (lower descriptor number first) and checks that both channels
    /// are open; `Closed` otherwise.
    pub(crate) fn enter(&self, env: &mut Env<'_>, op: &'static str) -> Result<PairHeld> {
        let (first, second) = if self.fds[1] < self.fds[0] { (1, 0) } else { (0, 1) };
        let outer = self.channels[first].enter(env, self.locks[first], op)?;
        let inner = self.channels[second].enter(env, self.locks[second], op)?;
        Ok(PairHeld {
            _inner: inner,
            _outer: outer,
            fds: self.fds,
        })
    }
}
