//! `mxf_core::com::ours`, the one "is this object ours, and of which type" query: on objects of
//! the test's own (two types sharing one private id, and one without it), and through its two
//! users, `Allocator::from_com` and the service group's `service_stats` / `member_count`.

use mxf_abi::{Guid, IID_IUNKNOWN, IUnknown, IUnknownVtbl, NtStatus};
use mxf_core::alloc::{Allocator, AllocatorConfig, new_allocator};
use mxf_core::com::{self, ComObject, ComPtr, OurMark, OurObject, RefCount};
use mxf_core::platform::PoolTag;
use mxf_core::pool_box::PoolBox;
use mxf_core::service::{member_count, new_service_group, service_stats};
use mxf_kemu::{Emu, EmuConfig};
use mxf_portemu::PortPlatform;
use std::ffi::c_void;
use std::ptr::{self, NonNull};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

const TAG_PROBE: PoolTag = PoolTag::new(b"MxfQ");
const IID_PROBE_OURS: Guid = Guid::from_u128(0x6d786630_00fe_4d58_8000_6d78666c6f6f);

/// A test object. `K` makes distinct types; every `Probe<K>` answers [`IID_PROBE_OURS`] when
/// `ANSWERS`, and carries its own type's mark.
#[repr(C)]
struct Probe<const K: u8, const ANSWERS: bool> {
    vtbl: *const IUnknownVtbl,
    mark: OurMark,
    refs: RefCount,
    emu: Emu,
    /// `QueryInterface` calls seen (through the counting wrapper in the vtable).
    queried: Arc<AtomicU32>,
}

impl<const K: u8, const ANSWERS: bool> Probe<K, ANSWERS> {
    const VTBL: IUnknownVtbl = IUnknownVtbl {
        query_interface: Self::counting_query_interface,
        ..com::unknown_vtbl::<Self>()
    };

    /// The shared `QueryInterface`, counted.
    unsafe extern "system" fn counting_query_interface(
        this: *mut IUnknown,
        iid: *const Guid,
        out: *mut *mut c_void,
    ) -> NtStatus {
        // SAFETY: `this` is a live probe (COM contract).
        let me = unsafe { &*this.cast::<Self>() };
        me.queried.fetch_add(1, Ordering::Relaxed);
        // SAFETY: as the shared slot requires: a live `Self`, valid `iid`/`out`.
        unsafe { com::query_interface::<Self>(this, iid, out) }
    }
}

// SAFETY: `#[repr(C)]`, vtable pointer first; `VTBL` is `unknown_vtbl::<Self>()` but for a
// counting wrapper around the same `QueryInterface`; the IIDs are IUnknown-only interfaces.
// `destroy` drops and frees the block `new_probe` made with `TAG_PROBE`.
unsafe impl<const K: u8, const ANSWERS: bool> ComObject for Probe<K, ANSWERS> {
    type Platform = Emu;
    const NAME: &'static str = "ours probe";
    const IIDS: &'static [Guid] = if ANSWERS {
        &[IID_IUNKNOWN, IID_PROBE_OURS]
    } else {
        &[IID_IUNKNOWN]
    };

    fn refs(&self) -> &RefCount {
        &self.refs
    }

    fn platform(&self) -> &Emu {
        &self.emu
    }

    unsafe fn destroy(this: *mut Self) {
        // SAFETY: from `PoolBox` with this tag; ours alone at a zero count.
        unsafe { com::drop_and_free(this, TAG_PROBE) };
    }
}

// SAFETY: `#[repr(C)]` with the vtable pointer first and `mark` (`OurMark::of::<Self>()`, set
// in `new_probe`) second; only probes answer the id, with themselves (`IIDS`, offset 0).
unsafe impl<const K: u8, const ANSWERS: bool> OurObject for Probe<K, ANSWERS> {
    const PRIVATE_IID: Guid = IID_PROBE_OURS;
}

fn new_probe<const K: u8, const ANSWERS: bool>(emu: &Emu) -> (ComPtr<IUnknown>, Arc<AtomicU32>) {
    let queried = Arc::new(AtomicU32::new(0));
    let obj = Probe::<K, ANSWERS> {
        vtbl: &Probe::<K, ANSWERS>::VTBL,
        mark: OurMark::of::<Probe<K, ANSWERS>>(),
        refs: RefCount::new(),
        emu: emu.clone(),
        queried: queried.clone(),
    };
    let mem = PoolBox::try_new(emu.clone(), TAG_PROBE, obj)
        .expect("pool")
        .into_raw();
    // SAFETY: `#[repr(C)]` with the vtable pointer first, carrying the one initial reference.
    (unsafe { ComPtr::from_raw(mem.cast::<IUnknown>()) }, queried)
}

fn refs<const K: u8, const ANSWERS: bool>(p: &ComPtr<IUnknown>) -> u32 {
    // SAFETY: a live probe of this type, kept alive by `p`.
    unsafe { &*p.as_raw().cast::<Probe<K, ANSWERS>>() }
        .refs
        .get()
}

fn assert_clean_unload(emu: &Emu) {
    if let Err(b) = emu.unload() {
        panic!("unclean unload: {b:?}");
    }
}

/// Queries a fresh `Probe<K, ANSWERS>` as a `T`: whether it was found, and as itself. Checks
/// that the object was asked once, through its own `QueryInterface`, and that the query's
/// reference was given back.
fn query_probe_as<const K: u8, const ANSWERS: bool, T: OurObject>() -> Option<bool> {
    let emu = Emu::new(EmuConfig::verifier());
    let (p, queried) = new_probe::<K, ANSWERS>(&emu);
    let found = com::ours::<T, _>(&p).map(|t| ptr::addr_eq(t, p.as_raw()));
    assert_eq!(
        queried.load(Ordering::Relaxed),
        1,
        "asked once, through its own QI"
    );
    assert_eq!(
        refs::<K, ANSWERS>(&p),
        1,
        "the query's reference is given back"
    );
    drop(p);
    assert_clean_unload(&emu);
    found
}

#[test]
fn an_object_of_ours_is_found_as_its_own_type_with_its_reference_given_back() {
    assert_eq!(query_probe_as::<1, true, Probe<1, true>>(), Some(true));
}

#[test]
fn an_object_of_another_type_answering_the_same_id_is_told_apart_by_its_mark() {
    assert_eq!(query_probe_as::<1, true, Probe<2, true>>(), None);
}

#[test]
fn an_object_that_does_not_answer_the_id_is_not_ours() {
    assert_eq!(query_probe_as::<1, false, Probe<1, false>>(), None);
}

#[test]
fn a_service_group_is_recognised_for_its_own_platform_type_only() {
    let emu = Emu::new(EmuConfig::verifier());
    let g = new_service_group(emu.clone()).expect("group");
    assert!(service_stats::<Emu>(&g).is_some());
    assert_eq!(member_count::<Emu>(&g), Some(0));
    assert!(service_stats::<PortPlatform>(&g).is_none());
    assert_eq!(member_count::<PortPlatform>(&g), None);
    let h = new_service_group(PortPlatform::new(emu.clone())).expect("group");
    assert!(service_stats::<PortPlatform>(&h).is_some());
    assert!(service_stats::<Emu>(&h).is_none());
    // Neither is an allocator, nor a probe; an allocator is not a group.
    // SAFETY: `IServiceGroup` starts with `IUnknown`'s slots.
    let g_unknown: ComPtr<IUnknown> = unsafe { g.upcast() };
    assert!(com::ours::<Probe<1, true>, _>(&g_unknown).is_none());
    let a = new_allocator(emu.clone(), AllocatorConfig::default()).expect("allocator");
    assert!(Allocator::from_com(&a).is_some());
    // SAFETY: `IAllocatorMXF` starts with `IUnknown`'s slots.
    let a_unknown: ComPtr<IUnknown> = unsafe { a.upcast() };
    assert!(com::ours::<Probe<1, true>, _>(&a_unknown).is_none());
    drop((g_unknown, a_unknown, g, h, a));
    assert_clean_unload(&emu);
}

#[test]
fn a_raw_pointer_is_queried_the_same_way() {
    let emu = Emu::new(EmuConfig::verifier());
    let (p, _) = new_probe::<3, true>(&emu);
    let raw = NonNull::new(p.as_raw()).expect("non-null");
    // SAFETY: `p` holds a reference on the live probe for the borrow.
    let got = unsafe { com::ours_raw::<Probe<3, true>, IUnknown>(raw.as_ptr()) };
    assert!(got.is_some());
    assert_eq!(refs::<3, true>(&p), 1);
    drop(p);
    assert_clean_unload(&emu);
}
