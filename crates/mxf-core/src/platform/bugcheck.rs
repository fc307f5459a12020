//! Every bug-check code mxfloop raises or the host emulator reports, and their parameters,
//! declared once: the kernel's codes under their `bugcodes.h` names, parameter 1 values in a
//! module per code ([`c2`], [`c4`]), and mxfloop's own codes (`MXFLOOP_*`). The README's
//! Windows section lists what each parameter holds.

/// `IRQL_NOT_GREATER_OR_EQUAL`: a raise to an IRQL below the current one.
pub const IRQL_NOT_GREATER_OR_EQUAL: u32 = 0x09;
/// `IRQL_NOT_LESS_OR_EQUAL`: a lower to an IRQL above the current one.
pub const IRQL_NOT_LESS_OR_EQUAL: u32 = 0x0A;
/// `REFERENCE_BY_POINTER`: a `Release` on an object whose count is already zero.
pub const REFERENCE_BY_POINTER: u32 = 0x18;
/// `BAD_POOL_HEADER`: a block on the allocator's reserve has a corrupted header.
pub const BAD_POOL_HEADER: u32 = 0x19;
/// `PAGE_FAULT_IN_NONPAGED_AREA`.
pub const PAGE_FAULT_IN_NONPAGED_AREA: u32 = 0x50;
/// `SPECIAL_POOL_DETECTED_MEMORY_CORRUPTION` (guard bytes of a block overwritten).
pub const SPECIAL_POOL_DETECTED_MEMORY_CORRUPTION: u32 = 0xC1;
/// `BAD_POOL_CALLER` (parameter 1: [`c2`]).
pub const BAD_POOL_CALLER: u32 = 0xC2;
/// `DRIVER_VERIFIER_DETECTED_VIOLATION` (parameter 1: [`c4`]).
pub const DRIVER_VERIFIER_DETECTED_VIOLATION: u32 = 0xC4;
/// `DRIVER_UNLOADED_WITHOUT_CANCELLING_PENDING_OPERATIONS`.
pub const DRIVER_UNLOADED_WITHOUT_CANCELLING_PENDING_OPERATIONS: u32 = 0xCE;
/// `DRIVER_IRQL_NOT_LESS_OR_EQUAL`.
pub const DRIVER_IRQL_NOT_LESS_OR_EQUAL: u32 = 0xD1;
/// `DRIVER_PAGE_FAULT_IN_FREED_SPECIAL_POOL` (use after free).
pub const DRIVER_PAGE_FAULT_IN_FREED_SPECIAL_POOL: u32 = 0xD5;
/// `DRIVER_PAGE_FAULT_BEYOND_END_OF_ALLOCATION` (special pool: overrun).
pub const DRIVER_PAGE_FAULT_BEYOND_END_OF_ALLOCATION: u32 = 0xD6;

/// `MXFLOOP_CONSISTENCY_STOP` (`MXFC`, 0x4D584643): the driver found its own invariant broken
/// and stopped before it could corrupt anything or hang. A code of its own (four ASCII
/// letters, as wdk-panic's `RPNC`), so that `!analyze -v` does not read a made-up Verifier
/// violation.
/// - p1: which check ([`STOP_PASSIVE_ONLY_AT_RAISED_IRQL`]);
/// - p2..p4: that check's parameters (documented with it).
pub const MXFLOOP_CONSISTENCY_STOP: u32 = u32::from_be_bytes(*b"MXFC");

/// `MXFLOOP_RUST_PANIC` (`MXFP`, 0x4D584650): a Rust panic in the WDM image (the KMDF image
/// uses wdk-panic's handler, code `RPNC`). p1 = address of the source file name (not
/// NUL-terminated; `da` shows it), p2 = line, p3 = column, p4 = 0.
pub const MXFLOOP_RUST_PANIC: u32 = u32::from_be_bytes(*b"MXFP");

/// [`MXFLOOP_CONSISTENCY_STOP`] p1: a `PASSIVE_LEVEL`-only operation ran at raised IRQL;
/// p2 = the IRQL, p3 = the object's address, p4 = the operation (8: dropping a timer). The
/// same value the host emulator reports for the same misuse ([`c4::KEMU_PASSIVE_ONLY`]), so a
/// crash dump reads like the failing test did.
pub const STOP_PASSIVE_ONLY_AT_RAISED_IRQL: usize = c4::KEMU_PASSIVE_ONLY;

/// [`BAD_POOL_HEADER`] parameter 1 (driver-defined): a block on the reserve had a header
/// other than `FREE`/ours/its slot (p2 block, p3 word found, p4 word expected).
pub const BAD_POOL_HEADER_RESERVE: usize = 0x4D58;

/// [`DRIVER_PAGE_FAULT_IN_FREED_SPECIAL_POOL`] parameter 4 (driver-defined): the poison of a
/// reserve block changed after it was put (p1 address, p2 1 = write, p3 offset).
pub const POISON_WRITE_AFTER_PUT: usize = 0x4D58;

/// [`BAD_POOL_CALLER`] parameter 1 values.
pub mod c2 {
    /// The block was already free (p4 the address).
    pub const DOUBLE_FREE: usize = 0x07;
    /// Allocation at an invalid IRQL (p2 IRQL, p3 pool type, p4 size).
    pub const ALLOC_IRQL: usize = 0x08;
    /// Free at an invalid IRQL (p2 IRQL, p3 pool type, p4 address).
    pub const FREE_IRQL: usize = 0x09;
    /// Free with a tag other than the allocation's (p2 address, p3 allocation tag, p4 tag
    /// passed).
    pub const WRONG_TAG: usize = 0x0A;
    /// Driver-defined: the pointer never came from this pool.
    pub const FOREIGN: usize = 0x46;
}

/// [`DRIVER_VERIFIER_DETECTED_VIOLATION`] parameter 1 values.
///
/// The values below 0x1000 and the deadlock values are the documented Verifier subcodes;
/// the `KEMU_*` values (0xE000 range) are the host emulator's own, for rules of the platform
/// seam that the real Verifier has no single subcode for.
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
    /// `KeAcquireSpinLockAtDpcLevel` called at IRQL < `DISPATCH_LEVEL` (p2 current IRQL, p3
    /// lock address).
    pub const ACQUIRE_SPINLOCK_AT_DPC_IRQL: usize = 0x40;
    /// `KeReleaseSpinLockFromDpcLevel` called at IRQL < `DISPATCH_LEVEL` (p2 current IRQL,
    /// p3 lock address).
    pub const RELEASE_SPINLOCK_FROM_DPC_IRQL: usize = 0x41;
    /// Pool allocations left at driver unload (p2 0, p3 outstanding allocations, p4 bytes).
    pub const POOL_LEAKED_AT_UNLOAD: usize = 0x62;
    /// Deadlock verifier: a thread acquires a lock it already holds (p2 lock address).
    pub const SELF_DEADLOCK: usize = 0x1000;
    /// Deadlock verifier: release of a lock the calling thread does not hold (p2 lock
    /// address, p3 owning thread id or 0 when free).
    pub const RELEASE_NOT_OWNED: usize = 0x1005;
    /// Emulator: a `PASSIVE_LEVEL`-only routine (`new_block_pool`, `new_timer`, dropping a
    /// block pool or timer) was called at raised IRQL (p2 IRQL, p4 routine id, mxf-kemu's
    /// `Routine`).
    pub const KEMU_PASSIVE_ONLY: usize = 0xE001;
    /// Emulator: `KeReleaseSpinLock` was given an old IRQL that is not what the matching
    /// acquire returned (p2 lock address, p3 IRQL from acquire, p4 IRQL passed).
    pub const KEMU_RELEASE_WRONG_OLD_IRQL: usize = 0xE002;
    /// Emulator: a timer or block pool call at IRQL > `DISPATCH_LEVEL` (p2 IRQL, p4
    /// routine id).
    pub const KEMU_ABOVE_DISPATCH: usize = 0xE003;
}

/// The `bugcodes.h` name of `code` (or mxfloop's own name); `None` for a code not declared
/// here.
pub const fn name(code: u32) -> Option<&'static str> {
    Some(match code {
        IRQL_NOT_GREATER_OR_EQUAL => "IRQL_NOT_GREATER_OR_EQUAL",
        IRQL_NOT_LESS_OR_EQUAL => "IRQL_NOT_LESS_OR_EQUAL",
        REFERENCE_BY_POINTER => "REFERENCE_BY_POINTER",
        BAD_POOL_HEADER => "BAD_POOL_HEADER",
        PAGE_FAULT_IN_NONPAGED_AREA => "PAGE_FAULT_IN_NONPAGED_AREA",
        DRIVER_VERIFIER_DETECTED_VIOLATION => "DRIVER_VERIFIER_DETECTED_VIOLATION",
        SPECIAL_POOL_DETECTED_MEMORY_CORRUPTION => "SPECIAL_POOL_DETECTED_MEMORY_CORRUPTION",
        BAD_POOL_CALLER => "BAD_POOL_CALLER",
        DRIVER_UNLOADED_WITHOUT_CANCELLING_PENDING_OPERATIONS => {
            "DRIVER_UNLOADED_WITHOUT_CANCELLING_PENDING_OPERATIONS"
        }
        DRIVER_IRQL_NOT_LESS_OR_EQUAL => "DRIVER_IRQL_NOT_LESS_OR_EQUAL",
        DRIVER_PAGE_FAULT_BEYOND_END_OF_ALLOCATION => "DRIVER_PAGE_FAULT_BEYOND_END_OF_ALLOCATION",
        DRIVER_PAGE_FAULT_IN_FREED_SPECIAL_POOL => "DRIVER_PAGE_FAULT_IN_FREED_SPECIAL_POOL",
        MXFLOOP_CONSISTENCY_STOP => "MXFLOOP_CONSISTENCY_STOP",
        MXFLOOP_RUST_PANIC => "MXFLOOP_RUST_PANIC",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_spell_their_tags_and_differ_from_verifier_and_wdk_panic() {
        assert_eq!(MXFLOOP_CONSISTENCY_STOP, 0x4D58_4643);
        assert_eq!(&MXFLOOP_CONSISTENCY_STOP.to_be_bytes(), b"MXFC");
        assert_eq!(MXFLOOP_RUST_PANIC, 0x4D58_4650);
        assert_eq!(&MXFLOOP_RUST_PANIC.to_be_bytes(), b"MXFP");
        let others = [
            DRIVER_VERIFIER_DETECTED_VIOLATION,
            u32::from_be_bytes(*b"RPNC"),
        ];
        for c in [MXFLOOP_CONSISTENCY_STOP, MXFLOOP_RUST_PANIC] {
            assert!(!others.contains(&c), "{c:#x}");
        }
    }

    #[test]
    fn every_code_has_its_name() {
        assert_eq!(name(REFERENCE_BY_POINTER), Some("REFERENCE_BY_POINTER"));
        assert_eq!(name(MXFLOOP_RUST_PANIC), Some("MXFLOOP_RUST_PANIC"));
        assert_eq!(name(0x1234), None);
    }
}
