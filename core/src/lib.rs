//! zcopy: the Linux kernel's zero-copy I/O for Rust, and the core of the C, Java and Python
//! bindings.
//!
//! - [`MapOptions`] / [`MappedRegion`]: any byte range of a file mapped into memory (no alignment
//!   rule, more than 2 GiB, read-only, read-write or copy-on-write), with `force`, `load`,
//!   residency, advice, locking, and a close that is safe while views still point into it.
//! - [`transfer_to`] / [`transfer_from`] / [`transfer_all`]: `FileChannel.transferTo` /
//!   `transferFrom` semantics over `copy_file_range`, `sendfile`, `splice`, mmap + `write` and
//!   `read`/`write`, probed at run time, reporting the [`TransferMethod`] that ran.
//! - [`Selector`]: epoll with level, edge, one-shot and exclusive registrations and a waker.
//! - [`guard`]: survive a file truncated under a mapping; [`FileLease`]: be told before it is.
//!
//! Every failure is an [`Error`] with an [`ErrorKind`] that the bindings map through one table.
//!
//! Linux only.

#![deny(missing_docs)]
#![cfg(target_os = "linux")]

mod descriptors;
mod error;
pub mod guard;
mod lease;
mod region;
mod selector;
mod sys;
pub mod transfer;

pub use descriptors::{close_pair, duplicate_at_least, is_regular_file, wait_ready};
pub use error::{non_negative, Error, ErrorKind, Result};
pub use lease::{FileLease, LEASE_BREAK_SIGNAL};
pub use region::{Advice, Grow, HugePages, MapMode, MapOptions, MappedRegion, UncheckedAdvice};
pub use selector::{Event, Events, Interest, Mode, Selected, Selector, Token};
pub use transfer::{
    check_transfer_from_args, check_transfer_to_args, last_method, last_transfer, sendfile, splice, tee,
    transfer_all, transfer_all_keyed, transfer_all_using, transfer_from, transfer_from_keyed,
    transfer_from_using, transfer_to, transfer_to_keyed, transfer_to_using, transfer_to_with_header,
    transfer_to_with_header_keyed, HeaderTransfer, SpliceFlags, Transfer, TransferMethod,
    MAX_DIRECT_TRANSFER,
};

/// The crate's version, as in `Cargo.toml`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
