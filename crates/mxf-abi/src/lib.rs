//! The binary interface of the DirectMusic kernel streaming stack (DMus / MXF), as seen by a
//! miniport on x64 Windows: `dmusicks.h` and the parts of `portcls.h` a DMus miniport touches.
//!
//! Everything here is plain data: `#[repr(C)]` structs, constants, GUIDs and COM vtable
//! layouts with `extern "system"` slots in the documented order. There is no behaviour and no
//! `unsafe` code; the safe layer that calls through these tables lives in `mxf-core::com`.
//!
//! The modules form layers: `guid`, `status`, `handles`, `event`, `ks` and `synth` are leaves;
//! `unknown` (`IUnknown`) builds on `guid` and `status`; `portcls` (the filter description and
//! property requests) on those; `vtbl` (the interfaces) on all of them.
//!
//! Layouts are asserted at compile time for 64-bit targets (the only architecture the driver
//! ships for) and are cross-checked against mingw-w64's DDK headers by the test suite.
#![no_std]
// Ahead of the workspace-wide lint (not yet clean in every crate): one unsafe operation,
// with its own SAFETY proof, per block.

pub mod event;
pub mod guid;
pub mod handles;
pub mod ks;
pub mod ksguids;
pub mod portcls;
pub mod status;
pub mod synth;
pub mod unknown;
pub mod vtbl;

pub use event::*;
pub use guid::*;
pub use handles::*;
pub use ks::*;
pub use ksguids::*;
pub use portcls::*;
pub use status::*;
pub use synth::*;
pub use unknown::*;
pub use vtbl::*;
