//! The driver's registry settings (`Services\mxfloop\Parameters`), decoded. Pure, so that the
//! host tests cover every value; the kernel glue reads the raw `REG_DWORD`s.

use core::fmt;
use mxf_abi::NtStatus;
use mxf_core::capture::CaptureMode;

/// Why a setting fell back to its default.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SettingProblem {
    /// The value exists but could not be read (e.g. not a `REG_DWORD`).
    Unreadable(NtStatus),
    /// The value is out of range.
    OutOfRange(u32),
}

impl fmt::Display for SettingProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unreadable(status) => write!(f, "unreadable ({status:#010x}); using the default"),
            Self::OutOfRange(v) => write!(f, "{v} is not 0 or 1; using the default"),
        }
    }
}

/// The capture mode a read of `CaptureMode` selects (an absent value reads as the default, 0),
/// and why it fell back to [`CaptureMode::Whole`] if it did. Never fails the start.
pub fn capture_mode_setting(read: Result<u32, NtStatus>) -> (CaptureMode, Option<SettingProblem>) {
    match read {
        Ok(v) => match CaptureMode::from_registry(v) {
            Some(mode) => (mode, None),
            None => (CaptureMode::Whole, Some(SettingProblem::OutOfRange(v))),
        },
        Err(status) => (CaptureMode::Whole, Some(SettingProblem::Unreadable(status))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_and_one_select_the_modes() {
        assert_eq!(capture_mode_setting(Ok(0)), (CaptureMode::Whole, None));
        assert_eq!(capture_mode_setting(Ok(1)), (CaptureMode::Raw, None));
    }

    #[test]
    fn bad_values_keep_the_default_and_say_why() {
        assert_eq!(
            capture_mode_setting(Ok(7)),
            (CaptureMode::Whole, Some(SettingProblem::OutOfRange(7)))
        );
        let type_mismatch: NtStatus = mxf_abi::STATUS_INVALID_PARAMETER;
        let (mode, why) = capture_mode_setting(Err(type_mismatch));
        assert_eq!(mode, CaptureMode::Whole);
        assert_eq!(why, Some(SettingProblem::Unreadable(type_mismatch)));
        assert!(
            std::format!("{}", why.unwrap()).contains("using the default"),
            "the log line says what happens"
        );
    }
}
