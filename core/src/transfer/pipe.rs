//! The per-thread pipe that `splice` moves bytes through, and the SIGPIPE shield.

use std::cell::{Cell, RefCell};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicI32, AtomicU8, Ordering};

use crate::sys::{retry_eintr, syscall};

/// The pipe size asked for with `F_SETPIPE_SZ`: 1 MiB measured best (64 KiB is clearly slower).
const PIPE_SIZE: libc::c_int = 1 << 20;

/// A pipe pair kept per thread for file → pipe → socket splices.
///
/// Invariant: empty whenever it is not in use. A pipe that might still hold bytes after an error
/// is thrown away, never reused.
pub(crate) struct SplicePipe {
    read: OwnedFd,
    write: OwnedFd,
    capacity: usize,
}

impl SplicePipe {
    fn new(calls: &Cell<u64>) -> io::Result<SplicePipe> {
        calls.set(calls.get() + 2); // pipe2 and F_SETPIPE_SZ
        let mut fds = [0 as RawFd; 2];
        // SAFETY: `fds` has room for the two descriptors pipe2 writes.
        unsafe { syscall!(pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC)) }?;
        // SAFETY: pipe2 returned two new descriptors that nothing else owns.
        let (read, write) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
        // SAFETY: F_SETPIPE_SZ takes an int argument. Failure (EPERM over pipe-max-size) leaves
        // the default size, which still works.
        let capacity = match unsafe { syscall!(fcntl(write.as_raw_fd(), libc::F_SETPIPE_SZ, PIPE_SIZE)) } {
            Ok(size) => size as usize,
            // SAFETY: F_GETPIPE_SZ takes no argument.
            Err(_) => unsafe { syscall!(fcntl(write.as_raw_fd(), libc::F_GETPIPE_SZ)) }? as usize,
        };
        Ok(SplicePipe {
            read,
            write,
            capacity,
        })
    }

    pub(crate) fn read_fd(&self) -> RawFd {
        self.read.as_raw_fd()
    }

    pub(crate) fn write_fd(&self) -> RawFd {
        self.write.as_raw_fd()
    }

    pub(crate) fn capacity(&self) -> usize {
        self.capacity
    }

    /// Throws away `pending` bytes left in the pipe (sent to `/dev/null`, itself a splice: no
    /// copy). Returns false if the pipe could not be emptied, in which case it must be dropped.
    pub(crate) fn discard(&self, mut pending: usize, calls: &Cell<u64>) -> bool {
        let Some(null) = dev_null() else {
            return false;
        };
        while pending > 0 {
            let res = retry_eintr(|| {
                calls.set(calls.get() + 1);
                // SAFETY: both descriptors are open; null offsets use the pipe semantics.
                unsafe {
                    syscall!(splice(
                        self.read_fd(),
                        std::ptr::null_mut(),
                        null,
                        std::ptr::null_mut(),
                        pending,
                        libc::SPLICE_F_MOVE
                    ))
                }
            });
            match res {
                Ok(n) if n > 0 => pending -= n as usize,
                _ => return false,
            }
        }
        true
    }
}

thread_local! {
    static PIPE: RefCell<Option<SplicePipe>> = const { RefCell::new(None) };
}

/// Runs `f` with this thread's splice pipe. `f` returns whether the pipe is still clean (empty);
/// a pipe that is not clean is closed and replaced on the next use.
pub(crate) fn with_pipe<T>(calls: &Cell<u64>, f: impl FnOnce(&SplicePipe) -> (T, bool)) -> io::Result<T> {
    PIPE.with(|cell| {
        let mut slot = cell
            .try_borrow_mut()
            .map_err(|_| io::Error::from_raw_os_error(libc::EBUSY))?;
        if slot.is_none() {
            *slot = Some(SplicePipe::new(calls)?);
        }
        let pipe = slot.as_ref().expect("pipe was just created");
        let (value, clean) = f(pipe);
        if !clean {
            *slot = None;
        }
        Ok(value)
    })
}

/// A process-wide descriptor for `/dev/null`, opened on first use.
fn dev_null() -> Option<RawFd> {
    static NULL: AtomicI32 = AtomicI32::new(-1);
    let fd = NULL.load(Ordering::Acquire);
    if fd >= 0 {
        return Some(fd);
    }
    // SAFETY: the path is a valid NUL-terminated string.
    let fd = unsafe { syscall!(open(c"/dev/null".as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC)) }.ok()?;
    match NULL.compare_exchange(-1, fd, Ordering::AcqRel, Ordering::Acquire) {
        Ok(_) => Some(fd),
        Err(existing) => {
            // SAFETY: `fd` is ours and was never shared; another thread won the race.
            unsafe { libc::close(fd) };
            Some(existing)
        }
    }
}

const UNKNOWN: u8 = 0;
const IGNORED: u8 = 1;
const HANDLED: u8 = 2;

/// What the process does with `SIGPIPE`, as last read.
static STATE: AtomicU8 = AtomicU8::new(UNKNOWN);

/// Reads `SIGPIPE`'s disposition again. The transfer fast path trusts the answer it read last;
/// the slow path (a descriptor zcopy has not transferred to before) calls this, so a host that
/// stops ignoring `SIGPIPE` is protected again from its next new connection on.
pub(crate) fn recheck_sigpipe() {
    STATE.store(
        if sigpipe_ignored() { IGNORED } else { HANDLED },
        Ordering::Relaxed,
    );
}

/// Keeps `SIGPIPE` from killing a C host when a socket or pipe peer has gone.
///
/// CPython ignores `SIGPIPE` and the JVM catches it with a handler that returns at once, so for
/// them this costs one atomic load. In a process where `SIGPIPE` has its default action (which
/// kills; read at the first transfer and again whenever a new descriptor is probed), the signal
/// is blocked in the calling thread around the call, and one raised by it is consumed before the
/// mask is restored; the caller sees `EPIPE`.
pub(crate) struct SigpipeShield {
    old: Option<libc::sigset_t>,
}

impl SigpipeShield {
    pub(crate) fn raise() -> SigpipeShield {
        if STATE.load(Ordering::Relaxed) == UNKNOWN {
            recheck_sigpipe();
        }
        let state = STATE.load(Ordering::Relaxed);
        if state == IGNORED {
            return SigpipeShield { old: None };
        }
        let set = sigpipe_set();
        let mut old = std::mem::MaybeUninit::<libc::sigset_t>::uninit();
        // SAFETY: `set` is initialised and `old` has room for the previous mask.
        if unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, &set, old.as_mut_ptr()) } != 0 {
            return SigpipeShield { old: None };
        }
        // SAFETY: pthread_sigmask succeeded, so it wrote the previous mask.
        let old = unsafe { old.assume_init() };
        // SAFETY: `old` is an initialised sigset_t.
        if unsafe { libc::sigismember(&old, libc::SIGPIPE) } == 1 {
            // The caller already blocks SIGPIPE: leave everything to it.
            return SigpipeShield { old: None };
        }
        SigpipeShield { old: Some(old) }
    }

    /// Restores the mask; `epipe` says whether the call failed with `EPIPE` (so a `SIGPIPE` is
    /// pending and must be consumed first). Returns the system calls the shield made.
    pub(crate) fn lower(self, epipe: bool) -> u64 {
        let Some(old) = self.old else {
            return 0;
        };
        let set = sigpipe_set();
        if epipe {
            let zero = libc::timespec {
                tv_sec: 0,
                tv_nsec: 0,
            };
            // SAFETY: `set` and `zero` are valid; a null siginfo pointer is allowed.
            unsafe { libc::sigtimedwait(&set, std::ptr::null_mut(), &zero) };
        }
        // SAFETY: `old` is the mask saved by raise().
        unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, &old, std::ptr::null_mut()) };
        2 + u64::from(epipe) // block, (consume,) restore
    }
}

fn sigpipe_set() -> libc::sigset_t {
    let mut set = std::mem::MaybeUninit::<libc::sigset_t>::uninit();
    // SAFETY: sigemptyset initialises the set; sigaddset adds a valid signal number.
    unsafe {
        libc::sigemptyset(set.as_mut_ptr());
        libc::sigaddset(set.as_mut_ptr(), libc::SIGPIPE);
        set.assume_init()
    }
}

/// Whether `SIGPIPE` cannot kill the process: ignored (CPython, servers) or caught by a handler
/// (HotSpot installs one that returns at once). Only the default action kills, so only then is the
/// shield needed.
fn sigpipe_ignored() -> bool {
    let mut old = std::mem::MaybeUninit::<libc::sigaction>::uninit();
    // SAFETY: a null new action only reads the current one into `old`.
    if unsafe { libc::sigaction(libc::SIGPIPE, std::ptr::null(), old.as_mut_ptr()) } != 0 {
        return false;
    }
    // SAFETY: sigaction succeeded and filled `old`.
    let old = unsafe { old.assume_init() };
    old.sa_sigaction != libc::SIG_DFL
}
