//! Exports of `portcls.sys` used by the adapter glue (`portcls.h`; wdk-sys binds none).

use super::types::*;
use mxf_abi::{Guid, IPort, IUnknown};

#[cfg_attr(
    windows,
    link(name = "portcls.sys", kind = "raw-dylib", modifiers = "+verbatim")
)]
unsafe extern "system" {
    /// `PcInitializeAdapterDriver`: installs PortCls's dispatch routines and `AddDevice`.
    /// `PASSIVE_LEVEL`, from `DriverEntry`.
    pub fn PcInitializeAdapterDriver(
        driver_object: *mut DriverObject,
        registry_path_name: *mut UnicodeString,
        add_device: DriverAddDevice,
    ) -> NtStatus;
    /// `PcAddAdapterDevice`: creates the FDO; `start_device` runs on `IRP_MN_START_DEVICE`.
    pub fn PcAddAdapterDevice(
        driver_object: *mut DriverObject,
        physical_device_object: *mut DeviceObject,
        start_device: PcPfnStartDevice,
        max_objects: u32,
        device_extension_size: u32,
    ) -> NtStatus;
    /// `PcNewPort`: a port driver object of class `class_id`, with one reference.
    pub fn PcNewPort(out_port: *mut *mut IPort, class_id: *const Guid) -> NtStatus;
    /// `PcGetPhysicalDeviceObject` (Windows 8+): the PDO under PortCls's FDO `device_object`.
    /// Any IRQL.
    pub fn PcGetPhysicalDeviceObject(
        device_object: *mut DeviceObject,
        physical_device_object: *mut *mut DeviceObject,
    ) -> NtStatus;
    /// `PcRegisterSubdevice`: exposes `unknown` (a port) as a KS filter under reference string
    /// `name` (NUL-terminated UTF-16).
    pub fn PcRegisterSubdevice(
        device_object: *mut DeviceObject,
        name: *const u16,
        unknown: *mut IUnknown,
    ) -> NtStatus;
}
