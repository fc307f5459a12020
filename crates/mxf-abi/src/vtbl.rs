//! COM interface layouts of the DMus stack: an interface pointer points at a struct whose first
//! field is the vtable pointer, and each vtable embeds its base interface's table first, so the
//! slots sit in the documented order (see `dmus-contract.md`, "Vtable slot order").
//!
//! Every method is `__stdcall` on x86, hence `extern "system"`; `this` comes first and is typed
//! as the interface that declares the slot. A derived interface pointer may be passed where a
//! base one is expected (the layouts share a prefix).

use crate::event::{DmusKernelEvent, ReferenceTime};
use crate::handles::{PDeviceObject, PIrp, PResourceList};
use crate::ks::{DmusStreamType, KsDataFormat, KsDataRange, KsState, PoolType};
use crate::portcls::PcFilterDescriptor;
use crate::status::NtStatus;
use crate::unknown::{IUnknown, IUnknownVtbl};
use core::ffi::c_void;
use core::mem::{offset_of, size_of};

/// `PPCFILTER_DESCRIPTOR`: what `GetDescription` stores through its out parameter.
pub type PcFilterDescriptorPtr = *const PcFilterDescriptor;

macro_rules! interface {
    ($(#[$m:meta])* $name:ident => $vtbl:ident) => {
        $(#[$m])*
        #[repr(C)]
        pub struct $name {
            /// The vtable pointer (`lpVtbl`).
            pub vtbl: *const $vtbl,
        }
    };
}

interface!(
    /// `IMXF`: a node of an MXF graph (streams, filters, the allocator).
    IMxf => IMxfVtbl
);
interface!(
    /// `IAllocatorMXF`: events and buffers for an MXF graph.
    IAllocatorMxf => IAllocatorMxfVtbl
);
interface!(
    /// `IMasterClock`: the stream's reference clock.
    IMasterClock => IMasterClockVtbl
);
interface!(
    /// `IServiceSink`.
    IServiceSink => IServiceSinkVtbl
);
interface!(
    /// `IServiceGroup`.
    IServiceGroup => IServiceGroupVtbl
);
interface!(
    /// `IPort`.
    IPort => IPortVtbl
);
interface!(
    /// `IPortDMus`.
    IPortDMus => IPortDMusVtbl
);
interface!(
    /// `IMiniport`.
    IMiniport => IMiniportVtbl
);
interface!(
    /// `IMiniportDMus`.
    IMiniportDMus => IMiniportDMusVtbl
);

/// `IMXF` slots 0–6.
#[repr(C)]
pub struct IMxfVtbl {
    /// 0–2.
    pub base: IUnknownVtbl,
    /// 3 `SetState(KSSTATE)`.
    pub set_state: unsafe extern "system" fn(this: *mut IMxf, state: KsState) -> NtStatus,
    /// 4 `PutMessage(PDMUS_KERNEL_EVENT)`: takes ownership of a chain (null allowed).
    pub put_message:
        unsafe extern "system" fn(this: *mut IMxf, evt: *mut DmusKernelEvent) -> NtStatus,
    /// 5 `ConnectOutput(PMXF)`.
    pub connect_output: unsafe extern "system" fn(this: *mut IMxf, sink: *mut IMxf) -> NtStatus,
    /// 6 `DisconnectOutput(PMXF)`.
    pub disconnect_output: unsafe extern "system" fn(this: *mut IMxf, sink: *mut IMxf) -> NtStatus,
}

/// `IAllocatorMXF` slots 0–10.
#[repr(C)]
pub struct IAllocatorMxfVtbl {
    /// 0–6.
    pub base: IMxfVtbl,
    /// 7 `GetMessage(PDMUS_KERNEL_EVENT*)`: a zeroed event, or `*pp = NULL` and an error.
    pub get_message: unsafe extern "system" fn(
        this: *mut IAllocatorMxf,
        out: *mut *mut DmusKernelEvent,
    ) -> NtStatus,
    /// 8 `GetBufferSize() -> USHORT`: constant for the allocator's lifetime.
    pub get_buffer_size: unsafe extern "system" fn(this: *mut IAllocatorMxf) -> u16,
    /// 9 `GetBuffer(PBYTE*)`: a buffer of exactly `GetBufferSize()` bytes.
    pub get_buffer:
        unsafe extern "system" fn(this: *mut IAllocatorMxf, out: *mut *mut u8) -> NtStatus,
    /// 10 `PutBuffer(PBYTE)`.
    pub put_buffer: unsafe extern "system" fn(this: *mut IAllocatorMxf, buf: *mut u8) -> NtStatus,
}

/// `IMasterClock` slots 0–3 (no public IID).
#[repr(C)]
pub struct IMasterClockVtbl {
    /// 0–2.
    pub base: IUnknownVtbl,
    /// 3 `GetTime(REFERENCE_TIME*)`.
    pub get_time:
        unsafe extern "system" fn(this: *mut IMasterClock, time: *mut ReferenceTime) -> NtStatus,
}

/// `IServiceSink` slots 0–3.
#[repr(C)]
pub struct IServiceSinkVtbl {
    /// 0–2.
    pub base: IUnknownVtbl,
    /// 3 `void RequestService()`.
    pub request_service: unsafe extern "system" fn(this: *mut IServiceSink),
}

/// `IServiceGroup` slots 0–8.
#[repr(C)]
pub struct IServiceGroupVtbl {
    /// 0–3.
    pub base: IServiceSinkVtbl,
    /// 4 `AddMember(PSERVICESINK)`.
    pub add_member:
        unsafe extern "system" fn(this: *mut IServiceGroup, sink: *mut IServiceSink) -> NtStatus,
    /// 5 `void RemoveMember(PSERVICESINK)`.
    pub remove_member: unsafe extern "system" fn(this: *mut IServiceGroup, sink: *mut IServiceSink),
    /// 6 `void SupportDelayedService()`.
    pub support_delayed_service: unsafe extern "system" fn(this: *mut IServiceGroup),
    /// 7 `void RequestDelayedService(ULONGLONG ullDelay)`.
    pub request_delayed_service:
        unsafe extern "system" fn(this: *mut IServiceGroup, delay_100ns: u64),
    /// 8 `void CancelDelayedService()`.
    pub cancel_delayed_service: unsafe extern "system" fn(this: *mut IServiceGroup),
}

/// `IPort` slots 0–5.
#[repr(C)]
pub struct IPortVtbl {
    /// 0–2.
    pub base: IUnknownVtbl,
    /// 3 `Init(PDEVICE_OBJECT, PIRP, PUNKNOWN Miniport, PUNKNOWN Adapter, PRESOURCELIST)`.
    pub init: unsafe extern "system" fn(
        this: *mut IPort,
        device: PDeviceObject,
        irp: PIrp,
        miniport: *mut IUnknown,
        adapter: *mut IUnknown,
        resources: PResourceList,
    ) -> NtStatus,
    /// 4 `GetDeviceProperty(DEVICE_REGISTRY_PROPERTY, ULONG, PVOID, PULONG)`.
    pub get_device_property: unsafe extern "system" fn(
        this: *mut IPort,
        property: i32,
        buffer_length: u32,
        buffer: *mut c_void,
        result_length: *mut u32,
    ) -> NtStatus,
    /// 5 `NewRegistryKey(PREGISTRYKEY*, PUNKNOWN, ULONG, ACCESS_MASK, POBJECT_ATTRIBUTES,
    /// ULONG, PULONG)`.
    pub new_registry_key: unsafe extern "system" fn(
        this: *mut IPort,
        out_key: *mut *mut c_void,
        outer: *mut IUnknown,
        key_type: u32,
        access: u32,
        attributes: *mut c_void,
        create_options: u32,
        disposition: *mut u32,
    ) -> NtStatus,
}

/// `IPortDMus` slots 0–7.
#[repr(C)]
pub struct IPortDMusVtbl {
    /// 0–5.
    pub base: IPortVtbl,
    /// 6 `void Notify(PSERVICEGROUP)`: ask the port to service the group (capture data ready).
    pub notify: unsafe extern "system" fn(this: *mut IPortDMus, group: *mut IServiceGroup),
    /// 7 `void RegisterServiceGroup(PSERVICEGROUP)`.
    pub register_service_group:
        unsafe extern "system" fn(this: *mut IPortDMus, group: *mut IServiceGroup),
}

/// `IMiniport` slots 0–4.
#[repr(C)]
pub struct IMiniportVtbl {
    /// 0–2.
    pub base: IUnknownVtbl,
    /// 3 `GetDescription(PPCFILTER_DESCRIPTOR*)`.
    pub get_description: unsafe extern "system" fn(
        this: *mut IMiniport,
        out: *mut PcFilterDescriptorPtr,
    ) -> NtStatus,
    /// 4 `DataRangeIntersection(ULONG PinId, PKSDATARANGE, PKSDATARANGE Matching, ULONG
    /// OutputBufferLength, PVOID ResultantFormat, PULONG ResultantFormatLength)`.
    pub data_range_intersection: unsafe extern "system" fn(
        this: *mut IMiniport,
        pin_id: u32,
        data_range: *mut KsDataRange,
        matching: *mut KsDataRange,
        output_length: u32,
        resultant_format: *mut c_void,
        resultant_length: *mut u32,
    ) -> NtStatus,
}

/// `IMiniportDMus` slots 0–7.
#[repr(C)]
pub struct IMiniportDMusVtbl {
    /// 0–4.
    pub base: IMiniportVtbl,
    /// 5 `Init(PUNKNOWN UnknownAdapter, PRESOURCELIST, PPORTDMUS, PSERVICEGROUP*)`.
    pub init: unsafe extern "system" fn(
        this: *mut IMiniportDMus,
        adapter: *mut IUnknown,
        resources: PResourceList,
        port: *mut IPortDMus,
        out_group: *mut *mut IServiceGroup,
    ) -> NtStatus,
    /// 6 `void Service()` (unused by the port).
    pub service: unsafe extern "system" fn(this: *mut IMiniportDMus),
    /// 7 `NewStream(PMXF*, PUNKNOWN Outer, POOL_TYPE, ULONG PinID, DMUS_STREAM_TYPE,
    /// PKSDATAFORMAT, PSERVICEGROUP*, PAllocatorMXF, PMASTERCLOCK, PULONGLONG)`.
    pub new_stream: unsafe extern "system" fn(
        this: *mut IMiniportDMus,
        out_stream: *mut *mut IMxf,
        outer: *mut IUnknown,
        pool: PoolType,
        pin_id: u32,
        stream_type: DmusStreamType,
        format: *mut KsDataFormat,
        out_group: *mut *mut IServiceGroup,
        allocator: *mut IAllocatorMxf,
        clock: *mut IMasterClock,
        schedule_prefetch: *mut u64,
    ) -> NtStatus,
}

const PTR: usize = size_of::<usize>();

/// Slot index of a vtable field (compile-time layout checks).
macro_rules! slot {
    ($t:ty, $($f:tt).+) => {
        offset_of!($t, $($f).+) / PTR
    };
}

const _: () = {
    assert!(size_of::<IMxfVtbl>() == 7 * PTR);
    assert!(slot!(IMxfVtbl, set_state) == 3);
    assert!(slot!(IMxfVtbl, put_message) == 4);
    assert!(slot!(IMxfVtbl, connect_output) == 5);
    assert!(slot!(IMxfVtbl, disconnect_output) == 6);
    assert!(size_of::<IAllocatorMxfVtbl>() == 11 * PTR);
    assert!(slot!(IAllocatorMxfVtbl, get_message) == 7);
    assert!(slot!(IAllocatorMxfVtbl, get_buffer_size) == 8);
    assert!(slot!(IAllocatorMxfVtbl, get_buffer) == 9);
    assert!(slot!(IAllocatorMxfVtbl, put_buffer) == 10);
    assert!(size_of::<IMasterClockVtbl>() == 4 * PTR);
    assert!(slot!(IMasterClockVtbl, get_time) == 3);
    assert!(size_of::<IServiceSinkVtbl>() == 4 * PTR);
    assert!(size_of::<IServiceGroupVtbl>() == 9 * PTR);
    assert!(slot!(IServiceGroupVtbl, add_member) == 4);
    assert!(slot!(IServiceGroupVtbl, cancel_delayed_service) == 8);
    assert!(size_of::<IPortVtbl>() == 6 * PTR);
    assert!(slot!(IPortVtbl, init) == 3);
    assert!(slot!(IPortVtbl, new_registry_key) == 5);
    assert!(size_of::<IPortDMusVtbl>() == 8 * PTR);
    assert!(slot!(IPortDMusVtbl, notify) == 6);
    assert!(slot!(IPortDMusVtbl, register_service_group) == 7);
    assert!(size_of::<IMiniportVtbl>() == 5 * PTR);
    assert!(slot!(IMiniportVtbl, get_description) == 3);
    assert!(slot!(IMiniportVtbl, data_range_intersection) == 4);
    assert!(size_of::<IMiniportDMusVtbl>() == 8 * PTR);
    assert!(slot!(IMiniportDMusVtbl, init) == 5);
    assert!(slot!(IMiniportDMusVtbl, service) == 6);
    assert!(slot!(IMiniportDMusVtbl, new_stream) == 7);
};
