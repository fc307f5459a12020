//! Kernel-streaming GUIDs a MIDI filter advertises: data formats, categories, standard
//! interface/medium sets, node types.
//!
//! Every value is copied from mingw-w64's headers (Debian `mingw-w64-x86-64-dev`,
//! `/usr/share/mingw-w64/include`); the header is named on each constant. The test
//! `tests/layout_mingw.rs` compiles those headers and compares the bytes of each GUID with
//! these constants. The DMus pin names (`KSAUDFNAME_DMUSIC_MPU_*`), absent from mingw-w64,
//! live in [`crate::guid`] with the values of the WDK's `dmusicks.h`.

use crate::guid::Guid;

/// `GUID_NULL` (`ks.h` `STATIC_GUID_NULL`).
pub const GUID_NULL: Guid = Guid::from_u128(0);
/// `KSDATAFORMAT_TYPE_WILDCARD` (`ks.h`): `GUID_NULL`, matches any major format.
pub const KSDATAFORMAT_TYPE_WILDCARD: Guid = GUID_NULL;
/// `KSDATAFORMAT_SUBTYPE_WILDCARD` (`ks.h`): `GUID_NULL`, matches any subformat.
pub const KSDATAFORMAT_SUBTYPE_WILDCARD: Guid = GUID_NULL;
/// `KSDATAFORMAT_SPECIFIER_WILDCARD` (`ks.h`): `GUID_NULL`, matches any specifier.
pub const KSDATAFORMAT_SPECIFIER_WILDCARD: Guid = GUID_NULL;

/// `KSDATAFORMAT_TYPE_MUSIC` (`ksmedia.h`): major format of MIDI / DirectMusic streams.
pub const KSDATAFORMAT_TYPE_MUSIC: Guid = Guid::from_u128(0xe725d360_62cc_11cf_a5d6_28db04c10000);
/// `KSDATAFORMAT_SUBTYPE_MIDI` (`ksmedia.h`): byte-stream MIDI (what WinMM's wdmaud opens).
pub const KSDATAFORMAT_SUBTYPE_MIDI: Guid = Guid::from_u128(0x1d262760_e957_11cf_a5d6_28db04c10000);
/// `KSDATAFORMAT_SUBTYPE_MIDI_BUS` (`ksmedia.h`): the data range of MIDI bridge pins.
pub const KSDATAFORMAT_SUBTYPE_MIDI_BUS: Guid =
    Guid::from_u128(0x2ca15fa0_6cfe_11cf_a5d6_28db04c10000);
/// `KSDATAFORMAT_SUBTYPE_DIRECTMUSIC` (`dmksctrl.h`): DirectMusic event streams.
pub const KSDATAFORMAT_SUBTYPE_DIRECTMUSIC: Guid =
    Guid::from_u128(0x1a82f8bc_3f8b_11d2_b774_0060083316c1);
/// `KSDATAFORMAT_SUBTYPE_NONE` (`ks.h`).
pub const KSDATAFORMAT_SUBTYPE_NONE: Guid = Guid::from_u128(0xe436eb8e_524f_11ce_9f53_0020af0ba770);
/// `KSDATAFORMAT_SPECIFIER_NONE` (`ks.h`): no format block follows the `KSDATAFORMAT`.
pub const KSDATAFORMAT_SPECIFIER_NONE: Guid =
    Guid::from_u128(0x0f6417d6_c318_11d0_a43f_00a0c9223196);

/// `KSMUSIC_TECHNOLOGY_PORT` (`ksmedia.h`): an external MIDI port (`KSDATARANGE_MUSIC`).
pub const KSMUSIC_TECHNOLOGY_PORT: Guid = Guid::from_u128(0x86c92e60_62e8_11cf_a5d6_28db04c10000);

/// `KSCATEGORY_AUDIO` (`ksmedia.h`).
pub const KSCATEGORY_AUDIO: Guid = Guid::from_u128(0x6994ad04_93ef_11d0_a3cc_00a0c9223196);
/// `KSCATEGORY_RENDER` (`ks.h`).
pub const KSCATEGORY_RENDER: Guid = Guid::from_u128(0x65e8773e_8f56_11d0_a3b9_00a0c9223196);
/// `KSCATEGORY_CAPTURE` (`ks.h`).
pub const KSCATEGORY_CAPTURE: Guid = Guid::from_u128(0x65e8773d_8f56_11d0_a3b9_00a0c9223196);
/// `KSCATEGORY_TOPOLOGY` (`ksmedia.h`).
pub const KSCATEGORY_TOPOLOGY: Guid = Guid::from_u128(0xdda54a40_1e4c_11d1_a050_405705c10000);
/// `KSNODETYPE_SYNTHESIZER` (`ksmedia.h`, `DEFINE_USB_TERMINAL_GUID(0x0713)`); also
/// `KSCATEGORY_SYNTHESIZER`.
pub const KSNODETYPE_SYNTHESIZER: Guid = Guid::from_u128(0xdff220f3_f70f_11d0_b917_00a0c9223196);

/// `KSAUDFNAME_MIDI` (`ksmedia.h`): the name of DMusUART's legacy (WinMM) MIDI render pin.
pub const KSAUDFNAME_MIDI: Guid = Guid::from_u128(0x185fedf8_9905_11d1_95a9_00c04fb925d3);
/// `KSPROPTYPESETID_General` (`ks.h`): the `PropTypeSet` of a `KSPROPERTY_DESCRIPTION`
/// whose `Id` is a `VT_*` value type.
pub const KSPROPTYPESETID_GENERAL: Guid = Guid::from_u128(0x97e99ba0_bdea_11cf_a5d6_28db04c10000);

/// `KSINTERFACESETID_Standard` (`ks.h`).
pub const KSINTERFACESETID_STANDARD: Guid = Guid::from_u128(0x1a8766a0_62ce_11cf_a5d6_28db04c10000);
/// `KSINTERFACE_STANDARD_STREAMING` (`ks.h`): id in [`KSINTERFACESETID_STANDARD`].
pub const KSINTERFACE_STANDARD_STREAMING: u32 = 0;
/// `KSMEDIUMSETID_Standard` (`ks.h`).
pub const KSMEDIUMSETID_STANDARD: Guid = Guid::from_u128(0x4747b320_62ce_11cf_a5d6_28db04c10000);
/// `KSMEDIUM_TYPE_ANYINSTANCE` (`ks.h`): id in [`KSMEDIUMSETID_STANDARD`].
pub const KSMEDIUM_TYPE_ANYINSTANCE: u32 = 0;
/// `KSPROPSETID_Pin` (`ks.h`): the pin property set (`KSPROPERTY_PIN_DATAINTERSECTION`...).
pub const KSPROPSETID_PIN: Guid = Guid::from_u128(0x8c134960_51ad_11cf_878a_94f801c10000);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_are_null_and_distinct_from_real_formats() {
        assert_eq!(KSDATAFORMAT_TYPE_WILDCARD.to_u128(), 0);
        for g in [
            KSDATAFORMAT_TYPE_MUSIC,
            KSDATAFORMAT_SUBTYPE_MIDI,
            KSDATAFORMAT_SUBTYPE_DIRECTMUSIC,
            KSDATAFORMAT_SPECIFIER_NONE,
        ] {
            assert_ne!(g, GUID_NULL);
        }
    }

    #[test]
    fn synthesizer_is_the_usb_terminal_guid_0713() {
        // ksmedia.h: DEFINE_USB_TERMINAL_GUID(id) = 0xDFF219E0 + id, F70F, 11D0, B917-00A0C9223196.
        assert_eq!(KSNODETYPE_SYNTHESIZER.data1, 0xdff2_19e0 + 0x0713);
        assert_eq!(
            KSNODETYPE_SYNTHESIZER.data4,
            [0xb9, 0x17, 0x00, 0xa0, 0xc9, 0x22, 0x31, 0x96]
        );
    }
}
