//! Emulated processors: `processor_count` is the configured count, every thread gets a stable
//! processor assigned round robin per emulator, and a thread can be moved.

use mxf_core::platform::{DISPATCH_LEVEL, MAX_PROCESSORS, Platform};
use mxf_kemu::{DEFAULT_PROCESSORS, Emu, EmuConfig};
use std::collections::BTreeSet;
use std::sync::Barrier;

fn emu_with(processors: u32) -> Emu {
    Emu::new(EmuConfig {
        processors,
        ..EmuConfig::default()
    })
}

#[test]
fn processor_count_is_the_configured_count() {
    assert_eq!(EmuConfig::default().processors, DEFAULT_PROCESSORS);
    assert_eq!(EmuConfig::verifier().processors, DEFAULT_PROCESSORS);
    assert_eq!(Emu::new(EmuConfig::default()).processor_count(), 4);
    assert_eq!(emu_with(1).processor_count(), 1);
    assert_eq!(emu_with(MAX_PROCESSORS).processor_count(), MAX_PROCESSORS);
}

#[test]
#[should_panic(expected = "EmuConfig::processors")]
fn zero_processors_is_refused() {
    emu_with(0);
}

#[test]
#[should_panic(expected = "EmuConfig::processors")]
fn more_than_max_processors_is_refused() {
    emu_with(MAX_PROCESSORS + 1);
}

#[test]
fn a_thread_keeps_its_processor_at_every_irql() {
    let emu = emu_with(3);
    let first = emu.current_processor();
    assert_eq!(
        first, 0,
        "the first thread to ask an emulator gets processor 0"
    );
    for _ in 0..100 {
        assert_eq!(emu.current_processor(), first);
        assert_eq!(
            emu.at_irql(DISPATCH_LEVEL, || emu.current_processor()),
            first
        );
    }
}

#[test]
fn threads_get_processors_round_robin_so_two_threads_run_on_two_processors() {
    let emu = emu_with(4);
    // Eight threads that each ask once, all alive at once (so none can be a reused thread):
    // each processor is given to exactly two of them.
    let barrier = Barrier::new(8);
    let cpus: Vec<u32> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..8)
            .map(|_| {
                s.spawn(|| {
                    let c = emu.current_processor();
                    barrier.wait();
                    // Still the same after every thread got one.
                    assert_eq!(emu.current_processor(), c);
                    c
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for c in 0..4 {
        assert_eq!(cpus.iter().filter(|&&x| x == c).count(), 2, "{cpus:?}");
    }
    // Two threads of a fresh emulator: two different processors.
    let emu = emu_with(2);
    let two: BTreeSet<u32> = std::thread::scope(|s| {
        let a = s.spawn(|| emu.current_processor()).join().unwrap();
        let b = s.spawn(|| emu.current_processor()).join().unwrap();
        [a, b].into()
    });
    assert_eq!(two, [0, 1].into());
}

#[test]
fn each_emulator_assigns_its_own_processors() {
    let a = emu_with(2);
    let b = emu_with(2);
    // This thread is the first user of both: processor 0 on each, and switching between
    // them does not lose either assignment.
    assert_eq!(a.current_processor(), 0);
    assert_eq!(b.current_processor(), 0);
    a.set_current_processor(1);
    assert_eq!(b.current_processor(), 0);
    assert_eq!(a.current_processor(), 1);
    assert_eq!(b.current_processor(), 0);
    // Another thread: processor 1 of `b` (its second user), 0 of `a` (round robin wrapped).
    std::thread::scope(|s| {
        s.spawn(|| {
            assert_eq!(b.current_processor(), 1);
            assert_eq!(a.current_processor(), 1);
        });
    });
}

#[test]
fn set_current_processor_moves_the_calling_thread_only() {
    let emu = emu_with(4);
    assert_eq!(emu.current_processor(), 0);
    emu.set_current_processor(3);
    assert_eq!(emu.current_processor(), 3);
    std::thread::scope(|s| {
        s.spawn(|| {
            // The round robin goes on from where it was (1), unaffected by the move.
            assert_eq!(emu.current_processor(), 1);
        });
    });
    assert_eq!(emu.current_processor(), 3);
}

#[test]
#[should_panic(expected = "emulated processor 4 of 4")]
fn set_current_processor_beyond_the_count_is_refused() {
    emu_with(4).set_current_processor(4);
}
