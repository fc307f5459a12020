//! Every kind of good and bad registry value the settings decode.

use super::*;
use mxf_abi::{STATUS_INVALID_PARAMETER, STATUS_UNSUCCESSFUL};
use std::string::{String, ToString};
use std::vec::Vec;

#[test]
fn zero_and_one_select_the_modes() {
    assert_eq!(capture_mode_setting(Ok(0)), (CaptureMode::Whole, None));
    assert_eq!(capture_mode_setting(Ok(1)), (CaptureMode::Raw, None));
}

#[test]
fn bad_values_keep_the_default_and_say_why() {
    assert_eq!(
        capture_mode_setting(Ok(7)),
        (
            CaptureMode::Whole,
            Some(SettingProblem::OutOfRange {
                value: 7,
                min: 0,
                max: 1
            })
        )
    );
    let type_mismatch: NtStatus = STATUS_INVALID_PARAMETER;
    let (mode, why) = capture_mode_setting(Err(type_mismatch));
    assert_eq!(mode, CaptureMode::Whole);
    assert_eq!(why, Some(SettingProblem::Unreadable(type_mismatch)));
    assert!(
        why.unwrap().to_string().contains("using the default"),
        "the log line says what happens"
    );
}

#[test]
fn cable_count_takes_one_to_max_cables() {
    for n in 1..=MAX_CABLES {
        assert_eq!(cable_count_setting(Ok(n as u32)), (n, None));
    }
}

#[test]
fn a_bad_cable_count_keeps_one_cable_and_says_why() {
    for bad in [0, MAX_CABLES as u32 + 1, 1000, u32::MAX] {
        let (n, why) = cable_count_setting(Ok(bad));
        assert_eq!(n, 1, "{bad}");
        assert_eq!(
            why,
            Some(SettingProblem::OutOfRange {
                value: bad,
                min: 1,
                max: MAX_CABLES as u32
            })
        );
        assert!(
            why.unwrap()
                .to_string()
                .contains(&format!("{bad} is not in 1..=16"))
        );
    }
    assert_eq!(
        cable_count_setting(Err(STATUS_UNSUCCESSFUL)),
        (1, Some(SettingProblem::Unreadable(STATUS_UNSUCCESSFUL)))
    );
}

#[test]
fn the_feedback_default_rate_is_the_guards_default() {
    assert_eq!(
        feedback_setting(Ok(FEEDBACK_DEFAULT_PER_SECOND)),
        (FeedbackConfig::DEFAULT, None)
    );
    let (off, why) = feedback_setting(Ok(0));
    assert_eq!((off.max_messages_per_window, why), (0, None), "0 disables");
    let (cfg, why) = feedback_setting(Ok(5_000));
    assert_eq!((cfg.max_messages_per_window, why), (500, None));
}

#[test]
fn a_bad_feedback_rate_keeps_the_default_and_says_why() {
    let (cfg, why) = feedback_setting(Ok(10_000_001));
    assert_eq!(cfg, FeedbackConfig::DEFAULT);
    assert_eq!(
        why,
        Some(SettingProblem::OutOfRange {
            value: 10_000_001,
            min: 0,
            max: 10_000_000
        })
    );
    assert_eq!(
        feedback_setting(Err(STATUS_UNSUCCESSFUL)),
        (
            FeedbackConfig::DEFAULT,
            Some(SettingProblem::Unreadable(STATUS_UNSUCCESSFUL))
        )
    );
}

/// A REG_MULTI_SZ as the registry stores it: each entry, a NUL after each, a final NUL.
fn multi_sz(entries: &[&str]) -> Vec<u8> {
    let mut units: Vec<u16> = Vec::new();
    for e in entries {
        units.extend(e.encode_utf16());
        units.push(0);
    }
    units.push(0);
    units.iter().flat_map(|u| u.to_le_bytes()).collect()
}

fn names(c: &CableNames) -> Vec<String> {
    c.names().iter().map(|n| n.to_string()).collect()
}

fn problems(c: &CableNames) -> Vec<(usize, NameProblem)> {
    c.problems().collect()
}

#[test]
fn an_absent_value_gives_every_cable_its_default_name() {
    let c = cable_names_setting(Ok(None), 3);
    assert_eq!(names(&c), ["MxfLoop 1", "MxfLoop 2", "MxfLoop 3"]);
    assert!(problems(&c).is_empty() && c.value_problem().is_none());
    let c = cable_names_setting(Ok(None), MAX_CABLES);
    assert_eq!(names(&c)[15], "MxfLoop 16");
}

#[test]
fn entries_name_the_cables_in_order_and_missing_ones_keep_the_default() {
    let raw = multi_sz(&["Synth In", "Ableton → Reaper"]);
    let c = cable_names_setting(Ok(Some(&raw)), 4);
    assert_eq!(
        names(&c),
        ["Synth In", "Ableton → Reaper", "MxfLoop 3", "MxfLoop 4"]
    );
    assert!(problems(&c).is_empty());
    assert_eq!(c.ignored_entries(), 0);
    // What a REG_SZ-style value holds: the NUL-terminated name, as written to the interface.
    let first = &c.names()[0];
    assert_eq!(first.wide_z().last(), Some(&0));
    assert_eq!(first.wide_z().len(), first.units().len() + 1);
}

#[test]
fn entries_past_the_cable_count_are_ignored_and_counted() {
    let raw = multi_sz(&["A", "B", "C"]);
    let c = cable_names_setting(Ok(Some(&raw)), 1);
    assert_eq!(names(&c), ["A"]);
    assert_eq!(c.ignored_entries(), 2);
}

#[test]
fn an_unreadable_value_keeps_every_default_and_says_why() {
    let c = cable_names_setting(Err(STATUS_INVALID_PARAMETER), 2);
    assert_eq!(names(&c), ["MxfLoop 1", "MxfLoop 2"]);
    assert_eq!(
        c.value_problem(),
        Some(SettingProblem::Unreadable(STATUS_INVALID_PARAMETER))
    );
}

#[test]
fn an_empty_entry_keeps_that_cables_default() {
    let raw = multi_sz(&["A", "", "C", "   "]);
    let c = cable_names_setting(Ok(Some(&raw)), 4);
    assert_eq!(names(&c), ["A", "MxfLoop 2", "C", "MxfLoop 4"]);
    assert_eq!(
        problems(&c),
        [(1, NameProblem::Empty), (3, NameProblem::Empty)]
    );
}

#[test]
fn a_name_longer_than_the_limit_keeps_the_default() {
    let longest = "x".repeat(MAX_NAME_UNITS);
    let too_long = "y".repeat(MAX_NAME_UNITS + 1);
    let raw = multi_sz(&[&longest, &too_long, &"z".repeat(5000)]);
    let c = cable_names_setting(Ok(Some(&raw)), 3);
    assert_eq!(names(&c), [longest.as_str(), "MxfLoop 2", "MxfLoop 3"]);
    assert_eq!(
        problems(&c),
        [
            (1, NameProblem::TooLong(MAX_NAME_UNITS + 1)),
            (2, NameProblem::TooLong(5000))
        ]
    );
    // UTF-16 units count, not characters: 16 characters outside the BMP are 32 units.
    let wide = "🎹".repeat(16);
    let c = cable_names_setting(Ok(Some(&multi_sz(&[&wide]))), 1);
    assert_eq!(problems(&c), [(0, NameProblem::TooLong(32))]);
}

#[test]
fn control_characters_and_broken_utf16_keep_the_default() {
    let c = cable_names_setting(Ok(Some(&multi_sz(&["tab\there", "ok"]))), 2);
    assert_eq!(names(&c), ["MxfLoop 1", "ok"]);
    assert_eq!(problems(&c), [(0, NameProblem::Invalid)]);
    // A lone high surrogate.
    let raw: Vec<u8> = [0x41u16, 0xD800, 0, 0]
        .iter()
        .flat_map(|u| u.to_le_bytes())
        .collect();
    let c = cable_names_setting(Ok(Some(&raw)), 1);
    assert_eq!(problems(&c), [(0, NameProblem::Invalid)]);
}

#[test]
fn a_duplicate_name_keeps_the_later_cables_default() {
    let raw = multi_sz(&["Same", "Other", "Same"]);
    let c = cable_names_setting(Ok(Some(&raw)), 3);
    assert_eq!(names(&c), ["Same", "Other", "MxfLoop 3"]);
    assert_eq!(problems(&c), [(2, NameProblem::Duplicate(1))]);
    assert!(
        NameProblem::Duplicate(1).to_string().contains("cable 1"),
        "the log names the other cable"
    );
}

#[test]
fn another_cables_default_name_is_refused_so_names_stay_unique() {
    // Cable 1 asks for cable 2's default while cable 2 keeps it.
    let raw = multi_sz(&["MxfLoop 2"]);
    let c = cable_names_setting(Ok(Some(&raw)), 2);
    assert_eq!(names(&c), ["MxfLoop 1", "MxfLoop 2"]);
    assert_eq!(problems(&c), [(0, NameProblem::DefaultOfOther(2))]);
    // Its own default is fine, and so is the default of a cable not in use.
    let raw = multi_sz(&["MxfLoop 1", "MxfLoop 9"]);
    let c = cable_names_setting(Ok(Some(&raw)), 2);
    assert_eq!(names(&c), ["MxfLoop 1", "MxfLoop 9"]);
    assert!(problems(&c).is_empty());
}

#[test]
fn names_are_unique_for_any_value() {
    // Every pairing of custom and default names among a few candidates.
    let pool = ["A", "MxfLoop 1", "MxfLoop 2", "MxfLoop 3", "", "A"];
    for a in pool {
        for b in pool {
            for c in pool {
                let raw = multi_sz(&[a, b, c]);
                let got = names(&cable_names_setting(Ok(Some(&raw)), 3));
                let unique: std::collections::BTreeSet<_> = got.iter().collect();
                assert_eq!(unique.len(), 3, "{a:?} {b:?} {c:?} -> {got:?}");
            }
        }
    }
}

#[test]
fn malformed_lists_decode_what_they_hold() {
    // No final NUL at all, and an odd trailing byte.
    let mut raw: Vec<u8> = "Ab".encode_utf16().flat_map(|u| u.to_le_bytes()).collect();
    let c = cable_names_setting(Ok(Some(&raw)), 1);
    assert_eq!(names(&c), ["Ab"]);
    raw.push(0x41);
    let c = cable_names_setting(Ok(Some(&raw)), 1);
    assert_eq!(names(&c), ["Ab"]);
    // Empty data, a lone NUL, one odd byte.
    for raw in [&[][..], &[0, 0][..], &[0x41][..]] {
        let c = cable_names_setting(Ok(Some(raw)), 2);
        assert_eq!(names(&c), ["MxfLoop 1", "MxfLoop 2"], "{raw:?}");
        assert!(problems(&c).is_empty());
    }
    // Many trailing NULs are all terminators.
    let mut raw = multi_sz(&["X"]);
    raw.extend([0; 64]);
    let c = cable_names_setting(Ok(Some(&raw)), 2);
    assert_eq!(names(&c), ["X", "MxfLoop 2"]);
    assert!(problems(&c).is_empty());
}

#[test]
fn the_cable_count_is_clamped_to_what_can_be_installed() {
    assert_eq!(cable_names_setting(Ok(None), 0).names().len(), 1);
    assert_eq!(
        cable_names_setting(Ok(None), MAX_CABLES + 5).names().len(),
        MAX_CABLES
    );
}

#[test]
fn the_feedback_range_stated_is_the_guards() {
    // The range the log line names is the one the guard's decoding accepts.
    assert!(FeedbackConfig::from_registry(FEEDBACK_MAX_PER_SECOND).is_some());
    assert_eq!(
        FeedbackConfig::from_registry(FEEDBACK_MAX_PER_SECOND + 1),
        None
    );
}

#[test]
fn utf16_for_the_log_shows_a_broken_surrogate_as_the_replacement_character() {
    assert_eq!(Utf16(&[0x41, 0xD800, 0x42]).to_string(), "A\u{FFFD}B");
    assert_eq!(CableName::default_for(2).to_string(), "MxfLoop 3");
}
