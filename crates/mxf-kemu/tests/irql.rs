//! IRQL rules: raising/lowering, spin locks, and which routines may run at which level.

use mxf_core::platform::{
    APC_LEVEL, BlockPool, DISPATCH_LEVEL, PASSIVE_LEVEL, Platform, PoolTag, RawSpinLock, SpinLock,
    Timer, bugcheck,
};
use mxf_kemu::{Emu, EmuConfig, IRQL_NOT_GREATER_OR_EQUAL, Routine, c2, c4, expect_bugcheck};
use std::ffi::c_void;

const TAG: PoolTag = PoolTag::new(b"Irql");
const HIGH: u8 = 5;

fn emu() -> Emu {
    Emu::new(EmuConfig::default())
}

unsafe fn nop(_: *const c_void) {}

#[test]
fn raise_and_lower_move_the_thread_irql() {
    let emu = emu();
    assert_eq!(emu.current_irql(), PASSIVE_LEVEL);
    let old = emu.raise_irql(DISPATCH_LEVEL);
    assert_eq!(old, PASSIVE_LEVEL);
    assert_eq!(emu.current_irql(), DISPATCH_LEVEL);
    // Same-level raise is legal.
    assert_eq!(emu.raise_irql(DISPATCH_LEVEL), DISPATCH_LEVEL);
    emu.lower_irql(old);
    assert_eq!(emu.current_irql(), PASSIVE_LEVEL);
    assert_eq!(emu.at_irql(APC_LEVEL, || emu.current_irql()), APC_LEVEL);
    assert_eq!(emu.current_irql(), PASSIVE_LEVEL);
}

#[test]
fn irql_is_per_thread() {
    let emu = emu();
    emu.at_irql(DISPATCH_LEVEL, || {
        let other = std::thread::spawn({
            let emu = emu.clone();
            move || emu.current_irql()
        });
        assert_eq!(other.join().unwrap(), PASSIVE_LEVEL);
    });
}

#[test]
fn raise_below_current_bugchecks() {
    let emu = emu();
    let bc = expect_bugcheck(|| emu.at_irql(DISPATCH_LEVEL, || emu.raise_irql(APC_LEVEL)));
    assert_eq!(bc.code, IRQL_NOT_GREATER_OR_EQUAL);
    assert_eq!(bc.params[..2], [2, 1]);
    assert!(bc.message.contains("KeRaiseIrql"), "{bc}");
    // expect_bugcheck put the thread back at PASSIVE_LEVEL.
    assert_eq!(emu.current_irql(), PASSIVE_LEVEL);

    let v = Emu::new(EmuConfig::verifier());
    let bc = expect_bugcheck(|| v.at_irql(DISPATCH_LEVEL, || v.raise_irql(PASSIVE_LEVEL)));
    assert_eq!(bc.code, bugcheck::DRIVER_VERIFIER_DETECTED_VIOLATION);
    assert_eq!(bc.params[..3], [c4::RAISE_IRQL_INVALID, 2, 0]);
}

#[test]
fn lower_above_current_bugchecks() {
    let emu = emu();
    let bc = expect_bugcheck(|| emu.lower_irql(DISPATCH_LEVEL));
    assert_eq!(bc.code, bugcheck::IRQL_NOT_LESS_OR_EQUAL);
    assert!(
        bc.to_string()
            .starts_with("BUGCHECK 0x0A IRQL_NOT_LESS_OR_EQUAL: "),
        "{bc}"
    );

    let v = Emu::new(EmuConfig::verifier());
    let bc = expect_bugcheck(|| v.at_irql(APC_LEVEL, || v.lower_irql(DISPATCH_LEVEL)));
    assert_eq!(bc.code, bugcheck::DRIVER_VERIFIER_DETECTED_VIOLATION);
    assert_eq!(bc.params[..3], [c4::LOWER_IRQL_INVALID, 1, 2]);
}

#[test]
fn spin_lock_raises_to_dispatch_and_restores() {
    let emu = emu();
    let lock = SpinLock::new(emu.new_spin_lock(), 5u32);
    for start in [PASSIVE_LEVEL, APC_LEVEL, DISPATCH_LEVEL] {
        emu.at_irql(start, || {
            {
                let mut g = lock.lock();
                assert_eq!(emu.current_irql(), DISPATCH_LEVEL);
                *g += 1;
            }
            assert_eq!(emu.current_irql(), start);
        });
    }
    assert_eq!(lock.into_inner(), 8);
}

#[test]
fn spin_lock_acquire_above_dispatch_bugchecks() {
    let emu = emu();
    let raw = emu.new_spin_lock();
    let bc = expect_bugcheck(|| emu.at_irql(HIGH, || raw.acquire()));
    assert_eq!(bc.code, IRQL_NOT_GREATER_OR_EQUAL);
    assert!(!raw.is_held());

    let v = Emu::new(EmuConfig::verifier());
    let raw = v.new_spin_lock();
    let bc = expect_bugcheck(|| v.at_irql(HIGH, || raw.acquire()));
    assert_eq!(bc.params[0], c4::RAISE_IRQL_INVALID);
}

#[test]
fn spin_lock_reacquire_by_holder_is_a_self_deadlock() {
    let emu = emu();
    let raw = emu.new_spin_lock();
    let bc = expect_bugcheck(|| {
        let _old = raw.acquire();
        raw.acquire()
    });
    assert_eq!(bc.code, bugcheck::DRIVER_VERIFIER_DETECTED_VIOLATION);
    assert_eq!(bc.params[0], c4::SELF_DEADLOCK);
    assert!(bc.message.contains("self-deadlock"), "{bc}");
}

#[test]
fn spin_lock_release_when_not_held_bugchecks() {
    let emu = emu();
    let raw = emu.new_spin_lock();
    let bc = expect_bugcheck(|| {
        emu.at_irql(DISPATCH_LEVEL, || {
            // SAFETY: deliberately wrong: the lock is not held (the emulator must catch it).
            unsafe { raw.release(PASSIVE_LEVEL) }
        })
    });
    assert_eq!(bc.params[0], c4::RELEASE_NOT_OWNED);
    assert!(bc.message.contains("not held"), "{bc}");
}

#[test]
fn spin_lock_release_by_another_thread_bugchecks() {
    let emu = emu();
    let raw = emu.new_spin_lock();
    let old = raw.acquire();
    let bc = std::thread::scope(|s| {
        s.spawn(|| {
            expect_bugcheck(|| {
                emu.at_irql(DISPATCH_LEVEL, || {
                    // SAFETY: deliberately wrong: another thread holds the lock.
                    unsafe { raw.release(PASSIVE_LEVEL) }
                })
            })
        })
        .join()
        .unwrap()
    });
    assert_eq!(bc.params[0], c4::RELEASE_NOT_OWNED);
    assert!(raw.is_held_by_current_thread());
    // SAFETY: this thread holds the lock and `old` is what its acquire returned.
    unsafe { raw.release(old) };
    assert!(!raw.is_held());
}

#[test]
fn spin_lock_release_with_wrong_old_irql_bugchecks() {
    let emu = emu();
    let raw = emu.new_spin_lock();
    let bc = expect_bugcheck(|| {
        let _old = raw.acquire();
        // SAFETY: deliberately wrong: the acquire returned PASSIVE_LEVEL.
        unsafe { raw.release(APC_LEVEL) }
    });
    assert_eq!(bc.params[0], c4::KEMU_RELEASE_WRONG_OLD_IRQL);
    assert_eq!(bc.params[2..], [0, 1]);

    // An old IRQL above the current one is an invalid lower.
    let raw = emu.new_spin_lock();
    let bc = expect_bugcheck(|| {
        let _old = raw.acquire();
        // SAFETY: deliberately wrong.
        unsafe { raw.release(HIGH) }
    });
    assert_eq!(bc.params[0], c4::KEMU_RELEASE_WRONG_OLD_IRQL);
}

#[test]
fn spin_lock_release_at_wrong_irql_bugchecks() {
    let emu = emu();
    let raw = emu.new_spin_lock();
    let bc = expect_bugcheck(|| {
        let old = raw.acquire();
        emu.lower_irql(PASSIVE_LEVEL);
        // SAFETY: deliberately wrong: the caller lowered IRQL while holding the lock.
        unsafe { raw.release(old) }
    });
    assert_eq!(bc.params[0], c4::RELEASE_SPINLOCK_IRQL);
}

#[test]
fn spin_lock_at_dpc_level_leaves_irql_alone() {
    let emu = emu();
    let raw = emu.new_spin_lock();
    emu.at_irql(DISPATCH_LEVEL, || {
        // SAFETY: at DISPATCH_LEVEL until the release below.
        unsafe { raw.acquire_at_dpc_level() };
        assert!(raw.is_held_by_current_thread());
        assert_eq!(emu.current_irql(), DISPATCH_LEVEL);
        // SAFETY: held from the at-DPC acquire above, still at DISPATCH_LEVEL.
        unsafe { raw.release_from_dpc_level() };
        assert!(!raw.is_held());
        assert_eq!(emu.current_irql(), DISPATCH_LEVEL);
    });
}

#[test]
fn spin_lock_at_dpc_acquire_below_dispatch_bugchecks() {
    for cfg in [EmuConfig::default(), EmuConfig::verifier()] {
        let emu = Emu::new(cfg);
        for irql in [PASSIVE_LEVEL, APC_LEVEL] {
            let raw = emu.new_spin_lock();
            let bc = expect_bugcheck(|| {
                emu.at_irql(irql, || {
                    // SAFETY: deliberately wrong: below DISPATCH_LEVEL (the emulator must
                    // stop before it takes the lock).
                    unsafe { raw.acquire_at_dpc_level() }
                })
            });
            assert_eq!(bc.code, bugcheck::DRIVER_VERIFIER_DETECTED_VIOLATION);
            assert_eq!(
                bc.params[..2],
                [c4::ACQUIRE_SPINLOCK_AT_DPC_IRQL, irql.into()]
            );
            assert_eq!(bc.params[2], std::ptr::from_ref(&raw) as usize);
            assert!(!raw.is_held());
        }
    }
}

#[test]
fn spin_lock_from_dpc_release_below_dispatch_bugchecks() {
    let emu = emu();
    let raw = emu.new_spin_lock();
    // SAFETY: at DISPATCH_LEVEL for the acquire.
    emu.at_irql(DISPATCH_LEVEL, || unsafe { raw.acquire_at_dpc_level() });
    let bc = expect_bugcheck(|| {
        // SAFETY: deliberately wrong: the caller is at PASSIVE_LEVEL.
        unsafe { raw.release_from_dpc_level() }
    });
    assert_eq!(bc.code, bugcheck::DRIVER_VERIFIER_DETECTED_VIOLATION);
    assert_eq!(bc.params[..2], [c4::RELEASE_SPINLOCK_FROM_DPC_IRQL, 0]);
    assert!(
        raw.is_held_by_current_thread(),
        "a refused release keeps the lock"
    );
    // SAFETY: held from the at-DPC acquire, now at DISPATCH_LEVEL.
    emu.at_irql(DISPATCH_LEVEL, || unsafe { raw.release_from_dpc_level() });
    assert!(!raw.is_held());
}

#[test]
fn spin_lock_at_dpc_reacquire_by_holder_is_a_self_deadlock() {
    let emu = emu();
    let raw = emu.new_spin_lock();
    let bc = expect_bugcheck(|| {
        let _old = raw.acquire();
        // SAFETY: at DISPATCH_LEVEL (the lock above raised it); the second acquire of the
        // same lock is the bug under test.
        unsafe { raw.acquire_at_dpc_level() }
    });
    assert_eq!(bc.params[0], c4::SELF_DEADLOCK);
}

#[test]
fn pool_above_dispatch_bugchecks() {
    let emu = emu();
    let bc = expect_bugcheck(|| emu.at_irql(HIGH, || emu.pool_alloc(8, TAG)));
    assert_eq!(
        (bc.code, bc.params[0], bc.params[3]),
        (bugcheck::BAD_POOL_CALLER, c2::ALLOC_IRQL, 8)
    );

    let p = emu.pool_alloc(8, TAG).unwrap();
    let bc = expect_bugcheck(|| {
        // SAFETY: `p` is a live allocation with TAG (the free is refused anyway).
        emu.at_irql(HIGH, || unsafe { emu.pool_free(p, TAG) })
    });
    assert_eq!(
        (bc.code, bc.params[0]),
        (bugcheck::BAD_POOL_CALLER, c2::FREE_IRQL)
    );
    // The refused free left the allocation live; DISPATCH_LEVEL is fine.
    // SAFETY: as above.
    emu.at_irql(DISPATCH_LEVEL, || unsafe { emu.pool_free(p, TAG) });

    let v = Emu::new(EmuConfig::verifier());
    let bc = expect_bugcheck(|| v.at_irql(HIGH, || v.pool_alloc(8, TAG)));
    assert_eq!(
        (bc.code, bc.params[0]),
        (bugcheck::DRIVER_VERIFIER_DETECTED_VIOLATION, c4::ALLOC_IRQL)
    );
    let p = v.pool_alloc(8, TAG).unwrap();
    // SAFETY: as above.
    let bc = expect_bugcheck(|| v.at_irql(HIGH, || unsafe { v.pool_free(p, TAG) }));
    assert_eq!(bc.params[0], c4::FREE_IRQL);
    // SAFETY: as above.
    unsafe { v.pool_free(p, TAG) };
    v.unload().unwrap();
    emu.unload().unwrap();
}

#[test]
fn block_pool_above_dispatch_bugchecks() {
    let emu = emu();
    let pool = emu.new_block_pool(32, TAG).unwrap();
    let bc = expect_bugcheck(|| emu.at_irql(HIGH, || pool.alloc()));
    assert_eq!(bc.params[0], c2::ALLOC_IRQL);
    let b = emu.at_irql(DISPATCH_LEVEL, || pool.alloc()).unwrap();
    // SAFETY: `b` came from this pool.
    let bc = expect_bugcheck(|| emu.at_irql(HIGH, || unsafe { pool.free(b) }));
    assert_eq!(bc.params[0], c2::FREE_IRQL);
    // SAFETY: as above; the refused free left it out.
    emu.at_irql(DISPATCH_LEVEL, || unsafe { pool.free(b) });
    drop(pool);
    emu.unload().unwrap();
}

#[test]
fn passive_only_routines_bugcheck_at_dispatch() {
    let emu = emu();
    let bc = expect_bugcheck(|| emu.at_irql(DISPATCH_LEVEL, || emu.new_block_pool(16, TAG)));
    assert_eq!(bc.params[0], c4::KEMU_PASSIVE_ONLY);
    assert_eq!(bc.params[3], Routine::NewBlockPool as usize);
    assert!(bc.message.contains("new_block_pool"), "{bc}");

    let bc = expect_bugcheck(|| {
        emu.at_irql(APC_LEVEL, || {
            // SAFETY: `nop` ignores its context.
            unsafe { emu.new_timer(nop, std::ptr::null()) }
        })
    });
    assert_eq!(bc.params[3], Routine::NewTimer as usize);

    let pool = emu.new_block_pool(16, TAG).unwrap();
    let bc = expect_bugcheck(|| emu.at_irql(DISPATCH_LEVEL, || drop(pool)));
    assert_eq!(bc.params[3], Routine::DropBlockPool as usize);

    // SAFETY: as above.
    let timer = unsafe { emu.new_timer(nop, std::ptr::null()) }.unwrap();
    timer.set(emu.now_100ns() + 10);
    let bc = expect_bugcheck(|| emu.at_irql(DISPATCH_LEVEL, || drop(timer)));
    assert_eq!(bc.params[3], Routine::DropTimer as usize);
    // Both objects were cleaned up before the bug check, so unload has nothing to report.
    emu.unload().unwrap();
}

#[test]
fn timer_calls_above_dispatch_bugcheck() {
    let emu = emu();
    // SAFETY: `nop` ignores its context.
    let timer = unsafe { emu.new_timer(nop, std::ptr::null()) }.unwrap();
    let bc = expect_bugcheck(|| emu.at_irql(HIGH, || timer.set(0)));
    assert_eq!(
        (bc.params[0], bc.params[3]),
        (c4::KEMU_ABOVE_DISPATCH, Routine::TimerSet as usize)
    );
    let bc = expect_bugcheck(|| emu.at_irql(HIGH, || timer.cancel()));
    assert_eq!(bc.params[3], Routine::TimerCancel as usize);
    emu.at_irql(DISPATCH_LEVEL, || {
        timer.set(emu.now_100ns() + 5);
        assert!(timer.cancel());
    });
}

#[test]
fn driver_bug_check_carries_its_code() {
    let emu = emu();
    let bc = expect_bugcheck(|| emu.bug_check(0xDEAD, [1, 2, 3, 4]));
    assert_eq!((bc.code, bc.params), (0xDEAD, [1, 2, 3, 4]));
    assert!(
        emu.log_lines()
            .iter()
            .any(|l| l.starts_with("ERROR") && l.contains("0xdead"))
    );
}

#[test]
#[should_panic(expected = "expected a bug check")]
fn expect_bugcheck_panics_when_nothing_happens() {
    expect_bugcheck(|| 1);
}

#[test]
#[should_panic(expected = "an ordinary panic")]
fn expect_bugcheck_passes_other_panics_on() {
    expect_bugcheck(|| panic!("an ordinary panic"));
}
