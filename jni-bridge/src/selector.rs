//! Natives behind `io.zcopy.EpollSelector`: the core's [`Selector`] plus an event buffer.
//!
//! A selector handle is a `Box<SelectorHandle>` turned into a `long`; the Java side frees it
//! once, after every call using it returned (`HandleGuard`). Registrations carry a Java-chosen
//! token (a key id that is never reused), so events map back to keys without a descriptor
//! table and a stale event for a cancelled key is simply ignored.

use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, IntoRawFd, OwnedFd};
use std::sync::Mutex;
use std::time::Duration;

use jni::objects::{JIntArray, JLongArray, JObject};
use jni::sys::{jboolean, jint, jlong};
use zcopy::{Events, Interest, Mode, Selector, Token};

use crate::channels::Channel;
use crate::errors::{natives, Failure, Result};

struct SelectorHandle {
    selector: Selector,
    events: Mutex<Events>,
}

fn handle<'a>(h: jlong) -> Result<&'a SelectorHandle> {
    let ptr = h as *const SelectorHandle;
    if ptr.is_null() {
        return Err(Failure::Throw("java/nio/channels/ClosedSelectorException", None));
    }
    // SAFETY: non-null handles come from `selectorOpen` and the Java side frees each exactly
    // once, after every call that uses it returned.
    Ok(unsafe { &*ptr })
}

natives! {
    /// `Native.selectorOpen(int capacity)`.
    fn selector_open = "selectorOpen"(_e, capacity: jint) -> jlong {
        let capacity = usize::try_from(capacity).unwrap_or(1).max(1);
        let h = SelectorHandle {
            selector: Selector::new()?,
            events: Mutex::new(Events::with_capacity(capacity)),
        };
        Ok(Box::into_raw(Box::new(h)) as jlong)
    }

    /// `Native.selectorFree(long)`: closes the epoll descriptor.
    fn selector_free = "selectorFree"(_e, h: jlong) {
        let ptr = h as *mut SelectorHandle;
        if !ptr.is_null() {
            // SAFETY: the handle came from Box::into_raw in `selectorOpen`; Java frees it once.
            drop(unsafe { Box::from_raw(ptr) });
        }
        Ok(())
    }

    /// `Native.selectorClose(long)`: marks the selector closed and wakes a running select.
    fn selector_close = "selectorClose"(_e, h: jlong) {
        handle(h)?.selector.close();
        Ok(())
    }

    /// `Native.selectorWake(long)`.
    fn selector_wake = "selectorWake"(_e, h: jlong) {
        handle(h)?.selector.wake()?;
        Ok(())
    }

    /// `Native.selectorCtl(long h, SelectableChannel ch, int op, long token, int interest, int
    /// mode)`: op 0 = add, 1 = modify, 2 = delete.
    fn selector_ctl = "selectorCtl"(
        e,
        h: jlong,
        channel: JObject<'l>,
        op: jint,
        token: jlong,
        interest: jint,
        mode: jint,
    ) {
        let sel = &handle(h)?.selector;
        let ch = Channel::require(e, &channel, "the channel")?;
        let interest = Interest::from_bits(interest as u32)?;
        let mode = Mode::from_bits(mode as u32)?;
        let token = Token(token as u64);
        // epoll_ctl never blocks, so the channel's close lock can be held around it: the
        // registration is made on the channel's own number, which no close can release meanwhile.
        if crate::channels::close_locks_available() {
            return ch.with_fd(e, "register", |fd| ctl(sel, fd, op, token, interest, mode));
        }
        // No close lock in this JDK: the registration is made on the channel's own number
        // (epoll keys registrations by number and open file); the duplicate keeps the file alive
        // meanwhile, and the check after the call catches a number closed and reused during it.
        let dup = ch.duplicate("register")?;
        // SAFETY: `dup` keeps the open file alive; if the number was reused meanwhile, the check
        // below undoes what the call did.
        let own = unsafe { BorrowedFd::borrow_raw(dup.number) };
        ctl(sel, own, op, token, interest, mode)?;
        if op != 2 && !ch.still_holds(dup.number)? {
            let _ = sel.deregister(own);
            return Err(Failure::Core(zcopy::Error::closed_descriptor("register")));
        }
        Ok(())
    }

    /// `Native.selectorSelect(long h, long timeoutMillis, long[] tokens, int[] events)`: waits
    /// (`timeoutMillis` < 0: no limit; 0: poll) and writes up to `tokens.length` ready tokens
    /// and their raw epoll event bits. Returns how many, with [`WOKEN`] set when a poll (0)
    /// consumed a wake-up.
    fn selector_select = "selectorSelect"(
        e,
        h: jlong,
        timeout_millis: jlong,
        tokens: JLongArray<'l>,
        events: JIntArray<'l>,
    ) -> jint {
        let hd = handle(h)?;
        let mut buf = hd.events.lock().unwrap_or_else(|p| p.into_inner());
        let (n, woken) = match u64::try_from(timeout_millis) {
            Ok(0) => {
                let selected = hd.selector.select_once(&mut buf, Some(Duration::ZERO))?;
                (selected.events, selected.woken)
            }
            wait => (hd.selector.select(&mut buf, wait.ok().map(Duration::from_millis))?, false),
        };
        let n = n.min(tokens.len(e)?).min(events.len(e)?);
        let (toks, evs): (Vec<jlong>, Vec<jint>) =
            buf.iter().take(n).map(|ev| (ev.token().0 as jlong, ev.raw() as jint)).unzip();
        tokens.set_region(e, 0, &toks)?;
        events.set_region(e, 0, &evs)?;
        Ok(n as jint | if woken { WOKEN } else { 0 })
    }

    /// `Native.selectorDescriptor(long h)`: the epoll descriptor, which is readable while events
    /// are ready (or a wake-up is pending), for a poller to watch on a virtual thread's behalf.
    fn selector_descriptor = "selectorDescriptor"(_e, h: jlong) -> jint {
        Ok(handle(h)?.selector.as_raw_fd())
    }

    /// `Native.selectorArm(long h, Object channel, int fd, int interest, long token)`: a one-shot
    /// registration for a poller, on a duplicate of `channel`'s descriptor when `channel` is not
    /// null, else on `fd`. Returns the descriptor registered: the duplicate belongs to the caller
    /// from here on and goes with [`selectorDisarm`](selector_disarm).
    ///
    /// A duplicate, not the channel's own number: the registration lives while the thread waits,
    /// and the number could be closed and reused by another file meanwhile; the caller's own
    /// duplicate cannot, so the later `EPOLL_CTL_DEL` can only ever remove this registration.
    fn selector_arm = "selectorArm"(
        e, h: jlong, channel: JObject<'l>, fd: jint, interest: jint, token: jlong,
    ) -> jint {
        let sel = &handle(h)?.selector;
        let interest = Interest::from_bits(interest as u32)?;
        let owned = if channel.is_null() {
            None
        } else {
            Some(Channel::require(e, &channel, "the channel")?.duplicate("poll")?.fd)
        };
        let number = owned.as_ref().map_or(fd, |dup| dup.as_raw_fd());
        // SAFETY: `number` is the duplicate made above, or a descriptor the caller owns for the
        // registration's life (a selector's epoll descriptor, held by its handle guard).
        let borrowed = unsafe { BorrowedFd::borrow_raw(number) };
        sel.register(borrowed, Token(token as u64), interest, Mode::ONESHOT)?;
        Ok(owned.map_or(number, IntoRawFd::into_raw_fd))
    }

    /// `Native.selectorDisarm(long h, int fd, boolean close)`: ends a registration made by
    /// [`selectorArm`](selector_arm) (fired or not) and closes the duplicate when `close`.
    fn selector_disarm = "selectorDisarm"(_e, h: jlong, fd: jint, close: jboolean) {
        // SAFETY: the caller owns `fd` (its duplicate, or a descriptor held for the call); when
        // `close`, it hands it over here and never uses the number again.
        let owned = close.then(|| unsafe { OwnedFd::from_raw_fd(fd) });
        // SAFETY: as above: `fd` is open until `owned` drops, after the deregistration.
        let removed = handle(h)?.selector.deregister(unsafe { BorrowedFd::borrow_raw(fd) });
        drop(owned);
        match removed {
            Err(err) if err.raw_os_error() != Some(libc::ENOENT) => Err(err.into()),
            _ => Ok(()),
        }
    }
}

/// Bit 30 of `selectorSelect`'s result: the poll consumed a wake-up.
const WOKEN: jint = 1 << 30;

/// One `epoll_ctl`: op 0 = add, 1 = modify, 2 = delete (a registration already gone is fine).
fn ctl(
    sel: &Selector,
    fd: BorrowedFd<'_>,
    op: jint,
    token: Token,
    interest: Interest,
    mode: Mode,
) -> Result<()> {
    match op {
        0 => sel.register(fd, token, interest, mode)?,
        1 => sel.reregister(fd, token, interest, mode)?,
        _ => match sel.deregister(fd) {
            // Already gone (never added, or removed with interest 0): nothing to do.
            Err(err) if err.raw_os_error() == Some(libc::ENOENT) => {}
            other => other?,
        },
    }
    Ok(())
}
