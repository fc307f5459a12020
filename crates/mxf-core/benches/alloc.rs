//! Allocator benchmark: ns per GetMessage+PutMessage and GetBuffer+PutBuffer pair through the
//! vtable, against baselines measured in the same run, single thread and two threads.
//!
//! Run: `cargo bench -p mxf-core --bench alloc` (set `MXF_BENCH_ITERS` to change the pairs
//! per measurement, default 1,000,000).
//!
//! The platform is `mxf-kemu` with Verifier and special pool off. The measured loops run
//! entirely on reserve hits, which never call the platform, and inside one
//! `at_irql(DISPATCH_LEVEL, ..)` per thread (kemu's IRQL bookkeeping is a thread-local, but
//! it is not even in the loop): what is timed is the allocator's own code.
//!
//! Baselines:
//! - `raw 16-byte-CAS stack`: a Treiber stack of pointers with a `{ptr, tag}` head changed by
//!   `lock cmpxchg16b` — pop + push, the floor of a lookaside (SLIST) hit;
//! - `heap Box<[u8; 40]>`: the global allocator's alloc + free of an event-sized block;
//! - `locked free list`: `std::sync::Mutex<Vec<*mut u8>>` pop + push.

use mxf_abi::IAllocatorMxf;
use mxf_core::alloc::{Allocator, AllocatorConfig, new_allocator};
use mxf_core::com::ComPtr;
use mxf_core::platform::DISPATCH_LEVEL;
use mxf_kemu::{Emu, EmuConfig};
use std::hint::black_box;
use std::sync::{Arc, Barrier, Mutex};
use std::time::{Duration, Instant};

const RUNS: usize = 7;

fn iters() -> u64 {
    std::env::var("MXF_BENCH_ITERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000)
}

/// Time of `threads` threads each running `body(n)` at once; returns ns per pair per thread
/// and pairs per second overall.
fn measure<F>(threads: usize, n: u64, body: F) -> (f64, f64)
where
    F: Fn(u64) + Sync + Send + Clone + 'static,
{
    let mut best = Duration::MAX;
    {
        let barrier = Arc::new(Barrier::new(threads + 1));
        let hs: Vec<_> = (0..threads)
            .map(|_| {
                let b = barrier.clone();
                let body = body.clone();
                std::thread::spawn(move || {
                    b.wait();
                    body(n);
                    b.wait();
                })
            })
            .collect();
        barrier.wait();
        let t0 = Instant::now();
        barrier.wait();
        let dt = t0.elapsed();
        for h in hs {
            h.join().unwrap();
        }
        best = best.min(dt);
    }
    let ns = best.as_nanos() as f64 / n as f64;
    let per_sec = (threads as u64 * n) as f64 / best.as_secs_f64();
    (ns, per_sec)
}

// ---------------------------------------------------------------- raw 16-byte-CAS stack

#[cfg(target_arch = "x86_64")]
mod raw {
    use std::sync::atomic::{AtomicPtr, AtomicU64, Ordering};

    #[repr(C, align(64))]
    pub struct Node {
        next: AtomicPtr<Node>,
        _payload: [u8; 40],
    }

    /// `{ptr, tag}` changed only by `lock cmpxchg16b`.
    #[repr(C, align(16))]
    pub struct Stack {
        ptr: AtomicU64,
        tag: AtomicU64,
    }

    // SAFETY: all access is atomic (halves loaded atomically, the pair changed by CAS16).
    unsafe impl Sync for Stack {}

    /// `lock cmpxchg16b`: if `*dst == (old_ptr, old_tag)` store `(new_ptr, new_tag)`.
    /// Returns `Ok(())` or `Err(current)`.
    #[inline]
    fn cas16(dst: &Stack, old: (u64, u64), new: (u64, u64)) -> Result<(), (u64, u64)> {
        let (seen_lo, seen_hi): (u64, u64);
        let ok: u8;
        // SAFETY: `dst` is 16-aligned and valid; cmpxchg16b is checked for at start-up. rbx
        // is reserved by LLVM, so the new low half goes through a scratch register swapped
        // in and out around the instruction (flags are untouched by `mov`).
        unsafe {
            core::arch::asm!(
                "xchg {tmp}, rbx",
                "lock cmpxchg16b xmmword ptr [{dst}]",
                "mov rbx, {tmp}",
                "setz {ok}",
                dst = in(reg) dst as *const Stack,
                tmp = inout(reg) new.0 => _,
                ok = out(reg_byte) ok,
                in("rcx") new.1,
                inout("rax") old.0 => seen_lo,
                inout("rdx") old.1 => seen_hi,
                options(nostack),
            );
        }
        if ok != 0 {
            Ok(())
        } else {
            Err((seen_lo, seen_hi))
        }
    }

    impl Stack {
        pub fn new(nodes: &'static [Node]) -> Self {
            let s = Stack {
                ptr: AtomicU64::new(0),
                tag: AtomicU64::new(0),
            };
            for n in nodes {
                s.push(n as *const Node as *mut Node);
            }
            s
        }

        fn head(&self) -> (u64, u64) {
            (
                self.ptr.load(Ordering::Acquire),
                self.tag.load(Ordering::Acquire),
            )
        }

        #[inline]
        pub fn pop(&self) -> *mut Node {
            let mut h = self.head();
            loop {
                let p = h.0 as *mut Node;
                if p.is_null() {
                    return p;
                }
                // SAFETY: nodes are 'static and never freed; a stale read is caught by the tag.
                let next = unsafe { (*p).next.load(Ordering::Relaxed) };
                match cas16(self, h, (next as u64, h.1.wrapping_add(1))) {
                    Ok(()) => return p,
                    Err(seen) => h = seen,
                }
            }
        }

        #[inline]
        pub fn push(&self, n: *mut Node) {
            let mut h = self.head();
            loop {
                // SAFETY: `n` is a 'static node owned by the caller.
                unsafe { (*n).next.store(h.0 as *mut Node, Ordering::Relaxed) };
                match cas16(self, h, (n as u64, h.1.wrapping_add(1))) {
                    Ok(()) => return,
                    Err(seen) => h = seen,
                }
            }
        }
    }

    pub fn nodes(n: usize) -> &'static [Node] {
        Box::leak(
            (0..n)
                .map(|_| Node {
                    next: AtomicPtr::new(std::ptr::null_mut()),
                    _payload: [0; 40],
                })
                .collect::<Vec<_>>()
                .into_boxed_slice(),
        )
    }
}

fn main() {
    #[cfg(not(target_arch = "x86_64"))]
    {
        eprintln!("the raw 16-byte CAS baseline is x86_64 only");
        return;
    }
    #[cfg(target_arch = "x86_64")]
    run();
}

#[cfg(target_arch = "x86_64")]
fn run() {
    assert!(
        std::arch::is_x86_feature_detected!("cmpxchg16b"),
        "CPU without cmpxchg16b"
    );
    let n = iters();
    let emu = Emu::new(EmuConfig {
        verifier: false,
        special_pool: false,
        ..EmuConfig::default()
    });
    let alloc: ComPtr<IAllocatorMxf> =
        new_allocator(emu.clone(), AllocatorConfig::default()).expect("allocator");
    let shared = Arc::new(SendPtr(alloc.clone()));

    // Our allocator, through the vtable.
    let msg = {
        let (emu, a) = (emu.clone(), shared.clone());
        move |n: u64| {
            emu.at_irql(DISPATCH_LEVEL, || {
                for _ in 0..n {
                    let e = a.0.get_message().unwrap();
                    // SAFETY: our event, given back once.
                    unsafe { a.0.put_message(black_box(e.as_ptr())) };
                }
            })
        }
    };
    let buf = {
        let (emu, a) = (emu.clone(), shared.clone());
        move |n: u64| {
            emu.at_irql(DISPATCH_LEVEL, || {
                for _ in 0..n {
                    let b = a.0.get_buffer().unwrap();
                    // SAFETY: our buffer, given back once.
                    unsafe { a.0.put_buffer(black_box(b)) };
                }
            })
        }
    };
    // Baselines.
    let stack: &'static raw::Stack = Box::leak(Box::new(raw::Stack::new(raw::nodes(256))));
    let raw_pair = move |n: u64| {
        for _ in 0..n {
            let p = stack.pop();
            stack.push(black_box(p));
        }
    };
    let heap = |n: u64| {
        for _ in 0..n {
            drop(black_box(Box::new([0u8; 40])));
        }
    };
    let list: &'static Mutex<Vec<usize>> = Box::leak(Box::new(Mutex::new((0..256).collect())));
    let locked = move |n: u64| {
        for _ in 0..n {
            let p = list.lock().unwrap().pop().unwrap();
            list.lock().unwrap().push(black_box(p));
        }
    };

    println!(
        "mxf-core allocator benchmark: {n} pairs per measurement, best of {RUNS} rounds \
         (rounds interleave all candidates, so background load hits them alike)"
    );
    let cands: [(&str, &'static (dyn Fn(u64) + Sync)); 5] = [
        ("GetMessage+PutMessage (vtable)", unsafe_static(&msg)),
        ("GetBuffer+PutBuffer (vtable)", unsafe_static(&buf)),
        ("raw 16-byte-CAS stack pop+push", unsafe_static(&raw_pair)),
        ("heap Box<[u8; 40]> alloc+free", unsafe_static(&heap)),
        (
            "locked free list (Mutex<Vec>) pop+push",
            unsafe_static(&locked),
        ),
    ];
    let mut best = [(f64::MAX, 0f64, f64::MAX, 0f64); 5];
    for _ in 0..RUNS {
        for (i, &(_, f)) in cands.iter().enumerate() {
            let (ns1, t1) = measure(1, n, f);
            let (ns2, t2) = measure(2, n, f);
            let b = &mut best[i];
            if ns1 < b.0 {
                (b.0, b.1) = (ns1, t1);
            }
            if ns2 < b.2 {
                (b.2, b.3) = (ns2, t2);
            }
        }
    }
    println!(
        "{:<42} {:>10} {:>10} {:>14}",
        "", "1T ns/pair", "2T ns/pair", "2T/1T thrpt"
    );
    let mut rows = Vec::new();
    for (i, (name, _)) in cands.iter().enumerate() {
        let (ns1, t1, ns2, t2) = best[i];
        println!("{name:<42} {ns1:>10.2} {ns2:>10.2} {:>13.2}x", t2 / t1);
        rows.push((*name, ns1, t2 / t1));
    }
    let (m, b, r, h, l) = (rows[0].1, rows[1].1, rows[2].1, rows[3].1, rows[4].1);
    println!();
    println!("ratios (single thread, lower is better for us):");
    for (what, ours) in [("GetMessage+PutMessage", m), ("GetBuffer+PutBuffer", b)] {
        println!(
            "  {what:<22} / raw stack {:.2}x (goal <= 1.5x)   / heap {:.2}x (goal < 1x)   / locked list {:.2}x",
            ours / r,
            ours / h,
            ours / l
        );
    }
    println!(
        "  2-thread throughput vs 1 thread: messages {:.2}x, buffers {:.2}x (goal >= 1x)",
        rows[0].2, rows[1].2
    );
    let s = Allocator::from_com(&alloc).expect("ours").stats();
    assert_eq!(s.outstanding_events + s.outstanding_buffers, 0);
    assert_eq!(s.pool_misses, 0, "the timed loops ran on reserve hits only");
    drop((msg, buf, shared));
    drop(alloc);
    emu.unload().expect("clean unload");
}

/// A `ComPtr` shared by the benchmark threads (ComPtr is Send + Sync).
struct SendPtr(ComPtr<IAllocatorMxf>);

/// Extends a borrow of a closure that lives until `run` returns, which outlives every
/// measurement thread (each is joined inside `measure`).
fn unsafe_static(f: &(dyn Fn(u64) + Sync)) -> &'static (dyn Fn(u64) + Sync) {
    // SAFETY: see above: all threads using the reference are joined before `f` is dropped.
    unsafe { std::mem::transmute(f) }
}
