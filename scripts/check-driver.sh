#!/usr/bin/env bash
# Builds the driver image and checks it: PE32+, AMD64, NATIVE subsystem, entry point ==
# DriverEntry (export table and linker map), NX/ASLR sane, the import table EXACTLY
# scripts/expected-imports.txt, and symbols: mxfloop.pdb exists beside the image and the
# image's CodeView debug record names it (file name, GUID, age), so WinDbg loads it.
# Exits non-zero on any mismatch.
# usage: scripts/check-driver.sh [--release|--debug]   (default --release; the expected
#        import list describes the release image, which is what ships)
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$REPO"
SYS=$("$REPO/scripts/build-driver.sh" "${1:---release}" | tail -n 1)
MAP=${SYS%.sys}.map
PDB=${SYS%.sys}.pdb
[ -s "$PDB" ] || { echo "check-driver: $PDB (the image's symbols) is missing" >&2; exit 1; }
cargo build -q -p pecheck
PECHECK=${CARGO_TARGET_DIR:-$REPO/target}/debug/pecheck
"$PECHECK" "$SYS" --expected-imports "$REPO/scripts/expected-imports.txt" --map "$MAP" --entry DriverEntry \
    --pdb "$PDB"
