//! [`Kernel`]: the state one emulated kernel's parts share — configuration, pool, timer table,
//! clock, log, counters, processors. [`Emu`](crate::Emu) is a handle on it; the lookaside lists
//! and timers the emulator hands out keep one too, so they reach the pool and the timer table
//! without depending on `Emu` (which creates them).

use crate::config::EmuConfig;
use crate::cpu::Cpus;
use crate::pool::PoolState;
use crate::timer_state::TimerState;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};
use std::sync::{Condvar, Mutex, MutexGuard};

/// Event counts over the emulator's life (reported by `Emu::unload`).
#[derive(Default)]
pub(crate) struct Counters {
    pub(crate) block_pools_created: AtomicU64,
    pub(crate) timers_created: AtomicU64,
    pub(crate) timer_fires: AtomicU64,
    pub(crate) log_lines: AtomicU64,
}

/// The shared state of one emulated kernel.
pub(crate) struct Kernel {
    pub(crate) cfg: EmuConfig,
    /// The pool, the registry of lookaside lists and the fault plan (a list's cache hits
    /// take only the list's own lock).
    pub(crate) pool: Mutex<PoolState>,
    pub(crate) clock: AtomicI64,
    /// System time minus interrupt time.
    pub(crate) system_offset: AtomicI64,
    pub(crate) timers: Mutex<TimerState>,
    /// Signalled when a timer callback ends (a timer being dropped waits for it).
    pub(crate) timer_done: Condvar,
    /// Serialises `advance_time`; holds the next lookaside tuning tick.
    pub(crate) advance: Mutex<i64>,
    pub(crate) log: Mutex<std::collections::VecDeque<String>>,
    pub(crate) echo_log: bool,
    /// Source of lookaside list and timer ids.
    pub(crate) next_id: AtomicU64,
    pub(crate) counters: Counters,
    pub(crate) cpus: Cpus,
}

/// Locks an emulator mutex.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A bug check never unwinds while an emulator lock is held, but a test's own panic
    // inside a callback might: the state is still consistent, so carry on.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Kernel {
    pub(crate) fn pool_state(&self) -> MutexGuard<'_, PoolState> {
        lock(&self.pool)
    }

    pub(crate) fn timer_state(&self) -> MutexGuard<'_, TimerState> {
        lock(&self.timers)
    }

    /// A fresh id for a lookaside list or timer.
    pub(crate) fn new_id(&self) -> u64 {
        self.next_id.fetch_add(1, Relaxed)
    }
}
