//! zcopy: the Linux kernel's zero-copy I/O for Rust, and the core of the C, Java and Python
//! bindings.
//!
//! - [`MapOptions`] / [`MappedRegion`]: any byte range of a file mapped into memory (no alignment
//!   rule, more than 2 GiB, read-only, read-write or copy-on-write), with `force`, `load`,
//!   residency, advice, locking, and a close that is safe while views still point into it.
//! - [`TransferRequest`] (and its common shapes [`transfer_to`] / [`transfer_from`] /
//!   [`transfer_all`]): `FileChannel.transferTo` / `transferFrom` semantics over
//!   `copy_file_range`, `sendfile`, `splice`, mmap + `write` and `read`/`write`, planned per pair
//!   of descriptors, reporting the [`TransferMethod`] that ran.
//! - [`Selector`]: epoll with level, edge, one-shot and exclusive registrations and a waker.
//! - [`guard`]: survive a file truncated under a mapping; [`FileLease`]: be told before it is.
//!
//! Every failure is an [`Error`] with an [`ErrorKind`] that the bindings map through one table;
//! [`binding`] holds what every language binding needs around the core (descriptor rules, a
//! guarded descriptor pair, access modes, range checks).
//!
//! Linux only.

#![deny(missing_docs)]
#![cfg(target_os = "linux")]

pub mod binding;
mod error;
pub mod guard;
mod lease;
mod region;
mod selector;
mod sys;
pub mod transfer;

pub use error::{errno_text, non_negative, Error, ErrorKind, Resource, Result};
pub use lease::{FileLease, LEASE_BREAK_SIGNAL};
pub use region::{Advice, Grow, HugePages, MapMode, MapOptions, MappedRegion, UncheckedAdvice};
pub use selector::{Event, Events, Interest, Mode, Selected, Selector, Token};
pub use transfer::{
    last_method, last_transfer, sendfile, splice, tee, transfer_all, transfer_from, transfer_to, Descriptors,
    Direction, Policy, SpliceFlags, Transfer, TransferMethod, TransferRequest, MAX_DIRECT_TRANSFER,
};

/// The crate's version, as in `Cargo.toml`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
