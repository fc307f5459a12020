//! The options of a run: [`SimOptions`] (with the miniport, the planted fault and the
//! cables to run) and the latency margin of the verdict. A leaf: the single-cable run, the
//! multi-cable run and both reports read them.

use mxf_portemu::Packaging;

/// The default latency bound (100 ns): the port's DPC latency plus this margin.
pub const DEFAULT_LATENCY_MARGIN_100NS: i64 = 100_000;

/// Which miniport runs behind the port.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum MiniportKind {
    /// mxfloop's miniport (`mxf_miniport::new_miniport`).
    Real,
    /// The port emulator's test double.
    Double,
}

/// Options of a run.
#[derive(Clone, Debug)]
pub struct SimOptions {
    /// Driver Verifier settings in the emulator.
    pub verifier: bool,
    /// Fault injection: one pool allocation attempt in `n` fails (after setup).
    pub faults: Option<u32>,
    /// The port allocator's buffer size.
    pub buffer_size: Option<u16>,
    /// Seed (workload and faults).
    pub seed: u64,
    /// The miniport.
    pub miniport: MiniportKind,
    /// Progress lines on stderr.
    pub progress: bool,
    /// Test hook: flip a bit of one captured byte before comparing.
    pub corrupt_capture: bool,
    /// Render chain grouping.
    pub packaging: Packaging,
    /// The loopback allocator's buffer size (default: the allocator's default).
    pub loopback_buffer_size: Option<u16>,
    /// The loopback's capacity in bytes (default 1 MiB; at least `MAX_WRITE`).
    pub loopback_capacity: Option<u32>,
    /// The port's Notify → DPC latency (100 ns).
    pub dpc_latency_100ns: i64,
    /// The latency bound of the verdict (100 ns); `None`: the DPC latency plus
    /// [`DEFAULT_LATENCY_MARGIN_100NS`].
    pub max_latency_100ns: Option<i64>,
    /// Test hook: a fault planted in the pipeline, to prove the verdict catches it.
    pub plant: Option<Plant>,
    /// How the miniport flags capture events (`--capture-mode`).
    pub capture_mode: mxf_core::capture::CaptureMode,
    /// Cables and clients per cable (`--cables`, `--renderers`, `--readers`, `--feedback`);
    /// anything but [`CableOptions::SINGLE`] runs [`crate::cables::run`].
    pub cables: CableOptions,
}

/// A fault planted by a test (`--test-plant`), each one a bug the verdict must catch.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Plant {
    /// The capture side tags its events with channel group 2 instead of 1.
    ChannelGroup,
    /// Captured events carry presentation times 1 ms early, as when the render side plays
    /// held events before their time.
    PlayEarly,
    /// The capture side flags no event INCOMPLETE.
    DropIncomplete,
    /// A parser bug: every pitch bend's second data byte reads as 0, in the parser the
    /// capture side and the port's sink use (the expected side does not use it).
    ParserBug,
    /// The capture side overwrites `bReserved` of the port's events (a whole-struct write).
    ReservedWrite,
    /// The capture side takes spare buffers and gives them back with `PutBuffer`.
    PutBuffer,
}

impl Plant {
    /// Every plant, by its `--test-plant` name.
    pub const ALL: [(&'static str, Plant); 6] = [
        ("channel-group", Plant::ChannelGroup),
        ("play-early", Plant::PlayEarly),
        ("drop-incomplete", Plant::DropIncomplete),
        ("parser-bug", Plant::ParserBug),
        ("reserved-write", Plant::ReservedWrite),
        ("put-buffer", Plant::PutBuffer),
    ];

    /// The capture-side rewrite that stands in for the fault, if it is one.
    pub(crate) fn tamper(self) -> Option<fn(&mut mxf_abi::DmusKernelEvent)> {
        match self {
            Plant::ChannelGroup => Some(|ev| ev.us_channel_group = 2),
            Plant::PlayEarly => {
                Some(|ev| ev.ull_pres_time_100ns = ev.ull_pres_time_100ns.saturating_sub(10_000))
            }
            Plant::DropIncomplete => Some(|ev| ev.us_flags &= !mxf_abi::DMUS_KEF_EVENT_INCOMPLETE),
            Plant::ParserBug | Plant::ReservedWrite | Plant::PutBuffer => None,
        }
    }
}

impl SimOptions {
    /// The latency bound in force (100 ns).
    pub fn max_latency_100ns(&self) -> i64 {
        self.max_latency_100ns.unwrap_or(
            self.dpc_latency_100ns
                .saturating_add(DEFAULT_LATENCY_MARGIN_100NS),
        )
    }
}

impl SimOptions {
    /// The defaults of the command line: real miniport, no verifier, no faults, seed 1.
    pub fn new() -> Self {
        Self {
            verifier: false,
            faults: None,
            buffer_size: None,
            seed: 1,
            miniport: MiniportKind::Real,
            progress: false,
            corrupt_capture: false,
            packaging: Packaging::Mixed,
            loopback_buffer_size: None,
            loopback_capacity: None,
            dpc_latency_100ns: mxf_portemu::DEFAULT_DPC_LATENCY_100NS,
            max_latency_100ns: None,
            plant: None,
            capture_mode: mxf_core::capture::CaptureMode::Whole,
            cables: CableOptions::SINGLE,
        }
    }
}

impl Default for SimOptions {
    fn default() -> Self {
        Self::new()
    }
}

/// How many clients of each kind a run opens per cable.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct CableOptions {
    /// Cables (`--cables`).
    pub cables: u32,
    /// Render instances per cable (`--renderers`).
    pub renderers: u32,
    /// Capture instances per cable (`--readers`).
    pub readers: u32,
    /// The echo application on every cable (`--feedback`).
    pub feedback: bool,
    /// The feedback guard's limit, messages a second (`--feedback-limit`; the registry
    /// value's meaning, 0 disables the guard); `None`: the driver's default, or with
    /// `feedback` [`feedback_limit_for`](crate::cables::feedback_limit_for) the workload.
    pub feedback_limit: Option<u32>,
}

impl CableOptions {
    /// One cable, one renderer, one reader, no feedback: the classic run.
    pub const SINGLE: Self = Self {
        cables: 1,
        renderers: 1,
        readers: 1,
        feedback: false,
        feedback_limit: None,
    };

    /// Whether the run needs the multi-client path.
    pub fn is_multi(&self) -> bool {
        *self != Self::SINGLE
    }
}
