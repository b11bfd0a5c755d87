//! An epoll selector: readiness of many descriptors in O(ready) per call.
//!
//! Descriptors are registered with a [`Token`] (kept in `epoll_event.data`, so no descriptor →
//! state map is needed), an [`Interest`] and a [`Mode`]: level-triggered by default,
//! edge-triggered, one-shot and exclusive on request. [`Selector::select`] rounds timeouts up to
//! the next millisecond (a sub-millisecond timeout never becomes a busy loop) and retries `EINTR`
//! against the remaining time. [`Selector::wake`] interrupts a `select` from any thread.
//!
//! # epoll pitfalls worth knowing
//!
//! - Interest is kept per open file description: a descriptor that was `dup`ed keeps delivering
//!   events after the registered number is closed, until every copy is closed.
//! - Edge-triggered registrations report changes only: read or write until `EAGAIN` before
//!   waiting again, or the descriptor may never be reported again.
//! - Events can be spurious: a readable descriptor may have nothing to read by the time you do.
//! - [`Mode::EXCLUSIVE`] (Linux 4.5) is only allowed at registration, not in
//!   [`Selector::reregister`].

use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::sys::epoll;
use crate::{Error, Resource, Result};

/// The value a registration carries back in its events.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Token(pub u64);

impl Token {
    /// Reserved for the selector's own waker; registrations may not use it.
    pub const WAKER: Token = Token(u64::MAX);
}

/// Which readiness to watch.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Interest(u32);

impl Interest {
    /// Nothing but errors and hang-ups (which epoll always reports).
    pub const NONE: Interest = Interest(0);
    /// Readable, including the peer's shutdown of its writing side (`EPOLLIN | EPOLLRDHUP`).
    pub const READABLE: Interest = Interest(1);
    /// Writable (`EPOLLOUT`).
    pub const WRITABLE: Interest = Interest(2);
    /// Urgent data (`EPOLLPRI`).
    pub const PRIORITY: Interest = Interest(4);

    /// Interest from its bits (1 = readable, 2 = writable, 4 = priority).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] for other bits.
    pub fn from_bits(bits: u32) -> Result<Interest> {
        if bits & !7 != 0 {
            return Err(Error::invalid(
                "register",
                format!("unknown interest bits {bits:#x}"),
            ));
        }
        Ok(Interest(bits))
    }

    /// The bits.
    pub fn bits(self) -> u32 {
        self.0
    }

    /// Whether readable is asked for.
    pub fn is_readable(self) -> bool {
        self.0 & 1 != 0
    }

    /// Whether writable is asked for.
    pub fn is_writable(self) -> bool {
        self.0 & 2 != 0
    }

    fn epoll(self) -> u32 {
        let mut ev = 0u32;
        if self.is_readable() {
            ev |= (libc::EPOLLIN | libc::EPOLLRDHUP) as u32;
        }
        if self.is_writable() {
            ev |= libc::EPOLLOUT as u32;
        }
        if self.0 & 4 != 0 {
            ev |= libc::EPOLLPRI as u32;
        }
        ev
    }
}

impl std::ops::BitOr for Interest {
    type Output = Interest;
    fn bitor(self, rhs: Interest) -> Interest {
        Interest(self.0 | rhs.0)
    }
}

/// How readiness is reported.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct Mode(u32);

impl Mode {
    /// Level-triggered: reported as long as the descriptor is ready. The default.
    pub const LEVEL: Mode = Mode(0);
    /// Edge-triggered (`EPOLLET`): reported when readiness changes.
    pub const EDGE: Mode = Mode(1);
    /// One-shot (`EPOLLONESHOT`): reported once, then disabled until
    /// [`Selector::reregister`].
    pub const ONESHOT: Mode = Mode(2);
    /// Exclusive wake-up (`EPOLLEXCLUSIVE`, Linux 4.5): with several selectors watching one
    /// descriptor, wake only one. Registration only.
    pub const EXCLUSIVE: Mode = Mode(4);

    /// Mode from its bits (1 = edge, 2 = one-shot, 4 = exclusive).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] for other bits.
    pub fn from_bits(bits: u32) -> Result<Mode> {
        if bits & !7 != 0 {
            return Err(Error::invalid("register", format!("unknown mode bits {bits:#x}")));
        }
        Ok(Mode(bits))
    }

    /// The bits.
    pub fn bits(self) -> u32 {
        self.0
    }

    fn epoll(self) -> u32 {
        let mut ev = 0u32;
        if self.0 & 1 != 0 {
            ev |= libc::EPOLLET as u32;
        }
        if self.0 & 2 != 0 {
            ev |= libc::EPOLLONESHOT as u32;
        }
        if self.0 & 4 != 0 {
            ev |= libc::EPOLLEXCLUSIVE as u32;
        }
        ev
    }
}

impl std::ops::BitOr for Mode {
    type Output = Mode;
    fn bitor(self, rhs: Mode) -> Mode {
        Mode(self.0 | rhs.0)
    }
}

/// One readiness event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Event {
    token: Token,
    events: u32,
}

impl Event {
    fn has(&self, flag: i32) -> bool {
        self.events & flag as u32 != 0
    }

    /// The registration's token.
    pub fn token(&self) -> Token {
        self.token
    }

    /// Readable (or the peer shut down writing: a read returns 0).
    pub fn is_readable(&self) -> bool {
        self.has(libc::EPOLLIN) || self.has(libc::EPOLLRDHUP) || self.has(libc::EPOLLHUP)
    }

    /// Writable.
    pub fn is_writable(&self) -> bool {
        self.has(libc::EPOLLOUT)
    }

    /// An error is pending (`EPOLLERR`).
    pub fn is_error(&self) -> bool {
        self.has(libc::EPOLLERR)
    }

    /// Urgent data (`EPOLLPRI`).
    pub fn is_priority(&self) -> bool {
        self.has(libc::EPOLLPRI)
    }

    /// The reading side is closed: hang-up, or readable with the peer's shutdown.
    pub fn is_read_closed(&self) -> bool {
        self.has(libc::EPOLLHUP) || (self.has(libc::EPOLLIN) && self.has(libc::EPOLLRDHUP))
    }

    /// The writing side is closed: hang-up, or an error while writable, or a bare error.
    pub fn is_write_closed(&self) -> bool {
        self.has(libc::EPOLLHUP)
            || (self.has(libc::EPOLLOUT) && self.has(libc::EPOLLERR))
            || self.events == libc::EPOLLERR as u32
    }

    /// The raw `EPOLL*` bits.
    pub fn raw(&self) -> u32 {
        self.events
    }
}

/// A reusable buffer of events filled by [`Selector::select`].
#[derive(Debug)]
pub struct Events {
    buf: Vec<libc::epoll_event>,
}

impl Events {
    /// A buffer that receives at most `capacity` events per `select` (at least 1).
    pub fn with_capacity(capacity: usize) -> Events {
        Events {
            buf: Vec::with_capacity(capacity.max(1)),
        }
    }

    /// The events of the last `select`.
    pub fn iter(&self) -> impl Iterator<Item = Event> + '_ {
        self.buf.iter().map(|e| Event {
            token: Token(e.u64),
            events: e.events,
        })
    }

    /// How many events the last `select` returned.
    pub fn len(&self) -> usize {
        self.buf.len()
    }

    /// Whether the last `select` returned no event.
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// The most events one `select` can return.
    pub fn capacity(&self) -> usize {
        self.buf.capacity()
    }

    /// Grows the buffer so one `select` can return `capacity` events.
    pub fn reserve(&mut self, capacity: usize) {
        if capacity > self.buf.capacity() {
            self.buf.reserve(capacity - self.buf.len());
        }
    }
}

/// What one [`Selector::select_once`] saw.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Selected {
    /// Events placed in the buffer (the waker's own event is never one of them).
    pub events: usize,
    /// [`Selector::wake`] ended the wait (wake-ups since the last select coalesce into one).
    pub woken: bool,
    /// A signal interrupted the wait (`EINTR`); nothing was collected.
    pub interrupted: bool,
}

/// An epoll instance with a built-in waker. `Send + Sync`: register, select and wake from any
/// thread.
#[derive(Debug)]
pub struct Selector {
    epfd: OwnedFd,
    waker: OwnedFd,
    closed: AtomicBool,
}

impl Selector {
    /// Creates a selector (`epoll_create1(EPOLL_CLOEXEC)`) and its eventfd waker.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] (`EMFILE`, `ENOMEM`).
    pub fn new() -> Result<Selector> {
        const OP: &str = "selector";
        let epfd = epoll::create().map_err(|e| Error::os(OP, e))?;
        let waker = epoll::eventfd().map_err(|e| Error::os(OP, e))?;
        epoll::ctl(
            &epfd,
            libc::EPOLL_CTL_ADD,
            waker.as_raw_fd(),
            libc::EPOLLIN as u32,
            Token::WAKER.0,
        )
        .map_err(|e| Error::os(OP, e))?;
        Ok(Selector {
            epfd,
            waker,
            closed: AtomicBool::new(false),
        })
    }

    fn check_open(&self, op: &'static str) -> Result<()> {
        if self.closed.load(Ordering::Acquire) {
            return Err(Error::Closed {
                op,
                what: Resource::Selector,
            });
        }
        Ok(())
    }

    /// Starts watching `fd`.
    ///
    /// # Errors
    ///
    /// [`Error::Closed`] for a closed selector or descriptor; [`Error::InvalidArgument`] for the
    /// reserved token; [`Error::Io`] with `EEXIST` when `fd` is already registered, `EPERM` for
    /// a regular file (epoll does not watch files).
    pub fn register(&self, fd: BorrowedFd<'_>, token: Token, interest: Interest, mode: Mode) -> Result<()> {
        self.ctl(
            "register",
            libc::EPOLL_CTL_ADD,
            fd.as_raw_fd(),
            token,
            interest,
            mode,
        )
    }

    /// Changes a registration's token, interest or mode (and re-arms a one-shot one).
    ///
    /// # Errors
    ///
    /// As [`Selector::register`]; [`Error::InvalidArgument`] for [`Mode::EXCLUSIVE`]; `ENOENT`
    /// when `fd` is not registered.
    pub fn reregister(&self, fd: BorrowedFd<'_>, token: Token, interest: Interest, mode: Mode) -> Result<()> {
        if mode.0 & Mode::EXCLUSIVE.0 != 0 {
            return Err(Error::invalid(
                "reregister",
                "EXCLUSIVE can only be set at registration",
            ));
        }
        self.ctl(
            "reregister",
            libc::EPOLL_CTL_MOD,
            fd.as_raw_fd(),
            token,
            interest,
            mode,
        )
    }

    fn ctl(
        &self,
        op: &'static str,
        ctl: i32,
        fd: RawFd,
        token: Token,
        interest: Interest,
        mode: Mode,
    ) -> Result<()> {
        self.check_open(op)?;
        if token == Token::WAKER {
            return Err(Error::invalid(op, "token u64::MAX is reserved for the waker"));
        }
        let mut events = interest.epoll() | mode.epoll();
        if mode.0 & Mode::EXCLUSIVE.0 != 0 {
            // epoll_ctl(2): EPOLLEXCLUSIVE allows only EPOLLIN, EPOLLOUT, EPOLLWAKEUP and EPOLLET.
            if interest.0 & Interest::PRIORITY.0 != 0 {
                return Err(Error::invalid(op, "EXCLUSIVE cannot be combined with PRIORITY"));
            }
            events &= !(libc::EPOLLRDHUP as u32);
        }
        epoll::ctl(&self.epfd, ctl, fd, events, token.0).map_err(|e| Error::os(op, e))
    }

    /// Stops watching `fd`.
    ///
    /// # Errors
    ///
    /// [`Error::Closed`] for a closed selector, or a closed descriptor (which the kernel already
    /// forgot, unless it was duplicated); [`Error::Io`] with `ENOENT` when not registered.
    pub fn deregister(&self, fd: BorrowedFd<'_>) -> Result<()> {
        const OP: &str = "deregister";
        self.check_open(OP)?;
        epoll::ctl(&self.epfd, libc::EPOLL_CTL_DEL, fd.as_raw_fd(), 0, 0).map_err(|e| Error::os(OP, e))
    }

    /// Waits until a registered descriptor is ready, [`Selector::wake`] is called, or `timeout`
    /// passes (`None`: no limit; zero: poll). Fills `events` and returns their number, which is 0
    /// after a wake-up or a timeout. `EINTR` is retried with the time that remains.
    ///
    /// # Errors
    ///
    /// [`Error::Closed`] when the selector was closed before the call (one closed during the
    /// wait returns normally, as `java.nio.channels.Selector` does); [`Error::Io`].
    pub fn select(&self, events: &mut Events, timeout: Option<Duration>) -> Result<usize> {
        let deadline = timeout.map(|t| Instant::now().checked_add(t));
        loop {
            let remaining = match deadline {
                None => None,
                Some(None) => None, // too far away to represent: wait without a limit
                Some(Some(d)) => Some(d.saturating_duration_since(Instant::now())),
            };
            let selected = self.select_once(events, remaining)?;
            if !selected.interrupted {
                return Ok(selected.events);
            }
        }
    }

    /// One wait, without retrying `EINTR`: for bindings that must run their language's signal
    /// handlers when a signal interrupts the wait (Python's PEP 475), then call again with the
    /// time that remains. Also says whether [`Selector::wake`] ended the wait.
    ///
    /// # Errors
    ///
    /// As [`Selector::select`].
    pub fn select_once(&self, events: &mut Events, timeout: Option<Duration>) -> Result<Selected> {
        const OP: &str = "select";
        self.check_open(OP)?;
        match epoll::wait(&self.epfd, &mut events.buf, epoll::timeout_ms(timeout)) {
            Ok(_) => {}
            Err(e) if e.raw_os_error() == Some(libc::EINTR) => {
                events.buf.clear();
                return Ok(Selected {
                    events: 0,
                    woken: false,
                    interrupted: true,
                });
            }
            Err(e) => return Err(Error::os(OP, e)),
        }
        let before = events.buf.len();
        events.buf.retain(|e| e.u64 != Token::WAKER.0);
        let woken = events.buf.len() != before;
        if woken {
            epoll::eventfd_reset(&self.waker).map_err(|e| Error::os(OP, e))?;
        }
        Ok(Selected {
            events: events.buf.len(),
            woken,
            interrupted: false,
        })
    }

    /// Makes the current (or, if none runs, the next) [`Selector::select`] return at once.
    /// Callable from any thread; wake-ups coalesce.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] if the eventfd cannot be written.
    pub fn wake(&self) -> Result<()> {
        epoll::eventfd_signal(&self.waker).map_err(|e| Error::os("wake", e))
    }

    /// Closes the selector: a running `select` returns, later calls fail with
    /// [`Error::Closed`]. The epoll descriptor itself is released on drop, so that a `select`
    /// still running on another thread never sees its number reused. Idempotent.
    pub fn close(&self) {
        if !self.closed.swap(true, Ordering::AcqRel) {
            // A failed wake cannot be reported from close; the next select sees the flag.
            let _ = self.wake();
        }
    }

    /// Whether [`Selector::close`] has not been called.
    pub fn is_open(&self) -> bool {
        !self.closed.load(Ordering::Acquire)
    }

    /// The epoll descriptor (for nesting in another event loop).
    pub fn as_raw_fd(&self) -> RawFd {
        self.epfd.as_raw_fd()
    }
}
