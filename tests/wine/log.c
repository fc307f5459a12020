/* The verdict log of the test PortCls (shim.h). */
#include "shim.h"
#include <stdio.h>
#include <string.h>

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
