//! `start_device` against fake PortCls objects that count references like the real ones.

use super::*;
use crate::settings::cable_names_setting;
use core::ffi::c_void;
use core::ptr::NonNull;
use mxf_abi::{
    IPortVtbl, IUnknownVtbl, KSCATEGORY_AUDIO, KSCATEGORY_CAPTURE, KSCATEGORY_RENDER,
    STATUS_INSUFFICIENT_RESOURCES, STATUS_UNSUCCESSFUL,
};
use std::boxed::Box;
use std::cell::{Cell, RefCell};
use std::string::String;
use std::vec::Vec;

/// `STATUS_OBJECT_NAME_COLLISION`: what PortCls answers for a reference string in use.
const STATUS_OBJECT_NAME_COLLISION: NtStatus = 0xC000_0035_u32 as NtStatus;

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

/// Which call fails, for which cable (0-based), with which status.
#[derive(Default, Clone)]
struct Plan {
    new_port: Option<(usize, NtStatus)>,
    miniport: Option<(usize, NtStatus)>,
    init: Option<(usize, NtStatus)>,
    register: Option<(usize, NtStatus)>,
    /// (cable, category) pairs whose friendly name cannot be written.
    friendly: Vec<(usize, Guid)>,
}

fn fails(at: Option<(usize, NtStatus)>, cable: usize) -> Option<NtStatus> {
    at.filter(|(c, _)| *c == cable).map(|(_, s)| s)
}

/// One call the fakes saw, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Call {
    NewPort(Guid),
    Miniport(usize),
    Friendly(Guid, String, String),
    Register(String),
    Failed(usize, Step, NtStatus),
    /// `release_port` on cable `i`'s miniport.
    ReleasePort(usize),
}

/// PortCls over fake ports (one per `PcNewPort`) and fake miniports (one per cable), with the
/// registrations' references kept as PortCls keeps them.
struct Fake {
    plan: Plan,
    // Boxed: the fakes' addresses are their COM identities and must not move when the
    // vectors grow.
    #[expect(clippy::vec_box, reason = "stable addresses of the fake COM objects")]
    ports: RefCell<Vec<Box<FakePort>>>,
    #[expect(clippy::vec_box, reason = "stable addresses of the fake COM objects")]
    miniports: RefCell<Vec<Box<FakeMiniport>>>,
    calls: RefCell<Vec<Call>>,
    /// (reference string, device, port) of each successful registration; the port reference
    /// is the registration's.
    registered: RefCell<Vec<(String, PDeviceObject, *mut IUnknown)>>,
    cable: Cell<usize>,
}

fn text(w: &[u16]) -> String {
    String::from_utf16(w).unwrap()
}

impl Fake {
    fn new(plan: Plan) -> Self {
        Self {
            plan,
            ports: RefCell::new(Vec::new()),
            miniports: RefCell::new(Vec::new()),
            calls: RefCell::new(Vec::new()),
            registered: RefCell::new(Vec::new()),
            cable: Cell::new(0),
        }
    }

    fn call(&self, c: Call) {
        self.calls.borrow_mut().push(c);
    }

    /// The miniport factory `start_device` takes.
    fn new_miniport(&self, cable: usize) -> Result<ComPtr<IMiniportDMus>, NtStatus> {
        self.call(Call::Miniport(cable));
        if let Some(s) = fails(self.plan.miniport, cable) {
            return Err(s);
        }
        let m = Box::new(FakeMiniport {
            vtbl: &MP_VTBL,
            refs: Cell::new(1),
        });
        let p: *const FakeMiniport = &*m;
        self.miniports.borrow_mut().push(m);
        let p = NonNull::new(p.cast_mut().cast::<IMiniportDMus>()).unwrap();
        // SAFETY: only the IUnknown slots of the fake are ever called; the reference was just
        // counted and is handed to the caller; the box outlives the test.
        Ok(unsafe { ComPtr::from_raw(p) })
    }

    /// The `release_port` `start_device` takes: records which cable's miniport it was given.
    fn release_port(&self, miniport: &ComPtr<IMiniportDMus>) {
        let at = miniport.as_raw().cast::<FakeMiniport>().cast_const();
        let index = self
            .miniports
            .borrow()
            .iter()
            .position(|m| core::ptr::eq(&**m, at))
            .expect("one of our miniports");
        self.call(Call::ReleasePort(index));
    }

    fn port_refs(&self) -> Vec<u32> {
        self.ports.borrow().iter().map(|p| p.refs.get()).collect()
    }

    fn miniport_refs(&self) -> Vec<u32> {
        self.miniports
            .borrow()
            .iter()
            .map(|m| m.refs.get())
            .collect()
    }

    fn registered_names(&self) -> Vec<String> {
        self.registered
            .borrow()
            .iter()
            .map(|r| r.0.clone())
            .collect()
    }

    /// PortCls's device removal (also what follows a failed start): each registered
    /// subdevice's port is released (the fake port then drops the miniport it holds).
    fn tear_down(&self) {
        for (_, _, port) in self.registered.borrow_mut().drain(..) {
            // SAFETY: the live port the registration held a reference on.
            let vtbl = unsafe { (*port).vtbl };
            // SAFETY: its vtable, static for its life.
            let release = unsafe { (*vtbl).release };
            // SAFETY: gives back the registration's reference.
            unsafe { release(port) };
        }
    }
}

impl PortClass for Fake {
    unsafe fn new_port(&self, class_id: &Guid) -> Result<ComPtr<IPort>, NtStatus> {
        self.call(Call::NewPort(*class_id));
        let cable = self.ports.borrow().len();
        self.cable.set(cable);
        if let Some(s) = fails(self.plan.new_port, cable) {
            // A failed PcNewPort makes no port; count the cable as passed for the next call.
            self.ports.borrow_mut().push(Box::new(FakePort {
                vtbl: &PORT_VTBL,
                refs: Cell::new(0),
                init_status: STATUS_SUCCESS,
                init_args: Cell::new(None),
                held: Cell::new(null_mut()),
            }));
            return Err(s);
        }
        let port = Box::new(FakePort {
            vtbl: &PORT_VTBL,
            refs: Cell::new(1),
            init_status: fails(self.plan.init, cable).unwrap_or(STATUS_SUCCESS),
            init_args: Cell::new(None),
            held: Cell::new(null_mut()),
        });
        let p: *const FakePort = &*port;
        self.ports.borrow_mut().push(port);
        // SAFETY: a live fake port (IPort vtable first) and the reference just counted.
        Ok(unsafe { ComPtr::from_raw(NonNull::new(p.cast_mut().cast::<IPort>()).unwrap()) })
    }

    unsafe fn register_subdevice(
        &self,
        device: PDeviceObject,
        name: &[u16],
        port: *mut IUnknown,
    ) -> NtStatus {
        assert_eq!(name.last(), Some(&0), "NUL-terminated");
        let name = text(&name[..name.len() - 1]);
        self.call(Call::Register(name.clone()));
        if let Some(s) = fails(self.plan.register, self.cable.get()) {
            return s;
        }
        // SAFETY: the registered port is live for the call: its header holds the vtable.
        let vtbl = unsafe { (*port).vtbl };
        // SAFETY: the live port's vtable, static for its life.
        let add_ref = unsafe { (*vtbl).add_ref };
        // SAFETY: PortCls keeps the reference this takes on the live registered port.
        unsafe { add_ref(port) };
        self.registered.borrow_mut().push((name, device, port));
        STATUS_SUCCESS
    }

    unsafe fn set_friendly_name(
        &self,
        device: PDeviceObject,
        category: &Guid,
        reference: &[u16],
        name: &[u16],
    ) -> NtStatus {
        assert_eq!(device, DEVICE);
        assert_eq!(reference.last(), Some(&0), "NUL-terminated reference");
        assert_eq!(name.last(), Some(&0), "NUL-terminated name");
        self.call(Call::Friendly(
            *category,
            text(&reference[..reference.len() - 1]),
            text(&name[..name.len() - 1]),
        ));
        if self.plan.friendly.contains(&(self.cable.get(), *category)) {
            return STATUS_UNSUCCESSFUL;
        }
        STATUS_SUCCESS
    }

    fn failed(&self, index: usize, step: Step, status: NtStatus) {
        self.call(Call::Failed(index, step, status));
    }
}

const DEVICE: PDeviceObject = 0x1000 as PDeviceObject;
const IRP: PIrp = 0x2000 as PIrp;
const RESOURCES: PResourceList = 0x3000 as PResourceList;

/// `count` cables with default names.
fn cables(count: usize) -> crate::settings::CableNames {
    cable_names_setting(Ok(None), count)
}

fn start(fake: &Fake, names: &[CableName]) -> NtStatus {
    // SAFETY: fakes stand in for PortCls.
    unsafe {
        start_device(
            fake,
            DEVICE,
            IRP,
            RESOURCES,
            names,
            |i| fake.new_miniport(i),
            |m| fake.release_port(m),
        )
    }
}

/// The calls installing cable `i` (0-based) named `name` make when nothing fails.
fn cable_calls(i: usize, name: &str) -> Vec<Call> {
    let reference = format!("MxfLoop{}", i + 1);
    let mut v = vec![Call::NewPort(CLSID_PORT_DMUS), Call::Miniport(i)];
    for c in [KSCATEGORY_AUDIO, KSCATEGORY_RENDER, KSCATEGORY_CAPTURE] {
        v.push(Call::Friendly(c, reference.clone(), name.into()));
    }
    v.push(Call::Register(reference));
    v
}

#[test]
fn one_cable_registers_its_port_and_leaves_only_the_holders_references() {
    let fake = Fake::new(Plan::default());
    assert_eq!(start(&fake, cables(1).names()), STATUS_SUCCESS);
    assert_eq!(*fake.calls.borrow(), cable_calls(0, "MxfLoop 1"));
    let ports = fake.ports.borrow();
    let port_ptr: *const FakePort = &*ports[0];
    let mp_ptr: *const FakeMiniport = &*fake.miniports.borrow()[0];
    let (dev, irp, mp, adapter, res) = ports[0].init_args.get().expect("Init called");
    assert_eq!((dev, irp, res), (DEVICE, IRP, RESOURCES));
    assert_eq!(mp.cast_const(), mp_ptr.cast::<IUnknown>());
    assert!(adapter.is_null());
    let registered = fake.registered.borrow();
    assert_eq!(registered[0].1, DEVICE);
    assert_eq!(registered[0].2.cast_const(), port_ptr.cast::<IUnknown>());
    // Registration holds the port; the port holds the miniport; ours are released.
    assert_eq!(fake.port_refs(), [1]);
    assert_eq!(fake.miniport_refs(), [1]);
}

#[test]
fn every_cable_gets_its_own_port_miniport_reference_string_and_name() {
    let raw: Vec<u8> = ["Synth", "", "Ableton"]
        .iter()
        .flat_map(|s| s.encode_utf16().chain([0]))
        .chain([0])
        .flat_map(|u: u16| u.to_le_bytes())
        .collect();
    let names = cable_names_setting(Ok(Some(&raw)), 4);
    let fake = Fake::new(Plan::default());
    assert_eq!(start(&fake, names.names()), STATUS_SUCCESS);
    let want: Vec<Call> = ["Synth", "MxfLoop 2", "Ableton", "MxfLoop 4"]
        .iter()
        .enumerate()
        .flat_map(|(i, n)| cable_calls(i, n))
        .collect();
    assert_eq!(*fake.calls.borrow(), want);
    assert_eq!(
        fake.registered_names(),
        ["MxfLoop1", "MxfLoop2", "MxfLoop3", "MxfLoop4"]
    );
    // Four distinct ports, each holding its own miniport.
    let ports = fake.ports.borrow();
    let held: std::collections::BTreeSet<usize> =
        ports.iter().map(|p| p.held.get() as usize).collect();
    assert_eq!(held.len(), 4);
    assert_eq!(fake.port_refs(), [1, 1, 1, 1]);
    assert_eq!(fake.miniport_refs(), [1, 1, 1, 1]);
    drop(ports);
    fake.tear_down();
    assert_eq!(fake.port_refs(), [0, 0, 0, 0]);
    assert_eq!(fake.miniport_refs(), [0, 0, 0, 0]);
}

#[test]
fn all_sixteen_cables_install_and_more_or_none_are_refused() {
    let fake = Fake::new(Plan::default());
    let all = cables(MAX_CABLES);
    assert_eq!(start(&fake, all.names()), STATUS_SUCCESS);
    assert_eq!(fake.registered_names().len(), MAX_CABLES);
    assert_eq!(fake.registered_names()[15], "MxfLoop16");
    fake.tear_down();

    let fake = Fake::new(Plan::default());
    let mut seventeen: Vec<CableName> = all.names().to_vec();
    seventeen.push(CableName::default_for(0));
    assert_eq!(start(&fake, &seventeen), STATUS_INVALID_PARAMETER);
    assert_eq!(start(&fake, &[]), STATUS_INVALID_PARAMETER);
    assert!(fake.calls.borrow().is_empty(), "nothing was tried");
}

/// Cable `k` fails at `plan`'s step after cables `0..k` registered: the start returns that
/// status, reports it, tries no later cable, leaves exactly the registrations' references on
/// the earlier cables (which PortCls's removal then releases) and nothing on cable `k`.
fn failing_cable(k: usize, plan: Plan, step: Step, status: NtStatus) {
    let fake = Fake::new(plan);
    assert_eq!(
        start(&fake, cables(4).names()),
        status,
        "cable {k} at {step:?}"
    );
    let calls = fake.calls.borrow().clone();
    assert_eq!(calls.last(), Some(&Call::Failed(k, step, status)));
    let earlier: Vec<Call> = (0..k)
        .flat_map(|i| cable_calls(i, &format!("MxfLoop {}", i + 1)))
        .collect();
    assert_eq!(
        calls[..earlier.len()],
        earlier[..],
        "cables before {k} installed in full"
    );
    assert!(
        !calls
            .iter()
            .any(|c| matches!(c, Call::Miniport(i) if *i > k)),
        "no cable after {k} was tried"
    );
    let released: Vec<usize> = calls
        .iter()
        .filter_map(|c| match c {
            Call::ReleasePort(i) => Some(*i),
            _ => None,
        })
        .collect();
    let after_init = matches!(step, Step::PortInit | Step::RegisterSubdevice);
    assert_eq!(
        released,
        if after_init { vec![k] } else { vec![] },
        "only the failing cable's miniport, and only once its port's Init ran, gives up its port"
    );
    let registered = fake.registered_names();
    assert_eq!(registered.len(), k);
    let mut ports = fake.port_refs();
    let failed_port = if ports.len() > k { ports.remove(k) } else { 0 };
    assert_eq!(failed_port, 0, "cable {k}'s port released");
    assert_eq!(
        ports,
        vec![1; k],
        "the earlier cables: the registrations' references"
    );
    let mut miniports = fake.miniport_refs();
    if miniports.len() > k {
        assert_eq!(miniports.remove(k), 0, "cable {k}'s miniport released");
    }
    assert_eq!(
        miniports,
        vec![1; k],
        "the earlier cables: held by their ports"
    );
    fake.tear_down();
    assert!(fake.port_refs().iter().all(|&r| r == 0));
    assert!(fake.miniport_refs().iter().all(|&r| r == 0));
}

#[test]
fn a_failing_cable_after_others_registered_fails_the_start_with_exact_references() {
    for k in 0..4 {
        let s = STATUS_INSUFFICIENT_RESOURCES;
        failing_cable(
            k,
            Plan {
                new_port: Some((k, s)),
                ..Plan::default()
            },
            Step::NewPort,
            s,
        );
        failing_cable(
            k,
            Plan {
                miniport: Some((k, s)),
                ..Plan::default()
            },
            Step::NewMiniport,
            s,
        );
        failing_cable(
            k,
            Plan {
                init: Some((k, STATUS_UNSUCCESSFUL)),
                ..Plan::default()
            },
            Step::PortInit,
            STATUS_UNSUCCESSFUL,
        );
        failing_cable(
            k,
            Plan {
                register: Some((k, STATUS_OBJECT_NAME_COLLISION)),
                ..Plan::default()
            },
            Step::RegisterSubdevice,
            STATUS_OBJECT_NAME_COLLISION,
        );
    }
}

#[test]
fn port_creation_failure_is_returned_without_making_a_miniport() {
    let fake = Fake::new(Plan {
        new_port: Some((0, STATUS_INSUFFICIENT_RESOURCES)),
        ..Plan::default()
    });
    assert_eq!(
        start(&fake, cables(1).names()),
        STATUS_INSUFFICIENT_RESOURCES
    );
    assert!(fake.miniports.borrow().is_empty());
}

#[test]
fn init_failure_skips_the_names_and_the_registration() {
    let fake = Fake::new(Plan {
        init: Some((0, STATUS_UNSUCCESSFUL)),
        ..Plan::default()
    });
    assert_eq!(start(&fake, cables(1).names()), STATUS_UNSUCCESSFUL);
    assert!(
        !fake
            .calls
            .borrow()
            .iter()
            .any(|c| matches!(c, Call::Friendly(..) | Call::Register(_)))
    );
    assert_eq!(fake.port_refs(), [0]);
    assert_eq!(fake.miniport_refs(), [0]);
}

#[test]
fn a_friendly_name_that_cannot_be_written_is_reported_and_the_start_goes_on() {
    let fake = Fake::new(Plan {
        friendly: vec![(1, KSCATEGORY_RENDER)],
        ..Plan::default()
    });
    assert_eq!(start(&fake, cables(2).names()), STATUS_SUCCESS);
    let calls = fake.calls.borrow();
    let reported: Vec<&Call> = calls
        .iter()
        .filter(|c| matches!(c, Call::Failed(..)))
        .collect();
    assert_eq!(
        reported,
        [&Call::Failed(
            1,
            Step::FriendlyName(KSCATEGORY_RENDER),
            STATUS_UNSUCCESSFUL
        )]
    );
    assert!(!Step::FriendlyName(KSCATEGORY_RENDER).is_fatal());
    assert!(Step::RegisterSubdevice.is_fatal());
    // The other two interfaces of that cable were still named, and both cables registered.
    assert_eq!(
        calls
            .iter()
            .filter(|c| matches!(c, Call::Friendly(_, r, _) if r == "MxfLoop2"))
            .count(),
        3
    );
    assert_eq!(fake.registered_names(), ["MxfLoop1", "MxfLoop2"]);
    drop(calls);
    fake.tear_down();
}

#[test]
fn the_categories_named_are_the_filters() {
    assert_eq!(
        CATEGORIES,
        [KSCATEGORY_AUDIO, KSCATEGORY_RENDER, KSCATEGORY_CAPTURE]
    );
}
