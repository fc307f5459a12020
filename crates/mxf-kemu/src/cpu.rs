//! Emulated processors: every host thread runs on one emulated processor of each emulator it
//! uses, assigned round robin (per emulator) at the thread's first call of
//! `current_processor` and stable from then on, unless pinned with
//! [`Emu::set_current_processor`](crate::Emu::set_current_processor). So two threads of a
//! test run on two different emulated processors (as long as the emulator has two), which
//! is what per-processor code needs to be exercised on one machine.
//!
//! Host threads are not bound to host cores: the emulated processor number is an identity,
//! not a placement (the host may run both "processors" on one core).

use std::cell::Cell;
use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::thread::ThreadId;

/// Source of emulator ids (0 = none, so a fresh thread's cache never matches).
static NEXT_EMU_ID: AtomicU64 = AtomicU64::new(1);

thread_local! {
    /// The (emulator id, processor) this thread looked up last: the fast path, one
    /// thread-local read when a thread keeps using one emulator.
    static LAST: Cell<(u64, u32)> = const { Cell::new((0, 0)) };
}

/// The emulated processors of one emulator.
pub(crate) struct Cpus {
    id: u64,
    count: u32,
    /// Processor of every thread that used this emulator; `next` is the round-robin cursor.
    by_thread: Mutex<(HashMap<ThreadId, u32>, u32)>,
}

impl Cpus {
    pub(crate) fn new(count: u32) -> Self {
        Self {
            id: NEXT_EMU_ID.fetch_add(1, Relaxed),
            count,
            by_thread: Mutex::new((HashMap::new(), 0)),
        }
    }

    pub(crate) fn count(&self) -> u32 {
        self.count
    }

    /// The calling thread's processor (assigned at first use).
    #[inline]
    pub(crate) fn current(&self) -> u32 {
        let (id, cpu) = LAST.with(Cell::get);
        if id == self.id {
            return cpu;
        }
        self.lookup()
    }

    #[cold]
    fn lookup(&self) -> u32 {
        let mut g = self.by_thread.lock().unwrap_or_else(|e| e.into_inner());
        let (map, next) = &mut *g;
        let count = self.count;
        let cpu = *map.entry(std::thread::current().id()).or_insert_with(|| {
            let c = *next;
            *next = (c + 1) % count;
            c
        });
        LAST.with(|c| c.set((self.id, cpu)));
        cpu
    }

    /// Moves the calling thread to `cpu` (< count, checked by the caller).
    pub(crate) fn pin(&self, cpu: u32) {
        let mut g = self.by_thread.lock().unwrap_or_else(|e| e.into_inner());
        g.0.insert(std::thread::current().id(), cpu);
        LAST.with(|c| c.set((self.id, cpu)));
    }
}
