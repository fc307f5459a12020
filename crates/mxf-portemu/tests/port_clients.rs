//! The port emulator opening mxfloop's pins the way PortCls and its clients do: WinMM and
//! DirectMusic clients found by the pins' data ranges, intersection over every range, the
//! Synth properties DirectMusic asks (checked, bad requests included), and both kinds of
//! client playing through the loopback at once.

use mxf_abi::*;
use mxf_kemu::{Emu, EmuConfig};
use mxf_miniport::{
    MiniportConfig, NODE_INPUT, NODE_SYNTH, PIN_CAPTURE_STREAM, PIN_RENDER_DMUS, PIN_RENDER_STREAM,
    new_miniport,
};
use mxf_portemu::{Client, NodeRequest, Port, RenderUnit, normalize};

const MS: i64 = 10_000;

fn port(emu: &Emu) -> Port {
    let mp = new_miniport(emu.clone(), MiniportConfig::DEFAULT).expect("miniport");
    Port::new(emu.clone(), mp).expect("port")
}

#[test]
fn the_port_finds_each_clients_pins_and_synth_nodes() {
    let emu = Emu::new(EmuConfig::verifier());
    let port = port(&emu);
    let f = port.filter_info();
    assert_eq!(f.pin_for(Client::WinMm, false), Some(PIN_RENDER_STREAM));
    assert_eq!(f.pin_for(Client::DirectMusic, false), Some(PIN_RENDER_DMUS));
    assert_eq!(f.pin_for(Client::WinMm, true), Some(PIN_CAPTURE_STREAM));
    assert_eq!(
        f.pin_for(Client::DirectMusic, true),
        Some(PIN_CAPTURE_STREAM)
    );
    assert_eq!(f.node_tables.len(), 2);
    assert!(f.node_tables.iter().all(|t| !t.is_null()));
    assert_eq!(f.node_of_pin(PIN_RENDER_DMUS), Some(NODE_SYNTH));
    assert_eq!(f.node_of_pin(PIN_CAPTURE_STREAM), Some(NODE_INPUT));
    assert_eq!(
        f.node_of_pin(PIN_RENDER_STREAM),
        None,
        "WinMM bypasses the synth"
    );
    assert_eq!(
        f.max_instances[PIN_RENDER_STREAM as usize],
        mxf_miniport::filter::MAX_RENDER_INSTANCES
    );
    drop(port);
    emu.unload().expect("clean unload");
}

/// A DirectMusic capture client and both render clients at once; every message of both
/// render clients comes back through the loopback, in time order.
#[test]
fn winmm_and_directmusic_clients_play_through_the_loopback_at_once() {
    let emu = Emu::new(EmuConfig::verifier());
    let mut port = port(&emu);
    port.open_capture_as(Client::DirectMusic)
        .expect("DirectMusic capture");
    port.open_render_as(Client::WinMm).expect("WinMM render");
    port.open_render_as(Client::DirectMusic)
        .expect("DirectMusic render");
    let h = port.synth_handshakes().to_vec();
    assert_eq!(h.len(), 2, "both DirectMusic pins were asked");
    assert_eq!(
        (h[0].node, h[1].node),
        (NODE_INPUT, NODE_SYNTH),
        "capture first, then render"
    );
    for x in &h {
        assert_eq!(x.channel_groups, 1);
        assert_eq!(
            x.port_params_status, STATUS_NOT_ALL_ASSIGNED,
            "2 asked, 1 granted"
        );
        assert_eq!(x.caps.len(), size_of::<SynthCaps>());
        assert_eq!(
            u32::from_le_bytes(x.caps[16..20].try_into().unwrap()),
            SYNTH_PC_EXTERNAL
        );
    }
    let t0 = emu.now_100ns() + 5 * MS;
    let winmm: Vec<RenderUnit> = (0..20)
        .map(|i| RenderUnit {
            time: t0 + i * MS,
            bytes: vec![0x90, i as u8, 0x40],
        })
        .collect();
    let mut sysex = vec![0xF0, 0x7D];
    sysex.extend((0..3000u32).map(|i| (i % 100) as u8));
    sysex.push(0xF7);
    let dmus: Vec<RenderUnit> = (0..20)
        .map(|i| RenderUnit {
            // Between the WinMM client's messages.
            time: t0 + i * MS + MS / 2,
            bytes: if i == 7 {
                sysex.clone()
            } else {
                vec![0xB3, i as u8, 0x10]
            },
        })
        .collect();
    port.queue_render_to(Client::WinMm, winmm.clone());
    port.queue_render_to(Client::DirectMusic, dmus.clone());
    for _ in 0..40 {
        emu.advance_time(MS);
    }
    let mut all: Vec<(i64, Vec<u8>)> = winmm
        .iter()
        .chain(&dmus)
        .map(|u| (u.time, u.bytes.clone()))
        .collect();
    all.sort();
    let want: Vec<Vec<u8>> = normalize(all.iter().map(|(t, b)| (*t, &b[..])))
        .into_iter()
        .map(|m| m.bytes)
        .collect();
    let got: Vec<Vec<u8>> = port.with_capture(|c| {
        c.assembler
            .messages()
            .iter()
            .map(|m| m.bytes.clone())
            .collect()
    });
    assert_eq!(got.len(), 40);
    assert_eq!(got, want, "both clients' messages, merged in time order");
    let stats = port.render_stats();
    assert_eq!((stats.units_queued, stats.units_sent), (40, 40));
    let rep = port.close().expect("close");
    assert_eq!(rep.allocator_refs_left, 0);
    assert!(rep.live_objects.is_empty(), "{:?}", rep.live_objects);
    emu.unload().expect("clean unload");
}

/// The WinMM and the DirectMusic client share the capture pin: together they get no more
/// instances than its descriptor allows, and the one too many is refused by the port (as KS
/// refuses a pin create beyond the count), before `NewStream`.
#[test]
fn clients_beyond_the_capture_pins_instance_count_are_refused() {
    let emu = Emu::new(EmuConfig::verifier());
    let mut port = port(&emu);
    let limit = port.filter_info().instance_limit(PIN_CAPTURE_STREAM);
    assert_eq!(limit, mxf_miniport::filter::MAX_CAPTURE_INSTANCES);
    port.open_capture_as(Client::WinMm).expect("WinMM capture");
    for i in 1..limit {
        let client = if i % 2 == 1 {
            Client::DirectMusic
        } else {
            Client::WinMm
        };
        port.open_capture_as(client).expect("within the count");
    }
    let e = port
        .open_capture_as(Client::DirectMusic)
        .expect_err("the capture pin's instances are all open");
    assert_eq!(
        (e.step, e.status),
        ("KS pin create", mxf_abi::STATUS_UNSUCCESSFUL)
    );
    assert_eq!(port.pin_instances(PIN_CAPTURE_STREAM), limit);
    port.close().expect("close");
    emu.unload().expect("clean unload");
}

fn req(node: u32, id: u32, verb: u32, instance: &[u8], len: Option<usize>) -> NodeRequest<'_> {
    NodeRequest {
        node,
        set: KSPROPSETID_SYNTH,
        id,
        verb,
        instance,
        value: len.map(|n| vec![0xEE; n]),
        value_len: len.unwrap_or(0) as u32,
    }
}

/// Every Synth property through the port, good and bad, on the filter and on the pin.
#[test]
fn synth_requests_through_the_port_get_their_documented_status() {
    let emu = Emu::new(EmuConfig::verifier());
    let mut port = port(&emu);
    port.open_render_as(Client::DirectMusic)
        .expect("DirectMusic render");
    let pin = Some((Client::DirectMusic, false));
    let get = KSPROPERTY_TYPE_GET;
    let set = KSPROPERTY_TYPE_SET;
    let basic = KSPROPERTY_TYPE_BASICSUPPORT;
    let params: Vec<u8> = [SYNTH_PORTPARAMS_CHANNELGROUPS, 0, 1, 0, 0, 0, 0]
        .iter()
        .flat_map(|v: &u32| v.to_le_bytes())
        .collect();
    let one = 1u32.to_le_bytes().to_vec();
    // (on the pin?, request, status, reported size)
    let cases: Vec<(bool, NodeRequest<'_>, NtStatus, u32)> = vec![
        (
            false,
            req(NODE_SYNTH, KSPROPERTY_SYNTH_CAPS, get, &[], Some(296)),
            STATUS_SUCCESS,
            296,
        ),
        (
            false,
            req(NODE_SYNTH, KSPROPERTY_SYNTH_CAPS, get, &[], None),
            STATUS_BUFFER_OVERFLOW,
            296,
        ),
        (
            false,
            req(NODE_SYNTH, KSPROPERTY_SYNTH_CAPS, get, &[], Some(295)),
            STATUS_BUFFER_TOO_SMALL,
            0,
        ),
        (
            false,
            req(NODE_SYNTH, KSPROPERTY_SYNTH_CAPS, set, &[], Some(296)),
            STATUS_INVALID_DEVICE_REQUEST,
            0,
        ),
        (
            false,
            req(NODE_INPUT, KSPROPERTY_SYNTH_CAPS, basic, &[], Some(40)),
            STATUS_SUCCESS,
            40,
        ),
        (
            true,
            req(
                NODE_SYNTH,
                KSPROPERTY_SYNTH_PORTPARAMETERS,
                get,
                &params,
                Some(28),
            ),
            STATUS_SUCCESS,
            28,
        ),
        (
            true,
            req(
                NODE_SYNTH,
                KSPROPERTY_SYNTH_PORTPARAMETERS,
                get,
                &params[..20],
                Some(28),
            ),
            STATUS_INVALID_PARAMETER,
            0,
        ),
        (
            true,
            req(
                NODE_SYNTH,
                KSPROPERTY_SYNTH_PORTPARAMETERS,
                get,
                &params,
                Some(27),
            ),
            STATUS_BUFFER_TOO_SMALL,
            0,
        ),
        (
            false,
            req(
                NODE_SYNTH,
                KSPROPERTY_SYNTH_PORTPARAMETERS,
                get,
                &params,
                Some(28),
            ),
            STATUS_INVALID_DEVICE_REQUEST,
            0,
        ),
        (
            false,
            req(
                NODE_SYNTH,
                KSPROPERTY_SYNTH_CHANNELGROUPS,
                get,
                &[],
                Some(4),
            ),
            STATUS_SUCCESS,
            4,
        ),
        (
            true,
            req(
                NODE_SYNTH,
                KSPROPERTY_SYNTH_CHANNELGROUPS,
                get,
                &[],
                Some(3),
            ),
            STATUS_BUFFER_TOO_SMALL,
            0,
        ),
        (
            true,
            req(NODE_SYNTH, KSPROPERTY_SYNTH_LATENCYCLOCK, get, &[], Some(8)),
            STATUS_SUCCESS,
            8,
        ),
        (
            true,
            req(NODE_SYNTH, KSPROPERTY_SYNTH_LATENCYCLOCK, get, &[], None),
            STATUS_BUFFER_OVERFLOW,
            8,
        ),
        (
            false,
            req(NODE_SYNTH, KSPROPERTY_SYNTH_LATENCYCLOCK, get, &[], Some(8)),
            STATUS_INVALID_DEVICE_REQUEST,
            0,
        ),
        (
            true,
            req(NODE_SYNTH, KSPROPERTY_SYNTH_LATENCYCLOCK, set, &[], Some(8)),
            STATUS_INVALID_DEVICE_REQUEST,
            0,
        ),
        // Not in the table (DMusUART has no RUNNINGSTATS), or no such node: the port's answer.
        (
            true,
            req(
                NODE_SYNTH,
                KSPROPERTY_SYNTH_RUNNINGSTATS,
                get,
                &[],
                Some(28),
            ),
            STATUS_NOT_FOUND,
            0,
        ),
        (
            true,
            req(7, KSPROPERTY_SYNTH_CAPS, get, &[], Some(296)),
            STATUS_NOT_FOUND,
            0,
        ),
    ];
    for (i, (on_pin, r, status, size)) in cases.into_iter().enumerate() {
        let a = port
            .node_property(on_pin.then_some(pin).flatten(), r)
            .unwrap_or_else(|e| panic!("case {i}: contract violation {e}"));
        assert_eq!((a.status, a.size), (status, size), "case {i}");
        if !mxf_abi::nt_success(a.status) {
            assert!(
                a.value.iter().all(|&b| b == 0xEE),
                "case {i}: buffer touched"
            );
        }
    }
    // CHANNELGROUPS set: 1 only.
    let set_groups = |v: Vec<u8>| {
        let len = v.len() as u32;
        port.node_property(
            pin,
            NodeRequest {
                node: NODE_SYNTH,
                set: KSPROPSETID_SYNTH,
                id: KSPROPERTY_SYNTH_CHANNELGROUPS,
                verb: set,
                instance: &[],
                value: Some(v),
                value_len: len,
            },
        )
        .unwrap()
        .status
    };
    assert_eq!(set_groups(one), STATUS_SUCCESS);
    assert_eq!(
        set_groups(2u32.to_le_bytes().to_vec()),
        STATUS_INVALID_PARAMETER
    );
    assert_eq!(set_groups(vec![1, 0]), STATUS_BUFFER_TOO_SMALL);
    // Every handler call ran at PASSIVE_LEVEL.
    let calls = port.tracker().calls_of("node property handler");
    assert!(calls.count > 20);
    assert_eq!(calls.irqls, [mxf_core::platform::PASSIVE_LEVEL].into());
    port.close().expect("close");
    emu.unload().expect("clean unload");
}
