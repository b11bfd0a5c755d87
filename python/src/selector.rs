//! The native half of `zcopy.EpollSelector`: registration through core's `Selector`, and the
//! hot path, `select()`, which waits with the GIL released and builds the `(key, events)` list
//! in Rust from the selector's own `fd -> SelectorKey` dict.

use std::os::fd::{BorrowedFd, RawFd};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyTuple};
use zcopy::{Events, Interest, Mode, Selector, Token};

use crate::errors::IntoPyResult;

/// `selectors.EVENT_READ` / `EVENT_WRITE`, which are also core's interest bits.
const EVENT_READ: u32 = 1;
const EVENT_WRITE: u32 = 2;

/// An epoll instance (core's `Selector`), reading its registrations' keys from the dict it was
/// created with. Used by `zcopy.EpollSelector`; not meant to be used alone.
///
/// `select()` waits with core's [`Selector::select_once`], which returns on `EINTR`: the
/// binding then runs Python's signal handlers and waits again for the time that remains (PEP
/// 475), so a Ctrl-C ends a `select(None)` at once. `wakeup()` is core's [`Selector::wake`].
#[pyclass(frozen, module = "zcopy._native", name = "Epoll")]
pub struct Epoll {
    selector: Selector,
    keys: Py<PyDict>,
    events: Mutex<Events>,
}

fn borrowed(fd: RawFd) -> PyResult<BorrowedFd<'static>> {
    if fd < 0 {
        return Err(PyValueError::new_err(format!("Invalid file descriptor: {fd}")));
    }
    // SAFETY: a non-negative number; epoll_ctl only looks it up in the descriptor table (a closed
    // one gives EBADF), and the borrow does not outlive the call.
    Ok(unsafe { BorrowedFd::borrow_raw(fd) })
}

fn interest(events: u32) -> PyResult<Interest> {
    Interest::from_bits(events).py()
}

#[pymethods]
impl Epoll {
    /// Creates the epoll instance; `keys` maps descriptor numbers to `SelectorKey`s.
    #[new]
    fn new(keys: Bound<'_, PyDict>) -> PyResult<Epoll> {
        Ok(Epoll {
            selector: Selector::new().py()?,
            keys: keys.unbind(),
            events: Mutex::new(Events::with_capacity(64)),
        })
    }

    /// Starts watching `fd` for `events` (`EVENT_READ | EVENT_WRITE`) in `mode`
    /// (`EDGE_TRIGGERED | ONESHOT | EXCLUSIVE`, 0 for level-triggered).
    fn register(&self, fd: RawFd, events: u32, mode: u32) -> PyResult<()> {
        let mode = Mode::from_bits(mode).py()?;
        self.selector
            .register(borrowed(fd)?, Token(fd as u64), interest(events)?, mode)
            .py()
    }

    /// Changes the events or mode of `fd` (and re-arms a one-shot registration).
    fn modify(&self, fd: RawFd, events: u32, mode: u32) -> PyResult<()> {
        let mode = Mode::from_bits(mode).py()?;
        self.selector
            .reregister(borrowed(fd)?, Token(fd as u64), interest(events)?, mode)
            .py()
    }

    /// Stops watching `fd`. A descriptor that is already closed (the kernel forgot it) or not
    /// registered is not an error, as in `selectors`.
    fn unregister(&self, fd: RawFd) -> PyResult<()> {
        match self.selector.deregister(borrowed(fd)?) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == zcopy::ErrorKind::Closed && self.selector.is_open() => Ok(()),
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => Ok(()),
            Err(e) => Err(crate::errors::to_py(e)),
        }
    }

    /// Waits for events and returns `[(key, events), ...]` as `selectors` does: `timeout=None`
    /// blocks, `timeout <= 0` polls, otherwise waits up to `timeout` seconds (rounded up to the
    /// next millisecond). Returns `[]` after `wakeup()`, a timeout, or a signal whose handler did
    /// not raise.
    #[pyo3(signature = (timeout=None))]
    fn select<'py>(&self, py: Python<'py>, timeout: Option<f64>) -> PyResult<Bound<'py, PyList>> {
        let timeout = match timeout {
            None => None,
            Some(t) if t.is_nan() => return Err(PyValueError::new_err("timeout must not be NaN")),
            Some(t) if t <= 0.0 => Some(Duration::ZERO),
            Some(t) => Duration::try_from_secs_f64(t).ok(),
        };
        let keys = self.keys.bind(py);
        let capacity = keys.len() + 1; // and core's waker
        let deadline = timeout.map(|t| Instant::now().checked_add(t));
        let mut remaining = timeout;
        let ready = loop {
            let wait = || -> zcopy::Result<(bool, Vec<(u64, u32)>)> {
                // The shared buffer saves an allocation per call; a select() running on another
                // thread keeps it, and then this one uses its own (waiting for the lock would
                // stretch this call's timeout to the other's).
                let mut local;
                let mut shared = self.events.try_lock().ok();
                let events = match shared.as_deref_mut() {
                    Some(events) => events,
                    None => {
                        local = Events::with_capacity(capacity);
                        &mut local
                    }
                };
                events.reserve(capacity);
                let selected = self.selector.select_once(events, remaining)?;
                Ok((
                    selected.interrupted,
                    events.iter().map(|e| (e.token().0, e.raw())).collect(),
                ))
            };
            // A poll cannot wait: keep the GIL rather than pay for releasing it.
            let (interrupted, ready) = if remaining == Some(Duration::ZERO) {
                wait()
            } else {
                py.detach(wait)
            }
            .py()?;
            if !interrupted {
                break ready;
            }
            // PEP 475: a signal interrupted the wait. Run the handlers (on the main thread; a
            // no-op elsewhere); one that raises ends select(), otherwise wait for what is left.
            py.check_signals()?;
            if !self.selector.is_open() {
                break Vec::new(); // closed by another thread meanwhile: as a wake-up
            }
            remaining = match deadline {
                None => None,
                Some(None) => None, // too far away to represent: no limit
                Some(Some(d)) => Some(d.saturating_duration_since(Instant::now())),
            };
        };
        let list = PyList::empty(py);
        for (fd, bits) in ready {
            let Some(key) = keys.get_item(fd)? else {
                continue;
            };
            let wanted: u32 = match key.cast::<PyTuple>() {
                Ok(tuple) => tuple.get_item(2)?.extract()?,
                Err(_) => key.getattr(pyo3::intern!(py, "events"))?.extract()?,
            };
            let mut events = 0;
            let (read, write) = (
                (libc::EPOLLIN | libc::EPOLLPRI | libc::EPOLLRDHUP | libc::EPOLLHUP | libc::EPOLLERR) as u32,
                (libc::EPOLLOUT | libc::EPOLLHUP | libc::EPOLLERR) as u32,
            );
            if bits & read != 0 {
                events |= EVENT_READ;
            }
            if bits & write != 0 {
                events |= EVENT_WRITE;
            }
            list.append((key, events & wanted))?;
        }
        Ok(list)
    }

    /// Makes a running (or the next) `select()` return at once. Any thread; wake-ups coalesce.
    fn wakeup(&self) -> PyResult<()> {
        self.selector.wake().py()
    }

    /// Closes the selector; a `select()` running on another thread returns.
    fn close(&self) {
        self.selector.close();
    }

    /// Whether `close()` was called.
    #[getter]
    fn closed(&self) -> bool {
        !self.selector.is_open()
    }

    /// The epoll descriptor.
    fn fileno(&self) -> RawFd {
        self.selector.as_raw_fd()
    }
}
