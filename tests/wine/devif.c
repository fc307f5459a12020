/*
 * The device-interface shim (shim.h): IoRegisterDeviceInterface and
 * IoOpenDeviceInterfaceRegistryKey with Windows semantics for the test's PDO, and the two
 * calls that pair with them, RtlFreeUnicodeString and ZwClose, tracked so that the unload
 * check sees every symbolic link freed and every key closed. Wine's own versions need a PDO
 * of Wine's PnP manager (they ask it for its device instance), which the test's PDO is not.
 * Each interface's key is a real registry key of the test's own,
 * Services\mxfloop\WineDeviceInterfaces\{CATEGORY}#<reference>; ZwSetValueKey stays Wine's.
 */
#include "shim.h"
#include <stdio.h>
#include <string.h>

#define MAX_DEVIF 64
#define LINK_TAG SHIM_TAG('I', 'o', 'L', 'k')
static const WCHAR g_base[] = L"\\Registry\\Machine\\System\\CurrentControlSet\\Services\\mxfloop\\WineDeviceInterfaces";

PDEVICE_OBJECT g_devif_pdo;
volatile LONG g_devif_bad_calls, g_links_live, g_keys_live;
volatile NTSTATUS g_devif_open_fail;
volatile LONG g_devif_read_only;
static spin_t g_devif_lock;
static PWSTR g_links[MAX_DEVIF];  /* symbolic-link buffers handed out and not yet freed */
static HANDLE g_keys[MAX_DEVIF];  /* key handles handed out and not yet closed */
static struct {
    WCHAR ref[32];
    LONG opens;
} g_refs[MAX_DEVIF];              /* interface keys opened, per reference string */

static int put(void **table, void *v)
{
    int ok = 0;
    spin_lock(&g_devif_lock);
    for (int i = 0; i < MAX_DEVIF && !ok; i++)
        if (!table[i]) {
            table[i] = v;
            ok = 1;
        }
    spin_unlock(&g_devif_lock);
    return ok;
}

static int take(void **table, void *v)
{
    int found = 0;
    spin_lock(&g_devif_lock);
    for (int i = 0; i < MAX_DEVIF && !found; i++)
        if (v && table[i] == v) {
            table[i] = NULL;
            found = 1;
        }
    spin_unlock(&g_devif_lock);
    return found;
}

static int live(void **table, void *v)
{
    int found = 0;
    spin_lock(&g_devif_lock);
    for (int i = 0; i < MAX_DEVIF && !found; i++)
        found = v && table[i] == v;
    spin_unlock(&g_devif_lock);
    return found;
}

LONG devif_opens_for(PCWSTR ref)
{
    LONG n = 0;
    spin_lock(&g_devif_lock);
    for (int i = 0; i < MAX_DEVIF; i++)
        if (g_refs[i].ref[0] && wcscmp(g_refs[i].ref, ref) == 0)
            n = g_refs[i].opens;
    spin_unlock(&g_devif_lock);
    return n;
}

static void count_open(PCWSTR ref, SIZE_T len)
{
    spin_lock(&g_devif_lock);
    int slot = -1;
    for (int i = 0; i < MAX_DEVIF; i++) {
        if (g_refs[i].ref[0] && wcsncmp(g_refs[i].ref, ref, len) == 0 && g_refs[i].ref[len] == 0) {
            slot = i;
            break;
        }
        if (slot < 0 && !g_refs[i].ref[0])
            slot = i;
    }
    if (slot >= 0 && len < 32) {
        if (!g_refs[slot].ref[0]) {
            memcpy(g_refs[slot].ref, ref, len * sizeof(WCHAR));
            g_refs[slot].ref[len] = 0;
        }
        g_refs[slot].opens++;
    }
    spin_unlock(&g_devif_lock);
}

/* The link Windows forms: \??\ROOT#MEDIA#0000#{category}\<reference>. */
NTSTATUS NTAPI shim_IoRegisterDeviceInterface(PDEVICE_OBJECT pdo, CONST GUID *g, PUNICODE_STRING ref,
                                              PUNICODE_STRING link)
{
    char head[96];
    USHORT nref = ref && ref->Buffer ? ref->Length / sizeof(WCHAR) : 0;
    if (pdo != g_devif_pdo || !g || !link || nref == 0 || nref > 31) {
        InterlockedIncrement(&g_devif_bad_calls);
        return STATUS_INVALID_DEVICE_REQUEST;
    }
    for (USHORT i = 0; i < nref; i++)
        if (ref->Buffer[i] == L'\\' || ref->Buffer[i] == L'/' || ref->Buffer[i] == 0) {
            InterlockedIncrement(&g_devif_bad_calls);
            return STATUS_INVALID_DEVICE_REQUEST;
        }
    int n = _snprintf(head, sizeof head, "\\??\\ROOT#MEDIA#0000#{%08lX-%04X-%04X-%02X%02X-%02X%02X%02X%02X%02X%02X}\\",
                      (unsigned long)g->Data1, g->Data2, g->Data3, g->Data4[0], g->Data4[1], g->Data4[2], g->Data4[3],
                      g->Data4[4], g->Data4[5], g->Data4[6], g->Data4[7]);
    SIZE_T units = (SIZE_T)n + nref;
    PWSTR buf = pool_alloc((units + 1) * sizeof(WCHAR), LINK_TAG, 1);
    if (!buf)
        return STATUS_INSUFFICIENT_RESOURCES;
    for (int i = 0; i < n; i++)
        buf[i] = (WCHAR)(UCHAR)head[i];
    memcpy(buf + n, ref->Buffer, nref * sizeof(WCHAR));
    if (!put((void **)g_links, buf)) {
        pool_free(buf, LINK_TAG, "symbolic link");
        return STATUS_INSUFFICIENT_RESOURCES;
    }
    InterlockedIncrement(&g_links_live);
    link->Buffer = buf;
    link->Length = (USHORT)(units * sizeof(WCHAR));
    link->MaximumLength = (USHORT)((units + 1) * sizeof(WCHAR));
    return STATUS_SUCCESS;
}

static NTSTATUS create_key(PCWSTR path, USHORT bytes, ACCESS_MASK access, HANDLE *h)
{
    UNICODE_STRING name = {bytes, bytes, (PWSTR)path};
    OBJECT_ATTRIBUTES oa;
    InitializeObjectAttributes(&oa, &name, OBJ_CASE_INSENSITIVE | OBJ_KERNEL_HANDLE, NULL, NULL);
    return ZwCreateKey(h, access, &oa, 0, NULL, REG_OPTION_NON_VOLATILE, NULL);
}

NTSTATUS NTAPI shim_IoOpenDeviceInterfaceRegistryKey(PUNICODE_STRING link, ACCESS_MASK access, PHANDLE out)
{
    WCHAR path[256];
    HANDLE h;
    NTSTATUS st;
    (void)access;
    if (!out || !link || !live((void **)g_links, link->Buffer)) {
        InterlockedIncrement(&g_devif_bad_calls);
        return STATUS_OBJECT_NAME_NOT_FOUND;
    }
    *out = NULL;
    if (g_devif_open_fail)
        return g_devif_open_fail;
    /* {CATEGORY}\<reference> of the link becomes the subkey {CATEGORY}#<reference>. */
    USHORT units = link->Length / sizeof(WCHAR);
    USHORT brace = 0;
    for (USHORT i = 0; i < units; i++)
        if (link->Buffer[i] == L'{')
            brace = i;
    SIZE_T nbase = wcslen(g_base), ntail = units - brace;
    if (nbase + 1 + ntail >= 256)
        return STATUS_OBJECT_NAME_INVALID;
    if (!NT_SUCCESS(st = create_key(g_base, (USHORT)(nbase * sizeof(WCHAR)), KEY_ALL_ACCESS, &h)))
        return st;
    ZwClose(h);
    memcpy(path, g_base, nbase * sizeof(WCHAR));
    path[nbase] = L'\\';
    memcpy(path + nbase + 1, link->Buffer + brace, ntail * sizeof(WCHAR));
    SIZE_T sep = 0, total = nbase + 1 + ntail;
    for (SIZE_T i = nbase + 1; i < total; i++)
        if (path[i] == L'\\') {
            path[i] = L'#';
            sep = i;
        }
    path[total] = 0;
    if (!NT_SUCCESS(st = create_key(path, (USHORT)(total * sizeof(WCHAR)),
                                    g_devif_read_only ? KEY_READ : KEY_ALL_ACCESS, &h)))
        return st;
    if (!put((void **)g_keys, h)) {
        ZwClose(h);
        return STATUS_INSUFFICIENT_RESOURCES;
    }
    InterlockedIncrement(&g_keys_live);
    if (sep)
        count_open(path + sep + 1, total - sep - 1);
    *out = h;
    return STATUS_SUCCESS;
}

VOID NTAPI shim_RtlFreeUnicodeString(PUNICODE_STRING s)
{
    if (s && take((void **)g_links, s->Buffer)) {
        pool_free(s->Buffer, LINK_TAG, "symbolic link");
        InterlockedDecrement(&g_links_live);
        s->Buffer = NULL;
        s->Length = s->MaximumLength = 0;
        return;
    }
    RtlFreeUnicodeString(s);
}

NTSTATUS NTAPI shim_ZwClose(HANDLE h)
{
    if (take((void **)g_keys, h))
        InterlockedDecrement(&g_keys_live);
    return ZwClose(h);
}
