/* The test PortCls's DMus port (port.h). */
#include "port.h"
#include <string.h>

PCPFNSTARTDEVICE g_start_device;
NTSTATUS g_newport_fail, g_register_fail;
LONG g_newport_fail_after, g_register_fail_after, g_newport_calls, g_register_calls;
volatile LONG g_ports_live;
c_subdevice g_subdevices[MAX_SUBDEVICES];
LONG g_nsubdevices;
ULONG g_max_objects;
PDEVICE_OBJECT g_pdo, g_fdo;

/* ======================================================================================
 * The port's IAllocatorMXF: events and buffers from the tracked pool; bReserved and
 * cbStruct are the allocator's (the miniport must not touch them); PutBuffer is not for
 * miniports; packages must come back detached.
 */
c_alloc g_alloc, g_alloc2;

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
void alloc_put_chain(c_alloc *a, PDMUS_KERNEL_EVENT e)
{
    while (e) {
        PDMUS_KERNEL_EVENT next = e->pNextEvt;
        if ((e->bReserved != g_alloc.mark && e->bReserved != g_alloc2.mark) ||
            e->cbStruct != sizeof(DMUS_KERNEL_EVENT))
            InterlockedIncrement(&a->marks_changed);
        else if (e->bReserved != a->mark)
            InterlockedIncrement(&a->foreign);
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
NTSTATUS STDMETHODCALLTYPE al_get(IAllocatorMXF *t, PDMUS_KERNEL_EVENT *out)
{
    PDMUS_KERNEL_EVENT e = pool_alloc(sizeof *e, SHIM_TAG('P', 'c', 'E', 'v'), 1);
    *out = e;
    if (!e)
        return STATUS_INSUFFICIENT_RESOURCES;
    e->bReserved = ((c_alloc *)t)->mark;
    e->cbStruct = sizeof *e;
    InterlockedIncrement(&((c_alloc *)t)->ev_out);
    return STATUS_SUCCESS;
}
static USHORT STDMETHODCALLTYPE al_bufsize(IAllocatorMXF *t)
{
    (void)t;
    return ALLOC_BUFFER_SIZE;
}
NTSTATUS STDMETHODCALLTYPE al_getbuf(IAllocatorMXF *t, PBYTE *out)
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
c_clock g_clock;
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
c_sink g_sink, g_sink2;
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
        for (USHORT i = 0; b && i < e->cbEvent; i++) {
            norm_byte(&s->cap, b[i]);
            if (s->raw && s->raw_len < s->raw_cap)
                s->raw[s->raw_len++] = b[i];
        }
    }
    alloc_put_chain(s->alloc, chain);
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

c_svc g_svc;
c_port *g_port;        /* the port under test (one at a time) */
PMXF volatile g_capture_streams[MAX_CAPTURE_STREAMS];
PMXF g_render_stream;
static KDPC g_notify_dpc, g_render_dpc;
static volatile LONG g_pending_lock;
static PSERVICEGROUP g_pending[MAX_GROUPS];
static ULONG g_npending;
volatile LONG g_notifies, g_services;
#define MAX_JOBS 64
static struct {
    PMXF stream;
    PDMUS_KERNEL_EVENT chain;
} g_jobs[MAX_JOBS];
static ULONG g_job_head, g_job_tail;
volatile LONG g_render_put_errors;

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
/* The miniport's group services its members in its DPC: the port's sink then pulls every
 * capture stream (PutMessage(NULL)), at DISPATCH_LEVEL. */
static VOID STDMETHODCALLTYPE sv_request(IServiceSink *t)
{
    (void)t;
    InterlockedIncrement(&g_services);
    for (int i = 0; i < MAX_CAPTURE_STREAMS; i++) {
        PMXF cap = g_capture_streams[i];
        if (cap)
            cap->lpVtbl->PutMessage(cap, NULL);
    }
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
        PMXF r = NULL;
        lk(&g_pending_lock);
        if (g_job_head != g_job_tail) {
            r = g_jobs[g_job_head % MAX_JOBS].stream;
            chain = g_jobs[g_job_head++ % MAX_JOBS].chain;
        }
        ulk(&g_pending_lock);
        if (!chain)
            break;
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
/* Each child is taken out of the port before its Release: the miniport's final Release
 * releases the port, which may be the port's last reference (after a failed StartDevice), and
 * the port's own final release then tears down again and frees `p`. */
void port_teardown(c_port *p)
{
    PSERVICEGROUP g = p->group;
    PMINIPORTDMUS mp = p->miniport;
    p->group = NULL;
    p->miniport = NULL;
    if (g) {
        g->lpVtbl->RemoveMember(g, (PSERVICESINK)&g_svc);
        g->lpVtbl->Release(g);
    }
    if (mp)
        mp->lpVtbl->Release(mp);
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

void port_objects_init(void)
{
    g_alloc.iface.lpVtbl = &g_alloc_vtbl;
    g_alloc.refs = 1;
    g_alloc.mark = EVENT_MARK;
    g_alloc2.iface.lpVtbl = &g_alloc_vtbl;
    g_alloc2.refs = 1;
    g_alloc2.mark = EVENT_MARK + 1;
    g_clock.iface.lpVtbl = &g_clock_vtbl;
    g_clock.refs = 1;
    g_sink.iface.lpVtbl = &g_sink_vtbl;
    g_sink.refs = 1;
    g_sink.alloc = &g_alloc;
    g_sink2.iface.lpVtbl = &g_sink_vtbl;
    g_sink2.refs = 1;
    g_sink2.alloc = &g_alloc2;
    g_svc.iface.lpVtbl = &g_svc_vtbl;
    g_svc.refs = 1;
    shim_KeInitializeDpc(&g_notify_dpc, port_notify_dpc, NULL);
    shim_KeInitializeDpc(&g_render_dpc, port_render_dpc, NULL);
}

void port_submit_render_to(PMXF stream, PDMUS_KERNEL_EVENT chain)
{
    LARGE_INTEGER ms = {.QuadPart = -10000};
    for (int i = 0;; i++) {
        lk(&g_pending_lock);
        if (g_job_tail - g_job_head < MAX_JOBS || i >= 5000) {
            if (g_job_tail - g_job_head >= MAX_JOBS) {
                ulk(&g_pending_lock);
                check(0, "port render queue", "the render DPC took no chain for 5 s");
                alloc_put_chain(&g_alloc, chain);
                return;
            }
            g_jobs[g_job_tail % MAX_JOBS].stream = stream;
            g_jobs[g_job_tail++ % MAX_JOBS].chain = chain;
            ulk(&g_pending_lock);
            break;
        }
        ulk(&g_pending_lock);
        KeDelayExecutionThread(KernelMode, FALSE, &ms);
    }
    shim_KeInsertQueueDpc(&g_render_dpc, NULL, NULL);
}

void port_submit_render(PDMUS_KERNEL_EVENT chain) { port_submit_render_to(g_render_stream, chain); }

/* ======================================================================================
 * The PortCls factories.
 */
NTSTATUS NTAPI PcAddAdapterDevice(PDRIVER_OBJECT drv, PDEVICE_OBJECT pdo, PCPFNSTARTDEVICE start, ULONG max_objects,
                                  ULONG ext_size)
{
    PDEVICE_OBJECT fdo;
    NTSTATUS st;
    check(start != NULL && max_objects >= 1, "PcAddAdapterDevice arguments", "StartDevice %p, MaxObjects %lu",
          (void *)start, (unsigned long)max_objects);
    g_start_device = start;
    g_max_objects = max_objects;
    /* PortCls's own extension comes first; the adapter's follows (64 bytes here). */
    st = IoCreateDevice(drv, 64 + ext_size, NULL, FILE_DEVICE_KS, FILE_DEVICE_SECURE_OPEN, FALSE, &fdo);
    if (NT_SUCCESS(st)) {
        fdo->Flags &= ~DO_DEVICE_INITIALIZING;
        g_pdo = pdo;
        g_fdo = fdo;
    }
    return st;
}

NTSTATUS NTAPI PcGetPhysicalDeviceObject(PDEVICE_OBJECT dev, PDEVICE_OBJECT *out)
{
    if (!out)
        return STATUS_INVALID_PARAMETER;
    *out = NULL;
    if (!check(dev && dev == g_fdo, "PcGetPhysicalDeviceObject is asked for PortCls's FDO", "%p (FDO %p)",
               (void *)dev, (void *)g_fdo))
        return STATUS_INVALID_PARAMETER;
    *out = g_pdo;
    return STATUS_SUCCESS;
}

NTSTATUS NTAPI PcNewPort(PPORT *out, REFCLSID cls)
{
    c_port *p;
    *out = NULL;
    if (g_newport_fail && g_newport_calls++ >= g_newport_fail_after)
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

/* Each reference string once; at most MaxObjects subdevices per device. */
NTSTATUS NTAPI PcRegisterSubdevice(PDEVICE_OBJECT dev, PWCHAR name, PUNKNOWN unk)
{
    (void)dev;
    if (g_register_fail && g_register_calls++ >= g_register_fail_after)
        return g_register_fail;
    for (LONG i = 0; i < g_nsubdevices; i++)
        if (wcscmp(g_subdevices[i].name, name) == 0)
            return STATUS_OBJECT_NAME_COLLISION;
    if (!check(g_nsubdevices < MAX_SUBDEVICES && (ULONG)g_nsubdevices < g_max_objects,
               "PcRegisterSubdevice: no more subdevices than PcAddAdapterDevice's MaxObjects", "%ld of %lu",
               (long)g_nsubdevices + 1, (unsigned long)g_max_objects))
        return STATUS_INSUFFICIENT_RESOURCES;
    c_subdevice *s = &g_subdevices[g_nsubdevices];
    wcsncpy(s->name, name, 31);
    s->name[31] = 0;
    s->names_before = devif_opens_for(name);
    unk->lpVtbl->AddRef(unk);
    s->port = unk;
    g_nsubdevices++;
    return STATUS_SUCCESS;
}
