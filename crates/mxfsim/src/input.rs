//! Workloads from files: a Standard MIDI File (timed by its tempo map), or raw MIDI bytes /
//! `.syx` (one message per unit, spaced at MIDI wire speed).

use crate::smf::{is_smf, read_smf};
use crate::workload::Unit;
use mxf_core::midi::{Event, Parser};

pub use crate::smf::MAX_TIME_100NS;

/// Wire time of one byte at 31250 baud (100 ns units).
pub const BYTE_TIME_100NS: i64 = 3_200;

/// Offset of a file's time 0 from the start of the stream, so that events at time 0 are not
/// in the past when queued (100 ns).
const START_OFFSET_100NS: i64 = 10_000;

/// A file made ready to play: its units, and what was ignored reading it, in words.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct Input {
    /// The units, in time order; offsets at most `MAX_TIME_100NS` plus a millisecond.
    pub units: Vec<Unit>,
    /// Parts of the file skipped without changing what is played.
    pub notes: Vec<String>,
}

/// Units of a file's bytes: a Standard MIDI File (from `MThd`), else raw MIDI bytes. An
/// error says what was rejected and where.
pub fn units_from_file(data: &[u8]) -> Result<Input, String> {
    if data.is_empty() {
        return Err("empty file: nothing to play".into());
    }
    if data.starts_with(b"RIFF") && data.get(8..12) == Some(b"RMID") {
        return Err("a RIFF MIDI (RMID) file: give the Standard MIDI File inside it".into());
    }
    if is_smf(data) {
        let smf = read_smf(data).map_err(|e| e.to_string())?;
        let units: Vec<Unit> = smf
            .events
            .into_iter()
            .filter(|e| !e.bytes.is_empty())
            .map(|e| Unit {
                offset: START_OFFSET_100NS + e.time_100ns,
                bytes: e.bytes,
            })
            .collect();
        if units.is_empty() {
            return Err("SMF: no MIDI or SysEx event in any track: nothing to play".into());
        }
        return Ok(Input {
            units,
            notes: smf.notes,
        });
    }
    Ok(Input {
        units: raw_units(data),
        notes: Vec::new(),
    })
}

/// Splits raw bytes into units at message boundaries, keeping the bytes as they are (running
/// status, realtime inside SysEx); each unit starts after the previous one's wire time.
pub fn raw_units(data: &[u8]) -> Vec<Unit> {
    let mut parser = Parser::new();
    let mut out = Vec::new();
    let mut input = data;
    let mut start = 0usize;
    let mut t: i64 = START_OFFSET_100NS;
    while let Some(ev) = parser.next(&mut input) {
        let end = data.len() - input.len();
        let boundary = match ev {
            Event::Message(_) => !parser.in_sysex(),
            Event::SysExEnd => true,
            _ => false,
        };
        if boundary && end > start {
            let bytes = data[start..end].to_vec();
            let wire = bytes.len() as i64 * BYTE_TIME_100NS;
            out.push(Unit { offset: t, bytes });
            t += wire;
            start = end;
        }
    }
    if start < data.len() {
        out.push(Unit {
            offset: t,
            bytes: data[start..].to_vec(),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_bytes_split_at_message_boundaries_keeping_every_byte() {
        let data = [
            0x90, 0x3C, 0x40, 0x3E, 0x41, 0xF0, 1, 0xF8, 2, 0xF7, 0xF8, 0x80,
        ];
        let u = raw_units(&data);
        let bytes: Vec<Vec<u8>> = u.iter().map(|u| u.bytes.clone()).collect();
        assert_eq!(
            bytes,
            vec![
                vec![0x90, 0x3C, 0x40],
                vec![0x3E, 0x41],
                vec![0xF0, 1, 0xF8, 2, 0xF7],
                vec![0xF8],
                vec![0x80],
            ]
        );
        assert_eq!(u[1].offset - u[0].offset, 3 * BYTE_TIME_100NS);
    }
}
