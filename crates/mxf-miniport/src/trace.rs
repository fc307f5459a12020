//! Bring-up trace lines of the COM entry points the port calls to open and run streams
//! (`NewStream`, `SetState`, `ConnectOutput`, `DisconnectOutput`): one line per call through
//! the platform's log, `Trace` level on success and `Error` level with the NTSTATUS on failure.
//! None of them is a per-message path: the port calls each when a client opens, starts, stops
//! or closes a pin.

use core::fmt;
use mxf_abi::{KsState, NtStatus, nt_success};
use mxf_core::platform::{LogLevel, Platform};

/// Logs `<what>: ok` (`Trace`) or `<what> failed: 0x........` (`Error`); returns `status`.
pub(crate) fn outcome<P: Platform>(p: &P, what: fmt::Arguments<'_>, status: NtStatus) -> NtStatus {
    if nt_success(status) {
        p.log(LogLevel::Trace, format_args!("{what}: ok"));
    } else {
        p.log(
            LogLevel::Error,
            format_args!("{what} failed: {:#010x}", status as u32),
        );
    }
    status
}

/// The `KSSTATE_*` name of a state (the value itself when it is none of the four).
pub(crate) struct StateName(pub KsState);

impl fmt::Display for StateName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            KsState::STOP => f.write_str("STOP"),
            KsState::ACQUIRE => f.write_str("ACQUIRE"),
            KsState::PAUSE => f.write_str("PAUSE"),
            KsState::RUN => f.write_str("RUN"),
            KsState(other) => write!(f, "{other}"),
        }
    }
}
