//! Latency percentiles and throughput, without external crates.

/// Bytes per second a 31250-baud DIN MIDI cable carries (10 bits per byte on the wire:
/// start bit, 8 data bits, stop bit).
pub const DIN_BYTES_PER_SEC: f64 = 31_250.0 / 10.0;

/// Summary of a set of latency samples, all in µs.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LatencySummary {
    /// Number of samples.
    pub count: usize,
    /// Smallest sample.
    pub min: u64,
    /// Median (nearest-rank).
    pub p50: u64,
    /// 90th percentile (nearest-rank).
    pub p90: u64,
    /// 99th percentile (nearest-rank).
    pub p99: u64,
    /// Largest sample.
    pub max: u64,
    /// Arithmetic mean.
    pub mean: f64,
}

/// The nearest-rank percentile `p` (0–100] of `sorted` (ascending, non-empty): the smallest
/// sample such that at least `p`% of the samples are ≤ it.
pub fn percentile(sorted: &[u64], p: f64) -> Option<u64> {
    if sorted.is_empty() || !(p > 0.0 && p <= 100.0) {
        return None;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted.get(rank.clamp(1, sorted.len()) - 1).copied()
}

impl LatencySummary {
    /// Summarises `samples` (sorted in place); `None` when there are none.
    pub fn from_samples(samples: &mut [u64]) -> Option<Self> {
        samples.sort_unstable();
        let sum: u128 = samples.iter().map(|&s| u128::from(s)).sum();
        Some(Self {
            count: samples.len(),
            min: *samples.first()?,
            p50: percentile(samples, 50.0)?,
            p90: percentile(samples, 90.0)?,
            p99: percentile(samples, 99.0)?,
            max: *samples.last()?,
            mean: sum as f64 / samples.len() as f64,
        })
    }
}

/// Bytes moved over an elapsed time.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Throughput {
    /// Bytes that came back intact.
    pub bytes: u64,
    /// Elapsed time, µs.
    pub elapsed_us: u64,
}

impl Throughput {
    /// Bytes per second; `None` if no time elapsed.
    pub fn bytes_per_sec(&self) -> Option<f64> {
        (self.elapsed_us > 0).then(|| self.bytes as f64 * 1e6 / self.elapsed_us as f64)
    }

    /// Throughput as a multiple of a DIN MIDI cable's.
    pub fn din_ratio(&self) -> Option<f64> {
        self.bytes_per_sec().map(|b| b / DIN_BYTES_PER_SEC)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_of_1_to_100() {
        // Shuffled on purpose: the summary must sort.
        let mut v: Vec<u64> = (1..=100).map(|i| (i * 37) % 100 + 1).collect();
        let s = LatencySummary::from_samples(&mut v).unwrap();
        assert_eq!(
            (s.count, s.min, s.p50, s.p90, s.p99, s.max),
            (100, 1, 50, 90, 99, 100)
        );
        assert!((s.mean - 50.5).abs() < 1e-9);
    }

    #[test]
    fn percentiles_small_and_skewed_sets() {
        let mut one = [42];
        let s = LatencySummary::from_samples(&mut one).unwrap();
        assert_eq!((s.p50, s.p90, s.p99, s.max), (42, 42, 42, 42));

        // Nine fast samples and one slow one: p50 and p90 fast, p99 the outlier.
        let mut v = [10, 10, 10, 10, 10, 10, 10, 10, 10, 5000];
        let s = LatencySummary::from_samples(&mut v).unwrap();
        assert_eq!((s.p50, s.p90, s.p99, s.max), (10, 10, 5000, 5000));

        let mut v = [4, 1, 3, 2];
        let s = LatencySummary::from_samples(&mut v).unwrap();
        assert_eq!((s.min, s.p50, s.p90), (1, 2, 4));

        assert_eq!(LatencySummary::from_samples(&mut []), None);
        assert_eq!(percentile(&[1, 2], 0.0), None);
    }

    #[test]
    fn throughput_and_din_ratio() {
        let t = Throughput {
            bytes: 3125,
            elapsed_us: 1_000_000,
        };
        assert_eq!(t.bytes_per_sec(), Some(3125.0));
        assert_eq!(t.din_ratio(), Some(1.0));
        let t = Throughput {
            bytes: 1_000_000,
            elapsed_us: 500_000,
        };
        assert_eq!(t.bytes_per_sec(), Some(2_000_000.0));
        assert_eq!(t.din_ratio(), Some(640.0));
        assert_eq!(
            Throughput {
                bytes: 1,
                elapsed_us: 0
            }
            .bytes_per_sec(),
            None
        );
    }
}
