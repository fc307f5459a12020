//! `IUnknown`, the interface every COM object of the DMus stack starts with: the property
//! requests of [`crate::portcls`] carry it, and every vtable of [`crate::vtbl`] embeds its
//! table first. A leaf: it depends on the GUID and status types only.

use crate::guid::Guid;
use crate::status::NtStatus;
use core::ffi::c_void;
use core::mem::size_of;

/// `IUnknown`.
#[repr(C)]
pub struct IUnknown {
    /// The vtable pointer (`lpVtbl`).
    pub vtbl: *const IUnknownVtbl,
}

/// `IUnknown` slots 0–2. Kernel COM's `QueryInterface` returns `NTSTATUS`.
#[repr(C)]
pub struct IUnknownVtbl {
    /// 0 `QueryInterface(REFIID, PVOID*)`.
    pub query_interface: unsafe extern "system" fn(
        this: *mut IUnknown,
        iid: *const Guid,
        out: *mut *mut c_void,
    ) -> NtStatus,
    /// 1 `AddRef() -> ULONG` (the new count).
    pub add_ref: unsafe extern "system" fn(this: *mut IUnknown) -> u32,
    /// 2 `Release() -> ULONG` (the new count).
    pub release: unsafe extern "system" fn(this: *mut IUnknown) -> u32,
}

const _: () = assert!(size_of::<IUnknownVtbl>() == 3 * size_of::<usize>());
