//! Render → loopback → capture through the miniport, driven by the test port as PortCls drives
//! it: byte-exact (SysEx up to 1 MiB), on time, every event back to its allocator, clean
//! unload.

mod support;

use mxf_abi::*;
use mxf_core::service::ServiceGroupExt;
use mxf_kemu::{Emu, EmuConfig};
use mxf_miniport::{
    MiniportConfig, PIN_CAPTURE_STREAM, PIN_RENDER_DMUS, PIN_RENDER_STREAM, capture_stats,
    loopback_allocator_stats, loopback_stats, new_miniport, render_stats,
};
use support::calls::*;
use support::port::{CaptureSink, PinSink, TestPort};
use support::*;

const MS: u64 = 10_000;

fn round_trip(sysex_len: usize) {
    let emu = Emu::new(EmuConfig::verifier());
    // This test port hands every event over ahead of its time, as a port does for a stream
    // that asks for a prefetch: the miniport holds them on its timer until due.
    let cfg = MiniportConfig {
        prefetch_100ns: 10 * MS,
        ..MiniportConfig::DEFAULT
    };
    let m = new_miniport(emu.clone(), cfg).unwrap();
    let port = TestPort::new();
    let (st, group) = init(&m, Some(&port));
    assert_eq!(st, STATUS_SUCCESS);
    let group = group.unwrap();
    let pin = PinSink::new();
    assert_eq!(group.add_member(&pin), STATUS_SUCCESS);

    // The port's allocator and clock (one of each for both pins, as PortCls does).
    let alloc = test_allocator(&emu);
    let clock = TestClock::new(&emu);
    let fmt = format(KSDATAFORMAT_SUBTYPE_DIRECTMUSIC);
    let cap = new_stream(
        &m,
        PIN_CAPTURE_STREAM,
        DmusStreamType::MIDI_CAPTURE,
        Some(&fmt),
        Some(&alloc),
        Some(&clock),
    );
    assert_eq!(cap.status, STATUS_SUCCESS);
    let cap_stream = cap.stream.unwrap();
    *PinSink::get(&pin).stream.lock().unwrap() = Some(cap_stream.clone());
    let sink = CaptureSink::new(&alloc);
    assert_eq!(cap_stream.connect_output(&sink), STATUS_SUCCESS);
    // A DirectMusic client: the DirectMusic render pin.
    let ren = new_stream(
        &m,
        PIN_RENDER_DMUS,
        DmusStreamType::MIDI_RENDER,
        Some(&fmt),
        Some(&alloc),
        Some(&clock),
    );
    assert_eq!(ren.status, STATUS_SUCCESS);
    let ren_stream = ren.stream.unwrap();
    for s in [KsState::ACQUIRE, KsState::PAUSE, KsState::RUN] {
        assert_eq!(cap_stream.set_state(s), STATUS_SUCCESS);
        assert_eq!(ren_stream.set_state(s), STATUS_SUCCESS);
    }

    let sysex = sysex_bytes(sysex_len, sysex_len as u32);
    let mut evs = vec![event(&alloc, &[0x90, 60, 100], MS, 0)];
    evs.extend(sysex_events(&alloc, &sysex, 2 * MS));
    evs.push(event(&alloc, &[0x80, 60, 0], 3 * MS, 0));
    evs.push(event(&alloc, &[0xFE], DONT_HOLD_FOR_SEQUENCING, 0));
    let n_events = evs.len() as u64;
    // SAFETY: a chain of the port allocator's events, given to the stream.
    emu.at_irql(mxf_core::platform::DISPATCH_LEVEL, || unsafe {
        assert_eq!(ren_stream.put_message(chain(&evs)), STATUS_SUCCESS)
    });
    emu.advance_time(10 * MS as i64);

    let got = CaptureSink::get(&sink).got.lock().unwrap().bytes();
    let mut expect = vec![0xFE, 0x90, 60, 100];
    expect.extend_from_slice(&sysex);
    expect.extend_from_slice(&[0x80, 60, 0]);
    assert_eq!(got.len(), expect.len());
    assert!(
        got == expect,
        "captured bytes differ from what was rendered"
    );
    {
        let rx = CaptureSink::get(&sink).got.lock().unwrap();
        // Captured events carry the capture time, group 1; here the port services at once, so
        // each message arrives at its render time.
        assert!(rx.events.iter().all(|e| e.3 == 1));
        let note_on = rx.events.iter().find(|e| e.0 == [0x90, 60, 100]).unwrap();
        assert_eq!(note_on.2, MS);
        let note_off = rx.events.iter().find(|e| e.0 == [0x80, 60, 0]).unwrap();
        assert_eq!(note_off.2, 3 * MS);
    }

    let rs = render_stats::<Emu>(&ren_stream).unwrap();
    assert_eq!(rs.events_played, n_events);
    assert_eq!(rs.bytes_written, expect.len() as u64);
    assert_eq!((rs.dropped().bytes, rs.lateness_max), (0, 0));
    assert_eq!(rs.sysex_written, 1);
    // This port services at once after each render run, so the loopback never fills here
    // (flow control is exercised by mxfsim's tests, whose port DPC runs later).
    assert!(
        rs.kicks >= 1,
        "each capture service that read kicks the render side"
    );
    assert_eq!(rs.blocks, 0);
    let cs = capture_stats::<Emu>(&cap_stream).unwrap();
    assert_eq!(cs.bytes_read, expect.len() as u64);
    assert_eq!(cs.events_dropped_no_sink, 0);
    assert_eq!(cs.packager.sysex_complete, 1);
    let ls = loopback_stats::<Emu>(&m).unwrap();
    assert_eq!(
        (
            ls.bytes_in,
            ls.bytes_out,
            ls.bytes_queued,
            ls.bytes_dropped()
        ),
        (expect.len() as u64, expect.len() as u64, 0, 0)
    );
    // Bytes beyond one service budget wait for the group's 100 ns delayed service.
    assert!(ls.latency_max < MS, "latency {}", ls.latency_max);
    assert_eq!(ls.latency_samples, cs.bursts);
    // Zero-copy bursts of up to one loopback buffer, fed straight from its chunks: within a
    // service every burst but the last is full, so no more than one short burst per service.
    let burst_max = u64::from(MiniportConfig::DEFAULT.loopback.allocator.buffer_size);
    assert!(
        cs.bursts <= cs.bytes_read / burst_max + cs.services,
        "{} bursts for {} bytes in {} services",
        cs.bursts,
        cs.bytes_read,
        cs.services
    );
    assert!(
        TestPort::get(&port)
            .notifies
            .load(std::sync::atomic::Ordering::Relaxed)
            >= 3
    );

    // Teardown as the port does it: stop, disconnect, release (PASSIVE_LEVEL).
    assert_eq!(ren_stream.set_state(KsState::STOP), STATUS_SUCCESS);
    assert_eq!(cap_stream.set_state(KsState::STOP), STATUS_SUCCESS);
    assert_eq!(cap_stream.disconnect_output(&sink), STATUS_SUCCESS);
    *PinSink::get(&pin).stream.lock().unwrap() = None;
    group.remove_member(&pin);
    assert_eq!(
        outstanding(&alloc),
        (0, 0),
        "every port event and buffer returned"
    );
    let la = loopback_allocator_stats::<Emu>(&m).unwrap();
    assert_eq!((la.outstanding_events, la.outstanding_buffers), (0, 0));
    drop((ren_stream, cap_stream, cap.group, group, m));
    drop((sink, pin, port, alloc, clock));
    emu.unload().expect("clean unload");
}

#[test]
fn round_trip_small_sysex() {
    round_trip(20);
}

#[test]
fn round_trip_sysex_of_100_kib() {
    round_trip(100 * 1024);
}

#[test]
fn round_trip_sysex_of_1_mib() {
    round_trip(1 << 20);
}

#[test]
fn nothing_reaches_a_cable_without_listener_and_stop_discards() {
    let emu = Emu::new(EmuConfig::verifier());
    let m = new_miniport(emu.clone(), MiniportConfig::DEFAULT).unwrap();
    let alloc = test_allocator(&emu);
    let clock = TestClock::new(&emu);
    let fmt = format(KSDATAFORMAT_SUBTYPE_MIDI);
    // No Init: no port to notify; no capture stream: played bytes are dropped and counted.
    let ren = new_stream(
        &m,
        PIN_RENDER_STREAM,
        DmusStreamType::MIDI_RENDER,
        Some(&fmt),
        Some(&alloc),
        Some(&clock),
    );
    let r = ren.stream.unwrap();
    r.set_state(KsState::RUN);
    // SAFETY: the port allocator's events, given away.
    unsafe {
        r.put_message(chain(&[
            event(&alloc, &[0x90, 1, 1], 0, 0),
            event(&alloc, &[0x80, 1, 0], MS, 0),
        ]))
    };
    emu.advance_time(2 * MS as i64);
    let rs = render_stats::<Emu>(&r).unwrap();
    let d = rs.dropped_no_listener;
    assert_eq!(
        (rs.events_played, rs.bytes_written, d.messages, d.bytes),
        (2, 0, 2, 6)
    );
    assert_eq!(loopback_stats::<Emu>(&m).unwrap().bytes_in, 0);
    // A capture stream that is not running does not listen either; no sink: chains dropped.
    let cap = new_stream(
        &m,
        PIN_CAPTURE_STREAM,
        DmusStreamType::MIDI_CAPTURE,
        Some(&fmt),
        Some(&alloc),
        Some(&clock),
    );
    let c = cap.stream.unwrap();
    // SAFETY: the port allocator's events, given away.
    unsafe { r.put_message(event(&alloc, &[0x90, 2, 2], 3 * MS, 0)) };
    emu.advance_time(2 * MS as i64);
    // SAFETY: null = service.
    unsafe { c.put_message(std::ptr::null_mut()) };
    assert_eq!(capture_stats::<Emu>(&c).unwrap().bytes_read, 0);
    let rs = render_stats::<Emu>(&r).unwrap();
    assert_eq!(rs.dropped_no_listener.messages, 3);
    c.set_state(KsState::RUN);
    // SAFETY: the port allocator's events, given away.
    unsafe { r.put_message(event(&alloc, &[0x90, 3, 3], 5 * MS, 0)) };
    emu.advance_time(2 * MS as i64);
    // SAFETY: null = service.
    unsafe { c.put_message(std::ptr::null_mut()) };
    let cs = capture_stats::<Emu>(&c).unwrap();
    assert_eq!((cs.bytes_read, cs.events_dropped_no_sink), (3, 1));
    let ls = loopback_stats::<Emu>(&m).unwrap();
    assert_eq!(
        ls.bytes_in,
        ls.bytes_out + ls.bytes_dropped() + ls.bytes_queued
    );
    assert_eq!(outstanding(&alloc), (0, 0));
    drop((r, c, cap.group, m, alloc, clock));
    emu.unload().expect("clean unload");
}
