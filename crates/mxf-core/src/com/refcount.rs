//! The interlocked reference count of our own COM objects.

use core::sync::atomic::{AtomicU32, Ordering};

/// An interlocked COM reference count that starts at one.
pub struct RefCount(AtomicU32);

impl RefCount {
    /// A count of one: the reference handed to the creator.
    pub const fn new() -> Self {
        Self(AtomicU32::new(1))
    }

    /// `AddRef`: returns the new count. Saturates at `u32::MAX` instead of wrapping; a
    /// saturated count then sticks (see [`RefCount::release`]).
    pub fn add_ref(&self) -> u32 {
        let prev = self
            .0
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| {
                Some(n.saturating_add(1))
            })
            .unwrap_or_else(|n| n);
        prev.saturating_add(1)
    }

    /// `Release`: `Ok(new count)`; when it is `Ok(0)` the caller destroys the object.
    /// `Err(())` if the count was already zero (a `Release` too many): the count stays zero.
    ///
    /// A count that reached `u32::MAX` stays there: after saturation it no longer tells how
    /// many references exist, and counting down from it could reach zero (and free the
    /// object) while references are still held. The object is leaked instead.
    #[allow(clippy::result_unit_err)]
    pub fn release(&self) -> Result<u32, ()> {
        match self
            .0
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| match n {
                u32::MAX => Some(u32::MAX),
                n => n.checked_sub(1),
            }) {
            Ok(u32::MAX) => Ok(u32::MAX),
            Ok(prev) => Ok(prev.saturating_sub(1)),
            Err(_) => Err(()),
        }
    }

    /// The current count (for diagnostics).
    pub fn get(&self) -> u32 {
        self.0.load(Ordering::Relaxed)
    }
}

impl Default for RefCount {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(n: u32) -> RefCount {
        RefCount(AtomicU32::new(n))
    }

    #[test]
    fn counts_up_and_down_to_zero_then_refuses() {
        let r = RefCount::new();
        assert_eq!(r.add_ref(), 2);
        assert_eq!(r.release(), Ok(1));
        assert_eq!(r.release(), Ok(0));
        assert_eq!(r.release(), Err(()));
        assert_eq!(r.get(), 0);
    }

    /// Once `AddRef` has saturated, the count no longer knows how many references exist: a
    /// `Release` must never walk it back down to zero (that would free an object others still
    /// point to), so a saturated count sticks and the object is leaked instead.
    #[test]
    fn a_saturated_count_sticks_and_never_frees() {
        let r = at(u32::MAX - 1);
        assert_eq!(r.add_ref(), u32::MAX);
        assert_eq!(r.add_ref(), u32::MAX);
        for _ in 0..3 {
            assert_eq!(r.release(), Ok(u32::MAX));
        }
        assert_eq!(r.get(), u32::MAX);
    }
}
