//! The MIDI 1.0 byte-stream parser: bytes in, complete messages and streamed SysEx out.

use super::message::{Message, MessageKind, data_len, is_realtime};

/// One thing the parser recognised.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Event<'a> {
    /// A complete non-SysEx message (channel, system common or realtime), running status
    /// expanded. Realtime messages are reported at the byte where they appear, even inside a
    /// SysEx or between a status byte and its data bytes; the interrupted message goes on.
    Message(Message),
    /// `F0`: a SysEx begins (the `F0` byte is consumed).
    SysExStart,
    /// A run of SysEx data bytes, borrowed from the input (never empty).
    SysExData(&'a [u8]),
    /// `F7`: the SysEx in progress ends (the `F7` byte is consumed).
    SysExEnd,
    /// The SysEx in progress was cut short by a status byte other than `F7` and realtime (or
    /// by [`Parser::finish`]). The cutting status byte is left in the input and is parsed by
    /// the next call, so a cut is always followed by that status byte's own processing.
    SysExCut,
}

/// Bytes the SysEx scans look at per step: a 1 MiB SysEx is one run of data bytes, so the
/// scans test a block at a time (an OR-fold that LLVM turns into a few vector instructions)
/// and only look at single bytes in the block holding the next status byte and in the tail.
const SCAN_BLOCK: usize = 64;

/// Whether every byte of `block` is a data byte (`< 0x80`).
#[inline(always)]
fn all_data(block: &[u8]) -> bool {
    block.iter().fold(0u8, |acc, &b| acc | b) < 0x80
}

/// Copies `src` into `dst` if every byte of it is a data byte; returns whether it did.
///
/// On x86-64 with SSE2 (part of the architecture, so also in the kernel build, where the
/// compiler uses SSE registers for copies anyway): four 16-byte loads kept in registers, one
/// test of all their top bits, four stores, so the source is read once (the portable form
/// compiles to a byte-wise or a scalar loop, or reads every block twice; see
/// `benches/README.md` for what that costs).
#[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
#[inline(always)]
fn copy_block_if_data(src: &[u8; SCAN_BLOCK], dst: &mut [u8; SCAN_BLOCK]) -> bool {
    use core::arch::x86_64::{
        __m128i, _mm_loadu_si128, _mm_movemask_epi8, _mm_or_si128, _mm_storeu_si128,
    };
    const { assert!(SCAN_BLOCK == 4 * size_of::<__m128i>()) };
    // `wrapping_add` keeps the pointers in safe code; for i < 4 each lands within the 64-byte
    // blocks (asserted above), so none actually wraps.
    let s = src.as_ptr().cast::<__m128i>();
    // SAFETY: the target has SSE2 (this function is compiled only then); the 16 bytes read
    // lie within `src`, and the unaligned load needs no alignment.
    let a = unsafe { _mm_loadu_si128(s) };
    // SAFETY: as for `a`, at offset 16 of 64.
    let b = unsafe { _mm_loadu_si128(s.wrapping_add(1)) };
    // SAFETY: as for `a`, at offset 32 of 64.
    let c = unsafe { _mm_loadu_si128(s.wrapping_add(2)) };
    // SAFETY: as for `a`, at offset 48 of 64.
    let d = unsafe { _mm_loadu_si128(s.wrapping_add(3)) };
    // SAFETY: the target has SSE2; register-only operation.
    let ab = unsafe { _mm_or_si128(a, b) };
    // SAFETY: as above.
    let cd = unsafe { _mm_or_si128(c, d) };
    // SAFETY: as above.
    let all = unsafe { _mm_or_si128(ab, cd) };
    // SAFETY: as above.
    let high = unsafe { _mm_movemask_epi8(all) };
    if high != 0 {
        return false;
    }
    let t = dst.as_mut_ptr().cast::<__m128i>();
    // SAFETY: SSE2 as for the loads; the 16 bytes written lie within `dst`, which we borrow
    // mutably, and the unaligned store needs no alignment.
    unsafe { _mm_storeu_si128(t, a) };
    // SAFETY: as above, at offset 16 of 64.
    unsafe { _mm_storeu_si128(t.wrapping_add(1), b) };
    // SAFETY: as above, at offset 32 of 64.
    unsafe { _mm_storeu_si128(t.wrapping_add(2), c) };
    // SAFETY: as above, at offset 48 of 64.
    unsafe { _mm_storeu_si128(t.wrapping_add(3), d) };
    true
}

/// Copies `src` into `dst` if every byte of it is a data byte; returns whether it did.
#[cfg(not(all(target_arch = "x86_64", target_feature = "sse2")))]
#[inline(always)]
fn copy_block_if_data(src: &[u8; SCAN_BLOCK], dst: &mut [u8; SCAN_BLOCK]) -> bool {
    if !all_data(src) {
        return false;
    }
    dst.copy_from_slice(src);
    true
}

/// Length of the run of data bytes (`< 0x80`) at the start of `bytes`.
#[inline]
fn data_run_len(bytes: &[u8]) -> usize {
    let mut done = 0;
    for block in bytes.chunks_exact(SCAN_BLOCK) {
        if !all_data(block) {
            break;
        }
        done += SCAN_BLOCK;
    }
    let rest = bytes.get(done..).unwrap_or(&[]);
    done + rest.iter().position(|&b| b >= 0x80).unwrap_or(rest.len())
}

/// Copies the run of data bytes at the start of `src` into `dst`, at most `dst.len()` of
/// them, scanning and copying in one pass; returns how many were copied.
#[inline]
fn copy_data_run(src: &[u8], dst: &mut [u8]) -> usize {
    let max = src.len().min(dst.len());
    let (Some(src), Some(dst)) = (src.get(..max), dst.get_mut(..max)) else {
        return 0;
    };
    let mut done = 0;
    for (s, d) in src
        .as_chunks::<SCAN_BLOCK>()
        .0
        .iter()
        .zip(dst.as_chunks_mut::<SCAN_BLOCK>().0)
    {
        if !copy_block_if_data(s, d) {
            break;
        }
        done += SCAN_BLOCK;
    }
    let rest = src.get(done..).unwrap_or(&[]);
    let n = rest.iter().position(|&b| b >= 0x80).unwrap_or(rest.len());
    if let (Some(d), Some(s)) = (dst.get_mut(done..done + n), rest.get(..n)) {
        d.copy_from_slice(s);
    }
    done + n
}

/// What the parser did with every input byte.
///
/// Each consumed byte lands in exactly one `bytes_*` bucket or is still pending:
/// `bytes_in == bytes_accounted() + Parser::pending_bytes()` holds after every call. Bytes are
/// input bytes: an expanded running status byte is not counted again.
#[derive(Clone, Copy, Default, PartialEq, Eq, Debug)]
pub struct ParserStats {
    /// Bytes consumed.
    pub bytes_in: u64,
    /// Input bytes of complete non-SysEx messages (realtime included).
    pub bytes_messages: u64,
    /// Bytes of complete SysEx messages, `F0` and `F7` included.
    pub bytes_sysex: u64,
    /// Bytes (`F0` and data) of SysEx messages cut short by a status byte or by `finish`.
    pub bytes_sysex_cut: u64,
    /// Bytes of SysEx messages the consumer gave up on ([`Parser::abort_sysex`]).
    pub bytes_sysex_aborted: u64,
    /// Data bytes and `F7`s skipped after an abort, up to the next status byte.
    pub bytes_skipped: u64,
    /// Data bytes with no status to belong to, and `F7`s outside a SysEx.
    pub bytes_stray: u64,
    /// Bytes of non-SysEx messages cut short by a status byte or by `finish`.
    pub bytes_truncated: u64,
    /// Complete channel messages.
    pub channel_messages: u64,
    /// Complete system common messages (F1–F6).
    pub system_common_messages: u64,
    /// Realtime messages (F8–FF).
    pub realtime_messages: u64,
    /// Complete SysEx messages.
    pub sysex_complete: u64,
    /// SysEx messages cut short.
    pub sysex_cut: u64,
    /// SysEx messages aborted by the consumer.
    pub sysex_aborted: u64,
    /// SysEx messages started (`F0` seen): each one completes, is cut, is aborted or is
    /// still in progress.
    pub sysex_started: u64,
    /// Aborted SysEx messages whose `F7` then came (skipped): the other aborted ones were
    /// cut on the way (by a status byte or the end of the stream) or are still being skipped.
    pub sysex_aborted_ended: u64,
    /// Non-SysEx messages cut short.
    pub truncated_messages: u64,
}

impl ParserStats {
    /// Bytes in a final bucket (everything consumed but not pending).
    pub const fn bytes_accounted(&self) -> u64 {
        self.bytes_messages
            + self.bytes_sysex
            + self.bytes_sysex_cut
            + self.bytes_sysex_aborted
            + self.bytes_skipped
            + self.bytes_stray
            + self.bytes_truncated
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Mode {
    Normal,
    SysEx,
    /// After [`Parser::abort_sysex`]: data bytes and `F7` are skipped.
    Skip,
    /// As `Skip`, after the aborted SysEx's `F7`.
    SkipEnded,
}

/// A streaming MIDI 1.0 parser. Feed it any byte slices, split anywhere; state carries over.
///
/// Rules (MIDI 1.0 with the choices this project made where the spec leaves room):
/// - Channel statuses `80..=EF` set running status; a data byte without a status in progress
///   reuses it. System common (`F1..=F7`) and `F0` clear it; realtime leaves it alone.
/// - `F4`/`F5` (undefined system common) are complete one-byte messages, like `F6`.
/// - `F8..=FF` (the undefined `F9`/`FD` included) are one-byte messages reported where they
///   occur, without disturbing a message or SysEx in progress. `FF` does not reset the parser.
/// - A status byte (not realtime) arriving before a message is complete truncates it.
/// - `F7` outside a SysEx is stray (and, being a system common status, clears running status).
/// - A data byte with neither a message in progress nor running status is stray.
#[derive(Clone, Debug)]
pub struct Parser {
    mode: Mode,
    /// Running status, or 0 for none.
    running: u8,
    /// The message being assembled; `len == 0` means none.
    msg: [u8; 3],
    len: u8,
    need: u8,
    /// Input bytes in `msg` (the running status byte is not one).
    msg_input: u8,
    /// Bytes of the SysEx in progress, `F0` included.
    sysex_len: u64,
    stats: ParserStats,
}

impl Default for Parser {
    fn default() -> Self {
        Self::new()
    }
}

impl Parser {
    /// A parser at the start of a stream (no running status).
    pub const fn new() -> Self {
        Self {
            mode: Mode::Normal,
            running: 0,
            msg: [0; 3],
            len: 0,
            need: 0,
            msg_input: 0,
            sysex_len: 0,
            stats: ParserStats {
                bytes_in: 0,
                bytes_messages: 0,
                bytes_sysex: 0,
                bytes_sysex_cut: 0,
                bytes_sysex_aborted: 0,
                bytes_skipped: 0,
                bytes_stray: 0,
                bytes_truncated: 0,
                channel_messages: 0,
                system_common_messages: 0,
                realtime_messages: 0,
                sysex_complete: 0,
                sysex_cut: 0,
                sysex_aborted: 0,
                sysex_started: 0,
                sysex_aborted_ended: 0,
                truncated_messages: 0,
            },
        }
    }

    /// The counters.
    pub const fn stats(&self) -> &ParserStats {
        &self.stats
    }

    /// Consumed bytes not yet in a final bucket: those of a message or SysEx in progress.
    pub const fn pending_bytes(&self) -> u64 {
        let sysex = if matches!(self.mode, Mode::SysEx) {
            self.sysex_len
        } else {
            0
        };
        self.msg_input as u64 + sysex
    }

    /// Input bytes of the non-SysEx message in progress.
    pub const fn pending_message_bytes(&self) -> u64 {
        self.msg_input as u64
    }

    /// Whether a SysEx is in progress.
    pub const fn in_sysex(&self) -> bool {
        matches!(self.mode, Mode::SysEx)
    }

    /// If `input` starts with a realtime byte, consumes it and returns it as [`Parser::next`]
    /// would (the same counters, the same state: realtime bytes change no parser state);
    /// otherwise consumes nothing. Inlined, for the capture path's worst case — a burst of
    /// realtime bytes, each its own event — so that a realtime byte costs no call and no
    /// [`Event`] in memory.
    #[inline(always)]
    pub fn take_realtime(&mut self, input: &mut &[u8]) -> Option<Message> {
        let (&b, rest) = input.split_first()?;
        if !is_realtime(b) {
            return None;
        }
        *input = rest;
        self.stats.bytes_in += 1;
        self.stats.bytes_messages += 1;
        self.stats.realtime_messages += 1;
        Some(Message::realtime(b))
    }

    /// The run of realtime bytes at the front of `input` (possibly empty), consumed and
    /// counted as [`Parser::next`] would consume and count them one by one. For the capture
    /// path's worst case, a burst of realtime bytes: one pass and one update of the counters
    /// for the whole run.
    #[inline]
    pub fn take_realtime_run<'a>(&mut self, input: &mut &'a [u8]) -> &'a [u8] {
        let n = input.iter().take_while(|&&b| is_realtime(b)).count();
        let Some((run, rest)) = input.split_at_checked(n) else {
            return &[];
        };
        *input = rest;
        let n = n as u64;
        self.stats.bytes_in += n;
        self.stats.bytes_messages += n;
        self.stats.realtime_messages += n;
        run
    }

    /// Parses from the front of `input`, advancing it past what was consumed, until one event
    /// is recognised; `None` once `input` is exhausted (partial state is kept for the next
    /// slice).
    pub fn next<'a>(&mut self, input: &mut &'a [u8]) -> Option<Event<'a>> {
        loop {
            if let Some(m) = self.take_realtime(input) {
                return Some(Event::Message(m));
            }
            let (&b, rest) = input.split_first()?;
            match self.mode {
                Mode::SysEx => {
                    if b < 0x80 {
                        return Some(Event::SysExData(self.take_sysex_data(input)));
                    }
                    self.mode = Mode::Normal;
                    if b == 0xF7 {
                        *input = rest;
                        self.stats.bytes_in += 1;
                        self.stats.bytes_sysex += self.sysex_len + 1;
                        self.stats.sysex_complete += 1;
                        self.sysex_len = 0;
                        return Some(Event::SysExEnd);
                    }
                    self.cut_sysex();
                    return Some(Event::SysExCut);
                }
                Mode::Skip | Mode::SkipEnded => {
                    if b < 0x80 || b == 0xF7 {
                        *input = rest;
                        self.stats.bytes_in += 1;
                        self.stats.bytes_skipped += 1;
                        if b == 0xF7 && matches!(self.mode, Mode::Skip) {
                            self.stats.sysex_aborted_ended += 1;
                            self.mode = Mode::SkipEnded;
                        }
                    } else {
                        self.mode = Mode::Normal;
                    }
                }
                Mode::Normal => {
                    *input = rest;
                    self.stats.bytes_in += 1;
                    if b < 0x80 {
                        if let Some(m) = self.data_byte(b) {
                            return Some(Event::Message(m));
                        }
                        continue;
                    }
                    self.truncate_message();
                    if b >= 0xF0 {
                        self.running = 0;
                    }
                    match b {
                        0xF0 => {
                            self.mode = Mode::SysEx;
                            self.sysex_len = 1;
                            self.stats.sysex_started += 1;
                            return Some(Event::SysExStart);
                        }
                        0xF7 => self.stats.bytes_stray += 1,
                        _ => {
                            let data = data_len(b).unwrap_or(0);
                            if b < 0xF0 {
                                self.running = b;
                            }
                            if data == 0 {
                                return Some(Event::Message(self.complete([b, 0, 0], 1, 1)));
                            }
                            self.msg = [b, 0, 0];
                            self.len = 1;
                            self.need = data + 1;
                            self.msg_input = 1;
                        }
                    }
                }
            }
        }
    }

    /// Inside a SysEx: consumes the run of data bytes at the front of `input` (up to the next
    /// status byte, realtime included) and returns it — what [`Parser::next`] would report as
    /// [`Event::SysExData`]. Empty when no SysEx is in progress or `input` does not start
    /// with a data byte.
    pub fn take_sysex_data<'a>(&mut self, input: &mut &'a [u8]) -> &'a [u8] {
        if !self.in_sysex() {
            return &[];
        }
        let n = data_run_len(input);
        let (run, rest) = input.split_at(n);
        *input = rest;
        self.stats.bytes_in += n as u64;
        self.sysex_len += n as u64;
        run
    }

    /// Inside a SysEx: copies data bytes from the front of `input` into `dst` — as many as
    /// [`Parser::take_sysex_data`] would return, but at most `dst.len()` — consumes them and
    /// returns how many. The bulk path of SysEx capture: one pass that scans for the next
    /// status byte and copies. 0 when no SysEx is in progress or `input` does not start with a
    /// data byte.
    pub fn copy_sysex_data(&mut self, input: &mut &[u8], dst: &mut [u8]) -> usize {
        if !self.in_sysex() {
            return 0;
        }
        let n = copy_data_run(input, dst);
        *input = input.get(n..).unwrap_or(&[]);
        self.stats.bytes_in += n as u64;
        self.sysex_len += n as u64;
        n
    }

    /// Gives up on the SysEx in progress (its bytes go to `bytes_sysex_aborted`) and skips
    /// what is left of it — data bytes and its `F7` — up to the next status byte. Realtime
    /// bytes inside the skipped part are still reported. Returns whether a SysEx was in
    /// progress.
    pub fn abort_sysex(&mut self) -> bool {
        if !self.in_sysex() {
            return false;
        }
        self.stats.bytes_sysex_aborted += self.sysex_len;
        self.stats.sysex_aborted += 1;
        self.sysex_len = 0;
        self.mode = Mode::Skip;
        true
    }

    /// Ends the stream: a SysEx in progress is cut (returns `true`), a message in progress is
    /// truncated, running status is forgotten. The parser is then as new, counters aside.
    pub fn finish(&mut self) -> bool {
        let cut = self.in_sysex();
        if cut {
            self.cut_sysex();
        }
        self.mode = Mode::Normal;
        self.truncate_message();
        self.running = 0;
        cut
    }

    fn cut_sysex(&mut self) {
        self.stats.bytes_sysex_cut += self.sysex_len;
        self.stats.sysex_cut += 1;
        self.sysex_len = 0;
        self.mode = Mode::Normal;
    }

    fn truncate_message(&mut self) {
        if self.len > 0 {
            self.stats.bytes_truncated += self.msg_input as u64;
            self.stats.truncated_messages += 1;
            self.len = 0;
            self.msg_input = 0;
        }
    }

    fn data_byte(&mut self, b: u8) -> Option<Message> {
        if self.len == 0 {
            if self.running == 0 {
                self.stats.bytes_stray += 1;
                return None;
            }
            self.msg = [self.running, 0, 0];
            self.len = 1;
            self.need = data_len(self.running).unwrap_or(0) + 1;
            self.msg_input = 0;
        }
        if let Some(slot) = self.msg.get_mut(self.len as usize) {
            *slot = b;
        }
        self.len += 1;
        self.msg_input += 1;
        if self.len < self.need {
            return None;
        }
        #[cfg_attr(not(feature = "planted-faults"), allow(unused_mut))]
        let (mut msg, len, input) = (self.msg, self.len, self.msg_input);
        #[cfg(feature = "planted-faults")]
        crate::planted::parser_bug(&mut msg);
        self.len = 0;
        self.msg_input = 0;
        Some(self.complete(msg, len, input))
    }

    fn complete(&mut self, bytes: [u8; 3], len: u8, input_len: u8) -> Message {
        let m = Message::new(bytes, len, input_len);
        self.stats.bytes_messages += input_len as u64;
        match m.kind() {
            MessageKind::Channel => self.stats.channel_messages += 1,
            MessageKind::SystemCommon => self.stats.system_common_messages += 1,
            MessageKind::Realtime => self.stats.realtime_messages += 1,
        }
        m
    }
}
