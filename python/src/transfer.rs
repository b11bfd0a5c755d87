//! Transfers: `transfer_to`, `transfer_from`, `transfer_all`, `transfer_with_header`, and the
//! direct `sendfile`, `splice` and `tee`.
//!
//! Every call takes its descriptors with [`Call::take`], so that a number closed and reused by
//! another thread meanwhile cannot redirect the bytes, and releases the GIL for system calls
//! that may wait. Core does everything else through one `TransferRequest`: argument checks in
//! the JDK's order, the method chain, the "transfer all" loop, EINTR/EAGAIN policy, and SIGPIPE
//! shielding.

use pyo3::exceptions::PyOverflowError;
use pyo3::prelude::*;
use zcopy::{Policy, SpliceFlags, TransferMethod, TransferRequest};

use crate::descriptor::Call;
use crate::errors::{invalid, IntoPyResult};

/// A signed 64-bit argument (position, count): Python ints beyond the range are clamped to it,
/// so core applies its own rules (negative values are `ValueError`; huge counts mean "all").
fn signed(value: &Bound<'_, PyAny>) -> PyResult<i64> {
    match value.extract::<i64>() {
        Ok(v) => Ok(v),
        Err(e) if e.is_instance_of::<PyOverflowError>(value.py()) => {
            let negative: bool = value.lt(0)?;
            Ok(if negative { i64::MIN } else { i64::MAX })
        }
        Err(e) => Err(e),
    }
}

/// A count: `None` is "everything".
fn count_arg(value: Option<&Bound<'_, PyAny>>) -> PyResult<i64> {
    value.map_or(Ok(i64::MAX), signed)
}

/// A transfer call's checked arguments.
struct Args {
    position: i64,
    count: i64,
    method: Option<TransferMethod>,
}

impl Args {
    fn new(
        position: &Bound<'_, PyAny>,
        count: Option<&Bound<'_, PyAny>>,
        method: Option<&str>,
    ) -> PyResult<Args> {
        Ok(Args {
            position: signed(position)?,
            count: count_arg(count)?,
            method: self::method(method)?,
        })
    }

    /// Runs the request `shape` builds on (source, target); `waits_on` as in [`Call::take`].
    fn run(
        self,
        py: Python<'_>,
        objs: [&Bound<'_, PyAny>; 2],
        waits_on: Option<usize>,
        shape: impl FnOnce(i64, i64) -> TransferRequest<'static>,
    ) -> PyResult<u64> {
        let call = Call::take(objs, self.count as u64, waits_on)?;
        let request = shape(self.position, self.count).method(self.method);
        Ok(call.transfer(py, request)?.bytes)
    }
}

/// The transfer method named `name`, as `last_method()` reports it (`None`: automatic).
fn method(name: Option<&str>) -> PyResult<Option<TransferMethod>> {
    let Some(name) = name else {
        return Ok(None);
    };
    match TransferMethod::from_name(name).filter(|&m| m != TransferMethod::None) {
        Some(m) => Ok(Some(m)),
        None => Err(invalid(
            "transfer",
            format!("unknown method {name:?} (expected one of {})", names().join(", ")),
        )),
    }
}

/// The names `method=` accepts, in the core's table order (`zcopy.METHODS`).
pub fn names() -> Vec<&'static str> {
    TransferMethod::ALL.iter().map(|m| m.name()).collect()
}

/// Transfers up to `count` bytes of the file `src` from `position` to `target`, with
/// `FileChannel.transferTo` semantics, and returns the number of bytes moved.
///
/// `src` and `target` are descriptors or objects with `fileno()` (files, sockets, pipes).
/// `src`'s file position does not change. `count` is clamped at the end of the file, and one
/// call moves at most 0x7ffff000 bytes (`transfer_all` moves everything). A non-blocking
/// target that is full gives a short count, or 0: never an exception, never a lost byte.
/// `method` forces one kernel path (`"copy_file_range"`, `"sendfile"`, `"splice"`,
/// `"mmap+write"`, `"read/write"`) with no fallback; `last_method()` tells which one ran.
/// The GIL is released during the system calls.
#[pyfunction]
#[pyo3(signature = (src, position, count, target, *, method=None))]
pub fn transfer_to(
    py: Python<'_>,
    src: &Bound<'_, PyAny>,
    position: &Bound<'_, PyAny>,
    count: Option<&Bound<'_, PyAny>>,
    target: &Bound<'_, PyAny>,
    method: Option<&str>,
) -> PyResult<u64> {
    let args = Args::new(position, count, method)?;
    args.run(py, [src, target], Some(1), TransferRequest::to)
}

/// Transfers up to `count` bytes from `src` into the file `target_file` at `position`, with
/// `FileChannel.transferFrom` semantics, and returns the number of bytes moved.
///
/// A file `src` is read from its own position, which advances; `target_file`'s position does
/// not change, and the file grows as needed. A non-blocking `src` with nothing to read gives 0.
#[pyfunction]
#[pyo3(signature = (target_file, src, position, count, *, method=None))]
pub fn transfer_from(
    py: Python<'_>,
    target_file: &Bound<'_, PyAny>,
    src: &Bound<'_, PyAny>,
    position: &Bound<'_, PyAny>,
    count: Option<&Bound<'_, PyAny>>,
    method: Option<&str>,
) -> PyResult<u64> {
    let args = Args::new(position, count, method)?;
    args.run(py, [src, target_file], Some(0), TransferRequest::from)
}

/// Moves all `count` bytes (to the end of the file when `None`) of `src` from `position` to
/// `target`, in as many system calls as it takes, and returns the number moved. A non-blocking
/// target is waited for, so this works on non-blocking sockets from synchronous code.
#[pyfunction]
#[pyo3(signature = (src, position, count, target, *, method=None))]
pub fn transfer_all(
    py: Python<'_>,
    src: &Bound<'_, PyAny>,
    position: &Bound<'_, PyAny>,
    count: Option<&Bound<'_, PyAny>>,
    target: &Bound<'_, PyAny>,
    method: Option<&str>,
) -> PyResult<u64> {
    let args = Args::new(position, count, method)?;
    args.run(py, [src, target], None, |p, c| {
        TransferRequest::to(p, c).policy(Policy::All)
    })
}

/// Sends `header` on the socket `target` with `MSG_MORE`, then transfers `count` bytes of `src`
/// from `position` as `transfer_to` does, so a small header and the start of the body leave in
/// one TCP segment. Returns `(header_bytes_sent, body_bytes_sent)`; on a non-blocking socket
/// either may be short (send the rest of the header before more of the body).
#[pyfunction]
pub fn transfer_with_header(
    py: Python<'_>,
    src: &Bound<'_, PyAny>,
    position: &Bound<'_, PyAny>,
    count: Option<&Bound<'_, PyAny>>,
    target: &Bound<'_, PyAny>,
    header: &Bound<'_, PyAny>,
) -> PyResult<(usize, u64)> {
    let (position, count) = (signed(position)?, count_arg(count)?);
    let header = pyo3::buffer::PyBuffer::<u8>::get(header)?.to_vec(py)?;
    let small = (count as u64).saturating_add(header.len() as u64);
    let call = Call::take([src, target], small, Some(1))?;
    let t = call.transfer(py, TransferRequest::to(position, count).header(&header))?;
    Ok((t.header, t.bytes))
}

/// The kernel path of this thread's last transfer: `"copy_file_range"`, `"sendfile"`,
/// `"splice"`, `"mmap+write"`, `"read/write"`, or `"none"` when nothing moved.
#[pyfunction]
pub fn last_method() -> &'static str {
    zcopy::last_method().name()
}

/// This thread's last transfer (`transfer_to`, `transfer_from`, `transfer_all`, and the body of
/// `transfer_with_header`) as `(bytes, method, would_block, syscalls)`; `zcopy.last_transfer()`
/// wraps it in a named tuple. `syscalls` counts every system call the transfer made, probes and
/// fallbacks included.
#[pyfunction]
pub fn last_transfer() -> (u64, &'static str, bool, u64) {
    let t = zcopy::last_transfer();
    (t.bytes, t.method.name(), t.would_block, t.syscalls)
}

fn offset(op: &'static str, value: Option<i64>) -> PyResult<Option<u64>> {
    value
        .map(|v| zcopy::non_negative(op, "offset", v).py())
        .transpose()
}

fn length(op: &'static str, count: i64) -> PyResult<usize> {
    let count = zcopy::non_negative(op, "count", count).py()?;
    Ok(usize::try_from(count).unwrap_or(usize::MAX))
}

/// One `sendfile(2)` call, as `os.sendfile(out_fd, in_fd, offset, count)`: returns the bytes
/// sent, 0 at end of file. With `offset=None` it reads from and advances `in_fd`'s position.
/// A full non-blocking `out_fd` raises `BlockingIOError`. The GIL is released.
#[pyfunction]
pub fn sendfile(
    py: Python<'_>,
    out_fd: &Bound<'_, PyAny>,
    in_fd: &Bound<'_, PyAny>,
    offset: Option<i64>,
    count: i64,
) -> PyResult<usize> {
    let (mut off, count) = (self::offset("sendfile", offset)?, length("sendfile", count)?);
    let call = Call::take([out_fd, in_fd], count as u64, Some(0))?;
    let (o, i) = (call.fd(0), call.fd(1));
    call.run(py, || zcopy::sendfile(o, i, off.as_mut(), count))
}

/// One `splice(2)` call, as `os.splice(src, dst, count, offset_src=None, offset_dst=None,
/// flags=0)`: one side must be a pipe (whose offset must be `None`). Returns the bytes moved, 0
/// at end of input; `BlockingIOError` when a non-blocking side would block.
#[pyfunction]
#[pyo3(signature = (src, dst, count, offset_src=None, offset_dst=None, flags=0))]
pub fn splice(
    py: Python<'_>,
    src: &Bound<'_, PyAny>,
    dst: &Bound<'_, PyAny>,
    count: i64,
    offset_src: Option<i64>,
    offset_dst: Option<i64>,
    flags: u32,
) -> PyResult<usize> {
    let count = length("splice", count)?;
    let (mut off_in, mut off_out) = (offset("splice", offset_src)?, offset("splice", offset_dst)?);
    let flags = SpliceFlags::from_bits(flags).py()?;
    let call = Call::take([src, dst], count as u64, None)?;
    let (s, d) = (call.fd(0), call.fd(1));
    call.run(py, || {
        zcopy::splice(s, off_in.as_mut(), d, off_out.as_mut(), count, flags)
    })
}

/// One `tee(2)` call: copies up to `count` bytes from pipe `src` to pipe `dst` without
/// consuming them. Returns the bytes copied; `BlockingIOError` when it would block.
#[pyfunction]
#[pyo3(signature = (src, dst, count, flags=0))]
pub fn tee(
    py: Python<'_>,
    src: &Bound<'_, PyAny>,
    dst: &Bound<'_, PyAny>,
    count: i64,
    flags: u32,
) -> PyResult<usize> {
    let count = length("tee", count)?;
    let flags = SpliceFlags::from_bits(flags).py()?;
    let call = Call::take([src, dst], count as u64, None)?;
    let (s, d) = (call.fd(0), call.fd(1));
    call.run(py, || zcopy::tee(s, d, count, flags))
}
