//! The miniport's vtable slots, called the way PortCls calls them.

use mxf_abi::*;
use mxf_core::com::ComPtr;
use std::ptr::{self, NonNull};

fn vt(m: &ComPtr<IMiniportDMus>) -> &IMiniportDMusVtbl {
    // SAFETY: `m` keeps a live IMiniportDMus, whose first field is its vtable pointer.
    let vtbl = unsafe { (*m.as_raw()).vtbl };
    // SAFETY: the vtable of a live object is a static table, valid as long as the object.
    unsafe { &*vtbl }
}

/// A music format with subformat `sub`.
pub fn format(sub: Guid) -> KsDataFormat {
    KsDataFormat {
        format_size: 64,
        flags: 0,
        sample_size: 0,
        reserved: 0,
        major_format: KSDATAFORMAT_TYPE_MUSIC,
        sub_format: sub,
        specifier: KSDATAFORMAT_SPECIFIER_NONE,
    }
}

/// `IMiniportDMus::Init`.
pub fn init(
    m: &ComPtr<IMiniportDMus>,
    port: Option<&ComPtr<IPortDMus>>,
) -> (NtStatus, Option<ComPtr<IServiceGroup>>) {
    let mut g: *mut IServiceGroup = ptr::null_mut();
    let port = port.map_or(ptr::null_mut(), |p| p.as_raw());
    // SAFETY: a live miniport; valid out-pointer.
    let st = unsafe { (vt(m).init)(m.as_raw(), ptr::null_mut(), ptr::null_mut(), port, &mut g) };
    // SAFETY: a group handed out carries one reference.
    (st, NonNull::new(g).map(|g| unsafe { ComPtr::from_raw(g) }))
}

/// What `NewStream` returned.
pub struct Opened {
    pub status: NtStatus,
    pub stream: Option<ComPtr<IMxf>>,
    pub group: Option<ComPtr<IServiceGroup>>,
    pub prefetch: u64,
}

/// `IMiniportDMus::NewStream`.
pub fn new_stream(
    m: &ComPtr<IMiniportDMus>,
    pin: u32,
    ty: DmusStreamType,
    fmt: Option<&KsDataFormat>,
    alloc: Option<&ComPtr<IAllocatorMxf>>,
    clock: Option<&ComPtr<IMasterClock>>,
) -> Opened {
    let mut s: *mut IMxf = ptr::null_mut();
    let mut g: *mut IServiceGroup = ptr::dangling_mut::<IServiceGroup>();
    let mut prefetch = u64::MAX;
    let fmt = fmt.map_or(ptr::null_mut(), |f| {
        f as *const KsDataFormat as *mut KsDataFormat
    });
    // SAFETY: a live miniport; valid out-pointers; the interface pointers are live.
    let status = unsafe {
        (vt(m).new_stream)(
            m.as_raw(),
            &mut s,
            ptr::null_mut(),
            PoolType::NON_PAGED,
            pin,
            ty,
            fmt,
            &mut g,
            alloc.map_or(ptr::null_mut(), |a| a.as_raw()),
            clock.map_or(ptr::null_mut(), |c| c.as_raw()),
            &mut prefetch,
        )
    };
    Opened {
        status,
        // SAFETY: out-pointers carry one reference each when set.
        stream: NonNull::new(s).map(|p| unsafe { ComPtr::from_raw(p) }),
        group: NonNull::new(g).map(|p| {
            assert_ne!(
                p.as_ptr(),
                ptr::dangling_mut(),
                "NewStream left *ServiceGroup untouched"
            );
            // SAFETY: a group handed out carries one reference.
            unsafe { ComPtr::from_raw(p) }
        }),
        prefetch,
    }
}

/// `IMiniport::GetDescription`.
pub fn get_description(m: &ComPtr<IMiniportDMus>, out: bool) -> (NtStatus, PcFilterDescriptorPtr) {
    let mut d: PcFilterDescriptorPtr = ptr::null();
    let p = if out {
        &mut d as *mut _
    } else {
        ptr::null_mut()
    };
    // SAFETY: a live miniport.
    let st = unsafe { (vt(m).base.get_description)(m.as_raw().cast(), p) };
    (st, d)
}

/// `IMiniport::DataRangeIntersection` with raw pointers.
pub fn intersect(
    m: &ComPtr<IMiniportDMus>,
    pin: u32,
    client: *mut KsDataRange,
    ours: *mut KsDataRange,
    out: &mut [u8],
    len: *mut u32,
) -> NtStatus {
    let (p, n) = if out.is_empty() {
        (ptr::null_mut(), 0)
    } else {
        (out.as_mut_ptr().cast(), out.len() as u32)
    };
    // SAFETY: a live miniport; the caller passes the pointers under test.
    unsafe { (vt(m).base.data_range_intersection)(m.as_raw().cast(), pin, client, ours, n, p, len) }
}
