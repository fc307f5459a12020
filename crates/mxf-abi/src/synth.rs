//! The DirectMusic synthesizer property set (`dmusprop.h`): `KSPROPSETID_Synth`, its
//! property ids and value structures, as DirectMusic (dmusic.dll's kernel port proxy) sends
//! them to a DMus miniport's synthesizer nodes.
//!
//! mingw-w64 ships no `dmusprop.h`, so the values here are those of the WDK header. The
//! layouts are cross-checked by `tests/layout_mingw.rs` against their user-mode twins in
//! mingw-w64's `dmusicc.h` (`DMUS_PORTPARAMS`, `DMUS_SYNTHSTATS`: the same fields behind a
//! leading `dwSize`, which DirectMusic copies member by member into these), and the flag
//! values against the `DMUS_PC_*` / `DMUS_PORTPARAMS_*` values they mirror.

use crate::guid::Guid;
use core::mem::{align_of, offset_of, size_of};

/// `KSPROPSETID_Synth` (`dmusprop.h`).
pub const KSPROPSETID_SYNTH: Guid = Guid::from_u128(0xfedfae25_e46e_11d1_aace_0000f875ac12);

/// `KSPROPERTY_SYNTH_VOLUME` (`KSPROPERTY_SYNTH` enumerator 0).
pub const KSPROPERTY_SYNTH_VOLUME: u32 = 0;
/// `KSPROPERTY_SYNTH_VOLUMEBOOST`.
pub const KSPROPERTY_SYNTH_VOLUMEBOOST: u32 = 1;
/// `KSPROPERTY_SYNTH_CAPS`: get a [`SynthCaps`].
pub const KSPROPERTY_SYNTH_CAPS: u32 = 2;
/// `KSPROPERTY_SYNTH_PORTPARAMETERS`: get (with a [`SynthPortParams`] request in the
/// instance data) the [`SynthPortParams`] the pin will use.
pub const KSPROPERTY_SYNTH_PORTPARAMETERS: u32 = 3;
/// `KSPROPERTY_SYNTH_CHANNELGROUPS`: get/set the pin's channel groups (`ULONG`).
pub const KSPROPERTY_SYNTH_CHANNELGROUPS: u32 = 4;
/// `KSPROPERTY_SYNTH_VOICEPRIORITY`.
pub const KSPROPERTY_SYNTH_VOICEPRIORITY: u32 = 5;
/// `KSPROPERTY_SYNTH_LATENCYCLOCK`: get the pin's latency clock (`ULONGLONG`, master-clock
/// time in 100 ns units).
pub const KSPROPERTY_SYNTH_LATENCYCLOCK: u32 = 6;
/// `KSPROPERTY_SYNTH_RUNNINGSTATS`: get a [`SynthStats`].
pub const KSPROPERTY_SYNTH_RUNNINGSTATS: u32 = 7;

/// `SYNTH_PC_DLS` (`SynthCaps::flags`; = `DMUS_PC_DLS`).
pub const SYNTH_PC_DLS: u32 = 0x0000_0001;
/// `SYNTH_PC_EXTERNAL`: an external MIDI device (= `DMUS_PC_EXTERNAL`).
pub const SYNTH_PC_EXTERNAL: u32 = 0x0000_0002;
/// `SYNTH_PC_SOFTWARESYNTH` (= `DMUS_PC_SOFTWARESYNTH`).
pub const SYNTH_PC_SOFTWARESYNTH: u32 = 0x0000_0004;

/// `SYNTH_PORTPARAMS_VOICES` (`SynthPortParams::valid_params`; = `DMUS_PORTPARAMS_VOICES`).
pub const SYNTH_PORTPARAMS_VOICES: u32 = 0x01;
/// `SYNTH_PORTPARAMS_CHANNELGROUPS`.
pub const SYNTH_PORTPARAMS_CHANNELGROUPS: u32 = 0x02;
/// `SYNTH_PORTPARAMS_AUDIOCHANNELS`.
pub const SYNTH_PORTPARAMS_AUDIOCHANNELS: u32 = 0x04;
/// `SYNTH_PORTPARAMS_SAMPLERATE`.
pub const SYNTH_PORTPARAMS_SAMPLERATE: u32 = 0x08;
/// `SYNTH_PORTPARAMS_EFFECTS`.
pub const SYNTH_PORTPARAMS_EFFECTS: u32 = 0x20;
/// `SYNTH_PORTPARAMS_SHARE`.
pub const SYNTH_PORTPARAMS_SHARE: u32 = 0x40;

/// UTF-16 units of [`SynthCaps::description`] (= `DMUS_MAX_DESCRIPTION`).
pub const SYNTH_DESCRIPTION_LEN: usize = 128;

/// `SYNTHCAPS`: 296 bytes, align 4.
#[repr(C)]
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct SynthCaps {
    /// `Guid`: class id of the synthesizer (miniport) interface.
    pub guid: Guid,
    /// `Flags`: `SYNTH_PC_*`.
    pub flags: u32,
    /// `MemorySize`: bytes of sample memory (0 for a MIDI port).
    pub memory_size: u32,
    /// `MaxChannelGroups`.
    pub max_channel_groups: u32,
    /// `MaxVoices` (`0xFFFFFFFF`: not applicable).
    pub max_voices: u32,
    /// `MaxAudioChannels` (`0xFFFFFFFF`: not applicable).
    pub max_audio_channels: u32,
    /// `EffectFlags`: `SYNTH_EFFECT_*`.
    pub effect_flags: u32,
    /// `Description`: NUL-terminated UTF-16.
    pub description: [u16; SYNTH_DESCRIPTION_LEN],
}

/// `SYNTH_PORTPARAMS`: 28 bytes, align 4.
#[repr(C)]
#[derive(Clone, Copy, Default, PartialEq, Eq, Debug)]
pub struct SynthPortParams {
    /// `ValidParams`: `SYNTH_PORTPARAMS_*` bits saying which fields are meaningful.
    pub valid_params: u32,
    /// `Voices`.
    pub voices: u32,
    /// `ChannelGroups`.
    pub channel_groups: u32,
    /// `AudioChannels`.
    pub audio_channels: u32,
    /// `SampleRate`.
    pub sample_rate: u32,
    /// `EffectsFlags`.
    pub effects_flags: u32,
    /// `Share` (a `BOOL`).
    pub share: u32,
}

/// `SYNTH_STATS`: 28 bytes, align 4.
#[repr(C)]
#[derive(Clone, Copy, Default, PartialEq, Eq, Debug)]
pub struct SynthStats {
    /// `ValidStats`.
    pub valid_stats: u32,
    /// `Voices`.
    pub voices: u32,
    /// `TotalCPU`.
    pub total_cpu: u32,
    /// `CPUPerVoice`.
    pub cpu_per_voice: u32,
    /// `LostNotes`.
    pub lost_notes: u32,
    /// `FreeMemory`.
    pub free_memory: u32,
    /// `PeakVolume` (a `LONG`).
    pub peak_volume: i32,
}

const _: () = {
    assert!(size_of::<SynthCaps>() == 296 && align_of::<SynthCaps>() == 4);
    assert!(offset_of!(SynthCaps, flags) == 16);
    assert!(offset_of!(SynthCaps, effect_flags) == 36);
    assert!(offset_of!(SynthCaps, description) == 40);
    assert!(size_of::<SynthPortParams>() == 28 && size_of::<SynthStats>() == 28);
};
