//! Fuzzes the core's argument handling for `map` and every range-taking region method:
//! arbitrary positions, sizes, modes and descriptor access modes must give a region of exactly
//! the asked bytes or a classified error — never a panic, a crash or a wrong byte.
#![no_main]

use std::os::fd::AsFd;

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use zcopy::{ErrorKind, Grow, MapMode, MapOptions};

#[path = "common.rs"]
mod common;

#[derive(Arbitrary, Debug)]
struct Input {
    file_size: u16,
    position: i64,
    size: Option<i64>,
    mode: u8,
    access: u8,
    grow: u8,
    ops: Vec<(u8, u64, u64)>,
}

fuzz_target!(|input: Input| {
    let file = common::memfd(input.file_size as usize);
    let (read, write) = match input.access % 3 {
        0 => (true, false),
        1 => (false, true),
        _ => (true, true),
    };
    let fd = common::reopen(&file, read, write);
    let mode = match input.mode % 3 {
        0 => MapMode::ReadOnly,
        1 => MapMode::ReadWrite,
        _ => MapMode::Private,
    };
    let grow = match input.grow % 3 {
        0 => Grow::WritableModes,
        1 => Grow::IfDescriptorWritable,
        _ => Grow::Never,
    };
    // Keep growth small: the fuzzer must not fill memory with file pages.
    let small = |v: i64| v.clamp(-(1 << 40), 1 << 17);
    let mut options = MapOptions::new(mode);
    options.position_signed(small(input.position)).grow(grow);
    if let Some(size) = input.size {
        options.size_signed(small(size));
    }
    let region = match options.map(fd.as_fd()) {
        Ok(region) => region,
        Err(e) => {
            assert!(
                matches!(
                    e.kind(),
                    ErrorKind::InvalidArgument | ErrorKind::NotReadable | ErrorKind::NotWritable | ErrorKind::PastEndOfFile
                ),
                "unexpected error class for {input:?}: {e}"
            );
            return;
        }
    };
    let position = small(input.position) as u64;
    let len = region.len() as u64;
    let file_size = u64::from(input.file_size);
    if let Some(size) = input.size {
        assert_eq!(len, small(size) as u64);
    } else {
        assert_eq!(len, file_size - position);
    }
    for &(op, offset, count) in input.ops.iter().take(8) {
        let count = count % 70_000;
        let in_range = offset <= len && count <= len - offset;
        let res = match op % 4 {
            0 => {
                let mut buf = vec![0u8; count as usize];
                let r = region.read_at(offset, &mut buf);
                if r.is_ok() {
                    for (i, b) in buf.iter().enumerate() {
                        let at = position + offset + i as u64;
                        let expect = if at < file_size { common::byte_at(at) } else { 0 };
                        assert_eq!(*b, expect, "byte {at}");
                    }
                }
                r
            }
            1 => region.force_range(offset, count),
            2 => region.advise_range(zcopy::Advice::WillNeed, offset, count),
            _ => region.prefault_checked(offset, count),
        };
        match res {
            Ok(()) => assert!(in_range),
            Err(e) if e.kind() == ErrorKind::OutOfRange => assert!(!in_range),
            Err(e) => panic!("unexpected error {e}"),
        }
    }
    region.close();
});
