#!/usr/bin/env bash
# cargo clippy -D warnings of the Windows-target code with the sysroot from
# scripts/win-sysroot.sh (core + alloc + compiler_builtins, no std): every crate linked into the
# driver (mxfloop, mxf-kernel, mxf-miniport, mxf-core, mxf-abi) and the no_std WinMM
# declarations of the round-trip tester (mxf-winmm-sys; the std-using tester itself is
# type-checked on the host, see test-all.sh). Library targets only: tests and benches need std.
# `--cfg mxf_no_wdk`: the WDM image's code, without the WDK crates (they need the WDK).
# Extra arguments go to cargo clippy.
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$REPO"
FLAGS=(--cfg mxf_no_wdk)
if [ "${MXF_WIN_SYSROOT:-}" != rustup ]; then
    FLAGS=(--sysroot="${MXF_WIN_SYSROOT:-$("$REPO/scripts/win-sysroot.sh")}" "${FLAGS[@]}")
fi
ENCODED=$(printf '%s\x1f' "${FLAGS[@]}")
CARGO_ENCODED_RUSTFLAGS="${ENCODED%$'\x1f'}" \
    cargo clippy --target x86_64-pc-windows-msvc \
        -p mxfloop -p mxf-kernel -p mxf-miniport -p mxf-core -p mxf-abi -p mxf-winmm-sys "$@" -- -D warnings
