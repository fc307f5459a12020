//! Faults a test plants at run time, to prove that a checker catches them (mxfsim's
//! `--test-plant`). Compiled only with the `planted-faults` feature, which no driver build
//! enables; every fault is off until a test switches it on.

use core::sync::atomic::{AtomicBool, Ordering};

/// The parser bug: every pitch bend (`E0..=EF`) completes with its second data byte read
/// as 0.
pub static PARSER_BUG: AtomicBool = AtomicBool::new(false);

/// Applies the parser bug, if planted, to the message `msg` just completed.
#[inline]
pub(crate) fn parser_bug(msg: &mut [u8; 3]) {
    if msg[0] & 0xF0 == 0xE0 && PARSER_BUG.load(Ordering::Relaxed) {
        msg[2] = 0;
    }
}

/// The capture packager overwrites `bReserved` (with 0) of every event it fills, as a
/// whole-struct write would.
pub static RESERVED_WRITE: AtomicBool = AtomicBool::new(false);

/// Applies the reserved-field write, if planted, to the event just filled at `ev`.
///
/// # Safety
/// `ev` is valid for writes (an event the caller owns).
#[inline]
pub(crate) unsafe fn reserved_write(ev: *mut mxf_abi::DmusKernelEvent) {
    if RESERVED_WRITE.load(Ordering::Relaxed) {
        // SAFETY: per the caller.
        unsafe { (*ev).b_reserved = 0 };
    }
}

/// The capture packager takes a spare buffer whenever it starts one and gives it back with
/// `PutBuffer` (miniports return buffers inside events).
pub static PUT_BUFFER: AtomicBool = AtomicBool::new(false);

/// Whether the `PutBuffer` fault is planted.
#[inline]
pub(crate) fn put_buffer() -> bool {
    PUT_BUFFER.load(Ordering::Relaxed)
}
