//! Thin wrappers over the PortCls adapter functions: the safe-layer names the driver glue calls,
//! with the pointer contracts stated once.

use crate::sys::{
    self, DeviceObject, DriverAddDevice, DriverObject, PcPfnStartDevice, UnicodeString,
};
use core::ptr::NonNull;
use mxf_abi::{Guid, IPort, IUnknown, NtStatus, nt_success};
use mxf_core::com::ComPtr;

/// `PcInitializeAdapterDriver`.
///
/// # Safety
/// Called once from `DriverEntry` at `PASSIVE_LEVEL` with the pointers the I/O manager passed.
pub unsafe fn initialize_adapter_driver(
    driver: *mut DriverObject,
    registry_path: *mut UnicodeString,
    add_device: DriverAddDevice,
) -> NtStatus {
    // SAFETY: forwarded from DriverEntry as the caller guarantees.
    unsafe { sys::portcls::PcInitializeAdapterDriver(driver, registry_path, add_device) }
}

/// `PcAddAdapterDevice`.
///
/// # Safety
/// Called from the `AddDevice` routine PortCls invoked, at `PASSIVE_LEVEL`, with its pointers.
pub unsafe fn add_adapter_device(
    driver: *mut DriverObject,
    pdo: *mut DeviceObject,
    start_device: PcPfnStartDevice,
    max_objects: u32,
    device_extension_size: u32,
) -> NtStatus {
    // SAFETY: forwarded from AddDevice as the caller guarantees.
    unsafe {
        sys::portcls::PcAddAdapterDevice(
            driver,
            pdo,
            start_device,
            max_objects,
            device_extension_size,
        )
    }
}

/// `PcNewPort`: the port object of class `class_id`; the returned reference is the caller's.
///
/// # Safety
/// `PASSIVE_LEVEL`.
pub unsafe fn new_port(class_id: &Guid) -> Result<ComPtr<IPort>, NtStatus> {
    let mut port: *mut IPort = core::ptr::null_mut();
    // SAFETY: `port` is a valid out-pointer and `class_id` a valid GUID for the call.
    let status = unsafe { sys::portcls::PcNewPort(&mut port, class_id) };
    if !nt_success(status) {
        return Err(status);
    }
    let port = NonNull::new(port).ok_or(mxf_abi::STATUS_UNSUCCESSFUL)?;
    // SAFETY: a successful PcNewPort returns a live port object with one reference, which it
    // hands to us.
    Ok(unsafe { ComPtr::from_raw(port) })
}

/// `PcRegisterSubdevice`: `name` must be NUL-terminated UTF-16.
///
/// # Safety
/// `device` is PortCls's FDO (from `StartDevice`), `unknown` a live port; `PASSIVE_LEVEL`.
pub unsafe fn register_subdevice(
    device: *mut DeviceObject,
    name: &[u16],
    unknown: *mut IUnknown,
) -> NtStatus {
    if name.last() != Some(&0) {
        return mxf_abi::STATUS_INVALID_PARAMETER;
    }
    // SAFETY: `name` is NUL-terminated (checked) and outlives the call (PortCls copies it);
    // the caller guarantees the rest.
    unsafe { sys::portcls::PcRegisterSubdevice(device, name.as_ptr(), unknown) }
}

/// `PcGetPhysicalDeviceObject`: the PDO under PortCls's FDO `device`.
///
/// # Safety
/// `device` is PortCls's FDO (from `StartDevice`); any IRQL.
pub unsafe fn physical_device_object(
    device: *mut DeviceObject,
) -> Result<*mut DeviceObject, NtStatus> {
    let mut pdo: *mut DeviceObject = core::ptr::null_mut();
    // SAFETY: `device` is PortCls's FDO (the caller's contract); `pdo` is a valid out-pointer.
    let status = unsafe { sys::portcls::PcGetPhysicalDeviceObject(device, &mut pdo) };
    if !nt_success(status) {
        return Err(status);
    }
    if pdo.is_null() {
        return Err(mxf_abi::STATUS_UNSUCCESSFUL);
    }
    Ok(pdo)
}
