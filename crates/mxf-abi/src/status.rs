//! `NTSTATUS` values used across the kernel COM interfaces.
//!
//! Kernel COM (`QueryInterface` included) returns `NTSTATUS`, not `HRESULT`.

/// A kernel status code: negative values are errors, see [`nt_success`].
pub type NtStatus = i32;

/// Reinterprets the documented unsigned spelling of a status code.
const fn st(v: u32) -> NtStatus {
    v as NtStatus
}

/// The operation completed successfully.
pub const STATUS_SUCCESS: NtStatus = 0;
/// Generic failure.
pub const STATUS_UNSUCCESSFUL: NtStatus = st(0xC000_0001);
/// The requested operation is not implemented.
pub const STATUS_NOT_IMPLEMENTED: NtStatus = st(0xC000_0002);
/// An invalid parameter was passed (also: unsupported IID in kernel `QueryInterface`).
pub const STATUS_INVALID_PARAMETER: NtStatus = st(0xC000_000D);
/// The request is not valid for this device.
pub const STATUS_INVALID_DEVICE_REQUEST: NtStatus = st(0xC000_0010);
/// The buffer is too small to contain the entry.
pub const STATUS_BUFFER_TOO_SMALL: NtStatus = st(0xC000_0023);
/// Not enough nonpaged memory (or the allocator's cap was reached).
pub const STATUS_INSUFFICIENT_RESOURCES: NtStatus = st(0xC000_009A);
/// The request is not supported.
pub const STATUS_NOT_SUPPORTED: NtStatus = st(0xC000_00BB);
/// The device is not in a state in which the request can be honoured.
pub const STATUS_INVALID_DEVICE_STATE: NtStatus = st(0xC000_0184);
/// The object (here: a property, or a node carrying it) was not found.
pub const STATUS_NOT_FOUND: NtStatus = st(0xC000_0225);
/// No match (used by `DataRangeIntersection` when ranges do not intersect).
pub const STATUS_NO_MATCH: NtStatus = st(0xC000_0272);
/// Success, but not every requested value could be granted (a property request whose
/// parameters the driver adjusted).
pub const STATUS_NOT_ALL_ASSIGNED: NtStatus = st(0x0000_0106);
/// The data was too large to fit into the buffer (a warning: only the size is returned).
pub const STATUS_BUFFER_OVERFLOW: NtStatus = st(0x8000_0005);

/// `NT_SUCCESS(status)`: success and informational codes are non-negative.
#[inline]
pub const fn nt_success(status: NtStatus) -> bool {
    status >= 0
}
