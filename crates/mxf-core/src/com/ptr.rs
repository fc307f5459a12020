//! [`ComPtr`]: one counted reference to a kernel COM interface.

use core::ffi::c_void;
use core::ptr::NonNull;
use mxf_abi::NtError;
use mxf_abi::{
    Guid, IAllocatorMxf, IID_IALLOCATOR_MXF, IID_IMINIPORT, IID_IMINIPORT_DMUS, IID_IMXF,
    IID_IPORT, IID_IPORT_DMUS, IID_ISERVICE_GROUP, IID_ISERVICE_SINK, IID_IUNKNOWN, IMasterClock,
    IMiniport, IMiniportDMus, IMxf, IPort, IPortDMus, IServiceGroup, IServiceSink, IUnknown,
    IUnknownVtbl,
};

/// A COM interface type of `mxf-abi`.
///
/// # Safety
/// `Self` is `#[repr(C)]` with a vtable pointer as its first field, and that vtable starts with
/// an [`IUnknownVtbl`] (the slots every kernel COM interface begins with).
pub unsafe trait Interface {
    /// The interface identifier, where one is public.
    const IID: Option<Guid>;
}

macro_rules! interfaces {
    ($($t:ty => $iid:expr),* $(,)?) => {$(
        // SAFETY: every interface struct of `mxf-abi` is `#[repr(C)] { vtbl: *const XxxVtbl }`
        // and every `XxxVtbl` embeds its base table first, down to `IUnknownVtbl`.
        unsafe impl Interface for $t {
            const IID: Option<Guid> = $iid;
        }
    )*};
}

interfaces!(
    IUnknown => Some(IID_IUNKNOWN),
    IMxf => Some(IID_IMXF),
    IAllocatorMxf => Some(IID_IALLOCATOR_MXF),
    IMasterClock => None,
    IServiceSink => Some(IID_ISERVICE_SINK),
    IServiceGroup => Some(IID_ISERVICE_GROUP),
    IPort => Some(IID_IPORT),
    IPortDMus => Some(IID_IPORT_DMUS),
    IMiniport => Some(IID_IMINIPORT),
    IMiniportDMus => Some(IID_IMINIPORT_DMUS),
);

/// One counted reference to a COM object seen through interface `I`: cloning calls `AddRef`,
/// dropping calls `Release`.
///
/// # Invariant
/// `ptr` points to a live object implementing `I`, on which this value owns one reference.
pub struct ComPtr<I: Interface> {
    ptr: NonNull<I>,
}

// SAFETY: kernel COM objects of the DMus stack are free-threaded: their methods may be called
// from any CPU at the IRQLs they document, and reference counts are interlocked.
unsafe impl<I: Interface> Send for ComPtr<I> {}
// SAFETY: as above; `&ComPtr` only allows calling methods, which the objects serialise.
unsafe impl<I: Interface> Sync for ComPtr<I> {}

impl<I: Interface> ComPtr<I> {
    /// Takes over one reference the caller owns.
    ///
    /// # Safety
    /// `ptr` points to a live object implementing `I` and the caller transfers one of its
    /// references (it will not `Release` it itself).
    pub unsafe fn from_raw(ptr: NonNull<I>) -> Self {
        Self { ptr }
    }

    /// Adds a reference to an interface pointer the caller merely borrows (e.g. an argument of
    /// `NewStream`) and owns that new reference.
    ///
    /// # Safety
    /// `ptr` points to a live object implementing `I`.
    pub unsafe fn from_raw_add_ref(ptr: NonNull<I>) -> Self {
        let this = Self { ptr };
        this.add_ref();
        this
    }

    /// The interface pointer, still owned by `self`.
    pub fn as_raw(&self) -> *mut I {
        self.ptr.as_ptr()
    }

    /// Gives up ownership of the reference without releasing it.
    pub fn into_raw(self) -> NonNull<I> {
        let p = self.ptr;
        core::mem::forget(self);
        p
    }

    fn unknown_vtbl(&self) -> &IUnknownVtbl {
        let unk = self.ptr.as_ptr().cast::<IUnknown>();
        // SAFETY: by the type invariant the object is live, so its first field, the vtable
        // pointer, is readable.
        let table = unsafe { (*unk).vtbl };
        // SAFETY: by `Interface`'s contract that table starts with `IUnknownVtbl`, and vtables
        // are immutable for the object's lifetime.
        unsafe { &*table }
    }

    fn add_ref(&self) -> u32 {
        // SAFETY: the object is live (invariant); `AddRef` takes only `this`.
        unsafe { (self.unknown_vtbl().add_ref)(self.ptr.as_ptr().cast()) }
    }

    /// `QueryInterface` for interface `J`; `Err(NtError::INVALID_PARAMETER)` if `J` has no public
    /// IID, else whatever the object answers.
    pub fn query<J: Interface>(&self) -> Result<ComPtr<J>, NtError> {
        let iid = J::IID.ok_or(NtError::INVALID_PARAMETER)?;
        let mut out: *mut c_void = core::ptr::null_mut();
        // SAFETY: the object is live (invariant); `iid` and `out` are valid for the call.
        let status = unsafe {
            (self.unknown_vtbl().query_interface)(self.ptr.as_ptr().cast(), &iid, &mut out)
        };
        match NonNull::new(out.cast::<J>()) {
            // SAFETY: a successful QueryInterface hands out one reference to an object
            // implementing the requested interface.
            Some(p) if mxf_abi::nt_success(status) => Ok(unsafe { ComPtr::from_raw(p) }),
            _ => Err(if mxf_abi::nt_success(status) {
                NtError::INVALID_PARAMETER
            } else {
                NtError::or_unsuccessful(status)
            }),
        }
    }

    /// Reinterprets as a base interface `B` of `I` (no `QueryInterface`, one more reference).
    ///
    /// # Safety
    /// `B` is `I` or one of its base interfaces, so that `I`'s vtable starts with `B`'s.
    pub unsafe fn upcast<B: Interface>(&self) -> ComPtr<B> {
        // SAFETY: same object, and by the caller's promise it is a valid `B` pointer.
        unsafe { ComPtr::from_raw_add_ref(self.ptr.cast::<B>()) }
    }
}

impl<I: Interface> Clone for ComPtr<I> {
    fn clone(&self) -> Self {
        self.add_ref();
        Self { ptr: self.ptr }
    }
}

impl<I: Interface> Drop for ComPtr<I> {
    fn drop(&mut self) {
        // SAFETY: we own one reference on a live object (invariant) and give it up here.
        unsafe { (self.unknown_vtbl().release)(self.ptr.as_ptr().cast()) };
    }
}
