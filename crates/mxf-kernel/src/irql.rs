//! IRQL: on x64 the current IRQL *is* the CR8 register (the task-priority register), and
//! `wdm.h` implements `KeGetCurrentIrql`, `KfRaiseIrql` and `KeLowerIrql` inline as CR8
//! reads/writes (`__readcr8`/`__writecr8`); there are no exports to call. This module does the
//! same with inline assembly, adding the range/ordering checks the header leaves to
//! `NT_ASSERT` (they bug check instead of corrupting the IRQL discipline).

use crate::sys::Kirql;
use mxf_core::platform::bugcheck::{IRQL_NOT_GREATER_OR_EQUAL, IRQL_NOT_LESS_OR_EQUAL};

/// `HIGH_LEVEL`: the largest IRQL (CR8 holds 4 bits).
pub const HIGH_LEVEL: Kirql = 15;

/// What a raise from `current` to `new` must do: `Ok(())` to write CR8, or the bug check
/// (code, parameters) that a misuse earns.
pub const fn check_raise(current: Kirql, new: Kirql) -> Result<(), (u32, [usize; 4])> {
    if new > HIGH_LEVEL || new < current {
        Err((
            IRQL_NOT_GREATER_OR_EQUAL,
            [current as usize, new as usize, 0, 0],
        ))
    } else {
        Ok(())
    }
}

/// What a lower from `current` to `new` must do (see [`check_raise`]).
pub const fn check_lower(current: Kirql, new: Kirql) -> Result<(), (u32, [usize; 4])> {
    if new > current {
        Err((
            IRQL_NOT_LESS_OR_EQUAL,
            [current as usize, new as usize, 0, 0],
        ))
    } else {
        Ok(())
    }
}

/// `KeGetCurrentIrql`: reads CR8.
#[cfg(all(windows, target_arch = "x86_64"))]
#[inline]
pub fn current() -> Kirql {
    let cr8: u64;
    // SAFETY: reading CR8 is allowed at CPL 0, where a kernel driver always runs; it has no
    // side effects and touches no memory. Only the low 4 bits are defined (the rest read as 0).
    unsafe {
        core::arch::asm!("mov {}, cr8", out(reg) cr8, options(nomem, nostack, preserves_flags));
    }
    (cr8 & 0xf) as Kirql
}

/// Writes CR8. The caller has checked `new` with [`check_raise`]/[`check_lower`].
///
/// # Safety
/// `new <= HIGH_LEVEL`, and changing the IRQL to `new` keeps the caller's IRQL discipline
/// (e.g. never below `DISPATCH_LEVEL` while a spin lock is held).
#[cfg(all(windows, target_arch = "x86_64"))]
#[inline]
pub unsafe fn write(new: Kirql) {
    // SAFETY: CR8 accepts values 0..=15 at CPL 0 (the caller guarantees the range, so no #GP);
    // the asm is not `nomem`, so it is a compiler barrier: accesses made at the old IRQL are
    // not moved across the change, as `__writecr8` behaves for MSVC.
    unsafe {
        core::arch::asm!("mov cr8, {}", in(reg) new as u64, options(nostack, preserves_flags));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raise_must_not_lower_and_must_stay_in_range() {
        assert_eq!(check_raise(0, 2), Ok(()));
        assert_eq!(check_raise(2, 2), Ok(()));
        assert_eq!(check_raise(2, 15), Ok(()));
        assert_eq!(
            check_raise(2, 1),
            Err((IRQL_NOT_GREATER_OR_EQUAL, [2, 1, 0, 0]))
        );
        assert_eq!(
            check_raise(0, 16),
            Err((IRQL_NOT_GREATER_OR_EQUAL, [0, 16, 0, 0]))
        );
    }

    #[test]
    fn lower_must_not_raise() {
        assert_eq!(check_lower(2, 0), Ok(()));
        assert_eq!(check_lower(2, 2), Ok(()));
        assert_eq!(
            check_lower(0, 2),
            Err((IRQL_NOT_LESS_OR_EQUAL, [0, 2, 0, 0]))
        );
    }
}
