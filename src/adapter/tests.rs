//! `start_device` against fake PortCls objects that count references like the real ones.

use super::*;
use core::ffi::c_void;
use core::ptr::NonNull;
use mxf_abi::{
    IPortVtbl, IUnknownVtbl, STATUS_INSUFFICIENT_RESOURCES, STATUS_SUCCESS, STATUS_UNSUCCESSFUL,
};
use std::cell::{Cell, RefCell};
use std::vec::Vec;

/// A miniport that only counts references.
#[repr(C)]
struct FakeMiniport {
    vtbl: *const IUnknownVtbl,
    refs: Cell<u32>,
}

unsafe extern "system" fn mp_qi(
    _: *mut IUnknown,
    _: *const Guid,
    out: *mut *mut c_void,
) -> NtStatus {
    // SAFETY: test callers pass a valid out-pointer.
    unsafe { *out = null_mut() };
    mxf_abi::STATUS_INVALID_PARAMETER
}
unsafe extern "system" fn mp_add_ref(this: *mut IUnknown) -> u32 {
    // SAFETY: `this` is a FakeMiniport (first field is the vtable).
    let m = unsafe { &*this.cast::<FakeMiniport>() };
    m.refs.set(m.refs.get() + 1);
    m.refs.get()
}
unsafe extern "system" fn mp_release(this: *mut IUnknown) -> u32 {
    // SAFETY: as in `mp_add_ref`.
    let m = unsafe { &*this.cast::<FakeMiniport>() };
    assert!(m.refs.get() > 0, "miniport over-released");
    m.refs.set(m.refs.get() - 1);
    m.refs.get()
}
static MP_VTBL: IUnknownVtbl = IUnknownVtbl {
    query_interface: mp_qi,
    add_ref: mp_add_ref,
    release: mp_release,
};

type InitArgs = (
    PDeviceObject,
    PIrp,
    *mut IUnknown,
    *mut IUnknown,
    PResourceList,
);

/// A port whose Init keeps a reference on the miniport and whose last Release drops it.
#[repr(C)]
struct FakePort {
    vtbl: *const IPortVtbl,
    refs: Cell<u32>,
    init_status: NtStatus,
    init_args: Cell<Option<InitArgs>>,
    held: Cell<*mut IUnknown>,
}

unsafe extern "system" fn port_add_ref(this: *mut IUnknown) -> u32 {
    // SAFETY: `this` is a FakePort.
    let p = unsafe { &*this.cast::<FakePort>() };
    p.refs.set(p.refs.get() + 1);
    p.refs.get()
}
unsafe extern "system" fn port_release(this: *mut IUnknown) -> u32 {
    // SAFETY: `this` is a FakePort.
    let p = unsafe { &*this.cast::<FakePort>() };
    assert!(p.refs.get() > 0, "port over-released");
    p.refs.set(p.refs.get() - 1);
    if p.refs.get() == 0 {
        let held = p.held.replace(null_mut());
        if !held.is_null() {
            // SAFETY: `held` is the live object whose reference the port took in Init.
            let vtbl = unsafe { (*held).vtbl };
            // SAFETY: the live object's vtable, static for its life.
            let release = unsafe { (*vtbl).release };
            // SAFETY: gives back the reference the port took in Init.
            unsafe { release(held) };
        }
    }
    p.refs.get()
}
unsafe extern "system" fn port_init(
    this: *mut IPort,
    device: PDeviceObject,
    irp: PIrp,
    miniport: *mut IUnknown,
    adapter: *mut IUnknown,
    resources: PResourceList,
) -> NtStatus {
    // SAFETY: `this` is a FakePort.
    let p = unsafe { &*this.cast::<FakePort>() };
    p.init_args
        .set(Some((device, irp, miniport, adapter, resources)));
    if nt_success(p.init_status) {
        // SAFETY: the miniport is live for the call: its header holds the vtable pointer.
        let vtbl = unsafe { (*miniport).vtbl };
        // SAFETY: the live miniport's vtable, static for its life.
        let add_ref = unsafe { (*vtbl).add_ref };
        // SAFETY: the miniport is live; the port keeps the reference this takes.
        unsafe { add_ref(miniport) };
        p.held.set(miniport);
    }
    p.init_status
}
unsafe extern "system" fn port_gdp(
    _: *mut IPort,
    _: i32,
    _: u32,
    _: *mut c_void,
    _: *mut u32,
) -> NtStatus {
    unreachable!("not used by start_device")
}
unsafe extern "system" fn port_nrk(
    _: *mut IPort,
    _: *mut *mut c_void,
    _: *mut IUnknown,
    _: u32,
    _: u32,
    _: *mut c_void,
    _: u32,
    _: *mut u32,
) -> NtStatus {
    unreachable!("not used by start_device")
}
static PORT_VTBL: IPortVtbl = IPortVtbl {
    base: IUnknownVtbl {
        query_interface: mp_qi,
        add_ref: port_add_ref,
        release: port_release,
    },
    init: port_init,
    get_device_property: port_gdp,
    new_registry_key: port_nrk,
};

struct FakeApi {
    port: *mut FakePort,
    new_port_error: Option<NtStatus>,
    register_status: NtStatus,
    asked_class: Cell<Option<Guid>>,
    registered: RefCell<Option<(PDeviceObject, Vec<u16>, *mut IUnknown)>>,
}

impl PortClass for FakeApi {
    unsafe fn new_port(&self, class_id: &Guid) -> Result<ComPtr<IPort>, NtStatus> {
        self.asked_class.set(Some(*class_id));
        if let Some(e) = self.new_port_error {
            return Err(e);
        }
        // SAFETY: the fake port outlives the test.
        let p = unsafe { &*self.port };
        p.refs.set(p.refs.get() + 1);
        // SAFETY: a live fake port (IPort vtable first) and the reference just counted.
        Ok(unsafe { ComPtr::from_raw(NonNull::new(self.port.cast::<IPort>()).unwrap()) })
    }

    unsafe fn register_subdevice(
        &self,
        device: PDeviceObject,
        name: &[u16],
        port: *mut IUnknown,
    ) -> NtStatus {
        *self.registered.borrow_mut() = Some((device, name.to_vec(), port));
        if nt_success(self.register_status) {
            // SAFETY: the registered port is live for the call: its header holds the vtable.
            let vtbl = unsafe { (*port).vtbl };
            // SAFETY: the live port's vtable, static for its life.
            let add_ref = unsafe { (*vtbl).add_ref };
            // SAFETY: PortCls keeps the reference this takes on the live registered port.
            unsafe { add_ref(port) };
        }
        self.register_status
    }
}

struct Rig {
    port: Box<FakePort>,
    miniport: Box<FakeMiniport>,
}

impl Rig {
    fn new(init_status: NtStatus) -> Self {
        Self {
            port: Box::new(FakePort {
                vtbl: &PORT_VTBL,
                refs: Cell::new(0),
                init_status,
                init_args: Cell::new(None),
                held: Cell::new(null_mut()),
            }),
            miniport: Box::new(FakeMiniport {
                vtbl: &MP_VTBL,
                refs: Cell::new(0),
            }),
        }
    }

    fn api(&mut self, new_port_error: Option<NtStatus>, register_status: NtStatus) -> FakeApi {
        FakeApi {
            port: &mut *self.port,
            new_port_error,
            register_status,
            asked_class: Cell::new(None),
            registered: RefCell::new(None),
        }
    }

    fn miniport_factory(&self) -> impl FnOnce() -> Result<ComPtr<IMiniportDMus>, NtStatus> + '_ {
        move || {
            self.miniport.refs.set(self.miniport.refs.get() + 1);
            let p: *const FakeMiniport = &*self.miniport;
            let p = NonNull::new(p.cast_mut().cast::<IMiniportDMus>()).unwrap();
            // SAFETY: only the IUnknown slots of the fake are ever called; the reference was
            // just counted and is handed to the caller.
            Ok(unsafe { ComPtr::from_raw(p) })
        }
    }
}

const DEVICE: PDeviceObject = 0x1000 as PDeviceObject;
const IRP: PIrp = 0x2000 as PIrp;
const RESOURCES: PResourceList = 0x3000 as PResourceList;

#[test]
fn success_registers_the_port_and_leaves_only_the_holders_references() {
    let mut rig = Rig::new(STATUS_SUCCESS);
    let api = rig.api(None, STATUS_SUCCESS);
    // SAFETY: fakes stand in for PortCls.
    let status = unsafe { start_device(&api, DEVICE, IRP, RESOURCES, rig.miniport_factory()) };
    assert_eq!(status, STATUS_SUCCESS);
    assert_eq!(api.asked_class.get(), Some(CLSID_PORT_DMUS));
    let port_ptr: *mut FakePort = &mut *rig.port;
    let mp_ptr: *const FakeMiniport = &*rig.miniport;
    let (dev, irp, mp, adapter, res) = rig.port.init_args.get().expect("Init called");
    assert_eq!((dev, irp, res), (DEVICE, IRP, RESOURCES));
    assert_eq!(mp.cast_const(), mp_ptr.cast::<IUnknown>());
    assert!(adapter.is_null());
    let (rdev, name, rport) = api.registered.borrow().clone().expect("registered");
    assert_eq!(rdev, DEVICE);
    assert_eq!(rport, port_ptr.cast::<IUnknown>());
    assert_eq!(String::from_utf16(&name).unwrap(), "MxfLoop\0");
    // Registration holds the port; the port holds the miniport; ours are released.
    assert_eq!(rig.port.refs.get(), 1);
    assert_eq!(rig.miniport.refs.get(), 1);
}

#[test]
fn port_creation_failure_is_returned_without_making_a_miniport() {
    let mut rig = Rig::new(STATUS_SUCCESS);
    let api = rig.api(Some(STATUS_INSUFFICIENT_RESOURCES), STATUS_SUCCESS);
    let made = Cell::new(false);
    // SAFETY: fakes stand in for PortCls.
    let status = unsafe {
        start_device(&api, DEVICE, IRP, RESOURCES, || {
            made.set(true);
            Err(STATUS_UNSUCCESSFUL)
        })
    };
    assert_eq!(status, STATUS_INSUFFICIENT_RESOURCES);
    assert!(!made.get());
    assert_eq!(rig.port.refs.get(), 0);
}

#[test]
fn miniport_failure_releases_the_port() {
    let mut rig = Rig::new(STATUS_SUCCESS);
    let api = rig.api(None, STATUS_SUCCESS);
    // SAFETY: fakes stand in for PortCls.
    let status = unsafe {
        start_device(&api, DEVICE, IRP, RESOURCES, || {
            Err(STATUS_INSUFFICIENT_RESOURCES)
        })
    };
    assert_eq!(status, STATUS_INSUFFICIENT_RESOURCES);
    assert_eq!(rig.port.refs.get(), 0);
    assert!(rig.port.init_args.get().is_none());
    assert!(api.registered.borrow().is_none());
}

#[test]
fn init_failure_skips_registration_and_releases_both() {
    let mut rig = Rig::new(STATUS_UNSUCCESSFUL);
    let api = rig.api(None, STATUS_SUCCESS);
    // SAFETY: fakes stand in for PortCls.
    let status = unsafe { start_device(&api, DEVICE, IRP, RESOURCES, rig.miniport_factory()) };
    assert_eq!(status, STATUS_UNSUCCESSFUL);
    assert!(api.registered.borrow().is_none());
    assert_eq!(rig.port.refs.get(), 0);
    assert_eq!(rig.miniport.refs.get(), 0);
}

#[test]
fn registration_failure_is_returned_and_everything_is_released() {
    let mut rig = Rig::new(STATUS_SUCCESS);
    let api = rig.api(None, STATUS_INSUFFICIENT_RESOURCES);
    // SAFETY: fakes stand in for PortCls.
    let status = unsafe { start_device(&api, DEVICE, IRP, RESOURCES, rig.miniport_factory()) };
    assert_eq!(status, STATUS_INSUFFICIENT_RESOURCES);
    assert!(api.registered.borrow().is_some());
    // The port's last reference went away and it dropped the miniport it held.
    assert_eq!(rig.port.refs.get(), 0);
    assert_eq!(rig.miniport.refs.get(), 0);
}
