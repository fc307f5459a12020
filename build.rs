//! Build script of the driver crate.
//!
//! With feature `wdk` (Windows + WDK only) it hands the build to `wdk-build`, which reads
//! `[package.metadata.wdk.driver-model]` and emits the WDK's library paths and kernel linker
//! arguments. Without it there is nothing to do: the Linux pipeline (`scripts/build-driver.sh`)
//! passes the linker settings on the command line so that host builds stay ordinary.

fn main() {
    println!("cargo::rerun-if-changed=build.rs");
    #[cfg(feature = "wdk")]
    {
        if let Err(e) = wdk_build::configure_wdk_binary_build() {
            println!("cargo::error=wdk-build could not configure the driver build: {e}");
        }
    }
}
