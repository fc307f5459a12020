//! `KSPIN_LOCK` via `KeAcquireSpinLockRaiseToDpc`/`KeReleaseSpinLock` (exports on x64).

use crate::sys::{self, KspinLock};
use core::cell::UnsafeCell;
use mxf_core::platform::{Irql, RawSpinLock};

/// A kernel spin lock. A released `KSPIN_LOCK` is just a zero word (`KeInitializeSpinLock`
/// is inline and stores 0), so the lock may move while nobody holds it — which Rust's
/// borrowing already guarantees (`SpinLock` borrows the lock for as long as a guard lives).
pub struct KernelSpinLock {
    lock: UnsafeCell<KspinLock>,
}

impl KernelSpinLock {
    /// A released lock (`KeInitializeSpinLock`).
    pub const fn new() -> Self {
        Self {
            lock: UnsafeCell::new(0),
        }
    }
}

impl Default for KernelSpinLock {
    fn default() -> Self {
        Self::new()
    }
}

// SAFETY: the word is only touched by the kernel's interlocked spin-lock routines.
unsafe impl Send for KernelSpinLock {}
// SAFETY: as for Send.
unsafe impl Sync for KernelSpinLock {}

// SAFETY: KeAcquireSpinLockRaiseToDpc raises to DISPATCH_LEVEL and spins until it owns the
// lock; KeReleaseSpinLock releases it and restores the IRQL it is given — mutual exclusion
// across CPUs as the trait requires.
unsafe impl RawSpinLock for KernelSpinLock {
    fn acquire(&self) -> Irql {
        // SAFETY: the lock word lives as long as `self` and is nonpaged whenever the owner
        // honours the platform's no-paged-memory rule; callable at IRQL <= DISPATCH_LEVEL.
        unsafe { sys::ntoskrnl::KeAcquireSpinLockRaiseToDpc(self.lock.get()) }
    }

    unsafe fn release(&self, old: Irql) {
        // SAFETY: the caller holds the lock and passes the IRQL its acquire returned.
        unsafe { sys::ntoskrnl::KeReleaseSpinLock(self.lock.get(), old) }
    }
}
