//! Bad calls through our `IAllocatorMXF` vtable, made exactly as a C caller makes them
//! (`this->lpVtbl->PutMessage(this, ...)`), stop the system with the documented bug check.
//!
//! A bug check inside an `extern "system"` slot cannot unwind out of it (the process would
//! abort), so each case runs in a child process through
//! [`mxf_testkit::subprocess::expect_bugcheck_in_child`], which reports the bug check the child
//! died with. `alloc_bugcheck.rs` covers the same refusals in-process through the Rust-ABI
//! twins of the slots; this file proves the vtable path reaches them.
//!
//! Addresses differ between the child and the parent (ASLR), so pointer parameters are
//! checked for shape (non-null, 16-aligned), everything else exactly.

mod alloc_support;

use alloc_support::{emu, emu_verifier, small_cfg};
use mxf_abi::*;
use mxf_core::alloc::header::{Kind, STATE_FREE, Word};
use mxf_core::alloc::{AllocatorConfig, TAG_RESERVE, new_allocator};
use mxf_core::platform::bugcheck::*;
use mxf_core::platform::{Irql, LogLevel, NON_PAGED_POOL_NX, Platform, PoolTag, TimerCallback};
use mxf_kemu::{Emu, EmuBlockPool, EmuSpinLock, EmuTimer, Routine, c2, c4};
use mxf_testkit::subprocess::{BugCheckReport, expect_bugcheck_in_child};
use std::ffi::c_void;
use std::fmt;
use std::ptr::{self, NonNull};
use std::sync::Arc;
use std::sync::atomic::{AtomicPtr, Ordering};

/// `HIGH_LEVEL`.
const HIGH_LEVEL: Irql = 15;
/// A block of the event pool: 16-byte header + `DMUS_KERNEL_EVENT`.
const EVENT_BLOCK: usize = 16 + DMUS_KERNEL_EVENT_SIZE;

/// A new allocator as a C caller holds it: a bare interface pointer owning one reference
/// (never released: every child dies at its bug check).
fn raw_allocator<P: Platform>(platform: P, cfg: AllocatorConfig) -> *mut IAllocatorMxf {
    new_allocator(platform, cfg)
        .expect("new_allocator")
        .into_raw()
        .as_ptr()
}

/// `this->lpVtbl`.
///
/// # Safety
/// `p` is a live `IAllocatorMXF`.
unsafe fn vtbl<'a>(p: *mut IAllocatorMxf) -> &'a IAllocatorMxfVtbl {
    // SAFETY: `p` is live (the caller's promise); a COM object's first field is its vtable
    // pointer.
    let table = unsafe { (*p).vtbl };
    // SAFETY: an allocator's vtable is a static `IAllocatorMxfVtbl`.
    unsafe { &*table }
}

/// `GetMessage` through the vtable; asserts success.
///
/// # Safety
/// `p` is a live `IAllocatorMXF`.
unsafe fn get_message(p: *mut IAllocatorMxf) -> *mut DmusKernelEvent {
    let mut e = ptr::null_mut();
    // SAFETY: `p` is a live `IAllocatorMXF` (the caller's promise).
    let v = unsafe { vtbl(p) };
    // SAFETY: the slot of `p`'s own vtable; `e` is a valid out-pointer.
    let st = unsafe { (v.get_message)(p, &mut e) };
    assert!(st == STATUS_SUCCESS && !e.is_null(), "GetMessage: {st:?}");
    e
}

/// `GetBuffer` through the vtable; asserts success.
///
/// # Safety
/// `p` is a live `IAllocatorMXF`.
unsafe fn get_buffer(p: *mut IAllocatorMxf) -> *mut u8 {
    let mut b = ptr::null_mut();
    // SAFETY: `p` is a live `IAllocatorMXF` (the caller's promise).
    let v = unsafe { vtbl(p) };
    // SAFETY: the slot of `p`'s own vtable; `b` is a valid out-pointer.
    let st = unsafe { (v.get_buffer)(p, &mut b) };
    assert!(st == STATUS_SUCCESS && !b.is_null(), "GetBuffer: {st:?}");
    b
}

#[track_caller]
fn assert_pointer(r: &BugCheckReport, i: usize) {
    let p = r.params[i];
    assert!(
        p != 0 && p.is_multiple_of(16),
        "p{} = {p:#x} is not a block: {r}",
        i + 1
    );
}

#[repr(C, align(16))]
struct Fake([u64; 8]);

#[test]
fn put_message_of_a_foreign_event_is_bad_pool_caller_foreign() {
    let r = expect_bugcheck_in_child(
        "put_message_of_a_foreign_event_is_bad_pool_caller_foreign",
        || {
            let p = raw_allocator(emu(), small_cfg());
            // 16 bytes that are not one of our headers, then a zeroed "event".
            let mut fake = Fake([0; 8]);
            fake.0[0] = 0x5A5A_5A5A_5A5A_5A5A;
            fake.0[1] = 0x5A5A_5A5A_5A5A_5A5A;
            let foreign = (&raw mut fake.0[2]).cast::<DmusKernelEvent>();
            // SAFETY: a live allocator.
            let v = unsafe { vtbl(p) };
            // SAFETY: the 16 bytes in front of `foreign` are readable. The foreign event is
            // the bug under test.
            unsafe { (v.base.put_message)(p.cast(), foreign) };
        },
    );
    assert_eq!(r.code, BAD_POOL_CALLER, "{r}");
    assert_eq!(r.params[0], c2::FOREIGN, "{r}");
    assert_pointer(&r, 1);
    assert_eq!(r.params[2], 0x5A5A_5A5A_5A5A_5A5A, "the word in front: {r}");
    assert_eq!(r.params[3], Kind::Event as usize, "{r}");
}

#[test]
fn put_message_of_the_same_event_twice_is_a_double_free() {
    let r = expect_bugcheck_in_child(
        "put_message_of_the_same_event_twice_is_a_double_free",
        || {
            let p = raw_allocator(emu(), small_cfg());
            // SAFETY: a live allocator.
            let e = unsafe { get_message(p) };
            // SAFETY: a live allocator.
            let put = unsafe { vtbl(p) }.base.put_message;
            // SAFETY: the event is ours, put once legitimately.
            assert_eq!(unsafe { put(p.cast(), e) }, STATUS_SUCCESS);
            // SAFETY: the same event again is the bug under test (a reserve block stays
            // allocated, so the header is still readable).
            unsafe { put(p.cast(), e) };
        },
    );
    assert_eq!(r.code, BAD_POOL_CALLER, "{r}");
    assert_eq!(r.params[0], c2::DOUBLE_FREE, "{r}");
    assert_pointer(&r, 1);
    let word = Word(r.params[2] as u64);
    assert_eq!(word.state(), STATE_FREE, "{r}");
    assert_eq!(word.kind(), Kind::Event as u8, "{r}");
    assert_eq!(word.slot(), 0, "the first reserve slot handed out: {r}");
    assert_eq!(r.params[3], Kind::Event as usize, "{r}");
}

#[test]
fn put_buffer_twice_is_a_double_free() {
    let r = expect_bugcheck_in_child("put_buffer_twice_is_a_double_free", || {
        let p = raw_allocator(emu(), small_cfg());
        // SAFETY: a live allocator.
        let b = unsafe { get_buffer(p) };
        // SAFETY: a live allocator.
        let v = unsafe { vtbl(p) };
        // SAFETY: our buffer, put once legitimately.
        assert_eq!(unsafe { (v.put_buffer)(p, b) }, STATUS_SUCCESS);
        // SAFETY: the same buffer again is the bug under test (a reserve block stays
        // allocated, so the header is still readable).
        unsafe { (v.put_buffer)(p, b) };
    });
    assert_eq!(r.code, BAD_POOL_CALLER, "{r}");
    assert_eq!(r.params[0], c2::DOUBLE_FREE, "{r}");
    assert_pointer(&r, 1);
    let word = Word(r.params[2] as u64);
    assert_eq!(
        (word.state(), word.kind()),
        (STATE_FREE, Kind::Buffer as u8)
    );
    assert_eq!(r.params[3], Kind::Buffer as usize, "{r}");
}

#[test]
fn a_one_byte_overrun_then_put_buffer_is_special_pool_corruption() {
    let r = expect_bugcheck_in_child(
        "a_one_byte_overrun_then_put_buffer_is_special_pool_corruption",
        || {
            // No buffer reserve: the buffer is a block-pool block, checked when freed.
            let cfg = AllocatorConfig {
                reserve_buffers: 0,
                ..small_cfg()
            };
            let p = raw_allocator(emu(), cfg);
            // SAFETY: a live allocator.
            let b = unsafe { get_buffer(p) };
            // SAFETY: a live allocator.
            let v = unsafe { vtbl(p) };
            // SAFETY: the slot of `p`'s own vtable.
            assert_eq!(unsafe { (v.get_buffer_size)(p) }, 64);
            // The write one byte past the 64 usable bytes is the bug under test and lands in
            // the special pool's guard bytes (memory the emulator owns and checks).
            let past = b.wrapping_add(64);
            // SAFETY: the guard byte is allocated and writable (see above).
            unsafe { past.write(0) };
            // SAFETY: our buffer, given back once.
            unsafe { (v.put_buffer)(p, b) };
        },
    );
    assert_eq!(r.code, SPECIAL_POOL_DETECTED_MEMORY_CORRUPTION, "{r}");
    // p1 the block (header included), p2 its size, p3 the offset written, p4 0x20 = overrun.
    assert_pointer(&r, 0);
    assert_eq!(r.params[1..], [16 + 64, 16 + 64, 0x20], "{r}");
}

#[test]
fn get_message_above_dispatch_level_that_needs_the_pool_is_bad_pool_caller() {
    let r = expect_bugcheck_in_child(
        "get_message_above_dispatch_level_that_needs_the_pool_is_bad_pool_caller",
        || {
            // No event reserve: every GetMessage allocates from the block pool.
            let emu = emu();
            let cfg = AllocatorConfig {
                reserve_events: 0,
                ..small_cfg()
            };
            let p = raw_allocator(emu.clone(), cfg);
            emu.raise_irql(HIGH_LEVEL);
            let mut e = ptr::null_mut();
            // SAFETY: a live allocator.
            let v = unsafe { vtbl(p) };
            // SAFETY: a valid out-pointer; the IRQL is the bug under test.
            unsafe { (v.get_message)(p, &mut e) };
        },
    );
    assert_eq!(r.code, BAD_POOL_CALLER, "{r}");
    assert_eq!(
        r.params,
        [
            c2::ALLOC_IRQL,
            HIGH_LEVEL.into(),
            NON_PAGED_POOL_NX,
            EVENT_BLOCK
        ],
        "{r}"
    );
}

#[test]
fn get_message_above_dispatch_level_under_verifier_is_the_verifier_irql_check() {
    let r = expect_bugcheck_in_child(
        "get_message_above_dispatch_level_under_verifier_is_the_verifier_irql_check",
        || {
            let emu = emu_verifier();
            let cfg = AllocatorConfig {
                reserve_events: 0,
                ..small_cfg()
            };
            let p = raw_allocator(emu.clone(), cfg);
            emu.raise_irql(3);
            let mut e = ptr::null_mut();
            // SAFETY: a live allocator.
            let v = unsafe { vtbl(p) };
            // SAFETY: a valid out-pointer; the IRQL is the bug under test.
            unsafe { (v.get_message)(p, &mut e) };
        },
    );
    assert_eq!(r.code, DRIVER_VERIFIER_DETECTED_VIOLATION, "{r}");
    assert_eq!(
        r.params,
        [c4::ALLOC_IRQL, 3, NON_PAGED_POOL_NX, EVENT_BLOCK],
        "{r}"
    );
}

#[test]
fn get_message_above_dispatch_level_served_by_the_reserve_is_bad_pool_caller_too() {
    let r = expect_bugcheck_in_child(
        "get_message_above_dispatch_level_served_by_the_reserve_is_bad_pool_caller_too",
        || {
            // The reserve has events: the block pool would not be needed.
            let emu = emu();
            let p = raw_allocator(emu.clone(), small_cfg());
            emu.raise_irql(HIGH_LEVEL);
            let mut e = ptr::null_mut();
            // SAFETY: a live allocator.
            let v = unsafe { vtbl(p) };
            // SAFETY: a valid out-pointer; the IRQL is the bug under test.
            unsafe { (v.get_message)(p, &mut e) };
        },
    );
    assert_eq!(r.code, BAD_POOL_CALLER, "{r}");
    assert_eq!(
        r.params,
        [
            c2::ALLOC_IRQL,
            HIGH_LEVEL.into(),
            NON_PAGED_POOL_NX,
            EVENT_BLOCK
        ],
        "{r}"
    );
}

#[test]
fn put_buffer_of_a_reserve_buffer_above_dispatch_level_under_verifier_is_bad_pool_caller() {
    let r = expect_bugcheck_in_child(
        "put_buffer_of_a_reserve_buffer_above_dispatch_level_under_verifier_is_bad_pool_caller",
        || {
            let emu = emu_verifier();
            let p = raw_allocator(emu.clone(), small_cfg());
            let mut b = ptr::null_mut();
            // SAFETY: a live allocator.
            let v = unsafe { vtbl(p) };
            // SAFETY: a valid out-pointer.
            unsafe { (v.get_buffer)(p, &mut b) };
            emu.raise_irql(3);
            // SAFETY: our buffer; the IRQL is the bug under test.
            unsafe { (v.put_buffer)(p, b) };
        },
    );
    assert_eq!(r.code, BAD_POOL_CALLER, "{r}");
    assert_pointer(&r, 3);
    assert_eq!(r.params[..3], [c2::FREE_IRQL, 3, NON_PAGED_POOL_NX], "{r}");
}

#[test]
fn the_final_release_above_passive_level_stops_when_it_deletes_the_block_pools() {
    // Deleting a block pool is PASSIVE_LEVEL-only on the platform seam, and the final
    // Release deletes two: a caller must not drop its last reference at raised IRQL.
    let r = expect_bugcheck_in_child(
        "the_final_release_above_passive_level_stops_when_it_deletes_the_block_pools",
        || {
            let emu = emu();
            let p = raw_allocator(emu.clone(), small_cfg());
            emu.raise_irql(mxf_core::platform::DISPATCH_LEVEL);
            // SAFETY: a live allocator.
            let v = unsafe { vtbl(p) };
            // SAFETY: the creator's one reference, given up; the IRQL is the bug under test.
            unsafe { (v.base.base.release)(p.cast()) };
        },
    );
    assert_eq!(r.code, DRIVER_VERIFIER_DETECTED_VIOLATION, "{r}");
    assert_eq!(
        r.params,
        [c4::KEMU_PASSIVE_ONLY, 2, 0, Routine::DropBlockPool as usize],
        "{r}"
    );
}

/// The emulator, plus one hook: the first free of a reserve slot array — which happens only
/// inside the final `Release`, after the count reached zero and before the object's memory
/// is freed — calls `Release` once more through the vtable, as a caller on another CPU
/// holding a reference too many would.
#[derive(Clone)]
struct ReleaseDuringTeardown {
    emu: Emu,
    victim: Arc<AtomicPtr<IUnknown>>,
}

impl Platform for ReleaseDuringTeardown {
    type BlockPool = EmuBlockPool;
    type RawSpinLock = EmuSpinLock;
    type Timer = EmuTimer;

    fn current_irql(&self) -> Irql {
        self.emu.current_irql()
    }
    fn raise_irql(&self, new: Irql) -> Irql {
        self.emu.raise_irql(new)
    }
    fn lower_irql(&self, old: Irql) {
        self.emu.lower_irql(old)
    }
    fn processor_count(&self) -> u32 {
        self.emu.processor_count()
    }
    fn current_processor(&self) -> u32 {
        self.emu.current_processor()
    }
    fn pool_alloc(&self, size: usize, tag: PoolTag) -> Option<NonNull<u8>> {
        self.emu.pool_alloc(size, tag)
    }
    unsafe fn pool_free(&self, p: NonNull<u8>, tag: PoolTag) {
        if tag == TAG_RESERVE {
            let victim = self.victim.swap(ptr::null_mut(), Ordering::Relaxed);
            if !victim.is_null() {
                // SAFETY: the object is being destroyed but its memory is still allocated
                // (it is freed last), so its vtable pointer is readable.
                let table = unsafe { (*victim).vtbl };
                // SAFETY: the static vtable, still valid.
                let release = unsafe { (*table).release };
                // SAFETY: as above; the extra Release is the bug under test.
                unsafe { release(victim) };
            }
        }
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { self.emu.pool_free(p, tag) }
    }
    fn new_block_pool(
        &self,
        block_size: usize,
        tag: PoolTag,
    ) -> Result<EmuBlockPool, mxf_abi::NtError> {
        self.emu.new_block_pool(block_size, tag)
    }
    fn new_spin_lock(&self) -> EmuSpinLock {
        self.emu.new_spin_lock()
    }
    unsafe fn new_timer(
        &self,
        callback: TimerCallback,
        context: *const c_void,
    ) -> Result<EmuTimer, mxf_abi::NtError> {
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { self.emu.new_timer(callback, context) }
    }
    fn now_100ns(&self) -> i64 {
        Platform::now_100ns(&self.emu)
    }
    fn system_time_100ns(&self) -> i64 {
        Platform::system_time_100ns(&self.emu)
    }
    fn log(&self, level: LogLevel, args: fmt::Arguments<'_>) {
        self.emu.log(level, args)
    }
    fn bug_check(&self, code: u32, params: [usize; 4]) -> ! {
        self.emu.bug_check(code, params)
    }
}

#[test]
fn a_release_while_the_last_release_tears_down_is_reference_by_pointer() {
    // The detectable "Release below zero" (see the alloc module docs): the count is already
    // zero and the object not yet freed. Once its memory is freed, a further Release reads
    // freed memory, which only the platform can catch.
    let r = expect_bugcheck_in_child(
        "a_release_while_the_last_release_tears_down_is_reference_by_pointer",
        || {
            let victim = Arc::new(AtomicPtr::new(ptr::null_mut()));
            let platform = ReleaseDuringTeardown {
                emu: emu(),
                victim: Arc::clone(&victim),
            };
            let p = raw_allocator(platform, small_cfg());
            victim.store(p.cast(), Ordering::Relaxed);
            // SAFETY: a live allocator.
            let v = unsafe { vtbl(p) };
            // SAFETY: the creator's one reference, given up: the final Release.
            unsafe { (v.base.base.release)(p.cast()) };
        },
    );
    assert_eq!(r.code, REFERENCE_BY_POINTER, "{r}");
    assert_eq!(r.params[0], 0, "{r}");
    assert_pointer(&r, 1);
    assert_eq!(r.params[2..], [0, 0], "{r}");
}

#[test]
fn the_hooked_platform_does_not_stop_a_balanced_release() {
    // The control for the previous test: with no extra Release armed, the same platform tears
    // the allocator down cleanly, in-process.
    let emu = emu();
    let platform = ReleaseDuringTeardown {
        emu: emu.clone(),
        victim: Arc::new(AtomicPtr::new(ptr::null_mut())),
    };
    let p = raw_allocator(platform, small_cfg());
    let unk = p.cast::<IUnknown>();
    // SAFETY: a live allocator.
    let v = unsafe { vtbl(p) };
    // SAFETY: a live object; the reference made is given back just below.
    assert_eq!(unsafe { (v.base.base.add_ref)(unk) }, 2);
    // SAFETY: gives back the reference just made; the creator's is left.
    assert_eq!(unsafe { (v.base.base.release)(unk) }, 1);
    // SAFETY: the creator's one reference, given up: the final Release; `p` is not called
    // through again.
    assert_eq!(unsafe { (v.base.base.release)(unk) }, 0);
    // The undetectable case: after the final Release the object is freed, and what a further
    // Release would read as `this->lpVtbl` is special pool's poison — a fault at an address
    // of poison bytes, not a clean bug check. (The emulator keeps freed memory allocated in
    // quarantine, so reading it here is sound.)
    // SAFETY: the object's memory is quarantined (allocated, poisoned) until unload.
    let vtbl_word = unsafe { ptr::read_volatile(p.cast::<usize>()) };
    assert_eq!(
        vtbl_word,
        usize::from_ne_bytes([mxf_kemu::POISON_BYTE; 8]),
        "a Release after the object is freed reads poison"
    );
    emu.unload().expect("clean unload");
}
