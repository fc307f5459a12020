//! A small Standard MIDI File reader: formats 0 and 1 (2 is read like 1), tempo changes
//! (`FF 51`), metrical and SMPTE time division, tracks merged in time order. Meta events are
//! skipped; SysEx (`F0`) and escapes (`F7`) are passed through as raw bytes. What it accepts
//! and rejects is listed in the README ("What `--file` accepts"); every rejection names the
//! track and byte where the file went wrong.

/// The latest event time a file may have (100 ns units from its start): 10^11 s, about
/// 3,169 years. Far beyond any real file, and far enough below the emulated clock's range
/// (`i64`, about 29,000 years) that no sum of an event time, the run's start and the
/// pipeline's latencies and grace periods can overflow. A later event is an input error.
pub const MAX_TIME_100NS: i64 = 1_000_000_000_000_000_000;

/// One event of the merged file: its time in 100 ns units from the start, and its bytes
/// (running status expanded: every channel message carries its status).
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct SmfEvent {
    /// Time from the start of the file (100 ns), at most [`MAX_TIME_100NS`].
    pub time_100ns: i64,
    /// The MIDI bytes.
    pub bytes: Vec<u8>,
}

/// A file read: its events, and what was ignored on the way, in words.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct Smf {
    /// Every MIDI and SysEx event, in time order.
    pub events: Vec<SmfEvent>,
    /// Parts of the file skipped without changing what is played (unknown chunks, bytes
    /// after an end-of-track event, chunks after the announced tracks, ...).
    pub notes: Vec<String>,
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

/// A cursor over one chunk (or the whole file), naming itself in its errors.
struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
    /// "the file", "track 2", ...: where an error happened.
    what: &'a str,
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
            None => bad(format!(
                "{}: truncated: {n} byte(s) needed at byte {} of {}",
                self.what,
                self.pos,
                self.data.len()
            )),
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
        let at = self.pos;
        let mut v: u32 = 0;
        for _ in 0..4 {
            let b = self.u8()?;
            v = (v << 7) | u32::from(b & 0x7F);
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        bad(format!(
            "{}: variable-length quantity longer than 4 bytes at byte {at}",
            self.what
        ))
    }
    /// A length (a variable-length quantity) whose bytes must follow in the chunk.
    fn len(&mut self) -> Result<usize, SmfError> {
        Ok(self.vlq()? as usize)
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

fn read_track(
    data: &[u8],
    track: usize,
    out: &mut Vec<TickEvent>,
    notes: &mut Vec<String>,
) -> Result<(), SmfError> {
    let what = format!("track {track}");
    let mut r = Reader {
        data,
        pos: 0,
        what: &what,
    };
    let mut tick: u64 = 0;
    let mut running: Option<u8> = None;
    let mut seq = 0;
    let mut ended = false;
    while !r.done() {
        tick += u64::from(r.vlq()?);
        let at = r.pos;
        let first = r.u8()?;
        let kind = match first {
            0xFF => {
                let ty = r.u8()?;
                let len = r.len()?;
                let body = r.take(len)?;
                match (ty, body) {
                    (0x2F, _) => {
                        ended = true;
                        break;
                    }
                    (0x51, &[a, b, c]) => {
                        let t = (u32::from(a) << 16) | (u32::from(b) << 8) | u32::from(c);
                        if t == 0 {
                            return bad(format!("{what}: tempo 0 (FF 51) at byte {at}"));
                        }
                        Some(Kind::Tempo(t))
                    }
                    (0x51, _) => {
                        return bad(format!(
                            "{what}: tempo event (FF 51) of {len} byte(s) at byte {at}, not 3"
                        ));
                    }
                    _ => None,
                }
            }
            0xF0 | 0xF7 => {
                // SysEx/escape events cancel running status (the SMF spec).
                running = None;
                let len = r.len()?;
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
                    return bad(format!(
                        "{what}: data byte {first:#04x} at byte {at} without running status"
                    ));
                };
                let n = mxf_core::midi::data_len(status).unwrap_or(0) as usize;
                let mut b = vec![status, first];
                b.extend_from_slice(r.take(n.saturating_sub(1))?);
                Some(Kind::Midi(b))
            }
            other => {
                return bad(format!(
                    "{what}: status {other:#04x} at byte {at} is not an SMF event (system \
                     common and realtime bytes go in an F7 escape)"
                ));
            }
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
    if !ended {
        notes.push(format!("{what} has no end-of-track event (FF 2F)"));
    } else if !r.done() {
        notes.push(format!(
            "{what}: {} byte(s) after its end-of-track event ignored",
            data.len() - r.pos
        ));
    }
    Ok(())
}

/// The header's time division.
enum Division {
    /// Ticks per quarter note (the tempo map applies).
    Metrical(u64),
    /// Frames per second (numerator, denominator) and ticks per frame.
    Smpte(u64, u64, u64),
}

impl Division {
    fn of(division: u16) -> Result<Self, SmfError> {
        if division & 0x8000 == 0 {
            return match division {
                0 => bad("division 0 (ticks per quarter note)"),
                d => Ok(Self::Metrical(u64::from(d))),
            };
        }
        let fps = (division >> 8) as u8 as i8;
        let tpf = u64::from(division & 0xFF);
        // -29 is 30 drop-frame: 29.97 (30000/1001) frames per second of real time.
        let (num, den) = match fps {
            -24 => (24, 1),
            -25 => (25, 1),
            -29 => (30_000, 1001),
            -30 => (30, 1),
            other => {
                return bad(format!(
                    "SMPTE division with {} frames per second (-24, -25, -29 or -30)",
                    other
                ));
            }
        };
        if tpf == 0 {
            return bad("SMPTE division with 0 ticks per frame");
        }
        Ok(Self::Smpte(num, den, tpf))
    }

    /// The length of `dt` ticks at `tempo` (µs per quarter note) as `100 ns × SCALE`.
    fn ticks(&self, dt: u64, tempo: u64) -> u128 {
        let dt = u128::from(dt);
        match *self {
            Self::Metrical(tpq) => dt * u128::from(tempo) * 10 * SCALE / u128::from(tpq),
            Self::Smpte(num, den, tpf) => {
                dt * 10_000_000 * SCALE * u128::from(den) / (u128::from(num) * u128::from(tpf))
            }
        }
    }
}

/// Fixed-point scale of the running time, so that rounding does not add up over events.
const SCALE: u128 = 1_000_000;

/// Reads a Standard MIDI File: every MIDI and SysEx event of every track, merged in time
/// order (ties: track order, then file order), times converted with the tempo map (default
/// 120 bpm).
pub fn read_smf(data: &[u8]) -> Result<Smf, SmfError> {
    let mut r = Reader {
        data,
        pos: 0,
        what: "the file",
    };
    if r.take(4)? != b"MThd" {
        return bad("missing MThd");
    }
    let hlen = r.u32()? as usize;
    if hlen < 6 {
        return bad(format!("header (MThd) of {hlen} bytes, shorter than 6"));
    }
    let hdr = r.take(hlen)?;
    let format = u16::from_be_bytes([hdr[0], hdr[1]]);
    let ntrks = u16::from_be_bytes([hdr[2], hdr[3]]) as usize;
    let division = Division::of(u16::from_be_bytes([hdr[4], hdr[5]]))?;
    if format > 2 {
        return bad(format!("format {format} (0, 1 or 2)"));
    }
    if format == 0 && ntrks != 1 {
        return bad(format!("format 0 with {ntrks} tracks (exactly 1)"));
    }
    let mut smf = Smf::default();
    if hlen > 6 {
        smf.notes.push(format!(
            "{} header byte(s) after the first 6 ignored",
            hlen - 6
        ));
    }
    let mut events = Vec::new();
    let mut track = 0;
    while track < ntrks && !r.done() {
        let at = r.pos;
        let id = r.take(4)?;
        let len = r.u32()? as usize;
        let body = r.take(len)?;
        if id != b"MTrk" {
            smf.notes.push(format!(
                "chunk {:?} of {len} byte(s) at byte {at} skipped (not MTrk)",
                String::from_utf8_lossy(id)
            ));
        } else {
            read_track(body, track, &mut events, &mut smf.notes)?;
            track += 1;
        }
    }
    if track < ntrks {
        return bad(format!("{ntrks} tracks announced, {track} found"));
    }
    if !r.done() {
        smf.notes.push(format!(
            "{} byte(s) after the {ntrks} announced track(s) ignored",
            data.len() - r.pos
        ));
    }
    events.sort_by_key(|e| (e.tick, e.track, e.seq));
    let mut out = Vec::with_capacity(events.len());
    let (mut last_tick, mut time_scaled) = (0u64, 0u128);
    let mut tempo: u64 = 500_000; // µs per quarter note
    let max = MAX_TIME_100NS as u128 * SCALE;
    for e in events {
        time_scaled = time_scaled.saturating_add(division.ticks(e.tick - last_tick, tempo));
        last_tick = e.tick;
        match e.kind {
            Kind::Tempo(t) => tempo = u64::from(t),
            Kind::Midi(bytes) => {
                if time_scaled > max {
                    return bad(format!(
                        "track {}: the event at tick {} is {} s from the start, beyond the \
                         latest time mxfsim plays ({} s, about 3,169 years)",
                        e.track,
                        e.tick,
                        time_scaled / SCALE / 10_000_000,
                        MAX_TIME_100NS / 10_000_000
                    ));
                }
                out.push(SmfEvent {
                    time_100ns: (time_scaled / SCALE) as i64,
                    bytes,
                });
            }
        }
    }
    smf.events = out;
    Ok(smf)
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
        let got = read_smf(&f).unwrap().events;
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
        let got = read_smf(&f).unwrap().events;
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
        let got = read_smf(&f).unwrap().events;
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

    /// A format 0 file at 10 ticks a quarter note and 1 s a quarter note (tempo 10^7 µs):
    /// one tick is exactly 10^7 × 100 ns. A note at `ticks`, its delta spread over text
    /// meta events of the largest delta a file can carry.
    fn note_at_tick(ticks: u64) -> Vec<u8> {
        let mut t = vec![0x00, 0xFF, 0x51, 0x03, 0x98, 0x96, 0x80];
        let vlq = |v: u64| {
            let mut b = vec![(v & 0x7F) as u8];
            let mut v = v >> 7;
            while v > 0 {
                b.insert(0, 0x80 | (v & 0x7F) as u8);
                v >>= 7;
            }
            b
        };
        let mut left = ticks;
        while left > 0x0FFF_FFFF {
            t.extend(vlq(0x0FFF_FFFF));
            t.extend([0xFF, 0x01, 0x00]);
            left -= 0x0FFF_FFFF;
        }
        t.extend(vlq(left));
        t.extend([0x90, 0x3C, 0x40, 0x00, 0xFF, 0x2F, 0x00]);
        let mut f = header(0, 1, 10);
        f.extend(chunk(b"MTrk", &t));
        f
    }

    #[test]
    fn event_times_are_bounded_on_both_sides_of_the_limit() {
        let tick = 10_000_000; // 100 ns units
        let last = (MAX_TIME_100NS / tick) as u64;
        let got = read_smf(&note_at_tick(last)).unwrap().events;
        assert_eq!(got, vec![ev(MAX_TIME_100NS, &[0x90, 0x3C, 0x40])]);
        let e = read_smf(&note_at_tick(last + 1)).unwrap_err().to_string();
        assert!(e.contains("beyond the latest time mxfsim plays"), "{e}");
        assert!(e.contains("tick 100000000001"), "{e}");
    }

    #[test]
    fn divisions_and_tempos_outside_the_spec_are_rejected_by_name() {
        let track = chunk(b"MTrk", &[0x00, 0x90, 0x3C, 0x40, 0x00, 0xFF, 0x2F, 0x00]);
        let with = |division: u16| {
            let mut f = header(0, 1, division);
            f.extend(track.clone());
            read_smf(&f)
        };
        for (d, why) in [
            (0x0000, "division 0"),
            (0xE800, "0 ticks per frame"),
            (0xE928, "-23"),
            (0x8001, "-128"),
        ] {
            let e = with(d).unwrap_err().to_string();
            assert!(e.contains(why), "{d:#06x}: {e}");
        }
        // -29 is 30 drop-frame: 29.97 frames a second; 1 tick a frame, 30 ticks later.
        let mut f = header(0, 1, 0xE301);
        f.extend(chunk(b"MTrk", &[0x1E, 0x90, 0x3C, 0x40]));
        let got = read_smf(&f).unwrap();
        assert_eq!(got.events, vec![ev(10_010_000, &[0x90, 0x3C, 0x40])]);
        assert_eq!(got.notes, vec!["track 0 has no end-of-track event (FF 2F)"]);
        for (tempo, why) in [
            (&[0x03, 0, 0, 0][..], "tempo 0"),
            (&[0x02, 1, 2], "of 2 byte(s)"),
        ] {
            let mut t = vec![0x00, 0xFF, 0x51];
            t.extend_from_slice(tempo);
            t.extend([0x00, 0x90, 0x3C, 0x40]);
            let mut f = header(0, 1, 96);
            f.extend(chunk(b"MTrk", &t));
            let e = read_smf(&f).unwrap_err().to_string();
            assert!(e.contains(why) && e.contains("track 0"), "{e}");
        }
    }

    #[test]
    fn skipped_parts_of_a_file_are_noted() {
        let mut f = header(1, 1, 96);
        f.extend(chunk(b"XFIH", &[1, 2, 3]));
        f.extend(chunk(
            b"MTrk",
            &[0x00, 0x90, 0x3C, 0x40, 0x00, 0xFF, 0x2F, 0x00, 0xAA, 0xBB],
        ));
        f.extend([0x00, 0x01]);
        let got = read_smf(&f).unwrap();
        assert_eq!(got.events, vec![ev(0, &[0x90, 0x3C, 0x40])]);
        assert_eq!(
            got.notes,
            vec![
                "chunk \"XFIH\" of 3 byte(s) at byte 14 skipped (not MTrk)",
                "track 0: 2 byte(s) after its end-of-track event ignored",
                "2 byte(s) after the 1 announced track(s) ignored",
            ]
        );
    }
}
