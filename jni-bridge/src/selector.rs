//! Natives behind `io.zcopy.EpollSelector`: the core's [`Selector`] plus an event buffer.
//!
//! A selector handle is a `Box<SelectorHandle>` turned into a `long`; the Java side frees it
//! once, after every call using it returned (`HandleGuard`). Registrations carry a Java-chosen
//! token (a key id that is never reused), so events map back to keys without a descriptor
//! table and a stale event for a cancelled key is simply ignored.

use std::os::fd::BorrowedFd;
use std::sync::Mutex;
use std::time::Duration;

use jni::objects::{JIntArray, JLongArray, JObject};
use jni::sys::{jint, jlong};
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
    /// and their raw epoll event bits. Returns how many.
    fn selector_select = "selectorSelect"(
        e,
        h: jlong,
        timeout_millis: jlong,
        tokens: JLongArray<'l>,
        events: JIntArray<'l>,
    ) -> jint {
        let hd = handle(h)?;
        let timeout = u64::try_from(timeout_millis).ok().map(Duration::from_millis);
        let mut buf = hd.events.lock().unwrap_or_else(|p| p.into_inner());
        let n = hd.selector.select(&mut buf, timeout)?;
        let n = n.min(tokens.len(e)?).min(events.len(e)?);
        let (toks, evs): (Vec<jlong>, Vec<jint>) =
            buf.iter().take(n).map(|ev| (ev.token().0 as jlong, ev.raw() as jint)).unzip();
        tokens.set_region(e, 0, &toks)?;
        events.set_region(e, 0, &evs)?;
        Ok(n as jint)
    }
}

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
