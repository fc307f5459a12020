//! A test-double `IAllocatorMXF`: std `Box`es, PortCls-like rules (fixed buffer size, zeroed
//! events, `*pp = NULL` on failure, `PutMessage` recycles packages and buffers), failure
//! injection, and bookkeeping of everything outstanding (double and foreign frees recorded).
//!
//! It also enforces what the DMus contract asks of a miniport: events come out with the
//! allocator's own mark in `bReserved` and `cbStruct` = 40, and an event returned with either
//! changed is recorded as an error; so is every `PutBuffer` call (miniports return buffers
//! inside events, through `PutMessage`).

use mxf_abi::*;
use mxf_core::com::ComPtr;
use std::collections::HashSet;
use std::ffi::c_void;
use std::ptr::{self, NonNull};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};

/// When allocations fail.
#[derive(Clone, Copy, Debug)]
pub enum FailPlan {
    /// Never.
    Never,
    /// Each `GetMessage`/`GetBuffer` fails with probability `percent`/100 (xorshift from `seed`).
    Random {
        /// The xorshift seed.
        seed: u64,
        /// The failure probability, in percent.
        percent: u32,
    },
    /// Every allocation from the `n`th on (0-based) fails.
    From(u64),
}

/// What the allocator saw.
#[derive(Default, Debug)]
pub struct Counters {
    /// `GetMessage` calls.
    pub get_message: u64,
    /// `GetBuffer` calls.
    pub get_buffer: u64,
    /// Calls the [`FailPlan`] failed.
    pub failures: u64,
    /// Most events outstanding at once.
    pub peak_events: usize,
    /// Most buffers outstanding at once.
    pub peak_buffers: usize,
    /// Contract violations seen (double or foreign frees, changed marks, `PutBuffer` calls).
    pub errors: Vec<String>,
}

struct State {
    events: HashSet<usize>,
    buffers: HashSet<usize>,
    plan: FailPlan,
    rng: u64,
    calls: u64,
    c: Counters,
}

#[repr(C)]
struct Obj {
    vtbl: *const IAllocatorMxfVtbl,
    refs: AtomicU32,
    buffer_size: u16,
    state: Mutex<State>,
}

/// Handle on a test-double allocator.
pub struct TestAlloc {
    com: ComPtr<IAllocatorMxf>,
    obj: *const Obj,
}

static VTBL: IAllocatorMxfVtbl = IAllocatorMxfVtbl {
    base: IMxfVtbl {
        base: IUnknownVtbl {
            query_interface,
            add_ref,
            release,
        },
        set_state,
        put_message,
        connect_output,
        disconnect_output,
    },
    get_message,
    get_buffer_size,
    get_buffer,
    put_buffer,
};

impl TestAlloc {
    /// An allocator of `buffer_size`-byte buffers failing as `plan` says.
    pub fn new(buffer_size: u16, plan: FailPlan) -> Self {
        let seed = match plan {
            FailPlan::Random { seed, .. } => seed | 1,
            _ => 1,
        };
        let obj = Box::into_raw(Box::new(Obj {
            vtbl: &VTBL,
            refs: AtomicU32::new(1),
            buffer_size,
            state: Mutex::new(State {
                events: HashSet::new(),
                buffers: HashSet::new(),
                plan,
                rng: seed,
                calls: 0,
                c: Counters::default(),
            }),
        }));
        // SAFETY: `obj` is a live `Obj` whose first field points to an IAllocatorMXF table;
        // the ComPtr takes over the creation reference.
        let com = unsafe { ComPtr::from_raw(NonNull::new(obj.cast()).unwrap()) };
        Self { com, obj }
    }

    /// The allocator as a COM interface.
    pub fn com(&self) -> &ComPtr<IAllocatorMxf> {
        &self.com
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        // SAFETY: `self.com` keeps the object alive as long as `self`.
        unsafe { &*self.obj }.state.lock().unwrap()
    }

    /// Replaces the failure plan (and restarts its call count).
    pub fn set_plan(&self, plan: FailPlan) {
        let mut s = self.state();
        s.plan = plan;
        if let FailPlan::Random { seed, .. } = plan {
            s.rng = seed | 1;
        }
        s.calls = 0;
    }

    /// (events, buffers) handed out and not returned.
    pub fn outstanding(&self) -> (usize, usize) {
        let s = self.state();
        (s.events.len(), s.buffers.len())
    }

    /// A snapshot of the counters.
    pub fn counters(&self) -> Counters {
        let s = self.state();
        Counters {
            get_message: s.c.get_message,
            get_buffer: s.c.get_buffer,
            failures: s.c.failures,
            peak_events: s.c.peak_events,
            peak_buffers: s.c.peak_buffers,
            errors: s.c.errors.clone(),
        }
    }

    /// Asserts nothing is outstanding and no bad free happened.
    pub fn assert_clean(&self) {
        let c = self.counters();
        assert!(c.errors.is_empty(), "allocator errors: {:?}", c.errors);
        assert_eq!(self.outstanding(), (0, 0), "leaked events/buffers");
    }
}

unsafe fn obj<'a, T>(this: *mut T) -> &'a Obj {
    // SAFETY: every interface pointer handed out points at an `Obj` (caller's promise).
    unsafe { &*(this as *const Obj) }
}

impl State {
    fn should_fail(&mut self) -> bool {
        let n = self.calls;
        self.calls += 1;
        let fail = match self.plan {
            FailPlan::Never => false,
            FailPlan::From(k) => n >= k,
            FailPlan::Random { percent, .. } => {
                let mut x = self.rng;
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                self.rng = x;
                (x % 100) < u64::from(percent)
            }
        };
        if fail {
            self.c.failures += 1;
        }
        fail
    }
}

unsafe extern "system" fn query_interface(
    this: *mut IUnknown,
    iid: *const Guid,
    out: *mut *mut c_void,
) -> NtStatus {
    // SAFETY: COM contract: `iid` is readable.
    let iid = unsafe { *iid };
    if iid == IID_IUNKNOWN || iid == IID_IMXF || iid == IID_IALLOCATOR_MXF {
        // SAFETY: `this` is live (we are being called through it).
        unsafe { add_ref(this) };
        // SAFETY: COM contract: `out` is writable.
        unsafe { *out = this.cast() };
        STATUS_SUCCESS
    } else {
        // SAFETY: COM contract: `out` is writable.
        unsafe { *out = ptr::null_mut() };
        STATUS_INVALID_PARAMETER
    }
}

unsafe extern "system" fn add_ref(this: *mut IUnknown) -> u32 {
    // SAFETY: `this` is one of our objects.
    unsafe { obj(this) }.refs.fetch_add(1, Ordering::Relaxed) + 1
}

unsafe extern "system" fn release(this: *mut IUnknown) -> u32 {
    // SAFETY: `this` is one of our objects.
    let n = unsafe { obj(this) }.refs.fetch_sub(1, Ordering::AcqRel) - 1;
    if n == 0 {
        // SAFETY: the last reference is gone; the object came from `Box::into_raw`.
        let o = unsafe { Box::from_raw(this as *mut Obj) };
        let s = o.state.into_inner().unwrap();
        // Whatever is still outstanding is leaked on purpose (the test reports it before).
        drop(s);
    }
    n
}

unsafe extern "system" fn set_state(_: *mut IMxf, _: KsState) -> NtStatus {
    STATUS_SUCCESS
}

unsafe extern "system" fn connect_output(_: *mut IMxf, _: *mut IMxf) -> NtStatus {
    STATUS_SUCCESS
}

unsafe extern "system" fn disconnect_output(_: *mut IMxf, _: *mut IMxf) -> NtStatus {
    STATUS_SUCCESS
}

/// What this allocator keeps in `bReserved` of the events it hands out.
pub const RESERVED_MARK: u8 = 0xA7;

unsafe extern "system" fn put_message(this: *mut IMxf, evt: *mut DmusKernelEvent) -> NtStatus {
    // SAFETY: `this` is one of our objects.
    let o = unsafe { obj(this) };
    let mut s = o.state.lock().unwrap();
    let mut work = vec![evt];
    while let Some(mut cur) = work.pop() {
        while !cur.is_null() {
            if !s.events.remove(&(cur as usize)) {
                s.c.errors
                    .push(format!("foreign or double-freed event {cur:p}"));
                break;
            }
            // SAFETY: `cur` was handed out by `get_message` (it was in `events`) and is owned
            // by this call now; read before freeing.
            let ev = unsafe { Box::from_raw(cur) };
            if ev.b_reserved != RESERVED_MARK || usize::from(ev.cb_struct) != DMUS_KERNEL_EVENT_SIZE
            {
                s.c.errors.push(format!(
                    "event {cur:p} came back with bReserved {:#x} / cbStruct {} written",
                    ev.b_reserved, ev.cb_struct
                ));
            }
            if ev.is_package() {
                // SAFETY: the union's pointer arm is valid for any bit pattern.
                let sub = unsafe { ev.u_data.p_package_evt };
                if !sub.is_null() {
                    work.push(sub);
                }
            } else if !ev.is_short() {
                // SAFETY: as above.
                let b = unsafe { ev.u_data.pb_data };
                if !b.is_null() {
                    s.free_buffer(b, o.buffer_size, "PutMessage");
                }
            }
            cur = ev.p_next_evt;
        }
    }
    STATUS_SUCCESS
}

impl State {
    fn free_buffer(&mut self, b: *mut u8, size: u16, who: &str) -> bool {
        if self.buffers.remove(&(b as usize)) {
            // SAFETY: `b` came from `get_buffer`'s `Box<[u8]>` of `size` bytes (it was in
            // `buffers`) and is freed once.
            drop(unsafe { Box::from_raw(ptr::slice_from_raw_parts_mut(b, usize::from(size))) });
            true
        } else {
            self.c
                .errors
                .push(format!("{who}: foreign or double-freed buffer {b:p}"));
            false
        }
    }
}

unsafe extern "system" fn get_message(
    this: *mut IAllocatorMxf,
    out: *mut *mut DmusKernelEvent,
) -> NtStatus {
    // SAFETY: `this` is one of our objects.
    let o = unsafe { obj(this) };
    let mut s = o.state.lock().unwrap();
    s.c.get_message += 1;
    let p = if s.should_fail() {
        ptr::null_mut()
    } else {
        let p = Box::into_raw(Box::new(DmusKernelEvent {
            b_reserved: RESERVED_MARK,
            ..DmusKernelEvent::ZEROED
        }));
        s.events.insert(p as usize);
        s.c.peak_events = s.c.peak_events.max(s.events.len());
        p
    };
    // SAFETY: COM contract: `out` is writable.
    unsafe { *out = p };
    if p.is_null() {
        STATUS_INSUFFICIENT_RESOURCES
    } else {
        STATUS_SUCCESS
    }
}

unsafe extern "system" fn get_buffer_size(this: *mut IAllocatorMxf) -> u16 {
    // SAFETY: `this` is one of our objects.
    unsafe { obj(this) }.buffer_size
}

unsafe extern "system" fn get_buffer(this: *mut IAllocatorMxf, out: *mut *mut u8) -> NtStatus {
    // SAFETY: `this` is one of our objects.
    let o = unsafe { obj(this) };
    let mut s = o.state.lock().unwrap();
    s.c.get_buffer += 1;
    let p = if s.should_fail() {
        ptr::null_mut()
    } else {
        // Filled with a marker so that bytes never written show up in comparisons.
        let b = vec![0xCDu8; usize::from(o.buffer_size)].into_boxed_slice();
        let p = Box::into_raw(b) as *mut u8;
        s.buffers.insert(p as usize);
        s.c.peak_buffers = s.c.peak_buffers.max(s.buffers.len());
        p
    };
    // SAFETY: COM contract: `out` is writable.
    unsafe { *out = p };
    if p.is_null() {
        STATUS_INSUFFICIENT_RESOURCES
    } else {
        STATUS_SUCCESS
    }
}

unsafe extern "system" fn put_buffer(this: *mut IAllocatorMxf, buf: *mut u8) -> NtStatus {
    // SAFETY: `this` is one of our objects.
    let o = unsafe { obj(this) };
    let mut s = o.state.lock().unwrap();
    s.c.errors.push(format!(
        "PutBuffer({buf:p}) called: buffers go back inside events"
    ));
    if s.free_buffer(buf, o.buffer_size, "PutBuffer") {
        STATUS_SUCCESS
    } else {
        STATUS_INVALID_PARAMETER
    }
}
