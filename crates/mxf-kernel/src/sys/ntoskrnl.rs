//! Exports of `ntoskrnl.exe` used by the driver (all exist on Windows 10 2004 x64).
//!
//! On x64 `KeGetCurrentIrql`, `KeRaiseIrql`/`KeLowerIrql`, `KeQueryInterruptTime`,
//! `KeInitializeSpinLock`, `ExQueryDepthSList` and (before 22H2) the lookaside fast paths are
//! inline functions or macros in `wdm.h`, not exports; the safe layer implements them.

use super::types::*;
use core::ffi::{c_char, c_void};

#[cfg_attr(
    windows,
    link(name = "ntoskrnl.exe", kind = "raw-dylib", modifiers = "+verbatim")
)]
unsafe extern "system" {
    /// `ExAllocatePool2` (Windows 10 2004+). IRQL <= `DISPATCH_LEVEL` for nonpaged pool.
    pub fn ExAllocatePool2(flags: PoolFlags, number_of_bytes: usize, tag: u32) -> *mut c_void;
    /// `ExFreePoolWithTag`. IRQL <= `DISPATCH_LEVEL` for nonpaged pool.
    pub fn ExFreePoolWithTag(p: *mut c_void, tag: u32);
    /// `ExInitializeLookasideListEx`. IRQL <= `DISPATCH_LEVEL`.
    pub fn ExInitializeLookasideListEx(
        lookaside: *mut LookasideListEx,
        allocate: Option<AllocateFunctionEx>,
        free: Option<FreeFunctionEx>,
        pool_type: i32,
        flags: u32,
        size: usize,
        tag: u32,
        depth: u16,
    ) -> NtStatus;
    /// `ExDeleteLookasideListEx`: frees the entries on the list and unlinks it.
    pub fn ExDeleteLookasideListEx(lookaside: *mut LookasideListEx);
    /// `ExpInterlockedPopEntrySList` (what `InterlockedPopEntrySList` expands to on x64).
    pub fn ExpInterlockedPopEntrySList(list_head: *mut SlistHeader) -> *mut SlistEntry;
    /// `ExpInterlockedPushEntrySList` (what `InterlockedPushEntrySList` expands to on x64).
    pub fn ExpInterlockedPushEntrySList(
        list_head: *mut SlistHeader,
        list_entry: *mut SlistEntry,
    ) -> *mut SlistEntry;
    /// `KeAcquireSpinLockRaiseToDpc` (an export on x64). IRQL <= `DISPATCH_LEVEL`.
    pub fn KeAcquireSpinLockRaiseToDpc(spin_lock: *mut KspinLock) -> Kirql;
    /// `KeReleaseSpinLock` (an export on x64).
    pub fn KeReleaseSpinLock(spin_lock: *mut KspinLock, new_irql: Kirql);
    /// `KeAcquireSpinLockAtDpcLevel`: acquires without touching IRQL. IRQL >= `DISPATCH_LEVEL`.
    pub fn KeAcquireSpinLockAtDpcLevel(spin_lock: *mut KspinLock);
    /// `KeReleaseSpinLockFromDpcLevel`: releases without touching IRQL. IRQL >=
    /// `DISPATCH_LEVEL`.
    pub fn KeReleaseSpinLockFromDpcLevel(spin_lock: *mut KspinLock);
    /// `KeInitializeTimer`: a notification timer. IRQL <= `DISPATCH_LEVEL`.
    pub fn KeInitializeTimer(timer: *mut Ktimer);
    /// `KeInitializeDpc`. Any IRQL.
    pub fn KeInitializeDpc(
        dpc: *mut Kdpc,
        deferred_routine: KdeferredRoutine,
        deferred_context: *mut c_void,
    );
    /// `KeSetTimer`: negative `due_time` = relative 100 ns, positive = absolute *system* time.
    /// Returns whether the timer was already in the queue. IRQL <= `DISPATCH_LEVEL`.
    pub fn KeSetTimer(timer: *mut Ktimer, due_time: i64, dpc: *mut Kdpc) -> u8;
    /// `KeInsertQueueDpc`: queues `dpc` unless it is queued already (returns whether it
    /// queued it). Any IRQL.
    pub fn KeInsertQueueDpc(
        dpc: *mut Kdpc,
        system_argument1: *mut c_void,
        system_argument2: *mut c_void,
    ) -> u8;
    /// `KeQueryInterruptTimePrecise` (Windows 8.1+): interrupt time in 100 ns units, accurate
    /// to a microsecond (interpolated with the performance counter, whose value is written to
    /// `qpc_time_stamp`). Any IRQL.
    pub fn KeQueryInterruptTimePrecise(qpc_time_stamp: *mut u64) -> u64;
    /// `KeQuerySystemTimePrecise` (Windows 8+): system time, 100 ns since 1601-01-01 UTC,
    /// accurate to a microsecond, written to `current_time` (a `LARGE_INTEGER`). Any IRQL.
    pub fn KeQuerySystemTimePrecise(current_time: *mut i64);
    /// `KeCancelTimer`: returns whether the timer was in the queue. IRQL <= `DISPATCH_LEVEL`.
    pub fn KeCancelTimer(timer: *mut Ktimer) -> u8;
    /// `KeFlushQueuedDpcs`: returns once every DPC queued on any processor has run.
    /// `PASSIVE_LEVEL`.
    pub fn KeFlushQueuedDpcs();
    /// `KeGetCurrentProcessorNumberEx` (Windows 7+): the system-wide index of the current
    /// processor (contiguous across processor groups); also its (group, number) when
    /// `proc_number` is non-null. Any IRQL.
    pub fn KeGetCurrentProcessorNumberEx(proc_number: *mut ProcessorNumber) -> u32;
    /// `KeQueryActiveProcessorCountEx` (Windows 7+): active processors in `group_number`, or
    /// in all groups for [`ALL_PROCESSOR_GROUPS`]. Any IRQL.
    pub fn KeQueryActiveProcessorCountEx(group_number: u16) -> u32;
    /// `RtlQueryRegistryValues`: reads the values `query_table` names under `path` (relative to
    /// `relative_to`). `PASSIVE_LEVEL`.
    pub fn RtlQueryRegistryValues(
        relative_to: u32,
        path: *const u16,
        query_table: *mut RtlQueryRegistryTable,
        context: *mut c_void,
        environment: *mut c_void,
    ) -> NtStatus;
    /// `IoRegisterDeviceInterface`: the device interface of class `interface_class_guid` with
    /// `reference_string` on the PDO, created if it does not exist (an existing one is
    /// returned as it is); its symbolic link is written to `symbolic_link_name`, in a buffer the
    /// caller frees with `RtlFreeUnicodeString`. `PASSIVE_LEVEL`.
    pub fn IoRegisterDeviceInterface(
        physical_device_object: *mut DeviceObject,
        interface_class_guid: *const mxf_abi::Guid,
        reference_string: *mut UnicodeString,
        symbolic_link_name: *mut UnicodeString,
    ) -> NtStatus;
    /// `IoOpenDeviceInterfaceRegistryKey`: a handle (closed with `ZwClose`) to the nonvolatile
    /// key of the device interface `symbolic_link_name`. `PASSIVE_LEVEL`, system thread.
    pub fn IoOpenDeviceInterfaceRegistryKey(
        symbolic_link_name: *mut UnicodeString,
        desired_access: u32,
        device_interface_key: *mut Handle,
    ) -> NtStatus;
    /// `ZwSetValueKey`: writes value `value_name` of type `value_type` (`data_size` bytes from
    /// `data`) under `key_handle`. `PASSIVE_LEVEL`.
    pub fn ZwSetValueKey(
        key_handle: Handle,
        value_name: *mut UnicodeString,
        title_index: u32,
        value_type: u32,
        data: *mut c_void,
        data_size: u32,
    ) -> NtStatus;
    /// `ZwClose`: closes a kernel handle. `PASSIVE_LEVEL`.
    pub fn ZwClose(handle: Handle) -> NtStatus;
    /// `RtlFreeUnicodeString`: frees a string buffer the system allocated (e.g. the symbolic
    /// link of `IoRegisterDeviceInterface`). `PASSIVE_LEVEL`.
    pub fn RtlFreeUnicodeString(unicode_string: *mut UnicodeString);
    /// `KeBugCheckEx`.
    pub fn KeBugCheckEx(code: u32, p1: usize, p2: usize, p3: usize, p4: usize) -> !;
}

#[cfg_attr(
    windows,
    link(name = "ntoskrnl.exe", kind = "raw-dylib", modifiers = "+verbatim")
)]
unsafe extern "C" {
    /// `DbgPrintEx` (`__cdecl`, variadic). Output is limited to 512 bytes per call.
    pub fn DbgPrintEx(component_id: u32, level: u32, format: *const c_char, ...) -> u32;
}
