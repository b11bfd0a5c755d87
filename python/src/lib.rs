//! `zcopy._native`: the Python binding of zcopy, built with PyO3 as an abi3 (CPython ≥ 3.11)
//! extension module and re-exported by the pure-Python package `zcopy`.
//!
//! The binding translates: it converts Python arguments, calls core, and maps core's errors
//! through one table (`errors::to_py`). Importing it installs core's SIGBUS truncation guard,
//! so a file truncated under a mapping never kills the interpreter.

mod descriptor;
mod errors;
mod guard;
mod region;
mod selector;
mod transfer;

use pyo3::prelude::*;

/// The private extension module behind the `zcopy` package.
///
/// `gil_used = true`: small transfers rely on the GIL to keep other threads from closing their
/// descriptors (see `descriptor.rs`), so on a free-threaded build the GIL stays on.
#[pymodule(gil_used = true)]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    guard::install()?;
    let py = m.py();
    m.add("__version__", zcopy::VERSION)?;
    m.add("TruncatedError", py.get_type::<errors::TruncatedError>())?;

    m.add_class::<region::PyMapMode>()?;
    m.add_class::<region::Region>()?;
    m.add("READ_ONLY", region::PyMapMode::ReadOnly)?;
    m.add("READ_WRITE", region::PyMapMode::ReadWrite)?;
    m.add("PRIVATE", region::PyMapMode::Private)?;
    m.add_function(wrap_pyfunction!(region::map, m)?)?;
    m.add_function(wrap_pyfunction!(region::shared_memory, m)?)?;
    m.add_function(wrap_pyfunction!(region::page_size, m)?)?;
    for (name, value) in [
        ("MADV_NORMAL", libc::MADV_NORMAL),
        ("MADV_RANDOM", libc::MADV_RANDOM),
        ("MADV_SEQUENTIAL", libc::MADV_SEQUENTIAL),
        ("MADV_WILLNEED", libc::MADV_WILLNEED),
        ("MADV_DONTNEED", libc::MADV_DONTNEED),
        ("MADV_FREE", libc::MADV_FREE),
        ("MADV_REMOVE", libc::MADV_REMOVE),
        ("MADV_DONTFORK", libc::MADV_DONTFORK),
        ("MADV_DOFORK", libc::MADV_DOFORK),
        ("MADV_HUGEPAGE", libc::MADV_HUGEPAGE),
        ("MADV_NOHUGEPAGE", libc::MADV_NOHUGEPAGE),
        ("MADV_DONTDUMP", libc::MADV_DONTDUMP),
        ("MADV_DODUMP", libc::MADV_DODUMP),
        ("MADV_POPULATE_READ", libc::MADV_POPULATE_READ),
        ("MADV_POPULATE_WRITE", libc::MADV_POPULATE_WRITE),
    ] {
        m.add(name, value)?;
    }

    m.add_function(wrap_pyfunction!(transfer::transfer_to, m)?)?;
    m.add_function(wrap_pyfunction!(transfer::transfer_from, m)?)?;
    m.add_function(wrap_pyfunction!(transfer::transfer_all, m)?)?;
    m.add_function(wrap_pyfunction!(transfer::transfer_with_header, m)?)?;
    m.add_function(wrap_pyfunction!(transfer::last_method, m)?)?;
    m.add_function(wrap_pyfunction!(transfer::last_transfer, m)?)?;
    m.add_function(wrap_pyfunction!(transfer::sendfile, m)?)?;
    m.add_function(wrap_pyfunction!(transfer::splice, m)?)?;
    m.add_function(wrap_pyfunction!(transfer::tee, m)?)?;
    m.add("SPLICE_F_MOVE", libc::SPLICE_F_MOVE)?;
    m.add("SPLICE_F_NONBLOCK", libc::SPLICE_F_NONBLOCK)?;
    m.add("SPLICE_F_MORE", libc::SPLICE_F_MORE)?;
    m.add("MAX_TRANSFER", zcopy::MAX_DIRECT_TRANSFER)?;
    m.add("METHODS", pyo3::types::PyTuple::new(py, transfer::names())?)?;

    m.add_class::<selector::Epoll>()?;
    m.add("LEVEL_TRIGGERED", zcopy::Mode::LEVEL.bits())?;
    m.add("EDGE_TRIGGERED", zcopy::Mode::EDGE.bits())?;
    m.add("ONESHOT", zcopy::Mode::ONESHOT.bits())?;
    m.add("EXCLUSIVE", zcopy::Mode::EXCLUSIVE.bits())?;
    Ok(())
}
