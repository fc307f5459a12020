//! mxfloop's own bug-check codes: the stops that are neither the kernel's nor Driver
//! Verifier's, so that `!analyze -v` does not read a made-up Verifier violation. Each code
//! spells four ASCII letters (as wdk-panic's `RPNC` does); the README's Windows section lists
//! every parameter.

/// `MXFLOOP_CONSISTENCY_STOP` (`MXFC`, 0x4D584643): the driver found its own invariant broken
/// and stopped before it could corrupt anything or hang.
/// - p1: which check ([`STOP_PASSIVE_ONLY_AT_RAISED_IRQL`]);
/// - p2..p4: that check's parameters (documented with it).
pub const MXFLOOP_CONSISTENCY_STOP: u32 = u32::from_be_bytes(*b"MXFC");

/// `MXFLOOP_RUST_PANIC` (`MXFP`, 0x4D584650): a Rust panic in the WDM image (the KMDF image
/// uses wdk-panic's handler, code `RPNC`). p1 = address of the source file name (not
/// NUL-terminated; `da` shows it), p2 = line, p3 = column, p4 = 0.
pub const MXFLOOP_RUST_PANIC: u32 = u32::from_be_bytes(*b"MXFP");

/// [`MXFLOOP_CONSISTENCY_STOP`] p1: a `PASSIVE_LEVEL`-only operation ran at raised IRQL;
/// p2 = the IRQL, p3 = the object's address, p4 = the operation (8: dropping a timer, see
/// `timer::OPERATION_DROP_TIMER`). The same p1 value the host emulator (`mxf-kemu`,
/// `c4::KEMU_PASSIVE_ONLY`) reports for the same misuse, so a crash dump reads like the
/// failing test did.
pub const STOP_PASSIVE_ONLY_AT_RAISED_IRQL: usize = 0xE001;

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
            mxf_core::platform::bugcheck::DRIVER_VERIFIER_DETECTED_VIOLATION,
            u32::from_be_bytes(*b"RPNC"),
        ];
        for c in [MXFLOOP_CONSISTENCY_STOP, MXFLOOP_RUST_PANIC] {
            assert!(!others.contains(&c), "{c:#x}");
        }
    }
}
