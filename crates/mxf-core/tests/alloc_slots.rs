//! Every slot of our `IAllocatorMXF`, through the vtable, including bad input.

mod alloc_support;

use alloc_support::*;
use mxf_abi::*;
use mxf_core::alloc::{AllocatorConfig, TAG_BUFFERS, TAG_EVENTS, new_allocator};
use mxf_core::com::ComPtr;
use mxf_core::platform::DISPATCH_LEVEL;
use mxf_kemu::{Emu, EmuConfig, FaultPlan};
use std::ffi::c_void;
use std::ptr::{self, NonNull};

#[test]
fn query_interface_answers_the_three_iids_and_refuses_others() {
    let emu = emu();
    let p = make(&emu, small_cfg());
    let v = vt(&p);
    let this = p.as_raw().cast::<IUnknown>();
    for iid in [IID_IUNKNOWN, IID_IMXF, IID_IALLOCATOR_MXF] {
        let mut out: *mut c_void = ptr::null_mut();
        // SAFETY: live object, valid in/out pointers.
        let st = unsafe { (v.base.base.query_interface)(this, &iid, &mut out) };
        assert_eq!(st, STATUS_SUCCESS, "{iid}");
        assert_eq!(out, this.cast(), "{iid}");
        assert_eq!(ours(&p).ref_count(), 2, "QI adds a reference");
        // SAFETY: releasing the reference QI gave us.
        assert_eq!(unsafe { (v.base.base.release)(this) }, 1);
    }
    for iid in [IID_IPORT_DMUS, IID_IMINIPORT, Guid::from_u128(0x1234)] {
        let mut out: *mut c_void = ptr::dangling_mut::<c_void>();
        // SAFETY: as above.
        let st = unsafe { (v.base.base.query_interface)(this, &iid, &mut out) };
        assert_eq!(st, STATUS_INVALID_PARAMETER);
        assert!(out.is_null(), "*ppv = NULL on failure");
        assert_eq!(ours(&p).ref_count(), 1);
    }
    // NULL riid: refused, `*ppv` cleared (the one QueryInterface behaviour of
    // `mxf_core::com`, as on every other failure); NULL ppv: refused without writing.
    let mut out: *mut c_void = 0x8 as *mut c_void;
    // SAFETY: a live object; the callee must not dereference the null `riid`.
    let st = unsafe { (v.base.base.query_interface)(this, ptr::null(), &mut out) };
    assert_eq!(st, STATUS_INVALID_PARAMETER);
    assert!(out.is_null());
    // SAFETY: a live object; the callee must not dereference the null `ppv`.
    let st = unsafe { (v.base.base.query_interface)(this, &IID_IMXF, ptr::null_mut()) };
    assert_eq!(st, STATUS_INVALID_PARAMETER);
    assert_eq!(ours(&p).ref_count(), 1);
    // ComPtr::query goes through the same slot.
    let mxf: ComPtr<IMxf> = p.query().expect("IMXF");
    assert_eq!(ours(&p).ref_count(), 2);
    drop(mxf);
    drop(p);
    assert_clean_unload(&emu);
}

#[test]
fn add_ref_and_release_count_and_the_last_release_frees_everything() {
    let emu = emu();
    let p = make(&emu, small_cfg());
    let v = vt(&p);
    let this = p.as_raw().cast::<IUnknown>();
    // SAFETY: a live object; the reference made is given back below.
    assert_eq!(unsafe { (v.base.base.add_ref)(this) }, 2);
    // SAFETY: as above.
    assert_eq!(unsafe { (v.base.base.add_ref)(this) }, 3);
    // SAFETY: gives back one of the two references just made.
    assert_eq!(unsafe { (v.base.base.release)(this) }, 2);
    // SAFETY: gives back the other; `p`'s own reference is left.
    assert_eq!(unsafe { (v.base.base.release)(this) }, 1);
    let q = p.clone();
    assert_eq!(ours(&q).ref_count(), 2);
    drop(q);
    assert_eq!(ours(&p).ref_count(), 1);
    let report = emu.pool_report();
    assert!(
        report.tag(TAG_EVENTS).count >= 4,
        "event reserve pre-filled"
    );
    assert!(
        report.tag(TAG_BUFFERS).count >= 2,
        "buffer reserve pre-filled"
    );
    drop(p); // the last Release
    assert_clean_unload(&emu);
}

#[test]
fn set_state_accepts_the_four_ksstates_only() {
    let emu = emu();
    let p = make(&emu, small_cfg());
    let mxf = p.as_mxf();
    for s in [
        KsState::ACQUIRE,
        KsState::PAUSE,
        KsState::RUN,
        KsState::STOP,
    ] {
        assert_eq!(mxf.set_state(s), STATUS_SUCCESS);
        assert_eq!(ours(&p).state(), s);
    }
    for s in [KsState(4), KsState(-1), KsState(i32::MAX)] {
        assert_eq!(mxf.set_state(s), STATUS_INVALID_PARAMETER);
        assert_eq!(ours(&p).state(), KsState::STOP, "unchanged");
    }
    drop((mxf, p));
    assert_clean_unload(&emu);
}

#[test]
fn connect_and_disconnect_output_accept_a_sink_without_holding_it() {
    let emu = emu();
    let p = make(&emu, small_cfg());
    let sink_alloc = make(&emu, small_cfg());
    let sink = sink_alloc.as_mxf();
    let mxf = p.as_mxf();
    let before = ours(&sink_alloc).ref_count();
    assert_eq!(mxf.connect_output(&sink), STATUS_SUCCESS);
    assert_eq!(ours(&sink_alloc).ref_count(), before, "no reference kept");
    assert_eq!(mxf.disconnect_output(&sink), STATUS_SUCCESS);
    assert_eq!(ours(&sink_alloc).ref_count(), before);
    let v = vt(&p);
    // SAFETY: a live object; a null sink must be refused, not dereferenced.
    let st = unsafe { (v.base.connect_output)(mxf.as_raw(), ptr::null_mut()) };
    assert_eq!(st, STATUS_INVALID_PARAMETER);
    // SAFETY: as above.
    let st = unsafe { (v.base.disconnect_output)(mxf.as_raw(), ptr::null_mut()) };
    assert_eq!(st, STATUS_INVALID_PARAMETER);
    drop((mxf, sink, sink_alloc, p));
    assert_clean_unload(&emu);
}

#[test]
fn get_message_returns_zeroed_events_with_cb_struct_40() {
    let emu = emu();
    let p = make(&emu, small_cfg());
    emu.at_irql(DISPATCH_LEVEL, || {
        // Dirty every event before returning it, then get them all back: still zeroed.
        let evs: Vec<_> = (0..10).map(|_| p.get_message().unwrap()).collect();
        for &e in &evs {
            assert!(is_fresh(e));
            // SAFETY: test-owned event; dirty every byte (incl. the union, flags, next).
            unsafe { e.as_ptr().cast::<u8>().write_bytes(0xA5, 40) };
            // SAFETY: keep `p_next_evt` null so each event is a chain of one.
            unsafe { (*e.as_ptr()).p_next_evt = ptr::null_mut() };
            // SAFETY: cb_event 0xA5A5 > 8 with pbData garbage would be recycled as a
            // buffer: make it a short event.
            unsafe { (*e.as_ptr()).cb_event = 3 };
            // SAFETY: flags 0xA5A5 include PACKAGE: clear them.
            unsafe { (*e.as_ptr()).us_flags = 0 };
        }
        for e in evs {
            // SAFETY: our own event, given back once.
            assert_eq!(unsafe { p.put_message(e.as_ptr()) }, STATUS_SUCCESS);
        }
        for _ in 0..10 {
            let e = p.get_message().unwrap();
            assert!(is_fresh(e));
            // SAFETY: as above.
            unsafe { p.put_message(e.as_ptr()) };
        }
    });
    // NULL out-pointer.
    // SAFETY: must be refused without a write.
    let st = unsafe { (vt(&p).get_message)(p.as_raw(), ptr::null_mut()) };
    assert_eq!(st, STATUS_INVALID_PARAMETER);
    let s = ours(&p).stats();
    assert_eq!((s.gets, s.puts, s.outstanding_events), (20, 20, 0));
    assert_eq!(s.high_water_events, 10);
    drop(p);
    assert_clean_unload(&emu);
}

#[test]
fn put_message_of_a_null_chain_is_a_no_op() {
    let emu = emu();
    let p = make(&emu, small_cfg());
    // SAFETY: a null chain.
    assert_eq!(unsafe { p.put_message(ptr::null_mut()) }, STATUS_SUCCESS);
    assert_eq!(ours(&p).stats().puts, 0);
    drop(p);
    assert_clean_unload(&emu);
}

#[test]
fn buffers_have_exactly_buffer_size_usable_bytes() {
    let emu = emu(); // special pool: guards right after each block
    for size in [9u16, 64, 4080, 65535] {
        let cfg = AllocatorConfig {
            buffer_size: size,
            ..small_cfg()
        };
        let p = make(&emu, cfg);
        assert_eq!(p.buffer_size(), size);
        // SAFETY: the slot takes only `this`.
        assert_eq!(unsafe { (vt(&p).get_buffer_size)(p.as_raw()) }, size);
        let bufs: Vec<_> = (0..5).map(|_| p.get_buffer().unwrap()).collect();
        for &b in &bufs {
            assert_eq!(b.as_ptr() as usize % 16, 0, "16-aligned");
            // SAFETY: the buffer has `size` bytes: write them all.
            unsafe { b.as_ptr().write_bytes(0x5A, usize::from(size)) };
        }
        emu.check_pool()
            .expect("writing the whole buffer stays inside the block");
        for b in bufs {
            // SAFETY: our buffer, given back once.
            assert_eq!(unsafe { p.put_buffer(b) }, STATUS_SUCCESS);
        }
        drop(p);
    }
    assert_clean_unload(&emu);
}

#[test]
fn get_buffer_and_put_buffer_refuse_null_pointers() {
    let emu = emu();
    let p = make(&emu, small_cfg());
    let v = vt(&p);
    // SAFETY: a live object; a null out-pointer must be refused without dereferencing.
    let st = unsafe { (v.get_buffer)(p.as_raw(), ptr::null_mut()) };
    assert_eq!(st, STATUS_INVALID_PARAMETER);
    // SAFETY: a live object; a null buffer must be refused without dereferencing.
    let st = unsafe { (v.put_buffer)(p.as_raw(), ptr::null_mut()) };
    assert_eq!(st, STATUS_INVALID_PARAMETER);
    let s = ours(&p).stats();
    assert_eq!((s.buffer_gets, s.buffer_puts, s.failures), (0, 0, 0));
    drop(p);
    assert_clean_unload(&emu);
}

#[test]
fn buffer_size_bounds() {
    let emu = emu();
    for bad in [0u16, 1, 8] {
        let cfg = AllocatorConfig {
            buffer_size: bad,
            ..small_cfg()
        };
        assert_eq!(
            new_allocator(emu.clone(), cfg).err(),
            Some(mxf_abi::NtError::INVALID_PARAMETER),
            "{bad}"
        );
    }
    for good in [9u16, 65535] {
        let cfg = AllocatorConfig {
            buffer_size: good,
            ..small_cfg()
        };
        let p = new_allocator(emu.clone(), cfg).expect("valid size");
        assert_eq!(p.buffer_size(), good);
    }
    assert_clean_unload(&emu);
}

#[test]
fn other_config_bounds() {
    let emu = emu();
    let bad = [
        AllocatorConfig {
            max_events: 0,
            reserve_events: 0,
            ..small_cfg()
        },
        AllocatorConfig {
            max_events: 3,
            reserve_events: 4,
            ..small_cfg()
        },
        AllocatorConfig {
            max_buffers: 1,
            reserve_buffers: 2,
            ..small_cfg()
        },
    ];
    for cfg in bad {
        assert_eq!(
            new_allocator(emu.clone(), cfg).err(),
            Some(mxf_abi::NtError::INVALID_PARAMETER),
            "{cfg:?}"
        );
    }
    let no_buffers = AllocatorConfig {
        max_buffers: 0,
        reserve_buffers: 0,
        ..small_cfg()
    };
    let p = make(&emu, no_buffers);
    assert_eq!(
        p.get_buffer().err(),
        Some(mxf_abi::NtError::INSUFFICIENT_RESOURCES)
    );
    drop(p);
    let p = make(&emu, AllocatorConfig::default());
    assert_eq!(p.buffer_size(), 4080);
    let s = ours(&p).stats();
    assert_eq!((s.reserve_free_events, s.reserve_free_buffers), (256, 8));
    drop(p);
    assert_clean_unload(&emu);
}

#[test]
fn reserve_first_then_pool_and_cap_is_insufficient_resources_with_null_out() {
    let emu = emu();
    let p = make(&emu, small_cfg()); // reserve 4 events, max 16
    let a = ours(&p);
    let mut evs = Vec::new();
    for i in 0..16u64 {
        evs.push(p.get_message().unwrap());
        let s = a.stats();
        assert_eq!(s.reserve_hits, (i + 1).min(4));
        assert_eq!(s.pool_misses, (i + 1).saturating_sub(4));
    }
    assert_eq!(
        a.event_pool_stats().allocs,
        4 + 12,
        "4 at creation + 12 misses"
    );
    // The cap, through the raw slot: error and *pp = NULL.
    let mut out = NonNull::<DmusKernelEvent>::dangling().as_ptr();
    // SAFETY: valid out-pointer.
    let st = unsafe { (vt(&p).get_message)(p.as_raw(), &mut out) };
    assert_eq!(st, STATUS_INSUFFICIENT_RESOURCES);
    assert!(out.is_null());
    assert_eq!(a.stats().failures, 1);
    assert_eq!(a.stats().outstanding_events, 16);
    // Same for buffers (max 8).
    let bufs: Vec<_> = (0..8).map(|_| p.get_buffer().unwrap()).collect();
    let mut bout = NonNull::<u8>::dangling().as_ptr();
    // SAFETY: valid out-pointer.
    let st = unsafe { (vt(&p).get_buffer)(p.as_raw(), &mut bout) };
    assert_eq!(st, STATUS_INSUFFICIENT_RESOURCES);
    assert!(bout.is_null());
    // Everything back: one chain of 16 events.
    // SAFETY: our events.
    unsafe { p.put_message(link(&evs)) };
    for b in bufs {
        // SAFETY: our buffers.
        unsafe { p.put_buffer(b) };
    }
    let s = a.stats();
    assert_eq!((s.outstanding_events, s.outstanding_buffers), (0, 0));
    assert_eq!((s.reserve_free_events, s.reserve_free_buffers), (4, 2));
    assert_eq!((s.high_water_events, s.high_water_buffers), (16, 8));
    assert_eq!(s.failures, 2);
    // Pool blocks went back to the pool, reserve blocks to the reserve.
    assert_eq!(a.event_pool_stats().frees, 12);
    drop(p);
    assert_clean_unload(&emu);
}

#[test]
fn fault_injection_counts_failures_and_leaks_nothing() {
    let emu = Emu::new(EmuConfig {
        lookaside_depth: Some(0),
        ..EmuConfig::default()
    });
    let p = make(&emu, small_cfg());
    emu.set_fault_plan(FaultPlan::EveryNth(2));
    let mut evs = Vec::new();
    let mut bufs = Vec::new();
    let mut fails = 0;
    emu.at_irql(DISPATCH_LEVEL, || {
        for _ in 0..14 {
            match p.get_message() {
                Ok(e) => {
                    assert!(is_fresh(e));
                    evs.push(e)
                }
                Err(s) => {
                    assert_eq!(s, mxf_abi::NtError::INSUFFICIENT_RESOURCES);
                    fails += 1
                }
            }
            match p.get_buffer() {
                Ok(b) => bufs.push(b),
                Err(_) => fails += 1,
            }
        }
    });
    let s = ours(&p).stats();
    assert!(fails > 0);
    assert_eq!(s.failures, fails);
    assert_eq!(s.gets as usize, evs.len());
    assert_eq!(s.buffer_gets as usize, bufs.len());
    emu.set_fault_plan(FaultPlan::None);
    // SAFETY: our events, linked into one chain and given back once.
    unsafe { p.put_message(link(&evs)) };
    for b in bufs {
        // SAFETY: a buffer of ours, given back once.
        unsafe { p.put_buffer(b) };
    }
    let s = ours(&p).stats();
    assert_eq!((s.outstanding_events, s.outstanding_buffers), (0, 0));
    drop(p);
    assert_clean_unload(&emu);
}

#[test]
fn creation_fails_cleanly_when_the_pool_fails() {
    let emu = emu();
    for n in 1..=8 {
        emu.set_fault_plan(FaultPlan::EveryNth(n));
        match new_allocator(emu.clone(), small_cfg()) {
            Ok(p) => drop(p),
            Err(s) => assert_eq!(s, mxf_abi::NtError::INSUFFICIENT_RESOURCES),
        }
    }
    emu.set_fault_plan(FaultPlan::EveryNth(1));
    assert_eq!(
        new_allocator(emu.clone(), small_cfg()).err(),
        Some(mxf_abi::NtError::INSUFFICIENT_RESOURCES)
    );
    emu.set_fault_plan(FaultPlan::None);
    assert_clean_unload(&emu);
}

#[test]
fn query_interface_answers_the_private_iid_with_the_object_itself() {
    let emu = emu();
    let p = make(&emu, small_cfg());
    let this = p.as_raw().cast::<IUnknown>();
    let mut out: *mut c_void = ptr::null_mut();
    // SAFETY: live object, valid in/out pointers.
    let st = unsafe {
        (vt(&p).base.base.query_interface)(
            this,
            &mxf_core::alloc::IID_MXF_PRIVATE_ALLOCATOR,
            &mut out,
        )
    };
    assert_eq!(st, STATUS_SUCCESS);
    assert_eq!(out, this.cast());
    assert_eq!(ours(&p).ref_count(), 2, "QI adds a reference");
    // SAFETY: releasing the reference QI gave us.
    assert_eq!(unsafe { (vt(&p).base.base.release)(this) }, 1);
    drop(p);
    assert_clean_unload(&emu);
}

/// A foreign `IAllocatorMXF` for `from_com`: our own slots except `QueryInterface`,
/// `AddRef` and `Release`, which are its own; `answer` is what its `QueryInterface` hands
/// out for the private id (null: refuses it, as every foreign object does).
#[repr(C)]
struct Fake {
    vtbl: *const IAllocatorMxfVtbl,
    answer: *mut IAllocatorMxf,
    refs: std::sync::atomic::AtomicU32,
    queried: std::sync::atomic::AtomicU32,
}

unsafe extern "system" fn fake_query_interface(
    this: *mut IUnknown,
    iid: *const Guid,
    out: *mut *mut c_void,
) -> NtStatus {
    // SAFETY: `this` is a live `Fake` (the test's).
    let f = unsafe { &*this.cast::<Fake>() };
    // SAFETY: the callers in this file pass a valid `iid`.
    let iid = unsafe { *iid };
    f.queried.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let got: *mut c_void = if iid == IID_IUNKNOWN || iid == IID_IMXF || iid == IID_IALLOCATOR_MXF {
        f.refs.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        this.cast()
    } else if iid == mxf_core::alloc::IID_MXF_PRIVATE_ALLOCATOR && !f.answer.is_null() {
        // Hands out another object (one of ours), with a reference, as a lying QI might.
        let a = f.answer.cast::<IUnknown>();
        // SAFETY: `answer` is a live object of ours, whose first field is its vtable pointer.
        let table = unsafe { (*a).vtbl };
        // SAFETY: the static vtable of a live object.
        let add_ref = unsafe { (*table).add_ref };
        // SAFETY: a live object; the reference goes to the QI's caller.
        unsafe { add_ref(a) };
        a.cast()
    } else {
        ptr::null_mut()
    };
    // SAFETY: valid out-pointer.
    unsafe { *out = got };
    if got.is_null() {
        STATUS_INVALID_PARAMETER
    } else {
        STATUS_SUCCESS
    }
}

unsafe extern "system" fn fake_add_ref(this: *mut IUnknown) -> u32 {
    // SAFETY: a live `Fake`.
    unsafe { &*this.cast::<Fake>() }
        .refs
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        + 1
}

unsafe extern "system" fn fake_release(this: *mut IUnknown) -> u32 {
    // SAFETY: a live `Fake`.
    unsafe { &*this.cast::<Fake>() }
        .refs
        .fetch_sub(1, std::sync::atomic::Ordering::Relaxed)
        - 1
}

#[test]
fn from_com_recognises_only_our_objects() {
    use std::sync::atomic::{AtomicU32, Ordering::Relaxed};
    let emu = emu();
    let p = make(&emu, small_cfg());
    assert!(mxf_core::alloc::Allocator::from_com(&p).is_some());
    assert_eq!(
        ours(&p).ref_count(),
        1,
        "the probe's reference is given back"
    );
    let real = vt(&p);
    // Our own functions in every other slot, in a table of the fake's making: not ours
    // (identity is answering the private id with itself, not the functions or the table).
    let copy = IAllocatorMxfVtbl {
        base: IMxfVtbl {
            base: IUnknownVtbl {
                query_interface: fake_query_interface,
                add_ref: fake_add_ref,
                release: fake_release,
            },
            set_state: real.base.set_state,
            put_message: real.base.put_message,
            connect_output: real.base.connect_output,
            disconnect_output: real.base.disconnect_output,
        },
        get_message: real.get_message,
        get_buffer_size: real.get_buffer_size,
        get_buffer: real.get_buffer,
        put_buffer: real.put_buffer,
    };
    for answer in [ptr::null_mut(), p.as_raw()] {
        let mut fake = Fake {
            vtbl: &copy,
            answer,
            refs: AtomicU32::new(0),
            queried: AtomicU32::new(0),
        };
        fake.refs.store(1, Relaxed);
        // SAFETY: `fake` starts with a vtable pointer whose IUnknown slots are its own;
        // the ComPtr takes over the one reference counted above.
        let fp: ComPtr<IAllocatorMxf> =
            unsafe { ComPtr::from_raw(NonNull::from(&mut fake).cast::<IAllocatorMxf>()) };
        assert!(mxf_core::alloc::Allocator::from_com(&fp).is_none());
        assert_eq!(
            fake.queried.load(Relaxed),
            1,
            "asked once, through its own QI"
        );
        assert_eq!(fake.refs.load(Relaxed), 1, "the fake's references balance");
        assert_eq!(
            ours(&p).ref_count(),
            1,
            "a reference handed out is given back"
        );
        drop(fp);
        assert_eq!(fake.refs.load(Relaxed), 0);
    }
    drop(p);
    assert_clean_unload(&emu);
}
