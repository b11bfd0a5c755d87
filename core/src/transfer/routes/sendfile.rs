//! `sendfile(2)`: file → any descriptor inside the kernel (a socket, a pipe, a file since
//! 2.6.33). The file's own position is never used: the offset is explicit.

use nix::sys::sendfile::sendfile64;

use super::super::job::{failed, Job, Step};
use super::Route;
use crate::transfer::MAX_DIRECT_TRANSFER;
use crate::Result;

pub(super) fn run(job: &Job<'_>) -> Result<Step> {
    let mut off = job.position as libc::off64_t;
    let mut done = 0u64;
    while done < job.count {
        let want = (job.count - done).min(MAX_DIRECT_TRANSFER) as usize;
        match job.sys(|| sendfile64(job.dst, job.src, Some(&mut off), want)) {
            Ok(0) => break,
            Ok(n) => done += n as u64,
            Err(e) => return failed(job, Route::Sendfile, e, done),
        }
    }
    Ok(Step::moved(done))
}
