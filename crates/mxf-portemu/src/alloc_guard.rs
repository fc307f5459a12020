//! The allocator the port hands to the miniport's streams (`NewStream`'s `pAllocatorMXF`): the
//! port's own allocator behind a thin COM object that checks what the DMus contract asks of a
//! miniport, as a real port could only find out by corrupting its own state:
//!
//! - Every event it hands out carries [`RESERVED_MARK`] in `bReserved` (the port's field) and
//!   `cbStruct` = 40; an event that comes back through `PutMessage` — here or at the capture
//!   sink, [`event_fields_intact`] — with either changed was written by the miniport, which
//!   must never modify them. Counted in [`ContractStats::reserved_writes`].
//! - `PutBuffer` is not for miniports (buffers go back inside events, through `PutMessage`):
//!   every call is counted in [`ContractStats::put_buffer_calls`] (and still honoured).
//! - A played package goes back as DMusUART returns it: its sub-chain detached and returned as
//!   events of their own, the package event without it. Whether PortCls's allocator walks
//!   packages is not documented, so a package returned with its sub-chain still attached is
//!   counted in [`ContractStats::attached_packages`] (this allocator frees it anyway).
//!
//! [`crate::Port::close`] fails when either count is nonzero.

use crate::com::{BoxObject, into_com, object, unknown_vtbl};
use mxf_abi::{
    DMUS_KERNEL_EVENT_SIZE, DmusKernelEvent, Guid, IAllocatorMxf, IAllocatorMxfVtbl,
    IID_IALLOCATOR_MXF, IID_IMXF, IID_IUNKNOWN, IMxf, IMxfVtbl, KsState, NtStatus,
    STATUS_INVALID_PARAMETER, STATUS_SUCCESS,
};
use mxf_core::com::{ComPtr, RefCount};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// What the port keeps in `bReserved` of every event it hands to the miniport.
pub const RESERVED_MARK: u8 = 0xA7;

/// Breaches of the allocator rules by the miniport.
#[derive(Clone, Copy, Default, PartialEq, Eq, Debug)]
pub struct ContractStats {
    /// Events returned with `bReserved` or `cbStruct` changed.
    pub reserved_writes: u64,
    /// `PutBuffer` calls.
    pub put_buffer_calls: u64,
    /// Package events returned with their sub-chain attached.
    pub attached_packages: u64,
}

/// A handle on a port's [`ContractStats`] that outlives the port (read it after
/// [`crate::Port::close`], which returns the last events).
#[derive(Clone, Debug)]
pub struct ContractWatch(pub(crate) Arc<ContractCounters>);

impl ContractWatch {
    /// The counts so far.
    pub fn stats(&self) -> ContractStats {
        self.0.stats()
    }
}

/// The counters, shared by the guard object and the port.
#[derive(Default, Debug)]
pub(crate) struct ContractCounters {
    reserved_writes: AtomicU64,
    put_buffer_calls: AtomicU64,
    attached_packages: AtomicU64,
}

impl ContractCounters {
    pub(crate) fn stats(&self) -> ContractStats {
        ContractStats {
            reserved_writes: self.reserved_writes.load(Relaxed),
            put_buffer_calls: self.put_buffer_calls.load(Relaxed),
            attached_packages: self.attached_packages.load(Relaxed),
        }
    }

    pub(crate) fn count_reserved_write(&self) {
        self.reserved_writes.fetch_add(1, Relaxed);
    }
}

/// Whether an event handed out by the guard still has the fields only the port may write as
/// the port set them.
pub fn event_fields_intact(ev: &DmusKernelEvent) -> bool {
    ev.b_reserved == RESERVED_MARK && usize::from(ev.cb_struct) == DMUS_KERNEL_EVENT_SIZE
}

#[repr(C)]
struct GuardObj {
    vtbl: &'static IAllocatorMxfVtbl,
    refs: RefCount,
    inner: ComPtr<IAllocatorMxf>,
    counters: Arc<ContractCounters>,
}

// SAFETY: `#[repr(C)]`, vtable first, built with `unknown_vtbl!(GuardObj)`; answers the
// interfaces its IAllocatorMXF table implements (IUnknown, IMXF, IAllocatorMXF).
unsafe impl BoxObject for GuardObj {
    fn refs(&self) -> &RefCount {
        &self.refs
    }
    const NAME: &'static str = "allocator guard";
    const IIDS: &'static [Guid] = &[IID_IUNKNOWN, IID_IMXF, IID_IALLOCATOR_MXF];
}

static VTBL: IAllocatorMxfVtbl = IAllocatorMxfVtbl {
    base: IMxfVtbl {
        base: unknown_vtbl!(GuardObj),
        set_state,
        put_message,
        connect_output,
        disconnect_output,
    },
    get_message,
    get_buffer_size,
    get_buffer,
    put_buffer,
};

/// The guard over `inner`, counting into `counters`.
///
/// Not counted among the tracker's live objects: the port holds it until the port itself is
/// gone, and [`crate::CloseReport::allocator_refs_left`] counts references others still hold.
pub(crate) fn new_guard(
    inner: &ComPtr<IAllocatorMxf>,
    counters: Arc<ContractCounters>,
) -> ComPtr<IAllocatorMxf> {
    let obj = GuardObj {
        vtbl: &VTBL,
        refs: RefCount::new(),
        inner: inner.clone(),
        counters,
    };
    // SAFETY: the vtable is an IAllocatorMxfVtbl.
    unsafe { into_com(obj) }
}

/// References held on a guard made by [`new_guard`].
pub(crate) fn guard_refs(g: &ComPtr<IAllocatorMxf>) -> u32 {
    // SAFETY: `g` keeps the guard alive; every guard pointer comes from `new_guard`.
    unsafe { guard(g.as_raw()) }.refs.get()
}

/// # Safety
/// `this` is a live guard (called through its vtable).
unsafe fn guard<'a, T>(this: *mut T) -> &'a GuardObj {
    // SAFETY: the caller guarantees `this` is a live guard, i.e. a pointer `new_guard` handed
    // out for a `GuardObj`: `object`'s contract.
    unsafe { object::<GuardObj>(this.cast()) }
}

unsafe extern "system" fn set_state(this: *mut IMxf, state: KsState) -> NtStatus {
    // SAFETY: called through the vtable.
    unsafe { guard(this) }.inner.as_mxf().set_state(state)
}

/// Counts the events of `chain` (package sub-chains included) whose port-only fields changed.
///
/// # Safety
/// `chain` is null or a well-formed chain the caller owns.
unsafe fn count_reserved_writes(chain: *mut DmusKernelEvent, counters: &ContractCounters) {
    let mut pending = vec![chain];
    while let Some(mut cur) = pending.pop() {
        while !cur.is_null() {
            // SAFETY: a live event of the caller's chain.
            let ev = unsafe { &*cur };
            if !event_fields_intact(ev) {
                counters.count_reserved_write();
            }
            if ev.is_package() {
                // SAFETY: a package event's payload is its sub-chain pointer.
                let sub = unsafe { ev.u_data.p_package_evt };
                if !sub.is_null() {
                    counters.attached_packages.fetch_add(1, Relaxed);
                    pending.push(sub);
                }
            }
            cur = ev.p_next_evt;
        }
    }
}

unsafe extern "system" fn put_message(this: *mut IMxf, chain: *mut DmusKernelEvent) -> NtStatus {
    // SAFETY: called through the vtable.
    let g = unsafe { guard(this) };
    // SAFETY: PutMessage's contract: `chain` is null or a chain the caller hands over.
    unsafe { count_reserved_writes(chain, &g.counters) };
    // SAFETY: the chain's events came from this guard, i.e. from `inner`; ownership moves on.
    unsafe { g.inner.put_message(chain) }
}

/// The inner allocator's own `IMXF` slots (the guard answers connect/disconnect as it does).
fn inner_slots(g: &GuardObj) -> &'static IMxfVtbl {
    // SAFETY: `g.inner` keeps a live IAllocatorMXF, whose first field is its vtable pointer.
    let vtbl = unsafe { (*g.inner.as_raw()).vtbl };
    // SAFETY: an allocator's vtable is a static IAllocatorMxfVtbl, which starts with IMXF's.
    unsafe { &(*vtbl).base }
}

/// Forwarded: the guard connects as the port's allocator does.
unsafe extern "system" fn connect_output(this: *mut IMxf, sink: *mut IMxf) -> NtStatus {
    // SAFETY: called through the vtable.
    let g = unsafe { guard(this) };
    let connect = inner_slots(g).connect_output;
    // SAFETY: the inner allocator's slot with the caller's sink argument (null or an IMXF).
    unsafe { connect(g.inner.as_raw().cast(), sink) }
}

/// As [`connect_output`].
unsafe extern "system" fn disconnect_output(this: *mut IMxf, sink: *mut IMxf) -> NtStatus {
    // SAFETY: called through the vtable.
    let g = unsafe { guard(this) };
    let disconnect = inner_slots(g).disconnect_output;
    // SAFETY: as in `connect_output`.
    unsafe { disconnect(g.inner.as_raw().cast(), sink) }
}

unsafe extern "system" fn get_message(
    this: *mut IAllocatorMxf,
    out: *mut *mut DmusKernelEvent,
) -> NtStatus {
    if out.is_null() {
        return STATUS_INVALID_PARAMETER;
    }
    // SAFETY: called through the vtable.
    let g = unsafe { guard(this) };
    let (ev, status) = match g.inner.get_message() {
        Ok(ev) => {
            // SAFETY: a fresh event of `inner`, not yet handed to anyone: the port's field.
            unsafe { (*ev.as_ptr()).b_reserved = RESERVED_MARK };
            (ev.as_ptr(), STATUS_SUCCESS)
        }
        Err(e) => (core::ptr::null_mut(), e.status()),
    };
    // SAFETY: `out` is non-null and valid for a write (COM contract).
    unsafe { out.write(ev) };
    status
}

unsafe extern "system" fn get_buffer_size(this: *mut IAllocatorMxf) -> u16 {
    // SAFETY: called through the vtable.
    unsafe { guard(this) }.inner.buffer_size()
}

unsafe extern "system" fn get_buffer(this: *mut IAllocatorMxf, out: *mut *mut u8) -> NtStatus {
    if out.is_null() {
        return STATUS_INVALID_PARAMETER;
    }
    // SAFETY: called through the vtable.
    let g = unsafe { guard(this) };
    let (buf, status) = match g.inner.get_buffer() {
        Ok(b) => (b.as_ptr(), STATUS_SUCCESS),
        Err(e) => (core::ptr::null_mut(), e.status()),
    };
    // SAFETY: `out` is non-null and valid for a write (COM contract).
    unsafe { out.write(buf) };
    status
}

unsafe extern "system" fn put_buffer(this: *mut IAllocatorMxf, buf: *mut u8) -> NtStatus {
    // SAFETY: called through the vtable.
    let g = unsafe { guard(this) };
    g.counters.put_buffer_calls.fetch_add(1, Relaxed);
    let Some(buf) = core::ptr::NonNull::new(buf) else {
        return STATUS_INVALID_PARAMETER;
    };
    // SAFETY: the caller hands back a buffer it got from this guard, i.e. from `inner`.
    unsafe { g.inner.put_buffer(buf) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::retag::PortPlatform;
    use mxf_core::alloc::{AllocatorConfig, new_allocator};
    use mxf_kemu::Emu;

    fn guarded() -> (Emu, ComPtr<IAllocatorMxf>, Arc<ContractCounters>) {
        let emu = Emu::new(mxf_kemu::EmuConfig::default());
        let inner = new_allocator(PortPlatform::new(emu.clone()), AllocatorConfig::DEFAULT)
            .expect("allocator");
        let counters = Arc::new(ContractCounters::default());
        let g = new_guard(&inner, Arc::clone(&counters));
        (emu, g, counters)
    }

    #[test]
    fn events_carry_the_mark_and_untouched_ones_pass() {
        let (_emu, g, c) = guarded();
        let ev = g.get_message().expect("event");
        // SAFETY: a fresh event of the guard, ours.
        assert!(event_fields_intact(unsafe { &*ev.as_ptr() }));
        // SAFETY: a fresh event of the guard, ours.
        unsafe {
            mxf_abi::EventFields {
                cb_event: 1,
                us_channel_group: 1,
                us_flags: 0,
                ull_pres_time_100ns: 5,
                ull_byte_position: mxf_abi::K_BYTE_POSITION_NONE,
                p_next_evt: core::ptr::null_mut(),
                u_data: mxf_abi::DmusEventData {
                    ab_data: [0xF8, 0, 0, 0, 0, 0, 0, 0],
                },
            }
            .write_to(ev.as_ptr())
        };
        // SAFETY: ours, from the guard, given back once.
        unsafe { g.put_message(ev.as_ptr()) };
        assert_eq!(c.stats(), ContractStats::default());
    }

    #[test]
    fn a_whole_struct_write_and_put_buffer_are_counted() {
        let (_emu, g, c) = guarded();
        let a = g.get_message().expect("event");
        let b = g.get_message().expect("event");
        // SAFETY: `a` is a fresh event of the guard, ours: the whole-struct write a miniport
        // must not make.
        unsafe { a.as_ptr().write(DmusKernelEvent::ZEROED) };
        // SAFETY: `b` is a fresh event of the guard, ours: a cbStruct write.
        unsafe { (*b.as_ptr()).cb_struct = 0 };
        // SAFETY: `a` is ours (as above); linking it to `b` makes a chain of two.
        unsafe { (*a.as_ptr()).p_next_evt = b.as_ptr() };
        // SAFETY: a chain of two events of the guard, given back once.
        unsafe { g.put_message(a.as_ptr()) };
        let buf = g.get_buffer().expect("buffer");
        // SAFETY: from the guard, given back once.
        unsafe { g.put_buffer(buf) };
        assert_eq!(
            c.stats(),
            ContractStats {
                reserved_writes: 2,
                put_buffer_calls: 1,
                attached_packages: 0,
            }
        );
    }

    #[test]
    fn a_package_returned_with_its_sub_chain_is_counted_and_a_detached_one_is_not() {
        let (_emu, g, c) = guarded();
        let mk_package = || {
            let pkg = g.get_message().expect("event");
            let sub = g.get_message().expect("event");
            // SAFETY: fresh events of the guard, ours; fields written as a port would.
            unsafe {
                mxf_abi::EventFields {
                    cb_event: 0,
                    us_channel_group: 1,
                    us_flags: mxf_abi::DMUS_KEF_PACKAGE_EVENT,
                    ull_pres_time_100ns: 0,
                    ull_byte_position: mxf_abi::K_BYTE_POSITION_NONE,
                    p_next_evt: core::ptr::null_mut(),
                    u_data: mxf_abi::DmusEventData {
                        p_package_evt: sub.as_ptr(),
                    },
                }
                .write_to(pkg.as_ptr())
            };
            pkg
        };
        let attached = mk_package();
        // SAFETY: a package and its sub-chain, of the guard, given back once.
        unsafe { g.put_message(attached.as_ptr()) };
        assert_eq!(c.stats().attached_packages, 1);
        let detached = mk_package();
        // SAFETY: ours; flattened as DMusUART returns it, then given back once.
        unsafe { mxf_core::render::return_events(&g, detached.as_ptr(), 16) };
        assert_eq!(
            c.stats().attached_packages,
            1,
            "the detached one is not counted"
        );
        assert_eq!(c.stats().reserved_writes, 0);
    }

    #[test]
    fn connect_and_disconnect_answer_as_the_inner_allocator() {
        let (_emu, g, _c) = guarded();
        let mxf = g.as_mxf();
        let other = g.as_mxf();
        // SAFETY: `mxf` keeps the guard alive; its first field is its vtable pointer.
        let vtbl = unsafe { (*mxf.as_raw()).vtbl };
        // SAFETY: the guard's static IMXF table.
        let connect = unsafe { (*vtbl).connect_output };
        // SAFETY: a null sink is a valid (refused) argument of ConnectOutput.
        let null = unsafe { connect(mxf.as_raw(), core::ptr::null_mut()) };
        assert_eq!(null, STATUS_INVALID_PARAMETER);
        assert_eq!(mxf.connect_output(&other), STATUS_SUCCESS);
        assert_eq!(mxf.disconnect_output(&other), STATUS_SUCCESS);
    }
}
