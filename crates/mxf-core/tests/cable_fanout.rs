//! The cable's fan-out on the emulator: every joined reader gets every byte, a stalled reader
//! drops (counted exactly, never a SysEx with a hole) without blocking the others, and the
//! outcome rules with one reader are those of a plain loopback.

use mxf_core::cable::{Cable, CableConfig, MAX_READERS, WriterId};
use mxf_core::loopback::{Loopback, LoopbackConfig, MAX_WRITE, WriteOutcome};
use mxf_core::platform::DISPATCH_LEVEL;
use mxf_kemu::{Emu, EmuConfig};
use proptest::prelude::*;

fn drain(lb: &Loopback<Emu>, into: &mut Vec<u8>) {
    lb.drain_chunks(usize::MAX, None, |b, _| into.extend_from_slice(b));
}

/// The smallest loopback a cable's writes may meet: it holds one largest write.
fn small() -> LoopbackConfig {
    LoopbackConfig {
        capacity: MAX_WRITE as u32,
        ..LoopbackConfig::DEFAULT
    }
}

/// Writes as the render side makes them: notes, realtime bytes (also between SysEx pieces),
/// SysEx in 4 KiB pieces (first with `F0`, last with `F7`), one short SysEx whole. Each entry
/// is (bytes, is the end of a message).
fn workload() -> Vec<(Vec<u8>, bool)> {
    let mut w = Vec::new();
    for k in 0..12u8 {
        w.push((vec![0x90, k, 0x40], true));
        w.push((vec![0xF8], true));
        let len = 9_000 + usize::from(k) * 1_500;
        let data: Vec<u8> = (0..len)
            .map(|i| ((i + usize::from(k)) % 0x80) as u8)
            .collect();
        let pieces: Vec<&[u8]> = data.chunks(4_096).collect();
        for (i, p) in pieces.iter().enumerate() {
            let mut b = Vec::new();
            if i == 0 {
                b.push(0xF0);
            }
            b.extend_from_slice(p);
            let last = i + 1 == pieces.len();
            if last {
                b.push(0xF7);
            }
            w.push((b, last));
            if !last {
                w.push((vec![0xFE], true));
            }
        }
        w.push((vec![0x80, k, 0], true));
        w.push((vec![0xF0, 0x7D, k, 0xF7], true));
    }
    w
}

/// What a never-drained reader of `capacity` bytes gets and drops, by the cable's rules:
/// (bytes it holds, messages dropped, SysEx truncated, bytes dropped).
fn stalled_model(writes: &[(Vec<u8>, bool)], capacity: usize) -> (Vec<u8>, u64, u64, u64) {
    let (mut got, mut msgs, mut trunc, mut bytes) = (Vec::new(), 0, 0, 0);
    let mut skipping = false;
    for (b, end) in writes {
        let continuation = b[0] < 0x80;
        // A piece of a SysEx in several: a continuation, or a start without its end.
        let piece = continuation || (b[0] == 0xF0 && !*end);
        if continuation && skipping {
            bytes += b.len() as u64;
            if *end {
                skipping = false;
            }
            continue;
        }
        if got.len() + b.len() <= capacity {
            got.extend_from_slice(b);
            continue;
        }
        bytes += b.len() as u64;
        if continuation {
            trunc += 1;
        } else {
            msgs += 1;
        }
        if piece && !*end {
            skipping = true;
        }
    }
    (got, msgs, trunc, bytes)
}

#[test]
fn three_readers_one_stalled_the_others_get_every_byte_and_its_drops_are_exact() {
    let emu = Emu::new(EmuConfig::verifier());
    let cable = Cable::new(emu.clone(), CableConfig::DEFAULT);
    let a = Loopback::new(emu.clone(), LoopbackConfig::DEFAULT).unwrap();
    let b = Loopback::new(emu.clone(), LoopbackConfig::DEFAULT).unwrap();
    let stalled = Loopback::new(emu.clone(), small()).unwrap();
    // SAFETY: the loopbacks outlive their attachment (detached below before they drop).
    let ids = [&a, &b, &stalled].map(|l| unsafe { cable.attach(l) }.unwrap());
    for id in ids {
        cable.join(id);
    }
    let w = WriterId::new(0).unwrap();
    let writes = workload();
    let (mut got_a, mut got_b) = (Vec::new(), Vec::new());
    emu.at_irql(DISPATCH_LEVEL, || {
        for (i, (bytes, _)) in writes.iter().enumerate() {
            let r = cable.write(w, &[bytes], i as i64);
            assert_eq!(r.outcome, WriteOutcome::Accepted, "write {i}");
            drain(&a, &mut got_a);
            drain(&b, &mut got_b);
        }
    });
    let sent: Vec<u8> = writes.iter().flat_map(|w| w.0.clone()).collect();
    assert!(got_a == sent, "reader A got every byte in order");
    assert!(got_b == sent, "reader B got every byte in order");
    let mut got_s = Vec::new();
    drain(&stalled, &mut got_s);
    let (want_s, msgs, trunc, bytes) = stalled_model(&writes, MAX_WRITE);
    assert!(
        got_s == want_s,
        "the stalled reader holds what fitted, no holes"
    );
    assert!(
        trunc >= 1 && msgs >= 1,
        "the workload exercises both kinds of drop"
    );
    let s = cable.reader_stats(ids[2]).unwrap();
    assert_eq!(
        (s.messages_dropped, s.sysex_truncated, s.bytes_dropped),
        (msgs, trunc, bytes)
    );
    assert_eq!(s.bytes_delivered, got_s.len() as u64);
    assert_eq!(s.bytes_delivered + s.bytes_dropped, sent.len() as u64);
    let messages = writes.iter().filter(|w| w.1).count() as u64;
    assert_eq!(
        s.messages_delivered + s.messages_dropped + s.sysex_truncated,
        messages
    );
    for id in &ids[..2] {
        let r = cable.reader_stats(*id).unwrap();
        assert_eq!(
            (r.bytes_delivered, r.bytes_dropped, r.messages_delivered),
            (sent.len() as u64, 0, messages)
        );
    }
    // The cable's loopback counters sum over its readers, and keep a detached one's.
    let ls = cable.loopback_stats();
    assert_eq!(ls.bytes_in, 2 * sent.len() as u64 + got_s.len() as u64);
    assert_eq!(
        ls.bytes_in,
        ls.bytes_out + ls.bytes_dropped() + ls.bytes_queued
    );
    for id in ids {
        cable.detach(id);
    }
    assert_eq!(cable.loopback_stats(), ls);
    assert_eq!(cable.stats().readers_attached, 0);
    drop((a, b, stalled, cable));
    emu.unload().expect("clean unload");
}

#[test]
fn with_one_reader_the_outcomes_are_a_loopbacks_and_nothing_is_counted_as_dropped() {
    let emu = Emu::new(EmuConfig::verifier());
    let cable = Cable::new(emu.clone(), CableConfig::DEFAULT);
    let w = WriterId::new(3).unwrap();
    assert_eq!(
        cable.write(w, &[&[0x90, 1, 1]], 0).outcome,
        WriteOutcome::NoListener
    );
    let lb = Loopback::new(emu.clone(), small()).unwrap();
    // SAFETY: detached below before `lb` drops.
    let id = unsafe { cable.attach(&lb) }.unwrap();
    assert!(!lb.is_listening());
    assert_eq!(
        cable.write(w, &[&[0x90, 1, 1]], 0).outcome,
        WriteOutcome::NoListener,
        "attached is not joined"
    );
    cable.join(id);
    assert!(lb.is_listening());
    assert_eq!(
        cable.write(w, &[&[0x11; MAX_WRITE + 1]], 0).outcome,
        WriteOutcome::TooLarge
    );
    assert_eq!(
        cable.write(w, &[&[0x11; MAX_WRITE - 3]], 0).outcome,
        WriteOutcome::Accepted
    );
    assert_eq!(
        cable.write(w, &[&[0x90, 2, 2, 2]], 0).outcome,
        WriteOutcome::Full
    );
    assert_eq!(
        cable.write(w, &[&[0x90, 2, 2]], 0).outcome,
        WriteOutcome::Accepted
    );
    let s = cable.reader_stats(id).unwrap();
    assert_eq!(
        (s.messages_dropped, s.bytes_dropped, s.sysex_truncated),
        (0, 0, 0)
    );
    let c = cable.stats();
    assert_eq!(
        (
            c.writes,
            c.refused_full,
            c.refused_too_large,
            c.refused_no_listener
        ),
        (2, 1, 1, 2)
    );
    cable.leave(id);
    assert!(!lb.is_listening());
    assert_eq!(
        cable.write(w, &[&[0xF8]], 0).outcome,
        WriteOutcome::NoListener
    );
    cable.detach(id);
    drop((lb, cable));
    emu.unload().expect("clean unload");
}

#[test]
fn a_reader_joining_in_the_middle_of_a_sysex_skips_its_rest_and_the_table_is_bounded() {
    let emu = Emu::new(EmuConfig::verifier());
    let cable = Cable::new(emu.clone(), CableConfig::DEFAULT);
    let lbs: Vec<_> = (0..=MAX_READERS)
        .map(|_| Loopback::new(emu.clone(), LoopbackConfig::DEFAULT).unwrap())
        .collect();
    // SAFETY: each is detached below before the loopbacks drop.
    let ids: Vec<_> = lbs.iter().map(|l| unsafe { cable.attach(l) }).collect();
    assert!(ids[..MAX_READERS].iter().all(Option::is_some));
    assert_eq!(ids[MAX_READERS], None, "at most MAX_READERS readers");
    let (early, late) = (ids[0].unwrap(), ids[1].unwrap());
    cable.join(early);
    let w = WriterId::new(0).unwrap();
    assert!(cable.write(w, &[&[0xF0, 1, 2]], 0).outcome == WriteOutcome::Accepted);
    cable.join(late);
    assert!(cable.write(w, &[&[3, 4]], 0).outcome == WriteOutcome::Accepted);
    assert!(cable.write(w, &[&[5, 0xF7]], 0).outcome == WriteOutcome::Accepted);
    assert!(cable.write(w, &[&[0x90, 1, 1]], 0).outcome == WriteOutcome::Accepted);
    let (mut e, mut l) = (Vec::new(), Vec::new());
    drain(&lbs[0], &mut e);
    drain(&lbs[1], &mut l);
    assert_eq!(e, [0xF0, 1, 2, 3, 4, 5, 0xF7, 0x90, 1, 1]);
    assert_eq!(l, [0x90, 1, 1], "never a SysEx without its start");
    let s = cable.reader_stats(late).unwrap();
    assert_eq!((s.bytes_dropped, s.messages_delivered), (0, 1));
    for id in ids.into_iter().flatten() {
        cable.detach(id);
    }
    drop((lbs, cable));
    emu.unload().expect("clean unload");
}

#[test]
fn only_joined_slots_get_writes_whatever_the_holes_in_the_table() {
    let emu = Emu::new(EmuConfig::verifier());
    let cable = Cable::new(emu.clone(), CableConfig::DEFAULT);
    let lbs: Vec<_> = (0..MAX_READERS)
        .map(|_| Loopback::new(emu.clone(), LoopbackConfig::DEFAULT).unwrap())
        .collect();
    // SAFETY: each is detached below before the loopbacks drop.
    let mut ids: Vec<_> = lbs
        .iter()
        .map(|l| unsafe { cable.attach(l) }.unwrap())
        .collect();
    for &id in &ids {
        cable.join(id);
    }
    // Slot 1 detached while joined, slot 2 left, the last slot detached and re-attached
    // (not joined): the writes reach the other slots, the highest joined one included.
    cable.detach(ids[1]);
    cable.leave(ids[2]);
    let last = MAX_READERS - 1;
    cable.detach(ids[last]);
    // SAFETY: detached below before the loopbacks drop.
    ids[last] = unsafe { cable.attach(&lbs[last]) }.unwrap();
    assert_eq!(cable.stats().readers_joined, MAX_READERS as u32 - 3);
    let w = WriterId::new(0).unwrap();
    assert_eq!(
        cable.write(w, &[&[0x90, 1, 1]], 0).outcome,
        WriteOutcome::Accepted
    );
    for (i, lb) in lbs.iter().enumerate() {
        let mut got = Vec::new();
        drain(lb, &mut got);
        let joined = !matches!(i, 1 | 2) && i != last;
        let want: &[u8] = if joined { &[0x90, 1, 1] } else { &[] };
        assert_eq!(got, want, "reader {i}");
    }
    for (i, &id) in ids.iter().enumerate() {
        if i != 1 {
            cable.leave(id);
        }
    }
    assert_eq!(cable.stats().readers_joined, 0);
    assert_eq!(
        cable.write(w, &[&[0xF8]], 0).outcome,
        WriteOutcome::NoListener
    );
    for (i, id) in ids.into_iter().enumerate() {
        if i != 1 {
            cable.detach(id);
        }
    }
    drop((lbs, cable));
    emu.unload().expect("clean unload");
}

/// What the test does next: send a message (a note, a realtime byte, or a SysEx in pieces of
/// the given sizes) or drain one reader.
#[derive(Clone, Debug)]
enum Op {
    Note(u8),
    Realtime,
    Sysex(Vec<usize>),
    Drain(usize),
}

/// The cable's rules for one reader of `capacity` bytes, drained by the test.
#[derive(Default)]
struct Model {
    capacity: usize,
    queued: usize,
    got: Vec<u8>,
    skipping: bool,
    delivered: u64,
    dropped: u64,
    truncated: u64,
    bytes_dropped: u64,
}

impl Model {
    fn fits(&self, n: usize) -> bool {
        self.queued + n <= self.capacity
    }

    /// A write every reader sees (some reader took it); `start`/`cont`/`end` describe it.
    fn take(&mut self, b: &[u8], start: bool, cont: bool, end: bool) {
        if cont && self.skipping {
            self.bytes_dropped += b.len() as u64;
            self.skipping &= !end;
            return;
        }
        if self.fits(b.len()) {
            self.queued += b.len();
            self.got.extend_from_slice(b);
            self.delivered += u64::from(end);
            return;
        }
        self.bytes_dropped += b.len() as u64;
        if cont {
            self.truncated += 1;
        } else {
            self.dropped += 1;
        }
        self.skipping = (start || cont) && !end;
    }
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0u8..0x80).prop_map(Op::Note),
        Just(Op::Realtime),
        prop::collection::vec(1usize..30_000, 1..5).prop_map(Op::Sysex),
        (0usize..3).prop_map(Op::Drain),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// Three readers of different sizes, drained at random: each gets exactly what the rules
    /// say, its drops sum with what it got to what was sent, and a write is refused only when
    /// every reader that would take it is full (then, drained, it goes through).
    #[test]
    fn every_reader_matches_the_rules(ops in prop::collection::vec(op(), 1..50)) {
        let emu = Emu::new(EmuConfig::default());
        let cable = Cable::new(emu.clone(), CableConfig::DEFAULT);
        let caps = [MAX_WRITE, MAX_WRITE + 20_000, 3 * MAX_WRITE];
        let lbs: Vec<_> = caps
            .iter()
            .map(|&c| {
                let cfg = LoopbackConfig { capacity: c as u32, ..LoopbackConfig::DEFAULT };
                Loopback::new(emu.clone(), cfg).unwrap()
            })
            .collect();
        // SAFETY: detached below before the loopbacks drop.
        let ids: Vec<_> = lbs.iter().map(|l| unsafe { cable.attach(l) }.unwrap()).collect();
        for &id in &ids {
            cable.join(id);
        }
        let mut models: Vec<Model> =
            caps.iter().map(|&capacity| Model { capacity, ..Model::default() }).collect();
        let mut collected = vec![Vec::new(); 3];
        let w = WriterId::new(0).unwrap();
        let mut sent = 0u64;
        // Writes `b` (`start`: a SysEx's first piece; `cont`: a later one; `end`: it ends a
        // message), drains every reader and writes again when the rules say all are full.
        let write = |b: Vec<u8>,
                     (start, cont, end): (bool, bool, bool),
                     models: &mut Vec<Model>,
                     collected: &mut Vec<Vec<u8>>| {
            let live = |m: &Model| !(cont && m.skipping);
            let all_full = models.iter().filter(|m| live(m)).all(|m| !m.fits(b.len()))
                && models.iter().any(live);
            let r = emu.at_irql(DISPATCH_LEVEL, || cable.write(w, &[&b], 0));
            if all_full {
                assert_eq!(r.outcome, WriteOutcome::Full);
                for (i, lb) in lbs.iter().enumerate() {
                    drain(lb, &mut collected[i]);
                    models[i].queued = 0;
                }
                let r = emu.at_irql(DISPATCH_LEVEL, || cable.write(w, &[&b], 0));
                assert_eq!(r.outcome, WriteOutcome::Accepted);
            } else {
                assert_eq!(r.outcome, WriteOutcome::Accepted);
            }
            for m in models.iter_mut() {
                m.take(&b, start, cont, end);
            }
            b.len() as u64
        };
        for op in ops {
            match op {
                Op::Note(k) => {
                    let msg = (false, false, true);
                    sent += write(vec![0x90, k, 1], msg, &mut models, &mut collected);
                }
                Op::Realtime => {
                    sent += write(vec![0xF8], (false, false, true), &mut models, &mut collected);
                }
                Op::Sysex(pieces) => {
                    let n = pieces.len();
                    for (i, len) in pieces.into_iter().enumerate() {
                        let mut b = Vec::new();
                        if i == 0 {
                            b.push(0xF0);
                        }
                        b.extend(std::iter::repeat_n(0x11, len));
                        let end = i + 1 == n;
                        if end {
                            b.push(0xF7);
                        }
                        // A one-piece SysEx is a message of its own.
                        let (start, cont) = (i == 0 && !end, i > 0);
                        sent += write(b, (start, cont, end), &mut models, &mut collected);
                    }
                }
                Op::Drain(i) => {
                    drain(&lbs[i], &mut collected[i]);
                    models[i].queued = 0;
                }
            }
        }
        for (i, lb) in lbs.iter().enumerate() {
            drain(lb, &mut collected[i]);
            let m = &models[i];
            prop_assert!(collected[i] == m.got, "reader {} got what the rules say", i);
            let s = cable.reader_stats(ids[i]).unwrap();
            prop_assert_eq!(
                (s.messages_delivered, s.messages_dropped, s.sysex_truncated, s.bytes_dropped),
                (m.delivered, m.dropped, m.truncated, m.bytes_dropped)
            );
            prop_assert_eq!(s.bytes_delivered + s.bytes_dropped, sent);
        }
        for id in ids {
            cable.detach(id);
        }
        drop((lbs, cable));
        emu.unload().expect("clean unload");
    }
}
