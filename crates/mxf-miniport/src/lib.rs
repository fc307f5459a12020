//! The static, hardware-free half of mxfloop's PortCls DMus miniport: the filter
//! description returned by `IMiniport::GetDescription` ([`filter`]) and the
//! `IMiniport::DataRangeIntersection` handler ([`intersection`]). Plain data and safe
//! functions over byte buffers; the `extern "system"` COM glue lives with the driver.
#![no_std]

pub mod filter;
pub mod intersection;

pub use filter::{
    FILTER_DESCRIPTOR, PIN_CAPTURE_BRIDGE, PIN_CAPTURE_STREAM, PIN_COUNT, PIN_RENDER_BRIDGE,
    PIN_RENDER_STREAM, filter_descriptor,
};
pub use intersection::{RESULTANT_FORMAT_SIZE, com_outcome, data_range_intersection};
