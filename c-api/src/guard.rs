//! The truncation guard (opt-in for C) and file leases.

use std::os::raw::c_int;
use std::sync::Mutex;

use zcopy::FileLease;

use crate::boundary::{c_fd, ffi_boundary, ffi_value, store};
use crate::error::zc_result;
use crate::handle::{to_ptr, HandleTable};

/// Installs the process-wide `SIGBUS` handler that lets a program survive a file truncated under
/// a zcopy region: a read or write through a region's pointer that hits a page past the file's
/// new end gets a zero page instead of killing the process, and the next call on that region
/// returns `ZC_ERR_TRUNCATED`.
///
/// Opt-in, once per process (idempotent, thread-safe); regions mapped before the call are
/// covered too. A `SIGBUS` outside zcopy regions goes to the handler that was installed before
/// this call (or, if there was none, ends the process as it would have). Install your own
/// `SIGBUS` handler before this call, not after: one installed later replaces the guard. Do not
/// call it inside a JVM.
///
/// # Errors
///
/// `ZC_ERR_IO` if `sigaction` fails.
#[must_use]
#[no_mangle]
pub extern "C" fn zc_guard_install() -> zc_result {
    ffi_boundary!("zc_guard_install", { Ok(zcopy::guard::install()?) })
}

/// Whether `zc_guard_install` has run in this process.
#[no_mangle]
pub extern "C" fn zc_guard_is_installed() -> bool {
    ffi_value!("zc_guard_is_installed", false, {
        Ok(zcopy::guard::is_installed())
    })
}

/// A read lease on an open file (`F_SETLEASE`), created by `zc_lease_read`: the kernel tells the
/// holder before another process truncates the file or opens it for writing.
///
/// Opaque: pointers to it are handles, not addresses. The caller owns each lease it receives and
/// must call `zc_lease_free` exactly once.
pub struct zc_lease {
    _private: [u8; 0],
}

static LEASES: HandleTable<Mutex<Option<FileLease>>> = HandleTable::new(0xA3, "lease");

/// The signal the kernel sends a lease holder when another process wants the file (`SIGURG`,
/// whose default action is to ignore it, so a program that does not handle it is undisturbed).
pub const ZC_LEASE_BREAK_SIGNAL: c_int = 23;

/// Takes a read lease on the file open on `fd` and stores it in `*out`. While held, another
/// process's `open(O_WRONLY|O_TRUNC)` or `truncate` of the file waits (up to
/// `/proc/sys/fs/lease-break-time` seconds) and the holder is told: poll `zc_lease_is_breaking`
/// (or handle `ZC_LEASE_BREAK_SIGNAL`), finish with the file's regions, then call
/// `zc_lease_release`.
///
/// The lease belongs to the open file description: keep `fd` open while the lease lives.
///
/// Ownership: on `ZC_OK` the caller owns `*out` and must call `zc_lease_free` exactly once.
///
/// # Errors
///
/// `ZC_ERR_IO` with `EAGAIN` (the file is open for writing somewhere), `EACCES` (not the
/// caller's file), `EINVAL` (a file system without leases); `ZC_ERR_CLOSED`; `ZC_ERR_NULL_PARAM`.
///
/// # Safety
///
/// - `out` must point to a writable `zc_lease *`.
#[must_use]
#[no_mangle]
pub unsafe extern "C" fn zc_lease_read(fd: c_int, out: *mut *mut zc_lease) -> zc_result {
    ffi_boundary!("zc_lease_read", {
        let lease = || {
            let lease = FileLease::read(c_fd(fd))?;
            LEASES.insert(Mutex::new(Some(lease))).map(to_ptr)
        };
        // SAFETY: the caller vouches that `out` is NULL or writable.
        unsafe { store(out, "out", lease) }
    })
}

/// Stores in `*out` whether another process is waiting to truncate or write the file (false
/// once the lease was released).
///
/// # Errors
///
/// `ZC_ERR_IO` if `F_GETLEASE` fails; `ZC_ERR_BAD_HANDLE`, `ZC_ERR_NULL_PARAM`.
///
/// # Safety
///
/// - `out` must point to a writable `bool`.
#[must_use]
#[no_mangle]
pub unsafe extern "C" fn zc_lease_is_breaking(lease: *const zc_lease, out: *mut bool) -> zc_result {
    ffi_boundary!("zc_lease_is_breaking", {
        let breaking = || {
            let cell = LEASES.get(lease)?;
            let held = cell.lock().unwrap_or_else(|e| e.into_inner());
            match held.as_ref() {
                Some(l) => Ok(l.is_breaking()?),
                None => Ok(false), // released: the kernel tells nothing any more
            }
        };
        // SAFETY: the caller vouches that `out` is NULL or writable.
        unsafe { store(out, "out", breaking) }
    })
}

/// Releases the lease, letting a waiting truncation proceed. Idempotent.
///
/// Ownership: the caller still owns the handle and must still call `zc_lease_free`.
///
/// # Errors
///
/// `ZC_ERR_IO` if `F_SETLEASE` fails; `ZC_ERR_BAD_HANDLE`, `ZC_ERR_NULL_PARAM`.
#[no_mangle]
pub extern "C" fn zc_lease_release(lease: *mut zc_lease) -> zc_result {
    ffi_boundary!("zc_lease_release", {
        let cell = LEASES.get(lease)?;
        let taken = cell.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(l) = taken {
            l.release()?;
        }
        Ok(())
    })
}

/// Frees the lease, releasing it if still held. Call it exactly once per lease; NULL is accepted
/// and ignored.
///
/// # Errors
///
/// `ZC_ERR_BAD_HANDLE` for a handle already freed or never returned by zcopy.
#[no_mangle]
pub extern "C" fn zc_lease_free(lease: *mut zc_lease) -> zc_result {
    ffi_boundary!("zc_lease_free", {
        // Dropping the FileLease releases it (a failure there means the descriptor is already
        // closed, which released the lease anyway).
        drop(LEASES.free(lease)?);
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_break_signal_is_the_cores() {
        assert_eq!(super::ZC_LEASE_BREAK_SIGNAL, zcopy::LEASE_BREAK_SIGNAL);
    }
}
