//! Property test: random sequences of pool and block pool operations against a model of the
//! kernel's behaviour (LIFO cache bounded by depth, fault plan counting pool attempts).

use mxf_core::platform::{BlockPool, BlockPoolStats, Platform, PoolTag};
use mxf_kemu::{Emu, EmuConfig, FaultPlan};
use proptest::prelude::*;
use std::ptr::NonNull;

const PTAG: PoolTag = PoolTag::new(b"Mdlp");
const BTAG: PoolTag = PoolTag::new(b"Mdlb");
const BLOCK: usize = 48;

#[derive(Clone, Debug)]
enum Op {
    Alloc(usize),
    Free(usize),
    BlockAlloc,
    BlockFree(usize),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (1usize..300).prop_map(Op::Alloc),
        any::<usize>().prop_map(Op::Free),
        Just(Op::BlockAlloc),
        Just(Op::BlockAlloc),
        any::<usize>().prop_map(Op::BlockFree),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn emulator_matches_the_model(
        ops in proptest::collection::vec(op(), 1..200),
        depth in 0u16..6,
        verifier in any::<bool>(),
        nth in 0u64..6,
    ) {
        let cfg = if verifier {
            EmuConfig { fault: FaultPlan::EveryNth(nth), ..EmuConfig::verifier() }
        } else {
            EmuConfig { fault: FaultPlan::EveryNth(nth), lookaside_depth: Some(depth), ..EmuConfig::default() }
        };
        let depth = if verifier { 0 } else { usize::from(depth) };
        let emu = Emu::new(cfg);
        let pool = emu.new_block_pool(BLOCK, BTAG).unwrap();
        let mut attempts = 0u64;
        let fails = |attempts: &mut u64| {
            *attempts += 1;
            nth != 0 && attempts.is_multiple_of(nth)
        };
        let mut allocs: Vec<(NonNull<u8>, usize)> = Vec::new();
        let mut blocks: Vec<NonNull<u8>> = Vec::new();
        let mut cache: Vec<NonNull<u8>> = Vec::new();
        let mut want = BlockPoolStats::default();
        for op in ops {
            match op {
                Op::Alloc(size) => {
                    let expect_fail = fails(&mut attempts);
                    let p = emu.pool_alloc(size, PTAG);
                    prop_assert_eq!(p.is_none(), expect_fail);
                    if let Some(p) = p {
                        allocs.push((p, size));
                    }
                }
                Op::Free(i) if !allocs.is_empty() => {
                    let (p, _) = allocs.swap_remove(i % allocs.len());
                    // SAFETY: `p` is a live allocation with PTAG, dropped from the list.
                    unsafe { emu.pool_free(p, PTAG) };
                }
                Op::BlockAlloc => {
                    let b = pool.alloc();
                    want.allocs += 1;
                    match cache.pop() {
                        Some(top) => prop_assert_eq!(b, Some(top), "LIFO hit"),
                        None => {
                            want.alloc_misses += 1;
                            let expect_fail = fails(&mut attempts);
                            want.failures += u64::from(expect_fail);
                            prop_assert_eq!(b.is_none(), expect_fail);
                        }
                    }
                    blocks.extend(b);
                }
                Op::BlockFree(i) if !blocks.is_empty() => {
                    let b = blocks.swap_remove(i % blocks.len());
                    // SAFETY: `b` is a block of `pool` that is out, dropped from the list.
                    unsafe { pool.free(b) };
                    want.frees += 1;
                    if cache.len() < depth {
                        cache.push(b);
                    } else {
                        want.free_misses += 1;
                    }
                }
                _ => {}
            }
            let r = emu.pool_report();
            prop_assert_eq!(r.tag(PTAG).count, allocs.len());
            prop_assert_eq!(r.tag(PTAG).bytes, allocs.iter().map(|a| a.1).sum::<usize>());
            prop_assert_eq!(r.tag(BTAG).count, blocks.len() + cache.len());
            prop_assert_eq!(pool.cached(), cache.len());
            prop_assert_eq!(pool.stats(), want);
        }
        for (p, _) in allocs {
            // SAFETY: live allocations with PTAG.
            unsafe { emu.pool_free(p, PTAG) };
        }
        for b in blocks {
            // SAFETY: blocks of `pool` still out.
            unsafe { pool.free(b) };
        }
        drop(pool);
        prop_assert!(emu.unload().is_ok());
    }
}
