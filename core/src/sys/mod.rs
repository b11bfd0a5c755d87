//! The private OS layer: raw system calls and descriptor facts.
//!
//! Public types in the crate root wrap what is here; nothing in this module is exported.

use std::io;
use std::os::fd::RawFd;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Calls a libc function and turns `-1` into `io::Error::last_os_error()`.
///
/// The call itself is unsafe; write it inside an `unsafe` block with a `SAFETY:` line saying why
/// the arguments are valid, so that call sites read like the man page.
macro_rules! syscall {
    ($fn:ident ( $($arg:expr),* $(,)? )) => {{
        let res = libc::$fn($($arg),*);
        if res == -1 {
            Err(std::io::Error::last_os_error())
        } else {
            Ok(res)
        }
    }};
}
pub(crate) use syscall;

/// Retries `f` while it fails with `EINTR`.
pub(crate) fn retry_eintr<T>(mut f: impl FnMut() -> io::Result<T>) -> io::Result<T> {
    loop {
        match f() {
            Err(e) if e.raw_os_error() == Some(libc::EINTR) => continue,
            other => return other,
        }
    }
}

/// The system page size, read once.
pub(crate) fn page_size() -> usize {
    static PAGE: AtomicUsize = AtomicUsize::new(0);
    match PAGE.load(Ordering::Relaxed) {
        0 => {
            // SAFETY: sysconf has no memory-safety preconditions.
            let size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
            let size = if size > 0 { size as usize } else { 4096 };
            PAGE.store(size, Ordering::Relaxed);
            size
        }
        size => size,
    }
}

/// What kind of object a descriptor names, as far as choosing a transfer method goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum FdKind {
    File,
    Socket,
    Pipe,
    Directory,
    Other,
}

impl FdKind {
    pub(crate) const COUNT: usize = 5;

    pub(crate) fn index(self) -> usize {
        self as usize
    }
}

/// The result of `fstat` that the crate needs.
#[derive(Clone, Copy, Debug)]
pub(crate) struct FdStat {
    pub(crate) kind: FdKind,
    pub(crate) size: u64,
    /// The inode number: tells a descriptor number reused for another file or socket.
    pub(crate) ino: u64,
}

pub(crate) fn fstat(fd: RawFd) -> io::Result<FdStat> {
    let mut st = std::mem::MaybeUninit::<libc::stat>::uninit();
    // SAFETY: `st` points to writable memory of the right size; fstat fills it on success.
    unsafe { syscall!(fstat(fd, st.as_mut_ptr())) }?;
    // SAFETY: fstat returned 0, so it initialised `st`.
    let st = unsafe { st.assume_init() };
    let kind = match st.st_mode & libc::S_IFMT {
        libc::S_IFREG => FdKind::File,
        libc::S_IFSOCK => FdKind::Socket,
        libc::S_IFIFO => FdKind::Pipe,
        libc::S_IFDIR => FdKind::Directory,
        _ => FdKind::Other,
    };
    Ok(FdStat {
        kind,
        size: st.st_size.max(0) as u64,
        ino: st.st_ino,
    })
}

/// The access mode and status flags of an open descriptor.
#[derive(Clone, Copy, Debug)]
pub(crate) struct FdFlags(libc::c_int);

impl FdFlags {
    pub(crate) fn get(fd: RawFd) -> io::Result<FdFlags> {
        // SAFETY: F_GETFL takes no pointer argument.
        unsafe { syscall!(fcntl(fd, libc::F_GETFL)) }.map(FdFlags)
    }

    pub(crate) fn readable(self) -> bool {
        matches!(self.0 & libc::O_ACCMODE, libc::O_RDONLY | libc::O_RDWR)
    }

    pub(crate) fn writable(self) -> bool {
        matches!(self.0 & libc::O_ACCMODE, libc::O_WRONLY | libc::O_RDWR)
    }

    pub(crate) fn append(self) -> bool {
        self.0 & libc::O_APPEND != 0
    }

    pub(crate) fn nonblocking(self) -> bool {
        self.0 & libc::O_NONBLOCK != 0
    }
}

/// Waits until `fd` is ready for `events` (`POLLIN`/`POLLOUT`), with no timeout.
pub(crate) fn wait_ready(fd: RawFd, events: libc::c_short) -> io::Result<()> {
    let mut pfd = libc::pollfd {
        fd,
        events,
        revents: 0,
    };
    retry_eintr(|| {
        // SAFETY: `pfd` is one valid pollfd for the duration of the call.
        unsafe { syscall!(poll(&mut pfd, 1, -1)) }
    })?;
    if pfd.revents & libc::POLLNVAL != 0 {
        return Err(io::Error::from_raw_os_error(libc::EBADF));
    }
    Ok(())
}
pub(crate) mod epoll;
