/*
 * A test PortCls for Wine: exports the four PortCls functions mxfloop.sys imports and drives
 * the miniport the way PortCls's DMus port does (README.md of the repository, "The DMus
 * contract the miniport keeps"; crates/mxf-portemu is the Rust model of the same port).
 * Written against mingw-w64's DDK headers (portcls.h, dmusicks.h), not the driver's Rust
 * declarations, so that it is an independent consumer of the image's ABI.
 */
#define PC_NO_IMPORTS
#include "shim.h"
#include <portcls.h>
#include <dmusicks.h>
#include <stdio.h>
#include <string.h>

extern const GUID IID_IMXF_; /* guids.c */

#ifndef DMUS_KEF_EVENT_INCOMPLETE
#define DMUS_KEF_EVENT_COMPLETE 0x0000
#define DMUS_KEF_EVENT_INCOMPLETE 0x0001
#define DMUS_KEF_PACKAGE_EVENT 0x0002
#endif
#define A(x) ((ULONG64)(ULONG_PTR)(x))
#define EVENT_MARK 0xA7
#define ALLOC_BUFFER_SIZE 4096

static PDRIVER_OBJECT g_driver;
static PDRIVER_ADD_DEVICE g_add_device;
static PCPFNSTARTDEVICE g_start_device;
static PKTHREAD g_test_thread;
static volatile LONG g_test_done;
static NTSTATUS g_newport_fail;   /* PcNewPort fails with this when set */
static NTSTATUS g_register_fail;  /* PcRegisterSubdevice fails with this when set */
static volatile LONG g_ports_live;
static PUNKNOWN g_subdevice_port; /* the reference the registered subdevice holds */
static WCHAR g_subdevice_name[32];

static void sleep_ms(LONG ms)
{
    LARGE_INTEGER t = {.QuadPart = -10000LL * ms};
    KeDelayExecutionThread(KernelMode, FALSE, &t);
}

/* ======================================================================================
 * MIDI normaliser: turns a byte stream into whole messages (running status expanded,
 * a SysEx emitted whole at its F7, realtime bytes at once), appended to `out`.
 */
typedef struct norm {
    UCHAR status, need, have, msg[3];
    int in_sysex;
    UCHAR *sx;
    SIZE_T sx_len, sx_cap;
    UCHAR *out;
    SIZE_T len, cap;
    ULONG msgs, stray;
} norm;

static int norm_new(norm *n, SIZE_T cap)
{
    memset(n, 0, sizeof *n);
    n->out = pool_alloc(cap, SHIM_TAG('T', 'n', 'o', 'r'), 0);
    n->sx = pool_alloc(cap, SHIM_TAG('T', 'n', 's', 'x'), 0);
    n->cap = n->sx_cap = cap;
    return n->out && n->sx;
}
static void norm_free(norm *n)
{
    if (n->out)
        pool_free(n->out, SHIM_TAG('T', 'n', 'o', 'r'), "norm");
    if (n->sx)
        pool_free(n->sx, SHIM_TAG('T', 'n', 's', 'x'), "norm");
    n->out = n->sx = NULL;
}
static void norm_emit(norm *n, const UCHAR *b, SIZE_T len)
{
    if (n->len + len <= n->cap) {
        memcpy(n->out + n->len, b, len);
        n->len += len;
    } else
        n->stray += (ULONG)len;
    n->msgs++;
}
static int data_len(UCHAR s)
{
    switch (s & 0xF0) {
    case 0xC0: case 0xD0: return 1;
    case 0xF0:
        return s == 0xF1 || s == 0xF3 ? 1 : s == 0xF2 ? 2 : 0;
    default: return 2;
    }
}
static void norm_byte(norm *n, UCHAR b)
{
    if (b >= 0xF8) {
        norm_emit(n, &b, 1);
        return;
    }
    if (n->in_sysex) {
        if (b < 0x80) {
            if (n->sx_len < n->sx_cap)
                n->sx[n->sx_len++] = b;
            return;
        }
        n->in_sysex = 0;
        if (b == 0xF7) {
            if (n->sx_len < n->sx_cap)
                n->sx[n->sx_len++] = b;
            norm_emit(n, n->sx, n->sx_len);
            return;
        }
        n->stray += (ULONG)n->sx_len; /* a SysEx cut short by a status byte */
    }
    if (b == 0xF0) {
        n->in_sysex = 1;
        n->sx_len = 0;
        n->sx[n->sx_len++] = b;
        n->status = 0;
        n->have = 0;
        return;
    }
    if (b >= 0x80) {
        n->status = b < 0xF0 ? b : 0;
        n->need = (UCHAR)data_len(b);
        n->msg[0] = b;
        n->have = 1;
        if (n->need == 0) {
            norm_emit(n, n->msg, 1);
            n->have = 0;
        }
        return;
    }
    if (n->have == 0) {
        if (!n->status) {
            n->stray++;
            return;
        }
        n->msg[0] = n->status;
        n->need = (UCHAR)data_len(n->status);
        n->have = 1;
    }
    n->msg[n->have++] = b;
    if (n->have == n->need + 1) {
        norm_emit(n, n->msg, n->have);
        n->have = 0;
    }
}
static int norm_idle(const norm *n) { return !n->in_sysex && n->have == 0; }

/* ======================================================================================
 * The port's IAllocatorMXF: events and buffers from the tracked pool; bReserved and
 * cbStruct are the allocator's (the miniport must not touch them); PutBuffer is not for
 * miniports; packages must come back detached.
 */
typedef struct c_alloc {
    IAllocatorMXF iface;
    volatile LONG refs;
    volatile LONG ev_out, ev_in, buf_out, buf_in;
    volatile LONG marks_changed, attached_pkgs, put_buffer_calls;
} c_alloc;
static c_alloc g_alloc;

static HRESULT STDMETHODCALLTYPE al_qi(IAllocatorMXF *t, REFIID iid, PVOID *out)
{
    if (IsEqualGUID(iid, &IID_IUnknown) || IsEqualGUID(iid, &IID_IAllocatorMXF) ||
        IsEqualGUID(iid, &IID_IMXF_)) {
        InterlockedIncrement(&((c_alloc *)t)->refs);
        *out = t;
        return STATUS_SUCCESS;
    }
    *out = NULL;
    return STATUS_INVALID_PARAMETER;
}
static ULONG STDMETHODCALLTYPE al_addref(IAllocatorMXF *t) { return InterlockedIncrement(&((c_alloc *)t)->refs); }
static ULONG STDMETHODCALLTYPE al_release(IAllocatorMXF *t)
{
    LONG r = InterlockedDecrement(&((c_alloc *)t)->refs);
    if (r <= 0)
        check(0, "allocator reference count", "released to %ld (the port holds one)", (long)r);
    return (ULONG)r;
}
static NTSTATUS STDMETHODCALLTYPE al_setstate(IAllocatorMXF *t, KSSTATE s)
{
    (void)t; (void)s;
    return STATUS_SUCCESS;
}
static void alloc_put_chain(c_alloc *a, PDMUS_KERNEL_EVENT e)
{
    while (e) {
        PDMUS_KERNEL_EVENT next = e->pNextEvt;
        if (e->bReserved != EVENT_MARK || e->cbStruct != sizeof(DMUS_KERNEL_EVENT))
            InterlockedIncrement(&a->marks_changed);
        if (e->usFlags & DMUS_KEF_PACKAGE_EVENT) {
            if (e->uData.pPackageEvt) {
                InterlockedIncrement(&a->attached_pkgs);
                alloc_put_chain(a, e->uData.pPackageEvt);
            }
        } else if (e->cbEvent > sizeof(PBYTE) && e->uData.pbData) {
            pool_free(e->uData.pbData, SHIM_TAG('P', 'c', 'B', 'u'), "allocator buffer");
            InterlockedIncrement(&a->buf_in);
        }
        pool_free(e, SHIM_TAG('P', 'c', 'E', 'v'), "allocator event");
        InterlockedIncrement(&a->ev_in);
        e = next;
    }
}
static NTSTATUS STDMETHODCALLTYPE al_put(IAllocatorMXF *t, PDMUS_KERNEL_EVENT e)
{
    alloc_put_chain((c_alloc *)t, e);
    return STATUS_SUCCESS;
}
static NTSTATUS STDMETHODCALLTYPE al_connect(IAllocatorMXF *t, PMXF s)
{
    (void)t; (void)s;
    return STATUS_NOT_IMPLEMENTED;
}
static NTSTATUS STDMETHODCALLTYPE al_get(IAllocatorMXF *t, PDMUS_KERNEL_EVENT *out)
{
    PDMUS_KERNEL_EVENT e = pool_alloc(sizeof *e, SHIM_TAG('P', 'c', 'E', 'v'), 1);
    *out = e;
    if (!e)
        return STATUS_INSUFFICIENT_RESOURCES;
    e->bReserved = EVENT_MARK;
    e->cbStruct = sizeof *e;
    InterlockedIncrement(&((c_alloc *)t)->ev_out);
    return STATUS_SUCCESS;
}
static USHORT STDMETHODCALLTYPE al_bufsize(IAllocatorMXF *t)
{
    (void)t;
    return ALLOC_BUFFER_SIZE;
}
static NTSTATUS STDMETHODCALLTYPE al_getbuf(IAllocatorMXF *t, PBYTE *out)
{
    *out = pool_alloc(ALLOC_BUFFER_SIZE, SHIM_TAG('P', 'c', 'B', 'u'), 0);
    if (!*out)
        return STATUS_INSUFFICIENT_RESOURCES;
    InterlockedIncrement(&((c_alloc *)t)->buf_out);
    return STATUS_SUCCESS;
}
static NTSTATUS STDMETHODCALLTYPE al_putbuf(IAllocatorMXF *t, PBYTE b)
{
    InterlockedIncrement(&((c_alloc *)t)->put_buffer_calls);
    pool_free(b, SHIM_TAG('P', 'c', 'B', 'u'), "PutBuffer");
    InterlockedIncrement(&((c_alloc *)t)->buf_in);
    return STATUS_SUCCESS;
}
static IAllocatorMXFVtbl g_alloc_vtbl = {al_qi, al_addref, al_release, al_setstate, al_put, al_connect,
                                         al_connect, al_get, al_bufsize, al_getbuf, al_putbuf};

/* ======================================================================================
 * The master clock: interrupt time, 100 ns.
 */
typedef struct c_clock {
    IMasterClock iface;
    volatile LONG refs;
} c_clock;
static c_clock g_clock;
static HRESULT STDMETHODCALLTYPE ck_qi(IMasterClock *t, REFIID iid, PVOID *out)
{
    if (IsEqualGUID(iid, &IID_IUnknown)) {
        InterlockedIncrement(&((c_clock *)t)->refs);
        *out = t;
        return STATUS_SUCCESS;
    }
    *out = NULL;
    return STATUS_INVALID_PARAMETER;
}
static ULONG STDMETHODCALLTYPE ck_addref(IMasterClock *t) { return InterlockedIncrement(&((c_clock *)t)->refs); }
static ULONG STDMETHODCALLTYPE ck_release(IMasterClock *t)
{
    LONG r = InterlockedDecrement(&((c_clock *)t)->refs);
    if (r <= 0)
        check(0, "master clock reference count", "released to %ld (the port holds one)", (long)r);
    return (ULONG)r;
}
static NTSTATUS STDMETHODCALLTYPE ck_time(IMasterClock *t, REFERENCE_TIME *out)
{
    (void)t;
    *out = (REFERENCE_TIME)KeQueryInterruptTime();
    return STATUS_SUCCESS;
}
static IMasterClockVtbl g_clock_vtbl = {ck_qi, ck_addref, ck_release, ck_time};

/* ======================================================================================
 * The capture sink (the port's IMXF the capture stream delivers to): INCOMPLETE events are
 * raw bytes, a COMPLETE event must be exactly one whole message.
 */
typedef struct c_sink {
    IMXF iface;
    volatile LONG refs;
    norm cap;
    volatile LONG events, incomplete, not_whole, off_dpc, packages;
} c_sink;
static c_sink g_sink;
static HRESULT STDMETHODCALLTYPE sk_qi(IMXF *t, REFIID iid, PVOID *out)
{
    if (IsEqualGUID(iid, &IID_IUnknown) || IsEqualGUID(iid, &IID_IMXF_)) {
        InterlockedIncrement(&((c_sink *)t)->refs);
        *out = t;
        return STATUS_SUCCESS;
    }
    *out = NULL;
    return STATUS_INVALID_PARAMETER;
}
static ULONG STDMETHODCALLTYPE sk_addref(IMXF *t) { return InterlockedIncrement(&((c_sink *)t)->refs); }
static ULONG STDMETHODCALLTYPE sk_release(IMXF *t)
{
    LONG r = InterlockedDecrement(&((c_sink *)t)->refs);
    if (r <= 0)
        check(0, "capture sink reference count", "released to %ld (the port holds one)", (long)r);
    return (ULONG)r;
}
static NTSTATUS STDMETHODCALLTYPE sk_setstate(IMXF *t, KSSTATE s)
{
    (void)t; (void)s;
    return STATUS_SUCCESS;
}
static NTSTATUS STDMETHODCALLTYPE sk_put(IMXF *t, PDMUS_KERNEL_EVENT chain)
{
    c_sink *s = (c_sink *)t;
    if (!on_dpc_thread())
        InterlockedIncrement(&s->off_dpc);
    for (PDMUS_KERNEL_EVENT e = chain; e; e = e->pNextEvt) {
        const UCHAR *b = e->cbEvent > sizeof(PBYTE) ? e->uData.pbData : e->uData.abData;
        InterlockedIncrement(&s->events);
        if (e->usFlags & DMUS_KEF_PACKAGE_EVENT) {
            InterlockedIncrement(&s->packages);
            continue;
        }
        if (e->usFlags & DMUS_KEF_EVENT_INCOMPLETE) {
            InterlockedIncrement(&s->incomplete);
        } else {
            /* COMPLETE: exactly one whole message, starting with its status byte. */
            norm one;
            UCHAR small[8];
            memset(&one, 0, sizeof one);
            one.out = small;
            one.cap = sizeof small;
            one.sx = NULL;
            int ok = e->cbEvent > 0 && b && b[0] >= 0x80;
            if (ok && b[0] == 0xF0)
                ok = e->cbEvent >= 2 && b[e->cbEvent - 1] == 0xF7;
            else if (ok) {
                for (USHORT i = 0; i < e->cbEvent; i++)
                    norm_byte(&one, b[i]);
                ok = one.msgs == 1 && norm_idle(&one) && one.stray == 0;
            }
            if (ok && b[0] == 0xF0)
                for (USHORT i = 1; i + 1 < e->cbEvent; i++)
                    ok &= b[i] < 0x80;
            if (!ok)
                InterlockedIncrement(&s->not_whole);
        }
        for (USHORT i = 0; b && i < e->cbEvent; i++)
            norm_byte(&s->cap, b[i]);
    }
    alloc_put_chain(&g_alloc, chain);
    return STATUS_SUCCESS;
}
static NTSTATUS STDMETHODCALLTYPE sk_connect(IMXF *t, PMXF o)
{
    (void)t; (void)o;
    return STATUS_NOT_IMPLEMENTED;
}
static IMXFVtbl g_sink_vtbl = {sk_qi, sk_addref, sk_release, sk_setstate, sk_put, sk_connect, sk_connect};

/* ======================================================================================
 * The port (IPortDMus) and its IServiceSink.
 */
#define MAX_GROUPS 8
typedef struct c_port {
    IPortDMus iface;
    volatile LONG refs;
    PMINIPORTDMUS miniport;
    PSERVICEGROUP group; /* the miniport's, from Init */
    PPCFILTER_DESCRIPTOR desc;
} c_port;

typedef struct c_svc {
    IServiceSink iface;
    volatile LONG refs;
} c_svc;
static c_svc g_svc;
static c_port *g_port;        /* the port under test (one at a time) */
static PMXF g_capture_stream; /* serviced by the port's sink */
static PMXF g_render_stream;
static KDPC g_notify_dpc, g_render_dpc;
static volatile LONG g_pending_lock;
static PSERVICEGROUP g_pending[MAX_GROUPS];
static ULONG g_npending;
static volatile LONG g_notifies, g_services;
#define MAX_JOBS 64
static PDMUS_KERNEL_EVENT g_jobs[MAX_JOBS];
static ULONG g_job_head, g_job_tail;
static volatile LONG g_render_put_errors;

static void lk(volatile LONG *l)
{
    while (InterlockedCompareExchange(l, 1, 0))
        YieldProcessor();
}
static void ulk(volatile LONG *l) { InterlockedExchange(l, 0); }

static HRESULT STDMETHODCALLTYPE sv_qi(IServiceSink *t, REFIID iid, PVOID *out)
{
    if (IsEqualGUID(iid, &IID_IUnknown) || IsEqualGUID(iid, &IID_IServiceSink)) {
        InterlockedIncrement(&((c_svc *)t)->refs);
        *out = t;
        return STATUS_SUCCESS;
    }
    *out = NULL;
    return STATUS_INVALID_PARAMETER;
}
static ULONG STDMETHODCALLTYPE sv_addref(IServiceSink *t) { return InterlockedIncrement(&((c_svc *)t)->refs); }
static ULONG STDMETHODCALLTYPE sv_release(IServiceSink *t)
{
    LONG r = InterlockedDecrement(&((c_svc *)t)->refs);
    if (r <= 0)
        check(0, "port service sink reference count", "released to %ld", (long)r);
    return (ULONG)r;
}
/* The miniport's group services its members in its DPC: the port's sink then pulls the
 * capture stream (PutMessage(NULL)), at DISPATCH_LEVEL. */
static VOID STDMETHODCALLTYPE sv_request(IServiceSink *t)
{
    (void)t;
    InterlockedIncrement(&g_services);
    PMXF cap = g_capture_stream;
    if (cap)
        cap->lpVtbl->PutMessage(cap, NULL);
}
static IServiceSinkVtbl g_svc_vtbl = {sv_qi, sv_addref, sv_release, sv_request};

static VOID NTAPI port_notify_dpc(PKDPC d, PVOID c, PVOID a1, PVOID a2)
{
    PSERVICEGROUP groups[MAX_GROUPS];
    ULONG n;
    (void)d; (void)c; (void)a1; (void)a2;
    lk(&g_pending_lock);
    n = g_npending;
    memcpy(groups, g_pending, n * sizeof groups[0]);
    g_npending = 0;
    ulk(&g_pending_lock);
    for (ULONG i = 0; i < n; i++) {
        groups[i]->lpVtbl->RequestService(groups[i]);
        groups[i]->lpVtbl->Release(groups[i]);
    }
}

/* The port's sequencer: SchedulePreFetch is 0, so every chain is handed over when due. */
static VOID NTAPI port_render_dpc(PKDPC d, PVOID c, PVOID a1, PVOID a2)
{
    (void)d; (void)c; (void)a1; (void)a2;
    for (;;) {
        PDMUS_KERNEL_EVENT chain = NULL;
        lk(&g_pending_lock);
        if (g_job_head != g_job_tail)
            chain = g_jobs[g_job_head++ % MAX_JOBS];
        ulk(&g_pending_lock);
        if (!chain)
            break;
        PMXF r = g_render_stream;
        NTSTATUS st = r ? r->lpVtbl->PutMessage(r, chain) : STATUS_INVALID_DEVICE_STATE;
        if (!NT_SUCCESS(st))
            InterlockedIncrement(&g_render_put_errors);
    }
}

static HRESULT STDMETHODCALLTYPE pt_qi(IPortDMus *t, REFIID iid, PVOID *out)
{
    if (IsEqualGUID(iid, &IID_IUnknown) || IsEqualGUID(iid, &IID_IPort) || IsEqualGUID(iid, &IID_IPortDMus)) {
        InterlockedIncrement(&((c_port *)t)->refs);
        *out = t;
        return STATUS_SUCCESS;
    }
    *out = NULL;
    return STATUS_INVALID_PARAMETER;
}
static ULONG STDMETHODCALLTYPE pt_addref(IPortDMus *t) { return InterlockedIncrement(&((c_port *)t)->refs); }
static void port_teardown(c_port *p)
{
    if (p->group) {
        p->group->lpVtbl->RemoveMember(p->group, (PSERVICESINK)&g_svc);
        p->group->lpVtbl->Release(p->group);
        p->group = NULL;
    }
    if (p->miniport) {
        p->miniport->lpVtbl->Release(p->miniport);
        p->miniport = NULL;
    }
}
static ULONG STDMETHODCALLTYPE pt_release(IPortDMus *t)
{
    c_port *p = (c_port *)t;
    LONG r = InterlockedDecrement(&p->refs);
    if (r == 0) {
        port_teardown(p);
        if (g_port == p)
            g_port = NULL;
        pool_free(p, SHIM_TAG('P', 'c', 'P', 't'), "port");
        InterlockedDecrement(&g_ports_live);
    } else if (r < 0)
        check(0, "port reference count", "released below zero");
    return (ULONG)r;
}
static NTSTATUS STDMETHODCALLTYPE pt_init(IPortDMus *t, PDEVICE_OBJECT dev, PIRP irp, PUNKNOWN mp_unk,
                                          PUNKNOWN adapter, PRESOURCELIST res)
{
    c_port *p = (c_port *)t;
    PVOID mp = NULL;
    NTSTATUS st;
    (void)dev; (void)irp; (void)adapter;
    st = mp_unk->lpVtbl->QueryInterface(mp_unk, &IID_IMiniportDMus, &mp);
    if (!NT_SUCCESS(st) || !mp)
        return NT_SUCCESS(st) ? STATUS_INVALID_PARAMETER : st;
    p->miniport = mp;
    PSERVICEGROUP group = NULL;
    st = p->miniport->lpVtbl->Init(p->miniport, NULL, res, (PPORTDMUS)p, &group);
    p->group = group;
    if (NT_SUCCESS(st) && group)
        st = group->lpVtbl->AddMember(group, (PSERVICESINK)&g_svc);
    if (NT_SUCCESS(st))
        st = p->miniport->lpVtbl->GetDescription(p->miniport, &p->desc);
    if (!NT_SUCCESS(st))
        port_teardown(p);
    return st;
}
static NTSTATUS STDMETHODCALLTYPE pt_devprop(IPortDMus *t, DEVICE_REGISTRY_PROPERTY prop, ULONG len, PVOID buf,
                                             PULONG ret)
{
    (void)t; (void)prop; (void)len; (void)buf;
    if (ret)
        *ret = 0;
    return STATUS_NOT_IMPLEMENTED;
}
static NTSTATUS STDMETHODCALLTYPE pt_regkey(IPortDMus *t, PREGISTRYKEY *out, PUNKNOWN outer, ULONG type,
                                            ACCESS_MASK acc, POBJECT_ATTRIBUTES oa, ULONG opts, PULONG disp)
{
    (void)t; (void)outer; (void)type; (void)acc; (void)oa; (void)opts; (void)disp;
    if (out)
        *out = NULL;
    return STATUS_NOT_IMPLEMENTED;
}
static VOID STDMETHODCALLTYPE pt_notify(IPortDMus *t, PSERVICEGROUP g)
{
    (void)t;
    InterlockedIncrement(&g_notifies);
    if (!g)
        return;
    lk(&g_pending_lock);
    ULONG i;
    for (i = 0; i < g_npending && g_pending[i] != g; i++)
        ;
    if (i == g_npending && g_npending < MAX_GROUPS) {
        g->lpVtbl->AddRef(g);
        g_pending[g_npending++] = g;
    }
    ulk(&g_pending_lock);
    shim_KeInsertQueueDpc(&g_notify_dpc, NULL, NULL);
}
static VOID STDMETHODCALLTYPE pt_register(IPortDMus *t, PSERVICEGROUP g)
{
    (void)t; (void)g;
    check(0, "IPortDMus::RegisterServiceGroup", "the miniport's contract does not use it");
}
static IPortDMusVtbl g_port_vtbl = {pt_qi,      pt_addref, pt_release, pt_init,
                                    pt_devprop, pt_regkey, pt_notify,  (void *)pt_register};

/* ======================================================================================
 * The PortCls exports.
 */
static VOID NTAPI pc_unload(PDRIVER_OBJECT drv);
static VOID NTAPI test_thread(PVOID ctx);

NTSTATUS NTAPI PcInitializeAdapterDriver(PDRIVER_OBJECT drv, PUNICODE_STRING path, PDRIVER_ADD_DEVICE add)
{
    HANDLE h;
    NTSTATUS st;
    (void)path;
    log_open();
    tlog("mxfloop under Wine: test PortCls (C, mingw-w64 DDK headers)");
    st = image_patch(__builtin_return_address(0));
    check(NT_SUCCESS(st), "PcInitializeAdapterDriver: found the calling image, import slots rewritten",
          "%#lx", (unsigned long)st);
    check(add != NULL, "PcInitializeAdapterDriver: AddDevice given", "");
    g_driver = drv;
    g_add_device = add;
    drv->DriverUnload = pc_unload;
    g_alloc.iface.lpVtbl = &g_alloc_vtbl;
    g_alloc.refs = 1;
    g_clock.iface.lpVtbl = &g_clock_vtbl;
    g_clock.refs = 1;
    g_sink.iface.lpVtbl = &g_sink_vtbl;
    g_sink.refs = 1;
    g_svc.iface.lpVtbl = &g_svc_vtbl;
    g_svc.refs = 1;
    shim_KeInitializeDpc(&g_notify_dpc, port_notify_dpc, NULL);
    shim_KeInitializeDpc(&g_render_dpc, port_render_dpc, NULL);
    if (!NT_SUCCESS(st = dpc_start()) || !NT_SUCCESS(st = stack_new(&g_driver_stack))) {
        check(0, "shim start (DPC thread, stacks)", "%#lx", (unsigned long)st);
        return st;
    }
    st = PsCreateSystemThread(&h, THREAD_ALL_ACCESS, NULL, NULL, NULL, test_thread, NULL);
    if (NT_SUCCESS(st)) {
        ObReferenceObjectByHandle(h, THREAD_ALL_ACCESS, NULL, KernelMode, (PVOID *)&g_test_thread, NULL);
        ZwClose(h);
    }
    return st;
}

NTSTATUS NTAPI PcAddAdapterDevice(PDRIVER_OBJECT drv, PDEVICE_OBJECT pdo, PCPFNSTARTDEVICE start, ULONG max_objects,
                                  ULONG ext_size)
{
    PDEVICE_OBJECT fdo;
    NTSTATUS st;
    (void)pdo;
    check(start != NULL && max_objects >= 1, "PcAddAdapterDevice arguments", "StartDevice %p, MaxObjects %lu",
          (void *)start, (unsigned long)max_objects);
    g_start_device = start;
    /* PortCls's own extension comes first; the adapter's follows (64 bytes here). */
    st = IoCreateDevice(drv, 64 + ext_size, NULL, FILE_DEVICE_KS, FILE_DEVICE_SECURE_OPEN, FALSE, &fdo);
    if (NT_SUCCESS(st))
        fdo->Flags &= ~DO_DEVICE_INITIALIZING;
    return st;
}

NTSTATUS NTAPI PcNewPort(PPORT *out, REFCLSID cls)
{
    c_port *p;
    *out = NULL;
    if (g_newport_fail)
        return g_newport_fail;
    if (!IsEqualGUID(cls, &CLSID_PortDMus)) {
        check(0, "PcNewPort class", "not CLSID_PortDMus");
        return STATUS_INVALID_PARAMETER;
    }
    p = pool_alloc(sizeof *p, SHIM_TAG('P', 'c', 'P', 't'), 1);
    if (!p)
        return STATUS_INSUFFICIENT_RESOURCES;
    p->iface.lpVtbl = &g_port_vtbl;
    p->refs = 1;
    InterlockedIncrement(&g_ports_live);
    g_port = p;
    *out = (PPORT)p;
    return STATUS_SUCCESS;
}

NTSTATUS NTAPI PcRegisterSubdevice(PDEVICE_OBJECT dev, PWCHAR name, PUNKNOWN unk)
{
    (void)dev;
    if (g_register_fail)
        return g_register_fail;
    wcsncpy(g_subdevice_name, name, 31);
    unk->lpVtbl->AddRef(unk);
    g_subdevice_port = unk;
    return STATUS_SUCCESS;
}

/* ======================================================================================
 * The test.
 */
static norm g_exp;
static ULONG g_capture_mode; /* Services\mxfloop\Parameters\CaptureMode, read as the driver does */

static void read_capture_mode(void)
{
    RTL_QUERY_REGISTRY_TABLE q[2];
    ULONG def = 0;
    memset(q, 0, sizeof q);
    q[0].Flags = RTL_QUERY_REGISTRY_DIRECT;
    q[0].Name = L"CaptureMode";
    q[0].EntryContext = &g_capture_mode;
    q[0].DefaultType = REG_DWORD;
    q[0].DefaultData = &def;
    q[0].DefaultLength = sizeof def;
    if (!NT_SUCCESS(RtlQueryRegistryValues(RTL_REGISTRY_SERVICES, L"mxfloop\\Parameters", q, NULL, NULL)))
        g_capture_mode = 0;
}

static const PCPIN_DESCRIPTOR *pin_of(const PCFILTER_DESCRIPTOR *d, ULONG i)
{
    return (const PCPIN_DESCRIPTOR *)((const UCHAR *)d->Pins + (SIZE_T)i * d->PinSize);
}

/* Builds the events of one unit (bytes) in the render form: short data inline, longer runs in
 * allocator buffers of GetBufferSize bytes; every fragment but the last INCOMPLETE. */
static PDMUS_KERNEL_EVENT build_unit(const UCHAR *bytes, SIZE_T len, int packaged, PDMUS_KERNEL_EVENT **tailp)
{
    PDMUS_KERNEL_EVENT head = NULL, *tail = &head, e;
    REFERENCE_TIME now = (REFERENCE_TIME)KeQueryInterruptTime();
    SIZE_T frag = len <= sizeof(PBYTE) ? sizeof(PBYTE) : ALLOC_BUFFER_SIZE;
    SIZE_T off = 0;
    do {
        SIZE_T n = len - off < frag ? len - off : frag;
        al_get(&g_alloc.iface, &e);
        if (!e)
            return head;
        e->cbEvent = (USHORT)n;
        e->usChannelGroup = 1;
        e->usFlags = off + n < len ? DMUS_KEF_EVENT_INCOMPLETE : DMUS_KEF_EVENT_COMPLETE;
        e->ullPresTime100ns = now;
        if (n <= sizeof(PBYTE))
            memcpy(e->uData.abData, bytes + off, n);
        else {
            al_getbuf(&g_alloc.iface, &e->uData.pbData);
            if (e->uData.pbData)
                memcpy(e->uData.pbData, bytes + off, n);
        }
        *tail = e;
        tail = &e->pNextEvt;
        off += n;
    } while (off < len);
    if (packaged) {
        al_get(&g_alloc.iface, &e);
        if (e) {
            e->usFlags = DMUS_KEF_PACKAGE_EVENT;
            e->usChannelGroup = 1;
            e->ullPresTime100ns = now;
            e->uData.pPackageEvt = head;
            head = e;
            tail = &e->pNextEvt;
        }
    }
    if (tailp)
        *tailp = tail;
    return head;
}

static void submit(PDMUS_KERNEL_EVENT chain)
{
    lk(&g_pending_lock);
    g_jobs[g_job_tail++ % MAX_JOBS] = chain;
    ulk(&g_pending_lock);
    shim_KeInsertQueueDpc(&g_render_dpc, NULL, NULL);
}

/* Waits until the capture sink has as many normalised bytes as expected (bounded), then
 * compares them byte for byte. */
static int wait_compare(const char *name)
{
    for (int i = 0; i < 5000 && g_sink.cap.len < g_exp.len; i++)
        sleep_ms(1);
    sleep_ms(5);
    SIZE_T n = g_sink.cap.len < g_exp.len ? g_sink.cap.len : g_exp.len, first = n;
    for (SIZE_T i = 0; i < n; i++)
        if (g_sink.cap.out[i] != g_exp.out[i]) {
            first = i;
            break;
        }
    int ok = check(g_sink.cap.len == g_exp.len && first == n && g_exp.stray == 0 && g_sink.cap.stray == 0, name,
                   "%lu bytes expected, %lu captured, first difference at %ld, stray bytes %lu/%lu",
                   (unsigned long)g_exp.len, (unsigned long)g_sink.cap.len, first == n ? -1L : (long)first,
                   (unsigned long)g_exp.stray, (unsigned long)g_sink.cap.stray);
    /* Compared: start the next unit from empty buffers. */
    g_exp.len = g_sink.cap.len = 0;
    return ok;
}

/* Sends `bytes` as one unit (flat chain or a package), waits for it at the capture end. */
static int roundtrip(const char *name, const UCHAR *bytes, SIZE_T len, int packaged)
{
    for (SIZE_T i = 0; i < len; i++)
        norm_byte(&g_exp, bytes[i]);
    submit(build_unit(bytes, len, packaged, NULL));
    return wait_compare(name);
}

static UCHAR *sysex(SIZE_T payload, UCHAR seed)
{
    UCHAR *b = pool_alloc(payload + 2, SHIM_TAG('T', 's', 'y', 'x'), 0);
    if (!b)
        return NULL;
    b[0] = 0xF0;
    for (SIZE_T i = 0; i < payload; i++)
        b[1 + i] = (UCHAR)((i * 7 + seed + (i >> 7)) & 0x7F);
    b[payload + 1] = 0xF7;
    return b;
}

static NTSTATUS set_states(PMXF s, const KSSTATE *st, int n, const char *what)
{
    NTSTATUS r = STATUS_SUCCESS;
    for (int i = 0; i < n && NT_SUCCESS(r); i++)
        r = (NTSTATUS)dcall(what, s->lpVtbl->SetState, 2, A(s), (ULONG64)st[i]);
    return r;
}

/* KSPROPERTY_PIN_DATAINTERSECTION as PortCls runs it: size query, a buffer one byte short,
 * then the real call. */
static int intersect(PMINIPORTDMUS mp, ULONG pin, const PCPIN_DESCRIPTOR *pd, UCHAR *fmt, ULONG cap)
{
    for (ULONG r = 0; r < pd->KsPinDescriptor.DataRangesCount; r++) {
        PKSDATARANGE range = pd->KsPinDescriptor.DataRanges[r];
        KSDATARANGE client = *range;
        ULONG len = 0, got = 0;
        NTSTATUS st = (NTSTATUS)dcall("IMiniport::DataRangeIntersection", mp->lpVtbl->DataRangeIntersection, 7, A(mp),
                                      (ULONG64)pin, A(&client), A(range), 0, 0, A(&len));
        if (st != STATUS_BUFFER_OVERFLOW)
            continue;
        if (!check(len >= sizeof(KSDATAFORMAT) && len <= cap, "intersection size query", "pin %lu: %lu bytes",
                   (unsigned long)pin, (unsigned long)len))
            return 0;
        st = (NTSTATUS)dcall("IMiniport::DataRangeIntersection", mp->lpVtbl->DataRangeIntersection, 7, A(mp),
                             (ULONG64)pin, A(&client), A(range), (ULONG64)(len - 1), A(fmt), A(&got));
        check(st == STATUS_BUFFER_TOO_SMALL, "intersection with a short buffer: STATUS_BUFFER_TOO_SMALL",
              "pin %lu: %#lx", (unsigned long)pin, (unsigned long)st);
        st = (NTSTATUS)dcall("IMiniport::DataRangeIntersection", mp->lpVtbl->DataRangeIntersection, 7, A(mp),
                             (ULONG64)pin, A(&client), A(range), (ULONG64)len, A(fmt), A(&got));
        return check(st == STATUS_SUCCESS && got >= sizeof(KSDATAFORMAT) && got <= len, "intersection",
                     "pin %lu: %#lx, %lu bytes", (unsigned long)pin, (unsigned long)st, (unsigned long)got);
    }
    return check(0, "intersection", "pin %lu: no range answered the size query", (unsigned long)pin);
}

static PMXF new_stream(PMINIPORTDMUS mp, ULONG pin, DMUS_STREAM_TYPE type, UCHAR *fmt, PSERVICEGROUP *group,
                       ULONGLONG *prefetch, NTSTATUS *status)
{
    PMXF s = NULL;
    *group = NULL;
    *prefetch = ~0ULL;
    *status = (NTSTATUS)dcall("IMiniportDMus::NewStream", mp->lpVtbl->NewStream, 11, A(mp), A(&s), 0,
                              (ULONG64)NonPagedPoolNx, (ULONG64)pin, (ULONG64)type, A(fmt), A(group),
                              A(&g_alloc.iface), A(&g_clock.iface), A(prefetch));
    return s;
}

static void release_group(PSERVICEGROUP g, PSERVICEGROUP mine)
{
    if (!g)
        return;
    if (g != mine)
        dcall("IServiceGroup::RemoveMember", g->lpVtbl->RemoveMember, 2, A(g), A(&g_svc));
    dcall("IServiceGroup::Release", g->lpVtbl->Release, 1, A(g));
}

static void run_streams(PMINIPORTDMUS mp, const PCFILTER_DESCRIPTOR *d)
{
    static const KSSTATE up[] = {KSSTATE_ACQUIRE, KSSTATE_PAUSE, KSSTATE_RUN};
    static const KSSTATE down[] = {KSSTATE_PAUSE, KSSTATE_ACQUIRE, KSSTATE_STOP};
    UCHAR rfmt[256], cfmt[256];
    ULONG rpin = ~0u, rpin2 = ~0u, cpin = ~0u;
    for (ULONG i = 0; i < d->PinCount; i++) {
        const PCPIN_DESCRIPTOR *p = pin_of(d, i);
        if (p->KsPinDescriptor.Communication != KSPIN_COMMUNICATION_SINK)
            continue;
        if (p->KsPinDescriptor.DataFlow == KSPIN_DATAFLOW_IN && rpin != ~0u && rpin2 == ~0u)
            rpin2 = i;
        if (p->KsPinDescriptor.DataFlow == KSPIN_DATAFLOW_IN && rpin == ~0u)
            rpin = i;
        if (p->KsPinDescriptor.DataFlow == KSPIN_DATAFLOW_OUT && cpin == ~0u)
            cpin = i;
    }
    if (!check(rpin != ~0u && cpin != ~0u, "filter has streaming render and capture pins", "render %ld, capture %ld",
               (long)rpin, (long)cpin))
        return;
    if (!intersect(mp, rpin, pin_of(d, rpin), rfmt, sizeof rfmt) ||
        !intersect(mp, cpin, pin_of(d, cpin), cfmt, sizeof cfmt))
        return;
    {
        ULONG len = 0;
        KSDATARANGE client = *pin_of(d, rpin)->KsPinDescriptor.DataRanges[0];
        NTSTATUS st = (NTSTATUS)dcall("IMiniport::DataRangeIntersection", mp->lpVtbl->DataRangeIntersection, 7, A(mp),
                                      99, A(&client), A(&client), 0, 0, A(&len));
        check(!NT_SUCCESS(st) && st != STATUS_BUFFER_OVERFLOW, "error path: intersection on a bad pin fails", "%#lx",
              (unsigned long)st);
    }

    PSERVICEGROUP rg, cg, xg;
    ULONGLONG rpf, cpf, xpf;
    NTSTATUS st;
    PMXF bad = new_stream(mp, 99, DMUS_STREAM_MIDI_RENDER, rfmt, &xg, &xpf, &st);
    check(!NT_SUCCESS(st) && !bad, "error path: NewStream on a bad pin fails", "%#lx", (unsigned long)st);
    PMXF render = new_stream(mp, rpin, DMUS_STREAM_MIDI_RENDER, rfmt, &rg, &rpf, &st);
    if (!check(NT_SUCCESS(st) && render, "NewStream render", "%#lx", (unsigned long)st))
        return;
    check(rpf == 0, "render SchedulePreFetch is 0 (the port sequences)", "%llu", (unsigned long long)rpf);
    PMXF second = new_stream(mp, rpin, DMUS_STREAM_MIDI_RENDER, rfmt, &xg, &xpf, &st);
    check(!NT_SUCCESS(st) && !second, "error path: a second instance of the render pin is refused", "%#lx",
          (unsigned long)st);
    if (second) {
        dcall("IMXF::Release (stream)", second->lpVtbl->Release, 1, A(second));
        release_group(xg, g_port ? g_port->group : NULL);
    }
    if (rpin2 != ~0u) {
        /* The second render pin (the other client's) opens beside the first. */
        UCHAR fmt2[256];
        if (intersect(mp, rpin2, pin_of(d, rpin2), fmt2, sizeof fmt2)) {
            PMXF other = new_stream(mp, rpin2, DMUS_STREAM_MIDI_RENDER, fmt2, &xg, &xpf, &st);
            check(NT_SUCCESS(st) && other, "NewStream on the second render pin while the first is open", "pin %lu: %#lx",
                  (unsigned long)rpin2, (unsigned long)st);
            if (other) {
                dcall("IMXF::Release (stream)", other->lpVtbl->Release, 1, A(other));
                release_group(xg, g_port ? g_port->group : NULL);
            }
        }
    }
    PMXF capture = new_stream(mp, cpin, DMUS_STREAM_MIDI_CAPTURE, cfmt, &cg, &cpf, &st);
    if (check(NT_SUCCESS(st) && capture, "NewStream capture", "%#lx", (unsigned long)st)) {
        PMXF cap2 = new_stream(mp, cpin, DMUS_STREAM_MIDI_CAPTURE, cfmt, &xg, &xpf, &st);
        check(!NT_SUCCESS(st) && !cap2, "error path: a second instance of the capture pin is refused", "%#lx",
              (unsigned long)st);
        if (cap2) {
            dcall("IMXF::Release (stream)", cap2->lpVtbl->Release, 1, A(cap2));
            release_group(xg, g_port ? g_port->group : NULL);
        }
        PSERVICEGROUP mine = g_port ? g_port->group : NULL;
        if (rg && rg != mine)
            dcall("IServiceGroup::AddMember", rg->lpVtbl->AddMember, 2, A(rg), A(&g_svc));
        if (cg && cg != mine)
            dcall("IServiceGroup::AddMember", cg->lpVtbl->AddMember, 2, A(cg), A(&g_svc));
        st = (NTSTATUS)dcall("IMXF::ConnectOutput", capture->lpVtbl->ConnectOutput, 2, A(capture), A(&g_sink.iface));
        check(NT_SUCCESS(st), "capture ConnectOutput(sink)", "%#lx", (unsigned long)st);
        g_capture_stream = capture;
        g_render_stream = render;
        check(NT_SUCCESS(set_states(capture, up, 3, "IMXF::SetState")), "capture ACQUIRE/PAUSE/RUN", "");
        check(NT_SUCCESS(set_states(render, up, 3, "IMXF::SetState")), "render ACQUIRE/PAUSE/RUN", "");

        /* ---- the data path ---- */
        static const UCHAR shorts[] = {0x90, 0x3C, 0x40, 0x80, 0x3C, 0x00, 0xB0, 0x07, 0x64, 0xC0, 0x05,
                                       0xE0, 0x00, 0x40, 0xD0, 0x30, 0xA0, 0x3C, 0x10, 0xF2, 0x10, 0x20};
        static const UCHAR running[] = {0x90, 0x3C, 0x40, 0x3E, 0x40, 0x40, 0x40};
        static const UCHAR realtime[] = {0xF8, 0xFA, 0xFB, 0xFC, 0xFE};
        static const UCHAR rt_in_sx[] = {0xF0, 0x7D, 0x01, 0xF8, 0x02, 0x03, 0xF7};
        for (SIZE_T i = 0; i < sizeof shorts;) {
            SIZE_T n = data_len(shorts[i]) + 1;
            roundtrip("render→capture: short message (flat)", shorts + i, n, 0);
            i += n;
        }
        roundtrip("render→capture: short messages in a package", shorts, 9, 1);
        roundtrip("render→capture: running status", running, sizeof running, 0);
        for (SIZE_T i = 0; i < sizeof realtime; i++)
            roundtrip("render→capture: realtime byte", realtime + i, 1, i & 1);
        roundtrip("render→capture: realtime inside a SysEx", rt_in_sx, sizeof rt_in_sx, 0);
        static const SIZE_T sizes[] = {0, 1, 4096, 65537, 1048576};
        for (int i = 0; i < 5; i++) {
            for (int pk = 0; pk < 2; pk++) {
                char name[96];
                UCHAR *b = sysex(sizes[i], (UCHAR)(i * 2 + pk));
                _snprintf(name, sizeof name, "render→capture: SysEx of %lu bytes (%s)", (unsigned long)sizes[i],
                          pk ? "package" : "flat chain");
                if (b) {
                    roundtrip(name, b, sizes[i] + 2, pk);
                    pool_free(b, SHIM_TAG('T', 's', 'y', 'x'), "test sysex");
                }
            }
        }
        {
            /* One chain: flat events, then a package, then a flat SysEx. */
            UCHAR *b = sysex(5000, 9);
            PDMUS_KERNEL_EVENT *t1, *t2, *t3;
            PDMUS_KERNEL_EVENT c1 = build_unit(shorts, 3, 0, &t1);
            PDMUS_KERNEL_EVENT c2 = build_unit(running, sizeof running, 1, &t2);
            PDMUS_KERNEL_EVENT c3 = b ? build_unit(b, 5002, 0, &t3) : NULL;
            *t1 = c2;
            *t2 = c3;
            for (SIZE_T i = 0; i < 3; i++)
                norm_byte(&g_exp, shorts[i]);
            for (SIZE_T i = 0; i < sizeof running; i++)
                norm_byte(&g_exp, running[i]);
            for (SIZE_T i = 0; b && i < 5002; i++)
                norm_byte(&g_exp, b[i]);
            submit(c1);
            wait_compare("render→capture: one chain of flat events, a package and a SysEx");
            if (b)
                pool_free(b, SHIM_TAG('T', 's', 'y', 'x'), "test sysex");
        }
        check(g_render_put_errors == 0, "render PutMessage succeeded every time", "%ld failed",
              (long)g_render_put_errors);
        check(g_sink.not_whole == 0, "every COMPLETE capture event is exactly one message", "%ld were not",
              (long)g_sink.not_whole);
        check(g_sink.off_dpc == 0, "capture sink called only from a DPC (where Windows is at DISPATCH_LEVEL)",
              "%ld calls elsewhere", (long)g_sink.off_dpc);
        check(g_sink.packages == 0, "no package events on capture", "%ld", (long)g_sink.packages);
        check(g_exp.stray == 0 && g_sink.cap.stray == 0, "no stray bytes", "expected side %lu, captured side %lu",
              (unsigned long)g_exp.stray, (unsigned long)g_sink.cap.stray);
        if (g_capture_mode == 1)
            check(g_sink.incomplete == g_sink.events, "CaptureMode 1: every capture event INCOMPLETE (DMusUART's way)",
                  "%ld of %ld", (long)g_sink.incomplete, (long)g_sink.events);
        else
            check(g_sink.incomplete < g_sink.events, "CaptureMode 0: whole messages arrive COMPLETE",
                  "%ld of %ld events INCOMPLETE", (long)g_sink.incomplete, (long)g_sink.events);
        tlog("     capture: %ld events (%ld INCOMPLETE), %ld notifies, %ld services", (long)g_sink.events,
             (long)g_sink.incomplete, (long)g_notifies, (long)g_services);

        /* ---- STOP and release ---- */
        check(NT_SUCCESS(set_states(render, down, 3, "IMXF::SetState")), "render PAUSE/ACQUIRE/STOP", "");
        check(NT_SUCCESS(set_states(capture, down, 3, "IMXF::SetState")), "capture PAUSE/ACQUIRE/STOP", "");
        st = (NTSTATUS)dcall("IMXF::DisconnectOutput", capture->lpVtbl->DisconnectOutput, 2, A(capture),
                             A(&g_sink.iface));
        check(NT_SUCCESS(st), "capture DisconnectOutput(sink)", "%#lx", (unsigned long)st);
        for (int i = 0; i < 2000 && dpc_busy(); i++)
            sleep_ms(1);
        g_capture_stream = NULL;
        g_render_stream = NULL;
        dcall("IMXF::Release (stream)", capture->lpVtbl->Release, 1, A(capture));
        release_group(cg, mine);
    }
    dcall("IMXF::Release (stream)", render->lpVtbl->Release, 1, A(render));
    release_group(rg, g_port ? g_port->group : NULL);
}

static NTSTATUS start_device(PDEVICE_OBJECT fdo)
{
    PIRP irp = IoAllocateIrp(4, FALSE);
    NTSTATUS st = (NTSTATUS)dcall("StartDevice", g_start_device, 3, A(fdo), A(irp), 0);
    if (irp)
        IoFreeIrp(irp);
    return st;
}

/* What PortCls does when a subdevice goes away: the port releases its children (the miniport
 * and its service group), which breaks the port <-> miniport cycle (the miniport holds the
 * port from Init until its final Release). */
static ULONG64 release_children(c_port *p)
{
    port_teardown(p);
    return 0;
}

static void remove_device(void)
{
    PUNKNOWN p = g_subdevice_port;
    g_subdevice_port = NULL;
    if (g_port)
        dcall("device removal: miniport Release", release_children, 1, A(g_port));
    if (p)
        dcall("device removal: port Release", p->lpVtbl->Release, 1, A(p));
}

static VOID NTAPI test_thread(PVOID ctx)
{
    PDEVICE_OBJECT pdo = NULL;
    NTSTATUS st;
    (void)ctx;
    for (int i = 0; i < 5000 && g_driver->DriverUnload == pc_unload; i++)
        sleep_ms(1);
    check(g_driver->DriverUnload != pc_unload, "DriverEntry hooked the unload routine", "");
    read_capture_mode();
    tlog("     Parameters\\CaptureMode = %lu", (unsigned long)g_capture_mode);
    sleep_ms(50); /* DriverEntry returns */
    if (!norm_new(&g_exp, 2u << 20) || !norm_new(&g_sink.cap, 2u << 20)) {
        check(0, "test buffers", "no memory");
        goto done;
    }
    st = IoCreateDevice(g_driver, 0, NULL, FILE_DEVICE_UNKNOWN, 0, FALSE, &pdo);
    if (!check(NT_SUCCESS(st), "PDO created", "%#lx", (unsigned long)st))
        goto done;
    st = (NTSTATUS)dcall("AddDevice", g_add_device, 2, A(g_driver), A(pdo));
    PDEVICE_OBJECT fdo = NULL;
    for (PDEVICE_OBJECT d = g_driver->DeviceObject; d; d = d->NextDevice)
        if (d != pdo)
            fdo = d;
    if (!check(NT_SUCCESS(st) && fdo && g_start_device, "AddDevice → PcAddAdapterDevice", "%#lx", (unsigned long)st))
        goto done;
    st = start_device(fdo);
    if (check(NT_SUCCESS(st), "StartDevice (PcNewPort, port Init, miniport Init, PcRegisterSubdevice)", "%#lx",
              (unsigned long)st)) {
        check(wcscmp(g_subdevice_name, L"MxfLoop") == 0, "subdevice registered as MxfLoop", "");
        c_port *port = g_port;
        if (check(port && port->miniport && port->desc, "port Init: miniport bound, GetDescription answered", "")) {
            const PCFILTER_DESCRIPTOR *d = port->desc;
            check(d->PinCount >= 3 && d->PinSize >= sizeof(PCPIN_DESCRIPTOR), "filter descriptor", "%lu pins of %lu bytes",
                  (unsigned long)d->PinCount, (unsigned long)d->PinSize);
            run_streams(port->miniport, d);
        }
        remove_device();
        check(g_ports_live == 0, "device removal releases the port and the miniport", "%ld ports alive",
              (long)g_ports_live);
    }
    /* PcNewPort failing: StartDevice returns its status and leaves nothing behind. */
    g_newport_fail = STATUS_INSUFFICIENT_RESOURCES;
    st = start_device(fdo);
    g_newport_fail = 0;
    check(st == STATUS_INSUFFICIENT_RESOURCES && g_ports_live == 0,
          "error path: PcNewPort failing fails StartDevice with its status", "%#lx", (unsigned long)st);
    /* PcRegisterSubdevice failing: StartDevice fails with its status and drops its own
     * references; what is left is the port <-> miniport pair, which goes away completely when
     * the port releases its children. */
    g_register_fail = STATUS_OBJECT_NAME_COLLISION;
    st = start_device(fdo);
    g_register_fail = 0;
    c_port *left = g_port;
    LONG left_refs = left ? left->refs : 0;
    if (left)
        dcall("device removal: miniport Release", release_children, 1, A(left));
    check(st == STATUS_OBJECT_NAME_COLLISION && left_refs == 1 && g_ports_live == 0,
          "error path: PcRegisterSubdevice failing fails StartDevice, releasing its references",
          "%#lx; the port had %ld reference(s) left (1 = the miniport's), %ld ports alive after releasing "
          "its children", (unsigned long)st, (long)left_refs, (long)g_ports_live);
    for (int i = 0; i < 2000 && dpc_busy(); i++)
        sleep_ms(1);
    check(g_alloc.refs == 1 && g_clock.refs == 1 && g_sink.refs == 1 && g_svc.refs == 1,
          "every reference the miniport took on the port's objects was released",
          "allocator %ld, clock %ld, sink %ld, service sink %ld (1 = the port's own)", (long)g_alloc.refs,
          (long)g_clock.refs, (long)g_sink.refs, (long)g_svc.refs);
    check(g_alloc.ev_out == g_alloc.ev_in && g_alloc.buf_out == g_alloc.buf_in,
          "every allocator event and buffer came back", "events %ld out %ld in, buffers %ld out %ld in",
          (long)g_alloc.ev_out, (long)g_alloc.ev_in, (long)g_alloc.buf_out, (long)g_alloc.buf_in);
    check(g_alloc.marks_changed == 0, "bReserved/cbStruct never changed by the miniport", "%ld events",
          (long)g_alloc.marks_changed);
    check(g_alloc.put_buffer_calls == 0, "no PutBuffer calls", "%ld", (long)g_alloc.put_buffer_calls);
    check(g_alloc.attached_pkgs == 0, "packages returned detached", "%ld attached", (long)g_alloc.attached_pkgs);
    IoDeleteDevice(fdo);
done:
    if (pdo)
        IoDeleteDevice(pdo);
    norm_free(&g_exp);
    norm_free(&g_sink.cap);
    tlog("TEST-DONE %ld failures so far", (long)g_failures);
    InterlockedExchange(&g_test_done, 1);
    PsTerminateSystemThread(STATUS_SUCCESS);
}

/* PortCls's DriverUnload (the driver's own unload routine calls it): the leak report. */
static VOID NTAPI pc_unload(PDRIVER_OBJECT drv)
{
    LARGE_INTEGER to = {.QuadPart = -300000000LL};
    (void)drv;
    tlog("     unload: PortCls's DriverUnload called");
    int finished = 1;
    if (g_test_thread) {
        finished = check(KeWaitForSingleObject(g_test_thread, Executive, KernelMode, FALSE, &to) == STATUS_SUCCESS,
                         "test thread finished before unload", "");
        ObDereferenceObject(g_test_thread);
    }
    check(dpc_busy() == 0, "unload: no DPC queued or running", "%lu", (unsigned long)dpc_busy());
    check(timers_armed() == 0, "unload: no timer armed", "%lu", (unsigned long)timers_armed());
    check(g_lookasides == 0, "unload: every lookaside list deleted", "%ld left", (long)g_lookasides);
    ULONG live = pool_live(1);
    check(live == 0, "unload: no pool block left (leak check by tag)", "%lu blocks", (unsigned long)live);
    dpc_stop();
    stack_report();
    if (finished) /* else the test thread may still be on it */
        stack_free(&g_driver_stack);
    tlog("FINAL: %s (%ld failures)", g_failures ? "FAIL" : "PASS", (long)g_failures);
    log_close();
}

/* The image's entry point. Wine's loader calls it as a DLL entry point (DLL_PROCESS_ATTACH)
 * when mxfloop.sys pulls portcls.sys in as an import: it must answer TRUE (1, which read as an
 * NTSTATUS from a DriverEntry call is a success code too). */
ULONG_PTR NTAPI PortClsEntry(PVOID a, ULONG_PTR reason, PVOID c)
{
    (void)a; (void)reason; (void)c;
    return 1;
}
