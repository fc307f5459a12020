//! `mxfsim`: see the library's documentation and `mxfsim --help`.
#![deny(clippy::multiple_unsafe_ops_per_block)]

fn main() {
    std::process::exit(mxfsim::cli::main(std::env::args().skip(1).collect()));
}
