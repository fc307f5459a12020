//! With the WDK at hand (Windows targets without `--cfg mxf_no_wdk`), the hand-declared kernel
//! items must agree with wdk-sys's bindgen output of the real headers. Compile-time only.
//!
//! Not compiled on the Linux build machines (wdk-sys needs the WDK).

use super::types::*;
use core::mem::{align_of, offset_of, size_of};
use wdk_sys as w;

const _: () = {
    assert!(size_of::<LookasideListEx>() == size_of::<w::LOOKASIDE_LIST_EX>());
    assert!(align_of::<LookasideListEx>() == align_of::<w::LOOKASIDE_LIST_EX>());
    assert!(size_of::<GeneralLookasidePool>() == size_of::<w::GENERAL_LOOKASIDE_POOL>());
    assert!(
        offset_of!(GeneralLookasidePool, depth) == offset_of!(w::GENERAL_LOOKASIDE_POOL, Depth)
    );
    assert!(
        offset_of!(GeneralLookasidePool, maximum_depth)
            == offset_of!(w::GENERAL_LOOKASIDE_POOL, MaximumDepth)
    );
    assert!(
        offset_of!(GeneralLookasidePool, total_allocates)
            == offset_of!(w::GENERAL_LOOKASIDE_POOL, TotalAllocates)
    );
    assert!(
        offset_of!(GeneralLookasidePool, total_frees)
            == offset_of!(w::GENERAL_LOOKASIDE_POOL, TotalFrees)
    );
    assert!(
        offset_of!(GeneralLookasidePool, pool_type) == offset_of!(w::GENERAL_LOOKASIDE_POOL, Type)
    );
    assert!(offset_of!(GeneralLookasidePool, tag) == offset_of!(w::GENERAL_LOOKASIDE_POOL, Tag));
    assert!(offset_of!(GeneralLookasidePool, size) == offset_of!(w::GENERAL_LOOKASIDE_POOL, Size));
    assert!(
        offset_of!(GeneralLookasidePool, list_entry)
            == offset_of!(w::GENERAL_LOOKASIDE_POOL, ListEntry)
    );
    assert!(
        offset_of!(GeneralLookasidePool, last_total_allocates)
            == offset_of!(w::GENERAL_LOOKASIDE_POOL, LastTotalAllocates)
    );
    assert!(
        offset_of!(GeneralLookasidePool, future) == offset_of!(w::GENERAL_LOOKASIDE_POOL, Future)
    );
    assert!(size_of::<SlistHeader>() == size_of::<w::SLIST_HEADER>());
    assert!(align_of::<SlistHeader>() == align_of::<w::SLIST_HEADER>());
    assert!(size_of::<SlistEntry>() == size_of::<w::SLIST_ENTRY>());
    assert!(size_of::<KspinLock>() == size_of::<w::KSPIN_LOCK>());
    assert!(
        size_of::<Kdpc>() == size_of::<w::KDPC>() && align_of::<Kdpc>() == align_of::<w::KDPC>()
    );
    assert!(
        size_of::<Ktimer>() == size_of::<w::KTIMER>()
            && align_of::<Ktimer>() == align_of::<w::KTIMER>()
    );
    assert!(size_of::<UnicodeString>() == size_of::<w::UNICODE_STRING>());
    assert!(offset_of!(UnicodeString, buffer) == offset_of!(w::UNICODE_STRING, Buffer));
    assert!(size_of::<ListEntry>() == size_of::<w::LIST_ENTRY>());
    assert!(NON_PAGED_POOL_NX == w::_POOL_TYPE::NonPagedPoolNx as i32);
    assert!(DRIVER_OBJECT_DRIVER_UNLOAD == offset_of!(w::DRIVER_OBJECT, DriverUnload));
    assert!(size_of::<RtlQueryRegistryTable>() == size_of::<w::RTL_QUERY_REGISTRY_TABLE>());
    assert!(
        offset_of!(RtlQueryRegistryTable, default_length)
            == offset_of!(w::RTL_QUERY_REGISTRY_TABLE, DefaultLength)
    );
    assert!(RTL_REGISTRY_SERVICES == w::RTL_REGISTRY_SERVICES);
    assert!(RTL_REGISTRY_OPTIONAL == w::RTL_REGISTRY_OPTIONAL);
    assert!(RTL_QUERY_REGISTRY_DIRECT == w::RTL_QUERY_REGISTRY_DIRECT);
    assert!(RTL_QUERY_REGISTRY_TYPECHECK == w::RTL_QUERY_REGISTRY_TYPECHECK);
    assert!(RTL_QUERY_REGISTRY_TYPECHECK_SHIFT == w::RTL_QUERY_REGISTRY_TYPECHECK_SHIFT);
    assert!(REG_DWORD == w::REG_DWORD);
    assert!(REG_NONE == w::REG_NONE && REG_SZ == w::REG_SZ && REG_MULTI_SZ == w::REG_MULTI_SZ);
    assert!(RTL_QUERY_REGISTRY_NOEXPAND == w::RTL_QUERY_REGISTRY_NOEXPAND);
    assert!(size_of::<Option<DriverUnload>>() == size_of::<w::PDRIVER_UNLOAD>());
};
