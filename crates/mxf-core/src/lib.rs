//! The portable core of mxfloop.
//!
//! Everything that is logic lives here: the COM plumbing, the `IAllocatorMXF` implementation,
//! the capture packager, the render path and the loopback. The core never names a Windows API;
//! it reaches the kernel only through the [`platform::Platform`] seam, implemented over the WDK
//! (`mxf-kernel`) and by the host emulator (`mxf-kemu`).
#![no_std]

pub mod alloc;
pub mod cable;
pub mod capture;
pub mod com;
pub mod event_list;
pub mod feedback;
pub mod loopback;
pub mod midi;
#[cfg(feature = "planted-faults")]
pub mod planted;
pub mod platform;
pub mod pool_box;
pub mod render;
pub mod serialize;
pub mod service;
pub mod write;
