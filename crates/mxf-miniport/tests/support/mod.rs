//! Test doubles: those of `mxf-testkit` (a master clock over the emulator's clock, event
//! builders) and (in `port`) a minimal hand-written DMus port: IPortDMus, the pin's service
//! sink and a capture sink.
#![allow(dead_code, unused_imports)]

pub mod calls;
pub mod port;

pub use mxf_testkit::*;
