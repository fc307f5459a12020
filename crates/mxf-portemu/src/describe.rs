//! Validation of the filter descriptor a miniport returns from `GetDescription`, the checks
//! PortCls and KS make before they build the filter's pin factories and node property
//! tables, and the client data ranges a WinMM (wdmaud) or DirectMusic client asks for when
//! it opens a pin.

use mxf_abi::{
    Guid, KSDATAFORMAT_SPECIFIER_NONE, KSDATAFORMAT_SUBTYPE_DIRECTMUSIC, KSDATAFORMAT_SUBTYPE_MIDI,
    KSDATAFORMAT_TYPE_MUSIC, KSMUSIC_TECHNOLOGY_PORT, KsDataRange, KsDataRangeMusic,
    KsPinCommunication, KsPinDataflow, PCFILTER_NODE, PcAutomationTable, PcConnectionDescriptor,
    PcFilterDescriptor, PcNodeDescriptor, PcPinDescriptor, PcPropertyItem,
};
use std::mem::size_of;

/// The two kinds of MIDI client a DMus port serves.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Hash)]
pub enum Client {
    /// WinMM through wdmaud: byte-stream MIDI (`KSDATAFORMAT_SUBTYPE_MIDI`).
    WinMm,
    /// DirectMusic: `KSDATAFORMAT_SUBTYPE_DIRECTMUSIC`, and the Synth properties.
    DirectMusic,
}

impl Client {
    /// Both, in a fixed order (an index into per-client tables).
    pub const ALL: [Client; 2] = [Client::WinMm, Client::DirectMusic];

    /// The subformat the client asks for.
    pub fn sub_format(self) -> Guid {
        match self {
            Client::WinMm => KSDATAFORMAT_SUBTYPE_MIDI,
            Client::DirectMusic => KSDATAFORMAT_SUBTYPE_DIRECTMUSIC,
        }
    }

    /// Position in [`Client::ALL`].
    pub fn index(self) -> usize {
        match self {
            Client::WinMm => 0,
            Client::DirectMusic => 1,
        }
    }
}

/// What the port learned from the descriptor.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FilterInfo {
    /// Pin factories.
    pub pin_count: u32,
    /// The MIDI render streaming pin (data flows in, clients instantiate it, MIDI range).
    pub render_pin: Option<u32>,
    /// The MIDI capture streaming pin.
    pub capture_pin: Option<u32>,
    /// The DirectMusic render streaming pin (DirectMusic range).
    pub dmus_render_pin: Option<u32>,
    /// The DirectMusic capture streaming pin.
    pub dmus_capture_pin: Option<u32>,
    /// Data ranges of each pin (the pointers the descriptor holds).
    pub ranges: Vec<Vec<*const KsDataRange>>,
    /// `MaxFilterInstanceCount` of each pin.
    pub max_instances: Vec<u32>,
    /// `MaxGlobalInstanceCount` of each pin.
    pub max_global_instances: Vec<u32>,
    /// The automation table of each node (null: none).
    pub node_tables: Vec<*const PcAutomationTable>,
    /// The topology.
    pub connections: Vec<PcConnectionDescriptor>,
}

impl FilterInfo {
    /// The streaming pin `client` opens in direction `capture`.
    pub fn pin_for(&self, client: Client, capture: bool) -> Option<u32> {
        match (client, capture) {
            (Client::WinMm, false) => self.render_pin,
            (Client::WinMm, true) => self.capture_pin,
            (Client::DirectMusic, false) => self.dmus_render_pin,
            (Client::DirectMusic, true) => self.dmus_capture_pin,
        }
    }

    /// How many instances of pin `pin` KS lets exist at once: the smaller of its
    /// `MaxFilterInstanceCount` and `MaxGlobalInstanceCount` (the port has one filter, so
    /// the global count bounds the same instances); 0 for a pin that does not exist.
    pub fn instance_limit(&self, pin: u32) -> u32 {
        let at = |v: &Vec<u32>| v.get(pin as usize).copied().unwrap_or(0);
        at(&self.max_instances).min(at(&self.max_global_instances))
    }

    /// The node a connection joins to pin `pin` directly (what DirectMusic looks up to
    /// address the pin's synthesizer), if any.
    pub fn node_of_pin(&self, pin: u32) -> Option<u32> {
        self.connections.iter().find_map(|c| {
            if c.from_node == PCFILTER_NODE && c.from_node_pin == pin && c.to_node != PCFILTER_NODE
            {
                Some(c.to_node)
            } else if c.to_node == PCFILTER_NODE
                && c.to_node_pin == pin
                && c.from_node != PCFILTER_NODE
            {
                Some(c.from_node)
            } else {
                None
            }
        })
    }
}

/// Reads and validates a descriptor; the error says what is wrong.
///
/// # Safety
/// `d` is null or points to a descriptor whose tables (pins, ranges, connections,
/// categories) are readable for the counts it declares.
pub unsafe fn validate(d: *const PcFilterDescriptor) -> Result<FilterInfo, String> {
    // SAFETY: the caller guarantees `d` is null (refused below) or points to a readable
    // descriptor.
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
        dmus_render_pin: None,
        dmus_capture_pin: None,
        ranges: Vec::new(),
        max_instances: Vec::new(),
        max_global_instances: Vec::new(),
        node_tables: Vec::new(),
        connections: Vec::new(),
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
        let (mut midi, mut dmus) = (false, false);
        for (i, &r) in rs.iter().enumerate() {
            // SAFETY: each range pointer is readable (caller).
            let r = unsafe { r.as_ref() }.ok_or(format!("pin {id}: range {i} null"))?;
            if (r.format_size as usize) < size_of::<KsDataRange>() {
                return Err(format!("pin {id}: range {i} FormatSize {}", r.format_size));
            }
            let music = r.major_format == KSDATAFORMAT_TYPE_MUSIC;
            midi |= music && r.sub_format == KSDATAFORMAT_SUBTYPE_MIDI;
            dmus |= music && r.sub_format == KSDATAFORMAT_SUBTYPE_DIRECTMUSIC;
        }
        info.ranges.push(rs.to_vec());
        info.max_instances.push(p.max_filter_instance_count);
        info.max_global_instances.push(p.max_global_instance_count);
        let sink = k.communication == KsPinCommunication::SINK;
        let id = Some(id as u32);
        let (render, capture) = if k.data_flow == KsPinDataflow::IN {
            (true, false)
        } else {
            (false, true)
        };
        for (has, slot) in [
            (midi && render, &mut info.render_pin),
            (midi && capture, &mut info.capture_pin),
            (dmus && render, &mut info.dmus_render_pin),
            (dmus && capture, &mut info.dmus_capture_pin),
        ] {
            if sink && has && slot.is_none() {
                *slot = id;
            }
        }
    }
    if d.node_count > 0 {
        if d.node_size as usize != size_of::<PcNodeDescriptor>() {
            return Err(format!(
                "NodeSize {} != sizeof(PCNODE_DESCRIPTOR)",
                d.node_size
            ));
        }
        if d.nodes.is_null() {
            return Err("nodes null".into());
        }
        // SAFETY: `nodes` holds `node_count` descriptors (caller).
        let ns = unsafe { std::slice::from_raw_parts(d.nodes, d.node_count as usize) };
        for (i, n) in ns.iter().enumerate() {
            if n.node_type.is_null() {
                return Err(format!("node {i}: no type"));
            }
            // SAFETY: a non-null table pointer is readable (caller).
            if let Some(t) = unsafe { n.automation_table.as_ref() } {
                // SAFETY: as above.
                unsafe { validate_table(t) }.map_err(|e| format!("node {i}: {e}"))?;
            }
            info.node_tables.push(n.automation_table);
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
        info.connections = cs.to_vec();
    }
    if d.category_count > 0 && d.categories.is_null() {
        return Err("categories null".into());
    }
    Ok(info)
}

/// Checks an automation table's property items the way PortCls reads them.
///
/// # Safety
/// The table's property array is readable for its declared count and item size.
unsafe fn validate_table(t: &PcAutomationTable) -> Result<(), String> {
    if t.property_count == 0 {
        return Ok(());
    }
    if (t.property_item_size as usize) < size_of::<PcPropertyItem>() {
        return Err(format!("PropertyItemSize {}", t.property_item_size));
    }
    if t.properties.is_null() {
        return Err("properties null".into());
    }
    for i in 0..t.property_count as usize {
        // SAFETY: item `i` lies inside the array (caller), at the declared stride.
        let item = unsafe {
            &*t.properties
                .cast::<u8>()
                .wrapping_add(i * t.property_item_size as usize)
                .cast::<PcPropertyItem>()
        };
        if item.set.is_null() || item.handler.is_none() {
            return Err(format!("property item {i}: null set or handler"));
        }
    }
    Ok(())
}

/// The range a MIDI client (wdmaud for WinMM) submits in `KSPROPERTY_PIN_DATAINTERSECTION`.
pub fn client_midi_range() -> KsDataRangeMusic {
    client_range(Client::WinMm)
}

/// The range `client` submits in `KSPROPERTY_PIN_DATAINTERSECTION`.
pub fn client_range(client: Client) -> KsDataRangeMusic {
    KsDataRangeMusic {
        data_range: KsDataRange {
            format_size: size_of::<KsDataRangeMusic>() as u32,
            flags: 0,
            sample_size: 0,
            reserved: 0,
            major_format: KSDATAFORMAT_TYPE_MUSIC,
            sub_format: client.sub_format(),
            specifier: KSDATAFORMAT_SPECIFIER_NONE,
        },
        technology: KSMUSIC_TECHNOLOGY_PORT,
        channels: 0,
        notes: 0,
        channel_mask: 0xFFFF,
    }
}
