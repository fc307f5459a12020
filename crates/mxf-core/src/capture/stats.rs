//! [`CaptureStats`]: what the packager did with every byte it was fed.

use crate::midi::ParserStats;

/// Counters of a [`super::CapturePackager`].
///
/// Every byte fed is, at any time, in exactly one of: delivered (in an event of a chain the
/// packager returned), dropped (no memory, stray, truncated, skipped after an abort) or
/// pending (a message or SysEx fragment still being assembled):
/// `bytes_in() == bytes_accounted() + bytes_pending` — each term counted where it happens.
/// Bytes are input bytes: an expanded running status byte is not counted again.
#[derive(Clone, Copy, Default, PartialEq, Eq, Debug)]
pub struct CaptureStats {
    /// The parser's own view of the input (see [`ParserStats`]).
    pub parser: ParserStats,
    /// Events put in returned chains (retracted ones excluded).
    pub events_out: u64,
    /// Channel messages delivered.
    pub channel_messages: u64,
    /// System common messages delivered.
    pub system_common_messages: u64,
    /// Realtime messages delivered.
    pub realtime_messages: u64,
    /// SysEx messages delivered whole (last fragment flagged complete, ending in `F7`).
    pub sysex_complete: u64,
    /// SysEx messages cut short by a status byte or a reset: delivered up to the cut, the last
    /// fragment flagged incomplete.
    pub sysex_truncated: u64,
    /// Bytes of SysEx delivered (`F0`/`F7` included).
    pub sysex_bytes: u64,
    /// Events carrying SysEx bytes (inline or in a buffer).
    pub sysex_fragments: u64,
    /// Of those, events whose bytes are in a `GetBuffer` buffer.
    pub sysex_buffer_fragments: u64,
    /// Input bytes delivered.
    pub bytes_delivered: u64,
    /// Input bytes dropped because `GetMessage`/`GetBuffer` failed.
    pub bytes_dropped_no_memory: u64,
    /// Non-SysEx messages dropped because `GetMessage` failed.
    pub messages_dropped_no_memory: u64,
    /// SysEx messages dropped because `GetMessage`/`GetBuffer` failed.
    pub sysex_dropped_no_memory: u64,
    /// Of those, SysEx whose first fragments had already been returned in an earlier chain
    /// (the consumer sees them as a truncated SysEx).
    pub sysex_dropped_after_partial_delivery: u64,
    /// Bytes pending when the counters were read.
    pub bytes_pending: u64,
}

impl CaptureStats {
    /// Bytes fed.
    pub const fn bytes_in(&self) -> u64 {
        self.parser.bytes_in
    }

    /// Bytes delivered or dropped (everything fed but not pending).
    pub const fn bytes_accounted(&self) -> u64 {
        self.bytes_delivered
            + self.bytes_dropped_no_memory
            + self.parser.bytes_stray
            + self.parser.bytes_truncated
            + self.parser.bytes_skipped
    }

    /// Messages (SysEx included) dropped for want of memory.
    pub const fn dropped_no_memory(&self) -> u64 {
        self.messages_dropped_no_memory + self.sysex_dropped_no_memory
    }
}
