//! Reading the driver's settings under the service key
//! (`HKLM\System\CurrentControlSet\Services\<path>`) with `RtlQueryRegistryValues`: a
//! `REG_DWORD` read into place, and any other value's bytes handed to a callback while the
//! query runs (so no buffer of the value's size is needed).

use crate::sys::{
    self, REG_DWORD, REG_NONE, RTL_QUERY_REGISTRY_DIRECT, RTL_QUERY_REGISTRY_NOEXPAND,
    RTL_QUERY_REGISTRY_TYPECHECK, RTL_QUERY_REGISTRY_TYPECHECK_SHIFT, RTL_REGISTRY_OPTIONAL,
    RTL_REGISTRY_SERVICES, RtlQueryRegistryTable, STATUS_OBJECT_TYPE_MISMATCH,
};
use core::ffi::c_void;
use mxf_abi::{NtStatus, STATUS_SUCCESS, nt_success};

/// The `REG_DWORD` value `name` of the key `path` under the Services key, or `default` when
/// the key or the value does not exist. A value of another type is an error
/// (`RTL_QUERY_REGISTRY_TYPECHECK`: it cannot overrun the 4 bytes it is read into).
///
/// `path` and `name` are NUL-terminated UTF-16. `PASSIVE_LEVEL`.
pub fn service_dword(path: &[u16], name: &[u16], default: u32) -> Result<u32, NtStatus> {
    let mut value = default;
    let mut fallback = default;
    let entry = RtlQueryRegistryTable {
        query_routine: None,
        flags: RTL_QUERY_REGISTRY_DIRECT | RTL_QUERY_REGISTRY_TYPECHECK,
        name: core::ptr::null(),
        entry_context: (&raw mut value).cast::<c_void>(),
        default_type: (REG_DWORD << RTL_QUERY_REGISTRY_TYPECHECK_SHIFT) | REG_DWORD,
        default_data: (&raw mut fallback).cast::<c_void>(),
        default_length: 4,
    };
    // SAFETY: PASSIVE_LEVEL (the caller's contract); with DIRECT and TYPECHECK for REG_DWORD
    // the routine writes at most 4 bytes to `value`, and reads the 4-byte default from
    // `fallback`; both live across the call.
    unsafe { query(path, name, entry) }?;
    Ok(value)
}

/// Runs `RtlQueryRegistryValues` on the key `path` under the Services key (optional: an
/// absent key is no error) with the one-entry table `entry` for the value `name` (the entry's
/// own `name` is replaced). `path` and `name` must be NUL-terminated UTF-16, else
/// `STATUS_INVALID_PARAMETER`; a failed query is its status.
///
/// # Safety
/// `PASSIVE_LEVEL`. What `entry`'s flags make the query do with its routine, entry context and
/// default data is valid, and all three live across the call.
unsafe fn query(
    path: &[u16],
    name: &[u16],
    mut entry: RtlQueryRegistryTable,
) -> Result<(), NtStatus> {
    if path.last() != Some(&0) || name.last() != Some(&0) {
        return Err(mxf_abi::STATUS_INVALID_PARAMETER);
    }
    entry.name = name.as_ptr();
    let mut table = [entry, RtlQueryRegistryTable::END];
    // SAFETY: PASSIVE_LEVEL and `entry` valid for its flags (the caller's contract); `path`
    // and `name` are NUL-terminated (checked) and outlive the call; the table ends with the
    // zeroed entry.
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
        Ok(())
    } else {
        Err(status)
    }
}

/// What [`visit`] needs: the caller's callback, the type it accepts, and what happened.
struct Visit<F> {
    f: F,
    value_type: u32,
    found: bool,
    mismatch: bool,
}

/// The query routine of [`service_value_bytes`]: hands the value's bytes to the callback if
/// the value has the type asked for, else notes the mismatch. Never fails the query.
///
/// # Safety
/// Called by `RtlQueryRegistryValues` with the `EntryContext` of [`service_value_bytes`]'s
/// table (a live, exclusively borrowed `Visit<F>`) and `value_length` readable bytes at
/// `value_data` (or a null or empty value).
unsafe extern "system" fn visit<F: FnMut(&[u8])>(
    _value_name: *mut u16,
    value_type: u32,
    value_data: *mut c_void,
    value_length: u32,
    _context: *mut c_void,
    entry_context: *mut c_void,
) -> NtStatus {
    // SAFETY: the entry context is the Visit<F> service_value_bytes passed, borrowed only
    // here for the duration of this call (RtlQueryRegistryValues calls the routine on the
    // caller's thread, one call at a time).
    let v = unsafe { &mut *entry_context.cast::<Visit<F>>() };
    if value_type != v.value_type {
        v.mismatch = true;
        return STATUS_SUCCESS;
    }
    v.found = true;
    let len = usize::try_from(value_length).unwrap_or(0);
    let bytes: &[u8] = if value_data.is_null() || len == 0 {
        &[]
    } else {
        // SAFETY: RtlQueryRegistryValues passes the value's data, `value_length` bytes, valid
        // for the duration of this call (the slice does not outlive it: `f` gets a borrow).
        unsafe { core::slice::from_raw_parts(value_data.cast::<u8>(), len) }
    };
    (v.f)(bytes);
    STATUS_SUCCESS
}

/// Calls `f` once with the bytes of the value `name` of the key `path` under the Services key
/// if it exists with type `value_type` (a `REG_MULTI_SZ` whole, with its NULs, as stored) and
/// answers `Ok(true)`; `Ok(false)` when the key or the value does not exist;
/// `Err(STATUS_OBJECT_TYPE_MISMATCH)` when it has another type (`f` is not called); the query's
/// status when it fails. The bytes are the registry's own, valid only during `f`, so a value
/// of any size is read without a buffer of that size.
///
/// `path` and `name` are NUL-terminated UTF-16. `PASSIVE_LEVEL`.
pub fn service_value_bytes<F: FnMut(&[u8])>(
    path: &[u16],
    name: &[u16],
    value_type: u32,
    f: F,
) -> Result<bool, NtStatus> {
    let mut v = Visit {
        f,
        value_type,
        found: false,
        mismatch: false,
    };
    let entry = RtlQueryRegistryTable {
        query_routine: Some(visit::<F>),
        // One call with the whole value, whatever its type; no default (REG_NONE): an absent
        // value is skipped.
        flags: RTL_QUERY_REGISTRY_NOEXPAND,
        name: core::ptr::null(),
        entry_context: (&raw mut v).cast::<c_void>(),
        default_type: REG_NONE,
        default_data: core::ptr::null_mut(),
        default_length: 0,
    };
    // SAFETY: PASSIVE_LEVEL (the caller's contract); the routine is `visit::<F>`, whose entry
    // context is `v`, live and not otherwise used across the call; no default data.
    unsafe { query(path, name, entry) }?;
    if v.mismatch && !v.found {
        Err(STATUS_OBJECT_TYPE_MISMATCH)
    } else {
        Ok(v.found)
    }
}
