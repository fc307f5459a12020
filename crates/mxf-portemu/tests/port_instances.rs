//! Several KS instances of one pin through the port emulator: the port enforces the pin
//! descriptors' instance counts before `NewStream`, reports a miniport's own refusal as such,
//! gives each capture instance its own allocator, sink and log, keeps each render instance's
//! queue and counters apart, and models a slow reader by stalling its sink.

use mxf_abi::{STATUS_INVALID_DEVICE_REQUEST, STATUS_UNSUCCESSFUL};
use mxf_core::alloc::AllocatorConfig;
use mxf_kemu::{Emu, EmuConfig};
use mxf_miniport::{MiniportConfig, PIN_CAPTURE_STREAM, PIN_RENDER_STREAM, new_miniport};
use mxf_portemu::double::new_double_miniport;
use mxf_portemu::widen::with_instance_limit;
use mxf_portemu::{Client, Port, PortConfig, RenderUnit, Tracker, validate};

const MS: i64 = 10_000;

fn real_port(emu: &Emu, cfg: PortConfig) -> Port {
    let mp = new_miniport(emu.clone(), MiniportConfig::DEFAULT).expect("miniport");
    Port::with_config(emu.clone(), mp, cfg).expect("port")
}

fn notes(t0: i64, n: usize, channel: u8) -> Vec<RenderUnit> {
    (0..n)
        .map(|i| RenderUnit {
            time: t0 + i as i64 * MS,
            bytes: vec![0x90 | channel, (i % 128) as u8, 0x40],
        })
        .collect()
}

fn messages(port: &Port, h: mxf_portemu::CaptureHandle) -> Vec<Vec<u8>> {
    port.with_capture_of(h, |c| {
        c.assembler
            .messages()
            .iter()
            .map(|m| m.bytes.clone())
            .collect()
    })
    .expect("instance")
}

#[test]
fn a_pin_create_beyond_the_instance_count_fails_in_the_port_before_new_stream() {
    let emu = Emu::new(EmuConfig::verifier());
    let mut port = real_port(&emu, PortConfig::default());
    let f = port.filter_info().clone();
    for (pin, capture) in [(PIN_CAPTURE_STREAM, true), (PIN_RENDER_STREAM, false)] {
        let limit = f.instance_limit(pin);
        assert!(limit >= 1, "pin {pin}");
        assert_eq!(f.max_global_instances[pin as usize], limit);
        let mut handles = Vec::new();
        for _ in 0..limit {
            if capture {
                handles.push(Err(port
                    .open_capture_instance(Client::WinMm)
                    .expect("open")));
            } else {
                handles.push(Ok(port.open_render_instance(Client::WinMm).expect("open")));
            }
        }
        assert_eq!(port.pin_instances(pin), limit);
        let calls = port.tracker().calls_of("IMiniportDMus::NewStream").count;
        let e = if capture {
            port.open_capture_instance(Client::WinMm).map(|_| ())
        } else {
            port.open_render_instance(Client::WinMm).map(|_| ())
        }
        .expect_err("one instance too many");
        assert_eq!((e.step, e.status), ("KS pin create", STATUS_UNSUCCESSFUL));
        assert_eq!(
            port.tracker().calls_of("IMiniportDMus::NewStream").count,
            calls,
            "NewStream is not called beyond the limit"
        );
        // Closing one instance makes room for one more.
        match handles.pop().expect("one") {
            Ok(r) => port.close_render_instance(r).expect("close render"),
            Err(c) => port.close_capture_instance(c).expect("close capture"),
        }
        assert_eq!(port.pin_instances(pin), limit - 1);
        if capture {
            port.open_capture_instance(Client::WinMm)
                .expect("room again");
        } else {
            port.open_render_instance(Client::WinMm)
                .expect("room again");
        }
        assert_eq!(port.pin_instances(pin), limit);
    }
    let rep = port.close().expect("close");
    assert_eq!(rep.allocator_refs_left, 0);
    assert!(rep.live_objects.is_empty(), "{:?}", rep.live_objects);
    emu.unload().expect("clean unload");
}

#[test]
fn the_single_stream_api_is_held_to_the_instance_count_too() {
    let emu = Emu::new(EmuConfig::verifier());
    let mut port = real_port(&emu, PortConfig::default());
    let limit = port.filter_info().instance_limit(PIN_CAPTURE_STREAM);
    for _ in 0..limit {
        port.open_capture_as(Client::WinMm).expect("capture");
    }
    let e = port
        .open_capture_as(Client::DirectMusic)
        .expect_err("the capture pin is full");
    assert_eq!((e.step, e.status), ("KS pin create", STATUS_UNSUCCESSFUL));
    port.close().expect("close");
    emu.unload().expect("clean unload");
}

#[test]
fn a_miniport_refusing_a_stream_its_descriptor_allows_is_reported() {
    let emu = Emu::new(EmuConfig::verifier());
    let mp = new_miniport(emu.clone(), MiniportConfig::DEFAULT).expect("miniport");
    // What the miniport itself declares (and accepts).
    // SAFETY: the miniport's descriptor is static data whose tables match its counts.
    let info = unsafe { validate(mxf_miniport::filter_descriptor()) }.expect("descriptor");
    let accepted = info.instance_limit(PIN_CAPTURE_STREAM);
    let tracker = Tracker::new();
    let wide = with_instance_limit(mp, accepted + 1, &tracker);
    let mut port = Port::new(emu.clone(), wide).expect("port");
    assert_eq!(
        port.filter_info().instance_limit(PIN_CAPTURE_STREAM),
        accepted + 1
    );
    for _ in 0..accepted {
        port.open_capture_instance(Client::WinMm).expect("accepted");
    }
    let e = port
        .open_capture_instance(Client::WinMm)
        .expect_err("the miniport refuses");
    assert_eq!(
        (e.step, e.status),
        ("IMiniportDMus::NewStream", STATUS_INVALID_DEVICE_REQUEST)
    );
    assert_eq!(port.pin_instances(PIN_CAPTURE_STREAM), accepted);
    let rep = port.close().expect("close");
    assert_eq!(rep.allocator_refs_left, 0);
    assert!(rep.live_objects.is_empty(), "{:?}", rep.live_objects);
    assert_eq!(tracker.live_total(), 0, "the wrapper is released");
    emu.unload().expect("clean unload");
}

/// Two capture instances on the test double (which lets them share one cable, each
/// service taking what is there): each has its own allocator and log, and between them they
/// capture every message exactly once.
#[test]
fn each_capture_instance_has_its_own_allocator_sink_and_log() {
    let emu = Emu::new(EmuConfig::verifier());
    let tracker = Tracker::new();
    let double = new_double_miniport(emu.clone());
    let mut port = Port::new(
        emu.clone(),
        with_instance_limit(double.miniport, 2, &tracker),
    )
    .expect("port");
    let a = port.open_capture_instance(Client::WinMm).expect("a");
    let b = port.open_capture_instance(Client::WinMm).expect("b");
    assert_ne!(a, b);
    port.open_render().expect("render");
    let before = port.allocator_stats().expect("port allocator").gets;
    let t0 = emu.now_100ns() + 2 * MS;
    let sent = notes(t0, 40, 0);
    port.queue_render(sent.clone());
    for _ in 0..60 {
        emu.advance_time(MS);
    }
    let (ma, mb) = (messages(&port, a), messages(&port, b));
    assert_eq!(ma.len() + mb.len(), sent.len());
    let mut all: Vec<Vec<u8>> = ma.iter().chain(&mb).cloned().collect();
    all.sort();
    let mut want: Vec<Vec<u8>> = sent.iter().map(|u| u.bytes.clone()).collect();
    want.sort();
    assert_eq!(all, want);
    let (sa, sb) = (
        port.capture_allocator_stats(a).expect("own allocator"),
        port.capture_allocator_stats(b).expect("own allocator"),
    );
    // Every captured event came from the instance's own allocator.
    assert_eq!(
        sa.gets,
        port.with_capture_of(a, |c| c.stats.events).unwrap()
    );
    assert_eq!(
        sb.gets,
        port.with_capture_of(b, |c| c.stats.events).unwrap()
    );
    assert_eq!(sa.gets + sb.gets, sent.len() as u64);
    // The port's allocator served the render side only.
    let render_events = port.render_stats().events + port.render_stats().packages;
    assert_eq!(port.allocator_stats().unwrap().gets - before, render_events);
    assert!(port.stall_capture(a, true), "an own sink can stall");
    assert!(port.capture_log_of(a).is_some());
    let rep = port.close().expect("close");
    assert_eq!(rep.capture_allocators.len(), 2);
    for (_, s) in &rep.capture_allocators {
        assert_eq!((s.outstanding_events, s.outstanding_buffers), (0, 0));
    }
    assert_eq!(rep.allocator_refs_left, 0);
    assert!(rep.live_objects.is_empty(), "{:?}", rep.live_objects);
    emu.unload().expect("clean unload");
}

/// Two render instances of one client's pin, each with its own queue and counters.
#[test]
fn render_instances_keep_their_own_queues_and_counters() {
    let emu = Emu::new(EmuConfig::verifier());
    let tracker = Tracker::new();
    let double = new_double_miniport(emu.clone());
    let mut port = Port::new(
        emu.clone(),
        with_instance_limit(double.miniport, 2, &tracker),
    )
    .expect("port");
    port.open_capture().expect("capture");
    let r1 = port.open_render_instance(Client::WinMm).expect("r1");
    let r2 = port.open_render_instance(Client::WinMm).expect("r2");
    assert_eq!(
        port.render_instances(),
        [(r1, Client::WinMm), (r2, Client::WinMm)]
    );
    assert_eq!(
        port.render_stream_on(r1).map(|s| s.as_raw()),
        port.render_stream().map(|s| s.as_raw())
    );
    let t0 = emu.now_100ns() + 2 * MS;
    let mut sysex = vec![0xF0, 0x7D];
    sysex.extend((0..2000u32).map(|i| (i % 100) as u8));
    sysex.push(0xF7);
    let one = notes(t0, 10, 1);
    let mut two = notes(t0 + MS / 2, 10, 2);
    two[4].bytes = sysex.clone();
    let first_seq = port.queue_render_on(r1, one.clone());
    let second_seq = port.queue_render_on(r2, two.clone());
    assert_eq!((first_seq, second_seq), (0, 10));
    // The single-stream API queues on the client's first instance.
    port.queue_render([RenderUnit {
        time: t0 + 20 * MS,
        bytes: vec![0xC1, 5],
    }]);
    for _ in 0..40 {
        emu.advance_time(MS);
    }
    let s1 = port.render_stats_of(r1).expect("r1 stats");
    let s2 = port.render_stats_of(r2).expect("r2 stats");
    assert_eq!((s1.units_queued, s1.units_sent), (11, 11));
    assert_eq!((s2.units_queued, s2.units_sent), (10, 10));
    assert!(
        s2.buffer_events > 0 && s1.buffer_events == 0,
        "the SysEx went by r2"
    );
    let all = port.render_stats();
    assert_eq!(all.units_sent, s1.units_sent + s2.units_sent);
    assert_eq!(all.events, s1.events + s2.events);
    let got: Vec<Vec<u8>> = port.with_capture(|c| {
        c.assembler
            .messages()
            .iter()
            .map(|m| m.bytes.clone())
            .collect()
    });
    assert_eq!(got.len(), 21);
    assert!(got.contains(&sysex), "the SysEx arrives whole");
    // Closing one instance discards its queue, counted, and leaves the other running.
    port.queue_render_on(r2, notes(emu.now_100ns() + 100 * MS, 3, 2));
    port.close_render_instance(r2).expect("close r2");
    assert_eq!(
        port.render_stats_of(r2).unwrap().units_discarded_at_close,
        3
    );
    assert_eq!(port.render_backlog(), 0);
    assert!(port.render_stream_on(r2).is_none());
    port.queue_render_on(r1, notes(emu.now_100ns() + MS, 2, 1));
    for _ in 0..5 {
        emu.advance_time(MS);
    }
    assert_eq!(port.render_stats_of(r1).unwrap().units_sent, 13);
    let rep = port.close().expect("close");
    assert_eq!(rep.render_discarded, 3);
    assert!(rep.live_objects.is_empty(), "{:?}", rep.live_objects);
    emu.unload().expect("clean unload");
}

/// A stalled reader on the real miniport: its sink holds what it gets, its allocator runs
/// dry, the capture stream drops what it cannot package (counted), the render side never
/// blocks; when the stall ends the held messages arrive, and captured + dropped = sent.
#[test]
fn a_stalled_reader_holds_its_events_and_its_stream_counts_what_it_drops() {
    let emu = Emu::new(EmuConfig::verifier());
    let cfg = PortConfig {
        capture_allocator: AllocatorConfig {
            reserve_events: 4,
            reserve_buffers: 1,
            max_events: 24,
            max_buffers: 4,
            ..AllocatorConfig::DEFAULT
        },
        ..PortConfig::default()
    };
    let mut port = real_port(&emu, cfg);
    let c = port.open_capture_instance(Client::WinMm).expect("capture");
    port.open_render().expect("render");
    assert!(port.stall_capture(c, true));
    let t0 = emu.now_100ns() + 2 * MS;
    let sent = notes(t0, 100, 3);
    port.queue_render(sent.clone());
    for _ in 0..120 {
        emu.advance_time(MS);
    }
    assert_eq!(
        port.render_stats().units_sent,
        100,
        "the render side never waits"
    );
    assert!(port.capture_held_chains(c) > 0);
    assert!(
        messages(&port, c).is_empty(),
        "a stalled reader reads nothing"
    );
    let held_events = port.capture_allocator_stats(c).unwrap().outstanding_events;
    assert_eq!(held_events, 24, "the stall holds the whole allocator");
    assert!(port.stall_capture(c, false));
    assert_eq!(port.capture_held_chains(c), 0);
    let got = messages(&port, c);
    let stats = port
        .capture_stream_on(c)
        .and_then(mxf_miniport::capture_stats::<Emu>)
        .expect("capture stats");
    let dropped = stats.packager.messages_dropped_no_memory;
    assert_eq!(got.len() as u64, u64::from(held_events));
    assert_eq!(got.len() as u64 + dropped, sent.len() as u64);
    let want: Vec<Vec<u8>> = sent[..got.len()].iter().map(|u| u.bytes.clone()).collect();
    assert_eq!(got, want, "what was held arrives in order");
    let rep = port.close().expect("close");
    assert_eq!(rep.allocator_refs_left, 0);
    emu.unload().expect("clean unload");
}

/// Units queued before the client's render pin is open go to its first instance, and count
/// as queued there.
#[test]
fn units_queued_before_the_render_pin_opens_go_to_the_first_instance() {
    let emu = Emu::new(EmuConfig::verifier());
    let mut port = real_port(&emu, PortConfig::default());
    port.open_capture().expect("capture");
    let t0 = emu.now_100ns() + 2 * MS;
    port.queue_render(notes(t0, 5, 0));
    assert_eq!(port.render_backlog(), 5);
    let h = port.open_render_instance(Client::WinMm).expect("render");
    for _ in 0..10 {
        emu.advance_time(MS);
    }
    let s = port.render_stats_of(h).expect("stats");
    assert_eq!((s.units_queued, s.units_sent), (5, 5));
    assert_eq!(port.with_capture(|c| c.assembler.messages().len()), 5);
    port.close().expect("close");
    emu.unload().expect("clean unload");
}

/// Every DirectMusic instance gets dmusic.dll's Synth handshake on its own pin handle.
#[test]
fn each_directmusic_instance_gets_its_own_synth_handshake() {
    let emu = Emu::new(EmuConfig::verifier());
    let mut port = real_port(&emu, PortConfig::default());
    let dmus = port
        .filter_info()
        .pin_for(Client::DirectMusic, false)
        .expect("DirectMusic render pin");
    assert!(port.filter_info().instance_limit(dmus) >= 2);
    assert!(port.filter_info().instance_limit(PIN_CAPTURE_STREAM) >= 2);
    let r1 = port.open_render_instance(Client::DirectMusic).expect("r1");
    let r2 = port.open_render_instance(Client::DirectMusic).expect("r2");
    port.open_capture_instance(Client::DirectMusic).expect("c1");
    port.open_capture_instance(Client::DirectMusic).expect("c2");
    let h = port.synth_handshakes();
    assert_eq!(h.len(), 4);
    assert!(h.iter().all(|x| x.channel_groups == 1));
    assert_ne!(
        port.render_stream_on(r1).map(|s| s.as_raw()),
        port.render_stream_on(r2).map(|s| s.as_raw())
    );
    assert_eq!(port.pin_instances(dmus), 2);
    let rep = port.close().expect("close");
    assert!(rep.live_objects.is_empty(), "{:?}", rep.live_objects);
    emu.unload().expect("clean unload");
}
