//! The raw layer: kernel structures and exports, declared by hand.
//!
//! Layouts follow the x64 `wdm.h`/`portcls.h` and are asserted at compile time (sizes and the
//! offsets the safe layer touches). Where the WDK crates are dependencies (Windows targets
//! without `--cfg mxf_no_wdk`, see `Cargo.toml`) the same items are also asserted to agree with
//! wdk-sys's bindgen output.
//!
//! Imports are declared with `kind = "raw-dylib"` naming the exporting image (`ntoskrnl.exe`,
//! `portcls.sys`), so rustc writes the import library itself: no WDK, no mingw import library
//! and no `dlltool` is needed to link, and each function's source image is stated here once
//! (`scripts/expected-imports.txt` pins the resulting import table).

pub mod ntoskrnl;
pub mod portcls;
pub mod types;

#[cfg(all(windows, not(mxf_no_wdk)))]
mod wdk_agree;

pub use types::*;
