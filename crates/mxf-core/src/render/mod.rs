//! The render path of one stream: a time-ordered queue of the events PortCls hands to
//! `IMXF::PutMessage`, played at their presentation times by a platform timer into a
//! [`RenderTarget`] (the loopback), every event then returned to the allocator it came from.
//!
//! # Queue
//! [`RenderQueue::put_message`] takes ownership of a chain's *top-level* events (each keeps
//! its package sub-chain or buffer) and files each one, without allocating, in one of two
//! intrusive lists threaded through `p_next_evt`:
//! - events flagged `DONT_HOLD_FOR_SEQUENCING` go to the *immediate* list, played in arrival
//!   order at the next timer run, ahead of every held event;
//! - the others go to the *held* list, ordered by presentation time, equal times in arrival
//!   order (stable). Events mostly arrive in order, so insertion checks the tail first (O(1));
//!   an out-of-order event walks the list (O(n)).
//!
//! # Timing
//! Presentation times are master-clock times. The timer is armed for the earliest event at
//! `platform.now_100ns() + (pres_time - clock.get_time())` (both clocks are assumed to run at
//! the same rate; the mapping is redone at every arming, so drift does not accumulate). The
//! timer callback (`DISPATCH_LEVEL`) reads the clock once, takes up to
//! [`RenderConfig::batch_events`] events that are due (`pres_time <= clock`) under the queue
//! lock, re-arms for the next one (at once if due events remain: a long burst is played in
//! several bounded DPC runs), then, outside the queue lock, serializes the batch into the
//! target and returns the whole batch to the allocator in one `PutMessage` (its events
//! linked through `p_next_evt`; the allocator recycles packages and buffers). Lateness is
//! `clock - pres_time` at the batch, for held events.
//!
//! If the clock fails, every held event counts as due (played at once, counted in
//! `clock_errors`): a broken clock must not wedge the queue.
//!
//! # States
//! - `STOP`: every queued event is returned to the allocator (counted as flushed), the timer
//!   is cancelled and a SysEx being played is forgotten.
//! - `ACQUIRE`, `PAUSE`: events are kept and queued, nothing plays (the timer is cancelled).
//!   A paused pin emits nothing, `DONT_HOLD` events included.
//! - `RUN`: plays; events whose time passed while paused play at once (late).
//!
//! # Overflow and drops
//! At most [`RenderConfig::max_queued`] events are queued; beyond it `PutMessage` returns
//! the extra events to the allocator at once, counted in `events_refused`, and returns
//! `STATUS_INSUFFICIENT_RESOURCES` (ownership is taken either way). A payload the target
//! refuses is dropped and counted; once a SysEx fragment is refused, the rest of that SysEx is
//! dropped too ([`RenderStats::sysex_dropped`]), so downstream sees a truncated SysEx rather
//! than one with a hole.
//!
//! # Locks
//! Two spin locks: the *play* lock (held by a timer run from taking a batch until it is
//! written, so two runs of the DPC on two CPUs cannot reorder output) and the *queue* lock,
//! always taken in that order. `PutMessage` takes only the queue lock. The target is written
//! with the play lock held and the queue lock released; [`RenderTarget::flushed`] and the
//! allocator are called with no lock held.

mod list;
mod sink;

use crate::com::ComPtr;
use crate::platform::{Platform, PoolTag, SpinLock, Timer};
use crate::serialize::{ChainCursor, SerializeStats, Serializer};
use core::ffi::c_void;
use core::ptr::{self, NonNull};
use list::EventList;
use mxf_abi::{
    DmusKernelEvent, IAllocatorMxf, IMasterClock, KsState, NtStatus, STATUS_INSUFFICIENT_RESOURCES,
    STATUS_INVALID_PARAMETER, STATUS_SUCCESS,
};
use sink::{SinkState, TargetSink};

/// Pool tag of a render queue.
pub const TAG_RENDER: PoolTag = PoolTag::new(b"MxfQ");

/// Where played bytes go.
pub trait RenderTarget: Send + Sync {
    /// Takes one event's payload (a message, or one SysEx fragment), played at master-clock
    /// time `time`, all or nothing; `false` if it was dropped. `DISPATCH_LEVEL`, with the
    /// queue's play lock held: must not call back into the queue.
    fn write(&self, bytes: &[u8], time: i64) -> bool;

    /// Called after a batch in which the target accepted bytes, with no lock of the queue
    /// held (e.g. to notify the capture side). `DISPATCH_LEVEL`.
    fn flushed(&self) {}
}

/// How a render queue behaves.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct RenderConfig {
    /// Most top-level events played by one timer run (at least 1).
    pub batch_events: u32,
    /// Most events queued at once (at least 1).
    pub max_queued: u32,
    /// Most events (packages included) the serializer visits per batch; a chain longer than
    /// that (or cyclic) is cut short there.
    pub max_walk: u32,
}

impl RenderConfig {
    /// 64 events a batch (a whole 256 KiB SysEx of 4 KiB fragments), 65536 queued, 1 Mi
    /// walked.
    pub const DEFAULT: Self = Self {
        batch_events: 64,
        max_queued: 65_536,
        max_walk: 1 << 20,
    };
}

impl Default for RenderConfig {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// Counters of a render queue.
#[derive(Clone, Copy, Default, PartialEq, Eq, Debug)]
pub struct RenderStats {
    /// Top-level events accepted into the queue.
    pub events_queued: u64,
    /// Of those, flagged `DONT_HOLD_FOR_SEQUENCING`.
    pub events_immediate: u64,
    /// Top-level events refused because the queue was full (returned at once).
    pub events_refused: u64,
    /// Top-level events played (serialized, then returned).
    pub events_played: u64,
    /// Top-level events returned unplayed by `STOP` or destruction.
    pub events_flushed: u64,
    /// Events queued now.
    pub queue_depth: u64,
    /// Most events queued at once.
    pub max_queue_depth: u64,
    /// Bytes the target accepted.
    pub bytes_rendered: u64,
    /// Bytes dropped (refused by the target, or the rest of a SysEx after a refusal).
    pub bytes_dropped: u64,
    /// Payload writes dropped.
    pub writes_dropped: u64,
    /// SysEx messages whose remainder was dropped after a refused fragment.
    pub sysex_dropped: u64,
    /// Held events played (the lateness samples).
    pub lateness_samples: u64,
    /// Sum of `clock - pres_time` over them (100 ns units).
    pub lateness_total: u64,
    /// Largest `clock - pres_time`.
    pub lateness_max: u64,
    /// Timer runs that played at least one event.
    pub batches: u64,
    /// Timer runs in total.
    pub timer_runs: u64,
    /// Failed `IMasterClock::GetTime` calls.
    pub clock_errors: u64,
    /// The serializer's counters.
    pub serialize: SerializeStats,
}

struct QueueState {
    immediate: EventList,
    held: EventList,
    state: KsState,
    /// Due time the timer is armed for.
    armed: Option<i64>,
    stats: RenderStats,
}

struct PlayState {
    serializer: Serializer,
    sink: SinkState,
}

struct Inner<P: Platform, T: RenderTarget> {
    platform: P,
    alloc: ComPtr<IAllocatorMxf>,
    clock: ComPtr<IMasterClock>,
    target: T,
    cfg: RenderConfig,
    play: SpinLock<P::RawSpinLock, PlayState>,
    queue: SpinLock<P::RawSpinLock, QueueState>,
    /// `None` only while being built or torn down.
    timer: Option<P::Timer>,
}

/// The render queue of one stream (see the module docs). Owns its state in nonpaged pool;
/// dropping it (`PASSIVE_LEVEL`) deletes the timer, returns every queued event to the
/// allocator and releases the allocator and clock references.
pub struct RenderQueue<P: Platform, T: RenderTarget> {
    inner: NonNull<Inner<P, T>>,
}

// SAFETY: the inner state is shared only through locks and `Sync` handles (ComPtr, platform,
// timer, target: `RenderTarget: Send + Sync`).
unsafe impl<P: Platform, T: RenderTarget> Send for RenderQueue<P, T> {}
// SAFETY: as above.
unsafe impl<P: Platform, T: RenderTarget> Sync for RenderQueue<P, T> {}

/// The clock read once per operation: (platform now, clock now or `None` on error).
fn times<P: Platform>(platform: &P, clock: &ComPtr<IMasterClock>) -> (i64, Option<i64>) {
    let clock_now = clock.get_time().ok();
    (platform.now_100ns(), clock_now)
}

impl<P: Platform, T: RenderTarget> RenderQueue<P, T> {
    /// A stopped, empty queue playing into `target`, returning events to `alloc`, timed by
    /// `clock` (one reference of each is kept). `PASSIVE_LEVEL` (creates the timer).
    pub fn new(
        platform: P,
        alloc: &ComPtr<IAllocatorMxf>,
        clock: &ComPtr<IMasterClock>,
        target: T,
        cfg: RenderConfig,
    ) -> Result<Self, NtStatus> {
        if cfg.batch_events == 0 || cfg.max_queued == 0 || cfg.max_walk == 0 {
            return Err(STATUS_INVALID_PARAMETER);
        }
        const {
            assert!(core::mem::align_of::<Inner<P, T>>() <= crate::platform::POOL_ALIGN);
        }
        let mem = platform
            .pool_alloc(core::mem::size_of::<Inner<P, T>>(), TAG_RENDER)
            .ok_or(STATUS_INSUFFICIENT_RESOURCES)?
            .cast::<Inner<P, T>>();
        // SAFETY: the context is the address of the `Inner` written just below, before the
        // timer can be armed; `Drop` drops the timer (waiting for a callback in flight) before
        // the memory goes. `on_timer` is sound at DISPATCH_LEVEL on any CPU.
        let timer = unsafe { platform.new_timer(Self::on_timer, mem.as_ptr().cast_const().cast()) };
        let timer = match timer {
            Ok(t) => t,
            Err(status) => {
                // SAFETY: from `pool_alloc` with this tag, never initialised.
                unsafe { platform.pool_free(mem.cast(), TAG_RENDER) };
                return Err(status);
            }
        };
        let (l1, l2) = (platform.new_spin_lock(), platform.new_spin_lock());
        let buffer_size = alloc.buffer_size();
        let inner = Inner {
            platform,
            alloc: alloc.clone(),
            clock: clock.clone(),
            target,
            cfg,
            play: SpinLock::new(
                l1,
                PlayState {
                    serializer: Serializer::new(Some(buffer_size)),
                    sink: SinkState::default(),
                },
            ),
            queue: SpinLock::new(
                l2,
                QueueState {
                    immediate: EventList::new(),
                    held: EventList::new(),
                    state: KsState::STOP,
                    armed: None,
                    stats: RenderStats::default(),
                },
            ),
            timer: Some(timer),
        };
        // SAFETY: fresh, aligned block of the right size, ours.
        unsafe { mem.as_ptr().write(inner) };
        Ok(Self { inner: mem })
    }

    fn inner(&self) -> &Inner<P, T> {
        // SAFETY: `inner` is initialised and owned by `self` until drop.
        unsafe { self.inner.as_ref() }
    }

    /// The target.
    pub fn target(&self) -> &T {
        &self.inner().target
    }

    /// The allocator events go back to.
    pub fn allocator(&self) -> &ComPtr<IAllocatorMxf> {
        &self.inner().alloc
    }

    /// The state last set.
    pub fn state(&self) -> KsState {
        self.inner().queue.lock().state
    }

    /// A snapshot of the counters.
    pub fn stats(&self) -> RenderStats {
        let inner = self.inner();
        let play = inner.play.lock();
        let mut s = inner.queue.lock().stats;
        s.bytes_rendered = play.sink.bytes_rendered;
        s.bytes_dropped = play.sink.bytes_dropped;
        s.writes_dropped = play.sink.writes_dropped;
        s.sysex_dropped = play.sink.sysex_dropped;
        s.serialize = *play.serializer.stats();
        s
    }

    /// `IMXF::PutMessage`: takes ownership of the chain's top-level events and queues them
    /// (see the module docs). A null chain is a no-op. IRQL <= `DISPATCH_LEVEL`.
    ///
    /// # Safety
    /// `chain` is null or a well-formed, acyclic chain owned by the caller, whose events,
    /// packages and buffers came from this queue's allocator; the caller does not touch it
    /// afterwards.
    pub unsafe fn put_message(&self, chain: *mut DmusKernelEvent) -> NtStatus {
        if chain.is_null() {
            return STATUS_SUCCESS;
        }
        let inner = self.inner();
        let (now, clock_now) = times(&inner.platform, &inner.clock);
        let mut refused = EventList::new();
        {
            let mut q = inner.queue.lock();
            let mut cur = chain;
            while let Some(ev) = NonNull::new(cur) {
                // SAFETY: an event of the caller's chain, now ours.
                cur = unsafe { (*ev.as_ptr()).p_next_evt };
                let depth = (q.immediate.len() + q.held.len()) as u64;
                if depth >= u64::from(inner.cfg.max_queued) {
                    // SAFETY: ours, in no list.
                    unsafe { refused.push_back(ev) };
                    q.stats.events_refused += 1;
                    continue;
                }
                // SAFETY: ours, in no list; `held` is filled only by `insert_by_time`.
                unsafe {
                    if ev.as_ref().dont_hold() {
                        q.immediate.push_back(ev);
                        q.stats.events_immediate += 1;
                    } else {
                        q.held.insert_by_time(ev);
                    }
                }
                q.stats.events_queued += 1;
                let depth = depth + 1;
                q.stats.queue_depth = depth;
                q.stats.max_queue_depth = q.stats.max_queue_depth.max(depth);
            }
            if q.state == KsState::RUN {
                inner.arm_if_earlier(&mut q, now, clock_now);
            }
        }
        if refused.is_empty() {
            STATUS_SUCCESS
        } else {
            let chain = refused.take_chain();
            // SAFETY: events of our allocator we own; returned once.
            unsafe { inner.alloc.put_message(chain) };
            STATUS_INSUFFICIENT_RESOURCES
        }
    }

    /// `IMXF::SetState` (see the module docs). `STATUS_INVALID_PARAMETER` for an undefined
    /// state. IRQL <= `DISPATCH_LEVEL`.
    pub fn set_state(&self, state: KsState) -> NtStatus {
        if !state.is_valid() {
            return STATUS_INVALID_PARAMETER;
        }
        let inner = self.inner();
        let (now, clock_now) = times(&inner.platform, &inner.clock);
        let flushed = {
            let mut play = inner.play.lock();
            let mut q = inner.queue.lock();
            q.state = state;
            if state == KsState::RUN {
                inner.arm_if_earlier(&mut q, now, clock_now);
                ptr::null_mut()
            } else {
                inner.disarm(&mut q);
                if state == KsState::STOP {
                    play.sink.reset();
                    inner.flush_locked(&mut q)
                } else {
                    ptr::null_mut()
                }
            }
        };
        if !flushed.is_null() {
            // SAFETY: events of our allocator we own; returned once.
            unsafe { inner.alloc.put_message(flushed) };
        }
        STATUS_SUCCESS
    }

    /// The timer callback (`DISPATCH_LEVEL`).
    ///
    /// # Safety
    /// `context` is the address of a live `Inner<P, T>`.
    unsafe fn on_timer(context: *const c_void) {
        // SAFETY: per the caller.
        let inner = unsafe { &*context.cast::<Inner<P, T>>() };
        inner.play_due();
    }
}

impl<P: Platform, T: RenderTarget> Inner<P, T> {
    /// Arms the timer for the earliest queued event if that is earlier than what it is armed
    /// for. Queue lock held.
    fn arm_if_earlier(&self, q: &mut QueueState, now: i64, clock_now: Option<i64>) {
        let due = if !q.immediate.is_empty() {
            Some(now)
        } else {
            q.held.front_time().map(|t| match clock_now {
                // `pres_time()` is below 2^63, so the conversion is exact.
                Some(c) => now.saturating_add((t as i64).saturating_sub(c)),
                None => now,
            })
        };
        if let (Some(d), Some(timer)) = (due, &self.timer)
            && q.armed.is_none_or(|a| d < a)
        {
            timer.set(d);
            q.armed = Some(d);
        }
    }

    fn disarm(&self, q: &mut QueueState) {
        if let Some(t) = &self.timer {
            t.cancel();
        }
        q.armed = None;
    }

    /// Empties both lists into one chain, counting them as flushed. Queue lock held.
    fn flush_locked(&self, q: &mut QueueState) -> *mut DmusKernelEvent {
        let n = (q.immediate.len() + q.held.len()) as u64;
        q.stats.events_flushed += n;
        q.stats.queue_depth = 0;
        let mut all = EventList::new();
        all.append(&mut q.immediate);
        all.append(&mut q.held);
        all.take_chain()
    }

    /// One timer run: take a due batch, re-arm, write the batch, return it.
    fn play_due(&self) {
        let (now, clock_now) = times(&self.platform, &self.clock);
        let (head, accepted) = {
            let mut play = self.play.lock();
            let mut batch = EventList::new();
            {
                let mut q = self.queue.lock();
                q.stats.timer_runs += 1;
                q.armed = None;
                if q.state != KsState::RUN {
                    return;
                }
                if clock_now.is_none() {
                    q.stats.clock_errors += 1;
                }
                let limit = self.cfg.batch_events as usize;
                while batch.len() < limit {
                    let Some(ev) = q.immediate.pop_front() else {
                        break;
                    };
                    // SAFETY: popped from our list: ours, in no list.
                    unsafe { batch.push_back(ev) };
                }
                while batch.len() < limit {
                    // `pres_time()` is below 2^63, so `as i64` is exact.
                    let late = match (q.held.front_time(), clock_now) {
                        (Some(t), Some(c)) if t as i64 <= c => c - t as i64,
                        (Some(_), None) => 0,
                        _ => break,
                    };
                    let Some(ev) = q.held.pop_front() else { break };
                    // SAFETY: as above.
                    unsafe { batch.push_back(ev) };
                    let s = &mut q.stats;
                    s.lateness_samples += 1;
                    let late = late.max(0) as u64;
                    s.lateness_total = s.lateness_total.saturating_add(late);
                    s.lateness_max = s.lateness_max.max(late);
                }
                let n = batch.len() as u64;
                q.stats.events_played += n;
                q.stats.queue_depth = (q.immediate.len() + q.held.len()) as u64;
                if n > 0 {
                    q.stats.batches += 1;
                }
                self.arm_if_earlier(&mut q, now, clock_now);
            }
            if batch.is_empty() {
                return;
            }
            let PlayState { serializer, sink } = &mut *play;
            let mut out = TargetSink {
                target: &self.target,
                time: clock_now.unwrap_or(now),
                state: sink,
                accepted: 0,
            };
            let head = batch.take_chain();
            // SAFETY: the batch is a chain we own; nothing modifies it while the cursor walks
            // it (it goes back to the allocator only below), and its buffers are readable for
            // `cb_event` bytes (allocator contract).
            let mut cursor = unsafe { ChainCursor::new(head) };
            serializer.write_chain(&mut cursor, self.cfg.max_walk as usize, &mut out);
            (head, out.accepted)
        };
        // SAFETY: the played batch: events of our allocator that we own, returned once.
        unsafe { self.alloc.put_message(head) };
        if accepted > 0 {
            self.target.flushed();
        }
    }
}

impl<P: Platform, T: RenderTarget> Drop for RenderQueue<P, T> {
    fn drop(&mut self) {
        let inner = self.inner.as_ptr();
        // SAFETY: we own the inner state. The timer goes first (waiting for a callback in
        // flight), so nothing else touches the state afterwards; then the queued events go
        // back to the allocator, the state is dropped (releasing the allocator and the clock)
        // and the memory freed.
        unsafe {
            let timer = (*inner).timer.take();
            drop(timer);
            let flushed = {
                let q = (*inner).queue.get_mut();
                let n = (q.immediate.len() + q.held.len()) as u64;
                q.stats.events_flushed += n;
                let mut all = EventList::new();
                all.append(&mut q.immediate);
                all.append(&mut q.held);
                all.take_chain()
            };
            if !flushed.is_null() {
                (*inner).alloc.put_message(flushed);
            }
            let platform = (*inner).platform.clone();
            ptr::drop_in_place(inner);
            platform.pool_free(self.inner.cast(), TAG_RENDER);
        }
    }
}
