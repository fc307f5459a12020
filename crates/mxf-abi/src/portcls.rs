//! The PortCls filter description a miniport hands out from `IMiniport::GetDescription`
//! (`portcls.h`), and the kernel-streaming pin types it embeds (`ks.h`).
//!
//! Everything is `#[repr(C)]` with the field order of the C headers. `ULONG` is always `u32`
//! (Windows is LLP64: `long` is 32-bit even on x64), pointers are pointer-sized, and C enums
//! are `i32` newtypes. Descriptor tables hold raw pointers into other tables, so none of these
//! types is `Sync`; a driver that keeps them in `static`s wraps them (see `mxf-miniport`).
//! Layouts are asserted below for 64-bit targets and cross-checked against mingw-w64's
//! `ks.h`/`portcls.h` by `tests/layout_mingw.rs`.

use crate::guid::Guid;
use crate::handles::PIrp;
use crate::ks::{KsDataRange, KsIdentifier};
use crate::status::NtStatus;
use crate::unknown::IUnknown;
use core::ffi::c_void;
use core::mem::{align_of, offset_of, size_of};

/// `PCFILTER_NODE`: in a [`PcConnectionDescriptor`], "the filter itself" rather than a node.
pub const PCFILTER_NODE: u32 = u32::MAX;

/// `KSNODEPIN_STANDARD_IN` (`ksmedia.h`): the input pin of a topology node.
pub const KSNODEPIN_STANDARD_IN: u32 = 1;
/// `KSNODEPIN_STANDARD_OUT` (`ksmedia.h`): the output pin of a topology node.
pub const KSNODEPIN_STANDARD_OUT: u32 = 0;

/// `KSPROPERTY_TYPE_GET` (= `PCPROPERTY_ITEM_FLAG_GET`).
pub const KSPROPERTY_TYPE_GET: u32 = 0x0000_0001;
/// `KSPROPERTY_TYPE_SET` (= `PCPROPERTY_ITEM_FLAG_SET`).
pub const KSPROPERTY_TYPE_SET: u32 = 0x0000_0002;
/// `KSPROPERTY_TYPE_BASICSUPPORT` (= `PCPROPERTY_ITEM_FLAG_BASICSUPPORT`).
pub const KSPROPERTY_TYPE_BASICSUPPORT: u32 = 0x0000_0200;

/// `KSPROPERTY_TYPE_TOPOLOGY`: the request is a `KSNODEPROPERTY` addressed to a node.
pub const KSPROPERTY_TYPE_TOPOLOGY: u32 = 0x1000_0000;

/// `KSPIN_DATAFLOW`: the direction data moves through a pin, seen from the filter.
#[repr(transparent)]
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct KsPinDataflow(pub i32);

impl KsPinDataflow {
    /// `KSPIN_DATAFLOW_IN`: data enters the filter (a render pin, a bridge pin feeding it).
    pub const IN: Self = Self(1);
    /// `KSPIN_DATAFLOW_OUT`: data leaves the filter.
    pub const OUT: Self = Self(2);
}

/// `KSPIN_COMMUNICATION`: how a pin takes part in connections.
#[repr(transparent)]
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct KsPinCommunication(pub i32);

impl KsPinCommunication {
    /// `KSPIN_COMMUNICATION_NONE`: cannot be instantiated (bridge pins of audio miniports).
    pub const NONE: Self = Self(0);
    /// `KSPIN_COMMUNICATION_SINK`: an IRP sink; clients create instances of it. Streaming
    /// pins of a MIDI miniport are sinks whatever their data flow.
    pub const SINK: Self = Self(1);
    /// `KSPIN_COMMUNICATION_SOURCE`: connects to another filter's sink pin.
    pub const SOURCE: Self = Self(2);
    /// `KSPIN_COMMUNICATION_BOTH`.
    pub const BOTH: Self = Self(3);
    /// `KSPIN_COMMUNICATION_BRIDGE`: a bridge to something outside kernel streaming.
    pub const BRIDGE: Self = Self(4);
}

/// `KSPIN_INTERFACE` is a `KSIDENTIFIER` (set `KSINTERFACESETID_*`).
pub type KsPinInterface = KsIdentifier;
/// `KSPIN_MEDIUM` is a `KSIDENTIFIER` (set `KSMEDIUMSETID_*`).
pub type KsPinMedium = KsIdentifier;

/// `KSPIN_DESCRIPTOR` (`ks.h`, kernel mode): 88 bytes on x64, align 8.
///
/// The C type ends in `union { LONGLONG Reserved; struct { ULONG
/// ConstrainedDataRangesCount; PKSDATARANGE* ConstrainedDataRanges; }; }`; the struct arm
/// covers the whole union (16 bytes on x64), so it is laid out here as two plain fields.
/// PortCls miniports leave both zero.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct KsPinDescriptor {
    /// `InterfacesCount`: 0 means the standard streaming interface only.
    pub interfaces_count: u32,
    /// `Interfaces`: `InterfacesCount` entries, or null.
    pub interfaces: *const KsPinInterface,
    /// `MediumsCount`: 0 means the standard device-I/O medium only.
    pub mediums_count: u32,
    /// `Mediums`: `MediumsCount` entries, or null.
    pub mediums: *const KsPinMedium,
    /// `DataRangesCount`.
    pub data_ranges_count: u32,
    /// `DataRanges`: `DataRangesCount` pointers to ranges, each starting with a
    /// `KSDATARANGE` whose `FormatSize` covers its whole specialised structure.
    pub data_ranges: *const *const KsDataRange,
    /// `DataFlow`.
    pub data_flow: KsPinDataflow,
    /// `Communication`.
    pub communication: KsPinCommunication,
    /// `Category`: pin category GUID, or null.
    pub category: *const Guid,
    /// `Name`: pin name GUID (looked up under `MediaCategories` in the registry), or null.
    pub name: *const Guid,
    /// `ConstrainedDataRangesCount` (overlays `Reserved`).
    pub constrained_data_ranges_count: u32,
    /// `ConstrainedDataRanges`.
    pub constrained_data_ranges: *const *const KsDataRange,
}

/// `PCPROPERTY_REQUEST`: what PortCls passes to a property handler.
#[repr(C)]
#[derive(Debug)]
pub struct PcPropertyRequest {
    /// `MajorTarget`: the miniport (`PUNKNOWN`).
    pub major_target: *mut IUnknown,
    /// `MinorTarget`: the stream, for pin properties; else null.
    pub minor_target: *mut IUnknown,
    /// `Node`: node id, or [`PCFILTER_NODE`].
    pub node: u32,
    /// `PropertyItem`: the table entry that matched.
    pub property_item: *const PcPropertyItem,
    /// `Verb`: `KSPROPERTY_TYPE_*`.
    pub verb: u32,
    /// `InstanceSize`.
    pub instance_size: u32,
    /// `Instance`.
    pub instance: *mut c_void,
    /// `ValueSize`.
    pub value_size: u32,
    /// `Value`.
    pub value: *mut c_void,
    /// `Irp`.
    pub irp: PIrp,
}

/// `PCPFNPROPERTY_HANDLER` (`NTAPI`, hence `extern "system"`); `None` is a null handler.
pub type PcPropertyHandler =
    Option<unsafe extern "system" fn(request: *mut PcPropertyRequest) -> NtStatus>;

/// `PCPFNMETHOD_HANDLER` / `PCPFNEVENT_HANDLER`: the request structures are not modelled,
/// so the argument is opaque.
pub type PcOpaqueHandler = Option<unsafe extern "system" fn(request: *mut c_void) -> NtStatus>;

/// `PCPROPERTY_ITEM`: 24 bytes on x64.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct PcPropertyItem {
    /// `Set`: property set GUID.
    pub set: *const Guid,
    /// `Id`: property id within the set.
    pub id: u32,
    /// `Flags`: `PCPROPERTY_ITEM_FLAG_*` (= `KSPROPERTY_TYPE_*`).
    pub flags: u32,
    /// `Handler`.
    pub handler: PcPropertyHandler,
}

/// `PCMETHOD_ITEM`: 24 bytes on x64.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct PcMethodItem {
    /// `Set`.
    pub set: *const Guid,
    /// `Id`.
    pub id: u32,
    /// `Flags`: `PCMETHOD_ITEM_FLAG_*`.
    pub flags: u32,
    /// `Handler`.
    pub handler: PcOpaqueHandler,
}

/// `PCEVENT_ITEM`: 24 bytes on x64.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct PcEventItem {
    /// `Set`.
    pub set: *const Guid,
    /// `Id`.
    pub id: u32,
    /// `Flags`: `PCEVENT_ITEM_FLAG_*`.
    pub flags: u32,
    /// `Handler`.
    pub handler: PcOpaqueHandler,
}

/// `PCAUTOMATION_TABLE`: 56 bytes on x64.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct PcAutomationTable {
    /// `PropertyItemSize`: `sizeof(PCPROPERTY_ITEM)` (or of a larger item type).
    pub property_item_size: u32,
    /// `PropertyCount`.
    pub property_count: u32,
    /// `Properties`.
    pub properties: *const PcPropertyItem,
    /// `MethodItemSize`.
    pub method_item_size: u32,
    /// `MethodCount`.
    pub method_count: u32,
    /// `Methods`.
    pub methods: *const PcMethodItem,
    /// `EventItemSize`.
    pub event_item_size: u32,
    /// `EventCount`.
    pub event_count: u32,
    /// `Events`.
    pub events: *const PcEventItem,
    /// `Reserved`: zero.
    pub reserved: u32,
}

/// `PCPIN_DESCRIPTOR`: 112 bytes on x64.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct PcPinDescriptor {
    /// `MaxGlobalInstanceCount`: system-wide instance limit (`ULONG(-1)`: no limit).
    pub max_global_instance_count: u32,
    /// `MaxFilterInstanceCount`: per-filter instance limit.
    pub max_filter_instance_count: u32,
    /// `MinFilterInstanceCount`: instances the filter needs to work.
    pub min_filter_instance_count: u32,
    /// `AutomationTable`: pin properties, or null.
    pub automation_table: *const PcAutomationTable,
    /// `KsPinDescriptor`.
    pub ks_pin_descriptor: KsPinDescriptor,
}

/// `PCNODE_DESCRIPTOR`: 32 bytes on x64.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct PcNodeDescriptor {
    /// `Flags`.
    pub flags: u32,
    /// `AutomationTable`, or null.
    pub automation_table: *const PcAutomationTable,
    /// `Type`: `KSNODETYPE_*`.
    pub node_type: *const Guid,
    /// `Name`, or null.
    pub name: *const Guid,
}

/// `PCCONNECTION_DESCRIPTOR`: an edge of the filter's topology, 16 bytes.
#[repr(C)]
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct PcConnectionDescriptor {
    /// `FromNode`: node id, or [`PCFILTER_NODE`] for a filter pin.
    pub from_node: u32,
    /// `FromNodePin`: filter pin id (when `from_node` is `PCFILTER_NODE`) or node pin.
    pub from_node_pin: u32,
    /// `ToNode`.
    pub to_node: u32,
    /// `ToNodePin`.
    pub to_node_pin: u32,
}

/// `PCFILTER_DESCRIPTOR`: what `IMiniport::GetDescription` returns, 80 bytes on x64.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct PcFilterDescriptor {
    /// `Version`: 0.
    pub version: u32,
    /// `AutomationTable`: filter properties, or null.
    pub automation_table: *const PcAutomationTable,
    /// `PinSize`: `sizeof(PCPIN_DESCRIPTOR)` (stride of `pins`).
    pub pin_size: u32,
    /// `PinCount`.
    pub pin_count: u32,
    /// `Pins`: pin factories; a pin id is an index into this array.
    pub pins: *const PcPinDescriptor,
    /// `NodeSize`: `sizeof(PCNODE_DESCRIPTOR)`.
    pub node_size: u32,
    /// `NodeCount`.
    pub node_count: u32,
    /// `Nodes`.
    pub nodes: *const PcNodeDescriptor,
    /// `ConnectionCount`.
    pub connection_count: u32,
    /// `Connections`.
    pub connections: *const PcConnectionDescriptor,
    /// `CategoryCount`.
    pub category_count: u32,
    /// `Categories`: filter categories (`KSCATEGORY_*`), registered as device interfaces.
    pub categories: *const Guid,
}

#[cfg(target_pointer_width = "64")]
const _: () = {
    assert!(size_of::<KsPinDescriptor>() == 88 && align_of::<KsPinDescriptor>() == 8);
    assert!(offset_of!(KsPinDescriptor, data_ranges) == 40);
    assert!(offset_of!(KsPinDescriptor, data_flow) == 48);
    assert!(offset_of!(KsPinDescriptor, communication) == 52);
    assert!(offset_of!(KsPinDescriptor, name) == 64);
    assert!(offset_of!(KsPinDescriptor, constrained_data_ranges_count) == 72);
    assert!(offset_of!(KsPinDescriptor, constrained_data_ranges) == 80);
    assert!(size_of::<PcPropertyRequest>() == 72);
    assert!(size_of::<PcPropertyItem>() == 24 && size_of::<PcMethodItem>() == 24);
    assert!(size_of::<PcEventItem>() == 24);
    assert!(size_of::<PcAutomationTable>() == 56);
    assert!(offset_of!(PcAutomationTable, reserved) == 48);
    assert!(size_of::<PcPinDescriptor>() == 112);
    assert!(offset_of!(PcPinDescriptor, automation_table) == 16);
    assert!(offset_of!(PcPinDescriptor, ks_pin_descriptor) == 24);
    assert!(size_of::<PcNodeDescriptor>() == 32);
    assert!(size_of::<PcConnectionDescriptor>() == 16);
    assert!(size_of::<PcFilterDescriptor>() == 80);
    assert!(offset_of!(PcFilterDescriptor, pins) == 24);
    assert!(offset_of!(PcFilterDescriptor, connections) == 56);
    assert!(offset_of!(PcFilterDescriptor, categories) == 72);
};
