//! The emulated bug check: a panic whose payload is a [`BugCheck`], and the helpers that
//! raise, catch and print it.

use mxf_core::platform::bugcheck as code;
use std::cell::Cell;
use std::fmt;
use std::panic::{self, AssertUnwindSafe};
use std::sync::Once;

/// `IRQL_NOT_GREATER_OR_EQUAL`: `KeRaiseIrql` to a level below the current one (without
/// Verifier). Not in `mxf_core::platform::bugcheck` because the core never raises it.
pub const IRQL_NOT_GREATER_OR_EQUAL: u32 = 0x09;

/// `DRIVER_VERIFIER_DETECTED_VIOLATION` parameter 1 values the emulator uses.
///
/// The values below 0x1000 and the deadlock values are the documented Verifier subcodes;
/// the `KEMU_*` values (0xE000 range) are the emulator's own, for rules of the platform seam
/// that the real Verifier has no single subcode for.
pub mod c4 {
    /// Nonpaged allocation at IRQL > `DISPATCH_LEVEL` (p2 IRQL, p3 pool type, p4 size).
    pub const ALLOC_IRQL: usize = 0x02;
    /// Free of nonpaged pool at IRQL > `DISPATCH_LEVEL` (p2 IRQL, p3 pool type, p4 address).
    pub const FREE_IRQL: usize = 0x12;
    /// `KeRaiseIrql` to a level below the current one (p2 current, p3 requested).
    pub const RAISE_IRQL_INVALID: usize = 0x30;
    /// `KeLowerIrql` to a level above the current one (p2 current, p3 requested).
    pub const LOWER_IRQL_INVALID: usize = 0x31;
    /// `KeReleaseSpinLock` called at an IRQL other than `DISPATCH_LEVEL` (p2 current IRQL,
    /// p3 lock address, p4 old IRQL passed).
    pub const RELEASE_SPINLOCK_IRQL: usize = 0x32;
    /// Pool allocations left at driver unload (p2 0, p3 outstanding allocations, p4 bytes).
    pub const POOL_LEAKED_AT_UNLOAD: usize = 0x62;
    /// Deadlock verifier: a thread acquires a lock it already holds (p2 lock address).
    pub const SELF_DEADLOCK: usize = 0x1000;
    /// Deadlock verifier: release of a lock the calling thread does not hold (p2 lock
    /// address, p3 owning thread id or 0 when free).
    pub const RELEASE_NOT_OWNED: usize = 0x1005;
    /// Emulator: a `PASSIVE_LEVEL`-only routine (`new_block_pool`, `new_timer`, dropping a
    /// block pool or timer) was called at raised IRQL (p2 IRQL, p4 routine id, see
    /// [`Routine`](crate::Routine)).
    pub const KEMU_PASSIVE_ONLY: usize = 0xE001;
    /// Emulator: `KeReleaseSpinLock` was given an old IRQL that is not what the matching
    /// acquire returned (p2 lock address, p3 IRQL from acquire, p4 IRQL passed).
    pub const KEMU_RELEASE_WRONG_OLD_IRQL: usize = 0xE002;
    /// Emulator: a timer or block pool call at IRQL > `DISPATCH_LEVEL` (p2 IRQL, p4
    /// routine id).
    pub const KEMU_ABOVE_DISPATCH: usize = 0xE003;
}

/// `BAD_POOL_CALLER` parameter 1 values (besides the two in `mxf_core`).
pub mod c2 {
    /// Allocation at an invalid IRQL (p2 IRQL, p3 pool type, p4 size).
    pub const ALLOC_IRQL: usize = 0x08;
    /// Free at an invalid IRQL (p2 IRQL, p3 pool type, p4 address).
    pub const FREE_IRQL: usize = 0x09;
    /// Free with a tag other than the allocation's (p2 address, p3 allocation tag, p4 tag
    /// passed).
    pub const WRONG_TAG: usize = 0x0A;
}

/// An emulated bug check: what `KeBugCheckEx` would have put on the blue screen.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct BugCheck {
    /// The bug check code (`mxf_core::platform::bugcheck`).
    pub code: u32,
    /// The four bug check parameters.
    pub params: [usize; 4],
    /// What the emulator found, in words.
    pub message: String,
}

impl BugCheck {
    /// The symbolic name of [`BugCheck::code`] (`"UNKNOWN"` for codes the emulator does not
    /// know).
    pub fn name(&self) -> &'static str {
        code_name(self.code)
    }
}

/// The symbolic name of a bug check code.
pub fn code_name(c: u32) -> &'static str {
    match c {
        IRQL_NOT_GREATER_OR_EQUAL => "IRQL_NOT_GREATER_OR_EQUAL",
        code::IRQL_NOT_LESS_OR_EQUAL => "IRQL_NOT_LESS_OR_EQUAL",
        code::PAGE_FAULT_IN_NONPAGED_AREA => "PAGE_FAULT_IN_NONPAGED_AREA",
        code::DRIVER_VERIFIER_DETECTED_VIOLATION => "DRIVER_VERIFIER_DETECTED_VIOLATION",
        code::SPECIAL_POOL_DETECTED_MEMORY_CORRUPTION => "SPECIAL_POOL_DETECTED_MEMORY_CORRUPTION",
        code::BAD_POOL_CALLER => "BAD_POOL_CALLER",
        code::DRIVER_UNLOADED_WITHOUT_CANCELLING_PENDING_OPERATIONS => {
            "DRIVER_UNLOADED_WITHOUT_CANCELLING_PENDING_OPERATIONS"
        }
        code::DRIVER_IRQL_NOT_LESS_OR_EQUAL => "DRIVER_IRQL_NOT_LESS_OR_EQUAL",
        code::DRIVER_PAGE_FAULT_BEYOND_END_OF_ALLOCATION => {
            "DRIVER_PAGE_FAULT_BEYOND_END_OF_ALLOCATION"
        }
        code::DRIVER_PAGE_FAULT_IN_FREED_SPECIAL_POOL => "DRIVER_PAGE_FAULT_IN_FREED_SPECIAL_POOL",
        _ => "UNKNOWN",
    }
}

impl fmt::Display for BugCheck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "BUGCHECK {:#04X} {}: {} (params {:#x}, {:#x}, {:#x}, {:#x})",
            self.code,
            self.name(),
            self.message,
            self.params[0],
            self.params[1],
            self.params[2],
            self.params[3]
        )
    }
}

impl std::error::Error for BugCheck {}

thread_local! {
    /// Depth of `expect_bugcheck` calls on this thread: bug checks there are expected, so the
    /// panic hook stays quiet.
    static EXPECTING: Cell<u32> = const { Cell::new(0) };
}

static HOOK: Once = Once::new();

/// Whether this thread is inside [`expect_bugcheck`] (its bug checks are expected and caught).
pub(crate) fn expecting() -> bool {
    EXPECTING.with(Cell::get) != 0
}

/// Installs (once per process) a panic hook that prints a [`BugCheck`] payload readably, and
/// not at all inside [`expect_bugcheck`]; every other panic goes to the previous hook.
pub(crate) fn install_hook() {
    HOOK.call_once(|| {
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if let Some(bc) = info.payload().downcast_ref::<BugCheck>() {
                if EXPECTING.with(Cell::get) == 0 {
                    let thread = std::thread::current();
                    let name = thread.name().unwrap_or("<unnamed>");
                    match info.location() {
                        Some(l) => eprintln!("thread '{name}' stopped with {bc}\n  at {l}"),
                        None => eprintln!("thread '{name}' stopped with {bc}"),
                    }
                }
            } else {
                previous(info);
            }
        }));
    });
}

/// Stops the current thread with `bc` (unwinds with a [`BugCheck`] payload).
#[track_caller]
pub fn raise(bc: BugCheck) -> ! {
    install_hook();
    panic::panic_any(bc)
}

/// Builds and raises a bug check.
#[track_caller]
pub(crate) fn bug(code: u32, params: [usize; 4], message: String) -> ! {
    raise(BugCheck {
        code,
        params,
        message,
    })
}

/// Runs `f`, which must end in an emulated bug check, and returns that bug check.
///
/// Afterwards this thread's IRQL is back at `PASSIVE_LEVEL` (a real bug check never returns,
/// so nothing else would lower it). Panics if `f` returns normally or panics with anything
/// other than a [`BugCheck`] (that panic is resumed).
#[track_caller]
pub fn expect_bugcheck<R>(f: impl FnOnce() -> R) -> BugCheck {
    install_hook();
    EXPECTING.with(|e| e.set(e.get() + 1));
    let result = panic::catch_unwind(AssertUnwindSafe(f));
    EXPECTING.with(|e| e.set(e.get().saturating_sub(1)));
    crate::irql::reset_thread();
    match result {
        Ok(_) => panic!("expected a bug check, but the code returned normally"),
        Err(payload) => match payload.downcast::<BugCheck>() {
            Ok(bc) => *bc,
            Err(other) => panic::resume_unwind(other),
        },
    }
}
