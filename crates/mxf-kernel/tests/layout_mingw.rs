//! Cross-checks mxf-kernel's hand-written kernel FFI (`src/sys`) against mingw-w64's DDK
//! headers for x86_64 Windows: every `#[repr(C)]` struct's size, alignment and field
//! offsets, the scalar and function-pointer typedefs, the numeric constants (also the IRQL,
//! pool-alignment and bug-check constants of mxf-core's platform seam that the kernel
//! implementation relies on), and the shape of every ntoskrnl/PortCls import (parameter count
//! and sizes, return size, variadic, noreturn).
//!
//! `scripts/layout/kernel_layout.c` includes `<ddk/wdm.h>`, `<ddk/ntddk.h>`, the shared
//! `ddk_fixups.h`, `<ddk/portcls.h>` and `<bugcodes.h>`; the layout-probe crate compiles it
//! with `x86_64-w64-mingw32-gcc -S` (nothing is linked or run) and reads the values back.
//! Both sides must hold exactly the same keys, so an item added on one side only fails.
//!
//! mingw-w64 10 has every structure mxf-kernel declares (`LOOKASIDE_LIST_EX`,
//! `GENERAL_LOOKASIDE_POOL`, `SLIST_HEADER`, `KDPC`, `KTIMER`...). Not checkable against it:
//! `POOL_FLAG_NON_PAGED` and `ExAllocatePool2` (absent from mingw-w64 10),
//! `PcGetPhysicalDeviceObject` (Windows 8, absent from its `portcls.h`),
//! `RTL_QUERY_REGISTRY_TYPECHECK` and its shift (Windows 8+, absent too), bug checks 0xC4,
//! 0xD5 and 0xD6 (absent from its `bugcodes.h`), and `DRIVER_OBJECT`/`DEVICE_OBJECT`/`IRP`,
//! which mxf-kernel declares opaque (it only passes pointers on; of `DRIVER_OBJECT` the
//! `DriverUnload` offset is checked, the one field the driver writes).
//!
//! Needs `apt-get install gcc-mingw-w64-x86-64 mingw-w64-x86-64-dev`; fails (does not skip)
//! without them. Overrides: `MXF_MINGW_GCC`, `MXF_MINGW_DDK`, `MXF_SHARED`.

use layout_probe::{Expected, Probe, assert_matches, offsets, parse_values, shape_of, values};
use mxf_core::platform::bugcheck::{IRQL_NOT_GREATER_OR_EQUAL, IRQL_NOT_LESS_OR_EQUAL};
use mxf_core::platform::{self, bugcheck};
use mxf_kernel::irql::HIGH_LEVEL;
use mxf_kernel::sys::ntoskrnl::*;
use mxf_kernel::sys::portcls::*;
use mxf_kernel::sys::*;
use std::sync::OnceLock;

fn probe() -> &'static str {
    static ASM: OnceLock<String> = OnceLock::new();
    ASM.get_or_init(|| Probe::script("kernel_layout.c").with_ddk().compile())
}

fn structs_and_constants(e: &mut Expected) {
    e.size_align::<KspinLock>("KSPIN_LOCK");
    e.size_align::<Kirql>("KIRQL");
    e.size_align::<NtStatus>("NTSTATUS");
    // mxf-kernel passes POOL_TYPE as i32 (ExInitializeLookasideListEx, the allocate callback).
    e.size_align::<i32>("POOL_TYPE");
    e.size_align::<Option<AllocateFunctionEx>>("PALLOCATE_FUNCTION_EX");
    e.size_align::<Option<FreeFunctionEx>>("PFREE_FUNCTION_EX");
    e.size_align::<KdeferredRoutine>("PKDEFERRED_ROUTINE");
    e.size_align::<DriverAddDevice>("PDRIVER_ADD_DEVICE");
    e.size_align::<PcPfnStartDevice>("PCPFNSTARTDEVICE");
    e.size_align::<Option<DriverUnload>>("PDRIVER_UNLOAD");
    e.size_align::<Handle>("HANDLE");
    e.size_align::<Option<RtlQueryRegistryRoutine>>("PRTL_QUERY_REGISTRY_ROUTINE");
    e.offset("DRIVER_OBJECT.DriverUnload", DRIVER_OBJECT_DRIVER_UNLOAD);

    e.size_align::<UnicodeString>("UNICODE_STRING");
    offsets!(e, "UNICODE_STRING", UnicodeString, {
        Length => length, MaximumLength => maximum_length, Buffer => buffer,
    });
    e.size_align::<ListEntry>("LIST_ENTRY");
    offsets!(e, "LIST_ENTRY", ListEntry, { Flink => flink, Blink => blink });
    e.size_align::<SlistHeader>("SLIST_HEADER");
    offsets!(e, "SLIST_HEADER", SlistHeader, { Alignment => alignment, Region => region });
    e.size_align::<SlistEntry>("SLIST_ENTRY");
    offsets!(e, "SLIST_ENTRY", SlistEntry, { Next => next });

    e.size_align::<GeneralLookasidePool>("GENERAL_LOOKASIDE_POOL");
    offsets!(e, "GENERAL_LOOKASIDE_POOL", GeneralLookasidePool, {
        ListHead => list_head, Depth => depth, MaximumDepth => maximum_depth,
        TotalAllocates => total_allocates, AllocateMisses => allocate_misses,
        TotalFrees => total_frees, FreeMisses => free_misses, Type => pool_type, Tag => tag,
        Size => size, AllocateEx => allocate_ex, FreeEx => free_ex, ListEntry => list_entry,
        LastTotalAllocates => last_total_allocates,
        LastAllocateMisses => last_allocate_misses, Future => future,
    });
    e.size_align::<LookasideListEx>("LOOKASIDE_LIST_EX");
    offsets!(e, "LOOKASIDE_LIST_EX", LookasideListEx, { L => l });

    e.size_align::<RtlQueryRegistryTable>("RTL_QUERY_REGISTRY_TABLE");
    offsets!(e, "RTL_QUERY_REGISTRY_TABLE", RtlQueryRegistryTable, {
        QueryRoutine => query_routine, Flags => flags, Name => name,
        EntryContext => entry_context, DefaultType => default_type,
        DefaultData => default_data, DefaultLength => default_length,
    });

    e.size_align::<ProcessorNumber>("PROCESSOR_NUMBER");
    offsets!(e, "PROCESSOR_NUMBER", ProcessorNumber, {
        Group => group, Number => number, Reserved => reserved,
    });

    e.size_align::<Kdpc>("KDPC");
    e.size_align::<Ktimer>("KTIMER");

    values!(e, {
        NonPagedPoolNx => NON_PAGED_POOL_NX,
        DPFLTR_IHVAUDIO_ID, DPFLTR_ERROR_LEVEL, DPFLTR_WARNING_LEVEL, DPFLTR_TRACE_LEVEL,
        DPFLTR_INFO_LEVEL,
        ALL_PROCESSOR_GROUPS,
        RTL_REGISTRY_SERVICES, RTL_REGISTRY_OPTIONAL, RTL_QUERY_REGISTRY_DIRECT, REG_DWORD,
        RTL_QUERY_REGISTRY_NOEXPAND, REG_NONE, REG_SZ, REG_MULTI_SZ, KEY_WRITE,
        STATUS_OBJECT_TYPE_MISMATCH,
        HIGH_LEVEL, IRQL_NOT_GREATER_OR_EQUAL, IRQL_NOT_LESS_OR_EQUAL,
        PASSIVE_LEVEL => platform::PASSIVE_LEVEL,
        APC_LEVEL => platform::APC_LEVEL,
        DISPATCH_LEVEL => platform::DISPATCH_LEVEL,
        MEMORY_ALLOCATION_ALIGNMENT => platform::POOL_ALIGN,
    });
    for (name, code) in [
        ("IRQL_NOT_LESS_OR_EQUAL", bugcheck::IRQL_NOT_LESS_OR_EQUAL),
        (
            "PAGE_FAULT_IN_NONPAGED_AREA",
            bugcheck::PAGE_FAULT_IN_NONPAGED_AREA,
        ),
        (
            "SPECIAL_POOL_DETECTED_MEMORY_CORRUPTION",
            bugcheck::SPECIAL_POOL_DETECTED_MEMORY_CORRUPTION,
        ),
        ("BAD_POOL_CALLER", bugcheck::BAD_POOL_CALLER),
        (
            "DRIVER_UNLOADED_WITHOUT_CANCELLING_PENDING_OPERATIONS",
            bugcheck::DRIVER_UNLOADED_WITHOUT_CANCELLING_PENDING_OPERATIONS,
        ),
        (
            "DRIVER_IRQL_NOT_LESS_OR_EQUAL",
            bugcheck::DRIVER_IRQL_NOT_LESS_OR_EQUAL,
        ),
    ] {
        e.value(&format!("bugcheck.{name}"), code);
    }
}

/// The closures are never called: the imports are only typed, never referenced, so the test
/// links on the host although ntoskrnl.exe/portcls.sys do not exist here.
fn imports(e: &mut Expected) {
    macro_rules! sig {
        ($f:ident: $ty:ty) => {
            e.signature(stringify!($f), &shape_of(|| $f as $ty))
        };
    }
    sig!(ExFreePoolWithTag: unsafe extern "system" fn(_, _));
    sig!(ExInitializeLookasideListEx: unsafe extern "system" fn(_, _, _, _, _, _, _, _) -> _);
    sig!(ExDeleteLookasideListEx: unsafe extern "system" fn(_));
    sig!(ExpInterlockedPopEntrySList: unsafe extern "system" fn(_) -> _);
    sig!(ExpInterlockedPushEntrySList: unsafe extern "system" fn(_, _) -> _);
    sig!(KeAcquireSpinLockRaiseToDpc: unsafe extern "system" fn(_) -> _);
    sig!(KeReleaseSpinLock: unsafe extern "system" fn(_, _));
    sig!(KeAcquireSpinLockAtDpcLevel: unsafe extern "system" fn(_));
    sig!(KeReleaseSpinLockFromDpcLevel: unsafe extern "system" fn(_));
    sig!(KeInitializeTimer: unsafe extern "system" fn(_));
    sig!(KeInitializeDpc: unsafe extern "system" fn(_, _, _));
    sig!(KeSetTimer: unsafe extern "system" fn(_, _, _) -> _);
    sig!(KeInsertQueueDpc: unsafe extern "system" fn(_, _, _) -> _);
    sig!(KeCancelTimer: unsafe extern "system" fn(_) -> _);
    sig!(KeFlushQueuedDpcs: unsafe extern "system" fn());
    sig!(KeGetCurrentProcessorNumberEx: unsafe extern "system" fn(_) -> _);
    sig!(KeQueryActiveProcessorCountEx: unsafe extern "system" fn(_) -> _);
    sig!(RtlQueryRegistryValues: unsafe extern "system" fn(_, _, _, _, _) -> _);
    sig!(IoRegisterDeviceInterface: unsafe extern "system" fn(_, _, _, _) -> _);
    sig!(IoOpenDeviceInterfaceRegistryKey: unsafe extern "system" fn(_, _, _) -> _);
    sig!(ZwSetValueKey: unsafe extern "system" fn(_, _, _, _, _, _) -> _);
    sig!(ZwClose: unsafe extern "system" fn(_) -> _);
    sig!(RtlFreeUnicodeString: unsafe extern "system" fn(_));
    e.signature(
        "RTL_QUERY_REGISTRY_ROUTINE",
        &<RtlQueryRegistryRoutine as layout_probe::FnSig>::shape(),
    );
    sig!(KeBugCheckEx: unsafe extern "system" fn(_, _, _, _, _) -> !);
    sig!(DbgPrintEx: unsafe extern "C" fn(_, _, _, ...) -> _);
    sig!(PcInitializeAdapterDriver: unsafe extern "system" fn(_, _, _) -> _);
    sig!(PcAddAdapterDevice: unsafe extern "system" fn(_, _, _, _, _) -> _);
    sig!(PcNewPort: unsafe extern "system" fn(_, _) -> _);
    sig!(PcRegisterSubdevice: unsafe extern "system" fn(_, _, _) -> _);
}

#[test]
fn kernel_structs_constants_and_imports_match_mingw_ddk_headers() {
    let c = parse_values(probe()).unwrap_or_else(|e| panic!("kernel_layout.c: {e}"));
    let mut rust = Expected::new();
    structs_and_constants(&mut rust);
    imports(&mut rust);
    let n = assert_matches("mxf-kernel", &c, &rust);
    for prefix in ["size.", "align.", "off.", "value.", "sig."] {
        assert!(
            c.keys().any(|k| k.starts_with(prefix)),
            "no `{prefix}` items"
        );
    }
    assert!(n >= 190, "only {n} items compared");
    println!(
        "compared {n} kernel sizes/alignments/offsets/constants/signature items with mingw-w64"
    );
}

#[test]
fn slist_depth_reads_the_depth_bits_of_mingws_slist_header() {
    // kernel_layout.c initialises HeaderX64 { Depth = 0x1234, Sequence = all ones,
    // HeaderType = 1 }: a mask or shift that is off by anything reads other bits.
    let bytes = layout_probe::data_bytes(probe(), "mxf_slist_depth_image", 16)
        .unwrap_or_else(|e| panic!("kernel_layout.c: {e}"));
    let word = |i: usize| u64::from_le_bytes(bytes[i * 8..i * 8 + 8].try_into().expect("8 bytes"));
    assert_eq!(word(0), 0xffff_ffff_ffff_1234);
    assert_eq!(slist_depth(word(0)), 0x1234);
    // The second word is SlistHeader::region; HeaderType is its bit 0.
    assert_eq!(word(1), 1);
    let header = SlistHeader {
        alignment: word(0),
        region: word(1),
    };
    assert_eq!(slist_depth(header.alignment), 0x1234);
}
