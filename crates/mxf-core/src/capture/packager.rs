//! [`CapturePackager`]: raw capture bytes → `DMUS_KERNEL_EVENT` chains of complete messages.

use super::CaptureMode;
use super::chain::{Chain, Mark};
use super::stats::CaptureStats;
use crate::com::ComPtr;
use crate::midi::{Event, Message, MessageKind, Parser, is_realtime};
use core::ptr::NonNull;
use mxf_abi::{
    DMUS_KEF_EVENT_COMPLETE, DMUS_KEF_EVENT_INCOMPLETE, DmusEventData, DmusKernelEvent,
    EventFields, IAllocatorMxf, K_BYTE_POSITION_NONE, ReferenceTime, SHORT_EVENT_MAX,
};

/// Channel group of every captured event (one capture pin, one group).
pub const CAPTURE_CHANNEL_GROUP: u16 = 1;

/// Turns bursts of raw MIDI bytes into chains of complete-message events, allocating only
/// through an `IAllocatorMXF` (PortCls's or ours). Callable at `DISPATCH_LEVEL`; no allocation
/// of its own.
///
/// What a chain holds (see the module docs for the reasons):
/// - One event per non-SysEx message, inline, running status expanded, flags `COMPLETE`.
///   Realtime bytes are their own events at the point they arrive.
/// - SysEx in fragments: a fragment is emitted as soon as it holds `cap` bytes (`cap` =
///   `GetBufferSize()` if above 8, else 8); the rest goes out when the SysEx ends. A SysEx
///   that fits in one event is `COMPLETE`; every fragment of one spread over several events
///   is `INCOMPLETE` (the last one too: the sink parses them as raw bytes, `F0` … `F7`).
///   A fragment of at most 8 bytes is inline (`ab_data`), a longer one in a `GetBuffer`
///   buffer, so `cb_event > 8` always means a buffer.
/// - Every event: `us_channel_group` 1, `ull_byte_position` = `K_BYTE_POSITION_NONE`, and the
///   timestamp of the burst in which it was emitted (negative times clamp to 0).
pub struct CapturePackager {
    alloc: ComPtr<IAllocatorMxf>,
    /// `cap` above: bytes per SysEx fragment.
    cap: usize,
    /// Whether SysEx fragments may use buffers (`GetBufferSize() > 8`).
    use_buffers: bool,
    parser: Parser,
    /// SysEx bytes held inline until they outgrow `SHORT_EVENT_MAX`.
    staging: [u8; SHORT_EVENT_MAX],
    staged: usize,
    /// SysEx bytes held in a buffer from `alloc` (`Some` only with more than 8 bytes held),
    /// with the event it will go out in.
    buf: Option<Held>,
    /// How events are flagged.
    mode: CaptureMode,
    fill: usize,
    /// Bytes of the current SysEx in chains already returned to the caller.
    sysex_returned: u64,
    stats: CaptureStats,
}

// SAFETY: the held buffer is owned exclusively by the packager (like a `Box<[u8]>`); the rest
// is plain data and a `Send` COM pointer.
unsafe impl Send for CapturePackager {}

/// A buffer from `GetBuffer` and the event from `GetMessage` reserved for it, taken together:
/// the buffer always goes back inside its event, through `PutMessage` (miniports do not call
/// `PutBuffer`).
#[derive(Clone, Copy)]
struct Held {
    buf: NonNull<u8>,
    ev: NonNull<DmusKernelEvent>,
}

/// The chain being built by one call, and where the current SysEx's fragments start in it.
struct BurstChain {
    chain: Chain,
    time: u64,
    /// `Some(mark)` once a fragment of the current SysEx is in `chain`: its fragments are the
    /// non-realtime events after `mark`.
    sysex_mark: Option<Mark>,
    sysex_in_chain: u64,
}

/// Whether a SysEx operation could not get memory.
struct NoMemory;

impl CapturePackager {
    /// A packager drawing from `alloc` (one reference is kept) in [`CaptureMode::Whole`];
    /// reads `GetBufferSize` once.
    pub fn new(alloc: &ComPtr<IAllocatorMxf>) -> Self {
        Self::with_mode(alloc, CaptureMode::Whole)
    }

    /// A packager drawing from `alloc` (one reference is kept) that flags events as `mode`
    /// says; reads `GetBufferSize` once.
    pub fn with_mode(alloc: &ComPtr<IAllocatorMxf>, mode: CaptureMode) -> Self {
        let size = usize::from(alloc.buffer_size());
        Self {
            alloc: alloc.clone(),
            cap: size.max(SHORT_EVENT_MAX),
            use_buffers: size > SHORT_EVENT_MAX,
            parser: Parser::new(),
            staging: [0; SHORT_EVENT_MAX],
            staged: 0,
            buf: None,
            mode,
            fill: 0,
            sysex_returned: 0,
            stats: CaptureStats::default(),
        }
    }

    /// The flags of an event holding one whole message: `COMPLETE`, or `INCOMPLETE` (raw
    /// bytes) in [`CaptureMode::Raw`].
    fn whole_message_flags(&self) -> u16 {
        match self.mode {
            CaptureMode::Whole => DMUS_KEF_EVENT_COMPLETE,
            CaptureMode::Raw => DMUS_KEF_EVENT_INCOMPLETE,
        }
    }

    /// The counters, with `bytes_pending` filled in.
    pub fn stats(&self) -> CaptureStats {
        let mut s = self.stats;
        s.parser = *self.parser.stats();
        s.bytes_pending = self.parser.pending_message_bytes() + self.held() as u64;
        s
    }

    /// Packages one burst of raw bytes, all received at `time` (100 ns units). Returns the
    /// events completed by this burst — possibly none; bytes of unfinished messages are kept
    /// for the next burst.
    pub fn feed(&mut self, bytes: &[u8], time: ReferenceTime) -> Chain {
        let mut burst = BurstChain::new(time);
        let mut input = bytes;
        loop {
            // The SysEx hot path: with a buffer held (which always has room: fragments are
            // emitted as soon as they fill), data bytes go straight from the input into it.
            if let Some(Held { buf, .. }) = self.buf
                && let Some(room) = self.cap.checked_sub(self.fill)
            {
                // SAFETY: the buffer has `cap` bytes (`GetBufferSize`) and `fill <= cap`
                // (`room` exists), so the offset stays inside it.
                let free = unsafe { buf.as_ptr().add(self.fill) };
                // SAFETY: the `room` bytes from `free` are the buffer's unheld tail; we own
                // the buffer and nothing else refers to it while `dst` lives.
                let dst = unsafe { core::slice::from_raw_parts_mut(free, room) };
                let n = self.parser.copy_sysex_data(&mut input, dst);
                if n > 0 {
                    self.fill += n;
                    if self.fill == self.cap
                        && self
                            .emit_fragment(&mut burst, DMUS_KEF_EVENT_INCOMPLETE)
                            .is_err()
                    {
                        // As `sysex_bytes` does: the rest of this run of data is consumed
                        // and lost with the SysEx.
                        let lost = self.parser.take_sysex_data(&mut input).len();
                        self.drop_sysex(&mut burst, lost);
                    }
                    continue;
                }
            }
            match self.messages(&mut burst, &mut input) {
                Next::HotPath => {}
                Next::Other(ev) => self.handle(&mut burst, ev),
                Next::Done => break,
            }
        }
        self.finish_burst(burst)
    }

    /// Packages the complete short messages at the front of `input` (realtime runs included)
    /// into a [`ShortRun`], appended to the burst's chain once they stop; returns what stopped
    /// them. A burst of short messages — its worst case: one event per one to three bytes —
    /// so costs no write of the burst's chain or of the counters per event.
    fn messages<'a>(&mut self, burst: &mut BurstChain, input: &mut &'a [u8]) -> Next<'a> {
        let mut run = ShortRun::new();
        let next = loop {
            let realtime = self.parser.take_realtime_run(input);
            self.run_realtime(&mut run, burst.time, realtime);
            if !realtime.is_empty() && self.buf.is_some() {
                // Inside a SysEx with a buffer held: its data bytes go the hot path's way.
                break Next::HotPath;
            }
            match self.parser.next(input) {
                Some(Event::Message(m)) => self.run_message(&mut run, burst.time, m),
                Some(ev) => break Next::Other(ev),
                None => break Next::Done,
            }
        };
        self.end_run(burst, run);
        next
    }

    /// Adds a [`ShortRun`]'s counters to the statistics and its events to the burst's chain.
    fn end_run(&mut self, burst: &mut BurstChain, run: ShortRun) {
        self.stats.events_out += run.chain.len() as u64;
        self.stats.channel_messages += run.channel;
        self.stats.system_common_messages += run.common;
        self.stats.realtime_messages += run.realtime;
        self.stats.bytes_delivered += run.bytes;
        self.stats.messages_dropped_no_memory += run.dropped;
        self.stats.bytes_dropped_no_memory += run.dropped_bytes;
        // SAFETY: the run's events come from `self.alloc`, as every event of the burst's chain.
        unsafe { burst.chain.append_same(run.chain) };
    }

    /// A run of realtime bytes into a [`ShortRun`]: one event each (the worst case of a burst, as
    /// many events as bytes), counted once for the whole run.
    #[inline(always)]
    fn run_realtime(&mut self, run: &mut ShortRun, time: u64, bytes: &[u8]) {
        let before = run.chain.len();
        let flags = self.whole_message_flags();
        for &b in bytes {
            let Ok(ev) = self.alloc.get_message() else {
                continue;
            };
            // SAFETY: as in `run_message`.
            unsafe { fill(ev, short_event(time, Message::realtime(b), flags)) };
            // SAFETY: as in `run_message`.
            unsafe { run.chain.push(&self.alloc, ev) };
        }
        let made = (run.chain.len() - before) as u64;
        let dropped = (bytes.len() as u64).saturating_sub(made);
        run.realtime += made;
        run.bytes += made;
        run.dropped += dropped;
        run.dropped_bytes += dropped;
    }

    /// One complete short message of a [`ShortRun`]: an event from `self.alloc`, or counted as
    /// dropped when there is none.
    #[inline(always)]
    fn run_message(&mut self, run: &mut ShortRun, time: u64, m: Message) {
        let input_len = m.input_len() as u64;
        let Ok(ev) = self.alloc.get_message() else {
            run.dropped += 1;
            run.dropped_bytes += input_len;
            return;
        };
        let value = short_event(time, m, self.whole_message_flags());
        // SAFETY: `ev` is a fresh event from `self.alloc` that we own, a valid
        // `DmusKernelEvent`-sized, aligned allocation.
        unsafe { fill(ev, value) };
        // SAFETY: the event is ours and comes from `self.alloc`, as every event of the run's
        // chain; its payload is inline.
        unsafe { run.chain.push(&self.alloc, ev) };
        run.bytes += input_len;
        match m.kind() {
            MessageKind::Channel => run.channel += 1,
            MessageKind::SystemCommon => run.common += 1,
            MessageKind::Realtime => run.realtime += 1,
        }
    }

    /// Emits the SysEx bytes held so far (if any) as an `INCOMPLETE` fragment stamped `time`,
    /// so that a slow SysEx does not sit in the packager; the SysEx goes on.
    pub fn flush(&mut self, time: ReferenceTime) -> Chain {
        let mut burst = BurstChain::new(time);
        if self.parser.in_sysex()
            && self
                .emit_fragment(&mut burst, DMUS_KEF_EVENT_INCOMPLETE)
                .is_err()
        {
            self.drop_sysex(&mut burst, 0);
        }
        self.finish_burst(burst)
    }

    /// Ends the stream (e.g. the pin stops): a SysEx in progress is delivered as truncated (its
    /// held bytes in a last `INCOMPLETE` fragment), a message in progress is dropped (counted
    /// truncated), running status is forgotten.
    pub fn reset(&mut self, time: ReferenceTime) -> Chain {
        let mut burst = BurstChain::new(time);
        if self.parser.finish() {
            self.sysex_cut(&mut burst);
        }
        self.finish_burst(burst)
    }

    fn finish_burst(&mut self, burst: BurstChain) -> Chain {
        self.sysex_returned += burst.sysex_in_chain;
        burst.chain
    }

    fn held(&self) -> usize {
        self.staged + self.fill
    }

    fn handle(&mut self, burst: &mut BurstChain, ev: Event<'_>) {
        match ev {
            // `messages` takes every message before it gets here; one alone is a run of one.
            Event::Message(m) => {
                let mut run = ShortRun::new();
                self.run_message(&mut run, burst.time, m);
                self.end_run(burst, run);
            }
            Event::SysExStart => {
                // The parser always ends or cuts a SysEx before starting another, so nothing is
                // held here; release defensively rather than mix two messages.
                self.release_held();
                self.fill = 0;
                self.staging[0] = 0xF0;
                self.staged = 1;
                self.sysex_returned = 0;
                burst.sysex_mark = None;
                burst.sysex_in_chain = 0;
            }
            Event::SysExData(data) => {
                if let Err(lost) = self.sysex_bytes(burst, data) {
                    self.drop_sysex(burst, lost);
                }
            }
            Event::SysExEnd => {
                let flags = self.sysex_end_flags(burst);
                if self.hold_final(0xF7).is_err() {
                    // The F7 itself was consumed but could not be held.
                    self.drop_sysex(burst, 1);
                } else if self.emit_fragment(burst, flags).is_err() {
                    self.drop_sysex(burst, 0);
                } else {
                    self.stats.sysex_complete += 1;
                    self.end_sysex(burst);
                }
            }
            Event::SysExCut => self.sysex_cut(burst),
        }
    }

    /// The flags of a SysEx's last fragment: `COMPLETE` only if it is the whole SysEx (no
    /// fragment of it went out before, in this burst or an earlier one); a SysEx spread over
    /// several events is raw data for the sink's parser, every fragment `INCOMPLETE`.
    fn sysex_end_flags(&self, burst: &BurstChain) -> u16 {
        if self.sysex_returned + burst.sysex_in_chain == 0 {
            self.whole_message_flags()
        } else {
            DMUS_KEF_EVENT_INCOMPLETE
        }
    }

    fn sysex_cut(&mut self, burst: &mut BurstChain) {
        match self.emit_fragment(burst, DMUS_KEF_EVENT_INCOMPLETE) {
            Ok(()) => {
                self.stats.sysex_truncated += 1;
                self.end_sysex(burst);
            }
            Err(NoMemory) => self.drop_sysex(burst, 0),
        }
    }

    fn end_sysex(&mut self, burst: &mut BurstChain) {
        burst.sysex_mark = None;
        burst.sysex_in_chain = 0;
        self.sysex_returned = 0;
    }

    /// Writes an event over `ev` and appends it to the burst's chain.
    ///
    /// # Safety
    /// `ev` came from `self.alloc`'s `GetMessage` and is owned by the caller, who gives it up;
    /// if `len > SHORT_EVENT_MAX`, `data.pb_data` is a buffer from `self.alloc` holding `len`
    /// initialised bytes, which the caller also gives up.
    unsafe fn push(
        &mut self,
        burst: &mut BurstChain,
        ev: NonNull<DmusKernelEvent>,
        len: usize,
        flags: u16,
        data: DmusEventData,
    ) {
        let value = event(burst.time, len, flags, data);
        // SAFETY: we own the event, a valid `DmusKernelEvent`-sized, aligned allocation.
        unsafe { fill(ev, value) };
        // SAFETY: per this function's contract; every event of the chain comes from `self.alloc`.
        unsafe { burst.chain.push(&self.alloc, ev) };
        self.stats.events_out += 1;
    }

    /// Adds SysEx data bytes, emitting every fragment that fills up. On failure returns the
    /// number of bytes of `data` that were not held.
    fn sysex_bytes(&mut self, burst: &mut BurstChain, mut data: &[u8]) -> Result<(), usize> {
        while !data.is_empty() {
            if let Some(Held { buf, .. }) = self.buf {
                let n = data.len().min(self.cap - self.fill);
                let (now, rest) = data.split_at(n);
                // SAFETY: the buffer has `cap` bytes (`GetBufferSize`) and `fill < cap`
                // (else it would have been emitted), so the offset stays inside it.
                let free = unsafe { buf.as_ptr().add(self.fill) };
                // SAFETY: `fill + n <= cap`, so the `n` bytes from `free` are in the buffer;
                // we own it and nothing else refers to it; `now` is a distinct borrow.
                unsafe { core::ptr::copy_nonoverlapping(now.as_ptr(), free, n) };
                self.fill += n;
                data = rest;
                if self.fill == self.cap {
                    self.emit_fragment(burst, DMUS_KEF_EVENT_INCOMPLETE)
                        .map_err(|NoMemory| data.len())?;
                }
            } else if self.staged < SHORT_EVENT_MAX {
                let n = data.len().min(SHORT_EVENT_MAX - self.staged);
                let (now, rest) = data.split_at(n);
                if let Some(dst) = self.staging.get_mut(self.staged..self.staged + n) {
                    dst.copy_from_slice(now);
                }
                self.staged += n;
                data = rest;
                if !self.use_buffers && self.staged == self.cap {
                    self.emit_fragment(burst, DMUS_KEF_EVENT_INCOMPLETE)
                        .map_err(|NoMemory| data.len())?;
                }
            } else if self.use_buffers {
                self.staging_to_buffer().map_err(|NoMemory| data.len())?;
            } else {
                // Unreachable (inline fragments are emitted as the staging fills), but safe.
                self.emit_fragment(burst, DMUS_KEF_EVENT_INCOMPLETE)
                    .map_err(|NoMemory| data.len())?;
            }
        }
        Ok(())
    }

    /// Holds the closing `F7` without emitting anything, whatever the fill.
    fn hold_final(&mut self, b: u8) -> Result<(), NoMemory> {
        if self.buf.is_none() && self.staged < SHORT_EVENT_MAX {
            if let Some(slot) = self.staging.get_mut(self.staged) {
                *slot = b;
            }
            self.staged += 1;
            return Ok(());
        }
        if self.buf.is_none() {
            self.staging_to_buffer()?;
        }
        // Fragments are emitted as soon as they fill, so a held buffer has room for one more;
        // `staging_to_buffer` leaves at most 8 of at least 9.
        match self.buf {
            Some(Held { buf, .. }) if self.fill < self.cap => {
                // SAFETY: `fill < cap` = the buffer's size, so the offset stays inside it.
                let at = unsafe { buf.as_ptr().add(self.fill) };
                // SAFETY: a byte of the buffer, which we own and nothing else refers to.
                unsafe { at.write(b) };
                self.fill += 1;
                Ok(())
            }
            _ => Err(NoMemory),
        }
    }

    /// Moves the staged bytes into a fresh buffer, with the event it will go out in.
    fn staging_to_buffer(&mut self) -> Result<(), NoMemory> {
        let ev = self.alloc.get_message().map_err(|_| NoMemory)?;
        #[cfg(feature = "planted-faults")]
        if crate::planted::put_buffer()
            && let Ok(spare) = self.alloc.get_buffer()
        {
            // The fault: a buffer taken and given back through PutBuffer.
            // SAFETY: from `self.alloc`, ours, given back once.
            unsafe { self.alloc.put_buffer(spare) };
        }
        let buf = match self.alloc.get_buffer() {
            Ok(buf) => buf,
            Err(_) => {
                // SAFETY: a fresh event of `self.alloc`, untouched (no buffer), given back once.
                unsafe { self.alloc.put_message(ev.as_ptr()) };
                return Err(NoMemory);
            }
        };
        let n = self.staged;
        // SAFETY: the buffer has `cap > SHORT_EVENT_MAX >= n` bytes and is ours.
        unsafe { core::ptr::copy_nonoverlapping(self.staging.as_ptr(), buf.as_ptr(), n) };
        self.buf = Some(Held { buf, ev });
        self.fill = n;
        self.staged = 0;
        Ok(())
    }

    /// Gives the held buffer back inside its event (`PutMessage` frees both: `cb_event > 8`
    /// means a buffer); the bytes in it are the caller's to count.
    fn release_held(&mut self) {
        if let Some(Held { buf, ev }) = self.buf.take() {
            let data = DmusEventData {
                pb_data: buf.as_ptr(),
            };
            // SAFETY: the event is ours (reserved with the buffer), a valid aligned event.
            unsafe { fill(ev, event(0, self.cap, DMUS_KEF_EVENT_INCOMPLETE, data)) };
            // SAFETY: event and buffer came from `self.alloc` (`cap` = its buffer size > 8, so
            // the event owns the buffer) and are given back once, unlinked.
            unsafe { self.alloc.put_message(ev.as_ptr()) };
        }
        self.fill = 0;
    }

    /// Emits the held SysEx bytes as one fragment with `flags` (nothing if none are held).
    fn emit_fragment(&mut self, burst: &mut BurstChain, flags: u16) -> Result<(), NoMemory> {
        let len = self.held();
        if len == 0 {
            return Ok(());
        }
        let mark = burst.chain.mark();
        let (ev, data, in_buffer) = match self.buf {
            Some(Held { buf, ev }) if self.fill > SHORT_EVENT_MAX => {
                self.buf = None;
                let data = DmusEventData {
                    pb_data: buf.as_ptr(),
                };
                (ev, data, true)
            }
            Some(Held { buf, .. }) => {
                // Not produced by this packager (a buffer always holds more than 8), but a
                // short fragment must be inline whatever happens: it goes out in an event of
                // its own and the (now empty) buffer stays held for the bytes that follow.
                let ev = self.alloc.get_message().map_err(|_| NoMemory)?;
                let mut ab = [0u8; SHORT_EVENT_MAX];
                // SAFETY: the buffer holds `fill <= 8` initialised bytes and is ours.
                unsafe { core::ptr::copy_nonoverlapping(buf.as_ptr(), ab.as_mut_ptr(), self.fill) };
                (ev, DmusEventData { ab_data: ab }, false)
            }
            None => {
                let ev = self.alloc.get_message().map_err(|_| NoMemory)?;
                let data = DmusEventData {
                    ab_data: self.staging,
                };
                (ev, data, false)
            }
        };
        // SAFETY: `ev` is a fresh event from `self.alloc`; a buffer payload holds `len` bytes
        // written by `sysex_bytes`/`hold_final`/`staging_to_buffer`, and moves with it.
        unsafe { self.push(burst, ev, len, flags, data) };
        self.staged = 0;
        self.fill = 0;
        if burst.sysex_mark.is_none() {
            burst.sysex_mark = Some(mark);
        }
        burst.sysex_in_chain += len as u64;
        self.stats.bytes_delivered += len as u64;
        self.stats.sysex_bytes += len as u64;
        self.stats.sysex_fragments += 1;
        self.stats.sysex_buffer_fragments += u64::from(in_buffer);
        Ok(())
    }

    /// Drops the SysEx in progress for want of memory: held bytes and this burst's fragments
    /// of it go back to the allocator, the parser skips the rest of it. `lost` input bytes
    /// were consumed but never held.
    fn drop_sysex(&mut self, burst: &mut BurstChain, lost: usize) {
        let mut dropped = (self.held() + lost) as u64;
        self.release_held();
        self.staged = 0;
        self.fill = 0;
        if let Some(mark) = burst.sysex_mark.take() {
            // SAFETY: the mark was taken from this burst's chain, which has only grown since.
            let (events, bytes, buffers) =
                unsafe { burst.chain.retract_after(mark, |e| !is_sysex_fragment(e)) };
            dropped += bytes;
            self.stats.bytes_delivered -= bytes;
            self.stats.sysex_bytes -= bytes;
            self.stats.events_out -= events as u64;
            self.stats.sysex_fragments -= events as u64;
            self.stats.sysex_buffer_fragments -= buffers as u64;
        }
        burst.sysex_in_chain = 0;
        self.stats.bytes_dropped_no_memory += dropped;
        self.stats.sysex_dropped_no_memory += 1;
        if self.sysex_returned > 0 {
            self.stats.sysex_dropped_after_partial_delivery += 1;
        }
        self.sysex_returned = 0;
        self.parser.abort_sysex();
    }
}

/// Complete short messages packaged one after the other, with their counters: appended to
/// the burst's chain and added to the statistics once, when something else comes.
struct ShortRun {
    chain: Chain,
    channel: u64,
    common: u64,
    realtime: u64,
    /// Input bytes of the messages in `chain`.
    bytes: u64,
    /// Messages (and their input bytes) dropped for want of an event.
    dropped: u64,
    dropped_bytes: u64,
}

impl ShortRun {
    fn new() -> Self {
        Self {
            chain: Chain::new(),
            channel: 0,
            common: 0,
            realtime: 0,
            bytes: 0,
            dropped: 0,
            dropped_bytes: 0,
        }
    }
}

/// What stopped [`CapturePackager::messages`].
enum Next<'a> {
    /// A realtime run inside a SysEx whose buffer is held: back to the SysEx hot path.
    HotPath,
    /// Another parser event, for [`CapturePackager::handle`].
    Other(Event<'a>),
    /// The input is used up.
    Done,
}

/// Writes `fields` into the event at `ev` (which the caller owns).
///
/// # Safety
/// As [`EventFields::write_to`].
#[inline(always)]
unsafe fn fill(ev: NonNull<DmusKernelEvent>, fields: EventFields) {
    // SAFETY: per the caller.
    unsafe { fields.write_to(ev.as_ptr()) };
    #[cfg(feature = "planted-faults")]
    // SAFETY: per the caller.
    unsafe {
        crate::planted::reserved_write(ev.as_ptr())
    };
}

/// The fields of a captured event of `len` bytes stamped `time`, unlinked.
#[inline(always)]
fn event(time: u64, len: usize, flags: u16, data: DmusEventData) -> EventFields {
    EventFields {
        cb_event: u16::try_from(len).unwrap_or(u16::MAX),
        us_channel_group: CAPTURE_CHANNEL_GROUP,
        us_flags: flags,
        ull_pres_time_100ns: time,
        ull_byte_position: K_BYTE_POSITION_NONE,
        p_next_evt: core::ptr::null_mut(),
        u_data: data,
    }
}

/// The fields of the event of a complete short message (inline bytes) stamped `time`,
/// unlinked, flagged `flags`.
#[inline(always)]
fn short_event(time: u64, m: Message, flags: u16) -> EventFields {
    let data = DmusEventData {
        ab_data: m.to_inline(),
    };
    event(time, m.as_bytes().len(), flags, data)
}

/// While a SysEx is in progress the only other events emitted are realtime ones, so every
/// other event after the SysEx's mark is one of its fragments.
fn is_sysex_fragment(e: &DmusKernelEvent) -> bool {
    !matches!(e.short_data(), Some(&[b]) if is_realtime(b))
}

impl Drop for CapturePackager {
    fn drop(&mut self) {
        self.release_held();
    }
}

impl BurstChain {
    fn new(time: ReferenceTime) -> Self {
        Self {
            chain: Chain::new(),
            time: u64::try_from(time).unwrap_or(0),
            sysex_mark: None,
            sysex_in_chain: 0,
        }
    }
}
