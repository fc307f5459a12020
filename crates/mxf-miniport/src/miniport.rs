//! The `IMiniportDMus` COM object: what PortCls's DMus port drives.
//!
//! # Lifetime and references
//! - [`new_miniport`] (`PASSIVE_LEVEL`) builds the object with its cable (no reader yet:
//!   each capture stream brings its own loopback) and its service group, and returns the
//!   creator's reference.
//!   The group is created here rather than in `Init` so that `Init` cannot fail half way;
//!   `Init` hands it out (one reference per call).
//! - `Init` keeps a reference on the port (as the DDK's UART miniport does) until the final
//!   `Release`. The port holds the miniport too; PortCls breaks that cycle by releasing the
//!   miniport when the subdevice goes away, and a host port emulator must do the same.
//! - Each stream holds a reference on the miniport (hence on the cable and the port), and
//!   on the allocator and clock `NewStream` gave it; it releases them in its final `Release`,
//!   which PortCls makes at `PASSIVE_LEVEL` (a render stream deletes its timer there).
//!
//! # `NewStream`
//! - `PinID` and stream type must agree: the WinMM and the DirectMusic render pins with
//!   `DMUS_STREAM_MIDI_RENDER`, the capture pin with `DMUS_STREAM_MIDI_CAPTURE` (see
//!   [`crate::filter`]). A wave sink or an undefined type is `STATUS_NOT_SUPPORTED`; any
//!   other pin, or a type that does not match the pin, `STATUS_INVALID_PARAMETER`.
//! - The format must be a music format (`KSDATAFORMAT_TYPE_MUSIC`,
//!   `FormatSize >= sizeof(KSDATAFORMAT)`) whose subformat is one of the pin's ranges (MIDI
//!   on the WinMM pin, DirectMusic on the DirectMusic pin, either on the capture pin): else
//!   `STATUS_INVALID_PARAMETER`. Both kinds get the same stream objects: the port hands a
//!   DMus miniport events whatever its client's format.
//! - Up to [`crate::filter::MAX_RENDER_INSTANCES`] streams per render pin and
//!   [`crate::filter::MAX_CAPTURE_INSTANCES`] on the capture pin at a time (the filter's
//!   instance counts say so): one more is `STATUS_INVALID_DEVICE_REQUEST`. Each render stream
//!   gets a cable writer id (its render slot: pin slot × 8 + instance), each capture stream a
//!   reader of the cable.
//! - `OuterUnknown` (aggregation) is accepted and ignored: the stream is not aggregated.
//!   `PoolType` is ignored (everything is nonpaged).
//! - The capture stream gets the miniport's service group through `*ServiceGroup`
//!   (AddRef'd); a render stream gets NULL there (it needs no service: it has its own timer).
//! - `*SchedulePreFetch` = [`MiniportConfig::prefetch_100ns`], by default 0 as in DMusUART:
//!   the port sequences, handing each render event over at its presentation time, and the
//!   render stream plays it on arrival (`RenderConfig::port_sequenced`) — no event waits for
//!   a clock tick in the miniport. With a nonzero prefetch the port may hand events that much
//!   early and the render queue holds them on its timer until due.
//!
//! # The cable
//! The miniport owns one [`Cable`] (`mxf_core::cable`): every render stream writes its
//! normalised messages into it with its writer id, merged message by message (a SysEx in
//! pieces holds the cable for its writer, realtime bytes pass); every capture stream owns a
//! [`Loopback`](mxf_core::loopback::Loopback) of its own (made with
//! [`MiniportConfig::loopback`] when the stream is created), attached to the cable for the
//! stream's life and joined while the stream is in `RUN`, and the cable copies each message
//! into every joined one (fan-out: a reader that cannot take it drops, counted per reader; it
//! never blocks the others). A render stream whose application leaves a SysEx unfinished
//! holds the other render streams until it sends something else or stops (see
//! `mxf_core::cable`'s merge rule). A cable nobody listens to gives up what is sent into it,
//! counted by the render stream as "no listener". The cable's feedback guard
//! ([`MiniportConfig::feedback`]) mutes it while an echo loop floods it. After each run that
//! wrote bytes, the render stream calls `IPortDMus::Notify(group)`, and the port services
//! every capture stream (`PutMessage(NULL)`), each of which drains its own loopback.
//!
//! # Flow control
//! When every joined reader's loopback is full, or another writer's SysEx holds the cable,
//! the render queue blocks (nothing is dropped). The capture stream, after each service that
//! read bytes (and when it stops listening), kicks the render streams through the miniport's
//! *render slots* (`render_slots.rs`): a spin lock holding a typed pointer to each live render
//! stream's queue (one slot per render stream), set once the stream is built and cleared first
//! thing in its destruction; a render stream whose write or stop let the cable go while
//! others waited kicks them the same way. The kick arms the render queues' timers for now
//! (see `mxf_core::render`).
//!
//! # Lock order
//! `service group → capture stream → loopback → (port allocator)`, `capture stream → cable →
//! loopback` (joining, leaving), `service group → render slot → render queue`, `render play →
//! cable → loopback`, `render play → render slot → render queue` (a release's kick, made
//! after the cable's lock is released), `render play → render queue`. The capture packager
//! runs inside the loopback's lock (zero-copy drain, see `stream::capture`) and takes only
//! the port's allocator, which calls nothing of ours. The capture stream releases its own
//! lock before kicking; the render side holds none of its locks while notifying the port (and
//! so, with a port that services synchronously, while the capture side runs and kicks). No
//! cycle: nothing is taken after the render queue lock or a loopback's lock but the port's
//! allocator, the cable's lock is never held while a stream's or a slot's lock is taken, and
//! the render play lock is never taken while the slot, cable, capture or group lock is
//! held.
//!
//! # Layers
//! This file holds the COM methods (`IMiniport`, `IMiniportDMus`) and the object's COM
//! identity; under it, `object` holds the state the streams share and the reference they
//! hold (`MiniportRef`), `head` what the property handlers recognise, `config` the sizing.
//! The streams depend on `object` only, so this file may build them.

mod config;
pub(crate) mod head;
pub(crate) mod object;

pub use config::MiniportConfig;

use crate::filter::{
    MAX_CAPTURE_INSTANCES, MAX_RENDER_INSTANCES, PIN_CAPTURE_STREAM, filter_descriptor,
    pin_data_ranges, render_slot,
};
use crate::instances::{Instances, MAX_INSTANCES};
use crate::intersection::{RESULTANT_FORMAT_SIZE, com_outcome, data_range_intersection};
use crate::render_slots::RenderSlots;
use crate::stream;
use core::ffi::c_void;
use core::ptr::{self, NonNull};
use core::sync::atomic::{AtomicPtr, Ordering};
use head::{IID_MXF_PRIVATE_MINIPORT, MiniportHead, MiniportOps};
use mxf_abi::NtError;
use mxf_abi::{
    DmusStreamType, Guid, IAllocatorMxf, IID_IMINIPORT, IID_IMINIPORT_DMUS, IID_IUNKNOWN,
    IMasterClock, IMiniport, IMiniportDMus, IMiniportDMusVtbl, IMiniportVtbl, IMxf, IPortDMus,
    IServiceGroup, IUnknown, KSDATAFORMAT_TYPE_MUSIC, KsDataFormat, KsDataRange, NtStatus,
    PResourceList, PcFilterDescriptorPtr, PoolType, STATUS_INVALID_DEVICE_REQUEST,
    STATUS_INVALID_DEVICE_STATE, STATUS_INVALID_PARAMETER, STATUS_NOT_SUPPORTED, STATUS_SUCCESS,
};
use mxf_core::cable::{Cable, CableConfig, CableStats, WriterId};
use mxf_core::com::{self, ComObject, ComPtr, OurMark, RefCount};
use mxf_core::loopback::LoopbackStats;
use mxf_core::platform::{Platform, PoolTag};
use mxf_core::pool_box::PoolBox;
use mxf_core::service::{ServiceGroupExt, new_service_group};
use object::{Miniport, MiniportRef};

/// Pool tag of the miniport object.
pub const TAG_MINIPORT: PoolTag = PoolTag::new(b"MxfM");

/// Creates the miniport. `PASSIVE_LEVEL`. The caller owns the returned reference.
pub fn new_miniport<P: Platform>(
    platform: P,
    cfg: MiniportConfig,
) -> Result<ComPtr<IMiniportDMus>, NtError> {
    if cfg.capture_service_max_bytes == 0 {
        return Err(NtError::INVALID_PARAMETER);
    }
    cfg.loopback.validate()?;
    let cable = Cable::new(
        platform.clone(),
        CableConfig {
            feedback: cfg.feedback,
        },
    );
    let group = new_service_group(platform.clone())?;
    // The capture stream re-services itself through the group's timer (see `stream::capture`).
    group.support_delayed_service();
    let render_slots = RenderSlots::new(&platform);
    let obj = Miniport {
        head: MiniportHead {
            vtbl: &Miniport::<P>::VTBL,
            mark: OurMark::of::<MiniportHead>(),
            ops: &Miniport::<P>::OPS,
        },
        refs: RefCount::new(),
        platform: platform.clone(),
        cfg,
        cable,
        group,
        port: AtomicPtr::new(ptr::null_mut()),
        render_open: [
            Instances::new(MAX_RENDER_INSTANCES),
            Instances::new(MAX_RENDER_INSTANCES),
        ],
        capture_open: Instances::new(MAX_CAPTURE_INSTANCES),
        render_slots,
    };
    let mem = PoolBox::try_new(platform, TAG_MINIPORT, obj)?.into_raw();
    // SAFETY: `#[repr(C)]` with the vtable pointer first: a valid `IMiniportDMus` carrying
    // the initial reference (`destroy` gives the block back through `drop_and_free`).
    Ok(unsafe { ComPtr::from_raw(mem.cast::<IMiniportDMus>()) })
}

/// Calls `f` with our miniport behind `miniport`, if it is one made by [`new_miniport`]
/// with the same `P`.
fn with_miniport<P: Platform, R>(
    miniport: &ComPtr<IMiniportDMus>,
    f: impl FnOnce(&Miniport<P>) -> R,
) -> Option<R> {
    let head = com::ours::<MiniportHead, _>(miniport)?;
    if (head.ops.miniport)() != OurMark::of::<Miniport<P>>() {
        return None;
    }
    // SAFETY: the head starts a `Miniport<Q>` whose `ops` name `Q` (`MiniportHead`'s
    // invariants), so `Q == P`; `miniport`'s reference keeps it alive for the call.
    let m = unsafe { &*miniport.as_raw().cast::<Miniport<P>>() };
    Some(f(m))
}

/// Gives up the reference on the port that the port's `Init` made the miniport take, if it
/// holds one; returns whether it did (`false` too for an object that is not a `Miniport<P>`).
///
/// For an adapter whose `PcRegisterSubdevice` failed after `Init`: the port then holds the
/// miniport and the miniport the port, and PortCls, which breaks that cycle when a registered
/// subdevice goes away (the port's `ReleaseChildren`), never learns of an unregistered one.
/// After this call the adapter's own releases free both. `PASSIVE_LEVEL`.
///
/// # Safety
/// No stream of this miniport exists or will be created (its subdevice was never registered,
/// so no client could open a pin): only a render stream calls the port (`Notify`) through the
/// reference given up here.
pub unsafe fn release_port<P: Platform>(miniport: &ComPtr<IMiniportDMus>) -> bool {
    with_miniport::<P, _>(miniport, |m| {
        let port = NonNull::new(m.port.swap(ptr::null_mut(), Ordering::AcqRel));
        port.map(|p| {
            // SAFETY: a non-null port pointer holds the one reference this object owns, and
            // the swap took it out, so it is given up once; per the caller no stream can be
            // using it.
            drop(unsafe { ComPtr::from_raw(p) });
        })
        .is_some()
    })
    .unwrap_or(false)
}

/// The loopback counters of a miniport made by [`new_miniport`] with the same `P`: those of
/// every capture stream's loopback it had, summed (`Cable::loopback_stats`), cumulative over
/// the miniport's life.
pub fn loopback_stats<P: Platform>(miniport: &ComPtr<IMiniportDMus>) -> Option<LoopbackStats> {
    with_miniport::<P, _>(miniport, |m| m.cable.loopback_stats())
}

/// The counters of the cable (writes, merge waits, feedback guard).
pub fn cable_stats<P: Platform>(miniport: &ComPtr<IMiniportDMus>) -> Option<CableStats> {
    with_miniport::<P, _>(miniport, |m| m.cable.stats())
}

/// The counters of the live capture streams' loopback allocators (events/buffers
/// outstanding etc.), summed field by field (high-water marks too); `None` without a capture
/// stream.
pub fn loopback_allocator_stats<P: Platform>(
    miniport: &ComPtr<IMiniportDMus>,
) -> Option<mxf_core::alloc::AllocatorStats> {
    with_miniport::<P, _>(miniport, |m| {
        let mut sum: Option<mxf_core::alloc::AllocatorStats> = None;
        m.cable.for_each_reader(|_, lb| {
            if let Some(a) = mxf_core::alloc::Allocator::from_com(lb.allocator()) {
                let s = a.stats();
                sum = Some(match sum {
                    None => s,
                    Some(t) => add_allocator_stats(&t, &s),
                });
            }
        });
        sum
    })
    .flatten()
}

/// Two allocators' counters, field by field.
fn add_allocator_stats(
    a: &mxf_core::alloc::AllocatorStats,
    b: &mxf_core::alloc::AllocatorStats,
) -> mxf_core::alloc::AllocatorStats {
    mxf_core::alloc::AllocatorStats {
        gets: a.gets + b.gets,
        puts: a.puts + b.puts,
        buffer_gets: a.buffer_gets + b.buffer_gets,
        buffer_puts: a.buffer_puts + b.buffer_puts,
        reserve_hits: a.reserve_hits + b.reserve_hits,
        pool_misses: a.pool_misses + b.pool_misses,
        failures: a.failures + b.failures,
        outstanding_events: a.outstanding_events + b.outstanding_events,
        outstanding_buffers: a.outstanding_buffers + b.outstanding_buffers,
        high_water_events: a.high_water_events + b.high_water_events,
        high_water_buffers: a.high_water_buffers + b.high_water_buffers,
        reserve_free_events: a.reserve_free_events + b.reserve_free_events,
        reserve_free_buffers: a.reserve_free_buffers + b.reserve_free_buffers,
    }
}

impl<P: Platform> Miniport<P> {
    const VTBL: IMiniportDMusVtbl = IMiniportDMusVtbl {
        base: IMiniportVtbl {
            base: com::unknown_vtbl::<Self>(),
            get_description: Self::get_description,
            data_range_intersection: Self::data_range_intersection,
        },
        init: Self::init,
        service: Self::service,
        new_stream: Self::new_stream,
    };

    const OPS: MiniportOps = MiniportOps {
        miniport: OurMark::of::<Self>,
        stream_clock: stream::stream_clock::<P>,
    };

    unsafe extern "system" fn get_description(
        _this: *mut IMiniport,
        out: *mut PcFilterDescriptorPtr,
    ) -> NtStatus {
        if out.is_null() {
            return STATUS_INVALID_PARAMETER;
        }
        // SAFETY: non-null out-pointer from the caller.
        unsafe { out.write_unaligned(filter_descriptor()) };
        STATUS_SUCCESS
    }

    unsafe extern "system" fn data_range_intersection(
        _this: *mut IMiniport,
        pin_id: u32,
        data_range: *mut KsDataRange,
        matching: *mut KsDataRange,
        output_length: u32,
        resultant_format: *mut c_void,
        resultant_length: *mut u32,
    ) -> NtStatus {
        if data_range.is_null() || matching.is_null() || resultant_length.is_null() {
            return STATUS_INVALID_PARAMETER;
        }
        // Read the client's FormatSize first: a range shorter than a KSDATARANGE must not be
        // read as a whole one.
        // SAFETY: a non-null range starts with its u32 FormatSize.
        let size = unsafe { data_range.cast::<u32>().read_unaligned() };
        if (size as usize) < core::mem::size_of::<KsDataRange>() {
            return STATUS_INVALID_PARAMETER;
        }
        // SAFETY: the client's range is at least a KSDATARANGE (by its FormatSize); plain
        // data, any alignment.
        let client = unsafe { data_range.read_unaligned() };
        // SAFETY: ours is a KSDATARANGE (PortCls passes one of our own ranges); plain data,
        // any alignment.
        let ours = unsafe { matching.read_unaligned() };
        let output = if resultant_format.is_null() || output_length == 0 {
            None
        } else {
            // SAFETY: PortCls passes a writable buffer of `output_length` bytes.
            Some(unsafe {
                core::slice::from_raw_parts_mut(
                    resultant_format.cast::<u8>(),
                    output_length as usize,
                )
            })
        };
        let (status, len) = com_outcome(data_range_intersection(pin_id, &client, &ours, output));
        if let Some(len) = len {
            debug_assert!(len <= RESULTANT_FORMAT_SIZE);
            // SAFETY: non-null out-pointer (checked above).
            unsafe { resultant_length.write_unaligned(len) };
        }
        status
    }

    unsafe extern "system" fn init(
        this: *mut IMiniportDMus,
        _adapter: *mut IUnknown,
        _resources: PResourceList,
        port: *mut IPortDMus,
        out_group: *mut *mut IServiceGroup,
    ) -> NtStatus {
        // SAFETY: COM contract.
        let me = unsafe { Self::obj(this) };
        if out_group.is_null() {
            return STATUS_INVALID_PARAMETER;
        }
        // SAFETY: non-null out-pointer: cleared first so that a failure leaves NULL.
        unsafe { out_group.write_unaligned(ptr::null_mut()) };
        let Some(port) = NonNull::new(port) else {
            return STATUS_INVALID_PARAMETER;
        };
        // SAFETY: a non-null port is a live IPortDMus; we keep one reference.
        let port = unsafe { ComPtr::from_raw_add_ref(port) };
        let raw = port.into_raw();
        if me
            .port
            .compare_exchange(
                ptr::null_mut(),
                raw.as_ptr(),
                Ordering::AcqRel,
                Ordering::Acquire,
            )
            .is_err()
        {
            // SAFETY: the reference we just took; given back.
            drop(unsafe { ComPtr::from_raw(raw) });
            return STATUS_INVALID_DEVICE_STATE;
        }
        let group = me.group.clone().into_raw();
        // SAFETY: non-null out-pointer; the caller owns the reference handed out.
        unsafe { out_group.write_unaligned(group.as_ptr()) };
        STATUS_SUCCESS
    }

    unsafe extern "system" fn service(_this: *mut IMiniportDMus) {}

    /// `IMiniportDMus::NewStream`, traced (see [`crate::trace`]).
    #[allow(clippy::too_many_arguments)]
    unsafe extern "system" fn new_stream(
        this: *mut IMiniportDMus,
        out_stream: *mut *mut IMxf,
        outer: *mut IUnknown,
        pool: PoolType,
        pin_id: u32,
        stream_type: DmusStreamType,
        format: *mut KsDataFormat,
        out_group: *mut *mut IServiceGroup,
        allocator: *mut IAllocatorMxf,
        clock: *mut IMasterClock,
        schedule_prefetch: *mut u64,
    ) -> NtStatus {
        // SAFETY: the port's call, forwarded unchanged.
        let status = unsafe {
            Self::open_stream(
                this,
                out_stream,
                outer,
                pool,
                pin_id,
                stream_type,
                format,
                out_group,
                allocator,
                clock,
                schedule_prefetch,
            )
        };
        let kind = match stream_type {
            DmusStreamType::MIDI_RENDER => "render",
            DmusStreamType::MIDI_CAPTURE => "capture",
            _ => "other",
        };
        // SAFETY: COM contract.
        let me = unsafe { Self::obj(this) };
        crate::trace::outcome(
            me.platform(),
            format_args!("NewStream(pin {pin_id}, {kind})"),
            status,
        )
    }

    /// The body of [`Self::new_stream`].
    ///
    /// # Safety
    /// `IMiniportDMus::NewStream`'s contract.
    #[allow(clippy::too_many_arguments)]
    unsafe fn open_stream(
        this: *mut IMiniportDMus,
        out_stream: *mut *mut IMxf,
        _outer: *mut IUnknown,
        _pool: PoolType,
        pin_id: u32,
        stream_type: DmusStreamType,
        format: *mut KsDataFormat,
        out_group: *mut *mut IServiceGroup,
        allocator: *mut IAllocatorMxf,
        clock: *mut IMasterClock,
        schedule_prefetch: *mut u64,
    ) -> NtStatus {
        // SAFETY: COM contract.
        let me = unsafe { Self::obj(this) };
        if out_stream.is_null() {
            return STATUS_INVALID_PARAMETER;
        }
        // Both out-pointers are cleared first so that a failure leaves NULL.
        // SAFETY: `out_stream` is non-null (checked above) and writable (PortCls).
        unsafe { out_stream.write_unaligned(ptr::null_mut()) };
        if !out_group.is_null() {
            // SAFETY: non-null, and writable (PortCls).
            unsafe { out_group.write_unaligned(ptr::null_mut()) };
        }
        // `None`: the capture pin; `Some(slot)`: a render pin.
        let render = match (render_slot(pin_id), pin_id, stream_type) {
            (Some(slot), _, DmusStreamType::MIDI_RENDER) => Some(slot),
            (None, PIN_CAPTURE_STREAM, DmusStreamType::MIDI_CAPTURE) => None,
            (_, _, DmusStreamType::MIDI_RENDER | DmusStreamType::MIDI_CAPTURE) => {
                return STATUS_INVALID_PARAMETER;
            }
            _ => return STATUS_NOT_SUPPORTED,
        };
        let capture = render.is_none();
        // SAFETY: a non-null format points to at least its FormatSize field.
        if format.is_null() || !unsafe { is_pin_format(pin_id, format) } {
            return STATUS_INVALID_PARAMETER;
        }
        if capture && out_group.is_null() {
            return STATUS_INVALID_PARAMETER;
        }
        let (Some(allocator), Some(clock)) = (NonNull::new(allocator), NonNull::new(clock)) else {
            return STATUS_INVALID_PARAMETER;
        };
        // SAFETY: a non-null interface pointer from the port is live; we keep a reference.
        let allocator = unsafe { ComPtr::from_raw_add_ref(allocator) };
        // SAFETY: as for `allocator`.
        let clock = unsafe { ComPtr::from_raw_add_ref(clock) };
        let open = match render {
            Some(pin) => me.render_open.get(pin),
            None => Some(&me.capture_open),
        };
        let Some(open) = open else {
            return STATUS_INVALID_PARAMETER;
        };
        let Some(instance) = open.claim() else {
            return STATUS_INVALID_DEVICE_REQUEST;
        };
        let made = match render {
            Some(pin) => {
                let slot = pin * MAX_INSTANCES + instance;
                match WriterId::new(slot) {
                    Some(w) => {
                        stream::new_render_stream(MiniportRef::new(me), slot, w, &allocator, &clock)
                    }
                    None => Err(NtError::INVALID_PARAMETER),
                }
            }
            None => stream::new_capture_stream(MiniportRef::new(me), instance, allocator, clock),
        };
        let stream = match made {
            Ok(s) => s,
            Err(status) => {
                open.free(instance);
                return status.into();
            }
        };
        // SAFETY: `out_stream` is non-null and writable; the caller owns the reference
        // handed out.
        unsafe { out_stream.write_unaligned(stream.into_raw().as_ptr()) };
        if capture {
            // SAFETY: non-null for the capture pin (checked above) and writable; the caller
            // owns the reference handed out.
            unsafe { out_group.write_unaligned(me.group.clone().into_raw().as_ptr()) };
        }
        if !schedule_prefetch.is_null() {
            // SAFETY: non-null, and writable (PortCls).
            unsafe { schedule_prefetch.write_unaligned(me.cfg.prefetch_100ns) };
        }
        STATUS_SUCCESS
    }
}

// SAFETY: `Miniport` is `#[repr(C)]` with its vtable pointer first; `VTBL` starts with
// `unknown_vtbl::<Self>()` and is an `IMiniportDMusVtbl` (beginning with `IMiniport`'s and
// `IUnknown`'s tables); the private IID is answered with the object itself, which starts with
// its `MiniportHead` (the `OurObject` its accessors ask for). Only `Miniport<P>` objects carry
// `VTBL`. `destroy` is sound at a zero count (see there).
unsafe impl<P: Platform> ComObject for Miniport<P> {
    type Platform = P;
    const NAME: &'static str = "miniport";
    const IIDS: &'static [Guid] = &[
        IID_IUNKNOWN,
        IID_IMINIPORT,
        IID_IMINIPORT_DMUS,
        IID_MXF_PRIVATE_MINIPORT,
    ];

    fn refs(&self) -> &RefCount {
        &self.refs
    }

    fn platform(&self) -> &P {
        &self.platform
    }

    unsafe fn destroy(this: *mut Self) {
        // Per the caller the object is ours alone: release the port, then drop the rest
        // (group, loopback with its allocator) and free the memory (`PoolBox` with this tag in
        // `new_miniport`).
        // SAFETY: 1. `this` is live and ours alone, so its `port` field is readable.
        let port = unsafe { (*this).port.swap(ptr::null_mut(), Ordering::AcqRel) };
        if let Some(port) = NonNull::new(port) {
            // SAFETY: 2. a non-null port pointer holds the one reference this object owns,
            // given up here.
            drop(unsafe { ComPtr::from_raw(port) });
        }
        // SAFETY: 3. ours alone, built by `PoolBox` with this tag, not used afterwards.
        unsafe { com::drop_and_free(this, TAG_MINIPORT) };
    }
}

/// Whether `format` is a music `KSDATAFORMAT` of one of pin `pin_id`'s ranges.
///
/// # Safety
/// `format` is non-null and readable for its `FormatSize` bytes (at least 4).
unsafe fn is_pin_format(pin_id: u32, format: *const KsDataFormat) -> bool {
    // SAFETY: per the caller, the first 4 bytes are readable.
    let size = unsafe { format.cast::<u32>().read_unaligned() };
    if (size as usize) < core::mem::size_of::<KsDataFormat>() {
        return false;
    }
    // SAFETY: at least a whole KSDATAFORMAT is readable (FormatSize covers it).
    let f = unsafe { format.read_unaligned() };
    f.major_format == KSDATAFORMAT_TYPE_MUSIC
        && pin_data_ranges(pin_id).is_some_and(|rs| rs.iter().any(|r| r.sub_format == f.sub_format))
}

#[cfg(test)]
mod tests;
