//! Construction and the failure path of construction of an allocator: [`new_allocator`]
//! builds both lanes (reserve memory, the reserve pre-filled from the block pools), then the
//! object with its per-`P` vtable. The layer that ties the object (`object`) to its vtable
//! (`vtbl`), so that the object's code does not depend on the thunks above it.

use super::backend::Object;
use super::config::AllocatorConfig;
use super::header::{HEADER_SIZE, Header, Identity, Kind, OwnerTag, STATE_FREE, Word};
use super::lane::{Item, Lane, RESERVE_ALIGN, SLOT_SIZE, lane_payload_mut};
use super::object::{Allocator, Backend};
use super::reserve::PerCpu;
use super::stack::Slot;
use super::sync::{AtomicI32, AtomicU32, AtomicU64};
use super::teardown::empty_lane;
use super::vtbl::Vtbl;
use super::{POISON_BYTE, TAG_BUFFERS, TAG_EVENTS, TAG_OBJECT, TAG_RESERVE};
use crate::com::{ComPtr, OurMark, RefCount};
use crate::platform::{BlockPool, MAX_PROCESSORS, Platform};
use core::mem::size_of;
use core::ptr::{self, NonNull};
use mxf_abi::NtError;
use mxf_abi::{DMUS_KERNEL_EVENT_SIZE, IAllocatorMxf, KsState};

/// What [`build_lane`] builds.
struct LaneSpec {
    kind: Kind,
    payload: usize,
    reserve: u16,
    max: u32,
    poison: bool,
}

/// Builds one lane: allocates its reserve memory (`processors` stacks, then the slots) and
/// fills the reserve from `pool`.
fn build_lane<P: Platform>(
    platform: &P,
    pool: &P::BlockPool,
    identity: Identity,
    spec: LaneSpec,
    processors: u32,
) -> Result<Lane, NtError> {
    let LaneSpec {
        kind,
        payload,
        reserve,
        max,
        poison,
    } = spec;
    let mut lane = Lane {
        kind,
        tag: OwnerTag::new(identity, kind),
        payload,
        slots: NonNull::<Slot<Item>>::dangling().as_ptr(),
        stacks: NonNull::<PerCpu>::dangling().as_ptr(),
        cpus: 0,
        reserve_cap: 0,
        pool_cap: max - u32::from(reserve),
        mem: ptr::null_mut(),
        _pad0: [0; 64],
        pool_out: AtomicU32::new(0),
        high_water: AtomicU32::new(0),
        pool_misses: AtomicU64::new(0),
        failures: AtomicU64::new(0),
        moved: AtomicU64::new(0),
    };
    if reserve == 0 {
        return Ok(lane);
    }
    let n = usize::from(reserve);
    let cpus = processors.clamp(1, MAX_PROCESSORS) as usize;
    // The pool guarantees 16-byte alignment only: room to align the stacks up.
    let bytes = cpus * size_of::<PerCpu>() + n * SLOT_SIZE + (RESERVE_ALIGN - 1);
    let mem = platform
        .pool_alloc(bytes, TAG_RESERVE)
        .ok_or(NtError::INSUFFICIENT_RESOURCES)?;
    let skew = mem.as_ptr().align_offset(RESERVE_ALIGN);
    // SAFETY: `skew < RESERVE_ALIGN`, within the slack allocated; the result is aligned for
    // `PerCpu` (RESERVE_ALIGN is a multiple of its alignment).
    let stacks = unsafe { mem.add(skew) }.cast::<PerCpu>();
    // SAFETY: the `cpus` stacks fit in `mem` after the skew (sizes above); the slots start
    // right after them, aligned because every stack's size is a multiple of the slots'
    // alignment.
    let slots = unsafe { stacks.add(cpus) }.cast::<Slot<Item>>();
    for k in 0..cpus {
        // SAFETY: `k < cpus`, inside the stacks' part of `mem`.
        let stack = unsafe { stacks.add(k) };
        // SAFETY: aligned (see above), writable, and nothing references it yet.
        unsafe { stack.write(PerCpu::new()) };
    }
    let mut filled = 0;
    while filled < n {
        let Some(block) = pool.alloc() else { break };
        // SAFETY: a fresh block of HEADER_SIZE + payload bytes, aligned, ours.
        let header = unsafe { Header::at(block) };
        header.init(
            identity,
            Word::new(identity, kind, filled as u16, STATE_FREE),
        );
        if poison {
            // SAFETY: the block is ours.
            unsafe { lane_payload_mut(&lane, block) }.fill(POISON_BYTE);
        }
        let item = Item {
            block: block.as_ptr(),
            _pad: [0; 48],
        };
        // SAFETY: `filled < n`, inside the `n`-slot array.
        let slot = unsafe { slots.add(filled) };
        // SAFETY: aligned (see above), writable, and nothing else references it yet.
        unsafe { slot.write(Slot::new(item)) };
        filled += 1;
    }
    if filled < n {
        for i in 0..filled {
            // SAFETY: `i < filled <= n`, inside the slot array.
            let slot = unsafe { slots.add(i) };
            // SAFETY: slot `i` was written above and nothing else references it.
            let block = unsafe { (*slot.as_ptr()).item.block };
            // SAFETY: the block came from `pool.alloc()` above, so it is not null.
            let block = unsafe { NonNull::new_unchecked(block) };
            // SAFETY: a block of `pool`, allocated above and not freed since.
            unsafe { pool.free(block) };
        }
        // SAFETY: from `pool_alloc` with TAG_RESERVE just above; nothing references it.
        unsafe { platform.pool_free(mem, TAG_RESERVE) };
        return Err(NtError::INSUFFICIENT_RESOURCES);
    }
    lane.slots = slots.as_ptr();
    lane.stacks = stacks.as_ptr();
    lane.cpus = cpus as u32;
    lane.reserve_cap = reserve;
    lane.mem = mem.as_ptr();
    lane.reserve().fill();
    Ok(lane)
}

/// Frees a lane built by [`build_lane`] that never became part of an object.
fn drop_lane<P: Platform>(platform: &P, pool: &P::BlockPool, lane: Lane) {
    // SAFETY: `lane` was built over `platform` and `pool` and is dropped here, unused.
    unsafe { empty_lane(platform, pool, &lane, |_, _| {}) };
}

/// Creates an allocator: two block pools (events, buffers), the reserves pre-filled.
/// `PASSIVE_LEVEL`. Returns the creator's reference.
///
/// `STATUS_INVALID_PARAMETER` if `cfg` is out of bounds ([`AllocatorConfig::validate`]);
/// `STATUS_INSUFFICIENT_RESOURCES` (or the platform's status) if memory runs out, in which
/// case everything obtained so far is given back.
pub fn new_allocator<P: Platform>(
    platform: P,
    cfg: AllocatorConfig,
) -> Result<ComPtr<IAllocatorMxf>, NtError> {
    cfg.validate()?;
    let processors = platform.processor_count();
    let event_pool = platform.new_block_pool(HEADER_SIZE + DMUS_KERNEL_EVENT_SIZE, TAG_EVENTS)?;
    let buffer_pool =
        platform.new_block_pool(HEADER_SIZE + usize::from(cfg.buffer_size), TAG_BUFFERS)?;
    const {
        assert!(core::mem::align_of::<Object<P>>() <= crate::platform::POOL_ALIGN);
    }
    let mem = platform
        .pool_alloc(size_of::<Object<P>>(), TAG_OBJECT)
        .ok_or(NtError::INSUFFICIENT_RESOURCES)?
        .cast::<Object<P>>();
    let identity = Identity::for_address(mem.as_ptr() as usize);
    let events = build_lane(
        &platform,
        &event_pool,
        identity,
        LaneSpec {
            kind: Kind::Event,
            payload: DMUS_KERNEL_EVENT_SIZE,
            reserve: cfg.reserve_events,
            max: cfg.max_events,
            poison: cfg.poison_freed,
        },
        processors,
    );
    let buffers = build_lane(
        &platform,
        &buffer_pool,
        identity,
        LaneSpec {
            kind: Kind::Buffer,
            payload: usize::from(cfg.buffer_size),
            reserve: cfg.reserve_buffers,
            max: cfg.max_buffers,
            poison: cfg.poison_freed,
        },
        processors,
    );
    let (events, buffers) = match (events, buffers) {
        (Ok(e), Ok(b)) => (e, b),
        (e, b) => {
            let status = match (&e, &b) {
                (Err(s), _) | (_, Err(s)) => *s,
                _ => NtError::INSUFFICIENT_RESOURCES,
            };
            if let Ok(e) = e {
                drop_lane(&platform, &event_pool, e);
            }
            if let Ok(b) = b {
                drop_lane(&platform, &buffer_pool, b);
            }
            // SAFETY: from `pool_alloc(.., TAG_OBJECT)` above, never initialised or shared.
            unsafe { platform.pool_free(mem.cast(), TAG_OBJECT) };
            return Err(status);
        }
    };
    let object = Object {
        core: Allocator {
            vtbl: &Vtbl::<P>::VTBL,
            mark: OurMark::of::<Allocator>(),
            refs: RefCount::new(),
            state: AtomicI32::new(KsState::STOP.0),
            buffer_size: cfg.buffer_size,
            poison: cfg.poison_freed,
            identity,
            backend: mem as NonNull<dyn Backend>,
            events,
            buffers,
        },
        platform,
        event_pool,
        buffer_pool,
    };
    // SAFETY: `mem` is a fresh pool block of `size_of::<Object<P>>()` bytes, aligned (checked
    // at compile time), exclusively ours.
    unsafe { mem.as_ptr().write(object) };
    // SAFETY: `Object<P>` is `#[repr(C)]` with the `Allocator` first, whose first field is
    // the vtable pointer: `mem` is a valid `IAllocatorMxf` pointer, and the creator gets the
    // object's one initial reference.
    Ok(unsafe { ComPtr::from_raw(mem.cast::<IAllocatorMxf>()) })
}
