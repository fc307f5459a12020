//! [`StaticTable`]: an immutable descriptor table holding raw pointers, made shareable so it
//! can live in a `static` (the filter description and the property tables PortCls keeps
//! pointers to). A leaf.

use mxf_abi::{
    KsDataRange, PcAutomationTable, PcFilterDescriptor, PcNodeDescriptor, PcPinDescriptor,
    PcPropertyItem,
};

/// Marker for the ABI descriptor types that may sit in a [`StaticTable`]: plain `repr(C)`
/// data without interior mutability. Sealed, so no other type can claim it.
pub trait DescriptorData: sealed::Sealed {}

mod sealed {
    pub trait Sealed {}
}

macro_rules! descriptor_data {
    ($($t:ty),+) => {
        $( impl sealed::Sealed for $t {} impl DescriptorData for $t {} )+
    };
}
descriptor_data!(
    PcFilterDescriptor,
    PcPinDescriptor,
    PcNodeDescriptor,
    PcAutomationTable,
    PcPropertyItem,
    *const KsDataRange
);
impl<T: DescriptorData, const N: usize> sealed::Sealed for [T; N] {}
impl<T: DescriptorData, const N: usize> DescriptorData for [T; N] {}

/// An immutable descriptor table that contains raw pointers, made shareable so it can live
/// in a `static`. Only this crate can build one.
#[repr(transparent)]
pub struct StaticTable<T: DescriptorData>(T);

// SAFETY: a StaticTable is only ever created by this crate, in `static` items, and is never
// written after initialisation (there is no `&mut` access and the wrapped types have no
// interior mutability). The raw pointers inside point at other immutable statics of this
// crate (and the handler pointers at functions), so sharing the table between threads shares
// nothing but read-only memory.
unsafe impl<T: DescriptorData> Sync for StaticTable<T> {}

impl<T: DescriptorData> StaticTable<T> {
    pub(crate) const fn new(value: T) -> Self {
        Self(value)
    }

    /// The table.
    pub const fn get(&self) -> &T {
        &self.0
    }

    /// The table's address, as stored in descriptors and handed to PortCls.
    pub const fn as_ptr(&self) -> *const T {
        &self.0
    }
}
