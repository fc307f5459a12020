//! The settings `StartDevice` reads from `Services\mxfloop\Parameters`: the raw registry reads
//! (kernel), decoded by [`crate::settings`]; every problem is logged as a warning and falls
//! back to the default, none fails the start. `PASSIVE_LEVEL`.

use crate::names::{
    CABLE_COUNT_VALUE, CABLE_COUNT_VALUE_W, CABLE_NAMES_VALUE, CABLE_NAMES_VALUE_W,
    CAPTURE_MODE_VALUE, CAPTURE_MODE_VALUE_W, FEEDBACK_VALUE, FEEDBACK_VALUE_W, PARAMETERS_KEY,
    PARAMETERS_KEY_W, cable_reference,
};
use crate::settings::{
    self, CableNames, FEEDBACK_DEFAULT_PER_SECOND, SettingProblem, Utf16, cable_names_setting,
};
use mxf_core::capture::CaptureMode;
use mxf_core::feedback::FeedbackConfig;
use mxf_core::platform::{LogLevel, Platform};
use mxf_kernel::sys::REG_MULTI_SZ;
use mxf_kernel::{KernelPlatform, registry};

/// What one `StartDevice` installs.
pub struct StartConfig {
    /// `CaptureMode`, for every cable's miniport.
    pub capture_mode: CaptureMode,
    /// `FeedbackMaxMessagesPerSecond`, decoded for every cable's feedback guard.
    pub feedback: FeedbackConfig,
    /// `CableCount` and `CableNames`.
    pub cables: CableNames,
}

fn warn(value: &str, why: &SettingProblem) {
    KernelPlatform.log(
        LogLevel::Warn,
        format_args!("StartDevice: {PARAMETERS_KEY}\\{value}: {why}"),
    );
}

/// Reads and decodes every `StartDevice` setting, logging each problem and the result.
pub fn read() -> StartConfig {
    let (capture_mode, problem) = settings::capture_mode_setting(registry::service_dword(
        &PARAMETERS_KEY_W,
        &CAPTURE_MODE_VALUE_W,
        0,
    ));
    if let Some(why) = problem {
        warn(CAPTURE_MODE_VALUE, &why);
    }
    KernelPlatform.log(
        LogLevel::Info,
        format_args!("StartDevice: capture mode {capture_mode:?}"),
    );

    let (feedback, problem) = settings::feedback_setting(registry::service_dword(
        &PARAMETERS_KEY_W,
        &FEEDBACK_VALUE_W,
        FEEDBACK_DEFAULT_PER_SECOND,
    ));
    if let Some(why) = problem {
        warn(FEEDBACK_VALUE, &why);
    }

    let (count, problem) = settings::cable_count_setting(registry::service_dword(
        &PARAMETERS_KEY_W,
        &CABLE_COUNT_VALUE_W,
        1,
    ));
    if let Some(why) = problem {
        warn(CABLE_COUNT_VALUE, &why);
    }
    let mut cables = CableNames::defaults(count);
    let read = registry::service_value_bytes(
        &PARAMETERS_KEY_W,
        &CABLE_NAMES_VALUE_W,
        REG_MULTI_SZ,
        |raw| cables = cable_names_setting(Ok(Some(raw)), count),
    );
    if let Err(status) = read {
        cables = cable_names_setting(Err(status), count);
    }
    log_cables(&cables);
    StartConfig {
        capture_mode,
        feedback,
        cables,
    }
}

/// The problems of `CableNames`, then one line per cable.
fn log_cables(cables: &CableNames) {
    if let Some(why) = cables.value_problem() {
        warn(CABLE_NAMES_VALUE, &why);
    }
    for (index, why) in cables.problems() {
        KernelPlatform.log(
            LogLevel::Warn,
            format_args!(
                "StartDevice: {PARAMETERS_KEY}\\{CABLE_NAMES_VALUE} entry {}: {why}; cable {} keeps its default name",
                index + 1,
                index + 1
            ),
        );
    }
    for (index, name) in cables.names().iter().enumerate() {
        // The reference string without its NUL.
        let reference = cable_reference(index)
            .and_then(|r| r.split_last())
            .map_or(&[][..], |(_, r)| r);
        KernelPlatform.log(
            LogLevel::Info,
            format_args!(
                "StartDevice: cable {}: \"{name}\" (subdevice {})",
                index + 1,
                Utf16(reference)
            ),
        );
    }
}
