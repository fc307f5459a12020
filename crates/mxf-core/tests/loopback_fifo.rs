//! The loopback FIFO on the emulator: order, timestamps, the byte invariant, overflow and
//! allocator exhaustion counted, every chunk returned.

mod render_support;

use mxf_core::alloc::{Allocator, AllocatorConfig};
use mxf_core::loopback::{Loopback, LoopbackConfig, LoopbackStats, WriteOutcome};
use mxf_kemu::{Emu, EmuConfig};
use proptest::prelude::*;

fn invariant(s: &LoopbackStats) {
    assert_eq!(
        s.bytes_in,
        s.bytes_out + s.bytes_dropped() + s.bytes_queued,
        "{s:?}"
    );
}

fn finish(emu: Emu, lb: Loopback<Emu>) {
    drop(lb);
    emu.unload().expect("clean unload");
}

#[test]
fn bytes_come_out_in_order_with_write_times() {
    let emu = Emu::new(EmuConfig::verifier());
    let lb = Loopback::new(emu.clone(), LoopbackConfig::DEFAULT).unwrap();
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
fn overflow_drops_whole_writes_and_counts_them() {
    let emu = Emu::new(EmuConfig::verifier());
    let cfg = LoopbackConfig {
        capacity: 10_000,
        ..LoopbackConfig::DEFAULT
    };
    let lb = Loopback::new(emu.clone(), cfg).unwrap();
    assert_eq!(lb.write(&[0x11; 9_000], 1), WriteOutcome::Accepted);
    assert_eq!(lb.write(&[0x22; 1_001], 1), WriteOutcome::DroppedFull);
    assert_eq!(lb.write(&[0x33; 1_000], 1), WriteOutcome::Accepted);
    let s = lb.stats();
    assert_eq!(s.bytes_dropped_full, 1_001);
    assert_eq!(s.writes_dropped, 1);
    assert_eq!(s.high_water, 10_000);
    invariant(&s);
    let mut out = vec![0u8; 20_000];
    assert_eq!(lb.read(&mut out), 10_000);
    assert!(out[..9_000].iter().all(|&b| b == 0x11));
    assert!(out[9_000..10_000].iter().all(|&b| b == 0x33));
    invariant(&lb.stats());
    finish(emu, lb);
}

#[test]
fn allocator_exhaustion_drops_the_write_and_keeps_the_queue_intact() {
    let emu = Emu::new(EmuConfig::verifier());
    let cfg = LoopbackConfig {
        capacity: 1 << 20,
        allocator: AllocatorConfig {
            buffer_size: 100,
            reserve_events: 0,
            reserve_buffers: 0,
            max_events: 3,
            max_buffers: 2,
            poison_freed: true,
        },
    };
    let lb = Loopback::new(emu.clone(), cfg).unwrap();
    assert_eq!(lb.write(&[1; 150], 5), WriteOutcome::Accepted); // 2 chunks, 2 buffers
    // Needs a third buffer: refused whole, nothing half-written.
    assert_eq!(lb.write(&[2; 50], 6), WriteOutcome::DroppedNoMemory);
    // Fits in the tail (same time, room left): no new chunk needed.
    assert_eq!(lb.write(&[3; 50], 5), WriteOutcome::Accepted);
    assert_eq!(lb.write(&[4; 4], 7), WriteOutcome::Accepted); // inline chunk, 3rd event
    assert_eq!(lb.write(&[5; 1], 8), WriteOutcome::DroppedNoMemory);
    let s = lb.stats();
    assert_eq!(s.bytes_dropped_no_memory, 51);
    invariant(&s);
    let mut out = vec![0u8; 1000];
    let n = lb.read(&mut out);
    let mut expect = vec![1u8; 150];
    expect.extend_from_slice(&[3; 50]);
    expect.extend_from_slice(&[4; 4]);
    assert_eq!(&out[..n], &expect[..]);
    let a = Allocator::from_com(lb.allocator()).unwrap().stats();
    assert_eq!((a.outstanding_events, a.outstanding_buffers), (0, 0));
    // Room again.
    assert_eq!(
        lb.write(&[6; 250], 9),
        WriteOutcome::DroppedNoMemory,
        "needs 3 buffers"
    );
    assert_eq!(lb.write(&[6; 200], 9), WriteOutcome::Accepted);
    invariant(&lb.stats());
    finish(emu, lb);
}

#[test]
fn discard_and_drop_return_every_chunk() {
    let emu = Emu::new(EmuConfig::verifier());
    let lb = Loopback::new(emu.clone(), LoopbackConfig::DEFAULT).unwrap();
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
    let lb = Loopback::new(emu.clone(), LoopbackConfig::DEFAULT).unwrap();
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

    /// Against a model: a byte queue where whole writes are dropped past the capacity.
    #[test]
    fn matches_a_model(ops in prop::collection::vec(
        prop_oneof![
            (1usize..9000, 0i64..4).prop_map(|(n, t)| Op::Write(n, t)),
            (0usize..12000).prop_map(Op::Read),
        ], 1..60)) {
        let emu = Emu::new(EmuConfig::default());
        let cfg = LoopbackConfig { capacity: 30_000, ..LoopbackConfig::DEFAULT };
        let lb = Loopback::new(emu.clone(), cfg).unwrap();
        let mut model = std::collections::VecDeque::new();
        let mut seq = 0u8;
        for op in ops {
            match op {
                Op::Write(n, t) => {
                    let bytes: Vec<u8> = (0..n).map(|_| { seq = seq.wrapping_add(1); seq }).collect();
                    let fits = model.len() + n <= 30_000;
                    let r = lb.write(&bytes, t);
                    prop_assert_eq!(r == WriteOutcome::Accepted, fits);
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
