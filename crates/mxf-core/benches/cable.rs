//! Cable benchmark: one cable with 1, 2 and 4 readers, the per-message cost of
//! `Cable::write`, against baselines measured in the same run.
//!
//! Goal: **each extra reader costs no more than one copy of the data** — the cable copies a
//! message once per reader, so the cost a reader adds, `(cost(k) - cost(1)) / (k - 1)` for
//! `k` readers, should be at most that of one `Loopback::write_parts` of the same bytes (the
//! baseline, measured the same way in the same run). Each workload ends with a `MET` or
//! `NOT MET` line.
//!
//! Two modes:
//! - **Time** (the default): ns per message and MB/s (the bytes written once, 10^6 bytes/s).
//!   Besides the one-loopback baseline it times *k plain copies*: each message written into
//!   `k` loopbacks one after the other, without a cable — the very work the cable's readers
//!   do. Its extra cost per loopback is what one more copy costs with `k` queues' worth of
//!   memory in play (more than one copy into one queue once the queues outgrow the caches);
//!   the goal line compares the cable's extra cost per reader with it, and the ratio to the
//!   one-loopback write is printed too.
//! - **Instructions** (`MXF_BENCH_INSTRUCTIONS=1`, needs `valgrind` on the `PATH`): each
//!   case (baseline, 1, 2, 4 readers) runs in its own process under
//!   `valgrind --tool=callgrind`, which counts only the instructions of the measured writes
//!   (`--toggle-collect` of `measured_region`, outside of which the setup, warm-up and
//!   drains run). Instruction counts do not depend on the machine's load, so this mode
//!   judges the cable's own work; it is blind to cache misses, which the time mode sees. The
//!   goal line compares with the one-loopback write, counted inclusively without the
//!   measured loop around it (the cable's loop is in `cost(1)` and drops out of the extra
//!   cost, the baseline's would not). Each cable case is also split into the
//!   cable's own instructions and its readers' loopback writes (the inclusive cost of the
//!   calls of `Loopback` writes, read from the callgrind file): the cable's own cost per
//!   extra reader is the one thing the cable's code decides. The processes' callgrind files
//!   stay in the temporary directory (their paths are printed):
//!   `callgrind_annotate --inclusive=yes <file>` shows where the instructions go.
//!
//! Method: mxf-kemu with Verifier and special pool off, everything inside one
//! `at_irql(DISPATCH_LEVEL, ..)`, the process confined to the CPU it starts on
//! (`common::OneCpu`). Readers have `LoopbackConfig::DEFAULT` loopbacks (with
//! `MXF_BENCH_RESERVE=1`, their allocators reserve the chunks of a whole batch, so that no
//! chunk comes from the platform's block pool: the steady state of a queue read as fast as it
//! is written; the default makes most chunks of a large batch come from the block pool, as
//! a long burst does, which on the emulator costs a `malloc`); the feedback guard
//! is off (its cost is one check per message, independent of the readers). Each measured
//! batch writes messages with one write time (as one render run does) until about
//! `MXF_BENCH_BATCH_KIB` KiB (default 256) are queued per reader; the queues are drained
//! outside the measurement between batches (their drains are the capture side's cost, not
//! the cable's), so every configuration starts each batch with empty queues and warm
//! allocators. Time mode: after one unmeasured round, every configuration runs once per
//! round, in turn, and the per-message cost reported is the median over `MXF_BENCH_ROUNDS`
//! rounds (default 30). Instruction mode: one unmeasured batch, then `MXF_BENCH_ROUNDS`
//! measured ones (default 2). Two workloads: 3-byte notes (per-message overhead) and
//! 4080-byte SysEx pieces (one loopback buffer: the copy).
//!
//! Run: `cargo bench -p mxf-core --bench cable`, or
//! `MXF_BENCH_INSTRUCTIONS=1 cargo bench -p mxf-core --bench cable` (about 30 s); either with
//! `MXF_BENCH_RESERVE=1` for the steady state.

mod common;

use mxf_core::cable::{Cable, CableConfig, ReaderId, WriterId};
use mxf_core::feedback::FeedbackConfig;
use mxf_core::loopback::{Loopback, LoopbackConfig, WriteOutcome};
use mxf_core::platform::DISPATCH_LEVEL;
use mxf_kemu::{Emu, EmuConfig};
use std::hint::black_box;
use std::path::PathBuf;
use std::time::Instant;

/// Bytes queued per reader per measured batch: `MXF_BENCH_BATCH_KIB` KiB, default 256 (what
/// one render run of 64 buffer events writes).
fn batch_bytes() -> usize {
    std::env::var("MXF_BENCH_BATCH_KIB")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(256)
        .max(1)
        * 1024
}

/// The loopbacks' configuration: `LoopbackConfig::DEFAULT`, or with `MXF_BENCH_RESERVE=1`
/// its allocator reserving the chunks of a whole batch (the steady state of a queue that is
/// read as fast as it is written: every chunk comes from the reserve, none from the block
/// pool).
fn loopback_config() -> LoopbackConfig {
    let mut cfg = LoopbackConfig::DEFAULT;
    if std::env::var_os("MXF_BENCH_RESERVE").is_some_and(|v| v != "0") {
        let a = &mut cfg.allocator;
        let buffers = batch_bytes() / usize::from(a.buffer_size) + 2;
        // Inline chunks hold 8 bytes; a write of a buffer's size or more takes one event per
        // buffer.
        let events = batch_bytes() / 8 + 2;
        a.reserve_events = events.min(usize::from(u16::MAX)) as u16;
        a.reserve_buffers = buffers.min(usize::from(u16::MAX)) as u16;
        a.max_events = a.max_events.max(u32::from(a.reserve_events));
        a.max_buffers = a.max_buffers.max(u32::from(a.reserve_buffers));
    }
    cfg
}

/// Reader counts measured (and counts of plain copies).
const READERS: [usize; 3] = [1, 2, 4];

/// The instruction mode's switch.
const INSTRUCTIONS: &str = "MXF_BENCH_INSTRUCTIONS";
/// Set in an instruction-mode process: the one case it runs.
const CASE: &str = "MXF_BENCH_CASE";

/// `cargo bench` passes `--bench`; `cargo test --benches` runs the binary without it, as a
/// smoke test, which only needs a few iterations (its numbers mean nothing).
fn smoke() -> bool {
    !std::env::args().any(|a| a == "--bench")
}

fn rounds(default: usize) -> usize {
    let default = if smoke() { 2 } else { default };
    std::env::var("MXF_BENCH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
        .max(1)
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

/// What one measurement writes into.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Target {
    /// Plain `Loopback::write_parts` into the first `k` loopbacks, one after the other (`k`
    /// = 1: the baseline, one loopback write).
    Copies(usize),
    /// `Cable::write` into the cable with `k` readers.
    Cable(usize),
}

impl Target {
    fn code(self) -> String {
        match self {
            Target::Copies(k) => format!("copies{k}"),
            Target::Cable(k) => format!("cable{k}"),
        }
    }

    fn parse(s: &str) -> Option<Self> {
        if let Some(k) = s.strip_prefix("copies") {
            k.parse().ok().map(Target::Copies)
        } else {
            s.strip_prefix("cable")?.parse().ok().map(Target::Cable)
        }
    }
}

/// The loopbacks and cables every measurement uses (made at `PASSIVE_LEVEL`).
struct Rig {
    /// For each of [`READERS`], as many plain loopbacks for [`Target::Copies`] (each target
    /// its own, as each cable has its own readers: every target's queues are as warm or as
    /// cold in the caches as every other's).
    plain: Vec<Vec<Loopback<Emu>>>,
    /// For each of [`READERS`]: the cable, its readers' loopbacks, their ids.
    cables: Vec<Fanout>,
}

/// A cable, its readers' loopbacks and their ids.
type Fanout = (Cable<Emu>, Vec<Loopback<Emu>>, Vec<ReaderId>);

impl Rig {
    fn new(emu: &Emu) -> Self {
        let off = CableConfig {
            feedback: FeedbackConfig {
                max_messages_per_window: 0,
                ..FeedbackConfig::DEFAULT
            },
        };
        let cfg = loopback_config();
        let lb = || Loopback::new(emu.clone(), cfg).expect("loopback");
        let plain: Vec<Vec<_>> = READERS
            .iter()
            .map(|&k| (0..k).map(|_| lb()).collect())
            .collect();
        for l in plain.iter().flatten() {
            l.set_listening(true);
        }
        let cables = READERS
            .iter()
            .map(|&k| {
                let cable = Cable::new(emu.clone(), off);
                let lbs: Vec<_> = (0..k).map(|_| lb()).collect();
                // SAFETY: every loopback outlives its attachment: `Rig::close` detaches
                // them all before they drop.
                let ids: Vec<_> = lbs
                    .iter()
                    .map(|l| unsafe { cable.attach(l) }.expect("reader"))
                    .collect();
                for &id in &ids {
                    cable.join(id);
                }
                (cable, lbs, ids)
            })
            .collect();
        Self { plain, cables }
    }

    /// Where `k` is in [`READERS`].
    fn index(k: usize) -> usize {
        READERS
            .iter()
            .position(|&r| r == k)
            .expect("a measured count")
    }

    /// The cable with `k` readers and their loopbacks.
    fn cable(&self, k: usize) -> (&Cable<Emu>, &[Loopback<Emu>]) {
        let (c, lbs, _) = &self.cables[Self::index(k)];
        (c, lbs)
    }

    /// The loopbacks `t` writes into.
    fn queues(&self, t: Target) -> &[Loopback<Emu>] {
        match t {
            Target::Copies(k) => &self.plain[Self::index(k)],
            Target::Cable(k) => self.cable(k).1,
        }
    }

    /// One batch of `msg` into `t` at time `time`, through `measure` (which calls the
    /// closure it gets once, and measures it); then the queues are drained, unmeasured.
    fn batch<R>(
        &self,
        t: Target,
        msg: &[u8],
        time: i64,
        measure: impl FnOnce(&mut dyn FnMut()) -> R,
    ) -> R {
        let n = per_batch(msg);
        let r = match t {
            Target::Copies(k) => {
                let lbs = &self.plain[Self::index(k)];
                measure(&mut || {
                    for _ in 0..n {
                        for lb in lbs {
                            black_box(lb.write_parts(&[msg], time));
                        }
                    }
                })
            }
            Target::Cable(k) => {
                let cable = self.cable(k).0;
                let w = WriterId::new(0).expect("writer 0");
                measure(&mut || {
                    for _ in 0..n {
                        let r = cable.write(w, &[msg], time);
                        debug_assert_eq!(r.outcome, WriteOutcome::Accepted);
                        black_box(r);
                    }
                })
            }
        };
        for lb in self.queues(t) {
            lb.drain_chunks(usize::MAX, None, |b, _| {
                black_box(b);
            });
        }
        r
    }

    fn close(self) {
        for (cable, _, ids) in &self.cables {
            for &id in ids {
                cable.detach(id);
            }
        }
    }
}

/// Times `f`: ns.
fn timed(f: &mut dyn FnMut()) -> f64 {
    let start = Instant::now();
    f();
    start.elapsed().as_nanos() as f64
}

/// The only code the instruction mode counts (`--toggle-collect`): runs `f`.
#[inline(never)]
fn measured_region(f: &mut dyn FnMut()) {
    f();
}

fn main() {
    let emu = Emu::new(EmuConfig {
        verifier: false,
        special_pool: false,
        ..EmuConfig::default()
    });
    let pinned = common::OneCpu::pin();
    if let Ok(case) = std::env::var(CASE) {
        run_case(&emu, &case);
    } else if std::env::var_os(INSTRUCTIONS).is_some_and(|v| v != "0") {
        count_instructions();
    } else {
        time_all(&emu, &pinned);
    }
    drop(pinned);
    emu.unload().expect("clean unload");
}

/// The time mode (see the module docs).
fn time_all(emu: &Emu, pinned: &common::OneCpu) {
    let rounds = rounds(30);
    println!(
        "cable benchmark, time: {rounds} rounds, {}",
        pinned.describe()
    );
    let targets: Vec<Target> = READERS
        .iter()
        .map(|&k| Target::Copies(k))
        .chain(READERS.iter().map(|&k| Target::Cable(k)))
        .collect();
    let rig = Rig::new(emu);
    emu.at_irql(DISPATCH_LEVEL, || {
        for wl in workloads() {
            let msg = &wl.message[..];
            let n = per_batch(msg) as f64;
            let mut ns: Vec<Vec<f64>> = targets.iter().map(|_| Vec::new()).collect();
            // One unmeasured round first: every loopback's allocator has its chunks in hand.
            for &t in &targets {
                rig.batch(t, msg, -1, timed);
            }
            for r in 0..rounds {
                for (&t, v) in targets.iter().zip(ns.iter_mut()) {
                    v.push(rig.batch(t, msg, r as i64, timed) / n);
                }
            }
            let med: Vec<f64> = ns.iter_mut().map(|v| median(v)).collect();
            let (copies, cable) = med.split_at(READERS.len());
            report(&wl, "ns", cable, copies);
        }
    });
    rig.close();
}

/// An instruction-mode process: runs case `case` (`<workload index>:<target code>`), its
/// measured batches inside [`measured_region`].
fn run_case(emu: &Emu, case: &str) {
    let (w, t) = case.split_once(':').expect("case");
    let wl = &workloads()[w.parse::<usize>().expect("workload")];
    let t = Target::parse(t).expect("target");
    let rig = Rig::new(emu);
    emu.at_irql(DISPATCH_LEVEL, || {
        rig.batch(t, &wl.message, -1, |f| f());
        for r in 0..rounds(2) {
            rig.batch(t, &wl.message, r as i64, measured_region);
        }
    });
    rig.close();
}

/// The instruction mode (see the module docs).
fn count_instructions() {
    let rounds = rounds(2);
    println!("cable benchmark, instructions (callgrind): {rounds} measured batches a case");
    for (w, wl) in workloads().iter().enumerate() {
        let messages = (rounds * per_batch(&wl.message)) as f64;
        let per_message = |t: Target| {
            let c = callgrind(w, t);
            (c.total / messages, c.loopback / messages)
        };
        // The baseline is the loopback write itself (inclusive), without the measured loop
        // around it: the cable's loop is in `cost(1)` and drops out of the extra cost.
        let (base_loop, base) = per_message(Target::Copies(1));
        println!("  (the baseline's measured loop: {base_loop:.1} a message, the write {base:.1})");
        let copies = [base];
        let (cable, lb): (Vec<f64>, Vec<f64>) = READERS
            .iter()
            .map(|&k| per_message(Target::Cable(k)))
            .unzip();
        report(wl, "instructions", &cable, &copies);
        split(&cable, &lb, copies[0]);
    }
}

/// Prints how the cable's instructions split: `lb` is what its readers' `Loopback` writes
/// cost of `cable`, `base` the baseline.
fn split(cable: &[f64], lb: &[f64], base: f64) {
    if lb.iter().any(|&l| l <= 0.0) {
        println!("  (no loopback write was seen apart: inlined? the split is not available)");
        return;
    }
    println!("  split, per message: the cable's own work + its readers' loopback writes:");
    let own: Vec<f64> = cable.iter().zip(lb).map(|(c, l)| c - l).collect();
    for ((k, o), l) in READERS.iter().zip(&own).zip(lb) {
        println!(
            "    {k} reader(s): {o:8.1} own + {k} x {:8.1} ({:5.2}x the baseline)",
            l / *k as f64,
            l / *k as f64 / base
        );
    }
    for (k, o) in READERS.iter().zip(&own).skip(1) {
        let extra = (o - own[0]) / (*k as f64 - 1.0);
        println!(
            "    the cable's own work per extra reader with {k}: {extra:6.1} = {:5.2}x one \
             loopback write",
            extra / base
        );
    }
}

/// What callgrind counted of one case, in [`measured_region`].
struct Counted {
    /// Every instruction.
    total: f64,
    /// Those of the `Loopback` writes (inclusive).
    loopback: f64,
}

/// Runs case `t` of workload `w` under callgrind and reads its file.
fn callgrind(w: usize, t: Target) -> Counted {
    let exe = std::env::current_exe().expect("own path");
    let file = callgrind_file(w, t);
    let out = std::process::Command::new("valgrind")
        .arg("--tool=callgrind")
        .arg("--collect-atstart=no")
        .arg("--toggle-collect=*measured_region*")
        .arg("--compress-strings=no")
        .arg(format!("--callgrind-out-file={}", file.display()))
        .arg(&exe)
        .args(std::env::args().skip(1))
        .env(CASE, format!("{w}:{}", t.code()))
        .output()
        .expect("valgrind (is it installed?)");
    assert!(out.status.success(), "callgrind process failed: {out:?}");
    println!("  callgrind file: {}", file.display());
    let text = std::fs::read_to_string(&file).expect("callgrind output");
    let mut lines = text.lines();
    let (mut total, mut loopback) = (None, 0.0);
    let (mut caller_is_write, mut callee_is_write) = (false, false);
    let is_write = |name: &str| {
        name.contains("Loopback")
            && (name.contains("write_measured") || name.contains("write_parts"))
    };
    let last_number = |l: &str| -> f64 {
        l.split_whitespace()
            .last()
            .and_then(|v| v.parse().ok())
            .unwrap_or(0.0)
    };
    // Inclusive cost of a call: the line after `calls=`, its last number (the one event, Ir);
    // the callee is named by the `cfn=` line before it, the caller by the last `fn=` line
    // (names uncompressed). A write called by a write is in its caller's cost already.
    while let Some(l) = lines.next() {
        if let Some(v) = l
            .strip_prefix("summary:")
            .or_else(|| l.strip_prefix("totals:"))
        {
            total = Some(last_number(v));
        } else if let Some(name) = l.strip_prefix("fn=") {
            caller_is_write = is_write(name);
        } else if let Some(name) = l.strip_prefix("cfn=") {
            callee_is_write = is_write(name);
        } else if l.starts_with("calls=") {
            let cost = lines.next().map_or(0.0, last_number);
            if callee_is_write && !caller_is_write {
                loopback += cost;
            }
        }
    }
    Counted {
        total: total.expect("a totals line"),
        loopback,
    }
}

/// Where the process of case `t` of workload `w` leaves its callgrind file.
fn callgrind_file(w: usize, t: Target) -> PathBuf {
    std::env::temp_dir().join(format!("mxf-cable-bench.{w}.{}.callgrind", t.code()))
}

/// Prints one workload's figures in `unit` per message: `cable` for each of [`READERS`],
/// `copies` the plain copies for the first of them at least (`copies[0]` is the baseline,
/// one loopback write; with all of them, the goal is judged against the extra cost of a copy
/// with as many queues).
fn report(wl: &Workload, unit: &str, cable: &[f64], copies: &[f64]) {
    let len = wl.message.len() as f64;
    let base = copies[0];
    let one = cable[0];
    println!(
        "\n{} ({} bytes a message), {unit} per message:",
        wl.name,
        wl.message.len()
    );
    let rate = |c: f64| {
        if unit == "ns" {
            format!(", {:8.1} MB/s", len * 1e3 / c)
        } else {
            String::new()
        }
    };
    println!(
        "  baseline, one Loopback::write_parts: {base:10.1}{}",
        rate(base)
    );
    for (k, c) in READERS.iter().zip(copies).skip(1) {
        println!(
            "  {k} plain copies (no cable):         {c:10.1}{}, extra per copy {:5.2}x the baseline",
            rate(*c),
            (c - base) / (*k as f64 - 1.0) / base
        );
    }
    for (k, c) in READERS.iter().zip(cable) {
        println!(
            "  cable, {k} reader(s):                 {c:10.1}{}, {:5.2}x one reader",
            rate(*c),
            c / one
        );
    }
    let mut met = true;
    for (i, (k, c)) in READERS.iter().zip(cable).enumerate().skip(1) {
        let kf = *k as f64 - 1.0;
        let extra = (c - one) / kf;
        let copy = copies.get(i).map(|ck| (ck - base) / kf);
        let against = copy.unwrap_or(base);
        met &= extra <= against;
        let fair = copy.map_or(String::new(), |cp| {
            format!(", {:5.2}x one more copy with {k} queues", extra / cp)
        });
        println!(
            "  extra cost per reader with {k}: {extra:10.1} = {:5.2}x one loopback write{fair}",
            extra / base
        );
    }
    let against = if copies.len() > 1 {
        "the extra cost of one plain copy with as many queues"
    } else {
        "one loopback write"
    };
    println!(
        "  goal: each extra reader costs no more than one copy of the data ({against}): {}",
        if met { "MET" } else { "NOT MET" }
    );
}
