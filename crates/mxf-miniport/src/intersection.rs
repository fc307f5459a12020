//! `IMiniport::DataRangeIntersection` for the MIDI pins.
//!
//! PortCls calls the handler once per data range of the pin (`matching`, one of ours) with
//! the range a client submitted in `KSPROPERTY_PIN_DATAINTERSECTION` (`data_range`), until
//! one succeeds; ReactOS's PortCls passes only the pin's first range. Semantics (the
//! documented contract of the method, and what the DDK's MIDI miniports and the KS default
//! handler do):
//!
//! 1. `pin_id` must be a streaming pin and `matching` one of that pin's ranges (compared by
//!    value over the whole `KSDATARANGE` header); otherwise `STATUS_NO_MATCH`. Bridge pins
//!    cannot be instantiated, so they never intersect. The client range is tried against
//!    `matching` first, then against every other range of the pin in descriptor order, so
//!    a port that offers only the first range (ReactOS) still gets the DirectMusic format
//!    on the capture pin, whose first range is MIDI.
//! 2. A client range whose `FormatSize` is smaller than a `KSDATARANGE` is malformed:
//!    `STATUS_INVALID_PARAMETER`.
//! 3. The client's `MajorFormat`, `SubFormat` and `Specifier` must each equal ours or be the
//!    wildcard (`GUID_NULL`: `KSDATAFORMAT_TYPE_WILDCARD` & co.); otherwise
//!    `STATUS_NO_MATCH`. A client `KSDATARANGE_MUSIC` tail (technology, channels) is not
//!    negotiated: MIDI has nothing to choose there, and the handler only sees the header.
//! 4. The result is a bare `KSDATAFORMAT` (`FormatSize` 64; `KSDATAFORMAT_SPECIFIER_NONE` means no
//!    format block follows) with our concrete major format, subformat and specifier, so a wildcard
//!    request resolves to the subformat of `matching`.
//! 5. Buffer protocol: no buffer or a zero-length one is a size query, answered with
//!    `STATUS_BUFFER_OVERFLOW` and the required size; a non-empty buffer shorter than the
//!    format is `STATUS_BUFFER_TOO_SMALL`; otherwise the format is written to the first 64
//!    bytes and the length returned. Matching is decided first, so a size query for a range
//!    that does not intersect answers `STATUS_NO_MATCH`, never a size.

use crate::filter::{is_streaming_pin, pin_data_ranges};
use core::mem::size_of;
use mxf_abi::{
    GUID_NULL, Guid, KsDataFormat, KsDataRange, NtError, NtStatus, STATUS_BUFFER_OVERFLOW,
    STATUS_SUCCESS,
};

/// Bytes of the format an intersection produces (`sizeof(KSDATAFORMAT)`).
pub const RESULTANT_FORMAT_SIZE: u32 = size_of::<KsDataFormat>() as u32;

/// What a successful intersection did.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Intersection {
    /// The resultant `KSDATAFORMAT` was written to the first `n` bytes of the buffer.
    Written(u32),
    /// A size query (no buffer, or an empty one): the format needs `n` bytes. The COM method
    /// answers it with the warning `STATUS_BUFFER_OVERFLOW` ([`com_outcome`]).
    SizeOnly(u32),
}

/// Intersects the client's `data_range` with our range `matching` of pin `pin_id`.
///
/// The outcome is [`Intersection`]; a failure is `STATUS_NO_MATCH`, `STATUS_INVALID_PARAMETER`
/// or `STATUS_BUFFER_TOO_SMALL` (see the module documentation).
pub fn data_range_intersection(
    pin_id: u32,
    data_range: &KsDataRange,
    matching: &KsDataRange,
    output: Option<&mut [u8]>,
) -> Result<Intersection, NtError> {
    let first = our_range(pin_id, matching).ok_or(NtError::NO_MATCH)?;
    if (data_range.format_size as usize) < size_of::<KsDataRange>() {
        return Err(NtError::INVALID_PARAMETER);
    }
    let accepts = |client: &Guid, ours: &Guid| *client == GUID_NULL || client == ours;
    let intersects = |ours: &KsDataRange| {
        accepts(&data_range.major_format, &ours.major_format)
            && accepts(&data_range.sub_format, &ours.sub_format)
            && accepts(&data_range.specifier, &ours.specifier)
    };
    let others = pin_data_ranges(pin_id).unwrap_or(&[]).iter().copied();
    let ours = core::iter::once(first)
        .chain(others.filter(|r| !core::ptr::eq(*r, first)))
        .find(|r| intersects(r))
        .ok_or(NtError::NO_MATCH)?;
    let format = KsDataFormat {
        format_size: RESULTANT_FORMAT_SIZE,
        flags: 0,
        sample_size: 0,
        reserved: 0,
        major_format: ours.major_format,
        sub_format: ours.sub_format,
        specifier: ours.specifier,
    };
    let buf = match output {
        None | Some([]) => return Ok(Intersection::SizeOnly(RESULTANT_FORMAT_SIZE)),
        Some(buf) => buf,
    };
    let dst = buf
        .get_mut(..RESULTANT_FORMAT_SIZE as usize)
        .ok_or(NtError::BUFFER_TOO_SMALL)?;
    dst.copy_from_slice(&encode_format(&format));
    Ok(Intersection::Written(RESULTANT_FORMAT_SIZE))
}

/// Maps a [`data_range_intersection`] result to what the COM method returns: the status and
/// the value to store in `*ResultantFormatLength` (`None`: leave it untouched).
pub fn com_outcome(result: Result<Intersection, NtError>) -> (NtStatus, Option<u32>) {
    match result {
        Ok(Intersection::Written(n)) => (STATUS_SUCCESS, Some(n)),
        Ok(Intersection::SizeOnly(n)) => (STATUS_BUFFER_OVERFLOW, Some(n)),
        Err(e) => (e.status(), None),
    }
}

/// The pin's own range equal to `matching`, if `pin_id` is a streaming pin.
fn our_range(pin_id: u32, matching: &KsDataRange) -> Option<&'static KsDataRange> {
    if !is_streaming_pin(pin_id) {
        return None;
    }
    pin_data_ranges(pin_id)?
        .iter()
        .copied()
        .find(|r| *r == matching)
}

fn guid_bytes(g: &Guid) -> [u8; 16] {
    let mut b = [0u8; 16];
    b[0..4].copy_from_slice(&g.data1.to_le_bytes());
    b[4..6].copy_from_slice(&g.data2.to_le_bytes());
    b[6..8].copy_from_slice(&g.data3.to_le_bytes());
    b[8..16].copy_from_slice(&g.data4);
    b
}

/// The in-memory image of a `KSDATAFORMAT` on a little-endian target (every Windows
/// architecture is), built field by field so the output buffer needs no alignment.
pub fn encode_format(f: &KsDataFormat) -> [u8; RESULTANT_FORMAT_SIZE as usize] {
    let mut out = [0u8; RESULTANT_FORMAT_SIZE as usize];
    out[0..4].copy_from_slice(&f.format_size.to_le_bytes());
    out[4..8].copy_from_slice(&f.flags.to_le_bytes());
    out[8..12].copy_from_slice(&f.sample_size.to_le_bytes());
    out[12..16].copy_from_slice(&f.reserved.to_le_bytes());
    out[16..32].copy_from_slice(&guid_bytes(&f.major_format));
    out[32..48].copy_from_slice(&guid_bytes(&f.sub_format));
    out[48..64].copy_from_slice(&guid_bytes(&f.specifier));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::filter::{
        BRIDGE_RANGE, DIRECTMUSIC_RANGE, MIDI_RANGE, PIN_CAPTURE_BRIDGE, PIN_CAPTURE_STREAM,
        PIN_COUNT, PIN_RENDER_BRIDGE, PIN_RENDER_DMUS, PIN_RENDER_STREAM,
    };
    use mxf_abi::{
        KSCATEGORY_AUDIO, KSDATAFORMAT_SPECIFIER_NONE, KSDATAFORMAT_SPECIFIER_WILDCARD,
        KSDATAFORMAT_SUBTYPE_DIRECTMUSIC, KSDATAFORMAT_SUBTYPE_MIDI, KSDATAFORMAT_SUBTYPE_NONE,
        KSDATAFORMAT_SUBTYPE_WILDCARD, KSDATAFORMAT_TYPE_MUSIC, KSDATAFORMAT_TYPE_WILDCARD,
        STATUS_BUFFER_OVERFLOW, STATUS_BUFFER_TOO_SMALL, STATUS_INVALID_PARAMETER, STATUS_NO_MATCH,
    };

    const MIDI: &KsDataRange = &MIDI_RANGE.data_range;
    const DMUS: &KsDataRange = &DIRECTMUSIC_RANGE.data_range;

    fn client(major: Guid, sub: Guid, spec: Guid) -> KsDataRange {
        KsDataRange {
            format_size: size_of::<KsDataRange>() as u32,
            flags: 0,
            sample_size: 0,
            reserved: 0,
            major_format: major,
            sub_format: sub,
            specifier: spec,
        }
    }

    /// Decodes the buffer the way PortCls would read it: as a KSDATAFORMAT in memory.
    fn decode(buf: &[u8]) -> KsDataFormat {
        assert!(buf.len() >= size_of::<KsDataFormat>());
        // SAFETY: the buffer holds at least size_of::<KsDataFormat>() initialised bytes,
        // read_unaligned has no alignment requirement, and every bit pattern is a valid
        // KsDataFormat (integers and GUIDs only).
        unsafe { core::ptr::read_unaligned(buf.as_ptr().cast::<KsDataFormat>()) }
    }

    fn intersect(pin: u32, c: &KsDataRange, m: &KsDataRange) -> Result<KsDataFormat, NtStatus> {
        let mut buf = [0xAAu8; 80];
        let done = data_range_intersection(pin, c, m, Some(&mut buf)).map_err(NtStatus::from)?;
        assert_eq!(done, Intersection::Written(RESULTANT_FORMAT_SIZE));
        assert!(
            buf[64..].iter().all(|&b| b == 0xAA),
            "wrote past the format"
        );
        Ok(decode(&buf))
    }

    #[test]
    fn exact_request_yields_the_matching_subformat_on_every_stream_pin() {
        for (pin, m, sub) in [
            (PIN_RENDER_STREAM, MIDI, KSDATAFORMAT_SUBTYPE_MIDI),
            (PIN_RENDER_DMUS, DMUS, KSDATAFORMAT_SUBTYPE_DIRECTMUSIC),
            (PIN_CAPTURE_STREAM, MIDI, KSDATAFORMAT_SUBTYPE_MIDI),
            (PIN_CAPTURE_STREAM, DMUS, KSDATAFORMAT_SUBTYPE_DIRECTMUSIC),
        ] {
            let c = client(KSDATAFORMAT_TYPE_MUSIC, sub, KSDATAFORMAT_SPECIFIER_NONE);
            let f = intersect(pin, &c, m).unwrap();
            assert_eq!(f.format_size, 64);
            assert_eq!((f.flags, f.sample_size, f.reserved), (0, 0, 0));
            assert_eq!(f.major_format, KSDATAFORMAT_TYPE_MUSIC);
            assert_eq!(f.sub_format, sub);
            assert_eq!(f.specifier, KSDATAFORMAT_SPECIFIER_NONE);
        }
    }

    #[test]
    fn wildcards_resolve_to_our_concrete_guids() {
        let w = client(
            KSDATAFORMAT_TYPE_WILDCARD,
            KSDATAFORMAT_SUBTYPE_WILDCARD,
            KSDATAFORMAT_SPECIFIER_WILDCARD,
        );
        let f = intersect(PIN_RENDER_DMUS, &w, DMUS).unwrap();
        assert_eq!(f.major_format, KSDATAFORMAT_TYPE_MUSIC);
        assert_eq!(f.sub_format, KSDATAFORMAT_SUBTYPE_DIRECTMUSIC);
        assert_eq!(f.specifier, KSDATAFORMAT_SPECIFIER_NONE);
        // Each field may be a wildcard on its own.
        let c = client(
            KSDATAFORMAT_TYPE_MUSIC,
            KSDATAFORMAT_SUBTYPE_WILDCARD,
            KSDATAFORMAT_SPECIFIER_NONE,
        );
        assert_eq!(
            intersect(PIN_CAPTURE_STREAM, &c, MIDI).unwrap().sub_format,
            KSDATAFORMAT_SUBTYPE_MIDI
        );
        let c = client(
            KSDATAFORMAT_TYPE_WILDCARD,
            KSDATAFORMAT_SUBTYPE_MIDI,
            KSDATAFORMAT_SPECIFIER_WILDCARD,
        );
        assert_eq!(
            intersect(PIN_CAPTURE_STREAM, &c, MIDI).unwrap().sub_format,
            KSDATAFORMAT_SUBTYPE_MIDI
        );
    }

    #[test]
    fn every_range_of_the_pin_is_tried_after_matching() {
        let none = KSDATAFORMAT_SPECIFIER_NONE;
        let music = KSDATAFORMAT_TYPE_MUSIC;
        let dm = client(music, KSDATAFORMAT_SUBTYPE_DIRECTMUSIC, none);
        let midi = client(music, KSDATAFORMAT_SUBTYPE_MIDI, none);
        // ReactOS's port offers only the first range (MIDI) of the capture pin: a DirectMusic
        // client still gets the DirectMusic format from the pin's second range.
        assert_eq!(
            intersect(PIN_CAPTURE_STREAM, &dm, MIDI).unwrap().sub_format,
            KSDATAFORMAT_SUBTYPE_DIRECTMUSIC
        );
        assert_eq!(
            intersect(PIN_CAPTURE_STREAM, &midi, DMUS)
                .unwrap()
                .sub_format,
            KSDATAFORMAT_SUBTYPE_MIDI
        );
        // `matching` comes first: a wildcard resolves to it, whichever range it is.
        let w = client(music, KSDATAFORMAT_SUBTYPE_WILDCARD, none);
        for (m, sub) in [
            (MIDI, KSDATAFORMAT_SUBTYPE_MIDI),
            (DMUS, KSDATAFORMAT_SUBTYPE_DIRECTMUSIC),
        ] {
            assert_eq!(
                intersect(PIN_CAPTURE_STREAM, &w, m).unwrap().sub_format,
                sub
            );
        }
        // The size query and the too-small answer hold for a match found in another range.
        assert_eq!(
            data_range_intersection(PIN_CAPTURE_STREAM, &dm, MIDI, None),
            Ok(Intersection::SizeOnly(RESULTANT_FORMAT_SIZE))
        );
        assert_eq!(
            data_range_intersection(PIN_CAPTURE_STREAM, &dm, MIDI, Some(&mut [0u8; 10])),
            Err(NtError::BUFFER_TOO_SMALL)
        );
        // A pin without the subformat in any range: no match.
        assert_eq!(
            intersect(PIN_RENDER_STREAM, &dm, MIDI),
            Err(STATUS_NO_MATCH)
        );
        assert_eq!(
            intersect(PIN_RENDER_DMUS, &midi, DMUS),
            Err(STATUS_NO_MATCH)
        );
        // `matching` must still be one of the pin's own ranges.
        assert_eq!(
            intersect(PIN_RENDER_STREAM, &midi, DMUS),
            Err(STATUS_NO_MATCH)
        );
    }

    #[test]
    fn a_client_music_range_header_is_accepted() {
        // Clients often submit a whole KSDATARANGE_MUSIC (FormatSize 96).
        let f = intersect(PIN_RENDER_STREAM, MIDI, MIDI).unwrap();
        assert_eq!(f.sub_format, KSDATAFORMAT_SUBTYPE_MIDI);
    }

    #[test]
    fn mismatches_are_no_match() {
        let none = KSDATAFORMAT_SPECIFIER_NONE;
        let music = KSDATAFORMAT_TYPE_MUSIC;
        // Other subformat than the matching range.
        let dm = client(music, KSDATAFORMAT_SUBTYPE_DIRECTMUSIC, none);
        assert_eq!(
            intersect(PIN_RENDER_STREAM, &dm, MIDI),
            Err(STATUS_NO_MATCH)
        );
        let sub_none = client(music, KSDATAFORMAT_SUBTYPE_NONE, none);
        assert_eq!(
            intersect(PIN_RENDER_STREAM, &sub_none, MIDI),
            Err(STATUS_NO_MATCH)
        );
        // Other major format / specifier.
        let audio = client(KSCATEGORY_AUDIO, KSDATAFORMAT_SUBTYPE_MIDI, none);
        assert_eq!(
            intersect(PIN_RENDER_STREAM, &audio, MIDI),
            Err(STATUS_NO_MATCH)
        );
        let spec = client(music, KSDATAFORMAT_SUBTYPE_MIDI, KSDATAFORMAT_SUBTYPE_MIDI);
        assert_eq!(
            intersect(PIN_RENDER_STREAM, &spec, MIDI),
            Err(STATUS_NO_MATCH)
        );
        // Bridge pins, and pins that do not exist.
        let ok = client(music, KSDATAFORMAT_SUBTYPE_MIDI, none);
        for pin in [
            PIN_RENDER_BRIDGE,
            PIN_CAPTURE_BRIDGE,
            PIN_COUNT as u32,
            u32::MAX,
        ] {
            assert_eq!(intersect(pin, &ok, MIDI), Err(STATUS_NO_MATCH), "pin {pin}");
        }
        assert_eq!(
            intersect(PIN_RENDER_BRIDGE, &BRIDGE_RANGE, &BRIDGE_RANGE),
            Err(STATUS_NO_MATCH)
        );
        // A `matching` range that is not one of the pin's.
        let mut forged = *MIDI;
        forged.sample_size = 1;
        assert_eq!(
            intersect(PIN_RENDER_STREAM, &ok, &forged),
            Err(STATUS_NO_MATCH)
        );
        assert_eq!(
            intersect(PIN_RENDER_STREAM, &ok, &BRIDGE_RANGE),
            Err(STATUS_NO_MATCH)
        );
    }

    #[test]
    fn malformed_client_range_is_invalid_parameter() {
        let mut c = client(
            KSDATAFORMAT_TYPE_MUSIC,
            KSDATAFORMAT_SUBTYPE_MIDI,
            KSDATAFORMAT_SPECIFIER_NONE,
        );
        for size in [0, 1, 63] {
            c.format_size = size;
            assert_eq!(
                intersect(PIN_RENDER_STREAM, &c, MIDI),
                Err(STATUS_INVALID_PARAMETER)
            );
        }
        c.format_size = 64;
        assert!(intersect(PIN_RENDER_STREAM, &c, MIDI).is_ok());
    }

    #[test]
    fn buffer_protocol_size_query_too_small_and_exact() {
        let c = client(
            KSDATAFORMAT_TYPE_MUSIC,
            KSDATAFORMAT_SUBTYPE_MIDI,
            KSDATAFORMAT_SPECIFIER_NONE,
        );
        let run =
            |buf: Option<&mut [u8]>| data_range_intersection(PIN_RENDER_STREAM, &c, MIDI, buf);
        assert_eq!(run(None), Ok(Intersection::SizeOnly(64)));
        assert_eq!(run(Some(&mut [])), Ok(Intersection::SizeOnly(64)));
        for len in [1usize, 16, 63] {
            let mut buf = [0x55u8; 64];
            assert_eq!(
                run(Some(&mut buf[..len])),
                Err(NtError::BUFFER_TOO_SMALL),
                "len {len}"
            );
            assert!(buf.iter().all(|&b| b == 0x55), "len {len}: buffer touched");
        }
        let mut exact = [0u8; 64];
        assert_eq!(run(Some(&mut exact)), Ok(Intersection::Written(64)));
        assert_eq!(decode(&exact).sub_format, KSDATAFORMAT_SUBTYPE_MIDI);
        // No match wins over the size query.
        let other = client(
            KSDATAFORMAT_TYPE_MUSIC,
            KSDATAFORMAT_SUBTYPE_NONE,
            KSDATAFORMAT_SPECIFIER_NONE,
        );
        assert_eq!(
            data_range_intersection(PIN_RENDER_STREAM, &other, MIDI, None),
            Err(NtError::NO_MATCH)
        );
    }

    #[test]
    fn output_is_written_at_any_alignment() {
        let c = client(
            KSDATAFORMAT_TYPE_MUSIC,
            KSDATAFORMAT_SUBTYPE_WILDCARD,
            KSDATAFORMAT_SPECIFIER_NONE,
        );
        let mut big = [0u8; 64 + 8];
        for off in 0..8 {
            big.fill(0);
            let done =
                data_range_intersection(PIN_RENDER_DMUS, &c, DMUS, Some(&mut big[off..])).unwrap();
            assert_eq!(done, Intersection::Written(64));
            assert_eq!(
                decode(&big[off..]).sub_format,
                KSDATAFORMAT_SUBTYPE_DIRECTMUSIC
            );
        }
    }

    #[test]
    fn encode_format_is_the_in_memory_image() {
        let f = KsDataFormat {
            format_size: 0x0102_0304,
            flags: 0x0506_0708,
            sample_size: 0x090a_0b0c,
            reserved: 0x0d0e_0f10,
            major_format: KSDATAFORMAT_TYPE_MUSIC,
            sub_format: KSDATAFORMAT_SUBTYPE_DIRECTMUSIC,
            specifier: KSDATAFORMAT_SPECIFIER_NONE,
        };
        // SAFETY: KsDataFormat is repr(C) plain data without padding (64 bytes of u32s and
        // GUIDs), so all of its bytes are initialised and may be viewed as u8.
        let mem: [u8; 64] = unsafe { core::mem::transmute(f) };
        assert_eq!(encode_format(&f), mem);
    }

    #[test]
    fn com_outcome_reports_the_length_only_when_meaningful() {
        assert_eq!(
            com_outcome(Ok(Intersection::Written(64))),
            (STATUS_SUCCESS, Some(64))
        );
        assert_eq!(
            com_outcome(Ok(Intersection::SizeOnly(64))),
            (STATUS_BUFFER_OVERFLOW, Some(64))
        );
        assert_eq!(
            com_outcome(Err(NtError::BUFFER_TOO_SMALL)),
            (STATUS_BUFFER_TOO_SMALL, None)
        );
        assert_eq!(com_outcome(Err(NtError::NO_MATCH)), (STATUS_NO_MATCH, None));
    }

    #[test]
    fn a_size_query_succeeds_with_the_size_and_is_answered_as_the_overflow_warning() {
        let w = client(
            KSDATAFORMAT_TYPE_MUSIC,
            KSDATAFORMAT_SUBTYPE_WILDCARD,
            KSDATAFORMAT_SPECIFIER_NONE,
        );
        for (pin, m) in [
            (PIN_RENDER_STREAM, MIDI),
            (PIN_RENDER_DMUS, DMUS),
            (PIN_CAPTURE_STREAM, MIDI),
            (PIN_CAPTURE_STREAM, DMUS),
        ] {
            for output in [None, Some(&mut [][..])] {
                let got = data_range_intersection(pin, &w, m, output);
                assert_eq!(
                    got,
                    Ok(Intersection::SizeOnly(RESULTANT_FORMAT_SIZE)),
                    "pin {pin}"
                );
                // A warning, not an error: the length is reported with it.
                let (status, len) = com_outcome(got);
                assert!(!mxf_abi::nt_error(status), "pin {pin}");
                assert_eq!(
                    (status, len),
                    (STATUS_BUFFER_OVERFLOW, Some(RESULTANT_FORMAT_SIZE))
                );
            }
        }
    }
}
