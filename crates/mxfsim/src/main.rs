//! `mxfsim` (skeleton).
fn main() {}
