//! Mapped regions: modes, ranges, growth, force/load/residency/advice/lock, close, memfd.

mod support;

use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::fd::{AsFd, FromRawFd};

use support::{closed_fd, fd_open_on, file_with, maps_mention, pattern};
use zcopy::{Advice, ErrorKind, Grow, HugePages, MapMode, MapOptions, MappedRegion, UncheckedAdvice};

fn read_file(f: &mut File) -> Vec<u8> {
    let mut v = Vec::new();
    f.seek(SeekFrom::Start(0)).unwrap();
    f.read_to_end(&mut v).unwrap();
    v
}

#[test]
fn read_only_maps_any_byte_range() {
    let data = pattern(20_000);
    let (_tmp, f) = file_with(&data);
    for (pos, size) in [
        (0u64, 20_000u64),
        (1, 100),
        (4095, 2),
        (4096, 4096),
        (12_345, 7655),
        (19_999, 1),
    ] {
        let r = MapOptions::new(MapMode::ReadOnly)
            .position(pos)
            .size(size)
            .map(f.as_fd())
            .unwrap();
        let mut buf = vec![0u8; size as usize];
        r.read_at(0, &mut buf).unwrap();
        assert_eq!(
            buf,
            &data[pos as usize..(pos + size) as usize],
            "pos {pos} size {size}"
        );
        assert_eq!(r.len() as u64, size);
        assert_eq!(r.position(), pos);
        assert_eq!(r.mode(), MapMode::ReadOnly);
    }
}

#[test]
fn whole_file_by_default_and_empty_region_for_size_zero() {
    let data = pattern(5000);
    let (_tmp, f) = file_with(&data);
    let r = MapOptions::new(MapMode::ReadOnly)
        .position(1000)
        .map(f.as_fd())
        .unwrap();
    assert_eq!(r.len(), 4000);
    let empty = MapOptions::new(MapMode::ReadOnly)
        .position(5000)
        .size(0)
        .map(f.as_fd())
        .unwrap();
    assert!(empty.is_empty());
    assert!(empty.is_loaded().unwrap());
    assert!(empty.residency().unwrap().is_empty());
    empty.force().unwrap();
    empty.load().unwrap();
    let mut nothing = [0u8; 0];
    empty.read_at(0, &mut nothing).unwrap();
    assert_eq!(
        empty.read_at(0, &mut [0u8; 1]).unwrap_err().kind(),
        ErrorKind::OutOfRange
    );
}

#[test]
fn read_write_writes_reach_the_file_after_force() {
    let data = pattern(3 * 4096);
    let (_tmp, mut f) = file_with(&data);
    let r = MapOptions::new(MapMode::ReadWrite)
        .position(100)
        .size(8000)
        .map(f.as_fd())
        .unwrap();
    r.write_at(10, b"zcopy was here").unwrap();
    r.force_range(10, 14).unwrap();
    r.force().unwrap();
    r.force_async().unwrap();
    let on_disk = read_file(&mut f);
    assert_eq!(&on_disk[110..124], b"zcopy was here");
    assert_eq!(&on_disk[..110], &data[..110]);
}

#[test]
fn private_writes_never_reach_the_file() {
    let data = pattern(8192);
    let (tmp, _) = file_with(&data);
    let ro = File::open(tmp.path()).unwrap();
    let r = MapOptions::new(MapMode::Private).map(ro.as_fd()).unwrap();
    r.write_at(0, b"private").unwrap();
    let mut buf = [0u8; 7];
    r.read_at(0, &mut buf).unwrap();
    assert_eq!(&buf, b"private");
    r.force().unwrap();
    assert_eq!(std::fs::read(tmp.path()).unwrap(), data);
}

#[test]
fn read_only_region_refuses_writes() {
    let (_tmp, f) = file_with(&pattern(100));
    let r = MapOptions::new(MapMode::ReadOnly).map(f.as_fd()).unwrap();
    assert_eq!(r.write_at(0, b"x").unwrap_err().kind(), ErrorKind::NotWritable);
    assert_eq!(
        r.advise(Advice::PopulateWrite).unwrap_err().kind(),
        ErrorKind::NotWritable
    );
}

#[test]
fn read_write_past_the_end_grows_the_file() {
    let (tmp, f) = file_with(b"short");
    let r = MapOptions::new(MapMode::ReadWrite)
        .position(10_000)
        .size(100)
        .map(f.as_fd())
        .unwrap();
    assert_eq!(std::fs::metadata(tmp.path()).unwrap().len(), 10_100);
    r.write_at(99, b"!").unwrap();
    r.force().unwrap();
    let bytes = std::fs::read(tmp.path()).unwrap();
    assert_eq!(bytes[10_099], b'!');
    assert_eq!(&bytes[..5], b"short");
    assert!(bytes[5..10_099].iter().all(|&b| b == 0));
}

#[test]
fn read_only_past_the_end_is_an_error_that_says_so() {
    let (tmp, f) = file_with(b"short");
    let err = MapOptions::new(MapMode::ReadOnly)
        .size(100)
        .map(f.as_fd())
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::PastEndOfFile);
    assert!(err.to_string().contains("past the end of the file"), "{err}");
    assert_eq!(std::fs::metadata(tmp.path()).unwrap().len(), 5);
    // A position past the end with the default size is the same error.
    let err = MapOptions::new(MapMode::ReadOnly)
        .position(6)
        .map(f.as_fd())
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::PastEndOfFile);
    // The JDK's rule grows for any mode when the descriptor is writable...
    MapOptions::new(MapMode::ReadOnly)
        .size(100)
        .grow(Grow::IfDescriptorWritable)
        .map(f.as_fd())
        .unwrap();
    assert_eq!(std::fs::metadata(tmp.path()).unwrap().len(), 100);
    // ...but a read-only descriptor cannot be grown.
    let ro = File::open(tmp.path()).unwrap();
    let err = MapOptions::new(MapMode::ReadOnly)
        .size(200)
        .grow(Grow::IfDescriptorWritable)
        .map(ro.as_fd())
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::PastEndOfFile);
    assert!(err.to_string().contains("not open for writing"), "{err}");
}

#[test]
fn bad_arguments_and_descriptors_are_classified_in_jdk_order() {
    let (tmp, f) = file_with(&pattern(100));
    let map = |o: &mut MapOptions, fd| o.map(fd).unwrap_err().kind();
    assert_eq!(
        map(MapOptions::new(MapMode::ReadOnly).position_signed(-1), f.as_fd()),
        ErrorKind::InvalidArgument
    );
    assert_eq!(
        map(MapOptions::new(MapMode::ReadOnly).size_signed(-1), f.as_fd()),
        ErrorKind::InvalidArgument
    );
    assert_eq!(
        map(
            MapOptions::new(MapMode::ReadOnly)
                .position(i64::MAX as u64)
                .size(1),
            f.as_fd()
        ),
        ErrorKind::InvalidArgument
    );
    assert_eq!(
        map(MapOptions::new(MapMode::ReadOnly).position(u64::MAX), f.as_fd()),
        ErrorKind::InvalidArgument
    );
    // Closed descriptor wins over bad numbers.
    assert_eq!(
        map(
            MapOptions::new(MapMode::ReadOnly).position_signed(-1),
            closed_fd()
        ),
        ErrorKind::Closed
    );
    let ro = File::open(tmp.path()).unwrap();
    assert_eq!(
        map(&mut MapOptions::new(MapMode::ReadWrite), ro.as_fd()),
        ErrorKind::NotWritable
    );
    assert!(MapOptions::new(MapMode::Private).map(ro.as_fd()).is_ok());
    assert_eq!(
        map(
            MapOptions::new(MapMode::Private).private_needs_write(true),
            ro.as_fd()
        ),
        ErrorKind::NotWritable
    );
    let wo = File::options().write(true).open(tmp.path()).unwrap();
    assert_eq!(
        map(&mut MapOptions::new(MapMode::ReadOnly), wo.as_fd()),
        ErrorKind::NotReadable
    );
    // NotWritable is checked before NotReadable, as FileChannel.map does.
    let dir = File::open("/").unwrap();
    let e = MapOptions::new(MapMode::ReadOnly).map(dir.as_fd()).unwrap_err();
    assert_eq!(e.raw_os_error(), Some(libc::ENODEV));
    let (r, _w) = support::pipe();
    assert_eq!(
        MapOptions::new(MapMode::ReadOnly)
            .map(r.as_fd())
            .unwrap_err()
            .raw_os_error(),
        Some(libc::ENODEV)
    );
}

#[test]
fn ranges_are_checked_without_overflow() {
    let (_tmp, f) = file_with(&pattern(10_000));
    let r = MapOptions::new(MapMode::ReadWrite).map(f.as_fd()).unwrap();
    for (off, len) in [
        (10_001u64, 0u64),
        (0, 10_001),
        (u64::MAX, 1),
        (1, u64::MAX),
        (9_999, 2),
    ] {
        assert_eq!(
            r.force_range(off, len).unwrap_err().kind(),
            ErrorKind::OutOfRange,
            "{off} {len}"
        );
        assert_eq!(
            r.advise_range(Advice::WillNeed, off, len).unwrap_err().kind(),
            ErrorKind::OutOfRange
        );
        assert_eq!(
            r.prefault_checked(off, len).unwrap_err().kind(),
            ErrorKind::OutOfRange
        );
    }
    r.force_range(10_000, 0).unwrap();
    r.force_range(9_999, 1).unwrap();
}

#[test]
fn load_makes_every_page_resident() {
    let data = pattern(64 * 4096 + 17);
    let (_tmp, f) = file_with(&data);
    f.sync_all().unwrap();
    let r = MapOptions::new(MapMode::ReadOnly)
        .position(3)
        .map(f.as_fd())
        .unwrap();
    // Drop the pages from our mapping (the page cache may still hold them; mincore reports
    // what this mapping sees).
    // SAFETY: no slice of the region is alive.
    unsafe { r.advise_unchecked(UncheckedAdvice::DontNeed, 0, r.len() as u64) }.unwrap();
    r.load().unwrap();
    let pages = r.residency().unwrap();
    assert_eq!(pages.len(), 65);
    assert!(pages.iter().all(|&p| p));
    assert!(r.is_loaded().unwrap());
}

#[test]
fn advice_hugepages_and_populate_options() {
    let (_tmp, f) = file_with(&pattern(1 << 20));
    let r = MapOptions::new(MapMode::ReadOnly)
        .populate(true)
        .map(f.as_fd())
        .unwrap();
    assert!(r.is_loaded().unwrap());
    for a in [
        Advice::Sequential,
        Advice::Random,
        Advice::WillNeed,
        Advice::Normal,
        Advice::DontDump,
        Advice::DoDump,
    ] {
        r.advise(a).unwrap();
    }
    r.advise_range(Advice::WillNeed, 5000, 100).unwrap();
    let (region, _fd) = MappedRegion::shared_anonymous("thp", 4 << 20, HugePages::Transparent).unwrap();
    assert_eq!(region.len(), 4 << 20);
}

#[test]
fn lock_and_unlock_show_in_vmlck() {
    let (_tmp, f) = file_with(&pattern(256 * 1024));
    let r = MapOptions::new(MapMode::ReadOnly).map(f.as_fd()).unwrap();
    let vmlck = || -> u64 {
        let status = std::fs::read_to_string("/proc/self/status").unwrap();
        let line = status.lines().find(|l| l.starts_with("VmLck:")).unwrap();
        line.split_whitespace().nth(1).unwrap().parse().unwrap()
    };
    let before = vmlck();
    r.lock().unwrap();
    assert!(vmlck() >= before + 256, "VmLck did not grow");
    r.unlock().unwrap();
}

#[test]
fn close_releases_the_file_but_keeps_addresses_valid() {
    let data = pattern(3 * 4096);
    let (tmp, f) = file_with(&data);
    let path = tmp.path().to_owned();
    let r = MapOptions::new(MapMode::ReadWrite).map(f.as_fd()).unwrap();
    assert!(maps_mention(&path));
    let p = r.as_mut_ptr();
    r.close();
    r.close(); // idempotent
    assert!(!r.is_open());
    assert!(!maps_mention(&path), "the file is still mapped after close");
    // A stale view reads zeros and its writes go nowhere.
    // SAFETY: close() keeps the address range mapped (anonymous) until drop.
    unsafe {
        assert_eq!(p.add(5).read_volatile(), 0);
        p.add(5).write_volatile(42);
    }
    assert_eq!(std::fs::read(&path).unwrap(), data);
    for e in [
        r.force().unwrap_err(),
        r.load().unwrap_err(),
        r.advise(Advice::Normal).unwrap_err(),
    ] {
        assert_eq!(e.kind(), ErrorKind::Closed);
    }
    assert_eq!(r.read_at(0, &mut [0u8; 1]).unwrap_err().kind(), ErrorKind::Closed);
    assert_eq!(r.residency().unwrap_err().kind(), ErrorKind::Closed);
}

#[test]
fn close_frees_a_deleted_files_space() {
    let (tmp, f) = file_with(&pattern(1 << 20));
    let path = tmp.path().to_owned();
    let r = MapOptions::new(MapMode::ReadOnly).map(f.as_fd()).unwrap();
    drop(f);
    drop(tmp); // unlinks
    assert!(maps_mention(&path));
    r.close();
    assert!(!maps_mention(&path));
}

#[test]
fn drop_unmaps_and_leaves_no_descriptor() {
    let (tmp, f) = file_with(&pattern(10_000));
    let path = tmp.path().to_owned();
    let r = MapOptions::new(MapMode::ReadOnly).map(f.as_fd()).unwrap();
    drop(f);
    drop(tmp);
    assert!(!fd_open_on(&path), "the region must not hold a descriptor");
    drop(r);
    assert!(!maps_mention(&path));
}

#[test]
fn regions_above_two_gib_work() {
    let tmp = tempfile::NamedTempFile::new().unwrap();
    let f = tmp.as_file();
    let size = (5u64 << 30) / 2; // 2.5 GiB, sparse
    f.set_len(size).unwrap();
    let r = MapOptions::new(MapMode::ReadWrite).map(f.as_fd()).unwrap();
    assert_eq!(r.len() as u64, size);
    r.write_at(size - 8, b"the end!").unwrap();
    r.force_range(size - 8, 8).unwrap();
    let mut buf = [0u8; 8];
    std::os::unix::fs::FileExt::read_exact_at(f, &mut buf, size - 8).unwrap();
    assert_eq!(&buf, b"the end!");
}

#[test]
fn shared_anonymous_regions_are_shared_through_their_memfd() {
    let (a, fd) = MappedRegion::shared_anonymous("zcopy-test", 10_000, HugePages::Off).unwrap();
    a.write_at(9_990, b"0123456789").unwrap();
    let b = MapOptions::new(MapMode::ReadOnly).map(fd.as_fd()).unwrap();
    let mut buf = [0u8; 10];
    b.read_at(9_990, &mut buf).unwrap();
    assert_eq!(&buf, b"0123456789");
    // Sealed against shrinking: nobody can truncate it under a mapping.
    // SAFETY: `dup` of a valid descriptor.
    let dup = unsafe { File::from_raw_fd(libc::dup(std::os::fd::AsRawFd::as_raw_fd(&fd))) };
    assert!(dup.set_len(10).is_err());
    assert!(MappedRegion::shared_anonymous("bad\0name", 10, HugePages::Off).is_err());
}

#[test]
fn truncation_is_reported_by_checked_prefault() {
    let (_tmp, mut f) = file_with(&pattern(4 * 4096));
    let r = MapOptions::new(MapMode::ReadOnly).map(f.as_fd()).unwrap();
    r.prefault_checked(0, r.len() as u64).unwrap();
    f.set_len(4096).unwrap();
    f.flush().unwrap();
    let e = r.prefault_checked(0, r.len() as u64).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Truncated);
    assert!(r.is_truncated());
    assert_eq!(r.force().unwrap_err().kind(), ErrorKind::Truncated);
}

#[test]
fn regions_are_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<MappedRegion>();
    assert_send_sync::<zcopy::Selector>();
}

/// `MAP_SYNC` needs a DAX file system (persistent memory); the temporary directory is not one,
/// so the kernel refuses the mapping with `EOPNOTSUPP`, which is what the JDK reports for
/// `ExtendedMapMode.READ_WRITE_SYNC` there too. An empty region needs no mapping. (No DAX file
/// system can be made on this machine, so the accepted case is not tested here.)
#[test]
fn map_sync_is_refused_off_dax_and_for_copy_on_write() {
    let (_tmp, f) = file_with(&pattern(8192));
    for mode in [MapMode::ReadOnly, MapMode::ReadWrite] {
        let err = MapOptions::new(mode)
            .sync(true)
            .size(4096)
            .map(f.as_fd())
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Io, "{err}");
        assert_eq!(err.raw_os_error(), Some(libc::EOPNOTSUPP), "{err}");
        let empty = MapOptions::new(mode).sync(true).size(0).map(f.as_fd()).unwrap();
        assert!(empty.is_empty());
    }
    let err = MapOptions::new(MapMode::Private)
        .sync(true)
        .size(4096)
        .map(f.as_fd())
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
    // A refused MAP_SYNC leaves nothing mapped behind.
    let before = std::fs::read_to_string("/proc/self/maps")
        .unwrap()
        .lines()
        .count();
    for _ in 0..50 {
        let _ = MapOptions::new(MapMode::ReadWrite)
            .sync(true)
            .size(4096)
            .map(f.as_fd());
    }
    let after = std::fs::read_to_string("/proc/self/maps")
        .unwrap()
        .lines()
        .count();
    assert!(after < before + 10, "maps before {before}, after {after}");
}

/// A refused `MAP_SYNC` must never leave a hole another thread's mapping can fall into (which
/// the refused region's drop would then unmap): one thread keeps being refused while another
/// maps, writes and forces regions of its own, which must all stay mapped.
#[test]
fn refused_map_sync_never_unmaps_another_threads_region() {
    let (_tmp, f) = file_with(&pattern(8192));
    let stop = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|s| {
        s.spawn(|| {
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let refused = MapOptions::new(MapMode::ReadWrite)
                    .sync(true)
                    .size(8192)
                    .map(f.as_fd());
                assert_eq!(refused.unwrap_err().raw_os_error(), Some(libc::EOPNOTSUPP));
            }
        });
        for _ in 0..2000 {
            let r = MapOptions::new(MapMode::Private).map(f.as_fd()).unwrap();
            r.write_at(0, b"mine").unwrap();
            r.force().unwrap();
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
    });
}
