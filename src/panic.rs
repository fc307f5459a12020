//! Freestanding runtime items of the WDM image (`--cfg mxf_no_wdk`; with the WDK crates,
//! wdk-sys and wdk-panic provide them): the panic handler and `_fltused`.

use core::sync::atomic::{AtomicBool, Ordering};
use mxf_core::platform::bugcheck::MXFLOOP_RUST_PANIC;
use mxf_core::platform::{LogLevel, Platform};
use mxf_kernel::KernelPlatform;

/// The MSVC toolchain's marker that floating point is used; the linker needs the symbol.
#[unsafe(no_mangle)]
#[used]
pub static _fltused: i32 = 0;

static PANICKING: AtomicBool = AtomicBool::new(false);

#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    let (line, column) = info
        .location()
        .map_or((0, 0), |l| (l.line() as usize, l.column() as usize));
    // A panic while formatting the first one must not recurse: go straight to the bug check.
    if !PANICKING.swap(true, Ordering::Relaxed) {
        KernelPlatform.log(LogLevel::Error, format_args!("panic: {info}"));
    }
    let file = info.location().map_or(0, |l| l.file().as_ptr() as usize);
    KernelPlatform.bug_check(MXFLOOP_RUST_PANIC, [file, line, column, 0])
}
