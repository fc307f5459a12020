//! [`Emu`]: the emulated kernel, and its [`Platform`] implementation.

use crate::bugcheck::{self, BugCheck, bug, c4};
use crate::config::EmuConfig;
use crate::cpu::Cpus;
use crate::fault::{FaultPlan, FaultState};
use crate::irql;
use crate::kernel::{Counters, Kernel, lock};
use crate::lookaside::EmuBlockPool;
use crate::pool::{Owner, PoolReport, PoolState};
use crate::routine::{self, Routine};
use crate::spin::EmuSpinLock;
use crate::timer::EmuTimer;
use crate::timer_state::TimerState;
use mxf_core::platform::{
    DISPATCH_LEVEL, Irql, LogLevel, MAX_PROCESSORS, Platform, PoolTag, TimerCallback,
    bugcheck as code,
};
use std::cell::Cell;
use std::ffi::c_void;
use std::fmt;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Condvar, Mutex};

/// Where the emulated clock starts (100 s after "boot"; nonzero so that code treating 0 as
/// "never" is exercised honestly).
pub const EMU_START_100NS: i64 = 1_000_000_000;

/// The emulated system (wall-clock) time at [`EMU_START_100NS`]: 2026-01-01 00:00 UTC in
/// `KeQuerySystemTime` units (100 ns since 1601-01-01). [`Emu::set_system_time`] moves it, as
/// setting the clock does on Windows, without moving the (monotonic) interrupt time.
pub const EMU_SYSTEM_TIME_AT_START_100NS: i64 = 134_116_992_000_000_000;
/// One second in 100 ns units: the lookaside tuning period.
pub const ONE_SECOND_100NS: i64 = 10_000_000;
/// Most lines [`Emu::log_lines`] keeps (older ones are dropped first).
pub const LOG_MAX_LINES: usize = 100_000;

/// What a clean unload saw over the emulator's life.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnloadReport {
    /// The pool at unload (nothing live).
    pub pool: PoolReport,
    /// Block pools (lookaside lists) ever created.
    pub block_pools_created: u64,
    /// Timers ever created.
    pub timers_created: u64,
    /// Timer callbacks run.
    pub timer_fires: u64,
    /// Log lines written.
    pub log_lines: u64,
}

thread_local! {
    static IN_ADVANCE: Cell<bool> = const { Cell::new(false) };
}

/// The emulated kernel: a cheap, cloneable handle (an `Arc` inside) implementing
/// [`Platform`]. Clones share one pool, clock, timer queue and log.
#[derive(Clone)]
pub struct Emu {
    inner: Arc<Kernel>,
}

impl fmt::Debug for Emu {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Emu")
            .field("cfg", &self.inner.cfg)
            .field("now", &self.now_100ns())
            .finish()
    }
}

impl Emu {
    /// A fresh emulated kernel.
    ///
    /// # Panics
    /// If `cfg.processors` is not in 1..=[`MAX_PROCESSORS`] (test misuse).
    pub fn new(cfg: EmuConfig) -> Emu {
        assert!(
            (1..=MAX_PROCESSORS).contains(&cfg.processors),
            "EmuConfig::processors must be 1..={MAX_PROCESSORS}, not {}",
            cfg.processors
        );
        bugcheck::install_bugcheck_hook();
        let echo_log = std::env::var("MXF_EMU_LOG").is_ok_and(|v| v == "1");
        Emu {
            inner: Arc::new(Kernel {
                pool: Mutex::new(PoolState::new(cfg.special_pool, FaultState::new(cfg.fault))),
                clock: AtomicI64::new(EMU_START_100NS),
                system_offset: AtomicI64::new(EMU_SYSTEM_TIME_AT_START_100NS - EMU_START_100NS),
                timers: Mutex::new(TimerState::default()),
                timer_done: Condvar::new(),
                advance: Mutex::new(EMU_START_100NS + ONE_SECOND_100NS),
                log: Mutex::new(std::collections::VecDeque::new()),
                echo_log,
                next_id: AtomicU64::new(1),
                counters: Counters::default(),
                cpus: Cpus::new(cfg.processors),
                cfg,
            }),
        }
    }

    /// The configuration this emulator was created with (the fault plan as at creation).
    pub fn config(&self) -> &EmuConfig {
        &self.inner.cfg
    }

    /// Replaces the fault plan and restarts its count of allocation attempts.
    pub fn set_fault_plan(&self, f: FaultPlan) {
        self.inner.pool_state().fault = FaultState::new(f);
    }

    /// Moves the calling thread to emulated processor `cpu` (what
    /// `Platform::current_processor` returns on it from now on), as a thread at
    /// `PASSIVE_LEVEL` may migrate. Callable at any IRQL: the emulator does not stop a test
    /// from "migrating" at `DISPATCH_LEVEL`, where the kernel never would, so that a test can
    /// also model code that wrongly assumes a stable processor at `PASSIVE_LEVEL`.
    ///
    /// # Panics
    /// If `cpu` is not below [`EmuConfig::processors`] (test misuse).
    pub fn set_current_processor(&self, cpu: u32) {
        let n = self.inner.cpus.count();
        assert!(cpu < n, "emulated processor {cpu} of {n}");
        self.inner.cpus.pin(cpu);
    }

    /// Raises this thread to `irql`, runs `f`, lowers back. Raising below the current IRQL
    /// is a bug check, as with `KeRaiseIrql`.
    #[track_caller]
    pub fn at_irql<R>(&self, irql: Irql, f: impl FnOnce() -> R) -> R {
        let old = self.raise_irql(irql);
        let r = f();
        self.lower_irql(old);
        r
    }

    /// The emulated clock.
    pub fn now_100ns(&self) -> i64 {
        self.inner.clock.load(Relaxed)
    }

    /// The emulated system (wall-clock) time: the interrupt time plus an offset that
    /// [`Emu::set_system_time`] changes.
    pub fn system_time_100ns(&self) -> i64 {
        self.now_100ns()
            .saturating_add(self.inner.system_offset.load(Relaxed))
    }

    /// Sets the system time to `t` now (the interrupt time and every armed timer are
    /// unaffected, as on Windows).
    pub fn set_system_time(&self, t: i64) {
        self.inner
            .system_offset
            .store(t.saturating_sub(self.now_100ns()), Relaxed);
    }

    /// Moves the clock forward by `dt_100ns`, firing every timer that comes due on the way,
    /// in due-time order (ties: arming order), on the calling thread at `DISPATCH_LEVEL`,
    /// with the clock reading the timer's due time (or the current time for a timer set in
    /// the past). Callbacks may re-arm timers; those fire too if due by the end. Lookaside
    /// depths are re-tuned at every whole emulated second passed. Callable at IRQL <=
    /// `DISPATCH_LEVEL`; not from inside a timer callback.
    ///
    /// # Panics
    /// If `dt_100ns` is negative or the call is made from a timer callback (test misuse, not
    /// a driver bug).
    #[track_caller]
    pub fn advance_time(&self, dt_100ns: i64) {
        assert!(dt_100ns >= 0, "Emu::advance_time: negative step {dt_100ns}");
        assert!(
            !IN_ADVANCE.with(Cell::get),
            "Emu::advance_time called from inside a timer callback"
        );
        routine::check_dispatch_or_below(Routine::AdvanceTime);
        let mut next_tune = lock(&self.inner.advance);
        IN_ADVANCE.with(|c| c.set(true));
        struct Reset;
        impl Drop for Reset {
            fn drop(&mut self) {
                IN_ADVANCE.with(|c| c.set(false));
            }
        }
        let _reset = Reset;
        let target = self.now_100ns().saturating_add(dt_100ns);
        loop {
            let fire = {
                let mut st = self.inner.timer_state();
                match st.next_due_by(target) {
                    None => None,
                    Some((id, due)) => st.timers.get_mut(&id).map(|t| {
                        t.due = None;
                        t.running += 1;
                        (id, due, t.callback, t.context)
                    }),
                }
            };
            let Some((id, due, callback, context)) = fire else {
                break;
            };
            let at = due.max(self.now_100ns());
            self.tune_until(&mut next_tune, at);
            self.inner.clock.store(at, Relaxed);
            self.run_callback(id, callback, context);
        }
        self.tune_until(&mut next_tune, target);
        self.inner
            .clock
            .store(target.max(self.now_100ns()), Relaxed);
    }

    fn run_callback(&self, id: u64, callback: TimerCallback, context: usize) {
        struct Done<'a>(&'a Emu, u64);
        impl Drop for Done<'_> {
            fn drop(&mut self) {
                let mut st = self.0.inner.timer_state();
                if let Some(t) = st.timers.get_mut(&self.1) {
                    t.running = t.running.saturating_sub(1);
                }
                drop(st);
                self.0.inner.timer_done.notify_all();
            }
        }
        let done = Done(self, id);
        self.inner.counters.timer_fires.fetch_add(1, Relaxed);
        let old = self.raise_irql(DISPATCH_LEVEL);
        // SAFETY: `new_timer`'s contract makes `callback(context)` sound from any thread at
        // DISPATCH_LEVEL until the timer is dropped, and dropping waits for `running` (held
        // up by `done`) to reach zero.
        unsafe { callback(context as *const c_void) };
        let after = irql::current();
        if after != DISPATCH_LEVEL {
            bug(
                0xC8,
                [usize::from(after), usize::from(DISPATCH_LEVEL), 0, 0],
                format!(
                    "IRQL_UNEXPECTED_VALUE: timer callback returned at IRQL {after}, not \
                     DISPATCH_LEVEL"
                ),
            );
        }
        self.lower_irql(old);
        drop(done);
    }

    fn tune_until(&self, next_tune: &mut i64, t: i64) {
        // 64 ticks take any depth from one end of its range to the other: beyond that an
        // idle stretch only needs the schedule moved on.
        let mut ticks = 0;
        while *next_tune <= t && ticks < 64 {
            let lists: Vec<_> = self
                .inner
                .pool_state()
                .lists
                .iter()
                .map(Arc::clone)
                .collect();
            lists.iter().for_each(|l| l.tune());
            ticks += 1;
            *next_tune = next_tune.saturating_add(ONE_SECOND_100NS);
        }
        if *next_tune <= t {
            let behind = (t - *next_tune) / ONE_SECOND_100NS + 1;
            *next_tune = next_tune.saturating_add(behind.saturating_mul(ONE_SECOND_100NS));
        }
    }

    /// When the earliest armed timer is due.
    pub fn next_timer_due(&self) -> Option<i64> {
        self.inner.timer_state().earliest()
    }

    /// A snapshot of the pool.
    pub fn pool_report(&self) -> PoolReport {
        self.inner.pool_state().report()
    }

    /// Verifies the poison of every freed allocation in quarantine (and their guards);
    /// returns the first write after free found.
    pub fn check_quarantine(&self) -> Result<(), BugCheck> {
        self.inner.pool_state().check_quarantine()
    }

    /// Verifies the guard bytes of every live allocation.
    pub fn check_pool(&self) -> Result<(), BugCheck> {
        self.inner.pool_state().check_live_guards()
    }

    /// Driver unload under Verifier: checks the guards of live allocations (0xC1) and the
    /// poison of the quarantine (0xD5, which is then released), then that no timer is left
    /// (0xCE) and that no pool is left allocated — blocks still out of a block pool and block
    /// pools not dropped included (0xC4 / 0x62, the message lists tag, size and count of each
    /// leak).
    pub fn unload(&self) -> Result<UnloadReport, BugCheck> {
        {
            let mut st = self.inner.pool_state();
            st.check_live_guards()?;
            st.flush_quarantine()?;
        }
        {
            let st = self.inner.timer_state();
            if !st.timers.is_empty() {
                let armed = st.timers.values().filter(|t| t.due.is_some()).count();
                return Err(BugCheck {
                    code: code::DRIVER_UNLOADED_WITHOUT_CANCELLING_PENDING_OPERATIONS,
                    params: [0, 0, 0, st.timers.len()],
                    message: format!(
                        "{} timer(s) not deleted at unload ({armed} still armed): a timer \
                         firing after unload runs unloaded code",
                        st.timers.len()
                    ),
                });
            }
        }
        let st = self.inner.pool_state();
        if let Some((message, count, bytes)) = st.leak_message() {
            return Err(BugCheck {
                code: code::DRIVER_VERIFIER_DETECTED_VIOLATION,
                params: [c4::POOL_LEAKED_AT_UNLOAD, 0, count, bytes],
                message,
            });
        }
        let c = &self.inner.counters;
        Ok(UnloadReport {
            pool: st.report(),
            block_pools_created: c.block_pools_created.load(Relaxed),
            timers_created: c.timers_created.load(Relaxed),
            timer_fires: c.timer_fires.load(Relaxed),
            log_lines: c.log_lines.load(Relaxed),
        })
    }

    /// The captured log, oldest first, as `"<LEVEL> <text>"` (at most [`LOG_MAX_LINES`]).
    pub fn log_lines(&self) -> Vec<String> {
        lock(&self.inner.log).iter().cloned().collect()
    }

    /// One pool allocation attempt: fault injection, then the pool.
    pub(crate) fn alloc_tracked(
        &self,
        size: usize,
        tag: PoolTag,
        owner: Owner,
    ) -> Option<NonNull<u8>> {
        let p = self.inner.pool_state().alloc(size, tag, owner)?;
        NonNull::new(p as *mut u8)
    }
}

impl Platform for Emu {
    type BlockPool = EmuBlockPool;
    type RawSpinLock = EmuSpinLock;
    type Timer = EmuTimer;

    fn current_irql(&self) -> Irql {
        irql::current()
    }

    #[track_caller]
    fn raise_irql(&self, new: Irql) -> Irql {
        irql::raise(self.inner.cfg.verifier, new)
    }

    #[track_caller]
    fn lower_irql(&self, old: Irql) {
        irql::lower(self.inner.cfg.verifier, old)
    }

    fn processor_count(&self) -> u32 {
        self.inner.cpus.count()
    }

    #[inline]
    fn current_processor(&self) -> u32 {
        self.inner.cpus.current()
    }

    #[track_caller]
    fn pool_alloc(&self, size: usize, tag: PoolTag) -> Option<NonNull<u8>> {
        routine::check_pool_alloc_irql(self.inner.cfg.verifier, size, Routine::PoolAlloc);
        self.alloc_tracked(size, tag, Owner::Pool)
    }

    #[track_caller]
    unsafe fn pool_free(&self, p: NonNull<u8>, tag: PoolTag) {
        let p = p.as_ptr() as usize;
        routine::check_pool_free_irql(self.inner.cfg.verifier, p, Routine::PoolFree);
        let r = self.inner.pool_state().free(p, tag);
        if let Err(bc) = r {
            bugcheck::raise(bc);
        }
    }

    #[track_caller]
    fn new_block_pool(
        &self,
        block_size: usize,
        tag: PoolTag,
    ) -> Result<EmuBlockPool, mxf_abi::NtError> {
        routine::check_passive(Routine::NewBlockPool);
        if block_size == 0 {
            return Err(mxf_abi::NtError::INVALID_PARAMETER);
        }
        Ok(EmuBlockPool::create(&self.inner, block_size, tag))
    }

    fn new_spin_lock(&self) -> EmuSpinLock {
        EmuSpinLock::new(self.inner.cfg.verifier)
    }

    #[track_caller]
    unsafe fn new_timer(
        &self,
        callback: TimerCallback,
        context: *const c_void,
    ) -> Result<EmuTimer, mxf_abi::NtError> {
        routine::check_passive(Routine::NewTimer);
        Ok(EmuTimer::create(&self.inner, callback, context))
    }

    fn now_100ns(&self) -> i64 {
        Emu::now_100ns(self)
    }

    fn system_time_100ns(&self) -> i64 {
        Emu::system_time_100ns(self)
    }

    fn log(&self, level: LogLevel, args: fmt::Arguments<'_>) {
        let tag = match level {
            LogLevel::Error => "ERROR",
            LogLevel::Warn => "WARN",
            LogLevel::Info => "INFO",
            LogLevel::Trace => "TRACE",
        };
        let line = format!("{tag} {args}");
        if self.inner.echo_log {
            eprintln!("[mxf-emu] {line}");
        }
        self.inner.counters.log_lines.fetch_add(1, Relaxed);
        let mut log = lock(&self.inner.log);
        if log.len() == LOG_MAX_LINES {
            log.pop_front();
        }
        log.push_back(line);
    }

    #[track_caller]
    fn bug_check(&self, code: u32, params: [usize; 4]) -> ! {
        let message = format!(
            "driver called KeBugCheckEx({code:#x}, {:#x}, {:#x}, {:#x}, {:#x})",
            params[0], params[1], params[2], params[3]
        );
        self.log(LogLevel::Error, format_args!("{message}"));
        bugcheck::raise(BugCheck {
            code,
            params,
            message,
        })
    }
}
