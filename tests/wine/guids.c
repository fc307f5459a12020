/* The GUIDs the test PortCls uses, instantiated from mingw-w64's DDK headers (compiled with
 * -DINITGUID, so every DEFINE_GUID of the headers becomes a definition here). */
#define PC_NO_IMPORTS
#include <portcls.h>
#include <dmusicks.h>

/* IID_IAllocatorMXF is a DEFINE_GUIDSTRUCT declaration only; its value is the header's STATIC_ macro. */
#define MXF_GUID_(name, ...) DEFINE_GUID(name, __VA_ARGS__)
MXF_GUID_(IID_IAllocatorMXF, STATIC_IID_IAllocatorMXF);
/* dmusicks.h of the WDK defines IID_IMXF; mingw-w64's does not (value: the DMus reference). */
DEFINE_GUID(IID_IMXF_, 0xc096df9e, 0xfb09, 0x11d1, 0x81, 0xb0, 0x00, 0x60, 0x08, 0x33, 0x16, 0xc1);
