//! `PutMessage` recycles whole chains: buffers, packages (nested, with buffers inside, with
//! NULL package pointers), and callers that keep a buffer by clearing it first.

mod alloc_support;

use alloc_support::*;
use mxf_core::alloc::AllocatorConfig;
use mxf_core::platform::DISPATCH_LEVEL;

#[test]
fn a_mixed_chain_with_packages_and_buffers_comes_back_whole() {
    let emu = emu();
    let p = make(&emu, small_cfg());
    let a = ours(&p);
    emu.at_irql(DISPATCH_LEVEL, || {
        let short = p.get_message().unwrap();
        // SAFETY: a live event from the allocator, test-owned and not otherwise borrowed.
        let ev = unsafe { &mut *short.as_ptr() };
        ev.cb_event = 3;
        ev.u_data.ab_data = [0x90, 60, 100, 0, 0, 0, 0, 0];
        let with_buf = p.get_message().unwrap();
        set_buffer(with_buf, p.get_buffer().unwrap(), 64);
        let empty_pkg = p.get_message().unwrap();
        set_package(empty_pkg, std::ptr::null_mut());
        // A package whose sub-chain holds a buffer event and a nested package with another.
        let inner_buf = p.get_message().unwrap();
        set_buffer(inner_buf, p.get_buffer().unwrap(), 9);
        let nested_leaf = p.get_message().unwrap();
        set_buffer(nested_leaf, p.get_buffer().unwrap(), 40);
        let nested = p.get_message().unwrap();
        set_package(nested, link(&[nested_leaf]));
        let pkg = p.get_message().unwrap();
        set_package(pkg, link(&[inner_buf, nested]));
        let tail = p.get_message().unwrap();
        let chain = link(&[short, with_buf, empty_pkg, pkg, tail]);
        let s = a.stats();
        assert_eq!((s.outstanding_events, s.outstanding_buffers), (8, 3));
        // SAFETY: all ours, handed over once.
        unsafe { p.put_message(chain) };
    });
    let s = a.stats();
    assert_eq!((s.outstanding_events, s.outstanding_buffers), (0, 0));
    assert_eq!((s.puts, s.buffer_puts), (8, 3));
    drop(p);
    assert_clean_unload(&emu);
}

#[test]
fn a_cleared_buffer_is_kept_by_the_caller() {
    let emu = emu();
    let p = make(&emu, small_cfg());
    let a = ours(&p);
    let e = p.get_message().unwrap();
    let b = p.get_buffer().unwrap();
    set_buffer(e, b, 64);
    // The documented way to keep the buffer: clear cbEvent/pbData before returning the event.
    // SAFETY: a live event from the allocator, test-owned and not otherwise borrowed.
    let ev = unsafe { &mut *e.as_ptr() };
    ev.cb_event = 0;
    ev.u_data.pb_data = std::ptr::null_mut();
    // SAFETY: a well-formed one-event chain of this allocator, given up here.
    unsafe { p.put_message(e.as_ptr()) };
    assert_eq!(a.stats().outstanding_buffers, 1);
    // A short event (cbEvent <= 8) never frees anything through `abData`.
    let e = p.get_message().unwrap();
    // SAFETY: a live event from the allocator, test-owned and not otherwise borrowed.
    let ev = unsafe { &mut *e.as_ptr() };
    ev.cb_event = 8;
    ev.u_data.pb_data = b.as_ptr();
    // SAFETY: a well-formed one-event chain of this allocator, given up here; abData holds
    // the buffer's address bytes but cbEvent is 8, so it carries no buffer.
    unsafe { p.put_message(e.as_ptr()) };
    assert_eq!(a.stats().outstanding_buffers, 1);
    // A big event with a NULL pbData is fine too.
    let e = p.get_message().unwrap();
    // SAFETY: a live event from the allocator, test-owned and not otherwise borrowed.
    unsafe { (*e.as_ptr()).cb_event = 500 };
    // SAFETY: a well-formed one-event chain of this allocator (a NULL pbData), given up here.
    unsafe { p.put_message(e.as_ptr()) };
    // SAFETY: the buffer kept above, ours, given back once.
    unsafe { p.put_buffer(b) };
    let s = a.stats();
    assert_eq!((s.outstanding_events, s.outstanding_buffers), (0, 0));
    drop(p);
    assert_clean_unload(&emu);
}

#[test]
fn deeply_nested_packages_do_not_use_the_stack() {
    // 50_000 levels: a recursive walk would overflow a test thread's stack (and certainly a
    // kernel stack); the walk keeps its continuation in the package events.
    const DEPTH: usize = 50_000;
    let emu = emu();
    let cfg = AllocatorConfig {
        max_events: DEPTH as u32 * 2 + 16,
        ..small_cfg()
    };
    let p = make(&emu, cfg);
    let a = ours(&p);
    let mut sub = std::ptr::null_mut();
    for i in 0..DEPTH {
        let pkg = p.get_message().unwrap();
        let sibling = p.get_message().unwrap();
        if i % 1000 == 0 {
            set_buffer(sibling, p.get_buffer().unwrap(), 64);
        }
        set_package(pkg, sub);
        // SAFETY: test-owned event: each level is `pkg -> sibling`, `pkg` holding the deeper
        // levels, so the walk must come back up to reach every sibling.
        unsafe { (*pkg.as_ptr()).p_next_evt = sibling.as_ptr() };
        sub = pkg.as_ptr();
        if a.stats().outstanding_buffers == 8 {
            // The buffer cap (8, one buffer every 1000 levels): 7001 levels deep is enough.
            break;
        }
    }
    let outstanding = a.stats().outstanding_events;
    assert!(outstanding >= 2 * 7000, "{outstanding}");
    // SAFETY: all ours, once.
    unsafe { p.put_message(sub) };
    let s = a.stats();
    assert_eq!((s.outstanding_events, s.outstanding_buffers), (0, 0));
    assert_eq!(s.puts, u64::from(outstanding));
    drop(p);
    assert_clean_unload(&emu);
}
