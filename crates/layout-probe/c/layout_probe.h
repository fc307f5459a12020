/*
 * Emitters for layout probes read back by the layout-probe crate. A probe is compiled with
 * `x86_64-w64-mingw32-gcc -S` (never linked or run); every item becomes two assembler lines
 *
 *   .set mxf.<key>.hi, <high 32 bits>
 *   .set mxf.<key>.lo, <low 32 bits>
 *
 * because x86-64 "i" operands print only when they fit a sign-extended imm32. The value is
 * hi * 2^32 + (lo as unsigned 32-bit), i.e. the 64-bit pattern of (unsigned long long)value.
 *
 * Keys: size.T, align.T, off.T.Field, value.NAME. The emitters must sit inside a function.
 */
#ifndef MXF_LAYOUT_PROBE_H
#define MXF_LAYOUT_PROBE_H
#include <stddef.h>

#define MXF_EMIT(key, value)                                                    \
    __asm__ volatile(".set mxf." key ".hi, %c0\n\t.set mxf." key ".lo, %c1"     \
                     : : "i"((int)((unsigned long long)(value) >> 32)),         \
                         "i"((int)((unsigned long long)(value) & 0xffffffffu)))
/* size.T and align.T of a type spelled as one token (a typedef name). */
#define MXF_SIZE(T) MXF_EMIT("size." #T, sizeof(T)); MXF_EMIT("align." #T, _Alignof(T))
/* size.T alone (function pointer typedefs, scalars whose alignment is not interesting). */
#define MXF_SIZE_ONLY(T) MXF_EMIT("size." #T, sizeof(T))
/* off.T.f; f may be a member path (a.b). */
#define MXF_OFF(T, f) MXF_EMIT("off." #T "." #f, offsetof(T, f))
/* value.c of an integer constant or enumerator. */
#define MXF_VALUE(c) MXF_EMIT("value." #c, (c))

#endif
