//! The capture stream: one reader of the miniport's cable. It owns a loopback of its own
//! (made when the stream is created, `PASSIVE_LEVEL`, with its own allocator), attached to the
//! cable for its life and joined while it is in `RUN`, drains it into event chains (mxf-core's
//! [`CapturePackager`], on the port's allocator) and hands them to the port's capture sink.
//! Several capture streams each get every message; one that cannot keep up drops (counted in
//! its [`reader_stats`]), never stalling the others.
//!
//! - `PutMessage(NULL)` is the port's service call (after `Notify`). In `RUN` the stream
//!   feeds the packager straight from the loopback's chunks (`Loopback::drain_bursts`: no
//!   copy, no stack buffer — a virtual cable has no UART FIFO, the bytes are already in
//!   memory) in bursts of at most one chunk's storage (a loopback buffer, 4080 bytes by
//!   default), each stamped with one `IMasterClock::GetTime` read just before it: every
//!   event completed in a burst carries that capture time. A burst may span several short
//!   writes made at different times; the loopback's latency statistics use the write time of
//!   each burst's oldest byte. The packager runs with the loopback's lock held and takes
//!   events from the port's allocator: lock order *stream → loopback → port allocator*; the
//!   lock is released between bursts, so the render side waits at most one burst. The stream
//!   sends everything completed, as one chain, to the connected sink with one `PutMessage`
//!   (our locks released). With no sink connected the chain
//!   goes back to the allocator, counted in `events_dropped_no_sink`. At most
//!   `capture_service_max_bytes` are drained per call; if more wait, the stream asks the
//!   service group for a delayed service (100 ns, on the group's timer) — not
//!   `IPortDMus::Notify`, which a port servicing synchronously would turn into a recursion
//!   with the group's lock held. After reading, the stream kicks the render stream (the
//!   loopback has room again: see `miniport`'s flow control). In any other state the
//!   loopback is emptied and the bytes counted as discarded (nothing can be there: the
//!   stream's reader only gets writes while the stream is in `RUN`).
//! - `PutMessage(chain)` with a chain is not for a capture stream: the chain goes back to the
//!   allocator and the call fails with `STATUS_INVALID_DEVICE_REQUEST`.
//! - `ConnectOutput(sink)` records the sink *without* a reference, as DMusUART does: the port
//!   keeps its sink alive from `ConnectOutput` to `DisconnectOutput`, and a stream holding
//!   no reference on its sink can never be half of a stream↔sink cycle. A delivery takes a
//!   reference for its own duration only (under the stream's lock, so a concurrent
//!   `DisconnectOutput` cannot pull the sink out from under it). `ConnectOutput(NULL)` is
//!   `STATUS_INVALID_PARAMETER`, a second sink `STATUS_INVALID_DEVICE_STATE`.
//!   `DisconnectOutput(sink)` forgets the connected sink; `DisconnectOutput(NULL)` forgets
//!   whatever is connected (DMusUART accepts both); another sink is
//!   `STATUS_INVALID_PARAMETER`.
//! - The sink's `PutMessage` is called at `DISPATCH_LEVEL` only (its documented IRQL, which
//!   DMusUART asserts): from the port's DPC, and from `SetState` (a `PASSIVE_LEVEL` call)
//!   with IRQL raised to `DISPATCH_LEVEL` for the delivery.
//! - Entering `RUN` joins the cable (`Cable::join`: the loopback listens). Leaving `RUN` (or
//!   destruction) leaves it first — from then on this stream gets no new messages (with no
//!   other reader joined, the render side gives them up as "no listener") —
//!   then drains what the loopback still holds into the sink (it was sent while we listened),
//!   then resets the packager: a SysEx in progress is delivered as truncated (to the sink if
//!   connected), a partial message dropped (counted by the packager); then kicks the render
//!   stream, which may be waiting for room.

use super::IID_MXF_PRIVATE_CAPTURE;
use crate::miniport::object::MiniportRef;
use core::ptr::NonNull;
use mxf_abi::NtError;
use mxf_abi::{
    DmusKernelEvent, Guid, IAllocatorMxf, IID_IMXF, IID_IUNKNOWN, IMasterClock, IMxf, IMxfVtbl,
    IUnknown, KsState, NtStatus, STATUS_INVALID_DEVICE_REQUEST, STATUS_INVALID_DEVICE_STATE,
    STATUS_INVALID_PARAMETER, STATUS_SUCCESS,
};
use mxf_core::cable::{ReaderId, ReaderStats};
use mxf_core::capture::{CapturePackager, CaptureStats, Chain};
use mxf_core::com::{self, ComObject, ComPtr, OurMark, OurObject, RefCount};
use mxf_core::loopback::{Bursts, Loopback, LoopbackStats};
use mxf_core::platform::{DISPATCH_LEVEL, Platform, PoolTag, SpinLock};
use mxf_core::pool_box::PoolBox;
use mxf_core::service::ServiceGroupExt;

/// Pool tag of a capture stream object.
pub const TAG_CAPTURE_STREAM: PoolTag = PoolTag::new(b"MxfC");

/// Counters of a capture stream.
#[derive(Clone, Copy, Default, PartialEq, Eq, Debug)]
pub struct CaptureStreamStats {
    /// `PutMessage(NULL)` calls.
    pub services: u64,
    /// Services that stopped at the byte budget with data left (and asked for more).
    pub services_budget_hit: u64,
    /// Bursts read from the loopback.
    pub bursts: u64,
    /// Bytes read from the loopback and fed to the packager.
    pub bytes_read: u64,
    /// Bytes emptied from the loopback while not running.
    pub bytes_discarded: u64,
    /// Chains sent to the sink.
    pub chains_delivered: u64,
    /// Events sent to the sink.
    pub events_delivered: u64,
    /// Events returned to the allocator because no sink was connected.
    pub events_dropped_no_sink: u64,
    /// Chains handed to `PutMessage` of a capture stream (returned, refused).
    pub chains_refused: u64,
    /// Failed `IMasterClock::GetTime` calls (the burst is stamped 0).
    pub clock_errors: u64,
    /// The packager's counters.
    pub packager: CaptureStats,
}

/// The connected sink, held without a reference (see the module docs).
#[derive(Clone, Copy)]
struct SinkRef(NonNull<IMxf>);

// SAFETY: an interface pointer of a kernel COM object, callable from any thread; the port
// keeps it alive while connected, and it is only used under the stream's lock.
unsafe impl Send for SinkRef {}

impl SinkRef {
    /// A reference for one delivery.
    ///
    /// # Safety
    /// The sink is still connected (the caller holds the stream's lock and found it there).
    unsafe fn take_ref(self) -> ComPtr<IMxf> {
        // SAFETY: a connected sink is alive (the port's contract); we take our own reference.
        unsafe { ComPtr::from_raw_add_ref(self.0) }
    }
}

struct CaptureState {
    sink: Option<SinkRef>,
    state: KsState,
    packager: CapturePackager,
    stats: CaptureStreamStats,
}

#[repr(C)]
struct CaptureStream<P: Platform> {
    vtbl: *const IMxfVtbl,
    /// `OurMark::of::<CaptureStream<P>>()` (for [`com::ours`]).
    mark: OurMark,
    refs: RefCount,
    platform: P,
    miniport: MiniportRef<P>,
    /// Its capture pin instance (freed on destruction).
    instance: usize,
    /// Its reader of the cable: `loopback`, attached from creation to destruction.
    reader: ReaderId,
    /// Its own loopback (the cable writes into it while the stream is in `RUN`).
    loopback: Loopback<P>,
    alloc: ComPtr<IAllocatorMxf>,
    clock: ComPtr<IMasterClock>,
    inner: SpinLock<P::RawSpinLock, CaptureState>,
}

/// Creates capture stream `instance` (`PASSIVE_LEVEL`: its loopback's allocator) and
/// attaches its loopback to the cable. The capture pin instance is already claimed by the
/// caller; the stream frees it on destruction.
pub(crate) fn new_capture_stream<P: Platform>(
    miniport: MiniportRef<P>,
    instance: usize,
    alloc: ComPtr<IAllocatorMxf>,
    clock: ComPtr<IMasterClock>,
) -> Result<ComPtr<IMxf>, NtError> {
    let platform = miniport.platform.clone();
    let packager = CapturePackager::with_mode(&alloc, miniport.cfg.capture_mode);
    let loopback = Loopback::new(platform.clone(), miniport.cfg.loopback)?;
    let lock = platform.new_spin_lock();
    let stream = CaptureStream {
        vtbl: &CaptureStream::<P>::VTBL,
        mark: OurMark::of::<CaptureStream<P>>(),
        refs: RefCount::new(),
        platform: platform.clone(),
        miniport,
        instance,
        // Set once the loopback sits at its final address, below.
        reader: ReaderId::NONE,
        loopback,
        alloc,
        clock,
        inner: SpinLock::new(
            lock,
            CaptureState {
                sink: None,
                state: KsState::STOP,
                packager,
                stats: CaptureStreamStats::default(),
            },
        ),
    };
    let boxed = PoolBox::try_new(platform, TAG_CAPTURE_STREAM, stream)?;
    // SAFETY: the loopback lives in the stream object, which stays at this address until
    // `destroy`, and `destroy` detaches it before dropping the object.
    let reader = unsafe { boxed.miniport.cable.attach(&boxed.loopback) };
    // The pin's instance count is the cable's reader count, so a claimed instance always
    // finds a free reader; if not, the stream is refused like an instance too many.
    let Some(reader) = reader else {
        return Err(NtError::INVALID_DEVICE_REQUEST);
    };
    let mem = boxed.into_raw();
    // SAFETY: the object is ours alone (not yet shared: no reference handed out), so writing
    // its field is sound.
    unsafe { (*mem.as_ptr()).reader = reader };
    // SAFETY: `#[repr(C)]` with the vtable pointer first; the initial reference.
    Ok(unsafe { ComPtr::from_raw(mem.cast::<IMxf>()) })
}

/// The counters of a capture stream's reader of the cable (what it was delivered and what
/// was dropped for it), for a capture stream of ours built for platform `P`.
pub fn reader_stats<P: Platform>(stream: &ComPtr<IMxf>) -> Option<ReaderStats> {
    let s = com::ours::<CaptureStream<P>, _>(stream)?;
    s.miniport.cable.reader_stats(s.reader)
}

/// The counters of a capture stream's own loopback, for a capture stream of ours built for
/// platform `P`.
pub fn reader_loopback_stats<P: Platform>(stream: &ComPtr<IMxf>) -> Option<LoopbackStats> {
    com::ours::<CaptureStream<P>, _>(stream).map(|s| s.loopback.stats())
}

/// The counters of a capture stream of ours built for platform `P`.
pub fn capture_stats<P: Platform>(stream: &ComPtr<IMxf>) -> Option<CaptureStreamStats> {
    let s = com::ours::<CaptureStream<P>, _>(stream)?;
    let g = s.inner.lock();
    let mut st = g.stats;
    st.packager = g.packager.stats();
    Some(st)
}

/// The master clock of `stream` if it is a capture stream of ours built for `P` (AddRef'd).
pub(crate) fn clock_of<P: Platform>(stream: &ComPtr<IUnknown>) -> Option<ComPtr<IMasterClock>> {
    com::ours::<CaptureStream<P>, _>(stream).map(|s| s.clock.clone())
}

impl<P: Platform> CaptureStream<P> {
    const VTBL: IMxfVtbl = IMxfVtbl {
        base: com::unknown_vtbl::<Self>(),
        set_state: Self::set_state,
        put_message: Self::put_message,
        connect_output: Self::connect_output,
        disconnect_output: Self::disconnect_output,
    };

    fn now(&self, stats: &mut CaptureStreamStats) -> i64 {
        match self.clock.get_time() {
            Ok(t) => t,
            Err(_) => {
                stats.clock_errors += 1;
                0
            }
        }
    }

    /// The service: see the module docs.
    fn service(&self) {
        let loopback = &self.loopback;
        let budget = self.miniport.cfg.capture_service_max_bytes as usize;
        let (chain, sink, read_any, more) = {
            let mut g = self.inner.lock();
            g.stats.services += 1;
            if g.state != KsState::RUN {
                let n = loopback.discard();
                g.stats.bytes_discarded += n;
                return;
            }
            let st = &mut *g;
            let (out, r) = self.read_bursts(st, budget, None);
            let more = r.bytes >= budget && r.remaining > 0;
            st.stats.services_budget_hit += u64::from(more);
            // SAFETY: found connected under the stream's lock.
            let sink = st.sink.map(|s| unsafe { s.take_ref() });
            let n = out.len() as u64;
            if !out.is_empty() {
                if sink.is_some() {
                    st.stats.chains_delivered += 1;
                    st.stats.events_delivered += n;
                } else {
                    st.stats.events_dropped_no_sink += n;
                }
            }
            (out, sink, r.bytes > 0, more)
        };
        if read_any {
            // The loopback has room: a blocked render stream goes on (our lock is released).
            self.miniport.kick_render();
        }
        self.deliver(chain, sink);
        if more {
            // Not `Notify`: a port that services synchronously would recurse into this very
            // call with the group's lock held. The group's own timer services it again in a
            // fresh DPC, 100 ns from now.
            self.miniport.group.request_delayed_service((-1i64) as u64);
        }
    }

    /// Hands `chain` to `sink` at `DISPATCH_LEVEL` (raised for the call if the caller is
    /// below it), or back to the allocator with no sink. Our lock is not held.
    fn deliver(&self, chain: Chain, sink: Option<ComPtr<IMxf>>) {
        match sink {
            Some(sink) => {
                let old = self.platform.raise_irql(DISPATCH_LEVEL);
                // SAFETY: the sink is the port's capture sink, which returns everything to
                // the allocator the chain came from (the port's).
                let _ = unsafe { chain.deliver(&sink) };
                self.platform.lower_irql(old);
                // The delivery's reference goes at the caller's IRQL.
                drop(sink);
            }
            None => drop(chain),
        }
    }

    /// Feeds up to `budget` bytes from the loopback's chunks straight to the packager, in
    /// bursts of at most one chunk's storage, each stamped with one master-clock read (or
    /// with `time`, if given); returns everything completed as one chain. Stream lock held
    /// (lock order: stream → loopback → port allocator, see `Loopback::drain_chunks`).
    fn read_bursts(
        &self,
        st: &mut CaptureState,
        budget: usize,
        time: Option<i64>,
    ) -> (Chain, Bursts) {
        let mut out = Chain::new();
        let CaptureState {
            packager, stats, ..
        } = st;
        let r = self.loopback.drain_bursts(
            budget,
            || time.unwrap_or_else(|| self.now(stats)),
            |bytes, t| {
                // Same allocator on both sides, so `append` cannot refuse; if it did, the
                // refused chain is dropped here, back to its allocator.
                let _ = out.append(packager.feed(bytes, t));
            },
        );
        stats.bursts += r.bursts;
        stats.bytes_read += r.bytes as u64;
        (out, r)
    }

    /// Reads everything the loopback holds into the packager (the stream stops listening:
    /// what is there was sent while it listened). Stream lock held.
    fn drain(&self, g: &mut CaptureState, time: i64) -> Chain {
        let (out, _) = self.read_bursts(g, usize::MAX, Some(time));
        let n = out.len() as u64;
        if g.sink.is_some() {
            g.stats.events_delivered += n;
            g.stats.chains_delivered += u64::from(n > 0);
        } else {
            g.stats.events_dropped_no_sink += n;
        }
        out
    }

    unsafe extern "system" fn set_state(this: *mut IMxf, state: KsState) -> NtStatus {
        // SAFETY: COM contract.
        let me = unsafe { Self::obj(this) };
        let status = me.change_state(state);
        crate::trace::outcome(
            &me.platform,
            format_args!("capture SetState({})", crate::trace::StateName(state)),
            status,
        )
    }

    /// The body of [`Self::set_state`].
    fn change_state(&self, state: KsState) -> NtStatus {
        let me = self;
        if !state.is_valid() {
            return STATUS_INVALID_PARAMETER;
        }
        let loopback = &me.loopback;
        let cable = &me.miniport.cable;
        let (chain, sink, stopped) = {
            let mut g = me.inner.lock();
            let was_running = g.state == KsState::RUN;
            g.state = state;
            if state == KsState::RUN {
                cable.join(me.reader);
                (Chain::new(), None, false)
            } else if was_running {
                cable.leave(me.reader);
                let time = me.now(&mut g.stats);
                let mut chain = me.drain(&mut g, time);
                let _ = chain.append(g.packager.reset(time));
                // SAFETY: found connected under the stream's lock.
                (chain, g.sink.map(|s| unsafe { s.take_ref() }), true)
            } else {
                (Chain::new(), None, false)
            }
        };
        if stopped {
            me.miniport.kick_render();
        }
        me.deliver(chain, sink);
        if state == KsState::STOP {
            let n = loopback.discard();
            me.inner.lock().stats.bytes_discarded += n;
        }
        STATUS_SUCCESS
    }

    unsafe extern "system" fn put_message(this: *mut IMxf, evt: *mut DmusKernelEvent) -> NtStatus {
        // SAFETY: COM contract.
        let me = unsafe { Self::obj(this) };
        if evt.is_null() {
            me.service();
            return STATUS_SUCCESS;
        }
        me.inner.lock().stats.chains_refused += 1;
        // SAFETY: the caller gave us a chain of the port's allocator; it goes back there.
        unsafe { me.alloc.put_message(evt) };
        STATUS_INVALID_DEVICE_REQUEST
    }

    unsafe extern "system" fn connect_output(this: *mut IMxf, sink: *mut IMxf) -> NtStatus {
        // SAFETY: COM contract.
        let me = unsafe { Self::obj(this) };
        let status = me.connect(sink);
        crate::trace::outcome(
            &me.platform,
            format_args!("capture ConnectOutput({sink:p})"),
            status,
        )
    }

    unsafe extern "system" fn disconnect_output(this: *mut IMxf, sink: *mut IMxf) -> NtStatus {
        // SAFETY: COM contract.
        let me = unsafe { Self::obj(this) };
        let status = me.disconnect(sink);
        crate::trace::outcome(
            &me.platform,
            format_args!("capture DisconnectOutput({sink:p})"),
            status,
        )
    }

    /// The body of [`Self::connect_output`]: keeps `sink` (no reference, as DMusUART).
    fn connect(&self, sink: *mut IMxf) -> NtStatus {
        let me = self;
        let Some(sink) = NonNull::new(sink) else {
            return STATUS_INVALID_PARAMETER;
        };
        let mut g = me.inner.lock();
        if g.sink.is_some() {
            return STATUS_INVALID_DEVICE_STATE;
        }
        g.sink = Some(SinkRef(sink));
        STATUS_SUCCESS
    }

    /// The body of [`Self::disconnect_output`]: forgets `sink` (or any sink for NULL).
    fn disconnect(&self, sink: *mut IMxf) -> NtStatus {
        let mut g = self.inner.lock();
        match g.sink {
            _ if sink.is_null() => {
                g.sink = None;
                STATUS_SUCCESS
            }
            Some(s) if s.0.as_ptr() == sink => {
                g.sink = None;
                STATUS_SUCCESS
            }
            _ => STATUS_INVALID_PARAMETER,
        }
    }
}

// SAFETY: 1. `CaptureStream<P>` is `#[repr(C)]`, the vtable pointer first, then `mark`, set
// to `OurMark::of::<CaptureStream<P>>()` in `new_capture_stream` and never written again.
// 2. Only capture streams answer the private capture id, with themselves (`IIDS`, at offset 0).
unsafe impl<P: Platform> OurObject for CaptureStream<P> {
    const PRIVATE_IID: Guid = IID_MXF_PRIVATE_CAPTURE;
}

// SAFETY: `CaptureStream` is `#[repr(C)]` with its vtable pointer first; `VTBL` starts with
// `unknown_vtbl::<Self>()` and is an `IMxfVtbl`; the private IID is answered with the object
// itself (the `OurObject` its accessors ask for). Only `CaptureStream<P>` objects carry `VTBL`.
// `destroy` is sound at a zero count (see there).
unsafe impl<P: Platform> ComObject for CaptureStream<P> {
    type Platform = P;
    const NAME: &'static str = "capture stream";
    const IIDS: &'static [Guid] = &[IID_IUNKNOWN, IID_IMXF, IID_MXF_PRIVATE_CAPTURE];

    fn refs(&self) -> &RefCount {
        &self.refs
    }

    fn platform(&self) -> &P {
        &self.platform
    }

    unsafe fn destroy(this: *mut Self) {
        // Leave and detach from the cable, free the capture pin instance, then drop
        // everything (sink, packager and its held buffer, loopback and its allocator,
        // allocator, clock, miniport) and the memory.
        {
            // SAFETY: 1. `this` is live and ours alone (caller); the borrow ends with the
            // block, before the object is dropped.
            let me = unsafe { &*this };
            let running = me.inner.lock().state == KsState::RUN;
            // From here on the cable does not touch this stream's loopback.
            me.miniport.cable.detach(me.reader);
            if running {
                me.miniport.kick_render();
            }
            me.miniport.capture_open.free(me.instance);
        }
        // SAFETY: 2. ours alone, built by `PoolBox` with this tag, not used afterwards.
        unsafe { com::drop_and_free(this, TAG_CAPTURE_STREAM) };
    }
}
