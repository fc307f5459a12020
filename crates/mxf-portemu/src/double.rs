//! A test-double DMus miniport: the smallest loopback that follows the port contract, for
//! testing [`crate::Port`] on its own (and as `mxfsim --miniport double`).
//!
//! - `Init` keeps a reference on the port and hands out a service group (mxf-core's).
//! - `GetDescription` / `DataRangeIntersection`: mxf-miniport's descriptor and handler.
//! - Render stream `PutMessage(chain)`: serialises the chain at once (presentation times
//!   ignored) into a byte queue, returns the chain to the port's allocator, and calls
//!   `IPortDMus::Notify(group)`.
//! - Capture stream `PutMessage(NULL)`: drains the queue through mxf-core's capture
//!   packager (port allocator, master-clock timestamp) and delivers the chain to the sink
//!   connected with `ConnectOutput`.

use crate::com::{BoxObject, into_com, object, unknown_vtbl};
use crate::tracker::{LiveGuard, Tracker};
use core::ffi::c_void;
use mxf_abi::{
    DmusKernelEvent, DmusStreamType, Guid, IAllocatorMxf, IID_IMINIPORT, IID_IMINIPORT_DMUS,
    IID_IMXF, IID_IUNKNOWN, IMasterClock, IMiniport, IMiniportDMus, IMiniportDMusVtbl,
    IMiniportVtbl, IMxf, IMxfVtbl, IPortDMus, IServiceGroup, IUnknown, KsDataFormat, KsDataRange,
    KsState, NtStatus, PResourceList, PcFilterDescriptorPtr, PoolType, STATUS_INVALID_PARAMETER,
    STATUS_SUCCESS,
};
use mxf_core::capture::CapturePackager;
use mxf_core::com::{ComPtr, RefCount};
use mxf_core::platform::Platform;
use mxf_core::serialize::{ByteSink, ChainCursor, Serializer};
use mxf_kemu::Emu;
use std::ptr::{self, NonNull};
use std::sync::{Arc, Mutex, MutexGuard};

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

#[derive(Default)]
struct Wiring {
    port: Option<ComPtr<IPortDMus>>,
    group: Option<ComPtr<IServiceGroup>>,
}

#[repr(C)]
struct MiniportObj {
    vtbl: &'static IMiniportDMusVtbl,
    refs: RefCount,
    emu: Emu,
    wiring: Arc<Mutex<Wiring>>,
    cable: Arc<Mutex<Vec<u8>>>,
    tracker: Arc<Tracker>,
    live: LiveGuard,
}

// SAFETY: `#[repr(C)]`, vtable first, built with `unknown_vtbl!(MiniportObj)`.
unsafe impl BoxObject for MiniportObj {
    fn refs(&self) -> &RefCount {
        &self.refs
    }
    const NAME: &'static str = "miniport double";
    const IIDS: &'static [Guid] = &[IID_IUNKNOWN, IID_IMINIPORT, IID_IMINIPORT_DMUS];
}

static MINIPORT_VTBL: IMiniportDMusVtbl = IMiniportDMusVtbl {
    base: IMiniportVtbl {
        base: unknown_vtbl!(MiniportObj),
        get_description,
        data_range_intersection,
    },
    init,
    service,
    new_stream,
};

/// # Safety
/// Vtable slot.
unsafe extern "system" fn get_description(
    _this: *mut IMiniport,
    out: *mut PcFilterDescriptorPtr,
) -> NtStatus {
    if out.is_null() {
        return STATUS_INVALID_PARAMETER;
    }
    // SAFETY: a non-null out parameter.
    unsafe { out.write(mxf_miniport::filter_descriptor()) };
    STATUS_SUCCESS
}

/// # Safety
/// Vtable slot; pointers valid per the method's contract.
unsafe extern "system" fn data_range_intersection(
    _this: *mut IMiniport,
    pin_id: u32,
    data_range: *mut KsDataRange,
    matching: *mut KsDataRange,
    output_length: u32,
    resultant: *mut c_void,
    resultant_length: *mut u32,
) -> NtStatus {
    // SAFETY: per the method's contract the ranges are readable, the output writable for
    // `output_length` bytes.
    let (Some(dr), Some(m)) = (unsafe { data_range.as_ref() }, unsafe { matching.as_ref() }) else {
        return STATUS_INVALID_PARAMETER;
    };
    let out = if resultant.is_null() || output_length == 0 {
        None
    } else {
        // SAFETY: as above.
        Some(unsafe {
            std::slice::from_raw_parts_mut(resultant.cast::<u8>(), output_length as usize)
        })
    };
    let (st, len) =
        mxf_miniport::com_outcome(mxf_miniport::data_range_intersection(pin_id, dr, m, out));
    if let (Some(n), false) = (len, resultant_length.is_null()) {
        // SAFETY: a non-null out parameter.
        unsafe { resultant_length.write(n) };
    }
    st
}

/// # Safety
/// Vtable slot.
unsafe extern "system" fn init(
    this: *mut IMiniportDMus,
    _adapter: *mut IUnknown,
    _resources: PResourceList,
    port: *mut IPortDMus,
    out_group: *mut *mut IServiceGroup,
) -> NtStatus {
    // SAFETY: `this` is a live `MiniportObj`.
    let obj = unsafe { object::<MiniportObj>(this.cast()) };
    obj.tracker.call("double Init", obj.emu.current_irql());
    let (Some(port), false) = (NonNull::new(port), out_group.is_null()) else {
        return STATUS_INVALID_PARAMETER;
    };
    let group = match mxf_core::service::new_service_group(obj.emu.clone()) {
        Ok(g) => g,
        Err(st) => return st.into(),
    };
    // SAFETY: non-null out parameter; the caller receives one reference.
    unsafe { out_group.write(group.clone().into_raw().as_ptr()) };
    let mut w = lock(&obj.wiring);
    // SAFETY: a live port handed to Init; we keep our own reference.
    w.port = Some(unsafe { ComPtr::from_raw_add_ref(port) });
    w.group = Some(group);
    STATUS_SUCCESS
}

/// # Safety
/// Vtable slot.
unsafe extern "system" fn service(_this: *mut IMiniportDMus) {}

/// # Safety
/// Vtable slot; pointers valid per `NewStream`'s contract.
#[allow(clippy::too_many_arguments)]
unsafe extern "system" fn new_stream(
    this: *mut IMiniportDMus,
    out_stream: *mut *mut IMxf,
    _outer: *mut IUnknown,
    _pool: PoolType,
    _pin: u32,
    kind: DmusStreamType,
    _format: *mut KsDataFormat,
    out_group: *mut *mut IServiceGroup,
    allocator: *mut IAllocatorMxf,
    clock: *mut IMasterClock,
    prefetch: *mut u64,
) -> NtStatus {
    // SAFETY: `this` is a live `MiniportObj`.
    let obj = unsafe { object::<MiniportObj>(this.cast()) };
    obj.tracker.call("double NewStream", obj.emu.current_irql());
    let (Some(alloc), Some(clock), false, false) = (
        NonNull::new(allocator),
        NonNull::new(clock),
        out_stream.is_null(),
        out_group.is_null(),
    ) else {
        return STATUS_INVALID_PARAMETER;
    };
    // SAFETY: a live allocator passed to NewStream; we keep our own reference.
    let alloc = unsafe { ComPtr::from_raw_add_ref(alloc) };
    // SAFETY: a live clock passed to NewStream; we keep our own reference.
    let clock = unsafe { ComPtr::from_raw_add_ref(clock) };
    let w = lock(&obj.wiring);
    let stream = StreamObj {
        vtbl: &STREAM_VTBL,
        refs: RefCount::new(),
        emu: obj.emu.clone(),
        capture: kind == DmusStreamType::MIDI_CAPTURE,
        packager: Mutex::new(CapturePackager::new(&alloc)),
        serializer: Mutex::new(Serializer::new(Some(alloc.buffer_size()))),
        alloc,
        clock,
        sink: Mutex::new(None),
        port: w.port.clone(),
        group: w.group.clone(),
        cable: Arc::clone(&obj.cable),
        tracker: Arc::clone(&obj.tracker),
        live: obj.tracker.born("double stream"),
    };
    let group = w.group.clone();
    drop(w);
    // SAFETY: the vtable is an IMxfVtbl.
    let stream: ComPtr<IMxf> = unsafe { into_com(stream) };
    // SAFETY: `out_stream` is a non-null out parameter (checked above) of NewStream's
    // caller; it receives the one reference.
    unsafe { out_stream.write(stream.into_raw().as_ptr()) };
    // SAFETY: `out_group` is a non-null out parameter (checked above); it receives one
    // reference or null.
    unsafe { out_group.write(group.map_or(ptr::null_mut(), |g| g.into_raw().as_ptr())) };
    if !prefetch.is_null() {
        // SAFETY: a non-null optional out parameter of NewStream's caller.
        unsafe { prefetch.write(0) };
    }
    STATUS_SUCCESS
}

#[repr(C)]
struct StreamObj {
    vtbl: &'static IMxfVtbl,
    refs: RefCount,
    emu: Emu,
    capture: bool,
    packager: Mutex<CapturePackager>,
    serializer: Mutex<Serializer>,
    alloc: ComPtr<IAllocatorMxf>,
    clock: ComPtr<IMasterClock>,
    sink: Mutex<Option<ComPtr<IMxf>>>,
    port: Option<ComPtr<IPortDMus>>,
    group: Option<ComPtr<IServiceGroup>>,
    cable: Arc<Mutex<Vec<u8>>>,
    tracker: Arc<Tracker>,
    live: LiveGuard,
}

// SAFETY: `#[repr(C)]`, vtable first, built with `unknown_vtbl!(StreamObj)`.
unsafe impl BoxObject for StreamObj {
    fn refs(&self) -> &RefCount {
        &self.refs
    }
    const NAME: &'static str = "stream double";
    const IIDS: &'static [Guid] = &[IID_IUNKNOWN, IID_IMXF];
}

static STREAM_VTBL: IMxfVtbl = IMxfVtbl {
    base: unknown_vtbl!(StreamObj),
    set_state,
    put_message,
    connect_output,
    disconnect_output,
};

/// # Safety
/// Vtable slot.
unsafe extern "system" fn set_state(this: *mut IMxf, _state: KsState) -> NtStatus {
    // SAFETY: `this` is a live `StreamObj`.
    let obj = unsafe { object::<StreamObj>(this.cast()) };
    obj.tracker.call("double SetState", obj.emu.current_irql());
    STATUS_SUCCESS
}

struct VecSink<'a>(&'a mut Vec<u8>);
impl ByteSink for VecSink<'_> {
    fn write(&mut self, bytes: &[u8]) {
        self.0.extend_from_slice(bytes);
    }
}

/// # Safety
/// Vtable slot; `chain` null or a chain from the stream's allocator, given to us.
unsafe extern "system" fn put_message(this: *mut IMxf, chain: *mut DmusKernelEvent) -> NtStatus {
    // SAFETY: `this` is a live `StreamObj`.
    let obj = unsafe { object::<StreamObj>(this.cast()) };
    if obj.capture {
        obj.tracker
            .call("double capture PutMessage", obj.emu.current_irql());
        // SAFETY: a chain given to a capture stream goes back to its allocator.
        unsafe { obj.alloc.put_message(chain) };
        let bytes = std::mem::take(&mut *lock(&obj.cable));
        let now = obj.clock.get_time().unwrap_or(0);
        let out = lock(&obj.packager).feed(&bytes, now);
        match lock(&obj.sink).as_ref() {
            // SAFETY: the sink returns the events to the port allocator they came from.
            Some(sink) => unsafe {
                out.deliver(sink);
            },
            None => drop(out),
        }
        return STATUS_SUCCESS;
    }
    obj.tracker
        .call("double render PutMessage", obj.emu.current_irql());
    {
        let mut cable = lock(&obj.cable);
        // SAFETY: the chain is ours and unmodified while walked.
        let mut cursor = unsafe { ChainCursor::new(chain) };
        let mut ser = lock(&obj.serializer);
        while ser.write_chain(&mut cursor, 1 << 20, &mut VecSink(&mut cable))
            == mxf_core::serialize::Progress::More
        {}
    }
    // SAFETY: render chains come from the stream's (the port's) allocator; packages go back
    // detached, as the port's allocator rules require.
    unsafe { mxf_core::render::return_events(&obj.alloc, chain, 1 << 20) };
    if let (Some(port), Some(group)) = (&obj.port, &obj.group) {
        port.notify(group);
    }
    STATUS_SUCCESS
}

/// # Safety
/// Vtable slot.
unsafe extern "system" fn connect_output(this: *mut IMxf, sink: *mut IMxf) -> NtStatus {
    // SAFETY: `this` is a live `StreamObj`.
    let obj = unsafe { object::<StreamObj>(this.cast()) };
    let Some(sink) = NonNull::new(sink) else {
        return STATUS_INVALID_PARAMETER;
    };
    // SAFETY: a live sink; we keep our own reference.
    *lock(&obj.sink) = Some(unsafe { ComPtr::from_raw_add_ref(sink) });
    STATUS_SUCCESS
}

/// # Safety
/// Vtable slot.
unsafe extern "system" fn disconnect_output(this: *mut IMxf, _sink: *mut IMxf) -> NtStatus {
    // SAFETY: `this` is a live `StreamObj`.
    let obj = unsafe { object::<StreamObj>(this.cast()) };
    drop(lock(&obj.sink).take());
    STATUS_SUCCESS
}

/// The double's handle: the miniport interface plus its own call tracker.
pub struct DoubleMiniport {
    /// The miniport (give it to [`crate::Port::new`]).
    pub miniport: ComPtr<IMiniportDMus>,
    /// Calls into the double and its live objects.
    pub tracker: Arc<Tracker>,
}

/// Creates the test-double miniport on `emu`.
pub fn new_double_miniport(emu: Emu) -> DoubleMiniport {
    let tracker = Tracker::new();
    let obj = MiniportObj {
        vtbl: &MINIPORT_VTBL,
        refs: RefCount::new(),
        emu,
        wiring: Arc::new(Mutex::new(Wiring::default())),
        cable: Arc::new(Mutex::new(Vec::new())),
        live: tracker.born("double miniport"),
        tracker: Arc::clone(&tracker),
    };
    // SAFETY: the vtable is an IMiniportDMusVtbl.
    let miniport = unsafe { into_com(obj) };
    DoubleMiniport { miniport, tracker }
}
