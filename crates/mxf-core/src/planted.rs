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
