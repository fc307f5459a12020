//! Several threads at DISPATCH_LEVEL hammer one allocator: gets, chains with buffers and
//! packages, puts of blocks another thread got (a shared queue, as render does), bounded
//! iterations, then nothing outstanding and a clean unload.

mod alloc_support;

use alloc_support::*;
use mxf_abi::*;
use mxf_core::alloc::AllocatorConfig;
use mxf_core::platform::DISPATCH_LEVEL;
use mxf_kemu::{Emu, EmuConfig};
use std::sync::{Arc, Barrier, Mutex};

const THREADS: usize = 4;
const ITERS: u64 = 4000;

/// Stamps an event with its owner so that a block handed to two threads at once is noticed
/// (the second owner's stamp overwrites the first's).
fn stamp(e: std::ptr::NonNull<DmusKernelEvent>, who: u64) {
    // SAFETY: a held event of ours.
    unsafe { (*e.as_ptr()).ull_byte_position = who };
}

fn check(e: std::ptr::NonNull<DmusKernelEvent>, who: u64) {
    // SAFETY: a held event of ours.
    let got = unsafe { (*e.as_ptr()).ull_byte_position };
    assert_eq!(
        got, who,
        "event {e:p} was handed to another thread while live"
    );
}

fn hammer(emu_cfg: EmuConfig, cfg: AllocatorConfig) {
    let emu = Emu::new(emu_cfg);
    let p = make(&emu, cfg);
    // Chains handed from one thread to another (addresses; the receiver puts them).
    let queue: Arc<Mutex<Vec<usize>>> = Arc::new(Mutex::new(Vec::new()));
    let barrier = Arc::new(Barrier::new(THREADS));
    let hs: Vec<_> = (0..THREADS as u64)
        .map(|t| {
            let (emu, p, queue, barrier) = (emu.clone(), p.clone(), queue.clone(), barrier.clone());
            std::thread::spawn(move || {
                barrier.wait();
                emu.at_irql(DISPATCH_LEVEL, || {
                    let mut x = 0x9E37_79B9_7F4A_7C15u64 ^ t;
                    for i in 0..ITERS {
                        x ^= x << 13;
                        x ^= x >> 7;
                        x ^= x << 17;
                        let who = (t << 32) | i;
                        let mut evs = Vec::new();
                        for _ in 0..1 + x % 4 {
                            let Ok(e) = p.get_message() else { break };
                            assert!(is_fresh(e));
                            stamp(e, who);
                            evs.push(e);
                        }
                        if evs.is_empty() {
                            continue;
                        }
                        if x.is_multiple_of(3)
                            && let Ok(b) = p.get_buffer()
                        {
                            set_buffer(evs[0], b, 64);
                        }
                        if evs.len() >= 3 && x.is_multiple_of(5) {
                            // evs[1] becomes a package holding evs[2..].
                            let sub = link(&evs[2..]);
                            set_package(evs[1], sub);
                            evs.truncate(2);
                        }
                        std::thread::yield_now();
                        for &e in &evs {
                            check(e, who);
                        }
                        let chain = link(&evs);
                        if x.is_multiple_of(2) {
                            queue.lock().unwrap().push(chain as usize);
                        } else {
                            // SAFETY: our chain, once.
                            unsafe { p.put_message(chain) };
                        }
                        if let Some(c) = queue.lock().unwrap().pop() {
                            // SAFETY: a chain another thread (or this one) handed over.
                            unsafe { p.put_message(c as *mut DmusKernelEvent) };
                        }
                    }
                });
            })
        })
        .collect();
    for h in hs {
        h.join().expect("worker");
    }
    for c in queue.lock().unwrap().drain(..) {
        // SAFETY: handed-over chains not yet put.
        unsafe { p.put_message(c as *mut DmusKernelEvent) };
    }
    let s = ours(&p).stats();
    assert_eq!(
        (s.outstanding_events, s.outstanding_buffers),
        (0, 0),
        "{s:?}"
    );
    assert_eq!((s.puts, s.buffer_puts), (s.gets, s.buffer_gets));
    assert!(s.gets >= ITERS * THREADS as u64, "{s:?}");
    assert!(s.high_water_events <= cfg.max_events);
    drop(p);
    assert_clean_unload(&emu);
}

#[test]
fn four_threads_on_the_reserve_and_the_pool() {
    // Reserve smaller than the working set: both paths, and the cap, under contention.
    hammer(
        EmuConfig::default(),
        AllocatorConfig {
            buffer_size: 64,
            reserve_events: 8,
            reserve_buffers: 2,
            max_events: 48,
            max_buffers: 6,
            poison_freed: false,
        },
    );
}

#[test]
fn four_threads_under_verifier_with_poison() {
    hammer(
        EmuConfig::verifier(),
        AllocatorConfig {
            buffer_size: 64,
            reserve_events: 16,
            reserve_buffers: 4,
            max_events: 64,
            max_buffers: 8,
            poison_freed: true,
        },
    );
}
