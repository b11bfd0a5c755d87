//! Keeps core's SIGBUS truncation guard installed.
//!
//! Core installs the guard once ([`zcopy::guard::install`], called when `zcopy._native` is
//! imported). A library that installs its own SIGBUS handler later, `faulthandler.enable()` for
//! one, replaces it, and a truncated file would kill the interpreter again. So the binding
//! remembers the guard's disposition right after installing it, and [`ensure`] (called by every
//! `map()` and `shared_memory()`) puts it back if something replaced it. Faults outside zcopy
//! regions still go to the handler that was installed before zcopy was imported.
//!
//! Not [`zcopy::guard::ensure_installed`], which chains to the newcomer instead: a newcomer that
//! saved the guard as *its* previous handler and re-raises into it (faulthandler does exactly
//! that) then bounces every foreign SIGBUS between the two forever: the interpreter prints
//! faulthandler's traceback in a loop instead of dying (`test_foreign_sigbus_after_faulthandler
//! _reenabled_still_ends_the_process`; CORE-REQUESTS.md, item 6).

use std::sync::OnceLock;

use pyo3::PyResult;

use crate::errors::to_py;

/// The guard's `sigaction`, as read right after core installed it.
struct Disposition(libc::sigaction);

// SAFETY: a sigaction is plain data (a handler address, flags, a mask); it is only read.
unsafe impl Sync for Disposition {}
// SAFETY: as above.
unsafe impl Send for Disposition {}

static GUARD: OnceLock<Disposition> = OnceLock::new();

fn current() -> std::io::Result<libc::sigaction> {
    // SAFETY: an all-zero sigaction is a valid value to be overwritten.
    let mut now: libc::sigaction = unsafe { std::mem::zeroed() };
    // SAFETY: a null `act` only reads the current disposition into `now`.
    if unsafe { libc::sigaction(libc::SIGBUS, std::ptr::null(), &mut now) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(now)
}

/// Installs core's guard and remembers its disposition.
pub fn install() -> PyResult<()> {
    zcopy::guard::install().map_err(to_py)?;
    let now = current()?;
    let _ = GUARD.set(Disposition(now));
    Ok(())
}

/// Re-installs the guard if another SIGBUS handler replaced it since.
pub fn ensure() -> PyResult<()> {
    let Some(guard) = GUARD.get() else {
        return Ok(());
    };
    let now = current()?;
    if now.sa_sigaction != guard.0.sa_sigaction {
        // SAFETY: `guard.0` is the disposition core installed, read back unchanged.
        if unsafe { libc::sigaction(libc::SIGBUS, &guard.0, std::ptr::null_mut()) } != 0 {
            return Err(std::io::Error::last_os_error().into());
        }
    }
    Ok(())
}
