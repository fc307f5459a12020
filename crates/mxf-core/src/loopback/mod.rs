//! The virtual cable between the render and the capture stream: a bounded byte FIFO stored in
//! events and buffers of our own `IAllocatorMXF`.
//!
//! # Storage
//! The FIFO is a list of *chunks*, each an event of our allocator linked through
//! `p_next_evt`: a chunk of at most 8 bytes keeps them inline (`ab_data`), a longer one in a
//! `GetBuffer` buffer (`pb_data`, `cb_event` = bytes filled). Every chunk carries the time of
//! the write that started it in `ull_pres_time_100ns`; a write appends to the last chunk only
//! when it has room *and* the same time, so each byte's write time is known exactly (a
//! render batch writes all its bytes with one time and so fills whole buffers; bytes written
//! at different times cost an event each). The allocator is created by [`Loopback::new`]
//! (`PASSIVE_LEVEL`) with its own sizes ([`LoopbackConfig::allocator`]) and pool tags, and
//! everything goes back to it as soon as it is read.
//!
//! # Refusal, never loss: writes are all or nothing, and the writer decides
//! A write (one normalised MIDI message, or one piece of a SysEx: see `render`) is all or
//! nothing, and the loopback never drops bytes it was offered: it either queues all of them
//! or refuses the write ([`WriteOutcome`]) and keeps nothing. It refuses when
//! - nobody listens ([`Loopback::set_listening`] off: no capture stream in `RUN`):
//!   [`WriteOutcome::Closed`];
//! - the bytes would take the queue past [`LoopbackConfig::capacity`], or the allocator cannot
//!   supply the chunks while bytes are queued (the cap on its events/buffers is a capacity
//!   too): [`WriteOutcome::Full`]. A reader will make room: the writer keeps the bytes and
//!   retries after the next read (flow control);
//! - the allocator fails while the queue is *empty* (nothing will drain, so waiting for a
//!   read is pointless): [`WriteOutcome::NoMemory`];
//! - the write is larger than the capacity (it could never fit): [`WriteOutcome::TooLarge`].
//!   [`LoopbackConfig::validate`] makes the capacity and the allocator hold [`MAX_WRITE`]
//!   bytes, the largest write the render side makes.
//!
//! The writer counts what it gives up (see `render`). Refusals are counted here too
//! (`writes_refused_*`), but refused bytes are not "in".
//!
//! # Invariant
//! `bytes_in == bytes_out + bytes_discarded + bytes_queued` at any time (all four are updated
//! under the same lock).
//!
//! # Concurrency
//! One spin lock protects the queue; [`Loopback::write`] and [`Loopback::read`] are callable
//! at IRQL <= `DISPATCH_LEVEL` from any CPU. Chunks read empty are returned to the allocator
//! after the lock is released.

use crate::alloc::{AllocatorConfig, new_allocator};
use crate::com::ComPtr;
use crate::platform::{Platform, SpinLock};
use core::ptr::{self, NonNull};
use mxf_abi::{
    DmusEventData, DmusKernelEvent, IAllocatorMxf, K_BYTE_POSITION_NONE, NtStatus, SHORT_EVENT_MAX,
    STATUS_INVALID_PARAMETER,
};

/// The largest write the render side makes: one event's payload (at most 65535 bytes) plus a
/// SysEx's `F0` carried over from the event before and its `F7` (see `render`). A loopback
/// is configured to take a write this large.
pub const MAX_WRITE: usize = u16::MAX as usize + 2;

/// How a loopback is sized.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct LoopbackConfig {
    /// Most bytes queued at once (at least [`MAX_WRITE`]).
    pub capacity: u32,
    /// The loopback's own allocator.
    pub allocator: AllocatorConfig,
}

impl LoopbackConfig {
    /// 1 MiB of queue; an allocator of page-sized buffers able to hold all of it in buffers
    /// (`max_buffers` 260 × 4080 bytes) or up to 65536 chunks in all, with a small reserve
    /// so that the first writes do not touch the block pool.
    pub const DEFAULT: Self = Self {
        capacity: 1 << 20,
        allocator: AllocatorConfig {
            buffer_size: AllocatorConfig::DEFAULT.buffer_size,
            reserve_events: 64,
            reserve_buffers: 4,
            max_events: 65_536,
            max_buffers: 260,
            poison_freed: false,
        },
    };
}

impl LoopbackConfig {
    /// Checks that the queue and its allocator can take a [`MAX_WRITE`]-byte write when
    /// empty (else a writer waiting for room could wait forever):
    /// `STATUS_INVALID_PARAMETER` otherwise (or if the allocator config is invalid).
    pub fn validate(&self) -> Result<(), NtStatus> {
        self.allocator.validate()?;
        let buffer = usize::from(self.allocator.buffer_size).max(1);
        let chunks = MAX_WRITE.div_ceil(buffer) as u64;
        if (self.capacity as usize) < MAX_WRITE
            || u64::from(self.allocator.max_buffers) < chunks
            || u64::from(self.allocator.max_events) < chunks
        {
            return Err(STATUS_INVALID_PARAMETER);
        }
        Ok(())
    }
}

impl Default for LoopbackConfig {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// Counters of a loopback (see the module docs for the invariant).
#[derive(Clone, Copy, Default, PartialEq, Eq, Debug)]
pub struct LoopbackStats {
    /// Bytes accepted by [`Loopback::write`].
    pub bytes_in: u64,
    /// Bytes handed out by [`Loopback::read`].
    pub bytes_out: u64,
    /// Bytes discarded from the queue by [`Loopback::discard`].
    pub bytes_discarded: u64,
    /// Bytes queued now.
    pub bytes_queued: u64,
    /// Most bytes queued at once.
    pub high_water: u64,
    /// Writes accepted.
    pub writes: u64,
    /// Writes refused: capacity reached.
    pub writes_refused_full: u64,
    /// Writes refused: allocator exhausted with bytes queued (a read will free chunks).
    pub writes_refused_alloc_full: u64,
    /// Writes refused: allocator failed with nothing queued.
    pub writes_refused_no_memory: u64,
    /// Writes refused: nobody listening.
    pub writes_refused_closed: u64,
    /// Writes refused: larger than the capacity.
    pub writes_refused_too_large: u64,
    /// Reads that returned at least one byte.
    pub reads: u64,
    /// Chunks (events) queued now.
    pub chunks_queued: u64,
    /// Reads that reported a latency (see [`Loopback::read_burst`]).
    pub latency_samples: u64,
    /// Sum of `now - written_at` over those reads (100 ns units).
    pub latency_total: u64,
    /// Largest `now - written_at` seen.
    pub latency_max: u64,
}

impl LoopbackStats {
    /// Every byte that left without being read.
    pub const fn bytes_dropped(&self) -> u64 {
        self.bytes_discarded
    }
}

/// Whether a write entered the queue (see the module docs).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum WriteOutcome {
    /// All bytes are queued.
    Accepted,
    /// Nothing was queued: no room now (capacity, or the allocator's caps with bytes
    /// queued); retry after a read.
    Full,
    /// Nothing was queued: the allocator failed with the queue empty.
    NoMemory,
    /// Nothing was queued: nobody listens.
    Closed,
    /// Nothing was queued: larger than the capacity.
    TooLarge,
}

/// What one [`Loopback::read_burst`] returned.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Burst {
    /// Bytes copied out.
    pub len: usize,
    /// Write time of the first of them (`None` when `len` is 0).
    pub written_at: Option<i64>,
}

struct Fifo {
    head: *mut DmusKernelEvent,
    tail: *mut DmusKernelEvent,
    /// Bytes of `head` already read.
    head_read: usize,
    listening: bool,
    stats: LoopbackStats,
}

// SAFETY: the chunks are owned exclusively by the FIFO (moved in and out under its lock).
unsafe impl Send for Fifo {}

/// The cable: see the module docs.
pub struct Loopback<P: Platform> {
    alloc: ComPtr<IAllocatorMxf>,
    buffer_size: usize,
    capacity: u64,
    fifo: SpinLock<P::RawSpinLock, Fifo>,
}

/// Bytes a chunk can hold.
fn room_of(ev: &DmusKernelEvent, buffer_size: usize) -> usize {
    if ev.is_short() {
        SHORT_EVENT_MAX
    } else {
        buffer_size
    }
}

/// The bytes of a chunk, `len` of them from the start of its storage.
///
/// # Safety
/// `ev` is a chunk of a loopback whose allocator's buffers are `buffer_size` bytes, owned by
/// the caller for `'a`; `len` is at most the chunk's room.
unsafe fn chunk_bytes<'a>(ev: *mut DmusKernelEvent, len: usize) -> &'a mut [u8] {
    // SAFETY: per the caller. An inline chunk's storage is `ab_data` (8 bytes); a buffer
    // chunk's is its buffer (`buffer_size` bytes, initialised or not: only written or read
    // within what was written).
    unsafe {
        if (*ev).is_short() {
            core::slice::from_raw_parts_mut(ptr::addr_of_mut!((*ev).u_data.ab_data).cast(), len)
        } else {
            core::slice::from_raw_parts_mut((*ev).u_data.pb_data, len)
        }
    }
}

/// Copies `len` bytes of the concatenation of `parts`, from byte `from` on, into
/// `dst[at..at + len]` (`dst` is long enough: the callers size it so).
fn copy_parts(dst: &mut [u8], mut at: usize, parts: &[&[u8]], mut from: usize, mut len: usize) {
    for p in parts {
        if len == 0 {
            break;
        }
        if from >= p.len() {
            from -= p.len();
            continue;
        }
        let n = (p.len() - from).min(len);
        if let (Some(d), Some(src)) = (dst.get_mut(at..at + n), p.get(from..from + n)) {
            d.copy_from_slice(src);
        }
        at += n;
        len -= n;
        from = 0;
    }
}

impl<P: Platform> Loopback<P> {
    /// A loopback with its own allocator, not listening. `PASSIVE_LEVEL`.
    /// `STATUS_INVALID_PARAMETER` unless [`LoopbackConfig::validate`] passes.
    pub fn new(platform: P, cfg: LoopbackConfig) -> Result<Self, NtStatus> {
        cfg.validate()?;
        let lock = platform.new_spin_lock();
        let alloc = new_allocator(platform, cfg.allocator)?;
        Ok(Self {
            buffer_size: usize::from(alloc.buffer_size()),
            alloc,
            capacity: u64::from(cfg.capacity),
            fifo: SpinLock::new(
                lock,
                Fifo {
                    head: ptr::null_mut(),
                    tail: ptr::null_mut(),
                    head_read: 0,
                    listening: false,
                    stats: LoopbackStats::default(),
                },
            ),
        })
    }

    /// The loopback's own allocator (for its statistics).
    pub fn allocator(&self) -> &ComPtr<IAllocatorMxf> {
        &self.alloc
    }

    /// Most bytes queued at once.
    pub fn capacity(&self) -> u64 {
        self.capacity
    }

    /// A snapshot of the counters.
    pub fn stats(&self) -> LoopbackStats {
        self.fifo.lock().stats
    }

    /// Bytes queued now.
    pub fn queued(&self) -> u64 {
        self.fifo.lock().stats.bytes_queued
    }

    /// Whether writes are taken (a capture stream in `RUN` listens). IRQL <=
    /// `DISPATCH_LEVEL`.
    pub fn set_listening(&self, on: bool) {
        self.fifo.lock().listening = on;
    }

    /// Whether writes are taken.
    pub fn is_listening(&self) -> bool {
        self.fifo.lock().listening
    }

    /// Appends `bytes`, written at `time`, all or nothing (see the module docs). An empty
    /// write is accepted and changes nothing. IRQL <= `DISPATCH_LEVEL`.
    pub fn write(&self, bytes: &[u8], time: i64) -> WriteOutcome {
        self.write_parts(&[bytes], time)
    }

    /// Appends the concatenation of `parts` as one all-or-nothing write.
    pub fn write_parts(&self, parts: &[&[u8]], time: i64) -> WriteOutcome {
        let len: usize = parts.iter().map(|p| p.len()).sum();
        if len == 0 {
            return WriteOutcome::Accepted;
        }
        let n = len as u64;
        let mut f = self.fifo.lock();
        if !f.listening {
            f.stats.writes_refused_closed += 1;
            return WriteOutcome::Closed;
        }
        if n > self.capacity {
            f.stats.writes_refused_too_large += 1;
            return WriteOutcome::TooLarge;
        }
        if f.stats.bytes_queued.saturating_add(n) > self.capacity {
            f.stats.writes_refused_full += 1;
            return WriteOutcome::Full;
        }
        // Room in the tail, if the tail has the same time.
        let mut in_tail = 0;
        // SAFETY: a non-null tail is a chunk the FIFO owns; we hold the lock.
        if let Some(tail) = unsafe { f.tail.as_ref() }
            && tail.ull_pres_time_100ns == time as u64
        {
            in_tail = room_of(tail, self.buffer_size)
                .saturating_sub(usize::from(tail.cb_event))
                .min(len);
        }
        // Get every new chunk first, so that a failure leaves the queue untouched.
        let Some((first, last, count)) = self.new_chunks(parts, in_tail, time) else {
            if f.stats.bytes_queued > 0 {
                f.stats.writes_refused_alloc_full += 1;
                return WriteOutcome::Full;
            }
            f.stats.writes_refused_no_memory += 1;
            return WriteOutcome::NoMemory;
        };
        if in_tail > 0 {
            let tail = f.tail;
            // SAFETY: the tail is a chunk we own under the lock with room for `in_tail`
            // bytes after its `cb_event` bytes (computed above).
            unsafe {
                let used = usize::from((*tail).cb_event);
                copy_parts(chunk_bytes(tail, used + in_tail), used, parts, 0, in_tail);
                (*tail).cb_event = (used + in_tail) as u16;
            }
        }
        if !first.is_null() {
            if f.tail.is_null() {
                f.head = first;
                f.head_read = 0;
            } else {
                // SAFETY: the tail is a chunk we own.
                unsafe { (*f.tail).p_next_evt = first };
            }
            f.tail = last;
        }
        let s = &mut f.stats;
        s.bytes_in += n;
        s.bytes_queued += n;
        s.high_water = s.high_water.max(s.bytes_queued);
        s.writes += 1;
        s.chunks_queued += count;
        WriteOutcome::Accepted
    }

    /// New chunks holding the bytes of `parts` after the first `skip`, linked; `None` (and
    /// nothing kept) if the allocator fails.
    fn new_chunks(
        &self,
        parts: &[&[u8]],
        skip: usize,
        time: i64,
    ) -> Option<(*mut DmusKernelEvent, *mut DmusKernelEvent, u64)> {
        let total: usize = parts.iter().map(|p| p.len()).sum();
        let mut first: *mut DmusKernelEvent = ptr::null_mut();
        let mut last: *mut DmusKernelEvent = ptr::null_mut();
        let mut count = 0u64;
        let mut at = skip;
        while at < total {
            let rest = total - at;
            let take = if rest <= SHORT_EVENT_MAX {
                rest
            } else {
                rest.min(self.buffer_size)
            };
            let Some(ev) = self.new_chunk(take, time) else {
                if !first.is_null() {
                    // SAFETY: the chunks made so far are ours, well formed (buffers of our
                    // allocator), and go back once.
                    unsafe { self.alloc.put_message(first) };
                }
                return None;
            };
            // SAFETY: a fresh chunk we own with room for `take` bytes.
            unsafe {
                copy_parts(chunk_bytes(ev.as_ptr(), take), 0, parts, at, take);
                (*ev.as_ptr()).cb_event = take as u16;
            }
            if last.is_null() {
                first = ev.as_ptr();
            } else {
                // SAFETY: `last` is a chunk we made and own.
                unsafe { (*last).p_next_evt = ev.as_ptr() };
            }
            last = ev.as_ptr();
            count += 1;
            at += take;
        }
        Some((first, last, count))
    }

    /// One empty chunk for `len` bytes (inline if `len <= 8`), stamped `time`.
    fn new_chunk(&self, len: usize, time: i64) -> Option<NonNull<DmusKernelEvent>> {
        let ev = self.alloc.get_message().ok()?;
        let data = if len <= SHORT_EVENT_MAX {
            DmusEventData {
                ab_data: [0; SHORT_EVENT_MAX],
            }
        } else {
            match self.alloc.get_buffer() {
                Ok(buf) => DmusEventData {
                    pb_data: buf.as_ptr(),
                },
                Err(_) => {
                    // SAFETY: a zeroed event of ours with no buffer; goes back once.
                    unsafe { self.alloc.put_message(ev.as_ptr()) };
                    return None;
                }
            }
        };
        // SAFETY: a fresh event from our allocator, owned by us. `cb_event` is set to 9 for a
        // buffer chunk so that it reads as a buffer chunk until the caller sets the real size
        // (always > 8 for a buffer chunk), and 0 for an inline one.
        unsafe {
            ev.as_ptr().write(DmusKernelEvent {
                cb_event: if len <= SHORT_EVENT_MAX {
                    0
                } else {
                    SHORT_EVENT_MAX as u16 + 1
                },
                ull_pres_time_100ns: time as u64,
                ull_byte_position: K_BYTE_POSITION_NONE,
                u_data: data,
                ..DmusKernelEvent::ZEROED
            });
        }
        Some(ev)
    }

    /// Moves up to `out.len()` bytes out, oldest first; returns how many. IRQL <=
    /// `DISPATCH_LEVEL`.
    pub fn read(&self, out: &mut [u8]) -> usize {
        self.read_inner(out, None).len
    }

    /// As [`Loopback::read`], also returning the write time of the first byte read, and
    /// recording `now - written_at` as a latency sample when `now` is given (same time base
    /// as the writes).
    pub fn read_burst(&self, out: &mut [u8], now: Option<i64>) -> Burst {
        self.read_inner(out, now)
    }

    fn read_inner(&self, out: &mut [u8], now: Option<i64>) -> Burst {
        let mut done_head: *mut DmusKernelEvent = ptr::null_mut();
        let mut done_tail: *mut DmusKernelEvent = ptr::null_mut();
        let mut len = 0;
        let mut written_at = None;
        {
            let mut f = self.fifo.lock();
            while len < out.len() && !f.head.is_null() {
                let head = f.head;
                // SAFETY: the head is a chunk we own under the lock.
                let (filled, time) =
                    unsafe { (usize::from((*head).cb_event), (*head).ull_pres_time_100ns) };
                written_at.get_or_insert(time as i64);
                let avail = filled.saturating_sub(f.head_read);
                let take = avail.min(out.len() - len);
                // SAFETY: the chunk holds `filled` written bytes; we read within them.
                let src = unsafe { chunk_bytes(head, filled) };
                out[len..len + take].copy_from_slice(&src[f.head_read..f.head_read + take]);
                len += take;
                f.head_read += take;
                if f.head_read < filled {
                    break;
                }
                // The head is used up: it leaves at once (a later write with the same time
                // starts a new chunk).
                // SAFETY: as above.
                let next = unsafe { (*head).p_next_evt };
                f.head = next;
                f.head_read = 0;
                if next.is_null() {
                    f.tail = ptr::null_mut();
                }
                f.stats.chunks_queued -= 1;
                // SAFETY: the chunk left the FIFO; we own it and queue it for return.
                unsafe { (*head).p_next_evt = ptr::null_mut() };
                if done_tail.is_null() {
                    done_head = head;
                } else {
                    // SAFETY: `done_tail` is a chunk we unlinked and own.
                    unsafe { (*done_tail).p_next_evt = head };
                }
                done_tail = head;
            }
            let s = &mut f.stats;
            s.bytes_out += len as u64;
            s.bytes_queued -= len as u64;
            if len > 0 {
                s.reads += 1;
                if let (Some(now), Some(at)) = (now, written_at) {
                    let lat = now.saturating_sub(at).max(0) as u64;
                    s.latency_samples += 1;
                    s.latency_total = s.latency_total.saturating_add(lat);
                    s.latency_max = s.latency_max.max(lat);
                }
            }
        }
        if !done_head.is_null() {
            // SAFETY: a chain of chunks we unlinked, all from our allocator; returned once.
            unsafe { self.alloc.put_message(done_head) };
        }
        Burst {
            len,
            written_at: if len > 0 { written_at } else { None },
        }
    }

    /// Throws everything queued away (counted in [`LoopbackStats::bytes_discarded`]); returns
    /// how many bytes. IRQL <= `DISPATCH_LEVEL`.
    pub fn discard(&self) -> u64 {
        let (head, n) = {
            let mut f = self.fifo.lock();
            let head = core::mem::replace(&mut f.head, ptr::null_mut());
            f.tail = ptr::null_mut();
            f.head_read = 0;
            let n = f.stats.bytes_queued;
            f.stats.bytes_discarded += n;
            f.stats.bytes_queued = 0;
            f.stats.chunks_queued = 0;
            (head, n)
        };
        if !head.is_null() {
            // SAFETY: the whole former queue, ours, from our allocator; returned once.
            unsafe { self.alloc.put_message(head) };
        }
        n
    }
}

impl<P: Platform> Drop for Loopback<P> {
    fn drop(&mut self) {
        let head = core::mem::replace(&mut self.fifo.get_mut().head, ptr::null_mut());
        if !head.is_null() {
            // SAFETY: the queue's chunks, ours, from our allocator; returned once before the
            // allocator reference is dropped.
            unsafe { self.alloc.put_message(head) };
        }
    }
}
