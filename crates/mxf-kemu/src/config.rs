//! [`EmuConfig`]: how an emulator behaves, fixed at its creation and passed down to the parts
//! that need it (the lookaside lists, the spin locks).

use crate::fault::FaultPlan;
#[cfg(doc)]
use mxf_core::platform::MAX_PROCESSORS;

/// How the emulator behaves.
#[derive(Clone, Debug)]
pub struct EmuConfig {
    /// Driver Verifier on: Verifier bug check codes (0xC4 subcodes) where the kernel has
    /// them, and lookaside depth forced to 0.
    pub verifier: bool,
    /// Special pool: guard bytes around every allocation and a poisoned quarantine of freed
    /// memory.
    pub special_pool: bool,
    /// Which pool allocation attempts fail.
    pub fault: FaultPlan,
    /// Fixed lookaside depth; `None` = the kernel's automatic tuning between 4 and 256.
    /// Ignored (0) when `verifier` is set.
    pub lookaside_depth: Option<u16>,
    /// Emulated processors, 1..=[`MAX_PROCESSORS`] (`Platform::processor_count`). Each host
    /// thread runs on one of them, assigned round robin at first use
    /// ([`Emu::set_current_processor`](crate::Emu::set_current_processor) pins one).
    pub processors: u32,
}

/// [`EmuConfig::processors`] of [`EmuConfig::default`] and [`EmuConfig::verifier`].
pub const DEFAULT_PROCESSORS: u32 = 4;

impl Default for EmuConfig {
    fn default() -> Self {
        Self {
            verifier: false,
            special_pool: true,
            fault: FaultPlan::None,
            lookaside_depth: None,
            processors: DEFAULT_PROCESSORS,
        }
    }
}

impl EmuConfig {
    /// Driver Verifier's standard settings: special pool, IRQL checking with Verifier codes,
    /// lookaside depth 0.
    pub fn verifier() -> Self {
        Self {
            verifier: true,
            special_pool: true,
            fault: FaultPlan::None,
            lookaside_depth: Some(0),
            processors: DEFAULT_PROCESSORS,
        }
    }
}
