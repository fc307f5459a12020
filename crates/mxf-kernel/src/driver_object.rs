//! The one field of `DRIVER_OBJECT` the driver writes: `DriverUnload`, to chain PortCls's
//! unload routine (see the driver crate's `lifecycle`).

use crate::sys::{DRIVER_OBJECT_DRIVER_UNLOAD, DriverObject, DriverUnload};

/// Stores `unload` in `driver->DriverUnload` and returns the routine that was there.
///
/// # Safety
/// `driver` points to a live `DRIVER_OBJECT` (x64 layout) that nothing else reads or writes
/// concurrently: in the kernel, the one `DriverEntry` received, called from `DriverEntry`.
pub unsafe fn replace_unload(
    driver: *mut DriverObject,
    unload: Option<DriverUnload>,
) -> Option<DriverUnload> {
    let slot = driver
        .cast::<u8>()
        .wrapping_add(DRIVER_OBJECT_DRIVER_UNLOAD)
        .cast::<Option<DriverUnload>>();
    // SAFETY: the caller guarantees a live DRIVER_OBJECT; DriverUnload is a pointer-aligned
    // nullable function pointer at DRIVER_OBJECT_DRIVER_UNLOAD (asserted against the headers
    // in sys::types, sys::wdk_agree and tests/layout_mingw.rs), written by nobody else now.
    unsafe { core::ptr::replace(slot, unload) }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// x64 `DRIVER_OBJECT` storage: 0x150 bytes, pointer-aligned.
    #[repr(C, align(8))]
    struct FakeDriverObject([u8; 0x150]);

    // Different bodies, so that no optimisation can give the two one address.
    unsafe extern "system" fn first(_: *mut DriverObject) {
        core::hint::black_box(1);
    }
    unsafe extern "system" fn second(_: *mut DriverObject) {
        core::hint::black_box(2);
    }

    #[test]
    fn replace_unload_swaps_exactly_the_unload_slot() {
        let mut obj = FakeDriverObject([0xAB; 0x150]);
        let base = obj.0.as_mut_ptr();
        // SAFETY: the slot is inside `obj` and 8-aligned (0x68 from an 8-aligned base).
        unsafe {
            base.wrapping_add(DRIVER_OBJECT_DRIVER_UNLOAD)
                .cast::<Option<DriverUnload>>()
                .write(Some(first))
        };
        let driver = base.cast::<DriverObject>();
        // SAFETY: `driver` is our fake object, used by this thread only.
        let old = unsafe { replace_unload(driver, Some(second)) };
        let first: DriverUnload = first;
        let second: DriverUnload = second;
        assert_eq!(old.map(|f| f as usize), Some(first as usize));
        // SAFETY: as above.
        let now = unsafe { replace_unload(driver, None) };
        assert_eq!(now.map(|f| f as usize), Some(second as usize));
        let slot = DRIVER_OBJECT_DRIVER_UNLOAD..DRIVER_OBJECT_DRIVER_UNLOAD + 8;
        for (i, b) in obj.0.iter().enumerate() {
            let want = if slot.contains(&i) { 0 } else { 0xAB };
            assert_eq!(*b, want, "byte {i:#x}");
        }
    }
}
