//! The per-processor reserve: the reserve is split over the platform's processors, a get
//! steals from the others when its own stack is empty (so every free reserve block is
//! reachable from every processor), a put goes to the processor it runs on, and the counters
//! add up over all processors. Plus the IRQL check of every get and put, whichever of the
//! reserve or the block pool serves it.

mod alloc_support;

use alloc_support::*;
use mxf_abi::*;
use mxf_core::alloc::header::Kind;
use mxf_core::alloc::reserve::STEAL_BATCH;
use mxf_core::alloc::{Allocator, AllocatorConfig};
use mxf_core::platform::bugcheck::*;
use mxf_core::platform::{DISPATCH_LEVEL, Irql, NON_PAGED_POOL_NX, Platform};
use mxf_kemu::{Emu, EmuConfig, c4, expect_bugcheck};
use std::ptr::{self, NonNull};

const EVENT_BLOCK: usize = 16 + DMUS_KERNEL_EVENT_SIZE;

fn emu_cpus(processors: u32, verifier: bool) -> Emu {
    let base = if verifier {
        EmuConfig::verifier()
    } else {
        EmuConfig::default()
    };
    Emu::new(EmuConfig { processors, ..base })
}

fn cfg(reserve_events: u16, reserve_buffers: u16) -> AllocatorConfig {
    AllocatorConfig {
        reserve_events,
        reserve_buffers,
        max_events: 256,
        max_buffers: 64,
        ..small_cfg()
    }
}

fn free_by_cpu(a: &Allocator, kind: Kind) -> Vec<u32> {
    (0..a.reserve_processors(kind))
        .map(|c| a.reserve_free_on(kind, c).unwrap())
        .collect()
}

/// Puts one event (a chain of one).
fn put_event(p: &mxf_core::com::ComPtr<IAllocatorMxf>, e: NonNull<DmusKernelEvent>) {
    // SAFETY: our own event, a chain of one (fresh events have a null pNextEvt), put once.
    unsafe { p.put_message(e.as_ptr()) };
}

#[test]
fn the_reserve_is_split_over_the_processors_slot_i_on_processor_i_mod_n() {
    let emu = emu_cpus(4, false);
    let p = make(&emu, cfg(10, 2));
    let a = ours(&p);
    assert_eq!(a.reserve_processors(Kind::Event), 4);
    assert_eq!(free_by_cpu(a, Kind::Event), [3, 3, 2, 2]);
    assert_eq!(free_by_cpu(a, Kind::Buffer), [1, 1, 0, 0]);
    assert_eq!(a.reserve_free_on(Kind::Event, 4), None);
    let s = a.stats();
    assert_eq!((s.reserve_free_events, s.reserve_free_buffers), (10, 2));
    // Without a reserve: no stacks at all.
    let q = make(&emu, cfg(0, 0));
    assert_eq!(ours(&q).reserve_processors(Kind::Event), 0);
    assert_eq!(ours(&q).reserve_free_on(Kind::Event, 0), None);
    drop((p, q));
    assert_clean_unload(&emu);
}

#[test]
fn one_processor_is_one_stack_with_the_whole_reserve() {
    let emu = emu_cpus(1, false);
    let p = make(&emu, cfg(10, 2));
    assert_eq!(free_by_cpu(ours(&p), Kind::Event), [10]);
    assert_eq!(free_by_cpu(ours(&p), Kind::Buffer), [2]);
    drop(p);
    assert_clean_unload(&emu);
}

#[test]
fn a_get_on_an_empty_processor_steals_and_moves_half_the_victims_rest() {
    let emu = emu_cpus(4, false);
    let p = make(&emu, cfg(64, 2));
    let a = ours(&p);
    emu.set_current_processor(0);
    let mut evs: Vec<_> = (0..16).map(|_| p.get_message().unwrap()).collect();
    assert_eq!(free_by_cpu(a, Kind::Event), [0, 16, 16, 16]);
    // The 17th: one from processor 1 for the caller, then 15 / 2 = 7 moved to processor 0.
    evs.push(p.get_message().unwrap());
    let moved = (15 / 2).min(STEAL_BATCH);
    assert_eq!(free_by_cpu(a, Kind::Event), [moved, 15 - moved, 16, 16]);
    let s = a.stats();
    assert_eq!((s.gets, s.reserve_hits, s.pool_misses), (17, 17, 0));
    assert_eq!((s.outstanding_events, s.reserve_free_events), (17, 47));
    assert_eq!(s.high_water_events, 17);
    // The next gets are local to processor 0 again.
    for _ in 0..moved {
        evs.push(p.get_message().unwrap());
    }
    assert_eq!(free_by_cpu(a, Kind::Event), [0, 15 - moved, 16, 16]);
    // Everything back on processor 0: the whole reserve is accounted for.
    for e in evs.drain(..) {
        put_event(&p, e);
    }
    let s = a.stats();
    assert_eq!(free_by_cpu(a, Kind::Event), [24, 8, 16, 16]);
    assert_eq!((s.gets, s.puts, s.reserve_hits), (24, 24, 24));
    assert_eq!((s.outstanding_events, s.reserve_free_events), (0, 64));
    assert_eq!(s.high_water_events, 24);
    drop(p);
    assert_clean_unload(&emu);
}

#[test]
fn from_every_processor_the_whole_reserve_is_served_before_the_pool() {
    // The capture path's promise: the reserve never "starts empty" on whichever processor the
    // DPC runs, even though only a quarter of it starts there.
    for cpu in 0..4 {
        let emu = emu_cpus(4, false);
        let p = make(&emu, cfg(12, 2));
        let a = ours(&p);
        emu.set_current_processor(cpu);
        let evs: Vec<_> = emu.at_irql(DISPATCH_LEVEL, || {
            (0..12).map(|_| p.get_message().unwrap()).collect()
        });
        let s = a.stats();
        assert_eq!((s.reserve_hits, s.pool_misses), (12, 0), "cpu {cpu}");
        assert_eq!(s.reserve_free_events, 0);
        let bufs: Vec<_> = (0..2).map(|_| p.get_buffer().unwrap()).collect();
        assert_eq!(a.stats().pool_misses, 0, "cpu {cpu}: buffers");
        // One more of each: the block pool.
        let extra = p.get_message().unwrap();
        assert_eq!(a.stats().pool_misses, 1);
        put_event(&p, extra);
        for e in evs {
            put_event(&p, e);
        }
        for b in bufs {
            // SAFETY: our buffers, put once.
            unsafe { p.put_buffer(b) };
        }
        let mut expect = vec![0u32; 4];
        expect[cpu as usize] = 12;
        assert_eq!(
            free_by_cpu(a, Kind::Event),
            expect,
            "all back where they were put"
        );
        drop(p);
        assert_clean_unload(&emu);
    }
}

#[test]
fn a_put_goes_to_the_processor_it_runs_on() {
    let emu = emu_cpus(4, false);
    let p = make(&emu, cfg(8, 4));
    let a = ours(&p);
    emu.set_current_processor(1);
    let e = p.get_message().unwrap();
    let b = p.get_buffer().unwrap();
    assert_eq!(free_by_cpu(a, Kind::Event), [2, 1, 2, 2]);
    assert_eq!(free_by_cpu(a, Kind::Buffer), [1, 0, 1, 1]);
    // The thread "migrates" (PASSIVE_LEVEL) before putting.
    emu.set_current_processor(3);
    put_event(&p, e);
    // SAFETY: our buffer, put once.
    unsafe { p.put_buffer(b) };
    assert_eq!(free_by_cpu(a, Kind::Event), [2, 1, 2, 3]);
    assert_eq!(free_by_cpu(a, Kind::Buffer), [1, 0, 1, 2]);
    let s = a.stats();
    assert_eq!((s.gets, s.puts, s.buffer_gets, s.buffer_puts), (1, 1, 1, 1));
    assert_eq!(s.reserve_hits, 2);
    drop(p);
    assert_clean_unload(&emu);
}

/// A xorshift generator: deterministic, no dependency.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

#[test]
fn on_one_processor_the_counters_and_the_high_water_mark_are_exact_through_steals() {
    for seed in 1..=8u64 {
        let emu = emu_cpus(4, false);
        let p = make(&emu, cfg(40, 2));
        let a = ours(&p);
        let cpu = (seed % 4) as u32;
        emu.set_current_processor(cpu);
        let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let mut held = Vec::new();
        let (mut gets, mut hits, mut max) = (0u64, 0u64, 0usize);
        let mut target = 0usize;
        for step in 0..2000 {
            // Wander towards a target count that changes every 50 steps (0..60: past this
            // processor's share of 10, at times past the whole reserve of 40).
            if step % 50 == 0 {
                target = (rng.next() % 60) as usize;
            }
            let toward = (rng.next() % 100) < 85;
            let get = held.is_empty() || ((held.len() < target) == toward);
            if get && held.len() < 120 {
                let free_before = a.stats().reserve_free_events;
                held.push(p.get_message().unwrap());
                gets += 1;
                hits += u64::from(free_before > 0);
                max = max.max(held.len());
            } else if let Some(e) = held.pop() {
                let i = (rng.next() as usize) % (held.len() + 1);
                held.push(e);
                let e = held.swap_remove(i);
                put_event(&p, e);
            }
            let s = a.stats();
            assert_eq!(s.outstanding_events as usize, held.len());
            assert_eq!((s.gets, s.reserve_hits), (gets, hits), "seed {seed}");
            assert_eq!(s.high_water_events as usize, max, "seed {seed}");
            assert_eq!(s.gets, s.reserve_hits + s.pool_misses);
        }
        for e in held {
            put_event(&p, e);
        }
        let s = a.stats();
        assert_eq!((s.outstanding_events, s.reserve_free_events), (0, 40));
        assert_eq!(s.gets, s.puts);
        assert_eq!(s.gets, s.reserve_hits + s.pool_misses);
        // The run went past this processor's share (steals) and past the reserve (pool).
        assert!(
            max > 40 && s.pool_misses > 0,
            "seed {seed}: max {max}, {s:?}"
        );
        drop(p);
        assert_clean_unload(&emu);
    }
}

#[test]
fn two_threads_on_two_processors_share_the_reserve_without_losing_a_block() {
    let emu = emu_cpus(2, false);
    let p = make(&emu, cfg(32, 4));
    let a = ours(&p);
    std::thread::scope(|s| {
        for t in 0..2u32 {
            let (emu, p) = (&emu, &p);
            s.spawn(move || {
                emu.set_current_processor(t);
                let mut rng = Rng(u64::from(t) + 77);
                for round in 0..300 {
                    // Hold a varying number (up to the whole reserve between the two), so that
                    // both steal from each other and sometimes go to the pool.
                    let n = (rng.next() % 24) as usize;
                    let evs: Vec<_> = emu.at_irql(DISPATCH_LEVEL, || {
                        (0..n).map(|_| p.get_message().unwrap()).collect()
                    });
                    let buf = p.get_buffer().unwrap();
                    if round % 7 == 0 {
                        // Put from the other processor now and then.
                        emu.set_current_processor(1 - t);
                    }
                    emu.at_irql(DISPATCH_LEVEL, || {
                        // SAFETY: our own events, linked into one chain, put once.
                        unsafe { p.put_message(link(&evs)) };
                        // SAFETY: our buffer, put once.
                        unsafe { p.put_buffer(buf) };
                    });
                    emu.set_current_processor(t);
                }
            });
        }
    });
    let s = a.stats();
    assert_eq!((s.outstanding_events, s.outstanding_buffers), (0, 0));
    assert_eq!((s.reserve_free_events, s.reserve_free_buffers), (32, 4));
    assert_eq!(
        s.gets + s.buffer_gets,
        s.reserve_hits + s.pool_misses,
        "{s:?}"
    );
    assert_eq!((s.gets, s.buffer_gets), (s.puts, s.buffer_puts));
    assert_eq!(s.buffer_gets, 600);
    // At most 2 x 23 held at once; a sample sums the two stacks without a lock, so it may
    // also count a block the other thread is moving between them.
    assert!((23..=48).contains(&s.high_water_events), "{s:?}");
    drop(p);
    assert_clean_unload(&emu);
}

// ------------------------------------------------------------------------------- IRQL

const ABOVE: Irql = 3;

fn above<R>(emu: &Emu, f: impl FnOnce() -> R) -> R {
    emu.raise_irql(ABOVE);
    f()
}

#[test]
fn a_get_above_dispatch_level_served_by_the_reserve_stops_like_the_pool() {
    for verifier in [false, true] {
        let emu = emu_cpus(4, verifier);
        let p = make(&emu, cfg(8, 2));
        let a = ours(&p);
        assert_eq!(
            a.stats().reserve_free_events,
            8,
            "the reserve would serve it"
        );
        let bc = expect_bugcheck(|| above(&emu, || a.get_message()));
        let want = if verifier {
            (
                DRIVER_VERIFIER_DETECTED_VIOLATION,
                [c4::ALLOC_IRQL, 3, NON_PAGED_POOL_NX, EVENT_BLOCK],
            )
        } else {
            (
                BAD_POOL_CALLER,
                [c2::ALLOC_IRQL, 3, NON_PAGED_POOL_NX, EVENT_BLOCK],
            )
        };
        assert_eq!((bc.code, bc.params), want, "{bc}");
        let bc = expect_bugcheck(|| above(&emu, || a.get_buffer()));
        assert_eq!(bc.params[3], 16 + 64, "{bc}");
        assert_eq!(bc.params[1], 3);
        // Nothing was taken.
        let s = a.stats();
        assert_eq!((s.gets, s.buffer_gets, s.reserve_free_events), (0, 0, 8));
        // At DISPATCH_LEVEL it works.
        let e = emu.at_irql(DISPATCH_LEVEL, || p.get_message().unwrap());
        put_event(&p, e);
        drop(p);
        assert_clean_unload(&emu);
    }
}

#[test]
fn a_put_of_a_reserve_block_above_dispatch_level_stops_and_leaves_the_block_alone() {
    let emu = emu_cpus(4, true);
    let p = make(&emu, cfg(8, 2));
    let a = ours(&p);
    let b = p.get_buffer().unwrap();
    let e = p.get_message().unwrap();
    // SAFETY: our buffer; the IRQL is the bug under test.
    let bc = expect_bugcheck(|| above(&emu, || unsafe { a.put_buffer(b) }));
    assert_eq!(bc.code, BAD_POOL_CALLER, "{bc}");
    let block = b.as_ptr() as usize - 16;
    assert_eq!(bc.params, [c2::FREE_IRQL, 3, NON_PAGED_POOL_NX, block]);
    // SAFETY: our event; the IRQL is the bug under test.
    let bc = expect_bugcheck(|| above(&emu, || unsafe { a.put_message(e.as_ptr()) }));
    assert_eq!(
        (bc.code, bc.params),
        (
            BAD_POOL_CALLER,
            [
                c2::FREE_IRQL,
                3,
                NON_PAGED_POOL_NX,
                e.as_ptr() as usize - 16
            ]
        )
    );
    // A null chain too: every put checks.
    // SAFETY: a null chain.
    let bc = expect_bugcheck(|| above(&emu, || unsafe { a.put_message(ptr::null_mut()) }));
    assert_eq!(bc.params, [c2::FREE_IRQL, 3, NON_PAGED_POOL_NX, 0]);
    // Both blocks are still live and ours: put at a legal IRQL, everything is clean.
    assert_eq!(
        (a.stats().outstanding_events, a.stats().outstanding_buffers),
        (1, 1)
    );
    // SAFETY: our buffer, put once (the refused put did not count).
    unsafe { p.put_buffer(b) };
    put_event(&p, e);
    let s = a.stats();
    assert_eq!((s.outstanding_events, s.outstanding_buffers), (0, 0));
    assert_eq!((s.reserve_free_events, s.reserve_free_buffers), (8, 2));
    drop(p);
    assert_clean_unload(&emu);
}

#[test]
fn a_put_of_a_pool_block_above_dispatch_level_is_the_pools_own_check() {
    for verifier in [false, true] {
        let emu = emu_cpus(4, verifier);
        let p = make(&emu, cfg(0, 0));
        let a = ours(&p);
        let b = p.get_buffer().unwrap();
        assert_eq!(a.stats().pool_misses, 1);
        let block = b.as_ptr() as usize - 16;
        // SAFETY: our buffer; the IRQL is the bug under test.
        let bc = expect_bugcheck(|| above(&emu, || unsafe { a.put_buffer(b) }));
        let want = if verifier {
            (
                DRIVER_VERIFIER_DETECTED_VIOLATION,
                [c4::FREE_IRQL, 3, NON_PAGED_POOL_NX, block],
            )
        } else {
            (
                BAD_POOL_CALLER,
                [c2::FREE_IRQL, 3, NON_PAGED_POOL_NX, block],
            )
        };
        assert_eq!((bc.code, bc.params), want, "{bc}");
        // The stop came before anything was freed (the emulator checks the IRQL first), but
        // the block is marked free: it stays out (leaked on purpose, as after any stop).
        drop(p);
        let _ = emu.unload();
    }
}

#[test]
fn gets_and_puts_at_every_legal_irql_pass_the_check() {
    let emu = emu_cpus(4, true);
    let p = make(&emu, cfg(4, 2));
    for irql in [0, 1, DISPATCH_LEVEL] {
        emu.at_irql(irql, || {
            assert_eq!(emu.current_irql(), irql);
            let e = p.get_message().unwrap();
            let b = p.get_buffer().unwrap();
            put_event(&p, e);
            // SAFETY: our buffer, put once.
            unsafe { p.put_buffer(b) };
        });
    }
    assert_eq!(ours(&p).stats().reserve_hits, 6);
    drop(p);
    assert_clean_unload(&emu);
}
