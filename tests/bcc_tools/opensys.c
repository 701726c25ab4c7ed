/* BCC's syscall-argument style: the arguments after ctx are openat's; the
 * return probe reads the result with PT_REGS_RC. */
#include <uapi/linux/ptrace.h>

struct val_t {
    int dfd;
    int flags;
    char fname[64];
};

BPF_HASH(args_by_tid, u64, struct val_t);
BPF_HASH(result, u32, int);
BPF_HASH(seen_name, u32, struct val_t);

int kprobe__sys_openat(struct pt_regs *ctx, int dfd, const char __user *filename, int flags)
{
    struct val_t v = {};
    u64 id = bpf_get_current_pid_tgid();
    v.dfd = dfd;
    v.flags = flags;
    bpf_probe_read_user_str(&v.fname, sizeof(v.fname), (void *)filename);
    args_by_tid.update(&id, &v);
    return 0;
}

int kretprobe__sys_openat(struct pt_regs *ctx)
{
    u64 id = bpf_get_current_pid_tgid();
    u32 pid = id >> 32;
    struct val_t *v = args_by_tid.lookup(&id);
    if (!v)
        return 0;
    int ret = PT_REGS_RC(ctx);
    result.update(&pid, &ret);
    seen_name.update(&pid, v);
    args_by_tid.delete(&id);
    return 0;
}
