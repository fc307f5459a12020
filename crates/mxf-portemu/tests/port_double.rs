//! The port emulator against the test-double miniport: the whole PortCls sequence, the IRQL
//! of every call, references back to zero and a clean unload.

use mxf_core::platform::{DISPATCH_LEVEL, PASSIVE_LEVEL, PoolTag};
use mxf_kemu::{Emu, EmuConfig};
use mxf_portemu::double::new_double_miniport;
use mxf_portemu::{Packaging, Port, PortConfig, RenderUnit, normalize};
use std::collections::BTreeSet;

const MS: i64 = 10_000;

fn irqls(v: &[u8]) -> BTreeSet<u8> {
    v.iter().copied().collect()
}

fn units(t0: i64) -> Vec<RenderUnit> {
    let mut sysex = vec![0xF0];
    sysex.extend((0..5000u32).map(|i| (i % 128) as u8));
    sysex.push(0xF7);
    vec![
        RenderUnit {
            time: t0,
            bytes: vec![0x90, 0x3C, 0x40],
        },
        RenderUnit {
            time: t0,
            bytes: vec![0x3E, 0x41],
        },
        RenderUnit {
            time: t0 + MS,
            bytes: vec![0xF8],
        },
        RenderUnit {
            time: t0 + 2 * MS,
            bytes: sysex,
        },
        RenderUnit {
            time: t0 + 3 * MS,
            bytes: vec![0xF0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0xF7],
        },
        RenderUnit {
            time: t0 + 4 * MS,
            bytes: vec![0xE0, 0x00, 0x40],
        },
    ]
}

fn run(cfg: EmuConfig, packaging: Packaging) {
    let emu = Emu::new(cfg);
    let double = new_double_miniport(emu.clone());
    let mut port = Port::with_config(
        emu.clone(),
        double.miniport,
        PortConfig {
            packaging,
            ..PortConfig::default()
        },
    )
    .expect("port");
    assert_eq!(
        port.filter_info().render_pin,
        Some(mxf_miniport::PIN_RENDER_STREAM)
    );
    assert_eq!(
        port.filter_info().capture_pin,
        Some(mxf_miniport::PIN_CAPTURE_STREAM)
    );
    port.open_capture().expect("capture");
    port.open_render().expect("render");
    let t0 = emu.now_100ns() + MS;
    let input = units(t0);
    port.queue_render(input.clone());
    for _ in 0..20 {
        emu.advance_time(MS);
    }
    assert_eq!(port.render_backlog(), 0);
    let expected = normalize(input.iter().map(|u| (u.time, &u.bytes[..])));
    let got = port.with_capture(|c| c.assembler.messages().to_vec());
    let eb: Vec<_> = expected.iter().map(|m| m.bytes.clone()).collect();
    let gb: Vec<_> = got.iter().map(|m| m.bytes.clone()).collect();
    assert_eq!(gb, eb);
    // The double delivers at once: capture time == presentation time + the port's DPC
    // latency (Notify -> DPC).
    for (g, e) in got.iter().zip(&expected) {
        assert_eq!(g.time, e.time + mxf_portemu::DEFAULT_DPC_LATENCY_100NS);
    }
    let st = port.render_stats();
    assert_eq!(st.units_sent, 6);
    match packaging {
        Packaging::Flat => assert_eq!(st.packages, 0),
        Packaging::Packages => assert_eq!(st.packages, 6),
        Packaging::Mixed => assert_eq!(st.packages, 3),
    }
    // Port allocator memory carries the port's tags while it lives.
    assert!(emu.pool_report().tag(PoolTag::new(b"PrtE")).count > 0);
    let t = port.tracker().clone();
    let dt = double.tracker.clone();
    // IRQLs: PortCls's setup calls at PASSIVE, the data path at DISPATCH.
    for name in [
        "IMiniportDMus::Init",
        "IMiniport::GetDescription",
        "IMiniport::DataRangeIntersection",
        "IMiniportDMus::NewStream",
        "IMXF::SetState",
        "IMXF::ConnectOutput",
        "IServiceGroup::AddMember",
    ] {
        assert_eq!(t.calls_of(name).irqls, irqls(&[PASSIVE_LEVEL]), "{name}");
    }
    for name in [
        "render IMXF::PutMessage",
        "IPortDMus::Notify",
        "IServiceGroup::RequestService (port DPC)",
        "IServiceSink::RequestService (port)",
        "capture IMXF::PutMessage(NULL)",
        "sink IMXF::PutMessage",
        "IMasterClock::GetTime",
    ] {
        let r = t.calls_of(name);
        assert!(r.count > 0, "{name} never called");
        assert_eq!(r.irqls, irqls(&[DISPATCH_LEVEL]), "{name}");
    }
    assert_eq!(
        dt.calls_of("double render PutMessage").irqls,
        irqls(&[DISPATCH_LEVEL])
    );
    let ps = port.stats();
    assert!(ps.notifies >= 5 && ps.dpc_runs >= 1 && ps.services >= 1);
    let report = port.close().expect("close");
    assert_eq!(report.allocator_refs_left, 0);
    let a = report.allocator.expect("our allocator");
    assert_eq!(a.outstanding_events, 0);
    assert_eq!(a.outstanding_buffers, 0);
    assert!(a.buffer_gets > 0, "the SysEx used buffers");
    assert_eq!(report.live_objects, vec![]);
    assert_eq!(t.live_total(), 0);
    assert_eq!(dt.live_total(), 0);
    // Dropping the port's last allocator reference happened in close.
    let unload = emu.unload().expect("clean unload");
    assert_eq!(unload.pool.live_count, 0);
}

#[test]
fn flat_chains_loop_back_in_order() {
    run(EmuConfig::default(), Packaging::Flat);
}

#[test]
fn packaged_chains_loop_back_in_order() {
    run(EmuConfig::default(), Packaging::Packages);
}

#[test]
fn mixed_chains_under_verifier() {
    run(EmuConfig::verifier(), Packaging::Mixed);
}

/// `stop_render` stops the render pin before close: the units not yet due are discarded and
/// counted at once (readable before close), a second call does nothing, and close tears the
/// rest down as usual, reporting the same discarded units.
#[test]
fn stopping_the_render_pin_before_close_counts_what_it_discards() {
    let emu = Emu::new(EmuConfig::default());
    let double = new_double_miniport(emu.clone());
    let mut port = Port::new(emu.clone(), double.miniport).expect("port");
    port.open_capture().expect("capture");
    port.open_render().expect("render");
    let t0 = emu.now_100ns() + MS;
    port.queue_render(units(t0));
    // Play the first two units (due at t0), not the rest.
    emu.advance_time(MS + MS / 2);
    assert_eq!(port.render_backlog(), 4);
    port.stop_render().expect("stop");
    assert_eq!(port.render_backlog(), 0);
    let stats = port.render_stats();
    assert_eq!((stats.units_sent, stats.units_discarded_at_close), (2, 4));
    port.stop_render().expect("a second stop does nothing");
    assert_eq!(port.render_stats().units_discarded_at_close, 4);
    // Nothing is due any more: time runs on with no sequencer DPC.
    emu.advance_time(10 * MS);
    assert_eq!(port.render_stats().units_sent, 2);
    let report = port.close().expect("close");
    assert_eq!(report.render_discarded, 4);
    assert!(report.live_objects.is_empty(), "{:?}", report.live_objects);
    emu.unload().expect("clean unload");
}
