//! Where the compiler, the mingw DDK headers and the shared fixups live.

use std::path::{Path, PathBuf};

/// The Debian packages that provide the compiler and the headers.
pub const INSTALL_HINT: &str = "apt-get install gcc-mingw-w64-x86-64 mingw-w64-x86-64-dev";

/// The repository root (this crate lives in `<repo>/crates/layout-probe`).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The directory holding `layout_probe.h`, always on the probe's include path.
pub fn probe_header_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("c")
}

/// The shared tree (`tools/win-sysroot/ddk_fixups.h`): `MXF_SHARED`, else `<repo>/../shared`.
pub fn shared_dir() -> PathBuf {
    match std::env::var_os("MXF_SHARED") {
        Some(dir) => PathBuf::from(dir),
        None => repo_root().join("../shared"),
    }
}

/// The compiler: `MXF_MINGW_GCC`, else `x86_64-w64-mingw32-gcc` from `PATH`.
pub fn mingw_gcc() -> String {
    std::env::var("MXF_MINGW_GCC").unwrap_or_else(|_| "x86_64-w64-mingw32-gcc".into())
}

/// The mingw `include/ddk` directory: `MXF_MINGW_DDK`, else the Debian locations.
///
/// # Panics
/// When neither holds `portcls.h`, naming the packages to install.
pub fn ddk_include() -> PathBuf {
    if let Some(dir) = std::env::var_os("MXF_MINGW_DDK") {
        return PathBuf::from(dir);
    }
    let candidates = [
        "/usr/share/mingw-w64/include/ddk",
        "/usr/x86_64-w64-mingw32/include/ddk",
    ];
    candidates
        .iter()
        .map(PathBuf::from)
        .find(|c| c.join("portcls.h").is_file())
        .unwrap_or_else(|| {
            panic!(
                "mingw-w64 DDK headers (ddk/portcls.h) not found in {candidates:?} \
                 (or set MXF_MINGW_DDK); run `{INSTALL_HINT}`"
            )
        })
}
