//! Transfers: `zc_transfer_to` / `zc_transfer_from` with Java `FileChannel` semantics, the
//! "transfer all" loop, forced methods, header + body, and direct `sendfile`, `splice`, `tee`.

use std::ffi::CString;
use std::os::raw::{c_char, c_int};
use std::sync::OnceLock;

use zcopy::{Policy, SpliceFlags, Transfer, TransferMethod, TransferRequest};

use crate::boundary::{self, c_fd, ffi_boundary, ffi_value, invalid, store, CResult, Out};
use crate::error::zc_result;

/// The kernel path that moved the bytes of a transfer (`ZC_METHOD_*`).
pub type zc_transfer_method = u32;
/// Nothing moved, so no method ran (a count of 0, a position at or past the end of the file).
pub const ZC_METHOD_NONE: zc_transfer_method = 0;
/// `copy_file_range(2)`: in-kernel file-to-file copy (block sharing on reflink file systems).
pub const ZC_METHOD_COPY_FILE_RANGE: zc_transfer_method = 1;
/// `sendfile(2)`: in-kernel file to any descriptor.
pub const ZC_METHOD_SENDFILE: zc_transfer_method = 2;
/// `splice(2)`, through a pipe kept per thread where neither side is a pipe.
pub const ZC_METHOD_SPLICE: zc_transfer_method = 3;
/// The source mapped read-only and `write(2)` from the mapping: one CPU copy.
pub const ZC_METHOD_MMAP_WRITE: zc_transfer_method = 4;
/// A `read(2)` / `write(2)` loop through a buffer: two CPU copies.
pub const ZC_METHOD_READ_WRITE: zc_transfer_method = 5;

/// `zc_splice` / `zc_tee` flag: move pages instead of copying (a hint; `SPLICE_F_MOVE`).
pub const ZC_SPLICE_F_MOVE: u32 = 1;
/// `zc_splice` / `zc_tee` flag: do not block on the pipe (`SPLICE_F_NONBLOCK`).
pub const ZC_SPLICE_F_NONBLOCK: u32 = 2;
/// `zc_splice` / `zc_tee` flag: more data will follow (`SPLICE_F_MORE`).
pub const ZC_SPLICE_F_MORE: u32 = 4;

/// The most bytes one `zc_transfer_to` call moves (sendfile's per-call maximum, as in the JDK).
pub const ZC_MAX_DIRECT_TRANSFER: u64 = 0x7fff_f000;

/// The outcome of a transfer. Plain data: the caller owns it.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct zc_transfer {
    /// Bytes moved.
    pub bytes: u64,
    /// The method that moved them (`ZC_METHOD_*`); `ZC_METHOD_NONE` when nothing moved.
    pub method: zc_transfer_method,
    /// The non-blocking side (target of a transfer to, source of a transfer from) could not take
    /// or give more without blocking: wait for it (`zc_selector`) and call again. Not an error.
    pub would_block: bool,
    /// Every system call the transfer made: the checks, probes and fallbacks, the SIGPIPE
    /// shield, and for `zc_transfer_to_with_header` the header's `send`.
    /// New fields are only ever appended after this one.
    pub syscalls: u64,
}

/// A method number from C: one that [`TransferMethod::from_code`] knows, and not `ZC_METHOD_NONE`
/// (nothing to force).
fn method_from(op: &'static str, m: zc_transfer_method) -> CResult<TransferMethod> {
    TransferMethod::from_code(m)
        .filter(|&m| m != TransferMethod::None)
        .ok_or_else(|| invalid(op, format!("{m} is not a transfer method to force")))
}

fn c_transfer(t: Transfer) -> zc_transfer {
    zc_transfer {
        bytes: t.bytes,
        method: t.method.code(),
        would_block: t.would_block,
        syscalls: t.syscalls,
    }
}

/// The body of every `zc_transfer_*` function that has one `out`: checks `out`, then the method
/// a `_using` function forces (`Some((op, number))`; `op` names the call in the error), runs
/// `request` on the caller's descriptors (which the caller keeps open during the call), and
/// stores the outcome in `*out`. The core checks the descriptors and the range, in the JDK's
/// order.
///
/// # Safety
///
/// - `out` must be NULL or valid for a write of one `zc_transfer`.
unsafe fn transfer(
    out: *mut zc_transfer,
    request: TransferRequest<'_>,
    forced: Option<(&'static str, zc_transfer_method)>,
    source: c_int,
    target: c_int,
) -> CResult<()> {
    // SAFETY: the caller vouches that `out` is NULL or writable.
    unsafe {
        store(out, "out", || {
            let method = forced.map(|(op, m)| method_from(op, m)).transpose()?;
            let t = request.method(method).run(c_fd(source), c_fd(target))?;
            Ok(c_transfer(t))
        })
    }
}

/// Transfers up to `count` bytes of the file open on `src`, starting at `position`, to `target`
/// (a socket, pipe, file or device), with Java `FileChannel.transferTo` semantics, and stores
/// the outcome in `*out`.
///
/// - `src`'s file position does not change; a `target` with a position advances.
/// - `count` is clamped at the end of the file; a position at or past the end moves 0 bytes.
/// - One call moves at most `ZC_MAX_DIRECT_TRANSFER` bytes (`zc_transfer_all` moves any amount).
/// - On a non-blocking `target` it moves what fits and returns: `out->would_block` is set (with
///   0 bytes when nothing fitted). Not an error. `EINTR` is retried.
/// - A peer that has gone gives `ZC_ERR_IO` with `EPIPE`/`ECONNRESET`, never a `SIGPIPE` death
///   (when `SIGPIPE` is not ignored, it is blocked around the call and a pending one consumed).
/// - The route depends on the pair of descriptors: `copy_file_range` between files (`sendfile`
///   on tmpfs), mmap + `write` to a TCP peer on this host and `splice` to an `AF_UNIX` peer for
///   64 KiB and more, `sendfile` to other targets and for smaller transfers to sockets; a route
///   that cannot serve the pair falls through to the next. `out->method` says which one ran.
///
/// The descriptors stay the caller's, who keeps them open during the call.
///
/// # Errors
///
/// In `FileChannel.transferTo`'s order: `ZC_ERR_CLOSED` (`src`, then `target`, not open or
/// negative), `ZC_ERR_NOT_READABLE`, `ZC_ERR_NOT_WRITABLE`, then `ZC_ERR_INVALID_ARG` (negative
/// position or count); `ZC_ERR_IO` with `EISDIR`/`ESPIPE` for a `src` that is a directory, pipe
/// or socket, `EPIPE`/`ECONNRESET` for a vanished peer; `ZC_ERR_TRUNCATED` when the file shrank
/// under the mapped path; `ZC_ERR_NULL_PARAM` for a NULL `out`.
///
/// # Safety
///
/// - `out` must point to a writable `zc_transfer`.
#[must_use]
#[no_mangle]
pub unsafe extern "C" fn zc_transfer_to(
    src: c_int,
    position: i64,
    count: i64,
    target: c_int,
    out: *mut zc_transfer,
) -> zc_result {
    ffi_boundary!("zc_transfer_to", {
        // SAFETY: the caller vouches that `out` is NULL or writable.
        unsafe { transfer(out, TransferRequest::to(position, count), None, src, target) }
    })
}

/// Like `zc_transfer_to`, with one specific method (`ZC_METHOD_*`, not `ZC_METHOD_NONE`) and no
/// fallback: for benchmarks, tests and callers who want to know that a given kernel path moved
/// the bytes.
///
/// # Errors
///
/// As `zc_transfer_to`; `ZC_ERR_UNSUPPORTED` when `method` cannot serve these descriptors
/// (`copy_file_range` to a socket, ...); `ZC_ERR_INVALID_ARG` for an unknown method.
///
/// # Safety
///
/// - `out` must point to a writable `zc_transfer`.
#[must_use]
#[no_mangle]
pub unsafe extern "C" fn zc_transfer_to_using(
    method: zc_transfer_method,
    src: c_int,
    position: i64,
    count: i64,
    target: c_int,
    out: *mut zc_transfer,
) -> zc_result {
    ffi_boundary!("zc_transfer_to_using", {
        let forced = Some(("transfer_to", method));
        // SAFETY: the caller vouches that `out` is NULL or writable.
        unsafe { transfer(out, TransferRequest::to(position, count), forced, src, target) }
    })
}

/// Transfers up to `count` bytes from `src` (a socket, pipe or file, read from its own position,
/// which advances) into the file open on `target` at `position`, with Java
/// `FileChannel.transferFrom` semantics, and stores the outcome in `*out`.
///
/// - `target`'s position does not change; the file grows as needed (a position past its end
///   leaves a hole).
/// - The call stops early at the end of `src`, or when a non-blocking `src` has nothing more
///   (`out->would_block`, possibly with 0 bytes: not an error).
///
/// # Errors
///
/// In `FileChannel.transferFrom`'s order: `ZC_ERR_CLOSED` (`target`, then `src`),
/// `ZC_ERR_NOT_READABLE` (`src`), `ZC_ERR_NOT_WRITABLE` (`target`), then `ZC_ERR_INVALID_ARG`;
/// `ZC_ERR_IO` with `ESPIPE` when `target` is not a regular file; `ZC_ERR_NULL_PARAM`.
///
/// # Safety
///
/// - `out` must point to a writable `zc_transfer`.
#[must_use]
#[no_mangle]
pub unsafe extern "C" fn zc_transfer_from(
    target: c_int,
    src: c_int,
    position: i64,
    count: i64,
    out: *mut zc_transfer,
) -> zc_result {
    ffi_boundary!("zc_transfer_from", {
        // SAFETY: the caller vouches that `out` is NULL or writable.
        unsafe { transfer(out, TransferRequest::from(position, count), None, src, target) }
    })
}

/// Like `zc_transfer_from`, with one specific method and no fallback.
///
/// # Errors
///
/// As `zc_transfer_from`; `ZC_ERR_UNSUPPORTED`, `ZC_ERR_INVALID_ARG` as in
/// `zc_transfer_to_using`.
///
/// # Safety
///
/// - `out` must point to a writable `zc_transfer`.
#[must_use]
#[no_mangle]
pub unsafe extern "C" fn zc_transfer_from_using(
    method: zc_transfer_method,
    target: c_int,
    src: c_int,
    position: i64,
    count: i64,
    out: *mut zc_transfer,
) -> zc_result {
    ffi_boundary!("zc_transfer_from_using", {
        let forced = Some(("transfer_from", method));
        // SAFETY: the caller vouches that `out` is NULL or writable.
        unsafe { transfer(out, TransferRequest::from(position, count), forced, src, target) }
    })
}

/// Moves all `count` bytes (or up to the end of the file; pass `INT64_MAX` for "the rest") from
/// `src` at `position` to `target`, in as many system calls as it takes, past
/// `ZC_MAX_DIRECT_TRANSFER` too. A non-blocking `target` is waited for with `poll`, so this also
/// works on non-blocking descriptors from blocking code. `*out` holds the total and the method
/// of the last step.
///
/// # Errors
///
/// As `zc_transfer_to`. An error after some bytes moved is still an error (the count is lost
/// with it; loop over `zc_transfer_to` to keep it).
///
/// # Safety
///
/// - `out` must point to a writable `zc_transfer`.
#[must_use]
#[no_mangle]
pub unsafe extern "C" fn zc_transfer_all(
    src: c_int,
    position: i64,
    count: i64,
    target: c_int,
    out: *mut zc_transfer,
) -> zc_result {
    ffi_boundary!("zc_transfer_all", {
        let all = TransferRequest::to(position, count).policy(Policy::All);
        // SAFETY: the caller vouches that `out` is NULL or writable.
        unsafe { transfer(out, all, None, src, target) }
    })
}

/// Like `zc_transfer_all`, with one specific method and no fallback.
///
/// # Errors
///
/// As `zc_transfer_to_using`.
///
/// # Safety
///
/// - `out` must point to a writable `zc_transfer`.
#[must_use]
#[no_mangle]
pub unsafe extern "C" fn zc_transfer_all_using(
    method: zc_transfer_method,
    src: c_int,
    position: i64,
    count: i64,
    target: c_int,
    out: *mut zc_transfer,
) -> zc_result {
    ffi_boundary!("zc_transfer_all_using", {
        let all = TransferRequest::to(position, count).policy(Policy::All);
        let forced = Some(("transfer_all", method));
        // SAFETY: the caller vouches that `out` is NULL or writable.
        unsafe { transfer(out, all, forced, src, target) }
    })
}

/// Sends `header` (e.g. HTTP response headers) on the socket `target` with `MSG_MORE`, then
/// transfers the body as `zc_transfer_to` does, so that the header and the start of the body
/// leave in one TCP segment (what nginx gets from `tcp_nopush`). `*out_header_sent` receives the
/// header bytes sent, `*out_body` the body's transfer.
///
/// On a non-blocking socket either part may be short: send the rest of the header (again with
/// this function, `header + sent`) before more of the body. The body is only attempted once the
/// whole header went (`out_body->bytes` is 0 and `would_block` set otherwise).
///
/// # Errors
///
/// As `zc_transfer_to`; `ZC_ERR_IO` with `ENOTSOCK` when `target` is not a socket;
/// `ZC_ERR_NULL_PARAM` (NULL `header` with `header_len > 0`, NULL out-parameters).
///
/// # Safety
///
/// - `header` must point to `header_len` readable bytes (or be NULL with `header_len == 0`).
/// - `out_header_sent` must point to a writable `size_t`, `out_body` to a writable `zc_transfer`.
#[must_use]
#[no_mangle]
pub unsafe extern "C" fn zc_transfer_to_with_header(
    src: c_int,
    position: i64,
    count: i64,
    target: c_int,
    header: *const u8,
    header_len: usize,
    out_header_sent: *mut usize,
    out_body: *mut zc_transfer,
) -> zc_result {
    ffi_boundary!("zc_transfer_to_with_header", {
        let out_header_sent = Out::new(out_header_sent, "out_header_sent")?;
        let out_body = Out::new(out_body, "out_body")?;
        // SAFETY: the caller vouches for `header_len` readable bytes at `header`.
        let header = unsafe { boundary::slice(header, header_len, "header") }?;
        let request = TransferRequest::to(position, count).header(header);
        let t = request.run(c_fd(src), c_fd(target))?;
        // SAFETY: the caller vouches that both out-parameters are writable.
        unsafe {
            out_header_sent.write(t.header);
            out_body.write(c_transfer(t));
        }
        Ok(())
    })
}

/// Reads an optional signed offset from C.
///
/// # Safety
///
/// - `offset` is NULL or points to a readable `int64_t`.
unsafe fn read_offset(op: &'static str, offset: *const i64) -> CResult<Option<u64>> {
    if offset.is_null() {
        return Ok(None);
    }
    // SAFETY: non-null, and the caller vouches that it is readable.
    let value = unsafe { offset.read_unaligned() };
    Ok(Some(zcopy::non_negative(op, "offset", value)?))
}

/// Writes back an offset the core advanced.
///
/// # Safety
///
/// - `offset` is NULL or points to a writable `int64_t`.
unsafe fn write_offset(offset: *mut i64, value: Option<u64>) {
    if let (false, Some(v)) = (offset.is_null(), value) {
        // SAFETY: the caller vouches that it is writable; the core keeps offsets within i64.
        unsafe { offset.write_unaligned(v as i64) };
    }
}

/// One `sendfile(2)` call, as the man page describes it: up to `count` bytes (at most
/// `ZC_MAX_DIRECT_TRANSFER`) from `in_fd` to `out_fd`. With `offset` not NULL, reads at `*offset`
/// and advances `*offset` (not `in_fd`'s position); with NULL, reads from and advances `in_fd`'s
/// position. `*out_n` receives the bytes moved (0 at end of file).
///
/// `*offset` and `*out_n` are written only on success.
///
/// # Errors
///
/// `ZC_ERR_WOULD_BLOCK` when a non-blocking `out_fd` is full; `ZC_ERR_CLOSED` (`EBADF`);
/// `ZC_ERR_INVALID_ARG` for a negative `*offset`; `ZC_ERR_IO` otherwise (`EPIPE` for a vanished
/// peer, never a `SIGPIPE` death; `EINVAL` for unsuitable descriptors).
///
/// # Safety
///
/// - `offset` is NULL or points to a readable and writable `int64_t`.
/// - `out_n` must point to a writable `size_t`.
#[must_use]
#[no_mangle]
pub unsafe extern "C" fn zc_sendfile(
    out_fd: c_int,
    in_fd: c_int,
    offset: *mut i64,
    count: usize,
    out_n: *mut usize,
) -> zc_result {
    ffi_boundary!("zc_sendfile", {
        const OP: &str = "sendfile";
        let out_n = Out::new(out_n, "out_n")?;
        let (out_fd, in_fd) = (c_fd(out_fd), c_fd(in_fd));
        // SAFETY: the caller vouches that `offset` is NULL or readable.
        let mut off = unsafe { read_offset(OP, offset) }?;
        let n = zcopy::sendfile(out_fd, in_fd, off.as_mut(), count)?;
        // SAFETY: the caller vouches that both are writable (`offset` when not NULL).
        unsafe {
            write_offset(offset, off);
            out_n.write(n);
        }
        Ok(())
    })
}

/// One `splice(2)` call between `fd_in` and `fd_out`, one of which must be a pipe (whose offset
/// must be NULL). Offsets behave as in `zc_sendfile`. `flags` is 0 or an OR of `ZC_SPLICE_F_*`.
/// `*out_n` receives the bytes moved (0 at end of input).
///
/// # Errors
///
/// As `zc_sendfile`; `ZC_ERR_IO` with `EINVAL` when neither side is a pipe; `ZC_ERR_INVALID_ARG`
/// for unknown flags.
///
/// # Safety
///
/// - `off_in` and `off_out` are NULL or point to readable and writable `int64_t`s.
/// - `out_n` must point to a writable `size_t`.
#[must_use]
#[no_mangle]
pub unsafe extern "C" fn zc_splice(
    fd_in: c_int,
    off_in: *mut i64,
    fd_out: c_int,
    off_out: *mut i64,
    len: usize,
    flags: u32,
    out_n: *mut usize,
) -> zc_result {
    ffi_boundary!("zc_splice", {
        const OP: &str = "splice";
        let out_n = Out::new(out_n, "out_n")?;
        let flags = SpliceFlags::from_bits(flags)?;
        let (fd_in, fd_out) = (c_fd(fd_in), c_fd(fd_out));
        // SAFETY: the caller vouches that the offsets are NULL or readable.
        let (mut oin, mut oout) = unsafe { (read_offset(OP, off_in)?, read_offset(OP, off_out)?) };
        let n = zcopy::splice(fd_in, oin.as_mut(), fd_out, oout.as_mut(), len, flags)?;
        // SAFETY: the caller vouches that these are writable (offsets when not NULL).
        unsafe {
            write_offset(off_in, oin);
            write_offset(off_out, oout);
            out_n.write(n);
        }
        Ok(())
    })
}

/// One `tee(2)` call: duplicates up to `len` bytes from pipe `fd_in` into pipe `fd_out` without
/// consuming them. `*out_n` receives the bytes duplicated.
///
/// # Errors
///
/// As `zc_splice`.
///
/// # Safety
///
/// - `out_n` must point to a writable `size_t`.
#[must_use]
#[no_mangle]
pub unsafe extern "C" fn zc_tee(
    fd_in: c_int,
    fd_out: c_int,
    len: usize,
    flags: u32,
    out_n: *mut usize,
) -> zc_result {
    ffi_boundary!("zc_tee", {
        // SAFETY: the caller vouches that `out_n` is NULL or writable.
        unsafe {
            store(out_n, "out_n", || {
                let flags = SpliceFlags::from_bits(flags)?;
                Ok(zcopy::tee(c_fd(fd_in), c_fd(fd_out), len, flags)?)
            })
        }
    })
}

/// The name of a transfer method as reports print it: `"copy_file_range"`, `"sendfile"`,
/// `"splice"`, `"mmap+write"`, `"read/write"`, `"none"`; `"unknown"` for other numbers.
///
/// The returned string is static: never free it.
#[no_mangle]
pub extern "C" fn zc_transfer_method_name(method: zc_transfer_method) -> *const c_char {
    ffi_value!("zc_transfer_method_name", c"unknown".as_ptr(), {
        static NAMES: OnceLock<Vec<CString>> = OnceLock::new();
        let names = NAMES.get_or_init(|| {
            (0..16)
                .map(|code| {
                    let name = TransferMethod::from_code(code).map_or("unknown", TransferMethod::name);
                    CString::new(name).expect("method names have no NUL byte")
                })
                .collect()
        });
        Ok(names
            .get(method as usize)
            .map_or(c"unknown".as_ptr(), |n| n.as_ptr()))
    })
}

/// Whether the method moves bytes without a CPU copy through user space (`copy_file_range`,
/// `sendfile`, `splice`).
#[no_mangle]
pub extern "C" fn zc_transfer_method_is_zero_copy(method: zc_transfer_method) -> bool {
    ffi_value!("zc_transfer_method_is_zero_copy", false, {
        Ok(TransferMethod::from_code(method).is_some_and(TransferMethod::is_zero_copy))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::CStr;

    #[test]
    fn method_numbers_agree_with_the_core() {
        let constants = [
            (ZC_METHOD_NONE, TransferMethod::None),
            (ZC_METHOD_COPY_FILE_RANGE, TransferMethod::CopyFileRange),
            (ZC_METHOD_SENDFILE, TransferMethod::Sendfile),
            (ZC_METHOD_SPLICE, TransferMethod::Splice),
            (ZC_METHOD_MMAP_WRITE, TransferMethod::MmapWrite),
            (ZC_METHOD_READ_WRITE, TransferMethod::ReadWrite),
        ];
        assert_eq!(
            constants.len(),
            TransferMethod::ALL.len() + 1,
            "a ZC_METHOD_* for every method"
        );
        for (code, m) in constants {
            assert_eq!(m.code(), code);
            // SAFETY: static NUL-terminated names.
            let name = unsafe { CStr::from_ptr(zc_transfer_method_name(code)) };
            assert_eq!(name.to_str().unwrap(), m.name());
            assert_eq!(zc_transfer_method_is_zero_copy(code), m.is_zero_copy());
        }
        for m in TransferMethod::ALL {
            assert_eq!(method_from("t", m.code()).unwrap(), m);
        }
        assert!(method_from("t", ZC_METHOD_NONE).is_err());
        // SAFETY: static NUL-terminated names.
        assert_eq!(unsafe { CStr::from_ptr(zc_transfer_method_name(99)) }, c"unknown");
    }

    #[test]
    fn constants_agree_with_the_core_and_libc() {
        assert_eq!(ZC_MAX_DIRECT_TRANSFER, zcopy::MAX_DIRECT_TRANSFER);
        assert_eq!(ZC_SPLICE_F_MOVE, libc::SPLICE_F_MOVE);
        assert_eq!(ZC_SPLICE_F_NONBLOCK, libc::SPLICE_F_NONBLOCK);
        assert_eq!(ZC_SPLICE_F_MORE, libc::SPLICE_F_MORE);
    }
}
