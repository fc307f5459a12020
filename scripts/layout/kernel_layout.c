/*
 * Layout probe for crates/mxf-kernel (src/sys: the hand-written kernel structures, constants
 * and ntoskrnl/PortCls imports) and the kernel ABI constants of mxf-core's platform seam,
 * compiled (never run) for x86_64 Windows by crates/mxf-kernel/tests/layout_mingw.rs through
 * the layout-probe crate:
 *
 *   x86_64-w64-mingw32-gcc -S -o - -Icrates/layout-probe/c \
 *       -I/usr/share/mingw-w64/include/ddk -I$MXF_SHARED/tools/win-sysroot \
 *       scripts/layout/kernel_layout.c | grep '\.set mxf'
 *
 * Keys: size.T, align.T, off.T.Field, value.NAME (see crates/layout-probe/c/layout_probe.h),
 * and for every import F: sig.F.arity, sig.F.argN (size of parameter N), sig.F.ret (size of
 * the return type, 0 for VOID), sig.F.variadic and sig.F.noreturn (0/1). The parameter types
 * are written out here, but a _Static_assert makes the compiler prove that they are exactly
 * the header's prototype, so the sizes are the header's.
 *
 * What mingw-w64 10 does not have, and is therefore not checked here:
 * - POOL_FLAGS / POOL_FLAG_NON_PAGED and ExAllocatePool2 (Windows 10 2004 additions);
 * - bug checks 0xC4 DRIVER_VERIFIER_DETECTED_VIOLATION, 0xD5 and 0xD6 (absent from mingw's
 *   bugcodes.h) and the Driver Verifier bug-check parameter codes (not in any header);
 * - DRIVER_OBJECT / DEVICE_OBJECT / IRP: mxf-kernel declares them opaque (pointers only), so
 *   there is no layout to compare;
 * - PcGetPhysicalDeviceObject (Windows 8; its prototype follows Microsoft's reference page:
 *   NTSTATUS PcGetPhysicalDeviceObject(PDEVICE_OBJECT, PDEVICE_OBJECT *)).
 */
#include <ddk/wdm.h>
#include <ddk/ntddk.h>
#include "ddk_fixups.h"
#include <ddk/portcls.h>
#include <bugcodes.h>
#include "layout_probe.h"

/* Function signatures. */
#define MXF_ARG(F, i, T) MXF_EMIT("sig." #F ".arg" #i, sizeof(T))
#define MXF_ARGS_0(F)
#define MXF_ARGS_1(F, a) MXF_ARG(F, 0, a)
#define MXF_ARGS_2(F, a, b) MXF_ARGS_1(F, a); MXF_ARG(F, 1, b)
#define MXF_ARGS_3(F, a, b, c) MXF_ARGS_2(F, a, b); MXF_ARG(F, 2, c)
#define MXF_ARGS_4(F, a, b, c, d) MXF_ARGS_3(F, a, b, c); MXF_ARG(F, 3, d)
#define MXF_ARGS_5(F, a, b, c, d, e) MXF_ARGS_4(F, a, b, c, d); MXF_ARG(F, 4, e)
#define MXF_ARGS_6(F, a, b, c, d, e, f) MXF_ARGS_5(F, a, b, c, d, e); MXF_ARG(F, 5, f)
#define MXF_ARGS_7(F, a, b, c, d, e, f, g) MXF_ARGS_6(F, a, b, c, d, e, f); MXF_ARG(F, 6, g)
#define MXF_ARGS_8(F, a, b, c, d, e, f, g, h) \
    MXF_ARGS_7(F, a, b, c, d, e, f, g); MXF_ARG(F, 7, h)
#define MXF_RET_SIZE(R) (__builtin_types_compatible_p(R, void) ? 0 : sizeof(R))
#define MXF_SIG_KEYS(F, R, n, variadic, noreturn)                                     \
    MXF_EMIT("sig." #F ".arity", n); MXF_EMIT("sig." #F ".ret", MXF_RET_SIZE(R));      \
    MXF_EMIT("sig." #F ".variadic", variadic); MXF_EMIT("sig." #F ".noreturn", noreturn)
#define MXF_SIG_ASSERT(F, PTR)                                                        \
    _Static_assert(__builtin_types_compatible_p(__typeof__(&F), PTR),                 \
                   #F " is not declared as written in kernel_layout.c")
/* MXF_SIG(F, R, n, T0, ..., Tn-1): F is declared exactly as `R NTAPI F(T0, ..., Tn-1)`. */
#define MXF_SIG(F, R, n, ...)                                                         \
    MXF_SIG_ASSERT(F, R(NTAPI *)(__VA_ARGS__));                                       \
    MXF_SIG_KEYS(F, R, n, 0, 0); MXF_ARGS_##n(F, __VA_ARGS__)
#define MXF_SIG0(F, R) MXF_SIG_ASSERT(F, R(NTAPI *)(void)); MXF_SIG_KEYS(F, R, 0, 0, 0)
/* As MXF_SIG for a DECLSPEC_NORETURN function (noreturn is part of GCC's function type, and
 * is spelled on a declaration). Used at file scope. */
#define MXF_SIG_NORETURN_DECL(F, R, ...) DECLSPEC_NORETURN R NTAPI mxf_expected_##F(__VA_ARGS__)
#define MXF_SIG_NORETURN(F, R, n, ...)                                                \
    MXF_SIG_ASSERT(F, __typeof__(&mxf_expected_##F));                                 \
    MXF_SIG_KEYS(F, R, n, 0, 1); MXF_ARGS_##n(F, __VA_ARGS__)

MXF_SIG_NORETURN_DECL(KeBugCheckEx, VOID, ULONG, ULONG_PTR, ULONG_PTR, ULONG_PTR, ULONG_PTR);

void mxf_kernel_layout_probe(void)
{
    /* Scalars and function pointer typedefs. */
    MXF_SIZE(KSPIN_LOCK); MXF_SIZE(KIRQL); MXF_SIZE(NTSTATUS); MXF_SIZE(POOL_TYPE);
    MXF_SIZE(PALLOCATE_FUNCTION_EX); MXF_SIZE(PFREE_FUNCTION_EX);
    MXF_SIZE(PKDEFERRED_ROUTINE); MXF_SIZE(PDRIVER_ADD_DEVICE); MXF_SIZE(PCPFNSTARTDEVICE);
    MXF_SIZE(PDRIVER_UNLOAD); MXF_SIZE(HANDLE); MXF_SIZE(PRTL_QUERY_REGISTRY_ROUTINE);
    /* DRIVER_OBJECT is opaque in Rust except for the unload slot the driver chains. */
    MXF_OFF(DRIVER_OBJECT, DriverUnload);

    MXF_SIZE(UNICODE_STRING);
    MXF_OFF(UNICODE_STRING, Length); MXF_OFF(UNICODE_STRING, MaximumLength);
    MXF_OFF(UNICODE_STRING, Buffer);
    MXF_SIZE(LIST_ENTRY);
    MXF_OFF(LIST_ENTRY, Flink); MXF_OFF(LIST_ENTRY, Blink);
    MXF_SIZE(SLIST_HEADER);
    MXF_OFF(SLIST_HEADER, Alignment); MXF_OFF(SLIST_HEADER, Region);
    MXF_SIZE(SLIST_ENTRY);
    MXF_OFF(SLIST_ENTRY, Next);

    MXF_SIZE(GENERAL_LOOKASIDE_POOL);
    MXF_OFF(GENERAL_LOOKASIDE_POOL, ListHead); MXF_OFF(GENERAL_LOOKASIDE_POOL, Depth);
    MXF_OFF(GENERAL_LOOKASIDE_POOL, MaximumDepth);
    MXF_OFF(GENERAL_LOOKASIDE_POOL, TotalAllocates);
    MXF_OFF(GENERAL_LOOKASIDE_POOL, AllocateMisses);
    MXF_OFF(GENERAL_LOOKASIDE_POOL, TotalFrees); MXF_OFF(GENERAL_LOOKASIDE_POOL, FreeMisses);
    MXF_OFF(GENERAL_LOOKASIDE_POOL, Type); MXF_OFF(GENERAL_LOOKASIDE_POOL, Tag);
    MXF_OFF(GENERAL_LOOKASIDE_POOL, Size); MXF_OFF(GENERAL_LOOKASIDE_POOL, AllocateEx);
    MXF_OFF(GENERAL_LOOKASIDE_POOL, FreeEx); MXF_OFF(GENERAL_LOOKASIDE_POOL, ListEntry);
    MXF_OFF(GENERAL_LOOKASIDE_POOL, LastTotalAllocates);
    MXF_OFF(GENERAL_LOOKASIDE_POOL, LastAllocateMisses);
    MXF_OFF(GENERAL_LOOKASIDE_POOL, Future);
    MXF_SIZE(LOOKASIDE_LIST_EX);
    MXF_OFF(LOOKASIDE_LIST_EX, L);

    MXF_SIZE(RTL_QUERY_REGISTRY_TABLE);
    MXF_OFF(RTL_QUERY_REGISTRY_TABLE, QueryRoutine); MXF_OFF(RTL_QUERY_REGISTRY_TABLE, Flags);
    MXF_OFF(RTL_QUERY_REGISTRY_TABLE, Name); MXF_OFF(RTL_QUERY_REGISTRY_TABLE, EntryContext);
    MXF_OFF(RTL_QUERY_REGISTRY_TABLE, DefaultType);
    MXF_OFF(RTL_QUERY_REGISTRY_TABLE, DefaultData);
    MXF_OFF(RTL_QUERY_REGISTRY_TABLE, DefaultLength);

    MXF_SIZE(PROCESSOR_NUMBER);
    MXF_OFF(PROCESSOR_NUMBER, Group); MXF_OFF(PROCESSOR_NUMBER, Number);
    MXF_OFF(PROCESSOR_NUMBER, Reserved);

    /* Opaque storage in Rust: size and alignment are all that matter. */
    MXF_SIZE(KDPC); MXF_SIZE(KTIMER);

    /* Constants of mxf-kernel's sys module and irql module. */
    MXF_VALUE(NonPagedPoolNx);
    MXF_VALUE(DPFLTR_IHVAUDIO_ID); MXF_VALUE(DPFLTR_ERROR_LEVEL);
    MXF_VALUE(DPFLTR_WARNING_LEVEL); MXF_VALUE(DPFLTR_TRACE_LEVEL);
    MXF_VALUE(DPFLTR_INFO_LEVEL);
    MXF_VALUE(ALL_PROCESSOR_GROUPS);
    MXF_VALUE(RTL_REGISTRY_SERVICES); MXF_VALUE(RTL_REGISTRY_OPTIONAL);
    MXF_VALUE(RTL_QUERY_REGISTRY_DIRECT); MXF_VALUE(REG_DWORD);
    MXF_VALUE(RTL_QUERY_REGISTRY_NOEXPAND); MXF_VALUE(REG_NONE); MXF_VALUE(REG_SZ);
    MXF_VALUE(REG_MULTI_SZ); MXF_VALUE(KEY_WRITE); MXF_VALUE(STATUS_OBJECT_TYPE_MISMATCH);
    MXF_VALUE(HIGH_LEVEL);
    MXF_VALUE(IRQL_NOT_GREATER_OR_EQUAL); MXF_VALUE(IRQL_NOT_LESS_OR_EQUAL);

    /* mxf-core's platform seam: IRQLs, pool alignment, bug-check codes. */
    MXF_VALUE(PASSIVE_LEVEL); MXF_VALUE(APC_LEVEL); MXF_VALUE(DISPATCH_LEVEL);
    MXF_VALUE(MEMORY_ALLOCATION_ALIGNMENT);
#define MXF_BUGCHECK(c) MXF_EMIT("value.bugcheck." #c, (c))
    MXF_BUGCHECK(IRQL_NOT_LESS_OR_EQUAL); MXF_BUGCHECK(PAGE_FAULT_IN_NONPAGED_AREA);
    MXF_BUGCHECK(SPECIAL_POOL_DETECTED_MEMORY_CORRUPTION); MXF_BUGCHECK(BAD_POOL_CALLER);
    MXF_BUGCHECK(DRIVER_UNLOADED_WITHOUT_CANCELLING_PENDING_OPERATIONS);
    MXF_BUGCHECK(DRIVER_IRQL_NOT_LESS_OR_EQUAL);

    /* ntoskrnl.exe imports (sys/ntoskrnl.rs); ExAllocatePool2, KeQueryInterruptTimePrecise and
       KeQuerySystemTimePrecise are not in mingw-w64 10 (their prototypes follow Microsoft's
       reference pages, as sys/ntoskrnl.rs documents). */
    MXF_SIG(ExFreePoolWithTag, VOID, 2, PVOID, ULONG);
    MXF_SIG(ExInitializeLookasideListEx, NTSTATUS, 8, PLOOKASIDE_LIST_EX,
            PALLOCATE_FUNCTION_EX, PFREE_FUNCTION_EX, POOL_TYPE, ULONG, SIZE_T, ULONG, USHORT);
    MXF_SIG(ExDeleteLookasideListEx, VOID, 1, PLOOKASIDE_LIST_EX);
    MXF_SIG(ExpInterlockedPopEntrySList, PSLIST_ENTRY, 1, PSLIST_HEADER);
    MXF_SIG(ExpInterlockedPushEntrySList, PSLIST_ENTRY, 2, PSLIST_HEADER, PSLIST_ENTRY);
    MXF_SIG(KeAcquireSpinLockRaiseToDpc, KIRQL, 1, PKSPIN_LOCK);
    MXF_SIG(KeReleaseSpinLock, VOID, 2, PKSPIN_LOCK, KIRQL);
    MXF_SIG(KeAcquireSpinLockAtDpcLevel, VOID, 1, PKSPIN_LOCK);
    MXF_SIG(KeReleaseSpinLockFromDpcLevel, VOID, 1, PKSPIN_LOCK);
    MXF_SIG(KeInitializeTimer, VOID, 1, PKTIMER);
    MXF_SIG(KeInitializeDpc, VOID, 3, PRKDPC, PKDEFERRED_ROUTINE, PVOID);
    MXF_SIG(KeSetTimer, BOOLEAN, 3, PKTIMER, LARGE_INTEGER, PKDPC);
    MXF_SIG(KeInsertQueueDpc, BOOLEAN, 3, PRKDPC, PVOID, PVOID);
    MXF_SIG(KeCancelTimer, BOOLEAN, 1, PKTIMER);
    MXF_SIG0(KeFlushQueuedDpcs, VOID);
    MXF_SIG(KeGetCurrentProcessorNumberEx, ULONG, 1, PPROCESSOR_NUMBER);
    MXF_SIG(KeQueryActiveProcessorCountEx, ULONG, 1, USHORT);
    MXF_SIG(RtlQueryRegistryValues, NTSTATUS, 5, ULONG, PCWSTR, PRTL_QUERY_REGISTRY_TABLE, PVOID,
            PVOID);
    MXF_SIG(IoRegisterDeviceInterface, NTSTATUS, 4, PDEVICE_OBJECT, CONST GUID *,
            PUNICODE_STRING, PUNICODE_STRING);
    MXF_SIG(IoOpenDeviceInterfaceRegistryKey, NTSTATUS, 3, PUNICODE_STRING, ACCESS_MASK,
            PHANDLE);
    MXF_SIG(ZwSetValueKey, NTSTATUS, 6, HANDLE, PUNICODE_STRING, ULONG, ULONG, PVOID, ULONG);
    MXF_SIG(ZwClose, NTSTATUS, 1, HANDLE);
    MXF_SIG(RtlFreeUnicodeString, VOID, 1, PUNICODE_STRING);
    /* The query routine mxf-kernel hands RtlQueryRegistryValues: its typedef, written out. */
    _Static_assert(__builtin_types_compatible_p(
                       PRTL_QUERY_REGISTRY_ROUTINE,
                       NTSTATUS(NTAPI *)(PWSTR, ULONG, PVOID, ULONG, PVOID, PVOID)),
                   "PRTL_QUERY_REGISTRY_ROUTINE is not declared as written in kernel_layout.c");
    MXF_SIG_KEYS(RTL_QUERY_REGISTRY_ROUTINE, NTSTATUS, 6, 0, 0);
    MXF_ARGS_6(RTL_QUERY_REGISTRY_ROUTINE, PWSTR, ULONG, PVOID, ULONG, PVOID, PVOID);
    MXF_SIG_NORETURN(KeBugCheckEx, VOID, 5, ULONG, ULONG_PTR, ULONG_PTR, ULONG_PTR, ULONG_PTR);
    /* DbgPrintEx is __cdecl and variadic: the fixed part. */
    MXF_SIG_ASSERT(DbgPrintEx, ULONG(__cdecl *)(ULONG, ULONG, PCSTR, ...));
    MXF_SIG_KEYS(DbgPrintEx, ULONG, 3, 1, 0); MXF_ARGS_3(DbgPrintEx, ULONG, ULONG, PCSTR);

    /* portcls.sys imports (sys/portcls.rs). */
    MXF_SIG(PcInitializeAdapterDriver, NTSTATUS, 3, PDRIVER_OBJECT, PUNICODE_STRING,
            PDRIVER_ADD_DEVICE);
    MXF_SIG(PcAddAdapterDevice, NTSTATUS, 5, PDRIVER_OBJECT, PDEVICE_OBJECT, PCPFNSTARTDEVICE,
            ULONG, ULONG);
    MXF_SIG(PcNewPort, NTSTATUS, 2, PPORT *, REFCLSID);
    MXF_SIG(PcRegisterSubdevice, NTSTATUS, 3, PDEVICE_OBJECT, PWCHAR, PUNKNOWN);
}

/* The x64 SLIST_HEADER bit-field image mxf_kernel::sys::slist_depth decodes: Depth is the low
 * 16 bits of the first word, with every Sequence bit set around it. */
const SLIST_HEADER mxf_slist_depth_image = {
    .HeaderX64 = { .Depth = 0x1234, .Sequence = 0xFFFFFFFFFFFFull, .HeaderType = 1,
                   .Reserved = 0, .NextEntry = 0 } };
