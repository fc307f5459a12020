//! `KSPIN_LOCK` via `KeAcquireSpinLockRaiseToDpc`/`KeReleaseSpinLock` (exports on x64), and
//! `KeAcquireSpinLockAtDpcLevel`/`KeReleaseSpinLockFromDpcLevel` for a caller already at
//! `DISPATCH_LEVEL`.
//!
//! The lock is generic over [`SpinLockCalls`], the kernel routines it is built on, so that
//! the host tests run the same acquire/release code against a model that checks the lock word
//! and the IRQL on every path (normal exit, early return, unwinding, nesting).

use crate::sys::KspinLock;
use core::cell::UnsafeCell;
use core::marker::PhantomData;
use mxf_core::platform::{Irql, RawSpinLock};

/// The kernel routines a [`KernelSpinLock`] is built on.
///
/// # Safety
/// Implementations are `KeAcquireSpinLockRaiseToDpc`/`KeReleaseSpinLock`: `acquire` spins until
/// the caller owns the lock word, raises to `DISPATCH_LEVEL` and returns the previous IRQL;
/// `release` frees the word and lowers to the IRQL it is given — mutual exclusion across CPUs;
/// and `KeAcquireSpinLockAtDpcLevel`/`KeReleaseSpinLockFromDpcLevel`, the same on the same word
/// without touching IRQL.
pub unsafe trait SpinLockCalls {
    /// `KeAcquireSpinLockRaiseToDpc`.
    ///
    /// # Safety
    /// `lock` points to a live, initialised `KSPIN_LOCK` in nonpaged memory; IRQL <=
    /// `DISPATCH_LEVEL`.
    unsafe fn acquire(lock: *mut KspinLock) -> Irql;

    /// `KeReleaseSpinLock`.
    ///
    /// # Safety
    /// The caller holds `lock` (acquired on this CPU) and `old` is what that acquire returned.
    unsafe fn release(lock: *mut KspinLock, old: Irql);

    /// `KeAcquireSpinLockAtDpcLevel`.
    ///
    /// # Safety
    /// As for [`SpinLockCalls::acquire`], but the caller runs at `DISPATCH_LEVEL`.
    unsafe fn acquire_at_dpc_level(lock: *mut KspinLock);

    /// `KeReleaseSpinLockFromDpcLevel`.
    ///
    /// # Safety
    /// The caller holds `lock` (from [`SpinLockCalls::acquire_at_dpc_level`] on this CPU) and
    /// runs at `DISPATCH_LEVEL`.
    unsafe fn release_from_dpc_level(lock: *mut KspinLock);
}

/// A kernel spin lock. A released `KSPIN_LOCK` is just a zero word (`KeInitializeSpinLock`
/// is inline and stores 0), so the lock may move while nobody holds it — which Rust's
/// borrowing already guarantees (`SpinLock` borrows the lock for as long as a guard lives).
pub struct KernelSpinLock<C: SpinLockCalls> {
    lock: UnsafeCell<KspinLock>,
    _calls: PhantomData<fn() -> C>,
}

impl<C: SpinLockCalls> KernelSpinLock<C> {
    /// A released lock (`KeInitializeSpinLock`).
    pub const fn new() -> Self {
        Self {
            lock: UnsafeCell::new(0),
            _calls: PhantomData,
        }
    }
}

impl<C: SpinLockCalls> Default for KernelSpinLock<C> {
    fn default() -> Self {
        Self::new()
    }
}

// SAFETY: the word is only touched by the kernel's interlocked spin-lock routines (`C`), and
// `C` is a marker type with no state (`PhantomData<fn() -> C>` is Send).
unsafe impl<C: SpinLockCalls> Send for KernelSpinLock<C> {}
// SAFETY: as for Send: shared access only reaches the word through `C`'s interlocked routines.
unsafe impl<C: SpinLockCalls> Sync for KernelSpinLock<C> {}

// SAFETY: `C` provides mutual exclusion and the raise to DISPATCH_LEVEL (its own contract);
// `acquire`/`release` forward to it unchanged, passing back exactly the IRQL it returned.
unsafe impl<C: SpinLockCalls> RawSpinLock for KernelSpinLock<C> {
    fn acquire(&self) -> Irql {
        // SAFETY: the lock word lives as long as `self`, was initialised by `new`, and is
        // nonpaged whenever the owner honours the platform's no-paged-memory rule; the trait's
        // caller is at IRQL <= DISPATCH_LEVEL.
        unsafe { C::acquire(self.lock.get()) }
    }

    unsafe fn release(&self, old: Irql) {
        // SAFETY: the caller holds the lock and passes the IRQL its acquire returned (this
        // method's contract), which is what `C::release` requires.
        unsafe { C::release(self.lock.get(), old) }
    }

    unsafe fn acquire_at_dpc_level(&self) {
        // SAFETY: the lock word is live and initialised as in `acquire`; the caller runs at
        // DISPATCH_LEVEL (this method's contract).
        unsafe { C::acquire_at_dpc_level(self.lock.get()) }
    }

    unsafe fn release_from_dpc_level(&self) {
        // SAFETY: the caller holds the lock from `acquire_at_dpc_level` and is still at
        // DISPATCH_LEVEL (this method's contract).
        unsafe { C::release_from_dpc_level(self.lock.get()) }
    }
}

#[cfg(windows)]
pub use kernel::NtSpinLockCalls;

#[cfg(windows)]
mod kernel {
    use super::*;
    use crate::sys;

    /// The ntoskrnl exports.
    pub struct NtSpinLockCalls;

    // SAFETY: these are the kernel's own spin-lock routines.
    unsafe impl SpinLockCalls for NtSpinLockCalls {
        unsafe fn acquire(lock: *mut KspinLock) -> Irql {
            // SAFETY: forwarded contract (live initialised lock word, IRQL <= DISPATCH_LEVEL).
            unsafe { sys::ntoskrnl::KeAcquireSpinLockRaiseToDpc(lock) }
        }

        unsafe fn release(lock: *mut KspinLock, old: Irql) {
            // SAFETY: forwarded contract (the caller holds `lock`; `old` from its acquire).
            unsafe { sys::ntoskrnl::KeReleaseSpinLock(lock, old) }
        }

        unsafe fn acquire_at_dpc_level(lock: *mut KspinLock) {
            // SAFETY: forwarded contract (live initialised lock word, IRQL == DISPATCH_LEVEL).
            unsafe { sys::ntoskrnl::KeAcquireSpinLockAtDpcLevel(lock) }
        }

        unsafe fn release_from_dpc_level(lock: *mut KspinLock) {
            // SAFETY: forwarded contract (the caller holds `lock` from the at-DPC acquire and
            // is at DISPATCH_LEVEL).
            unsafe { sys::ntoskrnl::KeReleaseSpinLockFromDpcLevel(lock) }
        }
    }
}

#[cfg(test)]
mod tests {
    //! The lock through `mxf_core`'s `SpinLock` guard against a model of the two routines that
    //! owns the lock word like the kernel (0 = free) and keeps a per-thread IRQL.
    extern crate std;
    use super::*;
    use mxf_core::platform::{DISPATCH_LEVEL, PASSIVE_LEVEL, SpinLock};
    use std::cell::Cell;
    use std::panic::{AssertUnwindSafe, catch_unwind};
    use std::vec::Vec;

    std::thread_local! {
        static IRQL: Cell<Irql> = const { Cell::new(PASSIVE_LEVEL) };
        static HELD: Cell<u32> = const { Cell::new(0) };
        static MISUSE: Cell<Option<&'static str>> = const { Cell::new(None) };
        /// Locks held through the at-DPC pair.
        static AT_DPC: Cell<u32> = const { Cell::new(0) };
    }

    fn misuse(what: &'static str) {
        MISUSE.with(|m| {
            if m.get().is_none() {
                m.set(Some(what));
            }
        });
    }

    struct ModelCalls;

    // SAFETY: single-threaded model: the word is owned by this thread while nonzero.
    unsafe impl SpinLockCalls for ModelCalls {
        unsafe fn acquire(lock: *mut KspinLock) -> Irql {
            let old = IRQL.get();
            if old > DISPATCH_LEVEL {
                misuse("acquire above DISPATCH_LEVEL");
            }
            // SAFETY: the tests' locks are live for the whole call.
            let word = unsafe { &mut *lock };
            if *word != 0 {
                // One thread: spinning on a held word would never end.
                misuse("acquire of a lock this thread already holds (deadlock)");
            }
            *word = 1;
            HELD.set(HELD.get() + 1);
            IRQL.set(DISPATCH_LEVEL);
            old
        }

        unsafe fn release(lock: *mut KspinLock, old: Irql) {
            // SAFETY: as for `acquire`.
            let word = unsafe { &mut *lock };
            if *word == 0 {
                misuse("release of a free lock");
            }
            if IRQL.get() != DISPATCH_LEVEL {
                misuse("release below DISPATCH_LEVEL");
            }
            *word = 0;
            HELD.set(HELD.get().wrapping_sub(1));
            IRQL.set(old);
        }

        unsafe fn acquire_at_dpc_level(lock: *mut KspinLock) {
            if IRQL.get() < DISPATCH_LEVEL {
                misuse("at-DPC acquire below DISPATCH_LEVEL");
            }
            // SAFETY: as for `acquire`.
            let word = unsafe { &mut *lock };
            if *word != 0 {
                misuse("acquire of a lock this thread already holds (deadlock)");
            }
            *word = 1;
            HELD.set(HELD.get() + 1);
            AT_DPC.set(AT_DPC.get() + 1);
        }

        unsafe fn release_from_dpc_level(lock: *mut KspinLock) {
            // SAFETY: as for `acquire`.
            let word = unsafe { &mut *lock };
            if *word == 0 {
                misuse("release of a free lock");
            }
            if IRQL.get() < DISPATCH_LEVEL {
                misuse("from-DPC release below DISPATCH_LEVEL");
            }
            *word = 0;
            HELD.set(HELD.get().wrapping_sub(1));
            AT_DPC.set(AT_DPC.get().wrapping_sub(1));
        }
    }

    type Lock<T> = SpinLock<KernelSpinLock<ModelCalls>, T>;

    fn fresh_thread_state(irql: Irql) {
        IRQL.set(irql);
        HELD.set(0);
        MISUSE.set(None);
        AT_DPC.set(0);
    }

    /// Nothing held, IRQL back where it started, no misuse seen.
    fn assert_released(start: Irql) {
        assert_eq!(MISUSE.get(), None);
        assert_eq!(HELD.get(), 0, "a lock is still held");
        assert_eq!(AT_DPC.get(), 0, "an at-DPC lock is still held");
        assert_eq!(IRQL.get(), start, "IRQL not restored");
    }

    #[test]
    fn a_guard_raises_to_dispatch_and_its_drop_releases_and_restores() {
        for start in [PASSIVE_LEVEL, 1, DISPATCH_LEVEL] {
            fresh_thread_state(start);
            let lock = Lock::new(KernelSpinLock::new(), 5u32);
            {
                let mut g = lock.lock();
                assert_eq!(IRQL.get(), DISPATCH_LEVEL);
                assert_eq!(HELD.get(), 1);
                *g += 1;
            }
            assert_released(start);
            assert_eq!(*lock.lock(), 6);
            assert_released(start);
        }
    }

    fn take_if_even(lock: &Lock<Vec<u32>>) -> Result<u32, &'static str> {
        let mut g = lock.lock();
        let last = *g.last().ok_or("empty")?;
        if last % 2 == 1 {
            return Err("odd");
        }
        g.pop();
        Ok(last)
    }

    #[test]
    fn every_early_return_releases() {
        fresh_thread_state(PASSIVE_LEVEL);
        let lock = Lock::new(KernelSpinLock::new(), std::vec![1, 2]);
        assert_eq!(take_if_even(&lock), Ok(2));
        assert_released(PASSIVE_LEVEL);
        assert_eq!(take_if_even(&lock), Err("odd"));
        assert_released(PASSIVE_LEVEL);
        lock.lock().clear();
        assert_eq!(take_if_even(&lock), Err("empty"));
        assert_released(PASSIVE_LEVEL);
    }

    #[test]
    fn unwinding_out_of_the_critical_section_releases() {
        fresh_thread_state(PASSIVE_LEVEL);
        let lock = Lock::new(KernelSpinLock::new(), 0u32);
        let r = catch_unwind(AssertUnwindSafe(|| {
            let mut g = lock.lock();
            *g = 1;
            panic!("inside the lock");
        }));
        assert!(r.is_err());
        assert_released(PASSIVE_LEVEL);
        assert_eq!(*lock.lock(), 1);
    }

    #[test]
    fn nested_locks_restore_each_level_in_reverse_order() {
        fresh_thread_state(PASSIVE_LEVEL);
        let outer = Lock::new(KernelSpinLock::new(), ());
        let inner = Lock::new(KernelSpinLock::new(), ());
        let g1 = outer.lock();
        {
            let _g2 = inner.lock();
            assert_eq!(HELD.get(), 2);
        }
        // The inner release restored DISPATCH_LEVEL (what its acquire saw), not PASSIVE.
        assert_eq!(IRQL.get(), DISPATCH_LEVEL);
        assert_eq!(HELD.get(), 1);
        drop(g1);
        assert_released(PASSIVE_LEVEL);
    }

    #[test]
    fn the_model_catches_a_lock_left_held() {
        // The checks above are only worth something if a leaked guard is visible.
        fresh_thread_state(PASSIVE_LEVEL);
        let lock = Lock::new(KernelSpinLock::new(), ());
        core::mem::forget(lock.lock());
        assert_eq!(HELD.get(), 1);
        assert_eq!(IRQL.get(), DISPATCH_LEVEL);
        let _second = lock.lock();
        assert_eq!(
            MISUSE.get(),
            Some("acquire of a lock this thread already holds (deadlock)")
        );
    }

    #[test]
    fn an_at_dispatch_guard_takes_the_word_without_touching_irql() {
        for start in [PASSIVE_LEVEL, 1, DISPATCH_LEVEL] {
            fresh_thread_state(start);
            let outer = Lock::new(KernelSpinLock::new(), ());
            let inner = Lock::new(KernelSpinLock::new(), 5u32);
            {
                let g = outer.lock();
                {
                    let mut h = inner.lock_at_dispatch(g.at_dispatch());
                    assert_eq!(HELD.get(), 2);
                    assert_eq!(AT_DPC.get(), 1, "the at-DPC routine took the inner lock");
                    assert_eq!(IRQL.get(), DISPATCH_LEVEL);
                    *h += 1;
                }
                assert_eq!(HELD.get(), 1);
                assert_eq!(AT_DPC.get(), 0);
                // The from-DPC release left IRQL where the outer lock put it.
                assert_eq!(IRQL.get(), DISPATCH_LEVEL);
                assert_eq!(MISUSE.get(), None);
            }
            assert_released(start);
            assert_eq!(*inner.lock(), 6);
            assert_released(start);
        }
    }

    #[test]
    fn at_dispatch_guards_nest_and_unwind() {
        fresh_thread_state(PASSIVE_LEVEL);
        let outer = Lock::new(KernelSpinLock::new(), ());
        let a = Lock::new(KernelSpinLock::new(), 0u32);
        let b = Lock::new(KernelSpinLock::new(), 0u32);
        let r = catch_unwind(AssertUnwindSafe(|| {
            let mut g = outer.lock();
            let (_, at) = g.value_at_dispatch();
            let ga = a.lock_at_dispatch(at);
            let mut gb = b.lock_at_dispatch(ga.at_dispatch());
            assert_eq!(AT_DPC.get(), 2);
            *gb = 1;
            panic!("inside both");
        }));
        assert!(r.is_err());
        assert_released(PASSIVE_LEVEL);
        assert_eq!(*b.lock(), 1);
    }

    #[test]
    fn the_model_catches_an_at_dpc_acquire_below_dispatch() {
        // What the proof rules out, done by hand: the model must see it.
        fresh_thread_state(PASSIVE_LEVEL);
        let lock = KernelSpinLock::<ModelCalls>::new();
        // SAFETY: deliberately wrong (PASSIVE_LEVEL); the model only records the misuse.
        unsafe { lock.acquire_at_dpc_level() };
        assert_eq!(MISUSE.get(), Some("at-DPC acquire below DISPATCH_LEVEL"));
        MISUSE.set(None);
        // SAFETY: deliberately wrong, as above.
        unsafe { lock.release_from_dpc_level() };
        assert_eq!(MISUSE.get(), Some("from-DPC release below DISPATCH_LEVEL"));
    }
}
