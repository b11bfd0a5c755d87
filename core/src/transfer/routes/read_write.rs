//! A `read`/`write` loop through a buffer: two CPU copies, and the route that works for every
//! pair (procfs files that report size 0, append-mode targets, character devices).

use nix::sys::uio::pread;
use nix::unistd::read;

use super::super::job::{failed, Direction, Job, Step};
use super::mmap_write::write_out;
use super::Route;
use crate::{Error, Result};

/// The buffer of the loop.
const LOOP_BUFFER: usize = 64 * 1024;

pub(super) fn run(job: &Job<'_>) -> Result<Step> {
    let mut buf = vec![0u8; (job.count as usize).min(LOOP_BUFFER)];
    let mut done = 0u64;
    while done < job.count {
        let want = ((job.count - done) as usize).min(buf.len());
        let res = match job.dir {
            Direction::To => {
                job.sys(|| pread(job.src, &mut buf[..want], (job.position + done) as libc::off_t))
            }
            Direction::From => job.sys(|| read(job.src, &mut buf[..want])),
        };
        let n = match res {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) => return failed(job, Route::ReadWrite, e, done),
        };
        let at = (job.dir == Direction::From).then(|| (job.position + done) as i64);
        let (w, err, short) = write_out(job, job.dst, buf.as_ptr(), n, at);
        done += w as u64;
        if let Some(e) = err {
            if job.dir == Direction::From {
                // Bytes already read from a stream source cannot be put back: report the error
                // rather than pretend they moved.
                return Err(Error::os(job.op(), e));
            }
            return failed(job, Route::ReadWrite, e, done);
        }
        if short {
            return Ok(Step::blocked(done));
        }
    }
    Ok(Step::moved(done))
}
