//! `mxfsim --file` on hostile files (issue 11): a run never hangs, never loses a byte
//! silently, and an input it cannot play is an input error (exit 2) saying why. The files
//! are fixtures in `tests/fixtures/hostile/`, the exact bytes the issue reported.

mod common;

use common::{mxfsim_within, text, tmp};
use std::process::Output;
use std::time::{Duration, Instant};

fn fixture(name: &str) -> String {
    format!(
        "{}/tests/fixtures/hostile/{name}",
        env!("CARGO_MANIFEST_DIR")
    )
}

/// A `--quick --file` run of `path`, which must end within `limit`.
fn play(path: &str, limit: Duration) -> Output {
    mxfsim_within(&["--quick", "--no-progress", "--file", path], None, limit)
}

/// The report line starting with `prefix`.
fn line<'a>(report: &'a str, prefix: &str) -> &'a str {
    report
        .lines()
        .find(|l| l.trim_start().starts_with(prefix))
        .unwrap_or_else(|| panic!("no line {prefix} in\n{report}"))
}

/// Division 1, tempo 0xFFFFFF µs, one delta of 0x0FFFFFFF ticks: a note 142 years in. The
/// emulated clock jumps from one due timer to the next, so the run takes as long as one
/// whose note is a millisecond in (it ran for ever when time moved at most 1 s a step).
#[test]
fn a_note_142_years_in_plays_in_seconds() {
    let t = Instant::now();
    let out = play(&fixture("hang-142-years.mid"), Duration::from_secs(60));
    let r = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{r}\n{}", text(&out.stderr));
    assert!(r.contains("result               PASS"), "{r}");
    assert!(
        r.contains("comparison           matched 1, missing 0"),
        "{r}"
    );
    // 0x0FFFFFFF ticks of 16.777215 s, and the run's tail.
    let played = line(&r, "played");
    assert!(played.contains(" 4503599342."), "{played}");
    assert!(t.elapsed() < Duration::from_secs(30), "{:?}", t.elapsed());
}

/// 300 deltas of 0x0FFFFFFF ticks at that tempo: the times pass the longest span mxfsim
/// plays at the 23rd note (and the emulated clock's range at the 205th). Rejected up front, naming
/// the event, instead of a run whose times wrapped around and lost all 300 notes uncounted.
#[test]
fn times_past_the_limit_are_an_input_error() {
    let out = play(&fixture("times-overflow.mid"), Duration::from_secs(60));
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{}\n{err}", text(&out.stdout));
    assert!(
        err.contains("track 0: the event at tick 6174015465 is")
            && err.contains("beyond the latest time mxfsim plays (100000000000 s"),
        "{err}"
    );
    assert!(out.stdout.is_empty());
}

/// Both sides of the limit: a note exactly 10^11 s in plays (and passes); one tick (1 s)
/// later is an input error.
#[test]
fn the_time_limit_holds_on_both_sides() {
    let out = play(&fixture("at-time-limit.mid"), Duration::from_secs(60));
    let r = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{r}\n{}", text(&out.stderr));
    assert!(r.contains("result               PASS"), "{r}");
    assert!(
        r.contains("comparison           matched 2, missing 0"),
        "{r}"
    );
    let out = play(&fixture("past-time-limit.mid"), Duration::from_secs(60));
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("tick 100000000001"), "{err}");
}

/// The 1-byte file `F0`, and other streams ending inside a SysEx: the SysEx is cut by the
/// end of the input, counted as such, and the run passes by the accounting rule every cut
/// SysEx passes by (it failed: "1 message(s) missing, but the drop counters account for 0").
#[test]
fn a_sysex_cut_by_the_end_of_the_input_is_counted() {
    let out = play(&fixture("sysex-never-ends.syx"), Duration::from_secs(60));
    let r = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{r}");
    assert!(r.contains("result               PASS"), "{r}");
    // The F0 alone never goes out (it goes with the first piece): the render stream gives
    // it up at its stop, and that count is what accounts for the message missing.
    assert!(r.contains("missing 1, partial sysex 0"), "{r}");
    assert!(r.contains("counted missing 1 (render 1,"), "{r}");
    assert!(
        r.contains("sysex cut at end of input 1 (1 an F0 alone"),
        "{}",
        line(&r, "accounting")
    );
    // With data (and realtime, and a message before it): delivered cut, counted as an
    // application's cut SysEx.
    for (name, bytes, f0_alone, captured) in [
        ("a.syx", &[0xF0, 0x01, 0x02][..], 0, 1),
        ("b.syx", &[0x90, 0x3C, 0x40, 0xF0, 0x01, 0xF8, 0x02], 0, 3),
        ("c.syx", &[0xF0, 0x01, 0xF7, 0xF0, 0xF8], 1, 2),
        ("d.syx", &[0xF0, 0x01, 0x02, 0xF0], 1, 1),
    ] {
        let p = tmp(name, bytes);
        let out = play(p.to_str().unwrap(), Duration::from_secs(60));
        let r = text(&out.stdout);
        assert_eq!(out.status.code(), Some(0), "{bytes:02x?}\n{r}");
        assert!(
            r.contains(&format!(
                "sysex cut at end of input 1 ({f0_alone} an F0 alone"
            )),
            "{bytes:02x?}: {}",
            line(&r, "accounting")
        );
        assert!(
            line(&r, "total").split_whitespace().nth(3) == Some(&captured.to_string()),
            "{bytes:02x?}: {}",
            line(&r, "total")
        );
        let _ = std::fs::remove_file(p);
    }
}

/// Inputs with nothing to play, or of a kind not read, are input errors saying so.
#[test]
fn files_with_nothing_to_play_are_input_errors() {
    let only_meta = b"MThd\0\0\0\x06\0\0\0\x01\0\x60MTrk\0\0\0\x04\0\xFF\x2F\0";
    let riff = b"RIFF\x10\0\0\0RMIDdata\0\0\0\0";
    for (name, bytes, why) in [
        ("empty.syx", &b""[..], "empty file"),
        ("meta.mid", &only_meta[..], "no MIDI or SysEx event"),
        ("riff.rmi", &riff[..], "RIFF MIDI (RMID)"),
    ] {
        let p = tmp(name, bytes);
        let out = play(p.to_str().unwrap(), Duration::from_secs(60));
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{name}: {err}");
        assert!(err.contains(why), "{name}: {err}");
        let _ = std::fs::remove_file(p);
    }
}
