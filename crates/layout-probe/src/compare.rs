//! The Rust side of a probe and the comparison with the C side.

use crate::sig::FnShape;
use std::collections::BTreeMap;
use std::fmt;

/// An integer that a probe item can hold: its 64-bit pattern as the C side emits it
/// (`(unsigned long long)value`), i.e. sign-extended for signed and zero-extended for
/// unsigned types.
pub trait ProbeInt {
    /// The 64-bit pattern, as `i64`.
    fn probe_bits(self) -> i64;
}

macro_rules! probe_int {
    ($($t:ty),*) => { $(impl ProbeInt for $t {
        #[allow(clippy::cast_possible_wrap, clippy::cast_lossless)]
        fn probe_bits(self) -> i64 { self as i64 }
    })* };
}
probe_int!(i8, i16, i32, i64, isize, u8, u16, u32, u64, usize);

impl ProbeInt for bool {
    fn probe_bits(self) -> i64 {
        i64::from(self)
    }
}

/// The Rust-side values, under the keys the C probe emits (`size.T`, `align.T`,
/// `off.T.Field`, `value.NAME`, or any key given to [`Expected::put`]).
#[derive(Debug, Default)]
pub struct Expected {
    items: BTreeMap<String, i64>,
}

impl Expected {
    /// No items yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records `key`.
    ///
    /// # Panics
    /// When `key` was recorded before (a typo that would hide an item).
    pub fn put(&mut self, key: impl Into<String>, value: impl ProbeInt) {
        let key = key.into();
        let value = value.probe_bits();
        assert!(
            self.items.insert(key.clone(), value).is_none(),
            "duplicate Rust-side key `{key}`"
        );
    }

    /// `size.<c>` and `align.<c>` of `T`.
    pub fn size_align<T>(&mut self, c: &str) {
        self.put(format!("size.{c}"), size_of::<T>());
        self.put(format!("align.{c}"), align_of::<T>());
    }

    /// `size.<c>` of `T` only.
    pub fn size<T>(&mut self, c: &str) {
        self.put(format!("size.{c}"), size_of::<T>());
    }

    /// `off.<c_type_and_field>` (see [`offsets!`](crate::offsets)).
    pub fn offset(&mut self, c_type_and_field: &str, offset: usize) {
        self.put(format!("off.{c_type_and_field}"), offset);
    }

    /// `value.<c>` (see [`values!`](crate::values)).
    pub fn value(&mut self, c: &str, value: impl ProbeInt) {
        self.put(format!("value.{c}"), value);
    }

    /// `sig.<f>.arity`, `sig.<f>.arg<N>`, `sig.<f>.ret`, `sig.<f>.variadic`,
    /// `sig.<f>.noreturn` of a function (see [`shape_of`](crate::shape_of)).
    pub fn signature(&mut self, f: &str, shape: &FnShape) {
        self.put(format!("sig.{f}.arity"), shape.args.len());
        for (i, size) in shape.args.iter().enumerate() {
            self.put(format!("sig.{f}.arg{i}"), *size);
        }
        self.put(format!("sig.{f}.ret"), shape.ret);
        self.put(format!("sig.{f}.variadic"), shape.variadic);
        self.put(format!("sig.{f}.noreturn"), shape.noreturn);
    }

    /// Everything recorded, by key.
    pub fn items(&self) -> &BTreeMap<String, i64> {
        &self.items
    }
}

/// One disagreement between the C probe and the Rust side.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Mismatch {
    /// Both sides have the key, with different values.
    Differs {
        /// The key.
        key: String,
        /// The C compiler's value.
        c: i64,
        /// Rust's value.
        rust: i64,
    },
    /// The C probe emits the key, the Rust side does not check it.
    OnlyInC(String),
    /// The Rust side expects the key, the C probe does not emit it.
    OnlyInRust(String),
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Mismatch::Differs { key, c, rust } => {
                write!(f, "{key}: C {c} ({c:#x}), Rust {rust} ({rust:#x})")
            }
            Mismatch::OnlyInC(key) => {
                write!(f, "{key}: emitted by C, not checked on the Rust side")
            }
            Mismatch::OnlyInRust(key) => {
                write!(f, "{key}: expected by Rust, not emitted by the C probe")
            }
        }
    }
}

/// Every disagreement, in key order.
pub fn mismatches(c: &BTreeMap<String, i64>, rust: &Expected) -> Vec<Mismatch> {
    let rust = rust.items();
    let mut out = Vec::new();
    for (key, &cv) in c {
        match rust.get(key) {
            Some(&rv) if rv == cv => {}
            Some(&rv) => out.push(Mismatch::Differs {
                key: key.clone(),
                c: cv,
                rust: rv,
            }),
            None => out.push(Mismatch::OnlyInC(key.clone())),
        }
    }
    out.extend(
        rust.keys()
            .filter(|k| !c.contains_key(*k))
            .map(|k| Mismatch::OnlyInRust(k.clone())),
    );
    out
}

/// Asserts that both sides hold the same keys with the same values; returns how many items
/// were compared.
///
/// # Panics
/// Listing every [`Mismatch`], or when nothing was compared at all.
pub fn assert_matches(what: &str, c: &BTreeMap<String, i64>, rust: &Expected) -> usize {
    let problems = mismatches(c, rust);
    assert!(
        problems.is_empty(),
        "{what}: {} layout mismatch(es) against mingw-w64:\n{}",
        problems.len(),
        problems
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert!(!c.is_empty(), "{what}: the probe emitted nothing");
    c.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_of_mismatch_is_reported() {
        let c: BTreeMap<String, i64> = [
            ("size.A", 8),
            ("off.A.x", 4),
            ("value.C", -1),
            ("size.OnlyC", 1),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        let mut r = Expected::new();
        r.size::<u64>("A");
        r.offset("A.x", 0);
        r.value("C", u32::MAX);
        r.put("size.OnlyRust", 2u8);
        let m = mismatches(&c, &r);
        assert_eq!(
            m,
            [
                Mismatch::Differs {
                    key: "off.A.x".into(),
                    c: 4,
                    rust: 0
                },
                Mismatch::OnlyInC("size.OnlyC".into()),
                // u32::MAX is zero-extended, C's -1 is the all-ones 64-bit pattern.
                Mismatch::Differs {
                    key: "value.C".into(),
                    c: -1,
                    rust: 0xffff_ffff
                },
                Mismatch::OnlyInRust("size.OnlyRust".into()),
            ]
        );
        assert!(m[0].to_string().contains("C 4"));
    }

    #[test]
    fn equal_sides_pass_and_count() {
        let mut r = Expected::new();
        r.size_align::<u32>("ULONG");
        r.value("NEG", -5i32);
        let c = r.items().clone();
        assert!(mismatches(&c, &r).is_empty());
        assert_eq!(assert_matches("t", &c, &r), 3);
        assert_eq!(r.items()["value.NEG"], -5);
    }

    #[test]
    #[should_panic(expected = "1 layout mismatch")]
    fn assert_matches_panics_on_a_difference() {
        let mut r = Expected::new();
        r.size::<u32>("X");
        let c = [("size.X".to_string(), 8)].into_iter().collect();
        assert_matches("t", &c, &r);
    }

    #[test]
    #[should_panic(expected = "duplicate Rust-side key")]
    fn duplicate_keys_are_refused() {
        let mut r = Expected::new();
        r.size::<u32>("X");
        r.size::<u64>("X");
    }
}
