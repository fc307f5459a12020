//! mxfloop's PortCls DirectMusic miniport: the COM objects PortCls talks to.
//!
//! - [`miniport`]: `IMiniportDMus` ([`new_miniport`]), which owns the cable shared by all its
//!   streams (`mxf_core::cable`) and the service group it hands the port;
//! - [`stream`]: the render and capture `IMXF` streams (render queue → cable → each capture
//!   stream's loopback → capture packager);
//! - [`filter`]: the static filter description returned by `IMiniport::GetDescription`;
//! - [`intersection`]: the `IMiniport::DataRangeIntersection` handler;
//! - [`synth`]: the `KSPROPSETID_Synth` handler of the synthesizer nodes;
//! - [`ids`], [`table`]: the filter's pin and node ids, and the `Sync` wrapper of its static
//!   tables.
//!
//! The files depend one way: `ids`, `table`, `instances`, `render_slots`, `trace` and
//! `miniport::head` are leaves; `synth` and `filter` (then `intersection`) describe the
//! filter; `miniport::object` (the state the streams share) sits under `stream`, and
//! `miniport` (the COM methods) on top of all of them.
//!
//! Everything is `no_std`, generic over the platform seam, and identical in the driver
//! (`mxf-kernel`) and on the host emulator (`mxf-kemu` + `mxf-portemu`).
#![no_std]
// Ahead of the workspace-wide lint (not yet clean in every crate): one unsafe operation,
// with its own SAFETY proof, per block.

pub mod filter;
pub mod ids;
mod instances;
pub mod intersection;
pub mod miniport;
mod render_slots;
pub mod stream;
pub mod synth;
pub mod table;
mod trace;

pub use filter::{FILTER_DESCRIPTOR, filter_descriptor};
pub use ids::{
    NODE_COUNT, NODE_INPUT, NODE_SYNTH, PIN_CAPTURE_BRIDGE, PIN_CAPTURE_STREAM, PIN_COUNT,
    PIN_RENDER_BRIDGE, PIN_RENDER_DMUS, PIN_RENDER_STREAM,
};
pub use intersection::{Intersection, RESULTANT_FORMAT_SIZE, com_outcome, data_range_intersection};
pub use miniport::{
    MiniportConfig, cable_stats, loopback_allocator_stats, loopback_stats, new_miniport,
    release_port,
};
pub use stream::capture::{CaptureStreamStats, capture_stats, reader_loopback_stats, reader_stats};
pub use stream::render::render_stats;
