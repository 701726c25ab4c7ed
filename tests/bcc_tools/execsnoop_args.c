/* execsnoop as BCC writes it: syscall__execve with the syscall's
 * arguments (attached by the user to the execve syscall), argv read with
 * explicit user-memory probe reads, and the return value at exit. */
#include <uapi/linux/ptrace.h>
#include <linux/sched.h>

#define MAXARG 4
#define ARGSIZE 32

struct data_t {
    u32 pid;
    int retval;
    int argc;
    char argv[MAXARG][ARGSIZE];
};

BPF_HASH(pending, u32, struct data_t);
BPF_PERF_OUTPUT(events);

int syscall__execve(struct pt_regs *ctx,
                    const char __user *filename,
                    const char __user *const __user *__argv,
                    const char __user *const __user *__envp)
{
    struct data_t data = {};
    u32 pid = bpf_get_current_pid_tgid() >> 32;
    data.pid = pid;
#pragma unroll
    for (int i = 0; i < MAXARG; i++) {
        const char *argp = NULL;
        bpf_probe_read_user(&argp, sizeof(argp), (void *)&__argv[i]);
        if (!argp)
            break;
        bpf_probe_read_user_str(data.argv[i], ARGSIZE, argp);
        data.argc++;
    }
    pending.update(&pid, &data);
    return 0;
}

int kretprobe__sys_execve(struct pt_regs *ctx)
{
    u32 pid = bpf_get_current_pid_tgid() >> 32;
    struct data_t *d = pending.lookup(&pid);
    if (!d)
        return 0;
    d->retval = PT_REGS_RC(ctx);
    events.perf_submit(ctx, d, sizeof(*d));
    pending.delete(&pid);
    return 0;
}
