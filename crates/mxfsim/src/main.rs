//! `mxfsim`: see the library's documentation and `mxfsim --help`.

fn main() {
    std::process::exit(mxfsim::cli::main(std::env::args().skip(1).collect()));
}
