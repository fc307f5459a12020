//! The miniport's two stream objects (`IMXF`): [`render`] plays what the port sends into the
//! loopback; [`capture`] drains the loopback into event chains for the port's capture sink.

pub mod capture;
pub mod render;

pub(crate) use capture::new_capture_stream;
pub(crate) use render::new_render_stream;

use core::ffi::c_void;
use core::ptr;
use mxf_abi::{
    Guid, IID_IMXF, IID_IUNKNOWN, IUnknown, NtStatus, STATUS_INVALID_PARAMETER, STATUS_SUCCESS,
};

/// Private IID answered by render streams (see `miniport::IID_MXF_PRIVATE_MINIPORT`).
pub(crate) const IID_MXF_PRIVATE_RENDER: Guid =
    Guid::from_u128(0x6d786630_0002_4d58_8000_6d78666c6f6f);
/// Private IID answered by capture streams.
pub(crate) const IID_MXF_PRIVATE_CAPTURE: Guid =
    Guid::from_u128(0x6d786630_0003_4d58_8000_6d78666c6f6f);

/// `QueryInterface` of a stream: `IUnknown`, `IMXF` and the stream's private IID, all at
/// offset 0; `add_ref` adds the reference handed out.
///
/// # Safety
/// `this` is a live stream object; `iid` and `out` are null or valid for the call.
pub(crate) unsafe fn mxf_query(
    this: *mut IUnknown,
    iid: *const Guid,
    out: *mut *mut c_void,
    private: &Guid,
    add_ref: impl FnOnce(*mut IUnknown),
) -> NtStatus {
    if out.is_null() {
        return STATUS_INVALID_PARAMETER;
    }
    if iid.is_null() {
        // SAFETY: non-null out-pointer from the caller.
        unsafe { out.write_unaligned(ptr::null_mut()) };
        return STATUS_INVALID_PARAMETER;
    }
    // SAFETY: a non-null REFIID points to a GUID.
    let iid = unsafe { iid.read_unaligned() };
    if iid == IID_IUNKNOWN || iid == IID_IMXF || iid == *private {
        add_ref(this);
        // SAFETY: non-null out-pointer.
        unsafe { out.write_unaligned(this.cast()) };
        STATUS_SUCCESS
    } else {
        // SAFETY: non-null out-pointer.
        unsafe { out.write_unaligned(ptr::null_mut()) };
        STATUS_INVALID_PARAMETER
    }
}
