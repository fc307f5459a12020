//! The emulated bug check: a panic whose payload is a [`BugCheck`], and the helpers that
//! raise, catch and print it.

use mxf_core::platform::bugcheck as code;
use std::cell::Cell;
use std::fmt;
use std::panic::{self, AssertUnwindSafe};
use std::sync::Once;

pub use mxf_core::platform::bugcheck::{IRQL_NOT_GREATER_OR_EQUAL, c2, c4};

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

/// The symbolic name of a bug check code (`"UNKNOWN"` for a code not declared in
/// `mxf_core::platform::bugcheck`).
pub fn code_name(c: u32) -> &'static str {
    match code::name(c) {
        Some(n) => n,
        None => "UNKNOWN",
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

/// Whether this thread is inside [`expect_bugcheck`] (its bug checks are expected and caught):
/// for a panic hook of its own that must leave those alone (`mxf-testkit`'s child-process
/// harness).
pub fn expecting_bugcheck() -> bool {
    EXPECTING.with(Cell::get) != 0
}

/// Installs (once per process) a panic hook that prints a [`BugCheck`] payload readably, and
/// not at all inside [`expect_bugcheck`]; every other panic goes to the previous hook. The
/// emulator installs it when it is created and when a bug check is raised or expected; a
/// hook that wraps it (`mxf-testkit`'s child-process harness) installs it first.
pub fn install_bugcheck_hook() {
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
    install_bugcheck_hook();
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
    install_bugcheck_hook();
    EXPECTING.with(|e| e.set(e.get() + 1));
    let result = panic::catch_unwind(AssertUnwindSafe(f));
    EXPECTING.with(|e| e.set(e.get().saturating_sub(1)));
    crate::irql_state::reset_thread();
    match result {
        Ok(_) => panic!("expected a bug check, but the code returned normally"),
        Err(payload) => match payload.downcast::<BugCheck>() {
            Ok(bc) => *bc,
            Err(other) => panic::resume_unwind(other),
        },
    }
}
