//! The port emulator driving mxfloop's own miniport (`mxf_miniport::new_miniport`): the
//! PortCls call sequence at the right IRQLs, Notify → DPC → service → capture
//! `PutMessage(NULL)`, every reference back, and a clean unload.

use mxf_core::platform::{DISPATCH_LEVEL, PASSIVE_LEVEL};
use mxf_kemu::{Emu, EmuConfig};
use mxf_miniport::{MiniportConfig, new_miniport};
use mxf_portemu::{Port, RenderUnit, normalize};

const MS: i64 = 10_000;

fn loop_back(cfg: EmuConfig) {
    let emu = Emu::new(cfg);
    let mp = new_miniport(emu.clone(), MiniportConfig::DEFAULT).expect("miniport");
    let mut port = Port::new(emu.clone(), mp).expect("port");
    port.open_capture().expect("capture");
    port.open_render().expect("render");
    assert_eq!(
        port.stats().render_prefetch_100ns,
        MiniportConfig::DEFAULT.prefetch_100ns
    );
    let t0 = emu.now_100ns() + 5 * MS;
    let mut big = vec![0xF0];
    big.extend((0..20_000u32).map(|i| (i % 127) as u8));
    big.push(0xF7);
    let input = vec![
        RenderUnit {
            time: t0,
            bytes: vec![0x91, 0x40, 0x7F],
        },
        RenderUnit {
            time: t0 + MS,
            bytes: big,
        },
        RenderUnit {
            time: t0 + 2 * MS,
            bytes: vec![0xF0, 0x43, 0xF8, 0x10, 0xF7],
        },
        RenderUnit {
            time: t0 + 3 * MS,
            bytes: vec![0xB1, 0x40, 0x00],
        },
    ];
    port.queue_render(input.clone());
    // Nothing is played before its time.
    emu.advance_time(4 * MS);
    assert_eq!(port.with_capture(|c| c.assembler.messages().len()), 0);
    for _ in 0..20 {
        emu.advance_time(MS);
    }
    let want: Vec<Vec<u8>> = normalize(input.iter().map(|u| (u.time, &u.bytes[..])))
        .into_iter()
        .map(|m| m.bytes)
        .collect();
    let got = port.with_capture(|c| c.assembler.messages().to_vec());
    assert_eq!(
        got.iter().map(|m| m.bytes.clone()).collect::<Vec<_>>(),
        want
    );
    // Captured no earlier than presented.
    let sent = normalize(input.iter().map(|u| (u.time, &u.bytes[..])));
    for (g, s) in got.iter().zip(&sent) {
        assert!(g.time >= s.time, "{g:?} before {s:?}");
    }
    let t = port.tracker().clone();
    for name in [
        "IMiniportDMus::Init",
        "IMiniportDMus::NewStream",
        "IMXF::SetState",
    ] {
        assert_eq!(t.calls_of(name).irqls, [PASSIVE_LEVEL].into(), "{name}");
    }
    for name in [
        "render IMXF::PutMessage",
        "IPortDMus::Notify",
        "IServiceSink::RequestService (port)",
        "capture IMXF::PutMessage(NULL)",
        "sink IMXF::PutMessage",
    ] {
        let r = t.calls_of(name);
        assert!(r.count > 0, "{name}");
        assert_eq!(r.irqls, [DISPATCH_LEVEL].into(), "{name}");
    }
    let rep = port.close().expect("close");
    assert_eq!(rep.allocator_refs_left, 0);
    assert!(rep.live_objects.is_empty(), "{:?}", rep.live_objects);
    emu.unload().expect("clean unload");
}

#[test]
fn real_miniport_loops_back_and_unloads_clean() {
    loop_back(EmuConfig::default());
}

#[test]
fn real_miniport_under_verifier() {
    loop_back(EmuConfig::verifier());
}

#[test]
fn closing_without_playing_releases_everything() {
    let emu = Emu::new(EmuConfig::verifier());
    let mp = new_miniport(emu.clone(), MiniportConfig::DEFAULT).expect("miniport");
    let mut port = Port::new(emu.clone(), mp).expect("port");
    port.open_render().expect("render");
    port.queue_render([RenderUnit {
        time: emu.now_100ns() + 1_000 * MS,
        bytes: vec![0xF8],
    }]);
    let rep = port.close().expect("close");
    assert_eq!(rep.render_discarded, 1);
    assert!(rep.live_objects.is_empty());
    emu.unload().expect("clean unload");
}

/// Leaving RUN drains what the loopback holds into the sink from `SetState`, a
/// `PASSIVE_LEVEL` call: the stream must raise to `DISPATCH_LEVEL` for the sink (whose
/// emulation bug-checks below it). The port's notify DPC is held off so that the drain at
/// the stop is the only delivery.
#[test]
fn stopping_capture_delivers_at_dispatch_level() {
    let emu = Emu::new(EmuConfig::verifier());
    let mp = new_miniport(emu.clone(), MiniportConfig::DEFAULT).expect("miniport");
    let cfg = mxf_portemu::PortConfig {
        dpc_latency_100ns: 3_600 * 10_000_000,
        ..mxf_portemu::PortConfig::default()
    };
    let mut port = Port::with_config(emu.clone(), mp, cfg).expect("port");
    port.open_capture().expect("capture");
    port.open_render().expect("render");
    let unit = RenderUnit {
        time: emu.now_100ns() + MS,
        bytes: vec![0x92, 0x30, 0x40, 0xF0, 0x01, 0x02],
    };
    port.queue_render([unit]);
    for _ in 0..10 {
        emu.advance_time(MS);
    }
    assert_eq!(port.stats().dpc_runs, 0, "the notify DPC is held off");
    let log = port.capture_log();
    let rep = port.close().expect("close");
    assert!(rep.live_objects.is_empty(), "{:?}", rep.live_objects);
    let l = log.lock().unwrap();
    let got: Vec<(Vec<u8>, bool)> = l
        .assembler
        .messages()
        .iter()
        .map(|m| (m.bytes.clone(), m.truncated))
        .collect();
    assert_eq!(
        got,
        [
            (vec![0x92, 0x30, 0x40], false),
            (vec![0xF0, 0x01, 0x02], true)
        ]
    );
    assert_eq!(l.stats.malformed_events, 0);
    drop(l);
    emu.unload().expect("clean unload");
}
