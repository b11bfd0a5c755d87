//! Helpers shared by the core's integration tests.
#![allow(dead_code)]

use std::fs::File;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::fd::{AsRawFd, FromRawFd};
use std::path::Path;
use std::thread::JoinHandle;

/// Deterministic bytes: position `i` holds `(i * 7 + i / 251) as u8`.
pub fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i.wrapping_mul(7) + i / 251) as u8).collect()
}

/// A temporary file holding `data`, with its path.
pub fn file_with(data: &[u8]) -> (tempfile::NamedTempFile, File) {
    let mut tmp = tempfile::NamedTempFile::new().unwrap();
    tmp.write_all(data).unwrap();
    tmp.flush().unwrap();
    let file = File::options().read(true).write(true).open(tmp.path()).unwrap();
    (tmp, file)
}

/// A connected loopback TCP pair (client, server side).
pub fn tcp_pair() -> (TcpStream, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (server, _) = listener.accept().unwrap();
    (client, server)
}

/// A pipe (read end, write end).
pub fn pipe() -> (File, File) {
    let mut fds = [0; 2];
    // SAFETY: `fds` has room for two descriptors.
    assert_eq!(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) }, 0);
    // SAFETY: pipe2 returned two new descriptors that nothing else owns.
    unsafe { (File::from_raw_fd(fds[0]), File::from_raw_fd(fds[1])) }
}

/// Reads everything from `r` on a thread until EOF.
pub fn drain<R: Read + Send + 'static>(mut r: R) -> JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut v = Vec::new();
        r.read_to_end(&mut v).unwrap();
        v
    })
}

pub fn set_nonblocking(fd: &impl AsRawFd) {
    // SAFETY: F_GETFL/F_SETFL take int arguments.
    unsafe {
        let flags = libc::fcntl(fd.as_raw_fd(), libc::F_GETFL);
        libc::fcntl(fd.as_raw_fd(), libc::F_SETFL, flags | libc::O_NONBLOCK);
    }
}

/// Whether `/proc/self/maps` names `path`.
pub fn maps_mention(path: &Path) -> bool {
    let maps = std::fs::read_to_string("/proc/self/maps").unwrap();
    let name = path.to_str().unwrap();
    maps.lines()
        .any(|l| l.ends_with(name) || l.contains(&format!("{name} (deleted)")))
}

/// Whether any open descriptor of this process names `path` (deleted or not).
pub fn fd_open_on(path: &Path) -> bool {
    let name = path.to_str().unwrap();
    std::fs::read_dir("/proc/self/fd").unwrap().flatten().any(|e| {
        std::fs::read_link(e.path())
            .map(|t| {
                let t = t.to_string_lossy().into_owned();
                t == name || t == format!("{name} (deleted)")
            })
            .unwrap_or(false)
    })
}

/// A descriptor number that is certainly not open (above any descriptor limit here).
pub fn closed_fd() -> std::os::fd::BorrowedFd<'static> {
    // SAFETY: the number is only passed to system calls, which report EBADF for it.
    unsafe { std::os::fd::BorrowedFd::borrow_raw(999_999) }
}
