//! The pool: tracking by tag, zeroing, alignment, special-pool guards, quarantine poison,
//! double/foreign/wrong-tag frees, leaks at unload.

use mxf_core::platform::{POOL_ALIGN, Platform, PoolTag, bugcheck};
use mxf_kemu::{Emu, EmuConfig, POISON_BYTE, QUARANTINE_MAX_ENTRIES, c2, c4, expect_bugcheck};
use std::ptr::NonNull;

const TAG: PoolTag = PoolTag::new(b"Pool");
const OTHER: PoolTag = PoolTag::new(b"Othr");

fn emu() -> Emu {
    Emu::new(EmuConfig::default())
}

/// Writes one byte at `offset` from `p` (may be outside the allocation: that is the point).
fn poke(p: NonNull<u8>, offset: isize, value: u8) {
    // SAFETY: the emulator's allocation slot extends at least 16 bytes in front of and behind
    // the requested size, so every offset the tests use is inside host memory the emulator
    // owns (and is still allocated, in quarantine for freed blocks).
    unsafe { p.as_ptr().wrapping_offset(offset).write_volatile(value) }
}

fn free(emu: &Emu, p: NonNull<u8>, tag: PoolTag) {
    // SAFETY: the tests pass allocations of `emu` (or deliberately bad ones the emulator
    // refuses before touching them).
    unsafe { emu.pool_free(p, tag) }
}

#[test]
fn memory_is_zeroed_aligned_and_tracked_by_tag() {
    let emu = emu();
    let sizes = [1usize, 7, 16, 17, 100, 4096];
    let ptrs: Vec<_> = sizes
        .iter()
        .map(|&s| (emu.pool_alloc(s, TAG).unwrap(), s))
        .collect();
    let q = emu.pool_alloc(33, OTHER).unwrap();
    for &(p, s) in &ptrs {
        assert_eq!(p.as_ptr() as usize % POOL_ALIGN, 0);
        // SAFETY: `p` is a live allocation of `s` bytes.
        let bytes = unsafe { std::slice::from_raw_parts(p.as_ptr(), s) };
        assert!(bytes.iter().all(|&b| b == 0));
    }
    let r = emu.pool_report();
    assert_eq!(
        (r.tag(TAG).count, r.tag(TAG).bytes),
        (6, sizes.iter().sum())
    );
    assert_eq!((r.tag(OTHER).count, r.tag(OTHER).bytes), (1, 33));
    assert_eq!(r.live_count, 7);
    let peak = r.peak_bytes;
    for (p, _) in ptrs {
        free(&emu, p, TAG);
    }
    let r = emu.pool_report();
    assert_eq!(r.tag(TAG).count, 0);
    assert_eq!(r.peak_bytes, peak);
    assert_eq!((r.total_allocs, r.total_frees), (7, 6));
    free(&emu, q, OTHER);
    emu.unload().unwrap();
}

#[test]
fn writing_every_byte_of_the_allocation_is_fine() {
    let emu = emu();
    for size in [1usize, 15, 16, 31, 64] {
        let p = emu.pool_alloc(size, TAG).unwrap();
        for i in 0..size as isize {
            poke(p, i, 0xAB);
        }
        free(&emu, p, TAG);
    }
    emu.unload().unwrap();
}

#[test]
fn one_byte_overrun_is_caught_on_free() {
    for size in [1usize, 13, 16, 40] {
        let emu = emu();
        let p = emu.pool_alloc(size, TAG).unwrap();
        poke(p, size as isize, 0);
        let bc = expect_bugcheck(|| free(&emu, p, TAG));
        assert_eq!(
            bc.code,
            bugcheck::SPECIAL_POOL_DETECTED_MEMORY_CORRUPTION,
            "{bc}"
        );
        assert_eq!(bc.params[1..], [size, size, 0x20]);
        assert!(
            bc.message.contains("'Pool'") && bc.message.contains(&format!("offset {size}")),
            "{bc}"
        );
    }
}

#[test]
fn underrun_is_caught_on_free() {
    let emu = emu();
    let p = emu.pool_alloc(8, TAG).unwrap();
    poke(p, -1, 0x11);
    let bc = expect_bugcheck(|| free(&emu, p, TAG));
    assert_eq!(bc.code, bugcheck::SPECIAL_POOL_DETECTED_MEMORY_CORRUPTION);
    assert_eq!(bc.params[2] as isize, -1);
    assert_eq!(bc.params[3], 0x21);
}

#[test]
fn overrun_is_caught_at_unload_and_by_check_pool() {
    let emu = emu();
    let p = emu.pool_alloc(20, TAG).unwrap();
    assert!(emu.check_pool().is_ok());
    poke(p, 21, 0x5A);
    let bc = emu.check_pool().unwrap_err();
    assert_eq!(bc.params[2], 21);
    let bc = emu.unload().unwrap_err();
    assert_eq!(bc.code, bugcheck::SPECIAL_POOL_DETECTED_MEMORY_CORRUPTION);
}

#[test]
fn without_special_pool_guards_are_not_checked() {
    let emu = Emu::new(EmuConfig {
        special_pool: false,
        ..EmuConfig::default()
    });
    let p = emu.pool_alloc(16, TAG).unwrap();
    poke(p, 16, 0x42);
    free(&emu, p, TAG);
    assert_eq!(emu.pool_report().quarantined, 0);
    emu.unload().unwrap();
}

#[test]
fn freed_memory_is_poisoned() {
    let emu = emu();
    let p = emu.pool_alloc(32, TAG).unwrap();
    free(&emu, p, TAG);
    // SAFETY: the freed block sits in quarantine, still allocated on the host.
    let bytes = unsafe { std::slice::from_raw_parts(p.as_ptr(), 32) };
    assert!(bytes.iter().all(|&b| b == POISON_BYTE));
    assert_eq!(emu.pool_report().quarantined, 1);
    assert!(emu.check_quarantine().is_ok());
    emu.unload().unwrap();
}

#[test]
fn write_after_free_is_caught_by_check_quarantine_and_unload() {
    let emu = emu();
    let p = emu.pool_alloc(24, TAG).unwrap();
    free(&emu, p, TAG);
    poke(p, 5, 0);
    let bc = emu.check_quarantine().unwrap_err();
    assert_eq!(bc.code, bugcheck::DRIVER_PAGE_FAULT_IN_FREED_SPECIAL_POOL);
    assert!(
        bc.message.contains("write after free") && bc.message.contains("offset 5"),
        "{bc}"
    );
    assert_eq!(bc.params[0], p.as_ptr() as usize + 5);
    let bc = emu.unload().unwrap_err();
    assert_eq!(bc.code, bugcheck::DRIVER_PAGE_FAULT_IN_FREED_SPECIAL_POOL);
}

#[test]
fn write_after_free_is_caught_when_the_block_leaves_quarantine() {
    let emu = emu();
    let victim = emu.pool_alloc(8, TAG).unwrap();
    free(&emu, victim, TAG);
    poke(victim, 0, 1);
    // Push QUARANTINE_MAX_ENTRIES more frees: the victim is evicted and verified.
    let bc = expect_bugcheck(|| {
        for _ in 0..QUARANTINE_MAX_ENTRIES {
            let p = emu.pool_alloc(8, OTHER).unwrap();
            free(&emu, p, OTHER);
        }
    });
    assert_eq!(bc.code, bugcheck::DRIVER_PAGE_FAULT_IN_FREED_SPECIAL_POOL);
    assert!(bc.message.contains("'Pool'"), "{bc}");
}

#[test]
fn double_free_is_caught() {
    for special_pool in [true, false] {
        let emu = Emu::new(EmuConfig {
            special_pool,
            ..EmuConfig::default()
        });
        let p = emu.pool_alloc(10, TAG).unwrap();
        free(&emu, p, TAG);
        let bc = expect_bugcheck(|| free(&emu, p, TAG));
        assert_eq!(bc.code, bugcheck::BAD_POOL_CALLER);
        assert_eq!(bc.params[0], bugcheck::c2::DOUBLE_FREE, "{bc}");
        assert_eq!(bc.params[3], p.as_ptr() as usize);
        emu.unload().unwrap();
    }
}

#[test]
fn foreign_pointer_free_is_caught() {
    let emu = emu();
    let mut local = [0u8; 16];
    let bc = expect_bugcheck(|| free(&emu, NonNull::from(&mut local).cast(), TAG));
    assert_eq!(
        (bc.code, bc.params[0]),
        (bugcheck::BAD_POOL_CALLER, bugcheck::c2::FOREIGN)
    );
    // An interior pointer is foreign too.
    let p = emu.pool_alloc(64, TAG).unwrap();
    // SAFETY: 16 bytes into a 64-byte allocation.
    let inner = unsafe { p.add(16) };
    let bc = expect_bugcheck(|| free(&emu, inner, TAG));
    assert_eq!(bc.params[0], bugcheck::c2::FOREIGN);
    free(&emu, p, TAG);
}

#[test]
fn free_with_wrong_tag_is_caught() {
    let emu = emu();
    let p = emu.pool_alloc(10, TAG).unwrap();
    let bc = expect_bugcheck(|| free(&emu, p, OTHER));
    assert_eq!(bc.code, bugcheck::BAD_POOL_CALLER);
    assert_eq!(
        bc.params,
        [
            c2::WRONG_TAG,
            p.as_ptr() as usize,
            TAG.0 as usize,
            OTHER.0 as usize
        ]
    );
    assert!(
        bc.message.contains("'Othr'") && bc.message.contains("'Pool'"),
        "{bc}"
    );
    free(&emu, p, TAG);
    emu.unload().unwrap();
}

#[test]
fn leak_at_unload_names_tag_size_and_count() {
    let emu = emu();
    let a = emu.pool_alloc(48, TAG).unwrap();
    let b = emu.pool_alloc(48, TAG).unwrap();
    let c = emu.pool_alloc(7, OTHER).unwrap();
    let keep = emu.pool_alloc(1, TAG).unwrap();
    free(&emu, keep, TAG);
    let bc = emu.unload().unwrap_err();
    assert_eq!(bc.code, bugcheck::DRIVER_VERIFIER_DETECTED_VIOLATION);
    assert_eq!(bc.params, [c4::POOL_LEAKED_AT_UNLOAD, 0, 3, 103]);
    assert!(bc.message.contains("tag 'Pool' size 48 count 2"), "{bc}");
    assert!(bc.message.contains("tag 'Othr' size 7 count 1"), "{bc}");
    for (p, t) in [(a, TAG), (b, TAG), (c, OTHER)] {
        free(&emu, p, t);
    }
    let report = emu.unload().unwrap();
    assert_eq!(report.pool.total_allocs, 4);
}

#[test]
fn bugcheck_display_names_the_code() {
    let emu = emu();
    let p = emu.pool_alloc(4, TAG).unwrap();
    free(&emu, p, TAG);
    let bc = expect_bugcheck(|| free(&emu, p, TAG));
    let text = bc.to_string();
    assert!(
        text.starts_with("BUGCHECK 0xC2 BAD_POOL_CALLER: double free"),
        "{text}"
    );
}
