//! The C API (work in progress).
