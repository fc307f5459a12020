//! The generic `IUnknown` thunks of `mxf_core::com` (`query_interface`, `add_ref`, `release`,
//! `unknown_vtbl`, `drop_and_free`) on a tiny object of the test's own, on the emulator.

use mxf_abi::{
    Guid, IID_IMXF, IID_ISERVICE_SINK, IID_IUNKNOWN, IUnknown, IUnknownVtbl, NtStatus,
    STATUS_INVALID_PARAMETER, STATUS_SUCCESS,
};
use mxf_core::com::{self, ComObject, ComPtr, RefCount};
use mxf_core::platform::{Platform, PoolTag};
use mxf_kemu::{Emu, EmuConfig};
use std::ffi::c_void;
use std::ptr::{self, NonNull};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

const TAG_PROBE: PoolTag = PoolTag::new(b"MxfP");
const IID_PROBE_PRIVATE: Guid = Guid::from_u128(0x6d786630_00ff_4d58_8000_6d78666c6f6f);

/// The test object. With `FREE` its `destroy` drops it and frees its pool block (the normal
/// case); without, it only counts (so a `Release` too many can be made on memory that is
/// still there).
#[repr(C)]
struct Probe<const FREE: bool> {
    vtbl: *const IUnknownVtbl,
    refs: RefCount,
    emu: Emu,
    destroyed: Arc<AtomicU32>,
    /// Dropped with the object: counts drops (so a double drop would show).
    drops: DropCounter,
}

struct DropCounter(Arc<AtomicU32>);

impl Drop for DropCounter {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
}

impl<const FREE: bool> Probe<FREE> {
    const VTBL: IUnknownVtbl = com::unknown_vtbl::<Self>();
}

// SAFETY: `#[repr(C)]`, vtable pointer first; `VTBL` is `unknown_vtbl::<Self>()`, which is all
// that IUnknown and the private IID (an IUnknown-only interface) need; only probes carry it.
// `destroy` with FREE drops and frees the block `new_probe` allocated with `TAG_PROBE`;
// without, it touches nothing.
unsafe impl<const FREE: bool> ComObject for Probe<FREE> {
    type Platform = Emu;
    const NAME: &'static str = "probe";
    const IIDS: &'static [Guid] = &[IID_IUNKNOWN, IID_IMXF, IID_PROBE_PRIVATE];

    fn refs(&self) -> &RefCount {
        &self.refs
    }

    fn platform(&self) -> &Emu {
        &self.emu
    }

    unsafe fn destroy(this: *mut Self) {
        // SAFETY: live object (caller).
        unsafe { &*this }.destroyed.fetch_add(1, Ordering::Relaxed);
        if FREE {
            // SAFETY: from `pool_alloc` with this tag; ours alone at a zero count.
            unsafe { com::drop_and_free(this, TAG_PROBE) };
        }
    }
}

struct Made<const FREE: bool> {
    ptr: *mut IUnknown,
    destroyed: Arc<AtomicU32>,
    drops: Arc<AtomicU32>,
}

fn new_probe<const FREE: bool>(emu: &Emu) -> Made<FREE> {
    let destroyed = Arc::new(AtomicU32::new(0));
    let drops = Arc::new(AtomicU32::new(0));
    let mem = emu
        .pool_alloc(size_of::<Probe<FREE>>(), TAG_PROBE)
        .expect("pool")
        .cast::<Probe<FREE>>();
    // SAFETY: a fresh pool block of the object's size (pool blocks are 16-byte aligned).
    unsafe {
        mem.as_ptr().write(Probe {
            vtbl: &Probe::<FREE>::VTBL,
            refs: RefCount::new(),
            emu: emu.clone(),
            destroyed: destroyed.clone(),
            drops: DropCounter(drops.clone()),
        })
    };
    Made {
        ptr: mem.as_ptr().cast(),
        destroyed,
        drops,
    }
}

fn vtbl(p: *mut IUnknown) -> &'static IUnknownVtbl {
    // SAFETY: a live probe, whose first field is its vtable pointer.
    let table = unsafe { (*p).vtbl };
    // SAFETY: the probe's vtable is a static constant.
    unsafe { &*table }
}

fn count<const FREE: bool>(p: *mut IUnknown) -> u32 {
    // SAFETY: a live probe.
    unsafe { &*p.cast::<Probe<FREE>>() }.refs.get()
}

fn qi(p: *mut IUnknown, iid: *const Guid, out: *mut *mut c_void) -> NtStatus {
    // SAFETY: a live probe; `iid`/`out` are null or valid (unaligned allowed).
    unsafe { (vtbl(p).query_interface)(p, iid, out) }
}

fn release(p: *mut IUnknown) -> u32 {
    // SAFETY: a live probe on which the test holds the reference it gives up.
    unsafe { (vtbl(p).release)(p) }
}

fn add_ref(p: *mut IUnknown) -> u32 {
    // SAFETY: a live probe.
    unsafe { (vtbl(p).add_ref)(p) }
}

const SENTINEL: usize = 0x5A5A_5A5A;

#[test]
fn null_out_is_refused_without_writing_or_counting() {
    let emu = Emu::new(EmuConfig::verifier());
    let m = new_probe::<true>(&emu);
    assert_eq!(
        qi(m.ptr, &IID_IUNKNOWN, ptr::null_mut()),
        STATUS_INVALID_PARAMETER
    );
    assert_eq!(count::<true>(m.ptr), 1);
    assert_eq!(release(m.ptr), 0);
    assert_eq!(m.destroyed.load(Ordering::Relaxed), 1);
}

#[test]
fn null_iid_writes_null_and_is_refused() {
    let emu = Emu::new(EmuConfig::verifier());
    let m = new_probe::<true>(&emu);
    let mut out = SENTINEL as *mut c_void;
    assert_eq!(qi(m.ptr, ptr::null(), &mut out), STATUS_INVALID_PARAMETER);
    assert!(out.is_null());
    assert_eq!(count::<true>(m.ptr), 1);
    release(m.ptr);
}

#[test]
fn every_listed_iid_answers_the_object_with_one_more_reference_even_unaligned() {
    let emu = Emu::new(EmuConfig::verifier());
    let m = new_probe::<true>(&emu);
    for (i, iid) in [IID_IUNKNOWN, IID_IMXF, IID_PROBE_PRIVATE]
        .iter()
        .enumerate()
    {
        // The GUID and the out-pointer at odd offsets of byte buffers: callers we do not
        // control need not align them.
        let mut gbuf = [0u8; 17];
        let mut obuf = [0xA5u8; 1 + size_of::<*mut c_void>()];
        // SAFETY: offset 1 stays within the 17-byte buffer.
        let g = unsafe { gbuf.as_mut_ptr().add(1) };
        // SAFETY: offset 1 stays within the buffer of 1 + pointer-size bytes.
        let o = unsafe { obuf.as_mut_ptr().add(1) };
        // SAFETY: 16 writable bytes at `g`.
        unsafe { g.cast::<Guid>().write_unaligned(*iid) };
        let status = qi(m.ptr, g.cast(), o.cast());
        assert_eq!(status, STATUS_SUCCESS, "iid #{i}");
        // SAFETY: a pointer's bytes at `o`.
        let got = unsafe { o.cast::<*mut c_void>().read_unaligned() };
        assert_eq!(got, m.ptr.cast(), "iid #{i}");
        assert_eq!(obuf[0], 0xA5, "nothing written before the out-pointer");
        assert_eq!(count::<true>(m.ptr), 2 + i as u32);
    }
    for n in (0..4).rev() {
        assert_eq!(release(m.ptr), n);
    }
    assert_eq!(m.destroyed.load(Ordering::Relaxed), 1);
}

#[test]
fn an_unlisted_iid_writes_null_and_keeps_the_count() {
    let emu = Emu::new(EmuConfig::verifier());
    let m = new_probe::<true>(&emu);
    for iid in [IID_ISERVICE_SINK, Guid::from_u128(0)] {
        let mut out = SENTINEL as *mut c_void;
        assert_eq!(qi(m.ptr, &iid, &mut out), STATUS_INVALID_PARAMETER);
        assert!(out.is_null());
        assert_eq!(count::<true>(m.ptr), 1);
    }
    release(m.ptr);
}

#[test]
fn release_to_zero_destroys_once_and_frees_the_block() {
    let emu = Emu::new(EmuConfig::verifier());
    let before = emu.pool_report().live_count;
    let m = new_probe::<true>(&emu);
    assert_eq!(emu.pool_report().live_count, before + 1);
    assert_eq!(add_ref(m.ptr), 2);
    assert_eq!(add_ref(m.ptr), 3);
    assert_eq!(release(m.ptr), 2);
    assert_eq!(release(m.ptr), 1);
    assert_eq!(m.destroyed.load(Ordering::Relaxed), 0);
    assert_eq!(m.drops.load(Ordering::Relaxed), 0);
    assert_eq!(release(m.ptr), 0);
    assert_eq!(m.destroyed.load(Ordering::Relaxed), 1);
    assert_eq!(
        m.drops.load(Ordering::Relaxed),
        1,
        "dropped in place exactly once"
    );
    assert_eq!(emu.pool_report().live_count, before);
    emu.check_pool().expect("pool intact");
}

#[test]
fn release_on_a_zero_count_is_logged_answered_zero_and_destroys_nothing() {
    let emu = Emu::new(EmuConfig::verifier());
    let m = new_probe::<false>(&emu);
    assert_eq!(release(m.ptr), 0);
    assert_eq!(m.destroyed.load(Ordering::Relaxed), 1);
    let logged = emu.log_lines().len();
    assert_eq!(release(m.ptr), 0);
    assert_eq!(count::<false>(m.ptr), 0, "the count stays at zero");
    assert_eq!(
        m.destroyed.load(Ordering::Relaxed),
        1,
        "not destroyed again"
    );
    let lines = emu.log_lines();
    assert_eq!(lines.len(), logged + 1);
    let want = format!("mxf probe {:p}: Release on a zero count", m.ptr);
    let last = lines.last().expect("a line");
    assert!(last.contains(&want), "{last}");
    assert!(last.starts_with("ERROR"), "{last}");
    // The test made `destroy` keep the object: end it here.
    // SAFETY: from `new_probe::<false>`, never freed; nobody uses it afterwards.
    unsafe { com::drop_and_free(m.ptr.cast::<Probe<false>>(), TAG_PROBE) };
    assert_eq!(m.drops.load(Ordering::Relaxed), 1);
}

#[test]
fn com_ptr_drives_the_thunks() {
    let emu = Emu::new(EmuConfig::verifier());
    let m = new_probe::<true>(&emu);
    // SAFETY: a live probe carrying its initial reference, handed over.
    let unk = unsafe { ComPtr::<IUnknown>::from_raw(NonNull::new(m.ptr).expect("non-null")) };
    let mxf = unk.query::<mxf_abi::IMxf>().expect("IMXF is listed");
    assert_eq!(mxf.as_raw().cast::<IUnknown>(), m.ptr);
    let copy = unk.clone();
    assert_eq!(count::<true>(m.ptr), 3);
    assert!(unk.query::<mxf_abi::IServiceSink>().is_err());
    drop((unk, mxf));
    assert_eq!(m.destroyed.load(Ordering::Relaxed), 0);
    drop(copy);
    assert_eq!(m.destroyed.load(Ordering::Relaxed), 1);
}

/// The shared `QueryInterface` behaviour itself (what the allocator's and the port
/// emulator's slots call too): null `out`, null `iid`, a listed and an unlisted IID.
#[test]
fn answer_query_interface_null_out_null_iid_listed_and_unlisted() {
    let refs = RefCount::new();
    let this = 0x1000 as *mut IUnknown;
    let iids = [IID_IUNKNOWN, IID_IMXF];
    // SAFETY: `iid`/`out` are null or valid; `this` is never dereferenced by the function
    // (only handed out), and `refs` stands for its count.
    let st = unsafe { com::answer_query_interface(this, &IID_IMXF, ptr::null_mut(), &iids, &refs) };
    assert_eq!(st, STATUS_INVALID_PARAMETER, "null out: refused");
    assert_eq!(refs.get(), 1, "null out: no reference added");
    let mut out = SENTINEL as *mut c_void;
    // SAFETY: `iid`/`out` are null or valid; `this` is never dereferenced by the function
    // (only handed out), and `refs` stands for its count.
    let st = unsafe { com::answer_query_interface(this, ptr::null(), &mut out, &iids, &refs) };
    assert_eq!(st, STATUS_INVALID_PARAMETER);
    assert!(out.is_null(), "null iid: *out cleared");
    assert_eq!(refs.get(), 1);
    let mut out = SENTINEL as *mut c_void;
    // SAFETY: `iid`/`out` are null or valid; `this` is never dereferenced by the function
    // (only handed out), and `refs` stands for its count.
    let st =
        unsafe { com::answer_query_interface(this, &IID_ISERVICE_SINK, &mut out, &iids, &refs) };
    assert_eq!(st, STATUS_INVALID_PARAMETER);
    assert!(out.is_null(), "unlisted iid: *out cleared");
    assert_eq!(refs.get(), 1);
    let mut out = SENTINEL as *mut c_void;
    // SAFETY: `iid`/`out` are null or valid; `this` is never dereferenced by the function
    // (only handed out), and `refs` stands for its count.
    let st = unsafe { com::answer_query_interface(this, &IID_IMXF, &mut out, &iids, &refs) };
    assert_eq!(st, STATUS_SUCCESS);
    assert_eq!(out, this.cast::<c_void>());
    assert_eq!(refs.get(), 2, "listed iid: one more reference");
}

/// The shared `Release` behaviour itself: the last reference destroys once; a `Release`
/// too many destroys nothing, stays at zero, answers 0 and is reported.
#[test]
fn answer_release_destroys_once_and_reports_a_release_too_many() {
    let refs = RefCount::new();
    refs.add_ref();
    let destroyed = AtomicU32::new(0);
    let reported = AtomicU32::new(0);
    let release = || {
        com::answer_release(
            refs.release(),
            || {
                destroyed.fetch_add(1, Ordering::Relaxed);
            },
            || {
                reported.fetch_add(1, Ordering::Relaxed);
            },
        )
    };
    assert_eq!(release(), 1);
    assert_eq!(destroyed.load(Ordering::Relaxed), 0);
    assert_eq!(release(), 0);
    assert_eq!(destroyed.load(Ordering::Relaxed), 1, "destroyed at zero");
    assert_eq!(reported.load(Ordering::Relaxed), 0);
    assert_eq!(release(), 0, "a Release too many answers 0");
    assert_eq!(release(), 0);
    assert_eq!(
        destroyed.load(Ordering::Relaxed),
        1,
        "never destroyed twice"
    );
    assert_eq!(reported.load(Ordering::Relaxed), 2, "each one reported");
    assert_eq!(refs.get(), 0, "the count stays at zero");
}
