//! The per-thread pipe that `splice` moves bytes through where neither side is a pipe.

use std::cell::RefCell;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::OnceLock;

use nix::fcntl::{fcntl, splice, FcntlArg, OFlag, SpliceFFlags};

use super::job::Job;

/// The pipe size asked for with `F_SETPIPE_SZ`: 1 MiB measured best (64 KiB is clearly slower).
const PIPE_SIZE: libc::c_int = 1 << 20;

/// A pipe pair kept per thread for file → pipe → socket splices.
///
/// Invariant: empty whenever it is not in use. A pipe that might still hold bytes after an error
/// is thrown away, never reused.
pub(super) struct SplicePipe {
    read: OwnedFd,
    write: OwnedFd,
    capacity: usize,
}

impl SplicePipe {
    fn new(job: &Job<'_>) -> io::Result<SplicePipe> {
        let (read, write) = job.sys(|| nix::unistd::pipe2(OFlag::O_CLOEXEC))?;
        // Failure (EPERM over pipe-max-size) leaves the default size, which still works.
        let capacity = match job.sys(|| fcntl(&write, FcntlArg::F_SETPIPE_SZ(PIPE_SIZE))) {
            Ok(size) => size as usize,
            Err(_) => job.sys(|| fcntl(&write, FcntlArg::F_GETPIPE_SZ))? as usize,
        };
        Ok(SplicePipe {
            read,
            write,
            capacity,
        })
    }

    pub(super) fn read_end(&self) -> BorrowedFd<'_> {
        self.read.as_fd()
    }

    pub(super) fn write_end(&self) -> BorrowedFd<'_> {
        self.write.as_fd()
    }

    pub(super) fn capacity(&self) -> usize {
        self.capacity
    }

    /// Throws away `pending` bytes left in the pipe (spliced to `/dev/null`: no copy). Returns
    /// false if the pipe could not be emptied, in which case it must be dropped.
    pub(super) fn discard(&self, mut pending: usize, job: &Job<'_>) -> bool {
        let Some(null) = dev_null() else {
            return false;
        };
        while pending > 0 {
            match job.sys(|| {
                splice(
                    self.read_end(),
                    None,
                    null,
                    None,
                    pending,
                    SpliceFFlags::SPLICE_F_MOVE,
                )
            }) {
                Ok(n) if n > 0 => pending -= n,
                _ => return false,
            }
        }
        true
    }
}

thread_local! {
    static PIPE: RefCell<Option<SplicePipe>> = const { RefCell::new(None) };
}

/// Runs `f` with this thread's splice pipe. `f` returns whether the pipe is still clean (empty);
/// a pipe that is not clean is closed and replaced on the next use.
pub(super) fn with_pipe<T>(job: &Job<'_>, f: impl FnOnce(&SplicePipe) -> (T, bool)) -> io::Result<T> {
    PIPE.with(|cell| {
        let mut slot = cell
            .try_borrow_mut()
            .map_err(|_| io::Error::from_raw_os_error(libc::EBUSY))?;
        if slot.is_none() {
            *slot = Some(SplicePipe::new(job)?);
        }
        let pipe = slot.as_ref().expect("pipe was just created");
        let (value, clean) = f(pipe);
        if !clean {
            *slot = None;
        }
        Ok(value)
    })
}

/// A process-wide descriptor for `/dev/null`, opened on first use and kept.
fn dev_null() -> Option<BorrowedFd<'static>> {
    static NULL: OnceLock<Option<OwnedFd>> = OnceLock::new();
    NULL.get_or_init(|| {
        std::fs::File::options()
            .write(true)
            .open("/dev/null")
            .ok()
            .map(OwnedFd::from)
    })
    .as_ref()
    .map(AsFd::as_fd)
}
