//! Keeps core's SIGBUS truncation guard installed.
//!
//! Core installs the guard once ([`zcopy::guard::install`], called when `zcopy._native` is
//! imported). A library that installs its own SIGBUS handler later, `faulthandler.enable()` for
//! one, replaces it, and a truncated file would kill the interpreter again. So every `map()` and
//! `shared_memory()` calls [`ensure`], which asks core to put the guard back in front
//! ([`zcopy::guard::ensure_installed`]): faults inside zcopy regions are absorbed again, and
//! faults elsewhere go to the newcomer (faulthandler still prints its traceback). Core ends a
//! foreign SIGBUS with the default action when the newcomer bounces it back (faulthandler
//! restores its previous handler, the guard, and re-raises), so the two cannot loop
//! (`test_foreign_sigbus_after_faulthandler_reenabled_still_ends_the_process`).

use pyo3::PyResult;

use crate::errors::to_py;

/// Installs core's guard (at import).
pub fn install() -> PyResult<()> {
    zcopy::guard::install().map_err(to_py)
}

/// Re-installs the guard if another SIGBUS handler replaced it since.
pub fn ensure() -> PyResult<()> {
    zcopy::guard::ensure_installed().map(drop).map_err(to_py)
}
