//! Fault injection: which pool allocation attempts fail, reproducibly.

use mxf_core::platform::{BlockPool, Platform, PoolTag};
use mxf_kemu::{Emu, EmuConfig, FaultPlan};

const TAG: PoolTag = PoolTag::new(b"Falt");

/// Runs `n` alloc attempts (freeing successes); the 1-based indices that failed.
fn failures(emu: &Emu, n: u64) -> Vec<u64> {
    (1..=n)
        .filter(|_| match emu.pool_alloc(8, TAG) {
            Some(p) => {
                // SAFETY: `p` came from pool_alloc with TAG.
                unsafe { emu.pool_free(p, TAG) };
                false
            }
            None => true,
        })
        .collect()
}

#[test]
fn every_nth_fails_exactly_those_attempts() {
    let emu = Emu::new(EmuConfig {
        fault: FaultPlan::EveryNth(3),
        ..EmuConfig::default()
    });
    assert_eq!(failures(&emu, 10), vec![3, 6, 9]);
    assert_eq!(emu.pool_report().failed_allocs, 3);
    // Setting a plan restarts the count.
    emu.set_fault_plan(FaultPlan::EveryNth(4));
    assert_eq!(failures(&emu, 9), vec![4, 8]);
    emu.set_fault_plan(FaultPlan::EveryNth(1));
    assert_eq!(failures(&emu, 3), vec![1, 2, 3]);
    emu.set_fault_plan(FaultPlan::None);
    assert!(failures(&emu, 50).is_empty());
    emu.unload().unwrap();
}

#[test]
fn random_is_deterministic_per_seed_and_near_its_rate() {
    let plan = |seed| FaultPlan::Random { seed, one_in: 8 };
    let a = Emu::new(EmuConfig {
        fault: plan(42),
        ..EmuConfig::default()
    });
    let b = Emu::new(EmuConfig {
        fault: plan(42),
        ..EmuConfig::default()
    });
    let c = Emu::new(EmuConfig {
        fault: plan(43),
        ..EmuConfig::default()
    });
    let (fa, fb, fc) = (failures(&a, 4000), failures(&b, 4000), failures(&c, 4000));
    assert_eq!(fa, fb);
    assert_ne!(fa, fc);
    // 4000 / 8 = 500 expected; a fair hash stays well inside these bounds.
    assert!((350..650).contains(&fa.len()), "{} failures", fa.len());
    a.set_fault_plan(plan(42));
    assert_eq!(failures(&a, 4000), fa);
}

#[test]
fn block_pool_misses_count_as_attempts_but_cache_hits_never_fail() {
    let emu = Emu::new(EmuConfig {
        fault: FaultPlan::EveryNth(2),
        ..EmuConfig::default()
    });
    let pool = emu.new_block_pool(16, TAG).unwrap();
    let first = pool.alloc().expect("attempt 1 succeeds");
    assert!(pool.alloc().is_none(), "attempt 2 fails");
    assert_eq!(pool.stats().failures, 1);
    // SAFETY: `first` came from this pool.
    unsafe { pool.free(first) };
    emu.set_fault_plan(FaultPlan::EveryNth(1));
    // Served from the cache: no pool attempt, no failure.
    let again = pool.alloc().expect("cache hit");
    assert_eq!(again, first);
    assert!(pool.alloc().is_none());
    let s = pool.stats();
    assert_eq!((s.allocs, s.alloc_misses, s.failures), (4, 3, 2));
    // SAFETY: as above.
    unsafe { pool.free(again) };
    drop(pool);
    emu.unload().unwrap();
}
