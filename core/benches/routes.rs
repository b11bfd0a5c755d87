//! The route matrix: is the automatic route the best one, pair by pair?
//!
//! ```text
//! cargo bench -p zcopy --bench routes -- [--size 256M] [--rounds 5] [--dir DIR]
//! ```
//!
//! For each pair of descriptors the planner tells apart (file → file on the work disk, on an XFS
//! image with reflinks and on tmpfs; file → loopback TCP, AF_UNIX, and a TCP peer in another
//! network namespace over veth; and a loaded server's pattern: a 1 MiB file sent over and over
//! to 64 non-blocking loopback connections by one thread, as an event loop does, read 8 KiB at a
//! time as `wrk` reads, sender and readers sharing one core as they share a busy machine's) it moves a page-cached file with every method that applies,
//! forced, and with the automatic route, in interleaved rounds (so that drift on a noisy machine
//! hits all alike). It prints Markdown: per pair, throughput (min / median / max) and the sending
//! thread's CPU per GiB for each method; then one line per pair with auto against the best forced
//! method of the same run. Pairs that need what the machine lacks (root, `mkfs.xfs`, loop
//! devices, network namespaces) are skipped with the reason.

mod support;

use std::fs::{self, File};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::fd::AsFd;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use support::{median, thread_cpu, Args, GIB};
use zcopy::{Policy, TransferMethod, TransferRequest};

fn run(cmd: &str, args: &[&str]) -> Result<(), String> {
    let out = Command::new(cmd)
        .args(args)
        .output()
        .map_err(|e| format!("{cmd}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{cmd} {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

fn write_source(path: &Path, size: u64) {
    let mut f = File::create(path).expect("source");
    let block: Vec<u8> = (0..1u32 << 20).map(|i| (i.wrapping_mul(7) >> 3) as u8).collect();
    let mut left = size;
    while left > 0 {
        let n = left.min(block.len() as u64) as usize;
        f.write_all(&block[..n]).expect("write source");
        left -= n as u64;
    }
    f.sync_all().ok();
    // Read it back once so that every round starts page-cached.
    std::io::copy(&mut File::open(path).expect("source"), &mut std::io::sink()).expect("read source");
}

/// Where one pair sends its bytes.
enum Sink {
    /// A new file in `dir` each round (removed after, so dirty pages never pile up).
    Files { dir: PathBuf },
    /// A connected socket whose peer thread counts what arrives.
    Socket {
        fd: std::os::fd::OwnedFd,
        received: Arc<AtomicU64>,
    },
    /// Non-blocking sockets that one thread serves in turns, a whole file at a time each, as an
    /// event loop does; one reader thread drains them all (a load generator's).
    Served {
        fds: Vec<std::os::fd::OwnedFd>,
        received: Arc<AtomicU64>,
    },
}

/// A pair: a source file and a sink, with the methods that apply to it.
struct Pair {
    name: String,
    source: PathBuf,
    sink: Sink,
    methods: Vec<Option<TransferMethod>>,
}

/// Drains `stream` on a thread, counting bytes.
fn drain(mut stream: impl Read + Send + 'static) -> Arc<AtomicU64> {
    let received = Arc::new(AtomicU64::new(0));
    let count = Arc::clone(&received);
    std::thread::spawn(move || {
        let mut buf = vec![0u8; 1 << 20];
        while let Ok(n @ 1..) = stream.read(&mut buf) {
            count.fetch_add(n as u64, Ordering::Release);
        }
    });
    received
}

impl Pair {
    fn round(&self, method: Option<TransferMethod>, size: u64) -> (Duration, Duration, TransferMethod) {
        let src = File::open(&self.source).expect("source");
        let request = TransferRequest::to(0, size as i64)
            .policy(Policy::All)
            .method(method);
        match &self.sink {
            Sink::Files { dir } => {
                let path = dir.join("zcopy-routes-target");
                let dst = File::options()
                    .read(true)
                    .write(true)
                    .create(true)
                    .truncate(true)
                    .open(&path)
                    .expect("target");
                let (t0, c0) = (Instant::now(), thread_cpu());
                let t = request.run(src.as_fd(), dst.as_fd()).expect("transfer");
                let (wall, cpu) = (t0.elapsed(), thread_cpu() - c0);
                assert_eq!(t.bytes, size);
                drop(dst);
                fs::remove_file(&path).ok();
                // Let the file system finish freeing the target's blocks before the next round.
                // SAFETY: syncfs takes a descriptor of the file system and no pointers.
                unsafe { libc::syncfs(std::os::fd::AsRawFd::as_raw_fd(&src)) };
                (wall, cpu, t.method)
            }
            Sink::Socket { fd, received } => {
                let want = received.load(Ordering::Acquire) + size;
                let (t0, c0) = (Instant::now(), thread_cpu());
                let t = request.run(src.as_fd(), fd.as_fd()).expect("transfer");
                let cpu = thread_cpu() - c0;
                while received.load(Ordering::Acquire) < want {
                    std::hint::spin_loop();
                }
                assert_eq!(t.bytes, size);
                (t0.elapsed(), cpu, t.method)
            }
            Sink::Served { fds, received } => {
                let want = received.load(Ordering::Acquire) + size;
                let all = pin_to_first_cpu();
                let (t0, c0) = (Instant::now(), thread_cpu());
                let ran = serve(&src, fds, size, method);
                let cpu = thread_cpu() - c0;
                restore_affinity(&all);
                while received.load(Ordering::Acquire) < want {
                    std::hint::spin_loop();
                }
                (t0.elapsed(), cpu, ran)
            }
        }
    }
}

/// One `pollfd` per descriptor, waiting for `events`.
fn poll_set(fds: impl Iterator<Item = std::os::fd::RawFd>, events: libc::c_short) -> Vec<libc::pollfd> {
    fds.map(|fd| libc::pollfd {
        fd,
        events,
        revents: 0,
    })
    .collect()
}

/// Sends `size` bytes as whole copies of `src` spread evenly over `fds` (non-blocking sockets),
/// one `Policy::Once` transfer at a time, polling for the writable ones, as an event loop does.
/// Returns the method of the last transfer.
fn serve(
    src: &File,
    fds: &[std::os::fd::OwnedFd],
    size: u64,
    method: Option<TransferMethod>,
) -> TransferMethod {
    use std::os::fd::AsRawFd;
    let file = src.metadata().expect("source").len();
    let mut left: Vec<u64> = vec![size / fds.len() as u64; fds.len()];
    let mut polls = poll_set(fds.iter().map(|fd| fd.as_raw_fd()), libc::POLLOUT);
    let mut ran = TransferMethod::None;
    while left.iter().any(|&l| l > 0) {
        // SAFETY: `polls` is a live array of pollfd of the length given.
        let n = unsafe { libc::poll(polls.as_mut_ptr(), polls.len() as libc::nfds_t, -1) };
        assert!(n > 0, "poll: {}", std::io::Error::last_os_error());
        for (i, p) in polls.iter_mut().enumerate() {
            if p.revents & libc::POLLOUT == 0 {
                continue;
            }
            while left[i] > 0 {
                let at = file - (left[i] - 1) % file - 1;
                let t = TransferRequest::to(at as i64, (file - at) as i64)
                    .method(method)
                    .run(src.as_fd(), fds[i].as_fd())
                    .expect("transfer");
                left[i] -= t.bytes;
                ran = t.method;
                if t.would_block {
                    break;
                }
            }
            if left[i] == 0 {
                p.fd = -1; // poll skips negative descriptors
            }
        }
    }
    ran
}

/// Runs the calling thread on the first CPU it may use (the sender and the readers of a loaded
/// server share their cores: what one side spends, the other cannot); returns the CPUs it had.
fn pin_to_first_cpu() -> libc::cpu_set_t {
    // SAFETY: cpu_set_t is plain bits; the calls take the size of the set given.
    unsafe {
        let mut all: libc::cpu_set_t = std::mem::zeroed();
        libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut all);
        let first = (0..libc::CPU_SETSIZE as usize)
            .find(|&c| libc::CPU_ISSET(c, &all))
            .unwrap_or(0);
        let mut one: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(first, &mut one);
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &one);
        all
    }
}

fn restore_affinity(all: &libc::cpu_set_t) {
    // SAFETY: as above.
    unsafe { libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), all) };
}

/// Drains non-blocking `streams` on one thread (polling for the readable ones), counting bytes;
/// the thread ends when every stream has ended.
fn drain_all(streams: Vec<TcpStream>) -> Arc<AtomicU64> {
    use std::os::fd::AsRawFd;
    let received = Arc::new(AtomicU64::new(0));
    let count = Arc::clone(&received);
    std::thread::spawn(move || {
        pin_to_first_cpu();
        let mut polls = poll_set(streams.iter().map(|s| s.as_raw_fd()), libc::POLLIN);
        let mut buf = vec![0u8; 8 << 10];
        while polls.iter().any(|p| p.fd >= 0) {
            // SAFETY: `polls` is a live array of pollfd of the length given.
            if unsafe { libc::poll(polls.as_mut_ptr(), polls.len() as libc::nfds_t, -1) } < 0 {
                return;
            }
            for (p, mut s) in polls.iter_mut().zip(&streams) {
                if p.revents == 0 {
                    continue;
                }
                loop {
                    match s.read(&mut buf) {
                        Ok(n @ 1..) => {
                            count.fetch_add(n as u64, Ordering::Release);
                        }
                        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                        // The end of the stream, or an error: done with it.
                        Ok(0) | Err(_) => {
                            p.fd = -1;
                            break;
                        }
                    }
                }
            }
        }
    });
    received
}

/// The server's pattern: `conns` non-blocking loopback connections and a 1 MiB source in `dir`.
/// Its rounds run the sender and the readers on one core: with cores to spare a copying sender
/// borrows an idle one, which a server under load (or `make bench-http`, where the server and
/// `wrk` share the machine) does not have.
fn served_pair(dir: &Path, conns: usize) -> Pair {
    let source = dir.join("zcopy-routes-served");
    write_source(&source, 1 << 20);
    let listener = TcpListener::bind("127.0.0.1:0").expect("listen");
    let mut fds = Vec::new();
    let mut clients = Vec::new();
    for _ in 0..conns {
        let client = TcpStream::connect(listener.local_addr().expect("addr")).expect("connect");
        let (server, _) = listener.accept().expect("accept");
        server.set_nonblocking(true).expect("non-blocking");
        client.set_nonblocking(true).expect("non-blocking");
        fds.push(server.into());
        clients.push(client);
    }
    Pair {
        name: format!(
            "1 MiB file → {conns} loopback TCP connections, one non-blocking sender (a loaded server: sender and readers on one core)"
        ),
        source,
        sink: Sink::Served {
            fds,
            received: drain_all(clients),
        },
        methods: methods(false),
    }
}

/// Auto, then every method of the core's table that applies (`copy_file_range` to files only).
fn methods(to_file: bool) -> Vec<Option<TransferMethod>> {
    std::iter::once(None)
        .chain(TransferMethod::ALL.map(Some))
        .filter(|&m| to_file || m != Some(TransferMethod::CopyFileRange))
        .collect()
}

fn file_pair(name: &str, dir: &Path, size: u64) -> Pair {
    let source = dir.join("zcopy-routes-source");
    write_source(&source, size);
    Pair {
        name: name.into(),
        source,
        sink: Sink::Files { dir: dir.into() },
        methods: methods(true),
    }
}

fn socket_pair(name: &str, source: &Path, fd: std::os::fd::OwnedFd, received: Arc<AtomicU64>) -> Pair {
    Pair {
        name: name.into(),
        source: source.into(),
        sink: Sink::Socket { fd, received },
        methods: methods(false),
    }
}

/// A mounted file system for one pair, unmounted (and its image or namespace removed) on drop.
struct Mount {
    dir: PathBuf,
    cleanup: Vec<(String, Vec<String>)>,
}

impl Drop for Mount {
    fn drop(&mut self) {
        for (cmd, args) in &self.cleanup {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            // Best effort: a failed cleanup leaves a mount or namespace behind, and says so.
            if let Err(e) = run(cmd, &args) {
                eprintln!("cleanup: {e}");
            }
        }
    }
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

fn xfs_mount(base: &Path) -> Result<Mount, String> {
    if !is_root() {
        return Err("not root: mounting an XFS image needs root".into());
    }
    let img = base.join("zcopy-routes-xfs.img");
    let dir = base.join("zcopy-routes-xfs");
    fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    File::create(&img)
        .and_then(|f| f.set_len(3 << 30))
        .map_err(|e| e.to_string())?;
    let (img_s, dir_s) = (img.display().to_string(), dir.display().to_string());
    run("mkfs.xfs", &["-q", "-f", "-m", "reflink=1", &img_s])?;
    run("mount", &["-o", "loop", &img_s, &dir_s])?;
    Ok(Mount {
        dir,
        cleanup: vec![
            ("umount".into(), vec![dir_s]),
            ("rm".into(), vec!["-f".into(), img_s]),
        ],
    })
}

fn tmpfs_mount(base: &Path) -> Result<Mount, String> {
    if !is_root() {
        return Err("not root: mounting tmpfs needs root".into());
    }
    let dir = base.join("zcopy-routes-tmpfs");
    fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let dir_s = dir.display().to_string();
    run("mount", &["-t", "tmpfs", "-o", "size=3g", "zcopy-routes", &dir_s])?;
    Ok(Mount {
        dir,
        cleanup: vec![("umount".into(), vec![dir_s])],
    })
}

/// A network namespace joined to this one by a veth pair: 10.215.0.1 here, 10.215.0.2 there.
fn veth_peer(source: &Path) -> Result<(Pair, Mount), String> {
    if !is_root() {
        return Err("not root: network namespaces need root".into());
    }
    let id = std::process::id();
    let (ns, va, vb) = (format!("zcr-{id}"), format!("zcra{id}"), format!("zcrb{id}"));
    run("ip", &["netns", "add", &ns])?;
    let guard = Mount {
        dir: PathBuf::new(),
        cleanup: vec![
            ("ip".into(), vec!["link".into(), "del".into(), va.clone()]),
            ("ip".into(), vec!["netns".into(), "del".into(), ns.clone()]),
        ],
    };
    run("ip", &["link", "add", &va, "type", "veth", "peer", "name", &vb])?;
    run("ip", &["link", "set", &vb, "netns", &ns])?;
    run("ip", &["addr", "add", "10.215.0.1/24", "dev", &va])?;
    run("ip", &["link", "set", &va, "up"])?;
    for args in [
        vec![
            "netns",
            "exec",
            &ns,
            "ip",
            "addr",
            "add",
            "10.215.0.2/24",
            "dev",
            &vb,
        ],
        vec!["netns", "exec", &ns, "ip", "link", "set", &vb, "up"],
        vec!["netns", "exec", &ns, "ip", "link", "set", "lo", "up"],
    ] {
        run("ip", &args)?;
    }
    let ns_path = format!("/run/netns/{ns}");
    let received = Arc::new(AtomicU64::new(0));
    let count = Arc::clone(&received);
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let listen = (|| -> Result<TcpListener, String> {
            let nsf = File::open(&ns_path).map_err(|e| e.to_string())?;
            // SAFETY: setns with a network namespace descriptor only moves this thread.
            if unsafe { libc::setns(std::os::fd::AsRawFd::as_raw_fd(&nsf), libc::CLONE_NEWNET) } != 0 {
                return Err(format!("setns: {}", std::io::Error::last_os_error()));
            }
            TcpListener::bind("10.215.0.2:7715").map_err(|e| e.to_string())
        })();
        let listener = match listen {
            Ok(l) => l,
            Err(e) => {
                let _ = ready_tx.send(Err(e));
                return;
            }
        };
        let _ = ready_tx.send(Ok(()));
        if let Ok((mut stream, _)) = listener.accept() {
            let mut buf = vec![0u8; 1 << 20];
            while let Ok(n @ 1..) = stream.read(&mut buf) {
                count.fetch_add(n as u64, Ordering::Release);
            }
        }
    });
    ready_rx.recv().map_err(|e| e.to_string())??;
    let stream = TcpStream::connect("10.215.0.2:7715").map_err(|e| e.to_string())?;
    Ok((
        socket_pair(
            "file → TCP peer over veth (other netns)",
            source,
            stream.into(),
            received,
        ),
        guard,
    ))
}

#[derive(Default, Clone)]
struct Samples {
    gibps: Vec<f64>,
    cpu: Vec<f64>,
    ran: Option<TransferMethod>,
}

fn label(m: Option<TransferMethod>) -> String {
    m.map_or("auto".into(), |m| m.name().into())
}

fn measure(pair: &Pair, size: u64, rounds: usize) -> Vec<Samples> {
    let mut samples = vec![Samples::default(); pair.methods.len()];
    // A warm-up round each, untimed: hints, pipes, page cache.
    for &m in &pair.methods {
        pair.round(m, size);
    }
    let n = pair.methods.len();
    let mut order: Vec<usize> = (0..n).collect();
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    for _ in 0..rounds {
        // A new order each round (a fixed-seed shuffle), so that no method always follows the
        // same one: a file system may still be freeing the previous method's blocks.
        for k in (1..n).rev() {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            order.swap(k, (seed >> 33) as usize % (k + 1));
        }
        for &i in &order {
            let m = pair.methods[i];
            let (wall, cpu, ran) = pair.round(m, size);
            samples[i].gibps.push(size as f64 / GIB / wall.as_secs_f64());
            samples[i].cpu.push(cpu.as_secs_f64() / (size as f64 / GIB));
            samples[i].ran = Some(ran);
        }
    }
    samples
}

fn main() {
    let a = Args::parse(256 << 20);
    let base = a.dir.join("zcopy-routes");
    fs::create_dir_all(&base).expect("bench dir");
    println!(
        "Route matrix: {} MiB page-cached source, {} interleaved rounds per method (after one warm-up; a new order each round), medians; CPU = the sending thread's user+system seconds per GiB.\n",
        a.size >> 20,
        a.rounds
    );
    let mut pairs: Vec<(Pair, Option<Mount>)> = Vec::new();
    let mut skipped: Vec<(String, String)> = Vec::new();
    pairs.push((file_pair("file → file, work disk", &base, a.size), None));
    match xfs_mount(&base) {
        Ok(m) => pairs.push((file_pair("file → file, XFS (reflink)", &m.dir, a.size), Some(m))),
        Err(e) => skipped.push(("file → file, XFS (reflink)".into(), e)),
    }
    match tmpfs_mount(&base) {
        Ok(m) => pairs.push((file_pair("file → file, tmpfs", &m.dir, a.size), Some(m))),
        Err(e) => skipped.push(("file → file, tmpfs".into(), e)),
    }
    let source = base.join("zcopy-routes-source");
    let listener = TcpListener::bind("127.0.0.1:0").expect("listen");
    let client = TcpStream::connect(listener.local_addr().expect("addr")).expect("connect");
    let (server, _) = listener.accept().expect("accept");
    let received = drain(server);
    pairs.push((
        socket_pair("file → loopback TCP", &source, client.into(), received),
        None,
    ));
    let (a_end, b_end) = UnixStream::pair().expect("socketpair");
    let received = drain(b_end);
    pairs.push((
        socket_pair("file → AF_UNIX stream", &source, a_end.into(), received),
        None,
    ));
    pairs.push((served_pair(&base, 64), None));
    match veth_peer(&source) {
        Ok((p, m)) => pairs.push((p, Some(m))),
        Err(e) => skipped.push(("file → TCP peer over veth (other netns)".into(), e)),
    }

    let mut summary = Vec::new();
    for (pair, _mount) in &pairs {
        let samples = measure(pair, a.size, a.rounds);
        println!("### {}\n", pair.name);
        println!("| method | GiB/s min | median | max | CPU s/GiB | method reported |");
        println!("|---|---|---|---|---|---|");
        for (m, s) in pair.methods.iter().zip(&samples) {
            let mut g = s.gibps.clone();
            g.sort_by(|a, b| a.total_cmp(b));
            println!(
                "| {} | {:.2} | {:.2} | {:.2} | {:.3} | {} |",
                label(*m),
                g[0],
                median(&g),
                g[g.len() - 1],
                median(&s.cpu),
                s.ran.map_or("-".into(), |r| r.name().to_string())
            );
        }
        println!();
        let auto = &samples[0];
        let (best_i, best) = samples
            .iter()
            .enumerate()
            .skip(1)
            .max_by(|x, y| median(&x.1.gibps).total_cmp(&median(&y.1.gibps)))
            .expect("a forced method");
        // Auto against the best in the same round (they ran within a second of each other), the
        // median of those ratios: drift between rounds hits both sides alike.
        let per_round = |f: fn(&Samples) -> &Vec<f64>| {
            let mut r: Vec<f64> = f(auto).iter().zip(f(best)).map(|(a, b)| a / b).collect();
            r.sort_by(|a, b| a.total_cmp(b));
            r
        };
        let speed = per_round(|s| &s.gibps);
        summary.push((
            pair.name.clone(),
            auto.ran,
            median(&auto.gibps),
            label(pair.methods[best_i]),
            median(&best.gibps),
            (median(&speed), speed[0], speed[speed.len() - 1]),
            median(&per_round(|s| &s.cpu)),
        ));
    }
    println!("### Auto against the best forced method\n");
    println!("Ratios are the median (and range) of the rounds' ratios: auto against the method with the best median throughput, in the same round.\n");
    println!("| pair | auto ran | auto GiB/s | best forced | its GiB/s | auto ÷ best | auto CPU ÷ best's |");
    println!("|---|---|---|---|---|---|---|");
    for (name, ran, ag, best, bg, (r, lo, hi), cpu) in summary {
        println!(
            "| {name} | {} | {ag:.2} | {best} | {bg:.2} | **{r:.2}×** ({lo:.2}–{hi:.2}) | {cpu:.2}× |",
            ran.map_or("-".into(), |r| r.name().to_string()),
        );
    }
    for (name, why) in skipped {
        println!("\n{name}: skipped: {why}");
    }
    drop(pairs);
    fs::remove_dir_all(&base).ok();
}
