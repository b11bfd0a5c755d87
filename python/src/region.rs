//! `zcopy.MappedRegion` and `zcopy.map()`: a mapped byte range of a file, with the buffer
//! protocol.
//!
//! Closing rule: `close()` always succeeds. Core replaces the file's pages with anonymous memory at
//! once (the file is no longer pinned, and truncation can no longer hurt), so `memoryview`s and
//! numpy arrays that still point into the region stay valid and read zeros; every zcopy method
//! then raises `ValueError`. The address range itself is unmapped when the last buffer export is
//! released and the region object is collected: each export holds a strong reference to the
//! region (`Py_buffer.obj`), so the object cannot be dropped while a view exists.

use std::ffi::c_int;
use std::os::fd::{AsFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicUsize, Ordering};

use pyo3::exceptions::{PyBufferError, PyIndexError, PyTypeError, PyValueError};
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyInt, PySlice, PyString};
use zcopy::{Advice, Grow, HugePages, MapMode, MapOptions, UncheckedAdvice};

use crate::descriptor;
use crate::errors::{to_py, IntoPyResult};

/// Reads and writes at least this large release the GIL while the bytes are copied.
const DETACH_COPY: usize = 1 << 20;

/// How a region may be accessed: `READ_ONLY`, `READ_WRITE` (writes reach the file) or
/// `PRIVATE` (copy-on-write: writes stay in this process).
#[pyclass(eq, eq_int, frozen, hash, from_py_object, module = "zcopy", name = "MapMode")]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PyMapMode {
    /// Readable only; the buffer export is read-only (`mmap.ACCESS_READ`).
    #[pyo3(name = "READ_ONLY")]
    ReadOnly = 0,
    /// Readable and writable; writes reach the file (`mmap.ACCESS_WRITE`).
    #[pyo3(name = "READ_WRITE")]
    ReadWrite = 1,
    /// Readable and writable copy-on-write; the file never changes (`mmap.ACCESS_COPY`).
    #[pyo3(name = "PRIVATE")]
    Private = 2,
}

impl PyMapMode {
    fn core(self) -> MapMode {
        match self {
            PyMapMode::ReadOnly => MapMode::ReadOnly,
            PyMapMode::ReadWrite => MapMode::ReadWrite,
            PyMapMode::Private => MapMode::Private,
        }
    }

    fn from_core(mode: MapMode) -> PyMapMode {
        match mode {
            MapMode::ReadOnly => PyMapMode::ReadOnly,
            MapMode::ReadWrite => PyMapMode::ReadWrite,
            MapMode::Private => PyMapMode::Private,
        }
    }

    fn name(self) -> &'static str {
        match self {
            PyMapMode::ReadOnly => "READ_ONLY",
            PyMapMode::ReadWrite => "READ_WRITE",
            PyMapMode::Private => "PRIVATE",
        }
    }
}

/// A mapped byte range of a file or of shared memory.
///
/// Supports the buffer protocol (`memoryview(region)`, `numpy.frombuffer(region)`,
/// `sock.send(region)`, `hashlib.sha256(region)`, all without a copy; the export is read-only for
/// `READ_ONLY` regions), `len()`, indexing and slicing like `mmap.mmap` (slices are `bytes`
/// copies), and item and slice assignment for writable regions.
///
/// `close()` always succeeds, also while views exist: the views then read zeros. A file
/// truncated under the region never kills the interpreter; the region's next operation raises
/// `zcopy.TruncatedError`.
#[pyclass(frozen, weakref, module = "zcopy", name = "MappedRegion")]
pub struct Region {
    inner: zcopy::MappedRegion,
    exports: AtomicUsize,
}

impl Region {
    pub fn new(inner: zcopy::MappedRegion) -> Region {
        Region {
            inner,
            exports: AtomicUsize::new(0),
        }
    }

    fn writable(&self, op: &'static str) -> PyResult<()> {
        self.inner.check(op).py()?;
        if !self.inner.mode().is_writable() {
            return Err(PyTypeError::new_err(
                "cannot modify a READ_ONLY region (map with READ_WRITE or PRIVATE to write)",
            ));
        }
        Ok(())
    }

    /// Copies `[offset, offset + out.len())` out of the region, releasing the GIL for big copies.
    fn read_into(&self, py: Python<'_>, offset: u64, out: &mut [u8]) -> PyResult<()> {
        if out.len() >= DETACH_COPY {
            py.detach(|| self.inner.read_at(offset, out)).py()
        } else {
            self.inner.read_at(offset, out).py()
        }
    }

    /// Copies `data` into the region at `offset`, releasing the GIL for big copies.
    fn write_from(&self, py: Python<'_>, offset: u64, data: &[u8]) -> PyResult<()> {
        if data.len() >= DETACH_COPY {
            py.detach(|| self.inner.write_at(offset, data)).py()
        } else {
            self.inner.write_at(offset, data).py()
        }
    }

    /// A new `bytes` holding `[offset, offset + len)` of the region (`op` names the caller in
    /// errors). The bytes are copied once, from the mapping into the new object, with the GIL
    /// released for big copies; a file truncated (or a region closed by another thread) during
    /// the copy is reported afterwards.
    fn copy_out<'py>(
        &self,
        py: Python<'py>,
        op: &'static str,
        offset: u64,
        len: u64,
    ) -> PyResult<Bound<'py, PyBytes>> {
        self.inner.check(op).py()?;
        self.check_range(op, offset, len)?;
        let len = len as usize; // inside the region, so it fits
                                // SAFETY: a NULL source asks CPython for an uninitialised bytes object of `len` bytes;
                                // the result is a new reference (or NULL with an exception set).
        let bytes = unsafe {
            Bound::from_owned_ptr_or_err(
                py,
                ffi::PyBytes_FromStringAndSize(std::ptr::null(), len as ffi::Py_ssize_t),
            )?
        };
        // SAFETY: `bytes` is a bytes object we own; its buffer holds `len` bytes.
        let dst = unsafe { ffi::PyBytes_AsString(bytes.as_ptr()) } as usize;
        let src = self.inner.as_ptr() as usize + offset as usize;
        let copy = move || {
            // SAFETY: the source range lies inside the mapping (checked above), which stays
            // mapped while `self` is borrowed (close() only remaps it); the destination is the new
            // object's buffer, which no one else can see yet. A fault on a truncated page is
            // absorbed by the SIGBUS guard and reported by the check below.
            unsafe { std::ptr::copy_nonoverlapping(src as *const u8, dst as *mut u8, len) }
        };
        if len >= DETACH_COPY {
            py.detach(copy);
        } else {
            copy();
        }
        self.inner.check(op).py()?;
        Ok(bytes.cast_into::<PyBytes>()?)
    }

    /// `(offset, len)` for an `offset=0, size=None` pair of arguments.
    fn span(&self, op: &'static str, offset: i64, size: Option<i64>) -> PyResult<(u64, u64)> {
        let offset = zcopy::non_negative(op, "offset", offset).py()?;
        let len = match size {
            Some(size) => zcopy::non_negative(op, "size", size).py()?,
            None => (self.inner.len() as u64).saturating_sub(offset),
        };
        Ok((offset, len))
    }

    /// A Python index (negative counts from the end) as an offset into the region.
    fn index(&self, index: &Bound<'_, PyAny>) -> PyResult<u64> {
        let i: isize = match index.extract() {
            Ok(i) => i,
            Err(e) if e.is_instance_of::<pyo3::exceptions::PyOverflowError>(index.py()) => {
                return Err(PyIndexError::new_err("region index out of range"))
            }
            Err(_) => {
                return Err(PyTypeError::new_err(format!(
                    "region indices must be integers or slices, not {}",
                    index.get_type().name()?
                )))
            }
        };
        let len = self.inner.len() as isize;
        let i = if i < 0 { i + len } else { i };
        if i < 0 || i >= len {
            return Err(PyIndexError::new_err("region index out of range"));
        }
        Ok(i as u64)
    }

    /// Fails with `ValueError` unless `[offset, offset + len)` lies inside the region.
    fn check_range(&self, op: &'static str, offset: u64, len: u64) -> PyResult<()> {
        self.inner.check_range(op, offset, len).map_err(to_py)
    }
}

fn closed(op: &'static str) -> PyErr {
    to_py(zcopy::Error::Closed {
        op,
        what: zcopy::Resource::Region,
    })
}

#[pymethods]
impl Region {
    /// The number of bytes in the region; `ValueError` once closed, like `mmap.mmap`.
    fn __len__(&self) -> PyResult<usize> {
        if !self.inner.is_open() {
            return Err(closed("len"));
        }
        Ok(self.inner.len())
    }

    /// `region[i]` is an `int`; `region[a:b]` and `region[a:b:step]` are `bytes` copies.
    fn __getitem__<'py>(&self, py: Python<'py>, index: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
        self.inner.check("getitem").py()?;
        if let Ok(slice) = index.cast::<PySlice>() {
            let s = slice.indices(self.inner.len() as isize)?;
            if s.slicelength == 0 {
                return Ok(PyBytes::new(py, b"").into_any());
            }
            if s.step == 1 {
                let bytes = self.copy_out(py, "getitem", s.start as u64, s.slicelength as u64)?;
                return Ok(bytes.into_any());
            }
            let first = s.start.min(s.start + s.step * (s.slicelength as isize - 1)) as usize;
            let span = s.step.unsigned_abs() * (s.slicelength - 1) + 1;
            let mut buf = vec![0u8; span];
            self.read_into(py, first as u64, &mut buf)?;
            let picked: Vec<u8> = (0..s.slicelength)
                .map(|k| buf[(s.start + s.step * k as isize) as usize - first])
                .collect();
            return Ok(PyBytes::new(py, &picked).into_any());
        }
        let i = self.index(index)?;
        let mut byte = [0u8];
        self.inner.read_at(i, &mut byte).py()?;
        Ok(byte[0].into_pyobject(py)?.into_any())
    }

    /// `region[i] = byte` and `region[a:b] = data` (any bytes-like object of the slice's
    /// length); `TypeError` for a `READ_ONLY` region.
    fn __setitem__(
        &self,
        py: Python<'_>,
        index: &Bound<'_, PyAny>,
        value: &Bound<'_, PyAny>,
    ) -> PyResult<()> {
        self.writable("setitem")?;
        if let Ok(slice) = index.cast::<PySlice>() {
            let s = slice.indices(self.inner.len() as isize)?;
            let data = bytes_of(value)?;
            if data.len() != s.slicelength {
                return Err(PyIndexError::new_err(format!(
                    "region slice assignment is wrong size ({} bytes for a slice of {})",
                    data.len(),
                    s.slicelength
                )));
            }
            if s.slicelength == 0 {
                return Ok(());
            }
            if s.step == 1 {
                return self.write_from(py, s.start as u64, &data);
            }
            for (k, byte) in data.iter().enumerate() {
                let at = (s.start + s.step * k as isize) as u64;
                self.inner.write_at(at, std::slice::from_ref(byte)).py()?;
            }
            return Ok(());
        }
        let i = self.index(index)?;
        if !value.is_instance_of::<PyInt>() {
            return Err(PyTypeError::new_err("region item value must be an int"));
        }
        let byte: u8 = value
            .extract()
            .map_err(|_| PyValueError::new_err("region item value must be in range(0, 256)"))?;
        self.inner.write_at(i, &[byte]).py()
    }

    fn __delitem__(&self, _index: &Bound<'_, PyAny>) -> PyResult<()> {
        Err(PyTypeError::new_err(
            "region object doesn't support item deletion",
        ))
    }

    /// Exports the region's memory. Read-only for `READ_ONLY` regions (`BufferError` when a
    /// writable buffer is requested); `ValueError` once closed; `TruncatedError` after
    /// truncation.
    unsafe fn __getbuffer__(slf: Bound<'_, Self>, view: *mut ffi::Py_buffer, flags: c_int) -> PyResult<()> {
        let this = slf.get();
        this.inner.check("buffer").py()?;
        let readonly = !this.inner.mode().is_writable();
        if readonly && flags & ffi::PyBUF_WRITABLE == ffi::PyBUF_WRITABLE {
            return Err(PyBufferError::new_err(
                "the region is READ_ONLY: it cannot export a writable buffer",
            ));
        }
        // SAFETY: `view` is the Py_buffer CPython asks us to fill; the pointer and length
        // describe our mapping, which stays mapped while the export holds its reference to
        // `slf` (`view.obj`, set by PyBuffer_FillInfo); after close() the same addresses hold
        // anonymous memory, so the view never dangles.
        let rc = unsafe {
            ffi::PyBuffer_FillInfo(
                view,
                slf.as_ptr(),
                this.inner.as_mut_ptr().cast(),
                this.inner.len() as ffi::Py_ssize_t,
                c_int::from(readonly),
                flags,
            )
        };
        if rc != 0 {
            return Err(PyErr::fetch(slf.py()));
        }
        this.exports.fetch_add(1, Ordering::AcqRel);
        Ok(())
    }

    unsafe fn __releasebuffer__(&self, _view: *mut ffi::Py_buffer) {
        // Never fails: CPython drops the reference in view.obj right after this.
        self.exports.fetch_sub(1, Ordering::AcqRel);
    }

    /// Copies `size` bytes at `offset` (to the end by default) into a new `bytes`.
    #[pyo3(signature = (offset=0, size=None))]
    fn read_at<'py>(&self, py: Python<'py>, offset: i64, size: Option<i64>) -> PyResult<Bound<'py, PyBytes>> {
        self.inner.check("read_at").py()?;
        let (offset, len) = self.span("read_at", offset, size)?;
        self.copy_out(py, "read_at", offset, len)
    }

    /// Copies a bytes-like object into the region at `offset` and returns the number of bytes
    /// written. `TypeError` for a `READ_ONLY` region, `ValueError` past the end.
    fn write_at(&self, py: Python<'_>, offset: i64, data: &Bound<'_, PyAny>) -> PyResult<usize> {
        self.writable("write_at")?;
        let offset = zcopy::non_negative("write_at", "offset", offset).py()?;
        let data = bytes_of(data)?;
        self.write_from(py, offset, &data)?;
        Ok(data.len())
    }

    /// Writes changes in `[offset, offset + size)` (the whole region by default) back to the
    /// file and waits (`msync(MS_SYNC)`); any offset, no alignment rule. Returns `None`.
    #[pyo3(signature = (offset=0, size=None))]
    fn force(&self, py: Python<'_>, offset: i64, size: Option<i64>) -> PyResult<()> {
        let (offset, len) = self.span("force", offset, size)?;
        py.detach(|| self.inner.force_range(offset, len)).py()
    }

    /// Starts writing changes back without waiting (`msync(MS_ASYNC)`).
    #[pyo3(signature = (offset=0, size=None))]
    fn force_async(&self, py: Python<'_>, offset: i64, size: Option<i64>) -> PyResult<()> {
        let (offset, len) = self.span("force_async", offset, size)?;
        py.detach(|| self.inner.force_range_async(offset, len)).py()
    }

    /// Faults every page in (`MADV_POPULATE_READ`): later reads do not wait for the disk. A
    /// truncated file raises `TruncatedError` instead of a signal.
    fn load(&self, py: Python<'_>) -> PyResult<()> {
        py.detach(|| self.inner.load()).py()
    }

    /// Whether every page is resident in memory (`mincore`); a hint, pages can be evicted.
    fn is_loaded(&self) -> PyResult<bool> {
        self.inner.is_loaded().py()
    }

    /// Per-page residency (`mincore`) of the page-aligned span holding the region.
    fn residency(&self) -> PyResult<Vec<bool>> {
        self.inner.residency().py()
    }

    /// Gives the kernel advice (`zcopy.MADV_*`) about `[start, start + length)`, the whole
    /// region by default; any start, no alignment rule. Advice that discards data
    /// (`MADV_DONTNEED`, `MADV_FREE`, `MADV_REMOVE`) is refused with `ValueError`: use
    /// `advise_unchecked`.
    #[pyo3(signature = (option, start=0, length=None))]
    fn advise(&self, py: Python<'_>, option: i32, start: i64, length: Option<i64>) -> PyResult<()> {
        self.inner.check("advise").py()?;
        let advice = Advice::from_raw(option).py()?;
        let (start, len) = self.span("advise", start, length)?;
        py.detach(|| self.inner.advise_range(advice, start, len)).py()
    }

    /// Gives advice that discards or rewrites pages: `MADV_DONTNEED` (private changes are lost;
    /// a shared file mapping reads the file again), `MADV_FREE`, `MADV_REMOVE` (frees the
    /// file's blocks). Views over the range see the new contents.
    #[pyo3(signature = (option, start=0, length=None))]
    fn advise_unchecked(&self, option: i32, start: i64, length: Option<i64>) -> PyResult<()> {
        self.inner.check("advise_unchecked").py()?;
        let advice = UncheckedAdvice::from_raw(option).py()?;
        let (start, len) = self.span("advise_unchecked", start, length)?;
        // SAFETY: Python holds no Rust slice of the region; memoryviews and numpy arrays are raw
        // pointers that stay valid (the pages are only replaced, never unmapped).
        unsafe { self.inner.advise_unchecked(advice, start, len) }.py()
    }

    /// Locks the region's pages in memory (`mlock`).
    fn lock(&self) -> PyResult<()> {
        self.inner.lock().py()
    }

    /// Unlocks the region's pages (`munlock`).
    fn unlock(&self) -> PyResult<()> {
        self.inner.unlock().py()
    }

    /// Closes the region. Always succeeds, also while `memoryview`s or arrays over it exist:
    /// they then read zeros and their writes go nowhere. Idempotent.
    fn close(&self) {
        self.inner.close();
    }

    /// Whether `close()` was called.
    #[getter]
    fn closed(&self) -> bool {
        !self.inner.is_open()
    }

    /// Whether the file was truncated under the region (the region then raises
    /// `TruncatedError`).
    #[getter]
    fn truncated(&self) -> bool {
        self.inner.is_truncated()
    }

    /// The file position of the region's first byte.
    #[getter]
    fn position(&self) -> u64 {
        self.inner.position()
    }

    /// The region's length in bytes (also after close).
    #[getter]
    fn size(&self) -> usize {
        self.inner.len()
    }

    /// The mapping mode.
    #[getter]
    fn mode(&self) -> PyMapMode {
        PyMapMode::from_core(self.inner.mode())
    }

    /// The number of buffer exports (memoryviews, arrays) alive now.
    #[getter]
    fn exports(&self) -> usize {
        self.exports.load(Ordering::Acquire)
    }

    /// The address of the first byte (for ctypes and C extensions).
    #[getter]
    fn address(&self) -> PyResult<usize> {
        self.inner.check("address").py()?;
        Ok(self.inner.as_ptr() as usize)
    }

    fn __enter__(slf: Bound<'_, Self>) -> PyResult<Bound<'_, Self>> {
        slf.get().inner.check("__enter__").py()?;
        Ok(slf)
    }

    #[pyo3(signature = (*_args))]
    fn __exit__(&self, _args: &Bound<'_, pyo3::types::PyTuple>) -> bool {
        self.inner.close();
        false
    }

    fn __repr__(&self) -> String {
        let state = if !self.inner.is_open() {
            "closed"
        } else if self.inner.is_truncated() {
            "truncated"
        } else {
            "open"
        };
        format!(
            "<zcopy.MappedRegion {} mode={} position={} size={}>",
            state,
            PyMapMode::from_core(self.inner.mode()).name(),
            self.inner.position(),
            self.inner.len()
        )
    }
}

/// The bytes of a bytes-like object, copied (the source may be the region itself, or change
/// under another thread while it is read).
fn bytes_of(value: &Bound<'_, PyAny>) -> PyResult<Vec<u8>> {
    if let Ok(b) = value.cast::<PyBytes>() {
        return Ok(b.as_bytes().to_vec());
    }
    if value.is_instance_of::<PyString>() {
        return Err(PyTypeError::new_err("a bytes-like object is required, not 'str'"));
    }
    let buf = pyo3::buffer::PyBuffer::<u8>::get(value).map_err(|_| {
        PyTypeError::new_err(format!(
            "a bytes-like object is required, not '{}'",
            value.get_type().name().map(|n| n.to_string()).unwrap_or_default()
        ))
    })?;
    buf.to_vec(value.py())
}

/// What `map()` was given as its file.
enum Source {
    /// The caller's descriptor (an int or a `fileno()`): borrowed for the call.
    Borrowed(std::os::fd::RawFd),
    /// A file opened from a path: closed after mapping (the mapping does not need it).
    Opened(OwnedFd),
}

fn open_path(py: Python<'_>, path: &Bound<'_, PyAny>, mode: PyMapMode) -> PyResult<OwnedFd> {
    let os = py.import("os")?;
    let flags = match mode {
        PyMapMode::ReadWrite => libc::O_RDWR,
        PyMapMode::ReadOnly | PyMapMode::Private => libc::O_RDONLY,
    } | libc::O_CLOEXEC;
    let fd: i32 = os.call_method1("open", (path, flags))?.extract()?;
    // SAFETY: os.open returned a new descriptor that only we know about.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Maps `size` bytes (to the end of the file by default) of `file` from `position`.
///
/// `file` is a path (`str`, `bytes`, `os.PathLike`), a file object (anything with `fileno()`;
/// its buffer is flushed first) or a descriptor. Any position (no alignment rule), sizes over
/// 2 GiB, and size 0 (an empty region) are allowed. A `READ_WRITE` or `PRIVATE` mapping past the
/// end of a file open for writing grows the file (`grow=False` refuses instead); a `READ_ONLY`
/// one is a `ValueError`.
#[pyfunction]
#[pyo3(signature = (file, mode=PyMapMode::ReadOnly, position=0, size=None, *, grow=true, populate=false, huge_pages=false))]
#[allow(clippy::too_many_arguments)]
pub fn map(
    py: Python<'_>,
    file: &Bound<'_, PyAny>,
    mode: PyMapMode,
    position: i64,
    size: Option<i64>,
    grow: bool,
    populate: bool,
    huge_pages: bool,
) -> PyResult<Region> {
    crate::guard::ensure()?;
    let os = py.import("os")?;
    let is_path = file.is_instance_of::<PyString>()
        || file.is_instance_of::<PyBytes>()
        || file.is_instance(&os.getattr("PathLike")?)?;
    let source = if is_path {
        Source::Opened(open_path(py, file, mode)?)
    } else {
        if !file.is_instance_of::<PyInt>() && file.hasattr(pyo3::intern!(py, "flush"))? {
            file.call_method0(pyo3::intern!(py, "flush"))?;
        }
        Source::Borrowed(descriptor::number(file)?)
    };
    let mut options = MapOptions::new(mode.core());
    options
        .position_signed(position)
        .grow(if grow { Grow::WritableModes } else { Grow::Never })
        .populate(populate)
        .huge_pages(if huge_pages {
            HugePages::Transparent
        } else {
            HugePages::Off
        });
    if let Some(size) = size {
        options.size_signed(size);
    }
    let region = match &source {
        Source::Opened(fd) => {
            let fd = fd.as_fd();
            if populate {
                py.detach(|| options.map(fd))
            } else {
                options.map(fd)
            }
        }
        Source::Borrowed(raw) => {
            // SAFETY: the GIL is held for the whole call, so no Python thread can close the number
            // meanwhile, and core checks that it is open.
            let fd = unsafe { zcopy::binding::borrow_fd(*raw) };
            options.map(fd)
        }
    }
    .map_err(to_py)?;
    Ok(Region::new(region))
}

/// Creates a shared memory region backed by a new memfd named `name` (`memfd_create`), sealed
/// against shrinking, and returns `(region, fd)`. The caller owns `fd` (close it with
/// `os.close`); pass it to another process to share the memory.
#[pyfunction]
#[pyo3(signature = (name, size, *, huge_pages=false))]
pub fn shared_memory(name: &str, size: i64, huge_pages: bool) -> PyResult<(Region, i32)> {
    crate::guard::ensure()?;
    let size = zcopy::non_negative("shared_memory", "size", size).py()?;
    let huge = if huge_pages {
        HugePages::Transparent
    } else {
        HugePages::Off
    };
    let (region, fd) = zcopy::MappedRegion::shared_anonymous(name, size, huge).py()?;
    Ok((Region::new(region), std::os::fd::IntoRawFd::into_raw_fd(fd)))
}

/// The system page size.
#[pyfunction]
pub fn page_size() -> usize {
    zcopy::MappedRegion::page_size()
}
