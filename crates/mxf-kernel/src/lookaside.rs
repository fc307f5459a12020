//! The block pool: a `LOOKASIDE_LIST_EX` of `NonPagedPoolNx` entries.
//!
//! `ExAllocateFromLookasideListEx`/`ExFreeToLookasideListEx` are `FORCEINLINE` bodies in
//! `wdm.h` before Windows 11 22H2, so [`allocate_from`]/[`free_to`] re-implement them over the
//! exported S-list primitives: pop an entry, else count a miss and call the list's `AllocateEx`;
//! on free, push while the S-list is shallower than the list's `Depth` (which the system tunes,
//! and Driver Verifier forces to 0), else count a miss and call `FreeEx`. The header bumps the
//! counters with plain `+= 1`; here they are relaxed atomic adds (the counters are statistics,
//! but concurrent plain writes would be a data race in Rust).
//!
//! The list lives in its own pool allocation because the kernel links it into a global list of
//! lookaside lists (for depth balancing): it must never move.

use crate::sys::{LookasideListEx, SlistEntry, SlistHeader, slist_depth};
use core::ffi::c_void;
use core::ptr::addr_of_mut;
use core::sync::atomic::{AtomicU16, AtomicU32, AtomicU64, Ordering};

/// The interlocked S-list operations the fast paths are built on.
///
/// # Safety
/// Implementations are `InterlockedPopEntrySList`/`InterlockedPushEntrySList`: atomic LIFO
/// operations on an `SLIST_HEADER` that keep its depth in the low 16 bits of the first word.
pub unsafe trait SlistOps {
    /// Pops the first entry, or null when the list is empty.
    ///
    /// # Safety
    /// `head` is a valid, initialised, 16-byte-aligned `SLIST_HEADER`.
    unsafe fn pop(head: *mut SlistHeader) -> *mut SlistEntry;
    /// Pushes `entry`.
    ///
    /// # Safety
    /// As for [`SlistOps::pop`]; `entry` is 16-byte aligned, owned by the caller and becomes
    /// owned by the list.
    unsafe fn push(head: *mut SlistHeader, entry: *mut SlistEntry);
}

/// `ExAllocateFromLookasideListEx`.
///
/// # Safety
/// `list` points to a `LOOKASIDE_LIST_EX` initialised by `ExInitializeLookasideListEx` (so its
/// `AllocateEx` is set) and not yet deleted; IRQL <= `DISPATCH_LEVEL`.
pub unsafe fn allocate_from<S: SlistOps>(list: *mut LookasideListEx) -> *mut c_void {
    // SAFETY: `list` points to a live list (caller): the projection stays inside it and
    // creates no reference.
    let total = unsafe { addr_of_mut!((*list).l.total_allocates) };
    // SAFETY: the counters are 4-byte aligned u32 fields of the live list that other CPUs only
    // update with (interlocked or racy) 32-bit writes.
    let total = unsafe { AtomicU32::from_ptr(total) };
    total.fetch_add(1, Ordering::Relaxed);
    // SAFETY: as for `total_allocates`, a projection inside the live list.
    let head = unsafe { addr_of_mut!((*list).l.list_head) };
    // SAFETY: the header is the list's own, initialised and 16-byte aligned (`LookasideListEx`
    // is `align(16)` and the list head is at offset 0); IRQL <= DISPATCH_LEVEL (caller).
    let entry = unsafe { S::pop(head) };
    if !entry.is_null() {
        return entry.cast();
    }
    // SAFETY: as for `total_allocates`, a projection inside the live list.
    let misses = unsafe { addr_of_mut!((*list).l.allocate_misses) };
    // SAFETY: as for `total_allocates`, an aligned u32 counter updated with 32-bit writes.
    let misses = unsafe { AtomicU32::from_ptr(misses) };
    misses.fetch_add(1, Ordering::Relaxed);
    // SAFETY: `list` is a live list (caller) and these fields are written only by
    // ExInitializeLookasideListEx, so a read of the initialised value races no writer.
    let alloc = unsafe { (*list).l.allocate_ex };
    // SAFETY: as above, an initialisation-only field of the live list.
    let pool_type = unsafe { (*list).l.pool_type };
    // SAFETY: as above, an initialisation-only field of the live list.
    let size = unsafe { (*list).l.size };
    // SAFETY: as above, an initialisation-only field of the live list.
    let tag = unsafe { (*list).l.tag };
    match alloc {
        // SAFETY: the callback was installed by ExInitializeLookasideListEx (ours or the
        // system default) for exactly this call shape, callable at IRQL <= DISPATCH_LEVEL.
        Some(f) => unsafe { f(pool_type, size as usize, tag, list) },
        None => core::ptr::null_mut(),
    }
}

/// `ExFreeToLookasideListEx`.
///
/// # Safety
/// As for [`allocate_from`]; `entry` came from [`allocate_from`] on the same list, is at least
/// `sizeof(SLIST_ENTRY)` bytes, 16-byte aligned, and is not used afterwards.
pub unsafe fn free_to<S: SlistOps>(list: *mut LookasideListEx, entry: *mut c_void) {
    // SAFETY: `list` points to a live list (caller): the projection stays inside it and
    // creates no reference.
    let total = unsafe { addr_of_mut!((*list).l.total_frees) };
    // SAFETY: an aligned u32 counter of the live list, updated with 32-bit writes only (see
    // `allocate_from`).
    let total = unsafe { AtomicU32::from_ptr(total) };
    total.fetch_add(1, Ordering::Relaxed);
    // SAFETY: as for `total_frees`, a projection inside the live list.
    let first = unsafe { addr_of_mut!((*list).l.list_head.alignment) };
    // SAFETY: the header's first word is an aligned u64 changed only by interlocked operations;
    // `ExQueryDepthSList` reads it the same way (one aligned load).
    let first = unsafe { AtomicU64::from_ptr(first) };
    // SAFETY: as for `total_frees`, a projection inside the live list.
    let depth = unsafe { addr_of_mut!((*list).l.depth) };
    // SAFETY: `Depth` is an aligned u16 the system's balancer rewrites concurrently.
    let depth = unsafe { AtomicU16::from_ptr(depth) };
    if slist_depth(first.load(Ordering::Relaxed)) >= depth.load(Ordering::Relaxed) {
        // SAFETY: as for `total_frees`, a projection inside the live list.
        let misses = unsafe { addr_of_mut!((*list).l.free_misses) };
        // SAFETY: as for `total_frees`, an aligned u32 counter updated with 32-bit writes.
        let misses = unsafe { AtomicU32::from_ptr(misses) };
        misses.fetch_add(1, Ordering::Relaxed);
        // SAFETY: written only at initialisation.
        if let Some(f) = unsafe { (*list).l.free_ex } {
            // SAFETY: the callback installed by ExInitializeLookasideListEx frees an entry that
            // its AllocateEx produced; the caller hands over `entry`.
            unsafe { f(entry, list) };
        }
    } else {
        // SAFETY: as for `total_frees`, a projection inside the live list.
        let head = unsafe { addr_of_mut!((*list).l.list_head) };
        // SAFETY: the list's own initialised, 16-byte aligned header; the caller hands over
        // `entry`, which is 16-byte aligned and large enough to hold the link.
        unsafe { S::push(head, entry.cast()) };
    }
}

#[cfg(windows)]
pub use kernel::{KernelBlockPool, KernelSlist};

#[cfg(windows)]
mod kernel {
    use super::*;
    use crate::sys::{self, NON_PAGED_POOL_NX, POOL_FLAG_NON_PAGED};
    use core::cell::UnsafeCell;
    use core::ptr::NonNull;
    use mxf_abi::nt_success;
    use mxf_core::platform::{BlockPool, BlockPoolStats, PoolTag};

    /// The exported S-list primitives of ntoskrnl (x64).
    pub struct KernelSlist;

    // SAFETY: these are exactly what `InterlockedPopEntrySList`/`InterlockedPushEntrySList`
    // expand to in the x64 kernel headers.
    unsafe impl SlistOps for KernelSlist {
        unsafe fn pop(head: *mut SlistHeader) -> *mut SlistEntry {
            // SAFETY: the caller passes a valid, aligned, initialised header; callable at
            // IRQL <= DISPATCH_LEVEL.
            unsafe { sys::ntoskrnl::ExpInterlockedPopEntrySList(head) }
        }

        unsafe fn push(head: *mut SlistHeader, entry: *mut SlistEntry) {
            // SAFETY: as for `pop`; the caller hands over an aligned entry.
            unsafe { sys::ntoskrnl::ExpInterlockedPushEntrySList(head, entry) };
        }
    }

    /// The list and our own counter, in one pool allocation that never moves.
    #[repr(C)]
    struct Shared {
        /// Mutated by the kernel (other CPUs, the balancer) behind any `&Shared`.
        list: UnsafeCell<LookasideListEx>,
        failures: AtomicU64,
        block_size: usize,
    }

    /// A [`BlockPool`] over a `LOOKASIDE_LIST_EX` in `NonPagedPoolNx`.
    pub struct KernelBlockPool {
        shared: NonNull<Shared>,
        tag: PoolTag,
    }

    // SAFETY: the list is the kernel's interlocked structure, usable from any CPU; our counter
    // is atomic; the pool owns the allocation exclusively.
    unsafe impl Send for KernelBlockPool {}
    // SAFETY: every `&self` operation is an interlocked list operation or an atomic.
    unsafe impl Sync for KernelBlockPool {}

    impl KernelBlockPool {
        /// A pool of `block_size`-byte blocks tagged `tag`. `PASSIVE_LEVEL` (allowed up to
        /// `DISPATCH_LEVEL` by the kernel, but the platform seam promises `PASSIVE_LEVEL`).
        pub fn new(block_size: usize, tag: PoolTag) -> Result<Self, mxf_abi::NtError> {
            // Entries double as SLIST_ENTRYs while on the list.
            let entry_size = block_size.max(core::mem::size_of::<SlistEntry>());
            if u32::try_from(entry_size).is_err() {
                return Err(mxf_abi::NtError::INVALID_PARAMETER);
            }
            // SAFETY: ExAllocatePool2 with POOL_FLAG_NON_PAGED at IRQL <= DISPATCH_LEVEL returns
            // zeroed, 16-byte-aligned nonpaged NX memory or null.
            let raw = unsafe {
                sys::ntoskrnl::ExAllocatePool2(
                    POOL_FLAG_NON_PAGED,
                    core::mem::size_of::<Shared>(),
                    tag.0,
                )
            };
            let shared = NonNull::new(raw.cast::<Shared>())
                .ok_or(mxf_abi::NtError::INSUFFICIENT_RESOURCES)?;
            let s = shared.as_ptr();
            // SAFETY: `s` is a fresh allocation of a `Shared`: the projection stays inside it.
            let failures = unsafe { addr_of_mut!((*s).failures) };
            // SAFETY: `failures` is a field of the fresh, exclusively owned allocation of the
            // right size and (pool: 16) alignment, written before the list is initialised.
            unsafe { failures.write(AtomicU64::new(0)) };
            // SAFETY: as for `failures`, a projection inside the fresh allocation.
            let size_field = unsafe { addr_of_mut!((*s).block_size) };
            // SAFETY: as for `failures`, an aligned field of the exclusively owned allocation.
            unsafe { size_field.write(block_size) };
            // SAFETY: as for `failures`, a projection inside the fresh allocation.
            let list = unsafe { addr_of_mut!((*s).list) };
            // SAFETY: the list storage is nonpaged, 16-byte aligned and will not move until
            // ExDeleteLookasideListEx; null callbacks select the system's pool callbacks;
            // Flags 0 = return null on failure (no raise); Depth must be 0.
            let status = unsafe {
                sys::ntoskrnl::ExInitializeLookasideListEx(
                    list.cast::<LookasideListEx>(),
                    None,
                    None,
                    NON_PAGED_POOL_NX,
                    0,
                    entry_size,
                    tag.0,
                    0,
                )
            };
            if !nt_success(status) {
                // SAFETY: allocated above with this tag; the list was not initialised, so
                // nothing else refers to the memory.
                unsafe { sys::ntoskrnl::ExFreePoolWithTag(shared.as_ptr().cast(), tag.0) };
                return Err(mxf_abi::NtError::or_unsuccessful(status));
            }
            Ok(Self { shared, tag })
        }

        fn list(&self) -> *mut LookasideListEx {
            self.shared().list.get()
        }

        fn shared(&self) -> &Shared {
            // SAFETY: the allocation is valid and initialised from `new` until drop; the part
            // the kernel mutates is inside an UnsafeCell and the rest is atomic or immutable.
            unsafe { self.shared.as_ref() }
        }
    }

    impl BlockPool for KernelBlockPool {
        fn block_size(&self) -> usize {
            self.shared().block_size
        }

        fn alloc(&self) -> Option<NonNull<u8>> {
            // SAFETY: the list was initialised in `new` and is deleted only in drop.
            let p = unsafe { allocate_from::<KernelSlist>(self.list()) };
            let p = NonNull::new(p.cast::<u8>());
            if p.is_none() {
                self.shared().failures.fetch_add(1, Ordering::Relaxed);
            }
            p
        }

        unsafe fn free(&self, block: NonNull<u8>) {
            // SAFETY: the caller guarantees the block came from `alloc` of this pool and is not
            // used again; entries are pool memory (16-byte aligned) of >= 16 bytes.
            unsafe { free_to::<KernelSlist>(self.list(), block.as_ptr().cast()) }
        }

        fn stats(&self) -> BlockPoolStats {
            let l = self.list();
            // SAFETY: the counters are aligned u32 fields of the live list.
            let read =
                |p: *mut u32| u64::from(unsafe { AtomicU32::from_ptr(p) }.load(Ordering::Relaxed));
            // SAFETY: a field projection of the list, live from `new` to drop (no reference
            // created).
            let ta = unsafe { addr_of_mut!((*l).l.total_allocates) };
            // SAFETY: as for `ta`, a projection inside the live list.
            let am = unsafe { addr_of_mut!((*l).l.allocate_misses) };
            // SAFETY: as for `ta`, a projection inside the live list.
            let tf = unsafe { addr_of_mut!((*l).l.total_frees) };
            // SAFETY: as for `ta`, a projection inside the live list.
            let fm = unsafe { addr_of_mut!((*l).l.free_misses) };
            BlockPoolStats {
                allocs: read(ta),
                alloc_misses: read(am),
                frees: read(tf),
                free_misses: read(fm),
                failures: self.shared().failures.load(Ordering::Relaxed),
            }
        }
    }

    impl Drop for KernelBlockPool {
        fn drop(&mut self) {
            // SAFETY: the list is initialised and, by the BlockPool contract, every block handed
            // out has been freed; ExDeleteLookasideListEx frees the entries on the list and
            // unlinks it (IRQL <= DISPATCH_LEVEL).
            unsafe { sys::ntoskrnl::ExDeleteLookasideListEx(self.list()) };
            // SAFETY: the list is deleted, so nothing refers to the allocation any more; it
            // came from ExAllocatePool2 with `self.tag` (IRQL <= DISPATCH_LEVEL as above).
            unsafe { sys::ntoskrnl::ExFreePoolWithTag(self.shared.as_ptr().cast(), self.tag.0) };
        }
    }
}

#[cfg(test)]
mod tests {
    //! The fast paths against a single-threaded model S-list (region = head pointer, low 16
    //! bits of the first word = depth) and counting callbacks.
    extern crate std;
    use super::*;
    use crate::sys::{GeneralLookasidePool, ListEntry};
    use std::boxed::Box;
    use std::cell::Cell;
    use std::vec::Vec;

    struct ModelSlist;

    // SAFETY: single-threaded tests only; keeps the depth in the low 16 bits like the kernel.
    unsafe impl SlistOps for ModelSlist {
        unsafe fn pop(head: *mut SlistHeader) -> *mut SlistEntry {
            // SAFETY: tests pass a live header nothing else touches during the call.
            let head = unsafe { &mut *head };
            let first = head.region as *mut SlistEntry;
            if !first.is_null() {
                // SAFETY: a non-null region is a live entry pushed by the test and owned by
                // the list.
                head.region = unsafe { (*first).next } as u64;
                head.alignment -= 1;
            }
            first
        }

        unsafe fn push(head: *mut SlistHeader, entry: *mut SlistEntry) {
            // SAFETY: as for `pop`, a live header nothing else touches during the call.
            let head = unsafe { &mut *head };
            // SAFETY: `entry` is a live entry the caller hands over (no one else uses it).
            unsafe { (*entry).next = head.region as *mut SlistEntry };
            head.region = entry as u64;
            head.alignment += 1;
        }
    }

    std::thread_local! {
        static ALLOCATED: Cell<usize> = const { Cell::new(0) };
        static FREED: Cell<usize> = const { Cell::new(0) };
        static FAIL: Cell<bool> = const { Cell::new(false) };
    }

    unsafe extern "system" fn test_alloc(
        _t: i32,
        size: usize,
        tag: u32,
        _l: *mut LookasideListEx,
    ) -> *mut c_void {
        assert_eq!(size, 16);
        assert_eq!(tag, 0x7473_6554);
        if FAIL.get() {
            return core::ptr::null_mut();
        }
        ALLOCATED.set(ALLOCATED.get() + 1);
        Box::into_raw(Box::new(SlistEntry {
            next: core::ptr::null_mut(),
        }))
        .cast()
    }

    unsafe extern "system" fn test_free(p: *mut c_void, _l: *mut LookasideListEx) {
        FREED.set(FREED.get() + 1);
        // SAFETY: every entry in these tests came from `test_alloc`.
        drop(unsafe { Box::from_raw(p.cast::<SlistEntry>()) });
    }

    fn list(depth: u16) -> Box<LookasideListEx> {
        Box::new(LookasideListEx {
            l: GeneralLookasidePool {
                list_head: SlistHeader {
                    alignment: 0,
                    region: 0,
                },
                depth,
                maximum_depth: 256,
                total_allocates: 0,
                allocate_misses: 0,
                total_frees: 0,
                free_misses: 0,
                pool_type: crate::sys::NON_PAGED_POOL_NX,
                tag: 0x7473_6554,
                size: 16,
                allocate_ex: Some(test_alloc),
                free_ex: Some(test_free),
                list_entry: ListEntry {
                    flink: core::ptr::null_mut(),
                    blink: core::ptr::null_mut(),
                },
                last_total_allocates: 0,
                last_allocate_misses: 0,
                future: [0; 2],
            },
        })
    }

    fn drain(l: &mut LookasideListEx) {
        loop {
            // SAFETY: a live model header, this thread's only.
            let e = unsafe { ModelSlist::pop(&mut l.l.list_head) };
            if e.is_null() {
                break;
            }
            // SAFETY: the model list holds entries from `test_alloc`, each popped once.
            unsafe { test_free(e.cast(), l) };
        }
    }

    #[test]
    fn frees_are_kept_up_to_depth_then_returned_to_pool() {
        let mut l = list(2);
        let lp: *mut LookasideListEx = &mut *l;
        // SAFETY: `lp` is a live, initialised model list on this thread.
        let blocks: Vec<_> = (0..3)
            .map(|_| unsafe { allocate_from::<ModelSlist>(lp) })
            .collect();
        assert!(blocks.iter().all(|b| !b.is_null()));
        assert_eq!(
            (l.l.total_allocates, l.l.allocate_misses, ALLOCATED.get()),
            (3, 3, 3)
        );
        for b in blocks {
            // SAFETY: each block came from this list and is freed once.
            unsafe { free_to::<ModelSlist>(lp, b) };
        }
        // Depth 2: two kept on the list, the third went to FreeEx.
        assert_eq!((l.l.total_frees, l.l.free_misses, FREED.get()), (3, 1, 1));
        assert_eq!(slist_depth(l.l.list_head.alignment), 2);
        // The next two allocations hit the list (no new AllocateEx call), LIFO.
        // SAFETY: as above.
        let a = unsafe { allocate_from::<ModelSlist>(lp) };
        // SAFETY: as above.
        let b = unsafe { allocate_from::<ModelSlist>(lp) };
        assert!(!a.is_null() && !b.is_null() && a != b);
        assert_eq!(
            (l.l.total_allocates, l.l.allocate_misses, ALLOCATED.get()),
            (5, 3, 3)
        );
        // SAFETY: as above, `a` came from this list and is freed once.
        unsafe { free_to::<ModelSlist>(lp, a) };
        // SAFETY: as above, `b` came from this list and is freed once.
        unsafe { free_to::<ModelSlist>(lp, b) };
        drain(&mut l);
        assert_eq!(ALLOCATED.get(), FREED.get());
    }

    #[test]
    fn depth_zero_sends_every_free_to_pool_as_under_verifier() {
        let mut l = list(0);
        let lp: *mut LookasideListEx = &mut *l;
        for _ in 0..4 {
            // SAFETY: `lp` is a live, initialised model list on this thread.
            let b = unsafe { allocate_from::<ModelSlist>(lp) };
            // SAFETY: `b` came from this list and is freed once.
            unsafe { free_to::<ModelSlist>(lp, b) };
        }
        assert_eq!((l.l.allocate_misses, l.l.free_misses), (4, 4));
        assert_eq!((ALLOCATED.get(), FREED.get()), (4, 4));
        assert_eq!(slist_depth(l.l.list_head.alignment), 0);
    }

    #[test]
    fn allocation_failure_returns_null_and_counts_a_miss() {
        let mut l = list(4);
        let lp: *mut LookasideListEx = &mut *l;
        FAIL.set(true);
        // SAFETY: live model list.
        let p = unsafe { allocate_from::<ModelSlist>(lp) };
        FAIL.set(false);
        assert!(p.is_null());
        assert_eq!((l.l.total_allocates, l.l.allocate_misses), (1, 1));
        l.l.allocate_ex = None;
        // SAFETY: live model list; a list without a callback yields null.
        assert!(unsafe { allocate_from::<ModelSlist>(lp) }.is_null());
    }
}
