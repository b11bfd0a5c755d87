//! Natives behind `io.zcopy.MappedRegion`.
//!
//! A region lives in an `Arc<MappedRegion>`. Java holds *handles*: each handle is a
//! `Box<Arc<MappedRegion>>` turned into a `long`. The region object owns one handle; every
//! `ByteBuffer` root handed to Java owns another, released by a `java.lang.ref.Cleaner` when the
//! buffer is collected. `close()` (the core's anonymous remap) releases the file at once; the
//! address range is unmapped when the last handle is released, so no buffer can ever point at
//! unmapped memory. The Java side guarantees that a handle is never used after its release
//! (a use counter around every call, see `HandleGuard.java`).
//!
//! Native code never reads or writes mapped memory: Java does, through direct buffers, so a
//! fault is the JVM's to handle (it throws `InternalError`), and `force`/`load`/`isLoaded` are
//! system calls that report a truncated file as an error (`EFAULT` → `FileTruncatedException`).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use jni::objects::JObject;
use jni::sys::{jboolean, jint, jlong};
use zcopy::{Advice, Grow, MapMode, MapOptions, MappedRegion};

use crate::channels::Channel;
use crate::errors::{natives, Failure, Result};

/// Handles released so far minus handles created: how many regions are closed but still
/// mapped because a buffer may point into them (reported to Java, which asks the GC to run
/// when too many pile up, as the JDK does for direct memory).
static LIVE_HANDLES: AtomicUsize = AtomicUsize::new(0);

fn new_handle(region: Arc<MappedRegion>) -> jlong {
    LIVE_HANDLES.fetch_add(1, Ordering::Relaxed);
    Box::into_raw(Box::new(region)) as jlong
}

/// The region behind a handle.
fn region<'a>(handle: jlong) -> Result<&'a Arc<MappedRegion>> {
    let ptr = handle as *const Arc<MappedRegion>;
    if ptr.is_null() {
        return Err(Failure::Throw(
            "java/lang/IllegalStateException",
            Some("zcopy: null region handle".into()),
        ));
    }
    // SAFETY: non-null handles come from `new_handle` and the Java side releases each exactly
    // once, after every call that uses it has returned (HandleGuard).
    Ok(unsafe { &*ptr })
}

/// The Java side's mode codes: `MapMode.READ_ONLY`, `READ_WRITE`, `PRIVATE`, then
/// `ExtendedMapMode.READ_ONLY_SYNC` and `READ_WRITE_SYNC`; the flag says `MAP_SYNC`.
fn mode_of(mode: jint) -> Result<(MapMode, bool)> {
    Ok(match mode {
        0 => (MapMode::ReadOnly, false),
        1 => (MapMode::ReadWrite, false),
        2 => (MapMode::Private, false),
        3 => (MapMode::ReadOnly, true),
        4 => (MapMode::ReadWrite, true),
        other => {
            return Err(Failure::Throw(
                "java/lang/UnsupportedOperationException",
                Some(format!("unknown map mode {other}")),
            ))
        }
    })
}

natives! {
    /// `Native.regionMap(FileChannel, int mode, long position, long size, boolean
    /// privateNeedsWrite)`: maps with `FileChannel.map`'s checks, order and file growth (the
    /// core's `MapOptions`), any size.
    fn region_map = "regionMap"(
        e,
        channel: JObject<'l>,
        mode: jint,
        position: jlong,
        size: jlong,
        private_needs_write: jboolean,
    ) -> jlong {
        let (mode, sync) = mode_of(mode)?;
        let channel = Channel::require(e, &channel, "the channel")?;
        let mut options = MapOptions::new(mode);
        options
            .sync(sync)
            .position_signed(position)
            .size_signed(size)
            .grow(Grow::IfDescriptorWritable)
            .private_needs_write(private_needs_write);
        // mmap, fstat and ftruncate do not block indefinitely: the close lock can guard them.
        let region = channel.with_fd(e, "map", |fd| Ok(options.map(fd)?))?;
        Ok(new_handle(Arc::new(region)))
    }

    /// `Native.regionRetain(long)`: a new handle to the same region.
    fn region_retain = "regionRetain"(_e, handle: jlong) -> jlong {
        Ok(new_handle(Arc::clone(region(handle)?)))
    }

    /// `Native.regionRelease(long)`: drops a handle; the last one unmaps.
    fn region_release = "regionRelease"(_e, handle: jlong) {
        let ptr = handle as *mut Arc<MappedRegion>;
        if !ptr.is_null() {
            // SAFETY: the handle came from `new_handle` (Box::into_raw) and Java releases it
            // exactly once, when nothing can use it any more.
            drop(unsafe { Box::from_raw(ptr) });
            LIVE_HANDLES.fetch_sub(1, Ordering::Relaxed);
        }
        Ok(())
    }

    /// `Native.liveHandles()`: handles not yet released (regions and buffer roots).
    fn live_handles = "liveHandles"(_e) -> jlong {
        Ok(LIVE_HANDLES.load(Ordering::Relaxed) as jlong)
    }

    /// `Native.regionBuffer(long handle, long offset, int length)`: a direct `ByteBuffer` over
    /// `[offset, offset + length)` of the region. The caller ties a retained handle to it.
    fn region_buffer = "regionBuffer"(e, handle: jlong, offset: jlong, length: jint) -> JObject<'l> {
        let region = region(handle)?;
        // The Java side hands out empty buffers itself: a mapping is never asked for 0 bytes.
        let (Ok(start), Ok(len @ 1..)) = (u64::try_from(offset), u64::try_from(length)) else {
            return Err(Failure::Throw(
                "java/lang/IndexOutOfBoundsException",
                Some(format!("range [{offset}, {offset} + {length}) is outside the region")),
            ));
        };
        region.check_range("buffer", start, len)?;
        // SAFETY: [start, start + len) lies inside the mapping (checked above), which stays
        // mapped while the handle the Java side ties to this buffer is alive.
        let buf = unsafe { e.new_direct_byte_buffer(region.as_mut_ptr().add(start as usize), len as usize) }?;
        Ok(JObject::from(buf))
    }

    /// `Native.regionClose(long)`: releases the file now (anonymous remap); idempotent.
    fn region_close = "regionClose"(_e, handle: jlong) {
        region(handle)?.close();
        Ok(())
    }

    /// `Native.regionForce(long, long offset, long length)`: `msync(MS_SYNC)`.
    fn region_force = "regionForce"(_e, handle: jlong, offset: jlong, length: jlong) {
        let region = region(handle)?;
        let (offset, length) = range("force", offset, length)?;
        region.force_range(offset, length)?;
        Ok(())
    }

    /// `Native.regionLoad(long)`: faults every page in (`MADV_POPULATE_READ`).
    fn region_load = "regionLoad"(_e, handle: jlong) {
        region(handle)?.load()?;
        Ok(())
    }

    /// `Native.regionIsLoaded(long)`: `mincore` over the region.
    fn region_is_loaded = "regionIsLoaded"(_e, handle: jlong) -> jboolean {
        Ok(region(handle)?.is_loaded()?)
    }

    /// `Native.regionAdvise(long, int advice, long offset, long length)`: `madvise` with a
    /// non-destructive `MADV_*` value.
    fn region_advise = "regionAdvise"(_e, handle: jlong, advice: jint, offset: jlong, length: jlong) {
        let region = region(handle)?;
        let advice = Advice::from_raw(advice)?;
        let (offset, length) = range("advise", offset, length)?;
        region.advise_range(advice, offset, length)?;
        Ok(())
    }
}

/// A Java (offset, length) pair, each refused by the core's rule when negative.
fn range(op: &'static str, offset: jlong, length: jlong) -> Result<(u64, u64)> {
    Ok((
        zcopy::non_negative(op, "offset", offset)?,
        zcopy::non_negative(op, "length", length)?,
    ))
}
