//! The readers of a cable: a fixed table of the capture streams' loopbacks, and the fan-out
//! of one write into every joined one, with each reader's SysEx state and counters.
//!
//! A reader is *attached* from its capture stream's creation to its destruction (its loopback
//! counters are summed into the cable's while attached, and kept when it detaches) and
//! *joined* while its stream is in `RUN`: only joined readers get writes.

use super::merge::Kind;
use super::stats::ReaderStats;
use crate::loopback::{Loopback, LoopbackStats, Measured};
use crate::platform::{AtDispatch, Platform};
use crate::write::WriteOutcome;
use core::ptr::NonNull;

/// Most readers (capture streams) of one cable. Each costs a loopback (its own allocator and
/// queue) and one copy of every message, so the bound keeps both the memory and the write
/// path's time bounded; a fixed table keeps the write path allocation-free.
pub const MAX_READERS: usize = 8;

/// A reader of a cable: an index into its table.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct ReaderId(u8);

impl ReaderId {
    /// An id that names no reader: every cable method given it does nothing (a placeholder
    /// until [`super::Cable::attach`] hands out the real one).
    pub const NONE: Self = Self(u8::MAX);

    /// Its index (below [`MAX_READERS`], except for [`ReaderId::NONE`]).
    pub const fn index(self) -> usize {
        self.0 as usize
    }
}

/// Where a reader is in the SysEx being written in pieces.
#[derive(Clone, Copy, Default, PartialEq, Eq, Debug)]
enum Sysex {
    /// It gets every write: no SysEx in pieces is in progress, or it got every piece of the
    /// one in progress so far (taking a write therefore never changes this state).
    #[default]
    Taking,
    /// It skips the rest: it refused a piece (`counted`: the skipped bytes are its drops), or
    /// it joined after the SysEx started (not `counted`: those bytes were never its).
    Skipping { counted: bool },
}

struct Reader<P: Platform> {
    /// The capture stream's loopback (see [`Readers::attach`] for why it is valid).
    lb: NonNull<Loopback<P>>,
    sysex: Sysex,
    stats: ReaderStats,
}

impl<P: Platform> Reader<P> {
    fn lb(&self) -> &Loopback<P> {
        // SAFETY: an attached loopback stays valid until it is detached (`attach`'s
        // contract), and the table is only used under the cable's lock.
        unsafe { self.lb.as_ref() }
    }
}

/// A set of slots of the table: bit `i` is slot `i`.
type Mask = u8;
const _: () = assert!(MAX_READERS <= Mask::BITS as usize);

/// The slots of `m`, lowest first.
fn slots_of(mut m: Mask) -> impl Iterator<Item = usize> {
    core::iter::from_fn(move || {
        if m == 0 {
            return None;
        }
        let i = m.trailing_zeros() as usize;
        m &= m - 1;
        Some(i)
    })
}

/// What a joined reader that did not take a write did with it.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Got {
    /// Its loopback refused it.
    Refused,
    /// It was not offered the write: a piece of the SysEx it skips.
    Skipped,
}

/// The table (under the cable's lock).
pub(crate) struct Readers<P: Platform> {
    slots: [Option<Reader<P>>; MAX_READERS],
    /// The joined readers (attached ones only): the one record of joining, so that the write
    /// path visits them and no other slot.
    joined: Mask,
    /// The loopback counters of the readers that detached.
    retired: LoopbackStats,
}

// SAFETY: the table holds addresses of `Loopback<P>`s, used as `&Loopback<P>` from whichever
// thread holds the cable's lock; a `Loopback` is `Sync` (its state is behind its own lock).
unsafe impl<P: Platform> Send for Readers<P> {}

impl<P: Platform> Readers<P> {
    pub(crate) const fn new() -> Self {
        Self {
            slots: [const { None }; MAX_READERS],
            joined: 0,
            retired: LoopbackStats::ZERO,
        }
    }

    /// Attaches `lb` in the first free slot (not joined); `None` if the table is full.
    ///
    /// # Safety
    /// `lb` stays valid until [`Readers::detach`] of the returned id has returned.
    pub(crate) unsafe fn attach(&mut self, lb: &Loopback<P>) -> Option<ReaderId> {
        let (i, slot) = self
            .slots
            .iter_mut()
            .enumerate()
            .find(|(_, s)| s.is_none())?;
        *slot = Some(Reader {
            lb: NonNull::from(lb),
            sysex: Sysex::Taking,
            stats: ReaderStats::default(),
        });
        Some(ReaderId(i as u8))
    }

    fn get(&mut self, id: ReaderId) -> Option<&mut Reader<P>> {
        self.slots.get_mut(id.index())?.as_mut()
    }

    /// Leaves, and forgets the loopback (its counters are kept).
    pub(crate) fn detach(&mut self, id: ReaderId) {
        self.leave(id);
        if let Some(slot) = self.slots.get_mut(id.index())
            && let Some(r) = slot.take()
        {
            self.retired = self.retired.plus(&r.lb().stats());
        }
    }

    /// Joins: from now on the reader gets writes; `in_sysex` if a SysEx in pieces is in
    /// progress (the reader skips its rest). Its loopback listens.
    pub(crate) fn join(&mut self, id: ReaderId, in_sysex: bool) {
        if let Some(r) = self.get(id) {
            r.sysex = if in_sysex {
                Sysex::Skipping { counted: false }
            } else {
                Sysex::Taking
            };
            r.lb().set_listening(true);
            self.joined |= 1 << id.index();
        }
    }

    /// Leaves: no more writes; its loopback stops listening.
    pub(crate) fn leave(&mut self, id: ReaderId) {
        if let Some(r) = self.get(id) {
            r.sysex = Sysex::Taking;
            r.lb().set_listening(false);
            self.joined &= !(1 << id.index());
        }
    }

    /// Readers attached / joined.
    pub(crate) fn counts(&self) -> (u32, u32) {
        let attached = self.slots.iter().flatten().count() as u32;
        (attached, self.joined.count_ones())
    }

    /// Whether any reader is joined.
    pub(crate) fn any_joined(&self) -> bool {
        self.joined != 0
    }

    /// The counters of reader `id`, if attached.
    pub(crate) fn stats(&self, id: ReaderId) -> Option<ReaderStats> {
        Some(self.slots.get(id.index())?.as_ref()?.stats)
    }

    /// The loopback counters of every reader the cable had, summed (see
    /// [`LoopbackStats::plus`]).
    pub(crate) fn loopback_stats(&self) -> LoopbackStats {
        self.slots
            .iter()
            .flatten()
            .fold(self.retired, |acc, r| acc.plus(&r.lb().stats()))
    }

    /// Calls `f` with each attached reader's loopback.
    pub(crate) fn for_each(&self, mut f: impl FnMut(ReaderId, &Loopback<P>)) {
        for (i, r) in self.slots.iter().enumerate() {
            if let Some(r) = r {
                f(ReaderId(i as u8), r.lb());
            }
        }
    }

    /// The SysEx in pieces ended without its last piece (cut, or its writer stopped): every
    /// reader is out of it. What a reader got of it is the truncated SysEx its writer sent.
    pub(crate) fn end_sysex(&mut self) {
        for r in self.slots.iter_mut().flatten() {
            r.sysex = Sysex::Taking;
        }
    }

    /// Writes `m` (of kind `kind`, written at `time`) into every joined
    /// reader's loopback, one copy each: `Accepted` if at least one reader took it (each
    /// reader that refused counts a drop) or if every joined reader skips the SysEx it
    /// belongs to; otherwise nothing was kept anywhere, and the answer is `Full` if a reader
    /// was full (waiting helps), else `NoMemory`, else `TooLarge`. The caller made sure a
    /// reader is joined, that `m` is not empty, and that a `Continuation` is a piece of the
    /// SysEx in progress.
    ///
    /// The caller holds the cable's lock (`at`), so each loopback's lock is taken without
    /// touching IRQL.
    pub(crate) fn deliver(
        &mut self,
        m: &Measured<'_>,
        time: i64,
        kind: Kind,
        at: AtDispatch<'_>,
    ) -> WriteOutcome {
        let piece = matches!(kind, Kind::Continuation { .. });
        let n = m.len() as u64;
        let messages = completes(kind);
        // What the loop learns, in one word (so that it stays in a register across the
        // loopback writes): the readers that refused and those that skip the write (counted
        // once the answer is known), whether one took it (counted at once: one taker makes
        // the answer `Accepted`), and which refusals were seen.
        let mut seen = Seen(0);
        for i in slots_of(self.joined) {
            let Some(Some(r)) = self.slots.get_mut(i) else {
                continue;
            };
            if piece && matches!(r.sysex, Sysex::Skipping { .. }) {
                seen.0 |= (1 << i) << Seen::SKIPPED;
                continue;
            }
            match r.lb().write_measured_at_dispatch(*m, time, at) {
                WriteOutcome::Accepted => {
                    seen.0 |= Seen::TOOK;
                    took(r, n, messages);
                }
                o => {
                    seen.0 |= 1 << i;
                    if o == WriteOutcome::Full {
                        seen.0 |= Seen::FULL;
                    } else if o == WriteOutcome::NoMemory {
                        seen.0 |= Seen::NO_MEMORY;
                    }
                }
            }
        }
        let (refused, skipped) = (seen.refused(), seen.skipped());
        if seen.0 & Seen::TOOK == 0 && refused != 0 {
            return if seen.0 & Seen::FULL != 0 {
                WriteOutcome::Full
            } else if seen.0 & Seen::NO_MEMORY != 0 {
                WriteOutcome::NoMemory
            } else {
                WriteOutcome::TooLarge
            };
        }
        for i in slots_of(refused | skipped) {
            if let Some(Some(r)) = self.slots.get_mut(i) {
                let got = if refused & (1 << i) != 0 {
                    Got::Refused
                } else {
                    Got::Skipped
                };
                account(r, got, n, kind);
            }
        }
        WriteOutcome::Accepted
    }
}

/// What [`Readers::deliver`]'s loop learned: bits 0..8 the readers that refused, 8..16 those
/// that skipped, then the flags.
#[derive(Clone, Copy)]
struct Seen(u32);

impl Seen {
    const SKIPPED: u32 = 8;
    const TOOK: u32 = 1 << 16;
    const FULL: u32 = 1 << 17;
    const NO_MEMORY: u32 = 1 << 18;

    fn refused(self) -> Mask {
        self.0 as Mask
    }

    fn skipped(self) -> Mask {
        (self.0 >> Self::SKIPPED) as Mask
    }
}

/// The messages a write of kind `kind` completes for a reader that takes it: 1 for a
/// message, or the last piece of a SysEx (the same for every reader).
const fn completes(kind: Kind) -> u64 {
    match kind {
        Kind::Realtime | Kind::Message | Kind::Continuation { end: true } => 1,
        Kind::SysexStart | Kind::Continuation { end: false } => 0,
    }
}

/// Counts a write of `n` bytes, completing `messages`, that a joined reader's loopback took
/// (its SysEx state stays [`Sysex::Taking`]: a skipping reader is offered no piece).
fn took<P: Platform>(r: &mut Reader<P>, n: u64, messages: u64) {
    r.stats.bytes_delivered += n;
    r.stats.messages_delivered += messages;
}

/// Counts a taken write of `n` bytes for one joined reader that did not take it: `got` says
/// whether it refused or skipped it.
fn account<P: Platform>(r: &mut Reader<P>, got: Got, n: u64, kind: Kind) {
    let s = &mut r.stats;
    match got {
        Got::Refused => {
            s.bytes_dropped += n;
            match kind {
                Kind::Realtime | Kind::Message => s.messages_dropped += 1,
                Kind::SysexStart => {
                    s.messages_dropped += 1;
                    r.sysex = Sysex::Skipping { counted: true };
                }
                Kind::Continuation { end } => {
                    s.sysex_truncated += 1;
                    r.sysex = if end {
                        Sysex::Taking
                    } else {
                        Sysex::Skipping { counted: true }
                    };
                }
            }
        }
        Got::Skipped => {
            if r.sysex == (Sysex::Skipping { counted: true }) {
                s.bytes_dropped += n;
            }
            if kind == (Kind::Continuation { end: true }) {
                r.sysex = Sysex::Taking;
            }
        }
    }
}
