/*
 * The test PortCls's kernel shim: logging and verdicts, the tracked pool, DPCs/timers with
 * Windows semantics, painted 24 KiB stacks, and the import-slot rewrite of the loaded image.
 * Written against mingw-w64's DDK headers only.
 */
#pragma once
#include <ntddk.h>
#include <stdarg.h>

/* A tiny spin lock (the shim must not depend on the kernel primitives it replaces). */
typedef volatile LONG spin_t;
static inline void spin_lock(spin_t *l)
{
    while (InterlockedCompareExchange(l, 1, 0) != 0)
        YieldProcessor();
}
static inline void spin_unlock(spin_t *l) { InterlockedExchange(l, 0); }

/* ntifs.h declarations (mingw-w64's wdm.h/ntddk.h leave them out). */
NTSTATUS NTAPI ZwAllocateVirtualMemory(HANDLE process, PVOID *base, ULONG_PTR zero_bits, PSIZE_T size, ULONG type,
                                       ULONG prot);
NTSTATUS NTAPI ZwFreeVirtualMemory(HANDLE process, PVOID *base, PSIZE_T size, ULONG type);
NTSTATUS NTAPI ZwProtectVirtualMemory(HANDLE process, PVOID *base, PSIZE_T size, ULONG new_prot, PULONG old_prot);

/* ---- log and verdicts (log.c) ---- */
NTSTATUS log_open(void);
void log_close(void);
void tlog(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* One verdict line: "ok   <name>" or "FAIL <name>: <why>". Returns ok. */
int check(int ok, const char *name, const char *why_fmt, ...) __attribute__((format(printf, 3, 4)));
extern volatile LONG g_failures;

/* ---- tracked pool (pool.c) ---- */
#define SHIM_TAG(a, b, c, d) ((ULONG)(a) | ((ULONG)(b) << 8) | ((ULONG)(c) << 16) | ((ULONG)(d) << 24))
void *pool_alloc(SIZE_T size, ULONG tag, int zero);
void pool_free(void *p, ULONG tag, const char *who);
/* Blocks still allocated (and their report lines when `report`). */
ULONG pool_live(int report);

/* ---- DPCs and timers (dpc.c; one emulated processor: a DPC thread) ---- */
NTSTATUS dpc_start(void);
void dpc_stop(void);
int on_dpc_thread(void);
/* Queued or running DPCs plus armed timers. */
ULONG dpc_busy(void);
ULONG timers_armed(void);

/* ---- painted stacks (stack.c) ---- */
#define SHIM_STACK_SIZE (24 * 1024)
#define SHIM_STACK_BUDGET (16 * 1024)
typedef struct shim_stack { UCHAR *base; UCHAR *low; UCHAR *top; } shim_stack;
NTSTATUS stack_new(shim_stack *s);
void stack_free(shim_stack *s);
/* Calls fn(a0..a10) on stack `s` (painted first); records the depth under `label`. */
ULONG64 stack_call(shim_stack *s, const char *label, void *fn, int n, ULONG64 *args);
void stack_report(void);
/* A call into the driver from the test thread, on the driver stack. */
ULONG64 dcall(const char *label, void *fn, int n, ...);
extern shim_stack g_driver_stack;

/* ---- the image (image.c) ---- */
extern UCHAR *g_image_base;
extern SIZE_T g_image_size;
/* Finds the image containing `pc` and rewrites its ntoskrnl import slots. */
NTSTATUS image_patch(void *pc);
int in_image(const void *p);

/* Windows-semantics replacements (the rewritten slots point here). */
ULONG64 shim_KeQueryInterruptTimePrecise(PULONG64 qpc);
VOID NTAPI shim_KeInitializeDpc(PRKDPC dpc, PKDEFERRED_ROUTINE routine, PVOID ctx);
BOOLEAN NTAPI shim_KeInsertQueueDpc(PRKDPC dpc, PVOID a1, PVOID a2);
extern volatile LONG g_lookasides;

/* The other replacements of the image's imports (image.c lists them with the reasons in
 * README.md). */
void *NTAPI shim_ExAllocatePool2(ULONG64 flags, SIZE_T size, ULONG tag);
void NTAPI shim_ExFreePoolWithTag(void *p, ULONG tag);
NTSTATUS NTAPI shim_ExInitializeLookasideListEx(PLOOKASIDE_LIST_EX la, PALLOCATE_FUNCTION_EX a, PFREE_FUNCTION_EX f,
                                                POOL_TYPE type, ULONG flags, SIZE_T size, ULONG tag, USHORT depth);
VOID NTAPI shim_ExDeleteLookasideListEx(PLOOKASIDE_LIST_EX la);
VOID NTAPI shim_KeFlushQueuedDpcs(VOID);
VOID NTAPI shim_KeInitializeTimer(PKTIMER t);
BOOLEAN NTAPI shim_KeSetTimer(PKTIMER t, LARGE_INTEGER due, PKDPC dpc);
BOOLEAN NTAPI shim_KeCancelTimer(PKTIMER t);
VOID NTAPI shim_KeQuerySystemTimePrecise(PLARGE_INTEGER t);
/* The device-interface shim (devif.c): the PDO IoRegisterDeviceInterface accepts, calls it
 * refused, symbolic links not yet freed and interface keys not yet closed, and how many
 * interface keys were opened for a reference string. Error paths: a nonzero
 * g_devif_open_fail is what IoOpenDeviceInterfaceRegistryKey answers; a nonzero
 * g_devif_read_only opens the keys without write access (ZwSetValueKey then fails). */
extern PDEVICE_OBJECT g_devif_pdo;
extern volatile LONG g_devif_bad_calls, g_links_live, g_keys_live;
extern volatile NTSTATUS g_devif_open_fail;
extern volatile LONG g_devif_read_only;
LONG devif_opens_for(PCWSTR ref);
NTSTATUS NTAPI shim_IoRegisterDeviceInterface(PDEVICE_OBJECT pdo, CONST GUID *g, PUNICODE_STRING ref,
                                              PUNICODE_STRING link);
NTSTATUS NTAPI shim_IoOpenDeviceInterfaceRegistryKey(PUNICODE_STRING link, ACCESS_MASK access, PHANDLE out);
VOID NTAPI shim_RtlFreeUnicodeString(PUNICODE_STRING s);
NTSTATUS NTAPI shim_ZwClose(HANDLE h);
/* The driver's DbgPrintEx (dbgprint.c): every line is kept in a ring of the newest 64 and then
 * printed by Wine's vDbgPrintEx. dbg_lines() counts the lines printed so far; dbg_find counts
 * the lines from number `since` on (those still in the ring) that contain `needle`, and copies
 * the newest of them into `out`. */
ULONG __cdecl shim_DbgPrintEx(ULONG id, ULONG level, PCSTR fmt, ...);
ULONG dbg_lines(void);
ULONG dbg_find(ULONG since, const char *needle, char *out, SIZE_T cap);
/* Lines of the whole run in which the driver's COM objects reported a Release on a zero count
 * (a reference released once too often: by the driver or by the test PortCls). */
extern volatile LONG g_dbg_zero_releases;
/* Memory [lo, hi) is freed: forgets the timers in it; an armed one or a queued DPC fails. */
void timers_forget(const UCHAR *lo, const UCHAR *hi);
