/*
 * MIDI normaliser of the test PortCls: turns a byte stream into whole messages (running status
 * expanded, a SysEx emitted whole at its F7, realtime bytes at once), so that what was sent and
 * what was captured compare byte for byte whatever the event boundaries.
 */
#pragma once
#include "shim.h"

typedef struct norm {
    UCHAR status, need, have, msg[3];
    int in_sysex;
    UCHAR *sx;
    SIZE_T sx_len, sx_cap;
    UCHAR *out;
    SIZE_T len, cap;
    ULONG msgs, stray;
} norm;

/* Output and SysEx buffers of `cap` bytes each, from the tracked pool. */
int norm_new(norm *n, SIZE_T cap);
void norm_free(norm *n);
void norm_byte(norm *n, UCHAR b);
/* Forgets the output, the stray count and any message or SysEx begun (the buffers stay). */
void norm_reset(norm *n);
/* No message begun and not inside a SysEx. */
int norm_idle(const norm *n);
/* Data bytes that follow status byte `s`. */
int data_len(UCHAR s);
