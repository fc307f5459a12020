//! Proptest strategies: MIDI streams (valid, or arbitrary bytes), burst splits, buffer sizes.

use proptest::prelude::*;

/// One piece of a generated stream.
#[derive(Clone, Debug)]
enum Piece {
    /// A channel message; `running` omits the status when it equals the previous one.
    Channel {
        status: u8,
        d1: u8,
        d2: u8,
        running: bool,
    },
    Common(u8, u8, u8),
    Realtime(u8),
    SysEx {
        len: usize,
        seed: u8,
        cut: bool,
    },
}

fn piece(max_sysex: usize) -> impl Strategy<Value = Piece> {
    prop_oneof![
        8 => (0x80u8..=0xEF, 0u8..128, 0u8..128, any::<bool>())
            .prop_map(|(status, d1, d2, running)| Piece::Channel { status, d1, d2, running }),
        2 => (prop::sample::select(vec![0xF1u8, 0xF2, 0xF3, 0xF4, 0xF5, 0xF6]), 0u8..128, 0u8..128)
            .prop_map(|(s, a, b)| Piece::Common(s, a, b)),
        3 => (0xF8u8..=0xFF).prop_map(Piece::Realtime),
        2 => (0usize..=24, any::<u8>(), prop::bool::weighted(0.1))
            .prop_map(|(len, seed, cut)| Piece::SysEx { len, seed, cut }),
        1 => (0usize..=max_sysex, any::<u8>(), prop::bool::weighted(0.1))
            .prop_map(|(len, seed, cut)| Piece::SysEx { len, seed, cut }),
    ]
}

/// The `len` data bytes of a generated SysEx with payload seed `seed` (xorshift): equal seeds
/// give equal payloads, one a prefix of the other, as shrinking tends to produce.
pub fn sysex_payload(len: usize, seed: u8) -> impl Iterator<Item = u8> {
    let mut x = u32::from(seed).wrapping_mul(2654435761) | 1;
    (0..len).map(move |_| {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        (x % 128) as u8
    })
}

fn render(pieces: &[Piece], realtime_inserts: &[(usize, u8)]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut last_status: Option<u8> = None;
    for p in pieces {
        match *p {
            Piece::Channel {
                status,
                d1,
                d2,
                running,
            } => {
                if !(running && last_status == Some(status)) {
                    out.push(status);
                }
                last_status = Some(status);
                out.push(d1);
                if !(0xC0..=0xDF).contains(&status) {
                    out.push(d2);
                }
            }
            Piece::Common(s, a, b) => {
                last_status = None;
                out.push(s);
                match s {
                    0xF1 | 0xF3 => out.push(a),
                    0xF2 => out.extend([a, b]),
                    _ => {}
                }
            }
            Piece::Realtime(b) => out.push(b),
            Piece::SysEx { len, seed, cut } => {
                last_status = None;
                out.push(0xF0);
                out.extend(sysex_payload(len, seed));
                if !cut {
                    out.push(0xF7);
                }
                // A cut SysEx is cut by whatever status follows (or the end of the stream).
            }
        }
    }
    // Realtime bytes dropped anywhere: inside messages and SysEx too.
    let mut with_rt = Vec::with_capacity(out.len() + realtime_inserts.len());
    let mut inserts: Vec<(usize, u8)> = realtime_inserts
        .iter()
        .map(|&(pos, b)| {
            (
                if out.is_empty() {
                    0
                } else {
                    pos % (out.len() + 1)
                },
                b,
            )
        })
        .collect();
    inserts.sort_by_key(|&(p, _)| p);
    let mut k = 0;
    for (i, &b) in out.iter().enumerate() {
        while k < inserts.len() && inserts[k].0 == i {
            with_rt.push(inserts[k].1);
            k += 1;
        }
        with_rt.push(b);
    }
    with_rt.extend(inserts[k..].iter().map(|&(_, b)| b));
    with_rt
}

/// A valid MIDI stream (running status, realtime anywhere, SysEx up to `max_sysex` data
/// bytes, some SysEx cut by the next status) of at most about `max_len` bytes.
pub fn midi_stream(max_pieces: usize, max_sysex: usize) -> impl Strategy<Value = Vec<u8>> {
    (
        prop::collection::vec(piece(max_sysex), 0..=max_pieces),
        prop::collection::vec((any::<usize>(), 0xF8u8..=0xFF), 0..=32),
    )
        .prop_map(|(pieces, rt)| render(&pieces, &rt))
}

/// Arbitrary bytes, biased towards status bytes so that every parser path is taken.
pub fn arbitrary_bytes(max_len: usize) -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(
        prop_oneof![
            6 => 0u8..0x80,
            2 => 0x80u8..=0xEF,
            2 => 0xF0u8..=0xF7,
            1 => 0xF8u8..=0xFF,
        ],
        0..=max_len,
    )
}

/// Burst lengths (cycled over the stream); 0-length bursts included.
pub fn bursts() -> impl Strategy<Value = Vec<usize>> {
    prop::collection::vec(
        prop_oneof![4 => 1usize..=16, 2 => 0usize..=128, 1 => 129usize..=4096],
        1..=16,
    )
}

/// `GetBufferSize` values: mostly 9..=65535, small ones and the inline-only range too.
pub fn buffer_size() -> impl Strategy<Value = u16> {
    prop_oneof![
        3 => 9u16..=64,
        2 => 9u16..=65535,
        1 => prop::sample::select(vec![9u16, 10, 16, 128, 4096, 65535]),
    ]
}

/// Splits `input` into bursts of the given (cycled) lengths.
pub fn split<'a>(input: &'a [u8], lens: &[usize]) -> Vec<&'a [u8]> {
    let mut out = Vec::new();
    let mut rest = input;
    let mut i = 0;
    while !rest.is_empty() {
        let n = lens[i % lens.len()].min(rest.len());
        let (a, b) = rest.split_at(n);
        out.push(a);
        rest = b;
        i += 1;
        if i > 10 * input.len() + 16 {
            out.push(rest);
            break;
        }
    }
    out
}
