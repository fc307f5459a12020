//! The cable's feedback guard on the emulator: it trips after the configured sustained rate,
//! refuses every write while muted (`Muted`, counted exactly, a SysEx in progress cut and the
//! cable let go), releases after the quiet windows, logs each change once; and the render
//! queue counts a muted message as a drop of its own cause.

mod render_support;

use mxf_abi::KsState;
use mxf_core::cable::{Cable, CableConfig, WriterId};
use mxf_core::feedback::FeedbackConfig;
use mxf_core::loopback::{Loopback, LoopbackConfig, WriteOutcome};
use mxf_core::platform::DISPATCH_LEVEL;
use mxf_core::render::{RenderConfig, RenderQueue, RenderTarget};
use mxf_kemu::{Emu, EmuConfig};
use render_support::*;

const MS: i64 = 10_000;

/// 10 messages per 1 ms window; 3 windows over trip, 2 quiet release.
const GUARD: FeedbackConfig = FeedbackConfig {
    max_messages_per_window: 10,
    window_100ns: MS,
    trip_windows: 3,
    release_windows: 2,
};

fn lines(emu: &Emu, what: &str) -> Vec<String> {
    emu.log_lines()
        .into_iter()
        .filter(|l| l.contains(what))
        .collect()
}

#[test]
fn it_trips_on_a_sustained_rate_mutes_counted_releases_and_logs_once_each() {
    let emu = Emu::new(EmuConfig::verifier());
    let cable = Cable::new(emu.clone(), CableConfig { feedback: GUARD });
    let lb = Loopback::new(emu.clone(), LoopbackConfig::DEFAULT).unwrap();
    // SAFETY: detached below before `lb` drops.
    let id = unsafe { cable.attach(&lb) }.unwrap();
    cable.join(id);
    let w = WriterId::new(0).unwrap();
    let note = |k: u8| cable.write(w, &[&[0x90, k, 1]], 0).outcome;
    let mut passed = 0;
    // 20 messages per window (twice the limit) for two windows: over, but not yet tripped.
    for _ in 0..2 {
        for k in 0..20 {
            passed += u32::from(note(k) == WriteOutcome::Accepted);
        }
        emu.advance_time(MS);
    }
    assert_eq!(passed, 40);
    assert!(!cable.stats().muted);
    // The third window trips at its 11th message: the rest of it is muted.
    let mut muted = 0;
    for k in 0..20 {
        match note(k) {
            WriteOutcome::Accepted => passed += 1,
            WriteOutcome::Muted => muted += 1,
            o => panic!("{o:?}"),
        }
    }
    assert_eq!((passed, muted), (50, 10));
    assert!(cable.stats().muted);
    assert_eq!(lines(&emu, "feedback guard tripped").len(), 1);
    assert!(lines(&emu, "feedback guard tripped")[0].starts_with("WARN"));
    // Muted: a SysEx is refused at its start too, and realtime.
    assert_eq!(
        cable.write(w, &[&[0xF0, 1]], 0).outcome,
        WriteOutcome::Muted
    );
    assert_eq!(cable.write(w, &[&[0xF8]], 0).outcome, WriteOutcome::Muted);
    // Two quiet windows after the loud one: released at the next message.
    emu.advance_time(3 * MS);
    assert_eq!(note(1), WriteOutcome::Accepted);
    let s = cable.stats();
    assert!(!s.muted);
    assert_eq!(
        (
            s.feedback.trips,
            s.feedback.releases,
            s.feedback.messages_muted
        ),
        (1, 1, 12)
    );
    assert_eq!(s.feedback.bytes_muted, 10 * 3 + 2 + 1);
    assert_eq!(s.refused_muted, 12);
    let released = lines(&emu, "feedback guard released");
    assert_eq!(released.len(), 1);
    assert!(released[0].starts_with("INFO") && released[0].contains("muted 12 messages"));
    assert_eq!(
        lines(&emu, "feedback guard tripped").len(),
        1,
        "logged once"
    );
    // Nothing muted reached the reader.
    assert_eq!(lb.stats().bytes_in, 51 * 3);
    cable.detach(id);
    drop((lb, cable));
    emu.unload().expect("clean unload");
}

#[test]
fn a_sysex_in_progress_when_the_guard_trips_is_cut_and_lets_the_cable_go() {
    let emu = Emu::new(EmuConfig::verifier());
    let guard = FeedbackConfig {
        trip_windows: 1,
        ..GUARD
    };
    let cable = Cable::new(emu.clone(), CableConfig { feedback: guard });
    let lb = Loopback::new(emu.clone(), LoopbackConfig::DEFAULT).unwrap();
    // SAFETY: detached below before `lb` drops.
    let id = unsafe { cable.attach(&lb) }.unwrap();
    cable.join(id);
    let (a, b) = (WriterId::new(0).unwrap(), WriterId::new(1).unwrap());
    assert_eq!(
        cable.write(a, &[&[0xF0, 1]], 0).outcome,
        WriteOutcome::Accepted
    );
    // Realtime bytes of another writer pass the held cable and count as messages: with the
    // SysEx's start, ten fill the window.
    for _ in 0..9 {
        assert_eq!(
            cable.write(b, &[&[0xF8]], 0).outcome,
            WriteOutcome::Accepted
        );
    }
    assert_eq!(cable.write(b, &[&[0xF8]], 0).outcome, WriteOutcome::Muted);
    let r = cable.write(a, &[&[2, 3]], 0);
    assert_eq!(
        r.outcome,
        WriteOutcome::Muted,
        "the SysEx's next piece is refused"
    );
    assert_eq!(cable.stats().refused_muted, 2);
    // The cable is free: once released, the other writer's message goes through.
    emu.advance_time(3 * MS);
    assert_eq!(
        cable.write(b, &[&[0x90, 1, 1]], 0).outcome,
        WriteOutcome::Accepted
    );
    cable.detach(id);
    drop((lb, cable));
    emu.unload().expect("clean unload");
}

/// A render target over a cable, as the miniport's render stream is.
struct CableOut {
    cable: Cable<Emu>,
    w: WriterId,
}

impl RenderTarget for &'static CableOut {
    fn write(&self, parts: &[&[u8]], time: i64) -> WriteOutcome {
        self.cable.write(self.w, parts, time).outcome
    }
}

#[test]
fn the_render_queue_counts_muted_messages_as_their_own_drop_cause() {
    let emu = Emu::new(EmuConfig::verifier());
    let guard = FeedbackConfig {
        trip_windows: 1,
        ..GUARD
    };
    let out: &'static CableOut = Box::leak(Box::new(CableOut {
        cable: Cable::new(emu.clone(), CableConfig { feedback: guard }),
        w: WriterId::new(0).unwrap(),
    }));
    let lb = Loopback::new(emu.clone(), LoopbackConfig::DEFAULT).unwrap();
    // SAFETY: detached below before `lb` drops.
    let id = unsafe { out.cable.attach(&lb) }.unwrap();
    out.cable.join(id);
    let alloc = test_allocator(&emu);
    let clock = TestClock::new(&emu);
    let q = RenderQueue::new(emu.clone(), &alloc, &clock, out, RenderConfig::DEFAULT).unwrap();
    q.set_state(KsState::RUN);
    let evs: Vec<_> = (0..50u8)
        .map(|k| event(&alloc, &[0x90, k, 1], 0, 0))
        .collect();
    // SAFETY: fresh events of the queue's allocator, given to the queue.
    emu.at_irql(DISPATCH_LEVEL, || unsafe { q.put_message(chain(&evs)) });
    emu.advance_time(MS / 2);
    let rs = q.stats();
    assert_eq!(rs.events_played, 50);
    assert_eq!(rs.messages_written, 10);
    let m = rs.dropped_muted;
    assert_eq!((m.messages, m.bytes, m.sysex_truncated), (40, 120, 0));
    assert_eq!(rs.dropped().messages, 40);
    assert_eq!(out.cable.stats().feedback.messages_muted, 40);
    q.set_state(KsState::STOP);
    drop(q);
    assert_eq!(outstanding(&alloc), (0, 0));
    out.cable.detach(id);
    drop((lb, alloc, clock));
    emu.unload().expect("clean unload");
}
