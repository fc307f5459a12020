//! Fault injection: which pool allocation attempts fail.

/// Which pool allocation attempts fail. Attempts are `pool_alloc` calls and block pool
/// misses that go to pool (a block served from a lookaside cache never fails), counted from
/// 1 since the plan was set.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub enum FaultPlan {
    /// Nothing fails.
    #[default]
    None,
    /// Attempt `n`, `2n`, `3n`, ... fails (`EveryNth(1)`: all fail; `EveryNth(0)`: none).
    EveryNth(u64),
    /// Each attempt fails with probability `1 / one_in`, decided by a hash of `seed` and
    /// the attempt number, so a single-threaded run is reproducible (`one_in == 0`: none).
    Random {
        /// Seed of the sequence.
        seed: u64,
        /// One attempt in this many fails on average.
        one_in: u32,
    },
}

pub(crate) struct FaultState {
    plan: FaultPlan,
    attempts: u64,
}

/// SplitMix64's finaliser: a well-mixed 64-bit hash.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl FaultState {
    pub(crate) fn new(plan: FaultPlan) -> Self {
        Self { plan, attempts: 0 }
    }

    /// Counts one attempt; whether it fails.
    pub(crate) fn next_attempt_fails(&mut self) -> bool {
        self.attempts += 1;
        let n = self.attempts;
        match self.plan {
            FaultPlan::None => false,
            FaultPlan::EveryNth(k) => k != 0 && n.is_multiple_of(k),
            FaultPlan::Random { seed, one_in } => {
                one_in != 0
                    && mix(seed.wrapping_add(n.wrapping_mul(0x9E37_79B9_7F4A_7C15)))
                        .is_multiple_of(u64::from(one_in))
            }
        }
    }
}
