//! Cross-checks `inf/mxfloop.inx` against itself and against the code: every referenced
//! section exists, every `%string%` is defined, the service binary is this crate's `.sys`,
//! every possible cable has its interfaces with the reference strings `StartDevice` registers,
//! the KS categories and class are the real ones, and the INF's default settings are the
//! driver's.

use std::collections::{BTreeMap, BTreeSet};

use mxf_abi::{Guid, KSCATEGORY_AUDIO, KSCATEGORY_CAPTURE, KSCATEGORY_RENDER};
use mxfloop::names::{MAX_CABLES, SERVICE_NAME, cable_reference};
use mxfloop::settings::{CableName, cable_names_setting};

/// One `key = value` (or bare) line of a section, comments stripped.
#[derive(Debug, Clone)]
struct Line {
    key: Option<String>,
    value: String,
}

struct Inf {
    /// Section name (lower-case) → lines.
    sections: BTreeMap<String, Vec<Line>>,
    /// `[Strings]` key (lower-case) → value without quotes.
    strings: BTreeMap<String, String>,
}

/// Strips a `;` comment that is not inside double quotes.
fn strip_comment(line: &str) -> &str {
    let mut quoted = false;
    for (i, c) in line.char_indices() {
        match c {
            '"' => quoted = !quoted,
            ';' if !quoted => return &line[..i],
            _ => {}
        }
    }
    line
}

fn unquote(s: &str) -> String {
    let s = s.trim();
    s.strip_prefix('"')
        .and_then(|t| t.strip_suffix('"'))
        .unwrap_or(s)
        .to_string()
}

fn parse(text: &str) -> Inf {
    let mut sections: BTreeMap<String, Vec<Line>> = BTreeMap::new();
    let mut current: Option<String> = None;
    for raw in text.lines() {
        let line = strip_comment(raw).trim();
        if line.is_empty() {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            let name = name.trim().to_ascii_lowercase();
            assert!(
                !sections.contains_key(&name),
                "section [{name}] defined twice"
            );
            sections.insert(name.clone(), Vec::new());
            current = Some(name);
            continue;
        }
        let section = current
            .as_ref()
            .unwrap_or_else(|| panic!("line outside a section: {line}"));
        let parsed = match line.split_once('=') {
            // `HKR,,X,,"a=b"`-style lines have a comma before any '=': they are values.
            Some((k, v)) if !k.contains(',') && !k.contains('"') => Line {
                key: Some(k.trim().to_string()),
                value: v.trim().to_string(),
            },
            _ => Line {
                key: None,
                value: line.to_string(),
            },
        };
        sections.get_mut(section).unwrap().push(parsed);
    }
    let strings = sections
        .get("strings")
        .expect("[Strings] section")
        .iter()
        .map(|l| {
            (
                l.key
                    .clone()
                    .expect("Strings lines are key = value")
                    .to_ascii_lowercase(),
                unquote(&l.value),
            )
        })
        .collect();
    Inf { sections, strings }
}

impl Inf {
    fn section(&self, name: &str) -> &[Line] {
        self.sections
            .get(&name.trim().to_ascii_lowercase())
            .unwrap_or_else(|| panic!("section [{name}] is referenced but not defined"))
    }

    fn values<'a>(&'a self, section: &str, key: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.section(section)
            .iter()
            .filter(move |l| {
                l.key
                    .as_deref()
                    .is_some_and(|k| k.eq_ignore_ascii_case(key))
            })
            .map(|l| l.value.as_str())
    }

    fn value(&self, section: &str, key: &str) -> String {
        let v: Vec<_> = self.values(section, key).collect();
        assert_eq!(v.len(), 1, "[{section}] {key} must appear exactly once");
        v[0].to_string()
    }

    /// Replaces `%name%` by its string; `%13%`-style directory ids stay.
    fn resolve(&self, s: &str) -> String {
        let mut out = String::new();
        let mut rest = s;
        while let Some(start) = rest.find('%') {
            out.push_str(&rest[..start]);
            let after = &rest[start + 1..];
            let end = after
                .find('%')
                .unwrap_or_else(|| panic!("unterminated %token% in {s}"));
            let token = &after[..end];
            if token.chars().all(|c| c.is_ascii_digit()) {
                out.push_str(&format!("%{token}%"));
            } else {
                let v = self
                    .strings
                    .get(&token.to_ascii_lowercase())
                    .unwrap_or_else(|| panic!("%{token}% is not defined in [Strings]"));
                out.push_str(v);
            }
            rest = &after[end + 1..];
        }
        out.push_str(rest);
        out
    }

    fn fields(&self, value: &str) -> Vec<String> {
        value
            .split(',')
            .map(|f| unquote(&self.resolve(f)))
            .collect()
    }
}

fn load() -> Inf {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/inf/mxfloop.inx");
    parse(&std::fs::read_to_string(path).expect("inf/mxfloop.inx"))
}

/// The install section(s) named by the models section.
fn install_sections(inf: &Inf) -> Vec<(String, String)> {
    let mfg = inf.section("Manufacturer");
    assert_eq!(mfg.len(), 1, "one manufacturer");
    let f: Vec<String> = mfg[0]
        .value
        .split(',')
        .map(|s| s.trim().to_string())
        .collect();
    assert!(f.len() >= 2, "the models section must be decorated");
    assert!(
        f[1].starts_with("NT$ARCH$"),
        "architecture decoration via stampinf's $ARCH$"
    );
    let models = format!("{}.{}", f[0], f[1]);
    inf.section(&models)
        .iter()
        .map(|l| {
            let v: Vec<&str> = l.value.split(',').map(str::trim).collect();
            (
                v[0].to_string(),
                v.get(1).copied().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

#[test]
fn version_section_is_a_media_class_lockdown_package() {
    let inf = load();
    assert_eq!(unquote(&inf.value("Version", "Signature")), "$WINDOWS NT$");
    assert_eq!(inf.value("Version", "Class"), "MEDIA");
    assert_eq!(
        inf.value("Version", "ClassGuid").to_ascii_lowercase(),
        "{4d36e96c-e325-11ce-bfc1-08002be10318}"
    );
    assert_eq!(inf.value("Version", "PnpLockdown"), "1");
    assert_eq!(
        inf.value("Version", "CatalogFile"),
        format!("{SERVICE_NAME}.cat")
    );
    assert!(!inf.value("Version", "DriverVer").is_empty());
    inf.resolve(&inf.value("Version", "Provider"));
}

#[test]
fn the_device_is_root_enumerated_and_installs_the_crate_binary() {
    let inf = load();
    let installs = install_sections(&inf);
    assert_eq!(installs.len(), 1);
    let (install, hwid) = &installs[0];
    assert_eq!(hwid, "Root\\MxfLoop");
    let nt = format!("{install}.NT");
    let binary = format!("{SERVICE_NAME}.sys");

    let includes: BTreeSet<String> = inf
        .value(&nt, "Include")
        .split(',')
        .map(|s| s.trim().to_ascii_lowercase())
        .collect();
    assert_eq!(
        includes,
        BTreeSet::from(["ks.inf".to_string(), "wdmaudio.inf".to_string()])
    );
    let needs: BTreeSet<String> = inf
        .value(&nt, "Needs")
        .split(',')
        .map(|s| s.trim().to_ascii_lowercase())
        .collect();
    assert_eq!(
        needs,
        BTreeSet::from([
            "ks.registration".to_string(),
            "wdmaudio.registration".to_string()
        ])
    );

    for list in inf.value(&nt, "CopyFiles").split(',') {
        let files: Vec<&str> = inf.section(list).iter().map(|l| l.value.as_str()).collect();
        assert_eq!(files, [binary.as_str()], "[{list}] copies the driver image");
    }
    let disk_files = inf.section("SourceDisksFiles");
    assert!(
        disk_files
            .iter()
            .any(|l| l.key.as_deref() == Some(binary.as_str())),
        "{binary} is on the source disk"
    );
    for reg in inf.value(&nt, "AddReg").split(',') {
        for l in inf.section(reg) {
            inf.resolve(&l.value);
        }
    }

    let services = format!("{install}.NT.Services");
    let add: Vec<String> = inf
        .values(&services, "AddService")
        .map(|v| v.to_string())
        .collect();
    assert_eq!(add.len(), 1);
    let f = inf.fields(&add[0]);
    assert_eq!(f[0], SERVICE_NAME, "service name is the crate name");
    assert_eq!(
        f[1], "0x00000002",
        "SPSVCINST_ASSOCSERVICE: the function driver"
    );
    let svc = &f[2];
    assert_eq!(inf.value(svc, "ServiceType"), "1", "SERVICE_KERNEL_DRIVER");
    assert_eq!(inf.value(svc, "StartType"), "3", "SERVICE_DEMAND_START");
    assert_eq!(inf.value(svc, "ErrorControl"), "1");
    inf.resolve(&inf.value(svc, "DisplayName"));
    let bin = inf.resolve(&inf.value(svc, "ServiceBinary"));
    assert_eq!(
        bin,
        format!("%13%\\{binary}"),
        "service binary is the crate's .sys in the driver store"
    );
    assert_eq!(inf.value("DestinationDirs", "DefaultDestDir"), "13");

    let wdf = format!("{install}.NT.Wdf");
    let f = inf.fields(&inf.value(&wdf, "KmdfService"));
    assert_eq!(f[0], SERVICE_NAME);
    assert_eq!(inf.value(&f[1], "KmdfLibraryVersion"), "$KMDFVERSION$");
}

#[test]
fn hw_section_makes_a_sound_device_that_unelevated_clients_can_open() {
    let inf = load();
    let (install, _) = install_sections(&inf).remove(0);
    let hw = format!("{install}.NT.HW");
    let mut device_type = None;
    let mut security = None;
    for reg in inf.value(&hw, "AddReg").split(',') {
        for l in inf.section(reg) {
            let f = inf.fields(&l.value);
            assert_eq!(
                f[0], "HKR",
                "HW AddReg writes the device's own key: {}",
                l.value
            );
            match f.get(2).map(String::as_str) {
                Some("DeviceType") => device_type = Some((f[3].clone(), f[4].clone())),
                Some("Security") => security = f.get(4).cloned(),
                _ => {}
            }
        }
    }
    // FLG_ADDREG_TYPE_DWORD, FILE_DEVICE_SOUND (wdm.h: 0x0000001d).
    let (flags, value) = device_type.expect("HKR,,DeviceType in the HW section");
    assert_eq!(flags, "0x10001", "DeviceType is a REG_DWORD");
    assert_eq!(
        u32::from_str_radix(value.trim_start_matches("0x"), 16).expect("hex DeviceType"),
        0x1D,
        "FILE_DEVICE_SOUND"
    );
    // A protected DACL: SYSTEM all access; administrators, everyone and restricted code read,
    // write, execute (what the filter's clients need; nobody else gets GA).
    let sddl = security.expect("HKR,,Security in the HW section");
    let aces: BTreeSet<&str> = sddl
        .strip_prefix("D:P")
        .expect("a protected DACL")
        .split_inclusive(')')
        .collect();
    let want: BTreeSet<&str> = [
        "(A;;GA;;;SY)",
        "(A;;GRGWGX;;;BA)",
        "(A;;GRGWGX;;;WD)",
        "(A;;GRGWGX;;;RC)",
    ]
    .into_iter()
    .collect();
    assert_eq!(aces, want);
}

/// What `infverif /w` (a Windows Driver package: declarative and isolated) rejects and this
/// file can be checked for without Windows: directives that are "not valid" in universal or
/// Windows Driver packages (each directive's INF reference page), class installers and
/// co-installers, registry writes outside the device's own keys (HKR), files copied anywhere
/// but the driver store (DIRID 13), and a package without PnpLockdown.
#[test]
fn the_inf_keeps_to_the_declarative_isolated_subset_infverif_w_checks() {
    let inf = load();
    const NOT_DECLARATIVE: [&str; 11] = [
        "DelReg",
        "DelFiles",
        "RenFiles",
        "BitReg",
        "LogConfig",
        "ProfileItems",
        "UpdateInis",
        "UpdateIniFields",
        "Ini2Reg",
        "RegisterDlls",
        "UnregisterDlls",
    ];
    let mut add_regs = BTreeSet::new();
    for (name, lines) in &inf.sections {
        assert!(
            !name.contains("coinstallers") && !name.starts_with("classinstall32"),
            "[{name}]: no class installers or co-installers in a Windows Driver package"
        );
        for l in lines {
            if let Some(k) = &l.key {
                assert!(
                    !NOT_DECLARATIVE.iter().any(|d| d.eq_ignore_ascii_case(k)),
                    "[{name}] {k}: not valid in a declarative INF"
                );
                if k.eq_ignore_ascii_case("AddReg") {
                    add_regs.extend(l.value.split(',').map(|s| s.trim().to_string()));
                }
            }
        }
    }
    assert!(!add_regs.is_empty());
    for reg in &add_regs {
        for l in inf.section(reg) {
            let root = inf.fields(&l.value)[0].to_ascii_uppercase();
            assert_eq!(
                root, "HKR",
                "[{reg}] writes outside the device's keys: {}",
                l.value
            );
        }
    }
    for l in inf.section("DestinationDirs") {
        let dirid = inf.fields(&l.value)[0].clone();
        assert_eq!(
            dirid, "13",
            "[DestinationDirs] {:?}: run from the driver store",
            l.key
        );
    }
    assert_eq!(inf.value("Version", "PnpLockdown"), "1");
}

/// The cable (0-based) whose reference string `r` is, per `src/names.rs`.
fn cable_of_reference(r: &str) -> Option<usize> {
    (0..MAX_CABLES).find(|&i| {
        let w = cable_reference(i).expect("a reference per cable");
        String::from_utf16(&w[..w.len() - 1]).unwrap() == r
    })
}

#[test]
fn every_possible_cable_has_one_interface_per_category_with_its_reference_and_default_name() {
    let inf = load();
    let (install, _) = install_sections(&inf).remove(0);
    let ifs = format!("{install}.NT.Interfaces");
    let guid = |g: Guid| format!("{{{g}}}").to_ascii_uppercase();
    let categories: BTreeSet<String> = mxfloop::adapter::CATEGORIES.into_iter().map(guid).collect();
    let want: BTreeSet<String> = [KSCATEGORY_AUDIO, KSCATEGORY_RENDER, KSCATEGORY_CAPTURE]
        .into_iter()
        .map(guid)
        .collect();
    assert_eq!(categories, want, "the filter's categories are the KS ones");
    let mut seen: BTreeMap<(String, usize), usize> = BTreeMap::new();
    for v in inf.values(&ifs, "AddInterface") {
        let f = inf.fields(v);
        assert_eq!(
            f.len(),
            3,
            "AddInterface = category, reference, section: {v}"
        );
        let category = f[0].to_ascii_uppercase();
        assert!(
            categories.contains(&category),
            "{v}: a category the subdevice registers"
        );
        let cable = cable_of_reference(&f[1])
            .unwrap_or_else(|| panic!("{v}: reference string {} is no cable's", f[1]));
        *seen.entry((category, cable)).or_default() += 1;
        let regs = inf.value(&f[2], "AddReg");
        let mut clsid = None;
        let mut friendly = None;
        for reg in regs.split(',') {
            for l in inf.section(reg) {
                let r = inf.fields(&l.value);
                assert_eq!(r[0], "HKR", "{}", l.value);
                match r.get(2).map(String::as_str) {
                    Some("CLSID") => clsid = r.get(4).cloned(),
                    Some("FriendlyName") => friendly = r.get(4).cloned(),
                    _ => {}
                }
            }
        }
        assert_eq!(
            clsid.as_deref(),
            Some("{17CCA71B-ECD7-11D0-B908-00A0C9223196}"),
            "KS proxy CLSID"
        );
        let default = CableName::default_for(cable).to_string();
        assert_eq!(
            friendly.as_deref(),
            Some(default.as_str()),
            "{v}: cable {}'s default friendly name",
            cable + 1
        );
    }
    // Exactly one interface per (category, cable), for every cable up to MAX_CABLES.
    assert_eq!(seen.len(), categories.len() * MAX_CABLES);
    assert!(seen.values().all(|&n| n == 1), "{seen:?}");
}

#[test]
fn every_string_token_in_the_file_is_defined() {
    let inf = load();
    for (name, lines) in &inf.sections {
        if name == "strings" {
            continue;
        }
        for l in lines {
            inf.resolve(&l.value);
            if let Some(k) = &l.key {
                inf.resolve(k);
            }
        }
    }
}

#[test]
fn the_checker_catches_broken_references() {
    let broken = "[Version]\nSignature=\"$WINDOWS NT$\"\n[A]\nAddReg = Missing\nX = %Undefined%\n[Strings]\nS = \"v ; not a comment\"\n";
    let inf = parse(broken);
    assert_eq!(inf.strings["s"], "v ; not a comment");
    let missing = std::panic::catch_unwind(|| {
        inf.section(&inf.value("A", "AddReg"));
    });
    assert!(missing.is_err(), "an undefined section must fail");
    let undefined = std::panic::catch_unwind(|| inf.resolve(&inf.value("A", "X")));
    assert!(undefined.is_err(), "an undefined string must fail");
    assert_eq!(inf.resolve("%13%\\x.sys"), "%13%\\x.sys");
}

/// The KMDF minor versions of framework 1.x and the first Windows 10/11 build that ships each
/// (Microsoft's KMDF version history: 1.31 came with Windows 10 version 2004, 1.33 with
/// Windows 11 21H2; 1.29 shipped in 1903 without a WDK).
const KMDF_FIRST_BUILD: [(u32, u32); 9] = [
    (15, 10240),
    (17, 10586),
    (19, 14393),
    (21, 15063),
    (23, 16299),
    (25, 17134),
    (27, 17763),
    (31, 19041),
    (33, 22000),
];

/// `key = value` of `[package.metadata.wdk.driver-model]` in the driver's Cargo.toml.
fn driver_model(key: &str) -> String {
    let manifest = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml"))
        .expect("Cargo.toml");
    let mut in_table = false;
    for line in manifest.lines().map(str::trim) {
        if line.starts_with('[') {
            in_table = line == "[package.metadata.wdk.driver-model]";
            continue;
        }
        if let Some((k, v)) = line.split_once('=')
            && in_table
            && k.trim() == key
        {
            return unquote(v);
        }
    }
    panic!("Cargo.toml: no {key} in [package.metadata.wdk.driver-model]");
}

/// The minimum Windows build of the models section's decoration (`NT$ARCH$.10.0...<build>`).
fn minimum_build(inf: &Inf) -> u32 {
    let mfg = &inf.section("Manufacturer")[0].value;
    let decoration = mfg.split(',').nth(1).expect("decorated models").trim();
    let build = decoration
        .rsplit("...")
        .next()
        .filter(|_| decoration.contains("10.0..."))
        .unwrap_or_else(|| panic!("models decoration {decoration} names no 10.0...<build>"));
    build.parse().expect("numeric build")
}

#[test]
fn kmdf_version_inf_minimum_and_readme_agree() {
    let inf = load();
    assert_eq!(driver_model("driver-type"), "KMDF");
    assert_eq!(driver_model("kmdf-version-major"), "1");
    let minor: u32 = driver_model("target-kmdf-version-minor")
        .parse()
        .expect("numeric minor");
    let min_build = minimum_build(&inf);
    let first = KMDF_FIRST_BUILD
        .iter()
        .find(|(m, _)| *m == minor)
        .unwrap_or_else(|| panic!("KMDF 1.{minor} is not a released framework version"))
        .1;
    assert!(
        first <= min_build,
        "KMDF 1.{minor} first ships in build {first}, after the INF's minimum {min_build}"
    );
    assert_eq!(
        min_build, 19041,
        "the promised minimum: Windows 10 version 2004"
    );
    // The newest framework that minimum has: targeting an older one would give up nothing
    // but leave the promise and the build out of step.
    let newest = KMDF_FIRST_BUILD
        .iter()
        .filter(|(_, b)| *b <= min_build)
        .map(|(m, _)| *m)
        .max()
        .expect("some KMDF version");
    assert_eq!(
        minor, newest,
        "target KMDF 1.{newest}, what build {min_build} ships"
    );

    // The INF's header comment names stampinf's -k, the README's Windows section the same
    // version and build.
    let inx = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/inf/mxfloop.inx"))
        .expect("inf/mxfloop.inx");
    assert!(
        inx.contains(&format!("-k 1.{minor} ")),
        "mxfloop.inx names -k 1.{minor}"
    );
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"))
        .expect("README.md");
    let windows = readme
        .split("\n## ")
        .find(|s| s.starts_with("On Windows"))
        .expect("README section \"On Windows\"");
    assert!(
        windows.contains(&format!("KMDF 1.{minor}")),
        "README names KMDF 1.{minor}"
    );
    assert!(
        windows.contains(&format!("build {min_build}")),
        "README names build {min_build}"
    );
    for (m, _) in KMDF_FIRST_BUILD.iter().filter(|(m, _)| *m != minor) {
        assert!(
            !windows.contains(&format!("KMDF 1.{m}")) && !inx.contains(&format!("-k 1.{m}")),
            "README or INF still names KMDF 1.{m}"
        );
    }
}

/// The fields of the service install section's AddReg line that writes the `REG_DWORD` `name`.
fn service_value_line(inf: &Inf, name: &str) -> Vec<String> {
    let f = service_line(inf, name);
    assert_eq!(f[3], "0x00010003", "REG_DWORD, NOCLOBBER");
    f
}

/// The fields of the service install section's AddReg line that writes value `name`.
fn service_line(inf: &Inf, name: &str) -> Vec<String> {
    let (install, _) = install_sections(inf).remove(0);
    let add = inf.value(&format!("{install}.NT.Services"), "AddService");
    let svc = inf.fields(&add)[2].clone();
    let mut found = None;
    for reg in inf.value(&svc, "AddReg").split(',') {
        for l in inf.section(reg) {
            let f = inf.fields(&l.value);
            if f.get(2).map(String::as_str) == Some(name) {
                found = Some(f);
            }
        }
    }
    let f = found.unwrap_or_else(|| panic!("the service install section writes {name}"));
    // HKR of a service-install section is Services\<service>; the driver reads
    // Services\<PARAMETERS_KEY>.
    assert_eq!(f[0], "HKR");
    assert_eq!(
        format!("{SERVICE_NAME}\\{}", f[1]),
        mxfloop::names::PARAMETERS_KEY
    );
    f
}

#[test]
fn the_service_creates_the_trace_level_the_driver_reads() {
    let f = service_value_line(&load(), mxfloop::names::TRACE_LEVEL_VALUE);
    assert_eq!(f[4], "2", "the default level: bring-up lines");
}

#[test]
fn the_service_creates_the_capture_mode_the_driver_reads() {
    let f = service_value_line(&load(), mxfloop::names::CAPTURE_MODE_VALUE);
    let v: u32 = f[4].parse().expect("a number");
    assert_eq!(
        mxfloop::settings::capture_mode_setting(Ok(v)),
        (mxf_core::capture::CaptureMode::Whole, None),
        "the INF's default is the default mode"
    );
}

#[test]
fn the_service_creates_one_cable_by_default() {
    let f = service_value_line(&load(), mxfloop::names::CABLE_COUNT_VALUE);
    let v: u32 = f[4].parse().expect("a number");
    assert_eq!(mxfloop::settings::cable_count_setting(Ok(v)), (1, None));
}

#[test]
fn the_service_creates_every_cables_default_name() {
    let f = service_line(&load(), mxfloop::names::CABLE_NAMES_VALUE);
    assert_eq!(f[3], "0x00010002", "FLG_ADDREG_TYPE_MULTI_SZ, NOCLOBBER");
    let entries = &f[4..];
    assert_eq!(
        entries.len(),
        MAX_CABLES,
        "a default name for every possible cable"
    );
    // What the driver decodes from that list, for every cable count, is the defaults, with no
    // problem to log.
    let raw: Vec<u8> = entries
        .iter()
        .flat_map(|e| e.encode_utf16().chain([0]))
        .chain([0])
        .flat_map(u16::to_le_bytes)
        .collect();
    for count in 1..=MAX_CABLES {
        let c = cable_names_setting(Ok(Some(&raw)), count);
        assert_eq!(c.problems().count(), 0);
        assert_eq!(c.ignored_entries(), MAX_CABLES - count);
        for (i, n) in c.names().iter().enumerate() {
            assert_eq!(*n, CableName::default_for(i));
        }
    }
}

#[test]
fn the_service_creates_the_feedback_guards_default_rate() {
    let f = service_value_line(&load(), mxfloop::names::FEEDBACK_VALUE);
    let v: u32 = f[4].parse().expect("a number");
    assert_eq!(
        mxfloop::settings::feedback_setting(Ok(v)),
        (mxf_core::feedback::FeedbackConfig::DEFAULT, None)
    );
    assert_eq!(v, mxfloop::settings::FEEDBACK_DEFAULT_PER_SECOND);
}
