//! The checks before a transfer, in the JDK's order: closed descriptors, access modes, the
//! kinds of file a transfer refuses, then negative positions and counts; and
//! `TransferRequest::limit`, the same checks for a peer without a descriptor.

mod support;

use std::fs::File;
use std::io::Seek;
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::net::UnixStream;

use support::{closed_fd, file_with, pattern, pipe};
use zcopy::{transfer_from, transfer_to, ErrorKind, TransferRequest};

#[test]
fn bad_descriptors_are_classified_in_jdk_order() {
    let (s, src) = file_with(&pattern(1000));
    let (d, dst) = file_with(b"");
    let kind = |r: zcopy::Result<zcopy::Transfer>| r.unwrap_err().kind();
    assert_eq!(
        kind(transfer_to(closed_fd(), 0, 10, dst.as_fd())),
        ErrorKind::Closed
    );
    assert_eq!(
        kind(transfer_to(src.as_fd(), 0, 10, closed_fd())),
        ErrorKind::Closed
    );
    assert_eq!(
        kind(transfer_to(src.as_fd(), 0, 0, closed_fd())),
        ErrorKind::Closed
    );
    let wo = File::options().write(true).open(s.path()).unwrap();
    assert_eq!(
        kind(transfer_to(wo.as_fd(), 0, 10, dst.as_fd())),
        ErrorKind::NotReadable
    );
    let ro = File::open(d.path()).unwrap();
    assert_eq!(
        kind(transfer_to(src.as_fd(), 0, 10, ro.as_fd())),
        ErrorKind::NotWritable
    );
    assert_eq!(
        kind(transfer_to(wo.as_fd(), 0, 10, ro.as_fd())),
        ErrorKind::NotReadable
    );
    // Wrong kinds of source.
    let dir = File::open("/").unwrap();
    assert_eq!(
        transfer_to(dir.as_fd(), 0, 10, dst.as_fd())
            .unwrap_err()
            .raw_os_error(),
        Some(libc::EISDIR)
    );
    let (r, _w) = pipe();
    assert_eq!(
        transfer_to(r.as_fd(), 0, 10, dst.as_fd())
            .unwrap_err()
            .raw_os_error(),
        Some(libc::ESPIPE)
    );
    // /dev/zero is a file of endless zeros, as a FileChannel on it would be. (Its size is 0, so
    // a fresh target gets a read/write loop; a target number with a sendfile hint from another
    // test may take sendfile for so small a count: the bytes are the same either way.)
    let zero = File::open("/dev/zero").unwrap();
    let t = transfer_to(zero.as_fd(), 0, 10, dst.as_fd()).unwrap();
    assert_eq!(t.bytes, 10);
    assert!(std::fs::read(d.path()).unwrap()[..10].iter().all(|&b| b == 0));
    // transfer_from: target closed, source closed, source not readable, target not writable.
    assert_eq!(
        kind(transfer_from(closed_fd(), src.as_fd(), 0, 10)),
        ErrorKind::Closed
    );
    assert_eq!(
        kind(transfer_from(dst.as_fd(), closed_fd(), 0, 10)),
        ErrorKind::Closed
    );
    assert_eq!(
        kind(transfer_from(dst.as_fd(), wo.as_fd(), 0, 10)),
        ErrorKind::NotReadable
    );
    assert_eq!(
        kind(transfer_from(ro.as_fd(), src.as_fd(), 0, 10)),
        ErrorKind::NotWritable
    );
    assert_eq!(
        kind(transfer_from(ro.as_fd(), wo.as_fd(), 0, 10)),
        ErrorKind::NotReadable
    );
    let (a, _b) = UnixStream::pair().unwrap();
    assert_eq!(
        transfer_from(a.as_fd(), src.as_fd(), 0, 10)
            .unwrap_err()
            .raw_os_error(),
        Some(libc::ESPIPE)
    );
}

#[test]
fn signed_arguments_are_checked_after_descriptors() {
    let (_s, src) = file_with(&pattern(100));
    let (_d, dst) = file_with(b"");
    fn to(pos: i64, count: i64, s: BorrowedFd<'_>, d: BorrowedFd<'_>) -> zcopy::Result<zcopy::Transfer> {
        TransferRequest::to(pos, count).run(s, d)
    }
    fn from(pos: i64, count: i64, s: BorrowedFd<'_>, d: BorrowedFd<'_>) -> zcopy::Result<zcopy::Transfer> {
        TransferRequest::from(pos, count).run(s, d)
    }
    assert_eq!(to(5, 6, src.as_fd(), dst.as_fd()).unwrap().bytes, 6);
    let e = to(-1, 6, src.as_fd(), dst.as_fd()).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument);
    let e = to(1, i64::MIN, src.as_fd(), dst.as_fd()).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument);
    let e = to(-1, 6, closed_fd(), dst.as_fd()).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Closed);
    let e = from(-1, 6, closed_fd(), dst.as_fd()).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Closed);
    let e = from(0, -6, src.as_fd(), dst.as_fd()).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument);
}

#[test]
fn limit_checks_a_request_against_a_peer_without_a_descriptor_and_moves_nothing() {
    let (s, src) = file_with(&pattern(1000));
    let kind = |r: zcopy::Result<u64>| r.unwrap_err().kind();
    let to = |position, count| TransferRequest::to(position, count);
    // The count, clamped at the end of the file, as run() clamps it.
    assert_eq!(to(0, 10).limit(src.as_fd(), true).unwrap(), 10);
    assert_eq!(to(900, 500).limit(src.as_fd(), true).unwrap(), 100);
    assert_eq!(to(5000, 10).limit(src.as_fd(), true).unwrap(), 0);
    assert_eq!(to(1, i64::MAX).limit(src.as_fd(), true).unwrap(), 999);
    // A file that reports size 0 is read until it ends: no clamp.
    let proc_file = File::open("/proc/self/status").unwrap();
    assert_eq!(to(0, 1 << 20).limit(proc_file.as_fd(), true).unwrap(), 1 << 20);
    // transfer_from: the count, kept inside a 64-bit offset; never clamped by the file's size.
    let from = |position, count| TransferRequest::from(position, count);
    assert_eq!(from(0, 1 << 40).limit(src.as_fd(), true).unwrap(), 1 << 40);
    assert_eq!(
        from(10, i64::MAX).limit(src.as_fd(), true).unwrap(),
        i64::MAX as u64 - 10
    );
    // The JDK's order: the file open, the peer open, the file's access, then the values.
    assert_eq!(kind(to(-1, 10).limit(closed_fd(), false)), ErrorKind::Closed);
    assert_eq!(kind(to(-1, 10).limit(src.as_fd(), false)), ErrorKind::Closed);
    let wo = File::options().write(true).open(s.path()).unwrap();
    assert_eq!(kind(to(-1, 10).limit(wo.as_fd(), true)), ErrorKind::NotReadable);
    let ro = File::open(s.path()).unwrap();
    assert_eq!(kind(from(-1, 10).limit(ro.as_fd(), true)), ErrorKind::NotWritable);
    assert_eq!(
        kind(to(-1, 10).limit(src.as_fd(), true)),
        ErrorKind::InvalidArgument
    );
    assert_eq!(
        kind(to(0, -1).limit(src.as_fd(), true)),
        ErrorKind::InvalidArgument
    );
    assert_eq!(
        kind(from(0, 1).header(b"h").limit(src.as_fd(), true)),
        ErrorKind::InvalidArgument
    );
    // Nothing moved, and the file position is untouched.
    assert_eq!((&src).stream_position().unwrap(), 0);
}
