//! `copy_file_range(2)` (Linux 4.5; across file systems 5.3): file → file inside the kernel,
//! sharing blocks on reflink file systems (XFS, Btrfs) and copying on the server for NFS.

use nix::fcntl::copy_file_range;

use super::super::job::{failed, Direction, Job, Step};
use super::Route;
use crate::transfer::MAX_DIRECT_TRANSFER;
use crate::Result;

pub(super) fn run(job: &Job<'_>) -> Result<Step> {
    let mut off = job.position as i64;
    let mut done = 0u64;
    while done < job.count {
        let want = (job.count - done).min(MAX_DIRECT_TRANSFER) as usize;
        let res = job.sys(|| match job.dir {
            Direction::To => copy_file_range(job.src, Some(&mut off), job.dst, None, want),
            Direction::From => copy_file_range(job.src, None, job.dst, Some(&mut off), want),
        });
        match res {
            Ok(0) => break,
            Ok(n) => done += n as u64,
            Err(e) => return failed(job, Route::CopyFileRange, e, done),
        }
    }
    Ok(Step::moved(done))
}
