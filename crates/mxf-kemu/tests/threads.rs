//! Several threads at DISPATCH_LEVEL sharing one emulator: no false positives, real mutual
//! exclusion, consistent counters.

use mxf_core::platform::{BlockPool, DISPATCH_LEVEL, Platform, PoolTag, SpinLock, Timer};
use mxf_kemu::{Emu, EmuConfig};
use std::ffi::c_void;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc;

const TAG: PoolTag = PoolTag::new(b"Thrd");
const THREADS: usize = 4;
const ITERS: usize = 3000;

#[test]
fn spin_lock_excludes_across_threads() {
    let emu = Emu::new(EmuConfig::default());
    // A non-atomic read-modify-write with a yield in the middle: lost updates would show if
    // the lock did not exclude.
    let lock = SpinLock::new(emu.new_spin_lock(), (0u64, 0u64));
    std::thread::scope(|s| {
        for t in 0..THREADS {
            let (emu, lock) = (&emu, &lock);
            s.spawn(move || {
                for i in 0..ITERS {
                    let run = || {
                        let mut g = lock.lock();
                        assert_eq!(emu.current_irql(), DISPATCH_LEVEL);
                        let v = g.0;
                        if i % 64 == 0 {
                            std::thread::yield_now();
                        }
                        g.0 = v + 1;
                        g.1 += t as u64;
                    };
                    if t % 2 == 0 {
                        emu.at_irql(DISPATCH_LEVEL, run)
                    } else {
                        run()
                    }
                }
            });
        }
    });
    let (count, sum) = lock.into_inner();
    assert_eq!(count, (THREADS * ITERS) as u64);
    assert_eq!(sum, (0..THREADS as u64).sum::<u64>() * ITERS as u64);
}

fn stress_block_pool(cfg: EmuConfig) {
    let emu = Emu::new(cfg);
    let pool = emu.new_block_pool(64, TAG).unwrap();
    // Each thread frees half its blocks itself and hands the rest to the next thread.
    let (txs, rxs): (Vec<_>, Vec<_>) = (0..THREADS).map(|_| mpsc::channel::<usize>()).unzip();
    std::thread::scope(|s| {
        for (t, rx) in rxs.into_iter().enumerate() {
            let (emu, pool, tx) = (&emu, &pool, txs[(t + 1) % THREADS].clone());
            s.spawn(move || {
                emu.at_irql(DISPATCH_LEVEL, || {
                    let mut held = Vec::new();
                    for i in 0..ITERS {
                        let b = pool.alloc().expect("no faults planned");
                        // SAFETY: `b` is a 64-byte block this thread owns until freed.
                        unsafe { b.as_ptr().write_bytes(t as u8, 64) };
                        held.push(b);
                        if held.len() == 8 || i + 1 == ITERS {
                            for (k, b) in held.drain(..).enumerate() {
                                // SAFETY: as above; no other thread got the same block, which
                                // this check would reveal.
                                let bytes = unsafe { std::slice::from_raw_parts(b.as_ptr(), 64) };
                                assert!(bytes.iter().all(|&x| x == t as u8), "block shared");
                                if k % 2 == 0 {
                                    // SAFETY: `b` came from `pool` and is not used again.
                                    unsafe { pool.free(b) };
                                } else {
                                    tx.send(b.as_ptr() as usize).unwrap();
                                }
                            }
                        }
                        while let Ok(p) = rx.try_recv() {
                            // SAFETY: another thread handed over a block of `pool` it no
                            // longer uses.
                            unsafe { pool.free(std::ptr::NonNull::new(p as *mut u8).unwrap()) };
                        }
                    }
                    drop(tx);
                    // Drain what the previous thread still sends.
                    for p in rx {
                        // SAFETY: as above.
                        unsafe { pool.free(std::ptr::NonNull::new(p as *mut u8).unwrap()) };
                    }
                });
            });
        }
        drop(txs);
    });
    let s = pool.stats();
    assert_eq!(s.allocs, (THREADS * ITERS) as u64);
    assert_eq!(s.frees, s.allocs);
    assert!(s.alloc_misses <= s.allocs && s.free_misses <= s.frees);
    drop(pool);
    let r = emu.unload().unwrap();
    assert_eq!(r.pool.total_allocs, r.pool.total_frees);
}

#[test]
fn block_pool_shared_by_threads_at_dispatch() {
    stress_block_pool(EmuConfig::default());
}

#[test]
fn block_pool_shared_by_threads_under_verifier() {
    stress_block_pool(EmuConfig::verifier());
}

#[test]
fn pool_alloc_and_free_from_many_threads() {
    let emu = Emu::new(EmuConfig::default());
    std::thread::scope(|s| {
        for t in 0..THREADS {
            let emu = &emu;
            s.spawn(move || {
                emu.at_irql(DISPATCH_LEVEL, || {
                    for i in 0..ITERS {
                        let size = 1 + (i * 7 + t) % 200;
                        let p = emu.pool_alloc(size, TAG).unwrap();
                        // SAFETY: `p` is a live allocation of `size` bytes.
                        unsafe { p.as_ptr().write_bytes(0xA5, size) };
                        // SAFETY: `p` came from pool_alloc with TAG.
                        unsafe { emu.pool_free(p, TAG) };
                    }
                });
            });
        }
    });
    let r = emu.unload().unwrap();
    assert_eq!(r.pool.total_allocs, (THREADS * ITERS) as u64);
}

struct Slow {
    started: AtomicBool,
    finished: AtomicBool,
    fires: AtomicU64,
}

unsafe fn slow_callback(ctx: *const c_void) {
    // SAFETY: the test keeps `Slow` alive past the timer's drop.
    let slow = unsafe { &*ctx.cast::<Slow>() };
    slow.started.store(true, Ordering::SeqCst);
    std::thread::sleep(std::time::Duration::from_millis(30));
    slow.fires.fetch_add(1, Ordering::SeqCst);
    slow.finished.store(true, Ordering::SeqCst);
}

#[test]
fn dropping_a_timer_waits_for_its_running_callback() {
    let emu = Emu::new(EmuConfig::default());
    let slow = Slow {
        started: AtomicBool::new(false),
        finished: AtomicBool::new(false),
        fires: AtomicU64::new(0),
    };
    // SAFETY: `slow` outlives the timer.
    let timer = unsafe { emu.new_timer(slow_callback, std::ptr::from_ref(&slow).cast()) }.unwrap();
    timer.set(0);
    std::thread::scope(|s| {
        s.spawn(|| emu.advance_time(1));
        while !slow.started.load(Ordering::SeqCst) {
            std::thread::yield_now();
        }
        drop(timer);
        assert!(
            slow.finished.load(Ordering::SeqCst),
            "drop returned while the callback ran"
        );
    });
    assert_eq!(slow.fires.load(Ordering::SeqCst), 1);
    emu.unload().unwrap();
}

unsafe fn count(ctx: *const c_void) {
    // SAFETY: the test keeps the counter alive past the timers' drop.
    unsafe { &*ctx.cast::<AtomicU64>() }.fetch_add(1, Ordering::SeqCst);
}

#[test]
fn timers_armed_from_several_threads_all_fire_once() {
    let emu = Emu::new(EmuConfig::default());
    let fired = AtomicU64::new(0);
    let timers: Vec<_> = (0..64)
        // SAFETY: `fired` outlives the timers.
        .map(|_| unsafe { emu.new_timer(count, std::ptr::from_ref(&fired).cast()) }.unwrap())
        .collect();
    std::thread::scope(|s| {
        for chunk in timers.chunks(16) {
            let emu = &emu;
            s.spawn(move || {
                emu.at_irql(DISPATCH_LEVEL, || {
                    for (i, t) in chunk.iter().enumerate() {
                        t.set(emu.now_100ns() + 10 * i as i64);
                    }
                });
            });
        }
        s.spawn(|| {
            for _ in 0..50 {
                emu.advance_time(3);
            }
        });
    });
    emu.advance_time(1000);
    assert_eq!(fired.load(Ordering::SeqCst), 64);
    drop(timers);
    emu.unload().unwrap();
}
