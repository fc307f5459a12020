//! Host emulation of PortCls's DMus port driver, so that the miniport's code runs unchanged
//! on the kernel emulator (`mxf-kemu`).
//!
//! [`Port`] plays `PcNewPort(CLSID_PortDMus)` + `IPort::Init` (it queries the miniport,
//! calls `IMiniportDMus::Init`, joins the returned service group, validates the filter
//! descriptor) and KS pin instantiation for WinMM and DirectMusic clients
//! ([`Port::open_render_as`], [`Port::open_capture_as`]: data-range intersection over every
//! range of the pin, `NewStream` with the port's allocator and master clock, for
//! DirectMusic the checked `KSPROPSETID_Synth` requests (`property`), the state walk to
//! RUN, `ConnectOutput` of the port's capture sink). `IPortDMus::Notify` queues
//! the port's DPC (an emulator timer due now), which services the group; the port's
//! `IServiceSink` then calls every capture stream's `PutMessage(NULL)` at `DISPATCH_LEVEL`.
//! Render submissions ([`RenderUnit`]) are turned into event chains by the render source and
//! sent by the port's sequencer DPC at presentation time minus the stream's prefetch.
//!
//! The port's allocator is an instance of our own allocator whose pool tags read `Prt?`
//! instead of `Mxf?` ([`PortPlatform`]), so pool reports tell the port's memory from the
//! driver's. The streams get it behind a guard that enforces the allocator rules of the DMus
//! contract (`bReserved`/`cbStruct` untouched, no `PutBuffer`: [`ContractStats`]).
//!
//! [`double`] is a small test-double miniport (a loopback) for testing the port on its own;
//! [`widen`] wraps a miniport behind a descriptor that promises more pin instances.

mod alloc_guard;
mod assemble;
mod clock;
mod com;
mod describe;
pub mod double;
mod port;
mod property;
mod render;
mod retag;
mod sink;
mod tracker;
pub mod widen;

pub use alloc_guard::{ContractStats, ContractWatch, RESERVED_MARK, event_fields_intact};
pub use assemble::{Assembler, TimedMessage, normalize};
pub use clock::new_master_clock;
pub use describe::{Client, FilterInfo, client_midi_range, client_range, validate};
pub use port::{
    CaptureHandle, CloseReport, DEFAULT_DPC_LATENCY_100NS, Port, PortConfig, PortError, PortStats,
    RenderHandle, SynthHandshake,
};
pub use property::{NodeAnswer, NodeRequest, Violation, node_property};
pub use render::{Packaging, RenderSourceStats, RenderUnit};
pub use retag::{PORT_TAG_PREFIX, PortPlatform, port_tag};
pub use sink::{CaptureLog, SinkStats};
pub use tracker::{CallRecord, Tracker};
