//! Property tests: random interleavings of GetMessage / GetBuffer / PutMessage (chains,
//! packages, nested packages, buffers, NULL package pointers) / PutBuffer never hand out a
//! live block twice, always return zeroed events, and end with nothing outstanding and a
//! clean unload — with and without fault injection, Verifier and reserve poisoning.

mod alloc_support;

use alloc_support::*;
use mxf_abi::*;
use mxf_core::alloc::AllocatorConfig;
use mxf_core::platform::DISPATCH_LEVEL;
use mxf_kemu::{Emu, EmuConfig, FaultPlan};
use proptest::prelude::*;
use std::collections::{HashSet, VecDeque};
use std::ptr::{self, NonNull};

#[derive(Clone, Debug)]
enum Op {
    Get,
    GetBuf,
    /// Put `n` held events as one chain shaped by `shape`.
    Put {
        n: usize,
        shape: u64,
    },
    PutBuf(usize),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => Just(Op::Get),
        2 => Just(Op::GetBuf),
        3 => (1usize..8, any::<u64>()).prop_map(|(n, shape)| Op::Put { n, shape }),
        1 => any::<usize>().prop_map(Op::PutBuf),
    ]
}

struct Model {
    events: Vec<NonNull<DmusKernelEvent>>,
    buffers: Vec<NonNull<u8>>,
    live: HashSet<usize>,
}

impl Model {
    fn got(&mut self, p: usize) {
        assert!(self.live.insert(p), "block {p:#x} handed out while live");
    }
}

fn next(r: &mut u64) -> u64 {
    *r ^= *r << 13;
    *r ^= *r >> 7;
    *r ^= *r << 17;
    *r
}

/// Links events from `pool` into a chain (1..=3 at this level) whose members are short
/// events, buffer events, packages with a NULL pointer, or packages with a sub-chain built
/// the same way; every buffer used is taken from `bufs`. Removes what it uses from `live`.
fn build(
    pool: &mut VecDeque<NonNull<DmusKernelEvent>>,
    bufs: &mut Vec<NonNull<u8>>,
    live: &mut HashSet<usize>,
    r: &mut u64,
    size: u16,
) -> *mut DmusKernelEvent {
    let mut level = Vec::new();
    let count = 1 + next(r) % 3;
    for _ in 0..count {
        let Some(e) = pool.pop_front() else { break };
        assert!(live.remove(&(e.as_ptr() as usize)));
        // SAFETY: a held event of ours, not otherwise borrowed.
        let ev = unsafe { &mut *e.as_ptr() };
        ev.ull_pres_time_100ns = next(r);
        ev.us_channel_group = 1;
        match next(r) % 4 {
            1 => {
                if let Some(b) = bufs.pop() {
                    assert!(live.remove(&(b.as_ptr() as usize)));
                    set_buffer(e, b, 9 + (next(r) % u64::from(size - 8)) as u16);
                }
            }
            2 => set_package(e, ptr::null_mut()),
            3 => {
                let sub = build(pool, bufs, live, r, size);
                set_package(e, sub);
            }
            _ => {
                // SAFETY: as above: a short event.
                unsafe { (*e.as_ptr()).cb_event = (next(r) % 9) as u16 };
            }
        }
        level.push(e);
    }
    link(&level)
}

fn run(emu_cfg: EmuConfig, cfg: AllocatorConfig, fault: Option<u32>, ops: Vec<Op>, seed: u64) {
    let emu = Emu::new(emu_cfg);
    let p = make(&emu, cfg);
    let a = ours(&p);
    if let Some(one_in) = fault {
        emu.set_fault_plan(FaultPlan::Random { seed, one_in });
    }
    let mut m = Model {
        events: Vec::new(),
        buffers: Vec::new(),
        live: HashSet::new(),
    };
    let size = p.buffer_size();
    emu.at_irql(DISPATCH_LEVEL, || {
        for op in ops {
            match op {
                Op::Get => match p.get_message() {
                    Ok(e) => {
                        assert!(is_fresh(e), "GetMessage must return a zeroed event");
                        m.got(e.as_ptr() as usize);
                        m.events.push(e);
                    }
                    Err(s) => assert_eq!(s, mxf_abi::NtError::INSUFFICIENT_RESOURCES),
                },
                Op::GetBuf => match p.get_buffer() {
                    Ok(b) => {
                        m.got(b.as_ptr() as usize);
                        // SAFETY: our buffer: write it all (the guards check the size).
                        unsafe { b.as_ptr().write_bytes(0xC3, usize::from(size)) };
                        m.buffers.push(b);
                    }
                    Err(s) => assert_eq!(s, mxf_abi::NtError::INSUFFICIENT_RESOURCES),
                },
                Op::Put { n, shape } => {
                    let take = n.min(m.events.len());
                    let mut pool: VecDeque<_> = m.events.drain(..take).collect();
                    let mut rr = shape | 1;
                    let mut heads = Vec::new();
                    while !pool.is_empty() {
                        heads.push(build(&mut pool, &mut m.buffers, &mut m.live, &mut rr, size));
                    }
                    // Chain the pieces together, then one PutMessage.
                    let mut chain = ptr::null_mut();
                    for h in heads.into_iter().rev() {
                        let mut tail = h;
                        // Find the top-level tail of `h`.
                        loop {
                            // SAFETY: an event of ours in a chain the test built.
                            let next = unsafe { (*tail).p_next_evt };
                            if next.is_null() {
                                break;
                            }
                            tail = next;
                        }
                        // SAFETY: as above; nothing else references the event.
                        unsafe { (*tail).p_next_evt = chain };
                        chain = h;
                    }
                    // SAFETY: every event and buffer in the chain is ours, handed over once.
                    unsafe { p.put_message(chain) };
                }
                Op::PutBuf(i) => {
                    if !m.buffers.is_empty() {
                        let b = m.buffers.swap_remove(i % m.buffers.len());
                        assert!(m.live.remove(&(b.as_ptr() as usize)));
                        // SAFETY: our buffer, once.
                        unsafe { p.put_buffer(b) };
                    }
                }
            }
            let s = a.stats();
            assert_eq!(s.outstanding_events as usize, m.events.len());
            assert_eq!(s.outstanding_buffers as usize, m.buffers.len());
        }
        // Give everything back.
        // SAFETY: the held events, ours, linked into one chain and given back once.
        unsafe { p.put_message(link(&m.events)) };
        for b in m.buffers.drain(..) {
            // SAFETY: a held buffer of ours, given back once.
            unsafe { p.put_buffer(b) };
        }
    });
    let s = a.stats();
    assert_eq!((s.outstanding_events, s.outstanding_buffers), (0, 0));
    assert_eq!(s.puts, s.gets);
    assert_eq!(s.buffer_puts, s.buffer_gets);
    assert_eq!(s.gets + s.buffer_gets, s.reserve_hits + s.pool_misses);
    emu.set_fault_plan(FaultPlan::None);
    drop(p);
    assert_clean_unload(&emu);
}

fn cfg(reserve_events: u16, reserve_buffers: u16, poison: bool) -> AllocatorConfig {
    AllocatorConfig {
        buffer_size: 32,
        reserve_events,
        reserve_buffers,
        max_events: 24,
        max_buffers: 6,
        poison_freed: poison,
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn interleavings_plain(ops in proptest::collection::vec(op(), 1..120), seed: u64,
                           re in 0u16..6, rb in 0u16..3) {
        run(EmuConfig::default(), cfg(re, rb, false), None, ops, seed);
    }

    #[test]
    fn interleavings_with_faults(ops in proptest::collection::vec(op(), 1..120), seed: u64,
                                 re in 0u16..6, rb in 0u16..3) {
        run(EmuConfig::default(), cfg(re, rb, false), Some(3), ops, seed);
    }

    #[test]
    fn interleavings_under_verifier_with_poison(ops in proptest::collection::vec(op(), 1..120),
                                                seed: u64, re in 0u16..6, rb in 0u16..3,
                                                faults: bool) {
        run(EmuConfig::verifier(), cfg(re, rb, true), faults.then_some(4), ops, seed);
    }
}
