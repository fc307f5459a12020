//! The static, hardware-free half of mxfloop's PortCls DMus miniport: the filter
//! description returned by `IMiniport::GetDescription` ([`filter`]) and the
//! `IMiniport::DataRangeIntersection` handler ([`intersection`]). Plain data and safe
//! functions over byte buffers; the `extern "system"` COM glue lives with the driver.
#![no_std]

pub mod filter;
pub mod intersection;
pub mod miniport;
pub mod stream;

pub use filter::{
    FILTER_DESCRIPTOR, PIN_CAPTURE_BRIDGE, PIN_CAPTURE_STREAM, PIN_COUNT, PIN_RENDER_BRIDGE,
    PIN_RENDER_STREAM, filter_descriptor,
};
pub use intersection::{RESULTANT_FORMAT_SIZE, com_outcome, data_range_intersection};
pub use miniport::{MiniportConfig, loopback_allocator_stats, loopback_stats, new_miniport};
pub use stream::capture::{BURST_BYTES, CaptureStreamStats, capture_stats};
pub use stream::render::render_stats;
