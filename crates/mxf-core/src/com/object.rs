//! The one `IUnknown` behaviour of every COM object this workspace implements, and
//! [`ComObject`], the `IUnknown` half of our own pool-allocated objects.
//!
//! [`answer_query_interface`] and [`answer_release`] are the behaviour, written once; every
//! `QueryInterface`/`Release` slot (ours, the allocator's, the port emulator's) calls them:
//! - `QueryInterface` with `out` null: `STATUS_INVALID_PARAMETER`, nothing written;
//! - with `iid` null, or an IID the object does not list: `*out = NULL`,
//!   `STATUS_INVALID_PARAMETER` (COM: the out pointer is cleared on every failure);
//! - with a listed IID: one more reference, `*out = this`, `STATUS_SUCCESS`;
//! - `Release` to zero destroys the object once; a `Release` on a count already zero (a
//!   `Release` too many that still finds the object) destroys nothing, leaves the count at
//!   zero, answers 0 and is reported through the caller's `over_released` (our objects log
//!   it at `Error`, the allocator bug-checks `REFERENCE_BY_POINTER`).
//!
//! Each object of ours is a `#[repr(C)]` struct whose first field is its vtable pointer. The
//! three `IUnknown` slots are the same for all of them — answer a fixed list of IIDs with the
//! object pointer itself, count references with a [`RefCount`], destroy at zero — so an
//! object implements [`ComObject`] (its data: IIDs, count, platform, destructor) and takes
//! its `IUnknownVtbl` from [`unknown_vtbl`], an ops table of the generic thunks
//! [`query_interface`], [`add_ref`] and [`release`]. Their soundness is argued here once, on
//! the trait's contract, instead of in every object.

use super::RefCount;
use crate::platform::{LogLevel, Platform, PoolTag};
use crate::pool_box::PoolBox;
use core::ffi::c_void;
use core::ptr::{self, NonNull};
use mxf_abi::{Guid, IUnknown, IUnknownVtbl, NtStatus, STATUS_INVALID_PARAMETER, STATUS_SUCCESS};

/// One of our COM objects, as seen by its `IUnknown` slots.
///
/// # Safety
/// An implementer promises:
/// - `Self` is `#[repr(C)]` and its first field is its vtable pointer, so that a pointer to
///   the object is the interface pointer of every interface it has (all at offset 0).
/// - Its vtable starts with [`unknown_vtbl::<Self>()`](unknown_vtbl) and implements every
///   interface of [`ComObject::IIDS`] (each a prefix of the object's table), so that handing
///   the object pointer out for any of them is a valid interface pointer.
/// - Those slots are only ever called with a pointer to a live `Self` (which holds for any
///   interface pointer of the object: only `Self` objects carry this vtable), at most as many
///   `Release`s as references exist (a `Release` too many is detected while the object is
///   alive, see [`release`]).
/// - [`ComObject::destroy`] is sound for an object whose count just reached zero: it ends
///   the object's life (drop, free) and nothing else refers to it.
pub unsafe trait ComObject: Sized {
    /// The platform the object logs through.
    type Platform: Platform;
    /// What the object is called in log lines (e.g. `"miniport"`).
    const NAME: &'static str;
    /// The interfaces `QueryInterface` answers, `IID_IUnknown` included. Private IIDs (which
    /// let accessors recognise our objects) go here too.
    const IIDS: &'static [Guid];

    /// The object's reference count (it starts at one: the creator's reference).
    fn refs(&self) -> &RefCount;

    /// The object's platform (for the "Release on a zero count" log line).
    fn platform(&self) -> &Self::Platform;

    /// Ends the object's life once its count reached zero: drops it, frees its memory.
    ///
    /// # Safety
    /// `this` is a live object whose count just reached zero: nobody else refers to it, and
    /// it is not used after this call.
    unsafe fn destroy(this: *mut Self);

    /// The object behind one of its interface pointers.
    ///
    /// # Safety
    /// `this` is an interface pointer of a live `Self` (by the trait's contract, any pointer
    /// our vtable's slots are called with), and the object stays alive for `'a`.
    unsafe fn obj<'a, I>(this: *mut I) -> &'a Self {
        // SAFETY: per the caller the pointer points to a live `Self`: every interface is at
        // offset 0 (trait contract), so the interface pointer is the object pointer.
        unsafe { &*this.cast::<Self>() }
    }
}

/// The `IUnknownVtbl` of `T`: the base of every vtable of a [`ComObject`].
pub const fn unknown_vtbl<T: ComObject>() -> IUnknownVtbl {
    IUnknownVtbl {
        query_interface: query_interface::<T>,
        add_ref: add_ref::<T>,
        release: release::<T>,
    }
}

/// The one `QueryInterface` behaviour (see the module docs): answers `iid` with `this` if
/// `iids` lists it, adding a reference to `refs` first.
///
/// `iid` and `out` may be unaligned (they come from callers we do not control).
///
/// # Safety
/// 1. `iid` is null or readable for a [`Guid`].
/// 2. `out` is null or writable for a pointer.
/// 3. `refs` is the reference count of the object `this` points to, and every interface in
///    `iids` is implemented by that object at offset 0 (so `this` is a valid pointer for each).
pub unsafe fn answer_query_interface(
    this: *mut IUnknown,
    iid: *const Guid,
    out: *mut *mut c_void,
    iids: &[Guid],
    refs: &RefCount,
) -> NtStatus {
    if out.is_null() {
        return STATUS_INVALID_PARAMETER;
    }
    let found = !iid.is_null() && {
        // SAFETY: obligation 1: a non-null `iid` is readable for a GUID; no alignment is
        // assumed.
        let iid = unsafe { iid.read_unaligned() };
        iids.contains(&iid)
    };
    let answer = if found {
        // The reference is added before the pointer is handed out, so the object cannot go
        // away in between.
        refs.add_ref();
        this.cast::<c_void>()
    } else {
        ptr::null_mut()
    };
    // SAFETY: obligation 2: `out` is non-null here, hence writable for a pointer (no
    // alignment assumed); by obligation 3 `this` is the requested interface pointer when
    // found.
    unsafe { out.write_unaligned(answer) };
    if found {
        STATUS_SUCCESS
    } else {
        STATUS_INVALID_PARAMETER
    }
}

/// The one `Release` behaviour (see the module docs), given what [`RefCount::release`] of the
/// object's count returned: runs `destroy` when that call took the count to zero and answers
/// the new count; on a count already zero it destroys nothing, runs `over_released` and
/// answers 0.
///
/// `destroy` runs only when the count just went from one to zero, i.e. when the caller's
/// reference was the last one: that is the fact a `destroy` closure's proof rests on. The
/// count is taken as a result rather than as `&RefCount` so that no reference into the object
/// is alive while `destroy` frees it; for the same reason neither closure may capture a
/// reference into the object that `destroy` frees (capture the raw interface pointer).
pub fn answer_release(
    released: Result<u32, ()>,
    destroy: impl FnOnce(),
    over_released: impl FnOnce(),
) -> u32 {
    match released {
        Ok(0) => {
            destroy();
            0
        }
        Ok(n) => n,
        Err(()) => {
            over_released();
            0
        }
    }
}

/// `IUnknown::QueryInterface` of `T`: [`answer_query_interface`] with [`ComObject::IIDS`].
///
/// # Safety
/// `this` is an interface pointer of a live `T` (the COM contract, which [`ComObject`]'s
/// contract makes hold for every caller of the slot); `iid` is null or readable for a
/// [`Guid`]; `out` is null or writable for a pointer.
pub unsafe extern "system" fn query_interface<T: ComObject>(
    this: *mut IUnknown,
    iid: *const Guid,
    out: *mut *mut c_void,
) -> NtStatus {
    // SAFETY: `this` is a live `T` for the call (caller).
    let refs = unsafe { T::obj(this) }.refs();
    // SAFETY: `iid` and `out` as the caller promises; `refs` is `this`'s count, and every
    // interface of `T::IIDS` is at offset 0 of the object (trait contract).
    unsafe { answer_query_interface(this, iid, out, T::IIDS, refs) }
}

/// `IUnknown::AddRef` of `T`: the new count (saturating, see [`RefCount::add_ref`]).
///
/// # Safety
/// `this` is an interface pointer of a live `T` on which the caller holds a reference.
pub unsafe extern "system" fn add_ref<T: ComObject>(this: *mut IUnknown) -> u32 {
    // SAFETY: `this` is a live `T` for the call (caller).
    unsafe { T::obj(this) }.refs().add_ref()
}

/// `IUnknown::Release` of `T`: the new count; at zero the object is destroyed
/// ([`ComObject::destroy`]). A `Release` on a count already zero (a `Release` too many that
/// still finds the object, e.g. one kept alive by a leaked saturated count or a caller bug
/// caught before the memory is reused) is logged at `Error` and answered 0, without
/// destroying anything a second time.
///
/// # Safety
/// `this` is an interface pointer of a live `T`; the caller gives up one reference it holds
/// and does not use the pointer afterwards.
pub unsafe extern "system" fn release<T: ComObject>(this: *mut IUnknown) -> u32 {
    // SAFETY: `this` is a live `T` for the call (caller); the borrow ends with the statement.
    let released = unsafe { T::obj(this) }.refs().release();
    answer_release(
        released,
        || {
            // SAFETY: `answer_release` runs this only when the count just reached zero with
            // this call, so the caller's was the last reference: nobody else refers to the
            // object (references are the only way to reach it), and nothing uses it after.
            unsafe { T::destroy(this.cast::<T>()) }
        },
        || {
            // SAFETY: run instead of `destroy`, so the object was not destroyed by this call
            // and is live (caller).
            let me = unsafe { T::obj(this) };
            me.platform().log(
                LogLevel::Error,
                format_args!("mxf {} {this:p}: Release on a zero count", T::NAME),
            );
        },
    )
}

/// The usual end of a [`ComObject::destroy`]: drops the object in place and gives its memory
/// back to the pool, through [`PoolBox`] (the object was built by `PoolBox::try_new` +
/// `into_raw`, or an equivalent `pool_alloc` + write).
///
/// # Safety
/// `this` is a live object nobody else refers to, allocated by [`Platform::pool_alloc`] on
/// its own platform (or a clone of it) with `tag`; it is not used afterwards.
pub unsafe fn drop_and_free<T: ComObject>(this: *mut T, tag: PoolTag) {
    // SAFETY: live object (caller). The platform is cloned out, and the borrow ends, before
    // the object is dropped.
    let platform = unsafe { (*this).platform() }.clone();
    // A live object's address is not null.
    let Some(ptr) = NonNull::new(this) else {
        return;
    };
    // SAFETY: per the caller, an initialised `T` ours alone in a `pool_alloc` block of its
    // platform tagged `tag`: the box drops it once and frees the block with that tag.
    drop(unsafe { PoolBox::from_raw(platform, tag, ptr) });
}
