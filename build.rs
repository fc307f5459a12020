//! Build script of the driver crate (replaced by the driver glue's wdk-build hook).
fn main() {}
