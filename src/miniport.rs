//! Where the driver gets its `IMiniportDMus`: `mxf-miniport`'s object on the kernel platform.

use mxf_abi::{IMiniportDMus, NtStatus};
use mxf_core::capture::CaptureMode;
use mxf_core::com::ComPtr;
use mxf_kernel::KernelPlatform;
use mxf_miniport::MiniportConfig;

/// A new miniport (one per cable) with one reference owned by the caller. `PASSIVE_LEVEL`
/// (from StartDevice).
pub fn new_miniport(capture_mode: CaptureMode) -> Result<ComPtr<IMiniportDMus>, NtStatus> {
    let cfg = MiniportConfig {
        capture_mode,
        ..MiniportConfig::DEFAULT
    };
    mxf_miniport::new_miniport::<KernelPlatform>(KernelPlatform, cfg).map_err(NtStatus::from)
}
