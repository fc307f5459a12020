//! The entry points the kernel and PortCls call.

use crate::adapter::{self, PortClass, Step};
use crate::lifecycle::{self, DriverServices};
use crate::names::{
    FRIENDLY_NAME_VALUE_W, MAX_MINIPORTS, PARAMETERS_KEY, PARAMETERS_KEY_W, TRACE_LEVEL_VALUE,
    TRACE_LEVEL_VALUE_W,
};
use core::ffi::c_void;
use core::sync::atomic::{AtomicPtr, Ordering};
use mxf_abi::{
    Guid, IMiniportDMus, IPort, IUnknown, NtStatus, PDeviceObject, PIrp, PResourceList, nt_success,
};
use mxf_core::com::ComPtr;
use mxf_core::platform::{LogLevel, Platform};
use mxf_kernel::KernelPlatform;
use mxf_kernel::sys::{DeviceObject, DriverObject, DriverUnload, Irp, UnicodeString};
use mxf_kernel::{device_interface, driver_object, log, portcls, registry};

/// PortCls as the kernel exports it.
struct KernelPortClass;

impl PortClass for KernelPortClass {
    unsafe fn new_port(&self, class_id: &Guid) -> Result<ComPtr<IPort>, NtStatus> {
        // SAFETY: called from StartDevice at PASSIVE_LEVEL (the trait's contract).
        unsafe { portcls::new_port(class_id) }
    }

    unsafe fn register_subdevice(
        &self,
        device: PDeviceObject,
        name: &[u16],
        port: *mut IUnknown,
    ) -> NtStatus {
        // SAFETY: `device` is the FDO StartDevice received and `port` is live (trait contract).
        unsafe { portcls::register_subdevice(device.cast(), name, port) }
    }

    unsafe fn set_friendly_name(
        &self,
        device: PDeviceObject,
        category: &Guid,
        reference: &[u16],
        name: &[u16],
    ) -> NtStatus {
        // SAFETY: `device` is the FDO StartDevice received (the trait's contract).
        let pdo = match unsafe { portcls::physical_device_object(device.cast()) } {
            Ok(pdo) => pdo,
            Err(status) => return status,
        };
        // SAFETY: PortCls's PDO of this device, live while it is started; PASSIVE_LEVEL in
        // PortCls's StartDevice worker (a system thread), the trait's contract.
        unsafe {
            device_interface::set_interface_string(
                pdo,
                category,
                reference,
                &FRIENDLY_NAME_VALUE_W,
                name,
            )
        }
    }

    fn failed(&self, index: usize, step: Step, status: NtStatus) {
        let cable = index + 1;
        match step {
            Step::FriendlyName(category) => KernelPlatform.log(
                LogLevel::Warn,
                format_args!(
                    "StartDevice: cable {cable}: writing the friendly name of interface {{{category}}} failed: {status:#010x}; it keeps its previous name"
                ),
            ),
            _ => KernelPlatform.log(
                LogLevel::Error,
                format_args!("StartDevice: cable {cable}: {step:?} failed: {status:#010x}"),
            ),
        }
    }
}

/// PortCls's `DriverUnload`, saved by [`KernelDriver::hook_unload`] (null: none). Written once
/// in `DriverEntry`, read once in [`driver_unload`]; the I/O manager orders the two.
static PORTCLS_UNLOAD: AtomicPtr<c_void> = AtomicPtr::new(core::ptr::null_mut());

/// The driver object and registry path `DriverEntry` (or the unload routine) received.
struct KernelDriver {
    driver: *mut DriverObject,
    registry_path: *mut UnicodeString,
}

impl DriverServices for KernelDriver {
    unsafe fn attach_framework(&self) -> NtStatus {
        // SAFETY: from DriverEntry with its arguments (the trait's contract).
        unsafe { crate::framework::attach(self.driver, self.registry_path) }
    }

    unsafe fn initialize_adapter_driver(&self) -> NtStatus {
        // SAFETY: as above; `add_device` has PortCls's AddDevice signature.
        unsafe { portcls::initialize_adapter_driver(self.driver, self.registry_path, add_device) }
    }

    unsafe fn hook_unload(&self) {
        // SAFETY: the driver object DriverEntry received, nobody else touches it during
        // DriverEntry.
        let portcls_unload =
            unsafe { driver_object::replace_unload(self.driver, Some(driver_unload)) };
        let raw = portcls_unload.map_or(core::ptr::null_mut(), |f| f as *mut c_void);
        PORTCLS_UNLOAD.store(raw, Ordering::Release);
    }

    unsafe fn call_portcls_unload(&self) {
        let raw = PORTCLS_UNLOAD.swap(core::ptr::null_mut(), Ordering::Acquire);
        if raw.is_null() {
            return;
        }
        // SAFETY: `raw` is a non-null DriverUnload that hook_unload stored (a function pointer
        // and a data pointer have the same size and representation on x64).
        let unload: DriverUnload =
            unsafe { core::mem::transmute::<*mut c_void, DriverUnload>(raw) };
        // SAFETY: PortCls's own unload routine for this driver object, at PASSIVE_LEVEL, once.
        unsafe { unload(self.driver) };
    }

    unsafe fn detach_framework(&self) {
        // SAFETY: the trait's contract is framework::detach's.
        unsafe { crate::framework::detach() }
    }

    fn failed(&self, what: &'static str, status: NtStatus) {
        KernelPlatform.log(
            LogLevel::Error,
            format_args!("DriverEntry: {what} failed: {status:#010x}"),
        );
    }
}

/// `DriverEntry`: the image's entry point (`/ENTRY:DriverEntry`; under KMDF, `FxDriverEntry`
/// calls it after binding the framework). See [`lifecycle::driver_entry`].
///
/// # Safety
/// Called once by the I/O manager at `PASSIVE_LEVEL` with its driver object and registry path.
#[unsafe(no_mangle)]
pub unsafe extern "system" fn DriverEntry(
    driver: *mut DriverObject,
    registry_path: *mut UnicodeString,
) -> NtStatus {
    configure_tracing();
    let services = KernelDriver {
        driver,
        registry_path,
    };
    // SAFETY: forwarded from the I/O manager; KernelDriver honours DriverServices.
    let status = unsafe { lifecycle::driver_entry(&services) };
    if nt_success(status) {
        KernelPlatform.log(LogLevel::Info, format_args!("DriverEntry: ok"));
    }
    status
}

/// Sets the trace level from `Services\mxfloop\Parameters\TraceLevel` (default: info) and
/// prints the first bring-up line. A value that cannot be read (not a `REG_DWORD`) keeps the
/// default and says why.
fn configure_tracing() {
    let default = u32::from(log::level_code(log::DEFAULT_LEVEL));
    let read = registry::service_dword(&PARAMETERS_KEY_W, &TRACE_LEVEL_VALUE_W, default);
    let code = read.unwrap_or(default);
    log::set_max_level(log::level_from_code(code));
    KernelPlatform.log(
        LogLevel::Info,
        format_args!(
            "DriverEntry: mxfloop {} ({}), {PARAMETERS_KEY}\\{TRACE_LEVEL_VALUE} = {code} ({:?})",
            env!("CARGO_PKG_VERSION"),
            crate::framework::NAME,
            log::max_level(),
        ),
    );
    if let Err(status) = read {
        KernelPlatform.log(
            LogLevel::Warn,
            format_args!(
                "DriverEntry: reading {PARAMETERS_KEY}\\{TRACE_LEVEL_VALUE} failed: {status:#010x}; using {default}"
            ),
        );
    }
}

/// The driver's `DriverUnload` (installed by [`KernelDriver::hook_unload`]): PortCls's unload,
/// then the framework's. See [`lifecycle::driver_unload`].
///
/// # Safety
/// Called once by the I/O manager at `PASSIVE_LEVEL` after every device was removed.
unsafe extern "system" fn driver_unload(driver: *mut DriverObject) {
    KernelPlatform.log(LogLevel::Info, format_args!("DriverUnload"));
    let services = KernelDriver {
        driver,
        registry_path: core::ptr::null_mut(),
    };
    // SAFETY: the unload routine hook_unload installed, called by the I/O manager.
    unsafe { lifecycle::driver_unload(&services) }
    KernelPlatform.log(LogLevel::Info, format_args!("DriverUnload: done"));
}

/// `AddDevice`: PortCls creates the FDO and will call [`start_device`] on `IRP_MN_START_DEVICE`.
///
/// # Safety
/// Called by PortCls's AddDevice dispatch at `PASSIVE_LEVEL`.
unsafe extern "system" fn add_device(
    driver: *mut DriverObject,
    pdo: *mut DeviceObject,
) -> NtStatus {
    // SAFETY: forwarded from PortCls; no custom device extension (0 = PortCls's own size).
    let status =
        unsafe { portcls::add_adapter_device(driver, pdo, start_device, MAX_MINIPORTS, 0) };
    if nt_success(status) {
        KernelPlatform.log(LogLevel::Info, format_args!("AddDevice(PDO {pdo:p}): ok"));
    } else {
        KernelPlatform.log(
            LogLevel::Error,
            format_args!("AddDevice(PDO {pdo:p}): PcAddAdapterDevice failed: {status:#010x}"),
        );
    }
    status
}

/// `StartDevice`: installs the cables' DMus subdevices (see [`adapter::start_device`]) with the
/// settings of [`crate::config::read`].
///
/// # Safety
/// Called by PortCls at `PASSIVE_LEVEL` while handling `IRP_MN_START_DEVICE`.
unsafe extern "system" fn start_device(
    device: *mut DeviceObject,
    irp: *mut Irp,
    resources: PResourceList,
) -> NtStatus {
    let config = crate::config::read();
    // Every cable's miniport gets the same feedback guard configuration.
    KernelPlatform.log(
        LogLevel::Info,
        format_args!(
            "StartDevice: feedback guard limit {} messages per 100 ms window (0: off)",
            config.feedback.max_messages_per_window
        ),
    );
    let cables = config.cables.names();
    let unbind = |miniport: &ComPtr<IMiniportDMus>| {
        // SAFETY: `start_device` passes only the miniport of a cable whose subdevice was not
        // registered, so no stream of it exists or can be created.
        unsafe { mxf_miniport::release_port::<KernelPlatform>(miniport) };
    };
    // SAFETY: forwarded from PortCls at PASSIVE_LEVEL; KernelPortClass honours PortClass.
    let status = unsafe {
        adapter::start_device(
            &KernelPortClass,
            device.cast(),
            irp.cast::<core::ffi::c_void>() as PIrp,
            resources,
            cables,
            |_| crate::miniport::new_miniport(config.capture_mode, config.feedback),
            unbind,
        )
    };
    if nt_success(status) {
        KernelPlatform.log(
            LogLevel::Info,
            format_args!(
                "StartDevice(FDO {device:p}): ok, {} cable subdevice(s) registered",
                cables.len()
            ),
        );
    } else {
        KernelPlatform.log(
            LogLevel::Error,
            format_args!(
                "StartDevice(FDO {device:p}): installing {} cable(s) failed: {status:#010x}; PortCls releases the cables registered before",
                cables.len()
            ),
        );
    }
    status
}
