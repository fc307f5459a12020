//! Kernel-streaming enumerations and data formats seen by a DMus miniport.
//!
//! C enums arrive from foreign code as plain integers, so they are modelled as transparent
//! newtypes over `i32` (a Rust `enum` receiving an undeclared value would be undefined
//! behaviour).

use crate::guid::Guid;
use core::mem::{align_of, offset_of, size_of};

/// `KSSTATE`.
#[repr(transparent)]
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct KsState(pub i32);

impl KsState {
    /// `KSSTATE_STOP`.
    pub const STOP: Self = Self(0);
    /// `KSSTATE_ACQUIRE`.
    pub const ACQUIRE: Self = Self(1);
    /// `KSSTATE_PAUSE`.
    pub const PAUSE: Self = Self(2);
    /// `KSSTATE_RUN`.
    pub const RUN: Self = Self(3);

    /// Whether the value is one of the four documented states.
    pub const fn is_valid(self) -> bool {
        self.0 >= 0 && self.0 <= 3
    }
}

/// `DMUS_STREAM_TYPE`.
#[repr(transparent)]
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct DmusStreamType(pub i32);

impl DmusStreamType {
    /// `DMUS_STREAM_TYPE_INVALID`.
    pub const INVALID: Self = Self(-1);
    /// `DMUS_STREAM_MIDI_RENDER`.
    pub const MIDI_RENDER: Self = Self(0);
    /// `DMUS_STREAM_MIDI_CAPTURE`.
    pub const MIDI_CAPTURE: Self = Self(1);
    /// `DMUS_STREAM_WAVE_SINK`.
    pub const WAVE_SINK: Self = Self(2);
}

/// `POOL_TYPE`.
#[repr(transparent)]
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct PoolType(pub i32);

impl PoolType {
    /// `NonPagedPool`.
    pub const NON_PAGED: Self = Self(0);
    /// `PagedPool`.
    pub const PAGED: Self = Self(1);
    /// `NonPagedPoolNx`.
    pub const NON_PAGED_NX: Self = Self(512);
}

/// `KSIDENTIFIER` (also `KSPROPERTY`, `KSMETHOD`, `KSEVENT`): 24 bytes, align 8 (the C
/// union carries a `LONGLONG Alignment` member).
#[repr(C, align(8))]
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct KsIdentifier {
    /// `Set`.
    pub set: Guid,
    /// `Id`.
    pub id: u32,
    /// `Flags`.
    pub flags: u32,
}

/// `KSNODEPROPERTY` (`ksmedia.h`): a property request addressed to a topology node (its
/// `Property.Flags` carry `KSPROPERTY_TYPE_TOPOLOGY`); 32 bytes, align 8. Instance data,
/// if any, follows it.
#[repr(C)]
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct KsNodeProperty {
    /// `Property`.
    pub property: KsIdentifier,
    /// `NodeId`.
    pub node_id: u32,
    /// `Reserved`: zero.
    pub reserved: u32,
}

/// `KSPROPERTY_DESCRIPTION` (`ks.h`): the header a `KSPROPERTY_TYPE_BASICSUPPORT` request
/// returns when its buffer can hold it (a `ULONG` buffer gets `AccessFlags` alone); 40
/// bytes, align 8.
#[repr(C)]
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct KsPropertyDescription {
    /// `AccessFlags`: the `KSPROPERTY_TYPE_*` verbs supported.
    pub access_flags: u32,
    /// `DescriptionSize`: bytes of the whole description (header plus member lists).
    pub description_size: u32,
    /// `PropTypeSet`: `{KSPROPTYPESETID_General, VT_*, 0}`.
    pub prop_type_set: KsIdentifier,
    /// `MembersListCount`.
    pub members_list_count: u32,
    /// `Reserved`.
    pub reserved: u32,
}

/// `VT_UI4` (`wtypes.h`): the value type of a `ULONG` property.
pub const VT_UI4: u32 = 19;
/// `VT_UI8`: the value type of a `ULONGLONG` property.
pub const VT_UI8: u32 = 21;
/// `VT_BLOB`: the value type of a structure-valued property.
pub const VT_BLOB: u32 = 65;

/// `KSDATAFORMAT` and `KSDATARANGE` (the same layout): 64 bytes, align 8.
#[repr(C, align(8))]
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct KsDataFormat {
    /// `FormatSize`: bytes of this header plus any format-specific tail.
    pub format_size: u32,
    /// `Flags`.
    pub flags: u32,
    /// `SampleSize`.
    pub sample_size: u32,
    /// `Reserved`.
    pub reserved: u32,
    /// `MajorFormat`.
    pub major_format: Guid,
    /// `SubFormat`.
    pub sub_format: Guid,
    /// `Specifier`.
    pub specifier: Guid,
}

/// `KSDATARANGE` shares `KSDATAFORMAT`'s layout.
pub type KsDataRange = KsDataFormat;

/// `KSDATARANGE_MUSIC`: 96 bytes, align 8.
#[repr(C)]
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct KsDataRangeMusic {
    /// `DataRange`.
    pub data_range: KsDataRange,
    /// `Technology`: e.g. `KSMUSIC_TECHNOLOGY_PORT`.
    pub technology: Guid,
    /// `Channels`.
    pub channels: u32,
    /// `Notes`.
    pub notes: u32,
    /// `ChannelMask`.
    pub channel_mask: u32,
}

#[cfg(target_pointer_width = "64")]
const _: () = {
    assert!(size_of::<KsIdentifier>() == 24 && align_of::<KsIdentifier>() == 8);
    assert!(size_of::<KsDataFormat>() == 64 && align_of::<KsDataFormat>() == 8);
    assert!(offset_of!(KsDataFormat, major_format) == 16);
    assert!(offset_of!(KsDataFormat, sub_format) == 32);
    assert!(offset_of!(KsDataFormat, specifier) == 48);
    assert!(size_of::<KsDataRangeMusic>() == 96);
    assert!(offset_of!(KsDataRangeMusic, technology) == 64);
    assert!(offset_of!(KsDataRangeMusic, channels) == 80);
    assert!(offset_of!(KsDataRangeMusic, channel_mask) == 88);
    assert!(size_of::<KsNodeProperty>() == 32 && offset_of!(KsNodeProperty, node_id) == 24);
    assert!(size_of::<KsPropertyDescription>() == 40);
    assert!(offset_of!(KsPropertyDescription, prop_type_set) == 8);
    assert!(offset_of!(KsPropertyDescription, members_list_count) == 32);
    assert!(size_of::<KsState>() == 4 && size_of::<DmusStreamType>() == 4);
};
