#!/usr/bin/env bash
# The shipped image under Wine: mxfloop.sys, byte for byte as scripts/build-driver.sh built it,
# loaded by Wine's kernel (winedevice.exe) with the test PortCls of tests/wine (C, mingw-w64
# DDK headers), which drives it as PortCls's DMus port does and reports one verdict per check.
# See tests/wine/README.md. Exits non-zero on any FAIL, printing Wine's own diagnostics.
# usage: scripts/wine-smoke.sh [IMAGE]   (default: the release image; IMAGE lets a test run a
#        deliberately broken copy)
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TARGET_DIR=${CARGO_TARGET_DIR:-$REPO/target}
IMAGE=${1:-}
if [ -z "$IMAGE" ]; then
    IMAGE=$("$REPO/scripts/build-driver.sh" --release | tail -n 1)
fi
WINE=$(command -v wine64 || echo /usr/lib/wine/wine64)
WINESERVER=$(command -v wineserver || echo /usr/lib/wine/wineserver)
[ -x "$WINE" ] || { echo "wine-smoke: wine64 not found (apt-get install wine64)" >&2; exit 1; }

OUT=$TARGET_DIR/wine
"$REPO/tests/wine/build.sh" "$OUT" >/dev/null

export WINEPREFIX=$OUT/prefix
# +debugstr: the driver's own DbgPrintEx trace, part of the diagnostics printed on failure.
export WINEDEBUG=${WINEDEBUG:-err+all,fixme-all,+debugstr}
export WINEDLLOVERRIDES="mscoree,mshtml=;winemenubuilder.exe=d"
unset DISPLAY WAYLAND_DISPLAY
WINELOG=$OUT/wine-stderr.log
: >"$WINELOG"

cleanup() {
    timeout 30 "$WINESERVER" -k >/dev/null 2>&1 || true
    timeout 30 "$WINESERVER" -w >/dev/null 2>&1 || true
}
trap cleanup EXIT
cleanup # a server left behind by an interrupted run

if [ ! -f "$WINEPREFIX/system.reg" ]; then
    timeout 300 "$WINE" wineboot -i >>"$WINELOG" 2>&1 || { cat "$WINELOG"; echo "wine-smoke: wineboot failed" >&2; exit 1; }
    timeout 60 "$WINESERVER" -w || true
fi
DRIVERS=$WINEPREFIX/drive_c/windows/system32/drivers
cp "$IMAGE" "$DRIVERS/mxfloop.sys"
cp "$OUT/portcls.sys" "$DRIVERS/portcls.sys"
cp "$OUT/mxfwine.exe" "$WINEPREFIX/drive_c/mxfwine.exe"
cmp -s "$IMAGE" "$DRIVERS/mxfloop.sys" || { echo "wine-smoke: the copy differs from $IMAGE" >&2; exit 1; }
echo "wine-smoke: image $IMAGE sha256 $(sha256sum <"$IMAGE" | cut -c1-16)"

# Both capture modes (Parameters\CaptureMode, as the INF sets it), then the feedback run
# (FeedbackMaxMessagesPerSecond 1000: the guard's checks), each in a fresh wineserver.
rc=0
for run in "0 31250" "1 31250" "0 1000"; do
    read -r mode rate <<<"$run"
    echo "wine-smoke: Parameters\CaptureMode = $mode, FeedbackMaxMessagesPerSecond = $rate"
    set +e
    timeout 240 "$WINE" 'C:\mxfwine.exe' "$mode" "$rate" 2>>"$WINELOG"
    r=$?
    set -e
    cleanup
    [ "$r" -eq 0 ] || rc=$r
done
if [ "$rc" -ne 0 ]; then
    echo "wine-smoke: FAILED (exit $rc); Wine's diagnostics:" >&2
    tail -n 200 "$WINELOG" >&2
fi
exit "$rc"
