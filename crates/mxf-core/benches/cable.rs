//! Cable benchmark: one cable with 1, 2 and 4 readers, throughput and per-message cost of
//! `Cable::write`, against baselines measured in the same run.
//!
//! Goal: **each extra reader costs no more than one copy of the data** — the cable copies a
//! message once per reader, so the cost added by a reader should be at most that of one
//! `Loopback::write_parts` of the same bytes (the baseline, timed the same way in the same
//! run). Reported per workload: ns per message and MB/s (the bytes written once, 10^6
//! bytes/s) for each reader count, their ratios to one reader, the extra cost per reader
//! (`(cost(k) - cost(1)) / (k - 1)`) and its ratio to the baseline (goal: <= 1.0).
//!
//! Method: mxf-kemu with Verifier and special pool off, everything inside one
//! `at_irql(DISPATCH_LEVEL, ..)`, the process confined to the CPU it starts on
//! (`common::OneCpu`). Readers have `LoopbackConfig::DEFAULT` loopbacks; the feedback guard
//! is off (its cost is one check per message, independent of the readers). Each timed batch
//! writes messages with one write time (as one render run does) until about
//! `MXF_BENCH_BATCH_KIB` KiB (default 256) are queued per reader; the readers are drained
//! untimed between batches (their drains are the capture side's cost, not the cable's).
//! After one untimed round (the loopbacks' allocators warm), every configuration runs once
//! per round, in turn, and the per-message cost reported is the median over
//! `MXF_BENCH_ROUNDS` rounds (default 30). Two workloads: 3-byte notes (per-message
//! overhead) and 4080-byte SysEx pieces (one loopback buffer: the copy).
//!
//! Run: `cargo bench -p mxf-core --bench cable`.

mod common;

use mxf_core::cable::{Cable, CableConfig, ReaderId, WriterId};
use mxf_core::feedback::FeedbackConfig;
use mxf_core::loopback::{Loopback, LoopbackConfig, WriteOutcome};
use mxf_core::platform::DISPATCH_LEVEL;
use mxf_kemu::{Emu, EmuConfig};
use std::hint::black_box;
use std::time::Instant;

/// Bytes queued per reader per timed batch: `MXF_BENCH_BATCH_KIB` KiB, default 256 (what
/// one render run of 64 buffer events writes).
fn batch_bytes() -> usize {
    std::env::var("MXF_BENCH_BATCH_KIB")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(256)
        .max(1)
        * 1024
}
/// Reader counts measured.
const READERS: [usize; 3] = [1, 2, 4];

/// `cargo bench` passes `--bench`; `cargo test --benches` runs the binary without it, as a
/// smoke test, which only needs a few iterations (its numbers mean nothing).
fn smoke() -> bool {
    !std::env::args().any(|a| a == "--bench")
}

fn rounds() -> usize {
    let default = if smoke() { 2 } else { 30 };
    std::env::var("MXF_BENCH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// A workload: its name and the one message it writes over and over.
struct Workload {
    name: &'static str,
    message: Vec<u8>,
}

fn workloads() -> Vec<Workload> {
    vec![
        Workload {
            name: "3-byte notes",
            message: vec![0x90, 0x40, 0x7F],
        },
        Workload {
            name: "4080-byte SysEx pieces",
            message: (0..4080).map(|i| (i % 0x80) as u8).collect(),
        },
    ]
}

/// Messages per batch for `msg`.
fn per_batch(msg: &[u8]) -> usize {
    (batch_bytes() / msg.len()).max(1)
}

/// One timed batch of `Cable::write`s; returns ns per message.
fn cable_batch(cable: &Cable<Emu>, lbs: &[Loopback<Emu>], msg: &[u8], t: i64) -> f64 {
    let w = WriterId::new(0).expect("writer 0");
    let n = per_batch(msg);
    let start = Instant::now();
    for _ in 0..n {
        let r = cable.write(w, &[msg], t);
        debug_assert_eq!(r.outcome, WriteOutcome::Accepted);
        black_box(r);
    }
    let ns = start.elapsed().as_nanos() as f64 / n as f64;
    for lb in lbs {
        lb.drain_chunks(usize::MAX, None, |b, _| {
            black_box(b);
        });
    }
    ns
}

/// The baseline: the same batch as plain `Loopback::write_parts` into one loopback.
fn loopback_batch(lb: &Loopback<Emu>, msg: &[u8], t: i64) -> f64 {
    let n = per_batch(msg);
    let start = Instant::now();
    for _ in 0..n {
        black_box(lb.write_parts(&[msg], t));
    }
    let ns = start.elapsed().as_nanos() as f64 / n as f64;
    lb.drain_chunks(usize::MAX, None, |b, _| {
        black_box(b);
    });
    ns
}

fn main() {
    let emu = Emu::new(EmuConfig {
        verifier: false,
        special_pool: false,
        ..EmuConfig::default()
    });
    let pinned = common::OneCpu::pin();
    let off = CableConfig {
        feedback: FeedbackConfig {
            max_messages_per_window: 0,
            ..FeedbackConfig::DEFAULT
        },
    };
    let rounds = rounds();
    println!("cable benchmark: {rounds} rounds, {}", pinned.describe());
    // Loopbacks are made (and dropped) at PASSIVE_LEVEL; only the measurement runs at
    // DISPATCH_LEVEL.
    let base = Loopback::new(emu.clone(), LoopbackConfig::DEFAULT).expect("loopback");
    base.set_listening(true);
    let cables: Vec<(Cable<Emu>, Vec<Loopback<Emu>>)> = READERS
        .iter()
        .map(|&k| {
            let cable = Cable::new(emu.clone(), off);
            let lbs: Vec<_> = (0..k)
                .map(|_| Loopback::new(emu.clone(), LoopbackConfig::DEFAULT).expect("lb"))
                .collect();
            (cable, lbs)
        })
        .collect();
    let mut ids: Vec<Vec<ReaderId>> = Vec::new();
    for (cable, lbs) in &cables {
        // SAFETY: every loopback outlives its attachment: all are detached below, before
        // they drop.
        let v: Vec<_> = lbs
            .iter()
            .map(|lb| unsafe { cable.attach(lb) }.expect("reader"))
            .collect();
        for &id in &v {
            cable.join(id);
        }
        ids.push(v);
    }
    emu.at_irql(DISPATCH_LEVEL, || {
        for wl in workloads() {
            let msg = &wl.message[..];
            let mut base_ns = Vec::new();
            let mut ns: Vec<Vec<f64>> = READERS.iter().map(|_| Vec::new()).collect();
            // One untimed round first: every loopback's allocator has its chunks in hand.
            loopback_batch(&base, msg, -1);
            for (cable, lbs) in &cables {
                cable_batch(cable, lbs, msg, -1);
            }
            for r in 0..rounds {
                let t = r as i64;
                base_ns.push(loopback_batch(&base, msg, t));
                for ((cable, lbs), v) in cables.iter().zip(ns.iter_mut()) {
                    v.push(cable_batch(cable, lbs, msg, t));
                }
            }
            report(
                &wl,
                median(&mut base_ns),
                ns.iter_mut().map(|v| median(v)).collect(),
            );
        }
    });
    for ((cable, _), v) in cables.iter().zip(ids) {
        for id in v {
            cable.detach(id);
        }
    }
    drop(cables);
    drop(base);
    drop(pinned);
    emu.unload().expect("clean unload");
}

/// Prints one workload's figures: `base` the baseline's ns per message, `cost` the cable's
/// for each of [`READERS`].
fn report(wl: &Workload, base: f64, cost: Vec<f64>) {
    let len = wl.message.len() as f64;
    let one = cost[0];
    println!("\n{} ({} bytes a message):", wl.name, wl.message.len());
    println!(
        "  baseline, one Loopback::write_parts: {base:9.1} ns/message, {:8.1} MB/s",
        len * 1e3 / base
    );
    for (k, c) in READERS.iter().zip(&cost) {
        println!(
            "  {k} reader(s): {c:9.1} ns/message, {:8.1} MB/s, {:5.2}x one reader's cost",
            len * 1e3 / c,
            c / one
        );
    }
    for (k, c) in READERS.iter().zip(&cost).skip(1) {
        let extra = (c - one) / (*k as f64 - 1.0);
        println!(
            "  extra cost per reader with {k}: {extra:9.1} ns = {:5.2}x one loopback write \
             (goal <= 1.0)",
            extra / base
        );
    }
}
