//! The port's COM objects: `IPortDMus` ([`PortObj`]) and the `IServiceSink` the port
//! registers in service groups ([`ServiceSinkObj`]), their vtables, and the DPC entry points
//! the emulator's timers call (`notify_dpc`, `sequencer_dpc`).

use super::*;

#[repr(C)]
pub(super) struct PortObj {
    pub(super) vtbl: &'static IPortDMusVtbl,
    pub(super) refs: RefCount,
    pub(super) shared: Arc<Shared>,
    pub(super) live: LiveGuard,
}

// SAFETY: `#[repr(C)]`, vtable first, built with `unknown_vtbl!(PortObj)`; IPortDMus
// derives from IPort, both at offset 0.
unsafe impl BoxObject for PortObj {
    fn refs(&self) -> &RefCount {
        &self.refs
    }
    const NAME: &'static str = "port";
    const IIDS: &'static [Guid] = &[IID_IUNKNOWN, IID_IPORT, IID_IPORT_DMUS];
}

pub(super) static PORT_VTBL: IPortDMusVtbl = IPortDMusVtbl {
    base: IPortVtbl {
        base: unknown_vtbl!(PortObj),
        init: port_init,
        get_device_property,
        new_registry_key,
    },
    notify,
    register_service_group,
};

/// # Safety
/// Vtable slot; `this` is a live port.
pub(super) unsafe extern "system" fn port_init(
    _this: *mut IPort,
    _device: PDeviceObject,
    _irp: PIrp,
    _miniport: *mut IUnknown,
    _adapter: *mut IUnknown,
    _resources: PResourceList,
) -> NtStatus {
    // `Port::new` has already done what IPort::Init does.
    STATUS_INVALID_DEVICE_REQUEST
}

/// # Safety
/// Vtable slot; `this` is a live port.
pub(super) unsafe extern "system" fn get_device_property(
    _this: *mut IPort,
    _property: i32,
    _len: u32,
    _buffer: *mut c_void,
    result_length: *mut u32,
) -> NtStatus {
    if !result_length.is_null() {
        // SAFETY: a non-null out parameter of the caller.
        unsafe { result_length.write(0) };
    }
    STATUS_NOT_IMPLEMENTED
}

/// # Safety
/// Vtable slot; `this` is a live port.
#[allow(clippy::too_many_arguments)]
pub(super) unsafe extern "system" fn new_registry_key(
    _this: *mut IPort,
    out_key: *mut *mut c_void,
    _outer: *mut IUnknown,
    _key_type: u32,
    _access: u32,
    _attributes: *mut c_void,
    _create_options: u32,
    _disposition: *mut u32,
) -> NtStatus {
    if !out_key.is_null() {
        // SAFETY: a non-null out parameter of the caller.
        unsafe { out_key.write(ptr::null_mut()) };
    }
    STATUS_NOT_IMPLEMENTED
}

/// # Safety
/// Vtable slot; `this` is a live port, `group` null or a live group.
pub(super) unsafe extern "system" fn notify(this: *mut IPortDMus, group: *mut IServiceGroup) {
    // SAFETY: `this` is a live `PortObj`.
    let obj = unsafe { object::<PortObj>(this.cast()) };
    let s = &obj.shared;
    s.tracker.call("IPortDMus::Notify", s.emu.current_irql());
    s.notifies.fetch_add(1, Relaxed);
    let Some(group) = NonNull::new(group) else {
        return;
    };
    {
        let mut pending = lock(&s.pending);
        if !pending.iter().any(|g| g.as_raw() == group.as_ptr()) {
            // SAFETY: a live group passed by the caller; we take our own reference.
            pending.push(unsafe { ComPtr::from_raw_add_ref(group) });
        }
    }
    if let Some(t) = lock(&s.dpc).as_ref()
        && t.due().is_none()
    {
        t.set(s.emu.now_100ns().saturating_add(s.dpc_latency));
    }
}

/// # Safety
/// Vtable slot; `this` is a live port, `group` null or a live group.
pub(super) unsafe extern "system" fn register_service_group(
    this: *mut IPortDMus,
    group: *mut IServiceGroup,
) {
    // SAFETY: `this` is a live `PortObj`.
    let obj = unsafe { object::<PortObj>(this.cast()) };
    let s = &obj.shared;
    s.tracker
        .call("IPortDMus::RegisterServiceGroup", s.emu.current_irql());
    if let Some(g) = NonNull::new(group) {
        // SAFETY: a live group passed by the caller; we take our own reference.
        lock(&s.registered).push(unsafe { ComPtr::from_raw_add_ref(g) });
    }
}

/// The notify DPC: services every group notified since the last run.
///
/// # Safety
/// `ctx` is the `Shared` the timer was created with, alive until the timer is dropped.
pub(super) unsafe fn notify_dpc(ctx: *const c_void) {
    // SAFETY: per the timer's creation in `Port::new`.
    let s = unsafe { &*ctx.cast::<Shared>() };
    s.dpc_runs.fetch_add(1, Relaxed);
    let groups = std::mem::take(&mut *lock(&s.pending));
    for g in &groups {
        s.tracker.call(
            "IServiceGroup::RequestService (port DPC)",
            s.emu.current_irql(),
        );
        g.request_service();
    }
}

// ---------------------------------------------------------------------------------------
// The port's IServiceSink.

#[repr(C)]
pub(super) struct ServiceSinkObj {
    pub(super) vtbl: &'static IServiceSinkVtbl,
    pub(super) refs: RefCount,
    pub(super) shared: Arc<Shared>,
    pub(super) live: LiveGuard,
}

// SAFETY: `#[repr(C)]`, vtable first, built with `unknown_vtbl!(ServiceSinkObj)`.
unsafe impl BoxObject for ServiceSinkObj {
    fn refs(&self) -> &RefCount {
        &self.refs
    }
    const NAME: &'static str = "service sink";
    const IIDS: &'static [Guid] = &[IID_IUNKNOWN, IID_ISERVICE_SINK];
}

pub(super) static SERVICE_SINK_VTBL: IServiceSinkVtbl = IServiceSinkVtbl {
    base: unknown_vtbl!(ServiceSinkObj),
    request_service,
};

/// # Safety
/// Vtable slot; `this` is a live service sink.
pub(super) unsafe extern "system" fn request_service(this: *mut IServiceSink) {
    // SAFETY: `this` is a live `ServiceSinkObj`.
    let obj = unsafe { object::<ServiceSinkObj>(this.cast()) };
    let s = &obj.shared;
    s.services.fetch_add(1, Relaxed);
    s.tracker
        .call("IServiceSink::RequestService (port)", s.emu.current_irql());
    // The streams stay referenced by the port until close, which happens at PASSIVE_LEVEL
    // outside any DPC: the raw pointers below outlive this call.
    let streams: Vec<*mut IMxf> = lock(&s.capture_streams)
        .iter()
        .map(|c| c.as_raw())
        .collect();
    for st in streams {
        s.tracker
            .call("capture IMXF::PutMessage(NULL)", s.emu.current_irql());
        // SAFETY: a live capture stream (see above): its header holds the vtable pointer.
        let vtbl = unsafe { (*st).vtbl };
        // SAFETY: the vtable of a live IMXF, static for the object's life.
        let put_message = unsafe { (*vtbl).put_message };
        // SAFETY: the stream's own method on the live stream; a null chain transfers nothing.
        unsafe { put_message(st, ptr::null_mut()) };
    }
}

// ---------------------------------------------------------------------------------------
// The render sequencer.

/// The sequencer DPC: sends every unit due within the prefetch window, then re-arms.
///
/// # Safety
/// As [`notify_dpc`].
pub(super) unsafe fn sequencer_dpc(ctx: *const c_void) {
    // SAFETY: per the timer's creation in `Port::open_render`.
    let s = unsafe { &*ctx.cast::<Shared>() };
    s.pump_render();
}
