//! Reading the driver's settings: one `REG_DWORD` under the service key
//! (`HKLM\System\CurrentControlSet\Services\<path>`), with `RtlQueryRegistryValues`.

use crate::sys::{
    self, REG_DWORD, RTL_QUERY_REGISTRY_DIRECT, RTL_QUERY_REGISTRY_TYPECHECK,
    RTL_QUERY_REGISTRY_TYPECHECK_SHIFT, RTL_REGISTRY_OPTIONAL, RTL_REGISTRY_SERVICES,
    RtlQueryRegistryTable,
};
use core::ffi::c_void;
use mxf_abi::{NtStatus, nt_success};

/// The `REG_DWORD` value `name` of the key `path` under the Services key, or `default` when
/// the key or the value does not exist. A value of another type is an error
/// (`RTL_QUERY_REGISTRY_TYPECHECK`: it cannot overrun the 4 bytes it is read into).
///
/// `path` and `name` are NUL-terminated UTF-16. `PASSIVE_LEVEL`.
pub fn service_dword(path: &[u16], name: &[u16], default: u32) -> Result<u32, NtStatus> {
    if path.last() != Some(&0) || name.last() != Some(&0) {
        return Err(mxf_abi::STATUS_INVALID_PARAMETER);
    }
    let mut value = default;
    let mut fallback = default;
    let mut table = [
        RtlQueryRegistryTable {
            query_routine: core::ptr::null_mut(),
            flags: RTL_QUERY_REGISTRY_DIRECT | RTL_QUERY_REGISTRY_TYPECHECK,
            name: name.as_ptr(),
            entry_context: (&raw mut value).cast::<c_void>(),
            default_type: (REG_DWORD << RTL_QUERY_REGISTRY_TYPECHECK_SHIFT) | REG_DWORD,
            default_data: (&raw mut fallback).cast::<c_void>(),
            default_length: 4,
        },
        RtlQueryRegistryTable::END,
    ];
    // SAFETY: PASSIVE_LEVEL (the caller's contract); `path` and `name` are NUL-terminated
    // (checked) and outlive the call; the table ends with the zeroed entry; with DIRECT and
    // TYPECHECK for REG_DWORD the routine writes at most 4 bytes to `value`, and reads the
    // 4-byte default from `fallback`; both live across the call.
    let status = unsafe {
        sys::ntoskrnl::RtlQueryRegistryValues(
            RTL_REGISTRY_SERVICES | RTL_REGISTRY_OPTIONAL,
            path.as_ptr(),
            table.as_mut_ptr(),
            core::ptr::null_mut(),
            core::ptr::null_mut(),
        )
    };
    if nt_success(status) {
        Ok(value)
    } else {
        Err(status)
    }
}
