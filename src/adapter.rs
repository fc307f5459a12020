//! `StartDevice`: create the DMus port, our miniport, bind them and register the subdevice.
//!
//! Written against the [`PortClass`] trait (PortCls's `PcNewPort`/`PcRegisterSubdevice`) so
//! the reference counting on every path is tested on the host with fake COM objects; the
//! kernel implementation forwards to `mxf_kernel::portcls`.

use crate::names::SUBDEVICE_NAME_W;
use core::ptr::{NonNull, null_mut};
use mxf_abi::{
    CLSID_PORT_DMUS, Guid, IMiniportDMus, IPort, IUnknown, NtStatus, PDeviceObject, PIrp,
    PResourceList, nt_success,
};

/// The PortCls services `StartDevice` needs.
pub trait PortClass {
    /// `PcNewPort`: a port of class `class_id` with one reference owned by the caller.
    ///
    /// # Safety
    /// `PASSIVE_LEVEL`, inside `StartDevice`.
    unsafe fn new_port(&self, class_id: &Guid) -> Result<NonNull<IPort>, NtStatus>;

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

/// `IUnknown::Release` through the object's vtable.
///
/// # Safety
/// `p` points to a live COM object on which the caller owns a reference (given up here).
unsafe fn release<T>(p: NonNull<T>) {
    let unknown = p.as_ptr().cast::<IUnknown>();
    // SAFETY: every COM interface starts with a vtable whose first three slots are IUnknown's;
    // the caller owns the reference being released.
    unsafe { ((*(*unknown).vtbl).release)(unknown) };
}

/// Installs the DMus subdevice: `PcNewPort(CLSID_PortDMus)`, `new_miniport()`,
/// `port->Init(device, irp, miniport, NULL, resources)`, `PcRegisterSubdevice(device,
/// "MxfLoop", port)`. Our references to the port and the miniport are released on every path
/// (after a successful `Init` the port holds its own on the miniport, and registration holds
/// one on the port). Returns the first failure.
///
/// # Safety
/// The arguments are those PortCls passed to `StartDevice` (`PASSIVE_LEVEL`); `api` honours
/// [`PortClass`]; `new_miniport` returns a miniport with one reference the caller owns.
pub unsafe fn start_device<A: PortClass>(
    api: &A,
    device: PDeviceObject,
    irp: PIrp,
    resources: PResourceList,
    new_miniport: impl FnOnce() -> Result<NonNull<IMiniportDMus>, NtStatus>,
) -> NtStatus {
    // SAFETY: forwarded from StartDevice.
    let port = match unsafe { api.new_port(&CLSID_PORT_DMUS) } {
        Ok(p) => p,
        Err(status) => return status,
    };
    let miniport = match new_miniport() {
        Ok(m) => m,
        Err(status) => {
            // SAFETY: we own the reference PcNewPort returned.
            unsafe { release(port) };
            return status;
        }
    };
    let port_ptr = port.as_ptr();
    // SAFETY: `port` is a live IPort (IPortDMus starts with IPort's vtable); Init's arguments
    // are StartDevice's own plus our live miniport (IMiniportDMus starts with IUnknown) and no
    // adapter-common object (NULL is allowed).
    let mut status = unsafe {
        ((*(*port_ptr).vtbl).init)(
            port_ptr,
            device,
            irp,
            miniport.as_ptr().cast::<IUnknown>(),
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
    // SAFETY: we own one reference to each; the port keeps what it needs itself.
    unsafe {
        release(miniport);
        release(port);
    }
    status
}

#[cfg(test)]
mod tests;
