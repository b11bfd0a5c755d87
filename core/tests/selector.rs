//! The epoll selector: modes, timeouts, waker, closing, races.

mod support;

use std::io::{Read, Write};
use std::os::fd::AsFd;
use std::os::unix::net::UnixStream;
use std::sync::Arc;
use std::time::{Duration, Instant};

use support::{closed_fd, file_with, set_nonblocking};
use zcopy::{ErrorKind, Events, Interest, Mode, Selector, Token};

fn tokens(events: &Events) -> Vec<u64> {
    let mut v: Vec<u64> = events.iter().map(|e| e.token().0).collect();
    v.sort();
    v
}

#[test]
fn level_triggered_reports_until_drained() {
    let sel = Selector::new().unwrap();
    let (mut a, mut b) = UnixStream::pair().unwrap();
    sel.register(b.as_fd(), Token(7), Interest::READABLE, Mode::LEVEL)
        .unwrap();
    let mut ev = Events::with_capacity(8);
    assert_eq!(sel.select(&mut ev, Some(Duration::ZERO)).unwrap(), 0);
    a.write_all(b"x").unwrap();
    for _ in 0..2 {
        assert_eq!(sel.select(&mut ev, Some(Duration::from_secs(1))).unwrap(), 1);
        let e = ev.iter().next().unwrap();
        assert_eq!(e.token(), Token(7));
        assert!(e.is_readable() && !e.is_writable());
    }
    b.read_exact(&mut [0u8; 1]).unwrap();
    assert_eq!(sel.select(&mut ev, Some(Duration::ZERO)).unwrap(), 0);
}

#[test]
fn edge_triggered_reports_changes_only() {
    let sel = Selector::new().unwrap();
    let (mut a, b) = UnixStream::pair().unwrap();
    set_nonblocking(&b);
    sel.register(b.as_fd(), Token(1), Interest::READABLE, Mode::EDGE)
        .unwrap();
    let mut ev = Events::with_capacity(8);
    a.write_all(b"x").unwrap();
    assert_eq!(sel.select(&mut ev, Some(Duration::from_secs(1))).unwrap(), 1);
    assert_eq!(
        sel.select(&mut ev, Some(Duration::ZERO)).unwrap(),
        0,
        "no new edge"
    );
    a.write_all(b"y").unwrap();
    assert_eq!(sel.select(&mut ev, Some(Duration::from_secs(1))).unwrap(), 1);
}

#[test]
fn one_shot_needs_rearming() {
    let sel = Selector::new().unwrap();
    let (mut a, b) = UnixStream::pair().unwrap();
    sel.register(b.as_fd(), Token(1), Interest::READABLE, Mode::ONESHOT)
        .unwrap();
    let mut ev = Events::with_capacity(8);
    a.write_all(b"x").unwrap();
    assert_eq!(sel.select(&mut ev, Some(Duration::from_secs(1))).unwrap(), 1);
    assert_eq!(sel.select(&mut ev, Some(Duration::ZERO)).unwrap(), 0, "disarmed");
    sel.reregister(b.as_fd(), Token(2), Interest::READABLE, Mode::ONESHOT)
        .unwrap();
    assert_eq!(sel.select(&mut ev, Some(Duration::ZERO)).unwrap(), 1);
    assert_eq!(ev.iter().next().unwrap().token(), Token(2));
}

#[test]
fn exclusive_is_registration_only() {
    let sel = Selector::new().unwrap();
    let (_a, b) = UnixStream::pair().unwrap();
    sel.register(b.as_fd(), Token(1), Interest::READABLE, Mode::EXCLUSIVE)
        .unwrap();
    let e = sel
        .reregister(b.as_fd(), Token(1), Interest::READABLE, Mode::EXCLUSIVE)
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument);
}

#[test]
fn writable_and_closed_peers() {
    let sel = Selector::new().unwrap();
    let (a, b) = UnixStream::pair().unwrap();
    sel.register(
        a.as_fd(),
        Token(1),
        Interest::READABLE | Interest::WRITABLE,
        Mode::LEVEL,
    )
    .unwrap();
    let mut ev = Events::with_capacity(8);
    sel.select(&mut ev, Some(Duration::from_secs(1))).unwrap();
    let e = ev.iter().next().unwrap();
    assert!(e.is_writable() && !e.is_readable());
    drop(b);
    sel.select(&mut ev, Some(Duration::from_secs(1))).unwrap();
    let e = ev.iter().next().unwrap();
    assert!(e.is_readable() && e.is_read_closed(), "{:#x}", e.raw());
}

#[test]
fn timeouts_are_rounded_up_not_down() {
    let sel = Selector::new().unwrap();
    let mut ev = Events::with_capacity(1);
    let t = Instant::now();
    sel.select(&mut ev, Some(Duration::from_micros(300))).unwrap();
    assert!(t.elapsed() >= Duration::from_micros(300), "{:?}", t.elapsed());
    let t = Instant::now();
    sel.select(&mut ev, Some(Duration::from_millis(30))).unwrap();
    assert!(t.elapsed() >= Duration::from_millis(30));
}

#[test]
fn wake_interrupts_a_select_on_another_thread() {
    let sel = Arc::new(Selector::new().unwrap());
    let s2 = sel.clone();
    let t = Instant::now();
    let h = std::thread::spawn(move || {
        let mut ev = Events::with_capacity(4);
        s2.select(&mut ev, Some(Duration::from_secs(10))).unwrap()
    });
    std::thread::sleep(Duration::from_millis(50));
    sel.wake().unwrap();
    assert_eq!(h.join().unwrap(), 0, "a wake-up is not an event");
    assert!(t.elapsed() < Duration::from_secs(5));
    // A wake before select makes the next select return at once; wakes coalesce.
    for _ in 0..1000 {
        sel.wake().unwrap();
    }
    let mut ev = Events::with_capacity(4);
    let t = Instant::now();
    assert_eq!(sel.select(&mut ev, Some(Duration::from_secs(10))).unwrap(), 0);
    assert!(t.elapsed() < Duration::from_secs(5));
    assert_eq!(sel.select(&mut ev, Some(Duration::ZERO)).unwrap(), 0);
}

#[test]
fn close_ends_a_running_select_and_fails_later_calls() {
    let sel = Arc::new(Selector::new().unwrap());
    let s2 = sel.clone();
    let h = std::thread::spawn(move || {
        let mut ev = Events::with_capacity(4);
        s2.select(&mut ev, None)
    });
    std::thread::sleep(Duration::from_millis(50));
    sel.close();
    sel.close();
    assert_eq!(h.join().unwrap().unwrap(), 0);
    let mut ev = Events::with_capacity(4);
    assert_eq!(sel.select(&mut ev, None).unwrap_err().kind(), ErrorKind::Closed);
    let (_a, b) = UnixStream::pair().unwrap();
    assert_eq!(
        sel.register(b.as_fd(), Token(1), Interest::READABLE, Mode::LEVEL)
            .unwrap_err()
            .kind(),
        ErrorKind::Closed
    );
    assert!(!sel.is_open());
}

#[test]
fn registration_errors() {
    let sel = Selector::new().unwrap();
    let (_a, b) = UnixStream::pair().unwrap();
    assert_eq!(
        sel.register(closed_fd(), Token(1), Interest::READABLE, Mode::LEVEL)
            .unwrap_err()
            .kind(),
        ErrorKind::Closed
    );
    let e = sel
        .register(b.as_fd(), Token::WAKER, Interest::READABLE, Mode::LEVEL)
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument);
    sel.register(b.as_fd(), Token(1), Interest::READABLE, Mode::LEVEL)
        .unwrap();
    let e = sel
        .register(b.as_fd(), Token(1), Interest::READABLE, Mode::LEVEL)
        .unwrap_err();
    assert_eq!(e.raw_os_error(), Some(libc::EEXIST));
    sel.deregister(b.as_fd()).unwrap();
    assert_eq!(
        sel.deregister(b.as_fd()).unwrap_err().raw_os_error(),
        Some(libc::ENOENT)
    );
    let (_t, f) = file_with(b"x");
    assert_eq!(
        sel.register(f.as_fd(), Token(1), Interest::READABLE, Mode::LEVEL)
            .unwrap_err()
            .raw_os_error(),
        Some(libc::EPERM)
    );
    assert!(Interest::from_bits(8).is_err());
    assert!(Mode::from_bits(8).is_err());
}

#[test]
fn many_registrations_few_ready() {
    let sel = Selector::new().unwrap();
    let pairs: Vec<_> = (0..500).map(|_| UnixStream::pair().unwrap()).collect();
    for (i, (_, b)) in pairs.iter().enumerate() {
        sel.register(b.as_fd(), Token(i as u64), Interest::READABLE, Mode::LEVEL)
            .unwrap();
    }
    for i in [3usize, 100, 499] {
        (&pairs[i].0).write_all(b"!").unwrap();
    }
    let mut ev = Events::with_capacity(600);
    assert_eq!(sel.select(&mut ev, Some(Duration::from_secs(1))).unwrap(), 3);
    assert_eq!(tokens(&ev), vec![3, 100, 499]);
}

#[test]
fn select_races_with_register_deregister_wake_and_close() {
    let sel = Arc::new(Selector::new().unwrap());
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let selector_thread = {
        let sel = sel.clone();
        std::thread::spawn(move || {
            let mut ev = Events::with_capacity(64);
            let mut rounds = 0;
            while sel.select(&mut ev, Some(Duration::from_millis(1))).is_ok() {
                rounds += 1;
            }
            rounds
        })
    };
    let workers: Vec<_> = (0..3)
        .map(|w| {
            let sel = sel.clone();
            let stop = stop.clone();
            std::thread::spawn(move || {
                let mut n = 0u64;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let (mut a, b) = UnixStream::pair().unwrap();
                    let token = Token(w * 1_000_000 + n);
                    if sel
                        .register(b.as_fd(), token, Interest::READABLE, Mode::LEVEL)
                        .is_err()
                    {
                        break;
                    }
                    let _ = a.write_all(b"x");
                    let _ = sel.wake();
                    let _ = sel.deregister(b.as_fd());
                    n += 1;
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    sel.close();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for w in workers {
        w.join().unwrap();
    }
    assert!(selector_thread.join().unwrap() > 0);
}

extern "C" fn ignore_signal(_: libc::c_int) {}

#[test]
fn select_once_reports_signals_and_wake_ups() {
    // SAFETY: installing a no-op handler (without SA_RESTART) for a signal no one else uses here.
    unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = ignore_signal as *const () as libc::sighandler_t;
        libc::sigaction(libc::SIGUSR2, &sa, std::ptr::null_mut());
    }
    let sel = Arc::new(Selector::new().unwrap());
    let s2 = sel.clone();
    let (tx, rx) = std::sync::mpsc::channel();
    let h = std::thread::spawn(move || {
        // SAFETY: pthread_self has no preconditions.
        tx.send(unsafe { libc::pthread_self() }).unwrap();
        let mut ev = Events::with_capacity(4);
        s2.select_once(&mut ev, Some(Duration::from_secs(20))).unwrap()
    });
    let tid = rx.recv().unwrap();
    std::thread::sleep(Duration::from_millis(100));
    // SAFETY: the thread is alive (it is blocked in select_once until the signal comes).
    unsafe { libc::pthread_kill(tid, libc::SIGUSR2) };
    let got = h.join().unwrap();
    assert!(got.interrupted && !got.woken && got.events == 0, "{got:?}");

    sel.wake().unwrap();
    let mut ev = Events::with_capacity(4);
    let got = sel.select_once(&mut ev, Some(Duration::from_secs(5))).unwrap();
    assert!(got.woken && !got.interrupted, "{got:?}");
    let got = sel.select_once(&mut ev, Some(Duration::ZERO)).unwrap();
    assert!(!got.woken, "a wake-up is consumed once");
}
