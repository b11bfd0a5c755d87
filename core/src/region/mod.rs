//! Mapped regions: any byte range of a file (or of a memfd) mapped into memory.
//!
//! [`MappedRegion`] is pointer-level: every method takes `&self`, so a binding can share one
//! region between threads behind an `Arc` and hand out raw views. Closing a region is explicit
//! and deterministic, and safe while views still exist (see [`MappedRegion::close`]).

use std::ffi::CString;
use std::os::fd::{FromRawFd, OwnedFd, RawFd};
use std::ptr::{self, NonNull};
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU8, Ordering};

use memmap2::{MmapOptions, MmapRaw};

mod advice;
mod options;

pub use advice::{Advice, UncheckedAdvice};
use options::{remap_sync, SyncRefused};
pub use options::{Grow, HugePages, MapMode, MapOptions};

use crate::error::check_range;
use crate::guard::{self, Slot};
use crate::sys::{self, syscall};
use crate::{Error, Resource, Result};

const OPEN: u8 = 0;
const CLOSED: u8 = 1;

/// A mapped byte range of a file or memfd.
///
/// Pointer-level: it hands out raw pointers ([`MappedRegion::as_ptr`]) and copies
/// ([`MappedRegion::read_at`]); slices only through `unsafe` methods, because the file can change
/// underneath them.
///
/// `Send + Sync`: every method takes `&self` and may run on any thread.
#[derive(Debug)]
pub struct MappedRegion {
    map: Option<MmapRaw>,
    ptr: NonNull<u8>,
    len: usize,
    position: u64,
    mode: MapMode,
    state: AtomicU8,
    slot: AtomicPtr<Slot>,
    truncated: AtomicBool,
}

// SAFETY: the region only holds a mapping and atomics; all access to mapped memory goes through
// raw pointers whose use the caller vouches for.
unsafe impl Send for MappedRegion {}
// SAFETY: as above; shared access only reads atomics or issues system calls.
unsafe impl Sync for MappedRegion {}

impl MappedRegion {
    fn map_fd(op: &'static str, fd: RawFd, options: &MapOptions, position: u64, size: u64) -> Result<Self> {
        if size == 0 {
            return Ok(MappedRegion::empty(position, options.mode));
        }
        let len = usize::try_from(size).map_err(|_| Error::invalid(op, "size exceeds the address space"))?;
        let mut mo = MmapOptions::new();
        mo.offset(position).len(len);
        if options.populate {
            mo.populate();
        }
        let map = match options.mode {
            MapMode::ReadOnly => mo.map_raw_read_only(fd),
            MapMode::ReadWrite => mo.map_raw(fd),
            // SAFETY: the region never hands out references; callers of `as_slice` accept that the
            // file may change underneath the mapping.
            MapMode::Private => unsafe { mo.map_copy(fd) }.map(MmapRaw::from),
        }
        .map_err(|e| Error::os(op, e))?;
        let ptr = NonNull::new(map.as_mut_ptr()).ok_or_else(|| Error::invalid(op, "mmap returned NULL"))?;
        if options.sync {
            match remap_sync(ptr, len, options.mode, fd, position) {
                Ok(()) => {}
                Err(SyncRefused::Refused(e)) => return Err(Error::os(op, e)),
                Err(SyncRefused::Lost(e)) => {
                    std::mem::forget(map);
                    return Err(Error::os(op, e));
                }
            }
        }
        let region = MappedRegion {
            ptr,
            len,
            position,
            mode: options.mode,
            state: AtomicU8::new(OPEN),
            slot: AtomicPtr::new(ptr::null_mut()),
            truncated: AtomicBool::new(false),
            map: Some(map),
        };
        if let Some(slot) = guard::register(ptr.as_ptr() as usize, len, options.mode.prot()) {
            region
                .slot
                .store(ptr::from_ref(slot).cast_mut(), Ordering::Release);
        }
        if options.huge_pages == HugePages::Transparent {
            region.advise(Advice::HugePage)?;
        }
        Ok(region)
    }

    fn empty(position: u64, mode: MapMode) -> MappedRegion {
        MappedRegion {
            map: None,
            ptr: NonNull::dangling(),
            len: 0,
            position,
            mode,
            state: AtomicU8::new(OPEN),
            slot: AtomicPtr::new(ptr::null_mut()),
            truncated: AtomicBool::new(false),
        }
    }

    /// Creates a shared anonymous region backed by a new memfd named `name`, and returns the memfd
    /// so the region can be handed to another process (or language) by its descriptor.
    ///
    /// The memfd is sealed against shrinking (`F_SEAL_SHRINK`), so no process mapping it can be
    /// hurt by truncation. Linux only (memfd since 3.17).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] for a name with a NUL byte or a size over `isize::MAX`;
    /// [`Error::Io`] from `memfd_create`, `ftruncate` or `mmap` (`ENOMEM` for
    /// [`HugePages::Explicit`] when no huge pages are reserved).
    pub fn shared_anonymous(name: &str, size: u64, huge_pages: HugePages) -> Result<(MappedRegion, OwnedFd)> {
        const OP: &str = "shared_anonymous";
        let cname = CString::new(name).map_err(|_| Error::invalid(OP, "name contains a NUL byte"))?;
        if size > isize::MAX as u64 {
            return Err(Error::invalid(OP, "size exceeds the address space"));
        }
        let mut flags = libc::MFD_CLOEXEC | libc::MFD_ALLOW_SEALING;
        if huge_pages == HugePages::Explicit {
            flags |= libc::MFD_HUGETLB;
        }
        // SAFETY: `cname` is a valid NUL-terminated string for the duration of the call.
        let raw = unsafe { syscall!(memfd_create(cname.as_ptr(), flags)) }.map_err(|e| Error::os(OP, e))?;
        // SAFETY: memfd_create returned a new descriptor that nothing else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        // SAFETY: ftruncate and fcntl take no pointers.
        unsafe { syscall!(ftruncate(raw, size as libc::off_t)) }.map_err(|e| Error::os(OP, e))?;
        // SAFETY: as above.
        unsafe { syscall!(fcntl(raw, libc::F_ADD_SEALS, libc::F_SEAL_SHRINK)) }
            .map_err(|e| Error::os(OP, e))?;
        let mut options = MapOptions::new(MapMode::ReadWrite);
        options.size(size).grow(Grow::Never);
        if huge_pages == HugePages::Transparent {
            options.huge_pages(HugePages::Transparent);
        }
        let region = MappedRegion::map_fd(OP, raw, &options, 0, size)?;
        Ok((region, fd))
    }

    /// The address of the region's first byte (the requested position, not the page boundary).
    /// Dangling (but non-null) for an empty region.
    pub fn as_ptr(&self) -> *const u8 {
        self.ptr.as_ptr()
    }

    /// Like [`MappedRegion::as_ptr`], for writing. Writing through it is only allowed for
    /// writable modes.
    pub fn as_mut_ptr(&self) -> *mut u8 {
        self.ptr.as_ptr()
    }

    /// The region's length in bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the region is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The file position of the first byte.
    pub fn position(&self) -> u64 {
        self.position
    }

    /// The mapping mode.
    pub fn mode(&self) -> MapMode {
        self.mode
    }

    /// Whether [`MappedRegion::close`] has not been called.
    pub fn is_open(&self) -> bool {
        self.state.load(Ordering::Acquire) == OPEN
    }

    /// Whether a truncation of the file under this region has been noticed.
    pub fn is_truncated(&self) -> bool {
        self.truncated.load(Ordering::Acquire) || self.slot().is_some_and(Slot::truncated)
    }

    fn slot(&self) -> Option<&'static Slot> {
        let p = self.slot.load(Ordering::Acquire);
        // SAFETY: the slot pointer comes from guard::register and points into a chunk that is
        // never freed.
        unsafe { p.as_ref() }
    }

    /// Fails when the region is closed or its file was truncated under it.
    ///
    /// # Errors
    ///
    /// [`Error::Closed`], then [`Error::Truncated`].
    pub fn check(&self, op: &'static str) -> Result<()> {
        if !self.is_open() {
            return Err(Error::Closed {
                op,
                what: Resource::Region,
            });
        }
        if self.is_truncated() {
            return Err(Error::Truncated { op });
        }
        Ok(())
    }

    /// Closes the region: the file's pages are dropped at once, but the address range stays
    /// valid.
    ///
    /// An anonymous private mapping is put over the same addresses (`MAP_FIXED`), so the file is
    /// no longer pinned (a deleted file's space is freed; truncation can no longer hurt), while any
    /// view that still points here reads zeros and writes nowhere instead of crashing. The
    /// address range is released when the region is dropped. Idempotent.
    pub fn close(&self) {
        if self
            .state
            .compare_exchange(OPEN, CLOSED, Ordering::AcqRel, Ordering::Acquire)
            .is_err()
        {
            return;
        }
        if let Some((base, len)) = self.page_span() {
            // SAFETY: [base, base + len) is exactly our own mapping; replacing it keeps the
            // addresses mapped, so raw views into it stay valid.
            let mapped = unsafe {
                libc::mmap(
                    base as *mut libc::c_void,
                    len,
                    self.mode.prot(),
                    libc::MAP_FIXED | libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
                    -1,
                    0,
                )
            };
            if mapped == libc::MAP_FAILED {
                // The kernel refused (ENOMEM): the file mapping stays until drop, still guarded.
                // Views stay valid either way, so there is nothing to report.
                return;
            }
        }
        // Only now leave the guard's table: until the anonymous pages are in place, a reader on
        // another thread may still fault on a truncated file, and the guard must absorb it.
        if let Some(slot) = self.slot() {
            self.slot.store(ptr::null_mut(), Ordering::Release);
            guard::unregister(slot);
        }
    }

    /// The page-aligned address span of the mapping, `None` when empty.
    fn page_span(&self) -> Option<(usize, usize)> {
        if self.len == 0 {
            return None;
        }
        let addr = self.ptr.as_ptr() as usize;
        let base = addr & !(sys::page_size() - 1);
        Some((base, self.len + (addr - base)))
    }

    /// The page-aligned span covering `[offset, offset + len)` of the region.
    fn aligned(&self, offset: usize, len: usize) -> (usize, usize) {
        let start = self.ptr.as_ptr() as usize + offset;
        let base = start & !(sys::page_size() - 1);
        (base, len + (start - base))
    }

    fn map_ref(&self) -> Option<&MmapRaw> {
        self.map.as_ref()
    }

    /// Checks that `[offset, offset + len)` lies inside the region (overflow-safe), as every
    /// ranged method here does: for bindings that hand out views of a range themselves.
    ///
    /// # Errors
    ///
    /// [`Error::OutOfRange`] naming `op`.
    pub fn check_range(&self, op: &'static str, offset: u64, len: u64) -> Result<()> {
        check_range(op, offset, len, self.len as u64)
    }

    fn range(&self, op: &'static str, offset: u64, len: u64) -> Result<(usize, usize)> {
        self.check_range(op, offset, len)?;
        Ok((offset as usize, len as usize))
    }

    /// Writes the whole region back to the file and waits (`msync(MS_SYNC)`). A no-op for empty,
    /// read-only and private regions' unchanged pages.
    ///
    /// # Errors
    ///
    /// [`Error::Closed`], [`Error::Truncated`], [`Error::Io`] from `msync`.
    pub fn force(&self) -> Result<()> {
        self.force_range(0, self.len as u64)
    }

    /// Writes `[offset, offset + len)` back to the file and waits. The range is aligned down to a
    /// page inside, so neighbouring bytes may be written too.
    ///
    /// # Errors
    ///
    /// As [`MappedRegion::force`], and [`Error::OutOfRange`].
    pub fn force_range(&self, offset: u64, len: u64) -> Result<()> {
        self.msync("force", offset, len, false)
    }

    /// Starts writing the whole region back (`MS_ASYNC`) without waiting.
    ///
    /// # Errors
    ///
    /// As [`MappedRegion::force`].
    pub fn force_async(&self) -> Result<()> {
        self.force_range_async(0, self.len as u64)
    }

    /// Starts writing `[offset, offset + len)` back without waiting.
    ///
    /// # Errors
    ///
    /// As [`MappedRegion::force_range`].
    pub fn force_range_async(&self, offset: u64, len: u64) -> Result<()> {
        self.msync("force_async", offset, len, true)
    }

    fn msync(&self, op: &'static str, offset: u64, len: u64, asynchronous: bool) -> Result<()> {
        self.check(op)?;
        let (offset, len) = self.range(op, offset, len)?;
        let Some(map) = self.map_ref().filter(|_| len > 0) else {
            return Ok(());
        };
        let res = if asynchronous {
            map.flush_async_range(offset, len)
        } else {
            map.flush_range(offset, len)
        };
        res.map_err(|e| self.classify(op, e))?;
        self.check(op)
    }

    /// An OS error from an operation on the mapped pages: `EFAULT`/`EIO`/`ENOMEM` after the file
    /// shrank are truncation.
    fn classify(&self, op: &'static str, e: std::io::Error) -> Error {
        if matches!(e.raw_os_error(), Some(libc::EFAULT)) {
            self.truncated.store(true, Ordering::Release);
            return Error::Truncated { op };
        }
        Error::os(op, e)
    }

    /// Faults every page of the region in, so that later reads do not wait for the disk.
    ///
    /// Uses `MADV_POPULATE_READ` (Linux 5.14), which reports a truncated file as an error instead
    /// of a signal; on older kernels falls back to `MADV_WILLNEED` plus touching one byte per page
    /// (only when the truncation guard is installed, so that touching cannot kill the process).
    ///
    /// # Errors
    ///
    /// [`Error::Closed`], [`Error::Truncated`], [`Error::Io`].
    pub fn load(&self) -> Result<()> {
        const OP: &str = "load";
        self.check(OP)?;
        match self.prefault_checked(0, self.len as u64) {
            Err(Error::Unsupported { .. }) => {
                self.advise(Advice::WillNeed)?;
                if guard::is_installed() {
                    let page = sys::page_size();
                    let mut sum = 0u8;
                    for off in (0..self.len).step_by(page) {
                        // SAFETY: `off` is inside the mapping; a SIGBUS here is absorbed by the guard.
                        sum ^= unsafe { ptr::read_volatile(self.ptr.as_ptr().add(off)) };
                    }
                    std::hint::black_box(sum);
                }
                self.check(OP)
            }
            other => other,
        }
    }

    /// Faults `[offset, offset + len)` in with `MADV_POPULATE_READ`, turning a truncated file into
    /// an error instead of `SIGBUS`.
    ///
    /// # Errors
    ///
    /// [`Error::Truncated`] when part of the range has no file page behind it;
    /// [`Error::Unsupported`] before Linux 5.14; [`Error::OutOfRange`], [`Error::Closed`].
    pub fn prefault_checked(&self, offset: u64, len: u64) -> Result<()> {
        const OP: &str = "prefault_checked";
        self.check(OP)?;
        match self.advise_range(Advice::PopulateRead, offset, len) {
            Err(Error::InvalidArgument { .. }) => Err(Error::Unsupported {
                op: OP,
                feature: "MADV_POPULATE_READ",
                min_kernel: "5.14",
            }),
            other => other,
        }
    }

    /// Whether every page of the region is resident in memory (`mincore`). A hint: pages can be
    /// evicted at any time. True for an empty region.
    ///
    /// # Errors
    ///
    /// [`Error::Closed`], [`Error::Io`].
    pub fn is_loaded(&self) -> Result<bool> {
        Ok(self.residency()?.iter().all(|&resident| resident))
    }

    /// Per-page residency of the region (`mincore`): element `i` covers the `i`-th page of the
    /// page-aligned span holding the region, starting at the page that holds its first byte.
    ///
    /// # Errors
    ///
    /// [`Error::Closed`], [`Error::Io`].
    pub fn residency(&self) -> Result<Vec<bool>> {
        const OP: &str = "residency";
        self.check(OP)?;
        let Some((base, len)) = self.page_span() else {
            return Ok(Vec::new());
        };
        let pages = len.div_ceil(sys::page_size());
        let mut vec = vec![0u8; pages];
        // SAFETY: [base, base + len) is our mapping, page-aligned; `vec` holds one byte per page.
        unsafe { syscall!(mincore(base as *mut libc::c_void, len, vec.as_mut_ptr())) }
            .map_err(|e| Error::os(OP, e))?;
        Ok(vec.into_iter().map(|b| b & 1 == 1).collect())
    }

    /// Gives the kernel advice about the whole region.
    ///
    /// # Errors
    ///
    /// [`Error::Closed`], [`Error::Io`] (`EINVAL` when the kernel does not know the advice).
    pub fn advise(&self, advice: Advice) -> Result<()> {
        self.advise_range(advice, 0, self.len as u64)
    }

    /// Gives the kernel advice about `[offset, offset + len)`, aligned down to a page inside.
    ///
    /// # Errors
    ///
    /// As [`MappedRegion::advise`], and [`Error::OutOfRange`].
    pub fn advise_range(&self, advice: Advice, offset: u64, len: u64) -> Result<()> {
        const OP: &str = "advise";
        self.check(OP)?;
        let (offset, len) = self.range(OP, offset, len)?;
        if len == 0 || self.map.is_none() {
            return Ok(());
        }
        if advice == Advice::PopulateWrite && !self.mode.is_writable() {
            return Err(Error::NotWritable { op: OP });
        }
        let (base, span) = self.aligned(offset, len);
        // SAFETY: the span lies inside our mapping; the safe advice values never discard data.
        let res = unsafe { syscall!(madvise(base as *mut libc::c_void, span, advice.raw())) };
        match res {
            Ok(_) => Ok(()),
            Err(e) if e.raw_os_error() == Some(libc::EINVAL) => Err(Error::invalid(
                OP,
                format!("the kernel refused {advice:?} (EINVAL: unknown advice or unsuitable mapping)"),
            )),
            Err(e) => Err(self.classify(OP, e)),
        }
    }

    /// Gives advice that discards or rewrites pages (`MADV_DONTNEED`, `MADV_FREE`, `MADV_REMOVE`).
    ///
    /// # Errors
    ///
    /// As [`MappedRegion::advise_range`].
    ///
    /// # Safety
    ///
    /// - No slice obtained from this region may be alive: the advice changes the contents
    ///   underneath it (private pages revert to the file, or read as zeros).
    pub unsafe fn advise_unchecked(&self, advice: UncheckedAdvice, offset: u64, len: u64) -> Result<()> {
        const OP: &str = "advise_unchecked";
        self.check(OP)?;
        let (offset, len) = self.range(OP, offset, len)?;
        if len == 0 || self.map.is_none() {
            return Ok(());
        }
        let (base, span) = self.aligned(offset, len);
        // SAFETY: the span lies inside our mapping; the caller vouches that no slice is alive.
        unsafe { syscall!(madvise(base as *mut libc::c_void, span, advice.raw())) }
            .map(drop)
            .map_err(|e| Error::os(OP, e))
    }

    /// Locks the region's pages in memory (`mlock`).
    ///
    /// # Errors
    ///
    /// [`Error::Closed`], [`Error::Io`] (`ENOMEM`/`EPERM` over `RLIMIT_MEMLOCK`).
    pub fn lock(&self) -> Result<()> {
        const OP: &str = "lock";
        self.check(OP)?;
        match self.map_ref() {
            Some(map) => map.lock().map_err(|e| self.classify(OP, e)),
            None => Ok(()),
        }
    }

    /// Unlocks the region's pages (`munlock`).
    ///
    /// # Errors
    ///
    /// [`Error::Closed`], [`Error::Io`].
    pub fn unlock(&self) -> Result<()> {
        const OP: &str = "unlock";
        self.check(OP)?;
        match self.map_ref() {
            Some(map) => map.unlock().map_err(|e| Error::os(OP, e)),
            None => Ok(()),
        }
    }

    /// Copies `buf.len()` bytes at `offset` of the region into `buf`.
    ///
    /// With the truncation guard installed, a truncated file gives [`Error::Truncated`] instead
    /// of killing the process.
    ///
    /// # Errors
    ///
    /// [`Error::Closed`], [`Error::OutOfRange`], [`Error::Truncated`].
    pub fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<()> {
        const OP: &str = "read_at";
        self.check(OP)?;
        let (offset, len) = self.range(OP, offset, buf.len() as u64)?;
        // SAFETY: the range was checked against the mapping; `buf` does not overlap it (it is an
        // exclusive Rust borrow, and the mapping is never handed out as a Rust reference here).
        unsafe { ptr::copy_nonoverlapping(self.ptr.as_ptr().add(offset), buf.as_mut_ptr(), len) };
        self.check(OP)
    }

    /// Copies `data` into the region at `offset`.
    ///
    /// # Errors
    ///
    /// [`Error::NotWritable`] for a read-only region, and as [`MappedRegion::read_at`].
    pub fn write_at(&self, offset: u64, data: &[u8]) -> Result<()> {
        const OP: &str = "write_at";
        self.check(OP)?;
        if !self.mode.is_writable() {
            return Err(Error::NotWritable { op: OP });
        }
        let (offset, len) = self.range(OP, offset, data.len() as u64)?;
        // SAFETY: the range was checked and the mapping is writable; `data` is a separate borrow.
        unsafe { ptr::copy_nonoverlapping(data.as_ptr(), self.ptr.as_ptr().add(offset), len) };
        self.check(OP)
    }

    /// The region as a byte slice.
    ///
    /// # Safety
    ///
    /// - Nothing (this or another process) may write the mapped file range, or truncate the file,
    ///   while the slice is alive.
    /// - The region must not be closed while the slice is alive.
    pub unsafe fn as_slice(&self) -> &[u8] {
        // SAFETY: ptr/len describe our mapping (or a dangling pointer with len 0); the caller
        // vouches for the absence of concurrent changes.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }

    /// The region as a mutable byte slice.
    ///
    /// # Safety
    ///
    /// - As [`MappedRegion::as_slice`], and no other slice of the region may be alive.
    /// - The region's mode must be writable.
    #[allow(clippy::mut_from_ref)]
    pub unsafe fn as_mut_slice(&self) -> &mut [u8] {
        // SAFETY: as above, and the caller vouches for exclusivity and writability.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr(), self.len) }
    }

    /// The descriptor-free page size used for alignment (the system page size).
    pub fn page_size() -> usize {
        sys::page_size()
    }
}

impl Drop for MappedRegion {
    fn drop(&mut self) {
        if let Some(slot) = self.slot() {
            guard::unregister(slot);
        }
        // Dropping `map` unmaps the address range (memmap2 ignores munmap errors: there is no
        // way to report them from Drop, and the range is ours alone).
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::os::fd::AsFd;

    #[test]
    fn unaligned_position_maps_the_right_bytes() {
        let mut f = tempfile::tempfile().unwrap();
        let data: Vec<u8> = (0..3 * 4096u32).map(|i| (i % 251) as u8).collect();
        f.write_all(&data).unwrap();
        let r = MapOptions::new(MapMode::ReadOnly)
            .position(4097)
            .size(100)
            .map(f.as_fd())
            .unwrap();
        let mut buf = [0u8; 100];
        r.read_at(0, &mut buf).unwrap();
        assert_eq!(&buf[..], &data[4097..4197]);
        assert_eq!(r.position(), 4097);
    }
}
