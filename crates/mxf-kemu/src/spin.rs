//! [`EmuSpinLock`]: a real spin lock (atomics) with the kernel's IRQL behaviour and the
//! deadlock verifier's ownership checks.

use crate::bugcheck::{bug, c4};
use crate::irql;
use mxf_core::platform::{DISPATCH_LEVEL, Irql, RawSpinLock, bugcheck};
use std::cell::Cell;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};

static NEXT_THREAD: AtomicU64 = AtomicU64::new(1);

thread_local! {
    static THREAD_ID: Cell<u64> = const { Cell::new(0) };
}

/// A nonzero id of the calling thread (the lock's owner field).
fn thread_id() -> u64 {
    THREAD_ID.with(|c| {
        if c.get() == 0 {
            c.set(NEXT_THREAD.fetch_add(1, Ordering::Relaxed));
        }
        c.get()
    })
}

/// Spins before yielding the host thread: a host thread holding the lock may have been
/// descheduled, which a real CPU at `DISPATCH_LEVEL` never is.
const SPINS_BEFORE_YIELD: u32 = 64;

/// The emulator's [`RawSpinLock`] (`KSPIN_LOCK`).
pub struct EmuSpinLock {
    /// Driver Verifier on (`EmuConfig::verifier` of the emulator that made the lock).
    verifier: bool,
    /// 0 when free, else the owning thread's id.
    owner: AtomicU64,
    /// The IRQL the holder's acquire returned (written and read only by the holder).
    old_irql: AtomicU8,
}

impl EmuSpinLock {
    pub(crate) fn new(verifier: bool) -> Self {
        Self {
            verifier,
            owner: AtomicU64::new(0),
            old_irql: AtomicU8::new(0),
        }
    }

    /// Whether some thread holds the lock.
    pub fn is_held(&self) -> bool {
        self.owner.load(Ordering::Relaxed) != 0
    }

    /// Whether the calling thread holds the lock.
    pub fn is_held_by_current_thread(&self) -> bool {
        self.owner.load(Ordering::Relaxed) == thread_id()
    }

    fn addr(&self) -> usize {
        std::ptr::from_ref(self) as usize
    }

    /// The deadlock verifier's check before `me` spins on the lock: spinning on a lock it
    /// holds itself would never end.
    #[track_caller]
    #[inline(always)]
    fn check_not_own(&self, me: u64) {
        if self.owner.load(Ordering::Relaxed) == me {
            bug(
                bugcheck::DRIVER_VERIFIER_DETECTED_VIOLATION,
                [c4::SELF_DEADLOCK, self.addr(), 0, 0],
                format!(
                    "self-deadlock: spin lock {:#x} acquired again by the thread that holds it",
                    self.addr()
                ),
            );
        }
    }

    /// Spins until `me` owns the lock word.
    #[inline(always)]
    fn take(&self, me: u64) {
        let mut spins = 0u32;
        while self
            .owner
            .compare_exchange_weak(0, me, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            spins += 1;
            if spins.is_multiple_of(SPINS_BEFORE_YIELD) {
                std::thread::yield_now();
            } else {
                std::hint::spin_loop();
            }
        }
    }

    /// The deadlock verifier's check before a release: `me` holds the lock.
    #[track_caller]
    #[inline(always)]
    fn check_owned(&self, me: u64) {
        let owner = self.owner.load(Ordering::Relaxed);
        if owner != me {
            let who = if owner == 0 {
                "it is not held".to_string()
            } else {
                format!("thread {owner} holds it")
            };
            bug(
                bugcheck::DRIVER_VERIFIER_DETECTED_VIOLATION,
                [c4::RELEASE_NOT_OWNED, self.addr(), owner as usize, 0],
                format!(
                    "release of spin lock {:#x} by a thread that does not hold it ({who})",
                    self.addr()
                ),
            );
        }
    }

    /// Verifier's check of the `...AtDpcLevel`/`...FromDpcLevel` routines: the caller is at
    /// `DISPATCH_LEVEL` or above (`subcode` 0x40 / 0x41; p2 IRQL, p3 lock).
    #[track_caller]
    #[inline(always)]
    fn check_at_dpc_level(&self, subcode: usize, routine: &str) {
        let cur = irql::current();
        if cur < DISPATCH_LEVEL {
            bug(
                bugcheck::DRIVER_VERIFIER_DETECTED_VIOLATION,
                [subcode, cur.into(), self.addr(), 0],
                format!(
                    "{routine} of spin lock {:#x} at IRQL {cur}, below DISPATCH_LEVEL",
                    self.addr()
                ),
            );
        }
    }
}

impl std::fmt::Debug for EmuSpinLock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmuSpinLock")
            .field("owner", &self.owner.load(Ordering::Relaxed))
            .finish()
    }
}

// SAFETY: `acquire` and `acquire_at_dpc_level` take `owner` from 0 to the caller's id with an
// Acquire CAS and the releases store 0 with Release ordering, so exactly one thread holds the
// lock between them and everything written under the lock happens-before the next holder;
// `acquire` raises to DISPATCH_LEVEL before spinning (the at-DPC pair leaves IRQL alone, as
// the kernel's does).
unsafe impl RawSpinLock for EmuSpinLock {
    #[track_caller]
    fn acquire(&self) -> Irql {
        let me = thread_id();
        self.check_not_own(me);
        // KeAcquireSpinLock = KeRaiseIrql(DISPATCH_LEVEL): from above DISPATCH_LEVEL that is a
        // raise to a lower level, which `irql::raise` reports.
        let old = irql::raise(self.verifier, DISPATCH_LEVEL);
        self.take(me);
        self.old_irql.store(old, Ordering::Relaxed);
        old
    }

    #[track_caller]
    unsafe fn release(&self, old: Irql) {
        self.check_owned(thread_id());
        let cur = irql::current();
        if cur != DISPATCH_LEVEL {
            bug(
                bugcheck::DRIVER_VERIFIER_DETECTED_VIOLATION,
                [
                    c4::RELEASE_SPINLOCK_IRQL,
                    cur.into(),
                    self.addr(),
                    old.into(),
                ],
                format!(
                    "KeReleaseSpinLock of {:#x} at IRQL {cur}, not DISPATCH_LEVEL",
                    self.addr()
                ),
            );
        }
        let expected = self.old_irql.load(Ordering::Relaxed);
        if old != expected {
            bug(
                bugcheck::DRIVER_VERIFIER_DETECTED_VIOLATION,
                [
                    c4::KEMU_RELEASE_WRONG_OLD_IRQL,
                    self.addr(),
                    expected.into(),
                    old.into(),
                ],
                format!(
                    "KeReleaseSpinLock of {:#x} with old IRQL {old}, but the acquire returned \
                     {expected}",
                    self.addr()
                ),
            );
        }
        self.owner.store(0, Ordering::Release);
        irql::lower(self.verifier, old);
    }

    #[track_caller]
    unsafe fn acquire_at_dpc_level(&self) {
        let me = thread_id();
        self.check_not_own(me);
        self.check_at_dpc_level(
            c4::ACQUIRE_SPINLOCK_AT_DPC_IRQL,
            "KeAcquireSpinLockAtDpcLevel",
        );
        self.take(me);
    }

    #[track_caller]
    unsafe fn release_from_dpc_level(&self) {
        self.check_owned(thread_id());
        self.check_at_dpc_level(
            c4::RELEASE_SPINLOCK_FROM_DPC_IRQL,
            "KeReleaseSpinLockFromDpcLevel",
        );
        self.owner.store(0, Ordering::Release);
    }
}
