//! Block pools (lookaside lists): LIFO cache, depth, Verifier depth 0, stats, guards, misuse.

use mxf_core::platform::{BlockPool, BlockPoolStats, POOL_ALIGN, Platform, PoolTag, bugcheck};
use mxf_kemu::{
    DEPTH_MAX, DEPTH_MIN, Emu, EmuBlockPool, EmuConfig, FRESH_BLOCK_BYTE, ONE_SECOND_100NS,
    POISON_BYTE, c4, expect_bugcheck,
};
use std::ptr::NonNull;

const TAG: PoolTag = PoolTag::new(b"Blck");
const OTHER: PoolTag = PoolTag::new(b"Othr");

fn free(pool: &EmuBlockPool, b: NonNull<u8>) {
    // SAFETY: the tests pass blocks of `pool` (or deliberately bad ones the emulator refuses
    // before touching them).
    unsafe { pool.free(b) }
}

fn poke(p: NonNull<u8>, offset: usize, value: u8) {
    // SAFETY: every emulator allocation slot has at least 16 bytes of guard after the block,
    // inside host memory the emulator owns.
    unsafe { p.as_ptr().wrapping_add(offset).write_volatile(value) }
}

#[test]
fn blocks_are_aligned_sized_tagged_pool_allocations() {
    let emu = Emu::new(EmuConfig::default());
    let pool = emu.new_block_pool(40, TAG).unwrap();
    assert_eq!(pool.block_size(), 40);
    let blocks: Vec<_> = (0..3).map(|_| pool.alloc().unwrap()).collect();
    for b in &blocks {
        assert_eq!(b.as_ptr() as usize % POOL_ALIGN, 0);
    }
    let r = emu.pool_report();
    assert_eq!((r.tag(TAG).count, r.tag(TAG).bytes), (3, 120));
    for b in blocks {
        free(&pool, b);
    }
    // Cached blocks are still pool allocations.
    assert_eq!(emu.pool_report().tag(TAG).count, 3);
    assert_eq!(pool.cached(), 3);
    drop(pool);
    assert_eq!(emu.pool_report().tag(TAG).count, 0);
    emu.unload().unwrap();
}

#[test]
fn cache_is_lifo_and_bounded_by_depth() {
    let emu = Emu::new(EmuConfig::default());
    let pool = emu.new_block_pool(24, TAG).unwrap();
    assert_eq!(pool.depth(), DEPTH_MIN);
    let blocks: Vec<_> = (0..6).map(|_| pool.alloc().unwrap()).collect();
    for &b in &blocks {
        free(&pool, b);
    }
    // Depth 4: the first four frees are cached, the last two go to pool.
    assert_eq!(pool.cached(), 4);
    assert_eq!(
        pool.stats(),
        BlockPoolStats {
            allocs: 6,
            alloc_misses: 6,
            frees: 6,
            free_misses: 2,
            failures: 0
        }
    );
    // LIFO: the most recently cached block comes back first.
    let again: Vec<_> = (0..4).map(|_| pool.alloc().unwrap()).collect();
    assert_eq!(again, vec![blocks[3], blocks[2], blocks[1], blocks[0]]);
    assert_eq!(pool.stats().alloc_misses, 6);
    for b in again {
        free(&pool, b);
    }
    drop(pool);
    emu.unload().unwrap();
}

#[test]
fn new_blocks_are_not_zeroed_with_special_pool() {
    let emu = Emu::new(EmuConfig::default());
    let pool = emu.new_block_pool(40, TAG).unwrap();
    let b = pool.alloc().unwrap();
    // SAFETY: `b` is a live block of 40 bytes.
    let bytes = unsafe { std::slice::from_raw_parts(b.as_ptr(), 40) };
    assert!(bytes.iter().all(|&x| x == FRESH_BLOCK_BYTE), "{bytes:?}");
    // The fill stops at the block's end: the guards after it are intact.
    free(&pool, b);
    assert_eq!(pool.cached(), 1);
    drop(pool);
    emu.unload().unwrap();
}

#[test]
fn cached_blocks_are_not_poisoned_but_pool_frees_are() {
    let emu = Emu::new(EmuConfig {
        lookaside_depth: Some(1),
        ..EmuConfig::default()
    });
    let pool = emu.new_block_pool(16, TAG).unwrap();
    let a = pool.alloc().unwrap();
    let b = pool.alloc().unwrap();
    poke(a, 0, 0x77);
    poke(b, 0, 0x77);
    free(&pool, a); // cached
    free(&pool, b); // depth reached: to pool, poisoned
    // SAFETY: `a` is cached: still host memory the list owns.
    let av = unsafe { a.as_ptr().read() };
    // SAFETY: `b` is quarantined: still host memory the emulator owns.
    let bv = unsafe { b.as_ptr().read() };
    assert_eq!((av, bv), (0x77, POISON_BYTE));
    drop(pool);
    emu.unload().unwrap();
}

#[test]
fn verifier_mode_sends_every_free_to_pool() {
    let emu = Emu::new(EmuConfig::verifier());
    let pool = emu.new_block_pool(32, TAG).unwrap();
    assert_eq!(pool.depth(), 0);
    for _ in 0..10 {
        let b = pool.alloc().unwrap();
        assert_eq!(emu.pool_report().tag(TAG).count, 1);
        free(&pool, b);
        assert_eq!(emu.pool_report().tag(TAG).count, 0);
    }
    assert_eq!(
        pool.stats(),
        BlockPoolStats {
            allocs: 10,
            alloc_misses: 10,
            frees: 10,
            free_misses: 10,
            failures: 0
        }
    );
    let r = emu.pool_report();
    assert_eq!((r.total_allocs, r.total_frees, r.quarantined), (10, 10, 10));
    // Depth stays 0 however the list is used.
    emu.advance_time(5 * ONE_SECOND_100NS);
    assert_eq!(pool.depth(), 0);
    drop(pool);
    emu.unload().unwrap();
}

#[test]
fn verifier_mode_catches_write_after_free_of_a_block() {
    let emu = Emu::new(EmuConfig::verifier());
    let pool = emu.new_block_pool(32, TAG).unwrap();
    let b = pool.alloc().unwrap();
    free(&pool, b);
    poke(b, 31, 0);
    let bc = emu.check_quarantine().unwrap_err();
    assert_eq!(bc.code, bugcheck::DRIVER_PAGE_FAULT_IN_FREED_SPECIAL_POOL);
    assert!(
        bc.message.contains("'Blck'") && bc.message.contains("offset 31"),
        "{bc}"
    );
}

#[test]
fn one_byte_overrun_of_a_block_is_caught_when_freed_to_the_list() {
    let emu = Emu::new(EmuConfig::default());
    let pool = emu.new_block_pool(40, TAG).unwrap();
    let b = pool.alloc().unwrap();
    poke(b, 40, 0xEE);
    let bc = expect_bugcheck(|| free(&pool, b));
    assert_eq!(bc.code, bugcheck::SPECIAL_POOL_DETECTED_MEMORY_CORRUPTION);
    assert_eq!(bc.params[1..3], [40, 40]);
    assert!(
        bc.message.contains("'Blck'") && bc.message.contains("40 bytes"),
        "{bc}"
    );
}

#[test]
fn double_free_to_the_list_is_caught() {
    let emu = Emu::new(EmuConfig::default());
    let pool = emu.new_block_pool(16, TAG).unwrap();
    let b = pool.alloc().unwrap();
    free(&pool, b); // cached
    let bc = expect_bugcheck(|| free(&pool, b));
    assert_eq!(
        (bc.code, bc.params[0]),
        (bugcheck::BAD_POOL_CALLER, bugcheck::c2::DOUBLE_FREE)
    );

    let v = Emu::new(EmuConfig::verifier());
    let pool = v.new_block_pool(16, TAG).unwrap();
    let b = pool.alloc().unwrap();
    free(&pool, b); // to pool
    let bc = expect_bugcheck(|| free(&pool, b));
    assert_eq!(bc.params[0], bugcheck::c2::DOUBLE_FREE);
}

#[test]
fn blocks_freed_to_the_wrong_place_are_caught() {
    let emu = Emu::new(EmuConfig::default());
    let a = emu.new_block_pool(16, TAG).unwrap();
    let b = emu.new_block_pool(16, TAG).unwrap();
    let blk = a.alloc().unwrap();
    let bc = expect_bugcheck(|| free(&b, blk));
    assert_eq!(bc.params[0], bugcheck::c2::FOREIGN);
    // SAFETY: deliberately wrong: a block freed with pool_free.
    let bc = expect_bugcheck(|| unsafe { emu.pool_free(blk, TAG) });
    assert_eq!(bc.params[0], bugcheck::c2::FOREIGN);
    let p = emu.pool_alloc(16, TAG).unwrap();
    let bc = expect_bugcheck(|| free(&a, p));
    assert_eq!(bc.params[0], bugcheck::c2::FOREIGN);
    free(&a, blk);
    // SAFETY: `p` came from pool_alloc with TAG.
    unsafe { emu.pool_free(p, TAG) };
    drop((a, b));
    emu.unload().unwrap();
}

#[test]
fn a_new_block_pool_does_not_inherit_a_dropped_pools_blocks() {
    let emu = Emu::new(EmuConfig::default());
    let old = emu.new_block_pool(32, TAG).unwrap();
    let out = old.alloc().unwrap();
    let cached = old.alloc().unwrap();
    free(&old, cached);
    drop(old);
    // Same size and tag, created after the first was dropped: still a different list.
    let new = emu.new_block_pool(32, TAG).unwrap();
    assert_eq!(new.cached(), 0);
    let bc = expect_bugcheck(|| free(&new, out));
    assert_eq!(bc.params[0], bugcheck::c2::FOREIGN);
    let b = new.alloc().unwrap();
    assert_ne!(b, out);
    free(&new, b);
    assert_eq!(new.cached(), 1);
    assert_eq!(
        new.stats(),
        BlockPoolStats {
            allocs: 1,
            alloc_misses: 1,
            frees: 2,
            free_misses: 0,
            failures: 0,
        }
    );
    drop(new);
    let bc = emu.unload().unwrap_err();
    assert_eq!(bc.params[..4], [c4::POOL_LEAKED_AT_UNLOAD, 0, 1, 32]);
}

#[test]
fn blocks_still_out_at_unload_are_leaks() {
    let emu = Emu::new(EmuConfig::default());
    let pool = emu.new_block_pool(56, TAG).unwrap();
    let out = pool.alloc().unwrap();
    let back = pool.alloc().unwrap();
    free(&pool, back);
    drop(pool);
    let bc = emu.unload().unwrap_err();
    assert_eq!(bc.params[..4], [c4::POOL_LEAKED_AT_UNLOAD, 0, 1, 56]);
    assert!(
        bc.message
            .contains("tag 'Blck' size 56 count 1 (block pool block not freed)"),
        "{bc}"
    );
    let _ = out;
}

#[test]
fn block_pool_not_dropped_at_unload_is_a_leak() {
    let emu = Emu::new(EmuConfig::default());
    let pool = emu.new_block_pool(8, TAG).unwrap();
    let b = pool.alloc().unwrap();
    free(&pool, b);
    let bc = emu.unload().unwrap_err();
    assert_eq!(bc.params[0], c4::POOL_LEAKED_AT_UNLOAD);
    assert!(
        bc.message
            .contains("block pool tag 'Blck' block size 8 not deleted"),
        "{bc}"
    );
    assert!(
        bc.message.contains("cached on an undeleted block pool"),
        "{bc}"
    );
    drop(pool);
    emu.unload().unwrap();
}

#[test]
fn fixed_depth_is_kept() {
    let emu = Emu::new(EmuConfig {
        lookaside_depth: Some(2),
        ..EmuConfig::default()
    });
    let pool = emu.new_block_pool(8, TAG).unwrap();
    let blocks: Vec<_> = (0..5).map(|_| pool.alloc().unwrap()).collect();
    blocks.into_iter().for_each(|b| free(&pool, b));
    assert_eq!((pool.cached(), pool.stats().free_misses), (2, 3));
    emu.advance_time(3 * ONE_SECOND_100NS);
    assert_eq!(pool.depth(), 2);
}

/// A busy list with many misses: bursts of `n` blocks out, then back.
fn burst(pool: &EmuBlockPool, n: usize) {
    let blocks: Vec<_> = (0..n).map(|_| pool.alloc().unwrap()).collect();
    blocks.into_iter().for_each(|b| free(pool, b));
}

#[test]
fn depth_grows_with_misses_and_shrinks_when_idle() {
    let emu = Emu::new(EmuConfig::default());
    let pool = emu.new_block_pool(16, OTHER).unwrap();
    let mut last = pool.depth();
    for _ in 0..6 {
        for _ in 0..10 {
            burst(&pool, 200);
        }
        emu.advance_time(ONE_SECOND_100NS);
        assert!(
            pool.depth() > last,
            "depth {} did not grow from {last}",
            pool.depth()
        );
        last = pool.depth();
    }
    assert!(last <= DEPTH_MAX);
    // Enough busy seconds reach the maximum and stay there.
    for _ in 0..30 {
        for _ in 0..10 {
            burst(&pool, 300);
        }
        emu.advance_time(ONE_SECOND_100NS);
    }
    assert_eq!(pool.depth(), DEPTH_MAX);
    // Idle seconds bring it back down to the floor; one long step counts every second.
    emu.advance_time(60 * ONE_SECOND_100NS);
    assert_eq!(pool.depth(), DEPTH_MIN);
    // Less than a second passing does not tune.
    for _ in 0..10 {
        burst(&pool, 200);
    }
    emu.advance_time(ONE_SECOND_100NS / 2);
    assert_eq!(pool.depth(), DEPTH_MIN);
    drop(pool);
    emu.unload().unwrap();
}

#[test]
fn zero_block_size_is_refused() {
    let emu = Emu::new(EmuConfig::default());
    assert!(emu.new_block_pool(0, TAG).is_err());
}
