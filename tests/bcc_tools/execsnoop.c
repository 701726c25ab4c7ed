/* execsnoop-like: the file a process execs, stashed at entry by pid and
 * completed with the return value at exit. No PT_REGS anywhere. */
#include <linux/sched.h>

struct exec_t {
    u32 pid;
    u32 ppid;
    int retval;
    char comm[TASK_COMM_LEN];
    char path[128];
};

struct fname_t {
    char name[64];
};

BPF_HASH(inflight, u32, struct exec_t, 1024);
BPF_HASH(exec_file, u32, struct fname_t, 1024);
BPF_PERF_OUTPUT(execs);

TRACEPOINT_PROBE(syscalls, sys_enter_execve) {
    struct exec_t e = {};
    struct task_struct *task = (struct task_struct *)bpf_get_current_task();
    u32 pid = bpf_get_current_pid_tgid() >> 32;
    e.pid = pid;
    e.ppid = task->real_parent->tgid;
    bpf_probe_read_user_str(e.path, sizeof(e.path), args->filename);
    inflight.update(&pid, &e);
    return 0;
}

TRACEPOINT_PROBE(syscalls, sys_exit_execve) {
    u32 pid = bpf_get_current_pid_tgid() >> 32;
    struct exec_t *e = inflight.lookup(&pid);
    if (e == NULL)
        return 0;
    e->retval = args->ret;
    bpf_get_current_comm(&e->comm, sizeof(e->comm));
    execs.perf_submit(args, e, sizeof(*e));
    inflight.delete(&pid);
    return 0;
}

/* the file the kernel ran, from the record's __data_loc field */
TRACEPOINT_PROBE(sched, sched_process_exec) {
    struct fname_t f = {};
    u32 pid = args->pid;
    TP_DATA_LOC_READ_STR(f.name, filename, sizeof(f.name));
    exec_file.update(&pid, &f);
    return 0;
}
