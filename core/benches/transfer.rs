//! Transfer benchmark: zcopy against raw system-call loops and read/write loops, in one run.
//!
//! ```text
//! cargo bench -p zcopy --bench transfer -- [--size 1G] [--rounds 5] [--dir $TMPDIR] [--calls 200000]
//! ```
//!
//! For a page-cached file it prints, for file → file and file → loopback TCP socket, the
//! throughput (min / median / max over the rounds) and the sending thread's CPU time per GiB
//! for each strategy, as ratios to the 64 KiB read/write loop, and each zcopy row against the
//! raw loop of the same method. Then the per-call cost of 4 KiB transfers.
//! Rounds are interleaved across strategies so that drift on a noisy machine hits all alike.

mod support;

use std::fs::File;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::fd::{AsFd, AsRawFd, RawFd};
use std::time::Instant;

use support::{max, median, min, thread_cpu, Args, GIB};
use zcopy::TransferMethod;

fn check(res: isize, what: &str) -> usize {
    if res < 0 {
        panic!("{what}: {}", std::io::Error::last_os_error());
    }
    res as usize
}

/// Writes all of `buf` to `fd`.
fn write_all(fd: RawFd, buf: &[u8]) {
    let mut off = 0;
    while off < buf.len() {
        // SAFETY: the slice is valid for the call.
        let n = unsafe { libc::write(fd, buf[off..].as_ptr().cast(), buf.len() - off) };
        off += check(n, "write");
    }
}

fn rw_loop(src: RawFd, dst: RawFd, size: u64, chunk: usize) -> TransferMethod {
    let mut buf = vec![0u8; chunk];
    let mut off = 0u64;
    while off < size {
        let want = chunk.min((size - off) as usize);
        // SAFETY: `buf` has room for `want` bytes.
        let n = check(
            unsafe { libc::pread(src, buf.as_mut_ptr().cast(), want, off as i64) },
            "pread",
        );
        if n == 0 {
            break;
        }
        write_all(dst, &buf[..n]);
        off += n as u64;
    }
    TransferMethod::ReadWrite
}

fn mmap_write_loop(src: RawFd, dst: RawFd, size: u64) -> TransferMethod {
    // SAFETY: a fresh read-only shared mapping of the whole file.
    let p = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            size as usize,
            libc::PROT_READ,
            libc::MAP_SHARED,
            src,
            0,
        )
    };
    assert_ne!(p, libc::MAP_FAILED);
    // SAFETY: the mapping is `size` bytes long and lives until munmap below.
    let s = unsafe { std::slice::from_raw_parts(p as *const u8, size as usize) };
    for chunk in s.chunks(8 << 20) {
        write_all(dst, chunk);
    }
    // SAFETY: unmapping what we mapped.
    unsafe { libc::munmap(p, size as usize) };
    TransferMethod::MmapWrite
}

fn sendfile_loop(src: RawFd, dst: RawFd, size: u64) -> TransferMethod {
    let mut off: libc::off_t = 0;
    while (off as u64) < size {
        let want = (size - off as u64).min(0x7fff_f000) as usize;
        // SAFETY: `off` is valid for the call.
        if check(unsafe { libc::sendfile(dst, src, &mut off, want) }, "sendfile") == 0 {
            break;
        }
    }
    TransferMethod::Sendfile
}

fn cfr_loop(src: RawFd, dst: RawFd, size: u64) -> TransferMethod {
    let mut off: i64 = 0;
    while (off as u64) < size {
        let want = (size - off as u64).min(0x7fff_f000) as usize;
        // SAFETY: `off` is valid for the call.
        let n = unsafe { libc::copy_file_range(src, &mut off, dst, std::ptr::null_mut(), want, 0) };
        if check(n as isize, "copy_file_range") == 0 {
            break;
        }
    }
    TransferMethod::CopyFileRange
}

fn splice_loop(src: RawFd, dst: RawFd, size: u64, pipe_size: i32) -> TransferMethod {
    let mut fds = [0; 2];
    // SAFETY: room for two descriptors.
    assert_eq!(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) }, 0);
    // SAFETY: F_SETPIPE_SZ takes an int.
    let cap = unsafe { libc::fcntl(fds[1], libc::F_SETPIPE_SZ, pipe_size) } as usize;
    let mut off: i64 = 0;
    while (off as u64) < size {
        let want = cap.min((size - off as u64) as usize);
        // SAFETY: `off` is valid; the pipe is ours.
        let n = unsafe {
            libc::splice(
                src,
                &mut off,
                fds[1],
                std::ptr::null_mut(),
                want,
                libc::SPLICE_F_MOVE,
            )
        };
        let mut pending = check(n, "splice in");
        if pending == 0 {
            break;
        }
        while pending > 0 {
            // SAFETY: as above.
            let m = unsafe {
                libc::splice(
                    fds[0],
                    std::ptr::null_mut(),
                    dst,
                    std::ptr::null_mut(),
                    pending,
                    libc::SPLICE_F_MOVE,
                )
            };
            pending -= check(m, "splice out");
        }
    }
    // SAFETY: closing our pipe.
    unsafe {
        libc::close(fds[0]);
        libc::close(fds[1]);
    }
    TransferMethod::Splice
}

#[derive(Clone, Copy, PartialEq)]
enum Strategy {
    ReadWrite64K,
    ReadWrite1M,
    RawMmapWrite,
    RawSendfile,
    RawSplice,
    RawCopyFileRange,
    Zcopy(Option<TransferMethod>),
}

impl Strategy {
    fn label(self) -> String {
        match self {
            Strategy::ReadWrite64K => "read/write loop 64 KiB".into(),
            Strategy::ReadWrite1M => "read/write loop 1 MiB".into(),
            Strategy::RawMmapWrite => "raw mmap + write".into(),
            Strategy::RawSendfile => "raw sendfile loop".into(),
            Strategy::RawSplice => "raw splice loop (1 MiB pipe)".into(),
            Strategy::RawCopyFileRange => "raw copy_file_range loop".into(),
            Strategy::Zcopy(None) => "zcopy transfer_all (auto)".into(),
            Strategy::Zcopy(Some(m)) => format!("zcopy transfer_all using {m}"),
        }
    }

    fn raw_twin(self) -> Option<Strategy> {
        Some(match self {
            Strategy::Zcopy(Some(TransferMethod::Sendfile)) => Strategy::RawSendfile,
            Strategy::Zcopy(Some(TransferMethod::Splice)) => Strategy::RawSplice,
            Strategy::Zcopy(Some(TransferMethod::CopyFileRange)) => Strategy::RawCopyFileRange,
            Strategy::Zcopy(Some(TransferMethod::MmapWrite)) => Strategy::RawMmapWrite,
            Strategy::Zcopy(Some(TransferMethod::ReadWrite)) => Strategy::ReadWrite64K,
            _ => return None,
        })
    }

    fn run(self, src: &File, dst: RawFd, size: u64) -> TransferMethod {
        let s = src.as_raw_fd();
        match self {
            Strategy::ReadWrite64K => rw_loop(s, dst, size, 64 << 10),
            Strategy::ReadWrite1M => rw_loop(s, dst, size, 1 << 20),
            Strategy::RawMmapWrite => mmap_write_loop(s, dst, size),
            Strategy::RawSendfile => sendfile_loop(s, dst, size),
            Strategy::RawSplice => splice_loop(s, dst, size, 1 << 20),
            Strategy::RawCopyFileRange => cfr_loop(s, dst, size),
            Strategy::Zcopy(method) => {
                // SAFETY: `dst` is open for the duration of the call.
                let target = unsafe { std::os::fd::BorrowedFd::borrow_raw(dst) };
                let t = zcopy::TransferRequest::to(0, size as i64)
                    .policy(zcopy::Policy::All)
                    .method(method)
                    .run(src.as_fd(), target)
                    .expect("zcopy transfer");
                assert_eq!(t.bytes, size);
                t.method
            }
        }
    }
}

#[derive(Default, Clone)]
struct Samples {
    gibps: Vec<f64>,
    cpu_per_gib: Vec<f64>,
    method: Option<TransferMethod>,
}

fn report(title: &str, strategies: &[Strategy], samples: &[Samples]) {
    println!("\n## {title}\n");
    println!(
        "| strategy | method | GiB/s min / median / max | CPU s/GiB (median) | throughput × rw 64K | CPU × rw 64K | vs raw loop of the same method |"
    );
    println!("|---|---|---|---|---|---|---|");
    let base = &samples[0];
    for (i, s) in samples.iter().enumerate() {
        let strat = strategies[i];
        let twin = strat
            .raw_twin()
            .and_then(|t| strategies.iter().position(|x| *x == t));
        let vs_raw = twin
            .map(|j| format!("{:.3}×", median(&s.gibps) / median(&samples[j].gibps)))
            .unwrap_or_else(|| "".into());
        println!(
            "| {} | {} | {:.2} / {:.2} / {:.2} | {:.3} | {:.2}× | {:.2}× | {} |",
            strat.label(),
            s.method.map_or("-", |m| m.name()),
            min(&s.gibps),
            median(&s.gibps),
            max(&s.gibps),
            median(&s.cpu_per_gib),
            median(&s.gibps) / median(&base.gibps),
            median(&s.cpu_per_gib) / median(&base.cpu_per_gib),
            vs_raw
        );
    }
}

fn measure(
    rounds: usize,
    strategies: &[Strategy],
    src: &File,
    size: u64,
    mut target: impl FnMut() -> (RawFd, Box<dyn FnOnce()>),
) -> Vec<Samples> {
    let mut samples = vec![Samples::default(); strategies.len()];
    for round in 0..rounds {
        eprint!("\r  round {}/{rounds}", round + 1);
        for (i, strat) in strategies.iter().enumerate() {
            let (dst, finish) = target();
            let cpu0 = thread_cpu();
            let t0 = Instant::now();
            let method = strat.run(src, dst, size);
            let wall = t0.elapsed().as_secs_f64();
            let cpu = (thread_cpu() - cpu0).as_secs_f64();
            finish();
            let gib = size as f64 / GIB;
            samples[i].gibps.push(gib / wall);
            samples[i].cpu_per_gib.push(cpu / gib);
            samples[i].method = Some(method);
        }
    }
    eprintln!();
    samples
}

fn main() {
    let a = Args::parse(1 << 30);
    let src_path = a.dir.join(format!("zcopy-bench-src-{}", std::process::id()));
    let dst_path = a.dir.join(format!("zcopy-bench-dst-{}", std::process::id()));
    eprintln!(
        "writing a {} MiB source file in {} ...",
        a.size >> 20,
        a.dir.display()
    );
    {
        let mut f = File::create(&src_path).unwrap();
        let block: Vec<u8> = (0..1 << 20).map(|i: u32| (i * 31 % 251) as u8).collect();
        let mut left = a.size;
        while left > 0 {
            let n = left.min(block.len() as u64) as usize;
            f.write_all(&block[..n]).unwrap();
            left -= n as u64;
        }
    }
    let src = File::open(&src_path).unwrap();
    // Read it once so every strategy starts from the page cache.
    rw_loop(
        src.as_raw_fd(),
        File::create("/dev/null").unwrap().as_raw_fd(),
        a.size,
        1 << 20,
    );

    println!("# zcopy transfer benchmark");
    println!();
    println!(
        "{} MiB page-cached file in {}, {} rounds (interleaved), kernel {}; CPU = the sending thread's user+system time; the file → file target is overwritten in place.",
        a.size >> 20,
        a.dir.display(),
        a.rounds,
        std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default().trim()
    );

    let methods = [
        TransferMethod::CopyFileRange,
        TransferMethod::Sendfile,
        TransferMethod::Splice,
        TransferMethod::MmapWrite,
        TransferMethod::ReadWrite,
    ];
    let mut file_strats = vec![
        Strategy::ReadWrite64K,
        Strategy::ReadWrite1M,
        Strategy::RawMmapWrite,
        Strategy::RawSendfile,
        Strategy::RawSplice,
        Strategy::RawCopyFileRange,
        Strategy::Zcopy(None),
    ];
    file_strats.extend(methods.iter().map(|m| Strategy::Zcopy(Some(*m))));
    eprintln!("file -> file:");
    // The target is written once up front and then overwritten in place, so every round measures
    // the transfer itself rather than the file system allocating fresh pages.
    std::fs::copy(&src_path, &dst_path).unwrap();
    let samples = measure(a.rounds, &file_strats, &src, a.size, || {
        let f = File::options().write(true).open(&dst_path).unwrap();
        let fd = f.as_raw_fd();
        (fd, Box::new(move || drop(f)))
    });
    report("file → file", &file_strats, &samples);
    let _ = std::fs::remove_file(&dst_path);

    let sock_strats: Vec<Strategy> = file_strats
        .iter()
        .copied()
        .filter(|s| {
            !matches!(
                s,
                Strategy::RawCopyFileRange | Strategy::Zcopy(Some(TransferMethod::CopyFileRange))
            )
        })
        .collect();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    eprintln!("file -> loopback socket:");
    let samples = measure(a.rounds, &sock_strats, &src, a.size, || {
        let client = TcpStream::connect(addr).unwrap();
        let (mut server, _) = listener.accept().unwrap();
        let reader = std::thread::spawn(move || {
            let mut buf = vec![0u8; 1 << 20];
            while server.read(&mut buf).unwrap() > 0 {}
        });
        let fd = client.as_raw_fd();
        (
            fd,
            Box::new(move || {
                drop(client);
                reader.join().unwrap();
            }),
        )
    });
    report("file → loopback TCP socket", &sock_strats, &samples);
    println!();
    println!(
        "On loopback the receiver copies every byte out of the socket anyway, so a zero-copy sender saves \
         only its own copy: expect sendfile/splice to cost less sender CPU per GiB but not necessarily to \
         beat a 1 MiB read/write loop on throughput."
    );

    per_call(&src, a.calls);
    let _ = std::fs::remove_file(&src_path);
}

/// Per-call cost of 4 KiB transfers to a loopback socket: zcopy's transfer_to against the raw
/// sendfile loop, alternating in blocks to share the machine's noise.
fn per_call(src: &File, calls: usize) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (mut server, _) = listener.accept().unwrap();
    let reader = std::thread::spawn(move || {
        let mut buf = vec![0u8; 1 << 20];
        while server.read(&mut buf).unwrap() > 0 {}
    });
    let (s, d) = (src.as_raw_fd(), client.as_raw_fd());
    let block = 10_000;
    let (mut raw_ns, mut z_ns) = (Vec::new(), Vec::new());
    let mut method = TransferMethod::None;
    for round in 0..(calls / block).max(1) * 2 {
        let t0 = Instant::now();
        for i in 0..block {
            let mut off = ((i % 256) * 4096) as libc::off_t;
            if round % 2 == 0 {
                // SAFETY: `off` valid for the call.
                check(unsafe { libc::sendfile(d, s, &mut off, 4096) }, "sendfile");
            } else {
                let t = zcopy::transfer_to(src.as_fd(), off as u64, 4096, client.as_fd()).unwrap();
                method = t.method;
            }
        }
        let ns = t0.elapsed().as_nanos() as f64 / block as f64;
        if round % 2 == 0 {
            raw_ns.push(ns)
        } else {
            z_ns.push(ns)
        }
    }
    drop(client);
    reader.join().unwrap();
    println!("\n## Per-call cost, 4 KiB file → loopback TCP socket\n");
    println!("| call | ns/call min / median / max | × raw sendfile |");
    println!("|---|---|---|");
    println!(
        "| raw sendfile(2) | {:.0} / {:.0} / {:.0} | 1.00× |",
        min(&raw_ns),
        median(&raw_ns),
        max(&raw_ns)
    );
    println!(
        "| zcopy transfer_to ({}) | {:.0} / {:.0} / {:.0} | {:.3}× |",
        method,
        min(&z_ns),
        median(&z_ns),
        max(&z_ns),
        median(&z_ns) / median(&raw_ns)
    );
}
