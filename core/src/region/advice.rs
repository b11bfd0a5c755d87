//! `madvise` advice: [`Advice`] that cannot discard data, and [`UncheckedAdvice`] that can.

use crate::{Error, Result};

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
    pub(super) fn raw(self) -> i32 {
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
    pub(super) fn raw(self) -> i32 {
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
