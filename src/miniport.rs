//! Where the driver gets its `IMiniportDMus`: `mxf-miniport`'s object on the kernel platform.

use mxf_abi::{IMiniportDMus, NtStatus};
use mxf_core::com::ComPtr;
use mxf_kernel::KernelPlatform;
use mxf_miniport::MiniportConfig;

/// A new miniport with one reference owned by the caller. `PASSIVE_LEVEL` (from StartDevice).
pub fn new_miniport() -> Result<ComPtr<IMiniportDMus>, NtStatus> {
    mxf_miniport::new_miniport::<KernelPlatform>(KernelPlatform, MiniportConfig::DEFAULT)
}
