//! How to map a region: [`MapMode`], [`Grow`], [`HugePages`] and the [`MapOptions`] builder with
//! `FileChannel.map`'s checks, in its order.

use std::os::fd::{AsRawFd, BorrowedFd, RawFd};
use std::ptr::{self, NonNull};

use super::MappedRegion;
use crate::sys::{self, syscall, FdFlags, FdKind};
use crate::{Error, Result};

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
    pub(super) fn prot(self) -> i32 {
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
    pub(super) mode: MapMode,
    pub(super) position: i128,
    pub(super) size: Option<i128>,
    pub(super) populate: bool,
    pub(super) huge_pages: HugePages,
    pub(super) grow: Grow,
    pub(super) private_needs_write: bool,
    pub(super) sync: bool,
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

/// Why [`remap_sync`] failed, which decides what happens to memmap2's mapping.
pub(super) enum SyncRefused {
    /// The kernel refused `MAP_SYNC` for this file (`EOPNOTSUPP` off DAX file systems) on a
    /// trial mapping elsewhere: memmap2's mapping is untouched and may be dropped as usual.
    Refused(std::io::Error),
    /// The trial worked but the in-place replacement failed (only for lack of resources). A
    /// failed `MAP_FIXED` may already have unmapped the range, and another thread may have
    /// mapped something there since, so the caller must forget memmap2's mapping rather than
    /// unmap it: leaking an address range is harmless, unmapping someone else's is not.
    Lost(std::io::Error),
}

/// Replaces the fresh mapping at `ptr` (the byte at file `position`, `len` bytes) by the same
/// file range mapped `MAP_SHARED_VALIDATE | MAP_SYNC`. memmap2 has no `MAP_SYNC`, so the region
/// is first mapped by memmap2 (which keeps owning, and finally unmaps, the address range) and
/// then mapped again over itself. The file system's answer comes from a trial mapping at an
/// address the kernel picks, because a refused `MAP_FIXED` can leave a hole where memmap2's
/// mapping was, which a concurrent `mmap` may fill and memmap2's drop would then unmap.
pub(super) fn remap_sync(
    ptr: NonNull<u8>,
    len: usize,
    mode: MapMode,
    fd: RawFd,
    position: u64,
) -> std::result::Result<(), SyncRefused> {
    let within = (position % sys::page_size() as u64) as usize;
    let base = ptr.as_ptr() as usize - within;
    let span = within + len;
    let offset = (position - within as u64) as libc::off_t;
    let flags = libc::MAP_SHARED_VALIDATE | libc::MAP_SYNC;
    // SAFETY: a new mapping at an address the kernel chooses touches no existing memory.
    let trial = unsafe { libc::mmap(ptr::null_mut(), span, mode.prot(), flags, fd, offset) };
    if trial == libc::MAP_FAILED {
        return Err(SyncRefused::Refused(std::io::Error::last_os_error()));
    }
    // SAFETY: `trial` is the mapping made just above, `span` bytes long, referenced by nobody.
    unsafe { libc::munmap(trial, span) };
    // SAFETY: [base, base + span) is exactly the mapping memmap2 just made and nothing else
    // references yet; MAP_FIXED replaces it in place with a mapping of the same file range.
    let mapped = unsafe {
        libc::mmap(
            base as *mut libc::c_void,
            span,
            mode.prot(),
            libc::MAP_FIXED | flags,
            fd,
            offset,
        )
    };
    if mapped == libc::MAP_FAILED {
        return Err(SyncRefused::Lost(std::io::Error::last_os_error()));
    }
    Ok(())
}
