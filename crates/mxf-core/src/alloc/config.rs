//! [`AllocatorConfig`]: sizes, reserves and caps of an allocator.

use super::stack::MAX_SLOTS;
use mxf_abi::NtError;
use mxf_abi::SHORT_EVENT_MAX;

/// Bytes of the page the buffer blocks are sized to.
const PAGE_SIZE: usize = 4096;

/// How an allocator is sized.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct AllocatorConfig {
    /// `GetBufferSize()`: usable bytes of every `GetBuffer` buffer, 9..=65535 (a payload of
    /// at most 8 bytes travels inline in `abData`, and `cbEvent` is 16 bits).
    pub buffer_size: u16,
    /// Events taken from the block pool at creation and kept for the allocator's lifetime
    /// (at most 65535): `GetMessage` serves from them first, so the capture path never
    /// starts out empty and does not depend on the block pool while they last. In all, not
    /// per processor: they start spread over the processors' reserve stacks and a get on any
    /// processor reaches every free one (see [`reserve`](super::reserve)).
    pub reserve_events: u16,
    /// Buffers kept the same way (at most 65535).
    pub reserve_buffers: u16,
    /// Most events outstanding at once (reserve included); at least 1 and at least
    /// `reserve_events`. Beyond it `GetMessage` fails with `STATUS_INSUFFICIENT_RESOURCES`.
    pub max_events: u32,
    /// Most buffers outstanding at once (reserve included); at least `reserve_buffers`
    /// (0 = an allocator without buffers).
    pub max_buffers: u32,
    /// Fill every block that goes back to the reserve with [`POISON_BYTE`] and verify the
    /// fill when it is handed out again or the allocator is destroyed: a write after
    /// `PutMessage`/`PutBuffer` into a reserve block then stops the system with
    /// `DRIVER_PAGE_FAULT_IN_FREED_SPECIAL_POOL` (0xD5). Costs a fill and a scan of the
    /// payload per round trip; meant for Verifier runs (blocks that go back to the block pool
    /// are the platform's to poison).
    ///
    /// [`POISON_BYTE`]: super::POISON_BYTE
    pub poison_freed: bool,
}

impl AllocatorConfig {
    /// The defaults:
    /// - `buffer_size` 4080: a buffer block (16-byte header + payload) is exactly one
    ///   4096-byte page, so each buffer is one page-sized pool allocation, as the port's own
    ///   allocator hands out page-sized buffers, and the capture path's one-SysEx-fragment-per-
    ///   buffer packaging fits 4080 bytes of SysEx (1.3 s at MIDI wire speed) in one event;
    /// - `reserve_events` 256: two bursts' worth of the worst capture burst (a 128-byte FIFO
    ///   of realtime bytes, one event each) without touching the block pool;
    /// - `reserve_buffers` 8; `max_events` 32768 (about 1.8 MB); `max_buffers` 1024 (4 MB);
    /// - `poison_freed` off.
    pub const DEFAULT: Self = Self {
        buffer_size: (PAGE_SIZE - super::header::HEADER_SIZE) as u16,
        reserve_events: 256,
        reserve_buffers: 8,
        max_events: 32_768,
        max_buffers: 1024,
        poison_freed: false,
    };

    /// Checks the documented bounds; `STATUS_INVALID_PARAMETER` if one is violated.
    pub fn validate(&self) -> Result<(), NtError> {
        let ok = usize::from(self.buffer_size) > SHORT_EVENT_MAX
            && usize::from(self.reserve_events) <= MAX_SLOTS
            && usize::from(self.reserve_buffers) <= MAX_SLOTS
            && self.max_events >= 1
            && self.max_events >= u32::from(self.reserve_events)
            && self.max_buffers >= u32::from(self.reserve_buffers);
        if ok {
            Ok(())
        } else {
            Err(NtError::INVALID_PARAMETER)
        }
    }
}

impl Default for AllocatorConfig {
    fn default() -> Self {
        Self::DEFAULT
    }
}
