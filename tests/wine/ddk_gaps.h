/* What mingw-w64's DDK headers leave out and portcls.h needs: the wdm.h base and two
 * KSRTAUDIO structures (portcls.h names them in the WaveRT interfaces, which this test does
 * not use; the layouts follow the WDK's ksmedia.h). */
#pragma once
#include <ddk/wdm.h>
#include <ddk/ntddk.h>
#ifndef TCHAR
typedef char TCHAR; /* ksmedia.h uses it in a user-mode structure */
#endif
typedef struct { ULONG FifoSize; ULONG ChipsetDelay; ULONG CodecDelay; } KSRTAUDIO_HWLATENCY, *PKSRTAUDIO_HWLATENCY;
typedef struct { PVOID Register; ULONG Width; ULONGLONG Numerator; ULONGLONG Denominator; ULONG Accuracy; } KSRTAUDIO_HWREGISTER, *PKSRTAUDIO_HWREGISTER;
