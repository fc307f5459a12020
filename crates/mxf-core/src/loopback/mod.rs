//! One reader's queue of a virtual cable (see [`crate::cable`]: each capture stream has one):
//! a bounded byte FIFO stored in events and buffers of its own `IAllocatorMXF`.
//!
//! # Storage
//! The FIFO is a list of *chunks* (an [`EventList`]), each an event of our allocator: a chunk
//! of at most 8 bytes keeps them inline (`ab_data`), a longer one in a `GetBuffer` buffer
//! (`pb_data`, `cb_event` = bytes filled). Every chunk carries the time of the write that
//! started it in `ull_pres_time_100ns`; a write appends to the last chunk only
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
//! - nobody listens ([`Loopback::set_listening`] off: its capture stream is not in `RUN`;
//!   the cable sets it when the reader joins or leaves, see [`crate::cable`]):
//!   [`WriteOutcome::NoListener`];
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
//! # Reading: zero-copy
//! The bytes are already in memory, so the reader does not copy them out:
//! [`Loopback::drain_chunks`] hands the queued bytes to a callback as slices of the chunks
//! themselves, in order, one slice per chunk (each slice has one write time), up to a byte
//! budget; [`Loopback::drain_bursts`] is the capture service's loop over it (bursts of at most
//! one chunk's storage, one clock read each). [`Loopback::read`]/[`Loopback::read_burst`]
//! are the copying form, built on the same drain.
//!
//! # Concurrency and lock order
//! One spin lock protects the queue; every method is callable at IRQL <= `DISPATCH_LEVEL`
//! from any CPU. A drain's callback runs with that lock held — a writer only ever appends to
//! the tail chunk, so this is what keeps a slice stable — and the lock is released between
//! bursts, so a writer waits at most one burst's processing. Lock order: *capture stream →
//! loopback → (the port's allocator)*: the capture packager, called inside the callback,
//! takes events and buffers from the port's allocator, which never calls back into us (ours
//! is lock-free; PortCls's holds only its own leaf lock). Chunks read empty are returned to
//! the loopback's allocator after the lock is released.

use crate::alloc::{AllocatorConfig, new_allocator};
use crate::com::ComPtr;
use crate::event_list::EventList;
use crate::platform::{AtDispatch, Platform, SpinLock};
pub use crate::write::WriteOutcome;
use core::ptr::{self, NonNull};
use mxf_abi::NtError;
use mxf_abi::{
    DmusEventData, DmusKernelEvent, EventFields, IAllocatorMxf, K_BYTE_POSITION_NONE,
    SHORT_EVENT_MAX,
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
    pub fn validate(&self) -> Result<(), NtError> {
        self.allocator.validate()?;
        let buffer = usize::from(self.allocator.buffer_size).max(1);
        let chunks = MAX_WRITE.div_ceil(buffer) as u64;
        if (self.capacity as usize) < MAX_WRITE
            || u64::from(self.allocator.max_buffers) < chunks
            || u64::from(self.allocator.max_events) < chunks
        {
            return Err(NtError::INVALID_PARAMETER);
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
    /// All counters zero.
    pub const ZERO: Self = Self {
        bytes_in: 0,
        bytes_out: 0,
        bytes_discarded: 0,
        bytes_queued: 0,
        high_water: 0,
        writes: 0,
        writes_refused_full: 0,
        writes_refused_alloc_full: 0,
        writes_refused_no_memory: 0,
        writes_refused_closed: 0,
        writes_refused_too_large: 0,
        reads: 0,
        chunks_queued: 0,
        latency_samples: 0,
        latency_total: 0,
        latency_max: 0,
    };

    /// Every byte that left without being read.
    pub const fn bytes_dropped(&self) -> u64 {
        self.bytes_discarded
    }

    /// The counters of two loopbacks together (a cable's readers): counts and totals add up,
    /// so the invariant holds for the sum; `high_water` and `latency_max` are the larger of
    /// the two (the fullest single queue, the worst single latency).
    pub const fn plus(&self, o: &Self) -> Self {
        Self {
            bytes_in: self.bytes_in + o.bytes_in,
            bytes_out: self.bytes_out + o.bytes_out,
            bytes_discarded: self.bytes_discarded + o.bytes_discarded,
            bytes_queued: self.bytes_queued + o.bytes_queued,
            high_water: if self.high_water > o.high_water {
                self.high_water
            } else {
                o.high_water
            },
            writes: self.writes + o.writes,
            writes_refused_full: self.writes_refused_full + o.writes_refused_full,
            writes_refused_alloc_full: self.writes_refused_alloc_full + o.writes_refused_alloc_full,
            writes_refused_no_memory: self.writes_refused_no_memory + o.writes_refused_no_memory,
            writes_refused_closed: self.writes_refused_closed + o.writes_refused_closed,
            writes_refused_too_large: self.writes_refused_too_large + o.writes_refused_too_large,
            reads: self.reads + o.reads,
            chunks_queued: self.chunks_queued + o.chunks_queued,
            latency_samples: self.latency_samples + o.latency_samples,
            latency_total: self.latency_total.saturating_add(o.latency_total),
            latency_max: if self.latency_max > o.latency_max {
                self.latency_max
            } else {
                o.latency_max
            },
        }
    }
}

/// What one [`Loopback::read_burst`] returned.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct ReadBurst {
    /// Bytes copied out.
    pub len: usize,
    /// Write time of the first of them (`None` when `len` is 0).
    pub written_at: Option<i64>,
}

/// What one [`Loopback::drain_chunks`] handed out.
#[derive(Clone, Copy, Default, PartialEq, Eq, Debug)]
pub struct Drained {
    /// Bytes handed out.
    pub bytes: usize,
    /// Calls of the callback (one per chunk touched).
    pub slices: usize,
    /// Write time of the oldest byte handed out (`None` when `bytes` is 0).
    pub written_at: Option<i64>,
    /// Bytes still queued when the drain released the lock.
    pub remaining: u64,
}

/// What one [`Loopback::drain_bursts`] did.
#[derive(Clone, Copy, Default, PartialEq, Eq, Debug)]
pub struct Bursts {
    /// Bytes handed out.
    pub bytes: usize,
    /// Bursts that handed out at least one byte (one clock read and one lock hold each).
    pub bursts: u64,
    /// Calls of the feed (one per chunk touched).
    pub slices: u64,
    /// Bytes still queued after the last burst.
    pub remaining: u64,
}

/// Chunks that left the queue during a drain, returned to the allocator on drop.
struct Emptied<'a> {
    alloc: &'a ComPtr<IAllocatorMxf>,
    /// Chunks of this loopback's allocator, ours alone.
    chunks: EventList,
}

impl Drop for Emptied<'_> {
    fn drop(&mut self) {
        let head = self.chunks.take_chain();
        if !head.is_null() {
            // SAFETY: a chain of chunks that left the queue, all from this allocator, given
            // to us; returned once.
            unsafe { self.alloc.put_message(head) };
        }
    }
}

struct Fifo {
    /// The queued chunks, events of the loopback's allocator, oldest first.
    chunks: EventList,
    /// Bytes of the first chunk already read.
    head_read: usize,
    listening: bool,
    stats: LoopbackStats,
}

/// One reader's queue: see the module docs.
pub struct Loopback<P: Platform> {
    alloc: ComPtr<IAllocatorMxf>,
    buffer_size: usize,
    capacity: u64,
    fifo: SpinLock<P::RawSpinLock, Fifo>,
}

/// The parts of one write and their total length, measured once (the cable hands one write to
/// every reader's loopback). Only [`Measured::new`] makes one, so the length is the parts'.
#[derive(Clone, Copy)]
pub(crate) struct Measured<'a> {
    parts: &'a [&'a [u8]],
    len: usize,
}

impl<'a> Measured<'a> {
    /// `parts`, measured.
    pub(crate) fn new(parts: &'a [&'a [u8]]) -> Self {
        Self {
            parts,
            len: parts.iter().map(|p| p.len()).sum(),
        }
    }

    /// Their total length.
    pub(crate) const fn len(&self) -> usize {
        self.len
    }
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
/// `ev` is a chunk of a loopback whose allocator's buffers are `buffer_size` bytes; `len` is
/// at most the chunk's room.
unsafe fn chunk_bytes(ev: &mut DmusKernelEvent, len: usize) -> &mut [u8] {
    // An inline chunk's storage is `ab_data` (8 bytes); a buffer chunk's is its buffer
    // (`buffer_size` bytes, initialised or not: only written or read within what was written).
    if ev.is_short() {
        // SAFETY: 1. a short chunk's bytes are its `ab_data` field (the union's inline
        // variant, plain bytes), so viewing the union as them is sound.
        let inline = unsafe { &mut ev.u_data.ab_data };
        // SAFETY: 2. `len` is at most the chunk's room, 8 bytes inline (caller).
        unsafe { core::slice::from_raw_parts_mut(inline.as_mut_ptr(), len) }
    } else {
        // SAFETY: 3. a buffer chunk's `pb_data` is the variant in use (it is not short).
        let buf = unsafe { ev.u_data.pb_data };
        // SAFETY: 4. the buffer goes with the chunk, which the caller borrows uniquely, and
        // holds at least `len` bytes (caller).
        unsafe { core::slice::from_raw_parts_mut(buf, len) }
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
    pub fn new(platform: P, cfg: LoopbackConfig) -> Result<Self, NtError> {
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
                    chunks: EventList::new(),
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
        let m = Measured::new(parts);
        if m.len() == 0 {
            return WriteOutcome::Accepted;
        }
        self.write_measured(m, time)
    }

    /// [`Loopback::write_parts`] of a non-empty write measured by the caller: the cable
    /// measures a write once for all its readers. Out of line (as its twin
    /// [`Loopback::write_measured_at_dispatch`]): the body is large, and one call per write
    /// keeps the cable's loop over its readers small and a write's cost visible apart (the
    /// instruction-count benchmark splits the cable's own work from its readers' writes).
    #[inline(never)]
    pub(crate) fn write_measured(&self, m: Measured<'_>, time: i64) -> WriteOutcome {
        self.write_held(&mut self.fifo.lock(), m, time)
    }

    /// [`Loopback::write_measured`] for a caller at `DISPATCH_LEVEL` (the cable, holding its
    /// lock): the loopback's lock is taken without touching IRQL.
    #[inline(never)]
    pub(crate) fn write_measured_at_dispatch(
        &self,
        m: Measured<'_>,
        time: i64,
        at: AtDispatch<'_>,
    ) -> WriteOutcome {
        self.write_held(&mut self.fifo.lock_at_dispatch(at), m, time)
    }

    /// The write itself, with the queue's lock held (however it was taken). Inlined into
    /// both entry points, so that each is one call with its own lock pair around the body.
    #[inline(always)]
    fn write_held(&self, f: &mut Fifo, m: Measured<'_>, time: i64) -> WriteOutcome {
        let (parts, len) = (m.parts, m.len);
        let n = len as u64;
        if !f.listening {
            f.stats.writes_refused_closed += 1;
            return WriteOutcome::NoListener;
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
        if let Some(tail) = f.chunks.back_mut()
            && tail.ull_pres_time_100ns == time as u64
        {
            in_tail = room_of(tail, self.buffer_size)
                .saturating_sub(usize::from(tail.cb_event))
                .min(len);
        }
        // Get every new chunk first, so that a failure leaves the queue untouched.
        let Some(mut fresh) = self.new_chunks(parts, len, in_tail, time) else {
            if f.stats.bytes_queued > 0 {
                f.stats.writes_refused_alloc_full += 1;
                return WriteOutcome::Full;
            }
            f.stats.writes_refused_no_memory += 1;
            return WriteOutcome::NoMemory;
        };
        if in_tail > 0
            && let Some(tail) = f.chunks.back_mut()
        {
            let used = usize::from(tail.cb_event);
            // SAFETY: a chunk of ours with room for `in_tail` bytes after its `cb_event` bytes
            // (computed above).
            let bytes = unsafe { chunk_bytes(tail, used + in_tail) };
            copy_parts(bytes, used, parts, 0, in_tail);
            tail.cb_event = (used + in_tail) as u16;
        }
        let count = fresh.len() as u64;
        if f.chunks.is_empty() {
            f.head_read = 0;
        }
        f.chunks.append(&mut fresh);
        let s = &mut f.stats;
        s.bytes_in += n;
        s.bytes_queued += n;
        s.high_water = s.high_water.max(s.bytes_queued);
        s.writes += 1;
        s.chunks_queued += count;
        WriteOutcome::Accepted
    }

    /// New chunks holding the bytes of `parts` (`total` of them) after the first `skip`, in
    /// order; `None` (and nothing kept) if the allocator fails. Inlined into its one caller,
    /// the write (a call would pass and move the list and the parts on every write).
    #[inline(always)]
    fn new_chunks(
        &self,
        parts: &[&[u8]],
        total: usize,
        skip: usize,
        time: i64,
    ) -> Option<EventList> {
        let mut fresh = EventList::new();
        let mut at = skip;
        while at < total {
            let rest = total - at;
            let take = if rest <= SHORT_EVENT_MAX {
                rest
            } else {
                rest.min(self.buffer_size)
            };
            let Some(ev) = self.new_chunk(take, time) else {
                let made = fresh.take_chain();
                if !made.is_null() {
                    // SAFETY: the chunks made so far are ours, well formed (buffers of our
                    // allocator), and go back once.
                    unsafe { self.alloc.put_message(made) };
                }
                return None;
            };
            // SAFETY: a fresh chunk from our allocator, ours alone and in no list.
            unsafe { fresh.push_back(ev) };
            if let Some(chunk) = fresh.back_mut() {
                // SAFETY: the fresh chunk has room for `take` bytes (`new_chunk`).
                let bytes = unsafe { chunk_bytes(chunk, take) };
                copy_parts(bytes, 0, parts, at, take);
                chunk.cb_event = take as u16;
            }
            at += take;
        }
        Some(fresh)
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
            EventFields {
                cb_event: if len <= SHORT_EVENT_MAX {
                    0
                } else {
                    SHORT_EVENT_MAX as u16 + 1
                },
                us_channel_group: 0,
                us_flags: 0,
                ull_pres_time_100ns: time as u64,
                ull_byte_position: K_BYTE_POSITION_NONE,
                p_next_evt: ptr::null_mut(),
                u_data: data,
            }
            .write_to(ev.as_ptr());
        }
        Some(ev)
    }

    /// Bytes of the largest contiguous run a chunk holds (one allocator buffer): the most
    /// [`Loopback::drain_bursts`] puts in one burst.
    pub fn burst_max(&self) -> usize {
        self.buffer_size.max(SHORT_EVENT_MAX)
    }

    /// Moves up to `out.len()` bytes out, oldest first; returns how many. IRQL <=
    /// `DISPATCH_LEVEL`.
    pub fn read(&self, out: &mut [u8]) -> usize {
        self.read_burst(out, None).len
    }

    /// As [`Loopback::read`], also returning the write time of the first byte read, and
    /// recording `now - written_at` as a latency sample when `now` is given (same time base
    /// as the writes). A copying [`Loopback::drain_chunks`].
    pub fn read_burst(&self, out: &mut [u8], now: Option<i64>) -> ReadBurst {
        let mut len = 0;
        let d = self.drain_chunks(out.len(), now, |bytes, _| {
            if let Some(dst) = out.get_mut(len..len + bytes.len()) {
                dst.copy_from_slice(bytes);
            }
            len += bytes.len();
        });
        ReadBurst {
            len: d.bytes,
            written_at: d.written_at,
        }
    }

    /// The zero-copy read: hands the oldest queued bytes, up to `max_bytes` of them, to `f`
    /// straight from the chunks that hold them, in order, one call per chunk touched:
    /// `f(bytes, written_at)` with the write time of that chunk (every byte of a chunk was
    /// written at that time). A chunk longer than what is left of `max_bytes` is handed out
    /// in part; the rest stays queued, and the next drain starts there. Chunks read to the
    /// end leave the queue and go back to the allocator after the lock is released.
    ///
    /// When `now` is given and bytes were handed out, records one latency sample,
    /// `now - written_at` of the oldest byte (as [`Loopback::read_burst`]). Counts one read.
    /// The invariant holds whenever the lock is free: each slice's bytes move from
    /// `bytes_queued` to `bytes_out` before the drain returns.
    ///
    /// **`f` runs with the loopback's lock held** (the slices are only stable while no
    /// writer can touch the tail chunk): it must not call into this loopback (a spin lock
    /// does not nest: that would hang) nor take a lock ordered before it. Lock order:
    /// *capture stream → loopback → (the port's allocator, whose `GetMessage`/`GetBuffer`
    /// take no lock of ours)*. The caller bounds the time it holds writers off with
    /// `max_bytes`; [`Loopback::drain_bursts`] takes at most [`Loopback::burst_max`] bytes
    /// per lock hold. IRQL <= `DISPATCH_LEVEL`.
    pub fn drain_chunks<F>(&self, max_bytes: usize, now: Option<i64>, mut f: F) -> Drained
    where
        F: FnMut(&[u8], i64),
    {
        // Declared before the guard, so dropped after it: emptied chunks go back to the
        // allocator with the lock released (also if `f` unwinds, on the host).
        let mut emptied = Emptied {
            alloc: &self.alloc,
            chunks: EventList::new(),
        };
        let mut out = Drained::default();
        let mut guard = self.fifo.lock();
        let fifo = &mut *guard;
        while out.bytes < max_bytes {
            let Some(chunk) = fifo.chunks.front_mut() else {
                break;
            };
            let (filled, time) = (
                usize::from(chunk.cb_event),
                chunk.ull_pres_time_100ns as i64,
            );
            let from = fifo.head_read.min(filled);
            let take = (filled - from).min(max_bytes - out.bytes);
            if take > 0 {
                // SAFETY: the chunk holds `filled` written bytes. Writers only append past
                // the tail's `cb_event`, under the lock we hold until `f` returns; the chunk
                // leaves the queue only after that, and goes back to the allocator only
                // after the lock is released. `f` cannot keep the slice (it borrows for the
                // call only).
                let bytes: &[u8] = unsafe { chunk_bytes(chunk, filled) };
                f(bytes.get(from..from + take).unwrap_or(&[]), time);
                out.written_at.get_or_insert(time);
                out.slices += 1;
                out.bytes += take;
                // Each slice is accounted at once, so the counters are right whatever `f` does.
                fifo.stats.bytes_out += take as u64;
                fifo.stats.bytes_queued -= take as u64;
            }
            fifo.head_read = from + take;
            if fifo.head_read < filled {
                break;
            }
            // The head is used up: it leaves at once (a later write with the same time
            // starts a new chunk).
            fifo.head_read = 0;
            fifo.stats.chunks_queued -= 1;
            if let Some(used) = fifo.chunks.pop_front() {
                // SAFETY: the chunk left the queue: ours alone, in no list.
                unsafe { emptied.chunks.push_back(used) };
            }
        }
        let s = &mut fifo.stats;
        if out.bytes > 0 {
            s.reads += 1;
            if let (Some(now), Some(at)) = (now, out.written_at) {
                let lat = now.saturating_sub(at).max(0) as u64;
                s.latency_samples += 1;
                s.latency_total = s.latency_total.saturating_add(lat);
                s.latency_max = s.latency_max.max(lat);
            }
        }
        out.remaining = s.bytes_queued;
        drop(guard);
        drop(emptied);
        out
    }

    /// The capture service's read: drains up to `budget` bytes in *bursts*, each one
    /// [`Loopback::drain_chunks`] of at most [`Loopback::burst_max`] bytes (one lock hold),
    /// stamped with one `clock()` read made just before it, outside the lock. Every slice of
    /// the burst goes to `feed(bytes, burst_time)` — the clock read, not the write time:
    /// a burst may span chunks written at different times (several short writes), and the
    /// latency sample of each burst is the age of its oldest byte. A SysEx written in large
    /// pieces fills whole chunks, so it is fed one chunk per burst. Stops early when the
    /// queue runs empty.
    pub fn drain_bursts<C, F>(&self, budget: usize, mut clock: C, mut feed: F) -> Bursts
    where
        C: FnMut() -> i64,
        F: FnMut(&[u8], i64),
    {
        let mut r = Bursts::default();
        if budget == 0 {
            r.remaining = self.queued();
            return r;
        }
        let burst_max = self.burst_max();
        while r.bytes < budget {
            let time = clock();
            let want = (budget - r.bytes).min(burst_max);
            let d = self.drain_chunks(want, Some(time), |bytes, _| feed(bytes, time));
            r.remaining = d.remaining;
            r.slices += d.slices as u64;
            if d.bytes == 0 {
                break;
            }
            r.bursts += 1;
            r.bytes += d.bytes;
            if d.bytes < want {
                break;
            }
        }
        r
    }

    /// Throws everything queued away (counted in [`LoopbackStats::bytes_discarded`]); returns
    /// how many bytes. IRQL <= `DISPATCH_LEVEL`.
    pub fn discard(&self) -> u64 {
        let (head, n) = {
            let mut f = self.fifo.lock();
            let head = f.chunks.take_chain();
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
        let head = self.fifo.get_mut().chunks.take_chain();
        if !head.is_null() {
            // SAFETY: the queue's chunks, ours, from our allocator; returned once before the
            // allocator reference is dropped.
            unsafe { self.alloc.put_message(head) };
        }
    }
}
