//! The one place where the WDM image (built on Linux, `--cfg mxf_no_wdk`) and the KMDF image
//! (built with the WDK) differ; see the crate docs for why.
//!
//! KMDF in miniport mode: [`attach`] creates the framework driver object without letting KMDF
//! take over the dispatch table (PortCls installs its own right after), [`detach`] deletes it
//! again with `WdfDriverMiniportUnload` (the order around PortCls is in [`crate::lifecycle`]).

use mxf_abi::NtStatus;
use mxf_kernel::sys::{DriverObject, UnicodeString};

#[cfg(not(mxf_no_wdk))]
pub use kmdf::{NAME, attach, detach};
#[cfg(mxf_no_wdk)]
pub use wdm::{NAME, attach, detach};

/// The WDM image: no framework.
#[cfg(mxf_no_wdk)]
mod wdm {
    use super::*;

    /// What the bring-up trace calls this image.
    pub const NAME: &str = "WDM";

    /// Nothing to attach.
    ///
    /// # Safety
    /// None beyond `DriverEntry`'s own; `unsafe` for the same signature as the KMDF variant.
    pub unsafe fn attach(
        _driver: *mut DriverObject,
        _registry_path: *mut UnicodeString,
    ) -> NtStatus {
        mxf_abi::STATUS_SUCCESS
    }

    /// Nothing to detach.
    ///
    /// # Safety
    /// None; `unsafe` for the same signature as the KMDF variant.
    pub unsafe fn detach() {}
}

/// KMDF in miniport mode, with wdk-sys.
#[cfg(not(mxf_no_wdk))]
mod kmdf {
    use super::*;
    use wdk_sys::{PWDF_DRIVER_GLOBALS, WDFDRIVER, WDFFUNC};

    /// What the bring-up trace calls this image.
    pub const NAME: &str = "KMDF miniport mode";

    /// `PFN_WDFDRIVERMINIPORTUNLOAD` (`wdfminiport.h`, which wdk-sys does not bind: it binds
    /// `wdf.h` only): `VOID (*)(PWDF_DRIVER_GLOBALS DriverGlobals, WDFDRIVER Driver)`. The
    /// parameter types are wdk-sys's own; x64 has one C calling convention.
    type PfnWdfDriverMiniportUnload =
        unsafe extern "system" fn(driver_globals: PWDF_DRIVER_GLOBALS, driver: WDFDRIVER);

    /// `WdfDriverMiniportUnloadTableIndex` of `wdffuncenum.h`: the slot of
    /// `WdfDriverMiniportUnload` in the `WdfFunctions` table (the inline function of
    /// `wdfminiport.h` calls through it).
    const WDF_DRIVER_MINIPORT_UNLOAD_TABLE_INDEX: usize = 201;

    // The hand-written declaration against wdk-sys's bindgen output of the WDK's headers: the
    // index is the header's enumerator and the slot has the table entry's size (a function
    // pointer, so the transmute below is between pointer-sized function pointers).
    const _: () = {
        assert!(
            WDF_DRIVER_MINIPORT_UNLOAD_TABLE_INDEX
                == wdk_sys::_WDFFUNCENUM::WdfDriverMiniportUnloadTableIndex as usize
        );
        assert!(
            WDF_DRIVER_MINIPORT_UNLOAD_TABLE_INDEX
                < wdk_sys::_WDFFUNCENUM::WdfFunctionTableNumEntries as usize
        );
        assert!(
            core::mem::size_of::<Option<PfnWdfDriverMiniportUnload>>()
                == core::mem::size_of::<WDFFUNC>()
        );
    };

    /// `WdfDriverCreate` with `WdfDriverInitNoDispatchOverride`, no attributes, no handle out.
    ///
    /// # Safety
    /// Called once from `DriverEntry` with its arguments, at `PASSIVE_LEVEL`.
    pub unsafe fn attach(driver: *mut DriverObject, registry_path: *mut UnicodeString) -> NtStatus {
        use wdk_sys::{WDF_DRIVER_CONFIG, WDF_NO_HANDLE, WDF_NO_OBJECT_ATTRIBUTES};
        let mut config = WDF_DRIVER_CONFIG {
            Size: core::mem::size_of::<WDF_DRIVER_CONFIG>() as u32,
            DriverInitFlags: wdk_sys::_WDF_DRIVER_INIT_FLAGS::WdfDriverInitNoDispatchOverride
                as u32,
            ..WDF_DRIVER_CONFIG::default()
        };
        // SAFETY: the driver object and registry path come from the I/O manager; `config` is a
        // fully initialised WDF_DRIVER_CONFIG (Size set) that outlives the call; no attributes
        // and no handle out-parameter are allowed by WdfDriverCreate.
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

    /// `WdfDriverMiniportUnload(WdfGetDriver())` when a framework driver object exists.
    ///
    /// # Safety
    /// At `PASSIVE_LEVEL`, after PortCls's unload ran (or PortCls never took the driver over),
    /// at most once.
    pub unsafe fn detach() {
        // SAFETY: WdfDriverGlobals is written by the KMDF loader stub before DriverEntry runs
        // and only read afterwards; a copy of the pointer is read, no reference is taken.
        let globals = unsafe { wdk_sys::WdfDriverGlobals };
        if globals.is_null() {
            return;
        }
        // SAFETY: non-null globals point to the framework's WDF_DRIVER_GLOBALS for this driver;
        // `Driver` is what WdfGetDriver() returns (null until WdfDriverCreate succeeded).
        let wdf_driver = unsafe { (*globals).Driver };
        if wdf_driver.is_null() {
            return;
        }
        // SAFETY: WdfFunctions is the framework's function table, bound by the loader stub
        // before DriverEntry; it has WdfFunctionTableNumEntries entries (> the index, asserted
        // above) that never change while the driver is loaded.
        let entry: WDFFUNC =
            unsafe { *wdk_sys::WdfFunctions.add(WDF_DRIVER_MINIPORT_UNLOAD_TABLE_INDEX) };
        // SAFETY: the entry at WdfDriverMiniportUnloadTableIndex is WdfDriverMiniportUnload,
        // whose type is PfnWdfDriverMiniportUnload (wdfminiport.h); both are nullable,
        // pointer-sized function pointers (asserted above).
        let unload: Option<PfnWdfDriverMiniportUnload> = unsafe { core::mem::transmute(entry) };
        if let Some(unload) = unload {
            // SAFETY: the framework's own globals and driver handle, at PASSIVE_LEVEL, once.
            unsafe { unload(globals, wdf_driver) };
        }
    }
}
