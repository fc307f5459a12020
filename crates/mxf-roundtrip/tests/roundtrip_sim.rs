//! End-to-end runs of the round-trip loop over the simulated WinMM loopback, clean and with
//! injected faults, plus the binary's exit codes.

use mxf_roundtrip::checker::MismatchKind;
use mxf_roundtrip::patterns::DEFAULT_SYSEX_SIZES;
use mxf_roundtrip::report::{EXIT_MISMATCH, EXIT_PASS, exit_code, render};
use mxf_roundtrip::runner::{RunConfig, RunReport, run};
use mxf_roundtrip::sim::{Fault, SimConfig, SimLoopback};
use std::time::Duration;

fn cfg(sizes: &[usize], shorts: usize) -> RunConfig {
    RunConfig {
        sysex_sizes: sizes.to_vec(),
        short_count: shorts,
        seed: 0x5EED,
        timeout: Duration::from_millis(100),
        drain: Duration::from_millis(10),
    }
}

fn run_sim(sim: SimConfig, c: &RunConfig) -> RunReport {
    let mut t = SimLoopback::new(sim);
    run(&mut t, c).expect("the simulated transport never fails")
}

#[test]
fn all_default_sizes_and_shorts_pass_with_small_input_buffers() {
    let c = cfg(&DEFAULT_SYSEX_SIZES, 200);
    let r = run_sim(
        SimConfig {
            in_buffer_size: 4096,
            ..SimConfig::default()
        },
        &c,
    );
    assert!(r.passed(), "{}", render(&r));
    assert_eq!(exit_code(&r), EXIT_PASS);
    assert_eq!(r.stats.ok_sysex, DEFAULT_SYSEX_SIZES.len() as u64);
    assert_eq!(r.stats.ok_short, 200);
    assert!(r.sysex.iter().all(|s| s.ok && s.latency_us.is_some()));
    let payload: u64 = DEFAULT_SYSEX_SIZES.iter().map(|&s| s as u64 + 2).sum();
    assert_eq!(r.sysex_throughput.bytes, payload);
    // Virtual time: 10 ns/byte, so throughput is near (not above) 100 MB/s.
    let bps = r.sysex_throughput.bytes_per_sec().unwrap();
    assert!(bps > 50e6 && bps <= 100e6, "{bps}");
    let l = r.short_latency.unwrap();
    assert_eq!(l.count, 200);
    assert!(l.p50 >= 50 && l.max < 100, "{l:?}");
    // The 1 MiB SysEx is the slowest: ~10.5 ms of virtual send time.
    let s = r.sysex_latency.unwrap();
    assert!(s.max > 10_000 && s.max < 11_000, "{s:?}");
    let text = render(&r);
    assert!(text.contains("RESULT: PASS"));
    assert!(text.contains("1048576  ok"));
    assert!(text.contains("x DIN"));
}

#[test]
fn active_sensing_interleaved_into_sysex_is_tolerated() {
    let c = cfg(&[0, 1, 5000, 70_000], 20);
    let r = run_sim(
        SimConfig {
            in_buffer_size: 1000,
            active_sensing_every: 777,
            ..SimConfig::default()
        },
        &c,
    );
    assert!(r.passed(), "{}", render(&r));
    assert!(r.stats.unsolicited_realtime > 90);
}

/// Runs with one fault against `shorts` short messages then `sizes`.
fn with_fault(f: Fault, sizes: &[usize], shorts: usize) -> RunReport {
    let r = run_sim(
        SimConfig {
            in_buffer_size: 512,
            faults: vec![f],
            ..SimConfig::default()
        },
        &cfg(sizes, shorts),
    );
    assert!(!r.passed(), "fault {f:?} went unnoticed:\n{}", render(&r));
    assert_eq!(exit_code(&r), EXIT_MISMATCH);
    assert!(render(&r).contains("RESULT: FAIL"));
    r
}

#[test]
fn flipped_byte_in_big_sysex_is_caught_at_its_offset() {
    // Send index 3 = the 4096-byte SysEx (no shorts).
    let r = with_fault(
        Fault::FlipBit {
            message: 3,
            offset: 3001,
        },
        &[0, 1, 100, 4096, 7],
        0,
    );
    assert_eq!(r.stats.corrupted, 1);
    assert_eq!(r.stats.failures(), 1);
    assert_eq!(r.stats.ok_sysex, 4);
    let m = r.stats.first_mismatch.clone().unwrap();
    assert_eq!(
        (m.kind, m.id, m.offset),
        (MismatchKind::Corrupted, Some(3), Some(3001))
    );
    assert!(!r.sysex[3].ok && r.sysex[4].ok);
}

#[test]
fn flipped_data_byte_in_short_message_is_caught() {
    let r = with_fault(
        Fault::FlipBit {
            message: 5,
            offset: 1,
        },
        &[],
        10,
    );
    assert_eq!((r.stats.corrupted, r.stats.ok_short), (1, 9));
    assert_eq!(r.stats.first_mismatch.unwrap().offset, Some(1));
}

#[test]
fn missing_byte_is_caught() {
    let r = with_fault(
        Fault::DropByte {
            message: 1,
            offset: 600,
        },
        &[10, 2048, 10],
        0,
    );
    assert_eq!(r.stats.length_mismatch, 1);
    let m = r.stats.first_mismatch.unwrap();
    assert_eq!(m.kind, MismatchKind::LengthMismatch);
    assert_eq!((m.expected_len, m.got_len), (Some(2050), Some(2049)));
    assert!(m.offset.unwrap() >= 600);
}

#[test]
fn lost_messages_are_missing() {
    let r = with_fault(Fault::DropMessage { message: 2 }, &[0, 9, 128], 0);
    assert_eq!((r.stats.missing, r.stats.ok_sysex), (1, 2));
    let r = with_fault(Fault::DropMessage { message: 4 }, &[], 8);
    assert_eq!((r.stats.missing, r.stats.ok_short), (1, 7));
}

#[test]
fn reordered_messages_are_caught() {
    // Short #3 is held back behind #4: the run loop waits for #3, gives up, sends #4, and
    // both arrive, #3 last.
    let r = with_fault(Fault::SwapWithNext { message: 3 }, &[], 6);
    assert_eq!(
        (r.stats.reordered, r.stats.ok_short, r.stats.failures()),
        (1, 5, 1)
    );
    assert_eq!(r.stats.first_mismatch.unwrap().id, Some(3));
    // The same for a SysEx (send index 1), across several input buffers.
    let r = with_fault(Fault::SwapWithNext { message: 1 }, &[3, 2000, 4], 0);
    assert_eq!(
        (r.stats.reordered, r.stats.ok_sysex, r.stats.failures()),
        (1, 2, 1)
    );
    assert!(!r.sysex[1].ok && r.sysex[2].ok);
}

#[test]
fn truncated_sysex_is_caught() {
    let r = with_fault(
        Fault::Truncate {
            message: 1,
            keep: 300,
        },
        &[5, 1000, 5],
        0,
    );
    assert!(
        r.stats.length_mismatch + r.stats.missing >= 1,
        "{:?}",
        r.stats
    );
    assert!(!r.sysex[1].ok);
    // The last SysEx still comes back intact after the truncated one.
    assert!(r.sysex[2].ok, "{}", render(&r));
}

#[test]
fn binary_exit_codes() {
    let exe = env!("CARGO_BIN_EXE_mxf-roundtrip");
    let ok = std::process::Command::new(exe)
        .args(["--simulate", "--sizes", "0,1,1000,70000", "--short", "30"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&ok.stdout);
    assert_eq!(ok.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("SIMULATED") && stdout.contains("RESULT: PASS"));

    let bad = std::process::Command::new(exe)
        .args([
            "--simulate",
            "--sizes",
            "0,2000",
            "--short",
            "3",
            "--sim-fault",
            "flip",
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&bad.stdout);
    assert_eq!(bad.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("first mismatch: Corrupted message #4 at byte 500"),
        "{stdout}"
    );

    let usage = std::process::Command::new(exe)
        .arg("--nope")
        .output()
        .unwrap();
    assert_eq!(usage.status.code(), Some(2));

    if !cfg!(windows) {
        let no_winmm = std::process::Command::new(exe).output().unwrap();
        assert_eq!(no_winmm.status.code(), Some(2));
        assert!(String::from_utf8_lossy(&no_winmm.stderr).contains("Windows-only"));
    }
}
