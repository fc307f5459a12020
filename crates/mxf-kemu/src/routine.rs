//! The emulator's routines ([`Routine`]) and the IRQL rules of each: `PASSIVE_LEVEL` only, at
//! most `DISPATCH_LEVEL`, and the pool's own checks of an allocation or free. A violation is
//! the bug check the kernel (or, with `verifier`, Driver Verifier) raises.

use crate::bugcheck::{bug, c2, c4};
use crate::irql_state as irql;
use mxf_core::platform::{DISPATCH_LEVEL, Irql, PASSIVE_LEVEL, bugcheck as code};

/// The `PASSIVE_LEVEL`-only or pool routine named in parameter 4 of the emulator's own
/// 0xC4 subcodes.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[repr(usize)]
pub enum Routine {
    /// `pool_alloc`.
    PoolAlloc = 1,
    /// `pool_free`.
    PoolFree = 2,
    /// `new_block_pool`.
    NewBlockPool = 3,
    /// Dropping a block pool.
    DropBlockPool = 4,
    /// `BlockPool::alloc`.
    BlockPoolAlloc = 5,
    /// `BlockPool::free`.
    BlockPoolFree = 6,
    /// `new_timer`.
    NewTimer = 7,
    /// Dropping a timer.
    DropTimer = 8,
    /// `Timer::set`.
    TimerSet = 9,
    /// `Timer::cancel`.
    TimerCancel = 10,
    /// `Emu::advance_time`.
    AdvanceTime = 11,
}

impl Routine {
    fn name(self) -> &'static str {
        match self {
            Routine::PoolAlloc => "pool_alloc",
            Routine::PoolFree => "pool_free",
            Routine::NewBlockPool => "new_block_pool",
            Routine::DropBlockPool => "dropping a BlockPool",
            Routine::BlockPoolAlloc => "BlockPool::alloc",
            Routine::BlockPoolFree => "BlockPool::free",
            Routine::NewTimer => "new_timer",
            Routine::DropTimer => "dropping a Timer",
            Routine::TimerSet => "Timer::set",
            Routine::TimerCancel => "Timer::cancel",
            Routine::AdvanceTime => "Emu::advance_time",
        }
    }
}

/// Stops the system unless the caller runs at `PASSIVE_LEVEL` (the emulator's own subcode:
/// the kernel routine it models would misbehave rather than stop).
#[track_caller]
pub(crate) fn check_passive(r: Routine) {
    let cur = irql::current();
    if cur != PASSIVE_LEVEL {
        bug(
            code::DRIVER_VERIFIER_DETECTED_VIOLATION,
            [c4::KEMU_PASSIVE_ONLY, cur.into(), 0, r as usize],
            format!("{} is PASSIVE_LEVEL only, called at IRQL {cur}", r.name()),
        );
    }
}

/// Stops the system if the caller runs above `DISPATCH_LEVEL` (the emulator's own subcode).
#[track_caller]
pub(crate) fn check_dispatch_or_below(r: Routine) {
    let cur = irql::current();
    if cur > DISPATCH_LEVEL {
        bug(
            code::DRIVER_VERIFIER_DETECTED_VIOLATION,
            [c4::KEMU_ABOVE_DISPATCH, cur.into(), 0, r as usize],
            format!("{} called at IRQL {cur}, above DISPATCH_LEVEL", r.name()),
        );
    }
}

/// The IRQL check of a pool or block pool allocation: inline, since block pool cache
/// hits are a handful of instructions; the bug check is out of line.
#[inline]
#[track_caller]
pub(crate) fn check_pool_alloc_irql(verifier: bool, size: usize, r: Routine) {
    let cur = irql::current();
    if cur > DISPATCH_LEVEL {
        pool_alloc_irql_violation(verifier, cur, size, r);
    }
}

#[cold]
#[inline(never)]
#[track_caller]
fn pool_alloc_irql_violation(verifier: bool, cur: Irql, size: usize, r: Routine) -> ! {
    let msg = format!(
        "{} of {size} bytes of nonpaged pool at IRQL {cur}, above DISPATCH_LEVEL",
        r.name()
    );
    pool_irql_stop(verifier, (c4::ALLOC_IRQL, c2::ALLOC_IRQL), cur, size, msg)
}

/// The stop of a pool call above `DISPATCH_LEVEL`: with `verifier`, 0xC4 with the Verifier
/// subcode, else `BAD_POOL_CALLER` with the pool's; p2 the IRQL, p3 `NonPagedPoolNx`, p4
/// `what` (the size of an allocation, the address of a free).
#[track_caller]
fn pool_irql_stop(
    verifier: bool,
    (c4_sub, c2_sub): (usize, usize),
    cur: Irql,
    what: usize,
    msg: String,
) -> ! {
    let pool = mxf_core::platform::NON_PAGED_POOL_NX;
    if verifier {
        bug(
            code::DRIVER_VERIFIER_DETECTED_VIOLATION,
            [c4_sub, cur.into(), pool, what],
            msg,
        );
    }
    bug(code::BAD_POOL_CALLER, [c2_sub, cur.into(), pool, what], msg)
}

/// The IRQL check of a pool or block pool free (inline, as the allocation's).
#[inline]
#[track_caller]
pub(crate) fn check_pool_free_irql(verifier: bool, p: usize, r: Routine) {
    let cur = irql::current();
    if cur > DISPATCH_LEVEL {
        pool_free_irql_violation(verifier, cur, p, r);
    }
}

#[cold]
#[inline(never)]
#[track_caller]
fn pool_free_irql_violation(verifier: bool, cur: Irql, p: usize, r: Routine) -> ! {
    let msg = format!("{} of {p:#x} at IRQL {cur}, above DISPATCH_LEVEL", r.name());
    pool_irql_stop(verifier, (c4::FREE_IRQL, c2::FREE_IRQL), cur, p, msg)
}
