//! [`EventList`]: an intrusive singly linked list of events threaded through `p_next_evt`.

use core::ptr::{self, NonNull};
use mxf_abi::DmusKernelEvent;

/// A list of events we own, linked through `p_next_evt` (no allocation).
///
/// # Invariant
/// `head` is null (then `tail` is null and `len` 0) or the first of `len` distinct owned
/// events linked through `p_next_evt`, `tail` the last (its `p_next_evt` null). A list filled
/// only with [`EventList::insert_by_time`] is ordered by presentation time (flag masked),
/// equal times in insertion order.
pub(crate) struct EventList {
    head: *mut DmusKernelEvent,
    tail: *mut DmusKernelEvent,
    len: usize,
}

// SAFETY: the list owns its events exclusively (invariant).
unsafe impl Send for EventList {}

impl EventList {
    pub(crate) const fn new() -> Self {
        Self {
            head: ptr::null_mut(),
            tail: ptr::null_mut(),
            len: 0,
        }
    }

    pub(crate) const fn len(&self) -> usize {
        self.len
    }

    pub(crate) const fn is_empty(&self) -> bool {
        self.head.is_null()
    }

    /// Presentation time of the first event.
    pub(crate) fn front_time(&self) -> Option<u64> {
        // SAFETY: a non-null head is an event we own (invariant).
        unsafe { self.head.as_ref() }.map(DmusKernelEvent::pres_time)
    }

    /// Appends `ev`.
    ///
    /// # Safety
    /// The caller owns `ev`, which is in no list, and gives it to this list.
    pub(crate) unsafe fn push_back(&mut self, ev: NonNull<DmusKernelEvent>) {
        let ev = ev.as_ptr();
        // SAFETY: we own `ev` now; a non-null tail is ours (invariant).
        unsafe {
            (*ev).p_next_evt = ptr::null_mut();
            if self.tail.is_null() {
                self.head = ev;
            } else {
                (*self.tail).p_next_evt = ev;
            }
        }
        self.tail = ev;
        self.len += 1;
    }

    /// Puts `ev` first.
    ///
    /// # Safety
    /// As [`EventList::push_back`]. (A time-ordered list stays ordered only if `ev` is due no
    /// later than the current head; callers use this on lists played in list order.)
    pub(crate) unsafe fn push_front(&mut self, ev: NonNull<DmusKernelEvent>) {
        let ev = ev.as_ptr();
        // SAFETY: we own `ev` now.
        unsafe { (*ev).p_next_evt = self.head };
        if self.tail.is_null() {
            self.tail = ev;
        }
        self.head = ev;
        self.len += 1;
    }

    /// Moves every event of `other` before ours.
    pub(crate) fn prepend(&mut self, other: &mut EventList) {
        let mut mine = core::mem::replace(self, EventList::new());
        core::mem::swap(self, other);
        self.append(&mut mine);
    }

    /// Inserts `ev` after every event whose presentation time is <= its own. Events mostly
    /// arrive in order, so the tail is checked first (O(1)); otherwise the list is walked.
    ///
    /// # Safety
    /// As [`EventList::push_back`], and the list was only filled by this method.
    pub(crate) unsafe fn insert_by_time(&mut self, ev: NonNull<DmusKernelEvent>) {
        // SAFETY: we own `ev`.
        let t = unsafe { ev.as_ref() }.pres_time();
        // SAFETY: non-null head and tail are ours (invariant).
        let (head_t, tail_t) = match unsafe { (self.head.as_ref(), self.tail.as_ref()) } {
            (Some(h), Some(tl)) => (h.pres_time(), tl.pres_time()),
            _ => {
                // SAFETY: forwarded caller promise.
                return unsafe { self.push_back(ev) };
            }
        };
        let ev = ev.as_ptr();
        if t >= tail_t {
            // SAFETY: forwarded caller promise.
            return unsafe { self.push_back(NonNull::new_unchecked(ev)) };
        }
        if t < head_t {
            // SAFETY: we own `ev`; it becomes the head.
            unsafe { (*ev).p_next_evt = self.head };
            self.head = ev;
            self.len += 1;
            return;
        }
        // head_t <= t < tail_t: some event after `prev` has a later time, so the walk stops
        // before running off the end.
        let mut prev = self.head;
        // SAFETY: every pointer followed is an event of this list (invariant), and by the
        // ordering the loop stops at a non-null `next` whose time exceeds `t`.
        unsafe {
            loop {
                let next = (*prev).p_next_evt;
                if next.is_null() || (*next).pres_time() > t {
                    (*ev).p_next_evt = next;
                    (*prev).p_next_evt = ev;
                    if next.is_null() {
                        self.tail = ev;
                    }
                    break;
                }
                prev = next;
            }
        }
        self.len += 1;
    }

    /// Removes and returns the first event (its `p_next_evt` cleared).
    pub(crate) fn pop_front(&mut self) -> Option<NonNull<DmusKernelEvent>> {
        let head = NonNull::new(self.head)?;
        // SAFETY: the head is ours (invariant); it leaves the list.
        unsafe {
            self.head = (*head.as_ptr()).p_next_evt;
            (*head.as_ptr()).p_next_evt = ptr::null_mut();
        }
        if self.head.is_null() {
            self.tail = ptr::null_mut();
        }
        self.len -= 1;
        Some(head)
    }

    /// Moves every event of `other` after ours.
    pub(crate) fn append(&mut self, other: &mut EventList) {
        if other.head.is_null() {
            return;
        }
        if self.tail.is_null() {
            self.head = other.head;
        } else {
            // SAFETY: our tail is ours; `other`'s events move over to us.
            unsafe { (*self.tail).p_next_evt = other.head };
        }
        self.tail = other.tail;
        self.len += other.len;
        *other = EventList::new();
    }

    /// Gives every event up as one chain (null if empty); the list is left empty.
    pub(crate) fn take_chain(&mut self) -> *mut DmusKernelEvent {
        let head = self.head;
        *self = EventList::new();
        head
    }
}
