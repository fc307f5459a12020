//! The verdict's rules, each proven to bite: a fault is planted in a run of the `mxfsim`
//! binary (the undocumented `--test-plant` hook, a file the port cannot take, or a bound the
//! run cannot meet), and the run must exit 1 naming the rule. Each run is its own process:
//! the parser bug is a process-wide switch of the core's parser.

use mxfsim::report::RULES;
mod common;

use std::process::Output;
use std::time::Duration;

/// Runs `mxfsim` with `args`, killed (and the test failed) if it takes longer than a minute.
fn mxfsim(args: &[&str]) -> Output {
    common::mxfsim_within(args, None, Duration::from_secs(60))
}

/// The report of a run that must fail with `rule` among the broken rules.
fn fails_with(args: &[&str], rule: &str) -> String {
    let out = mxfsim(args);
    let r = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(out.status.code(), Some(1), "{args:?}\n{r}");
    let result = r
        .lines()
        .find(|l| l.starts_with("result"))
        .unwrap_or_else(|| panic!("no result line in\n{r}"));
    assert!(
        result.contains("FAIL (") && result.contains(rule),
        "{rule} not named in {result:?}\n{r}"
    );
    assert!(r.contains(&format!("  [{rule}] ")), "{r}");
    r
}

#[test]
fn every_rule_is_listed_in_help() {
    let out = mxfsim(&["--help"]);
    let help = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0));
    for rule in RULES {
        assert!(
            help.lines().any(|l| l.trim_start().starts_with(rule.name)),
            "rule {} not in --help:\n{help}",
            rule.name
        );
    }
}

#[test]
fn a_wrong_capture_channel_group_fails_sink_malformed() {
    let r = fails_with(
        &["--quick", "--no-progress", "--test-plant", "channel-group"],
        "sink-malformed",
    );
    assert!(r.contains("malformed event(s)"), "{r}");
}

#[test]
fn messages_captured_before_their_time_fail_latency_early() {
    let r = fails_with(
        &["--quick", "--no-progress", "--test-plant", "play-early"],
        "latency-early",
    );
    assert!(r.contains("before their presentation time"), "{r}");
}

#[test]
fn messages_later_than_the_bound_fail_latency_bound() {
    // The port's DPC alone takes 50 us.
    fails_with(
        &["--quick", "--no-progress", "--max-latency-us", "20"],
        "latency-bound",
    );
    let out = mxfsim(&["--quick", "--no-progress", "--max-latency-us", "50"]);
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn fragments_not_flagged_incomplete_fail_flag_pattern() {
    fails_with(
        &[
            "--quick",
            "--no-progress",
            "--test-plant",
            "drop-incomplete",
        ],
        "flag-pattern",
    );
}

#[test]
fn a_parser_bug_does_not_cancel_itself_out() {
    // The bug is in the core's parser, which both the capture packager and the port's sink
    // use; the expected side is mxfsim's own reference parser, so it shows.
    let r = fails_with(
        &["--quick", "--no-progress", "--test-plant", "parser-bug"],
        "corruption",
    );
    assert!(r.contains("never sent"), "{r}");
}

#[test]
fn a_sysex_dropped_by_the_port_allocator_cap_fails_no_drops_without_faults() {
    let mut syx = vec![0xF0];
    syx.extend((0..16u32 << 20).map(|i| (i % 128) as u8));
    syx.push(0xF7);
    let p = std::env::temp_dir().join(format!("mxfsim-verdict-{}-16m.syx", std::process::id()));
    std::fs::write(&p, &syx).expect("write the 16 MiB SysEx");
    let r = fails_with(
        &[
            "--no-progress",
            "--file",
            p.to_str().expect("utf-8 temp path"),
        ],
        "no-drops",
    );
    let _ = std::fs::remove_file(&p);
    assert!(r.contains("for want of allocator memory"), "{r}");
}

#[test]
fn a_write_to_the_ports_reserved_field_fails_allocator_rules() {
    let r = fails_with(
        &["--quick", "--no-progress", "--test-plant", "reserved-write"],
        "allocator-rules",
    );
    assert!(r.contains("bReserved/cbStruct written"), "{r}");
}

#[test]
fn put_buffer_from_the_miniport_fails_allocator_rules() {
    let r = fails_with(
        &["--quick", "--no-progress", "--test-plant", "put-buffer"],
        "allocator-rules",
    );
    assert!(r.contains("PutBuffer"), "{r}");
}

#[test]
fn both_capture_modes_pass_and_raw_flags_every_event_incomplete() {
    for (mode, all_incomplete) in [("whole", false), ("raw", true)] {
        let out = mxfsim(&["--quick", "--no-progress", "--capture-mode", mode]);
        let r = String::from_utf8_lossy(&out.stdout).into_owned();
        assert_eq!(out.status.code(), Some(0), "{mode}\n{r}");
        assert!(
            r.contains(&format!(
                "capture mode {}",
                if all_incomplete { "Raw" } else { "Whole" }
            )),
            "{r}"
        );
        let sink = r
            .lines()
            .find(|l| l.trim_start().starts_with("port capture sink"))
            .unwrap_or_else(|| panic!("no sink line in\n{r}"));
        // "... events N (buffers B, incomplete I) ..."
        let num_after = |key: &str| -> u64 {
            let i = sink.find(key).unwrap_or_else(|| panic!("{key} in {sink}")) + key.len();
            sink[i..]
                .trim_start()
                .split(|c: char| !c.is_ascii_digit())
                .next()
                .and_then(|n| n.parse().ok())
                .unwrap_or_else(|| panic!("number after {key} in {sink}"))
        };
        let (events, incomplete) = (num_after("events"), num_after("incomplete"));
        assert!(events > 0, "{sink}");
        assert_eq!(incomplete == events, all_incomplete, "{mode}: {sink}");
    }
}
