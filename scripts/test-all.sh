#!/usr/bin/env bash
# The full test run (README's test command; CI runs exactly this after .ci/run installs what it
# needs). Every stage must pass; the first failure stops the run.
set -euo pipefail
cd "$(dirname "$0")/.."
stage() { printf '\n==== %s\n' "$*"; }

stage "format"
cargo fmt --all -- --check

stage "clippy (host, all targets)"
cargo clippy --workspace --all-targets --locked -- -D warnings

stage "tests (host: core, emulator, loopback, layouts vs mingw-w64, C caller)"
cargo test --workspace --locked

stage "loom model of the allocator's lock-free reserve stack"
RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR=target/loom \
    cargo test --locked --release -p mxf-core --test loom_stack

stage "Windows target: clippy, driver image, import table"
scripts/clippy-windows.sh
scripts/check-driver.sh

stage "main job smoke run"
cargo run --locked --release -p mxfsim -- --quick

echo
echo "all stages passed"
