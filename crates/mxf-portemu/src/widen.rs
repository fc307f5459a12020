//! A miniport wrapper whose filter descriptor promises more pin instances than the miniport
//! behind it may accept: it answers `GetDescription` with a copy of the inner descriptor whose
//! streaming pins (those with a nonzero instance count) say `limit` instances, and forwards
//! every other `IMiniportDMus` call to the inner miniport. It shows that the port reports a
//! `NewStream` refusal for what it is, rather than relying on the descriptor alone.

use crate::com::{BoxObject, into_com, object, unknown_vtbl};
use crate::tracker::{LiveGuard, Tracker};
use core::ffi::c_void;
use mxf_abi::{
    DmusStreamType, Guid, IAllocatorMxf, IID_IMINIPORT, IID_IMINIPORT_DMUS, IID_IUNKNOWN,
    IMasterClock, IMiniport, IMiniportDMus, IMiniportDMusVtbl, IMiniportVtbl, IMxf, IPortDMus,
    IServiceGroup, IUnknown, KsDataFormat, KsDataRange, NtStatus, PResourceList,
    PcFilterDescriptor, PcFilterDescriptorPtr, PcPinDescriptor, PoolType, STATUS_INVALID_PARAMETER,
    STATUS_SUCCESS, nt_success,
};
use mxf_core::com::{ComPtr, RefCount};
use std::ptr;
use std::sync::{Arc, Mutex};

/// The widened descriptor and the pin table it points to.
struct Widened {
    desc: PcFilterDescriptor,
    _pins: Box<[PcPinDescriptor]>,
}

// SAFETY: the descriptor is written once, before the object is shared, and only read after;
// its pointers lead to the inner miniport's static tables and to `_pins`, owned here.
unsafe impl Send for Widened {}
// SAFETY: as above: shared reads of data nobody writes.
unsafe impl Sync for Widened {}

#[repr(C)]
struct WideObj {
    vtbl: &'static IMiniportDMusVtbl,
    refs: RefCount,
    inner: ComPtr<IMiniportDMus>,
    limit: u32,
    widened: Mutex<Option<Arc<Widened>>>,
    live: LiveGuard,
}

// SAFETY: `#[repr(C)]`, vtable first, built with `unknown_vtbl!(WideObj)`.
unsafe impl BoxObject for WideObj {
    fn refs(&self) -> &RefCount {
        &self.refs
    }
    const NAME: &'static str = "widened miniport";
    const IIDS: &'static [Guid] = &[IID_IUNKNOWN, IID_IMINIPORT, IID_IMINIPORT_DMUS];
}

static VTBL: IMiniportDMusVtbl = IMiniportDMusVtbl {
    base: IMiniportVtbl {
        base: unknown_vtbl!(WideObj),
        get_description,
        data_range_intersection,
    },
    init,
    service,
    new_stream,
};

/// `inner` behind a descriptor whose streaming pins each allow `limit` instances (filter
/// and global). Its objects are counted in `tracker`.
pub fn with_instance_limit(
    inner: ComPtr<IMiniportDMus>,
    limit: u32,
    tracker: &Arc<Tracker>,
) -> ComPtr<IMiniportDMus> {
    let obj = WideObj {
        vtbl: &VTBL,
        refs: RefCount::new(),
        inner,
        limit,
        widened: Mutex::new(None),
        live: tracker.born("widened miniport"),
    };
    // SAFETY: the vtable is an IMiniportDMusVtbl.
    unsafe { into_com(obj) }
}

/// The inner miniport's vtable and pointer.
fn inner(obj: &WideObj) -> (&'static IMiniportDMusVtbl, *mut IMiniportDMus) {
    let mp = obj.inner.as_raw();
    // SAFETY: the inner miniport is live while we hold it: its header holds the vtable.
    let vtbl = unsafe { (*mp).vtbl };
    // SAFETY: a live miniport's vtable is a static IMiniportDMusVtbl.
    (unsafe { &*vtbl }, mp)
}

/// # Safety
/// Vtable slot; `this` is a live `WideObj`, `out` null or writable.
unsafe extern "system" fn get_description(
    this: *mut IMiniport,
    out: *mut PcFilterDescriptorPtr,
) -> NtStatus {
    // SAFETY: `this` is a live `WideObj`.
    let obj = unsafe { object::<WideObj>(this.cast()) };
    if out.is_null() {
        return STATUS_INVALID_PARAMETER;
    }
    let (v, mp) = inner(obj);
    let mut d: PcFilterDescriptorPtr = ptr::null();
    // SAFETY: the inner miniport's own method; `d` is a valid out parameter.
    let st = unsafe { (v.base.get_description)(mp.cast(), &mut d) };
    if !nt_success(st) {
        return st;
    }
    // SAFETY: a descriptor from GetDescription is readable static data of the miniport's.
    let Some(src) = (unsafe { d.as_ref() }) else {
        return STATUS_INVALID_PARAMETER;
    };
    if src.pins.is_null() || src.pin_size as usize != size_of::<PcPinDescriptor>() {
        return STATUS_INVALID_PARAMETER;
    }
    // SAFETY: `pins` holds `pin_count` descriptors of the declared size (checked above).
    let pins = unsafe { std::slice::from_raw_parts(src.pins, src.pin_count as usize) };
    let mut pins: Box<[PcPinDescriptor]> = pins.into();
    for p in pins.iter_mut() {
        if p.max_filter_instance_count > 0 {
            p.max_filter_instance_count = obj.limit;
            p.max_global_instance_count = obj.limit;
        }
    }
    let mut desc = *src;
    desc.pins = pins.as_ptr();
    let w = Arc::new(Widened { desc, _pins: pins });
    let p = ptr::from_ref(&w.desc);
    // Kept for the object's life, which is longer than the port's use of the descriptor.
    *obj.widened.lock().unwrap_or_else(|e| e.into_inner()) = Some(w);
    // SAFETY: a non-null out parameter of the caller.
    unsafe { out.write(p) };
    STATUS_SUCCESS
}

/// # Safety
/// Vtable slot; forwarded with the caller's arguments.
unsafe extern "system" fn data_range_intersection(
    this: *mut IMiniport,
    pin_id: u32,
    data_range: *mut KsDataRange,
    matching: *mut KsDataRange,
    output_length: u32,
    resultant: *mut c_void,
    resultant_length: *mut u32,
) -> NtStatus {
    // SAFETY: `this` is a live `WideObj`.
    let obj = unsafe { object::<WideObj>(this.cast()) };
    let (v, mp) = inner(obj);
    // SAFETY: the inner miniport's own method, with the caller's (valid) arguments.
    unsafe {
        (v.base.data_range_intersection)(
            mp.cast(),
            pin_id,
            data_range,
            matching,
            output_length,
            resultant,
            resultant_length,
        )
    }
}

/// # Safety
/// Vtable slot; forwarded with the caller's arguments.
unsafe extern "system" fn init(
    this: *mut IMiniportDMus,
    adapter: *mut IUnknown,
    resources: PResourceList,
    port: *mut IPortDMus,
    out_group: *mut *mut IServiceGroup,
) -> NtStatus {
    // SAFETY: `this` is a live `WideObj`.
    let obj = unsafe { object::<WideObj>(this.cast()) };
    let (v, mp) = inner(obj);
    // SAFETY: the inner miniport's own method, with the caller's (valid) arguments.
    unsafe { (v.init)(mp, adapter, resources, port, out_group) }
}

/// # Safety
/// Vtable slot.
unsafe extern "system" fn service(this: *mut IMiniportDMus) {
    // SAFETY: `this` is a live `WideObj`.
    let obj = unsafe { object::<WideObj>(this.cast()) };
    let (v, mp) = inner(obj);
    // SAFETY: the inner miniport's own method.
    unsafe { (v.service)(mp) }
}

/// # Safety
/// Vtable slot; forwarded with the caller's arguments.
#[allow(clippy::too_many_arguments)]
unsafe extern "system" fn new_stream(
    this: *mut IMiniportDMus,
    out_stream: *mut *mut IMxf,
    outer: *mut IUnknown,
    pool: PoolType,
    pin: u32,
    kind: DmusStreamType,
    format: *mut KsDataFormat,
    out_group: *mut *mut IServiceGroup,
    allocator: *mut IAllocatorMxf,
    clock: *mut IMasterClock,
    prefetch: *mut u64,
) -> NtStatus {
    // SAFETY: `this` is a live `WideObj`.
    let obj = unsafe { object::<WideObj>(this.cast()) };
    let (v, mp) = inner(obj);
    // SAFETY: the inner miniport's own method, with the caller's (valid) arguments.
    unsafe {
        (v.new_stream)(
            mp, out_stream, outer, pool, pin, kind, format, out_group, allocator, clock, prefetch,
        )
    }
}
