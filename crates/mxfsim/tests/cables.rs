//! `mxfsim --cables/--renderers/--readers/--feedback`: several cables and several clients per
//! cable, each reader byte-exact, the echo loop muted with every message counted.

mod common;

use common::{mxfsim, text};
use mxfsim::cables::{CableOptions, run};
use mxfsim::sim::SimOptions;
use mxfsim::workload::{WorkloadSpec, build};

fn opts(cables: u32, renderers: u32, readers: u32, feedback: bool) -> SimOptions {
    SimOptions {
        cables: CableOptions {
            cables,
            renderers,
            readers,
            feedback,
            feedback_limit: None,
        },
        ..SimOptions::new()
    }
}

#[test]
fn two_cables_each_carry_the_whole_workload_under_their_own_names() {
    let out = mxfsim(&["--quick", "--no-progress", "--cables", "2"], None);
    let r = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{r}\n{}", text(&out.stderr));
    assert!(r.starts_with("mxfsim report (cables)"), "{r}");
    assert!(
        r.contains("cable \"MxfLoop 1\"") && r.contains("cable \"MxfLoop 2\""),
        "{r}"
    );
    assert!(!r.contains("MxfLoop 3"), "{r}");
    assert!(r.contains("result               PASS"), "{r}");
}

#[test]
fn two_cables_are_independent_and_byte_exact() {
    let units = build(&WorkloadSpec::quick(3));
    let rep = run(&units, "quick", &opts(2, 1, 1, false));
    assert!(rep.passed(), "{rep}");
    assert_eq!(rep.cables.len(), 2);
    let want = mxfsim::reference::normalize(units.iter().map(|u| (u.offset, &u.bytes[..])));
    for c in &rep.cables {
        assert_eq!(c.readers.len(), 1);
        let got: Vec<&[u8]> = c.readers[0].captured.iter().map(|m| &m.bytes[..]).collect();
        let exp: Vec<&[u8]> = want.iter().map(|m| &m.bytes[..]).collect();
        assert_eq!(got, exp, "{}", c.name);
        assert_eq!(c.written(), want.len() as u64);
    }
}

#[test]
fn the_defaults_keep_the_classic_report() {
    let out = mxfsim(
        &[
            "--quick",
            "--no-progress",
            "--cables",
            "1",
            "--readers",
            "1",
        ],
        None,
    );
    let r = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{r}");
    assert!(r.starts_with("mxfsim report\n"), "{r}");
}

#[test]
fn bad_client_counts_are_usage_errors() {
    for args in [
        &["--cables", "0"][..],
        &["--cables", "17"],
        &["--readers", "x"],
        &["--renderers", "0"],
        &["--readers", "65"],
        &["--cables", "2", "--faults", "3"],
        &["--feedback", "--miniport", "double"],
        &["--feedback-limit", "10000001"],
        &["--feedback-limit", "-1"],
    ] {
        let out = mxfsim(args, None);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{args:?}: {}",
            text(&out.stdout)
        );
        assert!(text(&out.stderr).contains("mxfsim:"), "{args:?}");
    }
}

/// More clients than the pins' descriptors allow: the port refuses the instance beyond the
/// count (as KS does) and the run fails, naming it.
#[test]
fn clients_beyond_the_pin_instance_count_fail_the_run() {
    let out = mxfsim(&["--quick", "--no-progress", "--readers", "64"], None);
    let r = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{r}");
    assert!(r.contains("KS pin create failed"), "{r}");
}

#[test]
fn every_reader_of_a_multi_reader_run_is_byte_exact() {
    let units = build(&WorkloadSpec::quick(5));
    let rep = run(&units, "quick", &opts(1, 1, 3, false));
    assert!(rep.passed(), "{rep}");
    let want = mxfsim::reference::normalize(units.iter().map(|u| (u.offset, &u.bytes[..])));
    let c = &rep.cables[0];
    assert_eq!(c.readers.len(), 3);
    for r in &c.readers {
        assert_eq!(r.captured.len(), want.len(), "{}", r.name);
        for (g, w) in r.captured.iter().zip(&want) {
            assert_eq!(
                (&g.bytes, g.truncated),
                (&w.bytes, w.truncated),
                "{}",
                r.name
            );
        }
        assert_eq!(r.dropped(), 0);
    }
}

#[test]
fn two_renderers_and_two_readers_merge_every_sysex_whole() {
    let units = build(&WorkloadSpec::quick(6));
    let rep = run(&units, "quick", &opts(2, 2, 2, false));
    assert!(rep.passed(), "{rep}");
    let want = mxfsim::reference::normalize(units.iter().map(|u| (u.offset, &u.bytes[..])));
    let sysex_sent = want.iter().filter(|m| m.bytes[0] == 0xF0).count();
    for c in &rep.cables {
        assert_eq!(c.written(), 2 * want.len() as u64, "{}", c.name);
        for r in &c.readers {
            let sysex: Vec<&[u8]> = r
                .captured
                .iter()
                .filter(|m| m.bytes[0] == 0xF0)
                .map(|m| &m.bytes[..])
                .collect();
            assert_eq!(sysex.len(), 2 * sysex_sent, "{} {}", c.name, r.name);
            assert!(
                sysex.iter().all(|s| s.last() == Some(&0xF7)
                    && s[1..s.len() - 1].iter().all(|&b| b < 0x80)),
                "every SysEx whole"
            );
        }
    }
}

#[test]
fn a_feedback_run_ends_muted_with_every_message_counted() {
    let units = build(&WorkloadSpec::quick(7));
    let rep = run(&units, "quick", &opts(2, 1, 1, true));
    assert!(rep.passed(), "{rep}");
    let text = rep.to_string();
    for c in &rep.cables {
        let cs = c.cable.expect("cable stats");
        assert!(cs.feedback.trips >= 1, "{text}");
        assert!(cs.muted, "the run ends with the cable muted:\n{text}");
        assert!(c.muted() > 0, "{text}");
        assert_eq!(c.muted(), cs.feedback.messages_muted, "{text}");
        assert!(!c.echo_gave_up && c.echoed > 0, "{text}");
        for r in &c.renderers {
            let s = r.stream.expect("render stats");
            assert_eq!(
                r.expected_messages,
                r.written() + r.dropped() + u64::from(s.sysex_open),
                "{} {}",
                c.name,
                r.name
            );
        }
        for r in &c.readers {
            assert_eq!(
                r.whole() + r.dropped(),
                c.written(),
                "{} {}",
                c.name,
                r.name
            );
        }
    }
    assert!(text.contains("muted"), "{text}");
}

#[test]
fn the_cli_feedback_run_passes_and_shows_the_guard() {
    let out = mxfsim(
        &["--quick", "--no-progress", "--feedback", "--readers", "2"],
        None,
    );
    let r = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{r}\n{}", text(&out.stderr));
    assert!(
        r.contains("echo reader") && r.contains("echo renderer"),
        "{r}"
    );
    assert!(r.contains("feedback guard"), "{r}");
}

/// Three renderers sending 200 KB SysEx at the same times, with notes between, through
/// loopbacks smaller than one SysEx: a SysEx holds the cable while it waits for the readers,
/// the others wait their turn (counted merge waits), and both readers get every message whole.
#[test]
fn renderers_whose_sysex_meet_in_a_full_cable_are_merged_message_by_message() {
    let mut units = Vec::new();
    for i in 0..6i64 {
        let mut sysex = vec![0xF0, 0x7D, i as u8];
        sysex.extend((0..200_000u32).map(|b| (b % 128) as u8));
        sysex.push(0xF7);
        units.push(mxfsim::workload::Unit {
            offset: i * 200_000,
            bytes: sysex,
        });
        units.push(mxfsim::workload::Unit {
            offset: i * 200_000 + 1_000,
            bytes: vec![0x90, i as u8, 0x40],
        });
    }
    let mut o = opts(1, 3, 2, false);
    o.loopback_capacity = Some(mxf_core::loopback::MAX_WRITE as u32);
    let rep = run(&units, "sysex meeting", &o);
    assert!(rep.passed(), "{rep}");
    let c = &rep.cables[0];
    let cs = c.cable.expect("cable stats");
    assert!(cs.merge_waits > 0, "the SysEx met: {cs:?}");
    assert_eq!(cs.sysex_held, 3 * 6);
    for r in &c.readers {
        assert_eq!(r.whole(), 3 * 12, "{}", r.name);
        let long = r
            .captured
            .iter()
            .filter(|m| m.bytes.len() > 200_000)
            .count();
        assert_eq!(long, 3 * 6, "{}: every SysEx whole", r.name);
    }
}
