/* The tracked pool and the pool/lookaside imports (shim.h). */
#include "shim.h"
#include <stdio.h>
#include <string.h>

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
void *NTAPI shim_ExAllocatePool2(ULONG64 flags, SIZE_T size, ULONG tag)
{
    if (tag == 0) {
        check(0, "ExAllocatePool2 with tag 0", "Windows bug-checks");
        return NULL;
    }
    return pool_alloc(size, tag, !(flags & POOL_FLAG_UNINITIALIZED_));
}

void NTAPI shim_ExFreePoolWithTag(void *p, ULONG tag) { pool_free(p, tag, "ExFreePoolWithTag"); }

volatile LONG g_lookasides;
static PVOID NTAPI la_default_alloc(POOL_TYPE type, SIZE_T size, ULONG tag, PLOOKASIDE_LIST_EX la)
{
    (void)type;
    (void)la;
    return pool_alloc(size, tag, 0);
}
static VOID NTAPI la_default_free(PVOID p, PLOOKASIDE_LIST_EX la) { pool_free(p, la->L.Tag, "lookaside FreeEx"); }

NTSTATUS NTAPI shim_ExInitializeLookasideListEx(PLOOKASIDE_LIST_EX la, PALLOCATE_FUNCTION_EX a,
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

VOID NTAPI shim_ExDeleteLookasideListEx(PLOOKASIDE_LIST_EX la)
{
    PSLIST_ENTRY e;
    while ((e = InterlockedPopEntrySList(&la->L.ListHead)) != NULL)
        la->L.FreeEx(e, la);
    InterlockedDecrement(&g_lookasides);
}
