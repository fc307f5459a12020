//! The host kernel emulator: [`Emu`] implements [`mxf_core::platform::Platform`] the way the
//! Windows kernel behaves, and checks what Driver Verifier checks. Every violation stops the
//! calling thread with an emulated bug check — a panic whose payload is a [`BugCheck`]
//! carrying the kernel's code, parameters and a message naming what was wrong. Tests catch it
//! with [`expect_bugcheck`]; [`Emu::unload`] returns the leak/pending-operation checks of a
//! driver unload as a `Result`.
//!
//! # Model
//! - Every host thread is a CPU with its own IRQL (starts at `PASSIVE_LEVEL`), and runs on one
//!   of [`EmuConfig::processors`] emulated processors (`Platform::current_processor`):
//!   assigned round robin per emulator at the thread's first use, stable afterwards, movable
//!   with [`Emu::set_current_processor`]. Several threads may share one emulated processor
//!   (the emulator does not serialise them), as threads at `PASSIVE_LEVEL` do.
//! - Pool: every allocation is tracked by address with its tag and size, 16-byte aligned;
//!   `pool_alloc` memory is zeroed. With `special_pool` (the default) each allocation has guard
//!   bytes ([`GUARD_BYTE`]) directly in front of it and from exactly `ptr + size` to the end of its
//!   slot, checked on free and at unload; freed memory is filled with [`POISON_BYTE`] and kept in a
//!   quarantine (the last [`QUARANTINE_MAX_ENTRIES`] frees, at most [`QUARANTINE_MAX_BYTES`]); the
//!   poison is verified when an allocation leaves quarantine, by [`Emu::check_quarantine`] and at
//!   unload.
//! - Block pools are lookaside lists ([`EmuBlockPool`]): LIFO cache, depth 4 tuned up to
//!   256 once per emulated second by miss rate (or fixed by [`EmuConfig::lookaside_depth`];
//!   0 under [`EmuConfig::verifier`]). Blocks are pool allocations with the pool's tag, but
//!   not zeroed: a new block is filled with [`FRESH_BLOCK_BYTE`] with special pool, left as
//!   the host allocator gives it without; a block from the cache holds what its last user
//!   left. Cached blocks are not poisoned, but their guards are checked when freed to the list.
//! - Spin locks are real spin locks over atomics ([`EmuSpinLock`]).
//! - Timers ([`EmuTimer`]) fire only from [`Emu::advance_time`], in due order, on the
//!   calling thread at `DISPATCH_LEVEL`, with the emulated clock at their due time.
//! - [`FaultPlan`] makes chosen pool allocation attempts fail.
//!
//! # What is enforced, and the bug check raised
//! (V = [`EmuConfig::verifier`] on; "always" = in both modes.)
//!
//! | Violation | Bug check |
//! |---|---|
//! | `raise_irql` below the current IRQL (incl. acquiring a spin lock above `DISPATCH_LEVEL`) | 0x09 `IRQL_NOT_GREATER_OR_EQUAL`; V: 0xC4 / 0x30 |
//! | `lower_irql` above the current IRQL (incl. spin lock release with old IRQL > current) | 0x0A `IRQL_NOT_LESS_OR_EQUAL`; V: 0xC4 / 0x31 |
//! | `pool_alloc` or `BlockPool::alloc` above `DISPATCH_LEVEL` | 0xC2 / 0x08; V: 0xC4 / 0x02 |
//! | `pool_free` or `BlockPool::free` above `DISPATCH_LEVEL` | 0xC2 / 0x09; V: 0xC4 / 0x12 |
//! | `new_block_pool`, `new_timer`, dropping a block pool or timer above `PASSIVE_LEVEL` | always 0xC4 / 0xE001 (emulator subcode; p4 = [`Routine`]) |
//! | `Timer::set`/`cancel`, `advance_time` above `DISPATCH_LEVEL` | always 0xC4 / 0xE003 (emulator subcode) |
//! | spin lock acquired again by its holder (would hang) | always 0xC4 / 0x1000 (deadlock verifier: self-deadlock) |
//! | spin lock released by a thread that does not hold it / not held | always 0xC4 / 0x1005 |
//! | spin lock released at an IRQL other than `DISPATCH_LEVEL` | always 0xC4 / 0x32 |
//! | spin lock released with an old IRQL other than its acquire returned | always 0xC4 / 0xE002 (emulator subcode) |
//! | spin lock acquired at DPC level (`KeAcquireSpinLockAtDpcLevel`) below `DISPATCH_LEVEL` | always 0xC4 / 0x40 |
//! | spin lock released from DPC level (`KeReleaseSpinLockFromDpcLevel`) below `DISPATCH_LEVEL` | always 0xC4 / 0x41 |
//! | timer callback returns at an IRQL other than `DISPATCH_LEVEL` | always 0xC8 `IRQL_UNEXPECTED_VALUE` |
//! | free of a pointer that was already freed | always 0xC2 / 0x07 `BAD_POOL_CALLER` (exact while in quarantine) |
//! | free of a pointer that is not a live allocation, or to the wrong owner (pool vs block pool, other block pool) | always 0xC2 / 0x46 |
//! | `pool_free` with a tag other than the allocation's | always 0xC2 / 0x0A |
//! | guard bytes overwritten (overrun: p4 0x20, underrun: p4 0x21; p3 = offset) | special pool: 0xC1 `SPECIAL_POOL_DETECTED_MEMORY_CORRUPTION` |
//! | freed memory written (poison changed) | special pool: 0xD5 `DRIVER_PAGE_FAULT_IN_FREED_SPECIAL_POOL` |
//! | timer not dropped at unload | [`Emu::unload`]: 0xCE `DRIVER_UNLOADED_WITHOUT_CANCELLING_PENDING_OPERATIONS` |
//! | pool left at unload (blocks still out, block pools not dropped) | [`Emu::unload`]: 0xC4 / 0x62 (p3 count, p4 bytes) |
//! | the driver's own `bug_check` | the driver's code and parameters |
//!
//! # Bug checks that cannot unwind
//! A bug check inside an `extern "system"` function (a COM vtable slot called as C calls it)
//! cannot be caught with [`expect_bugcheck`]: the panic may not unwind out of it and the
//! process aborts. `mxf_testkit::subprocess::expect_bugcheck_in_child` runs such code in a child
//! process (the test binary re-executed on the one test) and returns the bug check it died with.
//!
//! Not emulated: reads of freed or out-of-bounds memory (only writes are detected, when the
//! guard or poison is next checked — not at the faulting instruction), paged pool, APCs and
//! preemption (a host thread at `DISPATCH_LEVEL` can still be descheduled, which only makes
//! races more likely to show).

mod addr_index;
mod bugcheck;
mod config;
mod cpu;
mod emu;
mod fault;
mod guard;
mod hasher;
mod hostlock;
mod irql;
mod irql_state;
mod kernel;
mod list_blocks;
mod list_state;
mod lookaside;
mod pool;
mod routine;
mod spin;
mod timer;
mod timer_state;

pub use bugcheck::{
    BugCheck, IRQL_NOT_GREATER_OR_EQUAL, c2, c4, code_name, expect_bugcheck, expecting_bugcheck,
    install_bugcheck_hook, raise,
};
pub use config::{DEFAULT_PROCESSORS, EmuConfig};
pub use emu::{EMU_START_100NS, Emu, LOG_MAX_LINES, ONE_SECOND_100NS, UnloadReport};
pub use fault::FaultPlan;
pub use guard::GUARD_BYTE;
pub use list_state::{DEPTH_MAX, DEPTH_MIN};
pub use lookaside::EmuBlockPool;
pub use pool::{
    FRESH_BLOCK_BYTE, POISON_BYTE, PoolReport, QUARANTINE_MAX_BYTES, QUARANTINE_MAX_ENTRIES,
    TagUsage,
};
pub use routine::Routine;
pub use spin::EmuSpinLock;
pub use timer::EmuTimer;
