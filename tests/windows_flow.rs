//! What the Linux test command can check of the Windows `cargo make` flow (README, "On
//! Windows"), from the manifests the flow reads.
//!
//! - `cargo make`'s load_script calls wdk-build 0.6.0's `load_rust_driver_makefile()`, which
//!   runs a feature-less `cargo metadata` and fails with `NoWdkBuildCrateDetected` unless
//!   wdk-build is in it (cargo_make.rs, `load_wdk_build_makefile`): the WDK crates must be real
//!   dependencies for Windows targets (`cargo metadata --filter-platform` for both Windows
//!   targets lists them), Linux-target builds must stay free of them, and the Linux scripts'
//!   `--cfg mxf_no_wdk` must remove the ones that need the WDK to build.
//! - The README's registry example for cables is a value the driver takes as written.

use mxf_testkit::json::{self, Json};
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

/// The `key = value` lines of table `[name]` of a TOML file (comments and blanks dropped).
fn toml_table(text: &str, name: &str) -> Vec<String> {
    let header = format!("[{name}]");
    let mut lines = text.lines().map(str::trim);
    assert!(lines.any(|l| l == header), "no {header} table");
    lines
        .take_while(|l| !l.starts_with('['))
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect()
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(Path::new(MANIFEST_DIR).join(rel))
        .unwrap_or_else(|e| panic!("{rel}: {e}"))
}

#[test]
fn driver_profiles_abort_on_panic_and_the_scripts_do_not_override_them() {
    // windows-drivers-rs: a no_std driver cannot unwind ("unwinding panics are not supported
    // without std"); the profiles the scripts and cargo make build with must say abort.
    let manifest = read("Cargo.toml");
    for profile in ["profile.dev", "profile.release"] {
        let table = toml_table(&manifest, profile);
        assert!(
            table.iter().any(|l| l == "panic = \"abort\""),
            "[{profile}] must set panic = \"abort\": {table:?}"
        );
    }
    for script in ["scripts/build-driver.sh", "scripts/clippy-windows.sh"] {
        let text = read(script);
        let code: Vec<&str> = text
            .lines()
            .filter(|l| !l.trim_start().starts_with('#'))
            .collect();
        assert!(
            !code
                .iter()
                .any(|l| l.contains("panic=") || l.contains("panic=abort")),
            "{script} overrides the profiles' panic strategy"
        );
    }
}

#[test]
fn cargo_config_links_the_crt_statically_for_both_windows_targets_only() {
    // wdk-build 0.6.0 configure_binary_build(): StaticCrtNotEnabled unless crt-static is on.
    let config = read(".cargo/config.toml");
    for target in ["x86_64-pc-windows-msvc", "aarch64-pc-windows-msvc"] {
        let table = toml_table(&config, &format!("target.{target}"));
        assert_eq!(
            table,
            ["rustflags = [\"-C\", \"target-feature=+crt-static\"]"],
            "[target.{target}]"
        );
    }
    // Not for every target (host builds on Linux stay as they are).
    assert!(
        !config.lines().any(|l| l.trim() == "[build]"),
        "no [build] table"
    );
}

/// The README's cable example, the `reg add` lines for `CableCount` and `CableNames`, is a
/// value the driver takes whole: under the driver's settings key, the count in range, one
/// entry per cable as `reg add` stores them (`\0` between entries), none refused.
#[test]
fn the_readmes_cable_example_is_taken_whole_by_the_driver() {
    use mxfloop::names::{CABLE_COUNT_VALUE, CABLE_NAMES_VALUE, PARAMETERS_KEY};
    use mxfloop::settings::{cable_count_setting, cable_names_setting};
    let readme = read("README.md");
    let key = format!("HKLM\\SYSTEM\\CurrentControlSet\\Services\\{PARAMETERS_KEY} ");
    let line = |value: &str| {
        let v = format!(" /v {value} ");
        let l = readme
            .lines()
            .map(str::trim)
            .find(|l| l.starts_with("reg add ") && l.contains(&v))
            .unwrap_or_else(|| panic!("README: a `reg add` line for {value}"));
        assert!(l.contains(&key), "{l}: the driver's settings key");
        l.to_string()
    };
    let count_line = line(CABLE_COUNT_VALUE);
    assert!(count_line.contains(" /t REG_DWORD "), "{count_line}");
    let count: u32 = count_line
        .split(" /d ")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .and_then(|d| d.parse().ok())
        .expect("/d <count>");
    let (count, why) = cable_count_setting(Ok(count));
    assert_eq!(why, None, "{count_line}");
    let names_line = line(CABLE_NAMES_VALUE);
    assert!(names_line.contains(" /t REG_MULTI_SZ "), "{names_line}");
    let data = names_line
        .split(" /d \"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .expect("/d \"<entries>\"");
    let entries: Vec<&str> = data.split("\\0").collect();
    assert_eq!(entries.len(), count, "one entry per cable: {names_line}");
    let raw: Vec<u8> = entries
        .iter()
        .flat_map(|e| e.encode_utf16().chain([0]))
        .chain([0])
        .flat_map(u16::to_le_bytes)
        .collect();
    let cables = cable_names_setting(Ok(Some(&raw)), count);
    let refused: Vec<_> = cables.problems().collect();
    assert!(refused.is_empty(), "{refused:?}");
    let names: Vec<String> = cables.names().iter().map(|n| n.to_string()).collect();
    assert_eq!(names, entries);
}
