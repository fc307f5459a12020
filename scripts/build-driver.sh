#!/usr/bin/env bash
# Builds the driver crate `mxfloop` into a kernel image on a Linux host:
#   target/x86_64-pc-windows-msvc/<profile>/mxfloop.sys   (+ mxfloop.pdb, its symbols, and
#   mxfloop.map, the linker map)
# usage: scripts/build-driver.sh [--release|--debug]   (default --release)
#
# Everything is passed through the environment of this one cargo invocation, so host builds of
# the workspace are unaffected (CARGO_ENCODED_RUSTFLAGS replaces .cargo/config.toml's
# Windows-target rustflags, whose +crt-static a /NODEFAULTLIB kernel image does not need):
# - the Windows sysroot from scripts/win-sysroot.sh (MXF_WIN_SYSROOT=rustup uses an installed
#   rust-std for the target instead);
# - `--cfg mxf_no_wdk`: the WDM image, without the WDK crates (Cargo.toml's target tables and
#   the code test it; wdk-sys cannot build without the WDK);
# - the toolchain's rust-lld as lld-link with the kernel-image settings the
#   WDK uses for WDM drivers (/DRIVER /SUBSYSTEM:NATIVE /ENTRY:DriverEntry /NODEFAULTLIB ...).
# panic = "abort" comes from Cargo.toml's profiles (no -Cpanic here, so they are what is built).
# Imports need no import library: crates/mxf-kernel declares them with kind = "raw-dylib".
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TARGET=x86_64-pc-windows-msvc
PROFILE=release
case "${1:---release}" in
    --release) PROFILE=release ;;
    --debug) PROFILE=debug ;;
    *) echo "usage: $0 [--release|--debug]" >&2; exit 2 ;;
esac
cd "$REPO"
TARGET_DIR=${CARGO_TARGET_DIR:-$REPO/target}
OUT=$TARGET_DIR/$TARGET/$PROFILE
mkdir -p "$OUT"

SYSROOT_FLAGS=()
if [ "${MXF_WIN_SYSROOT:-}" != rustup ]; then
    SR=${MXF_WIN_SYSROOT:-$("$REPO/scripts/win-sysroot.sh")}
    SYSROOT_FLAGS=(--sysroot="$SR")
fi
HOST=$(rustc -vV | sed -n 's/^host: //p')
LLD=$(rustc --print sysroot)/lib/rustlib/$HOST/bin/rust-lld
[ -x "$LLD" ] || { echo "build-driver: $LLD not found (rust-lld ships with the toolchain)" >&2; exit 1; }

FLAGS=("${SYSROOT_FLAGS[@]}" --cfg mxf_no_wdk -Clinker-flavor=lld-link)
# /DEBUG /PDB: symbols for WinDbg in mxfloop.pdb (whatever the profile's debug level; the
# image's CodeView record names the file, scripts/check-driver.sh checks it). Written into deps/
# like the image, from where cargo copies both to $OUT on every build, also when up to date.
for a in /DRIVER /SUBSYSTEM:NATIVE /ENTRY:DriverEntry /NODEFAULTLIB /RELEASE /NXCOMPAT \
         /DYNAMICBASE /OPT:REF,ICF /INTEGRITYCHECK /MAP:"$OUT/mxfloop.map" /MAPINFO:EXPORTS \
         /DEBUG /PDB:"$OUT/deps/mxfloop.pdb"; do
    FLAGS+=(-Clink-arg="$a")
done
# CARGO_ENCODED_RUSTFLAGS: one flag per 0x1f-separated field, so paths may contain spaces.
ENCODED=$(printf '%s\x1f' "${FLAGS[@]}")
ENCODED=${ENCODED%$'\x1f'}

PROFILE_ARGS=()
[ "$PROFILE" = release ] && PROFILE_ARGS=(--release)
rm -f "$OUT/mxfloop.sys" "$OUT/mxfloop.dll" "$OUT/mxfloop.pdb"
CARGO_ENCODED_RUSTFLAGS="$ENCODED" \
CARGO_TARGET_X86_64_PC_WINDOWS_MSVC_LINKER="$LLD" \
    cargo build -p mxfloop --lib --target "$TARGET" "${PROFILE_ARGS[@]}"

[ -f "$OUT/mxfloop.dll" ] || { echo "build-driver: $OUT/mxfloop.dll was not produced" >&2; exit 1; }
[ -s "$OUT/mxfloop.pdb" ] || { echo "build-driver: $OUT/mxfloop.pdb was not produced" >&2; exit 1; }

# No std and no `alloc` crate anywhere in the image (every crate linked is no_std and the
# kernel code has no global allocator). With this script's sysroot a use of `alloc` already
# fails to compile ("no global memory allocator found") and std does not exist; with
# MXF_WIN_SYSROOT=rustup, std (and its allocator) would link, so the linker map is checked
# too: the allocator shim, the alloc crate's and std's symbols must all be absent.
FORBIDDEN='__rust_(no_alloc_shim|alloc|dealloc|realloc)|___rdl_|___rg_|_ZN5alloc|_ZN3std|[( ]lib(alloc|std)[-:]'
if grep -Eq "$FORBIDDEN" "$OUT/mxfloop.map"; then
    echo "build-driver: the image links std or the alloc crate (forbidden in kernel code):" >&2
    grep -E "$FORBIDDEN" "$OUT/mxfloop.map" | awk '{print "  " $2 "   (" $NF ")"}' | sort -u | head -20 >&2
    exit 1
fi
cp "$OUT/mxfloop.dll" "$OUT/mxfloop.sys"
echo "$OUT/mxfloop.sys"
