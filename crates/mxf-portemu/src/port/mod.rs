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
//!
//! # Pin instances
//! KS instantiates a pin factory as often as its descriptor allows, each instance a stream
//! of its own ([`RenderHandle`], [`CaptureHandle`]); the port refuses a create beyond the
//! smaller of the pin's `MaxFilterInstanceCount` and `MaxGlobalInstanceCount` with
//! `STATUS_UNSUCCESSFUL` before `NewStream` is called (what PortCls's filter answers when no
//! instance is available), and counts an instance down when it closes.
//! - Each render instance has its own queue of [`RenderUnit`]s and its own sequencer
//!   delivery (one sequencer DPC serves them all, instance by instance); its counters are
//!   kept apart ([`Port::render_stats_of`]) and summed in [`Port::render_stats`]. Render
//!   instances build their events from the port's allocator.
//! - Each capture instance opened with [`Port::open_capture_instance`] has, as a PortCls pin
//!   instance has, its own allocator (given to `NewStream`), its own capture sink
//!   (`ConnectOutput`) and its own [`CaptureLog`]. The capture opened through the
//!   single-stream API ([`Port::open_capture_as`], the first one) uses the port's allocator
//!   and [`Port::capture_log`], as it always did. The port's service calls every capture
//!   stream's `PutMessage(NULL)`.
//! - [`Port::stall_capture`] stands in for a slow application on one capture instance: its
//!   sink holds what it is given (see `sink.rs`); the service goes on, as on Windows, where
//!   the DPC does not wait for an application.
//! - The single-stream API works on each client's first render instance and on the first
//!   capture instance.

use crate::alloc_guard::{ContractCounters, ContractStats, ContractWatch, guard_refs, new_guard};
use crate::clock::new_master_clock;
use crate::com::{BoxObject, into_com, object, unknown_vtbl};
use crate::describe::{Client, FilterInfo, client_range, validate};
use crate::property::{NodeAnswer, NodeRequest, node_property};
use crate::render::{Packaging, RenderSourceStats, RenderUnit, build_unit};
use crate::retag::PortPlatform;
use crate::sink::{CaptureLog, SinkControl, lock, new_capture_sink, new_controlled_sink};
use crate::tracker::{LiveGuard, Tracker};
use core::ffi::c_void;
use mxf_abi::{
    DmusStreamType, Guid, IAllocatorMxf, IID_IPORT, IID_IPORT_DMUS, IID_ISERVICE_SINK,
    IID_IUNKNOWN, IMasterClock, IMiniport, IMiniportDMus, IMiniportDMusVtbl, IMxf, IPort,
    IPortDMus, IPortDMusVtbl, IPortVtbl, IServiceGroup, IServiceGroupVtbl, IServiceSink,
    IServiceSinkVtbl, IUnknown, KsDataFormat, KsDataRange, KsState, NtStatus, PDeviceObject, PIrp,
    PResourceList, PcFilterDescriptorPtr, PoolType, STATUS_BUFFER_OVERFLOW,
    STATUS_BUFFER_TOO_SMALL, STATUS_INVALID_DEVICE_REQUEST, STATUS_NOT_IMPLEMENTED, STATUS_SUCCESS,
    STATUS_UNSUCCESSFUL, nt_success,
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

mod com;
mod pins;
mod pump;
mod teardown;

use com::*;

/// How the port emulator is set up.
#[derive(Clone, Copy, Debug)]
pub struct PortConfig {
    /// The port's allocator (our allocator under `Prt*` pool tags, pre-filled).
    pub allocator: AllocatorConfig,
    /// The allocator of each capture instance opened with [`Port::open_capture_instance`].
    pub capture_allocator: AllocatorConfig,
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
        let allocator = AllocatorConfig {
            reserve_events: 1024,
            reserve_buffers: 64,
            max_events: 1 << 20,
            max_buffers: 4096,
            ..AllocatorConfig::DEFAULT
        };
        Self {
            allocator,
            capture_allocator: allocator,
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

/// A render pin instance of a [`Port`] (from [`Port::open_render_instance`]).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct RenderHandle(usize);

/// A capture pin instance of a [`Port`] (from [`Port::open_capture_instance`]).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct CaptureHandle(usize);

/// One render instance's queue: its units waiting for their time and its counters.
struct Lane {
    handle: RenderHandle,
    /// The instance's stream, once in `RUN` (the sequencer sends to it).
    stream: Option<ComPtr<IMxf>>,
    units: VecDeque<(u64, RenderUnit)>,
    stats: RenderSourceStats,
}

/// Render units waiting for their time, with their sequence numbers (one sequence across
/// every instance), one [`Lane`] per render instance.
#[derive(Default)]
struct PendingUnits {
    lanes: Vec<Lane>,
    /// Units queued for a client with no render instance yet: its first one takes them.
    unbound: [VecDeque<(u64, RenderUnit)>; 2],
    next_seq: u64,
    dropped: Vec<u64>,
}

impl PendingUnits {
    fn lane(&mut self, h: RenderHandle) -> Option<&mut Lane> {
        self.lanes.iter_mut().find(|l| l.handle == h)
    }

    fn backlog(&self) -> usize {
        self.lanes.iter().map(|l| l.units.len()).sum::<usize>()
            + self.unbound.iter().map(VecDeque::len).sum::<usize>()
    }
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
// The handle.

struct OpenStream {
    stream: ComPtr<IMxf>,
    group: Option<ComPtr<IServiceGroup>>,
    /// The pin it instantiates.
    pin: u32,
    /// The format given to NewStream, kept alive for the stream's life.
    _format: Box<KsDataFormat>,
}

/// An open render instance.
struct RenderInstance {
    handle: RenderHandle,
    client: Client,
    open: OpenStream,
}

/// A capture instance: open until closed, its log (and allocator) readable after.
struct CaptureInstance {
    handle: CaptureHandle,
    open: Option<OpenStream>,
    sink: Option<ComPtr<IMxf>>,
    /// Its sink's stall switch (`None`: the port's shared sink, never stalled).
    control: Option<SinkControl>,
    log: Arc<Mutex<CaptureLog>>,
    /// Its own allocator and the guard the stream got (`None`: the port's).
    alloc: Option<(ComPtr<IAllocatorMxf>, ComPtr<IAllocatorMxf>)>,
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
    /// The open render instances, in opening order.
    renders: Vec<RenderInstance>,
    /// Each client's first render instance ([`Client::index`]): the single-stream API's.
    default_render: [Option<RenderHandle>; 2],
    /// Every capture instance opened, in opening order (closed ones keep their log).
    captures: Vec<CaptureInstance>,
    /// The capture instance of the single-stream API.
    default_capture: Option<CaptureHandle>,
    /// Open instances of each pin.
    pin_open: Vec<u32>,
    next_handle: usize,
    capture_allocator: AllocatorConfig,
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
    /// The allocator of each capture instance that had its own, just before the port let
    /// it go (its references held by others are in `allocator_refs_left`).
    pub capture_allocators: Vec<(CaptureHandle, AllocatorStats)>,
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
                max_global_instances: Vec::new(),
                node_tables: Vec::new(),
                connections: Vec::new(),
            },
            renders: Vec::new(),
            default_render: [None, None],
            captures: Vec::new(),
            default_capture: None,
            pin_open: Vec::new(),
            next_handle: 0,
            capture_allocator: cfg.capture_allocator,
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
        // and this is never called after): its header holds the vtable pointer.
        let vtbl = unsafe { (*mp).vtbl };
        // SAFETY: the live miniport's vtable is a static IMiniportDMusVtbl.
        (unsafe { &*vtbl }, mp)
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
        // SAFETY: a live group (held by `g`): its header holds the vtable pointer.
        let vtbl = unsafe { (*g.as_raw()).vtbl };
        // SAFETY: the live group's vtable is a static IServiceGroupVtbl.
        let v = unsafe { &*vtbl.cast::<IServiceGroupVtbl>() };
        // SAFETY: the group's own method on the live group; `sink` is live.
        let st = unsafe { (v.add_member)(g.as_raw(), sink) };
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
        // SAFETY: as in `add_member`, a live group's header.
        let vtbl = unsafe { (*g.as_raw()).vtbl };
        // SAFETY: as in `add_member`, a static IServiceGroupVtbl.
        let v = unsafe { &*vtbl.cast::<IServiceGroupVtbl>() };
        // SAFETY: the group's own method on the live group; `sink` is live.
        unsafe { (v.remove_member)(g.as_raw(), sink) };
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

    /// `client`'s (first) render stream, while open.
    pub fn render_stream_of(&self, client: Client) -> Option<&ComPtr<IMxf>> {
        self.default_render[client.index()].and_then(|h| self.render_stream_on(h))
    }

    /// The stream of render instance `h`, while open.
    pub fn render_stream_on(&self, h: RenderHandle) -> Option<&ComPtr<IMxf>> {
        self.renders
            .iter()
            .find(|r| r.handle == h)
            .map(|r| &r.open.stream)
    }

    /// The open render instances, in opening order, with their clients.
    pub fn render_instances(&self) -> Vec<(RenderHandle, Client)> {
        self.renders.iter().map(|r| (r.handle, r.client)).collect()
    }

    /// The capture instances opened so far (closed ones included), in opening order.
    pub fn capture_instances(&self) -> Vec<CaptureHandle> {
        self.captures.iter().map(|c| c.handle).collect()
    }

    /// Open instances of pin `pin` now.
    pub fn pin_instances(&self, pin: u32) -> u32 {
        self.pin_open.get(pin as usize).copied().unwrap_or(0)
    }

    /// The Synth handshakes of the DirectMusic pins opened so far.
    pub fn synth_handshakes(&self) -> &[SynthHandshake] {
        &self.handshakes
    }

    /// The capture stream of the single-stream API, while open.
    pub fn capture_stream(&self) -> Option<&ComPtr<IMxf>> {
        self.default_capture.and_then(|h| self.capture_stream_on(h))
    }

    /// The stream of capture instance `h`, while open.
    pub fn capture_stream_on(&self, h: CaptureHandle) -> Option<&ComPtr<IMxf>> {
        self.capture(h)
            .and_then(|c| c.open.as_ref())
            .map(|o| &o.stream)
    }

    fn capture(&self, h: CaptureHandle) -> Option<&CaptureInstance> {
        self.captures.iter().find(|c| c.handle == h)
    }

    /// The log of capture instance `h`'s sink (readable after close).
    pub fn capture_log_of(&self, h: CaptureHandle) -> Option<Arc<Mutex<CaptureLog>>> {
        self.capture(h).map(|c| Arc::clone(&c.log))
    }

    /// Runs `f` over what capture instance `h`'s sink collected so far.
    pub fn with_capture_of<R>(
        &self,
        h: CaptureHandle,
        f: impl FnOnce(&mut CaptureLog) -> R,
    ) -> Option<R> {
        self.capture(h).map(|c| f(&mut lock(&c.log)))
    }

    /// The counters of capture instance `h`'s own allocator (`None` for one using the
    /// port's, see [`Port::allocator_stats`]).
    pub fn capture_allocator_stats(&self, h: CaptureHandle) -> Option<AllocatorStats> {
        let (alloc, _) = self.capture(h)?.alloc.as_ref()?;
        Allocator::from_com(alloc).map(|a| a.stats())
    }

    /// Stalls capture instance `h`'s reader (`true`) or lets it read again (`false`, which
    /// delivers what its sink held): see the module docs. `false` for an unknown instance or
    /// one on the port's shared sink (the single-stream capture), which cannot stall.
    pub fn stall_capture(&self, h: CaptureHandle, on: bool) -> bool {
        match self.capture(h).and_then(|c| c.control.as_ref()) {
            Some(c) => {
                c.set_stalled(on);
                true
            }
            None => false,
        }
    }

    /// Chains capture instance `h`'s sink holds because it is stalled.
    pub fn capture_held_chains(&self, h: CaptureHandle) -> usize {
        self.capture(h)
            .and_then(|c| c.control.as_ref())
            .map_or(0, SinkControl::held)
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

    /// The render source's counters (every instance).
    pub fn render_stats(&self) -> RenderSourceStats {
        *lock(&self.shared.render_stats)
    }

    /// Render instance `h`'s counters (while open, and after [`Port::stop_render`]).
    pub fn render_stats_of(&self, h: RenderHandle) -> Option<RenderSourceStats> {
        lock(&self.shared.render).lane(h).map(|l| l.stats)
    }

    /// Sequence numbers (in queueing order, from 0) of render units dropped for want of
    /// port-allocator memory.
    pub fn render_dropped_units(&self) -> Vec<u64> {
        lock(&self.shared.render).dropped.clone()
    }

    /// Render units still waiting for their time.
    pub fn render_backlog(&self) -> usize {
        lock(&self.shared.render).backlog()
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
}
