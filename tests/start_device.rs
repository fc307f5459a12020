//! `StartDevice` of one and two cables with the real miniport (`mxf_miniport::new_miniport` on
//! the `mxf-kemu` kernel emulator) and a fake DMus port per cable that does, with the miniport,
//! what PortCls's port does:
//! `Init` queries the miniport for `IMiniportDMus` and calls its `Init(NULL, resources, port,
//! &group)`, keeping the miniport and the group; device removal releases them
//! ("ReleaseChildren", at `PASSIVE_LEVEL`), then PortCls drops the registration's reference on
//! the port. Every test ends with `Emu::unload`, which fails on any pool allocation, block pool
//! or timer left behind — so a missing or extra `Release` on any path shows up.

use mxf_abi::*;
use mxf_core::com::ComPtr;
use mxf_kemu::{Emu, EmuConfig, FaultPlan};
use mxf_miniport::miniport::TAG_MINIPORT;
use mxf_miniport::{MiniportConfig, new_miniport, release_port};
use mxf_testkit::port_slots;
use mxfloop::adapter::{PortClass, Step, start_device};
use mxfloop::settings::cable_names_setting;
use std::cell::{Cell, RefCell};
use std::ffi::c_void;
use std::ptr::{self, NonNull};

/// What the fake port's `Init` does after the miniport's `Init` succeeded.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum AfterMiniportInit {
    /// Keeps the miniport and the group: success.
    Keep,
    /// Fails (as PortCls does when e.g. building the subdevice descriptor fails) and releases
    /// what it took.
    Fail,
}

#[repr(C)]
struct FakePort {
    vtbl: *const IPortDMusVtbl,
    refs: Cell<u32>,
    after: AfterMiniportInit,
    miniport: Cell<*mut IMiniportDMus>,
    group: Cell<*mut IServiceGroup>,
    miniport_init_status: Cell<Option<NtStatus>>,
}

impl FakePort {
    fn new(after: AfterMiniportInit) -> Box<Self> {
        Box::new(Self {
            vtbl: &PORT_VTBL,
            refs: Cell::new(0),
            after,
            miniport: Cell::new(ptr::null_mut()),
            group: Cell::new(ptr::null_mut()),
            miniport_init_status: Cell::new(None),
        })
    }

    /// PortCls's `ISubdevice::ReleaseChildren`: drops the miniport and its group.
    fn release_children(&self) {
        let group = self.group.replace(ptr::null_mut());
        if let Some(g) = NonNull::new(group) {
            // SAFETY: the reference the miniport's Init handed us.
            drop(unsafe { ComPtr::from_raw(g) });
        }
        let miniport = self.miniport.replace(ptr::null_mut());
        if let Some(m) = NonNull::new(miniport) {
            // SAFETY: the reference our QueryInterface took.
            drop(unsafe { ComPtr::from_raw(m) });
        }
    }

    fn holds_miniport(&self) -> bool {
        !self.miniport.get().is_null()
    }
}

unsafe extern "system" fn port_qi(
    _: *mut IUnknown,
    _: *const Guid,
    out: *mut *mut c_void,
) -> NtStatus {
    // SAFETY: callers pass a valid out-pointer.
    unsafe { *out = ptr::null_mut() };
    STATUS_INVALID_PARAMETER
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
        // The port's destructor releases what it still holds.
        p.release_children();
    }
    p.refs.get()
}
unsafe extern "system" fn port_init(
    this: *mut IPort,
    _device: PDeviceObject,
    _irp: PIrp,
    miniport: *mut IUnknown,
    _adapter: *mut IUnknown,
    resources: PResourceList,
) -> NtStatus {
    // SAFETY: `this` is a live FakePort (the only IPort these tests hand out).
    let p = unsafe { &*this.cast::<FakePort>() };
    // SAFETY: `miniport` is the live object StartDevice passed; we keep our own reference.
    let unknown = unsafe { ComPtr::from_raw_add_ref(NonNull::new(miniport).expect("a miniport")) };
    let mp = match unknown.query::<IMiniportDMus>() {
        Ok(mp) => mp,
        Err(status) => return status.into(),
    };
    drop(unknown);
    let mut group: *mut IServiceGroup = ptr::null_mut();
    // SAFETY: `mp` holds a live IMiniportDMus: its header holds the vtable pointer.
    let vtbl = unsafe { (*mp.as_raw()).vtbl };
    // SAFETY: the live miniport's vtable, static for its life.
    let init = unsafe { (*vtbl).init };
    // SAFETY: the miniport's own Init on the live miniport; the port pointer is this live fake
    // (IPortDMus vtable).
    let status = unsafe {
        init(
            mp.as_raw(),
            ptr::null_mut(),
            resources,
            this.cast::<IPortDMus>(),
            &mut group,
        )
    };
    p.miniport_init_status.set(Some(status));
    if !nt_success(status) {
        assert!(group.is_null(), "a failed Init handed out a group");
        return status;
    }
    let group = NonNull::new(group).expect("Init hands out the service group");
    match p.after {
        AfterMiniportInit::Keep => {
            p.miniport.set(mp.into_raw().as_ptr());
            p.group.set(group.as_ptr());
            STATUS_SUCCESS
        }
        AfterMiniportInit::Fail => {
            // SAFETY: the reference Init handed us.
            drop(unsafe { ComPtr::from_raw(group) });
            drop(mp);
            STATUS_INSUFFICIENT_RESOURCES
        }
    }
}
unsafe extern "system" fn port_notify(_: *mut IPortDMus, _: *mut IServiceGroup) {}
unsafe extern "system" fn port_rsg(_: *mut IPortDMus, _: *mut IServiceGroup) {}

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
    register_service_group: port_rsg,
};

/// PortCls's `PcNewPort`/`PcRegisterSubdevice` over fake ports, one per cable in order.
struct Api<'a> {
    ports: Vec<&'a FakePort>,
    /// Ports handed out so far: the number (1-based) of the cable being installed.
    next: Cell<usize>,
    register_status: NtStatus,
    /// The references the successful registrations hold on their ports.
    registered: RefCell<Vec<ComPtr<IUnknown>>>,
}

impl<'a> Api<'a> {
    fn new(ports: Vec<&'a FakePort>, register_status: NtStatus) -> Self {
        Self {
            ports,
            next: Cell::new(0),
            register_status,
            registered: RefCell::new(Vec::new()),
        }
    }

    /// PortCls's device removal (also what follows a failed start): each registered
    /// subdevice's children, then the registration's reference.
    fn tear_down(&self) {
        for port in &self.ports {
            if self.registered.borrow().iter().any(|r| {
                let p: *const FakePort = *port;
                r.as_raw().cast_const() == p.cast::<IUnknown>()
            }) {
                port.release_children();
            }
        }
        self.registered.borrow_mut().clear();
    }
}

impl PortClass for Api<'_> {
    unsafe fn new_port(&self, class_id: &Guid) -> Result<ComPtr<IPort>, NtStatus> {
        assert_eq!(*class_id, CLSID_PORT_DMUS);
        let port = *self
            .ports
            .get(self.next.get())
            .expect("a fake port per cable");
        self.next.set(self.next.get() + 1);
        let p: *const FakePort = port;
        let p = NonNull::new(p.cast_mut().cast::<IPort>()).unwrap();
        // SAFETY: the fake port outlives the test; the new reference is the caller's.
        Ok(unsafe { ComPtr::from_raw_add_ref(p) })
    }

    unsafe fn register_subdevice(
        &self,
        _device: PDeviceObject,
        name: &[u16],
        port: *mut IUnknown,
    ) -> NtStatus {
        let want = format!("MxfLoop{}\0", self.next.get());
        assert_eq!(String::from_utf16(name).unwrap(), want);
        if nt_success(self.register_status) {
            // SAFETY: a live port; the registration keeps a reference.
            let held = unsafe { ComPtr::from_raw_add_ref(NonNull::new(port).unwrap()) };
            self.registered.borrow_mut().push(held);
        }
        self.register_status
    }

    unsafe fn set_friendly_name(
        &self,
        _device: PDeviceObject,
        _category: &Guid,
        reference: &[u16],
        name: &[u16],
    ) -> NtStatus {
        let n = self.next.get();
        assert_eq!(
            String::from_utf16(reference).unwrap(),
            format!("MxfLoop{n}\0")
        );
        assert_eq!(String::from_utf16(name).unwrap(), format!("MxfLoop {n}\0"));
        STATUS_SUCCESS
    }

    fn failed(&self, _index: usize, _step: Step, _status: NtStatus) {}
}

const DEVICE: PDeviceObject = 0x1000 as PDeviceObject;
const IRP: PIrp = 0x2000 as PIrp;
const RESOURCES: PResourceList = ptr::null_mut();

fn live_with_tag(emu: &Emu, tag: mxf_core::platform::PoolTag) -> usize {
    let report = emu.pool_report();
    report
        .by_tag
        .iter()
        .filter(|t| t.tag == tag)
        .map(|t| t.count)
        .sum()
}

fn start(emu: &Emu, api: &Api<'_>) -> NtStatus {
    let cables = cable_names_setting(Ok(None), api.ports.len());
    let unbind = |m: &ComPtr<IMiniportDMus>| {
        // SAFETY: start_device passes only an unregistered cable's miniport, on which no
        // stream was opened.
        unsafe { release_port::<Emu>(m) };
    };
    // SAFETY: the fakes stand in for PortCls; PASSIVE_LEVEL (the emulator's default).
    unsafe {
        start_device(
            api,
            DEVICE,
            IRP,
            RESOURCES,
            cables.names(),
            |_| new_miniport(emu.clone(), MiniportConfig::DEFAULT).map_err(NtStatus::from),
            unbind,
        )
    }
}

#[test]
fn success_leaves_the_port_holding_the_miniport_until_device_removal() {
    let emu = Emu::new(EmuConfig::verifier());
    let port = FakePort::new(AfterMiniportInit::Keep);
    let api = Api::new(vec![&port], STATUS_SUCCESS);
    assert_eq!(start(&emu, &api), STATUS_SUCCESS);
    assert_eq!(port.miniport_init_status.get(), Some(STATUS_SUCCESS));
    assert!(port.holds_miniport());
    // The registration's reference and the miniport's (taken in its Init); ours is gone.
    assert_eq!(port.refs.get(), 2);
    assert_eq!(live_with_tag(&emu, TAG_MINIPORT), 1);

    // Device removal at PASSIVE_LEVEL: PortCls releases the children (the miniport's final
    // Release, which deletes its group's timer and releases the port), then the registration.
    port.release_children();
    assert_eq!(live_with_tag(&emu, TAG_MINIPORT), 0);
    assert_eq!(port.refs.get(), 1);
    api.registered.borrow_mut().clear();
    assert_eq!(port.refs.get(), 0);
    let report = emu.unload().expect("nothing left behind");
    assert!(
        report.timers_created > 0,
        "the miniport's group timer was made"
    );
}

#[test]
fn port_init_failure_releases_the_miniport_inside_start_device() {
    let emu = Emu::new(EmuConfig::verifier());
    let port = FakePort::new(AfterMiniportInit::Fail);
    let api = Api::new(vec![&port], STATUS_SUCCESS);
    assert_eq!(start(&emu, &api), STATUS_INSUFFICIENT_RESOURCES);
    assert_eq!(port.miniport_init_status.get(), Some(STATUS_SUCCESS));
    assert!(api.registered.borrow().is_empty());
    // The miniport's Init took a port reference; its final Release (ours, in StartDevice)
    // gave it back.
    assert_eq!(port.refs.get(), 0);
    assert_eq!(live_with_tag(&emu, TAG_MINIPORT), 0);
    emu.unload().expect("nothing left behind");
}

/// The port holds the miniport (taken in Init) and the miniport holds the port (its Init keeps
/// one, as the DDK's UART miniport does). When registration fails, PortCls never calls
/// ReleaseChildren for the unregistered subdevice, so after StartDevice has dropped its own
/// references that cycle is all that is left: this pins that StartDevice itself released
/// exactly its two references (one more would over-release, one fewer would leave a third).
#[test]
fn registration_failure_frees_the_port_and_the_miniport_inside_start_device() {
    let emu = Emu::new(EmuConfig::verifier());
    let port = FakePort::new(AfterMiniportInit::Keep);
    let api = Api::new(vec![&port], STATUS_INSUFFICIENT_RESOURCES);
    assert_eq!(start(&emu, &api), STATUS_INSUFFICIENT_RESOURCES);
    // The miniport gave up its reference on the port (release_port), so ours freed the port,
    // whose destruction released the miniport: no port <-> miniport cycle is left for PortCls,
    // which never heard of this subdevice, to break.
    assert_eq!(port.refs.get(), 0, "the port is freed");
    assert!(!port.holds_miniport());
    assert_eq!(
        live_with_tag(&emu, TAG_MINIPORT),
        0,
        "the miniport is freed"
    );
    emu.unload().expect("nothing left behind");
}

/// Pool allocation attempts of one fault-free StartDevice.
fn attempts_of_a_clean_start() -> u64 {
    let emu = Emu::new(EmuConfig::verifier());
    let port = FakePort::new(AfterMiniportInit::Keep);
    let api = Api::new(vec![&port], STATUS_SUCCESS);
    assert_eq!(start(&emu, &api), STATUS_SUCCESS);
    let attempts = emu.pool_report().total_allocs;
    port.release_children();
    api.registered.borrow_mut().clear();
    emu.unload().expect("nothing left behind");
    attempts
}

#[test]
fn miniport_creation_failures_release_the_port_and_leak_nothing() {
    // Fail every n-th pool allocation attempt, for every n up to one past the attempts a clean
    // start makes: n > attempts/2 fails exactly attempt n, so every step of the miniport's
    // construction (loopback, its allocator, the service group, its timer, the object) fails
    // once; smaller n fail several; the last n fails none.
    let attempts = attempts_of_a_clean_start();
    assert!(attempts > 1);
    for n in 1..=attempts + 1 {
        let emu = Emu::new(EmuConfig::verifier());
        emu.set_fault_plan(FaultPlan::EveryNth(n));
        let port = FakePort::new(AfterMiniportInit::Keep);
        let api = Api::new(vec![&port], STATUS_SUCCESS);
        let status = start(&emu, &api);
        assert_eq!(nt_success(status), n > attempts, "n = {n}: {status:#x}");
        if nt_success(status) {
            port.release_children();
            api.registered.borrow_mut().clear();
        } else {
            assert_eq!(status, STATUS_INSUFFICIENT_RESOURCES, "n = {n}");
            assert!(port.miniport_init_status.get().is_none(), "n = {n}");
        }
        assert_eq!(port.refs.get(), 0, "n = {n}");
        emu.set_fault_plan(FaultPlan::None);
        emu.unload()
            .unwrap_or_else(|b| panic!("n = {n}: left behind: {b:?}"));
    }
}

/// Pool allocation attempts of one fault-free StartDevice of two cables.
fn attempts_of_a_clean_two_cable_start() -> u64 {
    let emu = Emu::new(EmuConfig::verifier());
    let (a, b) = (
        FakePort::new(AfterMiniportInit::Keep),
        FakePort::new(AfterMiniportInit::Keep),
    );
    let api = Api::new(vec![&a, &b], STATUS_SUCCESS);
    assert_eq!(start(&emu, &api), STATUS_SUCCESS);
    assert!(a.holds_miniport() && b.holds_miniport());
    assert_eq!(live_with_tag(&emu, TAG_MINIPORT), 2, "a miniport per cable");
    let attempts = emu.pool_report().total_allocs;
    api.tear_down();
    assert_eq!((a.refs.get(), b.refs.get()), (0, 0));
    emu.unload().expect("nothing left behind");
    attempts
}

#[test]
fn two_cables_with_any_allocation_failing_fail_the_start_and_leak_nothing() {
    // As above for two cables: n past the first cable's attempts fails cable 2 after cable 1
    // registered; PortCls's removal (tear_down) then releases cable 1, StartDevice itself
    // released everything of cable 2.
    let attempts = attempts_of_a_clean_two_cable_start();
    let mut cable_two_failed_after_cable_one = 0;
    for n in 1..=attempts + 1 {
        let emu = Emu::new(EmuConfig::verifier());
        emu.set_fault_plan(FaultPlan::EveryNth(n));
        let (a, b) = (
            FakePort::new(AfterMiniportInit::Keep),
            FakePort::new(AfterMiniportInit::Keep),
        );
        let api = Api::new(vec![&a, &b], STATUS_SUCCESS);
        let status = start(&emu, &api);
        assert_eq!(nt_success(status), n > attempts, "n = {n}: {status:#x}");
        if !nt_success(status) {
            assert_eq!(status, STATUS_INSUFFICIENT_RESOURCES, "n = {n}");
            assert!(api.registered.borrow().len() < 2, "n = {n}");
            assert!(!b.holds_miniport(), "n = {n}: cable 2 never bound");
            if api.registered.borrow().len() == 1 {
                cable_two_failed_after_cable_one += 1;
            }
        }
        api.tear_down();
        assert_eq!((a.refs.get(), b.refs.get()), (0, 0), "n = {n}");
        emu.set_fault_plan(FaultPlan::None);
        emu.unload()
            .unwrap_or_else(|b| panic!("n = {n}: left behind: {b:?}"));
    }
    assert!(
        cable_two_failed_after_cable_one > 0,
        "some n failed cable 2 after cable 1 registered"
    );
}
