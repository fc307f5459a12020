//! The render path of one stream: a time-ordered queue of the events PortCls hands to
//! `IMXF::PutMessage`, played at their presentation times by a platform timer into a
//! [`RenderTarget`] (the loopback) as normalised MIDI messages, every event then returned to
//! the allocator it came from.
//!
//! # Queue
//! [`RenderQueue::put_message`] takes ownership of a chain's *top-level* events (each keeps
//! its package sub-chain or buffer) and files each one, without allocating, in one of three
//! [`EventList`]s (intrusive, threaded through `p_next_evt`):
//! - *pending*: events already taken for playing that the target had no room for (the first
//!   one possibly half played); they play first, in order;
//! - *immediate*: events flagged `DONT_HOLD_FOR_SEQUENCING`, played in arrival order at the
//!   next timer run, ahead of every held event;
//! - *held*: the others, ordered by presentation time, equal times in arrival order (stable).
//!   A chain's held events go in together ([`EventList::insert_all_by_time`]: after the tail
//!   in one pass if they come in order, else sorted and merged in `O(n + m log m)`).
//!
//! # Normalised output
//! Every payload goes through the MIDI parser (see `play`): the target gets one write per
//! complete message, running status expanded, realtime on its own, SysEx as streamed
//! pieces. So anything given up is a whole message (or the rest of a SysEx, which the capture
//! side sees truncated), never a hole that changes how the following bytes parse. What the
//! application sent malformed (stray data bytes, messages cut short) is counted in
//! [`RenderStats::parser`]; that is its input, not loss.
//!
//! # Timing
//! Presentation times are master-clock times. The timer is armed for the earliest event at
//! `platform.now_100ns() + (pres_time - clock.get_time())` (the mapping is redone at every
//! arming, so drift does not accumulate). The timer callback (`DISPATCH_LEVEL`) reads the
//! clock once, takes up to [`RenderConfig::batch_events`] events that are due under the queue
//! lock, plays them, and re-arms (at once if due events remain: a long burst is played in
//! several bounded DPC runs). Played events go back to the allocator in one `PutMessage`.
//! If the clock fails, every held event counts as due (counted in `clock_errors`).
//!
//! # Flow control (backpressure)
//! A target write is all or nothing. When the target answers [`WriteOutcome::Full`], the
//! message and everything after it stay queued (the played part of the current event is
//! remembered; no byte is dropped), the queue records that it is *blocked* and stops arming
//! its timer. The target calls [`RenderQueue::kick`] once it has drained room (the capture
//! stream's service, after reading): the kick arms the timer for now, and the next run resumes
//! exactly where the last one stopped. A kick that arrives while a run is writing (before it
//! could record that it blocked) is not lost: the run checks, under the queue lock, whether a
//! kick came since it took its batch, and if so re-arms instead of waiting.
//!
//! Messages are given up only when nobody listens ([`WriteOutcome::NoListener`]), when the
//! target's allocation fails with nothing queued that could free memory
//! ([`WriteOutcome::NoMemory`], after [`RenderConfig::no_memory_retries`] retries
//! [`RenderConfig::retry_delay_100ns`] apart), when the write could never fit
//! ([`WriteOutcome::TooLarge`], at once), when the cable's feedback guard mutes it
//! ([`WriteOutcome::Muted`], at once), and at `STOP` / destruction (queued events
//! flushed). Each is counted by cause in whole messages and bytes ([`DropCount`]).
//!
//! # States
//! - `STOP`: every queued event is given up (counted, see above) and returned to the
//!   allocator, the timer is cancelled, the parser reset.
//! - `ACQUIRE`, `PAUSE`: events are kept and queued, nothing plays (the timer is cancelled).
//! - `RUN`: plays; events whose time passed while paused play at once (late).
//!
//! # Overflow
//! At most [`RenderConfig::max_queued`] top-level events are queued; beyond it `PutMessage`
//! returns the extra events to the allocator at once, counted in `events_refused`, and
//! returns `STATUS_INSUFFICIENT_RESOURCES` (ownership is taken either way).
//!
//! # Locks (and their order)
//! Two spin locks of the queue: the *play* lock (held by a timer run from taking a batch until
//! its outcome is filed back, so two runs on two CPUs cannot reorder output; it guards the
//! parser and the resume position) and the *queue* lock, always taken in that order.
//! `PutMessage` and [`RenderQueue::kick`] take only the queue lock. The target is written
//! with the play lock held and the queue lock released, so the order is
//! `play → target's locks` and, separately, `play → queue`; the target's locks are never held
//! while a queue lock is taken. [`RenderTarget::flushed`] and the allocator are called with
//! no lock of the queue held. A kick may come from any context at IRQL <= `DISPATCH_LEVEL`
//! holding locks that the render side never holds while taking the queue lock (the capture
//! stream's, the service group's): it only takes the queue lock and sets the timer.

mod play;
mod retire;

use crate::com::ComPtr;
use crate::event_list::EventList;
use crate::midi::ParserStats;
use crate::platform::{Platform, PoolTag, SpinLock, Timer};
use crate::serialize::WalkStats;
pub use crate::write::WriteOutcome;
use core::ffi::c_void;
use core::mem::ManuallyDrop;
use core::ptr::{self, NonNull};
use mxf_abi::NtError;
use mxf_abi::{
    DmusKernelEvent, IAllocatorMxf, IMasterClock, KsState, NtStatus, STATUS_INSUFFICIENT_RESOURCES,
    STATUS_INVALID_PARAMETER, STATUS_SUCCESS,
};
use play::{Discard, Halt, Out, Outcome, Player};
pub use play::{DropCause, DropCount};
pub use retire::{flatten_packages, return_events};

/// Pool tag of a render queue.
pub const TAG_RENDER: PoolTag = PoolTag::new(b"MxfQ");

/// Where played messages go.
pub trait RenderTarget: Send + Sync {
    /// Takes one normalised message or SysEx piece (the concatenation of `parts`), played at
    /// master-clock time `time`, all or nothing (see [`WriteOutcome`]). `DISPATCH_LEVEL`, with
    /// the queue's play lock held: must not call back into the queue (except
    /// [`RenderQueue::kick`], which takes only the queue lock).
    fn write(&self, parts: &[&[u8]], time: i64) -> WriteOutcome;

    /// Called after a run in which the target accepted bytes, with no lock of the queue held
    /// (e.g. to notify the capture side). `DISPATCH_LEVEL`.
    fn flushed(&self) {}

    /// Called when the stream ended (`STOP`, destruction), after its queued events were given
    /// up, with no lock of the queue held: nothing is written until the next `RUN` (e.g. a
    /// cable lets go of a SysEx this stream left open). IRQL <= `DISPATCH_LEVEL`.
    fn ended(&self) {}
}

/// How a render queue behaves.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct RenderConfig {
    /// Most top-level events played by one timer run (at least 1).
    pub batch_events: u32,
    /// Most top-level events queued at once (at least 1).
    pub max_queued: u32,
    /// Most steps (events, packages included) walked in one top-level event; a package
    /// longer than that (or cyclic) is cut short there.
    pub max_walk: u32,
    /// Retries of a write whose allocation failed with the target empty, before its message
    /// is given up.
    pub no_memory_retries: u32,
    /// Delay between those retries (100 ns units, at least 1).
    pub retry_delay_100ns: u32,
    /// The port sequences (the stream asked for `SchedulePreFetch` 0, as DMusUART does): it
    /// hands each event over at its presentation time, so every event is played on arrival,
    /// in arrival order, like one flagged `DONT_HOLD_FOR_SEQUENCING` — none waits for a
    /// timer tick in the miniport.
    pub port_sequenced: bool,
}

impl RenderConfig {
    /// 64 events a run (a whole 256 KiB SysEx of 4 KiB fragments), 65536 queued (about
    /// 4.5 MB of the port's events), 1 Mi walked, 8 retries 1 ms apart.
    pub const DEFAULT: Self = Self {
        batch_events: 64,
        max_queued: 65_536,
        max_walk: 1 << 20,
        no_memory_retries: 8,
        retry_delay_100ns: 10_000,
        port_sequenced: false,
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
    /// Top-level events played to the end (then returned).
    pub events_played: u64,
    /// Top-level events returned not (fully) played by `STOP` or destruction.
    pub events_flushed: u64,
    /// Events queued now.
    pub queue_depth: u64,
    /// Most events queued at once.
    pub max_queue_depth: u64,
    /// The bound ([`RenderConfig::max_queued`]).
    pub queue_bound: u64,
    /// Messages written whole (a SysEx counts once, when its last piece is written).
    pub messages_written: u64,
    /// Of those, SysEx messages.
    pub sysex_written: u64,
    /// Of `messages_written`, the application's SysEx messages cut short (by a status byte,
    /// or left open at `STOP`) all of whose pieces got out: the capture side sees each one
    /// cut where the application cut it. With [`DropCount::sysex_truncated`] of every cause,
    /// these are all the SysEx messages the loopback carries cut.
    pub sysex_cut_written: u64,
    /// Whether a SysEx is in progress now of which pieces got out and none was given up
    /// (it ends whole, or cut by the application).
    pub sysex_open: bool,
    /// Normalised bytes written.
    pub bytes_written: u64,
    /// Given up: nobody listening.
    pub dropped_no_listener: DropCount,
    /// Given up: allocation failed with the target empty (after the retries).
    pub dropped_no_memory: DropCount,
    /// Given up: the write was larger than the target could ever hold (no retries).
    pub dropped_too_large: DropCount,
    /// Given up: flushed by `STOP` or destruction.
    pub dropped_stop: DropCount,
    /// Given up: the cable's feedback guard muted it ([`WriteOutcome::Muted`], at once).
    pub dropped_muted: DropCount,
    /// Writes retried after an allocation failure.
    pub no_memory_retries: u64,
    /// Times the target was full and the queue blocked.
    pub blocks: u64,
    /// Time spent blocked, in total and at most at once (100 ns, platform clock).
    pub blocked_time_total: u64,
    /// Longest single blocked stretch.
    pub blocked_time_max: u64,
    /// Whether the queue is blocked now.
    pub blocked_now: bool,
    /// [`RenderQueue::kick`] calls.
    pub kicks: u64,
    /// Kicks that resumed a blocked queue.
    pub wakeups: u64,
    /// Held events taken for playing (the lateness samples).
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
    /// Leaf events with `cb_event == 0` (skipped).
    pub empty_events: u64,
    /// Buffer events with a null buffer (skipped).
    pub null_buffers: u64,
    /// Buffer events larger than the allocator's buffers (skipped).
    pub oversize_events: u64,
    /// Package bookkeeping.
    pub walk: WalkStats,
    /// Top-level events whose walk was cut at [`RenderConfig::max_walk`].
    pub walks_cut: u64,
    /// The render side's parser: what the application sent, malformed bytes included.
    pub parser: ParserStats,
}

impl RenderStats {
    /// Every message given up, all causes.
    pub const fn dropped(&self) -> DropCount {
        self.dropped_no_listener
            .plus(self.dropped_no_memory)
            .plus(self.dropped_too_large)
            .plus(self.dropped_stop)
            .plus(self.dropped_muted)
    }
}

struct QueueState {
    pending: EventList,
    immediate: EventList,
    held: EventList,
    state: KsState,
    /// Due time the timer is armed for.
    armed: Option<i64>,
    /// Platform time at which the target was found full (`None`: not blocked).
    blocked_since: Option<i64>,
    /// A kick came since the running batch was taken.
    kicked: bool,
    stats: RenderStats,
}

impl QueueState {
    fn depth(&self) -> usize {
        self.pending.len() + self.immediate.len() + self.held.len()
    }

    /// Every queued event, in playing order.
    fn take_all(&mut self) -> EventList {
        let mut all = EventList::new();
        all.append(&mut self.pending);
        all.append(&mut self.immediate);
        all.append(&mut self.held);
        self.stats.queue_depth = 0;
        all
    }
}

/// [`Out`] over the target.
struct TargetOut<'a, T: RenderTarget> {
    target: &'a T,
    time: i64,
    accepted: bool,
}

impl<T: RenderTarget> Out for TargetOut<'_, T> {
    fn write(&mut self, parts: &[&[u8]]) -> Outcome {
        match self.target.write(parts, self.time) {
            WriteOutcome::Accepted => {
                self.accepted = true;
                Outcome::Accepted
            }
            WriteOutcome::Full => Outcome::Full,
            WriteOutcome::NoMemory => Outcome::NoMemory,
            WriteOutcome::NoListener => Outcome::Drop(DropCause::NoListener),
            WriteOutcome::TooLarge => Outcome::Drop(DropCause::TooLarge),
            WriteOutcome::Muted => Outcome::Drop(DropCause::Muted),
        }
    }
}

struct Inner<P: Platform, T: RenderTarget> {
    platform: P,
    alloc: ComPtr<IAllocatorMxf>,
    clock: ComPtr<IMasterClock>,
    target: T,
    cfg: RenderConfig,
    play: SpinLock<P::RawSpinLock, Player>,
    queue: SpinLock<P::RawSpinLock, QueueState>,
    /// Never written after construction: a timer callback in flight holds `&Inner` while
    /// `Drop` deletes the timer, so `Drop` reads it out (`ptr::read`) instead of taking it
    /// (a write). It is used only under the queue lock with the state `RUN`, which `Drop`
    /// ends first; `ManuallyDrop` keeps `drop_in_place` from dropping it a second time.
    timer: ManuallyDrop<P::Timer>,
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
    ) -> Result<Self, NtError> {
        if cfg.batch_events == 0
            || cfg.max_queued == 0
            || cfg.max_walk == 0
            || cfg.retry_delay_100ns == 0
        {
            return Err(NtError::INVALID_PARAMETER);
        }
        const {
            assert!(core::mem::align_of::<Inner<P, T>>() <= crate::platform::POOL_ALIGN);
        }
        let mem = platform
            .pool_alloc(core::mem::size_of::<Inner<P, T>>(), TAG_RENDER)
            .ok_or(NtError::INSUFFICIENT_RESOURCES)?
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
                Player::new(usize::from(buffer_size), cfg.no_memory_retries),
            ),
            queue: SpinLock::new(
                l2,
                QueueState {
                    pending: EventList::new(),
                    immediate: EventList::new(),
                    held: EventList::new(),
                    state: KsState::STOP,
                    armed: None,
                    blocked_since: None,
                    kicked: false,
                    stats: RenderStats {
                        queue_bound: u64::from(cfg.max_queued),
                        ..RenderStats::default()
                    },
                },
            ),
            timer: ManuallyDrop::new(timer),
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
        let mut s = {
            let q = inner.queue.lock();
            let mut s = q.stats;
            s.blocked_now = q.blocked_since.is_some();
            s
        };
        let p = &play.stats;
        s.messages_written = p.messages_written;
        s.sysex_written = p.sysex_written;
        s.sysex_cut_written = p.sysex_cut_written;
        s.sysex_open = play.sysex_open();
        s.bytes_written = p.bytes_written;
        s.dropped_no_listener = p.dropped_no_listener;
        s.dropped_no_memory = p.dropped_no_memory;
        s.dropped_too_large = p.dropped_too_large;
        s.dropped_stop = p.dropped_stop;
        s.dropped_muted = p.dropped_muted;
        s.no_memory_retries = p.no_memory_retries;
        s.empty_events = p.empty_events;
        s.null_buffers = p.null_buffers;
        s.oversize_events = p.oversize_events;
        s.walk = p.walk;
        s.walks_cut = p.walks_cut;
        s.parser = *play.parser_stats();
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
        // Held events of this chain are gathered first and merged into `held` in one pass
        // (sort + merge: O(n + m log m) under the lock, however the chain is ordered).
        let mut incoming = EventList::new();
        {
            let mut q = inner.queue.lock();
            let mut cur = chain;
            while let Some(ev) = NonNull::new(cur) {
                // SAFETY: an event of the caller's chain, now ours.
                cur = unsafe { (*ev.as_ptr()).p_next_evt };
                let depth = (q.depth() + incoming.len()) as u64;
                if depth >= u64::from(inner.cfg.max_queued) {
                    // SAFETY: ours, in no list.
                    unsafe { refused.push_back(ev) };
                    q.stats.events_refused += 1;
                    continue;
                }
                // `ev` is ours and in no list; `held` is filled only by `insert_all_by_time`.
                // SAFETY: `ev` is a live event of ours.
                let dont_hold = unsafe { ev.as_ref() }.dont_hold();
                if dont_hold {
                    // SAFETY: ours, in no list.
                    unsafe { q.immediate.push_back(ev) };
                    q.stats.events_immediate += 1;
                } else if inner.cfg.port_sequenced {
                    // SAFETY: ours, in no list.
                    unsafe { q.immediate.push_back(ev) };
                } else {
                    // SAFETY: ours, in no list.
                    unsafe { incoming.push_back(ev) };
                }
                q.stats.events_queued += 1;
                let depth = depth + 1;
                q.stats.queue_depth = depth;
                q.stats.max_queue_depth = q.stats.max_queue_depth.max(depth);
            }
            q.held.insert_all_by_time(&mut incoming);
            if q.state == KsState::RUN {
                inner.arm_if_earlier(&mut q, now, clock_now, false);
            }
        }
        if refused.is_empty() {
            STATUS_SUCCESS
        } else {
            let chain = refused.take_chain();
            // SAFETY: events of our allocator we own; returned once.
            unsafe { retire::return_events(&inner.alloc, chain, inner.cfg.max_walk) };
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
            let all = {
                let mut q = inner.queue.lock();
                q.state = state;
                if state == KsState::RUN {
                    inner.arm_if_earlier(&mut q, now, clock_now, true);
                    None
                } else {
                    inner.disarm(&mut q);
                    (state == KsState::STOP).then(|| {
                        inner.end_blocked(&mut q, now);
                        let n = q.depth() as u64;
                        q.stats.events_flushed += n;
                        q.take_all()
                    })
                }
            };
            all.map(|mut all| inner.give_up(&mut play, &mut all))
        };
        if let Some(flushed) = flushed {
            // SAFETY: events of our allocator we own; returned once.
            unsafe { retire::return_events(&inner.alloc, flushed, inner.cfg.max_walk) };
            inner.target.ended();
        }
        STATUS_SUCCESS
    }

    /// The target has room again (e.g. the capture side read from the loopback): if the
    /// queue is blocked and running, its timer is armed for now. Callable at IRQL <=
    /// `DISPATCH_LEVEL` from any context that does not hold this queue's play lock (see the
    /// module docs for the lock order); takes only the queue lock.
    pub fn kick(&self) {
        let inner = self.inner();
        let mut q = inner.queue.lock();
        q.stats.kicks += 1;
        q.kicked = true;
        let now = inner.platform.now_100ns();
        if q.blocked_since.is_some() && q.state == KsState::RUN && q.armed.is_none_or(|a| a > now) {
            q.stats.wakeups += 1;
            inner.timer.set(now);
            q.armed = Some(now);
        }
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
    /// for — only in `RUN`, and not while blocked (a kick resumes) unless `retry`. Queue lock
    /// held.
    fn arm_if_earlier(&self, q: &mut QueueState, now: i64, clock_now: Option<i64>, retry: bool) {
        if q.state != KsState::RUN || (q.blocked_since.is_some() && !retry) {
            return;
        }
        let due = if !q.pending.is_empty() || !q.immediate.is_empty() {
            Some(now)
        } else {
            q.held.front_time().map(|t| match clock_now {
                // `pres_time()` is below 2^63, so the conversion is exact.
                Some(c) => now.saturating_add((t as i64).saturating_sub(c)),
                None => now,
            })
        };
        if let Some(d) = due
            && q.armed.is_none_or(|a| d < a)
        {
            self.timer.set(d);
            q.armed = Some(d);
        }
    }

    fn disarm(&self, q: &mut QueueState) {
        self.timer.cancel();
        q.armed = None;
    }

    /// Ends a blocked stretch (its time counted). Queue lock held.
    fn end_blocked(&self, q: &mut QueueState, now: i64) {
        if let Some(since) = q.blocked_since.take() {
            let t = now.saturating_sub(since).max(0) as u64;
            q.stats.blocked_time_total = q.stats.blocked_time_total.saturating_add(t);
            q.stats.blocked_time_max = q.stats.blocked_time_max.max(t);
        }
    }

    /// Gives every event of `all` up (counted by message, cause `Stop`), ends the stream and
    /// returns the events as one chain. Play lock held.
    fn give_up(&self, play: &mut Player, all: &mut EventList) -> *mut DmusKernelEvent {
        let mut out = Discard(DropCause::Stop);
        let mut kept = EventList::new();
        while let Some(ev) = all.pop_front() {
            // SAFETY: an event we own, unlinked (`pop_front`), from our allocator: its
            // sub-chain and buffers are valid and nobody else touches them.
            let _ = unsafe { play.play_event(ev.as_ptr(), &mut out, self.cfg.max_walk) };
            // SAFETY: ours, in no list.
            unsafe { kept.push_back(ev) };
        }
        play.end_stream();
        kept.take_chain()
    }

    /// One timer run: take a due batch, play it, file back what did not fit, re-arm, return
    /// what was played.
    fn play_due(&self) {
        let (now, clock_now) = times(&self.platform, &self.clock);
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
            q.kicked = false;
            let limit = self.cfg.batch_events as usize;
            while batch.len() < limit {
                let Some(ev) = q.pending.pop_front() else {
                    break;
                };
                // SAFETY: popped from our list: ours, in no list.
                unsafe { batch.push_back(ev) };
            }
            while batch.len() < limit {
                let Some(ev) = q.immediate.pop_front() else {
                    break;
                };
                // SAFETY: as above.
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
            if batch.is_empty() {
                self.arm_if_earlier(&mut q, now, clock_now, false);
                return;
            }
        }
        let mut out = TargetOut {
            target: &self.target,
            time: clock_now.unwrap_or(now),
            accepted: false,
        };
        let mut done = EventList::new();
        let mut halt = None;
        while let Some(ev) = batch.pop_front() {
            // SAFETY: an event we own, unlinked, from our allocator: its sub-chain and buffers
            // stay valid and untouched while we play it.
            match unsafe { play.play_event(ev.as_ptr(), &mut out, self.cfg.max_walk) } {
                Ok(()) => {
                    // SAFETY: ours, in no list.
                    unsafe { done.push_back(ev) };
                }
                Err(h) => {
                    // SAFETY: ours, in no list; it goes first again.
                    unsafe { batch.push_front(ev) };
                    halt = Some(h);
                    break;
                }
            }
        }
        {
            let mut q = self.queue.lock();
            q.pending.prepend(&mut batch);
            q.stats.events_played += done.len() as u64;
            q.stats.batches += 1;
            q.stats.queue_depth = q.depth() as u64;
            match halt {
                Some(Halt::Blocked) => {
                    if q.blocked_since.is_none() {
                        q.blocked_since = Some(now);
                        q.stats.blocks += 1;
                    }
                    if q.kicked {
                        // Room was made while we wrote: go on at once.
                        self.arm_if_earlier(&mut q, now, clock_now, true);
                    }
                }
                Some(Halt::Retry) => {
                    self.end_blocked(&mut q, now);
                    // `Drop` may have ended `RUN` while we wrote: then the timer is off limits.
                    if q.state == KsState::RUN {
                        let due = now.saturating_add(i64::from(self.cfg.retry_delay_100ns));
                        self.timer.set(due);
                        q.armed = Some(due);
                    }
                }
                None => {
                    self.end_blocked(&mut q, now);
                    self.arm_if_earlier(&mut q, now, clock_now, false);
                }
            }
        }
        drop(play);
        let head = done.take_chain();
        // SAFETY: the played events: of our allocator, ours, returned once.
        unsafe { retire::return_events(&self.alloc, head, self.cfg.max_walk) };
        if out.accepted {
            self.target.flushed();
        }
    }
}

impl<P: Platform, T: RenderTarget> Drop for RenderQueue<P, T> {
    fn drop(&mut self) {
        let inner = self.inner.as_ptr();
        // No `&RenderQueue` is left (`&mut self`), so the only other user of the state is a
        // timer callback, queued or running on another CPU with a `&Inner`. Ending `RUN` under
        // the queue lock stops it from touching the timer from now on: every `set` is made
        // under that lock and only in `RUN` (`arm_if_earlier`, the retry re-arm, `kick`).
        {
            // SAFETY: initialised and owned by `self` until the end of this function.
            let me = unsafe { &*inner };
            let mut q = me.queue.lock();
            q.state = KsState::STOP;
            me.disarm(&mut q);
        }
        // The timer goes first: it is read out (no write to the state a callback may still be
        // reading) and dropped, which waits for a callback in flight. Nothing else touches the
        // state afterwards; then the queued events go back to the allocator, the state is
        // dropped (releasing the allocator and the clock) and the memory freed.
        // SAFETY: `inner` is initialised and owned by `self`, so the field's place is in
        // bounds; no reference is made.
        let timer_field = unsafe { ptr::addr_of!((*inner).timer) };
        // SAFETY: the field is initialised and `ManuallyDrop`: the bitwise copy left behind
        // is never used, and dropping the state below skips it.
        let timer = ManuallyDrop::into_inner(unsafe { ptr::read(timer_field) });
        drop(timer);
        // SAFETY: the timer is gone (its callback waited for) and no `&RenderQueue` is left,
        // so the initialised state is ours alone until the end of this function.
        let me = unsafe { &mut *inner };
        let mut all = {
            let q = me.queue.get_mut();
            q.stats.events_flushed += q.depth() as u64;
            q.take_all()
        };
        let flushed = {
            let mut play = me.play.lock();
            me.give_up(&mut play, &mut all)
        };
        // SAFETY: the flushed events are of our allocator, ours alone, and returned once.
        unsafe { retire::return_events(&me.alloc, flushed, me.cfg.max_walk) };
        me.target.ended();
        let platform = me.platform.clone();
        // SAFETY: the state is initialised, ours alone, and dropped once here; `me` is not
        // used again.
        unsafe { ptr::drop_in_place(inner) };
        // SAFETY: the memory came from `pool_alloc(.., TAG_RENDER)` when the queue was made;
        // its contents were dropped just above and nothing refers to it.
        unsafe { platform.pool_free(self.inner.cast(), TAG_RENDER) };
    }
}
