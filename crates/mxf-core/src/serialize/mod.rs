//! The render side's first step: event chains → MIDI bytes.
//!
//! [`Serializer`] writes the payload of each event in chain order to a [`ByteSink`]. SysEx
//! fragments (`DMUS_KEF_EVENT_INCOMPLETE`) come out concatenated in order, which reassembles
//! the SysEx on the wire without buffering it; a realtime event between two fragments is
//! written between them (valid MIDI, and the position the capture side gave it). Packages are
//! walked iteratively ([`ChainCursor`]), null package pointers tolerated. Malformed events
//! (a buffer event with a null buffer or a size above the allocator's buffer size, an empty
//! event) are counted and skipped. Every call does a bounded amount of work.

mod cursor;

pub use cursor::{ChainCursor, MAX_PACKAGE_DEPTH, Step, WalkStats};

use crate::capture::Chain;
use crate::midi::is_realtime;
use mxf_abi::DmusKernelEvent;

/// Where serialised bytes go (a wire, a FIFO, a test vector).
pub trait ByteSink {
    /// Takes `bytes`, in order after everything written before.
    fn write(&mut self, bytes: &[u8]);
}

/// Counters of a [`Serializer`].
#[derive(Clone, Copy, Default, PartialEq, Eq, Debug)]
pub struct SerializeStats {
    /// Non-package events written.
    pub events: u64,
    /// Bytes written.
    pub bytes_out: u64,
    /// Package bookkeeping of the walks.
    pub walk: WalkStats,
    /// Events with `cb_event == 0` (skipped).
    pub empty_events: u64,
    /// Buffer events (`cb_event > 8`) with a null `pb_data` (skipped).
    pub null_buffers: u64,
    /// Buffer events larger than the allocator's buffer size (skipped).
    pub oversize_events: u64,
    /// SysEx messages begun (an event starting with `F0`).
    pub sysex_started: u64,
    /// SysEx messages ended by a complete (not `INCOMPLETE`) fragment ending in `F7`.
    pub sysex_complete: u64,
    /// SysEx messages that ended otherwise (cut by another message or a bad last fragment).
    pub sysex_truncated: u64,
    /// Events that carried SysEx bytes.
    pub sysex_fragments: u64,
    /// Calls that stopped because their budget ran out before the chain's end.
    pub budget_exhausted: u64,
}

/// Whether a bounded call walked its chain to the end.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Progress {
    /// The walk is over.
    Done,
    /// The budget ran out: call again with the same cursor to go on.
    More,
}

/// Serialises event chains into MIDI bytes. Keeps track of a SysEx spanning several events
/// (and several chains) for its counters.
#[derive(Clone, Debug)]
pub struct Serializer {
    max_event: usize,
    in_sysex: bool,
    stats: SerializeStats,
}

impl Serializer {
    /// A serializer; `buffer_size` is the allocator's `GetBufferSize()` when known, bounding
    /// the size a buffer event may claim.
    pub const fn new(buffer_size: Option<u16>) -> Self {
        Self {
            max_event: match buffer_size {
                Some(n) => n as usize,
                None => u16::MAX as usize,
            },
            in_sysex: false,
            stats: SerializeStats {
                events: 0,
                bytes_out: 0,
                walk: WalkStats {
                    packages: 0,
                    null_packages: 0,
                    packages_too_deep: 0,
                },
                empty_events: 0,
                null_buffers: 0,
                oversize_events: 0,
                sysex_started: 0,
                sysex_complete: 0,
                sysex_truncated: 0,
                sysex_fragments: 0,
                budget_exhausted: 0,
            },
        }
    }

    /// The counters.
    pub const fn stats(&self) -> &SerializeStats {
        &self.stats
    }

    /// Whether the last event written left a SysEx open.
    pub const fn in_sysex(&self) -> bool {
        self.in_sysex
    }

    /// Writes the events under `cursor` to `sink`, visiting at most `budget` events (packages
    /// included), so a huge or cyclic chain cannot hold the caller.
    pub fn write_chain<S: ByteSink + ?Sized>(
        &mut self,
        cursor: &mut ChainCursor,
        budget: usize,
        sink: &mut S,
    ) -> Progress {
        for _ in 0..budget {
            match cursor.step(&mut self.stats.walk) {
                Step::End => return Progress::Done,
                Step::Package => {}
                Step::Event(ev) => {
                    // SAFETY: the cursor's contract (promised at its creation) keeps `ev` and
                    // its buffer readable for `cb_event` bytes.
                    unsafe { self.write_event(ev, sink) }
                }
            }
        }
        if cursor.is_done() {
            Progress::Done
        } else {
            self.stats.budget_exhausted += 1;
            Progress::More
        }
    }

    /// Writes a whole chain we own (e.g. one from the capture packager).
    pub fn write_owned<S: ByteSink + ?Sized>(&mut self, chain: &Chain, sink: &mut S) {
        for (ev, data) in chain.iter() {
            self.write_payload(ev, data, sink);
        }
    }

    /// Writes one non-package event.
    ///
    /// # Safety
    /// If `ev.cb_event > SHORT_EVENT_MAX` and `ev.u_data.pb_data` is not null, it is readable
    /// for `cb_event` bytes.
    pub unsafe fn write_event<S: ByteSink + ?Sized>(&mut self, ev: &DmusKernelEvent, sink: &mut S) {
        if ev.is_package() {
            return;
        }
        let len = usize::from(ev.cb_event);
        if let Some(data) = ev.short_data() {
            self.write_payload(ev, data, sink);
            return;
        }
        // SAFETY: reading a pointer-sized field of the union is sound for any bit pattern.
        let p = unsafe { ev.u_data.pb_data };
        if p.is_null() {
            self.stats.null_buffers += 1;
        } else if len > self.max_event {
            self.stats.oversize_events += 1;
        } else {
            // SAFETY: non-null buffer of a buffer event, readable for `len` bytes (caller).
            let data = unsafe { core::slice::from_raw_parts(p, len) };
            self.write_payload(ev, data, sink);
        }
    }

    fn write_payload<S: ByteSink + ?Sized>(
        &mut self,
        ev: &DmusKernelEvent,
        data: &[u8],
        sink: &mut S,
    ) {
        let Some((&first, _)) = data.split_first() else {
            self.stats.empty_events += 1;
            return;
        };
        let realtime = data.len() == 1 && is_realtime(first);
        if first == 0xF0 {
            if self.in_sysex {
                self.stats.sysex_truncated += 1;
            }
            self.in_sysex = true;
            self.stats.sysex_started += 1;
        } else if self.in_sysex && !realtime && first >= 0x80 && first != 0xF7 {
            self.stats.sysex_truncated += 1;
            self.in_sysex = false;
        }
        if self.in_sysex && !realtime {
            self.stats.sysex_fragments += 1;
            // A SysEx ends with the fragment holding its `F7`, whatever its flags (capture
            // flags every fragment of a spread SysEx `INCOMPLETE`), or with a `COMPLETE`
            // fragment without one (cut).
            if data.last() == Some(&0xF7) {
                self.stats.sysex_complete += 1;
                self.in_sysex = false;
            } else if !ev.is_incomplete() {
                self.stats.sysex_truncated += 1;
                self.in_sysex = false;
            }
        }
        sink.write(data);
        self.stats.events += 1;
        self.stats.bytes_out += data.len() as u64;
    }
}
