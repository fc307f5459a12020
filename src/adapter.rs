//! `StartDevice`: for each cable, create a DMus port and our miniport, bind them, name the
//! cable's device interfaces and register the subdevice.
//!
//! Written against the [`PortClass`] trait (PortCls's `PcNewPort`/`PcRegisterSubdevice` and
//! the device-interface registry) so the order, the failure paths and the reference counting
//! are tested on the host with fake COM objects; the kernel implementation forwards to
//! `mxf_kernel`.

use crate::names::{MAX_CABLES, cable_reference};
use crate::settings::CableName;
use core::ptr::null_mut;
use mxf_abi::{
    CLSID_PORT_DMUS, Guid, IMiniportDMus, IPort, IUnknown, NtStatus, PDeviceObject, PIrp,
    PResourceList, STATUS_INVALID_PARAMETER, STATUS_SUCCESS, nt_success,
};
use mxf_core::com::ComPtr;

/// The device-interface classes of every cable: those its filter declares, for which PortCls's
/// `PcRegisterSubdevice` registers and enables an interface (and the INF adds them).
pub use mxf_miniport::filter::CATEGORIES;

/// A step of one cable's installation, as [`PortClass::failed`] reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// `PcNewPort(CLSID_PortDMus)`.
    NewPort,
    /// Creating the miniport.
    NewMiniport,
    /// The port's `Init` (which calls the miniport's).
    PortInit,
    /// Writing the friendly name into the interface of this class ([`CATEGORIES`] entry): not
    /// fatal, the cable then keeps the name the interface had (the INF's default).
    FriendlyName(Guid),
    /// `PcRegisterSubdevice`.
    RegisterSubdevice,
}

impl Step {
    /// Whether a failure of this step fails the start.
    pub const fn is_fatal(&self) -> bool {
        !matches!(self, Self::FriendlyName(_))
    }
}

/// The PortCls and kernel services `StartDevice` needs.
pub trait PortClass {
    /// `PcNewPort`: a port of class `class_id`; the caller owns the returned reference.
    ///
    /// # Safety
    /// `PASSIVE_LEVEL`, inside `StartDevice`.
    unsafe fn new_port(&self, class_id: &Guid) -> Result<ComPtr<IPort>, NtStatus>;

    /// `PcRegisterSubdevice(device, name, port)`; `name` is NUL-terminated UTF-16.
    ///
    /// # Safety
    /// `device` is the FDO `StartDevice` received; `port` is live; `PASSIVE_LEVEL`.
    unsafe fn register_subdevice(
        &self,
        device: PDeviceObject,
        name: &[u16],
        port: *mut IUnknown,
    ) -> NtStatus;

    /// Stores `name` (NUL-terminated UTF-16) as the `FriendlyName` of the device interface of
    /// class `category` with reference string `reference` (NUL-terminated) on the PDO under
    /// `device`, registering the interface instance if it does not exist yet.
    ///
    /// # Safety
    /// `device` is the FDO `StartDevice` received; `PASSIVE_LEVEL`.
    unsafe fn set_friendly_name(
        &self,
        device: PDeviceObject,
        category: &Guid,
        reference: &[u16],
        name: &[u16],
    ) -> NtStatus;

    /// Cable `index` (0-based) failed at `step` with `status` (the kernel logs it: an error
    /// when [`Step::is_fatal`], else a warning).
    fn failed(&self, index: usize, step: Step, status: NtStatus);
}

/// Installs one DMus subdevice per entry of `cables` (1 to [`MAX_CABLES`]; more or none is
/// `STATUS_INVALID_PARAMETER`), cable `i` with the reference string `MxfLoop<i+1>`
/// ([`cable_reference`]) and the friendly name `cables[i]`, each as `install_cable` does.
///
/// # A cable that fails fails the start
/// The first fatal failure is returned at once, the later cables are not tried: a device that
/// starts with fewer cables than configured would silently lack the ones applications look
/// for, while a failed start is visible (Device Manager's code 10, the error line naming the
/// cable, the step and the status), and the failures possible here (pool exhaustion) call for
/// a restart anyway. The cables registered before the failing one are PortCls's to tear down:
/// a failed `IRP_MN_START_DEVICE` is followed by `IRP_MN_REMOVE_DEVICE` (the PnP manager's
/// documented rule), whose handling in PortCls disables the registered subdevices' interfaces
/// and calls `ReleaseChildren` and `Release` on each, as at every removal, so nothing stays
/// half up. A friendly name that cannot be written is reported and the start goes on.
///
/// # The failing cable's port and miniport
/// PortCls knows only registered subdevices. For the cable whose port `Init` or
/// `PcRegisterSubdevice` failed, the port may hold the miniport and the miniport the port
/// (DMusUART's miniport, and ours, keep a reference on the port from their `Init`), a cycle
/// nobody would break: `start_device` calls `release_port(miniport)` on that cable's miniport
/// (for ours, `mxf_miniport::release_port`), which must give up the miniport's reference on its
/// port; then its own releases free both. It calls it only for a miniport of an unregistered
/// subdevice, which no client can have opened a stream on.
///
/// # Safety
/// The arguments are those PortCls passed to `StartDevice` (`PASSIVE_LEVEL`); `api` honours
/// [`PortClass`].
pub unsafe fn start_device<A: PortClass>(
    api: &A,
    device: PDeviceObject,
    irp: PIrp,
    resources: PResourceList,
    cables: &[CableName],
    mut new_miniport: impl FnMut(usize) -> Result<ComPtr<IMiniportDMus>, NtStatus>,
    release_port: impl Fn(&ComPtr<IMiniportDMus>),
) -> NtStatus {
    if cables.is_empty() || cables.len() > MAX_CABLES {
        return STATUS_INVALID_PARAMETER;
    }
    for (index, name) in cables.iter().enumerate() {
        let Some(reference) = cable_reference(index) else {
            return STATUS_INVALID_PARAMETER;
        };
        // SAFETY: forwarded from StartDevice.
        let installed = unsafe {
            install_cable(
                api,
                device,
                irp,
                resources,
                (index, reference, name),
                || new_miniport(index),
                &release_port,
            )
        };
        if let Err((step, status)) = installed {
            api.failed(index, step, status);
            return status;
        }
    }
    STATUS_SUCCESS
}

/// Installs cable `index`: `PcNewPort(CLSID_PortDMus)`, `new_miniport()`,
/// `port->Init(device, irp, miniport, NULL, resources)`, the friendly name into each of the
/// cable's interfaces ([`CATEGORIES`], reference string `reference`; before the registration
/// enables them, so that a client reacting to their arrival reads the cable's name), then
/// `PcRegisterSubdevice(device, reference, port)`. Returns the first fatal failure.
///
/// # References
/// Ours (one on the port from `PcNewPort`, one on the miniport from `new_miniport`) are
/// [`ComPtr`]s, so every path — early return included — releases each exactly once: the
/// miniport first, then the port. What survives a successful installation is what PortCls
/// holds: the port holds the miniport (taken in `Init`) and the registered subdevice holds the
/// port. PortCls releases those when the device is removed, at `PASSIVE_LEVEL`, which is where
/// the miniport's final `Release` (deleting its timers) must run. On the failure paths the
/// final releases happen here, inside `StartDevice`, also at `PASSIVE_LEVEL`, after
/// `release_port` broke the port ↔ miniport cycle (see [`start_device`]).
///
/// # Safety
/// As [`start_device`]; `reference` is NUL-terminated.
unsafe fn install_cable<A: PortClass>(
    api: &A,
    device: PDeviceObject,
    irp: PIrp,
    resources: PResourceList,
    (index, reference, name): (usize, &[u16], &CableName),
    new_miniport: impl FnOnce() -> Result<ComPtr<IMiniportDMus>, NtStatus>,
    release_port: &impl Fn(&ComPtr<IMiniportDMus>),
) -> Result<(), (Step, NtStatus)> {
    // SAFETY: forwarded from StartDevice.
    let port =
        unsafe { api.new_port(&CLSID_PORT_DMUS) }.map_err(|status| (Step::NewPort, status))?;
    // `port` is dropped (released) on every return below.
    let miniport = new_miniport().map_err(|status| (Step::NewMiniport, status))?;
    let port_ptr = port.as_raw();
    // SAFETY: `port` is a live IPort kept alive by our reference: its header holds the vtable
    // pointer.
    let vtbl = unsafe { (*port_ptr).vtbl };
    // SAFETY: the live port's vtable (IPortDMus starts with IPort's), static for its life.
    let init = unsafe { (*vtbl).init };
    // SAFETY: the port's own Init on the live port; Init's arguments are StartDevice's own plus
    // our live miniport (an interface pointer is its IUnknown: every vtable starts with
    // IUnknown's slots) and no adapter-common object (NULL is allowed). The port takes its own
    // reference on the miniport if it keeps it.
    let status = unsafe {
        init(
            port_ptr,
            device,
            irp,
            miniport.as_raw().cast::<IUnknown>(),
            null_mut(),
            resources,
        )
    };
    if !nt_success(status) {
        // The miniport's Init may have taken a reference on the port that nothing else will
        // give back (the port is not registered).
        release_port(&miniport);
        return Err((Step::PortInit, status));
    }
    for category in &CATEGORIES {
        // SAFETY: forwarded from StartDevice; both strings are NUL-terminated.
        let status = unsafe { api.set_friendly_name(device, category, reference, name.wide_z()) };
        if !nt_success(status) {
            api.failed(index, Step::FriendlyName(*category), status);
        }
    }
    // SAFETY: the port is live and initialised; the reference string is NUL-terminated.
    let status = unsafe { api.register_subdevice(device, reference, port_ptr.cast::<IUnknown>()) };
    if !nt_success(status) {
        // Unregistered, the port never has its children released by PortCls: the miniport
        // gives up its reference on the port, so that ours below free both.
        release_port(&miniport);
    }
    // The port holds the miniport now if it kept it; ours goes first on every path.
    drop(miniport);
    drop(port);
    if nt_success(status) {
        Ok(())
    } else {
        Err((Step::RegisterSubdevice, status))
    }
}

#[cfg(test)]
mod tests;
