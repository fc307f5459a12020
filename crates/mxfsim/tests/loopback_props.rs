//! The whole cable as a property: render pin → render queue → loopback → capture stream →
//! port capture sink, through the port emulator and the real miniport on the kernel emulator
//! with Verifier checks. For any valid MIDI stream (running status, realtime inside messages
//! and SysEx, SysEx of 0..=70 KiB), any port and loopback buffer size, any loopback capacity
//! and random allocation faults: what is captured is the normalised input minus exactly the
//! messages the counters say were dropped (the run's verdict), every allocator ends with
//! nothing outstanding and the emulator unloads clean. Fixed cases at 1 MiB.

use mxf_core::render::DropCount;
use mxfsim::report::Report;
use mxfsim::sim::{SimOptions, run};
use mxfsim::workload::Unit;
use proptest::prelude::*;

const MS: i64 = 10_000;

/// One client submission before timing.
#[derive(Clone, Debug)]
enum Item {
    /// A channel message; `running` omits its status (if the last status was the same);
    /// `rt_at` splices a realtime byte before the data byte at that index.
    Channel {
        status: u8,
        data: [u8; 2],
        running: bool,
        rt_at: Option<usize>,
    },
    Common(u8, [u8; 2]),
    Realtime(u8),
    /// A SysEx of `len` payload bytes, realtime spliced every `rt_every` (0: none).
    Sysex {
        len: usize,
        rt_every: usize,
        seed: u8,
    },
}

fn item() -> impl Strategy<Value = Item> {
    prop_oneof![
        12 => (0x80u8..0xF0, any::<[u8; 2]>(), any::<bool>(), prop::option::of(0usize..2))
            .prop_map(|(status, d, running, rt_at)| Item::Channel {
                status,
                data: [d[0] & 0x7F, d[1] & 0x7F],
                running,
                rt_at,
            }),
        2 => (prop::sample::select(vec![0xF1u8, 0xF2, 0xF3, 0xF6]), any::<[u8; 2]>())
            .prop_map(|(s, d)| Item::Common(s, [d[0] & 0x7F, d[1] & 0x7F])),
        3 => prop::sample::select(vec![0xF8u8, 0xFA, 0xFB, 0xFC, 0xFE]).prop_map(Item::Realtime),
        2 => (0usize..64, 0usize..20, any::<u8>())
            .prop_map(|(len, rt, seed)| Item::Sysex { len, rt_every: rt, seed }),
        1 => (0usize..=70 * 1024, prop::sample::select(vec![0usize, 97, 1000, 5000]), any::<u8>())
            .prop_map(|(len, rt_every, seed)| Item::Sysex { len, rt_every, seed }),
    ]
}

fn data_len(status: u8) -> usize {
    match status {
        0xC0..=0xDF | 0xF1 | 0xF3 => 1,
        0xF6 => 0,
        _ => 2,
    }
}

/// The items as timed units (a real cable's pace is not needed: the loopback is not a wire).
fn units(items: &[Item], gaps: &[u16]) -> Vec<Unit> {
    let mut out = Vec::new();
    let mut t = MS;
    let mut running: Option<u8> = None;
    for (i, it) in items.iter().enumerate() {
        let mut b = Vec::new();
        match *it {
            Item::Channel {
                status,
                data,
                running: omit,
                rt_at,
            } => {
                if !(omit && running == Some(status)) {
                    b.push(status);
                }
                running = Some(status);
                for (k, &d) in data.iter().take(data_len(status)).enumerate() {
                    if rt_at == Some(k) {
                        b.push(0xF8);
                    }
                    b.push(d);
                }
            }
            Item::Common(s, d) => {
                running = None;
                b.push(s);
                b.extend_from_slice(&d[..data_len(s)]);
            }
            Item::Realtime(r) => b.push(r),
            Item::Sysex {
                len,
                rt_every,
                seed,
            } => {
                running = None;
                b.push(0xF0);
                let mut x = u32::from(seed) | 1;
                for k in 0..len {
                    if rt_every != 0 && k != 0 && k % rt_every == 0 {
                        b.push(0xF8);
                    }
                    x ^= x << 13;
                    x ^= x >> 17;
                    x ^= x << 5;
                    b.push((x & 0x7F) as u8);
                }
                b.push(0xF7);
            }
        }
        out.push(Unit {
            offset: t,
            bytes: b,
        });
        t += i64::from(gaps.get(i % gaps.len().max(1)).copied().unwrap_or(0));
    }
    out
}

fn check(rep: &Report, faults: bool) -> Result<(), TestCaseError> {
    prop_assert!(rep.passed(), "{rep}");
    // The verdict's exact accounting, restated.
    prop_assert_eq!(rep.cmp.unexpected, 0);
    prop_assert_eq!(rep.cmp.missing, rep.drops.expected_missing(), "{}", rep);
    // Truncation, stage by stage: what the render side cut is what the capture side received
    // cut; what was captured truncated is what the capture side delivered cut.
    prop_assert_eq!(
        rep.drops.render_sysex_cut(),
        rep.drops.capture_sysex_cut_arrived,
        "{}",
        rep
    );
    prop_assert_eq!(
        rep.cmp.partial + rep.cmp.matched_truncated,
        rep.drops.expected_truncated_captured(),
        "{}",
        rep
    );
    if !faults {
        prop_assert_eq!(rep.cmp.missing + rep.cmp.partial, 0, "{}", rep);
        prop_assert_eq!(rep.drops.render(), DropCount::default());
    }
    for a in [&rep.port_alloc_end, &rep.loopback_alloc]
        .into_iter()
        .flatten()
    {
        prop_assert_eq!((a.outstanding_events, a.outstanding_buffers), (0, 0));
    }
    prop_assert!(matches!(rep.unload, Some(Ok(()))), "{:?}", rep.unload);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn the_cable_delivers_everything_or_counts_it(
        items in prop::collection::vec(item(), 1..120),
        gaps in prop::collection::vec(0u16..3000, 1..8),
        port_buffer in prop_oneof![9u16..=64, 65u16..=8192, 8193u16..=65535],
        loopback_buffer in prop_oneof![9u16..=64, 65u16..=8192, 8193u16..=65535],
        capacity_extra in prop_oneof![Just(0u32), 0u32..200_000],
        faults in prop::option::of(20u32..400),
        seed in any::<u64>(),
    ) {
        let u = units(&items, &gaps);
        let opt = SimOptions {
            verifier: true,
            faults,
            buffer_size: Some(port_buffer),
            loopback_buffer_size: Some(loopback_buffer),
            loopback_capacity: Some(mxf_core::loopback::MAX_WRITE as u32 + capacity_extra),
            seed,
            ..SimOptions::new()
        };
        let rep = run(&u, "proptest", &opt);
        check(&rep, faults.is_some())?;
    }
}

fn one_mib_units() -> Vec<Unit> {
    let mut items = Vec::new();
    for k in 0..50u8 {
        items.push(Item::Channel {
            status: 0x90 | (k & 0xF),
            data: [k & 0x7F, 100],
            running: k % 3 == 0,
            rt_at: (k % 7 == 0).then_some(1),
        });
    }
    items.push(Item::Sysex {
        len: 1 << 20,
        rt_every: 4093,
        seed: 7,
    });
    for k in 0..50u8 {
        items.push(Item::Realtime(0xF8));
        items.push(Item::Channel {
            status: 0x80,
            data: [k & 0x7F, 0],
            running: true,
            rt_at: None,
        });
    }
    units(&items, &[0, 300, 1000])
}

fn one_mib(opt: SimOptions) -> Report {
    let rep = run(&one_mib_units(), "1 MiB", &opt);
    check(&rep, false).unwrap_or_else(|e| panic!("{e}"));
    assert!(
        rep.sysex_sizes.contains(&((1 << 20) + 2)),
        "the 1 MiB SysEx arrived whole:\n{rep}"
    );
    assert!(!rep.drops.any(), "{rep}");
    rep
}

#[test]
fn one_mib_sysex_with_traffic_arrives_whole_through_a_small_loopback() {
    let rep = one_mib(SimOptions {
        verifier: true,
        loopback_capacity: Some(mxf_core::loopback::MAX_WRITE as u32),
        ..SimOptions::new()
    });
    let r = rep.render_stream.expect("render stats");
    assert!(
        r.blocks >= 1 && r.wakeups >= 1,
        "flow control was used: {r:?}"
    );
    let l = rep.loopback.expect("loopback stats");
    assert!(l.high_water <= mxf_core::loopback::MAX_WRITE as u64);
}

#[test]
fn one_mib_sysex_arrives_whole_with_default_sizes_and_tiny_buffers() {
    one_mib(SimOptions::new());
    // 9-byte loopback chunks; the port's fragments of 64 bytes keep its 1 MiB SysEx within
    // the render queue's bound of top-level events even unpackaged.
    let rep = one_mib(SimOptions {
        buffer_size: Some(64),
        loopback_buffer_size: Some(9),
        packaging: mxf_portemu::Packaging::Flat,
        ..SimOptions::new()
    });
    assert!(rep.loopback_alloc.expect("loopback allocator").buffer_gets > 100_000);
}

/// Proptest case `40c2e595…`, fixed: with the loopback out of memory, the render side drops
/// a SysEx whole, cuts the next one after 10001 bytes (counted truncated), drops the one
/// after it whole, then delivers a SysEx with realtime inside. The capture side sees the cut
/// SysEx end only at that last SysEx's first fragment, after the realtime lifted out of it:
/// the verdict must match those ahead of the cut across the SysEx dropped behind it.
#[test]
fn realtime_behind_a_sysex_dropped_after_a_cut_one_is_matched_ahead_of_the_cut() {
    let sx = |len, rt_every| Item::Sysex {
        len,
        rt_every,
        seed: 0,
    };
    let items = [sx(3954, 5000), sx(20388, 5000), sx(7135, 0), sx(51, 4)];
    let opt = SimOptions {
        verifier: true,
        faults: Some(107),
        buffer_size: Some(8748),
        loopback_buffer_size: Some(33),
        loopback_capacity: Some(mxf_core::loopback::MAX_WRITE as u32),
        seed: 15_191_187_671_682_718_688,
        ..SimOptions::new()
    };
    let rep = run(&units(&items, &[0]), "cut sysex", &opt);
    check(&rep, true).unwrap_or_else(|e| panic!("{e}"));
    // The scenario itself, so that a change of the fault sequence cannot make this test
    // pass vacuously.
    assert_eq!(
        rep.drops.render_no_memory,
        DropCount {
            messages: 2,
            sysex_truncated: 1,
            bytes: 3956 + (20390 - 10001) + 7137,
        },
        "{rep}"
    );
    assert_eq!(
        (rep.cmp.matched, rep.cmp.missing, rep.cmp.partial),
        (17, 2, 1)
    );
    let shape: Vec<(usize, bool)> = rep
        .captured
        .iter()
        .map(|m| (m.bytes.len(), m.truncated))
        .collect();
    let mut want = vec![(1, false); 16];
    want.extend([(10001, true), (53, false)]);
    assert_eq!(
        shape, want,
        "16 realtime, then the cut SysEx, then the last"
    );
}

/// Proptest case `11a1c5a4…`, fixed: the render side cuts a 68 KiB SysEx (loopback out of
/// memory) and the capture side, short of memory too, drops that same SysEx whole. It is
/// one message missing, not one missing and one truncated: truncation is accounted stage by
/// stage (the render side's cut ones are what the capture side received cut; what was
/// captured truncated is what the capture side delivered cut), never as a sum of both.
#[test]
fn a_sysex_cut_by_the_render_side_then_dropped_by_the_capture_side_counts_once() {
    let ch = |status, data, running, rt_at| Item::Channel {
        status,
        data,
        running,
        rt_at,
    };
    let sx = |len, rt_every, seed| Item::Sysex {
        len,
        rt_every,
        seed,
    };
    let items = [
        ch(128, [0, 0], false, None),
        ch(128, [0, 0], false, None),
        sx(40809, 0, 0),
        ch(128, [0, 0], false, None),
        ch(131, [116, 78], true, Some(1)),
        Item::Realtime(252),
        Item::Realtime(252),
        ch(239, [51, 86], true, Some(0)),
        Item::Common(243, [51, 115]),
        sx(2, 11, 235),
        sx(25037, 0, 212),
        ch(207, [16, 110], true, None),
        sx(68306, 1000, 11),
        Item::Realtime(248),
        ch(177, [3, 18], false, Some(0)),
        Item::Realtime(252),
        ch(168, [70, 72], true, Some(0)),
        Item::Realtime(248),
        Item::Common(246, [54, 56]),
        sx(57, 4, 123),
        sx(20, 16, 89),
        ch(128, [112, 112], false, Some(0)),
        ch(194, [38, 82], false, None),
        Item::Common(242, [52, 88]),
        ch(130, [26, 0], false, None),
        ch(181, [84, 66], false, Some(0)),
        ch(207, [82, 41], false, Some(1)),
        ch(128, [40, 41], false, None),
        Item::Realtime(252),
        ch(187, [110, 25], true, None),
        ch(165, [57, 96], false, Some(0)),
        ch(207, [34, 103], false, Some(0)),
        ch(217, [55, 34], true, Some(1)),
        ch(163, [33, 98], false, None),
        Item::Realtime(254),
        ch(177, [92, 48], true, None),
        Item::Realtime(251),
        ch(129, [84, 119], false, Some(1)),
        Item::Common(242, [63, 42]),
        ch(179, [5, 98], true, None),
        sx(22, 11, 248),
        ch(234, [39, 24], false, None),
        sx(57, 19, 228),
        Item::Common(246, [22, 50]),
        ch(194, [35, 70], true, None),
        ch(160, [88, 69], true, Some(1)),
        ch(155, [80, 58], false, Some(1)),
        ch(218, [86, 80], true, Some(0)),
        ch(203, [112, 14], true, Some(1)),
        ch(197, [79, 35], true, None),
        sx(32, 0, 243),
        ch(212, [9, 50], true, None),
        Item::Common(243, [81, 110]),
        ch(162, [112, 78], true, None),
        Item::Realtime(251),
        ch(201, [73, 125], true, None),
    ];
    // The scenario needs a fault schedule that cuts the SysEx on the render side and drops
    // it on the capture side; which seed gives one depends on the order of allocations, so
    // the test takes the first seed that does (every run on the way must pass too).
    let mut found = None;
    for seed in 0..2_000u64 {
        let opt = SimOptions {
            verifier: true,
            faults: Some(22),
            buffer_size: Some(3710),
            loopback_buffer_size: Some(40),
            loopback_capacity: Some(mxf_core::loopback::MAX_WRITE as u32),
            seed,
            ..SimOptions::new()
        };
        let rep = run(
            &units(&items, &[2765, 1305, 2014, 2956, 1482, 1079]),
            "cut then dropped",
            &opt,
        );
        check(&rep, true).unwrap_or_else(|e| panic!("seed {seed}: {e}"));
        // One SysEx cut by the render side, one dropped whole by the capture side, and it is
        // the same one: what arrived cut is what was dropped, nothing captured truncated.
        if rep.drops.render().sysex_truncated == 1
            && rep.drops.capture_sysex_whole == 1
            && rep.drops.capture_sysex_cut_arrived == 1
            && rep.drops.capture_sysex_delivered_cut == 0
        {
            found = Some(rep);
            break;
        }
    }
    let rep = found.expect("some fault schedule produces the scenario");
    // Counted once: one message missing, not one missing and one truncated.
    assert_eq!(rep.cmp.partial, 0, "{rep}");
}
