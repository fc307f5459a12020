//! [`AllocatorStats`]: the allocator's counters.

/// Counters of one allocator (see [`Allocator::stats`](super::Allocator::stats)).
///
/// Taken from several atomics without a lock: exact when no call is in progress, a close
/// snapshot otherwise. `puts` and `buffer_puts` are derived (`gets - outstanding`).
#[derive(Clone, Copy, Default, PartialEq, Eq, Debug)]
pub struct AllocatorStats {
    /// Successful `GetMessage` calls.
    pub gets: u64,
    /// Events recycled (`PutMessage`, packages included).
    pub puts: u64,
    /// Successful `GetBuffer` calls.
    pub buffer_gets: u64,
    /// Buffers recycled (`PutBuffer` and buffers of events given to `PutMessage`).
    pub buffer_puts: u64,
    /// Gets (events and buffers) served from the reserve (any processor's stack), without
    /// touching the block pool.
    pub reserve_hits: u64,
    /// Gets (events and buffers) served by the block pool (the reserve was empty).
    pub pool_misses: u64,
    /// Gets (events and buffers) that failed: cap reached or block pool exhausted.
    pub failures: u64,
    /// Events handed out and not yet recycled.
    pub outstanding_events: u32,
    /// Buffers handed out and not yet recycled.
    pub outstanding_buffers: u32,
    /// Most events outstanding at once so far. Sampled, not tracked on every call (see
    /// [`reserve`](super::reserve)): exact while one processor makes all the calls; with
    /// several processors at once it may miss a peak they reach together.
    pub high_water_events: u32,
    /// Most buffers outstanding at once so far (sampled as `high_water_events`).
    pub high_water_buffers: u32,
    /// Events waiting in the reserve now.
    pub reserve_free_events: u32,
    /// Buffers waiting in the reserve now.
    pub reserve_free_buffers: u32,
}
