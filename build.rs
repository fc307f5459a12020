//! Build script of the driver crate.
//!
//! For a Windows target with the WDK crates (every Windows target unless the rustflags carry
//! `--cfg mxf_no_wdk`, see `Cargo.toml`) it hands the build to `wdk-build`, which reads
//! `[package.metadata.wdk.driver-model]`, requires the static CRT (`+crt-static`, set for the
//! Windows targets by `.cargo/config.toml`) and emits the WDK's library paths and the KMDF
//! kernel linker arguments. wdk-build is a build dependency on Windows hosts only, so on Linux
//! that combination is an error with the way out; the Linux pipeline (`scripts/build-driver.sh`)
//! builds the WDM image with `--cfg mxf_no_wdk` and passes the linker settings itself, and host
//! builds have nothing to do.

fn main() {
    println!("cargo::rerun-if-changed=build.rs");
    let windows_target = std::env::var("CARGO_CFG_TARGET_OS").is_ok_and(|os| os == "windows");
    // CARGO_CFG_<cfg> also carries the `--cfg`s of the rustflags (Cargo reference,
    // environment variables set for build scripts).
    let wdk_excluded = std::env::var_os("CARGO_CFG_MXF_NO_WDK").is_some();
    if windows_target && !wdk_excluded {
        configure_wdk_build();
    }
}

/// The KMDF build with the WDK (a Windows build machine).
#[cfg(windows)]
fn configure_wdk_build() {
    if let Err(e) = wdk_build::configure_wdk_binary_build() {
        println!("cargo::error=wdk-build could not configure the driver build: {e}");
    }
}

/// A Windows target on a non-Windows host without `--cfg mxf_no_wdk`: wdk-sys would need the
/// WDK, which only exists on Windows.
#[cfg(not(windows))]
fn configure_wdk_build() {
    println!(
        "cargo::error=the WDK build of mxfloop needs a Windows host with the WDK; on this host \
         build the WDM image with scripts/build-driver.sh (it passes --cfg mxf_no_wdk)"
    );
}
