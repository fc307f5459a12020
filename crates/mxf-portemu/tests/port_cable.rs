//! Several applications on one cable, through the port emulator and the real miniport:
//! every capture instance receives every message (fan-out), a stalled reader drops for
//! itself only (counted exactly), and render instances sending long SysEx and notes at the
//! same times are merged message by message.

use mxf_core::alloc::AllocatorConfig;
use mxf_kemu::{Emu, EmuConfig};
use mxf_miniport::{MiniportConfig, PIN_CAPTURE_STREAM, PIN_RENDER_STREAM, new_miniport};
use mxf_portemu::{CaptureHandle, Client, Port, PortConfig, RenderUnit, normalize};

const MS: i64 = 10_000;

fn port(emu: &Emu, cfg: PortConfig) -> Port {
    let mp = new_miniport(emu.clone(), MiniportConfig::DEFAULT).expect("miniport");
    Port::with_config(emu.clone(), mp, cfg).expect("port")
}

fn captured(port: &Port, h: CaptureHandle) -> Vec<Vec<u8>> {
    port.with_capture_of(h, |c| {
        c.assembler
            .messages()
            .iter()
            .map(|m| m.bytes.clone())
            .collect()
    })
    .expect("instance")
}

/// Where two message lists first differ (a short description, not the lists).
fn first_difference(got: &[Vec<u8>], want: &[Vec<u8>]) -> Option<String> {
    let at = got.iter().zip(want).position(|(g, w)| g != w);
    match at {
        None if got.len() == want.len() => None,
        None => Some(format!("{} messages, {} expected", got.len(), want.len())),
        Some(i) => Some(format!(
            "message {i} of {} ({} expected): {:02x?}... where {:02x?}... was expected",
            got.len(),
            want.len(),
            &got[i][..got[i].len().min(4)],
            &want[i][..want[i].len().min(4)]
        )),
    }
}

fn sysex(tag: u8, len: usize) -> Vec<u8> {
    let mut v = vec![0xF0, 0x7D, tag];
    v.extend((0..len).map(|i| (i % 97) as u8));
    v.push(0xF7);
    v
}

/// Messages the capture stream of `h` dropped, every cause it counts.
fn reader_dropped(port: &Port, h: CaptureHandle) -> u64 {
    let s = port.capture_stream_on(h).expect("open");
    let c = mxf_miniport::capture_stats::<Emu>(s).expect("capture stats");
    let r = mxf_miniport::reader_stats::<Emu>(s).expect("reader stats");
    c.packager.messages_dropped_no_memory
        + c.packager.sysex_dropped_no_memory
        + r.messages_dropped
        + r.sysex_truncated
}

#[test]
fn three_readers_one_stalled_the_others_get_everything_and_its_drops_are_counted() {
    let emu = Emu::new(EmuConfig::verifier());
    let cfg = PortConfig {
        capture_allocator: AllocatorConfig {
            reserve_events: 4,
            reserve_buffers: 1,
            max_events: 32,
            max_buffers: 4,
            ..AllocatorConfig::DEFAULT
        },
        ..PortConfig::default()
    };
    let mut port = port(&emu, cfg);
    assert!(port.filter_info().instance_limit(PIN_CAPTURE_STREAM) >= 3);
    let readers: Vec<CaptureHandle> = (0..3)
        .map(|_| port.open_capture_instance(Client::WinMm).expect("reader"))
        .collect();
    port.open_render().expect("render");
    let stalled = readers[1];
    assert!(port.stall_capture(stalled, true));
    let t0 = emu.now_100ns() + 2 * MS;
    let units: Vec<RenderUnit> = (0..200)
        .map(|i| RenderUnit {
            time: t0 + i * MS / 4,
            bytes: if i % 50 == 7 {
                sysex((i % 128) as u8, 3000)
            } else {
                vec![0x90, (i % 128) as u8, 0x40]
            },
        })
        .collect();
    port.queue_render(units.clone());
    for _ in 0..200 {
        emu.advance_time(MS);
    }
    let want: Vec<Vec<u8>> = normalize(units.iter().map(|u| (u.time, &u.bytes[..])))
        .into_iter()
        .map(|m| m.bytes)
        .collect();
    let stats = port.render_stats();
    assert_eq!(
        stats.units_sent, 200,
        "the stalled reader never blocks the render side"
    );
    for &r in [readers[0], readers[2]].iter() {
        let got = captured(&port, r);
        let diff = first_difference(&got, &want);
        assert!(
            diff.is_none(),
            "a reader that reads gets everything: {diff:?}"
        );
        assert_eq!(reader_dropped(&port, r), 0);
    }
    assert!(port.capture_held_chains(stalled) > 0);
    assert!(port.stall_capture(stalled, false));
    let got = captured(&port, stalled);
    let dropped = reader_dropped(&port, stalled);
    assert!(dropped > 0, "the stalled reader dropped");
    let whole = port
        .with_capture_of(stalled, |c| {
            c.assembler
                .messages()
                .iter()
                .filter(|m| !m.truncated)
                .count()
        })
        .unwrap() as u64;
    assert_eq!(
        whole + dropped,
        want.len() as u64,
        "its drops are counted exactly"
    );
    // What it did get is the workload's messages, in order.
    let mut it = want.iter();
    for m in got.iter() {
        assert!(it.any(|w| w == m), "a message out of order or never sent");
    }
    let rep = port.close().expect("close");
    assert_eq!(rep.allocator_refs_left, 0);
    assert!(rep.live_objects.is_empty(), "{:?}", rep.live_objects);
    emu.unload().expect("clean unload");
}

#[test]
fn two_render_instances_sending_long_sysex_and_notes_at_once_merge_message_by_message() {
    let emu = Emu::new(EmuConfig::verifier());
    // A loopback smaller than one SysEx: a SysEx in progress fills it and waits for the
    // reader with the cable held, while the other stream's messages are due.
    let mut cfg = MiniportConfig::DEFAULT;
    cfg.loopback.capacity = mxf_core::loopback::MAX_WRITE as u32;
    let mp = new_miniport(emu.clone(), cfg).expect("miniport");
    let mut port = Port::new(emu.clone(), mp).expect("port");
    assert!(port.filter_info().instance_limit(PIN_RENDER_STREAM) >= 2);
    let reader = port.open_capture_instance(Client::WinMm).expect("reader");
    let a = port.open_render_instance(Client::WinMm).expect("a");
    let b = port.open_render_instance(Client::WinMm).expect("b");
    let t0 = emu.now_100ns() + 2 * MS;
    // Both send at the same times: a long SysEx (many events, more than the loopback holds)
    // on one and a note on the other, then the other way round.
    let mk = |tag: u8, long_first: bool| -> Vec<RenderUnit> {
        (0..20)
            .map(|i| RenderUnit {
                time: t0 + i * MS,
                bytes: if (i % 2 == 0) == long_first {
                    sysex(tag * 32 + i as u8, 100_000)
                } else {
                    vec![0x90 | tag, i as u8, 0x40]
                },
            })
            .collect()
    };
    let ua = mk(1, true);
    let ub = mk(2, false);
    port.queue_render_on(a, ua.clone());
    port.queue_render_on(b, ub.clone());
    for _ in 0..400 {
        emu.advance_time(MS);
    }
    let got = captured(&port, reader);
    let mut want: Vec<Vec<u8>> = ua.iter().chain(&ub).map(|u| u.bytes.clone()).collect();
    assert_eq!(got.len(), want.len(), "every message arrives");
    let mut sorted = got.clone();
    sorted.sort();
    want.sort();
    assert_eq!(
        sorted, want,
        "each one whole: no SysEx interleaved with another stream"
    );
    // Each stream's own messages keep their order.
    for u in [&ua, &ub] {
        let mine: Vec<&Vec<u8>> = got
            .iter()
            .filter(|m| u.iter().any(|x| &x.bytes == *m))
            .collect();
        let sent: Vec<&Vec<u8>> = u.iter().map(|x| &x.bytes).collect();
        assert!(mine == sent, "a stream's own messages keep their order");
    }
    for h in [a, b] {
        let s = port.render_stats_of(h).unwrap();
        assert_eq!((s.units_queued, s.units_sent), (20, 20));
    }
    // The merge was exercised: SysEx in pieces held the cable while the other stream waited.
    let cs = port
        .miniport()
        .and_then(mxf_miniport::cable_stats::<Emu>)
        .expect("cable stats");
    assert_eq!(cs.sysex_held, 20);
    assert!(cs.merge_waits > 0, "{cs:?}");
    port.close().expect("close");
    emu.unload().expect("clean unload");
}
