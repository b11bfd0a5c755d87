//! epoll(7) and eventfd(2), raw.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::time::Duration;

pub(crate) fn create() -> io::Result<OwnedFd> {
    // SAFETY: epoll_create1 takes no pointers.
    let fd = unsafe { syscall!(epoll_create1(libc::EPOLL_CLOEXEC)) }?;
    // SAFETY: epoll_create1 returned a new descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

pub(crate) fn ctl(epfd: &OwnedFd, op: libc::c_int, fd: RawFd, events: u32, data: u64) -> io::Result<()> {
    let mut ev = libc::epoll_event { events, u64: data };
    // SAFETY: `ev` is valid for the call (ignored by EPOLL_CTL_DEL).
    unsafe { syscall!(epoll_ctl(epfd.as_raw_fd(), op, fd, &mut ev)) }.map(drop)
}

/// One `epoll_wait`; returns the number of events written into `buf`.
pub(crate) fn wait(
    epfd: &OwnedFd,
    buf: &mut Vec<libc::epoll_event>,
    timeout_ms: libc::c_int,
) -> io::Result<usize> {
    buf.clear();
    let cap = buf.capacity().min(libc::c_int::MAX as usize) as libc::c_int;
    // SAFETY: `buf` has capacity for `cap` events; the kernel writes at most that many.
    let n = unsafe { syscall!(epoll_wait(epfd.as_raw_fd(), buf.as_mut_ptr(), cap, timeout_ms)) }? as usize;
    // SAFETY: epoll_wait initialised the first `n` elements.
    unsafe { buf.set_len(n) };
    Ok(n)
}

/// A timeout in milliseconds for epoll_wait, rounded up so that a sub-millisecond timeout does
/// not become a busy loop; `None` blocks (-1).
pub(crate) fn timeout_ms(timeout: Option<Duration>) -> libc::c_int {
    match timeout {
        None => -1,
        Some(t) => {
            let ms = t.as_nanos().div_ceil(1_000_000);
            ms.min(libc::c_int::MAX as u128) as libc::c_int
        }
    }
}

pub(crate) fn eventfd() -> io::Result<OwnedFd> {
    // SAFETY: eventfd takes no pointers.
    let fd = unsafe { syscall!(eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK)) }?;
    // SAFETY: eventfd returned a new descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Adds 1 to an eventfd counter; on overflow (`EAGAIN`) resets it and tries again.
pub(crate) fn eventfd_signal(fd: &OwnedFd) -> io::Result<()> {
    let one: u64 = 1;
    loop {
        // SAFETY: writes 8 bytes from a valid u64.
        match unsafe { syscall!(write(fd.as_raw_fd(), (&one as *const u64).cast(), 8)) } {
            Ok(_) => return Ok(()),
            Err(e) if e.raw_os_error() == Some(libc::EINTR) => continue,
            Err(e) if e.raw_os_error() == Some(libc::EAGAIN) => eventfd_reset(fd)?,
            Err(e) => return Err(e),
        }
    }
}

/// Reads (and so resets) an eventfd counter; an empty counter is fine.
pub(crate) fn eventfd_reset(fd: &OwnedFd) -> io::Result<()> {
    let mut value: u64 = 0;
    // SAFETY: reads 8 bytes into a valid u64.
    match unsafe { syscall!(read(fd.as_raw_fd(), (&mut value as *mut u64).cast(), 8)) } {
        Ok(_) => Ok(()),
        Err(e) if matches!(e.raw_os_error(), Some(libc::EAGAIN) | Some(libc::EINTR)) => Ok(()),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts_round_up() {
        assert_eq!(timeout_ms(None), -1);
        assert_eq!(timeout_ms(Some(Duration::ZERO)), 0);
        assert_eq!(timeout_ms(Some(Duration::from_micros(1))), 1);
        assert_eq!(timeout_ms(Some(Duration::from_micros(1500))), 2);
        assert_eq!(timeout_ms(Some(Duration::from_millis(7))), 7);
        assert_eq!(timeout_ms(Some(Duration::from_secs(u64::MAX))), libc::c_int::MAX);
    }
}
