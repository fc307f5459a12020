#!/usr/bin/env bash
# Builds (once) a core+alloc+compiler_builtins sysroot for x86_64-pc-windows-msvc with the
# toolchain pinned by rust-toolchain.toml, and prints its path.
#
# The sysroot only works with the exact compiler that built it, so it is cached under
# target/win-sysroot/<hash of `rustc -vV` and of the builder script>; a toolchain bump or a new
# builder makes a new directory. Where `rustup target add x86_64-pc-windows-msvc` is possible
# this script is unnecessary (build-driver.sh accepts MXF_WIN_SYSROOT=rustup to use the
# toolchain's own rust-std instead).
#
# Environment: MXF_SHARED (default: <repo>/../shared) locates tools/win-sysroot.
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SHARED=${MXF_SHARED:-$REPO/../shared}
TARGET=x86_64-pc-windows-msvc
BUILDER=$SHARED/tools/win-sysroot/mk-win-sysroot.sh
[ -x "$BUILDER" ] || { echo "win-sysroot: $BUILDER not found (set MXF_SHARED)" >&2; exit 1; }

cd "$REPO"
# The toolchain rust-toolchain.toml selects in this directory (e.g. 1.95.0-x86_64-unknown-linux-gnu).
TC=$(rustup show active-toolchain | cut -d' ' -f1)
KEY=$( { rustc +"$TC" -vV; echo "$TARGET"; cat "$BUILDER" "$SHARED/tools/win-sysroot/html2src.py"; } \
      | sha256sum | cut -c1-16)
ROOT=${CARGO_TARGET_DIR:-$REPO/target}/win-sysroot
OUT=$ROOT/$KEY
if [ -f "$OUT/.complete" ]; then
    echo "$OUT"
    exit 0
fi

mkdir -p "$ROOT"
# Built outside the repository: the builder runs cargo in subdirectories of its output, and
# cargo would take the repository's workspace manifest for theirs.
TMP=$(mktemp -d "${TMPDIR:-/tmp}/mxf-win-sysroot.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
# The builder runs cargo itself: keep the caller's cargo settings (target dir, flags) out of it.
env -u CARGO_TARGET_DIR -u CARGO_BUILD_TARGET_DIR -u RUSTFLAGS -u CARGO_ENCODED_RUSTFLAGS \
    -u CARGO_BUILD_RUSTFLAGS -u CARGO_BUILD_TARGET -u RUSTC_WRAPPER \
    "$BUILDER" "$TC" "$TMP/sysroot" "$TARGET" >"$TMP/build.log" 2>&1 || {
    tail -40 "$TMP/build.log" >&2
    echo "win-sysroot: building the sysroot failed (log above)" >&2
    exit 1
}
LIB=$TMP/sysroot/lib/rustlib/$TARGET/lib
for c in core alloc compiler_builtins; do
    compgen -G "$LIB/lib$c-*.rlib" >/dev/null || compgen -G "$LIB/lib$c.rlib" >/dev/null || {
        tail -40 "$TMP/build.log" >&2
        echo "win-sysroot: lib$c missing from the sysroot" >&2
        exit 1
    }
done
# Only lib/ is needed afterwards; the reconstructed sources and the compiler_builtins workspace
# are build intermediates.
rm -rf "$TMP/sysroot/src" "$TMP/sysroot/cb"
cp "$TMP/build.log" "$TMP/sysroot/build.log"
touch "$TMP/sysroot/.complete"
rm -rf "$OUT" "$OUT.partial"
cp -a "$TMP/sysroot" "$OUT.partial"
mv "$OUT.partial" "$OUT"
echo "$OUT"
