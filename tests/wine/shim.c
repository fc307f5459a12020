/*
 * The kernel shim of the test PortCls (see README.md in this folder for what is replaced in
 * the loaded image and why). Everything here runs inside Wine's winedevice.exe.
 */
#include "shim.h"
#include <stdio.h>
#include <string.h>
#include <ntimage.h>

/* ntifs.h declarations (mingw's wdm.h/ntddk.h leave them out). */
NTSTATUS NTAPI ZwAllocateVirtualMemory(HANDLE process, PVOID *base, ULONG_PTR zero_bits, PSIZE_T size, ULONG type,
                                       ULONG prot);
NTSTATUS NTAPI ZwFreeVirtualMemory(HANDLE process, PVOID *base, PSIZE_T size, ULONG type);
NTSTATUS NTAPI ZwProtectVirtualMemory(HANDLE process, PVOID *base, PSIZE_T size, ULONG new_prot,
                                      PULONG old_prot);

/* ======================================================================================
 * A tiny spin lock (the shim must not depend on the primitives it replaces).
 */
typedef volatile LONG spin_t;
static void spin_lock(spin_t *l)
{
    while (InterlockedCompareExchange(l, 1, 0) != 0)
        YieldProcessor();
}
static void spin_unlock(spin_t *l) { InterlockedExchange(l, 0); }

/* ======================================================================================
 * Log file and verdicts: C:\mxfloop-wine.log, read by the console program.
 */
static HANDLE g_log;
static LONGLONG g_log_off;
static spin_t g_log_lock;
volatile LONG g_failures;

NTSTATUS log_open(void)
{
    UNICODE_STRING name;
    OBJECT_ATTRIBUTES oa;
    IO_STATUS_BLOCK iosb;
    RtlInitUnicodeString(&name, L"\\??\\C:\\mxfloop-wine.log");
    InitializeObjectAttributes(&oa, &name, OBJ_CASE_INSENSITIVE | OBJ_KERNEL_HANDLE, NULL, NULL);
    return ZwCreateFile(&g_log, FILE_APPEND_DATA | SYNCHRONIZE, &oa, &iosb, NULL,
                        FILE_ATTRIBUTE_NORMAL, FILE_SHARE_READ | FILE_SHARE_WRITE, FILE_OVERWRITE_IF,
                        FILE_SYNCHRONOUS_IO_NONALERT | FILE_NON_DIRECTORY_FILE, NULL, 0);
}

void log_close(void)
{
    if (g_log) {
        ZwClose(g_log);
        g_log = NULL;
    }
}

static void log_write(const char *buf, ULONG len)
{
    IO_STATUS_BLOCK iosb;
    LARGE_INTEGER off;
    if (!g_log)
        return;
    spin_lock(&g_log_lock);
    off.QuadPart = g_log_off;
    if (NT_SUCCESS(ZwWriteFile(g_log, NULL, NULL, NULL, &iosb, (PVOID)buf, len, &off, NULL)))
        g_log_off += len;
    spin_unlock(&g_log_lock);
}

static void vlogf(const char *prefix, const char *fmt, va_list ap)
{
    char buf[600];
    int n = _snprintf(buf, sizeof buf, "%s", prefix);
    int m = _vsnprintf(buf + n, sizeof buf - n - 2, fmt, ap);
    if (m < 0 || m > (int)(sizeof buf - n - 2))
        m = (int)strlen(buf + n);
    n += m;
    buf[n++] = '\n';
    log_write(buf, (ULONG)n);
}

void tlog(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vlogf("", fmt, ap);
    va_end(ap);
}

int check(int ok, const char *name, const char *why_fmt, ...)
{
    char why[400];
    va_list ap;
    va_start(ap, why_fmt);
    _vsnprintf(why, sizeof why - 1, why_fmt, ap);
    why[sizeof why - 1] = 0;
    va_end(ap);
    if (ok)
        tlog("ok   %s%s%s", name, why[0] ? ": " : "", why);
    else {
        InterlockedIncrement(&g_failures);
        tlog("FAIL %s: %s", name, why[0] ? why : "failed");
    }
    return ok;
}

/* ======================================================================================
 * The tracked pool. Every block: header (tag, size, list link) | data | 32-byte guard.
 * New blocks that the caller did not ask to be zeroed are filled with 0xA5 (so a driver that
 * relies on zeroed memory it did not ask for misbehaves here), freed blocks with 0xDD.
 */
#define POOL_MAGIC 0x6c6f6f705f667863ULL
#define GUARD_SIZE 32
#define GUARD_BYTE 0xFD
typedef struct pool_hdr {
    LIST_ENTRY link;
    ULONG64 magic;
    SIZE_T size;
    ULONG tag;
    ULONG seq;
    ULONG64 pad;
} pool_hdr;
static LIST_ENTRY g_pool = {&g_pool, &g_pool};
static spin_t g_pool_lock;
static ULONG g_pool_seq;

void *pool_alloc(SIZE_T size, ULONG tag, int zero)
{
    pool_hdr *h;
    if (size > ((SIZE_T)1 << 31))
        return NULL;
    h = ExAllocatePoolWithTag(NonPagedPool, sizeof(pool_hdr) + size + GUARD_SIZE, tag);
    if (!h)
        return NULL;
    h->magic = POOL_MAGIC;
    h->size = size;
    h->tag = tag;
    memset(h + 1, zero ? 0 : 0xA5, size);
    memset((UCHAR *)(h + 1) + size, GUARD_BYTE, GUARD_SIZE);
    spin_lock(&g_pool_lock);
    h->seq = ++g_pool_seq;
    InsertTailList(&g_pool, &h->link);
    spin_unlock(&g_pool_lock);
    return h + 1;
}

static int guard_ok(const pool_hdr *h)
{
    const UCHAR *g = (const UCHAR *)(h + 1) + h->size;
    for (int i = 0; i < GUARD_SIZE; i++)
        if (g[i] != GUARD_BYTE)
            return 0;
    return 1;
}

static char *tag_str(ULONG tag, char out[5])
{
    for (int i = 0; i < 4; i++) {
        char c = (char)(tag >> (8 * i));
        out[i] = (c >= 32 && c < 127) ? c : '?';
    }
    out[4] = 0;
    return out;
}

static void timers_forget(const UCHAR *lo, const UCHAR *hi);

void pool_free(void *p, ULONG tag, const char *who)
{
    pool_hdr *h;
    char t[5];
    if (!p) {
        check(0, "pool: free of NULL", "%s", who);
        return;
    }
    h = (pool_hdr *)p - 1;
    if (h->magic != POOL_MAGIC) {
        check(0, "pool: free of a block the pool never handed out (or a double free)", "%s %p", who, p);
        return;
    }
    if (tag != 0 && tag != h->tag)
        check(0, "pool: free with another tag", "%s: block tag %s, freed as %s", who,
              tag_str(h->tag, t), tag_str(tag, (char[5]){0}));
    if (!guard_ok(h))
        check(0, "pool: block overrun (guard bytes changed)", "%s: tag %s size %lu", who,
              tag_str(h->tag, t), (unsigned long)h->size);
    spin_lock(&g_pool_lock);
    RemoveEntryList(&h->link);
    spin_unlock(&g_pool_lock);
    timers_forget((const UCHAR *)p, (const UCHAR *)p + h->size);
    h->magic = 0;
    memset(h + 1, 0xDD, h->size);
    ExFreePoolWithTag(h, h->tag);
}

ULONG pool_live(int report)
{
    ULONG n = 0;
    char t[5];
    spin_lock(&g_pool_lock);
    for (LIST_ENTRY *e = g_pool.Flink; e != &g_pool; e = e->Flink) {
        pool_hdr *h = CONTAINING_RECORD(e, pool_hdr, link);
        if (report && n < 20)
            tlog("     leak: block #%lu tag '%s' size %lu at %p", (unsigned long)h->seq,
                 tag_str(h->tag, t), (unsigned long)h->size, (void *)(h + 1));
        n++;
    }
    spin_unlock(&g_pool_lock);
    return n;
}

/* ---- the pool imports of the image ---- */
#define POOL_FLAG_UNINITIALIZED_ 0x2ULL
static void *NTAPI shim_ExAllocatePool2(ULONG64 flags, SIZE_T size, ULONG tag)
{
    if (tag == 0) {
        check(0, "ExAllocatePool2 with tag 0", "Windows bug-checks");
        return NULL;
    }
    return pool_alloc(size, tag, !(flags & POOL_FLAG_UNINITIALIZED_));
}

static void NTAPI shim_ExFreePoolWithTag(void *p, ULONG tag) { pool_free(p, tag, "ExFreePoolWithTag"); }

volatile LONG g_lookasides;
static PVOID NTAPI la_default_alloc(POOL_TYPE type, SIZE_T size, ULONG tag, PLOOKASIDE_LIST_EX la)
{
    (void)type;
    (void)la;
    return pool_alloc(size, tag, 0);
}
static VOID NTAPI la_default_free(PVOID p, PLOOKASIDE_LIST_EX la) { pool_free(p, la->L.Tag, "lookaside FreeEx"); }

static NTSTATUS NTAPI shim_ExInitializeLookasideListEx(PLOOKASIDE_LIST_EX la, PALLOCATE_FUNCTION_EX a,
                                                       PFREE_FUNCTION_EX f, POOL_TYPE type, ULONG flags,
                                                       SIZE_T size, ULONG tag, USHORT depth)
{
    (void)flags;
    (void)depth;
    if (size < sizeof(SLIST_ENTRY) || size > 0xffffffffu || tag == 0)
        return STATUS_INVALID_PARAMETER;
    memset(la, 0, sizeof *la);
    InitializeSListHead(&la->L.ListHead);
    la->L.Depth = 4; /* Windows starts every list at depth 4 (its balancer adjusts it) */
    la->L.MaximumDepth = 256;
    la->L.Type = type;
    la->L.Tag = tag;
    la->L.Size = (ULONG)size;
    la->L.AllocateEx = a ? a : la_default_alloc;
    la->L.FreeEx = f ? f : la_default_free;
    InitializeListHead(&la->L.ListEntry);
    InterlockedIncrement(&g_lookasides);
    return STATUS_SUCCESS;
}

static VOID NTAPI shim_ExDeleteLookasideListEx(PLOOKASIDE_LIST_EX la)
{
    PSLIST_ENTRY e;
    while ((e = InterlockedPopEntrySList(&la->L.ListHead)) != NULL)
        la->L.FreeEx(e, la);
    InterlockedDecrement(&g_lookasides);
}

/* ======================================================================================
 * DPCs and timers: one emulated processor. Queued DPCs run in order on the DPC thread, on its
 * own painted 24 KiB stack; timers expire on that thread and queue their DPC. KeSetTimer and
 * KeCancelTimer never wait (Windows semantics: a DPC may re-arm its own timer).
 */
#define DPC_QUEUE 1024
#define TIMERS 64
static PKDPC g_dpcq[DPC_QUEUE];
static ULONG g_dpc_head, g_dpc_tail; /* under g_dpc_lock */
static spin_t g_dpc_lock;
static volatile LONG g_dpc_running;
static KEVENT g_dpc_wake;
static volatile LONG g_dpc_stop;
static PKTHREAD g_dpc_thread_obj;
static HANDLE g_dpc_tid;
static shim_stack g_dpc_stack;
static struct {
    PKTIMER t;
    LONGLONG due; /* interrupt time, 100 ns */
    PKDPC dpc;
    int armed;
} g_timers[TIMERS];

VOID NTAPI shim_KeInitializeDpc(PRKDPC dpc, PKDEFERRED_ROUTINE routine, PVOID ctx)
{
    memset(dpc, 0, sizeof *dpc);
    dpc->Type = 19; /* DpcObject */
    dpc->Importance = MediumImportance;
    dpc->DeferredRoutine = routine;
    dpc->DeferredContext = ctx;
}

BOOLEAN NTAPI shim_KeInsertQueueDpc(PRKDPC dpc, PVOID a1, PVOID a2)
{
    BOOLEAN queued = FALSE;
    spin_lock(&g_dpc_lock);
    if (dpc->DpcData == NULL && g_dpc_tail - g_dpc_head < DPC_QUEUE) {
        dpc->DpcData = (PVOID)&g_dpc_lock;
        dpc->SystemArgument1 = a1;
        dpc->SystemArgument2 = a2;
        g_dpcq[g_dpc_tail++ % DPC_QUEUE] = dpc;
        queued = TRUE;
    } else if (dpc->DpcData == NULL) {
        spin_unlock(&g_dpc_lock);
        check(0, "DPC queue overflow", "more than %d DPCs queued", DPC_QUEUE);
        return FALSE;
    }
    spin_unlock(&g_dpc_lock);
    if (queued)
        KeSetEvent(&g_dpc_wake, 0, FALSE);
    return queued;
}

int on_dpc_thread(void) { return PsGetCurrentThreadId() == g_dpc_tid; }

static VOID NTAPI shim_KeFlushQueuedDpcs(VOID)
{
    LARGE_INTEGER ms = {.QuadPart = -10000};
    if (on_dpc_thread()) {
        check(0, "KeFlushQueuedDpcs from a DPC", "must be called at PASSIVE_LEVEL");
        return;
    }
    for (int i = 0; i < 10000; i++) {
        if (dpc_busy() == 0)
            return;
        KeDelayExecutionThread(KernelMode, FALSE, &ms);
    }
    check(0, "KeFlushQueuedDpcs", "queued DPCs did not finish within 10 s");
}

static int timer_slot(PKTIMER t, int add)
{
    int free_slot = -1;
    for (int i = 0; i < TIMERS; i++) {
        if (g_timers[i].t == t)
            return i;
        if (!g_timers[i].t && free_slot < 0)
            free_slot = i;
    }
    if (add && free_slot >= 0) {
        g_timers[free_slot].t = t;
        g_timers[free_slot].armed = 0;
        return free_slot;
    }
    return -1;
}

static VOID NTAPI shim_KeInitializeTimer(PKTIMER t)
{
    int i;
    memset(t, 0, sizeof *t);
    spin_lock(&g_dpc_lock);
    i = timer_slot(t, 1);
    if (i >= 0)
        g_timers[i].armed = 0;
    spin_unlock(&g_dpc_lock);
    if (i < 0)
        check(0, "KeInitializeTimer", "more than %d timers", TIMERS);
}

static BOOLEAN NTAPI shim_KeSetTimer(PKTIMER t, LARGE_INTEGER due, PKDPC dpc)
{
    BOOLEAN was;
    LONGLONG now = (LONGLONG)KeQueryInterruptTime(), abs_due;
    int i;
    if (due.QuadPart < 0)
        abs_due = now - due.QuadPart;
    else {
        LARGE_INTEGER sys;
        KeQuerySystemTime(&sys);
        abs_due = now + (due.QuadPart - sys.QuadPart);
    }
    spin_lock(&g_dpc_lock);
    i = timer_slot(t, 1);
    if (i < 0) {
        spin_unlock(&g_dpc_lock);
        check(0, "KeSetTimer", "timer %p was never initialised", (void *)t);
        return FALSE;
    }
    was = (BOOLEAN)g_timers[i].armed;
    g_timers[i].due = abs_due;
    g_timers[i].dpc = dpc;
    g_timers[i].armed = 1;
    spin_unlock(&g_dpc_lock);
    KeSetEvent(&g_dpc_wake, 0, FALSE);
    return was;
}

static BOOLEAN NTAPI shim_KeCancelTimer(PKTIMER t)
{
    BOOLEAN was = FALSE;
    int i;
    spin_lock(&g_dpc_lock);
    i = timer_slot(t, 0);
    if (i >= 0) {
        was = (BOOLEAN)g_timers[i].armed;
        g_timers[i].armed = 0;
    }
    spin_unlock(&g_dpc_lock);
    return was;
}

/* Memory holding timers or DPCs is being freed: an armed timer or a queued DPC in it would be
 * a use after free on Windows (FAIL); the slots of the others are released. */
static void timers_forget(const UCHAR *lo, const UCHAR *hi)
{
    int armed = 0, queued = 0;
    spin_lock(&g_dpc_lock);
    for (int i = 0; i < TIMERS; i++) {
        const UCHAR *t = (const UCHAR *)g_timers[i].t;
        if (t >= lo && t < hi) {
            armed += g_timers[i].armed;
            g_timers[i].t = NULL;
            g_timers[i].armed = 0;
        }
    }
    for (ULONG i = g_dpc_head; i != g_dpc_tail; i++) {
        const UCHAR *d = (const UCHAR *)g_dpcq[i % DPC_QUEUE];
        queued += d >= lo && d < hi;
    }
    spin_unlock(&g_dpc_lock);
    if (armed || queued)
        check(0, "pool: freed memory holds an armed timer or a queued DPC", "%d timer(s), %d DPC(s)", armed, queued);
}

ULONG timers_armed(void)
{
    ULONG n = 0;
    spin_lock(&g_dpc_lock);
    for (int i = 0; i < TIMERS; i++)
        n += g_timers[i].t && g_timers[i].armed;
    spin_unlock(&g_dpc_lock);
    return n;
}

ULONG dpc_busy(void)
{
    ULONG n;
    spin_lock(&g_dpc_lock);
    n = g_dpc_tail - g_dpc_head;
    spin_unlock(&g_dpc_lock);
    return n + (ULONG)g_dpc_running;
}

ULONG64 shim_KeQueryInterruptTimePrecise(PULONG64 qpc)
{
    ULONG64 t = KeQueryInterruptTime();
    if (qpc)
        *qpc = t;
    return t;
}

static VOID NTAPI shim_KeQuerySystemTimePrecise(PLARGE_INTEGER t) { KeQuerySystemTime(t); }

static void dpc_expire_timers(LONGLONG *next)
{
    LONGLONG now = (LONGLONG)KeQueryInterruptTime();
    PKDPC due[TIMERS];
    int n = 0;
    *next = now + 100000; /* at most 10 ms between looks */
    spin_lock(&g_dpc_lock);
    for (int i = 0; i < TIMERS; i++) {
        if (!g_timers[i].t || !g_timers[i].armed)
            continue;
        if (g_timers[i].due <= now) {
            g_timers[i].armed = 0;
            if (g_timers[i].dpc)
                due[n++] = g_timers[i].dpc;
        } else if (g_timers[i].due < *next)
            *next = g_timers[i].due;
    }
    spin_unlock(&g_dpc_lock);
    for (int i = 0; i < n; i++)
        shim_KeInsertQueueDpc(due[i], NULL, NULL);
}

static void NTAPI dpc_thread(PVOID unused)
{
    (void)unused;
    g_dpc_tid = PsGetCurrentThreadId();
    while (!g_dpc_stop) {
        PKDPC dpc = NULL;
        LONGLONG next;
        spin_lock(&g_dpc_lock);
        if (g_dpc_head != g_dpc_tail) {
            dpc = g_dpcq[g_dpc_head++ % DPC_QUEUE];
            dpc->DpcData = NULL; /* dequeued: it may be queued again while it runs */
            g_dpc_running = 1;
        }
        spin_unlock(&g_dpc_lock);
        if (dpc) {
            ULONG64 args[4] = {(ULONG64)dpc, (ULONG64)dpc->DeferredContext,
                               (ULONG64)dpc->SystemArgument1, (ULONG64)dpc->SystemArgument2};
            stack_call(&g_dpc_stack, in_image(dpc->DeferredRoutine) ? "driver DPC" : "port DPC",
                       dpc->DeferredRoutine, 4, args);
            g_dpc_running = 0;
            continue;
        }
        dpc_expire_timers(&next);
        spin_lock(&g_dpc_lock);
        int empty = g_dpc_head == g_dpc_tail;
        spin_unlock(&g_dpc_lock);
        if (empty) {
            LONGLONG wait = next - (LONGLONG)KeQueryInterruptTime();
            LARGE_INTEGER to = {.QuadPart = -(wait > 0 ? wait : 1)};
            KeWaitForSingleObject(&g_dpc_wake, Executive, KernelMode, FALSE, &to);
        }
    }
    PsTerminateSystemThread(STATUS_SUCCESS);
}

NTSTATUS dpc_start(void)
{
    HANDLE h;
    NTSTATUS st = stack_new(&g_dpc_stack);
    if (!NT_SUCCESS(st))
        return st;
    KeInitializeEvent(&g_dpc_wake, SynchronizationEvent, FALSE);
    st = PsCreateSystemThread(&h, THREAD_ALL_ACCESS, NULL, NULL, NULL, dpc_thread, NULL);
    if (!NT_SUCCESS(st))
        return st;
    st = ObReferenceObjectByHandle(h, THREAD_ALL_ACCESS, NULL, KernelMode, (PVOID *)&g_dpc_thread_obj, NULL);
    ZwClose(h);
    return st;
}

void dpc_stop(void)
{
    LARGE_INTEGER to = {.QuadPart = -50000000LL};
    if (!g_dpc_thread_obj)
        return;
    g_dpc_stop = 1;
    KeSetEvent(&g_dpc_wake, 0, FALSE);
    check(KeWaitForSingleObject(g_dpc_thread_obj, Executive, KernelMode, FALSE, &to) == STATUS_SUCCESS,
          "DPC thread stops", "");
    ObDereferenceObject(g_dpc_thread_obj);
    g_dpc_thread_obj = NULL;
    stack_free(&g_dpc_stack);
}

/* ======================================================================================
 * Painted stacks: SHIM_STACK_SIZE bytes above one PAGE_NOACCESS guard page; every call paints
 * the stack with 0xCC first and measures afterwards how deep it was written.
 */
#define PAINT 0xCC
shim_stack g_driver_stack;
static struct {
    const char *label;
    ULONG depth;
    ULONG calls;
} g_depths[48];
static spin_t g_depth_lock;

NTSTATUS stack_new(shim_stack *s)
{
    PVOID base = NULL;
    SIZE_T size = SHIM_STACK_SIZE + PAGE_SIZE, gsize = PAGE_SIZE;
    ULONG old;
    NTSTATUS st = ZwAllocateVirtualMemory(NtCurrentProcess(), &base, 0, &size, MEM_RESERVE | MEM_COMMIT,
                                          PAGE_READWRITE);
    if (!NT_SUCCESS(st))
        return st;
    PVOID g = base;
    st = ZwProtectVirtualMemory(NtCurrentProcess(), &g, &gsize, PAGE_NOACCESS, &old);
    if (!NT_SUCCESS(st))
        return st;
    s->base = base;
    s->low = (UCHAR *)base + PAGE_SIZE;
    s->top = s->low + SHIM_STACK_SIZE;
    return STATUS_SUCCESS;
}

void stack_free(shim_stack *s)
{
    SIZE_T size = 0;
    PVOID base = s->base;
    if (base)
        ZwFreeVirtualMemory(NtCurrentProcess(), &base, &size, MEM_RELEASE);
    s->base = s->low = s->top = NULL;
}

typedef struct gcall {
    void *fn;
    ULONG64 a[11];
    ULONG64 ret;
} gcall;

typedef ULONG64 (*fn11)(ULONG64, ULONG64, ULONG64, ULONG64, ULONG64, ULONG64, ULONG64, ULONG64, ULONG64,
                        ULONG64, ULONG64);
static void gcall_run(gcall *c)
{
    /* The x64 convention lets a caller pass more arguments than the callee takes. */
    c->ret = ((fn11)c->fn)(c->a[0], c->a[1], c->a[2], c->a[3], c->a[4], c->a[5], c->a[6], c->a[7],
                           c->a[8], c->a[9], c->a[10]);
}

/* switch_stack(top, fn, arg): calls fn(arg) with rsp = top (16-byte aligned), then returns. */
void switch_stack(void *top, void (*fn)(gcall *), gcall *arg);
__asm__(".globl switch_stack\n"
        "switch_stack:\n"
        "  pushq %rbp\n"
        "  movq %rsp, %rbp\n"
        "  movq %rcx, %rsp\n"
        "  subq $32, %rsp\n"
        "  movq %r8, %rcx\n"
        "  callq *%rdx\n"
        "  movq %rbp, %rsp\n"
        "  popq %rbp\n"
        "  retq\n");

static void depth_record(const char *label, ULONG depth)
{
    int i;
    spin_lock(&g_depth_lock);
    for (i = 0; i < 48 && g_depths[i].label; i++)
        if (strcmp(g_depths[i].label, label) == 0)
            break;
    if (i < 48) {
        g_depths[i].label = label;
        g_depths[i].calls++;
        if (depth > g_depths[i].depth)
            g_depths[i].depth = depth;
    }
    spin_unlock(&g_depth_lock);
}

ULONG64 stack_call(shim_stack *s, const char *label, void *fn, int n, ULONG64 *args)
{
    gcall c;
    UCHAR *p;
    memset(&c, 0, sizeof c);
    c.fn = fn;
    for (int i = 0; i < n && i < 11; i++)
        c.a[i] = args[i];
    memset(s->low, PAINT, SHIM_STACK_SIZE);
    switch_stack(s->top, gcall_run, &c);
    for (p = s->low; p < s->top && *p == PAINT; p++)
        ;
    depth_record(label, (ULONG)(s->top - p));
    return c.ret;
}

ULONG64 dcall(const char *label, void *fn, int n, ...)
{
    ULONG64 a[11] = {0};
    va_list ap;
    va_start(ap, n);
    for (int i = 0; i < n && i < 11; i++)
        a[i] = va_arg(ap, ULONG64);
    va_end(ap);
    return stack_call(&g_driver_stack, label, fn, n, a);
}

void stack_report(void)
{
    for (int i = 0; i < 48 && g_depths[i].label; i++)
        check(g_depths[i].depth <= SHIM_STACK_BUDGET, "stack depth within budget",
              "%-34s deepest %5lu of %u bytes (budget %u), %lu calls", g_depths[i].label,
              (unsigned long)g_depths[i].depth, SHIM_STACK_SIZE, SHIM_STACK_BUDGET,
              (unsigned long)g_depths[i].calls);
}

/* ======================================================================================
 * The loaded image and its import slots.
 */
UCHAR *g_image_base;
SIZE_T g_image_size;

int in_image(const void *p)
{
    return g_image_base && (const UCHAR *)p >= g_image_base && (const UCHAR *)p < g_image_base + g_image_size;
}

static const struct {
    const char *name;
    void *fn;
} g_replace[] = {
    {"ExAllocatePool2", (void *)shim_ExAllocatePool2},
    {"ExFreePoolWithTag", (void *)shim_ExFreePoolWithTag},
    {"ExInitializeLookasideListEx", (void *)shim_ExInitializeLookasideListEx},
    {"ExDeleteLookasideListEx", (void *)shim_ExDeleteLookasideListEx},
    {"KeInitializeDpc", (void *)shim_KeInitializeDpc},
    {"KeInsertQueueDpc", (void *)shim_KeInsertQueueDpc},
    {"KeFlushQueuedDpcs", (void *)shim_KeFlushQueuedDpcs},
    {"KeInitializeTimer", (void *)shim_KeInitializeTimer},
    {"KeSetTimer", (void *)shim_KeSetTimer},
    {"KeCancelTimer", (void *)shim_KeCancelTimer},
    {"KeQueryInterruptTimePrecise", (void *)shim_KeQueryInterruptTimePrecise},
    {"KeQuerySystemTimePrecise", (void *)shim_KeQuerySystemTimePrecise},
};
#define N_REPLACE (sizeof g_replace / sizeof g_replace[0])

NTSTATUS image_patch(void *pc)
{
    UCHAR *p = (UCHAR *)((ULONG_PTR)pc & ~(ULONG_PTR)0xffff); /* images are 64 KiB aligned */
    IMAGE_NT_HEADERS64 *nt = NULL;
    int replaced = 0;
    for (int i = 0; i < 1024; i++, p -= 0x10000) {
        IMAGE_DOS_HEADER *dos = (IMAGE_DOS_HEADER *)p;
        if (dos->e_magic == IMAGE_DOS_SIGNATURE && dos->e_lfanew > 0 && dos->e_lfanew < 0x1000) {
            nt = (IMAGE_NT_HEADERS64 *)(p + dos->e_lfanew);
            if (nt->Signature == IMAGE_NT_SIGNATURE && (UCHAR *)pc < p + nt->OptionalHeader.SizeOfImage)
                break;
        }
        nt = NULL;
    }
    if (!nt)
        return STATUS_INVALID_IMAGE_FORMAT;
    g_image_base = p;
    g_image_size = nt->OptionalHeader.SizeOfImage;
    IMAGE_DATA_DIRECTORY *dir = &nt->OptionalHeader.DataDirectory[IMAGE_DIRECTORY_ENTRY_IMPORT];
    int seen[N_REPLACE] = {0};
    for (IMAGE_IMPORT_DESCRIPTOR *d = (IMAGE_IMPORT_DESCRIPTOR *)(p + dir->VirtualAddress); d->Name; d++) {
        if (_stricmp((char *)p + d->Name, "ntoskrnl.exe") != 0)
            continue;
        ULONG64 *names = (ULONG64 *)(p + (d->OriginalFirstThunk ? d->OriginalFirstThunk : d->FirstThunk));
        ULONG64 *slots = (ULONG64 *)(p + d->FirstThunk);
        for (int k = 0; names[k]; k++) {
            if (names[k] & IMAGE_ORDINAL_FLAG64)
                continue;
            const char *name = (const char *)((IMAGE_IMPORT_BY_NAME *)(p + (ULONG)names[k]))->Name;
            for (unsigned r = 0; r < N_REPLACE; r++) {
                if (strcmp(name, g_replace[r].name) != 0)
                    continue;
                PVOID page = &slots[k];
                SIZE_T len = sizeof(ULONG64);
                ULONG old;
                NTSTATUS st = ZwProtectVirtualMemory(NtCurrentProcess(), &page, &len, PAGE_READWRITE, &old);
                if (!NT_SUCCESS(st))
                    return st;
                slots[k] = (ULONG64)g_replace[r].fn;
                page = &slots[k];
                len = sizeof(ULONG64);
                ZwProtectVirtualMemory(NtCurrentProcess(), &page, &len, old, &old);
                seen[r] = 1;
                replaced++;
            }
        }
    }
    for (unsigned r = 0; r < N_REPLACE; r++)
        if (!seen[r])
            tlog("     note: the image does not import %s (nothing to replace)", g_replace[r].name);
    tlog("     image at %p, %lu bytes; %d import slots rewritten", (void *)p, (unsigned long)g_image_size,
         replaced);
    return STATUS_SUCCESS;
}
