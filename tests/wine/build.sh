#!/usr/bin/env bash
# Builds the test PortCls (portcls.sys, a native driver) and the console program
# (mxfwine.exe) with mingw-w64 into $1 (default: target/wine).
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
OUT=${1:-$HERE/../../target/wine}
mkdir -p "$OUT"
CC=x86_64-w64-mingw32-gcc
INC=/usr/x86_64-w64-mingw32/include/ddk
[ -d "$INC" ] || INC=/usr/share/mingw-w64/include/ddk
x86_64-w64-mingw32-dlltool -d "$HERE/ntoskrnl-extra.def" -l "$OUT/libntextra.a"
CFLAGS=(-O2 -std=gnu11 -Wall -Wextra -Wno-unused-parameter -Wno-format-zero-length -Werror
        -fno-stack-protector -mno-red-zone -I"$INC" -include "$HERE/ddk_gaps.h")
$CC "${CFLAGS[@]}" -DINITGUID -c -o "$OUT/guids.o" "$HERE/guids.c"
$CC "${CFLAGS[@]}" -shared -nostdlib -Wl,--subsystem,native -Wl,-e,PortClsEntry \
    -o "$OUT/portcls.sys" "$HERE/test.c" "$HERE/port.c" "$HERE/midi_norm.c" "$HERE/log.c" "$HERE/pool.c" "$HERE/dpc.c" "$HERE/stack.c" "$HERE/image.c" "$HERE/devif.c" "$HERE/dbgprint.c" "$HERE/multiclient.c" "$HERE/feedback.c" "$OUT/guids.o" "$HERE/portcls.def" \
    -L"$OUT" -lntextra -lntoskrnl -lgcc
$CC -O2 -std=gnu11 -Wall -Wextra -Werror -o "$OUT/mxfwine.exe" "$HERE/mxfwine.c" -ladvapi32
echo "$OUT"
