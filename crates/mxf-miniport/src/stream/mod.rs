//! The miniport's two kinds of stream object (`IMXF`): [`render`] plays what the port sends
//! into the cable; [`capture`] drains its own loopback (its reader of the cable) into event
//! chains for the port's capture sink.

pub mod capture;
pub mod render;

pub(crate) use capture::new_capture_stream;
pub(crate) use render::new_render_stream;

use core::ptr::NonNull;
use mxf_abi::{Guid, IMasterClock, IUnknown};
use mxf_core::com::ComPtr;
use mxf_core::platform::Platform;

/// Private IID answered by render streams (see `miniport::IID_MXF_PRIVATE_MINIPORT`).
pub(crate) const IID_MXF_PRIVATE_RENDER: Guid =
    Guid::from_u128(0x6d786630_0002_4d58_8000_6d78666c6f6f);
/// Private IID answered by capture streams.
pub(crate) const IID_MXF_PRIVATE_CAPTURE: Guid =
    Guid::from_u128(0x6d786630_0003_4d58_8000_6d78666c6f6f);

/// The master clock of `minor` if it is one of our streams built for `P` (AddRef'd): what
/// `MiniportOps::stream_clock` is for a `Miniport<P>`.
///
/// # Safety
/// `minor` is a live COM object.
pub(crate) unsafe fn stream_clock<P: Platform>(
    minor: NonNull<IUnknown>,
) -> Option<ComPtr<IMasterClock>> {
    // SAFETY: a live COM object (caller); we hold our own reference while we look.
    let unk = unsafe { ComPtr::from_raw_add_ref(minor) };
    render::clock_of::<P>(&unk).or_else(|| capture::clock_of::<P>(&unk))
}
