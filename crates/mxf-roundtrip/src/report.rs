//! Plain-text summary of a run and the process exit code.

use crate::runner::RunReport;
use crate::stats::{DIN_BYTES_PER_SEC, LatencySummary, Throughput};
use std::fmt::Write;

/// Exit code: everything came back byte-exact.
pub const EXIT_PASS: i32 = 0;
/// Exit code: at least one mismatch (corrupted, missing, extra, reordered …).
pub const EXIT_MISMATCH: i32 = 1;
/// Exit code: bad command line, no such device, or WinMM not available on this OS.
pub const EXIT_USAGE: i32 = 2;
/// Exit code: the transport failed (a WinMM call returned an error).
pub const EXIT_TRANSPORT: i32 = 3;

/// The exit code for a finished run.
pub fn exit_code(r: &RunReport) -> i32 {
    if r.passed() { EXIT_PASS } else { EXIT_MISMATCH }
}

fn latency_row(out: &mut String, name: &str, l: Option<&LatencySummary>) {
    match l {
        Some(l) => {
            let _ = writeln!(
                out,
                "  {name:<6} {:>7} {:>9} {:>9} {:>9} {:>9} {:>9} {:>11.1}",
                l.count, l.min, l.p50, l.p90, l.p99, l.max, l.mean
            );
        }
        None => {
            let _ = writeln!(out, "  {name:<6} {:>7}   (no intact messages)", 0);
        }
    }
}

fn throughput_row(out: &mut String, name: &str, t: &Throughput) {
    match (t.bytes_per_sec(), t.din_ratio()) {
        (Some(bps), Some(ratio)) => {
            let _ = writeln!(
                out,
                "  {name:<6} {:>12} B in {:>10} µs = {:>14.0} B/s = {:>10.2} x DIN",
                t.bytes, t.elapsed_us, bps, ratio
            );
        }
        _ => {
            let _ = writeln!(out, "  {name:<6} {:>12} B (no elapsed time)", t.bytes);
        }
    }
}

/// Renders the summary.
pub fn render(r: &RunReport) -> String {
    let mut out = String::new();
    let s = &r.stats;
    let _ = writeln!(out, "mxf-roundtrip over {}", r.transport);
    let _ = writeln!(
        out,
        "seed {}, {} short messages, {} SysEx sizes, timeout {} ms",
        r.config.seed,
        r.config.short_count,
        r.config.sysex_sizes.len(),
        r.config.timeout.as_millis()
    );
    let _ = writeln!(out);
    let _ = writeln!(out, "SysEx payload (bytes)  result   latency µs");
    for x in &r.sysex {
        let lat = x
            .latency_us
            .map_or_else(|| "-".to_string(), |l| l.to_string());
        let _ = writeln!(
            out,
            "  {:>19}  {:<7} {:>11}",
            x.payload_len,
            if x.ok { "ok" } else { "FAIL" },
            lat
        );
    }
    let _ = writeln!(
        out,
        "short messages: {} sent, {} intact; SysEx: {} sent, {} intact",
        s.sent_short, s.ok_short, s.sent_sysex, s.ok_sysex
    );
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "latency µs  {:>7} {:>9} {:>9} {:>9} {:>9} {:>9} {:>11}",
        "count", "min", "p50", "p90", "p99", "max", "mean"
    );
    latency_row(&mut out, "short", r.short_latency.as_ref());
    latency_row(&mut out, "SysEx", r.sysex_latency.as_ref());
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "throughput (DIN MIDI = 31250 baud = {DIN_BYTES_PER_SEC:.0} B/s)"
    );
    throughput_row(&mut out, "short", &r.short_throughput);
    throughput_row(&mut out, "SysEx", &r.sysex_throughput);
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "errors: corrupted {}, wrong length {}, missing {}, extra {}, reordered {}, \
         MIM_LONGERROR {}, stray bytes {} (unsolicited real-time bytes: {})",
        s.corrupted,
        s.length_mismatch,
        s.missing,
        s.extra,
        s.reordered,
        s.long_errors,
        s.stray_bytes,
        s.unsolicited_realtime
    );
    if let Some(m) = &s.first_mismatch {
        let _ = writeln!(out, "first mismatch: {m}");
    }
    let _ = writeln!(out, "RESULT: {}", if r.passed() { "PASS" } else { "FAIL" });
    out
}
