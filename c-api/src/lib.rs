//! libzcopy: the C API of zcopy.
//!
//! Builds `libzcopy.so` and `libzcopy.a`; `include/zcopy.h` is generated from this crate by the
//! pinned cbindgen CLI and committed. The design follows rustls-ffi:
//!
//! - one prefix (`zc_` / `ZC_`), opaque handles (`zc_region`, `zc_selector`, `zc_lease`) that are
//!   table tokens, not addresses ([`handle`]), so NULL, freed and foreign handles are errors,
//!   never crashes;
//! - every fallible function returns a `zc_result` from one table ([`error::result_of`]), writes
//!   its out-parameters only on success, and records a per-thread errno and message;
//! - every exported body runs inside one panic boundary (`ffi_boundary!` / `ffi_value!`), so a
//!   panic becomes `ZC_ERR_PANIC`, never an unwind into C.
//!
//! The crate decides nothing about zero-copy itself: it converts arguments, calls the core and
//! translates its errors.

#![cfg(target_os = "linux")]
// The C names are the API: `zc_region`, `zc_result`.
#![allow(non_camel_case_types)]

mod boundary;
pub mod error;
pub mod guard;
mod handle;
pub mod region;
pub mod selector;
pub mod transfer;

use std::os::raw::c_char;

/// The library's major version (as in `Cargo.toml`; checked by a test).
pub const ZC_VERSION_MAJOR: u32 = 0;
/// The library's minor version.
pub const ZC_VERSION_MINOR: u32 = 1;
/// The library's patch version.
pub const ZC_VERSION_PATCH: u32 = 0;
/// The version as one number, `MAJOR << 16 | MINOR << 8 | PATCH`, for `#if` comparisons.
pub const ZC_VERSION_NUMBER: u32 = (ZC_VERSION_MAJOR << 16) | (ZC_VERSION_MINOR << 8) | ZC_VERSION_PATCH;

/// The library's version as `"MAJOR.MINOR.PATCH"`: compare with `ZC_VERSION_*` to detect a header
/// that does not match the library loaded at run time.
///
/// The returned string is static: never free it.
#[no_mangle]
pub extern "C" fn zc_version() -> *const c_char {
    boundary::ffi_value!("zc_version", std::ptr::null(), {
        Ok(concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast())
    })
}

/// The loaded library's `ZC_VERSION_NUMBER`.
#[no_mangle]
pub extern "C" fn zc_version_number() -> u32 {
    boundary::ffi_value!("zc_version_number", ZC_VERSION_NUMBER, { Ok(ZC_VERSION_NUMBER) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_constants_match_cargo_toml() {
        let part = |s: &str| s.parse::<u32>().unwrap();
        assert_eq!(ZC_VERSION_MAJOR, part(env!("CARGO_PKG_VERSION_MAJOR")));
        assert_eq!(ZC_VERSION_MINOR, part(env!("CARGO_PKG_VERSION_MINOR")));
        assert_eq!(ZC_VERSION_PATCH, part(env!("CARGO_PKG_VERSION_PATCH")));
        assert_eq!(ZC_VERSION_NUMBER >> 16, ZC_VERSION_MAJOR);
        assert_eq!((ZC_VERSION_NUMBER >> 8) & 0xff, ZC_VERSION_MINOR);
        assert_eq!(ZC_VERSION_NUMBER & 0xff, ZC_VERSION_PATCH);
        // SAFETY: zc_version returns a static NUL-terminated string.
        let v = unsafe { std::ffi::CStr::from_ptr(zc_version()) };
        assert_eq!(v.to_str().unwrap(), zcopy::VERSION);
    }
}
