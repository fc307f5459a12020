//! The guard bytes of special-pool allocations: their layout around an allocation and the
//! fast check that they are intact. A leaf module: the pool and the lookaside lists both
//! build on it.

use mxf_core::platform::POOL_ALIGN;
use std::alloc::Layout;

/// Bytes of guard in front of every allocation (keeps the user pointer 16-aligned).
pub(crate) const FRONT_GUARD: usize = POOL_ALIGN;
/// Minimum bytes of guard after the end of the requested size.
pub(crate) const BACK_GUARD: usize = POOL_ALIGN;
/// The pattern written into guard bytes in special-pool mode.
pub const GUARD_BYTE: u8 = 0xFD;

/// The layout of the whole slot of an allocation of `size` bytes: front guard, the size
/// rounded up to [`POOL_ALIGN`], back guard (`None` for an absurd size).
pub(crate) fn layout_for(size: usize) -> Option<Layout> {
    let body = size.checked_add(POOL_ALIGN - 1)? & !(POOL_ALIGN - 1);
    let total = FRONT_GUARD.checked_add(body)?.checked_add(BACK_GUARD)?;
    Layout::from_size_align(total, POOL_ALIGN).ok()
}

/// Bytes of guard after an allocation of `size` bytes (`None` for an absurd size).
pub(crate) fn back_guard_len(size: usize) -> Option<usize> {
    Some(layout_for(size)?.size() - FRONT_GUARD - size)
}

/// The guard bytes as a word.
const GUARD_WORD: u64 = u64::from_ne_bytes([GUARD_BYTE; 8]);

/// Whether `len` bytes at `p` all hold [`GUARD_BYTE`]: a word at a time (the last word
/// overlapping the one before it), no early exit.
///
/// # Safety
/// `p..p+len` must be readable.
#[inline]
unsafe fn all_guard(p: *const u8, len: usize) -> bool {
    if len < 8 {
        // SAFETY: `i < len`: the byte lies inside the readable range `p..p+len`.
        return (0..len).all(|i| unsafe { p.wrapping_add(i).read() } == GUARD_BYTE);
    }
    // SAFETY: `len >= 8`: the last word, `len - 8..len`, lies inside the readable range.
    let mut diff = unsafe { p.wrapping_add(len - 8).cast::<u64>().read_unaligned() } ^ GUARD_WORD;
    let mut off = 0;
    while off + 8 < len {
        // SAFETY: `off + 8 < len`: the word lies inside the readable range.
        diff |= unsafe { p.wrapping_add(off).cast::<u64>().read_unaligned() } ^ GUARD_WORD;
        off += 8;
    }
    diff == 0
}

/// Whether the guards of the live special-pool allocation of `size` bytes at `ptr`, with
/// `back_len` bytes of guard after it ([`back_guard_len`]), are intact: the fast check of a
/// free to a lookaside list (the pool's `check_guards` says what is wrong).
#[inline]
pub(crate) fn guards_intact(ptr: usize, size: usize, back_len: usize) -> bool {
    // SAFETY: `ptr` is a live allocation of `size` bytes made by `alloc_memory` (the caller's
    // list knows it as its live block), whose slot holds FRONT_GUARD readable bytes before
    // `ptr`: the front guard.
    let front = unsafe { all_guard((ptr - FRONT_GUARD) as *const u8, FRONT_GUARD) };
    // SAFETY: the same slot holds `back_len` readable bytes from `ptr + size` on: the back
    // guard.
    let back = unsafe { all_guard((ptr + size) as *const u8, back_len) };
    front & back
}
