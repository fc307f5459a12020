/* Painted 24 KiB stacks (shim.h). */
#include "shim.h"
#include <stdio.h>
#include <string.h>

/* ======================================================================================
 * Painted stacks: SHIM_STACK_SIZE bytes above one PAGE_NOACCESS guard page; every call paints
 * the stack with 0xCC first and measures afterwards how deep it was written.
 */
#define PAINT 0xCC
shim_stack g_driver_stack;
static struct {
    const char *label;
    ULONG depth;
    ULONG calls;
} g_depths[48];
static spin_t g_depth_lock;

NTSTATUS stack_new(shim_stack *s)
{
    PVOID base = NULL;
    SIZE_T size = SHIM_STACK_SIZE + PAGE_SIZE, gsize = PAGE_SIZE;
    ULONG old;
    NTSTATUS st = ZwAllocateVirtualMemory(NtCurrentProcess(), &base, 0, &size, MEM_RESERVE | MEM_COMMIT,
                                          PAGE_READWRITE);
    if (!NT_SUCCESS(st))
        return st;
    PVOID g = base;
    st = ZwProtectVirtualMemory(NtCurrentProcess(), &g, &gsize, PAGE_NOACCESS, &old);
    if (!NT_SUCCESS(st))
        return st;
    s->base = base;
    s->low = (UCHAR *)base + PAGE_SIZE;
    s->top = s->low + SHIM_STACK_SIZE;
    return STATUS_SUCCESS;
}

void stack_free(shim_stack *s)
{
    SIZE_T size = 0;
    PVOID base = s->base;
    if (base)
        ZwFreeVirtualMemory(NtCurrentProcess(), &base, &size, MEM_RELEASE);
    s->base = s->low = s->top = NULL;
}

typedef struct gcall {
    void *fn;
    ULONG64 a[11];
    ULONG64 ret;
} gcall;

typedef ULONG64 (*fn11)(ULONG64, ULONG64, ULONG64, ULONG64, ULONG64, ULONG64, ULONG64, ULONG64, ULONG64,
                        ULONG64, ULONG64);
static void gcall_run(gcall *c)
{
    /* The x64 convention lets a caller pass more arguments than the callee takes. */
    c->ret = ((fn11)c->fn)(c->a[0], c->a[1], c->a[2], c->a[3], c->a[4], c->a[5], c->a[6], c->a[7],
                           c->a[8], c->a[9], c->a[10]);
}

/* switch_stack(top, fn, arg): calls fn(arg) with rsp = top (16-byte aligned), then returns. */
void switch_stack(void *top, void (*fn)(gcall *), gcall *arg);
__asm__(".globl switch_stack\n"
        "switch_stack:\n"
        "  pushq %rbp\n"
        "  movq %rsp, %rbp\n"
        "  movq %rcx, %rsp\n"
        "  subq $32, %rsp\n"
        "  movq %r8, %rcx\n"
        "  callq *%rdx\n"
        "  movq %rbp, %rsp\n"
        "  popq %rbp\n"
        "  retq\n");

static void depth_record(const char *label, ULONG depth)
{
    int i;
    spin_lock(&g_depth_lock);
    for (i = 0; i < 48 && g_depths[i].label; i++)
        if (strcmp(g_depths[i].label, label) == 0)
            break;
    if (i < 48) {
        g_depths[i].label = label;
        g_depths[i].calls++;
        if (depth > g_depths[i].depth)
            g_depths[i].depth = depth;
    }
    spin_unlock(&g_depth_lock);
}

ULONG64 stack_call(shim_stack *s, const char *label, void *fn, int n, ULONG64 *args)
{
    gcall c;
    UCHAR *p;
    memset(&c, 0, sizeof c);
    c.fn = fn;
    for (int i = 0; i < n && i < 11; i++)
        c.a[i] = args[i];
    memset(s->low, PAINT, SHIM_STACK_SIZE);
    switch_stack(s->top, gcall_run, &c);
    for (p = s->low; p < s->top && *p == PAINT; p++)
        ;
    depth_record(label, (ULONG)(s->top - p));
    return c.ret;
}

ULONG64 dcall(const char *label, void *fn, int n, ...)
{
    ULONG64 a[11] = {0};
    va_list ap;
    va_start(ap, n);
    for (int i = 0; i < n && i < 11; i++)
        a[i] = va_arg(ap, ULONG64);
    va_end(ap);
    return stack_call(&g_driver_stack, label, fn, n, a);
}

void stack_report(void)
{
    for (int i = 0; i < 48 && g_depths[i].label; i++)
        check(g_depths[i].depth <= SHIM_STACK_BUDGET, "stack depth within budget",
              "%-34s deepest %5lu of %u bytes (budget %u), %lu calls", g_depths[i].label,
              (unsigned long)g_depths[i].depth, SHIM_STACK_SIZE, SHIM_STACK_BUDGET,
              (unsigned long)g_depths[i].calls);
}
