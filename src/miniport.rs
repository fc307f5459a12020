//! Where the driver gets its `IMiniportDMus`.
//!
//! The miniport's COM objects are `mxf-miniport`'s (`mxf_miniport::new_miniport::<P>`); this
//! is the single function StartDevice calls, so wiring it in is a one-line change here.
//! Until that crate lands, it reports `STATUS_NOT_IMPLEMENTED`, and StartDevice fails cleanly
//! (the port it created is released).

use core::ptr::NonNull;
use mxf_abi::{IMiniportDMus, NtStatus};

/// A new miniport with one reference owned by the caller.
pub fn new_miniport() -> Result<NonNull<IMiniportDMus>, NtStatus> {
    Err(mxf_abi::STATUS_NOT_IMPLEMENTED)
}
