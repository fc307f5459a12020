//! [`MiniportHead`]: the start of every miniport object, the same for every platform `P`,
//! which non-generic code (the property handlers) recognises behind a `PUNKNOWN` and follows
//! to functions instantiated for the miniport's `P`. A leaf: the property handlers reach a
//! request's stream through it without depending on the miniport object or the streams.

use core::ptr::NonNull;
use mxf_abi::{Guid, IMasterClock, IMiniportDMusVtbl, IUnknown};
use mxf_core::com::{self, ComPtr, OurMark, OurObject};

/// A private interface id: `QueryInterface` with it returns the miniport itself (AddRef'd), so
/// that its accessors and the property handlers recognise it ([`com::ours`] of a
/// [`MiniportHead`]). Never used by PortCls.
pub(crate) const IID_MXF_PRIVATE_MINIPORT: Guid =
    Guid::from_u128(0x6d786630_0001_4d58_8000_6d78666c6f6f);

/// The start of every `Miniport<P>`, the same for every `P`: what [`com::ours`] recognises
/// (the private miniport id answers it), and what leads the property handlers, which are not
/// generic, to functions instantiated for the miniport's `P` ([`MiniportOps`]).
///
/// # Invariants
/// A head is only ever the first field of a `Miniport<P>` (its fields are private to this
/// module and only [`new_miniport`] builds one), and its `ops` are `Miniport::<P>::OPS`.
#[repr(C)]
pub(crate) struct MiniportHead {
    pub(super) vtbl: *const IMiniportDMusVtbl,
    /// `OurMark::of::<MiniportHead>()` (for [`com::ours`]).
    pub(super) mark: OurMark,
    /// The functions of the miniport's `P`.
    pub(super) ops: &'static MiniportOps,
}

// SAFETY: 1. `MiniportHead` is `#[repr(C)]`, the vtable pointer first, then `mark`, set to
// `OurMark::of::<MiniportHead>()` in `new_miniport` and never written again. 2. Only miniports
// answer the private miniport id, with themselves (`IIDS`, at offset 0), and every miniport
// starts with a head.
unsafe impl OurObject for MiniportHead {
    const PRIVATE_IID: Guid = IID_MXF_PRIVATE_MINIPORT;
}

/// What the code that is not generic needs from a `Miniport<P>`: its `P`, and functions
/// instantiated for it.
pub(crate) struct MiniportOps {
    /// `OurMark::of::<Miniport<P>>` (a function: a `TypeId` is not made in a constant): the
    /// type of the whole object.
    pub(super) miniport: fn() -> OurMark,
    /// The master clock of `minor` if it is one of our streams (`MinorTarget` of a property
    /// request), AddRef'd.
    ///
    /// # Safety
    /// `minor` is a live COM object.
    pub(super) stream_clock: unsafe fn(NonNull<IUnknown>) -> Option<ComPtr<IMasterClock>>,
}

/// The master clock of the stream a property request addresses (AddRef'd), if `major` is
/// one of our miniports and `minor` one of its streams.
///
/// # Safety
/// `major` and `minor` are null or live COM objects.
pub(crate) unsafe fn stream_clock_of_request(
    major: *mut IUnknown,
    minor: *mut IUnknown,
) -> Option<ComPtr<IMasterClock>> {
    let (major, minor) = (NonNull::new(major)?, NonNull::new(minor)?);
    // SAFETY: a live COM object (caller); we hold our own reference while we look.
    let major = unsafe { ComPtr::from_raw_add_ref(major) };
    let head = com::ours::<MiniportHead, _>(&major)?;
    // SAFETY: `minor` is a live COM object (caller); `ops` are those of the miniport's `P`.
    unsafe { (head.ops.stream_clock)(minor) }
}
