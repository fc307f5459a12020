//! Cross-checks mxf-abi against mingw-w64's C headers for x86_64 Windows.
//!
//! `scripts/layout/ddk_layout.c` includes `<ddk/wdm.h>`, the shared `ddk_fixups.h`,
//! `<ddk/portcls.h>`, `<ddk/dmusicks.h>` and `<ksmedia.h>`; `scripts/layout/user_guids.c`
//! includes the user-mode `<dmksctrl.h>`. Both are compiled with `x86_64-w64-mingw32-gcc -S`
//! (nothing is linked or executed) by the dev-only layout-probe crate, which also holds the
//! assembler readers and their unit tests. The C side writes every size, alignment, offset and
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

use core::mem::{offset_of, size_of};
use layout_probe::{Expected, Probe, assert_matches, data_bytes, parse_values};
use mxf_abi::*;
use std::sync::OnceLock;

fn ddk_probe() -> &'static str {
    static ASM: OnceLock<String> = OnceLock::new();
    ASM.get_or_init(|| Probe::script("ddk_layout.c").with_ddk().compile())
}

fn user_probe() -> &'static str {
    static ASM: OnceLock<String> = OnceLock::new();
    ASM.get_or_init(|| Probe::script("user_guids.c").compile())
}

fn guid_bytes(asm: &str, label: &str) -> [u8; 16] {
    let bytes = data_bytes(asm, label, 16).unwrap_or_else(|e| panic!("GUID probe: {e}"));
    bytes.try_into().expect("16 bytes")
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
fn rust_layout() -> Expected {
    let mut m = Expected::new();
    macro_rules! put {
        ($key:expr, $v:expr) => {
            m.put($key, $v)
        };
    }
    macro_rules! size {
        ($c:literal, $t:ty) => {
            m.size_align::<$t>($c)
        };
    }
    macro_rules! off {
        ($c:literal, $t:ty, { $($cf:ident => $($f:tt).+),+ $(,)? }) => {
            layout_probe::offsets!(m, $c, $t, { $($cf => $($f).+),+ })
        };
    }
    macro_rules! value {
        ($c:ident, $v:expr) => {
            m.value(stringify!($c), $v)
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
    size!("KSNODEPROPERTY", KsNodeProperty);
    off!("KSNODEPROPERTY", KsNodeProperty, {
        Property => property, NodeId => node_id, Reserved => reserved,
    });
    size!("KSPROPERTY_DESCRIPTION", KsPropertyDescription);
    off!("KSPROPERTY_DESCRIPTION", KsPropertyDescription, {
        AccessFlags => access_flags, DescriptionSize => description_size,
        PropTypeSet => prop_type_set, MembersListCount => members_list_count,
        Reserved => reserved,
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
            m.size::<$t>($c)
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
    value!(KSPROPERTY_TYPE_TOPOLOGY, KSPROPERTY_TYPE_TOPOLOGY);
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
    value!(STATUS_NOT_FOUND, STATUS_NOT_FOUND);
    value!(STATUS_NOT_ALL_ASSIGNED, STATUS_NOT_ALL_ASSIGNED);
    m
}

fn dmusic_probe() -> &'static str {
    static ASM: OnceLock<String> = OnceLock::new();
    ASM.get_or_init(|| Probe::script("user_dmusic_layout.c").compile())
}

/// What `user_dmusic_layout.c` emits, from the Rust synthesizer types: `DMUS_PORTPARAMS` and
/// `DMUS_SYNTHSTATS` are `SYNTH_PORTPARAMS` and `SYNTH_STATS` behind a 4-byte `dwSize`.
fn rust_dmusic_layout() -> Expected {
    let mut m = Expected::new();
    const SIZE_FIELD: usize = size_of::<u32>();
    macro_rules! twin {
        ($c:literal, $t:ty, { $($cf:ident => $f:ident),+ $(,)? }) => {
            m.put(concat!("size.", $c), size_of::<$t>() + SIZE_FIELD);
            m.put(concat!("align.", $c), core::mem::align_of::<$t>());
            $( m.put(concat!("off.", $c, ".", stringify!($cf)), offset_of!($t, $f) + SIZE_FIELD); )+
        };
    }
    twin!("DMUS_PORTPARAMS7", SynthPortParams, {
        dwValidParams => valid_params, dwVoices => voices, dwChannelGroups => channel_groups,
        dwAudioChannels => audio_channels, dwSampleRate => sample_rate,
        dwEffectFlags => effects_flags, fShare => share,
    });
    twin!("DMUS_SYNTHSTATS", SynthStats, {
        dwValidStats => valid_stats, dwVoices => voices, dwTotalCPU => total_cpu,
        dwCPUPerVoice => cpu_per_voice, dwLostNotes => lost_notes,
        dwFreeMemory => free_memory, lPeakVolume => peak_volume,
    });
    layout_probe::values!(m, {
        DMUS_MAX_DESCRIPTION => SYNTH_DESCRIPTION_LEN,
        DMUS_PC_DLS => SYNTH_PC_DLS,
        DMUS_PC_EXTERNAL => SYNTH_PC_EXTERNAL,
        DMUS_PC_SOFTWARESYNTH => SYNTH_PC_SOFTWARESYNTH,
        DMUS_PORTPARAMS_VOICES => SYNTH_PORTPARAMS_VOICES,
        DMUS_PORTPARAMS_CHANNELGROUPS => SYNTH_PORTPARAMS_CHANNELGROUPS,
        DMUS_PORTPARAMS_AUDIOCHANNELS => SYNTH_PORTPARAMS_AUDIOCHANNELS,
        DMUS_PORTPARAMS_SAMPLERATE => SYNTH_PORTPARAMS_SAMPLERATE,
        DMUS_PORTPARAMS_EFFECTS => SYNTH_PORTPARAMS_EFFECTS,
        DMUS_PORTPARAMS_SHARE => SYNTH_PORTPARAMS_SHARE,
        VT_UI4, VT_UI8, VT_BLOB,
    });
    m
}

#[test]
fn synth_structures_match_their_dmusicc_twins() {
    let c = parse_values(dmusic_probe()).unwrap_or_else(|e| panic!("user_dmusic_layout.c: {e}"));
    let n = assert_matches("mxf-abi synth", &c, &rust_dmusic_layout());
    assert!(n >= 30, "only {n} items compared");
    // SYNTHCAPS itself has no twin: its Description is DMUS_MAX_DESCRIPTION UTF-16 units
    // (checked above) after a GUID and six DWORDs.
    assert_eq!(
        size_of::<SynthCaps>(),
        16 + 6 * 4 + 2 * SYNTH_DESCRIPTION_LEN
    );
    println!("compared {n} synth items with mingw-w64's dmusicc.h");
}

#[test]
fn sizes_offsets_and_constants_match_mingw_headers() {
    let c = parse_values(ddk_probe()).unwrap_or_else(|e| panic!("ddk_layout.c: {e}"));
    let n = assert_matches("mxf-abi", &c, &rust_layout());
    // The probe must really have said something: every family of items is present.
    for prefix in ["size.", "align.", "off.", "value."] {
        assert!(
            c.keys().any(|k| k.starts_with(prefix)),
            "no `{prefix}` items in the probe"
        );
    }
    assert!(n >= 250, "only {n} items compared");
    println!("compared {n} sizes/alignments/offsets/constants with mingw-w64");
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
        (ddk, "mxf_guid_KSAUDFNAME_MIDI", KSAUDFNAME_MIDI),
        (
            ddk,
            "mxf_guid_KSPROPTYPESETID_General",
            KSPROPTYPESETID_GENERAL,
        ),
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
