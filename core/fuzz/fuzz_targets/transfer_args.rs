//! Fuzzes the core's argument handling for `transfer_to` / `transfer_from`: signed positions and
//! counts, descriptor access modes and forced methods must move exactly the clamped range (the
//! JDK's rule) or fail with a classified error — never panic, never move a wrong byte.
#![no_main]

use std::io::{Read, Seek, SeekFrom};
use std::os::fd::AsFd;

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use zcopy::{ErrorKind, TransferMethod, TransferRequest};

#[path = "common.rs"]
mod common;

#[derive(Arbitrary, Debug)]
struct Input {
    src_size: u16,
    position: i64,
    count: i64,
    src_access: u8,
    dst_access: u8,
    method: u8,
    from: bool,
}

fuzz_target!(|input: Input| {
    let src_file = common::memfd(input.src_size as usize);
    let dst_file = common::memfd(0);
    let access = |a: u8| match a % 4 {
        0 => (true, false),
        1 => (false, true),
        _ => (true, true),
    };
    let (sr, sw) = access(input.src_access);
    let (dr, dw) = access(input.dst_access);
    let src = common::reopen(&src_file, sr, sw);
    let dst = common::reopen(&dst_file, dr, dw);
    let method = TransferMethod::ALL.get(usize::from(input.method % 7)).copied();
    let size = u64::from(input.src_size);
    // Bound positions so transfer_from cannot make huge sparse files.
    let position = input.position.clamp(i64::MIN, 1 << 20);
    let request = if input.from {
        TransferRequest::from(position, input.count)
    } else {
        TransferRequest::to(position, input.count)
    };
    let res = request.method(method).run(src.as_fd(), dst.as_fd());
    let t = match res {
        Ok(t) => t,
        Err(e) => {
            let expected = match e.kind() {
                ErrorKind::InvalidArgument => position < 0 || input.count < 0,
                ErrorKind::NotReadable => !sr,
                ErrorKind::NotWritable => !dw,
                ErrorKind::Unsupported => method.is_some(),
                _ => false,
            };
            assert!(expected, "unexpected {e} for {input:?}");
            return;
        }
    };
    assert!(sr && dw && position >= 0 && input.count >= 0, "{input:?} should have failed");
    // transfer_to reads the file at `position`; transfer_from reads the source from its own
    // position (0 here) and writes at `position`.
    let (read_at, write_at) = if input.from { (0, position as u64) } else { (position as u64, 0) };
    let expect = (input.count as u64).min(size.saturating_sub(read_at));
    assert_eq!(t.bytes, expect, "{input:?}");
    if t.bytes > 0 {
        let mut check = common::reopen(&dst_file, true, false);
        check.seek(SeekFrom::Start(write_at)).unwrap();
        let mut got = vec![0u8; t.bytes as usize];
        check.read_exact(&mut got).unwrap();
        for (i, b) in got.iter().enumerate() {
            assert_eq!(*b, common::byte_at(read_at + i as u64), "byte {i} of {input:?}");
        }
    }
});
