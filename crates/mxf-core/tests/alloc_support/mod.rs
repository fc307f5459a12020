//! Helpers shared by the allocator's integration tests.
#![allow(dead_code)]

use mxf_abi::*;
use mxf_core::alloc::{Allocator, AllocatorConfig, new_allocator};
use mxf_core::com::ComPtr;
use mxf_kemu::{Emu, EmuConfig};
use std::ptr::{self, NonNull};

/// A small allocator: 64-byte buffers, reserves of 4 events / 2 buffers, caps 16 / 8.
pub fn small_cfg() -> AllocatorConfig {
    AllocatorConfig {
        buffer_size: 64,
        reserve_events: 4,
        reserve_buffers: 2,
        max_events: 16,
        max_buffers: 8,
        poison_freed: false,
    }
}

/// An emulator without Verifier but with special pool (guards, poisoned quarantine).
pub fn emu() -> Emu {
    Emu::new(EmuConfig::default())
}

/// An emulator under Verifier (special pool, lookaside depth 0).
pub fn emu_verifier() -> Emu {
    Emu::new(EmuConfig::verifier())
}

pub fn make(emu: &Emu, cfg: AllocatorConfig) -> ComPtr<IAllocatorMxf> {
    new_allocator(emu.clone(), cfg).expect("new_allocator")
}

pub fn ours(p: &ComPtr<IAllocatorMxf>) -> &Allocator {
    Allocator::from_com(p).expect("one of ours")
}

/// The raw vtable of an allocator.
pub fn vt(p: &ComPtr<IAllocatorMxf>) -> &IAllocatorMxfVtbl {
    // SAFETY: `p` keeps the object alive; a live COM object starts with its vtable pointer.
    let table = unsafe { (*p.as_raw()).vtbl };
    // SAFETY: an allocator's vtable pointer points to its static `IAllocatorMxfVtbl`.
    unsafe { &*table }
}

/// Asserts that the emulator unloads cleanly (no leak, guards and poison intact).
#[track_caller]
pub fn assert_clean_unload(emu: &Emu) {
    if let Err(bc) = emu.unload() {
        panic!("unload not clean: {bc}");
    }
}

/// Builds a chain from events, linking them in order; returns the head (or null).
pub fn link(events: &[NonNull<DmusKernelEvent>]) -> *mut DmusKernelEvent {
    for w in events.windows(2) {
        // SAFETY: test-owned events from the allocator.
        unsafe { (*w[0].as_ptr()).p_next_evt = w[1].as_ptr() };
    }
    events.first().map_or(ptr::null_mut(), |e| e.as_ptr())
}

/// Turns `e` into a buffer event carrying `buf` with `cb` bytes.
pub fn set_buffer(e: NonNull<DmusKernelEvent>, buf: NonNull<u8>, cb: u16) {
    // SAFETY: a live event from the allocator, owned by the test and not otherwise borrowed.
    let ev = unsafe { &mut *e.as_ptr() };
    ev.cb_event = cb;
    ev.u_data.pb_data = buf.as_ptr();
}

/// Turns `e` into a package event with sub-chain `sub` (may be null).
pub fn set_package(e: NonNull<DmusKernelEvent>, sub: *mut DmusKernelEvent) {
    // SAFETY: a live event from the allocator, owned by the test and not otherwise borrowed.
    let ev = unsafe { &mut *e.as_ptr() };
    ev.us_flags |= DMUS_KEF_PACKAGE_EVENT;
    ev.u_data.p_package_evt = sub;
}

/// Whether the event is exactly what `GetMessage` must return.
pub fn is_fresh(e: NonNull<DmusKernelEvent>) -> bool {
    // SAFETY: a live event is 40 readable bytes.
    let bytes = unsafe { std::slice::from_raw_parts(e.as_ptr().cast::<u8>(), 40) };
    bytes[1] == 40 && bytes.iter().enumerate().all(|(i, &b)| i == 1 || b == 0)
}
