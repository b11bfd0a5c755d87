//! `splice(2)`: one call where one side is a pipe already (file → pipe, pipe → file), or two
//! through this thread's pipe where neither side is one (file → pipe → socket or file, socket →
//! pipe → file).

use std::io;

use nix::fcntl::{splice, SpliceFFlags};

use super::super::job::{failed, Direction, Job, Step};
use super::super::pipe;
use super::Route;
use crate::transfer::MAX_DIRECT_TRANSFER;
use crate::Result;

/// The offsets for `splice`: the file side gets the job's position, the other side (a pipe or a
/// socket) uses its own.
fn offsets(dir: Direction, off: &mut i64) -> (Option<&mut i64>, Option<&mut i64>) {
    match dir {
        Direction::To => (Some(off), None),
        Direction::From => (None, Some(off)),
    }
}

/// One splice where one side is already a pipe.
pub(super) fn direct(job: &Job<'_>) -> Result<Step> {
    let mut off = job.position as i64;
    let mut done = 0u64;
    while done < job.count {
        let want = (job.count - done).min(MAX_DIRECT_TRANSFER) as usize;
        let res = job.sys(|| {
            let (off_in, off_out) = offsets(job.dir, &mut off);
            splice(
                job.src,
                off_in,
                job.dst,
                off_out,
                want,
                SpliceFFlags::SPLICE_F_MOVE,
            )
        });
        match res {
            Ok(0) => break,
            Ok(n) => done += n as u64,
            Err(e) => return failed(job, Route::SpliceDirect, e, done),
        }
    }
    Ok(Step::moved(done))
}

/// The most one `splice` writes into a file. The pipe fills 1 MiB at a time, but a 1 MiB write
/// makes the page cache allocate large folios, and on a virtual machine with free page
/// reporting (Firecracker, the CI machine) those come from blocks the host has taken back: the
/// copy into them faults page by page on the host and runs at a tenth of its speed (0.3–0.5 GiB/s
/// in some rounds against 4.5). `write` in 1 MiB pieces does the same; 256 KiB pieces keep
/// splice's pace in every round (1 GiB ext4 file → file, 12 rounds: 4.1–4.7 GiB/s against
/// `copy_file_range`'s 3.2–4.0, which copies through the kernel's own 64 KiB pipe).
const FILE_PIECE: usize = 256 * 1024;

/// Two splices through this thread's pipe: source → pipe → target. Bytes count as moved only
/// once they reached the target; whatever a full non-blocking target did not take is dropped
/// from the pipe (the file side has an explicit offset, so nothing is lost).
pub(super) fn via_pipe(job: &Job<'_>) -> Result<Step> {
    let piece = if job.writes_file() { FILE_PIECE } else { usize::MAX };
    let res = pipe::with_pipe(job, |p| {
        let mut off = job.position as i64;
        let mut done = 0u64;
        while done < job.count {
            let want = ((job.count - done) as usize).min(p.capacity());
            let filled = job.sys(|| {
                let off_in = (job.dir == Direction::To).then_some(&mut off);
                splice(
                    job.src,
                    off_in,
                    p.write_end(),
                    None,
                    want,
                    SpliceFFlags::SPLICE_F_MOVE,
                )
            });
            let mut pending = match filled {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) => return (failed(job, Route::SpliceViaPipe, e, done), true),
            };
            while pending > 0 {
                let drained = job.sys(|| {
                    let off_out = (job.dir == Direction::From).then_some(&mut off);
                    splice(
                        p.read_end(),
                        None,
                        job.dst,
                        off_out,
                        pending.min(piece),
                        SpliceFFlags::SPLICE_F_MOVE,
                    )
                });
                match drained {
                    Ok(n) if n > 0 => {
                        pending -= n;
                        done += n as u64;
                    }
                    other => {
                        let clean = p.discard(pending, job);
                        let err = match other {
                            Err(e) => e,
                            Ok(_) => io::Error::from_raw_os_error(libc::EIO),
                        };
                        return (failed(job, Route::SpliceViaPipe, err, done), clean);
                    }
                }
            }
        }
        (Ok(Step::moved(done)), true)
    });
    match res {
        Ok(step) => step,
        // No pipe could be made (EMFILE) or the pipe is in use further up this thread's stack.
        Err(_) => Ok(Step::Fallback { kind_wide: false }),
    }
}
