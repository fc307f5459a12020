//! Giving render events back to the allocator, packages as DMusUART gives them: each package's
//! sub-chain is detached and returned as events of its own, the package event then without it
//! (`pPackageEvt` null, `cbEvent` 0). Whether the port's allocator walks packages is not
//! documented; returned this way every event is freed either way.

use crate::com::ComPtr;
use core::ptr;
use mxf_abi::{DmusKernelEvent, IAllocatorMxf};

/// Flattens `chain` in place — every package's sub-chain spliced in after the package event,
/// which is detached from it — and returns the new head. At most `max_walk` events are
/// visited (a longer or cyclic chain keeps the rest attached as it came, for the allocator).
///
/// # Safety
/// `chain` is null or a well-formed chain the caller owns (events, packages, buffers), not
/// touched by anyone else during the call.
pub unsafe fn flatten_packages(chain: *mut DmusKernelEvent, max_walk: u32) -> *mut DmusKernelEvent {
    let mut steps = 0u32;
    let mut cur = chain;
    while !cur.is_null() && steps < max_walk {
        steps += 1;
        // SAFETY: an event of the caller's chain, owned by the caller.
        let ev = unsafe { &mut *cur };
        if ev.is_package() {
            // SAFETY: a package event's payload is its sub-chain pointer.
            let sub = unsafe { ev.u_data.p_package_evt };
            if !sub.is_null() {
                // The sub-chain's tail, within the same budget.
                let mut tail = sub;
                let complete = loop {
                    // SAFETY: an event of the sub-chain, owned by the caller.
                    let next = unsafe { (*tail).p_next_evt };
                    if next.is_null() {
                        break true;
                    }
                    if steps >= max_walk {
                        break false;
                    }
                    steps += 1;
                    tail = next;
                };
                if complete {
                    // SAFETY: `tail` ends the sub-chain, which the caller owns; spliced in
                    // after the package, the sub-chain's events stay owned by the chain.
                    unsafe { (*tail).p_next_evt = ev.p_next_evt };
                    ev.p_next_evt = sub;
                    ev.u_data.p_package_evt = ptr::null_mut();
                    ev.cb_event = 0;
                }
            }
        }
        cur = ev.p_next_evt;
    }
    chain
}

/// Returns `chain` to `alloc` in one `PutMessage`, packages flattened ([`flatten_packages`]).
///
/// # Safety
/// As [`flatten_packages`]; every event and buffer of the chain came from `alloc`, and the
/// caller gives them up.
pub unsafe fn return_events(
    alloc: &ComPtr<IAllocatorMxf>,
    chain: *mut DmusKernelEvent,
    max_walk: u32,
) {
    if chain.is_null() {
        return;
    }
    // SAFETY: per the caller.
    let head = unsafe { flatten_packages(chain, max_walk) };
    // SAFETY: events of `alloc` the caller gives up, returned once.
    unsafe { alloc.put_message(head) };
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use mxf_abi::{DMUS_KEF_PACKAGE_EVENT, DmusEventData};
    use std::boxed::Box;
    use std::vec::Vec;

    fn leaf(id: u8) -> *mut DmusKernelEvent {
        Box::into_raw(Box::new(DmusKernelEvent {
            cb_event: 1,
            u_data: DmusEventData {
                ab_data: [id, 0, 0, 0, 0, 0, 0, 0],
            },
            ..DmusKernelEvent::ZEROED
        }))
    }

    fn package(id: u8, sub: &[*mut DmusKernelEvent]) -> *mut DmusKernelEvent {
        link(sub);
        Box::into_raw(Box::new(DmusKernelEvent {
            us_flags: DMUS_KEF_PACKAGE_EVENT,
            cb_event: 9,
            ull_byte_position: u64::from(id),
            u_data: DmusEventData {
                p_package_evt: sub.first().copied().unwrap_or(ptr::null_mut()),
            },
            ..DmusKernelEvent::ZEROED
        }))
    }

    fn link(evs: &[*mut DmusKernelEvent]) {
        for w in evs.windows(2) {
            // SAFETY: test-owned boxes.
            unsafe { (*w[0]).p_next_evt = w[1] };
        }
    }

    /// (id, is_package, has_sub) of each top-level event; frees every box, sub-chains still
    /// attached included.
    fn walk_and_free(head: *mut DmusKernelEvent) -> Vec<(u8, bool, bool)> {
        let mut out = Vec::new();
        let mut cur = head;
        while !cur.is_null() {
            // SAFETY: test-owned boxes, each reached once.
            let ev = unsafe { Box::from_raw(cur) };
            let sub = if ev.is_package() {
                // SAFETY: a package's payload is its sub-chain pointer.
                unsafe { ev.u_data.p_package_evt }
            } else {
                ptr::null_mut()
            };
            let id = if ev.is_package() {
                ev.ull_byte_position as u8
            } else {
                ev.short_data().unwrap()[0]
            };
            out.push((id, ev.is_package(), !sub.is_null()));
            walk_and_free(sub);
            cur = ev.p_next_evt;
        }
        out
    }

    #[test]
    fn nested_packages_are_detached_and_their_events_follow_in_play_order() {
        let inner = package(20, &[leaf(3), leaf(4)]);
        let outer = package(10, &[leaf(2), inner, leaf(5)]);
        let evs = [leaf(1), outer, leaf(6)];
        link(&evs);
        // SAFETY: the chain is ours.
        let head = unsafe { flatten_packages(evs[0], 1 << 20) };
        assert_eq!(
            walk_and_free(head),
            [
                (1, false, false),
                (10, true, false),
                (2, false, false),
                (20, true, false),
                (3, false, false),
                (4, false, false),
                (5, false, false),
                (6, false, false),
            ]
        );
    }

    #[test]
    fn a_walk_budget_too_small_leaves_the_rest_attached_never_lost() {
        let pkg = package(10, &[leaf(2), leaf(3), leaf(4)]);
        let evs = [leaf(1), pkg];
        link(&evs);
        // Budget 3: event 1, the package, and one step into its sub-chain.
        // SAFETY: the chain is ours.
        let head = unsafe { flatten_packages(evs[0], 3) };
        // The package keeps its sub-chain (walk_and_free frees it with it).
        assert_eq!(walk_and_free(head), [(1, false, false), (10, true, true)]);
    }
}
