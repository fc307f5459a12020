#!/usr/bin/env bash
# cargo clippy -D warnings of the Windows-target code (the driver crate, mxf-kernel, mxf-core,
# mxf-abi) with the sysroot from scripts/win-sysroot.sh. Extra arguments go to cargo clippy.
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$REPO"
FLAGS=(-Cpanic=abort)
if [ "${MXF_WIN_SYSROOT:-}" != rustup ]; then
    FLAGS=(--sysroot="${MXF_WIN_SYSROOT:-$("$REPO/scripts/win-sysroot.sh")}" "${FLAGS[@]}")
fi
ENCODED=$(printf '%s\x1f' "${FLAGS[@]}")
CARGO_ENCODED_RUSTFLAGS="${ENCODED%$'\x1f'}" \
    cargo clippy --target x86_64-pc-windows-msvc -p mxfloop -p mxf-kernel -p mxf-core -p mxf-abi "$@" -- -D warnings
