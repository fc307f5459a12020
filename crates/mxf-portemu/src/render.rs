//! The render source: what the port does with the MIDI a client submits (WinMM short and
//! long messages, DirectMusic event buffers) — turn it into `DMUS_KERNEL_EVENT` chains from
//! the port's allocator, with presentation times, optionally grouped in package events.

use mxf_abi::{
    DMUS_KEF_EVENT_COMPLETE, DMUS_KEF_EVENT_INCOMPLETE, DMUS_KEF_PACKAGE_EVENT, DmusEventData,
    EventFields, IAllocatorMxf, K_BYTE_POSITION_NONE, SHORT_EVENT_MAX,
};
use mxf_core::com::ComPtr;
use mxf_core::event_list::EventList;
use std::ptr;

/// One client submission: raw MIDI bytes to present at `time` (absolute, 100 ns units of the
/// master clock). Usually one whole message (a short message or a SysEx); any bytes are sent
/// as they are.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct RenderUnit {
    /// Presentation time.
    pub time: i64,
    /// The bytes.
    pub bytes: Vec<u8>,
}

/// How the port groups the events of the units due at one time into a chain.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Packaging {
    /// Every event linked directly in the chain.
    Flat,
    /// Each unit's events in a package event of its own.
    Packages,
    /// Alternately flat and packaged, unit by unit (exercises both in one stream).
    Mixed,
}

/// Counters of the render source.
#[derive(Clone, Copy, Default, PartialEq, Eq, Debug)]
pub struct RenderSourceStats {
    /// Units queued by the client.
    pub units_queued: u64,
    /// Units turned into events and sent.
    pub units_sent: u64,
    /// Units dropped because the port's allocator failed (never sent; counted, not lost).
    pub units_dropped_no_memory: u64,
    /// Units still queued when the stream closed.
    pub units_discarded_at_close: u64,
    /// Bytes sent / dropped.
    pub bytes_sent: u64,
    /// Bytes of dropped units.
    pub bytes_dropped: u64,
    /// Data events built (inline or buffer).
    pub events: u64,
    /// Of those, events carrying a buffer.
    pub buffer_events: u64,
    /// Package events built.
    pub packages: u64,
    /// `PutMessage` calls to the render stream.
    pub chains: u64,
    /// `PutMessage` calls that returned an error status (the stream owns the chain anyway).
    pub put_errors: u64,
    /// Latest `now - presentation time` at the moment a chain was sent (µs; how late the
    /// sequencer delivered, 0 when on time or early).
    pub max_send_lateness_us: u64,
}

/// Builds the events of one unit (flat, or in one package event) into a chain.
/// `Err(partial)` if the allocator failed: the caller returns `partial` to it.
pub(crate) fn build_unit(
    alloc: &ComPtr<IAllocatorMxf>,
    buffer_size: usize,
    unit: &RenderUnit,
    packaged: bool,
    stats: &mut RenderSourceStats,
) -> Result<EventList, EventList> {
    let time = u64::try_from(unit.time).unwrap_or(0);
    let mut events = EventList::new();
    let frag = buffer_size.max(SHORT_EVENT_MAX);
    let chunks: Vec<&[u8]> = if unit.bytes.len() <= SHORT_EVENT_MAX {
        vec![&unit.bytes[..]]
    } else {
        unit.bytes.chunks(frag).collect()
    };
    let (mut n_events, mut n_buffers) = (0u64, 0u64);
    for (i, chunk) in chunks.iter().enumerate() {
        let last = i + 1 == chunks.len();
        let Ok(ev) = alloc.get_message() else {
            return Err(events);
        };
        let data = if chunk.len() <= SHORT_EVENT_MAX {
            let mut ab = [0u8; SHORT_EVENT_MAX];
            ab[..chunk.len()].copy_from_slice(chunk);
            DmusEventData { ab_data: ab }
        } else {
            let Ok(buf) = alloc.get_buffer() else {
                // SAFETY: a fresh zeroed event of `alloc` (cb_event 0: no buffer to free).
                unsafe { events.push_back(ev) };
                return Err(events);
            };
            // SAFETY: the buffer has `buffer_size >= chunk.len()` bytes and is ours.
            unsafe { ptr::copy_nonoverlapping(chunk.as_ptr(), buf.as_ptr(), chunk.len()) };
            n_buffers += 1;
            DmusEventData {
                pb_data: buf.as_ptr(),
            }
        };
        let value = EventFields {
            cb_event: chunk.len() as u16,
            us_channel_group: 1,
            us_flags: if last {
                DMUS_KEF_EVENT_COMPLETE
            } else {
                DMUS_KEF_EVENT_INCOMPLETE
            },
            ull_pres_time_100ns: time,
            ull_byte_position: K_BYTE_POSITION_NONE,
            p_next_evt: ptr::null_mut(),
            u_data: data,
        };
        // SAFETY: a fresh event of `alloc`, exclusively ours.
        unsafe { value.write_to(ev.as_ptr()) };
        // SAFETY: as above; not in any chain yet.
        unsafe { events.push_back(ev) };
        n_events += 1;
    }
    let out = if packaged {
        let Ok(pkg) = alloc.get_message() else {
            return Err(events);
        };
        let value = EventFields {
            cb_event: 0,
            us_flags: DMUS_KEF_PACKAGE_EVENT,
            us_channel_group: 1,
            ull_pres_time_100ns: time,
            ull_byte_position: K_BYTE_POSITION_NONE,
            p_next_evt: ptr::null_mut(),
            u_data: DmusEventData {
                p_package_evt: events.take_chain(),
            },
        };
        // SAFETY: a fresh event of `alloc`, exclusively ours; it now owns the sub-chain.
        unsafe { value.write_to(pkg.as_ptr()) };
        let mut b = EventList::new();
        // SAFETY: as above; in no chain.
        unsafe { b.push_back(pkg) };
        stats.packages += 1;
        b
    } else {
        events
    };
    stats.events += n_events;
    stats.buffer_events += n_buffers;
    Ok(out)
}
