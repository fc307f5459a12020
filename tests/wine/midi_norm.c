/* The MIDI normaliser (midi_norm.h). */
#include "midi_norm.h"
#include <string.h>

int norm_new(norm *n, SIZE_T cap)
{
    memset(n, 0, sizeof *n);
    n->out = pool_alloc(cap, SHIM_TAG('T', 'n', 'o', 'r'), 0);
    n->sx = pool_alloc(cap, SHIM_TAG('T', 'n', 's', 'x'), 0);
    n->cap = n->sx_cap = cap;
    return n->out && n->sx;
}
void norm_free(norm *n)
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
int data_len(UCHAR s)
{
    switch (s & 0xF0) {
    case 0xC0: case 0xD0: return 1;
    case 0xF0:
        return s == 0xF1 || s == 0xF3 ? 1 : s == 0xF2 ? 2 : 0;
    default: return 2;
    }
}
void norm_byte(norm *n, UCHAR b)
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
void norm_reset(norm *n)
{
    n->status = n->need = n->have = 0;
    n->in_sysex = 0;
    n->sx_len = 0;
    n->len = 0;
    n->msgs = n->stray = 0;
}
int norm_idle(const norm *n) { return !n->in_sysex && n->have == 0; }

