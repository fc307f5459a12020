//! A spin-lock-protected value over the platform's [`RawSpinLock`], and [`AtDispatch`], the
//! proof that the caller runs at `DISPATCH_LEVEL` which taking a lock without touching IRQL
//! ([`SpinLock::lock_at_dispatch`]) demands.

use super::{Irql, RawSpinLock};
use core::cell::UnsafeCell;
use core::marker::PhantomData;
use core::ops::{Deref, DerefMut};

/// A value protected by a kernel spin lock: locking raises to `DISPATCH_LEVEL` until the guard
/// is dropped.
pub struct SpinLock<L: RawSpinLock, T> {
    raw: L,
    value: UnsafeCell<T>,
}

// SAFETY: the raw lock serialises every access to `value` (see `lock`), so sharing the lock
// across threads only ever hands `&mut T` to one thread at a time; that requires `T: Send`.
unsafe impl<L: RawSpinLock, T: Send> Sync for SpinLock<L, T> {}
// SAFETY: moving the lock moves the value with it; `L: Send` by the `RawSpinLock` bound.
unsafe impl<L: RawSpinLock, T: Send> Send for SpinLock<L, T> {}

impl<L: RawSpinLock, T> SpinLock<L, T> {
    /// Wraps `value` with the released lock `raw`.
    pub const fn new(raw: L, value: T) -> Self {
        Self {
            raw,
            value: UnsafeCell::new(value),
        }
    }

    /// Acquires the lock (IRQL <= `DISPATCH_LEVEL`), raising to `DISPATCH_LEVEL`.
    pub fn lock(&self) -> SpinLockGuard<'_, L, T> {
        let old_irql = self.raw.acquire();
        SpinLockGuard {
            lock: self,
            old_irql,
            not_send: PhantomData,
        }
    }

    /// Acquires the lock without touching IRQL (`KeAcquireSpinLockAtDpcLevel`): for a caller
    /// that provably runs at `DISPATCH_LEVEL`, e.g. one holding another spin lock, whose guard
    /// hands out the proof ([`SpinLockGuard::at_dispatch`]). The guard borrows the proof, so
    /// it cannot outlive what keeps the caller at `DISPATCH_LEVEL`:
    ///
    /// ```
    /// use mxf_core::platform::{Platform, SpinLock};
    /// let emu = mxf_kemu::Emu::new(mxf_kemu::EmuConfig::default());
    /// let outer = SpinLock::new(emu.new_spin_lock(), ());
    /// let inner = SpinLock::new(emu.new_spin_lock(), 0u32);
    /// let g = outer.lock();
    /// let h = inner.lock_at_dispatch(g.at_dispatch());
    /// drop(h);
    /// drop(g);
    /// ```
    ///
    /// ```compile_fail
    /// use mxf_core::platform::{Platform, SpinLock};
    /// let emu = mxf_kemu::Emu::new(mxf_kemu::EmuConfig::default());
    /// let outer = SpinLock::new(emu.new_spin_lock(), ());
    /// let inner = SpinLock::new(emu.new_spin_lock(), 0u32);
    /// let g = outer.lock();
    /// let h = inner.lock_at_dispatch(g.at_dispatch());
    /// drop(g); // would lower IRQL while `inner` is held
    /// drop(h);
    /// ```
    pub fn lock_at_dispatch<'a>(&'a self, at: AtDispatch<'a>) -> SpinLockDpcGuard<'a, L, T> {
        // SAFETY: `at` proves the caller runs at DISPATCH_LEVEL for `'a` (see `AtDispatch`),
        // and the guard, which releases the lock, lives no longer than `'a`.
        unsafe { self.raw.acquire_at_dpc_level() };
        SpinLockDpcGuard {
            lock: self,
            _at: at,
        }
    }

    /// Mutable access without locking: `&mut self` proves no one else holds the lock.
    pub fn get_mut(&mut self) -> &mut T {
        self.value.get_mut()
    }

    /// Consumes the lock, returning the value.
    pub fn into_inner(self) -> T {
        self.value.into_inner()
    }
}

/// Proof that the lock is held; releases it (and restores IRQL) on drop.
///
/// `#[must_use]`: a guard dropped at once releases the lock at once. Not `Send`: a spin lock
/// is released on the processor that acquired it, at the IRQL that processor was raised to
/// (`KeReleaseSpinLock` restores *this* processor's IRQL), so the guard cannot move to
/// another thread:
///
/// ```compile_fail
/// use mxf_core::platform::{Platform, SpinLock};
/// let emu = mxf_kemu::Emu::new(mxf_kemu::EmuConfig::default());
/// let lock = SpinLock::new(emu.new_spin_lock(), 0u32);
/// fn must_be_send<T: Send>(_: T) {}
/// must_be_send(lock.lock());
/// ```
///
/// The same code without the `Send` requirement compiles:
///
/// ```
/// use mxf_core::platform::{Platform, SpinLock};
/// let emu = mxf_kemu::Emu::new(mxf_kemu::EmuConfig::default());
/// let lock = SpinLock::new(emu.new_spin_lock(), 0u32);
/// fn any<T>(_: T) {}
/// any(lock.lock());
/// ```
#[must_use = "dropping the guard releases the lock at once"]
pub struct SpinLockGuard<'a, L: RawSpinLock, T> {
    lock: &'a SpinLock<L, T>,
    old_irql: Irql,
    /// Makes the guard `!Send` (and `!Sync`; `Sync` is given back below).
    not_send: PhantomData<*const ()>,
}

// SAFETY: sharing `&SpinLockGuard` across threads hands out only `&T` (through `Deref`), which
// is sound when `T: Sync`; the guard itself stays on its thread (it is not `Send`).
unsafe impl<L: RawSpinLock, T: Sync> Sync for SpinLockGuard<'_, L, T> {}

impl<L: RawSpinLock, T> SpinLockGuard<'_, L, T> {
    /// Proof that this thread runs at `DISPATCH_LEVEL` while the guard lives (a held spin
    /// lock keeps it there).
    pub fn at_dispatch(&self) -> AtDispatch<'_> {
        AtDispatch::new()
    }

    /// The value and [`SpinLockGuard::at_dispatch`]'s proof at once (for a caller that takes
    /// inner locks with [`SpinLock::lock_at_dispatch`] while it changes the value).
    pub fn value_at_dispatch(&mut self) -> (&mut T, AtDispatch<'_>) {
        // SAFETY: as in `deref_mut`: the guard exists only while the lock is held, and
        // `&mut self` makes this the only reference through it.
        let v = unsafe { &mut *self.lock.value.get() };
        (v, AtDispatch::new())
    }
}

impl<L: RawSpinLock, T> Deref for SpinLockGuard<'_, L, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the guard exists only while the lock is held, so no other reference to the
        // value is live.
        unsafe { &*self.lock.value.get() }
    }
}

impl<L: RawSpinLock, T> DerefMut for SpinLockGuard<'_, L, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: as in `deref`; `&mut self` makes this the only reference through the guard.
        unsafe { &mut *self.lock.value.get() }
    }
}

impl<L: RawSpinLock, T> Drop for SpinLockGuard<'_, L, T> {
    fn drop(&mut self) {
        // SAFETY: this guard was created by `lock`, which acquired the lock on this thread and
        // recorded the IRQL that `acquire` returned.
        unsafe { self.lock.raw.release(self.old_irql) }
    }
}

/// Proof that the calling thread runs at `DISPATCH_LEVEL` for `'a`: only a held spin lock's
/// guard hands one out, borrowed from it. `Copy`, but neither `Send` nor `Sync`: IRQL is the
/// processor's, so the proof stays on the thread that holds the lock.
///
/// (Lowering IRQL by hand with a lock held breaks the proof as it breaks the lock itself; the
/// emulator bug-checks both.)
#[derive(Clone, Copy)]
pub struct AtDispatch<'a> {
    _held: PhantomData<(&'a (), *const ())>,
}

impl AtDispatch<'_> {
    const fn new() -> Self {
        Self { _held: PhantomData }
    }
}

/// Proof that the lock is held, taken with [`SpinLock::lock_at_dispatch`]; releases it on drop
/// (`KeReleaseSpinLockFromDpcLevel`, IRQL untouched). `#[must_use]` and not `Send`, for the
/// reasons given on [`SpinLockGuard`]:
///
/// ```compile_fail
/// use mxf_core::platform::{Platform, SpinLock};
/// let emu = mxf_kemu::Emu::new(mxf_kemu::EmuConfig::default());
/// let outer = SpinLock::new(emu.new_spin_lock(), ());
/// let inner = SpinLock::new(emu.new_spin_lock(), 0u32);
/// let g = outer.lock();
/// fn must_be_send<T: Send>(_: T) {}
/// must_be_send(inner.lock_at_dispatch(g.at_dispatch()));
/// ```
///
/// The same without the `Send` requirement compiles:
///
/// ```
/// use mxf_core::platform::{Platform, SpinLock};
/// let emu = mxf_kemu::Emu::new(mxf_kemu::EmuConfig::default());
/// let outer = SpinLock::new(emu.new_spin_lock(), ());
/// let inner = SpinLock::new(emu.new_spin_lock(), 0u32);
/// let g = outer.lock();
/// fn any<T>(_: T) {}
/// any(inner.lock_at_dispatch(g.at_dispatch()));
/// ```
#[must_use = "dropping the guard releases the lock at once"]
pub struct SpinLockDpcGuard<'a, L: RawSpinLock, T> {
    lock: &'a SpinLock<L, T>,
    /// Keeps the caller's proof borrowed (and the guard `!Send`).
    _at: AtDispatch<'a>,
}

// SAFETY: as for `SpinLockGuard`: shared access hands out only `&T`.
unsafe impl<L: RawSpinLock, T: Sync> Sync for SpinLockDpcGuard<'_, L, T> {}

impl<L: RawSpinLock, T> SpinLockDpcGuard<'_, L, T> {
    /// Proof that this thread runs at `DISPATCH_LEVEL` while the guard lives.
    pub fn at_dispatch(&self) -> AtDispatch<'_> {
        AtDispatch::new()
    }
}

impl<L: RawSpinLock, T> Deref for SpinLockDpcGuard<'_, L, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the guard exists only while the lock is held, so no other reference to the
        // value is live.
        unsafe { &*self.lock.value.get() }
    }
}

impl<L: RawSpinLock, T> DerefMut for SpinLockDpcGuard<'_, L, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: as in `deref`; `&mut self` makes this the only reference through the guard.
        unsafe { &mut *self.lock.value.get() }
    }
}

impl<L: RawSpinLock, T> Drop for SpinLockDpcGuard<'_, L, T> {
    fn drop(&mut self) {
        // SAFETY: this guard was created by `lock_at_dispatch`, which acquired the lock on this
        // thread at DISPATCH_LEVEL; the proof it borrows keeps the thread there until now.
        unsafe { self.lock.raw.release_from_dpc_level() }
    }
}
