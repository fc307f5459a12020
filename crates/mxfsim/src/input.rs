//! Workloads from files: a Standard MIDI File (timed by its tempo map), or raw MIDI bytes /
//! `.syx` (one message per unit, spaced at MIDI wire speed).

use crate::smf::{is_smf, read_smf};
use crate::workload::Unit;
use mxf_core::midi::{Event, Parser};

/// Wire time of one byte at 31250 baud (100 ns units).
pub const BYTE_TIME_100NS: i64 = 3_200;

/// Units of a file's bytes.
pub fn units_from_file(data: &[u8]) -> Result<Vec<Unit>, String> {
    if is_smf(data) {
        let ev = read_smf(data).map_err(|e| e.to_string())?;
        // A small offset so events at time 0 are not in the past when queued.
        let mut out: Vec<Unit> = ev
            .into_iter()
            .map(|e| Unit {
                offset: 10_000 + e.time_100ns,
                bytes: e.bytes,
            })
            .collect();
        out.retain(|u| !u.bytes.is_empty());
        return Ok(out);
    }
    Ok(raw_units(data))
}

/// Splits raw bytes into units at message boundaries, keeping the bytes as they are (running
/// status, realtime inside SysEx); each unit starts after the previous one's wire time.
pub fn raw_units(data: &[u8]) -> Vec<Unit> {
    let mut parser = Parser::new();
    let mut out = Vec::new();
    let mut input = data;
    let mut start = 0usize;
    let mut t: i64 = 10_000;
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
