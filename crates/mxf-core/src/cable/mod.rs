//! The cable: what sits between all render streams (writers) and all capture streams
//! (readers) of one virtual MIDI cable — fan-out to every reader, merge of every writer, and
//! the feedback guard.
//!
//! # Fan-out
//! Each reader has its own [`Loopback`] (its own allocator and capacity, made by its capture
//! stream at `PASSIVE_LEVEL`), attached to the cable for the stream's life and *joined* while
//! the stream is in `RUN` ([`Cable::join`] / [`Cable::leave`]; joining makes the loopback
//! listen, leaving stops it). At most [`MAX_READERS`]. A write is copied into every joined
//! reader's loopback (one copy per reader). Its outcome:
//! - at least one reader took it: [`WriteOutcome::Accepted`]; each reader that refused
//!   (full, its allocator full or failing, too large) counts the message as dropped for it
//!   ([`ReaderStats`], messages and bytes exactly). A reader that refused a piece of a SysEx
//!   skips the rest of it (counted as one truncated SysEx, its bytes as dropped), so no reader
//!   sees a SysEx with a hole. A stalled reader therefore never blocks the cable or the other
//!   readers: it drops;
//! - every reader refused: nothing was kept anywhere, and the answer is the one a single
//!   loopback would give: `Full` if one was full (the render queue waits for a kick, so with
//!   one reader nothing is lost, as with a plain loopback), else `NoMemory`, else `TooLarge`;
//! - no reader joined: [`WriteOutcome::NoListener`].
//!
//! The loopbacks' invariant (`bytes_in == bytes_out + bytes_discarded + bytes_queued`) holds
//! per reader; [`Cable::loopback_stats`] sums it over every reader the cable had.
//!
//! # Merge
//! Writes are serialised by the cable's lock, so a message in one write is atomic. A SysEx in
//! pieces holds the cable for its writer from its first piece to its last (the rule and what
//! ends it: `merge.rs`); meanwhile the other writers are refused with `Full`, except single
//! realtime bytes. When the owner lets go and somebody waited, [`Written::released`] tells
//! the caller to kick the render queues (after releasing every lock of its own that a kick's
//! path could take). The render stream calls [`Cable::end_writer`] when it stops.
//!
//! # Feedback guard
//! The cable's [`FeedbackGuard`] ([`CableConfig::feedback`]) sees every *message* written (a
//! SysEx once, at its first piece; the time is the platform's clock): while it mutes, every
//! write is refused with [`WriteOutcome::Muted`] (the render queue counts a drop), a SysEx in
//! progress included. A write refused `Full` and offered again is seen again; such retries
//! come at most once per reader service, far below any useful limit. The trip is logged once
//! (`Warn`, with the rate), the release once (`Info`, with what was muted), after the cable's
//! lock is released.
//!
//! # Concurrency and lock order
//! One spin lock; every method is callable at IRQL <= `DISPATCH_LEVEL` from any CPU except
//! [`Cable::new`] (any IRQL, it allocates nothing). No global allocation: fixed tables. The
//! readers' loopbacks are written (and their listening flags set) under the cable's lock:
//! *writer's locks → cable → loopback*, and a capture stream joins or leaves holding its own
//! lock: *capture stream → cable → loopback*. A write takes each reader's loopback lock
//! without touching IRQL ([`SpinLock::lock_at_dispatch`], the cable's guard as the proof that
//! it runs at `DISPATCH_LEVEL`). Nothing calls into the cable with a loopback's
//! lock held (the capture drain's callback feeds the capture packager only).

mod merge;
mod readers;
mod stats;

pub use merge::{MAX_WRITERS, WriterId};
pub use readers::{MAX_READERS, ReaderId};
pub use stats::{CableStats, ReaderStats};

use crate::feedback::{FeedbackConfig, FeedbackGuard, FeedbackStats};
use crate::loopback::{Loopback, LoopbackStats, Measured};
use crate::platform::{LogLevel, Platform, SpinLock, SpinLockGuard};
use crate::write::WriteOutcome;
use merge::{Admit, Kind, Owner};
use readers::Readers;

/// How a cable behaves.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct CableConfig {
    /// The feedback guard.
    pub feedback: FeedbackConfig,
}

impl CableConfig {
    /// The default feedback guard.
    pub const DEFAULT: Self = Self {
        feedback: FeedbackConfig::DEFAULT,
    };
}

impl Default for CableConfig {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// The answer to one [`Cable::write`].
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Written {
    /// What happened to the write.
    pub outcome: WriteOutcome,
    /// A SysEx owner let the cable go while another writer waited: kick the render queues.
    pub released: bool,
}

struct State<P: Platform> {
    readers: Readers<P>,
    owner: Owner,
    guard: FeedbackGuard,
    cfg: FeedbackConfig,
    stats: CableStats,
}

/// A change of the guard to log once the lock is released.
#[derive(Clone, Copy, Default)]
struct GuardEvents {
    released: Option<FeedbackStats>,
    tripped: bool,
}

/// See the module docs.
pub struct Cable<P: Platform> {
    platform: P,
    state: SpinLock<P::RawSpinLock, State<P>>,
}

impl<P: Platform> Cable<P> {
    /// A cable with no reader, not owned, its guard released.
    pub fn new(platform: P, cfg: CableConfig) -> Self {
        let lock = platform.new_spin_lock();
        Self {
            platform,
            state: SpinLock::new(
                lock,
                State {
                    readers: Readers::new(),
                    owner: Owner::default(),
                    guard: FeedbackGuard::new(cfg.feedback),
                    cfg: cfg.feedback,
                    stats: CableStats::default(),
                },
            ),
        }
    }

    /// Attaches `lb` as a reader (not joined yet); `None` if [`MAX_READERS`] are attached.
    ///
    /// # Safety
    /// `lb` stays valid until [`Cable::detach`] of the returned id has returned.
    pub unsafe fn attach(&self, lb: &Loopback<P>) -> Option<ReaderId> {
        let mut s = self.state.lock();
        // SAFETY: the caller keeps `lb` valid until it detaches.
        unsafe { s.readers.attach(lb) }
    }

    /// Detaches reader `id` (leaving first); its loopback counters stay in
    /// [`Cable::loopback_stats`]. From its return on, the cable does not touch the loopback.
    pub fn detach(&self, id: ReaderId) {
        self.state.lock().readers.detach(id);
    }

    /// Reader `id` gets every write from now on (its loopback listens). If a SysEx in pieces
    /// is in progress, the reader skips the rest of it (it never saw its start).
    pub fn join(&self, id: ReaderId) {
        let mut s = self.state.lock();
        let in_sysex = s.owner.get().is_some();
        s.readers.join(id, in_sysex);
    }

    /// Reader `id` gets no more writes (its loopback stops listening).
    pub fn leave(&self, id: ReaderId) {
        self.state.lock().readers.leave(id);
    }

    /// Writes the concatenation of `parts` (one normalised message or SysEx piece, written
    /// at master-clock time `time`) from writer `w`: see the module docs. An empty write is
    /// accepted and changes nothing.
    pub fn write(&self, w: WriterId, parts: &[&[u8]], time: i64) -> Written {
        let m = Measured::new(parts);
        let len = m.len();
        let first = parts.iter().find_map(|p| p.first().copied());
        let last = parts.iter().rev().find_map(|p| p.last().copied());
        let (Some(first), Some(last)) = (first, last) else {
            return Written {
                outcome: WriteOutcome::Accepted,
                released: false,
            };
        };
        let kind = Kind::of(first, last, len);
        let now = self.platform.now_100ns();
        let mut events = GuardEvents::default();
        let (written, cfg) = {
            let mut s = self.state.lock();
            let cfg = s.cfg;
            (
                Self::write_locked(&mut s, w, kind, &m, time, now, &mut events),
                cfg,
            )
        };
        self.log_guard(events, cfg);
        written
    }

    /// The write, under the cable's lock `g` (whose guard is the proof that the readers'
    /// loopbacks may be locked at `DISPATCH_LEVEL`).
    fn write_locked(
        g: &mut SpinLockGuard<'_, P::RawSpinLock, State<P>>,
        w: WriterId,
        kind: Kind,
        m: &Measured<'_>,
        time: i64,
        now: i64,
        events: &mut GuardEvents,
    ) -> Written {
        let (s, at) = g.value_at_dispatch();
        let len = m.len();
        let n = len as u64;
        let other_owner = s.owner.get().is_some_and(|o| o != w);
        let (own, cut) = match s.owner.admit(w, kind) {
            Admit::Wait => {
                s.stats.merge_waits += 1;
                return Written {
                    outcome: WriteOutcome::Full,
                    released: false,
                };
            }
            Admit::Pass { own, cut } => (own, cut),
        };
        let mut released = false;
        if cut {
            s.readers.end_sysex();
            released |= s.owner.release();
        }
        // A continuation with no SysEx of its writer in progress cannot come from the render
        // side (its SysEx start held the cable); it goes out as a message of its own.
        let kind = match kind {
            Kind::Continuation { .. } if !own => Kind::Message,
            k => k,
        };
        let refuse = |s: &mut State<P>, outcome: WriteOutcome, released: &mut bool| {
            if own {
                // The render side gives the rest of this SysEx up: the cable is free.
                s.readers.end_sysex();
                *released |= s.owner.release();
            }
            Written {
                outcome,
                released: *released,
            }
        };
        if !s.readers.any_joined() {
            s.stats.refused_no_listener += 1;
            return refuse(s, WriteOutcome::NoListener, &mut released);
        }
        let admitted = if kind.is_message() {
            let before = s.guard.stats();
            let ok = s.guard.admit(now, len);
            let after = s.guard.stats();
            if after.releases > before.releases {
                events.released = Some(after);
            }
            events.tripped |= after.trips > before.trips;
            ok
        } else {
            !s.guard.is_muted()
        };
        if !admitted {
            s.stats.refused_muted += 1;
            return refuse(s, WriteOutcome::Muted, &mut released);
        }
        let outcome = s.readers.deliver(m, time, kind, at);
        match outcome {
            WriteOutcome::Accepted => {
                s.stats.writes += 1;
                s.stats.bytes += n;
                if kind == Kind::Realtime && other_owner {
                    s.stats.realtime_passed += 1;
                }
                match kind {
                    Kind::SysexStart => {
                        s.owner.take(w);
                        s.stats.sysex_held += 1;
                    }
                    Kind::Continuation { end: true } => {
                        s.readers.end_sysex();
                        released |= s.owner.release();
                    }
                    _ => {}
                }
            }
            // Waiting or retrying may help: an owner keeps the cable.
            WriteOutcome::Full => s.stats.refused_full += 1,
            WriteOutcome::NoMemory => s.stats.refused_no_memory += 1,
            other => {
                if other == WriteOutcome::TooLarge {
                    s.stats.refused_too_large += 1;
                } else {
                    s.stats.refused_no_listener += 1;
                }
                return refuse(s, other, &mut released);
            }
        }
        Written { outcome, released }
    }

    /// Writer `w`'s stream ended (`STOP`, destruction): if it held the cable for a SysEx, it
    /// lets go (what the readers got of it is the truncated SysEx it sent). Returns whether a
    /// writer waited, i.e. whether to kick the render queues.
    pub fn end_writer(&self, w: WriterId) -> bool {
        let mut s = self.state.lock();
        if s.owner.get() == Some(w) {
            s.readers.end_sysex();
            s.owner.release()
        } else {
            false
        }
    }

    /// A snapshot of the cable's counters.
    pub fn stats(&self) -> CableStats {
        let s = self.state.lock();
        let (attached, joined) = s.readers.counts();
        CableStats {
            feedback: s.guard.stats(),
            muted: s.guard.is_muted(),
            readers_attached: attached,
            readers_joined: joined,
            ..s.stats
        }
    }

    /// The counters of reader `id`, if attached.
    pub fn reader_stats(&self, id: ReaderId) -> Option<ReaderStats> {
        self.state.lock().readers.stats(id)
    }

    /// The loopback counters of every reader the cable had (attached now or detached),
    /// summed ([`LoopbackStats::plus`]): cumulative over the cable's life.
    pub fn loopback_stats(&self) -> LoopbackStats {
        self.state.lock().readers.loopback_stats()
    }

    /// Calls `f` with each attached reader and its loopback, under the cable's lock (`f` must
    /// not call into the cable).
    pub fn for_each_reader(&self, f: impl FnMut(ReaderId, &Loopback<P>)) {
        self.state.lock().readers.for_each(f);
    }

    fn log_guard(&self, e: GuardEvents, cfg: FeedbackConfig) {
        if let Some(st) = e.released {
            self.platform.log(
                LogLevel::Info,
                format_args!(
                    "cable: feedback guard released after {} quiet windows; muted {} messages \
                     ({} bytes) in all",
                    cfg.release_windows, st.messages_muted, st.bytes_muted
                ),
            );
        }
        if e.tripped {
            let window = cfg.window_100ns.max(1);
            let per_second =
                i64::from(cfg.max_messages_per_window).saturating_mul(10_000_000) / window;
            self.platform.log(
                LogLevel::Warn,
                format_args!(
                    "cable: feedback guard tripped: over {} messages per {} ms ({per_second} \
                     a second) for {} windows in a row; the cable is muted",
                    cfg.max_messages_per_window,
                    window / 10_000,
                    cfg.trip_windows
                ),
            );
        }
    }
}
