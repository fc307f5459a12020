/*
 * Layout probe for mxf-abi's synthesizer property structures (src/synth.rs), compiled (never
 * run) for x86_64 Windows by crates/mxf-abi/tests/layout_mingw.rs:
 *
 *   x86_64-w64-mingw32-gcc -S -I crates/layout-probe/c -o - scripts/layout/user_dmusic_layout.c
 *
 * mingw-w64 has no dmusprop.h (SYNTH_PORTPARAMS, SYNTH_STATS, SYNTHCAPS), so this probe emits
 * the user-mode twins DirectMusic copies them from and to, field by field: DMUS_PORTPARAMS and
 * DMUS_SYNTHSTATS are the kernel structures behind a leading dwSize. The test compares each
 * offset here with the Rust offset plus 4. It also emits the DMUS_PC_* / DMUS_PORTPARAMS_*
 * flags the SYNTH_* flags equal, DMUS_MAX_DESCRIPTION (the length of SYNTHCAPS.Description)
 * and the VT_* value types of KSPROPERTY_DESCRIPTION.
 */
#include <windows.h>
#include <dmusicc.h>
#include "layout_probe.h"

void mxf_user_dmusic_probe(void)
{
    MXF_SIZE(DMUS_PORTPARAMS7);
    MXF_OFF(DMUS_PORTPARAMS7, dwValidParams); MXF_OFF(DMUS_PORTPARAMS7, dwVoices);
    MXF_OFF(DMUS_PORTPARAMS7, dwChannelGroups); MXF_OFF(DMUS_PORTPARAMS7, dwAudioChannels);
    MXF_OFF(DMUS_PORTPARAMS7, dwSampleRate); MXF_OFF(DMUS_PORTPARAMS7, dwEffectFlags);
    MXF_OFF(DMUS_PORTPARAMS7, fShare);
    MXF_SIZE(DMUS_SYNTHSTATS);
    MXF_OFF(DMUS_SYNTHSTATS, dwValidStats); MXF_OFF(DMUS_SYNTHSTATS, dwVoices);
    MXF_OFF(DMUS_SYNTHSTATS, dwTotalCPU); MXF_OFF(DMUS_SYNTHSTATS, dwCPUPerVoice);
    MXF_OFF(DMUS_SYNTHSTATS, dwLostNotes); MXF_OFF(DMUS_SYNTHSTATS, dwFreeMemory);
    MXF_OFF(DMUS_SYNTHSTATS, lPeakVolume);

    MXF_VALUE(DMUS_MAX_DESCRIPTION);
    MXF_VALUE(DMUS_PC_DLS); MXF_VALUE(DMUS_PC_EXTERNAL); MXF_VALUE(DMUS_PC_SOFTWARESYNTH);
    MXF_VALUE(DMUS_PORTPARAMS_VOICES); MXF_VALUE(DMUS_PORTPARAMS_CHANNELGROUPS);
    MXF_VALUE(DMUS_PORTPARAMS_AUDIOCHANNELS); MXF_VALUE(DMUS_PORTPARAMS_SAMPLERATE);
    MXF_VALUE(DMUS_PORTPARAMS_EFFECTS); MXF_VALUE(DMUS_PORTPARAMS_SHARE);
    MXF_VALUE(VT_UI4); MXF_VALUE(VT_UI8); MXF_VALUE(VT_BLOB);
}
