//! A small Standard MIDI File reader: formats 0 and 1 (2 is read like 1), tempo changes
//! (`FF 51`), metrical and SMPTE time division, tracks merged in time order. Meta events are
//! skipped; SysEx (`F0`) and escapes (`F7`) are passed through as raw bytes.

/// One event of the merged file: its time in 100 ns units from the start, and its bytes
/// (running status expanded: every channel message carries its status).
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct SmfEvent {
    /// Time from the start of the file (100 ns).
    pub time_100ns: i64,
    /// The MIDI bytes.
    pub bytes: Vec<u8>,
}

/// Why a file could not be read.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct SmfError(pub String);

impl std::fmt::Display for SmfError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SMF: {}", self.0)
    }
}

fn bad<T>(msg: impl Into<String>) -> Result<T, SmfError> {
    Err(SmfError(msg.into()))
}

/// Whether `data` starts like a Standard MIDI File.
pub fn is_smf(data: &[u8]) -> bool {
    data.starts_with(b"MThd")
}

struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], SmfError> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.data.len());
        match end {
            Some(e) => {
                let s = &self.data[self.pos..e];
                self.pos = e;
                Ok(s)
            }
            None => bad(format!("truncated at byte {}", self.pos)),
        }
    }
    fn u8(&mut self) -> Result<u8, SmfError> {
        Ok(self.take(1)?[0])
    }
    fn u32(&mut self) -> Result<u32, SmfError> {
        let b = self.take(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }
    /// A variable-length quantity (at most 4 bytes, 28 bits).
    fn vlq(&mut self) -> Result<u32, SmfError> {
        let mut v: u32 = 0;
        for _ in 0..4 {
            let b = self.u8()?;
            v = (v << 7) | u32::from(b & 0x7F);
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        bad("variable-length quantity longer than 4 bytes")
    }
    fn done(&self) -> bool {
        self.pos >= self.data.len()
    }
}

/// A timed event of one track, before tempo conversion.
struct TickEvent {
    tick: u64,
    track: usize,
    seq: usize,
    kind: Kind,
}

enum Kind {
    Midi(Vec<u8>),
    Tempo(u32),
}

fn read_track(data: &[u8], track: usize, out: &mut Vec<TickEvent>) -> Result<(), SmfError> {
    let mut r = Reader { data, pos: 0 };
    let mut tick: u64 = 0;
    let mut running: Option<u8> = None;
    let mut seq = 0;
    while !r.done() {
        tick += u64::from(r.vlq()?);
        let first = r.u8()?;
        let kind = match first {
            0xFF => {
                let ty = r.u8()?;
                let len = r.vlq()? as usize;
                let body = r.take(len)?;
                if ty == 0x2F {
                    break;
                }
                if ty == 0x51 && len == 3 {
                    Some(Kind::Tempo(
                        (u32::from(body[0]) << 16) | (u32::from(body[1]) << 8) | u32::from(body[2]),
                    ))
                } else {
                    None
                }
            }
            0xF0 | 0xF7 => {
                // SysEx/escape events cancel running status (the SMF spec).
                running = None;
                let len = r.vlq()? as usize;
                let body = r.take(len)?;
                let mut b = Vec::with_capacity(len + 1);
                if first == 0xF0 {
                    b.push(0xF0);
                }
                b.extend_from_slice(body);
                (!b.is_empty()).then_some(Kind::Midi(b))
            }
            0x80..=0xEF => {
                running = Some(first);
                let n = mxf_core::midi::data_len(first).unwrap_or(0) as usize;
                let mut b = vec![first];
                b.extend_from_slice(r.take(n)?);
                Some(Kind::Midi(b))
            }
            0x00..=0x7F => {
                let Some(status) = running else {
                    return bad(format!("track {track}: data byte without running status"));
                };
                let n = mxf_core::midi::data_len(status).unwrap_or(0) as usize;
                let mut b = vec![status, first];
                b.extend_from_slice(r.take(n.saturating_sub(1))?);
                Some(Kind::Midi(b))
            }
            other => return bad(format!("track {track}: unexpected status {other:#04x}")),
        };
        if let Some(kind) = kind {
            out.push(TickEvent {
                tick,
                track,
                seq,
                kind,
            });
            seq += 1;
        }
    }
    Ok(())
}

/// Reads a Standard MIDI File: every MIDI and SysEx event of every track, merged in time
/// order (ties: track order, then file order), times converted with the tempo map (default
/// 120 bpm).
pub fn read_smf(data: &[u8]) -> Result<Vec<SmfEvent>, SmfError> {
    let mut r = Reader { data, pos: 0 };
    if r.take(4)? != b"MThd" {
        return bad("missing MThd");
    }
    let hlen = r.u32()? as usize;
    if hlen < 6 {
        return bad("header shorter than 6 bytes");
    }
    let hdr = r.take(hlen)?;
    let format = u16::from_be_bytes([hdr[0], hdr[1]]);
    let ntrks = u16::from_be_bytes([hdr[2], hdr[3]]) as usize;
    let division = u16::from_be_bytes([hdr[4], hdr[5]]);
    if format > 2 {
        return bad(format!("format {format}"));
    }
    if format == 0 && ntrks != 1 {
        return bad(format!("format 0 with {ntrks} tracks"));
    }
    let mut events = Vec::new();
    let mut track = 0;
    while track < ntrks && !r.done() {
        let id = r.take(4)?;
        let len = r.u32()? as usize;
        let body = r.take(len)?;
        if id == b"MTrk" {
            read_track(body, track, &mut events)?;
            track += 1;
        }
    }
    if track < ntrks {
        return bad(format!("{ntrks} tracks announced, {track} found"));
    }
    events.sort_by_key(|e| (e.tick, e.track, e.seq));
    // Time of one tick in 100 ns units, as a rational: num / den.
    let smpte = division & 0x8000 != 0;
    let tpq = u64::from(division & 0x7FFF);
    if !smpte && tpq == 0 {
        return bad("division 0");
    }
    let mut out = Vec::with_capacity(events.len());
    let (mut last_tick, mut time_num) = (0u64, 0u128);
    let mut tempo: u64 = 500_000; // µs per quarter note
    for e in events {
        let dt = u128::from(e.tick - last_tick);
        last_tick = e.tick;
        // 100 ns units × den, exact: den = tpq (metrical) or fps × tpf (SMPTE).
        if smpte {
            let fps = u128::from(((division >> 8) as i8).wrapping_neg() as u8);
            let tpf = u128::from(division & 0xFF);
            let den = (fps * tpf).max(1);
            time_num += dt * 10_000_000 * 1_000_000 / den;
        } else {
            time_num += dt * u128::from(tempo) * 10 * 1_000_000 / u128::from(tpq);
        }
        let time = i64::try_from(time_num / 1_000_000).unwrap_or(i64::MAX);
        match e.kind {
            Kind::Tempo(t) => tempo = u64::from(t.max(1)),
            Kind::Midi(bytes) => out.push(SmfEvent {
                time_100ns: time,
                bytes,
            }),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunk(id: &[u8; 4], body: &[u8]) -> Vec<u8> {
        let mut v = id.to_vec();
        v.extend_from_slice(&(body.len() as u32).to_be_bytes());
        v.extend_from_slice(body);
        v
    }

    fn header(format: u16, ntrks: u16, division: u16) -> Vec<u8> {
        let mut b = format.to_be_bytes().to_vec();
        b.extend_from_slice(&ntrks.to_be_bytes());
        b.extend_from_slice(&division.to_be_bytes());
        chunk(b"MThd", &b)
    }

    fn ev(t: i64, b: &[u8]) -> SmfEvent {
        SmfEvent {
            time_100ns: t,
            bytes: b.to_vec(),
        }
    }

    #[test]
    fn format0_running_status_and_default_tempo() {
        // 96 ticks per quarter at 120 bpm: one tick = 500000/96 µs.
        let track = [
            0x00, 0x90, 0x3C, 0x40, // note on at 0
            0x60, 0x3C, 0x00, // 96 ticks later, running status: note on vel 0
            0x81, 0x40, 0xC1, 0x05, // 192 ticks later: program change ch 2
            0x00, 0xFF, 0x2F, 0x00, // end of track
        ];
        let mut f = header(0, 1, 96);
        f.extend(chunk(b"MTrk", &track));
        let got = read_smf(&f).unwrap();
        assert_eq!(
            got,
            vec![
                ev(0, &[0x90, 0x3C, 0x40]),
                ev(5_000_000, &[0x90, 0x3C, 0x00]),
                ev(15_000_000, &[0xC1, 0x05]),
            ]
        );
    }

    #[test]
    fn format1_tempo_map_applies_to_all_tracks() {
        // Track 0: tempo 1 s per quarter at tick 0, then 0.25 s per quarter at tick 100.
        let t0 = [
            0x00, 0xFF, 0x51, 0x03, 0x0F, 0x42, 0x40, // 1,000,000 µs
            0x64, 0xFF, 0x51, 0x03, 0x03, 0xD0, 0x90, // tick 100: 250,000 µs
            0x00, 0xFF, 0x2F, 0x00,
        ];
        // Track 1: events at tick 50 and tick 200; a meta text event skipped.
        let t1 = [
            0x32, 0xB0, 0x07, 0x64, // tick 50
            0x00, 0xFF, 0x01, 0x02, b'h', b'i', // text meta, skipped
            0x81, 0x16, 0xE0, 0x00, 0x40, // +150 = tick 200
            0x00, 0xFF, 0x2F, 0x00,
        ];
        let mut f = header(1, 2, 100);
        f.extend(chunk(b"MTrk", &t0));
        f.extend(chunk(b"MTrk", &t1));
        let got = read_smf(&f).unwrap();
        // tick 50 = 0.5 s; tick 200 = 1 s + 100 ticks at 2.5 ms = 1.25 s.
        assert_eq!(
            got,
            vec![
                ev(5_000_000, &[0xB0, 0x07, 0x64]),
                ev(12_500_000, &[0xE0, 0x00, 0x40])
            ]
        );
    }

    #[test]
    fn sysex_and_escape_events_pass_through() {
        let track = [
            0x00, 0xF0, 0x03, 0x7E, 0x01, 0xF7, // F0 len 3: 7E 01 F7
            0x0A, 0xF7, 0x01, 0xF8, // escape: a raw F8, 10 ticks later
            0x00, 0xFF, 0x2F, 0x00,
        ];
        // SMPTE: 25 fps, 40 ticks per frame = 1 ms per tick.
        let mut f = header(0, 1, 0xE728);
        f.extend(chunk(b"MTrk", &track));
        let got = read_smf(&f).unwrap();
        assert_eq!(
            got,
            vec![ev(0, &[0xF0, 0x7E, 0x01, 0xF7]), ev(100_000, &[0xF8])]
        );
    }

    #[test]
    fn malformed_files_are_errors_not_panics() {
        assert!(read_smf(b"MThd").is_err());
        let mut f = header(0, 1, 96);
        f.extend(chunk(b"MTrk", &[0x00, 0x3C, 0x40])); // data without status
        assert!(read_smf(&f).is_err());
        let mut f = header(0, 2, 96);
        f.extend(chunk(b"MTrk", &[0x00, 0xFF, 0x2F, 0x00]));
        assert!(read_smf(&f).is_err()); // format 0 with 2 tracks
        let mut f = header(1, 2, 96);
        f.extend(chunk(b"MTrk", &[0x00, 0xFF, 0x2F, 0x00]));
        assert!(read_smf(&f).is_err()); // a track missing
        let mut f = header(0, 1, 96);
        f.extend(chunk(b"MTrk", &[0x00, 0x90, 0x3C])); // truncated event
        assert!(read_smf(&f).is_err());
        assert!(read_smf(&[0x4D, 0x54, 0x68, 0x64, 0, 0, 0, 6, 0, 0, 0, 1, 0, 0]).is_err());
    }
}
