//! The serializer over hand-built chains: packages (nested, null), malformed events, budgets.

mod support;

use mxf_abi::{DMUS_KEF_EVENT_INCOMPLETE, DMUS_KEF_PACKAGE_EVENT, DmusEventData, DmusKernelEvent};
use mxf_core::serialize::{ChainCursor, MAX_PACKAGE_DEPTH, Progress, Serializer};
use std::ptr;
use support::VecSink;

fn inline(bytes: &[u8], flags: u16) -> DmusKernelEvent {
    let mut ab = [0u8; 8];
    ab[..bytes.len()].copy_from_slice(bytes);
    DmusKernelEvent {
        cb_event: bytes.len() as u16,
        us_flags: flags,
        u_data: DmusEventData { ab_data: ab },
        ..DmusKernelEvent::ZEROED
    }
}

fn buffered(buf: &mut [u8], flags: u16) -> DmusKernelEvent {
    DmusKernelEvent {
        cb_event: buf.len() as u16,
        us_flags: flags,
        u_data: DmusEventData {
            pb_data: buf.as_mut_ptr(),
        },
        ..DmusKernelEvent::ZEROED
    }
}

fn package(sub: *mut DmusKernelEvent) -> DmusKernelEvent {
    DmusKernelEvent {
        us_flags: DMUS_KEF_PACKAGE_EVENT,
        u_data: DmusEventData { p_package_evt: sub },
        ..DmusKernelEvent::ZEROED
    }
}

/// Links `evs` in order and returns the head (all links derived from one base pointer, so
/// they stay valid while `evs` is not touched again except through them).
fn link(evs: &mut [DmusKernelEvent]) -> *mut DmusKernelEvent {
    let n = evs.len();
    let base = evs.as_mut_ptr();
    for i in 0..n {
        // `i + 1 <= n`: in bounds or one past, never dereferenced; `wrapping_add` keeps the
        // computation safe and, never wrapping, equals `add`.
        let next = if i + 1 < n {
            base.wrapping_add(i + 1)
        } else {
            ptr::null_mut()
        };
        let this = base.wrapping_add(i);
        // SAFETY: `i < n`: `this` is an element of `evs`, reached only through `base`.
        unsafe { (*this).p_next_evt = next };
    }
    if n == 0 { ptr::null_mut() } else { base }
}

fn serialize_all(s: &mut Serializer, head: *const DmusKernelEvent) -> Vec<u8> {
    let mut sink = VecSink::default();
    // SAFETY: the chain lives on the caller's stack, unmodified during the walk.
    let mut cur = unsafe { ChainCursor::new(head) };
    assert_eq!(s.write_chain(&mut cur, 10_000, &mut sink), Progress::Done);
    sink.0
}

#[test]
fn fragments_reassemble_across_packages_and_null_packages_are_tolerated() {
    let mut buf1: Vec<u8> = std::iter::once(0xf0).chain(1..=11).collect();
    let mut buf2: Vec<u8> = (12..=30).collect();
    let mut inner = [
        buffered(&mut buf2, DMUS_KEF_EVENT_INCOMPLETE),
        inline(&[0xf8], 0),
        inline(&[31, 32, 0xf7], 0),
    ];
    let inner_head = link(&mut inner);
    let mut outer = [
        inline(&[0x90, 0x3c, 0x7f], 0),
        buffered(&mut buf1, DMUS_KEF_EVENT_INCOMPLETE),
        package(inner_head),
        package(ptr::null_mut()),
        inline(&[0xc0, 0x05], 0),
    ];
    let head = link(&mut outer);
    let mut s = Serializer::new(Some(64));
    let out = serialize_all(&mut s, head);
    let mut want = vec![0x90, 0x3c, 0x7f];
    want.extend(buf1.iter());
    want.extend(buf2.iter());
    want.extend([0xf8, 31, 32, 0xf7, 0xc0, 0x05]);
    assert_eq!(out, want);
    let st = s.stats();
    assert_eq!(st.walk.packages, 2);
    assert_eq!(st.walk.null_packages, 1);
    assert_eq!(st.sysex_started, 1);
    assert_eq!(st.sysex_complete, 1);
    assert_eq!(st.sysex_fragments, 3);
    assert_eq!(st.events, 6);
    assert_eq!(st.bytes_out as usize, want.len());
}

#[test]
fn malformed_events_are_counted_and_skipped() {
    let mut big = vec![0x11u8; 40];
    let mut evs = [
        DmusKernelEvent {
            cb_event: 20,
            u_data: DmusEventData {
                pb_data: ptr::null_mut(),
            },
            ..DmusKernelEvent::ZEROED
        },
        buffered(&mut big, 0),
        inline(&[], 0),
        inline(&[0xfe], 0),
    ];
    let head = link(&mut evs);
    let mut s = Serializer::new(Some(32));
    assert_eq!(serialize_all(&mut s, head), [0xfe]);
    let st = s.stats();
    assert_eq!(
        (st.null_buffers, st.oversize_events, st.empty_events),
        (1, 1, 1)
    );
    assert_eq!(st.events, 1);
}

#[test]
fn a_sysex_cut_by_a_message_is_counted_truncated() {
    let mut evs = [
        inline(&[0xf0, 1, 2], DMUS_KEF_EVENT_INCOMPLETE),
        inline(&[0xf8], 0),
        inline(&[0x90, 0x3c, 0x7f], 0),
        inline(&[0xf0, 5], DMUS_KEF_EVENT_INCOMPLETE),
        inline(&[0xf0, 6, 0xf7], 0),
    ];
    let head = link(&mut evs);
    let mut s = Serializer::new(None);
    let out = serialize_all(&mut s, head);
    assert_eq!(
        out,
        [0xf0, 1, 2, 0xf8, 0x90, 0x3c, 0x7f, 0xf0, 5, 0xf0, 6, 0xf7]
    );
    let st = s.stats();
    assert_eq!(
        (st.sysex_started, st.sysex_complete, st.sysex_truncated),
        (3, 1, 2)
    );
    assert!(!s.in_sysex());
}

#[test]
fn a_sysex_spanning_chains_is_tracked_across_calls() {
    let mut a = [inline(
        &[0xf0, 1, 2, 3, 4, 5, 6, 7],
        DMUS_KEF_EVENT_INCOMPLETE,
    )];
    let mut b = [inline(&[8, 0xf7], 0)];
    let mut s = Serializer::new(None);
    let mut out = serialize_all(&mut s, link(&mut a));
    assert!(s.in_sysex());
    out.extend(serialize_all(&mut s, link(&mut b)));
    assert_eq!(out, [0xf0, 1, 2, 3, 4, 5, 6, 7, 8, 0xf7]);
    assert_eq!(s.stats().sysex_complete, 1);
}

#[test]
fn packages_nest_up_to_the_depth_limit_then_are_skipped() {
    // A tower of packages, each holding one byte then the next package.
    let depth = MAX_PACKAGE_DEPTH + 3;
    let mut levels: Vec<[DmusKernelEvent; 2]> = (0..depth)
        .map(|i| [inline(&[0xc0, i as u8], 0), package(ptr::null_mut())])
        .collect();
    let base = levels.as_mut_ptr();
    for i in 0..depth {
        // All pointers derive from `base`: level `i + 1` exists when `i + 1 < depth`, and its
        // first event's address is taken without a reference (`cast` of the array pointer).
        let sub = if i + 1 < depth {
            base.wrapping_add(i + 1).cast::<DmusKernelEvent>()
        } else {
            ptr::null_mut()
        };
        let this = base.wrapping_add(i);
        // SAFETY: `i < depth`: `this` is level `i`, and no other reference to it is live.
        let level = unsafe { &mut *this };
        link(level);
        level[1].u_data.p_package_evt = sub;
    }
    // SAFETY: level 0 exists.
    let mut top = [package(unsafe { (*base).as_mut_ptr() }), inline(&[0xfe], 0)];
    let head = link(&mut top);
    let mut s = Serializer::new(None);
    let out = serialize_all(&mut s, head);
    // The top package is depth 1; levels 0..MAX-1 are reached, deeper ones skipped.
    let mut want = Vec::new();
    for i in 0..MAX_PACKAGE_DEPTH {
        want.extend([0xc0, i as u8]);
    }
    want.push(0xfe);
    assert_eq!(out, want);
    assert_eq!(s.stats().walk.packages_too_deep, 1);
}

#[test]
fn budget_bounds_each_call_and_the_walk_resumes() {
    let mut evs: Vec<DmusKernelEvent> = (0..10u8).map(|i| inline(&[0xc0, i], 0)).collect();
    let head = link(&mut evs);
    let mut s = Serializer::new(None);
    let mut sink = VecSink::default();
    // SAFETY: `evs` outlives the cursor and is not modified.
    let mut cur = unsafe { ChainCursor::new(head) };
    let mut calls = 0;
    while s.write_chain(&mut cur, 3, &mut sink) == Progress::More {
        calls += 1;
        assert!(calls < 10);
    }
    assert_eq!(calls, 3);
    assert_eq!(sink.0.len(), 20);
    assert_eq!(s.stats().budget_exhausted, 3);
}

#[test]
fn a_cyclic_chain_cannot_hold_the_caller() {
    let mut evs = [inline(&[0xf8], 0), inline(&[0xfa], 0)];
    let head = link(&mut evs);
    // `head` points at `evs[0]`; `evs[1]` follows it in the array.
    let second = head.wrapping_add(1);
    // SAFETY: `second` is `evs[1]`, reached only through pointers derived from `head`.
    unsafe { (*second).p_next_evt = head };
    let mut s = Serializer::new(None);
    let mut sink = VecSink::default();
    // SAFETY: `evs` outlives the cursor and is not modified.
    let mut cur = unsafe { ChainCursor::new(head) };
    assert_eq!(s.write_chain(&mut cur, 100, &mut sink), Progress::More);
    assert_eq!(sink.0.len(), 100);
    // A cycle through a package, too.
    // A package containing itself: descends to the depth limit, then unwinds and ends.
    let mut p = [package(ptr::null_mut())];
    let ph = link(&mut p);
    // SAFETY: `ph` points at `p[0]`, not otherwise borrowed.
    let package_event = unsafe { &mut *ph };
    package_event.u_data.p_package_evt = ph;
    // SAFETY: as above.
    let mut cur = unsafe { ChainCursor::new(ph) };
    assert_eq!(s.write_chain(&mut cur, 100, &mut sink), Progress::Done);
    assert_eq!(s.stats().walk.packages_too_deep, 1);
    assert_eq!(s.stats().walk.packages as usize, MAX_PACKAGE_DEPTH + 1);
}

#[test]
fn empty_chain_is_done_at_once() {
    let mut s = Serializer::new(None);
    assert!(serialize_all(&mut s, ptr::null()).is_empty());
    assert_eq!(*s.stats(), Default::default());
}
