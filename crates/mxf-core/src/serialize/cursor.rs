//! [`ChainCursor`]: an iterative, bounded walk over an event chain and its packages.

use mxf_abi::DmusKernelEvent;

/// Deepest nesting of packages followed; deeper sub-chains are skipped and counted.
pub const MAX_PACKAGE_DEPTH: usize = 16;

/// One step of a walk.
pub enum Step<'a> {
    /// A non-package event.
    Event(&'a DmusKernelEvent),
    /// A package event was entered or skipped (see [`WalkStats`]).
    Package,
    /// The walk is over.
    End,
}

/// Package counters of a walk.
#[derive(Clone, Copy, Default, PartialEq, Eq, Debug)]
pub struct WalkStats {
    /// Package events met.
    pub packages: u64,
    /// Package events whose sub-chain pointer was null (tolerated, nothing to walk).
    pub null_packages: u64,
    /// Package sub-chains skipped for nesting deeper than [`MAX_PACKAGE_DEPTH`].
    pub packages_too_deep: u64,
}

/// A position in a chain: walks `p_next_evt` links and descends into packages with an explicit
/// stack of bounded depth (no recursion), one event per [`ChainCursor::step`].
pub struct ChainCursor {
    next: *const DmusKernelEvent,
    stack: [*const DmusKernelEvent; MAX_PACKAGE_DEPTH],
    depth: usize,
}

// SAFETY: the cursor only reads the chain, which its creator promised stays valid and
// unmodified while the cursor is used, from whichever thread.
unsafe impl Send for ChainCursor {}

impl ChainCursor {
    /// A cursor at the head of `chain` (null: an empty walk).
    ///
    /// # Safety
    /// While the cursor is used, `chain` and everything reachable from it — next links,
    /// package sub-chains (non-null `p_package_evt` of package events) and buffers (non-null
    /// `pb_data` of non-package events with `cb_event > SHORT_EVENT_MAX`, readable for
    /// `cb_event` bytes) — stays valid and is not modified.
    pub const unsafe fn new(chain: *const DmusKernelEvent) -> Self {
        Self {
            next: chain,
            stack: [core::ptr::null(); MAX_PACKAGE_DEPTH],
            depth: 0,
        }
    }

    /// Whether the walk is over.
    pub fn is_done(&self) -> bool {
        self.next.is_null() && self.depth == 0
    }

    /// Advances by one event (returning packages as [`Step::Package`] after descending).
    pub fn step(&mut self, stats: &mut WalkStats) -> Step<'_> {
        while self.next.is_null() {
            let Some(d) = self.depth.checked_sub(1) else {
                return Step::End;
            };
            self.depth = d;
            self.next = self.stack.get(d).copied().unwrap_or(core::ptr::null());
        }
        // SAFETY: `next` is non-null and reachable from the chain given to `new`, valid and
        // unmodified per its contract.
        let ev = unsafe { &*self.next };
        self.next = ev.p_next_evt;
        if !ev.is_package() {
            return Step::Event(ev);
        }
        stats.packages += 1;
        // SAFETY: reading a pointer-sized field of the union is sound for any bit pattern.
        let sub = unsafe { ev.u_data.p_package_evt } as *const DmusKernelEvent;
        if sub.is_null() {
            stats.null_packages += 1;
        } else if let Some(slot) = self.stack.get_mut(self.depth) {
            *slot = self.next;
            self.depth += 1;
            self.next = sub;
        } else {
            stats.packages_too_deep += 1;
        }
        Step::Package
    }
}
