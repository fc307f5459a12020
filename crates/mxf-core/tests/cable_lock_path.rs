//! How a cable write takes its locks: the cable's own with the IRQL raise (`acquire`), each
//! joined reader's loopback lock at `DISPATCH_LEVEL` without one (`acquire_at_dpc_level`),
//! counted by a platform that forwards to the emulator and counts each kind of acquire.

use mxf_core::cable::{Cable, CableConfig, WriterId};
use mxf_core::loopback::{Loopback, LoopbackConfig, WriteOutcome};
use mxf_core::platform::{Irql, LogLevel, Platform, PoolTag, RawSpinLock, TimerCallback};
use mxf_kemu::{Emu, EmuBlockPool, EmuConfig, EmuSpinLock, EmuTimer};
use std::cell::Cell;
use std::ffi::c_void;
use std::fmt;
use std::ptr::NonNull;

std::thread_local! {
    /// `acquire` calls on this thread.
    static RAISING: Cell<u32> = const { Cell::new(0) };
    /// `acquire_at_dpc_level` calls on this thread.
    static AT_DPC: Cell<u32> = const { Cell::new(0) };
}

fn counts() -> (u32, u32) {
    (RAISING.get(), AT_DPC.get())
}

/// The emulator's lock, counting its acquires.
struct Counting(EmuSpinLock);

// SAFETY: every call is forwarded to the emulator's lock unchanged.
unsafe impl RawSpinLock for Counting {
    fn acquire(&self) -> Irql {
        RAISING.set(RAISING.get() + 1);
        self.0.acquire()
    }
    unsafe fn release(&self, old: Irql) {
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { self.0.release(old) }
    }
    unsafe fn acquire_at_dpc_level(&self) {
        AT_DPC.set(AT_DPC.get() + 1);
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { self.0.acquire_at_dpc_level() }
    }
    unsafe fn release_from_dpc_level(&self) {
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { self.0.release_from_dpc_level() }
    }
}

/// The emulator, its spin locks [`Counting`].
#[derive(Clone)]
struct Counted(Emu);

impl Platform for Counted {
    type BlockPool = EmuBlockPool;
    type RawSpinLock = Counting;
    type Timer = EmuTimer;

    fn current_irql(&self) -> Irql {
        self.0.current_irql()
    }
    fn raise_irql(&self, new: Irql) -> Irql {
        self.0.raise_irql(new)
    }
    fn lower_irql(&self, old: Irql) {
        self.0.lower_irql(old)
    }
    fn processor_count(&self) -> u32 {
        self.0.processor_count()
    }
    fn current_processor(&self) -> u32 {
        self.0.current_processor()
    }
    fn pool_alloc(&self, size: usize, tag: PoolTag) -> Option<NonNull<u8>> {
        self.0.pool_alloc(size, tag)
    }
    unsafe fn pool_free(&self, p: NonNull<u8>, tag: PoolTag) {
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { self.0.pool_free(p, tag) }
    }
    fn new_block_pool(
        &self,
        block_size: usize,
        tag: PoolTag,
    ) -> Result<EmuBlockPool, mxf_abi::NtError> {
        self.0.new_block_pool(block_size, tag)
    }
    fn new_spin_lock(&self) -> Counting {
        Counting(self.0.new_spin_lock())
    }
    unsafe fn new_timer(
        &self,
        callback: TimerCallback,
        context: *const c_void,
    ) -> Result<EmuTimer, mxf_abi::NtError> {
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { self.0.new_timer(callback, context) }
    }
    fn now_100ns(&self) -> i64 {
        Platform::now_100ns(&self.0)
    }
    fn system_time_100ns(&self) -> i64 {
        Platform::system_time_100ns(&self.0)
    }
    fn log(&self, level: LogLevel, args: fmt::Arguments<'_>) {
        self.0.log(level, args)
    }
    fn bug_check(&self, code: u32, params: [usize; 4]) -> ! {
        self.0.bug_check(code, params)
    }
}

#[test]
fn a_cable_write_locks_its_readers_at_dispatch_level_without_raising() {
    let p = Counted(Emu::new(EmuConfig::verifier()));
    let cable = Cable::new(p.clone(), CableConfig::DEFAULT);
    let lbs: Vec<Loopback<Counted>> = (0..3)
        .map(|_| Loopback::new(p.clone(), LoopbackConfig::DEFAULT).unwrap())
        .collect();
    for lb in &lbs {
        // SAFETY: the loopbacks outlive the cable, which is dropped first (below).
        let id = unsafe { cable.attach(lb) }.unwrap();
        cable.join(id);
    }
    let w = WriterId::new(0).unwrap();
    let before = counts();
    let written = cable.write(w, &[&[0x90, 0x40, 0x7F]], 0);
    let after = counts();
    assert_eq!(written.outcome, WriteOutcome::Accepted);
    assert_eq!(
        after.0 - before.0,
        1,
        "only the cable's own lock raises IRQL"
    );
    assert_eq!(
        after.1 - before.1,
        3,
        "each reader's loopback lock is taken at DPC level"
    );
    for lb in &lbs {
        assert_eq!(lb.queued(), 3);
    }
    // A standalone loopback write raises for its own lock.
    let before = counts();
    assert_eq!(lbs[0].write(&[0xF8], 1), WriteOutcome::Accepted);
    let after = counts();
    assert_eq!((after.0 - before.0, after.1 - before.1), (1, 0));
    drop(cable);
}
