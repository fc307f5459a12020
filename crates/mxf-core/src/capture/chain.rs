//! [`Chain`]: an owned chain of `DMUS_KERNEL_EVENT`s from one allocator.

use crate::com::ComPtr;
use core::ptr::{self, NonNull};
use mxf_abi::{DmusKernelEvent, IAllocatorMxf, IMxf, NtStatus, STATUS_SUCCESS};

/// A chain of events (linked through `p_next_evt`) owned by the holder: it goes to a sink with
/// [`Chain::deliver`], or back to its allocator when dropped, so it never leaks.
///
/// # Invariant
/// `head` is null (then `tail` is null and `len` 0) or the first of `len` distinct events
/// linked through `p_next_evt`, `tail` being the last (its `p_next_evt` null). The chain owns
/// them; each event, and each buffer of an event with `cb_event > SHORT_EVENT_MAX`, came from
/// `alloc`, which is `Some` whenever the chain is not empty. No event is a package, and a
/// buffer event's `pb_data` holds at least `cb_event` initialised bytes.
pub struct Chain {
    head: *mut DmusKernelEvent,
    tail: *mut DmusKernelEvent,
    len: usize,
    alloc: Option<ComPtr<IAllocatorMxf>>,
}

// SAFETY: the chain owns its events and buffers exclusively (invariant), like a `Box`, and the
// allocator handle is `Send`.
unsafe impl Send for Chain {}

impl Default for Chain {
    fn default() -> Self {
        Self::new()
    }
}

/// Where a retraction starts: after this event of the chain, or from the head if null.
pub(crate) type Mark = *mut DmusKernelEvent;

impl Chain {
    /// An empty chain.
    pub const fn new() -> Self {
        Self {
            head: ptr::null_mut(),
            tail: ptr::null_mut(),
            len: 0,
            alloc: None,
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

    /// The first event, still owned by the chain (null if empty).
    pub const fn head(&self) -> *const DmusKernelEvent {
        self.head
    }

    /// The allocator the events came from (`None` for an empty chain that never held any).
    pub fn allocator(&self) -> Option<&ComPtr<IAllocatorMxf>> {
        self.alloc.as_ref()
    }

    /// The events in order, each with its payload (inline bytes or buffer contents).
    pub fn iter(&self) -> impl Iterator<Item = (&DmusKernelEvent, &[u8])> + '_ {
        let mut cur = self.head as *const DmusKernelEvent;
        core::iter::from_fn(move || {
            // SAFETY: `cur` is null or an event of this chain (invariant), alive while `self`
            // is borrowed.
            let ev = unsafe { cur.as_ref() }?;
            cur = ev.p_next_evt;
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
            Some((ev, data))
        })
    }

    /// Appends `other` after this chain's events. Both must come from the same allocator
    /// (same interface pointer); otherwise `other` is handed back untouched.
    pub fn append(&mut self, mut other: Chain) -> Result<(), Chain> {
        if other.is_empty() {
            return Ok(());
        }
        if self.is_empty() {
            core::mem::swap(self, &mut other);
            return Ok(());
        }
        let same = match (&self.alloc, &other.alloc) {
            (Some(a), Some(b)) => a.as_raw() == b.as_raw(),
            _ => false,
        };
        if !same {
            return Err(other);
        }
        // SAFETY: the same allocator, checked just above.
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
        // SAFETY: both chains are non-empty, so `self.tail` is an event this chain owns; the
        // events of `other` are distinct from ours (each event has one owner) and move over,
        // and they come from our allocator (caller's promise), so our invariant holds.
        unsafe { (*self.tail).p_next_evt = other.head };
        self.tail = other.tail;
        self.len += other.len;
        other.head = ptr::null_mut();
        other.tail = ptr::null_mut();
        other.len = 0;
    }

    /// Gives the events up: the caller owns the chain from the returned head (null if empty)
    /// and must hand it to a sink or to [`Chain::allocator`]'s `put_message`.
    pub fn into_raw(mut self) -> *mut DmusKernelEvent {
        let head = self.head;
        self.head = ptr::null_mut();
        self.tail = ptr::null_mut();
        self.len = 0;
        head
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

    /// The last event (a [`Mark`] for a later retraction of what follows it).
    pub(crate) fn mark(&self) -> Mark {
        self.tail
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
        let ev = ev.as_ptr();
        // SAFETY: we own `ev` now (caller's promise).
        unsafe { (*ev).p_next_evt = ptr::null_mut() };
        if self.alloc.is_none() {
            self.alloc = Some(alloc.clone());
        }
        if self.tail.is_null() {
            self.head = ev;
        } else {
            // SAFETY: a non-null tail is an event this chain owns (invariant).
            unsafe { (*self.tail).p_next_evt = ev };
        }
        self.tail = ev;
        self.len += 1;
    }

    /// Unlinks every event after `mark` for which `keep` is false, returns them to the
    /// allocator, and reports how many there were, how many payload bytes they held and how many
    /// of them had a buffer.
    ///
    /// # Safety
    /// `mark` is null or an event of this chain.
    pub(crate) unsafe fn retract_after(
        &mut self,
        mark: Mark,
        keep: impl Fn(&DmusKernelEvent) -> bool,
    ) -> (usize, u64, usize) {
        let mut prev = mark;
        let mut cur = if prev.is_null() {
            self.head
        } else {
            // SAFETY: a non-null `mark` is an event of this chain (caller's promise).
            unsafe { (*prev).p_next_evt }
        };
        let mut removed: *mut DmusKernelEvent = ptr::null_mut();
        let mut removed_tail: *mut DmusKernelEvent = ptr::null_mut();
        let (mut count, mut bytes, mut buffers) = (0usize, 0u64, 0usize);
        while !cur.is_null() {
            // SAFETY: `cur` is an event of this chain (we follow its links from `mark`), owned
            // by us and not aliased.
            let ev = unsafe { &mut *cur };
            let next = ev.p_next_evt;
            if keep(ev) {
                prev = cur;
            } else {
                if prev.is_null() {
                    self.head = next;
                } else {
                    // SAFETY: `prev` is a kept event of this chain.
                    unsafe { (*prev).p_next_evt = next };
                }
                ev.p_next_evt = ptr::null_mut();
                if removed_tail.is_null() {
                    removed = cur;
                } else {
                    // SAFETY: `removed_tail` is an event we unlinked and still own.
                    unsafe { (*removed_tail).p_next_evt = cur };
                }
                removed_tail = cur;
                count += 1;
                buffers += usize::from(!ev.is_short());
                bytes += u64::from(ev.cb_event);
                self.len -= 1;
            }
            cur = next;
        }
        self.tail = prev;
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
        if self.head.is_null() {
            return;
        }
        if let Some(alloc) = &self.alloc {
            // SAFETY: a non-empty chain owns well-formed events from `alloc` (invariant); they
            // go back to it once.
            unsafe { alloc.put_message(self.head) };
        }
    }
}
