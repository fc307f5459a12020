//! [`MiniportConfig`]: how the miniport and its streams are sized. A leaf.

use mxf_core::capture::CaptureMode;
use mxf_core::feedback::FeedbackConfig;
use mxf_core::loopback::LoopbackConfig;
use mxf_core::render::RenderConfig;

/// How the miniport is sized.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct MiniportConfig {
    /// Each capture stream's loopback (its reader of the cable).
    pub loopback: LoopbackConfig,
    /// The cable's feedback guard (the driver reads it from the registry value
    /// `FeedbackMaxMessagesPerSecond`, see `FeedbackConfig::from_registry`).
    pub feedback: FeedbackConfig,
    /// The render stream's queue.
    pub render: RenderConfig,
    /// What `NewStream` stores in `*SchedulePreFetch` (100 ns units).
    pub prefetch_100ns: u64,
    /// Most bytes one capture service (`PutMessage(NULL)`) drains; if more are waiting, the
    /// stream asks its service group for a delayed service instead of running on.
    pub capture_service_max_bytes: u32,
    /// How capture events are flagged (the driver reads it from the registry value
    /// `CaptureMode`).
    pub capture_mode: CaptureMode,
}

impl MiniportConfig {
    /// 1 MiB loopback per capture stream, the default feedback guard, default render queue,
    /// prefetch 0 (the port sequences), 64 KiB per capture service, whole-message capture
    /// flags.
    pub const DEFAULT: Self = Self {
        loopback: LoopbackConfig::DEFAULT,
        feedback: FeedbackConfig::DEFAULT,
        render: RenderConfig::DEFAULT,
        prefetch_100ns: 0,
        capture_service_max_bytes: 64 * 1024,
        capture_mode: CaptureMode::Whole,
    };
}

impl Default for MiniportConfig {
    fn default() -> Self {
        Self::DEFAULT
    }
}
