//! The truncation guard: survive `SIGBUS` from a mapped file that shrank.
//!
//! Touching a mapped page past a file's end raises `SIGBUS`, whose default action kills the
//! process. Once [`install`] has run, a `SIGBUS` whose faulting address lies inside a live zcopy
//! region is absorbed: the faulting page is replaced by an anonymous zero page, the region is
//! marked truncated, and the faulting instruction runs again and reads zeros. The next zcopy
//! operation on that region fails with [`Error::Truncated`](crate::Error::Truncated). A `SIGBUS`
//! anywhere else goes to the handler that was installed before (or kills the process as it
//! would have).
//!
//! The Python binding installs the guard when it is imported; C programs opt in with one call.
//! Never install it inside a JVM: HotSpot handles `SIGBUS` for its own buffer accesses.
//!
//! The region table is a set of fixed-size chunks that are never freed, so the handler reads it
//! with atomics only: no locks, no allocation.

use std::ptr;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicPtr, AtomicU8, AtomicUsize, Ordering};
use std::sync::Mutex;

use crate::sys::{self, syscall};
use crate::{Error, Result};

const CHUNK_SLOTS: usize = 1024;
const MAX_CHUNKS: usize = 256;

const FREE: u8 = 0;
const BUSY: u8 = 1;
const LIVE: u8 = 2;

/// One guarded address range.
pub(crate) struct Slot {
    index: AtomicUsize,
    state: AtomicU8,
    start: AtomicUsize,
    len: AtomicUsize,
    prot: AtomicI32,
    truncated: AtomicBool,
}

impl Slot {
    const fn new() -> Slot {
        Slot {
            index: AtomicUsize::new(0),
            state: AtomicU8::new(FREE),
            start: AtomicUsize::new(0),
            len: AtomicUsize::new(0),
            prot: AtomicI32::new(0),
            truncated: AtomicBool::new(false),
        }
    }

    /// Whether the handler absorbed a fault inside this range.
    pub(crate) fn truncated(&self) -> bool {
        self.truncated.load(Ordering::Acquire)
    }

    fn contains(&self, addr: usize) -> bool {
        let start = self.start.load(Ordering::Relaxed);
        let len = self.len.load(Ordering::Relaxed);
        addr >= start && addr - start < len
    }
}

struct Chunk {
    slots: [Slot; CHUNK_SLOTS],
}

static CHUNKS: [AtomicPtr<Chunk>; MAX_CHUNKS] = [const { AtomicPtr::new(ptr::null_mut()) }; MAX_CHUNKS];
static FREE_HINT: AtomicUsize = AtomicUsize::new(0);

fn chunk(index: usize) -> Option<&'static Chunk> {
    let p = CHUNKS[index].load(Ordering::Acquire);
    // SAFETY: a non-null chunk pointer comes from `Box::leak` and is never freed.
    unsafe { p.as_ref() }
}

fn slot_at(index: usize) -> Option<&'static Slot> {
    chunk(index / CHUNK_SLOTS).map(|c| &c.slots[index % CHUNK_SLOTS])
}

/// Records `[start, start + len)` as a zcopy region; `None` when the table is full (the region is
/// then simply not guarded).
///
/// Free slots of the existing chunks are always reused before a new chunk is made, so the table
/// stays at the high-water mark of regions alive at once (a map/close loop uses one slot).
pub(crate) fn register(start: usize, len: usize, prot: i32) -> Option<&'static Slot> {
    let existing = (0..MAX_CHUNKS).take_while(|&c| chunk(c).is_some()).count() * CHUNK_SLOTS;
    if existing > 0 {
        let hint = FREE_HINT.load(Ordering::Relaxed) % existing;
        for step in 0..existing {
            let index = (hint + step) % existing;
            if let Some(slot) = slot_at(index).and_then(|slot| claim(slot, index, start, len, prot)) {
                return Some(slot);
            }
        }
    }
    // Every existing slot is taken: use the next chunks, making them as needed.
    for index in existing..CHUNK_SLOTS * MAX_CHUNKS {
        let slot = match slot_at(index) {
            Some(slot) => slot,
            None => {
                let fresh = Box::into_raw(Box::new(Chunk {
                    slots: [const { Slot::new() }; CHUNK_SLOTS],
                }));
                let cell = &CHUNKS[index / CHUNK_SLOTS];
                if cell
                    .compare_exchange(ptr::null_mut(), fresh, Ordering::AcqRel, Ordering::Acquire)
                    .is_err()
                {
                    // SAFETY: `fresh` came from Box::into_raw above and was never shared.
                    drop(unsafe { Box::from_raw(fresh) });
                }
                match slot_at(index) {
                    Some(slot) => slot,
                    None => continue,
                }
            }
        };
        if let Some(slot) = claim(slot, index, start, len, prot) {
            return Some(slot);
        }
    }
    None
}

/// Takes `slot` for a range if it is free.
fn claim(slot: &'static Slot, index: usize, start: usize, len: usize, prot: i32) -> Option<&'static Slot> {
    slot.state
        .compare_exchange(FREE, BUSY, Ordering::Acquire, Ordering::Relaxed)
        .ok()?;
    slot.index.store(index, Ordering::Relaxed);
    slot.start.store(start, Ordering::Relaxed);
    slot.len.store(len, Ordering::Relaxed);
    slot.prot.store(prot, Ordering::Relaxed);
    slot.truncated.store(false, Ordering::Relaxed);
    slot.state.store(LIVE, Ordering::Release);
    FREE_HINT.store(index + 1, Ordering::Relaxed);
    Some(slot)
}

/// Forgets a range recorded by [`register`].
pub(crate) fn unregister(slot: &'static Slot) {
    slot.state.store(BUSY, Ordering::Release);
    slot.start.store(0, Ordering::Relaxed);
    slot.len.store(0, Ordering::Relaxed);
    slot.state.store(FREE, Ordering::Release);
    // The next registration looks here first.
    FREE_HINT.fetch_min(slot.index.load(Ordering::Relaxed), Ordering::Relaxed);
}

/// How many chunks of slots exist (for tests of the table's growth).
#[cfg(test)]
fn chunks() -> usize {
    (0..MAX_CHUNKS).take_while(|&c| chunk(c).is_some()).count()
}

fn find(addr: usize) -> Option<&'static Slot> {
    for c in 0..MAX_CHUNKS {
        let chunk = chunk(c)?;
        for slot in &chunk.slots {
            if slot.state.load(Ordering::Acquire) == LIVE && slot.contains(addr) {
                return Some(slot);
            }
        }
    }
    None
}

static INSTALLED: AtomicBool = AtomicBool::new(false);
static INSTALL_LOCK: Mutex<()> = Mutex::new(());
/// The `SIGBUS` disposition found at install time; written once before the handler is live.
static PREVIOUS: AtomicPtr<libc::sigaction> = AtomicPtr::new(ptr::null_mut());

/// Installs the process-wide `SIGBUS` handler that absorbs faults inside zcopy regions.
///
/// Idempotent and thread-safe. Regions created before the call are covered too. Faults outside
/// zcopy regions are passed to the handler that was installed before this call.
///
/// Do not call this inside a JVM.
///
/// # Errors
///
/// [`Error::Io`] if `sigaction` fails.
pub fn install() -> Result<()> {
    let _lock = INSTALL_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    if INSTALLED.load(Ordering::Acquire) {
        return Ok(());
    }
    let old = Box::into_raw(Box::new(
        // SAFETY: zeroed is a valid sigaction.
        unsafe { std::mem::zeroed::<libc::sigaction>() },
    ));
    // Query first so that PREVIOUS is valid before our handler can run.
    // SAFETY: a null `act` only reads the current disposition into `old`.
    if let Err(e) = unsafe { syscall!(sigaction(libc::SIGBUS, ptr::null(), old)) } {
        // SAFETY: `old` came from Box::into_raw and was not shared.
        drop(unsafe { Box::from_raw(old) });
        return Err(Error::Io {
            op: "install_truncation_guard",
            source: e,
        });
    }
    PREVIOUS.store(old, Ordering::Release);
    set_handler()?;
    INSTALLED.store(true, Ordering::Release);
    Ok(())
}

/// Installs the guard again if another `SIGBUS` handler has replaced it since (Python's
/// `faulthandler.enable()` does), chaining to whatever handler is installed now. Returns whether
/// it had to. Cheap enough to call before every mapping (one `sigaction` query).
///
/// # Errors
///
/// [`Error::Io`] if `sigaction` fails.
pub fn ensure_installed() -> Result<bool> {
    if !is_installed() {
        install()?;
        return Ok(true);
    }
    let _lock = INSTALL_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let current = Box::into_raw(Box::new(
        // SAFETY: zeroed is a valid sigaction.
        unsafe { std::mem::zeroed::<libc::sigaction>() },
    ));
    // SAFETY: a null `act` only reads the current disposition.
    if let Err(source) = unsafe { syscall!(sigaction(libc::SIGBUS, ptr::null(), current)) } {
        // SAFETY: `current` came from Box::into_raw and was never shared.
        drop(unsafe { Box::from_raw(current) });
        return Err(Error::Io {
            op: "install_truncation_guard",
            source,
        });
    }
    // SAFETY: filled by sigaction above; only read here.
    if unsafe { (*current).sa_sigaction } == on_sigbus as *const () as libc::sighandler_t {
        // SAFETY: as above; never shared.
        drop(unsafe { Box::from_raw(current) });
        return Ok(false);
    }
    // Chain to the newcomer. The old PREVIOUS is leaked on purpose: the handler may be reading
    // it on another thread right now, and a sigaction is a few dozen bytes.
    PREVIOUS.store(current, Ordering::Release);
    set_handler()?;
    Ok(true)
}

fn set_handler() -> Result<()> {
    // SAFETY: an all-zero sigaction is a valid value (empty mask, no flags, SIG_DFL).
    let mut new: libc::sigaction = unsafe { std::mem::zeroed() };
    new.sa_sigaction = on_sigbus as *const () as libc::sighandler_t;
    new.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK;
    // SAFETY: `new.sa_mask` is a valid sigset_t to initialise.
    unsafe { libc::sigemptyset(&mut new.sa_mask) };
    // SAFETY: `new` is fully initialised; on_sigbus is async-signal-safe (atomics, mmap).
    unsafe { syscall!(sigaction(libc::SIGBUS, &new, ptr::null_mut())) }
        .map(drop)
        .map_err(|source| Error::Io {
            op: "install_truncation_guard",
            source,
        })
}

/// Whether [`install`] has run in this process.
pub fn is_installed() -> bool {
    INSTALLED.load(Ordering::Acquire)
}

extern "C" fn on_sigbus(sig: libc::c_int, info: *mut libc::siginfo_t, ctx: *mut libc::c_void) {
    // SAFETY: __errno_location returns this thread's errno slot.
    let errno = unsafe { *libc::__errno_location() };
    // SAFETY: the kernel passes a valid siginfo_t to an SA_SIGINFO handler.
    let (code, addr) = unsafe { ((*info).si_code, (*info).si_addr() as usize) };
    // si_code > 0 means the kernel raised it for a fault (BUS_ADRERR etc.), not kill/raise.
    if code > 0 {
        if let Some(slot) = find(addr) {
            let page = addr & !(sys::page_size() - 1);
            // SAFETY: `page` lies inside a live zcopy mapping, which we own; replacing one page of
            // it with anonymous memory keeps the address range valid for everyone using it.
            let mapped = unsafe {
                libc::mmap(
                    page as *mut libc::c_void,
                    sys::page_size(),
                    slot.prot.load(Ordering::Relaxed),
                    libc::MAP_FIXED | libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
                    -1,
                    0,
                )
            };
            if mapped != libc::MAP_FAILED {
                slot.truncated.store(true, Ordering::Release);
                // SAFETY: restoring this thread's errno slot.
                unsafe { *libc::__errno_location() = errno };
                return;
            }
        }
    }
    // A foreign SIGBUS. Chain it, unless chaining already failed to resolve it: a handler that
    // restores its own previous handler (the guard) and re-raises, as Python's faulthandler does,
    // would otherwise bounce the signal between the two for ever. So: a raised SIGBUS (kill,
    // raise) after we chained any foreign SIGBUS, or a real fault at the same address as the one
    // just chained, gets the default action. Real faults at new addresses are always chained (the
    // previous handler may resolve them, as a JVM or another mapping library does).
    let looping = if code > 0 {
        let repeated = LAST_FOREIGN_FAULT.swap(addr, Ordering::AcqRel) == addr;
        CHAINED.store(true, Ordering::Release);
        repeated
    } else {
        // A raise() after we chained anything is the chained handler handing the signal back.
        CHAIN_DEPTH.load(Ordering::Acquire) > 0 || CHAINED.swap(true, Ordering::AcqRel)
    };
    if looping {
        // SAFETY: ending the process the way the default action would.
        unsafe { die(sig) };
        return;
    }
    CHAIN_DEPTH.fetch_add(1, Ordering::AcqRel);
    // SAFETY: forwarding the kernel's own arguments to the previous disposition.
    unsafe { chain(sig, info, ctx) };
    CHAIN_DEPTH.fetch_sub(1, Ordering::AcqRel);
}

/// Foreign `SIGBUS` bookkeeping for the loop check in the handler.
static CHAIN_DEPTH: AtomicUsize = AtomicUsize::new(0);
static LAST_FOREIGN_FAULT: AtomicUsize = AtomicUsize::new(0);
static CHAINED: AtomicBool = AtomicBool::new(false);

/// Restores the default action and re-raises: the process ends as it would have without zcopy.
///
/// # Safety
///
/// - Called only from the `SIGBUS` handler.
unsafe fn die(sig: libc::c_int) {
    // SAFETY: a zeroed sigaction is SIG_DFL with an empty mask.
    let mut dfl: libc::sigaction = unsafe { std::mem::zeroed() };
    dfl.sa_sigaction = libc::SIG_DFL;
    // SAFETY: sigaction, sigprocmask and raise are async-signal-safe; unblocking SIGBUS lets the
    // re-raised signal through even inside a handler that did not set SA_NODEFER.
    unsafe {
        libc::sigaction(sig, &dfl, ptr::null_mut());
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, sig);
        libc::pthread_sigmask(libc::SIG_UNBLOCK, &set, ptr::null_mut());
        libc::raise(sig);
    }
}

/// Hands a signal that is not ours to the disposition found at install time.
///
/// # Safety
///
/// - Called only from the `SIGBUS` handler, with the kernel's arguments.
unsafe fn chain(sig: libc::c_int, info: *mut libc::siginfo_t, ctx: *mut libc::c_void) {
    let prev = PREVIOUS.load(Ordering::Acquire);
    // SAFETY: PREVIOUS is set from a leaked Box before the handler is installed and never freed.
    let prev = unsafe { prev.as_ref() };
    let handler = prev.map_or(libc::SIG_DFL, |p| p.sa_sigaction);
    let siginfo = prev.is_some_and(|p| p.sa_flags & libc::SA_SIGINFO != 0);
    if handler != libc::SIG_DFL && handler != libc::SIG_IGN {
        if siginfo {
            // SAFETY: the previous owner installed this as an SA_SIGINFO handler.
            let f: extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void) =
                unsafe { std::mem::transmute(handler) };
            f(sig, info, ctx);
        } else {
            // SAFETY: the previous owner installed this as a plain handler.
            let f: extern "C" fn(libc::c_int) = unsafe { std::mem::transmute(handler) };
            f(sig);
        }
        return;
    }
    // Default action (and SIG_IGN, which cannot stop a real fault from repeating).
    // SAFETY: we are in the SIGBUS handler.
    unsafe { die(sig) };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_reused_and_found() {
        let a = register(0x1000_0000, 0x2000, libc::PROT_READ).unwrap();
        let b = register(0x2000_0000, 0x1000, libc::PROT_READ).unwrap();
        assert!(find(0x1000_1fff).is_some_and(|s| ptr::eq(s, a)));
        assert!(find(0x2000_0000).is_some_and(|s| ptr::eq(s, b)));
        assert!(find(0x1000_2000).is_none());
        unregister(a);
        assert!(find(0x1000_0000).is_none());
        unregister(b);
    }

    #[test]
    fn churn_reuses_slots_instead_of_growing_the_table() {
        for i in 0..5 * CHUNK_SLOTS {
            let s = register(0x3000_0000 + i * 0x1000, 0x1000, libc::PROT_READ).unwrap();
            unregister(s);
        }
        // Other tests in this process hold a few slots at most: one chunk is plenty.
        assert!(chunks() <= 2, "{} chunks after churn", chunks());
    }
}
