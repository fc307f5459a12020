//! `KeRaiseIrql` / `KeLowerIrql` with the kernel's checks (a bad transition is a bug check),
//! over this thread's IRQL ([`irql_state`](crate::irql_state)).

use crate::bugcheck::{IRQL_NOT_GREATER_OR_EQUAL, bug, c4};
pub(crate) use crate::irql_state::current;
use mxf_core::platform::{Irql, bugcheck};

/// `KeRaiseIrql`: `new` must be >= the current IRQL.
#[track_caller]
pub(crate) fn raise(verifier: bool, new: Irql) -> Irql {
    let old = current();
    if new < old {
        let msg = format!("KeRaiseIrql to {new}, below the current IRQL {old}");
        if verifier {
            bug(
                bugcheck::DRIVER_VERIFIER_DETECTED_VIOLATION,
                [c4::RAISE_IRQL_INVALID, old.into(), new.into(), 0],
                msg,
            );
        }
        bug(
            IRQL_NOT_GREATER_OR_EQUAL,
            [old.into(), new.into(), 0, 0],
            msg,
        );
    }
    crate::irql_state::set(new);
    old
}

/// `KeLowerIrql`: `old` must be <= the current IRQL.
#[track_caller]
pub(crate) fn lower(verifier: bool, old: Irql) {
    let cur = current();
    if old > cur {
        let msg = format!("KeLowerIrql to {old}, above the current IRQL {cur}");
        if verifier {
            bug(
                bugcheck::DRIVER_VERIFIER_DETECTED_VIOLATION,
                [c4::LOWER_IRQL_INVALID, cur.into(), old.into(), 0],
                msg,
            );
        }
        bug(
            bugcheck::IRQL_NOT_LESS_OR_EQUAL,
            [0, cur.into(), 0, old.into()],
            msg,
        );
    }
    crate::irql_state::set(old);
}
