//! The routes a transfer can take, one file each, and the table that drives the chain.
//!
//! A route moves bytes between the job's descriptors with one kernel mechanism and reports
//! [`Step::Moved`] (possibly 0 bytes, possibly would-block) or [`Step::Fallback`] (nothing moved;
//! this pair of descriptors needs another route). The planner tries the routes of [`ROUTES`]
//! that serve a pair, in the table's order unless the pair's facts say otherwise. Adding a route
//! (io_uring, say) is one new file here and one line in [`ROUTES`].

mod copy_file_range;
mod mmap_write;
mod read_write;
mod sendfile;
mod splice;

use super::facts::{FsClass, PeerClass};
use super::job::{Direction, Job, Step};
use super::method::TransferMethod;
use crate::sys::FdKind;
use crate::Result;

/// What the planner knows of a pair of descriptors when it picks routes.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Pair {
    pub(crate) dir: Direction,
    /// The kinds of the source and the target.
    pub(crate) src: FdKind,
    pub(crate) dst: FdKind,
    /// The source is a regular file that reports a size above 0 (procfs and sysfs files report
    /// 0 and must be read until they end: only `read`/`write` can do that).
    pub(crate) sized_file: bool,
    /// The target of a transfer *to* was opened `O_APPEND` (the in-kernel copies refuse it).
    pub(crate) append: bool,
    /// The file system of a file target.
    pub(crate) fs: FsClass,
    /// Where a socket target's peer is.
    pub(crate) peer: PeerClass,
    /// The target is non-blocking (`O_NONBLOCK`): an event loop's socket, one of many that one
    /// thread serves in turns.
    pub(crate) nonblocking: bool,
}

impl Pair {
    /// A regular file with a size on the reading side, a target that accepts positioned kernel
    /// copies.
    fn kernel_copy_source(&self) -> bool {
        self.src == FdKind::File && self.sized_file && !self.append
    }

    /// The route this pair's facts prefer to the table's order, for transfers of at least
    /// [`LARGE`] bytes (`large`) or smaller ones. The rules, each from the route matrix
    /// (`make bench-core`, BENCHMARKS.md):
    ///
    /// - a peer on this host (`AF_UNIX`, or a TCP/UDP peer at a loopback address or one of the
    ///   host's own) behind a blocking socket: mmap + `write`. The receiver copies every byte out
    ///   of its socket anyway; a sender that copies once leaves the bytes in the CPU's cache for
    ///   the reader right behind it, where page references make it read cold page-cache pages.
    ///   Small transfers keep `sendfile`: a mapping costs more than it saves;
    /// - the same peers behind a non-blocking socket take page references: `sendfile` for TCP,
    ///   `splice` through this thread's 1 MiB pipe for `AF_UNIX` (`sendfile` goes through the
    ///   kernel's own 64 KiB pipe, sixteen times as many rounds). One thread serves many such
    ///   sockets in turns (an event loop), so a copy fills socket buffers that are read later,
    ///   from memory the copy has left cold, and costs the sender CPU its readers need, while
    ///   the readers of page references all read the same page-cache pages (the route matrix's
    ///   "64 connections, one non-blocking sender" pair; `make bench-http`'s servers serve 1 MiB
    ///   files 1.3-2× faster with `sendfile` than with mmap + `write`);
    /// - a file on tmpfs: `sendfile` (every route is a memory copy there; `sendfile` is the
    ///   cheapest call, where `copy_file_range` goes the same way through more checks);
    /// - a large transfer to a file on a file system that neither shares blocks nor copies on a
    ///   server (ext4 and the like, [`FsClass::Other`]): `splice` through this thread's 1 MiB
    ///   pipe, written in 256 KiB pieces. There `copy_file_range` is the same in-kernel splice
    ///   through a 64 KiB pipe, sixteen times as many rounds: 10–15 % slower in the matrix.
    ///
    /// Everything else takes the table's order: `copy_file_range` first between files (it shares
    /// blocks on reflink file systems, copies on the server over NFS and SMB, and is one call for
    /// a small transfer), `sendfile` to sockets behind a NIC, and to every socket for small
    /// transfers (one call).
    fn preferred(&self, large: bool) -> Option<Route> {
        if self.dir != Direction::To {
            return None;
        }
        match self.dst {
            FdKind::Socket if large && self.peer != PeerClass::Remote && !self.nonblocking => {
                Some(Route::MmapWrite)
            }
            FdKind::Socket if large && self.peer == PeerClass::Unix => Some(Route::SpliceViaPipe),
            FdKind::File if self.fs == FsClass::Memory => Some(Route::Sendfile),
            FdKind::File if large && self.fs == FsClass::Other => Some(Route::SpliceViaPipe),
            _ => None,
        }
    }

    /// The routes to try for this pair, in order: the preferred one, then the table's.
    pub(crate) fn routes(&self, large: bool) -> impl Iterator<Item = Route> + '_ {
        let first = self.preferred(large).filter(|r| r.def().serves(self));
        first.into_iter().chain(
            ROUTES
                .iter()
                .filter(|d| d.serves(self))
                .map(|d| d.route)
                .filter(move |&r| Some(r) != first),
        )
    }
}

/// Transfers of at least this many bytes are "large": worth a mapping (the mapped route runs for
/// nothing smaller), worth one `fstat` to check that a remembered route still belongs to the
/// descriptor.
pub(crate) const LARGE: u64 = 64 * 1024;

/// A route's identity: the bit the planner's caches keep, and the byte route hints store.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum Route {
    CopyFileRange = 1,
    Sendfile = 2,
    /// One `splice` where one side is a pipe already.
    SpliceDirect = 3,
    /// Two `splice`s through this thread's pipe.
    SpliceViaPipe = 4,
    MmapWrite = 5,
    ReadWrite = 6,
}

/// One line of the table: what a route is, which pairs it can serve, and how it runs.
pub(crate) struct RouteDef {
    pub(crate) route: Route,
    pub(crate) method: TransferMethod,
    serves: fn(&Pair) -> bool,
    run: fn(&Job<'_>) -> Result<Step>,
    /// The last route of every chain: its errors are the transfer's, never a fallback.
    pub(crate) last_resort: bool,
    /// Reads the source through a mapping: `EFAULT` means the file was truncated.
    pub(crate) mapped: bool,
}

/// Every route, in the order tried when nothing else is known: in-kernel copies first, then one
/// CPU copy, then two.
pub(crate) static ROUTES: [RouteDef; 6] = [
    RouteDef {
        route: Route::CopyFileRange,
        method: TransferMethod::CopyFileRange,
        serves: |p| p.kernel_copy_source() && p.dst == FdKind::File,
        run: copy_file_range::run,
        last_resort: false,
        mapped: false,
    },
    RouteDef {
        route: Route::Sendfile,
        method: TransferMethod::Sendfile,
        serves: |p| p.dir == Direction::To && p.kernel_copy_source(),
        run: sendfile::run,
        last_resort: false,
        mapped: false,
    },
    RouteDef {
        route: Route::SpliceDirect,
        method: TransferMethod::Splice,
        serves: |p| match p.dir {
            Direction::To => p.kernel_copy_source() && p.dst == FdKind::Pipe,
            Direction::From => p.src == FdKind::Pipe,
        },
        run: splice::direct,
        last_resort: false,
        mapped: false,
    },
    RouteDef {
        route: Route::SpliceViaPipe,
        method: TransferMethod::Splice,
        serves: |p| match p.dir {
            Direction::To => p.kernel_copy_source() && p.dst != FdKind::Pipe,
            Direction::From => matches!(p.src, FdKind::Socket | FdKind::Other),
        },
        run: splice::via_pipe,
        last_resort: false,
        mapped: false,
    },
    RouteDef {
        route: Route::MmapWrite,
        method: TransferMethod::MmapWrite,
        serves: |p| p.src == FdKind::File && p.sized_file,
        run: mmap_write::run,
        last_resort: false,
        mapped: true,
    },
    RouteDef {
        route: Route::ReadWrite,
        method: TransferMethod::ReadWrite,
        serves: |_| true,
        run: read_write::run,
        last_resort: true,
        mapped: false,
    },
];

impl Route {
    /// The table line of this route.
    pub(crate) fn def(self) -> &'static RouteDef {
        &ROUTES[self as usize - 1]
    }

    pub(crate) fn from_u8(v: u8) -> Option<Route> {
        ROUTES.iter().map(|d| d.route).find(|&r| r as u8 == v)
    }

    pub(crate) fn bit(self) -> u8 {
        1 << (self as u8)
    }

    pub(crate) fn method(self) -> TransferMethod {
        self.def().method
    }

    pub(crate) fn run(self, job: &Job<'_>) -> Result<Step> {
        (self.def().run)(job)
    }
}

impl RouteDef {
    pub(crate) fn serves(&self, pair: &Pair) -> bool {
        (self.serves)(pair)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_is_indexed_by_route() {
        for (i, def) in ROUTES.iter().enumerate() {
            assert_eq!(def.route as usize, i + 1);
            assert!(std::ptr::eq(def.route.def(), def));
            assert_eq!(Route::from_u8(def.route as u8), Some(def.route));
        }
        assert_eq!(ROUTES.iter().filter(|d| d.last_resort).count(), 1);
        assert!(ROUTES.last().is_some_and(|d| d.last_resort));
    }

    fn chain(dir: Direction, src: FdKind, dst: FdKind, sized_file: bool, append: bool) -> Vec<Route> {
        let pair = Pair {
            dir,
            src,
            dst,
            sized_file,
            append,
            fs: FsClass::Other,
            peer: PeerClass::Remote,
            nonblocking: false,
        };
        pair.routes(true).collect()
    }

    #[test]
    fn the_default_chains_per_pair() {
        use Direction::{From, To};
        use FdKind::{File, Other, Pipe, Socket};
        use Route::*;
        assert_eq!(
            chain(To, File, File, true, false),
            [SpliceViaPipe, CopyFileRange, Sendfile, MmapWrite, ReadWrite],
            "a large transfer to an ext4-like file system splices first"
        );
        assert_eq!(
            chain(To, File, Pipe, true, false),
            [Sendfile, SpliceDirect, MmapWrite, ReadWrite]
        );
        assert_eq!(
            chain(To, File, Socket, true, false),
            [Sendfile, SpliceViaPipe, MmapWrite, ReadWrite]
        );
        assert_eq!(
            chain(To, File, Other, true, false),
            [Sendfile, SpliceViaPipe, MmapWrite, ReadWrite]
        );
        assert_eq!(chain(To, File, File, true, true), [MmapWrite, ReadWrite]);
        assert_eq!(chain(To, File, Socket, false, false), [ReadWrite]);
        assert_eq!(
            chain(From, File, File, true, false),
            [CopyFileRange, MmapWrite, ReadWrite]
        );
        assert_eq!(chain(From, File, File, false, false), [ReadWrite]);
        assert_eq!(chain(From, Pipe, File, false, false), [SpliceDirect, ReadWrite]);
        assert_eq!(
            chain(From, Socket, File, false, false),
            [SpliceViaPipe, ReadWrite]
        );
    }

    #[test]
    fn facts_put_a_route_first() {
        let mut pair = Pair {
            dir: Direction::To,
            src: FdKind::File,
            dst: FdKind::Socket,
            sized_file: true,
            append: false,
            fs: FsClass::Other,
            peer: PeerClass::LocalInet,
            nonblocking: false,
        };
        use Route::*;
        assert_eq!(
            pair.routes(true).collect::<Vec<_>>(),
            [MmapWrite, Sendfile, SpliceViaPipe, ReadWrite]
        );
        assert_eq!(
            pair.routes(false).collect::<Vec<_>>(),
            [Sendfile, SpliceViaPipe, MmapWrite, ReadWrite]
        );
        pair.nonblocking = true;
        assert_eq!(
            pair.routes(true).collect::<Vec<_>>(),
            [Sendfile, SpliceViaPipe, MmapWrite, ReadWrite],
            "an event loop's socket keeps sendfile"
        );
        pair.nonblocking = false;
        pair.peer = PeerClass::Unix;
        assert_eq!(pair.routes(true).next(), Some(MmapWrite));
        assert_eq!(pair.routes(false).next(), Some(Sendfile));
        pair.nonblocking = true;
        assert_eq!(pair.routes(true).next(), Some(SpliceViaPipe));
        assert_eq!(pair.routes(false).next(), Some(Sendfile));
        pair.nonblocking = false;
        pair.dst = FdKind::File;
        pair.fs = FsClass::Memory;
        assert_eq!(
            pair.routes(true).collect::<Vec<_>>(),
            [Sendfile, CopyFileRange, SpliceViaPipe, MmapWrite, ReadWrite]
        );
        pair.fs = FsClass::Clone;
        assert_eq!(pair.routes(true).next(), Some(CopyFileRange));
        pair.fs = FsClass::ServerCopy;
        assert_eq!(pair.routes(true).next(), Some(CopyFileRange));
        pair.fs = FsClass::Other;
        assert_eq!(pair.routes(true).next(), Some(SpliceViaPipe));
        assert_eq!(
            pair.routes(false).collect::<Vec<_>>(),
            [CopyFileRange, Sendfile, SpliceViaPipe, MmapWrite, ReadWrite],
            "a small one is one copy_file_range"
        );
        pair.append = true;
        assert_eq!(pair.routes(true).collect::<Vec<_>>(), [MmapWrite, ReadWrite]);
    }
}
