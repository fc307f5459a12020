//! [`WriteOutcome`]: the answer to one all-or-nothing write of a normalised MIDI message (or
//! SysEx piece), the one vocabulary the loopback speaks and the render queue acts on.
//!
//! A leaf module: the loopback ([`crate::loopback::Loopback::write_parts`]) and the cable
//! ([`crate::cable::Cable::write`], which adds `Muted`) produce it, a
//! [`crate::render::RenderTarget`] returns it, and the render queue decides per variant
//! whether to wait, retry or give the message up, so no layer in between can re-map one
//! refusal onto another.

/// Whether a write was taken; every variant but `Accepted` means nothing was kept.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum WriteOutcome {
    /// All bytes are queued.
    Accepted,
    /// No room now (capacity, or the allocator's caps with bytes queued): a reader will make
    /// room, and the target kicks the render queue after it did. The writer keeps the bytes
    /// and waits.
    Full,
    /// Allocation failed with nothing queued, so nothing will free memory by itself: the
    /// render queue retries after [`crate::render::RenderConfig::retry_delay_100ns`], up to
    /// [`crate::render::RenderConfig::no_memory_retries`] times, then gives the message up.
    NoMemory,
    /// Nobody listens (no capture stream in `RUN`, no reader joined): given up at once.
    NoListener,
    /// Larger than the target could ever hold: given up at once, never retried (waiting or
    /// retrying cannot make it fit).
    TooLarge,
    /// The cable's feedback guard mutes it (see [`crate::cable`]): given up at once, counted
    /// as muted.
    Muted,
}
