//! The FFI boundary: the panic-catching macro every exported function runs inside, the
//! binding-level failures, and the small helpers that turn C arguments into Rust ones.
//!
//! Exported functions hold almost no `unsafe` of their own: out-parameters go through [`store`]
//! (one) or [`Out`] (several), caller buffers through [`slice`] / [`slice_mut`], descriptors
//! through [`c_fd`], handles through the tables in [`crate::handle`].

use std::os::fd::BorrowedFd;
use std::os::raw::c_int;
use std::ptr::NonNull;

use crate::error::{self, zc_result};

/// Why an exported function failed: a core error (mapped through the one table in
/// [`crate::error::result_of`]) or a failure that only the C surface can have.
#[derive(Debug)]
pub(crate) enum Failure {
    /// An error from the core.
    Core(zcopy::Error),
    /// A pointer parameter that must not be NULL was NULL.
    Null {
        /// The parameter's name.
        param: &'static str,
    },
    /// A handle that is not (or no longer) a live handle of the expected type.
    BadHandle {
        /// "region", "selector", "lease".
        what: &'static str,
        /// Why it was refused.
        why: &'static str,
    },
    /// A caller buffer is too small for the result.
    InsufficientSpace {
        /// What the buffer is for.
        what: &'static str,
        /// The size needed.
        need: usize,
        /// The size given.
        have: usize,
    },
    /// A panic was caught at the boundary.
    Panic(String),
}

impl From<zcopy::Error> for Failure {
    fn from(e: zcopy::Error) -> Failure {
        Failure::Core(e)
    }
}

/// `Result` of an exported body.
pub(crate) type CResult<T> = Result<T, Failure>;

/// An invalid-argument failure for a value only the C surface sees (an unknown mode number, an
/// unknown flag bit), classified exactly as the core classifies its own.
pub(crate) fn invalid(op: &'static str, reason: impl Into<String>) -> Failure {
    Failure::Core(zcopy::Error::InvalidArgument {
        op,
        reason: reason.into(),
    })
}

/// Runs an exported body inside `catch_unwind` and turns its outcome into a `zc_result`,
/// recording the per-thread error detail on failure. The first argument names the function for
/// messages.
///
/// ```ignore
/// ffi_boundary!("zc_region_force", {
///     let region = REGIONS.get(region)?;
///     region.force()?;
///     Ok(())
/// })
/// ```
macro_rules! ffi_boundary {
    ($name:literal, $body:block) => {{
        let body = || -> $crate::boundary::CResult<()> { $body };
        $crate::boundary::finish(
            $name,
            ::std::panic::catch_unwind(::std::panic::AssertUnwindSafe(body)),
        )
    }};
}
pub(crate) use ffi_boundary;

/// Like [`ffi_boundary!`] for functions that return a value instead of a `zc_result`: on
/// failure (recorded as the last error) or panic they return `$default`.
macro_rules! ffi_value {
    ($name:literal, $default:expr, $body:block) => {{
        let body = || -> $crate::boundary::CResult<_> { $body };
        $crate::boundary::finish_value(
            $name,
            $default,
            ::std::panic::catch_unwind(::std::panic::AssertUnwindSafe(body)),
        )
    }};
}
pub(crate) use ffi_value;

/// Ends an exported body: `ZC_OK`, or the code of the failure (recorded for
/// `zc_last_errno` / `zc_last_error_message`), or `ZC_ERR_PANIC`.
pub(crate) fn finish(name: &'static str, outcome: std::thread::Result<CResult<()>>) -> zc_result {
    match outcome {
        Ok(Ok(())) => error::ZC_OK,
        Ok(Err(failure)) => error::record(name, failure),
        Err(payload) => error::record(name, Failure::Panic(zcopy::binding::panic_message(&*payload))),
    }
}

/// Ends a value-returning body: the value, or `default` after recording the failure.
pub(crate) fn finish_value<T>(name: &'static str, default: T, outcome: std::thread::Result<CResult<T>>) -> T {
    match outcome {
        Ok(Ok(value)) => value,
        Ok(Err(failure)) => {
            error::record(name, failure);
            default
        }
        Err(payload) => {
            error::record(name, Failure::Panic(zcopy::binding::panic_message(&*payload)));
            default
        }
    }
}

/// A checked, non-NULL out-parameter. Checked before any work is done, written only once the
/// work succeeded ("no partial successes").
pub(crate) struct Out<T>(NonNull<T>);

impl<T> Out<T> {
    /// Refuses NULL with `ZC_ERR_NULL_PARAM` naming `param`.
    pub(crate) fn new(ptr: *mut T, param: &'static str) -> CResult<Out<T>> {
        NonNull::new(ptr).map(Out).ok_or(Failure::Null { param })
    }

    /// Stores `value` without reading or dropping what the caller's memory held.
    ///
    /// # Safety
    ///
    /// - The pointer given to [`Out::new`] must be valid for a write of one `T` (it may be
    ///   unaligned and uninitialised).
    pub(crate) unsafe fn write(self, value: T) {
        // SAFETY: the caller vouches that the pointer is valid for writes; write_unaligned
        // neither reads nor drops the old contents and accepts any alignment.
        unsafe { self.0.as_ptr().write_unaligned(value) }
    }
}

/// Stores what `value` computes in the out-parameter `out`: the rule of every function with one
/// out-parameter, kept here. `out` is refused when NULL before any work is done, and written only
/// when the work succeeded ("no partial successes").
///
/// # Safety
///
/// - `out` must be NULL or valid for a write of one `T` (it may be unaligned and uninitialised).
pub(crate) unsafe fn store<T>(
    out: *mut T,
    param: &'static str,
    value: impl FnOnce() -> CResult<T>,
) -> CResult<()> {
    let out = Out::new(out, param)?;
    let value = value()?;
    // SAFETY: non-null, and the caller vouches that `out` is writable.
    unsafe { out.write(value) };
    Ok(())
}

/// A caller's input buffer as a slice; `len == 0` accepts NULL.
///
/// # Safety
///
/// - Unless `len` is 0, `ptr` must point to `len` readable bytes that stay unchanged for `'a`.
pub(crate) unsafe fn slice<'a>(ptr: *const u8, len: usize, param: &'static str) -> CResult<&'a [u8]> {
    if len == 0 {
        return Ok(&[]);
    }
    if ptr.is_null() {
        return Err(Failure::Null { param });
    }
    // SAFETY: non-null, and the caller vouches for `len` readable bytes.
    Ok(unsafe { std::slice::from_raw_parts(ptr, len) })
}

/// A caller's output buffer as a mutable slice; `len == 0` accepts NULL.
///
/// # Safety
///
/// - Unless `len` is 0, `ptr` must point to `len` writable bytes that nothing else uses for `'a`.
pub(crate) unsafe fn slice_mut<'a>(ptr: *mut u8, len: usize, param: &'static str) -> CResult<&'a mut [u8]> {
    if len == 0 {
        return Ok(&mut []);
    }
    if ptr.is_null() {
        return Err(Failure::Null { param });
    }
    // SAFETY: non-null, and the caller vouches for `len` writable, unaliased bytes.
    Ok(unsafe { std::slice::from_raw_parts_mut(ptr, len) })
}

/// A C descriptor number as a borrowed descriptor, by the core's rule for numbers that cannot be
/// open ([`zcopy::binding::fd_number`]: a negative number is reported as a closed descriptor,
/// `ZC_ERR_CLOSED`, in the core's own check order).
///
/// The descriptor belongs to the caller, who must keep it open for the duration of the call (a
/// number closed by another thread meanwhile is the same bug it would be with the system call).
/// The C API does not guard against that with duplicates, as the Python binding does: a `dup`
/// and a `close` per call cost more than a small transfer, and a C program that shares
/// descriptors between threads can duplicate them itself.
pub(crate) fn c_fd(raw: c_int) -> BorrowedFd<'static> {
    // SAFETY: the number is only passed to system calls, which report EBADF for a number that is
    // not open; the caller keeps it open for the call, as every function's documentation requires.
    unsafe { zcopy::binding::borrow_fd(zcopy::binding::fd_number(raw.into())) }
}
