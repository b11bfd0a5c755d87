//! The one table of transfer methods: codes, names and what each is. The C, Java and Python
//! bindings map through it (`TransferMethod::code`/`from_code`, `name`/`from_name`) and a test in
//! each checks that their own constants agree with it.

use std::cell::Cell;

/// The kernel path that moved the bytes of a transfer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
#[non_exhaustive]
pub enum TransferMethod {
    /// Nothing moved, so no method ran (zero count, position at or past the end).
    None = 0,
    /// `copy_file_range(2)`: in-kernel file → file copy, block sharing on reflink file systems.
    CopyFileRange = 1,
    /// `sendfile(2)`: in-kernel file → any descriptor.
    Sendfile = 2,
    /// `splice(2)`, through a pipe where neither side is one.
    Splice = 3,
    /// The source mapped read-only and `write(2)` from the mapping: one CPU copy.
    MmapWrite = 4,
    /// A `read(2)`/`write(2)` loop through a buffer: two CPU copies.
    ReadWrite = 5,
}

impl TransferMethod {
    /// Every method that moves bytes, fastest-in-principle first (`None` is not one).
    pub const ALL: [TransferMethod; 5] = [
        TransferMethod::CopyFileRange,
        TransferMethod::Sendfile,
        TransferMethod::Splice,
        TransferMethod::MmapWrite,
        TransferMethod::ReadWrite,
    ];

    /// The method's stable number: `ZC_METHOD_*` in C, `TransferMethod.code()` in Java. Never
    /// reused; new methods get new numbers.
    pub fn code(self) -> u32 {
        self as u32
    }

    /// The method numbered `code` (`None` for 0); `Option::None` for a number no method has.
    pub fn from_code(code: u32) -> Option<TransferMethod> {
        std::iter::once(TransferMethod::None)
            .chain(TransferMethod::ALL)
            .find(|m| m.code() == code)
    }

    /// The method's name as reports and benchmarks print it: `copy_file_range`, `sendfile`,
    /// `splice`, `mmap+write`, `read/write`, `none`.
    pub fn name(self) -> &'static str {
        match self {
            TransferMethod::None => "none",
            TransferMethod::CopyFileRange => "copy_file_range",
            TransferMethod::Sendfile => "sendfile",
            TransferMethod::Splice => "splice",
            TransferMethod::MmapWrite => "mmap+write",
            TransferMethod::ReadWrite => "read/write",
        }
    }

    /// The method named `name` (as [`TransferMethod::name`] spells it, `none` included).
    pub fn from_name(name: &str) -> Option<TransferMethod> {
        std::iter::once(TransferMethod::None)
            .chain(TransferMethod::ALL)
            .find(|m| m.name() == name)
    }

    /// Whether the method moves bytes without a CPU copy through user space.
    pub fn is_zero_copy(self) -> bool {
        matches!(
            self,
            TransferMethod::CopyFileRange | TransferMethod::Sendfile | TransferMethod::Splice
        )
    }
}

impl std::fmt::Display for TransferMethod {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The outcome of a transfer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Transfer {
    /// Bytes of the body moved (not counting a header).
    pub bytes: u64,
    /// Bytes of the header sent (requests with [`TransferRequest::header`](super::TransferRequest::header)).
    pub header: usize,
    /// The method that moved the body's bytes.
    pub method: TransferMethod,
    /// The non-blocking side (target of a transfer to, source of a transfer from) could not take
    /// or give more without blocking.
    pub would_block: bool,
    /// Every system call the transfer made (probes, fallbacks, waits, the header's `send` and
    /// the SIGPIPE shield included), to compare strategies.
    pub syscalls: u64,
}

impl Transfer {
    /// Nothing moved.
    pub const NONE: Transfer = Transfer {
        bytes: 0,
        header: 0,
        method: TransferMethod::None,
        would_block: false,
        syscalls: 0,
    };
}

thread_local! {
    static LAST: Cell<Transfer> = const { Cell::new(Transfer::NONE) };
}

/// The method of the last transfer made by this thread (for bindings whose transfer calls
/// return a plain count).
pub fn last_method() -> TransferMethod {
    last_transfer().method
}

/// The whole outcome of the last transfer made by this thread. After a transfer that failed
/// having moved some bytes (an error after progress in [`Policy::All`](super::Policy::All)), it
/// holds that progress; after one that failed before moving anything, the previous outcome.
pub fn last_transfer() -> Transfer {
    LAST.with(Cell::get)
}

pub(super) fn record(t: Transfer) -> Transfer {
    LAST.with(|c| c.set(t));
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_names_round_trip() {
        for m in std::iter::once(TransferMethod::None).chain(TransferMethod::ALL) {
            assert_eq!(TransferMethod::from_code(m.code()), Some(m));
            assert_eq!(TransferMethod::from_name(m.name()), Some(m));
            assert_eq!(m.to_string(), m.name());
        }
        assert_eq!(TransferMethod::from_code(99), None);
        assert_eq!(TransferMethod::from_name("vmsplice"), None);
        assert!(TransferMethod::Splice.is_zero_copy());
        assert!(!TransferMethod::ReadWrite.is_zero_copy());
    }
}
