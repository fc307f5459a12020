//! [`Instances`]: which instances of one pin are open, as a bitmask claimed and freed with
//! atomic operations (no lock), so that `NewStream` refuses an instance beyond the pin's
//! count and each stream gets a small index of its own (a render stream's cable writer id).

use core::sync::atomic::{AtomicU8, Ordering};

/// Most instances one pin may have (the bits of the mask).
pub(crate) const MAX_INSTANCES: usize = 8;

/// The open instances of one pin.
pub(crate) struct Instances {
    mask: AtomicU8,
    /// How many the pin allows (at most [`MAX_INSTANCES`]).
    max: u32,
}

impl Instances {
    /// None open, at most `max` (capped at [`MAX_INSTANCES`]).
    pub(crate) const fn new(max: u32) -> Self {
        Self {
            mask: AtomicU8::new(0),
            max: if max as usize > MAX_INSTANCES {
                MAX_INSTANCES as u32
            } else {
                max
            },
        }
    }

    /// Claims the lowest free instance; `None` when all are open.
    pub(crate) fn claim(&self) -> Option<usize> {
        let allowed = ((1u16 << self.max) - 1) as u8;
        let mut cur = self.mask.load(Ordering::Acquire);
        loop {
            let free = !cur & allowed;
            if free == 0 {
                return None;
            }
            let i = free.trailing_zeros() as usize;
            match self.mask.compare_exchange_weak(
                cur,
                cur | (1 << i),
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => return Some(i),
                Err(now) => cur = now,
            }
        }
    }

    /// Frees instance `i` (claimed before; an out-of-range index is ignored).
    pub(crate) fn free(&self, i: usize) {
        if i < MAX_INSTANCES {
            self.mask.fetch_and(!(1u8 << i), Ordering::AcqRel);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claims_the_lowest_free_up_to_the_bound_and_frees() {
        let m = Instances::new(3);
        assert_eq!(
            (m.claim(), m.claim(), m.claim(), m.claim()),
            (Some(0), Some(1), Some(2), None)
        );
        m.free(1);
        assert_eq!(m.claim(), Some(1), "the freed one, the lowest");
        assert_eq!(m.claim(), None);
        let all = Instances::new(8);
        assert_eq!((0..9).filter_map(|_| all.claim()).count(), 8);
        assert_eq!(Instances::new(100).max, 8);
    }
}
