//! Bad puts stop the system: foreign pointers, double puts, overruns, writes after put.
//!
//! Bug checks are raised from the Rust-ABI twins of the slots ([`Allocator::put_buffer`],
//! [`Allocator::put_message`]): the emulator's bug check is a panic, which may not unwind
//! through an `extern "system"` vtable function (that would abort the test process).

mod alloc_support;

use alloc_support::*;
use mxf_abi::*;
use mxf_core::alloc::AllocatorConfig;
use mxf_core::platform::bugcheck::*;
use mxf_kemu::expect_bugcheck;
use std::ptr::NonNull;

#[repr(C, align(16))]
struct Aligned([u8; 96]);

#[test]
fn a_pointer_that_never_came_from_us_is_foreign() {
    let emu = emu();
    let p = make(&emu, small_cfg());
    let a = ours(&p);
    let mut mem = Aligned([0; 96]);
    let inside = NonNull::from(&mut mem.0[32]);
    // SAFETY: 32 readable bytes precede `inside` (the documented precondition).
    let bc = expect_bugcheck(|| unsafe { a.put_buffer(inside) });
    assert_eq!(bc.code, BAD_POOL_CALLER);
    assert_eq!(bc.params[0], c2::FOREIGN);
    assert_eq!(bc.params[1], inside.as_ptr() as usize);
    // Misaligned: refused without reading.
    let odd = NonNull::from(&mut mem.0[33]);
    // SAFETY: as above.
    let bc = expect_bugcheck(|| unsafe { a.put_buffer(odd) });
    assert_eq!(bc.params[0], c2::FOREIGN);
    // A foreign "event" in a chain.
    let fake = NonNull::from(&mut mem.0[48]).cast::<DmusKernelEvent>();
    // SAFETY: as above.
    let bc = expect_bugcheck(|| unsafe { a.put_message(fake.as_ptr()) });
    assert_eq!(bc.params[0], c2::FOREIGN);
    // A refused put changes nothing: the allocator still tears down cleanly.
    drop(p);
    assert_clean_unload(&emu);
}

#[test]
fn blocks_of_another_allocator_or_kind_and_interior_pointers_are_foreign() {
    let emu = emu();
    let p = make(&emu, small_cfg());
    let q = make(&emu, small_cfg());
    let (a, b) = (ours(&p), ours(&q));
    let buf = p.get_buffer().unwrap();
    let evt = p.get_message().unwrap();
    // SAFETY: our buffer (the header precedes it), to the wrong allocator.
    let bc = expect_bugcheck(|| unsafe { b.put_buffer(buf) });
    assert_eq!((bc.code, bc.params[0]), (BAD_POOL_CALLER, c2::FOREIGN));
    // SAFETY: an event passed as a buffer.
    let bc = expect_bugcheck(|| unsafe { a.put_buffer(evt.cast()) });
    assert_eq!(bc.params[0], c2::FOREIGN);
    // SAFETY: a buffer passed as an event (zero it so nothing in it looks like a header).
    unsafe { buf.as_ptr().write_bytes(0, 64) };
    // SAFETY: 16 readable bytes precede the pointer (test memory or our block); the bad
    // put itself is the bug under test and is refused before anything changes.
    let bc = expect_bugcheck(|| unsafe { a.put_message(buf.as_ptr().cast()) });
    assert_eq!(bc.params[0], c2::FOREIGN);
    // SAFETY: a pointer 16 bytes into the buffer: its "header" is buffer bytes.
    let interior = unsafe { buf.add(16) };
    // SAFETY: 16 readable bytes precede the pointer (test memory or our block); the bad
    // put itself is the bug under test and is refused before anything changes.
    let bc = expect_bugcheck(|| unsafe { a.put_buffer(interior) });
    assert_eq!(bc.params[0], c2::FOREIGN);
    // None of that disturbed anything: give both back properly.
    // SAFETY: our event, a one-event chain, given back once.
    unsafe { a.put_message(evt.as_ptr()) };
    // SAFETY: our buffer, given back once.
    unsafe { a.put_buffer(buf) };
    assert_eq!(
        a.stats().outstanding_events + a.stats().outstanding_buffers,
        0
    );
    drop((p, q));
    assert_clean_unload(&emu);
}

#[test]
fn a_second_put_is_a_double_free() {
    let emu = emu();
    let p = make(&emu, small_cfg());
    let a = ours(&p);
    // A reserve buffer and a reserve event.
    let buf = p.get_buffer().unwrap();
    let evt = p.get_message().unwrap();
    // SAFETY: first put legitimate; the second is the bug under test (the header is still
    // ours: reserve blocks stay allocated).
    unsafe { a.put_buffer(buf) };
    // SAFETY: 16 readable bytes precede the pointer (test memory or our block); the bad
    // put itself is the bug under test and is refused before anything changes.
    let bc = expect_bugcheck(|| unsafe { a.put_buffer(buf) });
    assert_eq!(
        (bc.code, bc.params[0], bc.params[1]),
        (BAD_POOL_CALLER, c2::DOUBLE_FREE, buf.as_ptr() as usize)
    );
    // SAFETY: as above.
    unsafe { a.put_message(evt.as_ptr()) };
    // SAFETY: 16 readable bytes precede the pointer (test memory or our block); the bad
    // put itself is the bug under test and is refused before anything changes.
    let bc = expect_bugcheck(|| unsafe { a.put_message(evt.as_ptr()) });
    assert_eq!(bc.params[0], c2::DOUBLE_FREE);
    // A pool block still on the (non-Verifier) lookaside list keeps its FREE header too.
    let all: Vec<_> = (0..5).map(|_| p.get_message().unwrap()).collect();
    let pool_evt = all[4];
    // SAFETY: our events, once.
    unsafe { a.put_message(link(&all)) };
    // SAFETY: the block is cached on the emulated lookaside list (depth >= 4): allocated.
    let bc = expect_bugcheck(|| unsafe { a.put_message(pool_evt.as_ptr()) });
    assert_eq!(bc.params[0], c2::DOUBLE_FREE);
    drop(p);
    assert_clean_unload(&emu);
}

#[test]
fn a_double_put_after_the_pool_took_the_block_back_is_still_stopped() {
    // Under Verifier the block goes back to pool at once and is poisoned in quarantine:
    // its header no longer looks like ours, so the second put is reported as foreign.
    let emu = emu_verifier();
    let cfg = AllocatorConfig {
        reserve_buffers: 0,
        ..small_cfg()
    };
    let p = make(&emu, cfg);
    let a = ours(&p);
    let buf = p.get_buffer().unwrap();
    // SAFETY: first put legitimate; the second reads quarantined (still allocated) memory.
    unsafe { a.put_buffer(buf) };
    // SAFETY: 16 readable bytes precede the pointer (test memory or our block); the bad
    // put itself is the bug under test and is refused before anything changes.
    let bc = expect_bugcheck(|| unsafe { a.put_buffer(buf) });
    assert_eq!((bc.code, bc.params[0]), (BAD_POOL_CALLER, c2::FOREIGN));
    drop(p);
    assert_clean_unload(&emu);
}

#[test]
fn a_cycle_in_a_chain_is_a_double_put_not_a_hang() {
    let emu = emu();
    let p = make(&emu, small_cfg());
    let a = ours(&p);
    let e1 = p.get_message().unwrap();
    let e2 = p.get_message().unwrap();
    let head = link(&[e1, e2]);
    // SAFETY: test-owned event: close the cycle.
    unsafe { (*e2.as_ptr()).p_next_evt = e1.as_ptr() };
    // SAFETY: the chain's events are ours; the cycle is the bug under test.
    let bc = expect_bugcheck(|| unsafe { a.put_message(head) });
    assert_eq!(bc.params[0], c2::DOUBLE_FREE);
    assert_eq!(bc.params[1], e1.as_ptr() as usize);
    // Both were recycled before the repeat was found.
    assert_eq!(a.stats().outstanding_events, 0);
    drop(p);
    assert_clean_unload(&emu);
}

#[test]
fn a_one_byte_overrun_of_a_pool_buffer_is_caught_when_it_is_put_back() {
    let emu = emu(); // special pool
    let cfg = AllocatorConfig {
        reserve_buffers: 0,
        ..small_cfg()
    };
    let p = make(&emu, cfg);
    let a = ours(&p);
    let buf = p.get_buffer().unwrap();
    // SAFETY: the overrun under test: one byte past the 64 usable bytes. The emulator's
    // allocation slot extends past the block (guard bytes), so the write lands in memory it
    // owns and checks, so the address is computed without `add`'s in-bounds promise.
    let past = buf.as_ptr().wrapping_add(64);
    // SAFETY: the guard byte is allocated and writable (see above).
    unsafe { past.write(0) };
    // SAFETY: our buffer, once.
    let bc = expect_bugcheck(|| unsafe { a.put_buffer(buf) });
    assert!(
        bc.code == SPECIAL_POOL_DETECTED_MEMORY_CORRUPTION
            || bc.code == DRIVER_PAGE_FAULT_BEYOND_END_OF_ALLOCATION,
        "{bc}"
    );
    // The pool state is corrupt now: never run the final Release (a bug check inside an
    // `extern "system"` slot would abort the test process).
    std::mem::forget(p);
}

#[test]
fn a_one_byte_overrun_of_a_reserve_buffer_is_caught_at_unload() {
    let emu = emu();
    let p = make(&emu, small_cfg()); // reserve of 2 buffers
    let a = ours(&p);
    let buf = p.get_buffer().unwrap();
    assert_eq!(a.stats().reserve_hits, 1);
    // The overrun under test, into guard bytes as in the previous test.
    let past = buf.as_ptr().wrapping_add(64);
    // SAFETY: the guard byte is allocated and writable (as in the previous test).
    unsafe { past.write(0) };
    // SAFETY: our buffer, once (it goes back to the reserve, still allocated).
    unsafe { a.put_buffer(buf) };
    let bc = emu.check_pool().expect_err("guard overwritten");
    assert_eq!(bc.code, SPECIAL_POOL_DETECTED_MEMORY_CORRUPTION, "{bc}");
    std::mem::forget(p);
}

#[test]
fn a_write_after_put_message_is_caught_under_verifier() {
    let emu = emu_verifier();
    let cfg = AllocatorConfig {
        reserve_events: 0,
        ..small_cfg()
    };
    let p = make(&emu, cfg);
    let e = p.get_message().unwrap();
    // SAFETY: our event, once.
    unsafe { p.put_message(e.as_ptr()) };
    // SAFETY: the use after free under test; the emulator keeps freed memory allocated
    // (poisoned) in quarantine.
    unsafe { (*e.as_ptr()).cb_event = 3 };
    drop(p);
    let bc = emu.unload().expect_err("poison changed");
    assert_eq!(bc.code, DRIVER_PAGE_FAULT_IN_FREED_SPECIAL_POOL, "{bc}");
}

#[test]
fn a_write_after_put_into_a_poisoned_reserve_block_is_caught_on_reuse() {
    let emu = emu();
    let cfg = AllocatorConfig {
        poison_freed: true,
        ..small_cfg()
    };
    let p = make(&emu, cfg);
    let a = ours(&p);
    // Clean round trips first: poison fill and check agree.
    for _ in 0..3 {
        let e = p.get_message().unwrap();
        assert!(is_fresh(e));
        let b = p.get_buffer().unwrap();
        // SAFETY: our blocks, once.
        unsafe {
            set_buffer(e, b, 64);
            p.put_message(e.as_ptr());
        }
    }
    let e = p.get_message().unwrap();
    // SAFETY: our event, a one-event chain, given back once.
    unsafe { p.put_message(e.as_ptr()) };
    // SAFETY: the use after put under test: the reserve keeps the block allocated, so the
    // write lands in memory the emulator owns and checks.
    unsafe { (*e.as_ptr()).us_channel_group = 1 };
    let bc = expect_bugcheck(|| {
        for _ in 0..4 {
            let _ = a.get_message();
        }
    });
    assert_eq!(bc.code, DRIVER_PAGE_FAULT_IN_FREED_SPECIAL_POOL);
    assert_eq!(bc.params[3], POISON_WRITE_AFTER_PUT);
    assert_eq!(bc.params[2], 4, "offset of usChannelGroup");
    std::mem::forget(p);
}
