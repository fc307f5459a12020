//! The seam between the run loop and a MIDI port pair: WinMM on Windows, a simulated
//! loopback everywhere (see [`crate::sim`]).

use std::fmt;
use std::time::Duration;

/// Something received from the input port.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// `MIM_DATA`: a packed short message (`status | d1 << 8 | d2 << 16`) and the transport
    /// clock (µs) when it arrived.
    Short(u32, u64),
    /// `MIM_LONGDATA`: the recorded bytes of one long-data buffer and its arrival time (µs).
    Long(Vec<u8>, u64),
    /// `MIM_LONGERROR`: the recorded bytes of a buffer WinMM flagged as an invalid SysEx.
    LongError(Vec<u8>, u64),
}

/// A failure of the transport itself (as opposed to wrong data, which the checker judges).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TransportError {
    /// What was being done.
    pub op: &'static str,
    /// Why it failed (e.g. the `MMRESULT` text).
    pub detail: String,
}

impl TransportError {
    /// Builds an error.
    pub fn new(op: &'static str, detail: impl Into<String>) -> Self {
        Self {
            op,
            detail: detail.into(),
        }
    }
}

impl fmt::Display for TransportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} failed: {}", self.op, self.detail)
    }
}

impl std::error::Error for TransportError {}

/// An output port wired (through the loopback under test) to an input port.
pub trait Transport {
    /// The transport's monotonic clock, µs (QueryPerformanceCounter on Windows).
    fn now_us(&self) -> u64;
    /// Sends one packed short message.
    fn send_short(&mut self, packed: u32) -> Result<(), TransportError>;
    /// Sends one complete SysEx message (`F0 … F7`); returns once the transport has handed
    /// all of it to the driver.
    fn send_long(&mut self, msg: &[u8]) -> Result<(), TransportError>;
    /// Waits up to `timeout` for the next input event; `Ok(None)` on timeout.
    fn recv(&mut self, timeout: Duration) -> Result<Option<Event>, TransportError>;
    /// Human-readable description of the endpoints, for the report.
    fn describe(&self) -> String;
}
