//! `DMUS_KERNEL_EVENT`: the unit that flows through an MXF graph.

use core::mem::{align_of, offset_of, size_of};

/// `REFERENCE_TIME`: 100 ns units.
pub type ReferenceTime = i64;

/// `DMUS_KEF_EVENT_COMPLETE`: the event holds a whole message.
pub const DMUS_KEF_EVENT_COMPLETE: u16 = 0x0000;
/// `DMUS_KEF_EVENT_INCOMPLETE`: a partial message or a fragment of a SysEx.
pub const DMUS_KEF_EVENT_INCOMPLETE: u16 = 0x0001;
/// `DMUS_KEF_PACKAGE_EVENT`: `u_data.p_package_evt` is a sub-chain of events.
pub const DMUS_KEF_PACKAGE_EVENT: u16 = 0x0002;

/// Presentation-time flag: play now, do not hold for sequencing.
pub const DONT_HOLD_FOR_SEQUENCING: u64 = 0x8000_0000_0000_0000;
/// `kBytePositionNone`: the event carries no byte position.
pub const K_BYTE_POSITION_NONE: u64 = !0;

/// Largest payload kept inline in `ab_data` (`sizeof(PBYTE)` on x64).
pub const SHORT_EVENT_MAX: usize = size_of::<*mut u8>();

/// The payload of a [`DmusKernelEvent`]: inline bytes, a buffer, or a package sub-chain.
#[repr(C)]
#[derive(Clone, Copy)]
pub union DmusEventData {
    /// `abData`: inline bytes when `cb_event <= SHORT_EVENT_MAX`.
    pub ab_data: [u8; SHORT_EVENT_MAX],
    /// `pbData`: buffer from `IAllocatorMXF::GetBuffer` when `cb_event > SHORT_EVENT_MAX`.
    pub pb_data: *mut u8,
    /// `pPackageEvt`: sub-chain when the event has `DMUS_KEF_PACKAGE_EVENT`.
    pub p_package_evt: *mut DmusKernelEvent,
}

/// `DMUS_KERNEL_EVENT` (x64: 40 bytes, align 8).
#[repr(C)]
#[derive(Clone, Copy)]
pub struct DmusKernelEvent {
    /// `bReserved`: the allocator's; a client of the allocator never writes it (see
    /// [`EventFields`]).
    pub b_reserved: u8,
    /// `cbStruct`: `sizeof(DMUS_KERNEL_EVENT)`, set by the allocator; a client never writes it.
    pub cb_struct: u8,
    /// `cbEvent`: bytes of MIDI data.
    pub cb_event: u16,
    /// `usChannelGroup`: 1-based channel group (capture: 1).
    pub us_channel_group: u16,
    /// `usFlags`: `DMUS_KEF_*`.
    pub us_flags: u16,
    /// `ullPresTime100ns`: presentation time, possibly with [`DONT_HOLD_FOR_SEQUENCING`].
    pub ull_pres_time_100ns: u64,
    /// `ullBytePosition`: or [`K_BYTE_POSITION_NONE`].
    pub ull_byte_position: u64,
    /// `pNextEvt`: next event of the chain, or null.
    pub p_next_evt: *mut DmusKernelEvent,
    /// `uData`: see [`DmusEventData`].
    pub u_data: DmusEventData,
}

/// `sizeof(DMUS_KERNEL_EVENT)`, as stored in `cb_struct`.
pub const DMUS_KERNEL_EVENT_SIZE: usize = size_of::<DmusKernelEvent>();

impl DmusKernelEvent {
    /// An all-zero event: what `IAllocatorMXF::GetMessage` hands out (with `cb_struct` set).
    pub const ZEROED: Self = Self {
        b_reserved: 0,
        cb_struct: DMUS_KERNEL_EVENT_SIZE as u8,
        cb_event: 0,
        us_channel_group: 0,
        us_flags: 0,
        ull_pres_time_100ns: 0,
        ull_byte_position: 0,
        p_next_evt: core::ptr::null_mut(),
        u_data: DmusEventData {
            ab_data: [0; SHORT_EVENT_MAX],
        },
    };

    /// `SHORT_EVT`: the payload is inline in `ab_data`.
    #[inline]
    pub const fn is_short(&self) -> bool {
        self.cb_event as usize <= SHORT_EVENT_MAX
    }

    /// `PACKAGE_EVT`: `u_data` is a sub-chain.
    #[inline]
    pub const fn is_package(&self) -> bool {
        self.us_flags & DMUS_KEF_PACKAGE_EVENT != 0
    }

    /// `!COMPLETE_EVT`: a partial message or SysEx fragment.
    #[inline]
    pub const fn is_incomplete(&self) -> bool {
        self.us_flags & DMUS_KEF_EVENT_INCOMPLETE != 0
    }

    /// The presentation time without the [`DONT_HOLD_FOR_SEQUENCING`] flag.
    #[inline]
    pub const fn pres_time(&self) -> u64 {
        self.ull_pres_time_100ns & !DONT_HOLD_FOR_SEQUENCING
    }

    /// Whether the event asks to be played at once.
    #[inline]
    pub const fn dont_hold(&self) -> bool {
        self.ull_pres_time_100ns & DONT_HOLD_FOR_SEQUENCING != 0
    }

    /// The inline payload (the first `cb_event` bytes of `ab_data`), if the event is short
    /// and not a package.
    #[inline]
    pub fn short_data(&self) -> Option<&[u8]> {
        if self.is_package() || !self.is_short() {
            return None;
        }
        // SAFETY: every bit pattern of the union is a valid `[u8; 8]`, so reading the array
        // arm is sound whatever arm was last written.
        let bytes = unsafe { &self.u_data.ab_data };
        bytes.get(..self.cb_event as usize)
    }
}

/// The fields of a [`DmusKernelEvent`] that a client of the allocator writes: all but
/// `bReserved` and `cbStruct`, which belong to the allocator that handed the event out
/// (dmusicks.h: the miniport must not modify them). [`EventFields::write_to`] is the one way
/// the driver fills an event.
#[derive(Clone, Copy)]
pub struct EventFields {
    /// `cbEvent`.
    pub cb_event: u16,
    /// `usChannelGroup`.
    pub us_channel_group: u16,
    /// `usFlags`.
    pub us_flags: u16,
    /// `ullPresTime100ns`.
    pub ull_pres_time_100ns: u64,
    /// `ullBytePosition`.
    pub ull_byte_position: u64,
    /// `pNextEvt`.
    pub p_next_evt: *mut DmusKernelEvent,
    /// `uData`.
    pub u_data: DmusEventData,
}

impl EventFields {
    /// Writes these fields into the event at `ev`, one field at a time, leaving `bReserved`
    /// and `cbStruct` as its allocator set them.
    ///
    /// # Safety
    /// `ev` is non-null, aligned and valid for writes of a `DmusKernelEvent` (an event the
    /// caller owns), and nothing else accesses it during the call.
    #[inline(always)]
    pub unsafe fn write_to(self, ev: *mut DmusKernelEvent) {
        type E = DmusKernelEvent;
        /// The address of field `off` of the event at `ev`, typed as that field (`_field`
        /// names it, so a type mismatch does not compile); safe address arithmetic, nothing is
        /// dereferenced.
        #[inline(always)]
        fn field<T>(ev: *mut E, off: usize, _field: fn(&E) -> &T) -> *mut T {
            ev.wrapping_byte_add(off).cast::<T>()
        }
        macro_rules! put {
            ($f:ident) => {{
                let p = field(ev, core::mem::offset_of!(E, $f), |e: &E| &e.$f);
                // SAFETY: `ev` is valid for writes and aligned (caller), and `p` is its field
                // `$f` (`offset_of!` of the `#[repr(C)]` struct, typed as the field), so `p` is
                // valid for writes and aligned.
                unsafe { p.write(self.$f) };
            }};
        }
        put!(cb_event);
        put!(us_channel_group);
        put!(us_flags);
        put!(ull_pres_time_100ns);
        put!(ull_byte_position);
        put!(p_next_evt);
        put!(u_data);
    }
}

#[cfg(target_pointer_width = "64")]
const _: () = {
    assert!(size_of::<DmusKernelEvent>() == 40);
    assert!(align_of::<DmusKernelEvent>() == 8);
    assert!(offset_of!(DmusKernelEvent, b_reserved) == 0);
    assert!(offset_of!(DmusKernelEvent, cb_struct) == 1);
    assert!(offset_of!(DmusKernelEvent, cb_event) == 2);
    assert!(offset_of!(DmusKernelEvent, us_channel_group) == 4);
    assert!(offset_of!(DmusKernelEvent, us_flags) == 6);
    assert!(offset_of!(DmusKernelEvent, ull_pres_time_100ns) == 8);
    assert!(offset_of!(DmusKernelEvent, ull_byte_position) == 16);
    assert!(offset_of!(DmusKernelEvent, p_next_evt) == 24);
    assert!(offset_of!(DmusKernelEvent, u_data) == 32);
    assert!(size_of::<DmusEventData>() == 8);
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writing_the_fields_leaves_reserved_and_size_alone() {
        let mut e = DmusKernelEvent {
            b_reserved: 0xA7,
            cb_struct: 0x5A,
            ..DmusKernelEvent::ZEROED
        };
        let mut next = DmusKernelEvent::ZEROED;
        // SAFETY: `e` is a live, aligned local.
        unsafe {
            EventFields {
                cb_event: 3,
                us_channel_group: 2,
                us_flags: DMUS_KEF_EVENT_INCOMPLETE,
                ull_pres_time_100ns: 77,
                ull_byte_position: K_BYTE_POSITION_NONE,
                p_next_evt: &mut next,
                u_data: DmusEventData {
                    ab_data: [0x90, 1, 2, 0, 0, 0, 0, 0],
                },
            }
            .write_to(&mut e)
        };
        assert_eq!((e.b_reserved, e.cb_struct), (0xA7, 0x5A));
        assert_eq!((e.cb_event, e.us_channel_group, e.us_flags), (3, 2, 1));
        assert_eq!((e.ull_pres_time_100ns, e.ull_byte_position), (77, !0));
        assert_eq!(e.p_next_evt, &mut next as *mut _);
        assert_eq!(e.short_data(), Some(&[0x90, 1, 2][..]));
    }

    #[test]
    fn predicates_follow_dmusicks_macros() {
        let mut e = DmusKernelEvent::ZEROED;
        assert_eq!(e.cb_struct as usize, 40);
        assert!(e.is_short() && !e.is_package() && !e.is_incomplete());
        e.cb_event = 8;
        assert!(e.is_short());
        e.cb_event = 9;
        assert!(!e.is_short());
        assert_eq!(e.short_data(), None);
        e.cb_event = 3;
        e.u_data.ab_data = [0x90, 0x3c, 0x7f, 0, 0, 0, 0, 0];
        assert_eq!(e.short_data(), Some(&[0x90, 0x3c, 0x7f][..]));
        e.us_flags = DMUS_KEF_PACKAGE_EVENT | DMUS_KEF_EVENT_INCOMPLETE;
        assert!(e.is_package() && e.is_incomplete());
        assert_eq!(e.short_data(), None);
        e.ull_pres_time_100ns = DONT_HOLD_FOR_SEQUENCING | 1234;
        assert!(e.dont_hold());
        assert_eq!(e.pres_time(), 1234);
    }
}
