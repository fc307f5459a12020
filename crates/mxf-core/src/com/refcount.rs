//! The interlocked reference count of our own COM objects.

use core::sync::atomic::{AtomicU32, Ordering};

/// An interlocked COM reference count that starts at one.
pub struct RefCount(AtomicU32);

impl RefCount {
    /// A count of one: the reference handed to the creator.
    pub const fn new() -> Self {
        Self(AtomicU32::new(1))
    }

    /// `AddRef`: returns the new count (saturates instead of wrapping).
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
    #[allow(clippy::result_unit_err)]
    pub fn release(&self) -> Result<u32, ()> {
        match self
            .0
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| n.checked_sub(1))
        {
            Ok(prev) => Ok(prev - 1),
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
