//! `KSPROPSETID_Synth` on the two synthesizer nodes: what DirectMusic asks a DMus port pin
//! before it plays through it (dmusic.dll's kernel port proxy sends these as
//! `KSNODEPROPERTY` requests on the pin handle; PortCls hands them to the handler of the
//! node's automation table in a `PCPROPERTY_REQUEST`).
//!
//! The items are exactly DMusUART's, with its verbs:
//!
//! | property | verbs | value | needs a stream (`MinorTarget`) |
//! |---|---|---|---|
//! | `KSPROPERTY_SYNTH_CAPS` | GET, BASICSUPPORT | `SYNTHCAPS` | no |
//! | `KSPROPERTY_SYNTH_PORTPARAMETERS` | GET, BASICSUPPORT | `SYNTH_PORTPARAMS` (the request's in the instance data) | yes |
//! | `KSPROPERTY_SYNTH_CHANNELGROUPS` | GET, SET, BASICSUPPORT | `ULONG` (always 1) | no |
//! | `KSPROPERTY_SYNTH_LATENCYCLOCK` | GET, BASICSUPPORT | `ULONGLONG`: master-clock now | yes |
//!
//! `KSPROPERTY_SYNTH_RUNNINGSTATS` and the others are not in the table (DMusUART has none of
//! them), so the port answers `STATUS_NOT_FOUND` for them before any handler runs.
//!
//! Answers (documented KS property conventions; DMusUART's answer where it has one, a
//! checked error where DMusUART has none or crashes):
//! - Buffer protocol for every GET and BASICSUPPORT: `ValueSize` 0 is a size query,
//!   `STATUS_BUFFER_OVERFLOW` with `ValueSize` = the size needed; a non-zero size below it
//!   `STATUS_BUFFER_TOO_SMALL` (`ValueSize` 0); a null `Value` with a size
//!   `STATUS_INVALID_PARAMETER`. On success `ValueSize` is the bytes written.
//! - BASICSUPPORT: a `ULONG`-sized buffer gets the access flags (the item's verbs), a
//!   `KSPROPERTY_DESCRIPTION`-sized one the description header (`DescriptionSize` 40,
//!   `PropTypeSet` `{KSPROPTYPESETID_General, VT_*}`, no member lists); the size query
//!   answers the description's size.
//! - A verb the item lacks (SET on CAPS, PORTPARAMETERS, LATENCYCLOCK), or a `Verb` that is
//!   not exactly one of GET/SET/BASICSUPPORT (the `KSPROPERTY_TYPE_TOPOLOGY` bit aside):
//!   `STATUS_INVALID_DEVICE_REQUEST`.
//! - A node other than the two synthesizer nodes, another property set or an id not in the
//!   table: `STATUS_NOT_FOUND` (what the port answers when a node lacks the property).
//! - A stream property without one of our streams as `MinorTarget` (a request on the filter
//!   handle): `STATUS_INVALID_DEVICE_REQUEST`, as DMusUART.
//! - PORTPARAMETERS: the instance data must hold a `SYNTH_PORTPARAMS` (DMusUART reads it
//!   unchecked), else `STATUS_INVALID_PARAMETER`. The answer is the request with
//!   `ValidParams` reduced to `SYNTH_PORTPARAMS_CHANNELGROUPS` and `ChannelGroups` 1 (a MIDI
//!   port has one channel group), as DMusUART; `STATUS_NOT_ALL_ASSIGNED` (a success code) if
//!   the caller asked for another valid channel-group count, as the docs describe.
//! - CHANNELGROUPS SET: 1 is accepted; any other count is `STATUS_INVALID_PARAMETER`
//!   (DMusUART accepts anything and writes 1 back into the caller's buffer); a value shorter
//!   than a `ULONG` is `STATUS_BUFFER_TOO_SMALL`.
//! - LATENCYCLOCK: the master clock of the stream's port, read now: events are not held
//!   back by the port (see the render stream), so "now" is the earliest time an event sent
//!   now can play. A clock failure returns the clock's status.
//!
//! Layer: under the filter description (its synth nodes point at [`SYNTH_PROPERTIES`]); the
//! handler finds a request's stream through `miniport::head` only, never the miniport object.

use crate::ids::{NODE_INPUT, NODE_SYNTH};
use crate::miniport::head::stream_clock_of_request;
use crate::table::StaticTable;
use mxf_abi::NtError;
use mxf_abi::{
    Guid, KSPROPERTY_SYNTH_CAPS, KSPROPERTY_SYNTH_CHANNELGROUPS, KSPROPERTY_SYNTH_LATENCYCLOCK,
    KSPROPERTY_SYNTH_PORTPARAMETERS, KSPROPERTY_TYPE_BASICSUPPORT, KSPROPERTY_TYPE_GET,
    KSPROPERTY_TYPE_SET, KSPROPERTY_TYPE_TOPOLOGY, KSPROPSETID_SYNTH, KSPROPTYPESETID_GENERAL,
    KsPropertyDescription, NtStatus, PcPropertyItem, PcPropertyRequest, STATUS_BUFFER_OVERFLOW,
    STATUS_BUFFER_TOO_SMALL, STATUS_INVALID_DEVICE_REQUEST, STATUS_INVALID_PARAMETER,
    STATUS_NOT_ALL_ASSIGNED, STATUS_NOT_FOUND, STATUS_SUCCESS, SYNTH_DESCRIPTION_LEN,
    SYNTH_PC_EXTERNAL, SYNTH_PORTPARAMS_CHANNELGROUPS, SynthCaps, SynthPortParams, VT_BLOB, VT_UI4,
    VT_UI8,
};

/// `SYNTHCAPS.Guid` of the render-side synthesizer node: mxfloop's own class id (DMusUART
/// uses `CLSID_MiniportDriverDMusUART`; DirectMusic tells ports apart by this value).
pub const SYNTH_GUID_OUT: Guid = Guid::from_u128(0x6d786630_0010_4d58_8000_6d78666c6f6f);
/// `SYNTHCAPS.Guid` of the capture-side node.
pub const SYNTH_GUID_IN: Guid = Guid::from_u128(0x6d786630_0011_4d58_8000_6d78666c6f6f);
/// `SYNTHCAPS.Description` of the render-side node.
pub const SYNTH_DESCRIPTION_OUT: &str = "mxfloop DMusic Out";
/// `SYNTHCAPS.Description` of the capture-side node.
pub const SYNTH_DESCRIPTION_IN: &str = "mxfloop DMusic In";
/// Channel groups of a MIDI port (16 channels).
pub const CHANNEL_GROUPS: u32 = 1;

const GET_BASIC: u32 = KSPROPERTY_TYPE_GET | KSPROPERTY_TYPE_BASICSUPPORT;

static SYNTH_SET: Guid = KSPROPSETID_SYNTH;

const fn item(id: u32, flags: u32) -> PcPropertyItem {
    PcPropertyItem {
        set: &raw const SYNTH_SET,
        id,
        flags,
        handler: Some(property_handler),
    }
}

/// The synthesizer nodes' property items (see the module docs).
pub static SYNTH_PROPERTIES: StaticTable<[PcPropertyItem; 4]> = StaticTable::new([
    item(KSPROPERTY_SYNTH_CAPS, GET_BASIC),
    item(KSPROPERTY_SYNTH_PORTPARAMETERS, GET_BASIC),
    item(
        KSPROPERTY_SYNTH_CHANNELGROUPS,
        GET_BASIC | KSPROPERTY_TYPE_SET,
    ),
    item(KSPROPERTY_SYNTH_LATENCYCLOCK, GET_BASIC),
]);

/// The verbs of property `id` in our table, or `None` if it is not there.
pub fn access_flags(id: u32) -> Option<u32> {
    SYNTH_PROPERTIES
        .get()
        .iter()
        .find(|i| i.id == id)
        .map(|i| i.flags)
}

/// One property request, pointer-free: what [`property_handler`] read from the
/// `PCPROPERTY_REQUEST`.
pub struct Request<'a> {
    /// `PropertyItem->Id`.
    pub id: u32,
    /// `Node`.
    pub node: u32,
    /// `Verb`.
    pub verb: u32,
    /// The instance data (empty if none).
    pub instance: &'a [u8],
    /// The value buffer: `None` if `Value` is null, else `ValueSize` bytes.
    pub value: Option<&'a mut [u8]>,
    /// `ValueSize` as given.
    pub value_size: u32,
    /// The master-clock reader of the stream the request is for (`MinorTarget`), if that is
    /// one of our streams.
    pub stream_clock: Option<&'a dyn Fn() -> Result<i64, NtError>>,
}

/// Handles `req` (see the module docs): the status and the `ValueSize` to report.
pub fn handle(req: Request<'_>) -> (NtStatus, u32) {
    if req.node != NODE_SYNTH && req.node != NODE_INPUT {
        return (STATUS_NOT_FOUND, 0);
    }
    let Some(access) = access_flags(req.id) else {
        return (STATUS_NOT_FOUND, 0);
    };
    let verb = req.verb & !KSPROPERTY_TYPE_TOPOLOGY;
    if !matches!(
        verb,
        KSPROPERTY_TYPE_GET | KSPROPERTY_TYPE_SET | KSPROPERTY_TYPE_BASICSUPPORT
    ) || access & verb == 0
    {
        return (STATUS_INVALID_DEVICE_REQUEST, 0);
    }
    let needs_stream = matches!(
        req.id,
        KSPROPERTY_SYNTH_PORTPARAMETERS | KSPROPERTY_SYNTH_LATENCYCLOCK
    );
    if needs_stream && req.stream_clock.is_none() {
        return (STATUS_INVALID_DEVICE_REQUEST, 0);
    }
    match verb {
        KSPROPERTY_TYPE_BASICSUPPORT => basic_support(req, access),
        KSPROPERTY_TYPE_SET => set_channel_groups(req),
        _ => get(req),
    }
}

/// The buffer protocol: the first `need` bytes of the value buffer, or the answer.
fn value_buf(
    value: Option<&mut [u8]>,
    size: u32,
    need: usize,
) -> Result<&mut [u8], (NtStatus, u32)> {
    if size == 0 {
        return Err((STATUS_BUFFER_OVERFLOW, need as u32));
    }
    if (size as usize) < need {
        return Err((STATUS_BUFFER_TOO_SMALL, 0));
    }
    let buf = value.ok_or((STATUS_INVALID_PARAMETER, 0))?;
    buf.get_mut(..need).ok_or((STATUS_INVALID_PARAMETER, 0))
}

fn put_u32(b: &mut [u8], at: usize, v: u32) {
    b[at..at + 4].copy_from_slice(&v.to_le_bytes());
}

fn guid_bytes(g: &Guid) -> [u8; 16] {
    let mut b = [0u8; 16];
    b[0..4].copy_from_slice(&g.data1.to_le_bytes());
    b[4..6].copy_from_slice(&g.data2.to_le_bytes());
    b[6..8].copy_from_slice(&g.data3.to_le_bytes());
    b[8..16].copy_from_slice(&g.data4);
    b
}

fn value_type(id: u32) -> u32 {
    match id {
        KSPROPERTY_SYNTH_CHANNELGROUPS => VT_UI4,
        KSPROPERTY_SYNTH_LATENCYCLOCK => VT_UI8,
        _ => VT_BLOB,
    }
}

fn basic_support(req: Request<'_>, access: u32) -> (NtStatus, u32) {
    const FULL: usize = core::mem::size_of::<KsPropertyDescription>();
    const FLAGS: usize = core::mem::size_of::<u32>();
    let need = if req.value_size as usize >= FULL || req.value_size == 0 {
        FULL
    } else {
        FLAGS
    };
    let buf = match value_buf(req.value, req.value_size, need) {
        Ok(b) => b,
        Err(answer) => return answer,
    };
    put_u32(buf, 0, access);
    if need == FULL {
        // KSPROPERTY_DESCRIPTION: AccessFlags, DescriptionSize, PropTypeSet {Set, Id, Flags},
        // MembersListCount, Reserved.
        put_u32(buf, 4, FULL as u32);
        buf[8..24].copy_from_slice(&guid_bytes(&KSPROPTYPESETID_GENERAL));
        put_u32(buf, 24, value_type(req.id));
        put_u32(buf, 28, 0);
        put_u32(buf, 32, 0);
        put_u32(buf, 36, 0);
    }
    (STATUS_SUCCESS, need as u32)
}

fn get(req: Request<'_>) -> (NtStatus, u32) {
    match req.id {
        KSPROPERTY_SYNTH_CAPS => {
            let need = core::mem::size_of::<SynthCaps>();
            let buf = match value_buf(req.value, req.value_size, need) {
                Ok(b) => b,
                Err(answer) => return answer,
            };
            buf.copy_from_slice(&caps_bytes(&caps(req.node)));
            (STATUS_SUCCESS, need as u32)
        }
        KSPROPERTY_SYNTH_PORTPARAMETERS => port_parameters(req),
        KSPROPERTY_SYNTH_CHANNELGROUPS => {
            let buf = match value_buf(req.value, req.value_size, 4) {
                Ok(b) => b,
                Err(answer) => return answer,
            };
            put_u32(buf, 0, CHANNEL_GROUPS);
            (STATUS_SUCCESS, 4)
        }
        _ => {
            // LATENCYCLOCK (the only other GET item); `handle` checked the stream.
            let Some(clock) = req.stream_clock else {
                return (STATUS_INVALID_DEVICE_REQUEST, 0);
            };
            let buf = match value_buf(req.value, req.value_size, 8) {
                Ok(b) => b,
                Err(answer) => return answer,
            };
            match clock() {
                Ok(t) => {
                    buf.copy_from_slice(&t.to_le_bytes());
                    (STATUS_SUCCESS, 8)
                }
                Err(status) => (status.into(), 0),
            }
        }
    }
}

fn read_u32(b: &[u8], at: usize) -> u32 {
    let mut w = [0u8; 4];
    w.copy_from_slice(&b[at..at + 4]);
    u32::from_le_bytes(w)
}

fn port_parameters(req: Request<'_>) -> (NtStatus, u32) {
    const N: usize = core::mem::size_of::<SynthPortParams>();
    let Some(inst) = req.instance.get(..N) else {
        return (STATUS_INVALID_PARAMETER, 0);
    };
    let buf = match value_buf(req.value, req.value_size, N) {
        Ok(b) => b,
        Err(answer) => return answer,
    };
    let asked = SynthPortParams {
        valid_params: read_u32(inst, 0),
        voices: read_u32(inst, 4),
        channel_groups: read_u32(inst, 8),
        audio_channels: read_u32(inst, 12),
        sample_rate: read_u32(inst, 16),
        effects_flags: read_u32(inst, 20),
        share: read_u32(inst, 24),
    };
    let mut got = asked;
    got.valid_params &= SYNTH_PORTPARAMS_CHANNELGROUPS;
    got.channel_groups = CHANNEL_GROUPS;
    let adjusted = asked.valid_params & SYNTH_PORTPARAMS_CHANNELGROUPS != 0
        && asked.channel_groups != CHANNEL_GROUPS;
    for (i, v) in [
        got.valid_params,
        got.voices,
        got.channel_groups,
        got.audio_channels,
        got.sample_rate,
        got.effects_flags,
        got.share,
    ]
    .into_iter()
    .enumerate()
    {
        put_u32(buf, 4 * i, v);
    }
    let status = if adjusted {
        STATUS_NOT_ALL_ASSIGNED
    } else {
        STATUS_SUCCESS
    };
    (status, N as u32)
}

fn set_channel_groups(req: Request<'_>) -> (NtStatus, u32) {
    let value = match req.value {
        Some(v) if req.value_size >= 4 => v,
        None if req.value_size >= 4 => return (STATUS_INVALID_PARAMETER, 0),
        _ => return (STATUS_BUFFER_TOO_SMALL, 0),
    };
    let Some(groups) = value.get(..4).map(|b| read_u32(b, 0)) else {
        return (STATUS_BUFFER_TOO_SMALL, 0);
    };
    if groups == CHANNEL_GROUPS {
        (STATUS_SUCCESS, 4)
    } else {
        (STATUS_INVALID_PARAMETER, 0)
    }
}

/// The `SYNTHCAPS` of node `node` (render side for [`NODE_SYNTH`], capture side otherwise).
pub fn caps(node: u32) -> SynthCaps {
    let (guid, text) = if node == NODE_SYNTH {
        (SYNTH_GUID_OUT, SYNTH_DESCRIPTION_OUT)
    } else {
        (SYNTH_GUID_IN, SYNTH_DESCRIPTION_IN)
    };
    let mut description = [0u16; SYNTH_DESCRIPTION_LEN];
    // Leave at least one NUL at the end.
    for (d, c) in description[..SYNTH_DESCRIPTION_LEN - 1]
        .iter_mut()
        .zip(text.encode_utf16())
    {
        *d = c;
    }
    SynthCaps {
        guid,
        flags: SYNTH_PC_EXTERNAL,
        memory_size: 0,
        max_channel_groups: CHANNEL_GROUPS,
        max_voices: u32::MAX,
        max_audio_channels: u32::MAX,
        effect_flags: 0,
        description,
    }
}

/// The in-memory image of a `SYNTHCAPS` (little-endian, field by field: the value buffer
/// needs no alignment).
pub fn caps_bytes(c: &SynthCaps) -> [u8; core::mem::size_of::<SynthCaps>()] {
    let mut b = [0u8; core::mem::size_of::<SynthCaps>()];
    b[0..16].copy_from_slice(&guid_bytes(&c.guid));
    for (i, v) in [
        c.flags,
        c.memory_size,
        c.max_channel_groups,
        c.max_voices,
        c.max_audio_channels,
        c.effect_flags,
    ]
    .into_iter()
    .enumerate()
    {
        put_u32(&mut b, 16 + 4 * i, v);
    }
    for (i, u) in c.description.iter().enumerate() {
        b[40 + 2 * i..42 + 2 * i].copy_from_slice(&u.to_le_bytes());
    }
    b
}

/// `PCPFNPROPERTY_HANDLER` of every item of [`SYNTH_PROPERTIES`]. `PASSIVE_LEVEL` (PortCls
/// calls property handlers from the property IRP).
///
/// # Safety
/// `request` is null or a `PCPROPERTY_REQUEST` as PortCls builds it: `PropertyItem` null or
/// one of our items, `Instance`/`Value` null or valid for `InstanceSize`/`ValueSize` bytes,
/// `MajorTarget` null or our miniport, `MinorTarget` null or a live COM object.
pub unsafe extern "system" fn property_handler(request: *mut PcPropertyRequest) -> NtStatus {
    // SAFETY: per the caller, null or a valid request we may update.
    let Some(r) = (unsafe { request.as_mut() }) else {
        return STATUS_INVALID_PARAMETER;
    };
    // SAFETY: per the caller, null or one of our static items.
    let Some(item) = (unsafe { r.property_item.as_ref() }) else {
        return STATUS_INVALID_PARAMETER;
    };
    // SAFETY: a non-null item's set points at a GUID (ours: a static).
    if item.set.is_null() || unsafe { *item.set } != KSPROPSETID_SYNTH {
        r.value_size = 0;
        return STATUS_NOT_FOUND;
    }
    let instance: &[u8] = if r.instance.is_null() || r.instance_size == 0 {
        &[]
    } else {
        // SAFETY: per the caller, `Instance` is readable for `InstanceSize` bytes.
        unsafe { core::slice::from_raw_parts(r.instance.cast::<u8>(), r.instance_size as usize) }
    };
    let value = if r.value.is_null() || r.value_size == 0 {
        None
    } else {
        // SAFETY: per the caller, `Value` is writable for `ValueSize` bytes, and nothing
        // else accesses it during the call.
        Some(unsafe {
            core::slice::from_raw_parts_mut(r.value.cast::<u8>(), r.value_size as usize)
        })
    };
    // SAFETY: per the caller, the targets are null, our miniport, or live COM objects.
    let clock = unsafe { stream_clock_of_request(r.major_target, r.minor_target) };
    let read = clock.as_ref().map(|c| move || c.get_time());
    let (status, size) = handle(Request {
        id: item.id,
        node: r.node,
        verb: r.verb,
        instance,
        value,
        value_size: r.value_size,
        stream_clock: read
            .as_ref()
            .map(|f| f as &dyn Fn() -> Result<i64, NtError>),
    });
    r.value_size = size;
    status
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use mxf_abi::{KSPROPERTY_SYNTH_RUNNINGSTATS, KSPROPERTY_SYNTH_VOLUME, STATUS_UNSUCCESSFUL};
    use std::vec;
    use std::vec::Vec;

    const GET: u32 = KSPROPERTY_TYPE_GET;
    const SET: u32 = KSPROPERTY_TYPE_SET;
    const BASIC: u32 = KSPROPERTY_TYPE_BASICSUPPORT;

    fn now() -> Result<i64, NtError> {
        Ok(0x0123_4567_89ab)
    }

    /// Runs one request with a value buffer of `len` bytes (`None`: a null `Value` with
    /// `ValueSize` = `len`); returns the status, the reported size and the buffer.
    fn run(
        id: u32,
        node: u32,
        verb: u32,
        instance: &[u8],
        len: Option<usize>,
        size: u32,
        stream: bool,
    ) -> (NtStatus, u32, Vec<u8>) {
        let mut buf = vec![0xEEu8; len.unwrap_or(0)];
        let clock: &dyn Fn() -> Result<i64, NtError> = &now;
        let (st, n) = handle(Request {
            id,
            node,
            verb,
            instance,
            value: len.map(|_| buf.as_mut_slice()),
            value_size: size,
            stream_clock: stream.then_some(clock),
        });
        (st, n, buf)
    }

    fn get(id: u32, node: u32, len: usize, stream: bool) -> (NtStatus, u32, Vec<u8>) {
        run(id, node, GET, &[], Some(len), len as u32, stream)
    }

    fn params(valid: u32, groups: u32) -> Vec<u8> {
        [valid, 64, groups, 2, 22050, 0, 1]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect()
    }

    #[test]
    fn caps_get_describes_an_external_one_group_port_per_node() {
        let (st, n, b) = get(KSPROPERTY_SYNTH_CAPS, NODE_SYNTH, 300, false);
        assert_eq!((st, n), (STATUS_SUCCESS, 296));
        assert_eq!(&b[..296], &caps_bytes(&caps(NODE_SYNTH))[..]);
        assert!(b[296..].iter().all(|&x| x == 0xEE), "wrote past SYNTHCAPS");
        let c = caps(NODE_SYNTH);
        assert_eq!(c.guid, SYNTH_GUID_OUT);
        assert_eq!(c.flags, SYNTH_PC_EXTERNAL);
        assert_eq!((c.memory_size, c.max_channel_groups), (0, 1));
        assert_eq!(
            (c.max_voices, c.max_audio_channels, c.effect_flags),
            (!0, !0, 0)
        );
        let text: Vec<u16> = SYNTH_DESCRIPTION_OUT.encode_utf16().collect();
        assert_eq!(&c.description[..text.len()], &text[..]);
        assert_eq!(c.description[text.len()], 0, "NUL-terminated");
        // Bytes 16.. are Flags, then the description at 40 (UTF-16LE).
        assert_eq!(&b[16..20], &SYNTH_PC_EXTERNAL.to_le_bytes());
        assert_eq!(b[40], b'm');
        let (st, _, b) = get(KSPROPERTY_SYNTH_CAPS, NODE_INPUT, 296, true);
        assert_eq!(st, STATUS_SUCCESS);
        assert_eq!(&b[..], &caps_bytes(&caps(NODE_INPUT))[..]);
        assert_eq!(caps(NODE_INPUT).guid, SYNTH_GUID_IN);
        assert_ne!(SYNTH_GUID_IN, SYNTH_GUID_OUT);
    }

    #[test]
    fn every_get_answers_the_size_query_and_refuses_short_or_null_buffers() {
        for (id, need, stream) in [
            (KSPROPERTY_SYNTH_CAPS, 296u32, false),
            (KSPROPERTY_SYNTH_CHANNELGROUPS, 4, false),
            (KSPROPERTY_SYNTH_LATENCYCLOCK, 8, true),
            (KSPROPERTY_SYNTH_PORTPARAMETERS, 28, true),
        ] {
            let inst = params(0, 0);
            for node in [NODE_SYNTH, NODE_INPUT] {
                // Size query: no buffer at all, or a zero-length one.
                for len in [None, Some(0)] {
                    let (st, n, _) = run(id, node, GET, &inst, len, 0, stream);
                    assert_eq!((st, n), (STATUS_BUFFER_OVERFLOW, need), "id {id} {len:?}");
                }
                for short in [1, need - 1] {
                    let (st, n, b) = run(id, node, GET, &inst, Some(short as usize), short, stream);
                    assert_eq!((st, n), (STATUS_BUFFER_TOO_SMALL, 0), "id {id}");
                    assert!(b.iter().all(|&x| x == 0xEE), "id {id}: touched");
                }
                // A size but a null Value.
                let (st, n, _) = run(id, node, GET, &inst, None, need, stream);
                assert_eq!((st, n), (STATUS_INVALID_PARAMETER, 0), "id {id}");
                // The exact size works.
                let (st, n, _) = run(id, node, GET, &inst, Some(need as usize), need, stream);
                assert!(mxf_abi::nt_success(st), "id {id}: {st:#x}");
                assert_eq!(n, need);
            }
        }
    }

    #[test]
    fn channel_groups_get_is_one_and_set_accepts_only_one() {
        let (st, n, b) = get(KSPROPERTY_SYNTH_CHANNELGROUPS, NODE_SYNTH, 4, false);
        assert_eq!((st, n, b), (STATUS_SUCCESS, 4, 1u32.to_le_bytes().to_vec()));
        let set = |v: &[u8], size: u32| {
            let mut buf = v.to_vec();
            let len = buf.len();
            handle(Request {
                id: KSPROPERTY_SYNTH_CHANNELGROUPS,
                node: NODE_SYNTH,
                verb: SET | KSPROPERTY_TYPE_TOPOLOGY,
                instance: &[],
                value: (len > 0).then_some(buf.as_mut_slice()),
                value_size: size,
                stream_clock: None,
            })
        };
        assert_eq!(set(&1u32.to_le_bytes(), 4), (STATUS_SUCCESS, 4));
        for bad in [0u32, 2, 16, u32::MAX] {
            assert_eq!(set(&bad.to_le_bytes(), 4), (STATUS_INVALID_PARAMETER, 0));
        }
        assert_eq!(set(&[], 0), (STATUS_BUFFER_TOO_SMALL, 0));
        assert_eq!(set(&[1, 0], 2), (STATUS_BUFFER_TOO_SMALL, 0));
        assert_eq!(set(&[], 4), (STATUS_INVALID_PARAMETER, 0), "null Value");
    }

    #[test]
    fn latency_clock_reads_the_streams_clock_and_passes_its_failure_on() {
        let (st, n, b) = get(KSPROPERTY_SYNTH_LATENCYCLOCK, NODE_SYNTH, 8, true);
        assert_eq!((st, n), (STATUS_SUCCESS, 8));
        assert_eq!(b, 0x0123_4567_89abi64.to_le_bytes());
        // No stream (a request on the filter handle): DMusUART's answer.
        let (st, n, b) = get(KSPROPERTY_SYNTH_LATENCYCLOCK, NODE_SYNTH, 8, false);
        assert_eq!((st, n), (STATUS_INVALID_DEVICE_REQUEST, 0));
        assert!(b.iter().all(|&x| x == 0xEE));
        let fail = || Err(NtError::UNSUCCESSFUL);
        let mut buf = [0u8; 8];
        let r = handle(Request {
            id: KSPROPERTY_SYNTH_LATENCYCLOCK,
            node: NODE_INPUT,
            verb: GET,
            instance: &[],
            value: Some(&mut buf),
            value_size: 8,
            stream_clock: Some(&fail),
        });
        assert_eq!(r, (STATUS_UNSUCCESSFUL, 0));
    }

    #[test]
    fn port_parameters_echo_the_request_with_one_channel_group() {
        let run_pp = |inst: &[u8], stream: bool| {
            run(
                KSPROPERTY_SYNTH_PORTPARAMETERS,
                NODE_SYNTH,
                GET,
                inst,
                Some(28),
                28,
                stream,
            )
        };
        let all = 0x6f;
        // Asked for 4 groups, marked valid: clamped to 1, said so.
        let (st, n, b) = run_pp(&params(all, 4), true);
        assert_eq!((st, n), (STATUS_NOT_ALL_ASSIGNED, 28));
        assert!(mxf_abi::nt_success(STATUS_NOT_ALL_ASSIGNED));
        assert_eq!(b, params(SYNTH_PORTPARAMS_CHANNELGROUPS, 1));
        // Asked for 1: granted as is.
        let (st, _, b) = run_pp(&params(SYNTH_PORTPARAMS_CHANNELGROUPS, 1), true);
        assert_eq!(st, STATUS_SUCCESS);
        assert_eq!(b, params(SYNTH_PORTPARAMS_CHANNELGROUPS, 1));
        // Not marked valid: the default (1) is filled in, nothing valid but groups... none.
        let (st, _, b) = run_pp(&params(0, 9), true);
        assert_eq!(st, STATUS_SUCCESS);
        assert_eq!(b, params(0, 1));
        // No request in the instance data, or a short one.
        for inst in [&[][..], &params(2, 1)[..27]] {
            let (st, n, b) = run_pp(inst, true);
            assert_eq!((st, n), (STATUS_INVALID_PARAMETER, 0));
            assert!(b.iter().all(|&x| x == 0xEE));
        }
        // Not on a stream.
        assert_eq!(
            run_pp(&params(2, 1), false).0,
            STATUS_INVALID_DEVICE_REQUEST
        );
    }

    #[test]
    fn basic_support_reports_the_items_verbs_as_flags_or_description() {
        for id in [
            KSPROPERTY_SYNTH_CAPS,
            KSPROPERTY_SYNTH_PORTPARAMETERS,
            KSPROPERTY_SYNTH_CHANNELGROUPS,
            KSPROPERTY_SYNTH_LATENCYCLOCK,
        ] {
            let access = access_flags(id).unwrap();
            let (st, n, b) = run(id, NODE_SYNTH, BASIC, &[], Some(4), 4, true);
            assert_eq!((st, n), (STATUS_SUCCESS, 4), "id {id}");
            assert_eq!(b, access.to_le_bytes(), "id {id}");
            let (st, n, b) = run(id, NODE_INPUT, BASIC, &[], Some(48), 48, true);
            assert_eq!((st, n), (STATUS_SUCCESS, 40), "id {id}");
            assert_eq!(&b[0..4], &access.to_le_bytes());
            assert_eq!(&b[4..8], &40u32.to_le_bytes());
            assert_eq!(&b[8..24], &guid_bytes(&KSPROPTYPESETID_GENERAL));
            assert_eq!(&b[24..28], &value_type(id).to_le_bytes());
            assert!(b[28..40].iter().all(|&x| x == 0));
            assert!(b[40..].iter().all(|&x| x == 0xEE));
            assert_eq!(
                run(id, NODE_SYNTH, BASIC, &[], None, 0, true).0,
                STATUS_BUFFER_OVERFLOW
            );
            assert_eq!(run(id, NODE_SYNTH, BASIC, &[], None, 0, true).1, 40);
            let (st, n, _) = run(id, NODE_SYNTH, BASIC, &[], Some(3), 3, true);
            assert_eq!((st, n), (STATUS_BUFFER_TOO_SMALL, 0));
        }
        // PORTPARAMETERS is per stream: basic support on the filter is refused (DMusUART).
        let (st, _, _) = run(
            KSPROPERTY_SYNTH_PORTPARAMETERS,
            NODE_SYNTH,
            BASIC,
            &[],
            Some(4),
            4,
            false,
        );
        assert_eq!(st, STATUS_INVALID_DEVICE_REQUEST);
    }

    #[test]
    fn wrong_verbs_nodes_and_ids_get_their_status_and_touch_nothing() {
        let cases = [
            // SET on read-only items.
            (
                KSPROPERTY_SYNTH_CAPS,
                NODE_SYNTH,
                SET,
                STATUS_INVALID_DEVICE_REQUEST,
            ),
            (
                KSPROPERTY_SYNTH_PORTPARAMETERS,
                NODE_SYNTH,
                SET,
                STATUS_INVALID_DEVICE_REQUEST,
            ),
            (
                KSPROPERTY_SYNTH_LATENCYCLOCK,
                NODE_INPUT,
                SET,
                STATUS_INVALID_DEVICE_REQUEST,
            ),
            // No verb, several verbs, unknown bits.
            (
                KSPROPERTY_SYNTH_CAPS,
                NODE_SYNTH,
                0,
                STATUS_INVALID_DEVICE_REQUEST,
            ),
            (
                KSPROPERTY_SYNTH_CAPS,
                NODE_SYNTH,
                GET | SET,
                STATUS_INVALID_DEVICE_REQUEST,
            ),
            (
                KSPROPERTY_SYNTH_CAPS,
                NODE_SYNTH,
                GET | BASIC,
                STATUS_INVALID_DEVICE_REQUEST,
            ),
            (
                KSPROPERTY_SYNTH_CAPS,
                NODE_SYNTH,
                0x100,
                STATUS_INVALID_DEVICE_REQUEST,
            ),
            // Nodes that are not ours.
            (KSPROPERTY_SYNTH_CAPS, 2, GET, STATUS_NOT_FOUND),
            (KSPROPERTY_SYNTH_CAPS, u32::MAX, GET, STATUS_NOT_FOUND),
            // Ids not in the table.
            (
                KSPROPERTY_SYNTH_RUNNINGSTATS,
                NODE_SYNTH,
                GET,
                STATUS_NOT_FOUND,
            ),
            (KSPROPERTY_SYNTH_VOLUME, NODE_SYNTH, GET, STATUS_NOT_FOUND),
            (99, NODE_SYNTH, BASIC, STATUS_NOT_FOUND),
        ];
        for (id, node, verb, want) in cases {
            let (st, n, b) = run(id, node, verb, &params(2, 1), Some(300), 300, true);
            assert_eq!((st, n), (want, 0), "id {id} node {node} verb {verb:#x}");
            assert!(b.iter().all(|&x| x == 0xEE), "id {id}: buffer touched");
        }
        // The TOPOLOGY bit that node requests carry is accepted with any verb.
        let (st, _, _) = run(
            KSPROPERTY_SYNTH_CAPS,
            NODE_SYNTH,
            GET | KSPROPERTY_TYPE_TOPOLOGY,
            &[],
            Some(296),
            296,
            false,
        );
        assert_eq!(st, STATUS_SUCCESS);
    }

    #[test]
    fn our_private_interface_ids_and_synth_guids_are_all_distinct() {
        let ids = [
            SYNTH_GUID_OUT,
            SYNTH_GUID_IN,
            crate::miniport::head::IID_MXF_PRIVATE_MINIPORT,
            crate::stream::IID_MXF_PRIVATE_RENDER,
            crate::stream::IID_MXF_PRIVATE_CAPTURE,
            mxf_core::alloc::IID_MXF_PRIVATE_ALLOCATOR,
            mxf_core::service::IID_MXF_PRIVATE_SERVICE_GROUP,
        ];
        for (i, a) in ids.iter().enumerate() {
            for b in &ids[i + 1..] {
                assert_ne!(a, b, "two of our GUIDs collide");
            }
        }
    }
}
