//! Bounds-checked little-endian reads.

use std::fmt;

/// Why an image could not be read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PeError {
    /// A read of `len` bytes at `offset` went past the end of the data.
    OutOfBounds {
        /// What was being read.
        what: &'static str,
        /// File offset of the read.
        offset: usize,
        /// Bytes requested.
        len: usize,
    },
    /// A structural field has an impossible value.
    Malformed(String),
}

impl fmt::Display for PeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PeError::OutOfBounds { what, offset, len } => {
                write!(
                    f,
                    "truncated image: {what} ({len} bytes at offset {offset:#x})"
                )
            }
            PeError::Malformed(m) => write!(f, "malformed image: {m}"),
        }
    }
}

impl std::error::Error for PeError {}

/// `len` bytes at `offset`.
pub fn bytes<'a>(
    data: &'a [u8],
    offset: usize,
    len: usize,
    what: &'static str,
) -> Result<&'a [u8], PeError> {
    offset
        .checked_add(len)
        .and_then(|end| data.get(offset..end))
        .ok_or(PeError::OutOfBounds { what, offset, len })
}

/// A little-endian `u16` at `offset`.
pub fn u16_at(data: &[u8], offset: usize, what: &'static str) -> Result<u16, PeError> {
    let b = bytes(data, offset, 2, what)?;
    Ok(u16::from_le_bytes([b[0], b[1]]))
}

/// A little-endian `u32` at `offset`.
pub fn u32_at(data: &[u8], offset: usize, what: &'static str) -> Result<u32, PeError> {
    let b = bytes(data, offset, 4, what)?;
    Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

/// A little-endian `u64` at `offset`.
pub fn u64_at(data: &[u8], offset: usize, what: &'static str) -> Result<u64, PeError> {
    let b = bytes(data, offset, 8, what)?;
    let mut a = [0u8; 8];
    a.copy_from_slice(b);
    Ok(u64::from_le_bytes(a))
}

/// A NUL-terminated ASCII string at `offset` (at most `max` bytes before the NUL).
pub fn cstr_at(
    data: &[u8],
    offset: usize,
    max: usize,
    what: &'static str,
) -> Result<String, PeError> {
    let tail = data.get(offset..).ok_or(PeError::OutOfBounds {
        what,
        offset,
        len: 1,
    })?;
    let limit = tail.len().min(max.saturating_add(1));
    let window = &tail[..limit];
    let end = window
        .iter()
        .position(|&b| b == 0)
        .ok_or_else(|| PeError::Malformed(format!("{what}: unterminated string at {offset:#x}")))?;
    let s = &window[..end];
    if !s.iter().all(|b| b.is_ascii_graphic()) {
        return Err(PeError::Malformed(format!(
            "{what}: non-printable name at {offset:#x}"
        )));
    }
    Ok(String::from_utf8_lossy(s).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_are_bounds_checked() {
        let d = [1u8, 2, 3, 4, 5];
        assert_eq!(u16_at(&d, 3, "x"), Ok(0x0504));
        assert!(u16_at(&d, 4, "x").is_err());
        assert!(u32_at(&d, 2, "x").is_err());
        assert!(u64_at(&d, 0, "x").is_err());
        assert!(bytes(&d, usize::MAX, 2, "x").is_err());
    }

    #[test]
    fn strings_must_end_and_be_printable() {
        assert_eq!(cstr_at(b"abc\0def", 0, 16, "s").unwrap(), "abc");
        assert!(cstr_at(b"abc", 0, 16, "s").is_err());
        assert!(cstr_at(b"abcdef\0", 0, 3, "s").is_err());
        assert!(cstr_at(b"a\x01\0", 0, 16, "s").is_err());
        assert!(cstr_at(b"a\0", 9, 16, "s").is_err());
    }
}
