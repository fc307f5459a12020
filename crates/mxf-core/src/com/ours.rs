//! "Is this interface pointer one of our objects, and of which type?": the one query for it
//! ([`ours`], [`ours_raw`]), for every object type that implements [`OurObject`].
//!
//! An object of ours is recognised by two independent signs:
//! 1. it answers its type's private interface id ([`OurObject::PRIVATE_IID`], never asked for
//!    by PortCls) through its own `QueryInterface` with itself — the same pointer. That call,
//!    and the `Release` of what it hands out, are all a foreign object sees of the query, as
//!    of any COM client;
//! 2. it starts `#[repr(C)] { vtbl, mark: OurMark, .. }`, and the mark names its Rust type
//!    ([`OurMark::of`]). That tells apart the objects of one id built for different types (a
//!    generic object for two platform types) and is a second sign that the memory is ours.
//!
//! A vtable's address is not such a sign: a vtable is a constant, and a constant's address is
//! not guaranteed unique (a table may exist twice, in two codegen units), so comparing it could
//! miss objects of ours.

use super::ptr::{ComPtr, Interface};
use core::any::TypeId;
use core::ffi::c_void;
use core::ptr::{self, NonNull};
use mxf_abi::{Guid, IUnknown};

/// The field right after the vtable pointer of an [`OurObject`]: its Rust type.
#[repr(transparent)]
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct OurMark(TypeId);

impl OurMark {
    /// The mark of objects of type `T`.
    pub fn of<T: 'static>() -> Self {
        Self(TypeId::of::<T>())
    }
}

/// An object type of ours that [`ours`] can recognise.
///
/// # Safety
/// 1. `Self` is `#[repr(C)]` and starts with the object's vtable pointer, followed by an
///    [`OurMark`] field holding `OurMark::of::<Self>()` for as long as the object lives.
/// 2. An object answers [`Self::PRIVATE_IID`] with itself only if it is a `Self` or another
///    [`OurObject`] type of the same id (so that it starts as point 1 says); no other object
///    does (the id is private to this project).
pub unsafe trait OurObject: Sized + 'static {
    /// The private interface id objects of this type answer with themselves.
    const PRIVATE_IID: Guid;
}

/// The start every [`OurObject`] shares.
#[repr(C)]
struct Prefix {
    vtbl: *const c_void,
    mark: OurMark,
}

/// Our object of type `T` behind `p`, if `p` is one (see the module documentation).
pub fn ours<T: OurObject, I: Interface>(p: &ComPtr<I>) -> Option<&T> {
    // SAFETY: a `ComPtr` holds a reference on a live COM object implementing `I`, for as long
    // as the borrow of `p` lasts.
    unsafe { ours_raw(p.as_raw()) }
}

/// [`ours`] of a raw interface pointer.
///
/// Asks the object's own `QueryInterface` for `T`'s private id, releases the reference that
/// takes, and checks that the answer is the object itself and carries `T`'s mark.
///
/// # Safety
/// `p` points to a live object implementing `I` on which the caller holds a reference for
/// `'a`.
pub unsafe fn ours_raw<'a, T: OurObject, I: Interface>(p: *mut I) -> Option<&'a T> {
    let unk = p.cast::<IUnknown>();
    let mut out: *mut c_void = ptr::null_mut();
    // SAFETY: the caller's promise: `p` points to a live COM object, whose first field is
    // its vtable pointer (`Interface`'s contract).
    let unk_vtbl = unsafe { (*unk).vtbl };
    // SAFETY: every COM vtable starts with IUnknown's slots, valid while the object lives.
    let query_interface = unsafe { (*unk_vtbl).query_interface };
    // SAFETY: the object is live; the id is a valid GUID and `out` a writable PVOID.
    let status = unsafe { query_interface(unk, &T::PRIVATE_IID, &mut out) };
    let got = NonNull::new(out.cast::<IUnknown>())?;
    // SAFETY: a non-null result of QueryInterface is a live interface pointer (it carries
    // a reference), whose first field is its vtable pointer.
    let got_vtbl = unsafe { (*got.as_ptr()).vtbl };
    // SAFETY: every COM vtable starts with IUnknown's slots, valid while the object lives.
    let release = unsafe { (*got_vtbl).release };
    // SAFETY: gives back the one reference QueryInterface made for us (the caller's
    // reference keeps the object alive for `'a`; if `got` is not `p` we never look at it
    // again).
    unsafe { release(got.as_ptr()) };
    if !mxf_abi::nt_success(status) || got.as_ptr() != unk {
        return None;
    }
    // SAFETY: the object answered the private id with itself, so (`OurObject`'s point 2) it
    // starts with `Prefix`: reading the mark stays inside the object, live for `'a` per the
    // caller.
    let mark = unsafe { (*p.cast::<Prefix>()).mark };
    if mark != OurMark::of::<T>() {
        return None;
    }
    // SAFETY: the mark says the object is a `T` (`OurObject`'s point 1), live for `'a`.
    Some(unsafe { &*p.cast::<T>() })
}
