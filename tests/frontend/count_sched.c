#include <linux/sched.h>
#include <uapi/linux/ptrace.h>

int count_sched(struct pt_regs *ctx,
                struct task_struct *prev) {
    pid_t p = prev->pid;
    return p != -1;
}
