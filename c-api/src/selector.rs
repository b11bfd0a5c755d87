//! `zc_selector`: an epoll selector with a built-in waker.

use std::cell::RefCell;
use std::os::fd::BorrowedFd;
use std::os::raw::c_int;
use std::time::Duration;

use zcopy::{Event, Events, Interest, Mode, Selector, Token};

use crate::boundary::{c_fd, ffi_boundary, ffi_value, store, Failure};
use crate::error::zc_result;
use crate::handle::{to_ptr, HandleTable};

/// An epoll selector with a built-in waker, created by `zc_selector_new`.
///
/// Opaque: pointers to it are handles, not addresses. The caller owns each selector it receives
/// and must call `zc_selector_free` exactly once.
///
/// Thread safety: every function may be called on the same selector from several threads at
/// once (register from one thread while another is in `zc_selector_select`, wake from any
/// thread); `zc_selector_free` must be the last call.
pub struct zc_selector {
    _private: [u8; 0],
}

static SELECTORS: HandleTable<Selector> = HandleTable::new(0xA2, "selector");

/// Interest: readable, including the peer's shutdown of its writing side (`EPOLLIN |
/// EPOLLRDHUP`).
pub const ZC_INTEREST_READABLE: u32 = 1;
/// Interest: writable (`EPOLLOUT`).
pub const ZC_INTEREST_WRITABLE: u32 = 2;
/// Interest: urgent data (`EPOLLPRI`).
pub const ZC_INTEREST_PRIORITY: u32 = 4;

/// Mode: level-triggered, reported as long as the descriptor is ready (the default, 0).
pub const ZC_MODE_LEVEL: u32 = 0;
/// Mode: edge-triggered (`EPOLLET`), reported when readiness changes; read or write until
/// `EAGAIN` / `would_block` before waiting again.
pub const ZC_MODE_EDGE: u32 = 1;
/// Mode: one-shot (`EPOLLONESHOT`), reported once, then disabled until `zc_selector_modify`.
pub const ZC_MODE_ONESHOT: u32 = 2;
/// Mode: exclusive wake-up (`EPOLLEXCLUSIVE`, Linux 4.5); registration only.
pub const ZC_MODE_EXCLUSIVE: u32 = 4;

/// Event flag: readable (or the peer shut down writing: a read returns 0).
pub const ZC_EVENT_READABLE: u32 = 1;
/// Event flag: writable.
pub const ZC_EVENT_WRITABLE: u32 = 2;
/// Event flag: an error is pending (`EPOLLERR`).
pub const ZC_EVENT_ERROR: u32 = 4;
/// Event flag: the reading side is closed (hang-up, or readable with the peer's shutdown).
pub const ZC_EVENT_READ_CLOSED: u32 = 8;
/// Event flag: the writing side is closed (hang-up, or an error).
pub const ZC_EVENT_WRITE_CLOSED: u32 = 16;
/// Event flag: urgent data (`EPOLLPRI`).
pub const ZC_EVENT_PRIORITY: u32 = 32;

/// The token reserved for the selector's own waker; registrations may not use it.
pub const ZC_TOKEN_WAKER: u64 = u64::MAX;

/// The most events one `zc_selector_select` call returns, whatever the capacity passed.
pub const ZC_SELECT_MAX_EVENTS: usize = 65536;

/// One readiness event, written by `zc_selector_select` into the caller's array. Plain data.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct zc_event {
    /// The token given at registration.
    pub token: u64,
    /// `ZC_EVENT_*` flags.
    pub flags: u32,
    /// The raw `EPOLL*` bits, for callers who want them.
    pub events: u32,
}

thread_local! {
    /// Each thread's event buffer, reused by every select on that thread (no allocation per call,
    /// no lock between threads selecting on the same selector).
    static EVENTS: RefCell<Events> = RefCell::new(Events::with_capacity(64));
}

/// Creates a selector (`epoll_create1(EPOLL_CLOEXEC)` plus an eventfd waker) and stores it in
/// `*out`.
///
/// Ownership: on `ZC_OK` the caller owns `*out` and must call `zc_selector_free` exactly once.
///
/// # Errors
///
/// `ZC_ERR_IO` (`EMFILE`, `ENOMEM`), `ZC_ERR_NULL_PARAM`.
///
/// # Safety
///
/// - `out` must point to a writable `zc_selector *`.
#[must_use]
#[no_mangle]
pub unsafe extern "C" fn zc_selector_new(out: *mut *mut zc_selector) -> zc_result {
    ffi_boundary!("zc_selector_new", {
        // SAFETY: the caller vouches that `out` is NULL or writable.
        unsafe { store(out, "out", || SELECTORS.insert(Selector::new()?).map(to_ptr)) }
    })
}

/// The body of `zc_selector_register` and `zc_selector_modify`: the C bits checked, then `watch`
/// (`Selector::register` or `Selector::reregister`) run on the selector.
fn watch(
    selector: *const zc_selector,
    fd: c_int,
    token: u64,
    bits: (u32, u32),
    watch: fn(&Selector, BorrowedFd<'_>, Token, Interest, Mode) -> zcopy::Result<()>,
) -> Result<(), Failure> {
    let s = SELECTORS.get(selector)?;
    let (interest, mode) = (Interest::from_bits(bits.0)?, Mode::from_bits(bits.1)?);
    Ok(watch(&s, c_fd(fd), Token(token), interest, mode)?)
}

/// Starts watching `fd` (a socket, pipe, eventfd, ...; not a regular file) for `interest`
/// (`ZC_INTEREST_*` bits) in `mode` (`ZC_MODE_*` bits); its events carry `token`.
///
/// The descriptor stays the caller's. Close it only after `zc_selector_deregister` (epoll keeps
/// watching an open file description until every duplicate of the descriptor is closed).
///
/// # Errors
///
/// `ZC_ERR_CLOSED` (selector closed, or `fd` not open); `ZC_ERR_INVALID_ARG` (`ZC_TOKEN_WAKER`,
/// unknown bits, `ZC_MODE_EXCLUSIVE` with `ZC_INTEREST_PRIORITY`); `ZC_ERR_IO` with `EEXIST`
/// (already registered) or `EPERM` (a regular file); `ZC_ERR_BAD_HANDLE`.
#[must_use]
#[no_mangle]
pub extern "C" fn zc_selector_register(
    selector: *const zc_selector,
    fd: c_int,
    token: u64,
    interest: u32,
    mode: u32,
) -> zc_result {
    ffi_boundary!("zc_selector_register", {
        watch(selector, fd, token, (interest, mode), Selector::register)
    })
}

/// Changes the token, interest or mode of a registered `fd`, and re-arms a one-shot one.
///
/// # Errors
///
/// As `zc_selector_register`; `ZC_ERR_INVALID_ARG` for `ZC_MODE_EXCLUSIVE`; `ZC_ERR_IO` with
/// `ENOENT` when `fd` is not registered.
#[must_use]
#[no_mangle]
pub extern "C" fn zc_selector_modify(
    selector: *const zc_selector,
    fd: c_int,
    token: u64,
    interest: u32,
    mode: u32,
) -> zc_result {
    ffi_boundary!("zc_selector_modify", {
        watch(selector, fd, token, (interest, mode), Selector::reregister)
    })
}

/// Stops watching `fd`.
///
/// # Errors
///
/// `ZC_ERR_CLOSED` (selector closed, or `fd` already closed: the kernel forgot it then, unless
/// it was duplicated); `ZC_ERR_IO` with `ENOENT` when not registered; `ZC_ERR_BAD_HANDLE`.
#[no_mangle]
pub extern "C" fn zc_selector_deregister(selector: *const zc_selector, fd: c_int) -> zc_result {
    ffi_boundary!("zc_selector_deregister", {
        Ok(SELECTORS.get(selector)?.deregister(c_fd(fd))?)
    })
}

/// Waits until a registered descriptor is ready, `zc_selector_wake` is called, the selector is
/// closed, or `timeout_ms` milliseconds pass (negative: no limit; 0: just poll). Writes at most
/// `capacity` events (and at most `ZC_SELECT_MAX_EVENTS`) into `events` and their number into
/// `*out_n`: 0 after a wake-up or a timeout. `EINTR` is retried with the time that remains.
///
/// Several threads may select on one selector at once; events are spread between them.
///
/// # Errors
///
/// `ZC_ERR_CLOSED` when the selector was closed before the call (one closed during the wait
/// returns `ZC_OK` with 0 events, as Java's `Selector` does); `ZC_ERR_INVALID_ARG` for a
/// capacity of 0; `ZC_ERR_IO`; `ZC_ERR_BAD_HANDLE`, `ZC_ERR_NULL_PARAM`.
///
/// # Safety
///
/// - `events` must point to `capacity` writable `zc_event`s; `out_n` to a writable `size_t`.
#[must_use]
#[no_mangle]
pub unsafe extern "C" fn zc_selector_select(
    selector: *const zc_selector,
    events: *mut zc_event,
    capacity: usize,
    timeout_ms: c_int,
    out_n: *mut usize,
) -> zc_result {
    ffi_boundary!("zc_selector_select", {
        // SAFETY: the caller vouches that `out_n` is NULL or writable, and for the events.
        unsafe { store(out_n, "out_n", || select(selector, events, capacity, timeout_ms)) }
    })
}

/// The body of `zc_selector_select`, once `out_n` is known to be writable: the number of events
/// written.
///
/// # Safety
///
/// - `events` must be NULL or point to `capacity` writable `zc_event`s.
unsafe fn select(
    selector: *const zc_selector,
    events: *mut zc_event,
    capacity: usize,
    timeout_ms: c_int,
) -> Result<usize, Failure> {
    if events.is_null() {
        return Err(Failure::Null { param: "events" });
    }
    if capacity == 0 {
        return Err(crate::boundary::invalid("select", "capacity is 0"));
    }
    let s = SELECTORS.get(selector)?;
    let capacity = capacity.min(ZC_SELECT_MAX_EVENTS);
    let timeout = u64::try_from(timeout_ms).ok().map(Duration::from_millis);
    EVENTS.with(|cell| {
        let mut buf = cell.borrow_mut();
        if buf.capacity() != capacity {
            *buf = Events::with_capacity(capacity);
        }
        s.select(&mut buf, timeout)?;
        // SAFETY: the caller vouches for `capacity` writable events at `events`; the core
        // returns at most the buffer's capacity, which is `capacity` (or less).
        let dst = unsafe { std::slice::from_raw_parts_mut(events, capacity) };
        let mut n = 0;
        for (slot, e) in dst.iter_mut().zip(buf.iter()) {
            *slot = c_event(e);
            n += 1;
        }
        Ok(n)
    })
}

/// A core event as C sees it: the `ZC_EVENT_*` flags and the raw epoll bits.
fn c_event(e: Event) -> zc_event {
    let mut flags = 0;
    for (yes, bit) in [
        (e.is_readable(), ZC_EVENT_READABLE),
        (e.is_writable(), ZC_EVENT_WRITABLE),
        (e.is_error(), ZC_EVENT_ERROR),
        (e.is_read_closed(), ZC_EVENT_READ_CLOSED),
        (e.is_write_closed(), ZC_EVENT_WRITE_CLOSED),
        (e.is_priority(), ZC_EVENT_PRIORITY),
    ] {
        if yes {
            flags |= bit;
        }
    }
    zc_event {
        token: e.token().0,
        flags,
        events: e.raw(),
    }
}

/// Makes the current (or, if none runs, the next) `zc_selector_select` return at once with 0
/// events. Callable from any thread, and from a signal handler's thread; wake-ups coalesce.
///
/// # Errors
///
/// `ZC_ERR_IO`, `ZC_ERR_BAD_HANDLE`.
#[no_mangle]
pub extern "C" fn zc_selector_wake(selector: *const zc_selector) -> zc_result {
    ffi_boundary!("zc_selector_wake", { Ok(SELECTORS.get(selector)?.wake()?) })
}

/// Closes the selector: a running `zc_selector_select` returns, later calls (except
/// `zc_selector_is_open` and `zc_selector_free`) return `ZC_ERR_CLOSED`. The epoll descriptor is
/// released by `zc_selector_free`, so a select still running never sees its number reused.
/// Idempotent.
///
/// Ownership: the caller still owns the handle and must still call `zc_selector_free`.
///
/// # Errors
///
/// `ZC_ERR_BAD_HANDLE`, `ZC_ERR_NULL_PARAM`.
#[no_mangle]
pub extern "C" fn zc_selector_close(selector: *mut zc_selector) -> zc_result {
    ffi_boundary!("zc_selector_close", {
        SELECTORS.get(selector)?.close();
        Ok(())
    })
}

/// Whether the selector is open (not yet `zc_selector_close`d). False for a NULL or dead handle.
#[no_mangle]
pub extern "C" fn zc_selector_is_open(selector: *const zc_selector) -> bool {
    ffi_value!("zc_selector_is_open", false, {
        Ok(SELECTORS.get(selector)?.is_open())
    })
}

/// Stores the selector's epoll descriptor in `*out`, to nest the selector in another event loop
/// (it is readable when an event is pending).
///
/// Borrowed: the descriptor belongs to the selector; never close it; valid until
/// `zc_selector_free`.
///
/// # Errors
///
/// `ZC_ERR_BAD_HANDLE`, `ZC_ERR_NULL_PARAM`.
///
/// # Safety
///
/// - `out` must point to a writable `int`.
#[must_use]
#[no_mangle]
pub unsafe extern "C" fn zc_selector_fd(selector: *const zc_selector, out: *mut c_int) -> zc_result {
    ffi_boundary!("zc_selector_fd", {
        // SAFETY: the caller vouches that `out` is NULL or writable.
        unsafe { store(out, "out", || Ok(SELECTORS.get(selector)?.as_raw_fd())) }
    })
}

/// Frees the selector: closes it (waking a running select) and releases its descriptors once no
/// call uses it any more. Call it exactly once per selector; NULL is accepted and ignored.
///
/// # Errors
///
/// `ZC_ERR_BAD_HANDLE` for a handle already freed (a double free is detected and refused) or
/// never returned by zcopy.
#[no_mangle]
pub extern "C" fn zc_selector_free(selector: *mut zc_selector) -> zc_result {
    ffi_boundary!("zc_selector_free", {
        if let Some(s) = SELECTORS.free(selector)? {
            s.close();
            // The descriptors close here, or when a select still running on another thread
            // returns.
            drop(s);
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bits_agree_with_the_core() {
        assert_eq!(ZC_INTEREST_READABLE, Interest::READABLE.bits());
        assert_eq!(ZC_INTEREST_WRITABLE, Interest::WRITABLE.bits());
        assert_eq!(ZC_INTEREST_PRIORITY, Interest::PRIORITY.bits());
        assert_eq!(ZC_MODE_LEVEL, Mode::LEVEL.bits());
        assert_eq!(ZC_MODE_EDGE, Mode::EDGE.bits());
        assert_eq!(ZC_MODE_ONESHOT, Mode::ONESHOT.bits());
        assert_eq!(ZC_MODE_EXCLUSIVE, Mode::EXCLUSIVE.bits());
        assert_eq!(ZC_TOKEN_WAKER, Token::WAKER.0);
    }
}
