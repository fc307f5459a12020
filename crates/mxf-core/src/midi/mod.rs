//! MIDI 1.0 byte streams: a streaming parser ([`Parser`]) that turns raw bytes into complete
//! messages and streamed SysEx, and a text formatter ([`format::format_messages`]).
//!
//! Pure logic: no COM, no allocation. The capture packager (`crate::capture`) builds on the
//! parser; the render side (`crate::serialize`) turns events back into bytes.

pub mod format;
mod message;
mod parser;

pub use message::{Message, MessageKind, data_len, is_realtime};
pub use parser::{Event, Parser, ParserStats};

#[cfg(test)]
mod tests;
