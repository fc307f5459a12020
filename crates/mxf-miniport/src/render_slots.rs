//! [`RenderSlots`]: the live render streams' queues, registered one per slot (a slot is a
//! render stream's cable writer id: every instance of every render pin has its own) so that
//! the capture side can kick them (a loopback has room again), and a render stream can kick
//! the others (it let the cable go), without reaching into the render stream's object.
//!
//! A leaf module: it knows the render queue only as something that can be kicked ([`Kick`]),
//! so the miniport depends on it and the render stream registers into it, and neither needs
//! the other's private layout. The miniport object holds them as `dyn Kick` (it sits under the
//! render stream's module, so it cannot name the render queue's type).

use core::ptr::NonNull;
use mxf_core::platform::{Platform, SpinLock};
use mxf_core::render::{RenderQueue, RenderTarget};

/// How many slots there are: every instance of both render pins, one cable writer each.
pub(crate) const RENDER_SLOTS: usize = mxf_core::cable::MAX_WRITERS;

/// Something the capture side may wake once the loopback has room: a render queue.
pub(crate) trait Kick: Sync {
    /// Wakes it (IRQL <= `DISPATCH_LEVEL`; takes only the queue's own lock).
    fn kick(&self);
}

impl<P: Platform, T: RenderTarget> Kick for RenderQueue<P, T> {
    fn kick(&self) {
        RenderQueue::kick(self)
    }
}

/// The registered queue of each slot, under a spin lock.
///
/// # Invariants
/// A non-`None` entry points to a live `K` (a registration's contract, see
/// [`RenderSlots::enter`]) for as long as it is in the table: its owner removes it with
/// [`RenderSlots::leave`], under the lock, before the `K` goes away.
pub(crate) struct RenderSlots<P: Platform, K: Kick + ?Sized> {
    table: SpinLock<P::RawSpinLock, Table<K>>,
}

struct Table<K: ?Sized>([Option<NonNull<K>>; RENDER_SLOTS]);

// SAFETY: the table holds only addresses of `K`s, dereferenced (as `&K`) under its lock from
// whichever thread holds it; sharing `&K` across threads is sound because `K: Sync`.
unsafe impl<K: Kick + ?Sized> Send for Table<K> {}

impl<P: Platform, K: Kick + ?Sized> RenderSlots<P, K> {
    /// No queue registered.
    pub(crate) fn new(platform: &P) -> Self {
        Self {
            table: SpinLock::new(platform.new_spin_lock(), Table([None; RENDER_SLOTS])),
        }
    }

    /// Registers `queue` in `slot` (an out-of-range slot is ignored).
    ///
    /// # Safety
    /// `queue` stays valid until [`RenderSlots::leave`] with the same slot and queue has
    /// returned.
    pub(crate) unsafe fn enter(&self, slot: usize, queue: &K) {
        if let Some(s) = self.table.lock().0.get_mut(slot) {
            // INVARIANT: by the caller's promise, `queue` stays live until it leaves.
            *s = Some(NonNull::from(queue));
        }
    }

    /// Unregisters `queue` from `slot` if it is the one registered there. Once this returns,
    /// no kick reaches it.
    pub(crate) fn leave(&self, slot: usize, queue: *const K) {
        let mut t = self.table.lock();
        if let Some(s) = t.0.get_mut(slot)
            && s.is_some_and(|q| core::ptr::addr_eq(q.as_ptr(), queue))
        {
            *s = None;
        }
    }

    /// Kicks every registered queue. IRQL <= `DISPATCH_LEVEL`, holding no lock a queue's
    /// kick takes.
    pub(crate) fn kick_all(&self) {
        let t = self.table.lock();
        for q in t.0.iter().flatten() {
            // SAFETY: a registered entry is a live `K` (invariant), and it cannot leave (nor
            // its owner go away) while we hold the lock that leaving takes.
            unsafe { q.as_ref() }.kick();
        }
    }
}
