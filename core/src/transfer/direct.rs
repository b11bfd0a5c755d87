//! The single system calls, as their man pages describe them: [`sendfile`], [`splice`] and
//! [`tee`], with `EINTR` retried and `SIGPIPE` kept from killing the process.

use std::io;
use std::os::fd::BorrowedFd;

use nix::fcntl::SpliceFFlags;

use super::sigpipe::SigpipeShield;
use super::MAX_DIRECT_TRANSFER;
use crate::sys::retry_eintr;
use crate::{Error, Result};

/// Flags for [`splice`] and [`tee`] (`SPLICE_F_*`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct SpliceFlags(u32);

impl SpliceFlags {
    /// No flags.
    pub const NONE: SpliceFlags = SpliceFlags(0);
    /// `SPLICE_F_MOVE`: move pages instead of copying (a hint).
    pub const MOVE: SpliceFlags = SpliceFlags(libc::SPLICE_F_MOVE);
    /// `SPLICE_F_NONBLOCK`: do not block on the pipe.
    pub const NONBLOCK: SpliceFlags = SpliceFlags(libc::SPLICE_F_NONBLOCK);
    /// `SPLICE_F_MORE`: more data will follow (like `MSG_MORE`).
    pub const MORE: SpliceFlags = SpliceFlags(libc::SPLICE_F_MORE);

    /// The flags for a raw `SPLICE_F_*` value.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] for bits that are not `MOVE`, `NONBLOCK` or `MORE`.
    pub fn from_bits(bits: u32) -> Result<SpliceFlags> {
        let known = libc::SPLICE_F_MOVE | libc::SPLICE_F_NONBLOCK | libc::SPLICE_F_MORE;
        if bits & !known != 0 {
            return Err(Error::invalid(
                "splice",
                format!("unknown splice flags {bits:#x}"),
            ));
        }
        Ok(SpliceFlags(bits))
    }

    /// The raw bits.
    pub fn bits(self) -> u32 {
        self.0
    }

    fn nix(self) -> SpliceFFlags {
        SpliceFFlags::from_bits_truncate(self.0)
    }
}

impl std::ops::BitOr for SpliceFlags {
    type Output = SpliceFlags;
    fn bitor(self, rhs: SpliceFlags) -> SpliceFlags {
        SpliceFlags(self.0 | rhs.0)
    }
}

/// An explicit offset as the kernel takes it (`loff_t`).
fn kernel_offset(op: &'static str, offset: &Option<&mut u64>) -> Result<Option<i64>> {
    offset
        .as_deref()
        .map(|&o| i64::try_from(o).map_err(|_| Error::invalid(op, "offset exceeds a 64-bit file offset")))
        .transpose()
}

/// Runs one call with `EINTR` retried and the SIGPIPE shield up.
fn direct_call(op: &'static str, mut f: impl FnMut() -> nix::Result<usize>) -> Result<usize> {
    let shield = SigpipeShield::raise();
    let res = retry_eintr(|| f().map_err(io::Error::from));
    shield.lower(matches!(&res, Err(e) if e.raw_os_error() == Some(libc::EPIPE)));
    res.map_err(|e| Error::os(op, e))
}

/// Stores an offset the kernel advanced back into the caller's `u64`.
fn store(offset: Option<&mut u64>, value: Option<i64>) {
    if let (Some(o), Some(v)) = (offset, value) {
        *o = v as u64;
    }
}

/// One `sendfile(2)` call: up to `count` bytes from `in_fd` to `out_fd` (at most
/// [`MAX_DIRECT_TRANSFER`]). With `offset`, reads there and advances `*offset` (not `in_fd`'s
/// position); without, reads from and advances `in_fd`'s position. Returns 0 at end of file.
/// See [sendfile(2)](https://man7.org/linux/man-pages/man2/sendfile.2.html).
///
/// # Errors
///
/// [`Error::WouldBlock`] when a non-blocking `out_fd` is full; [`Error::Closed`] for `EBADF`;
/// [`Error::Io`] otherwise (`EPIPE` for a vanished peer, never a `SIGPIPE` death).
pub fn sendfile(
    out_fd: BorrowedFd<'_>,
    in_fd: BorrowedFd<'_>,
    offset: Option<&mut u64>,
    count: usize,
) -> Result<usize> {
    let mut off = kernel_offset("sendfile", &offset)?;
    let count = count.min(MAX_DIRECT_TRANSFER as usize);
    let n = direct_call("sendfile", || {
        nix::sys::sendfile::sendfile64(out_fd, in_fd, off.as_mut(), count)
    })?;
    store(offset, off);
    Ok(n)
}

/// One `splice(2)` call between `fd_in` and `fd_out`, one of which must be a pipe (the pipe
/// side's offset must be `None`). Offsets behave as in [`sendfile`]. Returns 0 at end of input.
/// See [splice(2)](https://man7.org/linux/man-pages/man2/splice.2.html).
///
/// # Errors
///
/// As [`sendfile`]; [`Error::Io`] with `EINVAL` when neither side is a pipe.
pub fn splice(
    fd_in: BorrowedFd<'_>,
    off_in: Option<&mut u64>,
    fd_out: BorrowedFd<'_>,
    off_out: Option<&mut u64>,
    len: usize,
    flags: SpliceFlags,
) -> Result<usize> {
    let (mut oin, mut oout) = (
        kernel_offset("splice", &off_in)?,
        kernel_offset("splice", &off_out)?,
    );
    let n = direct_call("splice", || {
        nix::fcntl::splice(fd_in, oin.as_mut(), fd_out, oout.as_mut(), len, flags.nix())
    })?;
    store(off_in, oin);
    store(off_out, oout);
    Ok(n)
}

/// One `tee(2)` call: duplicates up to `len` bytes from pipe `fd_in` into pipe `fd_out`
/// without consuming them. See [tee(2)](https://man7.org/linux/man-pages/man2/tee.2.html).
///
/// # Errors
///
/// As [`splice`].
pub fn tee(fd_in: BorrowedFd<'_>, fd_out: BorrowedFd<'_>, len: usize, flags: SpliceFlags) -> Result<usize> {
    direct_call("tee", || nix::fcntl::tee(fd_in, fd_out, len, flags.nix()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splice_flags_refuse_unknown_bits() {
        assert!(SpliceFlags::from_bits(libc::SPLICE_F_MOVE | libc::SPLICE_F_MORE).is_ok());
        assert!(SpliceFlags::from_bits(0x100).is_err());
    }
}
