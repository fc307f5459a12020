//! Verification of what comes back through the loopback against what was sent.
//!
//! The checker is incremental: the run loop registers each message when it sends it and
//! feeds in events as WinMM delivers them. A SysEx may arrive split over several
//! `MIM_LONGDATA` buffers (and one buffer could hold the end of one SysEx and the start of the
//! next); short messages arrive as packed DWORDs. System real-time bytes (`F8`–`FF`) may be
//! interleaved anywhere, including inside SysEx data: they are pulled out and matched as
//! short messages; real-time bytes that were never sent are counted as unsolicited and are
//! not failures (a driver may legitimately inject e.g. active sensing).
//!
//! Matching is in order. A received message that matches a later pending one within a
//! look-ahead window makes the earlier pending ones "skipped": if a skipped one arrives
//! later it counts as reordered, otherwise it ends up missing.

use crate::patterns::{ShortMsg, is_realtime};
use std::collections::VecDeque;
use std::fmt;

/// Identifies one sent message (assigned in send order, from 0).
pub type MsgId = u64;

/// How many pending messages a received one is compared against before it is called extra
/// or corrupted.
const LOOKAHEAD: usize = 64;

#[derive(Debug)]
enum Payload {
    Short(ShortMsg),
    SysEx(Vec<u8>),
}

impl Payload {
    fn bytes(&self) -> &[u8] {
        match self {
            Payload::Short(m) => m.as_bytes(),
            Payload::SysEx(v) => v,
        }
    }
}

#[derive(Debug)]
struct Pending {
    id: MsgId,
    sent_us: u64,
    payload: Payload,
}

/// A message that came back (correctly or not), for latency accounting.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Completion {
    /// Which sent message it was matched to.
    pub id: MsgId,
    /// Transport clock when it was sent, µs.
    pub sent_us: u64,
    /// Transport clock when its last byte arrived, µs.
    pub recv_us: u64,
    /// Message length in bytes (including `F0`/`F7` for SysEx).
    pub len: usize,
    /// Byte-exact and in order.
    pub ok: bool,
}

/// What went wrong with a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MismatchKind {
    /// Same length, different bytes.
    Corrupted,
    /// Different length (bytes lost or added, or the `F7` never came).
    LengthMismatch,
    /// Never came back.
    Missing,
    /// Came back although nothing (matching) was sent.
    Extra,
    /// Came back after a message that was sent later, or after the run gave up on it.
    Reordered,
    /// Delivered through `MIM_LONGERROR` (WinMM flagged the SysEx as invalid).
    LongError,
    /// Data bytes outside any SysEx.
    StrayBytes,
}

/// The first thing that went wrong, with enough detail to debug it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mismatch {
    /// Category.
    pub kind: MismatchKind,
    /// The sent message concerned, if one could be identified.
    pub id: Option<MsgId>,
    /// Byte offset of the first difference within the message.
    pub offset: Option<usize>,
    /// Expected byte at `offset` (`None` past the end).
    pub expected: Option<u8>,
    /// Received byte at `offset` (`None` past the end).
    pub got: Option<u8>,
    /// Expected message length.
    pub expected_len: Option<usize>,
    /// Received message length.
    pub got_len: Option<usize>,
}

impl Mismatch {
    fn new(kind: MismatchKind, id: Option<MsgId>) -> Self {
        Self {
            kind,
            id,
            offset: None,
            expected: None,
            got: None,
            expected_len: None,
            got_len: None,
        }
    }

    fn compare(kind: MismatchKind, id: MsgId, expected: &[u8], got: &[u8]) -> Self {
        let offset = first_difference(expected, got);
        Self {
            kind,
            id: Some(id),
            offset,
            expected: offset.and_then(|o| expected.get(o).copied()),
            got: offset.and_then(|o| got.get(o).copied()),
            expected_len: Some(expected.len()),
            got_len: Some(got.len()),
        }
    }
}

fn hex(b: Option<u8>) -> String {
    b.map_or_else(|| "end".to_string(), |b| format!("{b:02X}"))
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.kind)?;
        if let Some(id) = self.id {
            write!(f, " message #{id}")?;
        }
        if let Some(o) = self.offset {
            write!(
                f,
                " at byte {o}: expected {}, got {}",
                hex(self.expected),
                hex(self.got)
            )?;
        }
        if let (Some(e), Some(g)) = (self.expected_len, self.got_len) {
            write!(f, " (length expected {e}, got {g})")?;
        }
        Ok(())
    }
}

/// Offset of the first differing byte, or of the end of the shorter slice if one is a prefix
/// of the other; `None` if equal.
pub fn first_difference(a: &[u8], b: &[u8]) -> Option<usize> {
    match a.iter().zip(b).position(|(x, y)| x != y) {
        Some(i) => Some(i),
        None if a.len() != b.len() => Some(a.len().min(b.len())),
        None => None,
    }
}

/// Counters over a whole run.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CheckStats {
    /// Short messages registered as sent.
    pub sent_short: u64,
    /// SysEx messages registered as sent.
    pub sent_sysex: u64,
    /// Short messages back byte-exact and in order.
    pub ok_short: u64,
    /// SysEx messages back byte-exact and in order.
    pub ok_sysex: u64,
    /// Bytes of the messages counted in `ok_short` + `ok_sysex`.
    pub ok_bytes: u64,
    /// Messages back with the right length but wrong bytes.
    pub corrupted: u64,
    /// Messages back with the wrong length.
    pub length_mismatch: u64,
    /// Messages that never came back.
    pub missing: u64,
    /// Messages that came back but were never sent.
    pub extra: u64,
    /// Messages that came back out of order.
    pub reordered: u64,
    /// Buffers delivered through `MIM_LONGERROR`.
    pub long_errors: u64,
    /// Data bytes received outside any SysEx.
    pub stray_bytes: u64,
    /// Real-time bytes received that were never sent (not a failure).
    pub unsolicited_realtime: u64,
    /// The first failure seen.
    pub first_mismatch: Option<Mismatch>,
}

impl CheckStats {
    /// Number of failures of any kind.
    pub fn failures(&self) -> u64 {
        self.corrupted
            + self.length_mismatch
            + self.missing
            + self.extra
            + self.reordered
            + self.long_errors
            + self.stray_bytes
    }

    /// Everything sent came back byte-exact, in order, and nothing else came back.
    pub fn passed(&self) -> bool {
        self.failures() == 0 && self.ok_short == self.sent_short && self.ok_sysex == self.sent_sysex
    }
}

/// Incremental round-trip verifier.
#[derive(Debug, Default)]
pub struct Checker {
    next_id: MsgId,
    pending: VecDeque<Pending>,
    skipped: Vec<Pending>,
    /// SysEx being reassembled (starts with `F0`).
    partial: Option<Vec<u8>>,
    stats: CheckStats,
}

impl Checker {
    /// An empty checker.
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers a short message that is being sent at `sent_us`.
    pub fn expect_short(&mut self, msg: ShortMsg, sent_us: u64) -> MsgId {
        self.stats.sent_short += 1;
        self.push(Payload::Short(msg), sent_us)
    }

    /// Registers a complete SysEx message (`F0 … F7`) that is being sent at `sent_us`.
    pub fn expect_sysex(&mut self, msg: Vec<u8>, sent_us: u64) -> MsgId {
        self.stats.sent_sysex += 1;
        self.push(Payload::SysEx(msg), sent_us)
    }

    fn push(&mut self, payload: Payload, sent_us: u64) -> MsgId {
        let id = self.next_id;
        self.next_id += 1;
        self.pending.push_back(Pending {
            id,
            sent_us,
            payload,
        });
        id
    }

    /// Messages sent and not yet accounted for (matched, skipped or expired).
    pub fn outstanding(&self) -> usize {
        self.pending.len()
    }

    /// Bytes of a SysEx received so far whose `F7` has not arrived yet.
    pub fn partial_len(&self) -> usize {
        self.partial.as_ref().map_or(0, Vec::len)
    }

    /// Counters so far.
    pub fn stats(&self) -> &CheckStats {
        &self.stats
    }

    /// Counts a message that came back with other bytes than were sent (same length:
    /// corrupted; else a length mismatch) and records the mismatch.
    fn note_wrong_bytes(&mut self, id: u64, expected: &[u8], got: &[u8]) {
        let kind = if expected.len() == got.len() {
            self.stats.corrupted += 1;
            MismatchKind::Corrupted
        } else {
            self.stats.length_mismatch += 1;
            MismatchKind::LengthMismatch
        };
        self.note(Mismatch::compare(kind, id, expected, got));
    }

    fn note(&mut self, m: Mismatch) {
        if self.stats.first_mismatch.is_none() {
            self.stats.first_mismatch = Some(m);
        }
    }

    /// A short message (`MIM_DATA`, packed DWORD) arrived at `recv_us`.
    pub fn on_short(&mut self, packed: u32, recv_us: u64, out: &mut Vec<Completion>) {
        match ShortMsg::from_packed(packed) {
            Some(msg) => self.match_short(msg, recv_us, out),
            None => self.unmatched_short(packed.to_le_bytes()[0..1].to_vec(), recv_us, out),
        }
    }

    fn match_short(&mut self, msg: ShortMsg, recv_us: u64, out: &mut Vec<Completion>) {
        let found = self
            .pending
            .iter()
            .take(LOOKAHEAD)
            .position(|p| matches!(&p.payload, Payload::Short(m) if *m == msg));
        if let Some(i) = found {
            // Real-time messages may legitimately overtake anything (even a SysEx in flight),
            // so only non-real-time matches push the messages before them aside.
            let p = if is_realtime(msg.status()) {
                self.pending.remove(i)
            } else {
                self.skip_before(i);
                self.pending.pop_front()
            };
            if let Some(p) = p {
                self.stats.ok_short += 1;
                self.stats.ok_bytes += msg.as_bytes().len() as u64;
                out.push(Completion {
                    id: p.id,
                    sent_us: p.sent_us,
                    recv_us,
                    len: msg.as_bytes().len(),
                    ok: true,
                });
            }
            return;
        }
        if let Some(p) = self.take_skipped(|b| b == msg.as_bytes()) {
            self.reordered(p, recv_us, out);
            return;
        }
        if is_realtime(msg.status()) {
            self.stats.unsolicited_realtime += 1;
            return;
        }
        self.unmatched_short(msg.as_bytes().to_vec(), recv_us, out);
    }

    /// A short message that matches nothing: a corrupted version of the next expected short
    /// message if there is one (and no SysEx is mid-flight), otherwise extra.
    fn unmatched_short(&mut self, got: Vec<u8>, recv_us: u64, out: &mut Vec<Completion>) {
        let front_is_short = matches!(
            self.pending.front(),
            Some(Pending {
                payload: Payload::Short(_),
                ..
            })
        );
        if front_is_short && self.partial.is_none() {
            if let Some(p) = self.pending.pop_front() {
                self.note_wrong_bytes(p.id, p.payload.bytes(), &got);
                out.push(Completion {
                    id: p.id,
                    sent_us: p.sent_us,
                    recv_us,
                    len: got.len(),
                    ok: false,
                });
            }
        } else {
            self.stats.extra += 1;
            let mut m = Mismatch::new(MismatchKind::Extra, None);
            m.got_len = Some(got.len());
            m.got = got.first().copied();
            self.note(m);
        }
    }

    fn skip_before(&mut self, i: usize) {
        for _ in 0..i {
            if let Some(p) = self.pending.pop_front() {
                self.skipped.push(p);
            }
        }
    }

    fn take_skipped(&mut self, pred: impl Fn(&[u8]) -> bool) -> Option<Pending> {
        let i = self.skipped.iter().position(|p| pred(p.payload.bytes()))?;
        Some(self.skipped.remove(i))
    }

    fn reordered(&mut self, p: Pending, recv_us: u64, out: &mut Vec<Completion>) {
        self.stats.reordered += 1;
        let mut m = Mismatch::new(MismatchKind::Reordered, Some(p.id));
        m.expected_len = Some(p.payload.bytes().len());
        m.got_len = m.expected_len;
        self.note(m);
        out.push(Completion {
            id: p.id,
            sent_us: p.sent_us,
            recv_us,
            len: p.payload.bytes().len(),
            ok: false,
        });
    }

    /// A long-data buffer (`MIM_LONGDATA`, the first `dwBytesRecorded` bytes) arrived.
    pub fn on_long(&mut self, mut data: &[u8], recv_us: u64, out: &mut Vec<Completion>) {
        while !data.is_empty() {
            // Runs of data bytes are copied in bulk; only bytes ≥ 0x80 need a decision.
            let run = data.iter().position(|&b| b >= 0x80).unwrap_or(data.len());
            if run > 0 {
                match self.partial.as_mut() {
                    Some(buf) => buf.extend_from_slice(&data[..run]),
                    None => self.stray(run),
                }
                data = &data[run..];
                continue;
            }
            let b = data[0];
            data = &data[1..];
            if is_realtime(b) {
                let rt = ShortMsg::new(&[b]);
                if let Some(rt) = rt {
                    self.match_short(rt, recv_us, out);
                }
            } else if b == 0xF0 {
                if let Some(buf) = self.partial.take() {
                    self.finish_sysex(buf, recv_us, out);
                }
                self.partial = Some(vec![0xF0]);
            } else if let Some(buf) = self.partial.as_mut() {
                // Any other status byte is kept in the message: the comparison reports it.
                buf.push(b);
                if b == 0xF7
                    && let Some(buf) = self.partial.take()
                {
                    self.finish_sysex(buf, recv_us, out);
                }
            } else {
                self.stray(1);
            }
        }
    }

    /// A buffer came back through `MIM_LONGERROR`: counted as an error, and whatever SysEx
    /// it ends is closed as received.
    pub fn on_long_error(&mut self, data: &[u8], recv_us: u64, out: &mut Vec<Completion>) {
        self.stats.long_errors += 1;
        self.note(Mismatch::new(
            MismatchKind::LongError,
            self.pending.front().map(|p| p.id),
        ));
        self.on_long(data, recv_us, out);
        if let Some(buf) = self.partial.take() {
            self.finish_sysex(buf, recv_us, out);
        }
    }

    fn stray(&mut self, n: usize) {
        self.stats.stray_bytes += n as u64;
        self.note(Mismatch::new(MismatchKind::StrayBytes, None));
    }

    fn finish_sysex(&mut self, got: Vec<u8>, recv_us: u64, out: &mut Vec<Completion>) {
        let idx = self
            .pending
            .iter()
            .take(LOOKAHEAD)
            .position(|p| matches!(p.payload, Payload::SysEx(_)));
        // A SysEx without its F7 (cut off by the next F0, an error buffer or expiry) that is
        // not a prefix of the next expected one is a late fragment of a message already given
        // up on: blaming the next message for it would hide that one's own outcome.
        let complete = got.len() >= 2 && got.last() == Some(&0xF7);
        let fragment = !complete
            && idx
                .and_then(|i| self.pending.get(i))
                .is_some_and(|p| !p.payload.bytes().starts_with(&got));
        if fragment {
            self.stats.extra += 1;
            let mut m = Mismatch::new(MismatchKind::Extra, None);
            m.got_len = Some(got.len());
            self.note(m);
            return;
        }
        let p = match idx {
            Some(i) => {
                self.skip_before(i);
                self.pending.pop_front()
            }
            None => None,
        };
        let Some(p) = p.or_else(|| self.take_skipped(|b| b == got.as_slice())) else {
            self.stats.extra += 1;
            let mut m = Mismatch::new(MismatchKind::Extra, None);
            m.got_len = Some(got.len());
            self.note(m);
            return;
        };
        if idx.is_none() {
            // Matched a skipped SysEx: it arrived, but out of order.
            self.reordered(p, recv_us, out);
            return;
        }
        let expected = p.payload.bytes();
        let ok = expected == got.as_slice();
        if ok {
            self.stats.ok_sysex += 1;
            self.stats.ok_bytes += got.len() as u64;
        } else {
            self.note_wrong_bytes(p.id, expected, &got);
        }
        out.push(Completion {
            id: p.id,
            sent_us: p.sent_us,
            recv_us,
            len: got.len(),
            ok,
        });
    }

    /// Gives up waiting: an unterminated SysEx is closed as received (so it counts as
    /// truncated) and every message still pending is set aside like a skipped one: if it
    /// turns up later it counts as reordered, otherwise [`Checker::finish`] counts it
    /// missing.
    pub fn expire(&mut self, now_us: u64, out: &mut Vec<Completion>) {
        if let Some(buf) = self.partial.take() {
            self.finish_sysex(buf, now_us, out);
        }
        self.skipped.extend(self.pending.drain(..));
    }

    fn missing(&mut self, p: Pending) {
        self.stats.missing += 1;
        let mut m = Mismatch::new(MismatchKind::Missing, Some(p.id));
        m.expected_len = Some(p.payload.bytes().len());
        self.note(m);
    }

    /// Ends the run: expires everything and turns skipped messages that never turned up
    /// into missing ones.
    pub fn finish(mut self, now_us: u64) -> CheckStats {
        let mut out = Vec::new();
        self.expire(now_us, &mut out);
        for p in std::mem::take(&mut self.skipped) {
            self.missing(p);
        }
        self.stats
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::patterns::{XorShift64, short_messages, sysex_message};

    fn short(bytes: &[u8]) -> ShortMsg {
        ShortMsg::new(bytes).unwrap()
    }

    #[test]
    fn exact_sysex_in_many_buffers_and_shorts_pass() {
        let mut c = Checker::new();
        let mut out = Vec::new();
        let sx = sysex_message(10_000, &mut XorShift64::new(3));
        c.expect_sysex(sx.clone(), 10);
        for chunk in sx.chunks(333) {
            c.on_long(chunk, 20, &mut out);
        }
        let msgs = short_messages(30, &mut XorShift64::new(4));
        for m in &msgs {
            c.expect_short(*m, 30);
        }
        for m in &msgs {
            // Unused bytes of the DWORD hold garbage: must be ignored.
            let dirty = m.packed()
                | 0xEE00_0000
                | if m.as_bytes().len() < 3 {
                    0x00550000
                } else {
                    0
                };
            c.on_short(dirty, 40, &mut out);
        }
        assert_eq!(out.len(), 31);
        assert!(out.iter().all(|c| c.ok));
        assert_eq!(out[0].len, 10_002);
        assert_eq!((out[0].sent_us, out[0].recv_us), (10, 20));
        let s = c.finish(50);
        assert!(s.passed(), "{s:?}");
        assert_eq!(s.ok_sysex, 1);
        assert_eq!(s.ok_short, 30);
    }

    #[test]
    fn empty_sysex_and_two_sysex_in_one_buffer() {
        let mut c = Checker::new();
        let mut out = Vec::new();
        c.expect_sysex(vec![0xF0, 0xF7], 0);
        c.expect_sysex(vec![0xF0, 1, 2, 0xF7], 0);
        c.on_long(&[0xF0, 0xF7, 0xF0, 1], 5, &mut out);
        c.on_long(&[2, 0xF7], 6, &mut out);
        assert_eq!(
            out.iter().map(|c| (c.id, c.recv_us)).collect::<Vec<_>>(),
            [(0, 5), (1, 6)]
        );
        assert!(c.finish(0).passed());
    }

    #[test]
    fn flipped_byte_is_corruption_at_its_offset() {
        let mut c = Checker::new();
        let mut out = Vec::new();
        let sx = sysex_message(1000, &mut XorShift64::new(9));
        c.expect_sysex(sx.clone(), 0);
        let mut bad = sx.clone();
        bad[517] ^= 0x01;
        c.on_long(&bad, 1, &mut out);
        let s = c.finish(2);
        assert!(!s.passed());
        assert_eq!(s.corrupted, 1);
        assert_eq!(s.failures(), 1);
        let m = s.first_mismatch.unwrap();
        assert_eq!(m.kind, MismatchKind::Corrupted);
        assert_eq!(m.offset, Some(517));
        assert_eq!(m.expected, Some(sx[517]));
        assert_eq!(m.got, Some(sx[517] ^ 1));
    }

    #[test]
    fn missing_byte_is_length_mismatch_at_its_offset() {
        let mut c = Checker::new();
        let mut out = Vec::new();
        let sx = sysex_message(300, &mut XorShift64::new(11));
        c.expect_sysex(sx.clone(), 0);
        let mut bad = sx.clone();
        bad.remove(100);
        c.on_long(&bad, 1, &mut out);
        let s = c.finish(2);
        assert_eq!(s.length_mismatch, 1);
        let m = s.first_mismatch.unwrap();
        assert_eq!(m.kind, MismatchKind::LengthMismatch);
        // The first differing offset is at or right after the dropped byte (equal
        // neighbours can hide it for a few positions, never before it).
        assert!(m.offset.unwrap() >= 100 && m.offset.unwrap() < 110, "{m}");
        assert_eq!((m.expected_len, m.got_len), (Some(302), Some(301)));
    }

    #[test]
    fn truncated_sysex_detected_on_next_f0_and_on_expiry() {
        let mut c = Checker::new();
        let mut out = Vec::new();
        let a = sysex_message(50, &mut XorShift64::new(1));
        let b = sysex_message(60, &mut XorShift64::new(2));
        c.expect_sysex(a.clone(), 0);
        c.expect_sysex(b.clone(), 0);
        c.on_long(&a[..20], 1, &mut out); // no F7: cut short by the next F0
        c.on_long(&b[..30], 2, &mut out); // no F7: run ends
        c.expire(3, &mut out);
        let s = c.finish(3);
        assert_eq!(s.length_mismatch, 2);
        assert_eq!(s.missing, 0);
        let m = s.first_mismatch.unwrap();
        assert_eq!(
            (m.id, m.offset, m.expected_len, m.got_len),
            (Some(0), Some(20), Some(52), Some(20))
        );
    }

    #[test]
    fn reordered_shorts_are_reported() {
        let mut c = Checker::new();
        let mut out = Vec::new();
        let a = short(&[0x90, 60, 100]);
        let b = short(&[0xB1, 7, 64]);
        let d = short(&[0xC2, 5]);
        c.expect_short(a, 0);
        c.expect_short(b, 0);
        c.expect_short(d, 0);
        c.on_short(b.packed(), 1, &mut out);
        c.on_short(a.packed(), 2, &mut out);
        c.on_short(d.packed(), 3, &mut out);
        let s = c.finish(4);
        assert_eq!(s.reordered, 1);
        assert_eq!(s.ok_short, 2);
        assert_eq!(s.missing, 0);
        assert_eq!(s.first_mismatch.unwrap().kind, MismatchKind::Reordered);
    }

    #[test]
    fn dropped_short_is_missing_and_unknown_short_is_corrupted_or_extra() {
        let mut c = Checker::new();
        let mut out = Vec::new();
        let a = short(&[0x90, 60, 100]);
        let b = short(&[0x80, 60, 0]);
        c.expect_short(a, 0);
        c.expect_short(b, 0);
        c.on_short(b.packed(), 1, &mut out); // a lost
        c.on_short(short(&[0xE0, 1, 2]).packed(), 2, &mut out); // nothing pending: extra
        let s = c.finish(3);
        assert_eq!((s.missing, s.extra, s.ok_short), (1, 1, 1));

        let mut c = Checker::new();
        c.expect_short(a, 0);
        c.on_short(short(&[0x90, 61, 100]).packed(), 1, &mut out);
        let s = c.finish(2);
        assert_eq!(s.corrupted, 1);
        assert_eq!(s.first_mismatch.unwrap().offset, Some(1));
    }

    #[test]
    fn realtime_inside_sysex_and_unsolicited_realtime() {
        let mut c = Checker::new();
        let mut out = Vec::new();
        let sx = sysex_message(100, &mut XorShift64::new(5));
        c.expect_sysex(sx.clone(), 0);
        let clock = short(&[0xF8]);
        c.expect_short(clock, 0);
        let mut stream = sx[..40].to_vec();
        stream.push(0xF8); // the clock we sent, overtaking the SysEx
        stream.push(0xFE); // active sensing nobody sent
        stream.extend_from_slice(&sx[40..]);
        c.on_long(&stream[..41], 1, &mut out);
        c.on_long(&stream[41..], 2, &mut out);
        c.on_short(0xFE, 3, &mut out);
        let s = c.finish(4);
        assert!(s.passed(), "{s:?}");
        assert_eq!(s.unsolicited_realtime, 2);
        assert_eq!(s.ok_short, 1);
    }

    #[test]
    fn stray_bytes_extra_sysex_and_long_error_fail() {
        let mut c = Checker::new();
        let mut out = Vec::new();
        c.on_long(&[1, 2, 3], 0, &mut out);
        c.on_long(&[0xF0, 1, 0xF7], 0, &mut out);
        let s = c.finish(0);
        assert_eq!((s.stray_bytes, s.extra), (3, 1));
        assert_eq!(s.first_mismatch.unwrap().kind, MismatchKind::StrayBytes);

        let mut c = Checker::new();
        c.expect_sysex(vec![0xF0, 1, 2, 0xF7], 0);
        c.on_long_error(&[0xF0, 1], 1, &mut out);
        let s = c.finish(2);
        assert_eq!((s.long_errors, s.length_mismatch), (1, 1));
        assert!(!s.passed());
    }

    #[test]
    fn expired_message_is_missing_unless_it_turns_up_late() {
        let mut c = Checker::new();
        let mut out = Vec::new();
        let sx = vec![0xF0, 9, 0xF7];
        c.expect_sysex(sx.clone(), 0);
        c.expire(10, &mut out);
        assert_eq!(c.outstanding(), 0);
        c.on_long(&sx, 11, &mut out);
        c.on_long(&sx, 12, &mut out); // a duplicate matches nothing
        let s = c.finish(13);
        assert_eq!((s.missing, s.reordered, s.extra), (0, 1, 1));

        let mut c = Checker::new();
        c.expect_sysex(sx.clone(), 0);
        c.expect_short(short(&[0xF6]), 0);
        c.expire(10, &mut out);
        let s = c.finish(11);
        assert_eq!((s.missing, s.reordered, s.extra), (2, 0, 0));
        assert_eq!(s.first_mismatch.unwrap().kind, MismatchKind::Missing);
    }

    #[test]
    fn late_fragment_of_expired_sysex_does_not_blame_the_next_one() {
        let mut c = Checker::new();
        let mut out = Vec::new();
        let a = sysex_message(40, &mut XorShift64::new(1));
        let b = sysex_message(8, &mut XorShift64::new(2));
        c.expect_sysex(a.clone(), 0);
        c.expire(1, &mut out); // `a` given up on
        c.expect_sysex(b.clone(), 2);
        c.on_long(&a[..30], 3, &mut out); // its first 30 bytes turn up late, no F7
        c.on_long(&b, 4, &mut out);
        assert_eq!(out.last().map(|c| (c.id, c.ok)), Some((1, true)));
        let s = c.finish(5);
        assert_eq!(
            (s.missing, s.extra, s.ok_sysex, s.length_mismatch),
            (1, 1, 1, 0)
        );
    }

    #[test]
    fn first_difference_cases() {
        assert_eq!(first_difference(b"abc", b"abc"), None);
        assert_eq!(first_difference(b"abc", b"abd"), Some(2));
        assert_eq!(first_difference(b"abc", b"ab"), Some(2));
        assert_eq!(first_difference(b"", b"a"), Some(0));
    }
}
