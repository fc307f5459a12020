//! The one place where the WDM image (built on Linux) and the KMDF image (built with the WDK,
//! feature `wdk`) differ; see the crate docs for why.

use mxf_abi::NtStatus;
use mxf_kernel::sys::{DriverObject, UnicodeString};

/// KMDF in miniport mode: create the framework driver object without letting KMDF take over
/// the dispatch table (PortCls installs its own right after).
///
/// # Safety
/// Called once from `DriverEntry` with its arguments, at `PASSIVE_LEVEL`.
#[cfg(feature = "wdk")]
pub unsafe fn attach(driver: *mut DriverObject, registry_path: *mut UnicodeString) -> NtStatus {
    use wdk_sys::{WDF_DRIVER_CONFIG, WDF_NO_HANDLE, WDF_NO_OBJECT_ATTRIBUTES};
    let mut config = WDF_DRIVER_CONFIG {
        Size: core::mem::size_of::<WDF_DRIVER_CONFIG>() as u32,
        DriverInitFlags: wdk_sys::_WDF_DRIVER_INIT_FLAGS::WdfDriverInitNoDispatchOverride as u32,
        ..WDF_DRIVER_CONFIG::default()
    };
    // SAFETY: the driver object and registry path come from the I/O manager; `config` is a
    // fully initialised WDF_DRIVER_CONFIG (Size set) that outlives the call; no attributes and
    // no handle out-parameter are allowed by WdfDriverCreate.
    unsafe {
        wdk_sys::call_unsafe_wdf_function_binding!(
            WdfDriverCreate,
            driver.cast(),
            registry_path.cast(),
            WDF_NO_OBJECT_ATTRIBUTES,
            &mut config,
            WDF_NO_HANDLE.cast()
        )
    }
}

/// WDM: nothing to attach.
///
/// # Safety
/// None beyond `DriverEntry`'s own; kept `unsafe` for the same signature as the KMDF variant.
#[cfg(not(feature = "wdk"))]
pub unsafe fn attach(_driver: *mut DriverObject, _registry_path: *mut UnicodeString) -> NtStatus {
    mxf_abi::STATUS_SUCCESS
}
