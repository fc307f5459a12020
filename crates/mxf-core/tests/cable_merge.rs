//! The cable's merge of several writers: a SysEx in pieces holds the cable for its writer
//! (others wait, realtime passes), every way its hold ends, and two writers on two emulated
//! processors sending long SysEx, notes and realtime bytes into one reader: every message
//! arrives whole, every SysEx contiguous, each writer's order kept.

use mxf_core::cable::{Cable, CableConfig, WriterId};
use mxf_core::loopback::{Loopback, LoopbackConfig, WriteOutcome};
use mxf_core::platform::DISPATCH_LEVEL;
use mxf_kemu::{Emu, EmuConfig};
use std::sync::Barrier;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};

fn drain(lb: &Loopback<Emu>, into: &mut Vec<u8>) {
    lb.drain_chunks(usize::MAX, None, |b, _| into.extend_from_slice(b));
}

fn ok(c: &Cable<Emu>, w: WriterId, b: &[u8]) -> bool {
    c.write(w, &[b], 0).outcome == WriteOutcome::Accepted
}

#[test]
fn a_sysex_in_pieces_holds_the_cable_realtime_passes_and_each_end_releases() {
    let emu = Emu::new(EmuConfig::verifier());
    let cable = Cable::new(emu.clone(), CableConfig::DEFAULT);
    let lb = Loopback::new(emu.clone(), LoopbackConfig::DEFAULT).unwrap();
    // SAFETY: detached below before `lb` drops.
    let id = unsafe { cable.attach(&lb) }.unwrap();
    cable.join(id);
    let (a, b) = (WriterId::new(0).unwrap(), WriterId::new(9).unwrap());
    // 1. Ended by its last piece; the waiter is reported.
    assert!(ok(&cable, a, &[0xF0, 1]));
    let r = cable.write(b, &[&[0x90, 1, 1]], 0);
    assert_eq!((r.outcome, r.released), (WriteOutcome::Full, false));
    assert!(ok(&cable, b, &[0xF8]), "realtime passes");
    assert!(
        ok(&cable, a, &[0xFE]),
        "the owner's realtime does not end its SysEx"
    );
    assert!(ok(&cable, a, &[2]));
    let r = cable.write(a, &[&[3, 0xF7]], 0);
    assert_eq!((r.outcome, r.released), (WriteOutcome::Accepted, true));
    assert!(ok(&cable, b, &[0x90, 1, 1]));
    // 2. Ended by a message of its writer (its application cut it); nobody waited.
    assert!(ok(&cable, a, &[0xF0, 4]));
    let r = cable.write(a, &[&[0x80, 1, 0]], 0);
    assert_eq!((r.outcome, r.released), (WriteOutcome::Accepted, false));
    assert!(ok(&cable, b, &[0x90, 2, 2]));
    // 3. Ended by its stream's end.
    assert!(ok(&cable, b, &[0xF0, 5]));
    assert!(!ok(&cable, a, &[0x90, 3, 3]));
    assert!(!cable.end_writer(a), "not the owner: nothing to release");
    assert!(cable.end_writer(b));
    assert!(ok(&cable, a, &[0x90, 3, 3]));
    // 4. Ended by a certain refusal of one of its pieces: no reader left.
    assert!(ok(&cable, a, &[0xF0, 6]));
    cable.leave(id);
    assert!(
        !ok(&cable, b, &[0x90, 4, 4]),
        "held, whether or not anybody listens"
    );
    let r = cable.write(a, &[&[7]], 0);
    assert_eq!((r.outcome, r.released), (WriteOutcome::NoListener, true));
    cable.join(id);
    assert!(ok(&cable, b, &[0x90, 4, 4]));
    let mut got = Vec::new();
    drain(&lb, &mut got);
    assert_eq!(
        got,
        [
            0xF0, 1, 0xF8, 0xFE, 2, 3, 0xF7, 0x90, 1, 1, // 1
            0xF0, 4, 0x80, 1, 0, 0x90, 2, 2, // 2
            0xF0, 5, 0x90, 3, 3, // 3
            0xF0, 6, 0x90, 4, 4, // 4 (what the reader got before it left)
        ]
    );
    let s = cable.stats();
    assert_eq!((s.merge_waits, s.realtime_passed, s.sysex_held), (3, 1, 4));
    cable.detach(id);
    drop((lb, cable));
    emu.unload().expect("clean unload");
}

const SYSEX_LEN: usize = 200 * 1024;
const PIECE: usize = 4_096;
const ROUNDS: usize = 3;
const NOTES: usize = 40;

/// Writer `w`'s writes: per round, notes on its channel (numbered), realtime bytes, and one
/// SysEx of `SYSEX_LEN` data bytes all equal to `w * 16 + round`, in pieces with realtime
/// bytes between them.
fn writes_of(w: u8) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut n = 0u8;
    for round in 0..ROUNDS {
        for _ in 0..NOTES {
            out.push(vec![0x90 | w, n, 0x40]);
            n = (n + 1) % 0x80;
            if n.is_multiple_of(8) {
                out.push(vec![0xF8]);
            }
        }
        let tag = w * 16 + round as u8;
        let pieces = SYSEX_LEN / PIECE;
        for i in 0..pieces {
            let mut b = Vec::new();
            if i == 0 {
                b.push(0xF0);
            }
            b.extend(std::iter::repeat_n(tag, PIECE));
            if i + 1 == pieces {
                b.push(0xF7);
            } else if i % 4 == 1 {
                out.push(b);
                out.push(vec![0xFA]);
                continue;
            }
            out.push(b);
        }
    }
    out
}

#[test]
fn two_writers_on_two_processors_every_message_whole_and_in_order() {
    let emu = Emu::new(EmuConfig::verifier());
    let cable = Cable::new(emu.clone(), CableConfig::DEFAULT);
    // The smallest reader: both writers fill it many times over, and one SysEx does not fit
    // into it (see the drain below).
    let small = LoopbackConfig {
        capacity: mxf_core::loopback::MAX_WRITE as u32,
        ..LoopbackConfig::DEFAULT
    };
    let lb = Loopback::new(emu.clone(), small).unwrap();
    // SAFETY: detached below before `lb` drops.
    let id = unsafe { cable.attach(&lb) }.unwrap();
    cable.join(id);
    let done = AtomicUsize::new(0);
    let start = Barrier::new(2);
    let mut got = Vec::new();
    std::thread::scope(|sc| {
        for w in 0..2u8 {
            let (emu, cable, done, start) = (emu.clone(), &cable, &done, &start);
            sc.spawn(move || {
                emu.set_current_processor(u32::from(w));
                let id = WriterId::new(usize::from(w)).unwrap();
                start.wait();
                for b in writes_of(w) {
                    // Let the other writer in between any two writes.
                    std::thread::yield_now();
                    loop {
                        let r = emu.at_irql(DISPATCH_LEVEL, || cable.write(id, &[&b], 0));
                        match r.outcome {
                            WriteOutcome::Accepted => break,
                            WriteOutcome::Full => std::thread::yield_now(),
                            o => panic!("writer {w}: {o:?}"),
                        }
                    }
                }
                done.fetch_add(1, SeqCst);
            });
        }
        emu.set_current_processor(2);
        // The reader is drained only once a writer was held off: the first SysEx is larger
        // than the reader, so its writer holds the cable, blocked, until then, and the other
        // writer's next message meets the hold. So the two writers meet on every run. (The
        // bound only matters if the rule is broken: then nobody is held off, the writers
        // interleave until the reader is full, and the parse below fails.)
        for _ in 0..5_000_000 {
            if cable.stats().merge_waits > 0 {
                break;
            }
            std::thread::yield_now();
        }
        while done.load(SeqCst) < 2 {
            emu.at_irql(DISPATCH_LEVEL, || drain(&lb, &mut got));
            std::thread::yield_now();
        }
    });
    drain(&lb, &mut got);
    // Parse: outside a SysEx, notes (3 bytes) and realtime bytes; a SysEx runs from F0 to F7
    // with only realtime bytes inside, all its data bytes one writer's tag.
    let mut next_note = [0u8; 2];
    let mut next_round = [0u8; 2];
    let (mut notes, mut sysex) = (0, 0);
    let mut i = 0;
    while i < got.len() {
        match got[i] {
            0xF8..=0xFF => i += 1,
            0xF0 => {
                let tag = got[i + 1];
                let (w, round) = (usize::from(tag / 16), tag % 16);
                assert!(
                    w < 2 && round == next_round[w],
                    "SysEx of writer {w} out of order"
                );
                next_round[w] += 1;
                let mut len = 0;
                i += 1;
                loop {
                    let b = got[i];
                    i += 1;
                    match b {
                        0xF7 => break,
                        0xF8..=0xFF => {}
                        _ => {
                            assert_eq!(b, tag, "a foreign byte inside writer {w}'s SysEx");
                            len += 1;
                        }
                    }
                }
                assert_eq!(len, SYSEX_LEN, "the SysEx arrived whole");
                sysex += 1;
            }
            s @ (0x90 | 0x91) => {
                let w = usize::from(s & 1);
                assert_eq!(got[i + 1], next_note[w], "writer {w}'s notes in order");
                assert_eq!(got[i + 2], 0x40);
                next_note[w] = (next_note[w] + 1) % 0x80;
                notes += 1;
                i += 3;
            }
            b => panic!("unexpected byte {b:#x} at {i}"),
        }
    }
    assert_eq!((notes, sysex), (2 * ROUNDS * NOTES, 2 * ROUNDS));
    let sent: usize = (0..2)
        .map(|w| writes_of(w).iter().map(Vec::len).sum::<usize>())
        .sum();
    assert_eq!(got.len(), sent, "nothing lost with one reader");
    // The two writers did meet: the rule held one off (else the test proves nothing).
    assert!(
        cable.stats().merge_waits > 0,
        "the writers never overlapped"
    );
    cable.detach(id);
    drop((lb, cable));
    emu.unload().expect("clean unload");
}
