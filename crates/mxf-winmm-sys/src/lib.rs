//! Raw, hand-written FFI for the slice of the Windows Multimedia (MME/WinMM) MIDI API and of
//! kernel32 that `mxf-roundtrip` needs: `midiOut*`/`midiIn*`, `MIDIHDR`, the capability
//! structs, the `MIM_*`/`MOM_*` callback messages, and QueryPerformanceCounter plus event
//! objects for waiting.
//!
//! The crate is `#![no_std]` and uses `core` only, so it can be type-checked for
//! `x86_64-pc-windows-msvc` on a host that has only a core/alloc sysroot for that target
//! (`RUSTFLAGS=--sysroot=<dir> cargo check --target x86_64-pc-windows-msvc -p mxf-winmm-sys`).
//!
//! Types and constants exist on every target (they are plain data and their x86_64 layout is
//! identical on Linux and Windows, so the layout asserts below run on the Linux CI too). The
//! `extern` blocks exist on Windows, and on other hosts only under `--cfg mxf_winmm_check`,
//! which lets `cargo check`/`clippy` type-check the std-using Windows glue in
//! `mxf-roundtrip` against the host's std (nothing is linked by a check build).
//!
//! Layouts follow mingw-w64's `mmsystem.h`, which (like the Windows SDK) wraps the whole
//! header in `pshpack1.h`: `MIDIHDR` is byte-packed (112 bytes, align 1 on x64), so its
//! `DWORD_PTR` fields sit at unaligned offsets. The numbers asserted here were obtained from
//! `x86_64-w64-mingw32-gcc` (`sizeof`/`offsetof` emitted as assembler symbols).
#![no_std]
#![allow(non_camel_case_types, non_snake_case, clippy::upper_case_acronyms)]

use core::ffi::c_void;

/// `MMRESULT`: 0 (`MMSYSERR_NOERROR`) on success.
pub type MMRESULT = u32;
/// `UINT`.
pub type UINT = u32;
/// `DWORD`.
pub type DWORD = u32;
/// `DWORD_PTR` / `UINT_PTR`: pointer-sized unsigned integer.
pub type DWORD_PTR = usize;
/// `BOOL` (Win32, 4 bytes; non-zero is true).
pub type BOOL = i32;
/// Kernel object handle (`HANDLE`).
pub type HANDLE = *mut c_void;

/// Opaque MIDI output handle (`HMIDIOUT`).
#[repr(C)]
pub struct HMIDIOUT__ {
    _private: [u8; 0],
}
/// `HMIDIOUT`.
pub type HMIDIOUT = *mut HMIDIOUT__;

/// Opaque MIDI input handle (`HMIDIIN`).
#[repr(C)]
pub struct HMIDIIN__ {
    _private: [u8; 0],
}
/// `HMIDIIN`.
pub type HMIDIIN = *mut HMIDIIN__;

/// Length, in UTF-16 units, of the product name in the capability structs (`MAXPNAMELEN`).
pub const MAXPNAMELEN: usize = 32;

/// Buffer header for long (SysEx) MIDI data, `MIDIHDR` (byte-packed, see the crate docs).
///
/// WinMM and the driver write `dwFlags` and `dwBytesRecorded` asynchronously while the header
/// is queued; read them with `ptr::read_volatile(addr_of!((*hdr).dwFlags))` (the struct is
/// packed, so references to fields are not allowed; `read_unaligned` semantics apply).
#[repr(C, packed(1))]
#[derive(Clone, Copy)]
pub struct MIDIHDR {
    /// Data buffer.
    pub lpData: *mut u8,
    /// Buffer capacity (input) or length to send (output), in bytes.
    pub dwBufferLength: DWORD,
    /// Bytes actually written by the driver (input only).
    pub dwBytesRecorded: DWORD,
    /// Free for the application.
    pub dwUser: DWORD_PTR,
    /// `MHDR_*` flags.
    pub dwFlags: DWORD,
    /// Reserved for the driver.
    pub lpNext: *mut MIDIHDR,
    /// Reserved for the driver.
    pub reserved: DWORD_PTR,
    /// Callback offset into the buffer (stream API only).
    pub dwOffset: DWORD,
    /// Reserved for MMSYSTEM.
    pub dwReserved: [DWORD_PTR; 8],
}

impl MIDIHDR {
    /// An all-zero header (the state `midi*PrepareHeader` expects besides data/length).
    pub const ZERO: MIDIHDR = MIDIHDR {
        lpData: core::ptr::null_mut(),
        dwBufferLength: 0,
        dwBytesRecorded: 0,
        dwUser: 0,
        dwFlags: 0,
        lpNext: core::ptr::null_mut(),
        reserved: 0,
        dwOffset: 0,
        dwReserved: [0; 8],
    };
}

/// MIDI output device capabilities, `MIDIOUTCAPSW`.
#[repr(C, packed(1))]
#[derive(Clone, Copy)]
pub struct MIDIOUTCAPSW {
    /// Manufacturer id.
    pub wMid: u16,
    /// Product id.
    pub wPid: u16,
    /// Driver version (`MMVERSION`, major in the high byte).
    pub vDriverVersion: UINT,
    /// NUL-terminated product name (UTF-16).
    pub szPname: [u16; MAXPNAMELEN],
    /// `MOD_*` technology.
    pub wTechnology: u16,
    /// Voices (internal synths only).
    pub wVoices: u16,
    /// Simultaneous notes (internal synths only).
    pub wNotes: u16,
    /// Channels the device responds to (internal synths only).
    pub wChannelMask: u16,
    /// `MIDICAPS_*` flags.
    pub dwSupport: DWORD,
}

impl MIDIOUTCAPSW {
    /// An all-zero value to pass to `midiOutGetDevCapsW`.
    pub const ZERO: MIDIOUTCAPSW = MIDIOUTCAPSW {
        wMid: 0,
        wPid: 0,
        vDriverVersion: 0,
        szPname: [0; MAXPNAMELEN],
        wTechnology: 0,
        wVoices: 0,
        wNotes: 0,
        wChannelMask: 0,
        dwSupport: 0,
    };
}

/// MIDI input device capabilities, `MIDIINCAPSW`.
#[repr(C, packed(1))]
#[derive(Clone, Copy)]
pub struct MIDIINCAPSW {
    /// Manufacturer id.
    pub wMid: u16,
    /// Product id.
    pub wPid: u16,
    /// Driver version.
    pub vDriverVersion: UINT,
    /// NUL-terminated product name (UTF-16).
    pub szPname: [u16; MAXPNAMELEN],
    /// Reserved, zero.
    pub dwSupport: DWORD,
}

impl MIDIINCAPSW {
    /// An all-zero value to pass to `midiInGetDevCapsW`.
    pub const ZERO: MIDIINCAPSW = MIDIINCAPSW {
        wMid: 0,
        wPid: 0,
        vDriverVersion: 0,
        szPname: [0; MAXPNAMELEN],
        dwSupport: 0,
    };
}

/// Signature of a `CALLBACK_FUNCTION` MIDI callback (`MIDIINPROC`/`MIDIOUTPROC`).
pub type MIDICALLBACK = unsafe extern "system" fn(
    handle: *mut c_void,
    msg: UINT,
    instance: DWORD_PTR,
    param1: DWORD_PTR,
    param2: DWORD_PTR,
);

// Layouts, x86_64 (the values mingw-w64's headers give; see the crate docs).
#[cfg(target_pointer_width = "64")]
const _: () = {
    use core::mem::{align_of, offset_of, size_of};
    assert!(size_of::<MIDIHDR>() == 112);
    assert!(align_of::<MIDIHDR>() == 1);
    assert!(offset_of!(MIDIHDR, lpData) == 0);
    assert!(offset_of!(MIDIHDR, dwBufferLength) == 8);
    assert!(offset_of!(MIDIHDR, dwBytesRecorded) == 12);
    assert!(offset_of!(MIDIHDR, dwUser) == 16);
    assert!(offset_of!(MIDIHDR, dwFlags) == 24);
    assert!(offset_of!(MIDIHDR, lpNext) == 28);
    assert!(offset_of!(MIDIHDR, reserved) == 36);
    assert!(offset_of!(MIDIHDR, dwOffset) == 44);
    assert!(offset_of!(MIDIHDR, dwReserved) == 48);
};

// Layouts, 32-bit x86 (every field 4 bytes, so packing changes nothing).
#[cfg(target_pointer_width = "32")]
const _: () = {
    use core::mem::size_of;
    assert!(size_of::<MIDIHDR>() == 64);
};

const _: () = {
    use core::mem::{offset_of, size_of};
    assert!(size_of::<MIDIINCAPSW>() == 76);
    assert!(offset_of!(MIDIINCAPSW, szPname) == 8);
    assert!(offset_of!(MIDIINCAPSW, dwSupport) == 72);
    assert!(size_of::<MIDIOUTCAPSW>() == 84);
    assert!(offset_of!(MIDIOUTCAPSW, szPname) == 8);
    assert!(offset_of!(MIDIOUTCAPSW, wTechnology) == 72);
    assert!(offset_of!(MIDIOUTCAPSW, dwSupport) == 80);
};

/// Success.
pub const MMSYSERR_NOERROR: MMRESULT = 0;
/// Unspecified error.
pub const MMSYSERR_ERROR: MMRESULT = 1;
/// Device id out of range.
pub const MMSYSERR_BADDEVICEID: MMRESULT = 2;
/// Device already allocated (opened by someone else).
pub const MMSYSERR_ALLOCATED: MMRESULT = 4;
/// Invalid handle.
pub const MMSYSERR_INVALHANDLE: MMRESULT = 5;
/// No driver installed.
pub const MMSYSERR_NODRIVER: MMRESULT = 6;
/// Out of memory.
pub const MMSYSERR_NOMEM: MMRESULT = 7;
/// Not supported.
pub const MMSYSERR_NOTSUPPORTED: MMRESULT = 8;
/// Invalid flag.
pub const MMSYSERR_INVALFLAG: MMRESULT = 10;
/// Invalid parameter.
pub const MMSYSERR_INVALPARAM: MMRESULT = 11;
/// Header not prepared.
pub const MIDIERR_UNPREPARED: MMRESULT = 64;
/// Headers still queued.
pub const MIDIERR_STILLPLAYING: MMRESULT = 65;
/// No MIDI mapper configuration.
pub const MIDIERR_NOMAP: MMRESULT = 66;
/// Hardware busy.
pub const MIDIERR_NOTREADY: MMRESULT = 67;
/// Port no longer connected.
pub const MIDIERR_NODEVICE: MMRESULT = 68;
/// Invalid MIF.
pub const MIDIERR_INVALIDSETUP: MMRESULT = 69;

/// No callback.
pub const CALLBACK_NULL: DWORD = 0x0000_0000;
/// `dwCallback` is a window handle.
pub const CALLBACK_WINDOW: DWORD = 0x0001_0000;
/// `dwCallback` is a thread id.
pub const CALLBACK_THREAD: DWORD = 0x0002_0000;
/// `dwCallback` is a [`MIDICALLBACK`] function pointer.
pub const CALLBACK_FUNCTION: DWORD = 0x0003_0000;
/// `dwCallback` is an event handle, signalled on every callback message.
pub const CALLBACK_EVENT: DWORD = 0x0005_0000;
/// Also deliver `MIM_MOREDATA`.
pub const MIDI_IO_STATUS: DWORD = 0x0000_0020;

/// Header done: returned to the application.
pub const MHDR_DONE: DWORD = 0x1;
/// Header prepared.
pub const MHDR_PREPARED: DWORD = 0x2;
/// Header queued with the driver.
pub const MHDR_INQUEUE: DWORD = 0x4;
/// Header belongs to a stream.
pub const MHDR_ISSTRM: DWORD = 0x8;

/// Input device opened.
pub const MIM_OPEN: UINT = 0x3C1;
/// Input device closed.
pub const MIM_CLOSE: UINT = 0x3C2;
/// Short message received: `param1` = packed message, `param2` = ms since `midiInStart`.
pub const MIM_DATA: UINT = 0x3C3;
/// Long-data buffer returned: `param1` = `*mut MIDIHDR`.
pub const MIM_LONGDATA: UINT = 0x3C4;
/// Invalid short message received.
pub const MIM_ERROR: UINT = 0x3C5;
/// Invalid or incomplete SysEx buffer returned: `param1` = `*mut MIDIHDR`.
pub const MIM_LONGERROR: UINT = 0x3C6;
/// Short message received while the application is not keeping up (`MIDI_IO_STATUS`).
pub const MIM_MOREDATA: UINT = 0x3CC;
/// Output device opened.
pub const MOM_OPEN: UINT = 0x3C7;
/// Output device closed.
pub const MOM_CLOSE: UINT = 0x3C8;
/// Output header done.
pub const MOM_DONE: UINT = 0x3C9;

/// `WaitForSingleObject`: the object was signalled.
pub const WAIT_OBJECT_0: DWORD = 0;
/// `WaitForSingleObject`: timed out.
pub const WAIT_TIMEOUT: DWORD = 0x102;
/// `WaitForSingleObject`: failed.
pub const WAIT_FAILED: DWORD = 0xFFFF_FFFF;
/// Wait forever.
pub const INFINITE: DWORD = 0xFFFF_FFFF;

#[cfg(any(windows, mxf_winmm_check))]
#[cfg_attr(windows, link(name = "winmm", kind = "raw-dylib"))]
unsafe extern "system" {
    /// Number of MIDI output devices.
    pub safe fn midiOutGetNumDevs() -> UINT;
    /// Capabilities of output device `uDeviceID`.
    pub fn midiOutGetDevCapsW(
        uDeviceID: DWORD_PTR,
        pmoc: *mut MIDIOUTCAPSW,
        cbmoc: UINT,
    ) -> MMRESULT;
    /// Opens an output device.
    pub fn midiOutOpen(
        phmo: *mut HMIDIOUT,
        uDeviceID: UINT,
        dwCallback: DWORD_PTR,
        dwInstance: DWORD_PTR,
        fdwOpen: DWORD,
    ) -> MMRESULT;
    /// Closes an output device (fails with `MIDIERR_STILLPLAYING` while headers are queued).
    pub fn midiOutClose(hmo: HMIDIOUT) -> MMRESULT;
    /// Prepares a header for `midiOutLongMsg`.
    pub fn midiOutPrepareHeader(hmo: HMIDIOUT, pmh: *mut MIDIHDR, cbmh: UINT) -> MMRESULT;
    /// Unprepares a done header.
    pub fn midiOutUnprepareHeader(hmo: HMIDIOUT, pmh: *mut MIDIHDR, cbmh: UINT) -> MMRESULT;
    /// Sends a packed short message (`status | d1 << 8 | d2 << 16`).
    pub fn midiOutShortMsg(hmo: HMIDIOUT, dwMsg: DWORD) -> MMRESULT;
    /// Queues a prepared header of SysEx bytes.
    pub fn midiOutLongMsg(hmo: HMIDIOUT, pmh: *mut MIDIHDR, cbmh: UINT) -> MMRESULT;
    /// Turns notes off and returns all queued headers as done.
    pub fn midiOutReset(hmo: HMIDIOUT) -> MMRESULT;
    /// Describes an `MMRESULT` (UTF-16, NUL-terminated).
    pub fn midiOutGetErrorTextW(mmrError: MMRESULT, pszText: *mut u16, cchText: UINT) -> MMRESULT;

    /// Number of MIDI input devices.
    pub safe fn midiInGetNumDevs() -> UINT;
    /// Capabilities of input device `uDeviceID`.
    pub fn midiInGetDevCapsW(uDeviceID: DWORD_PTR, pmic: *mut MIDIINCAPSW, cbmic: UINT)
    -> MMRESULT;
    /// Opens an input device.
    pub fn midiInOpen(
        phmi: *mut HMIDIIN,
        uDeviceID: UINT,
        dwCallback: DWORD_PTR,
        dwInstance: DWORD_PTR,
        fdwOpen: DWORD,
    ) -> MMRESULT;
    /// Closes an input device (fails with `MIDIERR_STILLPLAYING` while headers are queued).
    pub fn midiInClose(hmi: HMIDIIN) -> MMRESULT;
    /// Prepares an input header.
    pub fn midiInPrepareHeader(hmi: HMIDIIN, pmh: *mut MIDIHDR, cbmh: UINT) -> MMRESULT;
    /// Unprepares a done input header.
    pub fn midiInUnprepareHeader(hmi: HMIDIIN, pmh: *mut MIDIHDR, cbmh: UINT) -> MMRESULT;
    /// Queues a prepared input header for SysEx data.
    pub fn midiInAddBuffer(hmi: HMIDIIN, pmh: *mut MIDIHDR, cbmh: UINT) -> MMRESULT;
    /// Starts input; timestamps restart at 0.
    pub fn midiInStart(hmi: HMIDIIN) -> MMRESULT;
    /// Stops input.
    pub fn midiInStop(hmi: HMIDIIN) -> MMRESULT;
    /// Stops input and returns all queued headers as done.
    pub fn midiInReset(hmi: HMIDIIN) -> MMRESULT;
    /// Describes an `MMRESULT` (UTF-16, NUL-terminated).
    pub fn midiInGetErrorTextW(mmrError: MMRESULT, pszText: *mut u16, cchText: UINT) -> MMRESULT;
}

#[cfg(any(windows, mxf_winmm_check))]
#[cfg_attr(windows, link(name = "kernel32", kind = "raw-dylib"))]
unsafe extern "system" {
    /// Current performance-counter value.
    pub fn QueryPerformanceCounter(lpPerformanceCount: *mut i64) -> BOOL;
    /// Performance-counter ticks per second (fixed at boot).
    pub fn QueryPerformanceFrequency(lpFrequency: *mut i64) -> BOOL;
    /// Creates an event object (`lpName` may be null).
    pub fn CreateEventW(
        lpEventAttributes: *const c_void,
        bManualReset: BOOL,
        bInitialState: BOOL,
        lpName: *const u16,
    ) -> HANDLE;
    /// Waits for an object; returns `WAIT_OBJECT_0`, `WAIT_TIMEOUT` or `WAIT_FAILED`.
    pub fn WaitForSingleObject(hHandle: HANDLE, dwMilliseconds: DWORD) -> DWORD;
    /// Closes a handle.
    pub fn CloseHandle(hObject: HANDLE) -> BOOL;
}
