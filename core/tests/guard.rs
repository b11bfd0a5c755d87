//! The truncation guard and file leases.

mod support;

use std::fs::File;
use std::os::fd::AsFd;
use std::time::Duration;

use support::{file_with, pattern};
use zcopy::{ErrorKind, FileLease, MapMode, MapOptions};

/// Without the guard, this process would die of SIGBUS at the read below.
#[test]
fn a_truncated_file_reads_zeros_and_the_region_reports_it() {
    zcopy::guard::install().unwrap();
    zcopy::guard::install().unwrap(); // idempotent
    assert!(zcopy::guard::is_installed());
    let data = pattern(4 * 4096);
    let (_tmp, f) = file_with(&data);
    let r = MapOptions::new(MapMode::ReadOnly).map(f.as_fd()).unwrap();
    f.set_len(4096).unwrap();
    // A raw read of a page past the new end, as a memoryview or numpy would do it.
    // SAFETY: the address lies in the region; the guard absorbs the SIGBUS.
    let byte = unsafe { r.as_ptr().add(2 * 4096 + 5).read_volatile() };
    assert_eq!(byte, 0);
    assert!(r.is_truncated());
    assert_eq!(r.force().unwrap_err().kind(), ErrorKind::Truncated);
    let e = r.read_at(0, &mut [0u8; 4]).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Truncated);
    assert!(e.to_string().contains("truncated"), "{e}");
    // The page before the new end still shows the file.
    // SAFETY: inside the region and inside the file.
    assert_eq!(unsafe { r.as_ptr().add(100).read_volatile() }, data[100]);
}

#[test]
fn writes_past_a_truncated_end_do_not_kill_either() {
    zcopy::guard::install().unwrap();
    let (_tmp, f) = file_with(&pattern(3 * 4096));
    let r = MapOptions::new(MapMode::ReadWrite).map(f.as_fd()).unwrap();
    f.set_len(0).unwrap();
    // SAFETY: the address lies in the region; the guard absorbs the SIGBUS.
    unsafe { r.as_mut_ptr().add(4096).write_volatile(1) };
    assert!(r.is_truncated());
    assert_eq!(
        std::fs::metadata(_tmp.path()).unwrap().len(),
        0,
        "nothing reached the file"
    );
}

/// A SIGBUS outside zcopy's regions still ends the process the way it would have (checked in a
/// child process, which must die of SIGBUS, not hang or exit normally).
#[test]
fn faults_outside_zcopy_regions_keep_their_default_action() {
    if std::env::var_os("ZCOPY_GUARD_CHILD").is_some() {
        zcopy::guard::install().unwrap();
        let (_tmp, f) = file_with(&pattern(2 * 4096));
        // SAFETY: only read through below, deliberately past the end.
        let map = unsafe { memmap_outside_zcopy(&f) };
        f.set_len(0).unwrap();
        // SAFETY: deliberately touching a page past the end of a mapping zcopy does not own.
        let _ = unsafe { map.add(4096).read_volatile() };
        std::process::exit(0); // must not be reached
    }
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "faults_outside_zcopy_regions_keep_their_default_action",
        ])
        .env("ZCOPY_GUARD_CHILD", "1")
        .output()
        .unwrap();
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(out.status.signal(), Some(libc::SIGBUS), "{:?}", out.status);
}

/// Maps `f` with a plain mmap that zcopy knows nothing about.
///
/// # Safety
///
/// The mapping is leaked; the caller only reads through the pointer.
unsafe fn memmap_outside_zcopy(f: &File) -> *const u8 {
    use std::os::fd::AsRawFd;
    // SAFETY: a fresh shared read-only mapping of an open file.
    unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            2 * 4096,
            libc::PROT_READ,
            libc::MAP_SHARED,
            f.as_raw_fd(),
            0,
        ) as *const u8
    }
}

#[test]
fn a_lease_holder_is_told_before_truncation() {
    let (tmp, f) = file_with(&pattern(4096));
    drop(f);
    // Close every writable descriptor: a read lease needs the file to have no writer.
    let tmp = tmp.into_temp_path();
    let ro = File::open(&tmp).unwrap();
    // A child that another test of this process forks holds copies of every descriptor, the
    // writable one included, until it execs: the lease is refused (EAGAIN) in that window.
    let mut attempt = FileLease::read(ro.as_fd());
    for _ in 0..100 {
        match &attempt {
            Err(e) if e.raw_os_error() == Some(libc::EAGAIN) => {
                std::thread::sleep(Duration::from_millis(10));
                attempt = FileLease::read(ro.as_fd());
            }
            _ => break,
        }
    }
    let lease = match attempt {
        Ok(lease) => lease,
        Err(e) if e.raw_os_error() == Some(libc::EAGAIN) => panic!("another writer holds the file: {e}"),
        Err(e) => {
            // Leases are not available everywhere (overlay and network file systems).
            eprintln!("skipped: leases unsupported here: {e}");
            return;
        }
    };
    assert!(!lease.is_breaking().unwrap());
    let path = tmp.to_path_buf();
    let truncator = std::thread::spawn(move || {
        // Blocks until the lease is released (or lease-break-time passes).
        File::options().write(true).truncate(true).open(path).unwrap();
    });
    let mut told = false;
    for _ in 0..200 {
        if lease.is_breaking().unwrap() {
            told = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(told, "the lease break was not reported");
    assert!(
        !truncator.is_finished(),
        "the truncation must wait for the holder"
    );
    lease.release().unwrap();
    truncator.join().unwrap();
    assert_eq!(std::fs::metadata(&tmp).unwrap().len(), 0);
}

extern "C" fn exit_42(_: libc::c_int) {
    // SAFETY: _exit is async-signal-safe.
    unsafe { libc::_exit(42) };
}

/// A handler installed after the guard (as Python's faulthandler does) replaces it;
/// `ensure_installed` puts the guard back in front and chains to the newcomer.
#[test]
fn ensure_installed_puts_the_guard_back_and_chains_to_the_newcomer() {
    if std::env::var_os("ZCOPY_ENSURE_CHILD").is_some() {
        zcopy::guard::install().unwrap();
        assert!(
            !zcopy::guard::ensure_installed().unwrap(),
            "nothing replaced it yet"
        );
        // SAFETY: installing a plain handler for SIGBUS in this child process.
        unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = exit_42 as *const () as libc::sighandler_t;
            libc::sigaction(libc::SIGBUS, &sa, std::ptr::null_mut());
        }
        assert!(zcopy::guard::ensure_installed().unwrap());
        let (_tmp, f) = file_with(&pattern(2 * 4096));
        let r = MapOptions::new(MapMode::ReadOnly).map(f.as_fd()).unwrap();
        f.set_len(0).unwrap();
        // SAFETY: inside the region; the guard absorbs the fault.
        assert_eq!(unsafe { r.as_ptr().add(4096).read_volatile() }, 0);
        // A fault outside zcopy goes to the newcomer, which exits with 42.
        // SAFETY: deliberately touching a page past the end of a foreign mapping.
        let other = unsafe { memmap_outside_zcopy(&f) };
        // SAFETY: as above.
        let _ = unsafe { other.add(4096).read_volatile() };
        std::process::exit(0);
    }
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "ensure_installed_puts_the_guard_back_and_chains_to_the_newcomer",
        ])
        .env("ZCOPY_ENSURE_CHILD", "1")
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(42),
        "{:?} {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}

static mut SAVED: std::mem::MaybeUninit<libc::sigaction> = std::mem::MaybeUninit::uninit();

/// Behaves like Python's faulthandler: on a fatal signal, puts the handler it replaced back and
/// re-raises (with SA_NODEFER, so the re-raise runs at once).
extern "C" fn restore_and_reraise(sig: libc::c_int) {
    // SAFETY: SAVED was written before this handler was installed; sigaction/raise are
    // async-signal-safe.
    unsafe {
        libc::sigaction(sig, std::ptr::addr_of!(SAVED).cast(), std::ptr::null_mut());
        libc::raise(sig);
    }
}

/// The guard chained to a faulthandler-like handler that restores the guard and re-raises: the
/// process must die of SIGBUS, not bounce the signal between the two for ever.
#[test]
fn a_foreign_fault_cannot_loop_between_the_guard_and_a_reraising_handler() {
    if std::env::var_os("ZCOPY_LOOP_CHILD").is_some() {
        zcopy::guard::install().unwrap();
        // SAFETY: saving the guard's disposition and installing the faulthandler-like one.
        unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = restore_and_reraise as *const () as libc::sighandler_t;
            sa.sa_flags = libc::SA_NODEFER;
            libc::sigaction(libc::SIGBUS, &sa, std::ptr::addr_of_mut!(SAVED).cast());
        }
        assert!(zcopy::guard::ensure_installed().unwrap());
        let (_tmp, f) = file_with(&pattern(2 * 4096));
        // SAFETY: deliberately touching a page past the end of a foreign mapping.
        let other = unsafe { memmap_outside_zcopy(&f) };
        f.set_len(0).unwrap();
        // SAFETY: as above.
        let _ = unsafe { other.add(4096).read_volatile() };
        std::process::exit(0);
    }
    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "a_foreign_fault_cannot_loop_between_the_guard_and_a_reraising_handler",
        ])
        .env("ZCOPY_LOOP_CHILD", "1")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if std::time::Instant::now() > deadline {
            child.kill().unwrap();
            panic!("the child looped instead of dying");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(status.signal(), Some(libc::SIGBUS), "{status:?}");
}
