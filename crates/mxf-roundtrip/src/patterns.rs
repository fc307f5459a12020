//! Deterministic test traffic: SysEx payloads and short messages derived from a seed, so a
//! failing run can be replayed exactly with `--seed`.

/// SysEx payload lengths (bytes between `F0` and `F7`) sent by default.
pub const DEFAULT_SYSEX_SIZES: [usize; 16] = [
    0, 1, 2, 7, 8, 9, 127, 128, 1000, 1024, 2048, 4096, 65535, 65536, 262_144, 1_048_576,
];

/// Largest payload accepted from the command line (16 MiB): bigger runs only burn memory.
pub const MAX_SYSEX_PAYLOAD: usize = 16 * 1024 * 1024;

/// xorshift64 (Marsaglia): tiny, fast, and identical on every platform.
#[derive(Clone, Debug)]
pub struct XorShift64 {
    state: u64,
}

impl XorShift64 {
    /// Seeds the generator; 0 (a fixed point of xorshift) is replaced by a constant.
    pub fn new(seed: u64) -> Self {
        Self {
            state: if seed == 0 {
                0x9E37_79B9_7F4A_7C15
            } else {
                seed
            },
        }
    }

    /// Next 64 pseudo-random bits.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.state;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.state = x;
        x
    }

    /// A value in `0..n` (`n > 0`); the slight modulo bias is irrelevant for test traffic.
    pub fn below(&mut self, n: u32) -> u32 {
        (self.next_u64() % u64::from(n.max(1))) as u32
    }

    /// A MIDI data byte (`0x00..=0x7F`).
    pub fn data_byte(&mut self) -> u8 {
        (self.next_u64() >> 32) as u8 & 0x7F
    }
}

/// A complete SysEx message: `F0`, `payload_len` data bytes (all `< 0x80`), `F7`.
pub fn sysex_message(payload_len: usize, rng: &mut XorShift64) -> Vec<u8> {
    let mut msg = Vec::with_capacity(payload_len + 2);
    msg.push(0xF0);
    // Eight data bytes per generator step keeps multi-MiB payloads cheap in debug builds.
    let mut left = payload_len;
    while left > 0 {
        let word = rng.next_u64();
        let take = left.min(8);
        msg.extend(word.to_le_bytes()[..take].iter().map(|b| b & 0x7F));
        left -= take;
    }
    msg.push(0xF7);
    msg
}

/// Number of bytes of a MIDI message that starts with `status`, or `None` for bytes that do
/// not start a short message (data bytes, `F0`/`F7` SysEx framing, undefined `F4`/`F5`).
pub fn short_len(status: u8) -> Option<usize> {
    match status {
        0x80..=0xBF | 0xE0..=0xEF => Some(3),
        0xC0..=0xDF => Some(2),
        0xF1 | 0xF3 => Some(2),
        0xF2 => Some(3),
        0xF6 => Some(1),
        0xF8..=0xFF => Some(1),
        _ => None,
    }
}

/// True for system real-time status bytes, which may appear anywhere, even inside a SysEx.
pub fn is_realtime(byte: u8) -> bool {
    byte >= 0xF8
}

/// A short (non-SysEx) MIDI message, 1–3 bytes, with a valid status byte.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ShortMsg {
    bytes: [u8; 3],
    len: u8,
}

impl ShortMsg {
    /// Builds a message from its bytes; `None` if the status is not a short-message status,
    /// the length does not match it, or a data byte has bit 7 set.
    pub fn new(bytes: &[u8]) -> Option<Self> {
        let (&status, data) = bytes.split_first()?;
        if short_len(status)? != bytes.len() || data.iter().any(|&b| b >= 0x80) {
            return None;
        }
        let mut out = [0u8; 3];
        out[..bytes.len()].copy_from_slice(bytes);
        Some(Self {
            bytes: out,
            len: bytes.len() as u8,
        })
    }

    /// Decodes a WinMM packed DWORD (`status | d1 << 8 | d2 << 16`); bytes beyond the length
    /// the status implies are ignored, because drivers need not zero them.
    pub fn from_packed(packed: u32) -> Option<Self> {
        let b = packed.to_le_bytes();
        let len = short_len(b[0])?;
        Self::new(&b[..len])
    }

    /// The message as WinMM packs it for `midiOutShortMsg` (unused bytes zero).
    pub fn packed(&self) -> u32 {
        u32::from_le_bytes([self.bytes[0], self.bytes[1], self.bytes[2], 0])
    }

    /// The message bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }

    /// The status byte.
    pub fn status(&self) -> u8 {
        self.bytes[0]
    }
}

/// Kinds of short message the generator cycles through.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ShortKind {
    /// `8n kk vv`
    NoteOff,
    /// `9n kk vv` (velocity ≥ 1, so it is not read as a note-off)
    NoteOn,
    /// `An kk pp`
    PolyAftertouch,
    /// `Bn cc vv`
    ControlChange,
    /// `Cn pp`
    ProgramChange,
    /// `Dn pp`
    ChannelPressure,
    /// `En ll mm`
    PitchBend,
    /// `F1 qq` MTC quarter frame
    MtcQuarterFrame,
    /// `F2 ll mm`
    SongPosition,
    /// `F3 ss`
    SongSelect,
    /// `F6`
    TuneRequest,
}

impl ShortKind {
    /// Every kind, in generator order.
    pub const ALL: [ShortKind; 11] = [
        ShortKind::NoteOn,
        ShortKind::NoteOff,
        ShortKind::ControlChange,
        ShortKind::ProgramChange,
        ShortKind::PitchBend,
        ShortKind::ChannelPressure,
        ShortKind::PolyAftertouch,
        ShortKind::MtcQuarterFrame,
        ShortKind::SongPosition,
        ShortKind::SongSelect,
        ShortKind::TuneRequest,
    ];

    /// A random message of this kind.
    pub fn generate(self, rng: &mut XorShift64) -> ShortMsg {
        let ch = rng.below(16) as u8;
        let d1 = rng.data_byte();
        let d2 = rng.data_byte();
        let bytes: ([u8; 3], usize) = match self {
            ShortKind::NoteOff => ([0x80 | ch, d1, d2], 3),
            ShortKind::NoteOn => ([0x90 | ch, d1, d2.max(1)], 3),
            ShortKind::PolyAftertouch => ([0xA0 | ch, d1, d2], 3),
            ShortKind::ControlChange => ([0xB0 | ch, d1, d2], 3),
            ShortKind::ProgramChange => ([0xC0 | ch, d1, 0], 2),
            ShortKind::ChannelPressure => ([0xD0 | ch, d1, 0], 2),
            ShortKind::PitchBend => ([0xE0 | ch, d1, d2], 3),
            ShortKind::MtcQuarterFrame => ([0xF1, d1, 0], 2),
            ShortKind::SongPosition => ([0xF2, d1, d2], 3),
            ShortKind::SongSelect => ([0xF3, d1, 0], 2),
            ShortKind::TuneRequest => ([0xF6, 0, 0], 1),
        };
        // Every arm builds a valid message of the length its status implies.
        ShortMsg {
            bytes: bytes.0,
            len: bytes.1 as u8,
        }
    }
}

/// Generates `count` short messages: every kind in turn (so even a short run covers all
/// of them), with random channels and data.
pub fn short_messages(count: usize, rng: &mut XorShift64) -> Vec<ShortMsg> {
    (0..count)
        .map(|i| ShortKind::ALL[i % ShortKind::ALL.len()].generate(rng))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sysex_framing_and_data_range() {
        let mut rng = XorShift64::new(7);
        for len in DEFAULT_SYSEX_SIZES.iter().copied().filter(|&l| l <= 65536) {
            let m = sysex_message(len, &mut rng);
            assert_eq!(m.len(), len + 2);
            assert_eq!(m[0], 0xF0);
            assert_eq!(*m.last().unwrap(), 0xF7);
            assert!(m[1..m.len() - 1].iter().all(|&b| b < 0x80));
        }
        assert_eq!(sysex_message(0, &mut rng), vec![0xF0, 0xF7]);
    }

    #[test]
    fn same_seed_same_traffic_other_seed_differs() {
        let a = sysex_message(4096, &mut XorShift64::new(42));
        let b = sysex_message(4096, &mut XorShift64::new(42));
        let c = sysex_message(4096, &mut XorShift64::new(43));
        assert_eq!(a, b);
        assert_ne!(a, c);
        // Payload is not degenerate: many distinct byte values.
        let mut seen = [false; 128];
        a[1..a.len() - 1]
            .iter()
            .for_each(|&x| seen[usize::from(x)] = true);
        assert!(seen.iter().filter(|&&s| s).count() > 100);
    }

    #[test]
    fn short_lengths_match_status() {
        let mut rng = XorShift64::new(1);
        let msgs = short_messages(ShortKind::ALL.len() * 20, &mut rng);
        for m in &msgs {
            assert_eq!(Some(m.as_bytes().len()), short_len(m.status()));
            assert!(m.as_bytes()[1..].iter().all(|&b| b < 0x80));
            assert_eq!(ShortMsg::from_packed(m.packed()), Some(*m));
        }
        let statuses: Vec<u8> = msgs.iter().map(|m| m.status() & 0xF0).collect();
        for hi in [0x80, 0x90, 0xA0, 0xB0, 0xC0, 0xD0, 0xE0, 0xF0] {
            assert!(statuses.contains(&hi), "missing {hi:#x}");
        }
        assert_eq!(
            ShortKind::TuneRequest.generate(&mut rng).as_bytes(),
            &[0xF6]
        );
        assert_eq!(
            ShortKind::ProgramChange.generate(&mut rng).as_bytes().len(),
            2
        );
        // Note-on never has velocity 0.
        for _ in 0..200 {
            assert_ne!(ShortKind::NoteOn.generate(&mut rng).as_bytes()[2], 0);
        }
    }

    #[test]
    fn packed_decoding_ignores_unused_bytes_and_rejects_bad_status() {
        // Program change with garbage in the unused third and fourth bytes.
        let m = ShortMsg::from_packed(0xAB_7F_05_C3).unwrap();
        assert_eq!(m.as_bytes(), &[0xC3, 0x05]);
        assert_eq!(m.packed(), 0x0000_05C3);
        assert_eq!(ShortMsg::from_packed(0x0000_0040), None); // data byte as status
        assert_eq!(ShortMsg::from_packed(0x0000_00F0), None); // SysEx start is not short
        assert_eq!(ShortMsg::from_packed(0x0000_8090), None); // data byte ≥ 0x80
        assert_eq!(ShortMsg::new(&[0x90, 1]), None); // too short for note-on
    }
}
