//! The render stream: `IMXF` over mxf-core's [`RenderQueue`], playing into the miniport's
//! cable with its own writer id (its render slot).
//!
//! The cable's [`WriteOutcome`] goes to the queue unchanged: `Full` (every reader full, or
//! another writer's SysEx holds the cable) blocks the queue until it is kicked through the
//! miniport's render slots (`RenderSlots::kick_all`) — by a capture stream after reading, or
//! by the writer that let the cable go (this stream kicks when the cable reports a release,
//! after the cable's lock is released); `NoListener` (no capture stream in `RUN`), `TooLarge`
//! and `Muted` (the feedback guard) give the message up at once; `NoMemory` is retried then
//! given up. When the stream stops (`STOP`, destruction) it tells the cable
//! (`Cable::end_writer`), which lets go of a SysEx the stream left open. The stream registers
//! itself in its slot once built and leaves it first thing in its destruction, under the
//! slot's lock, so a kick never reaches a stream being destroyed.

use super::IID_MXF_PRIVATE_RENDER;
use crate::miniport::object::MiniportRef;
use mxf_abi::NtError;
use mxf_abi::{
    DmusKernelEvent, Guid, IAllocatorMxf, IID_IMXF, IID_IUNKNOWN, IMasterClock, IMxf, IMxfVtbl,
    IUnknown, KsState, NtStatus, STATUS_INVALID_DEVICE_REQUEST,
};
use mxf_core::cable::WriterId;
use mxf_core::com::{self, ComObject, ComPtr, OurMark, OurObject, RefCount};
use mxf_core::loopback::WriteOutcome;
use mxf_core::platform::{Platform, PoolTag};
use mxf_core::pool_box::PoolBox;
use mxf_core::render::{RenderConfig, RenderQueue, RenderStats, RenderTarget};

/// Pool tag of a render stream object.
pub const TAG_RENDER_STREAM: PoolTag = PoolTag::new(b"MxfS");

/// Where the render queue plays: the miniport's cable.
pub(crate) struct RenderOutput<P: Platform> {
    miniport: MiniportRef<P>,
    /// The miniport's render slot this stream occupies.
    slot: usize,
    /// Its writer id on the cable.
    writer: WriterId,
}

impl<P: Platform> RenderTarget for RenderOutput<P> {
    fn write(&self, parts: &[&[u8]], time: i64) -> WriteOutcome {
        let w = self.miniport.cable.write(self.writer, parts, time);
        if w.released {
            // The cable's lock is released; the play lock held here comes before the slots'
            // and the queues' locks (see `miniport`'s lock order).
            self.miniport.kick_render();
        }
        w.outcome
    }

    fn flushed(&self) {
        self.miniport.notify();
    }

    fn ended(&self) {
        if self.miniport.cable.end_writer(self.writer) {
            self.miniport.kick_render();
        }
    }
}

#[repr(C)]
struct RenderStream<P: Platform> {
    vtbl: *const IMxfVtbl,
    /// `OurMark::of::<RenderStream<P>>()` (for [`com::ours`]).
    mark: OurMark,
    refs: RefCount,
    platform: P,
    /// The port's master clock (for `KSPROPERTY_SYNTH_LATENCYCLOCK`).
    clock: ComPtr<IMasterClock>,
    /// `None` only during destruction.
    queue: Option<RenderQueue<P, RenderOutput<P>>>,
}

/// Creates the render stream of render slot `slot`, cable writer `writer` (`PASSIVE_LEVEL`:
/// the queue's timer). The slot's pin instance is already claimed by the caller; the stream
/// frees it on destruction.
pub(crate) fn new_render_stream<P: Platform>(
    miniport: MiniportRef<P>,
    slot: usize,
    writer: WriterId,
    alloc: &ComPtr<IAllocatorMxf>,
    clock: &ComPtr<IMasterClock>,
) -> Result<ComPtr<IMxf>, NtError> {
    let platform = miniport.platform.clone();
    let cfg = RenderConfig {
        // SchedulePreFetch 0: the port hands events over when they are due.
        port_sequenced: miniport.cfg.prefetch_100ns == 0,
        ..miniport.cfg.render
    };
    let queue = RenderQueue::new(
        platform.clone(),
        alloc,
        clock,
        RenderOutput {
            miniport,
            slot,
            writer,
        },
        cfg,
    )?;
    let stream = RenderStream {
        vtbl: &RenderStream::<P>::VTBL,
        mark: OurMark::of::<RenderStream<P>>(),
        refs: RefCount::new(),
        platform: platform.clone(),
        clock: clock.clone(),
        queue: Some(queue),
    };
    // On failure the stream value (its queue, and the miniport reference in it) goes away
    // here, at PASSIVE_LEVEL.
    let mem = PoolBox::try_new(platform, TAG_RENDER_STREAM, stream)?.into_raw();
    // SAFETY: the object is fully built and ours; the borrow ends with the statement.
    let queue = unsafe { &(*mem.as_ptr()).queue };
    if let Some(q) = queue {
        let t = q.target();
        // SAFETY: the queue lives in the stream object until `destroy`, which leaves the slot
        // before it drops the queue.
        unsafe { t.miniport.render_slots.enter(t.slot, q) };
    }
    // SAFETY: `#[repr(C)]` with the vtable pointer first; the initial reference.
    Ok(unsafe { ComPtr::from_raw(mem.cast::<IMxf>()) })
}

/// The render queue counters of a render stream of ours built for platform `P`.
pub fn render_stats<P: Platform>(stream: &ComPtr<IMxf>) -> Option<RenderStats> {
    com::ours::<RenderStream<P>, _>(stream)?
        .queue
        .as_ref()
        .map(RenderQueue::stats)
}

/// The master clock of `stream` if it is a render stream of ours built for `P` (AddRef'd).
pub(crate) fn clock_of<P: Platform>(stream: &ComPtr<IUnknown>) -> Option<ComPtr<IMasterClock>> {
    com::ours::<RenderStream<P>, _>(stream).map(|s| s.clock.clone())
}

impl<P: Platform> RenderStream<P> {
    const VTBL: IMxfVtbl = IMxfVtbl {
        base: com::unknown_vtbl::<Self>(),
        set_state: Self::set_state,
        put_message: Self::put_message,
        connect_output: Self::connect_output,
        disconnect_output: Self::disconnect_output,
    };

    unsafe extern "system" fn set_state(this: *mut IMxf, state: KsState) -> NtStatus {
        // SAFETY: COM contract.
        let me = unsafe { Self::obj(this) };
        let status = match &me.queue {
            Some(q) => q.set_state(state),
            None => STATUS_INVALID_DEVICE_REQUEST,
        };
        crate::trace::outcome(
            &me.platform,
            format_args!("render SetState({})", crate::trace::StateName(state)),
            status,
        )
    }

    unsafe extern "system" fn put_message(this: *mut IMxf, evt: *mut DmusKernelEvent) -> NtStatus {
        // SAFETY: COM contract.
        let me = unsafe { Self::obj(this) };
        match &me.queue {
            // SAFETY: the port hands us a chain it owns, from the allocator it gave NewStream.
            Some(q) => unsafe { q.put_message(evt) },
            None => STATUS_INVALID_DEVICE_REQUEST,
        }
    }

    /// A render stream is the end of the port's graph (played events go back to the
    /// allocator), so it has no output to connect.
    unsafe extern "system" fn connect_output(_this: *mut IMxf, _sink: *mut IMxf) -> NtStatus {
        STATUS_INVALID_DEVICE_REQUEST
    }

    unsafe extern "system" fn disconnect_output(_this: *mut IMxf, _sink: *mut IMxf) -> NtStatus {
        STATUS_INVALID_DEVICE_REQUEST
    }
}

// SAFETY: 1. `RenderStream<P>` is `#[repr(C)]`, the vtable pointer first, then `mark`, set to
// `OurMark::of::<RenderStream<P>>()` in `new_render_stream` and never written again. 2. Only
// render streams answer the private render id, with themselves (`IIDS`, at offset 0).
unsafe impl<P: Platform> OurObject for RenderStream<P> {
    const PRIVATE_IID: Guid = IID_MXF_PRIVATE_RENDER;
}

// SAFETY: `RenderStream` is `#[repr(C)]` with its vtable pointer first; `VTBL` starts with
// `unknown_vtbl::<Self>()` and is an `IMxfVtbl`; the private IID is answered with the object
// itself (the `OurObject` its accessors ask for). Only `RenderStream<P>` objects carry `VTBL`.
// `destroy` is sound at a zero count (see there).
unsafe impl<P: Platform> ComObject for RenderStream<P> {
    type Platform = P;
    const NAME: &'static str = "render stream";
    const IIDS: &'static [Guid] = &[IID_IUNKNOWN, IID_IMXF, IID_MXF_PRIVATE_RENDER];

    fn refs(&self) -> &RefCount {
        &self.refs
    }

    fn platform(&self) -> &P {
        &self.platform
    }

    unsafe fn destroy(this: *mut Self) {
        // The final Release comes at PASSIVE_LEVEL (PortCls's contract, see `miniport`): the
        // queue deletes its timer here.
        // The render slot is freed first, then the queue is dropped (timer deleted, queued
        // events returned, allocator/clock/miniport released), then the object.
        // SAFETY: 1. `this` is live and ours alone (caller): nothing else refers to it, so a
        // unique borrow is sound; it ends before the object is dropped.
        let me = unsafe { &mut *this };
        if let Some(q) = &me.queue {
            let t = q.target();
            t.miniport.clear_render_slot(t.slot, q);
        }
        drop(me.queue.take());
        // SAFETY: 2. ours alone, built by `PoolBox` with this tag, not used afterwards.
        unsafe { com::drop_and_free(this, TAG_RENDER_STREAM) };
    }
}
