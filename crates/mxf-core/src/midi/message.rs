//! A complete MIDI 1.0 message other than SysEx, and the byte-count rules per status.

/// What a status byte introduces.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum MessageKind {
    /// `0x80..=0xEF`: note off/on, poly pressure, control change, program change, channel
    /// pressure, pitch bend.
    Channel,
    /// `0xF1..=0xF6` (MTC quarter frame, song position, song select, the undefined F4/F5, tune
    /// request).
    SystemCommon,
    /// `0xF8..=0xFF`, the undefined F9 and FD included.
    Realtime,
}

/// Data bytes that follow `status` in a message, or `None` for bytes that do not start a
/// fixed-length message (data bytes, `F0`, `F7`).
///
/// The undefined system common statuses F4 and F5 count as complete one-byte messages: the
/// loopback passes them through like any other status instead of guessing a length.
pub const fn data_len(status: u8) -> Option<u8> {
    match status {
        0x80..=0xBF | 0xE0..=0xEF => Some(2),
        0xC0..=0xDF => Some(1),
        0xF1 | 0xF3 => Some(1),
        0xF2 => Some(2),
        0xF4..=0xF6 => Some(0),
        0xF8..=0xFF => Some(0),
        _ => None,
    }
}

/// Whether `b` is a realtime status byte (may appear anywhere, even inside another message).
#[inline]
pub const fn is_realtime(b: u8) -> bool {
    b >= 0xF8
}

/// A complete non-SysEx message: 1 to 3 bytes with its status byte first (running status
/// expanded).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Message {
    bytes: [u8; 3],
    len: u8,
    input_len: u8,
}

impl Message {
    /// A realtime message (`b` must be `0xF8..=0xFF`; checked by the caller).
    pub(crate) const fn realtime(b: u8) -> Self {
        Self {
            bytes: [b, 0, 0],
            len: 1,
            input_len: 1,
        }
    }

    /// A message of `len` bytes of `bytes` of which `input_len` came from the input (the rest
    /// is an expanded running status byte).
    pub(crate) const fn new(bytes: [u8; 3], len: u8, input_len: u8) -> Self {
        Self {
            bytes,
            len,
            input_len,
        }
    }

    /// The message's bytes, status byte first.
    pub fn as_bytes(&self) -> &[u8] {
        self.bytes.get(..self.len as usize).unwrap_or(&[])
    }

    /// The message as an event's inline `abData`: its bytes first, the rest zero. Built in a
    /// register (no slice copy: the capture path makes one per event).
    #[inline]
    pub const fn to_inline(&self) -> [u8; 8] {
        let [a, b, c] = self.bytes;
        let v = u64::from_le_bytes([a, b, c, 0, 0, 0, 0, 0]);
        // `len` is 1..=3 by construction; the mask keeps at most the first `len` bytes.
        let keep: u64 = match self.len {
            0 => 0,
            1 => 0xFF,
            2 => 0xFFFF,
            _ => 0xFF_FFFF,
        };
        (v & keep).to_le_bytes()
    }

    /// The status byte.
    pub const fn status(&self) -> u8 {
        self.bytes[0]
    }

    /// Bytes of the input this message consumed: one less than [`Message::as_bytes`]'s length
    /// when its status came from running status.
    pub const fn input_len(&self) -> usize {
        self.input_len as usize
    }

    /// The message's class.
    pub const fn kind(&self) -> MessageKind {
        match self.bytes[0] {
            0xF8..=0xFF => MessageKind::Realtime,
            0xF0..=0xF7 => MessageKind::SystemCommon,
            _ => MessageKind::Channel,
        }
    }
}
