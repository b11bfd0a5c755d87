//! `zc_region`: a mapped byte range of a file or memfd.

use std::ffi::CStr;
use std::os::fd::IntoRawFd;
use std::os::raw::{c_char, c_int};

use zcopy::{Advice, Grow, HugePages, MapMode, MapOptions, MappedRegion, UncheckedAdvice};

use crate::boundary::{self, ffi_boundary, ffi_value, invalid, store, CResult, Failure, Out};
use crate::error::zc_result;
use crate::handle::{to_ptr, HandleTable};

/// A mapped byte range of a file (or of a memfd), created by `zc_region_map`,
/// `zc_region_map_to_end` or `zc_region_shared_anonymous`.
///
/// Opaque: only pointers to it exist, and they are handles, not addresses (never dereference
/// one). The caller owns each region it receives and must call `zc_region_free` exactly once.
///
/// Thread safety: every function may be called on the same region from several threads at once;
/// `zc_region_free` must be the last call on it (a call still running on another thread when it
/// is freed finishes safely, but the handle is dead afterwards).
pub struct zc_region {
    _private: [u8; 0],
}

static REGIONS: HandleTable<MappedRegion> = HandleTable::new(0xA1, "region");

/// How a region may be accessed (`ZC_MAP_READ_ONLY`, `ZC_MAP_READ_WRITE`, `ZC_MAP_PRIVATE`).
pub type zc_map_mode = u32;
/// Readable only (`PROT_READ`, `MAP_SHARED`); the descriptor must be open for reading.
pub const ZC_MAP_READ_ONLY: zc_map_mode = 0;
/// Readable and writable, writes reach the file (`MAP_SHARED`); the descriptor must be open for
/// reading and writing.
pub const ZC_MAP_READ_WRITE: zc_map_mode = 1;
/// Readable and writable, writes stay private (copy-on-write, `MAP_PRIVATE`): the file never
/// changes.
pub const ZC_MAP_PRIVATE: zc_map_mode = 2;

fn mode_from(op: &'static str, mode: zc_map_mode) -> CResult<MapMode> {
    match mode {
        ZC_MAP_READ_ONLY => Ok(MapMode::ReadOnly),
        ZC_MAP_READ_WRITE => Ok(MapMode::ReadWrite),
        ZC_MAP_PRIVATE => Ok(MapMode::Private),
        other => Err(invalid(op, format!("unknown map mode {other}"))),
    }
}

/// Map flag: fault every page in at map time (`MAP_POPULATE`).
pub const ZC_MAP_POPULATE: u32 = 1;
/// Map flag: ask for transparent huge pages (`MADV_HUGEPAGE`), a hint the kernel may ignore.
pub const ZC_MAP_HUGE_PAGES: u32 = 2;
/// Map flag: refuse `ZC_MAP_PRIVATE` on a descriptor not open for writing, as Java's
/// `FileChannel.map` does (the kernel itself only needs read access).
pub const ZC_MAP_PRIVATE_NEEDS_WRITE: u32 = 4;
/// Map flag: never grow the file; a range past its end is `ZC_ERR_PAST_EOF`.
pub const ZC_MAP_GROW_NEVER: u32 = 8;
/// Map flag: grow the file for any mode when the descriptor is writable, read-only mappings too
/// (`FileChannel.map`'s rule). Without it, only `ZC_MAP_READ_WRITE` and `ZC_MAP_PRIVATE`
/// mappings grow a file open for writing.
pub const ZC_MAP_GROW_IF_WRITABLE: u32 = 16;

const ALL_MAP_FLAGS: u32 = ZC_MAP_POPULATE
    | ZC_MAP_HUGE_PAGES
    | ZC_MAP_PRIVATE_NEEDS_WRITE
    | ZC_MAP_GROW_NEVER
    | ZC_MAP_GROW_IF_WRITABLE;

/// The huge-page policy of a shared anonymous region.
pub type zc_huge_pages = u32;
/// Ordinary pages.
pub const ZC_HUGE_PAGES_OFF: zc_huge_pages = 0;
/// Transparent huge pages (`MADV_HUGEPAGE`), a hint.
pub const ZC_HUGE_PAGES_TRANSPARENT: zc_huge_pages = 1;
/// hugetlbfs pages (`MFD_HUGETLB`); needs pages reserved in `/proc/sys/vm/nr_hugepages`, fails
/// with `ZC_ERR_IO` / `ENOMEM` otherwise.
pub const ZC_HUGE_PAGES_EXPLICIT: zc_huge_pages = 2;

fn options(op: &'static str, mode: zc_map_mode, position: i64, flags: u32) -> CResult<MapOptions> {
    let mut o = MapOptions::new(mode_from(op, mode)?);
    if flags & !ALL_MAP_FLAGS != 0 {
        return Err(invalid(
            op,
            format!("unknown map flags {:#x}", flags & !ALL_MAP_FLAGS),
        ));
    }
    let grow = match (
        flags & ZC_MAP_GROW_NEVER != 0,
        flags & ZC_MAP_GROW_IF_WRITABLE != 0,
    ) {
        (true, true) => {
            return Err(invalid(
                op,
                "ZC_MAP_GROW_NEVER and ZC_MAP_GROW_IF_WRITABLE exclude each other",
            ))
        }
        (true, false) => Grow::Never,
        (false, true) => Grow::IfDescriptorWritable,
        (false, false) => Grow::WritableModes,
    };
    o.position_signed(position)
        .populate(flags & ZC_MAP_POPULATE != 0)
        .private_needs_write(flags & ZC_MAP_PRIVATE_NEEDS_WRITE != 0)
        .grow(grow);
    if flags & ZC_MAP_HUGE_PAGES != 0 {
        o.huge_pages(HugePages::Transparent);
    }
    Ok(o)
}

fn insert(region: MappedRegion) -> CResult<*mut zc_region> {
    REGIONS.insert(region).map(to_ptr)
}

/// The body of `zc_region_map` (`size` given) and `zc_region_map_to_end` (`None`: to the end of
/// the file): maps the file open on `fd` and stores the new region's handle in `*out`.
///
/// # Safety
///
/// - `out` must be NULL or valid for a write of one `zc_region *`.
unsafe fn map(
    fd: c_int,
    mode: zc_map_mode,
    position: i64,
    size: Option<i64>,
    flags: u32,
    out: *mut *mut zc_region,
) -> CResult<()> {
    let map = || {
        let mut options = options("map", mode, position, flags)?;
        if let Some(size) = size {
            options.size_signed(size);
        }
        insert(options.map(boundary::c_fd(fd))?)
    };
    // SAFETY: the caller vouches that `out` is NULL or writable.
    unsafe { store(out, "out", map) }
}

/// Maps `size` bytes of the file open on `fd`, starting at byte `position` (any byte: no
/// alignment rule), and stores the new region in `*out`.
///
/// `mode` is `ZC_MAP_READ_ONLY`, `ZC_MAP_READ_WRITE` or `ZC_MAP_PRIVATE`; `flags` is 0 or an
/// OR of `ZC_MAP_*` flags. A size of 0 gives an empty region without a mapping. A read-write or
/// private mapping past the end of a file open for writing grows the file (see the
/// `ZC_MAP_GROW_*` flags). The region does not keep `fd`: the caller may close it at once.
///
/// Ownership: on `ZC_OK` the caller owns `*out` and must call `zc_region_free` exactly once.
/// Nothing is written to `*out` on failure.
///
/// # Errors
///
/// Checked in Java `FileChannel.map`'s order: `ZC_ERR_CLOSED` (fd not open); `ZC_ERR_INVALID_ARG`
/// (negative position or size, their sum past `INT64_MAX`, a size beyond the address space, an
/// unknown mode or flag); `ZC_ERR_NOT_WRITABLE`, then `ZC_ERR_NOT_READABLE` (access mode of `fd`);
/// `ZC_ERR_IO` with `ENODEV` (not a regular file); `ZC_ERR_PAST_EOF`; `ZC_ERR_IO` from `mmap` or
/// `ftruncate`; `ZC_ERR_NULL_PARAM` for a NULL `out`.
///
/// # Safety
///
/// - `out` must point to a writable `zc_region *`.
#[must_use]
#[no_mangle]
pub unsafe extern "C" fn zc_region_map(
    fd: c_int,
    mode: zc_map_mode,
    position: i64,
    size: i64,
    flags: u32,
    out: *mut *mut zc_region,
) -> zc_result {
    ffi_boundary!("zc_region_map", {
        // SAFETY: the caller vouches that `out` is NULL or writable.
        unsafe { map(fd, mode, position, Some(size), flags, out) }
    })
}

/// Like `zc_region_map`, for the range from `position` to the end of the file.
///
/// Ownership: on `ZC_OK` the caller owns `*out` and must call `zc_region_free` exactly once.
///
/// # Errors
///
/// As `zc_region_map`; `ZC_ERR_PAST_EOF` when `position` is past the end of the file.
///
/// # Safety
///
/// - `out` must point to a writable `zc_region *`.
#[must_use]
#[no_mangle]
pub unsafe extern "C" fn zc_region_map_to_end(
    fd: c_int,
    mode: zc_map_mode,
    position: i64,
    flags: u32,
    out: *mut *mut zc_region,
) -> zc_result {
    ffi_boundary!("zc_region_map_to_end", {
        // SAFETY: the caller vouches that `out` is NULL or writable.
        unsafe { map(fd, mode, position, None, flags, out) }
    })
}

/// Creates a read-write region of `size` bytes backed by a new memfd named `name` (shown in
/// `/proc/self/maps` as `memfd:NAME`), and returns both: the region in `*out_region`, the memfd in
/// `*out_fd`, so the memory can be handed to another process (or mapped again) by descriptor.
///
/// The memfd is sealed against shrinking (`F_SEAL_SHRINK`), so no process mapping it can be hurt
/// by truncation. `huge_pages` is a `ZC_HUGE_PAGES_*` value. Linux only (memfd since 3.17).
///
/// Ownership: on `ZC_OK` the caller owns the region (call `zc_region_free` exactly once) and the
/// descriptor (close it with `close(2)`; the region stays valid after that). Nothing is written
/// on failure.
///
/// # Errors
///
/// `ZC_ERR_INVALID_ARG` (negative size, size beyond the address space, unknown `huge_pages`);
/// `ZC_ERR_IO` from `memfd_create`, `ftruncate` or `mmap` (`ENOMEM` for explicit huge pages
/// when none are reserved); `ZC_ERR_NULL_PARAM`.
///
/// # Safety
///
/// - `name` must be a NUL-terminated string.
/// - `out_region` must point to a writable `zc_region *`, `out_fd` to a writable `int`.
#[must_use]
#[no_mangle]
pub unsafe extern "C" fn zc_region_shared_anonymous(
    name: *const c_char,
    size: i64,
    huge_pages: zc_huge_pages,
    out_region: *mut *mut zc_region,
    out_fd: *mut c_int,
) -> zc_result {
    ffi_boundary!("zc_region_shared_anonymous", {
        const OP: &str = "shared_anonymous";
        let out_region = Out::new(out_region, "out_region")?;
        let out_fd = Out::new(out_fd, "out_fd")?;
        if name.is_null() {
            return Err(Failure::Null { param: "name" });
        }
        // SAFETY: non-null, and the caller vouches for a NUL-terminated string.
        let name = unsafe { CStr::from_ptr(name) };
        let name = name.to_str().map_err(|_| invalid(OP, "name is not UTF-8"))?;
        let size = zcopy::non_negative(OP, "size", size)?;
        let huge = match huge_pages {
            ZC_HUGE_PAGES_OFF => HugePages::Off,
            ZC_HUGE_PAGES_TRANSPARENT => HugePages::Transparent,
            ZC_HUGE_PAGES_EXPLICIT => HugePages::Explicit,
            other => return Err(invalid(OP, format!("unknown huge-page policy {other}"))),
        };
        let (region, memfd) = MappedRegion::shared_anonymous(name, size, huge)?;
        let handle = insert(region)?;
        // SAFETY: the caller vouches that both out-parameters are writable.
        unsafe {
            out_region.write(handle);
            out_fd.write(memfd.into_raw_fd());
        }
        Ok(())
    })
}

/// The address of the region's first byte (the requested position, not the page boundary).
///
/// Borrowed: valid until `zc_region_free`. After `zc_region_close` the address stays valid and
/// reads zeros. For an empty region it is non-NULL but must not be dereferenced. Write through it
/// only when the mode is writable (see `zc_region_data_mut`). NULL for a NULL or dead handle
/// (the last error says which).
///
/// Reading through it after the file was truncated raises `SIGBUS` (which kills the process)
/// unless `zc_guard_install` ran; with the guard the read gives zeros and the next call on the
/// region returns `ZC_ERR_TRUNCATED`.
#[no_mangle]
pub extern "C" fn zc_region_data(region: *const zc_region) -> *const u8 {
    ffi_value!("zc_region_data", std::ptr::null(), {
        Ok(REGIONS.get(region)?.as_ptr())
    })
}

/// Stores the writable address of the region's first byte in `*out`.
///
/// Borrowed: valid until `zc_region_free` (see `zc_region_data`).
///
/// # Errors
///
/// `ZC_ERR_NOT_WRITABLE` for a read-only region; `ZC_ERR_CLOSED`, `ZC_ERR_BAD_HANDLE`,
/// `ZC_ERR_NULL_PARAM`.
///
/// # Safety
///
/// - `out` must point to a writable `uint8_t *`.
#[must_use]
#[no_mangle]
pub unsafe extern "C" fn zc_region_data_mut(region: *mut zc_region, out: *mut *mut u8) -> zc_result {
    ffi_boundary!("zc_region_data_mut", {
        // SAFETY: the caller vouches that `out` is NULL or writable.
        unsafe {
            store(out, "out", || {
                let r = REGIONS.get(region)?;
                r.check("data_mut")?;
                if !r.mode().is_writable() {
                    return Err(Failure::Core(zcopy::Error::NotWritable { op: "data_mut" }));
                }
                Ok(r.as_mut_ptr())
            })
        }
    })
}

/// The region's length in bytes; 0 for an empty region and for a NULL or dead handle.
#[no_mangle]
pub extern "C" fn zc_region_len(region: *const zc_region) -> usize {
    ffi_value!("zc_region_len", 0, { Ok(REGIONS.get(region)?.len()) })
}

/// Stores the file position of the region's first byte in `*out`.
///
/// # Errors
///
/// `ZC_ERR_BAD_HANDLE`, `ZC_ERR_NULL_PARAM`.
///
/// # Safety
///
/// - `out` must point to a writable `uint64_t`.
#[must_use]
#[no_mangle]
pub unsafe extern "C" fn zc_region_position(region: *const zc_region, out: *mut u64) -> zc_result {
    ffi_boundary!("zc_region_position", {
        // SAFETY: the caller vouches that `out` is NULL or writable.
        unsafe { store(out, "out", || Ok(REGIONS.get(region)?.position())) }
    })
}

/// Stores the region's mode (`ZC_MAP_*`) in `*out`.
///
/// # Errors
///
/// `ZC_ERR_BAD_HANDLE`, `ZC_ERR_NULL_PARAM`.
///
/// # Safety
///
/// - `out` must point to a writable `zc_map_mode`.
#[must_use]
#[no_mangle]
pub unsafe extern "C" fn zc_region_mode(region: *const zc_region, out: *mut zc_map_mode) -> zc_result {
    ffi_boundary!("zc_region_mode", {
        let mode = || match REGIONS.get(region)?.mode() {
            MapMode::ReadOnly => Ok(ZC_MAP_READ_ONLY),
            MapMode::ReadWrite => Ok(ZC_MAP_READ_WRITE),
            MapMode::Private => Ok(ZC_MAP_PRIVATE),
        };
        // SAFETY: the caller vouches that `out` is NULL or writable.
        unsafe { store(out, "out", mode) }
    })
}

/// Whether the region is open (not yet `zc_region_close`d). False for a NULL or dead handle.
#[no_mangle]
pub extern "C" fn zc_region_is_open(region: *const zc_region) -> bool {
    ffi_value!("zc_region_is_open", false, { Ok(REGIONS.get(region)?.is_open()) })
}

/// Whether a truncation of the file under the region has been noticed (by the guard, or by an
/// operation that got `EFAULT`). False for a NULL or dead handle.
#[no_mangle]
pub extern "C" fn zc_region_is_truncated(region: *const zc_region) -> bool {
    ffi_value!("zc_region_is_truncated", false, {
        Ok(REGIONS.get(region)?.is_truncated())
    })
}

/// `ZC_OK` while the region is open and its file intact: call it after reading through the raw
/// pointer to learn whether the bytes read were real.
///
/// # Errors
///
/// `ZC_ERR_CLOSED`, then `ZC_ERR_TRUNCATED`; `ZC_ERR_BAD_HANDLE`, `ZC_ERR_NULL_PARAM`.
#[must_use]
#[no_mangle]
pub extern "C" fn zc_region_check(region: *const zc_region) -> zc_result {
    ffi_boundary!("zc_region_check", { Ok(REGIONS.get(region)?.check("check")?) })
}

/// Copies `len` bytes at `offset` of the region into `buf`. With the truncation guard installed,
/// a truncated file gives `ZC_ERR_TRUNCATED` instead of killing the process.
///
/// # Errors
///
/// `ZC_ERR_CLOSED`, `ZC_ERR_OUT_OF_RANGE`, `ZC_ERR_TRUNCATED`, `ZC_ERR_BAD_HANDLE`,
/// `ZC_ERR_NULL_PARAM` (NULL `buf` with `len > 0`).
///
/// # Safety
///
/// - `buf` must point to `len` writable bytes that do not overlap the region.
#[must_use]
#[no_mangle]
pub unsafe extern "C" fn zc_region_read(
    region: *const zc_region,
    offset: u64,
    buf: *mut u8,
    len: usize,
) -> zc_result {
    ffi_boundary!("zc_region_read", {
        // SAFETY: the caller vouches for `len` writable bytes at `buf`.
        let buf = unsafe { boundary::slice_mut(buf, len, "buf") }?;
        REGIONS.get(region)?.read_at(offset, buf)?;
        Ok(())
    })
}

/// Copies `len` bytes from `data` into the region at `offset`.
///
/// # Errors
///
/// `ZC_ERR_NOT_WRITABLE` for a read-only region, and as `zc_region_read`.
///
/// # Safety
///
/// - `data` must point to `len` readable bytes that do not overlap the region.
#[must_use]
#[no_mangle]
pub unsafe extern "C" fn zc_region_write(
    region: *mut zc_region,
    offset: u64,
    data: *const u8,
    len: usize,
) -> zc_result {
    ffi_boundary!("zc_region_write", {
        // SAFETY: the caller vouches for `len` readable bytes at `data`.
        let data = unsafe { boundary::slice(data, len, "data") }?;
        REGIONS.get(region)?.write_at(offset, data)?;
        Ok(())
    })
}

/// Writes the whole region back to the file and waits (`msync(MS_SYNC)`), as Java's
/// `MappedByteBuffer.force()`. A no-op for empty regions.
///
/// # Errors
///
/// `ZC_ERR_CLOSED`, `ZC_ERR_TRUNCATED`, `ZC_ERR_IO` from `msync`, `ZC_ERR_BAD_HANDLE`.
#[must_use]
#[no_mangle]
pub extern "C" fn zc_region_force(region: *const zc_region) -> zc_result {
    ffi_boundary!("zc_region_force", { Ok(REGIONS.get(region)?.force()?) })
}

/// Writes `[offset, offset + len)` of the region back and waits. The range is widened to whole
/// pages inside the mapping, so neighbouring bytes may be written too.
///
/// # Errors
///
/// As `zc_region_force`, and `ZC_ERR_OUT_OF_RANGE`.
#[must_use]
#[no_mangle]
pub extern "C" fn zc_region_force_range(region: *const zc_region, offset: u64, len: u64) -> zc_result {
    ffi_boundary!("zc_region_force_range", {
        Ok(REGIONS.get(region)?.force_range(offset, len)?)
    })
}

/// Starts writing the whole region back (`msync(MS_ASYNC)`) without waiting.
///
/// # Errors
///
/// As `zc_region_force`.
#[must_use]
#[no_mangle]
pub extern "C" fn zc_region_force_async(region: *const zc_region) -> zc_result {
    ffi_boundary!("zc_region_force_async", {
        Ok(REGIONS.get(region)?.force_async()?)
    })
}

/// Starts writing `[offset, offset + len)` back without waiting.
///
/// # Errors
///
/// As `zc_region_force_range`.
#[must_use]
#[no_mangle]
pub extern "C" fn zc_region_force_range_async(region: *const zc_region, offset: u64, len: u64) -> zc_result {
    ffi_boundary!("zc_region_force_range_async", {
        Ok(REGIONS.get(region)?.force_range_async(offset, len)?)
    })
}

/// Faults every page of the region in (Java's `load()`), with `MADV_POPULATE_READ` (Linux 5.14),
/// which reports a truncated file as an error instead of a signal.
///
/// # Errors
///
/// `ZC_ERR_CLOSED`, `ZC_ERR_TRUNCATED`, `ZC_ERR_IO`, `ZC_ERR_BAD_HANDLE`.
#[must_use]
#[no_mangle]
pub extern "C" fn zc_region_load(region: *const zc_region) -> zc_result {
    ffi_boundary!("zc_region_load", { Ok(REGIONS.get(region)?.load()?) })
}

/// Faults `[offset, offset + len)` in with `MADV_POPULATE_READ`: a checked prefault that turns a
/// truncated file into `ZC_ERR_TRUNCATED` instead of `SIGBUS`. Call it before reading through the
/// raw pointer when the guard is not installed.
///
/// # Errors
///
/// `ZC_ERR_TRUNCATED`; `ZC_ERR_UNSUPPORTED` before Linux 5.14; `ZC_ERR_OUT_OF_RANGE`,
/// `ZC_ERR_CLOSED`, `ZC_ERR_BAD_HANDLE`.
#[must_use]
#[no_mangle]
pub extern "C" fn zc_region_prefault(region: *const zc_region, offset: u64, len: u64) -> zc_result {
    ffi_boundary!("zc_region_prefault", {
        Ok(REGIONS.get(region)?.prefault_checked(offset, len)?)
    })
}

/// Stores in `*out` whether every page of the region is resident in memory (`mincore`), as Java's
/// `isLoaded()`. A hint: pages can be evicted at any time. True for an empty region.
///
/// # Errors
///
/// `ZC_ERR_CLOSED`, `ZC_ERR_IO`, `ZC_ERR_BAD_HANDLE`, `ZC_ERR_NULL_PARAM`.
///
/// # Safety
///
/// - `out` must point to a writable `bool`.
#[must_use]
#[no_mangle]
pub unsafe extern "C" fn zc_region_is_loaded(region: *const zc_region, out: *mut bool) -> zc_result {
    ffi_boundary!("zc_region_is_loaded", {
        // SAFETY: the caller vouches that `out` is NULL or writable.
        unsafe { store(out, "out", || Ok(REGIONS.get(region)?.is_loaded()?)) }
    })
}

/// Stores in `*out` the number of pages `zc_region_residency` reports: the pages of the
/// page-aligned span holding the region (0 for an empty region).
///
/// # Errors
///
/// `ZC_ERR_CLOSED`, `ZC_ERR_IO`, `ZC_ERR_BAD_HANDLE`, `ZC_ERR_NULL_PARAM`.
///
/// # Safety
///
/// - `out` must point to a writable `size_t`.
#[must_use]
#[no_mangle]
pub unsafe extern "C" fn zc_region_page_count(region: *const zc_region, out: *mut usize) -> zc_result {
    ffi_boundary!("zc_region_page_count", {
        // SAFETY: the caller vouches that `out` is NULL or writable.
        unsafe { store(out, "out", || Ok(REGIONS.get(region)?.residency()?.len())) }
    })
}

/// Per-page residency (`mincore`): writes one byte per page into `pages` (1 resident, 0 not),
/// starting with the page holding the region's first byte, and the number of pages into
/// `*out_n`. Size `pages` with `zc_region_page_count`.
///
/// # Errors
///
/// `ZC_ERR_INSUFFICIENT_SPACE` when `len` is smaller than the page count (nothing is written);
/// `ZC_ERR_CLOSED`, `ZC_ERR_IO`, `ZC_ERR_BAD_HANDLE`, `ZC_ERR_NULL_PARAM`.
///
/// # Safety
///
/// - `pages` must point to `len` writable bytes; `out_n` to a writable `size_t`.
#[must_use]
#[no_mangle]
pub unsafe extern "C" fn zc_region_residency(
    region: *const zc_region,
    pages: *mut u8,
    len: usize,
    out_n: *mut usize,
) -> zc_result {
    ffi_boundary!("zc_region_residency", {
        let fill = || {
            // SAFETY: the caller vouches for `len` writable bytes at `pages`.
            let buf = unsafe { boundary::slice_mut(pages, len, "pages") }?;
            let resident = REGIONS.get(region)?.residency()?;
            if resident.len() > buf.len() {
                return Err(Failure::InsufficientSpace {
                    what: "the residency of every page",
                    need: resident.len(),
                    have: buf.len(),
                });
            }
            for (dst, r) in buf.iter_mut().zip(&resident) {
                *dst = u8::from(*r);
            }
            Ok(resident.len())
        };
        // SAFETY: the caller vouches that `out_n` is NULL or writable.
        unsafe { store(out_n, "out_n", fill) }
    })
}

/// Gives the kernel advice about the whole region: `advice` is a Linux `MADV_*` number from
/// `<sys/mman.h>` that cannot discard data (`MADV_NORMAL`, `MADV_RANDOM`, `MADV_SEQUENTIAL`,
/// `MADV_WILLNEED`, `MADV_HUGEPAGE`, `MADV_NOHUGEPAGE`, `MADV_DONTFORK`, `MADV_DOFORK`,
/// `MADV_DONTDUMP`, `MADV_DODUMP`, `MADV_POPULATE_READ`, `MADV_POPULATE_WRITE`). Destructive
/// advice goes through `zc_region_advise_unchecked`.
///
/// # Errors
///
/// `ZC_ERR_INVALID_ARG` for an unknown or destructive number, or advice the kernel refuses;
/// `ZC_ERR_NOT_WRITABLE` (`MADV_POPULATE_WRITE` on a read-only region); `ZC_ERR_CLOSED`,
/// `ZC_ERR_TRUNCATED`, `ZC_ERR_IO`, `ZC_ERR_BAD_HANDLE`.
#[must_use]
#[no_mangle]
pub extern "C" fn zc_region_advise(region: *const zc_region, advice: c_int) -> zc_result {
    ffi_boundary!("zc_region_advise", {
        let advice = Advice::from_raw(advice)?;
        REGIONS.get(region)?.advise(advice)?;
        Ok(())
    })
}

/// Like `zc_region_advise`, for `[offset, offset + len)` of the region (widened to whole pages
/// inside the mapping).
///
/// # Errors
///
/// As `zc_region_advise`, and `ZC_ERR_OUT_OF_RANGE`.
#[must_use]
#[no_mangle]
pub extern "C" fn zc_region_advise_range(
    region: *const zc_region,
    advice: c_int,
    offset: u64,
    len: u64,
) -> zc_result {
    ffi_boundary!("zc_region_advise_range", {
        let advice = Advice::from_raw(advice)?;
        REGIONS.get(region)?.advise_range(advice, offset, len)?;
        Ok(())
    })
}

/// Gives advice that discards or rewrites pages (`MADV_DONTNEED`, `MADV_FREE`, `MADV_REMOVE`)
/// for `[offset, offset + len)` of the region.
///
/// Hazard: the bytes under every pointer into that range change (private changes are lost and
/// read back from the file, or as zeros; `MADV_REMOVE` punches a hole in the file). Only call it
/// when no code still relies on the old contents.
///
/// # Errors
///
/// `ZC_ERR_INVALID_ARG` for a number that is not one of the three; `ZC_ERR_OUT_OF_RANGE`,
/// `ZC_ERR_CLOSED`, `ZC_ERR_TRUNCATED`, `ZC_ERR_IO`, `ZC_ERR_BAD_HANDLE`.
#[must_use]
#[no_mangle]
pub extern "C" fn zc_region_advise_unchecked(
    region: *mut zc_region,
    advice: c_int,
    offset: u64,
    len: u64,
) -> zc_result {
    ffi_boundary!("zc_region_advise_unchecked", {
        let advice = UncheckedAdvice::from_raw(advice)?;
        let r = REGIONS.get(region)?;
        // SAFETY: the region never hands out Rust references into the mapping; C callers were
        // told above that the contents under their pointers change.
        unsafe { r.advise_unchecked(advice, offset, len) }?;
        Ok(())
    })
}

/// Locks the region's pages in memory (`mlock`).
///
/// # Errors
///
/// `ZC_ERR_IO` (`ENOMEM`/`EPERM` over `RLIMIT_MEMLOCK`), `ZC_ERR_CLOSED`, `ZC_ERR_TRUNCATED`,
/// `ZC_ERR_BAD_HANDLE`.
#[must_use]
#[no_mangle]
pub extern "C" fn zc_region_lock(region: *const zc_region) -> zc_result {
    ffi_boundary!("zc_region_lock", { Ok(REGIONS.get(region)?.lock()?) })
}

/// Unlocks the region's pages (`munlock`).
///
/// # Errors
///
/// `ZC_ERR_IO`, `ZC_ERR_CLOSED`, `ZC_ERR_BAD_HANDLE`.
#[no_mangle]
pub extern "C" fn zc_region_unlock(region: *const zc_region) -> zc_result {
    ffi_boundary!("zc_region_unlock", { Ok(REGIONS.get(region)?.unlock()?) })
}

/// Closes the region now: the file's pages are dropped (a deleted file's space is freed, a
/// truncation can no longer hurt), but every pointer from `zc_region_data` stays valid: reads
/// give zeros, writes go nowhere. Later calls on the region return `ZC_ERR_CLOSED`. Idempotent.
///
/// Ownership: the caller still owns the handle and must still call `zc_region_free`, which also
/// releases the address range.
///
/// # Errors
///
/// `ZC_ERR_BAD_HANDLE`, `ZC_ERR_NULL_PARAM`.
#[no_mangle]
pub extern "C" fn zc_region_close(region: *mut zc_region) -> zc_result {
    ffi_boundary!("zc_region_close", {
        REGIONS.get(region)?.close();
        Ok(())
    })
}

/// Frees the region: closes it if open and releases its address range, after which every pointer
/// into it is dangling. Call it exactly once per region; NULL is accepted and ignored.
///
/// # Errors
///
/// `ZC_ERR_BAD_HANDLE` for a handle that was already freed (a double free is detected and
/// refused, not performed) or never came from zcopy.
#[no_mangle]
pub extern "C" fn zc_region_free(region: *mut zc_region) -> zc_result {
    ffi_boundary!("zc_region_free", {
        // Unmapped here, or when a call still running on another thread ends.
        drop(REGIONS.free(region)?);
        Ok(())
    })
}

/// The system page size in bytes.
#[no_mangle]
pub extern "C" fn zc_page_size() -> usize {
    ffi_value!("zc_page_size", 4096, { Ok(MappedRegion::page_size()) })
}
