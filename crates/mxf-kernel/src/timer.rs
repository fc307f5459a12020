//! One-shot timer: a `KTIMER` + `KDPC` in their own pool allocation (the kernel links both into
//! its queues, so they must not move).
//!
//! The platform seam speaks interrupt time (`KeQueryInterruptTime`, monotonic), but an
//! *absolute* `KeSetTimer` due time is system (wall-clock) time, which can jump. So every due
//! time is converted to a *relative* one (negative `DueTime`), which the kernel measures in
//! interrupt time: [`relative_due_time`].

use crate::bugcheck::{MXFLOOP_CONSISTENCY_STOP, STOP_PASSIVE_ONLY_AT_RAISED_IRQL};
use mxf_core::platform::PoolTag;

/// Pool tag of timer allocations.
pub const TIMER_TAG: PoolTag = PoolTag::new(b"MxfT");

/// The `KeSetTimer` `DueTime` (negative = relative, 100 ns units) that fires when interrupt
/// time reaches `due_100ns`, given interrupt time `now_100ns`. A due time in the past becomes
/// the shortest relative wait (-1), which fires at the next clock tick.
pub const fn relative_due_time(due_100ns: i64, now_100ns: i64) -> i64 {
    let delta = due_100ns.saturating_sub(now_100ns);
    if delta < 1 { -1 } else { -delta }
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

#[cfg(windows)]
pub use kernel::KernelTimer;

#[cfg(windows)]
mod kernel {
    use super::*;
    use crate::sys::{self, Kdpc, Ktimer, POOL_FLAG_NON_PAGED};
    use core::cell::UnsafeCell;
    use core::ffi::c_void;
    use core::ptr::{NonNull, addr_of_mut};
    use core::sync::atomic::{AtomicBool, Ordering};
    use mxf_abi::{NtStatus, STATUS_INSUFFICIENT_RESOURCES};
    use mxf_core::platform::{Timer, TimerCallback};

    #[repr(C)]
    struct Block {
        timer: UnsafeCell<Ktimer>,
        dpc: UnsafeCell<Kdpc>,
        callback: TimerCallback,
        context: *const c_void,
        /// Set by drop: `set` no longer arms and the DPC no longer calls back.
        dying: AtomicBool,
    }

    /// A [`Timer`] over `KTIMER` + `KDPC`.
    pub struct KernelTimer {
        block: NonNull<Block>,
    }

    // SAFETY: KeSetTimer/KeCancelTimer may be called from any CPU concurrently (the kernel
    // serialises them on the timer); the callback contract (`new`) covers `context`.
    unsafe impl Send for KernelTimer {}
    // SAFETY: as for Send; `&self` methods only call the kernel or read atomics.
    unsafe impl Sync for KernelTimer {}

    unsafe extern "system" fn timer_dpc(
        _dpc: *mut Kdpc,
        context: *mut c_void,
        _arg1: *mut c_void,
        _arg2: *mut c_void,
    ) {
        let block = context.cast::<Block>().cast_const();
        // SAFETY: the DPC was initialised with the block as context, and drop frees the block
        // only after KeFlushQueuedDpcs has waited for every queued/running instance of it.
        let block = unsafe { &*block };
        if block.dying.load(Ordering::Acquire) {
            return;
        }
        // SAFETY: `new`'s caller promised `callback(context)` is sound at DISPATCH_LEVEL (where
        // DPCs run) until the timer is dropped, which has not completed yet.
        unsafe { (block.callback)(block.context) }
    }

    impl KernelTimer {
        /// A disarmed timer. `PASSIVE_LEVEL`.
        ///
        /// # Safety
        /// As [`mxf_core::platform::Platform::new_timer`]: `context` stays valid for
        /// `callback` until the timer has been dropped, and `callback(context)` is sound from
        /// any CPU at `DISPATCH_LEVEL`.
        pub unsafe fn new(
            callback: TimerCallback,
            context: *const c_void,
        ) -> Result<Self, NtStatus> {
            // SAFETY: nonpaged, zeroed, 16-byte aligned memory or null (IRQL <= DISPATCH).
            let raw = unsafe {
                sys::ntoskrnl::ExAllocatePool2(
                    POOL_FLAG_NON_PAGED,
                    core::mem::size_of::<Block>(),
                    TIMER_TAG.0,
                )
            };
            let block = NonNull::new(raw.cast::<Block>()).ok_or(STATUS_INSUFFICIENT_RESOURCES)?;
            let b = block.as_ptr();
            // SAFETY: `b` is a fresh, exclusively owned allocation of the right size/alignment.
            // KeInitializeTimer/KeInitializeDpc initialise kernel objects in nonpaged memory that
            // will not move until drop; the DPC's context is the block itself.
            unsafe {
                addr_of_mut!((*b).callback).write(callback);
                addr_of_mut!((*b).context).write(context);
                addr_of_mut!((*b).dying).write(AtomicBool::new(false));
                sys::ntoskrnl::KeInitializeTimer(addr_of_mut!((*b).timer).cast());
                sys::ntoskrnl::KeInitializeDpc(addr_of_mut!((*b).dpc).cast(), timer_dpc, b.cast());
            }
            Ok(Self { block })
        }

        fn block(&self) -> &Block {
            // SAFETY: valid from `new` until drop; the kernel-owned parts are in UnsafeCells.
            unsafe { self.block.as_ref() }
        }
    }

    impl Timer for KernelTimer {
        fn set(&self, due_100ns: i64) {
            let b = self.block();
            if b.dying.load(Ordering::Acquire) {
                return;
            }
            let due = relative_due_time(due_100ns, crate::platform::interrupt_time());
            // SAFETY: timer and DPC were initialised in `new` and live until drop; KeSetTimer is
            // callable at IRQL <= DISPATCH_LEVEL and replaces any previous due time.
            unsafe { sys::ntoskrnl::KeSetTimer(b.timer.get(), due, b.dpc.get()) };
        }

        fn cancel(&self) -> bool {
            // SAFETY: initialised timer; KeCancelTimer is callable at IRQL <= DISPATCH_LEVEL.
            unsafe { sys::ntoskrnl::KeCancelTimer(self.block().timer.get()) != 0 }
        }
    }

    impl Drop for KernelTimer {
        fn drop(&mut self) {
            let irql = crate::irql::current();
            if let Err((code, params)) = check_drop_irql(irql, self.block.as_ptr() as usize) {
                // See `check_drop_irql`: waiting for the DPC here could hang the machine.
                mxf_core::platform::Platform::bug_check(&crate::KernelPlatform, code, params);
            }
            let b = self.block();
            b.dying.store(true, Ordering::Release);
            // A callback running right now may have read `dying == false` and re-arm the timer
            // after the first cancel; the first flush waits for it, the second cancel disarms
            // what it armed, and the second flush waits for a DPC that expiry may have queued
            // in between (that one sees `dying` and returns).
            // SAFETY: initialised timer; drop runs at PASSIVE_LEVEL (checked above), where
            // KeFlushQueuedDpcs may wait.
            unsafe {
                sys::ntoskrnl::KeCancelTimer(b.timer.get());
                sys::ntoskrnl::KeFlushQueuedDpcs();
                sys::ntoskrnl::KeCancelTimer(b.timer.get());
                sys::ntoskrnl::KeFlushQueuedDpcs();
            }
            // SAFETY: the timer is not queued and no DPC instance is queued or running, so the
            // kernel holds no reference to the block; it came from ExAllocatePool2 with TIMER_TAG.
            unsafe { sys::ntoskrnl::ExFreePoolWithTag(self.block.as_ptr().cast(), TIMER_TAG.0) };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn future_due_times_become_relative_waits() {
        assert_eq!(relative_due_time(1_000, 400), -600);
        assert_eq!(relative_due_time(401, 400), -1);
    }

    #[test]
    fn past_and_present_due_times_fire_at_the_next_tick() {
        assert_eq!(relative_due_time(400, 400), -1);
        assert_eq!(relative_due_time(0, 400), -1);
        assert_eq!(relative_due_time(i64::MIN, i64::MAX), -1);
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
        assert_eq!(relative_due_time(i64::MAX, i64::MIN), -i64::MAX);
        assert_eq!(relative_due_time(i64::MAX, 0), -i64::MAX);
    }
}
