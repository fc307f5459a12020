//! The loopback's zero-copy drain (`drain_chunks`, `drain_bursts`) on the emulator: slices in
//! order with their chunk's write time, partial drains under byte budgets, the byte
//! invariant, emptied chunks back to the allocator at once, one clock read per burst, and a
//! drain into the capture packager while the port allocator fails.

mod support;

use mxf_core::alloc::{Allocator, AllocatorConfig, new_allocator};
use mxf_core::capture::CapturePackager;
use mxf_core::loopback::{Drained, Loopback, LoopbackConfig, LoopbackStats, WriteOutcome};
use mxf_core::platform::DISPATCH_LEVEL;
use mxf_kemu::{Emu, EmuConfig, FaultPlan};
use proptest::prelude::*;
use support::Observed;
use support::checks::{cap_of, check_with_drops};
use support::reference::expected_items;

fn invariant(s: &LoopbackStats) {
    assert_eq!(
        s.bytes_in,
        s.bytes_out + s.bytes_dropped() + s.bytes_queued,
        "{s:?}"
    );
}

fn open(emu: &Emu, cfg: LoopbackConfig) -> Loopback<Emu> {
    let lb = Loopback::new(emu.clone(), cfg).unwrap();
    lb.set_listening(true);
    lb
}

/// Events and buffers of the loopback's allocator still out (= chunks queued).
fn outstanding(lb: &Loopback<Emu>) -> (usize, usize) {
    let a = Allocator::from_com(lb.allocator()).unwrap().stats();
    (
        a.outstanding_events as usize,
        a.outstanding_buffers as usize,
    )
}

/// Drains into a vector of `(bytes, written_at)` slices.
fn drain(lb: &Loopback<Emu>, max: usize, now: Option<i64>) -> (Vec<(Vec<u8>, i64)>, Drained) {
    let mut v = Vec::new();
    let d = lb.drain_chunks(max, now, |b, t| v.push((b.to_vec(), t)));
    (v, d)
}

#[test]
fn slices_come_in_order_one_per_chunk_with_its_write_time() {
    let emu = Emu::new(EmuConfig::verifier());
    let lb = open(&emu, LoopbackConfig::DEFAULT);
    assert_eq!(lb.write(&[1, 2, 3], 100), WriteOutcome::Accepted);
    assert_eq!(lb.write(&[4, 5], 100), WriteOutcome::Accepted); // same time: same chunk
    assert_eq!(lb.write(&[6; 20], 200), WriteOutcome::Accepted);
    assert_eq!(lb.write(&[7], 300), WriteOutcome::Accepted);
    assert_eq!(outstanding(&lb), (3, 1), "inline, buffer, inline");
    let (v, d) = drain(&lb, usize::MAX, Some(350));
    assert_eq!(
        v,
        vec![
            (vec![1, 2, 3, 4, 5], 100),
            (vec![6; 20], 200),
            (vec![7], 300)
        ]
    );
    assert_eq!(
        d,
        Drained {
            bytes: 26,
            slices: 3,
            written_at: Some(100),
            remaining: 0
        }
    );
    let s = lb.stats();
    assert_eq!((s.reads, s.bytes_out, s.chunks_queued), (1, 26, 0));
    assert_eq!(
        (s.latency_samples, s.latency_total, s.latency_max),
        (1, 250, 250),
        "one sample per drain: the oldest byte's age"
    );
    invariant(&s);
    assert_eq!(outstanding(&lb), (0, 0), "every chunk back at once");
    // Empty: nothing handed out, nothing counted.
    let (v, d) = drain(&lb, 100, Some(400));
    assert!(v.is_empty());
    assert_eq!(d, Drained::default());
    let s = lb.stats();
    assert_eq!((s.reads, s.latency_samples), (1, 1));
    drop(lb);
    emu.unload().expect("clean unload");
}

#[test]
fn budgets_cut_chunks_and_the_rest_stays_queued_in_place() {
    let emu = Emu::new(EmuConfig::verifier());
    let cfg = LoopbackConfig {
        allocator: AllocatorConfig {
            buffer_size: 100,
            max_buffers: 1_000,
            ..LoopbackConfig::DEFAULT.allocator
        },
        ..LoopbackConfig::DEFAULT
    };
    let lb = open(&emu, cfg);
    let input: Vec<u8> = (0..250u32).map(|i| i as u8).collect();
    assert_eq!(lb.write(&input, 7), WriteOutcome::Accepted); // chunks of 100, 100, 50
    assert_eq!(outstanding(&lb), (3, 3));
    let mut got = Vec::new();
    // 30 of the first chunk: it stays, read from byte 30 on next time.
    let (v, d) = drain(&lb, 30, None);
    assert_eq!((d.bytes, d.slices, d.remaining), (30, 1, 220));
    assert_eq!(outstanding(&lb), (3, 3), "a chunk read in part stays");
    got.extend(v.into_iter().flat_map(|s| s.0));
    // 120: the first chunk's last 70 (it leaves) and 50 of the second.
    let (v, d) = drain(&lb, 120, None);
    assert_eq!(
        v.iter().map(|s| s.0.len()).collect::<Vec<_>>(),
        vec![70, 50]
    );
    assert!(v.iter().all(|s| s.1 == 7));
    assert_eq!((d.bytes, d.remaining), (120, 100));
    assert_eq!(outstanding(&lb), (2, 2), "the emptied chunk went back");
    assert_eq!(lb.stats().chunks_queued, 2);
    got.extend(v.into_iter().flat_map(|s| s.0));
    // A zero budget hands out nothing.
    assert_eq!(drain(&lb, 0, Some(9)).1.bytes, 0);
    // The rest: exactly to the end of the second chunk, then the third.
    let (v, d) = drain(&lb, 50, None);
    assert_eq!((d.bytes, d.slices), (50, 1));
    assert_eq!(outstanding(&lb), (1, 1));
    got.extend(v.into_iter().flat_map(|s| s.0));
    let (v, d) = drain(&lb, 1_000, None);
    assert_eq!((d.bytes, d.remaining), (50, 0));
    got.extend(v.into_iter().flat_map(|s| s.0));
    assert_eq!(got, input);
    assert_eq!(outstanding(&lb), (0, 0));
    let s = lb.stats();
    assert_eq!(s.reads, 4);
    invariant(&s);
    drop(lb);
    emu.unload().expect("clean unload");
}

#[test]
fn drain_bursts_reads_the_clock_once_per_burst_of_at_most_one_chunk() {
    let emu = Emu::new(EmuConfig::verifier());
    let lb = open(&emu, LoopbackConfig::DEFAULT);
    let cap = lb.burst_max();
    assert_eq!(cap, usize::from(AllocatorConfig::DEFAULT.buffer_size));
    // One piece of 3 chunks and a bit, then three short writes at other times.
    let big: Vec<u8> = (0..3 * cap + 10).map(|i| (i % 251) as u8).collect();
    assert_eq!(lb.write(&big, 1), WriteOutcome::Accepted);
    for t in 2..5 {
        assert_eq!(lb.write(&[t as u8; 3], t), WriteOutcome::Accepted);
    }
    let total = big.len() + 9;
    let mut clock = 1_000;
    let mut reads = Vec::new();
    let mut fed: Vec<(usize, i64)> = Vec::new();
    let mut bytes = Vec::new();
    // A budget that ends inside the second chunk.
    let r = lb.drain_bursts(
        cap + 100,
        || {
            clock += 10;
            reads.push(clock);
            clock
        },
        |b, t| {
            fed.push((b.len(), t));
            bytes.extend_from_slice(b);
        },
    );
    assert_eq!((r.bytes, r.bursts, r.slices), (cap + 100, 2, 2));
    assert_eq!(r.remaining as usize, total - cap - 100);
    assert_eq!(reads, vec![1_010, 1_020], "one clock read per burst");
    assert_eq!(
        fed,
        vec![(cap, 1_010), (100, 1_020)],
        "fed with the burst's time"
    );
    // The rest: the cut chunk's remainder starts a burst that runs into the next chunk; the
    // last burst spans the short writes (3 chunks, 3 write times, one clock read).
    reads.clear();
    fed.clear();
    let r = lb.drain_bursts(
        usize::MAX,
        || {
            clock += 10;
            reads.push(clock);
            clock
        },
        |b, t| {
            fed.push((b.len(), t));
            bytes.extend_from_slice(b);
        },
    );
    assert_eq!(r.bytes, total - cap - 100);
    assert_eq!(r.remaining, 0);
    assert!(fed.iter().all(|&(n, _)| n <= cap));
    let per_burst: Vec<usize> = reads
        .iter()
        .map(|&t| fed.iter().filter(|f| f.1 == t).map(|f| f.0).sum())
        .collect();
    assert_eq!(per_burst.iter().sum::<usize>(), r.bytes);
    assert!(per_burst.iter().all(|&n| n <= cap), "{per_burst:?}");
    assert_eq!(
        r.bursts as usize,
        reads.len(),
        "stops when the queue runs empty"
    );
    assert_eq!(&fed[fed.len() - 3..], &[(3, clock), (3, clock), (3, clock)]);
    let mut expect = big.clone();
    expect.extend([2, 2, 2, 3, 3, 3, 4, 4, 4]);
    assert_eq!(bytes, expect);
    let s = lb.stats();
    assert_eq!(s.latency_samples, 2 + r.bursts);
    invariant(&s);
    assert_eq!(outstanding(&lb), (0, 0));
    // Nothing queued: one clock read, no burst.
    let mut n = 0;
    let r = lb.drain_bursts(
        100,
        || {
            n += 1;
            0
        },
        |_, _| panic!("nothing to feed"),
    );
    assert_eq!((r.bytes, r.bursts, n), (0, 0, 1));
    drop(lb);
    emu.unload().expect("clean unload");
}

#[test]
fn the_copying_read_is_the_same_drain() {
    let emu = Emu::new(EmuConfig::verifier());
    let lb = open(&emu, LoopbackConfig::DEFAULT);
    let input: Vec<u8> = (0..10_000u32).map(|i| (i * 7) as u8).collect();
    assert_eq!(lb.write(&input, 5), WriteOutcome::Accepted);
    let mut out = vec![0u8; 6_000];
    let b = lb.read_burst(&mut out, Some(9));
    assert_eq!((b.len, b.written_at), (6_000, Some(5)));
    assert_eq!(out, input[..6_000]);
    let (v, _) = drain(&lb, usize::MAX, None);
    let rest: Vec<u8> = v.into_iter().flat_map(|s| s.0).collect();
    assert_eq!(rest, input[6_000..]);
    invariant(&lb.stats());
    drop(lb);
    emu.unload().expect("clean unload");
}

/// Writes, then drains into the packager through `drain_bursts` (as the capture stream does)
/// with the port allocator failing at random: every loopback byte is fed once, in order, the
/// events are the reference's minus exactly the counted drops, nothing leaks.
#[test]
fn a_drain_into_the_packager_under_allocation_faults() {
    let emu = Emu::new(EmuConfig::default());
    let lb = open(&emu, LoopbackConfig::DEFAULT);
    let port = new_allocator(
        emu.clone(),
        AllocatorConfig {
            buffer_size: 64,
            reserve_events: 8,
            reserve_buffers: 2,
            max_events: 64,
            max_buffers: 8,
            poison_freed: true,
        },
    )
    .unwrap();
    let mut input = Vec::new();
    for i in 0..200usize {
        let mut msg = vec![0x90, (i % 128) as u8, 0x40, 0xF0];
        msg.extend((0..i * 7).map(|k| (k % 128) as u8));
        msg.push(0xF7);
        if i % 5 == 0 {
            msg.push(0xF8);
        }
        // Written one message at a time, each at its own time: one chunk each (a buffer:
        // the default allocator caps them at 260).
        assert_eq!(lb.write(&msg, i as i64), WriteOutcome::Accepted);
        input.extend(msg);
    }
    let chunks = lb.stats().chunks_queued;
    assert!(chunks >= 200);
    let mut observed = Vec::new();
    let mut p = CapturePackager::new(&port);
    let mut clock = 0i64;
    emu.set_fault_plan(FaultPlan::Random {
        seed: 11,
        one_in: 3,
    });
    let mut fed = 0usize;
    emu.at_irql(DISPATCH_LEVEL, || {
        loop {
            let r = lb.drain_bursts(
                2_000,
                || {
                    clock += 1;
                    clock
                },
                |b, t| {
                    fed += b.len();
                    let chain = p.feed(b, t);
                    for (ev, data) in chain.iter() {
                        assert_eq!(ev.ull_pres_time_100ns, t as u64, "the burst's time");
                        observed.push(Observed {
                            bytes: data.to_vec(),
                            incomplete: ev.is_incomplete(),
                            time: ev.ull_pres_time_100ns,
                            burst: 0,
                        });
                    }
                },
            );
            invariant(&lb.stats());
            if r.remaining == 0 {
                break;
            }
        }
        drop(p.reset(clock));
    });
    emu.set_fault_plan(FaultPlan::None);
    assert_eq!(fed, input.len());
    let st = p.stats();
    assert_eq!(st.bytes_in(), input.len() as u64);
    assert_eq!(st.bytes_in(), st.bytes_accounted());
    check_with_drops(&expected_items(&input, cap_of(64)), &observed, &st);
    assert!(st.dropped_no_memory() > 0, "the fault plan must bite");
    let s = lb.stats();
    assert_eq!((s.bytes_out, s.bytes_queued), (input.len() as u64, 0));
    assert_eq!(
        outstanding(&lb),
        (0, 0),
        "every chunk back to the loopback's allocator"
    );
    drop(p);
    let a = Allocator::from_com(&port).unwrap().stats();
    assert_eq!((a.outstanding_events, a.outstanding_buffers), (0, 0));
    drop((lb, port));
    emu.unload().expect("clean unload");
}

#[derive(Debug, Clone)]
enum Op {
    Write(usize, i64),
    Drain(usize),
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Against a model of `(byte, write time)` pairs: every slice is the model's next bytes,
    /// all with the slice's time, never beyond the budget; the allocator holds exactly the
    /// queued chunks after every step.
    #[test]
    fn drains_match_a_timed_model(
        buffer_size in prop::sample::select(vec![9u16, 64, 4080]),
        ops in prop::collection::vec(
            prop_oneof![
                (1usize..5_000, 0i64..4).prop_map(|(n, t)| Op::Write(n, t)),
                (0usize..12_000).prop_map(Op::Drain),
            ],
            1..50,
        ),
    ) {
        let emu = Emu::new(EmuConfig::default());
        let cfg = LoopbackConfig {
            allocator: AllocatorConfig {
                buffer_size,
                max_buffers: 40_000,
                max_events: 60_000,
                ..LoopbackConfig::DEFAULT.allocator
            },
            ..LoopbackConfig::DEFAULT
        };
        let lb = open(&emu, cfg);
        let mut model: std::collections::VecDeque<(u8, i64)> = Default::default();
        let mut seq = 0u8;
        for op in ops {
            match op {
                Op::Write(n, t) => {
                    let bytes: Vec<u8> = (0..n).map(|_| { seq = seq.wrapping_add(1); seq }).collect();
                    prop_assert_eq!(lb.write(&bytes, t), WriteOutcome::Accepted);
                    model.extend(bytes.into_iter().map(|b| (b, t)));
                }
                Op::Drain(max) => {
                    let (slices, d) = drain(&lb, max, None);
                    prop_assert!(d.bytes <= max);
                    prop_assert_eq!(d.bytes, max.min(model.len()));
                    prop_assert_eq!(d.slices, slices.len());
                    prop_assert_eq!(d.written_at, model.front().filter(|_| d.bytes > 0).map(|p| p.1));
                    for (bytes, t) in slices {
                        prop_assert!(!bytes.is_empty());
                        prop_assert!(bytes.len() <= lb.burst_max());
                        let want: Vec<(u8, i64)> = model.drain(..bytes.len()).collect();
                        let got: Vec<(u8, i64)> = bytes.iter().map(|&b| (b, t)).collect();
                        prop_assert_eq!(got, want);
                    }
                    prop_assert_eq!(d.remaining as usize, model.len());
                }
            }
            let s = lb.stats();
            prop_assert_eq!(s.bytes_queued as usize, model.len());
            prop_assert_eq!(s.bytes_in, s.bytes_out + s.bytes_dropped() + s.bytes_queued);
            let (events, _) = outstanding(&lb);
            prop_assert_eq!(events as u64, s.chunks_queued);
        }
        drop(lb);
        prop_assert!(emu.unload().is_ok());
    }
}
