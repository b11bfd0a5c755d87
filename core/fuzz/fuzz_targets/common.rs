//! Shared by the fuzz targets: memfd-backed files (fast, no disk) holding a known pattern.

use std::fs::File;
use std::io::Write;
use std::os::fd::FromRawFd;

pub fn byte_at(i: u64) -> u8 {
    (i.wrapping_mul(7) + i / 251) as u8
}

/// A regular file (memfd) of `size` bytes of the pattern, opened read-write.
pub fn memfd(size: usize) -> File {
    // SAFETY: a valid NUL-terminated name; memfd_create returns a new descriptor or -1.
    let fd = unsafe { libc::memfd_create(c"zcopy-fuzz".as_ptr(), libc::MFD_CLOEXEC) };
    assert!(fd >= 0, "memfd_create failed");
    // SAFETY: the descriptor is new and owned by nothing else.
    let mut f = unsafe { File::from_raw_fd(fd) };
    let data: Vec<u8> = (0..size as u64).map(byte_at).collect();
    f.write_all(&data).unwrap();
    f
}

/// Reopens `f` through /proc/self/fd with the given access mode (to get read-only or
/// write-only descriptors of the same file).
pub fn reopen(f: &File, read: bool, write: bool) -> File {
    use std::os::fd::AsRawFd;
    File::options()
        .read(read)
        .write(write)
        .open(format!("/proc/self/fd/{}", f.as_raw_fd()))
        .unwrap()
}
