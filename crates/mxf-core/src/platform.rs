//! The platform seam: the few kernel services the core needs, as traits.
//!
//! Two implementations exist: `mxf-kernel` (Windows, over the WDK: lookaside lists, `KSPIN_LOCK`,
//! `KTIMER` + `KDPC`, `KeQueryInterruptTime`, `DbgPrintEx`, `KeBugCheckEx`) and `mxf-kemu`
//! (the host emulator, which enforces the kernel's rules the way Driver Verifier does).
//!
//! # Rules every caller follows (and the emulator checks)
//! - Everything here may be called at IRQL <= `DISPATCH_LEVEL` unless stated otherwise;
//!   creating or destroying a block pool, a timer or a pool object is `PASSIVE_LEVEL` only.
//! - Memory handed out is nonpaged (NX) and at least [`POOL_ALIGN`]-aligned.
//! - A [`Platform`] value is a cheap handle (a ZST in the kernel); cloning it does not create a
//!   new platform.

use core::ffi::c_void;
use core::fmt;
use core::ptr::NonNull;
use mxf_abi::NtError;

pub mod bugcheck;
mod spin;
pub use spin::{AtDispatch, SpinLock, SpinLockDpcGuard, SpinLockGuard};

/// Interrupt request level.
pub type Irql = u8;
/// `PASSIVE_LEVEL`.
pub const PASSIVE_LEVEL: Irql = 0;
/// `APC_LEVEL`.
pub const APC_LEVEL: Irql = 1;
/// `DISPATCH_LEVEL`: spin locks held, DPCs and timers run here; no paged memory, no waits.
pub const DISPATCH_LEVEL: Irql = 2;

/// Alignment of every block and pool allocation (the x64 pool's granularity).
pub const POOL_ALIGN: usize = 16;

/// `POOL_TYPE` `NonPagedPoolNx` (512): the pool type of all memory handed out here, and the
/// pool-type parameter of the pool's IRQL bug checks.
pub const NON_PAGED_POOL_NX: usize = 0x200;

/// The byte freed memory is filled with wherever it is poisoned (the emulator's quarantine,
/// the allocator's reserve with `poison_freed`), checked before the memory is used again: a
/// write after free shows as a byte other than this one.
pub const POISON_BYTE: u8 = 0xDF;

/// Most processors [`Platform::processor_count`] reports: per-processor structures of the
/// core have at most this many entries, and a machine with more processors shares them
/// (processor numbers fold onto `0..processor_count`).
pub const MAX_PROCESSORS: u32 = 64;

/// A pool tag, four ASCII characters in memory order (as `!poolused` shows them).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct PoolTag(pub u32);

impl PoolTag {
    /// The tag whose memory bytes are `b` (so `PoolTag::new(b"MxfE")` shows as `MxfE`).
    pub const fn new(b: &[u8; 4]) -> Self {
        Self(u32::from_le_bytes(*b))
    }

    /// The tag's four characters.
    pub const fn bytes(self) -> [u8; 4] {
        self.0.to_le_bytes()
    }
}

impl fmt::Display for PoolTag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in self.bytes() {
            let c = if b.is_ascii_graphic() { b as char } else { '?' };
            fmt::Write::write_char(f, c)?;
        }
        Ok(())
    }
}

/// Severity of a log line (`DPFLTR_*_LEVEL`).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
pub enum LogLevel {
    /// `DPFLTR_ERROR_LEVEL`.
    Error,
    /// `DPFLTR_WARNING_LEVEL`.
    Warn,
    /// `DPFLTR_INFO_LEVEL`.
    Info,
    /// `DPFLTR_TRACE_LEVEL`.
    Trace,
}

/// Counters of a [`BlockPool`], in the spirit of the lookaside list's own fields.
#[derive(Clone, Copy, Default, PartialEq, Eq, Debug)]
pub struct BlockPoolStats {
    /// `TotalAllocates`.
    pub allocs: u64,
    /// `AllocateMisses`: allocations the list could not serve and sent to pool.
    pub alloc_misses: u64,
    /// `TotalFrees`.
    pub frees: u64,
    /// `FreeMisses`: frees the list would not keep (depth reached) and sent to pool.
    pub free_misses: u64,
    /// Allocations that failed outright (pool exhausted or fault injected).
    pub failures: u64,
}

/// A pool of fixed-size nonpaged blocks: a lookaside list in the kernel.
///
/// Dropping the pool deletes the list, which frees the blocks on the list only: every block
/// handed out must have been freed back first (the emulator reports the rest as leaked).
pub trait BlockPool: Send + Sync + 'static {
    /// Size in bytes of every block.
    fn block_size(&self) -> usize;

    /// A block of [`BlockPool::block_size`] bytes, [`POOL_ALIGN`]-aligned, with unspecified
    /// contents; `None` when the pool cannot supply one. IRQL <= `DISPATCH_LEVEL`.
    fn alloc(&self) -> Option<NonNull<u8>>;

    /// Returns a block to the pool. IRQL <= `DISPATCH_LEVEL`.
    ///
    /// # Safety
    /// `block` came from [`BlockPool::alloc`] of this same pool and has not been freed since;
    /// nothing uses it afterwards.
    unsafe fn free(&self, block: NonNull<u8>);

    /// The pool's counters.
    fn stats(&self) -> BlockPoolStats;
}

/// A raw kernel spin lock. Use it through [`SpinLock`].
///
/// # Safety
/// Implementations provide mutual exclusion between `acquire` and the matching `release`
/// across every CPU/thread, and `acquire` raises the caller to `DISPATCH_LEVEL`.
pub unsafe trait RawSpinLock: Send + Sync {
    /// Spins until the lock is held, raising IRQL to `DISPATCH_LEVEL`; returns the previous
    /// IRQL. Callable at IRQL <= `DISPATCH_LEVEL`.
    fn acquire(&self) -> Irql;

    /// Releases the lock and lowers IRQL back to `old`.
    ///
    /// # Safety
    /// The caller holds the lock (from [`RawSpinLock::acquire`] on this CPU/thread) and `old`
    /// is what that `acquire` returned.
    unsafe fn release(&self, old: Irql);

    /// `KeAcquireSpinLockAtDpcLevel`: spins until the lock is held, leaving IRQL alone (no
    /// IRQL read, raise or lower: the saving over [`RawSpinLock::acquire`]). The emulator
    /// bug-checks a call below `DISPATCH_LEVEL` as Driver Verifier does (0xC4 / 0x40). Use it
    /// through [`SpinLock::lock_at_dispatch`], which demands proof of the IRQL.
    ///
    /// # Safety
    /// The caller runs at `DISPATCH_LEVEL` and stays there until the matching
    /// [`RawSpinLock::release_from_dpc_level`].
    unsafe fn acquire_at_dpc_level(&self);

    /// `KeReleaseSpinLockFromDpcLevel`: releases the lock, leaving IRQL alone (the emulator
    /// bug-checks a call below `DISPATCH_LEVEL`: 0xC4 / 0x41).
    ///
    /// # Safety
    /// The caller holds the lock from [`RawSpinLock::acquire_at_dpc_level`] on this
    /// CPU/thread, and is still at `DISPATCH_LEVEL`.
    unsafe fn release_from_dpc_level(&self);
}

/// A timer callback: runs at `DISPATCH_LEVEL` (in a DPC) with the context given at creation.
pub type TimerCallback = unsafe fn(context: *const c_void);

/// A one-shot timer whose expiry queues a DPC that runs a [`TimerCallback`].
///
/// Dropping the timer cancels it and waits until a callback already running has returned
/// (`KeCancelTimer` + `KeFlushQueuedDpcs`), so it must be dropped at `PASSIVE_LEVEL`.
pub trait Timer: Send + Sync {
    /// Arms the timer to fire when [`Platform::now_100ns`] reaches `due_100ns` (absolute; a
    /// time in the past fires at once). Re-arming replaces the previous due time.
    fn set(&self, due_100ns: i64);

    /// Disarms the timer; returns whether it was armed. A callback already queued may still
    /// run.
    fn cancel(&self) -> bool;
}

/// The kernel services the core needs.
pub trait Platform: Clone + Send + Sync + 'static {
    /// Fixed-size block pool (lookaside list).
    type BlockPool: BlockPool;
    /// Raw spin lock (`KSPIN_LOCK`).
    type RawSpinLock: RawSpinLock;
    /// Timer + DPC.
    type Timer: Timer;

    /// The current IRQL of this CPU/thread.
    fn current_irql(&self) -> Irql;

    /// `KeRaiseIrql`: raises to `new` (which must be >= the current IRQL); returns the old one.
    fn raise_irql(&self, new: Irql) -> Irql;

    /// `KeLowerIrql`: lowers back to `old` (which must be <= the current IRQL).
    fn lower_irql(&self, old: Irql);

    /// How many processors per-processor structures should have: the active processors
    /// (all processor groups), capped at [`MAX_PROCESSORS`]; at least 1. Fixed for the
    /// caller's purposes (a processor added later folds onto an existing index, see
    /// [`Platform::current_processor`]). Any IRQL.
    ///
    /// Deliberately without a default: a wrapper platform that forwarded the other methods
    /// but inherited a uniprocessor default would silently run the allocator's per-processor
    /// structures as one processor.
    fn processor_count(&self) -> u32;

    /// The index of the processor the caller runs on (`KeGetCurrentProcessorNumberEx`: a
    /// system-wide index across processor groups), folded below [`MAX_PROCESSORS`]. Normally
    /// below [`Platform::processor_count`], but not guaranteed to be (hot-added processors):
    /// callers fold it onto their own count. Any IRQL.
    ///
    /// Stable only while the caller cannot migrate, i.e. at `DISPATCH_LEVEL` or above; at
    /// `PASSIVE_LEVEL`/`APC_LEVEL` the thread may run on another processor right after the
    /// call, so the value is a hint (use it to pick a per-processor structure that is correct
    /// from any processor, never as a lock). No default, for the reason given on
    /// [`Platform::processor_count`].
    fn current_processor(&self) -> u32;

    /// Nonpaged, zeroed, [`POOL_ALIGN`]-aligned memory of `size` bytes tagged `tag`
    /// (`ExAllocatePool2(POOL_FLAG_NON_PAGED, ...)`); `None` on failure. IRQL <= `DISPATCH_LEVEL`.
    fn pool_alloc(&self, size: usize, tag: PoolTag) -> Option<NonNull<u8>>;

    /// `ExFreePoolWithTag`. IRQL <= `DISPATCH_LEVEL`.
    ///
    /// # Safety
    /// `p` came from [`Platform::pool_alloc`] with the same `tag`, is not used afterwards and
    /// is freed once.
    unsafe fn pool_free(&self, p: NonNull<u8>, tag: PoolTag);

    /// A block pool of `block_size`-byte blocks tagged `tag`. `PASSIVE_LEVEL`.
    fn new_block_pool(&self, block_size: usize, tag: PoolTag) -> Result<Self::BlockPool, NtError>;

    /// A new, released spin lock.
    fn new_spin_lock(&self) -> Self::RawSpinLock;

    /// A disarmed timer that runs `callback(context)` at `DISPATCH_LEVEL` when it fires.
    /// `PASSIVE_LEVEL`.
    ///
    /// # Safety
    /// `context` stays valid for `callback` until the returned timer has been dropped, and
    /// `callback` is sound to call with it from any CPU at `DISPATCH_LEVEL`.
    unsafe fn new_timer(
        &self,
        callback: TimerCallback,
        context: *const c_void,
    ) -> Result<Self::Timer, NtError>;

    /// Monotonic time in 100 ns units (`KeQueryInterruptTimePrecise`; the emulator's own
    /// clock). Any IRQL.
    fn now_100ns(&self) -> i64;

    /// System (wall-clock) time in 100 ns units since 1601-01-01 UTC
    /// (`KeQuerySystemTimePrecise`): what a positive `KeSetTimer`-style due time means. It
    /// jumps when the clock is set, unlike [`Platform::now_100ns`]. Any IRQL.
    fn system_time_100ns(&self) -> i64;

    /// Writes a diagnostic line (`DbgPrintEx`; the emulator's log). Must not allocate.
    fn log(&self, level: LogLevel, args: fmt::Arguments<'_>);

    /// Stops the system with a bug check (`KeBugCheckEx`; the emulator stops the test and
    /// names the code).
    fn bug_check(&self, code: u32, params: [usize; 4]) -> !;
}
