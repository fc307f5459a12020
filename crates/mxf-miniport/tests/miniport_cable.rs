//! Several streams on one cable through the miniport, driven by the test port: every capture
//! stream gets every message (a stalled one drops, counted, without holding up the others),
//! two render streams merge without tearing a SysEx, and a render stream that stops in the
//! middle of its SysEx lets the cable go and wakes the writer it held off.

mod support;

use mxf_abi::*;
use mxf_core::com::ComPtr;
use mxf_core::loopback::LoopbackConfig;
use mxf_core::platform::DISPATCH_LEVEL;
use mxf_core::service::ServiceGroupExt;
use mxf_kemu::{Emu, EmuConfig};
use mxf_miniport::{
    MiniportConfig, PIN_CAPTURE_STREAM, PIN_RENDER_DMUS, PIN_RENDER_STREAM, cable_stats,
    capture_stats, loopback_stats, new_miniport, reader_loopback_stats, reader_stats, render_stats,
};
use support::calls::*;
use support::port::{CaptureSink, PinSink, TestPort};
use support::*;

const MS: u64 = 10_000;

/// A capture client: its stream, the pin sink the group services it through (no stream
/// behind it: never serviced, a stalled reader), and its capture sink.
struct Reader {
    stream: ComPtr<IMxf>,
    _group: Option<ComPtr<IServiceGroup>>,
    pin: ComPtr<IServiceSink>,
    sink: ComPtr<IMxf>,
}

struct Rig {
    emu: Emu,
    m: ComPtr<IMiniportDMus>,
    port: ComPtr<IPortDMus>,
    group: ComPtr<IServiceGroup>,
    alloc: ComPtr<IAllocatorMxf>,
    clock: ComPtr<IMasterClock>,
}

fn rig(cfg: MiniportConfig) -> Rig {
    let emu = Emu::new(EmuConfig::verifier());
    let m = new_miniport(emu.clone(), cfg).unwrap();
    let port = TestPort::new();
    let (st, group) = init(&m, Some(&port));
    assert_eq!(st, STATUS_SUCCESS);
    let alloc = test_allocator(&emu);
    let clock = TestClock::new(&emu);
    Rig {
        emu,
        m,
        port,
        group: group.unwrap(),
        alloc,
        clock,
    }
}

impl Rig {
    fn reader(&self, serviced: bool) -> Reader {
        let fmt = format(KSDATAFORMAT_SUBTYPE_DIRECTMUSIC);
        let o = new_stream(
            &self.m,
            PIN_CAPTURE_STREAM,
            DmusStreamType::MIDI_CAPTURE,
            Some(&fmt),
            Some(&self.alloc),
            Some(&self.clock),
        );
        assert_eq!(o.status, STATUS_SUCCESS);
        let stream = o.stream.unwrap();
        let pin = PinSink::new();
        if serviced {
            *PinSink::get(&pin).stream.lock().unwrap() = Some(stream.clone());
        }
        assert_eq!(self.group.add_member(&pin), STATUS_SUCCESS);
        let sink = CaptureSink::new(&self.alloc);
        assert_eq!(stream.connect_output(&sink), STATUS_SUCCESS);
        assert_eq!(stream.set_state(KsState::RUN), STATUS_SUCCESS);
        Reader {
            stream,
            _group: o.group,
            pin,
            sink,
        }
    }

    fn renderer(&self, pin: u32) -> ComPtr<IMxf> {
        let sub = if pin == PIN_RENDER_STREAM {
            KSDATAFORMAT_SUBTYPE_MIDI
        } else {
            KSDATAFORMAT_SUBTYPE_DIRECTMUSIC
        };
        let o = new_stream(
            &self.m,
            pin,
            DmusStreamType::MIDI_RENDER,
            Some(&format(sub)),
            Some(&self.alloc),
            Some(&self.clock),
        );
        assert_eq!(o.status, STATUS_SUCCESS);
        let s = o.stream.unwrap();
        assert_eq!(s.set_state(KsState::RUN), STATUS_SUCCESS);
        s
    }

    fn send(&self, to: &ComPtr<IMxf>, evs: &[*mut DmusKernelEvent]) {
        // SAFETY: a chain of the port allocator's events, given to the stream.
        self.emu.at_irql(DISPATCH_LEVEL, || unsafe {
            assert_eq!(to.put_message(chain(evs)), STATUS_SUCCESS)
        });
    }

    fn finish(self, renderers: Vec<ComPtr<IMxf>>, readers: Vec<Reader>) {
        for r in &renderers {
            assert_eq!(r.set_state(KsState::STOP), STATUS_SUCCESS);
        }
        for r in &readers {
            assert_eq!(r.stream.set_state(KsState::STOP), STATUS_SUCCESS);
            assert_eq!(r.stream.disconnect_output(&r.sink), STATUS_SUCCESS);
            *PinSink::get(&r.pin).stream.lock().unwrap() = None;
            self.group.remove_member(&r.pin);
        }
        assert_eq!(
            outstanding(&self.alloc),
            (0, 0),
            "every port event returned"
        );
        drop((renderers, readers));
        let Rig {
            emu,
            m,
            port,
            group,
            alloc,
            clock,
        } = self;
        drop((m, group, port, alloc, clock));
        emu.unload().expect("clean unload");
    }
}

fn got(r: &Reader) -> Vec<u8> {
    CaptureSink::get(&r.sink).got.lock().unwrap().bytes()
}

#[test]
fn three_capture_clients_one_stalled_two_get_everything_its_drops_counted() {
    let cfg = MiniportConfig {
        loopback: LoopbackConfig {
            capacity: 128 * 1024,
            ..LoopbackConfig::DEFAULT
        },
        ..MiniportConfig::DEFAULT
    };
    let rig = rig(cfg);
    let readers = vec![rig.reader(true), rig.reader(true), rig.reader(false)];
    let r = rig.renderer(PIN_RENDER_DMUS);
    let sysex = sysex_bytes(300 * 1024, 7);
    let mut evs = vec![event(&rig.alloc, &[0x90, 60, 100], MS, 0)];
    evs.extend(sysex_events(&rig.alloc, &sysex, 2 * MS));
    evs.push(event(&rig.alloc, &[0x80, 60, 0], 3 * MS, 0));
    rig.send(&r, &evs);
    rig.emu.advance_time(10 * MS as i64);
    let mut expect = vec![0x90, 60, 100];
    expect.extend_from_slice(&sysex);
    expect.extend_from_slice(&[0x80, 60, 0]);
    for rd in &readers[..2] {
        assert!(got(rd) == expect, "a serviced client got every byte");
        let s = reader_stats::<Emu>(&rd.stream).unwrap();
        assert_eq!(
            (s.bytes_delivered, s.bytes_dropped, s.messages_delivered),
            (expect.len() as u64, 0, 3)
        );
    }
    let stalled = &readers[2];
    assert!(got(stalled).is_empty(), "never serviced");
    let s = reader_stats::<Emu>(&stalled.stream).unwrap();
    let lb = reader_loopback_stats::<Emu>(&stalled.stream).unwrap();
    assert_eq!(
        s.bytes_delivered, lb.bytes_queued,
        "what it holds is what it was given"
    );
    assert_eq!(s.bytes_delivered + s.bytes_dropped, expect.len() as u64);
    // The note-on fits, the SysEx is cut once its loopback is full, the note-off fits.
    assert_eq!(
        (s.messages_delivered, s.sysex_truncated, s.messages_dropped),
        (2, 1, 0)
    );
    let rs = render_stats::<Emu>(&r).unwrap();
    assert_eq!(
        (rs.bytes_written, rs.dropped().bytes),
        (expect.len() as u64, 0)
    );
    let c = cable_stats::<Emu>(&rig.m).unwrap();
    assert_eq!((c.readers_attached, c.readers_joined), (3, 3));
    let ls = loopback_stats::<Emu>(&rig.m).unwrap();
    assert_eq!(ls.bytes_in, 2 * expect.len() as u64 + s.bytes_delivered);
    assert_eq!(
        ls.bytes_in,
        ls.bytes_out + ls.bytes_dropped() + ls.bytes_queued
    );
    for rd in &readers[..2] {
        assert_eq!(
            capture_stats::<Emu>(&rd.stream)
                .unwrap()
                .packager
                .sysex_complete,
            1
        );
    }
    rig.finish(vec![r], readers);
}

#[test]
fn two_render_clients_merge_without_tearing_a_sysex() {
    let rig = rig(MiniportConfig::DEFAULT);
    let readers = vec![rig.reader(true)];
    let (a, b) = (
        rig.renderer(PIN_RENDER_STREAM),
        rig.renderer(PIN_RENDER_DMUS),
    );
    // More SysEx fragments than one render run plays: the SysEx is open between two runs of
    // its stream, while the other stream's notes are due.
    let sysex = sysex_bytes(400 * 1024, 3);
    rig.send(&a, &sysex_events(&rig.alloc, &sysex, MS));
    let notes: Vec<_> = (0..20u8)
        .map(|k| event(&rig.alloc, &[0x91, k, 1], MS, 0))
        .collect();
    rig.send(&b, &notes);
    rig.emu.advance_time(10 * MS as i64);
    let bytes = got(&readers[0]);
    assert_eq!(bytes.len(), sysex.len() + 60, "nothing lost");
    let at = bytes.iter().position(|&x| x == 0xF0).unwrap();
    assert!(
        bytes[at..at + sysex.len()] == sysex[..],
        "the SysEx arrived contiguous"
    );
    let mut notes_got: Vec<u8> = bytes[..at].to_vec();
    notes_got.extend_from_slice(&bytes[at + sysex.len()..]);
    let want: Vec<u8> = (0..20u8).flat_map(|k| [0x91, k, 1]).collect();
    assert_eq!(notes_got, want, "the notes, whole and in order");
    assert!(cable_stats::<Emu>(&rig.m).unwrap().merge_waits > 0);
    rig.finish(vec![a, b], readers);
}

#[test]
fn a_render_client_stopping_inside_its_sysex_lets_the_cable_go_and_wakes_the_other() {
    let rig = rig(MiniportConfig::DEFAULT);
    let readers = vec![rig.reader(true)];
    let (a, b) = (
        rig.renderer(PIN_RENDER_STREAM),
        rig.renderer(PIN_RENDER_DMUS),
    );
    // A SysEx its application never finishes: it holds the cable.
    rig.send(&a, &[event(&rig.alloc, &[0xF0, 1, 2, 3], MS, 0)]);
    rig.emu.advance_time(2 * MS as i64);
    rig.send(&b, &[event(&rig.alloc, &[0x91, 5, 5], 3 * MS, 0)]);
    rig.emu.advance_time(2 * MS as i64);
    assert!(
        render_stats::<Emu>(&b).unwrap().blocked_now,
        "held off by the open SysEx"
    );
    let read = capture_stats::<Emu>(&readers[0].stream).unwrap().bytes_read;
    assert_eq!(read, 4, "the open SysEx reached the reader");
    // Its stream stops: the cable is free, and the held-off stream is woken without any
    // capture service in between.
    assert_eq!(a.set_state(KsState::STOP), STATUS_SUCCESS);
    rig.emu.advance_time(MS as i64);
    let rs = render_stats::<Emu>(&b).unwrap();
    assert!(!rs.blocked_now);
    assert_eq!(rs.bytes_written, 3);
    // The reader sees the SysEx cut by the note.
    let bytes = got(&readers[0]);
    assert!(
        bytes.starts_with(&[0xF0, 1, 2, 3]) && bytes.ends_with(&[0x91, 5, 5]),
        "{bytes:x?}"
    );
    assert_eq!(
        capture_stats::<Emu>(&readers[0].stream).unwrap().bytes_read,
        7
    );
    rig.finish(vec![a, b], readers);
}

#[test]
fn the_feedback_guard_of_the_config_mutes_the_cable_and_the_render_stream_counts_it() {
    let cfg = MiniportConfig {
        feedback: mxf_core::feedback::FeedbackConfig {
            max_messages_per_window: 10,
            window_100ns: MS as i64,
            trip_windows: 1,
            release_windows: 1,
        },
        ..MiniportConfig::DEFAULT
    };
    let rig = rig(cfg);
    let readers = vec![rig.reader(true)];
    let r = rig.renderer(PIN_RENDER_STREAM);
    let notes: Vec<_> = (0..50u8)
        .map(|k| event(&rig.alloc, &[0x90, k, 1], MS, 0))
        .collect();
    rig.send(&r, &notes);
    rig.emu.advance_time(MS as i64 / 2);
    let rs = render_stats::<Emu>(&r).unwrap();
    assert_eq!((rs.messages_written, rs.dropped_muted.messages), (10, 40));
    let c = cable_stats::<Emu>(&rig.m).unwrap();
    assert!(c.muted);
    assert_eq!((c.feedback.trips, c.feedback.messages_muted), (1, 40));
    assert_eq!(
        got(&readers[0]).len(),
        30,
        "only what passed reached the reader"
    );
    assert_eq!(
        rig.emu
            .log_lines()
            .iter()
            .filter(|l| l.starts_with("WARN cable: feedback guard tripped"))
            .count(),
        1
    );
    rig.finish(vec![r], readers);
}

#[test]
fn the_loopback_counters_add_up_over_every_capture_stream_the_cable_had() {
    let rig = rig(MiniportConfig::DEFAULT);
    let r = rig.renderer(PIN_RENDER_STREAM);
    let mut total = 0;
    for k in 0..3u8 {
        let rd = rig.reader(true);
        rig.send(
            &r,
            &[event(&rig.alloc, &[0x90, k, 1], u64::from(k) * MS, 0)],
        );
        rig.emu.advance_time(MS as i64);
        total += 3;
        assert_eq!(got(&rd), [0x90, k, 1]);
        assert_eq!(loopback_stats::<Emu>(&rig.m).unwrap().bytes_out, total);
        assert_eq!(rd.stream.set_state(KsState::STOP), STATUS_SUCCESS);
        assert_eq!(rd.stream.disconnect_output(&rd.sink), STATUS_SUCCESS);
        *PinSink::get(&rd.pin).stream.lock().unwrap() = None;
        rig.group.remove_member(&rd.pin);
        drop(rd);
    }
    let ls = loopback_stats::<Emu>(&rig.m).unwrap();
    assert_eq!((ls.bytes_in, ls.bytes_out, ls.bytes_queued), (9, 9, 0));
    assert_eq!(cable_stats::<Emu>(&rig.m).unwrap().readers_attached, 0);
    assert!(mxf_miniport::loopback_allocator_stats::<Emu>(&rig.m).is_none());
    rig.finish(vec![r], Vec::new());
}
