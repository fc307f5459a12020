//! What the Linux test command can check of the Windows `cargo make` flow (README, "On
//! Windows"), from the manifests the flow reads.
//!
//! - `cargo make`'s load_script calls wdk-build 0.6.0's `load_rust_driver_makefile()`, which
//!   runs a feature-less `cargo metadata` and fails with `NoWdkBuildCrateDetected` unless
//!   wdk-build is in it (cargo_make.rs, `load_wdk_build_makefile`): the WDK crates must be real
//!   dependencies for Windows targets (`cargo metadata --filter-platform` for both Windows
//!   targets lists them), Linux-target builds must stay free of them, and the Linux scripts'
//!   `--cfg mxf_no_wdk` must remove the ones that need the WDK to build.

#[path = "support/json.rs"]
mod json;

use json::Json;
use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

const MANIFEST_DIR: &str = env!("CARGO_MANIFEST_DIR");

/// The WDK crates the driver crate depends on (wdk-macros comes with wdk-sys).
const WDK_CRATES: [&str; 6] = [
    "wdk",
    "wdk-alloc",
    "wdk-build",
    "wdk-macros",
    "wdk-panic",
    "wdk-sys",
];

/// `cargo metadata --locked` of the workspace (optionally `--filter-platform <platform>`) with
/// exactly the given rustflags (none of the caller's environment).
fn metadata(platform: Option<&str>, rustflags: &[&str]) -> Json {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.args([
        "metadata",
        "--format-version",
        "1",
        "--locked",
        "--manifest-path",
    ])
    .arg(Path::new(MANIFEST_DIR).join("Cargo.toml"));
    if let Some(p) = platform {
        cmd.args(["--filter-platform", p]);
    }
    for v in [
        "RUSTFLAGS",
        "CARGO_BUILD_RUSTFLAGS",
        "CARGO_ENCODED_RUSTFLAGS",
    ] {
        cmd.env_remove(v);
    }
    if !rustflags.is_empty() {
        cmd.env("CARGO_ENCODED_RUSTFLAGS", rustflags.join("\x1f"));
    }
    let out = cmd.output().expect("running cargo metadata");
    assert!(
        out.status.success(),
        "cargo metadata {platform:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    json::parse(&String::from_utf8(out.stdout).expect("UTF-8 metadata"))
        .unwrap_or_else(|e| panic!("cargo metadata output: {e}"))
}

/// The names of the WDK crates among the packages of a metadata document.
fn wdk_packages(m: &Json) -> BTreeSet<String> {
    let packages = m.get("packages").expect("metadata has packages").items();
    assert!(
        packages
            .iter()
            .any(|p| p.get("name").and_then(Json::as_str) == Some("mxfloop")),
        "mxfloop is not in the metadata"
    );
    packages
        .iter()
        .filter_map(|p| p.get("name").and_then(Json::as_str))
        .filter(|n| n.starts_with("wdk"))
        .map(str::to_string)
        .collect()
}

fn names(list: &[&str]) -> BTreeSet<String> {
    list.iter().map(|s| s.to_string()).collect()
}

#[test]
fn feature_less_metadata_finds_wdk_build_as_cargo_makes_load_script_needs() {
    // What load_wdk_build_makefile() runs: `cargo metadata`, no features, no filter; exactly
    // one wdk-build (more than one is MultipleWdkBuildCratesDetected).
    let m = metadata(None, &[]);
    let wdk_build = m
        .get("packages")
        .expect("packages")
        .items()
        .iter()
        .filter(|p| p.get("name").and_then(Json::as_str) == Some("wdk-build"))
        .count();
    assert_eq!(
        wdk_build, 1,
        "wdk-build packages in the feature-less metadata"
    );
}

#[test]
fn windows_targets_depend_on_the_wdk_crates() {
    for target in ["x86_64-pc-windows-msvc", "aarch64-pc-windows-msvc"] {
        assert_eq!(
            wdk_packages(&metadata(Some(target), &[])),
            names(&WDK_CRATES),
            "WDK crates for {target}"
        );
    }
}

#[test]
fn linux_builds_have_no_wdk_crate() {
    assert_eq!(
        wdk_packages(&metadata(Some("x86_64-unknown-linux-gnu"), &[])),
        BTreeSet::new()
    );
}

#[test]
fn the_linux_scripts_cfg_removes_the_crates_that_need_the_wdk() {
    // scripts/build-driver.sh and scripts/clippy-windows.sh pass --cfg mxf_no_wdk; what stays
    // is wdk-build, a build dependency of Windows *hosts* (metadata evaluates it against the
    // filter platform), which a Linux host never builds.
    for script in ["scripts/build-driver.sh", "scripts/clippy-windows.sh"] {
        let text = std::fs::read_to_string(Path::new(MANIFEST_DIR).join(script)).expect(script);
        assert!(
            text.contains("--cfg mxf_no_wdk"),
            "{script} must pass --cfg mxf_no_wdk"
        );
    }
    assert_eq!(
        wdk_packages(&metadata(
            Some("x86_64-pc-windows-msvc"),
            &["--cfg", "mxf_no_wdk"]
        )),
        names(&["wdk-build"])
    );
}
