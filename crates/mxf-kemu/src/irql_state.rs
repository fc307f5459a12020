//! This thread's IRQL: every host thread plays one CPU, starting at `PASSIVE_LEVEL`. The bare
//! state, with no check: the checked `KeRaiseIrql`/`KeLowerIrql` are in [`irql`](crate::irql),
//! which raises bug checks; the bug check machinery ([`bugcheck`](crate::bugcheck)) resets the
//! state after a caught bug check. Both use this leaf, so neither depends on the other.

use mxf_core::platform::{Irql, PASSIVE_LEVEL};
use std::cell::Cell;

thread_local! {
    static IRQL: Cell<Irql> = const { Cell::new(PASSIVE_LEVEL) };
}

/// This thread's IRQL.
pub(crate) fn current() -> Irql {
    IRQL.with(Cell::get)
}

/// Sets this thread's IRQL (the caller checked the transition).
pub(crate) fn set(irql: Irql) {
    IRQL.with(|c| c.set(irql));
}

/// Back to `PASSIVE_LEVEL` (after a caught bug check).
pub(crate) fn reset_thread() {
    set(PASSIVE_LEVEL);
}
