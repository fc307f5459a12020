#![allow(clippy::new_ret_no_self)] // constructors return the interface pointer the miniport sees
//! A minimal DMus port for tests: it does what PortCls's port does with a miniport, no more.
//!
//! - [`TestPort`] implements `IPortDMus`: `Notify(group)` services the group at once (on the
//!   calling CPU, as a DPC would a moment later) and counts the calls.
//! - [`PinSink`] is the capture pin's `IServiceSink`, member of the miniport's group: its
//!   `RequestService` calls the capture stream's `PutMessage(NULL)`.
//! - [`CaptureSink`] is the `IMXF` the capture stream is connected to: it copies the bytes
//!   and timestamps of every event and returns the chain to the port's allocator.

use mxf_abi::*;
use mxf_core::com::ComPtr;
use mxf_testkit::port_slots;
use std::ffi::c_void;
use std::ptr::{self, NonNull};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};

macro_rules! com_box {
    ($t:ty, $vt:ty, $qi:ident, $ar:ident, $rl:ident) => {
        unsafe extern "system" fn $qi(
            _this: *mut IUnknown,
            _iid: *const Guid,
            out: *mut *mut c_void,
        ) -> NtStatus {
            // SAFETY: callers pass a valid out-pointer.
            unsafe { *out = ptr::null_mut() };
            STATUS_INVALID_PARAMETER
        }
        unsafe extern "system" fn $ar(this: *mut IUnknown) -> u32 {
            // SAFETY: `this` is a live object of this type.
            unsafe { &*this.cast::<$t>() }
                .refs
                .fetch_add(1, Ordering::Relaxed)
                + 1
        }
        unsafe extern "system" fn $rl(this: *mut IUnknown) -> u32 {
            // SAFETY: `this` is a live object of this type.
            let n = unsafe { &*this.cast::<$t>() }
                .refs
                .fetch_sub(1, Ordering::AcqRel)
                - 1;
            if n == 0 {
                // SAFETY: the last reference frees the Box once.
                drop(unsafe { Box::from_raw(this.cast::<$t>()) });
            }
            n
        }
    };
}

/// The port.
#[repr(C)]
pub struct TestPort {
    vtbl: *const IPortDMusVtbl,
    refs: AtomicU32,
    pub notifies: AtomicU32,
}

com_box!(TestPort, IPortDMusVtbl, port_qi, port_add_ref, port_release);

unsafe extern "system" fn port_init(
    _: *mut IPort,
    _: PDeviceObject,
    _: PIrp,
    _: *mut IUnknown,
    _: *mut IUnknown,
    _: PResourceList,
) -> NtStatus {
    STATUS_NOT_IMPLEMENTED
}
unsafe extern "system" fn port_notify(this: *mut IPortDMus, group: *mut IServiceGroup) {
    // SAFETY: `this` is a live TestPort.
    unsafe { &*this.cast::<TestPort>() }
        .notifies
        .fetch_add(1, Ordering::Relaxed);
    if let Some(g) = NonNull::new(group) {
        // SAFETY: the miniport passes its live group.
        let g = unsafe { ComPtr::from_raw_add_ref(g) };
        g.request_service();
    }
}
unsafe extern "system" fn port_register(_: *mut IPortDMus, _: *mut IServiceGroup) {}

static PORT_VTBL: IPortDMusVtbl = IPortDMusVtbl {
    base: IPortVtbl {
        base: IUnknownVtbl {
            query_interface: port_qi,
            add_ref: port_add_ref,
            release: port_release,
        },
        init: port_init,
        get_device_property: port_slots::get_device_property,
        new_registry_key: port_slots::new_registry_key,
    },
    notify: port_notify,
    register_service_group: port_register,
};

impl TestPort {
    pub fn new() -> ComPtr<IPortDMus> {
        let b = Box::new(TestPort {
            vtbl: &PORT_VTBL,
            refs: AtomicU32::new(1),
            notifies: AtomicU32::new(0),
        });
        // SAFETY: a fresh object with its initial reference.
        unsafe { ComPtr::from_raw(NonNull::new(Box::into_raw(b).cast()).unwrap()) }
    }
    pub fn get(p: &ComPtr<IPortDMus>) -> &TestPort {
        // SAFETY: only TestPorts are passed here.
        unsafe { &*p.as_raw().cast::<TestPort>() }
    }
    pub fn refs(p: &ComPtr<IPortDMus>) -> u32 {
        Self::get(p).refs.load(Ordering::Relaxed)
    }
}

/// The capture pin's service sink.
#[repr(C)]
pub struct PinSink {
    vtbl: *const IServiceSinkVtbl,
    refs: AtomicU32,
    pub stream: Mutex<Option<ComPtr<IMxf>>>,
    pub services: AtomicU32,
}

com_box!(PinSink, IServiceSinkVtbl, pin_qi, pin_add_ref, pin_release);

unsafe extern "system" fn pin_request(this: *mut IServiceSink) {
    // SAFETY: `this` is a live PinSink.
    let me = unsafe { &*this.cast::<PinSink>() };
    me.services.fetch_add(1, Ordering::Relaxed);
    let s = me.stream.lock().unwrap().clone();
    if let Some(s) = s {
        // SAFETY: a null chain asks the capture stream for its service.
        unsafe { s.put_message(ptr::null_mut()) };
    }
}

static PIN_VTBL: IServiceSinkVtbl = IServiceSinkVtbl {
    base: IUnknownVtbl {
        query_interface: pin_qi,
        add_ref: pin_add_ref,
        release: pin_release,
    },
    request_service: pin_request,
};

impl PinSink {
    pub fn new() -> ComPtr<IServiceSink> {
        let b = Box::new(PinSink {
            vtbl: &PIN_VTBL,
            refs: AtomicU32::new(1),
            stream: Mutex::new(None),
            services: AtomicU32::new(0),
        });
        // SAFETY: a fresh object with its initial reference.
        unsafe { ComPtr::from_raw(NonNull::new(Box::into_raw(b).cast()).unwrap()) }
    }
    pub fn get(p: &ComPtr<IServiceSink>) -> &PinSink {
        // SAFETY: only PinSinks are passed here.
        unsafe { &*p.as_raw().cast::<PinSink>() }
    }
}

/// What the capture sink received: each event's bytes, flags and time.
#[derive(Default, Debug)]
pub struct Received {
    pub events: Vec<(Vec<u8>, u16, u64, u16)>,
    pub chains: u32,
}

impl Received {
    pub fn bytes(&self) -> Vec<u8> {
        self.events.iter().flat_map(|e| e.0.clone()).collect()
    }
}

/// The capture sink.
#[repr(C)]
pub struct CaptureSink {
    vtbl: *const IMxfVtbl,
    refs: AtomicU32,
    alloc: ComPtr<IAllocatorMxf>,
    pub got: Mutex<Received>,
}

com_box!(CaptureSink, IMxfVtbl, cs_qi, cs_add_ref, cs_release);

unsafe extern "system" fn cs_state(_: *mut IMxf, _: KsState) -> NtStatus {
    STATUS_SUCCESS
}
unsafe extern "system" fn cs_put(this: *mut IMxf, evt: *mut DmusKernelEvent) -> NtStatus {
    // SAFETY: `this` is a live CaptureSink.
    let me = unsafe { &*this.cast::<CaptureSink>() };
    let mut got = me.got.lock().unwrap();
    got.chains += 1;
    let mut cur = evt;
    while !cur.is_null() {
        // SAFETY: the stream hands us a well-formed chain of the port allocator's events.
        let ev = unsafe { &*cur };
        let data = match ev.short_data() {
            Some(d) => d.to_vec(),
            None => {
                assert!(!ev.is_package(), "a capture stream sends no packages");
                // SAFETY: neither short nor a package: the payload is a buffer pointer.
                let buf = unsafe { ev.u_data.pb_data };
                // SAFETY: a buffer event's buffer holds cb_event initialised bytes.
                unsafe { std::slice::from_raw_parts(buf, ev.cb_event.into()) }.to_vec()
            }
        };
        got.events.push((
            data,
            ev.us_flags,
            ev.ull_pres_time_100ns,
            ev.us_channel_group,
        ));
        cur = ev.p_next_evt;
    }
    drop(got);
    // SAFETY: the chain is ours now and came from this allocator.
    unsafe { me.alloc.put_message(evt) }
}
unsafe extern "system" fn cs_connect(_: *mut IMxf, _: *mut IMxf) -> NtStatus {
    STATUS_NOT_IMPLEMENTED
}

static CS_VTBL: IMxfVtbl = IMxfVtbl {
    base: IUnknownVtbl {
        query_interface: cs_qi,
        add_ref: cs_add_ref,
        release: cs_release,
    },
    set_state: cs_state,
    put_message: cs_put,
    connect_output: cs_connect,
    disconnect_output: cs_connect,
};

impl CaptureSink {
    pub fn new(alloc: &ComPtr<IAllocatorMxf>) -> ComPtr<IMxf> {
        let b = Box::new(CaptureSink {
            vtbl: &CS_VTBL,
            refs: AtomicU32::new(1),
            alloc: alloc.clone(),
            got: Mutex::new(Received::default()),
        });
        // SAFETY: a fresh object with its initial reference.
        unsafe { ComPtr::from_raw(NonNull::new(Box::into_raw(b).cast()).unwrap()) }
    }
    /// The sink's reference count.
    pub fn refs(p: &ComPtr<IMxf>) -> u32 {
        Self::get(p).refs.load(std::sync::atomic::Ordering::SeqCst)
    }
    pub fn get(p: &ComPtr<IMxf>) -> &CaptureSink {
        // SAFETY: only CaptureSinks are passed here.
        unsafe { &*p.as_raw().cast::<CaptureSink>() }
    }
}
