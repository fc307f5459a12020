/*
 * GUIDs that mingw-w64 only declares in user-mode headers, which cannot be mixed with
 * <ddk/wdm.h> (dmksctrl.h pulls in objbase.h). Compiled (never run) with
 *
 *   x86_64-w64-mingw32-gcc -S -o user_guids.s scripts/layout/user_guids.c
 *
 * by crates/mxf-abi/tests/layout_mingw.rs, which reads the bytes under each label.
 * With INITGUID every DEFINE_GUID below becomes a definition.
 */
#define INITGUID
#include <windows.h> /* IID_IUnknown via unknwn.h (ddk/punknown.h has it wrong) */
#include <dmksctrl.h> /* KSDATAFORMAT_SUBTYPE_DIRECTMUSIC, KSDATAFORMAT_SUBTYPE_MIDI */
