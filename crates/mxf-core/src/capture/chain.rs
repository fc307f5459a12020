//! [`Chain`]: an owned chain of `DMUS_KERNEL_EVENT`s from one allocator.

use crate::com::ComPtr;
use crate::event_list::EventList;
pub(crate) use crate::event_list::Mark;
use core::ptr::NonNull;
use mxf_abi::{DmusKernelEvent, IAllocatorMxf, IMxf, NtStatus, STATUS_SUCCESS};

/// A chain of events (an [`EventList`]) owned by the holder: it goes to a sink with
/// [`Chain::deliver`], or back to its allocator when dropped, so it never leaks.
///
/// # Invariants
/// The list's events, and each buffer of an event with `cb_event > SHORT_EVENT_MAX`, came
/// from `alloc`, which is `Some` whenever the list is not empty. No event is a package, and a
/// buffer event's `pb_data` holds at least `cb_event` initialised bytes.
pub struct Chain {
    list: EventList,
    alloc: Option<ComPtr<IAllocatorMxf>>,
}

impl Default for Chain {
    fn default() -> Self {
        Self::new()
    }
}

impl Chain {
    /// An empty chain.
    pub const fn new() -> Self {
        Self {
            list: EventList::new(),
            alloc: None,
        }
    }

    /// Number of events.
    pub const fn len(&self) -> usize {
        self.list.len()
    }

    /// Whether there are no events.
    pub const fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// The allocator the events came from (`None` for an empty chain that never held any).
    pub fn allocator(&self) -> Option<&ComPtr<IAllocatorMxf>> {
        self.alloc.as_ref()
    }

    /// The events in order, each with its payload (inline bytes or buffer contents).
    pub fn iter(&self) -> impl Iterator<Item = (&DmusKernelEvent, &[u8])> + '_ {
        self.list.iter().map(|ev| {
            let data = match ev.short_data() {
                Some(d) => d,
                None => {
                    // SAFETY: every bit pattern of the 8-byte union is a valid pointer.
                    let buf = unsafe { ev.u_data.pb_data };
                    // SAFETY: a non-package event with `cb_event > SHORT_EVENT_MAX` in this
                    // chain points at a buffer holding `cb_event` initialised bytes
                    // (invariant), alive and unchanged while `self` is borrowed.
                    unsafe { core::slice::from_raw_parts(buf, ev.cb_event.into()) }
                }
            };
            (ev, data)
        })
    }

    /// Appends `other` after this chain's events. Both must come from the same allocator
    /// (same interface pointer); otherwise `other` is handed back untouched.
    pub fn append(&mut self, other: Chain) -> Result<(), Chain> {
        let same = match (&self.alloc, &other.alloc) {
            (Some(a), Some(b)) => a.as_raw() == b.as_raw(),
            _ => false,
        };
        if !(same || self.is_empty() || other.is_empty()) {
            return Err(other);
        }
        // SAFETY: the same allocator, or one of the chains is empty (checked just above).
        unsafe { self.append_same(other) };
        Ok(())
    }

    /// Appends `other` after this chain's events, with no check of their allocators (the
    /// packager's runs of short messages: both chains are its own).
    ///
    /// # Safety
    /// If both chains are non-empty, their events come from the same allocator (the same
    /// interface pointer).
    pub(crate) unsafe fn append_same(&mut self, mut other: Chain) {
        if other.is_empty() {
            return;
        }
        if self.is_empty() {
            core::mem::swap(self, &mut other);
            return;
        }
        // Both are non-empty: `other`'s events come from our allocator (caller's promise),
        // so the invariant holds for them here.
        self.list.append(&mut other.list);
    }

    /// Gives the events up: the caller owns the chain from the returned head (null if empty)
    /// and must hand it to a sink or to [`Chain::allocator`]'s `put_message`.
    pub fn into_raw(mut self) -> *mut DmusKernelEvent {
        self.list.take_chain()
    }

    /// Hands the chain to `sink` with one `PutMessage`; an empty chain is not sent (returns
    /// `STATUS_SUCCESS`). The sink owns the events even if it returns an error.
    ///
    /// # Safety
    /// `sink` eventually returns every event and buffer to the allocator they came from
    /// ([`Chain::allocator`]) — as every MXF graph ending in that allocator does.
    pub unsafe fn deliver(self, sink: &ComPtr<IMxf>) -> NtStatus {
        if self.is_empty() {
            return STATUS_SUCCESS;
        }
        let head = self.into_raw();
        // SAFETY: `head` is a well-formed chain we owned (invariant) and now give away; the
        // caller guarantees the sink returns it to its allocator.
        unsafe { sink.put_message(head) }
    }

    /// This place of the chain (for a later retraction of what follows it).
    pub(crate) fn mark(&self) -> Mark {
        self.list.mark()
    }

    /// Appends one event, which came from `alloc` and is now owned by the chain.
    ///
    /// # Safety
    /// `ev` came from `alloc`'s `GetMessage` (and its buffer, if `cb_event > SHORT_EVENT_MAX`,
    /// from `alloc`'s `GetBuffer`, holding `cb_event` initialised bytes), is not a package,
    /// and is owned by the caller, who gives it up. If the chain is not empty, `alloc` is the
    /// allocator of its events.
    pub(crate) unsafe fn push(
        &mut self,
        alloc: &ComPtr<IAllocatorMxf>,
        ev: NonNull<DmusKernelEvent>,
    ) {
        if self.alloc.is_none() {
            self.alloc = Some(alloc.clone());
        }
        // SAFETY: the caller gives us `ev`, in no list; from `alloc`, our allocator.
        unsafe { self.list.push_back(ev) };
    }

    /// Unlinks every event after `mark` for which `keep` is false, returns them to the
    /// allocator, and reports how many there were, how many payload bytes they held and how many
    /// of them had a buffer.
    ///
    /// # Safety
    /// `mark` was taken of this chain, which since then only grew at its back
    /// ([`EventList::split_off`]'s condition).
    pub(crate) unsafe fn retract_after(
        &mut self,
        mark: Mark,
        keep: impl Fn(&DmusKernelEvent) -> bool,
    ) -> (usize, u64, usize) {
        // SAFETY: per the caller.
        let mut after = unsafe { self.list.split_off(mark) };
        let mut removed = EventList::new();
        let (mut count, mut bytes, mut buffers) = (0usize, 0u64, 0usize);
        while let Some(ev) = after.pop_front() {
            // SAFETY: an event of this chain, unlinked, ours alone.
            let e = unsafe { ev.as_ref() };
            if keep(e) {
                // SAFETY: ours, in no list; it goes back to its place in order.
                unsafe { self.list.push_back(ev) };
            } else {
                count += 1;
                buffers += usize::from(!e.is_short());
                bytes += u64::from(e.cb_event);
                // SAFETY: ours, in no list.
                unsafe { removed.push_back(ev) };
            }
        }
        let removed = removed.take_chain();
        if let (false, Some(alloc)) = (removed.is_null(), &self.alloc) {
            // SAFETY: `removed` is a well-formed chain of events (and buffers) from `alloc`
            // that we own and give back.
            unsafe { alloc.put_message(removed) };
        }
        (count, bytes, buffers)
    }
}

impl Drop for Chain {
    fn drop(&mut self) {
        let head = self.list.take_chain();
        if let (false, Some(alloc)) = (head.is_null(), &self.alloc) {
            // SAFETY: a non-empty chain owns well-formed events from `alloc` (invariant); they
            // go back to it once.
            unsafe { alloc.put_message(head) };
        }
    }
}
