//! Where the driver gets its `IMiniportDMus`: `mxf-miniport`'s object on the kernel platform.

use mxf_abi::{IMiniportDMus, NtStatus};
use mxf_core::capture::CaptureMode;
use mxf_core::com::ComPtr;
use mxf_core::feedback::FeedbackConfig;
use mxf_kernel::KernelPlatform;
use mxf_miniport::MiniportConfig;

/// A new miniport (one per cable) with one reference owned by the caller. `PASSIVE_LEVEL`
/// (from StartDevice).
///
/// Never inlined: the miniport object is built in this frame before it moves to the pool, and
/// `StartDevice`'s own frame (the decoded settings) must stay under one page, the most a frame
/// may take without a stack probe (the image links no `__chkstk`).
#[inline(never)]
pub fn new_miniport(
    capture_mode: CaptureMode,
    feedback: FeedbackConfig,
) -> Result<ComPtr<IMiniportDMus>, NtStatus> {
    let cfg = MiniportConfig {
        capture_mode,
        feedback,
        ..MiniportConfig::DEFAULT
    };
    mxf_miniport::new_miniport::<KernelPlatform>(KernelPlatform, cfg).map_err(NtStatus::from)
}
