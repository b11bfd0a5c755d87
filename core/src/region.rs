//! Mapped regions: any byte range of a file (or of a memfd) mapped into memory.
//!
//! [`MappedRegion`] is pointer-level: every method takes `&self`, so a binding can share one
//! region between threads behind an `Arc` and hand out raw views. Closing a region is explicit
//! and deterministic, and safe while views still exist (see [`MappedRegion::close`]).

use std::ffi::CString;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::ptr::{self, NonNull};
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU8, Ordering};

use memmap2::{MmapOptions, MmapRaw};

use crate::error::check_range;
use crate::guard::{self, Slot};
use crate::sys::{self, syscall, FdFlags, FdKind};
use crate::{Error, Resource, Result};

/// How a region may be accessed, and whether writes reach the file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MapMode {
    /// Readable only (`PROT_READ`, `MAP_SHARED`). Java `READ_ONLY`, Python `ACCESS_READ`.
    ReadOnly,
    /// Readable and writable; writes reach the file (`MAP_SHARED`). Java `READ_WRITE`.
    ReadWrite,
    /// Readable and writable; writes stay private to this mapping (copy-on-write,
    /// `MAP_PRIVATE`): the file never changes. Java `PRIVATE`, Python `ACCESS_COPY`.
    Private,
}

impl MapMode {
    fn prot(self) -> i32 {
        match self {
            MapMode::ReadOnly => libc::PROT_READ,
            MapMode::ReadWrite | MapMode::Private => libc::PROT_READ | libc::PROT_WRITE,
        }
    }

    /// Whether writes through the region are allowed.
    pub fn is_writable(self) -> bool {
        !matches!(self, MapMode::ReadOnly)
    }
}

/// When a mapping that reaches past the end of the file grows the file (with `ftruncate`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum Grow {
    /// `ReadWrite` and `Private` mappings grow a file open for writing; a `ReadOnly` mapping past
    /// the end is [`Error::PastEndOfFile`]. The default.
    #[default]
    WritableModes,
    /// Any mapping grows a file open for writing, a `ReadOnly` one too: exactly
    /// `FileChannel.map`'s rule.
    IfDescriptorWritable,
    /// Never grow: a mapping past the end is [`Error::PastEndOfFile`].
    Never,
}

/// Huge-page policy for a mapping.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum HugePages {
    /// Ordinary pages.
    #[default]
    Off,
    /// Ask for transparent huge pages (`madvise(MADV_HUGEPAGE)`, Linux 2.6.38); a hint that the
    /// kernel may ignore (file mappings need a file system that supports them).
    Transparent,
    /// hugetlbfs pages (`MFD_HUGETLB`), for shared anonymous regions only. Needs pages reserved
    /// in `/proc/sys/vm/nr_hugepages`; fails with `ENOMEM` otherwise.
    Explicit,
}

/// How to map a region. Build one, then call [`MapOptions::map`].
///
/// Positions and sizes are kept wide so that values coming from Java `long`, Python `int` or C
/// `int64_t` are checked here, once, in `FileChannel.map`'s order.
#[derive(Clone, Debug)]
pub struct MapOptions {
    mode: MapMode,
    position: i128,
    size: Option<i128>,
    populate: bool,
    huge_pages: HugePages,
    grow: Grow,
    private_needs_write: bool,
    sync: bool,
}

impl Default for MapOptions {
    fn default() -> Self {
        MapOptions::new(MapMode::ReadOnly)
    }
}

impl MapOptions {
    /// Options for a mapping in `mode` of the whole file from position 0.
    pub fn new(mode: MapMode) -> MapOptions {
        MapOptions {
            mode,
            position: 0,
            size: None,
            populate: false,
            huge_pages: HugePages::Off,
            grow: Grow::default(),
            private_needs_write: false,
            sync: false,
        }
    }

    /// The file position of the region's first byte. Any byte: it need not be page-aligned.
    pub fn position(&mut self, position: u64) -> &mut Self {
        self.position = position.into();
        self
    }

    /// Like [`MapOptions::position`], for a signed value from a binding: a negative value is
    /// refused by [`MapOptions::map`] with [`Error::InvalidArgument`].
    pub fn position_signed(&mut self, position: i64) -> &mut Self {
        self.position = position.into();
        self
    }

    /// The region's length in bytes; 0 gives an empty region without a mapping. Without a size the
    /// region runs from the position to the end of the file.
    pub fn size(&mut self, size: u64) -> &mut Self {
        self.size = Some(size.into());
        self
    }

    /// Like [`MapOptions::size`], for a signed value from a binding.
    pub fn size_signed(&mut self, size: i64) -> &mut Self {
        self.size = Some(size.into());
        self
    }

    /// Fault every page in at map time (`MAP_POPULATE`).
    pub fn populate(&mut self, populate: bool) -> &mut Self {
        self.populate = populate;
        self
    }

    /// The huge-page policy.
    pub fn huge_pages(&mut self, huge_pages: HugePages) -> &mut Self {
        self.huge_pages = huge_pages;
        self
    }

    /// When the file grows to fit the mapping.
    pub fn grow(&mut self, grow: Grow) -> &mut Self {
        self.grow = grow;
        self
    }

    /// Refuse `Private` mappings of descriptors not open for writing, as `FileChannel.map` does
    /// (the kernel itself only needs read access).
    pub fn private_needs_write(&mut self, yes: bool) -> &mut Self {
        self.private_needs_write = yes;
        self
    }

    /// Map with `MAP_SYNC` (`MAP_SHARED_VALIDATE | MAP_SYNC`, Linux 4.15): for files on a DAX
    /// file system (persistent memory: ext4 or XFS mounted with `-o dax`), writes through the
    /// region are durable once the CPU caches are flushed, without `msync`. Java's
    /// `ExtendedMapMode.READ_ONLY_SYNC`/`READ_WRITE_SYNC`. Only for `ReadOnly` and `ReadWrite`
    /// (a copy-on-write mapping never writes the file). On any other file system the kernel
    /// refuses it: [`MapOptions::map`] fails with [`Error::Io`] and `EOPNOTSUPP`, as the JDK's
    /// `FileChannel.map` does; an empty region needs no mapping and succeeds anywhere.
    pub fn sync(&mut self, sync: bool) -> &mut Self {
        self.sync = sync;
        self
    }

    /// Maps the file open on `fd`.
    ///
    /// Checks, in this order (`FileChannel.map`'s): the descriptor is open ([`Error::Closed`]);
    /// position and size are not negative and their sum fits in an `i64`
    /// ([`Error::InvalidArgument`]); the descriptor's access mode suits the mapping mode
    /// ([`Error::NotWritable`] before [`Error::NotReadable`]); the descriptor is a regular file
    /// ([`Error::Io`] with `ENODEV`); the range lies inside the file or the file may grow to hold it
    /// ([`Error::PastEndOfFile`]).
    ///
    /// # Errors
    ///
    /// As above, and [`Error::Io`] when `mmap` or `ftruncate` fail.
    ///
    /// # Example
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use std::io::Write;
    /// use std::os::fd::AsFd;
    /// use zcopy::{MapMode, MapOptions};
    ///
    /// let mut file = tempfile::tempfile()?;
    /// file.write_all(b"hello, mapped world")?;
    /// let region = MapOptions::new(MapMode::ReadOnly).position(7).size(6).map(file.as_fd())?;
    /// let mut buf = [0u8; 6];
    /// region.read_at(0, &mut buf)?;
    /// assert_eq!(&buf, b"mapped");
    /// region.close();
    /// # Ok(()) }
    /// ```
    pub fn map(&self, fd: BorrowedFd<'_>) -> Result<MappedRegion> {
        const OP: &str = "map";
        let fd = fd.as_raw_fd();
        let flags = FdFlags::get(fd).map_err(|e| Error::os(OP, e))?;
        let (position, size) = self.checked_range(OP)?;
        if self.sync && self.mode == MapMode::Private {
            return Err(Error::invalid(OP, "a copy-on-write mapping cannot be MAP_SYNC"));
        }
        let needs_write =
            self.mode == MapMode::ReadWrite || (self.mode == MapMode::Private && self.private_needs_write);
        if needs_write && !flags.writable() {
            return Err(Error::NotWritable { op: OP });
        }
        if !flags.readable() {
            return Err(Error::NotReadable { op: OP });
        }
        let stat = sys::fstat(fd).map_err(|e| Error::os(OP, e))?;
        if stat.kind != FdKind::File {
            return Err(Error::Io {
                op: OP,
                source: std::io::Error::from_raw_os_error(libc::ENODEV),
            });
        }
        let size = match size {
            Some(size) => size,
            None if position > stat.size => {
                return Err(Error::PastEndOfFile {
                    op: OP,
                    end: position,
                    file_size: stat.size,
                    reason: "the position is past the end of the file",
                })
            }
            None => stat.size - position,
        };
        let end = position + size;
        if end > stat.size {
            let grows = match self.grow {
                Grow::Never => false,
                Grow::WritableModes => self.mode != MapMode::ReadOnly,
                Grow::IfDescriptorWritable => true,
            };
            let reason = if !grows {
                "a read-only mapping does not extend the file"
            } else if !flags.writable() {
                "the descriptor is not open for writing, so the file cannot be extended"
            } else {
                ""
            };
            if !reason.is_empty() {
                return Err(Error::PastEndOfFile {
                    op: OP,
                    end,
                    file_size: stat.size,
                    reason,
                });
            }
            // SAFETY: ftruncate has no memory-safety preconditions.
            sys::retry_eintr(|| unsafe { syscall!(ftruncate(fd, end as libc::off_t)) })
                .map_err(|e| Error::os(OP, e))?;
        }
        MappedRegion::map_fd(OP, fd, self, position, size)
    }

    /// Validates position and size, in `FileChannel.map`'s order.
    fn checked_range(&self, op: &'static str) -> Result<(u64, Option<u64>)> {
        if self.position < 0 {
            return Err(Error::invalid(
                op,
                format!("negative position ({})", self.position),
            ));
        }
        if let Some(size) = self.size {
            if size < 0 {
                return Err(Error::invalid(op, format!("negative size ({size})")));
            }
        }
        let end = self.position + self.size.unwrap_or(0);
        if end > i64::MAX as i128 {
            return Err(Error::invalid(
                op,
                "position + size overflows a 64-bit file offset",
            ));
        }
        if self.size.unwrap_or(0) > isize::MAX as i128 {
            return Err(Error::invalid(op, "size exceeds the address space"));
        }
        Ok((self.position as u64, self.size.map(|s| s as u64)))
    }
}

/// Replaces the fresh mapping at `ptr` (the byte at file `position`, `len` bytes) by the same
/// file range mapped `MAP_SHARED_VALIDATE | MAP_SYNC`. memmap2 has no `MAP_SYNC`, so the region
/// is first mapped by memmap2 (which keeps owning, and finally unmaps, the address range) and
/// then mapped again over itself. On failure (`EOPNOTSUPP` off DAX file systems) the kernel
/// validated the flags before touching the range; the caller drops the mapping either way.
fn remap_sync(ptr: NonNull<u8>, len: usize, mode: MapMode, fd: RawFd, position: u64) -> std::io::Result<()> {
    let within = (position % sys::page_size() as u64) as usize;
    let base = ptr.as_ptr() as usize - within;
    // SAFETY: [base, base + within + len) is exactly the mapping memmap2 just made and nothing
    // else references yet; MAP_FIXED replaces it in place with a mapping of the same file range.
    let mapped = unsafe {
        libc::mmap(
            base as *mut libc::c_void,
            within + len,
            mode.prot(),
            libc::MAP_FIXED | libc::MAP_SHARED_VALIDATE | libc::MAP_SYNC,
            fd,
            (position - within as u64) as libc::off_t,
        )
    };
    if mapped == libc::MAP_FAILED {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

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
            remap_sync(ptr, len, options.mode, fd, position).map_err(|e| Error::os(op, e))?;
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

/// Advice that cannot discard data: safe on any region.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Advice {
    /// No special treatment (`MADV_NORMAL`).
    Normal,
    /// Expect random access; read ahead less (`MADV_RANDOM`).
    Random,
    /// Expect sequential access; read ahead more (`MADV_SEQUENTIAL`).
    Sequential,
    /// Expect access soon; start reading (`MADV_WILLNEED`).
    WillNeed,
    /// Use transparent huge pages (`MADV_HUGEPAGE`, Linux 2.6.38).
    HugePage,
    /// Do not use transparent huge pages (`MADV_NOHUGEPAGE`).
    NoHugePage,
    /// Do not copy into a forked child (`MADV_DONTFORK`).
    DontFork,
    /// Undo `DontFork` (`MADV_DOFORK`).
    DoFork,
    /// Leave out of core dumps (`MADV_DONTDUMP`).
    DontDump,
    /// Undo `DontDump` (`MADV_DODUMP`).
    DoDump,
    /// Prefault for reading, reporting errors (`MADV_POPULATE_READ`, Linux 5.14).
    PopulateRead,
    /// Prefault for writing, reporting errors (`MADV_POPULATE_WRITE`, Linux 5.14); writable
    /// regions only.
    PopulateWrite,
}

impl Advice {
    fn raw(self) -> i32 {
        match self {
            Advice::Normal => libc::MADV_NORMAL,
            Advice::Random => libc::MADV_RANDOM,
            Advice::Sequential => libc::MADV_SEQUENTIAL,
            Advice::WillNeed => libc::MADV_WILLNEED,
            Advice::HugePage => libc::MADV_HUGEPAGE,
            Advice::NoHugePage => libc::MADV_NOHUGEPAGE,
            Advice::DontFork => libc::MADV_DONTFORK,
            Advice::DoFork => libc::MADV_DOFORK,
            Advice::DontDump => libc::MADV_DONTDUMP,
            Advice::DoDump => libc::MADV_DODUMP,
            Advice::PopulateRead => libc::MADV_POPULATE_READ,
            Advice::PopulateWrite => libc::MADV_POPULATE_WRITE,
        }
    }

    /// The advice for a Linux `MADV_*` number, as C, Java and Python callers pass it.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] for an unknown number, or one of the destructive values, which
    /// only [`UncheckedAdvice::from_raw`] accepts.
    pub fn from_raw(value: i32) -> Result<Advice> {
        const ALL: [Advice; 12] = [
            Advice::Normal,
            Advice::Random,
            Advice::Sequential,
            Advice::WillNeed,
            Advice::HugePage,
            Advice::NoHugePage,
            Advice::DontFork,
            Advice::DoFork,
            Advice::DontDump,
            Advice::DoDump,
            Advice::PopulateRead,
            Advice::PopulateWrite,
        ];
        ALL.into_iter().find(|a| a.raw() == value).ok_or_else(|| {
            let why = if UncheckedAdvice::from_raw(value).is_ok() {
                "is destructive and only allowed through the unchecked path"
            } else {
                "is not a known madvise value"
            };
            Error::invalid("advise", format!("advice {value} {why}"))
        })
    }
}

/// Advice that discards or rewrites pages: only through the `unsafe`
/// [`MappedRegion::advise_unchecked`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum UncheckedAdvice {
    /// Drop the pages; private changes are lost (`MADV_DONTNEED`).
    DontNeed,
    /// Pages may be freed lazily (`MADV_FREE`, private anonymous memory only).
    Free,
    /// Free the backing store (`MADV_REMOVE`, shared mappings of file systems that punch holes).
    Remove,
}

impl UncheckedAdvice {
    fn raw(self) -> i32 {
        match self {
            UncheckedAdvice::DontNeed => libc::MADV_DONTNEED,
            UncheckedAdvice::Free => libc::MADV_FREE,
            UncheckedAdvice::Remove => libc::MADV_REMOVE,
        }
    }

    /// The advice for a Linux `MADV_*` number.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] for a number that is not one of the three destructive values.
    pub fn from_raw(value: i32) -> Result<UncheckedAdvice> {
        [
            UncheckedAdvice::DontNeed,
            UncheckedAdvice::Free,
            UncheckedAdvice::Remove,
        ]
        .into_iter()
        .find(|a| a.raw() == value)
        .ok_or_else(|| Error::invalid("advise_unchecked", format!("advice {value} is not destructive")))
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

    #[test]
    fn advice_numbers_round_trip_and_refuse_destructive_values() {
        assert_eq!(
            Advice::from_raw(libc::MADV_SEQUENTIAL).unwrap(),
            Advice::Sequential
        );
        let err = Advice::from_raw(libc::MADV_DONTNEED).unwrap_err();
        assert!(err.to_string().contains("destructive"));
        assert!(Advice::from_raw(9999).is_err());
        assert_eq!(
            UncheckedAdvice::from_raw(libc::MADV_DONTNEED).unwrap(),
            UncheckedAdvice::DontNeed
        );
        assert!(UncheckedAdvice::from_raw(libc::MADV_SEQUENTIAL).is_err());
    }
}
