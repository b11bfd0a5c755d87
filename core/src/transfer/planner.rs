//! The planner: which routes to try for a pair of descriptors, in which order, and what it
//! remembers between calls so that a steady stream of transfers costs one system call each.
//!
//! - The slow path (a descriptor not seen before) checks the descriptors in the JDK's order,
//!   learns the pair's facts ([`Pair`]) and tries the routes of the table that serve it.
//! - The route that worked is remembered per descriptor number (the target's for a transfer to,
//!   the source's for a transfer from, or the binding's key for duplicated descriptors) and tried
//!   first next time. A stale hint (the number was reused) costs one failed system call and a
//!   re-probe; it can never pick a wrong result, only a slower path.
//! - Routes found unsupported for a pair of kinds (`ENOSYS`, or `copy_file_range` to anything
//!   but a file) are skipped from then on.

use std::os::fd::RawFd;
use std::sync::atomic::{AtomicU8, Ordering};

use super::job::{Direction, Job, Progress, Step};
use super::method::{Transfer, TransferMethod};
use super::routes::{Pair, Route, MAPPED_THRESHOLD, ROUTES};
use super::sigpipe::{recheck_sigpipe, SigpipeShield};
use crate::sys::FdKind;
use crate::{Error, Result};

/// Per-descriptor hints: the route that last worked for a descriptor number.
struct Hints {
    slots: [AtomicU8; HINT_SLOTS],
}

const HINT_SLOTS: usize = 1 << 16;

impl Hints {
    const fn new() -> Hints {
        Hints {
            slots: [const { AtomicU8::new(0) }; HINT_SLOTS],
        }
    }

    fn get(&self, fd: RawFd) -> Option<Route> {
        let slot = self.slots.get(usize::try_from(fd).ok()?)?;
        Route::from_u8(slot.load(Ordering::Relaxed))
    }

    fn set(&self, fd: RawFd, route: Option<Route>) {
        if let Some(slot) = usize::try_from(fd).ok().and_then(|i| self.slots.get(i)) {
            slot.store(route.map_or(0, |r| r as u8), Ordering::Relaxed);
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

/// Above this count a hint of `sendfile`/`splice` is checked against the descriptor's kind.
const HINT_CHECK_THRESHOLD: u64 = 64 * 1024;

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
    if let Some(route) = hints.get(hint_key).filter(|&r| hint_still_fits(job, r)) {
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
    for route in plan.routes() {
        if skip.load(Ordering::Relaxed) & route.bit() != 0 {
            continue;
        }
        if route == Route::MmapWrite && job.count < MAPPED_THRESHOLD {
            continue;
        }
        match route.run(job)? {
            Step::Moved(p) => {
                if route.method().is_zero_copy() && p.bytes > 0 {
                    hints.set(hint_key, Some(route));
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

/// Whether a hinted route still suits the descriptor. Hints are keyed by descriptor number, and a
/// number is reused for all kinds of descriptors; a stale `copy_file_range` hint fails at once
/// and is corrected, but a stale `sendfile`/`splice` hint would keep working on a file target,
/// silently losing `copy_file_range` (and reflinks). For large transfers one `fstat` settles it
/// (400 ns against tens of microseconds); small ones trust the hint.
fn hint_still_fits(job: &Job<'_>, route: Route) -> bool {
    if route == Route::CopyFileRange || job.count < HINT_CHECK_THRESHOLD {
        return true;
    }
    !matches!(job.fstat(job.stream()), Ok(st) if st.kind == FdKind::File)
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
        .routes()
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
            route.method()
        } else {
            TransferMethod::None
        },
        would_block: p.would_block,
        ..Transfer::NONE
    }
}

/// The routes to try for one pair, in order.
struct Plan {
    pair: Pair,
}

impl Plan {
    fn routes(&self) -> impl Iterator<Item = Route> + '_ {
        ROUTES.iter().filter(|d| d.serves(&self.pair)).map(|d| d.route)
    }
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
    let pair = Pair {
        dir: job.dir,
        src: src.kind,
        dst: dst.kind,
        sized_file: src.kind == FdKind::File && src.size > 0,
        append: job.dir == Direction::To && dst_flags.append(),
    };
    Ok(Some(Plan { pair }))
}
