//! `StartDevice`: create the DMus port, our miniport, bind them and register the subdevice.
//!
//! Written against the [`PortClass`] trait (PortCls's `PcNewPort`/`PcRegisterSubdevice`) so
//! the reference counting on every path is tested on the host with fake COM objects; the
//! kernel implementation forwards to `mxf_kernel::portcls`.

use crate::names::SUBDEVICE_NAME_W;
use core::ptr::null_mut;
use mxf_abi::{
    CLSID_PORT_DMUS, Guid, IMiniportDMus, IPort, IUnknown, NtStatus, PDeviceObject, PIrp,
    PResourceList, nt_success,
};
use mxf_core::com::ComPtr;

/// The PortCls services `StartDevice` needs.
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
}

/// Installs the DMus subdevice: `PcNewPort(CLSID_PortDMus)`, `new_miniport()`,
/// `port->Init(device, irp, miniport, NULL, resources)`, `PcRegisterSubdevice(device,
/// "MxfLoop", port)`. Returns the first failure.
///
/// # References
/// Ours (one on the port from `PcNewPort`, one on the miniport from `new_miniport`) are
/// [`ComPtr`]s, so every path — early return included — releases each exactly once: the
/// miniport first, then the port. What survives a successful start is what PortCls holds: the
/// port holds the miniport (taken in `Init`) and the registered subdevice holds the port.
/// PortCls releases those when the device is removed, at `PASSIVE_LEVEL`, which is where the
/// miniport's final `Release` (deleting its timers) must run. On the failure paths the final
/// releases happen here, inside `StartDevice`, also at `PASSIVE_LEVEL`.
///
/// # Safety
/// The arguments are those PortCls passed to `StartDevice` (`PASSIVE_LEVEL`); `api` honours
/// [`PortClass`].
pub unsafe fn start_device<A: PortClass>(
    api: &A,
    device: PDeviceObject,
    irp: PIrp,
    resources: PResourceList,
    new_miniport: impl FnOnce() -> Result<ComPtr<IMiniportDMus>, NtStatus>,
) -> NtStatus {
    // SAFETY: forwarded from StartDevice.
    let port = match unsafe { api.new_port(&CLSID_PORT_DMUS) } {
        Ok(p) => p,
        Err(status) => return status,
    };
    let miniport = match new_miniport() {
        Ok(m) => m,
        // `port` is dropped (released) on return.
        Err(status) => return status,
    };
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
    let mut status = unsafe {
        init(
            port_ptr,
            device,
            irp,
            miniport.as_raw().cast::<IUnknown>(),
            null_mut(),
            resources,
        )
    };
    if nt_success(status) {
        // SAFETY: the port is live and initialised; the name is NUL-terminated.
        status = unsafe {
            api.register_subdevice(device, &SUBDEVICE_NAME_W, port_ptr.cast::<IUnknown>())
        };
    }
    drop(miniport);
    drop(port);
    status
}

#[cfg(test)]
mod tests;
