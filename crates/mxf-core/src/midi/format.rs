//! The text form of a MIDI byte stream (`mxfsim parse`): one line per message.

use super::message::is_realtime;
use super::parser::{Event, Parser, ParserStats};
use core::fmt::{self, Write};

/// Writes one line per message of `bytes` to `out`, in the order in which the messages
/// complete: lowercase two-digit hex bytes separated by single spaces, each line ending in
/// `\n`, running status expanded.
///
/// - A realtime byte is a line of its own, placed where it occurs — so one found inside a
///   SysEx (or between a status byte and its data) comes *before* the line of the message it
///   interrupted, which completes later.
/// - A SysEx is one line from `f0` to `f7`, realtime bytes lifted out.
/// - A SysEx cut short by a status byte, or still open at the end of `bytes`, is printed up to
///   where it stopped, without `f7` (that is what the loopback delivers, marked incomplete).
/// - Stray data bytes, stray `f7`s and messages cut short are not printed (see the returned
///   counters).
///
/// No allocation: a SysEx line is printed from `bytes` itself once its end is known.
pub fn format_messages<W: Write>(bytes: &[u8], out: &mut W) -> Result<ParserStats, fmt::Error> {
    let mut parser = Parser::new();
    let mut input = bytes;
    let mut sysex_start = 0usize;
    while let Some(ev) = parser.next(&mut input) {
        let after = bytes.len() - input.len();
        match ev {
            Event::Message(m) => write_line(out, m.as_bytes().iter().copied())?,
            // `F0` is the last byte the call consumed (strays before it are skipped in the same
            // call).
            Event::SysExStart => sysex_start = after.saturating_sub(1),
            Event::SysExData(_) => {}
            Event::SysExEnd | Event::SysExCut => write_sysex(out, bytes, sysex_start, after)?,
        }
    }
    if parser.finish() {
        write_sysex(out, bytes, sysex_start, bytes.len())?;
    }
    Ok(*parser.stats())
}

fn write_sysex<W: Write>(out: &mut W, bytes: &[u8], start: usize, end: usize) -> fmt::Result {
    let body = bytes.get(start..end).unwrap_or(&[]);
    write_line(out, body.iter().copied().filter(|&b| !is_realtime(b)))
}

fn write_line<W: Write>(out: &mut W, mut line: impl Iterator<Item = u8>) -> fmt::Result {
    if let Some(first) = line.next() {
        write!(out, "{first:02x}")?;
        for b in line {
            write!(out, " {b:02x}")?;
        }
        out.write_char('\n')?;
    }
    Ok(())
}
