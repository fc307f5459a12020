//! The miniport object's state and [`MiniportRef`], the counted reference each stream holds
//! on it: what the streams use of their miniport (platform, configuration, cable, service
//! group, pin instances, render slots, `Notify`). The layer under both the COM methods
//! (`super`, which builds the object and gives it its vtable and its `ComObject` identity)
//! and the streams, so neither depends on the other's private layout.

use super::config::MiniportConfig;
use super::head::MiniportHead;
use crate::instances::{Instances, MAX_INSTANCES};
use crate::render_slots::{Kick, RENDER_SLOTS, RenderSlots};
use core::mem::ManuallyDrop;
use core::ptr::NonNull;
use core::sync::atomic::{AtomicPtr, Ordering};
use mxf_abi::{IPortDMus, IServiceGroup};
use mxf_core::cable::Cable;
use mxf_core::com::{self, ComPtr, RefCount};
use mxf_core::platform::Platform;

/// The number of render pins (entries of `Miniport::render_open`).
pub(crate) const RENDER_PINS: usize = 2;

const _: () = assert!(RENDER_PINS * MAX_INSTANCES == RENDER_SLOTS);

/// The miniport object.
#[repr(C)]
pub(crate) struct Miniport<P: Platform> {
    /// Vtable pointer, mark and `P`'s functions: the part every `P` shares.
    pub(super) head: MiniportHead,
    pub(super) refs: RefCount,
    pub(crate) platform: P,
    pub(crate) cfg: MiniportConfig,
    pub(crate) cable: Cable<P>,
    pub(crate) group: ComPtr<IServiceGroup>,
    /// The port from `Init` (one reference owned), or null.
    pub(super) port: AtomicPtr<IPortDMus>,
    /// The open instances of each render pin (indexed by `filter::render_slot`).
    pub(crate) render_open: [Instances; RENDER_PINS],
    /// The open instances of the capture pin.
    pub(crate) capture_open: Instances,
    /// The live render streams' queues, for kicks (see `super`'s flow control).
    pub(crate) render_slots: RenderSlots<P, dyn Kick>,
}

/// One counted reference to our miniport object, typed.
pub(crate) struct MiniportRef<P: Platform> {
    ptr: NonNull<Miniport<P>>,
}

// SAFETY: the miniport is shared through interlocked counts, atomics, locks and `Sync`
// handles only.
unsafe impl<P: Platform> Send for MiniportRef<P> {}
// SAFETY: as above.
unsafe impl<P: Platform> Sync for MiniportRef<P> {}

impl<P: Platform> MiniportRef<P> {
    /// Adds a reference to `m`.
    pub(crate) fn new(m: &Miniport<P>) -> Self {
        m.refs.add_ref();
        Self {
            ptr: NonNull::from(m),
        }
    }
}

impl<P: Platform> core::ops::Deref for MiniportRef<P> {
    type Target = Miniport<P>;
    fn deref(&self) -> &Miniport<P> {
        // SAFETY: we own a reference, so the object is alive.
        unsafe { self.ptr.as_ref() }
    }
}

impl<P: Platform> Drop for MiniportRef<P> {
    fn drop(&mut self) {
        // SAFETY: we give up the reference we own.
        unsafe { com::release::<Miniport<P>>(self.ptr.as_ptr().cast()) };
    }
}

impl<P: Platform> Miniport<P> {
    /// Unregisters `queue` from render slot `slot` (if it is the one registered) and frees
    /// its pin instance. Once this returns, no kick reaches it.
    pub(crate) fn clear_render_slot(&self, slot: usize, queue: *const dyn Kick) {
        self.render_slots.leave(slot, queue);
        if let Some(open) = self.render_open.get(slot / MAX_INSTANCES) {
            open.free(slot % MAX_INSTANCES);
        }
    }

    /// Kicks the live render streams: a loopback has room, or the cable is free. IRQL <=
    /// `DISPATCH_LEVEL`, holding no render queue lock and not the cable's.
    pub(crate) fn kick_render(&self) {
        self.render_slots.kick_all();
    }

    /// Calls `IPortDMus::Notify(group)` if `Init` gave us a port. IRQL <= `DISPATCH_LEVEL`.
    pub(crate) fn notify(&self) {
        let Some(port) = NonNull::new(self.port.load(Ordering::Acquire)) else {
            return;
        };
        // SAFETY: the port pointer holds a reference owned by this object, alive until our
        // destruction (which cannot run while `&self` is borrowed). Borrowed, not released.
        let port = ManuallyDrop::new(unsafe { ComPtr::from_raw(port) });
        port.notify(&self.group);
    }
}
