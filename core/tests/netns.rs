//! Transfers and the selector between two hosts: two network namespaces made by this test,
//! joined by a veth pair, each with its own address. Needs root and iproute2; skipped (with the
//! reason printed) where the machine does not allow creating namespaces.
//!
//! The test binary re-executes itself inside each namespace (`ip netns exec`) as the server and
//! the client; the parent only builds the network and checks both children.

mod support;

use std::io::{Read, Seek, SeekFrom};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsFd;
use std::process::Command;
use std::time::{Duration, Instant};

use support::pattern;
use zcopy::{Events, Interest, Mode, Selector, Token, TransferMethod};

const SERVER: &str = "10.213.0.2";
const CLIENT: &str = "10.213.0.1";
const PORT: u16 = 7713;
const SIZE: usize = 8 << 20;

fn ip(args: &[&str]) -> Result<(), String> {
    let out = Command::new("ip")
        .args(args)
        .output()
        .map_err(|e| format!("ip: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// The two namespaces and the veth pair; removed on drop.
struct Net {
    a: String,
    b: String,
}

impl Net {
    fn create() -> Result<Net, String> {
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            return Err("not root: creating network namespaces needs CAP_SYS_ADMIN".into());
        }
        let id = std::process::id();
        let net = Net {
            a: format!("zc-a-{id}"),
            b: format!("zc-b-{id}"),
        };
        let (va, vb) = (format!("zca{id}"), format!("zcb{id}"));
        ip(&["netns", "add", &net.a])?;
        ip(&["netns", "add", &net.b])?;
        ip(&["link", "add", &va, "type", "veth", "peer", "name", &vb])?;
        ip(&["link", "set", &va, "netns", &net.a])?;
        ip(&["link", "set", &vb, "netns", &net.b])?;
        for (ns, dev, addr) in [(&net.a, &va, CLIENT), (&net.b, &vb, SERVER)] {
            ip(&["-n", ns, "addr", "add", &format!("{addr}/30"), "dev", dev])?;
            ip(&["-n", ns, "link", "set", dev, "up"])?;
            ip(&["-n", ns, "link", "set", "lo", "up"])?;
        }
        Ok(net)
    }
}

impl Drop for Net {
    fn drop(&mut self) {
        // Deleting a namespace deletes the veth end inside it, and with it the pair.
        let _ = ip(&["netns", "del", &self.a]);
        let _ = ip(&["netns", "del", &self.b]);
    }
}

fn child(ns: &str, role: &str) -> std::process::Child {
    Command::new("ip")
        .args(["netns", "exec", ns])
        .arg(std::env::current_exe().unwrap())
        .args(["--exact", "two_hosts_transfer_and_select", "--nocapture"])
        .env("ZCOPY_NETNS_ROLE", role)
        .spawn()
        .unwrap()
}

#[test]
fn two_hosts_transfer_and_select() {
    match std::env::var("ZCOPY_NETNS_ROLE").as_deref() {
        Ok("server") => return server(),
        Ok("client") => return client(),
        _ => {}
    }
    let net = match Net::create() {
        Ok(net) => net,
        Err(why) => {
            eprintln!("SKIPPED two_hosts_transfer_and_select: {why}");
            return;
        }
    };
    let mut server = child(&net.b, "server");
    let mut client = child(&net.a, "client");
    let c = client.wait().unwrap();
    let s = server.wait().unwrap();
    assert!(c.success(), "client: {c:?}");
    assert!(s.success(), "server: {s:?}");
}

/// Receives SIZE bytes with `transfer_from` (splice), waiting with the selector, then sends them
/// back with `transfer_to` (sendfile).
fn server() {
    let listener = TcpListener::bind((SERVER, PORT)).unwrap();
    let (sock, peer) = listener.accept().unwrap();
    assert_eq!(peer.ip().to_string(), CLIENT, "the client is on the other host");
    sock.set_nonblocking(true).unwrap();
    let selector = Selector::new().unwrap();
    selector
        .register(sock.as_fd(), Token(1), Interest::READABLE, Mode::EDGE)
        .unwrap();
    let store = tempfile::tempfile().unwrap();
    let mut events = Events::with_capacity(4);
    let mut got = 0u64;
    let deadline = Instant::now() + Duration::from_secs(30);
    while got < SIZE as u64 {
        assert!(Instant::now() < deadline, "server timed out at {got} bytes");
        selector
            .select(&mut events, Some(Duration::from_secs(5)))
            .unwrap();
        // Edge-triggered: drain until the socket would block.
        loop {
            let t = zcopy::transfer_from(store.as_fd(), sock.as_fd(), got, SIZE as u64 - got).unwrap();
            got += t.bytes;
            if t.bytes > 0 {
                assert_eq!(t.method, TransferMethod::Splice);
            }
            if t.would_block || t.bytes == 0 || got == SIZE as u64 {
                break;
            }
        }
    }
    sock.set_nonblocking(false).unwrap();
    let t = zcopy::transfer_all(store.as_fd(), 0, SIZE as u64, sock.as_fd()).unwrap();
    assert_eq!(t.bytes, SIZE as u64);
    assert_eq!(t.method, TransferMethod::Sendfile);
    sock.shutdown(Shutdown::Write).unwrap();
}

/// Sends SIZE bytes of the pattern with `transfer_all` and checks what comes back.
fn client() {
    let data = pattern(SIZE);
    let (_tmp, src) = support::file_with(&data);
    let addr: SocketAddr = format!("{SERVER}:{PORT}").parse().unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let sock = loop {
        match TcpStream::connect_timeout(&addr, Duration::from_secs(1)) {
            Ok(s) => break s,
            Err(e) if Instant::now() < deadline => {
                let _ = e;
                std::thread::sleep(Duration::from_millis(50));
            }
            Err(e) => panic!("connect: {e}"),
        }
    };
    let t = zcopy::transfer_all(src.as_fd(), 0, SIZE as u64, sock.as_fd()).unwrap();
    assert_eq!((t.bytes, t.method), (SIZE as u64, TransferMethod::Sendfile));
    let mut back = tempfile::tempfile().unwrap();
    let mut got = 0u64;
    loop {
        let t = zcopy::transfer_from(back.as_fd(), sock.as_fd(), got, u64::MAX).unwrap();
        if t.bytes == 0 {
            break;
        }
        got += t.bytes;
    }
    assert_eq!(got, SIZE as u64);
    let mut echoed = Vec::new();
    back.seek(SeekFrom::Start(0)).unwrap();
    back.read_to_end(&mut echoed).unwrap();
    assert!(echoed == data, "the echo differs");
}
