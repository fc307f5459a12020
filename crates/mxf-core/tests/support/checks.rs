//! Comparisons of a capture run against the reference model.

use super::reference::{Item, concat};
use super::{CaptureRun, Observed};
use mxf_core::capture::CaptureStats;
use std::collections::{BTreeSet, HashMap};

/// The SysEx fragment size the packager uses for a `GetBufferSize` value.
pub fn cap_of(size: u16) -> usize {
    usize::from(size).max(8)
}

/// Without failures the events are exactly the reference's.
pub fn check_exact(expected: &[Item], run: &CaptureRun) {
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
        .filter(|i| i.sysex.is_some() && i.bytes.last() == Some(&0xF7))
        .count();
    assert_eq!(s.sysex_complete as usize, complete);
    assert_eq!(s.sysex_truncated as usize, sysex_ids.len() - complete);
    assert_eq!(run.serializer.stats().sysex_complete, s.sysex_complete);
    assert_eq!(run.serializer.stats().bytes_out as usize, run.wire.len());
}

/// With failures the events are the reference's minus exactly the dropped messages; a dropped
/// SysEx may leave the prefix of its fragments returned before the failure.
///
/// Passes iff the observed events are an order-preserving sub-sequence of `expected` in
/// which every non-SysEx event stands for itself and every observed SysEx stands for a
/// non-empty prefix of the fragments of one expected SysEx, and the counters agree with
/// what is missing: `messages_dropped_no_memory` non-SysEx messages, `sysex_dropped_no_memory`
/// SysEx not delivered whole, `sysex_dropped_after_partial_delivery` of them delivered in part.
///
/// Identical fragments (two SysEx with the same first bytes) make the pairing ambiguous, so
/// this is a search over the pairings, not a first-match walk; see `Search::pairings`.
pub fn check_with_drops(expected: &[Item], observed: &[Observed], s: &CaptureStats) {
    let exp = expected_sysex(expected);
    let obs = observed_sysex(observed);
    let short_expected = expected.iter().filter(|i| i.sysex.is_none()).count();
    let short_observed = observed
        .iter()
        .filter(|o| kind(&o.bytes) == Kind::Short)
        .count();
    assert!(
        short_observed <= short_expected,
        "more non-SysEx events than expected"
    );
    assert_eq!(
        (short_expected - short_observed) as u64,
        s.messages_dropped_no_memory,
        "non-SysEx messages missing vs counted as dropped"
    );
    let mut search = Search {
        expected,
        observed,
        exp: &exp,
        obs: &obs,
        memo: HashMap::new(),
        furthest: 0,
    };
    let whole = search.pairings(0, 0);
    assert!(
        !whole.is_empty(),
        "no pairing of the events with the expected ones (minus drops, SysEx cut to a \
         prefix): stuck at observed event {} = {:?}",
        search.furthest,
        observed.get(search.furthest)
    );
    // Each pairing fixes how many SysEx are delivered whole (`whole`); the rest of the
    // expected ones are dropped, those among them with an observed prefix partially.
    let whole_counted = (exp.len() as u64)
        .checked_sub(s.sysex_dropped_no_memory)
        .map(|w| w as usize);
    let partial_counted = whole_counted.and_then(|w| obs.len().checked_sub(w));
    assert!(
        whole_counted.is_some_and(|w| whole.contains(&w))
            && partial_counted.map(|p| p as u64) == Some(s.sysex_dropped_after_partial_delivery),
        "SysEx drops counted {} (after partial delivery {}) but the events allow, of {} \
         expected SysEx with {} observed, only these numbers delivered whole: {whole:?}",
        s.sysex_dropped_no_memory,
        s.sysex_dropped_after_partial_delivery,
        exp.len(),
        obs.len(),
    );
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    /// A non-SysEx message (status byte first).
    Short,
    /// The first fragment of a SysEx (`F0` first).
    SysExStart,
    /// A later fragment (data byte or `F7` first).
    SysExMore,
}

fn kind(bytes: &[u8]) -> Kind {
    match bytes.first() {
        Some(0xF0) => Kind::SysExStart,
        Some(&b) if b < 0x80 || b == 0xF7 => Kind::SysExMore,
        _ => Kind::Short,
    }
}

fn is_realtime(bytes: &[u8]) -> bool {
    matches!(bytes, [b] if *b >= 0xF8)
}

/// The positions of the fragments of each expected SysEx, in stream order.
fn expected_sysex(expected: &[Item]) -> Vec<Vec<usize>> {
    let mut out: Vec<Vec<usize>> = Vec::new();
    let mut last_id = None;
    for (p, i) in expected.iter().enumerate() {
        let Some(id) = i.sysex else {
            assert_eq!(kind(&i.bytes), Kind::Short, "reference item {i:?}");
            continue;
        };
        let first = last_id != Some(id);
        assert_eq!(
            kind(&i.bytes),
            if first {
                Kind::SysExStart
            } else {
                Kind::SysExMore
            },
            "reference item {i:?}"
        );
        if first {
            out.push(Vec::new());
            last_id = Some(id);
        }
        if let Some(g) = out.last_mut() {
            g.push(p);
        }
    }
    out
}

/// The positions of the fragments of each observed SysEx. A SysEx's fragments follow its
/// first one with only realtime events in between; a continuation anywhere else (after a
/// non-realtime message, after a complete last fragment, or with no first fragment) belongs
/// to no SysEx the consumer could reassemble.
fn observed_sysex(observed: &[Observed]) -> Vec<Vec<usize>> {
    let mut out: Vec<Vec<usize>> = Vec::new();
    let mut open = false;
    for (p, o) in observed.iter().enumerate() {
        match kind(&o.bytes) {
            Kind::Short => open &= is_realtime(&o.bytes),
            Kind::SysExStart => {
                out.push(vec![p]);
                open = continues(o);
            }
            Kind::SysExMore => {
                assert!(
                    open,
                    "SysEx continuation {o:?} (observed event {p}) without its SysEx open \
                     before it"
                );
                if let Some(g) = out.last_mut() {
                    g.push(p);
                }
                open = continues(o);
            }
        }
    }
    out
}

/// Whether an observed SysEx fragment leaves its SysEx open: it is raw data (`INCOMPLETE`)
/// and does not end with the SysEx's `F7`.
fn continues(o: &Observed) -> bool {
    o.incomplete && o.bytes.last() != Some(&0xF7)
}

fn same(i: &Item, o: &Observed) -> bool {
    i.bytes == o.bytes && i.incomplete == o.incomplete
}

struct Search<'a> {
    expected: &'a [Item],
    observed: &'a [Observed],
    exp: &'a [Vec<usize>],
    obs: &'a [Vec<usize>],
    memo: HashMap<(usize, usize), BTreeSet<usize>>,
    /// The furthest observed event any pairing reached (for the failure message).
    furthest: usize,
}

impl Search<'_> {
    /// For every pairing of `observed[i..]` with `expected[j..]`, how many of the observed
    /// SysEx in it are paired with a whole expected SysEx.
    ///
    /// Non-SysEx events go to the first equal expected event: a later choice leaves less room
    /// for the rest and changes no count. An observed SysEx may stand for any expected SysEx
    /// whose fragments it starts with; of those, only the first one it is the whole of and
    /// the first one it is a strict prefix of matter (later ones leave less room, with the
    /// same count), so each SysEx branches at most twice; `memo` bounds the search.
    fn pairings(&mut self, mut i: usize, mut j: usize) -> BTreeSet<usize> {
        loop {
            self.furthest = self.furthest.max(i);
            let Some(o) = self.observed.get(i) else {
                return BTreeSet::from([0]);
            };
            if kind(&o.bytes) != Kind::Short {
                break;
            }
            let found = self.expected[j.min(self.expected.len())..]
                .iter()
                .position(|e| e.sysex.is_none() && same(e, o));
            let Some(k) = found else {
                return BTreeSet::new();
            };
            i += 1;
            j += k + 1;
        }
        if let Some(r) = self.memo.get(&(i, j)) {
            return r.clone();
        }
        // `observed_sysex` puts every fragment in a SysEx, so `i` starts one.
        let g = self.obs.partition_point(|g| g[0] < i);
        let frags = &self.obs[g];
        assert_eq!(frags[0], i, "an observed SysEx starts here");
        let last = *frags.last().expect("a SysEx has a first fragment");
        let from = self.exp.partition_point(|e| e[0] < j);
        let (mut tried_whole, mut tried_prefix) = (false, false);
        let mut out = BTreeSet::new();
        for e in from..self.exp.len() {
            let whole = self.exp[e].len() == frags.len();
            if (whole && tried_whole) || (!whole && tried_prefix) {
                continue;
            }
            let Some(next) = self.pair_sysex(frags, &self.exp[e]) else {
                continue;
            };
            if whole {
                tried_whole = true;
            } else {
                tried_prefix = true;
            }
            for n in self.pairings(last + 1, next) {
                out.insert(n + usize::from(whole));
            }
            if tried_whole && tried_prefix {
                break;
            }
        }
        self.memo.insert((i, j), out.clone());
        out
    }

    /// Pairs observed SysEx fragments (and the realtime events between them) with the first
    /// fragments of an expected SysEx; returns the expected position after the last one.
    fn pair_sysex(&self, frags: &[usize], exp: &[usize]) -> Option<usize> {
        if frags.len() > exp.len() {
            return None;
        }
        for (&o, &e) in frags.iter().zip(exp) {
            if !same(&self.expected[e], &self.observed[o]) {
                return None;
            }
        }
        for (o, e) in frags.windows(2).zip(exp.windows(2)) {
            let mut at = e[0] + 1;
            for r in &self.observed[o[0] + 1..o[1]] {
                let k = self.expected[at..e[1]]
                    .iter()
                    .position(|x| x.sysex.is_none() && same(x, r))?;
                at += k + 1;
            }
        }
        Some(exp[frags.len() - 1] + 1)
    }
}
