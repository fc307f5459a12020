//! The miniport's and its streams' accessors recognise only objects of ours: a foreign object
//! that answers their private interface ids with itself (and carries a mark of its own type,
//! as `com::ours` requires of anything answering them) is not taken for one.

extern crate std;

use super::head::stream_clock_of_request;
use super::*;
use crate::stream::{IID_MXF_PRIVATE_CAPTURE, IID_MXF_PRIVATE_RENDER};
use mxf_abi::{DmusKernelEvent, IMxfVtbl, IUnknownVtbl, KsState, STATUS_NOT_IMPLEMENTED};
use mxf_kemu::{Emu, EmuConfig};

const TAG_FOREIGN: PoolTag = PoolTag::new(b"MxfZ");

/// A foreign object answering the miniport's and the streams' private ids with itself.
#[repr(C)]
struct Foreign {
    vtbl: *const IUnknownVtbl,
    mark: OurMark,
    refs: RefCount,
    emu: Emu,
}

// SAFETY: `#[repr(C)]`, vtable pointer first; both tables `new_foreign` may install start with
// `unknown_vtbl::<Self>()`; the ids are answered with the object itself, which implements
// only `IUnknown`'s slots (the others refuse). `destroy` frees the block `new_foreign` made
// with `TAG_FOREIGN`.
unsafe impl ComObject for Foreign {
    type Platform = Emu;
    const NAME: &'static str = "foreign";
    const IIDS: &'static [Guid] = &[
        IID_IUNKNOWN,
        IID_MXF_PRIVATE_MINIPORT,
        IID_MXF_PRIVATE_RENDER,
        IID_MXF_PRIVATE_CAPTURE,
    ];

    fn refs(&self) -> &RefCount {
        &self.refs
    }

    fn platform(&self) -> &Emu {
        &self.emu
    }

    unsafe fn destroy(this: *mut Self) {
        // SAFETY: from `PoolBox` with this tag; ours alone at a zero count.
        unsafe { com::drop_and_free(this, TAG_FOREIGN) };
    }
}

unsafe extern "system" fn refuse_description(
    _: *mut IMiniport,
    _: *mut PcFilterDescriptorPtr,
) -> NtStatus {
    STATUS_NOT_IMPLEMENTED
}

unsafe extern "system" fn refuse_intersection(
    _: *mut IMiniport,
    _: u32,
    _: *mut KsDataRange,
    _: *mut KsDataRange,
    _: u32,
    _: *mut c_void,
    _: *mut u32,
) -> NtStatus {
    STATUS_NOT_IMPLEMENTED
}

unsafe extern "system" fn refuse_init(
    _: *mut IMiniportDMus,
    _: *mut IUnknown,
    _: PResourceList,
    _: *mut IPortDMus,
    _: *mut *mut IServiceGroup,
) -> NtStatus {
    STATUS_NOT_IMPLEMENTED
}

unsafe extern "system" fn no_service(_: *mut IMiniportDMus) {}

#[allow(clippy::too_many_arguments)]
unsafe extern "system" fn refuse_new_stream(
    _: *mut IMiniportDMus,
    _: *mut *mut IMxf,
    _: *mut IUnknown,
    _: PoolType,
    _: u32,
    _: DmusStreamType,
    _: *mut KsDataFormat,
    _: *mut *mut IServiceGroup,
    _: *mut IAllocatorMxf,
    _: *mut IMasterClock,
    _: *mut u64,
) -> NtStatus {
    STATUS_NOT_IMPLEMENTED
}

unsafe extern "system" fn refuse_state(_: *mut IMxf, _: KsState) -> NtStatus {
    STATUS_NOT_IMPLEMENTED
}

unsafe extern "system" fn refuse_message(_: *mut IMxf, _: *mut DmusKernelEvent) -> NtStatus {
    STATUS_NOT_IMPLEMENTED
}

unsafe extern "system" fn refuse_output(_: *mut IMxf, _: *mut IMxf) -> NtStatus {
    STATUS_NOT_IMPLEMENTED
}

const FOREIGN_MINIPORT_VTBL: IMiniportDMusVtbl = IMiniportDMusVtbl {
    base: IMiniportVtbl {
        base: com::unknown_vtbl::<Foreign>(),
        get_description: refuse_description,
        data_range_intersection: refuse_intersection,
    },
    init: refuse_init,
    service: no_service,
    new_stream: refuse_new_stream,
};

const FOREIGN_MXF_VTBL: IMxfVtbl = IMxfVtbl {
    base: com::unknown_vtbl::<Foreign>(),
    set_state: refuse_state,
    put_message: refuse_message,
    connect_output: refuse_output,
    disconnect_output: refuse_output,
};

/// A foreign object whose vtable is `vtbl`, an `I` table (starting with `unknown_vtbl`).
fn new_foreign<I: com::Interface>(emu: &Emu, vtbl: *const IUnknownVtbl) -> ComPtr<I> {
    let obj = Foreign {
        vtbl,
        mark: OurMark::of::<Foreign>(),
        refs: RefCount::new(),
        emu: emu.clone(),
    };
    let mem = PoolBox::try_new(emu.clone(), TAG_FOREIGN, obj)
        .expect("pool")
        .into_raw();
    // SAFETY: `#[repr(C)]` with the vtable pointer first, an `I` table per the caller; the
    // one initial reference.
    unsafe { ComPtr::from_raw(mem.cast::<I>()) }
}

fn refs_of<I: com::Interface>(p: &ComPtr<I>) -> u32 {
    // SAFETY: a live `Foreign`, kept alive by `p`.
    unsafe { &*p.as_raw().cast::<Foreign>() }.refs.get()
}

#[test]
fn a_foreign_object_answering_the_private_ids_is_not_taken_for_ours() {
    let emu = Emu::new(EmuConfig::verifier());
    let m = new_miniport(emu.clone(), MiniportConfig::DEFAULT).expect("miniport");
    let fm: ComPtr<IMiniportDMus> = new_foreign(&emu, &FOREIGN_MINIPORT_VTBL.base.base);
    let fs: ComPtr<IMxf> = new_foreign(&emu, &FOREIGN_MXF_VTBL.base);
    // The real miniport is found; the foreign one, answering the same id, is not.
    assert!(cable_stats::<Emu>(&m).is_some());
    assert_eq!(loopback_stats::<Emu>(&fm), None);
    assert_eq!(cable_stats::<Emu>(&fm), None);
    assert_eq!(loopback_allocator_stats::<Emu>(&fm), None);
    // Nor is it taken for a stream.
    assert_eq!(crate::render_stats::<Emu>(&fs), None);
    assert_eq!(crate::capture_stats::<Emu>(&fs), None);
    assert_eq!(crate::reader_stats::<Emu>(&fs), None);
    assert_eq!(crate::reader_loopback_stats::<Emu>(&fs), None);
    // The property handlers' path: neither as the miniport nor as its stream.
    let (mu, fmu, fsu) = (m.as_raw().cast(), fm.as_raw().cast(), fs.as_raw().cast());
    // SAFETY: all three are live COM objects, kept alive by `m`, `fm` and `fs`.
    assert!(unsafe { stream_clock_of_request(fmu, fsu) }.is_none());
    // SAFETY: as above.
    assert!(unsafe { stream_clock_of_request(mu, fsu) }.is_none());
    // Every query gave its reference back.
    assert_eq!((refs_of(&fm), refs_of(&fs)), (1, 1));
    drop((m, fm, fs));
    if let Err(b) = emu.unload() {
        panic!("unclean unload: {b:?}");
    }
}
