/*
 * What the test sequence's files share (test.c runs the sequence; multiclient.c and
 * feedback.c add the checks of several streams per pin and of the feedback guard): the
 * helpers that build render chains, open and drive streams and compare what was captured.
 */
#pragma once
#include "port.h"

#define A(x) ((ULONG64)(ULONG_PTR)(x))

/* What the comparisons expect (the sent bytes, normalised). */
extern norm g_exp;
/* Services\mxfloop\Parameters\FeedbackMaxMessagesPerSecond as the test read it. */
extern ULONG g_feedback_max;
extern ULONG g_capture_mode;

void sleep_ms(LONG ms);
/* The events of one unit (bytes) in the render form, from g_alloc: short data inline, longer
 * runs in buffers of GetBufferSize bytes, every fragment but the last INCOMPLETE; `packaged`
 * wraps them in one package event. `*tailp` (if given) gets the chain's last pNextEvt. */
PDMUS_KERNEL_EVENT build_unit(const UCHAR *bytes, SIZE_T len, int packaged, PDMUS_KERNEL_EVENT **tailp);
/* F0, `payload` data bytes (a pattern of `seed`), F7, from the tracked pool (tag Tsyx). */
UCHAR *sysex(SIZE_T payload, UCHAR seed);
void sysex_free(UCHAR *b);
/* Waits (bounded) until each of the `n` sinks holds as many normalised bytes as g_exp, then
 * compares each byte for byte (one verdict per sink); empties g_exp and the sinks. */
int wait_compare_sinks(const char *name, c_sink *const *sinks, int n);
NTSTATUS set_states(PMXF s, const KSSTATE *st, int n, const char *what);
PMXF new_stream_with(PMINIPORTDMUS mp, ULONG pin, DMUS_STREAM_TYPE type, UCHAR *fmt, c_alloc *alloc,
                     PSERVICEGROUP *group, ULONGLONG *prefetch, NTSTATUS *status);
/* Releases a stream's service group reference (removing the port's sink first when it is not
 * the miniport's own group `mine`). */
void release_group(PSERVICEGROUP g, PSERVICEGROUP mine);
extern const KSSTATE g_up[3], g_down[3];

/* multiclient.c: fan-out to two capture streams (each with its own allocator and sink), then
 * the merge of `render` (a stream of render pin `rpin`) with a second stream of `rpin`, and
 * with one of render pin `rpin2` (unless ~0u; `fmt2` its format). `render` and the capture of
 * g_sink (pulled through g_capture_streams[0]) are running. */
void multiclient_checks(PMINIPORTDMUS mp, ULONG rpin, ULONG rpin2, ULONG cpin, UCHAR *rfmt, UCHAR *fmt2,
                        UCHAR *cfmt, PMXF render);
/* feedback.c: the feedback guard trips on a burst over FeedbackMaxMessagesPerSecond, mutes the
 * cable (counted and logged) and releases after quiet windows. `render` and the capture of
 * g_sink are running. */
void feedback_checks(PMXF render);
