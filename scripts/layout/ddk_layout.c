/*
 * Layout probe for crates/mxf-abi, compiled (never run) for x86_64 Windows by
 * crates/mxf-abi/tests/layout_mingw.rs:
 *
 *   x86_64-w64-mingw32-gcc -S -I/usr/share/mingw-w64/include/ddk \
 *       -I$MXF_SHARED/tools/win-sysroot -o ddk_layout.s scripts/layout/ddk_layout.c
 *
 * Every size, alignment, field offset and constant becomes two assembler lines
 * `.set mxf.<kind>.<name>.hi, <high 32 bits>` / `.lo, <low 32 bits>` in the .s file: the compiler folds the
 * `sizeof`/`offsetof` into an "i" operand, so the numbers are exactly what the C compiler
 * uses for the Windows target, read without executing anything. GUIDs are ordinary
 * `const GUID` objects (INITGUID makes the headers' DEFINE_GUIDs definitions; the
 * STATIC_* comma lists initialise `mxf_guid_*` copies) whose bytes the test reads from the
 * data directives under each label.
 *
 * Kinds: size.T, align.T, off.T.Field, value.NAME (integer constants).
 * Vtables (C spelling `struct IFooVtbl`, flat members in slot order) use T = IFooVtbl.
 */
#define INITGUID
#include <ddk/wdm.h>
#include "ddk_fixups.h"
#include <ddk/portcls.h>
#include <ddk/dmusicks.h>
#include <ksmedia.h>

/* x86-64 "i" operands print only when they fit a sign-extended imm32, so every value is
 * split into two 32-bit halves: value = hi * 2^32 + (lo as unsigned 32-bit). */
#define MXF_EMIT(name, value)                                                   \
    __asm__ volatile(".set mxf." name ".hi, %c0\n\t.set mxf." name ".lo, %c1"   \
                     : : "i"((int)((unsigned long long)(value) >> 32)),         \
                         "i"((int)((unsigned long long)(value) & 0xffffffffu)))
#define SIZE(T) MXF_EMIT("size." #T, sizeof(T)); MXF_EMIT("align." #T, _Alignof(T))
#define OFF(T, f) MXF_EMIT("off." #T "." #f, offsetof(T, f))
#define VSIZE(I) MXF_EMIT("size." #I "Vtbl", sizeof(struct I##Vtbl))
#define VOFF(I, f) MXF_EMIT("off." #I "Vtbl." #f, offsetof(struct I##Vtbl, f))
#define VALUE(c) MXF_EMIT("value." #c, (c))
#define UNKNOWN_SLOTS(I) VOFF(I, QueryInterface); VOFF(I, AddRef); VOFF(I, Release)
#define MXF_SLOTS(I) UNKNOWN_SLOTS(I); VOFF(I, SetState); VOFF(I, PutMessage); \
    VOFF(I, ConnectOutput); VOFF(I, DisconnectOutput)
#define MINIPORT_SLOTS(I) UNKNOWN_SLOTS(I); VOFF(I, GetDescription); \
    VOFF(I, DataRangeIntersection)
#define PORT_SLOTS(I) UNKNOWN_SLOTS(I); VOFF(I, Init); VOFF(I, GetDeviceProperty); \
    VOFF(I, NewRegistryKey)

void mxf_layout_probe(void)
{
    SIZE(GUID);
    OFF(GUID, Data1); OFF(GUID, Data2); OFF(GUID, Data3); OFF(GUID, Data4);

    SIZE(DMUS_KERNEL_EVENT);
    OFF(DMUS_KERNEL_EVENT, bReserved); OFF(DMUS_KERNEL_EVENT, cbStruct);
    OFF(DMUS_KERNEL_EVENT, cbEvent); OFF(DMUS_KERNEL_EVENT, usChannelGroup);
    OFF(DMUS_KERNEL_EVENT, usFlags); OFF(DMUS_KERNEL_EVENT, ullPresTime100ns);
    OFF(DMUS_KERNEL_EVENT, ullBytePosition); OFF(DMUS_KERNEL_EVENT, pNextEvt);
    OFF(DMUS_KERNEL_EVENT, uData); OFF(DMUS_KERNEL_EVENT, uData.abData);
    OFF(DMUS_KERNEL_EVENT, uData.pbData); OFF(DMUS_KERNEL_EVENT, uData.pPackageEvt);
    MXF_EMIT("size.DMUS_KERNEL_EVENT.uData", sizeof(((DMUS_KERNEL_EVENT *)0)->uData));

    SIZE(KSIDENTIFIER);
    OFF(KSIDENTIFIER, Set); OFF(KSIDENTIFIER, Id); OFF(KSIDENTIFIER, Flags);
    SIZE(KSDATAFORMAT);
    OFF(KSDATAFORMAT, FormatSize); OFF(KSDATAFORMAT, Flags); OFF(KSDATAFORMAT, SampleSize);
    OFF(KSDATAFORMAT, Reserved); OFF(KSDATAFORMAT, MajorFormat);
    OFF(KSDATAFORMAT, SubFormat); OFF(KSDATAFORMAT, Specifier);
    SIZE(KSDATARANGE);
    SIZE(KSDATARANGE_MUSIC);
    OFF(KSDATARANGE_MUSIC, DataRange); OFF(KSDATARANGE_MUSIC, Technology);
    OFF(KSDATARANGE_MUSIC, Channels); OFF(KSDATARANGE_MUSIC, Notes);
    OFF(KSDATARANGE_MUSIC, ChannelMask);
    SIZE(KSNODEPROPERTY);
    OFF(KSNODEPROPERTY, Property); OFF(KSNODEPROPERTY, NodeId); OFF(KSNODEPROPERTY, Reserved);
    SIZE(KSPROPERTY_DESCRIPTION);
    OFF(KSPROPERTY_DESCRIPTION, AccessFlags); OFF(KSPROPERTY_DESCRIPTION, DescriptionSize);
    OFF(KSPROPERTY_DESCRIPTION, PropTypeSet); OFF(KSPROPERTY_DESCRIPTION, MembersListCount);
    OFF(KSPROPERTY_DESCRIPTION, Reserved);
    SIZE(KSSTATE); SIZE(DMUS_STREAM_TYPE); SIZE(POOL_TYPE);
    SIZE(KSPIN_DATAFLOW); SIZE(KSPIN_COMMUNICATION);

    SIZE(KSPIN_DESCRIPTOR);
    OFF(KSPIN_DESCRIPTOR, InterfacesCount); OFF(KSPIN_DESCRIPTOR, Interfaces);
    OFF(KSPIN_DESCRIPTOR, MediumsCount); OFF(KSPIN_DESCRIPTOR, Mediums);
    OFF(KSPIN_DESCRIPTOR, DataRangesCount); OFF(KSPIN_DESCRIPTOR, DataRanges);
    OFF(KSPIN_DESCRIPTOR, DataFlow); OFF(KSPIN_DESCRIPTOR, Communication);
    OFF(KSPIN_DESCRIPTOR, Category); OFF(KSPIN_DESCRIPTOR, Name);
    OFF(KSPIN_DESCRIPTOR, Reserved);
    OFF(KSPIN_DESCRIPTOR, ConstrainedDataRangesCount);
    OFF(KSPIN_DESCRIPTOR, ConstrainedDataRanges);

    SIZE(PCPROPERTY_REQUEST);
    OFF(PCPROPERTY_REQUEST, MajorTarget); OFF(PCPROPERTY_REQUEST, MinorTarget);
    OFF(PCPROPERTY_REQUEST, Node); OFF(PCPROPERTY_REQUEST, PropertyItem);
    OFF(PCPROPERTY_REQUEST, Verb); OFF(PCPROPERTY_REQUEST, InstanceSize);
    OFF(PCPROPERTY_REQUEST, Instance); OFF(PCPROPERTY_REQUEST, ValueSize);
    OFF(PCPROPERTY_REQUEST, Value); OFF(PCPROPERTY_REQUEST, Irp);
    SIZE(PCPROPERTY_ITEM);
    OFF(PCPROPERTY_ITEM, Set); OFF(PCPROPERTY_ITEM, Id); OFF(PCPROPERTY_ITEM, Flags);
    OFF(PCPROPERTY_ITEM, Handler);
    SIZE(PCMETHOD_ITEM);
    OFF(PCMETHOD_ITEM, Set); OFF(PCMETHOD_ITEM, Id); OFF(PCMETHOD_ITEM, Flags);
    OFF(PCMETHOD_ITEM, Handler);
    SIZE(PCEVENT_ITEM);
    OFF(PCEVENT_ITEM, Set); OFF(PCEVENT_ITEM, Id); OFF(PCEVENT_ITEM, Flags);
    OFF(PCEVENT_ITEM, Handler);
    SIZE(PCAUTOMATION_TABLE);
    OFF(PCAUTOMATION_TABLE, PropertyItemSize); OFF(PCAUTOMATION_TABLE, PropertyCount);
    OFF(PCAUTOMATION_TABLE, Properties); OFF(PCAUTOMATION_TABLE, MethodItemSize);
    OFF(PCAUTOMATION_TABLE, MethodCount); OFF(PCAUTOMATION_TABLE, Methods);
    OFF(PCAUTOMATION_TABLE, EventItemSize); OFF(PCAUTOMATION_TABLE, EventCount);
    OFF(PCAUTOMATION_TABLE, Events); OFF(PCAUTOMATION_TABLE, Reserved);
    SIZE(PCPIN_DESCRIPTOR);
    OFF(PCPIN_DESCRIPTOR, MaxGlobalInstanceCount); OFF(PCPIN_DESCRIPTOR, MaxFilterInstanceCount);
    OFF(PCPIN_DESCRIPTOR, MinFilterInstanceCount); OFF(PCPIN_DESCRIPTOR, AutomationTable);
    OFF(PCPIN_DESCRIPTOR, KsPinDescriptor);
    SIZE(PCNODE_DESCRIPTOR);
    OFF(PCNODE_DESCRIPTOR, Flags); OFF(PCNODE_DESCRIPTOR, AutomationTable);
    OFF(PCNODE_DESCRIPTOR, Type); OFF(PCNODE_DESCRIPTOR, Name);
    SIZE(PCCONNECTION_DESCRIPTOR);
    OFF(PCCONNECTION_DESCRIPTOR, FromNode); OFF(PCCONNECTION_DESCRIPTOR, FromNodePin);
    OFF(PCCONNECTION_DESCRIPTOR, ToNode); OFF(PCCONNECTION_DESCRIPTOR, ToNodePin);
    SIZE(PCFILTER_DESCRIPTOR);
    OFF(PCFILTER_DESCRIPTOR, Version); OFF(PCFILTER_DESCRIPTOR, AutomationTable);
    OFF(PCFILTER_DESCRIPTOR, PinSize); OFF(PCFILTER_DESCRIPTOR, PinCount);
    OFF(PCFILTER_DESCRIPTOR, Pins); OFF(PCFILTER_DESCRIPTOR, NodeSize);
    OFF(PCFILTER_DESCRIPTOR, NodeCount); OFF(PCFILTER_DESCRIPTOR, Nodes);
    OFF(PCFILTER_DESCRIPTOR, ConnectionCount); OFF(PCFILTER_DESCRIPTOR, Connections);
    OFF(PCFILTER_DESCRIPTOR, CategoryCount); OFF(PCFILTER_DESCRIPTOR, Categories);

    /* Interface pointers: lpVtbl first. */
    SIZE(IUnknown); SIZE(IMXF); SIZE(IAllocatorMXF); SIZE(IMasterClock);
    SIZE(IServiceSink); SIZE(IServiceGroup); SIZE(IPort); SIZE(IPortDMus);
    SIZE(IMiniport); SIZE(IMiniportDMus);

    VSIZE(IUnknown); UNKNOWN_SLOTS(IUnknown);
    VSIZE(IMXF); MXF_SLOTS(IMXF);
    VSIZE(IAllocatorMXF); MXF_SLOTS(IAllocatorMXF);
    VOFF(IAllocatorMXF, GetMessage); VOFF(IAllocatorMXF, GetBufferSize);
    VOFF(IAllocatorMXF, GetBuffer); VOFF(IAllocatorMXF, PutBuffer);
    VSIZE(IMasterClock); UNKNOWN_SLOTS(IMasterClock); VOFF(IMasterClock, GetTime);
    VSIZE(IServiceSink); UNKNOWN_SLOTS(IServiceSink); VOFF(IServiceSink, RequestService);
    VSIZE(IServiceGroup); UNKNOWN_SLOTS(IServiceGroup); VOFF(IServiceGroup, RequestService);
    VOFF(IServiceGroup, AddMember); VOFF(IServiceGroup, RemoveMember);
    VOFF(IServiceGroup, SupportDelayedService); VOFF(IServiceGroup, RequestDelayedService);
    VOFF(IServiceGroup, CancelDelayedService);
    VSIZE(IPort); PORT_SLOTS(IPort);
    VSIZE(IPortDMus); PORT_SLOTS(IPortDMus);
    VOFF(IPortDMus, Notify); VOFF(IPortDMus, RegisterServiceGroup);
    VSIZE(IMiniport); MINIPORT_SLOTS(IMiniport);
    VSIZE(IMiniportDMus); MINIPORT_SLOTS(IMiniportDMus);
    VOFF(IMiniportDMus, Init); VOFF(IMiniportDMus, Service); VOFF(IMiniportDMus, NewStream);

    /* Integer constants. */
    VALUE(KSSTATE_STOP); VALUE(KSSTATE_ACQUIRE); VALUE(KSSTATE_PAUSE); VALUE(KSSTATE_RUN);
    VALUE(DMUS_STREAM_MIDI_INVALID); VALUE(DMUS_STREAM_MIDI_RENDER);
    VALUE(DMUS_STREAM_MIDI_CAPTURE); VALUE(DMUS_STREAM_WAVE_SINK);
    VALUE(NonPagedPool); VALUE(PagedPool); VALUE(NonPagedPoolNx);
    VALUE(DONT_HOLD_FOR_SEQUENCING);
    VALUE(KSPIN_DATAFLOW_IN); VALUE(KSPIN_DATAFLOW_OUT);
    VALUE(KSPIN_COMMUNICATION_NONE); VALUE(KSPIN_COMMUNICATION_SINK);
    VALUE(KSPIN_COMMUNICATION_SOURCE); VALUE(KSPIN_COMMUNICATION_BOTH);
    VALUE(KSPIN_COMMUNICATION_BRIDGE);
    VALUE(PCFILTER_NODE); VALUE(KSNODEPIN_STANDARD_IN); VALUE(KSNODEPIN_STANDARD_OUT);
    VALUE(KSPROPERTY_TYPE_GET); VALUE(KSPROPERTY_TYPE_SET); VALUE(KSPROPERTY_TYPE_BASICSUPPORT);
    VALUE(KSPROPERTY_TYPE_TOPOLOGY);
    VALUE(KSINTERFACE_STANDARD_STREAMING); VALUE(KSMEDIUM_TYPE_ANYINSTANCE);
    VALUE(STATUS_SUCCESS); VALUE(STATUS_UNSUCCESSFUL); VALUE(STATUS_NOT_IMPLEMENTED);
    VALUE(STATUS_INVALID_PARAMETER); VALUE(STATUS_INVALID_DEVICE_REQUEST);
    VALUE(STATUS_BUFFER_TOO_SMALL); VALUE(STATUS_INSUFFICIENT_RESOURCES);
    VALUE(STATUS_NOT_SUPPORTED); VALUE(STATUS_INVALID_DEVICE_STATE);
    VALUE(STATUS_NO_MATCH); VALUE(STATUS_BUFFER_OVERFLOW); VALUE(STATUS_NOT_FOUND);
    VALUE(STATUS_NOT_ALL_ASSIGNED);
}

/* GUIDs the headers only provide as STATIC_* comma lists (DEFINE_GUIDSTRUCT). */
#define MXF_GUID(n) const GUID mxf_guid_##n = { STATIC_##n }
MXF_GUID(IID_IAllocatorMXF);
MXF_GUID(GUID_NULL);
MXF_GUID(KSDATAFORMAT_TYPE_MUSIC);
MXF_GUID(KSDATAFORMAT_SUBTYPE_MIDI);
MXF_GUID(KSDATAFORMAT_SUBTYPE_MIDI_BUS);
MXF_GUID(KSDATAFORMAT_SUBTYPE_NONE);
MXF_GUID(KSDATAFORMAT_SPECIFIER_NONE);
MXF_GUID(KSMUSIC_TECHNOLOGY_PORT);
MXF_GUID(KSCATEGORY_AUDIO);
MXF_GUID(KSCATEGORY_RENDER);
MXF_GUID(KSCATEGORY_CAPTURE);
MXF_GUID(KSCATEGORY_TOPOLOGY);
MXF_GUID(KSNODETYPE_SYNTHESIZER);
MXF_GUID(KSINTERFACESETID_Standard);
MXF_GUID(KSMEDIUMSETID_Standard);
MXF_GUID(KSPROPSETID_Pin);
MXF_GUID(KSAUDFNAME_MIDI);
MXF_GUID(KSPROPTYPESETID_General);
