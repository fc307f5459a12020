//! The Windows kernel side of mxfloop.
//!
//! - [`sys`]: the raw layer — hand-written `#[repr(C)]` kernel structures (layouts asserted at
//!   compile time) and `extern` declarations of the ntoskrnl and PortCls exports the driver
//!   uses. wdk-sys binds no PortCls and no inline functions, hence the hand-written layer.
//! - The safe layer beside it: [`KernelPlatform`], the kernel implementation of
//!   [`mxf_core::platform::Platform`] (lookaside lists, `KSPIN_LOCK`, `KTIMER` + `KDPC`, CR8,
//!   `KUSER_SHARED_DATA`, `DbgPrintEx`, `KeBugCheckEx`), [`portcls`], thin wrappers over
//!   the PortCls adapter functions, `registry` (the driver's settings: `REG_DWORD`s and the
//!   bytes of any other value), `device_interface` (values in a device interface's key: the
//!   cables' friendly names), [`driver_object`] (the unload slot). Its bug-check codes are
//!   declared with every other in `mxf_core::platform::bugcheck`.
//!
//! # Minimum Windows version: Windows 10 version 2004 (build 19041)
//! `ExAllocatePool2` (the only pool allocator that zeroes and defaults to NX) first shipped in
//! 2004. The lookaside fast paths (`ExAllocateFromLookasideListEx`/`ExFreeToLookasideListEx`)
//! are inline functions in `wdm.h` before Windows 11 22H2, so instead of requiring 22H2 this
//! crate re-implements their bodies over the long-exported `ExpInterlockedPopEntrySList` /
//! `ExpInterlockedPushEntrySList` and the list's own allocate/free callbacks (see
//! [`lookaside`]).
//!
//! Everything that calls the kernel is compiled for Windows targets only; the layouts, the
//! pure helpers and their tests build everywhere so that host `cargo test`/`clippy` cover them.
#![no_std]

pub mod sys;

#[cfg(windows)]
mod bug_check;
#[cfg(windows)]
mod clock;
#[cfg(windows)]
pub mod device_interface;
pub mod driver_object;
pub mod irql;
pub mod log;
pub mod lookaside;
#[cfg(windows)]
mod platform;
#[cfg(windows)]
pub mod portcls;
pub mod processor;
#[cfg(windows)]
pub mod registry;
pub mod spin;
pub mod timer;

#[cfg(windows)]
pub use platform::KernelPlatform;
