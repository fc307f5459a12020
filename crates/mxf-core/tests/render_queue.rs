//! The render queue on the emulator: ordering, timer-driven playback at the right times,
//! events returned to their allocator, state handling and drops.

mod render_support;

use mxf_abi::{DONT_HOLD_FOR_SEQUENCING, KsState, STATUS_INSUFFICIENT_RESOURCES, STATUS_SUCCESS};
use mxf_core::platform::PASSIVE_LEVEL;
use mxf_core::render::{RenderConfig, RenderQueue};
use mxf_kemu::{Emu, EmuConfig};
use render_support::*;

const MS: u64 = 10_000;

fn leak(r: Recorder) -> &'static Recorder {
    Box::leak(Box::new(r))
}

fn setup(
    cfg: RenderConfig,
) -> (
    Emu,
    mxf_core::com::ComPtr<mxf_abi::IAllocatorMxf>,
    mxf_core::com::ComPtr<mxf_abi::IMasterClock>,
    &'static Recorder,
    RenderQueue<Emu, &'static Recorder>,
) {
    let emu = Emu::new(EmuConfig::verifier());
    let alloc = test_allocator(&emu);
    let clock = TestClock::new(&emu);
    let rec = leak(Recorder::new(&emu));
    let q = RenderQueue::new(emu.clone(), &alloc, &clock, rec, cfg).expect("queue");
    (emu, alloc, clock, rec, q)
}

fn finish(
    emu: Emu,
    alloc: mxf_core::com::ComPtr<mxf_abi::IAllocatorMxf>,
    clock: mxf_core::com::ComPtr<mxf_abi::IMasterClock>,
    q: RenderQueue<Emu, &'static Recorder>,
) {
    assert_eq!(emu.current_irql_for_test(), PASSIVE_LEVEL);
    drop(q);
    assert_eq!(
        outstanding(&alloc),
        (0, 0),
        "every event and buffer returned"
    );
    drop(alloc);
    drop(clock);
    emu.unload().expect("clean unload");
}

trait Irql {
    fn current_irql_for_test(&self) -> u8;
}
impl Irql for Emu {
    fn current_irql_for_test(&self) -> u8 {
        mxf_core::platform::Platform::current_irql(self)
    }
}

#[test]
fn out_of_order_input_plays_in_time_order_stable_and_dont_hold_first() {
    let (emu, alloc, clock, rec, q) = setup(RenderConfig::DEFAULT);
    assert_eq!(q.set_state(KsState::RUN), STATUS_SUCCESS);
    // (payload id, time, dont_hold)
    let spec: &[(u8, u64, bool)] = &[
        (1, 5 * MS, false),
        (2, 3 * MS, false),
        (3, 5 * MS, false),
        (4, MS, false),
        (5, 0, true),
        (6, 3 * MS, false),
        (7, 9 * MS, true),
        (8, 5 * MS, false),
        (9, 2 * MS, false),
    ];
    let evs: Vec<_> = spec
        .iter()
        .map(|&(id, t, now)| {
            let t = if now { t | DONT_HOLD_FOR_SEQUENCING } else { t };
            event(&alloc, &[0x90, 0x40, id], t, 0)
        })
        .collect();
    // Delivered as two chains, from DISPATCH_LEVEL as the port does.
    emu.at_irql(mxf_core::platform::DISPATCH_LEVEL, || {
        // SAFETY: fresh events of the queue's allocator, given to the queue once.
        assert_eq!(unsafe { q.put_message(chain(&evs[..4])) }, STATUS_SUCCESS);
        // SAFETY: the rest of those events, given to the queue once.
        assert_eq!(unsafe { q.put_message(chain(&evs[4..])) }, STATUS_SUCCESS);
    });
    assert_eq!(q.stats().events_queued, 9);
    assert_eq!(q.stats().max_queue_depth, 9);
    emu.advance_time(20 * MS as i64);
    let order: Vec<u8> = rec.writes.lock().unwrap().iter().map(|w| w.0[2]).collect();
    // Immediate ones first in arrival order, then by time, equal times in arrival order.
    assert_eq!(order, vec![5, 7, 4, 9, 2, 6, 1, 3, 8]);
    let s = q.stats();
    assert_eq!(s.events_played, 9);
    assert_eq!(s.events_immediate, 2);
    assert_eq!(s.bytes_written, 27);
    assert_eq!(s.messages_written, 9);
    assert_eq!(s.queue_depth, 0);
    assert_eq!(s.lateness_samples, 7);
    assert_eq!(s.lateness_max, 0, "the emulator fires exactly on time");
    finish(emu, alloc, clock, q);
}

#[test]
fn port_sequenced_plays_every_event_on_arrival_in_arrival_order() {
    let (emu, alloc, clock, rec, q) = setup(RenderConfig {
        port_sequenced: true,
        ..RenderConfig::DEFAULT
    });
    assert_eq!(q.set_state(KsState::RUN), STATUS_SUCCESS);
    let start = emu.now_100ns();
    // Future presentation times, out of order: the port (SchedulePreFetch 0) hands events
    // over when it wants them played, so the miniport holds none of them.
    let evs: Vec<_> = [(1u8, 9 * MS), (2, 3 * MS), (3, 6 * MS)]
        .iter()
        .map(|&(id, t)| event(&alloc, &[0x90, 0x40, id], t, 0))
        .collect();
    // SAFETY: fresh events of the queue's allocator, given to the queue.
    emu.at_irql(mxf_core::platform::DISPATCH_LEVEL, || unsafe {
        assert_eq!(q.put_message(chain(&evs)), STATUS_SUCCESS);
    });
    // The timer armed "now": it runs without the clock moving.
    emu.advance_time(0);
    let w = rec.writes.lock().unwrap().clone();
    let order: Vec<u8> = w.iter().map(|w| w.0[2]).collect();
    assert_eq!(order, vec![1, 2, 3]);
    assert!(w.iter().all(|(_, _, emu_t)| *emu_t == start), "{w:?}");
    assert_eq!(q.stats().events_immediate, 0, "none was flagged DONT_HOLD");
    finish(emu, alloc, clock, q);
}

#[test]
fn timer_plays_each_event_at_its_presentation_time() {
    let (emu, alloc, clock, rec, q) = setup(RenderConfig::DEFAULT);
    let start = emu.now_100ns();
    q.set_state(KsState::RUN);
    let times = [2 * MS, 7 * MS, 7 * MS, 13 * MS];
    let evs: Vec<_> = times
        .iter()
        .enumerate()
        .map(|(i, &t)| event(&alloc, &[0x80, 0x3C, i as u8], t, 0))
        .collect();
    // SAFETY: fresh events of the queue's allocator, given to the queue.
    unsafe { q.put_message(chain(&evs)) };
    // Nothing before the first due time.
    emu.advance_time(2 * MS as i64 - 1);
    assert!(rec.writes.lock().unwrap().is_empty());
    emu.advance_time(1);
    assert_eq!(rec.writes.lock().unwrap().len(), 1);
    emu.advance_time(20 * MS as i64);
    let w = rec.writes.lock().unwrap().clone();
    assert_eq!(w.len(), 4);
    for (i, (bytes, clock_t, emu_t)) in w.iter().enumerate() {
        assert_eq!(bytes[2] as usize, i);
        assert_eq!(
            *clock_t as u64, times[i],
            "written with the clock time of the batch"
        );
        assert_eq!((*emu_t - start) as u64, times[i], "played at its due time");
    }
    // The two events at 7 ms went in one batch: one timer run each for 2, 7, 13 ms.
    assert_eq!(q.stats().batches, 3);
    assert_eq!(rec.flushed.load(std::sync::atomic::Ordering::Relaxed), 3);
    finish(emu, alloc, clock, q);
}

#[test]
fn late_put_plays_at_once_and_counts_lateness() {
    let (emu, alloc, clock, rec, q) = setup(RenderConfig::DEFAULT);
    q.set_state(KsState::RUN);
    emu.advance_time(10 * MS as i64);
    // SAFETY: fresh events of the queue's allocator, given to the queue.
    unsafe { q.put_message(event(&alloc, &[0xC0, 5], 4 * MS, 0)) };
    emu.advance_time(0);
    assert_eq!(rec.writes.lock().unwrap().len(), 1);
    let s = q.stats();
    assert_eq!(s.lateness_max, 6 * MS);
    assert_eq!(s.lateness_total, 6 * MS);
    finish(emu, alloc, clock, q);
}

#[test]
fn stop_flushes_pause_holds_run_resumes() {
    let (emu, alloc, clock, rec, q) = setup(RenderConfig::DEFAULT);
    // Queued while stopped: kept until RUN or STOP.
    let evs: Vec<_> = (0..5u8)
        .map(|i| event(&alloc, &[0x90, i, 1], u64::from(i) * MS, 0))
        .collect();
    // SAFETY: fresh events of the queue's allocator, given to the queue.
    unsafe { q.put_message(chain(&evs)) };
    q.set_state(KsState::ACQUIRE);
    q.set_state(KsState::PAUSE);
    emu.advance_time(10 * MS as i64);
    assert!(
        rec.writes.lock().unwrap().is_empty(),
        "nothing plays while paused"
    );
    assert_eq!(outstanding(&alloc).0, 5);
    q.set_state(KsState::RUN);
    emu.advance_time(0);
    assert_eq!(
        rec.writes.lock().unwrap().len(),
        5,
        "past-due events play at once"
    );
    assert_eq!(q.stats().lateness_max, 10 * MS);
    // Now queue more in the future and stop: all flushed back to the allocator.
    let sysex = sysex_bytes(10_000, 7);
    let mut evs = sysex_events(&alloc, &sysex, 50 * MS);
    evs.push(event(&alloc, &[0xF8], 60 * MS, 0));
    let n = evs.len() as u64;
    // SAFETY: fresh events of the queue's allocator, given to the queue.
    unsafe { q.put_message(chain(&evs)) };
    assert!(outstanding(&alloc).1 > 0);
    assert_eq!(q.set_state(KsState::STOP), STATUS_SUCCESS);
    assert_eq!(q.stats().events_flushed, n);
    assert_eq!(outstanding(&alloc), (0, 0));
    emu.advance_time(100 * MS as i64);
    assert_eq!(rec.writes.lock().unwrap().len(), 5);
    assert_eq!(q.set_state(KsState(7)), mxf_abi::STATUS_INVALID_PARAMETER);
    finish(emu, alloc, clock, q);
}

#[test]
fn long_burst_is_played_in_bounded_batches_and_packages_are_walked() {
    let cfg = RenderConfig {
        batch_events: 4,
        ..RenderConfig::DEFAULT
    };
    let (emu, alloc, clock, rec, q) = setup(cfg);
    q.set_state(KsState::RUN);
    let sysex = sysex_bytes(40_000, 3);
    let mut evs = sysex_events(&alloc, &sysex, MS);
    // A package event carrying two notes, and a package with a null sub-chain.
    let sub = chain(&[
        event(&alloc, &[0x90, 1, 2], 0, 0),
        event(&alloc, &[0x80, 1, 0], 0, 0),
    ]);
    let pkg = event(&alloc, &[], 2 * MS, mxf_abi::DMUS_KEF_PACKAGE_EVENT);
    // SAFETY: `pkg` is a fresh event of ours, not otherwise borrowed.
    let pkg_event = unsafe { &mut *pkg };
    pkg_event.u_data.p_package_evt = sub;
    let empty_pkg = event(&alloc, &[], 2 * MS, mxf_abi::DMUS_KEF_PACKAGE_EVENT);
    evs.push(pkg);
    evs.push(empty_pkg);
    let n = evs.len() as u64;
    // SAFETY: fresh events of the queue's allocator, given to the queue.
    unsafe { q.put_message(chain(&evs)) };
    emu.advance_time(5 * MS as i64);
    let mut expect = sysex.clone();
    expect.extend_from_slice(&[0x90, 1, 2, 0x80, 1, 0]);
    assert_eq!(rec.bytes(), expect);
    let s = q.stats();
    assert_eq!(s.events_played, n);
    // Ten fragments due at 1 ms in batches of 4 (three runs), the packages at 2 ms (one).
    assert_eq!(n, 12);
    assert_eq!(s.batches, 4);
    assert_eq!(s.sysex_written, 1);
    assert_eq!(s.walk.packages, 2);
    assert_eq!(s.walk.null_packages, 1);
    finish(emu, alloc, clock, q);
}

#[test]
fn refused_sysex_fragment_drops_the_rest_of_that_sysex_only() {
    let (emu, alloc, clock, rec, q) = setup(RenderConfig::DEFAULT);
    q.set_state(KsState::RUN);
    // Writes: 0 note, 1..=3 SysEx fragments (refuse #2), 4 realtime inside, 5 note.
    rec.refuse.lock().unwrap().push(2);
    let sysex = sysex_bytes(3 * 4080 - 100, 9);
    let mut evs = vec![event(&alloc, &[0x90, 60, 100], MS, 0)];
    let frags = sysex_events(&alloc, &sysex, 2 * MS);
    assert_eq!(frags.len(), 3);
    evs.extend_from_slice(&frags[..2]);
    evs.push(event(&alloc, &[0xF8], 2 * MS, 0));
    evs.push(frags[2]);
    evs.push(event(&alloc, &[0x80, 60, 0], 3 * MS, 0));
    // SAFETY: fresh events of the queue's allocator, given to the queue.
    unsafe { q.put_message(chain(&evs)) };
    emu.advance_time(5 * MS as i64);
    let w = rec.writes.lock().unwrap().clone();
    let got: Vec<&[u8]> = w.iter().map(|x| x.0.as_slice()).collect();
    assert_eq!(got.len(), 4);
    assert_eq!(got[0], &[0x90, 60, 100]);
    assert_eq!(got[1], &sysex[..4080], "the first fragment went out");
    assert_eq!(got[2], &[0xF8], "realtime is not part of the SysEx");
    assert_eq!(got[3], &[0x80, 60, 0]);
    let s = q.stats();
    let d = s.dropped_no_listener;
    assert_eq!((d.messages, d.sysex_truncated), (0, 1));
    assert_eq!(d.bytes, (sysex.len() - 4080) as u64);
    assert_eq!(s.messages_written, 3, "the notes and the clock");
    assert_eq!(s.bytes_written + d.bytes, 3 + sysex.len() as u64 + 1 + 3);
    assert_eq!(s.dropped(), d);
    finish(emu, alloc, clock, q);
}

#[test]
fn too_large_write_is_given_up_at_once_not_retried_as_no_memory() {
    let (emu, alloc, clock, rec, q) = setup(RenderConfig::DEFAULT);
    q.set_state(KsState::RUN);
    // Writes: 0 note on, 1 note off (refused as too large), 2 clock.
    rec.too_large.lock().unwrap().push(1);
    let evs = vec![
        event(&alloc, &[0x90, 60, 100], MS, 0),
        event(&alloc, &[0x80, 60, 0], 2 * MS, 0),
        event(&alloc, &[0xF8], 3 * MS, 0),
    ];
    // SAFETY: fresh events of the queue's allocator, given to the queue.
    unsafe { q.put_message(chain(&evs)) };
    emu.advance_time(5 * MS as i64);
    let w = rec.writes.lock().unwrap().clone();
    let got: Vec<&[u8]> = w.iter().map(|x| x.0.as_slice()).collect();
    assert_eq!(got, [&[0x90, 60, 100][..], &[0xF8][..]]);
    assert_eq!(
        rec.calls.load(std::sync::atomic::Ordering::Relaxed),
        3,
        "the refused write was offered once"
    );
    let s = q.stats();
    assert_eq!(
        s.no_memory_retries, 0,
        "a write that can never fit is not retried"
    );
    assert_eq!(s.dropped_no_memory, Default::default());
    let d = s.dropped_too_large;
    assert_eq!((d.messages, d.sysex_truncated, d.bytes), (1, 0, 3));
    assert_eq!(s.dropped(), d);
    assert_eq!(s.events_played, 3);
    finish(emu, alloc, clock, q);
}

#[test]
fn full_target_blocks_without_loss_and_a_kick_resumes_mid_event() {
    let (emu, alloc, clock, rec, q) = setup(RenderConfig::DEFAULT);
    q.set_state(KsState::RUN);
    // One payload holding four notes by running status, then a SysEx in three fragments.
    let sysex = sysex_bytes(3 * 4080 - 10, 5);
    let mut evs = vec![event(&alloc, &[0x90, 1, 1, 2, 2, 3, 3, 4], MS, 0)];
    // The fourth note's second data byte comes in the next event.
    evs.push(event(&alloc, &[4], MS, 0));
    evs.extend(sysex_events(&alloc, &sysex, MS));
    evs.push(event(&alloc, &[0xC0, 9], MS, 0));
    let n = evs.len() as u64;
    *rec.budget.lock().unwrap() = Some(2);
    // SAFETY: fresh events of the queue's allocator, given to the queue.
    unsafe { q.put_message(chain(&evs)) };
    emu.advance_time(2 * MS as i64);
    let s = q.stats();
    assert!(s.blocked_now);
    assert_eq!((s.blocks, s.events_played), (1, 0));
    assert_eq!(rec.writes.lock().unwrap().len(), 2);
    assert_eq!(
        outstanding(&alloc).0 as u64,
        n,
        "nothing returned, nothing dropped"
    );
    // Nothing happens without a kick, however long we wait.
    emu.advance_time(100 * MS as i64);
    assert_eq!(rec.writes.lock().unwrap().len(), 2);
    // Room for two more writes (two notes), then for everything.
    *rec.budget.lock().unwrap() = Some(2);
    q.kick();
    emu.advance_time(0);
    assert_eq!(rec.writes.lock().unwrap().len(), 4);
    assert!(q.stats().blocked_now);
    *rec.budget.lock().unwrap() = None;
    q.kick();
    emu.advance_time(0);
    let w: Vec<Vec<u8>> = rec
        .writes
        .lock()
        .unwrap()
        .iter()
        .map(|x| x.0.clone())
        .collect();
    assert_eq!(
        &w[..4],
        &[
            vec![0x90, 1, 1],
            vec![0x90, 2, 2],
            vec![0x90, 3, 3],
            vec![0x90, 4, 4]
        ],
        "running status expanded, every note once"
    );
    assert_eq!(w[4..7].concat(), sysex, "the SysEx whole, in pieces");
    assert_eq!(w[7], vec![0xC0, 9]);
    assert_eq!(w.len(), 8);
    let s = q.stats();
    assert!(!s.blocked_now);
    assert_eq!((s.blocks, s.wakeups, s.kicks), (1, 2, 2));
    assert_eq!(s.events_played, n);
    assert_eq!(s.dropped(), mxf_core::render::DropCount::default());
    assert_eq!(s.messages_written, 6);
    assert!(s.blocked_time_total >= 100 * MS);
    finish(emu, alloc, clock, q);
}

#[test]
fn stop_while_blocked_counts_the_rest_by_message() {
    let (emu, alloc, clock, rec, q) = setup(RenderConfig::DEFAULT);
    q.set_state(KsState::RUN);
    let sysex = sysex_bytes(2 * 4080, 6);
    let mut evs = sysex_events(&alloc, &sysex, MS);
    evs.push(event(&alloc, &[0x90, 1, 2, 3, 4], MS, 0));
    *rec.budget.lock().unwrap() = Some(1);
    // SAFETY: fresh events of the queue's allocator, given to the queue.
    unsafe { q.put_message(chain(&evs)) };
    emu.advance_time(2 * MS as i64);
    assert_eq!(rec.writes.lock().unwrap().len(), 1);
    assert_eq!(q.set_state(KsState::STOP), STATUS_SUCCESS);
    let s = q.stats();
    let d = s.dropped_stop;
    assert_eq!(
        (d.messages, d.sysex_truncated),
        (2, 1),
        "two notes; the SysEx cut"
    );
    assert_eq!(d.bytes, (sysex.len() - 4080) as u64 + 6);
    assert_eq!(s.events_flushed, 2, "the first fragment was played");
    assert_eq!(outstanding(&alloc), (0, 0));
    finish(emu, alloc, clock, q);
}

#[test]
fn full_queue_refuses_and_returns_events() {
    let cfg = RenderConfig {
        max_queued: 3,
        ..RenderConfig::DEFAULT
    };
    let (emu, alloc, clock, _rec, q) = setup(cfg);
    let evs: Vec<_> = (0..5u8)
        .map(|i| event(&alloc, &[0x90, i, 1], MS, 0))
        .collect();
    assert_eq!(
        // SAFETY: fresh events of the queue's allocator, given to the queue.
        unsafe { q.put_message(chain(&evs)) },
        STATUS_INSUFFICIENT_RESOURCES
    );
    assert_eq!(q.stats().events_refused, 2);
    assert_eq!(outstanding(&alloc).0, 3);
    assert_eq!(
        // SAFETY: fresh events of the queue's allocator, given to the queue.
        unsafe { q.put_message(std::ptr::null_mut()) },
        STATUS_SUCCESS
    );
    // Destruction flushes what is left.
    finish(emu, alloc, clock, q);
}

#[test]
fn failing_clock_does_not_wedge_the_queue() {
    let (emu, alloc, clock, rec, q) = setup(RenderConfig::DEFAULT);
    q.set_state(KsState::RUN);
    TestClock::get(&clock)
        .fail
        .store(true, std::sync::atomic::Ordering::Relaxed);
    // SAFETY: fresh events of the queue's allocator, given to the queue.
    unsafe { q.put_message(event(&alloc, &[0x90, 1, 1], 1_000 * MS, 0)) };
    emu.advance_time(1);
    assert_eq!(rec.writes.lock().unwrap().len(), 1);
    assert!(q.stats().clock_errors >= 1);
    finish(emu, alloc, clock, q);
}

/// A target whose first write parks until the test has started dropping the queue.
struct Parked {
    entered: std::sync::atomic::AtomicBool,
    writes: std::sync::atomic::AtomicU32,
}

impl mxf_core::render::RenderTarget for &'static Parked {
    fn write(&self, _parts: &[&[u8]], _time: i64) -> mxf_core::render::WriteOutcome {
        use std::sync::atomic::Ordering::SeqCst;
        if !self.entered.swap(true, SeqCst) {
            // Long enough for the dropping thread to get into `Drop` (ending `RUN` and waiting
            // for this callback in the timer's drop); the test holds either way.
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        self.writes.fetch_add(1, SeqCst);
        mxf_core::render::WriteOutcome::Accepted
    }
}

/// Dropping the queue while its timer callback is in the middle of a run (another CPU): the
/// drop waits for the run, the run does not re-arm the timer (the drop ended `RUN` under the
/// queue lock first and never writes the timer field under the callback's feet), and
/// everything not played goes back to the allocator.
#[test]
fn drop_while_a_timer_run_is_in_flight_waits_for_it_and_leaves_no_timer() {
    use std::sync::atomic::Ordering::SeqCst;
    let emu = Emu::new(EmuConfig::verifier());
    let alloc = test_allocator(&emu);
    let clock = TestClock::new(&emu);
    let target: &'static Parked = Box::leak(Box::new(Parked {
        entered: false.into(),
        writes: 0.into(),
    }));
    let cfg = RenderConfig {
        batch_events: 1,
        ..RenderConfig::DEFAULT
    };
    let q = RenderQueue::new(emu.clone(), &alloc, &clock, target, cfg).expect("queue");
    q.set_state(KsState::RUN);
    let evs: Vec<_> = (0..4u8)
        .map(|i| event(&alloc, &[0x90, 0x3C, i], 0, 0))
        .collect();
    // SAFETY: fresh events of the queue's allocator, given to the queue.
    unsafe { q.put_message(chain(&evs)) };
    let dpc = {
        let emu = emu.clone();
        std::thread::spawn(move || emu.advance_time(MS as i64))
    };
    while !target.entered.load(SeqCst) {
        std::thread::yield_now();
    }
    drop(q);
    dpc.join().expect("timer run");
    assert_eq!(
        target.writes.load(SeqCst),
        1,
        "only the run in flight played"
    );
    assert_eq!(emu.next_timer_due(), None, "no timer left armed");
    assert_eq!(outstanding(&alloc), (0, 0), "every event returned");
    drop(alloc);
    drop(clock);
    emu.unload().expect("clean unload");
}
