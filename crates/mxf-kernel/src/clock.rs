//! The kernel's interrupt clock, read to the microsecond. A leaf: the platform's `now_100ns`
//! and the timer's due-time arithmetic both read it.

use crate::sys;

/// Interrupt time (100 ns units) to the microsecond: `KeQueryInterruptTimePrecise`. The
/// tick-granular `KUSER_SHARED_DATA` read (`KeQueryInterruptTime`) would date every event up to
/// a clock tick (15.6 ms) early.
pub(crate) fn interrupt_time() -> i64 {
    let mut qpc = 0u64;
    // SAFETY: `qpc` is a valid out-pointer for the call; the routine reads kernel state only
    // and may be called at any IRQL (Windows 8.1+, below the driver's minimum).
    let t = unsafe { sys::ntoskrnl::KeQueryInterruptTimePrecise(&mut qpc) };
    // Interrupt time counts from boot in 100 ns: below 2^63 for 29,000 years.
    t as i64
}
