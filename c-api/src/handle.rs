//! Handle tables: what a `zc_region *`, `zc_selector *` or `zc_lease *` really is.
//!
//! A handle is not an address. It is a 64-bit token, `tag << 56 | generation << 24 | index + 1`,
//! that names a slot of a per-type table. zcopy never dereferences a handle a caller passes in:
//! it decodes it and looks the slot up, so
//!
//! - a freed handle (use after free, double free) is refused with `ZC_ERR_BAD_HANDLE`, because
//!   freeing bumps the slot's generation;
//! - a handle of another type (a selector passed as a region after a cast) is refused, because
//!   the tag differs;
//! - NULL is refused with `ZC_ERR_NULL_PARAM`;
//! - an arbitrary pointer is refused unless its bits happen to spell a live handle of the right
//!   type (a 1 in 2^56 chance for random bits);
//! - a handle whose slot was reused 2^32 times since it was freed would be taken for the new
//!   handle: the one case that goes undetected.
//!
//! The tag byte makes the token a non-canonical x86-64 address, so a C program that dereferences
//! a handle by mistake faults at once instead of corrupting memory.
//!
//! Lookups clone an `Arc` under a read lock, so a call that is running when another thread frees
//! the handle finishes on a live object; the object is dropped when the last call ends.

use std::collections::VecDeque;
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use crate::boundary::{CResult, Failure};

const INDEX_BITS: u32 = 24;
const GENERATION_BITS: u32 = 32;
const TAG_SHIFT: u32 = INDEX_BITS + GENERATION_BITS;
const INDEX_MASK: u64 = (1 << INDEX_BITS) - 1;
const GENERATION_MASK: u64 = (1 << GENERATION_BITS) - 1;
/// The most handles of one type alive at once.
const MAX_SLOTS: usize = (1 << INDEX_BITS) - 1;
/// Freed slots wait in a queue until this many are free, so a freed handle's slot is not
/// handed out again at once (the generation check would catch it anyway; this only makes a
/// stale handle point at an empty slot, which gives a clearer message).
const REUSE_AFTER: usize = 1024;

struct Slot<T> {
    generation: u32,
    value: Option<Arc<T>>,
}

struct Inner<T> {
    slots: Vec<Slot<T>>,
    free: VecDeque<u32>,
}

/// The live handles of one type.
pub(crate) struct HandleTable<T> {
    tag: u8,
    what: &'static str,
    inner: RwLock<Inner<T>>,
}

impl<T> HandleTable<T> {
    /// An empty table whose handles carry `tag` and are called `what` in messages.
    pub(crate) const fn new(tag: u8, what: &'static str) -> HandleTable<T> {
        HandleTable {
            tag,
            what,
            inner: RwLock::new(Inner {
                slots: Vec::new(),
                free: VecDeque::new(),
            }),
        }
    }

    fn read(&self) -> RwLockReadGuard<'_, Inner<T>> {
        // Nothing panics while the lock is held, but a poisoned table is still consistent.
        self.inner.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, Inner<T>> {
        self.inner.write().unwrap_or_else(|e| e.into_inner())
    }

    /// Stores `value` and returns its handle.
    pub(crate) fn insert(&self, value: T) -> CResult<usize> {
        let value = Arc::new(value);
        let mut inner = self.write();
        let index = if inner.free.len() >= REUSE_AFTER || inner.slots.len() >= MAX_SLOTS {
            match inner.free.pop_front() {
                Some(index) => index as usize,
                None => {
                    return Err(Failure::Core(zcopy::Error::Io {
                        op: "handle",
                        source: std::io::Error::from_raw_os_error(libc::EMFILE),
                    }))
                }
            }
        } else {
            inner.slots.push(Slot {
                generation: 1,
                value: None,
            });
            inner.slots.len() - 1
        };
        let slot = &mut inner.slots[index];
        slot.value = Some(value);
        Ok(self.encode(slot.generation, index))
    }

    fn encode(&self, generation: u32, index: usize) -> usize {
        let token =
            (u64::from(self.tag) << TAG_SHIFT) | (u64::from(generation) << INDEX_BITS) | (index as u64 + 1);
        token as usize
    }

    /// The slot index and generation a handle names, if it is of this table's type.
    fn decode(&self, handle: usize) -> CResult<(usize, u32)> {
        if handle == 0 {
            return Err(Failure::Null { param: self.what });
        }
        let token = handle as u64;
        let bad = |why| Failure::BadHandle { what: self.what, why };
        if (token >> TAG_SHIFT) as u8 != self.tag {
            return Err(bad("not a handle of this type"));
        }
        let index = (token & INDEX_MASK) as usize;
        if index == 0 {
            return Err(bad("not a handle of this type"));
        }
        Ok((index - 1, ((token >> INDEX_BITS) & GENERATION_MASK) as u32))
    }

    /// The object behind a live handle.
    pub(crate) fn get<P>(&self, handle: *const P) -> CResult<Arc<T>> {
        let (index, generation) = self.decode(handle as usize)?;
        let inner = self.read();
        match inner.slots.get(index) {
            Some(Slot {
                generation: g,
                value: Some(v),
            }) if *g == generation => Ok(Arc::clone(v)),
            Some(_) => Err(Failure::BadHandle {
                what: self.what,
                why: "already freed",
            }),
            None => Err(Failure::BadHandle {
                what: self.what,
                why: "never returned by zcopy",
            }),
        }
    }

    /// Frees a live handle and returns its object (dropped by the caller, or later by the last
    /// call still using it).
    pub(crate) fn remove<P>(&self, handle: *const P) -> CResult<Arc<T>> {
        let (index, generation) = self.decode(handle as usize)?;
        let mut inner = self.write();
        let taken = match inner.slots.get_mut(index) {
            Some(slot) if slot.generation == generation && slot.value.is_some() => {
                // Generation 0 is never used, so a wrapped counter cannot meet a zeroed token.
                slot.generation = slot.generation.wrapping_add(1).max(1);
                slot.value.take()
            }
            Some(_) => {
                return Err(Failure::BadHandle {
                    what: self.what,
                    why: "already freed",
                })
            }
            None => {
                return Err(Failure::BadHandle {
                    what: self.what,
                    why: "never returned by zcopy",
                })
            }
        };
        inner.free.push_back(index as u32);
        Ok(taken.expect("checked above"))
    }

    /// Frees a handle as every `zc_*_free` function does: NULL is accepted and ignored (`None`),
    /// anything else must be a live handle ([`HandleTable::remove`]).
    pub(crate) fn free<P>(&self, handle: *const P) -> CResult<Option<Arc<T>>> {
        if handle.is_null() {
            return Ok(None);
        }
        self.remove(handle).map(Some)
    }

    /// How many handles are alive (for tests).
    #[cfg(test)]
    pub(crate) fn live(&self) -> usize {
        self.read().slots.iter().filter(|s| s.value.is_some()).count()
    }
}

/// Turns a handle token into the opaque pointer type C sees.
pub(crate) fn to_ptr<P>(handle: usize) -> *mut P {
    std::ptr::without_provenance_mut(handle)
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Thing;

    #[test]
    fn freed_foreign_and_null_handles_are_refused() {
        static TABLE: HandleTable<u32> = HandleTable::new(0x7E, "thing");
        static OTHER: HandleTable<Thing> = HandleTable::new(0x7F, "other");
        let h = TABLE.insert(5).unwrap() as *const u8;
        assert_eq!(*TABLE.get(h).unwrap(), 5);
        let o = OTHER.insert(Thing).unwrap() as *const u8;
        assert!(matches!(TABLE.get(o), Err(Failure::BadHandle { .. })));
        assert!(matches!(
            TABLE.get(std::ptr::null::<u8>()),
            Err(Failure::Null { .. })
        ));
        let held = TABLE.get(h).unwrap();
        assert_eq!(*TABLE.remove(h).unwrap(), 5);
        assert_eq!(*held, 5, "a call in flight keeps its object");
        assert!(matches!(
            TABLE.get(h),
            Err(Failure::BadHandle {
                why: "already freed",
                ..
            })
        ));
        assert!(matches!(TABLE.remove(h), Err(Failure::BadHandle { .. })));
        let stack = 0u64;
        assert!(matches!(
            TABLE.get(&stack as *const u64),
            Err(Failure::BadHandle { .. })
        ));
        assert_eq!(TABLE.live(), 0);
        OTHER.remove(o).unwrap();
    }

    #[test]
    fn slots_are_reused_with_a_new_generation() {
        static TABLE: HandleTable<u32> = HandleTable::new(0x7D, "thing");
        let first = TABLE.insert(0).unwrap();
        TABLE.remove(first as *const u8).unwrap();
        let mut handles = Vec::new();
        for i in 0..(REUSE_AFTER as u32 + 10) {
            let h = TABLE.insert(i).unwrap();
            assert_ne!(h, first);
            handles.push(h);
            TABLE.remove(h as *const u8).unwrap();
        }
        assert!(matches!(
            TABLE.get(first as *const u8),
            Err(Failure::BadHandle { .. })
        ));
        assert!(TABLE.read().slots.len() <= REUSE_AFTER + 1, "slots are recycled");
    }
}
