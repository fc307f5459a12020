//! The filter `IMiniport::GetDescription` hands to PortCls: the pin factories, nodes and
//! connections of Microsoft's DMusUART miniport (the MPU-401 DMus miniport whose source ships
//! in ReactOS's PortCls tree), so that WinMM (wdmaud) and DirectMusic find the filter they
//! expect from a DMus MIDI port.
//!
//! ```text
//!   pin 0  MIDI render (WinMM)       (in,  sink) ------------------------> pin 2 render bridge (out)
//!   pin 1  DirectMusic render        (in,  sink) -> node 0 synth ---------^
//!   pin 3  capture bridge            (in,  none) -> node 1 synth (input) -> pin 4 capture (out, sink)
//! ```
//!
//! - Pin 0 offers the byte-stream MIDI range only (`KSAUDFNAME_MIDI`, as DMusUART's legacy
//!   pin), pin 1 the DirectMusic range only (`KSAUDFNAME_DMUSIC_MPU_OUT`), pin 4 both
//!   (`KSAUDFNAME_DMUSIC_MPU_IN`): one capture pin for both kinds of client, as DMusUART.
//!   Up to [`MAX_RENDER_INSTANCES`] instances of each render pin and
//!   [`MAX_CAPTURE_INSTANCES`] of the capture pin, per filter and system-wide: several
//!   applications share the cable, their messages merged, each capture client getting every
//!   message (see `mxf_core::cable`).
//! - Both streaming pins are `KSPIN_COMMUNICATION_SINK`: in kernel streaming "sink" means
//!   "clients create instances of this pin"; the direction of data is `DataFlow`'s
//!   business. Bridge pins (`KSPIN_COMMUNICATION_NONE`, `KSDATAFORMAT_SUBTYPE_MIDI_BUS`)
//!   only tell the system audio graph where the MIDI goes and cannot be instantiated.
//! - The two `KSNODETYPE_SYNTHESIZER` nodes carry the `KSPROPSETID_Synth` automation table
//!   ([`crate::synth`]); DirectMusic finds the synth node of its pin through the topology.
//!   The WinMM render pin bypasses the synthesizer, as in DMusUART.
//!
//! Everything is immutable `static` data: PortCls keeps the pointer it gets from
//! `GetDescription` for the life of the port. Tables holding raw pointers are wrapped in
//! [`StaticTable`] to be `Sync`; the pointer-free ones are plain statics. The intersection
//! handler reads the same ranges through the safe [`pin_data_ranges`] view.
//!
//! Layer: the description is built from the pin and node ids ([`crate::ids`]), the table
//! wrapper ([`crate::table`]) and the synth nodes' property items ([`crate::synth`]); it
//! depends on nothing that builds or runs streams.

pub use crate::ids::{
    NODE_COUNT, NODE_INPUT, NODE_SYNTH, PIN_CAPTURE_BRIDGE, PIN_CAPTURE_STREAM, PIN_COUNT,
    PIN_RENDER_BRIDGE, PIN_RENDER_DMUS, PIN_RENDER_STREAM,
};
use crate::synth::SYNTH_PROPERTIES;
pub use crate::table::{DescriptorData, StaticTable};
use core::mem::size_of;
use mxf_abi::{
    Guid, KSAUDFNAME_DMUSIC_MPU_IN, KSAUDFNAME_DMUSIC_MPU_OUT, KSAUDFNAME_MIDI, KSCATEGORY_AUDIO,
    KSCATEGORY_CAPTURE, KSCATEGORY_RENDER, KSDATAFORMAT_SPECIFIER_NONE,
    KSDATAFORMAT_SUBTYPE_DIRECTMUSIC, KSDATAFORMAT_SUBTYPE_MIDI, KSDATAFORMAT_SUBTYPE_MIDI_BUS,
    KSDATAFORMAT_TYPE_MUSIC, KSMUSIC_TECHNOLOGY_PORT, KSNODEPIN_STANDARD_IN,
    KSNODEPIN_STANDARD_OUT, KSNODETYPE_SYNTHESIZER, KsDataRange, KsDataRangeMusic,
    KsPinCommunication, KsPinDataflow, KsPinDescriptor, PCFILTER_NODE, PcAutomationTable,
    PcConnectionDescriptor, PcEventItem, PcFilterDescriptor, PcMethodItem, PcNodeDescriptor,
    PcPinDescriptor, PcPropertyItem,
};

/// Instances of each render pin, per filter and system-wide: the cable's writers
/// (`mxf_core::cable::MAX_WRITERS`) shared by the two render pins.
pub const MAX_RENDER_INSTANCES: u32 = (mxf_core::cable::MAX_WRITERS / 2) as u32;
/// Capture stream instances allowed, per filter and system-wide: the cable's readers
/// (`mxf_core::cable::MAX_READERS`, each with its own loopback).
pub const MAX_CAPTURE_INSTANCES: u32 = mxf_core::cable::MAX_READERS as u32;

/// `KSDATARANGE_MUSIC.Channels` of the streaming ranges (0, as DMusUART's).
pub const MIDI_CHANNELS: u32 = 0;
/// `KSDATARANGE_MUSIC.ChannelMask`: all 16 channels.
pub const MIDI_CHANNEL_MASK: u32 = 0xFFFF;

const fn music_range(sub_format: Guid) -> KsDataRangeMusic {
    KsDataRangeMusic {
        data_range: KsDataRange {
            format_size: size_of::<KsDataRangeMusic>() as u32,
            flags: 0,
            sample_size: 0,
            reserved: 0,
            major_format: KSDATAFORMAT_TYPE_MUSIC,
            sub_format,
            specifier: KSDATAFORMAT_SPECIFIER_NONE,
        },
        technology: KSMUSIC_TECHNOLOGY_PORT,
        channels: MIDI_CHANNELS,
        notes: 0,
        channel_mask: MIDI_CHANNEL_MASK,
    }
}

/// Byte-stream MIDI (WinMM clients through wdmaud).
pub static MIDI_RANGE: KsDataRangeMusic = music_range(KSDATAFORMAT_SUBTYPE_MIDI);
/// DirectMusic event streams.
pub static DIRECTMUSIC_RANGE: KsDataRangeMusic = music_range(KSDATAFORMAT_SUBTYPE_DIRECTMUSIC);
/// The bridge pins' range: a plain `KSDATARANGE` on the MIDI bus.
pub static BRIDGE_RANGE: KsDataRange = KsDataRange {
    format_size: size_of::<KsDataRange>() as u32,
    flags: 0,
    sample_size: 0,
    reserved: 0,
    major_format: KSDATAFORMAT_TYPE_MUSIC,
    sub_format: KSDATAFORMAT_SUBTYPE_MIDI_BUS,
    specifier: KSDATAFORMAT_SPECIFIER_NONE,
};

// Pointers are taken to the whole music range (cast to its KSDATARANGE header) so that
// whoever reads FormatSize = 96 bytes through them stays inside the pointed-to object.
const MIDI_PTR: *const KsDataRange = (&raw const MIDI_RANGE).cast::<KsDataRange>();
const DMUS_PTR: *const KsDataRange = (&raw const DIRECTMUSIC_RANGE).cast::<KsDataRange>();
static MIDI_RANGE_PTRS: StaticTable<[*const KsDataRange; 1]> = StaticTable::new([MIDI_PTR]);
static DMUS_RANGE_PTRS: StaticTable<[*const KsDataRange; 1]> = StaticTable::new([DMUS_PTR]);
static CAPTURE_RANGE_PTRS: StaticTable<[*const KsDataRange; 2]> =
    StaticTable::new([MIDI_PTR, DMUS_PTR]);
static BRIDGE_RANGE_PTRS: StaticTable<[*const KsDataRange; 1]> =
    StaticTable::new([&raw const BRIDGE_RANGE]);

/// The pins' ranges, in descriptor order, for code that must not chase pointers.
static MIDI_RANGES: [&KsDataRange; 1] = [&MIDI_RANGE.data_range];
static DMUS_RANGES: [&KsDataRange; 1] = [&DIRECTMUSIC_RANGE.data_range];
static CAPTURE_RANGES: [&KsDataRange; 2] = [&MIDI_RANGE.data_range, &DIRECTMUSIC_RANGE.data_range];
static BRIDGE_RANGES: [&KsDataRange; 1] = [&BRIDGE_RANGE];

static PIN_CATEGORY: Guid = KSCATEGORY_AUDIO;
static MIDI_PIN_NAME: Guid = KSAUDFNAME_MIDI;
static DMUS_RENDER_PIN_NAME: Guid = KSAUDFNAME_DMUSIC_MPU_OUT;
static CAPTURE_PIN_NAME: Guid = KSAUDFNAME_DMUSIC_MPU_IN;
static SYNTH_NODE_TYPE: Guid = KSNODETYPE_SYNTHESIZER;

const fn ks_pin(
    ranges: &'static [*const KsDataRange],
    data_flow: KsPinDataflow,
    communication: KsPinCommunication,
    name: *const Guid,
) -> KsPinDescriptor {
    KsPinDescriptor {
        interfaces_count: 0,
        interfaces: core::ptr::null(),
        mediums_count: 0,
        mediums: core::ptr::null(),
        data_ranges_count: ranges.len() as u32,
        data_ranges: ranges.as_ptr(),
        data_flow,
        communication,
        category: &raw const PIN_CATEGORY,
        name,
        constrained_data_ranges_count: 0,
        constrained_data_ranges: core::ptr::null(),
    }
}

const fn stream_pin(
    ranges: &'static [*const KsDataRange],
    data_flow: KsPinDataflow,
    name: *const Guid,
    max: u32,
) -> PcPinDescriptor {
    PcPinDescriptor {
        max_global_instance_count: max,
        max_filter_instance_count: max,
        min_filter_instance_count: 0,
        automation_table: core::ptr::null(),
        ks_pin_descriptor: ks_pin(ranges, data_flow, KsPinCommunication::SINK, name),
    }
}

const fn bridge_pin(data_flow: KsPinDataflow) -> PcPinDescriptor {
    PcPinDescriptor {
        max_global_instance_count: 0,
        max_filter_instance_count: 0,
        min_filter_instance_count: 0,
        automation_table: core::ptr::null(),
        ks_pin_descriptor: ks_pin(
            BRIDGE_RANGE_PTRS.get(),
            data_flow,
            KsPinCommunication::NONE,
            core::ptr::null(),
        ),
    }
}

static PINS: StaticTable<[PcPinDescriptor; PIN_COUNT]> = StaticTable::new([
    stream_pin(
        MIDI_RANGE_PTRS.get(),
        KsPinDataflow::IN,
        &raw const MIDI_PIN_NAME,
        MAX_RENDER_INSTANCES,
    ),
    stream_pin(
        DMUS_RANGE_PTRS.get(),
        KsPinDataflow::IN,
        &raw const DMUS_RENDER_PIN_NAME,
        MAX_RENDER_INSTANCES,
    ),
    bridge_pin(KsPinDataflow::OUT),
    bridge_pin(KsPinDataflow::IN),
    stream_pin(
        CAPTURE_RANGE_PTRS.get(),
        KsPinDataflow::OUT,
        &raw const CAPTURE_PIN_NAME,
        MAX_CAPTURE_INSTANCES,
    ),
]);

/// The synthesizer nodes' automation table: the `KSPROPSETID_Synth` items, no methods or
/// events.
pub static SYNTH_AUTOMATION: StaticTable<PcAutomationTable> = StaticTable::new(PcAutomationTable {
    property_item_size: size_of::<PcPropertyItem>() as u32,
    property_count: SYNTH_PROPERTIES.get().len() as u32,
    properties: SYNTH_PROPERTIES.get().as_ptr(),
    method_item_size: size_of::<PcMethodItem>() as u32,
    method_count: 0,
    methods: core::ptr::null(),
    event_item_size: size_of::<PcEventItem>() as u32,
    event_count: 0,
    events: core::ptr::null(),
    reserved: 0,
});

const fn synth_node() -> PcNodeDescriptor {
    PcNodeDescriptor {
        flags: 0,
        automation_table: SYNTH_AUTOMATION.as_ptr(),
        node_type: &raw const SYNTH_NODE_TYPE,
        name: core::ptr::null(),
    }
}

static NODES: StaticTable<[PcNodeDescriptor; NODE_COUNT]> =
    StaticTable::new([synth_node(), synth_node()]);

const fn edge(from_node: u32, from_pin: u32, to_node: u32, to_pin: u32) -> PcConnectionDescriptor {
    PcConnectionDescriptor {
        from_node,
        from_node_pin: from_pin,
        to_node,
        to_node_pin: to_pin,
    }
}

/// The topology, DMusUART's: WinMM render → render bridge; DirectMusic render → synth →
/// render bridge; capture bridge → input node → capture stream.
pub static CONNECTIONS: [PcConnectionDescriptor; 5] = [
    edge(
        PCFILTER_NODE,
        PIN_RENDER_STREAM,
        PCFILTER_NODE,
        PIN_RENDER_BRIDGE,
    ),
    edge(
        PCFILTER_NODE,
        PIN_RENDER_DMUS,
        NODE_SYNTH,
        KSNODEPIN_STANDARD_IN,
    ),
    edge(
        NODE_SYNTH,
        KSNODEPIN_STANDARD_OUT,
        PCFILTER_NODE,
        PIN_RENDER_BRIDGE,
    ),
    edge(
        PCFILTER_NODE,
        PIN_CAPTURE_BRIDGE,
        NODE_INPUT,
        KSNODEPIN_STANDARD_IN,
    ),
    edge(
        NODE_INPUT,
        KSNODEPIN_STANDARD_OUT,
        PCFILTER_NODE,
        PIN_CAPTURE_STREAM,
    ),
];

/// Filter categories: the device interfaces PortCls registers for the subdevice.
pub static CATEGORIES: [Guid; 3] = [KSCATEGORY_AUDIO, KSCATEGORY_RENDER, KSCATEGORY_CAPTURE];

/// The complete filter description.
pub static FILTER_DESCRIPTOR: StaticTable<PcFilterDescriptor> =
    StaticTable::new(PcFilterDescriptor {
        version: 0,
        automation_table: core::ptr::null(),
        pin_size: size_of::<PcPinDescriptor>() as u32,
        pin_count: PIN_COUNT as u32,
        pins: PINS.get().as_ptr(),
        node_size: size_of::<PcNodeDescriptor>() as u32,
        node_count: NODE_COUNT as u32,
        nodes: NODES.get().as_ptr(),
        connection_count: CONNECTIONS.len() as u32,
        connections: CONNECTIONS.as_ptr(),
        category_count: CATEGORIES.len() as u32,
        categories: CATEGORIES.as_ptr(),
    });

/// What `IMiniport::GetDescription` stores through its out parameter.
pub fn filter_descriptor() -> *const PcFilterDescriptor {
    FILTER_DESCRIPTOR.as_ptr()
}

/// The pin factories, indexed by pin id.
pub fn pins() -> &'static [PcPinDescriptor; PIN_COUNT] {
    PINS.get()
}

/// The nodes, indexed by node id.
pub fn nodes() -> &'static [PcNodeDescriptor; NODE_COUNT] {
    NODES.get()
}

/// The data ranges of pin `pin_id` (the same objects its descriptor points at), or `None`
/// for an id outside the filter.
pub fn pin_data_ranges(pin_id: u32) -> Option<&'static [&'static KsDataRange]> {
    match pin_id {
        PIN_RENDER_STREAM => Some(&MIDI_RANGES),
        PIN_RENDER_DMUS => Some(&DMUS_RANGES),
        PIN_CAPTURE_STREAM => Some(&CAPTURE_RANGES),
        PIN_RENDER_BRIDGE | PIN_CAPTURE_BRIDGE => Some(&BRIDGE_RANGES),
        _ => None,
    }
}

/// Whether clients can create instances of pin `pin_id` (the three streaming pins).
pub fn is_streaming_pin(pin_id: u32) -> bool {
    matches!(
        pin_id,
        PIN_RENDER_STREAM | PIN_RENDER_DMUS | PIN_CAPTURE_STREAM
    )
}

/// Which render stream slot a render pin feeds (0: WinMM, 1: DirectMusic), or `None` for
/// any other pin.
pub fn render_slot(pin_id: u32) -> Option<usize> {
    match pin_id {
        PIN_RENDER_STREAM => Some(0),
        PIN_RENDER_DMUS => Some(1),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use mxf_abi::{KSDATAFORMAT_SUBTYPE_DIRECTMUSIC, KSDATAFORMAT_SUBTYPE_MIDI};
    use std::vec::Vec;

    /// Reads `count` elements at `ptr`, checking the pointer is non-null when `count > 0`.
    ///
    /// # Safety
    /// `ptr` must point at `count` valid, immutable `T`s for `'static` (true for every
    /// pointer in this module's descriptors, which point at statics).
    unsafe fn table<T>(ptr: *const T, count: u32, what: &str) -> &'static [T] {
        if count == 0 {
            return &[];
        }
        assert!(!ptr.is_null(), "{what}: count {count} with a null pointer");
        // SAFETY: non-null, and the caller guarantees `count` valid static elements.
        unsafe { core::slice::from_raw_parts(ptr, count as usize) }
    }

    fn descriptor() -> &'static PcFilterDescriptor {
        // SAFETY: FILTER_DESCRIPTOR is a static that is never written.
        unsafe { &*filter_descriptor() }
    }

    fn pin_ranges(pin: &PcPinDescriptor) -> Vec<&'static KsDataRange> {
        let ks = &pin.ks_pin_descriptor;
        // SAFETY: the descriptor's range table points at a static array of pointers.
        let ptrs = unsafe { table(ks.data_ranges, ks.data_ranges_count, "DataRanges") };
        ptrs.iter()
            .map(|&p| {
                assert!(!p.is_null(), "null data range pointer");
                // SAFETY: each entry points at one of this module's static ranges.
                unsafe { &*p }
            })
            .collect()
    }

    #[test]
    fn filter_header_counts_and_strides_match_the_tables() {
        let d = descriptor();
        assert_eq!(d.version, 0);
        assert_eq!(d.pin_size as usize, size_of::<PcPinDescriptor>());
        assert_eq!(d.node_size as usize, size_of::<PcNodeDescriptor>());
        assert_eq!(d.pin_count as usize, PIN_COUNT);
        assert_eq!(d.node_count as usize, NODE_COUNT);
        assert!(d.automation_table.is_null());
        // SAFETY: the descriptor's pin table points at a static of this module.
        let pins = unsafe { table(d.pins, d.pin_count, "Pins") };
        // SAFETY: as for `pins`, the node table.
        let nodes = unsafe { table(d.nodes, d.node_count, "Nodes") };
        // SAFETY: as for `pins`, the connection table.
        let conns = unsafe { table(d.connections, d.connection_count, "Connections") };
        // SAFETY: as for `pins`, the category table.
        let cats = unsafe { table(d.categories, d.category_count, "Categories") };
        assert!(core::ptr::eq(pins, super::pins().as_slice()));
        assert!(core::ptr::eq(nodes, super::nodes().as_slice()));
        assert_eq!(conns, &CONNECTIONS);
        assert_eq!(
            cats,
            &[KSCATEGORY_AUDIO, KSCATEGORY_RENDER, KSCATEGORY_CAPTURE]
        );
    }

    #[test]
    fn nodes_are_synthesizers_carrying_the_synth_property_table() {
        for (id, n) in nodes().iter().enumerate() {
            assert_eq!(n.flags, 0);
            assert!(n.name.is_null());
            // SAFETY: the node type points at a static of this crate.
            let ty = unsafe { *n.node_type };
            // SAFETY: the automation table points at a static of this crate.
            let auto = unsafe { &*n.automation_table };
            assert_eq!(ty, mxf_abi::KSNODETYPE_SYNTHESIZER, "node {id}");
            assert_eq!(
                auto.property_item_size as usize,
                size_of::<PcPropertyItem>()
            );
            assert_eq!(
                (auto.method_count, auto.event_count, auto.reserved),
                (0, 0, 0)
            );
            // SAFETY: as above.
            let items = unsafe { table(auto.properties, auto.property_count, "Properties") };
            let ids: Vec<(Guid, u32, u32)> = items
                .iter()
                // SAFETY: each item's set points at a static GUID.
                .map(|i| (unsafe { *i.set }, i.id, i.flags))
                .collect();
            use mxf_abi::*;
            let gb = KSPROPERTY_TYPE_GET | KSPROPERTY_TYPE_BASICSUPPORT;
            assert_eq!(
                ids,
                [
                    (KSPROPSETID_SYNTH, KSPROPERTY_SYNTH_CAPS, gb),
                    (KSPROPSETID_SYNTH, KSPROPERTY_SYNTH_PORTPARAMETERS, gb),
                    (
                        KSPROPSETID_SYNTH,
                        KSPROPERTY_SYNTH_CHANNELGROUPS,
                        gb | KSPROPERTY_TYPE_SET
                    ),
                    (KSPROPSETID_SYNTH, KSPROPERTY_SYNTH_LATENCYCLOCK, gb),
                ],
                "DMusUART's four Synth properties, with its verbs"
            );
            assert!(items.iter().all(|i| i.handler.is_some()));
        }
    }

    #[test]
    fn connections_are_dmusuarts_topology() {
        let d = descriptor();
        // SAFETY: the descriptor's pin table points at a static of this module.
        let pins = unsafe { table(d.pins, d.pin_count, "Pins") };
        // SAFETY: as for `pins`, the connection table.
        let conns = unsafe { table(d.connections, d.connection_count, "C") };
        let f = PCFILTER_NODE;
        let (i, o) = (KSNODEPIN_STANDARD_IN, KSNODEPIN_STANDARD_OUT);
        assert_eq!(
            conns
                .iter()
                .map(|c| (c.from_node, c.from_node_pin, c.to_node, c.to_node_pin))
                .collect::<Vec<_>>(),
            [
                (f, PIN_RENDER_STREAM, f, PIN_RENDER_BRIDGE),
                (f, PIN_RENDER_DMUS, NODE_SYNTH, i),
                (NODE_SYNTH, o, f, PIN_RENDER_BRIDGE),
                (f, PIN_CAPTURE_BRIDGE, NODE_INPUT, i),
                (NODE_INPUT, o, f, PIN_CAPTURE_STREAM),
            ]
        );
        for c in conns {
            // A filter pin a connection leaves is an IN pin, one it enters an OUT pin.
            if c.from_node == f {
                let p = &pins[c.from_node_pin as usize].ks_pin_descriptor;
                assert_eq!(p.data_flow, KsPinDataflow::IN, "{c:?}");
            } else {
                assert!((c.from_node as usize) < NODE_COUNT && c.from_node_pin == o);
            }
            if c.to_node == f {
                let p = &pins[c.to_node_pin as usize].ks_pin_descriptor;
                assert_eq!(p.data_flow, KsPinDataflow::OUT, "{c:?}");
            } else {
                assert!((c.to_node as usize) < NODE_COUNT && c.to_node_pin == i);
            }
        }
    }

    #[test]
    fn pins_have_dmusuarts_roles_names_and_instance_counts() {
        let p = pins();
        let ks = |id: u32| &p[id as usize].ks_pin_descriptor;
        for id in [PIN_RENDER_STREAM, PIN_RENDER_DMUS] {
            assert_eq!(ks(id).data_flow, KsPinDataflow::IN);
            assert_eq!(ks(id).communication, KsPinCommunication::SINK);
        }
        assert_eq!(ks(PIN_CAPTURE_STREAM).data_flow, KsPinDataflow::OUT);
        assert_eq!(
            ks(PIN_CAPTURE_STREAM).communication,
            KsPinCommunication::SINK
        );
        assert_eq!(ks(PIN_RENDER_BRIDGE).data_flow, KsPinDataflow::OUT);
        assert_eq!(ks(PIN_CAPTURE_BRIDGE).data_flow, KsPinDataflow::IN);
        for id in [PIN_RENDER_BRIDGE, PIN_CAPTURE_BRIDGE] {
            assert_eq!(ks(id).communication, KsPinCommunication::NONE);
            assert!(ks(id).name.is_null());
            assert_eq!(p[id as usize].max_filter_instance_count, 0);
            assert_eq!(p[id as usize].max_global_instance_count, 0);
        }
        // SAFETY: the name pointer of a streaming pin points at a static GUID.
        let render_name = unsafe { *ks(PIN_RENDER_STREAM).name };
        // SAFETY: as above.
        let dmus_name = unsafe { *ks(PIN_RENDER_DMUS).name };
        // SAFETY: as above.
        let capture_name = unsafe { *ks(PIN_CAPTURE_STREAM).name };
        assert_eq!(render_name, mxf_abi::KSAUDFNAME_MIDI);
        assert_eq!(dmus_name, KSAUDFNAME_DMUSIC_MPU_OUT);
        assert_eq!(capture_name, KSAUDFNAME_DMUSIC_MPU_IN);
        for id in 0..PIN_COUNT as u32 {
            // SAFETY: every pin's category pointer points at a static GUID.
            let category = unsafe { *ks(id).category };
            assert_eq!(category, KSCATEGORY_AUDIO);
        }
        for (id, max) in [
            (PIN_RENDER_STREAM, MAX_RENDER_INSTANCES),
            (PIN_RENDER_DMUS, MAX_RENDER_INSTANCES),
            (PIN_CAPTURE_STREAM, MAX_CAPTURE_INSTANCES),
        ] {
            let pin = &p[id as usize];
            assert_eq!(max, 8);
            assert_eq!(pin.max_global_instance_count, max, "pin {id}");
            assert_eq!(pin.max_filter_instance_count, max, "pin {id}");
            assert_eq!(pin.min_filter_instance_count, 0, "pin {id}");
        }
        for pin in p {
            assert!(pin.min_filter_instance_count <= pin.max_filter_instance_count);
            assert!(pin.max_filter_instance_count <= pin.max_global_instance_count);
            assert_eq!(pin.ks_pin_descriptor.interfaces_count, 0);
            assert_eq!(pin.ks_pin_descriptor.mediums_count, 0);
            assert_eq!(pin.ks_pin_descriptor.constrained_data_ranges_count, 0);
            assert!(pin.automation_table.is_null());
        }
        let streaming = [PIN_RENDER_STREAM, PIN_RENDER_DMUS, PIN_CAPTURE_STREAM];
        for id in 0..=PIN_COUNT as u32 {
            assert_eq!(is_streaming_pin(id), streaming.contains(&id), "pin {id}");
        }
        assert_eq!(render_slot(PIN_RENDER_STREAM), Some(0));
        assert_eq!(render_slot(PIN_RENDER_DMUS), Some(1));
        assert_eq!(render_slot(PIN_CAPTURE_STREAM), None);
    }

    #[test]
    fn data_ranges_are_well_formed_and_match_the_safe_view() {
        for (id, pin) in pins().iter().enumerate() {
            let raw = pin_ranges(pin);
            let safe = pin_data_ranges(id as u32).expect("pin exists");
            assert_eq!(raw.len(), safe.len());
            assert!(!raw.is_empty(), "pin {id} has no data range");
            for (r, s) in raw.iter().zip(safe) {
                assert!(
                    core::ptr::eq(*r, *s),
                    "pin {id}: safe view is another object"
                );
                assert_eq!(r.major_format, KSDATAFORMAT_TYPE_MUSIC);
                assert_eq!(r.specifier, KSDATAFORMAT_SPECIFIER_NONE);
                assert_eq!(r.flags, 0);
                let music = r.sub_format != KSDATAFORMAT_SUBTYPE_MIDI_BUS;
                let expected = if music {
                    size_of::<KsDataRangeMusic>()
                } else {
                    size_of::<KsDataRange>()
                };
                assert_eq!(r.format_size as usize, expected, "pin {id} FormatSize");
                if music {
                    // SAFETY: FormatSize says a KSDATARANGE_MUSIC starts here, and the
                    // pointer was derived from a whole KsDataRangeMusic static.
                    let m = unsafe { &*(*r as *const KsDataRange).cast::<KsDataRangeMusic>() };
                    assert_eq!(m.technology, KSMUSIC_TECHNOLOGY_PORT);
                    // DMusUART's ranges: Channels 0, Notes 0, all 16 channels in the mask.
                    assert_eq!((m.channels, m.notes, m.channel_mask), (0, 0, 0xFFFF));
                }
            }
        }
        let subs = |id| {
            pin_data_ranges(id)
                .unwrap()
                .iter()
                .map(|r| r.sub_format)
                .collect::<Vec<_>>()
        };
        assert_eq!(subs(PIN_RENDER_STREAM), [KSDATAFORMAT_SUBTYPE_MIDI]);
        assert_eq!(subs(PIN_RENDER_DMUS), [KSDATAFORMAT_SUBTYPE_DIRECTMUSIC]);
        assert_eq!(
            subs(PIN_CAPTURE_STREAM),
            [KSDATAFORMAT_SUBTYPE_MIDI, KSDATAFORMAT_SUBTYPE_DIRECTMUSIC]
        );
        assert_eq!(subs(PIN_RENDER_BRIDGE), [KSDATAFORMAT_SUBTYPE_MIDI_BUS]);
        assert_eq!(subs(PIN_CAPTURE_BRIDGE), [KSDATAFORMAT_SUBTYPE_MIDI_BUS]);
        assert!(pin_data_ranges(PIN_COUNT as u32).is_none());
        assert!(pin_data_ranges(u32::MAX).is_none());
    }

    #[test]
    fn statics_are_shareable_across_threads() {
        fn assert_sync<T: Sync>(_: &T) {}
        assert_sync(&FILTER_DESCRIPTOR);
        let addr = std::thread::spawn(|| filter_descriptor() as usize)
            .join()
            .unwrap();
        assert_eq!(addr, filter_descriptor() as usize);
    }
}
