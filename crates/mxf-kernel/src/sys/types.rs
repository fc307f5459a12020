//! Kernel structures (x64 layouts).

use core::ffi::c_void;
use core::mem::{align_of, offset_of, size_of};

/// `NTSTATUS`.
pub type NtStatus = mxf_abi::NtStatus;
/// `KIRQL`.
pub type Kirql = u8;
/// `KSPIN_LOCK`: a pointer-sized word, 0 when released.
pub type KspinLock = usize;
/// `POOL_FLAGS` (`ExAllocatePool2`).
pub type PoolFlags = u64;

/// `POOL_FLAG_NON_PAGED`: nonpaged, non-executable, zeroed (no `POOL_FLAG_UNINITIALIZED`).
pub const POOL_FLAG_NON_PAGED: PoolFlags = 0x0000_0000_0000_0040;
/// `POOL_TYPE` `NonPagedPoolNx`, as the `POOL_TYPE` enum's C type (the value is declared
/// once, in `mxf_core::platform`).
pub const NON_PAGED_POOL_NX: i32 = mxf_core::platform::NON_PAGED_POOL_NX as i32;
/// `DPFLTR_IHVAUDIO_ID`: the `DbgPrintEx` component of audio drivers.
pub const DPFLTR_IHVAUDIO_ID: u32 = 0x4f;
/// `DPFLTR_ERROR_LEVEL`.
pub const DPFLTR_ERROR_LEVEL: u32 = 0;
/// `DPFLTR_WARNING_LEVEL`.
pub const DPFLTR_WARNING_LEVEL: u32 = 1;
/// `DPFLTR_TRACE_LEVEL`.
pub const DPFLTR_TRACE_LEVEL: u32 = 2;
/// `DPFLTR_INFO_LEVEL`.
pub const DPFLTR_INFO_LEVEL: u32 = 3;
/// `ALL_PROCESSOR_GROUPS`: `KeQueryActiveProcessorCountEx` counts every group.
pub const ALL_PROCESSOR_GROUPS: u16 = 0xFFFF;

/// `RTL_REGISTRY_SERVICES`: `RtlQueryRegistryValues` paths are relative to
/// `\Registry\Machine\System\CurrentControlSet\Services`.
pub const RTL_REGISTRY_SERVICES: u32 = 1;
/// `RTL_REGISTRY_OPTIONAL`: a missing key is not an error.
pub const RTL_REGISTRY_OPTIONAL: u32 = 0x8000_0000;
/// `RTL_QUERY_REGISTRY_DIRECT`: `EntryContext` receives the value itself.
pub const RTL_QUERY_REGISTRY_DIRECT: u32 = 0x20;
/// `RTL_QUERY_REGISTRY_TYPECHECK` (Windows 8+): with `DIRECT`, a value of another type than
/// `DefaultType >> RTL_QUERY_REGISTRY_TYPECHECK_SHIFT` fails instead of overrunning
/// `EntryContext`.
pub const RTL_QUERY_REGISTRY_TYPECHECK: u32 = 0x100;
/// `RTL_QUERY_REGISTRY_TYPECHECK_SHIFT`.
pub const RTL_QUERY_REGISTRY_TYPECHECK_SHIFT: u32 = 24;
/// `RTL_QUERY_REGISTRY_NOEXPAND`: a `REG_MULTI_SZ` reaches the query routine whole (one call
/// with all its bytes), not one call per string.
pub const RTL_QUERY_REGISTRY_NOEXPAND: u32 = 0x10;
/// `REG_NONE`: as a table entry's `DefaultType`, no default (an absent value is skipped).
pub const REG_NONE: u32 = 0;
/// `REG_SZ`.
pub const REG_SZ: u32 = 1;
/// `REG_DWORD`.
pub const REG_DWORD: u32 = 4;
/// `REG_MULTI_SZ`.
pub const REG_MULTI_SZ: u32 = 7;
/// `KEY_WRITE` (`STANDARD_RIGHTS_WRITE | KEY_SET_VALUE | KEY_CREATE_SUB_KEY`).
pub const KEY_WRITE: u32 = 0x0002_0006;
/// `STATUS_OBJECT_TYPE_MISMATCH`: a registry value exists with another type than asked for.
pub const STATUS_OBJECT_TYPE_MISMATCH: NtStatus = 0xC000_0024_u32 as NtStatus;

/// `HANDLE`.
pub type Handle = *mut c_void;

/// `PRTL_QUERY_REGISTRY_ROUTINE`: called by `RtlQueryRegistryValues` for a value it found
/// (`value_name`, `value_type`, the data and its length in bytes), with the call's `Context`
/// and the table entry's `EntryContext`. An error status stops the query and is its result.
pub type RtlQueryRegistryRoutine = unsafe extern "system" fn(
    value_name: *mut u16,
    value_type: u32,
    value_data: *mut c_void,
    value_length: u32,
    context: *mut c_void,
    entry_context: *mut c_void,
) -> NtStatus;

/// `RTL_QUERY_REGISTRY_TABLE` (x64: 56 bytes): one value to read; a zeroed entry ends a table.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct RtlQueryRegistryTable {
    /// `QueryRoutine` (none with `RTL_QUERY_REGISTRY_DIRECT`).
    pub query_routine: Option<RtlQueryRegistryRoutine>,
    /// `Flags` (`RTL_QUERY_REGISTRY_*`).
    pub flags: u32,
    /// `Name`: NUL-terminated UTF-16 value name (null ends the table).
    pub name: *const u16,
    /// `EntryContext`: with `DIRECT` and a `REG_DWORD`, a `*mut u32` that receives it.
    pub entry_context: *mut c_void,
    /// `DefaultType` (with `TYPECHECK`: the expected type `<< 24`, ored with the default's).
    pub default_type: u32,
    /// `DefaultData`.
    pub default_data: *mut c_void,
    /// `DefaultLength`.
    pub default_length: u32,
}

impl RtlQueryRegistryTable {
    /// The zeroed entry that ends a table.
    pub const END: Self = Self {
        query_routine: None,
        flags: 0,
        name: core::ptr::null(),
        entry_context: core::ptr::null_mut(),
        default_type: 0,
        default_data: core::ptr::null_mut(),
        default_length: 0,
    };
}

/// `PROCESSOR_NUMBER`: a processor as (group, number within the group).
#[repr(C)]
#[derive(Clone, Copy, Default, Debug)]
pub struct ProcessorNumber {
    /// `Group`.
    pub group: u16,
    /// `Number`: the processor's number within its group (0..64).
    pub number: u8,
    /// `Reserved`.
    pub reserved: u8,
}

/// `UNICODE_STRING`.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct UnicodeString {
    /// `Length`: bytes, without a terminator.
    pub length: u16,
    /// `MaximumLength`: bytes of `buffer`.
    pub maximum_length: u16,
    /// `Buffer`.
    pub buffer: *mut u16,
}

/// `LIST_ENTRY`.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct ListEntry {
    /// `Flink`.
    pub flink: *mut ListEntry,
    /// `Blink`.
    pub blink: *mut ListEntry,
}

/// `SLIST_HEADER` (x64): two 64-bit words; the low 16 bits of the first are the depth.
#[repr(C, align(16))]
#[derive(Debug)]
pub struct SlistHeader {
    /// `Alignment` (`HeaderX64`: `Depth:16, Sequence:48`).
    pub alignment: u64,
    /// `Region` (`HeaderX64`: `Reserved:4, NextEntry:60`).
    pub region: u64,
}

/// `SLIST_ENTRY` (x64: 16-byte aligned).
#[repr(C, align(16))]
#[derive(Debug)]
pub struct SlistEntry {
    /// `Next`.
    pub next: *mut SlistEntry,
}

/// `PALLOCATE_FUNCTION_EX`.
pub type AllocateFunctionEx = unsafe extern "system" fn(
    pool_type: i32,
    number_of_bytes: usize,
    tag: u32,
    lookaside: *mut LookasideListEx,
) -> *mut c_void;
/// `PFREE_FUNCTION_EX`.
pub type FreeFunctionEx =
    unsafe extern "system" fn(buffer: *mut c_void, lookaside: *mut LookasideListEx);

/// `GENERAL_LOOKASIDE_POOL` (x64: 96 bytes). The counters are updated by the kernel with plain
/// increments and read by the balancer thread; this crate touches them only through atomics.
#[repr(C)]
#[derive(Debug)]
pub struct GeneralLookasidePool {
    /// `ListHead`.
    pub list_head: SlistHeader,
    /// `Depth`: the current maximum number of entries kept (adjusted by the system; 0 under
    /// Driver Verifier).
    pub depth: u16,
    /// `MaximumDepth`.
    pub maximum_depth: u16,
    /// `TotalAllocates`.
    pub total_allocates: u32,
    /// `AllocateMisses`.
    pub allocate_misses: u32,
    /// `TotalFrees`.
    pub total_frees: u32,
    /// `FreeMisses`.
    pub free_misses: u32,
    /// `Type` (`POOL_TYPE`).
    pub pool_type: i32,
    /// `Tag`.
    pub tag: u32,
    /// `Size`: bytes of every entry.
    pub size: u32,
    /// `AllocateEx`: called when the list is empty.
    pub allocate_ex: Option<AllocateFunctionEx>,
    /// `FreeEx`: called when the list is full.
    pub free_ex: Option<FreeFunctionEx>,
    /// `ListEntry`: links the list into the system's lookaside list of lists.
    pub list_entry: ListEntry,
    /// `LastTotalAllocates`.
    pub last_total_allocates: u32,
    /// `LastAllocateMisses`.
    pub last_allocate_misses: u32,
    /// `Future`.
    pub future: [u32; 2],
}

/// `LOOKASIDE_LIST_EX` (x64: 96 bytes, align 16). Must not move once initialised: the system
/// links it into a global list.
#[repr(C)]
#[derive(Debug)]
pub struct LookasideListEx {
    /// `L`.
    pub l: GeneralLookasidePool,
}

/// `KDPC` (x64: 64 bytes, align 8). Opaque: only initialised and queued by the kernel.
#[repr(C, align(8))]
pub struct Kdpc {
    opaque: [u8; 64],
}

/// `KTIMER` (x64: 64 bytes, align 8). Opaque: only the kernel reads it.
#[repr(C, align(8))]
pub struct Ktimer {
    opaque: [u8; 64],
}

impl Kdpc {
    /// Storage for `KeInitializeDpc` to initialise.
    pub const ZEROED: Self = Self { opaque: [0; 64] };
}

impl Ktimer {
    /// Storage for `KeInitializeTimer` to initialise.
    pub const ZEROED: Self = Self { opaque: [0; 64] };
}

/// `PKDEFERRED_ROUTINE`.
pub type KdeferredRoutine = unsafe extern "system" fn(
    dpc: *mut Kdpc,
    deferred_context: *mut c_void,
    system_argument1: *mut c_void,
    system_argument2: *mut c_void,
);

/// Opaque `DRIVER_OBJECT`: the driver only passes it on to PortCls.
#[repr(C)]
pub struct DriverObject {
    _opaque: [u8; 0],
}

/// Opaque `DEVICE_OBJECT`.
#[repr(C)]
pub struct DeviceObject {
    _opaque: [u8; 0],
}

/// Opaque `IRP`.
#[repr(C)]
pub struct Irp {
    _opaque: [u8; 0],
}

/// Byte offset of `DRIVER_OBJECT.DriverUnload` (x64). [`DriverObject`] stays opaque: the
/// unload slot is the one field the driver touches (to chain PortCls's unload routine).
pub const DRIVER_OBJECT_DRIVER_UNLOAD: usize = 0x68;

/// `PDRIVER_UNLOAD` (`DRIVER_OBJECT.DriverUnload`, nullable).
pub type DriverUnload = unsafe extern "system" fn(driver: *mut DriverObject);

/// `PDRIVER_ADD_DEVICE`.
pub type DriverAddDevice =
    unsafe extern "system" fn(driver: *mut DriverObject, pdo: *mut DeviceObject) -> NtStatus;

/// `PCPFNSTARTDEVICE`: PortCls's start-device callback (`PRESOURCELIST` is an
/// `IResourceList` interface pointer).
pub type PcPfnStartDevice = unsafe extern "system" fn(
    device: *mut DeviceObject,
    irp: *mut Irp,
    resources: mxf_abi::PResourceList,
) -> NtStatus;

/// `ExQueryDepthSList` (inline in `wdm.h` on x64): the low 16 bits of the header's first word.
#[inline]
pub const fn slist_depth(first_word: u64) -> u16 {
    (first_word & 0xffff) as u16
}

#[cfg(target_pointer_width = "64")]
const _: () = {
    assert!(size_of::<UnicodeString>() == 16 && offset_of!(UnicodeString, buffer) == 8);
    assert!(size_of::<ListEntry>() == 16);
    assert!(size_of::<SlistHeader>() == 16 && align_of::<SlistHeader>() == 16);
    assert!(size_of::<SlistEntry>() == 16 && align_of::<SlistEntry>() == 16);
    assert!(size_of::<KspinLock>() == 8);
    assert!(size_of::<GeneralLookasidePool>() == 96);
    assert!(offset_of!(GeneralLookasidePool, list_head) == 0x00);
    assert!(offset_of!(GeneralLookasidePool, depth) == 0x10);
    assert!(offset_of!(GeneralLookasidePool, maximum_depth) == 0x12);
    assert!(offset_of!(GeneralLookasidePool, total_allocates) == 0x14);
    assert!(offset_of!(GeneralLookasidePool, allocate_misses) == 0x18);
    assert!(offset_of!(GeneralLookasidePool, total_frees) == 0x1c);
    assert!(offset_of!(GeneralLookasidePool, free_misses) == 0x20);
    assert!(offset_of!(GeneralLookasidePool, pool_type) == 0x24);
    assert!(offset_of!(GeneralLookasidePool, tag) == 0x28);
    assert!(offset_of!(GeneralLookasidePool, size) == 0x2c);
    assert!(offset_of!(GeneralLookasidePool, allocate_ex) == 0x30);
    assert!(offset_of!(GeneralLookasidePool, free_ex) == 0x38);
    assert!(offset_of!(GeneralLookasidePool, list_entry) == 0x40);
    assert!(offset_of!(GeneralLookasidePool, last_total_allocates) == 0x50);
    assert!(offset_of!(GeneralLookasidePool, last_allocate_misses) == 0x54);
    assert!(offset_of!(GeneralLookasidePool, future) == 0x58);
    assert!(size_of::<LookasideListEx>() == 96 && align_of::<LookasideListEx>() == 16);
    assert!(size_of::<Kdpc>() == 64 && align_of::<Kdpc>() == 8);
    assert!(size_of::<Ktimer>() == 64 && align_of::<Ktimer>() == 8);
    assert!(size_of::<Option<AllocateFunctionEx>>() == 8);
    assert!(size_of::<Option<FreeFunctionEx>>() == 8);
    assert!(size_of::<Option<DriverUnload>>() == 8);
    assert!(size_of::<RtlQueryRegistryTable>() == 56);
    assert!(size_of::<Option<RtlQueryRegistryRoutine>>() == 8);
    assert!(size_of::<Handle>() == 8);
    assert!(offset_of!(RtlQueryRegistryTable, flags) == 8);
    assert!(offset_of!(RtlQueryRegistryTable, name) == 16);
    assert!(offset_of!(RtlQueryRegistryTable, entry_context) == 24);
    assert!(offset_of!(RtlQueryRegistryTable, default_type) == 32);
    assert!(offset_of!(RtlQueryRegistryTable, default_data) == 40);
    assert!(offset_of!(RtlQueryRegistryTable, default_length) == 48);
    assert!(DRIVER_OBJECT_DRIVER_UNLOAD.is_multiple_of(align_of::<Option<DriverUnload>>()));
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slist_depth_is_the_low_sixteen_bits() {
        assert_eq!(slist_depth(0), 0);
        assert_eq!(slist_depth(0x1234_5678_0003), 3);
        assert_eq!(slist_depth(0xffff_ffff_ffff_ffff), 0xffff);
        assert_eq!(slist_depth(0x0001_0000), 0);
    }
}
