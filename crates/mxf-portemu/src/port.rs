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
use crate::describe::{Client, FilterInfo, client_range, validate};
use crate::property::{NodeAnswer, NodeRequest, node_property};
use crate::render::{Building, Packaging, RenderSourceStats, RenderUnit, build_unit};
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
    STATUS_BUFFER_TOO_SMALL, STATUS_INVALID_DEVICE_REQUEST, STATUS_NOT_IMPLEMENTED, STATUS_SUCCESS,
    nt_success,
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

fn err(step: &'static str, status: impl Into<NtStatus>, detail: impl Into<String>) -> PortError {
    PortError {
        step,
        status: status.into(),
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

/// Render units waiting for their time, with their sequence numbers (one sequence across
/// both clients), one queue per client ([`Client::index`]).
#[derive(Default)]
struct PendingUnits {
    units: [VecDeque<(u64, RenderUnit)>; 2],
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
    /// The render stream of each client ([`Client::index`]).
    render_streams: Mutex<[Option<ComPtr<IMxf>>; 2]>,
    /// The largest `SchedulePreFetch` the render streams asked for.
    prefetch: AtomicU64,
    render: Mutex<PendingUnits>,
    render_stats: Mutex<RenderSourceStats>,
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
    /// `SchedulePreFetch` the render streams asked for (the largest; 100 ns).
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
    const NAME: &'static str = "port";
    const IIDS: &'static [Guid] = &[IID_IUNKNOWN, IID_IPORT, IID_IPORT_DMUS];
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
    const NAME: &'static str = "service sink";
    const IIDS: &'static [Guid] = &[IID_IUNKNOWN, IID_ISERVICE_SINK];
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
        let prefetch = self.prefetch.load(Relaxed) as i64;
        for client in Client::ALL {
            let stream = lock(&self.render_streams)[client.index()]
                .as_ref()
                .map(|c| c.as_raw());
            if let Some(stream) = stream {
                self.pump_client(client.index(), stream, prefetch);
            }
        }
        self.arm_sequencer(prefetch);
    }

    /// Sends the due units of client `c` to its render stream `stream`.
    fn pump_client(&self, c: usize, stream: *mut IMxf, prefetch: i64) {
        let now = self.emu.now_100ns();
        loop {
            // One chain per presentation time: the units due at the same moment.
            let batch: Vec<(u64, RenderUnit)> = {
                let mut q = lock(&self.render);
                let Some(t0) = q.units[c].front().map(|(_, u)| u.time) else {
                    break;
                };
                if t0.saturating_sub(prefetch) > now {
                    break;
                }
                let mut b = Vec::new();
                while q.units[c].front().is_some_and(|(_, u)| u.time == t0) {
                    b.extend(q.units[c].pop_front());
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
    }

    fn arm_sequencer(&self, prefetch: i64) {
        let next = {
            let q = lock(&self.render);
            let streams = lock(&self.render_streams);
            Client::ALL
                .iter()
                .filter(|c| streams[c.index()].is_some())
                .filter_map(|c| q.units[c.index()].front().map(|(_, u)| u.time))
                .min()
        };
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

/// What a DirectMusic client learned from the Synth properties of its pin's node when it
/// opened the pin (each answer checked; see [`Port::open_render_as`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SynthHandshake {
    /// The pin's synthesizer node.
    pub node: u32,
    /// The `SYNTHCAPS` bytes.
    pub caps: Vec<u8>,
    /// The channel groups `KSPROPERTY_SYNTH_PORTPARAMETERS` granted.
    pub channel_groups: u32,
    /// Its status (`STATUS_SUCCESS` or `STATUS_NOT_ALL_ASSIGNED`).
    pub port_params_status: NtStatus,
    /// `KSPROPERTY_SYNTH_LATENCYCLOCK`.
    pub latency_clock: i64,
}

/// The KS state steps down from `RUN` when a pin stops.
const STOP_STATES: [KsState; 3] = [KsState::PAUSE, KsState::ACQUIRE, KsState::STOP];

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
    /// The render stream of each client ([`Client::index`]).
    renders: [Option<OpenStream>; 2],
    capture: Option<OpenStream>,
    /// The handshakes of the DirectMusic pins opened (render, capture).
    handshakes: Vec<SynthHandshake>,
    /// The render pin was stopped by [`Port::stop_render`] (still open until close).
    render_stopped: bool,
    /// Render units discarded by [`Port::stop_render`], reported again at close.
    render_discarded: u64,
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
            render_streams: Mutex::new([None, None]),
            prefetch: AtomicU64::new(0),
            render: Mutex::new(PendingUnits::default()),
            render_stats: Mutex::new(RenderSourceStats::default()),
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
                dmus_render_pin: None,
                dmus_capture_pin: None,
                ranges: Vec::new(),
                max_instances: Vec::new(),
                node_tables: Vec::new(),
                connections: Vec::new(),
            },
            renders: [None, None],
            capture: None,
            handshakes: Vec::new(),
            render_stopped: false,
            render_discarded: 0,
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

    /// The WinMM client's render stream, while open.
    pub fn render_stream(&self) -> Option<&ComPtr<IMxf>> {
        self.render_stream_of(Client::WinMm)
    }

    /// `client`'s render stream, while open.
    pub fn render_stream_of(&self, client: Client) -> Option<&ComPtr<IMxf>> {
        self.renders[client.index()].as_ref().map(|r| &r.stream)
    }

    /// The Synth handshakes of the DirectMusic pins opened so far.
    pub fn synth_handshakes(&self) -> &[SynthHandshake] {
        &self.handshakes
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
    pub fn render_stats(&self) -> RenderSourceStats {
        *lock(&self.shared.render_stats)
    }

    /// Sequence numbers (in queueing order, from 0) of render units dropped for want of
    /// port-allocator memory.
    pub fn render_dropped_units(&self) -> Vec<u64> {
        lock(&self.shared.render).dropped.clone()
    }

    /// Render units still waiting for their time.
    pub fn render_backlog(&self) -> usize {
        lock(&self.shared.render)
            .units
            .iter()
            .map(VecDeque::len)
            .sum()
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

    /// KS pin instantiation: data-range intersection on the pin for `client`'s range, then
    /// `NewStream`.
    fn open(
        &mut self,
        pin: u32,
        kind: DmusStreamType,
        client: Client,
    ) -> Result<OpenStream, PortError> {
        let format = Box::new(self.intersect(pin, client)?);
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
            self.shared.prefetch.fetch_max(prefetch, Relaxed);
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

    /// `KSPROPERTY_PIN_DATAINTERSECTION` as PortCls handles it: the miniport's handler for
    /// each range of the pin in turn until one answers, each time a size query first, then
    /// (checked) a buffer one byte short, then the real call.
    fn intersect(&self, pin: u32, who: Client) -> Result<KsDataFormat, PortError> {
        let ranges = self
            .info
            .ranges
            .get(pin as usize)
            .cloned()
            .unwrap_or_default();
        let (v, mp) = self.mp_vtbl();
        let mut client = client_range(who);
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
            let mut short = vec![0u8; len as usize - 1];
            let mut got: u32 = 0;
            // SAFETY: as above; `short` has `len - 1` writable bytes.
            let st = unsafe {
                (v.base.data_range_intersection)(
                    mp.cast(),
                    pin,
                    client_ptr,
                    r.cast_mut(),
                    len - 1,
                    short.as_mut_ptr().cast(),
                    &mut got,
                )
            };
            if st != STATUS_BUFFER_TOO_SMALL {
                return Err(err(
                    "DataRangeIntersection",
                    if nt_success(st) {
                        mxf_abi::STATUS_UNSUCCESSFUL
                    } else {
                        st
                    },
                    format!("a {}-byte buffer was answered {st:#x}", len - 1),
                ));
            }
            let mut out = vec![0u8; len as usize];
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
                    "resultant format is not the client's",
                ));
            }
            return Ok(f);
        }
        Err(err(
            "DataRangeIntersection",
            mxf_abi::STATUS_NO_MATCH,
            format!("no range of pin {pin} intersects {who:?}"),
        ))
    }

    /// A node property request on the filter handle (`on` `None`) or on the pin handle of
    /// `on`'s stream (`(client, capture)`), dispatched as PortCls does
    /// ([`crate::property`]). `PASSIVE_LEVEL`. `Err`: the miniport broke the contract.
    pub fn node_property(
        &self,
        on: Option<(Client, bool)>,
        req: NodeRequest<'_>,
    ) -> Result<NodeAnswer, PortError> {
        let minor = match on {
            None => ptr::null_mut(),
            Some((client, false)) => self
                .render_stream_of(client)
                .map_or(ptr::null_mut(), |s| s.as_raw().cast()),
            Some((_, true)) => self
                .capture_stream()
                .map_or(ptr::null_mut(), |s| s.as_raw().cast()),
        };
        let major = self
            .miniport
            .as_ref()
            .map_or(ptr::null_mut(), |m| m.as_raw().cast::<IUnknown>());
        self.tracker.call("node property handler", self.irql());
        // SAFETY: `info` describes the live miniport `major`; `minor` is null or one of its
        // live streams (held by `self`).
        unsafe { node_property(&self.info, major, minor, req) }
            .map_err(|v| err("node property", mxf_abi::STATUS_UNSUCCESSFUL, v.0))
    }

    /// What dmusic.dll asks of a DirectMusic pin it opened (the pin's synth node, found
    /// through the topology), each answer checked against the Synth contract, bad
    /// requests included: CAPS (size query, short buffer, GET on the filter, SET refused),
    /// PORTPARAMETERS (asking for 2 channel groups; none in the instance refused), the
    /// granted CHANNELGROUPS set, LATENCYCLOCK on the pin.
    fn synth_handshake(&self, pin: u32, on: (Client, bool)) -> Result<SynthHandshake, PortError> {
        use mxf_abi::*;
        let fail = |detail: String| err("KSPROPSETID_Synth", STATUS_UNSUCCESSFUL, detail);
        let node = self
            .info
            .node_of_pin(pin)
            .ok_or_else(|| fail(format!("pin {pin} is joined to no synthesizer node")))?;
        let ask = |on: Option<(Client, bool)>,
                   id: u32,
                   verb: u32,
                   instance: &[u8],
                   value: Option<Vec<u8>>|
         -> Result<NodeAnswer, PortError> {
            let value_len = value.as_ref().map_or(0, |v| v.len() as u32);
            self.node_property(
                on,
                NodeRequest {
                    node,
                    set: KSPROPSETID_SYNTH,
                    id,
                    verb,
                    instance,
                    value,
                    value_len,
                },
            )
        };
        let expect = |what: &str, a: &NodeAnswer, status: NtStatus, size: u32| {
            if a.status == status && a.size == size {
                Ok(())
            } else {
                Err(fail(format!(
                    "{what}: {:#x} / {} bytes, expected {status:#x} / {size}",
                    a.status, a.size
                )))
            }
        };
        let caps_len = size_of::<SynthCaps>() as u32;
        let get = KSPROPERTY_TYPE_GET;
        let a = ask(None, KSPROPERTY_SYNTH_CAPS, get, &[], None)?;
        expect("CAPS size query", &a, STATUS_BUFFER_OVERFLOW, caps_len)?;
        let a = ask(None, KSPROPERTY_SYNTH_CAPS, get, &[], Some(vec![0; 16]))?;
        expect("CAPS short buffer", &a, STATUS_BUFFER_TOO_SMALL, 0)?;
        let a = ask(
            None,
            KSPROPERTY_SYNTH_CAPS,
            KSPROPERTY_TYPE_SET,
            &[],
            Some(vec![0; caps_len as usize]),
        )?;
        if nt_success(a.status) {
            return Err(fail("CAPS accepted a SET".into()));
        }
        let a = ask(
            None,
            KSPROPERTY_SYNTH_CAPS,
            get,
            &[],
            Some(vec![0; caps_len as usize]),
        )?;
        expect("CAPS", &a, STATUS_SUCCESS, caps_len)?;
        let caps = a.value;
        let word =
            |b: &[u8], at: usize| u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]]);
        let max_groups = word(&caps, 24);
        if max_groups == 0 {
            return Err(fail("CAPS: MaxChannelGroups 0".into()));
        }
        let a = ask(
            None,
            KSPROPERTY_SYNTH_CAPS,
            KSPROPERTY_TYPE_BASICSUPPORT,
            &[],
            Some(vec![0; 4]),
        )?;
        expect("CAPS basic support", &a, STATUS_SUCCESS, 4)?;
        if word(&a.value, 0) & get == 0 {
            return Err(fail("CAPS basic support lacks GET".into()));
        }
        let params_len = size_of::<SynthPortParams>();
        let request: Vec<u8> = [SYNTH_PORTPARAMS_CHANNELGROUPS, 0, 2, 0, 0, 0, 0]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        let a = ask(
            Some(on),
            KSPROPERTY_SYNTH_PORTPARAMETERS,
            get,
            &[],
            Some(vec![0; params_len]),
        )?;
        if nt_success(a.status) {
            return Err(fail("PORTPARAMETERS without a request succeeded".into()));
        }
        let a = ask(
            Some(on),
            KSPROPERTY_SYNTH_PORTPARAMETERS,
            get,
            &request,
            Some(vec![0; params_len]),
        )?;
        if !nt_success(a.status) || a.size as usize != params_len {
            return Err(fail(format!(
                "PORTPARAMETERS: {:#x} / {} bytes",
                a.status, a.size
            )));
        }
        let port_params_status = a.status;
        let groups = word(&a.value, 8);
        if groups == 0
            || groups > max_groups
            || (groups != 2) != (a.status == STATUS_NOT_ALL_ASSIGNED)
        {
            return Err(fail(format!(
                "PORTPARAMETERS granted {groups} channel groups with {:#x} (max {max_groups})",
                a.status
            )));
        }
        let a = ask(
            Some(on),
            KSPROPERTY_SYNTH_CHANNELGROUPS,
            KSPROPERTY_TYPE_SET,
            &[],
            Some(groups.to_le_bytes().to_vec()),
        )?;
        if a.status != STATUS_SUCCESS {
            return Err(fail(format!("CHANNELGROUPS set {groups}: {:#x}", a.status)));
        }
        let before = self
            .clock
            .as_ref()
            .and_then(|c| c.get_time().ok())
            .unwrap_or(0);
        let a = ask(
            Some(on),
            KSPROPERTY_SYNTH_LATENCYCLOCK,
            get,
            &[],
            Some(vec![0; 8]),
        )?;
        expect("LATENCYCLOCK", &a, STATUS_SUCCESS, 8)?;
        let mut t = [0u8; 8];
        t.copy_from_slice(&a.value);
        let latency_clock = i64::from_le_bytes(t);
        if latency_clock < before {
            return Err(fail(format!(
                "LATENCYCLOCK {latency_clock} is before the clock's {before}"
            )));
        }
        Ok(SynthHandshake {
            node,
            caps,
            channel_groups: groups,
            port_params_status,
            latency_clock,
        })
    }

    fn set_states(&self, stream: &ComPtr<IMxf>, states: &[KsState]) -> Result<(), PortError> {
        for &s in states {
            self.tracker.call("IMXF::SetState", self.irql());
            check("IMXF::SetState", stream.set_state(s))?;
        }
        Ok(())
    }

    /// Opens the WinMM client's render pin ([`Port::open_render_as`]).
    pub fn open_render(&mut self) -> Result<(), PortError> {
        self.open_render_as(Client::WinMm)
    }

    /// Opens `client`'s render pin (the streaming IN pin with its subformat): intersection
    /// over the pin's ranges, `NewStream(DMUS_STREAM_MIDI_RENDER)`, for a DirectMusic client
    /// the Synth handshake on the pin's node, then ACQUIRE → PAUSE → RUN. Both clients'
    /// render pins may be open together. `PASSIVE_LEVEL`.
    pub fn open_render_as(&mut self, client: Client) -> Result<(), PortError> {
        let pin = self.info.pin_for(client, false).ok_or(err(
            "open_render",
            mxf_abi::STATUS_NOT_SUPPORTED,
            format!("no {client:?} render pin"),
        ))?;
        let s = self.open(pin, DmusStreamType::MIDI_RENDER, client)?;
        if lock(&self.shared.sequencer).is_none() {
            // SAFETY: the context is `shared`, kept alive by `self` until the timer is
            // dropped in `close`.
            let timer = unsafe {
                self.emu
                    .new_timer(sequencer_dpc, Arc::as_ptr(&self.shared).cast())
            }
            .map_err(|st| err("KeInitializeTimer (sequencer)", st, ""))?;
            *lock(&self.shared.sequencer) = Some(timer);
        }
        self.join_registered()?;
        self.renders[client.index()] = Some(s);
        if client == Client::DirectMusic {
            let h = self.synth_handshake(pin, (client, false))?;
            self.handshakes.push(h);
        }
        let stream = self.renders[client.index()]
            .as_ref()
            .map(|r| r.stream.clone());
        if let Some(st) = stream {
            self.set_states(&st, &[KsState::ACQUIRE, KsState::PAUSE, KsState::RUN])?;
            lock(&self.shared.render_streams)[client.index()] = Some(st);
        }
        self.shared
            .arm_sequencer(self.shared.prefetch.load(Relaxed) as i64);
        Ok(())
    }

    /// Opens the capture pin for a WinMM client ([`Port::open_capture_as`]).
    pub fn open_capture(&mut self) -> Result<(), PortError> {
        self.open_capture_as(Client::WinMm)
    }

    /// Opens the capture pin for `client`: intersection for its subformat,
    /// `NewStream(DMUS_STREAM_MIDI_CAPTURE)`, for a DirectMusic client the Synth handshake,
    /// `ConnectOutput(capture sink)`, then ACQUIRE → PAUSE → RUN. `PASSIVE_LEVEL`.
    pub fn open_capture_as(&mut self, client: Client) -> Result<(), PortError> {
        let pin = self.info.pin_for(client, true).ok_or(err(
            "open_capture",
            mxf_abi::STATUS_NOT_SUPPORTED,
            format!("no {client:?} capture pin"),
        ))?;
        let s = self.open(pin, DmusStreamType::MIDI_CAPTURE, client)?;
        if let Some(sink) = &self.capture_sink {
            self.tracker.call("IMXF::ConnectOutput", self.irql());
            check("IMXF::ConnectOutput", s.stream.connect_output(sink))?;
        }
        self.join_registered()?;
        lock(&self.shared.capture_streams).push(s.stream.clone());
        self.capture = Some(s);
        if client == Client::DirectMusic {
            let h = self.synth_handshake(pin, (client, true))?;
            self.handshakes.push(h);
        }
        let stream = self.capture.as_ref().map(|c| c.stream.clone());
        if let Some(st) = stream {
            self.set_states(&st, &[KsState::ACQUIRE, KsState::PAUSE, KsState::RUN])?;
        }
        Ok(())
    }

    /// Queues the WinMM client's submissions ([`Port::queue_render_to`]).
    pub fn queue_render(&self, units: impl IntoIterator<Item = RenderUnit>) -> u64 {
        self.queue_render_to(Client::WinMm, units)
    }

    /// Queues `client`'s submissions for its render pin (in presentation-time order; a unit
    /// earlier than the client's last queued one is sent with it). Returns the sequence
    /// number of the first (one sequence across both clients).
    pub fn queue_render_to(
        &self,
        client: Client,
        units: impl IntoIterator<Item = RenderUnit>,
    ) -> u64 {
        let c = client.index();
        let first;
        {
            let mut q = lock(&self.shared.render);
            first = q.next_seq;
            let mut n = 0;
            for mut u in units {
                if let Some((_, last)) = q.units[c].back() {
                    u.time = u.time.max(last.time);
                }
                let seq = q.next_seq;
                q.next_seq += 1;
                q.units[c].push_back((seq, u));
                n += 1;
            }
            lock(&self.shared.render_stats).units_queued += n;
        }
        self.shared
            .arm_sequencer(self.shared.prefetch.load(Relaxed) as i64);
        first
    }

    /// Stops the render pins (every client's) as KS does when a client stops its stream
    /// (RUN → PAUSE → ACQUIRE → STOP) and keeps them open until [`Port::close`]: the
    /// sequencer stops, units not yet sent are discarded (counted in
    /// [`RenderSourceStats::units_discarded_at_close`]), and each stream gives up what it still
    /// holds, so its end-of-stream counters can be read before close. Does nothing the
    /// second time, nor for a pin never opened.
    /// `PASSIVE_LEVEL`.
    pub fn stop_render(&mut self) -> Result<(), PortError> {
        if self.render_stopped {
            return Ok(());
        }
        self.render_stopped = true;
        drop(lock(&self.shared.sequencer).take());
        let discarded = {
            let mut q = lock(&self.shared.render);
            let n = q.units.iter().map(VecDeque::len).sum::<usize>() as u64;
            q.units.iter_mut().for_each(VecDeque::clear);
            n
        };
        lock(&self.shared.render_stats).units_discarded_at_close += discarded;
        self.render_discarded += discarded;
        let mut first = Ok(());
        for r in self.renders.iter().flatten() {
            let r = self.set_states(&r.stream, &STOP_STATES);
            first = first.and(r);
        }
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
        // Render first: the sequencer stops before the stream goes.
        keep(self.stop_render());
        let discarded = self.render_discarded;
        for client in Client::ALL {
            if let Some(r) = self.renders[client.index()].take() {
                lock(&self.shared.render_streams)[client.index()] = None;
                if let Some(g) = &r.group {
                    self.remove_member(g);
                }
                drop(r);
            }
        }
        if let Some(c) = self.capture.take() {
            keep(self.set_states(&c.stream, &STOP_STATES));
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
                     bReserved/cbStruct written, {} PutBuffer call(s), {} package(s) returned \
                     with their sub-chain attached",
                    contract.reserved_writes, contract.put_buffer_calls, contract.attached_packages
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
