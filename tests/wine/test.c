/*
 * The test PortCls for Wine: PcInitializeAdapterDriver (the image's first call into it: the
 * import slots are rewritten, the DPC thread and the test thread start), the test sequence
 * the test thread runs against the miniport through the port of port.c, and PortCls's
 * DriverUnload with the leak report. Written against mingw-w64's DDK headers (portcls.h,
 * dmusicks.h), not the driver's Rust declarations, so that it is an independent consumer of
 * the image's ABI.
 */
#include "test.h"
#include <stdio.h>
#include <string.h>

static PDRIVER_OBJECT g_driver;
static PDRIVER_ADD_DEVICE g_add_device;
static PKTHREAD g_test_thread;
static volatile LONG g_test_done;

void sleep_ms(LONG ms)
{
    LARGE_INTEGER t = {.QuadPart = -10000LL * ms};
    KeDelayExecutionThread(KernelMode, FALSE, &t);
}

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
    port_objects_init();
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

/* ======================================================================================
 * The test.
 */
norm g_exp;
/* Services\mxfloop\Parameters as the test reads it (independently of the driver). */
ULONG g_capture_mode; /* CaptureMode */
ULONG g_feedback_max; /* FeedbackMaxMessagesPerSecond */
/* A FeedbackMaxMessagesPerSecond set below this (mxfwine.exe's third run) selects the feedback
 * run: the guard's checks instead of the data path, whose rate could trip a low limit. */
#define FEEDBACK_RUN_BELOW 10000
static ULONG g_cable_count;  /* CableCount */
#define MAX_CABLES 16
static WCHAR g_cable_names[MAX_CABLES][32]; /* CableNames, entry by entry */
static ULONG g_cable_entries;

/* The whole REG_MULTI_SZ (NOEXPAND), split here into its strings. */
static NTSTATUS NTAPI name_entry(PWSTR name, ULONG type, PVOID data, ULONG len, PVOID ctx, PVOID entry)
{
    const WCHAR *w = data;
    ULONG units = len / sizeof(WCHAR), i = 0;
    (void)name; (void)ctx; (void)entry;
    if (type != REG_MULTI_SZ || !w)
        return STATUS_SUCCESS;
    while (i < units && w[i] && g_cable_entries < MAX_CABLES) {
        ULONG n = 0;
        while (i + n < units && w[i + n])
            n++;
        ULONG keep = n > 31 ? 31 : n;
        memcpy(g_cable_names[g_cable_entries], w + i, keep * sizeof(WCHAR));
        g_cable_names[g_cable_entries][keep] = 0;
        g_cable_entries++;
        i += n + 1;
    }
    return STATUS_SUCCESS;
}

static void read_settings(void)
{
    RTL_QUERY_REGISTRY_TABLE q[5];
    ULONG zero = 0, one = 1, inf_rate = 31250;
    memset(q, 0, sizeof q);
    q[0].Flags = RTL_QUERY_REGISTRY_DIRECT;
    q[0].Name = L"CaptureMode";
    q[0].EntryContext = &g_capture_mode;
    q[0].DefaultType = REG_DWORD;
    q[0].DefaultData = &zero;
    q[0].DefaultLength = sizeof zero;
    q[1].Flags = RTL_QUERY_REGISTRY_DIRECT;
    q[1].Name = L"CableCount";
    q[1].EntryContext = &g_cable_count;
    q[1].DefaultType = REG_DWORD;
    q[1].DefaultData = &one;
    q[1].DefaultLength = sizeof one;
    q[2].QueryRoutine = name_entry;
    q[2].Flags = RTL_QUERY_REGISTRY_NOEXPAND;
    q[2].Name = L"CableNames";
    q[2].DefaultType = REG_NONE;
    q[3].Flags = RTL_QUERY_REGISTRY_DIRECT;
    q[3].Name = L"FeedbackMaxMessagesPerSecond";
    q[3].EntryContext = &g_feedback_max;
    q[3].DefaultType = REG_DWORD;
    q[3].DefaultData = &inf_rate;
    q[3].DefaultLength = sizeof inf_rate;
    if (!NT_SUCCESS(RtlQueryRegistryValues(RTL_REGISTRY_SERVICES, L"mxfloop\\Parameters", q, NULL, NULL))) {
        g_capture_mode = 0;
        g_cable_count = 1;
        g_feedback_max = inf_rate;
    }
}

/* The name cable `i` (0-based) must get: its CableNames entry (the values this test writes are
 * all valid) or the default "MxfLoop <n>". */
static void expected_name(ULONG i, WCHAR out[32])
{
    if (i < g_cable_entries && g_cable_names[i][0]) {
        memcpy(out, g_cable_names[i], sizeof g_cable_names[i]);
        return;
    }
    char a[32];
    int n = _snprintf(a, sizeof a, "MxfLoop %lu", (unsigned long)i + 1);
    for (int k = 0; k <= n; k++)
        out[k] = (WCHAR)(UCHAR)a[k];
}

static void wcat(WCHAR *dst, SIZE_T cap, const WCHAR *src)
{
    SIZE_T n = wcslen(dst);
    while (*src && n + 1 < cap)
        dst[n++] = *src++;
    dst[n] = 0;
}

/* The FriendlyName the driver wrote into the interface key of `category` and `ref` (the
 * device-interface shim's key, devif.c); 0 if there is none. */
static int read_friendly_name(const WCHAR *category, const WCHAR *ref, WCHAR out[64])
{
    WCHAR path[160] = L"mxfloop\\WineDeviceInterfaces\\";
    RTL_QUERY_REGISTRY_TABLE q[2];
    UNICODE_STRING u = {0, 63 * sizeof(WCHAR), out};
    wcat(path, 160, category);
    wcat(path, 160, L"#");
    wcat(path, 160, ref);
    memset(out, 0, 64 * sizeof(WCHAR));
    memset(q, 0, sizeof q);
    q[0].Flags = RTL_QUERY_REGISTRY_DIRECT | RTL_QUERY_REGISTRY_REQUIRED;
    q[0].Name = L"FriendlyName";
    q[0].EntryContext = &u;
    q[0].DefaultType = REG_NONE;
    return NT_SUCCESS(RtlQueryRegistryValues(RTL_REGISTRY_SERVICES, path, q, NULL, NULL));
}

/* The categories of the KS interfaces PortCls registers for every cable (ks.h, ksmedia.h). */
static const WCHAR *const g_categories[3] = {
    L"{6994AD04-93EF-11D0-A3CC-00A0C9223196}", /* KSCATEGORY_AUDIO */
    L"{65E8773E-8F56-11D0-A3B9-00A0C9223196}", /* KSCATEGORY_RENDER */
    L"{65E8773D-8F56-11D0-A3B9-00A0C9223196}", /* KSCATEGORY_CAPTURE */
};

static const PCPIN_DESCRIPTOR *pin_of(const PCFILTER_DESCRIPTOR *d, ULONG i)
{
    return (const PCPIN_DESCRIPTOR *)((const UCHAR *)d->Pins + (SIZE_T)i * d->PinSize);
}

/* Builds the events of one unit (bytes) in the render form: short data inline, longer runs in
 * allocator buffers of GetBufferSize bytes; every fragment but the last INCOMPLETE. */
PDMUS_KERNEL_EVENT build_unit(const UCHAR *bytes, SIZE_T len, int packaged, PDMUS_KERNEL_EVENT **tailp)
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

/* Waits until every sink has as many normalised bytes as expected (bounded), then compares
 * them byte for byte. */
int wait_compare_sinks(const char *name, c_sink *const *sinks, int nsinks)
{
    int ok = 1;
    for (int k = 0; k < nsinks; k++)
        for (int i = 0; i < 5000 && sinks[k]->cap.len < g_exp.len; i++)
            sleep_ms(1);
    sleep_ms(5);
    for (int k = 0; k < nsinks; k++) {
        const norm *c = &sinks[k]->cap;
        char what[160];
        SIZE_T n = c->len < g_exp.len ? c->len : g_exp.len, first = n;
        for (SIZE_T i = 0; i < n; i++)
            if (c->out[i] != g_exp.out[i]) {
                first = i;
                break;
            }
        if (nsinks > 1)
            _snprintf(what, sizeof what, "%s, at sink %d", name, k + 1);
        else
            _snprintf(what, sizeof what, "%s", name);
        what[sizeof what - 1] = 0;
        ok &= check(c->len == g_exp.len && first == n && g_exp.stray == 0 && c->stray == 0, what,
                    "%lu bytes expected, %lu captured, first difference at %ld, stray bytes %lu/%lu",
                    (unsigned long)g_exp.len, (unsigned long)c->len, first == n ? -1L : (long)first,
                    (unsigned long)g_exp.stray, (unsigned long)c->stray);
    }
    /* Compared: start the next unit from empty buffers. */
    g_exp.len = 0;
    for (int k = 0; k < nsinks; k++)
        sinks[k]->cap.len = 0;
    return ok;
}

static int wait_compare(const char *name)
{
    c_sink *one = &g_sink;
    return wait_compare_sinks(name, &one, 1);
}

/* Sends `bytes` as one unit (flat chain or a package), waits for it at the capture end. */
static int roundtrip(const char *name, const UCHAR *bytes, SIZE_T len, int packaged)
{
    for (SIZE_T i = 0; i < len; i++)
        norm_byte(&g_exp, bytes[i]);
    port_submit_render(build_unit(bytes, len, packaged, NULL));
    return wait_compare(name);
}

UCHAR *sysex(SIZE_T payload, UCHAR seed)
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

void sysex_free(UCHAR *b)
{
    if (b)
        pool_free(b, SHIM_TAG('T', 's', 'y', 'x'), "test sysex");
}

const KSSTATE g_up[3] = {KSSTATE_ACQUIRE, KSSTATE_PAUSE, KSSTATE_RUN};
const KSSTATE g_down[3] = {KSSTATE_PAUSE, KSSTATE_ACQUIRE, KSSTATE_STOP};

NTSTATUS set_states(PMXF s, const KSSTATE *st, int n, const char *what)
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

PMXF new_stream_with(PMINIPORTDMUS mp, ULONG pin, DMUS_STREAM_TYPE type, UCHAR *fmt, c_alloc *alloc,
                     PSERVICEGROUP *group, ULONGLONG *prefetch, NTSTATUS *status)
{
    PMXF s = NULL;
    *group = NULL;
    *prefetch = ~0ULL;
    *status = (NTSTATUS)dcall("IMiniportDMus::NewStream", mp->lpVtbl->NewStream, 11, A(mp), A(&s), 0,
                              (ULONG64)NonPagedPoolNx, (ULONG64)pin, (ULONG64)type, A(fmt), A(group),
                              A(&alloc->iface), A(&g_clock.iface), A(prefetch));
    return s;
}

static PMXF new_stream(PMINIPORTDMUS mp, ULONG pin, DMUS_STREAM_TYPE type, UCHAR *fmt, PSERVICEGROUP *group,
                       ULONGLONG *prefetch, NTSTATUS *status)
{
    return new_stream_with(mp, pin, type, fmt, &g_alloc, group, prefetch, status);
}

void release_group(PSERVICEGROUP g, PSERVICEGROUP mine)
{
    if (!g)
        return;
    if (g != mine)
        dcall("IServiceGroup::RemoveMember", g->lpVtbl->RemoveMember, 2, A(g), A(&g_svc));
    dcall("IServiceGroup::Release", g->lpVtbl->Release, 1, A(g));
}

/* A streaming pin takes MaxFilterInstanceCount streams at once (one of them is open already)
 * and refuses one more; every extra stream opened here is released again. */
static void check_instance_limit(PMINIPORTDMUS mp, const PCFILTER_DESCRIPTOR *d, ULONG pin,
                                 DMUS_STREAM_TYPE type, UCHAR *fmt, const char *all_open,
                                 const char *one_more)
{
    enum { MOST = 16 };
    PMXF extra[MOST];
    PSERVICEGROUP groups[MOST];
    PSERVICEGROUP mine = g_port ? g_port->group : NULL;
    ULONG max = pin_of(d, pin)->MaxFilterInstanceCount;
    ULONG open = 1, n = 0;
    ULONGLONG pf;
    NTSTATUS st = STATUS_SUCCESS;
    if (!check(max >= 1 && max <= MOST, "a streaming pin allows 1 to 16 instances", "pin %lu: %lu",
               (unsigned long)pin, (unsigned long)max))
        return;
    while (open < max) {
        PMXF s = new_stream(mp, pin, type, fmt, &groups[n], &pf, &st);
        if (!s)
            break;
        extra[n++] = s;
        open++;
    }
    check(open == max, all_open, "pin %lu: %lu of %lu open, last %#lx", (unsigned long)pin,
          (unsigned long)open, (unsigned long)max, (unsigned long)st);
    PSERVICEGROUP og;
    PMXF over = new_stream(mp, pin, type, fmt, &og, &pf, &st);
    check(!NT_SUCCESS(st) && !over, one_more, "pin %lu: %#lx", (unsigned long)pin, (unsigned long)st);
    if (over) {
        dcall("IMXF::Release (stream)", over->lpVtbl->Release, 1, A(over));
        release_group(og, mine);
    }
    while (n > 0) {
        n--;
        dcall("IMXF::Release (stream)", extra[n]->lpVtbl->Release, 1, A(extra[n]));
        release_group(groups[n], mine);
    }
}

/* The data path of one render and one capture stream (both running): every unit sent and
 * compared before the next, then the capture sink's checks. */
static void data_path(void)
{
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
        port_submit_render(c1);
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
}

static void run_streams(PMINIPORTDMUS mp, const PCFILTER_DESCRIPTOR *d)
{
    const KSSTATE *up = g_up, *down = g_down;
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
    check_instance_limit(mp, d, rpin, DMUS_STREAM_MIDI_RENDER, rfmt,
                         "the render pin opens as many streams as its instance count",
                         "error path: one render stream more than the instance count is refused");
    UCHAR fmt2[256];
    int have2 = 0;
    if (rpin2 != ~0u) {
        /* The second render pin (the other client's) opens beside the first. */
        if ((have2 = intersect(mp, rpin2, pin_of(d, rpin2), fmt2, sizeof fmt2))) {
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
        check_instance_limit(mp, d, cpin, DMUS_STREAM_MIDI_CAPTURE, cfmt,
                             "the capture pin opens as many streams as its instance count",
                             "error path: one capture stream more than the instance count is refused");
        PSERVICEGROUP mine = g_port ? g_port->group : NULL;
        if (rg && rg != mine)
            dcall("IServiceGroup::AddMember", rg->lpVtbl->AddMember, 2, A(rg), A(&g_svc));
        if (cg && cg != mine)
            dcall("IServiceGroup::AddMember", cg->lpVtbl->AddMember, 2, A(cg), A(&g_svc));
        st = (NTSTATUS)dcall("IMXF::ConnectOutput", capture->lpVtbl->ConnectOutput, 2, A(capture), A(&g_sink.iface));
        check(NT_SUCCESS(st), "capture ConnectOutput(sink)", "%#lx", (unsigned long)st);
        g_capture_streams[0] = capture;
        g_render_stream = render;
        check(NT_SUCCESS(set_states(capture, up, 3, "IMXF::SetState")), "capture ACQUIRE/PAUSE/RUN", "");
        check(NT_SUCCESS(set_states(render, up, 3, "IMXF::SetState")), "render ACQUIRE/PAUSE/RUN", "");

        if (g_feedback_max != 0 && g_feedback_max < FEEDBACK_RUN_BELOW) {
            /* The feedback run: the guard's checks on the first cable only. */
            if (g_port == (c_port *)g_subdevices[0].port)
                feedback_checks(render);
        } else {
            data_path();
            multiclient_checks(mp, rpin, have2 ? rpin2 : ~0u, cpin, rfmt, fmt2, cfmt, render);
        }

        /* ---- STOP and release ---- */
        check(NT_SUCCESS(set_states(render, down, 3, "IMXF::SetState")), "render PAUSE/ACQUIRE/STOP", "");
        check(NT_SUCCESS(set_states(capture, down, 3, "IMXF::SetState")), "capture PAUSE/ACQUIRE/STOP", "");
        st = (NTSTATUS)dcall("IMXF::DisconnectOutput", capture->lpVtbl->DisconnectOutput, 2, A(capture),
                             A(&g_sink.iface));
        check(NT_SUCCESS(st), "capture DisconnectOutput(sink)", "%#lx", (unsigned long)st);
        /* The port's DPCs stop calling the streams, then the streams go. */
        g_capture_streams[0] = NULL;
        g_render_stream = NULL;
        for (int i = 0; i < 2000 && dpc_busy(); i++)
            sleep_ms(1);
        dcall("IMXF::Release (stream)", capture->lpVtbl->Release, 1, A(capture));
        release_group(cg, mine);
    }
    dcall("IMXF::Release (stream)", render->lpVtbl->Release, 1, A(render));
    release_group(rg, g_port ? g_port->group : NULL);
}

/* What PortCls does when a subdevice goes away: the port releases its children (the miniport
 * and its service group), which breaks the port <-> miniport cycle (the miniport holds the
 * port from Init until its final Release). */
static ULONG64 release_children(c_port *p)
{
    port_teardown(p);
    return 0;
}

/* PortCls's device removal (also what follows a failed StartDevice): for every registered
 * subdevice, ReleaseChildren, then the registration's reference on the port. */
static void release_subdevices(void)
{
    for (LONG i = 0; i < g_nsubdevices; i++) {
        PUNKNOWN p = g_subdevices[i].port;
        g_subdevices[i].port = NULL;
        if (!p)
            continue;
        dcall("device removal: miniport Release", release_children, 1, A(p));
        dcall("device removal: port Release", p->lpVtbl->Release, 1, A(p));
    }
    g_nsubdevices = 0;
}

static NTSTATUS start_device(PDEVICE_OBJECT fdo)
{
    PIRP irp = IoAllocateIrp(4, FALSE);
    g_newport_calls = g_register_calls = 0;
    NTSTATUS st = (NTSTATUS)dcall("StartDevice", g_start_device, 3, A(fdo), A(irp), 0);
    if (irp)
        IoFreeIrp(irp);
    if (!NT_SUCCESS(st))
        release_subdevices();
    return st;
}

/* Every cable registered as MxfLoop<n>, its three interfaces named as CableNames says before
 * the registration enabled them. */
static void check_cables(void)
{
    check(g_nsubdevices == (LONG)g_cable_count, "one subdevice registered per cable (CableCount)", "%ld of %lu",
          (long)g_nsubdevices, (unsigned long)g_cable_count);
    for (LONG i = 0; i < g_nsubdevices; i++) {
        WCHAR ref[32], want[32], got[64];
        char a[32], what[128];
        int n = _snprintf(a, sizeof a, "MxfLoop%ld", (long)i + 1);
        for (int k = 0; k <= n; k++)
            ref[k] = (WCHAR)(UCHAR)a[k];
        _snprintf(what, sizeof what, "cable %ld registered with reference string %s", (long)i + 1, a);
        check(wcscmp(g_subdevices[i].name, ref) == 0, what, "registered as %ls", g_subdevices[i].name);
        expected_name((ULONG)i, want);
        for (int c = 0; c < 3; c++) {
            int found = read_friendly_name(g_categories[c], ref, got);
            _snprintf(what, sizeof what, "cable %ld: FriendlyName of its interface %ls is %ls", (long)i + 1,
                      g_categories[c], want);
            check(found && wcscmp(got, want) == 0, what, "%ls", found ? got : L"(none written)");
        }
        _snprintf(what, sizeof what, "cable %ld: its interfaces were named before it was registered", (long)i + 1);
        check(g_subdevices[i].names_before == 3, what, "%ld interface keys opened before",
              (long)g_subdevices[i].names_before);
    }
    check(g_devif_bad_calls == 0, "device-interface calls only for PcGetPhysicalDeviceObject's PDO and live links",
          "%ld refused", (long)g_devif_bad_calls);
}

static VOID NTAPI test_thread(PVOID ctx)
{
    PDEVICE_OBJECT pdo = NULL;
    NTSTATUS st;
    (void)ctx;
    for (int i = 0; i < 5000 && g_driver->DriverUnload == pc_unload; i++)
        sleep_ms(1);
    check(g_driver->DriverUnload != pc_unload, "DriverEntry hooked the unload routine", "");
    read_settings();
    tlog("     Parameters\\CaptureMode = %lu, CableCount = %lu, CableNames has %lu entries",
         (unsigned long)g_capture_mode, (unsigned long)g_cable_count, (unsigned long)g_cable_entries);
    sleep_ms(50); /* DriverEntry returns */
    if (!norm_new(&g_exp, 2u << 20) || !norm_new(&g_sink.cap, 2u << 20) || !norm_new(&g_sink2.cap, 2u << 20)) {
        check(0, "test buffers", "no memory");
        goto done;
    }
    st = IoCreateDevice(g_driver, 0, NULL, FILE_DEVICE_UNKNOWN, 0, FALSE, &pdo);
    if (!check(NT_SUCCESS(st), "PDO created", "%#lx", (unsigned long)st))
        goto done;
    g_devif_pdo = pdo;
    st = (NTSTATUS)dcall("AddDevice", g_add_device, 2, A(g_driver), A(pdo));
    PDEVICE_OBJECT fdo = NULL;
    for (PDEVICE_OBJECT d = g_driver->DeviceObject; d; d = d->NextDevice)
        if (d != pdo)
            fdo = d;
    if (!check(NT_SUCCESS(st) && fdo && g_start_device, "AddDevice → PcAddAdapterDevice", "%#lx", (unsigned long)st))
        goto done;
    check(g_max_objects >= MAX_CABLES, "PcAddAdapterDevice: room for every possible cable (MaxObjects)", "%lu",
          (unsigned long)g_max_objects);
    st = start_device(fdo);
    if (check(NT_SUCCESS(st), "StartDevice (per cable: PcNewPort, port Init, miniport Init, PcRegisterSubdevice)",
              "%#lx", (unsigned long)st)) {
        check_cables();
        /* The data path through every cable, one after the other. */
        for (LONG i = 0; i < g_nsubdevices; i++) {
            c_port *port = (c_port *)g_subdevices[i].port;
            char what[96];
            g_port = port;
            tlog("     cable %ld:", (long)i + 1);
            _snprintf(what, sizeof what, "cable %ld: port Init: miniport bound, GetDescription answered", (long)i + 1);
            if (check(port && port->miniport && port->desc, what, "")) {
                const PCFILTER_DESCRIPTOR *d = port->desc;
                check(d->PinCount >= 3 && d->PinSize >= sizeof(PCPIN_DESCRIPTOR), "filter descriptor",
                      "%lu pins of %lu bytes", (unsigned long)d->PinCount, (unsigned long)d->PinSize);
                run_streams(port->miniport, d);
            }
        }
        release_subdevices();
        check(g_ports_live == 0, "device removal releases every port and miniport", "%ld ports alive",
              (long)g_ports_live);
    }
    /* PcNewPort failing for the last cable, after the others registered: StartDevice returns
     * its status; PortCls's removal releases the registered ones; nothing is left. */
    g_newport_fail = STATUS_INSUFFICIENT_RESOURCES;
    g_newport_fail_after = (LONG)g_cable_count - 1;
    st = start_device(fdo);
    g_newport_fail = 0;
    check(st == STATUS_INSUFFICIENT_RESOURCES && g_ports_live == 0,
          "error path: PcNewPort failing for the last cable fails StartDevice with its status, nothing left",
          "%#lx, %ld ports alive", (unsigned long)st, (long)g_ports_live);
    /* PcRegisterSubdevice failing for the last cable: StartDevice fails with its status; the
     * earlier cables go with PortCls's removal; the failed cable's miniport gives up the
     * reference on its port that its Init took (PortCls never heard of that subdevice, so no
     * ReleaseChildren would break the port <-> miniport cycle), and StartDevice's own releases
     * then free the port and, with it, the miniport: nothing is left. */
    g_register_fail = STATUS_OBJECT_NAME_COLLISION;
    g_register_fail_after = (LONG)g_cable_count - 1;
    st = start_device(fdo);
    g_register_fail = 0;
    g_port = NULL; /* freed inside StartDevice */
    check(st == STATUS_OBJECT_NAME_COLLISION && g_ports_live == 0,
          "error path: PcRegisterSubdevice failing for the last cable fails StartDevice, freeing its port and miniport",
          "%#lx, %ld ports alive", (unsigned long)st, (long)g_ports_live);
    /* The cables' interface keys cannot be opened, then open but cannot be written: a name is
     * not worth a failed start, so StartDevice registers every cable, warns once per interface,
     * and has given back every symbolic link and key it got on these paths too. */
    for (int read_only = 0; read_only < 2; read_only++) {
        ULONG since = dbg_lines();
        g_devif_open_fail = read_only ? 0 : STATUS_ACCESS_DENIED;
        g_devif_read_only = read_only;
        st = start_device(fdo);
        g_devif_open_fail = 0;
        g_devif_read_only = 0;
        LONG registered = g_nsubdevices, links = g_links_live, keys = g_keys_live;
        ULONG warned = dbg_find(since, "writing the friendly name of interface", NULL, 0);
        release_subdevices();
        char what[160];
        _snprintf(what, sizeof what,
                  "error path: interface keys %s: every cable starts, a warning per interface, no link or key held",
                  read_only ? "read-only" : "failing to open");
        check(NT_SUCCESS(st) && registered == (LONG)g_cable_count && warned == 3 * g_cable_count && links == 0 &&
                  keys == 0 && g_ports_live == 0,
              what, "%#lx, %ld of %lu cables, %lu warnings, %ld links and %ld keys held, %ld ports alive",
              (unsigned long)st, (long)registered, (unsigned long)g_cable_count, (unsigned long)warned, (long)links,
              (long)keys, (long)g_ports_live);
    }
    for (int i = 0; i < 2000 && dpc_busy(); i++)
        sleep_ms(1);
    check(g_alloc.refs == 1 && g_clock.refs == 1 && g_sink.refs == 1 && g_svc.refs == 1,
          "every reference the miniport took on the port's objects was released",
          "allocator %ld, clock %ld, sink %ld, service sink %ld (1 = the port's own)", (long)g_alloc.refs,
          (long)g_clock.refs, (long)g_sink.refs, (long)g_svc.refs);
    check(g_alloc2.refs == 1 && g_sink2.refs == 1,
          "every reference the miniport took on the second capture stream's allocator and sink was released",
          "allocator %ld, sink %ld (1 = the port's own)", (long)g_alloc2.refs, (long)g_sink2.refs);
    check(g_alloc.ev_out == g_alloc.ev_in && g_alloc.buf_out == g_alloc.buf_in,
          "every allocator event and buffer came back", "events %ld out %ld in, buffers %ld out %ld in",
          (long)g_alloc.ev_out, (long)g_alloc.ev_in, (long)g_alloc.buf_out, (long)g_alloc.buf_in);
    check(g_alloc2.ev_out == g_alloc2.ev_in && g_alloc2.buf_out == g_alloc2.buf_in,
          "every event and buffer of the second capture stream's allocator came back",
          "events %ld out %ld in, buffers %ld out %ld in", (long)g_alloc2.ev_out, (long)g_alloc2.ev_in,
          (long)g_alloc2.buf_out, (long)g_alloc2.buf_in);
    check(g_alloc.foreign == 0 && g_alloc2.foreign == 0,
          "each allocator got back only its own events (the stream given an allocator used that one)",
          "%ld foreign events at the first, %ld at the second", (long)g_alloc.foreign, (long)g_alloc2.foreign);
    check(g_dbg_zero_releases == 0, "no COM object of the driver was released on a zero count (its log says)",
          "%ld times", (long)g_dbg_zero_releases);
    check(g_alloc.marks_changed == 0 && g_alloc2.marks_changed == 0,
          "bReserved/cbStruct never changed by the miniport", "%ld events",
          (long)(g_alloc.marks_changed + g_alloc2.marks_changed));
    check(g_alloc.put_buffer_calls == 0 && g_alloc2.put_buffer_calls == 0, "no PutBuffer calls", "%ld",
          (long)(g_alloc.put_buffer_calls + g_alloc2.put_buffer_calls));
    check(g_alloc.attached_pkgs == 0 && g_alloc2.attached_pkgs == 0, "packages returned detached", "%ld attached",
          (long)(g_alloc.attached_pkgs + g_alloc2.attached_pkgs));
    IoDeleteDevice(fdo);
done:
    if (pdo)
        IoDeleteDevice(pdo);
    norm_free(&g_exp);
    norm_free(&g_sink.cap);
    norm_free(&g_sink2.cap);
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
    check(g_links_live == 0, "unload: every symbolic link of IoRegisterDeviceInterface freed", "%ld left",
          (long)g_links_live);
    check(g_keys_live == 0, "unload: every interface key of IoOpenDeviceInterfaceRegistryKey closed", "%ld open",
          (long)g_keys_live);
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
