//! `GUID` and the interface/class identifiers of the DMus stack.

/// A Windows `GUID` (16 bytes, align 4).
#[repr(C)]
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct Guid {
    /// First 32 bits, stored little-endian in memory.
    pub data1: u32,
    /// Next 16 bits.
    pub data2: u16,
    /// Next 16 bits.
    pub data3: u16,
    /// Last 64 bits, in textual byte order.
    pub data4: [u8; 8],
}

impl Guid {
    /// Builds a GUID from its textual form read as one 128-bit number, so that
    /// `Guid::from_u128(0xb7902fe9_fb0a_11d1_81b0_0060083316c1)` is
    /// `{b7902fe9-fb0a-11d1-81b0-0060083316c1}`.
    pub const fn from_u128(v: u128) -> Self {
        let d4 = (v as u64).to_be_bytes();
        Guid {
            data1: (v >> 96) as u32,
            data2: (v >> 80) as u16,
            data3: (v >> 64) as u16,
            data4: d4,
        }
    }

    /// The textual form read as one 128-bit number (inverse of [`Guid::from_u128`]).
    pub const fn to_u128(&self) -> u128 {
        ((self.data1 as u128) << 96)
            | ((self.data2 as u128) << 80)
            | ((self.data3 as u128) << 64)
            | (u64::from_be_bytes(self.data4) as u128)
    }
}

impl core::fmt::Display for Guid {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let d = &self.data4;
        write!(
            f,
            "{:08x}-{:04x}-{:04x}-{:02x}{:02x}-{:02x}{:02x}{:02x}{:02x}{:02x}{:02x}",
            self.data1, self.data2, self.data3, d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7]
        )
    }
}

/// `CLSID_PortDMus`: the class PortCls instantiates for `PcNewPort`.
pub const CLSID_PORT_DMUS: Guid = Guid::from_u128(0xb7902fe9_fb0a_11d1_81b0_0060083316c1);
/// `IID_IPortDMus`.
pub const IID_IPORT_DMUS: Guid = Guid::from_u128(0xc096df9c_fb09_11d1_81b0_0060083316c1);
/// `IID_IMiniportDMus`.
pub const IID_IMINIPORT_DMUS: Guid = Guid::from_u128(0xc096df9d_fb09_11d1_81b0_0060083316c1);
/// `IID_IMXF`.
pub const IID_IMXF: Guid = Guid::from_u128(0xc096df9e_fb09_11d1_81b0_0060083316c1);
/// `IID_IAllocatorMXF`.
pub const IID_IALLOCATOR_MXF: Guid = Guid::from_u128(0xa5f0d62c_b30f_11d2_b7a3_0060083316c1);
/// `IID_IMiniport`.
pub const IID_IMINIPORT: Guid = Guid::from_u128(0xb4c90a24_5791_11d0_86f9_00a0c911b544);
/// `IID_IPort`.
pub const IID_IPORT: Guid = Guid::from_u128(0xb4c90a25_5791_11d0_86f9_00a0c911b544);
/// `IID_IServiceSink`.
pub const IID_ISERVICE_SINK: Guid = Guid::from_u128(0x22c6ac64_851b_11d0_9a7f_00aa0038acfe);
/// `IID_IServiceGroup`.
pub const IID_ISERVICE_GROUP: Guid = Guid::from_u128(0x22c6ac65_851b_11d0_9a7f_00aa0038acfe);
/// `IID_IUnknown`.
pub const IID_IUNKNOWN: Guid = Guid::from_u128(0x00000000_0000_0000_c000_000000000046);
/// `KSAUDFNAME_DMUSIC_MPU_OUT`: pin name of the DirectMusic render pin (DMusUART's).
pub const KSAUDFNAME_DMUSIC_MPU_OUT: Guid = Guid::from_u128(0xa4df0eb5_bac9_11d2_b7a8_0060083316c1);
/// `KSAUDFNAME_DMUSIC_MPU_IN`: pin name of the (MIDI and DirectMusic) capture pin.
pub const KSAUDFNAME_DMUSIC_MPU_IN: Guid = Guid::from_u128(0xb2ec0a7d_bac9_11d2_b7a8_0060083316c1);

const _: () = assert!(core::mem::size_of::<Guid>() == 16 && core::mem::align_of::<Guid>() == 4);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn textual_form_round_trips() {
        let g = IID_IALLOCATOR_MXF;
        assert_eq!(g.data1, 0xa5f0d62c);
        assert_eq!(g.data2, 0xb30f);
        assert_eq!(g.data3, 0x11d2);
        assert_eq!(g.data4, [0xb7, 0xa3, 0x00, 0x60, 0x08, 0x33, 0x16, 0xc1]);
        extern crate std;
        use std::string::ToString;
        assert_eq!(g.to_string(), "a5f0d62c-b30f-11d2-b7a3-0060083316c1");
        assert_eq!(Guid::from_u128(g.to_u128()), g);
    }

    #[test]
    fn iunknown_is_the_com_constant() {
        // In memory IUnknown is 00000000-0000-0000-C000-000000000046.
        assert_eq!(IID_IUNKNOWN.data4[0], 0xc0);
        assert_eq!(IID_IUNKNOWN.data4[7], 0x46);
    }
}
