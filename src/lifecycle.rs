//! The order of `DriverEntry` and `DriverUnload`: framework, PortCls, the unload hook.
//!
//! KMDF in miniport mode (the WDK build) owns a framework driver object that PortCls knows
//! nothing of: `WdfDriverCreate` runs before `PcInitializeAdapterDriver`, and the framework
//! object must be deleted with `WdfDriverMiniportUnload` both when `DriverEntry` fails after it
//! was created and at unload, after PortCls's own unload routine (which
//! `PcInitializeAdapterDriver` installs in `DRIVER_OBJECT.DriverUnload`) has run. So
//! `DriverEntry` replaces that routine with ours, which calls PortCls's first, as Microsoft's
//! KMDF+PortCls audio samples do. On the WDM image the framework steps do nothing.
//!
//! Written against [`DriverServices`] so that the order is tested on the host; the kernel
//! implementation is in `entry.rs`.

use mxf_abi::{NtStatus, STATUS_SUCCESS, nt_success};

/// The steps `DriverEntry`/`DriverUnload` take, in the kernel: KMDF, PortCls, the unload slot.
pub trait DriverServices {
    /// Creates the framework driver object (KMDF: `WdfDriverCreate` with
    /// `WdfDriverInitNoDispatchOverride`; WDM: nothing, success).
    ///
    /// # Safety
    /// Once, from `DriverEntry`, at `PASSIVE_LEVEL`.
    unsafe fn attach_framework(&self) -> NtStatus;

    /// `PcInitializeAdapterDriver`: PortCls installs its dispatch table, `AddDevice` and its
    /// `DriverUnload`.
    ///
    /// # Safety
    /// Once, from `DriverEntry`, at `PASSIVE_LEVEL`, after [`Self::attach_framework`]
    /// succeeded.
    unsafe fn initialize_adapter_driver(&self) -> NtStatus;

    /// Saves PortCls's `DriverUnload` and installs the driver's own unload routine.
    ///
    /// # Safety
    /// Once, from `DriverEntry`, after [`Self::initialize_adapter_driver`] succeeded.
    unsafe fn hook_unload(&self);

    /// Calls the saved PortCls `DriverUnload` (if PortCls had installed one).
    ///
    /// # Safety
    /// Once, from the driver's unload routine, at `PASSIVE_LEVEL`.
    unsafe fn call_portcls_unload(&self);

    /// Deletes the framework driver object (KMDF: `WdfDriverMiniportUnload`; WDM: nothing).
    ///
    /// # Safety
    /// At most once, at `PASSIVE_LEVEL`, after [`Self::attach_framework`] succeeded and after
    /// PortCls no longer runs any of the driver's code.
    unsafe fn detach_framework(&self);

    /// Reports a failed step (`what`) with its status (the kernel logs at error level).
    fn failed(&self, what: &'static str, status: NtStatus);
}

/// `DriverEntry`: framework, then PortCls, then the unload hook. A PortCls failure deletes the
/// framework object again (nothing else was set up); the failing status is returned as is.
///
/// # Safety
/// Called once from `DriverEntry` at `PASSIVE_LEVEL`; `s` honours [`DriverServices`].
pub unsafe fn driver_entry<S: DriverServices>(s: &S) -> NtStatus {
    // SAFETY: from DriverEntry, first step.
    let status = unsafe { s.attach_framework() };
    if !nt_success(status) {
        s.failed("WdfDriverCreate", status);
        return status;
    }
    // SAFETY: from DriverEntry, after the framework attached.
    let status = unsafe { s.initialize_adapter_driver() };
    if !nt_success(status) {
        s.failed("PcInitializeAdapterDriver", status);
        // SAFETY: the framework attached and PortCls did not take the driver over.
        unsafe { s.detach_framework() };
        return status;
    }
    // SAFETY: PortCls initialised the driver object, its unload routine is in place.
    unsafe { s.hook_unload() };
    STATUS_SUCCESS
}

/// `DriverUnload`: PortCls's unload first (it still refers to the driver's objects), then the
/// framework driver object.
///
/// # Safety
/// Called once from the unload routine [`DriverServices::hook_unload`] installed.
pub unsafe fn driver_unload<S: DriverServices>(s: &S) {
    // SAFETY: from the unload routine, as the trait requires.
    unsafe { s.call_portcls_unload() };
    // SAFETY: PortCls has unloaded; the framework attached (or the hook would not be there).
    unsafe { s.detach_framework() };
}

#[cfg(test)]
mod tests {
    use super::*;
    use mxf_abi::{STATUS_INSUFFICIENT_RESOURCES, STATUS_UNSUCCESSFUL};
    use std::cell::RefCell;
    use std::vec::Vec;

    /// Records every call; the two initialisation steps return the given statuses.
    struct Fake {
        attach: NtStatus,
        init: NtStatus,
        calls: RefCell<Vec<&'static str>>,
    }

    impl Fake {
        fn new(attach: NtStatus, init: NtStatus) -> Self {
            Fake {
                attach,
                init,
                calls: RefCell::new(Vec::new()),
            }
        }
        fn calls(&self) -> Vec<&'static str> {
            self.calls.borrow().clone()
        }
    }

    impl DriverServices for Fake {
        unsafe fn attach_framework(&self) -> NtStatus {
            self.calls.borrow_mut().push("attach");
            self.attach
        }
        unsafe fn initialize_adapter_driver(&self) -> NtStatus {
            self.calls.borrow_mut().push("init");
            self.init
        }
        unsafe fn hook_unload(&self) {
            self.calls.borrow_mut().push("hook");
        }
        unsafe fn call_portcls_unload(&self) {
            self.calls.borrow_mut().push("portcls-unload");
        }
        unsafe fn detach_framework(&self) {
            self.calls.borrow_mut().push("detach");
        }
        fn failed(&self, what: &'static str, _status: NtStatus) {
            self.calls.borrow_mut().push(what);
        }
    }

    #[test]
    fn a_good_entry_hooks_unload_and_unload_runs_portcls_before_the_framework() {
        let f = Fake::new(STATUS_SUCCESS, STATUS_SUCCESS);
        // SAFETY: the fake has no preconditions.
        assert_eq!(unsafe { driver_entry(&f) }, STATUS_SUCCESS);
        assert_eq!(f.calls(), ["attach", "init", "hook"]);
        // SAFETY: as above.
        unsafe { driver_unload(&f) };
        assert_eq!(
            f.calls(),
            ["attach", "init", "hook", "portcls-unload", "detach"]
        );
    }

    #[test]
    fn a_portcls_failure_after_the_framework_attached_detaches_it() {
        let f = Fake::new(STATUS_SUCCESS, STATUS_INSUFFICIENT_RESOURCES);
        // SAFETY: the fake has no preconditions.
        assert_eq!(unsafe { driver_entry(&f) }, STATUS_INSUFFICIENT_RESOURCES);
        assert_eq!(
            f.calls(),
            ["attach", "init", "PcInitializeAdapterDriver", "detach"]
        );
    }

    #[test]
    fn a_framework_failure_stops_before_portcls_and_detaches_nothing() {
        let f = Fake::new(STATUS_UNSUCCESSFUL, STATUS_SUCCESS);
        // SAFETY: the fake has no preconditions.
        assert_eq!(unsafe { driver_entry(&f) }, STATUS_UNSUCCESSFUL);
        assert_eq!(f.calls(), ["attach", "WdfDriverCreate"]);
    }
}
