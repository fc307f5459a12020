//! Host test doubles shared by the integration tests of `mxf-core` and `mxf-miniport` (a
//! dev-dependency only, never linked into the driver): an `IMasterClock` over the emulator's
//! clock, an allocator sized for tests, a test-double allocator with failure injection
//! ([`alloc_double`]), builders of events, chains and SysEx messages, and a small JSON reader
//! for tests that read `cargo metadata` ([`json`]), and the child-process harness for bug checks
//! that cannot unwind ([`subprocess`]).
//!
//! Panics freely: a failed setup step is a failed test.
#![allow(clippy::new_ret_no_self)]
// Ahead of the workspace-wide lint (not yet clean in every crate): one unsafe operation,
// with its own SAFETY proof, per block.

pub mod alloc_double;
pub mod json;
pub mod subprocess;

use mxf_abi::{
    DMUS_KEF_EVENT_INCOMPLETE, DmusEventData, DmusKernelEvent, Guid, IAllocatorMxf, IMasterClock,
    IMasterClockVtbl, IUnknown, IUnknownVtbl, NtStatus, ReferenceTime, SHORT_EVENT_MAX,
    STATUS_INVALID_PARAMETER, STATUS_SUCCESS, STATUS_UNSUCCESSFUL,
};
use mxf_core::alloc::{Allocator, AllocatorConfig, new_allocator};
use mxf_core::com::ComPtr;
use mxf_core::event_list::EventList;
use mxf_kemu::Emu;
use std::ffi::c_void;
use std::ptr::{self, NonNull};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};

/// `IMasterClock` reading the emulator's clock minus `origin` (so the stream starts at 0).
#[repr(C)]
pub struct TestClock {
    vtbl: *const IMasterClockVtbl,
    refs: AtomicU32,
    emu: Emu,
    origin: i64,
    /// While set, `GetTime` fails with `STATUS_UNSUCCESSFUL`.
    pub fail: AtomicBool,
}

static CLOCK_VTBL: IMasterClockVtbl = IMasterClockVtbl {
    base: IUnknownVtbl {
        query_interface: clock_qi,
        add_ref: clock_add_ref,
        release: clock_release,
    },
    get_time: clock_get_time,
};

unsafe extern "system" fn clock_qi(
    _this: *mut IUnknown,
    _iid: *const Guid,
    out: *mut *mut c_void,
) -> NtStatus {
    if !out.is_null() {
        // SAFETY: a non-null out-pointer from the caller.
        unsafe { *out = ptr::null_mut() };
    }
    STATUS_INVALID_PARAMETER
}
unsafe extern "system" fn clock_add_ref(this: *mut IUnknown) -> u32 {
    // SAFETY: `this` is a live TestClock (COM contract).
    unsafe { &*this.cast::<TestClock>() }
        .refs
        .fetch_add(1, Ordering::Relaxed)
        + 1
}
unsafe extern "system" fn clock_release(this: *mut IUnknown) -> u32 {
    // SAFETY: `this` is a live TestClock (COM contract).
    let n = unsafe { &*this.cast::<TestClock>() }
        .refs
        .fetch_sub(1, Ordering::AcqRel)
        - 1;
    if n == 0 {
        // SAFETY: the last reference frees the Box from `TestClock::new` once.
        drop(unsafe { Box::from_raw(this.cast::<TestClock>()) });
    }
    n
}
unsafe extern "system" fn clock_get_time(
    this: *mut IMasterClock,
    t: *mut ReferenceTime,
) -> NtStatus {
    // SAFETY: `this` is a live TestClock (COM contract).
    let c = unsafe { &*this.cast::<TestClock>() };
    if c.fail.load(Ordering::Relaxed) {
        return STATUS_UNSUCCESSFUL;
    }
    // SAFETY: the caller passes a valid out-pointer.
    unsafe { *t = c.emu.now_100ns() - c.origin };
    STATUS_SUCCESS
}

impl TestClock {
    /// A clock reading 0 now.
    pub fn new(emu: &Emu) -> ComPtr<IMasterClock> {
        let b = Box::new(TestClock {
            vtbl: &CLOCK_VTBL,
            refs: AtomicU32::new(1),
            emu: emu.clone(),
            origin: emu.now_100ns(),
            fail: AtomicBool::new(false),
        });
        let p = NonNull::from(Box::leak(b)).cast();
        // SAFETY: a fresh object carrying its initial reference, never freed but by its
        // `Release` (which rebuilds the Box).
        unsafe { ComPtr::from_raw(p) }
    }

    /// The `TestClock` behind `c`, which must be one (made by [`TestClock::new`]).
    pub fn get(c: &ComPtr<IMasterClock>) -> &TestClock {
        // SAFETY: only TestClocks are passed here; alive while `c` is borrowed.
        unsafe { &*c.as_raw().cast::<TestClock>() }
    }
}

/// An allocator of ours sized for tests.
pub fn test_allocator(emu: &Emu) -> ComPtr<IAllocatorMxf> {
    new_allocator(
        emu.clone(),
        AllocatorConfig {
            max_events: 65_536,
            max_buffers: 2048,
            ..AllocatorConfig::DEFAULT
        },
    )
    .expect("allocator")
}

/// Events and buffers of `a` (one of ours) not yet returned.
pub fn outstanding(a: &ComPtr<IAllocatorMxf>) -> (u32, u32) {
    let s = Allocator::from_com(a).expect("ours").stats();
    (s.outstanding_events, s.outstanding_buffers)
}

/// An event from `a` holding `bytes` (inline, or in one buffer), at `time` (flags included).
pub fn event(
    a: &ComPtr<IAllocatorMxf>,
    bytes: &[u8],
    time: u64,
    flags: u16,
) -> *mut DmusKernelEvent {
    let ev = a.get_message().expect("event").as_ptr();
    let data = if bytes.len() <= SHORT_EVENT_MAX {
        let mut d = [0u8; SHORT_EVENT_MAX];
        d[..bytes.len()].copy_from_slice(bytes);
        DmusEventData { ab_data: d }
    } else {
        assert!(bytes.len() <= usize::from(a.buffer_size()));
        let buf = a.get_buffer().expect("buffer").as_ptr();
        // SAFETY: a fresh buffer of `buffer_size` >= `bytes.len()` bytes.
        unsafe { ptr::copy_nonoverlapping(bytes.as_ptr(), buf, bytes.len()) };
        DmusEventData { pb_data: buf }
    };
    // SAFETY: a fresh event from `a`, ours to fill.
    unsafe {
        ev.write(DmusKernelEvent {
            cb_event: bytes.len() as u16,
            us_channel_group: 1,
            us_flags: flags,
            ull_pres_time_100ns: time,
            u_data: data,
            ..DmusKernelEvent::ZEROED
        })
    };
    ev
}

/// Links events into a chain (in the given order); returns the head.
pub fn chain(events: &[*mut DmusKernelEvent]) -> *mut DmusKernelEvent {
    let mut list = EventList::new();
    for &ev in events {
        let ev = NonNull::new(ev).expect("a non-null event");
        // SAFETY: the caller's events, fresh from an allocator, each in no chain; given up.
        unsafe { list.push_back(ev) };
    }
    list.take_chain()
}

/// A SysEx of `len` bytes (F0, data, F7) cut into events of at most `frag` bytes, all at `time`.
pub fn sysex_events(
    a: &ComPtr<IAllocatorMxf>,
    body: &[u8],
    time: u64,
) -> Vec<*mut DmusKernelEvent> {
    let frag = usize::from(a.buffer_size());
    let n = body.chunks(frag).count();
    body.chunks(frag)
        .enumerate()
        .map(|(i, c)| {
            event(
                a,
                c,
                time,
                if i + 1 < n {
                    DMUS_KEF_EVENT_INCOMPLETE
                } else {
                    0
                },
            )
        })
        .collect()
}

/// A SysEx message of `len` bytes in total with a deterministic body.
pub fn sysex_bytes(len: usize, seed: u32) -> Vec<u8> {
    assert!(len >= 2);
    let mut v = Vec::with_capacity(len);
    v.push(0xF0);
    let mut x = seed | 1;
    for _ in 0..len - 2 {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        v.push((x & 0x7F) as u8);
    }
    v.push(0xF7);
    v
}

/// `IPort` slots a PortCls stand-in never needs (`GetDeviceProperty`, `NewRegistryKey`), for the
/// vtables of test ports: both answer `STATUS_NOT_IMPLEMENTED` and touch nothing.
pub mod port_slots {
    use mxf_abi::{IPort, IUnknown, NtStatus, STATUS_NOT_IMPLEMENTED};
    use std::ffi::c_void;

    /// `IPort::GetDeviceProperty`: not implemented.
    ///
    /// # Safety
    /// None needed: no argument is read or written.
    pub unsafe extern "system" fn get_device_property(
        _: *mut IPort,
        _: i32,
        _: u32,
        _: *mut c_void,
        _: *mut u32,
    ) -> NtStatus {
        STATUS_NOT_IMPLEMENTED
    }

    /// `IPort::NewRegistryKey`: not implemented.
    ///
    /// # Safety
    /// None needed: no argument is read or written.
    #[allow(clippy::too_many_arguments)]
    pub unsafe extern "system" fn new_registry_key(
        _: *mut IPort,
        _: *mut *mut c_void,
        _: *mut IUnknown,
        _: u32,
        _: u32,
        _: *mut c_void,
        _: u32,
        _: *mut u32,
    ) -> NtStatus {
        STATUS_NOT_IMPLEMENTED
    }
}
