//! [`PoolBox`]: a value in the platform's nonpaged pool, freed on drop. The one lifecycle of
//! our pool-allocated objects: built with [`PoolBox::try_new`], handed out as a raw (COM)
//! pointer with [`PoolBox::into_raw`], dropped and freed through [`PoolBox::from_raw`] (see
//! `com::drop_and_free`). Objects whose construction needs their own address first (a timer
//! context: the render queue, the service group) allocate and initialise in two steps
//! instead.

use crate::platform::{POOL_ALIGN, Platform, PoolTag};
use core::mem::{align_of, size_of};
use core::ops::Deref;
use core::ptr::NonNull;
use mxf_abi::NtError;

/// A `T` in nonpaged pool memory, at a stable address (COM objects and kernel structures that
/// must not move live in one).
///
/// # Invariant
/// `ptr` points to an initialised `T` in a `pool_alloc(size_of::<T>(), tag)` block of
/// `platform`, owned by this box.
pub struct PoolBox<P: Platform, T> {
    ptr: NonNull<T>,
    platform: P,
    tag: PoolTag,
}

// SAFETY: the box owns its `T` exclusively, like `Box<T>`.
unsafe impl<P: Platform, T: Send> Send for PoolBox<P, T> {}
// SAFETY: shared access only hands out `&T`.
unsafe impl<P: Platform, T: Sync> Sync for PoolBox<P, T> {}

impl<P: Platform, T> PoolBox<P, T> {
    const FITS: () = assert!(
        align_of::<T>() <= POOL_ALIGN,
        "pool memory is 16-byte aligned"
    );

    /// Moves `value` into a new pool block tagged `tag`.
    pub fn try_new(platform: P, tag: PoolTag, value: T) -> Result<Self, NtError> {
        let () = Self::FITS;
        let raw = platform
            .pool_alloc(size_of::<T>().max(1), tag)
            .ok_or(NtError::INSUFFICIENT_RESOURCES)?;
        let ptr = raw.cast::<T>();
        // SAFETY: the block is `size_of::<T>()` bytes, POOL_ALIGN >= align_of::<T>() (checked
        // at compile time above), and we own it exclusively.
        unsafe { ptr.as_ptr().write(value) };
        Ok(Self { ptr, platform, tag })
    }

    /// Gives up ownership: the caller must eventually pass the pointer to [`PoolBox::from_raw`].
    pub fn into_raw(self) -> NonNull<T> {
        let p = self.ptr;
        let this = core::mem::ManuallyDrop::new(self);
        // SAFETY: `this` is never used or dropped again, so the platform handle is moved out
        // exactly once and dropped here.
        drop(unsafe { core::ptr::read(&this.platform) });
        p
    }

    /// Takes back ownership of a pointer from [`PoolBox::into_raw`].
    ///
    /// # Safety
    /// `ptr` came from `into_raw` of a box built with the same `platform` (or a clone of it)
    /// and `tag`, or is otherwise an initialised `T` in a `platform.pool_alloc` block of at
    /// least `size_of::<T>()` bytes tagged `tag`; the caller owns it, nothing else refers to
    /// it, and it is taken back once.
    pub unsafe fn from_raw(platform: P, tag: PoolTag, ptr: NonNull<T>) -> Self {
        Self { ptr, platform, tag }
    }

    /// The platform the memory came from.
    pub fn platform(&self) -> &P {
        &self.platform
    }
}

impl<P: Platform, T> Deref for PoolBox<P, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: by the invariant `ptr` is an initialised `T` owned by the box.
        unsafe { self.ptr.as_ref() }
    }
}

impl<P: Platform, T> Drop for PoolBox<P, T> {
    fn drop(&mut self) {
        // SAFETY: 1. by the invariant we own an initialised `T`: dropped in place once, and
        // not used as a `T` again.
        unsafe { core::ptr::drop_in_place(self.ptr.as_ptr()) };
        // SAFETY: 2. by the invariant the block came from `pool_alloc` with `self.tag` on this
        // platform; it is freed once, and the box is going away.
        unsafe { self.platform.pool_free(self.ptr.cast(), self.tag) };
    }
}
