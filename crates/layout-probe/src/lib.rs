//! Shared machinery of the mingw-w64 layout cross-checks (dev-only, host-only).
//!
//! Each `tests/layout_mingw.rs` that uses this crate has a C probe that names the C types,
//! fields and constants the Rust side declares by hand. [`Probe`] compiles it with
//! `x86_64-w64-mingw32-gcc -S` for x86_64 Windows (nothing is linked or run) and returns the
//! assembler text; [`parse_values`] reads back the `.set mxf.<key>.hi/.lo` lines the
//! emitters of `c/layout_probe.h` write (sizes, alignments, offsets, constants) and
//! [`data_bytes`] the bytes of a `const` object (GUIDs, bit-field images). The test fills an
//! [`Expected`] with the same keys from `size_of`/`align_of`/`offset_of!`/constants and
//! [`assert_matches`] reports every differing value and every key present on one side only.
//!
//! The Rust side is compiled for the x86_64 Linux host (LP64), the C side for x86_64 Windows
//! (LLP64): they agree for types built from fixed-width integers and pointers, which is what
//! hand-written FFI must use; a Rust `c_long` would be 8 bytes here and 4 in the C probe,
//! exactly the class of bug these checks catch.
//!
//! Missing tools fail (never skip), naming the packages: [`INSTALL_HINT`].

mod asm;
mod compare;
mod compile;
mod locate;
mod sig;

pub use asm::{data_bytes, parse_values};
pub use compare::{Expected, Mismatch, ProbeInt, assert_matches, mismatches};
pub use compile::Probe;
pub use locate::{INSTALL_HINT, ddk_include, mingw_gcc, probe_header_dir, repo_root, shared_dir};
pub use sig::{FnShape, FnSig, shape_of};

/// Records `off.<C type>.<C field>` for each `CField => rust.field.path` pair.
///
/// ```
/// # use layout_probe::{Expected, offsets};
/// #[repr(C)]
/// struct Pair { a: u32, b: u64 }
/// let mut e = Expected::new();
/// offsets!(e, "PAIR", Pair, { A => a, B => b });
/// assert_eq!(e.items()["off.PAIR.B"], 8);
/// ```
#[macro_export]
macro_rules! offsets {
    ($exp:expr, $c:literal, $t:ty, { $($cf:ident => $($f:tt).+),+ $(,)? }) => {
        $( $exp.offset(
            concat!($c, ".", stringify!($cf)),
            ::core::mem::offset_of!($t, $($f).+),
        ); )+
    };
}

/// Records `value.<NAME>` for each `NAME => rust_expression` pair (`NAME` alone when the Rust
/// constant has the C name).
///
/// ```
/// # use layout_probe::{Expected, values};
/// const MAX: u32 = u32::MAX;
/// let mut e = Expected::new();
/// values!(e, { MAX, NEG => -2i32 });
/// assert_eq!(e.items()["value.MAX"], 0xffff_ffff);
/// assert_eq!(e.items()["value.NEG"], -2);
/// ```
#[macro_export]
macro_rules! values {
    ($exp:expr, { $($c:ident $(=> $v:expr)?),+ $(,)? }) => {
        $( $exp.value(stringify!($c), $crate::values!(@v $c $(, $v)?)); )+
    };
    (@v $c:ident) => { $c };
    (@v $c:ident, $v:expr) => { $v };
}
