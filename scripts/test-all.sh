#!/usr/bin/env bash
# The full test run (README's test command; CI runs exactly this after .ci/run installs what it
# needs). Every stage must pass; the first failure stops the run. The time of every stage is
# printed at the end (also after a failure).
#
# Every build directory honours CARGO_TARGET_DIR (default: target/): the stages that need other
# compiler flags (loom, the WinMM type check) use subdirectories of it so that they do not
# invalidate the main build, and the Windows sysroot is cached in it.
set -euo pipefail
cd "$(dirname "$0")/.."
TARGET_DIR=${CARGO_TARGET_DIR:-target}

STAGE=""
STAGE_START=$SECONDS
TIMES=()
end_stage() {
    if [ -n "$STAGE" ]; then
        TIMES+=("$(printf '%6ds  %s' $((SECONDS - STAGE_START)) "$STAGE")")
    fi
    STAGE=""
}
stage() {
    end_stage
    STAGE="$*"
    STAGE_START=$SECONDS
    printf '\n==== %s\n' "$STAGE"
}
report() {
    local rc=$?
    [ -n "$STAGE" ] && [ "$rc" -ne 0 ] && STAGE="$STAGE (FAILED)"
    end_stage
    printf '\n==== time per stage\n'
    printf '%s\n' "${TIMES[@]}"
    printf '%6ds  total\n' "$SECONDS"
    # The closing line: the host test count, summed over every test binary of `cargo test`.
    if [ -n "${TEST_LOG:-}" ] && [ -f "$TEST_LOG" ]; then
        awk '/^test result: /{p+=$4; f+=$6} END{printf "tests: %d passed, %d failed\n", p, f}' "$TEST_LOG"
        rm -f "$TEST_LOG"
    fi
}
trap report EXIT

stage "format"
cargo fmt --all -- --check

stage "clippy (host, all targets)"
cargo clippy --workspace --all-targets --locked -- -D warnings

stage "clippy (host) of the WinMM glue, type-checked with --cfg mxf_winmm_check"
RUSTFLAGS="--cfg mxf_winmm_check" \
    cargo clippy --locked -p mxf-roundtrip -p mxf-winmm-sys --all-targets \
    --target-dir "$TARGET_DIR/winmm-check" -- -D warnings

stage "tests (host: core, emulator, loopback, layouts vs mingw-w64, C caller)"
TEST_LOG=$(mktemp)
cargo test --workspace --locked 2>&1 | tee "$TEST_LOG"

stage "loom model of the allocator's lock-free reserve stack"
RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR="$TARGET_DIR/loom" \
    cargo test --locked --release -p mxf-core --test loom_stack

stage "Windows target: clippy, driver image (no std/alloc), import table, PDB"
scripts/clippy-windows.sh --locked
scripts/check-driver.sh

stage "the image under Wine: mxfloop.sys as built, with the C test PortCls of tests/wine"
scripts/wine-smoke.sh

stage "main job smoke run"
cargo run --locked --release -p mxfsim -- --quick

end_stage
echo
echo "all stages passed"
