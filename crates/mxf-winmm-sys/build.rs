//! Declares the `mxf_winmm_check` cfg so that `--cfg mxf_winmm_check` (which exposes the
//! extern blocks on non-Windows hosts for type-checking only) is not an unexpected cfg.

fn main() {
    println!("cargo::rustc-check-cfg=cfg(mxf_winmm_check)");
}
