//! Picking WinMM devices by name (portable, so it is tested everywhere).

/// Substring looked for in device names when `--device` is not given (case-insensitive, so
/// it matches both "MxfLoop" and "mxfloop").
pub const DEFAULT_DEVICE: &str = "mxfloop";

/// Decodes a NUL-terminated UTF-16 `szPname`.
pub fn wide_name(raw: &[u16]) -> String {
    let end = raw.iter().position(|&c| c == 0).unwrap_or(raw.len());
    String::from_utf16_lossy(&raw[..end])
}

/// Why no device was chosen.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SelectError {
    /// No name contains the needle.
    NotFound,
    /// Several names contain the needle and none equals it.
    Ambiguous(Vec<String>),
}

/// Index of the device whose name contains `needle` (case-insensitive). A name equal to
/// the needle wins over mere substring matches; several substring matches are ambiguous.
pub fn select(names: &[String], needle: &str) -> Result<usize, SelectError> {
    let needle = needle.to_lowercase();
    let hits: Vec<usize> = names
        .iter()
        .enumerate()
        .filter(|(_, n)| n.to_lowercase().contains(&needle))
        .map(|(i, _)| i)
        .collect();
    if let Some(&exact) = hits
        .iter()
        .find(|&&i| names.get(i).is_some_and(|n| n.to_lowercase() == needle))
    {
        return Ok(exact);
    }
    match hits.as_slice() {
        [] => Err(SelectError::NotFound),
        [one] => Ok(*one),
        many => Err(SelectError::Ambiguous(
            many.iter().filter_map(|&i| names.get(i).cloned()).collect(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn wide_names_stop_at_nul() {
        let mut raw = [0u16; 32];
        for (d, s) in raw.iter_mut().zip("MxfLoop 1".encode_utf16()) {
            *d = s;
        }
        assert_eq!(wide_name(&raw), "MxfLoop 1");
        let full: Vec<u16> = "ab".encode_utf16().collect();
        assert_eq!(wide_name(&full), "ab");
    }

    #[test]
    fn selection_rules() {
        let n = names(&["Microsoft GS Wavetable Synth", "MxfLoop", "USB MIDI"]);
        assert_eq!(select(&n, DEFAULT_DEVICE), Ok(1));
        assert_eq!(select(&n, "usb"), Ok(2));
        assert_eq!(select(&n, "nothing"), Err(SelectError::NotFound));
        let n = names(&["MxfLoop A", "MxfLoop B"]);
        assert!(matches!(select(&n, "mxfloop"), Err(SelectError::Ambiguous(v)) if v.len() == 2));
        assert_eq!(select(&n, "loop b"), Ok(1));
        let n = names(&["MxfLoop 2", "mxfloop"]);
        assert_eq!(select(&n, "MXFLOOP"), Ok(1));
    }
}
