//! Kernel objects the DMus interfaces and requests pass along without looking inside: opaque
//! pointers. A leaf.

use core::ffi::c_void;

/// Opaque `DEVICE_OBJECT`.
pub type PDeviceObject = *mut c_void;
/// Opaque `IRP`.
pub type PIrp = *mut c_void;
/// Opaque `IResourceList` interface pointer.
pub type PResourceList = *mut c_void;
