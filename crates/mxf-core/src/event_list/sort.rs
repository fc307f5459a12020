//! Keeping an [`EventList`] in presentation-time order: [`EventList::insert_all_by_time`] moves
//! a whole chain in at once (an order check, a stable bottom-up merge sort over the links if
//! needed, one merge pass), with no allocation and no recursion.

use super::{EventList, link, next_of};
use core::ptr;
use mxf_abi::DmusKernelEvent;

/// The order the methods below keep: a list filled only with them is ordered by presentation
/// time (flag masked), equal times in insertion order.
impl EventList {
    /// Presentation time of the first event.
    pub fn front_time(&self) -> Option<u64> {
        self.front().map(DmusKernelEvent::pres_time)
    }

    /// Test reference: inserts `ev` after every event whose presentation time is <= its own: one
    /// event of [`EventList::insert_all_by_time`] (the tail is checked first, `O(1)` for an event
    /// in order; otherwise the list is walked). To queue a whole chain, collect it and insert it at
    /// once with that method: event by event costs `O(n)` per out-of-order event.
    ///
    /// # Safety
    /// As [`EventList::push_back`]; the list is time-ordered (see `insert_all_by_time`).
    #[cfg(test)]
    pub(crate) unsafe fn insert_by_time(&mut self, ev: ptr::NonNull<DmusKernelEvent>) {
        let mut one = EventList::new();
        // SAFETY: forwarded caller promise: `ev` is ours and in no list.
        unsafe { one.push_back(ev) };
        self.insert_all_by_time(&mut one);
    }

    /// Moves every event of `incoming` (in any order; it is left empty) into this list by
    /// presentation time, and returns the work done in steps (time comparisons plus events
    /// visited), at most about `n + m·(log2 m + 2)` for `n` held and `m` incoming events.
    ///
    /// Stable both ways: incoming events of equal time keep their arrival order, and they go
    /// after the held events of that time — the order `m` calls of
    /// `insert_by_time` would give, without their `O(n·m)` walks (a chain in
    /// descending time order would walk the whole held list per event, under a spin lock at
    /// `DISPATCH_LEVEL`). No allocation and no recursion: `incoming` is checked for order in
    /// one pass (the usual case: already ordered, nothing to sort), else sorted with a
    /// bottom-up merge sort over the links, then merged into the held events in one pass;
    /// if it all comes after our tail it is only appended.
    ///
    /// This list must be time-ordered (filled only by this method and
    /// `insert_by_time`) for the result to be; the events are owned by the lists
    /// either way, so that is not a safety condition.
    pub fn insert_all_by_time(&mut self, incoming: &mut EventList) -> usize {
        let mut steps = 0;
        let Some((run, added)) = incoming.take_run() else {
            return 0;
        };
        // SAFETY: the run's events were `incoming`'s and are now exclusively ours, well linked.
        let ordered = unsafe { run.is_ordered(&mut steps) };
        let run = if ordered {
            run
        } else {
            // SAFETY: as above.
            unsafe { run.sorted(&mut steps) }
        };
        let merged = match SortedRun::from_list(self) {
            None => run,
            Some(held) => {
                steps += 1;
                // Both runs are ours, disjoint and well linked (the held one by the list's
                // invariant).
                // SAFETY: the run's head is an event of the run.
                let first = unsafe { time_of(run.head) };
                // SAFETY: the held tail is an event of the held run.
                let after_tail = first >= unsafe { time_of(held.tail) };
                if after_tail {
                    // The tail fast path: all of `run` is due no earlier than our tail.
                    // SAFETY: as above.
                    unsafe { held.append(run) }
                } else {
                    // SAFETY: as above.
                    unsafe { SortedRun::merge(held, run, &mut steps) }
                }
            }
        };
        self.head = merged.head;
        self.tail = merged.tail;
        self.len += added;
        steps
    }

    /// Empties the list into a [`SortedRun`] and its length (`None` if empty).
    fn take_run(&mut self) -> Option<(SortedRun, usize)> {
        let run = SortedRun::from_list(self)?;
        let len = self.len;
        *self = EventList::new();
        Some((run, len))
    }
}

/// A non-empty, well-linked chain of owned events: `head` through `p_next_evt` to `tail`,
/// whose `p_next_evt` is null. What the sort and merges pass around (the list's length is
/// kept by the caller: runs only relink).
#[derive(Clone, Copy)]
struct SortedRun {
    head: *mut DmusKernelEvent,
    tail: *mut DmusKernelEvent,
}

/// Slots of the sort's binary counter: slot `i` holds a sorted run of `2^i` events or none,
/// so 32 slots (256 bytes of stack) sort up to `2^32 - 1` events in `O(m log m)`; the last
/// slot absorbs anything beyond (still sorted and stable, only slower).
const SORT_SLOTS: usize = 32;

/// The presentation time of `ev` (flag masked).
///
/// # Safety
/// `ev` is a live event of ours.
unsafe fn time_of(ev: *const DmusKernelEvent) -> u64 {
    // SAFETY: per the caller.
    unsafe { (*ev).pres_time() }
}

impl SortedRun {
    /// The list's events as a run (the list's fields are not changed).
    fn from_list(list: &EventList) -> Option<SortedRun> {
        (!list.head.is_null()).then_some(SortedRun {
            head: list.head,
            tail: list.tail,
        })
    }

    /// A run of the one event `ev`.
    ///
    /// # Safety
    /// `ev` is an event we own exclusively, in no other run or list.
    unsafe fn single(ev: *mut DmusKernelEvent) -> SortedRun {
        // SAFETY: per the caller.
        unsafe { link(ev, ptr::null_mut()) };
        SortedRun { head: ev, tail: ev }
    }

    /// Whether the run is in (non-decreasing) time order. Stops at the first inversion.
    ///
    /// # Safety
    /// The run is well linked and its events are ours.
    unsafe fn is_ordered(self, steps: &mut usize) -> bool {
        let mut cur = self.head;
        // Every pointer followed is an event of the run (caller), up to its null end.
        // SAFETY: the head is an event of the run.
        let mut t = unsafe { time_of(cur) };
        loop {
            // SAFETY: `cur` is an event of the run.
            cur = unsafe { next_of(cur) };
            if cur.is_null() {
                return true;
            }
            *steps += 1;
            // SAFETY: a non-null link of the run is an event of the run.
            let next = unsafe { time_of(cur) };
            if next < t {
                return false;
            }
            t = next;
        }
    }

    /// `self` followed by `other`.
    ///
    /// # Safety
    /// Both runs are well linked, ours, and disjoint.
    unsafe fn append(self, other: SortedRun) -> SortedRun {
        // SAFETY: per the caller; our tail's link was null, now it continues into `other`.
        unsafe { link(self.tail, other.head) };
        SortedRun {
            head: self.head,
            tail: other.tail,
        }
    }

    /// Merges two time-ordered runs into one; on equal times `a`'s events come first. One
    /// comparison per event taken before either run runs out; the rest is linked at once.
    ///
    /// # Safety
    /// Both runs are well linked, ours, and disjoint.
    unsafe fn merge(a: SortedRun, b: SortedRun, steps: &mut usize) -> SortedRun {
        let (mut a_cur, mut b_cur) = (a.head, b.head);
        // Every pointer read is an event of `a` or `b` (caller): `a_cur`/`b_cur` are null or
        // the next event of their run, `last` the last event taken. Each event is relinked
        // once, and both runs' events end up in the result, in one chain, null-terminated by
        // the tail of the run that did not run out.
        // SAFETY: `b`'s head is an event of the (non-empty) run.
        let tb = unsafe { time_of(b_cur) };
        // SAFETY: `a`'s head is an event of the (non-empty) run.
        let take_b = tb < unsafe { time_of(a_cur) };
        *steps += 1;
        let head = if take_b { b_cur } else { a_cur };
        let mut last = head;
        if take_b {
            // SAFETY: `b_cur` is an event of `b`.
            b_cur = unsafe { next_of(b_cur) };
        } else {
            // SAFETY: `a_cur` is an event of `a`.
            a_cur = unsafe { next_of(a_cur) };
        }
        loop {
            if a_cur.is_null() {
                // SAFETY: `last` is an event taken into the result, ours.
                unsafe { link(last, b_cur) };
                let tail = if b_cur.is_null() { last } else { b.tail };
                return SortedRun { head, tail };
            }
            if b_cur.is_null() {
                // SAFETY: as above.
                unsafe { link(last, a_cur) };
                return SortedRun { head, tail: a.tail };
            }
            *steps += 1;
            // SAFETY: non-null here, so an event of `b`.
            let tb = unsafe { time_of(b_cur) };
            // SAFETY: non-null here, so an event of `a`.
            let take_b = tb < unsafe { time_of(a_cur) };
            let next = if take_b {
                let e = b_cur;
                // SAFETY: `e` is an event of `b`.
                b_cur = unsafe { next_of(e) };
                e
            } else {
                let e = a_cur;
                // SAFETY: `e` is an event of `a`.
                a_cur = unsafe { next_of(e) };
                e
            };
            // SAFETY: `last` is an event taken into the result, ours.
            unsafe { link(last, next) };
            last = next;
        }
    }

    /// The run sorted by time, stable (equal times keep their order): a bottom-up merge sort
    /// with a binary counter of runs — each event enters as a run of one, and equal-sized
    /// runs are merged as they meet, older (earlier in the chain) first, so ties keep order.
    ///
    /// # Safety
    /// The run is well linked and ours.
    unsafe fn sorted(self, steps: &mut usize) -> SortedRun {
        let mut slots: [Option<SortedRun>; SORT_SLOTS] = [None; SORT_SLOTS];
        let mut cur = self.head;
        while !cur.is_null() {
            *steps += 1;
            // SAFETY: `cur` is an event of the run (caller); its link is read before the
            // event becomes a run of its own.
            let next = unsafe { next_of(cur) };
            // SAFETY: `cur` is ours and, its link read, in no other run.
            let mut carry = unsafe { SortedRun::single(cur) };
            cur = next;
            for (i, slot) in slots.iter_mut().enumerate() {
                match slot.take() {
                    None => {
                        *slot = Some(carry);
                        break;
                    }
                    Some(older) if i + 1 == SORT_SLOTS => {
                        // The last slot keeps growing instead of carrying further.
                        // SAFETY: disjoint runs of ours.
                        *slot = Some(unsafe { SortedRun::merge(older, carry, steps) });
                        break;
                    }
                    // SAFETY: disjoint runs of ours; `older` holds earlier events.
                    Some(older) => carry = unsafe { SortedRun::merge(older, carry, steps) },
                }
            }
        }
        // Higher slots hold earlier events: fold from the lowest up, each higher slot first.
        let mut out: Option<SortedRun> = None;
        for older in slots.into_iter().flatten() {
            out = Some(match out {
                None => older,
                // SAFETY: disjoint runs of ours; `older` holds earlier events than `newer`.
                Some(newer) => unsafe { SortedRun::merge(older, newer, steps) },
            });
        }
        // The run was non-empty, so some slot was filled.
        out.unwrap_or(self)
    }
}

#[cfg(test)]
mod tests {
    extern crate std;

    use super::*;
    use core::ptr::NonNull;
    use mxf_abi::DONT_HOLD_FOR_SEQUENCING;
    use proptest::prelude::*;
    use std::vec::Vec;

    /// Events at fixed addresses (the Vec is never resized), identified by their index.
    struct Pool(Vec<DmusKernelEvent>);

    impl Pool {
        fn new(times: &[u64]) -> Pool {
            Pool(
                times
                    .iter()
                    .map(|&t| DmusKernelEvent {
                        ull_pres_time_100ns: t,
                        ..DmusKernelEvent::ZEROED
                    })
                    .collect(),
            )
        }

        fn ev(&mut self, i: usize) -> NonNull<DmusKernelEvent> {
            NonNull::from(&mut self.0[i])
        }

        /// A list of events `range`, in that order, linked with `push_back`.
        fn list(&mut self, range: core::ops::Range<usize>) -> EventList {
            let mut l = EventList::new();
            for i in range {
                let ev = self.ev(i);
                // SAFETY: a pool event in no list (each index is used once per test).
                unsafe { l.push_back(ev) };
            }
            l
        }

        /// The indices of `l`'s events in list order, checking the list's invariant.
        fn order(&self, l: &EventList) -> Vec<usize> {
            let base = self.0.as_ptr();
            let mut out = Vec::new();
            let mut cur = l.head;
            let mut last = ptr::null_mut();
            while !cur.is_null() {
                // SAFETY: `cur` points into the pool (the lists only link pool events).
                out.push(unsafe { cur.offset_from(base) } as usize);
                last = cur;
                // SAFETY: as above.
                cur = unsafe { (*cur).p_next_evt };
                assert!(out.len() <= self.0.len(), "cycle");
            }
            assert_eq!(l.tail, last, "tail is the last event");
            assert_eq!(l.len, out.len(), "len counts the events");
            out
        }
    }

    /// The model: events by masked time, held ones (already ordered) before new ones of the
    /// same time, new ones in arrival order: a stable sort of `held ++ new`.
    fn model(times: &[u64], held: &[usize], new: &[usize]) -> Vec<usize> {
        let mut all: Vec<usize> = held.iter().chain(new).copied().collect();
        all.sort_by_key(|&i| times[i] & !DONT_HOLD_FOR_SEQUENCING);
        all
    }

    fn time_strategy() -> impl Strategy<Value = u64> {
        // Few distinct times (many ties), some with the don't-hold flag (masked off).
        (0u64..12, any::<bool>())
            .prop_map(|(t, f)| if f { t | DONT_HOLD_FOR_SEQUENCING } else { t })
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

        /// Batches inserted one after the other give the model's order, and the same order
        /// as inserting their events one by one.
        #[test]
        fn batches_land_in_stable_time_order(
            batches in prop::collection::vec(prop::collection::vec(time_strategy(), 0..40), 1..6),
        ) {
            let times: Vec<u64> = batches.iter().flatten().copied().collect();
            let mut pool = Pool::new(&times);
            let mut one_by_one_pool = Pool::new(&times);
            let mut list = EventList::new();
            let mut one_by_one = EventList::new();
            let mut start = 0;
            for b in &batches {
                let range = start..start + b.len();
                let expect = model(&times, &pool.order(&list), &range.clone().collect::<Vec<_>>());
                let mut incoming = pool.list(range.clone());
                let steps = list.insert_all_by_time(&mut incoming);
                prop_assert!(incoming.is_empty() && incoming.tail.is_null() && incoming.len == 0);
                prop_assert_eq!(pool.order(&list), expect);
                let (n, m) = (start, b.len());
                prop_assert!(steps <= bound(n, m), "steps {} n {} m {}", steps, n, m);
                for i in range {
                    let ev = one_by_one_pool.ev(i);
                    // SAFETY: a pool event in no list.
                    unsafe { one_by_one.insert_by_time(ev) };
                }
                prop_assert_eq!(one_by_one_pool.order(&one_by_one), pool.order(&list));
                start += b.len();
            }
            // The list still works as a queue afterwards.
            let mut popped = Vec::new();
            while let Some(ev) = list.pop_front() {
                popped.push(ev.as_ptr());
            }
            prop_assert_eq!(popped.len(), times.len());
            prop_assert!(list.is_empty() && list.tail.is_null());
        }

        /// Sorting alone (into an empty list) is a stable sort, whatever the input order.
        #[test]
        fn a_chain_into_an_empty_list_is_stably_sorted(
            times in prop::collection::vec(time_strategy(), 1..300),
        ) {
            let mut pool = Pool::new(&times);
            let mut list = EventList::new();
            let mut incoming = pool.list(0..times.len());
            list.insert_all_by_time(&mut incoming);
            let all: Vec<usize> = (0..times.len()).collect();
            prop_assert_eq!(pool.order(&list), model(&times, &[], &all));
        }
    }

    /// The documented bound on the steps of inserting `m` events into `n`.
    fn bound(n: usize, m: usize) -> usize {
        let log = usize::BITS - m.leading_zeros();
        n + m * (log as usize + 2) + 1
    }

    const BIG: usize = 65_536;

    #[test]
    fn a_reversed_65536_event_chain_is_sorted_in_n_log_n_steps() {
        let times: Vec<u64> = (0..BIG as u64).rev().collect();
        let mut pool = Pool::new(&times);
        let mut list = EventList::new();
        let mut incoming = pool.list(0..BIG);
        let steps = list.insert_all_by_time(&mut incoming);
        // Event-by-event insertion would walk ~BIG²/2 ≈ 2.1e9 links.
        assert!(steps <= bound(0, BIG), "{steps}");
        let order = pool.order(&list);
        assert!(order.iter().copied().eq((0..BIG).rev()));
    }

    #[test]
    fn a_reversed_chain_merges_into_a_full_held_list_in_linear_log_steps() {
        // Held: even times 0, 2, ..; incoming: every odd time, in descending order, plus ties
        // with held times (which must go after the held ones).
        let held: Vec<u64> = (0..BIG as u64).map(|i| 2 * i).collect();
        let new: Vec<u64> = (0..BIG as u64).rev().collect();
        let times: Vec<u64> = held.iter().chain(&new).copied().collect();
        let mut pool = Pool::new(&times);
        let mut list = pool.list(0..BIG);
        let mut incoming = pool.list(BIG..2 * BIG);
        let steps = list.insert_all_by_time(&mut incoming);
        assert!(steps <= bound(BIG, BIG), "{steps}");
        let all_new: Vec<usize> = (BIG..2 * BIG).collect();
        let held_idx: Vec<usize> = (0..BIG).collect();
        assert_eq!(pool.order(&list), model(&times, &held_idx, &all_new));
    }

    #[test]
    fn an_ordered_chain_after_the_tail_is_checked_once_and_appended() {
        let times: Vec<u64> = (0..2 * BIG as u64).collect();
        let mut pool = Pool::new(&times);
        let mut list = pool.list(0..BIG);
        let mut incoming = pool.list(BIG..2 * BIG);
        let steps = list.insert_all_by_time(&mut incoming);
        // One comparison per incoming link (the order check) and one against our tail: the
        // held list is not walked.
        assert_eq!(steps, BIG);
        assert!(pool.order(&list).into_iter().eq(0..2 * BIG));
    }

    #[test]
    fn an_empty_chain_changes_nothing() {
        let mut pool = Pool::new(&[3, 1]);
        let mut list = pool.list(0..2);
        let mut incoming = EventList::new();
        assert_eq!(list.insert_all_by_time(&mut incoming), 0);
        assert_eq!(pool.order(&list), [0, 1]);
    }
}
