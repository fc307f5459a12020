//! Validation of the filter descriptor a miniport returns from `GetDescription`, the checks
//! PortCls and KS make before they build the filter's pin factories, and the default
//! client data range a WinMM/DirectMusic client asks for when it opens a pin.

use mxf_abi::{
    KSDATAFORMAT_SPECIFIER_NONE, KSDATAFORMAT_SUBTYPE_MIDI, KSDATAFORMAT_TYPE_MUSIC,
    KSMUSIC_TECHNOLOGY_PORT, KsDataRange, KsDataRangeMusic, KsPinCommunication, KsPinDataflow,
    PCFILTER_NODE, PcFilterDescriptor, PcPinDescriptor,
};
use std::mem::size_of;

/// What the port learned from the descriptor.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FilterInfo {
    /// Pin factories.
    pub pin_count: u32,
    /// The MIDI render streaming pin (data flows in, clients instantiate it).
    pub render_pin: Option<u32>,
    /// The MIDI capture streaming pin.
    pub capture_pin: Option<u32>,
    /// Data ranges of each pin (the pointers the descriptor holds).
    pub ranges: Vec<Vec<*const KsDataRange>>,
}

/// Reads and validates a descriptor; the error says what is wrong.
///
/// # Safety
/// `d` is null or points to a descriptor whose tables (pins, ranges, connections,
/// categories) are readable for the counts it declares.
pub unsafe fn validate(d: *const PcFilterDescriptor) -> Result<FilterInfo, String> {
    // SAFETY: per the caller.
    let d = unsafe { d.as_ref() }.ok_or("GetDescription returned a null descriptor")?;
    if d.version != 0 {
        return Err(format!("descriptor version {} (expected 0)", d.version));
    }
    if d.pin_size as usize != size_of::<PcPinDescriptor>() {
        return Err(format!(
            "PinSize {} != sizeof(PCPIN_DESCRIPTOR)",
            d.pin_size
        ));
    }
    if d.pin_count == 0 || d.pins.is_null() {
        return Err("no pins".into());
    }
    // SAFETY: `pins` holds `pin_count` descriptors (caller).
    let pins = unsafe { std::slice::from_raw_parts(d.pins, d.pin_count as usize) };
    let mut info = FilterInfo {
        pin_count: d.pin_count,
        render_pin: None,
        capture_pin: None,
        ranges: Vec::new(),
    };
    for (id, p) in pins.iter().enumerate() {
        let k = &p.ks_pin_descriptor;
        if k.data_ranges_count == 0 || k.data_ranges.is_null() {
            return Err(format!("pin {id}: no data ranges"));
        }
        if k.data_flow != KsPinDataflow::IN && k.data_flow != KsPinDataflow::OUT {
            return Err(format!("pin {id}: bad data flow {}", k.data_flow.0));
        }
        if !(0..=4).contains(&k.communication.0) {
            return Err(format!("pin {id}: bad communication {}", k.communication.0));
        }
        if p.min_filter_instance_count > p.max_filter_instance_count {
            return Err(format!("pin {id}: min instances above max"));
        }
        // SAFETY: `data_ranges` holds `data_ranges_count` pointers (caller).
        let rs = unsafe { std::slice::from_raw_parts(k.data_ranges, k.data_ranges_count as usize) };
        let mut midi = false;
        for (i, &r) in rs.iter().enumerate() {
            // SAFETY: each range pointer is readable (caller).
            let r = unsafe { r.as_ref() }.ok_or(format!("pin {id}: range {i} null"))?;
            if (r.format_size as usize) < size_of::<KsDataRange>() {
                return Err(format!("pin {id}: range {i} FormatSize {}", r.format_size));
            }
            midi |= r.major_format == KSDATAFORMAT_TYPE_MUSIC
                && r.sub_format == KSDATAFORMAT_SUBTYPE_MIDI;
        }
        info.ranges.push(rs.to_vec());
        let streaming = k.communication == KsPinCommunication::SINK && midi;
        if streaming && k.data_flow == KsPinDataflow::IN && info.render_pin.is_none() {
            info.render_pin = Some(id as u32);
        }
        if streaming && k.data_flow == KsPinDataflow::OUT && info.capture_pin.is_none() {
            info.capture_pin = Some(id as u32);
        }
    }
    if d.connection_count > 0 {
        if d.connections.is_null() {
            return Err("connections null".into());
        }
        // SAFETY: `connections` holds `connection_count` entries (caller).
        let cs = unsafe { std::slice::from_raw_parts(d.connections, d.connection_count as usize) };
        for (i, c) in cs.iter().enumerate() {
            let ok = |node: u32, pin: u32| {
                if node == PCFILTER_NODE {
                    pin < d.pin_count
                } else {
                    node < d.node_count
                }
            };
            if !ok(c.from_node, c.from_node_pin) || !ok(c.to_node, c.to_node_pin) {
                return Err(format!("connection {i} names a missing pin or node"));
            }
        }
    }
    if d.category_count > 0 && d.categories.is_null() {
        return Err("categories null".into());
    }
    Ok(info)
}

/// The range a MIDI client (wdmaud for WinMM) submits in `KSPROPERTY_PIN_DATAINTERSECTION`.
pub fn client_midi_range() -> KsDataRangeMusic {
    KsDataRangeMusic {
        data_range: KsDataRange {
            format_size: size_of::<KsDataRangeMusic>() as u32,
            flags: 0,
            sample_size: 0,
            reserved: 0,
            major_format: KSDATAFORMAT_TYPE_MUSIC,
            sub_format: KSDATAFORMAT_SUBTYPE_MIDI,
            specifier: KSDATAFORMAT_SPECIFIER_NONE,
        },
        technology: KSMUSIC_TECHNOLOGY_PORT,
        channels: 0,
        notes: 0,
        channel_mask: 0xFFFF,
    }
}
