//! Cross-checks mxf-abi against mingw-w64's C headers for x86_64 Windows.
//!
//! `scripts/layout/ddk_layout.c` includes `<ddk/wdm.h>`, the shared `ddk_fixups.h`,
//! `<ddk/portcls.h>`, `<ddk/dmusicks.h>` and `<ksmedia.h>`; `scripts/layout/user_guids.c`
//! includes the user-mode `<dmksctrl.h>`. Both are compiled with `x86_64-w64-mingw32-gcc -S`
//! (nothing is linked or executed). The C side writes every size, alignment, offset and
//! integer constant as `.set mxf.<key>.hi/.lo` assembler lines, and every GUID as a `const
//! GUID` object; this test reads the `.s` text back and compares each item with Rust's
//! `size_of`/`align_of`/`offset_of!`/constants. The set of keys must match exactly in both
//! directions, so a field added on one side only fails the test.
//!
//! The Rust side is compiled for the x86_64 Linux host (LP64), the C side for x86_64
//! Windows (LLP64). The two agree for every type here because mxf-abi never uses `c_long`:
//! `ULONG`/`LONG` are `u32`/`i32` explicitly. A `long` in Rust would be 8 bytes on Linux and
//! 4 on Windows, which is exactly the class of bug this test catches.
//!
//! Needs `apt-get install gcc-mingw-w64-x86-64 mingw-w64-x86-64-dev`; it fails (does not
//! skip) without them. Environment overrides: `MXF_MINGW_GCC` (compiler), `MXF_MINGW_DDK`
//! (the mingw `include/ddk` directory), `MXF_SHARED` (the shared tree holding
//! `tools/win-sysroot/ddk_fixups.h`, default `<repo>/../shared`).

use core::mem::{align_of, offset_of, size_of};
use mxf_abi::*;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

const INSTALL_HINT: &str = "apt-get install gcc-mingw-w64-x86-64 mingw-w64-x86-64-dev";

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn shared_dir() -> PathBuf {
    match std::env::var_os("MXF_SHARED") {
        Some(dir) => PathBuf::from(dir),
        None => repo_root().join("../shared"),
    }
}

fn ddk_include() -> PathBuf {
    if let Some(dir) = std::env::var_os("MXF_MINGW_DDK") {
        return PathBuf::from(dir);
    }
    let candidates = [
        "/usr/share/mingw-w64/include/ddk",
        "/usr/x86_64-w64-mingw32/include/ddk",
    ];
    for c in candidates {
        if Path::new(c).join("portcls.h").is_file() {
            return PathBuf::from(c);
        }
    }
    panic!(
        "mingw-w64 DDK headers (ddk/portcls.h) not found in {candidates:?}; run `{INSTALL_HINT}`"
    );
}

/// Compiles one probe to assembly and returns the `.s` text.
fn compile_probe(source: &str, args: &[&Path]) -> String {
    let gcc = std::env::var("MXF_MINGW_GCC").unwrap_or_else(|_| "x86_64-w64-mingw32-gcc".into());
    let src = repo_root().join("scripts/layout").join(source);
    // One file per process: tests of this binary share the result through OnceLock, and
    // concurrent `cargo test` runs must not read each other's half-written output.
    let name = format!("{}.{}.s", source.trim_end_matches(".c"), std::process::id());
    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let mut cmd = Command::new(&gcc);
    cmd.arg("-S")
        .arg("-O0")
        .arg("-Wno-missing-braces")
        .arg("-o")
        .arg(&out);
    for a in args {
        cmd.arg(a);
    }
    cmd.arg(&src);
    let output = match cmd.output() {
        Ok(o) => o,
        Err(e) => panic!("cannot run `{gcc}` ({e}); the layout check needs it: `{INSTALL_HINT}`"),
    };
    assert!(
        output.status.success(),
        "`{gcc}` failed on {}:\n{}",
        src.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    std::fs::read_to_string(&out).expect("read generated assembly")
}

fn ddk_probe() -> &'static str {
    static ASM: OnceLock<String> = OnceLock::new();
    ASM.get_or_init(compile_ddk_probe)
}

fn user_probe() -> &'static str {
    static ASM: OnceLock<String> = OnceLock::new();
    ASM.get_or_init(|| compile_probe("user_guids.c", &[]))
}

fn compile_ddk_probe() -> String {
    let fixups = shared_dir().join("tools/win-sysroot");
    assert!(
        fixups.join("ddk_fixups.h").is_file(),
        "ddk_fixups.h not found in {} (set MXF_SHARED to the shared tree)",
        fixups.display()
    );
    let ddk = ddk_include();
    let (i_ddk, i_fix) = (
        format!("-I{}", ddk.display()),
        format!("-I{}", fixups.display()),
    );
    compile_probe("ddk_layout.c", &[Path::new(&i_ddk), Path::new(&i_fix)])
}

/// Collects `.set mxf.<key>.hi, H` / `.set mxf.<key>.lo, L` into `key -> H * 2^32 + (L mod 2^32)`.
fn parse_sets(asm: &str) -> BTreeMap<String, i64> {
    let mut halves: BTreeMap<String, (Option<i64>, Option<i64>)> = BTreeMap::new();
    for line in asm.lines() {
        let Some(rest) = line.trim().strip_prefix(".set mxf.") else {
            continue;
        };
        let (name, value) = rest.split_once(',').expect("`.set name, value`");
        let value: i64 = value
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("bad value in `{line}`"));
        let entry = if let Some(key) = name.strip_suffix(".hi") {
            &mut halves.entry(key.to_string()).or_default().0
        } else if let Some(key) = name.strip_suffix(".lo") {
            &mut halves.entry(key.to_string()).or_default().1
        } else {
            panic!("unexpected probe symbol in `{line}`");
        };
        assert!(
            entry.replace(value).is_none(),
            "duplicate probe symbol `{name}`"
        );
    }
    halves
        .into_iter()
        .map(|(key, (hi, lo))| {
            let (hi, lo) = (hi.expect("missing .hi"), lo.expect("missing .lo"));
            (key, (hi << 32) | i64::from(lo as u32))
        })
        .collect()
}

/// Decodes a GAS string literal body (`\ooo` octal, `\\`, `\"`, `\n`... escapes).
fn ascii_bytes(body: &str, out: &mut Vec<u8>) {
    let mut chars = body.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c as u8);
            continue;
        }
        match chars.next().expect("dangling escape") {
            d @ '0'..='7' => {
                let mut v = d.to_digit(8).unwrap();
                for _ in 0..2 {
                    match chars.peek().and_then(|c| c.to_digit(8)) {
                        Some(n) => {
                            v = v * 8 + n;
                            chars.next();
                        }
                        None => break,
                    }
                }
                out.push(v as u8);
            }
            'n' => out.push(b'\n'),
            't' => out.push(b'\t'),
            'r' => out.push(b'\r'),
            'b' => out.push(8),
            'f' => out.push(12),
            other => out.push(other as u8),
        }
    }
}

fn parse_int(s: &str) -> i128 {
    let s = s.trim();
    let (neg, s) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s),
    };
    let v = match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(h) => i128::from_str_radix(h, 16),
        None => s.parse(),
    }
    .unwrap_or_else(|_| panic!("bad integer `{s}`"));
    if neg { -v } else { v }
}

/// The 16 bytes the assembler would emit under `label:` (data directives only).
fn guid_bytes(asm: &str, label: &str) -> [u8; 16] {
    let head = format!("{label}:");
    let mut lines = asm.lines().skip_while(|l| l.trim() != head);
    assert!(
        lines.next().is_some(),
        "GUID `{label}` not defined by the probe"
    );
    let mut bytes = Vec::new();
    for line in lines {
        if bytes.len() >= 16 {
            break;
        }
        let line = line.trim();
        let (dir, args) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
        let ints = || args.split(',').map(parse_int);
        match dir {
            ".long" => ints().for_each(|v| bytes.extend((v as u32).to_le_bytes())),
            ".word" | ".value" | ".short" => {
                ints().for_each(|v| bytes.extend((v as u16).to_le_bytes()))
            }
            ".byte" => ints().for_each(|v| bytes.push(v as u8)),
            ".quad" => ints().for_each(|v| bytes.extend((v as u64).to_le_bytes())),
            ".space" | ".zero" => bytes.resize(bytes.len() + parse_int(args) as usize, 0),
            ".ascii" => {
                let body = args
                    .trim()
                    .strip_prefix('"')
                    .and_then(|b| b.strip_suffix('"'));
                ascii_bytes(body.expect("quoted .ascii"), &mut bytes);
            }
            _ => panic!("unexpected `{line}` inside GUID `{label}`"),
        }
    }
    bytes
        .try_into()
        .unwrap_or_else(|b: Vec<u8>| panic!("GUID `{label}` has {} bytes", b.len()))
}

fn guid_memory(g: &Guid) -> [u8; 16] {
    let mut b = [0u8; 16];
    b[0..4].copy_from_slice(&g.data1.to_le_bytes());
    b[4..6].copy_from_slice(&g.data2.to_le_bytes());
    b[6..8].copy_from_slice(&g.data3.to_le_bytes());
    b[8..16].copy_from_slice(&g.data4);
    b
}

/// Every item the C probe emits, computed on the Rust side.
fn rust_layout() -> BTreeMap<String, i64> {
    let mut m: BTreeMap<String, i64> = BTreeMap::new();
    macro_rules! put {
        ($key:expr, $v:expr) => {
            assert!(
                m.insert(String::from($key), $v as i64).is_none(),
                "duplicate key {}",
                $key
            )
        };
    }
    macro_rules! size {
        ($c:literal, $t:ty) => {
            put!(concat!("size.", $c), size_of::<$t>());
            put!(concat!("align.", $c), align_of::<$t>());
        };
    }
    macro_rules! off {
        ($c:literal, $t:ty, { $($cf:ident => $($f:tt).+),+ $(,)? }) => {
            $( put!(concat!("off.", $c, ".", stringify!($cf)), offset_of!($t, $($f).+)); )+
        };
    }
    macro_rules! value {
        ($c:ident, $v:expr) => {
            put!(concat!("value.", stringify!($c)), $v);
        };
    }

    size!("GUID", Guid);
    off!("GUID", Guid, { Data1 => data1, Data2 => data2, Data3 => data3, Data4 => data4 });

    size!("DMUS_KERNEL_EVENT", DmusKernelEvent);
    off!("DMUS_KERNEL_EVENT", DmusKernelEvent, {
        bReserved => b_reserved, cbStruct => cb_struct, cbEvent => cb_event,
        usChannelGroup => us_channel_group, usFlags => us_flags,
        ullPresTime100ns => ull_pres_time_100ns, ullBytePosition => ull_byte_position,
        pNextEvt => p_next_evt, uData => u_data,
    });
    put!(
        "off.DMUS_KERNEL_EVENT.uData.abData",
        offset_of!(DmusKernelEvent, u_data.ab_data)
    );
    put!(
        "off.DMUS_KERNEL_EVENT.uData.pbData",
        offset_of!(DmusKernelEvent, u_data.pb_data)
    );
    put!(
        "off.DMUS_KERNEL_EVENT.uData.pPackageEvt",
        offset_of!(DmusKernelEvent, u_data.p_package_evt)
    );
    put!("size.DMUS_KERNEL_EVENT.uData", size_of::<DmusEventData>());

    size!("KSIDENTIFIER", KsIdentifier);
    off!("KSIDENTIFIER", KsIdentifier, { Set => set, Id => id, Flags => flags });
    size!("KSDATAFORMAT", KsDataFormat);
    off!("KSDATAFORMAT", KsDataFormat, {
        FormatSize => format_size, Flags => flags, SampleSize => sample_size,
        Reserved => reserved, MajorFormat => major_format, SubFormat => sub_format,
        Specifier => specifier,
    });
    size!("KSDATARANGE", KsDataRange);
    size!("KSDATARANGE_MUSIC", KsDataRangeMusic);
    off!("KSDATARANGE_MUSIC", KsDataRangeMusic, {
        DataRange => data_range, Technology => technology, Channels => channels,
        Notes => notes, ChannelMask => channel_mask,
    });
    size!("KSSTATE", KsState);
    size!("DMUS_STREAM_TYPE", DmusStreamType);
    size!("POOL_TYPE", PoolType);
    size!("KSPIN_DATAFLOW", KsPinDataflow);
    size!("KSPIN_COMMUNICATION", KsPinCommunication);

    size!("KSPIN_DESCRIPTOR", KsPinDescriptor);
    off!("KSPIN_DESCRIPTOR", KsPinDescriptor, {
        InterfacesCount => interfaces_count, Interfaces => interfaces,
        MediumsCount => mediums_count, Mediums => mediums,
        DataRangesCount => data_ranges_count, DataRanges => data_ranges,
        DataFlow => data_flow, Communication => communication, Category => category,
        Name => name,
        // `Reserved` is the LONGLONG arm of the trailing union, which starts with the count.
        Reserved => constrained_data_ranges_count,
        ConstrainedDataRangesCount => constrained_data_ranges_count,
        ConstrainedDataRanges => constrained_data_ranges,
    });

    size!("PCPROPERTY_REQUEST", PcPropertyRequest);
    off!("PCPROPERTY_REQUEST", PcPropertyRequest, {
        MajorTarget => major_target, MinorTarget => minor_target, Node => node,
        PropertyItem => property_item, Verb => verb, InstanceSize => instance_size,
        Instance => instance, ValueSize => value_size, Value => value, Irp => irp,
    });
    size!("PCPROPERTY_ITEM", PcPropertyItem);
    off!("PCPROPERTY_ITEM", PcPropertyItem, { Set => set, Id => id, Flags => flags, Handler => handler });
    size!("PCMETHOD_ITEM", PcMethodItem);
    off!("PCMETHOD_ITEM", PcMethodItem, { Set => set, Id => id, Flags => flags, Handler => handler });
    size!("PCEVENT_ITEM", PcEventItem);
    off!("PCEVENT_ITEM", PcEventItem, { Set => set, Id => id, Flags => flags, Handler => handler });
    size!("PCAUTOMATION_TABLE", PcAutomationTable);
    off!("PCAUTOMATION_TABLE", PcAutomationTable, {
        PropertyItemSize => property_item_size, PropertyCount => property_count,
        Properties => properties, MethodItemSize => method_item_size,
        MethodCount => method_count, Methods => methods, EventItemSize => event_item_size,
        EventCount => event_count, Events => events, Reserved => reserved,
    });
    size!("PCPIN_DESCRIPTOR", PcPinDescriptor);
    off!("PCPIN_DESCRIPTOR", PcPinDescriptor, {
        MaxGlobalInstanceCount => max_global_instance_count,
        MaxFilterInstanceCount => max_filter_instance_count,
        MinFilterInstanceCount => min_filter_instance_count,
        AutomationTable => automation_table, KsPinDescriptor => ks_pin_descriptor,
    });
    size!("PCNODE_DESCRIPTOR", PcNodeDescriptor);
    off!("PCNODE_DESCRIPTOR", PcNodeDescriptor, {
        Flags => flags, AutomationTable => automation_table, Type => node_type, Name => name,
    });
    size!("PCCONNECTION_DESCRIPTOR", PcConnectionDescriptor);
    off!("PCCONNECTION_DESCRIPTOR", PcConnectionDescriptor, {
        FromNode => from_node, FromNodePin => from_node_pin, ToNode => to_node,
        ToNodePin => to_node_pin,
    });
    size!("PCFILTER_DESCRIPTOR", PcFilterDescriptor);
    off!("PCFILTER_DESCRIPTOR", PcFilterDescriptor, {
        Version => version, AutomationTable => automation_table, PinSize => pin_size,
        PinCount => pin_count, Pins => pins, NodeSize => node_size, NodeCount => node_count,
        Nodes => nodes, ConnectionCount => connection_count, Connections => connections,
        CategoryCount => category_count, Categories => categories,
    });

    size!("IUnknown", IUnknown);
    size!("IMXF", IMxf);
    size!("IAllocatorMXF", IAllocatorMxf);
    size!("IMasterClock", IMasterClock);
    size!("IServiceSink", IServiceSink);
    size!("IServiceGroup", IServiceGroup);
    size!("IPort", IPort);
    size!("IPortDMus", IPortDMus);
    size!("IMiniport", IMiniport);
    size!("IMiniportDMus", IMiniportDMus);

    // Vtables: C has flat members in slot order, Rust nests the base table as `base`.
    macro_rules! vsize {
        ($c:literal, $t:ty) => {
            put!(concat!("size.", $c), size_of::<$t>());
        };
    }
    vsize!("IUnknownVtbl", IUnknownVtbl);
    off!("IUnknownVtbl", IUnknownVtbl, {
        QueryInterface => query_interface, AddRef => add_ref, Release => release,
    });
    vsize!("IMXFVtbl", IMxfVtbl);
    off!("IMXFVtbl", IMxfVtbl, {
        QueryInterface => base.query_interface, AddRef => base.add_ref, Release => base.release,
        SetState => set_state, PutMessage => put_message, ConnectOutput => connect_output,
        DisconnectOutput => disconnect_output,
    });
    vsize!("IAllocatorMXFVtbl", IAllocatorMxfVtbl);
    off!("IAllocatorMXFVtbl", IAllocatorMxfVtbl, {
        QueryInterface => base.base.query_interface, AddRef => base.base.add_ref,
        Release => base.base.release, SetState => base.set_state,
        PutMessage => base.put_message, ConnectOutput => base.connect_output,
        DisconnectOutput => base.disconnect_output, GetMessage => get_message,
        GetBufferSize => get_buffer_size, GetBuffer => get_buffer, PutBuffer => put_buffer,
    });
    vsize!("IMasterClockVtbl", IMasterClockVtbl);
    off!("IMasterClockVtbl", IMasterClockVtbl, {
        QueryInterface => base.query_interface, AddRef => base.add_ref, Release => base.release,
        GetTime => get_time,
    });
    vsize!("IServiceSinkVtbl", IServiceSinkVtbl);
    off!("IServiceSinkVtbl", IServiceSinkVtbl, {
        QueryInterface => base.query_interface, AddRef => base.add_ref, Release => base.release,
        RequestService => request_service,
    });
    vsize!("IServiceGroupVtbl", IServiceGroupVtbl);
    off!("IServiceGroupVtbl", IServiceGroupVtbl, {
        QueryInterface => base.base.query_interface, AddRef => base.base.add_ref,
        Release => base.base.release, RequestService => base.request_service,
        AddMember => add_member, RemoveMember => remove_member,
        SupportDelayedService => support_delayed_service,
        RequestDelayedService => request_delayed_service,
        CancelDelayedService => cancel_delayed_service,
    });
    vsize!("IPortVtbl", IPortVtbl);
    off!("IPortVtbl", IPortVtbl, {
        QueryInterface => base.query_interface, AddRef => base.add_ref, Release => base.release,
        Init => init, GetDeviceProperty => get_device_property,
        NewRegistryKey => new_registry_key,
    });
    vsize!("IPortDMusVtbl", IPortDMusVtbl);
    off!("IPortDMusVtbl", IPortDMusVtbl, {
        QueryInterface => base.base.query_interface, AddRef => base.base.add_ref,
        Release => base.base.release, Init => base.init,
        GetDeviceProperty => base.get_device_property, NewRegistryKey => base.new_registry_key,
        Notify => notify, RegisterServiceGroup => register_service_group,
    });
    vsize!("IMiniportVtbl", IMiniportVtbl);
    off!("IMiniportVtbl", IMiniportVtbl, {
        QueryInterface => base.query_interface, AddRef => base.add_ref, Release => base.release,
        GetDescription => get_description, DataRangeIntersection => data_range_intersection,
    });
    vsize!("IMiniportDMusVtbl", IMiniportDMusVtbl);
    off!("IMiniportDMusVtbl", IMiniportDMusVtbl, {
        QueryInterface => base.base.query_interface, AddRef => base.base.add_ref,
        Release => base.base.release, GetDescription => base.get_description,
        DataRangeIntersection => base.data_range_intersection, Init => init,
        Service => service, NewStream => new_stream,
    });

    value!(KSSTATE_STOP, KsState::STOP.0);
    value!(KSSTATE_ACQUIRE, KsState::ACQUIRE.0);
    value!(KSSTATE_PAUSE, KsState::PAUSE.0);
    value!(KSSTATE_RUN, KsState::RUN.0);
    value!(DMUS_STREAM_MIDI_INVALID, DmusStreamType::INVALID.0);
    value!(DMUS_STREAM_MIDI_RENDER, DmusStreamType::MIDI_RENDER.0);
    value!(DMUS_STREAM_MIDI_CAPTURE, DmusStreamType::MIDI_CAPTURE.0);
    value!(DMUS_STREAM_WAVE_SINK, DmusStreamType::WAVE_SINK.0);
    value!(NonPagedPool, PoolType::NON_PAGED.0);
    value!(PagedPool, PoolType::PAGED.0);
    value!(NonPagedPoolNx, PoolType::NON_PAGED_NX.0);
    value!(DONT_HOLD_FOR_SEQUENCING, DONT_HOLD_FOR_SEQUENCING);
    value!(KSPIN_DATAFLOW_IN, KsPinDataflow::IN.0);
    value!(KSPIN_DATAFLOW_OUT, KsPinDataflow::OUT.0);
    value!(KSPIN_COMMUNICATION_NONE, KsPinCommunication::NONE.0);
    value!(KSPIN_COMMUNICATION_SINK, KsPinCommunication::SINK.0);
    value!(KSPIN_COMMUNICATION_SOURCE, KsPinCommunication::SOURCE.0);
    value!(KSPIN_COMMUNICATION_BOTH, KsPinCommunication::BOTH.0);
    value!(KSPIN_COMMUNICATION_BRIDGE, KsPinCommunication::BRIDGE.0);
    value!(PCFILTER_NODE, PCFILTER_NODE);
    value!(KSNODEPIN_STANDARD_IN, KSNODEPIN_STANDARD_IN);
    value!(KSNODEPIN_STANDARD_OUT, KSNODEPIN_STANDARD_OUT);
    value!(KSPROPERTY_TYPE_GET, KSPROPERTY_TYPE_GET);
    value!(KSPROPERTY_TYPE_SET, KSPROPERTY_TYPE_SET);
    value!(KSPROPERTY_TYPE_BASICSUPPORT, KSPROPERTY_TYPE_BASICSUPPORT);
    value!(
        KSINTERFACE_STANDARD_STREAMING,
        KSINTERFACE_STANDARD_STREAMING
    );
    value!(KSMEDIUM_TYPE_ANYINSTANCE, KSMEDIUM_TYPE_ANYINSTANCE);
    value!(STATUS_SUCCESS, STATUS_SUCCESS);
    value!(STATUS_UNSUCCESSFUL, STATUS_UNSUCCESSFUL);
    value!(STATUS_NOT_IMPLEMENTED, STATUS_NOT_IMPLEMENTED);
    value!(STATUS_INVALID_PARAMETER, STATUS_INVALID_PARAMETER);
    value!(STATUS_INVALID_DEVICE_REQUEST, STATUS_INVALID_DEVICE_REQUEST);
    value!(STATUS_BUFFER_TOO_SMALL, STATUS_BUFFER_TOO_SMALL);
    value!(STATUS_INSUFFICIENT_RESOURCES, STATUS_INSUFFICIENT_RESOURCES);
    value!(STATUS_NOT_SUPPORTED, STATUS_NOT_SUPPORTED);
    value!(STATUS_INVALID_DEVICE_STATE, STATUS_INVALID_DEVICE_STATE);
    value!(STATUS_NO_MATCH, STATUS_NO_MATCH);
    value!(STATUS_BUFFER_OVERFLOW, STATUS_BUFFER_OVERFLOW);
    m
}

#[test]
fn sizes_offsets_and_constants_match_mingw_headers() {
    let c = parse_sets(ddk_probe());
    let rust = rust_layout();
    let mut problems = Vec::new();
    for (key, cv) in &c {
        match rust.get(key) {
            Some(rv) if rv == cv => {}
            Some(rv) => problems.push(format!("{key}: C {cv}, Rust {rv}")),
            None => problems.push(format!("{key}: emitted by C, not checked on the Rust side")),
        }
    }
    for key in rust.keys().filter(|k| !c.contains_key(*k)) {
        problems.push(format!(
            "{key}: expected by Rust, not emitted by the C probe"
        ));
    }
    assert!(
        problems.is_empty(),
        "layout mismatches:\n{}",
        problems.join("\n")
    );
    // The probe must really have said something: every family of items is present.
    for prefix in ["size.", "align.", "off.", "value."] {
        assert!(
            c.keys().any(|k| k.starts_with(prefix)),
            "no `{prefix}` items in the probe"
        );
    }
    assert!(c.len() >= 250, "only {} items compared", c.len());
    println!(
        "compared {} sizes/alignments/offsets/constants with mingw-w64",
        c.len()
    );
}

#[test]
fn guid_values_match_mingw_headers() {
    let (ddk, user) = (ddk_probe(), user_probe());
    let checks: &[(&str, &str, Guid)] = &[
        // DEFINE_GUID in ddk/portcls.h, ddk/dmusicks.h (INITGUID). Not ddk/punknown.h's
        // IID_IUnknown: mingw-w64's copy (from ReactOS) misplaces the 0xC0 byte, giving
        // {00000000-0000-0000-0000-C00000000046}; the COM value is checked against the
        // user-mode unknwn.h below instead.
        (ddk, "IID_IMiniport", IID_IMINIPORT),
        (ddk, "IID_IPort", IID_IPORT),
        (ddk, "IID_IServiceSink", IID_ISERVICE_SINK),
        (ddk, "IID_IServiceGroup", IID_ISERVICE_GROUP),
        (ddk, "IID_IPortDMus", IID_IPORT_DMUS),
        (ddk, "CLSID_PortDMus", CLSID_PORT_DMUS),
        (ddk, "IID_IMiniportDMus", IID_IMINIPORT_DMUS),
        // STATIC_* lists (ddk/dmusicks.h, ks.h, ksmedia.h) copied into mxf_guid_*.
        (ddk, "mxf_guid_IID_IAllocatorMXF", IID_IALLOCATOR_MXF),
        (ddk, "mxf_guid_GUID_NULL", GUID_NULL),
        (ddk, "mxf_guid_GUID_NULL", KSDATAFORMAT_TYPE_WILDCARD),
        (ddk, "mxf_guid_GUID_NULL", KSDATAFORMAT_SUBTYPE_WILDCARD),
        (ddk, "mxf_guid_GUID_NULL", KSDATAFORMAT_SPECIFIER_WILDCARD),
        (
            ddk,
            "mxf_guid_KSDATAFORMAT_TYPE_MUSIC",
            KSDATAFORMAT_TYPE_MUSIC,
        ),
        (
            ddk,
            "mxf_guid_KSDATAFORMAT_SUBTYPE_MIDI",
            KSDATAFORMAT_SUBTYPE_MIDI,
        ),
        (
            ddk,
            "mxf_guid_KSDATAFORMAT_SUBTYPE_MIDI_BUS",
            KSDATAFORMAT_SUBTYPE_MIDI_BUS,
        ),
        (
            ddk,
            "mxf_guid_KSDATAFORMAT_SUBTYPE_NONE",
            KSDATAFORMAT_SUBTYPE_NONE,
        ),
        (
            ddk,
            "mxf_guid_KSDATAFORMAT_SPECIFIER_NONE",
            KSDATAFORMAT_SPECIFIER_NONE,
        ),
        (
            ddk,
            "mxf_guid_KSMUSIC_TECHNOLOGY_PORT",
            KSMUSIC_TECHNOLOGY_PORT,
        ),
        (ddk, "mxf_guid_KSCATEGORY_AUDIO", KSCATEGORY_AUDIO),
        (ddk, "mxf_guid_KSCATEGORY_RENDER", KSCATEGORY_RENDER),
        (ddk, "mxf_guid_KSCATEGORY_CAPTURE", KSCATEGORY_CAPTURE),
        (ddk, "mxf_guid_KSCATEGORY_TOPOLOGY", KSCATEGORY_TOPOLOGY),
        (
            ddk,
            "mxf_guid_KSNODETYPE_SYNTHESIZER",
            KSNODETYPE_SYNTHESIZER,
        ),
        (
            ddk,
            "mxf_guid_KSINTERFACESETID_Standard",
            KSINTERFACESETID_STANDARD,
        ),
        (
            ddk,
            "mxf_guid_KSMEDIUMSETID_Standard",
            KSMEDIUMSETID_STANDARD,
        ),
        (ddk, "mxf_guid_KSPROPSETID_Pin", KSPROPSETID_PIN),
        // DEFINE_GUID in the user-mode unknwn.h and dmksctrl.h.
        (user, "IID_IUnknown", IID_IUNKNOWN),
        (
            user,
            "KSDATAFORMAT_SUBTYPE_DIRECTMUSIC",
            KSDATAFORMAT_SUBTYPE_DIRECTMUSIC,
        ),
        (user, "KSDATAFORMAT_SUBTYPE_MIDI", KSDATAFORMAT_SUBTYPE_MIDI),
    ];
    let mut problems = Vec::new();
    for (asm, label, rust) in checks {
        let c = guid_bytes(asm, label);
        if c != guid_memory(rust) {
            problems.push(format!("{label}: C {c:02x?}, Rust {rust}"));
        }
    }
    assert!(
        problems.is_empty(),
        "GUID mismatches:\n{}",
        problems.join("\n")
    );
    println!("compared {} GUIDs with mingw-w64", checks.len());
}

#[test]
fn assembly_readers_decode_what_gas_would() {
    // Negative halves, sign extension and the 2^32 split.
    let asm = "\t.set mxf.a.hi, -1\n\t.set mxf.a.lo, -1073741198\n\
               \t.set mxf.b.hi, 0\n\t.set mxf.b.lo, -1\n\
               \t.set mxf.c.hi, -2147483648\n\t.set mxf.c.lo, 0\n";
    let m = parse_sets(asm);
    assert_eq!(m["a"], i64::from(STATUS_NO_MATCH));
    assert_eq!(m["b"], i64::from(u32::MAX));
    assert_eq!(m["c"] as u64, 0x8000_0000_0000_0000);
    // GCC's GUID output: .long/.word in decimal, Data4 as octal-escaped .ascii pieces.
    let asm = "X:\n\t.long\t-1510943188\n\t.word\t-19697\n\t.word\t4562\n\
               \t.ascii \"\\267\\243\\0`\\10\"\n\t.ascii \"3\\26\\301\"\n";
    assert_eq!(guid_bytes(asm, "X"), guid_memory(&IID_IALLOCATOR_MXF));
    assert_eq!(guid_bytes("Z:\n\t.space 16\n", "Z"), [0; 16]);
}
