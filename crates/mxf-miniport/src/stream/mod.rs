//! The miniport's two stream objects (`IMXF`): [`render`] plays what the port sends into the
//! loopback; [`capture`] drains the loopback into event chains for the port's capture sink.

pub mod capture;
pub mod render;

pub(crate) use capture::new_capture_stream;
pub(crate) use render::new_render_stream;

use mxf_abi::Guid;

/// Private IID answered by render streams (see `miniport::IID_MXF_PRIVATE_MINIPORT`).
pub(crate) const IID_MXF_PRIVATE_RENDER: Guid =
    Guid::from_u128(0x6d786630_0002_4d58_8000_6d78666c6f6f);
/// Private IID answered by capture streams.
pub(crate) const IID_MXF_PRIVATE_CAPTURE: Guid =
    Guid::from_u128(0x6d786630_0003_4d58_8000_6d78666c6f6f);
