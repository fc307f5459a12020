//! The filter `IMiniport::GetDescription` hands to PortCls: four pin factories in the shape
//! of the classic DMus UART miniport, with the synthesizer nodes left out (a loopback cable
//! has nothing to model between its pins).
//!
//! ```text
//!   pin 0  MIDI render stream  (in,  sink)  --->  pin 1  render bridge   (out, none)
//!   pin 2  capture bridge      (in,  none)  --->  pin 3  MIDI capture stream (out, sink)
//! ```
//!
//! Both streaming pins are `KSPIN_COMMUNICATION_SINK`: in kernel streaming "sink" means
//! "clients create instances of this pin"; the direction of data is `DataFlow`'s business.
//! Bridge pins (`KSPIN_COMMUNICATION_NONE`, `KSDATAFORMAT_SUBTYPE_MIDI_BUS`) only tell the
//! system audio graph where the MIDI goes and cannot be instantiated.
//!
//! Everything is immutable `static` data: PortCls keeps the pointer it gets from
//! `GetDescription` for the life of the port. Tables holding raw pointers are wrapped in
//! [`StaticTable`] to be `Sync`; the pointer-free ones are plain statics. The intersection
//! handler reads the same ranges through the safe [`pin_data_ranges`] view.

use core::mem::size_of;
use mxf_abi::{
    Guid, KSAUDFNAME_DMUSIC_MPU_IN, KSAUDFNAME_DMUSIC_MPU_OUT, KSCATEGORY_AUDIO,
    KSCATEGORY_CAPTURE, KSCATEGORY_RENDER, KSDATAFORMAT_SPECIFIER_NONE,
    KSDATAFORMAT_SUBTYPE_DIRECTMUSIC, KSDATAFORMAT_SUBTYPE_MIDI, KSDATAFORMAT_SUBTYPE_MIDI_BUS,
    KSDATAFORMAT_TYPE_MUSIC, KSMUSIC_TECHNOLOGY_PORT, KsDataRange, KsDataRangeMusic,
    KsPinCommunication, KsPinDataflow, KsPinDescriptor, PCFILTER_NODE, PcConnectionDescriptor,
    PcFilterDescriptor, PcNodeDescriptor, PcPinDescriptor,
};

/// Pin id of the MIDI render stream (data in: what applications send to the cable).
pub const PIN_RENDER_STREAM: u32 = 0;
/// Pin id of the bridge the render stream flows out through.
pub const PIN_RENDER_BRIDGE: u32 = 1;
/// Pin id of the bridge the capture stream is fed from.
pub const PIN_CAPTURE_BRIDGE: u32 = 2;
/// Pin id of the MIDI capture stream (data out: what applications read from the cable).
pub const PIN_CAPTURE_STREAM: u32 = 3;
/// Number of pin factories.
pub const PIN_COUNT: usize = 4;

/// Render stream instances allowed, per filter and system-wide (as the DDK UART sample).
pub const MAX_RENDER_INSTANCES: u32 = 1;
/// Capture stream instances allowed, per filter and system-wide.
pub const MAX_CAPTURE_INSTANCES: u32 = 1;

/// MIDI channels advertised by the streaming ranges (`KSDATARANGE_MUSIC.Channels`).
pub const MIDI_CHANNELS: u32 = 16;
/// `KSDATARANGE_MUSIC.ChannelMask`: all 16 channels.
pub const MIDI_CHANNEL_MASK: u32 = 0xFFFF;

/// Marker for the ABI descriptor types that may sit in a [`StaticTable`]: plain `repr(C)`
/// data without interior mutability. Sealed, so no other type can claim it.
pub trait DescriptorData: sealed::Sealed {}

mod sealed {
    pub trait Sealed {}
}

macro_rules! descriptor_data {
    ($($t:ty),+) => {
        $( impl sealed::Sealed for $t {} impl DescriptorData for $t {} )+
    };
}
descriptor_data!(PcFilterDescriptor, PcPinDescriptor, *const KsDataRange);
impl<T: DescriptorData, const N: usize> sealed::Sealed for [T; N] {}
impl<T: DescriptorData, const N: usize> DescriptorData for [T; N] {}

/// An immutable descriptor table that contains raw pointers, made shareable so it can live
/// in a `static`. Only this crate can build one.
#[repr(transparent)]
pub struct StaticTable<T: DescriptorData>(T);

// SAFETY: a StaticTable is only ever created by this crate, in `static` items, and is never
// written after initialisation (there is no `&mut` access and the wrapped types have no
// interior mutability). The raw pointers inside point at other immutable statics of this
// module, so sharing the table between threads shares nothing but read-only memory.
unsafe impl<T: DescriptorData> Sync for StaticTable<T> {}

impl<T: DescriptorData> StaticTable<T> {
    const fn new(value: T) -> Self {
        Self(value)
    }

    /// The table.
    pub const fn get(&self) -> &T {
        &self.0
    }

    /// The table's address, as stored in descriptors and handed to PortCls.
    pub const fn as_ptr(&self) -> *const T {
        &self.0
    }
}

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
static STREAM_RANGE_PTRS: StaticTable<[*const KsDataRange; 2]> = StaticTable::new([
    (&raw const MIDI_RANGE).cast::<KsDataRange>(),
    (&raw const DIRECTMUSIC_RANGE).cast::<KsDataRange>(),
]);
static BRIDGE_RANGE_PTRS: StaticTable<[*const KsDataRange; 1]> =
    StaticTable::new([&raw const BRIDGE_RANGE]);

/// The streaming pins' ranges, in descriptor order, for code that must not chase pointers.
static STREAM_RANGES: [&KsDataRange; 2] = [&MIDI_RANGE.data_range, &DIRECTMUSIC_RANGE.data_range];
static BRIDGE_RANGES: [&KsDataRange; 1] = [&BRIDGE_RANGE];

static PIN_CATEGORY: Guid = KSCATEGORY_AUDIO;
static RENDER_PIN_NAME: Guid = KSAUDFNAME_DMUSIC_MPU_OUT;
static CAPTURE_PIN_NAME: Guid = KSAUDFNAME_DMUSIC_MPU_IN;

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

const fn stream_pin(data_flow: KsPinDataflow, name: *const Guid, max: u32) -> PcPinDescriptor {
    PcPinDescriptor {
        max_global_instance_count: max,
        max_filter_instance_count: max,
        min_filter_instance_count: 0,
        automation_table: core::ptr::null(),
        ks_pin_descriptor: ks_pin(
            STREAM_RANGE_PTRS.get(),
            data_flow,
            KsPinCommunication::SINK,
            name,
        ),
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
        KsPinDataflow::IN,
        &raw const RENDER_PIN_NAME,
        MAX_RENDER_INSTANCES,
    ),
    bridge_pin(KsPinDataflow::OUT),
    bridge_pin(KsPinDataflow::IN),
    stream_pin(
        KsPinDataflow::OUT,
        &raw const CAPTURE_PIN_NAME,
        MAX_CAPTURE_INSTANCES,
    ),
]);

/// The topology: render stream → render bridge, capture bridge → capture stream.
pub static CONNECTIONS: [PcConnectionDescriptor; 2] = [
    PcConnectionDescriptor {
        from_node: PCFILTER_NODE,
        from_node_pin: PIN_RENDER_STREAM,
        to_node: PCFILTER_NODE,
        to_node_pin: PIN_RENDER_BRIDGE,
    },
    PcConnectionDescriptor {
        from_node: PCFILTER_NODE,
        from_node_pin: PIN_CAPTURE_BRIDGE,
        to_node: PCFILTER_NODE,
        to_node_pin: PIN_CAPTURE_STREAM,
    },
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
        node_count: 0,
        nodes: core::ptr::null(),
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

/// The data ranges of pin `pin_id` (the same objects its descriptor points at), or `None`
/// for an id outside the filter.
pub fn pin_data_ranges(pin_id: u32) -> Option<&'static [&'static KsDataRange]> {
    match pin_id {
        PIN_RENDER_STREAM | PIN_CAPTURE_STREAM => Some(&STREAM_RANGES),
        PIN_RENDER_BRIDGE | PIN_CAPTURE_BRIDGE => Some(&BRIDGE_RANGES),
        _ => None,
    }
}

/// Whether clients can create instances of pin `pin_id` (the two streaming pins).
pub fn is_streaming_pin(pin_id: u32) -> bool {
    matches!(pin_id, PIN_RENDER_STREAM | PIN_CAPTURE_STREAM)
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
        assert_eq!(d.node_count, 0);
        assert!(d.nodes.is_null());
        assert!(d.automation_table.is_null());
        // SAFETY: all descriptor pointers point at statics of this module.
        let (pins, conns, cats) = unsafe {
            (
                table(d.pins, d.pin_count, "Pins"),
                table(d.connections, d.connection_count, "Connections"),
                table(d.categories, d.category_count, "Categories"),
            )
        };
        assert!(core::ptr::eq(pins, super::pins().as_slice()));
        assert_eq!(conns, &CONNECTIONS);
        assert_eq!(
            cats,
            &[KSCATEGORY_AUDIO, KSCATEGORY_RENDER, KSCATEGORY_CAPTURE]
        );
    }

    #[test]
    fn connections_join_existing_pins_in_the_direction_data_flows() {
        let d = descriptor();
        // SAFETY: as above.
        let (pins, conns) = unsafe {
            (
                table(d.pins, d.pin_count, "Pins"),
                table(d.connections, d.connection_count, "C"),
            )
        };
        for c in conns {
            // No nodes: both ends must be filter pins.
            assert_eq!((c.from_node, c.to_node), (PCFILTER_NODE, PCFILTER_NODE));
            let from = &pins[c.from_node_pin as usize].ks_pin_descriptor;
            let to = &pins[c.to_node_pin as usize].ks_pin_descriptor;
            // Inside the filter, data enters at an IN pin and leaves at an OUT pin.
            assert_eq!(from.data_flow, KsPinDataflow::IN, "{c:?}");
            assert_eq!(to.data_flow, KsPinDataflow::OUT, "{c:?}");
            // Exactly one end of each edge is a bridge.
            let bridges = [from, to]
                .iter()
                .filter(|p| p.communication == KsPinCommunication::NONE)
                .count();
            assert_eq!(bridges, 1, "{c:?}");
        }
        // Every pin is on exactly one edge.
        for id in 0..PIN_COUNT as u32 {
            let n = conns
                .iter()
                .filter(|c| c.from_node_pin == id || c.to_node_pin == id)
                .count();
            assert_eq!(n, 1, "pin {id}");
        }
    }

    #[test]
    fn pins_have_the_documented_roles() {
        let p = pins();
        let ks = |id: u32| &p[id as usize].ks_pin_descriptor;
        assert_eq!(ks(PIN_RENDER_STREAM).data_flow, KsPinDataflow::IN);
        assert_eq!(
            ks(PIN_RENDER_STREAM).communication,
            KsPinCommunication::SINK
        );
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
        }
        // SAFETY: name/category pointers of streaming pins point at static GUIDs.
        unsafe {
            assert_eq!(*ks(PIN_RENDER_STREAM).name, KSAUDFNAME_DMUSIC_MPU_OUT);
            assert_eq!(*ks(PIN_CAPTURE_STREAM).name, KSAUDFNAME_DMUSIC_MPU_IN);
            for id in 0..PIN_COUNT as u32 {
                assert_eq!(*ks(id).category, KSCATEGORY_AUDIO);
            }
        }
        let render = &p[PIN_RENDER_STREAM as usize];
        assert_eq!(render.max_global_instance_count, MAX_RENDER_INSTANCES);
        assert_eq!(render.max_filter_instance_count, MAX_RENDER_INSTANCES);
        let capture = &p[PIN_CAPTURE_STREAM as usize];
        assert_eq!(capture.max_filter_instance_count, MAX_CAPTURE_INSTANCES);
        for pin in p {
            assert!(pin.min_filter_instance_count <= pin.max_filter_instance_count);
            assert!(pin.max_filter_instance_count <= pin.max_global_instance_count);
            assert_eq!(pin.ks_pin_descriptor.interfaces_count, 0);
            assert_eq!(pin.ks_pin_descriptor.mediums_count, 0);
            assert_eq!(pin.ks_pin_descriptor.constrained_data_ranges_count, 0);
            assert!(pin.automation_table.is_null());
        }
        assert!(is_streaming_pin(PIN_RENDER_STREAM) && is_streaming_pin(PIN_CAPTURE_STREAM));
        assert!(!is_streaming_pin(PIN_RENDER_BRIDGE) && !is_streaming_pin(4));
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
                    assert_eq!((m.channels, m.notes, m.channel_mask), (16, 0, 0xFFFF));
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
        let stream = [KSDATAFORMAT_SUBTYPE_MIDI, KSDATAFORMAT_SUBTYPE_DIRECTMUSIC];
        assert_eq!(subs(PIN_RENDER_STREAM), stream);
        assert_eq!(subs(PIN_CAPTURE_STREAM), stream);
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
