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

/// `NT_ERROR(status)`: the severity bits (31..30) are `STATUS_SEVERITY_ERROR` (11).
#[inline]
pub const fn nt_error(status: NtStatus) -> bool {
    (status as u32) >> 30 == 0b11
}

/// The failure of an operation: an `NTSTATUS` that is an error code.
///
/// What `Err` carries in the Rust APIs (`Result<T, NtError>`), so that an `Err` can never hold
/// a success, informational or warning status; the COM boundary converts it back to the ABI
/// [`NtStatus`] (`From<NtError>`), which `?` does in a function returning
/// `Result<T, NtStatus>` or an `NtStatus`.
///
/// # Invariants
/// The wrapped status satisfies [`nt_error`].
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
#[repr(transparent)]
pub struct NtError(NtStatus);

impl NtError {
    /// `status` as an error, or `None` if it is not an error code.
    pub const fn new(status: NtStatus) -> Option<Self> {
        if nt_error(status) {
            // INVARIANT: just checked.
            Some(Self(status))
        } else {
            None
        }
    }

    /// What a failed call's `status` (one that is not `NT_SUCCESS`) means as an error: the
    /// status itself when it is an error code, else (a warning, e.g. `STATUS_BUFFER_OVERFLOW`)
    /// [`NtError::UNSUCCESSFUL`].
    pub const fn or_unsuccessful(status: NtStatus) -> Self {
        match Self::new(status) {
            Some(e) => e,
            None => Self::UNSUCCESSFUL,
        }
    }

    /// The ABI status.
    pub const fn status(self) -> NtStatus {
        self.0
    }

    /// For the constants below only (evaluated at compile time, so a wrong value fails the
    /// build instead of panicking).
    const fn known(status: NtStatus) -> Self {
        match Self::new(status) {
            Some(e) => e,
            None => panic!("not an NT_ERROR status"),
        }
    }

    /// [`STATUS_UNSUCCESSFUL`].
    pub const UNSUCCESSFUL: Self = Self::known(STATUS_UNSUCCESSFUL);
    /// [`STATUS_NOT_IMPLEMENTED`].
    pub const NOT_IMPLEMENTED: Self = Self::known(STATUS_NOT_IMPLEMENTED);
    /// [`STATUS_INVALID_PARAMETER`].
    pub const INVALID_PARAMETER: Self = Self::known(STATUS_INVALID_PARAMETER);
    /// [`STATUS_INVALID_DEVICE_REQUEST`].
    pub const INVALID_DEVICE_REQUEST: Self = Self::known(STATUS_INVALID_DEVICE_REQUEST);
    /// [`STATUS_BUFFER_TOO_SMALL`].
    pub const BUFFER_TOO_SMALL: Self = Self::known(STATUS_BUFFER_TOO_SMALL);
    /// [`STATUS_INSUFFICIENT_RESOURCES`].
    pub const INSUFFICIENT_RESOURCES: Self = Self::known(STATUS_INSUFFICIENT_RESOURCES);
    /// [`STATUS_NOT_SUPPORTED`].
    pub const NOT_SUPPORTED: Self = Self::known(STATUS_NOT_SUPPORTED);
    /// [`STATUS_INVALID_DEVICE_STATE`].
    pub const INVALID_DEVICE_STATE: Self = Self::known(STATUS_INVALID_DEVICE_STATE);
    /// [`STATUS_NOT_FOUND`].
    pub const NOT_FOUND: Self = Self::known(STATUS_NOT_FOUND);
    /// [`STATUS_NO_MATCH`].
    pub const NO_MATCH: Self = Self::known(STATUS_NO_MATCH);
}

impl From<NtError> for NtStatus {
    fn from(e: NtError) -> NtStatus {
        e.0
    }
}

impl core::fmt::Debug for NtError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "NtError({:#010X})", self.0 as u32)
    }
}

#[cfg(test)]
mod nt_error_tests {
    use super::*;

    #[test]
    fn only_error_codes_are_errors() {
        assert_eq!(NtError::new(STATUS_SUCCESS), None);
        assert_eq!(NtError::new(STATUS_NOT_ALL_ASSIGNED), None, "informational");
        assert_eq!(NtError::new(STATUS_BUFFER_OVERFLOW), None, "warning");
        let e = NtError::new(STATUS_INSUFFICIENT_RESOURCES).expect("an error code");
        assert_eq!(e, NtError::INSUFFICIENT_RESOURCES);
        assert_eq!(NtStatus::from(e), STATUS_INSUFFICIENT_RESOURCES);
        assert_eq!(
            NtError::or_unsuccessful(STATUS_BUFFER_OVERFLOW),
            NtError::UNSUCCESSFUL
        );
        assert_eq!(
            NtError::or_unsuccessful(STATUS_NO_MATCH).status(),
            STATUS_NO_MATCH
        );
    }
}
