//! The automatic route, pinned per pair: what the planner chooses from the descriptors' kinds,
//! the target's file system and the socket peer's locality (the measurements behind each rule
//! are `make bench-core`'s route matrix, in BENCHMARKS.md).

mod support;

use std::fs::File;
use std::os::fd::AsFd;
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::process::Command;

use support::{drain, file_with, pattern, tcp_pair};
use zcopy::{transfer_all, transfer_to, TransferMethod};

/// A loopback TCP peer copies every byte out of its socket anyway: the sender copies once from
/// a mapping (large transfers), and small transfers keep `sendfile`.
#[test]
fn a_loopback_peer_gets_mmap_write_for_large_transfers_and_sendfile_for_small_ones() {
    let data = pattern(3 << 20);
    let (_s, src) = file_with(&data);
    let (client, server) = tcp_pair();
    let reader = drain(server);
    assert_eq!(all_by(&src, &data, client.as_fd()), TransferMethod::MmapWrite);
    let t = transfer_to(src.as_fd(), 0, 4096, client.as_fd()).unwrap();
    assert_eq!((t.bytes, t.method), (4096, TransferMethod::Sendfile));
    assert_eq!(t.syscalls, 1, "the small route is remembered with the large one");
    let t = transfer_all(src.as_fd(), 0, 1 << 20, client.as_fd()).unwrap();
    assert_eq!(t.method, TransferMethod::MmapWrite);
    // "Everything" from near the end: what is left is small, and one sendfile moves it.
    let tail = data.len() as u64 - 10_000;
    let t = transfer_all(src.as_fd(), tail, u64::MAX, client.as_fd()).unwrap();
    assert_eq!((t.bytes, t.method), (10_000, TransferMethod::Sendfile));
    drop(client);
    let got = reader.join().unwrap();
    assert_eq!(&got[..data.len()], &data[..]);
    assert_eq!(&got[data.len()..data.len() + 4096], &data[..4096]);
    assert_eq!(&got[data.len() + 4096 + (1 << 20)..], &data[tail as usize..]);
}

/// Moves all of `data` (the contents of `src`) to `target` with one `transfer_all`; the method
/// it reports.
fn all_by(src: &File, data: &[u8], target: std::os::fd::BorrowedFd<'_>) -> TransferMethod {
    let t = transfer_all(src.as_fd(), 0, data.len() as u64, target).unwrap();
    assert_eq!(t.bytes, data.len() as u64);
    t.method
}

/// Sends `len` bytes of `src` to the non-blocking `target` one transfer at a time, as an event
/// loop does (a full socket: a short pause), asserting that every transfer that moved bytes took
/// `method`.
fn send_as_an_event_loop(src: &File, len: u64, target: std::os::fd::BorrowedFd<'_>, method: TransferMethod) {
    let mut sent = 0u64;
    while sent < len {
        let t = transfer_to(src.as_fd(), sent, len - sent, target).unwrap();
        if t.bytes > 0 {
            assert_eq!(t.method, method, "after {sent} bytes");
        }
        sent += t.bytes;
        if t.would_block {
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
    }
}

/// An event loop's socket (non-blocking) to a loopback peer keeps `sendfile`: one thread serves
/// many such sockets in turns, and their readers share the page cache's pages where a copy
/// would fill socket buffers read later, cold.
#[test]
fn a_non_blocking_loopback_peer_keeps_sendfile() {
    let data = pattern(1 << 20);
    let (_s, src) = file_with(&data);
    let (client, server) = tcp_pair();
    client.set_nonblocking(true).unwrap();
    let reader = drain(server);
    send_as_an_event_loop(&src, data.len() as u64, client.as_fd(), TransferMethod::Sendfile);
    drop(client);
    assert_eq!(reader.join().unwrap(), data);
}

/// An AF_UNIX peer behind a blocking socket is a peer on this host: the sender copies once from
/// a mapping for large transfers; small ones take one `sendfile`. Behind a non-blocking socket
/// (an event loop's) large transfers take page references through this thread's 1 MiB pipe.
#[test]
fn an_af_unix_peer_gets_mmap_write_when_blocking_and_splice_when_not() {
    let data = pattern(2 << 20);
    let (_s, src) = file_with(&data);
    let (a, b) = UnixStream::pair().unwrap();
    let reader = drain(b);
    assert_eq!(all_by(&src, &data, a.as_fd()), TransferMethod::MmapWrite);
    let t = transfer_to(src.as_fd(), 0, 4096, a.as_fd()).unwrap();
    assert_eq!((t.bytes, t.method), (4096, TransferMethod::Sendfile));
    drop(a);
    let got = reader.join().unwrap();
    assert_eq!(&got[..data.len()], &data[..]);

    let (a, b) = UnixStream::pair().unwrap();
    a.set_nonblocking(true).unwrap();
    let reader = drain(b);
    send_as_an_event_loop(&src, data.len() as u64, a.as_fd(), TransferMethod::Splice);
    drop(a);
    let got = reader.join().unwrap();
    assert_eq!(&got[..data.len()], &data[..]);
}

/// Between files on a file system that neither shares blocks nor copies on a server (the
/// temporary directory here): a large transfer splices through the thread's pipe (written in
/// 256 KiB pieces), a small one is one `copy_file_range`.
#[test]
fn files_on_an_ordinary_file_system_get_splice_when_large() {
    let data = pattern(1 << 20);
    let (_s, src) = file_with(&data);
    let (d, dst) = file_with(b"");
    let t = transfer_all(src.as_fd(), 0, data.len() as u64, dst.as_fd()).unwrap();
    assert_eq!((t.bytes, t.method), (data.len() as u64, TransferMethod::Splice));
    assert_eq!(std::fs::read(d.path()).unwrap(), data);
    let t = transfer_to(src.as_fd(), 0, 4096, dst.as_fd()).unwrap();
    assert_eq!((t.bytes, t.method), (4096, TransferMethod::CopyFileRange));
}

/// A mounted file system for one test (needs root; `None`, with the reason printed, elsewhere).
struct Mounted {
    dir: PathBuf,
    image: Option<PathBuf>,
}

impl Drop for Mounted {
    fn drop(&mut self) {
        // Best effort: a failed unmount leaves a mount behind but cannot fail the test.
        let _ = Command::new("umount").arg(&self.dir).status();
        if let Some(img) = &self.image {
            let _ = std::fs::remove_file(img);
        }
        let _ = std::fs::remove_dir(&self.dir);
    }
}

fn mount(kind: &str) -> Option<Mounted> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("SKIPPED ({kind}): mounting needs root");
        return None;
    }
    let base = std::env::temp_dir().join(format!("zcopy-planner-{kind}-{}", std::process::id()));
    let dir = base.with_extension("mnt");
    std::fs::create_dir_all(&dir).ok()?;
    let (image, ok) = if kind == "xfs" {
        let img = base.with_extension("img");
        File::create(&img).and_then(|f| f.set_len(512 << 20)).ok()?;
        let made = Command::new("mkfs.xfs")
            .args(["-q", "-f", "-m", "reflink=1"])
            .arg(&img)
            .status()
            .is_ok_and(|s| s.success());
        let mounted = made
            && Command::new("mount")
                .args(["-o", "loop"])
                .arg(&img)
                .arg(&dir)
                .status()
                .is_ok_and(|s| s.success());
        (Some(img), mounted)
    } else {
        let mounted = Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=64m", "zcopy-planner"])
            .arg(&dir)
            .status()
            .is_ok_and(|s| s.success());
        (None, mounted)
    };
    let m = Mounted { dir, image };
    if !ok {
        eprintln!("SKIPPED ({kind}): could not make and mount the file system (mkfs.xfs, loop devices)");
        return None;
    }
    Some(m)
}

/// The method the automatic route takes between two files on a fresh `kind` file system (the
/// copy checked byte for byte); `None` where it cannot be mounted here.
fn method_on(kind: &str) -> Option<TransferMethod> {
    let m = mount(kind)?;
    let data = pattern(4 << 20);
    std::fs::write(m.dir.join("src"), &data).unwrap();
    let src = File::open(m.dir.join("src")).unwrap();
    let dst = File::create(m.dir.join("dst")).unwrap();
    let t = transfer_all(src.as_fd(), 0, data.len() as u64, dst.as_fd()).unwrap();
    assert_eq!(std::fs::read(m.dir.join("dst")).unwrap(), data);
    Some(t.method)
}

/// On a file system that shares blocks, `copy_file_range` clones: first, always.
#[test]
fn files_on_a_reflink_file_system_get_copy_file_range() {
    if let Some(method) = method_on("xfs") {
        assert_eq!(method, TransferMethod::CopyFileRange);
    }
}

/// On tmpfs every route is a memory copy: `sendfile`, the cheapest call.
#[test]
fn files_on_tmpfs_get_sendfile() {
    if let Some(method) = method_on("tmpfs") {
        assert_eq!(method, TransferMethod::Sendfile);
    }
}

/// A route remembered for an append-mode target (a copy: the in-kernel copies refuse
/// `O_APPEND`) does not stay with the descriptor number once it names the same file opened
/// without `O_APPEND` (same number, same inode: what a freed and reused inode looks like too).
#[test]
fn a_route_remembered_for_an_append_target_does_not_outlive_the_flag() {
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
    let data = pattern(200_000);
    let (_s, src) = file_with(&data);
    let (d, _) = file_with(b"");
    // One fixed number for both descriptors, far above what the other tests open.
    const NUMBER: i32 = 977;
    let at_number = |f: File| {
        // SAFETY: dup2 takes two numbers and no pointer; NUMBER is this test's own.
        assert_eq!(unsafe { libc::dup2(f.as_raw_fd(), NUMBER) }, NUMBER);
        // SAFETY: dup2 just opened NUMBER, and nothing else owns it.
        unsafe { OwnedFd::from_raw_fd(NUMBER) }
    };
    let appending = at_number(File::options().append(true).open(d.path()).unwrap());
    let t = transfer_to(src.as_fd(), 0, 100_000, appending.as_fd()).unwrap();
    assert_eq!((t.bytes, t.method), (100_000, TransferMethod::MmapWrite));
    drop(appending);
    let plain = at_number(File::options().write(true).open(d.path()).unwrap());
    let t = transfer_to(src.as_fd(), 100_000, 100_000, plain.as_fd()).unwrap();
    assert_eq!((t.bytes, t.method), (100_000, TransferMethod::Splice));
    let t = transfer_to(src.as_fd(), 0, 100, plain.as_fd()).unwrap();
    assert_eq!(t.method, TransferMethod::CopyFileRange);
    assert_eq!(t.syscalls, 1, "the plain target's own route is remembered");
}
