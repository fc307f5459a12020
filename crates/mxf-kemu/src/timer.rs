//! [`EmuTimer`]: `KTIMER` + `KDPC`, fired by [`Emu::advance_time`](crate::Emu::advance_time).

use crate::{Emu, Routine};
use mxf_core::platform::{Timer, TimerCallback};
use std::collections::HashMap;
use std::ffi::c_void;
use std::sync::atomic::Ordering::Relaxed;

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

/// The emulator's [`Timer`].
pub struct EmuTimer {
    emu: Emu,
    id: u64,
}

impl EmuTimer {
    pub(crate) fn create(emu: &Emu, callback: TimerCallback, context: *const c_void) -> Self {
        let id = emu.inner.next_id.fetch_add(1, Relaxed);
        emu.timer_state().timers.insert(
            id,
            TimerEntry {
                callback,
                context: context as usize,
                due: None,
                running: 0,
            },
        );
        emu.inner.counters.timers_created.fetch_add(1, Relaxed);
        Self {
            emu: emu.clone(),
            id,
        }
    }

    /// The due time this timer is armed for, if armed.
    pub fn due(&self) -> Option<i64> {
        self.emu
            .timer_state()
            .timers
            .get(&self.id)
            .and_then(|t| t.due.map(|d| d.0))
    }
}

impl std::fmt::Debug for EmuTimer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmuTimer")
            .field("id", &self.id)
            .field("due", &self.due())
            .finish()
    }
}

impl Timer for EmuTimer {
    fn set(&self, due_100ns: i64) {
        self.emu.check_dispatch_or_below(Routine::TimerSet);
        let mut st = self.emu.timer_state();
        st.seq += 1;
        let seq = st.seq;
        if let Some(t) = st.timers.get_mut(&self.id) {
            t.due = Some((due_100ns, seq));
        }
    }

    fn cancel(&self) -> bool {
        self.emu.check_dispatch_or_below(Routine::TimerCancel);
        let mut st = self.emu.timer_state();
        st.timers
            .get_mut(&self.id)
            .is_some_and(|t| t.due.take().is_some())
    }
}

impl Drop for EmuTimer {
    fn drop(&mut self) {
        let raised = crate::irql::current() != mxf_core::platform::PASSIVE_LEVEL;
        // KeCancelTimer + KeFlushQueuedDpcs: disarm, then wait for a running callback (not at
        // raised IRQL: that is the bug reported below, and waiting there could hang).
        let mut st = self.emu.timer_state();
        if let Some(t) = st.timers.get_mut(&self.id) {
            t.due = None;
        }
        while !raised && st.timers.get(&self.id).is_some_and(|t| t.running > 0) {
            st = self
                .emu
                .inner
                .timer_done
                .wait(st)
                .unwrap_or_else(|e| e.into_inner());
        }
        if st.timers.get(&self.id).is_some_and(|t| t.running == 0) {
            st.timers.remove(&self.id);
        }
        drop(st);
        if raised && !std::thread::panicking() {
            self.emu.check_passive(Routine::DropTimer);
        }
    }
}
