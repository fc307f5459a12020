//! Cross-checks the structs and constants of mxf-winmm-sys against mingw-w64's
//! `<mmsystem.h>` for x86_64 Windows.
//!
//! A C probe (embedded below) is compiled with `x86_64-w64-mingw32-gcc -S` (nothing is linked
//! or run); it writes each size, alignment, offset and constant as a `.set mxfw.<key>, <n>`
//! assembler line, which this test reads back and compares with Rust's
//! `size_of`/`align_of`/`offset_of!` and the crate's constants. The key sets must match in
//! both directions. The Rust side is compiled for the x86_64 host; the crate uses only
//! fixed-width integers and pointers, whose sizes agree between LP64 and LLP64.
//!
//! Needs `apt-get install gcc-mingw-w64-x86-64 mingw-w64-x86-64-dev`; it fails (does not
//! skip) without them. `MXF_MINGW_GCC` overrides the compiler.

use core::mem::{align_of, offset_of, size_of};
use mxf_winmm_sys::*;
use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

const PROBE: &str = r#"
#include <windows.h>
#include <mmsystem.h>
#include <stddef.h>
/* x86-64 immediates are signed 32-bit: 0xFFFFFFFF needs two 16-bit halves. */
#define P(key, v) __asm__ volatile(".set mxfw." key ".hi, %c0\n\t.set mxfw." key ".lo, %c1" \
    :: "i"(((unsigned long long)(v)) >> 16), "i"(((unsigned long long)(v)) & 0xFFFF));
void probe(void) {
    P("MIDIHDR.size", sizeof(MIDIHDR)) P("MIDIHDR.align", __alignof__(MIDIHDR))
    P("MIDIHDR.lpData", offsetof(MIDIHDR, lpData))
    P("MIDIHDR.dwBufferLength", offsetof(MIDIHDR, dwBufferLength))
    P("MIDIHDR.dwBytesRecorded", offsetof(MIDIHDR, dwBytesRecorded))
    P("MIDIHDR.dwUser", offsetof(MIDIHDR, dwUser))
    P("MIDIHDR.dwFlags", offsetof(MIDIHDR, dwFlags))
    P("MIDIHDR.lpNext", offsetof(MIDIHDR, lpNext))
    P("MIDIHDR.reserved", offsetof(MIDIHDR, reserved))
    P("MIDIHDR.dwOffset", offsetof(MIDIHDR, dwOffset))
    P("MIDIHDR.dwReserved", offsetof(MIDIHDR, dwReserved))
    P("MIDIINCAPSW.size", sizeof(MIDIINCAPSW)) P("MIDIINCAPSW.align", __alignof__(MIDIINCAPSW))
    P("MIDIINCAPSW.vDriverVersion", offsetof(MIDIINCAPSW, vDriverVersion))
    P("MIDIINCAPSW.szPname", offsetof(MIDIINCAPSW, szPname))
    P("MIDIINCAPSW.dwSupport", offsetof(MIDIINCAPSW, dwSupport))
    P("MIDIOUTCAPSW.size", sizeof(MIDIOUTCAPSW)) P("MIDIOUTCAPSW.align", __alignof__(MIDIOUTCAPSW))
    P("MIDIOUTCAPSW.vDriverVersion", offsetof(MIDIOUTCAPSW, vDriverVersion))
    P("MIDIOUTCAPSW.szPname", offsetof(MIDIOUTCAPSW, szPname))
    P("MIDIOUTCAPSW.wTechnology", offsetof(MIDIOUTCAPSW, wTechnology))
    P("MIDIOUTCAPSW.wChannelMask", offsetof(MIDIOUTCAPSW, wChannelMask))
    P("MIDIOUTCAPSW.dwSupport", offsetof(MIDIOUTCAPSW, dwSupport))
    P("MAXPNAMELEN", MAXPNAMELEN)
    P("MMSYSERR_NOERROR", MMSYSERR_NOERROR) P("MMSYSERR_ERROR", MMSYSERR_ERROR)
    P("MMSYSERR_BADDEVICEID", MMSYSERR_BADDEVICEID) P("MMSYSERR_ALLOCATED", MMSYSERR_ALLOCATED)
    P("MMSYSERR_INVALHANDLE", MMSYSERR_INVALHANDLE) P("MMSYSERR_NODRIVER", MMSYSERR_NODRIVER)
    P("MMSYSERR_NOMEM", MMSYSERR_NOMEM) P("MMSYSERR_NOTSUPPORTED", MMSYSERR_NOTSUPPORTED)
    P("MMSYSERR_INVALFLAG", MMSYSERR_INVALFLAG) P("MMSYSERR_INVALPARAM", MMSYSERR_INVALPARAM)
    P("MIDIERR_UNPREPARED", MIDIERR_UNPREPARED) P("MIDIERR_STILLPLAYING", MIDIERR_STILLPLAYING)
    P("MIDIERR_NOMAP", MIDIERR_NOMAP) P("MIDIERR_NOTREADY", MIDIERR_NOTREADY)
    P("MIDIERR_NODEVICE", MIDIERR_NODEVICE) P("MIDIERR_INVALIDSETUP", MIDIERR_INVALIDSETUP)
    P("CALLBACK_NULL", CALLBACK_NULL) P("CALLBACK_WINDOW", CALLBACK_WINDOW)
    P("CALLBACK_THREAD", CALLBACK_THREAD) P("CALLBACK_FUNCTION", CALLBACK_FUNCTION)
    P("CALLBACK_EVENT", CALLBACK_EVENT) P("MIDI_IO_STATUS", MIDI_IO_STATUS)
    P("MHDR_DONE", MHDR_DONE) P("MHDR_PREPARED", MHDR_PREPARED)
    P("MHDR_INQUEUE", MHDR_INQUEUE) P("MHDR_ISSTRM", MHDR_ISSTRM)
    P("MIM_OPEN", MIM_OPEN) P("MIM_CLOSE", MIM_CLOSE) P("MIM_DATA", MIM_DATA)
    P("MIM_LONGDATA", MIM_LONGDATA) P("MIM_ERROR", MIM_ERROR)
    P("MIM_LONGERROR", MIM_LONGERROR) P("MIM_MOREDATA", MIM_MOREDATA)
    P("MOM_OPEN", MOM_OPEN) P("MOM_CLOSE", MOM_CLOSE) P("MOM_DONE", MOM_DONE)
    P("WAIT_OBJECT_0", WAIT_OBJECT_0) P("WAIT_TIMEOUT", WAIT_TIMEOUT)
    P("WAIT_FAILED", WAIT_FAILED) P("INFINITE", INFINITE)
}
"#;

fn c_values() -> BTreeMap<String, i64> {
    let gcc = std::env::var("MXF_MINGW_GCC").unwrap_or_else(|_| "x86_64-w64-mingw32-gcc".into());
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"));
    let pid = std::process::id();
    let src = dir.join(format!("winmm_probe.{pid}.c"));
    let out = dir.join(format!("winmm_probe.{pid}.s"));
    std::fs::write(&src, PROBE).expect("write probe");
    let output = Command::new(&gcc)
        .args(["-S", "-O0", "-o"])
        .arg(&out)
        .arg(&src)
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run `{gcc}` ({e}); install gcc-mingw-w64-x86-64 mingw-w64-x86-64-dev")
        });
    assert!(
        output.status.success(),
        "{gcc} failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let asm = std::fs::read_to_string(&out).expect("read assembly");
    let mut halves: BTreeMap<String, (Option<i64>, Option<i64>)> = BTreeMap::new();
    for rest in asm
        .lines()
        .filter_map(|l| l.trim().strip_prefix(".set mxfw."))
    {
        let (k, v) = rest.split_once(',').expect("`.set key, value`");
        let v = v.trim().parse::<i64>().expect("integer");
        let k = k.trim();
        if let Some(k) = k.strip_suffix(".hi") {
            halves.entry(k.to_string()).or_default().0 = Some(v);
        } else if let Some(k) = k.strip_suffix(".lo") {
            halves.entry(k.to_string()).or_default().1 = Some(v);
        } else {
            panic!("unexpected key {k}");
        }
    }
    halves
        .into_iter()
        .map(|(k, h)| match h {
            (Some(hi), Some(lo)) => (k, (hi << 16) | lo),
            _ => panic!("{k}: one half missing"),
        })
        .collect()
}

fn rust_values() -> BTreeMap<String, i64> {
    let mut m = BTreeMap::new();
    let mut put = |k: &str, v: i64| {
        m.insert(k.to_string(), v);
    };
    macro_rules! st {
        ($t:ident: $($f:ident),*) => {{
            put(concat!(stringify!($t), ".size"), size_of::<$t>() as i64);
            put(concat!(stringify!($t), ".align"), align_of::<$t>() as i64);
            $(put(concat!(stringify!($t), ".", stringify!($f)), offset_of!($t, $f) as i64);)*
        }};
    }
    macro_rules! c {
        ($($k:ident),*) => {{ $(put(stringify!($k), $k as i64);)* }};
    }
    st!(MIDIHDR: lpData, dwBufferLength, dwBytesRecorded, dwUser, dwFlags, lpNext, reserved,
        dwOffset, dwReserved);
    st!(MIDIINCAPSW: vDriverVersion, szPname, dwSupport);
    st!(MIDIOUTCAPSW: vDriverVersion, szPname, wTechnology, wChannelMask, dwSupport);
    c!(
        MAXPNAMELEN,
        MMSYSERR_NOERROR,
        MMSYSERR_ERROR,
        MMSYSERR_BADDEVICEID,
        MMSYSERR_ALLOCATED,
        MMSYSERR_INVALHANDLE,
        MMSYSERR_NODRIVER,
        MMSYSERR_NOMEM,
        MMSYSERR_NOTSUPPORTED,
        MMSYSERR_INVALFLAG,
        MMSYSERR_INVALPARAM,
        MIDIERR_UNPREPARED,
        MIDIERR_STILLPLAYING,
        MIDIERR_NOMAP,
        MIDIERR_NOTREADY,
        MIDIERR_NODEVICE,
        MIDIERR_INVALIDSETUP,
        CALLBACK_NULL,
        CALLBACK_WINDOW,
        CALLBACK_THREAD,
        CALLBACK_FUNCTION,
        CALLBACK_EVENT,
        MIDI_IO_STATUS,
        MHDR_DONE,
        MHDR_PREPARED,
        MHDR_INQUEUE,
        MHDR_ISSTRM,
        MIM_OPEN,
        MIM_CLOSE,
        MIM_DATA,
        MIM_LONGDATA,
        MIM_ERROR,
        MIM_LONGERROR,
        MIM_MOREDATA,
        MOM_OPEN,
        MOM_CLOSE,
        MOM_DONE,
        WAIT_OBJECT_0,
        WAIT_TIMEOUT,
        WAIT_FAILED,
        INFINITE
    );
    m
}

#[test]
fn layouts_and_constants_match_mingw_mmsystem_h() {
    let c = c_values();
    let r = rust_values();
    assert!(c.len() > 50, "probe produced too few values: {c:?}");
    let mut diffs = Vec::new();
    for (k, v) in &r {
        match c.get(k) {
            Some(cv) if cv == v => {}
            other => diffs.push(format!("{k}: rust {v}, C {other:?}")),
        }
    }
    for k in c.keys().filter(|k| !r.contains_key(*k)) {
        diffs.push(format!("{k}: only on the C side"));
    }
    assert!(diffs.is_empty(), "{}", diffs.join("\n"));
    // The point of the exercise: MIDIHDR is byte-packed (pshpack1), not naturally aligned.
    assert_eq!(c["MIDIHDR.size"], 112);
    assert_eq!(c["MIDIHDR.lpNext"], 28);
}
