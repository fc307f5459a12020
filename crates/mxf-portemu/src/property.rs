//! Node property requests as PortCls dispatches them (`KSNODEPROPERTY` on a filter or pin
//! handle, `KSPROPERTY_TYPE_TOPOLOGY` set): find the node's automation table and the item of
//! the property, answer a BASICSUPPORT request itself when the item has no basic-support
//! verb, else build a `PCPROPERTY_REQUEST` (`MajorTarget` the miniport, `MinorTarget` the
//! pin's stream or null, `Instance` the bytes after the `KSNODEPROPERTY`, `Value` the output
//! buffer) and call the item's handler at `PASSIVE_LEVEL`; `Irp->IoStatus.Information` is
//! the `ValueSize` the handler leaves.
//!
//! A node outside the filter, a node without a table, or a property the table lacks is
//! `STATUS_NOT_FOUND` (the port's answer; no handler runs). The port checks what the
//! handler reports: on success `ValueSize` must not exceed the buffer, and a
//! `STATUS_BUFFER_OVERFLOW` answer must name a size larger than the buffer; anything else
//! is a [`Violation`] of the contract (a real port would copy past the user's buffer).

use crate::describe::FilterInfo;
use mxf_abi::{
    Guid, IUnknown, KSPROPERTY_TYPE_BASICSUPPORT, KSPROPERTY_TYPE_GET, KSPROPERTY_TYPE_SET,
    KSPROPERTY_TYPE_TOPOLOGY, NtStatus, PcPropertyItem, PcPropertyRequest, STATUS_BUFFER_OVERFLOW,
    STATUS_BUFFER_TOO_SMALL, STATUS_NOT_FOUND, STATUS_SUCCESS, nt_success,
};
use std::ptr;

/// A node property request.
#[derive(Clone, Debug)]
pub struct NodeRequest<'a> {
    /// Node id (`KSNODEPROPERTY.NodeId`).
    pub node: u32,
    /// Property set.
    pub set: Guid,
    /// Property id.
    pub id: u32,
    /// `KSPROPERTY_TYPE_GET`, `_SET` or `_BASICSUPPORT` (the port adds `_TOPOLOGY`).
    pub verb: u32,
    /// Instance data after the `KSNODEPROPERTY`.
    pub instance: &'a [u8],
    /// The value: the output buffer's length for GET/BASICSUPPORT, the bytes to set for SET.
    /// `None`: a null buffer of length `value_len`.
    pub value: Option<Vec<u8>>,
    /// `ValueSize` to pass (the buffer's length unless testing a lie).
    pub value_len: u32,
}

/// What the request returned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeAnswer {
    /// The status.
    pub status: NtStatus,
    /// `IoStatus.Information`: the `ValueSize` the handler left.
    pub size: u32,
    /// The value buffer after the call (empty if none).
    pub value: Vec<u8>,
}

/// A handler answer no port can accept.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation(pub String);

/// The property item `(set, id)` of node `node`, if the node has one.
fn find_item(info: &FilterInfo, node: u32, set: &Guid, id: u32) -> Option<&'static PcPropertyItem> {
    let table = *info.node_tables.get(node as usize)?;
    // SAFETY: validated at `validate` (tables of static descriptor data, readable for their
    // counts at their item stride).
    let t = unsafe { table.as_ref() }?;
    (0..t.property_count as usize).find_map(|i| {
        // SAFETY: as above.
        let item = unsafe {
            &*t.properties
                .cast::<u8>()
                .wrapping_add(i * t.property_item_size as usize)
                .cast::<PcPropertyItem>()
        };
        // SAFETY: a validated item's set is non-null and points at a GUID.
        (unsafe { *item.set } == *set && item.id == id).then_some(item)
    })
}

/// Dispatches `req` to the miniport (see the module docs).
///
/// # Safety
/// `info` describes the live miniport `major`; `minor` is null or a live stream of it.
pub unsafe fn node_property(
    info: &FilterInfo,
    major: *mut IUnknown,
    minor: *mut IUnknown,
    req: NodeRequest<'_>,
) -> Result<NodeAnswer, Violation> {
    let Some(item) = find_item(info, req.node, &req.set, req.id) else {
        return Ok(NodeAnswer {
            status: STATUS_NOT_FOUND,
            size: 0,
            value: req.value.unwrap_or_default(),
        });
    };
    let mut value = req.value;
    if req.verb & KSPROPERTY_TYPE_BASICSUPPORT != 0
        && item.flags & KSPROPERTY_TYPE_BASICSUPPORT == 0
    {
        // The port's own answer: the item's GET/SET verbs as a ULONG.
        let flags = item.flags & (KSPROPERTY_TYPE_GET | KSPROPERTY_TYPE_SET);
        let mut v = value.unwrap_or_default();
        if v.len() < 4 {
            return Ok(NodeAnswer {
                status: STATUS_BUFFER_TOO_SMALL,
                size: 0,
                value: v,
            });
        }
        v[..4].copy_from_slice(&flags.to_le_bytes());
        return Ok(NodeAnswer {
            status: STATUS_SUCCESS,
            size: 4,
            value: v,
        });
    }
    let mut instance = req.instance.to_vec();
    let len = req.value_len;
    let mut r = PcPropertyRequest {
        major_target: major,
        minor_target: minor,
        node: req.node,
        property_item: item,
        verb: req.verb | KSPROPERTY_TYPE_TOPOLOGY,
        instance_size: instance.len() as u32,
        instance: if instance.is_empty() {
            ptr::null_mut()
        } else {
            instance.as_mut_ptr().cast()
        },
        value_size: len,
        value: match value.as_mut() {
            Some(v) if !v.is_empty() => v.as_mut_ptr().cast(),
            _ => ptr::null_mut(),
        },
        irp: ptr::null_mut(),
    };
    let Some(handler) = item.handler else {
        return Err(Violation(format!("property {} has no handler", req.id)));
    };
    // SAFETY: a request as PortCls builds it: the item is the miniport's, the buffers are
    // ours and outlive the call, the targets are live (caller).
    let status = unsafe { handler(&mut r) };
    let buf_len = value.as_ref().map_or(0, Vec::len) as u32;
    if nt_success(status) && status != STATUS_BUFFER_OVERFLOW && r.value_size > buf_len {
        return Err(Violation(format!(
            "property {} answered {status:#x} with ValueSize {} > buffer {buf_len}",
            req.id, r.value_size
        )));
    }
    if status == STATUS_BUFFER_OVERFLOW && r.value_size <= buf_len {
        return Err(Violation(format!(
            "property {}: STATUS_BUFFER_OVERFLOW naming {} bytes for a {buf_len}-byte buffer",
            req.id, r.value_size
        )));
    }
    Ok(NodeAnswer {
        status,
        size: r.value_size,
        value: value.unwrap_or_default(),
    })
}
