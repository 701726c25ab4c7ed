/* A uprobe function: its argument from the registers, attached through the
 * API to a function of a test binary. */
#include <uapi/linux/ptrace.h>

BPF_HASH(calls, int, u64);
BPF_ARRAY(last, int, 1);

int on_call(struct pt_regs *ctx, int arg)
{
    int zero = 0;
    calls.increment(arg);
    last.update(&zero, &arg);
    return 0;
}
