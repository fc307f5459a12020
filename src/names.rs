//! Names shared by the code and the INF (`inf/mxfloop.inx`; `tests/inf.rs` checks they agree).

/// Most cables (DMus subdevices) one device installs; the registry value `CableCount` selects
/// 1 to this many. Bounded because each possible cable costs something up front or at worst:
/// the INF declares one KS interface per category for every possible cable (3 × 16 lines, each
/// an interface instance PnP registers at install), PortCls reserves `MaxObjects` create items
/// for them in `PcAddAdapterDevice` ([`MAX_MINIPORTS`]), and every capture stream of a cable
/// (up to `mxf_core::cable::MAX_READERS`) owns a loopback of up to 1 MiB of nonpaged pool while
/// full, so 16 cables with every reader open and behind hold at most 16 × 8 MiB. Sixteen covers
/// the setups loopback users build (LoopBe30 offers 30 ports, most setups use a handful)
/// without making every install carry hundreds of unused interfaces.
pub const MAX_CABLES: usize = 16;

/// Subdevices PortCls must make room for in `PcAddAdapterDevice`: one DMus port per cable.
pub const MAX_MINIPORTS: u32 = MAX_CABLES as u32;

/// The reference strings of the cables' subdevices are this prefix and the cable's number
/// (1-based, decimal, no padding): `MxfLoop1` … `MxfLoop16`. Fixed, ASCII, without spaces: the
/// reference string links the INF's `AddInterface` lines to `PcRegisterSubdevice`; the name a
/// user sees is the interface's `FriendlyName`.
pub const CABLE_REFERENCE_PREFIX: &str = "MxfLoop";

/// UTF-16 units of the longest reference string with its NUL (`MxfLoop16`).
const REFERENCE_UNITS: usize = CABLE_REFERENCE_PREFIX.len() + 3;

/// The default friendly names are this prefix, a space and the cable's number: `MxfLoop 1` ….
pub const DEFAULT_NAME_PREFIX: &str = "MxfLoop ";

/// Most UTF-16 units of a cable's friendly name, without its NUL: WinMM's `MIDIOUTCAPS` and
/// `MIDIINCAPS` hold a device name in `MAXPNAMELEN` (32) units with the NUL, so a longer name
/// would be cut in every WinMM application's device list.
pub const MAX_NAME_UNITS: usize = 31;

/// The cables' reference strings as NUL-terminated UTF-16, NUL-padded (index 0: cable 1).
static CABLE_REFERENCES_W: [[u16; REFERENCE_UNITS]; MAX_CABLES] = cable_references();

/// The reference string of cable `index` (0-based) as NUL-terminated UTF-16, as
/// `PcRegisterSubdevice` and `IoRegisterDeviceInterface` take it; `None` past [`MAX_CABLES`].
pub fn cable_reference(index: usize) -> Option<&'static [u16]> {
    let padded = CABLE_REFERENCES_W.get(index)?;
    let len = padded.iter().position(|&u| u == 0)?;
    padded.get(..=len)
}

/// Writes `prefix` and `number` in decimal as UTF-16 into `out` (NUL-padded); returns the
/// units written. `out` must hold them (checked at compile time for the tables here).
const fn prefixed_number(prefix: &str, number: usize, out: &mut [u16]) -> usize {
    let p = prefix.as_bytes();
    let mut i = 0;
    while i < p.len() {
        out[i] = p[i] as u16;
        i += 1;
    }
    if number >= 10 {
        out[i] = (b'0' + (number / 10) as u8) as u16;
        i += 1;
    }
    out[i] = (b'0' + (number % 10) as u8) as u16;
    i + 1
}

const _: () = assert!(MAX_CABLES < 100, "two decimal digits at most");

const fn cable_references() -> [[u16; REFERENCE_UNITS]; MAX_CABLES] {
    let mut table = [[0u16; REFERENCE_UNITS]; MAX_CABLES];
    let mut c = 0;
    while c < MAX_CABLES {
        prefixed_number(CABLE_REFERENCE_PREFIX, c + 1, &mut table[c]);
        c += 1;
    }
    table
}

/// The default friendly name of cable `index` (0-based): [`DEFAULT_NAME_PREFIX`] and the
/// cable's number, as UTF-16 units without a NUL, padded with NULs; returns the units and their
/// count. `index` must be below [`MAX_CABLES`] (callers iterate over the cables).
pub const fn default_name_units(index: usize) -> ([u16; MAX_NAME_UNITS], usize) {
    let mut out = [0u16; MAX_NAME_UNITS];
    let len = prefixed_number(DEFAULT_NAME_PREFIX, index + 1, &mut out);
    (out, len)
}

/// The service (and image: `<name>.sys`) the INF installs: the crate name.
pub const SERVICE_NAME: &str = env!("CARGO_PKG_NAME");

/// The driver's settings key under the Services key (`<service>\Parameters`), as
/// `RtlQueryRegistryValues(RTL_REGISTRY_SERVICES, ...)` takes it. The INF creates it. Every
/// setting lives here, also the per-device ones (cables, names): `TraceLevel` is read at
/// `DriverEntry`, before any device exists, so it cannot live in a device's key, and one key
/// for all settings is one place for users to look; the device is root-enumerated once.
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

/// The `REG_DWORD` under [`PARAMETERS_KEY`] with the number of cables, read at StartDevice:
/// 1 (the default) to [`MAX_CABLES`]; another value keeps the default and is logged.
pub const CABLE_COUNT_VALUE: &str = "CableCount";
/// [`CABLE_COUNT_VALUE`] as NUL-terminated UTF-16.
pub const CABLE_COUNT_VALUE_W: [u16; CABLE_COUNT_VALUE.len() + 1] = utf16z(CABLE_COUNT_VALUE);

/// The `REG_MULTI_SZ` under [`PARAMETERS_KEY`] with the cables' friendly names in cable order,
/// read at StartDevice (decoded by `settings::cable_names_setting`).
pub const CABLE_NAMES_VALUE: &str = "CableNames";
/// [`CABLE_NAMES_VALUE`] as NUL-terminated UTF-16.
pub const CABLE_NAMES_VALUE_W: [u16; CABLE_NAMES_VALUE.len() + 1] = utf16z(CABLE_NAMES_VALUE);

/// The `REG_DWORD` under [`PARAMETERS_KEY`] with the feedback guard's message rate, read at
/// StartDevice (`mxf_core::feedback::FeedbackConfig::from_registry`: 0 disables the guard).
pub const FEEDBACK_VALUE: &str = "FeedbackMaxMessagesPerSecond";
/// [`FEEDBACK_VALUE`] as NUL-terminated UTF-16.
pub const FEEDBACK_VALUE_W: [u16; FEEDBACK_VALUE.len() + 1] = utf16z(FEEDBACK_VALUE);

/// The value name the friendly name of a device interface is stored under (in the interface's
/// device parameters key, `IoOpenDeviceInterfaceRegistryKey`), as the INF's interface AddReg
/// writes it.
pub const FRIENDLY_NAME_VALUE: &str = "FriendlyName";
/// [`FRIENDLY_NAME_VALUE`] as NUL-terminated UTF-16.
pub const FRIENDLY_NAME_VALUE_W: [u16; FRIENDLY_NAME_VALUE.len() + 1] = utf16z(FRIENDLY_NAME_VALUE);

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
    use std::string::String;

    fn decode(w: &[u16]) -> String {
        String::from_utf16(w).unwrap()
    }

    #[test]
    fn reference_strings_are_the_prefix_and_the_cable_number_nul_terminated() {
        assert_eq!(decode(cable_reference(0).unwrap()), "MxfLoop1\0");
        assert_eq!(decode(cable_reference(8).unwrap()), "MxfLoop9\0");
        assert_eq!(decode(cable_reference(9).unwrap()), "MxfLoop10\0");
        assert_eq!(decode(cable_reference(15).unwrap()), "MxfLoop16\0");
        assert_eq!(cable_reference(MAX_CABLES), None);
        let all: std::collections::BTreeSet<String> = (0..MAX_CABLES)
            .map(|i| decode(cable_reference(i).unwrap()))
            .collect();
        assert_eq!(all.len(), MAX_CABLES, "unique");
        for r in &all {
            let body = r.strip_suffix('\0').unwrap();
            assert!(body.bytes().all(|b| b.is_ascii_alphanumeric()), "{r}");
        }
    }

    #[test]
    fn default_names_are_the_prefix_a_space_and_the_number() {
        let name = |i| {
            let (units, len) = default_name_units(i);
            decode(&units[..len])
        };
        assert_eq!(name(0), "MxfLoop 1");
        assert_eq!(name(15), "MxfLoop 16");
        assert!(default_name_units(15).1 <= MAX_NAME_UNITS);
    }

    #[test]
    fn the_memory_bound_stated_for_max_cables_is_the_loopbacks() {
        // MAX_CABLES's documentation and the README: 8 readers of 1 MiB each per cable.
        assert_eq!(mxf_core::cable::MAX_READERS, 8);
        assert_eq!(
            mxf_core::loopback::LoopbackConfig::DEFAULT.capacity,
            1 << 20
        );
    }

    #[test]
    fn service_is_the_crate() {
        assert_eq!(SERVICE_NAME, "mxfloop");
        assert_eq!(MAX_MINIPORTS as usize, MAX_CABLES);
    }

    #[test]
    fn the_parameters_key_is_the_services_parameters_subkey() {
        assert_eq!(PARAMETERS_KEY, format!("{SERVICE_NAME}\\Parameters"));
        let decoded = String::from_utf16(&PARAMETERS_KEY_W[..PARAMETERS_KEY.len()]).unwrap();
        assert_eq!(decoded, PARAMETERS_KEY);
        for w in [
            &PARAMETERS_KEY_W[..],
            &TRACE_LEVEL_VALUE_W,
            &CAPTURE_MODE_VALUE_W,
            &CABLE_COUNT_VALUE_W,
            &CABLE_NAMES_VALUE_W,
            &FEEDBACK_VALUE_W,
            &FRIENDLY_NAME_VALUE_W,
        ] {
            assert_eq!(w.last(), Some(&0));
            assert!(!w[..w.len() - 1].contains(&0));
        }
    }
}
