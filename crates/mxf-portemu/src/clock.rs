//! The port's `IMasterClock`: the emulator's clock, as PortCls hands its master clock to
//! `NewStream`.

use crate::com::{BoxObject, into_com, object, unknown_vtbl};
use crate::tracker::{LiveGuard, Tracker};
use mxf_abi::{
    Guid, IID_IUNKNOWN, IMasterClock, IMasterClockVtbl, NtStatus, ReferenceTime,
    STATUS_INVALID_PARAMETER, STATUS_SUCCESS,
};
use mxf_core::com::{ComPtr, RefCount};
use mxf_core::platform::Platform;
use mxf_kemu::Emu;
use std::sync::Arc;

#[repr(C)]
struct ClockObj {
    vtbl: &'static IMasterClockVtbl,
    refs: RefCount,
    emu: Emu,
    live: LiveGuard,
}

// SAFETY: `#[repr(C)]`, vtable first, built by `unknown_vtbl!(ClockObj)`; IMasterClock has
// no public IID, so only IUnknown is answered.
unsafe impl BoxObject for ClockObj {
    fn refs(&self) -> &RefCount {
        &self.refs
    }
    const NAME: &'static str = "master clock";
    const IIDS: &'static [Guid] = &[IID_IUNKNOWN];
}

static VTBL: IMasterClockVtbl = IMasterClockVtbl {
    base: unknown_vtbl!(ClockObj),
    get_time,
};

/// # Safety
/// Called through the vtable on a live clock; `time` is null or writable.
unsafe extern "system" fn get_time(this: *mut IMasterClock, time: *mut ReferenceTime) -> NtStatus {
    // SAFETY: `this` is a live `ClockObj`.
    let obj = unsafe { object::<ClockObj>(this.cast()) };
    obj.live
        .tracker()
        .call("IMasterClock::GetTime", obj.emu.current_irql());
    if time.is_null() {
        return STATUS_INVALID_PARAMETER;
    }
    // SAFETY: non-null out parameter of the caller.
    unsafe { time.write(obj.emu.now_100ns()) };
    STATUS_SUCCESS
}

/// A master clock reading `emu`'s clock (any IRQL).
pub fn new_master_clock(emu: Emu, tracker: &Arc<Tracker>) -> ComPtr<IMasterClock> {
    let obj = ClockObj {
        vtbl: &VTBL,
        refs: RefCount::new(),
        emu,
        live: tracker.born("IMasterClock"),
    };
    // SAFETY: the vtable is an IMasterClockVtbl.
    unsafe { into_com(obj) }
}
