/* The loaded image and the rewrite of its import slots (shim.h). */
#include "shim.h"
#include <stdio.h>
#include <string.h>
#include <ntimage.h>

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
    {"IoRegisterDeviceInterface", (void *)shim_IoRegisterDeviceInterface},
    {"IoOpenDeviceInterfaceRegistryKey", (void *)shim_IoOpenDeviceInterfaceRegistryKey},
    {"RtlFreeUnicodeString", (void *)shim_RtlFreeUnicodeString},
    {"ZwClose", (void *)shim_ZwClose},
    {"DbgPrintEx", (void *)shim_DbgPrintEx},
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
