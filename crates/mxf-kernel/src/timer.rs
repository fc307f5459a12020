//! One-shot timer: a `KTIMER` + `KDPC` in their own pool allocation (the kernel links both into
//! its queues, so they must not move).
//!
//! The platform seam speaks interrupt time (`KeQueryInterruptTimePrecise`, monotonic), but an
//! *absolute* `KeSetTimer` due time is system (wall-clock) time, which can jump. So every due
//! time is converted to a *relative* one (negative `DueTime`), which the kernel measures in
//! interrupt time — and a due time already reached queues the DPC at once
//! (`KeInsertQueueDpc`) instead of waiting for the next clock tick (up to 15.6 ms): [`arming`].
//!
//! The timer is generic over [`TimerCalls`], the kernel routines it uses, so that the host
//! tests run its teardown against a model of the timer and DPC queues in which the callback
//! re-arms the timer from another processor at every point of the drop.

use crate::sys::{KdeferredRoutine, Kdpc, Ktimer};
use core::cell::UnsafeCell;
use core::ffi::c_void;
use core::marker::PhantomData;
use core::ptr::{NonNull, addr_of_mut};
use core::sync::atomic::{AtomicBool, Ordering};
use mxf_core::platform::bugcheck::{MXFLOOP_CONSISTENCY_STOP, STOP_PASSIVE_ONLY_AT_RAISED_IRQL};
use mxf_core::platform::{PoolTag, Timer, TimerCallback};

/// Pool tag of timer allocations.
pub const TIMER_TAG: PoolTag = PoolTag::new(b"MxfT");

/// How a timer is armed for interrupt time `due_100ns` at interrupt time `now_100ns`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arming {
    /// Due already: cancel the timer and queue its DPC now (`KeInsertQueueDpc`), so that it
    /// runs as soon as the processor drops below `DISPATCH_LEVEL`, not at the next tick.
    Now,
    /// `KeSetTimer` with this `DueTime`: negative = relative, 100 ns units.
    After(i64),
}

/// The [`Arming`] of a timer due at `due_100ns` when it is `now_100ns` (saturating).
pub const fn arming(due_100ns: i64, now_100ns: i64) -> Arming {
    let delta = due_100ns.saturating_sub(now_100ns);
    if delta < 1 {
        Arming::Now
    } else {
        Arming::After(-delta)
    }
}

/// Parameter 1 of the bug check a [`KernelTimer`] raises when it is dropped above
/// `PASSIVE_LEVEL` (see [`check_drop_irql`]).
pub const PASSIVE_ONLY_AT_RAISED_IRQL: usize = STOP_PASSIVE_ONLY_AT_RAISED_IRQL;

/// Parameter 4 of that bug check: which operation — dropping a timer (the emulator's routine
/// id for it).
pub const OPERATION_DROP_TIMER: usize = 8;

/// What dropping a timer at IRQL `irql` must do: `Ok(())` at `PASSIVE_LEVEL`, else the bug
/// check (code, parameters) it raises instead of waiting.
///
/// Dropping waits, with `KeFlushQueuedDpcs`, for the timer's DPC to finish: only legal at
/// `PASSIVE_LEVEL`. Above it the wait could spin forever — a drop made from the timer's own
/// callback (a DPC, at `DISPATCH_LEVEL`) waits for itself — and the machine would hang or go
/// down later with a code that names neither the timer nor the IRQL. So the drop checks
/// first and stops the machine with a code that says what happened:
///
/// the driver's own [`MXFLOOP_CONSISTENCY_STOP`] (`MXFC`, 0x4D584643; it is no Verifier
/// violation, so not 0xC4) with
/// - p1 = [`PASSIVE_ONLY_AT_RAISED_IRQL`] (0xE001),
/// - p2 = the IRQL of the drop,
/// - p3 = the address of the timer's `KTIMER` block (pool tag [`TIMER_TAG`], `MxfT`),
/// - p4 = [`OPERATION_DROP_TIMER`] (8).
///
/// The cause is a bug of ours (the platform seam says timers are dropped at
/// `PASSIVE_LEVEL`: objects holding one are released at `PASSIVE_LEVEL`); nothing is freed,
/// so nothing of the timer is corrupted in the dump.
pub const fn check_drop_irql(irql: u8, block: usize) -> Result<(), (u32, [usize; 4])> {
    if irql == mxf_core::platform::PASSIVE_LEVEL {
        Ok(())
    } else {
        Err((
            MXFLOOP_CONSISTENCY_STOP,
            [
                PASSIVE_ONLY_AT_RAISED_IRQL,
                irql as usize,
                block,
                OPERATION_DROP_TIMER,
            ],
        ))
    }
}

/// The kernel routines a [`KernelTimer`] is built on.
///
/// # Safety
/// Implementations are the ntoskrnl routines named on each method, with their semantics: in
/// particular `flush_queued_dpcs` returns only once every DPC queued (or running) on any
/// processor when it was called has returned, and `cancel` dequeues a pending timer so that
/// its expiry cannot queue the DPC any more.
pub unsafe trait TimerCalls {
    /// `ExAllocatePool2(POOL_FLAG_NON_PAGED, size, TIMER_TAG)`: zeroed nonpaged memory aligned
    /// to 16 bytes, or null. IRQL <= `DISPATCH_LEVEL`.
    fn alloc_block(size: usize) -> *mut c_void;

    /// `ExFreePoolWithTag(block, TIMER_TAG)`.
    ///
    /// # Safety
    /// `block` came from [`TimerCalls::alloc_block`], is freed once and no one uses it after.
    unsafe fn free_block(block: *mut c_void);

    /// `KeInitializeTimer(timer)` then `KeInitializeDpc(dpc, routine, context)`.
    ///
    /// # Safety
    /// `timer` and `dpc` point to storage that does not move or get reused until freed with
    /// [`TimerCalls::free_block`] after the timer is quiesced; `routine(dpc, context, ..)` is
    /// sound at `DISPATCH_LEVEL` until then.
    unsafe fn initialize(
        timer: *mut Ktimer,
        dpc: *mut Kdpc,
        routine: KdeferredRoutine,
        context: *mut c_void,
    );

    /// `KeSetTimer(timer, due, dpc)`: (re)arms the timer, replacing a pending due time.
    ///
    /// # Safety
    /// `timer` and `dpc` were initialised together by [`TimerCalls::initialize`] and are live.
    unsafe fn set(timer: *mut Ktimer, due: i64, dpc: *mut Kdpc);

    /// `KeInsertQueueDpc(dpc, NULL, NULL)`: queues the DPC now (no effect if it is queued).
    ///
    /// # Safety
    /// As for [`TimerCalls::set`].
    unsafe fn insert_dpc(dpc: *mut Kdpc);

    /// `KeCancelTimer(timer)`: whether the timer was pending.
    ///
    /// # Safety
    /// `timer` was initialised by [`TimerCalls::initialize`] and is live.
    unsafe fn cancel(timer: *mut Ktimer) -> bool;

    /// `KeFlushQueuedDpcs()`. `PASSIVE_LEVEL` only.
    fn flush_queued_dpcs();

    /// `KeGetCurrentIrql()`.
    fn current_irql() -> u8;

    /// Interrupt time in 100 ns units (what relative due times are measured in).
    fn interrupt_time() -> i64;

    /// `KeBugCheckEx`.
    fn bug_check(code: u32, params: [usize; 4]) -> !;
}

/// The timer's own pool allocation: `KTIMER` and `KDPC` must not move while the kernel may
/// reference them (queued timer, queued or running DPC).
#[repr(C)]
struct Block {
    timer: UnsafeCell<Ktimer>,
    dpc: UnsafeCell<Kdpc>,
    callback: TimerCallback,
    context: *const c_void,
    /// Set by drop: `set` no longer arms and the DPC no longer calls back.
    dying: AtomicBool,
}

/// A [`Timer`] over `KTIMER` + `KDPC`, through the routines `C`.
///
/// # Invariants
/// `block` is a live allocation from `C::alloc_block` with an initialised timer and DPC whose
/// context is the block itself, owned by this value until drop frees it.
pub struct KernelTimer<C: TimerCalls> {
    block: NonNull<Block>,
    _calls: PhantomData<fn() -> C>,
}

// SAFETY: KeSetTimer/KeCancelTimer may be called from any CPU concurrently (the kernel
// serialises them on the timer); the callback contract (`new`) covers `context`; `C` is a
// stateless marker.
unsafe impl<C: TimerCalls> Send for KernelTimer<C> {}
// SAFETY: as for Send; `&self` methods only call `C` or read atomics.
unsafe impl<C: TimerCalls> Sync for KernelTimer<C> {}

/// The DPC routine of every [`KernelTimer`]: calls back unless the timer is being dropped.
///
/// # Safety
/// `context` is the timer's [`Block`] (as `KernelTimer::new` initialised the DPC), which stays
/// live until the DPC has returned (drop flushes before freeing).
unsafe extern "system" fn timer_dpc(
    _dpc: *mut Kdpc,
    context: *mut c_void,
    _arg1: *mut c_void,
    _arg2: *mut c_void,
) {
    let block = context.cast::<Block>().cast_const();
    // SAFETY: the DPC was initialised with the block as context, and drop frees the block only
    // after `flush_queued_dpcs` has waited for every queued/running instance of it.
    let block = unsafe { &*block };
    if block.dying.load(Ordering::Acquire) {
        return;
    }
    // SAFETY: `new`'s caller promised `callback(context)` is sound at DISPATCH_LEVEL (where
    // DPCs run) until the timer is dropped, which has not completed yet.
    unsafe { (block.callback)(block.context) }
}

impl<C: TimerCalls> KernelTimer<C> {
    /// A disarmed timer. `PASSIVE_LEVEL`.
    ///
    /// # Safety
    /// As [`mxf_core::platform::Platform::new_timer`]: `context` stays valid for `callback`
    /// until the timer has been dropped, and `callback(context)` is sound from any CPU at
    /// `DISPATCH_LEVEL`.
    pub unsafe fn new(
        callback: TimerCallback,
        context: *const c_void,
    ) -> Result<Self, mxf_abi::NtError> {
        let raw = C::alloc_block(core::mem::size_of::<Block>());
        let block =
            NonNull::new(raw.cast::<Block>()).ok_or(mxf_abi::NtError::INSUFFICIENT_RESOURCES)?;
        let b = block.as_ptr();
        // SAFETY: `b` is a fresh allocation of `size_of::<Block>()` bytes (alloc_block's
        // contract): the field projection stays inside it and creates no reference.
        let callback_field = unsafe { addr_of_mut!((*b).callback) };
        // SAFETY: the field of a fresh, exclusively owned, 16-byte aligned allocation: an
        // aligned, in-bounds write nobody else observes.
        unsafe { callback_field.write(callback) };
        // SAFETY: as for `callback`, a projection inside the fresh allocation.
        let context_field = unsafe { addr_of_mut!((*b).context) };
        // SAFETY: as for `callback`, an aligned write into the exclusively owned allocation.
        unsafe { context_field.write(context) };
        // SAFETY: as for `callback`, a projection inside the fresh allocation.
        let dying = unsafe { addr_of_mut!((*b).dying) };
        // SAFETY: as for `callback`, an aligned write into the exclusively owned allocation.
        unsafe { dying.write(AtomicBool::new(false)) };
        // SAFETY: as for `callback`, a projection inside the fresh allocation.
        let timer = unsafe { addr_of_mut!((*b).timer) };
        // SAFETY: as for `callback`, a projection inside the fresh allocation.
        let dpc = unsafe { addr_of_mut!((*b).dpc) };
        // SAFETY: the timer and DPC storage is in this allocation, which does not move and is
        // freed only by drop after quiescing; `timer_dpc` is sound with the block as context
        // until then (its own contract, which drop keeps).
        unsafe { C::initialize(timer.cast(), dpc.cast(), timer_dpc, b.cast()) };
        // INVARIANT: the block is allocated and initialised, and owned by the new value.
        Ok(Self {
            block,
            _calls: PhantomData,
        })
    }

    fn block(&self) -> &Block {
        // SAFETY: live from `new` until drop (type invariant); the kernel-owned parts are in
        // UnsafeCells, the rest is written only in `new`.
        unsafe { self.block.as_ref() }
    }
}

impl<C: TimerCalls> Timer for KernelTimer<C> {
    fn set(&self, due_100ns: i64) {
        let b = self.block();
        if b.dying.load(Ordering::Acquire) {
            return;
        }
        match arming(due_100ns, C::interrupt_time()) {
            Arming::Now => {
                // Replaces a pending due time, as KeSetTimer would.
                // SAFETY: the timer was initialised in `new` and lives until drop; the trait's
                // caller is at IRQL <= DISPATCH_LEVEL.
                unsafe { C::cancel(b.timer.get()) };
                // SAFETY: the DPC was initialised with the timer in `new` and lives until drop.
                unsafe { C::insert_dpc(b.dpc.get()) };
            }
            Arming::After(due) => {
                // SAFETY: timer and DPC were initialised together in `new` and live until drop;
                // the trait's caller is at IRQL <= DISPATCH_LEVEL.
                unsafe { C::set(b.timer.get(), due, b.dpc.get()) };
            }
        }
    }

    fn cancel(&self) -> bool {
        // SAFETY: the timer was initialised in `new` and lives until drop.
        unsafe { C::cancel(self.block().timer.get()) }
    }
}

impl<C: TimerCalls> Drop for KernelTimer<C> {
    fn drop(&mut self) {
        if let Err((code, params)) =
            check_drop_irql(C::current_irql(), self.block.as_ptr() as usize)
        {
            // See `check_drop_irql`: waiting for the DPC here could hang the machine.
            C::bug_check(code, params);
        }
        let b = self.block();
        b.dying.store(true, Ordering::Release);
        // A callback running right now may have read `dying == false` and re-arm the timer
        // after the first cancel; the first flush waits for it, the second cancel disarms what
        // it armed, and the second flush waits for a DPC that expiry may have queued in between
        // (that one sees `dying` and returns). Nothing can arm the timer after that: `set`
        // checks `dying`, and every callback that read it as false has returned.
        // SAFETY: the timer was initialised in `new` and is live until the free below.
        unsafe { C::cancel(b.timer.get()) };
        C::flush_queued_dpcs();
        // SAFETY: as above.
        unsafe { C::cancel(b.timer.get()) };
        C::flush_queued_dpcs();
        // SAFETY: the timer is not queued and no DPC instance is queued or running (above), so
        // the kernel holds no reference to the block; it came from `C::alloc_block` and this
        // value owned it (type invariant), so it is freed once.
        unsafe { C::free_block(self.block.as_ptr().cast()) };
    }
}

#[cfg(windows)]
pub use kernel::NtTimerCalls;

#[cfg(windows)]
mod kernel {
    use super::*;
    use crate::sys::{self, POOL_FLAG_NON_PAGED};
    use core::ptr;

    /// The ntoskrnl exports.
    pub struct NtTimerCalls;

    // SAFETY: each method is the ntoskrnl routine its trait documentation names.
    unsafe impl TimerCalls for NtTimerCalls {
        fn alloc_block(size: usize) -> *mut c_void {
            // SAFETY: nonpaged, zeroed, 16-byte aligned memory or null; IRQL <= DISPATCH_LEVEL
            // is the caller's (PASSIVE_LEVEL in `new`).
            unsafe { sys::ntoskrnl::ExAllocatePool2(POOL_FLAG_NON_PAGED, size, TIMER_TAG.0) }
        }

        unsafe fn free_block(block: *mut c_void) {
            // SAFETY: forwarded contract: from ExAllocatePool2 with TIMER_TAG, freed once.
            unsafe { sys::ntoskrnl::ExFreePoolWithTag(block, TIMER_TAG.0) }
        }

        unsafe fn initialize(
            timer: *mut Ktimer,
            dpc: *mut Kdpc,
            routine: KdeferredRoutine,
            context: *mut c_void,
        ) {
            // SAFETY: forwarded contract: nonpaged storage that stays put until freed.
            unsafe { sys::ntoskrnl::KeInitializeTimer(timer) };
            // SAFETY: as above; `routine` is sound with `context` (forwarded contract).
            unsafe { sys::ntoskrnl::KeInitializeDpc(dpc, routine, context) };
        }

        unsafe fn set(timer: *mut Ktimer, due: i64, dpc: *mut Kdpc) {
            // SAFETY: forwarded contract; KeSetTimer is callable at IRQL <= DISPATCH_LEVEL.
            unsafe { sys::ntoskrnl::KeSetTimer(timer, due, dpc) };
        }

        unsafe fn insert_dpc(dpc: *mut Kdpc) {
            // SAFETY: forwarded contract; KeInsertQueueDpc is callable at IRQL <= HIGH_LEVEL.
            unsafe { sys::ntoskrnl::KeInsertQueueDpc(dpc, ptr::null_mut(), ptr::null_mut()) };
        }

        unsafe fn cancel(timer: *mut Ktimer) -> bool {
            // SAFETY: forwarded contract; KeCancelTimer is callable at IRQL <= DISPATCH_LEVEL.
            unsafe { sys::ntoskrnl::KeCancelTimer(timer) != 0 }
        }

        fn flush_queued_dpcs() {
            // SAFETY: the trait's callers call this at PASSIVE_LEVEL only (drop checks first).
            unsafe { sys::ntoskrnl::KeFlushQueuedDpcs() }
        }

        fn current_irql() -> u8 {
            crate::irql::current()
        }

        fn interrupt_time() -> i64 {
            crate::clock::interrupt_time()
        }

        fn bug_check(code: u32, params: [usize; 4]) -> ! {
            crate::bug_check::bug_check(code, params)
        }
    }
}

#[cfg(test)]
mod teardown_model;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn future_due_times_become_relative_waits() {
        assert_eq!(arming(1_000, 400), Arming::After(-600));
        assert_eq!(arming(401, 400), Arming::After(-1));
    }

    #[test]
    fn past_and_present_due_times_queue_the_dpc_now_not_at_the_next_tick() {
        assert_eq!(arming(400, 400), Arming::Now);
        assert_eq!(arming(0, 400), Arming::Now);
        assert_eq!(arming(i64::MIN, i64::MAX), Arming::Now);
    }

    #[test]
    fn dropping_at_passive_level_is_allowed() {
        assert_eq!(check_drop_irql(0, 0x1000), Ok(()));
    }

    #[test]
    fn dropping_above_passive_level_bug_checks_naming_irql_timer_and_operation() {
        for irql in [1u8, 2, 15] {
            assert_eq!(
                check_drop_irql(irql, 0xFFFF_8000_1234_5670),
                Err((
                    0x4D58_4643,
                    [0xE001, irql as usize, 0xFFFF_8000_1234_5670, 8]
                ))
            );
        }
    }

    #[test]
    fn extreme_due_times_saturate_instead_of_overflowing() {
        assert_eq!(arming(i64::MAX, i64::MIN), Arming::After(-i64::MAX));
        assert_eq!(arming(i64::MAX, 0), Arming::After(-i64::MAX));
    }
}
