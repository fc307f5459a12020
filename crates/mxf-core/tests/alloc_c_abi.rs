//! Our `IAllocatorMXF` called from C: `tests/c/allocator_vtbl.c` declares the interface the
//! way dmusicks.h's C callers see it and exercises every slot. The test compiles it with the
//! host C compiler (`cc`, or `$CC`) into a shared object in a temporary directory, loads it
//! with `dlopen`, and passes it our object; the C side returns its count of failed checks.

mod alloc_support;

use alloc_support::*;
use mxf_abi::IAllocatorMxf;
use std::ffi::{CStr, CString, c_char, c_int, c_void};
use std::path::PathBuf;
use std::process::Command;

unsafe extern "C" {
    fn dlopen(filename: *const c_char, flag: c_int) -> *mut c_void;
    fn dlsym(handle: *mut c_void, symbol: *const c_char) -> *mut c_void;
    fn dlerror() -> *const c_char;
}
const RTLD_NOW: c_int = 2;

fn build_c() -> PathBuf {
    let src = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/c/allocator_vtbl.c");
    let dir = std::env::temp_dir().join(format!("mxf-alloc-c-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let out = dir.join("liballocator_vtbl.so");
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    let status = Command::new(&cc)
        .args([
            "-std=c11", "-Wall", "-Wextra", "-Werror", "-O1", "-shared", "-fPIC", "-o",
        ])
        .arg(&out)
        .arg(&src)
        .status()
        .unwrap_or_else(|e| panic!("running {cc}: {e}"));
    assert!(status.success(), "{cc} failed to build {}", src.display());
    out
}

/// The message of the last failed dlopen/dlsym.
fn last_dl_error() -> &'static CStr {
    // SAFETY: called right after a failed dlopen/dlsym on this thread, so the error is set.
    let msg = unsafe { dlerror() };
    // SAFETY: dlerror returns a NUL-terminated string valid until the next dl* call, which
    // this test makes only after printing it.
    unsafe { CStr::from_ptr(msg) }
}

#[test]
fn a_c_caller_exercises_every_slot() {
    let so = build_c();
    let path = CString::new(so.to_str().unwrap()).unwrap();
    // SAFETY: dlopen with a valid C string.
    let h = unsafe { dlopen(path.as_ptr(), RTLD_NOW) };
    assert!(!h.is_null(), "dlopen: {:?}", last_dl_error());
    // SAFETY: dlsym with a handle from dlopen and a valid C string.
    let f = unsafe { dlsym(h, c"mxf_c_allocator_test".as_ptr()) };
    assert!(!f.is_null(), "dlsym: {:?}", last_dl_error());
    // SAFETY: the symbol is a function with the C signature declared in allocator_vtbl.c:
    // `int mxf_c_allocator_test(IAllocatorMXF *)`.
    let run = unsafe {
        std::mem::transmute::<*mut c_void, unsafe extern "C" fn(*mut IAllocatorMxf) -> c_int>(f)
    };
    let emu = emu();
    let p = make(&emu, small_cfg());
    // SAFETY: a live allocator; the C side balances every reference it takes.
    let failures = unsafe { run(p.as_raw()) };
    let _ = std::fs::remove_dir_all(so.parent().unwrap());
    assert_eq!(
        failures, 0,
        "failed checks in allocator_vtbl.c (see stderr)"
    );
    let s = ours(&p).stats();
    assert_eq!(ours(&p).ref_count(), 1);
    // 6 events in the chain + 1 re-get; 3 buffers (one PutBuffer, two in the chain).
    assert_eq!((s.gets, s.puts), (7, 7));
    assert_eq!((s.buffer_gets, s.buffer_puts), (3, 3));
    assert_eq!((s.outstanding_events, s.outstanding_buffers), (0, 0));
    assert_eq!(
        ours(&p).state(),
        mxf_abi::KsState::RUN,
        "last valid SetState"
    );
    drop(p);
    assert_clean_unload(&emu);
}
