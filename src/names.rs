//! Names shared by the code and the INF (`inf/mxfloop.inx`; `tests/inf.rs` checks they agree).

/// The subdevice name given to `PcRegisterSubdevice`: the reference string of the device
/// interfaces the INF adds (`KSCATEGORY_AUDIO/RENDER/CAPTURE`).
pub const SUBDEVICE_NAME: &str = "MxfLoop";

/// [`SUBDEVICE_NAME`] as NUL-terminated UTF-16, as `PcRegisterSubdevice` takes it.
pub const SUBDEVICE_NAME_W: [u16; SUBDEVICE_NAME.len() + 1] = utf16z(SUBDEVICE_NAME);

/// The service (and image: `<name>.sys`) the INF installs: the crate name.
pub const SERVICE_NAME: &str = env!("CARGO_PKG_NAME");

/// The driver's settings key under the Services key (`<service>\Parameters`), as
/// `RtlQueryRegistryValues(RTL_REGISTRY_SERVICES, ...)` takes it. The INF creates it.
pub const PARAMETERS_KEY: &str = "mxfloop\\Parameters";
/// [`PARAMETERS_KEY`] as NUL-terminated UTF-16.
pub const PARAMETERS_KEY_W: [u16; PARAMETERS_KEY.len() + 1] = utf16z(PARAMETERS_KEY);

/// The `REG_DWORD` under [`PARAMETERS_KEY`] that selects the most detailed trace level
/// printed, read at `DriverEntry`: 0 errors, 1 + warnings, 2 + bring-up (info, the default),
/// 3 + per-stream trace lines.
pub const TRACE_LEVEL_VALUE: &str = "TraceLevel";
/// [`TRACE_LEVEL_VALUE`] as NUL-terminated UTF-16.
pub const TRACE_LEVEL_VALUE_W: [u16; TRACE_LEVEL_VALUE.len() + 1] = utf16z(TRACE_LEVEL_VALUE);

/// The `REG_DWORD` under [`PARAMETERS_KEY`] that selects how capture events are flagged, read
/// when the miniport is created (StartDevice): 0 whole messages COMPLETE, fragments of longer
/// ones INCOMPLETE (the default); 1 every event INCOMPLETE, raw bytes for the port's sink to
/// parse (Microsoft's DMusUART convention). Any other value keeps the default and is logged.
pub const CAPTURE_MODE_VALUE: &str = "CaptureMode";
/// [`CAPTURE_MODE_VALUE`] as NUL-terminated UTF-16.
pub const CAPTURE_MODE_VALUE_W: [u16; CAPTURE_MODE_VALUE.len() + 1] = utf16z(CAPTURE_MODE_VALUE);

/// Subdevices PortCls must make room for in `PcAddAdapterDevice` (the DMus port only).
pub const MAX_MINIPORTS: u32 = 1;

/// ASCII `s` as NUL-terminated UTF-16; `N` must be `s.len() + 1` (checked at compile time).
pub const fn utf16z<const N: usize>(s: &str) -> [u16; N] {
    let b = s.as_bytes();
    assert!(b.len() + 1 == N, "utf16z: N must be len + 1");
    let mut out = [0u16; N];
    let mut i = 0;
    while i < b.len() {
        assert!(
            b[i].is_ascii() && b[i] != 0,
            "utf16z: ASCII without NUL only"
        );
        out[i] = b[i] as u16;
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wide_name_matches_and_is_terminated() {
        let decoded = String::from_utf16(&SUBDEVICE_NAME_W[..SUBDEVICE_NAME.len()]).unwrap();
        assert_eq!(decoded, SUBDEVICE_NAME);
        assert_eq!(SUBDEVICE_NAME_W.last(), Some(&0));
        assert!(!SUBDEVICE_NAME_W[..SUBDEVICE_NAME.len()].contains(&0));
    }

    #[test]
    fn service_is_the_crate() {
        assert_eq!(SERVICE_NAME, "mxfloop");
    }

    #[test]
    fn the_parameters_key_is_the_services_parameters_subkey() {
        assert_eq!(PARAMETERS_KEY, format!("{SERVICE_NAME}\\Parameters"));
        let decoded = String::from_utf16(&PARAMETERS_KEY_W[..PARAMETERS_KEY.len()]).unwrap();
        assert_eq!(decoded, PARAMETERS_KEY);
        assert_eq!(PARAMETERS_KEY_W.last(), Some(&0));
        assert_eq!(TRACE_LEVEL_VALUE_W.last(), Some(&0));
    }
}
