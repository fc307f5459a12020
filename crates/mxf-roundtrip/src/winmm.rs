//! [`Transport`] over WinMM (winmm.dll), Windows only.
//!
//! Output: `midiOutShortMsg` for short messages; SysEx is copied into owned, pinned
//! `MIDIHDR` buffers of at most `out_chunk` bytes (double-buffered) and sent with
//! `midiOutLongMsg`; the device is opened with `CALLBACK_EVENT`, and a header is reused or
//! freed only after WinMM has set `MHDR_DONE` on it.
//!
//! Input: `midiInOpen` with `CALLBACK_FUNCTION`. WinMM forbids calling (most) multimedia
//! functions from the callback, so the callback only timestamps (QueryPerformanceCounter),
//! copies the recorded bytes of a returned buffer, and pushes an [`Event`] plus the index of
//! the header to re-queue into a mutex-protected inbox, then signals a condition variable.
//! The application thread re-queues headers (`midiInAddBuffer`) in [`Transport::recv`] and
//! while it waits for output buffers, so input keeps flowing during long sends.
//!
//! Memory: every `MIDIHDR` lives in its own `Box` (8-aligned, so the `dwFlags` field at
//! offset 24 is 4-aligned for volatile reads) and every buffer in a `Box<[u8]>`; both stay
//! at the same address from prepare until unprepare. Closing resets the device, waits for
//! every header to be `MHDR_DONE`, unprepares and closes; if WinMM refuses to let go, the
//! memory is leaked rather than freed under the driver's feet.

use crate::device::{SelectError, select, wide_name};
use crate::transport::{Event, Transport, TransportError};
use mxf_winmm_sys as sys;
use std::collections::VecDeque;
use std::ffi::c_void;
use std::mem::size_of;
use std::ptr::{addr_of, addr_of_mut, null, null_mut};
use std::sync::atomic::{Ordering, fence};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// `sizeof(MIDIHDR)`, as WinMM wants it in every header call.
const HDR_SIZE: u32 = size_of::<sys::MIDIHDR>() as u32;

/// WinMM transport settings.
#[derive(Clone, Debug)]
pub struct WinMmConfig {
    /// Bytes per input buffer.
    pub in_buffer_size: usize,
    /// Input buffers kept queued with the driver.
    pub in_buffers: usize,
    /// Largest output buffer handed to `midiOutLongMsg`.
    pub out_chunk: usize,
    /// How long to wait for the driver to finish an output buffer.
    pub send_timeout: Duration,
}

impl Default for WinMmConfig {
    fn default() -> Self {
        Self {
            in_buffer_size: 16 * 1024,
            in_buffers: 32,
            out_chunk: 32 * 1024,
            send_timeout: Duration::from_secs(5),
        }
    }
}

/// Why the transport could not be opened.
#[derive(Debug)]
pub enum OpenError {
    /// No (unambiguous) device matched the name.
    Device(String),
    /// A WinMM call failed.
    Transport(TransportError),
}

impl From<TransportError> for OpenError {
    fn from(e: TransportError) -> Self {
        OpenError::Transport(e)
    }
}

/// Text of an `MMRESULT`.
fn error_text(code: sys::MMRESULT) -> String {
    let mut buf = [0u16; 256];
    // SAFETY: `buf` is a writable array of `buf.len()` UTF-16 units; WinMM writes at most
    // that many, NUL-terminated.
    let r = unsafe { sys::midiOutGetErrorTextW(code, buf.as_mut_ptr(), buf.len() as u32) };
    if r == sys::MMSYSERR_NOERROR {
        format!("MMRESULT {code}: {}", wide_name(&buf))
    } else {
        format!("MMRESULT {code}")
    }
}

fn check(op: &'static str, code: sys::MMRESULT) -> Result<(), TransportError> {
    if code == sys::MMSYSERR_NOERROR {
        Ok(())
    } else {
        Err(TransportError::new(op, error_text(code)))
    }
}

/// QueryPerformanceCounter in µs.
fn qpc_us(freq: u64) -> u64 {
    let mut ticks = 0i64;
    // SAFETY: `ticks` is a valid, writable i64; QPC cannot fail on XP and later.
    unsafe { sys::QueryPerformanceCounter(&mut ticks) };
    let ticks = u128::from(ticks.max(0) as u64);
    (ticks * 1_000_000 / u128::from(freq.max(1))) as u64
}

fn qpc_freq() -> u64 {
    let mut f = 0i64;
    // SAFETY: `f` is a valid, writable i64.
    unsafe { sys::QueryPerformanceFrequency(&mut f) };
    f.max(1) as u64
}

/// Names of the MIDI output devices, by device id.
pub fn output_names() -> Vec<String> {
    (0..sys::midiOutGetNumDevs())
        .map(|id| {
            let mut caps = sys::MIDIOUTCAPSW::ZERO;
            // SAFETY: `caps` is a writable MIDIOUTCAPSW and we pass its exact size.
            let r = unsafe {
                sys::midiOutGetDevCapsW(
                    id as usize,
                    &mut caps,
                    size_of::<sys::MIDIOUTCAPSW>() as u32,
                )
            };
            let name = caps.szPname; // copy out of the packed struct
            if r == sys::MMSYSERR_NOERROR {
                wide_name(&name)
            } else {
                format!("<{}>", error_text(r))
            }
        })
        .collect()
}

/// Names of the MIDI input devices, by device id.
pub fn input_names() -> Vec<String> {
    (0..sys::midiInGetNumDevs())
        .map(|id| {
            let mut caps = sys::MIDIINCAPSW::ZERO;
            // SAFETY: `caps` is a writable MIDIINCAPSW and we pass its exact size.
            let r = unsafe {
                sys::midiInGetDevCapsW(id as usize, &mut caps, size_of::<sys::MIDIINCAPSW>() as u32)
            };
            let name = caps.szPname;
            if r == sys::MMSYSERR_NOERROR {
                wide_name(&name)
            } else {
                format!("<{}>", error_text(r))
            }
        })
        .collect()
}

/// The `--list` text.
pub fn list_devices() -> Result<String, TransportError> {
    let mut s = String::from("MIDI outputs:\n");
    for (i, n) in output_names().iter().enumerate() {
        s += &format!("  {i}: {n}\n");
    }
    s += "MIDI inputs:\n";
    for (i, n) in input_names().iter().enumerate() {
        s += &format!("  {i}: {n}\n");
    }
    Ok(s)
}

fn pick(kind: &str, names: &[String], needle: &str) -> Result<u32, OpenError> {
    match select(names, needle) {
        Ok(i) => Ok(i as u32),
        Err(SelectError::NotFound) => Err(OpenError::Device(format!(
            "no MIDI {kind} device name contains '{needle}' (devices: {names:?}); \
             is the mxfloop driver installed? try --list"
        ))),
        Err(SelectError::Ambiguous(v)) => Err(OpenError::Device(format!(
            "several MIDI {kind} devices match '{needle}': {v:?}; pass a longer --device"
        ))),
    }
}

/// A `MIDIHDR` at a stable, 8-aligned address.
#[repr(C, align(8))]
struct HdrBox {
    hdr: sys::MIDIHDR,
}

/// One header plus the buffer it points at; neither moves while WinMM may touch them.
struct Buf {
    hdr: Box<HdrBox>,
    data: Box<[u8]>,
    /// Prepared with WinMM (needs unpreparing).
    prepared: bool,
    /// Handed to WinMM and not yet seen `MHDR_DONE`.
    queued: bool,
}

impl Buf {
    fn new(size: usize) -> Self {
        Self {
            hdr: Box::new(HdrBox {
                hdr: sys::MIDIHDR::ZERO,
            }),
            data: vec![0u8; size].into_boxed_slice(),
            prepared: false,
            queued: false,
        }
    }

    fn hdr_ptr(&mut self) -> *mut sys::MIDIHDR {
        addr_of_mut!(self.hdr.hdr)
    }

    /// `MHDR_DONE` as last written by WinMM/the driver (possibly on another thread).
    fn is_done(&self) -> bool {
        let p = addr_of!(self.hdr.hdr.dwFlags);
        // SAFETY: `p` points into the live `HdrBox`; the box is 8-aligned and `dwFlags` is
        // at offset 24, so the u32 read is aligned. Volatile because WinMM writes the field
        // asynchronously while the header is queued.
        let flags = unsafe { p.read_volatile() };
        // Order later reads of the buffer after the observation of DONE.
        fence(Ordering::Acquire);
        flags & sys::MHDR_DONE != 0
    }
}

/// Shared between the input callback (WinMM's thread) and the application thread.
struct Shared {
    inbox: Mutex<Inbox>,
    ready: Condvar,
    qpc_freq: u64,
}

#[derive(Default)]
struct Inbox {
    events: VecDeque<Event>,
    /// Input headers returned by WinMM, to re-queue from the application thread.
    requeue: Vec<usize>,
    /// Set while closing: returned headers are not re-queued.
    closing: bool,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Inbox> {
        // A panic cannot happen while the lock is held (only pushes), but never propagate
        // poisoning into the callback.
        self.inbox.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// `CALLBACK_FUNCTION` for the input device.
///
/// # Safety
///
/// Called by WinMM only, with `instance` = the `Arc<Shared>` pointer given to `midiInOpen`
/// (alive until after `midiInClose` returns) and, for `MIM_LONGDATA`/`MIM_LONGERROR`,
/// `param1` = one of our prepared headers, just returned to us.
unsafe extern "system" fn midi_in_proc(
    _handle: *mut c_void,
    msg: u32,
    instance: usize,
    param1: usize,
    _param2: usize,
) {
    if instance == 0 {
        return;
    }
    // SAFETY: `instance` is `Arc::as_ptr` of the transport's `Shared`, which the transport
    // keeps alive until midiInClose has returned (after which WinMM makes no callbacks).
    let shared = unsafe { &*(instance as *const Shared) };
    let now = qpc_us(shared.qpc_freq);
    match msg {
        // MIM_ERROR carries an invalid short message: hand it to the checker as received.
        sys::MIM_DATA | sys::MIM_MOREDATA | sys::MIM_ERROR => {
            shared
                .lock()
                .events
                .push_back(Event::Short(param1 as u32, now));
        }
        sys::MIM_LONGDATA | sys::MIM_LONGERROR => {
            let hdr = param1 as *const sys::MIDIHDR;
            if hdr.is_null() {
                return;
            }
            // SAFETY: `hdr` is one of our headers (WinMM passes back what we queued), now
            // returned (MHDR_DONE) so the driver no longer writes it; it is alive until after
            // close. The struct is packed plain data: it is copied out unaligned, whole.
            let h = unsafe { hdr.read_unaligned() };
            let (data, cap, len, index) = (h.lpData, h.dwBufferLength, h.dwBytesRecorded, h.dwUser);
            let len = len.min(cap) as usize;
            let bytes = if len > 0 && !data.is_null() {
                // SAFETY: `data` is our buffer of `cap` bytes and `len <= cap`; the driver
                // wrote the first `dwBytesRecorded` bytes before returning the header.
                unsafe { std::slice::from_raw_parts(data, len) }.to_vec()
            } else {
                Vec::new()
            };
            let mut inbox = shared.lock();
            if !bytes.is_empty() {
                inbox.events.push_back(if msg == sys::MIM_LONGDATA {
                    Event::Long(bytes, now)
                } else {
                    Event::LongError(bytes, now)
                });
            }
            if !inbox.closing {
                inbox.requeue.push(index);
            }
        }
        _ => return,
    }
    shared.ready.notify_one();
}

/// An mxfloop output/input port pair opened through WinMM.
pub struct WinMmTransport {
    out: sys::HMIDIOUT,
    inp: sys::HMIDIIN,
    out_event: sys::HANDLE,
    out_bufs: Vec<Buf>,
    next_out: usize,
    in_bufs: Vec<Buf>,
    shared: Arc<Shared>,
    started: bool,
    send_timeout: Duration,
    names: (String, String),
}

impl WinMmTransport {
    /// Opens the output and input devices whose names contain `needle`, queues the input
    /// buffers and starts input.
    pub fn open(needle: &str, cfg: &WinMmConfig) -> Result<Self, OpenError> {
        let outs = output_names();
        let ins = input_names();
        let out_id = pick("output", &outs, needle)?;
        let in_id = pick("input", &ins, needle)?;
        let mut t = WinMmTransport {
            out: null_mut(),
            inp: null_mut(),
            out_event: null_mut(),
            out_bufs: Vec::new(),
            next_out: 0,
            in_bufs: Vec::new(),
            shared: Arc::new(Shared {
                inbox: Mutex::new(Inbox::default()),
                ready: Condvar::new(),
                qpc_freq: qpc_freq(),
            }),
            started: false,
            send_timeout: cfg.send_timeout,
            names: (
                outs.get(out_id as usize).cloned().unwrap_or_default(),
                ins.get(in_id as usize).cloned().unwrap_or_default(),
            ),
        };
        // From here on, `t`'s Drop undoes whatever was set up if a step fails.

        // SAFETY: null attributes and name are allowed; auto-reset, initially unsignalled.
        t.out_event = unsafe { sys::CreateEventW(null(), 0, 0, null()) };
        if t.out_event.is_null() {
            return Err(TransportError::new("CreateEventW", "returned NULL").into());
        }
        // SAFETY: `t.out` is a writable handle slot; with CALLBACK_EVENT, dwCallback is the
        // event handle, which stays open until after midiOutClose (see Drop).
        check("midiOutOpen", unsafe {
            sys::midiOutOpen(
                &mut t.out,
                out_id,
                t.out_event as usize,
                0,
                sys::CALLBACK_EVENT,
            )
        })?;
        t.out_bufs = (0..2).map(|_| Buf::new(cfg.out_chunk.max(1))).collect();

        let instance = Arc::as_ptr(&t.shared) as usize;
        let callback: sys::MIDICALLBACK = midi_in_proc;
        // SAFETY: `callback` has the MIDIINPROC signature; `instance` points to `Shared`,
        // which `t.shared` keeps alive until after midiInClose (Drop closes before the Arc
        // can be released).
        check("midiInOpen", unsafe {
            sys::midiInOpen(
                &mut t.inp,
                in_id,
                callback as usize,
                instance,
                sys::CALLBACK_FUNCTION,
            )
        })?;
        for i in 0..cfg.in_buffers.max(1) {
            let mut b = Buf::new(cfg.in_buffer_size.max(16));
            let p = b.hdr_ptr();
            // SAFETY: `p` points to our boxed header, which is not shared with WinMM yet.
            unsafe { (*p).lpData = b.data.as_mut_ptr() };
            // SAFETY: as above.
            unsafe { (*p).dwBufferLength = b.data.len() as u32 };
            // SAFETY: as above.
            unsafe { (*p).dwUser = i };
            t.in_bufs.push(b);
            let b = t
                .in_bufs
                .last_mut()
                .ok_or_else(|| TransportError::new("open", "buffer"))?;
            let p = b.hdr_ptr();
            // SAFETY: the header and its buffer are boxed and stay put until after they are
            // unprepared in Drop; `t.inp` is open.
            check("midiInPrepareHeader", unsafe {
                sys::midiInPrepareHeader(t.inp, p, HDR_SIZE)
            })?;
            b.prepared = true;
            // SAFETY: as above; the header is prepared and not queued.
            check("midiInAddBuffer", unsafe {
                sys::midiInAddBuffer(t.inp, p, HDR_SIZE)
            })?;
            b.queued = true;
        }
        // SAFETY: `t.inp` is an open input handle.
        check("midiInStart", unsafe { sys::midiInStart(t.inp) })?;
        t.started = true;
        Ok(t)
    }

    /// Re-queues the input headers the callback has handed back.
    fn requeue_input(&mut self) -> Result<(), TransportError> {
        let ready = {
            let mut inbox = self.shared.lock();
            if inbox.closing {
                // The input device is being (or has been) reset and closed.
                inbox.requeue.clear();
                return Ok(());
            }
            std::mem::take(&mut inbox.requeue)
        };
        for i in ready {
            let Some(b) = self.in_bufs.get_mut(i) else {
                continue;
            };
            let p = b.hdr_ptr();
            // SAFETY: the callback pushed this index after WinMM returned the header and it
            // finished reading it (the mutex orders that before us); the header is still
            // prepared and its buffer alive.
            // (A place assignment: no reference to the packed field is made.)
            unsafe { (*p).dwBytesRecorded = 0 };
            // SAFETY: as above; re-adding a returned, prepared header is allowed.
            check("midiInAddBuffer", unsafe {
                sys::midiInAddBuffer(self.inp, p, HDR_SIZE)
            })?;
        }
        Ok(())
    }

    /// Waits until output buffer `i` is done and unprepares it.
    fn reclaim_out(&mut self, i: usize) -> Result<(), TransportError> {
        let deadline = Instant::now() + self.send_timeout;
        loop {
            let Some(b) = self.out_bufs.get(i) else {
                return Ok(());
            };
            if !b.queued || b.is_done() {
                break;
            }
            if Instant::now() >= deadline {
                return Err(TransportError::new(
                    "midiOutLongMsg",
                    "the driver did not finish an output buffer in time",
                ));
            }
            self.requeue_input()?;
            // SAFETY: `out_event` is a live event handle owned by this transport.
            unsafe { sys::WaitForSingleObject(self.out_event, 2) };
        }
        let out = self.out;
        if let Some(b) = self.out_bufs.get_mut(i) {
            b.queued = false;
            if b.prepared {
                let p = b.hdr_ptr();
                // SAFETY: the header is done (returned by the driver) and still prepared.
                check("midiOutUnprepareHeader", unsafe {
                    sys::midiOutUnprepareHeader(out, p, HDR_SIZE)
                })?;
                b.prepared = false;
            }
        }
        Ok(())
    }

    fn shutdown(&mut self) -> bool {
        let mut clean = true;
        self.shared.lock().closing = true;
        if !self.inp.is_null() {
            if self.started {
                // SAFETY: `inp` is an open input handle.
                unsafe { sys::midiInStop(self.inp) };
            }
            // SAFETY: `inp` is an open input handle; reset returns every queued header.
            unsafe { sys::midiInReset(self.inp) };
            let deadline = Instant::now() + Duration::from_secs(2);
            while self.in_bufs.iter().any(|b| b.queued && !b.is_done()) && Instant::now() < deadline
            {
                std::thread::sleep(Duration::from_millis(1));
            }
            let inp = self.inp;
            for b in &mut self.in_bufs {
                if b.prepared && (!b.queued || b.is_done()) {
                    let p = b.hdr_ptr();
                    // SAFETY: the header is no longer queued with the driver.
                    let r = unsafe { sys::midiInUnprepareHeader(inp, p, HDR_SIZE) };
                    b.prepared = r != sys::MMSYSERR_NOERROR;
                }
            }
            // SAFETY: `inp` is open; after a successful close no more callbacks arrive.
            if unsafe { sys::midiInClose(self.inp) } == sys::MMSYSERR_NOERROR {
                self.inp = null_mut();
            } else {
                clean = false;
            }
        }
        if !self.out.is_null() {
            // SAFETY: `out` is an open output handle; reset returns every queued header.
            unsafe { sys::midiOutReset(self.out) };
            for i in 0..self.out_bufs.len() {
                clean &= self.reclaim_out(i).is_ok();
            }
            // SAFETY: `out` is open; WinMM refuses to close while headers are queued.
            if unsafe { sys::midiOutClose(self.out) } == sys::MMSYSERR_NOERROR {
                self.out = null_mut();
            } else {
                clean = false;
            }
        }
        if !self.out_event.is_null() && clean {
            // SAFETY: our event handle, no longer used by WinMM once the device is closed.
            unsafe { sys::CloseHandle(self.out_event) };
        }
        clean
    }
}

impl Drop for WinMmTransport {
    fn drop(&mut self) {
        if !self.shutdown() {
            // WinMM may still own headers or call back into `Shared`: leak rather than free.
            std::mem::forget(std::mem::take(&mut self.in_bufs));
            std::mem::forget(std::mem::take(&mut self.out_bufs));
            std::mem::forget(Arc::clone(&self.shared));
            eprintln!("mxf-roundtrip: WinMM did not release its buffers; leaked them");
        }
    }
}

impl Transport for WinMmTransport {
    fn now_us(&self) -> u64 {
        qpc_us(self.shared.qpc_freq)
    }

    fn send_short(&mut self, packed: u32) -> Result<(), TransportError> {
        // SAFETY: `out` is an open output handle for the transport's lifetime.
        check("midiOutShortMsg", unsafe {
            sys::midiOutShortMsg(self.out, packed)
        })
    }

    fn send_long(&mut self, msg: &[u8]) -> Result<(), TransportError> {
        let chunk = self.out_bufs.first().map_or(1, |b| b.data.len()).max(1);
        for piece in msg.chunks(chunk) {
            let i = self.next_out;
            self.next_out = (self.next_out + 1) % self.out_bufs.len().max(1);
            self.reclaim_out(i)?;
            let out = self.out;
            let Some(b) = self.out_bufs.get_mut(i) else {
                return Err(TransportError::new("send_long", "no output buffer"));
            };
            b.data[..piece.len()].copy_from_slice(piece);
            let data = b.data.as_mut_ptr();
            let p = b.hdr_ptr();
            // SAFETY: the header is ours and not with WinMM (reclaimed above).
            unsafe {
                p.write(sys::MIDIHDR {
                    lpData: data,
                    dwBufferLength: piece.len() as u32,
                    ..sys::MIDIHDR::ZERO
                })
            };
            // SAFETY: header and buffer are boxed and stay alive and unmoved until
            // `reclaim_out` has seen MHDR_DONE and unprepared them.
            check("midiOutPrepareHeader", unsafe {
                sys::midiOutPrepareHeader(out, p, HDR_SIZE)
            })?;
            b.prepared = true;
            // SAFETY: as above; the header is prepared.
            check("midiOutLongMsg", unsafe {
                sys::midiOutLongMsg(out, p, HDR_SIZE)
            })?;
            b.queued = true;
        }
        for i in 0..self.out_bufs.len() {
            self.reclaim_out(i)?;
        }
        Ok(())
    }

    fn recv(&mut self, timeout: Duration) -> Result<Option<Event>, TransportError> {
        self.requeue_input()?;
        let deadline = Instant::now() + timeout;
        let ev = {
            let mut inbox = self.shared.lock();
            loop {
                if let Some(ev) = inbox.events.pop_front() {
                    break Some(ev);
                }
                let now = Instant::now();
                if now >= deadline {
                    break None;
                }
                inbox = self
                    .shared
                    .ready
                    .wait_timeout(inbox, deadline - now)
                    .map(|(g, _)| g)
                    .unwrap_or_else(|e| e.into_inner().0);
            }
        };
        self.requeue_input()?;
        Ok(ev)
    }

    fn describe(&self) -> String {
        format!("WinMM: out '{}' -> in '{}'", self.names.0, self.names.1)
    }
}
