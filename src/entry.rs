//! The entry points the kernel and PortCls call.

use crate::adapter::{self, PortClass};
use crate::names::{MAX_MINIPORTS, SUBDEVICE_NAME};
use mxf_abi::{Guid, IPort, IUnknown, NtStatus, PDeviceObject, PIrp, PResourceList, nt_success};
use mxf_core::com::ComPtr;
use mxf_core::platform::{LogLevel, Platform};
use mxf_kernel::KernelPlatform;
use mxf_kernel::portcls;
use mxf_kernel::sys::{DeviceObject, DriverObject, Irp, UnicodeString};

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
}

/// `DriverEntry`: the image's entry point (`/ENTRY:DriverEntry`; under KMDF, `FxDriverEntry`
/// calls it after binding the framework).
///
/// # Safety
/// Called once by the I/O manager at `PASSIVE_LEVEL` with its driver object and registry path.
#[unsafe(no_mangle)]
pub unsafe extern "system" fn DriverEntry(
    driver: *mut DriverObject,
    registry_path: *mut UnicodeString,
) -> NtStatus {
    // SAFETY: forwarded from the I/O manager.
    let status = unsafe { crate::framework::attach(driver, registry_path) };
    if !nt_success(status) {
        return status;
    }
    // SAFETY: as above; `add_device` has PortCls's AddDevice signature.
    let status = unsafe { portcls::initialize_adapter_driver(driver, registry_path, add_device) };
    if !nt_success(status) {
        KernelPlatform.log(
            LogLevel::Error,
            format_args!("PcInitializeAdapterDriver failed: {status:#010x}"),
        );
    }
    status
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
    unsafe { portcls::add_adapter_device(driver, pdo, start_device, MAX_MINIPORTS, 0) }
}

/// `StartDevice`: installs the DMus subdevice (see [`adapter::start_device`]).
///
/// # Safety
/// Called by PortCls at `PASSIVE_LEVEL` while handling `IRP_MN_START_DEVICE`.
unsafe extern "system" fn start_device(
    device: *mut DeviceObject,
    irp: *mut Irp,
    resources: PResourceList,
) -> NtStatus {
    // SAFETY: forwarded from PortCls at PASSIVE_LEVEL; KernelPortClass honours PortClass.
    let status = unsafe {
        adapter::start_device(
            &KernelPortClass,
            device.cast(),
            irp.cast::<core::ffi::c_void>() as PIrp,
            resources,
            crate::miniport::new_miniport,
        )
    };
    if !nt_success(status) {
        KernelPlatform.log(
            LogLevel::Error,
            format_args!("installing subdevice {SUBDEVICE_NAME} failed: {status:#010x}"),
        );
    }
    status
}
