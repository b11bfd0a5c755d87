//! Zero-copy transfers with `FileChannel.transferTo`/`transferFrom` semantics.
//!
//! - [`TransferRequest`] describes a transfer (direction, range, method, [`Policy`], header); the
//!   three functions [`transfer_to`], [`transfer_from`] and [`transfer_all`] are its common
//!   shapes. Bindings lend their descriptors through [`Descriptors`].
//! - The planner (`planner.rs`) picks the routes for a pair of descriptors and remembers what
//!   worked; each route lives in its own file under `routes/` and the table there drives the
//!   chain: `copy_file_range`, `sendfile`, `splice` (direct, or through a per-thread pipe),
//!   mmap + `write`, then `read`/`write`.
//! - [`TransferMethod`] is the one table of method codes and names; every outcome
//!   ([`Transfer`], [`last_transfer`]) says which method moved the bytes.
//! - [`sendfile`], [`splice`] and [`tee`] are the single system calls.

mod direct;
mod facts;
mod header;
mod job;
mod method;
mod pipe;
mod planner;
mod request;
mod routes;
mod sigpipe;

use std::os::fd::BorrowedFd;

pub use direct::{sendfile, splice, tee, SpliceFlags};
pub use job::Direction;
pub use method::{last_method, last_transfer, Transfer, TransferMethod};
pub use request::{Descriptors, Policy, TransferRequest};

/// The most one transfer-to step moves: sendfile's per-call maximum, as in the JDK.
pub const MAX_DIRECT_TRANSFER: u64 = 0x7fff_f000;

/// A Rust `u64` position or count as a request's signed one: anything past `i64::MAX` is past the
/// end of every file (positions) or means "all" (counts), which `i64::MAX` says too.
fn signed(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// Transfers up to `count` bytes of the file open on `src`, starting at `position`, to `target`:
/// [`TransferRequest::to`] with [`Policy::Once`] (at most [`MAX_DIRECT_TRANSFER`]; a full
/// non-blocking target gives a short count, possibly 0, with [`Transfer::would_block`]).
///
/// # Errors
///
/// As [`TransferRequest::run`].
///
/// # Example
///
/// ```
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use std::io::{Read, Seek, Write};
/// use std::os::fd::AsFd;
///
/// let mut src = tempfile::tempfile()?;
/// src.write_all(b"0123456789")?;
/// let mut dst = tempfile::tempfile()?;
/// let t = zcopy::transfer_to(src.as_fd(), 2, 100, dst.as_fd())?;
/// assert_eq!(t.bytes, 8); // clamped at the end of the file
/// println!("moved with {}", t.method); // copy_file_range on Linux >= 4.5
/// dst.rewind()?;
/// let mut s = String::new();
/// dst.read_to_string(&mut s)?;
/// assert_eq!(s, "23456789");
/// # Ok(()) }
/// ```
pub fn transfer_to(
    src: BorrowedFd<'_>,
    position: u64,
    count: u64,
    target: BorrowedFd<'_>,
) -> crate::Result<Transfer> {
    TransferRequest::to(signed(position), signed(count)).run(src, target)
}

/// Transfers up to `count` bytes from `src` into the file open on `target` at `position`:
/// [`TransferRequest::from`] with [`Policy::Once`].
///
/// # Errors
///
/// As [`TransferRequest::run`] (with `ESPIPE` when `target` is not a regular file).
pub fn transfer_from(
    target: BorrowedFd<'_>,
    src: BorrowedFd<'_>,
    position: u64,
    count: u64,
) -> crate::Result<Transfer> {
    TransferRequest::from(signed(position), signed(count)).run(src, target)
}

/// Moves all `count` bytes (or up to the end of the file) from `src` at `position` to `target`,
/// in as many system calls as it takes, past [`MAX_DIRECT_TRANSFER`] too, waiting with `poll` on
/// a non-blocking target: [`TransferRequest::to`] with [`Policy::All`].
///
/// # Errors
///
/// As [`TransferRequest::run`]. An error after some bytes moved is reported as the error;
/// [`last_transfer`] then holds the bytes moved before it.
pub fn transfer_all(
    src: BorrowedFd<'_>,
    position: u64,
    count: u64,
    target: BorrowedFd<'_>,
) -> crate::Result<Transfer> {
    TransferRequest::to(signed(position), signed(count))
        .policy(Policy::All)
        .run(src, target)
}
pub(crate) use request::wait_stream;
