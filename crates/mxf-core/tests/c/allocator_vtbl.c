/*
 * A C caller of our IAllocatorMXF, declared the way dmusicks.h's C callers see it
 * (lpVtbl, __stdcall slots in the documented order), exercising every slot.
 * Built into a shared object by tests/alloc_c_abi.rs and called with the object pointer;
 * returns the number of failed checks.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#if defined(_WIN32) && !defined(_WIN64)
#define STDCALL __stdcall
#else
#define STDCALL
#endif

typedef int32_t NTSTATUS;
typedef uint32_t ULONG;
typedef uint16_t USHORT;
typedef uint8_t BYTE, *PBYTE;
typedef void *PVOID;
typedef int32_t KSSTATE; /* enum KSSTATE: STOP 0, ACQUIRE 1, PAUSE 2, RUN 3 */

#define STATUS_SUCCESS ((NTSTATUS)0x00000000L)
#define STATUS_INVALID_PARAMETER ((NTSTATUS)0xC000000DL)
#define DMUS_KEF_EVENT_INCOMPLETE 0x0001
#define DMUS_KEF_PACKAGE_EVENT 0x0002

typedef struct _GUID {
    uint32_t Data1;
    uint16_t Data2;
    uint16_t Data3;
    uint8_t Data4[8];
} GUID;
typedef const GUID *REFIID;

static const GUID IID_IUnknown = {0x00000000, 0x0000, 0x0000, {0xc0, 0, 0, 0, 0, 0, 0, 0x46}};
static const GUID IID_IMXF = {0xc096df9e, 0xfb09, 0x11d1, {0x81, 0xb0, 0x00, 0x60, 0x08, 0x33, 0x16, 0xc1}};
static const GUID IID_IAllocatorMXF = {0xa5f0d62c, 0xb30f, 0x11d2, {0xb7, 0xa3, 0x00, 0x60, 0x08, 0x33, 0x16, 0xc1}};
static const GUID IID_IPortDMus = {0xc096df9c, 0xfb09, 0x11d1, {0x81, 0xb0, 0x00, 0x60, 0x08, 0x33, 0x16, 0xc1}};

typedef struct _DMUS_KERNEL_EVENT {
    BYTE bReserved;
    BYTE cbStruct;
    USHORT cbEvent;
    USHORT usChannelGroup;
    USHORT usFlags;
    int64_t ullPresTime100ns;
    uint64_t ullBytePosition;
    struct _DMUS_KERNEL_EVENT *pNextEvt;
    union {
        BYTE abData[sizeof(PBYTE)];
        PBYTE pbData;
        struct _DMUS_KERNEL_EVENT *pPackageEvt;
    } uData;
} DMUS_KERNEL_EVENT, *PDMUS_KERNEL_EVENT;

_Static_assert(sizeof(DMUS_KERNEL_EVENT) == 40, "DMUS_KERNEL_EVENT is 40 bytes on x64");
_Static_assert(offsetof(DMUS_KERNEL_EVENT, ullPresTime100ns) == 8, "layout");
_Static_assert(offsetof(DMUS_KERNEL_EVENT, pNextEvt) == 24, "layout");
_Static_assert(offsetof(DMUS_KERNEL_EVENT, uData) == 32, "layout");

typedef struct IMXF IMXF, *PMXF;
typedef struct IMXFVtbl {
    NTSTATUS(STDCALL *QueryInterface)(IMXF *, REFIID, PVOID *);
    ULONG(STDCALL *AddRef)(IMXF *);
    ULONG(STDCALL *Release)(IMXF *);
    NTSTATUS(STDCALL *SetState)(IMXF *, KSSTATE);
    NTSTATUS(STDCALL *PutMessage)(IMXF *, PDMUS_KERNEL_EVENT);
    NTSTATUS(STDCALL *ConnectOutput)(IMXF *, PMXF);
    NTSTATUS(STDCALL *DisconnectOutput)(IMXF *, PMXF);
} IMXFVtbl;
struct IMXF {
    const IMXFVtbl *lpVtbl;
};

typedef struct IAllocatorMXF IAllocatorMXF;
typedef struct IAllocatorMXFVtbl {
    NTSTATUS(STDCALL *QueryInterface)(IAllocatorMXF *, REFIID, PVOID *);
    ULONG(STDCALL *AddRef)(IAllocatorMXF *);
    ULONG(STDCALL *Release)(IAllocatorMXF *);
    NTSTATUS(STDCALL *SetState)(IAllocatorMXF *, KSSTATE);
    NTSTATUS(STDCALL *PutMessage)(IAllocatorMXF *, PDMUS_KERNEL_EVENT);
    NTSTATUS(STDCALL *ConnectOutput)(IAllocatorMXF *, PMXF);
    NTSTATUS(STDCALL *DisconnectOutput)(IAllocatorMXF *, PMXF);
    NTSTATUS(STDCALL *GetMessage)(IAllocatorMXF *, PDMUS_KERNEL_EVENT *);
    USHORT(STDCALL *GetBufferSize)(IAllocatorMXF *);
    NTSTATUS(STDCALL *GetBuffer)(IAllocatorMXF *, PBYTE *);
    NTSTATUS(STDCALL *PutBuffer)(IAllocatorMXF *, PBYTE);
} IAllocatorMXFVtbl;
struct IAllocatorMXF {
    const IAllocatorMXFVtbl *lpVtbl;
};

static int failures;
#define CHECK(cond)                                                            \
    do {                                                                       \
        if (!(cond)) {                                                         \
            fprintf(stderr, "allocator_vtbl.c:%d: CHECK failed: %s\n", __LINE__, #cond); \
            failures++;                                                        \
        }                                                                      \
    } while (0)

/* A sink that counts references: the allocator must not keep one. */
static ULONG sink_refs = 1;
static NTSTATUS STDCALL sink_qi(IMXF *t, REFIID r, PVOID *p) { (void)t; (void)r; *p = NULL; return STATUS_INVALID_PARAMETER; }
static ULONG STDCALL sink_add_ref(IMXF *t) { (void)t; return ++sink_refs; }
static ULONG STDCALL sink_release(IMXF *t) { (void)t; return --sink_refs; }
static NTSTATUS STDCALL sink_set_state(IMXF *t, KSSTATE s) { (void)t; (void)s; return STATUS_SUCCESS; }
static NTSTATUS STDCALL sink_put(IMXF *t, PDMUS_KERNEL_EVENT e) { (void)t; (void)e; failures++; return STATUS_SUCCESS; }
static NTSTATUS STDCALL sink_conn(IMXF *t, PMXF s) { (void)t; (void)s; return STATUS_SUCCESS; }
static const IMXFVtbl sink_vtbl = {sink_qi, sink_add_ref, sink_release, sink_set_state, sink_put, sink_conn, sink_conn};
static IMXF sink = {&sink_vtbl};

static int is_zeroed_event(const DMUS_KERNEL_EVENT *e) {
    const BYTE *b = (const BYTE *)e;
    for (size_t i = 0; i < sizeof *e; i++) {
        if (i == offsetof(DMUS_KERNEL_EVENT, cbStruct)) {
            if (b[i] != sizeof(DMUS_KERNEL_EVENT)) return 0;
        } else if (b[i] != 0) {
            return 0;
        }
    }
    return 1;
}

static PDMUS_KERNEL_EVENT get_event(IAllocatorMXF *p) {
    PDMUS_KERNEL_EVENT e = (PDMUS_KERNEL_EVENT)(uintptr_t)1;
    NTSTATUS st = p->lpVtbl->GetMessage(p, &e);
    CHECK(st == STATUS_SUCCESS);
    CHECK(e != NULL);
    if (e) CHECK(is_zeroed_event(e));
    return e;
}

/* Returns the number of failed checks; `p` carries one reference owned by the caller. */
int mxf_c_allocator_test(IAllocatorMXF *p) {
    failures = 0;
    PVOID out;
    /* QueryInterface: the three IIDs, a bogus one, NULL out-pointer. */
    const GUID *iids[3] = {&IID_IUnknown, &IID_IMXF, &IID_IAllocatorMXF};
    for (int i = 0; i < 3; i++) {
        out = NULL;
        CHECK(p->lpVtbl->QueryInterface(p, iids[i], &out) == STATUS_SUCCESS);
        CHECK(out == (PVOID)p);
        CHECK(p->lpVtbl->Release(p) == 1);
    }
    out = (PVOID)p;
    CHECK(p->lpVtbl->QueryInterface(p, &IID_IPortDMus, &out) == STATUS_INVALID_PARAMETER);
    CHECK(out == NULL);
    CHECK(p->lpVtbl->QueryInterface(p, &IID_IMXF, NULL) == STATUS_INVALID_PARAMETER);

    /* AddRef / Release return the new count. */
    CHECK(p->lpVtbl->AddRef(p) == 2);
    CHECK(p->lpVtbl->AddRef(p) == 3);
    CHECK(p->lpVtbl->Release(p) == 2);
    CHECK(p->lpVtbl->Release(p) == 1);

    /* SetState: the four KSSTATEs, then out-of-range values. */
    for (KSSTATE s = 0; s <= 3; s++) CHECK(p->lpVtbl->SetState(p, s) == STATUS_SUCCESS);
    CHECK(p->lpVtbl->SetState(p, 4) == STATUS_INVALID_PARAMETER);
    CHECK(p->lpVtbl->SetState(p, -1) == STATUS_INVALID_PARAMETER);

    /* ConnectOutput / DisconnectOutput: accepted, no reference kept; NULL refused. */
    CHECK(p->lpVtbl->ConnectOutput(p, &sink) == STATUS_SUCCESS);
    CHECK(sink_refs == 1);
    CHECK(p->lpVtbl->DisconnectOutput(p, &sink) == STATUS_SUCCESS);
    CHECK(sink_refs == 1);
    CHECK(p->lpVtbl->ConnectOutput(p, NULL) == STATUS_INVALID_PARAMETER);
    CHECK(p->lpVtbl->DisconnectOutput(p, NULL) == STATUS_INVALID_PARAMETER);

    /* GetBufferSize, GetBuffer (write every byte), PutBuffer; NULL arguments. */
    USHORT size = p->lpVtbl->GetBufferSize(p);
    CHECK(size > sizeof(PBYTE));
    CHECK(p->lpVtbl->GetBufferSize(p) == size);
    PBYTE buf = NULL;
    CHECK(p->lpVtbl->GetBuffer(p, &buf) == STATUS_SUCCESS);
    CHECK(buf != NULL);
    if (buf) {
        memset(buf, 0xF0, size);
        CHECK(p->lpVtbl->PutBuffer(p, buf) == STATUS_SUCCESS);
    }
    CHECK(p->lpVtbl->GetBuffer(p, NULL) == STATUS_INVALID_PARAMETER);
    CHECK(p->lpVtbl->PutBuffer(p, NULL) == STATUS_INVALID_PARAMETER);
    CHECK(p->lpVtbl->GetMessage(p, NULL) == STATUS_INVALID_PARAMETER);

    /* PutMessage(NULL) is a no-op. */
    CHECK(p->lpVtbl->PutMessage(p, NULL) == STATUS_SUCCESS);

    /* A chain: short event -> buffer event -> package with NULL pPackageEvt ->
       package whose sub-chain is (buffer event -> short event). */
    PDMUS_KERNEL_EVENT shortev = get_event(p), bufev = get_event(p), nullpkg = get_event(p),
                       pkg = get_event(p), sub1 = get_event(p), sub2 = get_event(p);
    if (!shortev || !bufev || !nullpkg || !pkg || !sub1 || !sub2) return failures + 100;
    shortev->cbEvent = 3;
    shortev->usChannelGroup = 1;
    shortev->uData.abData[0] = 0x90;
    shortev->uData.abData[1] = 60;
    shortev->uData.abData[2] = 100;
    PBYTE b1 = NULL, b2 = NULL;
    CHECK(p->lpVtbl->GetBuffer(p, &b1) == STATUS_SUCCESS && b1 != NULL);
    CHECK(p->lpVtbl->GetBuffer(p, &b2) == STATUS_SUCCESS && b2 != NULL);
    if (!b1 || !b2) return failures + 100;
    memset(b1, 0xF7, size);
    memset(b2, 0xF0, size);
    bufev->cbEvent = size;
    bufev->usFlags = DMUS_KEF_EVENT_INCOMPLETE;
    bufev->uData.pbData = b1;
    nullpkg->usFlags = DMUS_KEF_PACKAGE_EVENT;
    nullpkg->uData.pPackageEvt = NULL;
    sub1->cbEvent = 9;
    sub1->uData.pbData = b2;
    sub1->pNextEvt = sub2;
    sub2->cbEvent = 1;
    sub2->uData.abData[0] = 0xF8;
    pkg->usFlags = DMUS_KEF_PACKAGE_EVENT;
    pkg->uData.pPackageEvt = sub1;
    shortev->pNextEvt = bufev;
    bufev->pNextEvt = nullpkg;
    nullpkg->pNextEvt = pkg;
    pkg->pNextEvt = NULL;
    CHECK(p->lpVtbl->PutMessage(p, shortev) == STATUS_SUCCESS);

    /* Recycled events come back zeroed. */
    PDMUS_KERNEL_EVENT again = get_event(p);
    if (again) CHECK(p->lpVtbl->PutMessage(p, again) == STATUS_SUCCESS);
    return failures;
}
