//! A small PE32+ reader and the checks a kernel driver image must pass.
//!
//! Every read is bounds-checked ([`read`]); a malformed image yields a [`PeError`], never a
//! panic. [`check_driver`] lists every way an image differs from what `mxfloop.sys` must be
//! (see `scripts/check-driver.sh`).
#![forbid(unsafe_code)]

pub mod debug;
pub mod parse;
pub mod read;
pub mod rules;

pub use debug::{CodeView, PdbId, check_pdb, codeview, pdb_id};
pub use parse::{Export, Import, PeImage, Section, parse};
pub use read::PeError;
pub use rules::{Expectations, check_driver, map_symbol_rva};

#[cfg(test)]
mod testpe;
