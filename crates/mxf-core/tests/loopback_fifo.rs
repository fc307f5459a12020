//! The loopback FIFO on the emulator: order, timestamps, the byte invariant, refusals (full,
//! allocator exhausted, closed) that keep nothing and drop nothing, every chunk returned.

mod render_support;

use mxf_core::alloc::{Allocator, AllocatorConfig};
use mxf_core::loopback::{Loopback, LoopbackConfig, LoopbackStats, MAX_WRITE, WriteOutcome};
use mxf_kemu::{Emu, EmuConfig};
use proptest::prelude::*;

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

fn finish(emu: Emu, lb: Loopback<Emu>) {
    drop(lb);
    emu.unload().expect("clean unload");
}

#[test]
fn bytes_come_out_in_order_with_write_times() {
    let emu = Emu::new(EmuConfig::verifier());
    let lb = open(&emu, LoopbackConfig::DEFAULT);
    assert_eq!(lb.write(&[1, 2, 3], 100), WriteOutcome::Accepted);
    assert_eq!(
        lb.write(&[4, 5], 100),
        WriteOutcome::Accepted,
        "same time: same chunk"
    );
    assert_eq!(lb.write(&[6; 20], 200), WriteOutcome::Accepted);
    assert_eq!(lb.write(&[], 300), WriteOutcome::Accepted);
    let s = lb.stats();
    assert_eq!(s.chunks_queued, 2);
    assert_eq!(s.bytes_queued, 25);
    let mut buf = [0u8; 4];
    let b = lb.read_burst(&mut buf, Some(250));
    assert_eq!((b.len, b.written_at), (4, Some(100)));
    assert_eq!(buf, [1, 2, 3, 4]);
    let mut big = [0u8; 64];
    let b = lb.read_burst(&mut big, Some(260));
    assert_eq!((b.len, b.written_at), (21, Some(100)), "oldest byte's time");
    assert_eq!(big[0], 5);
    assert!(big[1..21].iter().all(|&x| x == 6));
    assert_eq!(lb.read_burst(&mut big, Some(300)).written_at, None);
    let s = lb.stats();
    assert_eq!(
        (s.latency_samples, s.latency_max, s.latency_total),
        (2, 160, 310)
    );
    assert_eq!(s.chunks_queued, 0);
    invariant(&s);
    let a = Allocator::from_com(lb.allocator()).unwrap().stats();
    assert_eq!((a.outstanding_events, a.outstanding_buffers), (0, 0));
    finish(emu, lb);
}

#[test]
fn a_full_queue_refuses_whole_writes_and_keeps_nothing_of_them() {
    let emu = Emu::new(EmuConfig::verifier());
    let cfg = LoopbackConfig {
        capacity: MAX_WRITE as u32 + 1000,
        ..LoopbackConfig::DEFAULT
    };
    let lb = open(&emu, cfg);
    assert_eq!(lb.write(&[0x11; MAX_WRITE], 1), WriteOutcome::Accepted);
    assert_eq!(lb.write(&[0x22; 1_001], 1), WriteOutcome::Full);
    assert_eq!(
        lb.write_parts(&[&[0x33; 600], &[0x44; 400]], 1),
        WriteOutcome::Accepted
    );
    let s = lb.stats();
    assert_eq!(s.writes_refused_full, 1);
    assert_eq!(s.high_water, MAX_WRITE as u64 + 1000);
    invariant(&s);
    let mut out = vec![0u8; 2 * MAX_WRITE];
    assert_eq!(lb.read(&mut out), MAX_WRITE + 1000);
    assert!(out[..MAX_WRITE].iter().all(|&b| b == 0x11));
    assert!(out[MAX_WRITE..MAX_WRITE + 600].iter().all(|&b| b == 0x33));
    assert!(
        out[MAX_WRITE + 600..MAX_WRITE + 1000]
            .iter()
            .all(|&b| b == 0x44)
    );
    assert_eq!(
        lb.write(&[0x22; MAX_WRITE + 1001], 1),
        WriteOutcome::TooLarge
    );
    invariant(&lb.stats());
    finish(emu, lb);
}

#[test]
fn capacity_and_allocator_must_take_the_largest_write() {
    let emu = Emu::new(EmuConfig::verifier());
    let small = LoopbackConfig {
        capacity: MAX_WRITE as u32 - 1,
        ..LoopbackConfig::DEFAULT
    };
    assert!(Loopback::new(emu.clone(), small).is_err());
    let few_buffers = LoopbackConfig {
        allocator: AllocatorConfig {
            buffer_size: 100,
            max_buffers: 100,
            ..LoopbackConfig::DEFAULT.allocator
        },
        ..LoopbackConfig::DEFAULT
    };
    assert!(Loopback::new(emu.clone(), few_buffers).is_err());
    emu.unload().expect("clean unload");
}

#[test]
fn closed_refuses_and_allocator_exhaustion_is_full_unless_empty() {
    let emu = Emu::new(EmuConfig::verifier());
    let chunks = MAX_WRITE.div_ceil(100) as u32;
    let cfg = LoopbackConfig {
        capacity: 1 << 20,
        allocator: AllocatorConfig {
            buffer_size: 100,
            reserve_events: 0,
            reserve_buffers: 0,
            max_events: chunks + 1,
            max_buffers: chunks,
            poison_freed: true,
        },
    };
    let lb = Loopback::new(emu.clone(), cfg).unwrap();
    assert_eq!(lb.write(&[1; 10], 5), WriteOutcome::NoListener);
    lb.set_listening(true);
    assert_eq!(lb.write(&[1; MAX_WRITE], 5), WriteOutcome::Accepted); // every buffer
    // Needs another buffer while bytes are queued: full (a read frees some), nothing kept.
    assert_eq!(lb.write(&[2; 50], 6), WriteOutcome::Full);
    // An inline chunk takes the last event.
    assert_eq!(lb.write(&[4; 4], 7), WriteOutcome::Accepted);
    assert_eq!(lb.write(&[5; 1], 8), WriteOutcome::Full);
    let s = lb.stats();
    assert_eq!(s.writes_refused_alloc_full, 2);
    invariant(&s);
    let mut out = vec![0u8; 2 * MAX_WRITE];
    assert_eq!(lb.read(&mut out), MAX_WRITE + 4);
    let a = Allocator::from_com(lb.allocator()).unwrap().stats();
    assert_eq!((a.outstanding_events, a.outstanding_buffers), (0, 0));
    // Empty now: a failing pool makes the write `NoMemory` (nothing will drain).
    emu.set_fault_plan(mxf_kemu::FaultPlan::EveryNth(1));
    assert_eq!(lb.write(&[6; 250], 9), WriteOutcome::NoMemory);
    emu.set_fault_plan(mxf_kemu::FaultPlan::None);
    assert_eq!(lb.write(&[6; 250], 9), WriteOutcome::Accepted);
    lb.set_listening(false);
    assert_eq!(lb.write(&[6; 2], 9), WriteOutcome::NoListener);
    let s = lb.stats();
    assert_eq!(
        (s.writes_refused_no_memory, s.writes_refused_closed),
        (1, 2)
    );
    invariant(&s);
    finish(emu, lb);
}

#[test]
fn discard_and_drop_return_every_chunk() {
    let emu = Emu::new(EmuConfig::verifier());
    let lb = open(&emu, LoopbackConfig::DEFAULT);
    for i in 0..100 {
        lb.write(&[i as u8; 5000], i);
    }
    assert_eq!(lb.discard(), 500_000);
    let s = lb.stats();
    assert_eq!(s.bytes_discarded, 500_000);
    invariant(&s);
    for i in 0..10 {
        lb.write(&[1, 2, 3], i);
    }
    // Dropped with data queued: returned before the allocator goes.
    finish(emu, lb);
}

#[test]
fn usable_at_dispatch_level() {
    let emu = Emu::new(EmuConfig::verifier());
    let lb = open(&emu, LoopbackConfig::DEFAULT);
    emu.at_irql(mxf_core::platform::DISPATCH_LEVEL, || {
        assert_eq!(lb.write(&[0x90, 1, 2], 1), WriteOutcome::Accepted);
        let mut b = [0u8; 8];
        assert_eq!(lb.read(&mut b), 3);
    });
    finish(emu, lb);
}

#[derive(Debug, Clone)]
enum Op {
    Write(usize, i64),
    Read(usize),
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Against a model: a byte queue where whole writes are refused past the capacity.
    #[test]
    fn matches_a_model(ops in prop::collection::vec(
        prop_oneof![
            (1usize..40_000, 0i64..4).prop_map(|(n, t)| Op::Write(n, t)),
            (0usize..50_000).prop_map(Op::Read),
        ], 1..60)) {
        let emu = Emu::new(EmuConfig::default());
        let cap = MAX_WRITE + 30_000;
        let cfg = LoopbackConfig { capacity: cap as u32, ..LoopbackConfig::DEFAULT };
        let lb = open(&emu, cfg);
        let mut model = std::collections::VecDeque::new();
        let mut seq = 0u8;
        for op in ops {
            match op {
                Op::Write(n, t) => {
                    let bytes: Vec<u8> = (0..n).map(|_| { seq = seq.wrapping_add(1); seq }).collect();
                    let fits = model.len() + n <= cap;
                    let r = lb.write(&bytes, t);
                    prop_assert_eq!(r, if fits { WriteOutcome::Accepted } else { WriteOutcome::Full });
                    if fits { model.extend(bytes); }
                }
                Op::Read(n) => {
                    let mut out = vec![0u8; n];
                    let got = lb.read(&mut out);
                    let want: Vec<u8> = model.drain(..n.min(model.len())).collect();
                    prop_assert_eq!(&out[..got], &want[..]);
                }
            }
            let s = lb.stats();
            prop_assert_eq!(s.bytes_queued as usize, model.len());
            prop_assert_eq!(s.bytes_in, s.bytes_out + s.bytes_dropped() + s.bytes_queued);
        }
        drop(lb);
        prop_assert!(emu.unload().is_ok());
    }
}
