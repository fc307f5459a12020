//! mxfloop: virtual MIDI loopback cables — a PortCls DirectMusic (DMus) miniport driver.
//!
//! This crate is the driver image: the adapter glue PortCls calls (`DriverEntry`, `AddDevice`,
//! `StartDevice`, which reads the settings and binds one `mxf-miniport` `IMiniportDMus` on the
//! kernel platform to a DMus port of its own per cable), the panic handler and nothing else;
//! the miniport's COM objects live in `mxf-miniport`, the logic in `mxf-core`, the kernel
//! platform in `mxf-kernel`. Every crate linked into the image is `no_std` without the `alloc`
//! crate: the WDM image (built with `--cfg mxf_no_wdk`) has no global allocator, so any use of
//! `alloc` fails to build there (see `scripts/build-driver.sh`); the WDK build registers
//! wdk-alloc's allocator, unused.
//!
//! On Windows targets it is `no_std` and links into `mxfloop.sys` (`scripts/build-driver.sh`
//! on Linux, `cargo make` with the WDK on Windows). On other hosts it is an ordinary library
//! so that the workspace's `cargo test`/`clippy` cover the parts that are plain logic
//! ([`names`], [`settings`], [`adapter`], [`lifecycle`]).
//!
//! # Framework: WDM on the Linux-built image, KMDF (miniport mode) with the WDK
//! `Cargo.toml` declares KMDF for `wdk-build`. A KMDF image needs the WDK's loader stub
//! (`WdfDriverEntry.lib`: `FxDriverEntry`, `WdfVersionBind`), which cannot be linked without
//! the WDK. The image built here is therefore WDM — a PortCls adapter is a WDM driver at heart
//! and KMDF adds nothing PortCls needs. The only difference between the two is
//! [`framework`]: with the WDK crates (every Windows target unless the rustflags carry
//! `--cfg mxf_no_wdk`, as the Linux scripts' do) it calls `WdfDriverCreate` with
//! `WdfDriverInitNoDispatchOverride` (so PortCls keeps the dispatch table) before
//! `PcInitializeAdapterDriver` and `WdfDriverMiniportUnload` after PortCls's unload
//! ([`lifecycle`]); on the WDM image it does nothing.
#![cfg_attr(target_os = "windows", no_std)]

pub mod adapter;
pub mod lifecycle;
pub mod names;
pub mod settings;

#[cfg(target_os = "windows")]
mod config;
#[cfg(target_os = "windows")]
mod entry;
#[cfg(target_os = "windows")]
pub mod framework;
#[cfg(target_os = "windows")]
mod miniport;
#[cfg(all(target_os = "windows", mxf_no_wdk))]
mod panic;

#[cfg(all(target_os = "windows", not(mxf_no_wdk)))]
use wdk_panic as _;

/// The WDK build registers wdk-alloc's pool allocator (tag `rust`), as windows-drivers-rs
/// drivers do; no crate of ours uses it (see the crate docs: the WDM image has no global
/// allocator at all, so a use of `alloc` fails to link there).
#[cfg(all(target_os = "windows", not(mxf_no_wdk)))]
#[global_allocator]
static GLOBAL_ALLOCATOR: wdk_alloc::WdkAllocator = wdk_alloc::WdkAllocator;
