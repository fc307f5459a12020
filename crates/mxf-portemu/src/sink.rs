//! The port's capture sink: the `IMXF` a capture stream is connected to with
//! `ConnectOutput`. It turns the chains it receives back into timestamped messages and returns
//! every event (and buffer, and package) to the port's allocator, as PortCls's sink does after
//! copying the data out to the client's buffers.
//!
//! # What it takes (the flags' documented meaning)
//! - An event flagged `DMUS_KEF_EVENT_INCOMPLETE` carries raw ("uncooked") MIDI bytes: they
//!   go through one MIDI parser for the whole stream, so running status, realtime bytes
//!   between data bytes or inside a SysEx, and a SysEx spread over many events all come out
//!   as whole messages.
//! - An event flagged `DMUS_KEF_EVENT_COMPLETE` must hold *exactly one whole message*: a
//!   status byte and its data bytes (running status is not a whole message), a single
//!   realtime or system common byte, or a SysEx `F0` … `F7` with only data bytes between.
//!   Such an event is taken as that message, in stream order (so it cuts a raw SysEx or a
//!   raw message in progress, as it would on a wire, unless it is realtime). Anything else
//!   flagged `COMPLETE` (a SysEx fragment, a message cut short, two messages) is what a sink
//!   that passes `COMPLETE` events straight through would deliver broken: it is counted in
//!   [`SinkStats::malformed_events`] and [`SinkStats::not_whole_message_events`], its bytes
//!   are not delivered, and [`crate::Port::close`] fails.
//! - `PutMessage` is called at `DISPATCH_LEVEL` only: below it the emulator bug-checks
//!   (`DRIVER_IRQL_NOT_LESS_OR_EQUAL`, 0xD1, naming the sink).
//!
//! # A stalled sink (a slow application)
//! On Windows the port copies captured events out to the read buffers the application has
//! queued on its pin; an application that does not read queues none, so the port keeps the
//! events it is handed, and they stay out of the pin's allocator until the application
//! reads again. [`SinkControl::set_stalled`] models that: a stalled sink takes each chain
//! (the `IMXF` contract: the chain is the sink's) but holds it, unread and not returned to
//! the allocator, and delivers everything it holds, in order, when the stall ends. The
//! capture stream and its allocator see exactly what a slow reader causes: the pin's
//! allocator runs dry, and what the stream cannot package is dropped by the stream
//! (counted there), without blocking the other readers.

use crate::assemble::Assembler;
use crate::com::{BoxObject, into_com, object, unknown_vtbl};
use crate::tracker::LiveGuard;
use mxf_abi::{
    DmusKernelEvent, Guid, IAllocatorMxf, IID_IMXF, IID_IUNKNOWN, IMxf, IMxfVtbl, KsState,
    NtStatus, STATUS_NOT_SUPPORTED, STATUS_SUCCESS,
};
use mxf_core::com::{ComPtr, RefCount};
use mxf_core::midi::data_len;
use mxf_core::platform::{DISPATCH_LEVEL, Platform, bugcheck};
use mxf_core::serialize::{ChainCursor, Step, WalkStats};
use mxf_kemu::Emu;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::{Arc, Mutex, MutexGuard};

/// Counters of the capture sink.
#[derive(Clone, Copy, Default, PartialEq, Eq, Debug)]
pub struct SinkStats {
    /// `PutMessage` calls with a chain.
    pub chains: u64,
    /// Non-package events received.
    pub events: u64,
    /// Of those, events whose data was in a buffer (`cb_event > 8`).
    pub buffer_events: u64,
    /// Of those, events flagged `DMUS_KEF_EVENT_INCOMPLETE`.
    pub incomplete_events: u64,
    /// Package bookkeeping.
    pub walk: WalkStats,
    /// Bytes received.
    pub bytes: u64,
    /// Events that broke the contract: `cb_struct` wrong, channel group not 1, empty, a
    /// buffer event with a null buffer or larger than the allocator's buffers, or flagged
    /// `COMPLETE` without being exactly one whole message. A failure when nonzero.
    pub malformed_events: u64,
    /// Of those, events flagged `COMPLETE` that are not exactly one whole message.
    pub not_whole_message_events: u64,
    /// Longest chain (events, packages included).
    pub max_chain: u64,
}

/// What the sink collected: the messages, its counters, the state the stream set.
#[derive(Default, Debug)]
pub struct CaptureLog {
    /// The captured messages, timestamped with the events' presentation times.
    pub assembler: Assembler,
    /// Counters.
    pub stats: SinkStats,
    /// Test hook: a faulty capture side stood in for by rewriting a copy of every event
    /// before the sink checks and parses it (channel group, flags, presentation time). It
    /// must leave `cb_event` and the data alone; the chain itself is not modified.
    pub tamper: Option<fn(&mut DmusKernelEvent)>,
}

/// What a sink and the port share: where it returns events, its log, its stall.
struct SinkCore {
    emu: Emu,
    alloc: ComPtr<IAllocatorMxf>,
    buffer_size: u16,
    log: Arc<Mutex<CaptureLog>>,
    stalled: AtomicBool,
    /// Chains taken while stalled, oldest first (addresses of their first events).
    held: Mutex<Vec<usize>>,
}

/// The port's hold on one capture sink: its stall switch.
#[derive(Clone)]
pub(crate) struct SinkControl(Arc<SinkCore>);

impl SinkControl {
    /// Stalls the sink (`true`) or ends the stall (`false`), delivering what it holds, in
    /// order, at `DISPATCH_LEVEL` (as the port copies to a read buffer that arrives).
    pub(crate) fn set_stalled(&self, on: bool) {
        let core = &self.0;
        if on {
            core.stalled.store(true, Relaxed);
            return;
        }
        core.stalled.store(false, Relaxed);
        let held = std::mem::take(&mut *lock(&core.held));
        if held.is_empty() {
            return;
        }
        core.emu.at_irql(DISPATCH_LEVEL, || {
            for chain in held {
                // SAFETY: a chain the sink took while stalled and has held untouched since.
                unsafe { core.take(chain as *mut DmusKernelEvent) };
            }
        });
    }

    /// Chains held by the stall.
    pub(crate) fn held(&self) -> usize {
        lock(&self.0.held).len()
    }
}

impl Drop for SinkCore {
    fn drop(&mut self) {
        // A sink released while stalled: the held chains go back unread (the port ends
        // every stall before it releases a sink, so this is a fallback only).
        for chain in std::mem::take(&mut *lock(&self.held)) {
            // SAFETY: a chain of this sink's allocator that the sink held, used by no one.
            unsafe { self.alloc.put_message(chain as *mut DmusKernelEvent) };
        }
    }
}

#[repr(C)]
struct SinkObj {
    vtbl: &'static IMxfVtbl,
    refs: RefCount,
    core: Arc<SinkCore>,
    live: LiveGuard,
}

// SAFETY: `#[repr(C)]`, vtable first, built with `unknown_vtbl!(SinkObj)`; answers IMXF.
unsafe impl BoxObject for SinkObj {
    fn refs(&self) -> &RefCount {
        &self.refs
    }
    const NAME: &'static str = "capture sink";
    const IIDS: &'static [Guid] = &[IID_IUNKNOWN, IID_IMXF];
}

static VTBL: IMxfVtbl = IMxfVtbl {
    base: unknown_vtbl!(SinkObj),
    set_state,
    put_message,
    connect_output,
    disconnect_output,
};

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// # Safety
/// Called through the vtable on a live sink.
unsafe extern "system" fn set_state(this: *mut IMxf, _state: KsState) -> NtStatus {
    // SAFETY: `this` is a live `SinkObj`.
    let obj = unsafe { object::<SinkObj>(this.cast()) };
    obj.live
        .tracker()
        .call("sink IMXF::SetState", obj.core.emu.current_irql());
    STATUS_SUCCESS
}

/// # Safety
/// Called through the vtable on a live sink; `chain` is null or a chain of events from the
/// port's allocator, given to the sink.
unsafe extern "system" fn put_message(this: *mut IMxf, chain: *mut DmusKernelEvent) -> NtStatus {
    // SAFETY: `this` is a live `SinkObj`.
    let obj = unsafe { object::<SinkObj>(this.cast()) };
    let irql = obj.core.emu.current_irql();
    obj.live.tracker().call("sink IMXF::PutMessage", irql);
    if irql != DISPATCH_LEVEL {
        // The documented IRQL of the port's sink (DMusUART asserts it): the real port would
        // touch its DISPATCH_LEVEL-only state unprotected.
        mxf_kemu::raise(mxf_kemu::BugCheck {
            code: bugcheck::DRIVER_IRQL_NOT_LESS_OR_EQUAL,
            params: [chain as usize, usize::from(irql), 0, 0],
            message: format!(
                "capture sink IMXF::PutMessage called at IRQL {irql}: the port's capture \
                 sink takes chains only at DISPATCH_LEVEL"
            ),
        });
    }
    if chain.is_null() {
        return STATUS_SUCCESS;
    }
    let core = &obj.core;
    if core.stalled.load(Relaxed) {
        lock(&core.held).push(chain as usize);
        return STATUS_SUCCESS;
    }
    // SAFETY: the chain is the caller's to give, of the port's allocator.
    unsafe { core.take(chain) }
}

impl SinkCore {
    /// Reads `chain` into the log and returns it to the allocator.
    ///
    /// # Safety
    /// `chain` is a chain of events from `self.alloc`, given to the sink, used by no one else.
    unsafe fn take(&self, chain: *mut DmusKernelEvent) -> NtStatus {
        let obj = self;
        let mut log = lock(&obj.log);
        let CaptureLog {
            assembler,
            stats,
            tamper,
        } = &mut *log;
        stats.chains += 1;
        // SAFETY: the chain is ours until we hand it to the allocator below; nothing else
        // modifies it meanwhile.
        let mut cursor = unsafe { ChainCursor::new(chain) };
        let mut n = 0u64;
        loop {
            match cursor.step(&mut stats.walk) {
                Step::End => break,
                Step::Package => n += 1,
                Step::Event(ev) => {
                    n += 1;
                    let mut view = *ev;
                    if let Some(t) = tamper {
                        t(&mut view);
                    }
                    let ev = &view;
                    // SAFETY: an event of the chain we own; buffers are readable for
                    // `cb_event` bytes when no larger than the allocator's buffer size.
                    match unsafe { event_bytes(ev, obj.buffer_size) } {
                        Some(data) => {
                            stats.events += 1;
                            stats.bytes += data.len() as u64;
                            stats.buffer_events += u64::from(ev.short_data().is_none());
                            stats.incomplete_events += u64::from(ev.is_incomplete());
                            if ev.cb_struct as usize != mxf_abi::DMUS_KERNEL_EVENT_SIZE
                                || ev.us_channel_group != 1
                            {
                                stats.malformed_events += 1;
                            }
                            if ev.is_incomplete() || is_one_whole_message(data) {
                                assembler.feed(data, ev.pres_time() as i64);
                            } else {
                                stats.malformed_events += 1;
                                stats.not_whole_message_events += 1;
                            }
                        }
                        None => stats.malformed_events += 1,
                    }
                }
            }
        }
        stats.max_chain = stats.max_chain.max(n);
        drop(log);
        // SAFETY: every event of a chain handed to the port's sink came from the port's
        // allocator (the contract the allocator itself verifies), and we no longer use it.
        unsafe { obj.alloc.put_message(chain) }
    }
}

/// Whether `data` is exactly one whole MIDI message: a status byte with all its data bytes,
/// or a SysEx from `F0` to `F7` with only data bytes in between.
pub(crate) fn is_one_whole_message(data: &[u8]) -> bool {
    let Some((&status, rest)) = data.split_first() else {
        return false;
    };
    if status == 0xF0 {
        return match rest.split_last() {
            Some((&0xF7, body)) => body.iter().all(|&b| b < 0x80),
            _ => false,
        };
    }
    match data_len(status) {
        Some(n) => rest.len() == usize::from(n) && rest.iter().all(|&b| b < 0x80),
        None => false,
    }
}

/// The payload of a non-package event, if it is well formed.
///
/// # Safety
/// `ev` is a live event; if `cb_event > 8` and `cb_event <= max`, a non-null `pb_data` is
/// readable for `cb_event` bytes.
unsafe fn event_bytes(ev: &DmusKernelEvent, max: u16) -> Option<&[u8]> {
    if ev.cb_event == 0 {
        return None;
    }
    if let Some(d) = ev.short_data() {
        return Some(d);
    }
    if ev.cb_event > max {
        return None;
    }
    // SAFETY: reading a pointer-sized union field is sound for any bit pattern.
    let p = unsafe { ev.u_data.pb_data };
    if p.is_null() {
        return None;
    }
    // SAFETY: `cb_event > 8` (not short data) and `cb_event <= max` here, so the caller's
    // contract makes the non-null `pb_data` readable for `cb_event` bytes.
    Some(unsafe { std::slice::from_raw_parts(p, usize::from(ev.cb_event)) })
}

/// # Safety
/// Called through the vtable on a live sink.
unsafe extern "system" fn connect_output(_this: *mut IMxf, _sink: *mut IMxf) -> NtStatus {
    // The port's sink is the end of the graph (it returns events to the allocator itself).
    STATUS_NOT_SUPPORTED
}

/// # Safety
/// Called through the vtable on a live sink.
unsafe extern "system" fn disconnect_output(_this: *mut IMxf, _sink: *mut IMxf) -> NtStatus {
    STATUS_NOT_SUPPORTED
}

/// A capture sink returning events to `alloc` and recording into `log`.
pub(crate) fn new_capture_sink(
    emu: Emu,
    alloc: &ComPtr<IAllocatorMxf>,
    log: Arc<Mutex<CaptureLog>>,
    live: LiveGuard,
) -> ComPtr<IMxf> {
    new_controlled_sink(emu, alloc, log, live).0
}

/// As [`new_capture_sink`], with the sink's stall switch.
pub(crate) fn new_controlled_sink(
    emu: Emu,
    alloc: &ComPtr<IAllocatorMxf>,
    log: Arc<Mutex<CaptureLog>>,
    live: LiveGuard,
) -> (ComPtr<IMxf>, SinkControl) {
    let core = Arc::new(SinkCore {
        emu,
        alloc: alloc.clone(),
        buffer_size: alloc.buffer_size(),
        log,
        stalled: AtomicBool::new(false),
        held: Mutex::new(Vec::new()),
    });
    let obj = SinkObj {
        vtbl: &VTBL,
        refs: RefCount::new(),
        core: Arc::clone(&core),
        live,
    };
    // SAFETY: the vtable is an IMxfVtbl.
    (unsafe { into_com(obj) }, SinkControl(core))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::retag::PortPlatform;
    use crate::tracker::Tracker;
    use mxf_abi::{DMUS_KEF_EVENT_COMPLETE, DMUS_KEF_EVENT_INCOMPLETE, DmusEventData};
    use mxf_core::alloc::{AllocatorConfig, new_allocator};
    use mxf_kemu::EmuConfig;

    #[test]
    fn whole_messages() {
        for ok in [
            &[0x90, 0x3C, 0x40][..],
            &[0xC0, 0x05],
            &[0xF8],
            &[0xF6],
            &[0xF2, 1, 2],
            &[0xF0, 0xF7],
            &[0xF0, 1, 2, 3, 0xF7],
        ] {
            assert!(is_one_whole_message(ok), "{ok:02x?}");
        }
        for bad in [
            &[][..],
            &[0x3C, 0x40],
            &[0x90, 0x3C],
            &[0x90, 0x3C, 0x40, 0x3E],
            &[0x90, 0x3C, 0x40, 0x90, 0x3C, 0x40],
            &[0xF0, 1, 2],
            &[1, 2, 0xF7],
            &[0xF7],
            &[0xF0, 1, 0xF8, 2, 0xF7],
            &[0xF8, 0xF8],
        ] {
            assert!(!is_one_whole_message(bad), "{bad:02x?}");
        }
    }

    /// A sink on a fresh port allocator, fed `events` (flags, bytes, time) as one chain.
    fn feed(chains: &[&[(u16, &[u8], u64)]]) -> CaptureLog {
        let emu = Emu::new(EmuConfig::default());
        let alloc = new_allocator(PortPlatform::new(emu.clone()), AllocatorConfig::DEFAULT)
            .expect("allocator");
        let log = Arc::new(Mutex::new(CaptureLog::default()));
        let tracker = Tracker::new();
        let sink = new_capture_sink(emu.clone(), &alloc, Arc::clone(&log), tracker.born("sink"));
        for chain in chains {
            let mut list = mxf_core::event_list::EventList::new();
            for &(flags, bytes, time) in chain.iter() {
                let ev = alloc.get_message().expect("event");
                let data = if bytes.len() <= 8 {
                    let mut ab = [0u8; 8];
                    ab[..bytes.len()].copy_from_slice(bytes);
                    DmusEventData { ab_data: ab }
                } else {
                    let buf = alloc.get_buffer().expect("buffer");
                    // SAFETY: a fresh buffer of `GetBufferSize` (>= these test payloads) bytes.
                    unsafe {
                        std::ptr::copy_nonoverlapping(bytes.as_ptr(), buf.as_ptr(), bytes.len())
                    };
                    DmusEventData {
                        pb_data: buf.as_ptr(),
                    }
                };
                // SAFETY: a fresh event of `alloc`, ours; the allocator's own fields stay.
                unsafe {
                    let e = &mut *ev.as_ptr();
                    e.cb_event = bytes.len() as u16;
                    e.us_channel_group = 1;
                    e.us_flags = flags;
                    e.ull_pres_time_100ns = time;
                    e.u_data = data;
                }
                // SAFETY: ours, in no chain.
                unsafe { list.push_back(ev) };
            }
            let head = list.take_chain();
            emu.at_irql(mxf_core::platform::DISPATCH_LEVEL, || {
                // SAFETY: a chain of `alloc`'s events, given to the sink.
                unsafe { sink.put_message(head) };
            });
        }
        drop(sink);
        let mut l = std::mem::take(&mut *lock(&log));
        l.assembler.finish();
        l
    }

    const I: u16 = DMUS_KEF_EVENT_INCOMPLETE;
    const C: u16 = DMUS_KEF_EVENT_COMPLETE;

    #[test]
    fn incomplete_events_are_parsed_as_one_raw_stream() {
        let log = feed(&[
            &[(I, &[0x90, 0x3C], 1), (I, &[0x40, 0x3E, 0xF8, 0x41], 2)],
            &[(I, &[0xF0, 1, 2, 3, 4, 5, 6, 7, 8, 9], 3), (C, &[0xFE], 4)],
            &[(I, &[10, 0xF7], 5), (C, &[0xB0, 7, 100], 6)],
        ]);
        let got: Vec<(Vec<u8>, i64)> = log
            .assembler
            .messages()
            .iter()
            .map(|m| (m.bytes.clone(), m.time))
            .collect();
        assert_eq!(
            got,
            [
                (vec![0x90, 0x3C, 0x40], 2),
                (vec![0xF8], 2),
                (vec![0x90, 0x3E, 0x41], 2),
                (vec![0xFE], 4),
                (vec![0xF0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 0xF7], 5),
                (vec![0xB0, 7, 100], 6),
            ]
        );
        assert_eq!(log.stats.malformed_events, 0);
        assert_eq!(log.stats.incomplete_events, 4);
    }

    #[test]
    fn a_complete_event_that_is_not_one_whole_message_is_malformed() {
        // The old convention: INCOMPLETE head, COMPLETE tail.
        let log = feed(&[&[(I, &[0xF0, 1, 2, 3, 4, 5, 6, 7, 8], 1), (C, &[9, 0xF7], 2)]]);
        assert_eq!(log.stats.malformed_events, 1);
        assert_eq!(log.stats.not_whole_message_events, 1);
        // Running status, a cut message and two messages in one COMPLETE event.
        let log = feed(&[&[
            (C, &[0x90, 0x3C, 0x40], 1),
            (C, &[0x3E, 0x41], 2),
            (C, &[0x90, 0x3C], 3),
            (C, &[0xC0, 1, 0xC0, 2], 4),
        ]]);
        assert_eq!(log.stats.not_whole_message_events, 3);
        assert_eq!(log.assembler.messages().len(), 1, "only the whole one");
    }
}

#[cfg(test)]
mod irql_tests {
    use super::*;
    use crate::retag::PortPlatform;
    use crate::tracker::Tracker;
    use mxf_core::alloc::{AllocatorConfig, new_allocator};
    use mxf_kemu::EmuConfig;
    use mxf_testkit::subprocess::expect_bugcheck_in_child;

    fn sink(emu: &Emu) -> ComPtr<IMxf> {
        let alloc = new_allocator(PortPlatform::new(emu.clone()), AllocatorConfig::DEFAULT)
            .expect("allocator");
        let log = Arc::new(Mutex::new(CaptureLog::default()));
        new_capture_sink(emu.clone(), &alloc, log, Tracker::new().born("sink"))
    }

    #[test]
    fn put_message_below_dispatch_level_bug_checks() {
        // A bug check cannot unwind out of the vtable slot: the call runs in a child.
        let r = expect_bugcheck_in_child(
            "sink::irql_tests::put_message_below_dispatch_level_bug_checks",
            || {
                let emu = Emu::new(EmuConfig::default());
                let s = sink(&emu);
                // SAFETY: a null chain transfers nothing.
                unsafe { s.put_message(std::ptr::null_mut()) };
            },
        );
        assert_eq!(r.code, bugcheck::DRIVER_IRQL_NOT_LESS_OR_EQUAL);
        assert_eq!(r.params[1], usize::from(mxf_core::platform::PASSIVE_LEVEL));
        assert!(r.message.contains("capture sink"), "{}", r.message);
    }

    #[test]
    fn put_message_at_dispatch_level_is_fine() {
        let emu = Emu::new(EmuConfig::default());
        let s = sink(&emu);
        let st = emu.at_irql(DISPATCH_LEVEL, || {
            // SAFETY: a null chain transfers nothing.
            unsafe { s.put_message(std::ptr::null_mut()) }
        });
        assert_eq!(st, STATUS_SUCCESS);
    }
}
