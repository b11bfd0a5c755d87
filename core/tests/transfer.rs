//! Transfers: JDK semantics, the method chosen for each descriptor pair, non-blocking targets,
//! vanished peers (the checks before a transfer are in checks.rs).

mod support;

use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd};
use std::os::unix::net::UnixStream;

use support::{drain, file_with, pattern, pipe, set_nonblocking, tcp_pair};
use zcopy::{
    last_method, transfer_all, transfer_from, transfer_to, Descriptors, Direction, ErrorKind, Policy,
    SpliceFlags, TransferMethod, TransferRequest,
};

fn contents(f: &mut File) -> Vec<u8> {
    let mut v = Vec::new();
    f.seek(SeekFrom::Start(0)).unwrap();
    f.read_to_end(&mut v).unwrap();
    v
}

fn position(f: &File) -> u64 {
    // SAFETY: lseek on an open descriptor.
    unsafe { libc::lseek(f.as_raw_fd(), 0, libc::SEEK_CUR) as u64 }
}

#[test]
fn file_to_file_splices_large_ranges_and_keeps_the_source_position() {
    let data = pattern(1 << 20);
    let (_s, mut src) = file_with(&data);
    src.seek(SeekFrom::Start(123)).unwrap();
    let (_d, mut dst) = file_with(b"");
    let t = transfer_to(src.as_fd(), 1000, 500_000, dst.as_fd()).unwrap();
    assert_eq!(t.bytes, 500_000);
    // A large range between files on the temporary directory's file system (not a reflink
    // one): splice through the thread's pipe (core/tests/planner.rs has the other file systems).
    assert_eq!(t.method, TransferMethod::Splice);
    assert_eq!(last_method(), TransferMethod::Splice);
    assert_eq!(position(&src), 123, "the source position must not move");
    assert_eq!(position(&dst), 500_000, "the target position advances");
    assert_eq!(contents(&mut dst), &data[1000..501_000]);
}

#[test]
fn count_is_clamped_and_positions_past_the_end_move_nothing() {
    let data = pattern(10_000);
    let (_s, src) = file_with(&data);
    let (_d, mut dst) = file_with(b"");
    assert_eq!(
        transfer_to(src.as_fd(), 9_000, u64::MAX, dst.as_fd())
            .unwrap()
            .bytes,
        1_000
    );
    for pos in [10_000, 10_001, u64::MAX] {
        let t = transfer_to(src.as_fd(), pos, 10, dst.as_fd()).unwrap();
        assert_eq!((t.bytes, t.method), (0, TransferMethod::None), "position {pos}");
    }
    assert_eq!(transfer_to(src.as_fd(), 0, 0, dst.as_fd()).unwrap().bytes, 0);
    assert_eq!(contents(&mut dst), &data[9_000..]);
}

#[test]
fn file_to_unix_socket_and_pipe() {
    let data = pattern(200_000);
    let (_s, src) = file_with(&data);
    let (a, b) = UnixStream::pair().unwrap();
    let reader = drain(b);
    let t = transfer_all(src.as_fd(), 0, data.len() as u64, a.as_fd()).unwrap();
    assert_eq!(t.bytes, data.len() as u64);
    // A blocking socket to a peer on this host: one copy, from a mapping (tests/planner.rs).
    assert_eq!(t.method, TransferMethod::MmapWrite);
    drop(a);
    assert_eq!(reader.join().unwrap(), data);

    let (r, w) = pipe();
    let reader = drain(r);
    let t = transfer_all(src.as_fd(), 5, data.len() as u64, w.as_fd()).unwrap();
    assert_eq!(t.bytes, data.len() as u64 - 5);
    assert!(t.method.is_zero_copy(), "{}", t.method);
    drop(w);
    assert_eq!(reader.join().unwrap(), &data[5..]);
}

#[test]
fn append_mode_targets_fall_back_to_writes() {
    let data = pattern(100_000);
    let (_s, src) = file_with(&data);
    let (d, _) = file_with(b"head:");
    let dst = File::options().append(true).open(d.path()).unwrap();
    let t = transfer_to(src.as_fd(), 0, 100_000, dst.as_fd()).unwrap();
    assert_eq!(t.bytes, 100_000);
    assert_eq!(t.method, TransferMethod::MmapWrite);
    let t = transfer_to(src.as_fd(), 0, 100, dst.as_fd()).unwrap();
    assert_eq!(
        t.method,
        TransferMethod::ReadWrite,
        "small counts skip the mapping"
    );
    let mut expected = b"head:".to_vec();
    expected.extend_from_slice(&data);
    expected.extend_from_slice(&data[..100]);
    assert_eq!(std::fs::read(d.path()).unwrap(), expected);
}

#[test]
fn files_that_report_size_zero_are_read_until_they_end() {
    let src = File::open("/proc/self/status").unwrap();
    let (_d, mut dst) = file_with(b"");
    let t = transfer_to(src.as_fd(), 0, 1 << 20, dst.as_fd()).unwrap();
    assert!(t.bytes > 100, "moved {}", t.bytes);
    assert_eq!(t.method, TransferMethod::ReadWrite);
    assert!(String::from_utf8(contents(&mut dst)).unwrap().contains("VmRSS"));
}

#[test]
fn non_blocking_target_gets_short_counts_and_zero_never_loses_a_byte() {
    let data = pattern(8 << 20);
    let (_s, src) = file_with(&data);
    let (client, mut server) = tcp_pair();
    set_nonblocking(&client);
    let mut sent = 0u64;
    let mut received = Vec::new();
    let mut saw_would_block = false;
    let mut buf = vec![0u8; 1 << 20];
    while sent < data.len() as u64 {
        let t = transfer_to(src.as_fd(), sent, data.len() as u64 - sent, client.as_fd()).unwrap();
        if t.bytes == 0 {
            assert!(t.would_block);
            saw_would_block = true;
            let n = server.read(&mut buf).unwrap();
            received.extend_from_slice(&buf[..n]);
        }
        sent += t.bytes;
    }
    drop(client);
    server.read_to_end(&mut received).unwrap();
    assert!(
        saw_would_block,
        "an 8 MiB send into an unread socket should fill it"
    );
    assert_eq!(received, data);
}

#[test]
fn transfer_all_waits_for_a_non_blocking_target() {
    let data = pattern(6 << 20);
    let (_s, src) = file_with(&data);
    let (client, server) = tcp_pair();
    set_nonblocking(&client);
    let reader = drain(server);
    let t = transfer_all(src.as_fd(), 0, u64::MAX, client.as_fd()).unwrap();
    assert_eq!(t.bytes, data.len() as u64);
    drop(client);
    assert_eq!(reader.join().unwrap(), data);
}

#[test]
fn transfer_to_moves_at_most_the_direct_maximum_and_transfer_all_moves_more() {
    let tmp = tempfile::NamedTempFile::new().unwrap();
    let size = zcopy::MAX_DIRECT_TRANSFER + 4096 * 3;
    tmp.as_file().set_len(size).unwrap(); // sparse: cheap to copy on most file systems
    std::os::unix::fs::FileExt::write_all_at(tmp.as_file(), b"tail", size - 4).unwrap();
    let (r, w) = pipe();
    // A pipe target, read by a thread that only counts, keeps the test from writing 2 GiB to disk.
    let counter = std::thread::spawn(move || {
        let mut r = r;
        let mut buf = vec![0u8; 1 << 20];
        let mut total = 0u64;
        let mut last = Vec::new();
        loop {
            let n = r.read(&mut buf).unwrap();
            if n == 0 {
                break;
            }
            total += n as u64;
            last = buf[n.saturating_sub(4)..n].to_vec();
        }
        (total, last)
    });
    let t = transfer_to(tmp.as_file().as_fd(), 0, u64::MAX, w.as_fd()).unwrap();
    assert_eq!(t.bytes, zcopy::MAX_DIRECT_TRANSFER);
    let rest = transfer_all(tmp.as_file().as_fd(), t.bytes, u64::MAX, w.as_fd()).unwrap();
    assert_eq!(rest.bytes, size - zcopy::MAX_DIRECT_TRANSFER);
    drop(w);
    let (total, last) = counter.join().unwrap();
    assert_eq!(total, size);
    assert_eq!(last, b"tail");
}

#[test]
fn transfer_from_file_reads_the_source_position_and_leaves_the_target_position() {
    let data = pattern(300_000);
    let (_s, mut src) = file_with(&data);
    src.seek(SeekFrom::Start(1000)).unwrap();
    let (_d, mut dst) = file_with(b"0123456789");
    dst.seek(SeekFrom::Start(3)).unwrap();
    let t = transfer_from(dst.as_fd(), src.as_fd(), 5, 200_000).unwrap();
    assert_eq!(t.bytes, 200_000);
    assert_eq!(t.method, TransferMethod::CopyFileRange);
    assert_eq!(position(&src), 201_000, "the source position advances");
    assert_eq!(position(&dst), 3, "the target position does not");
    let got = contents(&mut dst);
    assert_eq!(&got[..5], b"01234");
    assert_eq!(&got[5..], &data[1000..201_000]);
    // Past the end of the target: the file grows.
    let t = transfer_from(dst.as_fd(), src.as_fd(), 1_000_000, 10).unwrap();
    assert_eq!(t.bytes, 10);
    assert_eq!(std::fs::metadata(_d.path()).unwrap().len(), 1_000_010);
    // Count is not clamped to the target; the source's end stops it.
    src.seek(SeekFrom::Start(299_990)).unwrap();
    assert_eq!(
        transfer_from(dst.as_fd(), src.as_fd(), 0, 1 << 30).unwrap().bytes,
        10
    );
    assert_eq!(
        transfer_from(dst.as_fd(), src.as_fd(), 0, 1 << 30).unwrap().bytes,
        0
    );
}

#[test]
fn transfer_from_socket_and_pipe_uses_splice() {
    let data = pattern(2 << 20);
    let (_d, mut dst) = file_with(b"");
    let (mut client, server) = tcp_pair();
    let payload = data.clone();
    let writer = std::thread::spawn(move || client.write_all(&payload).unwrap());
    let mut done = 0u64;
    while done < data.len() as u64 {
        let t = transfer_from(dst.as_fd(), server.as_fd(), done, data.len() as u64 - done).unwrap();
        assert_eq!(t.method, TransferMethod::Splice);
        done += t.bytes;
    }
    writer.join().unwrap();
    assert_eq!(contents(&mut dst), data);

    let (r, mut w) = pipe();
    let payload = data[..100_000].to_vec();
    let writer = std::thread::spawn(move || w.write_all(&payload).unwrap());
    let (_d2, mut dst2) = file_with(b"");
    let t = transfer_from(dst2.as_fd(), r.as_fd(), 0, 1 << 30).unwrap();
    writer.join().unwrap();
    assert_eq!(t.method, TransferMethod::Splice);
    assert_eq!(t.bytes, 100_000, "a blocking source is read until it ends");
    assert_eq!(contents(&mut dst2), &data[..100_000]);
}

#[test]
fn transfer_from_non_blocking_socket_returns_zero_when_empty() {
    let (_d, dst) = file_with(b"");
    let (mut client, server) = tcp_pair();
    set_nonblocking(&server);
    let t = transfer_from(dst.as_fd(), server.as_fd(), 0, 1000).unwrap();
    assert_eq!((t.bytes, t.would_block), (0, true));
    client.write_all(b"hello").unwrap();
    std::thread::sleep(std::time::Duration::from_millis(50));
    let t = transfer_from(dst.as_fd(), server.as_fd(), 0, 1000).unwrap();
    assert_eq!(t.bytes, 5);
    assert!(t.would_block);
}

#[test]
fn vanished_peer_is_an_error_and_the_source_is_untouched() {
    let data = pattern(4 << 20);
    let (s, src) = file_with(&data);
    let (client, server) = tcp_pair();
    drop(server);
    let mut err = None;
    for _ in 0..100 {
        match transfer_to(src.as_fd(), 0, data.len() as u64, client.as_fd()) {
            Ok(_) => continue,
            Err(e) => {
                err = Some(e);
                break;
            }
        }
    }
    let err = err.expect("sending to a closed peer must fail");
    assert!(
        matches!(err.raw_os_error(), Some(libc::EPIPE) | Some(libc::ECONNRESET)),
        "{err}"
    );
    assert_eq!(std::fs::read(s.path()).unwrap(), data);
}

/// Runs in a child process with SIGPIPE at its default action (which kills): the transfer must
/// return EPIPE instead. The parent checks that the child exited normally.
#[test]
fn sigpipe_does_not_kill_a_process_that_did_not_ignore_it() {
    if std::env::var_os("ZCOPY_SIGPIPE_CHILD").is_some() {
        // SAFETY: restoring the default disposition of a signal.
        unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
        let (_s, src) = file_with(&pattern(1 << 20));
        let (a, b) = UnixStream::pair().unwrap();
        drop(b);
        let err = transfer_to(src.as_fd(), 0, 1 << 20, a.as_fd()).unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::EPIPE));
        let (r, w) = pipe();
        drop(r);
        let err = zcopy::splice(
            src.as_fd(),
            Some(&mut 0),
            w.as_fd(),
            None,
            4096,
            SpliceFlags::NONE,
        )
        .unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::EPIPE));
        return;
    }
    let status = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "sigpipe_does_not_kill_a_process_that_did_not_ignore_it",
            "--nocapture",
        ])
        .env("ZCOPY_SIGPIPE_CHILD", "1")
        .status()
        .unwrap();
    assert!(status.success(), "child ended with {status:?}");
}

#[test]
fn a_stale_hint_for_a_reused_descriptor_number_is_harmless() {
    let data = pattern(50_000);
    let (_s, src) = file_with(&data);
    // First a socket under some number...
    let (a, b) = UnixStream::pair().unwrap();
    let reader = drain(b);
    transfer_all(src.as_fd(), 0, 50_000, a.as_fd()).unwrap();
    let num = a.as_raw_fd();
    drop(a);
    assert_eq!(reader.join().unwrap(), data);
    // ...then a file, most likely under the same number.
    let (_d, mut dst) = file_with(b"");
    let t = transfer_to(src.as_fd(), 0, 50_000, dst.as_fd()).unwrap();
    assert_eq!(t.bytes, 50_000);
    assert!(t.method.is_zero_copy());
    let _ = num;
    assert_eq!(contents(&mut dst), data);
}

#[test]
fn direct_sendfile_splice_and_tee() {
    let data = pattern(100_000);
    let (_s, src) = file_with(&data);
    let (_d, mut dst) = file_with(b"");
    let mut off = 10u64;
    let n = zcopy::sendfile(dst.as_fd(), src.as_fd(), Some(&mut off), 1000).unwrap();
    assert_eq!((n, off), (1000, 1010));
    assert_eq!(contents(&mut dst), &data[10..1010]);

    let (r1, w1) = pipe();
    let (r2, w2) = pipe();
    let mut off = 0u64;
    let n = zcopy::splice(
        src.as_fd(),
        Some(&mut off),
        w1.as_fd(),
        None,
        4096,
        SpliceFlags::MOVE,
    )
    .unwrap();
    assert_eq!(n, 4096);
    let n = zcopy::tee(r1.as_fd(), w2.as_fd(), 4096, SpliceFlags::NONE).unwrap();
    assert_eq!(n, 4096);
    drop((w1, w2));
    let (mut r1, mut r2) = (r1, r2);
    let (mut x, mut y) = (Vec::new(), Vec::new());
    r1.read_to_end(&mut x).unwrap();
    r2.read_to_end(&mut y).unwrap();
    assert_eq!(x, &data[..4096]);
    assert_eq!(y, x, "tee duplicates without consuming");

    // Neither side a pipe: EINVAL.
    let e = zcopy::splice(
        src.as_fd(),
        Some(&mut 0),
        dst.as_fd(),
        Some(&mut 0),
        10,
        SpliceFlags::NONE,
    )
    .unwrap_err();
    assert_eq!(e.raw_os_error(), Some(libc::EINVAL));
    // Non-blocking full target: WouldBlock.
    let (a, _b) = UnixStream::pair().unwrap();
    set_nonblocking(&a);
    let mut off = 0u64;
    let mut err = None;
    for _ in 0..10_000 {
        match zcopy::sendfile(a.as_fd(), src.as_fd(), Some(&mut off), 100_000) {
            Ok(_) => off = 0,
            Err(e) => {
                err = Some(e);
                break;
            }
        }
    }
    assert_eq!(err.unwrap().kind(), ErrorKind::WouldBlock);
}

#[test]
fn header_and_body_in_one_call() {
    let data = pattern(100_000);
    let (_s, src) = file_with(&data);
    let (client, server) = tcp_pair();
    let reader = drain(server);
    let h = TransferRequest::to(0, 100_000)
        .header(b"HTTP/1.1 200 OK\r\n\r\n")
        .run(src.as_fd(), client.as_fd())
        .unwrap();
    assert_eq!(h.header, 19);
    assert_eq!(h.bytes, 100_000);
    drop(client);
    let got = reader.join().unwrap();
    assert_eq!(&got[..19], b"HTTP/1.1 200 OK\r\n\r\n");
    assert_eq!(&got[19..], &data[..]);
}

/// A header and a body of at most 16 KiB leave together: one `pread` and one `sendmsg` of both
/// (reported as read/write); a larger body takes its route behind the header. A count past the
/// end of the file sends what the file has.
#[test]
fn a_small_body_goes_with_its_header_in_one_sendmsg() {
    let data = pattern(30_000);
    let (_s, src) = file_with(&data);
    let (client, server) = tcp_pair();
    let reader = drain(server);
    let run = |position: i64, count: i64| {
        TransferRequest::to(position, count)
            .header(b"HEAD")
            .run(src.as_fd(), client.as_fd())
            .unwrap()
    };
    let t = run(0, 5000);
    assert_eq!(
        (t.header, t.bytes, t.method, t.syscalls),
        (4, 5000, TransferMethod::ReadWrite, 2)
    );
    let t = run(29_000, 16 << 10);
    assert_eq!(
        (t.header, t.bytes, t.method),
        (4, 1000, TransferMethod::ReadWrite)
    );
    let t = run(0, 20_000);
    assert_eq!((t.header, t.bytes), (4, 20_000));
    assert_ne!(
        t.method,
        TransferMethod::ReadWrite,
        "a large body keeps its route"
    );
    drop(client);
    let got = reader.join().unwrap();
    let mut want = b"HEAD".to_vec();
    want.extend_from_slice(&data[..5000]);
    want.extend_from_slice(b"HEAD");
    want.extend_from_slice(&data[29_000..]);
    want.extend_from_slice(b"HEAD");
    want.extend_from_slice(&data[..20_000]);
    assert_eq!(got, want);
}

#[test]
fn many_threads_transfer_at_once_through_their_own_pipes() {
    let data = pattern(1 << 20);
    let (_s, src) = file_with(&data);
    let src = std::sync::Arc::new(src);
    let handles: Vec<_> = (0..8)
        .map(|i| {
            let src = src.clone();
            let expect = data.clone();
            std::thread::spawn(move || {
                for _ in 0..20 {
                    let (r, w) = pipe();
                    let reader = drain(r);
                    let t = transfer_all(src.as_fd(), i * 1000, u64::MAX, w.as_fd()).unwrap();
                    assert_eq!(t.bytes, expect.len() as u64 - i * 1000);
                    drop(w);
                    assert_eq!(reader.join().unwrap(), &expect[(i * 1000) as usize..]);
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
}

#[test]
fn every_method_can_be_forced_where_it_applies() {
    fn transfer_all_using(
        m: TransferMethod,
        src: BorrowedFd<'_>,
        pos: u64,
        count: u64,
        dst: BorrowedFd<'_>,
    ) -> zcopy::Result<zcopy::Transfer> {
        TransferRequest::to(pos as i64, count.min(i64::MAX as u64) as i64)
            .policy(Policy::All)
            .method(Some(m))
            .run(src, dst)
    }
    fn transfer_from_using(
        m: TransferMethod,
        dst: BorrowedFd<'_>,
        src: BorrowedFd<'_>,
        pos: i64,
        count: i64,
    ) -> zcopy::Result<zcopy::Transfer> {
        TransferRequest::from(pos, count).method(Some(m)).run(src, dst)
    }
    let data = pattern(300_000);
    let (_s, src) = file_with(&data);
    for method in [
        TransferMethod::CopyFileRange,
        TransferMethod::Sendfile,
        TransferMethod::Splice,
        TransferMethod::MmapWrite,
        TransferMethod::ReadWrite,
    ] {
        let (_d, mut dst) = file_with(b"");
        let t = transfer_all_using(method, src.as_fd(), 7, u64::MAX, dst.as_fd()).unwrap();
        assert_eq!((t.bytes, t.method), (data.len() as u64 - 7, method));
        assert_eq!(contents(&mut dst), &data[7..], "{method}");
        if method == TransferMethod::CopyFileRange {
            continue;
        }
        let (client, server) = tcp_pair();
        let reader = drain(server);
        let t = transfer_all_using(method, src.as_fd(), 0, u64::MAX, client.as_fd()).unwrap();
        assert_eq!((t.bytes, t.method), (data.len() as u64, method));
        drop(client);
        assert_eq!(reader.join().unwrap(), data, "{method} to a socket");
    }
    let (client, _server) = tcp_pair();
    let e =
        transfer_all_using(TransferMethod::CopyFileRange, src.as_fd(), 0, 10, client.as_fd()).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unsupported);
    // transfer_from: copy_file_range, mmap+write and read/write from a file source.
    for method in [
        TransferMethod::CopyFileRange,
        TransferMethod::MmapWrite,
        TransferMethod::ReadWrite,
    ] {
        let (_s2, mut src2) = file_with(&data);
        src2.seek(SeekFrom::Start(10)).unwrap();
        let (_d, mut dst) = file_with(b"");
        let t = transfer_from_using(method, dst.as_fd(), src2.as_fd(), 0, 100_000).unwrap();
        assert_eq!((t.bytes, t.method), (100_000, method));
        assert_eq!(position(&src2), 100_010, "{method} advances the source");
        assert_eq!(contents(&mut dst), &data[10..100_010]);
    }
}

#[test]
fn transfers_count_their_system_calls() {
    let data = pattern(4 << 20);
    let (_s, src) = file_with(&data);
    let (_d, dst) = file_with(b"");
    // Warm the hint for this target so the steady state shows.
    transfer_to(src.as_fd(), 0, 4096, dst.as_fd()).unwrap();
    let t = transfer_to(src.as_fd(), 0, 4096, dst.as_fd()).unwrap();
    assert_eq!(t.syscalls, 1, "a steady-state transfer is one system call");
    assert_eq!(zcopy::last_transfer(), t);
    let all_using = |m| {
        TransferRequest::to(0, 4 << 20)
            .policy(Policy::All)
            .method(Some(m))
            .run(src.as_fd(), dst.as_fd())
    };
    let t = all_using(TransferMethod::ReadWrite).unwrap();
    // 64 KiB buffer: one pread and one write per 64 KiB, plus the slow-path probes.
    assert!(t.syscalls >= 128 && t.syscalls < 128 + 16, "{}", t.syscalls);
    let t = all_using(TransferMethod::Sendfile).unwrap();
    assert!(t.syscalls < 16, "{}", t.syscalls);
}

/// A binding's guard in miniature: lends two descriptors and keeps route hints under `key`.
struct Keyed<'a> {
    src: BorrowedFd<'a>,
    dst: BorrowedFd<'a>,
    key: i32,
}

impl Descriptors for Keyed<'_> {
    type Error = zcopy::Error;

    fn step<R>(&mut self, f: impl FnOnce(BorrowedFd<'_>, BorrowedFd<'_>) -> R) -> zcopy::Result<Option<R>> {
        Ok(Some(f(self.src, self.dst)))
    }

    fn hint_key(&self, _dir: Direction) -> Option<i32> {
        Some(self.key)
    }

    fn wait(&mut self, _dir: Direction) -> zcopy::Result<bool> {
        zcopy::binding::wait_ready(self.dst, libc::POLLOUT).map_err(|e| zcopy::Error::os("poll", e))?;
        Ok(true)
    }
}

#[test]
fn keyed_hints_follow_the_callers_descriptor_not_a_reused_number() {
    let data = pattern(100_000);
    let (_s, src) = file_with(&data);
    let (a, b) = UnixStream::pair().unwrap();
    let reader = drain(b);
    // A binding transfers through a duplicate of the socket, keyed by the socket's own number.
    // SAFETY: dup of an open descriptor; the duplicate is closed right after.
    let dup = unsafe { libc::fcntl(a.as_raw_fd(), libc::F_DUPFD_CLOEXEC, 0) };
    // SAFETY: `dup` is a new descriptor we own.
    let dup_fd = unsafe { std::os::fd::OwnedFd::from_raw_fd(dup) };
    // Keys no other test uses, so that hints left by parallel tests cannot interfere.
    const SOCKET_KEY: i32 = 65_001;
    const FILE_KEY: i32 = 65_002;
    let mut keyed = Keyed {
        src: src.as_fd(),
        dst: dup_fd.as_fd(),
        key: SOCKET_KEY,
    };
    let t = TransferRequest::to(0, 100_000)
        .policy(Policy::All)
        .run_with(&mut keyed)
        .unwrap();
    assert_eq!(t.bytes, 100_000);
    drop(dup_fd);
    drop(a);
    assert_eq!(reader.join().unwrap(), data);
    // The same number now names a file: with the hint kept under the socket's key, the file
    // transfer probes afresh and takes the file route (splice, for a large transfer here).
    let (_d, dst) = file_with(b"");
    // SAFETY: dup of an open descriptor, most likely reusing the number above.
    let dup = unsafe { libc::fcntl(dst.as_raw_fd(), libc::F_DUPFD_CLOEXEC, 0) };
    // SAFETY: a new descriptor we own.
    let dup_fd = unsafe { std::os::fd::OwnedFd::from_raw_fd(dup) };
    let mut keyed = Keyed {
        src: src.as_fd(),
        dst: dup_fd.as_fd(),
        key: FILE_KEY,
    };
    let t = TransferRequest::to(0, 100_000).run_with(&mut keyed).unwrap();
    assert_eq!((t.bytes, t.method), (100_000, TransferMethod::Splice));
}

#[test]
fn a_stale_socket_hint_does_not_cost_a_file_target_its_route() {
    let data = pattern(1 << 20);
    let (_s, src) = file_with(&data);
    let (a, b) = UnixStream::pair().unwrap();
    let reader = drain(b);
    // A number far above what parallel tests use: 100 below the descriptor limit.
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `lim` is a valid rlimit to fill.
    unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) };
    let want = (lim.rlim_cur.min(65_536) as i32) - 100;
    // SAFETY: dup of an open descriptor onto a number we pick, so the file below can reuse it.
    let num = unsafe { libc::fcntl(a.as_raw_fd(), libc::F_DUPFD_CLOEXEC, want) };
    // SAFETY: a new descriptor we own.
    let sock = unsafe { std::os::fd::OwnedFd::from_raw_fd(num) };
    let t = transfer_all(src.as_fd(), 0, 1 << 20, sock.as_fd()).unwrap();
    assert_eq!(
        t.method,
        TransferMethod::MmapWrite,
        "an AF_UNIX peer behind a blocking socket, a large transfer"
    );
    drop((sock, a));
    reader.join().unwrap();
    let (_d, dst) = file_with(b"");
    // SAFETY: dup2 of an open file onto the number the socket had.
    assert_eq!(unsafe { libc::dup2(dst.as_raw_fd(), num) }, num);
    // SAFETY: we own that number now.
    let file = unsafe { std::os::fd::OwnedFd::from_raw_fd(num) };
    let t = transfer_to(src.as_fd(), 0, 1 << 20, file.as_fd()).unwrap();
    assert_eq!((t.bytes, t.method), (1 << 20, TransferMethod::Splice));
}

#[test]
fn a_header_with_no_body_left_is_not_held_back_by_msg_more() {
    let (_s, src) = file_with(&pattern(100));
    let (client, mut server) = tcp_pair();
    // Position at the end: the body moves nothing, so the header must leave now, not at the
    // cork timer (about 200 ms later).
    let t0 = std::time::Instant::now();
    let h = TransferRequest::to(100, 50)
        .header(b"HEAD")
        .run(src.as_fd(), client.as_fd())
        .unwrap();
    assert_eq!((h.header, h.bytes), (4, 0));
    let mut buf = [0u8; 4];
    server.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"HEAD");
    assert!(
        t0.elapsed() < std::time::Duration::from_millis(150),
        "{:?}",
        t0.elapsed()
    );
}

/// A process whose SIGPIPE is caught by a handler (as the JVM's is) cannot be killed by it, so
/// transfers skip the signal-mask shield: one system call, not three.
#[test]
fn a_caught_sigpipe_needs_no_shield() {
    if std::env::var_os("ZCOPY_CAUGHT_CHILD").is_some() {
        extern "C" fn ignore(_: libc::c_int) {}
        // SAFETY: installing a handler in this child process.
        unsafe { libc::signal(libc::SIGPIPE, ignore as *const () as libc::sighandler_t) };
        let (_s, src) = file_with(&pattern(1 << 20));
        let (_d, dst) = file_with(b"");
        transfer_to(src.as_fd(), 0, 4096, dst.as_fd()).unwrap();
        let t = transfer_to(src.as_fd(), 0, 4096, dst.as_fd()).unwrap();
        assert_eq!(t.syscalls, 1);
        let (a, b) = UnixStream::pair().unwrap();
        drop(b);
        let e = transfer_to(src.as_fd(), 0, 4096, a.as_fd()).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::EPIPE));
        return;
    }
    let status = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "a_caught_sigpipe_needs_no_shield"])
        .env("ZCOPY_CAUGHT_CHILD", "1")
        .status()
        .unwrap();
    assert!(status.success(), "{status:?}");
}
