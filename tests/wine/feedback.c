/*
 * The feedback guard on the real image (the feedback run: FeedbackMaxMessagesPerSecond set low
 * by mxfwine.exe): a burst far over the limit trips it (the driver logs the trip), the muted
 * cable passes nothing while the burst goes on, ten quiet windows release it (logged, with the
 * count of what it muted, which must be exactly what was sent and not captured).
 */
#include "test.h"
#include <stdio.h>
#include <string.h>

/* Messages per render chain of the burst, and the pause between chains (ms). */
#define BURST_MSGS 50
#define BURST_PAUSE_MS 5

/* One chain of BURST_MSGS note messages (3 bytes each) to `render`. */
static void burst_chain(PMXF render, ULONG k)
{
    UCHAR b[BURST_MSGS * 3];
    for (int i = 0; i < BURST_MSGS; i++) {
        b[i * 3] = (i & 1) ? 0x82 : 0x92;
        b[i * 3 + 1] = (UCHAR)((k + (ULONG)i / 2) & 0x7F);
        b[i * 3 + 2] = (i & 1) ? 0x00 : 0x40;
    }
    port_submit_render_to(render, build_unit(b, sizeof b, 0, NULL));
}

static ULONG captured_since(ULONG base) { return g_sink.cap.msgs - base; }

/* Waits until the captured count has not moved for 100 ms (bounded: 3 s); returns it. */
static ULONG captured_settled(ULONG base)
{
    ULONG last = captured_since(base);
    for (int i = 0; i < 30; i++) {
        sleep_ms(100);
        ULONG now = captured_since(base);
        if (now == last)
            break;
        last = now;
    }
    return last;
}

/* The number after `key` in `line`, or ~0 if there is none. */
static ULONG64 number_after(const char *line, const char *key)
{
    const char *p = strstr(line, key);
    ULONG64 n = 0;
    if (!p)
        return ~0ULL;
    p += strlen(key);
    if (*p < '0' || *p > '9')
        return ~0ULL;
    while (*p >= '0' && *p <= '9')
        n = n * 10 + (ULONG64)(*p++ - '0');
    return n;
}

void feedback_checks(PMXF render)
{
    ULONG per_window = g_feedback_max / 10 ? g_feedback_max / 10 : 1;
    ULONG since = dbg_lines(), base = g_sink.cap.msgs, sent = 0, k = 0;
    char line[240], want[96];
    tlog("     feedback run: FeedbackMaxMessagesPerSecond = %lu (%lu messages per 100 ms window); bursts of %d "
         "messages every %d ms", (unsigned long)g_feedback_max, (unsigned long)per_window, BURST_MSGS,
         BURST_PAUSE_MS);
    /* The burst, until the driver logs the trip (at most about 2 s). */
    int tripped = 0;
    for (int i = 0; i < 400 && !tripped; i++) {
        burst_chain(render, k++);
        sent += BURST_MSGS;
        sleep_ms(BURST_PAUSE_MS);
        tripped = dbg_find(since, "feedback guard tripped", line, sizeof line) > 0;
    }
    _snprintf(want, sizeof want, "over %lu messages per 100 ms (%lu a second)", (unsigned long)per_window,
              (unsigned long)per_window * 10);
    want[sizeof want - 1] = 0;
    check(tripped && strstr(line, want) != NULL,
          "feedback: a burst far over FeedbackMaxMessagesPerSecond trips the guard, the driver logs it with the limit",
          "%lu messages sent; log: %s", (unsigned long)sent, tripped ? line : "(no trip line)");
    if (!tripped)
        return;
    /* The burst goes on: whatever the cable took before it muted arrives, then nothing. */
    for (int i = 0; i < 20; i++, sent += BURST_MSGS) {
        burst_chain(render, k++);
        sleep_ms(BURST_PAUSE_MS);
    }
    ULONG c1 = captured_settled(base);
    for (int i = 0; i < 40; i++, sent += BURST_MSGS) {
        burst_chain(render, k++);
        sleep_ms(BURST_PAUSE_MS);
    }
    sleep_ms(100);
    ULONG c2 = captured_since(base);
    check(c2 == c1 && c1 < sent, "feedback: the muted cable passes nothing while the burst goes on",
          "%lu messages sent, %lu captured when muted, %lu after 40 more chains", (unsigned long)sent,
          (unsigned long)c1, (unsigned long)c2);
    /* Two whole windows over the limit, then the limit's worth of the third: at least. */
    check(c1 >= 3 * per_window + 2, "feedback: it trips only in the third window over the limit",
          "%lu captured before it muted (at least %lu)", (unsigned long)c1, (unsigned long)(3 * per_window + 2));
    check(g_sink.cap.stray == 0 && norm_idle(&g_sink.cap), "feedback: what passed before the mute arrived whole",
          "stray %lu", (unsigned long)g_sink.cap.stray);
    /* Quiet (once the port's and the driver's DPCs have played the last chain): ten windows at
     * or below the limit release the guard; the next message passes. */
    for (int i = 0; i < 2000 && dpc_busy(); i++)
        sleep_ms(1);
    sleep_ms(1300);
    static const UCHAR note[] = {0x92, 0x10, 0x20};
    port_submit_render_to(render, build_unit(note, sizeof note, 0, NULL));
    for (int i = 0; i < 2000 && captured_since(base) < c1 + 1; i++)
        sleep_ms(1);
    ULONG c3 = captured_since(base);
    check(c3 == c1 + 1, "feedback: after ten quiet windows the guard releases, a message passes again",
          "%lu captured (%lu expected)", (unsigned long)c3, (unsigned long)c1 + 1);
    int released = dbg_find(since, "feedback guard released", line, sizeof line) > 0;
    ULONG64 muted = released ? number_after(line, "muted ") : ~0ULL;
    ULONG64 bytes = released ? number_after(line, "messages (") : ~0ULL;
    check(released && muted == (ULONG64)(sent - c1) && bytes == 3 * muted,
          "feedback: the driver logs the release, having counted every muted message (sent - captured) and byte",
          "%lu sent, %lu captured; log: %s", (unsigned long)sent, (unsigned long)c1,
          released ? line : "(no release line)");
    g_sink.cap.len = 0;
}
