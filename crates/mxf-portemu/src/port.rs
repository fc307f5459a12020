//! [`Port`]: the DMus port (`IPortDMus`) as PortCls plays it, over the host emulator.
//!
//! # What runs where (the IRQLs PortCls uses)
//! | step | caller's IRQL |
//! |---|---|
//! | `IMiniportDMus::Init`, `GetDescription`, `DataRangeIntersection`, `NewStream`, `IMXF::SetState`, `ConnectOutput`/`DisconnectOutput`, `IServiceGroup::AddMember`/`RemoveMember`, every final `Release` | `PASSIVE_LEVEL` (KS property/create/close IRPs) |
//! | render `IMXF::PutMessage(chain)` | `DISPATCH_LEVEL`: the port's sequencer timer DPC (the documented IRQL of `PutMessage`), at presentation time minus the stream's `SchedulePreFetch` |
//! | `IPortDMus::Notify(group)` | whatever the miniport calls it at (<= `DISPATCH_LEVEL`); it only queues the port's DPC, which runs [`PortConfig::dpc_latency_100ns`] later |
//! | the port's DPC: the group's `RequestService` → the port's `IServiceSink::RequestService` → capture `IMXF::PutMessage(NULL)` | `DISPATCH_LEVEL` |
//! | capture sink `PutMessage(chain)` (from the capture stream) | `DISPATCH_LEVEL` in the DPC (recorded, whatever it is) |
//!
//! The DPCs are emulator timers, so they run inside [`mxf_kemu::Emu::advance_time`]: the
//! caller drives emulated time, as the real clock drives the real port.

use crate::alloc_guard::{ContractCounters, ContractStats, ContractWatch, guard_refs, new_guard};
use crate::clock::new_master_clock;
use crate::com::{BoxObject, into_com, object, unknown_vtbl};
use crate::describe::{FilterInfo, client_midi_range, validate};
use crate::render::{Building, Packaging, RenderStats, RenderUnit, build_unit};
use crate::retag::PortPlatform;
use crate::sink::{CaptureLog, lock, new_capture_sink};
use crate::tracker::{LiveGuard, Tracker};
use core::ffi::c_void;
use mxf_abi::{
    DmusStreamType, Guid, IAllocatorMxf, IID_IPORT, IID_IPORT_DMUS, IID_ISERVICE_SINK,
    IID_IUNKNOWN, IMasterClock, IMiniport, IMiniportDMus, IMiniportDMusVtbl, IMxf, IPort,
    IPortDMus, IPortDMusVtbl, IPortVtbl, IServiceGroup, IServiceGroupVtbl, IServiceSink,
    IServiceSinkVtbl, IUnknown, KsDataFormat, KsDataRange, KsState, NtStatus, PDeviceObject, PIrp,
    PResourceList, PcFilterDescriptorPtr, PoolType, STATUS_BUFFER_OVERFLOW,
    STATUS_INVALID_DEVICE_REQUEST, STATUS_NOT_IMPLEMENTED, STATUS_SUCCESS, nt_success,
};
use mxf_core::alloc::{Allocator, AllocatorConfig, AllocatorStats, new_allocator};
use mxf_core::com::{ComPtr, RefCount};
use mxf_core::platform::{PASSIVE_LEVEL, Platform, Timer};
use mxf_kemu::{Emu, EmuTimer};
use std::collections::VecDeque;
use std::fmt;
use std::ptr::{self, NonNull};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};

/// How the port emulator is set up.
#[derive(Clone, Copy, Debug)]
pub struct PortConfig {
    /// The port's allocator (our allocator under `Prt*` pool tags, pre-filled).
    pub allocator: AllocatorConfig,
    /// How render chains are grouped.
    pub packaging: Packaging,
    /// Time from `IPortDMus::Notify` to the port's DPC running (100 ns units): a real system
    /// takes tens of microseconds from a miniport's notification to the DPC that services
    /// it. Notifications while the DPC is pending join it.
    pub dpc_latency_100ns: i64,
}

/// [`PortConfig::dpc_latency_100ns`]'s default: 50 µs.
pub const DEFAULT_DPC_LATENCY_100NS: i64 = 500;

impl Default for PortConfig {
    fn default() -> Self {
        Self {
            allocator: AllocatorConfig {
                reserve_events: 1024,
                reserve_buffers: 64,
                max_events: 1 << 20,
                max_buffers: 4096,
                ..AllocatorConfig::DEFAULT
            },
            packaging: Packaging::Mixed,
            dpc_latency_100ns: DEFAULT_DPC_LATENCY_100NS,
        }
    }
}

/// A failed port operation: which step, and the status.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PortError {
    /// The step that failed.
    pub step: &'static str,
    /// The NTSTATUS (or `STATUS_UNSUCCESSFUL` for a contract violation).
    pub status: NtStatus,
    /// Details.
    pub detail: String,
}

impl fmt::Display for PortError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} failed: {:#010x}", self.step, self.status as u32)?;
        if !self.detail.is_empty() {
            write!(f, " ({})", self.detail)?;
        }
        Ok(())
    }
}

impl std::error::Error for PortError {}

fn err(step: &'static str, status: NtStatus, detail: impl Into<String>) -> PortError {
    PortError {
        step,
        status,
        detail: detail.into(),
    }
}

fn check(step: &'static str, status: NtStatus) -> Result<(), PortError> {
    if nt_success(status) {
        Ok(())
    } else {
        Err(err(step, status, ""))
    }
}

/// Render units waiting for their time, with their sequence numbers.
#[derive(Default)]
struct RenderQueue {
    units: VecDeque<(u64, RenderUnit)>,
    next_seq: u64,
    dropped: Vec<u64>,
}

/// State shared by the port object, its service sink, its DPCs and the [`Port`] handle.
struct Shared {
    emu: Emu,
    tracker: Arc<Tracker>,
    alloc: ComPtr<IAllocatorMxf>,
    /// `alloc` behind the contract guard: what the streams get, and what the port builds
    /// render events from (so they carry the port's mark too).
    client_alloc: ComPtr<IAllocatorMxf>,
    contract: Arc<ContractCounters>,
    buffer_size: usize,
    packaging: Packaging,
    dpc_latency: i64,
    /// Groups notified and not yet serviced by the DPC (each holds a reference).
    pending: Mutex<Vec<ComPtr<IServiceGroup>>>,
    dpc: Mutex<Option<EmuTimer>>,
    sequencer: Mutex<Option<EmuTimer>>,
    capture_streams: Mutex<Vec<ComPtr<IMxf>>>,
    render_stream: Mutex<Option<ComPtr<IMxf>>>,
    prefetch: AtomicU64,
    render: Mutex<RenderQueue>,
    render_stats: Mutex<RenderStats>,
    unit_count: AtomicU64,
    notifies: AtomicU64,
    dpc_runs: AtomicU64,
    services: AtomicU64,
    /// Groups given to `RegisterServiceGroup` and not yet joined by the port's sink.
    registered: Mutex<Vec<ComPtr<IServiceGroup>>>,
}

/// Counters of the port's own machinery.
#[derive(Clone, Copy, Default, PartialEq, Eq, Debug)]
pub struct PortStats {
    /// `IPortDMus::Notify` calls.
    pub notifies: u64,
    /// Runs of the notify DPC.
    pub dpc_runs: u64,
    /// `RequestService` calls on the port's service sink.
    pub services: u64,
    /// `SchedulePreFetch` the render stream asked for (100 ns).
    pub render_prefetch_100ns: u64,
}

// ---------------------------------------------------------------------------------------
// The IPortDMus object.

#[repr(C)]
struct PortObj {
    vtbl: &'static IPortDMusVtbl,
    refs: RefCount,
    shared: Arc<Shared>,
    live: LiveGuard,
}

// SAFETY: `#[repr(C)]`, vtable first, built with `unknown_vtbl!(PortObj)`; IPortDMus
// derives from IPort, both at offset 0.
unsafe impl BoxObject for PortObj {
    fn refs(&self) -> &RefCount {
        &self.refs
    }
    fn supports(iid: &Guid) -> bool {
        *iid == IID_IUNKNOWN || *iid == IID_IPORT || *iid == IID_IPORT_DMUS
    }
}

static PORT_VTBL: IPortDMusVtbl = IPortDMusVtbl {
    base: IPortVtbl {
        base: unknown_vtbl!(PortObj),
        init: port_init,
        get_device_property,
        new_registry_key,
    },
    notify,
    register_service_group,
};

/// # Safety
/// Vtable slot; `this` is a live port.
unsafe extern "system" fn port_init(
    _this: *mut IPort,
    _device: PDeviceObject,
    _irp: PIrp,
    _miniport: *mut IUnknown,
    _adapter: *mut IUnknown,
    _resources: PResourceList,
) -> NtStatus {
    // `Port::new` has already done what IPort::Init does.
    STATUS_INVALID_DEVICE_REQUEST
}

/// # Safety
/// Vtable slot; `this` is a live port.
unsafe extern "system" fn get_device_property(
    _this: *mut IPort,
    _property: i32,
    _len: u32,
    _buffer: *mut c_void,
    result_length: *mut u32,
) -> NtStatus {
    if !result_length.is_null() {
        // SAFETY: a non-null out parameter of the caller.
        unsafe { result_length.write(0) };
    }
    STATUS_NOT_IMPLEMENTED
}

/// # Safety
/// Vtable slot; `this` is a live port.
#[allow(clippy::too_many_arguments)]
unsafe extern "system" fn new_registry_key(
    _this: *mut IPort,
    out_key: *mut *mut c_void,
    _outer: *mut IUnknown,
    _key_type: u32,
    _access: u32,
    _attributes: *mut c_void,
    _create_options: u32,
    _disposition: *mut u32,
) -> NtStatus {
    if !out_key.is_null() {
        // SAFETY: a non-null out parameter of the caller.
        unsafe { out_key.write(ptr::null_mut()) };
    }
    STATUS_NOT_IMPLEMENTED
}

/// # Safety
/// Vtable slot; `this` is a live port, `group` null or a live group.
unsafe extern "system" fn notify(this: *mut IPortDMus, group: *mut IServiceGroup) {
    // SAFETY: `this` is a live `PortObj`.
    let obj = unsafe { object::<PortObj>(this.cast()) };
    let s = &obj.shared;
    s.tracker.call("IPortDMus::Notify", s.emu.current_irql());
    s.notifies.fetch_add(1, Relaxed);
    let Some(group) = NonNull::new(group) else {
        return;
    };
    {
        let mut pending = lock(&s.pending);
        if !pending.iter().any(|g| g.as_raw() == group.as_ptr()) {
            // SAFETY: a live group passed by the caller; we take our own reference.
            pending.push(unsafe { ComPtr::from_raw_add_ref(group) });
        }
    }
    if let Some(t) = lock(&s.dpc).as_ref()
        && t.due().is_none()
    {
        t.set(s.emu.now_100ns().saturating_add(s.dpc_latency));
    }
}

/// # Safety
/// Vtable slot; `this` is a live port, `group` null or a live group.
unsafe extern "system" fn register_service_group(this: *mut IPortDMus, group: *mut IServiceGroup) {
    // SAFETY: `this` is a live `PortObj`.
    let obj = unsafe { object::<PortObj>(this.cast()) };
    let s = &obj.shared;
    s.tracker
        .call("IPortDMus::RegisterServiceGroup", s.emu.current_irql());
    if let Some(g) = NonNull::new(group) {
        // SAFETY: a live group passed by the caller; we take our own reference.
        lock(&s.registered).push(unsafe { ComPtr::from_raw_add_ref(g) });
    }
}

/// The notify DPC: services every group notified since the last run.
///
/// # Safety
/// `ctx` is the `Shared` the timer was created with, alive until the timer is dropped.
unsafe fn notify_dpc(ctx: *const c_void) {
    // SAFETY: per the timer's creation in `Port::new`.
    let s = unsafe { &*ctx.cast::<Shared>() };
    s.dpc_runs.fetch_add(1, Relaxed);
    let groups = std::mem::take(&mut *lock(&s.pending));
    for g in &groups {
        s.tracker.call(
            "IServiceGroup::RequestService (port DPC)",
            s.emu.current_irql(),
        );
        g.request_service();
    }
}

// ---------------------------------------------------------------------------------------
// The port's IServiceSink.

#[repr(C)]
struct ServiceSinkObj {
    vtbl: &'static IServiceSinkVtbl,
    refs: RefCount,
    shared: Arc<Shared>,
    live: LiveGuard,
}

// SAFETY: `#[repr(C)]`, vtable first, built with `unknown_vtbl!(ServiceSinkObj)`.
unsafe impl BoxObject for ServiceSinkObj {
    fn refs(&self) -> &RefCount {
        &self.refs
    }
    fn supports(iid: &Guid) -> bool {
        *iid == IID_IUNKNOWN || *iid == IID_ISERVICE_SINK
    }
}

static SERVICE_SINK_VTBL: IServiceSinkVtbl = IServiceSinkVtbl {
    base: unknown_vtbl!(ServiceSinkObj),
    request_service,
};

/// # Safety
/// Vtable slot; `this` is a live service sink.
unsafe extern "system" fn request_service(this: *mut IServiceSink) {
    // SAFETY: `this` is a live `ServiceSinkObj`.
    let obj = unsafe { object::<ServiceSinkObj>(this.cast()) };
    let s = &obj.shared;
    s.services.fetch_add(1, Relaxed);
    s.tracker
        .call("IServiceSink::RequestService (port)", s.emu.current_irql());
    // The streams stay referenced by the port until close, which happens at PASSIVE_LEVEL
    // outside any DPC: the raw pointers below outlive this call.
    let streams: Vec<*mut IMxf> = lock(&s.capture_streams)
        .iter()
        .map(|c| c.as_raw())
        .collect();
    for st in streams {
        s.tracker
            .call("capture IMXF::PutMessage(NULL)", s.emu.current_irql());
        // SAFETY: a live capture stream (see above); a null chain transfers nothing.
        unsafe { ((*(*st).vtbl).put_message)(st, ptr::null_mut()) };
    }
}

// ---------------------------------------------------------------------------------------
// The render sequencer.

/// The sequencer DPC: sends every unit due within the prefetch window, then re-arms.
///
/// # Safety
/// As [`notify_dpc`].
unsafe fn sequencer_dpc(ctx: *const c_void) {
    // SAFETY: per the timer's creation in `Port::open_render`.
    let s = unsafe { &*ctx.cast::<Shared>() };
    s.pump_render();
}

impl Shared {
    fn pump_render(&self) {
        let now = self.emu.now_100ns();
        let prefetch = self.prefetch.load(Relaxed) as i64;
        let Some(stream) = lock(&self.render_stream).as_ref().map(|c| c.as_raw()) else {
            return;
        };
        loop {
            // One chain per presentation time: the units due at the same moment.
            let batch: Vec<(u64, RenderUnit)> = {
                let mut q = lock(&self.render);
                let Some(t0) = q.units.front().map(|(_, u)| u.time) else {
                    break;
                };
                if t0.saturating_sub(prefetch) > now {
                    break;
                }
                let mut b = Vec::new();
                while q.units.front().is_some_and(|(_, u)| u.time == t0) {
                    b.extend(q.units.pop_front());
                }
                b
            };
            let mut chain = Building::new();
            let mut stats = lock(&self.render_stats);
            for (seq, unit) in &batch {
                let packaged = match self.packaging {
                    Packaging::Flat => false,
                    Packaging::Packages => true,
                    Packaging::Mixed => self.unit_count.fetch_add(1, Relaxed) % 2 == 1,
                };
                match build_unit(
                    &self.client_alloc,
                    self.buffer_size,
                    unit,
                    packaged,
                    &mut stats,
                ) {
                    Ok(b) => {
                        chain.append(b);
                        stats.units_sent += 1;
                        stats.bytes_sent += unit.bytes.len() as u64;
                    }
                    Err(partial) => {
                        // SAFETY: events (and buffers) just taken from the port allocator.
                        unsafe { self.client_alloc.put_message(partial.into_raw()) };
                        stats.units_dropped_no_memory += 1;
                        stats.bytes_dropped += unit.bytes.len() as u64;
                        lock(&self.render).dropped.push(*seq);
                    }
                }
            }
            if chain.is_empty() {
                continue;
            }
            stats.chains += 1;
            let late = batch
                .first()
                .map(|(_, u)| now.saturating_sub(u.time).max(0) / 10)
                .unwrap_or(0) as u64;
            stats.max_send_lateness_us = stats.max_send_lateness_us.max(late);
            drop(stats);
            self.tracker
                .call("render IMXF::PutMessage", self.emu.current_irql());
            // SAFETY: `stream` is the live render stream (released only at close, at
            // PASSIVE_LEVEL, after the sequencer timer is gone); the chain is ours to give.
            let st = unsafe { ((*(*stream).vtbl).put_message)(stream, chain.into_raw()) };
            if !nt_success(st) {
                lock(&self.render_stats).put_errors += 1;
            }
        }
        self.arm_sequencer(prefetch);
    }

    fn arm_sequencer(&self, prefetch: i64) {
        let next = lock(&self.render).units.front().map(|(_, u)| u.time);
        if let (Some(t), Some(timer)) = (next, lock(&self.sequencer).as_ref()) {
            timer.set(t.saturating_sub(prefetch));
        }
    }
}

// ---------------------------------------------------------------------------------------
// The handle.

struct OpenStream {
    stream: ComPtr<IMxf>,
    group: Option<ComPtr<IServiceGroup>>,
    /// The format given to NewStream, kept alive for the stream's life.
    _format: Box<KsDataFormat>,
}

/// The DMus port with one miniport: what `PcNewPort(CLSID_PortDMus)` + `IPort::Init` build,
/// plus the pins KS instantiates on it. Close with [`Port::close`].
pub struct Port {
    emu: Emu,
    shared: Arc<Shared>,
    tracker: Arc<Tracker>,
    port: Option<ComPtr<IPortDMus>>,
    miniport: Option<ComPtr<IMiniportDMus>>,
    group: Option<ComPtr<IServiceGroup>>,
    /// Groups registered with `RegisterServiceGroup` that the port's sink joined.
    joined: Vec<ComPtr<IServiceGroup>>,
    service_sink: Option<ComPtr<IServiceSink>>,
    clock: Option<ComPtr<IMasterClock>>,
    capture_sink: Option<ComPtr<IMxf>>,
    capture_log: Arc<Mutex<CaptureLog>>,
    info: FilterInfo,
    render: Option<OpenStream>,
    capture: Option<OpenStream>,
    closed: bool,
}

/// What [`Port::close`] found.
#[derive(Clone, Debug)]
pub struct CloseReport {
    /// The port allocator's counters just before its last reference was dropped.
    pub allocator: Option<AllocatorStats>,
    /// The port allocator's reference count held by others at that point (should be 0).
    pub allocator_refs_left: u32,
    /// Live emulator COM objects after close, by kind (all zero when references balance).
    pub live_objects: Vec<(&'static str, i64)>,
    /// Render units still queued at close.
    pub render_discarded: u64,
    /// The miniport's breaches of the allocator rules (close fails when any).
    pub contract: ContractStats,
}

impl Port {
    /// `PcNewPort` + `IPort::Init` with the default [`PortConfig`]. `PASSIVE_LEVEL`.
    pub fn new(emu: Emu, miniport: ComPtr<IMiniportDMus>) -> Result<Port, PortError> {
        Self::with_config(emu, miniport, PortConfig::default())
    }

    /// As [`Port::new`] with `cfg`.
    pub fn with_config(
        emu: Emu,
        miniport: ComPtr<IMiniportDMus>,
        cfg: PortConfig,
    ) -> Result<Port, PortError> {
        let tracker = Tracker::new();
        if emu.current_irql() != PASSIVE_LEVEL {
            return Err(err(
                "Port::new",
                STATUS_INVALID_DEVICE_REQUEST,
                "not at PASSIVE_LEVEL",
            ));
        }
        // The port takes the miniport as an IUnknown and asks it for IMiniportDMus.
        // SAFETY: IMiniportDMus derives from IUnknown.
        let unknown: ComPtr<IUnknown> = unsafe { miniport.upcast() };
        drop(miniport);
        let miniport: ComPtr<IMiniportDMus> = unknown
            .query()
            .map_err(|s| err("QueryInterface(IID_IMiniportDMus)", s, ""))?;
        drop(unknown);
        let alloc = new_allocator(PortPlatform::new(emu.clone()), cfg.allocator)
            .map_err(|s| err("port allocator", s, ""))?;
        let contract = Arc::new(ContractCounters::default());
        let client_alloc = new_guard(&alloc, Arc::clone(&contract));
        let shared = Arc::new(Shared {
            emu: emu.clone(),
            tracker: Arc::clone(&tracker),
            buffer_size: usize::from(alloc.buffer_size()),
            alloc,
            client_alloc,
            contract,
            packaging: cfg.packaging,
            dpc_latency: cfg.dpc_latency_100ns.max(0),
            pending: Mutex::new(Vec::new()),
            dpc: Mutex::new(None),
            sequencer: Mutex::new(None),
            capture_streams: Mutex::new(Vec::new()),
            render_stream: Mutex::new(None),
            prefetch: AtomicU64::new(0),
            render: Mutex::new(RenderQueue::default()),
            render_stats: Mutex::new(RenderStats::default()),
            unit_count: AtomicU64::new(0),
            notifies: AtomicU64::new(0),
            dpc_runs: AtomicU64::new(0),
            services: AtomicU64::new(0),
            registered: Mutex::new(Vec::new()),
        });
        // SAFETY: the context is `shared`, which `Port` keeps alive until the timer is
        // dropped in `close`; `notify_dpc` only reads through `&Shared`.
        let dpc = unsafe { emu.new_timer(notify_dpc, Arc::as_ptr(&shared).cast()) }
            .map_err(|s| err("KeInitializeDpc (notify)", s, ""))?;
        *lock(&shared.dpc) = Some(dpc);
        let port: ComPtr<IPortDMus> = {
            let obj = PortObj {
                vtbl: &PORT_VTBL,
                refs: RefCount::new(),
                shared: Arc::clone(&shared),
                live: tracker.born("IPortDMus"),
            };
            // SAFETY: the vtable is an IPortDMusVtbl.
            unsafe { into_com(obj) }
        };
        let service_sink: ComPtr<IServiceSink> = {
            let obj = ServiceSinkObj {
                vtbl: &SERVICE_SINK_VTBL,
                refs: RefCount::new(),
                shared: Arc::clone(&shared),
                live: tracker.born("IServiceSink"),
            };
            // SAFETY: the vtable is an IServiceSinkVtbl.
            unsafe { into_com(obj) }
        };
        let capture_log = Arc::new(Mutex::new(CaptureLog::default()));
        let mut this = Port {
            clock: Some(new_master_clock(emu.clone(), &tracker)),
            capture_sink: Some(new_capture_sink(
                emu.clone(),
                // Through the guard: the events it frees were the miniport's, so their
                // port-only fields are checked there.
                &shared.client_alloc,
                Arc::clone(&capture_log),
                tracker.born("capture sink IMXF"),
            )),
            emu,
            shared,
            tracker,
            port: Some(port),
            miniport: Some(miniport),
            group: None,
            joined: Vec::new(),
            service_sink: Some(service_sink),
            capture_log,
            info: FilterInfo {
                pin_count: 0,
                render_pin: None,
                capture_pin: None,
                ranges: Vec::new(),
            },
            render: None,
            capture: None,
            closed: false,
        };
        this.init()?;
        Ok(this)
    }

    fn mp_vtbl(&self) -> (&IMiniportDMusVtbl, *mut IMiniportDMus) {
        let mp = self
            .miniport
            .as_ref()
            .map(|m| m.as_raw())
            .unwrap_or(ptr::null_mut());
        // SAFETY: the miniport is live while `self.miniport` holds it (it does until close,
        // and this is never called after); its vtable is an IMiniportDMusVtbl.
        (unsafe { &*(*mp).vtbl }, mp)
    }

    fn irql(&self) -> u8 {
        self.emu.current_irql()
    }

    fn init(&mut self) -> Result<(), PortError> {
        let (v, mp) = self.mp_vtbl();
        let (init_fn, describe_fn) = (v.init, v.base.get_description);
        let port = self
            .port
            .as_ref()
            .map(|p| p.as_raw())
            .unwrap_or(ptr::null_mut());
        let mut group: *mut IServiceGroup = ptr::null_mut();
        self.tracker.call("IMiniportDMus::Init", self.irql());
        // SAFETY: live miniport; adapter and resources are NULL (a virtual device), `port`
        // is our live port, `group` a valid out parameter.
        let st = unsafe { init_fn(mp, ptr::null_mut(), ptr::null_mut(), port, &mut group) };
        // The out group carries a reference for the port, success or not.
        // SAFETY: a non-null group returned by Init is a live group with one reference for us.
        self.group = NonNull::new(group).map(|g| unsafe { ComPtr::from_raw(g) });
        check("IMiniportDMus::Init", st)?;
        if let Some(g) = &self.group {
            self.add_member(g)?;
        }
        let mut desc: PcFilterDescriptorPtr = ptr::null();
        self.tracker.call("IMiniport::GetDescription", self.irql());
        // SAFETY: live miniport; `desc` is a valid out parameter.
        let st = unsafe { describe_fn(mp.cast::<IMiniport>(), &mut desc) };
        check("IMiniport::GetDescription", st)?;
        // SAFETY: a descriptor from GetDescription is static data of the miniport's.
        self.info = unsafe { validate(desc) }
            .map_err(|d| err("filter descriptor", mxf_abi::STATUS_UNSUCCESSFUL, d))?;
        self.join_registered()
    }

    /// Adds the port's sink to groups the miniport registered (at `PASSIVE_LEVEL`, after
    /// the call that registered them returned).
    fn join_registered(&mut self) -> Result<(), PortError> {
        let new = std::mem::take(&mut *lock(&self.shared.registered));
        for g in new {
            self.add_member(&g)?;
            self.joined.push(g);
        }
        Ok(())
    }

    fn add_member(&self, g: &ComPtr<IServiceGroup>) -> Result<(), PortError> {
        let sink = self
            .service_sink
            .as_ref()
            .map(|s| s.as_raw())
            .unwrap_or(ptr::null_mut());
        self.tracker.call("IServiceGroup::AddMember", self.irql());
        // SAFETY: a live group; its vtable is an IServiceGroupVtbl; `sink` is live.
        let st = unsafe {
            let v = &*(*g.as_raw()).vtbl.cast::<IServiceGroupVtbl>();
            (v.add_member)(g.as_raw(), sink)
        };
        check("IServiceGroup::AddMember", st)
    }

    fn remove_member(&self, g: &ComPtr<IServiceGroup>) {
        let sink = self
            .service_sink
            .as_ref()
            .map(|s| s.as_raw())
            .unwrap_or(ptr::null_mut());
        self.tracker
            .call("IServiceGroup::RemoveMember", self.irql());
        // SAFETY: as in `add_member`.
        unsafe {
            let v = &*(*g.as_raw()).vtbl.cast::<IServiceGroupVtbl>();
            (v.remove_member)(g.as_raw(), sink)
        };
    }

    /// What the port learned from the filter descriptor.
    pub fn filter_info(&self) -> &FilterInfo {
        &self.info
    }

    /// The emulator.
    pub fn emu(&self) -> &Emu {
        &self.emu
    }

    /// The calls and live objects of the emulated port.
    pub fn tracker(&self) -> &Arc<Tracker> {
        &self.tracker
    }

    /// The miniport (for its own statistics).
    pub fn miniport(&self) -> Option<&ComPtr<IMiniportDMus>> {
        self.miniport.as_ref()
    }

    /// The render stream, while open.
    pub fn render_stream(&self) -> Option<&ComPtr<IMxf>> {
        self.render.as_ref().map(|r| &r.stream)
    }

    /// The capture stream, while open.
    pub fn capture_stream(&self) -> Option<&ComPtr<IMxf>> {
        self.capture.as_ref().map(|c| &c.stream)
    }

    /// The port's allocator.
    pub fn allocator(&self) -> &ComPtr<IAllocatorMxf> {
        &self.shared.alloc
    }

    /// The port allocator's counters.
    pub fn allocator_stats(&self) -> Option<AllocatorStats> {
        Allocator::from_com(&self.shared.alloc).map(|a| a.stats())
    }

    /// The miniport's breaches of the allocator rules, readable after close too.
    pub fn contract_watch(&self) -> ContractWatch {
        ContractWatch(Arc::clone(&self.shared.contract))
    }

    /// The port's own counters.
    pub fn stats(&self) -> PortStats {
        let s = &self.shared;
        PortStats {
            notifies: s.notifies.load(Relaxed),
            dpc_runs: s.dpc_runs.load(Relaxed),
            services: s.services.load(Relaxed),
            render_prefetch_100ns: s.prefetch.load(Relaxed),
        }
    }

    /// The render source's counters.
    pub fn render_stats(&self) -> RenderStats {
        *lock(&self.shared.render_stats)
    }

    /// Sequence numbers (in queueing order, from 0) of render units dropped for want of
    /// port-allocator memory.
    pub fn render_dropped_units(&self) -> Vec<u64> {
        lock(&self.shared.render).dropped.clone()
    }

    /// Render units still waiting for their time.
    pub fn render_backlog(&self) -> usize {
        lock(&self.shared.render).units.len()
    }

    /// The capture sink's log itself (still readable after [`Port::close`], which closes
    /// the assembler so that a SysEx left open appears as truncated).
    pub fn capture_log(&self) -> Arc<Mutex<CaptureLog>> {
        Arc::clone(&self.capture_log)
    }

    /// Runs `f` over what the capture sink collected so far.
    pub fn with_capture<R>(&self, f: impl FnOnce(&mut CaptureLog) -> R) -> R {
        f(&mut lock(&self.capture_log))
    }

    /// KS pin instantiation: data-range intersection on the pin, then `NewStream`.
    fn open(&mut self, pin: u32, kind: DmusStreamType) -> Result<OpenStream, PortError> {
        let format = Box::new(self.intersect(pin)?);
        let (v, mp) = self.mp_vtbl();
        let mut stream: *mut IMxf = ptr::null_mut();
        let mut group: *mut IServiceGroup = ptr::null_mut();
        let mut prefetch: u64 = 0;
        let alloc = self.shared.client_alloc.as_raw();
        let clock = self
            .clock
            .as_ref()
            .map(|c| c.as_raw())
            .unwrap_or(ptr::null_mut());
        let fmt_ptr = ptr::from_ref::<KsDataFormat>(&format).cast_mut();
        self.tracker.call("IMiniportDMus::NewStream", self.irql());
        // SAFETY: live miniport; every pointer argument is valid for the call (the format
        // lives in `format`, kept with the stream), the out parameters are ours.
        let st = unsafe {
            (v.new_stream)(
                mp,
                &mut stream,
                ptr::null_mut(),
                PoolType::NON_PAGED_NX,
                pin,
                kind,
                fmt_ptr,
                &mut group,
                alloc,
                clock,
                &mut prefetch,
            )
        };
        // SAFETY: a non-null group from NewStream carries one reference for us.
        let group = NonNull::new(group).map(|g| unsafe { ComPtr::from_raw(g) });
        // SAFETY: a non-null stream from NewStream carries one reference for us.
        let stream = NonNull::new(stream).map(|s| unsafe { ComPtr::from_raw(s) });
        check("IMiniportDMus::NewStream", st)?;
        let stream = stream.ok_or(err(
            "IMiniportDMus::NewStream",
            mxf_abi::STATUS_UNSUCCESSFUL,
            "success without a stream",
        ))?;
        if kind == DmusStreamType::MIDI_RENDER {
            self.shared.prefetch.store(prefetch, Relaxed);
        }
        let group = match group {
            Some(g) if self.group.as_ref().map(|x| x.as_raw()) != Some(g.as_raw()) => {
                self.add_member(&g)?;
                Some(g)
            }
            // The stream's group is the miniport's (already a member), or none.
            other => other,
        };
        Ok(OpenStream {
            stream,
            group,
            _format: format,
        })
    }

    fn intersect(&self, pin: u32) -> Result<KsDataFormat, PortError> {
        let ranges = self
            .info
            .ranges
            .get(pin as usize)
            .cloned()
            .unwrap_or_default();
        let (v, mp) = self.mp_vtbl();
        let mut client = client_midi_range();
        let client_ptr = ptr::from_mut(&mut client).cast::<KsDataRange>();
        for r in ranges {
            let mut len: u32 = 0;
            self.tracker
                .call("IMiniport::DataRangeIntersection", self.irql());
            // Size query first, as KS does for a zero-length output buffer.
            // SAFETY: live miniport; the ranges are the descriptor's own; `len` is ours.
            let st = unsafe {
                (v.base.data_range_intersection)(
                    mp.cast(),
                    pin,
                    client_ptr,
                    r.cast_mut(),
                    0,
                    ptr::null_mut(),
                    &mut len,
                )
            };
            if st == STATUS_NOT_IMPLEMENTED {
                // PortCls's default intersection: the matching range itself as the format.
                // SAFETY: a range of the descriptor, readable (validated).
                let mut f = unsafe { *r };
                f.format_size = std::mem::size_of::<KsDataFormat>() as u32;
                return Ok(f);
            }
            if st != STATUS_BUFFER_OVERFLOW {
                continue;
            }
            let want = std::mem::size_of::<KsDataFormat>() as u32;
            if len < want {
                return Err(err(
                    "DataRangeIntersection",
                    mxf_abi::STATUS_UNSUCCESSFUL,
                    format!("size query answered {len} bytes"),
                ));
            }
            let mut out = vec![0u8; len as usize];
            let mut got: u32 = 0;
            // SAFETY: as above; `out` has `len` writable bytes.
            let st = unsafe {
                (v.base.data_range_intersection)(
                    mp.cast(),
                    pin,
                    client_ptr,
                    r.cast_mut(),
                    len,
                    out.as_mut_ptr().cast(),
                    &mut got,
                )
            };
            if st != STATUS_SUCCESS || got < want || got > len {
                return Err(err(
                    "DataRangeIntersection",
                    st,
                    format!("returned {got} bytes"),
                ));
            }
            // SAFETY: `out` holds at least 64 initialised bytes; read unaligned.
            let f: KsDataFormat = unsafe { ptr::read_unaligned(out.as_ptr().cast()) };
            if f.major_format != client.data_range.major_format
                || f.sub_format != client.data_range.sub_format
            {
                return Err(err(
                    "DataRangeIntersection",
                    mxf_abi::STATUS_UNSUCCESSFUL,
                    "resultant format is not MIDI",
                ));
            }
            return Ok(f);
        }
        Err(err(
            "DataRangeIntersection",
            mxf_abi::STATUS_NO_MATCH,
            format!("no range of pin {pin} intersects MIDI"),
        ))
    }

    fn set_states(&self, stream: &ComPtr<IMxf>, states: &[KsState]) -> Result<(), PortError> {
        for &s in states {
            self.tracker.call("IMXF::SetState", self.irql());
            check("IMXF::SetState", stream.set_state(s))?;
        }
        Ok(())
    }

    /// Opens the render pin: intersection, `NewStream(DMUS_STREAM_MIDI_RENDER)`, then
    /// ACQUIRE → PAUSE → RUN. `PASSIVE_LEVEL`.
    pub fn open_render(&mut self) -> Result<(), PortError> {
        let pin = self.info.render_pin.ok_or(err(
            "open_render",
            mxf_abi::STATUS_NOT_SUPPORTED,
            "no render pin",
        ))?;
        let s = self.open(pin, DmusStreamType::MIDI_RENDER)?;
        // SAFETY: the context is `shared`, kept alive by `self` until the timer is dropped
        // in `close`.
        let timer = unsafe {
            self.emu
                .new_timer(sequencer_dpc, Arc::as_ptr(&self.shared).cast())
        }
        .map_err(|st| err("KeInitializeTimer (sequencer)", st, ""))?;
        *lock(&self.shared.sequencer) = Some(timer);
        self.join_registered()?;
        self.set_states(&s.stream, &[KsState::ACQUIRE, KsState::PAUSE, KsState::RUN])?;
        *lock(&self.shared.render_stream) = Some(s.stream.clone());
        self.render = Some(s);
        self.shared
            .arm_sequencer(self.shared.prefetch.load(Relaxed) as i64);
        Ok(())
    }

    /// Opens the capture pin: intersection, `NewStream(DMUS_STREAM_MIDI_CAPTURE)`,
    /// `ConnectOutput(capture sink)`, then ACQUIRE → PAUSE → RUN. `PASSIVE_LEVEL`.
    pub fn open_capture(&mut self) -> Result<(), PortError> {
        let pin = self.info.capture_pin.ok_or(err(
            "open_capture",
            mxf_abi::STATUS_NOT_SUPPORTED,
            "no capture pin",
        ))?;
        let s = self.open(pin, DmusStreamType::MIDI_CAPTURE)?;
        if let Some(sink) = &self.capture_sink {
            self.tracker.call("IMXF::ConnectOutput", self.irql());
            check("IMXF::ConnectOutput", s.stream.connect_output(sink))?;
        }
        self.join_registered()?;
        lock(&self.shared.capture_streams).push(s.stream.clone());
        self.capture = Some(s);
        let stream = self.capture.as_ref().map(|c| c.stream.clone());
        if let Some(st) = stream {
            self.set_states(&st, &[KsState::ACQUIRE, KsState::PAUSE, KsState::RUN])?;
        }
        Ok(())
    }

    /// Queues client submissions for the render pin (in presentation-time order; a unit
    /// earlier than the last queued one is sent with it). Returns the sequence number of
    /// the first.
    pub fn queue_render(&self, units: impl IntoIterator<Item = RenderUnit>) -> u64 {
        let first;
        {
            let mut q = lock(&self.shared.render);
            first = q.next_seq;
            let mut n = 0;
            for mut u in units {
                if let Some((_, last)) = q.units.back() {
                    u.time = u.time.max(last.time);
                }
                let seq = q.next_seq;
                q.next_seq += 1;
                q.units.push_back((seq, u));
                n += 1;
            }
            lock(&self.shared.render_stats).units_queued += n;
        }
        self.shared
            .arm_sequencer(self.shared.prefetch.load(Relaxed) as i64);
        first
    }

    /// Tears everything down the way PortCls does when the pins and the filter close and
    /// the port is released. `PASSIVE_LEVEL`. Fails with the first failed step, or (step
    /// `"capture sink"`) if the capture sink received malformed events
    /// ([`crate::SinkStats::malformed_events`]): the miniport broke the port's contract.
    pub fn close(mut self) -> Result<CloseReport, PortError> {
        self.teardown()
    }

    fn teardown(&mut self) -> Result<CloseReport, PortError> {
        self.closed = true;
        let mut first_err: Option<PortError> = None;
        let mut keep = |r: Result<(), PortError>| {
            if let Err(e) = r {
                first_err.get_or_insert(e);
            }
        };
        let down = [KsState::PAUSE, KsState::ACQUIRE, KsState::STOP];
        // Render first: the sequencer stops before the stream goes.
        drop(lock(&self.shared.sequencer).take());
        let discarded = {
            let mut q = lock(&self.shared.render);
            let n = q.units.len() as u64;
            q.units.clear();
            n
        };
        lock(&self.shared.render_stats).units_discarded_at_close += discarded;
        if let Some(r) = self.render.take() {
            keep(self.set_states(&r.stream, &down));
            *lock(&self.shared.render_stream) = None;
            if let Some(g) = &r.group {
                self.remove_member(g);
            }
            drop(r);
        }
        if let Some(c) = self.capture.take() {
            keep(self.set_states(&c.stream, &down));
            if let Some(sink) = &self.capture_sink {
                self.tracker.call("IMXF::DisconnectOutput", self.irql());
                keep(check(
                    "IMXF::DisconnectOutput",
                    c.stream.disconnect_output(sink),
                ));
            }
            lock(&self.shared.capture_streams).clear();
            if let Some(g) = &c.group {
                self.remove_member(g);
            }
            drop(c);
        }
        // No DPC may run past this point.
        drop(lock(&self.shared.dpc).take());
        drop(std::mem::take(&mut *lock(&self.shared.pending)));
        if let Some(g) = self.group.take() {
            self.remove_member(&g);
            drop(g);
        }
        for g in std::mem::take(&mut self.joined) {
            self.remove_member(&g);
        }
        drop(std::mem::take(&mut *lock(&self.shared.registered)));
        self.tracker.call("IMiniportDMus::Release", self.irql());
        drop(self.miniport.take());
        drop(self.port.take());
        drop(self.service_sink.take());
        drop(self.clock.take());
        drop(self.capture_sink.take());
        let sink_stats = {
            let mut log = lock(&self.capture_log);
            log.assembler.finish();
            log.stats
        };
        if sink_stats.malformed_events > 0 && first_err.is_none() {
            first_err = Some(err(
                "capture sink",
                mxf_abi::STATUS_UNSUCCESSFUL,
                format!(
                    "{} malformed capture event(s), {} of them flagged COMPLETE without \
                     being exactly one whole message",
                    sink_stats.malformed_events, sink_stats.not_whole_message_events
                ),
            ));
        }
        let contract = self.shared.contract.stats();
        if contract != ContractStats::default() && first_err.is_none() {
            first_err = Some(err(
                "port allocator",
                mxf_abi::STATUS_UNSUCCESSFUL,
                format!(
                    "the miniport broke the allocator rules: {} event(s) returned with \
                     bReserved/cbStruct written, {} PutBuffer call(s)",
                    contract.reserved_writes, contract.put_buffer_calls
                ),
            ));
        }
        let allocator = self.allocator_stats();
        // The port holds one reference on the guard, and the guard and the port one each on
        // the allocator; anything above that is someone else's.
        let refs = Allocator::from_com(&self.shared.alloc).map_or(0, |a| a.ref_count());
        let guard_refs = guard_refs(&self.shared.client_alloc);
        let report = CloseReport {
            allocator,
            allocator_refs_left: refs.saturating_sub(2) + guard_refs.saturating_sub(1),
            contract,
            live_objects: self
                .tracker
                .live()
                .into_iter()
                .filter(|&(_, n)| n != 0)
                .collect(),
            render_discarded: discarded,
        };
        match first_err {
            Some(e) => Err(e),
            None => Ok(report),
        }
    }
}

impl Drop for Port {
    fn drop(&mut self) {
        if !self.closed {
            let _ = self.teardown();
        }
    }
}
