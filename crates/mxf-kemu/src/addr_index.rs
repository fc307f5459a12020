//! [`AddrIndex`]: a map from nonzero addresses to `u32`, open addressing with linear probing
//! — the lookup of a lookaside list's free (a multiply, a shift and usually one compare),
//! cheaper than a general hash map's group probe.

/// Odd constant with well-spread bits (2^64 / golden ratio): Fibonacci hashing.
const K: u64 = 0x9E37_79B9_7F4A_7C15;
/// Capacity of a table's first allocation.
const MIN_CAPACITY: usize = 16;

/// Addresses (never 0: an empty bucket) to values. At most half full, so probes stay short
/// and every probe meets an empty bucket.
pub(crate) struct AddrIndex {
    /// 0 = empty.
    keys: Vec<usize>,
    values: Vec<u32>,
    len: usize,
    /// `64 - log2(capacity)`: the home bucket is the hash's top bits.
    shift: u32,
}

impl Default for AddrIndex {
    fn default() -> Self {
        Self {
            keys: Vec::new(),
            values: Vec::new(),
            len: 0,
            shift: 64,
        }
    }
}

impl AddrIndex {
    #[inline]
    fn home(&self, key: usize) -> usize {
        // `shift` is 64 only while the table is empty (no bucket to index); checked_shr
        // makes that 0 rather than an overflow.
        (key as u64)
            .wrapping_mul(K)
            .checked_shr(self.shift)
            .unwrap_or(0) as usize
    }

    #[inline]
    fn mask(&self) -> usize {
        self.keys.len().wrapping_sub(1)
    }

    /// The bucket holding `key`.
    #[inline]
    fn find(&self, key: usize) -> Option<usize> {
        if key == 0 || self.len == 0 {
            return None;
        }
        let mask = self.mask();
        let mut i = self.home(key);
        loop {
            match self.keys.get(i) {
                Some(&k) if k == key => return Some(i),
                Some(&0) | None => return None,
                Some(_) => i = (i + 1) & mask,
            }
        }
    }

    /// The value of `key`.
    #[inline]
    pub(crate) fn get(&self, key: usize) -> Option<u32> {
        self.find(key).and_then(|i| self.values.get(i).copied())
    }

    /// Maps `key` (nonzero; ignored if 0) to `value`, replacing any previous value.
    pub(crate) fn insert(&mut self, key: usize, value: u32) {
        if key == 0 {
            return;
        }
        if let Some(i) = self.find(key) {
            if let Some(v) = self.values.get_mut(i) {
                *v = value;
            }
            return;
        }
        if (self.len + 1) * 2 > self.keys.len() {
            self.grow();
        }
        self.place(key, value);
        self.len += 1;
    }

    /// Puts a key known to be absent into its first empty bucket (there is one: the table
    /// is at most half full).
    fn place(&mut self, key: usize, value: u32) {
        let mask = self.mask();
        let mut i = self.home(key);
        while self.keys.get(i).is_some_and(|&k| k != 0) {
            i = (i + 1) & mask;
        }
        if let (Some(k), Some(v)) = (self.keys.get_mut(i), self.values.get_mut(i)) {
            *k = key;
            *v = value;
        }
    }

    fn grow(&mut self) {
        let cap = (self.keys.len() * 2).max(MIN_CAPACITY);
        let keys = std::mem::replace(&mut self.keys, vec![0; cap]);
        let values = std::mem::replace(&mut self.values, vec![0; cap]);
        self.shift = 64 - cap.trailing_zeros();
        for (k, v) in keys.into_iter().zip(values) {
            if k != 0 {
                self.place(k, v);
            }
        }
    }

    /// Removes `key`; its value. Shifts the entries after it back, so that no probe
    /// sequence is broken (no tombstones).
    pub(crate) fn remove(&mut self, key: usize) -> Option<u32> {
        let mut hole = self.find(key)?;
        let value = self.values.get(hole).copied();
        let mask = self.mask();
        let mut j = hole;
        loop {
            j = (j + 1) & mask;
            let k = match self.keys.get(j) {
                Some(&k) if k != 0 => k,
                _ => break,
            };
            // The entry at `j` may fill the hole if the hole lies on its probe path, i.e.
            // cyclically between its home and `j`.
            let home = self.home(k);
            if (j.wrapping_sub(home) & mask) >= (j.wrapping_sub(hole) & mask) {
                self.keys.swap(hole, j);
                self.values.swap(hole, j);
                hole = j;
            }
        }
        if let Some(k) = self.keys.get_mut(hole) {
            *k = 0;
        }
        self.len -= 1;
        value
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::HashMap;

    #[derive(Debug, Clone)]
    enum Op {
        Insert(usize, u32),
        Remove(usize),
    }

    fn op() -> impl Strategy<Value = Op> {
        // Few distinct keys (16-aligned, like blocks; 0 included) so that inserts, removes
        // and collisions of the same keys interleave.
        let key = (0usize..96).prop_map(|k| k * 16);
        prop_oneof![
            (key.clone(), any::<u32>()).prop_map(|(k, v)| Op::Insert(k, v)),
            key.prop_map(Op::Remove),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]
        #[test]
        fn behaves_as_a_hash_map(ops in proptest::collection::vec(op(), 1..400)) {
            let mut index = AddrIndex::default();
            let mut model: HashMap<usize, u32> = HashMap::new();
            for op in ops {
                match op {
                    Op::Insert(k, v) => {
                        index.insert(k, v);
                        if k != 0 {
                            model.insert(k, v);
                        }
                    }
                    Op::Remove(k) => prop_assert_eq!(index.remove(k), model.remove(&k)),
                }
                prop_assert_eq!(index.len, model.len());
                for k in (0usize..96).map(|k| k * 16) {
                    prop_assert_eq!(index.get(k), model.get(&k).copied(), "key {:#x}", k);
                }
            }
        }
    }
}
