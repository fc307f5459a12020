//! Property tests: MIDI stream → capture (random bursts, buffer sizes, allocator failures) →
//! serialize, against the naive reference model in `support::reference`.
//!
//! `arbitrary_bytes_*` is the fuzz target of the regular test run (bounded case count); the
//! same body runs unbounded under cargo-fuzz (see `crates/mxf-core/fuzz`).

mod support;

use mxf_testkit::alloc_double::{FailPlan, TestAlloc};
use proptest::prelude::*;
use support::checks::{cap_of, check_exact, check_with_drops};
use support::reference::expected_items;
use support::run_capture;
use support::strategies::{arbitrary_bytes, buffer_size, bursts, midi_stream, split};

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, max_shrink_iters: 2000, ..ProptestConfig::default() })]

    #[test]
    fn valid_streams_round_trip_to_the_normalized_stream(
        input in midi_stream(256, 4096),
        lens in bursts(),
        size in buffer_size(),
    ) {
        let a = TestAlloc::new(size, FailPlan::Never);
        let run = run_capture(a.com(), &split(&input, &lens));
        check_exact(&expected_items(&input, cap_of(size)), &run);
        prop_assert_eq!(run.stats.bytes_delivered, run.stats.bytes_in() - run.stats.parser.bytes_stray - run.stats.parser.bytes_truncated);
        a.assert_clean();
    }

    #[test]
    fn allocator_failures_drop_exactly_the_counted_messages(
        input in midi_stream(256, 2048),
        lens in bursts(),
        size in buffer_size(),
        seed in any::<u64>(),
        percent in 1u32..=40,
    ) {
        let a = TestAlloc::new(size, FailPlan::Random { seed, percent });
        let run = run_capture(a.com(), &split(&input, &lens));
        check_with_drops(&expected_items(&input, cap_of(size)), &run.events, &run.stats);
        a.assert_clean();
    }

    #[test]
    fn arbitrary_bytes_never_panic_leak_or_lose_a_byte(
        input in arbitrary_bytes(4096),
        lens in bursts(),
        size in prop_oneof![0u16..=16, buffer_size()],
        seed in any::<u64>(),
        percent in prop_oneof![Just(0u32), 1u32..=60],
    ) {
        let plan = if percent == 0 { FailPlan::Never } else { FailPlan::Random { seed, percent } };
        let a = TestAlloc::new(size, plan);
        // run_capture checks `bytes_in == accounted + pending` after every burst.
        let run = run_capture(a.com(), &split(&input, &lens));
        let expected = expected_items(&input, cap_of(size));
        if percent == 0 {
            check_exact(&expected, &run);
        } else {
            check_with_drops(&expected, &run.events, &run.stats);
        }
        prop_assert_eq!(run.stats.bytes_in(), input.len() as u64);
        a.assert_clean();
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 6, ..ProptestConfig::default() })]

    #[test]
    fn sysex_of_60_to_70_kib_round_trips(
        len in 60_000usize..=71_680,
        lens in bursts(),
        size in buffer_size(),
        rt in prop::collection::vec((any::<usize>(), 0xF8u8..=0xFF), 0..8),
    ) {
        let mut input = vec![0x90, 0x3c, 0x7f, 0xf0];
        input.extend((0..len).map(|i| (i * 31 % 128) as u8));
        input.extend([0xf7, 0x3c, 0x00]);
        for (pos, b) in rt {
            let at = pos % (input.len() + 1);
            input.insert(at, b);
        }
        let a = TestAlloc::new(size, FailPlan::Never);
        let run = run_capture(a.com(), &split(&input, &lens));
        check_exact(&expected_items(&input, cap_of(size)), &run);
        a.assert_clean();
    }
}
