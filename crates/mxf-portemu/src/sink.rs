//! The port's capture sink: the `IMXF` a capture stream is connected to with
//! `ConnectOutput`. It turns the chains it receives back into timestamped messages and returns
//! every event (and buffer, and package) to the port's allocator, as PortCls's sink does after
//! copying the data out to the client's buffers.

use crate::assemble::Assembler;
use crate::com::{BoxObject, into_com, object, unknown_vtbl};
use crate::tracker::LiveGuard;
use mxf_abi::{
    DmusKernelEvent, Guid, IAllocatorMxf, IID_IMXF, IID_IUNKNOWN, IMxf, IMxfVtbl, KsState,
    NtStatus, STATUS_NOT_SUPPORTED, STATUS_SUCCESS,
};
use mxf_core::com::{ComPtr, RefCount};
use mxf_core::platform::Platform;
use mxf_core::serialize::{ChainCursor, Step, WalkStats};
use mxf_kemu::Emu;
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
    /// buffer event with a null buffer or larger than the allocator's buffers.
    pub malformed_events: u64,
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
}

#[repr(C)]
struct SinkObj {
    vtbl: &'static IMxfVtbl,
    refs: RefCount,
    emu: Emu,
    alloc: ComPtr<IAllocatorMxf>,
    buffer_size: u16,
    log: Arc<Mutex<CaptureLog>>,
    live: LiveGuard,
}

// SAFETY: `#[repr(C)]`, vtable first, built with `unknown_vtbl!(SinkObj)`; answers IMXF.
unsafe impl BoxObject for SinkObj {
    fn refs(&self) -> &RefCount {
        &self.refs
    }
    fn supports(iid: &Guid) -> bool {
        *iid == IID_IUNKNOWN || *iid == IID_IMXF
    }
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
        .call("sink IMXF::SetState", obj.emu.current_irql());
    STATUS_SUCCESS
}

/// # Safety
/// Called through the vtable on a live sink; `chain` is null or a chain of events from the
/// port's allocator, given to the sink.
unsafe extern "system" fn put_message(this: *mut IMxf, chain: *mut DmusKernelEvent) -> NtStatus {
    // SAFETY: `this` is a live `SinkObj`.
    let obj = unsafe { object::<SinkObj>(this.cast()) };
    obj.live
        .tracker()
        .call("sink IMXF::PutMessage", obj.emu.current_irql());
    if chain.is_null() {
        return STATUS_SUCCESS;
    }
    {
        let mut log = lock(&obj.log);
        let CaptureLog { assembler, stats } = &mut *log;
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
                            assembler.feed(data, ev.pres_time() as i64);
                        }
                        None => stats.malformed_events += 1,
                    }
                }
            }
        }
        stats.max_chain = stats.max_chain.max(n);
    }
    // SAFETY: every event of a chain handed to the port's sink came from the port's
    // allocator (the contract the allocator itself verifies), and we no longer use it.
    unsafe { obj.alloc.put_message(chain) }
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
    // SAFETY: per the caller.
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
    let obj = SinkObj {
        vtbl: &VTBL,
        refs: RefCount::new(),
        emu,
        alloc: alloc.clone(),
        buffer_size: alloc.buffer_size(),
        log,
        live,
    };
    // SAFETY: the vtable is an IMxfVtbl.
    unsafe { into_com(obj) }
}
