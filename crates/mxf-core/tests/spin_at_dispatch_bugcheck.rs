//! [`SpinLock::lock_at_dispatch`] trusts its proof that the caller runs at `DISPATCH_LEVEL`;
//! a caller that lowers IRQL by hand while it holds the lock that gave the proof breaks it,
//! and the emulator then stops the system as Driver Verifier does (0xC4 / 0x40).
//!
//! The bug check leaves an outer guard held at the wrong IRQL: unwinding would drop it and
//! bug-check again inside the unwind, so the case runs in a child process
//! ([`mxf_testkit::subprocess::expect_bugcheck_in_child`]), which dies at the first.

use mxf_core::platform::bugcheck::DRIVER_VERIFIER_DETECTED_VIOLATION;
use mxf_core::platform::{DISPATCH_LEVEL, PASSIVE_LEVEL, Platform, SpinLock};
use mxf_kemu::{Emu, EmuConfig, c4};
use mxf_testkit::subprocess::expect_bugcheck_in_child;

#[test]
fn lock_at_dispatch_below_dispatch_level_is_verifier_0x40() {
    let r = expect_bugcheck_in_child(
        "lock_at_dispatch_below_dispatch_level_is_verifier_0x40",
        || {
            let emu = Emu::new(EmuConfig::default());
            let outer = SpinLock::new(emu.new_spin_lock(), ());
            let inner = SpinLock::new(emu.new_spin_lock(), 0u32);
            let g = outer.lock();
            // The misuse: IRQL lowered while `outer` is held, so the proof `g` gives is false.
            emu.lower_irql(PASSIVE_LEVEL);
            let _h = inner.lock_at_dispatch(g.at_dispatch());
        },
    );
    assert_eq!(r.code, DRIVER_VERIFIER_DETECTED_VIOLATION, "{r}");
    assert_eq!(r.params[0], c4::ACQUIRE_SPINLOCK_AT_DPC_IRQL, "{r}");
    assert_eq!(r.params[1], usize::from(PASSIVE_LEVEL), "{r}");
    assert_ne!(r.params[2], 0, "the lock's address: {r}");
    assert!(r.message.contains("KeAcquireSpinLockAtDpcLevel"), "{r}");
}

#[test]
fn lock_at_dispatch_under_a_held_lock_stays_at_dispatch_level() {
    // The same code without the misuse: no bug check, IRQL untouched by the inner lock.
    let emu = Emu::new(EmuConfig::verifier());
    let outer = SpinLock::new(emu.new_spin_lock(), ());
    let inner = SpinLock::new(emu.new_spin_lock(), 0u32);
    {
        let g = outer.lock();
        {
            let mut h = inner.lock_at_dispatch(g.at_dispatch());
            *h += 1;
            assert_eq!(emu.current_irql(), DISPATCH_LEVEL);
        }
        assert_eq!(emu.current_irql(), DISPATCH_LEVEL);
    }
    assert_eq!(emu.current_irql(), PASSIVE_LEVEL);
    assert_eq!(*inner.lock(), 1);
}
