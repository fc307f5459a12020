/* The driver's DbgPrintEx lines, kept for the checks (shim.h) and passed on to Wine's. */
#include "shim.h"
#include <stdio.h>
#include <string.h>

/* ======================================================================================
 * The last DBG_LINES lines the image printed (each cut to DBG_LINE_MAX bytes), in a ring, and
 * for every line ever printed a running count: a check asks how many contained a string and
 * gets the newest such line still in the ring.
 */
#define DBG_LINES 64
#define DBG_LINE_MAX 240
static char g_lines[DBG_LINES][DBG_LINE_MAX];
static ULONG g_nlines; /* lines printed in all; the newest is g_lines[(g_nlines - 1) % DBG_LINES] */
static spin_t g_lines_lock;
volatile LONG g_dbg_zero_releases;



ULONG __cdecl shim_DbgPrintEx(ULONG id, ULONG level, PCSTR fmt, ...)
{
    char line[DBG_LINE_MAX];
    va_list ap;
    va_start(ap, fmt);
    _vsnprintf(line, sizeof line - 1, fmt, ap);
    va_end(ap);
    line[sizeof line - 1] = 0;
    for (SIZE_T n = strlen(line); n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'); n--)
        line[n - 1] = 0;
    if (strstr(line, "Release on a zero count"))
        InterlockedIncrement(&g_dbg_zero_releases);
    spin_lock(&g_lines_lock);
    memcpy(g_lines[g_nlines % DBG_LINES], line, sizeof line);
    g_nlines++;
    spin_unlock(&g_lines_lock);
    va_start(ap, fmt);
    ULONG r = vDbgPrintEx(id, level, fmt, ap);
    va_end(ap);
    return r;
}

ULONG dbg_lines(void) { return g_nlines; }

ULONG dbg_find(ULONG since, const char *needle, char *out, SIZE_T cap)
{
    ULONG found = 0;
    if (cap)
        out[0] = 0;
    spin_lock(&g_lines_lock);
    ULONG from = g_nlines > DBG_LINES && since < g_nlines - DBG_LINES ? g_nlines - DBG_LINES : since;
    for (ULONG i = from; i < g_nlines; i++) {
        const char *l = g_lines[i % DBG_LINES];
        if (!strstr(l, needle))
            continue;
        found++;
        if (cap) {
            strncpy(out, l, cap - 1);
            out[cap - 1] = 0;
        }
    }
    spin_unlock(&g_lines_lock);
    return found;
}
