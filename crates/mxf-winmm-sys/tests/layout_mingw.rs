//! Cross-checks the structs and constants of mxf-winmm-sys against mingw-w64's
//! `<mmsystem.h>` for x86_64 Windows.
//!
//! A C probe (embedded below) is compiled with `x86_64-w64-mingw32-gcc -S` by the dev-only
//! layout-probe crate (nothing is linked or run); it writes each size, alignment, offset and
//! constant as `.set mxf.<key>.hi/.lo` assembler lines, which this test reads back and
//! compares with Rust's `size_of`/`align_of`/`offset_of!` and the crate's constants. The key sets
//! must match in both directions. The Rust side is compiled for the x86_64 host; the crate uses
//! only fixed-width integers and pointers, whose sizes agree between LP64 and LLP64.
//!
//! Needs `apt-get install gcc-mingw-w64-x86-64 mingw-w64-x86-64-dev`; it fails (does not
//! skip) without them. `MXF_MINGW_GCC` overrides the compiler.

use layout_probe::{Expected, Probe, assert_matches, offsets, parse_values, values};
use mxf_winmm_sys::*;

const PROBE: &str = r#"
#include <windows.h>
#include <mmsystem.h>
#include "layout_probe.h"
void probe(void) {
    MXF_SIZE(MIDIHDR);
    MXF_OFF(MIDIHDR, lpData); MXF_OFF(MIDIHDR, dwBufferLength);
    MXF_OFF(MIDIHDR, dwBytesRecorded); MXF_OFF(MIDIHDR, dwUser); MXF_OFF(MIDIHDR, dwFlags);
    MXF_OFF(MIDIHDR, lpNext); MXF_OFF(MIDIHDR, reserved); MXF_OFF(MIDIHDR, dwOffset);
    MXF_OFF(MIDIHDR, dwReserved);
    MXF_SIZE(MIDIINCAPSW);
    MXF_OFF(MIDIINCAPSW, vDriverVersion); MXF_OFF(MIDIINCAPSW, szPname);
    MXF_OFF(MIDIINCAPSW, dwSupport);
    MXF_SIZE(MIDIOUTCAPSW);
    MXF_OFF(MIDIOUTCAPSW, vDriverVersion); MXF_OFF(MIDIOUTCAPSW, szPname);
    MXF_OFF(MIDIOUTCAPSW, wTechnology); MXF_OFF(MIDIOUTCAPSW, wChannelMask);
    MXF_OFF(MIDIOUTCAPSW, dwSupport);
    MXF_VALUE(MAXPNAMELEN);
    MXF_VALUE(MMSYSERR_NOERROR); MXF_VALUE(MMSYSERR_ERROR); MXF_VALUE(MMSYSERR_BADDEVICEID);
    MXF_VALUE(MMSYSERR_ALLOCATED); MXF_VALUE(MMSYSERR_INVALHANDLE);
    MXF_VALUE(MMSYSERR_NODRIVER); MXF_VALUE(MMSYSERR_NOMEM); MXF_VALUE(MMSYSERR_NOTSUPPORTED);
    MXF_VALUE(MMSYSERR_INVALFLAG); MXF_VALUE(MMSYSERR_INVALPARAM);
    MXF_VALUE(MIDIERR_UNPREPARED); MXF_VALUE(MIDIERR_STILLPLAYING); MXF_VALUE(MIDIERR_NOMAP);
    MXF_VALUE(MIDIERR_NOTREADY); MXF_VALUE(MIDIERR_NODEVICE); MXF_VALUE(MIDIERR_INVALIDSETUP);
    MXF_VALUE(CALLBACK_NULL); MXF_VALUE(CALLBACK_WINDOW); MXF_VALUE(CALLBACK_THREAD);
    MXF_VALUE(CALLBACK_FUNCTION); MXF_VALUE(CALLBACK_EVENT); MXF_VALUE(MIDI_IO_STATUS);
    MXF_VALUE(MHDR_DONE); MXF_VALUE(MHDR_PREPARED); MXF_VALUE(MHDR_INQUEUE);
    MXF_VALUE(MHDR_ISSTRM);
    MXF_VALUE(MIM_OPEN); MXF_VALUE(MIM_CLOSE); MXF_VALUE(MIM_DATA); MXF_VALUE(MIM_LONGDATA);
    MXF_VALUE(MIM_ERROR); MXF_VALUE(MIM_LONGERROR); MXF_VALUE(MIM_MOREDATA);
    MXF_VALUE(MOM_OPEN); MXF_VALUE(MOM_CLOSE); MXF_VALUE(MOM_DONE);
    MXF_VALUE(WAIT_OBJECT_0); MXF_VALUE(WAIT_TIMEOUT); MXF_VALUE(WAIT_FAILED);
    MXF_VALUE(INFINITE);
}
"#;

fn rust_values() -> Expected {
    let mut e = Expected::new();
    e.size_align::<MIDIHDR>("MIDIHDR");
    offsets!(e, "MIDIHDR", MIDIHDR, {
        lpData => lpData, dwBufferLength => dwBufferLength,
        dwBytesRecorded => dwBytesRecorded, dwUser => dwUser, dwFlags => dwFlags,
        lpNext => lpNext, reserved => reserved, dwOffset => dwOffset,
        dwReserved => dwReserved,
    });
    e.size_align::<MIDIINCAPSW>("MIDIINCAPSW");
    offsets!(e, "MIDIINCAPSW", MIDIINCAPSW, {
        vDriverVersion => vDriverVersion, szPname => szPname, dwSupport => dwSupport,
    });
    e.size_align::<MIDIOUTCAPSW>("MIDIOUTCAPSW");
    offsets!(e, "MIDIOUTCAPSW", MIDIOUTCAPSW, {
        vDriverVersion => vDriverVersion, szPname => szPname, wTechnology => wTechnology,
        wChannelMask => wChannelMask, dwSupport => dwSupport,
    });
    values!(e, {
        MAXPNAMELEN,
        MMSYSERR_NOERROR, MMSYSERR_ERROR, MMSYSERR_BADDEVICEID, MMSYSERR_ALLOCATED,
        MMSYSERR_INVALHANDLE, MMSYSERR_NODRIVER, MMSYSERR_NOMEM, MMSYSERR_NOTSUPPORTED,
        MMSYSERR_INVALFLAG, MMSYSERR_INVALPARAM,
        MIDIERR_UNPREPARED, MIDIERR_STILLPLAYING, MIDIERR_NOMAP, MIDIERR_NOTREADY,
        MIDIERR_NODEVICE, MIDIERR_INVALIDSETUP,
        CALLBACK_NULL, CALLBACK_WINDOW, CALLBACK_THREAD, CALLBACK_FUNCTION, CALLBACK_EVENT,
        MIDI_IO_STATUS,
        MHDR_DONE, MHDR_PREPARED, MHDR_INQUEUE, MHDR_ISSTRM,
        MIM_OPEN, MIM_CLOSE, MIM_DATA, MIM_LONGDATA, MIM_ERROR, MIM_LONGERROR, MIM_MOREDATA,
        MOM_OPEN, MOM_CLOSE, MOM_DONE,
        WAIT_OBJECT_0, WAIT_TIMEOUT, WAIT_FAILED, INFINITE,
    });
    e
}

#[test]
fn layouts_and_constants_match_mingw_mmsystem_h() {
    let asm = Probe::text("winmm probe (tests/layout_mingw.rs)", PROBE).compile();
    let c = parse_values(&asm).unwrap_or_else(|e| panic!("winmm probe: {e}"));
    let n = assert_matches("mxf-winmm-sys", &c, &rust_values());
    assert!(n > 50, "probe produced too few values: {c:?}");
    // The point of the exercise: MIDIHDR is byte-packed (pshpack1), not naturally aligned.
    assert_eq!(c["size.MIDIHDR"], 112);
    assert_eq!(c["off.MIDIHDR.lpNext"], 28);
    println!("compared {n} winmm sizes/alignments/offsets/constants with mingw-w64");
}
