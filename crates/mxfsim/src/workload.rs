//! The built-in workload: a reproducible (seeded) mix of everything a MIDI cable carries —
//! notes with and without running status, controllers, program changes, pitch bend,
//! pressure, system common, bursts of MIDI clock (`F8`, also inside SysEx), and SysEx of
//! sizes from 1 byte to 1 MiB of payload.

/// A unit of the workload: bytes due `offset` (100 ns) after the start.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Unit {
    /// Offset from the start of the stream (100 ns).
    pub offset: i64,
    /// The bytes (one message, or one SysEx possibly holding realtime bytes).
    pub bytes: Vec<u8>,
}

/// SysEx payload sizes of the full workload.
pub const FULL_SYSEX_SIZES: &[usize] = &[1, 2, 7, 8, 9, 100, 1000, 4096, 65536, 262_144, 1_048_576];
/// SysEx payload sizes of `--quick`.
pub const QUICK_SYSEX_SIZES: &[usize] = &[1, 2, 7, 8, 9, 100, 1000, 4079, 4080, 4081, 9000];

/// SplitMix64: small, seedable, good enough for a workload.
pub struct Rng(u64);

impl Rng {
    /// A generator seeded with `seed`.
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }
    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in `0..n` (`n > 0`).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }
    fn data(&mut self) -> u8 {
        (self.next_u64() & 0x7F) as u8
    }
}

/// How the workload is built.
#[derive(Clone, Debug)]
pub struct WorkloadSpec {
    /// Channel/system messages (besides SysEx and clock bursts).
    pub messages: usize,
    /// SysEx payload sizes, each sent once (in a shuffled position).
    pub sysex_sizes: Vec<usize>,
    /// Clock bursts (8–32 `F8` at once).
    pub clock_bursts: usize,
    /// Omit repeated channel statuses (running status). Off under fault injection: a
    /// dropped status-carrying message would re-parse the next ones differently, which is
    /// what running status means on a real cable, not a loss to account for.
    pub running_status: bool,
    /// Seed.
    pub seed: u64,
}

impl WorkloadSpec {
    /// The default workload.
    pub fn full(seed: u64) -> Self {
        Self {
            messages: 20_000,
            sysex_sizes: FULL_SYSEX_SIZES.to_vec(),
            clock_bursts: 200,
            running_status: true,
            seed,
        }
    }
    /// The `--quick` workload.
    pub fn quick(seed: u64) -> Self {
        Self {
            messages: 2_000,
            sysex_sizes: QUICK_SYSEX_SIZES.to_vec(),
            clock_bursts: 30,
            running_status: true,
            seed,
        }
    }
}

/// SysEx of `payload` data bytes (`F0 .. F7`), with realtime bytes spliced in every
/// `rt_every` payload bytes (0: none).
pub fn sysex(rng: &mut Rng, payload: usize, rt_every: usize) -> Vec<u8> {
    let mut v = Vec::with_capacity(payload + 2 + payload.checked_div(rt_every).unwrap_or(0));
    v.push(0xF0);
    for i in 0..payload {
        if rt_every != 0 && i != 0 && i % rt_every == 0 {
            v.push(if rng.below(8) == 0 { 0xFE } else { 0xF8 });
        }
        v.push(rng.data());
    }
    v.push(0xF7);
    v
}

/// Builds the workload. Times advance by 0–2 ms per message; every unit is sent after the
/// previous one's wire time (320 µs a byte at 31250 baud) so the stream is one a real cable
/// could carry.
pub fn build(spec: &WorkloadSpec) -> Vec<Unit> {
    let mut rng = Rng::new(spec.seed);
    // Positions of the special items among the messages.
    let total = spec.messages + spec.sysex_sizes.len() + spec.clock_bursts;
    let mut kinds: Vec<u8> = Vec::with_capacity(total);
    kinds.extend(std::iter::repeat_n(0u8, spec.messages));
    kinds.extend(std::iter::repeat_n(1u8, spec.sysex_sizes.len()));
    kinds.extend(std::iter::repeat_n(2u8, spec.clock_bursts));
    for i in (1..kinds.len()).rev() {
        let j = rng.below(i as u64 + 1) as usize;
        kinds.swap(i, j);
    }
    let mut sizes = spec.sysex_sizes.iter().copied();
    let mut out = Vec::with_capacity(total);
    let mut t: i64 = 10_000;
    let mut running: Option<u8> = None;
    for k in kinds {
        let mut units: Vec<Vec<u8>> = Vec::new();
        match k {
            0 => {
                let ch = rng.below(16) as u8;
                let (status, n) = match rng.below(20) {
                    0..=7 => (0x90 | ch, 2),
                    8..=11 => (0x80 | ch, 2),
                    12..=14 => (0xB0 | ch, 2),
                    15 => (0xC0 | ch, 1),
                    16 => (0xE0 | ch, 2),
                    17 => (0xD0 | ch, 1),
                    18 => (0xA0 | ch, 2),
                    _ => {
                        // System common: song position, song select, tune request, MTC.
                        running = None;
                        let m = match rng.below(4) {
                            0 => vec![0xF2, rng.data(), rng.data()],
                            1 => vec![0xF3, rng.data()],
                            2 => vec![0xF6],
                            _ => vec![0xF1, rng.data()],
                        };
                        units.push(m);
                        (0, 0)
                    }
                };
                if n > 0 {
                    let mut m = Vec::with_capacity(3);
                    if !(spec.running_status && running == Some(status)) {
                        m.push(status);
                    }
                    running = Some(status);
                    for _ in 0..n {
                        m.push(rng.data());
                    }
                    units.push(m);
                    // Runs of the same status make running status actually happen.
                    if spec.running_status && rng.below(3) == 0 {
                        let mut m2 = Vec::with_capacity(2);
                        for _ in 0..n {
                            m2.push(rng.data());
                        }
                        units.push(m2);
                    }
                }
            }
            1 => {
                let size = sizes.next().unwrap_or(0);
                let rt_every = match rng.below(3) {
                    0 => 0,
                    _ => 50 + rng.below(2000) as usize,
                };
                units.push(sysex(&mut rng, size, rt_every));
                running = None;
            }
            _ => {
                let n = 8 + rng.below(25) as usize;
                for _ in 0..n {
                    units.push(vec![0xF8]);
                }
            }
        }
        for bytes in units {
            let wire = bytes.len() as i64 * 3_200;
            out.push(Unit { offset: t, bytes });
            t += wire + rng.below(20_000) as i64;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_built_in_workloads_fit_the_port_allocators_cap_as_the_help_says() {
        // `--help` (rule no-drops) promises that the built-in workloads never meet the port
        // allocator's cap; its numbers are checked here against the real configuration.
        let cap = mxf_portemu::PortConfig::default().allocator;
        assert_eq!((cap.max_buffers, cap.buffer_size), (4096, 4080));
        assert!(crate::cli::USAGE.contains("4096 buffers of 4080 bytes"));
        let capacity = cap.max_buffers as usize * usize::from(cap.buffer_size);
        for spec in [WorkloadSpec::full(1), WorkloadSpec::quick(1)] {
            let largest = build(&spec)
                .iter()
                .map(|u| u.bytes.len())
                .max()
                .unwrap_or(0);
            // 1 MiB of payload, plus the realtime bytes interleaved with it.
            assert!(largest <= (1 << 20) + 4096, "largest unit {largest} B");
            // Room for the largest message twice over (render and capture side in flight).
            assert!(2 * largest < capacity, "{largest} B vs {capacity} B");
        }
    }

    #[test]
    fn workload_is_reproducible_and_holds_every_size() {
        let spec = WorkloadSpec::quick(7);
        let a = build(&spec);
        assert_eq!(a, build(&spec));
        assert_ne!(a, build(&WorkloadSpec::quick(8)));
        for &size in QUICK_SYSEX_SIZES {
            assert!(
                a.iter().any(|u| u.bytes[0] == 0xF0
                    && u.bytes.iter().filter(|&&b| b < 0xF8).count() == size + 2),
                "size {size}"
            );
        }
        assert!(a.windows(2).all(|w| w[0].offset < w[1].offset));
        // Running status appears (a unit starting with a data byte).
        assert!(a.iter().any(|u| u.bytes[0] < 0x80));
    }

    #[test]
    fn no_running_status_when_disabled() {
        let spec = WorkloadSpec {
            running_status: false,
            ..WorkloadSpec::quick(3)
        };
        assert!(build(&spec).iter().all(|u| u.bytes[0] >= 0x80));
    }
}
