//! [`EmuTimer`]: `KTIMER` + `KDPC`, fired by [`Emu::advance_time`](crate::Emu::advance_time).

use crate::kernel::Kernel;
use crate::routine::{self, Routine};
use crate::timer_state::TimerEntry;
use mxf_core::platform::{Timer, TimerCallback};
use std::ffi::c_void;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;

/// The emulator's [`Timer`].
pub struct EmuTimer {
    kernel: Arc<Kernel>,
    id: u64,
}

impl EmuTimer {
    pub(crate) fn create(
        kernel: &Arc<Kernel>,
        callback: TimerCallback,
        context: *const c_void,
    ) -> Self {
        let id = kernel.new_id();
        kernel.timer_state().timers.insert(
            id,
            TimerEntry {
                callback,
                context: context as usize,
                due: None,
                running: 0,
            },
        );
        kernel.counters.timers_created.fetch_add(1, Relaxed);
        Self {
            kernel: Arc::clone(kernel),
            id,
        }
    }

    /// The due time this timer is armed for, if armed.
    pub fn due(&self) -> Option<i64> {
        self.kernel
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
        routine::check_dispatch_or_below(Routine::TimerSet);
        let mut st = self.kernel.timer_state();
        st.seq += 1;
        let seq = st.seq;
        if let Some(t) = st.timers.get_mut(&self.id) {
            t.due = Some((due_100ns, seq));
        }
    }

    fn cancel(&self) -> bool {
        routine::check_dispatch_or_below(Routine::TimerCancel);
        let mut st = self.kernel.timer_state();
        st.timers
            .get_mut(&self.id)
            .is_some_and(|t| t.due.take().is_some())
    }
}

impl Drop for EmuTimer {
    fn drop(&mut self) {
        let raised = crate::irql_state::current() != mxf_core::platform::PASSIVE_LEVEL;
        // KeCancelTimer + KeFlushQueuedDpcs: disarm, then wait for a running callback (not at
        // raised IRQL: that is the bug reported below, and waiting there could hang).
        let mut st = self.kernel.timer_state();
        if let Some(t) = st.timers.get_mut(&self.id) {
            t.due = None;
        }
        while !raised && st.timers.get(&self.id).is_some_and(|t| t.running > 0) {
            st = self
                .kernel
                .timer_done
                .wait(st)
                .unwrap_or_else(|e| e.into_inner());
        }
        if st.timers.get(&self.id).is_some_and(|t| t.running == 0) {
            st.timers.remove(&self.id);
        }
        drop(st);
        if raised && !std::thread::panicking() {
            routine::check_passive(Routine::DropTimer);
        }
    }
}
