//! The capture path: raw MIDI bytes from the (virtual) wire → `DMUS_KERNEL_EVENT` chains of
//! complete messages, built only through an `IAllocatorMXF`.
//!
//! # Decisions
//! - **Complete messages, not raw bytes.** Unlike the classic UART miniport (which ships raw
//!   bytes flagged `INCOMPLETE` and lets the port's sink parse them), every event holds one
//!   whole message with running status expanded, or one SysEx fragment. [`CaptureMode::Raw`]
//!   flags all of them `INCOMPLETE` as that miniport does, for a port that expects it.
//! - **The allocator's fields and `PutBuffer`.** Events are filled field by field, never
//!   writing `bReserved`/`cbStruct` (`mxf_abi::EventFields`). A buffer is always taken with
//!   the event it will go out in and goes back inside it through `PutMessage`, even when a
//!   SysEx is dropped: the packager never calls `PutBuffer`.
//! - **Realtime is never delayed.** A realtime byte becomes its own event at the point it
//!   arrives, even in the middle of a SysEx: it goes *between* two fragments of that SysEx
//!   (the bytes of the SysEx emitted so far precede it, the rest follows). Events are thus in
//!   the order in which they complete, a fragment completing when it fills (`cap` bytes) or
//!   when its SysEx ends. Holding MIDI clock back for the length of a SysEx (a 1 MiB SysEx
//!   is five minutes of wire time) is not an option; realtime inside a SysEx is valid MIDI.
//! - **SysEx streaming.** Fragments are `cap = max(GetBufferSize(), 8)` bytes, emitted as
//!   soon as full, so only one partial fragment is ever held between bursts. The last
//!   fragment (whatever remains, `F7` included) is inline when it is 8 bytes or fewer.
//! - **Flags.** `DMUS_KEF_EVENT_COMPLETE` means "the entire message is in this event";
//!   `DMUS_KEF_EVENT_INCOMPLETE` marks raw MIDI bytes that the port's capture sink parses.
//!   So an event holding one whole message (a short message, a realtime byte, a SysEx that
//!   fits in one event) is `COMPLETE`, and *every* fragment of a SysEx spread over several
//!   events is `INCOMPLETE`, its last one (ending in `F7`) included: a sink that passes
//!   `COMPLETE` events straight through would otherwise deliver a broken message. Realtime
//!   events between two fragments are `COMPLETE` and, being realtime, do not disturb the
//!   sink's parse of the SysEx around them.
//! - **Timestamps.** Every event carries the timestamp of the burst in which it was emitted:
//!   a message split across bursts gets the time of the burst that completes it, and each
//!   SysEx fragment the time of the burst in which it filled up (or the SysEx ended).
//! - **Truncated SysEx.** A SysEx cut by a status byte (or by [`CapturePackager::reset`]) is
//!   delivered up to the cut: its held bytes go out as a last fragment flagged `INCOMPLETE`
//!   (none if nothing was held). The consumer tells it apart from a complete SysEx because a
//!   complete one ends with a fragment whose last byte is `F7`; a truncated one is followed
//!   by an event starting with a status byte (not realtime) instead of a continuation (which
//!   starts with a data byte or `F7`). Serialised back to a wire, or parsed by the sink as
//!   raw bytes, that is exactly the cut SysEx that came in.
//! - **Out of memory.** If `GetMessage` fails for a message, that message is dropped and
//!   counted; parsing goes on (a complete message needs no resynchronisation). If
//!   `GetMessage`/`GetBuffer` fails during a SysEx, the SysEx is dropped: its held buffer and
//!   its fragments in the chain being built go back to the allocator (realtime events in
//!   between are kept), the rest of it is skipped up to the next status byte, and it is
//!   counted. Fragments already returned by an earlier call cannot be recalled: the consumer
//!   sees them as a truncated SysEx (counted in `sysex_dropped_after_partial_delivery`).
//! - **Stray and truncated bytes** (data without a status, `F7` outside a SysEx, a message cut
//!   short by a status byte) are dropped and counted; see [`crate::midi::Parser`].
//!
//! Every input byte is accounted for: see [`CaptureStats`].

mod chain;
mod packager;
mod stats;

pub use chain::Chain;
pub use packager::{CAPTURE_CHANNEL_GROUP, CapturePackager};
pub use stats::CaptureStats;

/// How a capture stream flags its events. Either way the bytes are the same whole messages in
/// the same events; only the flags differ.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum CaptureMode {
    /// An event holding one whole message is `COMPLETE`; every fragment of a SysEx spread
    /// over several events is `INCOMPLETE` (see the module docs).
    #[default]
    Whole,
    /// Microsoft's DMusUART convention: every event is `INCOMPLETE`, raw MIDI bytes for the
    /// port's capture sink to parse (short ones inline, longer ones in `GetBuffer` buffers).
    Raw,
}

impl CaptureMode {
    /// The mode a registry value (`CaptureMode`, `REG_DWORD`) selects: 0 [`CaptureMode::Whole`],
    /// 1 [`CaptureMode::Raw`]; anything else is refused (the caller keeps the default and
    /// logs it).
    pub const fn from_registry(value: u32) -> Option<Self> {
        match value {
            0 => Some(Self::Whole),
            1 => Some(Self::Raw),
            _ => None,
        }
    }
}
