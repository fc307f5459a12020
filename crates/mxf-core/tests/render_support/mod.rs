//! Test doubles shared by the render and loopback tests: those of `mxf-testkit` (a master
//! clock over the emulator's clock, event builders on an allocator) and a byte-collecting
//! render target.
#![allow(dead_code, unused_imports)]

pub use mxf_testkit::*;

use mxf_core::render::{RenderTarget, WriteOutcome};
use mxf_kemu::Emu;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};

/// A target recording every write with its time and the emulator time it happened at.
pub struct Recorder {
    pub emu: Emu,
    pub writes: Mutex<Vec<(Vec<u8>, i64, i64)>>,
    /// Refuse writes whose index (0-based, counting refusals) is in this list, as
    /// "no listener".
    pub refuse: Mutex<Vec<usize>>,
    /// Refuse writes whose index (counted the same way) is in this list, as "too large".
    pub too_large: Mutex<Vec<usize>>,
    /// While set, every write is answered `Full` (not counted as a call).
    pub full: AtomicBool,
    /// When `Some(n)`: `n` more writes are taken, then `Full` is answered.
    pub budget: Mutex<Option<usize>>,
    pub calls: AtomicU32,
    pub flushed: AtomicU32,
}

impl Recorder {
    pub fn new(emu: &Emu) -> Self {
        Recorder {
            emu: emu.clone(),
            writes: Mutex::new(Vec::new()),
            refuse: Mutex::new(Vec::new()),
            too_large: Mutex::new(Vec::new()),
            full: AtomicBool::new(false),
            budget: Mutex::new(None),
            calls: AtomicU32::new(0),
            flushed: AtomicU32::new(0),
        }
    }

    pub fn bytes(&self) -> Vec<u8> {
        self.writes
            .lock()
            .unwrap()
            .iter()
            .flat_map(|w| w.0.clone())
            .collect()
    }
}

impl RenderTarget for &'static Recorder {
    fn write(&self, parts: &[&[u8]], time: i64) -> WriteOutcome {
        if self.full.load(Ordering::Relaxed) {
            return WriteOutcome::Full;
        }
        if let Some(n) = self.budget.lock().unwrap().as_mut() {
            if *n == 0 {
                return WriteOutcome::Full;
            }
            *n -= 1;
        }
        let i = self.calls.fetch_add(1, Ordering::Relaxed) as usize;
        if self.refuse.lock().unwrap().contains(&i) {
            return WriteOutcome::NoListener;
        }
        if self.too_large.lock().unwrap().contains(&i) {
            return WriteOutcome::TooLarge;
        }
        self.writes
            .lock()
            .unwrap()
            .push((parts.concat(), time, self.emu.now_100ns()));
        WriteOutcome::Accepted
    }

    fn flushed(&self) {
        self.flushed.fetch_add(1, Ordering::Relaxed);
    }
}
