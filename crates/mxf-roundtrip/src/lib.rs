//! `mxf-roundtrip`: the user-mode round-trip tester for the mxfloop virtual MIDI cable.
//!
//! Run on a Windows machine (or VM) with the mxfloop driver installed, it opens the WinMM
//! MIDI output and input ports whose names contain "mxfloop" (case-insensitive; `--device`
//! picks another), sends short messages of every kind (note on/off, poly aftertouch, control
//! change, program change, channel pressure, pitch bend, and system common: MTC quarter
//! frame, song position, song select, tune request) and SysEx messages with payloads from
//! 0 bytes (`F0 F7`) to 1 MiB, and checks that each comes back byte-exact and in order. It
//! prints per-size results, latency percentiles (p50/p90/p99/max, µs, measured with
//! QueryPerformanceCounter) and throughput (bytes/s and as a multiple of a 31250-baud DIN
//! cable), and exits non-zero on any mismatch.
//!
//! # Where what runs
//!
//! - Everything except [`winmm`] is portable and tested on Linux: [`patterns`] (seeded
//!   payloads), [`checker`] (incremental reassembly and verification), [`stats`],
//!   [`report`], [`runner`] (the run loop over the [`transport::Transport`] trait),
//!   [`device`] (name matching) and [`sim`] (an in-memory loopback modelling WinMM's
//!   buffer behaviour, with fault injection).
//! - `winmm` (Windows only) implements [`transport::Transport`] over winmm.dll through the
//!   raw declarations of the `mxf-winmm-sys` crate (`no_std`, type-checkable for
//!   `x86_64-pc-windows-msvc` with a core-only sysroot). On other hosts the module can be
//!   type-checked against the host's std with `RUSTFLAGS="--cfg mxf_winmm_check"`.
//!
//! # Non-Windows behaviour (decision)
//!
//! WinMM exists only on Windows. Elsewhere the binary refuses to pretend: without
//! `--simulate` it prints that WinMM is Windows-only and exits with status 2; with
//! `--simulate` it runs the full test against [`sim::SimLoopback`] (clearly labelled as
//! simulated in the report), which is useful as a demo and to see the report format.
//! `--simulate` works on Windows too.
//!
//! Exit status: 0 pass, 1 mismatch, 2 usage/device/platform error, 3 WinMM error.

pub mod checker;
pub mod cli;
pub mod device;
pub mod patterns;
pub mod report;
pub mod runner;
pub mod sim;
pub mod stats;
pub mod transport;
#[cfg(any(windows, mxf_winmm_check))]
pub mod winmm;
