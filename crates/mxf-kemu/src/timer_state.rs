//! The emulator's table of timers ([`TimerState`]): what each [`EmuTimer`](crate::EmuTimer) is
//! armed for and whether its callback runs, shared by the timers (arming, cancelling,
//! deleting) and [`Emu::advance_time`](crate::Emu::advance_time) (firing).

use mxf_core::platform::TimerCallback;
use std::collections::HashMap;

pub(crate) struct TimerEntry {
    pub(crate) callback: TimerCallback,
    pub(crate) context: usize,
    /// Due time and arming sequence number (ties fire in arming order).
    pub(crate) due: Option<(i64, u64)>,
    /// Callbacks of this timer running right now.
    pub(crate) running: u32,
}

#[derive(Default)]
pub(crate) struct TimerState {
    pub(crate) timers: HashMap<u64, TimerEntry>,
    pub(crate) seq: u64,
}

impl TimerState {
    /// The armed timer due first, if it is due by `limit`.
    pub(crate) fn next_due_by(&self, limit: i64) -> Option<(u64, i64)> {
        self.timers
            .iter()
            .filter_map(|(&id, t)| t.due.map(|d| (d, id)))
            .min()
            .filter(|((due, _), _)| *due <= limit)
            .map(|((due, _), id)| (id, due))
    }

    pub(crate) fn earliest(&self) -> Option<i64> {
        self.timers
            .values()
            .filter_map(|t| t.due.map(|d| d.0))
            .min()
    }
}
