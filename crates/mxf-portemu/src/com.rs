//! Heap-allocated kernel COM objects of the emulator: the `IUnknown` slots shared by all of
//! them (generic over the object type, over mxf-core's one `IUnknown` behaviour,
//! [`answer_query_interface`] / [`answer_release`]) and the constructor that boxes an object.
//!
//! The emulator stands in for PortCls, not for our driver, so its objects live on the host
//! heap; they are still real COM objects reached only through their vtables.

use core::ffi::c_void;
use core::ptr::NonNull;
use mxf_abi::{Guid, IUnknown, NtStatus};
use mxf_core::com::{ComPtr, Interface, RefCount, answer_query_interface, answer_release};

/// A boxed COM object.
///
/// # Safety
/// The implementing type is `#[repr(C)]` and its first field is a `&'static` vtable whose
/// table starts with `IUnknownVtbl` slots pointing at [`query_interface`], [`add_ref`] and
/// [`release`] instantiated for the same type; every interface of `IIDS` is one that vtable
/// implements (a prefix of it).
pub(crate) unsafe trait BoxObject: Sized + Send + Sync + 'static {
    /// The object's reference count.
    fn refs(&self) -> &RefCount;
    /// What the object is called in the "Release on a zero count" report.
    const NAME: &'static str;
    /// The interfaces `QueryInterface` answers with this object, `IID_IUnknown` included.
    const IIDS: &'static [Guid];
}

/// Boxes `obj` and hands out the creator's reference as interface `I`.
///
/// # Safety
/// `T`'s vtable implements `I` (its table starts with `I`'s).
pub(crate) unsafe fn into_com<T: BoxObject, I: Interface>(obj: T) -> ComPtr<I> {
    let p = NonNull::from(Box::leak(Box::new(obj)));
    // SAFETY: a fresh object whose count (1) is the reference handed over; the caller
    // guarantees its vtable implements `I`, and `BoxObject` puts the vtable pointer first.
    unsafe { ComPtr::from_raw(p.cast::<I>()) }
}

/// The object behind an interface pointer.
///
/// # Safety
/// `this` points to a live `T` (an interface pointer handed out for one).
pub(crate) unsafe fn object<'a, T: BoxObject>(this: *mut c_void) -> &'a T {
    // SAFETY: the caller guarantees `this` points to a live `T`, so the shared reference is
    // to a valid, initialised object for as long as the caller holds the interface pointer.
    unsafe { &*this.cast::<T>() }
}

/// `IUnknown::QueryInterface` of a [`BoxObject`].
///
/// # Safety
/// Called through `T`'s vtable: `this` is a live `T`; `iid` and `out` are null or valid.
pub(crate) unsafe extern "system" fn query_interface<T: BoxObject>(
    this: *mut IUnknown,
    iid: *const Guid,
    out: *mut *mut c_void,
) -> NtStatus {
    // SAFETY: `this` is a live `T` (called through its vtable).
    let refs = unsafe { object::<T>(this.cast()) }.refs();
    // SAFETY: `iid` and `out` are null or valid (COM contract); `refs` is `this`'s count, and
    // every interface of `T::IIDS` is implemented by `T`'s vtable at offset 0 (`BoxObject`).
    unsafe { answer_query_interface(this, iid, out, T::IIDS, refs) }
}

/// `IUnknown::AddRef` of a [`BoxObject`].
///
/// # Safety
/// As [`query_interface`].
pub(crate) unsafe extern "system" fn add_ref<T: BoxObject>(this: *mut IUnknown) -> u32 {
    // SAFETY: `this` is a live `T`.
    unsafe { object::<T>(this.cast()) }.refs().add_ref()
}

/// `IUnknown::Release` of a [`BoxObject`]: frees the box at zero. A release too many leaves
/// the count at zero, returns 0 and is reported on stderr (the driver under test released a
/// reference it did not hold).
///
/// # Safety
/// As [`query_interface`]; the caller gives up one reference.
pub(crate) unsafe extern "system" fn release<T: BoxObject>(this: *mut IUnknown) -> u32 {
    // SAFETY: `this` is a live `T`; the borrow ends with the statement.
    let released = unsafe { object::<T>(this.cast()) }.refs().release();
    answer_release(
        released,
        || {
            // SAFETY: run only when the count just reached zero: the last reference is gone,
            // nobody else uses the object, which came from `Box::leak` in `into_com`.
            drop(unsafe { Box::from_raw(this.cast::<T>()) })
        },
        || {
            eprintln!(
                "[port emulator] {} {this:p}: Release on a zero count",
                T::NAME
            )
        },
    )
}

/// The `IUnknownVtbl` of a [`BoxObject`] type.
macro_rules! unknown_vtbl {
    ($t:ty) => {
        mxf_abi::IUnknownVtbl {
            query_interface: $crate::com::query_interface::<$t>,
            add_ref: $crate::com::add_ref::<$t>,
            release: $crate::com::release::<$t>,
        }
    };
}
pub(crate) use unknown_vtbl;
