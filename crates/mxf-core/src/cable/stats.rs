//! The counters of a cable ([`CableStats`]) and of each of its readers ([`ReaderStats`]).

use crate::feedback::FeedbackStats;

/// Counters of a cable (its writes, its merge rule, its feedback guard).
#[derive(Clone, Copy, Default, PartialEq, Eq, Debug)]
pub struct CableStats {
    /// Writes taken (by at least one reader, or by none because every joined reader skips
    /// the SysEx it belongs to).
    pub writes: u64,
    /// Their bytes.
    pub bytes: u64,
    /// Writes refused with `Full` because another writer's SysEx held the cable.
    pub merge_waits: u64,
    /// Realtime bytes that passed while another writer's SysEx held the cable.
    pub realtime_passed: u64,
    /// SysEx messages written in several pieces (each held the cable while in progress).
    pub sysex_held: u64,
    /// Writes refused: no reader joined.
    pub refused_no_listener: u64,
    /// Writes refused: every reader that would take it was full.
    pub refused_full: u64,
    /// Writes refused: no reader took it, none was full, and a reader's allocator failed with
    /// its queue empty.
    pub refused_no_memory: u64,
    /// Writes refused: larger than every reader could ever hold.
    pub refused_too_large: u64,
    /// Writes refused: the feedback guard muted the cable (messages and SysEx pieces).
    pub refused_muted: u64,
    /// The feedback guard's counters.
    pub feedback: FeedbackStats,
    /// Whether the guard mutes the cable now.
    pub muted: bool,
    /// Readers attached now (capture streams), joined or not.
    pub readers_attached: u32,
    /// Readers joined now (capture streams in `RUN`).
    pub readers_joined: u32,
}

/// Counters of one reader of a cable, over the times it was joined.
///
/// Every byte written to the cable while the reader was joined is either delivered to it
/// (queued in its loopback) or dropped for it: `bytes_delivered + bytes_dropped` is what was
/// sent, except the pieces of a SysEx that started before it joined (never its to see).
#[derive(Clone, Copy, Default, PartialEq, Eq, Debug)]
pub struct ReaderStats {
    /// Messages delivered whole (a SysEx in pieces when its last piece is delivered).
    pub messages_delivered: u64,
    /// Bytes delivered (queued in the reader's loopback).
    pub bytes_delivered: u64,
    /// Messages dropped whole for this reader (its loopback refused them, or the first piece
    /// of a SysEx, while another reader took them).
    pub messages_dropped: u64,
    /// Bytes dropped for it (those messages, and the rest of each truncated SysEx).
    pub bytes_dropped: u64,
    /// SysEx messages cut for it after some of their pieces got to it: it refused a later
    /// piece, so it skipped the rest (it sees the SysEx cut by the next message, never one
    /// with a hole).
    pub sysex_truncated: u64,
}
