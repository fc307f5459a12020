/*
 * The test PortCls's DMus port: IPortDMus and its IServiceSink, the port's IAllocatorMXF,
 * master clock and capture sink, the port's DPCs, and the PortCls factories
 * (PcAddAdapterDevice, PcNewPort, PcRegisterSubdevice). The port behaves as PortCls's DMus
 * port does (README.md of the repository, "The DMus contract the miniport keeps";
 * crates/mxf-portemu is the Rust model of the same port).
 */
#pragma once
#define PC_NO_IMPORTS
#include "shim.h"
#include "midi_norm.h"
#include <portcls.h>
#include <dmusicks.h>

extern const GUID IID_IMXF_; /* guids.c */

#ifndef DMUS_KEF_EVENT_INCOMPLETE
#define DMUS_KEF_EVENT_COMPLETE 0x0000
#define DMUS_KEF_EVENT_INCOMPLETE 0x0001
#define DMUS_KEF_PACKAGE_EVENT 0x0002
#endif
/* The bReserved value the port's allocator gives every event (the miniport keeps it); the
 * second allocator (a second capture stream's) marks its events EVENT_MARK + 1. */
#define EVENT_MARK 0xA7
/* GetBufferSize of the port's allocator. */
#define ALLOC_BUFFER_SIZE 4096
#define MAX_GROUPS 8

/* The port's IAllocatorMXF: events and buffers from the tracked pool, with the counts the
 * end-of-test checks read. */
typedef struct c_alloc {
    IAllocatorMXF iface;
    volatile LONG refs;
    UCHAR mark; /* the bReserved of its events: tells the allocators apart */
    volatile LONG ev_out, ev_in, buf_out, buf_in;
    volatile LONG marks_changed, attached_pkgs, put_buffer_calls;
    volatile LONG foreign; /* events of another allocator of the port handed back here */
} c_alloc;

typedef struct c_clock {
    IMasterClock iface;
    volatile LONG refs;
} c_clock;

/* A capture sink: what its capture stream delivers, normalised in `cap` (and, while `raw` is
 * set, the bytes as delivered, event after event); the chains go back to `alloc`, the
 * allocator its capture stream was given. */
typedef struct c_sink {
    IMXF iface;
    volatile LONG refs;
    c_alloc *alloc;
    norm cap;
    UCHAR *raw;
    SIZE_T raw_len, raw_cap;
    volatile LONG events, incomplete, not_whole, off_dpc, packages;
} c_sink;

typedef struct c_port {
    IPortDMus iface;
    volatile LONG refs;
    PMINIPORTDMUS miniport;
    PSERVICEGROUP group; /* the miniport's, from Init */
    PPCFILTER_DESCRIPTOR desc;
} c_port;

typedef struct c_svc {
    IServiceSink iface;
    volatile LONG refs;
} c_svc;

/* The port's allocator (render streams, the first capture stream) and its capture sink; a
 * second allocator and sink for a second capture stream of the same pin. */
extern c_alloc g_alloc, g_alloc2;
extern c_clock g_clock;
extern c_sink g_sink, g_sink2;
extern c_svc g_svc;
extern c_port *g_port; /* the port under test (one at a time), NULL once released */
/* The capture streams the port's service sink pulls (PutMessage(NULL)), each while set. */
#define MAX_CAPTURE_STREAMS 4
extern PMXF volatile g_capture_streams[MAX_CAPTURE_STREAMS];
extern PMXF g_render_stream; /* where port_submit_render sends chains */
extern volatile LONG g_notifies, g_services, g_render_put_errors, g_ports_live;
/* PcNewPort / PcRegisterSubdevice fail with these (when nonzero) once they have succeeded
 * g_*_fail_after times since the counters g_*_calls were last reset. */
extern NTSTATUS g_newport_fail, g_register_fail;
extern LONG g_newport_fail_after, g_register_fail_after, g_newport_calls, g_register_calls;
/* The registered subdevices, each with the port reference the registration holds, and how
 * many of its device-interface keys the driver had opened before it registered it. */
#define MAX_SUBDEVICES 16
typedef struct {
    WCHAR name[32];
    PUNKNOWN port;
    LONG names_before;
} c_subdevice;
extern c_subdevice g_subdevices[MAX_SUBDEVICES];
extern LONG g_nsubdevices;
extern ULONG g_max_objects; /* PcAddAdapterDevice's MaxObjects */
extern PDEVICE_OBJECT g_pdo, g_fdo;
extern PCPFNSTARTDEVICE g_start_device;

/* The static objects' vtables and reference counts, the port's DPCs. */
void port_objects_init(void);
/* The port's allocator, called directly by the port's own code. */
NTSTATUS STDMETHODCALLTYPE al_get(IAllocatorMXF *t, PDMUS_KERNEL_EVENT *out);
NTSTATUS STDMETHODCALLTYPE al_getbuf(IAllocatorMXF *t, PBYTE *out);
void alloc_put_chain(c_alloc *a, PDMUS_KERNEL_EVENT e);
/* Hands a render chain to the port's render DPC (SchedulePreFetch 0: sent when queued), for
 * g_render_stream or for `stream`. PASSIVE_LEVEL (waits, bounded, while the queue is full). */
void port_submit_render(PDMUS_KERNEL_EVENT chain);
void port_submit_render_to(PMXF stream, PDMUS_KERNEL_EVENT chain);
/* The port releases its children (service group, miniport), as at subdevice removal. */
void port_teardown(c_port *p);
