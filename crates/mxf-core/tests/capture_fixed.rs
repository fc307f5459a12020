//! Deterministic capture tests against the test-double allocator.

mod support;

use mxf_abi::{DmusKernelEvent, IMxf, IMxfVtbl, IUnknown, IUnknownVtbl, KsState, NtStatus};
use mxf_core::capture::CapturePackager;
use mxf_core::com::ComPtr;
use mxf_testkit::alloc_double::{FailPlan, TestAlloc};
use support::checks::check_with_drops;
use support::reference::{concat, expected_items};
use support::strategies::{split, sysex_payload};
use support::{Observed, run_capture};

fn ev(bytes: &[u8], incomplete: bool) -> (Vec<u8>, bool) {
    (bytes.to_vec(), incomplete)
}

fn shape(events: &[Observed]) -> Vec<(Vec<u8>, bool)> {
    events
        .iter()
        .map(|o| (o.bytes.clone(), o.incomplete))
        .collect()
}

#[test]
fn short_messages_are_inline_complete_with_running_status_expanded() {
    let a = TestAlloc::new(16, FailPlan::Never);
    let run = run_capture(
        a.com(),
        &[&[0x90, 0x3c, 0x7f, 0x3e], &[0x7f, 0xf8, 0xc0, 0x01, 0x02]],
    );
    assert_eq!(
        shape(&run.events),
        [
            ev(&[0x90, 0x3c, 0x7f], false),
            ev(&[0x90, 0x3e, 0x7f], false),
            ev(&[0xf8], false),
            ev(&[0xc0, 0x01], false),
            ev(&[0xc0, 0x02], false),
        ]
    );
    // The message split across bursts carries the time of the burst that completed it.
    assert_eq!(run.events[1].burst, 1);
    assert_eq!(run.stats.channel_messages, 4);
    assert_eq!(run.stats.realtime_messages, 1);
    assert_eq!(
        run.stats.bytes_delivered, 9,
        "input bytes, not expanded ones"
    );
    a.assert_clean();
}

#[test]
fn sysex_of_up_to_8_bytes_is_one_inline_event() {
    let a = TestAlloc::new(32, FailPlan::Never);
    let sx = [0xf0, 1, 2, 3, 4, 5, 6, 0xf7];
    let run = run_capture(a.com(), &[&sx]);
    assert_eq!(shape(&run.events), [ev(&sx, false)]);
    assert_eq!(a.counters().get_buffer, 0, "no buffer for an 8-byte SysEx");
    assert_eq!(run.stats.sysex_complete, 1);
    a.assert_clean();
}

#[test]
fn nine_byte_sysex_uses_a_buffer() {
    let a = TestAlloc::new(32, FailPlan::Never);
    let sx = [0xf0, 1, 2, 3, 4, 5, 6, 7, 0xf7];
    let run = run_capture(a.com(), &[&sx[..3], &sx[3..]]);
    assert_eq!(shape(&run.events), [ev(&sx, false)]);
    assert_eq!(run.stats.sysex_buffer_fragments, 1);
    a.assert_clean();
}

#[test]
fn long_sysex_is_fragmented_at_the_buffer_size_with_a_short_inline_tail() {
    let a = TestAlloc::new(10, FailPlan::Never);
    // F0 + 22 data + F7 = 24 bytes: 10 + 10 + 4 (inline); spread over three events, so
    // every fragment is raw data for the sink's parser (INCOMPLETE), the tail too.
    let mut sx = vec![0xf0];
    sx.extend(0..22u8);
    sx.push(0xf7);
    let run = run_capture(a.com(), &[&sx]);
    assert_eq!(
        shape(&run.events),
        [
            ev(&sx[..10], true),
            ev(&sx[10..20], true),
            ev(&sx[20..], true)
        ]
    );
    assert_eq!(run.stats.sysex_buffer_fragments, 2);
    assert_eq!(run.stats.sysex_fragments, 3);
    assert_eq!(run.wire, sx);
    assert_eq!(run.serializer.stats().sysex_complete, 1);
    a.assert_clean();
}

#[test]
fn final_f7_alone_goes_inline_after_a_full_fragment() {
    let a = TestAlloc::new(9, FailPlan::Never);
    let mut sx = vec![0xf0];
    sx.extend(1..=8u8);
    sx.push(0xf7);
    let run = run_capture(a.com(), &[&sx]);
    assert_eq!(shape(&run.events), [ev(&sx[..9], true), ev(&[0xf7], true)]);
    a.assert_clean();
}

#[test]
fn small_buffer_size_means_inline_fragments_of_8() {
    for size in [0u16, 1, 8] {
        let a = TestAlloc::new(size, FailPlan::Never);
        let mut sx = vec![0xf0];
        sx.extend(1..=10u8);
        sx.push(0xf7);
        let run = run_capture(a.com(), &[&sx]);
        assert_eq!(shape(&run.events), [ev(&sx[..8], true), ev(&sx[8..], true)]);
        assert_eq!(a.counters().get_buffer, 0);
        a.assert_clean();
    }
}

#[test]
fn realtime_inside_sysex_goes_between_fragments() {
    let a = TestAlloc::new(10, FailPlan::Never);
    let mut input = vec![0xf0];
    input.extend(1..=4u8);
    input.push(0xf8); // 5 SysEx bytes so far: nothing emitted yet
    input.extend(5..=12u8);
    input.push(0xfe); // 13 so far: first fragment (10) emitted before it
    input.push(0xf7);
    let run = run_capture(a.com(), &[&input]);
    let sx: Vec<u8> = input.iter().copied().filter(|&b| b < 0xf8).collect();
    assert_eq!(
        shape(&run.events),
        [
            ev(&[0xf8], false),
            ev(&sx[..10], true),
            ev(&[0xfe], false),
            ev(&sx[10..], true)
        ]
    );
    assert_eq!(run.wire, concat(&expected_items(&input, 10)));
    a.assert_clean();
}

#[test]
fn cut_sysex_ends_with_an_incomplete_fragment_followed_by_the_cutting_message() {
    let a = TestAlloc::new(10, FailPlan::Never);
    let input = [0xf0, 1, 2, 3, 0x90, 0x3c, 0x7f];
    let run = run_capture(a.com(), &[&input]);
    assert_eq!(
        shape(&run.events),
        [ev(&[0xf0, 1, 2, 3], true), ev(&[0x90, 0x3c, 0x7f], false)]
    );
    assert_eq!(run.stats.sysex_truncated, 1);
    assert_eq!(run.serializer.stats().sysex_truncated, 1);
    assert_eq!(run.wire, input, "a cut SysEx is reproduced as it came");
    // Cut right after a full fragment: nothing more to send; the next message marks the cut.
    let mut input = vec![0xf0];
    input.extend(1..=9u8);
    input.extend([0xc0, 0x05]);
    let run = run_capture(a.com(), &[&input]);
    assert_eq!(
        shape(&run.events),
        [ev(&input[..10], true), ev(&[0xc0, 0x05], false)]
    );
    assert_eq!(run.serializer.stats().sysex_truncated, 1);
    a.assert_clean();
}

#[test]
fn reset_delivers_an_open_sysex_as_truncated_and_drops_a_partial_message() {
    let a = TestAlloc::new(16, FailPlan::Never);
    let run = run_capture(a.com(), &[&[0xf0, 1, 2]]);
    assert_eq!(shape(&run.events), [ev(&[0xf0, 1, 2], true)]);
    assert_eq!(run.events[0].burst, 1, "emitted by the reset");
    let run = run_capture(a.com(), &[&[0x90, 0x3c]]);
    assert!(run.events.is_empty());
    assert_eq!(run.stats.parser.bytes_truncated, 2);
    a.assert_clean();
}

#[test]
fn flush_sends_held_sysex_bytes_and_the_sysex_goes_on() {
    let a = TestAlloc::new(64, FailPlan::Never);
    let mut p = CapturePackager::new(a.com());
    assert!(p.feed(&[0xf0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 5).is_empty());
    let c = p.flush(6);
    let got: Vec<_> = c
        .iter()
        .map(|(e, d)| (d.to_vec(), e.is_incomplete(), e.ull_pres_time_100ns))
        .collect();
    assert_eq!(got, [(vec![0xf0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10], true, 6)]);
    drop(c);
    assert!(p.flush(7).is_empty(), "nothing held");
    let c = p.feed(&[11, 0xf7], 8);
    let got: Vec<_> = c
        .iter()
        .map(|(e, d)| (d.to_vec(), e.is_incomplete()))
        .collect();
    // The tail of a SysEx already partly delivered: raw data too.
    assert_eq!(got, [(vec![11, 0xf7], true)]);
    drop(c);
    assert_eq!(p.stats().sysex_complete, 1);
    drop(p);
    a.assert_clean();
}

#[test]
fn negative_timestamps_clamp_to_zero() {
    let a = TestAlloc::new(16, FailPlan::Never);
    let mut p = CapturePackager::new(a.com());
    let c = p.feed(&[0xfe], -5);
    assert_eq!(c.iter().next().unwrap().0.ull_pres_time_100ns, 0);
    drop(c);
    drop(p);
    a.assert_clean();
}

#[test]
fn held_buffer_goes_back_when_the_packager_is_dropped() {
    let a = TestAlloc::new(16, FailPlan::Never);
    let mut p = CapturePackager::new(a.com());
    assert!(p.feed(&[0xf0, 1, 2, 3, 4, 5, 6, 7, 8, 9], 0).is_empty());
    // The buffer is held with the event it will go out in (it goes back inside it).
    assert_eq!(a.outstanding(), (1, 1));
    assert_eq!(p.stats().bytes_pending, 10);
    drop(p);
    a.assert_clean();
}

#[test]
fn get_message_failure_drops_that_message_only() {
    let a = TestAlloc::new(16, FailPlan::Never);
    let mut p = CapturePackager::new(a.com());
    let c1 = p.feed(&[0x90, 0x3c, 0x7f], 0);
    a.set_plan(FailPlan::From(0));
    let c2 = p.feed(&[0x3e, 0x7f], 1);
    assert!(c2.is_empty());
    a.set_plan(FailPlan::Never);
    let c3 = p.feed(&[0x40, 0x7f], 2);
    let got: Vec<_> = c3.iter().map(|(_, d)| d.to_vec()).collect();
    assert_eq!(
        got,
        [vec![0x90, 0x40, 0x7f]],
        "running status survives a drop"
    );
    let s = p.stats();
    assert_eq!(s.messages_dropped_no_memory, 1);
    assert_eq!(s.bytes_dropped_no_memory, 2);
    assert_eq!(s.bytes_in(), s.bytes_accounted());
    drop((c1, c2, c3, p));
    a.assert_clean();
}

#[test]
fn a_run_of_realtime_bytes_drops_exactly_the_events_it_could_not_get() {
    let a = TestAlloc::new(64, FailPlan::Never);
    let mut p = CapturePackager::new(a.com());
    let c1 = p.feed(&[0xf8, 0xfa, 0x90, 0x3c, 0x7f], 0);
    assert_eq!(c1.len(), 3);
    // Four more events, then the allocator is dry: the run of ten realtime bytes makes four
    // (in input order), and the note after it is dropped too.
    a.set_plan(FailPlan::From(4));
    let run: Vec<u8> = (0..10u8).map(|i| 0xf8 + i % 8).collect();
    let mut burst = run.clone();
    burst.extend([0x90, 0x3e, 0x7f]);
    let c2 = p.feed(&burst, 1);
    let got: Vec<_> = c2.iter().map(|(_, d)| d.to_vec()).collect();
    let want: Vec<_> = run[..4].iter().map(|&b| vec![b]).collect();
    assert_eq!(got, want);
    for (e, _) in c2.iter() {
        assert_eq!(e.ull_pres_time_100ns, 1, "stamped with the burst's time");
        assert_eq!(e.us_channel_group, 1);
        assert_eq!(e.cb_event, 1);
    }
    let s = p.stats();
    assert_eq!(s.realtime_messages, 2 + 4);
    assert_eq!(s.events_out, 3 + 4);
    assert_eq!(s.messages_dropped_no_memory, 6 + 1);
    assert_eq!(s.bytes_dropped_no_memory, 6 + 3);
    assert_eq!(
        s.parser.realtime_messages, 12,
        "the parser counts every realtime byte"
    );
    assert_eq!(s.bytes_in(), s.bytes_accounted());
    a.set_plan(FailPlan::Never);
    // Realtime runs around and inside a message and a SysEx: each byte its own event, the
    // message and the SysEx intact.
    let c3 = p.feed(
        &[
            0xfe, 0xfe, 0x80, 0xf8, 0x3c, 0xf8, 0xf8, 0x00, 0xf0, 0x01, 0xf8, 0xf7,
        ],
        2,
    );
    let got: Vec<_> = c3.iter().map(|(_, d)| d.to_vec()).collect();
    assert_eq!(
        got,
        [
            vec![0xfe],
            vec![0xfe],
            vec![0xf8],
            vec![0xf8],
            vec![0xf8],
            vec![0x80, 0x3c, 0x00],
            vec![0xf8],
            vec![0xf0, 0x01, 0xf7],
        ]
    );
    let s = p.stats();
    assert_eq!(s.bytes_in(), s.bytes_accounted());
    drop((c1, c2, c3, p));
    a.assert_clean();
}

#[test]
fn sysex_failure_returns_this_bursts_fragments_keeps_realtime_and_resyncs() {
    let a = TestAlloc::new(9, FailPlan::Never);
    let mut p = CapturePackager::new(a.com());
    // Fragment 1 is returned in chain 1; fragment 2 and a realtime byte are in chain 2 when
    // the allocator runs dry.
    let mut b1 = vec![0xf0];
    b1.extend(1..=8u8);
    let c1 = p.feed(&b1, 0);
    assert_eq!(c1.len(), 1);
    let mut b2: Vec<u8> = (9..=17u8).collect();
    b2.push(0xf8);
    let before = a.counters().get_message + a.counters().get_buffer;
    // GetBuffer for fragment 2, GetMessage for fragment 2, GetMessage for F8, then dry.
    a.set_plan(FailPlan::From(3));
    b2.extend(18..=30u8);
    b2.extend([0xf7, 0x35, 0xc0, 0x01]);
    let c2 = p.feed(&b2, 1);
    let got: Vec<_> = c2.iter().map(|(_, d)| d.to_vec()).collect();
    assert!(a.counters().get_message + a.counters().get_buffer > before);
    assert_eq!(
        got,
        [vec![0xf8]],
        "the fragment of this burst went back; realtime kept"
    );
    let s = p.stats();
    assert_eq!(s.sysex_dropped_no_memory, 1);
    assert_eq!(s.sysex_dropped_after_partial_delivery, 1);
    // The rest of the SysEx (data, F7) and the stray 0x35 are skipped; C0 01 fails too.
    assert_eq!(s.messages_dropped_no_memory, 1);
    assert_eq!(s.bytes_in(), s.bytes_accounted() + s.bytes_pending);
    a.set_plan(FailPlan::Never);
    let c3 = p.feed(&[0x02], 2);
    let got: Vec<_> = c3.iter().map(|(_, d)| d.to_vec()).collect();
    assert_eq!(got, [vec![0xc0, 0x02]]);
    drop((c1, c2, c3, p));
    a.assert_clean();
}

#[test]
fn buffer_failure_at_the_first_fragment_drops_the_whole_sysex() {
    let a = TestAlloc::new(16, FailPlan::Never);
    let mut p = CapturePackager::new(a.com());
    a.set_plan(FailPlan::From(0));
    let mut input = vec![0xf0];
    input.extend(1..=20u8);
    input.push(0xf7);
    let c = p.feed(&input, 0);
    assert!(c.is_empty());
    let s = p.stats();
    assert_eq!(s.sysex_dropped_no_memory, 1);
    assert_eq!(s.sysex_dropped_after_partial_delivery, 0);
    assert_eq!(s.bytes_in(), s.bytes_accounted());
    assert_eq!(s.bytes_dropped_no_memory + s.parser.bytes_skipped, 22);
    drop((c, p));
    a.assert_clean();
}

/// The input `capture_props`' `allocator_failures_drop_exactly_the_counted_messages` shrank to
/// (regression `cc 9b20d68b…`, also `PROPTEST_RNG_SEED=202`): SysEx A (`F0` + 15 data + `F7`)
/// and SysEx B (`F0`, the same 15 data, 2 more, cut) share their first 16-byte fragment. A is
/// dropped whole, B delivered whole; a first-match pairing of the events gave B's first
/// fragment to A and reported B "out of prefix order".
#[test]
fn identical_first_fragments_one_sysex_dropped_whole_the_other_delivered() {
    let note_off = [0x80, 0, 0];
    let mut input: Vec<u8> = note_off.repeat(5);
    let sysex_a_at = input.len();
    input.push(0xf0);
    input.extend(sysex_payload(15, 243));
    input.push(0xf7);
    let sysex_b_at = input.len();
    input.push(0xf0);
    input.extend(sysex_payload(17, 243));
    input.push(0xf8);
    input.extend(note_off.repeat(12));
    input.extend([0xf3, 0]);
    input.extend(note_off.repeat(7));
    input.extend([0x81, 0, 0, 0xf0]);
    input.extend(sysex_payload(641, 0));
    input.extend([0xf7, 0x80, 0, 0]);
    assert_eq!(input.len(), 759);
    assert_eq!(
        input[sysex_a_at..sysex_a_at + 16],
        input[sysex_b_at..sysex_b_at + 16]
    );

    let a = TestAlloc::new(
        16,
        FailPlan::Random {
            seed: 11882822513959341516,
            percent: 30,
        },
    );
    let run = run_capture(a.com(), &split(&input, &[2]));
    let sysex: Vec<_> = run
        .events
        .iter()
        .filter(|o| o.bytes[0] == 0xf0 || o.bytes[0] < 0x80)
        .map(|o| (o.bytes.clone(), o.incomplete, o.burst))
        .collect();
    // B's first fragment fills with its 16th byte (bursts are 2 bytes long), its tail goes
    // out at the cutting status byte; A's fragment would have come out 8 bursts earlier.
    let b_first = input[sysex_b_at..sysex_b_at + 16].to_vec();
    let b_tail = input[sysex_b_at + 16..sysex_b_at + 18].to_vec();
    assert_eq!(
        sysex,
        [
            (b_first, true, (sysex_b_at + 15) / 2),
            (b_tail, true, (sysex_b_at + 19) / 2)
        ]
    );
    let s = &run.stats;
    assert_eq!(s.sysex_dropped_no_memory, 2, "A and the long SysEx");
    assert_eq!(s.sysex_dropped_after_partial_delivery, 0);
    assert_eq!(s.sysex_truncated, 1, "B, cut by the note-off");
    assert_eq!(s.sysex_complete, 0);
    check_with_drops(&expected_items(&input, 16), &run.events, s);
    a.assert_clean();
}

#[test]
fn chains_append_and_deliver_to_a_sink() {
    let a = TestAlloc::new(16, FailPlan::Never);
    let mut p = CapturePackager::new(a.com());
    let mut c = p.feed(&[0x90, 0x3c, 0x7f], 0);
    c.append(p.feed(&[0xfe], 1)).ok().unwrap();
    c.append(p.feed(&[], 2)).ok().unwrap();
    assert_eq!(c.len(), 2);
    let other = TestAlloc::new(16, FailPlan::Never);
    let mut q = CapturePackager::new(other.com());
    let foreign = q.feed(&[0xfe], 0);
    let Err(foreign) = c.append(foreign) else {
        panic!("different allocators do not mix")
    };
    drop(foreign);
    // A sink that forwards to the allocator (the end of every MXF graph).
    let sink: ComPtr<IMxf> = a.com().as_mxf();
    // SAFETY: the sink is the allocator itself.
    let status = unsafe { c.deliver(&sink) };
    assert_eq!(status, 0);
    drop((sink, p, q));
    a.assert_clean();
    other.assert_clean();
}

#[test]
fn one_mib_sysex_streams_with_bounded_memory() {
    for (size, burst) in [(4096u16, 128usize), (9, 1000), (65535, 128)] {
        let a = TestAlloc::new(size, FailPlan::Never);
        let mut input = vec![0xf0];
        input.extend((0..(1usize << 20)).map(|i| (i * 7 % 128) as u8));
        input.push(0xf7);
        input.extend([0xfa, 0x90, 0x3c, 0x7f]);
        let bursts: Vec<&[u8]> = input.chunks(burst).collect();
        let run = run_capture(a.com(), &bursts);
        assert_eq!(
            run.wire,
            input[..input.len() - 4]
                .iter()
                .copied()
                .chain([0xfa, 0x90, 0x3c, 0x7f])
                .collect::<Vec<_>>()
        );
        let cap = usize::from(size);
        assert_eq!(run.stats.sysex_fragments as usize, (1 << 20) / cap + 1);
        let c = a.counters();
        // At most the held buffer plus the fragments one burst can fill.
        assert!(
            c.peak_buffers <= 2 + burst / cap,
            "peak {} buffers",
            c.peak_buffers
        );
        assert_eq!(run.serializer.stats().sysex_complete, 1);
        a.assert_clean();
    }
}

// A sink that counts PutMessage calls and forwards to an allocator, to check "one PutMessage
// per burst at most" when chains are delivered.
#[repr(C)]
struct CountingSink {
    vtbl: *const IMxfVtbl,
    calls: std::cell::Cell<u32>,
    alloc: *const ComPtr<mxf_abi::IAllocatorMxf>,
}

unsafe extern "system" fn cs_qi(
    _: *mut IUnknown,
    _: *const mxf_abi::Guid,
    out: *mut *mut std::ffi::c_void,
) -> NtStatus {
    // SAFETY: `out` is a valid out-pointer per the COM contract.
    unsafe { *out = std::ptr::null_mut() };
    mxf_abi::STATUS_INVALID_PARAMETER
}
unsafe extern "system" fn cs_ref(_: *mut IUnknown) -> u32 {
    1
}
unsafe extern "system" fn cs_state(_: *mut IMxf, _: KsState) -> NtStatus {
    0
}
unsafe extern "system" fn cs_put(this: *mut IMxf, evt: *mut DmusKernelEvent) -> NtStatus {
    // SAFETY: `this` is a `CountingSink` (the only object using this table).
    let s = unsafe { &*(this as *const CountingSink) };
    s.calls.set(s.calls.get() + 1);
    // SAFETY: `alloc` points to the test's allocator, which outlives the sink.
    let alloc = unsafe { &*s.alloc };
    // SAFETY: the chain came from that allocator; ownership moves on.
    unsafe { alloc.put_message(evt) }
}
unsafe extern "system" fn cs_conn(_: *mut IMxf, _: *mut IMxf) -> NtStatus {
    0
}
static CS_VTBL: IMxfVtbl = IMxfVtbl {
    base: IUnknownVtbl {
        query_interface: cs_qi,
        add_ref: cs_ref,
        release: cs_ref,
    },
    set_state: cs_state,
    put_message: cs_put,
    connect_output: cs_conn,
    disconnect_output: cs_conn,
};

#[test]
fn deliver_makes_one_put_message_per_non_empty_chain() {
    let a = TestAlloc::new(16, FailPlan::Never);
    let alloc = a.com().clone();
    let mut sink_obj = CountingSink {
        vtbl: &CS_VTBL,
        calls: std::cell::Cell::new(0),
        alloc: &alloc,
    };
    // SAFETY: `sink_obj` outlives `sink`; its Release does nothing.
    let sink: ComPtr<IMxf> =
        unsafe { ComPtr::from_raw(std::ptr::NonNull::from(&mut sink_obj).cast()) };
    let mut p = CapturePackager::new(a.com());
    for burst in [&[0x90u8, 0x3c, 0x7f, 0x3e, 0x7f, 0xf8][..], &[0x90], &[]] {
        // SAFETY: the sink returns chains to their allocator.
        unsafe { p.feed(burst, 0).deliver(&sink) };
    }
    assert_eq!(sink_obj.calls.get(), 1);
    drop((sink, p, alloc));
    a.assert_clean();
}

#[test]
fn raw_mode_flags_every_event_incomplete_with_the_same_bytes_in_the_same_events() {
    use mxf_core::capture::CaptureMode;
    // Short messages, realtime, a SysEx that fits one event, and one spread over buffers.
    let input: &[u8] = &[
        0x90, 0x3c, 0x7f, 0x3e, 0x40, 0xf8, 0xf0, 1, 2, 3, 0xf7, 0xf0, 1, 2, 3, 4, 5, 6, 7, 8, 9,
        10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 0xf8, 21, 0xf7, 0xc0, 5,
    ];
    let events = |mode| {
        let a = TestAlloc::new(16, FailPlan::Never);
        let mut p = CapturePackager::with_mode(a.com(), mode);
        let mut got = Vec::new();
        for chunk in input.chunks(5) {
            let c = p.feed(chunk, 0);
            got.extend(c.iter().map(|(e, d)| (d.to_vec(), e.is_incomplete())));
        }
        drop(p);
        a.assert_clean();
        got
    };
    let whole = events(CaptureMode::Whole);
    let raw = events(CaptureMode::Raw);
    assert!(
        whole.iter().any(|(_, inc)| !inc),
        "Whole has COMPLETE events"
    );
    assert!(
        raw.iter().all(|(_, inc)| *inc),
        "Raw: every event INCOMPLETE"
    );
    let bytes = |v: &[(Vec<u8>, bool)]| v.iter().map(|(b, _)| b.clone()).collect::<Vec<_>>();
    assert_eq!(bytes(&raw), bytes(&whole));
    // Longer than 8 bytes: in a GetBuffer buffer, in either mode.
    assert!(raw.iter().any(|(b, _)| b.len() > 8));
}

#[test]
fn raw_mode_is_selected_by_registry_values_zero_and_one_only() {
    use mxf_core::capture::CaptureMode;
    assert_eq!(CaptureMode::from_registry(0), Some(CaptureMode::Whole));
    assert_eq!(CaptureMode::from_registry(1), Some(CaptureMode::Raw));
    assert_eq!(CaptureMode::from_registry(2), None);
    assert_eq!(CaptureMode::from_registry(u32::MAX), None);
    assert_eq!(CaptureMode::default(), CaptureMode::Whole);
}

#[test]
fn a_sysex_dropped_for_want_of_a_second_buffer_leaves_nothing_outstanding() {
    let a = TestAlloc::new(16, FailPlan::Never);
    let mut p = CapturePackager::new(a.com());
    assert!(p.feed(&[0xf0, 1, 2, 3, 4, 5, 6, 7, 8, 9], 0).is_empty());
    assert_eq!(a.outstanding(), (1, 1));
    // Every allocation fails from here: the first fragment goes out in the event reserved
    // with its buffer, but the SysEx cannot get a second buffer and is dropped.
    a.set_plan(FailPlan::From(0));
    let c = p.feed(&(10..40).collect::<Vec<u8>>(), 1);
    drop(c);
    assert_eq!(p.stats().sysex_dropped_no_memory, 1);
    assert_eq!(a.outstanding(), (0, 0));
    drop(p);
    a.assert_clean();
}
