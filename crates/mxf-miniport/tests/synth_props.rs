//! `KSPROPSETID_Synth` through the filter descriptor, as PortCls calls it: the node's
//! automation-table handler with a raw `PCPROPERTY_REQUEST` whose `MajorTarget` is the
//! miniport and `MinorTarget` the stream (or nothing, on the filter handle).

mod support;

use mxf_abi::*;
use mxf_kemu::{Emu, EmuConfig};
use mxf_miniport::{
    MiniportConfig, NODE_INPUT, NODE_SYNTH, PIN_CAPTURE_STREAM, PIN_RENDER_DMUS, new_miniport,
};
use std::ptr;
use support::calls::*;
use support::{TestClock, test_allocator};

/// The item of property `id` in node `node`'s automation table.
fn item(node: u32, id: u32) -> &'static PcPropertyItem {
    // SAFETY: the filter descriptor is a static of the miniport.
    let d = unsafe { &*mxf_miniport::filter_descriptor() };
    assert!((node as usize) < d.node_count as usize);
    // SAFETY: `nodes` is the descriptor's static array of `node_count` nodes; `node` is in it.
    let n = unsafe { &*d.nodes.wrapping_add(node as usize) };
    // SAFETY: the node's automation table is a static of the miniport.
    let t = unsafe { &*n.automation_table };
    // SAFETY: `properties` is the table's static array of `property_count` items.
    let items = unsafe { std::slice::from_raw_parts(t.properties, t.property_count as usize) };
    items
        .iter()
        .find(|i| i.id == id)
        .expect("item in the table")
}

/// Calls the item's handler: the status, the reported `ValueSize` and the value buffer.
fn call(
    major: *mut IUnknown,
    minor: *mut IUnknown,
    node: u32,
    id: u32,
    verb: u32,
    instance: &mut [u8],
    value_len: usize,
) -> (NtStatus, u32, Vec<u8>) {
    let it = item(node, id);
    let mut value = vec![0xEEu8; value_len];
    let mut req = PcPropertyRequest {
        major_target: major,
        minor_target: minor,
        node,
        property_item: it,
        verb,
        instance_size: instance.len() as u32,
        instance: if instance.is_empty() {
            ptr::null_mut()
        } else {
            instance.as_mut_ptr().cast()
        },
        value_size: value_len as u32,
        value: if value_len == 0 {
            ptr::null_mut()
        } else {
            value.as_mut_ptr().cast()
        },
        irp: ptr::null_mut(),
    };
    let handler = it.handler.expect("a handler");
    // SAFETY: a request built as PortCls builds one; the buffers outlive the call.
    let st = unsafe { handler(&mut req) };
    (st, req.value_size, value)
}

#[test]
fn stream_properties_find_the_stream_and_its_clock_through_the_targets() {
    let emu = Emu::new(EmuConfig::verifier());
    let m = new_miniport(emu.clone(), MiniportConfig::DEFAULT).unwrap();
    let alloc = test_allocator(&emu);
    let clock = TestClock::new(&emu);
    let dmus = format(KSDATAFORMAT_SUBTYPE_DIRECTMUSIC);
    let (a, c) = (Some(&alloc), Some(&clock));
    let render = new_stream(
        &m,
        PIN_RENDER_DMUS,
        DmusStreamType::MIDI_RENDER,
        Some(&dmus),
        a,
        c,
    )
    .stream
    .unwrap();
    let capture = new_stream(
        &m,
        PIN_CAPTURE_STREAM,
        DmusStreamType::MIDI_CAPTURE,
        Some(&dmus),
        a,
        c,
    )
    .stream
    .unwrap();
    let major = m.as_raw().cast::<IUnknown>();
    emu.advance_time(12_345);
    let want = clock.get_time().unwrap();
    for (s, node) in [(&render, NODE_SYNTH), (&capture, NODE_INPUT)] {
        let minor = s.as_raw().cast::<IUnknown>();
        let (st, n, v) = call(
            major,
            minor,
            node,
            KSPROPERTY_SYNTH_LATENCYCLOCK,
            KSPROPERTY_TYPE_GET | KSPROPERTY_TYPE_TOPOLOGY,
            &mut [],
            8,
        );
        assert_eq!((st, n), (STATUS_SUCCESS, 8));
        assert_eq!(i64::from_le_bytes(v.try_into().unwrap()), want);
        let mut inst: Vec<u8> = [SYNTH_PORTPARAMS_CHANNELGROUPS, 32, 1, 2, 44100, 0, 0]
            .iter()
            .flat_map(|x: &u32| x.to_le_bytes())
            .collect();
        let (st, n, v) = call(
            major,
            minor,
            node,
            KSPROPERTY_SYNTH_PORTPARAMETERS,
            KSPROPERTY_TYPE_GET,
            &mut inst,
            28,
        );
        assert_eq!((st, n), (STATUS_SUCCESS, 28));
        assert_eq!(v, inst, "one channel group asked, granted as asked");
    }
    // On the filter handle (no stream), or with a MinorTarget that is not a stream of ours
    // (the allocator), or without the miniport as MajorTarget: DMusUART's refusal.
    let not_ours = alloc.as_raw().cast::<IUnknown>();
    let minor_render = render.as_raw().cast::<IUnknown>();
    for (maj, min) in [
        (major, ptr::null_mut()),
        (major, not_ours),
        (ptr::null_mut(), minor_render),
        (not_ours, minor_render),
    ] {
        let (st, n, v) = call(
            maj,
            min,
            NODE_SYNTH,
            KSPROPERTY_SYNTH_LATENCYCLOCK,
            KSPROPERTY_TYPE_GET,
            &mut [],
            8,
        );
        assert_eq!((st, n), (STATUS_INVALID_DEVICE_REQUEST, 0));
        assert!(v.iter().all(|&b| b == 0xEE));
    }
    // Filter-level properties need no stream.
    let (st, n, _) = call(
        major,
        ptr::null_mut(),
        NODE_SYNTH,
        KSPROPERTY_SYNTH_CAPS,
        KSPROPERTY_TYPE_GET,
        &mut [],
        296,
    );
    assert_eq!((st, n), (STATUS_SUCCESS, 296));
    // A clock failure is passed on.
    TestClock::get(&clock)
        .fail
        .store(true, std::sync::atomic::Ordering::SeqCst);
    let (st, _, _) = call(
        major,
        capture.as_raw().cast(),
        NODE_INPUT,
        KSPROPERTY_SYNTH_LATENCYCLOCK,
        KSPROPERTY_TYPE_GET,
        &mut [],
        8,
    );
    assert_eq!(st, STATUS_UNSUCCESSFUL);
    drop((render, capture, m, alloc, clock));
    emu.unload()
        .expect("clean unload: every reference the handler took went back");
}

#[test]
fn a_malformed_request_is_refused_not_followed() {
    // SAFETY: a null request is refused before anything is read.
    let st = unsafe { (item(NODE_SYNTH, KSPROPERTY_SYNTH_CAPS).handler.unwrap())(ptr::null_mut()) };
    assert_eq!(st, STATUS_INVALID_PARAMETER);
    let mut req = PcPropertyRequest {
        major_target: ptr::null_mut(),
        minor_target: ptr::null_mut(),
        node: NODE_SYNTH,
        property_item: ptr::null(),
        verb: KSPROPERTY_TYPE_GET,
        instance_size: 0,
        instance: ptr::null_mut(),
        value_size: 0,
        value: ptr::null_mut(),
        irp: ptr::null_mut(),
    };
    let h = item(NODE_SYNTH, KSPROPERTY_SYNTH_CAPS).handler.unwrap();
    // SAFETY: no item: refused before anything else is read.
    assert_eq!(unsafe { h(&mut req) }, STATUS_INVALID_PARAMETER);
    // An item of another property set routed to this handler.
    static OTHER_SET: Guid = KSPROPSETID_PIN;
    let foreign = PcPropertyItem {
        set: &OTHER_SET,
        id: KSPROPERTY_SYNTH_CAPS,
        flags: KSPROPERTY_TYPE_GET,
        handler: Some(h),
    };
    req.property_item = &foreign;
    req.value_size = 296;
    // SAFETY: a request with a null (but sized) value: refused before writing.
    assert_eq!(unsafe { h(&mut req) }, STATUS_NOT_FOUND);
    assert_eq!(req.value_size, 0);
    // A size but a null Value.
    req.property_item = item(NODE_SYNTH, KSPROPERTY_SYNTH_CAPS);
    req.value_size = 296;
    // SAFETY: as above.
    assert_eq!(unsafe { h(&mut req) }, STATUS_INVALID_PARAMETER);
    // Size query through the raw request.
    req.value_size = 0;
    // SAFETY: as above.
    assert_eq!(unsafe { h(&mut req) }, STATUS_BUFFER_OVERFLOW);
    assert_eq!(req.value_size, 296);
}
