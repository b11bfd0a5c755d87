//! Result codes, the one table from `zcopy::Error` to them, and the per-thread error detail.

use std::cell::RefCell;
use std::ffi::CStr;
use std::os::raw::{c_char, c_int};

use zcopy::ErrorKind;

use crate::boundary::{ffi_boundary, ffi_value, Failure, Out};

/// The outcome of a fallible zcopy function: `ZC_OK` (0) or one of the `ZC_ERR_*` codes.
///
/// The numbers are fixed and never reused; a code that is retired stays listed as reserved.
/// The code is the contract; `zc_last_errno()` and `zc_last_error_message()` add best-effort
/// detail.
pub type zc_result = u32;

/// Success.
pub const ZC_OK: zc_result = 0;
/// An argument is out of its domain: a negative position, count or size, a sum that overflows,
/// an unknown mode, flag or advice number (errno `EINVAL`).
pub const ZC_ERR_INVALID_ARG: zc_result = 1;
/// A descriptor, region or selector is closed (errno `EBADF`).
pub const ZC_ERR_CLOSED: zc_result = 2;
/// A descriptor is not open for reading (errno `EBADF`).
pub const ZC_ERR_NOT_READABLE: zc_result = 3;
/// A descriptor is not open for writing, or a region is read-only (errno `EBADF`).
pub const ZC_ERR_NOT_WRITABLE: zc_result = 4;
/// A range does not lie inside a region (errno `EINVAL`).
pub const ZC_ERR_OUT_OF_RANGE: zc_result = 5;
/// A mapping would reach past the end of the file and the file may not grow (errno `EINVAL`).
pub const ZC_ERR_PAST_EOF: zc_result = 6;
/// A non-blocking descriptor would have blocked before anything moved (errno `EAGAIN`).
pub const ZC_ERR_WOULD_BLOCK: zc_result = 7;
/// The running kernel lacks a feature, or a forced transfer method cannot serve the
/// descriptors (errno `EOPNOTSUPP`).
pub const ZC_ERR_UNSUPPORTED: zc_result = 8;
/// The file behind a region was truncated under it (errno `EFAULT`).
pub const ZC_ERR_TRUNCATED: zc_result = 9;
/// A system call failed; `zc_last_errno()` holds its errno (`EPIPE`, `ENODEV`, `ESPIPE`, ...).
pub const ZC_ERR_IO: zc_result = 10;
/// A pointer parameter that must not be NULL was NULL (errno `EINVAL`).
pub const ZC_ERR_NULL_PARAM: zc_result = 11;
/// A handle is not a live handle of its type: already freed, never returned by zcopy, or of
/// another type (errno `EBADF`).
pub const ZC_ERR_BAD_HANDLE: zc_result = 12;
/// A caller buffer is too small for the result (errno `ERANGE`).
pub const ZC_ERR_INSUFFICIENT_SPACE: zc_result = 13;
/// A bug inside zcopy panicked; the panic was caught at the boundary (errno 0).
pub const ZC_ERR_PANIC: zc_result = 14;

/// THE table: the one place where a core error becomes a C result code. Every exported function
/// reaches it through `record`.
pub(crate) fn result_of(err: &zcopy::Error) -> zc_result {
    match err.kind() {
        ErrorKind::InvalidArgument => ZC_ERR_INVALID_ARG,
        ErrorKind::Closed => ZC_ERR_CLOSED,
        ErrorKind::NotReadable => ZC_ERR_NOT_READABLE,
        ErrorKind::NotWritable => ZC_ERR_NOT_WRITABLE,
        ErrorKind::OutOfRange => ZC_ERR_OUT_OF_RANGE,
        ErrorKind::PastEndOfFile => ZC_ERR_PAST_EOF,
        ErrorKind::WouldBlock => ZC_ERR_WOULD_BLOCK,
        ErrorKind::Unsupported => ZC_ERR_UNSUPPORTED,
        ErrorKind::Truncated => ZC_ERR_TRUNCATED,
        // `Io`, and any class a newer core adds before this table learns it.
        _ => ZC_ERR_IO,
    }
}

/// The code, errno and message of a failure.
fn describe(name: &'static str, failure: Failure) -> (zc_result, c_int, String) {
    match failure {
        Failure::Core(err) => (result_of(&err), err.raw_os_error().unwrap_or(0), err.to_string()),
        Failure::Null { param } => (
            ZC_ERR_NULL_PARAM,
            libc::EINVAL,
            format!("{name}: {param} is NULL"),
        ),
        Failure::BadHandle { what, why } => (
            ZC_ERR_BAD_HANDLE,
            libc::EBADF,
            format!("{name}: not a live {what} handle ({why})"),
        ),
        Failure::InsufficientSpace { what, need, have } => (
            ZC_ERR_INSUFFICIENT_SPACE,
            libc::ERANGE,
            format!("{name}: {what} needs room for {need}, the buffer holds {have}"),
        ),
        Failure::Panic(msg) => (ZC_ERR_PANIC, 0, format!("{name}: panic inside zcopy: {msg}")),
    }
}

struct LastError {
    errno: c_int,
    message: String,
}

thread_local! {
    static LAST: RefCell<LastError> = const {
        RefCell::new(LastError { errno: 0, message: String::new() })
    };
}

/// Records `failure` as this thread's last error (and in `errno`) and returns its code.
pub(crate) fn record(name: &'static str, failure: Failure) -> zc_result {
    let (code, errno, message) = describe(name, failure);
    // A thread being torn down has no slot left; the code is still returned.
    let _ = LAST.try_with(|last| {
        if let Ok(mut last) = last.try_borrow_mut() {
            last.errno = errno;
            last.message = message;
        }
    });
    // SAFETY: __errno_location returns this thread's errno slot.
    unsafe { *libc::__errno_location() = errno };
    code
}

/// The name of a result code, such as `"ZC_ERR_TRUNCATED"`; `"ZC_ERR_UNKNOWN"` for a number
/// that is not a code.
///
/// The returned string is static: never free it.
#[no_mangle]
pub extern "C" fn zc_result_str(result: zc_result) -> *const c_char {
    ffi_value!("zc_result_str", c"ZC_ERR_UNKNOWN".as_ptr(), {
        Ok(result_name(result).as_ptr())
    })
}

fn result_name(result: zc_result) -> &'static CStr {
    match result {
        ZC_OK => c"ZC_OK",
        ZC_ERR_INVALID_ARG => c"ZC_ERR_INVALID_ARG",
        ZC_ERR_CLOSED => c"ZC_ERR_CLOSED",
        ZC_ERR_NOT_READABLE => c"ZC_ERR_NOT_READABLE",
        ZC_ERR_NOT_WRITABLE => c"ZC_ERR_NOT_WRITABLE",
        ZC_ERR_OUT_OF_RANGE => c"ZC_ERR_OUT_OF_RANGE",
        ZC_ERR_PAST_EOF => c"ZC_ERR_PAST_EOF",
        ZC_ERR_WOULD_BLOCK => c"ZC_ERR_WOULD_BLOCK",
        ZC_ERR_UNSUPPORTED => c"ZC_ERR_UNSUPPORTED",
        ZC_ERR_TRUNCATED => c"ZC_ERR_TRUNCATED",
        ZC_ERR_IO => c"ZC_ERR_IO",
        ZC_ERR_NULL_PARAM => c"ZC_ERR_NULL_PARAM",
        ZC_ERR_BAD_HANDLE => c"ZC_ERR_BAD_HANDLE",
        ZC_ERR_INSUFFICIENT_SPACE => c"ZC_ERR_INSUFFICIENT_SPACE",
        ZC_ERR_PANIC => c"ZC_ERR_PANIC",
        _ => c"ZC_ERR_UNKNOWN",
    }
}

/// The errno behind this thread's last failed zcopy call (also stored in `errno` by the failing
/// call): the system call's own errno for `ZC_ERR_IO`, the class's errno otherwise (see each
/// code), 0 when there is none or no call failed yet.
///
/// Meaningful right after a call returned an error; successful calls leave it unchanged.
#[no_mangle]
pub extern "C" fn zc_last_errno() -> c_int {
    ffi_value!("zc_last_errno", 0, {
        Ok(LAST.try_with(|l| l.borrow().errno).unwrap_or(0))
    })
}

/// Copies this thread's last error message (UTF-8, NUL-terminated) into `buf`.
///
/// `len` is the size of `buf` in bytes. A message longer than `len - 1` bytes is cut at a
/// character boundary. `*out_n` receives the number of bytes written, without the NUL.
/// `buf == NULL` with `len == 0` asks only for the full length: `*out_n` receives it (without the
/// NUL) and nothing else is written. The message is empty when no call failed on this thread.
///
/// Meaningful right after a call returned an error; successful calls leave it unchanged, and this
/// function does not change it either.
///
/// # Errors
///
/// `ZC_ERR_NULL_PARAM` when `out_n` is NULL, or `buf` is NULL with `len > 0`;
/// `ZC_ERR_INSUFFICIENT_SPACE` when `buf` is not NULL and `len` is 0 (no room for the NUL).
///
/// # Safety
///
/// - `buf` must point to `len` writable bytes (or be NULL with `len == 0`).
/// - `out_n` must point to a writable `size_t`.
#[must_use]
#[no_mangle]
pub unsafe extern "C" fn zc_last_error_message(buf: *mut c_char, len: usize, out_n: *mut usize) -> zc_result {
    ffi_boundary!("zc_last_error_message", {
        // Read before anything can fail: a failure of this very call is recorded in the same slot
        // (after this body returns).
        let message = LAST.try_with(|l| l.borrow().message.clone()).unwrap_or_default();
        let out_n = Out::new(out_n, "out_n")?;
        if buf.is_null() && len == 0 {
            // SAFETY: `out_n` is non-null and the caller vouches it is writable.
            unsafe { out_n.write(message.len()) };
            return Ok(());
        }
        if !buf.is_null() && len == 0 {
            return Err(Failure::InsufficientSpace {
                what: "the message",
                need: message.len() + 1,
                have: 0,
            });
        }
        // SAFETY: the caller vouches for `len` writable bytes at `buf` (NULL with len > 0 is
        // refused by `slice_mut`).
        let dst = unsafe { crate::boundary::slice_mut(buf.cast::<u8>(), len, "buf") }?;
        let mut n = message.len().min(len - 1);
        while !message.is_char_boundary(n) {
            n -= 1;
        }
        dst[..n].copy_from_slice(&message.as_bytes()[..n]);
        dst[n] = 0;
        // SAFETY: as above for `out_n`.
        unsafe { out_n.write(n) };
        Ok(())
    })
}

/// Panics inside Rust on purpose and returns what the boundary made of it: `ZC_ERR_PANIC`, with
/// the panic's message as the last error message.
///
/// For zcopy's own tests, which prove that a panic never crosses into C: built only with the
/// `test-hooks` feature (`make` builds the tests' library with it; the library users get has no
/// such symbol, and the header does not declare it). Rust's default panic hook prints the panic
/// to stderr first.
///
/// cbindgen:ignore
#[cfg(any(test, feature = "test-hooks"))]
#[no_mangle]
pub extern "C" fn zc_debug_panic() -> zc_result {
    ffi_boundary!("zc_debug_panic", {
        let armed = std::hint::black_box(true);
        if armed {
            panic!("zc_debug_panic was called");
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_its_own_code() {
        use zcopy::Error;
        let io = std::io::Error::from_raw_os_error(libc::EPIPE);
        // One line a kind: the error, its code, its errno.
        #[rustfmt::skip]
        let cases = [
            (Error::InvalidArgument { op: "t", reason: "x".into() }, ZC_ERR_INVALID_ARG, libc::EINVAL),
            (Error::Closed { op: "t", what: zcopy::Resource::Region }, ZC_ERR_CLOSED, libc::EBADF),
            (Error::NotReadable { op: "t" }, ZC_ERR_NOT_READABLE, libc::EBADF),
            (Error::NotWritable { op: "t" }, ZC_ERR_NOT_WRITABLE, libc::EBADF),
            (Error::OutOfRange { op: "t", offset: 1, len: 2, size: 0 }, ZC_ERR_OUT_OF_RANGE, libc::EINVAL),
            (Error::PastEndOfFile { op: "t", end: 1, file_size: 0, reason: "r" }, ZC_ERR_PAST_EOF, libc::EINVAL),
            (Error::WouldBlock { op: "t" }, ZC_ERR_WOULD_BLOCK, libc::EAGAIN),
            (Error::Unsupported { op: "t", feature: "f", min_kernel: "9" }, ZC_ERR_UNSUPPORTED, libc::EOPNOTSUPP),
            (Error::Truncated { op: "t" }, ZC_ERR_TRUNCATED, libc::EFAULT),
            (Error::Io { op: "t", source: io }, ZC_ERR_IO, libc::EPIPE),
        ];
        for (err, code, errno) in cases {
            let (c, e, msg) = describe("zc_test", Failure::Core(err));
            assert_eq!((c, e), (code, errno), "{msg}");
        }
    }

    #[test]
    fn codes_have_names_and_unknown_numbers_do_not_crash() {
        for code in ZC_OK..=ZC_ERR_PANIC {
            // SAFETY: zc_result_str returns a static NUL-terminated string.
            let name = unsafe { CStr::from_ptr(zc_result_str(code)) }.to_str().unwrap();
            assert!(
                name.starts_with("ZC_") && name != "ZC_ERR_UNKNOWN",
                "{code}: {name}"
            );
        }
        // SAFETY: as above.
        let unknown = unsafe { CStr::from_ptr(zc_result_str(999)) };
        assert_eq!(unknown.to_str().unwrap(), "ZC_ERR_UNKNOWN");
    }

    #[test]
    fn a_panic_becomes_a_code_and_a_message() {
        assert_eq!(zc_debug_panic(), ZC_ERR_PANIC);
        assert_eq!(zc_last_errno(), 0);
        let mut buf = [0 as c_char; 128];
        let mut n = 0usize;
        // SAFETY: the buffer and the count are valid for writes.
        let rc = unsafe { zc_last_error_message(buf.as_mut_ptr(), buf.len(), &mut n) };
        assert_eq!(rc, ZC_OK);
        // SAFETY: zc_last_error_message NUL-terminates.
        let msg = unsafe { CStr::from_ptr(buf.as_ptr()) }.to_str().unwrap();
        assert_eq!(msg.len(), n);
        assert!(msg.contains("zc_debug_panic was called"), "{msg}");
    }

    #[test]
    fn messages_are_cut_at_character_boundaries() {
        record(
            "zc_test",
            invalid_with("ééééé"), // two bytes per character
        );
        let mut full = 0usize;
        // SAFETY: NULL with len 0 only asks for the length.
        let rc = unsafe { zc_last_error_message(std::ptr::null_mut(), 0, &mut full) };
        assert_eq!(rc, ZC_OK);
        let mut buf = [0 as c_char; 64];
        let cut = full - 2; // room for all but the last character and its NUL
        let mut n = 0usize;
        // SAFETY: `buf` holds at least `cut` bytes.
        let rc = unsafe { zc_last_error_message(buf.as_mut_ptr(), cut, &mut n) };
        assert_eq!(rc, ZC_OK);
        assert!(n < cut);
        // SAFETY: NUL-terminated by the call.
        let msg = unsafe { CStr::from_ptr(buf.as_ptr()) };
        assert!(msg.to_str().is_ok(), "cut inside a character");
    }

    fn invalid_with(reason: &str) -> Failure {
        crate::boundary::invalid("t", reason)
    }
}
