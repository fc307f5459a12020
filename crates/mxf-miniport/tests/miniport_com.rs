//! The miniport's COM surface on the emulator: QueryInterface, GetDescription,
//! DataRangeIntersection argument checks, Init, NewStream validation and the one-stream rule.

mod support;

use mxf_abi::*;
use mxf_core::com::ComPtr;
use mxf_kemu::{Emu, EmuConfig};
use mxf_miniport::filter::MIDI_RANGE;
use mxf_miniport::{
    MiniportConfig, PIN_CAPTURE_BRIDGE, PIN_CAPTURE_STREAM, PIN_RENDER_BRIDGE, PIN_RENDER_DMUS,
    PIN_RENDER_STREAM, new_miniport,
};
use std::ptr;

/// Instances of each streaming pin (the filter's counts).
const MAX: usize = mxf_miniport::filter::MAX_RENDER_INSTANCES as usize;
const _: () = assert!(mxf_miniport::filter::MAX_CAPTURE_INSTANCES as usize == MAX);
use support::calls::*;
use support::port::TestPort;
use support::{TestClock, outstanding, test_allocator};

#[test]
fn query_interface_and_description() {
    let emu = Emu::new(EmuConfig::verifier());
    let m = new_miniport(emu.clone(), MiniportConfig::DEFAULT).unwrap();
    let unk: ComPtr<IUnknown> = m.query().unwrap();
    let mp: ComPtr<IMiniport> = unk.query().unwrap();
    assert_eq!(mp.as_raw().cast::<u8>(), m.as_raw().cast());
    assert_eq!(
        m.query::<IMxf>().err(),
        Some(mxf_abi::NtError::INVALID_PARAMETER)
    );
    assert_eq!(
        m.query::<IPortDMus>().err(),
        Some(mxf_abi::NtError::INVALID_PARAMETER)
    );
    let (st, d) = get_description(&m, true);
    assert_eq!(st, STATUS_SUCCESS);
    assert_eq!(d, mxf_miniport::filter_descriptor());
    assert_eq!(get_description(&m, false).0, STATUS_INVALID_PARAMETER);
    drop((unk, mp, m));
    emu.unload().expect("clean unload");
}

#[test]
fn data_range_intersection_checks_raw_arguments() {
    let emu = Emu::new(EmuConfig::verifier());
    let m = new_miniport(emu.clone(), MiniportConfig::DEFAULT).unwrap();
    let mut ours = MIDI_RANGE.data_range;
    let mut client = format(KSDATAFORMAT_SUBTYPE_MIDI);
    let mut len = 0u32;
    let mut out = [0u8; 64];
    let n = ptr::null_mut();
    assert_eq!(
        intersect(&m, PIN_RENDER_STREAM, n, &mut ours, &mut out, &mut len),
        STATUS_INVALID_PARAMETER
    );
    assert_eq!(
        intersect(&m, PIN_RENDER_STREAM, &mut client, n, &mut out, &mut len),
        STATUS_INVALID_PARAMETER
    );
    assert_eq!(
        intersect(
            &m,
            PIN_RENDER_STREAM,
            &mut client,
            &mut ours,
            &mut out,
            ptr::null_mut()
        ),
        STATUS_INVALID_PARAMETER
    );
    // A client range declaring fewer bytes than a KSDATARANGE is not read beyond its size.
    let mut short = [0u32; 1];
    short[0] = 4;
    assert_eq!(
        intersect(
            &m,
            PIN_RENDER_STREAM,
            short.as_mut_ptr().cast(),
            &mut ours,
            &mut out,
            &mut len
        ),
        STATUS_INVALID_PARAMETER
    );
    // Size query, success, no match.
    assert_eq!(
        intersect(
            &m,
            PIN_RENDER_STREAM,
            &mut client,
            &mut ours,
            &mut [],
            &mut len
        ),
        STATUS_BUFFER_OVERFLOW
    );
    assert_eq!(len, 64);
    len = 0;
    assert_eq!(
        intersect(
            &m,
            PIN_CAPTURE_STREAM,
            &mut client,
            &mut ours,
            &mut out,
            &mut len
        ),
        STATUS_SUCCESS
    );
    assert_eq!(len, 64);
    assert_eq!(&out[..4], &64u32.to_le_bytes());
    assert_eq!(
        intersect(
            &m,
            PIN_CAPTURE_BRIDGE,
            &mut client,
            &mut ours,
            &mut out,
            &mut len
        ),
        STATUS_NO_MATCH
    );
    drop(m);
    emu.unload().expect("clean unload");
}

#[test]
fn init_new_stream_validation_and_instance_counts() {
    let emu = Emu::new(EmuConfig::verifier());
    let m = new_miniport(emu.clone(), MiniportConfig::DEFAULT).unwrap();
    let port = TestPort::new();
    assert_eq!(init(&m, None).0, STATUS_INVALID_PARAMETER);
    let (st, group) = init(&m, Some(&port));
    assert_eq!(st, STATUS_SUCCESS);
    let group = group.expect("a service group");
    assert_eq!(TestPort::refs(&port), 2, "the miniport keeps the port");
    assert_eq!(init(&m, Some(&port)).0, STATUS_INVALID_DEVICE_STATE);
    assert_eq!(TestPort::refs(&port), 2);

    let alloc = test_allocator(&emu);
    let clock = TestClock::new(&emu);
    let midi = format(KSDATAFORMAT_SUBTYPE_MIDI);
    let dmus = format(KSDATAFORMAT_SUBTYPE_DIRECTMUSIC);
    let (a, c) = (Some(&alloc), Some(&clock));
    let r = DmusStreamType::MIDI_RENDER;
    let cap = DmusStreamType::MIDI_CAPTURE;
    // Pin / type mismatches, unsupported types, bad formats, missing interfaces.
    let bad = [
        (
            PIN_RENDER_STREAM,
            cap,
            Some(&midi),
            a,
            c,
            STATUS_INVALID_PARAMETER,
        ),
        (
            PIN_CAPTURE_STREAM,
            r,
            Some(&midi),
            a,
            c,
            STATUS_INVALID_PARAMETER,
        ),
        (
            PIN_CAPTURE_BRIDGE,
            cap,
            Some(&midi),
            a,
            c,
            STATUS_INVALID_PARAMETER,
        ),
        (99, r, Some(&midi), a, c, STATUS_INVALID_PARAMETER),
        (
            PIN_RENDER_BRIDGE,
            r,
            Some(&midi),
            a,
            c,
            STATUS_INVALID_PARAMETER,
        ),
        (
            PIN_RENDER_DMUS,
            cap,
            Some(&dmus),
            a,
            c,
            STATUS_INVALID_PARAMETER,
        ),
        // A format none of the pin's ranges has: DirectMusic on the WinMM pin, MIDI on the
        // DirectMusic pin.
        (
            PIN_RENDER_STREAM,
            r,
            Some(&dmus),
            a,
            c,
            STATUS_INVALID_PARAMETER,
        ),
        (
            PIN_RENDER_DMUS,
            r,
            Some(&midi),
            a,
            c,
            STATUS_INVALID_PARAMETER,
        ),
        (
            PIN_RENDER_STREAM,
            DmusStreamType::WAVE_SINK,
            Some(&midi),
            a,
            c,
            STATUS_NOT_SUPPORTED,
        ),
        (
            PIN_RENDER_STREAM,
            DmusStreamType::INVALID,
            Some(&midi),
            a,
            c,
            STATUS_NOT_SUPPORTED,
        ),
        (PIN_RENDER_STREAM, r, None, a, c, STATUS_INVALID_PARAMETER),
        (
            PIN_RENDER_STREAM,
            r,
            Some(&midi),
            None,
            c,
            STATUS_INVALID_PARAMETER,
        ),
        (
            PIN_CAPTURE_STREAM,
            cap,
            Some(&midi),
            a,
            None,
            STATUS_INVALID_PARAMETER,
        ),
    ];
    for (i, (pin, ty, f, a, c, want)) in bad.into_iter().enumerate() {
        let o = new_stream(&m, pin, ty, f, a, c);
        assert_eq!(o.status, want, "case {i}");
        assert!(o.stream.is_none() && o.group.is_none(), "case {i}");
    }
    let mut wrong = format(KSDATAFORMAT_SUBTYPE_MIDI);
    wrong.major_format = KSDATAFORMAT_SUBTYPE_MIDI;
    let mut short = format(KSDATAFORMAT_SUBTYPE_MIDI);
    short.format_size = 32;
    for f in [&wrong, &short] {
        assert_eq!(
            new_stream(&m, PIN_RENDER_STREAM, r, Some(f), a, c).status,
            STATUS_INVALID_PARAMETER
        );
    }

    let render = new_stream(&m, PIN_RENDER_STREAM, r, Some(&midi), a, c);
    assert_eq!(render.status, STATUS_SUCCESS);
    assert!(
        render.group.is_none(),
        "render streams need no service group"
    );
    assert_eq!(render.prefetch, MiniportConfig::DEFAULT.prefetch_100ns);
    // Up to the pin's instance count (the filter's), then refused.
    let more: Vec<_> = (1..MAX)
        .map(|_| new_stream(&m, PIN_RENDER_STREAM, r, Some(&midi), a, c))
        .collect();
    assert!(more.iter().all(|o| o.status == STATUS_SUCCESS));
    let ninth = new_stream(&m, PIN_RENDER_STREAM, r, Some(&midi), a, c);
    assert_eq!(ninth.status, STATUS_INVALID_DEVICE_REQUEST);
    // The DirectMusic render pin is another pin: open alongside the WinMM one, as often.
    let dm_render = new_stream(&m, PIN_RENDER_DMUS, r, Some(&dmus), a, c);
    assert_eq!(dm_render.status, STATUS_SUCCESS);
    assert!(dm_render.group.is_none());
    let dm_more: Vec<_> = (1..MAX)
        .map(|_| new_stream(&m, PIN_RENDER_DMUS, r, Some(&dmus), a, c))
        .collect();
    assert!(dm_more.iter().all(|o| o.status == STATUS_SUCCESS));
    assert_eq!(
        new_stream(&m, PIN_RENDER_DMUS, r, Some(&dmus), a, c).status,
        STATUS_INVALID_DEVICE_REQUEST
    );
    // The capture pin takes either format, up to its instance count.
    let capture = new_stream(&m, PIN_CAPTURE_STREAM, cap, Some(&dmus), a, c);
    assert_eq!(capture.status, STATUS_SUCCESS);
    assert_eq!(
        capture.group.as_ref().map(|g| g.as_raw()),
        Some(group.as_raw())
    );
    let cap_more: Vec<_> = (1..MAX)
        .map(|_| new_stream(&m, PIN_CAPTURE_STREAM, cap, Some(&midi), a, c))
        .collect();
    assert!(
        cap_more
            .iter()
            .all(|o| o.status == STATUS_SUCCESS && o.group.is_some())
    );
    assert_eq!(
        new_stream(&m, PIN_CAPTURE_STREAM, cap, Some(&midi), a, c).status,
        STATUS_INVALID_DEVICE_REQUEST
    );

    let stream = render.stream.unwrap();
    // Render streams have no output; QI answers IMXF.
    assert_eq!(
        stream.connect_output(&stream),
        STATUS_INVALID_DEVICE_REQUEST
    );
    let again: ComPtr<IMxf> = stream.query().unwrap();
    drop(again);
    // Closing a stream frees its slot.
    drop(stream);
    let render2 = new_stream(&m, PIN_RENDER_STREAM, r, Some(&midi), a, c);
    assert_eq!(render2.status, STATUS_SUCCESS);

    drop((
        render2, dm_render, capture, group, m, more, dm_more, cap_more,
    ));
    assert_eq!(
        TestPort::refs(&port),
        1,
        "the port is released with the miniport"
    );
    assert_eq!(outstanding(&alloc), (0, 0));
    drop((alloc, clock, port));
    emu.unload().expect("clean unload");
}

#[test]
fn capture_stream_refuses_chains_and_manages_its_sink() {
    let emu = Emu::new(EmuConfig::verifier());
    let m = new_miniport(emu.clone(), MiniportConfig::DEFAULT).unwrap();
    let alloc = test_allocator(&emu);
    let clock = TestClock::new(&emu);
    let midi = format(KSDATAFORMAT_SUBTYPE_MIDI);
    let cap = new_stream(
        &m,
        PIN_CAPTURE_STREAM,
        DmusStreamType::MIDI_CAPTURE,
        Some(&midi),
        Some(&alloc),
        Some(&clock),
    );
    let s = cap.stream.unwrap();
    let ev = support::event(&alloc, &[0x90, 1, 2], 0, 0);
    // SAFETY: a chain of `alloc`'s events, given away.
    assert_eq!(unsafe { s.put_message(ev) }, STATUS_INVALID_DEVICE_REQUEST);
    assert_eq!(outstanding(&alloc), (0, 0), "the refused chain went back");
    let sink = support::port::CaptureSink::new(&alloc);
    let refs = support::port::CaptureSink::refs(&sink);
    assert_eq!(s.connect_output(&sink), STATUS_SUCCESS);
    assert_eq!(
        support::port::CaptureSink::refs(&sink),
        refs,
        "no reference on the sink (DMusUART): no stream<->sink cycle"
    );
    assert_eq!(s.connect_output(&sink), STATUS_INVALID_DEVICE_STATE);
    assert_eq!(s.disconnect_output(&s), STATUS_INVALID_PARAMETER);
    assert_eq!(s.disconnect_output(&sink), STATUS_SUCCESS);
    // DisconnectOutput(NULL) disconnects whatever is connected, and is fine with none.
    assert_eq!(s.connect_output(&sink), STATUS_SUCCESS);
    let slots = |s: &ComPtr<IMxf>| {
        // SAFETY: `s` keeps a live IMXF, whose first field is its vtable pointer.
        let vtbl = unsafe { (*s.as_raw()).vtbl };
        // SAFETY: the vtable of a live object is a static IMXF table.
        unsafe { &*vtbl }
    };
    let null_disconnect = |s: &ComPtr<IMxf>| {
        let disconnect = slots(s).disconnect_output;
        // SAFETY: a null sink is a valid argument of DisconnectOutput on a live stream.
        unsafe { disconnect(s.as_raw(), std::ptr::null_mut()) }
    };
    assert_eq!(null_disconnect(&s), STATUS_SUCCESS);
    assert_eq!(
        s.connect_output(&sink),
        STATUS_SUCCESS,
        "NULL disconnected it"
    );
    assert_eq!(null_disconnect(&s), STATUS_SUCCESS);
    assert_eq!(null_disconnect(&s), STATUS_SUCCESS);
    let connect = slots(&s).connect_output;
    // SAFETY: a null sink is a valid (refused) argument of ConnectOutput on a live stream.
    let st = unsafe { connect(s.as_raw(), std::ptr::null_mut()) };
    assert_eq!(st, STATUS_INVALID_PARAMETER);
    assert_eq!(s.set_state(KsState(9)), STATUS_INVALID_PARAMETER);
    let st = mxf_miniport::capture_stats::<Emu>(&s).unwrap();
    assert_eq!(st.chains_refused, 1);
    assert!(mxf_miniport::render_stats::<Emu>(&s).is_none());
    drop((s, cap.group, sink, m));
    drop((alloc, clock));
    emu.unload().expect("clean unload");
}

/// Bring-up tracing: NewStream, SetState and Connect/DisconnectOutput each log one line, at
/// trace level when they succeed and at error level with the NTSTATUS when they fail.
#[test]
fn stream_entry_points_trace_their_outcome() {
    let emu = Emu::new(EmuConfig::verifier());
    let m = new_miniport(emu.clone(), MiniportConfig::DEFAULT).unwrap();
    let port = TestPort::new();
    let (_, group) = init(&m, Some(&port));
    let alloc = test_allocator(&emu);
    let clock = TestClock::new(&emu);
    let midi = format(KSDATAFORMAT_SUBTYPE_MIDI);
    let (a, c) = (Some(&alloc), Some(&clock));
    let render = new_stream(
        &m,
        PIN_RENDER_STREAM,
        DmusStreamType::MIDI_RENDER,
        Some(&midi),
        a,
        c,
    );
    let capture = new_stream(
        &m,
        PIN_CAPTURE_STREAM,
        DmusStreamType::MIDI_CAPTURE,
        Some(&midi),
        a,
        c,
    );
    // A render stream on the capture pin: refused.
    let refused = new_stream(
        &m,
        PIN_CAPTURE_STREAM,
        DmusStreamType::MIDI_RENDER,
        Some(&midi),
        a,
        c,
    );
    assert_eq!(refused.status, STATUS_INVALID_PARAMETER);
    let (r, cap) = (render.stream.unwrap(), capture.stream.unwrap());
    let sink = support::port::CaptureSink::new(&alloc);
    assert_eq!(cap.connect_output(&sink), STATUS_SUCCESS);
    assert_eq!(cap.set_state(KsState::RUN), STATUS_SUCCESS);
    assert_eq!(r.set_state(KsState::RUN), STATUS_SUCCESS);
    assert_eq!(r.set_state(KsState::STOP), STATUS_SUCCESS);
    assert_eq!(cap.set_state(KsState(7)), STATUS_INVALID_PARAMETER);
    assert_eq!(cap.set_state(KsState::STOP), STATUS_SUCCESS);
    assert_eq!(cap.disconnect_output(&sink), STATUS_SUCCESS);
    assert_eq!(cap.disconnect_output(&r), STATUS_INVALID_PARAMETER);

    let lines = emu.log_lines();
    let sink_ptr = format!("{:p}", sink.as_raw());
    let other_ptr = format!("{:p}", r.as_raw());
    let want = [
        format!("TRACE NewStream(pin {PIN_RENDER_STREAM}, render): ok"),
        format!("TRACE NewStream(pin {PIN_CAPTURE_STREAM}, capture): ok"),
        format!("ERROR NewStream(pin {PIN_CAPTURE_STREAM}, render) failed: 0xc000000d"),
        format!("TRACE capture ConnectOutput({sink_ptr}): ok"),
        "TRACE capture SetState(RUN): ok".to_string(),
        "TRACE render SetState(RUN): ok".to_string(),
        "TRACE render SetState(STOP): ok".to_string(),
        "ERROR capture SetState(7) failed: 0xc000000d".to_string(),
        "TRACE capture SetState(STOP): ok".to_string(),
        format!("TRACE capture DisconnectOutput({sink_ptr}): ok"),
        format!("ERROR capture DisconnectOutput({other_ptr}) failed: 0xc000000d"),
    ];
    let traced: Vec<&String> = lines
        .iter()
        .filter(|l| want.iter().any(|w| *l == w))
        .collect();
    assert_eq!(traced, want.iter().collect::<Vec<_>>(), "log: {lines:#?}");
    drop((
        r,
        cap,
        render.group,
        capture.group,
        refused.group,
        sink,
        group,
        m,
        port,
    ));
    drop((alloc, clock));
    emu.unload().expect("clean unload");
}
