//! Keeping `SIGPIPE` from killing a C host whose peer went away during a transfer.

use std::sync::atomic::{AtomicU8, Ordering};

const UNKNOWN: u8 = 0;
const IGNORED: u8 = 1;
const HANDLED: u8 = 2;

/// What the process does with `SIGPIPE`, as last read.
static STATE: AtomicU8 = AtomicU8::new(UNKNOWN);

/// Reads `SIGPIPE`'s disposition again. The transfer fast path trusts the answer it read last;
/// the slow path (a descriptor zcopy has not transferred to before) calls this, so a host that
/// stops ignoring `SIGPIPE` is protected again from its next new connection on.
pub(super) fn recheck_sigpipe() {
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
pub(super) struct SigpipeShield {
    old: Option<libc::sigset_t>,
    /// System calls made by `raise` (reading the disposition the first time).
    calls: u64,
}

impl SigpipeShield {
    pub(super) fn raise() -> SigpipeShield {
        let mut calls = 0;
        if STATE.load(Ordering::Relaxed) == UNKNOWN {
            recheck_sigpipe();
            calls = 1;
        }
        let state = STATE.load(Ordering::Relaxed);
        if state == IGNORED {
            return SigpipeShield { old: None, calls };
        }
        let set = sigpipe_set();
        let mut old = std::mem::MaybeUninit::<libc::sigset_t>::uninit();
        calls += 1;
        // SAFETY: `set` is initialised and `old` has room for the previous mask.
        if unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, &set, old.as_mut_ptr()) } != 0 {
            return SigpipeShield { old: None, calls };
        }
        // SAFETY: pthread_sigmask succeeded, so it wrote the previous mask.
        let old = unsafe { old.assume_init() };
        // SAFETY: `old` is an initialised sigset_t.
        if unsafe { libc::sigismember(&old, libc::SIGPIPE) } == 1 {
            // The caller already blocks SIGPIPE: leave everything to it.
            return SigpipeShield { old: None, calls };
        }
        SigpipeShield {
            old: Some(old),
            calls,
        }
    }

    /// Restores the mask; `epipe` says whether the call failed with `EPIPE` (so a `SIGPIPE` is
    /// pending and must be consumed first). Returns the system calls the shield made, `raise`'s
    /// included.
    pub(super) fn lower(self, epipe: bool) -> u64 {
        let Some(old) = self.old else {
            return self.calls;
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
        self.calls + 1 + u64::from(epipe) // (consume,) restore
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
