//! Where the driver gets its `IMiniportDMus`: `mxf-miniport`'s object on the kernel platform.

use crate::names::{CAPTURE_MODE_VALUE, CAPTURE_MODE_VALUE_W, PARAMETERS_KEY, PARAMETERS_KEY_W};
use mxf_abi::{IMiniportDMus, NtStatus};
use mxf_core::capture::CaptureMode;
use mxf_core::com::ComPtr;
use mxf_core::platform::{LogLevel, Platform};
use mxf_kernel::{KernelPlatform, registry};
use mxf_miniport::MiniportConfig;

/// A new miniport with one reference owned by the caller, configured from the registry.
/// `PASSIVE_LEVEL` (from StartDevice).
pub fn new_miniport() -> Result<ComPtr<IMiniportDMus>, NtStatus> {
    let cfg = MiniportConfig {
        capture_mode: capture_mode(),
        ..MiniportConfig::DEFAULT
    };
    mxf_miniport::new_miniport::<KernelPlatform>(KernelPlatform, cfg).map_err(NtStatus::from)
}

/// `Parameters\CaptureMode`: absent means the default; a bad value keeps the default and is
/// logged, never failing the start. `PASSIVE_LEVEL`.
fn capture_mode() -> CaptureMode {
    let read = registry::service_dword(&PARAMETERS_KEY_W, &CAPTURE_MODE_VALUE_W, 0);
    let (mode, problem) = crate::settings::capture_mode_setting(read);
    if let Some(why) = problem {
        KernelPlatform.log(
            LogLevel::Warn,
            format_args!("StartDevice: {PARAMETERS_KEY}\\{CAPTURE_MODE_VALUE}: {why}"),
        );
    }
    KernelPlatform.log(
        LogLevel::Info,
        format_args!("StartDevice: capture mode {mode:?}"),
    );
    mode
}
