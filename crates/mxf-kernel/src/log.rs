//! `DbgPrintEx` logging without allocation: the line is formatted into a stack buffer
//! (truncated at a character boundary when too long) and printed with a `"%s"` format, so
//! `%` in the text is never interpreted.

use core::sync::atomic::{AtomicU8, Ordering};
use mxf_core::platform::LogLevel;

use crate::sys;

/// The level printed when the registry does not say: errors, warnings and the bring-up lines
/// (`Info`); per-stream lines (`Trace`) need `TraceLevel` = 3.
pub const DEFAULT_LEVEL: LogLevel = LogLevel::Info;

/// The most detailed level printed (set from the registry at `DriverEntry`).
static MAX_LEVEL: AtomicU8 = AtomicU8::new(level_code(DEFAULT_LEVEL));

/// The `TraceLevel` registry value of a level: 0 error, 1 warning, 2 info, 3 trace.
pub const fn level_code(level: LogLevel) -> u8 {
    match level {
        LogLevel::Error => 0,
        LogLevel::Warn => 1,
        LogLevel::Info => 2,
        LogLevel::Trace => 3,
    }
}

/// The level of a `TraceLevel` registry value; larger values mean everything (`Trace`).
pub const fn level_from_code(code: u32) -> LogLevel {
    match code {
        0 => LogLevel::Error,
        1 => LogLevel::Warn,
        2 => LogLevel::Info,
        _ => LogLevel::Trace,
    }
}

/// Prints lines up to `level` from now on. Any IRQL.
pub fn set_max_level(level: LogLevel) {
    MAX_LEVEL.store(level_code(level), Ordering::Relaxed);
}

/// The most detailed level printed.
pub fn max_level() -> LogLevel {
    level_from_code(u32::from(MAX_LEVEL.load(Ordering::Relaxed)))
}

/// Whether a line at `level` is printed (the debugger's own `Kd_IHVAUDIO_Mask` filters
/// again).
pub fn enabled(level: LogLevel) -> bool {
    level <= max_level()
}

/// Bytes of one log line including the prefix, the newline and the terminating NUL
/// (`DbgPrintEx` prints at most 512 bytes per call).
pub const LINE_CAPACITY: usize = 256;
/// Prefix of every line, so `ed nt!Kd_IHVAUDIO_Mask` filters can be read with the source.
pub const PREFIX: &str = "mxfloop: ";

/// A NUL-terminated text line being formatted; keeps the first bytes that fit.
pub struct LineBuffer<const N: usize> {
    buf: [u8; N],
    len: usize,
    truncated: bool,
}

impl<const N: usize> Default for LineBuffer<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> LineBuffer<N> {
    /// An empty line.
    pub const fn new() -> Self {
        Self {
            buf: [0; N],
            len: 0,
            truncated: false,
        }
    }

    /// Room for text: two bytes stay reserved for `"\n\0"`.
    const fn text_capacity() -> usize {
        N.saturating_sub(2)
    }

    /// Whether some text did not fit.
    pub fn truncated(&self) -> bool {
        self.truncated
    }

    /// The text written so far.
    pub fn text(&self) -> &[u8] {
        self.buf.get(..self.len).unwrap_or(&[])
    }

    /// Ends the line with `"\n\0"` and returns it including the NUL (empty if `N < 2`).
    pub fn finish(&mut self) -> &[u8] {
        if N < 2 {
            return &[];
        }
        let mut i = self.len;
        for b in [b'\n', 0] {
            if let Some(slot) = self.buf.get_mut(i) {
                *slot = b;
                i += 1;
            }
        }
        self.buf.get(..i).unwrap_or(&[])
    }
}

impl<const N: usize> core::fmt::Write for LineBuffer<N> {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        let room = Self::text_capacity().saturating_sub(self.len);
        let mut take = s.len().min(room);
        while !s.is_char_boundary(take) {
            take -= 1;
        }
        if take < s.len() {
            self.truncated = true;
        }
        let src = s.as_bytes().get(..take).unwrap_or(&[]);
        let dst = self
            .buf
            .get_mut(self.len..self.len + src.len())
            .unwrap_or(&mut []);
        for (d, &b) in dst.iter_mut().zip(src) {
            // An interior NUL would end the C string early; show it instead.
            *d = if b == 0 { b'?' } else { b };
        }
        self.len += src.len();
        // Truncation is not an error: a log line must never make the caller fail.
        Ok(())
    }
}

/// The `DPFLTR_*_LEVEL` of a [`LogLevel`] (note the header's order: TRACE 2 < INFO 3).
pub const fn dpfltr_level(level: LogLevel) -> u32 {
    match level {
        LogLevel::Error => sys::DPFLTR_ERROR_LEVEL,
        LogLevel::Warn => sys::DPFLTR_WARNING_LEVEL,
        LogLevel::Info => sys::DPFLTR_INFO_LEVEL,
        LogLevel::Trace => sys::DPFLTR_TRACE_LEVEL,
    }
}

/// Formats `"mxfloop: <args>\n"` into a stack line buffer.
pub fn format_line(args: core::fmt::Arguments<'_>) -> LineBuffer<LINE_CAPACITY> {
    let mut line = LineBuffer::new();
    // Writing into a LineBuffer never fails; a Display impl that errors just ends the text.
    let _ = core::fmt::Write::write_str(&mut line, PREFIX);
    let _ = core::fmt::write(&mut line, args);
    line
}

/// Prints one line with `DbgPrintEx(DPFLTR_IHVAUDIO_ID, level, "%s", line)` if `level` is
/// [`enabled`].
#[cfg(windows)]
pub fn print(level: LogLevel, args: core::fmt::Arguments<'_>) {
    if !enabled(level) {
        return;
    }
    let mut line = format_line(args);
    let text = line.finish();
    if text.is_empty() {
        return;
    }
    // SAFETY: DbgPrintEx may be called at any IRQL <= DIRQL with a "%s" format (no Unicode
    // conversions, which would need PASSIVE_LEVEL); both strings are NUL-terminated (`finish`
    // wrote the NUL, the format literal has one) and live across the call; the variadic
    // argument is a pointer, matching `%s`.
    unsafe {
        sys::ntoskrnl::DbgPrintEx(
            sys::DPFLTR_IHVAUDIO_ID,
            dpfltr_level(level),
            c"%s".as_ptr(),
            text.as_ptr(),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::fmt::Write;

    #[test]
    fn formats_prefix_text_and_terminators() {
        let mut line = format_line(format_args!("x={} {}", 42, "ok"));
        assert_eq!(line.text(), b"mxfloop: x=42 ok");
        assert!(!line.truncated());
        assert_eq!(line.finish(), b"mxfloop: x=42 ok\n\0");
    }

    #[test]
    fn truncates_at_a_char_boundary_and_keeps_room_for_terminators() {
        let mut line = LineBuffer::<8>::new();
        // 6 bytes of text fit; "é" is two bytes and would straddle the limit.
        line.write_str("abcde").unwrap();
        line.write_str("éz").unwrap();
        assert_eq!(line.text(), b"abcde");
        assert!(line.truncated());
        assert_eq!(line.finish(), b"abcde\n\0");
    }

    #[test]
    fn long_lines_fill_the_buffer_exactly() {
        let mut line = format_line(format_args!("{:>1000}", "end"));
        assert!(line.truncated());
        assert_eq!(line.text().len(), LINE_CAPACITY - 2);
        let done = line.finish();
        assert_eq!(done.len(), LINE_CAPACITY);
        assert_eq!(done[LINE_CAPACITY - 1], 0);
        assert_eq!(done[LINE_CAPACITY - 2], b'\n');
    }

    #[test]
    fn interior_nul_and_percent_are_harmless() {
        let mut line = LineBuffer::<32>::new();
        line.write_str("a\0b %s").unwrap();
        assert_eq!(line.finish(), b"a?b %s\n\0");
    }

    #[test]
    fn tiny_buffers_do_not_overflow() {
        let mut zero = LineBuffer::<0>::new();
        zero.write_str("abc").unwrap();
        assert_eq!(zero.finish(), b"");
        let mut two = LineBuffer::<2>::new();
        two.write_str("abc").unwrap();
        assert_eq!(two.finish(), b"\n\0");
    }

    #[test]
    fn trace_level_codes_round_trip_and_filter() {
        for level in [
            LogLevel::Error,
            LogLevel::Warn,
            LogLevel::Info,
            LogLevel::Trace,
        ] {
            assert_eq!(level_from_code(u32::from(level_code(level))), level);
        }
        assert_eq!(level_from_code(7), LogLevel::Trace);
        assert_eq!(level_from_code(u32::MAX), LogLevel::Trace);
        assert_eq!(
            max_level(),
            DEFAULT_LEVEL,
            "nothing set it yet in this test binary"
        );
        assert!(enabled(LogLevel::Error) && enabled(LogLevel::Info));
        assert!(!enabled(LogLevel::Trace));
        set_max_level(LogLevel::Warn);
        assert!(enabled(LogLevel::Warn) && !enabled(LogLevel::Info));
        set_max_level(LogLevel::Trace);
        assert!(enabled(LogLevel::Trace));
        set_max_level(DEFAULT_LEVEL);
    }

    #[test]
    fn levels_map_to_dpfltr() {
        assert_eq!(dpfltr_level(LogLevel::Error), 0);
        assert_eq!(dpfltr_level(LogLevel::Warn), 1);
        assert_eq!(dpfltr_level(LogLevel::Trace), 2);
        assert_eq!(dpfltr_level(LogLevel::Info), 3);
    }
}
