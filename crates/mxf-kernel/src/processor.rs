//! Processor numbering: the system-wide index `KeGetCurrentProcessorNumberEx` returns, mapped
//! onto the platform seam's `0..MAX_PROCESSORS`.

use mxf_core::platform::MAX_PROCESSORS;

/// Folds the system-wide processor index `index` (contiguous across processor groups: group
/// 1's first processor follows group 0's last) below [`MAX_PROCESSORS`].
///
/// Indices below the cap map to themselves; above it, processors share slots round-robin
/// (`index % MAX_PROCESSORS`). Sharing a slot is safe — per-processor state is only a cache
/// that the seam's users protect for concurrent access anyway — it only costs contention on
/// machines with more processors than the cap.
pub const fn fold_processor_index(index: u32) -> u32 {
    index % MAX_PROCESSORS
}

/// The processor count the seam reports for `active` processors in all groups: at least one
/// (a count of zero would make every per-processor array empty), at most [`MAX_PROCESSORS`].
pub const fn clamp_processor_count(active: u32) -> u32 {
    if active == 0 {
        1
    } else if active > MAX_PROCESSORS {
        MAX_PROCESSORS
    } else {
        active
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cap_is_64_so_the_boundaries_below_are_the_interesting_ones() {
        assert_eq!(MAX_PROCESSORS, 64);
    }

    #[test]
    fn indices_below_the_cap_are_unchanged() {
        assert_eq!(fold_processor_index(0), 0);
        assert_eq!(fold_processor_index(63), 63);
    }

    #[test]
    fn indices_at_and_above_the_cap_fold_round_robin() {
        assert_eq!(fold_processor_index(64), 0);
        assert_eq!(fold_processor_index(127), 63);
        assert_eq!(fold_processor_index(128), 0);
        assert_eq!(fold_processor_index(129), 1);
        assert!(fold_processor_index(u32::MAX) < MAX_PROCESSORS);
    }

    #[test]
    fn counts_are_clamped_to_one_through_the_cap() {
        assert_eq!(clamp_processor_count(0), 1);
        assert_eq!(clamp_processor_count(1), 1);
        assert_eq!(clamp_processor_count(63), 63);
        assert_eq!(clamp_processor_count(64), 64);
        assert_eq!(clamp_processor_count(127), 64);
        assert_eq!(clamp_processor_count(128), 64);
    }
}
