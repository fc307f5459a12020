//! End-to-end tests of the `mxfsim` binary: loopback runs (exit status and report fields),
//! fault injection, the corruption check, files, and `mxfsim parse` golden outputs written by
//! hand from the MIDI 1.0 specification.

mod common;

use common::{mxfsim, text, tmp};

/// The number after `key` on the report line starting with `line`.
fn field(report: &str, line: &str, key: &str) -> u64 {
    let l = report
        .lines()
        .find(|l| l.trim_start().starts_with(line))
        .unwrap_or_else(|| panic!("no line {line} in\n{report}"));
    let rest = &l[l.find(key).unwrap_or_else(|| panic!("no {key} in {l}")) + key.len()..];
    rest.trim_start()
        .split(|c: char| !c.is_ascii_digit())
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

#[test]
fn quick_run_passes_with_everything_matched() {
    let out = mxfsim(&["--quick", "--no-progress"], None);
    let r = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{r}\n{}", text(&out.stderr));
    assert!(r.contains("result               PASS"));
    assert!(r.contains("miniport mxf-miniport"));
    assert_eq!(field(&r, "comparison", "missing"), 0);
    assert_eq!(field(&r, "comparison", "unexpected"), 0);
    let sent = field(&r, "total", "total");
    assert!(sent > 3000, "{r}");
    assert_eq!(field(&r, "comparison", "matched"), sent);
    assert_eq!(field(&r, "sysex captured", "count"), 11);
    assert_eq!(field(&r, "sysex captured", "max"), 9002);
    assert!(r.contains("unload clean"));
    assert_eq!(field(&r, "port (at close)", "outstanding"), 0);
    assert!(field(&r, "loopback           in", "in") > 20_000);
    assert!(field(&r, "port render", "packages") > 0);
    assert!(r.contains("latency (emulated: capture event time - presentation time"));
    // The port's DPC runs 50 us after Notify: every message takes at least that.
    assert_eq!(field(&r, "n ", "min"), 50);
}

#[test]
fn fault_injection_drops_are_counted_and_the_run_passes() {
    let out = mxfsim(
        &[
            "--quick",
            "--faults",
            "3",
            "--verifier",
            "--seed",
            "9",
            "--no-progress",
        ],
        None,
    );
    let r = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{r}");
    let lost = field(&r, "comparison", "missing") + field(&r, "comparison", "partial sysex");
    assert!(lost > 0, "faults must have cost something:\n{r}");
    // Exact accounting (the run would have failed otherwise; the report shows it too).
    assert_eq!(
        field(&r, "accounting", "counted missing"),
        field(&r, "comparison", "missing")
    );
    // Truncated SysEx, stage by stage: what the render side sent cut arrived cut, and what
    // the capture side delivered cut (as it arrived, or cut for want of memory) is what was
    // captured truncated (the workload has no SysEx cut by the application itself).
    assert_eq!(
        field(&r, "accounting", "render sent"),
        field(&r, "accounting", "capture received")
    );
    assert_eq!(
        field(&r, "accounting", "delivered") + field(&r, "accounting", "(+"),
        field(&r, "comparison", "partial sysex")
    );
    assert_eq!(field(&r, "comparison", "unexpected"), 0);
    assert!(r.contains("unload clean"));
}

#[test]
fn a_corrupted_capture_is_detected() {
    let out = mxfsim(
        &["--quick", "--test-corrupt-capture", "--no-progress"],
        None,
    );
    let r = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{r}");
    assert!(r.contains("result               FAIL"));
    assert!(r.contains("were never sent (corruption)"));
    assert_eq!(field(&r, "comparison", "unexpected"), 1);
}

#[test]
fn the_test_double_miniport_runs_too() {
    let out = mxfsim(
        &["--quick", "--miniport", "double", "--packaging", "flat"],
        None,
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
}

/// The bound on every child the tests wait for bites: `mxfsim parse -` waiting for an stdin
/// that never ends is killed at the limit, and the wait fails the test.
#[test]
fn a_child_past_its_limit_is_killed_and_fails_the_test() {
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_mxfsim"))
        .args(["parse", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn mxfsim");
    let held_open = child.stdin.take();
    let id = child.id();
    let t = std::time::Instant::now();
    let limit = std::time::Duration::from_millis(300);
    let r = std::panic::catch_unwind(move || common::wait_bounded(child, limit, "parse"));
    let msg = *r
        .expect_err("the wait must fail")
        .downcast::<String>()
        .unwrap();
    assert!(msg.contains("still running after 300ms, killed"), "{msg}");
    assert!(t.elapsed() < std::time::Duration::from_secs(10));
    // Killed and reaped: the process is gone.
    assert!(!std::path::Path::new(&format!("/proc/{id}")).exists());
    drop(held_open);
}

#[test]
fn usage_errors_exit_2() {
    assert_eq!(mxfsim(&["--faults", "0"], None).status.code(), Some(2));
    assert_eq!(mxfsim(&["--bogus"], None).status.code(), Some(2));
    assert_eq!(mxfsim(&["--buffer-size", "8"], None).status.code(), Some(2));
    assert_eq!(
        mxfsim(&["--file", "/nonexistent/x.mid"], None)
            .status
            .code(),
        Some(2)
    );
}

#[test]
fn smf_and_syx_files_play_through() {
    // Format 0, 96 ticks a quarter: a note on, running-status note off, a SysEx, end.
    let track = [
        0x00, 0x90, 0x3C, 0x40, 0x60, 0x3C, 0x00, 0x00, 0xF0, 0x03, 0x7E, 0x01, 0xF7, 0x00, 0xFF,
        0x2F, 0x00,
    ];
    let mut smf = b"MThd\0\0\0\x06\0\0\0\x01\0\x60MTrk".to_vec();
    smf.extend_from_slice(&(track.len() as u32).to_be_bytes());
    smf.extend_from_slice(&track);
    let p = tmp("a.mid", &smf);
    let out = mxfsim(&["--file", p.to_str().unwrap()], None);
    let r = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{r}");
    assert_eq!(field(&r, "comparison", "matched"), 3);
    let mut syx = vec![0xF0];
    syx.extend((0..10_000u32).map(|i| (i % 100) as u8));
    syx.extend_from_slice(&[0xF7, 0xF0, 0x01, 0xF7]);
    let p2 = tmp("b.syx", &syx);
    let out = mxfsim(&["--file", p2.to_str().unwrap(), "--verifier"], None);
    let r = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{r}");
    assert_eq!(field(&r, "sysex captured", "count"), 2);
    assert_eq!(field(&r, "sysex captured", "max"), 10_002);
    let _ = std::fs::remove_file(p);
    let _ = std::fs::remove_file(p2);
}

fn parse(input: &[u8]) -> (String, String, i32) {
    let out = mxfsim(&["parse", "-"], Some(input));
    (
        text(&out.stdout),
        text(&out.stderr),
        out.status.code().unwrap_or(-1),
    )
}

#[test]
fn parse_expands_running_status() {
    let (out, err, rc) = parse(&[0x90, 0x3C, 0x40, 0x3E, 0x41, 0xF8, 0x80, 0x3C, 0x00]);
    assert_eq!(rc, 0);
    assert_eq!(out, "90 3c 40\n90 3e 41\nf8\n80 3c 00\n");
    assert_eq!(err, "");
}

#[test]
fn parse_lifts_realtime_out_of_sysex_and_messages() {
    // F8 inside a SysEx, FE between a status byte and its data bytes: each is printed where
    // it occurs, before the message it interrupted.
    let (out, _, rc) = parse(&[0xF0, 0x7E, 0xF8, 0x01, 0xF7, 0xB0, 0xFE, 0x07, 0x64]);
    assert_eq!(rc, 0);
    assert_eq!(out, "f8\nf0 7e 01 f7\nfe\nb0 07 64\n");
}

#[test]
fn parse_reports_cut_and_stray_bytes_on_stderr_only() {
    // 05: stray; F0 01 02 cut by C0; F2 song position; F6 tune request; F3 missing its data.
    let (out, err, rc) = parse(&[
        0x05, 0xF0, 0x01, 0x02, 0xC0, 0x05, 0xF2, 0x10, 0x20, 0xF6, 0xF3,
    ]);
    assert_eq!(rc, 0);
    assert_eq!(out, "c0 05\nf2 10 20\nf6\n");
    assert!(err.contains("incomplete sysex: f0 01 02"), "{err}");
    assert!(err.contains("1 stray byte"), "{err}");
}

#[test]
fn parse_system_common_cancels_running_status() {
    let (out, err, _) = parse(&[0x90, 0x3C, 0x40, 0xF6, 0x3E, 0x41]);
    assert_eq!(out, "90 3c 40\nf6\n");
    assert!(err.contains("2 stray byte"), "{err}");
}

#[test]
fn parse_long_sysex_across_bursts_and_buffers() {
    let mut input = vec![0xF0];
    input.extend((0..9000u32).map(|i| (i % 128) as u8));
    input.push(0xF7);
    input.extend_from_slice(&[0xC3, 0x10]);
    let (out, _, rc) = parse(&input);
    assert_eq!(rc, 0);
    let mut want: Vec<String> = vec!["f0".into()];
    want.extend((0..9000u32).map(|i| format!("{:02x}", i % 128)));
    want.push("f7".into());
    assert_eq!(out, format!("{}\nc3 10\n", want.join(" ")));
}

#[test]
fn parse_agrees_with_the_core_formatter_on_complete_streams() {
    let input: Vec<u8> = vec![
        0x90, 0x3C, 0x40, 0x3C, 0x00, 0xF8, 0xE0, 0x00, 0x40, 0xF0, 1, 2, 0xFA, 3, 0xF7, 0xC0,
        0x01, 0x02, 0xF1, 0x10, 0xD5, 0x7F,
    ];
    let mut want = String::new();
    mxf_core::midi::format::format_messages(&input, &mut want).unwrap();
    let (out, err, rc) = parse(&input);
    assert_eq!(rc, 0);
    assert_eq!(err, "");
    assert_eq!(out, want);
}
