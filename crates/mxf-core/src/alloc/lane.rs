//! One kind of block (events or buffers) of an allocator: the [`Lane`] that holds its reserve,
//! cap and counters, and access to its blocks' payloads. Plain data over the reserve
//! ([`reserve`](super::reserve)); the gets and puts that use it are methods of the allocator
//! ([`full`](super::full), [`fast`](super::fast)).

use super::header::{Kind, OwnerTag, payload_of};
use super::reserve::{PerCpu, Reserve};
use super::stack::Slot;
use super::sync::{AtomicU32, AtomicU64, Ordering};
use core::mem::size_of;
use core::ptr::NonNull;
use mxf_abi::DmusKernelEvent;

/// A reserve slot's item: its block, padded so that every slot fills one 64-byte line (a
/// push writes the slot's link: two processors' slots must not share a line).
#[repr(C)]
pub(crate) struct Item {
    pub(crate) block: *mut u8,
    pub(crate) _pad: [u8; 48],
}

pub(crate) const SLOT_SIZE: usize = 64;
const _: () = assert!(size_of::<Slot<Item>>() == SLOT_SIZE);
/// Alignment of the reserve's memory (per-processor stacks first, then the slots).
pub(crate) const RESERVE_ALIGN: usize = core::mem::align_of::<PerCpu>();
const _: () =
    assert!(size_of::<PerCpu>() == RESERVE_ALIGN && RESERVE_ALIGN.is_multiple_of(SLOT_SIZE));

/// One kind of block (events or buffers): its reserve, cap and counters.
///
/// The reserve's per-processor stacks live in their own memory, one line pair each
/// ([`reserve`](super::reserve)). Here, two groups a cache line apart (pool memory is only
/// 16-aligned, so padding rather than alignment): fields read on every call, and the
/// counters written on the cold paths (pool, steal, high-water samples).
#[repr(C)]
pub(crate) struct Lane {
    pub(crate) kind: Kind,
    /// The owner part of this lane's header words (the allocator's identity and `kind`).
    pub(crate) tag: OwnerTag,
    /// Payload bytes of a block.
    pub(crate) payload: usize,
    /// The reserve's slot array (`reserve_cap` entries, in `mem`), or dangling.
    pub(crate) slots: *const Slot<Item>,
    /// The reserve's per-processor stacks (`cpus` entries, in `mem`), or dangling.
    pub(crate) stacks: *const PerCpu,
    /// Stacks in `stacks` (0 when the reserve is empty).
    pub(crate) cpus: u32,
    pub(crate) reserve_cap: u16,
    /// Most blocks from the block pool outstanding at once: `max - reserve_cap`, so that
    /// reserve plus pool blocks — hence outstanding blocks — never exceed `max`.
    pub(crate) pool_cap: u32,
    /// The pool allocation holding the stacks and the slots (null when none).
    pub(crate) mem: *mut u8,
    pub(crate) _pad0: [u8; 64],
    /// Blocks taken from the block pool and not yet freed back.
    pub(crate) pool_out: AtomicU32,
    pub(crate) high_water: AtomicU32,
    pub(crate) pool_misses: AtomicU64,
    pub(crate) failures: AtomicU64,
    /// Reserve indices moved between processors by steals ([`Reserve::hits`]).
    pub(crate) moved: AtomicU64,
}

impl Lane {
    #[inline(always)]
    pub(crate) fn slots(&self) -> &[Slot<Item>] {
        if self.cpus == 0 {
            return &[];
        }
        // SAFETY: with a reserve, `slots` points to `reserve_cap` initialised slots that live
        // as long as the allocator (see `build_lane`); only accessed through shared references.
        unsafe { core::slice::from_raw_parts(self.slots, usize::from(self.reserve_cap)) }
    }

    /// The reserve: its stacks, slots and steal counter.
    #[inline(always)]
    pub(crate) fn reserve(&self) -> Reserve<'_, Item> {
        let stacks: &[PerCpu] = if self.cpus == 0 {
            &[]
        } else {
            // SAFETY: with a reserve, `stacks` points to `cpus` initialised stacks that live
            // as long as the allocator (see `build_lane`); only accessed through shared
            // references.
            unsafe { core::slice::from_raw_parts(self.stacks, self.cpus as usize) }
        };
        Reserve {
            cpus: stacks,
            slots: self.slots(),
            moved: &self.moved,
        }
    }

    /// The block of reserve slot `i`.
    #[inline(always)]
    pub(crate) fn block(&self, i: usize) -> Option<NonNull<u8>> {
        self.slots().get(i).and_then(|s| NonNull::new(s.item.block))
    }

    pub(crate) fn outstanding(&self) -> u32 {
        let in_reserve = self.reserve().free();
        u32::from(self.reserve_cap).saturating_sub(in_reserve)
            + self.pool_out.load(Ordering::Relaxed)
    }

    /// Samples the outstanding count into the high-water mark (sums every processor's stack:
    /// kept off the hot path, see [`reserve`](super::reserve) for when it runs).
    #[cold]
    #[inline(never)]
    pub(crate) fn note_high_water(&self) {
        let now = self
            .outstanding()
            .min(self.pool_cap + u32::from(self.reserve_cap));
        if now > self.high_water.load(Ordering::Relaxed) {
            self.high_water.fetch_max(now, Ordering::Relaxed);
        }
    }

    pub(crate) fn reserve_hits(&self) -> u64 {
        self.reserve().hits()
    }

    pub(crate) fn gets(&self) -> u64 {
        self.reserve_hits() + self.pool_misses.load(Ordering::Relaxed)
    }
}

/// Turns the payload of an event block just got into a zeroed event (`cb_struct` = 40).
///
/// # Safety
/// `payload` is the payload of an event block of ours that the caller just got (so it is
/// exclusively the caller's).
#[inline(always)]
pub(crate) unsafe fn zeroed_event(payload: NonNull<u8>) -> NonNull<DmusKernelEvent> {
    let p = payload.cast::<DmusKernelEvent>();
    // SAFETY: per the caller; the payload of an event block is DMUS_KERNEL_EVENT_SIZE bytes,
    // 16-aligned.
    unsafe { p.as_ptr().write(DmusKernelEvent::ZEROED) };
    p
}

/// The payload bytes of a free reserve block.
///
/// # Safety
/// `block` is a block of `lane` that the caller owns exclusively for the returned borrow.
pub(crate) unsafe fn lane_payload<'a>(lane: &Lane, block: NonNull<u8>) -> &'a [u8] {
    // SAFETY: the caller's promise: `block` is a block of `lane`, HEADER_SIZE + payload bytes.
    let payload = unsafe { payload_of(block) };
    // SAFETY: the `lane.payload` bytes from `payload` are inside the block, initialised, and
    // the caller's exclusively for `'a`.
    unsafe { core::slice::from_raw_parts(payload.as_ptr(), lane.payload) }
}

/// As [`lane_payload`], mutable.
///
/// # Safety
/// As [`lane_payload`].
pub(crate) unsafe fn lane_payload_mut<'a>(lane: &Lane, block: NonNull<u8>) -> &'a mut [u8] {
    // SAFETY: as in `lane_payload`: a block of `lane`.
    let payload = unsafe { payload_of(block) };
    // SAFETY: as in `lane_payload`: inside the block, initialised, and the caller's
    // exclusively for `'a`, so a unique borrow is sound.
    unsafe { core::slice::from_raw_parts_mut(payload.as_ptr(), lane.payload) }
}
