//! [`Player`]: one stream's events → normalised MIDI messages → target writes, resumable at
//! any message boundary when the target has no room.
//!
//! Each leaf event's payload goes through [`Parser`], so the target receives one write per
//! complete message (running status expanded, realtime on its own) and SysEx in pieces: the
//! first piece carries the `F0`, the last the `F7` (merged with the data before it when both
//! are in the same payload). Before each message the parser and the SysEx state are saved;
//! if the target says `Full` (or a retryable allocation failure), they are restored and the
//! position — leaf index within the top-level event, byte offset within that leaf's payload —
//! is kept, so the next run re-parses exactly the bytes not yet written: nothing is lost,
//! duplicated or re-counted.
//!
//! A write the target gives up on is counted by cause, in whole messages: a non-SysEx message
//! or a SysEx of which nothing got out counts in [`DropCount::messages`]; a SysEx of which
//! pieces got out counts in [`DropCount::sysex_truncated`] and the rest of it is skipped (so
//! the capture side sees a SysEx cut by the next status byte, never one with a hole).

use crate::midi::{Event, Parser, ParserStats};
use crate::serialize::{ChainCursor, Step, WalkStats};
use mxf_abi::DmusKernelEvent;

/// Why messages were given up.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum DropCause {
    /// Nobody listens (no capture stream in `RUN`).
    NoListener,
    /// The loopback's allocator failed with the loopback empty, after the retries.
    NoMemory,
    /// The write was larger than the target could ever hold (given up without retries).
    TooLarge,
    /// The stream was stopped (or destroyed) with the message still queued.
    Stop,
    /// The cable's feedback guard muted the cable.
    Muted,
}

/// Messages given up for one cause.
#[derive(Clone, Copy, Default, PartialEq, Eq, Debug)]
pub struct DropCount {
    /// Messages lost whole (a SysEx none of which got out included).
    pub messages: u64,
    /// SysEx messages cut after some of their pieces got out: the capture side sees them
    /// truncated.
    pub sysex_truncated: u64,
    /// Normalised bytes given up (running status expanded).
    pub bytes: u64,
}

impl DropCount {
    /// The sum of two counts.
    pub const fn plus(self, o: Self) -> Self {
        Self {
            messages: self.messages + o.messages,
            sysex_truncated: self.sysex_truncated + o.sysex_truncated,
            bytes: self.bytes + o.bytes,
        }
    }
}

/// Why a run stopped before the end of its batch.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Halt {
    /// The target is full: wait for a kick.
    Blocked,
    /// Allocation failed: retry after a delay.
    Retry,
}

/// What the player does with one write.
pub(crate) enum Outcome {
    Accepted,
    Full,
    NoMemory,
    Drop(DropCause),
}

/// Where the player's writes go.
pub(crate) trait Out {
    fn write(&mut self, parts: &[&[u8]]) -> Outcome;
}

/// An [`Out`] that gives everything up (the `STOP` flush).
pub(crate) struct Discard(pub(crate) DropCause);

impl Out for Discard {
    fn write(&mut self, _parts: &[&[u8]]) -> Outcome {
        Outcome::Drop(self.0)
    }
}

/// Counters of the player (part of `RenderStats`).
#[derive(Clone, Copy, Default, PartialEq, Eq, Debug)]
pub(crate) struct PlayStats {
    pub(crate) messages_written: u64,
    pub(crate) sysex_written: u64,
    pub(crate) sysex_cut_written: u64,
    pub(crate) bytes_written: u64,
    pub(crate) dropped_no_listener: DropCount,
    pub(crate) dropped_no_memory: DropCount,
    pub(crate) dropped_too_large: DropCount,
    pub(crate) dropped_stop: DropCount,
    pub(crate) dropped_muted: DropCount,
    pub(crate) no_memory_retries: u64,
    pub(crate) empty_events: u64,
    pub(crate) null_buffers: u64,
    pub(crate) oversize_events: u64,
    pub(crate) walk: WalkStats,
    pub(crate) walks_cut: u64,
}

#[derive(Clone, Copy, Default, Debug)]
struct SysexState {
    /// Its `F0` is not written yet (it goes with the first piece).
    pending_f0: bool,
    /// A piece of it got out.
    written: bool,
    /// Given up for this cause: the rest is skipped.
    skip: Option<DropCause>,
}

/// Where to go on in the first top-level event of the next run.
#[derive(Clone, Copy, Default, Debug)]
struct Resume {
    leaf: u32,
    offset: u32,
}

/// See the module docs.
pub(crate) struct Player {
    parser: Parser,
    sx: SysexState,
    resume: Option<Resume>,
    /// Largest buffer event accepted (the allocator's buffer size).
    max_event: usize,
    retries: u32,
    max_retries: u32,
    pub(crate) stats: PlayStats,
}

impl Player {
    pub(crate) const fn new(max_event: usize, max_retries: u32) -> Self {
        Self {
            parser: Parser::new(),
            sx: SysexState {
                pending_f0: false,
                written: false,
                skip: None,
            },
            resume: None,
            max_event,
            retries: 0,
            max_retries,
            stats: PlayStats {
                messages_written: 0,
                sysex_written: 0,
                sysex_cut_written: 0,
                bytes_written: 0,
                dropped_no_listener: DropCount {
                    messages: 0,
                    sysex_truncated: 0,
                    bytes: 0,
                },
                dropped_no_memory: DropCount {
                    messages: 0,
                    sysex_truncated: 0,
                    bytes: 0,
                },
                dropped_too_large: DropCount {
                    messages: 0,
                    sysex_truncated: 0,
                    bytes: 0,
                },
                dropped_stop: DropCount {
                    messages: 0,
                    sysex_truncated: 0,
                    bytes: 0,
                },
                dropped_muted: DropCount {
                    messages: 0,
                    sysex_truncated: 0,
                    bytes: 0,
                },
                no_memory_retries: 0,
                empty_events: 0,
                null_buffers: 0,
                oversize_events: 0,
                walk: WalkStats {
                    packages: 0,
                    null_packages: 0,
                    packages_too_deep: 0,
                },
                walks_cut: 0,
            },
        }
    }

    /// The render side's parser counters (the application's malformed input).
    pub(crate) fn parser_stats(&self) -> &ParserStats {
        self.parser.stats()
    }

    /// Whether a SysEx is in progress of which pieces got out and none was given up.
    pub(crate) fn sysex_open(&self) -> bool {
        self.parser.in_sysex() && self.sx.written && self.sx.skip.is_none()
    }

    fn count(&mut self, c: DropCause) -> &mut DropCount {
        match c {
            DropCause::NoListener => &mut self.stats.dropped_no_listener,
            DropCause::NoMemory => &mut self.stats.dropped_no_memory,
            DropCause::TooLarge => &mut self.stats.dropped_too_large,
            DropCause::Stop => &mut self.stats.dropped_stop,
            DropCause::Muted => &mut self.stats.dropped_muted,
        }
    }

    /// Plays one top-level event (its package sub-chain walked, at most `max_walk` steps),
    /// from where the last halted run left it.
    ///
    /// # Safety
    /// `ev` is a top-level event owned by the caller, its `p_next_evt` null, and everything
    /// reachable from it valid and unmodified for the call (the `ChainCursor` contract).
    pub(crate) unsafe fn play_event<O: Out + ?Sized>(
        &mut self,
        ev: *const DmusKernelEvent,
        out: &mut O,
        max_walk: u32,
    ) -> Result<(), Halt> {
        let resumed = self.resume.take();
        let from = resumed.unwrap_or_default();
        // SAFETY: per the caller.
        let mut cursor = unsafe { ChainCursor::new(ev) };
        let mut scratch = WalkStats::default();
        let mut leaf: u32 = 0;
        for _ in 0..max_walk {
            let replay = leaf < from.leaf;
            let walk = if replay {
                &mut scratch
            } else {
                &mut self.stats.walk
            };
            let e = match cursor.step(walk) {
                Step::End => return Ok(()),
                Step::Package => continue,
                Step::Event(e) => e,
            };
            if replay {
                leaf += 1;
                continue;
            }
            let again = resumed.is_some() && leaf == from.leaf;
            let offset = if again { from.offset as usize } else { 0 };
            // SAFETY: a leaf of the walk: its buffer is readable for `cb_event` bytes when
            // not above the allocator's buffer size (allocator contract, via the caller).
            if let Some(bytes) = unsafe { self.payload(e, !again) } {
                let bytes = bytes.get(offset..).unwrap_or(&[]);
                if let Err((at, halt)) = self.feed(bytes, out) {
                    self.resume = Some(Resume {
                        leaf,
                        offset: (offset + at) as u32,
                    });
                    return Err(halt);
                }
            }
            leaf += 1;
        }
        if !cursor.is_done() {
            self.stats.walks_cut += 1;
        }
        Ok(())
    }

    /// The payload of a leaf, or `None` (counted when `count`) if it is malformed.
    ///
    /// # Safety
    /// A buffer event's `pb_data`, when non-null and `cb_event <= max_event`, is readable for
    /// `cb_event` bytes.
    unsafe fn payload<'a>(&mut self, e: &'a DmusKernelEvent, count: bool) -> Option<&'a [u8]> {
        let len = usize::from(e.cb_event);
        let bad = if len == 0 {
            &mut self.stats.empty_events
        } else if let Some(d) = e.short_data() {
            return Some(d);
        } else {
            // SAFETY: reading a pointer-sized field of the union is sound for any bit pattern.
            let p = unsafe { e.u_data.pb_data };
            if p.is_null() {
                &mut self.stats.null_buffers
            } else if len > self.max_event {
                &mut self.stats.oversize_events
            } else {
                // SAFETY: per the caller.
                return Some(unsafe { core::slice::from_raw_parts(p, len) });
            }
        };
        if count {
            *bad += 1;
        }
        None
    }

    /// Parses `bytes` and writes what completes; on a halt, the parser is as before the
    /// message that could not be written, which starts at the returned offset.
    fn feed<O: Out + ?Sized>(&mut self, bytes: &[u8], out: &mut O) -> Result<(), (usize, Halt)> {
        let mut input = bytes;
        loop {
            let saved = (self.parser.clone(), self.sx);
            let at = bytes.len() - input.len();
            let Some(ev) = self.parser.next(&mut input) else {
                return Ok(());
            };
            let r = match ev {
                Event::Message(m) => self.emit_message(m.as_bytes(), out),
                Event::SysExStart => {
                    self.sx = SysexState {
                        pending_f0: true,
                        written: false,
                        skip: None,
                    };
                    Ok(())
                }
                Event::SysExData(d) => {
                    let end = input.first() == Some(&0xF7);
                    if end {
                        // The `F7` goes with the data (the parser reports `SysExEnd`).
                        let _ = self.parser.next(&mut input);
                    }
                    self.emit_sysex(d, end, out)
                }
                Event::SysExEnd => self.emit_sysex(&[], true, out),
                Event::SysExCut => self.emit_cut(out),
            };
            if let Err(h) = r {
                self.parser = saved.0;
                self.sx = saved.1;
                return Err((at, h));
            }
        }
    }

    /// Handles an allocation failure: a retry, or (retries used up) a drop.
    fn no_memory(&mut self) -> Result<(), Halt> {
        if self.retries < self.max_retries {
            self.retries += 1;
            self.stats.no_memory_retries += 1;
            Err(Halt::Retry)
        } else {
            self.retries = 0;
            Ok(())
        }
    }

    /// Writes `pieces` as one message: `Ok(Ok(()))` written, `Ok(Err(cause))` dropped for
    /// `cause` (after the no-memory retries), `Err` the run halts (the loopback is full, or a
    /// no-memory retry is due).
    fn write<O: Out + ?Sized>(
        &mut self,
        pieces: &[&[u8]],
        out: &mut O,
    ) -> Result<Result<(), DropCause>, Halt> {
        match out.write(pieces) {
            Outcome::Accepted => {
                self.retries = 0;
                Ok(Ok(()))
            }
            Outcome::Full => Err(Halt::Blocked),
            Outcome::NoMemory => {
                self.no_memory()?;
                Ok(Err(DropCause::NoMemory))
            }
            Outcome::Drop(c) => Ok(Err(c)),
        }
    }

    fn emit_message<O: Out + ?Sized>(&mut self, bytes: &[u8], out: &mut O) -> Result<(), Halt> {
        self.emit_counted(bytes, out).map(|_| ())
    }

    /// As [`Self::emit_message`]; returns whether the message was written (else it was
    /// counted as dropped).
    fn emit_counted<O: Out + ?Sized>(&mut self, bytes: &[u8], out: &mut O) -> Result<bool, Halt> {
        let n = bytes.len() as u64;
        match self.write(&[bytes], out)? {
            Ok(()) => {
                self.stats.messages_written += 1;
                self.stats.bytes_written += n;
                Ok(true)
            }
            Err(cause) => {
                let c = self.count(cause);
                c.messages += 1;
                c.bytes += n;
                Ok(false)
            }
        }
    }

    /// A SysEx piece: `data`, after the pending `F0`, with the `F7` if `end`.
    fn emit_sysex<O: Out + ?Sized>(
        &mut self,
        data: &[u8],
        end: bool,
        out: &mut O,
    ) -> Result<(), Halt> {
        let f0: &[u8] = if self.sx.pending_f0 { &[0xF0] } else { &[] };
        let f7: &[u8] = if end { &[0xF7] } else { &[] };
        let n = (f0.len() + data.len() + f7.len()) as u64;
        if let Some(c) = self.sx.skip {
            self.count(c).bytes += n;
            if end {
                self.sx = SysexState::default();
            }
            return Ok(());
        }
        let Err(cause) = self.write(&[f0, data, f7], out)? else {
            self.stats.bytes_written += n;
            self.sx.pending_f0 = false;
            self.sx.written = true;
            if end {
                self.stats.messages_written += 1;
                self.stats.sysex_written += 1;
                self.sx = SysexState::default();
            }
            return Ok(());
        };
        let written = self.sx.written;
        let c = self.count(cause);
        if written {
            c.sysex_truncated += 1;
        } else {
            c.messages += 1;
        }
        c.bytes += n;
        self.sx = if end {
            SysexState::default()
        } else {
            SysexState {
                pending_f0: false,
                written,
                skip: Some(cause),
            }
        };
        Ok(())
    }

    /// The application's SysEx was cut by a status byte: what got out of it is the truncated
    /// SysEx it sent; a lone pending `F0` goes out as such.
    fn emit_cut<O: Out + ?Sized>(&mut self, out: &mut O) -> Result<(), Halt> {
        let sx = core::mem::take(&mut self.sx);
        if sx.skip.is_some() {
            return Ok(());
        }
        if !sx.pending_f0 {
            self.stats.messages_written += 1;
            self.stats.sysex_cut_written += 1;
            return Ok(());
        }
        if self.emit_counted(&[0xF0], out)? {
            self.stats.sysex_cut_written += 1;
        }
        Ok(())
    }

    /// The stream ends (`STOP`, destruction), after the queued events were given up: a
    /// message in progress is the application's to have finished (the parser counts it); a
    /// SysEx whose pieces all got out is delivered as the application left it; one whose
    /// pending `F0` never got out is a message given up.
    pub(crate) fn end_stream(&mut self) {
        let sx = core::mem::take(&mut self.sx);
        if self.parser.finish() && sx.skip.is_none() {
            if sx.pending_f0 {
                let c = self.count(DropCause::Stop);
                c.messages += 1;
                c.bytes += 1;
            } else if sx.written {
                self.stats.messages_written += 1;
                self.stats.sysex_cut_written += 1;
            }
        }
        self.resume = None;
        self.retries = 0;
    }
}
