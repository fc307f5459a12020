//! A fast hasher for the pool's maps, which are keyed by addresses and ids the emulator
//! produces itself (no untrusted keys, so no need for SipHash's flooding resistance).
//!
//! Each word is mixed with a folded multiply (the high and low halves of a 64 x 64 -> 128-bit
//! product, xored): every key bit reaches both the low bits hashbrown indexes buckets with
//! and the top bits it keeps as a tag, so 16-aligned pointers (low four bits always zero)
//! still spread over all buckets.

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasher, Hasher};

/// A `HashMap` keyed by addresses or ids.
pub(crate) type AddrMap<K, V> = HashMap<K, V, AddrHash>;
/// A `HashSet` of addresses.
pub(crate) type AddrSet<K> = HashSet<K, AddrHash>;

/// Odd constant with well-spread bits (2^64 / golden ratio).
const K: u64 = 0x9E37_79B9_7F4A_7C15;

fn folded_multiply(a: u64, b: u64) -> u64 {
    let full = u128::from(a) * u128::from(b);
    (full as u64) ^ ((full >> 64) as u64)
}

/// Builds [`AddrHasher`]s.
#[derive(Clone, Copy, Default, Debug)]
pub(crate) struct AddrHash;

impl BuildHasher for AddrHash {
    type Hasher = AddrHasher;

    fn build_hasher(&self) -> AddrHasher {
        AddrHasher(0)
    }
}

/// The hasher state: one word.
#[derive(Debug)]
pub(crate) struct AddrHasher(u64);

impl Hasher for AddrHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Not used by integer keys; handles any other key a word at a time.
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.write_u64(u64::from_le_bytes(word));
        }
    }

    #[inline]
    fn write_u64(&mut self, n: u64) {
        self.0 = folded_multiply(self.0 ^ n, K);
    }

    #[inline]
    fn write_usize(&mut self, n: usize) {
        self.write_u64(n as u64);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aligned_pointers_spread_over_low_and_high_bits() {
        // 4096 16-aligned addresses: the low 8 bits (a 256-bucket table's index) and the
        // top 7 bits (hashbrown's tag) must both take many values.
        let hashes: Vec<u64> = (0..4096u64)
            .map(|i| AddrHash.hash_one(0x7f00_1234_0000usize + (i as usize) * 16))
            .collect();
        let low: HashSet<u64> = hashes.iter().map(|h| h & 0xFF).collect();
        let top: HashSet<u64> = hashes.iter().map(|h| h >> 57).collect();
        assert!(low.len() > 240, "low byte took {} values", low.len());
        assert_eq!(top.len(), 128, "top 7 bits took {} values", top.len());
    }

    #[test]
    fn distinct_keys_hash_differently() {
        let a = AddrHash.hash_one(0x1000usize);
        let b = AddrHash.hash_one(0x1010usize);
        assert_ne!(a, b);
        assert_eq!(a, AddrHash.hash_one(0x1000usize));
    }
}
