//! Fuzzing `--file`: arbitrary bytes, mutated from a seed corpus of valid files
//! (`tests/fixtures/corpus/`, and the hostile files of `tests/fixtures/hostile/`), fed to the SMF
//! reader and to the whole `--file` path (the file read into units, played through the loopback,
//! compared and accounted). Whatever the bytes: no panic, no hang (every input runs under a
//! wall-clock limit, past which the test fails naming the input), and a file is either an input
//! error with a message or a run that passes, every loss counted by cause.
//!
//! The mutation loop is seeded and deterministic: a failure prints the seed, the iteration
//! and the input in hex. The test command runs a bounded number of iterations; for a longer
//! run, raise them (and vary the seed) with environment variables:
//!
//! ```text
//! MXFSIM_FUZZ_ITERS=100000 MXFSIM_FUZZ_SEED=7 cargo test --release -p mxfsim --test fuzz_file
//! ```
//!
//! `MXFSIM_FUZZ_ITERS` sets the iterations of the reader target; the pipeline target runs
//! one in 20 of that many (each is a whole emulated run, with options chosen by the input),
//! and the binary target (`mxfsim --quick --file`, a process each) one in 500.

mod common;

use mxf_portemu::Packaging;
use mxfsim::input::{MAX_TIME_100NS, units_from_file};
use mxfsim::sim::{SimOptions, run};
use mxfsim::smf::read_smf;
use mxfsim::workload::Rng;
use std::sync::mpsc;
use std::time::Duration;

/// Iterations of the reader target in the test command.
const READER_ITERS: u64 = 20_000;
/// Iterations of the pipeline target in the test command.
const PIPELINE_ITERS: u64 = 4_000;
/// Iterations of the binary target (a process each) in the test command.
const BINARY_ITERS: u64 = 40;
/// The longest one input may take, in a debug build on a loaded machine (a run of a small
/// file takes milliseconds).
const LIMIT: Duration = Duration::from_secs(60);

fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|v| v.parse().ok())
}

fn seed() -> u64 {
    env_u64("MXFSIM_FUZZ_SEED").unwrap_or(1)
}

/// The seed corpus, in name order.
fn corpus() -> Vec<Vec<u8>> {
    let fixtures = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");
    let mut paths: Vec<_> = ["corpus", "hostile"]
        .iter()
        .flat_map(|d| std::fs::read_dir(format!("{fixtures}/{d}")).expect("fixture directory"))
        .map(|e| e.expect("corpus entry").path())
        .collect();
    paths.sort();
    let files: Vec<Vec<u8>> = paths
        .iter()
        .map(|p| std::fs::read(p).expect("corpus file"))
        .collect();
    assert!(files.len() >= 6, "the corpus holds {} files", files.len());
    files
}

/// Bytes a MIDI stream or an SMF is sensitive to.
const INTERESTING: [u8; 12] = [
    0x00, 0x01, 0x7F, 0x80, 0x81, 0x90, 0xF0, 0xF7, 0xF8, 0xFF, 0x2F, 0x51,
];

/// A mutant of one corpus file: one to four edits, or up to sixteen one time in four (bit
/// flips, interesting bytes, big lengths, insertions, deletions, duplications, splices from
/// another file, runs of random MIDI bytes, truncation).
fn mutate(rng: &mut Rng, corpus: &[Vec<u8>]) -> Vec<u8> {
    let mut v = corpus[rng.below(corpus.len() as u64) as usize].clone();
    let edits = if rng.below(4) == 0 { 16 } else { 4 };
    for _ in 0..1 + rng.below(edits) {
        let len = v.len() as u64;
        let at = rng.below(len + 1) as usize;
        match rng.below(10) {
            0 if at < v.len() => v[at] ^= 1 << rng.below(8),
            1 if at < v.len() => v[at] = INTERESTING[rng.below(12) as usize],
            2 => v.insert(at, INTERESTING[rng.below(12) as usize]),
            3 => v.insert(at, rng.next_u64() as u8),
            4 if at < v.len() => {
                let n = (1 + rng.below(8) as usize).min(v.len() - at);
                v.drain(at..at + n);
            }
            5 if at < v.len() => {
                let n = (1 + rng.below(16) as usize).min(v.len() - at);
                let piece = v[at..at + n].to_vec();
                let to = rng.below(v.len() as u64 + 1) as usize;
                v.splice(to..to, piece);
            }
            6 => {
                let other = &corpus[rng.below(corpus.len() as u64) as usize];
                let from = rng.below(other.len() as u64) as usize;
                let n = (1 + rng.below(32) as usize).min(other.len() - from);
                v.splice(at..at, other[from..from + n].iter().copied());
            }
            7 if at + 4 <= v.len() => {
                // A length or delta field made huge.
                let big = [0xFF, 0xFF, 0xFF, 0x7F];
                v[at..at + 4].copy_from_slice(&big);
            }
            8 => v.truncate(at),
            9 => {
                // Random MIDI: one byte in four a status byte.
                let n = 1 + rng.below(64) as usize;
                let run: Vec<u8> = (0..n)
                    .map(|_| {
                        let b = rng.next_u64() as u8;
                        if rng.below(4) == 0 {
                            b | 0x80
                        } else {
                            b & 0x7F
                        }
                    })
                    .collect();
                v.splice(at..at, run);
            }
            _ => {}
        }
    }
    v
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

enum Msg {
    Started(u64, Vec<u8>),
    Done(Result<bool, String>),
}

/// Runs `check` over `iters` mutants (after the corpus files themselves) on a worker thread;
/// fails the test if an input panics, fails its check, or takes longer than [`LIMIT`].
/// `check` says whether the input was accepted (played) rather than rejected; a mutation
/// loop whose inputs are nearly all rejected tests little, so at least `min_accepted` of
/// the inputs (a fraction) must be.
fn fuzz(target: &str, iters: u64, min_accepted: f64, check: fn(&[u8]) -> Result<bool, String>) {
    let seed = seed();
    let (tx, rx) = mpsc::channel();
    let worker = std::thread::spawn(move || {
        let corpus = corpus();
        let mut rng = Rng::new(seed);
        let n = corpus.len() as u64;
        for i in 0..n + iters {
            let input = match corpus.get(i as usize) {
                Some(f) => f.clone(),
                None => mutate(&mut rng, &corpus),
            };
            if tx.send(Msg::Started(i, input.clone())).is_err() {
                return;
            }
            let r = std::panic::catch_unwind(|| check(&input))
                .unwrap_or_else(|_| Err("panicked (message above)".into()));
            if tx.send(Msg::Done(r)).is_err() {
                return;
            }
        }
    });
    let mut current: Option<(u64, Vec<u8>)> = None;
    let (mut runs, mut accepted) = (0u64, 0u64);
    loop {
        match rx.recv_timeout(LIMIT) {
            Ok(Msg::Started(i, input)) => current = Some((i, input)),
            Ok(Msg::Done(Ok(a))) => {
                runs += 1;
                accepted += u64::from(a);
            }
            Ok(Msg::Done(Err(e))) => {
                let (i, input) = current.expect("an input started");
                panic!(
                    "{target}: seed {seed}, iteration {i}: {e}\ninput ({} B): {}",
                    input.len(),
                    hex(&input)
                );
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                let (i, input) = current.expect("an input started");
                panic!(
                    "{target}: seed {seed}, iteration {i}: still running after {LIMIT:?} (a \
                     hang)\ninput ({} B): {}",
                    input.len(),
                    hex(&input)
                );
            }
        }
    }
    worker.join().expect("fuzz worker");
    eprintln!("{target}: seed {seed}: {runs} inputs, {accepted} accepted");
    assert!(
        accepted as f64 >= min_accepted * runs as f64,
        "{target}: only {accepted} of {runs} inputs accepted"
    );
}

/// The reader: an error, or events in time order within the time limit; and the units of
/// the file likewise.
fn check_reader(data: &[u8]) -> Result<bool, String> {
    if let Ok(smf) = read_smf(data) {
        let ev = &smf.events;
        if ev.windows(2).any(|w| w[0].time_100ns > w[1].time_100ns) {
            return Err("events out of time order".into());
        }
        if ev
            .iter()
            .any(|e| e.time_100ns < 0 || e.time_100ns > MAX_TIME_100NS)
        {
            return Err("an event time outside 0..=MAX_TIME_100NS".into());
        }
    }
    match units_from_file(data) {
        Err(e) if e.is_empty() => Err("an input error without a message".into()),
        Err(_) => Ok(false),
        Ok(input) => {
            let u = &input.units;
            if u.is_empty() || u.iter().any(|u| u.bytes.is_empty()) {
                return Err("no units, or an empty one".into());
            }
            if u.windows(2).any(|w| w[0].offset > w[1].offset) {
                return Err("units out of time order".into());
            }
            let played: usize = u.iter().map(|u| u.bytes.len()).sum();
            if !mxfsim::smf::is_smf(data) && played != data.len() {
                return Err(format!("{played} of {} raw bytes in units", data.len()));
            }
            Ok(true)
        }
    }
}

/// The options of a run, chosen by the input's bytes (so a failure replays from the input
/// alone): verifier on or off, each packaging, small and default buffer sizes, fault
/// injection (losses must then be counted by cause) or none.
fn options(data: &[u8]) -> SimOptions {
    let h = data.iter().fold(0xCBF2_9CE4_8422_2325u64, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01B3)
    });
    SimOptions {
        verifier: h & 1 != 0,
        packaging: [Packaging::Flat, Packaging::Packages, Packaging::Mixed][(h >> 1) as usize % 3],
        buffer_size: [None, Some(9), Some(64), Some(4080)][(h >> 3) as usize % 4],
        loopback_buffer_size: [None, Some(9), Some(100)][(h >> 5) as usize % 3],
        faults: [None, None, None, Some(2), Some(5)][(h >> 7) as usize % 5],
        seed: h >> 16,
        ..SimOptions::new()
    }
}

/// The whole `--file` path: an input error with a message, or a run that passes.
fn check_pipeline(data: &[u8]) -> Result<bool, String> {
    let input = match units_from_file(data) {
        Err(e) if e.is_empty() => return Err("an input error without a message".into()),
        Err(_) => return Ok(false),
        Ok(i) => i,
    };
    let rep = run(&input.units, "fuzz", &options(data));
    if rep.units != input.units.len() as u64 {
        return Err(format!(
            "{} units played of {}",
            rep.units,
            input.units.len()
        ));
    }
    if rep.passed() {
        Ok(true)
    } else {
        Err(format!("the run failed:\n{rep}"))
    }
}

/// The binary itself: exit 0 with a PASS, or exit 2 with an `mxfsim:` message; never a
/// panic, never exit 1.
fn check_binary(data: &[u8]) -> Result<bool, String> {
    let h = data
        .iter()
        .fold(0u64, |h, &b| h.wrapping_mul(31).wrapping_add(u64::from(b)));
    let path = common::tmp(&format!("fuzz-{h:016x}"), data);
    let out = common::mxfsim_within(
        &["--quick", "--no-progress", "--file", path.to_str().unwrap()],
        None,
        LIMIT,
    );
    let _ = std::fs::remove_file(&path);
    let (stdout, stderr) = (common::text(&out.stdout), common::text(&out.stderr));
    if stderr.contains("panicked") {
        return Err(format!("a panic:\n{stderr}"));
    }
    match out.status.code() {
        Some(0) if stdout.contains("result               PASS") => Ok(true),
        Some(2) if stderr.starts_with("mxfsim: ") && stdout.is_empty() => Ok(false),
        other => Err(format!("exit {other:?}\n{stdout}\n{stderr}")),
    }
}

#[test]
fn the_smf_reader_takes_arbitrary_bytes() {
    let iters = env_u64("MXFSIM_FUZZ_ITERS").unwrap_or(READER_ITERS);
    fuzz("reader", iters, 0.3, check_reader);
}

#[test]
fn the_file_path_takes_arbitrary_bytes() {
    let iters = env_u64("MXFSIM_FUZZ_ITERS").map_or(PIPELINE_ITERS, |n| n / 20);
    fuzz("pipeline", iters, 0.3, check_pipeline);
}

#[test]
fn the_binary_takes_arbitrary_files() {
    let iters = env_u64("MXFSIM_FUZZ_ITERS").map_or(BINARY_ITERS, |n| n / 500);
    fuzz("binary", iters, 0.2, check_binary);
}
