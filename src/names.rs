//! Names shared by the code and the INF (`inf/mxfloop.inx`; `tests/inf.rs` checks they agree).

/// The subdevice name given to `PcRegisterSubdevice`: the reference string of the device
/// interfaces the INF adds (`KSCATEGORY_AUDIO/RENDER/CAPTURE`).
pub const SUBDEVICE_NAME: &str = "MxfLoop";

/// [`SUBDEVICE_NAME`] as NUL-terminated UTF-16, as `PcRegisterSubdevice` takes it.
pub const SUBDEVICE_NAME_W: [u16; SUBDEVICE_NAME.len() + 1] = utf16z(SUBDEVICE_NAME);

/// The service (and image: `<name>.sys`) the INF installs: the crate name.
pub const SERVICE_NAME: &str = env!("CARGO_PKG_NAME");

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
}
