//! The planner: which routes to try for a pair of descriptors, in which order, and what it
//! remembers between calls so that a steady stream of transfers costs one system call each.
//!
//! - The slow path (a descriptor not seen before) checks the descriptors in the JDK's order,
//!   learns the pair's facts ([`Pair`]) and tries the routes of the table that serve it.
//! - The route that worked is remembered per descriptor number (the target's for a transfer to,
//!   the source's for a transfer from, or the binding's key for duplicated descriptors), with the
//!   route the pair's facts prefer for the other size class and the descriptor's inode, and tried
//!   first next time: one system call per transfer once a descriptor is known. A number reused
//!   for another file or socket is told by its inode, in the `fstat` that large transfers make
//!   anyway; a small transfer trusts the hint, and a stale one costs at most a slower route or
//!   one failed call and a re-plan, never a wrong result.
//! - Routes found unsupported for a pair of kinds (`ENOSYS`, or `copy_file_range` to anything
//!   but a file) are skipped from then on.

use std::os::fd::RawFd;
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};

use super::facts::{self, FsClass, PeerClass};
use super::job::{Direction, Job, Progress, Step};
use super::method::{Transfer, TransferMethod};
use super::routes::{Pair, Route, LARGE};
use super::sigpipe::{recheck_sigpipe, SigpipeShield};
use crate::sys::FdKind;
use crate::{Error, Result};

/// What is remembered of a descriptor: the route for large and for small transfers (none where
/// only the last resort was left: that choice depends on the source, not on this descriptor),
/// the low bits of its inode, and whether it was an append-mode target.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Hint {
    large: Option<Route>,
    small: Option<Route>,
    ino: u64,
    /// The routes were chosen for an `O_APPEND` target (no in-kernel copy). That is a flag of
    /// the open descriptor, not of the file: the same file, or a new one that reuses a freed
    /// inode number under the same descriptor number, opened without it must not keep the slower
    /// routes, so such a hint is checked with one `fcntl` before each use.
    append: bool,
}

const INO_BITS: u32 = 47;

impl Hint {
    fn pack(self) -> u64 {
        let code = |r: Option<Route>| u64::from(r.map_or(0, |r| r as u8));
        code(self.large)
            | code(self.small) << 8
            | u64::from(self.append) << 16
            | (self.ino & ((1 << INO_BITS) - 1)) << 17
    }

    fn unpack(v: u64) -> Option<Hint> {
        let hint = Hint {
            large: Route::from_u8(v as u8),
            small: Route::from_u8((v >> 8) as u8),
            append: v >> 16 & 1 == 1,
            ino: v >> 17,
        };
        (hint.large.is_some() || hint.small.is_some()).then_some(hint)
    }

    fn route(self, large: bool) -> Option<Route> {
        if large {
            self.large
        } else {
            self.small
        }
    }

    fn same_inode(self, ino: u64) -> bool {
        self.ino == ino & ((1 << INO_BITS) - 1)
    }
}

/// Per-descriptor hints, indexed by descriptor number.
struct Hints {
    slots: [AtomicU64; HINT_SLOTS],
}

const HINT_SLOTS: usize = 1 << 16;

impl Hints {
    const fn new() -> Hints {
        Hints {
            slots: [const { AtomicU64::new(0) }; HINT_SLOTS],
        }
    }

    fn get(&self, fd: RawFd) -> Option<Hint> {
        let slot = self.slots.get(usize::try_from(fd).ok()?)?;
        Hint::unpack(slot.load(Ordering::Relaxed))
    }

    fn set(&self, fd: RawFd, hint: Option<Hint>) {
        if let Some(slot) = usize::try_from(fd).ok().and_then(|i| self.slots.get(i)) {
            slot.store(hint.map_or(0, Hint::pack), Ordering::Relaxed);
        }
    }
}

static TO_HINTS: Hints = Hints::new();
static FROM_HINTS: Hints = Hints::new();

fn hints(dir: Direction) -> &'static Hints {
    match dir {
        Direction::To => &TO_HINTS,
        Direction::From => &FROM_HINTS,
    }
}

/// Routes found unsupported for a (source kind, target kind) pair, as bits of [`Route`].
static UNSUPPORTED: [AtomicU8; FdKind::COUNT * FdKind::COUNT] =
    [const { AtomicU8::new(0) }; FdKind::COUNT * FdKind::COUNT];

fn unsupported(src: FdKind, dst: FdKind) -> &'static AtomicU8 {
    &UNSUPPORTED[src.index() * FdKind::COUNT + dst.index()]
}

/// Runs one step of a transfer (at most one call's worth, no waiting): the job's count is
/// already clamped. `forced` runs one method with no fallback; `hint_key` names the descriptor
/// the route hint belongs to.
pub(super) fn run(job: &Job<'_>, forced: Option<TransferMethod>, hint_key: RawFd) -> Result<Transfer> {
    if job.count == 0 {
        job.classify()?;
        return Ok(Transfer::NONE);
    }
    let shield = SigpipeShield::raise();
    let result = match forced {
        Some(method) => run_forced(job, method),
        None => run_chain(job, hint_key),
    };
    let epipe = matches!(&result, Err(e) if e.raw_os_error() == Some(libc::EPIPE));
    job.tick(shield.lower(epipe));
    result
}

fn run_chain(job: &Job<'_>, hint_key: RawFd) -> Result<Transfer> {
    let hints = hints(job.dir);
    let large = job.count >= LARGE;
    let hinted = hints
        .get(hint_key)
        .filter(|h| h.route(large).is_some() && still_fits(job, *h, large));
    if let Some(route) = hinted.and_then(|h| h.route(large)) {
        match route.run(job)? {
            Step::Moved(p) if p.bytes > 0 || p.would_block => return Ok(done(route, p)),
            // Zero bytes: at the end of the file, or a file that reports size 0; the plan
            // below tells which.
            Step::Moved(_) => {}
            Step::Fallback { .. } => hints.set(hint_key, None),
        }
    }
    let Some(plan) = plan(job)? else {
        return Ok(Transfer::NONE);
    };
    let skip = unsupported(plan.pair.src, plan.pair.dst);
    let usable = |r: &Route| skip.load(Ordering::Relaxed) & r.bit() == 0;
    // A mapping is only worth it for large transfers.
    let fits = |r: &Route, large: bool| large || *r != Route::MmapWrite;
    for route in plan.pair.routes(large).filter(usable).filter(|r| fits(r, large)) {
        match route.run(job)? {
            Step::Moved(p) => {
                if p.bytes > 0 {
                    // The other size class starts with the route the facts put first for it.
                    // The last resort is never remembered: what left only it was the source.
                    let keep = |r: Route| (!r.def().last_resort).then_some(r);
                    let other = plan.pair.routes(!large).filter(usable).find(|r| fits(r, !large));
                    let (l, s) = if large {
                        (Some(route), other)
                    } else {
                        (other, Some(route))
                    };
                    hints.set(
                        hint_key,
                        Some(Hint {
                            large: l.and_then(keep),
                            small: s.and_then(keep),
                            ino: plan.stream_ino,
                            append: plan.pair.append,
                        }),
                    );
                }
                return Ok(done(route, p));
            }
            Step::Fallback { kind_wide } => {
                if kind_wide || (route == Route::CopyFileRange && plan.pair.dst != FdKind::File) {
                    skip.fetch_or(route.bit(), Ordering::Relaxed);
                }
            }
        }
    }
    Err(Error::os(
        job.op(),
        std::io::Error::from_raw_os_error(libc::EINVAL),
    ))
}

/// Whether a hint still belongs to the descriptor. Hints are keyed by descriptor number, and a
/// number is reused for all kinds of files and sockets. For large transfers one `fstat` (400 ns
/// against tens of microseconds) compares the inode; small ones trust the hint (a stale one costs
/// a slower route or a failed call, never a wrong result). A hint made for an append-mode target
/// holds only while the target still appends (one `fcntl`): a faster route tried on an append
/// target fails and re-plans, but a slower one on a plain target would work, and stay.
fn still_fits(job: &Job<'_>, hint: Hint, large: bool) -> bool {
    (!large
        || job.fstat(job.stream()).is_ok_and(|st| {
            job.note_stream_kind(st.kind);
            hint.same_inode(st.ino)
        }))
        && (!hint.append || job.target_appends())
}

fn run_forced(job: &Job<'_>, method: TransferMethod) -> Result<Transfer> {
    let Some(plan) = plan(job)? else {
        return Ok(Transfer::NONE);
    };
    let unsupported = || Error::Unsupported {
        op: job.op(),
        feature: method.name(),
        min_kernel: "(any: not for this pair of descriptors)",
    };
    let route = plan
        .pair
        .routes(job.count >= LARGE)
        .find(|r| r.method() == method)
        .ok_or_else(unsupported)?;
    match route.run(job)? {
        Step::Moved(p) => Ok(done(route, p)),
        Step::Fallback { .. } => Err(unsupported()),
    }
}

fn done(route: Route, p: Progress) -> Transfer {
    Transfer {
        bytes: p.bytes,
        method: if p.bytes > 0 || p.would_block {
            p.by.unwrap_or(route.method())
        } else {
            TransferMethod::None
        },
        would_block: p.would_block,
        ..Transfer::NONE
    }
}

/// What the slow path learned: the pair's facts, and the inode of the descriptor its hint is
/// kept for.
struct Plan {
    pair: Pair,
    stream_ino: u64,
}

fn wrong_kind(op: &'static str, errno: i32) -> Error {
    Error::os(op, std::io::Error::from_raw_os_error(errno))
}

/// The slow path: full checks in the JDK's order, the pair's facts and its routes. `None` when a
/// transfer to starts at or past the end of its file.
fn plan(job: &Job<'_>) -> Result<Option<Plan>> {
    let op = job.op();
    job.tick(1);
    recheck_sigpipe();
    let (_, dst_flags) = job.classify()?;
    let (src, dst) = match job.dir {
        Direction::To => {
            let s = job.fstat(job.src)?;
            (s, job.fstat(job.dst)?)
        }
        Direction::From => {
            let d = job.fstat(job.dst)?;
            (job.fstat(job.src)?, d)
        }
    };
    job.note_stream_kind(match job.dir {
        Direction::To => dst.kind,
        Direction::From => src.kind,
    });
    match job.dir {
        Direction::To => match src.kind {
            FdKind::Directory => return Err(wrong_kind(op, libc::EISDIR)),
            FdKind::Pipe | FdKind::Socket => return Err(wrong_kind(op, libc::ESPIPE)),
            FdKind::File | FdKind::Other => {}
        },
        Direction::From => match dst.kind {
            FdKind::File => {}
            FdKind::Directory => return Err(wrong_kind(op, libc::EISDIR)),
            _ => return Err(wrong_kind(op, libc::ESPIPE)),
        },
    }
    if dst.kind == FdKind::Directory || src.kind == FdKind::Directory {
        return Err(wrong_kind(op, libc::EISDIR));
    }
    if job.dir == Direction::To && src.kind == FdKind::File && src.size > 0 && job.position >= src.size {
        return Ok(None);
    }
    let fs = match (job.dir, dst.kind) {
        (Direction::To, FdKind::File) => facts::fs_class(job, job.dst),
        _ => FsClass::Other,
    };
    let peer = match (job.dir, dst.kind) {
        (Direction::To, FdKind::Socket) => facts::peer_class(job, job.dst),
        _ => PeerClass::Remote,
    };
    let pair = Pair {
        dir: job.dir,
        src: src.kind,
        dst: dst.kind,
        sized_file: src.kind == FdKind::File && src.size > 0,
        append: job.dir == Direction::To && dst_flags.append(),
        nonblocking: dst_flags.nonblocking(),
        fs,
        peer,
    };
    let stream_ino = match job.dir {
        Direction::To => dst.ino,
        Direction::From => src.ino,
    };
    Ok(Some(Plan { pair, stream_ino }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hint_keeps_its_routes_inode_bits_and_append_flag_in_one_word() {
        let hint = Hint {
            large: Some(Route::MmapWrite),
            small: Some(Route::ReadWrite),
            ino: (1 << INO_BITS) - 1,
            append: true,
        };
        assert_eq!(Hint::unpack(hint.pack()), Some(hint));
        let plain = Hint {
            large: None,
            small: Some(Route::Sendfile),
            ino: 12345,
            append: false,
        };
        assert_eq!(Hint::unpack(plain.pack()), Some(plain));
        assert!(
            plain.same_inode(12345 | 1 << INO_BITS),
            "only the low bits are kept"
        );
        assert_eq!(Hint::unpack(0), None, "no route: nothing remembered");
    }
}
