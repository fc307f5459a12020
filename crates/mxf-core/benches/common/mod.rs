//! What the benchmarks share: confining the process to one CPU for single-thread
//! measurements, and repeating a measurement in fresh processes.
//!
//! Why: on the development VM (2 vCPUs), code that makes calls and stores — the allocator's
//! GetMessage+PutMessage pair, glibc's `malloc`+`free` — runs at one of two speeds (the pair
//! ~16-17 ns or ~24-32 ns) in spells of seconds to a minute, while the raw CAS stack loop
//! moves by ~10%. Threads of the process running on both vCPUs made the slow speed more
//! frequent in the first measurements, so single-thread figures are taken pinned (the usual
//! cure for benchmark noise, like `taskset -c N`, for every candidate and baseline alike);
//! the spells still come, decided by the host, so the ratio goals are measured in several
//! processes spread over time ([`in_processes`]). Two-thread measurements need both CPUs: they
//! run with the affinity the process started with.

// Each bench binary compiles this module and uses part of it.
#![allow(dead_code)]

/// The process's threads kept on one CPU (threads spawned meanwhile inherit it) until dropped,
/// which restores the affinity the calling thread had.
pub struct OneCpu {
    #[cfg(target_os = "linux")]
    saved: libc::cpu_set_t,
    /// The CPU, or `None` if the affinity could not be changed (then nothing is restored).
    pub cpu: Option<usize>,
}

impl OneCpu {
    /// Confines the calling thread, and the threads it spawns from now on, to the CPU it is
    /// running on.
    #[cfg(target_os = "linux")]
    pub fn pin() -> Self {
        let size = std::mem::size_of::<libc::cpu_set_t>();
        // SAFETY: `cpu_set_t` is a plain bit array: all zeroes is the empty set.
        let mut saved: libc::cpu_set_t = unsafe { std::mem::zeroed() };
        // SAFETY: pid 0 = the calling thread; `saved` is a writable `cpu_set_t` of `size` bytes.
        if unsafe { libc::sched_getaffinity(0, size, &mut saved) } != 0 {
            return Self { saved, cpu: None };
        }
        // SAFETY: no arguments; returns the CPU the caller runs on, or -1.
        let cpu = unsafe { libc::sched_getcpu() };
        let Ok(cpu) = usize::try_from(cpu) else {
            return Self { saved, cpu: None };
        };
        // SAFETY: as above, the empty set.
        let mut one: libc::cpu_set_t = unsafe { std::mem::zeroed() };
        // SAFETY: `CPU_SET` sets bit `cpu` of `one`, and checks that `cpu` is within the set
        // (a CPU number the kernel just returned is).
        unsafe { libc::CPU_SET(cpu, &mut one) };
        // SAFETY: pid 0 = the calling thread; `one` is a valid `cpu_set_t` of `size` bytes.
        let ok = unsafe { libc::sched_setaffinity(0, size, &one) } == 0;
        Self {
            saved,
            cpu: ok.then_some(cpu),
        }
    }

    /// Elsewhere: nothing is pinned.
    #[cfg(not(target_os = "linux"))]
    pub fn pin() -> Self {
        Self { cpu: None }
    }

    /// How the report names it.
    pub fn describe(&self) -> String {
        match self.cpu {
            Some(c) => format!("process confined to CPU {c}"),
            None => "not pinned (affinity unavailable)".to_string(),
        }
    }
}

impl Drop for OneCpu {
    fn drop(&mut self) {
        #[cfg(target_os = "linux")]
        if self.cpu.is_some() {
            // SAFETY: pid 0 = the calling thread; `saved` is the set read in `pin`. A failure
            // leaves the thread pinned, which only makes later measurements share one CPU.
            unsafe {
                libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &self.saved)
            };
        }
    }
}

/// Runs this bench binary again `k` times, one process after the other, `gap` apart, with
/// `marker` set in their environment and the same arguments; returns, per process, the lines
/// of its standard output that start with `marker` (without it).
///
/// Why processes: on the development VM the speed of our code (not of the baselines) flips
/// between two levels in spells of seconds to a minute, decided by the host (see the
/// benches' module docs); repeats spread over time, each in a fresh process, give every
/// candidate a fair chance at the machine's normal speed.
pub fn in_processes(marker: &str, k: usize, gap: std::time::Duration) -> Vec<Vec<String>> {
    let exe = std::env::current_exe().expect("own path");
    (0..k)
        .map(|i| {
            if i > 0 {
                std::thread::sleep(gap);
            }
            let out = std::process::Command::new(&exe)
                .args(std::env::args().skip(1))
                .env(marker, "1")
                .output()
                .expect("repeat process");
            assert!(out.status.success(), "repeat process failed: {out:?}");
            String::from_utf8_lossy(&out.stdout)
                .lines()
                .filter_map(|l| l.strip_prefix(marker))
                .map(|l| l.trim().to_string())
                .collect()
        })
        .collect()
}
