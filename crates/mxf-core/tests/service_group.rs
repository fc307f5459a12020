//! Our IServiceGroup on the emulator: members serviced, references kept and released,
//! delayed service over the timer, QueryInterface.

use mxf_abi::{
    Guid, IID_IMXF, IID_ISERVICE_GROUP, IID_ISERVICE_SINK, IID_IUNKNOWN, IServiceGroup,
    IServiceSink, IServiceSinkVtbl, IUnknown, IUnknownVtbl, NtStatus,
    STATUS_INSUFFICIENT_RESOURCES, STATUS_INVALID_PARAMETER, STATUS_SUCCESS,
};
use mxf_core::com::ComPtr;
use mxf_core::service::{
    MAX_MEMBERS, ServiceGroupExt, member_count, new_service_group, service_stats,
};
use mxf_kemu::{Emu, EmuConfig};
use std::ffi::c_void;
use std::ptr::{self, NonNull};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

/// A sink counting its RequestService calls; `refs` and `calls` are shared with the test.
#[repr(C)]
struct Sink {
    vtbl: *const IServiceSinkVtbl,
    refs: Arc<AtomicU32>,
    calls: Arc<AtomicU32>,
}

static SINK_VTBL: IServiceSinkVtbl = IServiceSinkVtbl {
    base: IUnknownVtbl {
        query_interface: sink_qi,
        add_ref: sink_add_ref,
        release: sink_release,
    },
    request_service: sink_request,
};

unsafe extern "system" fn sink_qi(
    _: *mut IUnknown,
    _: *const Guid,
    out: *mut *mut c_void,
) -> NtStatus {
    // SAFETY: test caller passes a valid out-pointer.
    unsafe { *out = ptr::null_mut() };
    STATUS_INVALID_PARAMETER
}
unsafe extern "system" fn sink_add_ref(this: *mut IUnknown) -> u32 {
    // SAFETY: `this` is a live Sink.
    unsafe { &*this.cast::<Sink>() }
        .refs
        .fetch_add(1, Ordering::Relaxed)
        + 1
}
unsafe extern "system" fn sink_release(this: *mut IUnknown) -> u32 {
    // SAFETY: `this` is a live Sink.
    let n = unsafe { &*this.cast::<Sink>() }
        .refs
        .fetch_sub(1, Ordering::AcqRel)
        - 1;
    if n == 0 {
        // SAFETY: the last reference: the Box from `new_sink` is freed once.
        drop(unsafe { Box::from_raw(this.cast::<Sink>()) });
    }
    n
}
unsafe extern "system" fn sink_request(this: *mut IServiceSink) {
    // SAFETY: `this` is a live Sink.
    unsafe { &*this.cast::<Sink>() }
        .calls
        .fetch_add(1, Ordering::Relaxed);
}

/// The `IUnknown` slots of a live group's vtable.
fn unknown_slots(g: &ComPtr<IServiceGroup>) -> &IUnknownVtbl {
    // SAFETY: `g` keeps the object alive; a COM object's first field is its vtable pointer.
    let table = unsafe { (*g.as_raw()).vtbl };
    // SAFETY: a group's vtable is a static `IServiceGroupVtbl`, which starts with IUnknown's
    // slots.
    &unsafe { &*table }.base.base
}

fn new_sink() -> (ComPtr<IServiceSink>, Arc<AtomicU32>, Arc<AtomicU32>) {
    let refs = Arc::new(AtomicU32::new(1));
    let calls = Arc::new(AtomicU32::new(0));
    let b = Box::new(Sink {
        vtbl: &SINK_VTBL,
        refs: refs.clone(),
        calls: calls.clone(),
    });
    // SAFETY: a fresh object carrying its one initial reference.
    let p = unsafe { ComPtr::from_raw(NonNull::new(Box::into_raw(b).cast()).unwrap()) };
    (p, refs, calls)
}

#[test]
fn members_are_serviced_and_their_references_managed() {
    let emu = Emu::new(EmuConfig::verifier());
    let g = new_service_group(emu.clone()).unwrap();
    let (a, a_refs, a_calls) = new_sink();
    let (b, b_refs, b_calls) = new_sink();
    assert_eq!(g.add_member(&a), STATUS_SUCCESS);
    assert_eq!(g.add_member(&b), STATUS_SUCCESS);
    assert_eq!(
        a_refs.load(Ordering::Relaxed),
        2,
        "the group holds a reference"
    );
    emu.at_irql(mxf_core::platform::DISPATCH_LEVEL, || g.request_service());
    emu.advance_time(0);
    g.request_service();
    emu.advance_time(0);
    assert_eq!(a_calls.load(Ordering::Relaxed), 2);
    assert_eq!(b_calls.load(Ordering::Relaxed), 2);
    g.remove_member(&a);
    assert_eq!(a_refs.load(Ordering::Relaxed), 1);
    g.request_service();
    emu.advance_time(0);
    assert_eq!(
        (
            a_calls.load(Ordering::Relaxed),
            b_calls.load(Ordering::Relaxed)
        ),
        (2, 3)
    );
    assert_eq!(member_count::<Emu>(&g), Some(1));
    let st = service_stats::<Emu>(&g).unwrap();
    assert_eq!((st.requests, st.services, st.member_calls), (3, 3, 5));
    // Removing a non-member is harmless.
    g.remove_member(&a);
    drop(g);
    assert_eq!(b_refs.load(Ordering::Relaxed), 1, "released with the group");
    drop((a, b));
    emu.unload().expect("clean unload");
}

#[test]
fn a_full_group_refuses() {
    let emu = Emu::new(EmuConfig::verifier());
    let g = new_service_group(emu.clone()).unwrap();
    let (s, refs, calls) = new_sink();
    for _ in 0..MAX_MEMBERS {
        assert_eq!(g.add_member(&s), STATUS_SUCCESS);
    }
    assert_eq!(g.add_member(&s), STATUS_INSUFFICIENT_RESOURCES);
    assert_eq!(refs.load(Ordering::Relaxed), 1 + MAX_MEMBERS as u32);
    g.request_service();
    emu.advance_time(0);
    assert_eq!(calls.load(Ordering::Relaxed), MAX_MEMBERS as u32);
    assert_eq!(service_stats::<Emu>(&g).unwrap().add_refused, 1);
    drop(g);
    assert_eq!(refs.load(Ordering::Relaxed), 1);
    drop(s);
    emu.unload().expect("clean unload");
}

#[test]
fn delayed_service_fires_on_the_timer_and_can_be_cancelled() {
    let emu = Emu::new(EmuConfig::verifier());
    let g = new_service_group(emu.clone()).unwrap();
    let (s, _refs, calls) = new_sink();
    g.add_member(&s);
    // Not enabled yet: ignored.
    g.request_delayed_service((-10_000i64) as u64);
    emu.advance_time(20_000);
    assert_eq!(calls.load(Ordering::Relaxed), 0);
    assert_eq!(service_stats::<Emu>(&g).unwrap().delayed_refused, 1);
    g.support_delayed_service();
    // Relative 1 ms.
    g.request_delayed_service((-10_000i64) as u64);
    emu.advance_time(9_999);
    assert_eq!(calls.load(Ordering::Relaxed), 0);
    emu.advance_time(1);
    assert_eq!(calls.load(Ordering::Relaxed), 1);
    // Absolute: a system time, 0.5 ms from now.
    let at = emu.system_time_100ns() + 5_000;
    g.request_delayed_service(at as u64);
    assert_eq!(emu.next_timer_due(), Some(emu.now_100ns() + 5_000));
    emu.advance_time(5_000);
    assert_eq!(calls.load(Ordering::Relaxed), 2);
    // Cancelled.
    g.request_delayed_service((-10_000i64) as u64);
    g.cancel_delayed_service();
    emu.advance_time(50_000);
    assert_eq!(calls.load(Ordering::Relaxed), 2);
    let st = service_stats::<Emu>(&g).unwrap();
    assert_eq!(
        (st.delayed_fired, st.delayed_cancelled, st.delayed_requests),
        (2, 1, 3)
    );
    drop(g);
    drop(s);
    emu.unload().expect("clean unload: the timer was deleted");
}

/// A sink recording the IRQL of its RequestService calls, and whether a group call made from
/// the test is still on the stack when it runs.
static IN_CALLER: AtomicU32 = AtomicU32::new(0);
static SEEN_IN_CALLER: AtomicU32 = AtomicU32::new(0);
static SEEN_AT_DISPATCH: AtomicU32 = AtomicU32::new(0);
static PROBE_EMU: std::sync::Mutex<Option<Emu>> = std::sync::Mutex::new(None);

unsafe extern "system" fn probe_request(this: *mut IServiceSink) {
    // SAFETY: `this` is a live Sink.
    unsafe { sink_request(this) };
    if IN_CALLER.load(Ordering::Relaxed) != 0 {
        SEEN_IN_CALLER.fetch_add(1, Ordering::Relaxed);
    }
    let irql = PROBE_EMU
        .lock()
        .unwrap()
        .as_ref()
        .map(mxf_core::platform::Platform::current_irql);
    if irql == Some(mxf_core::platform::DISPATCH_LEVEL) {
        SEEN_AT_DISPATCH.fetch_add(1, Ordering::Relaxed);
    }
}

static PROBE_VTBL: IServiceSinkVtbl = IServiceSinkVtbl {
    base: IUnknownVtbl {
        query_interface: sink_qi,
        add_ref: sink_add_ref,
        release: sink_release,
    },
    request_service: probe_request,
};

#[test]
fn request_service_queues_a_dpc_and_never_calls_members_in_the_callers_stack() {
    let emu = Emu::new(EmuConfig::verifier());
    *PROBE_EMU.lock().unwrap() = Some(emu.clone());
    let g = new_service_group(emu.clone()).unwrap();
    let (s, _refs, calls) = new_sink();
    // SAFETY: the Sink's vtable pointer is its first field; swap in the probing table.
    unsafe { (*s.as_raw().cast::<Sink>()).vtbl = &PROBE_VTBL };
    g.add_member(&s);
    IN_CALLER.store(1, Ordering::Relaxed);
    g.request_service();
    emu.at_irql(mxf_core::platform::DISPATCH_LEVEL, || g.request_service());
    IN_CALLER.store(0, Ordering::Relaxed);
    assert_eq!(
        calls.load(Ordering::Relaxed),
        0,
        "nothing serviced in the caller"
    );
    assert_eq!(
        emu.next_timer_due(),
        Some(emu.now_100ns()),
        "the DPC is queued now"
    );
    emu.advance_time(0);
    // Both requests were made before the DPC ran: one service serves them.
    assert_eq!(calls.load(Ordering::Relaxed), 1);
    assert_eq!(SEEN_IN_CALLER.load(Ordering::Relaxed), 0);
    assert_eq!(
        SEEN_AT_DISPATCH.load(Ordering::Relaxed),
        1,
        "on the DPC, at DISPATCH_LEVEL"
    );
    let st = service_stats::<Emu>(&g).unwrap();
    assert_eq!((st.requests, st.services, st.member_calls), (2, 1, 1));
    drop(g);
    drop(s);
    *PROBE_EMU.lock().unwrap() = None;
    emu.unload().expect("clean unload: both timers deleted");
}

#[test]
fn a_positive_delayed_service_time_is_system_time_not_the_monotonic_clock() {
    let emu = Emu::new(EmuConfig::verifier());
    // The wall clock far from the monotonic one, as on any real machine.
    emu.set_system_time(emu.now_100ns() + 1_000_000_000);
    let g = new_service_group(emu.clone()).unwrap();
    let (s, _refs, calls) = new_sink();
    g.add_member(&s);
    g.support_delayed_service();
    let at = emu.system_time_100ns() + 20_000;
    g.request_delayed_service(at as u64);
    assert_eq!(emu.next_timer_due(), Some(emu.now_100ns() + 20_000));
    emu.advance_time(19_999);
    assert_eq!(calls.load(Ordering::Relaxed), 0);
    emu.advance_time(1);
    assert_eq!(calls.load(Ordering::Relaxed), 1);
    // A system time already past fires at once (it is not read as a monotonic time either).
    g.request_delayed_service((emu.system_time_100ns() - 1) as u64);
    emu.advance_time(0);
    assert_eq!(calls.load(Ordering::Relaxed), 2);
    drop(g);
    drop(s);
    emu.unload().expect("clean unload");
}

#[test]
fn query_interface_answers_the_three_interfaces() {
    let emu = Emu::new(EmuConfig::verifier());
    let g = new_service_group(emu.clone()).unwrap();
    let unk: ComPtr<IUnknown> = g.query().unwrap();
    assert_eq!(unk.as_raw().cast::<c_void>(), g.as_raw().cast());
    let sink: ComPtr<IServiceSink> = g.query().unwrap();
    let g2: ComPtr<IServiceGroup> = sink.query().unwrap();
    assert_eq!(g2.as_raw(), g.as_raw());
    for iid in [IID_IUNKNOWN, IID_ISERVICE_SINK, IID_ISERVICE_GROUP] {
        let mut out: *mut c_void = ptr::null_mut();
        // SAFETY: a live group; valid iid and out pointers.
        let st = unsafe { (unknown_slots(&g).query_interface)(g.as_raw().cast(), &iid, &mut out) };
        assert_eq!(st, STATUS_SUCCESS);
        // SAFETY: the reference QueryInterface handed out is released once.
        drop(unsafe { ComPtr::<IUnknown>::from_raw(NonNull::new(out.cast()).unwrap()) });
    }
    let mut out: *mut c_void = ptr::dangling_mut::<c_void>();
    // SAFETY: a live group; valid iid and out pointers.
    let st = unsafe { (unknown_slots(&g).query_interface)(g.as_raw().cast(), &IID_IMXF, &mut out) };
    assert_eq!(st, STATUS_INVALID_PARAMETER);
    assert!(out.is_null());
    drop((unk, sink, g2, g));
    emu.unload().expect("clean unload");
}
