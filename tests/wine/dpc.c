/* DPCs and timers with Windows semantics: one emulated processor (shim.h). */
#include "shim.h"
#include <stdio.h>
#include <string.h>

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

VOID NTAPI shim_KeFlushQueuedDpcs(VOID)
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

VOID NTAPI shim_KeInitializeTimer(PKTIMER t)
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

BOOLEAN NTAPI shim_KeSetTimer(PKTIMER t, LARGE_INTEGER due, PKDPC dpc)
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

BOOLEAN NTAPI shim_KeCancelTimer(PKTIMER t)
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
void timers_forget(const UCHAR *lo, const UCHAR *hi)
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

VOID NTAPI shim_KeQuerySystemTimePrecise(PLARGE_INTEGER t) { KeQuerySystemTime(t); }

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
