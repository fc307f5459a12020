/*
 * Several applications on one cable, on the real image: fan-out (two capture streams of the
 * capture pin, each with its own allocator and its own sink, each receiving every message)
 * and merge (two render streams of one render pin whose long SysEx messages and short
 * messages are interleaved call by call: every message arrives whole, a SysEx never holds a
 * byte of the other stream, realtime bytes excepted).
 */
#include "test.h"
#include <stdio.h>
#include <string.h>

/* Sends `bytes` as one unit to `stream`, expected in `exp`. */
static void send_unit(PMXF stream, norm *exp, const UCHAR *bytes, SIZE_T len, int packaged)
{
    for (SIZE_T i = 0; i < len; i++)
        norm_byte(exp, bytes[i]);
    port_submit_render_to(stream, build_unit(bytes, len, packaged, NULL));
}

/* Length of the message at `off` of a normalised stream (every message starts with its
 * status byte; a SysEx runs to its F7). */
static SIZE_T msg_len(const UCHAR *b, SIZE_T off, SIZE_T len)
{
    SIZE_T n;
    if (b[off] == 0xF0) {
        SIZE_T i = off + 1;
        while (i < len && b[i] != 0xF7)
            i++;
        return i < len ? i + 1 - off : len - off;
    }
    n = b[off] >= 0xF8 || b[off] < 0x80 ? 1 : 1 + (SIZE_T)data_len(b[off]);
    return off + n <= len ? n : len - off;
}

static int msg_at(const norm *e, SIZE_T off, const UCHAR *m, SIZE_T l)
{
    return off < e->len && msg_len(e->out, off, e->len) == l && memcmp(e->out + off, m, l) == 0;
}

/* ======================================================================================
 * Fan-out.
 */

/* The second reader stalls (the port stops pulling it, so its loopback fills) while three
 * SysEx of 400,000 bytes and short messages go by: the first reader gets every message; the
 * second, pulled again, gets whole messages in order with what found no room dropped, and
 * then every new message. */
static void stalled_reader(PMXF cap2)
{
    static c_sink *const first[1] = {&g_sink};
    norm all;
    if (!norm_new(&all, 2u << 20))
        return;
    LONG bad2 = g_sink2.not_whole + g_sink2.off_dpc + g_sink2.packages;
    g_capture_streams[1] = NULL;
    for (int i = 0; i < 2000 && dpc_busy(); i++)
        sleep_ms(1);
    g_sink2.cap.len = 0;
    for (int r = 0; r < 3; r++) {
        UCHAR *b = sysex(400000, (UCHAR)(70 + r));
        UCHAR on[3] = {0x93, (UCHAR)(0x20 + r), 0x40}, off[3] = {0x83, (UCHAR)(0x20 + r), 0x00};
        if (b) {
            send_unit(g_render_stream, &all, b, 400002, r & 1);
            for (SIZE_T i = 0; i < 400002; i++)
                norm_byte(&g_exp, b[i]);
        }
        send_unit(g_render_stream, &all, on, 3, 0);
        send_unit(g_render_stream, &all, off, 3, 0);
        for (int i = 0; i < 3; i++)
            norm_byte(&g_exp, on[i]);
        for (int i = 0; i < 3; i++)
            norm_byte(&g_exp, off[i]);
        sysex_free(b);
    }
    wait_compare_sinks("fan-out: with the second reader stalled (its loopback full) the first gets every message",
                       first, 1);
    /* The port pulls the second reader again (a service of the group, as after a Notify) until
     * it has drained its loopback (bounded). */
    SIZE_T held = g_sink2.cap.len;
    g_capture_streams[1] = cap2;
    if (g_port && g_port->group)
        g_port->iface.lpVtbl->Notify(&g_port->iface, g_port->group);
    SIZE_T last = ~(SIZE_T)0;
    for (int i = 0; i < 100 && g_sink2.cap.len != last; i++) {
        last = g_sink2.cap.len;
        sleep_ms(100);
    }
    static const UCHAR after[] = {0x9F, 0x7F, 0x7F};
    send_unit(g_render_stream, &all, after, sizeof after, 0);
    for (SIZE_T i = 0; i < sizeof after; i++)
        norm_byte(&g_exp, after[i]);
    wait_compare_sinks("fan-out: the first reader, after the stall", first, 1);
    norm *c = &g_sink2.cap;
    for (int i = 0; i < 2000 && (c->len < 3 || memcmp(c->out + c->len - 3, after, 3) != 0); i++)
        sleep_ms(1);
    /* What the second sink got: an in-order subsequence of `all`, ending with `after`. */
    SIZE_T i = 0, j = 0;
    ULONG n = 0;
    int ok = 1;
    while (ok && i < c->len) {
        SIZE_T l = msg_len(c->out, i, c->len);
        while (j < all.len && !msg_at(&all, j, c->out + i, l))
            j += msg_len(all.out, j, all.len);
        if (j >= all.len)
            ok = 0;
        else
            j += l;
        i += l;
        n++;
    }
    check(ok && j == all.len && held == 0 && c->len < all.len &&
              g_sink2.not_whole + g_sink2.off_dpc + g_sink2.packages == bad2,
          "fan-out: the stalled reader dropped what found no room; what it got is whole and in order, then new "
          "messages",
          "%s; %lu of %lu bytes in %lu messages (%lu while stalled), a cut SysEx's %lu bytes not emitted; events "
          "not whole/off the DPC/packages %ld", ok && j == all.len ? "a subsequence" : "NOT a subsequence",
          (unsigned long)c->len, (unsigned long)all.len, (unsigned long)n, (unsigned long)held,
          (unsigned long)c->stray, (long)(g_sink2.not_whole + g_sink2.off_dpc + g_sink2.packages - bad2));
    norm_reset(c);
    norm_free(&all);
}
static void fanout(PMINIPORTDMUS mp, ULONG cpin, UCHAR *cfmt, PSERVICEGROUP mine)
{
    static const UCHAR shorts[] = {0x90, 0x3C, 0x40, 0x80, 0x3C, 0x00, 0xB0, 0x07, 0x64, 0xC0, 0x05,
                                   0xE0, 0x00, 0x40, 0xD0, 0x30, 0xA0, 0x3C, 0x10, 0xF2, 0x10, 0x20};
    static const UCHAR running[] = {0x90, 0x3C, 0x40, 0x3E, 0x40, 0x40, 0x40};
    static const UCHAR realtime[] = {0xF8, 0xFA, 0xFC, 0xFE};
    static const UCHAR rt_in_sx[] = {0xF0, 0x7D, 0x01, 0xF8, 0x02, 0x03, 0xF7};
    c_sink *const both[2] = {&g_sink, &g_sink2};
    PSERVICEGROUP g2 = NULL;
    ULONGLONG pf;
    NTSTATUS st;
    PMXF cap2 = new_stream_with(mp, cpin, DMUS_STREAM_MIDI_CAPTURE, cfmt, &g_alloc2, &g2, &pf, &st);
    if (!check(NT_SUCCESS(st) && cap2,
               "fan-out: a second capture stream (an allocator of its own) opens beside the first", "%#lx",
               (unsigned long)st))
        return;
    if (g2 && g2 != mine)
        dcall("IServiceGroup::AddMember", g2->lpVtbl->AddMember, 2, A(g2), A(&g_svc));
    st = (NTSTATUS)dcall("IMXF::ConnectOutput", cap2->lpVtbl->ConnectOutput, 2, A(cap2), A(&g_sink2.iface));
    check(NT_SUCCESS(st), "fan-out: second capture ConnectOutput(its own sink)", "%#lx", (unsigned long)st);
    g_capture_streams[1] = cap2;
    check(NT_SUCCESS(set_states(cap2, g_up, 3, "IMXF::SetState")), "fan-out: second capture ACQUIRE/PAUSE/RUN", "");
    LONG ev1 = g_sink.events, inc1 = g_sink.incomplete;
    LONG ev2 = g_sink2.events, inc2 = g_sink2.incomplete, bad2 = g_sink2.not_whole + g_sink2.off_dpc + g_sink2.packages;
    LONG got2 = g_alloc2.ev_out;

    for (SIZE_T i = 0; i < sizeof shorts;) {
        SIZE_T n = data_len(shorts[i]) + 1;
        send_unit(g_render_stream, &g_exp, shorts + i, n, 0);
        i += n;
    }
    wait_compare_sinks("fan-out: every kind of short message (flat)", both, 2);
    send_unit(g_render_stream, &g_exp, shorts, 9, 1);
    send_unit(g_render_stream, &g_exp, running, sizeof running, 0);
    wait_compare_sinks("fan-out: short messages in a package, running status", both, 2);
    for (SIZE_T i = 0; i < sizeof realtime; i++)
        send_unit(g_render_stream, &g_exp, realtime + i, 1, (int)(i & 1));
    send_unit(g_render_stream, &g_exp, rt_in_sx, sizeof rt_in_sx, 0);
    wait_compare_sinks("fan-out: realtime bytes (flat, packaged, inside a SysEx)", both, 2);
    static const SIZE_T sizes[] = {5000, 65537};
    for (int i = 0; i < 2; i++)
        for (int pk = 0; pk < 2; pk++) {
            char name[96];
            UCHAR *b = sysex(sizes[i], (UCHAR)(40 + i * 2 + pk));
            if (!b)
                continue;
            _snprintf(name, sizeof name, "fan-out: SysEx of %lu bytes (%s)", (unsigned long)sizes[i],
                      pk ? "package" : "flat chain");
            send_unit(g_render_stream, &g_exp, b, sizes[i] + 2, pk);
            wait_compare_sinks(name, both, 2);
            sysex_free(b);
        }
    {
        /* Everything at once: short messages, a SysEx, running status, realtime, one after the
         * other without waiting. */
        UCHAR *b = sysex(9000, 47);
        send_unit(g_render_stream, &g_exp, shorts, sizeof shorts, 0);
        if (b)
            send_unit(g_render_stream, &g_exp, b, 9002, 0);
        send_unit(g_render_stream, &g_exp, realtime, 1, 0);
        send_unit(g_render_stream, &g_exp, running, sizeof running, 1);
        wait_compare_sinks("fan-out: chains sent back to back (short, SysEx of 9000 bytes, realtime, package)", both,
                           2);
        sysex_free(b);
    }
    check(g_sink2.events > ev2 && g_sink2.not_whole + g_sink2.off_dpc + g_sink2.packages == bad2,
          "fan-out: the second sink's events: each COMPLETE one exactly one message, all from a DPC, no packages",
          "%ld events; in all %ld not whole, %ld off the DPC, %ld packages", (long)(g_sink2.events - ev2),
          (long)g_sink2.not_whole, (long)g_sink2.off_dpc, (long)g_sink2.packages);
    /* Both readers are built alike (the same CaptureMode): the same events for the same bytes. */
    check(g_sink2.events - ev2 == g_sink.events - ev1 && g_sink2.incomplete - inc2 == g_sink.incomplete - inc1,
          "fan-out: both sinks got the same events", "first %ld (%ld INCOMPLETE), second %ld (%ld INCOMPLETE)",
          (long)(g_sink.events - ev1), (long)(g_sink.incomplete - inc1), (long)(g_sink2.events - ev2),
          (long)(g_sink2.incomplete - inc2));
    check(g_alloc2.ev_out > got2, "fan-out: the second capture stream took its events from its own allocator",
          "%ld events from it", (long)(g_alloc2.ev_out - got2));

    stalled_reader(cap2);

    check(NT_SUCCESS(set_states(cap2, g_down, 3, "IMXF::SetState")), "fan-out: second capture PAUSE/ACQUIRE/STOP",
          "");
    st = (NTSTATUS)dcall("IMXF::DisconnectOutput", cap2->lpVtbl->DisconnectOutput, 2, A(cap2), A(&g_sink2.iface));
    check(NT_SUCCESS(st), "fan-out: second capture DisconnectOutput(its sink)", "%#lx", (unsigned long)st);
    g_capture_streams[1] = NULL;
    for (int i = 0; i < 2000 && dpc_busy(); i++)
        sleep_ms(1);
    dcall("IMXF::Release (stream)", cap2->lpVtbl->Release, 1, A(cap2));
    release_group(g2, mine);
}

/* ======================================================================================
 * Merge.
 */

/* Waits (bounded) for both streams' messages at g_sink, then checks that the captured
 * messages are exactly the two streams' messages, each stream's in its order (the two sets
 * share no message: realtime bytes are only sent by the second stream); empties all three. */
static void merge_compare(const char *name, norm *ea, norm *eb)
{
    norm *c = &g_sink.cap;
    SIZE_T want = ea->len + eb->len, i = 0, a = 0, b = 0;
    ULONG n = 0;
    int ok = 1;
    char why[200] = "";
    for (int t = 0; t < 5000 && c->len < want; t++)
        sleep_ms(1);
    sleep_ms(5);
    while (ok && i < c->len) {
        SIZE_T l = msg_len(c->out, i, c->len);
        if (msg_at(ea, a, c->out + i, l))
            a += l;
        else if (msg_at(eb, b, c->out + i, l))
            b += l;
        else {
            ok = 0;
            _snprintf(why, sizeof why, "captured message %lu (at byte %lu, status %02X, %lu bytes) is neither "
                      "stream's next one; ", (unsigned long)n, (unsigned long)i, c->out[i], (unsigned long)l);
        }
        i += l;
        n++;
    }
    why[sizeof why - 1] = 0;
    check(ok && a == ea->len && b == eb->len && c->stray == 0 && ea->stray == 0 && eb->stray == 0, name,
          "%s%lu messages captured; stream 1: %lu of %lu bytes matched, stream 2: %lu of %lu; stray %lu", why,
          (unsigned long)n, (unsigned long)a, (unsigned long)ea->len, (unsigned long)b, (unsigned long)eb->len,
          (unsigned long)c->stray);
    /* The next comparison starts clean even after a failed one. */
    norm_reset(ea);
    norm_reset(eb);
    norm_reset(c);
}

/* The events of `chain` as chains of one event each (out[0..n)); returns n. */
static int split_chain(PDMUS_KERNEL_EVENT chain, PDMUS_KERNEL_EVENT *out, int cap)
{
    int n = 0;
    while (chain && n < cap) {
        PDMUS_KERNEL_EVENT next = chain->pNextEvt;
        chain->pNextEvt = NULL;
        out[n++] = chain;
        chain = next;
    }
    if (chain)
        alloc_put_chain(&g_alloc, chain);
    return n;
}

static int wait_raw(SIZE_T at_least, LONG ms)
{
    for (LONG t = 0; t < ms && g_sink.raw_len < at_least; t++)
        sleep_ms(1);
    return g_sink.raw_len >= at_least;
}

/* A verdict name: "merge (<where>): <what>". */
static const char *mname(char *buf, SIZE_T cap, const char *where, const char *what)
{
    _snprintf(buf, cap, "merge (%s): %s", where, what);
    buf[cap - 1] = 0;
    return buf;
}

/* Stream 1 is `ra`; stream 2 a new stream of render pin `bpin` (format `bfmt`); `where` says
 * which pin that is. */
static void merge(PMINIPORTDMUS mp, ULONG bpin, UCHAR *bfmt, const char *where, PMXF ra, PSERVICEGROUP mine)
{
    char name[160];
    norm ea, eb;
    PSERVICEGROUP gb = NULL;
    ULONGLONG pf;
    NTSTATUS st;
    UCHAR *raw = pool_alloc(64 << 10, SHIM_TAG('T', 'r', 'a', 'w'), 0);
    PMXF rb = new_stream_with(mp, bpin, DMUS_STREAM_MIDI_RENDER, bfmt, &g_alloc, &gb, &pf, &st);
    if (!check(NT_SUCCESS(st) && rb, mname(name, sizeof name, where, "a second render stream opens"),
               "pin %lu: %#lx", (unsigned long)bpin, (unsigned long)st) ||
        !norm_new(&ea, 256 << 10) || !norm_new(&eb, 256 << 10) || !raw) {
        if (rb) {
            dcall("IMXF::Release (stream)", rb->lpVtbl->Release, 1, A(rb));
            release_group(gb, mine);
        }
        if (raw)
            pool_free(raw, SHIM_TAG('T', 'r', 'a', 'w'), "raw capture");
        return;
    }
    if (gb && gb != mine)
        dcall("IServiceGroup::AddMember", gb->lpVtbl->AddMember, 2, A(gb), A(&g_svc));
    check(NT_SUCCESS(set_states(rb, g_up, 3, "IMXF::SetState")),
          mname(name, sizeof name, where, "second render ACQUIRE/PAUSE/RUN"), "");
    g_sink.cap.len = 0;
    g_sink.raw_len = 0;
    g_sink.raw_cap = 64 << 10;
    g_sink.raw = raw;

    /* Phase 1, call by call: stream 1 starts a SysEx of three pieces (4096 + 4096 + 1810
     * bytes, each piece in a PutMessage of its own); while it holds the cable, stream 2 sends a
     * realtime byte (it passes), a short message and a SysEx (they wait); stream 1 ends its
     * SysEx and goes on with short messages and a SysEx, stream 2 likewise. */
    static const UCHAR clock[] = {0xF8};
    static const UCHAR a_on[] = {0x90, 0x40, 0x50}, a_off[] = {0x80, 0x40, 0x00};
    static const UCHAR b_on[] = {0x91, 0x41, 0x51}, b_off[] = {0x81, 0x41, 0x00}, b_cc[] = {0xB1, 0x07, 0x33};
    UCHAR *sa1 = sysex(10000, 61), *sa2 = sysex(5000, 62), *sb1 = sysex(6000, 63), *sb2 = sysex(9000, 64);
    if (sa1 && sa2 && sb1 && sb2) {
        sa1[1] = sa2[1] = 0x0A; /* the first data byte tells the streams' SysEx apart */
        sb1[1] = sb2[1] = 0x0B;
        PDMUS_KERNEL_EVENT piece[3];
        for (SIZE_T i = 0; i < 10002; i++)
            norm_byte(&ea, sa1[i]);
        int np = split_chain(build_unit(sa1, 10002, 0, NULL), piece, 3);
        if (np > 0)
            port_submit_render_to(ra, piece[0]);
        int first = wait_raw(4096, 2000);
        check(np == 3 && first, mname(name, sizeof name, where, "stream 1's first SysEx piece reached the sink"),
              "%d pieces; %lu bytes captured", np, (unsigned long)g_sink.raw_len);
        send_unit(rb, &eb, clock, 1, 0);
        send_unit(rb, &eb, b_on, sizeof b_on, 0);
        send_unit(rb, &eb, sb1, 6002, 0);
        int passed = wait_raw(4097, 2000);
        sleep_ms(30);
        check(passed && g_sink.raw_len == 4097 && raw[4096] == 0xF8,
              mname(name, sizeof name, where,
                    "while stream 1's SysEx holds the cable only stream 2's realtime byte passes"),
              "%lu bytes captured (4097 expected), byte 4096 is %02X", (unsigned long)g_sink.raw_len,
              g_sink.raw_len > 4096 ? raw[4096] : 0);
        for (int k = 1; k < np; k++) {
            port_submit_render_to(ra, piece[k]);
            sleep_ms(2);
        }
        send_unit(ra, &ea, a_on, sizeof a_on, 0);
        send_unit(ra, &ea, sa2, 5002, 1);
        send_unit(ra, &ea, a_off, sizeof a_off, 0);
        send_unit(rb, &eb, b_off, sizeof b_off, 0);
        send_unit(rb, &eb, clock, 1, 0);
        send_unit(rb, &eb, sb2, 9002, 0);
        merge_compare(mname(name, sizeof name, where,
                            "call by call: every message whole, each stream's in its order, a SysEx held whole"),
                      &ea, &eb);
        /* The realtime byte went out inside stream 1's SysEx, as on a wire. */
        SIZE_T end1 = 0;
        while (end1 < g_sink.raw_len && raw[end1] != 0xF7)
            end1++;
        check(raw[0] == 0xF0 && raw[1] == 0x0A && end1 < g_sink.raw_len && end1 > 4096,
              mname(name, sizeof name, where, "stream 2's realtime byte sits inside stream 1's SysEx on the wire"),
              "first F7 at byte %lu of %lu", (unsigned long)end1, (unsigned long)g_sink.raw_len);
    }
    g_sink.raw = NULL;

    /* Phase 2, back to back: eight rounds of both streams' SysEx (two to three pieces each,
     * flat or packaged) and short messages, their PutMessage calls alternating, nothing
     * awaited in between. */
    for (int k = 0; k < 8 && sa1 && sb1; k++) {
        UCHAR on[3] = {0x90, (UCHAR)(0x30 + k), 0x40}, pc[2] = {0xC0, (UCHAR)k};
        UCHAR bon[3] = {0x91, (UCHAR)(0x30 + k), 0x41};
        SIZE_T la = 8192 + 37 * (SIZE_T)k, lb = 5000 + 53 * (SIZE_T)k;
        sa1[la + 1] = 0xF7; /* a shorter SysEx out of the same buffers */
        sb1[lb + 1] = 0xF7;
        send_unit(ra, &ea, sa1, la + 2, k & 1);
        send_unit(rb, &eb, sb1, lb + 2, !(k & 1));
        send_unit(ra, &ea, on, 3, 0);
        send_unit(rb, &eb, bon, 3, 0);
        send_unit(rb, &eb, clock, 1, 0);
        send_unit(ra, &ea, pc, 2, 0);
        send_unit(rb, &eb, b_cc, sizeof b_cc, 0);
        sa1[la + 1] = (UCHAR)((la * 7 + 61 + (la >> 7)) & 0x7F);
        sb1[lb + 1] = (UCHAR)((lb * 7 + 63 + (lb >> 7)) & 0x7F);
    }
    merge_compare(mname(name, sizeof name, where,
                        "back to back: every message whole, each stream's in its order, a SysEx held whole"),
                  &ea, &eb);
    sysex_free(sa1);
    sysex_free(sa2);
    sysex_free(sb1);
    sysex_free(sb2);

    check(NT_SUCCESS(set_states(rb, g_down, 3, "IMXF::SetState")),
          mname(name, sizeof name, where, "second render PAUSE/ACQUIRE/STOP"), "");
    for (int i = 0; i < 2000 && dpc_busy(); i++)
        sleep_ms(1);
    dcall("IMXF::Release (stream)", rb->lpVtbl->Release, 1, A(rb));
    release_group(gb, mine);
    norm_free(&ea);
    norm_free(&eb);
    pool_free(raw, SHIM_TAG('T', 'r', 'a', 'w'), "raw capture");
}

void multiclient_checks(PMINIPORTDMUS mp, ULONG rpin, ULONG rpin2, ULONG cpin, UCHAR *rfmt, UCHAR *fmt2,
                        UCHAR *cfmt, PMXF render)
{
    PSERVICEGROUP mine = g_port ? g_port->group : NULL;
    g_exp.len = g_sink.cap.len = 0;
    fanout(mp, cpin, cfmt, mine);
    merge(mp, rpin, rfmt, "the same render pin", render, mine);
    if (rpin2 != ~0u)
        merge(mp, rpin2, fmt2, "the other render pin", render, mine);
}
