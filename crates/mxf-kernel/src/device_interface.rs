//! Values in a device interface's registry key (`IoOpenDeviceInterfaceRegistryKey`): how the
//! driver gives each cable's interfaces the friendly name the user chose.

use crate::sys::{
    DeviceObject, Handle, KEY_WRITE, REG_SZ, UnicodeString,
    ntoskrnl::{
        IoOpenDeviceInterfaceRegistryKey, IoRegisterDeviceInterface, RtlFreeUnicodeString, ZwClose,
        ZwSetValueKey,
    },
};
use core::ffi::c_void;
use mxf_abi::{Guid, NtStatus, STATUS_INVALID_PARAMETER, nt_success};

/// `s` (NUL-terminated UTF-16) as a `UNICODE_STRING` over the same units, without the NUL.
/// The string is only read through it (the kernel routines it is passed to take `IN`
/// strings through non-const pointers).
fn counted(s: &[u16]) -> Result<UnicodeString, NtStatus> {
    if s.last() != Some(&0) {
        return Err(STATUS_INVALID_PARAMETER);
    }
    let length = u16::try_from((s.len() - 1) * 2).map_err(|_| STATUS_INVALID_PARAMETER)?;
    let maximum_length = u16::try_from(s.len() * 2).map_err(|_| STATUS_INVALID_PARAMETER)?;
    Ok(UnicodeString {
        length,
        maximum_length,
        buffer: s.as_ptr().cast_mut(),
    })
}

/// The symbolic link `IoRegisterDeviceInterface` returned; its buffer is the system's, freed
/// with `RtlFreeUnicodeString` on drop.
struct SymbolicLink(UnicodeString);

impl Drop for SymbolicLink {
    fn drop(&mut self) {
        // SAFETY: the string IoRegisterDeviceInterface allocated and handed to us, freed once
        // (PASSIVE_LEVEL: the caller's contract of set_interface_string).
        unsafe { RtlFreeUnicodeString(&mut self.0) };
    }
}

/// A key handle `IoOpenDeviceInterfaceRegistryKey` opened, closed with `ZwClose` on drop.
struct Key(Handle);

impl Drop for Key {
    fn drop(&mut self) {
        // SAFETY: a handle we opened and nobody else closes, closed once.
        unsafe { ZwClose(self.0) };
    }
}

/// Writes the `REG_SZ` value `value` = `data` (both NUL-terminated UTF-16) into the registry
/// key of the device interface of class `category` with reference string `reference`
/// (NUL-terminated) on `pdo`: `IoRegisterDeviceInterface` (which returns the existing instance,
/// e.g. the one the INF added, or creates it), `IoOpenDeviceInterfaceRegistryKey`,
/// `ZwSetValueKey`, then `ZwClose` and `RtlFreeUnicodeString`. Returns the first failure.
///
/// # Safety
/// `pdo` is a live physical device object; `PASSIVE_LEVEL`, in a system thread (StartDevice).
pub unsafe fn set_interface_string(
    pdo: *mut DeviceObject,
    category: &Guid,
    reference: &[u16],
    value: &[u16],
    data: &[u16],
) -> NtStatus {
    let (mut reference, mut value) = match (counted(reference), counted(value)) {
        (Ok(r), Ok(v)) => (r, v),
        _ => return STATUS_INVALID_PARAMETER,
    };
    if data.last() != Some(&0) {
        return STATUS_INVALID_PARAMETER;
    }
    let Ok(data_size) = u32::try_from(data.len() * 2) else {
        return STATUS_INVALID_PARAMETER;
    };
    let mut returned = UnicodeString {
        length: 0,
        maximum_length: 0,
        buffer: core::ptr::null_mut(),
    };
    // SAFETY: PASSIVE_LEVEL and a live PDO (the caller's contract); `category` and the
    // reference string (over `reference`'s units, which outlive the call) are only read;
    // `returned` receives the system's string.
    let status = unsafe { IoRegisterDeviceInterface(pdo, category, &mut reference, &mut returned) };
    if !nt_success(status) {
        return status;
    }
    // Ours to free from here on, on every path.
    let mut link = SymbolicLink(returned);
    let mut handle: Handle = core::ptr::null_mut();
    // SAFETY: `link.0` is the symbolic link just returned; `handle` is a valid out-pointer.
    let status = unsafe { IoOpenDeviceInterfaceRegistryKey(&mut link.0, KEY_WRITE, &mut handle) };
    if !nt_success(status) {
        return status;
    }
    let key = Key(handle);
    // SAFETY: `key.0` is the open key; the value name and the `data_size` bytes of `data`
    // are only read and outlive the call.
    unsafe {
        ZwSetValueKey(
            key.0,
            &mut value,
            0,
            REG_SZ,
            data.as_ptr().cast_mut().cast::<c_void>(),
            data_size,
        )
    }
}
