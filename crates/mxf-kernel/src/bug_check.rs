//! `KeBugCheckEx`: how this crate stops the system on a broken invariant (the codes are
//! declared in `mxf_core::platform::bugcheck`). A leaf: the platform's `bug_check` and the
//! timer's checks both call it.

use crate::sys;

/// Stops the system with `code` and its four parameters. Any IRQL.
pub(crate) fn bug_check(code: u32, params: [usize; 4]) -> ! {
    let [p1, p2, p3, p4] = params;
    // SAFETY: KeBugCheckEx may be called at any IRQL and never returns.
    unsafe { sys::ntoskrnl::KeBugCheckEx(code, p1, p2, p3, p4) }
}
