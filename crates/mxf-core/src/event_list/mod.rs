//! [`EventList`]: the one intrusive list of `DMUS_KERNEL_EVENT`s linked through `p_next_evt`,
//! on which every holder of such events builds (the render queue's lists, the capture
//! [`Chain`](crate::capture::Chain), the loopback's chunks, the port emulator's and the test
//! kit's chain builders). The list links, unlinks and counts; keeping it in time order is
//! `sort.rs` ([`EventList::insert_all_by_time`]).
//!
//! The list has no `Drop`: events still in it when it goes away are forgotten, not freed.
//! Where they go back to is the rule of its holder: a capture `Chain` returns them to its
//! allocator on drop, the render queue through `render::retire`, the loopback to its own
//! allocator.

mod sort;

use core::ptr::{self, NonNull};
use mxf_abi::DmusKernelEvent;

/// A list of events linked through `p_next_evt` (no allocation).
///
/// # Invariants
/// `head` is null (then `tail` is null and `len` 0) or the first of `len` distinct events
/// linked through `p_next_evt`, `tail` the last (its `p_next_evt` null). The events are the
/// list's: nothing reads or writes them but through it while they are in it.
pub struct EventList {
    head: *mut DmusKernelEvent,
    tail: *mut DmusKernelEvent,
    len: usize,
}

// SAFETY: the list's events are its own (invariant), so the list may move to another thread
// with them, like a `Box`.
unsafe impl Send for EventList {}

impl Default for EventList {
    fn default() -> Self {
        Self::new()
    }
}

/// A place in an [`EventList`]: after the events it held when [`EventList::mark`] was taken.
#[derive(Clone, Copy, Debug)]
pub struct Mark {
    /// The last event then (null: the list was empty).
    last: *mut DmusKernelEvent,
    /// The length then.
    len: usize,
}

impl EventList {
    /// An empty list.
    pub const fn new() -> Self {
        Self {
            head: ptr::null_mut(),
            tail: ptr::null_mut(),
            len: 0,
        }
    }

    /// Number of events.
    pub const fn len(&self) -> usize {
        self.len
    }

    /// Whether there are no events.
    pub const fn is_empty(&self) -> bool {
        self.head.is_null()
    }

    /// The first event.
    pub fn front(&self) -> Option<&DmusKernelEvent> {
        // SAFETY: a non-null head is an event of the list (invariant), borrowed with it.
        unsafe { self.head.as_ref() }
    }

    /// The first event, to change in place (not its link: `p_next_evt` stays as it is).
    pub fn front_mut(&mut self) -> Option<&mut DmusKernelEvent> {
        // SAFETY: a non-null head is an event of the list (invariant), borrowed uniquely
        // with it.
        unsafe { self.head.as_mut() }
    }

    /// The last event, to change in place (not its link: `p_next_evt` stays null).
    pub fn back_mut(&mut self) -> Option<&mut DmusKernelEvent> {
        // SAFETY: a non-null tail is an event of the list (invariant), borrowed uniquely
        // with it.
        unsafe { self.tail.as_mut() }
    }

    /// The events in order.
    pub fn iter(&self) -> impl Iterator<Item = &DmusKernelEvent> + '_ {
        let mut cur: *const DmusKernelEvent = self.head;
        core::iter::from_fn(move || {
            // SAFETY: `cur` is null or an event of the list (invariant: the links from the
            // head reach exactly its events), alive while `self` is borrowed.
            let ev = unsafe { cur.as_ref() }?;
            cur = ev.p_next_evt;
            Some(ev)
        })
    }

    /// Appends `ev`.
    ///
    /// # Safety
    /// The caller owns `ev`, a live event in no list, and gives it to this list.
    pub unsafe fn push_back(&mut self, ev: NonNull<DmusKernelEvent>) {
        let ev = ev.as_ptr();
        // SAFETY: `ev` is ours now (caller).
        unsafe { link(ev, ptr::null_mut()) };
        if self.tail.is_null() {
            self.head = ev;
        } else {
            // SAFETY: a non-null tail is an event of the list (invariant).
            unsafe { link(self.tail, ev) };
        }
        self.tail = ev;
        self.len += 1;
    }

    /// Puts `ev` first.
    ///
    /// # Safety
    /// As [`EventList::push_back`]. (A time-ordered list stays ordered only if `ev` is due no
    /// later than the current head; callers use this on lists played in list order.)
    pub unsafe fn push_front(&mut self, ev: NonNull<DmusKernelEvent>) {
        let ev = ev.as_ptr();
        // SAFETY: `ev` is ours now (caller).
        unsafe { link(ev, self.head) };
        if self.tail.is_null() {
            self.tail = ev;
        }
        self.head = ev;
        self.len += 1;
    }

    /// Removes and returns the first event (its `p_next_evt` cleared).
    pub fn pop_front(&mut self) -> Option<NonNull<DmusKernelEvent>> {
        let head = NonNull::new(self.head)?;
        // SAFETY: the head is an event of the list (invariant).
        self.head = unsafe { next_of(head.as_ptr()) };
        // SAFETY: the head is the list's and leaves it.
        unsafe { link(head.as_ptr(), ptr::null_mut()) };
        if self.head.is_null() {
            self.tail = ptr::null_mut();
        }
        self.len -= 1;
        Some(head)
    }

    /// Moves every event of `other` after ours (`other` is left empty).
    pub fn append(&mut self, other: &mut EventList) {
        let other = other.take();
        if other.head.is_null() {
            return;
        }
        if self.tail.is_null() {
            self.head = other.head;
        } else {
            // SAFETY: our tail is ours (invariant); `other`'s events, distinct from ours
            // (each event is in one list), move over to us.
            unsafe { link(self.tail, other.head) };
        }
        self.tail = other.tail;
        self.len += other.len;
    }

    /// Moves every event of `other` before ours (`other` is left empty).
    pub fn prepend(&mut self, other: &mut EventList) {
        let mut mine = self.take();
        *self = other.take();
        self.append(&mut mine);
    }

    /// Every event, as a list of its own; this one is left empty.
    pub fn take(&mut self) -> EventList {
        core::mem::take(self)
    }

    /// Gives every event up as one chain (null if empty), which the caller owns from then
    /// on; the list is left empty.
    pub fn take_chain(&mut self) -> *mut DmusKernelEvent {
        self.take().head
    }

    /// This place of the list: after its events now (see [`EventList::split_off`]).
    pub fn mark(&self) -> Mark {
        Mark {
            last: self.tail,
            len: self.len,
        }
    }

    /// Removes the events after `mark` and returns them, in order, as a list of their own.
    ///
    /// # Safety
    /// `mark` was taken of this list, and since then events were added only at its back
    /// ([`EventList::push_back`], [`EventList::append`]) and removed only if added after the
    /// mark (by `split_off` at a later mark): the list is still the events it had then,
    /// followed by others.
    pub unsafe fn split_off(&mut self, mark: Mark) -> EventList {
        let first = if mark.last.is_null() {
            self.head
        } else {
            // SAFETY: `mark.last` is still an event of the list (caller: the events before
            // the mark are still there).
            unsafe { next_of(mark.last) }
        };
        if first.is_null() {
            return EventList::new();
        }
        let rest = EventList {
            head: first,
            tail: self.tail,
            // The list is its events at the mark followed by others (caller).
            len: self.len - mark.len,
        };
        if mark.last.is_null() {
            *self = EventList::new();
        } else {
            // SAFETY: as above; `mark.last` becomes our last event.
            unsafe { link(mark.last, ptr::null_mut()) };
            self.tail = mark.last;
            self.len = mark.len;
        }
        rest
    }
}

/// The event after `ev` in its chain.
///
/// # Safety
/// `ev` is a live event of the caller's.
unsafe fn next_of(ev: *const DmusKernelEvent) -> *mut DmusKernelEvent {
    // SAFETY: per the caller.
    unsafe { (*ev).p_next_evt }
}

/// Links `ev` to `next`.
///
/// # Safety
/// `ev` is a live event of the caller's that nothing else reads or writes meanwhile.
unsafe fn link(ev: *mut DmusKernelEvent, next: *mut DmusKernelEvent) {
    // SAFETY: per the caller.
    unsafe { (*ev).p_next_evt = next };
}

#[cfg(test)]
mod tests {
    extern crate std;

    use super::*;
    use std::vec;
    use std::vec::Vec;

    fn pool(n: usize) -> Vec<DmusKernelEvent> {
        (0..n)
            .map(|i| DmusKernelEvent {
                ull_pres_time_100ns: i as u64,
                ..DmusKernelEvent::ZEROED
            })
            .collect()
    }

    fn times(l: &EventList) -> Vec<u64> {
        let t: Vec<u64> = l.iter().map(|e| e.ull_pres_time_100ns).collect();
        assert_eq!(t.len(), l.len(), "len counts the events");
        assert_eq!(l.tail.is_null(), l.head.is_null());
        t
    }

    fn list_of(p: &mut [DmusKernelEvent]) -> EventList {
        let mut l = EventList::new();
        for e in p {
            // SAFETY: a pool event in no list.
            unsafe { l.push_back(NonNull::from(e)) };
        }
        l
    }

    #[test]
    fn push_pop_append_prepend_keep_order_and_length() {
        let mut p = pool(6);
        let first = NonNull::from(&mut p[0]).as_ptr();
        let (a, b) = p.split_at_mut(3);
        let mut l = list_of(a);
        let mut m = list_of(b);
        let front = l.pop_front().expect("non-empty");
        assert_eq!(times(&l), [1, 2]);
        l.append(&mut m);
        assert!(m.is_empty() && m.tail.is_null() && m.len == 0);
        assert_eq!(times(&l), [1, 2, 3, 4, 5]);
        let mut rest = l.take();
        assert!(l.is_empty());
        // SAFETY: popped above: ours, in no list.
        unsafe { l.push_front(front) };
        rest.prepend(&mut l);
        assert!(l.is_empty());
        assert_eq!(times(&rest), [0, 1, 2, 3, 4, 5]);
        assert_eq!(rest.take_chain(), first);
        assert!(rest.is_empty());
    }

    #[test]
    fn split_off_at_a_mark_returns_what_came_after() {
        let mut p = pool(5);
        let mut l = EventList::new();
        let empty = l.mark();
        let (a, b) = p.split_at_mut(2);
        let mut first = list_of(a);
        l.append(&mut first);
        let after_two = l.mark();
        let mut second = list_of(b);
        l.append(&mut second);
        // SAFETY: taken of `l`, which only grew at its back since.
        let rest = unsafe { l.split_off(after_two) };
        assert_eq!((times(&l), times(&rest)), (vec![0, 1], vec![2, 3, 4]));
        let after_all = l.mark();
        // SAFETY: as above (nothing added since).
        assert!(unsafe { l.split_off(after_all) }.is_empty());
        // SAFETY: `empty` was taken of `l` before anything was added.
        let all = unsafe { l.split_off(empty) };
        assert_eq!((times(&l), times(&all)), (vec![], vec![0, 1]));
    }
}
