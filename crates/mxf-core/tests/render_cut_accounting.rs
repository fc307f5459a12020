//! Counting the SysEx the render side hands on cut, so that mxfsim can account truncation
//! stage by stage: given up after pieces got out (`DropCount::sysex_truncated`), cut by the
//! application and written whole as cut (`sysex_cut_written`), or in progress
//! (`sysex_open`); and the parser counters the capture side's count of SysEx arriving cut is
//! made of (`sysex_started`, `sysex_aborted_ended`).

mod render_support;

use mxf_abi::KsState;
use mxf_core::midi::{Event, Parser};
use mxf_core::render::{RenderConfig, RenderQueue};
use mxf_kemu::{Emu, EmuConfig};
use render_support::*;

const MS: u64 = 10_000;

#[test]
fn cut_sysex_are_counted_by_how_they_were_cut() {
    let emu = Emu::new(EmuConfig::verifier());
    let alloc = test_allocator(&emu);
    let clock = TestClock::new(&emu);
    let rec: &'static Recorder = Box::leak(Box::new(Recorder::new(&emu)));
    let q =
        RenderQueue::new(emu.clone(), &alloc, &clock, rec, RenderConfig::DEFAULT).expect("queue");
    q.set_state(KsState::RUN);
    // Writes: 0 = a SysEx cut by the application (F0 1 2, then 90 ..), 1 = the note,
    // 2 = a lone F0 cut by C0 (written as F0), 3 = the program change, 4 = the first piece
    // of a SysEx left open.
    let evs = vec![
        event(&alloc, &[0xF0, 1, 2, 0x90, 60, 100], MS, 0),
        event(&alloc, &[0xF0, 0xC0, 5], MS, 0),
        event(&alloc, &[0xF0, 3, 4], MS, 0),
    ];
    // SAFETY: fresh events of the queue's allocator, given to the queue.
    unsafe { q.put_message(chain(&evs)) };
    emu.advance_time(3 * MS as i64);
    let got: Vec<Vec<u8>> = rec
        .writes
        .lock()
        .unwrap()
        .iter()
        .map(|w| w.0.clone())
        .collect();
    assert_eq!(
        got,
        vec![
            vec![0xF0, 1, 2],
            vec![0x90, 60, 100],
            vec![0xF0],
            vec![0xC0, 5],
            vec![0xF0, 3, 4]
        ]
    );
    let s = q.stats();
    assert_eq!(s.sysex_cut_written, 2, "the two the application cut");
    assert!(s.sysex_open, "the last one is in progress");
    assert_eq!(s.sysex_written, 0);
    // STOP: the open one is handed on as the application left it, i.e. cut.
    q.set_state(KsState::STOP);
    let s = q.stats();
    assert_eq!(s.sysex_cut_written, 3);
    assert!(!s.sysex_open);
    assert_eq!(s.dropped().sysex_truncated + s.dropped().messages, 0);
    drop(q);
    assert_eq!(outstanding(&alloc), (0, 0));
    drop(alloc);
    drop(clock);
    emu.unload().expect("clean unload");
}

#[test]
fn a_sysex_given_up_after_pieces_is_truncated_not_cut_written_and_not_open() {
    let emu = Emu::new(EmuConfig::verifier());
    let alloc = test_allocator(&emu);
    let clock = TestClock::new(&emu);
    let rec: &'static Recorder = Box::leak(Box::new(Recorder::new(&emu)));
    let q =
        RenderQueue::new(emu.clone(), &alloc, &clock, rec, RenderConfig::DEFAULT).expect("queue");
    q.set_state(KsState::RUN);
    // Refuse the second piece: the SysEx is given up after its first piece got out.
    rec.refuse.lock().unwrap().push(1);
    let evs = vec![
        event(&alloc, &[0xF0, 1, 2], MS, 0),
        event(&alloc, &[3, 4], MS, 0),
    ];
    // SAFETY: fresh events of the queue's allocator, given to the queue.
    unsafe { q.put_message(chain(&evs)) };
    emu.advance_time(3 * MS as i64);
    let s = q.stats();
    assert_eq!(s.dropped().sysex_truncated, 1);
    assert_eq!((s.sysex_cut_written, s.sysex_open), (0, false));
    q.set_state(KsState::STOP);
    let s = q.stats();
    assert_eq!((s.sysex_cut_written, s.sysex_open), (0, false));
    assert_eq!(s.dropped().sysex_truncated, 1, "counted once");
    drop(q);
    drop(alloc);
    drop(clock);
    emu.unload().expect("clean unload");
}

fn drain(p: &mut Parser, mut input: &[u8], abort_after_data: bool) {
    while let Some(ev) = p.next(&mut input) {
        if abort_after_data && matches!(ev, Event::SysExData(_)) {
            p.abort_sysex();
        }
    }
}

#[test]
fn the_parser_tells_aborted_sysex_that_ended_from_those_cut_on_the_way() {
    // Three SysEx aborted after their first data: one whose F7 then comes (and a stray F7
    // after it is not a second end), one cut by a status byte, one still being skipped.
    let mut p = Parser::new();
    drain(&mut p, &[0xF0, 1, 2, 0xF8, 3, 0xF7, 0xF7, 0x90, 1, 2], true);
    drain(&mut p, &[0xF0, 1, 2, 0xC0, 5], true);
    drain(&mut p, &[0xF0, 1, 2, 3], true);
    // Not aborted: one complete, one cut, one open.
    drain(
        &mut p,
        &[0xF0, 7, 0xF7, 0xF0, 8, 0x80, 1, 1, 0xF0, 9],
        false,
    );
    let s = *p.stats();
    assert_eq!(s.sysex_started, 6);
    assert_eq!(s.sysex_aborted, 3);
    assert_eq!(s.sysex_aborted_ended, 1);
    assert_eq!((s.sysex_complete, s.sysex_cut), (1, 1));
    // Cut on the way or still open: started - complete - aborted and ended.
    assert_eq!(
        s.sysex_started - s.sysex_complete - s.sysex_aborted_ended,
        4
    );
    assert!(p.in_sysex());
}
