//! Comparisons of a capture run against the reference model.

use super::reference::{Item, concat};
use super::{Observed, Run};
use mxf_core::capture::CaptureStats;
use std::collections::BTreeMap;

/// The SysEx fragment size the packager uses for a `GetBufferSize` value.
pub fn cap_of(size: u16) -> usize {
    usize::from(size).max(8)
}

/// Without failures the events are exactly the reference's.
pub fn check_exact(expected: &[Item], run: &Run) {
    let got: Vec<(&[u8], bool)> = run
        .events
        .iter()
        .map(|o| (&o.bytes[..], o.incomplete))
        .collect();
    let want: Vec<(&[u8], bool)> = expected
        .iter()
        .map(|i| (&i.bytes[..], i.incomplete))
        .collect();
    assert_eq!(got, want);
    assert_eq!(run.wire, concat(expected));
    let s = &run.stats;
    assert_eq!(s.dropped_no_memory(), 0);
    assert_eq!(s.bytes_dropped_no_memory, 0);
    let sysex_ids: std::collections::BTreeSet<usize> =
        expected.iter().filter_map(|i| i.sysex).collect();
    let complete = expected
        .iter()
        .filter(|i| i.sysex.is_some() && !i.incomplete)
        .count();
    assert_eq!(s.sysex_complete as usize, complete);
    assert_eq!(s.sysex_truncated as usize, sysex_ids.len() - complete);
    assert_eq!(run.serializer.stats().sysex_complete, s.sysex_complete);
    assert_eq!(run.serializer.stats().bytes_out as usize, run.wire.len());
}

/// With failures the events are the reference's minus exactly the dropped messages; a dropped
/// SysEx may leave the prefix of its fragments returned before the failure.
pub fn check_with_drops(expected: &[Item], observed: &[Observed], s: &CaptureStats) {
    let mut matched = vec![false; expected.len()];
    let mut j = 0;
    for o in observed {
        while j < expected.len()
            && !(expected[j].bytes == o.bytes && expected[j].incomplete == o.incomplete)
        {
            j += 1;
        }
        assert!(
            j < expected.len(),
            "event {o:?} is not in the expected order"
        );
        matched[j] = true;
        j += 1;
    }
    let missing_short = expected
        .iter()
        .zip(&matched)
        .filter(|(i, m)| i.sysex.is_none() && !**m)
        .count();
    assert_eq!(missing_short as u64, s.messages_dropped_no_memory);
    let mut by_sysex: BTreeMap<usize, Vec<bool>> = BTreeMap::new();
    for (i, m) in expected.iter().zip(&matched) {
        if let Some(id) = i.sysex {
            by_sysex.entry(id).or_default().push(*m);
        }
    }
    let (mut dropped, mut partial) = (0u64, 0u64);
    for present in by_sysex.values() {
        let n = present.iter().take_while(|p| **p).count();
        assert!(
            present[n..].iter().all(|p| !p),
            "fragments of a SysEx delivered out of prefix order"
        );
        if n < present.len() {
            dropped += 1;
            partial += u64::from(n > 0);
        }
    }
    assert_eq!(dropped, s.sysex_dropped_no_memory);
    assert_eq!(partial, s.sysex_dropped_after_partial_delivery);
}
