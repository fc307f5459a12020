//! [`KernelPlatform`]: the platform seam over the Windows kernel. It sits on top of the
//! crate's primitives (`clock`, `bug_check`, `irql`, `lookaside`, `spin`, `timer`, ...), none
//! of which depends on it.

use crate::lookaside::KernelBlockPool;
use crate::spin::{KernelSpinLock, NtSpinLockCalls};
use crate::sys::{self, ALL_PROCESSOR_GROUPS, POOL_FLAG_NON_PAGED};
use crate::timer::{KernelTimer, NtTimerCalls};
use crate::{bug_check, clock, irql, log, processor};
use core::ffi::c_void;
use core::fmt;
use core::ptr::NonNull;
use mxf_core::platform::{Irql, LogLevel, Platform, PoolTag, TimerCallback};

/// The Windows kernel as a [`Platform`]: a zero-sized handle.
#[derive(Clone, Copy, Default, Debug)]
pub struct KernelPlatform;

impl Platform for KernelPlatform {
    type BlockPool = KernelBlockPool;
    type RawSpinLock = KernelSpinLock<NtSpinLockCalls>;
    type Timer = KernelTimer<NtTimerCalls>;

    fn current_irql(&self) -> Irql {
        irql::current()
    }

    fn raise_irql(&self, new: Irql) -> Irql {
        let old = irql::current();
        if let Err((code, params)) = irql::check_raise(old, new) {
            self.bug_check(code, params);
        }
        // SAFETY: checked: `new` is in range and not below the current IRQL, so raising keeps
        // every IRQL invariant the caller relies on.
        unsafe { irql::write(new) };
        old
    }

    fn lower_irql(&self, old: Irql) {
        let current = irql::current();
        if let Err((code, params)) = irql::check_lower(current, old) {
            self.bug_check(code, params);
        }
        // SAFETY: checked: `old <= current <= HIGH_LEVEL`; the trait's caller restores an IRQL
        // it got from `raise_irql` (KeLowerIrql's contract).
        unsafe { irql::write(old) };
    }

    /// Active processors of every group, capped at `MAX_PROCESSORS` (at least 1).
    fn processor_count(&self) -> u32 {
        // SAFETY: KeQueryActiveProcessorCountEx takes a group number (ALL_PROCESSOR_GROUPS
        // included), reads kernel state only, and may be called at any IRQL.
        let n = unsafe { sys::ntoskrnl::KeQueryActiveProcessorCountEx(ALL_PROCESSOR_GROUPS) };
        processor::clamp_processor_count(n)
    }

    /// The system-wide processor index (processors of all groups numbered contiguously, so
    /// group 1's first processor follows group 0's last), folded below `MAX_PROCESSORS` on
    /// larger machines.
    #[inline]
    fn current_processor(&self) -> u32 {
        // SAFETY: a null PPROCESSOR_NUMBER is allowed (OPTIONAL) and means "index only"; the
        // call reads this processor's PRCB and may be made at any IRQL.
        let i = unsafe { sys::ntoskrnl::KeGetCurrentProcessorNumberEx(core::ptr::null_mut()) };
        processor::fold_processor_index(i)
    }

    fn pool_alloc(&self, size: usize, tag: PoolTag) -> Option<NonNull<u8>> {
        // SAFETY: ExAllocatePool2(POOL_FLAG_NON_PAGED) at IRQL <= DISPATCH_LEVEL (the trait's
        // rule) returns zeroed, 16-byte-aligned nonpaged NX memory or null. A zero-byte
        // request asks for one byte so that the result can always be freed.
        let p = unsafe { sys::ntoskrnl::ExAllocatePool2(POOL_FLAG_NON_PAGED, size.max(1), tag.0) };
        NonNull::new(p.cast::<u8>())
    }

    unsafe fn pool_free(&self, p: NonNull<u8>, tag: PoolTag) {
        // SAFETY: the caller guarantees `p` came from `pool_alloc` with `tag` and is freed
        // once; IRQL <= DISPATCH_LEVEL.
        unsafe { sys::ntoskrnl::ExFreePoolWithTag(p.as_ptr().cast(), tag.0) }
    }

    fn new_block_pool(
        &self,
        block_size: usize,
        tag: PoolTag,
    ) -> Result<KernelBlockPool, mxf_abi::NtError> {
        KernelBlockPool::new(block_size, tag)
    }

    fn new_spin_lock(&self) -> KernelSpinLock<NtSpinLockCalls> {
        KernelSpinLock::new()
    }

    unsafe fn new_timer(
        &self,
        callback: TimerCallback,
        context: *const c_void,
    ) -> Result<KernelTimer<NtTimerCalls>, mxf_abi::NtError> {
        // SAFETY: the caller's guarantee is the one KernelTimer::new needs.
        unsafe { KernelTimer::new(callback, context) }
    }

    fn now_100ns(&self) -> i64 {
        clock::interrupt_time()
    }

    fn system_time_100ns(&self) -> i64 {
        let mut t = 0i64;
        // SAFETY: `t` is a valid, aligned LARGE_INTEGER out-pointer; the routine reads kernel
        // state only and may be called at any IRQL (Windows 8+).
        unsafe { sys::ntoskrnl::KeQuerySystemTimePrecise(&mut t) };
        t
    }

    fn log(&self, level: LogLevel, args: fmt::Arguments<'_>) {
        log::print(level, args);
    }

    fn bug_check(&self, code: u32, params: [usize; 4]) -> ! {
        bug_check::bug_check(code, params)
    }
}
